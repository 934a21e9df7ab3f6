//! Log files in, session rows out (the same session table as captures).
//!
//! Contract:
//! - [`read_records`] reads one log (any `BufRead`) into [`Record`]s and [`FileStats`].
//!   Lines are recognised one by one, not files: each line is tried against the formats
//!   that can match it ([`Parser`]; a one-pass prefilter of fixed strings first, so a line
//!   no format can take costs one scan), so a file may hold several formats and an access
//!   log's lines in an application log never hide the library lines after them.
//!   `--log-format NAME` forces one format for every line. `--pattern`s
//!   ([`pattern::LinePattern`]) are tried on the lines no built-in format took. Every line
//!   that says how a WebSocket connection ended becomes one record. This part is
//!   pure Rust with no polars (it builds with `--no-default-features`, which is what the
//!   fuzz targets use). The session table of log rows is built one floor up, in
//!   `table::session` (`records_frame`), with exactly the columns, order and types of the
//!   capture rows; columns a log cannot fill are null.
//! - Each non-empty line is counted once per file ([`FileStats`]): a close event, a line a
//!   format recognised that is not a close ([`FileStats::not_close_events`]: an HTTP
//!   request's JSON line with `"code":200`, an nginx 200, Jetty's close request), a half
//!   match, or unmatched ([`FileStats::unmatched_lines`]); never an error. A record that
//!   half-matches (a mapped JSON code that is neither a number nor a code name, a library
//!   message whose code does not fit in 16 bits) is reported with its line number. Which
//!   files are logs, and opening them, is [`crate::inputs`]'s job; reading them into the
//!   session table is the commands' ([`crate::cmd`]).
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
//! - Access logs (nginx, AWS ALB, Traefik) hold sessions without close codes. Their 101
//!   lines are rows only in a file that holds no close event of another format; in an
//!   application log that also holds close lines (a Go service logging its requests in the
//!   combined format next to gorilla's errors), the close lines say how those sessions
//!   ended, so the access lines are counted as not closes, never rows (a session is not
//!   counted twice).
//!
//! Formats live in one file per family: [`json`] (JSON lines with a field map, the AWS
//! API Gateway preset, Traefik), [`text`] (messages of WebSocket libraries), [`access`]
//! (nginx and AWS ALB access logs), [`pattern`] (`--pattern`), [`fields`] (named fields to a
//! record, shared by JSON lines and patterns), [`detect`] (whether a file's first lines
//! hold a log).

pub mod access;
pub mod detect;
pub mod fields;
pub mod json;
pub mod merge;
pub mod pattern;
pub mod proxy;
pub mod text;

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

use chrono::{DateTime, NaiveDateTime};

use crate::session::{Ending, Initiator};

/// Longest line kept, in bytes; the rest of a longer line is skipped (and counted).
pub const MAX_LINE: usize = 64 * 1024;

/// Lowest and highest close code a line can report (RFC 6455 7.4: 1000-2999 for the
/// protocol, 3000-3999 registered, 4000-4999 private; 1005, 1006 and 1015 are what
/// libraries report for no status, no Close and TLS failures).
pub const CLOSE_CODES: std::ops::RangeInclusive<u16> = 1000..=4999;

/// The `source` of rows read through a `--pattern` ([`pattern`]).
pub const PATTERN_SOURCE: &str = "pattern";

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
    /// nginx error log: `upstream timed out ... while proxying upgraded connection`
    /// (level `info`), a proxy's idle cut ([`proxy`]).
    NginxError,
    /// HAProxy `option httplog` lines with status 101 ([`proxy`]).
    Haproxy,
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
            NginxError => "nginx_error",
            Haproxy => "haproxy",
        }
    }

    /// This format's bit in a mask of formats (`text::parse_masked`).
    pub fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// Access logs: sessions without close codes (see the module doc for when their lines
    /// are rows).
    pub fn is_access(self) -> bool {
        matches!(
            self,
            LogFormat::Nginx
                | LogFormat::AwsAlb
                | LogFormat::Traefik
                | LogFormat::NginxError
                | LogFormat::Haproxy
        )
    }

    /// Formats whose lines are library messages inside arbitrary application logs.
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
        LogFormat::NginxError,
        LogFormat::Haproxy,
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

