//! The report printed by `wsaudit analyze` and `wsaudit report`, as text or JSON.
//!
//! Contract: [`build`] computes a [`Report`] from a session table and a refused-upgrade
//! table (columns of `docs/schema.md`; built in memory or read back from exports — the
//! numbers are the same either way). [`crate::render::report::render_text`] prints it for a person, no line
//! wider than 100 columns, every string from the wire sanitized; `serde_json` prints it
//! for tools (`--format json`).

use std::collections::BTreeMap;

use polars::prelude::*;
use serde::Serialize;

use crate::analysis::breakdown::{breakdown, Breakdown, GroupBy};
use crate::analysis::diagnose::{abnormal_diagnosis, Diagnosis};
use crate::analysis::percode::{per_code, per_ending, CodeRow, EndingRow};
use crate::analysis::proxies::{pair, with_leg_columns, Proxies};
use crate::analysis::reconnect::{
    reconnect_by_code, reconnect_flags, reconnect_rows, reconnects_with, ReconnectFlags,
    ReconnectRow, REPORT_RECONNECT_COLUMNS,
};
use crate::analysis::timeline::{timeline, Timeline};
use crate::table::columns::{bools, filter_owned, i64s, str_ca, strs, u64s, Kept};
use crate::text::iso_time;

/// One input of the run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InputInfo {
    pub name: String,
    /// `capture`, `table` (a session table read back), a log format's name (`gorilla`,
    /// `nginx`, ...; `log` when none was recognised), or for inputs passed over what
    /// they are (`file`, `duplicate`, `link`, `FIFO`, ...).
    pub kind: String,
    pub packets: Option<u64>,
    pub sessions: u64,
    pub refused_upgrades: u64,
    pub problems: Vec<String>,
    /// Connections dropped from a full connection table (`--max-connections`); an
    /// evicted WebSocket session is still reported, flagged `limit_hit`.
    pub evicted_connections: u64,
    /// Connections ignored because an HTTP head outgrew 16 KiB (`http::MAX_HEAD`).
    pub oversized_heads: u64,
    /// Read, skipped (why), unrecognised (why) or failed (the error and its byte offset).
    #[serde(flatten)]
    pub outcome: crate::inputs::Outcome,
    /// A log file: what its lines were (absent for captures and tables).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<LogCounts>,
    /// A capture with TLS connections: how many, and how many were decrypted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<crate::pipeline::TlsCounts>,
    /// A key log: the lines that gave a secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keylog_secrets: Option<u64>,
}

/// What the lines of one log file were. Every non-empty line is counted once:
/// `close_events + merged + not_close_events + half_matched + unmatched_lines`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LogCounts {
    /// All lines read, empty ones included.
    pub lines: u64,
    /// Non-empty lines each format took (`--pattern` lines as `pattern`).
    pub lines_by_format: std::collections::BTreeMap<String, u64>,
    /// Close events each format gave, before merging.
    pub closes_by_format: std::collections::BTreeMap<String, u64>,
    /// Close events: the session rows.
    pub close_events: u64,
    /// Lines about a close another line already gave (one row per close).
    pub merged: u64,
    /// Lines a format recognised that say nothing about a close (HTTP request lines,
    /// access lines that are not upgrades, pattern matches with a non-close code).
    pub not_close_events: u64,
    /// Lines that looked like a close but a field could not be read.
    pub half_matched: u64,
    /// Lines no format and no pattern took.
    pub unmatched_lines: u64,
    /// Lines longer than the reader keeps (cut).
    pub long_lines: u64,
    /// Lines each `--pattern` took, in the order given.
    pub pattern_lines: Vec<u64>,
}

impl InputInfo {
    /// Taken as an input (read, or tried): not passed over on purpose.
    pub fn taken(&self) -> bool {
        !matches!(self.outcome, crate::inputs::Outcome::Skipped { .. })
    }

