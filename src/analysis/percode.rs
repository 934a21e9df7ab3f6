//! The per-code report: what `wsaudit analyze` and `wsaudit report` print first.
//!
//! Contract: [`per_code`] groups a session table (columns of `docs/schema.md`) by
//! `close_code` and returns one [`CodeRow`] per code seen: count, share, who sent the
//! first Close, how often both sides sent one, session duration p50/p95/p99, and the
//! one-line meaning from [`crate::codes`]. [`per_ending`] does the same by `ending`.
//! [`per_code_frame`] is the same table as a DataFrame for `--summary` exports. Rows
//! come sorted by count (descending), then code, so output is deterministic.

use polars::prelude::*;
use serde::Serialize;

use crate::codes;
use crate::session::Ending;
use crate::table::columns::{f64s, strs, u64s};

/// One close code's line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CodeRow {
    pub close_code: u16,
    pub close_code_name: String,
    pub sessions: u64,
    /// Of all sessions in the table (open ones included).
    pub share: f64,
    pub by_client: u64,
    pub by_server: u64,
    /// Sessions whose source can tell who sent the first Close (captures can; most
    /// logs cannot): `by_client` and `by_server` are counts among these, unknown when 0.
    pub initiator_known: u64,
    /// Sessions whose first Close was answered by a Close from the other side, among
    /// the `echo_known` sessions whose source can tell.
    pub handshake_completed_rate: f64,
    pub echo_known: u64,
    pub duration_p50_s: Option<f64>,
    pub duration_p95_s: Option<f64>,
    pub duration_p99_s: Option<f64>,
    /// What the code means and what to do about it (one line).
    pub meaning: String,
}

/// One ending's line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EndingRow {
    pub ending: String,
    pub sessions: u64,
    pub share: f64,
    pub meaning: String,
}

fn q(c: &str, p: f64, name: &str) -> Expr {
    col(c).quantile(lit(p), QuantileMethod::Linear).alias(name)
}

/// The per-code table as a DataFrame (the `--summary` export).
pub fn per_code_frame(sessions: &DataFrame) -> PolarsResult<DataFrame> {
    per_code_table(sessions)?.select([
        "close_code",
        "close_code_name",
        "sessions",
        "share",
        "by_client",
        "by_server",
        "handshake_completed_rate",
        "duration_p50_s",
        "duration_p95_s",
        "duration_p99_s",
        "meaning",
    ])
}

/// [`per_code_frame`] with how many sessions of each code know their initiator and
/// whether the Close was echoed.
fn per_code_table(sessions: &DataFrame) -> PolarsResult<DataFrame> {
    let total = sessions.height() as f64;
    let g = sessions
        .clone()
        .lazy()
        .filter(col("close_code").is_not_null())
        .group_by([col("close_code")])
        .agg([
            len().cast(DataType::Int64).alias("sessions"),
            col("initiator")
                .eq(lit("client"))
                .sum()
                .cast(DataType::Int64)
                .alias("by_client"),
            col("initiator")
                .eq(lit("server"))
                .sum()
                .cast(DataType::Int64)
                .alias("by_server"),
            col("handshake_completed")
                .cast(DataType::Float64)
                .mean()
                .alias("handshake_completed_rate"),
            col("initiator")
                .is_not_null()
                .sum()
                .cast(DataType::Int64)
                .alias("initiator_known"),
            col("handshake_completed")
                .is_not_null()
                .sum()
                .cast(DataType::Int64)
                .alias("echo_known"),
            q("duration_s", 0.50, "duration_p50_s"),
            q("duration_s", 0.95, "duration_p95_s"),
            q("duration_s", 0.99, "duration_p99_s"),
        ])
        .with_column((col("sessions").cast(DataType::Float64) / lit(total.max(1.0))).alias("share"))
        .sort_by_exprs(
            [col("sessions"), col("close_code")],
            SortMultipleOptions::default().with_order_descending_multi([true, false]),
        )
        .collect()?;
    let codes = u64s(&g, "close_code")?;
    let names: Vec<Option<String>> = codes
        .iter()
        .map(|c| c.map(|c| codes::info(c as u16).name.to_string()))
        .collect();
    let meanings: Vec<Option<String>> = codes
        .iter()
        .map(|c| c.map(|c| codes::info(c as u16).summary.to_string()))
        .collect();
    let mut g = g;
    g.with_column(Column::new("close_code_name".into(), names))?;
    g.with_column(Column::new("meaning".into(), meanings))?;
    Ok(g)
}

/// One [`CodeRow`] per close code in the table.
pub fn per_code(sessions: &DataFrame) -> PolarsResult<Vec<CodeRow>> {
    let g = per_code_table(sessions)?;
    let known = u64s(&g, "initiator_known")?;
    let echo_known = u64s(&g, "echo_known")?;
    let code = u64s(&g, "close_code")?;
    let name = strs(&g, "close_code_name")?;
    let n = u64s(&g, "sessions")?;
    let share = f64s(&g, "share")?;
    let c = u64s(&g, "by_client")?;
    let s = u64s(&g, "by_server")?;
    let done = f64s(&g, "handshake_completed_rate")?;
    let (p50, p95, p99) = (
        f64s(&g, "duration_p50_s")?,
        f64s(&g, "duration_p95_s")?,
        f64s(&g, "duration_p99_s")?,
    );
    let meaning = strs(&g, "meaning")?;
    Ok((0..g.height())
        .map(|i| CodeRow {
            close_code: code[i].unwrap_or(0) as u16,
            close_code_name: name[i].clone().unwrap_or_default(),
            sessions: n[i].unwrap_or(0),
            share: share[i].unwrap_or(0.0),
            by_client: c[i].unwrap_or(0),
            by_server: s[i].unwrap_or(0),
            initiator_known: known[i].unwrap_or(0),
            echo_known: echo_known[i].unwrap_or(0),
            handshake_completed_rate: done[i].unwrap_or(0.0),
            duration_p50_s: p50[i],
            duration_p95_s: p95[i],
            duration_p99_s: p99[i],
            meaning: meaning[i].clone().unwrap_or_default(),
        })
        .collect())
}

/// What an ending means, in a few words.
pub fn ending_meaning(e: Ending) -> &'static str {
    match e {
        Ending::Normal => "first Close carried 1000",
        Ending::Announced => "first Close carried another code",
        Ending::NoStatus => "first Close had no code (1005)",
        Ending::Abnormal => "TCP ended, no Close frame (1006)",
        Ending::Open => "still open when the capture ended",
        Ending::Undecrypted => "TLS with no key in the key logs: not read",
    }
}

/// Sessions per ending, in the fixed order normal, announced, no_status, abnormal, open
/// (endings with no session are left out).
pub fn per_ending(sessions: &DataFrame) -> PolarsResult<Vec<EndingRow>> {
    let total = sessions.height() as f64;
    let g = sessions
        .clone()
        .lazy()
        .group_by([col("ending")])
        .agg([len().cast(DataType::UInt64).alias("n")])
        .collect()?;
    let e = strs(&g, "ending")?;
    let n = u64s(&g, "n")?;
    Ok(Ending::ALL
        .iter()
        .filter_map(|end| {
            let i = e.iter().position(|x| x.as_deref() == Some(end.as_str()))?;
            let count = n[i].unwrap_or(0);
            Some(EndingRow {
                ending: end.as_str().to_string(),
                sessions: count,
                share: count as f64 / total.max(1.0),
                meaning: ending_meaning(*end).to_string(),
            })
        })
        .collect())
}
