//! `--by`: close codes per group (server, host, path, subprotocol, client, user agent,
//! capture, minute, hour).
//!
//! Contract: [`breakdown`] groups the session table by one key and returns, for the
//! `top` largest groups, the sessions in each and the share of each of the most common
//! close codes; the remaining groups are folded into one row. Sessions with no value for
//! the key (e.g. no Host header) form the group `(none)`. Computed in polars.

use polars::prelude::*;
use serde::Serialize;

use crate::table::columns::{strs, u64s};

/// What to group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// server_ip:server_port
    Server,
    Host,
    Path,
    Subprotocol,
    /// client_ip
    Client,
    UserAgent,
    Capture,
    /// end time truncated to the minute (UTC)
    Minute,
    /// end time truncated to the hour (UTC)
    Hour,
}

impl GroupBy {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Server => "server",
            GroupBy::Host => "host",
            GroupBy::Path => "path",
            GroupBy::Subprotocol => "subprotocol",
            GroupBy::Client => "client",
            GroupBy::UserAgent => "user_agent",
            GroupBy::Capture => "capture",
            GroupBy::Minute => "minute",
            GroupBy::Hour => "hour",
        }
    }

    /// The group key as a string expression.
    fn key(self) -> Expr {
        let time_bucket = |secs: i64| {
            let ns = secs * 1_000_000_000;
            ((col("end_time").cast(DataType::Int64) / lit(ns)) * lit(ns))
                .cast(DataType::Datetime(
                    TimeUnit::Nanoseconds,
                    Some(TimeZone::UTC),
                ))
                .dt()
                .strftime(if secs == 60 {
                    "%Y-%m-%d %H:%M"
                } else {
                    "%Y-%m-%d %H:00"
                })
        };
        match self {
            GroupBy::Server => {
                col("server_ip") + lit(":") + col("server_port").cast(DataType::String)
            }
            GroupBy::Host => col("host"),
            GroupBy::Path => col("path"),
            GroupBy::Subprotocol => col("subprotocol"),
            GroupBy::Client => col("client_ip"),
            GroupBy::UserAgent => col("user_agent"),
            GroupBy::Capture => col("capture"),
            GroupBy::Minute => time_bucket(60),
            GroupBy::Hour => time_bucket(3600),
        }
    }
}

/// One group's line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupRow {
    pub group: String,
    pub sessions: u64,
    /// Sessions per code, in the order of [`Breakdown::codes`].
    pub per_code: Vec<u64>,
    /// Sessions with another code, or still open.
    pub other: u64,
}

/// A `--by` table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Breakdown {
    pub by: GroupBy,
    /// The codes that get a column: the most common ones overall (1006 always, if seen).
    pub codes: Vec<u16>,
    pub rows: Vec<GroupRow>,
    /// The groups beyond the top ones, folded together (with how many groups).
    pub folded: Option<(u64, GroupRow)>,
}

/// How many code columns fit in 100 columns.
pub const MAX_CODE_COLUMNS: usize = 6;

/// Group `sessions` by `by`; keep the `top` groups with most sessions.
pub fn breakdown(sessions: &DataFrame, by: GroupBy, top: usize) -> PolarsResult<Breakdown> {
    // The code columns: most common codes overall, 1006 always in.
    let overall = sessions
        .clone()
        .lazy()
        .filter(col("close_code").is_not_null())
        .group_by([col("close_code")])
        .agg([len().alias("n")])
        .sort_by_exprs(
            [col("n"), col("close_code")],
            SortMultipleOptions::default().with_order_descending_multi([true, false]),
        )
        .collect()?;
    let mut codes: Vec<u16> = u64s(&overall, "close_code")?
        .into_iter()
        .flatten()
        .map(|c| c as u16)
        .take(MAX_CODE_COLUMNS)
        .collect();
    let has_1006 = u64s(&overall, "close_code")?.contains(&Some(1006));
    if has_1006 && !codes.contains(&1006) {
        codes.pop();
        codes.push(1006);
    }
    let mut aggs = vec![len().cast(DataType::UInt64).alias("sessions")];
    for c in &codes {
        aggs.push(
            col("close_code")
                .eq(lit(*c as u32).cast(DataType::UInt16))
                .fill_null(lit(false))
                .sum()
                .cast(DataType::UInt64)
                .alias(format!("c{c}")),
        );
    }
    let g = sessions
        .clone()
        .lazy()
        .with_column(by.key().fill_null(lit("(none)")).alias("group"))
        .group_by([col("group")])
        .agg(aggs)
        .sort_by_exprs(
            [col("sessions"), col("group")],
            SortMultipleOptions::default().with_order_descending_multi([true, false]),
        )
        .collect()?;
    let groups = strs(&g, "group")?;
    let n = u64s(&g, "sessions")?;
    let per: Vec<Vec<Option<u64>>> = codes
        .iter()
        .map(|c| u64s(&g, &format!("c{c}")))
        .collect::<PolarsResult<_>>()?;
    let row = |i: usize| {
        let per_code: Vec<u64> = per.iter().map(|v| v[i].unwrap_or(0)).collect();
        let sessions = n[i].unwrap_or(0);
        GroupRow {
            group: groups[i].clone().unwrap_or_default(),
            sessions,
            other: sessions - per_code.iter().sum::<u64>(),
            per_code,
        }
    };
    let rows: Vec<GroupRow> = (0..g.height().min(top)).map(row).collect();
    let folded = if g.height() > top {
        let rest: Vec<GroupRow> = (top..g.height()).map(row).collect();
        let mut sum = GroupRow {
            group: format!("({} other groups)", rest.len()),
            sessions: 0,
            per_code: vec![0; codes.len()],
            other: 0,
        };
        for r in &rest {
            sum.sessions += r.sessions;
            sum.other += r.other;
            for (a, b) in sum.per_code.iter_mut().zip(&r.per_code) {
                *a += b;
            }
        }
        Some((rest.len() as u64, sum))
    } else {
        None
    };
    Ok(Breakdown {
        by,
        codes,
        rows,
        folded,
    })
}
