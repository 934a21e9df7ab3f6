//! Log files in, session rows out (the same session table as captures).
//!
//! Contract:
//! - [`read_records`] reads one log (any `BufRead`) into [`Record`]s and [`FileStats`]: a
//!   [`LogFormat`] is picked from the first non-empty lines unless one is forced, and every
//!   record that says how a WebSocket connection ended becomes one record. This part is
//!   pure Rust with no polars (it builds with `--no-default-features`, which is what the
//!   fuzz targets use). The session table of log rows is built one floor up, in
//!   `table::session` (`records_frame`), with exactly the columns, order and types of the
//!   capture rows; columns a log cannot fill are null.
//! - A line that matches no format is counted per file ([`FileStats::unmatched_lines`]),
//!   never an error. A record that half-matches (a JSON object whose code is not a number,
//!   a library message whose code does not fit in 16 bits) is reported with its line
//!   number. Which files are logs, and opening them, is [`crate::inputs`]'s job; reading
//!   them into the session table is the commands' ([`crate::cmd`]).
//! - One close, one row: a library's own line and the application's line about the same
//!   close are merged into one record ([`merge`] has the rule); distinct sessions that
//!   share a code on neighbouring lines are never merged.
//! - Times: a line's own timestamp is its `end_time` (no zone: UTC). mitmproxy's close
//!   lines carry none; they take the clock of mitmproxy's log lines before them
//!   (`[HH:MM:SS.mmm]`, time of day only) and the date of the file's modification time
//!   (the day its last line was written; the clock going back by more than 12 hours is a
//!   new day). Without a modification time (stdin, fuzzing) their `end_time` stays null.
//! - Untrusted input: lines are cut at [`MAX_LINE`] bytes (and counted); nothing is
//!   allocated by a length read from the input; no input makes this module panic (each
//!   family has a fuzz target: `fuzz/fuzz_targets/logs_*.rs`).
//!
//! Formats live in one file per family: [`json`] (JSON lines with a field map, the AWS
//! API Gateway preset, Traefik), [`text`] (messages of WebSocket libraries), [`access`]
//! (nginx and AWS ALB access logs), [`detect`] (which format a file holds).

pub mod access;
pub mod detect;
pub mod json;
pub mod merge;
pub mod text;

use std::io::BufRead;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDateTime};

use crate::session::{Ending, Initiator};

/// Longest line kept, in bytes; the rest of a longer line is skipped (and counted).
pub const MAX_LINE: usize = 64 * 1024;

/// How many non-empty lines [`detect`] looks at.
pub const DETECT_LINES: usize = 50;

/// A log format. The names (`as_str`, and the `--log-format` values) are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum LogFormat {
    /// JSON lines read through `--map` (or the default field names).
    Json,
    /// AWS API Gateway WebSocket `$disconnect` events / access-log lines.
    AwsApigw,
    /// Traefik JSON access log (`DownstreamStatus` 101, `Duration` in ns).
    Traefik,
    /// Go gorilla/websocket `websocket: close 1006 (abnormal closure): ...`.
    Gorilla,
    /// Go coder/websocket (formerly nhooyr.io/websocket) `received close frame: status = ...`.
    CoderWebsocket,
    /// Python websockets `ConnectionClosed` messages (all three generations).
    PythonWebsockets,
    /// Spring `CloseStatus[code=..., reason=...]`.
    Spring,
    /// Jakarta/javax WebSocket `CloseReason[1001,...]` and `CloseReason: code [..], reason [..]`.
    Jakarta,
    /// Jetty `{1001=SHUTDOWN,reason}` and Jetty 9 `CloseInfo[code=..,reason=..]`.
    Jetty,
    /// Rust tungstenite `CloseFrame { code: Away, reason: ... }`.
    Tungstenite,
    /// mitmproxy (mitmdump) `WebSocket connection closed by client: 1000 ...`.
    Mitmproxy,
    /// Browser consoles `WebSocket connection to 'wss://...' failed`.
    Browser,
    /// nginx access log, `combined` optionally followed by `$request_time`.
    Nginx,
    /// AWS Application Load Balancer access log, `ws` / `wss` entries.
    AwsAlb,
}

