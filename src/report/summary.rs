//! The human summary of `wsaudit analyze`.
//!
//! Contract: [`render`] turns the session table (a polars `DataFrame` with the columns of
//! [`super::table::SESSION_COLUMNS`]) plus per-capture facts into plain text no wider
//! than 100 columns: the capture time range, sessions per ending and per close code (with
//! IANA names and who sent it), refused upgrades by status, anomalies by name, and
//! quality flags. Aggregations run in polars so that reports over exported tables give
//! the same numbers.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use polars::prelude::*;

use super::text::fit;
use crate::pipeline::CaptureResult;
use crate::session::{Ending, SessionRecord};
use crate::ws::CloseCode;

/// Format ns since the epoch as `YYYY-MM-DD HH:MM:SS.mmm UTC`.
pub fn fmt_time(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let sub = ns.rem_euclid(1_000_000_000) as u32;
    match chrono::DateTime::from_timestamp(secs, sub) {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
        None => format!("{ns}ns"),
    }
}

/// Human duration: `850 ms`, `12.4 s`, `3m 07s`, `2h 05m`.
pub fn fmt_duration(secs: f64) -> String {
    if secs < 1.0 {
        format!("{:.0} ms", secs * 1000.0)
    } else if secs < 60.0 {
        format!("{secs:.1} s")
    } else if secs < 3600.0 {
        format!("{}m {:02}s", (secs / 60.0) as u64, (secs % 60.0) as u64)
    } else {
        format!(
            "{}h {:02}m",
            (secs / 3600.0) as u64,
            ((secs % 3600.0) / 60.0) as u64
        )
    }
}

fn pct(n: u64, total: u64) -> String {
    if total == 0 {
        "-".into()
    } else {
        format!("{:.1}%", n as f64 * 100.0 / total as f64)
    }
}

/// The name printed next to a close code.
pub fn code_label(code: u16) -> String {
    format!("{code} {}", CloseCode::from(code).name())
}

/// One close code's line in the summary.
struct CodeRow {
    code: u16,
    sessions: u64,
    by_client: u64,
    by_server: u64,
    /// Sessions where both sides sent a Close.
    completed: u64,
}

fn per_code(df: &DataFrame) -> PolarsResult<Vec<CodeRow>> {
    let g = df
        .clone()
        .lazy()
        .filter(col("close_code").is_not_null())
        .group_by([col("close_code")])
        .agg([
            len().alias("sessions"),
            col("initiator").eq(lit("client")).sum().alias("by_client"),
            col("initiator").eq(lit("server")).sum().alias("by_server"),
            col("handshake_completed").sum().alias("completed"),
        ])
        .sort_by_exprs(
            [col("sessions"), col("close_code")],
            SortMultipleOptions::default().with_order_descending_multi([true, false]),
        )
        .collect()?;
    let code = g
        .column("close_code")?
        .as_materialized_series()
        .u16()?
        .clone();
    let num = |n: &str| -> PolarsResult<Vec<u64>> {
        let s = g
            .column(n)?
            .as_materialized_series()
            .cast(&DataType::UInt64)?;
        let ca = s.u64()?;
        Ok((0..ca.len()).map(|i| ca.get(i).unwrap_or(0)).collect())
    };
    let (sessions, by_client, by_server, completed) = (
        num("sessions")?,
        num("by_client")?,
        num("by_server")?,
        num("completed")?,
    );
    Ok((0..g.height())
        .map(|i| CodeRow {
            code: code.get(i).unwrap_or(0),
            sessions: sessions[i],
            by_client: by_client[i],
            by_server: by_server[i],
            completed: completed[i],
        })
        .collect())
}

fn per_ending(df: &DataFrame) -> PolarsResult<BTreeMap<String, u64>> {
    let g = df
        .clone()
        .lazy()
        .group_by([col("ending")])
        .agg([len().alias("n")])
        .collect()?;
    let e = g.column("ending")?.as_materialized_series().str()?.clone();
    let n = g
        .column("n")?
        .as_materialized_series()
        .cast(&DataType::UInt64)?;
    let n = n.u64()?;
    Ok((0..g.height())
        .filter_map(|i| Some((e.get(i)?.to_string(), n.get(i).unwrap_or(0))))
        .collect())
}

