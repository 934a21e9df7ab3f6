//! Log inputs (`src/logs/`): each format read from lines its library or service produced.
//!
//! Fixtures are in `fixtures/logs/` (see its README): `python-websockets/`, `go/`,
//! `tungstenite/` and `mitmproxy/` were captured by running the libraries here (scripts in
//! `fixtures/logs/gen/`); `quoted/` holds lines written in the exact format of the
//! library's `toString()` / docs, each test naming the file the format was taken from.

use std::io::Write;
use std::path::{Path, PathBuf};

use wsaudit::cmd::collect::read_logs;
use wsaudit::cmd::collect::LogResult;
use wsaudit::inputs::is_log;
use wsaudit::logs::pattern::LinePattern;
use wsaudit::logs::{FieldMap, LogFormat, LogOptions, MAX_LINE};
use wsaudit::table::columns::{f64s, i64s, strs, u16s};
use wsaudit::table::session::sessions_frame;

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
    let opts = LogOptions {
        format,
        ..Default::default()
    };
    let r = read_logs(&[p.to_path_buf()], &opts);
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

fn line_of(r: &Row) -> u64 {
    // `<file>#<line>` where the log names no connection.
    r.session_id.rsplit('#').next().unwrap().parse().unwrap()
}

fn at(v: &[Row], line: u64) -> &Row {
    v.iter()
        .find(|r| line_of(r) == line)
        .unwrap_or_else(|| panic!("no row for line {line}"))
}

// ---- Python websockets: real output of websockets 9.1, 10.4, 11.0.3, 13.1, 15.0.1 -------
// (fixtures/logs/gen/python-websockets/gen.py; the app logs `str(ConnectionClosed)` as
// "APP client: ..." / "APP server: ...", so the side comes from the word before it).

#[test]
fn python_websockets_15_connection_closed_messages() {
    let (r, v) = read(&fixture("python-websockets/websockets-15.0.1.log"), None);
    assert_eq!(r.files[0].format, Some(LogFormat::PythonWebsockets));
    assert!(
        r.files[0].unmatched_lines > 300,
        "DEBUG frame lines are not sessions"
    );
    assert!(v.iter().all(|x| x.source == "python_websockets"));
    // "INFO:app:APP client: sent 1000 (OK) bye; then received 1000 (OK) bye"
    let c = v
        .iter()
        .find(|x| x.reason.as_deref() == Some("bye"))
        .unwrap();
    assert_eq!(
        brief(c),
        b(
            1000,
            Some("bye"),
            "normal",
            Some("client"),
            Some(1000),
            Some(1000),
            Some(true)
        )
    );
    // "INFO:app:APP client: received 1011 (internal error); then sent 1011 (internal error)"
    let x = v.iter().find(|x| x.code == Some(1011)).unwrap();
    assert_eq!(
        brief(x),
        b(
            1011,
            None,
            "announced",
            Some("server"),
            Some(1011),
            Some(1011),
            Some(true)
        )
    );
    // "INFO:app:APP client: no close frame received or sent"
    let x = v.iter().find(|x| x.code == Some(1006)).unwrap();
    assert_eq!(
        brief(x),
        b(
            1006,
            None,
            "abnormal",
            Some("none"),
            None,
            None,
            Some(false)
        )
    );
    // "INFO:app:APP client: received 1005 (no status received [internal]); then sent 1005 ..."
    let x = v.iter().find(|x| x.code == Some(1005)).unwrap();
    assert_eq!(x.ending.as_deref(), Some("no_status"));
    // "INFO:app:APP client: sent 1000 (OK); no close frame received"
    let x = v.last().unwrap();
    assert_eq!(
        brief(x),
        b(
            1000,
            None,
            "normal",
            Some("client"),
            Some(1000),
            None,
            Some(false)
        )
    );
    // 4001 with reason, announced
    let x = v.iter().find(|x| x.code == Some(4001)).unwrap();
    assert_eq!(x.reason.as_deref(), Some("kicked"));
    assert_eq!(x.name.as_deref(), Some("Private use"));
}

#[test]
fn python_websockets_every_generation_gives_the_codes_it_logged() {
    // 9.x prints `code = 1000 (OK), reason = bye`; 10.x/11.x `... (unexpected error)` for
    // 1011 and `(no status code [internal])` for 1005; 13.x/15.x `(internal error)` and
    // `(no status received [internal])`.
    //
    // The codes, read by hand from the `APP` lines (and tracebacks) of each log, for
    // gen.py's plan: both sides of client-1000, client-4000, server-1001, server-1011,
    // server-1012 and server-4001; the client of server-abort (1006: 9.x `code = 1006`,
    // later `no close frame received or sent`); the client of raw-empty-close (1005).
    // They differ in two places: raw-no-reply's client is `code = 1006` in 9.x and
    // `sent 1000 (OK); no close frame received` from 10.x on; and 11.0.3 and 13.1 also
    // log the server of server-abort, a handler traceback ending
    // `ConnectionClosedError: sent 1000 (OK); no close frame received`.
    let plan = [
        1000, 1000, 4000, 4000, 1001, 1001, 1011, 1011, 1012, 1012, 4001, 4001,
    ];
    let common: Vec<u16> = plan.into_iter().chain([1006, 1005]).collect();
    for (v, extra) in [
        ("9.1", &[1006][..]),
        ("10.4", &[1000][..]),
        ("11.0.3", &[1000, 1000][..]),
        ("13.1", &[1000, 1000][..]),
        ("15.0.1", &[1000][..]),
    ] {
        let (r, rows) = read(
            &fixture(&format!("python-websockets/websockets-{v}.log")),
            None,
        );
        assert!(r.problems.is_empty(), "{v}: {:?}", r.problems);
        let mut got: Vec<u16> = rows.iter().filter_map(|x| x.code).collect();
        got.sort();
        let mut want: Vec<u16> = common.iter().chain(extra).copied().collect();
        want.sort();
        assert_eq!(got, want, "websockets {v}");
        assert_eq!(
            rows.len(),
            want.len(),
            "websockets {v}: every row has a code"
        );
    }
}

#[test]
fn python_websockets_9_code_equals_messages() {
    let (_, v) = read(&fixture("python-websockets/websockets-9.1.log"), None);
    // "INFO:app:APP client: code = 1006 (connection closed abnormally [internal]), no reason"
    let x = v.iter().find(|x| x.code == Some(1006)).unwrap();
    assert_eq!(brief(x), b(1006, None, "abnormal", None, None, None, None));
    // "INFO:app:APP server: code = 1000 (OK), reason = bye"
    let x = v.iter().find(|x| x.code == Some(1000)).unwrap();
    assert_eq!(x.reason.as_deref(), Some("bye"));
    assert_eq!(x.ending.as_deref(), Some("normal"));
}

#[test]
fn python_websockets_10_unexpected_error_label() {
    let (_, v) = read(&fixture("python-websockets/websockets-10.4.log"), None);
    // "INFO:app:APP server: sent 1011 (unexpected error); then received 1011 (unexpected error)"
    let x = v
        .iter()
        .find(|x| x.code == Some(1011) && x.initiator.as_deref() == Some("server"))
        .unwrap();
    assert_eq!(x.server_code, Some(1011));
    assert_eq!(x.handshake, Some(true));
}

// ---- Go: real output of Debian's gorilla/websocket 1.5.0 and nhooyr.io/websocket 1.8.7 ----

