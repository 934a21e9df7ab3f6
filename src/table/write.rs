//! Tables out: CSV, Parquet, JSON (array of objects) or JSON Lines, chosen by extension.
//!
//! Contract: every table is written to a temporary file next to the target and renamed
//! into place only when complete, so an interrupted run never leaves a half-written file
//! that looks complete. A table can be written whole ([`write_table`]) or batch by batch
//! ([`TableWriter`], [`PartitionWriter`]) without ever being in memory at once; the
//! whole-frame functions are the one-batch case of the batch writers, and writing a
//! frame in any number of batches gives the same file as writing it at once (the same
//! bytes in the text formats, the same rows, types and row groups in Parquet). Times are
//! written as ISO 8601 UTC in text formats and as `TIMESTAMP(MICROS, UTC)` in Parquet.
//!
//! While an [`ExportSet`] is open (an `analyze` run), complete files wait and
//! [`commit_exports`] renames them all together, holding off the interrupt handler
//! ([`hold_renames`]); if one export of the set failed, none is renamed. Temporary files
//! of processes that are gone are removed next to each target before it is written; a
//! [`PartitionWriter`] that fails removes the folders it made.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::table::error::{At as _, Error, Result};
use polars::prelude::*;
use polars_io::csv::write::{BatchedWriter as CsvBatchedWriter, CsvWriter};
use polars_io::json::{JsonFormat, JsonWriter};
use polars_io::parquet::write::KeyValueMetadata;
use polars_io::parquet::write::{
    BatchedWriter as ParquetBatchedWriter, ParquetCompression, ParquetWriter,
};
use polars_io::SerWriter;

/// Output format, from a file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    Csv,
    Parquet,
    Json,
    JsonLines,
}

impl TableFormat {
    pub fn from_path(path: &Path) -> Result<TableFormat> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .unwrap_or_default();
        Ok(match ext.as_str() {
            "csv" => TableFormat::Csv,
            "parquet" | "pq" => TableFormat::Parquet,
            "json" => TableFormat::Json,
            "jsonl" | "ndjson" => TableFormat::JsonLines,
            _ => return Err(Error::UnknownFormat(path.to_path_buf())),
        })
    }
}

/// Temporary files being written right now, so an interrupt can remove them
/// ([`remove_temp_files`]) and leave nothing half-written behind.
static IN_PROGRESS: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

fn in_progress() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    IN_PROGRESS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Remove every export still being written (called on Ctrl-C / SIGTERM before exit).
/// Finished exports were renamed into place and stay.
pub fn remove_temp_files() {
    for p in in_progress().drain(..) {
        let _ = std::fs::remove_file(p);
    }
}

/// Remove the temporary files of `path` (`.<name>.wsaudit-tmp.<pid>` next to it) left by
/// wsaudit processes that are gone (killed outright: SIGKILL, a crash, a power cut);
/// a live process's are never touched.
fn remove_stale_temp_files(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let name = name.to_string_lossy();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let entry = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = crate::table::run::temp_file_pid(&entry, &name) else {
            continue;
        };
        if crate::table::run::pid_is_gone(pid) && e.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(
        ".{name}{}{}",
        crate::inputs::TEMP_MARK,
        std::process::id()
    ))
}

/// Write `df` to `path` in the format its extension names, atomically, with CSV cells
/// guarded against formula injection (see [`guard_formulas`]).
pub fn write_table(df: &mut DataFrame, path: &Path) -> Result<()> {
    write_table_with(df, path, true)
}

/// Text cells guarded for people who open a CSV: control and bidirectional characters
/// are written as visible escapes ([`crate::text::escape_for_csv`]: `\x1b`, `\x0d`,
/// `\u{202e}`; tab and line feed stay, quoted), then cells that a spreadsheet would run
/// as a formula (starting with `=`, `+`, `-`, `@` or tab) get a leading `'`, as OWASP
/// recommends for CSV exports: a close reason or path from the wire must not become
/// `=HYPERLINK(...)` in someone's spreadsheet, nor set a terminal's title when the file
/// is `cat`-ed. Only text columns are touched; numbers stay numbers. `--csv-raw` writes
/// cells as they are.
pub fn guard_formulas(df: &DataFrame) -> PolarsResult<DataFrame> {
    let mut escaped = df.clone();
    let names: Vec<PlSmallStr> = df
        .schema()
        .iter()
        .filter(|(_, dt)| **dt == DataType::String)
        .map(|(n, _)| n.clone())
        .collect();
    for name in names {
        let ca = escaped.column(&name)?.str()?.clone();
        if ca.iter().flatten().any(|s| {
            s.chars()
                .any(|c| c.is_control() || crate::text::is_bidi_control(c))
        }) {
            let out = ca.apply_values(crate::text::escape_for_csv);
            escaped.with_column(out.into_column())?;
        }
    }
    let df = &escaped;
    let exprs: Vec<Expr> = df
        .schema()
        .iter()
        .map(|(name, dt)| {
            let c = col(name.clone());
            if *dt != DataType::String {
                return c;
            }
            let risky = ["=", "+", "-", "@", "\t", "\r"]
                .iter()
                .map(|p| c.clone().str().starts_with(lit(*p)))
                .reduce(|a, b| a.or(b))
                .unwrap_or(lit(false));
            when(risky.fill_null(lit(false)))
                .then(lit("'") + c.clone())
                .otherwise(c)
                .alias(name.clone())
        })
        .collect();
    df.clone().lazy().select(exprs).collect()
}

/// Rows per Parquet row group: the writer encodes a whole row group in memory, so this
/// bounds what writing adds on top of the table (one group of 262,144 rows, polars'
/// default, was most of a 10 GiB capture's table encoded at once). A batch bigger than
/// this is cut into row groups of this many rows; smaller batches make smaller groups.
const PARQUET_ROW_GROUP: usize = 65_536;

/// Text times: ISO 8601 UTC with nanoseconds, in CSV and JSON alike.
const TEXT_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.9fZ";

/// [`write_table`], with the CSV formula guard optional (`--csv-raw` turns it off for
/// machine consumers). The whole frame is one batch of a [`TableWriter`].
pub fn write_table_with(df: &mut DataFrame, path: &Path, guard: bool) -> Result<()> {
    let mut w = TableWriter::create(path, guard)?;
    w.write(df)?;
    w.finish()
}

/// The temporary file, shared by the polars writer that fills it and the [`AtomicFile`]
/// that syncs and renames it (polars' batched writers own their output and never give
/// it back).
#[derive(Clone)]
struct Sink(Arc<Mutex<BufWriter<File>>>);

impl Sink {
    fn lock(&self) -> MutexGuard<'_, BufWriter<File>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.lock().write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.lock().write_all(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.lock().flush()
    }
}

/// A file written atomically: a temporary file next to `path` (registered in
/// [`IN_PROGRESS`], so [`remove_temp_files`] removes it on an interrupt), synced and
/// renamed into place by [`AtomicFile::commit`], removed when dropped uncommitted (an
/// error, or a writer given up). One mechanism for every file wsaudit writes.
///
/// A `path` that is a symlink is followed: its target is replaced and the link stays.
/// A `path` that exists and is not a regular file or a folder (a FIFO, a character
/// device such as `/dev/stdout`, a socket) is written through, never replaced: a reader
/// waiting on a FIFO gets the table.
struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    sink: Sink,
    committed: bool,
    /// Written straight into `path` (not a regular file): no temporary, no rename.
    direct: bool,
    /// Complete and handed to the open [`ExportSet`], which renames it (or removes it).
    deferred: bool,
}

/// Where `path` really is: a symlink's target (relative targets resolved from the
/// link's folder, chains followed), else `path` itself.
fn resolve_links(path: &Path) -> PathBuf {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::read_link(&p) {
            Ok(target) => {
                p = match p.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                }
            }
            Err(_) => break,
        }
    }
    p
}

