//! The 1006 diagnosis: why sessions ended without a Close frame.
//!
//! Contract: [`abnormal_diagnosis`] reads only columns of the session table of
//! `docs/schema.md` (`ending`, `tcp_end`, `http_version`, `h2_end`, `idle_before_end_s`,
//! `duration_s`, `unanswered_pings`, `pings_client`, `pings_server`, `handshake_completed`,
//! `initiator`) and tolerates
//! nulls in all of
//! them (log rows): a null value is left out of the statistic it would feed.
//!
//! What it reports, over the sessions with `ending == "abnormal"` (close code 1006):
//! who ended TCP and how (`tcp_end`), quantiles of the idle time before the drop and of
//! the lifetime, clusters of equal idle times or lifetimes (a timeout somewhere on the
//! path, see [`CLUSTER_TOLERANCE`], [`CLUSTER_MIN_SESSIONS`], [`CLUSTER_MIN_SHARE`]),
//! and sessions whose pings went unanswered; over all sessions, one-sided closes (a Close
//! frame sent and never answered).

use polars::prelude::*;
use serde::Serialize;

use crate::table::columns::{f64s, strs, u64s};

/// Values within ±2 % of a cluster's centre belong to it (timers fire a little late,
/// and a capture point sees the FIN a few ms after the timer).
pub const CLUSTER_TOLERANCE: f64 = crate::analysis::timeouts::MATCH_TOLERANCE;
/// A cluster needs at least this many abnormal sessions...
pub const CLUSTER_MIN_SESSIONS: u64 = 3;
/// ...that are at least this share of the abnormal sessions with a known value.
pub const CLUSTER_MIN_SHARE: f64 = 0.3;
/// Shorter idle times / lifetimes are not clustered: no timeout fires that fast, and a
/// pile of "0.0 s idle" drops (a peer killed mid-conversation) is not a timer.
pub const CLUSTER_MIN_VALUE_S: f64 = 1.0;

/// p50 / p95 (linear interpolation) and max of one column; all null when no value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Quantiles {
    /// Sessions with a value.
    pub n: u64,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub max: Option<f64>,
}

/// Which column a cluster was found in.
pub use crate::analysis::timeouts::Measure;

/// Many abnormal sessions ending after the same idle time or lifetime.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cluster {
    pub measure: Measure,
    /// Median of the member values, seconds.
    pub value_s: f64,
    pub sessions: u64,
    /// Abnormal sessions with a value for this measure (the denominator of the share).
    pub of: u64,
    /// The well-known default it matches (`"60 s load-balancer idle timeout"`), or
    /// `None` when it matches none.
    pub known_default: Option<String>,
    /// One sentence: the likely cause.
    pub cause: String,
    /// Idle clusters: the members' mean interval between pings (lifetime / pings, either
    /// side), median over the members that pinged; `None` when none did or unknown.
    pub ping_interval_s: Option<f64>,
    /// Idle clusters: members that sent no ping at all (of those with known counts).
    pub without_pings: u64,
    /// One sentence: what to do.
    pub advice: String,
}

/// `tcp_end` among abnormal sessions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TcpEndCount {
    /// `client_fin`, `server_fin`, `client_rst`, `server_rst`, `none`, or `unknown` (null).
    pub tcp_end: String,
    pub sessions: u64,
}

/// A Close frame sent and never echoed, over all sessions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct OneSided {
    pub sessions: u64,
    pub by_client: u64,
    pub by_server: u64,
}

