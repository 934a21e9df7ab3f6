//! What stops a command before it is done: typed, so `main` tells a bad argument from a
//! failed output, and a closed stdout from a full one.
//!
//! Contract: problems with one input or one output are not errors here (they are
//! [`crate::inputs::Outcome`]s and `wsaudit: ...` lines, and the run goes on); an
//! [`Error`] is what ends a command: arguments that cannot work together (found before
//! anything is read), a table that cannot be built, a baseline that cannot be read, a
//! report that cannot be printed.

/// Why a command stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line asks for something impossible; nothing was read.
    #[error("{0}")]
    Usage(String),
    /// A table could not be built, read or written.
    #[error(transparent)]
    Table(#[from] crate::table::error::Error),
    /// A table operation failed.
    #[error(transparent)]
    Polars(#[from] polars::prelude::PolarsError),
    /// The baseline could not be read or holds nothing to compare with.
    #[error("baseline {0}")]
    Baseline(String),
    /// A table named as the baseline could not be read.
    #[error("{name}: cannot read")]
    BaselineUnreadable {
        name: String,
        #[source]
        source: crate::table::error::Error,
    },
    /// The per-code summary given as a baseline is not one.
    #[error(transparent)]
    BaselineTable(#[from] crate::audit::BaselineError),
    /// Standard output could not be written (a closed pipe ends the run quietly).
    #[error("standard output: cannot write")]
    Stdout(#[source] std::io::Error),
    /// `--threads`: the thread pool could not be started.
    #[error("cannot start {0}")]
    Threads(#[from] rayon::ThreadPoolBuildError),
    /// The report could not be encoded as JSON.
    #[error("cannot encode the report as JSON")]
    Json(#[from] serde_json::Error),
}

impl Error {
    /// Standard output was closed by its reader (`wsaudit ... | head`): not a failure.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Stdout(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// A command's result.
pub type Result<T> = std::result::Result<T, Error>;

/// `Err(Error::Usage(...))` from a format string.
macro_rules! usage {
    ($($arg:tt)*) => {
        return Err($crate::cmd::error::Error::Usage(format!($($arg)*)))
    };
}
pub(crate) use usage;
