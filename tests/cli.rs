//! The `wsaudit` binary as users run it: reports, exports read back by `report`,
//! snapshots of the terminal output, and the close-code reference commands.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{quantile_linear, read_wire, wire_conn, wire_conns};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wsaudit"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str]) -> Output {
    let out = bin().args(args).current_dir(root()).output().unwrap();
    assert!(
        out.status.success(),
        "wsaudit {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wsaudit-cli-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// Compare with a stored snapshot; `UPDATE_SNAPSHOTS=1` rewrites it (after regenerating
/// the fixtures, whose timestamps change). A missing snapshot is a failure, not an empty
/// one. The snapshot's numbers are checked against the capture and the truth file by
/// `demo_snapshot_numbers_agree_with_the_capture_and_the_truth`.
fn snapshot(path: &Path, got: &str) {
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "snapshot {} cannot be read ({e}); UPDATE_SNAPSHOTS=1 writes it",
            path.display()
        )
    });
    assert_eq!(
        got,
        want,
        "snapshot {} differs (UPDATE_SNAPSHOTS=1 to accept)",
        path.display()
    );
}

#[test]
fn demo_report_matches_its_snapshot_and_fits_100_columns() {
    let out = run(&["analyze", "fixtures/demo.pcap", "--by", "server"]);
    let text = String::from_utf8(out.stdout).unwrap();
    for line in text.lines() {
        assert!(line.chars().count() <= 100, "too wide: {line}");
    }
    snapshot(&root().join("tests/cases/demo/expected.txt"), &text);
}

/// A duration as `fmt_duration` shows it (`10 ms`, `1.3 s`): seconds, and half a unit of
/// its last digit (the rounding it may hide).
fn shown_secs(value: &str, unit: &str) -> (f64, f64) {
    let v: f64 = value
        .parse()
        .unwrap_or_else(|_| panic!("duration {value} {unit}"));
    let decimals = value.split_once('.').map_or(0, |(_, d)| d.len()) as i32;
    let half = 0.5 * 10f64.powi(-decimals);
    match unit.trim_end_matches([',', '.']) {
        "ms" => (v / 1000.0, half / 1000.0),
        "s" => (v, half),
        u => panic!("unit {u} in {value} {unit}"),
    }
}

/// The snapshot shows `secs` (within its rounding).
fn shows(what: &str, value: &str, unit: &str, secs: f64) {
    let (v, half) = shown_secs(value, unit);
    assert!(
        (v - secs).abs() <= half + 1e-9,
        "{what}: the snapshot shows {value} {unit}, the capture gives {secs:.6} s"
    );
}

/// The lines of the section that starts with the line starting `header`, up to a blank.
fn section<'a>(text: &'a str, header: &str) -> Vec<&'a str> {
    text.lines()
        .skip_while(|l| !l.starts_with(header))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .collect()
}

/// `label value unit` triples in a line (`p50 23 ms, p95 23 ms, max 23 ms`).
fn labelled<'a>(line: &'a str, label: &str) -> Vec<(&'a str, &'a str)> {
    let t: Vec<&str> = line.split_whitespace().collect();
    t.windows(3)
        .filter(|w| w[0] == label)
        .map(|w| (w[1], w[2]))
        .collect()
}

