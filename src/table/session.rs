//! Session rows in, a polars `DataFrame` out (the session table of `docs/schema.md`).
//!
//! Contract: [`sessions_frame`] always produces the same columns, in the same order and
//! with the same types, whatever the rows (an empty table too). Times are
//! `Datetime(ns, UTC)` (written to Parquet as µs); codes are `UInt16`; counters are
//! `Int64`. [`TableSink`] builds those rows chunk by chunk while a capture is read
//! (spilling sorted runs to disk past its budget, see [`crate::table::spill`]), and
//! [`merge_chunks`] puts in-memory chunks in session order with their ids, identical to
//! [`sessions_frame`] over the records of `pipeline::analyze`.

use std::net::SocketAddr;

use polars::prelude::*;

use crate::table::columns::{shared_str_col, utc_ns};
use crate::table::spill::{Run, SpillDir, RUN_ROW};

use std::sync::Arc;

use crate::pipeline::SessionSink;
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
pub(super) fn closes_frame_of<'a>(
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

/// Sessions a [`TableSink`] turns into one columnar chunk at a time: small enough that
/// the records waiting for it cost little, big enough that chunks stay few.
const CHUNK_ROWS: usize = 4096;

/// A [`SessionSink`] that keeps sessions as session-table chunks instead of records
/// (a row costs a few hundred bytes instead of a few KiB), with what numbering needs.
/// With a [`SpillDir`], once it holds `spill_rows` rows it sorts them into session
/// order and writes them to disk as a run (see [`crate::table::spill`]), so what a worker
/// holds stays bounded however many sessions a capture has.
pub struct TableSink {
    pending: Vec<SessionRecord>,
    out: SessionChunks,
    keep_closes: bool,
    chunk_rows: usize,
    /// Where to spill, and after how many rows held.
    spill: Option<(Arc<SpillDir>, usize)>,
}

/// What a [`TableSink`] produced: chunks of session rows (without ids yet) and, when
/// asked for, each row's Close frames; runs already on disk when it spilled.
#[derive(Default)]
pub struct SessionChunks {
    /// Rows `spilled..rows`, in the order the sessions ended.
    frames: Vec<DataFrame>,
    rows: usize,
    /// Rows `0..spilled`, as sorted runs on disk (in the order they were written).
    pub(super) runs: Vec<Run>,
    spilled: usize,
    /// (row, its Close frames) for rows that had any.
    pub(super) closes: SinkCloses,
    error: Option<PolarsError>,
    /// Spilling failed (e.g. no space in the temporary folder): the rest stayed in memory.
    pub warning: Option<String>,
}

pub(super) type RowCloses = Vec<(Initiator, CloseFrame)>;

/// (row, its Close frames) for the rows of one sink that had any.
pub(super) type SinkCloses = Vec<(usize, RowCloses)>;

impl SessionChunks {
    /// Sessions held.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Whether some rows were spilled to disk (then only a [`SessionStream`](crate::table::spill::SessionStream) reads them).
    pub fn spilled(&self) -> bool {
        !self.runs.is_empty()
    }

    /// The rows still in memory, sorted in session order with their `__row` numbers, as
    /// the last run; and everything else a merge needs.
    pub(super) fn into_runs(self) -> PolarsResult<(Vec<Run>, SinkCloses)> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut runs = self.runs;
        if let Some(table) = stack(self.frames)? {
            runs.push(Run::in_memory(sorted_run(table, self.spilled)?));
        }
        Ok((runs, self.closes))
    }
}

/// Frames stacked into one (sharing their buffers), or `None` for none.
pub(crate) fn stack(frames: Vec<DataFrame>) -> PolarsResult<Option<DataFrame>> {
    let mut table: Option<DataFrame> = None;
    for f in frames {
        match &mut table {
            Some(t) => {
                t.vstack_mut(&f)?;
            }
            None => table = Some(f),
        }
    }
    Ok(table)
}

