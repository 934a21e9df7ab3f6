//! Sorted runs of session rows on disk: the spill folder, and one run's files.
//!
//! Contract: a [`Run`] is rows in session order, each with `__row` ([`RUN_ROW`]), its
//! number within its sink in finishing order, kept as Arrow IPC files of `GROUP_ROWS`
//! rows under one [`SpillDir`] per wsaudit run; each file is deleted once read back.
//! The folder is made on the first spill, removed when dropped, and on Ctrl-C by
//! [`remove_spill_dirs`]. A process killed outright (SIGKILL, a crash) cannot remove
//! its folder: [`SpillDir::new`] removes the `wsaudit-spill-<pid>-<n>/` folders under
//! its parent whose process no longer exists (`pid_is_gone`), never a live one's. Writing runs is the sinks' job ([`crate::table::chunks`]);
//! merging them back is [`crate::table::spill`]'s.

use std::collections::VecDeque;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use polars::prelude::*;
use polars_io::ipc::{IpcReader, IpcWriter};
use polars_io::{SerReader, SerWriter};

use crate::table::columns::shared_str_col;

/// The column numbering a spilled row within its sink (dropped before rows leave).
pub const RUN_ROW: &str = "__row";

/// Rows per file of a run: what a merge reads at a time from each run (~0.6 MiB of
/// whole rows). A capture read by 32 workers is merged from at least 32 runs at once
/// (one per worker): with 4096 rows a group, the 350,000-session run peaked ~10 MiB
/// higher with its Parquet export (~20 MiB at `-q`).
pub(crate) const GROUP_ROWS: usize = 1024;

