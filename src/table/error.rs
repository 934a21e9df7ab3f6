//! The table floor's one error type: which file, what was being done to it, and why.
//!
//! Contract: every failure to read or write a table names its file; [`Error::File`]
//! wraps the cause with the file and the step (`cannot write`, `cannot create`, ...),
//! so that printed with its causes (`text::with_causes`) it reads
//! `out.csv: cannot write: No space left on device (os error 28)`. A caller tells an
//! output from an input by the step, never by parsing the text.

use std::path::{Path, PathBuf};

use polars::prelude::PolarsError;

/// A table that could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An output path whose extension names no table format.
    #[error("{}: unknown table format (use .csv, .parquet, .json or .jsonl)", .0.display())]
    UnknownFormat(PathBuf),
    /// A batch writer that already failed was given more rows or asked to finish.
    #[error("{}: cannot write: an earlier batch failed", .0.display())]
    EarlierBatchFailed(PathBuf),
    /// Rows whose columns differ from the first batch's.
    #[error("a batch's columns differ from the first batch's: {0}")]
    SchemaChanged(String),
    /// polars' JSON writer wrote something that is not one array.
    #[error("polars wrote something other than a JSON array")]
    NotAJsonArray,
    /// A step on one file failed.
    #[error("{}: {step}", path.display())]
    File {
        path: PathBuf,
        step: &'static str,
        #[source]
        source: Box<Error>,
    },
    #[error(transparent)]
    Polars(#[from] PolarsError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Name the file and the step of a failure.
pub trait At<T> {
    fn at(self, path: &Path, step: &'static str) -> Result<T>;
}

impl<T, E: Into<Error>> At<T> for std::result::Result<T, E> {
    fn at(self, path: &Path, step: &'static str) -> Result<T> {
        self.map_err(|e| Error::File {
            path: path.to_path_buf(),
            step,
            source: Box::new(e.into()),
        })
    }
}