#[test]
fn gorilla_close_errors() {
    let (r, v) = read(&fixture("go/go-websocket.log"), Some(LogFormat::Gorilla));
    assert_eq!(r.files[0].records, 13);
    assert!(v.iter().all(|x| x.source == "gorilla"));
    // line 1: "gorilla client /1000: websocket: close 1000 (normal): bye"
    assert_eq!(
        brief(at(&v, 1)),
        b(1000, Some("bye"), "normal", None, None, Some(1000), None)
    );
    // line 10: "gorilla client /1012: websocket: close 1012" (no label for 1012/1013)
    assert_eq!(
        brief(at(&v, 10)),
        b(1012, None, "announced", None, None, Some(1012), None)
    );
    // line 13: "gorilla client /1013: websocket: close 1013: later"
    assert_eq!(at(&v, 13).reason.as_deref(), Some("later"));
    // line 19: "websocket: close 1006 (abnormal closure): unexpected EOF"
    assert_eq!(
        brief(at(&v, 19)),
        b(
            1006,
            Some("unexpected EOF"),
            "abnormal",
            None,
            None,
            None,
            None
        )
    );
    // line 3: "gorilla server /1000: websocket: close 1000 (normal)": the client's echo
    assert_eq!(at(&v, 3).client_code, Some(1000));
}

#[test]
fn coder_websocket_status_names() {
    let (_, v) = read(&fixture("go/go-websocket.log"), None);
    let c: Vec<&Row> = v.iter().filter(|x| x.source == "coder_websocket").collect();
    assert_eq!(c.len(), 8);
    // line 24: `received close frame: status = StatusGoingAway and reason = ""`
    assert_eq!(
        brief(at(&v, 24)),
        b(1001, None, "announced", None, None, Some(1001), None)
    );
    // line 37: `status = StatusCode(4001) and reason = "kicked"`
    assert_eq!(at(&v, 37).code, Some(4001));
    assert_eq!(at(&v, 37).reason.as_deref(), Some("kicked"));
    // line 33: StatusTryAgainLater
    assert_eq!(at(&v, 33).code, Some(1013));
}

// ---- Rust tungstenite 0.27.0: real output (fixtures/logs/gen/tungstenite) ----------------

#[test]
fn tungstenite_close_frames_and_reset() {
    let (r, v) = read(&fixture("tungstenite/tungstenite-0.27.log"), None);
    assert_eq!(r.files[0].format, Some(LogFormat::Tungstenite));
    // "server app got: Close(Some(CloseFrame { code: Away, reason: Utf8Bytes(b\"server shutting down\") }))"
    let x = v.iter().find(|x| x.code == Some(1001)).unwrap();
    assert_eq!(x.reason.as_deref(), Some("server shutting down"));
    // `code: Library(4001)`, `code: Iana(3000)`, `code: Policy`, `code: Again`
    for k in [4001, 3000, 1008, 1013, 1012, 1011, 1000] {
        assert!(v.iter().any(|x| x.code == Some(k)), "{k}");
    }
    // "client app error: WebSocket protocol error: Connection reset without closing handshake ..."
    let x = v.last().unwrap();
    assert_eq!(brief(x), b(1006, None, "abnormal", None, None, None, None));
    // Older tungstenite printed `reason: "bye"` (Cow<str>), quoted from
    // tungstenite-rs src/protocol/frame/mod.rs `#[derive(Debug)] pub struct CloseFrame`.
    let t = tmp(
        "tung-old.log",
        b"Received close frame: Some(CloseFrame { code: Away, reason: \"going\" })\n",
    );
    let (_, v) = read(&t, None);
    assert_eq!(
        (v[0].code, v[0].reason.as_deref()),
        (Some(1001), Some("going"))
    );
}

// ---- mitmproxy 11.0.2 (mitmdump reverse proxy): real output -----------------------------

#[test]
fn mitmproxy_closed_by_side_and_errors() {
    let (_, v) = read(&fixture("mitmproxy/mitmdump.log"), None);
    assert_eq!(v.len(), 6);
    // "WebSocket connection closed by client: 1000 bye"
    assert_eq!(
        brief(&v[0]),
        b(
            1000,
            Some("bye"),
            "normal",
            Some("client"),
            Some(1000),
            None,
            None
        )
    );
    // "WebSocket connection closed by server: 1001 going away"
    assert_eq!(
        brief(&v[2]),
        b(
            1001,
            Some("going away"),
            "announced",
            Some("server"),
            None,
            Some(1001),
            None
        )
    );
    // "Error in WebSocket connection to 127.0.0.1:18765: WebSocket Error: INTERNAL_ERROR (reason: boom)"
    assert_eq!(
        brief(&v[3]),
        b(1011, Some("boom"), "announced", None, None, None, None)
    );
    // "... WebSocket Error: UNKNOWN_ERROR=4001 (reason: kicked)" and "ABNORMAL_CLOSURE"
    assert_eq!(v[4].code, Some(4001));
    assert_eq!(v[5].ending.as_deref(), Some("abnormal"));
}

// ---- Formats quoted from source or docs (fixtures/logs/quoted) ---------------------------

#[test]
fn spring_close_status() {
    // spring-framework spring-websocket/src/main/java/org/springframework/web/socket/CloseStatus.java:
    //   return "CloseStatus[code=" + this.code + ", reason=" + this.reason + "]";
    let (r, v) = read(&fixture("quoted/spring.log"), None);
    assert_eq!(r.files[0].format, Some(LogFormat::Spring));
    assert_eq!(
        brief(&v[0]),
        b(1000, None, "normal", None, None, None, None)
    );
    assert_eq!(
        brief(&v[1]),
        b(
            1006,
            Some("Closed abnormally"),
            "abnormal",
            None,
            None,
            None,
            None
        )
    );
    assert_eq!(v[2].code, Some(1001));
    // 2026-11-22 10:00:01.123 (no zone: UTC)
    assert_eq!(v[0].end, Some(1_795_341_601_123_000_000));
    // line 4: code=99999 does not fit: half-matched, with its line number
    assert_eq!(r.files[0].half_matched.len(), 1);
    assert_eq!(r.files[0].half_matched[0].0, 4);
}

#[test]
fn jakarta_close_reason_both_to_strings() {
    // jakartaee/websocket api/src/main/java/jakarta/websocket/CloseReason.java (and Tomcat's
    // java/jakarta/websocket/CloseReason.java):
    //   return "CloseReason: code [" + closeCode.getCode() + "], reason [" + reasonPhrase + "]";
    // and the short form `"CloseReason[" + code + "," + reason + "]"` / `"CloseReason[" + code + "]"`.
    let (_, v) = read(&fixture("quoted/jakarta.log"), None);
    assert!(v.iter().all(|x| x.source == "jakarta"));
    let codes: Vec<_> = v.iter().map(|x| (x.code, x.reason.clone())).collect();
    assert_eq!(
        codes,
        vec![
            (
                Some(1001),
                Some("Session closed by the container because of the idle timeout.".into())
            ),
            (Some(1000), None),
            (Some(1011), Some("Unexpected server error".into())),
            (Some(1006), None),
        ]
    );
}

