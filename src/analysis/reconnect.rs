//! Reconnects: after a session ended, did the same client come back, and how fast?
//!
//! Contract: everything is computed from the session table of `docs/schema.md` (a polars
//! `DataFrame` from [`crate::table::session::sessions_frame`], or read back from an export), never
//! from the Rust session structs, so it works the same for captures and logs. Rows may
//! have null addresses, ports, hosts, paths or times (logs): a row with a null
//! `client_ip`, `server_ip`, `server_port` or `end_time` gets no reconnect, and a row with
//! a null `client_ip`, `server_ip`, `server_port` or `start_time` is never anyone's
//! reconnect. A null `host` or `path` matches a null one (both read as "unknown").
//!
//! - [`reconnects`]: one row per ended session (`ending != "open"`) with the first later
//!   session of the same client to the same server, host and path (see
//!   [`RECONNECT_COLUMNS`]).
//! - [`reconnect_by_code`]: per close code, reconnect rate and delay quantiles.
//! - [`reconnect_flags`]: storms, clients without backoff, clients that did not come back
//!   after 1012; thresholds are the `pub const`s below.

use polars::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::table::columns::{
    f64s, i64s, ns_expr, ser_opt_time, ser_time, str_ca, u16s, u64s, utc_ns,
};

/// Default reconnect window: 5 minutes.
pub const DEFAULT_WINDOW_S: f64 = 300.0;

/// A reconnect storm needs at least this many distinct clients reconnecting within one
/// second of each other... (10, not 5: five clients staggered 200 ms apart, as in
/// `fixtures/ws_restart.pcap`, all come back within 0.8 s, and that is a deliberate
/// stagger, not a thundering herd; a herd too small to reach 10 costs a server little.)
pub const STORM_MIN_CLIENTS: usize = 10;
/// ...and they must be at least this share of the distinct clients whose sessions ended
/// in the same (calendar, UTC) second.
pub const STORM_MIN_SHARE: f64 = 0.5;
/// Reconnecting sooner than this after 1001 or 1006 is "no backoff".
pub const NO_BACKOFF_S: f64 = 0.1;

/// Columns of [`reconnects`], in order. `next_session_id`, `next_start_time` and
/// `reconnect_delay_s` are null when the client did not come back within the window.
///
/// | column | type |
/// |---|---|
/// | session_id, capture, client_ip, server_ip | string |
/// | server_port | u16 |
/// | host, path, ending | string |
/// | close_code | u16 |
/// | end_time | timestamp (ns, UTC) |
/// | next_session_id | string |
/// | next_start_time | timestamp (ns, UTC) |
/// | reconnect_delay_s | f64: `next_start_time - end_time` (TCP end to the next SYN) |
pub const RECONNECT_COLUMNS: &[&str] = &[
    "session_id",
    "capture",
    "client_ip",
    "server_ip",
    "server_port",
    "host",
    "path",
    "ending",
    "close_code",
    "end_time",
    "next_session_id",
    "next_start_time",
    "reconnect_delay_s",
];

/// Columns of [`reconnect_by_code`], in order: `close_code` u16, `sessions` u64,
/// `reconnected` u64, `reconnect_rate` f64 (0-1), `delay_p50_s` f64, `delay_p95_s` f64
/// (linear interpolation; null when nothing reconnected).
pub const RECONNECT_BY_CODE_COLUMNS: &[&str] = &[
    "close_code",
    "sessions",
    "reconnected",
    "reconnect_rate",
    "delay_p50_s",
    "delay_p95_s",
];

/// For each ended session, the first session of the same client (`client_ip`) to the same
/// `server_ip`, `server_port`, `host` and `path` whose `start_time` is strictly after this
/// session's `end_time` and at most `window_s` seconds after it.
///
/// Output: [`RECONNECT_COLUMNS`], one row per session with `ending != "open"`, sorted by
/// `end_time`, then `session_id` (nulls last). Two sessions of one client that both ended
/// before its next connection share that connection as their reconnect.
pub fn reconnects(sessions: &DataFrame, window_s: f64) -> PolarsResult<DataFrame> {
    reconnects_with(sessions, window_s, RECONNECT_COLUMNS)
}

