//! Session tables back in: what `wsaudit report` reads.
//!
//! Contract: the files come from [`crate::inputs`] (which finds them in folders and
//! globs). [`load`] reads each one (Parquet
//! eagerly, then lazily from there; CSV with every column read as text and converted),
//! tells session tables from refused-upgrade tables by their columns, brings each to the
//! documented schema (missing columns become nulls, types are cast, unknown columns are
//! dropped) and concatenates them. A file that cannot be read is reported and skipped.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use crate::table::error::Result;
use crate::text::with_causes;
use polars::prelude::*;
use polars_io::csv::read::CsvReadOptions;
use polars_io::json::{JsonFormat, JsonReader};
use polars_io::parquet::read::ParquetReader;
use polars_io::SerReader;

use crate::table::columns::{conform_to, shared_str_col, stable_hash, Kept};
use crate::table::session::{refused_frame, sessions_frame, REFUSED_COLUMNS};

/// The tables `wsaudit analyze` exports, told apart by their columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// `--sessions`: one row per session. What `report` and `--baseline` read.
    Sessions,
    /// `--refused`: one row per refused upgrade; `report` reads it beside the sessions.
    Refused,
    /// `--closes`: one row per Close frame.
    Closes,
    /// `--summary`: one row per close code (`--baseline` reads it as a compact night).
    Summary,
    /// `--reconnects`: one row per ended session with its reconnect.
    Reconnects,
}

impl TableKind {
    /// The kind of a wsaudit table with these columns, if it is one.
    pub fn of_columns(names: &[String]) -> Option<TableKind> {
        let has = |c: &str| names.iter().any(|n| n == c);
        Some(if has("next_session_id") && has("reconnect_delay_s") {
            TableKind::Reconnects
        } else if has("sender") && has("first_in_session") {
            TableKind::Closes
        } else if has("close_code_name") && has("sessions") && has("share") {
            TableKind::Summary
        } else if has("session_id") && has("ending") {
            TableKind::Sessions
        } else if has("status") && REFUSED_COLUMNS.iter().all(|c| has(c)) {
            TableKind::Refused
        } else {
            return None;
        })
    }

    /// The flag that writes it.
    pub fn flag(self) -> &'static str {
        match self {
            TableKind::Sessions => "--sessions",
            TableKind::Refused => "--refused",
            TableKind::Closes => "--closes",
            TableKind::Summary => "--summary",
            TableKind::Reconnects => "--reconnects",
        }
    }

    /// For people: `a closes table (--closes)`.
    pub fn describe(self) -> String {
        let what = match self {
            TableKind::Sessions => "session",
            TableKind::Refused => "refused-upgrade",
            TableKind::Closes => "closes",
            TableKind::Summary => "per-code summary",
            TableKind::Reconnects => "reconnects",
        };
        format!("a wsaudit {what} table ({})", self.flag())
    }
}

/// A table file as it is: Parquet, JSON (an array of objects), JSON Lines, or CSV with
/// every column read as text when `csv_as_text` (the documented types are applied by
/// [`load`]), else with the types polars infers. JSON types are inferred from every
/// row.
pub fn read_raw(path: &Path, csv_as_text: bool) -> Result<DataFrame> {
    read_raw_without(path, csv_as_text, &[])
}

/// [`read_raw`], a Parquet file without the columns `skip` (never decoded).
fn read_raw_without(path: &Path, csv_as_text: bool, skip: &[&str]) -> Result<DataFrame> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let json = |format: JsonFormat| -> Result<DataFrame> {
        Ok(JsonReader::new(File::open(path)?)
            .with_json_format(format)
            .infer_schema_len(None)
            .finish()?)
    };
    let df = match ext.as_str() {
        "csv" => CsvReadOptions::default()
            .with_has_header(true)
            // Read text as text; the documented types are applied in `load`.
            .with_infer_schema_length(if csv_as_text { Some(0) } else { Some(100) })
            .try_into_reader_with_file_path(Some(path.to_path_buf()))?
            .finish()?,
        "json" => json(JsonFormat::Json)?,
        "jsonl" | "ndjson" => json(JsonFormat::JsonLines)?,
        _ => {
            let mut reader = ParquetReader::new(File::open(path)?);
            if !skip.is_empty() {
                let names: Vec<String> = reader
                    .schema()?
                    .iter_names()
                    .filter(|n| !skip.contains(&n.as_str()))
                    .map(|n| n.to_string())
                    .collect();
                reader = reader.with_columns(Some(names));
            }
            reader.finish()?
        }
    };
    Ok(anomalies_as_text(df)?)
}

