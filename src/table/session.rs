//! Session rows in, a polars `DataFrame` out (the session table of `docs/schema.md`).
//!
//! Contract: every column of the session table is declared once, in
//! `session_columns!`: its name, its kind (text, a typed value, a time) and how a capture
//! record ([`SessionRecord`]) and a log record ([`Record`]) fill it. [`sessions_frame`]
//! (capture rows) and [`records_frame`] (log rows) are both built from that list, so
//! they always have the same columns, in the same order and with the same types,
//! whatever the rows (an empty table too); adding a column is one line. Times are
//! `Datetime(ns, UTC)` (written to Parquet as µs); codes are `UInt16`; counters are
//! `Int64`. The chunked building of these rows while a capture is read is
//! [`crate::table::chunks`]'s.

use polars::prelude::*;

use crate::table::columns::{shared_str_col, utc_ns};

use crate::logs::Record;
use crate::session::{CloseFrame, Initiator, RefusedUpgrade, SessionRecord, CLIENT, SERVER};
use crate::ws::CloseCode;

// ---------------------------------------------------------------------------------------
// The session table: every column declared once

/// One column's values, from one getter per row: built the same way for capture rows
/// ([`SessionRecord`]) and log rows ([`Record`]).
trait Build<R> {
    fn build(&self, name: &str, rows: &[R]) -> PolarsResult<Column>;
}

/// Text borrowed from the row ([`text`]).
struct Str<R: 'static>(for<'a> fn(&'a R) -> Option<&'a str>);
/// Text computed per row ([`text_owned`]).
struct Text<R>(fn(&R) -> Option<String>);
/// A typed value: `UInt16`, `UInt32`, `Int64`, `Float64`, `Boolean`.
struct Val<R, T>(fn(&R) -> Option<T>);
/// ns since the epoch, as `Datetime(ns, UTC)`.
struct Time<R>(fn(&R) -> Option<i64>);

impl<R> Build<R> for Str<R> {
    fn build(&self, name: &str, rows: &[R]) -> PolarsResult<Column> {
        // Repeated long values share their bytes (see `shared_str_col`).
        shared_str_col(name, rows.iter().map(|r| (self.0)(r)))
    }
}

impl<R> Build<R> for Text<R> {
    fn build(&self, name: &str, rows: &[R]) -> PolarsResult<Column> {
        let v: Vec<Option<String>> = rows.iter().map(self.0).collect();
        shared_str_col(name, v.iter().map(|s| s.as_deref()))
    }
}

impl<R, T> Build<R> for Val<R, T>
where
    T: Copy,
    Vec<T>: IntoColumn,
    Vec<Option<T>>: IntoColumn,
{
    fn build(&self, name: &str, rows: &[R]) -> PolarsResult<Column> {
        let v: Vec<Option<T>> = rows.iter().map(self.0).collect();
        // Without nulls, no validity bitmap (the column is the same as from plain values).
        Ok(if v.iter().all(Option::is_some) {
            v.into_iter()
                .flatten()
                .collect::<Vec<T>>()
                .into_column(name)
        } else {
            v.into_column(name)
        })
    }
}

impl<R> Build<R> for Time<R> {
    fn build(&self, name: &str, rows: &[R]) -> PolarsResult<Column> {
        Val(self.0).build(name, rows)?.cast(&utc_ns())
    }
}

/// `Column::new` for the vectors the session table is built from.
trait IntoColumn {
    fn into_column(self, name: &str) -> Column;
}

macro_rules! into_column {
    ($($t:ty),*) => {$(
        impl IntoColumn for Vec<$t> {
            fn into_column(self, name: &str) -> Column {
                Column::new(name.into(), self)
            }
        }
        impl IntoColumn for Vec<Option<$t>> {
            fn into_column(self, name: &str) -> Column {
                Column::new(name.into(), self)
            }
        }
    )*};
}
into_column!(u16, u32, i64, f64, bool);

/// One column: how a capture row and how a log row fill it, of one type by construction.
struct Col<C, L> {
    capture: C,
    log: L,
}

type S = SessionRecord;
type L = Record;

fn text_owned(
    capture: fn(&S) -> Option<String>,
    log: fn(&L) -> Option<String>,
) -> Col<Text<S>, Text<L>> {
    Col {
        capture: Text(capture),
        log: Text(log),
    }
}