/// The columns of [`reconnects`] that [`reconnect_by_code`] and [`reconnect_flags`]
/// read: what the report needs (without `capture`, `host`, `path` and `ending`, four
/// string columns: ~22 MiB on 350,000 sessions).
pub const REPORT_RECONNECT_COLUMNS: &[&str] = &[
    "session_id",
    "client_ip",
    "server_ip",
    "server_port",
    "close_code",
    "end_time",
    "next_session_id",
    "next_start_time",
    "reconnect_delay_s",
];

/// [`reconnects`] with only the `columns` (of [`RECONNECT_COLUMNS`], in that order)
/// built: the same rows, in the same order.
pub fn reconnects_with(
    sessions: &DataFrame,
    window_s: f64,
    columns: &[&str],
) -> PolarsResult<DataFrame> {
    let window_ns = if window_s.is_finite() && window_s > 0.0 {
        (window_s * 1e9).round() as i64
    } else {
        0
    };
    // Normalised view: stable types whatever the source (capture, CSV, Parquet, logs).
    let base = sessions
        .clone()
        .lazy()
        .select([
            col("session_id").cast(DataType::String),
            col("capture").cast(DataType::String),
            col("client_ip").cast(DataType::String),
            col("server_ip").cast(DataType::String),
            col("server_port").cast(DataType::UInt16),
            col("host").cast(DataType::String),
            col("path").cast(DataType::String),
            col("ending").cast(DataType::String),
            col("close_code").cast(DataType::UInt16),
            ns_expr("start_time").alias("__start"),
            ns_expr("end_time").alias("__end"),
        ])
        .collect()?;
    let (next_row, next_start) = next_sessions(&base, window_ns)?;
    // The ended sessions, in output order; every column is gathered once, in that order
    // (a lazy filter and sort gathered all of them twice: ~40 MiB on 224,289 sessions).
    let ending = str_ca(&base, "ending")?;
    let ids = str_ca(&base, "session_id")?;
    let end = i64s(&base, "__end")?;
    let mut order: Vec<usize> = (0..base.height())
        .filter(|&i| ending.get(i).is_some_and(|e| e != "open"))
        .collect();
    // By end_time, then session_id (nulls last), then table order.
    let key = |i: usize| {
        (
            end[i].is_none(),
            end[i],
            ids.get(i).is_none(),
            ids.get(i),
            i,
        )
    };
    order.sort_by(|&a, &b| key(a).cmp(&key(b)));
    let idx = IdxCa::from_vec("idx".into(), order.iter().map(|&i| i as IdxSize).collect());
    let take = |name: &str| -> PolarsResult<Column> { base.column(name)?.take(&idx) };
    let times = |name: &str, v: Vec<Option<i64>>| Column::new(name.into(), v).cast(&utc_ns());
    let mut out = Vec::with_capacity(columns.len());
    for &name in RECONNECT_COLUMNS.iter().filter(|c| columns.contains(c)) {
        out.push(match name {
            "end_time" => times("end_time", order.iter().map(|&i| end[i]).collect())?,
            "next_session_id" => {
                // Gathered, not collected: the ids' bytes are shared, not copied
                // (~15 MiB on 350,000 sessions).
                let next_idx: IdxCa = order
                    .iter()
                    .map(|&i| next_row[i].map(|r| r as IdxSize))
                    .collect();
                ids.take(&next_idx)?
                    .with_name("next_session_id".into())
                    .into_column()
            }
            "next_start_time" => times(
                "next_start_time",
                order.iter().map(|&i| next_start[i]).collect(),
            )?,
            "reconnect_delay_s" => Column::new(
                "reconnect_delay_s".into(),
                order
                    .iter()
                    .map(|&i| Some((next_start[i]? - end[i]?) as f64 / 1e9))
                    .collect::<Vec<Option<f64>>>(),
            ),
            other => take(other)?,
        });
    }
    DataFrame::new(order.len(), out)
}