impl LogFormat {
    pub fn as_str(&self) -> &'static str {
        use LogFormat::*;
        match self {
            Json => "json",
            AwsApigw => "aws_apigw",
            Traefik => "traefik",
            Gorilla => "gorilla",
            CoderWebsocket => "coder_websocket",
            PythonWebsockets => "python_websockets",
            Spring => "spring",
            Jakarta => "jakarta",
            Jetty => "jetty",
            Tungstenite => "tungstenite",
            Mitmproxy => "mitmproxy",
            Browser => "browser",
            Nginx => "nginx",
            AwsAlb => "aws_alb",
        }
    }

    /// Formats whose lines are library messages inside arbitrary application logs. A file
    /// detected as one of them is read with all of them (apps mix libraries).
    pub fn is_text(&self) -> bool {
        use LogFormat::*;
        matches!(
            self,
            Gorilla
                | CoderWebsocket
                | PythonWebsockets
                | Spring
                | Jakarta
                | Jetty
                | Tungstenite
                | Mitmproxy
                | Browser
        )
    }

    pub const ALL: &'static [LogFormat] = &[
        LogFormat::Json,
        LogFormat::AwsApigw,
        LogFormat::Traefik,
        LogFormat::Gorilla,
        LogFormat::CoderWebsocket,
        LogFormat::PythonWebsockets,
        LogFormat::Spring,
        LogFormat::Jakarta,
        LogFormat::Jetty,
        LogFormat::Tungstenite,
        LogFormat::Mitmproxy,
        LogFormat::Browser,
        LogFormat::Nginx,
        LogFormat::AwsAlb,
    ];
}

impl std::fmt::Display for LogFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the fields of a JSON log line are (`--map code=a.b,reason=...`): dotted paths
/// into nested objects. A field left `None` uses the default names (see [`json`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldMap {
    pub code: Option<String>,
    pub reason: Option<String>,
    pub time: Option<String>,
    pub session: Option<String>,
    pub peer: Option<String>,
    pub duration: Option<String>,
}

/// Why a `--map` value is not a field mapping.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldMapError {
    #[error("`{0}` is not KEY=FIELD")]
    NotKeyField(String),
    #[error("`{0}`: empty field path")]
    EmptyPath(String),
    #[error("unknown key `{0}` (expected code, reason, time, session, peer, duration)")]
    UnknownKey(String),
    #[error("`{0}` given twice")]
    Twice(String),
    #[error("no field given")]
    Empty,
}

impl FieldMap {
    /// Parse `code=close.code,reason=close.reason,time=ts,session=id,peer=addr,duration=d`.
    pub fn parse(s: &str) -> Result<FieldMap, FieldMapError> {
        let mut m = FieldMap::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| FieldMapError::NotKeyField(part.to_string()))?;
            let v = v.trim();
            if v.is_empty() || v.split('.').any(str::is_empty) {
                return Err(FieldMapError::EmptyPath(part.to_string()));
            }
            let slot = match k.trim() {
                "code" => &mut m.code,
                "reason" => &mut m.reason,
                "time" => &mut m.time,
                "session" => &mut m.session,
                "peer" => &mut m.peer,
                "duration" => &mut m.duration,
                other => return Err(FieldMapError::UnknownKey(other.to_string())),
            };
            if slot.is_some() {
                return Err(FieldMapError::Twice(k.trim().to_string()));
            }
            *slot = Some(v.to_string());
        }
        if m == FieldMap::default() {
            return Err(FieldMapError::Empty);
        }
        Ok(m)
    }
}

/// What the caller forces.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    /// Read every file as this format instead of detecting it.
    pub format: Option<LogFormat>,
    /// Field map for JSON lines; given without `format`, files that hold JSON objects and
    /// no better-known format are read as [`LogFormat::Json`].
    pub map: Option<FieldMap>,
}

