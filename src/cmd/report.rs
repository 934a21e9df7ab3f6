//! `wsaudit report`: the report again, from session tables exported earlier.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cmd::error::usage;
use crate::cmd::Result;

use crate::cmd::collect::{errors_of, read_tables, skipped_input};
use crate::cmd::{report, say, say_all, Views};
use crate::inputs;
use crate::table::export::SessionsOut;
use crate::table::session::sessions_frame;
use crate::table::write::ExportSet;
use crate::text::with_causes;
use polars::prelude::DataFrame;

/// A checked `report` run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Tables, folders, globs.
    pub paths: Vec<String>,
    pub sessions: Option<PathBuf>,
    pub views: Views,
}

pub fn run(cfg: Config) -> Result<ExitCode> {
    let found = inputs::table_files(&cfg.paths);
    if let Some((what, why)) = found.problems.first() {
        usage!("{}: {why}", what.display());
    }
    let mut inputs = Vec::new();
    let mut warnings = Vec::new();
    let named = |p: &Path| cfg.paths.iter().any(|a| Path::new(a) == p);
    // Every export of this run is renamed into place together, after the last one is
    // complete (in `report`); an error before that leaves every previous file as it was.
    let _exports = ExportSet::begin();
    let mut out = match &cfg.sessions {
        Some(path) => SessionsOut::file(path, !cfg.views.csv_raw),
        None => SessionsOut::none(),
    };
    let mut exported = false;
    let mut write = |piece: &DataFrame| {
        out.write(piece);
        exported = true;
    };
    // Rows go to the export whole as they are read; the reports keep what they read.
    let (sessions, refused) = read_tables(
        &found.files,
        &named,
        &mut inputs,
        &mut warnings,
        cfg.views.kept().as_ref(),
        match cfg.sessions {
            Some(_) => Some(&mut write),
            None => None,
        },
    )?;
    if !exported {
        // No rows: the export still has the table's columns.
        out.write(&sessions_frame(&[])?);
    }
    inputs.extend(found.skipped.iter().map(|(p, why)| skipped_input(p, why)));
    say_all(&errors_of(&inputs), "errors");
    say_all(&warnings, "notes");
    let mut failed = inputs.iter().any(|i| i.outcome.is_failure());
    if let Err(e) = out.finish() {
        say(&with_causes(&e));
        failed = true;
    }
    failed |= report(inputs, None, sessions, &refused, &cfg.views)?;
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