/// `table` (rows `first..` of a sink, in finishing order) sorted in session order, with
/// a `__row` column numbering each row as it came: ties and Close frames need it.
fn sorted_run(table: DataFrame, first: usize) -> PolarsResult<DataFrame> {
    let n = table.height();
    let start = table.column("start_time")?.cast(&DataType::Int64)?;
    let mut order: Vec<(u32, i64, u32)> = start
        .i64()?
        .iter()
        .enumerate()
        .map(|(i, t)| (0, t.unwrap_or(i64::MIN), i as u32))
        .collect();
    order.sort_unstable();
    sort_ties_by_address(&table, &mut order)?;
    let idx = IdxCa::from_vec("idx".into(), order.iter().map(|o| o.2 as IdxSize).collect());
    let rows = Column::new(
        RUN_ROW.into(),
        order
            .iter()
            .map(|o| (first + o.2 as usize) as u64)
            .collect::<Vec<u64>>(),
    );
    drop(order);
    let mut columns = take_columns(table, &idx, None)?;
    columns.push(rows);
    DataFrame::new(n, columns)
}

/// Every column of `table` gathered by `idx`, one at a time, so the table is never held
/// twice; `replace` stands in for the column of the same name.
pub(super) fn take_columns(
    table: DataFrame,
    idx: &IdxCa,
    replace: Option<Column>,
) -> PolarsResult<Vec<Column>> {
    let mut replace = replace;
    let mut columns = Vec::with_capacity(table.width() + 1);
    for c in table.into_columns() {
        if replace.as_ref().is_some_and(|r| r.name() == c.name()) {
            columns.extend(replace.take());
        } else {
            // One chunk first: gathering from several string chunks copies every value
            // into new buffers, while concatenating shares the chunks' buffers and a
            // gather from one chunk copies only the 16-byte views.
            let one = c.rechunk();
            drop(c);
            columns.push(one.take(idx)?);
        }
    }
    Ok(columns)
}

impl TableSink {
    /// `keep_closes`: also keep every Close frame, for [`merge_chunks`]' Close table.
    pub fn new(keep_closes: bool) -> Self {
        Self::with_chunk_rows(keep_closes, CHUNK_ROWS)
    }

    /// As [`TableSink::new`], with chunks of `rows` sessions (tests use tiny chunks).
    pub fn with_chunk_rows(keep_closes: bool, rows: usize) -> Self {
        TableSink {
            pending: Vec::new(),
            out: SessionChunks::default(),
            keep_closes,
            chunk_rows: rows.max(1),
            spill: None,
        }
    }

    /// Spill sorted runs into `dir` whenever `rows` or more rows are held in memory.
    pub fn spilling(mut self, dir: Arc<SpillDir>, rows: usize) -> Self {
        self.spill = Some((dir, rows.max(1)));
        self
    }

