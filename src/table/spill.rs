//! Session rows past the memory budget, merged back from their sorted runs on disk.
//!
//! Contract: a [`TableSink`](crate::table::chunks::TableSink) holding more than its
//! budget of rows sorts them in session order and writes them as a [`Run`]
//! ([`crate::table::run`]: Arrow IPC files of `GROUP_ROWS` (1024) rows each, in one
//! temporary folder per wsaudit run, each row carrying `__row`, its number within its
//! sink in finishing order).
//!
//! [`SessionStream`] merges each capture's runs (and the rows still in memory) back
//! into session order, numbers them `<capture>#<n>`, and hands them out in batches of
//! at most [`BATCH_ROWS`]: the rows, ids and Close-frame table are exactly those of
//! [`merge_chunks`](crate::table::chunks::merge_chunks), without the whole table ever
//! being in memory. What a merge holds is one group per run plus a batch; a sink with more than
//! [`FAN_IN`] runs (shared among the sinks) has them merged down on disk first, so that
//! stays bounded however big the capture.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use polars::prelude::*;

use crate::table::chunks::{stack, take_columns, OrderColumns, OrderKey, RowCloses, SessionChunks};
use crate::table::run::{Run, SpillDir, GROUP_ROWS, RUN_ROW};
use crate::table::session::closes_frame_of;

/// Rows per batch a [`SessionStream`] hands out (one Parquet row group of a merged
/// export). Two batches are alive at once (one merged while the other is written):
/// 32,768 rows kept that at ~40 MiB; with 65,536 the 10 GiB run peaked 36 MiB higher.
pub const BATCH_ROWS: usize = 32_768;

/// Default rows a sink holds before it spills: about 20 MiB of session rows.
pub const SPILL_ROWS: usize = 32_768;

/// One run being merged: its current group, that group's order keys and row numbers,
/// how far the merge has taken it, and what it took since the last batch.
struct Cursor {
    sink: usize,
    run: Run,
    group: DataFrame,
    keys: Vec<OrderKey>,
    rows: Vec<u64>,
    pos: usize,
    /// Where the rows taken for the batch being built start in `group`.
    cut: usize,
    /// Slices taken for the batch being built (from groups finished meanwhile).
    pieces: Vec<DataFrame>,
}

impl Cursor {
    /// Load the run's next non-empty group; false when the run is done.
    fn load(&mut self) -> PolarsResult<bool> {
        while let Some(g) = self.run.next_group()? {
            if g.height() == 0 {
                continue;
            }
            let cols = OrderColumns::of(&g)?;
            self.keys = (0..g.height()).map(|r| cols.key(r)).collect();
            self.rows = g
                .column(RUN_ROW)?
                .cast(&DataType::UInt64)?
                .u64()?
                .iter()
                .map(|v| v.unwrap_or(u64::MAX))
                .collect();
            self.group = g;
            self.pos = 0;
            self.cut = 0;
            return Ok(true);
        }
        self.group = DataFrame::empty();
        self.keys.clear();
        self.rows.clear();
        self.pos = 0;
        self.cut = 0;
        Ok(false)
    }

    /// Keep the rows taken from the current group since the last cut.
    fn cut_piece(&mut self) {
        if self.pos > self.cut {
            self.pieces
                .push(self.group.slice(self.cut as i64, self.pos - self.cut));
        }
        self.cut = self.pos;
    }
}

/// Where a merged row came from: its sink and its `__row` there.
type Origin = (usize, u64);

/// Runs merged into session order: among equal keys, the earlier cursor first (cursors
/// are made in sink order, then run order, which is the order the rows came in).
struct Merge {
    cursors: Vec<Cursor>,
    heap: BinaryHeap<Reverse<(OrderKey, usize)>>,
}

impl Merge {
    /// Merge `runs`, each with the sink it came from, given in sink then run order.
    fn new(runs: Vec<(usize, Run)>) -> PolarsResult<Merge> {
        let mut cursors: Vec<Cursor> = runs
            .into_iter()
            .map(|(sink, run)| Cursor {
                sink,
                run,
                group: DataFrame::empty(),
                keys: Vec::new(),
                rows: Vec::new(),
                pos: 0,
                cut: 0,
                pieces: Vec::new(),
            })
            .collect();
        let mut heap = BinaryHeap::with_capacity(cursors.len());
        for (i, c) in cursors.iter_mut().enumerate() {
            if c.load()? {
                heap.push(Reverse((c.keys[0], i)));
            }
        }
        Ok(Merge { cursors, heap })
    }

