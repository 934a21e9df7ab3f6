//! The session table's export (`--sessions`), fed batch by batch as the table is
//! drained ([`crate::table::drain::Sessions::drain`]).
//!
//! Contract: [`SessionsOut::write`] never fails the drain: the first error stops the
//! export (its temporary file is removed) and is returned by [`SessionsOut::finish`],
//! while the rows keep flowing to the reports. A finished export is whole or absent.

use std::path::Path;

use crate::table::error::{Error, Result};
use polars::prelude::DataFrame;

use crate::table::write::{Partition, PartitionWriter, TableWriter};

/// Where the session rows go.
pub struct SessionsOut {
    to: Option<Writer>,
    error: Option<Error>,
}

enum Writer {
    File(TableWriter),
    Parts(PartitionWriter),
}

impl SessionsOut {
    /// Nowhere.
    pub fn none() -> SessionsOut {
        SessionsOut {
            to: None,
            error: None,
        }
    }

    /// One file, its format from its extension; `guard`: the CSV formula guard.
    pub fn file(path: &Path, guard: bool) -> SessionsOut {
        match TableWriter::create(path, guard) {
            Ok(w) => SessionsOut {
                to: Some(Writer::File(w)),
                error: None,
            },
            Err(e) => SessionsOut {
                to: None,
                error: Some(e),
            },
        }
    }

    /// Hive-style partitioned Parquet under `dir`, this run's files named by `tag`.
    pub fn partitioned(dir: &Path, by: Partition, tag: &str) -> SessionsOut {
        SessionsOut {
            to: Some(Writer::Parts(PartitionWriter::new(dir, by, tag))),
            error: None,
        }
    }

    /// Add a batch of rows (after an error: nothing).
    pub fn write(&mut self, batch: &DataFrame) {
        let result = match &mut self.to {
            None => return,
            Some(Writer::File(w)) => w.write(batch),
            Some(Writer::Parts(w)) => w.write(batch),
        };
        if let Err(e) = result {
            // Dropping the writer removes its temporary file(s).
            self.to = None;
            self.error = Some(e);
        }
    }

    /// Put the export in place; the first error if any batch failed.
    pub fn finish(self) -> Result<()> {
        if let Some(e) = self.error {
            return Err(e);
        }
        match self.to {
            None => Ok(()),
            Some(Writer::File(w)) => w.finish(),
            Some(Writer::Parts(w)) => w.finish().map(|_| ()),
        }
    }
}