/// What happened to one file.
#[derive(Debug, Clone, Default)]
pub struct FileStats {
    pub path: PathBuf,
    /// The format detected (or forced); `None` when nothing was recognised.
    pub format: Option<LogFormat>,
    /// Session rows produced.
    pub records: u64,
    /// Non-empty lines that matched no format.
    pub unmatched_lines: u64,
    /// Lines that looked like a record but could not be read: (line number from 1, why).
    /// At most [`MAX_HALF_MATCHED`] are kept per file; `half_matched_total` counts all.
    pub half_matched: Vec<(u64, String)>,
    pub half_matched_total: u64,
    /// Lines longer than [`MAX_LINE`] (cut before parsing).
    pub long_lines: u64,
    /// All lines read, empty ones included.
    pub lines: u64,
    /// Lines folded into another row about the same close ([`merge`]): a library line
    /// merged into the application's, or a library callback repeated for one session.
    pub merged: u64,
}

/// Most half-matched lines listed per file.
pub const MAX_HALF_MATCHED: usize = 1000;

/// Which side of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Client,
    Server,
}

impl Role {
    pub fn other(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Server => "server",
        }
    }
}

impl From<Role> for Initiator {
    fn from(r: Role) -> Initiator {
        match r {
            Role::Client => Initiator::Client,
            Role::Server => Initiator::Server,
        }
    }
}

/// One session read from a log: every field optional. Turned into a session row by
/// [`Record::finish`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    pub source: &'static str,
    /// The log file (set by the command that reads it, `cmd::collect::read_logs`).
    pub capture: String,
    pub session_id: Option<String>,
    pub client_ip: Option<String>,
    pub client_port: Option<u16>,
    pub server_ip: Option<String>,
    pub server_port: Option<u16>,
    /// ns since the epoch, UTC.
    pub start_ns: Option<i64>,
    pub end_ns: Option<i64>,
    pub duration_s: Option<f64>,
    pub host: Option<String>,
    pub path: Option<String>,
    pub user_agent: Option<String>,
    /// When `None` and `close_code` is known, derived from the code
    /// ([`Ending::of_reported`]).
    pub ending: Option<Ending>,
    pub close_code: Option<u16>,
    pub close_reason: Option<String>,
    /// Who sent the first Close, when the line says.
    pub initiator: Option<Initiator>,
    pub client_close_code: Option<u16>,
    pub client_close_reason: Option<String>,
    pub server_close_code: Option<u16>,
    pub server_close_reason: Option<String>,
    pub handshake_completed: Option<bool>,
    pub client_observed_code: Option<u16>,
    pub server_observed_code: Option<u16>,
    /// The logging side, when the line names it (not a column; used by [`merge`]).
    pub role: Option<Role>,
    /// Who wrote the line: the library or the application (not a column; [`merge`]).
    pub voice: Voice,
    /// The logging thread, for library callbacks that run once per session (Jetty 9's
    /// `callApplicationOnClose`; not a column; [`merge`]).
    pub thread: Option<String>,
    /// Line number in the file, from 1 (set by [`read_records`]).
    pub line: u64,
    /// mitmproxy: time of day of the log clock (ns, plus whole days since the file's first
    /// clock), until [`read_records`] anchors it to a date and sets `end_ns`.
    pub clock_ns: Option<i64>,
}

/// Who wrote a log line about a close.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Voice {
    /// The application printed the library's value (an error string, a close status).
    #[default]
    App,
    /// The library's own log message (debug or error logging inside the library).
    Library,
}

impl Record {
    /// A record with a close code (ending derived from it).
    pub fn with_code(source: &'static str, code: u16) -> Record {
        Record {
            source,
            close_code: Some(code),
            ..Default::default()
        }
    }

