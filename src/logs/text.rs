//! Messages of WebSocket libraries inside application logs.
//!
//! Contract: [`parse_any`] tries every library's pattern on one line (a cheap substring
//! test first, then a regex) and returns the first record; [`parse_one`] tries one
//! library's. A line is a record only when it reports how a connection ended; frame-level
//! debug lines (`< CLOSE 1000 (OK)`, `Replying to close with ...`) are not records. Pure
//! functions of the line: no I/O, no allocation sized by the input beyond the line itself,
//! no panic on any input (fuzzed: `fuzz/fuzz_targets/logs_text.rs`).
//!
//! Close codes: every matcher gets its code through one helper, [`close_code`]: an explicit
//! number in the message wins (`1006`, `StatusCode(4001)`, `Library(4001)`,
//! `UNKNOWN_ERROR=4001`); otherwise the library's name for the code is looked up in that
//! library's [`Names`] table (coder/websocket `StatusGoingAway`, tungstenite `Away`, wsproto
//! `GOING_AWAY`); a number that does not fit 16 bits or an unknown name makes the line a
//! half match ([`LineResult::Half`]) that says why.
//!
//! What each message says about sides:
//!
//! - Python `websockets` >= 10: `received A; then sent B` means the peer closed first
//!   (A is the first Close frame, both sides sent one); `sent A; then received B` means
//!   the logging side closed first; `sent A; no close frame received` / `received A; no
//!   close frame sent` are half closes (`handshake_completed` false); `no close frame
//!   received or sent` is 1006 with initiator `none`. Python `websockets` <= 9: `code =
//!   1006 (connection closed abnormally [internal]), no reason` is the code the logging
//!   side observed, nothing about who sent it.
//! - gorilla `websocket: close N ...`, coder/nhooyr `received close frame: status = ...`,
//!   tungstenite `CloseFrame { code: .. }` and Spring/Jakarta/Jetty close statuses are the
//!   code the logging side received or reported: `close_code` is that code; sides are not
//!   known from the message.
//! - Which side the logging process is: when the text before the message names exactly one
//!   of the words `client` or `server` (a logger name like `websockets.server`, a prefix
//!   like `[client]`), it is taken as the logging side's role; then the per-side columns
//!   (`client_close_code`, `server_close_code`, `*_observed_code`) and `initiator` are
//!   filled where the message allows. Otherwise they stay null.
//! - mitmproxy `WebSocket connection closed by client: 1000 bye` names the side that
//!   closed (mitmproxy's dumper prints this form only for 1000, 1001 and 1005); its
//!   `Error in WebSocket connection to ADDR: WebSocket Error: NAME` lines give the code by
//!   wsproto's `CloseReason` name and the server address. These lines carry no time of
//!   their own: the reader takes it from mitmproxy's log lines around them (see
//!   [`mitm_clock`] and `super::read_records`).
//! - Browser (Chromium) `WebSocket connection to 'URL' failed: REASON` is 1006
//!   (`abnormal`) when the connection had opened. Chromium prints the same prefix for
//!   connections that never opened; those REASONs are not sessions and are left unmatched
//!   (see [`NOT_A_SESSION`]).
//!
//! A line of a library that is not how a session ended is [`LineResult::NotClose`]
//! (Jetty 9's `close(CloseInfo[..])` request); a Jetty 10 `{N=NAME,reason}` whose N is
//! not a close code (1000-4999) is no match (Java prints maps the same way).
//!
//! Voice (for merging duplicates, `super::merge`): a record is [`Voice::Library`] when the
//! line is the library's own log message about the close (tungstenite's `Received close
//! frame: ...` debug line, Spring's `LoggingWebSocketHandlerDecorator` `... closed with
//! CloseStatus[...]`, Jetty 9's `callApplicationOnClose(CloseInfo[...])`, a Python
//! `websockets.exceptions.ConnectionClosed*: ...` traceback line), else [`Voice::App`]
//! (the application printed the value). Jetty 9's `close(CloseInfo[...])` (the logging
//! side asking to close) is not a record.
//!
//! A leading timestamp (ISO 8601 / RFC 3339, `2026/11/22 10:00:00` of Go's `log`, Tomcat's
//! `22-Nov-2026 10:00:00.123`; no zone meaning UTC) becomes `end_time`.

use std::sync::LazyLock;

use regex::{Captures, Match, Regex};

use super::{parse_time, split_peer, LineResult, LogFormat, Record, Role, Voice};
use crate::session::Initiator;

fn re(s: &str) -> Regex {
    // The patterns are constants: a failure is a bug caught by every test run.
    Regex::new(s).unwrap_or_else(|e| panic!("bad built-in pattern {s}: {e}"))
}