    /// The next (at most) `n` rows in session order, every column kept (`__row` too),
    /// with the (sink, `__row`) of each; `None` when every run is done.
    fn next_rows(&mut self, n: usize) -> PolarsResult<Option<(DataFrame, Vec<Origin>)>> {
        // Which cursor each row comes from, in session order.
        let mut from: Vec<usize> = Vec::with_capacity(n);
        let mut origin: Vec<Origin> = Vec::with_capacity(n);
        while from.len() < n {
            let Some(Reverse((_, c))) = self.heap.pop() else {
                break;
            };
            let cur = &mut self.cursors[c];
            origin.push((cur.sink, cur.rows[cur.pos]));
            cur.pos += 1;
            from.push(c);
            if cur.pos == cur.keys.len() {
                cur.cut_piece();
                if cur.load()? {
                    self.heap.push(Reverse((cur.keys[0], c)));
                }
            } else {
                self.heap.push(Reverse((cur.keys[cur.pos], c)));
            }
        }
        if from.is_empty() {
            return Ok(None);
        }
        // Every cursor's slices, cursor by cursor, then interleaved.
        let mut base = vec![0usize; self.cursors.len()];
        let mut pieces = Vec::new();
        let mut offset = 0;
        for (i, cur) in self.cursors.iter_mut().enumerate() {
            cur.cut_piece();
            base[i] = offset;
            offset += cur.pieces.iter().map(DataFrame::height).sum::<usize>();
            pieces.append(&mut cur.pieces);
        }
        let Some(parts) = stack(pieces)? else {
            return Ok(None);
        };
        let idx: Vec<IdxSize> = from
            .iter()
            .map(|&c| {
                base[c] += 1;
                (base[c] - 1) as IdxSize
            })
            .collect();
        let idx = IdxCa::from_vec("idx".into(), idx);
        let columns = take_columns(parts, &idx, None)?;
        Ok(Some((DataFrame::new(from.len(), columns)?, origin)))
    }
}

/// Consecutive runs of one sink merged into one run on disk (ties keep run order).
fn merge_runs(runs: Vec<Run>, dir: &SpillDir) -> PolarsResult<Run> {
    let mut merge = Merge::new(runs.into_iter().map(|r| (0, r)).collect())?;
    let mut groups = VecDeque::new();
    while let Some((rows, _)) = merge.next_rows(GROUP_ROWS)? {
        groups.push_back(dir.write_group(&rows)?);
    }
    Ok(Run::from_groups(groups))
}

/// Most runs merged at once: what a merge holds is one group (`GROUP_ROWS` rows, under
/// a MiB) per run; a capture's merge also opens at least one run per worker.
pub const FAN_IN: usize = 16;

/// A sink's runs merged down to at most `target`, in passes of at most `fan_in` runs,
/// keeping their order.
fn merge_down(
    mut runs: Vec<Run>,
    target: usize,
    fan_in: usize,
    dir: &SpillDir,
) -> PolarsResult<Vec<Run>> {
    let fan_in = fan_in.max(2);
    let target = target.max(1);
    while runs.len() > target {
        let excess = runs.len() - target + 1;
        if excess <= fan_in {
            // One merge of the first runs is enough.
            let rest = runs.split_off(excess);
            let mut merged = vec![merge_runs(runs, dir)?];
            merged.extend(rest);
            runs = merged;
        } else {
            // A full pass: every `fan_in` consecutive runs become one.
            let mut next = Vec::with_capacity(runs.len() / fan_in + 1);
            let mut it = runs.into_iter().peekable();
            while it.peek().is_some() {
                let chunk: Vec<Run> = it.by_ref().take(fan_in).collect();
                next.push(if chunk.len() == 1 {
                    chunk.into_iter().next().expect("one run")
                } else {
                    merge_runs(chunk, dir)?
                });
            }
            runs = next;
        }
    }
    Ok(runs)
}

/// One capture's merge in progress.
struct CaptureMerge {
    name: String,
    merge: Merge,
    /// Sessions numbered so far.
    numbered: usize,
    /// Each sink's Close frames by row.
    closes: Vec<HashMap<u64, RowCloses>>,
}

/// The sessions of several captures, merged from their sinks' runs into session order
/// and numbered, handed out in batches (see the module docs).
pub struct SessionStream {
    pending: VecDeque<(String, Vec<SessionChunks>)>,
    current: Option<CaptureMerge>,
    dir: Arc<SpillDir>,
    with_closes: bool,
    batch_rows: usize,
    fan_in: usize,
    /// (capture, session id, Close frames), in session order.
    closes: Vec<(String, String, RowCloses)>,
}

impl SessionStream {
    /// Merge `captures` (in input order, each with its sinks' outputs in worker order),
    /// whose runs are in `dir`; with the Close-frame table when `with_closes`.
    pub fn new(
        captures: Vec<(String, Vec<SessionChunks>)>,
        dir: Arc<SpillDir>,
        with_closes: bool,
    ) -> Self {
        SessionStream {
            pending: captures.into(),
            current: None,
            dir,
            with_closes,
            batch_rows: BATCH_ROWS,
            fan_in: FAN_IN,
            closes: Vec::new(),
        }
    }