    /// Record what one side sent (`code`, `reason`) in the per-side columns.
    pub fn set_sent(&mut self, role: Role, code: u16, reason: Option<String>) {
        match role {
            Role::Client => {
                self.client_close_code = Some(code);
                self.client_close_reason = reason;
            }
            Role::Server => {
                self.server_close_code = Some(code);
                self.server_close_reason = reason;
            }
        }
    }

    /// Record the code one side's library reported.
    pub fn set_observed(&mut self, role: Role, code: u16) {
        match role {
            Role::Client => self.client_observed_code = Some(code),
            Role::Server => self.server_observed_code = Some(code),
        }
    }

    /// Derive what the record implies: the ending from the code, the start from end and
    /// duration, the duration from start and end.
    pub fn finish(&mut self) {
        if self.ending.is_none() {
            self.ending = self.close_code.map(Ending::of_reported);
        }
        if let (Some(e), Some(d)) = (self.end_ns, self.duration_s) {
            if self.start_ns.is_none() && d.is_finite() && (0.0..1e10).contains(&d) {
                self.start_ns = e.checked_sub((d * 1e9) as i64);
            }
        }
        if self.duration_s.is_none() {
            if let (Some(s), Some(e)) = (self.start_ns, self.end_ns) {
                self.duration_s = e.checked_sub(s).map(|ns| ns as f64 / 1e9);
            }
        }
    }
}

/// What a format parser says about one line.
#[derive(Debug, Clone, PartialEq)]
pub enum LineResult {
    /// Not this format (or not a line that ends a session).
    NoMatch,
    /// A session ended.
    Record(Box<Record>),
    /// Looked like a record but a field could not be read.
    Half(String),
}

// ---------------------------------------------------------------------------------------
// Times

/// Parse a time as ns since the epoch, UTC: RFC 3339 / ISO 8601 (with `T` or a space,
/// optional fraction, `Z` or an offset; no zone means UTC), nginx `22/Nov/2026:10:00:00
/// +0000` (brackets allowed), Go `2026/11/22 10:00:00`, Tomcat `22-Nov-2026 10:00:00.123`
/// (no zone: UTC), or epoch seconds / ms / µs / ns (chosen by magnitude).
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim().trim_start_matches('[').trim_end_matches(']');
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    if let Ok(n) = s.parse::<i64>() {
        return epoch_ns_int(n);
    }
    if let Ok(n) = s.parse::<f64>() {
        return epoch_ns(n);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return t.timestamp_nanos_opt();
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%d/%b/%Y:%H:%M:%S %z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(s, f) {
            return t.timestamp_nanos_opt();
        }
    }
    let s2 = s.trim_end_matches('Z').replace(',', ".");
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y/%m/%d %H:%M:%S%.f",
        // Tomcat's OneLineFormatter default, `dd-MMM-yyyy HH:mm:ss.SSS` (catalina.out).
        "%d-%b-%Y %H:%M:%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(&s2, f) {
            return t.and_utc().timestamp_nanos_opt();
        }
    }
    None
}

/// Epoch number to ns: under 1e11 seconds, under 1e14 ms, under 1e17 µs, else ns.
pub fn epoch_ns(n: f64) -> Option<i64> {
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    let ns = if n < 1e11 {
        n * 1e9
    } else if n < 1e14 {
        n * 1e6
    } else if n < 1e17 {
        n * 1e3
    } else {
        n
    };
    if ns < 9.2e18 {
        Some(ns as i64)
    } else {
        None
    }
}

/// Integer epoch to ns, exactly (same magnitude rule as [`epoch_ns`]).
pub fn epoch_ns_int(n: i64) -> Option<i64> {
    match n {
        ..0 => None,
        0..100_000_000_000 => n.checked_mul(1_000_000_000),
        100_000_000_000..100_000_000_000_000 => n.checked_mul(1_000_000),
        100_000_000_000_000..100_000_000_000_000_000 => n.checked_mul(1_000),
        _ => Some(n),
    }
}

