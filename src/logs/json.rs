//! JSON-lines logs: a field map (`--map`), the AWS API Gateway WebSocket preset and the
//! Traefik access log.
//!
//! Contract: each function reads one line holding one JSON object (text before the first
//! `{` is allowed, as CloudWatch exports put a timestamp there), or the object already
//! parsed (`*_object`, [`mapped`]: the reader parses each line once), and returns a
//! record, not a close ([`LineResult::NotClose`]: a line of the format that does not end
//! a session), no match (not this format), or a half match naming the field that could
//! not be read. Paths are dotted (`close.code`); a key that itself contains dots
//! (`identity.sourceIp` written flat) is tried first. `null`, `""` and `"-"` (what access-log templates print for "no value")
//! mean absent.
//!
//! - [`parse_mapped`] / [`mapped`]: a line of this format when the code field is present
//!   (`--map code=...`, else a default name); a record only when it holds a close code
//!   (1000-4999 or a library's code name: [`fields::record`], the same rule `--pattern`
//!   lines follow); HTTP statuses and other numbers are not closes. Without a map the
//!   default names are `code`/`close_code`/`closeCode`/`status_code`, `reason`/
//!   `close_reason`/`closeReason`, `time`/`timestamp`/`ts`/`@timestamp`, `session`/
//!   `session_id`/`connection_id`/`connectionId`, `peer`/`remote_addr`/`client`, `duration`/
//!   `duration_s` (seconds).
//! - [`parse_apigw`]: Lambda `$disconnect` events (`requestContext.disconnectStatusCode`,
//!   `requestContext.disconnectReason`, `requestContext.connectionId`,
//!   `requestContext.connectedAt` (epoch ms: start), `requestContext.requestTimeEpoch`
//!   (epoch ms: end), `requestContext.identity.sourceIp`) and access-log lines that use the
//!   same `$context` variable names at top level. Events of other types are not closes.
//! - [`parse_traefik`]: `DownstreamStatus` 101 only (other statuses are not closes);
//!   `Duration` (ns) is the session's duration, `StartUTC` its start; no close code
//!   (ending null).

use std::borrow::Cow;

use serde_json::Value;

use super::{
    epoch_ns, epoch_ns_int, fields, parse_time, split_peer, FieldMap, LineResult, LogFormat, Record,
};

/// The JSON object on this line, if it holds one.
pub fn object(line: &str) -> Option<serde_json::Map<String, Value>> {
    let t = line.trim();
    if !t.ends_with('}') {
        return None;
    }
    let start = t.find('{')?;
    match serde_json::from_str::<Value>(&t[start..]) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

/// The value at a dotted path (`a.b.c`); the flat key is tried first.
pub fn get<'a>(obj: &'a serde_json::Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(v) = obj.get(path) {
        return present(v);
    }
    let mut parts = path.split('.');
    let mut cur = obj.get(parts.next()?)?;
    for p in parts {
        cur = match cur {
            Value::Object(m) => m.get(p)?,
            Value::Array(a) => a.get(p.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    present(cur)
}

fn present(v: &Value) -> Option<&Value> {
    match v {
        Value::Null => None,
        Value::String(s) if s.is_empty() || s == "-" => None,
        v => Some(v),
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(30) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s,
    }
}

fn as_code(v: &Value, field: &str) -> Result<u16, String> {
    let n = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    n.and_then(|n| u16::try_from(n).ok()).ok_or_else(|| {
        format!(
            "field `{field}`: close code {} is not a number from 0 to 65535",
            short(v)
        )
    })
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// A value as the text [`fields`] reads: strings as they are, numbers as JSON writes them
/// (`1795428000123`, `1.5`), anything else as its JSON text.
fn text_of(v: &Value) -> Cow<'_, str> {
    match v {
        Value::String(s) => Cow::Borrowed(s.as_str()),
        v => Cow::Owned(v.to_string()),
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|f| f.is_finite())
}

fn as_time(v: &Value, field: &str) -> Result<i64, String> {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) => epoch_ns_int(i),
            None => n.as_f64().and_then(epoch_ns),
        },
        Value::String(s) => parse_time(s),
        _ => None,
    }
    .ok_or_else(|| format!("field `{field}`: {} is not a time", short(v)))
}

