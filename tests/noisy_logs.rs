//! Logs as applications write them (issue 16), read by the `wsaudit` binary as users run it.
//!
//! `fixtures/logs/noisy/`: the real library logs of `fixtures/logs/` (and a real JSON app's
//! log and a real nginx's access log) with real noise mixed in, seeded: nginx access lines
//! for 200/404/500 requests, JSON `http request` lines with `"code": 200|404|500`, and
//! application lines that carry 1000, 1006, 1011 in other meanings. Each file's
//! `.truth.json` (written by `fixtures/logs/gen/noisy/mix.py`) says which lines report a
//! close and the code the library/app itself reported there; every other line is not a
//! close event. The bar: per file and in total at least 99 % of the close events are rows
//! with the right code, and no row comes from a line that is not a close event.
//!
//! `fixtures/logs/pattern/`: applications on Jetty 9.4, Tomcat 10.1 (JSR-356 `@OnClose`)
//! and Starlette/uvicorn that log the close callback in their own words, with the stack
//! traces and tracebacks those frameworks print around it; each callback wrote what it
//! received to `<app>.truth.jsonl`. `--pattern` must find every callback with its code and
//! reason and nothing else.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

fn logs(p: &str) -> PathBuf {
    common::fixtures().join("logs").join(p)
}

fn wsaudit(args: &[&str]) -> Output {
    std::process::Command::new(common::bin())
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

/// One session row of the exported table (the columns these tests look at).
#[derive(Debug, Clone)]
struct Row {
    capture: String,
    session_id: String,
    code: Option<u64>,
    reason: Option<String>,
    duration: Option<f64>,
}

/// `wsaudit analyze LOG... ARGS --sessions out.jsonl`, rows read back.
fn analyze(inputs: &[&Path], args: &[&str]) -> Vec<Row> {
    let dir = common::TempDir::new("noisy");
    let out = dir.path().join("sessions.jsonl");
    let mut a: Vec<String> = vec!["analyze".into()];
    a.extend(inputs.iter().map(|p| p.to_string_lossy().into_owned()));
    a.extend(args.iter().map(|s| s.to_string()));
    a.push("--sessions".into());
    a.push(out.to_string_lossy().into_owned());
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let o = wsaudit(&a);
    assert!(
        o.status.success(),
        "wsaudit {a:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = std::fs::read_to_string(&out).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            Row {
                capture: v["capture"].as_str().unwrap_or_default().to_string(),
                session_id: v["session_id"].as_str().unwrap().to_string(),
                code: v["close_code"].as_u64(),
                reason: v["close_reason"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
                duration: v["duration_s"].as_f64(),
            }
        })
        .collect()
}

/// The log's own part of a row's `session_id`: after the file name, `:` or `#` (log rows
/// are `FILE:LINE` when the log has no id of its own, else the log's id, alone or after
/// the file).
fn id_part(sid: &str) -> &str {
    sid.rsplit([':', '#']).next().unwrap_or(sid)
}

fn empty_is_none(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_string)
}

/// What the rows of one noisy file say against its truth.
#[derive(Debug, Default)]
struct Score {
    expected: usize,
    found: usize,
    /// (event line, code the library reported, row's code)
    wrong_code: Vec<(u64, Option<u64>, Option<u64>)>,
    missing: Vec<(u64, Option<u64>)>,
    /// (line, kind of line, row's code): rows from lines that are not close events
    false_rows: Vec<(u64, String, Option<u64>)>,
    /// event lines with more than one row
    duplicates: Vec<u64>,
    unplaced: Vec<String>,
}

fn score(name: &str, rows: &[Row]) -> Score {
    let truth: Value = serde_json::from_str(
        &std::fs::read_to_string(logs(&format!("noisy/{name}.truth.json"))).unwrap(),
    )
    .unwrap();
    let events = truth["close_events"].as_array().unwrap();
    let mut by_line: BTreeMap<u64, usize> = BTreeMap::new();
    let mut by_session: BTreeMap<String, usize> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        for l in e["lines"].as_array().unwrap() {
            by_line.insert(l.as_u64().unwrap(), i);
        }
        if let Some(s) = e["session"].as_str() {
            by_session.insert(s.to_string(), i);
        }
    }
    let mut kind: BTreeMap<u64, String> = BTreeMap::new();
    for (k, ls) in truth["lines"].as_object().unwrap() {
        for l in ls.as_array().unwrap() {
            kind.insert(l.as_u64().unwrap(), k.clone());
        }
    }
    let mut s = Score {
        expected: events.len(),
        ..Default::default()
    };
    let mut rows_of: Vec<Vec<&Row>> = vec![Vec::new(); events.len()];
    for r in rows {
        let id = id_part(&r.session_id);
        if let Some(&i) = by_session.get(id) {
            rows_of[i].push(r);
        } else if let Ok(line) = id.trim_start_matches('L').parse::<u64>() {
            match by_line.get(&line) {
                Some(&i) => rows_of[i].push(r),
                None => {
                    s.false_rows
                        .push((line, kind.get(&line).cloned().unwrap_or_default(), r.code))
                }
            }
        } else {
            s.unplaced.push(r.session_id.clone());
        }
    }
    for (e, rs) in events.iter().zip(&rows_of) {
        let line = e["line"].as_u64().unwrap();
        let want = e["code"].as_u64();
        if rs.len() > 1 {
            s.duplicates.push(line);
        }
        let ok = |r: &&Row| {
            r.code == want
                && match e["duration_s"].as_f64() {
                    // nginx: no code; the session is its 101 line with nginx's $request_time
                    Some(d) => r.duration.is_some_and(|x| (x - d).abs() < 1e-6),
                    None => true,
                }
        };
        if rs.iter().any(ok) {
            s.found += 1;
        } else if let Some(r) = rs.first() {
            s.wrong_code.push((line, want, r.code));
        } else {
            s.missing.push((line, want));
        }
    }
    s
}