impl AtomicFile {
    fn create(path: &Path) -> Result<AtomicFile> {
        let real = resolve_links(path);
        let special = std::fs::metadata(&real).is_ok_and(|m| !m.is_file() && !m.is_dir());
        if special {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&real)
                .inspect_err(|_| note_failed(path))
                .at(path, "cannot write")?;
            return Ok(AtomicFile {
                path: path.to_path_buf(),
                tmp: real,
                sink: Sink(Arc::new(Mutex::new(BufWriter::new(file)))),
                committed: false,
                direct: true,
                deferred: false,
            });
        }
        let path = real.as_path();
        remove_stale_temp_files(path);
        let tmp = temp_path(path);
        in_progress().push(tmp.clone());
        match File::create(&tmp) {
            Ok(file) => Ok(AtomicFile {
                path: path.to_path_buf(),
                tmp,
                sink: Sink(Arc::new(Mutex::new(BufWriter::new(file)))),
                committed: false,
                direct: false,
                deferred: false,
            }),
            Err(e) => {
                in_progress().retain(|p| *p != tmp);
                note_failed(path);
                Err(e).at(&tmp, "cannot create").at(path, "cannot write")
            }
        }
    }

    /// Flush, sync and rename into place (while an [`ExportSet`] is open: hand the
    /// complete file to it, which renames it with the others). Every other holder of the
    /// sink must be done writing.
    fn commit(mut self) -> Result<()> {
        if self.direct {
            // A pipe or a device: flushed, nothing to sync or rename.
            self.sink.lock().flush().at(&self.path, "cannot write")?;
            self.committed = true;
            return Ok(());
        }
        let synced = {
            let mut w = self.sink.lock();
            w.flush().and_then(|()| w.get_ref().sync_all())
        };
        synced.at(&self.path, "cannot write")?;
        {
            let mut set = export_set();
            if set.open {
                set.pending.push((self.tmp.clone(), self.path.clone()));
                self.committed = true;
                self.deferred = true;
                return Ok(());
            }
        }
        std::fs::rename(&self.tmp, &self.path)
            .at(&self.path, "cannot move the finished file into place")?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.direct || self.deferred {
            return;
        }
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
            note_failed(&self.path);
        }
        in_progress().retain(|p| *p != self.tmp);
    }
}

/// The state of the run's [`ExportSet`].
struct SetState {
    open: bool,
    /// Complete temporary files and their targets, in the order they were finished.
    pending: Vec<(PathBuf, PathBuf)>,
    /// Exports of the set that failed (their temporary files are gone).
    failed: Vec<PathBuf>,
    /// Folders made for the set's files (partitions), parents first.
    dirs: Vec<PathBuf>,
    /// The renames were done.
    committed: bool,
}

static EXPORT_SET: Mutex<SetState> = Mutex::new(SetState {
    open: false,
    pending: Vec::new(),
    failed: Vec::new(),
    dirs: Vec::new(),
    committed: false,
});

fn export_set() -> MutexGuard<'static, SetState> {
    EXPORT_SET.lock().unwrap_or_else(|e| e.into_inner())
}

/// Held while a set's files are renamed into place, and by the interrupt handler
/// ([`hold_renames`]) before it removes temporary files and exits: a Ctrl-C or SIGTERM
/// during the renames waits until they are all done.
static RENAMING: Mutex<()> = Mutex::new(());

/// Wait for renames under way to end and keep new ones from starting (for the interrupt
/// handler, which then exits).
pub fn hold_renames() -> MutexGuard<'static, ()> {
    RENAMING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Set by the interrupt handler before it waits for [`hold_renames`], so that a run
/// ending at that moment lets the handler finish (and exit 130) instead of ending
/// normally first: a lock is not fair, the ending thread could take it again.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The interrupt handler is about to clean up and exit.
pub fn note_interrupt() {
    INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Whether [`note_interrupt`] was called.
pub fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Where the run's exports stood when it was interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetStage {
    /// No [`ExportSet`]: each export was renamed into place as it was finished.
    NoSet,
    /// Before the renames: every previous file is as it was.
    Before,
    /// After the renames: every export of the run is in place.
    Done,
}

/// See [`SetStage`] (call with [`hold_renames`] held).
pub fn set_stage() -> SetStage {
    let set = export_set();
    if set.committed {
        SetStage::Done
    } else if set.open {
        SetStage::Before
    } else {
        SetStage::NoSet
    }
}

/// The exports of one run as one set (issue 12): while it is open, every export is
/// written completely to its temporary file and kept there; [`commit_exports`] then
/// renames them all into place, back to back, with Ctrl-C and SIGTERM held off (the
/// interrupt handler waits on [`hold_renames`]), so an interrupt leaves either every
/// previous file or every new one. If any export of the set failed, none is renamed:
/// the temporary files are removed and the previous files stay as they were. Dropped
/// without a commit (an error, an early return), the same. FIFOs and devices are
/// written through as always (they cannot wait). A set is process-wide: one per run.
pub struct ExportSet(());

impl ExportSet {
    /// Open the run's set: from now on finished exports wait for [`commit_exports`].
    pub fn begin() -> ExportSet {
        let mut set = export_set();
        set.open = true;
        set.committed = false;
        set.pending.clear();
        set.failed.clear();
        set.dirs.clear();
        ExportSet(())
    }
}

impl Drop for ExportSet {
    fn drop(&mut self) {
        let _held = hold_renames();
        let mut set = export_set();
        if set.open && !set.committed {
            discard(&mut set);
        }
        set.open = false;
    }
}

/// Remove the set's complete temporary files and the folders made for them.
fn discard(set: &mut SetState) {
    let pending = std::mem::take(&mut set.pending);
    {
        let mut live = in_progress();
        for (tmp, _) in &pending {
            let _ = std::fs::remove_file(tmp);
            live.retain(|p| p != tmp);
        }
    }
    for d in std::mem::take(&mut set.dirs).iter().rev() {
        let _ = std::fs::remove_dir(d);
    }
}

/// An export of the open set (if any) failed: the set will replace nothing.
fn note_failed(path: &Path) {
    let mut set = export_set();
    if set.open {
        set.failed.push(path.to_path_buf());
    }
}

/// Folders made for an export while a set is open, so a discarded set removes them too.
fn note_dirs_made(dirs: &[PathBuf]) {
    let mut set = export_set();
    if set.open {
        set.dirs.extend(dirs.iter().cloned());
    }
}

/// Put the open set's exports in place (see [`ExportSet`]); nothing to do without one.
/// `Err` says what happened when not every export was put in place: none (an export
/// failed; the previous files are as they were), or all but the ones whose rename failed.
pub fn commit_exports() -> std::result::Result<(), String> {
    let _held = hold_renames();
    let mut set = export_set();
    if !set.open || set.committed {
        return Ok(());
    }
    if !set.failed.is_empty() {
        let n = set.failed.len() + set.pending.len();
        let failed = set.failed.len();
        discard(&mut set);
        set.committed = false;
        set.open = false;
        return Err(format!(
            "{failed} of the {n} exports failed (see above), so none was replaced: \
             every previous file is as it was"
        ));
    }
    let pending = std::mem::take(&mut set.pending);
    let mut errors = Vec::new();
    {
        let mut live = in_progress();
        for (tmp, path) in &pending {
            if let Err(e) = std::fs::rename(tmp, path) {
                let _ = std::fs::remove_file(tmp);
                errors.push(format!(
                    "{}: cannot move the finished file into place: {e}",
                    path.display()
                ));
            }
            live.retain(|p| p != tmp);
        }
    }
    set.dirs.clear();
    set.committed = true;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}; the other {} exports were replaced",
            errors.join("; "),
            pending.len() - errors.len()
        ))
    }
}

/// A table written batch by batch into a temporary file next to `path`, renamed into
/// place by [`TableWriter::finish`] (dropped unfinished: the temporary file is removed).
/// Batches must all have the same schema. The format comes from the extension, as in
/// [`write_table`], and the file is the one [`write_table_with`] writes for the
/// concatenated batches:
///
/// - CSV: one header, then each batch's rows (formula guard and time format per batch);
/// - Parquet: times as µs UTC, zstd; each batch is written at once, as row groups of at
///   most `PARQUET_ROW_GROUP` (65,536) rows. Nothing is held back between calls (a
///   held-back batch keeps alive the buffers its strings point into: the merge of a
///   spilled table peaked 30 MiB higher), so row groups follow the batches: a table
///   merged from disk has row groups of `table::spill::BATCH_ROWS` (32,768) rows;
/// - JSON: one array of objects; JSON Lines: each batch's lines appended.
///
/// A failed [`TableWriter::write`] removes the temporary file; the writer then refuses
/// further batches. Errors name the target (`<path>: cannot write`). Finishing without
/// any batch writes an empty table with no columns (CSV and JSON Lines: an empty file;
/// JSON: `[]`; Parquet: no columns, no rows).
pub struct TableWriter {
    path: PathBuf,
    format: TableFormat,
    guard: bool,
    /// `None` once a write failed (the temporary file is gone).
    file: Option<AtomicFile>,
    /// The first batch's schema, which every batch must have.
    schema: Option<SchemaRef>,
    body: Body,
}

