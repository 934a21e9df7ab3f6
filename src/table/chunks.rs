//! Session rows built chunk by chunk while captures are read, and put back in order.
//!
//! Contract: a [`TableSink`] (one per pipeline worker) turns finished sessions into
//! session-table chunks of the schema of [`crate::table::session`] (spilling sorted runs
//! to disk, see [`crate::table::run`], as the run's one [`SpillBudget`] shared by every
//! sink says); [`merge_chunks`] puts in-memory
//! chunks in session order with their ids, identical to
//! [`sessions_frame`] over the records of
//! `pipeline::analyze`. Merging spilled runs back is [`crate::table::spill`]'s.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use polars::prelude::*;

use crate::pipeline::SessionSink;
use crate::session::{CloseFrame, Initiator, SessionRecord};
use crate::table::run::{Run, SpillDir, RUN_ROW};
use crate::table::session::{closes_frame, closes_frame_of, sessions_frame};

/// Sessions a [`TableSink`] turns into one columnar chunk at a time: small enough that
/// the records waiting for it cost little, big enough that chunks stay few.
const CHUNK_ROWS: usize = 4096;

/// A [`SessionSink`] that keeps sessions as session-table chunks instead of records
/// (a row costs a few hundred bytes instead of a few KiB), with what numbering needs.
/// With a [`SpillDir`] and a [`SpillBudget`], it sorts the rows it holds into session
/// order and writes them to disk as a run (see [`crate::table::spill`]) when the budget
/// says so, so what all sinks of a run hold together stays bounded however many sessions,
/// workers and captures there are.
pub struct TableSink {
    pending: Vec<SessionRecord>,
    out: SessionChunks,
    keep_closes: bool,
    chunk_rows: usize,
    /// Where to spill, and the budget this sink's rows count against.
    spill: Option<(Arc<SpillDir>, Arc<SpillBudget>)>,
}

/// Sessions held in memory by every [`TableSink`] of a run together (records waiting for
/// a chunk, and rows not spilled), shared by the sinks: the memory budget is the run's,
/// not a worker's (with one budget per worker, `--threads 16` over four 1 GiB captures
/// held 12 times the budget). The rule, for `total` sessions and `live` sinks still
/// receiving sessions:
///
/// - a sink spills what it holds (checked at every session it receives) once it holds
///   `total`, or once all sinks together hold `total` and it holds at least its share,
///   `total / (2 * live)`;
/// - a sink that finishes while sinks of other captures are still receiving spills what
///   it holds if all sinks together hold more than `total / 2` (a finished sink's rows
///   stay until the merge, and nobody else can spill them); the sinks of one capture
///   finish together ([`SessionSink::finish_all`]);
///
/// so finished sinks hold at most about `total / 2` and live ones below their shares
/// hold less than `total / 2` together: about `total` in all, whatever the number of
/// workers and captures. While a spill is being written its rows still count, and the
/// other sinks go on up to their shares: then up to twice `total` (8 workers, budget
/// 2,000: 2,500 seen; with a budget per worker they could hold 8 times it). With a
/// single sink this is a spill every `total` sessions.
#[derive(Debug)]
pub struct SpillBudget {
    total: usize,
    held: AtomicUsize,
    live: AtomicUsize,
}

impl SpillBudget {
    /// A budget of `total` sessions in memory for the whole run.
    pub fn new(total: usize) -> Arc<SpillBudget> {
        Arc::new(SpillBudget {
            total: total.max(1),
            held: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
        })
    }

    /// Sessions held in memory by all sinks now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// What one live sink may hold before it spills when the run is at its budget.
    fn share(&self) -> usize {
        (self.total / (2 * self.live.load(Ordering::Relaxed).max(1))).max(1)
    }
}

/// What a [`TableSink`] produced: chunks of session rows (without ids yet) and, when
/// asked for, each row's Close frames; runs already on disk when it spilled.
#[derive(Default)]
pub struct SessionChunks {
    /// Rows `spilled..rows`, in the order the sessions ended.
    frames: Vec<DataFrame>,
    rows: usize,
    /// Rows `0..spilled`, as sorted runs on disk (in the order they were written).
    pub(crate) runs: Vec<Run>,
    spilled: usize,
    /// (row, its Close frames) for rows that had any.
    pub(crate) closes: SinkCloses,
    error: Option<PolarsError>,
    /// Spilling failed (e.g. no space in the temporary folder): the rest stayed in memory.
    pub warning: Option<String>,
}

