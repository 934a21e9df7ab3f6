//! Proxy access logs that carry only a WebSocket session's duration.
//!
//! Contract: only upgrades answered `101` are sessions; other requests of the format are
//! [`LineResult::NotClose`] (lines of the format, counted, never rows); lines of another
//! shape are no match. In a file that also holds close events of another format (an
//! application log with access lines), the reader counts even the 101 lines as not
//! closes (see `super::read_records`). These logs hold no close code: `close_code` and `ending`
//! stay null, `end_time` is the log line's time (written when the connection closed) and
//! `duration_s` is the proxy's duration, so `start_time = end_time - duration_s`.
//!
//! - nginx: the `combined` format, optionally followed by more fields, of which the first
//!   bare decimal number (`123.456`) is taken as `$request_time` (seconds with ms
//!   resolution, for a WebSocket the whole connection). Supported `log_format`s are thus
//!   `combined` (no duration: `duration_s` null) and the common
//!   `'$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
//!   "$http_referer" "$http_user_agent" $request_time'` (also with quoted fields such as
//!   `"$http_x_forwarded_for"` between the user agent and `$request_time`).
//! - AWS ALB: space-separated fields with quoted strings, in the documented order `type
//!   time elb client:port target:port request_processing_time target_processing_time
//!   response_processing_time elb_status_code target_status_code received_bytes sent_bytes
//!   "request" "user_agent" ssl_cipher ssl_protocol target_group_arn "trace_id"
//!   "domain_name" "chosen_cert_arn" matched_rule_priority request_creation_time ...`.
//!   Only `ws` / `wss` entries are sessions. For WebSockets `time` is when the connection
//!   closed, and `request_creation_time` when the upgrade request arrived, so the duration
//!   is `time - request_creation_time` (the three `*_processing_time` fields only cover
//!   the upgrade exchange). Fields after `request_creation_time` (`actions_executed`, ...,
//!   `TID_...`, and whatever AWS appends next) are ignored. Entries written before AWS
//!   added `request_creation_time` (16 or 18 fields) are sessions without a duration.

use std::sync::LazyLock;

use regex::Regex;

use super::{parse_time, split_peer, LineResult, LogFormat, Record};

