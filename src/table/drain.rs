//! The session table of a whole run, handed out once: from memory, or merged back from
//! the spill folder batch by batch.
//!
//! Contract: [`Sessions::drain`] gives every row to its callback in table order (one
//! batch when the table is in memory) and keeps for the reports only what the command
//! says they read ([`Kept`]: other columns null, some text as hashes), so a run whose
//! captures spilled never holds the whole table.

use polars::prelude::*;

use crate::table::chunks::stack;
use crate::table::columns::Kept;
use crate::table::run::compact_strings;
use crate::table::session;
use crate::table::spill::SessionStream;

/// The session table of everything read: in memory, or (when captures spilled to disk)
/// merged back batch by batch as it is drained.
pub struct Sessions {
    inner: SessionsInner,
}

impl Sessions {
    /// Rows in memory, with their Close-frame table when asked for.
    pub fn in_memory(table: DataFrame, closes: Option<DataFrame>) -> Sessions {
        Sessions {
            inner: SessionsInner::Table { table, closes },
        }
    }

    /// Capture rows merged back from disk as drained, then `rest` (tables and logs).
    pub fn streamed_from(stream: SessionStream, rest: DataFrame, with_closes: bool) -> Sessions {
        Sessions {
            inner: SessionsInner::Stream {
                stream,
                rest,
                with_closes,
            },
        }
    }
}

enum SessionsInner {
    Table {
        table: DataFrame,
        closes: Option<DataFrame>,
    },
    Stream {
        /// It holds the spill folder, removed when the stream is dropped.
        stream: SessionStream,
        /// Rows of tables and logs, after the captures'.
        rest: DataFrame,
        with_closes: bool,
    },
}

/// What [`Sessions::drain`] leaves for the reports.
pub struct Drained {
    /// Every row, as [`Kept`] said.
    pub sessions: DataFrame,
    /// The Close-frame table of the captures, when asked for.
    pub closes: Option<DataFrame>,
}

impl Sessions {
    /// Whether rows come from disk.
    pub fn streamed(&self) -> bool {
        matches!(self.inner, SessionsInner::Stream { .. })
    }

    /// Hand every row to `out`, in batches in table order (one batch when the table is
    /// in memory), and return what the reports need: with `keep`, each row as [`Kept`]
    /// says (built batch by batch, so the whole table is never held); without, the
    /// table in memory as it is, and nothing of rows merged from disk (an empty table:
    /// no report will run).
    pub fn drain(
        self,
        out: &mut dyn FnMut(&DataFrame),
        keep: Option<&Kept>,
    ) -> PolarsResult<Drained> {
        match self.inner {
            SessionsInner::Table { table, closes } => {
                out(&table);
                Ok(Drained {
                    sessions: match keep {
                        Some(k) => k.apply(table)?,
                        None => table,
                    },
                    closes,
                })
            }
            SessionsInner::Stream {
                stream,
                rest,
                with_closes,
            } => {
                release_idle_memory();
                let template = session::sessions_frame(&[])?;
                let mut kept: Vec<DataFrame> = Vec::new();
                let mut each = |batch: DataFrame| -> PolarsResult<()> {
                    out(&batch);
                    if let Some(k) = keep {
                        kept.push(compact_strings(&k.narrow(&batch)?)?);
                    }
                    Ok(())
                };
                // While a table is kept for the reports, one batch at a time: merging
                // the next one while this one is exported held a third batch beside
                // the kept table (~10 MiB more at the peak of 350,000 sessions). With
                // nothing kept, the merge runs ahead (the end of the run is faster).
                let stream = if keep.is_some() {
                    let mut stream = stream;
                    while let Some(batch) = stream.next_batch()? {
                        each(batch)?;
                    }
                    stream
                } else {
                    stream.drain_ahead(&mut each)?
                };
                if rest.height() > 0 {
                    each(rest)?;
                }
                let closes = with_closes.then(|| stream.closes_frame()).transpose()?;
                let Some(keep) = keep else {
                    return Ok(Drained {
                        sessions: template,
                        closes,
                    });
                };
                let mut kept = match stack(kept)? {
                    Some(k) => k,
                    None => keep.narrow(&template)?,
                };
                // One chunk, as the in-memory table: a gather from several string chunks
                // copies every value (the reconnect table alone cost 64 MiB more on a
                // 10 GiB capture); concatenating shares the chunks' buffers.
                kept.rechunk_mut();
                Ok(Drained {
                    sessions: keep.widen(kept, &template)?,
                    closes,
                })
            }
        }
    }
}

/// Give back to the system the memory that threads done with their work still hold
/// free: the merge and the reports that follow allocate afresh, and mimalloc (the
/// binary's allocator, `src/main.rs`) keeps freed pages in the heap of the thread
/// that freed them. Run on every thread of the global pool and this one: at
/// `--threads 32`, the 350,000-session run with its Parquet export and report peaked
/// ~10-15 MiB lower (237-251 against 251-263 MiB). Under another allocator (the
/// tests), mimalloc holds nothing and this does nothing.
fn release_idle_memory() {
    // SAFETY: `mi_collect` only frees memory mimalloc holds unused; it has no
    // preconditions.
    rayon::broadcast(|_| unsafe { libmimalloc_sys::mi_collect(true) });
    unsafe { libmimalloc_sys::mi_collect(true) };
}