#[test]
fn jetty_close_status() {
    // eclipse/jetty.project jetty-websocket/websocket-core-common/.../core/CloseStatus.java:
    //   return String.format("{%04d=%s,%s}", code, codeString(code), reason);
    // Jetty 9 websocket-common/.../CloseInfo.java: String.format("CloseInfo[code=%d,reason=%s]", ...)
    let (_, v) = read(&fixture("quoted/jetty.log"), None);
    let got: Vec<_> = v.iter().map(|x| (x.code, x.ending.clone())).collect();
    assert_eq!(
        got,
        vec![
            (Some(1001), Some("announced".into())),
            (Some(1000), Some("normal".into())),
            (Some(1006), Some("abnormal".into())),
            (Some(1001), Some("announced".into())),
        ]
    );
    assert_eq!(v[0].reason.as_deref(), Some("Container being shut down"));
    assert_eq!(v[1].reason, None);
}

#[test]
fn browser_console_failed_is_1006() {
    // Chromium, third_party/blink/renderer/modules/websockets/websocket_channel_impl.cc,
    // WebSocketChannelImpl::Fail():
    //   "WebSocket connection to '" + url_.ElidedString() + "' failed: " + reason
    // (read in youtube/cobalt's copy of that file). Reasons of connections that never
    // opened are not sessions: "Error during WebSocket handshake: ..." and "Connection
    // closed before receiving a handshake response" (net/websockets/
    // websocket_basic_handshake_stream.cc), "Error in connection establishment:
    // net::ERR_..." (net/websockets/websocket_stream.cc), "Insufficient resources"
    // (websocket_channel_impl.cc, Connect()), "WebSocket is closed before the connection
    // is established." (blink dom_websocket.cc). "Could not decode a text frame as UTF-8."
    // is FailAsError() on an open connection (websocket_channel_impl.cc,
    // ConsumeDataFrame): a session the browser ends with 1006.
    let (r, v) = read(&fixture("quoted/browser.log"), None);
    assert_eq!(r.files[0].format, Some(LogFormat::Browser));
    assert_eq!(v.len(), 2, "only the open connection and the empty reason");
    assert_eq!(r.files[0].unmatched_lines, 5, "five never opened");
    assert_eq!(
        brief(&v[0]),
        b(
            1006,
            Some("Could not decode a text frame as UTF-8."),
            "abnormal",
            None,
            None,
            None,
            None
        )
    );
    assert_eq!(v[0].source, "browser");
    // "failed: " with nothing after: Chromium versions whose OnFailure() drops the network
    // error print this for refused connections too, so whether it had opened is not
    // known; it is counted as the 1006 the page saw (see text.rs).
    assert_eq!((v[1].code, v[1].reason.as_deref()), (Some(1006), None));
}

#[test]
fn aws_api_gateway_disconnect_events() {
    // Layout of the Lambda `$disconnect` event from the AWS API Gateway Developer Guide
    // ("Manage connected users and client apps: $connect and $disconnect routes",
    // "Configure logging for WebSocket APIs": $context.disconnectStatusCode,
    // $context.disconnectReason, $context.connectionId, $context.connectedAt,
    // $context.requestTimeEpoch, $context.identity.sourceIp) and of aws-lambda-rust-runtime
    // lambda-events/src/fixtures/example-apigw-websocket-request-disconnect-route.json.
    let (r, v) = read(&fixture("quoted/aws_apigw_disconnect.jsonl"), None);
    let f = &r.files[0];
    assert_eq!(f.format, Some(LogFormat::AwsApigw));
    assert_eq!(f.records, 4);
    // The `$connect` event is a line of the format, not a close.
    assert_eq!(
        (f.unmatched_lines, f.not_close_events),
        (0, 1),
        "the $connect event"
    );
    assert_eq!(f.half_matched.len(), 1);
    assert_eq!(f.half_matched[0].0, 4);
    assert!(
        f.half_matched[0].1.contains("disconnectStatusCode"),
        "{:?}",
        f.half_matched
    );
    // `<file>:<the log's id>`: unique across files and runs.
    assert_eq!(
        v[0].session_id,
        format!("{}:TWmeqdOQoAMCLHw=", f.path.display())
    );
    assert_eq!(
        brief(&v[0]),
        b(
            1001,
            Some("Going away"),
            "announced",
            None,
            None,
            None,
            None
        )
    );
    assert_eq!(v[0].client_ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(v[0].duration, Some(5.0));
    assert_eq!(v[0].start, Some(1_795_428_000_000_000_000));
    assert_eq!(v[1].ending.as_deref(), Some("no_status"));
    // access-log line with $context variables at top level, as strings, "-" for none
    assert_eq!(
        brief(&v[2]),
        b(1006, None, "abnormal", None, None, None, None)
    );
    assert_eq!(v[2].client_ip.as_deref(), Some("198.51.100.4"));
    assert_eq!(v[2].duration, Some(7.0));
    // Line 6: the `$disconnect` event of aws-lambda-rust-runtime PR #816 (lambda-events/
    // src/fixtures/example-apigw-websocket-request-disconnect-route.json), values as
    // third-party tests copy it (the fixture file itself was not readable here):
    // disconnectStatusCode 1005, "Client-side close frame status not set",
    // connectedAt 1707503007396, requestTimeEpoch 1707503008941, sourceIp 192.0.2.1.
    // `<file>:<the log's id>`: unique across files and runs.
    assert_eq!(v[3].session_id, format!("{}:AAAA1234=", f.path.display()));
    assert_eq!(
        brief(&v[3]),
        b(
            1005,
            Some("Client-side close frame status not set"),
            "no_status",
            None,
            None,
            None,
            None
        )
    );
    assert_eq!(v[3].client_ip.as_deref(), Some("192.0.2.1"));
    assert_eq!(v[3].start, Some(1_707_503_007_396_000_000));
    assert_eq!(v[3].end, Some(1_707_503_008_941_000_000));
    assert_eq!(v[3].duration, Some(1.545));
}

#[test]
fn nginx_request_time_and_combined() {
    // nginx log_format: '$remote_addr - $remote_user [$time_local] "$request" $status
    // $body_bytes_sent "$http_referer" "$http_user_agent" $request_time', i.e. the
    // predefined `combined` format of https://nginx.org/en/docs/http/ngx_http_log_module.html
    // plus $request_time. The lines are made up in that layout.
    let (r, v) = read(&fixture("quoted/nginx_timed.log"), None);
    assert_eq!(r.files[0].format, Some(LogFormat::Nginx));
    let f = &r.files[0];
    assert_eq!((f.unmatched_lines, f.not_close_events), (0, 1), "the 200");
    assert_eq!(v.len(), 2);
    assert_eq!((v[0].code, v[0].ending.as_deref()), (None, None));
    assert_eq!(v[0].duration, Some(300.004));
    assert_eq!(v[0].client_ip.as_deref(), Some("192.0.2.10"));
    assert_eq!(v[0].end.unwrap() - v[0].start.unwrap(), 300_004_000_000);
    assert_eq!(v[1].duration, Some(61.25));
    let (_, v) = read(&fixture("quoted/nginx_combined.log"), None);
    assert_eq!((v.len(), v[0].duration), (1, None));
}

#[test]
fn aws_alb_ws_entries() {
    // The example entries of "Access logs for your Application Load Balancer"
    // (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html):
    // "HTTP entry", "WebSockets entry", "Secured WebSockets entry", whole lines as the
    // current page prints them (with the TID_ field; also in vectordotdev/vrl
    // src/stdlib/parse_aws_alb_log.rs). The page says that for WebSockets `time` is when
    // the connection closed; request_creation_time is when the request arrived.
    // Line 4: the page's older "WebSockets entry" (2016-08-10, before
    // request_creation_time existed), as log parsers' test suites keep it.
    let (r, v) = read(&fixture("quoted/alb.log"), None);
    assert_eq!(r.files[0].format, Some(LogFormat::AwsAlb));
    assert_eq!(v.len(), 3);
    let f = &r.files[0];
    assert_eq!(
        (f.unmatched_lines, f.not_close_events),
        (0, 1),
        "the http entry"
    );
    assert!(r.files[0].half_matched.is_empty());
    // 2018-07-02T22:23:00.186641Z - 2018-07-02T22:22:48.364000Z
    assert_eq!(v[0].duration, Some(11.822641));
    assert_eq!(v[0].end, Some(1_530_570_180_186_641_000));
    assert_eq!(v[0].start, Some(1_530_570_168_364_000_000));
    assert_eq!(v[0].client_ip.as_deref(), Some("10.0.0.140"));
    assert_eq!(v[1].duration, Some(11.822641));
    assert_eq!(
        v[2].duration, None,
        "no request_creation_time in 2016 entries"
    );
    assert_eq!(v[2].end, Some(1_470_789_128_923_954_000));
    assert!(v.iter().all(|x| x.code.is_none() && x.ending.is_none()));
}

#[test]
fn traefik_101_with_duration_ns() {
    // Traefik access log JSON fields: the map keys of traefik's
    // pkg/middlewares/accesslog/logdata.go (DownstreamStatus, Duration in ns, StartUTC,
    // ClientAddr, RequestHost, RequestPath, ServiceAddr, request_User-Agent), written by
    // `accessLog.format: json` (https://doc.traefik.io/traefik/observability/access-logs/).
    // The lines are made up in that layout.
    let (r, v) = read(&fixture("quoted/traefik.jsonl"), None);
    assert_eq!(r.files[0].format, Some(LogFormat::Traefik));
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].duration, Some(125.0));
    assert_eq!(v[0].client_ip.as_deref(), Some("192.0.2.44"));
    assert_eq!(v[0].code, None);
}