    /// Rows held before a spill (never, without a spill folder).
    fn spill_rows(&self) -> usize {
        self.spill.as_ref().map_or(usize::MAX, |(_, rows)| *rows)
    }

    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        match sessions_frame(&self.pending) {
            Ok(df) => self.out.frames.push(df),
            Err(e) => {
                self.out.error.get_or_insert(e);
            }
        }
        let n = self.pending.len();
        for (i, r) in self.pending.drain(..).enumerate() {
            if self.keep_closes && !r.closes.is_empty() {
                self.out.closes.push((self.out.rows + i, r.closes));
            }
        }
        self.out.rows += n;
        if self.out.rows - self.out.spilled >= self.spill_rows() {
            self.spill_now();
        }
    }

    /// Write the rows held in memory as one sorted run. If that fails, they stay in
    /// memory and spilling stops, with a warning.
    fn spill_now(&mut self) {
        let Some((dir, _)) = self.spill.clone() else {
            return;
        };
        let table = match stack(std::mem::take(&mut self.out.frames)) {
            Ok(Some(t)) => t,
            Ok(None) => return,
            Err(e) => {
                self.out.error.get_or_insert(e);
                return;
            }
        };
        // Kept (it shares the columns) in case the rows have to stay in memory.
        let unsorted = table.clone();
        let written = sorted_run(table, self.out.spilled).and_then(|run| dir.write_run(&run));
        match written {
            Ok(r) => {
                self.out.runs.push(r);
                self.out.spilled = self.out.rows;
            }
            Err(e) => {
                self.out.warning = Some(format!(
                    "cannot spill session rows to disk ({e}); keeping them in memory"
                ));
                self.spill = None;
                self.out.frames.push(unsorted);
            }
        }
    }
}
impl SessionSink for TableSink {
    type Out = SessionChunks;
    fn push(&mut self, session: SessionRecord) {
        self.pending.push(session);
        // A spill budget below a chunk is honoured too (records cost more than rows).
        if self.pending.len() >= self.chunk_rows.min(self.spill_rows()) {
            self.flush();
        }
    }
    fn finish(mut self) -> SessionChunks {
        self.flush();
        self.out
    }
}

/// A row's place in session order: start time (null first), then client and server
/// address as `SocketAddr`s, like [`session_order`](crate::pipeline::session_order).
pub(super) type OrderKey = (i64, Option<SocketAddr>, Option<SocketAddr>);

/// The columns of a session table that session order is read from.
pub(super) struct OrderColumns {
    start: Int64Chunked,
    cip: StringChunked,
    cport: UInt16Chunked,
    sip: StringChunked,
    sport: UInt16Chunked,
}

impl OrderColumns {
    pub(super) fn of(table: &DataFrame) -> PolarsResult<OrderColumns> {
        let col_str = |name: &str| -> PolarsResult<StringChunked> {
            Ok(table
                .column(name)?
                .cast(&DataType::String)?
                .str()?
                .rechunk()
                .into_owned())
        };
        let col_u16 = |name: &str| -> PolarsResult<UInt16Chunked> {
            Ok(table
                .column(name)?
                .cast(&DataType::UInt16)?
                .u16()?
                .rechunk()
                .into_owned())
        };
        Ok(OrderColumns {
            start: table
                .column("start_time")?
                .cast(&DataType::Int64)?
                .i64()?
                .rechunk()
                .into_owned(),
            cip: col_str("client_ip")?,
            cport: col_u16("client_port")?,
            sip: col_str("server_ip")?,
            sport: col_u16("server_port")?,
        })
    }

    fn addresses(&self, row: usize) -> (Option<SocketAddr>, Option<SocketAddr>) {
        let addr = |ip: Option<&str>, port: Option<u16>| -> Option<SocketAddr> {
            Some(SocketAddr::new(ip?.parse().ok()?, port?))
        };
        (
            addr(self.cip.get(row), self.cport.get(row)),
            addr(self.sip.get(row), self.sport.get(row)),
        )
    }

    pub(super) fn key(&self, row: usize) -> OrderKey {
        let (c, s) = self.addresses(row);
        (self.start.get(row).unwrap_or(i64::MIN), c, s)
    }
}

/// Within runs of equal (capture, start time), order rows by client then server address
/// (as `SocketAddr`s, like `session_order`), keeping the row order among equals.
fn sort_ties_by_address(table: &DataFrame, order: &mut [(u32, i64, u32)]) -> PolarsResult<()> {
    let cols = OrderColumns::of(table)?;
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && (order[j].0, order[j].1) == (order[i].0, order[i].1) {
            j += 1;
        }
        if j - i > 1 {
            order[i..j].sort_by_key(|&(_, _, row)| (cols.addresses(row as usize), row));
        }
        i = j;
    }
    Ok(())
}

