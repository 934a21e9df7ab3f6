//! Session rows in, a polars `DataFrame` out (the session table of `docs/schema.md`).
//!
//! Contract: [`sessions_frame`] always produces the same columns, in the same order and
//! with the same types, whatever the rows (an empty table too). Times are
//! `Datetime(ns, UTC)` (written to Parquet as µs); codes are `UInt16`; counters are
//! `Int64`. The chunked building of these rows while a capture is read is
//! [`crate::table::chunks`]'s.

use polars::prelude::*;

use crate::table::columns::{shared_str_col, utc_ns};

use crate::session::{CloseFrame, Initiator, RefusedUpgrade, SessionRecord, CLIENT, SERVER};
use crate::ws::CloseCode;

/// Every column of the session table, in order. The contract with users: add at the end,
/// never rename or retype.
pub const SESSION_COLUMNS: &[&str] = &[
    "capture",
    "source",
    "session_id",
    "client_ip",
    "client_port",
    "server_ip",
    "server_port",
    "start_time",
    "established_time",
    "end_time",
    "duration_s",
    "host",
    "path",
    "user_agent",
    "origin",
    "subprotocol",
    "extensions",
    "permessage_deflate",
    "ending",
    "close_code",
    "close_code_name",
    "close_reason",
    "initiator",
    "close_time",
    "client_close_code",
    "client_close_reason",
    "server_close_code",
    "server_close_reason",
    "handshake_completed",
    "client_observed_code",
    "server_observed_code",
    "tcp_end",
    "tcp_end_time",
    "idle_before_end_s",
    "frames_client",
    "frames_server",
    "messages_client",
    "messages_server",
    "bytes_client",
    "bytes_server",
    "pings_client",
    "pings_server",
    "pongs_client",
    "pongs_server",
    "unanswered_pings",
    "gap",
    "midstream",
    "truncated",
    "limit_hit",
    "anomalies",
    "anomaly_count",
];

/// Session-table columns no report reads. When a table too big for memory is merged
/// from disk into its export, the table kept for the reports has these as nulls (a
/// test checks that every report is the same either way).
pub const NOT_REPORTED: &[&str] = &[
    "source",
    "client_port",
    "established_time",
    "extensions",
    "permessage_deflate",
    "client_close_code",
    "client_close_reason",
    "server_close_code",
    "server_close_reason",
    "client_observed_code",
    "server_observed_code",
    "tcp_end_time",
    "frames_client",
    "frames_server",
    "messages_client",
    "messages_server",
    "bytes_client",
    "bytes_server",
    "pings_client",
    "pings_server",
    "pongs_client",
    "pongs_server",
    "anomaly_count",
];

fn time_col(name: &str, v: Vec<Option<i64>>) -> PolarsResult<Column> {
    Column::new(name.into(), v).cast(&utc_ns())
}

fn str_col(name: &str, v: Vec<Option<String>>) -> Column {
    Column::new(name.into(), v)
}