/// What the caller says about the logs (`--log-format`, `--map`, `--pattern`).
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    /// Read every line as this format instead of recognising each line's format.
    pub format: Option<LogFormat>,
    /// Field map for JSON lines. Every line that is a JSON object is read as JSON, with or
    /// without a map (the map only says where the fields are).
    pub map: Option<FieldMap>,
    /// `--pattern`s, tried in this order on the lines no built-in format took.
    pub patterns: Vec<pattern::LinePattern>,
}

/// What happened to one file. Every non-empty line is counted once: `records + merged`
/// close lines, `not_close_events`, `half_matched_total` or `unmatched_lines`.
#[derive(Debug, Clone, Default)]
pub struct FileStats {
    pub path: PathBuf,
    /// The forced format (`--log-format`); else the format that gave the most close
    /// events (ties: the first in [`LogFormat::ALL`]); else, in a file without close
    /// events, the format that took the most lines; `None` when no built-in format took a
    /// line (a file read through `--pattern`s only is `None`: see
    /// [`FileStats::lines_by_format`]).
    pub format: Option<LogFormat>,
    /// Close events: the session rows produced (after merging; see `merged`).
    pub records: u64,
    /// Non-empty lines that no format and no `--pattern` took.
    pub unmatched_lines: u64,
    /// Lines a format or a pattern recognised that are not a close: JSON lines whose code
    /// field holds an HTTP status or another number, access-log lines other than 101 (and
    /// all access-log lines in a file with close events of another format), API Gateway
    /// events other than `$disconnect`, Jetty's close requests, pattern matches whose
    /// `code` is not a close code.
    pub not_close_events: u64,
    /// Non-empty lines each format took (close events, not-close events and half matches
    /// alike), by format name ([`LogFormat::as_str`]; [`pattern::SOURCE`] for the lines the
    /// `--pattern`s took). Formats that took no line are absent.
    pub lines_by_format: BTreeMap<&'static str, u64>,
    /// Close events each format gave, same keys, before merging: together `records +
    /// merged`.
    pub closes_by_format: BTreeMap<&'static str, u64>,
    /// Lines each `--pattern` took, in the order given (close events and not).
    pub pattern_lines: Vec<u64>,
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
    /// A proxy's log says the proxy cut the session (nginx error log, HAProxy `cD`/`sD`);
    /// `Some(false)`: a proxy log that says it did not.
    pub proxy_cut: Option<bool>,
    /// The logging side, when the line names it (not a column; used by [`merge`]).
    pub role: Option<Role>,
    /// Who wrote the line: the library or the application (not a column; [`merge`]).
    pub voice: Voice,
    /// The logging thread, for library callbacks that run once per session (Jetty 9's
    /// `callApplicationOnClose`; not a column; [`merge`]).
    pub thread: Option<String>,
    /// Line number in the file, from 1 (set by [`read_records`]).
    pub line: u64,
    /// Position for [`merge`]'s distance (set by [`read_records`]): the line's number
    /// among the file's lines that can be about a close, i.e. without empty lines and
    /// without the lines access logs and JSON lines recognised as not closes (HTTP
    /// requests, logged by another layer at the rate of requests).
    pub pos: u64,
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
    /// Not this format.
    NoMatch,
    /// A line of this format that does not end a session (an HTTP request's line, a 200 in
    /// an access log, a `$connect` event): counted, never a row.
    NotClose,
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
    if let Some(t) = quick_time(s.as_bytes()) {
        return Some(t);
    }
    slow_time(s)
}