/// Split `ip:port`, `[v6]:port`, a bare IPv4/IPv6 address or a host name.
pub fn split_peer(s: &str) -> (Option<String>, Option<u16>) {
    let s = s.trim();
    if s.is_empty() || s == "-" {
        return (None, None);
    }
    if let Some(rest) = s.strip_prefix('[') {
        if let Some((ip, port)) = rest.split_once(']') {
            return (
                Some(ip.to_string()),
                port.strip_prefix(':').and_then(|p| p.parse().ok()),
            );
        }
    }
    if s.matches(':').count() == 1 {
        let (ip, port) = s.split_once(':').unwrap_or((s, ""));
        return (Some(ip.to_string()), port.parse().ok());
    }
    (Some(s.to_string()), None)
}

// ---------------------------------------------------------------------------------------
// Lines

/// Reads lines of at most [`MAX_LINE`] bytes; the rest of a longer line is skipped.
pub struct CappedLines<R> {
    inner: R,
    buf: Vec<u8>,
    done: bool,
}

impl<R: BufRead> CappedLines<R> {
    pub fn new(inner: R) -> Self {
        CappedLines {
            inner,
            buf: Vec::new(),
            done: false,
        }
    }

    /// The next line without its `\n` / `\r\n`, and whether it was cut; `Ok(None)` at end.
    pub fn next_line(&mut self) -> std::io::Result<Option<(&[u8], bool)>> {
        self.buf.clear();
        if self.done {
            return Ok(None);
        }
        let mut cut = false;
        let mut any = false;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                self.done = true;
                if !any {
                    return Ok(None);
                }
                break;
            }
            any = true;
            let (take, found) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            let room = MAX_LINE.saturating_sub(self.buf.len());
            if take > room {
                cut = true;
            }
            self.buf.extend_from_slice(&chunk[..take.min(room)]);
            self.inner.consume(if found { take + 1 } else { take });
            if found {
                break;
            }
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(Some((&self.buf, cut)))
    }
}

/// The parser for one file: which format its lines are read as.
pub struct Parser<'a> {
    /// `None`: nothing detected; library messages are tried (see [`detect`]).
    pub format: Option<LogFormat>,
    pub map: Option<&'a FieldMap>,
    /// Text formats: try all library matchers, not only `format`'s.
    pub all_text: bool,
}

impl Parser<'_> {
    pub fn parse(&self, line: &str) -> LineResult {
        use LogFormat::*;
        match self.format {
            Some(Json) => json::parse_mapped(line, self.map),
            Some(AwsApigw) => json::parse_apigw(line),
            Some(Traefik) => json::parse_traefik(line),
            Some(Nginx) => access::parse_nginx(line),
            Some(AwsAlb) => access::parse_alb(line),
            Some(f) if !self.all_text => text::parse_one(f, line),
            _ => text::parse_any(line),
        }
    }
}

impl LogFormat {
    /// The format named `name` (as [`LogFormat::as_str`] writes it).
    pub fn from_name(name: &str) -> Option<LogFormat> {
        LogFormat::ALL.iter().copied().find(|f| f.as_str() == name)
    }
}