static NGINX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"^(\S+) \S+ \S+ \[([^\]]{1,64})\] "((?:[^"\\]|\\.)*)" (\d{3}) (?:\d+|-) "(?:[^"\\]|\\.)*" "((?:[^"\\]|\\.)*)"(.*)$"#,
    )
    .unwrap_or_else(|e| panic!("bad built-in pattern: {e}"))
});

/// Does this line have the nginx `combined` shape (any status)?
pub fn looks_nginx(line: &str) -> bool {
    line.contains("] \"") && NGINX.is_match(line)
}

fn path_of(request: &str) -> Option<String> {
    request.split(' ').nth(1).map(str::to_string)
}

/// Fields separated by spaces; `"..."` is one field (quotes removed, `\"` kept).
fn fields(line: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() && out.len() < max {
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        if b[i] == b'"' {
            let start = i + 1;
            let mut j = start;
            while j < b.len() && b[j] != b'"' {
                if b[j] == b'\\' {
                    j += 1;
                }
                j += 1;
            }
            let end = j.min(b.len());
            out.push(line.get(start..end).unwrap_or(""));
            i = j + 1;
        } else {
            let start = i;
            while i < b.len() && b[i] != b' ' {
                i += 1;
            }
            out.push(&line[start..i]);
        }
    }
    out
}

/// An nginx access-log line (status 101 only).
pub fn parse_nginx(line: &str) -> LineResult {
    // Most lines of a log are other requests: their shape is checked without captures
    // (several times faster), and only a line with a 101 in it is taken apart.
    if !line.contains("\" 101 ") {
        return if NGINX.is_match(line) {
            LineResult::NotClose
        } else {
            LineResult::NoMatch
        };
    }
    let Some(c) = NGINX.captures(line) else {
        return LineResult::NoMatch;
    };
    if &c[4] != "101" {
        return LineResult::NotClose;
    }
    let mut r = Record {
        source: LogFormat::Nginx.as_str(),
        ..Default::default()
    };
    match parse_time(&c[2]) {
        Some(t) => r.end_ns = Some(t),
        None => return LineResult::Half(format!("time `{}` not understood", short(&c[2]))),
    }
    let (ip, port) = split_peer(&c[1]);
    r.client_ip = ip;
    r.client_port = port;
    r.path = path_of(&c[3]);
    r.user_agent = Some(c[5].to_string()).filter(|s| !s.is_empty() && s != "-");
    r.duration_s = fields(&c[6], 64)
        .into_iter()
        .find(|f| f.contains('.') && f.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
        .and_then(|f| f.parse::<f64>().ok());
    LineResult::Record(Box::new(r))
}

/// Does this line look like an ALB access-log entry (any type)?
pub fn looks_alb(line: &str) -> bool {
    let f = fields(line, 3);
    f.len() == 3
        && matches!(f[0], "http" | "https" | "h2" | "grpcs" | "ws" | "wss")
        && f[1].len() >= 20
        && f[1].ends_with('Z')
        && parse_time(f[1]).is_some()
        && f[2].starts_with("app/")
}

/// At most 40 characters of a field, for messages.
fn short(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Could this line be an ALB entry? Its first field is one of the entry types (a cheap
/// test before [`looks_alb`]).
pub fn alb_prefix(line: &str) -> bool {
    ["http ", "https ", "h2 ", "grpcs ", "ws ", "wss "]
        .iter()
        .any(|p| line.starts_with(p))
}

/// An AWS ALB access-log entry (`ws` / `wss` with status 101 only; other entries that
/// [`looks_alb`] are not closes).
pub fn parse_alb(line: &str) -> LineResult {
    if !(line.starts_with("ws ") || line.starts_with("wss ")) {
        return if alb_prefix(line) && looks_alb(line) {
            LineResult::NotClose
        } else {
            LineResult::NoMatch
        };
    }
    let f = fields(line, 40);
    // Entries before `request_creation_time` was added (2018) end after `trace_id` (16
    // fields) or after `domain_name` and `chosen_cert_arn` (18): a session without duration.
    if f.len() < 16 {
        return LineResult::Half(format!(
            "ALB {} entry with {} fields, expected at least 16",
            f[0],
            f.len()
        ));
    }
    if f[8] != "101" {
        return LineResult::NotClose;
    }
    let mut r = Record {
        source: LogFormat::AwsAlb.as_str(),
        ..Default::default()
    };
    let Some(end) = parse_time(f[1]) else {
        return LineResult::Half(format!("time `{}` not understood", short(f[1])));
    };
    r.end_ns = Some(end);
    if let Some(created) = f.get(21) {
        match parse_time(created) {
            Some(start) if start <= end => {
                r.start_ns = Some(start);
                r.duration_s = Some((end - start) as f64 / 1e9);
            }
            _ => {
                return LineResult::Half(format!(
                    "request_creation_time `{}` not understood",
                    short(created)
                ))
            }
        }
    }
    let (ip, port) = split_peer(f[3]);
    r.client_ip = ip;
    r.client_port = port;
    let (ip, port) = split_peer(f[4]);
    r.server_ip = ip;
    r.server_port = port;
    // "GET http://host:80/path HTTP/1.1"
    if let Some(url) = f[12].split(' ').nth(1) {
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        match rest.find('/') {
            Some(i) => {
                r.host = Some(rest[..i].to_string());
                r.path = Some(rest[i..].to_string());
            }
            None => r.host = Some(rest.to_string()),
        }
    }
    r.user_agent = Some(f[13].to_string()).filter(|s| !s.is_empty() && s != "-");
    LineResult::Record(Box::new(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_keep_quoted_strings_whole() {
        assert_eq!(
            fields(r#"a "b c" d "e \" f""#, 10),
            vec!["a", "b c", "d", r#"e \" f"#]
        );
        assert_eq!(fields(r#"a "unterminated"#, 10), vec!["a", "unterminated"]);
    }

    #[test]
    fn nginx_non_101_is_a_line_of_the_format_not_a_close() {
        let l = r#"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/8.0" 0.001"#;
        assert_eq!(parse_nginx(l), LineResult::NotClose);
        assert!(looks_nginx(l));
        assert_eq!(parse_nginx("GET / 200"), LineResult::NoMatch);
    }
}
