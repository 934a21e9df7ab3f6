//! The dashboards' data that the [`Report`](crate::analysis::summary::Report) does not
//! hold: duration, idle and reconnect-delay histograms, and the most frequent reasons.
//!
//! Contract: counts only (no formatting). The duration and idle histograms count
//! sessions by close code (`series`: the code as a decimal string, or `open`); a session
//! with a null, negative or non-finite value is left out, [`Histogram::total`] says how
//! many were counted of [`Histogram::of`], and [`Histogram::missing`] says where the
//! others came from (log rows have no idle time: a log does not say when the last frame
//! was sent).

use polars::prelude::*;
use serde::Serialize;

use crate::analysis::timeline::{timeline, Timeline};
use crate::table::columns::{f64s, i64s, ns_expr, strs, u16s, u64s};

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
    /// Rows that could have fed it: every session (duration, idle), every ended session
    /// (reconnect delays: most have no reconnect, which is not a missing value).
    pub of: u64,
    /// Sessions left out for want of a value, by their `source` (`capture`, or the log
    /// format that made the row), largest first. Empty for reconnect delays.
    pub missing: Vec<Missing>,
}

/// Sessions of one `source` that a histogram could not count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Missing {
    /// `capture`, a log format's name (`gorilla`, `nginx`, ...), or `table` when unknown.
    pub source: String,
    pub sessions: u64,
}

/// The series of a session in the duration and idle histograms: its close code, or
/// `open` (no close code yet).
pub const OPEN_SERIES: &str = "open";

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
    sources: Option<&[Option<String>]>,
) -> Histogram {
    let mut series: Vec<String> = order.to_vec();
    for s in series_of.iter().flatten() {
        if !series.contains(s) {
            series.push(s.clone());
        }
    }
    let mut counts = vec![vec![0u64; series.len()]; edges.len()];
    let mut total = 0;
    let mut missing: Vec<Missing> = Vec::new();
    for (i, (v, s)) in values.iter().zip(series_of).enumerate() {
        let counted = match (v, s) {
            (Some(v), Some(s)) if v.is_finite() && *v >= 0.0 => {
                match series.iter().position(|x| x == s) {
                    Some(j) => {
                        counts[bin_of(edges, *v)][j] += 1;
                        total += 1;
                        true
                    }
                    None => false,
                }
            }
            _ => false,
        };
        if let (false, Some(sources)) = (counted, sources) {
            let source = sources
                .get(i)
                .cloned()
                .flatten()
                .unwrap_or_else(|| "table".into());
            match missing.iter_mut().find(|m| m.source == source) {
                Some(m) => m.sessions += 1,
                None => missing.push(Missing {
                    source,
                    sessions: 1,
                }),
            }
        }
    }
    missing.sort_by(|a, b| b.sessions.cmp(&a.sessions).then(a.source.cmp(&b.source)));
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
        of: values.len() as u64,
        missing,
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
    /// Closes over the busiest stretch, when most closes fall in a small part of the
    /// span (a few old log lines stretch a night's timeline over years).
    pub busiest: Option<Busiest>,
}

/// The shortest stretch holding [`BUSIEST_SHARE`] of the closes, when it is under
/// 1/[`BUSIEST_ZOOM`] of the whole span.
#[derive(Debug, Clone, Serialize)]
pub struct Busiest {
    /// Closes in the stretch (as [`crate::analysis::timeline::timeline`] counts them).
    pub timeline: Timeline,
    /// Closes in the whole span.
    pub of: u64,
}

/// Share of the closes the busiest stretch holds.
pub const BUSIEST_SHARE: f64 = 0.9;
/// The stretch is shown when the whole span is more than this many times longer.
pub const BUSIEST_ZOOM: i64 = 20;

/// The busiest stretch of closes (see [`Busiest`]), if the span is much longer.
pub fn busiest(sessions: &DataFrame) -> PolarsResult<Option<Busiest>> {
    let t_expr = || ns_expr("close_time").fill_null(ns_expr("end_time"));
    let times = sessions
        .clone()
        .lazy()
        .filter(col("close_code").is_not_null())
        .select([t_expr().alias("t")])
        .filter(col("t").is_not_null())
        .collect()?;
    let mut t: Vec<i64> = i64s(&times, "t")?.into_iter().flatten().collect();
    t.sort_unstable();
    let n = t.len();
    if n < 10 {
        return Ok(None);
    }
    let k = ((n as f64 * BUSIEST_SHARE).ceil() as usize).clamp(1, n);
    let Some(i) = (0..=n - k).min_by_key(|i| t[i + k - 1] - t[*i]) else {
        return Ok(None);
    };
    let (lo, hi) = (t[i], t[i + k - 1]);
    if (hi - lo).saturating_mul(BUSIEST_ZOOM) >= t[n - 1] - t[0] {
        return Ok(None);
    }
    let inside = sessions
        .clone()
        .lazy()
        .filter(
            col("close_code")
                .is_not_null()
                .and(t_expr().gt_eq(lit(lo)))
                .and(t_expr().lt_eq(lit(hi))),
        )
        .collect()?;
    Ok(Some(Busiest {
        timeline: timeline(&inside)?,
        of: n as u64,
    }))
}

/// The series of each session: its close code, or [`OPEN_SERIES`].
fn code_series(sessions: &DataFrame) -> PolarsResult<Vec<Option<String>>> {
    Ok(u16s(sessions, "close_code")?
        .into_iter()
        .map(|c| Some(c.map_or_else(|| OPEN_SERIES.to_string(), |c| c.to_string())))
        .collect())
}

/// Series in numeric code order, `open` last.
fn series_order(h: &mut Histogram) {
    let mut order: Vec<usize> = (0..h.series.len()).collect();
    order.sort_by_key(|j| h.series[*j].parse::<u32>().unwrap_or(u32::MAX));
    h.series = order.iter().map(|j| h.series[*j].clone()).collect();
    h.counts = h
        .counts
        .iter()
        .map(|row| order.iter().map(|j| row[*j]).collect())
        .collect();
}

/// The columns of the reconnect table [`extras`] reads (the pages build only these:
/// the whole table was ~50 MiB more at the peak on 350,000 sessions).
pub const RECONNECT_COLUMNS: &[&str] = &["close_code", "reconnect_delay_s"];

/// The histograms and top reasons of one run (`rec`: its reconnect table, at least
/// [`RECONNECT_COLUMNS`]).
pub fn extras(sessions: &DataFrame, rec: &DataFrame) -> PolarsResult<Extras> {
    let series = code_series(sessions)?;
    // Tables written before the column existed have no `source`: their rows show as `table`.
    let sources = if sessions.schema().contains("source") {
        strs(sessions, "source")?
    } else {
        vec![None; sessions.height()]
    };
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
        None,
    );
    delay.unit = "reconnects".into();
    series_order(&mut delay);
    let mut duration = histogram(
        "Session duration by close code",
        TIME_BINS,
        &f64s(sessions, "duration_s")?,
        &series,
        &[],
        Some(&sources),
    );
    series_order(&mut duration);
    let mut idle = histogram(
        "Idle time before the end by close code",
        TIME_BINS,
        &f64s(sessions, "idle_before_end_s")?,
        &series,
        &[],
        Some(&sources),
    );
    series_order(&mut idle);
    Ok(Extras {
        duration,
        idle,
        reconnect_delay: delay,
        reasons: top_reasons(sessions, 15)?,
        busiest: busiest(sessions)?,
    })
}