/// The two shapes most log lines carry, read without chrono's format parser (which
/// dominated the cost of a close line): ISO 8601 `YYYY-MM-DD[T ]HH:MM:SS[.,]frac` with
/// `Z`, `+HH:MM`, `+HHMM` or no zone (UTC), and nginx `DD/Mon/YYYY:HH:MM:SS +HHMM`.
/// `None` for anything else (or an impossible date): [`slow_time`] then decides, so
/// both agree wherever this one answers (tested).
fn quick_time(b: &[u8]) -> Option<i64> {
    fn num(b: &[u8]) -> Option<u32> {
        if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(b.iter().fold(0, |a, d| a * 10 + u32::from(d - b'0')))
    }
    /// `+HH:MM`, `+HHMM`, `-...` as seconds east of UTC; the whole rest must be it.
    fn offset(b: &[u8]) -> Option<i64> {
        let sign = match b.first()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let (h, m) = match b.len() {
            6 if b[3] == b':' => (num(&b[1..3])?, num(&b[4..6])?),
            5 => (num(&b[1..3])?, num(&b[3..5])?),
            _ => return None,
        };
        (h < 24 && m < 60).then(|| sign * i64::from(h * 3600 + m * 60))
    }
    let (date, rest) = if b.len() >= 19
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b'T' || b[10] == b' ')
        && b[13] == b':'
        && b[16] == b':'
    {
        let date = chrono::NaiveDate::from_ymd_opt(
            i32::try_from(num(&b[0..4])?).ok()?,
            num(&b[5..7])?,
            num(&b[8..10])?,
        )?;
        (date, 11)
    } else if b.len() >= 26 && b[2] == b'/' && b[6] == b'/' && b[11] == b':' && b[20] == b' ' {
        const MONTHS: [&[u8]; 12] = [
            b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
            b"Dec",
        ];
        let month = MONTHS.iter().position(|m| *m == &b[3..6])? as u32 + 1;
        let date = chrono::NaiveDate::from_ymd_opt(
            i32::try_from(num(&b[7..11])?).ok()?,
            month,
            num(&b[0..2])?,
        )?;
        if b[14] != b':' || b[17] != b':' {
            return None;
        }
        let time = date.and_hms_opt(num(&b[12..14])?, num(&b[15..17])?, num(&b[18..20])?)?;
        let ns = time.and_utc().timestamp_nanos_opt()?;
        return ns.checked_sub(offset(&b[21..])?.checked_mul(1_000_000_000)?);
    } else {
        return None;
    };
    let t = &b[rest..];
    let (h, m, sec) = (num(&t[0..2])?, num(&t[3..5])?, num(&t[6..8])?);
    let mut i = 8;
    let mut nanos = 0;
    if i < t.len() && (t[i] == b'.' || t[i] == b',') {
        let start = i + 1;
        i = start;
        while i < t.len() && t[i].is_ascii_digit() {
            i += 1;
        }
        let digits = i - start;
        if !(1..=9).contains(&digits) {
            return None;
        }
        nanos = num(&t[start..i])? * 10u32.pow(9 - digits as u32);
    }
    let off = match &t[i..] {
        b"" | b"Z" => 0,
        z => offset(z)?,
    };
    let ns = date
        .and_hms_nano_opt(h, m, sec, nanos)?
        .and_utc()
        .timestamp_nanos_opt()?;
    ns.checked_sub(off.checked_mul(1_000_000_000)?)
}

/// Every shape [`parse_time`] documents, through chrono's parsers.
fn slow_time(s: &str) -> Option<i64> {
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
            let (take, found) = match memchr::memchr(b'\n', chunk) {
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

/// Who took a line: a built-in format or a `--pattern` (its index in
/// [`LogOptions::patterns`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taker {
    Format(LogFormat),
    Pattern(usize),
}

impl Taker {
    /// The format's name, or [`pattern::SOURCE`].
    pub fn name(self) -> &'static str {
        match self {
            Taker::Format(f) => f.as_str(),
            Taker::Pattern(_) => pattern::SOURCE,
        }
    }
}

