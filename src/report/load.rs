//! Session tables back in: what `wsaudit report` reads.
//!
//! Contract: [`expand`] turns files, folders (searched recursively) and glob patterns
//! into a sorted list of `.parquet` / `.csv` files. [`load`] reads each one (Parquet
//! eagerly, then lazily from there; CSV with every column read as text and converted),
//! tells session tables from refused-upgrade tables by their columns, brings each to the
//! documented schema (missing columns become nulls, types are cast, unknown columns are
//! dropped) and concatenates them. A file that cannot be read is reported and skipped.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use polars::prelude::*;
use polars_io::csv::read::CsvReadOptions;
use polars_io::parquet::read::ParquetReader;
use polars_io::SerReader;

use super::columns::conform_to;
use super::table::{refused_frame, sessions_frame, REFUSED_COLUMNS};

/// `.parquet`, `.pq` or `.csv`: a table exported by wsaudit (by name; what `report` and
/// the input classifier take for a table).
pub fn is_table_name(p: &Path) -> bool {
    matches!(
        p.extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref(),
        Some("parquet" | "pq" | "csv")
    )
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in
        std::fs::read_dir(dir).with_context(|| format!("{}: cannot list", dir.display()))?
    {
        let p = entry?.path();
        if p.is_dir() {
            walk(&p, out)?;
        } else if is_table_name(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// Files named by `args` (files, folders, globs), sorted and without duplicates.
pub fn expand(args: &[String]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for a in args {
        let p = Path::new(a);
        if p.is_dir() {
            walk(p, &mut out)?;
        } else if p.exists() {
            out.push(p.to_path_buf());
        } else if a.contains(['*', '?', '[']) {
            let mut any = false;
            for g in glob::glob(a).map_err(|e| anyhow!("{a}: bad pattern: {e}"))? {
                let g = g?;
                if g.is_dir() {
                    walk(&g, &mut out)?;
                } else if is_table_name(&g) {
                    out.push(g);
                }
                any = true;
            }
            if !any {
                bail!("{a}: no file matches");
            }
        } else {
            bail!("{a}: no such file or folder");
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The two kinds of table `wsaudit analyze` exports that `report` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    Sessions,
    Refused,
}

/// Read one table file as it is.
fn read_raw(path: &Path) -> Result<DataFrame> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let df = if ext == "csv" {
        CsvReadOptions::default()
            .with_has_header(true)
            // Read text as text; the documented types are applied below.
            .with_infer_schema_length(Some(0))
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
        let df = match read_raw(f) {
            Ok(df) => df,
            Err(e) => {
                problems.push((f.clone(), format!("cannot read table: {e:#}")));
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