/// `anomalies` back to the session table's `;`-joined text when a file holds it as a
/// list (Parquet and JSON exports; CSV holds the text).
fn anomalies_as_text(mut df: DataFrame) -> PolarsResult<DataFrame> {
    let Some(c) = df.column("anomalies").ok() else {
        return Ok(df);
    };
    let DataType::List(_) = c.dtype() else {
        return Ok(df);
    };
    let list = c.list()?.clone();
    let joined: StringChunked = list
        .amortized_iter()
        .map(|row| {
            let row = row.map(|s| s.as_ref().clone());
            row.map(|names| {
                let names = names.cast(&DataType::String).unwrap_or(names);
                let parts: Vec<&str> = names
                    .str()
                    .map(|ca| ca.iter().flatten().collect())
                    .unwrap_or_default();
                parts.join(";")
            })
        })
        .collect();
    df.with_column(joined.with_name("anomalies".into()).into_column())?;
    Ok(df)
}

/// All session and refused-upgrade rows of `files`; problems per file.
pub struct Loaded {
    pub sessions: DataFrame,
    pub refused: DataFrame,
    /// (file, kind, rows kept)
    pub files: Vec<(PathBuf, TableKind, usize)>,
    /// Files that are wsaudit tables of another kind (not read).
    pub other: Vec<(PathBuf, TableKind)>,
    /// Files that could not be read, or are no wsaudit table: (file, why).
    pub problems: Vec<(PathBuf, String)>,
    /// Rows already read from an earlier file (same `capture` and `session_id`: the CSV
    /// and the Parquet of one run, or a copy), counted once: (file, rows, the file they
    /// were first read from).
    pub duplicates: Vec<(PathBuf, usize, PathBuf)>,
}

/// Read `files`: session tables and refused-upgrade tables are kept (a session read
/// twice, same `capture` and `session_id`, counted once); other wsaudit tables are
/// listed in [`Loaded::other`]; anything else is a problem.
pub fn load(files: &[PathBuf]) -> Result<Loaded> {
    load_with(files, None)
}

/// [`load`]; with `keep`, the session tables' columns it leaves out are null (not
/// decoded from Parquet): `wsaudit report` over a 350,000-session export held them all
/// (~100 MiB) when it writes no table.
pub fn load_with(files: &[PathBuf], keep: Option<&Kept>) -> Result<Loaded> {
    // Which kind a file is shows in its columns, so the refused-upgrade table's (which
    // it shares with the session table: `client_port`, `user_agent`) are always read.
    let not_decoded: Vec<&str> = keep
        .map(|k| k.nulled.iter().copied())
        .into_iter()
        .flatten()
        .filter(|c| !REFUSED_COLUMNS.contains(c))
        .collect();
    let session_tpl = sessions_frame(&[])?;
    let refused_tpl = refused_frame(&[])?;
    let mut sessions = session_tpl.clone();
    let mut refused = refused_tpl.clone();
    let mut out = Loaded {
        sessions: DataFrame::empty(),
        refused: DataFrame::empty(),
        files: Vec::new(),
        other: Vec::new(),
        problems: Vec::new(),
        duplicates: Vec::new(),
    };
    // (capture, session_id) -> index in `files` of the file that had it first.
    let mut seen = Seen::default();
    for f in files {
        let df = match read_raw_without(f, true, &not_decoded) {
            Ok(df) => df,
            Err(e) => {
                out.problems
                    .push((f.clone(), format!("cannot read table: {}", with_causes(&e))));
                continue;
            }
        };
        let names: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        let kind = match TableKind::of_columns(&names) {
            Some(k @ (TableKind::Sessions | TableKind::Refused)) => k,
            Some(other) => {
                out.other.push((f.clone(), other));
                continue;
            }
            None => {
                out.problems.push((
                    f.clone(),
                    "not a wsaudit table (no session_id/ending or status column)".into(),
                ));
                continue;
            }
        };
        let (tpl, acc) = match kind {
            TableKind::Sessions => (&session_tpl, &mut sessions),
            _ => (&refused_tpl, &mut refused),
        };
        let df = match conform_to(df, tpl) {
            Ok(df) => df,
            Err(e) => {
                out.problems.push((
                    f.clone(),
                    format!("columns do not have the documented types: {e}"),
                ));
                continue;
            }
        };
        // Hashed text (the WebSocket key) is hashed file by file, before the files are
        // stacked (11 MiB less at the peak on 350,000 sessions).
        let df = match (kind, keep) {
            (TableKind::Sessions, Some(k)) if !k.hashed.is_empty() => Kept {
                nulled: Vec::new(),
                ..k.clone()
            }
            .narrow(&df)?,
            _ => df,
        };
        let df = if kind == TableKind::Sessions {
            let index = out.files.len();
            let (df, dropped, first) = drop_seen(df, &mut seen, index)?;
            if dropped > 0 {
                out.duplicates
                    .push((f.clone(), dropped, out.files[first].0.clone()));
            }
            df
        } else {
            df
        };
        out.files.push((f.clone(), kind, df.height()));
        if acc.height() == 0 {
            // (The first rows as they are: stacking them on the empty template would
            // make a value per row of the columns left null.)
            *acc = df;
        } else {
            acc.vstack_mut(&df)?;
        }
    }
    drop(seen);
    sessions.rechunk_mut();
    // Repeated values stored once (a Parquet or CSV file gives each row its own copy
    // of the capture name, user agent, code name...: ~10 MiB on 350,000 sessions), one
    // column at a time; not the ids and keys, which are unique.
    let height = sessions.height();
    let columns = sessions
        .into_columns()
        .into_iter()
        .map(|c| match c.dtype() {
            DataType::String if !["session_id", "websocket_key"].contains(&c.name().as_str()) => {
                shared_str_col(c.name(), c.str()?.iter())
            }
            _ => Ok(c),
        })
        .collect::<PolarsResult<Vec<Column>>>()?;
    let sessions = DataFrame::new(height, columns)?;
    // As kept for the reports: left-out columns null, one-value columns once.
    let sessions = match keep {
        Some(k) => k.apply(sessions)?,
        None => sessions,
    };
    refused.rechunk_mut();
    out.sessions = sessions;
    out.refused = refused;
    Ok(out)
}

