//! Timeline: closes per time bucket and close code, where deploys and incidents show.
//!
//! Contract: [`timeline`] reads only columns of the session table of `docs/schema.md`
//! (`close_code`, `close_time`, `end_time`). A session's close time is its `close_time`
//! (first Close frame), or its `end_time` when it has none (abnormal, 1006); sessions
//! with a null `close_code` (open) or no time at all (log rows) are left out. Buckets are
//! aligned to multiples of the bucket size since the Unix epoch (UTC), so the same closes
//! always land in the same buckets.

use polars::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;

use crate::table::columns::{i64s, ns_expr, ser_opt_time, ser_time, u16s, u64s, utc_ns};

/// Bucket sizes to choose from, seconds: 1 s, 5 s, 10 s, 30 s, 1 min, 5 min, 15 min,
/// 1 h, 6 h, 1 d.
pub const BUCKET_SIZES_S: [i64; 10] = [1, 5, 10, 30, 60, 300, 900, 3600, 21_600, 86_400];
/// The smallest size giving at most this many buckets over the span is chosen (so
/// 10-60 buckets whenever the span is at least 10 s and at most 60 days).
pub const MAX_BUCKETS: i64 = 60;
/// A spike is a bucket where a group's closes are at least this multiple of the group's
/// median per bucket (over every bucket of the span, empty ones included)...
pub const SPIKE_FACTOR: f64 = 3.0;
/// ...and at least this many.
pub const SPIKE_MIN_CLOSES: u64 = 5;
/// The rendered chart has at most this many bucket lines (neighbours are merged).
pub const MAX_LINES: usize = 40;

/// Columns of [`Timeline::frame`]: `bucket_start` timestamp (ns, UTC), `close_code` u16,
/// `closes` u64; one row per non-empty (bucket, code), sorted by both.
pub const TIMELINE_COLUMNS: &[&str] = &["bucket_start", "close_code", "closes"];

/// Which kind of burst a spike is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpikeKind {
    /// 1001 Going Away / 1012 Service Restart.
    Deploy,
    /// 1006 Abnormal Closure / 1011 Internal Error.
    Incident,
}

impl SpikeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SpikeKind::Deploy => "deploy",
            SpikeKind::Incident => "incident",
        }
    }

    pub fn codes(self) -> [u16; 2] {
        match self {
            SpikeKind::Deploy => [1001, 1012],
            SpikeKind::Incident => [1006, 1011],
        }
    }
}

/// A bucket where deploy or incident codes spiked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spike {
    #[serde(serialize_with = "ser_time")]
    pub bucket_start: i64,
    pub kind: SpikeKind,
    /// Closes with the kind's codes in this bucket.
    pub closes: u64,
    /// Median of those per bucket over the span.
    pub median: f64,
}

/// One close code's count in a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CodeCount {
    pub close_code: u16,
    pub closes: u64,
}

/// One non-empty bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    #[serde(serialize_with = "ser_time")]
    pub start: i64,
    pub closes: u64,
    /// Most closes first, then by code.
    pub codes: Vec<CodeCount>,
}

/// Closes over time.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timeline {
    pub bucket_s: i64,
    /// Start of the first and last bucket (null when there are no closes).
    #[serde(serialize_with = "ser_opt_time")]
    pub first_bucket: Option<i64>,
    #[serde(serialize_with = "ser_opt_time")]
    pub last_bucket: Option<i64>,
    pub closes: u64,
    /// Non-empty buckets in time order.
    pub buckets: Vec<Bucket>,
    /// In time order, deploys before incidents in the same bucket.
    pub spikes: Vec<Spike>,
    /// [`TIMELINE_COLUMNS`].
    #[serde(skip)]
    pub frame: DataFrame,
}

/// The bucket size (seconds) for closes spanning `span_s` seconds: the smallest of
/// [`BUCKET_SIZES_S`] that gives at most [`MAX_BUCKETS`] buckets, else 1 day.
pub fn bucket_size_s(span_s: f64) -> i64 {
    BUCKET_SIZES_S
        .into_iter()
        .find(|b| span_s / (*b as f64) < MAX_BUCKETS as f64)
        .unwrap_or(86_400)
}