/// Per row: the row of its reconnect, and that session's start (ns).
type NextSessions = (Vec<Option<u32>>, Vec<Option<i64>>);

/// For every row of the normalised view, its reconnect: the row of the next session and
/// its start (ns), or nulls. An as-of join done by hand: rows are grouped by a dense
/// id of (client, server, port, host, path) and the starts of each group sorted once, so
/// a 10 GiB capture's 224,289 sessions cost ~90 MiB less at the peak than polars'
/// as-of join by five string keys. Among sessions of one group that start in the same
/// nanosecond, the first in the table is the reconnect.
fn next_sessions(base: &DataFrame, window_ns: i64) -> PolarsResult<NextSessions> {
    let client = str_ca(base, "client_ip")?;
    let server = str_ca(base, "server_ip")?;
    let port = u16s(base, "server_port")?;
    let host = str_ca(base, "host")?;
    let path = str_ca(base, "path")?;
    let start = i64s(base, "__start")?;
    let end = i64s(base, "__end")?;
    let n = base.height();
    // Dense group ids, from one sort of the rows by their key (no map of keys: with a
    // client address per connection, there are about as many groups as rows);
    // u32::MAX: an address is missing, never matched.
    type GroupKey<'a> = (&'a str, &'a str, u16, Option<&'a str>, Option<&'a str>);
    let key = |i: usize| -> Option<GroupKey<'_>> {
        Some((
            client.get(i)?,
            server.get(i)?,
            port[i]?,
            host.get(i),
            path.get(i),
        ))
    };
    let mut keyed: Vec<u32> = (0..n as u32)
        .filter(|&i| key(i as usize).is_some())
        .collect();
    keyed.sort_by(|&a, &b| {
        let (a, b) = (a as usize, b as usize);
        (key(a), start[a], a).cmp(&(key(b), start[b], b))
    });
    let mut group = vec![u32::MAX; n];
    let mut next_group = 0u32;
    for (at, &row) in keyed.iter().enumerate() {
        if at > 0 && key(keyed[at - 1] as usize) != key(row as usize) {
            next_group += 1;
        }
        group[row as usize] = next_group;
    }
    // Candidates: (group, start, row), already in that order.
    let starts: Vec<(u32, i64, u32)> = keyed
        .iter()
        .filter_map(|&r| Some((group[r as usize], start[r as usize]?, r)))
        .collect();
    drop(keyed);
    let mut next_row: Vec<Option<u32>> = vec![None; n];
    let mut next_start: Vec<Option<i64>> = vec![None; n];
    for i in 0..n {
        let (g, Some(e)) = (group[i], end[i]) else {
            continue;
        };
        if g == u32::MAX {
            continue;
        }
        // The first start strictly after this end, in the same group.
        let at = starts.partition_point(|&(sg, ss, _)| (sg, ss) <= (g, e));
        if let Some(&(sg, ss, row)) = starts.get(at) {
            if sg == g && ss.saturating_sub(e) <= window_ns {
                next_row[i] = Some(row);
                next_start[i] = Some(ss);
            }
        }
    }
    Ok((next_row, next_start))
}