    /// The outcome for people: `read`, `skipped: <why>`, `unrecognised: <why>`,
    /// `failed at byte N: <error>`.
    pub fn outcome_text(&self) -> String {
        use crate::inputs::Outcome::*;
        match &self.outcome {
            Read => "read".into(),
            Skipped { why } => format!("skipped: {why}"),
            Unrecognised { why } => format!("unrecognised: {why}"),
            Failed { error, .. } => format!("failed: {error}"),
        }
    }
}

/// Refused upgrades with one HTTP status.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefusedRow {
    pub status: u16,
    pub reason: String,
    pub count: u64,
}

/// Sessions showing one anomaly.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnomalyRow {
    pub anomaly: String,
    pub sessions: u64,
}

/// Sessions carrying each quality flag.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Quality {
    pub gap: u64,
    pub midstream: u64,
    pub truncated: u64,
    pub limit_hit: u64,
}

/// What to include beyond the per-code report.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    pub by: Vec<GroupBy>,
    pub top: usize,
    /// Reconnect window (seconds).
    pub window_s: f64,
    /// Include the closes-over-time chart.
    pub timeline: bool,
    /// `--path-raw`: group paths as they are (query strings and identifiers kept).
    pub path_raw: bool,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            by: Vec::new(),
            top: 10,
            window_s: crate::analysis::reconnect::DEFAULT_WINDOW_S,
            timeline: false,
            path_raw: false,
        }
    }
}

/// The reconnect part of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Reconnects {
    pub window_s: f64,
    pub by_code: Vec<ReconnectRow>,
    pub flags: ReconnectFlags,
}

/// Everything `wsaudit analyze` / `wsaudit report` says.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub inputs: Vec<InputInfo>,
    /// First and last time seen (UTC, ISO 8601).
    pub time_range: Option<(String, String)>,
    pub time_span_s: Option<f64>,
    /// WebSocket sessions read (TLS connections that could not be decrypted are not
    /// among them).
    pub sessions: u64,
    /// Rows of TLS connections with no key (or an unsupported suite): ending
    /// `undecrypted`, in no figure of the report.
    pub undecrypted: u64,
    /// The captures' TLS connections (absent when no capture held one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<crate::pipeline::TlsCounts>,
    pub refused_upgrades: u64,
    pub endings: Vec<EndingRow>,
    pub codes: Vec<CodeRow>,
    pub refused: Vec<RefusedRow>,
    pub anomalies: Vec<AnomalyRow>,
    pub quality: Quality,
    pub breakdowns: Vec<Breakdown>,
    pub diagnosis: Diagnosis,
    pub reconnects: Reconnects,
    /// Only with `--timeline` (text) / always in JSON when asked for.
    pub timeline: Option<Timeline>,
    /// Sessions seen on both sides of a proxy (absent when none was). When some were,
    /// every figure above counts a user session once: the upstream legs of paired
    /// sessions are left out of `sessions`, `endings`, `codes`, the breakdowns, the
    /// diagnosis and the reconnects.
    #[serde(skip_serializing_if = "Proxies::is_empty")]
    pub proxies: Proxies,
    /// With paired sessions: the per-code table over every leg (each paired session
    /// twice), the per-leg view.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codes_per_leg: Option<Vec<CodeRow>>,
}

fn reconnect_part(sessions: &DataFrame, window_s: f64) -> PolarsResult<Reconnects> {
    let rec = reconnects_with(sessions, window_s, REPORT_RECONNECT_COLUMNS)?;
    Ok(Reconnects {
        window_s,
        by_code: reconnect_rows(&reconnect_by_code(&rec)?)?,
        flags: reconnect_flags(&rec)?,
    })
}

/// Session-table columns no report, page or export view reads (the exports of the
/// session table itself get whole rows). The proxies analysis reads `established_time`
/// and the two sides' Close codes; the 1006 diagnosis the pings, `http_version` and
/// `h2_end`; `--by transport` `http_version`; the per-code table names codes from
/// `close_code` itself: so those are read, and `close_code_name` is not.
pub const UNREAD: &[&str] = &[
    "client_port",
    "origin",
    "extensions",
    "permessage_deflate",
    "close_code_name",
    "client_close_reason",
    "server_close_reason",
    "client_observed_code",
    "server_observed_code",
    "tcp_end_time",
    "frames_client",
    "frames_server",
    "messages_client",
    "messages_server",
    "bytes_client",
    "bytes_server",
    "pongs_client",
    "pongs_server",
    "anomaly_count",
    "tls_version",
    "tls_cipher",
    "alpn",
    "h2_stream_id",
    "tls_close_notify_client",
    "tls_close_notify_server",
    "tls_alert_client",
    "tls_alert_server",
];

