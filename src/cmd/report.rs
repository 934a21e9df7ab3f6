//! `wsaudit report`: the report again, from session tables exported earlier.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cmd::error::usage;
use crate::cmd::Result;

use crate::cmd::collect::{errors_of, read_tables, skipped_input};
use crate::cmd::{export, report, say_all, Views};
use crate::inputs;
use crate::table::session::{refused_frame, sessions_frame};

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
    let mut sessions = sessions_frame(&[])?;
    let mut refused = refused_frame(&[])?;
    let named = |p: &Path| cfg.paths.iter().any(|a| Path::new(a) == p);
    let keep = cfg.views.kept();
    read_tables(
        &found.files,
        &named,
        &mut inputs,
        &mut warnings,
        &mut sessions,
        &mut refused,
        // Exported rows are whole; then the reports keep what they read.
        keep.as_ref().filter(|_| cfg.sessions.is_none()),
    )?;
    inputs.extend(found.skipped.iter().map(|(p, why)| skipped_input(p, why)));
    say_all(&errors_of(&inputs), "errors");
    say_all(&warnings, "notes");
    let mut failed = inputs.iter().any(|i| i.outcome.is_failure());
    if let Some(path) = &cfg.sessions {
        export(&mut sessions, path, &cfg.views, &mut failed);
        // Exported whole; now as the reports read it (else done as it was loaded).
        if let Some(k) = &keep {
            sessions = k.apply(sessions)?;
        }
    }
    failed |= report(inputs, None, sessions, &refused, &cfg.views)?;
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