/// Per close code (null code: its own row, last): `sessions`, `reconnected`,
/// `reconnect_rate`, `delay_p50_s`, `delay_p95_s` ([`RECONNECT_BY_CODE_COLUMNS`]),
/// sorted by close code. `rec` is the output of [`reconnects`].
pub fn reconnect_by_code(rec: &DataFrame) -> PolarsResult<DataFrame> {
    rec.clone()
        .lazy()
        // A session whose client or server is unknown (a log line without addresses)
        // cannot be followed: it is neither a reconnect nor a missing one.
        .filter(
            col("client_ip")
                .is_not_null()
                .and(col("server_ip").is_not_null())
                .and(col("server_port").is_not_null()),
        )
        .group_by([col("close_code").cast(DataType::UInt16)])
        .agg([
            len().cast(DataType::UInt64).alias("sessions"),
            col("next_session_id")
                .is_not_null()
                .sum()
                .cast(DataType::UInt64)
                .alias("reconnected"),
            col("reconnect_delay_s")
                .quantile(lit(0.5), QuantileMethod::Linear)
                .alias("delay_p50_s"),
            col("reconnect_delay_s")
                .quantile(lit(0.95), QuantileMethod::Linear)
                .alias("delay_p95_s"),
        ])
        .with_column(
            (col("reconnected").cast(DataType::Float64) / col("sessions").cast(DataType::Float64))
                .alias("reconnect_rate"),
        )
        .select(
            RECONNECT_BY_CODE_COLUMNS
                .iter()
                .map(|c| col(*c))
                .collect::<Vec<_>>(),
        )
        .sort(
            ["close_code"],
            SortMultipleOptions::default().with_nulls_last(true),
        )
        .collect()
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

/// Codes after which reconnecting is the question (the client should come back, with
/// the right delay): their rows are worth showing even when nobody reconnected.
pub const RECONNECT_CODES: [u16; 5] = [1001, 1006, 1011, 1012, 1013];

impl ReconnectRow {
    /// Worth a row in a report: the code was followed by reconnects, or it is one of
    /// [`RECONNECT_CODES`].
    pub fn worth_showing(&self) -> bool {
        self.reconnected > 0
            || self
                .close_code
                .is_some_and(|c| RECONNECT_CODES.contains(&c))
    }
}

/// The per-code table of [`reconnect_by_code`] as rows.
pub fn reconnect_rows(by_code: &DataFrame) -> PolarsResult<Vec<ReconnectRow>> {
    let code = u64s(by_code, "close_code")?;
    let n = u64s(by_code, "sessions")?;
    let back = u64s(by_code, "reconnected")?;
    let rate = f64s(by_code, "reconnect_rate")?;
    let p50 = f64s(by_code, "delay_p50_s")?;
    let p95 = f64s(by_code, "delay_p95_s")?;
    Ok((0..by_code.height())
        .map(|i| ReconnectRow {
            close_code: code[i].map(|c| c as u16),
            sessions: n[i].unwrap_or(0),
            reconnected: back[i].unwrap_or(0),
            reconnect_rate: rate[i].unwrap_or(0.0),
            delay_p50_s: p50[i],
            delay_p95_s: p95[i],
        })
        .collect())
}

/// Many clients reconnecting within one second after a mass close.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Storm {
    /// Start of the (UTC, calendar) second in which the sessions ended.
    #[serde(serialize_with = "ser_time")]
    pub closed_second: i64,
    /// Distinct clients whose sessions ended in that second.
    pub clients_closed: u64,
    /// Close codes of those sessions, ascending (null codes left out).
    pub codes: Vec<u16>,
    /// Distinct clients of that second whose reconnects fell within one second.
    pub clients_reconnected: u64,
    /// The first of those reconnects.
    #[serde(serialize_with = "ser_time")]
    pub reconnect_from: i64,
    /// The last of those reconnects (< `reconnect_from` + 1 s).
    #[serde(serialize_with = "ser_time")]
    pub reconnect_to: i64,
}

/// A client that came back less than [`NO_BACKOFF_S`] after 1001 or 1006.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoBackoff {
    pub session_id: Option<String>,
    pub client_ip: Option<String>,
    pub close_code: u16,
    #[serde(serialize_with = "ser_opt_time")]
    pub end_time: Option<i64>,
    pub next_session_id: Option<String>,
    pub reconnect_delay_s: f64,
}

/// A session ended by 1012 (Service Restart) with no reconnect within the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NeverCameBack {
    pub session_id: Option<String>,
    pub client_ip: Option<String>,
    pub server_ip: Option<String>,
    pub server_port: Option<u16>,
    #[serde(serialize_with = "ser_opt_time")]
    pub end_time: Option<i64>,
    /// How much data follows this session's end (up to the last `end_time` or
    /// `next_start_time` in the table): when it is shorter than the window, the client
    /// may still have come back after the data ends. Null when `end_time` is null.
    pub observed_after_s: Option<f64>,
}

