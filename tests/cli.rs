//! The `wsaudit` binary as users run it: reports, exports read back by `report`,
//! snapshots of the terminal output, and the close-code reference commands.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
/// the fixtures, whose timestamps change).
fn snapshot(path: &Path, got: &str) {
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(path).unwrap_or_default();
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
fn interrupt(child: &mut std::process::Child) -> std::process::ExitStatus {
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    child.wait().unwrap()
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
    let started = std::time::Instant::now();
    let status = interrupt(&mut child);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "did not stop promptly"
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
