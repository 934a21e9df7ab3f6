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
use polars_io::parquet::metadata::FileMetadataRef;
use polars_io::parquet::read::ParquetReader;
use polars_io::SerReader;

use crate::table::chunks::stack;
use crate::table::columns::{conform_to, stable_hash, Kept};
use crate::table::run::compact_strings;
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
    let pieces = Pieces::open(path, csv_as_text, &[])?.collect::<Result<Vec<_>>>()?;
    Ok(stack(pieces)?.unwrap_or_default())
}

/// Rows of a Parquet table decoded at a time by [`Pieces`]: 350,000 sessions decoded
/// whole, then made compact, took 60 MiB more at the peak of `wsaudit report` than the
/// kept table.
const PIECE_ROWS: usize = 32_768;

/// A table file read piece by piece: Parquet [`PIECE_ROWS`] rows at a time (only the
/// pages of those rows are decoded), CSV as text [`CSV_PIECE_BYTES`] at a time, other
/// formats in one piece. A table of no rows is one piece of none (its columns). Every
/// piece has the same columns, `anomalies` as text (see [`anomalies_as_text`]).
struct Pieces {
    /// The file's columns, the skipped ones too (which kind of table it is shows in
    /// them).
    names: Vec<String>,
    source: Source,
}

enum Source {
    Whole(Option<DataFrame>),
    /// CSV read as text, [`CSV_PIECE_BYTES`] of records at a time.
    CsvText(Box<CsvText>),
    Parquet {
        path: PathBuf,
        metadata: FileMetadataRef,
        /// The columns decoded.
        columns: Vec<String>,
        /// The first row not read yet.
        at: usize,
        rows: usize,
        /// Every row handed out (a table of no rows: one piece of none), or a piece failed.
        done: bool,
    },
}

impl Pieces {
    /// `path` opened; a Parquet file without the columns `skip` (never decoded); CSV
    /// as text when `csv_as_text`, else with the types polars infers (see
    /// [`read_raw`]).
    fn open(path: &Path, csv_as_text: bool, skip: &[&str]) -> Result<Pieces> {
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
        if ext == "csv" && csv_as_text {
            let mut csv = CsvText::open(path)?;
            let first = csv.next_piece()?;
            let names = match &first {
                Some(df) => df
                    .get_column_names()
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                None => Vec::new(),
            };
            csv.first = first;
            return Ok(Pieces {
                names,
                source: Source::CsvText(Box::new(csv)),
            });
        }
        let whole = match ext.as_str() {
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
                let names: Vec<String> = reader
                    .schema()?
                    .iter_names()
                    .map(|n| n.to_string())
                    .collect();
                let metadata = reader.get_metadata()?.clone();
                let columns = names
                    .iter()
                    .filter(|n| !skip.contains(&n.as_str()))
                    .cloned()
                    .collect();
                return Ok(Pieces {
                    names,
                    source: Source::Parquet {
                        path: path.to_path_buf(),
                        columns,
                        rows: metadata.num_rows,
                        metadata,
                        at: 0,
                        done: false,
                    },
                });
            }
        };
        let whole = anomalies_as_text(whole)?;
        Ok(Pieces {
            names: whole
                .get_column_names()
                .iter()
                .map(|s| s.to_string())
                .collect(),
            source: Source::Whole(Some(whole)),
        })
    }
}

/// Bytes of CSV records parsed at a time by [`CsvText`] (about 13,000 sessions of a
/// wsaudit export): a 350,000-session CSV export read whole as text took 753 MiB.
const CSV_PIECE_BYTES: usize = 8 << 20;

/// A CSV file read as text a piece at a time: whole records (a quoted field may hold
/// a line break: records end at a line break outside quotes, as RFC 4180 says), each
/// piece parsed with the header line before it.
struct CsvText {
    file: File,
    /// The header line, with its line break.
    header: Vec<u8>,
    /// Bytes read and not yet parsed: they start at a record.
    carry: Vec<u8>,
    /// The first piece, parsed when the file was opened (its columns say which table
    /// it is).
    first: Option<DataFrame>,
    eof: bool,
    /// A piece was handed out.
    given: bool,
    /// [`CSV_PIECE_BYTES`] (tests use less).
    piece_bytes: usize,
}