fn text(
    capture: for<'a> fn(&'a S) -> Option<&'a str>,
    log: for<'a> fn(&'a L) -> Option<&'a str>,
) -> Col<Str<S>, Str<L>> {
    Col {
        capture: Str(capture),
        log: Str(log),
    }
}

fn val<T>(capture: fn(&S) -> Option<T>, log: fn(&L) -> Option<T>) -> Col<Val<S, T>, Val<L, T>> {
    Col {
        capture: Val(capture),
        log: Val(log),
    }
}

fn time(capture: fn(&S) -> Option<i64>, log: fn(&L) -> Option<i64>) -> Col<Time<S>, Time<L>> {
    Col {
        capture: Time(capture),
        log: Time(log),
    }
}

/// Logs cannot fill this column: null in every log row.
fn none<T>(_: &L) -> Option<T> {
    None
}

/// The session table's columns, in order: name, kind, how a capture row fills it, how a
/// log row fills it. The contract with users: add at the end, never rename or retype.
macro_rules! session_columns {
    ($($name:ident: $kind:ident($capture:expr, $log:expr),)*) => {
        /// Every column of the session table, in order.
        pub const SESSION_COLUMNS: &[&str] = &[$(stringify!($name)),*];

        /// Build the session table from capture rows.
        pub fn sessions_frame(rows: &[SessionRecord]) -> PolarsResult<DataFrame> {
            let cols = vec![$(
                $kind($capture, $log).capture.build(stringify!($name), rows)?,
            )*];
            DataFrame::new(rows.len(), cols)
        }

        /// Build the session table from log rows: the same columns, order and types as
        /// [`sessions_frame`]; the columns a log cannot fill are null.
        pub fn records_frame(rows: &[Record]) -> PolarsResult<DataFrame> {
            let cols = vec![$(
                $kind($capture, $log).log.build(stringify!($name), rows)?,
            )*];
            DataFrame::new(rows.len(), cols)
        }
    };
}

fn code_name(code: Option<u16>) -> Option<&'static str> {
    code.map(|c| CloseCode::from(c).name())
}