/// Spill folders that exist right now, for [`remove_spill_dirs`].
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn live() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Remove every spill folder (called on Ctrl-C / SIGTERM before exit).
pub fn remove_spill_dirs() {
    for d in live().drain(..) {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Whether no process `pid` exists on this machine (`kill(pid, 0)` says "no such
/// process"). A process of another user, which we may not signal, still exists.
pub(crate) fn pid_is_gone(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 || pid as u32 == std::process::id() {
        return false;
    }
    // SAFETY: signal 0 only checks whether the process exists; nothing is sent.
    let r = unsafe { libc::kill(pid, 0) };
    r != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

/// The pid in a scratch name `<prefix><pid><rest>` when `rest` is empty or starts with
/// `-` (a spill folder: `-<n>`).
fn pid_after(name: &str, prefix: &str) -> Option<u32> {
    let rest = name.strip_prefix(prefix)?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let tail = &rest[digits..];
    if digits == 0 || !(tail.is_empty() || tail.starts_with('-')) {
        return None;
    }
    rest[..digits].parse().ok()
}

/// Remove the spill folders under `parent` left by wsaudit processes that are gone.
pub fn remove_stale_spill_dirs(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = pid_after(&name, crate::inputs::SPILL_PREFIX) else {
            continue;
        };
        if pid_is_gone(pid) && e.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// The pid of an export's temporary file `.<target name>.wsaudit-tmp.<pid>`.
pub(crate) fn temp_file_pid(name: &str, target: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?.strip_prefix(target)?;
    let pid = pid_after(rest, crate::inputs::TEMP_MARK)?;
    rest.ends_with(&pid.to_string()).then_some(pid)
}

pub(crate) fn io_error(path: &Path, e: std::io::Error) -> PolarsError {
    PolarsError::ComputeError(format!("{}: {e}", path.display()).into())
}

/// A folder for spilled runs, made under `parent` on the first spill and removed with
/// everything in it when dropped. Shared by every sink of a run.
pub struct SpillDir {
    parent: PathBuf,
    dir: OnceLock<Result<PathBuf, String>>,
    next: AtomicU64,
}

impl SpillDir {
    /// A spill folder under `parent` (not made until something spills); the folders of
    /// dead wsaudit processes under `parent` are removed now.
    pub fn new(parent: PathBuf) -> Arc<SpillDir> {
        remove_stale_spill_dirs(&parent);
        Arc::new(SpillDir {
            parent,
            dir: OnceLock::new(),
            next: AtomicU64::new(0),
        })
    }

    /// The folder, made on first use: `wsaudit-spill-<pid>-<n>`.
    fn dir(&self) -> PolarsResult<&Path> {
        let made = self.dir.get_or_init(|| {
            let _ = std::fs::create_dir_all(&self.parent);
            for n in 0..1000 {
                let p = self.parent.join(format!(
                    "{}{}-{n}",
                    crate::inputs::SPILL_PREFIX,
                    std::process::id()
                ));
                match std::fs::create_dir(&p) {
                    Ok(()) => {
                        live().push(p.clone());
                        return Ok(p);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(format!("{}: {e}", p.display())),
                }
            }
            Err(format!(
                "{}: no free spill folder name",
                self.parent.display()
            ))
        });
        match made {
            Ok(p) => Ok(p),
            Err(e) => Err(PolarsError::ComputeError(e.clone().into())),
        }
    }

    /// Write `sorted` (rows in session order, with `__row`) as a run of files.
    pub fn write_run(&self, sorted: &DataFrame) -> PolarsResult<Run> {
        let mut groups = VecDeque::new();
        let mut offset = 0;
        while offset < sorted.height() {
            let len = GROUP_ROWS.min(sorted.height() - offset);
            groups.push_back(self.write_group(&sorted.slice(offset as i64, len))?);
            offset += len;
        }
        Ok(Run { groups })
    }

    /// Write one group of a run to its own file.
    pub(crate) fn write_group(&self, rows: &DataFrame) -> PolarsResult<Group> {
        let dir = self.dir()?;
        // Own string buffers per file: a slice's strings point into buffers shared with
        // the whole run, which IPC would write again for every file.
        let mut group = compact_strings(rows)?;
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("run-{n:06}.arrow"));
        let file = File::create(&path).map_err(|e| io_error(&path, e))?;
        IpcWriter::new(BufWriter::new(file)).finish(&mut group)?;
        Ok(Group::File(path))
    }
}

impl Drop for SpillDir {
    fn drop(&mut self) {
        if let Some(Ok(p)) = self.dir.get() {
            let _ = std::fs::remove_dir_all(p);
            live().retain(|d| d != p);
        }
    }
}

/// `df` with every string column rebuilt into buffers of its own, equal values stored
/// once (see [`shared_str_col`]).
pub fn compact_strings(df: &DataFrame) -> PolarsResult<DataFrame> {
    let columns = df
        .columns()
        .iter()
        .map(|c| match c.dtype() {
            DataType::String => shared_str_col(c.name(), c.str()?.iter()),
            _ => Ok(c.clone()),
        })
        .collect::<PolarsResult<Vec<Column>>>()?;
    DataFrame::new(df.height(), columns)
}

/// Rows of one sink in session order: files on disk, read and deleted one at a time,
/// or (the rows a sink still held at the end) one frame in memory.
pub struct Run {
    groups: VecDeque<Group>,
}

pub(crate) enum Group {
    File(PathBuf),
    Memory(DataFrame),
}

impl Run {
    /// A run of groups written by [`SpillDir::write_group`].
    pub(crate) fn from_groups(groups: VecDeque<Group>) -> Run {
        Run { groups }
    }

    /// A run already in memory (sorted, with `__row`).
    pub fn in_memory(sorted: DataFrame) -> Run {
        Run {
            groups: VecDeque::from([Group::Memory(sorted)]),
        }
    }

    /// The next group of rows, its file removed once read.
    pub(crate) fn next_group(&mut self) -> PolarsResult<Option<DataFrame>> {
        match self.groups.pop_front() {
            None => Ok(None),
            Some(Group::Memory(df)) => Ok(Some(df)),
            Some(Group::File(path)) => {
                let file = File::open(&path).map_err(|e| io_error(&path, e))?;
                let df = IpcReader::new(file).finish()?;
                let _ = std::fs::remove_file(&path);
                Ok(Some(df))
            }
        }
    }
}