/// The prefilter's fixed strings: every library message's ([`text::NEEDLES`]) and the
/// nginx line's `] "` (after `[$time_local]`), each with the formats it points at.
///
/// The search is leftmost and non-overlapping (its fast path), which can step over a
/// string that starts inside a match of another (`Error in WebSocket connection to ` and
/// `WebSocket connection to '`). So a string's bits also hold those of every string that
/// can overlap a match of it: one contained in it, or one whose start is an end of it.
static PREFILTER: LazyLock<(AhoCorasick, Vec<u32>)> = LazyLock::new(|| {
    let mut needles: Vec<(&str, LogFormat)> = text::NEEDLES.to_vec();
    needles.push(("] \"", LogFormat::Nginx));
    let ac = AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostFirst)
        .build(needles.iter().map(|(n, _)| n))
        // The strings are constants: a failure is a bug caught by every test run.
        .unwrap_or_else(|e| panic!("bad built-in prefilter: {e}"));
    let bits = needles
        .iter()
        .map(|(a, f)| {
            needles
                .iter()
                .filter(|(b, _)| overlaps(a, b))
                .fold(f.bit(), |m, (_, g)| m | g.bit())
        })
        .collect();
    (ac, bits)
});

/// Can an occurrence of `b` overlap a match of `a` without starting before it?
fn overlaps(a: &str, b: &str) -> bool {
    a.contains(b) || (0..a.len()).any(|k| a.is_char_boundary(k) && b.starts_with(&a[k..]))
}

/// The formats ([`LogFormat::bit`]s) whose fixed strings this line holds: one pass over
/// the line. A format whose bit is not set cannot take the line.
pub fn prefilter(line: &str) -> u32 {
    let (ac, bits) = &*PREFILTER;
    ac.find_iter(line)
        .fold(0, |m, hit| m | bits[hit.pattern().as_usize()])
}

/// How one file's lines are read: each line by the formats that can match it, or by the
/// forced one; then the `--pattern`s.
pub struct Parser<'a> {
    /// `--log-format`: every line is read as this format only.
    pub format: Option<LogFormat>,
    pub map: Option<&'a FieldMap>,
    pub patterns: &'a [pattern::LinePattern],
}