// Counters are Int64, not UInt64: Spark and Java have no unsigned 64-bit type (Spark
// reads UInt64 as decimal(20,0)). No counter comes near 2^63.
session_columns! {
    capture: text(|r| Some(r.capture.as_str()), |r| Some(r.capture.as_str())),
    source: text(|r| Some(r.source.as_str()), |r| Some(r.source)),
    session_id: text(|r| Some(r.session_id.as_str()), |r| r.session_id.as_deref()),
    client_ip: text_owned(|r| Some(r.client.ip().to_string()), |r| r.client_ip.clone()),
    client_port: val(|r| Some(r.client.port()), |r| r.client_port),
    server_ip: text_owned(|r| Some(r.server.ip().to_string()), |r| r.server_ip.clone()),
    server_port: val(|r| Some(r.server.port()), |r| r.server_port),
    start_time: time(|r| Some(r.start_time), |r| r.start_ns),
    established_time: time(|r| r.established_time, none),
    end_time: time(|r| Some(r.end_time), |r| r.end_ns),
    duration_s: val(|r| Some(r.duration_s()), |r| r.duration_s),
    host: text(|r| r.host.as_deref(), |r| r.host.as_deref()),
    path: text(|r| r.path.as_deref(), |r| r.path.as_deref()),
    user_agent: text(|r| r.user_agent.as_deref(), |r| r.user_agent.as_deref()),
    origin: text(|r| r.origin.as_deref(), none),
    subprotocol: text(|r| r.subprotocol.as_deref(), none),
    extensions: text(|r| r.extensions.as_deref(), none),
    permessage_deflate: val(|r| Some(r.permessage_deflate), none),
    ending: text(|r| Some(r.outcome.ending.as_str()), |r| r.ending.map(|e| e.as_str())),
    close_code: val(|r| r.outcome.close_code, |r| r.close_code),
    close_code_name: text(|r| code_name(r.outcome.close_code), |r| code_name(r.close_code)),
    close_reason: text(|r| r.outcome.close_reason.as_deref(), |r| r.close_reason.as_deref()),
    initiator: text(|r| Some(r.outcome.initiator.as_str()), |r| r.initiator.map(|i| i.as_str())),
    close_time: time(|r| r.first_close_time(), none),
    client_close_code: val(|r| r.client_close.as_ref().map(|c| c.code.unwrap_or(1005)), |r| r.client_close_code),
    client_close_reason: text(|r| r.client_close.as_ref().map(|c| c.reason.as_str()), |r| r.client_close_reason.as_deref()),
    server_close_code: val(|r| r.server_close.as_ref().map(|c| c.code.unwrap_or(1005)), |r| r.server_close_code),
    server_close_reason: text(|r| r.server_close.as_ref().map(|c| c.reason.as_str()), |r| r.server_close_reason.as_deref()),
    handshake_completed: val(|r| Some(r.outcome.handshake_completed), |r| r.handshake_completed),
    client_observed_code: val(|r| r.outcome.client_observed_code, |r| r.client_observed_code),
    server_observed_code: val(|r| r.outcome.server_observed_code, |r| r.server_observed_code),
    tcp_end: text(|r| Some(r.tcp_end.as_str()), none),
    tcp_end_time: time(|r| r.tcp_end_time, none),
    idle_before_end_s: val(|r| r.idle_before_end_s(), none),
    frames_client: val(|r| Some(r.frames[CLIENT] as i64), none),
    frames_server: val(|r| Some(r.frames[SERVER] as i64), none),
    messages_client: val(|r| Some(r.messages[CLIENT] as i64), none),
    messages_server: val(|r| Some(r.messages[SERVER] as i64), none),
    bytes_client: val(|r| Some(r.bytes[CLIENT] as i64), none),
    bytes_server: val(|r| Some(r.bytes[SERVER] as i64), none),
    pings_client: val(|r| Some(r.pings[CLIENT] as i64), none),
    pings_server: val(|r| Some(r.pings[SERVER] as i64), none),
    pongs_client: val(|r| Some(r.pongs[CLIENT] as i64), none),
    pongs_server: val(|r| Some(r.pongs[SERVER] as i64), none),
    unanswered_pings: val(|r| Some(r.unanswered_pings as i64), none),
    gap: val(|r| Some(r.gap), none),
    midstream: val(|r| Some(r.midstream), none),
    truncated: val(|r| Some(r.truncated), none),
    limit_hit: val(|r| Some(r.limit_hit), none),
    anomalies: text_owned(|r| Some(r.anomaly_names()), none),
    anomaly_count: val(|r| Some(r.anomalies.iter().map(|(_, n)| *n).sum::<u32>()), none),
    transport: text(|r| Some(if r.tls.is_some() { "tls" } else { "tcp" }), none),
    http_version: text(|r| r.http_version, none),
    tls_version: text(|r| r.tls.as_ref().and_then(|t| t.version), none),
    tls_cipher: text(|r| r.tls.as_ref().and_then(|t| t.cipher.as_deref()), none),
    sni: text(|r| r.tls.as_ref().and_then(|t| t.sni.as_deref()), none),
    alpn: text(|r| r.tls.as_ref().and_then(|t| t.alpn.as_deref()), none),
    h2_stream_id: val(|r| r.h2.as_ref().map(|h| h.stream_id), none),
    h2_end: text(|r| r.h2.as_ref().and_then(|h| h.end.as_deref()), none),
    tls_close_notify_client: val(|r| r.tls.as_ref().filter(|t| t.decrypted == Some(true)).map(|t| t.close_notify[CLIENT]), none),
    tls_close_notify_server: val(|r| r.tls.as_ref().filter(|t| t.decrypted == Some(true)).map(|t| t.close_notify[SERVER]), none),
    tls_alert_client: text(|r| r.tls.as_ref().and_then(|t| t.alert[CLIENT].as_deref()), none),
    tls_alert_server: text(|r| r.tls.as_ref().and_then(|t| t.alert[SERVER].as_deref()), none),
    decrypted: val(|r| r.tls.as_ref().and_then(|t| t.decrypted), none),
    websocket_key: text(|r| r.websocket_key.as_deref(), none),
    proxy_cut: val(|_| None, |r| r.proxy_cut),
}

fn time_col(name: &str, v: Vec<Option<i64>>) -> PolarsResult<Column> {
    Column::new(name.into(), v).cast(&utc_ns())
}

fn str_col(name: &str, v: Vec<Option<String>>) -> Column {
    Column::new(name.into(), v)
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
