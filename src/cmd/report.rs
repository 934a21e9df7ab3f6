//! `wsaudit report`: the report again, from session tables exported earlier.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};

use crate::cmd::collect::table_input;
use crate::cmd::{export, report, say, Views};
use crate::inputs;
use crate::table::load;

/// A checked `report` run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Tables, folders, globs.
    pub paths: Vec<String>,
    pub sessions: Option<PathBuf>,
    pub views: Views,
}

pub fn run(cfg: Config) -> Result<ExitCode> {
    let (files, problems) = inputs::table_files(&cfg.paths);
    if let Some((what, why)) = problems.first() {
        bail!("{}: {why}", what.display());
    }
    let loaded = load::load(&files)?;
    let mut failed = false;
    for (f, p) in &loaded.problems {
        say(&format!("{}: {p}", f.display()));
        failed = true;
    }
    let mut sessions = loaded.sessions;
    if let Some(path) = &cfg.sessions {
        export(&mut sessions, path, &cfg.views, &mut failed);
    }
    let inputs = loaded
        .files
        .iter()
        .map(|(f, kind, rows)| table_input(f, *kind, *rows))
        .collect();
    failed |= report(inputs, None, &sessions, &loaded.refused, &cfg.views)?;
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