    /// As [`SessionStream::new`], with batches of at most `rows` (tests use tiny ones).
    pub fn with_batch_rows(mut self, rows: usize) -> Self {
        self.batch_rows = rows.max(1);
        self
    }

    /// As [`SessionStream::new`], merging at most `runs` runs at once (tests use 2).
    pub fn with_fan_in(mut self, runs: usize) -> Self {
        self.fan_in = runs.max(2);
        self
    }

    fn start(&self, name: String, sinks: Vec<SessionChunks>) -> PolarsResult<CaptureMerge> {
        // At most about `fan_in` runs open at once, whatever the number of runs: a sink
        // with more is merged down on disk first.
        let per_sink = (self.fan_in / sinks.len().max(1)).max(1);
        let mut runs = Vec::new();
        let mut closes = Vec::with_capacity(sinks.len());
        for (sink, chunks) in sinks.into_iter().enumerate() {
            let (sink_runs, sink_closes) = chunks.into_runs()?;
            closes.push(if self.with_closes {
                sink_closes
                    .into_iter()
                    .map(|(row, c)| (row as u64, c))
                    .collect()
            } else {
                HashMap::new()
            });
            for run in merge_down(sink_runs, per_sink, self.fan_in, &self.dir)? {
                runs.push((sink, run));
            }
        }
        Ok(CaptureMerge {
            name,
            merge: Merge::new(runs)?,
            numbered: 0,
            closes,
        })
    }

    /// The next batch of session rows (the session table's columns, ids set), or
    /// `None` when every capture is done. A batch never mixes captures.
    pub fn next_batch(&mut self) -> PolarsResult<Option<DataFrame>> {
        loop {
            if self.current.is_none() {
                let Some((name, sinks)) = self.pending.pop_front() else {
                    return Ok(None);
                };
                self.current = Some(self.start(name, sinks)?);
            }
            let Some(m) = self.current.as_mut() else {
                continue;
            };
            let Some((rows, origin)) = m.merge.next_rows(self.batch_rows)? else {
                self.current = None;
                continue;
            };
            let first = m.numbered;
            m.numbered += rows.height();
            if self.with_closes {
                for (i, (sink, row)) in origin.iter().enumerate() {
                    if let Some(frames) = m.closes[*sink].remove(row) {
                        let id = crate::pipeline::session_id(&m.name, first + i + 1);
                        self.closes.push((m.name.clone(), id, frames));
                    }
                }
            }
            let ids = StringChunked::from_iter_values(
                "session_id".into(),
                (1..=rows.height()).map(|n| crate::pipeline::session_id(&m.name, first + n)),
            )
            .into_column();
            let mut batch = rows.drop(RUN_ROW)?;
            batch.with_column(ids)?;
            return Ok(Some(batch));
        }
    }

    /// Hand every batch to `each`, in order, with the merge running on its own thread
    /// one batch ahead (a merged export's encoding takes about as long as the merge: on
    /// 10 GiB the end of the run went from 1.0 s to 0.64 s). Stops at the first error of
    /// either side; returns the stream for [`closes_frame`](Self::closes_frame).
    pub fn drain_ahead(
        mut self,
        each: &mut dyn FnMut(DataFrame) -> PolarsResult<()>,
    ) -> PolarsResult<SessionStream> {
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<PolarsResult<DataFrame>>(0);
            let merging = scope.spawn(move || {
                loop {
                    match self.next_batch() {
                        Ok(Some(b)) => {
                            if tx.send(Ok(b)).is_err() {
                                break; // the consumer stopped
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            break;
                        }
                    }
                }
                self
            });
            for batch in rx {
                each(batch?)?;
            }
            merging
                .join()
                .map_err(|_| polars_err!(ComputeError: "the merge of spilled runs panicked"))
        })
    }

    /// The Close-frame table of every batch handed out so far (all of them once
    /// [`next_batch`](Self::next_batch) returned `None`).
    pub fn closes_frame(&self) -> PolarsResult<DataFrame> {
        closes_frame_of(
            self.closes
                .iter()
                .map(|(cap, id, c)| (cap.as_str(), id.clone(), c.as_slice())),
        )
    }
}

/// When capture sessions go to disk: each worker writes the rows it holds as a sorted
/// run under `dir` once it holds `rows` of them (`None`: never).
#[derive(Debug, Clone)]
pub struct SpillOptions {
    pub dir: PathBuf,
    pub rows: Option<usize>,
}

impl Default for SpillOptions {
    /// The system's temporary folder (`TMPDIR`), every [`SPILL_ROWS`] rows.
    fn default() -> Self {
        SpillOptions {
            dir: std::env::temp_dir(),
            rows: Some(SPILL_ROWS),
        }
    }
}