// ---- Generic JSON with --map ------------------------------------------------------------

fn tmp(name: &str, data: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("logs-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

#[test]
fn json_lines_with_a_nested_field_map() {
    let p = tmp(
        "app.jsonl",
        br#"{"ts":"2026-11-22T10:00:00Z","conn":{"id":"c1","peer":"10.1.2.3:5555"},"close":{"code":1012,"why":"deploy"},"dur":12.5}
{"ts":1795428000123,"conn":{"id":"c2"},"close":{"code":"1000"}}
{"ts":"2026-11-22T10:00:01Z","close":{"code":"n/a"}}
{"ts":"2026-11-22T10:00:02Z","msg":"unrelated"}
not json at all
"#,
    );
    let map = FieldMap::parse(
        "code=close.code,reason=close.why,time=ts,session=conn.id,peer=conn.peer,duration=dur",
    )
    .unwrap();
    let r = read_logs(
        &[p],
        &LogOptions {
            map: Some(map),
            ..Default::default()
        },
    );
    let v = rows(&r);
    let f = &r.files[0];
    assert_eq!(f.format, Some(LogFormat::Json));
    assert_eq!((f.records, f.unmatched_lines), (2, 2));
    assert_eq!(f.half_matched.len(), 1);
    assert_eq!(f.half_matched[0].0, 3);
    // `<file>:<the log's id>`: unique across files and runs.
    assert_eq!(v[0].session_id, format!("{}:c1", f.path.display()));
    assert_eq!(
        brief(&v[0]),
        b(1012, Some("deploy"), "announced", None, None, None, None)
    );
    assert_eq!(v[0].client_ip.as_deref(), Some("10.1.2.3"));
    assert_eq!(v[0].end.unwrap() - v[0].start.unwrap(), 12_500_000_000);
    assert_eq!(v[1].end, Some(1_795_428_000_123_000_000));
    assert_eq!(v[1].ending.as_deref(), Some("normal"));
}

// ---- Files: folders, globs, compression, captures ----------------------------------------

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn mixed_folder_with_gz_zst_and_a_capture() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("logs-mixed");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub/deeper")).unwrap();
    let go = std::fs::read(fixture("go/go-websocket.log")).unwrap();
    let py = std::fs::read(fixture("python-websockets/websockets-15.0.1.log")).unwrap();
    let alb = std::fs::read(fixture("quoted/alb.log")).unwrap();
    std::fs::write(dir.join("go.log.gz"), gz(&go)).unwrap();
    std::fs::write(
        dir.join("sub/py.log.zst"),
        zstd::encode_all(&py[..], 3).unwrap(),
    )
    .unwrap();
    // a compressed log with a misleading name: detected by magic
    std::fs::write(dir.join("sub/deeper/alb.txt"), gz(&alb)).unwrap();
    // a pcap and a gzipped pcapng in the folder: skipped
    let pcap = [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    std::fs::write(dir.join("cap.pcap"), pcap).unwrap();
    std::fs::write(
        dir.join("sub/cap.pcapng.gz"),
        gz(&[0x0a, 0x0d, 0x0d, 0x0a, 1, 2, 3, 4]),
    )
    .unwrap();
    assert!(!is_log(&dir.join("cap.pcap")));
    assert!(!is_log(&dir.join("sub/cap.pcapng.gz")));
    assert!(is_log(&dir.join("go.log.gz")));
    assert!(is_log(&dir.join("sub/py.log.zst")));

    let (r, v) = read(&dir, None);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.files.len(), 3);
    let fmts: Vec<_> = r.files.iter().map(|f| f.format).collect();
    assert_eq!(
        fmts,
        vec![
            Some(LogFormat::Gorilla),
            Some(LogFormat::AwsAlb),
            Some(LogFormat::PythonWebsockets)
        ]
    );
    assert_eq!(v.iter().filter(|x| x.source == "aws_alb").count(), 3);
    assert_eq!(v.iter().filter(|x| x.source == "gorilla").count(), 13);
    // capture column = the file
    let caps = strs(&r.sessions, "capture").unwrap();
    assert!(caps[0].as_deref().unwrap().ends_with("go.log.gz"));

    // a glob
    let g = dir.join("**/*.zst");
    let (r, _) = read(&g, None);
    assert_eq!(r.files.len(), 1);
    // a missing path is a problem, not a panic
    let (r, v) = read(&dir.join("nope.log"), None);
    assert_eq!((r.problems.len(), v.len()), (1, 0));
}

#[test]
fn unmatched_lines_are_counted_and_long_lines_cut() {
    let mut data = b"hello\n\nworld\nwebsocket: close 1001 (going away)\n".to_vec();
    data.extend(std::iter::repeat_n(b'x', MAX_LINE * 3));
    data.extend_from_slice(b"\n2026-11-22T10:00:00Z websocket: close 1000 (normal)\n");
    let (r, v) = read(&tmp("unmatched.log", &data), None);
    let f = &r.files[0];
    assert_eq!(
        (f.records, f.unmatched_lines, f.long_lines, f.lines),
        (2, 3, 1, 6)
    );
    assert_eq!(v[1].end, Some(1_795_341_600_000_000_000));
}

#[test]
fn the_frame_has_exactly_the_session_schema() {
    let tpl = sessions_frame(&[]).unwrap();
    for f in [
        "go/go-websocket.log",
        "quoted/alb.log",
        "quoted/aws_apigw_disconnect.jsonl",
        "quoted/nginx_timed.log",
    ] {
        let (r, _) = read(&fixture(f), None);
        assert_eq!(r.sessions.schema(), tpl.schema(), "{f}");
    }
    let (r, _) = read(&tmp("empty.log", b""), None);
    assert_eq!(r.sessions.schema(), tpl.schema());
    assert_eq!(r.sessions.height(), 0);
    // and it stacks under capture sessions
    let mut all = tpl.clone();
    let (r, _) = read(&fixture("go/go-websocket.log"), None);
    all.vstack_mut(&r.sessions).unwrap();
    assert_eq!(all.height(), 21);
}

#[test]
fn format_names_are_stable() {
    let names: Vec<&str> = LogFormat::ALL.iter().map(|f| f.as_str()).collect();
    assert_eq!(
        names,
        [
            "json",
            "aws_apigw",
            "traefik",
            "gorilla",
            "coder_websocket",
            "python_websockets",
            "spring",
            "jakarta",
            "jetty",
            "tungstenite",
            "mitmproxy",
            "browser",
            "nginx",
            "aws_alb",
            "nginx_error",
            "haproxy"
        ]
    );
    use clap::ValueEnum;
    for f in LogFormat::ALL {
        assert_eq!(
            f.to_possible_value().unwrap().get_name(),
            f.as_str(),
            "clap name of {f:?}"
        );
        assert_eq!(LogFormat::from_name(f.as_str()), Some(*f));
    }
}

#[test]
fn random_bytes_never_panic() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let seeds: Vec<Vec<u8>> = [
        "python-websockets/websockets-15.0.1.log",
        "go/go-websocket.log",
        "quoted/alb.log",
        "quoted/aws_apigw_disconnect.jsonl",
        "quoted/traefik.jsonl",
        "quoted/spring.log",
    ]
    .iter()
    .map(|f| std::fs::read(fixture(f)).unwrap())
    .collect();
    let mut formats: Vec<Option<LogFormat>> = vec![None];
    formats.extend(LogFormat::ALL.iter().copied().map(Some));
    for i in 0..60 {
        let mut data: Vec<u8> = if i % 3 == 0 {
            (0..rng.random_range(0..4000))
                .map(|_| rng.random())
                .collect()
        } else {
            // mutate a real log: flip bytes, splice digits and quotes
            let mut d = seeds[i % seeds.len()].clone();
            for _ in 0..rng.random_range(1..200) {
                let k = rng.random_range(0..d.len());
                d[k] = *[b'"', b'{', b'}', b'9', b'\\', b'\n', 0xff, b' ', b'(']
                    .get(rng.random_range(0..9))
                    .unwrap();
            }
            d
        };
        if i % 7 == 0 {
            data = gz(&data);
            data.truncate(data.len() / 2); // a corrupt gzip stream
        }
        let p = tmp(&format!("random-{i}.log"), &data);
        for f in &formats {
            let (r, _) = read(&p, *f);
            assert_eq!(r.sessions.schema(), sessions_frame(&[]).unwrap().schema());
        }
    }
}

