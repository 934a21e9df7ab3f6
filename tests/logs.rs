//! Log inputs (`src/logs/`): each format read from lines its library or service produced.
//!
//! Fixtures are in `fixtures/logs/` (see its README): `python-websockets/`, `go/`,
//! `tungstenite/` and `mitmproxy/` were captured by running the libraries here (scripts in
//! `fixtures/logs/gen/`); `quoted/` holds lines written in the exact format of the
//! library's `toString()` / docs, each test naming the file the format was taken from.

use std::io::Write;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use wsaudit::logs::{is_log, read_logs, FieldMap, LogFormat, LogOptions, LogResult, MAX_LINE};
use wsaudit::report::columns::{f64s, i64s, strs, u16s};
use wsaudit::report::table::sessions_frame;

fn fixture(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/logs")
        .join(p)
}

/// One row, the columns these tests look at.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    source: String,
    session_id: String,
    code: Option<u16>,
    name: Option<String>,
    reason: Option<String>,
    ending: Option<String>,
    initiator: Option<String>,
    client_code: Option<u16>,
    server_code: Option<u16>,
    handshake: Option<bool>,
    client_ip: Option<String>,
    duration: Option<f64>,
    start: Option<i64>,
    end: Option<i64>,
}

fn rows(r: &LogResult) -> Vec<Row> {
    let df = &r.sessions;
    let s = |c| strs(df, c).unwrap();
    let u = |c| u16s(df, c).unwrap();
    let hs = df
        .column("handshake_completed")
        .unwrap()
        .as_materialized_series()
        .bool()
        .unwrap()
        .clone();
    let (source, sid, name, reason, ending, init, ip) = (
        s("source"),
        s("session_id"),
        s("close_code_name"),
        s("close_reason"),
        s("ending"),
        s("initiator"),
        s("client_ip"),
    );
    let (code, cc, sc) = (
        u("close_code"),
        u("client_close_code"),
        u("server_close_code"),
    );
    let dur = f64s(df, "duration_s").unwrap();
    let start = i64s(df, "start_time").unwrap();
    let end = i64s(df, "end_time").unwrap();
    (0..df.height())
        .map(|i| Row {
            source: source[i].clone().unwrap(),
            session_id: sid[i].clone().unwrap(),
            code: code[i],
            name: name[i].clone(),
            reason: reason[i].clone(),
            ending: ending[i].clone(),
            initiator: init[i].clone(),
            client_code: cc[i],
            server_code: sc[i],
            handshake: hs.get(i),
            client_ip: ip[i].clone(),
            duration: dur[i],
            start: start[i],
            end: end[i],
        })
        .collect()
}

fn read(p: &Path, format: Option<LogFormat>) -> (LogResult, Vec<Row>) {
    let r = read_logs(&[p.to_path_buf()], &LogOptions { format, map: None });
    let v = rows(&r);
    (r, v)
}

/// (code, reason, ending, initiator, client_close_code, server_close_code, handshake)
type Brief = (
    Option<u16>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<u16>,
    Option<u16>,
    Option<bool>,
);

fn brief(r: &Row) -> Brief {
    (
        r.code,
        r.reason.clone(),
        r.ending.clone(),
        r.initiator.clone(),
        r.client_code,
        r.server_code,
        r.handshake,
    )
}

fn b(
    code: u16,
    reason: Option<&str>,
    ending: &str,
    init: Option<&str>,
    cc: Option<u16>,
    sc: Option<u16>,
    hs: Option<bool>,
) -> Brief {
    (
        Some(code),
        reason.map(str::to_string),
        Some(ending.to_string()),
        init.map(str::to_string),
        cc,
        sc,
        hs,
    )
}

#[test]
fn dump_for_eyes() {
    for f in [
        "python-websockets/websockets-9.1.log",
        "python-websockets/websockets-15.0.1.log",
        "go/go-websocket.log",
        "tungstenite/tungstenite-0.27.log",
        "mitmproxy/mitmdump.log",
    ] {
        let (r, v) = read(&fixture(f), None);
        eprintln!("== {f} {:?}", r.files);
        for x in v {
            eprintln!("{x:?}");
        }
    }
}