impl<'a> Parser<'a> {
    pub fn new(opts: &'a LogOptions) -> Parser<'a> {
        Parser {
            format: opts.format,
            map: opts.map.as_ref(),
            patterns: &opts.patterns,
        }
    }

    /// What `line` is, and who took it (`None` exactly when the result is
    /// [`LineResult::NoMatch`]).
    pub fn line(&self, line: &str) -> (Option<Taker>, LineResult) {
        let built_in = match self.format {
            Some(f) => self.forced(f, line),
            None => self.any(line),
        };
        if let Some((f, r)) = built_in {
            return (Some(Taker::Format(f)), r);
        }
        for (i, p) in self.patterns.iter().enumerate() {
            if let Some(r) = p.parse(line) {
                return (Some(Taker::Pattern(i)), r);
            }
        }
        (None, LineResult::NoMatch)
    }

    /// The result of a built-in format, without patterns.
    pub fn parse(&self, line: &str) -> LineResult {
        match self.format {
            Some(f) => self.forced(f, line),
            None => self.any(line),
        }
        .map_or(LineResult::NoMatch, |(_, r)| r)
    }

    fn forced(&self, f: LogFormat, line: &str) -> Option<(LogFormat, LineResult)> {
        use LogFormat::*;
        let r = match f {
            Json => json::parse_mapped(line, self.map),
            AwsApigw => json::parse_apigw(line),
            Traefik => json::parse_traefik(line),
            Nginx => access::parse_nginx(line),
            AwsAlb => access::parse_alb(line),
            NginxError => proxy::parse_nginx_error(line),
            Haproxy => proxy::parse_haproxy(line),
            f => text::parse_one(f, line),
        };
        (r != LineResult::NoMatch).then_some((f, r))
    }

    /// Every format that can match the line: a JSON object is read as JSON (API Gateway,
    /// Traefik, or the field map / default names); then access-log shapes (ALB, nginx);
    /// then the library messages whose fixed strings the line holds ([`prefilter`]), also
    /// inside JSON objects that hold no code field (a JSON logger's `msg`).
    fn any(&self, line: &str) -> Option<(LogFormat, LineResult)> {
        let mask = prefilter(line);
        if line.trim_end().ends_with('}') {
            if let Some(obj) = json::object(line) {
                if let Some(got) = self.json(&obj) {
                    return Some(got);
                }
                return text::parse_masked(line, mask);
            }
        }
        if access::alb_prefix(line) && access::looks_alb(line) {
            return Some((LogFormat::AwsAlb, access::parse_alb(line)));
        }
        if mask & LogFormat::Nginx.bit() != 0 {
            let r = access::parse_nginx(line);
            if r != LineResult::NoMatch {
                return Some((LogFormat::Nginx, r));
            }
        }
        if proxy::looks_nginx_error(line) {
            let r = proxy::parse_nginx_error(line);
            if r != LineResult::NoMatch {
                return Some((LogFormat::NginxError, r));
            }
        }
        if proxy::looks_haproxy(line) {
            return Some((LogFormat::Haproxy, proxy::parse_haproxy(line)));
        }
        if mask == 0 {
            return None;
        }
        text::parse_masked(line, mask)
    }

    fn json(
        &self,
        obj: &serde_json::Map<String, serde_json::Value>,
    ) -> Option<(LogFormat, LineResult)> {
        if json::looks_apigw(obj) {
            return Some(match json::apigw_object(obj) {
                // Not a `$disconnect`: the application's own fields may still say more.
                LineResult::NotClose => json::mapped(obj, self.map)
                    .map_or((LogFormat::AwsApigw, LineResult::NotClose), |r| {
                        (LogFormat::Json, r)
                    }),
                r => (LogFormat::AwsApigw, r),
            });
        }
        if json::looks_traefik(obj) {
            return Some((LogFormat::Traefik, json::traefik_object(obj)));
        }
        json::mapped(obj, self.map).map(|r| (LogFormat::Json, r))
    }
}

impl LogFormat {
    /// The format named `name` (as [`LogFormat::as_str`] writes it).
    pub fn from_name(name: &str) -> Option<LogFormat> {
        LogFormat::ALL.iter().copied().find(|f| f.as_str() == name)
    }
}

/// Per-file line counts while reading (see [`FileStats`]).
#[derive(Default)]
struct Tally {
    lines: [u64; LogFormat::ALL.len()],
    closes: [u64; LogFormat::ALL.len()],
    pattern_lines: Vec<u64>,
    pattern_closes: u64,
}

impl Tally {
    fn took(&mut self, by: Taker, close: bool) {
        match by {
            Taker::Format(f) => {
                self.lines[f as usize] += 1;
                self.closes[f as usize] += u64::from(close);
            }
            Taker::Pattern(i) => {
                if self.pattern_lines.len() <= i {
                    self.pattern_lines.resize(i + 1, 0);
                }
                self.pattern_lines[i] += 1;
                self.pattern_closes += u64::from(close);
            }
        }
    }

