//! Proxy logs that say how a WebSocket session ended at the proxy: nginx's error log
//! (the idle cuts of upgraded connections) and HAProxy's `option httplog` lines.
//!
//! Contract:
//! - nginx error log (`YYYY/MM/DD HH:MM:SS [level] pid#tid: *conn message`): a line
//!   `upstream timed out (110: Connection timed out) while proxying upgraded connection,
//!   client: IP, server: ..., request: "GET /path HTTP/1.1", ...` (logged at level `info`)
//!   is a proxy cut: a record with `ending` abnormal (1006: nginx closes both legs and
//!   sends no Close frame), `proxy_cut` set, the client address, path and Host, and the
//!   line's time as `end_ns` (the error log has no zone: read as UTC). Other lines of the
//!   shape are [`LineResult::NotClose`]. [`join_proxy_cuts`] then folds each cut into the
//!   nginx access line of the same session (same client address and request path, times
//!   at most [`JOIN_WINDOW_S`] apart, the nearest first), so the session is one row:
//!   the access line's duration with the error log's ending.
//! - HAProxy `option httplog` (`[tag[pid]: ]IP:PORT [accept date] frontend
//!   backend/server TR/Tw/Tc/Tr/Ta status bytes cookie cookie TTTT ... "request"`), as a
//!   syslog daemon writes it: status 101 lines are sessions; the last timer (`Ta`, which
//!   for a tunnel runs until it closes; `Tt` in HAProxy's older docs) is the duration, the
//!   accept date (read as UTC: HAProxy logs local time) the start. The first two
//!   characters of the termination state say how it ended: `cD` / `sD` (client or server
//!   timeout during data: the idle cut of `timeout tunnel`, no Close frame) are abnormal
//!   with `proxy_cut` set; `CD` / `SD` (aborted by one side) and `--` (closed normally)
//!   leave the ending unknown (the line holds no close code) with `proxy_cut` false;
//!   other states are unknown too. Other statuses are [`LineResult::NotClose`].

use std::sync::LazyLock;

use chrono::NaiveDateTime;
use regex::Regex;

use super::{split_peer, LineResult, LogFormat, Record};
use crate::session::Ending;

/// An nginx error line and its access line: at most this far apart in time.
pub const JOIN_WINDOW_S: f64 = 2.0;

static NGINX_ERROR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}) \[([a-z]+)\] \d+#\d+: (?:\*\d+ )?(.*)$")
        .unwrap_or_else(|e| panic!("bad built-in pattern: {e}"))
});

static HAPROXY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?:^|: )(\S+:\d+) \[(\d{2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2}\.\d{3})\] (\S+) (\S+) (-?\d+)/(-?\d+)/(-?\d+)/(-?\d+)/\+?(-?\d+) (\d{3}) \+?\d+ \S+ \S+ (\S{4}) \S+ \S+(?: \{[^}]*\})* "((?:[^"\\]|\\.)*)"?"#,
    )
    .unwrap_or_else(|e| panic!("bad built-in pattern: {e}"))
});

/// Cheap test: could this line be an nginx error-log line?
pub fn looks_nginx_error(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 22 && b[4] == b'/' && b[7] == b'/' && b[10] == b' ' && b[19] == b' ' && b[20] == b'['
}

/// Cheap test: could this line be a HAProxy httplog line?
pub fn looks_haproxy(line: &str) -> bool {
    line.contains("] ") && line.contains(" [") && line.contains('/') && HAPROXY.is_match(line)
}

fn utc(s: &str, fmt: &str) -> Option<i64> {
    NaiveDateTime::parse_from_str(s, fmt)
        .ok()?
        .and_utc()
        .timestamp_nanos_opt()
}

/// The value of `name: value,` in an nginx error line's context (`client: 1.2.3.4, `).
fn context<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    let at = msg.find(&format!(", {name}: "))? + name.len() + 4;
    let rest = &msg[at..];
    let v = if let Some(q) = rest.strip_prefix('"') {
        &q[..q.find('"').unwrap_or(q.len())]
    } else {
        &rest[..rest.find(',').unwrap_or(rest.len())]
    };
    Some(v).filter(|v| !v.is_empty())
}

/// One nginx error-log line.
pub fn parse_nginx_error(line: &str) -> LineResult {
    if !looks_nginx_error(line) {
        return LineResult::NoMatch;
    }
    let Some(c) = NGINX_ERROR.captures(line) else {
        return LineResult::NoMatch;
    };
    let msg = &c[3];
    if !(msg.starts_with("upstream timed out")
        && msg.contains("while proxying upgraded connection"))
    {
        return LineResult::NotClose;
    }
    let Some(t) = utc(&c[1], "%Y/%m/%d %H:%M:%S") else {
        return LineResult::Half(format!("time `{}` not understood", &c[1]));
    };
    let mut r = Record {
        source: LogFormat::NginxError.as_str(),
        end_ns: Some(t),
        ending: Some(Ending::Abnormal),
        close_code: Some(1006),
        proxy_cut: Some(true),
        ..Default::default()
    };
    r.client_ip = context(msg, "client").map(str::to_string);
    r.path = context(msg, "request").and_then(|q| q.split(' ').nth(1).map(str::to_string));
    r.host = context(msg, "host").map(str::to_string);
    LineResult::Record(Box::new(r))
}