// ---- Apache Tomcat 10.1: real output (fixtures/logs/gen/tomcat) --------------------------

#[test]
fn tomcat_close_reasons_with_onelineformatter_times() {
    // Embedded Tomcat 10.1.60 (Debian's libtomcat10-java) and its own WebSocket client;
    // both endpoints log `CloseReason.toString()` through JULI's OneLineFormatter:
    // "22-Nov-2026 03:56:06.912 INFO [http-nio-18790-exec-1] Gen$Server.onClose onClose
    //  server session 0 CloseReason: code [1000], reason [bye]"
    let (r, v) = read(&fixture("tomcat/tomcat-10.1.log"), None);
    let f = &r.files[0];
    assert_eq!(f.format, Some(LogFormat::Jakarta));
    assert_eq!((f.records, f.unmatched_lines, f.merged), (12, 0, 0));
    // dd-MMM-yyyy HH:mm:ss.SSS, no zone: UTC
    assert_eq!(v[0].end, Some(1_795_319_766_912_000_000));
    assert_eq!(
        brief(&v[0]),
        b(1000, Some("bye"), "normal", None, None, None, None)
    );
    // `reason []` and `reason [null]` are both no reason
    assert_eq!((v[2].code, v[2].reason.as_deref()), (Some(1001), None));
    assert_eq!((v[3].code, v[3].reason.as_deref()), (Some(1001), None));
    let mut codes: Vec<u16> = v.iter().filter_map(|x| x.code).collect();
    codes.sort();
    assert_eq!(
        codes,
        [1000, 1000, 1001, 1001, 1001, 1001, 1011, 1011, 4000, 4000, 4001, 4001]
    );
    // The server's and the client's line for one close are two observations in the
    // application's voice, a millisecond apart with the same code: never merged.
    assert_eq!(v[0].code, v[1].code);
    assert_ne!(v[0].session_id, v[1].session_id);
}

// ---- mitmproxy times: the log clock and the file's date ----------------------------------

fn with_mtime(name: &str, from: &str, mtime_utc: &str) -> PathBuf {
    let p = tmp(name, &std::fs::read(fixture(from)).unwrap());
    let t = chrono::DateTime::parse_from_rfc3339(mtime_utc).unwrap();
    let st = std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.timestamp() as u64);
    std::fs::File::options()
        .write(true)
        .open(&p)
        .unwrap()
        .set_modified(st)
        .unwrap();
    p
}

#[test]
fn mitmproxy_close_lines_take_the_log_clock_and_the_file_date() {
    // mitmproxy 11.0.2 `log.py` MitmFormatter: "[%s]" of `formatTime` with
    // default_time_format "%H:%M:%S" and default_msec_format "%s.%03d" (local time, no
    // date); the dumper's `websocket_end` prints the close line with no time at all.
    // "[01:53:18.376][127.0.0.1:57770] server disconnect 127.0.0.1:18765"
    // "WebSocket connection closed by client: 1000 bye"
    let p = with_mtime(
        "mitm-a.log",
        "mitmproxy/mitmdump.log",
        "2026-11-22T02:00:00Z",
    );
    let (_, v) = read(&p, None);
    assert_eq!(v.len(), 6);
    assert_eq!(v[0].end, Some(1_795_312_398_376_000_000)); // 2026-11-22 01:53:18.376
                                                           // "[01:53:19.539][127.0.0.1:57816] server disconnect" before ABNORMAL_CLOSURE
    assert_eq!(v[5].end, Some(1_795_312_399_539_000_000));
    // Written before 01:53 on the 22nd: the clock is from the day before.
    let p = with_mtime(
        "mitm-b.log",
        "mitmproxy/mitmdump.log",
        "2026-11-22T01:00:00Z",
    );
    let (_, v) = read(&p, None);
    assert_eq!(
        v[0].end,
        Some(1_795_312_398_376_000_000 - 86_400_000_000_000)
    );
}

