//! The `wsaudit` binary: exit codes and error printing only.
//!
//! Exit codes: 0 all inputs read; 2 a problem with an input or an output (each printed as
//! `wsaudit: <file>: <what> at byte <offset>`; everything else was still processed).
//! A closed stdout (e.g. `| head`) is not an error.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use wsaudit::cli::{AnalyzeConfig, Cli, Command};
use wsaudit::pipeline::analyze_all;
use wsaudit::report::{summary, table, write};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(args) => AnalyzeConfig::from_args(args).and_then(run_analyze),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("wsaudit: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn run_analyze(cfg: AnalyzeConfig) -> Result<ExitCode> {
    let results = analyze_all(&cfg.inputs, &cfg.options);
    let mut failed = false;
    for r in &results {
        for p in r.problems() {
            eprintln!("wsaudit: {}: {p}", r.name);
            failed = true;
        }
    }
    let records: Vec<_> = results.iter().flat_map(|r| r.sessions.iter()).collect();
    let owned: Vec<_> = records.iter().map(|r| (*r).clone()).collect();
    let mut sessions = table::sessions_frame(&owned)?;
    if let Some(path) = &cfg.sessions {
        if let Err(e) = write::write_table(&mut sessions, path) {
            eprintln!("wsaudit: {e:#}");
            failed = true;
        }
    }
    if let Some(path) = &cfg.refused {
        let refused: Vec<_> = results
            .iter()
            .flat_map(|r| r.refused.iter().cloned())
            .collect();
        let mut df = table::refused_frame(&refused)?;
        if let Err(e) = write::write_table(&mut df, path) {
            eprintln!("wsaudit: {e:#}");
            failed = true;
        }
    }
    if !cfg.quiet {
        let text = summary::render(&results, &sessions, &records)?;
        let mut out = io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
    }
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
