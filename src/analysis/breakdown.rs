//! `--by`: close codes per group (server, host, path, subprotocol, client, user agent,
//! capture, minute, hour).
//!
//! Contract: [`breakdown`] groups the session table by one key and returns, for the
//! `top` largest groups, the sessions in each and the share of each of the most common
//! close codes; the remaining groups are folded into one row. Time groups (`minute`,
//! `hour`) are shown in time order. Paths are grouped without their query string and
//! with identifiers as `{id}` ([`path_group`]; `--path-raw` keeps them). Sessions with
//! no value for the key (no Host header; log rows have no path) are one group shown
//! last and named for what they lack: `(no path: log rows)`. Computed in polars.

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
    /// the TLS server name (SNI) the client asked for
    Sni,
    /// `tcp` or `tls`, with the HTTP version (`tls h2`, `tcp http/1.1`)
    Transport,
    /// the proxy the client connected to (sessions paired across a proxy; see
    /// `analysis::proxies`)
    Proxy,
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
            GroupBy::Sni => "sni",
            GroupBy::Transport => "transport",
            GroupBy::Proxy => "proxy",
        }
    }

    /// The group key as a string expression (paths are normalised in Rust, see
    /// [`path_group`]).
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
            GroupBy::Sni => col("sni"),
            GroupBy::Proxy => col("proxy"),
            GroupBy::Transport => {
                col("transport")
                    + lit(" ")
                    + when(col("http_version").eq(lit("2")))
                        .then(lit("h2"))
                        .otherwise(lit("http/1.1"))
            }
        }
    }

    /// Groups are times: shown in time order.
    pub fn is_time(self) -> bool {
        matches!(self, GroupBy::Minute | GroupBy::Hour)
    }

    /// What a session without a value for this key lacks (`no path`).
    fn missing(self) -> &'static str {
        match self {
            GroupBy::Server => "no server",
            GroupBy::Host => "no Host header",
            GroupBy::Path => "no path",
            GroupBy::Subprotocol => "no subprotocol",
            GroupBy::Client => "no client address",
            GroupBy::UserAgent => "no User-Agent",
            GroupBy::Capture => "no capture",
            GroupBy::Minute | GroupBy::Hour => "no end time",
            GroupBy::Sni => "no SNI",
            GroupBy::Transport => "no transport (log rows)",
            GroupBy::Proxy => "not proxied",
        }
    }
}

/// A path as a group: without its query string, and with the segments that are
/// identifiers (all digits, a UUID, 16 or more hex digits, or a long token mixing letters
/// and digits) replaced by `{id}`, so `/live?sid=n0` and `/users/1234/feed` group with
/// their siblings. `raw` keeps the path as it was.
pub fn path_group(path: &str, raw: bool) -> String {
    if raw {
        return path.to_string();
    }
    let path = path.split(['?', '#']).next().unwrap_or("");
    let is_id = |seg: &str| {
        let hex = |c: char| c.is_ascii_hexdigit();
        let digits = seg.chars().filter(char::is_ascii_digit).count();
        (!seg.is_empty() && seg.chars().all(|c| c.is_ascii_digit()))
            || (seg.len() == 36
                && seg.chars().enumerate().all(|(i, c)| {
                    if [8, 13, 18, 23].contains(&i) {
                        c == '-'
                    } else {
                        hex(c)
                    }
                }))
            || (seg.len() >= 16 && seg.chars().all(hex))
            || (seg.len() >= 20
                && digits >= 4
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    };
    path.split('/')
        .map(|seg| if is_id(seg) { "{id}" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
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
    /// The sessions with no value for the key (`(no path: log rows)`), shown last.
    pub missing: Option<GroupRow>,
}

/// How many code columns fit in 100 columns.
pub const MAX_CODE_COLUMNS: usize = 6;

/// Group `sessions` by `by`; keep the `top` groups with most sessions (shown in time
/// order for `minute` and `hour`), fold the rest into one row, and put the sessions
/// with no value for the key last, named for what they lack (`(no path: log rows)`).
/// Paths are grouped by [`path_group`] unless `path_raw`.
pub fn breakdown(
    sessions: &DataFrame,
    by: GroupBy,
    top: usize,
    path_raw: bool,
) -> PolarsResult<Breakdown> {
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
    // Whether a group is all log rows (a table without `source` has none).
    let log_row = if sessions.schema().contains("source") {
        col("source").neq(lit("capture")).fill_null(lit(true))
    } else {
        lit(false)
    };
    let mut aggs = vec![
        len().cast(DataType::UInt64).alias("sessions"),
        log_row.all(true).alias("all_logs"),
    ];
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
    let keyed = if by == GroupBy::Path {
        let paths = strs(sessions, "path")?;
        let groups: Vec<Option<String>> = paths
            .iter()
            .map(|p| p.as_deref().map(|p| path_group(p, path_raw)))
            .collect();
        let mut df = sessions.clone();
        df.with_column(Column::new("group".into(), groups))?;
        df.lazy()
    } else {
        sessions.clone().lazy().with_column(by.key().alias("group"))
    };
    let g = keyed
        .group_by([col("group")])
        .agg(aggs)
        .sort_by_exprs(
            [col("sessions"), col("group")],
            SortMultipleOptions::default()
                .with_order_descending_multi([true, false])
                .with_nulls_last(true),
        )
        .collect()?;
    let groups = strs(&g, "group")?;
    let n = u64s(&g, "sessions")?;
    let all_logs = g.column("all_logs")?.bool()?.clone();
    let per: Vec<Vec<Option<u64>>> = codes
        .iter()
        .map(|c| u64s(&g, &format!("c{c}")))
        .collect::<PolarsResult<_>>()?;
    let row = |i: usize| {
        let per_code: Vec<u64> = per.iter().map(|v| v[i].unwrap_or(0)).collect();
        let sessions = n[i].unwrap_or(0);
        let group = match &groups[i] {
            Some(g) => g.clone(),
            None if all_logs.get(i).unwrap_or(false) => format!("({}: log rows)", by.missing()),
            None => format!("({})", by.missing()),
        };
        GroupRow {
            group,
            sessions,
            other: sessions - per_code.iter().sum::<u64>(),
            per_code,
        }
    };
    // Sessions without a value: last, never folded, never counted among the top.
    let valued: Vec<usize> = (0..g.height()).filter(|i| groups[*i].is_some()).collect();
    let missing = (0..g.height()).find(|i| groups[*i].is_none()).map(row);
    let mut rows: Vec<GroupRow> = valued.iter().take(top).map(|i| row(*i)).collect();
    if by.is_time() {
        rows.sort_by(|a, b| a.group.cmp(&b.group));
    }
    let folded = if valued.len() > top {
        let rest: Vec<GroupRow> = valued[top..].iter().map(|i| row(*i)).collect();
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
        missing,
    })
}
