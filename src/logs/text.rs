//! Messages of WebSocket libraries inside application logs.
//!
//! Contract: [`parse_any`] tries every library's pattern on one line (a cheap substring
//! test first, then a regex) and returns the first record; [`parse_one`] tries one
//! library's. A line is a record only when it reports how a connection ended; frame-level
//! debug lines (`< CLOSE 1000 (OK)`, `Replying to close with ...`) are not records, so a
//! session is not counted twice. What each message says about sides:
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
//!   closed; its `Error in WebSocket connection to ADDR: WebSocket Error: NAME` lines give
//!   the code by wsproto's `CloseReason` name and the server address.
//! - Browser `WebSocket connection to 'wss://...' failed` is 1006 (`abnormal`), unless the
//!   detail says the handshake failed (not a session: left unmatched).
//!
//! A leading timestamp (ISO 8601 / RFC 3339, `2026/11/22 10:00:00` of Go's `log`, no zone
//! meaning UTC) becomes `end_time`.

use std::sync::LazyLock;

use regex::{Captures, Regex};

use super::{parse_time, LineResult, LogFormat, Record, Role};

fn re(s: &str) -> Regex {
    // The patterns are constants: a failure is a bug caught by every test run.
    Regex::new(s).unwrap_or_else(|e| panic!("bad built-in pattern {s}: {e}"))
}

static TS: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?|\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}(?:\.\d{1,9})?)",
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
static GORILLA: LazyLock<Regex> =
    LazyLock::new(|| re(r"\bwebsocket: close (\d+)(?: \(([^()]*)\))?(?:: (.*?))?\s*$"));