/// One session table (and the Close-frame table, when the chunks kept Close frames) from
/// the chunks of several captures, given in input order with their names: each capture's
/// sessions in [`session_order`](crate::pipeline::session_order) and numbered `<capture>#<n>`, exactly as
/// [`crate::pipeline::analyze`] numbers records. Columns are reordered one at a time, so
/// the table is never held twice.
pub fn merge_chunks(
    captures: Vec<(String, Vec<SessionChunks>)>,
    with_closes: bool,
) -> PolarsResult<(DataFrame, Option<DataFrame>)> {
    // (capture index, start time, row in the concatenated chunks): 16 bytes a session,
    // read back from the table's own columns at the end rather than kept while reading.
    let total = captures
        .iter()
        .flat_map(|(_, parts)| parts.iter().map(SessionChunks::rows))
        .sum();
    let mut order: Vec<(u32, i64, u32)> = Vec::with_capacity(total);
    // (capture index, row, its Close frames).
    let mut closes: Vec<(usize, usize, RowCloses)> = Vec::new();
    let mut table: Option<DataFrame> = None;
    let mut names = Vec::with_capacity(captures.len());
    for (ci, (name, parts)) in captures.into_iter().enumerate() {
        names.push(name);
        for part in parts {
            if let Some(e) = part.error {
                return Err(e);
            }
            polars_ensure!(
                !part.spilled(),
                InvalidOperation: "spilled session rows are merged by a SessionStream"
            );
            let base = order.len();
            closes.extend(part.closes.into_iter().map(|(row, c)| (ci, base + row, c)));
            for f in part.frames {
                let start = f.column("start_time")?.cast(&DataType::Int64)?;
                let rows = order.len();
                order.extend(
                    start
                        .i64()?
                        .iter()
                        .enumerate()
                        .map(|(i, t)| (ci as u32, t.unwrap_or(i64::MIN), (rows + i) as u32)),
                );
                match &mut table {
                    Some(t) => {
                        t.vstack_mut(&f)?;
                    }
                    None => table = Some(f),
                }
            }
        }
    }
    let Some(table) = table else {
        let closes = with_closes.then(|| closes_frame(&[])).transpose()?;
        return Ok((sessions_frame(&[])?, closes));
    };
    // Same order as `session_order` over records, sorted stably: by start time, then,
    // among sessions that started in the same nanosecond, by client and server address.
    order.sort_unstable(); // rows are unique: as stable as a stable sort
    sort_ties_by_address(&table, &mut order)?;
    let idx = IdxCa::from_vec("idx".into(), order.iter().map(|o| o.2 as IdxSize).collect());
    // Ids, numbered within each capture, straight into their column (no Vec<String>
    // next to the whole table: the end of the run is where memory peaks).
    let mut n = 0usize;
    let ids = StringChunked::from_iter_values(
        "session_id".into(),
        order.iter().enumerate().map(|(pos, (ci, _, _))| {
            n = if pos > 0 && order[pos - 1].0 == *ci {
                n + 1
            } else {
                1
            };
            crate::pipeline::session_id(&names[*ci as usize], n)
        }),
    );
    // Where each row went, for the Close-frame table only.
    let rank: Vec<usize> = if with_closes {
        let mut rank = vec![0usize; order.len()];
        for (pos, (_, _, row)) in order.iter().enumerate() {
            rank[*row as usize] = pos;
        }
        rank
    } else {
        Vec::new()
    };
    let height = order.len();
    drop(order);
    let columns = take_columns(table, &idx, Some(ids.into_column()))?;
    let sessions = DataFrame::new(height, columns)?;
    let closes = if with_closes {
        closes.sort_by_key(|(_, row, _)| rank[*row]);
        let ids = sessions.column("session_id")?.str()?.clone();
        Some(closes_frame_of(closes.iter().map(|(ci, row, c)| {
            let id = ids.get(rank[*row]).unwrap_or_default().to_string();
            (names[*ci].as_str(), id, c.as_slice())
        }))?)
    } else {
        None
    };
    Ok((sessions, closes))
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
