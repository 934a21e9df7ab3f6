//! The report printed by `wsaudit analyze` and `wsaudit report`, as text or JSON.
//!
//! Contract: [`build`] computes a [`Report`] from a session table and a refused-upgrade
//! table (columns of `docs/schema.md`; built in memory or read back from exports — the
//! numbers are the same either way). [`render_text`] prints it for a person, no line
//! wider than 100 columns, every string from the wire sanitized; `serde_json` prints it
//! for tools (`--format json`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use polars::prelude::*;
use serde::Serialize;

use super::breakdown::{breakdown, Breakdown, GroupBy};
use super::columns::{bools, f64s, i64s, str_ca, strs, u64s};
use super::diagnose::{abnormal_diagnosis, render_diagnosis, Diagnosis};
use super::percode::{per_code, per_ending, CodeRow, EndingRow};
use super::reconnect::{
    reconnect_by_code, reconnect_flags, reconnects, render_reconnects, ReconnectFlags,
};
use super::text::{fit, fmt_duration, iso_time};
use super::timeline::{render_timeline, timeline, Timeline};

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// One input of the run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InputInfo {
    pub name: String,
    /// `capture` or `table` (a session table read by `wsaudit report`).
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
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            by: Vec::new(),
            top: 10,
            window_s: super::reconnect::DEFAULT_WINDOW_S,
            timeline: false,
        }
    }
}

/// Reconnects after one close code.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReconnectRow {
    pub close_code: Option<u16>,
    pub sessions: u64,
    pub reconnected: u64,
    pub reconnect_rate: f64,
    pub delay_p50_s: Option<f64>,
    pub delay_p95_s: Option<f64>,
}

/// The reconnect part of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Reconnects {
    pub window_s: f64,
    pub by_code: Vec<ReconnectRow>,
    pub flags: ReconnectFlags,
    /// The same per-code table, for rendering.
    #[serde(skip)]
    pub by_code_frame: DataFrame,
}

/// Everything `wsaudit analyze` / `wsaudit report` says.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub inputs: Vec<InputInfo>,
    /// First and last time seen (UTC, ISO 8601).
    pub time_range: Option<(String, String)>,
    pub time_span_s: Option<f64>,
    pub sessions: u64,
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
}

fn reconnect_part(sessions: &DataFrame, window_s: f64) -> PolarsResult<Reconnects> {
    let rec = reconnects(sessions, window_s)?;
    let by_code_frame = reconnect_by_code(&rec)?;
    let flags = reconnect_flags(&rec)?;
    let code = u64s(&by_code_frame, "close_code")?;
    let n = u64s(&by_code_frame, "sessions")?;
    let back = u64s(&by_code_frame, "reconnected")?;
    let rate = f64s(&by_code_frame, "reconnect_rate")?;
    let p50 = f64s(&by_code_frame, "delay_p50_s")?;
    let p95 = f64s(&by_code_frame, "delay_p95_s")?;
    let by_code = (0..by_code_frame.height())
        .map(|i| ReconnectRow {
            close_code: code[i].map(|c| c as u16),
            sessions: n[i].unwrap_or(0),
            reconnected: back[i].unwrap_or(0),
            reconnect_rate: rate[i].unwrap_or(0.0),
            delay_p50_s: p50[i],
            delay_p95_s: p95[i],
        })
        .collect();
    Ok(Reconnects {
        window_s,
        by_code,
        flags,
        by_code_frame,
    })
}

/// Compute the report. `time_range` (ns) comes from the packets when the input was
/// captures; otherwise it is taken from the table's start and end times.
pub fn build(
    inputs: Vec<InputInfo>,
    time_range: Option<(i64, i64)>,
    sessions: &DataFrame,
    refused: &DataFrame,
    opts: &ReportOptions,
) -> PolarsResult<Report> {
    let time_range = match time_range {
        Some(r) => Some(r),
        None => {
            let starts = i64s(sessions, "start_time")?;
            let ends = i64s(sessions, "end_time")?;
            let lo = starts.iter().chain(ends.iter()).flatten().min().copied();
            let hi = starts.iter().chain(ends.iter()).flatten().max().copied();
            lo.zip(hi)
        }
    };

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
        .map(|b| breakdown(sessions, *b, opts.top.max(1)))
        .collect::<PolarsResult<Vec<_>>>()?;
    Ok(Report {
        inputs,
        time_range: time_range.map(|(a, b)| (iso_time(a), iso_time(b))),
        time_span_s: time_range.map(|(a, b)| (b - a) as f64 / 1e9),
        sessions: sessions.height() as u64,
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
        diagnosis: abnormal_diagnosis(sessions)?,
        reconnects: reconnect_part(sessions, opts.window_s)?,
        timeline: if opts.timeline {
            Some(timeline(sessions)?)
        } else {
            None
        },
    })
}

fn opt_dur(x: Option<f64>) -> String {
    x.map(fmt_duration).unwrap_or_else(|| "-".into())
}