impl CsvText {
    fn open(path: &Path) -> Result<CsvText> {
        let mut csv = CsvText {
            file: File::open(path)?,
            header: Vec::new(),
            carry: Vec::new(),
            first: None,
            eof: false,
            given: false,
            piece_bytes: CSV_PIECE_BYTES,
        };
        // The header: the first record.
        loop {
            if let Some(end) = record_end(&csv.carry, false) {
                csv.header = csv.carry.drain(..end).collect();
                break;
            }
            if !csv.fill()? {
                // A header without a line break (an empty table) or an empty file.
                csv.header = std::mem::take(&mut csv.carry);
                csv.header.push(b'\n');
                break;
            }
        }
        Ok(csv)
    }

    /// Read more of the file into `carry`; false at the end of the file.
    fn fill(&mut self) -> Result<bool> {
        use std::io::Read;
        if self.eof {
            return Ok(false);
        }
        let had = self.carry.len();
        let want = self.piece_bytes;
        self.carry.resize(had + want, 0);
        let mut got = 0;
        while got < want {
            match self.file.read(&mut self.carry[had + got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.carry.truncate(had + got);
                    return Err(e.into());
                }
            }
        }
        self.carry.truncate(had + got);
        if got < want {
            self.eof = true;
        }
        Ok(got > 0)
    }

    /// The next piece of records, parsed (every column as text); `None` at the end.
    fn next_piece(&mut self) -> Result<Option<DataFrame>> {
        if let Some(first) = self.first.take() {
            return Ok(Some(first));
        }
        let records = loop {
            if self.carry.len() >= self.piece_bytes || self.eof {
                // The records that end within `piece_bytes`, or the first one.
                let limit = self.carry.len().min(self.piece_bytes);
                let end = record_end(&self.carry[..limit], true)
                    .or_else(|| record_end(&self.carry, false));
                if let Some(end) = end {
                    break self.carry.drain(..end).collect::<Vec<u8>>();
                }
                if self.eof {
                    // The last record, without a line break after it.
                    break std::mem::take(&mut self.carry);
                }
            }
            self.fill()?;
        };
        if records.iter().all(|b| b.is_ascii_whitespace()) {
            if !(self.eof && self.carry.is_empty()) {
                return self.next_piece();
            }
            // The end. A table of no rows is still a piece: its columns say which
            // table it is.
            if self.given {
                return Ok(None);
            }
        }
        self.given = true;
        let mut bytes = Vec::with_capacity(self.header.len() + records.len());
        bytes.extend_from_slice(&self.header);
        bytes.extend_from_slice(&records);
        drop(records);
        Ok(Some(parse_csv_text(bytes)?))
    }
}

/// The end (after its line break) of the first record of `bytes` or, with `last`, of
/// the last whole record: a line break outside quotes (`""` inside quotes is a quote).
fn record_end(bytes: &[u8], last: bool) -> Option<usize> {
    let mut quoted = false;
    let mut end = None;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => {
                end = Some(i + 1);
                if !last {
                    break;
                }
            }
            _ => {}
        }
    }
    end
}

/// CSV bytes (a header line, then records) as a table of text columns.
fn parse_csv_text(bytes: Vec<u8>) -> Result<DataFrame> {
    Ok(CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .into_reader_with_file_handle(std::io::Cursor::new(bytes))
        .finish()?)
}

impl Iterator for Pieces {
    type Item = Result<DataFrame>;

    fn next(&mut self) -> Option<Result<DataFrame>> {
        match &mut self.source {
            Source::Whole(whole) => whole.take().map(Ok),
            Source::CsvText(csv) => csv.next_piece().transpose(),
            Source::Parquet {
                path,
                metadata,
                columns,
                at,
                rows,
                done,
            } => {
                if *done {
                    return None;
                }
                let len = PIECE_ROWS.min(*rows - *at);
                let piece = (|| -> Result<DataFrame> {
                    let mut reader = ParquetReader::new(File::open(&*path)?);
                    reader.set_metadata(metadata.clone());
                    let df = reader
                        .with_columns(Some(columns.clone()))
                        .with_slice(Some((*at, len)))
                        .finish()?;
                    Ok(anomalies_as_text(df)?)
                })();
                *at += len;
                *done = piece.is_err() || *at >= *rows;
                Some(piece)
            }
        }
    }
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
    /// The session and refused-upgrade tables read, in order.
    pub files: Vec<LoadedFile>,
    /// Files that are wsaudit tables of another kind (not read).
    pub other: Vec<(PathBuf, TableKind)>,
    /// Files that could not be read, or are no wsaudit table: (file, why).
    pub problems: Vec<(PathBuf, String)>,
    /// Rows already read from an earlier file (same `capture` and `session_id`: the CSV
    /// and the Parquet of one run, or a copy), counted once: (file, rows, the file they
    /// were first read from).
    pub duplicates: Vec<(PathBuf, usize, PathBuf)>,
}