    /// The counts into `stats`, and its `format` (see [`FileStats::format`]).
    fn into_stats(self, stats: &mut FileStats, forced: Option<LogFormat>, patterns: usize) {
        let most = |counts: &[u64; LogFormat::ALL.len()]| {
            LogFormat::ALL
                .iter()
                .copied()
                .filter(|f| counts[*f as usize] > 0)
                .max_by_key(|f| (counts[*f as usize], std::cmp::Reverse(*f as usize)))
        };
        stats.format = forced
            .or_else(|| most(&self.closes))
            .or_else(|| most(&self.lines));
        for f in LogFormat::ALL {
            let (l, c) = (self.lines[*f as usize], self.closes[*f as usize]);
            if l > 0 {
                stats.lines_by_format.insert(f.as_str(), l);
            }
            if c > 0 {
                stats.closes_by_format.insert(f.as_str(), c);
            }
        }
        let mut pattern_lines = self.pattern_lines;
        pattern_lines.resize(patterns.max(pattern_lines.len()), 0);
        let taken: u64 = pattern_lines.iter().sum();
        if taken > 0 {
            stats.lines_by_format.insert(pattern::SOURCE, taken);
        }
        if self.pattern_closes > 0 {
            stats
                .closes_by_format
                .insert(pattern::SOURCE, self.pattern_closes);
        }
        stats.pattern_lines = pattern_lines;
    }
}

/// Read one log's lines (after decompression) into records: recognise each line with
/// `parser` ([`Parser::line`]), count what each format took and what no format took,
/// anchor mitmproxy clocks to `modified_ns` (the file's modification time, ns since the
/// epoch; see the module doc), keep access-log rows only in files without other close
/// events (module doc), merge library and application lines about the same close
/// ([`merge`]) and [`Record::finish`] every record. `capture` names the file in every
/// record (and in made-up session ids, `capture:LINE`). A read error ends the file: what
/// was read is kept and the error is returned beside it.
pub fn read_records<R: BufRead>(
    r: R,
    parser: &Parser<'_>,
    capture: &str,
    modified_ns: Option<i64>,
) -> (Vec<Record>, FileStats, Option<String>) {
    let mut stats = FileStats::default();
    let mut tally = Tally::default();
    let mut rows: Vec<Record> = Vec::new();
    // Sessions of access logs (no close code): rows only if no other close shows up.
    let mut access_rows: Vec<Record> = Vec::new();
    // Close requests (Jetty 9's `close(CloseInfo)` lines), for merge::repeats.
    let mut requests: Vec<merge::CloseRequest> = Vec::new();
    let mut lines = CappedLines::new(r);
    let mut error = None;
    // mitmproxy's log clock: time of day of the last `[HH:MM:SS.mmm]` line, and whole days
    // passed since the first one (the clock going back by more than 12 hours).
    let mut clock: Option<i64> = None;
    let mut days: i64 = 0;
    // Record::pos of the current line.
    let mut pos: u64 = 0;
    loop {
        let (line, cut) = match lines.next_line() {
            Ok(Some(l)) => l,
            Ok(None) => break,
            Err(e) => {
                // A corrupt compressed stream: keep what was read, report the file.
                error = Some(format!(
                    "read error after line {} ({} sessions kept): {e}",
                    stats.lines,
                    rows.len() + access_rows.len()
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
        let (by, result) = parser.line(&text);
        let by = match by {
            Some(by) if !matches!(result, LineResult::NoMatch) => by,
            _ => {
                stats.unmatched_lines += 1;
                pos += 1;
                continue;
            }
        };
        let request_layer = matches!(by, Taker::Format(f) if f.is_access())
            || (by == Taker::Format(LogFormat::Json) || by == Taker::Format(LogFormat::AwsApigw))
                && matches!(result, LineResult::NotClose);
        if !request_layer {
            pos += 1;
        }
        tally.took(by, matches!(result, LineResult::Record(_)));
        match result {
            LineResult::NoMatch => {}
            LineResult::NotClose => {
                stats.not_close_events += 1;
                if by == Taker::Format(LogFormat::Jetty) {
                    if let Some(q) = text::jetty_close_request(&text, pos) {
                        requests.push(q);
                    }
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
                rec.pos = pos;
                if rec.end_ns.is_none() && rec.source == LogFormat::Mitmproxy.as_str() {
                    rec.clock_ns = clock;
                }
                match by {
                    Taker::Format(f) if f.is_access() => access_rows.push(*rec),
                    _ => rows.push(*rec),
                }
            }
        }
    }
    if rows.is_empty() {
        rows = access_rows;
    } else {
        // An application log with access lines: those sessions' closes are its other rows.
        for r in &access_rows {
            if let Some(f) = LogFormat::from_name(r.source) {
                tally.closes[f as usize] = tally.closes[f as usize].saturating_sub(1);
            }
        }
        stats.not_close_events += access_rows.len() as u64;
    }
    tally.into_stats(&mut stats, parser.format, parser.patterns.len());
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

/// Read a whole log held in memory (line recognition, parsing, merging), as
/// `cmd::collect::read_file` reads a file that holds these bytes, without a modification
/// time.
pub fn read_bytes(data: &[u8], opts: &LogOptions) -> (Vec<Record>, FileStats) {
    let (rows, stats, _) = read_records(data, &Parser::new(opts), "-", None);
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
    fn prefilter_points_at_every_format_whose_string_is_there() {
        for (needle, f) in text::NEEDLES {
            let line = format!("2026-11-22 app: {needle}x");
            assert_ne!(prefilter(&line) & f.bit(), 0, "{needle}");
        }
        assert_eq!(prefilter("2026-11-22 INFO query users took 23 ms"), 0);
        // The browser's string starts inside mitmproxy's: both are tried.
        let both = "Error in WebSocket connection to 'wss://x/ws' failed: boom";
        let m = prefilter(both);
        assert_ne!(m & LogFormat::Mitmproxy.bit(), 0);
        assert_ne!(m & LogFormat::Browser.bit(), 0);
    }

    #[test]
    fn access_lines_between_a_library_line_and_the_app_line_do_not_split_a_close() {
        // tungstenite's own debug line and the app's line about the same close (lines 13
        // and 15 of fixtures/logs/tungstenite/tungstenite-0.27.log), with twelve access
        // lines between them: still one row, because request lines do not count in the
        // merge distance.
        let lib = "LOG DEBUG tungstenite::protocol: Received close frame: Some(CloseFrame { code: Normal, reason: Utf8Bytes(b\"bye\") })\n";
        let app = "server app got: Close(Some(CloseFrame { code: Normal, reason: Utf8Bytes(b\"bye\") }))\n";
        let access = "192.0.2.10 - - [22/Nov/2026:10:00:00 +0000] \"GET /index.html HTTP/1.1\" 200 612 \"-\" \"Mozilla/5.0\" 0.002\n";
        let json = "{\"msg\":\"http request\",\"code\":200}\n";
        let mut log = lib.to_string();
        for i in 0..12 {
            log.push_str(if i % 2 == 0 { access } else { json });
        }
        log.push_str(app);
        let (rows, stats) = read_bytes(log.as_bytes(), &LogOptions::default());
        assert_eq!((rows.len(), stats.merged), (1, 1));
        assert_eq!(stats.not_close_events, 12);
        // Lines nobody took still count: nine of them are too far.
        let far = format!("{lib}{}{app}", "unrelated app line\n".repeat(9));
        let (rows, _) = read_bytes(far.as_bytes(), &LogOptions::default());
        assert_eq!(rows.len(), 2);
    }

    #[test]
    fn quick_times_agree_with_chrono() {
        for s in [
            "2026-11-22T10:00:00Z",
            "2026-11-22T10:00:00",
            "2026-11-22 10:00:00,123",
            "2026-11-22T10:00:00.5+01:00",
            "2026-11-22T10:00:00.123456789-0730",
            "2026-11-22 23:59:59.1Z",
            "2024-02-29T00:00:00Z",
            "22/Nov/2026:10:00:00 +0000",
            "01/Mar/2026:00:00:00 -0500",
            "31/Dec/1999:23:59:59 +1400",
        ] {
            let quick = quick_time(s.as_bytes());
            assert!(quick.is_some(), "{s}");
            assert_eq!(quick, slow_time(s), "{s}");
        }
        // Not read quickly (chrono decides): impossible dates, other shapes, junk zones.
        for s in [
            "2026-02-30T10:00:00Z",
            "2026-11-22T25:00:00Z",
            "2026-11-22T10:00:00.1234567891Z",
            "2026-11-22T10:00:00 UTC",
            "22/Foo/2026:10:00:00 +0000",
            "2026/11/22 10:00:00",
            "1795341600",
            "2026-11-22T10:00:00+1",
        ] {
            assert_eq!(quick_time(s.as_bytes()), None, "{s}");
        }
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
