//! `wsaudit audit` end to end, over the real fixtures: exit codes 0/1/2, change wording
//! against a baseline (session table and `--summary` export), threshold parsing errors,
//! the Markdown summary, and an HTML report that loads nothing and escapes a hostile
//! close reason.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
        .display()
        .to_string()
}

/// A fresh folder, removed on drop.
struct Tmp(PathBuf);

impl Tmp {
    fn new(tag: &str) -> Tmp {
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "wsaudit-audit-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Tmp(p)
    }
    fn join(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn wsaudit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wsaudit"))
        .args(args)
        .output()
        .expect("run wsaudit")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

/// Export one fixture's session table (or per-code summary) for use as a baseline.
fn export(fixture_name: &str, flag: &str, path: &str) {
    let o = wsaudit(&["analyze", &fixture(fixture_name), flag, path, "-q"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn thresholds_that_hold_exit_0() {
    let o = wsaudit(&[
        "audit",
        &fixture("demo.pcap"),
        "--max-rate",
        "1006=10",
        "--max-rate",
        "abnormal=10",
        "--max-rate",
        "open=50",
    ]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("Audit PASS: all 3 thresholds hold\n"),
        "{out}"
    );
    assert!(out.contains("ok       1006 Abnormal Closure: 5.9% of sessions (1 of 17), limit 10%"));
    // Then the normal report.
    assert!(out.contains("WebSocket sessions: 17"), "{out}");
    assert!(out.contains("1006 diagnosis"), "{out}");
}

#[test]
fn a_breached_threshold_exits_1_and_says_which() {
    let o = wsaudit(&[
        "audit",
        &fixture("demo.pcap"),
        "--max-rate",
        "1006=1",
        "--max-rate",
        "1000=90",
        "--max-rate",
        "4xxx=3",
    ]);
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("Audit FAIL: 2 of 3 thresholds breached"),
        "{out}"
    );
    assert!(
        out.contains("BREACHED 1006 Abnormal Closure: 5.9% of sessions (1 of 17), limit 1%"),
        "{out}"
    );
    assert!(
        out.contains("BREACHED 4xxx: 5.9% of sessions (1 of 17), limit 3%"),
        "{out}"
    );
    assert!(out.contains("ok       1000 Normal Closure: 47.1%"), "{out}");
}

#[test]
fn unreadable_input_exits_2_even_when_a_threshold_is_breached() {
    let t = Tmp::new("err");
    let junk = t.join("notes.txt");
    std::fs::write(&junk, "not a capture\n").unwrap();
    let o = wsaudit(&[
        "audit",
        &fixture("demo.pcap"),
        &junk,
        &t.join("missing.pcap"),
        "--max-rate",
        "1006=1",
    ]);
    assert_eq!(code(&o), 2, "{}{}", stdout(&o), stderr(&o));
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(out.starts_with("Audit ERROR: 2 problems"), "{out}");
    // The breach is still reported, and the readable capture still analysed.
    assert!(out.contains("BREACHED 1006 Abnormal Closure"), "{out}");
    assert!(out.contains("WebSocket sessions: 17"), "{out}");
    assert!(
        err.contains("notes.txt: not a capture, and none of its 1 lines matched"),
        "{err}"
    );
    assert!(err.contains("missing.pcap: cannot read"), "{err}");
}

#[test]
fn a_corrupt_capture_is_an_error() {
    let t = Tmp::new("corrupt");
    let bad = t.join("cut.pcap");
    // A pcap header cut short: the magic says capture, the rest is missing.
    std::fs::write(&bad, [0xd4, 0xc3, 0xb2, 0xa1, 2, 0]).unwrap();
    let o = wsaudit(&["audit", &fixture("ws_node.pcap"), &bad]);
    assert_eq!(code(&o), 2, "{}{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains("cut.pcap"), "{}", stderr(&o));
}

#[test]
fn bad_thresholds_and_arguments_exit_2() {
    for (arg, says) in [
        ("1006", "CODE_OR_ENDING=PERCENT"),
        ("1006=five", "must be a percentage"),
        ("1006=150", "between 0 and 100"),
        ("999=1", "close codes are 1000-4999"),
        ("closed=5", "not a close code"),
        ("9xxx=5", "code classes"),
    ] {
        let o = wsaudit(&["audit", &fixture("demo.pcap"), "--max-rate", arg]);
        assert_eq!(code(&o), 2, "{arg}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{arg}: {}", stderr(&o));
        assert!(stdout(&o).is_empty(), "{arg}: nothing is analysed");
    }
    let o = wsaudit(&[
        "audit",
        &fixture("demo.pcap"),
        "--max-rate",
        "1006=5",
        "--max-rate",
        "1006=6",
    ]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("given twice"), "{}", stderr(&o));
    let o = wsaudit(&[
        "audit",
        &fixture("demo.pcap"),
        "--baseline",
        "/nonexistent/base.parquet",
    ]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("no such baseline"), "{}", stderr(&o));
    let o = wsaudit(&["audit", &fixture("demo.pcap"), "--summary", "x.txt"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("unknown table format"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn new_1006_against_a_session_table_baseline() {
    let t = Tmp::new("new1006");
    let base = t.join("python.parquet");
    export("ws_python.pcap", "--sessions", &base);
    let o = wsaudit(&[
        "audit",
        &fixture("ws_node.pcap"),
        &fixture("demo.pcap"),
        "--baseline",
        &base,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("(session table, 11 sessions):"),
        "baseline named: {out}"
    );
    let line = out
        .lines()
        .find(|l| l.contains("1006 Abnormal Closure new"))
        .unwrap_or_else(|| panic!("no 1006 change in:\n{out}"));
    assert!(
        line.contains("1006 Abnormal Closure new: 2 sessions (8.0%), never seen in the baseline"),
        "{line}"
    );
    // Context from the 1006 diagnosis: both were the server closing TCP.
    assert!(
        line.contains("100% by the server closing TCP (FIN)"),
        "{line}"
    );
    // Both 1006 sessions were on /echo, one of several paths.
    assert!(line.contains("100% on path /echo"), "{line}");
    // New codes are flagged too; the worse news first.
    assert!(
        out.contains("1012 Service Restart new: 3 sessions (12.0%)"),
        "{out}"
    );
}

#[test]
fn rate_up_against_a_session_table_and_a_summary_baseline() {
    let t = Tmp::new("up");
    let table = t.join("demo.csv");
    let summary = t.join("demo_summary.csv");
    export("demo.pcap", "--sessions", &table);
    export("demo.pcap", "--summary", &summary);
    for (base, kind) in [(&table, "session table"), (&summary, "per-code summary")] {
        let o = wsaudit(&["audit", &fixture("ws_restart.pcap"), "--baseline", base]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let out = stdout(&o);
        assert!(out.contains(&format!("({kind}, 17 sessions):")), "{out}");
        assert!(
            out.contains("  - 1012 Service Restart up 3.8x vs baseline (17.6% -> 66.7%)"),
            "{out}"
        );
        // 1000 went from 47.1% to 33.3%: 1.4x, under the 1.5x rule.
        assert!(!out.contains("1000 Normal Closure down"), "{out}");
    }
}

#[test]
fn the_same_night_twice_is_no_change() {
    let t = Tmp::new("same");
    let base = t.join("demo.parquet");
    export("demo.pcap", "--sessions", &base);
    let o = wsaudit(&["audit", &fixture("demo.pcap"), "--baseline", &base]);
    assert_eq!(code(&o), 0);
    assert!(
        stdout(&o).contains("  none (a change: rate x1.5 or more"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn captures_and_tables_mix_and_json_has_the_verdict() {
    let t = Tmp::new("mix");
    let table = t.join("node.parquet");
    export("ws_node.pcap", "--sessions", &table);
    let o = wsaudit(&[
        "audit",
        &fixture("demo.pcap"),
        &table,
        "--max-rate",
        "1006=5",
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["verdict"], "fail");
    assert_eq!(v["report"]["sessions"], 25);
    assert_eq!(v["checks"][0]["breached"], true);
    assert_eq!(v["checks"][0]["sessions"], 2);
    let kinds: Vec<&str> = v["report"]["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["capture", "table"]);
}

#[test]
fn markdown_summary_has_verdict_changes_and_tables() {
    let t = Tmp::new("md");
    let base = t.join("python.parquet");
    let md = t.join("audit.md");
    export("ws_python.pcap", "--sessions", &base);
    let o = wsaudit(&[
        "audit",
        &fixture("ws_node.pcap"),
        &fixture("demo.pcap"),
        "--baseline",
        &base,
        "--max-rate",
        "1006=5",
        "--markdown",
        &md,
        "-q",
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "--quiet prints nothing");
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.starts_with("# wsaudit audit: FAIL\n"), "{text}");
    assert!(
        text.contains("**FAIL: 1 of 1 thresholds breached**"),
        "{text}"
    );
    assert!(
        text.contains("| **BREACHED** | 1006 Abnormal Closure | 8.0% | 5% | 2 of 25 |"),
        "{text}"
    );
    assert!(text.contains("## Changes vs baseline"), "{text}");
    assert!(
        text.contains("- **worse**: 1006 Abnormal Closure new: 2 sessions (8.0%)"),
        "{text}"
    );
    for heading in [
        "## Endings",
        "## Close codes",
        "## Servers by abnormal (1006) closes",
        "## Paths by abnormal (1006) closes",
        "## 1006 diagnosis",
        "## Reconnects",
        "## Closes over time",
        "## Inputs",
    ] {
        assert!(text.contains(heading), "{heading} missing:\n{text}");
    }
    assert!(
        text.contains("| 1006 Abnormal Closure | 2 | 8.0% |"),
        "{text}"
    );
    // No temporary file left next to it.
    let left: Vec<_> = std::fs::read_dir(&t.0)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("wsaudit-tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn html_loads_nothing_and_escapes_a_hostile_close_reason() {
    let t = Tmp::new("html");
    let csv = t.join("python.csv");
    export("ws_python.pcap", "--sessions", &csv);
    // Plant a hostile reason (and a hostile path) in the exported table.
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.contains(",server done,"), "fixture reason changed?");
    let hostile = "<img src=x onerror=alert(1)>";
    let text = text
        .replacen(",server done,", &format!(",{hostile},"), 1)
        .replacen(",/raise,", ",/<script>alert(2)</script>,", 1);
    std::fs::write(&csv, text).unwrap();
    let html = t.join("audit.html");
    let md = t.join("audit.md");
    let o = wsaudit(&["audit", &csv, "--html", &html, "--markdown", &md]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(!page.contains(hostile), "raw hostile reason in the HTML");
    assert!(
        page.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "escaped reason shown"
    );
    let lower = page.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "a script element");
    assert!(!lower.contains("<img"), "an img element");
    assert!(
        !lower.contains("http://") && !lower.contains("https://"),
        "a URL"
    );
    assert!(
        !lower.contains(" src=\"") && !lower.contains("<link"),
        "a load"
    );
    assert!(lower.contains("content-security-policy\" content=\"default-src 'none'"));
    for chart in ["codes", "timeline", "duration", "idle", "servers", "paths"] {
        assert!(
            page.contains(&format!("data-chart=\"{chart}\"")),
            "{chart} chart missing"
        );
    }
    // ws_python has no reconnect: no empty card, and the page says why (issue 18).
    assert!(
        !page.contains("data-chart=\"reconnect\""),
        "an empty reconnect card"
    );
    assert!(
        page.contains("<li>Reconnects: no session was followed by the same client"),
        "why there is no reconnect chart"
    );
    let md = std::fs::read_to_string(&md).unwrap();
    // Every `<` is backslash-escaped: Markdown renders it as text, never as a tag.
    let bare = md
        .match_indices('<')
        .filter(|(i, _)| !md[..*i].ends_with('\\'))
        .count();
    assert_eq!(bare, 0, "raw HTML in the Markdown:\n{md}");
    assert!(md.contains("\\<img src=x onerror=alert(1)\\>"), "{md}");
}

#[test]
fn gateway_logs_join_captures_in_one_audit() {
    // A Go gorilla/websocket line (the library's own wording) next to a capture: one
    // more session, a 1006, and the threshold sees it.
    let t = Tmp::new("log");
    let log = t.join("gateway.log");
    std::fs::write(
        &log,
        "2026/11/22 00:54:00 websocket: close 1006 (abnormal closure): unexpected EOF\n",
    )
    .unwrap();
    let o = wsaudit(&[
        "audit",
        &fixture("demo.pcap"),
        &log,
        "--max-rate",
        "1006=12",
    ]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("WebSocket sessions: 18"),
        "{}",
        stdout(&o)
    );
    let o = wsaudit(&[
        "audit",
        &fixture("demo.pcap"),
        &log,
        "--max-rate",
        "1006=10",
    ]);
    assert_eq!(code(&o), 1, "2 of 18 sessions are 1006 (11.1%)");
}

/// The `$ wsaudit ...` sessions quoted in `docs/audit.md` and in the README's audit
/// example are what the tool prints: each command is run again (from a folder where
/// `fixtures/` is this repository's and `out/` is fresh), its exit code must be the
/// `$ echo $?` that follows, and the quoted lines must appear in its output in that order
/// (stderr, then stdout; `...` marks a cut). Commands run in the order the file shows them
/// (a first night's `analyze` writes the baseline the next block reads).
#[test]
fn docs_audit_examples_are_real_output() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for doc in ["docs/audit.md", "README.md"] {
        let mut text = std::fs::read_to_string(root.join(doc)).unwrap();
        if doc == "README.md" {
            // only the audit section (the README's other examples are analyze's)
            let start = text.find("## Logs, and the nightly audit").unwrap();
            let end = text[start + 3..]
                .find("\n## ")
                .map_or(text.len(), |i| start + 3 + i);
            text = text[start..end].to_string();
        }
        let tmp = Tmp::new("docs");
        std::os::unix::fs::symlink(root.join("fixtures"), tmp.0.join("fixtures")).unwrap();
        std::fs::create_dir_all(tmp.0.join("out")).unwrap();
        let mut checked = 0;
        for block in text.split("```").skip(1).step_by(2) {
            let block = block.strip_prefix('\n').unwrap_or(block);
            if !block.starts_with("$ wsaudit") {
                continue;
            }
            // (command, quoted output lines, exit code)
            let mut runs: Vec<(String, Vec<String>, Option<i32>)> = Vec::new();
            let mut lines = block.lines().peekable();
            while let Some(line) = lines.next() {
                if let Some(cmd) = line.strip_prefix("$ ") {
                    if cmd == "echo $?" {
                        let want = lines.next().unwrap().trim().parse().unwrap();
                        runs.last_mut().unwrap().2 = Some(want);
                        continue;
                    }
                    let mut cmd = cmd.to_string();
                    while cmd.ends_with('\\') {
                        cmd.pop();
                        cmd.push(' ');
                        cmd.push_str(lines.next().unwrap().trim());
                    }
                    let cmd = cmd.split(" #").next().unwrap().trim().to_string();
                    runs.push((cmd, Vec::new(), None));
                } else if line != "..." {
                    runs.last_mut().unwrap().1.push(line.to_string());
                }
            }
            for (cmd, want, status) in runs {
                let args: Vec<&str> = cmd.split_whitespace().skip(1).collect();
                let out = Command::new(env!("CARGO_BIN_EXE_wsaudit"))
                    .args(&args)
                    .current_dir(&tmp.0)
                    .output()
                    .unwrap();
                let got: Vec<String> = stderr(&out)
                    .lines()
                    .chain(stdout(&out).lines())
                    .map(str::to_string)
                    .collect();
                let mut at = 0;
                for w in &want {
                    match got[at..].iter().position(|g| g == w) {
                        Some(i) => at += i + 1,
                        None => panic!(
                            "{doc}: `{cmd}` no longer prints (in this order)\n{w}\n--- it printed:\n{}",
                            got.join("\n")
                        ),
                    }
                }
                if let Some(s) = status {
                    assert_eq!(code(&out), s, "{doc}: exit code of `{cmd}`");
                }
                checked += 1;
            }
        }
        assert!(checked >= 2, "{doc}: no `$ wsaudit audit` example found");
    }
}