pub(crate) type RowCloses = Vec<(Initiator, CloseFrame)>;

/// (row, its Close frames) for the rows of one sink that had any.
pub(crate) type SinkCloses = Vec<(usize, RowCloses)>;

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
    pub(crate) fn into_runs(self) -> PolarsResult<(Vec<Run>, SinkCloses)> {
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
pub(crate) fn take_columns(
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

    /// Spill sorted runs into `dir` whenever `rows` or more rows are held in memory
    /// (a budget of its own: [`TableSink::spilling_within`] with a new [`SpillBudget`]).
    pub fn spilling(self, dir: Arc<SpillDir>, rows: usize) -> Self {
        self.spilling_within(dir, SpillBudget::new(rows))
    }

    /// Spill sorted runs into `dir` as the run's shared `budget` says (see
    /// [`SpillBudget`]); the sink counts as live in it until it finishes.
    pub fn spilling_within(mut self, dir: Arc<SpillDir>, budget: Arc<SpillBudget>) -> Self {
        budget.live.fetch_add(1, Ordering::Relaxed);
        self.spill = Some((dir, budget));
        self
    }

    /// Sessions held before a chunk is made: a chunk, or less when this sink's part of
    /// the budget is smaller (records cost more than rows).
    fn chunk_limit(&self) -> usize {
        match &self.spill {
            Some((_, b)) => self.chunk_rows.min(2 * b.share()),
            None => self.chunk_rows,
        }
    }

    /// Whether the rows held should be spilled now (see [`SpillBudget`]).
    fn over_budget(&self) -> bool {
        let Some((_, b)) = &self.spill else {
            return false;
        };
        let own = self.out.rows - self.out.spilled + self.pending.len();
        own > 0 && (own >= b.total || (b.held() >= b.total && own >= b.share()))
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
        if self.over_budget() {
            self.spill_now();
        }
    }

    /// Write the rows held in memory as one sorted run. If that fails, they stay in
    /// memory and spilling stops, with a warning.
    fn spill_now(&mut self) {
        let Some((dir, budget)) = self.spill.clone() else {
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
                let freed = self.out.rows - self.out.spilled;
                budget.held.fetch_sub(freed, Ordering::Relaxed);
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
        if let Some((_, b)) = &self.spill {
            b.held.fetch_add(1, Ordering::Relaxed);
        }
        if self.pending.len() >= self.chunk_limit() || self.over_budget() {
            self.flush();
        }
    }
    fn finish(self) -> SessionChunks {
        Self::finish_all(vec![self]).pop().unwrap_or_default()
    }

    /// The sinks of one capture stop together: they leave the live count at once, so
    /// only sinks of captures still being read count as "others". (Finishing them one
    /// by one, the first ones of a capture saw its other workers as live and spilled:
    /// `--threads 16` wrote and merged back runs for a 1 GiB capture whose 22,430
    /// sessions were within the budget, 10 % more instructions than `--threads 2`.)
    fn finish_all(mut sinks: Vec<Self>) -> Vec<SessionChunks> {
        for s in &mut sinks {
            s.flush();
        }
        let mut others = false;
        if let Some((_, b)) = sinks.iter().find_map(|s| s.spill.clone()) {
            let n = sinks.iter().filter(|s| s.spill.is_some()).count();
            others = b.live.fetch_sub(n, Ordering::Relaxed) > n;
        }
        sinks
            .into_iter()
            .map(|mut s| {
                if let Some((_, b)) = s.spill.clone() {
                    if others && b.held() > b.total / 2 && s.out.rows > s.out.spilled {
                        s.spill_now();
                    }
                }
                s.out
            })
            .collect()
    }
}

/// A row's place in session order: start time (null first), then client and server
/// address as `SocketAddr`s, like [`session_order`](crate::pipeline::session_order).
pub(crate) type OrderKey = (i64, Option<SocketAddr>, Option<SocketAddr>);

/// The columns of a session table that session order is read from.
pub(crate) struct OrderColumns {
    start: Int64Chunked,
    cip: StringChunked,
    cport: UInt16Chunked,
    sip: StringChunked,
    sport: UInt16Chunked,
}

impl OrderColumns {
    pub(crate) fn of(table: &DataFrame) -> PolarsResult<OrderColumns> {
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

    pub(crate) fn key(&self, row: usize) -> OrderKey {
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