/// The whole 1006 diagnosis.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Diagnosis {
    /// All sessions in the table.
    pub sessions: u64,
    /// Sessions with `ending == "abnormal"`.
    pub abnormal: u64,
    /// Most frequent first, then by name.
    pub tcp_end: Vec<TcpEndCount>,
    pub idle_before_end_s: Quantiles,
    pub duration_s: Quantiles,
    /// Idle clusters first, then lifetime clusters; each by size, largest first.
    pub clusters: Vec<Cluster>,
    /// Abnormal sessions with `unanswered_pings > 0`.
    pub unanswered_ping_sessions: u64,
    /// Sum of `unanswered_pings` over those sessions.
    pub unanswered_pings: u64,
    /// Sessions (any ending) whose Close was sent but never answered.
    pub one_sided: OneSided,
    /// Abnormal sessions carried by HTTP/2 streams, by how the stream ended
    /// (`rst_stream CANCEL`, `goaway NO_ERROR`, `end_stream`, or `connection ended` when
    /// TCP or TLS ended first); most frequent first. Empty without HTTP/2.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub h2_end: Vec<H2EndCount>,
    /// Sessions a proxy cut (both legs ended by the proxy, no Close frame), per proxy
    /// and kind; filled by the report from [`crate::analysis::proxies`]. Empty when no
    /// session was seen on both sides of a proxy.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub proxy_cuts: Vec<crate::analysis::proxies::Cut>,
    /// Abnormal log rows whose proxy's own log says it cut them (`proxy_cut`: nginx's
    /// error log, HAProxy `cD`/`sD`).
    #[serde(skip_serializing_if = "is_zero")]
    pub proxy_cut_logged: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// How the HTTP/2 streams of abnormal sessions ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct H2EndCount {
    pub h2_end: String,
    pub sessions: u64,
}

fn quantiles(df: &DataFrame, name: &str) -> PolarsResult<Quantiles> {
    let c = || col(name).cast(DataType::Float64);
    let q = df
        .clone()
        .lazy()
        .select([
            c().count().cast(DataType::UInt64).alias("n"),
            c().quantile(lit(0.5), QuantileMethod::Linear).alias("p50"),
            c().quantile(lit(0.95), QuantileMethod::Linear).alias("p95"),
            c().max().alias("max"),
        ])
        .collect()?;
    let first =
        |n: &str| -> PolarsResult<Option<f64>> { Ok(f64s(&q, n)?.first().copied().flatten()) };
    Ok(Quantiles {
        n: u64s(&q, "n")?.first().copied().flatten().unwrap_or(0),
        p50: first("p50")?,
        p95: first("p95")?,
        max: first("max")?,
    })
}

/// The known idle timeouts within [`CLUSTER_TOLERANCE`] of `v`, if any (the table and
/// its sources: [`crate::analysis::timeouts::KNOWN_TIMEOUTS`]).
pub fn known_default(v: f64) -> Option<String> {
    crate::analysis::timeouts::matching(v, Measure::Idle)
}

/// A value in seconds with one decimal, as the diagnosis words it.
pub fn fmt_s(v: f64) -> String {
    format!("{v:.1} s")
}

fn describe(measure: Measure, value_s: f64) -> (Option<String>, String, String) {
    let known = crate::analysis::timeouts::matching(value_s, measure);
    let cause = match (known.as_deref(), measure) {
        (Some(k), _) => format!("matches {k}"),
        (None, Measure::Idle) => {
            format!("a fixed limit of {} somewhere on the path", fmt_s(value_s))
        }
        (None, Measure::Lifetime) => format!(
            "a fixed maximum connection lifetime of {} (proxy max connection age, token expiry)",
            fmt_s(value_s)
        ),
    };
    let advice = match measure {
        Measure::Idle => format!(
            "send pings more often than every {} (or raise that timeout)",
            fmt_s(value_s)
        ),
        Measure::Lifetime => {
            "find the component that closes connections by age; reconnect before it".to_string()
        }
    };
    (known, cause, advice)
}

/// Clusters of values within ±[`CLUSTER_TOLERANCE`]: repeatedly take the centre value
/// whose band holds the most values (ties: the smaller value), keep it if it passes the
/// thresholds, remove its members and look again.
fn clusters(values: Vec<f64>, measure: Measure) -> Vec<Cluster> {
    clusters_with_bands(values, measure)
        .into_iter()
        .map(|(c, _)| c)
        .collect()
}