/// Leading timestamps: ISO 8601 / RFC 3339, Go `log` (`2026/11/22 10:00:00`), Tomcat's
/// `OneLineFormatter` (`22-Nov-2026 10:00:00.123`, its default `dd-MMM-yyyy HH:mm:ss.SSS`).
static TS: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?|\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}(?:\.\d{1,9})?|\d{2}-[A-Z][a-z]{2}-\d{4} \d{2}:\d{2}:\d{2}(?:\.\d{1,9})?)",
    )
});
static CLIENT_WORD: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\bclient\b"));
static SERVER_WORD: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\bserver\b"));

// Python websockets >= 10 (`ConnectionClosed.__str__`, `Close.__str__` = `CODE (EXPL) REASON`).
static PY_BOTH: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(received|sent) (\d+) \(([^()]*)\)(?: (.*?))?; then (sent|received) (\d+) \(([^()]*)\)(?: (.*?))?\s*$",
    )
});
static PY_HALF: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\b(sent|received) (\d+) \(([^()]*)\)(?: (.*?))?; no close frame (received|sent)\s*$")
});
static PY_NONE: LazyLock<Regex> = LazyLock::new(|| re(r"\bno close frame received or sent\b"));
// Python websockets <= 9 (`format_close`).
static PY_GEN1: LazyLock<Regex> =
    LazyLock::new(|| re(r"\bcode = (\d+) \(([^()]*)\), (?:no reason|reason = (.*?))\s*$"));
/// A Python traceback's last line: the exception the library raised.
static PY_EXC: LazyLock<Regex> =
    LazyLock::new(|| re(r"websockets\.exceptions\.ConnectionClosed\w*: $"));
static GORILLA: LazyLock<Regex> =
    LazyLock::new(|| re(r"\bwebsocket: close (\d+)(?: \(([^()]*)\))?(?:: (.*?))?\s*$"));
static CODER: LazyLock<Regex> = LazyLock::new(|| {
    re(r#"received close frame: status = (\w+)(?:\((\d+)\))? and reason = "((?:[^"\\]|\\.)*)""#)
});
static SPRING: LazyLock<Regex> =
    LazyLock::new(|| re(r"CloseStatus\[code=(\d+), reason=(.*?)\](?:[\s,;)}\]]|$)"));
/// Spring's `AbstractWebSocketSession.toString()`: `StandardWebSocketSession[id=.., uri=..]`.
static SPRING_ID: LazyLock<Regex> = LazyLock::new(|| re(r"WebSocketSession\[id=([^,\]\s]+)"));
static JAKARTA_LONG: LazyLock<Regex> =
    LazyLock::new(|| re(r"CloseReason: code \[(\d+)\], reason \[(.*?)\](?:[\s,;)}\]]|$)"));
static JAKARTA_SHORT: LazyLock<Regex> =
    LazyLock::new(|| re(r"CloseReason\[(\d+)(?:,(.*?))?\](?:[\s,;)}\]]|$)"));
static JETTY: LazyLock<Regex> =
    LazyLock::new(|| re(r"\{(\d{1,5})=([A-Z_]+),(.*?)\}(?:[\s,;)\]]|$)"));
static JETTY9: LazyLock<Regex> =
    LazyLock::new(|| re(r"CloseInfo\[code=(\d+),reason=(.*?)\](?:[\s,;)}\]]|$)"));
static TUNG: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"CloseFrame \{ code: (\w+)(?:\((\d+)\))?, reason: (?:Utf8Bytes\()?b?"((?:[^"\\]|\\.)*)"\)? \}"#,
    )
});
static TUNG_RESET: LazyLock<Regex> =
    LazyLock::new(|| re(r"Connection reset without closing handshake"));
static MITM_CLOSED: LazyLock<Regex> =
    LazyLock::new(|| re(r"WebSocket connection closed by (client|server): (\d+) ?(.*?)\s*$"));
static MITM_ERROR: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"Error in WebSocket connection to (\S+): WebSocket Error: ([A-Z_]+)(?:=(\d+))?(?: \(reason: (.*)\))?\s*$",
    )
});
static BROWSER: LazyLock<Regex> =
    LazyLock::new(|| re(r"WebSocket connection to '(wss?://[^']*)' failed(?::\s*(.*?))?\s*$"));

// ---------------------------------------------------------------------------------------
// Close codes: one helper for every format

/// A library's names for close codes, and what to call them in a half-match message.
pub struct Names {
    pub what: &'static str,
    pub table: &'static [(&'static str, u16)],
}

impl Names {
    fn get(&self, name: &str) -> Option<u16> {
        self.table.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
    }
}

