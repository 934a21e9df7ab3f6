//! Real inputs, trusted (issue 16): folders as operators have them (symbolic links,
//! loops, FIFOs, damaged captures, thousands of files), the outcome of every input in
//! the JSON report, the audit's ERROR verdict over data that was not read, and session
//! tables read back (every format `analyze` writes, other tables refused, the same run
//! twice counted once).
//!
//! Expected counts come from the fixture read alone (`fixtures/demo.pcap`: 17 sessions,
//! `fixtures/demo.truth.json`), never from the run under test.

mod common;

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{bin, fixture, TempDir};
use serde_json::Value;

/// Sessions in `fixtures/demo.pcap`, from the clients' own records.
fn demo_sessions() -> u64 {
    let truth: Value =
        serde_json::from_slice(&std::fs::read(fixture("demo.truth.json")).unwrap()).unwrap();
    let n = truth["sessions"].as_array().map(|a| a.len() as u64);
    n.expect("demo.truth.json lists its sessions")
}

fn run(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().unwrap()
}

fn json_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            err(o)
        )
    })
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The inputs of a JSON report with this outcome.
fn with_outcome<'a>(v: &'a Value, outcome: &str) -> Vec<&'a Value> {
    v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["outcome"] == outcome)
        .collect()
}

#[test]
fn symlinked_files_and_folders_are_read_once_and_a_loop_is_noted_once() {
    let d = TempDir::new("inputs-links");
    let day = d.path().join("2026-12-04");
    std::fs::create_dir(&day).unwrap();
    std::fs::copy(fixture("demo.pcap"), day.join("gw1.pcap")).unwrap();
    symlink("2026-12-04", d.path().join("latest")).unwrap();
    symlink("2026-12-04/gw1.pcap", d.path().join("current.pcap")).unwrap();
    // A hard link is the same file too.
    std::fs::hard_link(day.join("gw1.pcap"), d.path().join("hard.pcap")).unwrap();
    // A loop: a link inside the folder back to the top.
    symlink("..", day.join("up")).unwrap();

    let o = run(&["analyze", "--format", "json", p(d.path())]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let v = json_of(&o);
    assert_eq!(
        v["sessions"],
        demo_sessions(),
        "one capture, read once: {v}"
    );
    let read = with_outcome(&v, "read");
    assert_eq!(read.len(), 1, "{v}");
    assert!(read[0]["name"]
        .as_str()
        .unwrap()
        .ends_with("2026-12-04/gw1.pcap"));
    let skipped = with_outcome(&v, "skipped");
    let names: Vec<&str> = skipped
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    for other in ["current.pcap", "hard.pcap", "latest"] {
        assert!(
            names.iter().any(|n| n.ends_with(other)),
            "{other} is listed as skipped: {names:?}"
        );
    }
    let loops: Vec<_> = skipped
        .iter()
        .filter(|i| i["why"].as_str().unwrap().contains("loop"))
        .collect();
    assert_eq!(loops.len(), 1, "the loop is noted once: {skipped:?}");
    assert!(
        err(&o).contains("a loop"),
        "the loop is said on stderr: {}",
        err(&o)
    );

    // The same file named twice, and through a link, on the command line: read once.
    let o = run(&[
        "analyze",
        "--format",
        "json",
        p(&day.join("gw1.pcap")),
        p(&d.path().join("current.pcap")),
        p(&day.join("gw1.pcap")),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(json_of(&o)["sessions"], demo_sessions());
}

#[test]
fn a_damaged_capture_in_a_folder_is_an_error_with_its_name_and_offset() {
    let d = TempDir::new("inputs-damaged");
    std::fs::copy(fixture("demo.pcap"), d.path().join("good.pcap")).unwrap();
    // Not a capture at all, but named like one.
    d.file(
        "bad.pcap",
        b"this is not a capture, it only has the name of one\n",
    );
    // A capture cut in the middle of a record.
    let demo = std::fs::read(fixture("demo.pcap")).unwrap();
    let cut = demo.len() / 2;
    d.file("cut.pcap", &demo[..cut]);
    // A rotated and a compressed name are capture names too.
    d.file("gw.pcap3", b"\x00\x01\x02\x03junk junk junk");

    let o = run(&["analyze", "--format", "json", p(d.path())]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    let stderr = err(&o);
    for (name, at) in [("bad.pcap", "at byte 0"), ("gw.pcap3", "at byte 0")] {
        assert!(
            stderr.lines().any(|l| l.contains(name) && l.contains(at)),
            "{name} {at} on stderr: {stderr}"
        );
    }
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("cut.pcap") && l.contains("at byte")),
        "{stderr}"
    );
    let v = json_of(&o);
    let failed = with_outcome(&v, "failed");
    assert_eq!(failed.len(), 3, "{v}");
    for f in &failed {
        assert!(f["error"].is_string() && f["offset"].is_u64(), "{f}");
    }
    let cut_row = failed
        .iter()
        .find(|f| f["name"].as_str().unwrap().ends_with("cut.pcap"))
        .unwrap();
    let off = cut_row["offset"].as_u64().unwrap();
    assert!(
        off > 24 && off <= cut as u64,
        "the cut is found where the file ends ({cut}): {cut_row}"
    );
    // What was read is kept: the good capture whole, and the sessions of the cut one
    // that ended before the cut.
    assert!(v["sessions"].as_u64().unwrap() >= demo_sessions(), "{v}");
}

#[test]
fn fifos_and_sockets_in_a_folder_are_never_opened() {
    let d = TempDir::new("inputs-fifo");
    std::fs::copy(fixture("demo.pcap"), d.path().join("good.pcap")).unwrap();
    let fifo = d.path().join("pipe.pcap");
    let ok = Command::new("mkfifo").arg(&fifo).status();
    if !ok.is_ok_and(|s| s.success()) {
        println!("SKIP: mkfifo is not available");
        return;
    }
    let _sock = std::os::unix::net::UnixListener::bind(d.path().join("ctl.sock")).unwrap();
    let mut child = Command::new(bin())
        .args(["analyze", "--format", "json", p(d.path())])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("blocked on the FIFO in the folder");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let v = json_of(&o);
    assert_eq!(v["sessions"], demo_sessions());
    let skipped = with_outcome(&v, "skipped");
    let kinds: Vec<(&str, &str)> = skipped
        .iter()
        .map(|i| (i["name"].as_str().unwrap(), i["kind"].as_str().unwrap()))
        .collect();
    assert!(
        kinds
            .iter()
            .any(|(n, k)| n.ends_with("pipe.pcap") && *k == "FIFO"),
        "{kinds:?}"
    );
    assert!(
        kinds
            .iter()
            .any(|(n, k)| n.ends_with("ctl.sock") && *k == "socket"),
        "{kinds:?}"
    );
}

/// Ten thousand junk files named like captures: every one is an error naming its byte
/// offset (stderr lists the first 50 and counts the rest; the JSON report has all), and
/// the one real capture among them is read. The time is printed; the bound is only a
/// guard against a hang or a quadratic walk (speed is measured in benchmarks).
#[test]
fn ten_thousand_junk_files_are_each_reported() {
    let d = TempDir::new("inputs-junk");
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..10_000 {
        let mut bytes = vec![0u8; 16 + i % 48];
        for b in &mut bytes {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        // Never a capture's magic by chance: the first byte of every magic is one of
        // 0x0a, 0x1f, 0x28, 0x34, 0x4d, 0xa1, 0xd4.
        bytes[0] = b'J';
        d.file(&format!("junk-{i:05}.pcap"), &bytes);
    }
    // Junk not named like a capture is passed over with a note.
    for i in 0..100 {
        d.file(&format!("blob-{i:03}.bin"), &[0u8, 1, 2, 3, 4, 5, 6, 7]);
    }
    std::fs::copy(fixture("demo.pcap"), d.path().join("real.pcap")).unwrap();
    let start = Instant::now();
    let o = run(&["analyze", "--format", "json", p(d.path())]);
    let took = start.elapsed();
    println!("10,000 junk files + 100 blobs + 1 capture: {took:?}");
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert_eq!(o.status.code(), Some(2));
    let v = json_of(&o);
    assert_eq!(v["sessions"], demo_sessions());
    let failed = with_outcome(&v, "failed");
    assert_eq!(failed.len(), 10_000);
    assert!(
        failed.iter().all(|f| f["offset"] == 0),
        "every one at byte 0"
    );
    assert_eq!(with_outcome(&v, "skipped").len(), 100);
    let stderr = err(&o);
    assert!(
        stderr.contains("and 9950 more errors"),
        "stderr stays readable: {}",
        stderr.lines().count()
    );
}

/// Issue 16: the nightly audit says ERROR (exit 2) when an input could not be read or a
/// whole log was unrecognised, and its Markdown names the input and why; unmatched lines
/// inside a recognised log stay counts.
#[test]
fn the_audit_says_error_over_inputs_that_were_not_read() {
    let d = TempDir::new("inputs-audit");
    std::fs::copy(fixture("demo.pcap"), d.path().join("gw1.pcap")).unwrap();
    let good = run(&["audit", "--format", "json", p(d.path())]);
    assert_eq!(good.status.code(), Some(0), "{}", err(&good));
    assert_eq!(json_of(&good)["verdict"], "pass");

    // A log nobody can read: the app writes a format wsaudit does not know.
    let mut text = String::new();
    for i in 0..40 {
        text.push_str(&format!(
            "2026-12-04 01:{:02}:00 app[42]: ws peer gone status={} sid=s{i}\n",
            i % 60,
            1006
        ));
    }
    d.file("app.log", text.as_bytes());
    // (Outside the folder being read: an output inside it is refused.)
    let out = TempDir::new("inputs-audit-out");
    let md = out.path().join("night.md");
    let o = run(&[
        "audit",
        "--format",
        "json",
        p(d.path()),
        "--markdown",
        p(&md),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    let v = json_of(&o);
    assert_eq!(v["verdict"], "error", "{v}");
    let markdown = std::fs::read_to_string(&md).unwrap();
    assert!(
        markdown.contains("app.log") && markdown.contains("none of its 40 lines"),
        "{markdown}"
    );

    // A damaged capture in the folder: ERROR too.
    std::fs::remove_file(d.path().join("app.log")).unwrap();
    let demo = std::fs::read(fixture("demo.pcap")).unwrap();
    d.file("gw2.pcap", &demo[..demo.len() - 7]);
    let o = run(&["audit", "--format", "json", p(d.path())]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert_eq!(json_of(&o)["verdict"], "error");

    // A recognised log with unmatched lines: counts, not errors.
    std::fs::remove_file(d.path().join("gw2.pcap")).unwrap();
    let mut log = "2026-12-04T01:00:00Z INFO starting\n".repeat(5);
    log.push_str(
        "2026-12-04T01:00:01Z INFO afterConnectionClosed CloseStatus[code=1001, reason=bye]\n",
    );
    d.file("spring.log", log.as_bytes());
    let o = run(&["audit", "--format", "json", p(d.path())]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(json_of(&o)["verdict"], "pass");
}

/// `report` over an `analyze` output folder holding the same run as CSV, Parquet, JSON
/// and JSON Lines, with its other tables: every session once, the duplicates named,
/// the other tables passed over; named directly, a table of another kind is refused.
#[test]
fn report_reads_every_session_table_format_once_and_refuses_other_tables() {
    let d = TempDir::new("inputs-report");
    let out = d.path();
    let demo = fixture("demo.pcap");
    for ext in ["csv", "parquet", "json", "jsonl"] {
        let s = out.join(format!("s.{ext}"));
        let o = run(&["analyze", "-q", p(&demo), "--sessions", p(&s)]);
        assert!(o.status.success(), "{}", err(&o));
    }
    let o = run(&[
        "analyze",
        "-q",
        p(&demo),
        "--closes",
        p(&out.join("c.csv")),
        "--summary",
        p(&out.join("per-code.csv")),
        "--reconnects",
        p(&out.join("r.parquet")),
    ]);
    assert!(o.status.success(), "{}", err(&o));
    // (A Parquet table's kind shows in all its columns, those a report does not read
    // too: the summary's `close_code_name`.)
    let o = run(&[
        "analyze",
        "-q",
        p(&demo),
        "--summary",
        p(&out.join("per-code.parquet")),
    ]);
    assert!(o.status.success(), "{}", err(&o));
    let direct = json_of(&run(&["analyze", "--format", "json", p(&demo)]));

    for one in ["s.csv", "s.parquet", "s.json", "s.jsonl"] {
        let v = json_of(&run(&["report", "--format", "json", p(&out.join(one))]));
        for key in ["sessions", "endings", "codes", "anomalies", "quality"] {
            assert_eq!(v[key], direct[key], "{key} read back from {one}");
        }
    }

    let o = run(&["report", "--format", "json", p(out)]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let v = json_of(&o);
    assert_eq!(
        v["sessions"],
        demo_sessions(),
        "the same run four times counts once"
    );
    assert_eq!(v["codes"], direct["codes"]);
    let stderr = err(&o);
    assert_eq!(
        stderr.matches("already read from").count(),
        3,
        "each copy is named: {stderr}"
    );
    let skipped: Vec<String> = with_outcome(&v, "skipped")
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect();
    for other in ["c.csv", "per-code.csv", "per-code.parquet", "r.parquet"] {
        assert!(
            skipped.iter().any(|n| n.ends_with(other)),
            "{other} passed over: {skipped:?}"
        );
    }

    // Named directly: refused, naming the file and what it is.
    for (file, what) in [
        ("r.parquet", "reconnects table"),
        ("c.csv", "closes table"),
        ("per-code.csv", "per-code summary table"),
        ("per-code.parquet", "per-code summary table"),
    ] {
        let o = run(&["report", p(&out.join(file))]);
        assert_eq!(o.status.code(), Some(2), "{file}: {}", err(&o));
        assert!(
            err(&o).contains(file) && err(&o).contains(what),
            "{file}: {}",
            err(&o)
        );
    }

    // A reconnects table is not a baseline.
    let o = run(&["audit", p(&demo), "--baseline", p(&out.join("r.parquet"))]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("reconnects table"), "{}", err(&o));
}