static CODER: LazyLock<Regex> = LazyLock::new(|| {
    re(r#"received close frame: status = (\w+)(?:\((\d+)\))? and reason = "((?:[^"\\]|\\.)*)""#)
});
static SPRING: LazyLock<Regex> =
    LazyLock::new(|| re(r"CloseStatus\[code=(\d+), reason=(.*?)\](?:[\s,;)}\]]|$)"));
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

/// A close code from a decimal string, or why not.
fn code(s: &str) -> Result<u16, String> {
    s.parse::<u16>()
        .map_err(|_| format!("close code `{}` is not a 16-bit number", cut(s)))
}

fn cut(s: &str) -> &str {
    match s.char_indices().nth(20) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn opt(s: Option<regex::Match<'_>>) -> Option<String> {
    s.map(|m| m.as_str().to_string()).filter(|s| !s.is_empty())
}

/// Reason text as Java prints it: `null` is no reason.
fn java_reason(s: Option<regex::Match<'_>>) -> Option<String> {
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

/// Fill the common fields: end time from the prefix.
fn base(source: LogFormat, line: &str, start: usize) -> (Record, Option<Role>) {
    let prefix = &line[..start];
    let rec = Record {
        source: source.as_str(),
        end_ns: leading_time(prefix),
        ..Default::default()
    };
    (rec, role_hint(prefix))
}

fn done(r: Record) -> LineResult {
    LineResult::Record(Box::new(r))
}

// --- Python websockets ---------------------------------------------------------------

fn python(line: &str) -> Option<LineResult> {
    if line.contains("; then ") {
        if let Some(c) = PY_BOTH.captures(line) {
            return Some(python_both(line, &c));
        }
    }
    if line.contains("; no close frame ") {
        if let Some(c) = PY_HALF.captures(line) {
            return Some(python_half(line, &c));
        }
    }
    if line.contains("no close frame received or sent") {
        if let Some(m) = PY_NONE.find(line) {
            let (mut r, role) = base(LogFormat::PythonWebsockets, line, m.start());
            r.close_code = Some(1006);
            r.initiator = Some("none");
            r.handshake_completed = Some(false);
            if let Some(me) = role {
                r.set_observed(me, 1006);
            }
            return Some(done(r));
        }
    }
    if line.contains("code = ") {
        if let Some(c) = PY_GEN1.captures(line) {
            let start = c.get(0).map_or(0, |m| m.start());
            let (mut r, role) = base(LogFormat::PythonWebsockets, line, start);
            let k = match code(&c[1]) {
                Ok(k) => k,
                Err(e) => return Some(LineResult::Half(e)),
            };
            r.close_code = Some(k);
            r.close_reason = opt(c.get(3));
            if let Some(me) = role {
                r.set_observed(me, k);
            }
            return Some(done(r));
        }
    }
    None
}

fn python_both(line: &str, c: &Captures<'_>) -> LineResult {
    let start = c.get(0).map_or(0, |m| m.start());
    let (mut r, role) = base(LogFormat::PythonWebsockets, line, start);
    let (first, second) = match (code(&c[2]), code(&c[6])) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return LineResult::Half(e),
    };
    let first_reason = opt(c.get(4));
    let second_reason = opt(c.get(8));
    let we_first = &c[1] == "sent";
    r.close_code = Some(first);
    r.close_reason = first_reason.clone();
    r.handshake_completed = Some(true);
    if let Some(me) = role {
        let opener = if we_first { me } else { me.other() };
        r.initiator = Some(opener.as_str());
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
    done(r)
}

fn python_half(line: &str, c: &Captures<'_>) -> LineResult {
    let start = c.get(0).map_or(0, |m| m.start());
    let (mut r, role) = base(LogFormat::PythonWebsockets, line, start);
    let k = match code(&c[2]) {
        Ok(k) => k,
        Err(e) => return LineResult::Half(e),
    };
    let reason = opt(c.get(4));
    let we_sent = &c[1] == "sent";
    r.close_code = Some(k);
    r.close_reason = reason.clone();
    r.handshake_completed = Some(false);
    if let Some(me) = role {
        let sender = if we_sent { me } else { me.other() };
        r.initiator = Some(sender.as_str());
        r.set_sent(sender, k, reason);
        r.set_observed(me, if we_sent { 1006 } else { k });
    }
    done(r)
}

// --- Go ------------------------------------------------------------------------------

/// gorilla: the error reports the Close the logging side received (1006 when none).
fn gorilla(line: &str) -> Option<LineResult> {
    if !line.contains("websocket: close ") {
        return None;
    }
    let c = GORILLA.captures(line)?;
    let start = c.get(0).map_or(0, |m| m.start());
    let (mut r, role) = base(LogFormat::Gorilla, line, start);
    let k = match code(&c[1]) {
        Ok(k) => k,
        Err(e) => return Some(LineResult::Half(e)),
    };
    r.close_code = Some(k);
    r.close_reason = opt(c.get(3));
    if let Some(me) = role {
        r.set_observed(me, k);
        if k != 1006 {
            r.set_sent(me.other(), k, opt(c.get(3)));
        }
    }
    Some(done(r))
}

/// coder/websocket `StatusCode.String()` names (stringer output) to codes.
fn coder_status(name: &str) -> Option<u16> {
    Some(match name {
        "StatusNormalClosure" => 1000,
        "StatusGoingAway" => 1001,
        "StatusProtocolError" => 1002,
        "StatusUnsupportedData" => 1003,
        "statusReserved" => 1004,
        "StatusNoStatusRcvd" => 1005,
        "StatusAbnormalClosure" => 1006,
        "StatusInvalidFramePayloadData" => 1007,
        "StatusPolicyViolation" => 1008,
        "StatusMessageTooBig" => 1009,
        "StatusMandatoryExtension" => 1010,
        "StatusInternalError" => 1011,
        "StatusServiceRestart" => 1012,
        "StatusTryAgainLater" => 1013,
        "StatusBadGateway" => 1014,
        "StatusTLSHandshake" => 1015,
        _ => return None,
    })
}

fn coder(line: &str) -> Option<LineResult> {
    if !line.contains("received close frame: status = ") {
        return None;
    }
    let c = CODER.captures(line)?;
    let start = c.get(0).map_or(0, |m| m.start());
    let (mut r, role) = base(LogFormat::CoderWebsocket, line, start);
    let k = match (c.get(2), coder_status(&c[1])) {
        (Some(n), _) => match code(n.as_str()) {
            Ok(k) => k,
            Err(e) => return Some(LineResult::Half(e)),
        },
        (None, Some(k)) => k,
        (None, None) => {
            return Some(LineResult::Half(format!(
                "unknown coder/websocket status `{}`",
                cut(&c[1])
            )))
        }
    };
    let reason = Some(unescape(&c[3])).filter(|s| !s.is_empty());
    r.close_code = Some(k);
    r.close_reason = reason.clone();
    if let Some(me) = role {
        r.set_observed(me, k);
        r.set_sent(me.other(), k, reason);
    }
    Some(done(r))
}

// --- Java ----------------------------------------------------------------------------

fn java_match(line: &str, fmt: LogFormat, re: &Regex, needle: &str) -> Option<LineResult> {
    if !line.contains(needle) {
        return None;
    }
    let c = re.captures(line)?;
    let start = c.get(0).map_or(0, |m| m.start());
    let (mut r, _) = base(fmt, line, start);
    let k = match code(&c[1]) {
        Ok(k) => k,
        Err(e) => return Some(LineResult::Half(e)),
    };
    r.close_code = Some(k);
    r.close_reason = java_reason(c.get(c.len() - 1));
    Some(done(r))
}

fn spring(line: &str) -> Option<LineResult> {
    java_match(line, LogFormat::Spring, &SPRING, "CloseStatus[code=")
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

fn jetty(line: &str) -> Option<LineResult> {
    java_match(line, LogFormat::Jetty, &JETTY9, "CloseInfo[code=").or_else(|| {
        if !line.contains('{') || !line.contains('=') {
            return None;
        }
        let c = JETTY.captures(line)?;
        let start = c.get(0).map_or(0, |m| m.start());
        let (mut r, _) = base(LogFormat::Jetty, line, start);
        let k = match code(&c[1]) {
            Ok(k) => k,
            Err(e) => return Some(LineResult::Half(e)),
        };
        r.close_code = Some(k);
        r.close_reason = java_reason(c.get(3));
        Some(done(r))
    })
}

// --- Rust tungstenite ----------------------------------------------------------------

/// tungstenite `CloseCode` variant names to codes (`Library(n)`, `Iana(n)`,
/// `Reserved(n)`, `Bad(n)` carry the number).
fn tungstenite_code(name: &str) -> Option<u16> {
    Some(match name {
        "Normal" => 1000,
        "Away" => 1001,
        "Protocol" => 1002,
        "Unsupported" => 1003,
        "Status" => 1005,
        "Abnormal" => 1006,
        "Invalid" => 1007,
        "Policy" => 1008,
        "Size" => 1009,
        "Extension" => 1010,
        "Error" => 1011,
        "Restart" => 1012,
        "Again" => 1013,
        "Tls" => 1015,
        _ => return None,
    })
}

fn tungstenite(line: &str) -> Option<LineResult> {
    if line.contains("CloseFrame { code: ") {
        let c = TUNG.captures(line)?;
        let start = c.get(0).map_or(0, |m| m.start());
        let (mut r, _) = base(LogFormat::Tungstenite, line, start);
        let k = match (c.get(2), tungstenite_code(&c[1])) {
            (Some(n), _) => match code(n.as_str()) {
                Ok(k) => k,
                Err(e) => return Some(LineResult::Half(e)),
            },
            (None, Some(k)) => k,
            (None, None) => {
                return Some(LineResult::Half(format!(
                    "unknown tungstenite CloseCode `{}`",
                    cut(&c[1])
                )))
            }
        };
        r.close_code = Some(k);
        r.close_reason = Some(unescape(&c[3])).filter(|s| !s.is_empty());
        return Some(done(r));
    }
    if line.contains("Connection reset without closing handshake") {
        let m = TUNG_RESET.find(line)?;
        let (mut r, role) = base(LogFormat::Tungstenite, line, m.start());
        r.close_code = Some(1006);
        if let Some(me) = role {
            r.set_observed(me, 1006);
        }
        return Some(done(r));
    }
    None
}

// --- mitmproxy -----------------------------------------------------------------------

/// wsproto `CloseReason` names (what mitmproxy prints) to codes.
fn wsproto_code(name: &str) -> Option<u16> {
    Some(match name {
        "NORMAL_CLOSURE" => 1000,
        "GOING_AWAY" => 1001,
        "PROTOCOL_ERROR" => 1002,
        "UNSUPPORTED_DATA" => 1003,
        "NO_STATUS_RCVD" => 1005,
        "ABNORMAL_CLOSURE" => 1006,
        "INVALID_FRAME_PAYLOAD_DATA" => 1007,
        "POLICY_VIOLATION" => 1008,
        "MESSAGE_TOO_BIG" => 1009,
        "MANDATORY_EXT" => 1010,
        "INTERNAL_ERROR" => 1011,
        "SERVICE_RESTART" => 1012,
        "TRY_AGAIN_LATER" => 1013,
        "TLS_HANDSHAKE_FAILED" => 1015,
        _ => return None,
    })
}

fn mitmproxy(line: &str) -> Option<LineResult> {
    if line.contains("WebSocket connection closed by ") {
        let c = MITM_CLOSED.captures(line)?;
        let start = c.get(0).map_or(0, |m| m.start());
        let (mut r, _) = base(LogFormat::Mitmproxy, line, start);
        let k = match code(&c[2]) {
            Ok(k) => k,
            Err(e) => return Some(LineResult::Half(e)),
        };
        let by = if &c[1] == "client" {
            Role::Client
        } else {
            Role::Server
        };
        let reason = opt(c.get(3));
        r.close_code = Some(k);
        r.close_reason = reason.clone();
        r.initiator = Some(by.as_str());
        r.set_sent(by, k, reason);
        return Some(done(r));
    }
    if line.contains("Error in WebSocket connection to ") {
        let c = MITM_ERROR.captures(line)?;
        let start = c.get(0).map_or(0, |m| m.start());
        let (mut r, _) = base(LogFormat::Mitmproxy, line, start);
        let k = match (c.get(3), wsproto_code(&c[2])) {
            (Some(n), _) => match code(n.as_str()) {
                Ok(k) => k,
                Err(e) => return Some(LineResult::Half(e)),
            },
            (None, Some(k)) => k,
            (None, None) => {
                return Some(LineResult::Half(format!(
                    "unknown close reason name `{}`",
                    cut(&c[2])
                )))
            }
        };
        let (ip, port) = super::split_peer(&c[1]);
        r.server_ip = ip;
        r.server_port = port;
        r.close_code = Some(k);
        r.close_reason = opt(c.get(4));
        return Some(done(r));
    }
    None
}

// --- Browsers ------------------------------------------------------------------------

fn browser(line: &str) -> Option<LineResult> {
    if !line.contains("WebSocket connection to '") {
        return None;
    }
    let c = BROWSER.captures(line)?;
    let detail = opt(c.get(2));
    if detail
        .as_deref()
        .is_some_and(|d| d.contains("handshake") || d.contains("before the connection"))
    {
        return None; // the upgrade failed: not a session
    }
    let start = c.get(0).map_or(0, |m| m.start());
    let (mut r, _) = base(LogFormat::Browser, line, start);
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
    Some(done(r))
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
        assert_eq!(r.initiator, Some("server"));
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
    fn browser_handshake_failure_is_not_a_session() {
        assert_eq!(
            parse_any("WebSocket connection to 'wss://x/ws' failed: Error during WebSocket handshake: Unexpected response code: 403"),
            LineResult::NoMatch
        );
    }
}