/// The close code a message gives: the explicit `number` when there is one (it must fit
/// in 16 bits), else `name` looked up in `names`; otherwise why not (the line is then a
/// half match). Every matcher in this file gets its code here.
pub fn close_code(
    number: Option<&str>,
    name: Option<&str>,
    names: Option<&Names>,
) -> Result<u16, String> {
    if let Some(n) = number {
        return n
            .parse::<u16>()
            .map_err(|_| format!("close code `{}` is not a 16-bit number", cut(n)));
    }
    match (name, names) {
        (Some(name), Some(names)) => names
            .get(name)
            .ok_or_else(|| format!("unknown {} `{}`", names.what, cut(name))),
        _ => Err("no close code in the message".into()),
    }
}

/// coder/websocket `StatusCode.String()` names (stringer output).
pub const CODER_NAMES: Names = Names {
    what: "coder/websocket status",
    table: &[
        ("StatusNormalClosure", 1000),
        ("StatusGoingAway", 1001),
        ("StatusProtocolError", 1002),
        ("StatusUnsupportedData", 1003),
        ("statusReserved", 1004),
        ("StatusNoStatusRcvd", 1005),
        ("StatusAbnormalClosure", 1006),
        ("StatusInvalidFramePayloadData", 1007),
        ("StatusPolicyViolation", 1008),
        ("StatusMessageTooBig", 1009),
        ("StatusMandatoryExtension", 1010),
        ("StatusInternalError", 1011),
        ("StatusServiceRestart", 1012),
        ("StatusTryAgainLater", 1013),
        ("StatusBadGateway", 1014),
        ("StatusTLSHandshake", 1015),
    ],
};

/// tungstenite `CloseCode` variant names (`Library(n)`, `Iana(n)`, `Reserved(n)`, `Bad(n)`
/// carry the number).
pub const TUNGSTENITE_NAMES: Names = Names {
    what: "tungstenite CloseCode",
    table: &[
        ("Normal", 1000),
        ("Away", 1001),
        ("Protocol", 1002),
        ("Unsupported", 1003),
        ("Status", 1005),
        ("Abnormal", 1006),
        ("Invalid", 1007),
        ("Policy", 1008),
        ("Size", 1009),
        ("Extension", 1010),
        ("Error", 1011),
        ("Restart", 1012),
        ("Again", 1013),
        ("Tls", 1015),
    ],
};

/// wsproto `CloseReason` names (what mitmproxy prints; others as `UNKNOWN_ERROR=n`).
pub const WSPROTO_NAMES: Names = Names {
    what: "close reason name",
    table: &[
        ("NORMAL_CLOSURE", 1000),
        ("GOING_AWAY", 1001),
        ("PROTOCOL_ERROR", 1002),
        ("UNSUPPORTED_DATA", 1003),
        ("NO_STATUS_RCVD", 1005),
        ("ABNORMAL_CLOSURE", 1006),
        ("INVALID_FRAME_PAYLOAD_DATA", 1007),
        ("POLICY_VIOLATION", 1008),
        ("MESSAGE_TOO_BIG", 1009),
        ("MANDATORY_EXT", 1010),
        ("INTERNAL_ERROR", 1011),
        ("SERVICE_RESTART", 1012),
        ("TRY_AGAIN_LATER", 1013),
        ("TLS_HANDSHAKE_FAILED", 1015),
    ],
};