/// The demo snapshot's numbers, recomputed from outside wsaudit: which session ended how
/// and who closed first from `fixtures/demo.truth.json` (the libraries' own logs); every
/// time from the capture's own packet timestamps (read by the tests' reader): a session
/// lasts from its first packet to the first FIN or RST, idle time runs from the last
/// packet with payload to that end, a reconnect delay from that end to the same client's
/// next SYN to the same server and path. Quantiles are linear, as `docs/schema.md` says.
#[test]
fn demo_snapshot_numbers_agree_with_the_capture_and_the_truth() {
    let text = std::fs::read_to_string(root().join("tests/cases/demo/expected.txt"))
        .expect("the demo snapshot exists");
    let truth: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("fixtures/demo.truth.json")).unwrap(),
    )
    .unwrap();
    let wire = read_wire(&root().join("fixtures/demo.pcap"));
    let conns = wire_conns(&wire);

    struct S {
        client_ip: String,
        server: String,
        path: String,
        code: u16,
        initiator: String,
        echoed: bool,
        start: i64,
        end: i64,
        idle: f64,
        tcp_end: &'static str,
        /// How long the client's log says it waited before reconnecting.
        truth_delay_ms: Option<f64>,
    }
    let sessions: Vec<S> = truth["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let (c, sv) = (t["client"].as_str().unwrap(), t["server"].as_str().unwrap());
            let w = wire_conn(&conns, c, sv).unwrap_or_else(|| panic!("{c} not in the capture"));
            let end = w.end_ts();
            S {
                client_ip: c.rsplit_once(':').unwrap().0.to_string(),
                server: sv.to_string(),
                path: t["path"].as_str().unwrap().to_string(),
                code: t["expected_close_code"].as_u64().unwrap() as u16,
                initiator: t["initiator"].as_str().unwrap().to_string(),
                echoed: !t["client_sent_close"].is_null() && !t["server_sent_close"].is_null(),
                start: w.start_ts,
                end,
                idle: (end - w.last_payload_ts.unwrap()).max(0) as f64 / 1e9,
                tcp_end: w.tcp_end(),
                truth_delay_ms: t["reconnect_delay_ms"].as_f64(),
            }
        })
        .collect();
    assert_eq!(sessions.len(), 17);
    assert!(text.contains(&format!(
        "WebSocket sessions: {}    refused upgrades: {}",
        sessions.len(),
        truth["refused"].as_array().unwrap().len()
    )));

    // Time range: the first and last packet of the file.
    let range = text
        .lines()
        .find(|l| l.starts_with("Time range: "))
        .unwrap();
    let t: Vec<&str> = range.split_whitespace().collect();
    for (at, want) in [(2, wire.first_ts), (5, wire.last_ts)] {
        let shown = chrono::NaiveDateTime::parse_from_str(
            &format!("{} {}", t[at], t[at + 1]),
            "%Y-%m-%d %H:%M:%S%.3f",
        )
        .unwrap()
        .and_utc()
        .timestamp_nanos_opt()
        .unwrap();
        assert!(
            (shown - want).abs() < 1_000_000,
            "{range}: packet at {want} ns"
        );
    }
    let span = &t[t.len() - 2..];
    shows(
        "time span",
        span[0].trim_start_matches('('),
        span[1].trim_end_matches(')'),
        (wire.last_ts - wire.first_ts) as f64 / 1e9,
    );

    // Per close code: sessions, who closed first, echoed share, duration quantiles.
    let mut by_code: BTreeMap<u16, Vec<&S>> = BTreeMap::new();
    for s in &sessions {
        by_code.entry(s.code).or_default().push(s);
    }
    let lines = section(&text, "Close code ");
    let rows: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !l.starts_with(' '))
        .collect();
    // Named codes have a row each; private-use codes (4000-4999) share one row, with
    // their codes listed under it (issue 18).
    let private: Vec<&S> = sessions
        .iter()
        .filter(|s| (4000..=4999).contains(&s.code))
        .collect();
    let named = by_code
        .keys()
        .filter(|c| !(4000..=4999).contains(*c))
        .count();
    assert_eq!(
        rows.len(),
        named + usize::from(!private.is_empty()),
        "one row per named close code, one for private use: {rows:#?}"
    );
    for row in &rows {
        let t: Vec<&str> = row.split_whitespace().collect();
        if t[0] == "4000-4999" {
            assert_eq!(t[3], private.len().to_string(), "{row}");
            let count = |who: &str| private.iter().filter(|s| s.initiator == who).count();
            assert_eq!(t[5], count("client").to_string(), "{row}");
            assert_eq!(t[6], count("server").to_string(), "{row}");
            let codes: BTreeSet<u16> = private.iter().map(|s| s.code).collect();
            let listed = lines[lines.iter().position(|l| l == row).unwrap() + 1];
            for c in &codes {
                let k = private.iter().filter(|s| s.code == *c).count();
                assert!(listed.contains(&format!("{c} x{k}")), "{listed}");
            }
            continue;
        }
        let code: u16 = t[0].parse().unwrap();
        let ss = &by_code[&code];
        let n = t.len();
        let count = |who: &str| ss.iter().filter(|s| s.initiator == who).count().to_string();
        assert_eq!(t[n - 11], ss.len().to_string(), "{row}");
        assert_eq!(t[n - 9], count("client"), "{row}");
        assert_eq!(t[n - 8], count("server"), "{row}");
        let echoed = 100.0 * ss.iter().filter(|s| s.echoed).count() as f64 / ss.len() as f64;
        assert_eq!(t[n - 7], format!("{echoed:.1}%"), "{row}");
        let durations: Vec<f64> = ss.iter().map(|s| (s.end - s.start) as f64 / 1e9).collect();
        for (k, q) in [0.5, 0.95, 0.99].into_iter().enumerate() {
            let (v, u) = (t[n - 6 + 2 * k], t[n - 5 + 2 * k]);
            shows(
                &format!("{code} duration q{q}"),
                v,
                u,
                quantile_linear(&durations, q),
            );
        }
    }

    // The 1006 diagnosis: who ended TCP, idle before the drop, lifetime.
    let abnormal: Vec<&S> = sessions.iter().filter(|s| s.code == 1006).collect();
    assert_eq!(abnormal.len(), 1);
    let who = text
        .lines()
        .find(|l| l.starts_with("- Who ended TCP: "))
        .unwrap();
    assert!(
        who.starts_with(&format!(
            "- Who ended TCP: {} 1 (100%)",
            abnormal[0].tcp_end
        )),
        "{who}"
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("- Idle before the drop: "))
        .unwrap();
    let (idle_part, life_part) = line.split_once("Lifetime:").unwrap();
    let idle: Vec<f64> = abnormal.iter().map(|s| s.idle).collect();
    let life: Vec<f64> = abnormal
        .iter()
        .map(|s| (s.end - s.start) as f64 / 1e9)
        .collect();
    for (part, values, what) in [(idle_part, &idle, "idle"), (life_part, &life, "lifetime")] {
        let max = values.iter().cloned().fold(f64::MIN, f64::max);
        for (label, want) in [
            ("p50", quantile_linear(values, 0.5)),
            ("p95", quantile_linear(values, 0.95)),
            ("max", max),
        ] {
            let found = labelled(part, label);
            assert_eq!(found.len(), 1, "{what} {label} in {line}");
            shows(
                &format!("1006 {what} {label}"),
                found[0].0,
                found[0].1,
                want,
            );
        }
    }

    // Reconnects: the same client to the same server and path, after the end, in 5 min.
    // Rows for the codes after which reconnecting matters (1001, 1006, 1011, 1012,
    // 1013) and for any code that was followed by a reconnect.
    let rows = section(&text, "Close code                          Ended");
    let came_back = |code: u16| by_code[&code].iter().any(|s| s.truth_delay_ms.is_some());
    let want_rows = by_code
        .keys()
        .filter(|c| [1001, 1006, 1011, 1012, 1013].contains(*c) || came_back(**c))
        .count();
    assert_eq!(rows.len(), want_rows, "{rows:#?}");
    for row in rows {
        let t: Vec<&str> = row.split_whitespace().collect();
        let code: u16 = t[0].parse().unwrap();
        let delays: Vec<f64> = by_code[&code]
            .iter()
            .filter_map(|s| {
                sessions
                    .iter()
                    .filter(|n| n.client_ip == s.client_ip && n.server == s.server)
                    .filter(|n| n.path == s.path && n.start > s.end)
                    .map(|n| (n.start - s.end) as f64 / 1e9)
                    .filter(|d| *d <= 300.0)
                    .min_by(|a, b| a.partial_cmp(b).unwrap())
                    .inspect(|d| {
                        // The client's log agrees: it waited `reconnect_delay_ms` after
                        // the Close (the SYN follows the FIN by that plus at most 2.3 ms
                        // in this capture).
                        if let Some(ms) = s.truth_delay_ms {
                            assert!(
                                (d * 1000.0 - ms).abs() <= 5.0,
                                "{}: reconnect after {d} s, its log says {ms} ms",
                                s.client_ip
                            );
                        }
                    })
                    .or_else(|| {
                        assert!(s.truth_delay_ms.is_none(), "{} came back", s.client_ip);
                        None
                    })
            })
            .collect();
        // Ended, Reconnected, Rate, then two delays (`- -`, or value and unit each).
        let k = if t.ends_with(&["-", "-"]) { 2 } else { 4 };
        let n = t.len() - k;
        let ended = by_code[&code].len();
        assert_eq!(t[n - 3], ended.to_string(), "{row}");
        assert_eq!(t[n - 2], delays.len().to_string(), "{row}");
        let rate = 100.0 * delays.len() as f64 / ended as f64;
        assert_eq!(t[n - 1], format!("{rate:.1}%"), "{row}");
        if delays.is_empty() {
            assert_eq!(k, 2, "{row}");
            continue;
        }
        assert_eq!(k, 4, "{row}");
        let p50 = quantile_linear(&delays, 0.5);
        let p95 = quantile_linear(&delays, 0.95);
        shows(&format!("{code} reconnect p50"), t[n], t[n + 1], p50);
        shows(&format!("{code} reconnect p95"), t[n + 2], t[n + 3], p95);
    }
}