/// One session or refused-upgrade table read.
pub struct LoadedFile {
    pub path: PathBuf,
    pub kind: TableKind,
    /// Rows kept (without the sessions already read from an earlier file).
    pub rows: usize,
    /// Why the file could not be read to its end: its rows before that are kept.
    pub error: Option<String>,
}

/// Read `files`: session tables and refused-upgrade tables are kept (a session read
/// twice, same `capture` and `session_id`, counted once); other wsaudit tables are
/// listed in [`Loaded::other`]; anything else is a problem.
pub fn load(files: &[PathBuf]) -> Result<Loaded> {
    load_with(files, None, None)
}

/// [`load`], a file's pieces at a time: each piece of session rows (in the documented
/// schema, without the sessions already read) goes to `out` as it is read, then is kept
/// as `keep` says ([`Kept`]; without `out`, the columns it leaves out are not even
/// decoded from Parquet), so that `wsaudit report` over a 350,000-session export never
/// holds it whole. A file that fails part way keeps the rows read before
/// ([`LoadedFile::error`]).
pub fn load_with(
    files: &[PathBuf],
    keep: Option<&Kept>,
    mut out: Option<&mut dyn FnMut(&DataFrame)>,
) -> Result<Loaded> {
    // Which kind a file is shows in its columns, so the refused-upgrade table's (which
    // it shares with the session table: `client_port`, `user_agent`) are always read.
    let not_decoded: Vec<&str> = keep
        .filter(|_| out.is_none())
        .map(|k| k.nulled.iter().copied())
        .into_iter()
        .flatten()
        .filter(|c| !REFUSED_COLUMNS.contains(c))
        .collect();
    let session_tpl = sessions_frame(&[])?;
    let refused_tpl = refused_frame(&[])?;
    // Session pieces (narrowed when `keep`), refused-upgrade tables.
    let mut sessions: Vec<DataFrame> = Vec::new();
    let mut refused: Vec<DataFrame> = Vec::new();
    let mut loaded = Loaded {
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
        let pieces = match Pieces::open(f, true, &not_decoded) {
            Ok(p) => p,
            Err(e) => {
                loaded
                    .problems
                    .push((f.clone(), format!("cannot read table: {}", with_causes(&e))));
                continue;
            }
        };
        let kind = match TableKind::of_columns(&pieces.names) {
            Some(k @ (TableKind::Sessions | TableKind::Refused)) => k,
            Some(other) => {
                loaded.other.push((f.clone(), other));
                continue;
            }
            None => {
                loaded.problems.push((
                    f.clone(),
                    "not a wsaudit table (no session_id/ending or status column)".into(),
                ));
                continue;
            }
        };
        let tpl = match kind {
            TableKind::Sessions => &session_tpl,
            _ => &refused_tpl,
        };
        let index = loaded.files.len();
        let mut file = LoadedFile {
            path: f.clone(),
            kind,
            rows: 0,
            error: None,
        };
        let mut dropped = 0;
        let mut first_seen = None;
        for piece in pieces {
            let df = match piece.map_err(|e| format!("cannot read table: {}", with_causes(&e))) {
                Ok(df) => conform_to(df, tpl)
                    .map_err(|e| format!("columns do not have the documented types: {e}")),
                Err(e) => Err(e),
            };
            let df = match df {
                Ok(df) => df,
                Err(why) => {
                    file.error = Some(why);
                    break;
                }
            };
            if kind == TableKind::Refused {
                file.rows += df.height();
                refused.push(df);
                continue;
            }
            // Left-out columns dropped and hashed text hashed (with `keep`); text in
            // buffers of its own, repeated values once (a Parquet or CSV file gives
            // each row its own copy of the capture name, user agent, code name...),
            // so that the decoded piece is freed. (The sessions seen are looked up in
            // these columns: in the decoded ones, they held the decoded pieces.)
            let mut kept = match keep {
                Some(k) => compact_strings(&k.narrow(&df)?)?,
                None => compact_strings(&df)?,
            };
            let mut df = df;
            if let Some((mask, n, first)) = seen.add(&kept, index)? {
                dropped += n;
                first_seen.get_or_insert(first);
                df = df.filter(&mask)?;
                kept = kept.filter(&mask)?;
            }
            file.rows += df.height();
            if let Some(out) = &mut out {
                out(&df);
            }
            drop(df);
            sessions.push(kept);
        }
        if let Some(first) = first_seen {
            // (A file can hold a session twice: then it is its own first.)
            let first = match loaded.files.get(first) {
                Some(earlier) => earlier.path.clone(),
                None => f.clone(),
            };
            loaded.duplicates.push((f.clone(), dropped, first));
        }
        if file.error.is_some() && file.rows == 0 {
            loaded
                .problems
                .push((f.clone(), file.error.unwrap_or_default()));
        } else {
            loaded.files.push(file);
        }
    }
    drop(seen);
    loaded.sessions = match keep {
        Some(k) => {
            let mut kept = match stack(sessions)? {
                Some(k) => k,
                None => k.narrow(&session_tpl)?,
            };
            kept.rechunk_mut();
            // As kept for the reports: left-out columns null, one-value columns once.
            k.widen(kept, &session_tpl)?
        }
        None => {
            let mut all = stack(sessions)?.unwrap_or(session_tpl);
            all.rechunk_mut();
            all
        }
    };
    let mut refused = stack(refused)?.unwrap_or(refused_tpl);
    refused.rechunk_mut();
    loaded.refused = refused;
    Ok(loaded)
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

impl Seen {
    /// Add the sessions of `df` as read from file `index`, unless already seen; when
    /// some were: the rows to keep, how many are not, and the index of the file the
    /// first of those came from. `df`'s `capture` and `session_id` are held until the
    /// end: they should be the kept table's.
    fn add(
        &mut self,
        df: &DataFrame,
        index: usize,
    ) -> Result<Option<(BooleanChunked, usize, usize)>> {
        let captures = df.column("capture")?.str()?.clone();
        let ids = df.column("session_id")?.str()?.clone();
        let file = self.files.len() as u32;
        self.files.push((captures, ids, index));
        let mut keep = Vec::with_capacity(df.height());
        let mut first = None;
        for row in 0..df.height() as u32 {
            match self.first_or_add(file, row) {
                Some(j) => {
                    first.get_or_insert(j);
                    keep.push(false);
                }
                None => keep.push(true),
            }
        }
        let Some(first) = first else {
            return Ok(None);
        };
        let dropped = keep.iter().filter(|k| !**k).count();
        Ok(Some((
            BooleanChunked::from_slice("keep".into(), &keep),
            dropped,
            first,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pieces end at line breaks outside quotes: a CSV whose quoted fields hold line
    /// breaks, quotes and commas, read 64 bytes at a time, is the table read whole.
    #[test]
    fn csv_pieces_end_between_records() {
        let dir = std::env::temp_dir().join(format!("wsaudit-csv-pieces-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.csv");
        let mut text = String::from("id,reason,n\n");
        for i in 0..500 {
            let reason = match i % 4 {
                0 => "plain".to_string(),
                1 => format!("\"two\nlines {i}\""),
                2 => format!("\"a \"\"quote\"\", and a comma {i}\""),
                _ => String::new(),
            };
            text.push_str(&format!("s#{i},{reason},{i}\n"));
        }
        std::fs::write(&path, &text).unwrap();
        let whole = CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .try_into_reader_with_file_path(Some(path.clone()))
            .unwrap()
            .finish()
            .unwrap();
        for piece_bytes in [64, 100, 1 << 20] {
            let mut csv = CsvText::open(&path).unwrap();
            csv.piece_bytes = piece_bytes;
            let mut read: Option<DataFrame> = None;
            let mut pieces = 0;
            while let Some(p) = csv.next_piece().unwrap() {
                pieces += 1;
                match &mut read {
                    Some(r) => {
                        r.vstack_mut(&p).unwrap();
                    }
                    None => read = Some(p),
                }
            }
            let read = read.unwrap();
            assert!(read.equals_missing(&whole), "{piece_bytes}-byte pieces");
            assert!(piece_bytes > 1000 || pieces > 10, "{pieces} pieces");
        }
        // A header alone: one piece of no rows, with the columns.
        std::fs::write(&path, "id,reason,n\n").unwrap();
        let mut csv = CsvText::open(&path).unwrap();
        let p = csv.next_piece().unwrap().unwrap();
        assert_eq!((p.height(), p.width()), (0, 3));
        assert!(csv.next_piece().unwrap().is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