/// One HAProxy httplog line.
pub fn parse_haproxy(line: &str) -> LineResult {
    let Some(c) = HAPROXY.captures(line) else {
        return LineResult::NoMatch;
    };
    if &c[10] != "101" {
        return LineResult::NotClose;
    }
    let Some(start) = utc(&c[2], "%d/%b/%Y:%H:%M:%S%.3f") else {
        return LineResult::Half(format!("accept date `{}` not understood", &c[2]));
    };
    let mut r = Record {
        source: LogFormat::Haproxy.as_str(),
        start_ns: Some(start),
        ..Default::default()
    };
    let (ip, port) = split_peer(&c[1]);
    r.client_ip = ip;
    r.client_port = port;
    if let Ok(ms) = c[9].parse::<i64>() {
        if ms >= 0 {
            r.duration_s = Some(ms as f64 / 1000.0);
            r.end_ns = start.checked_add(ms * 1_000_000);
        }
    }
    r.path = c
        .get(12)
        .and_then(|q| q.as_str().split(' ').nth(1).map(str::to_string));
    let state = &c[11][..2];
    match state {
        "cD" | "sD" => {
            r.ending = Some(Ending::Abnormal);
            r.close_code = Some(1006);
            r.proxy_cut = Some(true);
        }
        _ => r.proxy_cut = Some(false),
    }
    LineResult::Record(Box::new(r))
}

/// Fold each nginx error-log cut into the nginx access line of the same session (same
/// client address and path, nearest in time within [`JOIN_WINDOW_S`]): the access row
/// becomes abnormal (1006) with `proxy_cut`, and the error row is dropped. A cut whose
/// access line is not among the rows stays a row of its own. Returns the files
/// (`capture`) of the error rows folded, one entry per row.
pub fn join_proxy_cuts(rows: &mut Vec<Record>) -> Vec<String> {
    let nginx = LogFormat::Nginx.as_str();
    let error = LogFormat::NginxError.as_str();
    let mut access: Vec<usize> = (0..rows.len())
        .filter(|&i| rows[i].source == nginx)
        .collect();
    if access.is_empty() {
        return Vec::new();
    }
    access.sort_by_key(|&i| rows[i].end_ns);
    let mut used = vec![false; rows.len()];
    let mut drop = vec![false; rows.len()];
    let mut folded = 0;
    for e in 0..rows.len() {
        if rows[e].source != error {
            continue;
        }
        let (Some(t), Some(ip)) = (rows[e].end_ns, rows[e].client_ip.clone()) else {
            continue;
        };
        let best = access
            .iter()
            .copied()
            .filter(|&a| !used[a])
            .filter(|&a| rows[a].client_ip.as_deref() == Some(ip.as_str()))
            .filter(|&a| rows[a].path == rows[e].path)
            .filter_map(|a| {
                let d = (rows[a].end_ns? - t).abs();
                ((d as f64) <= JOIN_WINDOW_S * 1e9).then_some((d, a))
            })
            .min();
        if let Some((_, a)) = best {
            used[a] = true;
            drop[e] = true;
            folded += 1;
            let r = &mut rows[a];
            r.ending = Some(Ending::Abnormal);
            r.close_code = Some(1006);
            r.proxy_cut = Some(true);
        }
    }
    let mut i = 0;
    let mut from = Vec::new();
    rows.retain(|r| {
        let keep = !drop[i];
        if !keep {
            from.push(r.capture.clone());
        }
        i += 1;
        keep
    });
    debug_assert_eq!(from.len() as u64, folded);
    from
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_nginx_upgraded_timeout_is_a_cut() {
        let l = r#"2026/12/05 00:45:04 [info] 19495#19495: *2 upstream timed out (110: Connection timed out) while proxying upgraded connection, client: 127.0.0.2, server: , request: "GET /echo?s=1 HTTP/1.1", upstream: "http://127.0.0.1:8871/echo?s=1", host: "127.0.0.1:8870""#;
        let LineResult::Record(r) = parse_nginx_error(l) else {
            panic!("not a record")
        };
        assert_eq!(r.client_ip.as_deref(), Some("127.0.0.2"));
        assert_eq!(r.path.as_deref(), Some("/echo?s=1"));
        assert_eq!(r.host.as_deref(), Some("127.0.0.1:8870"));
        assert_eq!(r.proxy_cut, Some(true));
        let other = "2026/12/05 00:45:09 [notice] 19495#19495: gracefully shutting down";
        assert_eq!(parse_nginx_error(other), LineResult::NotClose);
    }

    #[test]
    fn haproxy_states_cd_cut_and_dashes_normal() {
        let cut = r#"Dec  5 00:44:50 haproxy[19366]: 127.0.0.30:51265 [05/Dec/2026:00:44:48.456] fe_ws be_ws/up1 0/0/0/2/2003 101 222 - - cD-- 4/4/3/3/0 0/0 "GET /echo?s=1 HTTP/1.1""#;
        let LineResult::Record(r) = parse_haproxy(cut) else {
            panic!("not a record")
        };
        assert_eq!(r.proxy_cut, Some(true));
        assert_eq!(r.duration_s, Some(2.003));
        assert_eq!(r.client_port, Some(51265));
        assert_eq!(r.path.as_deref(), Some("/echo?s=1"));
        let ok = r#"Dec  5 00:44:52 haproxy[19366]: 127.0.0.32:52727 [05/Dec/2026:00:44:48.859] fe_ws be_ws/up1 0/0/1/1/3223 101 551 - - ---- 2/2/1/1/0 0/0 "GET /echo?s=3 HTTP/1.1""#;
        let LineResult::Record(r) = parse_haproxy(ok) else {
            panic!("not a record")
        };
        assert_eq!(r.proxy_cut, Some(false));
        assert_eq!(r.ending, None);
        let bad = r#"Dec  5 00:44:48 haproxy[19366]: 127.0.0.1:49532 [05/Dec/2026:00:44:48.356] fe_ws fe_ws/<NOSRV> -1/-1/-1/-1/0 400 0 - - CR-- 1/1/0/0/0 0/0 "<BADREQ>""#;
        assert_eq!(parse_haproxy(bad), LineResult::NotClose);
    }
}