#[test]
fn report_over_exported_parquet_and_csv_says_what_analyze_said() {
    let pq = tmp("s.parquet");
    let csv = tmp("s.csv");
    let refused = tmp("r.parquet");
    let files = [
        "fixtures/demo.pcap",
        "fixtures/ws_aiohttp.pcap",
        "fixtures/ws_restart.pcap",
    ];
    let mut args = vec!["analyze", "--format", "json", "--by", "path,server"];
    args.extend(files);
    let (pq_s, csv_s, ref_s) = (
        pq.to_str().unwrap(),
        csv.to_str().unwrap(),
        refused.to_str().unwrap(),
    );
    args.extend(["--sessions", pq_s, "--refused", ref_s]);
    let direct: serde_json::Value = serde_json::from_slice(&run(&args).stdout).unwrap();
    let mut args2 = vec!["analyze", "-q", "--sessions", csv_s];
    args2.extend(files);
    run(&args2);
    for table in [pq_s, csv_s] {
        let out = run(&[
            "report",
            table,
            ref_s,
            "--format",
            "json",
            "--by",
            "path,server",
        ]);
        let again: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for key in [
            "sessions",
            "refused_upgrades",
            "endings",
            "codes",
            "refused",
            "anomalies",
            "quality",
            "breakdowns",
        ] {
            assert_eq!(
                again[key], direct[key],
                "{key} differs when read back from {table}"
            );
        }
    }
}

