//! Command-line arguments (clap) and their resolution into a run configuration.
//!
//! Contract: [`Cli`] is what the user typed; [`AnalyzeConfig::from_args`] checks it
//! (output formats known, limits sane) before any input is read, so a typo in an output
//! path fails in a millisecond, not after an hour of parsing.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand};

use crate::pipeline::{Input, Options};
use crate::report::write::TableFormat;
use crate::tcp::Limits;

#[derive(Debug, Parser)]
#[command(
    name = "wsaudit",
    version,
    about = "How WebSocket sessions end: close codes from packet captures"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read captures (pcap, pcapng; `-` for stdin) and report every WebSocket session's ending.
    Analyze(AnalyzeArgs),
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Capture files (pcap or pcapng); `-` reads one from standard input.
    #[arg(required = true, value_name = "FILES")]
    pub files: Vec<String>,
    /// Write the session table (one row per session) to PATH: .csv, .parquet, .json or .jsonl.
    #[arg(long, value_name = "PATH")]
    pub sessions: Option<PathBuf>,
    /// Write refused upgrades (one row per non-101 answer) to PATH: .csv, .parquet, .json or .jsonl.
    #[arg(long, value_name = "PATH")]
    pub refused: Option<PathBuf>,
    /// Do not print the summary.
    #[arg(short, long)]
    pub quiet: bool,
    /// Most TCP connections tracked at once; beyond it the longest-idle one is closed
    /// and its session flagged `limit_hit`.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_conns)]
    pub max_connections: usize,
    /// Most out-of-order bytes held per connection direction before a gap is declared.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_buffered)]
    pub max_buffered: usize,
}

/// A checked `analyze` run.
#[derive(Debug, Clone)]
pub struct AnalyzeConfig {
    pub inputs: Vec<Input>,
    pub sessions: Option<PathBuf>,
    pub refused: Option<PathBuf>,
    pub quiet: bool,
    pub options: Options,
}

impl AnalyzeConfig {
    pub fn from_args(a: AnalyzeArgs) -> Result<AnalyzeConfig> {
        for p in a.sessions.iter().chain(a.refused.iter()) {
            TableFormat::from_path(p)?;
        }
        if a.files.iter().filter(|f| *f == "-").count() > 1 {
            bail!("standard input (-) can be given only once");
        }
        if a.max_connections == 0 {
            bail!("--max-connections must be at least 1");
        }
        Ok(AnalyzeConfig {
            inputs: a.files.iter().map(|f| Input::parse(f)).collect(),
            sessions: a.sessions,
            refused: a.refused,
            quiet: a.quiet,
            options: Options {
                limits: Limits {
                    max_conns: a.max_connections,
                    max_buffered: a.max_buffered,
                },
            },
        })
    }
}