fn cut(s: &str) -> &str {
    match s.char_indices().nth(20) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn opt(s: Option<Match<'_>>) -> Option<String> {
    s.map(|m| m.as_str().to_string()).filter(|s| !s.is_empty())
}

/// Reason text as Java prints it: `null` is no reason.
fn java_reason(s: Option<Match<'_>>) -> Option<String> {
    opt(s).filter(|r| r != "null")
}
/// Undo Go `%q` / Rust `{:?}` string escapes (`\"`, `\\`, `\n`, `\t`, `\r`, `\xNN`,
/// `\u{..}`, `\uNNNN`); unknown escapes are kept as they are.
fn unescape(s: &str) -> String {
    let mut bytes = Vec::with_capacity(s.len());
    let mut it = s.chars().peekable();
    let mut buf = [0u8; 4];
    while let Some(c) = it.next() {
        if c != '\\' {
            bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match it.next() {
            Some('n') => bytes.push(b'\n'),
            Some('t') => bytes.push(b'\t'),
            Some('r') => bytes.push(b'\r'),
            Some('0') => bytes.push(0),
            Some('x') => {
                let h: String = it.by_ref().take(2).collect();
                match u8::from_str_radix(&h, 16) {
                    Ok(b) if h.len() == 2 => bytes.push(b),
                    _ => {
                        bytes.extend_from_slice(b"\\x");
                        bytes.extend_from_slice(h.as_bytes());
                    }
                }
            }
            Some('u') => {
                let mut hex = String::new();
                if it.peek() == Some(&'{') {
                    it.next();
                    for c in it.by_ref() {
                        if c == '}' || hex.len() > 6 {
                            break;
                        }
                        hex.push(c);
                    }
                } else {
                    hex = it.by_ref().take(4).collect();
                }
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => bytes.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes()),
                    None => bytes.extend_from_slice(b"\xEF\xBF\xBD"),
                }
            }
            Some(o) => bytes.extend_from_slice(o.encode_utf8(&mut buf).as_bytes()),
            None => bytes.push(b'\\'),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The logging side, from the text before the message (exactly one of the words).
fn role_hint(prefix: &str) -> Option<Role> {
    match (CLIENT_WORD.is_match(prefix), SERVER_WORD.is_match(prefix)) {
        (true, false) => Some(Role::Client),
        (false, true) => Some(Role::Server),
        _ => None,
    }
}

/// A timestamp near the start of the line (within the text before the message).
fn leading_time(prefix: &str) -> Option<i64> {
    TS.find(prefix).and_then(|m| parse_time(m.as_str()))
}

/// mitmproxy's log-line clock: `[HH:MM:SS.mmm]` at the start of a line (its
/// `MitmFormatter`: `default_time_format = "%H:%M:%S"`, `"%s.%03d"` milliseconds, local
/// time, no date), as ns since midnight. `None` for any other line.
pub fn mitm_clock(line: &str) -> Option<i64> {
    let b = line.as_bytes();
    if b.len() < 14 || b[0] != b'[' || b[13] != b']' || b[3] != b':' || b[6] != b':' {
        return None;
    }
    if b[9] != b'.' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = &b[r];
        if !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        s.iter()
            .try_fold(0i64, |a, d| Some(a * 10 + i64::from(d - b'0')))
    };
    let (h, m, s, ms) = (num(1..3)?, num(4..6)?, num(7..9)?, num(10..13)?);
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some((((h * 60 + m) * 60 + s) * 1000 + ms) * 1_000_000)
}

/// The record for a match starting at `start`: source, end time and the logging side
/// from the text before it.
fn found(source: LogFormat, line: &str, start: usize) -> Record {
    let prefix = line.get(..start).unwrap_or("");
    Record {
        source: source.as_str(),
        end_ns: leading_time(prefix),
        role: role_hint(prefix),
        ..Default::default()
    }
}

fn start_of(c: &Captures<'_>) -> usize {
    c.get(0).map_or(0, |m| m.start())
}

/// A matcher's outcome as a [`LineResult`].
fn done(r: Result<Record, String>) -> Option<LineResult> {
    Some(match r {
        Ok(r) => LineResult::Record(Box::new(r)),
        Err(why) => LineResult::Half(why),
    })
}

// --- Python websockets ---------------------------------------------------------------

fn python(line: &str) -> Option<LineResult> {
    let fmt = LogFormat::PythonWebsockets;
    if line.contains("; then ") {
        if let Some(c) = PY_BOTH.captures(line) {
            return done(python_both(line, &c));
        }
    }
    if line.contains("; no close frame ") {
        if let Some(c) = PY_HALF.captures(line) {
            return done(python_half(line, &c));
        }
    }
    if line.contains("no close frame received or sent") {
        if let Some(m) = PY_NONE.find(line) {
            let mut r = found(fmt, line, m.start());
            r.voice = python_voice(line, m.start());
            r.close_code = Some(1006);
            r.initiator = Some(Initiator::None);
            r.handshake_completed = Some(false);
            if let Some(me) = r.role {
                r.set_observed(me, 1006);
            }
            return done(Ok(r));
        }
    }
    if line.contains("code = ") {
        if let Some(c) = PY_GEN1.captures(line) {
            let mut r = found(fmt, line, start_of(&c));
            return done(close_code(Some(&c[1]), None, None).map(|k| {
                r.close_code = Some(k);
                r.close_reason = opt(c.get(3));
                if let Some(me) = r.role {
                    r.set_observed(me, k);
                }
                r
            }));
        }
    }
    None
}

/// A `websockets.exceptions.ConnectionClosed*: ` traceback line is the library's voice.
fn python_voice(line: &str, start: usize) -> Voice {
    if PY_EXC.is_match(line.get(..start).unwrap_or("")) {
        Voice::Library
    } else {
        Voice::App
    }
}

fn python_both(line: &str, c: &Captures<'_>) -> Result<Record, String> {
    let mut r = found(LogFormat::PythonWebsockets, line, start_of(c));
    r.voice = python_voice(line, start_of(c));
    let first = close_code(Some(&c[2]), None, None)?;
    let second = close_code(Some(&c[6]), None, None)?;
    let first_reason = opt(c.get(4));
    let second_reason = opt(c.get(8));
    let we_first = &c[1] == "sent";
    r.close_code = Some(first);
    r.close_reason = first_reason.clone();
    r.handshake_completed = Some(true);
    if let Some(me) = r.role {
        let opener = if we_first { me } else { me.other() };
        r.initiator = Some(opener.into());
        r.set_sent(opener, first, first_reason);
        r.set_sent(opener.other(), second, second_reason);
        // Each library reports the peer's code (RFC 6455 7.1.5).
        let (mine, theirs) = if we_first {
            (first, second)
        } else {
            (second, first)
        };
        r.set_observed(me, theirs);
        r.set_observed(me.other(), mine);
    }
    Ok(r)
}

fn python_half(line: &str, c: &Captures<'_>) -> Result<Record, String> {
    let mut r = found(LogFormat::PythonWebsockets, line, start_of(c));
    r.voice = python_voice(line, start_of(c));
    let k = close_code(Some(&c[2]), None, None)?;
    let reason = opt(c.get(4));
    let we_sent = &c[1] == "sent";
    r.close_code = Some(k);
    r.close_reason = reason.clone();
    r.handshake_completed = Some(false);
    if let Some(me) = r.role {
        let sender = if we_sent { me } else { me.other() };
        r.initiator = Some(sender.into());
        r.set_sent(sender, k, reason);
        r.set_observed(me, if we_sent { 1006 } else { k });
    }
    Ok(r)
}

// --- Go ------------------------------------------------------------------------------

/// gorilla: the error reports the Close the logging side received (1006 when none).
fn gorilla(line: &str) -> Option<LineResult> {
    if !line.contains("websocket: close ") {
        return None;
    }
    let c = GORILLA.captures(line)?;
    let mut r = found(LogFormat::Gorilla, line, start_of(&c));
    done(close_code(Some(&c[1]), None, None).map(|k| {
        r.close_code = Some(k);
        r.close_reason = opt(c.get(3));
        if let Some(me) = r.role {
            r.set_observed(me, k);
            if k != 1006 {
                r.set_sent(me.other(), k, opt(c.get(3)));
            }
        }
        r
    }))
}

fn coder(line: &str) -> Option<LineResult> {
    if !line.contains("received close frame: status = ") {
        return None;
    }
    let c = CODER.captures(line)?;
    let mut r = found(LogFormat::CoderWebsocket, line, start_of(&c));
    let number = c.get(2).map(|m| m.as_str());
    done(
        close_code(number, Some(&c[1]), Some(&CODER_NAMES)).map(|k| {
            let reason = Some(unescape(&c[3])).filter(|s| !s.is_empty());
            r.close_code = Some(k);
            r.close_reason = reason.clone();
            if let Some(me) = r.role {
                r.set_observed(me, k);
                r.set_sent(me.other(), k, reason);
            }
            r
        }),
    )
}

// --- Java ----------------------------------------------------------------------------

/// Spring, Jakarta, Jetty: `code` is capture 1, the reason the last capture.
fn java_match(line: &str, fmt: LogFormat, re: &Regex, needle: &str) -> Option<LineResult> {
    if !line.contains(needle) {
        return None;
    }
    let c = re.captures(line)?;
    let mut r = found(fmt, line, start_of(&c));
    done(close_code(Some(&c[1]), None, None).map(|k| {
        r.close_code = Some(k);
        r.close_reason = java_reason(c.get(c.len() - 1));
        r
    }))
}

/// Spring: the session id from `...WebSocketSession[id=ID, uri=...]` before the status, and
/// the library's own `LoggingWebSocketHandlerDecorator` line (`SESSION closed with STATUS`).
fn spring(line: &str) -> Option<LineResult> {
    let mut res = java_match(line, LogFormat::Spring, &SPRING, "CloseStatus[code=")?;
    if let LineResult::Record(r) = &mut res {
        let at = line.find("CloseStatus[code=").unwrap_or(0);
        let prefix = &line[..at];
        r.session_id = SPRING_ID.captures(prefix).map(|c| c[1].to_string());
        if prefix.ends_with("] closed with ") {
            r.voice = Voice::Library;
        }
    }
    Some(res)
}

fn jakarta(line: &str) -> Option<LineResult> {
    java_match(
        line,
        LogFormat::Jakarta,
        &JAKARTA_LONG,
        "CloseReason: code [",
    )
    .or_else(|| java_match(line, LogFormat::Jakarta, &JAKARTA_SHORT, "CloseReason["))
}

/// Jetty 9's `WebSocketSession` debug lines (`DATE:DBUG:oejwc.WebSocketSession:THREAD:
/// MESSAGE`, its `StdErrLog` layout): `close(CloseInfo[..])` is the logging side asking to
/// close (not how the session ended: not a record); `callApplicationOnClose(CloseInfo[..])`
/// is the close handed to the application, in the library's voice, with its thread (Jetty
/// logs it before its once-per-session guard, so repeats follow; `merge` drops them).
static JETTY9_CALLBACK: LazyLock<Regex> =
    LazyLock::new(|| re(r":([^:\s]+): callApplicationOnClose\($"));

/// Jetty 9's `THREAD: close(CloseInfo[code=..,reason=..])`: the logging thread asking a
/// session to close.
static JETTY9_REQUEST: LazyLock<Regex> =
    LazyLock::new(|| re(r":([^:\s]+): close\(CloseInfo\[code=(\d+),reason=(.*?)\]\)\s*$"));

/// A Jetty 9 close request on `line` (at position `at`, [`Record::pos`]): not a record (see `jetty`), but it
/// ties its thread to the session it closes ([`merge`](super::merge)).
pub fn jetty_close_request(line: &str, at: u64) -> Option<super::merge::CloseRequest> {
    if !line.contains(": close(CloseInfo[code=") {
        return None;
    }
    let c = JETTY9_REQUEST.captures(line)?;
    Some(super::merge::CloseRequest {
        pos: at,
        thread: c[1].to_string(),
        code: c[2].parse().ok()?,
        reason: java_reason(c.get(3)),
    })
}

fn jetty(line: &str) -> Option<LineResult> {
    if let Some(at) = line.find("CloseInfo[code=") {
        let prefix = &line[..at];
        if prefix.ends_with(": close(") {
            // A close request: Jetty's line, not how a session ended.
            return Some(LineResult::NotClose);
        }
        let mut res = java_match(line, LogFormat::Jetty, &JETTY9, "CloseInfo[code=");
        if let Some(LineResult::Record(r)) = &mut res {
            if let Some(c) = JETTY9_CALLBACK.captures(prefix) {
                r.voice = Voice::Library;
                r.thread = Some(c[1].to_string());
            }
        }
        if res.is_some() {
            return res;
        }
    }
    if !line.contains('{') || !line.contains('=') {
        return None;
    }
    let c = JETTY.captures(line)?;
    // `{%04d=%s,%s}` is also how Java prints a map (`{200=OK, 404=NOT_FOUND}`): only a
    // close code makes it Jetty's close status.
    if !c[1]
        .parse::<u16>()
        .is_ok_and(|k| super::CLOSE_CODES.contains(&k))
    {
        return None;
    }
    let mut r = found(LogFormat::Jetty, line, start_of(&c));
    done(close_code(Some(&c[1]), None, None).map(|k| {
        r.close_code = Some(k);
        r.close_reason = java_reason(c.get(3));
        r
    }))
}

// --- Rust tungstenite ----------------------------------------------------------------

fn tungstenite(line: &str) -> Option<LineResult> {
    if line.contains("CloseFrame { code: ") {
        let c = TUNG.captures(line)?;
        let start = start_of(&c);
        let mut r = found(LogFormat::Tungstenite, line, start);
        // tungstenite::protocol's own `debug!("Received close frame: {close:?}")`.
        if line[..start].ends_with("Received close frame: Some(") {
            r.voice = Voice::Library;
        }
        let number = c.get(2).map(|m| m.as_str());
        return done(
            close_code(number, Some(&c[1]), Some(&TUNGSTENITE_NAMES)).map(|k| {
                r.close_code = Some(k);
                r.close_reason = Some(unescape(&c[3])).filter(|s| !s.is_empty());
                r
            }),
        );
    }
    if line.contains("Connection reset without closing handshake") {
        let m = TUNG_RESET.find(line)?;
        let mut r = found(LogFormat::Tungstenite, line, m.start());
        r.close_code = Some(1006);
        if let Some(me) = r.role {
            r.set_observed(me, 1006);
        }
        return done(Ok(r));
    }
    None
}

// --- mitmproxy -----------------------------------------------------------------------

fn mitmproxy(line: &str) -> Option<LineResult> {
    if line.contains("WebSocket connection closed by ") {
        let c = MITM_CLOSED.captures(line)?;
        let mut r = found(LogFormat::Mitmproxy, line, start_of(&c));
        r.role = None; // mitmproxy is neither side
        return done(close_code(Some(&c[2]), None, None).map(|k| {
            let by = if &c[1] == "client" {
                Role::Client
            } else {
                Role::Server
            };
            let reason = opt(c.get(3));
            r.close_code = Some(k);
            r.close_reason = reason.clone();
            r.initiator = Some(by.into());
            r.set_sent(by, k, reason);
            r
        }));
    }
    if line.contains("Error in WebSocket connection to ") {
        let c = MITM_ERROR.captures(line)?;
        let mut r = found(LogFormat::Mitmproxy, line, start_of(&c));
        r.role = None;
        let number = c.get(3).map(|m| m.as_str());
        return done(
            close_code(number, Some(&c[2]), Some(&WSPROTO_NAMES)).map(|k| {
                let (ip, port) = split_peer(&c[1]);
                r.server_ip = ip;
                r.server_port = port;
                r.close_code = Some(k);
                r.close_reason = opt(c.get(4));
                r
            }),
        );
    }
    None
}

// --- Browsers ------------------------------------------------------------------------

/// Chromium failure reasons printed for connections that never opened (no session):
/// `Error during WebSocket handshake: ...` and `Connection closed before receiving a
/// handshake response` (net/websockets/websocket_basic_handshake_stream.cc), `Error in
/// connection establishment: net::ERR_...` (net/websockets/websocket_stream.cc),
/// `Insufficient resources` (blink websocket_channel_impl.cc, too many sockets), `WebSocket
/// is closed before the connection is established.` (blink dom_websocket.cc, `close()`
/// while connecting).
pub const NOT_A_SESSION: &[&str] = &[
    "Error during WebSocket handshake",
    "Connection closed before receiving a handshake response",
    "Error in connection establishment",
    "Insufficient resources",
    "WebSocket is closed before the connection is established",
];

fn browser(line: &str) -> Option<LineResult> {
    if !line.contains("WebSocket connection to '") {
        return None;
    }
    let c = BROWSER.captures(line)?;
    let detail = opt(c.get(2));
    if detail
        .as_deref()
        .is_some_and(|d| NOT_A_SESSION.iter().any(|p| d.starts_with(p)))
    {
        return None; // the connection never opened: not a session
    }
    let mut r = found(LogFormat::Browser, line, start_of(&c));
    r.role = Some(Role::Client);
    let url = &c[1];
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    r.host = Some(host.to_string());
    r.path = Some(path.to_string());
    r.close_code = Some(1006);
    r.close_reason = detail;
    r.client_observed_code = Some(1006);
    done(Ok(r))
}

type Matcher = fn(&str) -> Option<LineResult>;

const MATCHERS: &[(LogFormat, Matcher)] = &[
    (LogFormat::PythonWebsockets, python),
    (LogFormat::Gorilla, gorilla),
    (LogFormat::CoderWebsocket, coder),
    (LogFormat::Spring, spring),
    (LogFormat::Jakarta, jakarta),
    (LogFormat::Jetty, jetty),
    (LogFormat::Tungstenite, tungstenite),
    (LogFormat::Mitmproxy, mitmproxy),
    (LogFormat::Browser, browser),
];

/// Fixed strings of the library messages: each matcher above tests its own before its
/// regex, and a line holding none of a library's strings is not that library's message.
/// The reader finds them all in one pass over the line (`super::Prefilter`) and tries
/// only the libraries whose strings are there ([`parse_masked`]). Jetty 10's `{1001=...}`
/// is found by `{` and a digit.
pub const NEEDLES: &[(&str, LogFormat)] = &[
    ("; then ", LogFormat::PythonWebsockets),
    ("; no close frame ", LogFormat::PythonWebsockets),
    (
        "no close frame received or sent",
        LogFormat::PythonWebsockets,
    ),
    ("code = ", LogFormat::PythonWebsockets),
    ("websocket: close ", LogFormat::Gorilla),
    ("received close frame: status = ", LogFormat::CoderWebsocket),
    ("CloseStatus[code=", LogFormat::Spring),
    ("CloseReason: code [", LogFormat::Jakarta),
    ("CloseReason[", LogFormat::Jakarta),
    ("CloseInfo[code=", LogFormat::Jetty),
    ("{0", LogFormat::Jetty),
    ("{1", LogFormat::Jetty),
    ("{2", LogFormat::Jetty),
    ("{3", LogFormat::Jetty),
    ("{4", LogFormat::Jetty),
    ("{5", LogFormat::Jetty),
    ("{6", LogFormat::Jetty),
    ("{7", LogFormat::Jetty),
    ("{8", LogFormat::Jetty),
    ("{9", LogFormat::Jetty),
    ("CloseFrame { code: ", LogFormat::Tungstenite),
    (
        "Connection reset without closing handshake",
        LogFormat::Tungstenite,
    ),
    ("WebSocket connection closed by ", LogFormat::Mitmproxy),
    ("Error in WebSocket connection to ", LogFormat::Mitmproxy),
    ("WebSocket connection to '", LogFormat::Browser),
];

/// Try the messages of the libraries whose [`LogFormat::bit`] is in `mask`; the first
/// that says something about the line, with its format.
pub fn parse_masked(line: &str, mask: u32) -> Option<(LogFormat, LineResult)> {
    MATCHERS
        .iter()
        .filter(|(f, _)| mask & f.bit() != 0)
        .find_map(|(f, m)| m(line).map(|r| (*f, r)))
}

/// Try every library's messages.
pub fn parse_any(line: &str) -> LineResult {
    MATCHERS
        .iter()
        .find_map(|(_, m)| m(line))
        .unwrap_or(LineResult::NoMatch)
}

/// Which library's message this line is, if any (for detection).
pub fn which(line: &str) -> Option<LogFormat> {
    MATCHERS
        .iter()
        .find(|(_, m)| matches!(m(line), Some(LineResult::Record(_))))
        .map(|(f, _)| *f)
}

/// Try one library's messages.
pub fn parse_one(format: LogFormat, line: &str) -> LineResult {
    MATCHERS
        .iter()
        .find(|(f, _)| *f == format)
        .and_then(|(_, m)| m(line))
        .unwrap_or(LineResult::NoMatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(line: &str) -> Record {
        match parse_any(line) {
            LineResult::Record(r) => *r,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn unescape_go_and_rust_strings() {
        assert_eq!(unescape(r#"a\"b\\c\n"#), "a\"b\\c\n");
        assert_eq!(unescape(r"d\xc3\xa9j\u00e0 \u{1F600}"), "déjà 😀");
        assert_eq!(unescape(r"bad\xZZ\"), "bad\\xZZ\\");
    }

    #[test]
    fn role_comes_from_one_word_before_the_message() {
        let r = rec(
            "DEBUG:websockets.server:x sent 1001 (going away); then received 1001 (going away)",
        );
        assert_eq!(r.initiator, Some(Initiator::Server));
        assert_eq!(r.server_close_code, Some(1001));
        let r = rec("client and server: sent 1001 (going away); then received 1001 (going away)");
        assert_eq!(r.initiator, None);
    }

    #[test]
    fn gorilla_code_out_of_range_is_half_matched() {
        assert!(matches!(
            parse_any("websocket: close 99999 (weird)"),
            LineResult::Half(_)
        ));
    }

    #[test]
    fn one_helper_gives_every_format_its_code() {
        // explicit number wins over the name
        assert_eq!(
            close_code(Some("4001"), Some("Library"), Some(&TUNGSTENITE_NAMES)),
            Ok(4001)
        );
        assert_eq!(
            close_code(None, Some("Away"), Some(&TUNGSTENITE_NAMES)),
            Ok(1001)
        );
        assert_eq!(
            close_code(None, Some("StatusTryAgainLater"), Some(&CODER_NAMES)),
            Ok(1013)
        );
        assert_eq!(
            close_code(None, Some("GOING_AWAY"), Some(&WSPROTO_NAMES)),
            Ok(1001)
        );
        assert_eq!(close_code(Some("1006"), None, None), Ok(1006));
        let e = close_code(None, Some("Sideways"), Some(&TUNGSTENITE_NAMES)).unwrap_err();
        assert!(e.contains("tungstenite CloseCode `Sideways`"), "{e}");
        assert!(close_code(Some("70000"), None, None).is_err());
        assert!(matches!(
            parse_any("received close frame: status = StatusSideways and reason = \"\""),
            LineResult::Half(_)
        ));
    }

    #[test]
    fn mitmproxy_clock_is_a_time_of_day() {
        assert_eq!(
            mitm_clock("[01:53:18.376][127.0.0.1:57770] client connect"),
            Some(((3600 + 53 * 60 + 18) * 1000 + 376) * 1_000_000)
        );
        assert_eq!(mitm_clock("[24:00:00.000] x"), None);
        assert_eq!(mitm_clock("[aa:00:00.000] x"), None);
        assert_eq!(mitm_clock("01:53:18.376 x"), None);
    }

    #[test]
    fn tomcat_onelineformatter_time_is_the_end_time() {
        let r = rec("22-Nov-2026 03:56:06.912 INFO [main] Gen$Client.onClose onClose client session 1 CloseReason: code [1000], reason [bye]");
        assert_eq!(r.end_ns, Some(1_795_319_766_912_000_000));
    }

    #[test]
    fn browser_handshake_failure_is_not_a_session() {
        assert_eq!(
            parse_any("WebSocket connection to 'wss://x/ws' failed: Error during WebSocket handshake: Unexpected response code: 403"),
            LineResult::NoMatch
        );
    }
}