#[test]
fn report_reads_folders_and_globs() {
    let d = tmp("dir");
    std::fs::create_dir_all(d.join("a/b")).unwrap();
    let p1 = d.join("a/one.parquet");
    let p2 = d.join("a/b/two.parquet");
    run(&[
        "analyze",
        "-q",
        "fixtures/ws_node.pcap",
        "--sessions",
        p1.to_str().unwrap(),
    ]);
    run(&[
        "analyze",
        "-q",
        "fixtures/ws_python.pcap",
        "--sessions",
        p2.to_str().unwrap(),
    ]);
    let by_dir: serde_json::Value =
        serde_json::from_slice(&run(&["report", d.to_str().unwrap(), "--format", "json"]).stdout)
            .unwrap();
    let pattern = format!("{}/a/**/*.parquet", d.display());
    let by_glob: serde_json::Value =
        serde_json::from_slice(&run(&["report", &pattern, "--format", "json"]).stdout).unwrap();
    assert_eq!(by_dir["sessions"], 8 + 11);
    assert_eq!(by_glob["sessions"], by_dir["sessions"]);
}

#[test]
fn closes_export_has_one_row_per_close_frame() {
    let p = tmp("closes.csv");
    run(&[
        "analyze",
        "-q",
        "fixtures/ws_python.pcap",
        "--closes",
        p.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&p).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "capture,session_id,time,sender,close_code,close_code_name,close_reason,payload_len,first_in_session"
    );
    // 11 sessions, every one closed by both sides.
    assert_eq!(lines.count(), 22);
    assert!(text.contains("4001,Private use,déconnecté — 再见"));
}