/// What [`reconnect_flags`] found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReconnectFlags {
    /// By `closed_second`.
    pub storms: Vec<Storm>,
    /// In the order of the reconnect table (by `end_time`).
    pub no_backoff: Vec<NoBackoff>,
    /// In the order of the reconnect table (by `end_time`).
    pub never_came_back: Vec<NeverCameBack>,
}

impl ReconnectFlags {
    pub fn is_empty(&self) -> bool {
        self.storms.is_empty() && self.no_backoff.is_empty() && self.never_came_back.is_empty()
    }
}

/// Flags over the output of [`reconnects`]:
///
/// - storms: the sessions that ended in one calendar second (UTC) form a mass close; when
///   at least [`STORM_MIN_CLIENTS`] distinct clients among them reconnect within any
///   1-second span, and they are at least [`STORM_MIN_SHARE`] of the distinct clients
///   that closed in that second, it is a storm (nobody jittered their reconnect);
/// - no backoff: `close_code` 1001 or 1006 and `reconnect_delay_s < NO_BACKOFF_S`;
/// - never came back: `close_code` 1012 and no reconnect within the window.
pub fn reconnect_flags(rec: &DataFrame) -> PolarsResult<ReconnectFlags> {
    // Strings are read in place and copied only for flagged rows.
    let session_id = str_ca(rec, "session_id")?;
    let client = str_ca(rec, "client_ip")?;
    let server = str_ca(rec, "server_ip")?;
    let port = u16s(rec, "server_port")?;
    let code = u16s(rec, "close_code")?;
    let end = i64s(rec, "end_time")?;
    let next_id = str_ca(rec, "next_session_id")?;
    let owned = |ca: &StringChunked, i: usize| ca.get(i).map(str::to_string);
    let next = i64s(rec, "next_start_time")?;
    let delay = f64s(rec, "reconnect_delay_s")?;
    let data_end = end.iter().chain(next.iter()).flatten().max().copied();

    let mut flags = ReconnectFlags::default();
    for i in 0..rec.height() {
        match (code[i], delay[i]) {
            (Some(c @ (1001 | 1006)), Some(d)) if d < NO_BACKOFF_S => {
                flags.no_backoff.push(NoBackoff {
                    session_id: owned(&session_id, i),
                    client_ip: owned(&client, i),
                    close_code: c,
                    end_time: end[i],
                    next_session_id: owned(&next_id, i),
                    reconnect_delay_s: d,
                })
            }
            // Only a session whose client is known can be said not to have come back.
            (Some(1012), None) if client.get(i).is_some() && server.get(i).is_some() => {
                flags.never_came_back.push(NeverCameBack {
                    session_id: owned(&session_id, i),
                    client_ip: owned(&client, i),
                    server_ip: owned(&server, i),
                    server_port: port[i],
                    end_time: end[i],
                    observed_after_s: end[i].zip(data_end).map(|(e, d)| (d - e) as f64 / 1e9),
                })
            }
            _ => {}
        }
    }

    // Storms: group by the second of the close, then slide a 1 s window over reconnects.
    struct Second<'a> {
        clients: BTreeSet<&'a str>,
        codes: BTreeSet<u16>,
        reconnects: Vec<(i64, &'a str)>,
    }
    let mut seconds: BTreeMap<i64, Second<'_>> = BTreeMap::new();
    for i in 0..rec.height() {
        let (Some(e), Some(c)) = (end[i], client.get(i)) else {
            continue;
        };
        let sec = seconds
            .entry(e.div_euclid(1_000_000_000))
            .or_insert_with(|| Second {
                clients: BTreeSet::new(),
                codes: BTreeSet::new(),
                reconnects: Vec::new(),
            });
        sec.clients.insert(c);
        sec.codes.extend(code[i]);
        if let Some(n) = next[i] {
            sec.reconnects.push((n, c));
        }
    }
    for (s, mut sec) in seconds {
        sec.reconnects.sort();
        let mut counts: HashMap<&str, usize> = HashMap::new();
        let (mut best, mut best_span) = (0usize, (0i64, 0i64));
        let mut lo = 0;
        for hi in 0..sec.reconnects.len() {
            *counts.entry(sec.reconnects[hi].1).or_insert(0) += 1;
            while sec.reconnects[hi].0 - sec.reconnects[lo].0 >= 1_000_000_000 {
                let c = sec.reconnects[lo].1;
                if let Some(n) = counts.get_mut(c) {
                    *n -= 1;
                    if *n == 0 {
                        counts.remove(c);
                    }
                }
                lo += 1;
            }
            if counts.len() > best {
                best = counts.len();
                best_span = (sec.reconnects[lo].0, sec.reconnects[hi].0);
            }
        }
        let closed = sec.clients.len();
        if best >= STORM_MIN_CLIENTS && best as f64 >= STORM_MIN_SHARE * closed as f64 {
            flags.storms.push(Storm {
                closed_second: s * 1_000_000_000,
                clients_closed: closed as u64,
                codes: sec.codes.into_iter().collect(),
                clients_reconnected: best as u64,
                reconnect_from: best_span.0,
                reconnect_to: best_span.1,
            });
        }
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The report's and the pages' slim reconnect tables are the whole table's columns:
    /// the same rows in the same order, the same values.
    #[test]
    fn slim_reconnect_tables_are_columns_of_the_whole_one() {
        let s = 1_000_000_000i64;
        let t =
            |v: Vec<Option<i64>>, name: &str| Column::new(name.into(), v).cast(&utc_ns()).unwrap();
        let df = DataFrame::new(
            4,
            vec![
                Column::new("session_id".into(), ["c#3", "c#1", "c#2", "c#4"]),
                Column::new("capture".into(), ["c", "c", "c", "c"]),
                Column::new(
                    "client_ip".into(),
                    [Some("10.0.0.1"), Some("10.0.0.1"), None, Some("10.0.0.1")],
                ),
                Column::new("server_ip".into(), ["10.0.0.9"; 4]),
                Column::new("server_port".into(), [443u16; 4]),
                Column::new("host".into(), [Some("h"), Some("h"), Some("h"), Some("h")]),
                Column::new(
                    "path".into(),
                    [Some("/a"), Some("/a"), Some("/b"), Some("/a")],
                ),
                Column::new(
                    "ending".into(),
                    ["abnormal", "announced", "abnormal", "open"],
                ),
                Column::new("close_code".into(), [None, Some(1012u16), None, None]),
                t(
                    vec![Some(10 * s), Some(0), Some(5 * s), Some(20 * s)],
                    "start_time",
                ),
                t(
                    vec![Some(15 * s), Some(5 * s), Some(6 * s), None],
                    "end_time",
                ),
            ],
        )
        .unwrap();
        let whole = reconnects(&df, 300.0).unwrap();
        assert_eq!(whole.height(), 3);
        for cols in [
            REPORT_RECONNECT_COLUMNS,
            &["close_code", "reconnect_delay_s"][..],
        ] {
            let slim = reconnects_with(&df, 300.0, cols).unwrap();
            let want = whole.select(cols.iter().copied()).unwrap();
            assert!(slim.equals_missing(&want), "{slim}\n{want}");
        }
        // c#1 (ended at 5 s) came back as c#3 (10 s); c#3 (15 s) as c#4 (20 s).
        let next = str_ca(&whole, "next_session_id").unwrap();
        let ids = str_ca(&whole, "session_id").unwrap();
        let by_id: Vec<(Option<&str>, Option<&str>)> = ids.iter().zip(next.iter()).collect();
        assert!(by_id.contains(&(Some("c#1"), Some("c#3"))));
        assert!(by_id.contains(&(Some("c#3"), Some("c#4"))));
    }

    /// The reconnect of every row by the definition, checked pair by pair: the session of
    /// the same client, server, port, host and path (null host or path matching null)
    /// that starts first strictly after this one ended, within the window; among equal
    /// starts the first in the table.
    fn by_definition(t: &Table, window_ns: i64) -> Vec<Option<usize>> {
        let n = t.client.len();
        (0..n)
            .map(|i| {
                let (Some(_), Some(_), Some(_), Some(e)) =
                    (t.client[i], t.server[i], t.port[i], t.end[i])
                else {
                    return None;
                };
                let same = |j: usize| {
                    t.client[j] == t.client[i]
                        && t.server[j] == t.server[i]
                        && t.port[j] == t.port[i]
                        && t.host[j] == t.host[i]
                        && t.path[j] == t.path[i]
                };
                (0..n)
                    .filter(|&j| same(j) && t.start[j].is_some_and(|s| s > e))
                    .min_by_key(|&j| (t.start[j], j))
                    .filter(|&j| t.start[j].unwrap() - e <= window_ns)
            })
            .collect()
    }

    struct Table {
        client: Vec<Option<&'static str>>,
        server: Vec<Option<&'static str>>,
        port: Vec<Option<u16>>,
        host: Vec<Option<&'static str>>,
        path: Vec<Option<&'static str>>,
        start: Vec<Option<i64>>,
        end: Vec<Option<i64>>,
    }

    #[test]
    fn reconnects_match_the_definition_on_random_tables_with_ties_and_nulls() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(6455);
        let window_s = 5.0;
        for round in 0..40 {
            let n = rng.random_range(1..200);
            let pick = |rng: &mut rand::rngs::StdRng, v: &[Option<&'static str>]| {
                v[rng.random_range(0..v.len())]
            };
            let mut t = Table {
                client: Vec::new(),
                server: Vec::new(),
                port: Vec::new(),
                host: Vec::new(),
                path: Vec::new(),
                start: Vec::new(),
                end: Vec::new(),
            };
            for _ in 0..n {
                t.client
                    .push(pick(&mut rng, &[Some("10.0.0.1"), Some("10.0.0.2"), None]));
                t.server
                    .push(pick(&mut rng, &[Some("10.0.1.1"), Some("10.0.1.2")]));
                t.port
                    .push([Some(80), Some(443), None][rng.random_range(0..3)]);
                t.host.push(pick(&mut rng, &[Some("a"), None]));
                t.path.push(pick(&mut rng, &[Some("/"), Some("/ws"), None]));
                // Coarse times in seconds: many equal starts and ends.
                let s = rng.random_range(0..30i64) * 1_000_000_000;
                let e = s + rng.random_range(0..4i64) * 1_000_000_000;
                t.start.push((rng.random_range(0..10) > 0).then_some(s));
                t.end.push((rng.random_range(0..10) > 0).then_some(e));
            }
            let ids: Vec<String> = (0..n).map(|i| format!("c#{}", i + 1)).collect();
            let to_dt = |v: &Vec<Option<i64>>| {
                Column::new("x".into(), v.clone())
                    .cast(&utc_ns())
                    .unwrap()
                    .as_materialized_series()
                    .clone()
            };
            let df = DataFrame::new(
                n,
                vec![
                    Column::new("session_id".into(), ids.clone()),
                    Column::new("capture".into(), vec!["c"; n]),
                    Column::new("client_ip".into(), t.client.clone()),
                    Column::new("server_ip".into(), t.server.clone()),
                    Column::new("server_port".into(), t.port.clone()),
                    Column::new("host".into(), t.host.clone()),
                    Column::new("path".into(), t.path.clone()),
                    Column::new("ending".into(), vec!["normal"; n]),
                    Column::new("close_code".into(), vec![Some(1000u16); n]),
                    to_dt(&t.start).with_name("start_time".into()).into_column(),
                    to_dt(&t.end).with_name("end_time".into()).into_column(),
                ],
            )
            .unwrap();
            let rec = reconnects(&df, window_s).unwrap();
            let got: HashMap<String, Option<String>> = str_ca(&rec, "session_id")
                .unwrap()
                .iter()
                .zip(str_ca(&rec, "next_session_id").unwrap().iter())
                .map(|(a, b)| (a.unwrap().to_string(), b.map(str::to_string)))
                .collect();
            let want = by_definition(&t, (window_s * 1e9) as i64);
            for i in 0..n {
                assert_eq!(
                    got[&ids[i]],
                    want[i].map(|j| ids[j].clone()),
                    "round {round}, row {i}"
                );
            }
        }
    }
}