const D_CODE: &[&str] = &["code", "close_code", "closeCode", "status_code"];
const D_REASON: &[&str] = &["reason", "close_reason", "closeReason"];
const D_TIME: &[&str] = &["time", "timestamp", "ts", "@timestamp"];
const D_SESSION: &[&str] = &["session", "session_id", "connection_id", "connectionId"];
const D_PEER: &[&str] = &["peer", "remote_addr", "client"];
const D_DURATION: &[&str] = &["duration", "duration_s"];

/// The field at the mapped path, or at the first default name present.
fn pick<'a>(
    obj: &'a serde_json::Map<String, Value>,
    mapped: Option<&'a String>,
    defaults: &[&'static str],
) -> Option<fields::Field<'a>> {
    let (v, from) = match mapped {
        Some(p) => (get(obj, p)?, p.as_str()),
        None => defaults.iter().find_map(|p| get(obj, p).map(|v| (v, *p)))?,
    };
    Some(fields::Field {
        text: text_of(v),
        from,
    })
}

/// A JSON line read through a field map (or the default names).
pub fn parse_mapped(line: &str, map: Option<&FieldMap>) -> LineResult {
    match object(line) {
        Some(obj) => mapped(&obj, map).unwrap_or(LineResult::NoMatch),
        None => LineResult::NoMatch,
    }
}

/// A JSON object read through a field map (or the default names), as [`fields::record`]
/// reads it: `None` when it has no code field (not a line of this format); a close event
/// when the code is a close code; [`LineResult::NotClose`] for any other code (an HTTP
/// request line's `"code":200`). A code that is neither a number nor a code name is a half
/// match when the map names the code field, else not a close.
pub fn mapped(obj: &serde_json::Map<String, Value>, map: Option<&FieldMap>) -> Option<LineResult> {
    static EMPTY: FieldMap = FieldMap {
        code: None,
        reason: None,
        time: None,
        session: None,
        peer: None,
        duration: None,
    };
    let m = map.unwrap_or(&EMPTY);
    let code = pick(obj, m.code.as_ref(), D_CODE)?;
    if !fields::may_close(&code.text, m.code.is_some()) {
        // Most such lines are HTTP requests: their other fields are not looked up.
        return Some(LineResult::NotClose);
    }
    let named = fields::Named {
        code: Some(code),
        reason: pick(obj, m.reason.as_ref(), D_REASON),
        time: pick(obj, m.time.as_ref(), D_TIME),
        session: pick(obj, m.session.as_ref(), D_SESSION),
        peer: pick(obj, m.peer.as_ref(), D_PEER),
        duration: pick(obj, m.duration.as_ref(), D_DURATION),
    };
    Some(fields::record(
        LogFormat::Json.as_str(),
        "field",
        named,
        m.code.is_some(),
    ))
}

/// Both places a `$disconnect` field can be: the Lambda event's `requestContext`, or the
/// top level of an access-log line built from `$context` variables.
fn apigw<'a>(obj: &'a serde_json::Map<String, Value>, name: &str) -> Option<(&'a Value, String)> {
    let nested = format!("requestContext.{name}");
    get(obj, &nested)
        .map(|v| (v, nested))
        .or_else(|| get(obj, name).map(|v| (v, name.to_string())))
}

/// Is this object an API Gateway WebSocket event or access-log line at all?
pub fn looks_apigw(obj: &serde_json::Map<String, Value>) -> bool {
    ["disconnectStatusCode", "connectionId", "eventType"]
        .iter()
        .any(|k| apigw(obj, k).is_some())
        && (apigw(obj, "connectionId").is_some() || apigw(obj, "routeKey").is_some())
}