const NOISY: &[&str] = &[
    "python-websockets-15.0.1",
    "go-websocket",
    "tungstenite-0.27",
    "mitmproxy",
    "tomcat-10.1",
    "jetty-9.4",
    "json-app",
    "nginx",
];

fn check(name: &str, s: &Score) -> Vec<String> {
    let mut bad = Vec::new();
    if (s.found as f64) < 0.99 * s.expected as f64 {
        bad.push(format!(
            "{name}: {}/{} close events found with the right code; wrong code \
             (line, truth, row): {:?}; missing (line, truth): {:?}",
            s.found, s.expected, s.wrong_code, s.missing
        ));
    }
    if !s.false_rows.is_empty() {
        bad.push(format!(
            "{name}: {} rows from lines that are not close events (line, kind, code): {:?}",
            s.false_rows.len(),
            s.false_rows
        ));
    }
    if !s.duplicates.is_empty() {
        bad.push(format!(
            "{name}: closes counted twice (lines): {:?}",
            s.duplicates
        ));
    }
    if !s.unplaced.is_empty() {
        bad.push(format!(
            "{name}: rows whose session_id names no line or session: {:?}",
            s.unplaced
        ));
    }
    bad
}

/// Every noisy file, each read alone (the format detected, nothing forced): at least 99 %
/// of close events found with the right code, and no row from a line that is not one.
#[test]
fn noisy_logs_close_events_found_and_noise_never_a_row() {
    let mut bad = Vec::new();
    let (mut found, mut expected) = (0, 0);
    for name in NOISY {
        let rows = analyze(&[&logs(&format!("noisy/{name}.log"))], &[]);
        let s = score(name, &rows);
        eprintln!(
            "{name}: {}/{} close events found, {} rows",
            s.found,
            s.expected,
            rows.len()
        );
        found += s.found;
        expected += s.expected;
        bad.extend(check(name, &s));
    }
    eprintln!("total: {found}/{expected}");
    assert!(
        found as f64 >= 0.99 * expected as f64,
        "in total {found}/{expected} close events found"
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// All noisy files in one run (one folder): the same, per file (rows told apart by their
/// `capture`, the file they came from).
#[test]
fn noisy_logs_in_one_folder() {
    let dir = common::TempDir::new("noisy-folder");
    for name in NOISY {
        std::fs::copy(
            logs(&format!("noisy/{name}.log")),
            dir.path().join(format!("{name}.log")),
        )
        .unwrap();
    }
    let rows = analyze(&[dir.path()], &[]);
    let mut bad = Vec::new();
    for name in NOISY {
        let mine: Vec<Row> = rows
            .iter()
            .filter(|r| r.capture.ends_with(&format!("{name}.log")))
            .cloned()
            .collect();
        let s = score(name, &mine);
        bad.extend(check(name, &s));
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// A JSON log read through `--map` alone (it implies JSON lines): the app's `http request`
/// lines (`"code": 200|404|500`) are not close events, the `websocket closed` lines are.
#[test]
fn json_map_implies_json_and_http_codes_are_not_closes() {
    let rows = analyze(
        &[&logs("noisy/json-app.log")],
        &[
            "--map",
            "code=code,reason=reason,session=session,time=time,peer=peer",
        ],
    );
    let s = score("json-app", &rows);
    let bad = check("json-app --map", &s);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert_eq!(s.found, s.expected);
}

// ---- --pattern ----------------------------------------------------------------------------

/// The truth one app's callbacks wrote: (session or "", code, reason).
fn callbacks(name: &str) -> Vec<(String, u64, Option<String>)> {
    std::fs::read_to_string(logs(&format!("pattern/{name}.truth.jsonl")))
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["session"].as_str().unwrap_or("").to_string(),
                v["code"].as_u64().unwrap(),
                empty_is_none(v["reason"].as_str()),
            )
        })
        .collect()
}

fn lines_of(name: &str) -> Vec<String> {
    std::fs::read_to_string(logs(&format!("pattern/{name}.log")))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Jetty 9.4: `onWebSocketClose(int statusCode, String reason)` logged by the app through
/// Jetty's StdErrLog, among Jetty's own lines and the WARN stack traces of a handler that
/// throws. No session id in the line: rows are matched by (code, reason) as a multiset,
/// and each row's line (its session_id is `FILE:LINE`) must be a callback line.
#[test]
fn pattern_jetty_on_websocket_close() {
    let rows = analyze(
        &[&logs("pattern/jetty-app.log")],
        &[
            "--pattern",
            r"onWebSocketClose statusCode=(?P<code>\d+) reason=(?P<reason>.*)$",
        ],
    );
    let want = callbacks("jetty-app");
    let lines = lines_of("jetty-app");
    let mut got: Vec<(u64, Option<String>)> = rows
        .iter()
        .map(|r| (r.code.unwrap_or(0), r.reason.clone()))
        .collect();
    let mut exp: Vec<(u64, Option<String>)> =
        want.iter().map(|(_, c, r)| (*c, r.clone())).collect();
    got.sort();
    exp.sort();
    assert_eq!(
        got, exp,
        "every callback with its code and reason, nothing else"
    );
    for r in &rows {
        let line: usize = id_part(&r.session_id).parse().unwrap();
        assert!(
            lines[line - 1].contains(": onWebSocketClose statusCode="),
            "row from line {line}: {}",
            lines[line - 1]
        );
    }
}

/// Match rows to callbacks that name a session id, exactly.
fn by_session(rows: &[Row], want: &[(String, u64, Option<String>)]) {
    let got: BTreeMap<String, (Option<u64>, Option<String>)> = rows
        .iter()
        .map(|r| {
            (
                id_part(&r.session_id).to_string(),
                (r.code, r.reason.clone()),
            )
        })
        .collect();
    assert_eq!(got.len(), rows.len(), "one row per session: {rows:?}");
    let exp: BTreeMap<String, (Option<u64>, Option<String>)> = want
        .iter()
        .map(|(s, c, r)| (s.clone(), (Some(*c), r.clone())))
        .collect();
    assert_eq!(got, exp);
}

/// Tomcat 10.1, JSR-356 `@OnClose(Session, CloseReason)` logged through JULI's
/// OneLineFormatter, among SEVERE entries with stack traces (`@OnError` of a handler that
/// throws, a servlet's 500) whose lines carry `1006` and `1011`.
#[test]
fn pattern_tomcat_on_close_close_reason() {
    let rows = analyze(
        &[&logs("pattern/tomcat-app.log")],
        &[
            "--pattern",
            r"websocket closed id=(?P<session>\w+) code=(?P<code>\d+) reason=\[(?P<reason>[^\]]*)\]",
        ],
    );
    by_session(&rows, &callbacks("tomcat-app"));
}

/// Starlette `WebSocketDisconnect.code` / `.reason` logged through uvicorn's logger, among
/// uvicorn access lines and the tracebacks of a route and a WebSocket handler that raise. A
/// second pattern over the access lines matches HTTP statuses (200, 404, 500): those lines
/// are counted, never rows.
#[test]
fn pattern_starlette_websocket_disconnect() {
    let p = r"websocket disconnected sid=(?P<session>\S+) code=(?P<code>\d+) reason='(?P<reason>[^']*)'";
    let want = callbacks("starlette-app");
    let rows = analyze(&[&logs("pattern/starlette-app.log")], &["--pattern", p]);
    by_session(&rows, &want);
    let rows = analyze(
        &[&logs("pattern/starlette-app.log")],
        &[
            "--pattern",
            p,
            "--pattern",
            r#""(?:GET|POST) (?P<reason>\S+) HTTP/1\.1" (?P<code>\d{3}) "#,
        ],
    );
    by_session(&rows, &want);
}

/// A pattern without a `code` group is refused with a message that says so (the pattern
/// below uses only known group names, so nothing else can be the reason).
#[test]
fn pattern_without_code_is_refused() {
    let pattern = r"onWebSocketClose statusCode=\d+ reason=(?P<reason>.*)$";
    let o = wsaudit(&[
        "analyze",
        &logs("pattern/jetty-app.log").to_string_lossy(),
        "--pattern",
        pattern,
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "accepted a pattern without `code`");
    assert!(
        err.contains(pattern),
        "the message names the pattern: {err}"
    );
    assert!(
        err.replace(pattern, "").contains("code"),
        "the message names the missing `code` group: {err}"
    );
}