#[test]
fn explain_covers_every_named_code_and_the_ranges() {
    for code in (1000..=1015).chain([999, 1016, 2999, 3000, 3999, 4000, 4999, 5000]) {
        let out = run(&["explain", &code.to_string()]);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.starts_with(&code.to_string()), "{code}: {text}");
        assert!(
            text.lines().all(|l| l.chars().count() <= 100),
            "{code} too wide"
        );
    }
    let text = String::from_utf8(run(&["explain", "1006"]).stdout).unwrap();
    assert!(text.contains("Abnormal Closure"));
    assert!(text.to_lowercase().contains("ping"));
}

#[test]
fn compare_makes_the_confused_pairs_sharp() {
    for (a, b) in [
        (1000, 1001),
        (1001, 1012),
        (1001, 1011),
        (1006, 1012),
        (1000, 1012),
    ] {
        let out = run(&["compare", &a.to_string(), &b.to_string()]);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(&a.to_string()) && text.contains(&b.to_string()));
        assert!(text.contains("Key difference"), "{a} vs {b}: {text}");
        assert!(text.lines().all(|l| l.chars().count() <= 100));
    }
    let text = String::from_utf8(run(&["codes"]).stdout).unwrap();
    for code in 1000..=1015 {
        assert!(text.contains(&code.to_string()), "codes lacks {code}");
    }
}

#[test]
fn unknown_output_extension_fails_before_reading_input() {
    let out = bin()
        .args(["analyze", "fixtures/demo.pcap", "--sessions", "out.txt"])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown table format"));
}

/// Ctrl-C for a running child (SIGINT), and how it ended.
/// Send SIGINT once the process catches it; its exit status, and how long it took to exit
/// after the signal.
fn interrupt_timed(
    child: &mut std::process::Child,
) -> (std::process::ExitStatus, std::time::Duration) {
    // Wait (up to 10 s) until the process catches SIGINT: sent before its handler is in
    // place, the signal kills it outright, which says nothing about wsaudit (a loaded
    // machine can take longer than the tests' sleep to start it).
    let status = format!("/proc/{}/status", child.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        let caught = std::fs::read_to_string(&status)
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("SigCgt:"))
                    .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
            })
            .is_some_and(|mask| mask & (1 << (2 - 1)) != 0); // SIGINT is 2
        if caught {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let sent = std::time::Instant::now();
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    (status, sent.elapsed())
}

fn interrupt(child: &mut std::process::Child) -> std::process::ExitStatus {
    interrupt_timed(child).0
}