/// Build the session table.
pub fn sessions_frame(rows: &[SessionRecord]) -> PolarsResult<DataFrame> {
    // String columns: repeated long values share their bytes (see `shared_str_col`).
    let s = |name: &str, f: &dyn Fn(&SessionRecord) -> Option<&str>| -> PolarsResult<Column> {
        shared_str_col(name, rows.iter().map(f))
    };
    let client_ips: Vec<String> = rows.iter().map(|r| r.client.ip().to_string()).collect();
    let server_ips: Vec<String> = rows.iter().map(|r| r.server.ip().to_string()).collect();
    // Counters are Int64, not UInt64: Spark and Java have no unsigned 64-bit type
    // (Spark reads UInt64 as decimal(20,0)). No counter comes near 2^63.
    let u64c = |name: &str, f: &dyn Fn(&SessionRecord) -> u64| -> Column {
        Column::new(
            name.into(),
            rows.iter().map(|r| f(r) as i64).collect::<Vec<i64>>(),
        )
    };
    let code = |name: &str, f: &dyn Fn(&SessionRecord) -> Option<u16>| -> Column {
        Column::new(
            name.into(),
            rows.iter().map(f).collect::<Vec<Option<u16>>>(),
        )
    };
    let boolc = |name: &str, f: &dyn Fn(&SessionRecord) -> bool| -> Column {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<bool>>())
    };
    let cols = vec![
        s("capture", &|r| Some(r.capture.as_str()))?,
        s("source", &|r| Some(r.source.as_str()))?,
        s("session_id", &|r| Some(r.session_id.as_str()))?,
        shared_str_col("client_ip", client_ips.iter().map(|v| Some(v.as_str())))?,
        Column::new(
            "client_port".into(),
            rows.iter().map(|r| r.client.port()).collect::<Vec<u16>>(),
        ),
        shared_str_col("server_ip", server_ips.iter().map(|v| Some(v.as_str())))?,
        Column::new(
            "server_port".into(),
            rows.iter().map(|r| r.server.port()).collect::<Vec<u16>>(),
        ),
        time_col(
            "start_time",
            rows.iter().map(|r| Some(r.start_time)).collect(),
        )?,
        time_col(
            "established_time",
            rows.iter().map(|r| r.established_time).collect(),
        )?,
        time_col("end_time", rows.iter().map(|r| Some(r.end_time)).collect())?,
        Column::new(
            "duration_s".into(),
            rows.iter().map(|r| r.duration_s()).collect::<Vec<f64>>(),
        ),
        s("host", &|r| r.host.as_deref())?,
        s("path", &|r| r.path.as_deref())?,
        s("user_agent", &|r| r.user_agent.as_deref())?,
        s("origin", &|r| r.origin.as_deref())?,
        s("subprotocol", &|r| r.subprotocol.as_deref())?,
        s("extensions", &|r| r.extensions.as_deref())?,
        boolc("permessage_deflate", &|r| r.permessage_deflate),
        s("ending", &|r| Some(r.outcome.ending.as_str()))?,
        code("close_code", &|r| r.outcome.close_code),
        s("close_code_name", &|r| {
            r.outcome.close_code.map(|c| CloseCode::from(c).name())
        })?,
        s("close_reason", &|r| r.outcome.close_reason.as_deref())?,
        s("initiator", &|r| Some(r.outcome.initiator.as_str()))?,
        time_col(
            "close_time",
            rows.iter()
                .map(|r| {
                    [r.client_close.as_ref(), r.server_close.as_ref()]
                        .into_iter()
                        .flatten()
                        .map(|c| c.ts)
                        .min()
                })
                .collect(),
        )?,
        code("client_close_code", &|r| {
            r.client_close.as_ref().map(|c| c.code.unwrap_or(1005))
        }),
        s("client_close_reason", &|r| {
            r.client_close.as_ref().map(|c| c.reason.as_str())
        })?,
        code("server_close_code", &|r| {
            r.server_close.as_ref().map(|c| c.code.unwrap_or(1005))
        }),
        s("server_close_reason", &|r| {
            r.server_close.as_ref().map(|c| c.reason.as_str())
        })?,
        boolc("handshake_completed", &|r| r.outcome.handshake_completed),
        code("client_observed_code", &|r| r.outcome.client_observed_code),
        code("server_observed_code", &|r| r.outcome.server_observed_code),
        s("tcp_end", &|r| Some(r.tcp_end.as_str()))?,
        time_col(
            "tcp_end_time",
            rows.iter().map(|r| r.tcp_end_time).collect(),
        )?,
        Column::new(
            "idle_before_end_s".into(),
            rows.iter()
                .map(|r| r.idle_before_end_s())
                .collect::<Vec<Option<f64>>>(),
        ),
        u64c("frames_client", &|r| r.frames[CLIENT]),
        u64c("frames_server", &|r| r.frames[SERVER]),
        u64c("messages_client", &|r| r.messages[CLIENT]),
        u64c("messages_server", &|r| r.messages[SERVER]),
        u64c("bytes_client", &|r| r.bytes[CLIENT]),
        u64c("bytes_server", &|r| r.bytes[SERVER]),
        u64c("pings_client", &|r| r.pings[CLIENT]),
        u64c("pings_server", &|r| r.pings[SERVER]),
        u64c("pongs_client", &|r| r.pongs[CLIENT]),
        u64c("pongs_server", &|r| r.pongs[SERVER]),
        u64c("unanswered_pings", &|r| r.unanswered_pings),
        boolc("gap", &|r| r.gap),
        boolc("midstream", &|r| r.midstream),
        boolc("truncated", &|r| r.truncated),
        boolc("limit_hit", &|r| r.limit_hit),
        {
            let names: Vec<String> = rows.iter().map(|r| r.anomaly_names()).collect();
            shared_str_col("anomalies", names.iter().map(|v| Some(v.as_str())))?
        },
        Column::new(
            "anomaly_count".into(),
            rows.iter()
                .map(|r| r.anomalies.iter().map(|(_, n)| *n).sum::<u32>())
                .collect::<Vec<u32>>(),
        ),
    ];
    debug_assert_eq!(cols.len(), SESSION_COLUMNS.len());
    DataFrame::new(rows.len(), cols)
}

