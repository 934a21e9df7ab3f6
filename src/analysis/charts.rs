//! The dashboards' data that the [`Report`](crate::analysis::summary::Report) does not
//! hold: duration, idle and reconnect-delay histograms, and the most frequent reasons.
//!
//! Contract: counts only (no formatting); sessions with a null, negative or non-finite
//! value are left out of a histogram and [`Histogram::total`] says how many were counted.

use polars::prelude::*;
use serde::Serialize;

use crate::session::Ending;
use crate::table::columns::{f64s, strs, u16s, u64s};

// ---------------------------------------------------------------------------------
// Histograms and reasons (for the HTML and Markdown reports)

/// Counts per bin and series (stacked bars).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Histogram {
    pub title: String,
    /// What a bin counts, e.g. "sessions".
    pub unit: String,
    pub bins: Vec<String>,
    pub series: Vec<String>,
    /// `counts[bin][series]`.
    pub counts: Vec<Vec<u64>>,
    /// Values that fed the histogram.
    pub total: u64,
}

/// Bin edges (seconds) and labels for durations and idle times.
pub const TIME_BINS: &[(f64, &str)] = &[
    (0.01, "<10 ms"),
    (0.1, "10-100 ms"),
    (1.0, "0.1-1 s"),
    (10.0, "1-10 s"),
    (30.0, "10-30 s"),
    (60.0, "30-60 s"),
    (120.0, "1-2 min"),
    (300.0, "2-5 min"),
    (600.0, "5-10 min"),
    (1800.0, "10-30 min"),
    (3600.0, "30-60 min"),
    (f64::INFINITY, ">=1 h"),
];

/// Bin edges (seconds) and labels for reconnect delays.
pub const DELAY_BINS: &[(f64, &str)] = &[
    (0.1, "<100 ms"),
    (0.5, "0.1-0.5 s"),
    (1.0, "0.5-1 s"),
    (2.0, "1-2 s"),
    (5.0, "2-5 s"),
    (10.0, "5-10 s"),
    (30.0, "10-30 s"),
    (60.0, "30-60 s"),
    (f64::INFINITY, ">=1 min"),
];

fn bin_of(edges: &[(f64, &str)], v: f64) -> usize {
    edges
        .iter()
        .position(|(hi, _)| v < *hi)
        .unwrap_or(edges.len() - 1)
}

fn histogram(
    title: &str,
    edges: &[(f64, &str)],
    values: &[Option<f64>],
    series_of: &[Option<String>],
    order: &[String],
) -> Histogram {
    let mut series: Vec<String> = order.to_vec();
    for s in series_of.iter().flatten() {
        if !series.contains(s) {
            series.push(s.clone());
        }
    }
    let mut counts = vec![vec![0u64; series.len()]; edges.len()];
    let mut total = 0;
    for (v, s) in values.iter().zip(series_of) {
        let (Some(v), Some(s)) = (v, s) else { continue };
        if !v.is_finite() || *v < 0.0 {
            continue;
        }
        if let Some(j) = series.iter().position(|x| x == s) {
            counts[bin_of(edges, *v)][j] += 1;
            total += 1;
        }
    }
    // Drop series with nothing in them.
    let keep: Vec<usize> = (0..series.len())
        .filter(|j| counts.iter().any(|row| row[*j] > 0))
        .collect();
    Histogram {
        title: title.to_string(),
        unit: "sessions".into(),
        bins: edges.iter().map(|(_, l)| l.to_string()).collect(),
        series: keep.iter().map(|j| series[*j].clone()).collect(),
        counts: counts
            .iter()
            .map(|row| keep.iter().map(|j| row[*j]).collect())
            .collect(),
        total,
    }
}

/// Most frequent close reasons per code.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReasonRow {
    pub close_code: u16,
    /// As sent (wire text: escape before display).
    pub close_reason: String,
    pub sessions: u64,
}

/// The `n` most frequent (code, non-empty reason) pairs.
pub fn top_reasons(sessions: &DataFrame, n: usize) -> PolarsResult<Vec<ReasonRow>> {
    let g = sessions
        .clone()
        .lazy()
        .select([
            col("close_code").cast(DataType::UInt16),
            col("close_reason").cast(DataType::String),
        ])
        .filter(
            col("close_code")
                .is_not_null()
                .and(col("close_reason").is_not_null())
                .and(col("close_reason").neq(lit(""))),
        )
        .group_by([col("close_code"), col("close_reason")])
        .agg([len().cast(DataType::UInt64).alias("n")])
        .sort_by_exprs(
            [col("n"), col("close_code"), col("close_reason")],
            SortMultipleOptions::default().with_order_descending_multi([true, false, false]),
        )
        .limit(n as IdxSize)
        .collect()?;
    let code = u16s(&g, "close_code")?;
    let reason = strs(&g, "close_reason")?;
    let count = u64s(&g, "n")?;
    Ok((0..g.height())
        .map(|i| ReasonRow {
            close_code: code[i].unwrap_or(0),
            close_reason: reason[i].clone().unwrap_or_default(),
            sessions: count[i].unwrap_or(0),
        })
        .collect())
}

/// The charts' data that the [`Report`](crate::analysis::summary::Report) does not hold.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Extras {
    pub duration: Histogram,
    pub idle: Histogram,
    pub reconnect_delay: Histogram,
    pub reasons: Vec<ReasonRow>,
}

/// The histograms and top reasons of one run (`rec`: its reconnect table).
pub fn extras(sessions: &DataFrame, rec: &DataFrame) -> PolarsResult<Extras> {
    let endings: Vec<String> = Ending::ALL.iter().map(|e| e.as_str().to_string()).collect();
    let ending = strs(sessions, "ending")?;
    let delay_code: Vec<Option<String>> = u16s(rec, "close_code")?
        .into_iter()
        .map(|c| c.map(|c| c.to_string()))
        .collect();
    let mut delay = histogram(
        "Reconnect delays (close to the same client's next session)",
        DELAY_BINS,
        &f64s(rec, "reconnect_delay_s")?,
        &delay_code,
        &[],
    );
    delay.unit = "reconnects".into();
    // Series (codes) in numeric order.
    let mut order: Vec<usize> = (0..delay.series.len()).collect();
    order.sort_by_key(|j| delay.series[*j].parse::<u32>().unwrap_or(u32::MAX));
    delay.series = order.iter().map(|j| delay.series[*j].clone()).collect();
    delay.counts = delay
        .counts
        .iter()
        .map(|row| order.iter().map(|j| row[*j]).collect())
        .collect();
    Ok(Extras {
        duration: histogram(
            "Session duration by ending",
            TIME_BINS,
            &f64s(sessions, "duration_s")?,
            &ending,
            &endings,
        ),
        idle: histogram(
            "Idle time before the end by ending",
            TIME_BINS,
            &f64s(sessions, "idle_before_end_s")?,
            &ending,
            &endings,
        ),
        reconnect_delay: delay,
        reasons: top_reasons(sessions, 15)?,
    })
}