#[test]
fn ctrl_c_stops_at_once_and_leaves_no_export_behind() {
    use std::io::Write;
    use std::process::Stdio;
    let out = tmp("interrupted.parquet");
    let mut child = bin()
        .args(["analyze", "-", "-q", "--sessions", out.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Half a capture, then nothing: wsaudit is waiting for more when the signal comes.
    let demo = std::fs::read(root().join("fixtures/demo.pcap")).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&demo[..demo.len() / 2]).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (status, took) = interrupt_timed(&mut child);
    assert!(
        took < std::time::Duration::from_secs(2),
        "did not stop promptly: {took:?}"
    );
    assert_eq!(status.code(), Some(130));
    drop(stdin);
    assert!(!out.exists());
    let dir = out.parent().unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("interrupted"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Interrupted with sessions spilled to disk: the spill folder goes too.
#[test]
fn ctrl_c_removes_spilled_runs() {
    use std::io::Write;
    use std::process::Stdio;
    let spill = tmp("spill-interrupted");
    let _ = std::fs::remove_dir_all(&spill);
    std::fs::create_dir_all(&spill).unwrap();
    let mut child = bin()
        .args(["analyze", "-", "-q", "--spill-after", "1", "--spill-dir"])
        .arg(&spill)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The whole capture, stdin left open: its ended sessions are spilled, one per run.
    let demo = std::fs::read(root().join("fixtures/demo.pcap")).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&demo).unwrap();
    stdin.flush().unwrap();
    let files = |d: &std::path::Path| -> usize {
        std::fs::read_dir(d)
            .map(|rd| {
                rd.flatten()
                    .map(|e| std::fs::read_dir(e.path()).map_or(1, |r| r.count()))
                    .sum()
            })
            .unwrap_or(0)
    };
    let started = std::time::Instant::now();
    while files(&spill) == 0 && started.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(files(&spill) > 0, "runs were spilled");
    assert_eq!(interrupt(&mut child).code(), Some(130));
    drop(stdin);
    assert_eq!(
        std::fs::read_dir(&spill).unwrap().count(),
        0,
        "spill folder removed"
    );
    let _ = std::fs::remove_dir_all(&spill);
}

/// A log in which the library and the application both report one close gives one row
/// per close, and says how many lines it folded (real tungstenite 0.27 output: the
/// library's debug line and the app's own line for each of its 16 closes).
#[test]
fn merged_log_lines_are_said_not_silently_dropped() {
    let out = run(&[
        "analyze",
        "fixtures/logs/tungstenite/tungstenite-0.27.log",
        "--format",
        "json",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("16 lines about a close another line already reported were merged"),
        "{err}"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["sessions"], 17);
}

/// Issue 12: a stderr that is full or closed early is not a crash (it was exit 101,
/// "failed printing to stderr"); the exit code still says an input failed.
#[test]
fn a_full_or_closed_stderr_is_not_a_crash() {
    let dir = common::TempDir::new("stderr");
    let junk = dir.file("junk.pcap", b"this is not a capture at all");
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let o = std::process::Command::new(common::bin())
        .args(["analyze", "-q"])
        .arg(&junk)
        .stderr(full)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "stderr full");

    let mut child = std::process::Command::new(common::bin())
        .args(["analyze", "-q"])
        .arg(&junk)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take()); // the reader goes away before anything is written
    assert_eq!(child.wait().unwrap().code(), Some(2), "stderr closed");
}

/// Issue 12: a file name holding an escape sequence is shown escaped on stderr, so
/// `ESC[2J` cannot clear the operator's screen.
#[test]
fn file_names_on_stderr_are_escaped() {
    let dir = common::TempDir::new("escname");
    let junk = dir.file("a\u{1b}[2Jb.pcap", b"this is not a capture at all");
    let o = std::process::Command::new(common::bin())
        .args(["analyze", "-q"])
        .arg(&junk)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains('\u{1b}'), "raw ESC on stderr: {err:?}");
    assert!(err.contains("a\\x1b[2Jb.pcap"), "{err}");
}

/// Issue 12: control and bidirectional-override characters from the wire (a path, a
/// Close reason) are shown escaped in every output for people: the terminal report,
/// the audit's Markdown and HTML. (`invoice \u{202e}fdp.exe` must not display as
/// `invoice exe.pdf`.)
#[test]
fn control_and_bidi_characters_are_escaped_for_people() {
    let dir = common::TempDir::new("bidi");
    let table = dir.path().join("s.csv");
    let o = bin()
        .args(["analyze", "-q", "--csv-raw", "--sessions"])
        .arg(&table)
        .arg(root().join("fixtures/demo.pcap"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let csv = std::fs::read_to_string(&table).unwrap();
    assert!(
        csv.contains("service restart") && csv.contains("/push"),
        "{csv}"
    );
    let evil = csv
        .replace(
            "service restart",
            "invoice \u{202e}fdp.exe \u{1b}]0;pwned\u{7}",
        )
        .replace("/push", "/p\u{2066}ush\u{1b}[2J");
    std::fs::write(&table, evil).unwrap();
    let raw = |s: &str| {
        s.chars().any(|c| {
            c.is_control() && c != '\n'
                || ('\u{202a}'..='\u{202e}').contains(&c)
                || ('\u{2066}'..='\u{2069}').contains(&c)
        })
    };

    let o = bin()
        .args(["report", "--by", "path"])
        .arg(&table)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(text.contains("/p\\u{2066}ush\\x1b[2J"), "{text}");
    assert!(!raw(&text), "raw control or bidi character in:\n{text}");

    let (md, html) = (dir.path().join("a.md"), dir.path().join("a.html"));
    let o = bin()
        .args(["audit", "-q"])
        .arg(&table)
        .arg("--markdown")
        .arg(&md)
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for f in [&md, &html] {
        let s = std::fs::read_to_string(f).unwrap();
        assert!(
            s.contains("\\u{202e}fdp.exe"),
            "{}: reason not shown",
            f.display()
        );
        assert!(!raw(&s), "{}: raw control or bidi character", f.display());
    }
}

/// Issue 12: a stdout that fails is named, with its cause once; one closed early (`|
/// head`) ends the run quietly with exit 0, as ripgrep does.
#[test]
fn stdout_failures_name_the_stream_and_a_closed_pipe_is_quiet() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let o = bin()
        .arg("analyze")
        .arg(root().join("fixtures/demo.pcap"))
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).trim_end(),
        "wsaudit: standard output: cannot write: No space left on device (os error 28)"
    );

    let mut child = bin()
        .arg("analyze")
        .arg(root().join("fixtures/demo.pcap"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&o.stderr), "");
}