/// [`clusters`], each with the smallest and largest value among its members.
fn clusters_with_bands(mut values: Vec<f64>, measure: Measure) -> Vec<(Cluster, (f64, f64))> {
    let of = values.len() as u64;
    values.retain(|v| v.is_finite() && *v >= CLUSTER_MIN_VALUE_S);
    values.sort_by(f64::total_cmp);
    let mut out = Vec::new();
    loop {
        let (mut best, mut best_range) = (0usize, (0usize, 0usize));
        for &v in &values {
            let lo = values.partition_point(|x| *x < v / (1.0 + CLUSTER_TOLERANCE));
            let hi = values.partition_point(|x| *x <= v * (1.0 + CLUSTER_TOLERANCE));
            if hi - lo > best {
                best = hi - lo;
                best_range = (lo, hi);
            }
        }
        let n = best as u64;
        if n < CLUSTER_MIN_SESSIONS || (n as f64) < CLUSTER_MIN_SHARE * of as f64 {
            break;
        }
        let members: Vec<f64> = values.drain(best_range.0..best_range.1).collect();
        let m = members.len();
        let value_s = if m % 2 == 1 {
            members[m / 2]
        } else {
            (members[m / 2 - 1] + members[m / 2]) / 2.0
        };
        let (known_default, cause, advice) = describe(measure, value_s);
        let band = (members[0], members[m - 1]);
        out.push((
            Cluster {
                measure,
                value_s,
                sessions: n,
                of,
                known_default,
                cause,
                advice,
                ping_interval_s: None,
                without_pings: 0,
            },
            band,
        ));
    }
    out
}