/// An AWS API Gateway WebSocket `$disconnect` event or access-log line.
pub fn parse_apigw(line: &str) -> LineResult {
    match object(line) {
        Some(obj) => apigw_object(&obj),
        None => LineResult::NoMatch,
    }
}

/// [`parse_apigw`] of a parsed object: other events of an object that
/// [`looks_apigw`] (`$connect`, messages) are [`LineResult::NotClose`].
pub fn apigw_object(obj: &serde_json::Map<String, Value>) -> LineResult {
    let event = apigw(obj, "eventType").map(|(v, _)| as_text(v));
    let route = apigw(obj, "routeKey").map(|(v, _)| as_text(v));
    let code = apigw(obj, "disconnectStatusCode");
    let is_disconnect = event.as_deref() == Some("DISCONNECT")
        || route.as_deref() == Some("$disconnect")
        || (event.is_none() && code.is_some());
    if !is_disconnect {
        return if looks_apigw(obj) {
            LineResult::NotClose
        } else {
            LineResult::NoMatch
        };
    }
    let mut r = Record {
        source: LogFormat::AwsApigw.as_str(),
        ..Default::default()
    };
    match code {
        Some((v, f)) => match as_code(v, &f) {
            Ok(k) => r.close_code = Some(k),
            Err(e) => return LineResult::Half(e),
        },
        None => return LineResult::Half("$disconnect event without disconnectStatusCode".into()),
    }
    r.close_reason = apigw(obj, "disconnectReason").map(|(v, _)| as_text(v));
    r.session_id = apigw(obj, "connectionId").map(|(v, _)| as_text(v));
    if let Some((v, f)) = apigw(obj, "connectedAt") {
        match as_time(v, &f) {
            Ok(t) => r.start_ns = Some(t),
            Err(e) => return LineResult::Half(e),
        }
    }
    if let Some((v, f)) = apigw(obj, "requestTimeEpoch") {
        match as_time(v, &f) {
            Ok(t) => r.end_ns = Some(t),
            Err(e) => return LineResult::Half(e),
        }
    }
    if let Some((v, _)) = apigw(obj, "identity.sourceIp").or_else(|| apigw(obj, "sourceIp")) {
        r.client_ip = Some(as_text(v));
    }
    r.user_agent = apigw(obj, "identity.userAgent").map(|(v, _)| as_text(v));
    r.host = apigw(obj, "domainName").map(|(v, _)| as_text(v));
    LineResult::Record(Box::new(r))
}

/// Is this object a Traefik access-log line?
pub fn looks_traefik(obj: &serde_json::Map<String, Value>) -> bool {
    obj.contains_key("DownstreamStatus") && obj.contains_key("Duration")
}

/// A Traefik JSON access-log line; only `DownstreamStatus` 101 is a session.
pub fn parse_traefik(line: &str) -> LineResult {
    match object(line) {
        Some(obj) => traefik_object(&obj),
        None => LineResult::NoMatch,
    }
}