fn ending_meaning(e: Ending) -> &'static str {
    match e {
        Ending::Normal => "first Close carried 1000",
        Ending::Announced => "first Close carried another code",
        Ending::NoStatus => "first Close had no code (1005)",
        Ending::Abnormal => "TCP ended, no Close frame (1006)",
        Ending::Open => "still open when the capture ended",
    }
}

/// Render the summary. `sessions` is the session table of all captures.
pub fn render(
    results: &[CaptureResult],
    sessions: &DataFrame,
    records: &[&SessionRecord],
) -> PolarsResult<String> {
    let mut o = String::new();
    let packets: u64 = results.iter().map(|r| r.read.packets).sum();
    let first = results.iter().filter_map(|r| r.first_ts).min();
    let last = results.iter().filter_map(|r| r.last_ts).max();
    let refused: usize = results.iter().map(|r| r.refused.len()).sum();
    let total = sessions.height() as u64;
    let _ = writeln!(
        o,
        "{} capture{}, {} packets",
        results.len(),
        if results.len() == 1 { "" } else { "s" },
        packets
    );
    if let (Some(a), Some(b)) = (first, last) {
        let _ = writeln!(
            o,
            "Time range: {} -> {} UTC ({})",
            fmt_time(a),
            fmt_time(b),
            fmt_duration((b - a) as f64 / 1e9)
        );
    }
    let _ = writeln!(
        o,
        "WebSocket sessions: {total}    refused upgrades: {refused}"
    );

    let endings = per_ending(sessions)?;
    let _ = writeln!(o, "\nEnding        Sessions   Share  Meaning");
    for e in Ending::ALL {
        let n = endings.get(e.as_str()).copied().unwrap_or(0);
        if n == 0 {
            continue;
        }
        let _ = writeln!(
            o,
            "{:<12} {:>9} {:>7}  {}",
            e.as_str(),
            n,
            pct(n, total),
            ending_meaning(e)
        );
    }

    let codes = per_code(sessions)?;
    if !codes.is_empty() {
        let _ = writeln!(
            o,
            "\nClose code                       Sessions   Share   By client  By server  Both sent Close"
        );
        for r in codes {
            let _ = writeln!(
                o,
                "{:<32} {:>8} {:>7} {:>11} {:>10}  {:>15}",
                fit(&code_label(r.code), 32),
                r.sessions,
                pct(r.sessions, total),
                r.by_client,
                r.by_server,
                pct(r.completed, r.sessions)
            );
        }
    }

    if refused > 0 {
        let mut by_status: BTreeMap<(u16, String), u64> = BTreeMap::new();
        for r in results.iter().flat_map(|r| &r.refused) {
            *by_status.entry((r.status, r.reason.clone())).or_insert(0) += 1;
        }
        let _ = writeln!(o, "\nRefused upgrade (HTTP status)          Count");
        for ((status, reason), n) in by_status {
            let _ = writeln!(o, "{:<38} {:>5}", fit(&format!("{status} {reason}"), 38), n);
        }
    }

    let mut anomalies: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for r in records {
        for (name, n) in &r.anomalies {
            let e = anomalies.entry(name).or_insert((0, 0));
            e.0 += 1;
            e.1 += *n as u64;
        }
    }
    if !anomalies.is_empty() {
        let _ = writeln!(
            o,
            "\nAnomaly                          Sessions  Occurrences"
        );
        for (name, (s, n)) in anomalies {
            let _ = writeln!(o, "{name:<32} {s:>8} {n:>12}");
        }
    }

    let flag = |f: fn(&SessionRecord) -> bool| records.iter().filter(|r| f(r)).count();
    let (gap, mid, trunc, limit) = (
        flag(|r| r.gap),
        flag(|r| r.midstream),
        flag(|r| r.truncated),
        flag(|r| r.limit_hit),
    );
    if gap + mid + trunc + limit > 0 {
        let _ = writeln!(
            o,
            "\nQuality: {gap} with capture gaps, {mid} started mid-stream, {trunc} cut by snaplen, {limit} hit a memory limit"
        );
    }
    Ok(o)
}