#[test]
fn mitmproxy_clock_rolls_over_midnight() {
    let log = b"[23:59:59.900][10.0.0.1:1] server disconnect 10.0.0.2:80\n\
WebSocket connection closed by client: 1000 a\n\
[00:00:00.100][10.0.0.1:2] server disconnect 10.0.0.2:80\n\
WebSocket connection closed by server: 1001 b\n";
    let p = tmp("mitm-midnight.log", log);
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_312_800); // 2026-11-22T02:00:00Z
    std::fs::File::options()
        .write(true)
        .open(&p)
        .unwrap()
        .set_modified(t)
        .unwrap();
    let (_, v) = read(&p, None);
    let day = 1_795_305_600_000_000_000; // 2026-11-22T00:00:00Z
    assert_eq!(v[0].end, Some(day - 100_000_000));
    assert_eq!(v[1].end, Some(day + 100_000_000));
}

// ---- One close, one row: library and application lines merged ----------------------------

#[test]
fn tungstenite_library_and_app_lines_are_one_session() {
    // Each side logs tungstenite::protocol's own `Received close frame: Some(CloseFrame
    // {..})` and then the app's `got: Close(Some(CloseFrame {..}))`: one row per side.
    let (r, v) = read(&fixture("tungstenite/tungstenite-0.27.log"), None);
    let f = &r.files[0];
    // 8 closes seen by both sides (16 rows, 16 library lines merged away) and the reset
    assert_eq!(f.merged, 16);
    assert_eq!(v.iter().filter(|x| x.code == Some(1000)).count(), 2);
    assert_eq!(v.iter().filter(|x| x.code == Some(4001)).count(), 2);
    assert_eq!(v.len(), 17);
}