/// [`parse_traefik`] of a parsed object: other statuses are [`LineResult::NotClose`].
pub fn traefik_object(obj: &serde_json::Map<String, Value>) -> LineResult {
    if !looks_traefik(obj) {
        return LineResult::NoMatch;
    }
    if get(obj, "DownstreamStatus").and_then(as_f64) != Some(101.0) {
        return LineResult::NotClose;
    }
    let mut r = Record {
        source: LogFormat::Traefik.as_str(),
        ..Default::default()
    };
    match get(obj, "Duration").and_then(as_f64) {
        Some(ns) if ns >= 0.0 => r.duration_s = Some(ns / 1e9),
        _ => return LineResult::Half("field `Duration` is not a number of ns".into()),
    }
    r.start_ns = get(obj, "StartUTC").and_then(|v| as_time(v, "StartUTC").ok());
    r.end_ns = get(obj, "time").and_then(|v| as_time(v, "time").ok());
    if let Some(v) = get(obj, "ClientAddr") {
        let (ip, port) = split_peer(&as_text(v));
        r.client_ip = ip;
        r.client_port = port;
    } else {
        r.client_ip = get(obj, "ClientHost").map(as_text);
    }
    r.host = get(obj, "RequestHost").map(as_text);
    r.path = get(obj, "RequestPath").map(as_text);
    r.user_agent = get(obj, "request_User-Agent").map(as_text);
    if let Some(v) = get(obj, "ServiceAddr") {
        let (ip, port) = split_peer(&as_text(v));
        r.server_ip = ip;
        r.server_port = port;
    }
    LineResult::Record(Box::new(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_paths_reach_nested_and_flat_keys() {
        let o = object(r#"{"a":{"b":{"c":7}},"x.y":1,"n":null,"d":"-"}"#).unwrap();
        assert_eq!(get(&o, "a.b.c"), Some(&Value::from(7)));
        assert_eq!(get(&o, "x.y"), Some(&Value::from(1)));
        assert_eq!(get(&o, "n"), None);
        assert_eq!(get(&o, "d"), None);
        assert_eq!(get(&o, "a.z"), None);
    }

    #[test]
    fn code_as_string_is_read_and_garbage_is_half() {
        let m = FieldMap::parse("code=c").unwrap();
        assert!(matches!(
            parse_mapped(r#"{"c":"1001"}"#, Some(&m)),
            LineResult::Record(r) if r.close_code == Some(1001)
        ));
        assert!(matches!(
            parse_mapped(r#"{"c":"oops"}"#, Some(&m)),
            LineResult::Half(_)
        ));
        // A number that is not a close code is a line of the format, not a close.
        assert_eq!(
            parse_mapped(r#"{"c":70000}"#, Some(&m)),
            LineResult::NotClose
        );
        assert_eq!(
            parse_mapped(r#"{"other":1}"#, Some(&m)),
            LineResult::NoMatch
        );
    }

    #[test]
    fn http_request_lines_are_not_closes_with_or_without_a_map() {
        let m = FieldMap::parse("code=code,session=sid").unwrap();
        for code in [200, 404, 500, 101] {
            let l = format!(
                r#"{{"time":"2026-11-22T10:00:00Z","msg":"http request","path":"/api","code":{code},"duration":0.012}}"#
            );
            assert_eq!(parse_mapped(&l, None), LineResult::NotClose, "{l}");
            assert_eq!(parse_mapped(&l, Some(&m)), LineResult::NotClose, "{l}");
        }
        // Default names: a code that is no number is an app's error code, not a close.
        assert_eq!(
            parse_mapped(r#"{"msg":"read failed","code":"ECONNRESET"}"#, None),
            LineResult::NotClose
        );
        let close = r#"{"time":"2026-11-22T10:00:00Z","msg":"ws closed","sid":"a1","code":1006}"#;
        assert!(matches!(
            parse_mapped(close, Some(&m)),
            LineResult::Record(r) if r.close_code == Some(1006) && r.session_id.as_deref() == Some("a1")
        ));
        assert!(matches!(
            parse_mapped(r#"{"closeCode":"GOING_AWAY"}"#, None),
            LineResult::Record(r) if r.close_code == Some(1001)
        ));
        // A duration alone is no close (HTTP request logs carry durations too).
        assert_eq!(
            parse_mapped(r#"{"duration":0.5}"#, None),
            LineResult::NoMatch
        );
    }

    #[test]
    fn apigw_connect_and_traefik_200_are_lines_of_their_format_not_closes() {
        let connect = r#"{"requestContext":{"routeKey":"$connect","eventType":"CONNECT","connectionId":"x="}}"#;
        assert_eq!(parse_apigw(connect), LineResult::NotClose);
        assert_eq!(parse_apigw(r#"{"a":1}"#), LineResult::NoMatch);
        let t = r#"{"DownstreamStatus":200,"Duration":1000}"#;
        assert_eq!(parse_traefik(t), LineResult::NotClose);
    }
}