/// Columns read only by the breakdown of their key (`--by`).
const READ_BY: &[(GroupBy, &str)] = &[
    (GroupBy::UserAgent, "user_agent"),
    (GroupBy::Subprotocol, "subprotocol"),
    (GroupBy::Sni, "sni"),
    (GroupBy::Transport, "transport"),
];

/// Read only by the pages' charts (the top Close reasons).
const READ_BY_PAGES: &[&str] = &["close_reason"];

/// What the reports with `opts` (and the HTML and Markdown pages, when `pages`) read of
/// each session row: every column but [`UNREAD`], the breakdown keys not asked for and
/// the Close reasons without pages; the WebSocket key (compared, never shown: [`pair`])
/// as a hash. The table kept for them is built this way as it is read
/// ([`crate::table::drain`]); on 350,000 sessions that is ~70 MiB less than all the
/// columns the reports might read.
pub fn kept_for(opts: &ReportOptions, pages: bool) -> Kept {
    let mut nulled = UNREAD.to_vec();
    nulled.extend(
        READ_BY
            .iter()
            .filter(|(by, _)| !opts.by.contains(by))
            .map(|(_, name)| *name),
    );
    if !pages {
        nulled.extend_from_slice(READ_BY_PAGES);
    }
    Kept {
        nulled,
        hashed: vec!["websocket_key"],
    }
}

/// Columns no figure after the pairing reads, with these `opts`: the WebSocket key
/// (read by [`pair`] only) and the keys of breakdowns not asked for. They are made
/// null (same names and types), so their memory is freed before the reconnects and
/// breakdowns are computed (~20 MiB on 350,000 sessions, when the table was not
/// [`kept_for`] these options already).
fn without_unread(mut sessions: DataFrame, opts: &ReportOptions) -> PolarsResult<DataFrame> {
    let unread = std::iter::once("websocket_key").chain(
        READ_BY
            .iter()
            .filter(|(by, _)| !opts.by.contains(by))
            .map(|(_, name)| *name),
    );
    let height = sessions.height();
    for name in unread {
        let Some(dtype) = sessions.schema().get(name).cloned() else {
            continue;
        };
        sessions.with_column(Column::full_null(name.into(), height, &dtype))?;
    }
    Ok(sessions)
}

/// Compute the report. `time_range` (ns) comes from the packets when the input was
/// captures; otherwise it is taken from the table's start and end times.
/// (A caller that gives its table away saves memory with [`build_counted`].)
pub fn build(
    inputs: Vec<InputInfo>,
    time_range: Option<(i64, i64)>,
    sessions: &DataFrame,
    refused: &DataFrame,
    opts: &ReportOptions,
) -> PolarsResult<Report> {
    Ok(build_counted(inputs, time_range, sessions.clone(), refused, opts)?.0)
}