fn render_breakdown(o: &mut String, b: &Breakdown) {
    let _ = write!(o, "\nBy {:<26} {:>8}", b.by.as_str(), "Sessions");
    for c in &b.codes {
        let _ = write!(o, " {:>7}", c);
    }
    let _ = writeln!(o, " {:>7}", "other");
    let mut line = |r: &super::breakdown::GroupRow| {
        let _ = write!(o, "{:<29} {:>8}", fit(&r.group, 29), r.sessions);
        for n in &r.per_code {
            let share = *n as f64 / r.sessions.max(1) as f64;
            let cell = if *n == 0 { "-".to_string() } else { pct(share) };
            let _ = write!(o, " {cell:>7}");
        }
        let other = if r.other == 0 {
            "-".to_string()
        } else {
            pct(r.other as f64 / r.sessions.max(1) as f64)
        };
        let _ = writeln!(o, " {other:>7}");
    };
    for r in &b.rows {
        line(r);
    }
    if let Some((_, r)) = &b.folded {
        line(r);
    }
}

/// The report as text for a terminal (at most 100 columns).
pub fn render_text(r: &Report) -> String {
    let mut o = String::new();
    let packets: u64 = r.inputs.iter().filter_map(|i| i.packets).sum();
    let n = r.inputs.len();
    let kinds = if r.inputs.iter().all(|i| i.kind == "capture") {
        format!(
            "{n} capture{}, {packets} packets",
            if n == 1 { "" } else { "s" }
        )
    } else {
        format!("{n} input{}", if n == 1 { "" } else { "s" })
    };
    let _ = writeln!(o, "{kinds}");
    if let (Some((a, b)), Some(span)) = (&r.time_range, r.time_span_s) {
        let short = |s: &str| s.replace('T', " ").chars().take(23).collect::<String>();
        let _ = writeln!(
            o,
            "Time range: {} -> {} UTC ({})",
            short(a),
            short(b),
            fmt_duration(span)
        );
    }
    let _ = writeln!(
        o,
        "WebSocket sessions: {}    refused upgrades: {}",
        r.sessions, r.refused_upgrades
    );

    if !r.endings.is_empty() {
        let _ = writeln!(o, "\nEnding        Sessions   Share  Meaning");
        for e in &r.endings {
            let _ = writeln!(
                o,
                "{:<12} {:>9} {:>7}  {}",
                e.ending,
                e.sessions,
                pct(e.share),
                e.meaning
            );
        }
    }

    if !r.codes.is_empty() {
        let _ = writeln!(
            o,
            "\nClose code                   Sessions  Share  Client Server  Echoed  Duration p50    p95    p99"
        );
        for c in &r.codes {
            let label = format!("{} {}", c.close_code, c.close_code_name);
            let _ = writeln!(
                o,
                "{:<28} {:>8} {:>6} {:>7} {:>6} {:>7} {:>13} {:>6} {:>6}",
                fit(&label, 28),
                c.sessions,
                pct(c.share),
                c.by_client,
                c.by_server,
                pct(c.handshake_completed_rate),
                opt_dur(c.duration_p50_s),
                opt_dur(c.duration_p95_s),
                opt_dur(c.duration_p99_s),
            );
            let _ = writeln!(o, "    {}", fit(&c.meaning, 96));
        }
        let _ = writeln!(
            o,
            "  (Client/Server: who sent the first Close; Echoed: the other side answered with a Close)"
        );
    }

    if !r.refused.is_empty() {
        let _ = writeln!(o, "\nRefused upgrade (HTTP status)          Count");
        for x in &r.refused {
            let _ = writeln!(
                o,
                "{:<38} {:>5}",
                fit(&format!("{} {}", x.status, x.reason), 38),
                x.count
            );
        }
    }

    if !r.anomalies.is_empty() {
        let _ = writeln!(o, "\nAnomaly                          Sessions");
        for a in &r.anomalies {
            let _ = writeln!(o, "{:<32} {:>8}", fit(&a.anomaly, 32), a.sessions);
        }
    }

    let q = &r.quality;
    if q.gap + q.midstream + q.truncated + q.limit_hit > 0 {
        let _ = writeln!(
            o,
            "\nQuality: {} with capture gaps, {} started mid-stream, {} cut by snaplen, {} hit a memory limit",
            q.gap, q.midstream, q.truncated, q.limit_hit
        );
    }

    for b in &r.breakdowns {
        render_breakdown(&mut o, b);
    }

    let evicted: u64 = r.inputs.iter().map(|i| i.evicted_connections).sum();
    let heads: u64 = r.inputs.iter().map(|i| i.oversized_heads).sum();
    if evicted + heads > 0 {
        let _ = writeln!(
            o,
            "\nLimits: {evicted} connections evicted from a full table (--max-connections), \
             {heads} HTTP heads over 16 KiB ignored"
        );
    }

    let d = &r.diagnosis;
    if d.abnormal > 0 || d.one_sided.sessions > 0 {
        o.push('\n');
        o.push_str(&render_diagnosis(d));
    }
    let rc = &r.reconnects;
    if rc.by_code.iter().any(|x| x.reconnected > 0) || !rc.flags.is_empty() {
        o.push('\n');
        o.push_str(&render_reconnects(
            &rc.by_code_frame,
            &rc.flags,
            rc.window_s,
        ));
    }
    if let Some(t) = &r.timeline {
        o.push('\n');
        o.push_str(&render_timeline(t));
    }

    let problems: Vec<String> = r
        .inputs
        .iter()
        .flat_map(|i| i.problems.iter().map(move |p| format!("{}: {p}", i.name)))
        .collect();
    if !problems.is_empty() {
        let _ = writeln!(
            o,
            "\nProblems reading the input ({}; see stderr)",
            problems.len()
        );
    }
    o
}