/// Read one log's lines (after decompression) into records: parse each line with `parser`,
/// count what did not match, anchor mitmproxy clocks to `modified_ns` (the file's
/// modification time, ns since the epoch; see the module doc), merge library and
/// application lines about the same close ([`merge`]) and [`Record::finish`] every record.
/// `capture` names the file in every record (and in made-up session ids,
/// `capture:LINE`). A read error ends the file: what was read is kept and the error is
/// returned beside it.
pub fn read_records<R: BufRead>(
    r: R,
    parser: &Parser<'_>,
    capture: &str,
    modified_ns: Option<i64>,
) -> (Vec<Record>, FileStats, Option<String>) {
    let mut stats = FileStats {
        format: parser.format,
        ..Default::default()
    };
    let mut rows: Vec<Record> = Vec::new();
    // Close requests (Jetty 9's `close(CloseInfo)` lines), for merge::repeats.
    let mut requests: Vec<merge::CloseRequest> = Vec::new();
    let mut lines = CappedLines::new(r);
    let mut error = None;
    // mitmproxy's log clock: time of day of the last `[HH:MM:SS.mmm]` line, and whole days
    // passed since the first one (the clock going back by more than 12 hours).
    let mut clock: Option<i64> = None;
    let mut days: i64 = 0;
    loop {
        let (line, cut) = match lines.next_line() {
            Ok(Some(l)) => l,
            Ok(None) => break,
            Err(e) => {
                // A corrupt compressed stream: keep what was read, report the file.
                error = Some(format!(
                    "read error after line {} ({} sessions kept): {e}",
                    stats.lines,
                    rows.len()
                ));
                break;
            }
        };
        stats.lines += 1;
        if cut {
            stats.long_lines += 1;
        }
        let text = String::from_utf8_lossy(line);
        if text.trim().is_empty() {
            continue;
        }
        if let Some(tod) = text::mitm_clock(&text) {
            if let Some(prev) = clock {
                if tod + 12 * 3600 * 1_000_000_000 < prev.rem_euclid(DAY_NS) {
                    days += 1;
                }
            }
            clock = Some(days * DAY_NS + tod);
        }
        match parser.parse(&text) {
            LineResult::NoMatch => {
                stats.unmatched_lines += 1;
                if let Some(q) = text::jetty_close_request(&text, stats.lines) {
                    requests.push(q);
                }
            }
            LineResult::Half(why) => {
                stats.half_matched_total += 1;
                if stats.half_matched.len() < MAX_HALF_MATCHED {
                    stats.half_matched.push((stats.lines, why));
                }
            }
            LineResult::Record(mut rec) => {
                rec.line = stats.lines;
                if rec.end_ns.is_none() && rec.source == LogFormat::Mitmproxy.as_str() {
                    rec.clock_ns = clock;
                }
                if stats.format.is_none() {
                    stats.format = LogFormat::from_name(rec.source);
                }
                rows.push(*rec);
            }
        }
    }
    anchor_clocks(&mut rows, clock, modified_ns);
    let (mut rows, merged) = merge::merge(rows, &requests);
    stats.merged = merged;
    for rec in &mut rows {
        rec.finish();
        rec.capture = capture.to_string();
        // Unique across files and runs: the file plus the log's own id, or plus the
        // line number where the log names no connection.
        rec.session_id = Some(match rec.session_id.take() {
            Some(id) => format!("{capture}:{id}"),
            None => format!("{capture}#{}", rec.line),
        });
    }
    stats.records = rows.len() as u64;
    (rows, stats, error)
}

const DAY_NS: i64 = 86_400 * 1_000_000_000;

/// Turn mitmproxy clocks into times: the last clock of the file (`last`, days included)
/// was read on the date of `modified_ns`, or the day before when its time of day is later
/// than the modification's (the file was written around midnight).
fn anchor_clocks(rows: &mut [Record], last: Option<i64>, modified_ns: Option<i64>) {
    let (Some(last), Some(modified)) = (last, modified_ns) else {
        return;
    };
    let mod_day = modified.div_euclid(DAY_NS);
    let mod_tod = modified.rem_euclid(DAY_NS);
    let last_day = last.div_euclid(DAY_NS);
    let last_tod = last.rem_euclid(DAY_NS);
    let file_day = mod_day - i64::from(last_tod > mod_tod);
    let Some(base) = (file_day - last_day).checked_mul(DAY_NS) else {
        return;
    };
    for r in rows.iter_mut() {
        if let Some(c) = r.clock_ns.take() {
            r.end_ns = base.checked_add(c);
        }
    }
}

/// The parser for a file of `format` (`None`: detect it from `head`, the file's first
/// lines), as `cmd::collect::read_file` picks it.
pub fn parser_for<'a, R: BufRead>(head: R, opts: &'a LogOptions) -> std::io::Result<Parser<'a>> {
    let format = match opts.format {
        Some(f) => Some(f),
        None => detect::detect(head, opts.map.is_some())?,
    };
    Ok(Parser {
        format,
        map: opts.map.as_ref(),
        all_text: opts.format.is_none(),
    })
}