/// Issue 12: what a killed run leaves behind (a temporary export, a spill folder) is
/// never read as an input by a later run over the folder.
#[test]
fn leftover_temporary_files_are_not_inputs() {
    let dir = common::TempDir::new("leftovers");
    std::fs::copy(
        root().join("fixtures/demo.pcap"),
        dir.path().join("demo.pcap"),
    )
    .unwrap();
    dir.file(".s.parquet.wsaudit-tmp.4242", b"");
    std::fs::create_dir(dir.path().join("wsaudit-spill-4242-0")).unwrap();
    std::fs::write(
        dir.path().join("wsaudit-spill-4242-0/run-000000.arrow"),
        b"ARROW1",
    )
    .unwrap();
    let o = bin()
        .args(["analyze", "--format", "json"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&o.stderr), "");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["inputs"].as_array().map(Vec::len),
        Some(1),
        "{}",
        v["inputs"]
    );
    assert_eq!(v["sessions"], 17);
}

/// Issue 12: an export path that is a FIFO or a device is written through (a reader on
/// the FIFO gets the table; it was replaced by a regular file), and a symlink is
/// followed: its target gets the new table and the link stays.
#[test]
fn exports_write_through_fifos_and_devices_and_follow_symlinks() {
    use std::os::unix::fs::FileTypeExt;
    let dir = common::TempDir::new("special-out");
    let demo = root().join("fixtures/demo.pcap");
    // `analyze demo --sessions PATH` must succeed.
    let export_to = |path: &Path| {
        let o = bin()
            .args(["analyze", "-q", "--sessions"])
            .arg(path)
            .arg(&demo)
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    };

    let fifo = dir.path().join("sessions.csv");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    export_to(&fifo);
    // Checked before joining: a replaced FIFO would leave the reader waiting forever.
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo(),
        "the FIFO was replaced by a regular file"
    );
    let got = reader.join().unwrap();
    assert!(got.starts_with("capture,source,session_id,"), "{got:.200}");
    assert_eq!(got.lines().count(), 1 + 17, "header and 17 sessions");

    let target = dir.file("target.csv", b"old\n");
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink("target.csv", &link).unwrap();
    export_to(&link);
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let csv = std::fs::read_to_string(&target).unwrap();
    assert_eq!(csv.lines().count(), 18, "the target holds the new table");

    let null = dir.path().join("null.csv");
    std::os::unix::fs::symlink("/dev/null", &null).unwrap();
    export_to(&null);
    assert!(std::fs::symlink_metadata(&null)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
}

/// The `<h2>` titles of a page, in order.
fn h2s(page: &str) -> Vec<String> {
    page.match_indices("<h2>")
        .map(|(i, _)| {
            let rest = &page[i + 4..];
            rest[..rest.find("</h2>").unwrap()].to_string()
        })
        .collect()
}