/// [`build`], and the rows its figures count (readable sessions, each user session
/// once, with the `leg` and `proxy` columns): what the pages' charts must be drawn
/// from, so that they agree with the report. The table is taken, not borrowed: the
/// rows left out are dropped column by column as the counted table is made, so the
/// table is never held twice (a caller that keeps a clone keeps its memory).
pub fn build_counted(
    inputs: Vec<InputInfo>,
    time_range: Option<(i64, i64)>,
    sessions: DataFrame,
    refused: &DataFrame,
    opts: &ReportOptions,
) -> PolarsResult<(Report, DataFrame)> {
    // Without packet times: the range of every row's start and end (undecrypted ones
    // too), taken before any row is left out.
    let time_range = match time_range {
        Some(r) => Some(r),
        None => {
            let starts = i64s(&sessions, "start_time")?;
            let ends = i64s(&sessions, "end_time")?;
            let lo = starts.iter().chain(ends.iter()).flatten().min().copied();
            let hi = starts.iter().chain(ends.iter()).flatten().max().copied();
            lo.zip(hi)
        }
    };
    // TLS connections that could not be decrypted are rows of the table, but not
    // sessions anyone could read: every figure below is over the readable sessions,
    // and the undecrypted ones are counted apart (never a rate over unread data).
    let undecrypted_mask =
        str_ca(&sessions, "ending")?.equal(crate::session::Ending::Undecrypted.as_str());
    let undecrypted = undecrypted_mask.sum().unwrap_or(0) as u64;
    let sessions = if undecrypted > 0 {
        filter_owned(sessions, &!undecrypted_mask)?
    } else {
        sessions
    };
    // Proxied sessions: both legs paired; every figure below counts a user session once
    // (the upstream legs are left out), and the rows carry `leg` and `proxy` for
    // `--by proxy`.
    let proxies = pair(&sessions)?;
    let codes_per_leg = if proxies.any() {
        Some(per_code(&sessions)?)
    } else {
        None
    };
    let sessions = without_unread(sessions, opts)?;
    let with_legs = with_leg_columns(sessions, &proxies)?;
    let sessions = if proxies.any() {
        filter_owned(with_legs, &proxies.user_mask())?
    } else {
        with_legs
    };
    let sessions = &sessions;
    let mut tls: Option<crate::pipeline::TlsCounts> = None;
    for i in &inputs {
        if let Some(t) = &i.tls {
            tls.get_or_insert_with(Default::default).add(t);
        }
    }

    let mut refused_rows: BTreeMap<(u16, String), u64> = BTreeMap::new();
    let statuses = u64s(refused, "status")?;
    let reasons = strs(refused, "reason")?;
    for (s, r) in statuses.iter().zip(reasons) {
        *refused_rows
            .entry((s.unwrap_or(0) as u16, r.unwrap_or_default()))
            .or_insert(0) += 1;
    }

    let mut anomalies: BTreeMap<String, u64> = BTreeMap::new();
    let anomaly_names = str_ca(sessions, "anomalies")?;
    for names in anomaly_names.iter().flatten() {
        for n in names.split(';').filter(|n| !n.is_empty()) {
            *anomalies.entry(n.to_string()).or_insert(0) += 1;
        }
    }
    let count_true = |c: &str| -> PolarsResult<u64> {
        Ok(bools(sessions, c)?
            .into_iter()
            .filter(|b| *b == Some(true))
            .count() as u64)
    };
    let quality = Quality {
        gap: count_true("gap")?,
        midstream: count_true("midstream")?,
        truncated: count_true("truncated")?,
        limit_hit: count_true("limit_hit")?,
    };
    let breakdowns = opts
        .by
        .iter()
        .map(|b| breakdown(sessions, *b, opts.top.max(1), opts.path_raw))
        .collect::<PolarsResult<Vec<_>>>()?;
    Ok((
        Report {
            inputs,
            time_range: time_range.map(|(a, b)| (iso_time(a), iso_time(b))),
            time_span_s: time_range.map(|(a, b)| (b - a) as f64 / 1e9),
            sessions: sessions.height() as u64,
            undecrypted,
            tls,
            refused_upgrades: refused.height() as u64,
            endings: per_ending(sessions)?,
            codes: per_code(sessions)?,
            refused: refused_rows
                .into_iter()
                .map(|((status, reason), count)| RefusedRow {
                    status,
                    reason,
                    count,
                })
                .collect(),
            anomalies: anomalies
                .into_iter()
                .map(|(anomaly, sessions)| AnomalyRow { anomaly, sessions })
                .collect(),
            quality,
            breakdowns,
            diagnosis: Diagnosis {
                proxy_cuts: proxies.cuts.clone(),
                ..abnormal_diagnosis(sessions)?
            },
            reconnects: reconnect_part(sessions, opts.window_s)?,
            timeline: if opts.timeline {
                Some(timeline(sessions)?)
            } else {
                None
            },
            proxies,
            codes_per_leg,
        },
        sessions.clone(),
    ))
}
