//! Which format a log file holds, from its first non-empty lines.
//!
//! Contract: [`detect`] reads at most [`DETECT_LINES`] non-empty
//! lines (each cut at [`MAX_LINE`](super::MAX_LINE)) and answers the format of the first
//! line that some format recognises: a JSON object with API Gateway fields
//! (`disconnectStatusCode`, `connectionId`, `eventType`, ...) is `aws_apigw`, with
//! `DownstreamStatus` and `Duration` `traefik`; an ALB entry (`ws`/`http`... then an ISO
//! time and `app/...`) `aws_alb`; an nginx `combined` line `nginx`; a WebSocket library
//! message that library. When no line decides: `json` if JSON objects were seen (read with
//! the field map, or the default names), else `None`, and the file is read with every
//! library's messages (application logs often say nothing about WebSockets for a while).

use std::io::BufRead;

use super::{access, json, text, CappedLines, LogFormat, DETECT_LINES};

/// The format of the file behind `r`, if its first lines tell.
pub fn detect<R: BufRead>(r: R, _have_map: bool) -> std::io::Result<Option<LogFormat>> {
    let mut lines = CappedLines::new(r);
    let mut seen = 0;
    let mut json_seen = false;
    while seen < DETECT_LINES {
        let Some((line, _)) = lines.next_line()? else {
            break;
        };
        let line = String::from_utf8_lossy(line);
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        seen += 1;
        if let Some(f) = detect_line(line, &mut json_seen) {
            return Ok(Some(f));
        }
    }
    Ok(json_seen.then_some(LogFormat::Json))
}

/// The format one line shows, if any.
pub fn detect_line(line: &str, json_seen: &mut bool) -> Option<LogFormat> {
    if let Some(obj) = json::object(line) {
        if json::looks_apigw(&obj) {
            return Some(LogFormat::AwsApigw);
        }
        if json::looks_traefik(&obj) {
            return Some(LogFormat::Traefik);
        }
        *json_seen = true;
        return None;
    }
    if access::looks_alb(line) {
        return Some(LogFormat::AwsAlb);
    }
    if access::looks_nginx(line) {
        return Some(LogFormat::Nginx);
    }
    text::which(line)
}
