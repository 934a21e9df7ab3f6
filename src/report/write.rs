//! Tables out: CSV, Parquet, JSON (array of objects) or JSON Lines, chosen by extension.
//!
//! Contract: [`write_table`] writes the whole frame to a temporary file next to the
//! target and renames it into place, so an interrupted run never leaves a half-written
//! file that looks complete. Times are written as ISO 8601 UTC in text formats and as
//! `TIMESTAMP(NANOS, UTC)` in Parquet.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use polars::prelude::*;
use polars_io::csv::write::CsvWriter;
use polars_io::json::{JsonFormat, JsonWriter};
use polars_io::parquet::write::{ParquetCompression, ParquetWriter};
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
            _ => bail!(
                "{}: unknown table format (use .csv, .parquet, .json or .jsonl)",
                path.display()
            ),
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

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.wsaudit-tmp.{}", std::process::id()))
}

/// Write `df` to `path` in the format its extension names, atomically, with CSV cells
/// guarded against formula injection (see [`guard_formulas`]).
pub fn write_table(df: &mut DataFrame, path: &Path) -> Result<()> {
    write_table_with(df, path, true)
}

/// Text cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`,
/// `@`, tab or carriage return) get a leading `'`, as OWASP recommends for CSV
/// exports: a close reason or path from the wire must not become `=HYPERLINK(...)` in
/// someone's spreadsheet. Only text columns are touched; numbers stay numbers.
pub fn guard_formulas(df: &DataFrame) -> PolarsResult<DataFrame> {
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
/// default, was most of a 10 GiB capture's table encoded at once).
const PARQUET_ROW_GROUP: usize = 65_536;

/// [`write_table`], with the CSV formula guard optional (`--csv-raw` turns it off for
/// machine consumers).
pub fn write_table_with(df: &mut DataFrame, path: &Path, guard: bool) -> Result<()> {
    let format = TableFormat::from_path(path)?;
    write_atomic(path, |w| {
        match format {
            TableFormat::Csv => {
                let mut guarded;
                let out = if guard {
                    guarded = guard_formulas(df)?;
                    &mut guarded
                } else {
                    &mut *df
                };
                CsvWriter::new(&mut *w)
                    .include_header(true)
                    .with_datetime_format(Some("%Y-%m-%dT%H:%M:%S%.9fZ".into()))
                    .finish(out)?;
            }
            TableFormat::Parquet => {
                // Microseconds, not nanoseconds: Spark cannot read TIMESTAMP(NANOS)
                // ("Illegal Parquet type"), and captures rarely carry more than µs.
                let mut micros = datetimes_as_micros(df)?;
                ParquetWriter::new(&mut *w)
                    .with_compression(ParquetCompression::Zstd(None))
                    .with_row_group_size(Some(PARQUET_ROW_GROUP))
                    .finish(&mut micros)?;
            }
            TableFormat::Json | TableFormat::JsonLines => {
                // JSON has no time type: write times as ISO 8601 UTC strings.
                let mut text = datetimes_as_text(df)?;
                let f = if format == TableFormat::Json {
                    JsonFormat::Json
                } else {
                    JsonFormat::JsonLines
                };
                JsonWriter::new(&mut *w)
                    .with_json_format(f)
                    .finish(&mut text)?;
            }
        }
        Ok(())
    })
}

/// Write `path` atomically: `fill` writes into a temporary file next to it, which is
/// synced and renamed into place only when complete, removed on failure, and removed
/// by [`remove_temp_files`] on an interrupt. One mechanism for every file wsaudit writes.
fn write_atomic(path: &Path, fill: impl FnOnce(&mut BufWriter<File>) -> Result<()>) -> Result<()> {
    let tmp = temp_path(path);
    in_progress().push(tmp.clone());
    let result = (|| -> Result<()> {
        let file =
            File::create(&tmp).with_context(|| format!("{}: cannot create", tmp.display()))?;
        let mut w = BufWriter::new(file);
        fill(&mut w)?;
        w.flush()?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        Ok(())
    })();
    let outcome = match result {
        Ok(()) => std::fs::rename(&tmp, path).with_context(|| {
            format!(
                "{}: cannot move the finished file into place",
                path.display()
            )
        }),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e.context(format!("{}: cannot write", path.display())))
        }
    };
    in_progress().retain(|p| *p != tmp);
    outcome
}

/// How `--partition-by` splits a session table into a hive-style dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Partition {
    /// `date=YYYY-MM-DD/` from the session's start time (UTC).
    Date,
    /// `date=YYYY-MM-DD/hour=HH/`.
    Hour,
}

/// Write `df` as hive-style partitioned Parquet under `dir`: one file per partition,
/// `dir/date=2026-11-22/[hour=07/]part-<tag>.parquet`, partitioned by `start_time`
/// (UTC). `tag` names this run's files so that several capture points (or nights) can
/// write into one dataset without overwriting each other; the same tag overwrites the
/// same files. Each file is written atomically. Returns the files written.
pub fn write_partitioned(
    df: &DataFrame,
    dir: &Path,
    by: Partition,
    tag: &str,
) -> Result<Vec<PathBuf>> {
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
        .collect()?;
    let mut written = Vec::new();
    for part in keyed.partition_by_stable(["__partition"], true)? {
        let key = part
            .column("__partition")?
            .as_materialized_series()
            .str()?
            .get(0)
            .unwrap_or("date=unknown")
            .to_string();
        let mut part = part.drop("__partition")?;
        let sub = dir.join(&key);
        std::fs::create_dir_all(&sub)
            .with_context(|| format!("{}: cannot create", sub.display()))?;
        let path = sub.join(format!("part-{tag}.parquet"));
        write_table(&mut part, &path)?;
        written.push(path);
    }
    Ok(written)
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
                .strftime("%Y-%m-%dT%H:%M:%S%.9fZ")
                .alias(name.clone()),
            _ => col(name.clone()),
        })
        .collect();
    df.clone().lazy().select(exprs).collect()
}

/// Write `text` to `path` atomically (temporary file next to it, then rename), like the
/// table exports: a report that exists is whole, and an interrupt leaves none behind.
pub fn write_text_atomic(path: &Path, text: &str) -> Result<()> {
    write_atomic(path, |w| Ok(w.write_all(text.as_bytes())?))
}