/// Issue 18: `analyze --html/--markdown` write the audit's views without the verdict
/// (same sections, same order); the Markdown has the HTML's sections; the terminal and
/// JSON report still show only what was asked for. Counts from `demo.truth.json`.
#[test]
fn analyze_html_and_markdown_share_the_audit_views() {
    let truth: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("fixtures/demo.truth.json")).unwrap(),
    )
    .unwrap();
    let sessions = truth["sessions"].as_array().unwrap();
    let abnormal = sessions
        .iter()
        .filter(|s| s["expected_ending"] == "abnormal")
        .count();
    let servers: std::collections::BTreeSet<&str> = sessions
        .iter()
        .map(|s| s["server"].as_str().unwrap())
        .collect();

    let (html, md, audit_html) = (
        tmp("analyze.html"),
        tmp("analyze.md"),
        tmp("audit-views.html"),
    );
    let o = run(&[
        "analyze",
        "fixtures/demo.pcap",
        "--format",
        "json",
        "--html",
        html.to_str().unwrap(),
        "--markdown",
        md.to_str().unwrap(),
    ]);
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        json["breakdowns"].as_array().unwrap().len(),
        0,
        "no --by asked"
    );
    assert!(json["timeline"].is_null(), "no --timeline asked");

    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    let banner = format!(
        "<h1>{} WebSocket sessions: {abnormal} abnormal (1006), {:.1}%</h1>",
        sessions.len(),
        abnormal as f64 * 100.0 / sessions.len() as f64
    );
    assert!(page.contains(&banner), "{banner} not in the page");
    for chart in [
        "codes",
        "timeline",
        "servers",
        "paths",
        "idle",
        "duration",
        "reconnect",
    ] {
        assert!(page.contains(&format!("data-chart=\"{chart}\"")), "{chart}");
    }
    let server_chart = &page[page.find("data-chart=\"servers\"").unwrap()..];
    let server_chart = &server_chart[..server_chart.find("</svg>").unwrap()];
    for s in &servers {
        assert!(
            server_chart.contains(&format!(">{s}<")),
            "server {s} charted"
        );
    }
    let lower = page.to_ascii_lowercase();
    assert!(
        !lower.contains("<script") && !lower.contains("http://") && !lower.contains("https://")
    );

    // The audit page: the same views after its verdict, thresholds and changes.
    let o = bin()
        .args(["audit", "fixtures/demo.pcap", "-q", "--html"])
        .arg(&audit_html)
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let audit = h2s(&std::fs::read_to_string(&audit_html).unwrap());
    assert_eq!(audit[0], "Changes", "{audit:?}");
    assert_eq!(audit[1..], h2s(&page)[..], "the audit adds its part on top");

    let text = std::fs::read_to_string(&md).unwrap();
    let md_heads: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(|l| l.replace('\\', ""))
        .collect();
    assert_eq!(
        md_heads,
        h2s(&page),
        "Markdown: the HTML's sections in its order"
    );
    assert!(text.starts_with(&format!(
        "# wsaudit: {} WebSocket sessions\n",
        sessions.len()
    )));
}

/// `report --html` works on exported tables, and a page in a missing folder is refused
/// before anything is read.
#[test]
fn report_writes_the_dashboard_and_missing_folders_are_refused_first() {
    let table = tmp("for-report.parquet");
    run(&[
        "analyze",
        "fixtures/demo.pcap",
        "-q",
        "--sessions",
        table.to_str().unwrap(),
    ]);
    let (html, md) = (tmp("report.html"), tmp("report.md"));
    run(&[
        "report",
        table.to_str().unwrap(),
        "-q",
        "--html",
        html.to_str().unwrap(),
        "--markdown",
        md.to_str().unwrap(),
    ]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("data-chart=\"codes\"") && page.contains("<h1>17 WebSocket sessions"));
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(
        text.starts_with("# wsaudit: 17 WebSocket sessions\n"),
        "{text}"
    );
    assert!(text.contains("\n## Close codes\n"), "{text}");
    let o = bin()
        .args([
            "analyze",
            "fixtures/demo.pcap",
            "--markdown",
            "/nonexistent-dir/x.md",
        ])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("/nonexistent-dir/x.md: the folder does not exist"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