/// What a [`TableWriter`] has written so far.
enum Body {
    /// No batch yet.
    Empty,
    // The polars writers are boxed: they are big (hundreds of bytes), and a
    // `TableWriter` is kept in enums and maps of writers.
    Csv(Box<CsvBatchedWriter<Sink>>),
    Parquet(Box<ParquetBody>),
    /// `[` written; `rows`: at least one row written (the next needs a comma).
    Json {
        rows: bool,
    },
    JsonLines,
}

/// A Parquet table being written.
struct ParquetBody {
    writer: ParquetBatchedWriter<Sink>,
}

impl TableWriter {
    /// Start writing `path` (format from its extension); `guard` turns on the CSV formula
    /// guard (see [`guard_formulas`]; other formats ignore it).
    pub fn create(path: &Path, guard: bool) -> Result<TableWriter> {
        let format = TableFormat::from_path(path)?;
        let file = AtomicFile::create(path)?;
        Ok(TableWriter {
            path: path.to_path_buf(),
            format,
            guard,
            file: Some(file),
            schema: None,
            body: Body::Empty,
        })
    }

    /// Append the rows of `batch`.
    pub fn write(&mut self, batch: &DataFrame) -> Result<()> {
        let Some(file) = &self.file else {
            return Err(Error::EarlierBatchFailed(self.path.clone()));
        };
        let sink = file.sink.clone();
        let result = self.write_batch(sink, batch);
        if result.is_err() {
            // Drop the polars writer (and its handle on the file), then the file.
            self.body = Body::Empty;
            self.file = None;
        }
        result.at(&self.path, "cannot write")
    }

    fn write_batch(&mut self, mut sink: Sink, batch: &DataFrame) -> Result<()> {
        match &self.schema {
            None => self.schema = Some(batch.schema().clone()),
            Some(first) if first != batch.schema() => {
                return Err(Error::SchemaChanged(format!(
                    "{:?} vs {:?}",
                    batch.schema(),
                    first
                )))
            }
            Some(_) => {}
        }
        match self.format {
            TableFormat::Csv => {
                let mut out = if self.guard {
                    guard_formulas(batch)?
                } else {
                    batch.clone()
                };
                out.align_chunks_par();
                if let Body::Empty = self.body {
                    let writer = CsvWriter::new(sink)
                        .include_header(true)
                        .with_datetime_format(Some(TEXT_TIME_FORMAT.into()))
                        .batched(out.schema())?;
                    self.body = Body::Csv(Box::new(writer));
                }
                let Body::Csv(writer) = &mut self.body else {
                    unreachable!("a CSV table has a CSV writer")
                };
                writer.write_batch(&out)?;
            }
            TableFormat::Parquet => {
                // Microseconds, not nanoseconds: Spark cannot read TIMESTAMP(NANOS)
                // ("Illegal Parquet type"), and captures rarely carry more than µs.
                let micros = anomalies_as_list(&datetimes_as_micros(batch)?)?;
                if let Body::Empty = self.body {
                    let writer = ParquetWriter::new(sink)
                        .with_compression(ParquetCompression::Zstd(None))
                        .with_key_value_metadata(Some(readable_arrow_schema(micros.schema())))
                        .batched(micros.schema())?;
                    self.body = Body::Parquet(Box::new(ParquetBody { writer }));
                }
                let Body::Parquet(parquet) = &mut self.body else {
                    unreachable!("a Parquet table has a Parquet writer")
                };
                let mut at = 0;
                while at < micros.height() {
                    let len = PARQUET_ROW_GROUP.min(micros.height() - at);
                    write_row_group(&mut parquet.writer, micros.slice(at as i64, len))?;
                    at += len;
                }
            }
            TableFormat::Json => {
                // JSON has no time type: write times as ISO 8601 UTC strings.
                let mut text = anomalies_as_list(&datetimes_as_text(batch)?)?;
                if let Body::Empty = self.body {
                    sink.write_all(b"[")?;
                    self.body = Body::Json { rows: false };
                }
                let Body::Json { rows } = &mut self.body else {
                    unreachable!("a JSON table has a JSON body")
                };
                // Each chunk as polars writes a frame (`[{..},{..}]`), without its
                // brackets, joined by commas: polars' own output for the whole table,
                // which is its chunks' rows joined by commas inside one pair of brackets.
                for mut chunk in text.split_chunks().filter(|c| c.height() > 0) {
                    if *rows {
                        sink.write_all(b",")?;
                    }
                    let mut inner = ArrayBody::new(&mut sink);
                    JsonWriter::new(&mut inner)
                        .with_json_format(JsonFormat::Json)
                        .finish(&mut chunk)?;
                    inner.end()?;
                    *rows = true;
                }
            }
            TableFormat::JsonLines => {
                let mut text = anomalies_as_list(&datetimes_as_text(batch)?)?;
                self.body = Body::JsonLines;
                // Chunk by chunk, empty ones skipped: polars stops a frame's output at
                // its first empty chunk.
                for mut chunk in text.split_chunks().filter(|c| c.height() > 0) {
                    JsonWriter::new(&mut sink)
                        .with_json_format(JsonFormat::JsonLines)
                        .finish(&mut chunk)?;
                }
            }
        }
        Ok(())
    }

    /// Write what remains (the Parquet footer, the closing `]`), sync, and rename the
    /// file into place.
    pub fn finish(self) -> Result<()> {
        let TableWriter {
            path,
            format,
            file,
            body,
            ..
        } = self;
        let Some(file) = file else {
            return Err(Error::EarlierBatchFailed(path));
        };
        let mut sink = file.sink.clone();
        let ended = (|| -> Result<()> {
            match body {
                Body::Empty => match format {
                    TableFormat::Csv | TableFormat::JsonLines => {}
                    TableFormat::Json => sink.write_all(b"[]")?,
                    TableFormat::Parquet => {
                        ParquetWriter::new(sink)
                            .with_compression(ParquetCompression::Zstd(None))
                            .batched(&Schema::default())?
                            .finish()?;
                    }
                },
                Body::Csv(mut writer) => writer.finish()?,
                Body::Parquet(parquet) => {
                    parquet.writer.finish()?;
                }
                Body::Json { .. } => sink.write_all(b"]")?,
                Body::JsonLines => {}
            }
            Ok(())
        })();
        ended.at(&path, "cannot write")?;
        file.commit()
    }
}

/// Write `group` (at most [`PARQUET_ROW_GROUP`] rows) as one row group: polars writes a
/// row group per chunk, so the group is made one chunk first.
fn write_row_group(writer: &mut ParquetBatchedWriter<Sink>, mut group: DataFrame) -> Result<()> {
    if group.height() > 0 {
        group.rechunk_mut_par();
        writer.write_batch(&group)?;
    }
    Ok(())
}

/// Passes on a JSON array without its brackets: drops the first byte (`[`) and holds
/// back the last one (`]`), checked by [`ArrayBody::end`].
struct ArrayBody<'a, W: Write> {
    out: &'a mut W,
    opened: bool,
    last: Option<u8>,
}

impl<'a, W: Write> ArrayBody<'a, W> {
    fn new(out: &'a mut W) -> Self {
        ArrayBody {
            out,
            opened: false,
            last: None,
        }
    }

    fn end(self) -> Result<()> {
        if !self.opened || self.last != Some(b']') {
            return Err(Error::NotAJsonArray);
        }
        Ok(())
    }
}

impl<W: Write> Write for ArrayBody<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut bytes = buf;
        if !self.opened {
            let Some((&first, rest)) = bytes.split_first() else {
                return Ok(0);
            };
            if first != b'[' {
                return Err(std::io::Error::other("a JSON array must start with ["));
            }
            self.opened = true;
            bytes = rest;
        }
        if let Some((&last, init)) = bytes.split_last() {
            if let Some(held) = self.last.replace(last) {
                self.out.write_all(&[held])?;
            }
            self.out.write_all(init)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// How `--partition-by` splits a session table into a hive-style dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Partition {
    /// `date=YYYY-MM-DD/` from the session's start time (UTC).
    Date,
    /// `date=YYYY-MM-DD/hour=HH/`.
    Hour,
}

impl Partition {
    /// The `strftime` format of a partition's directory.
    fn format(self) -> &'static str {
        match self {
            Partition::Date => "date=%Y-%m-%d",
            Partition::Hour => "date=%Y-%m-%d/hour=%H",
        }
    }
}