/// Diagnose the abnormal (1006) sessions of a session table.
pub fn abnormal_diagnosis(sessions: &DataFrame) -> PolarsResult<Diagnosis> {
    // Tables written before HTTP/2 support have no h2 columns: nulls then.
    let or_null = |name: &str| {
        if sessions.schema().contains(name) {
            col(name).cast(DataType::String)
        } else {
            lit(NULL).cast(DataType::String).alias(name)
        }
    };
    let abnormal = sessions
        .clone()
        .lazy()
        .filter(col("ending").cast(DataType::String).eq(lit("abnormal")))
        .select([
            col("tcp_end").cast(DataType::String),
            or_null("http_version"),
            or_null("h2_end"),
            col("idle_before_end_s").cast(DataType::Float64),
            col("duration_s").cast(DataType::Float64),
            col("unanswered_pings").cast(DataType::UInt64),
            // hand-made tables may lack the ping counts: unknown then
            if ["pings_client", "pings_server"]
                .iter()
                .all(|c| sessions.schema().contains(c))
            {
                (col("pings_client").cast(DataType::UInt64)
                    + col("pings_server").cast(DataType::UInt64))
                .alias("pings")
            } else {
                lit(NULL).cast(DataType::UInt64).alias("pings")
            },
        ])
        .collect()?;

    let ends = abnormal
        .clone()
        .lazy()
        .group_by([col("tcp_end").fill_null(lit("unknown"))])
        .agg([len().cast(DataType::UInt64).alias("n")])
        .sort_by_exprs(
            [col("n"), col("tcp_end")],
            SortMultipleOptions::default().with_order_descending_multi([true, false]),
        )
        .collect()?;
    let tcp_end = strs(&ends, "tcp_end")?
        .into_iter()
        .zip(u64s(&ends, "n")?)
        .map(|(e, n)| TcpEndCount {
            tcp_end: e.unwrap_or_else(|| "unknown".into()),
            sessions: n.unwrap_or(0),
        })
        .collect();

    // HTTP/2: the stream's own end says more than TCP's (several streams share one
    // connection). The kind and error, without who and the stream id.
    let mut h2: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for (v, e) in strs(&abnormal, "http_version")?
        .into_iter()
        .zip(strs(&abnormal, "h2_end")?)
    {
        if v.as_deref() != Some("2") {
            continue;
        }
        let key = match e {
            Some(e) => e.split_whitespace().take(2).collect::<Vec<_>>().join(" "),
            None => "connection ended".into(),
        };
        *h2.entry(key).or_insert(0) += 1;
    }
    let mut h2_end: Vec<H2EndCount> = h2
        .into_iter()
        .map(|(h2_end, sessions)| H2EndCount { h2_end, sessions })
        .collect();
    h2_end.sort_by(|a, b| b.sessions.cmp(&a.sessions).then(a.h2_end.cmp(&b.h2_end)));

    let idles = f64s(&abnormal, "idle_before_end_s")?;
    let lives = f64s(&abnormal, "duration_s")?;
    let idle_clusters =
        clusters_with_bands(idles.iter().flatten().copied().collect(), Measure::Idle);
    // A lifetime limit only where idle time does not already explain the sessions: a
    // session cut after 3.0 s idle that lived 3.8 s is an idle timeout, not a 3.8 s
    // lifetime limit.
    let explained = |idle: Option<f64>| {
        idle.is_some_and(|v| {
            idle_clusters
                .iter()
                .any(|(_, (lo, hi))| (*lo..=*hi).contains(&v))
        })
    };
    let life: Vec<f64> = idles
        .iter()
        .zip(&lives)
        .filter(|(idle, _)| !explained(**idle))
        .filter_map(|(_, life)| *life)
        .collect();
    // The members' pings: an interval at or above the cut does not keep them alive.
    let ping_counts = u64s(&abnormal, "pings")?;
    let mut found: Vec<Cluster> = idle_clusters
        .into_iter()
        .map(|(mut c, (lo, hi))| {
            let mut intervals = Vec::new();
            for ((idle, life), n) in idles.iter().zip(&lives).zip(&ping_counts) {
                if !idle.is_some_and(|v| (lo..=hi).contains(&v)) {
                    continue;
                }
                match (life, n) {
                    (Some(l), Some(n)) if *n > 0 => intervals.push(l / *n as f64),
                    (_, Some(0)) => c.without_pings += 1,
                    _ => {}
                }
            }
            intervals.sort_by(f64::total_cmp);
            let m = intervals.len();
            c.ping_interval_s = (m > 0).then(|| {
                if m % 2 == 1 {
                    intervals[m / 2]
                } else {
                    (intervals[m / 2 - 1] + intervals[m / 2]) / 2.0
                }
            });
            if c.without_pings > 0 {
                c.cause.push_str(&format!(
                    "; {} of them sent no ping at all",
                    c.without_pings
                ));
            }
            if let Some(iv) = c
                .ping_interval_s
                .filter(|iv| *iv >= c.value_s * (1.0 - CLUSTER_TOLERANCE))
            {
                c.cause.push_str(&format!(
                    "; {} pings came every {} or less often, at or above the cut: they do \
                     not keep the connection alive",
                    if c.without_pings > 0 {
                        "the others'"
                    } else {
                        "their"
                    },
                    fmt_s(iv)
                ));
            }
            c
        })
        .collect();
    let with_life = lives.iter().flatten().count() as u64;
    found.extend(
        clusters(life, Measure::Lifetime)
            .into_iter()
            .map(|c| Cluster { of: with_life, ..c }),
    );

    let pings = abnormal
        .clone()
        .lazy()
        .filter(col("unanswered_pings").gt(lit(0)))
        .select([
            len().cast(DataType::UInt64).alias("sessions"),
            col("unanswered_pings")
                .sum()
                .cast(DataType::UInt64)
                .alias("pings"),
        ])
        .collect()?;
    let one = |df: &DataFrame, n: &str| -> PolarsResult<u64> {
        Ok(u64s(df, n)?.first().copied().flatten().unwrap_or(0))
    };

    let one_sided = sessions
        .clone()
        .lazy()
        .filter(
            col("ending")
                .cast(DataType::String)
                .eq(lit("normal"))
                .or(col("ending").eq(lit("announced")))
                .or(col("ending").eq(lit("no_status")))
                .and(col("handshake_completed").eq(lit(false))),
        )
        .select([
            len().cast(DataType::UInt64).alias("sessions"),
            col("initiator")
                .eq(lit("client"))
                .sum()
                .cast(DataType::UInt64)
                .alias("by_client"),
            col("initiator")
                .eq(lit("server"))
                .sum()
                .cast(DataType::UInt64)
                .alias("by_server"),
        ])
        .collect()?;

    Ok(Diagnosis {
        sessions: sessions.height() as u64,
        abnormal: abnormal.height() as u64,
        tcp_end,
        h2_end,
        idle_before_end_s: quantiles(&abnormal, "idle_before_end_s")?,
        duration_s: quantiles(&abnormal, "duration_s")?,
        clusters: found,
        unanswered_ping_sessions: one(&pings, "sessions")?,
        unanswered_pings: one(&pings, "pings")?,
        one_sided: OneSided {
            sessions: one(&one_sided, "sessions")?,
            by_client: one(&one_sided, "by_client")?,
            by_server: one(&one_sided, "by_server")?,
        },
        proxy_cuts: Vec::new(),
        proxy_cut_logged: if sessions.schema().contains("proxy_cut") {
            let n = sessions
                .clone()
                .lazy()
                .filter(
                    col("ending")
                        .cast(DataType::String)
                        .eq(lit("abnormal"))
                        .and(col("proxy_cut").cast(DataType::Boolean).eq(lit(true))),
                )
                .select([len().cast(DataType::UInt64).alias("n")])
                .collect()?;
            one(&n, "n")?
        } else {
            0
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_defaults_match_within_two_percent() {
        assert!(known_default(60.0).is_some_and(|k| k.contains("AWS ALB")));
        assert!(known_default(61.1).is_some());
        assert!(known_default(61.3).is_none());
        assert!(known_default(99.0).is_some_and(|k| k.contains("Cloudflare")));
        assert!(known_default(352.0).is_some_and(|k| k.contains("NAT gateway")));
        assert!(known_default(301.0).is_some_and(|k| k.contains("300 s")));
        assert!(known_default(590.0).is_some_and(|k| k.contains("600 s")));
        assert!(known_default(42.0).is_none());
    }

    #[test]
    fn pings_at_or_above_the_cut_are_named() {
        // Three sessions cut after 60 s idle that lived 120 s: one ping each (one every
        // 120 s, above the cut) or none; three others that pinged every 12 s (10 pings
        // in 120 s) and were cut after 30 s idle.
        let n = 6;
        let df = df!(
            "ending" => vec!["abnormal"; n],
            "tcp_end" => vec!["server_fin"; n],
            "idle_before_end_s" => [60.0f64, 60.1, 59.9, 30.0, 30.1, 29.9],
            "duration_s" => vec![120.0f64; n],
            "unanswered_pings" => vec![0u64; n],
            "pings_client" => [1u64, 1, 0, 10, 10, 10],
            "pings_server" => vec![0u64; n],
            "handshake_completed" => vec![false; n],
            "initiator" => vec!["none"; n],
        )
        .unwrap();
        let d = abnormal_diagnosis(&df).unwrap();
        let at = |v: f64| {
            d.clusters
                .iter()
                .find(|c| (c.value_s - v).abs() < 1.0)
                .unwrap()
        };
        let c60 = at(60.0);
        assert_eq!(c60.without_pings, 1);
        assert_eq!(c60.ping_interval_s, Some(120.0));
        assert!(
            c60.cause.contains("1 of them sent no ping at all"),
            "{}",
            c60.cause
        );
        assert!(
            c60.cause
                .contains("every 120.0 s or less often, at or above the cut"),
            "{}",
            c60.cause
        );
        let c30 = at(30.0);
        assert_eq!(c30.ping_interval_s, Some(12.0));
        assert!(!c30.cause.contains("at or above the cut"), "{}", c30.cause);
    }

    #[test]
    fn tiny_idle_times_never_cluster() {
        let c = clusters(vec![0.001, 0.001, 0.001, 0.0012], Measure::Idle);
        assert!(c.is_empty());
    }
}