fn median(v: &mut [u64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable();
    let m = v.len();
    if m % 2 == 1 {
        v[m / 2] as f64
    } else {
        (v[m / 2 - 1] + v[m / 2]) as f64 / 2.0
    }
}

/// Closes per bucket and code, with spikes.
pub fn timeline(sessions: &DataFrame) -> PolarsResult<Timeline> {
    let closes = sessions
        .clone()
        .lazy()
        .select([
            col("close_code").cast(DataType::UInt16),
            ns_expr("close_time")
                .fill_null(ns_expr("end_time"))
                .alias("__t"),
        ])
        .filter(
            col("close_code")
                .is_not_null()
                .and(col("__t").is_not_null()),
        )
        .collect()?;
    let span = closes
        .clone()
        .lazy()
        .select([col("__t").min().alias("lo"), col("__t").max().alias("hi")])
        .collect()?;
    let (lo, hi) = match (
        i64s(&span, "lo")?.first().copied().flatten(),
        i64s(&span, "hi")?.first().copied().flatten(),
    ) {
        (Some(lo), Some(hi)) => (lo, hi),
        _ => {
            return Ok(Timeline {
                bucket_s: 1,
                frame: DataFrame::new(
                    0,
                    vec![
                        Column::new_empty("bucket_start".into(), &utc_ns()),
                        Column::new_empty("close_code".into(), &DataType::UInt16),
                        Column::new_empty("closes".into(), &DataType::UInt64),
                    ],
                )?,
                ..Timeline::default()
            })
        }
    };
    let bucket_s = bucket_size_s((hi - lo) as f64 / 1e9);
    let size = bucket_s * 1_000_000_000;
    let frame = closes
        .lazy()
        .group_by([
            // Floor to a multiple of `size` (euclidean remainder, so times before 1970
            // floor too), without `floor_div` (behind polars' `round_series` feature).
            (col("__t") - (col("__t") % lit(size) + lit(size)) % lit(size)).alias("__b"),
            col("close_code"),
        ])
        .agg([len().cast(DataType::UInt64).alias("closes")])
        .sort(["__b", "close_code"], SortMultipleOptions::default())
        .select([
            col("__b").cast(utc_ns()).alias("bucket_start"),
            col("close_code"),
            col("closes"),
        ])
        .collect()?;

    let starts = i64s(&frame, "bucket_start")?;
    let codes = u16s(&frame, "close_code")?;
    let counts = u64s(&frame, "closes")?;
    let mut by_bucket: BTreeMap<i64, Vec<CodeCount>> = BTreeMap::new();
    for ((b, c), n) in starts.iter().zip(&codes).zip(&counts) {
        if let (Some(b), Some(c), Some(n)) = (b, c, n) {
            by_bucket.entry(*b).or_default().push(CodeCount {
                close_code: *c,
                closes: *n,
            });
        }
    }
    let first = lo.div_euclid(size) * size;
    let last = hi.div_euclid(size) * size;
    let n_buckets = ((last - first) / size + 1) as usize;

    let mut spikes = Vec::new();
    for kind in [SpikeKind::Deploy, SpikeKind::Incident] {
        let mut dense = vec![0u64; n_buckets];
        for (b, cs) in &by_bucket {
            let i = ((b - first) / size) as usize;
            dense[i] = cs
                .iter()
                .filter(|c| kind.codes().contains(&c.close_code))
                .map(|c| c.closes)
                .sum();
        }
        let med = median(&mut dense.clone());
        for (i, n) in dense.into_iter().enumerate() {
            if n >= SPIKE_MIN_CLOSES && n as f64 >= SPIKE_FACTOR * med {
                spikes.push(Spike {
                    bucket_start: first + i as i64 * size,
                    kind,
                    closes: n,
                    median: med,
                });
            }
        }
    }
    spikes.sort_by_key(|s| (s.bucket_start, s.kind as u8));
    // One label per bucket: the spike furthest above its median (an incident on a tie).
    spikes.dedup_by(|later, kept| {
        if later.bucket_start != kept.bucket_start {
            return false;
        }
        let excess = |s: &Spike| s.closes as f64 / s.median.max(1.0);
        if excess(later) >= excess(kept) {
            std::mem::swap(later, kept);
        }
        true
    });

    let buckets: Vec<Bucket> = by_bucket
        .into_iter()
        .map(|(start, mut codes)| {
            codes.sort_by_key(|c| (std::cmp::Reverse(c.closes), c.close_code));
            Bucket {
                start,
                closes: codes.iter().map(|c| c.closes).sum(),
                codes,
            }
        })
        .collect();
    Ok(Timeline {
        bucket_s,
        first_bucket: Some(first),
        last_bucket: Some(last),
        closes: buckets.iter().map(|b| b.closes).sum(),
        buckets,
        spikes,
        frame,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_counts_empty_buckets() {
        assert_eq!(median(&mut [0, 0, 9]), 0.0);
        assert_eq!(median(&mut [4, 2, 6, 8]), 5.0);
        assert_eq!(median(&mut []), 0.0);
    }

    #[test]
    fn one_second_of_closes_gets_one_second_buckets() {
        assert_eq!(bucket_size_s(0.2), 1);
        assert_eq!(bucket_size_s(f64::NAN), 86_400);
    }
}