/// The sessions read so far, by (`capture`, `session_id`), with the file each came from
/// first. Keys are not copied: a key's hash points at the row that holds it (the tables
/// are kept), and rows whose hashes are equal are compared by value. (A map of owned
/// keys held ~60 MiB more while a 350,000-session export was read.)
#[derive(Default)]
struct Seen {
    /// Per session file: its `capture` and `session_id` columns, and its index among
    /// the files read.
    files: Vec<(StringChunked, StringChunked, usize)>,
    /// Hash -> (file, row) of the first key with that hash.
    first: HashMap<u64, (u32, u32)>,
    /// Other keys with a hash already in `first` (different values, the same hash).
    more: Vec<(u64, u32, u32)>,
}

impl Seen {
    fn key(&self, file: u32, row: u32) -> (Option<&str>, Option<&str>) {
        let (c, i, _) = &self.files[file as usize];
        (c.get(row as usize), i.get(row as usize))
    }

    /// The index of the file the key of (`file`, `row`) was first read from, or `None`
    /// after adding it as seen there.
    fn first_or_add(&mut self, file: u32, row: u32) -> Option<usize> {
        let key = self.key(file, row);
        let h = stable_hash(key);
        let Some(&(f, r)) = self.first.get(&h) else {
            self.first.insert(h, (file, row));
            return None;
        };
        if self.key(f, r) == key {
            return Some(self.files[f as usize].2);
        }
        if let Some(&(_, f, _)) = self
            .more
            .iter()
            .find(|&&(mh, f, r)| mh == h && self.key(f, r) == key)
        {
            return Some(self.files[f as usize].2);
        }
        self.more.push((h, file, row));
        None
    }
}

/// `df` without the sessions already in `seen` (by `capture` and `session_id`), the
/// number dropped, and the index of the file the first dropped one came from; the rest
/// are added to `seen` as coming from file `index`.
fn drop_seen(df: DataFrame, seen: &mut Seen, index: usize) -> Result<(DataFrame, usize, usize)> {
    let captures = df.column("capture")?.str()?.clone();
    let ids = df.column("session_id")?.str()?.clone();
    let file = seen.files.len() as u32;
    seen.files.push((captures, ids, index));
    let mut keep = Vec::with_capacity(df.height());
    let mut first = None;
    for row in 0..df.height() as u32 {
        match seen.first_or_add(file, row) {
            Some(j) => {
                first.get_or_insert(j);
                keep.push(false);
            }
            None => keep.push(true),
        }
    }
    let Some(first) = first else {
        return Ok((df, 0, 0));
    };
    let dropped = keep.iter().filter(|k| !**k).count();
    let mask = BooleanChunked::from_slice("keep".into(), &keep);
    Ok((df.filter(&mask)?, dropped, first))
}