/// Read a whole log held in memory (detection, parsing, merging), as `cmd::collect::read_file` reads a
/// file that holds these bytes, without a modification time.
pub fn read_bytes(data: &[u8], opts: &LogOptions) -> (Vec<Record>, FileStats) {
    let parser = match parser_for(data, opts) {
        Ok(p) => p,
        Err(_) => Parser {
            format: opts.format,
            map: opts.map.as_ref(),
            all_text: opts.format.is_none(),
        },
    };
    let (rows, stats, _) = read_records(data, &parser, "-", None);
    (rows, stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_map_parses_dotted_paths() {
        let m = FieldMap::parse("code=close.code, reason=close.reason,time=ts").unwrap();
        assert_eq!(m.code.as_deref(), Some("close.code"));
        assert_eq!(m.reason.as_deref(), Some("close.reason"));
        assert_eq!(m.time.as_deref(), Some("ts"));
        assert_eq!(
            FieldMap::parse("colour=x"),
            Err(FieldMapError::UnknownKey("colour".into()))
        );
        assert_eq!(
            FieldMap::parse("code"),
            Err(FieldMapError::NotKeyField("code".into()))
        );
        assert_eq!(
            FieldMap::parse("code=a..b"),
            Err(FieldMapError::EmptyPath("code=a..b".into()))
        );
        assert_eq!(
            FieldMap::parse("code=a,code=b"),
            Err(FieldMapError::Twice("code".into()))
        );
        assert_eq!(FieldMap::parse(" , "), Err(FieldMapError::Empty));
    }

    #[test]
    fn times_in_every_documented_shape() {
        let iso = parse_time("2026-11-22T10:00:00Z").unwrap();
        assert_eq!(parse_time("2026-11-22T10:00:00+00:00"), Some(iso));
        assert_eq!(parse_time("2026-11-22 11:00:00+01:00"), Some(iso));
        assert_eq!(parse_time("[22/Nov/2026:10:00:00 +0000]"), Some(iso));
        assert_eq!(parse_time("2026/11/22 10:00:00"), Some(iso));
        assert_eq!(parse_time("2026-11-22 10:00:00,000"), Some(iso));
        let secs = iso / 1_000_000_000;
        assert_eq!(parse_time(&secs.to_string()), Some(iso));
        assert_eq!(parse_time(&(secs * 1000).to_string()), Some(iso));
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn peers_split_v4_v6_and_bare() {
        assert_eq!(
            split_peer("10.0.0.1:5000"),
            (Some("10.0.0.1".into()), Some(5000))
        );
        assert_eq!(split_peer("[::1]:443"), (Some("::1".into()), Some(443)));
        assert_eq!(split_peer("::1"), (Some("::1".into()), None));
        assert_eq!(split_peer("-"), (None, None));
    }

    #[test]
    fn capped_lines_cut_long_lines_and_keep_going() {
        let mut data = vec![b'a'; MAX_LINE + 10];
        data.extend_from_slice(b"\nshort\r\nlast");
        let mut l = CappedLines::new(&data[..]);
        let (a, cut) = l.next_line().unwrap().unwrap();
        assert_eq!((a.len(), cut), (MAX_LINE, true));
        assert_eq!(l.next_line().unwrap().unwrap(), (&b"short"[..], false));
        assert_eq!(l.next_line().unwrap().unwrap(), (&b"last"[..], false));
        assert!(l.next_line().unwrap().is_none());
    }

    #[test]
    fn endings_from_codes() {
        assert_eq!(Ending::of_reported(1000), Ending::Normal);
        assert_eq!(Ending::of_reported(1005), Ending::NoStatus);
        assert_eq!(Ending::of_reported(1006), Ending::Abnormal);
        assert_eq!(Ending::of_reported(4001), Ending::Announced);
    }
}