/// Write `df` as hive-style partitioned Parquet under `dir`: one file per partition,
/// `dir/date=2026-11-22/[hour=07/]part-<tag>.parquet`, partitioned by `start_time`
/// (UTC). `tag` names this run's files so that several capture points (or nights) can
/// write into one dataset without overwriting each other; the same tag overwrites the
/// same files. Each file is written atomically. Returns the files written, sorted. The
/// whole frame is one batch of a [`PartitionWriter`].
pub fn write_partitioned(
    df: &DataFrame,
    dir: &Path,
    by: Partition,
    tag: &str,
) -> Result<Vec<PathBuf>> {
    let mut w = PartitionWriter::new(dir, by, tag);
    w.write(df)?;
    w.finish()
}

/// The most partition files a [`PartitionWriter`] keeps open at once.
pub const MAX_OPEN_PARTITIONS: usize = 64;

/// The column a batch is split on (added, then dropped before writing).
const PARTITION_COLUMN: &str = "__partition";

/// Hive-style partitioned Parquet written batch by batch (the layout and file names of
/// [`write_partitioned`]): each batch is split by `start_time` and each part appended
/// to its partition's open [`TableWriter`]. Batches may come in any order and a
/// partition may come back after others (several captures concatenated): its rows go
/// to the file still open for it. At most [`MAX_OPEN_PARTITIONS`] files are open: a
/// partition needing a file beyond that finishes (renames into place) the one written
/// least recently, and if that partition comes back its rows go to a new file,
/// `part-<tag>-1.parquet`, then `-2`, ... (deterministic for the same batches). Rows
/// come back from the partition's files in the order written.
///
/// A writer that fails (or is dropped unfinished) removes its unfinished files and the
/// folders it made that are left empty (`date=…/hour=…/`, and `dir` itself if it made
/// it), so a failed export leaves no empty partitions behind.
pub struct PartitionWriter {
    dir: PathBuf,
    by: Partition,
    tag: String,
    open: HashMap<String, OpenPartition>,
    /// Files started so far, by partition key.
    started: HashMap<String, usize>,
    /// Files finished.
    written: Vec<PathBuf>,
    /// Counts writes, to find the least recently written partition.
    clock: u64,
    /// Folders this writer made, parents first.
    made: Vec<PathBuf>,
    /// Finished without error: nothing to clean up.
    done: bool,
}

struct OpenPartition {
    writer: TableWriter,
    path: PathBuf,
    last_write: u64,
}

impl PartitionWriter {
    /// Write partitions under `dir` (created as needed), files named after `tag`.
    pub fn new(dir: &Path, by: Partition, tag: &str) -> PartitionWriter {
        PartitionWriter {
            dir: dir.to_path_buf(),
            by,
            tag: tag.to_string(),
            open: HashMap::new(),
            started: HashMap::new(),
            written: Vec::new(),
            clock: 0,
            made: Vec::new(),
            done: false,
        }
    }

    /// Append the rows of `batch` to their partitions.
    pub fn write(&mut self, batch: &DataFrame) -> Result<()> {
        if batch.height() == 0 {
            return Ok(());
        }
        let keyed = batch
            .clone()
            .lazy()
            .with_column(
                col("start_time")
                    .dt()
                    .strftime(self.by.format())
                    .fill_null(lit("date=unknown"))
                    .alias(PARTITION_COLUMN),
            )
            .collect()?;
        for part in keyed.partition_by_stable([PARTITION_COLUMN], true)? {
            let key = part
                .column(PARTITION_COLUMN)?
                .as_materialized_series()
                .str()?
                .get(0)
                .unwrap_or("date=unknown")
                .to_string();
            let part = part.drop(PARTITION_COLUMN)?;
            self.clock += 1;
            if !self.open.contains_key(&key) {
                self.open_partition(&key)?;
            }
            let open = self
                .open
                .get_mut(&key)
                .expect("the partition was just opened");
            open.last_write = self.clock;
            open.writer.write(&part)?;
        }
        Ok(())
    }

    /// Open the next file of partition `key`, first finishing the least recently written
    /// file if [`MAX_OPEN_PARTITIONS`] are open.
    fn open_partition(&mut self, key: &str) -> Result<()> {
        if self.open.len() >= MAX_OPEN_PARTITIONS {
            let oldest = self
                .open
                .iter()
                .min_by_key(|(_, p)| p.last_write)
                .map(|(k, _)| k.clone())
                .expect("partitions are open");
            let done = self.open.remove(&oldest).expect("the key is open");
            done.writer.finish()?;
            self.written.push(done.path);
        }
        let sub = self.dir.join(key);
        let mut missing: Vec<PathBuf> = sub
            .ancestors()
            .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
            .map(Path::to_path_buf)
            .collect();
        missing.reverse();
        let made = std::fs::create_dir_all(&sub);
        // Even after a failure some of them may exist now: made by us.
        let ours: Vec<PathBuf> = missing.into_iter().filter(|d| d.is_dir()).collect();
        note_dirs_made(&ours);
        self.made.extend(ours);
        made.at(&sub, "cannot create")?;
        let n = self.started.entry(key.to_string()).or_insert(0);
        let name = match *n {
            0 => format!("part-{}.parquet", self.tag),
            k => format!("part-{}-{k}.parquet", self.tag),
        };
        *n += 1;
        let path = sub.join(name);
        let writer = TableWriter::create(&path, true)?;
        self.open.insert(
            key.to_string(),
            OpenPartition {
                writer,
                path,
                last_write: self.clock,
            },
        );
        Ok(())
    }

    /// Finish every open file; returns all the files written, sorted by path. On an
    /// error the files not yet finished are removed, and the folders left empty.
    pub fn finish(mut self) -> Result<Vec<PathBuf>> {
        let result = self.finish_all();
        self.done = result.is_ok();
        result
    }

    fn finish_all(&mut self) -> Result<Vec<PathBuf>> {
        let mut open: Vec<(String, OpenPartition)> = self.open.drain().collect();
        open.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, p) in open {
            p.writer.finish()?;
            self.written.push(p.path);
        }
        let mut written = std::mem::take(&mut self.written);
        written.sort();
        remove_stale_parts(&written, &self.tag)?;
        Ok(written)
    }
}

impl Drop for PartitionWriter {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // The unfinished files first (their writers remove them), then the folders
        // that are empty now, deepest first.
        self.open.clear();
        for d in self.made.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// In every folder this run wrote to, remove the files of an earlier run with the same
/// tag (same inputs) that this run did not write again: `part-<tag>-<k>.parquet` files
/// that run needed to reopen a partition. Otherwise re-running over the same captures
/// would count those rows twice. Files of other tags are never touched.
fn remove_stale_parts(written: &[PathBuf], tag: &str) -> Result<()> {
    let prefix = format!("part-{tag}-");
    let mut dirs: Vec<&Path> = written.iter().filter_map(|p| p.parent()).collect();
    dirs.dedup();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            let ours = name
                .strip_prefix(&prefix)
                .and_then(|rest| rest.strip_suffix(".parquet"))
                .is_some_and(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()));
            if ours && !written.contains(&p) {
                std::fs::remove_file(&p).at(&p, "cannot remove an earlier run's file")?;
            }
        }
    }
    Ok(())
}

/// The frame with every datetime column in microseconds (time zone kept).
pub fn datetimes_as_micros(df: &DataFrame) -> PolarsResult<DataFrame> {
    let exprs: Vec<Expr> = df
        .schema()
        .iter()
        .map(|(name, dt)| match dt {
            DataType::Datetime(_, tz) => col(name.clone())
                .cast(DataType::Datetime(TimeUnit::Microseconds, tz.clone()))
                .alias(name.clone()),
            _ => col(name.clone()),
        })
        .collect();
    df.clone().lazy().select(exprs).collect()
}

/// The frame with every datetime column turned into ISO 8601 UTC text.
pub fn datetimes_as_text(df: &DataFrame) -> PolarsResult<DataFrame> {
    let exprs: Vec<Expr> = df
        .schema()
        .iter()
        .map(|(name, dt)| match dt {
            DataType::Datetime(_, _) => col(name.clone())
                .dt()
                .strftime(TEXT_TIME_FORMAT)
                .alias(name.clone()),
            _ => col(name.clone()),
        })
        .collect();
    df.clone().lazy().select(exprs).collect()
}

/// Write `text` to `path` atomically (temporary file next to it, then rename), like the
/// table exports: a report that exists is whole, and an interrupt leaves none behind.
pub fn write_text_atomic(path: &Path, text: &str) -> Result<()> {
    let file = AtomicFile::create(path)?;
    let written = file.sink.clone().write_all(text.as_bytes());
    written.at(path, "cannot write")?;
    file.commit()
}

