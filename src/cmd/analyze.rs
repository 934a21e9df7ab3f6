//! `wsaudit analyze`: captures, logs and tables in; the session table, the other
//! exports and the report out.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cmd::Result;

use crate::cmd::{export, read, report, say, say_all, Reading, Views};
use crate::logs::LogOptions;
use crate::pipeline;
use crate::table::export::SessionsOut;
use crate::table::spill::SpillOptions;
use crate::table::write::Partition;
use crate::text::with_causes;

/// A checked `analyze` run.
#[derive(Debug, Clone)]
pub struct Config {
    /// As given: captures, logs, tables, folders, globs, `-`.
    pub paths: Vec<String>,
    pub logs: LogOptions,
    /// `--keylog` arguments.
    pub keylogs: Vec<String>,
    pub sessions: Option<PathBuf>,
    pub partition_by: Option<Partition>,
    pub refused: Option<PathBuf>,
    pub closes: Option<PathBuf>,
    pub views: Views,
    pub options: pipeline::Options,
    pub threads: Option<usize>,
    pub spill: SpillOptions,
}

/// A stable name for one run's partition files: a hash of the input names, so a re-run
/// over the same captures replaces its own files and other runs add theirs.
fn run_tag(names: &[&str]) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = foldhash::quality::FixedState::with_seed(0x5753_4155_4449_5400).build_hasher();
    for n in names {
        h.write(n.as_bytes());
        h.write_u8(0);
    }
    format!("{:016x}", h.finish())
}

pub fn run(cfg: Config) -> Result<ExitCode> {
    if let Some(n) = cfg.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()?;
    }
    // Every export of this run is renamed into place together, after the last one is
    // complete (in `report`); an error before that leaves every previous file as it was.
    let _exports = crate::table::write::ExportSet::begin();
    let out = match (&cfg.sessions, cfg.partition_by) {
        (Some(dir), Some(by)) => {
            let tag = run_tag(&cfg.paths.iter().map(String::as_str).collect::<Vec<_>>());
            SessionsOut::partitioned(dir, by, &tag)
        }
        (Some(path), None) => SessionsOut::file(path, !cfg.views.csv_raw),
        _ => SessionsOut::none(),
    };
    let how = Reading {
        options: &cfg.options,
        keylogs: &cfg.keylogs,
        logs: &cfg.logs,
        spill: &cfg.spill,
        with_closes: cfg.closes.is_some(),
        // Rows go to the export as they are merged; the reports get what they read.
        keep: cfg.views.kept(),
    };
    let got = read(&cfg.paths, &how, out, &mut |errors, notes| {
        say_all(errors, "errors");
        say_all(notes, "notes");
    })?;
    let mut failed = got.inputs.iter().any(|i| i.outcome.is_failure());
    if let Some(e) = &got.export_error {
        say(&with_causes(e));
        failed = true;
    }
    let sessions = got.sessions;
    let mut refused = got.refused;
    if let Some(path) = &cfg.refused {
        export(&mut refused, path, &cfg.views, &mut failed);
    }
    if let Some(path) = &cfg.closes {
        if let Some(mut df) = got.closes {
            export(&mut df, path, &cfg.views, &mut failed);
        }
    }
    failed |= report(got.inputs, got.time_range, sessions, &refused, &cfg.views)?;
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
