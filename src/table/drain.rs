//! The session table of a whole run, handed out once: from memory, or merged back from
//! the spill folder batch by batch.
//!
//! Contract: [`Sessions::drain`] gives every row to its callback in table order (one
//! batch when the table is in memory) and keeps for the reports only the columns they
//! read ([`session::NOT_REPORTED`] are null in what it returns), so a run whose
//! captures spilled never holds the whole table.

use polars::prelude::*;

use crate::table::chunks::stack;
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
    /// Every row. Streamed rows keep only the columns a report reads; the others
    /// ([`session::NOT_REPORTED`]) are null.
    pub sessions: DataFrame,
    /// The Close-frame table of the captures, when asked for.
    pub closes: Option<DataFrame>,
}

impl Sessions {
    /// Whether rows come from disk (then [`Drained::sessions`] lacks some columns).
    pub fn streamed(&self) -> bool {
        matches!(self.inner, SessionsInner::Stream { .. })
    }

    /// Hand every row to `out`, in batches in table order (one batch when the table is
    /// in memory), and return what the reports need; with `for_reports` false, nothing
    /// is kept of rows merged from disk (an empty table: no report will run).
    pub fn drain(
        self,
        out: &mut dyn FnMut(&DataFrame),
        for_reports: bool,
    ) -> PolarsResult<Drained> {
        match self.inner {
            SessionsInner::Table { table, closes } => {
                out(&table);
                Ok(Drained {
                    sessions: table,
                    closes,
                })
            }
            SessionsInner::Stream {
                stream,
                rest,
                with_closes,
            } => {
                let template = session::sessions_frame(&[])?;
                let reported: Vec<&str> = session::SESSION_COLUMNS
                    .iter()
                    .copied()
                    .filter(|c| !session::NOT_REPORTED.contains(c))
                    .collect();
                let mut kept: Vec<DataFrame> = Vec::new();
                let mut each = |batch: DataFrame| -> PolarsResult<()> {
                    out(&batch);
                    if for_reports {
                        kept.push(compact_strings(&batch.select(reported.iter().copied())?)?);
                    }
                    Ok(())
                };
                let stream = stream.drain_ahead(&mut each)?;
                if rest.height() > 0 {
                    each(rest)?;
                }
                let closes = with_closes.then(|| stream.closes_frame()).transpose()?;
                let mut kept = match stack(kept)? {
                    Some(k) => k,
                    None => template.select(reported)?,
                };
                // One chunk, as the in-memory table: a gather from several string chunks
                // copies every value (the reconnect table alone cost 64 MiB more on a
                // 10 GiB capture); concatenating shares the chunks' buffers.
                kept.rechunk_mut();
                let height = kept.height();
                let columns = template
                    .columns()
                    .iter()
                    .map(|c| {
                        if session::NOT_REPORTED.contains(&c.name().as_str()) {
                            Ok(Column::full_null(c.name().clone(), height, c.dtype()))
                        } else {
                            Ok(kept.column(c.name())?.clone())
                        }
                    })
                    .collect::<PolarsResult<Vec<Column>>>()?;
                Ok(Drained {
                    sessions: DataFrame::new(height, columns)?,
                    closes,
                })
            }
        }
    }
}