/// The frame with the `anomalies` column (the session table's `;`-joined names) as a
/// list of names, for the formats that have lists (Parquet, JSON); CSV keeps the joined
/// string. No anomaly is an empty list; null stays null. Frames without the column are
/// returned as they are.
pub fn anomalies_as_list(df: &DataFrame) -> PolarsResult<DataFrame> {
    let Some(c) = df
        .column("anomalies")
        .ok()
        .filter(|c| c.dtype() == &DataType::String)
    else {
        return Ok(df.clone());
    };
    let names = c.str()?;
    let mut builder = ListStringChunkedBuilder::new("anomalies".into(), names.len(), names.len());
    for v in names.iter() {
        match v {
            None => builder.append_null(),
            Some(s) => builder.append_values_iter(s.split(';').filter(|n| !n.is_empty())),
        }
    }
    let mut out = df.clone();
    out.with_column(builder.finish().into_column())?;
    Ok(out)
}

/// The Arrow schema a Parquet file carries for Arrow readers (`ARROW:schema`), with
/// strings as `large_string` and no `string_view`: polars writes its own view types
/// there, which pyarrow before 15 ("Unrecognized type: 24"), Spark and older Trino
/// cannot read. The pages are the same either way (Parquet's BYTE_ARRAY with the String
/// logical type); only the hint to Arrow readers changes.
pub(crate) fn readable_arrow_schema(schema: &Schema) -> KeyValueMetadata {
    let arrow = schema.to_arrow(CompatLevel::oldest());
    KeyValueMetadata::Static(vec![polars_parquet::write::schema_to_metadata_key(&arrow)])
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use polars_io::parquet::read::ParquetReader;
    use polars_io::SerReader;

    use super::*;

    /// Issue 12: a guarded CSV carries no raw control or bidi characters from the wire
    /// (`ESC ] 0 ; pwned BEL` would set a terminal's title when the file is `cat`-ed; a
    /// bare CR hides what precedes it; U+202E reorders a name); tab and line feed stay,
    /// quoted. `--csv-raw` writes the bytes as they are.
    #[test]
    fn guarded_csv_cells_escape_control_and_bidi_characters() {
        let reasons = [
            Some("\x1b]0;pwned\x07 bye"),
            Some("a\0b"),
            Some("shown\rhidden"),
            Some("invoice \u{202e}fdp.exe"),
            Some("tab\there\nand a line"),
            Some("\x1b[2J=cmd"),
            None,
        ];
        let df = DataFrame::new(
            reasons.len(),
            vec![Column::new("close_reason".into(), reasons.to_vec())],
        )
        .unwrap();
        let dir = std::env::temp_dir().join(format!("wsaudit-csv-escape-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (guarded, raw) = (dir.join("g.csv"), dir.join("r.csv"));
        write_table_with(&mut df.clone(), &guarded, true).unwrap();
        write_table_with(&mut df.clone(), &raw, false).unwrap();
        let g = std::fs::read_to_string(&guarded).unwrap();
        let r = std::fs::read_to_string(&raw).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        for bad in ['\x1b', '\x07', '\0', '\r', '\u{202e}'] {
            assert!(!g.contains(bad), "{bad:?} in the guarded CSV:\n{g}");
            assert!(r.contains(bad), "{bad:?} kept with --csv-raw");
        }
        for want in [
            "\\x1b]0;pwned\\x07 bye",
            "a\\x00b",
            "shown\\x0dhidden",
            "invoice \\u{202e}fdp.exe",
            "\"tab\there\nand a line\"",
            "\\x1b[2J=cmd",
        ] {
            assert!(g.contains(want), "no {want:?} in:\n{g}");
        }
    }
    use crate::table::columns::{shared_str_col, strs, utc_ns};

    /// The column transforms the writer makes before polars writes a table, done again
    /// cell by cell in plain Rust: the oracle below calls these, never the writer's own
    /// [`guard_formulas`], [`datetimes_as_micros`] or [`datetimes_as_text`] (polars
    /// expressions), so a bug in one of those shows as a difference.
    mod by_hand {
        use polars::prelude::*;

        /// Every frame the tests write has its times in UTC, after the epoch.
        fn utc(tz: &Option<TimeZone>) {
            assert!(
                tz.is_none() || *tz == Some(TimeZone::UTC),
                "the oracle knows UTC only, not {tz:?}"
            );
        }

        /// A datetime column's values in ns since the epoch.
        fn nanos(c: &Column, unit: TimeUnit) -> Vec<Option<i64>> {
            let per = match unit {
                TimeUnit::Nanoseconds => 1,
                TimeUnit::Microseconds => 1_000,
                TimeUnit::Milliseconds => 1_000_000,
            };
            let phys = c.as_materialized_series().to_physical_repr().into_owned();
            let ca = phys.i64().unwrap();
            (0..ca.len()).map(|i| ca.get(i).map(|v| v * per)).collect()
        }

        fn with_columns(df: &DataFrame, f: impl Fn(&Column) -> Column) -> DataFrame {
            DataFrame::new(df.height(), df.columns().iter().map(f).collect()).unwrap()
        }

        /// OWASP's CSV injection rule: a text cell starting with `=`, `+`, `-`, `@`, a
        /// tab or a carriage return gets a `'` in front; other cells and types stay.
        pub fn guard(df: &DataFrame) -> DataFrame {
            with_columns(df, |c| {
                if c.dtype() != &DataType::String {
                    return c.clone();
                }
                let ca = c.str().unwrap();
                // Control and bidi characters escaped first (written out by hand here:
                // ESC -> `\x1b`; tab and line feed kept), then the formula rule.
                let escape = |s: &str| -> String {
                    let mut out = String::new();
                    for ch in s.chars() {
                        let bidi = matches!(ch, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
                        if (ch.is_control() && ch != '\t' && ch != '\n') || bidi {
                            let v = ch as u32;
                            if v < 0x100 {
                                out.push_str(&format!("\\x{v:02x}"));
                            } else {
                                out.push_str(&format!("\\u{{{v:x}}}"));
                            }
                        } else {
                            out.push(ch);
                        }
                    }
                    out
                };
                let cells: Vec<Option<String>> = (0..ca.len())
                    .map(|i| ca.get(i))
                    .map(|v| {
                        v.map(escape).map(|s| match s.chars().next() {
                            Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
                            _ => s,
                        })
                    })
                    .collect();
                Column::new(c.name().clone(), cells)
            })
        }

        /// Every datetime column in microseconds (whole µs: the tests' times are after
        /// the epoch, so dividing rounds down), time zone kept.
        /// `anomalies` as a list: `a;b` -> [a, b], `` -> [], null -> null.
        pub fn anomaly_list(df: &DataFrame) -> DataFrame {
            with_columns(df, |c| {
                if c.name().as_str() != "anomalies" || c.dtype() != &DataType::String {
                    return c.clone();
                }
                let ca = c.str().unwrap();
                let rows: Vec<Option<Series>> = ca
                    .iter()
                    .map(|v| {
                        v.map(|s| {
                            let names: Vec<&str> = if s.is_empty() {
                                Vec::new()
                            } else {
                                s.split(';').collect()
                            };
                            Series::new("".into(), names)
                        })
                    })
                    .collect();
                let list: ListChunked = rows.into_iter().collect();
                list.with_name("anomalies".into())
                    .cast(&DataType::List(Box::new(DataType::String)))
                    .unwrap()
                    .into_column()
            })
        }

        pub fn micros(df: &DataFrame) -> DataFrame {
            with_columns(df, |c| {
                let DataType::Datetime(unit, tz) = c.dtype() else {
                    return c.clone();
                };
                utc(tz);
                let us: Vec<Option<i64>> = nanos(c, *unit)
                    .into_iter()
                    .map(|v| v.map(|ns| ns / 1_000))
                    .collect();
                // Int64 to Datetime keeps the number: it is read as µs.
                Column::new(c.name().clone(), us)
                    .cast(&DataType::Datetime(TimeUnit::Microseconds, tz.clone()))
                    .unwrap()
            })
        }

        /// Every datetime column as RFC 3339 text in UTC with nanoseconds and a `Z`
        /// (`2026-11-22T00:00:00.000000000Z`), by chrono.
        pub fn text(df: &DataFrame) -> DataFrame {
            with_columns(df, |c| {
                let DataType::Datetime(unit, tz) = c.dtype() else {
                    return c.clone();
                };
                utc(tz);
                let cells: Vec<Option<String>> = nanos(c, *unit)
                    .into_iter()
                    .map(|v| {
                        v.map(|ns| {
                            chrono::DateTime::from_timestamp(
                                ns.div_euclid(1_000_000_000),
                                ns.rem_euclid(1_000_000_000) as u32,
                            )
                            .unwrap()
                            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
                        })
                    })
                    .collect();
                Column::new(c.name().clone(), cells)
            })
        }

        #[test]
        fn the_oracle_transforms_cells_as_specified() {
            let t = Column::new("t".into(), [Some(1_795_305_600_123_456_789i64), None])
                .cast(&DataType::Datetime(
                    TimeUnit::Nanoseconds,
                    Some(TimeZone::UTC),
                ))
                .unwrap();
            let s = Column::new("s".into(), [Some("=1"), Some("a=1")]);
            let df = DataFrame::new(2, vec![t, s]).unwrap();
            let g = guard(&df);
            let g = g.column("s").unwrap().str().unwrap();
            assert_eq!(g.get(0), Some("'=1"));
            assert_eq!(g.get(1), Some("a=1"));
            let m = micros(&df);
            let m = m.column("t").unwrap().as_materialized_series();
            assert_eq!(
                m.dtype(),
                &DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
            );
            let m = m.to_physical_repr().into_owned();
            assert_eq!(m.i64().unwrap().get(0), Some(1_795_305_600_123_456));
            let x = text(&df);
            let x = x.column("t").unwrap().str().unwrap();
            assert_eq!(x.get(0), Some("2026-11-22T00:00:00.123456789Z"));
            assert_eq!(x.get(1), None);
        }
    }

    /// The writing logic before the batch writers, verbatim but for the output (a
    /// buffer, not an atomic file) and for the column transforms (done [`by_hand`]):
    /// what the one-batch output must equal.
    mod old {
        use super::super::{
            CsvWriter, JsonFormat, JsonWriter, ParquetCompression, ParquetWriter, Partition, Path,
            PathBuf, SerWriter, TableFormat, PARQUET_ROW_GROUP,
        };
        use super::by_hand;
        use polars::prelude::*;

        pub fn table(df: &DataFrame, format: TableFormat, guard: bool) -> Vec<u8> {
            let mut df = df.clone();
            let df = &mut df;
            let mut out: Vec<u8> = Vec::new();
            let w = &mut out;
            match format {
                TableFormat::Csv => {
                    let mut guarded;
                    let out = if guard {
                        guarded = by_hand::guard(df);
                        &mut guarded
                    } else {
                        &mut *df
                    };
                    CsvWriter::new(&mut *w)
                        .include_header(true)
                        .with_datetime_format(Some("%Y-%m-%dT%H:%M:%S%.9fZ".into()))
                        .finish(out)
                        .unwrap();
                }
                TableFormat::Parquet => {
                    let mut micros = by_hand::anomaly_list(&by_hand::micros(df));
                    let meta = super::readable_arrow_schema(micros.schema());
                    ParquetWriter::new(&mut *w)
                        .with_compression(ParquetCompression::Zstd(None))
                        .with_row_group_size(Some(PARQUET_ROW_GROUP))
                        .with_key_value_metadata(Some(meta))
                        .finish(&mut micros)
                        .unwrap();
                }
                TableFormat::Json | TableFormat::JsonLines => {
                    let mut text = by_hand::anomaly_list(&by_hand::text(df));
                    let f = if format == TableFormat::Json {
                        JsonFormat::Json
                    } else {
                        JsonFormat::JsonLines
                    };
                    JsonWriter::new(&mut *w)
                        .with_json_format(f)
                        .finish(&mut text)
                        .unwrap();
                }
            }
            out
        }

        pub fn partitioned(df: &DataFrame, dir: &Path, by: Partition, tag: &str) -> Vec<PathBuf> {
            let fmt = match by {
                Partition::Date => "date=%Y-%m-%d",
                Partition::Hour => "date=%Y-%m-%d/hour=%H",
            };
            let keyed = df
                .clone()
                .lazy()
                .with_column(
                    col("start_time")
                        .dt()
                        .strftime(fmt)
                        .fill_null(lit("date=unknown"))
                        .alias("__partition"),
                )
                .collect()
                .unwrap();
            let mut written = Vec::new();
            for part in keyed.partition_by_stable(["__partition"], true).unwrap() {
                let key = part
                    .column("__partition")
                    .unwrap()
                    .as_materialized_series()
                    .str()
                    .unwrap()
                    .get(0)
                    .unwrap_or("date=unknown")
                    .to_string();
                let part = part.drop("__partition").unwrap();
                let sub = dir.join(&key);
                std::fs::create_dir_all(&sub).unwrap();
                let path = sub.join(format!("part-{tag}.parquet"));
                std::fs::write(&path, table(&part, TableFormat::Parquet, true)).unwrap();
                written.push(path);
            }
            written
        }
    }

    /// 2026-11-22T00:00:00Z in ns.
    const DAY_NS: i64 = 1_795_305_600 * 1_000_000_000;
    const HOUR_NS: i64 = 3_600 * 1_000_000_000;

    /// A table like the session table: integers, codes, text that needs quoting or the
    /// formula guard, shared strings, floats, booleans and UTC times with ns, nulls in
    /// most columns. `start(i)` gives row i's start time.
    fn table_with(n: usize, start: impl Fn(usize) -> Option<i64>) -> DataFrame {
        let texts = [
            "going away",
            "=HYPERLINK(\"http://x\")",
            "+1",
            "-2",
            "@SUM(A1)",
            "\tindented",
            "\rreturn",
            "a,b",
            "quote \" inside",
            "line\nbreak",
            "é ü 日本",
            "",
        ];
        let agents = [
            "Mozilla/5.0 (X11; Linux x86_64) a long user agent",
            "curl/8",
        ];
        let id: Vec<u64> = (0..n as u64).collect();
        let code: Vec<Option<u16>> = (0..n)
            .map(|i| (i % 7 != 0).then_some(1000 + (i % 20) as u16))
            .collect();
        let reason: Vec<Option<&str>> = (0..n)
            .map(|i| (i % 11 != 0).then_some(texts[i % texts.len()]))
            .collect();
        let ua = shared_str_col(
            "user_agent",
            (0..n).map(|i| (i % 5 != 0).then_some(agents[i % 2])),
        )
        .unwrap();
        let starts: Vec<Option<i64>> = (0..n).map(&start).collect();
        let ends: Vec<Option<i64>> = starts
            .iter()
            .enumerate()
            .map(|(i, s)| s.filter(|_| i % 4 != 0).map(|s| s + 987_654_321))
            .collect();
        let secs: Vec<f64> = (0..n).map(|i| i as f64 * 0.125 / 3.0).collect();
        let echoed: Vec<Option<bool>> =
            (0..n).map(|i| (i % 9 != 0).then_some(i % 3 == 0)).collect();
        let columns = vec![
            Column::new("session_id".into(), id),
            Column::new("close_code".into(), code),
            Column::new("close_reason".into(), reason),
            ua,
            Column::new("start_time".into(), starts)
                .cast(&utc_ns())
                .unwrap(),
            Column::new("end_time".into(), ends)
                .cast(&utc_ns())
                .unwrap(),
            Column::new("duration_s".into(), secs),
            Column::new("echoed".into(), echoed),
        ];
        DataFrame::new(n, columns).unwrap()
    }

    fn table(n: usize) -> DataFrame {
        table_with(n, |i| {
            (i % 13 != 0).then_some(DAY_NS + i as i64 * 1_234_567_891)
        })
    }

    /// `df` cut into batches of `sizes` rows, the rest in a last batch.
    fn batches(df: &DataFrame, sizes: &[usize]) -> Vec<DataFrame> {
        let mut out = Vec::new();
        let mut at = 0;
        for &n in sizes {
            out.push(df.slice(at as i64, n));
            at += n;
        }
        out.push(df.slice(at as i64, df.height() - at));
        out
    }

    /// The ways of cutting a table of `n` rows into batches that the tests try.
    fn cuttings(n: usize) -> Vec<Vec<usize>> {
        vec![
            vec![],
            vec![1, 5],
            vec![1, 0, 5],
            vec![0],
            vec![n / 3, 0, 0, 1, n / 2],
            vec![n],
        ]
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("wsaudit-write-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn write_batches(path: &Path, batches: &[DataFrame], guard: bool) -> Vec<u8> {
        let mut w = TableWriter::create(path, guard).unwrap();
        for b in batches {
            w.write(b).unwrap();
        }
        w.finish().unwrap();
        std::fs::read(path).unwrap()
    }

    fn read_parquet(path: &Path) -> DataFrame {
        ParquetReader::new(File::open(path).unwrap())
            .finish()
            .unwrap()
    }

    fn row_groups(path: &Path) -> Vec<usize> {
        ParquetReader::new(File::open(path).unwrap())
            .get_metadata()
            .unwrap()
            .row_groups
            .iter()
            .map(|rg| rg.num_rows())
            .collect()
    }

    fn same_frame(a: &DataFrame, b: &DataFrame) -> bool {
        a.schema() == b.schema() && a.equals_missing(b)
    }

    fn entries_under(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(entries_under(&p));
            } else {
                out.push(p);
            }
        }
        out.sort();
        out
    }

    #[test]
    fn text_tables_in_batches_are_the_bytes_of_the_whole_frame() {
        let dir = scratch("text");
        let df = table(3_000);
        // The same rows as a frame of several chunks, one of them empty.
        let mut chunky = df.slice(0, 1_000);
        chunky.vstack_mut(&df.slice(0, 0)).unwrap();
        chunky.vstack_mut(&df.slice(1_000, 2_000)).unwrap();
        assert!(chunky.first_col_n_chunks() > 1);
        for (name, format, guard) in [
            ("t.csv", TableFormat::Csv, true),
            ("raw.csv", TableFormat::Csv, false),
            ("t.json", TableFormat::Json, true),
            ("t.jsonl", TableFormat::JsonLines, true),
        ] {
            let path = dir.join(name);
            let want = old::table(&df, format, guard);
            let mut whole = df.clone();
            write_table_with(&mut whole, &path, guard).unwrap();
            let got = std::fs::read(&path).unwrap();
            assert!(got == want, "{name}: one batch differs from the old output");
            for sizes in cuttings(df.height()) {
                let got = write_batches(&path, &batches(&df, &sizes), guard);
                assert!(got == want, "{name}: batches {sizes:?} differ");
            }
            let got = write_batches(&path, &[chunky.clone()], guard);
            assert!(got == want, "{name}: a frame of several chunks differs");
            let got = write_batches(&path, &[df.slice(0, 7), chunky.slice(7, 2_993)], guard);
            assert!(got == want, "{name}: a batch of several chunks differs");
        }
        // The formula guard did its job and JSON is one array.
        let csv = String::from_utf8(std::fs::read(dir.join("t.csv")).unwrap()).unwrap();
        assert!(csv.contains("'=HYPERLINK") && !csv.contains(",=HYPERLINK"));
        let json = std::fs::read(dir.join("t.json")).unwrap();
        assert!(json.starts_with(b"[{") && json.ends_with(b"}]"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn empty_tables_are_written_as_before() {
        let dir = scratch("empty");
        let empty = table(0);
        for (name, format) in [
            ("e.csv", TableFormat::Csv),
            ("e.json", TableFormat::Json),
            ("e.jsonl", TableFormat::JsonLines),
        ] {
            let path = dir.join(name);
            let want = old::table(&empty, format, true);
            write_table(&mut empty.clone(), &path).unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), want, "{name}");
            let two = write_batches(&path, &[empty.clone(), empty.clone()], true);
            assert_eq!(two, want, "{name}: two empty batches");
        }
        let path = dir.join("e.parquet");
        let old_path = dir.join("old.parquet");
        std::fs::write(&old_path, old::table(&empty, TableFormat::Parquet, true)).unwrap();
        write_table(&mut empty.clone(), &path).unwrap();
        let got = read_parquet(&path);
        assert_eq!(got.height(), 0);
        assert!(same_frame(&got, &read_parquet(&old_path)));
        // No batch at all: a table with no columns.
        for (name, want) in [("n.csv", &b""[..]), ("n.json", b"[]"), ("n.jsonl", b"")] {
            assert_eq!(write_batches(&dir.join(name), &[], true), want, "{name}");
        }
        write_batches(&dir.join("n.parquet"), &[], true);
        assert_eq!(read_parquet(&dir.join("n.parquet")).shape(), (0, 0));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn parquet_in_batches_reads_back_as_the_whole_frame() {
        let dir = scratch("parquet");
        let n = 2 * PARQUET_ROW_GROUP + 10_000;
        let df = table(n);
        let path = dir.join("t.parquet");
        let old_path = dir.join("old.parquet");
        std::fs::write(&old_path, old::table(&df, TableFormat::Parquet, true)).unwrap();
        let want = read_parquet(&old_path);
        assert_eq!(
            want.schema().get("start_time"),
            Some(&DataType::Datetime(
                TimeUnit::Microseconds,
                Some(TimeZone::UTC)
            ))
        );
        write_table(&mut df.clone(), &path).unwrap();
        assert!(same_frame(&read_parquet(&path), &want), "one batch");
        let groups = vec![PARQUET_ROW_GROUP, PARQUET_ROW_GROUP, 10_000];
        assert_eq!(row_groups(&path), groups);
        let mut cuts = cuttings(n);
        cuts.push(vec![PARQUET_ROW_GROUP - 1, 2, 0, PARQUET_ROW_GROUP + 5]);
        cuts.push(vec![PARQUET_ROW_GROUP + 1]);
        // Row groups follow the batches: each batch cut at 65,536 rows.
        let expected_groups = |sizes: &[usize]| -> Vec<usize> {
            let mut left = n;
            let mut v = Vec::new();
            let mut sizes: Vec<usize> = sizes.to_vec();
            sizes.push(usize::MAX); // the rest
            for s in sizes {
                let mut b = s.min(left);
                left -= b;
                while b > 0 {
                    v.push(b.min(PARQUET_ROW_GROUP));
                    b -= b.min(PARQUET_ROW_GROUP);
                }
            }
            v
        };
        for sizes in cuts {
            let bs = batches(&df, &sizes);
            let heights: Vec<usize> = bs.iter().map(DataFrame::height).collect();
            write_batches(&path, &bs, true);
            assert!(same_frame(&read_parquet(&path), &want), "batches {sizes:?}");
            assert_eq!(
                row_groups(&path),
                expected_groups(&heights),
                "batches {sizes:?}"
            );
        }
        // Batches of many small chunks: one row group each.
        let small: Vec<DataFrame> = (0..n)
            .step_by(1_000)
            .map(|at| df.slice(at as i64, 1_000))
            .collect();
        write_batches(&path, &small, true);
        assert!(same_frame(&read_parquet(&path), &want), "small batches");
        assert!(
            row_groups(&path).iter().all(|g| *g <= 1_000),
            "small batches"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unfinished_or_failed_tables_leave_nothing() {
        let dir = scratch("atomic");
        let df = table(100);
        let path = dir.join("t.csv");
        let tmp = temp_path(&path);
        let mut w = TableWriter::create(&path, true).unwrap();
        w.write(&df).unwrap();
        assert!(tmp.exists() && in_progress().contains(&tmp));
        drop(w);
        assert!(!tmp.exists() && !path.exists() && !in_progress().contains(&tmp));

        // A batch with other columns fails, names the file and removes the temp file.
        for name in ["t.csv", "t.parquet", "t.json", "t.jsonl"] {
            let path = dir.join(name);
            let tmp = temp_path(&path);
            let mut w = TableWriter::create(&path, true).unwrap();
            w.write(&df).unwrap();
            let e = w.write(&df.drop("echoed").unwrap()).unwrap_err();
            assert!(
                format!("{e:#}").starts_with(&format!("{}: cannot write", path.display())),
                "{e:#}"
            );
            assert!(!tmp.exists() && !in_progress().contains(&tmp), "{name}");
            assert!(w.write(&df).is_err());
            assert!(w.finish().is_err());
            assert!(!path.exists(), "{name}");
        }

        // Finishing renames into place; the old file is replaced whole.
        std::fs::write(&path, "old").unwrap();
        let mut w = TableWriter::create(&path, true).unwrap();
        w.write(&df).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        w.finish().unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            old::table(&df, TableFormat::Csv, true)
        );
        assert!(!tmp.exists() && !in_progress().contains(&tmp));
        assert!(TableWriter::create(&dir.join("t.xlsx"), true).is_err());
        assert!(!temp_path(&dir.join("t.xlsx")).exists());

        write_text_atomic(&dir.join("r.md"), "# report\n").unwrap();
        assert_eq!(std::fs::read(dir.join("r.md")).unwrap(), b"# report\n");
        assert_eq!(entries_under(&dir).len(), 2, "no temp file left");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Every Parquet file under `dir`, by path relative to it, read back.
    fn dataset(dir: &Path) -> BTreeMap<PathBuf, DataFrame> {
        entries_under(dir)
            .into_iter()
            .map(|p| (p.strip_prefix(dir).unwrap().to_path_buf(), read_parquet(&p)))
            .collect()
    }

    /// Re-running over the same inputs (same tag) leaves no file of the earlier run
    /// that this one did not write again; other runs' files stay.
    #[test]
    fn a_rerun_removes_its_own_earlier_reopened_partition_files_only() {
        let df = table_with(10, |i| Some(DAY_NS + i as i64));
        let dir = scratch("stale-parts");
        let sub = dir.join("date=2026-11-22");
        std::fs::create_dir_all(&sub).unwrap();
        for name in ["part-t-1.parquet", "part-t-x.parquet", "part-u-1.parquet"] {
            std::fs::write(sub.join(name), b"old").unwrap();
        }
        let files = write_partitioned(&df, &dir, Partition::Date, "t").unwrap();
        assert_eq!(files, vec![sub.join("part-t.parquet")]);
        let mut left: Vec<String> = std::fs::read_dir(&sub)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["part-t-x.parquet", "part-t.parquet", "part-u-1.parquet"]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn partitions_are_written_as_before() {
        // Two days, a few hours each, some rows without a start time.
        let df = table_with(5_000, |i| {
            (i % 97 != 0).then_some(DAY_NS + (i % 7) as i64 * 5 * HOUR_NS + i as i64)
        });
        for by in [Partition::Date, Partition::Hour] {
            let dir = scratch(&format!("part-{by:?}"));
            let old_dir = scratch(&format!("part-old-{by:?}"));
            let mut want_files = old::partitioned(&df, &old_dir, by, "t");
            want_files.sort();
            let files = write_partitioned(&df, &dir, by, "t").unwrap();
            let rel = |files: &[PathBuf], d: &Path| -> Vec<PathBuf> {
                files
                    .iter()
                    .map(|p| p.strip_prefix(d).unwrap().to_path_buf())
                    .collect()
            };
            assert_eq!(rel(&files, &dir), rel(&want_files, &old_dir));
            let (got, want) = (dataset(&dir), dataset(&old_dir));
            assert_eq!(
                got.keys().collect::<Vec<_>>(),
                want.keys().collect::<Vec<_>>()
            );
            for (p, frame) in &got {
                assert!(same_frame(frame, &want[p]), "{}", p.display());
            }
            assert!(got.contains_key(Path::new("date=unknown/part-t.parquet")));
            // In batches: the same files, the same rows in the same order.
            let mut w = PartitionWriter::new(&dir, by, "t");
            for b in batches(&df, &[1, 0, 5, 700, 1_234]) {
                w.write(&b).unwrap();
            }
            assert_eq!(w.finish().unwrap(), files);
            for (p, frame) in &dataset(&dir) {
                assert!(same_frame(frame, &want[p]), "batches: {}", p.display());
            }
            assert!(write_partitioned(&df.clear(), &dir, by, "u")
                .unwrap()
                .is_empty());
            std::fs::remove_dir_all(&dir).unwrap();
            std::fs::remove_dir_all(&old_dir).unwrap();
        }
    }

    /// Rows for 70 hours (and rows without a start time), in three rounds as if three
    /// captures were concatenated, each hour briefly coming back after the next one.
    fn seventy_hours() -> DataFrame {
        let mut starts = Vec::new();
        for round in 0..3i64 {
            for h in 0..70i64 {
                for j in 0..3 {
                    starts.push(Some(DAY_NS + h * HOUR_NS + round * 1_000_000_000 + j));
                }
                if h > 0 {
                    starts.push(Some(DAY_NS + (h - 1) * HOUR_NS + 7));
                }
                if h % 10 == 0 {
                    starts.push(None);
                }
            }
        }
        table_with(starts.len(), |i| starts[i])
    }

    fn write_seventy_hours(dir: &Path, df: &DataFrame) -> (Vec<PathBuf>, usize) {
        let sizes = [1, 7, 0, 50, 13, 200];
        let mut cut = Vec::new();
        let (mut total, mut k) = (0, 0);
        while total + sizes[k % sizes.len()] < df.height() {
            cut.push(sizes[k % sizes.len()]);
            total += sizes[k % sizes.len()];
            k += 1;
        }
        let mut w = PartitionWriter::new(dir, Partition::Hour, "t");
        let mut most_open = 0;
        for b in batches(df, &cut) {
            w.write(&b).unwrap();
            let open = in_progress().iter().filter(|p| p.starts_with(dir)).count();
            most_open = most_open.max(open);
        }
        (w.finish().unwrap(), most_open)
    }

    #[test]
    fn a_failed_partition_writer_removes_the_folders_it_made() {
        let df = seventy_hours();
        let out = scratch("blocked");
        // DAY_NS is 2026-11-22 00:00 UTC (date -u -d @1795305600): the second day's
        // folder cannot be made, a file is in the way.
        std::fs::write(out.join("date=2026-11-23"), b"in the way").unwrap();
        let mut w = PartitionWriter::new(&out, Partition::Hour, "t");
        let err = w.write(&df);
        drop(w);
        assert!(err.is_err());
        // The first day's folders it made are gone; the file in the way stays.
        let left: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, vec!["date=2026-11-23".to_string()]);
        let _ = std::fs::remove_dir_all(&out);
    }

    #[test]
    fn partition_writer_keeps_at_most_64_files_open_and_loses_no_rows() {
        let df = seventy_hours();
        let dir = scratch("seventy");
        let (files, most_open) = write_seventy_hours(&dir, &df);
        assert_eq!(most_open, MAX_OPEN_PARTITIONS);
        // Every file written is returned, sorted, and no temp file is left.
        assert_eq!(files, entries_under(&dir));
        assert!(files.windows(2).all(|w| w[0] < w[1]));
        // Evicted hours came back in new files, numbered per hour.
        let names: Vec<String> = files
            .iter()
            .map(|p| p.strip_prefix(&dir).unwrap().display().to_string())
            .collect();
        assert!(names.contains(&"date=2026-11-22/hour=00/part-t.parquet".to_string()));
        assert!(names.contains(&"date=2026-11-22/hour=00/part-t-1.parquet".to_string()));
        assert!(names.contains(&"date=2026-11-22/hour=00/part-t-2.parquet".to_string()));
        assert!(names.contains(&"date=unknown/part-t.parquet".to_string()));
        assert!(names
            .iter()
            .all(|n| n.ends_with(".parquet") && !n.contains(".wsaudit-tmp")));
        let hours = names
            .iter()
            .filter(|n| n.ends_with("/part-t.parquet"))
            .count();
        assert_eq!(hours, 71, "70 hours and date=unknown");
        // Each file holds only its partition's rows, and together they are the input.
        let mut parts = Vec::new();
        for (rel, frame) in dataset(&dir) {
            let keys = frame
                .clone()
                .lazy()
                .select([col("start_time")
                    .dt()
                    .strftime(Partition::Hour.format())
                    .fill_null(lit("date=unknown"))])
                .collect()
                .unwrap();
            let key = rel.parent().unwrap().display().to_string();
            let keys = strs(&keys, "start_time").unwrap();
            assert!(frame.height() > 0 && keys.iter().all(|k| k.as_deref() == Some(&*key)));
            parts.push(frame);
        }
        let mut union = parts[0].clone();
        for p in &parts[1..] {
            union.vstack_mut(p).unwrap();
        }
        let sort = |df: &DataFrame| {
            df.sort(["session_id"], SortMultipleOptions::default())
                .unwrap()
        };
        let want = by_hand::micros(&df);
        assert!(same_frame(&sort(&union), &sort(&want)));
        // The same batches give the same files, with the same rows.
        let again = scratch("seventy-again");
        let (files_again, _) = write_seventy_hours(&again, &df);
        let rel = |files: &[PathBuf], d: &Path| -> Vec<PathBuf> {
            files
                .iter()
                .map(|p| p.strip_prefix(d).unwrap().to_path_buf())
                .collect()
        };
        assert_eq!(rel(&files, &dir), rel(&files_again, &again));
        let (a, b) = (dataset(&dir), dataset(&again));
        assert!(a.iter().all(|(p, f)| same_frame(f, &b[p])));
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&again).unwrap();
    }

    #[test]
    fn writers_can_move_to_another_thread() {
        fn send<T: Send>() {}
        send::<TableWriter>();
        send::<PartitionWriter>();
    }
}