#[test]
fn spring_decorator_and_handler_lines_merge_by_session_id() {
    // Spring's LoggingWebSocketHandlerDecorator.afterConnectionClosed:
    //   logger.debug(session + " closed with " + closeStatus);
    // (spring-websocket .../socket/handler/LoggingWebSocketHandlerDecorator.java), with
    // AbstractWebSocketSession.toString(): getClass().getSimpleName() + "[id=" + getId() +
    // ", uri=" + getUri() + "]", and an application handler that logs the same status.
    // Lines in Spring Boot's default console layout.
    let log = "\
2026-11-22 10:00:01.120 DEBUG 4242 --- [nio-8080-exec-3] o.s.w.s.h.LoggingWebSocketHandlerDecorator : StandardWebSocketSession[id=0f1e, uri=ws://localhost:8080/chat] closed with CloseStatus[code=1001, reason=null]
2026-11-22 10:00:01.121  INFO 4242 --- [nio-8080-exec-3] c.e.chat.ChatHandler : Connection closed: StandardWebSocketSession[id=0f1e, uri=ws://localhost:8080/chat] CloseStatus[code=1001, reason=null]
2026-11-22 10:00:01.122 DEBUG 4242 --- [nio-8080-exec-4] o.s.w.s.h.LoggingWebSocketHandlerDecorator : StandardWebSocketSession[id=77aa, uri=ws://localhost:8080/chat] closed with CloseStatus[code=1001, reason=null]
2026-11-22 10:00:01.123  INFO 4242 --- [nio-8080-exec-4] c.e.chat.ChatHandler : Connection closed: StandardWebSocketSession[id=77aa, uri=ws://localhost:8080/chat] CloseStatus[code=1001, reason=null]
2026-11-22 10:00:01.124  INFO 4242 --- [nio-8080-exec-5] c.e.chat.ChatHandler : Connection closed: StandardWebSocketSession[id=9c3d, uri=ws://localhost:8080/chat] CloseStatus[code=1001, reason=null]
2026-11-22 10:00:01.125 DEBUG 4242 --- [nio-8080-exec-6] o.s.w.s.h.LoggingWebSocketHandlerDecorator : StandardWebSocketSession[id=b0b0, uri=ws://localhost:8080/chat] closed with CloseStatus[code=1001, reason=null]
";
    let (r, v) = read(&tmp("spring-merge.log", log.as_bytes()), None);
    let f = &r.files[0];
    // 0f1e and 77aa: library + handler line each; 9c3d: handler only; b0b0: library only
    assert_eq!((f.records, f.merged), (4, 2));
    let ids: Vec<&str> = v.iter().map(|x| x.session_id.as_str()).collect();
    let file = f.path.display();
    assert_eq!(
        ids,
        ["0f1e", "77aa", "9c3d", "b0b0"].map(|id| format!("{file}:{id}"))
    );
    assert!(v.iter().all(|x| x.code == Some(1001)));
}

// ---- Jetty 9.4: real output (fixtures/logs/gen/jetty9) -----------------------------------

#[test]
fn jetty9_close_callbacks_once_per_session() {
    // Jetty 9.4.57 (Debian's libjetty9-extra-java) server and client, DEBUG on
    // org.eclipse.jetty.websocket.common.WebSocketSession, StdErrLog layout:
    // "2026-11-22 04:28:49.650:DBUG:oejwc.WebSocketSession:qtp1717159510-12:
    //  callApplicationOnClose(CloseInfo[code=1000,reason=bye])"
    // WebSocketSession.callApplicationOnClose() logs before its onCloseCalled guard
    // (websocket-common .../common/WebSocketSession.java), so the same thread logs it
    // again for the disconnect (1006 Disconnected): those repeats are dropped.
    // `close(CloseInfo[..])` (the side asking to close) is not a record.
    // Gen.java's plan: six sessions (client closes 1000 "bye", 1001, 4000 "app says no";
    // server closes 1001 "Going away", 1011, 4001 from onWebSocketConnect), and each
    // side's application is handed one close: twelve rows.
    let (r, v) = read(&fixture("jetty/jetty-9.4.log"), None);
    let f = &r.files[0];
    assert_eq!(f.format, Some(LogFormat::Jetty));
    let got: Vec<(u16, Option<&str>)> = v
        .iter()
        .map(|x| (x.code.unwrap(), x.reason.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (1000, Some("bye")), // server, then client
            (1000, Some("bye")),
            (1001, None),
            (1001, None),
            // (not a row: the client's third callback, `main: callApplicationOnClose(
            // CloseInfo[code=1006,reason=ClosedChannelException])`, from the thread that
            // asked for the 1001 that the client was already handed)
            (4000, Some("app says no")),
            (4000, Some("app says no")),
            // closing inside onWebSocketConnect: Jetty hands the server application 1006
            // "Failed to open local endpoint"; the client gets the code sent
            (1006, Some("Failed to open local endpoint")),
            (1001, Some("Going away")),
            (1006, Some("Failed to open local endpoint")),
            (1011, None),
            (1006, Some("Failed to open local endpoint")),
            (4001, None),
        ]
    );
    // 25 callApplicationOnClose lines: 12 rows, 13 repeats dropped
    assert_eq!(f.merged, 13, "repeated callbacks dropped");
    assert_eq!(f.half_matched_total, 0);
}

// ---- Lines, not files (issue 16) ---------------------------------------------------------

/// The real nginx lines of `quoted/nginx_combined.log` and `quoted/nginx_timed.log` (the
/// `combined` format, a 200 and three 101 upgrades).
fn nginx_lines() -> Vec<String> {
    ["quoted/nginx_combined.log", "quoted/nginx_timed.log"]
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(fixture(f))
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `log` with access lines mixed in (seeded): one right after the first line (the case
/// that hid every close), then 0 to 3 before each other line. Returns the text and how
/// many access lines went in.
fn with_access_lines(log: &str, seed: u64) -> (String, u64) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let access = nginx_lines();
    let mut out = String::new();
    let mut added = 0;
    for (i, line) in log.lines().enumerate() {
        let n = if i == 1 { 1 } else { rng.random_range(0..4) };
        for _ in 0..n {
            out.push_str(&access[rng.random_range(0..access.len())]);
            out.push('\n');
            added += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    (out, added)
}

fn sorted_briefs(v: &[Row]) -> Vec<(String, Brief)> {
    let mut b: Vec<_> = v.iter().map(|r| (r.source.clone(), brief(r))).collect();
    b.sort_by(|x, y| format!("{x:?}").cmp(&format!("{y:?}")));
    b
}

#[test]
fn access_lines_in_a_library_log_never_hide_its_close_lines() {
    // Each real library log, with real nginx lines mixed in (the 101s among them): every
    // close of the log is still found, once, and the access lines are counted as lines of
    // nginx that are not closes (an application log's access lines are not sessions).
    for (i, f) in [
        "go/go-websocket.log",
        "tungstenite/tungstenite-0.27.log",
        "python-websockets/websockets-15.0.1.log",
        "python-websockets/websockets-9.1.log",
        "jetty/jetty-9.4.log",
        "tomcat/tomcat-10.1.log",
        "quoted/spring.log",
        "quoted/browser.log",
    ]
    .iter()
    .enumerate()
    {
        let pure_text = std::fs::read_to_string(fixture(f)).unwrap();
        let (mixed_text, added) = with_access_lines(&pure_text, 16 + i as u64);
        let name = f.replace('/', "-");
        let (pure, pv) = read(&tmp(&format!("pure-{name}"), pure_text.as_bytes()), None);
        let (mixed, mv) = read(&tmp(&format!("mixed-{name}"), mixed_text.as_bytes()), None);
        let (p, m) = (&pure.files[0], &mixed.files[0]);
        assert!(m.records > 0, "{f}: no close found");
        assert_eq!(sorted_briefs(&mv), sorted_briefs(&pv), "{f}: rows");
        assert!(
            mv.iter().all(|r| r.source != "nginx"),
            "{f}: a row from an access line"
        );
        assert_eq!((m.records, m.merged), (p.records, p.merged), "{f}");
        assert_eq!(m.unmatched_lines, p.unmatched_lines, "{f}");
        assert_eq!(m.not_close_events, p.not_close_events + added, "{f}");
        assert_eq!(m.lines_by_format.get("nginx"), Some(&added), "{f}");
        assert_eq!(m.closes_by_format.get("nginx"), None, "{f}");
        assert_eq!(m.format, p.format, "{f}");
    }
    // The counts the per-library tests check against what the libraries reported.
    let (go, _) = with_access_lines(
        &std::fs::read_to_string(fixture("go/go-websocket.log")).unwrap(),
        7,
    );
    let (r, v) = read(&tmp("mixed-go.log", go.as_bytes()), None);
    assert_eq!(r.files[0].format, Some(LogFormat::Gorilla));
    assert_eq!(v.iter().filter(|x| x.source == "gorilla").count(), 13);
    let (tung, _) = with_access_lines(
        &std::fs::read_to_string(fixture("tungstenite/tungstenite-0.27.log")).unwrap(),
        8,
    );
    let (r, v) = read(&tmp("mixed-tung.log", tung.as_bytes()), None);
    // 8 closes seen by both sides, library and app line merged, and the reset.
    assert_eq!((v.len(), r.files[0].merged), (17, 16));
}

#[test]
fn an_access_log_alone_still_gives_its_sessions() {
    let text = nginx_lines().join("\n");
    let (r, v) = read(&tmp("access-only.log", text.as_bytes()), None);
    let f = &r.files[0];
    assert_eq!(f.format, Some(LogFormat::Nginx));
    // 3 upgrades answered 101 and one 200
    assert_eq!(
        (f.records, f.not_close_events, f.unmatched_lines),
        (3, 1, 0)
    );
    assert!(v.iter().all(|r| r.source == "nginx" && r.code.is_none()));
}

/// JSON lines as a service writes them: its HTTP request lines carry the HTTP status in
/// the same `code` field as its WebSocket closes; other lines carry no code.
const SERVICE_JSONL: &str = r#"{"time":"2026-11-22T10:00:00Z","level":"info","msg":"http request","method":"GET","path":"/api/items","code":200,"duration":0.012}
{"time":"2026-11-22T10:00:01Z","level":"info","msg":"websocket closed","session":"a1","code":1006,"reason":"","peer":"198.51.100.7:50000"}
{"time":"2026-11-22T10:00:02Z","level":"warn","msg":"http request","method":"GET","path":"/missing","code":404,"duration":0.001}
{"time":"2026-11-22T10:00:03Z","level":"info","msg":"query users took 23 ms"}
{"time":"2026-11-22T10:00:04Z","level":"error","msg":"http request","method":"POST","path":"/pay","code":500,"duration":0.200}
{"time":"2026-11-22T10:00:05Z","level":"info","msg":"websocket closed","session":"a2","code":1001,"reason":"going away","peer":"198.51.100.8:50001"}
{"time":"2026-11-22T10:00:06Z","level":"info","msg":"invoice 1006 paid","invoice":1006}
{"time":"2026-11-22T10:00:07Z","level":"info","msg":"websocket closed","session":"a3","code":"4001","reason":"kicked","peer":"198.51.100.9:50002"}
"#;

#[test]
fn json_http_request_lines_are_counted_never_rows() {
    let p = tmp("service.jsonl", SERVICE_JSONL.as_bytes());
    // Default field names, no --map, no --log-format.
    let (r, v) = read(&p, None);
    let f = &r.files[0];
    assert_eq!(f.format, Some(LogFormat::Json));
    let mut codes: Vec<_> = v.iter().map(|r| r.code).collect();
    codes.sort();
    assert_eq!(codes, [Some(1001), Some(1006), Some(4001)]);
    // 200, 404, 500: lines of the format, not closes; the two lines without a code field
    // are nobody's.
    assert_eq!(
        (f.records, f.not_close_events, f.unmatched_lines),
        (3, 3, 2)
    );
    assert_eq!(f.lines_by_format.get("json"), Some(&6));
    assert_eq!(f.closes_by_format.get("json"), Some(&3));
    // (`<file>:<the log's id>`.)
    let a2 = v.iter().find(|r| r.session_id.ends_with(":a2")).unwrap();
    assert_eq!(a2.reason.as_deref(), Some("going away"));
    assert_eq!(a2.client_ip.as_deref(), Some("198.51.100.8"));
}

fn wsaudit(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_wsaudit"))
        .args(args)
        .output()
        .unwrap()
}

fn session_rows(path: &Path) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v.as_array().unwrap().clone()
}

#[test]
fn map_alone_reads_json_lines_in_a_folder_without_log_format() {
    // The service's log under other field names, in a folder next to a capture: `--map`
    // alone reads it; the HTTP statuses in the mapped code field are not sessions.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("logs-map-folder");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let renamed = SERVICE_JSONL
        .replace("\"code\"", "\"status\"")
        .replace("\"session\"", "\"conn\"")
        .replace("\"peer\"", "\"remote\"");
    std::fs::write(dir.join("service.jsonl"), renamed).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo.pcap"),
        dir.join("demo.pcap"),
    )
    .unwrap();
    // (Outside the folder being read: an output inside it is refused.)
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("logs-map-folder-sessions.json");
    let dir_s = dir.to_str().unwrap();
    for sub in ["analyze", "audit"] {
        let _ = std::fs::remove_file(&out);
        let o = wsaudit(&[
            sub,
            "-q",
            dir_s,
            "--map",
            "code=status,reason=reason,time=time,session=conn,peer=remote",
            "--sessions",
            out.to_str().unwrap(),
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{sub}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let rows = session_rows(&out);
        let mut log: Vec<(String, u64)> = rows
            .iter()
            .filter(|r| r["source"] == "json")
            .map(|r| {
                (
                    // (`<file>:<the log's id>`.)
                    r["session_id"]
                        .as_str()
                        .unwrap()
                        .rsplit(':')
                        .next()
                        .unwrap()
                        .to_string(),
                    r["close_code"].as_u64().unwrap(),
                )
            })
            .collect();
        log.sort();
        assert_eq!(
            log,
            [
                ("a1".into(), 1006),
                ("a2".into(), 1001),
                ("a3".into(), 4001)
            ],
            "{sub}"
        );
        assert!(
            rows.iter()
                .all(|r| ![200, 404, 500].contains(&r["close_code"].as_u64().unwrap_or(0))),
            "{sub}: an HTTP status became a session"
        );
    }
}

/// App lines around Starlette's `WebSocketDisconnect.code` as an application logs them,
/// with its HTTP lines (same words, HTTP statuses) and a traceback between.
const STARLETTE_APP: &str = "INFO:     127.0.0.1:50312 - \"GET /health HTTP/1.1\" 200 OK
2026-11-22 10:00:01,000 INFO chat: websocket disconnected sid=s1 code=1001 reason='going away'
2026-11-22 10:00:02,000 INFO chat: websocket disconnected sid=h1 code=200 reason='http'
Traceback (most recent call last):
  File \"/app/chat.py\", line 42, in endpoint
    data = await ws.receive_text()
starlette.websockets.WebSocketDisconnect: 1006
2026-11-22 10:00:03,000 INFO chat: websocket disconnected sid=s2 code=1006 reason=''
2026-11-22 10:00:04,000 INFO chat: websocket disconnected sid=s3 code=4403 reason='forbidden'
";

const STARLETTE_PATTERN: &str = r"^(?P<time>\S+ \S+) .*websocket disconnected sid=(?P<session>\S+) code=(?P<code>\d+) reason='(?P<reason>[^']*)'";

#[test]
fn pattern_lines_that_hold_no_close_code_are_counted_not_rows() {
    let p = tmp("starlette-app.log", STARLETTE_APP.as_bytes());
    let opts = LogOptions {
        patterns: vec![LinePattern::new(STARLETTE_PATTERN).unwrap()],
        ..Default::default()
    };
    let r = read_logs(&[p], &opts);
    let v = rows(&r);
    let f = &r.files[0];
    let got: Vec<_> = v
        .iter()
        .map(|r| {
            (
                r.source.as_str(),
                // (`<file>:<the log's id>`.)
                r.session_id.rsplit(':').next().unwrap(),
                r.code,
                r.reason.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("pattern", "s1", Some(1001), Some("going away")),
            ("pattern", "s2", Some(1006), None),
            ("pattern", "s3", Some(4403), Some("forbidden")),
        ]
    );
    assert_eq!(v[0].end, Some(1_795_341_601_000_000_000));
    // The code=200 line: matched, not a close. The HTTP line, the traceback: unmatched.
    assert_eq!(
        (f.records, f.not_close_events, f.unmatched_lines),
        (3, 1, 5)
    );
    assert_eq!(f.pattern_lines, [4]);
    assert_eq!(f.lines_by_format.get("pattern"), Some(&4));
    assert_eq!(f.format, None, "no built-in format took a line");
}

#[test]
fn pattern_reads_app_lines_and_refuses_a_pattern_without_code() {
    let log = tmp("starlette-cli.log", STARLETTE_APP.as_bytes());
    let log_s = log.to_str().unwrap();
    for sub in ["analyze", "audit"] {
        // Refused before any input is read, naming the flag and the pattern.
        let bad = r"websocket disconnected sid=(?P<session>\S+) reason='(?P<reason>[^']*)'";
        let o = wsaudit(&[
            sub,
            "-q",
            log_s,
            "--pattern",
            STARLETTE_PATTERN,
            "--pattern",
            bad,
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{sub}: {err}");
        assert!(err.contains("--pattern"), "{sub}: {err}");
        assert!(err.contains(bad), "{sub}: {err}");
        assert!(err.contains("`code`"), "{sub}: {err}");
        let o = wsaudit(&[sub, "-q", log_s, "--pattern", "code=(?P<code>\\d+"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{sub}: {err}");
        assert!(
            err.contains("--pattern: `code=(?P<code>\\d+`"),
            "{sub}: {err}"
        );
        // Read: the three closes, nothing from the HTTP lines.
        let out = tmp(&format!("starlette-{sub}.json"), b"");
        let o = wsaudit(&[
            sub,
            "-q",
            log_s,
            "--pattern",
            STARLETTE_PATTERN,
            "--sessions",
            out.to_str().unwrap(),
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{sub}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let mut got: Vec<(String, u64)> = session_rows(&out)
            .iter()
            .map(|r| {
                (
                    r["source"].as_str().unwrap().to_string(),
                    r["close_code"].as_u64().unwrap(),
                )
            })
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                ("pattern".into(), 1001),
                ("pattern".into(), 1006),
                ("pattern".into(), 4403)
            ],
            "{sub}"
        );
    }
}

#[test]
fn a_pattern_app_line_and_the_library_line_about_its_close_are_one_row() {
    // Spring's LoggingWebSocketHandlerDecorator line (the library's voice, quoted layout of
    // spring.log) and the application's own line about the same close, read by a pattern.
    let text = "2026-11-22 10:00:01.100 DEBUG 4242 --- [nio-8080-exec-3] o.s.w.s.h.LoggingWebSocketHandlerDecorator : StandardWebSocketSession[id=0f1e, uri=ws://localhost:8080/chat] closed with CloseStatus[code=1001, reason=Going away]
2026-11-22 10:00:01.101 INFO 4242 --- [nio-8080-exec-3] c.e.chat.Metrics : ws session 0f1e ended status=1001 why=Going away
2026-11-22 10:00:02.000 INFO 4242 --- [nio-8080-exec-4] c.e.chat.Metrics : ws session 9abc ended status=1000 why=bye
";
    let p = tmp("spring-pattern.log", text.as_bytes());
    let pattern = r"ws session (?P<session>\S+) ended status=(?P<code>\d+) why=(?P<reason>.*)$";
    let opts = LogOptions {
        patterns: vec![LinePattern::new(pattern).unwrap()],
        ..Default::default()
    };
    let r = read_logs(&[p], &opts);
    let v = rows(&r);
    assert_eq!(r.files[0].merged, 1);
    let got: Vec<_> = v
        .iter()
        .map(|r| {
            (
                r.session_id.rsplit(':').next().unwrap(),
                r.code,
                r.source.as_str(),
            )
        })
        .collect();
    // (`<file>:<the log's id>`.)
    assert_eq!(
        got,
        [
            ("0f1e", Some(1001), "pattern"),
            ("9abc", Some(1000), "pattern")
        ]
    );
}
