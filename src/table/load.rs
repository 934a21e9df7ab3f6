//! Session tables back in: what `wsaudit report` reads.
//!
//! Contract: the files come from [`crate::inputs`] (which finds them in folders and
//! globs). [`load`] reads each one (Parquet
//! eagerly, then lazily from there; CSV with every column read as text and converted),
//! tells session tables from refused-upgrade tables by their columns, brings each to the
//! documented schema (missing columns become nulls, types are cast, unknown columns are
//! dropped) and concatenates them. A file that cannot be read is reported and skipped.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::table::error::Result;
use crate::text::with_causes;
use polars::prelude::*;
use polars_io::csv::read::CsvReadOptions;
use polars_io::parquet::read::ParquetReader;
use polars_io::SerReader;

use crate::table::columns::conform_to;
use crate::table::session::{refused_frame, sessions_frame, REFUSED_COLUMNS};

/// The two kinds of table `wsaudit analyze` exports that `report` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    Sessions,
    Refused,
}

/// Read one table file as it is.
/// A table file as it is: Parquet, or CSV with every column read as text when
/// `csv_as_text` (the documented types are applied by [`load`]), else with the types
/// polars infers.
pub fn read_raw(path: &Path, csv_as_text: bool) -> Result<DataFrame> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let df = if ext == "csv" {
        CsvReadOptions::default()
            .with_has_header(true)
            // Read text as text; the documented types are applied in `load`.
            .with_infer_schema_length(if csv_as_text { Some(0) } else { Some(100) })
            .try_into_reader_with_file_path(Some(path.to_path_buf()))?
            .finish()?
    } else {
        ParquetReader::new(File::open(path)?).finish()?
    };
    Ok(df)
}

/// All session and refused-upgrade rows of `files`; problems per file.
pub struct Loaded {
    pub sessions: DataFrame,
    pub refused: DataFrame,
    /// (file, kind, rows)
    pub files: Vec<(PathBuf, TableKind, usize)>,
    pub problems: Vec<(PathBuf, String)>,
}

pub fn load(files: &[PathBuf]) -> Result<Loaded> {
    let session_tpl = sessions_frame(&[])?;
    let refused_tpl = refused_frame(&[])?;
    let mut sessions = session_tpl.clone();
    let mut refused = refused_tpl.clone();
    let mut out_files = Vec::new();
    let mut problems = Vec::new();
    for f in files {
        let df = match read_raw(f, true) {
            Ok(df) => df,
            Err(e) => {
                problems.push((f.clone(), format!("cannot read table: {}", with_causes(&e))));
                continue;
            }
        };
        let names: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        let has = |c: &str| names.iter().any(|n| n == c);
        let kind = if has("session_id") && has("ending") {
            TableKind::Sessions
        } else if has("status") && REFUSED_COLUMNS.iter().all(|c| has(c)) {
            TableKind::Refused
        } else {
            problems.push((
                f.clone(),
                "not a wsaudit session or refused-upgrade table (no session_id/ending or status column)".into(),
            ));
            continue;
        };
        let rows = df.height();
        let (tpl, acc) = match kind {
            TableKind::Sessions => (&session_tpl, &mut sessions),
            TableKind::Refused => (&refused_tpl, &mut refused),
        };
        match conform_to(df, tpl) {
            Ok(df) => {
                acc.vstack_mut(&df)?;
                out_files.push((f.clone(), kind, rows));
            }
            Err(e) => problems.push((
                f.clone(),
                format!("columns do not have the documented types: {e}"),
            )),
        }
    }
    sessions.rechunk_mut();
    refused.rechunk_mut();
    Ok(Loaded {
        sessions,
        refused,
        files: out_files,
        problems,
    })
}