/// Build the Close-frame table: one row per Close frame, in session order.
pub fn closes_frame(rows: &[SessionRecord]) -> PolarsResult<DataFrame> {
    closes_frame_of(rows.iter().map(|r| {
        (
            r.capture.as_str(),
            r.session_id.clone(),
            r.closes.as_slice(),
        )
    }))
}

/// The Close-frame table of sessions given as (capture, session id, Close frames).
pub(crate) fn closes_frame_of<'a>(
    sessions: impl Iterator<Item = (&'a str, String, &'a [(Initiator, CloseFrame)])>,
) -> PolarsResult<DataFrame> {
    let mut capture = Vec::new();
    let mut session_id = Vec::new();
    let mut time = Vec::new();
    let mut sender = Vec::new();
    let mut code: Vec<Option<u16>> = Vec::new();
    let mut name = Vec::new();
    let mut reason = Vec::new();
    let mut payload_len = Vec::new();
    let mut first = Vec::new();
    for (cap, id, closes) in sessions {
        for (i, (who, c)) in closes.iter().enumerate() {
            capture.push(cap.to_string());
            session_id.push(id.clone());
            time.push(Some(c.ts));
            sender.push(who.as_str().to_string());
            let v = c.code.unwrap_or(1005);
            code.push(Some(v));
            name.push(CloseCode::from(v).name().to_string());
            reason.push(c.reason.clone());
            payload_len.push(c.payload_len as i64);
            first.push(i == 0);
        }
    }
    let n = capture.len();
    DataFrame::new(
        n,
        vec![
            Column::new("capture".into(), capture),
            Column::new("session_id".into(), session_id),
            time_col("time", time)?,
            Column::new("sender".into(), sender),
            Column::new("close_code".into(), code),
            Column::new("close_code_name".into(), name),
            Column::new("close_reason".into(), reason),
            Column::new("payload_len".into(), payload_len),
            Column::new("first_in_session".into(), first),
        ],
    )
}

/// Every column of the refused-upgrade table, in order.
pub const REFUSED_COLUMNS: &[&str] = &[
    "capture",
    "client_ip",
    "client_port",
    "server_ip",
    "server_port",
    "time",
    "status",
    "reason",
    "host",
    "path",
    "user_agent",
];

/// Build the refused-upgrade table.
pub fn refused_frame(rows: &[RefusedUpgrade]) -> PolarsResult<DataFrame> {
    let s = |f: &dyn Fn(&RefusedUpgrade) -> Option<String>| -> Vec<Option<String>> {
        rows.iter().map(f).collect()
    };
    let cols = vec![
        str_col("capture", s(&|r| Some(r.capture.clone()))),
        str_col("client_ip", s(&|r| Some(r.client.ip().to_string()))),
        Column::new(
            "client_port".into(),
            rows.iter().map(|r| r.client.port()).collect::<Vec<u16>>(),
        ),
        str_col("server_ip", s(&|r| Some(r.server.ip().to_string()))),
        Column::new(
            "server_port".into(),
            rows.iter().map(|r| r.server.port()).collect::<Vec<u16>>(),
        ),
        time_col("time", rows.iter().map(|r| Some(r.time)).collect())?,
        Column::new(
            "status".into(),
            rows.iter().map(|r| r.status).collect::<Vec<u16>>(),
        ),
        str_col("reason", s(&|r| Some(r.reason.clone()))),
        str_col("host", s(&|r| r.host.clone())),
        str_col("path", s(&|r| r.path.clone())),
        str_col("user_agent", s(&|r| r.user_agent.clone())),
    ];
    DataFrame::new(rows.len(), cols)
}
