//! Command-line arguments (clap) and their resolution into run configurations.
//!
//! Contract: [`Cli`] is what the user typed; the `from_args` functions check it (output
//! formats known, limits sane) before any input is read, so a typo in an output path
//! fails in a millisecond, not after an hour of parsing.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::pipeline::Options;
use crate::report::breakdown::GroupBy;
use crate::report::write::{Partition, TableFormat};
use crate::tcp::Limits;

#[derive(Debug, Parser)]
#[command(
    name = "wsaudit",
    version,
    about = "How WebSocket sessions end: close codes from packet captures",
    after_help = "Exit codes: 0 success; 2 a problem with an input or output (reported on stderr; \
                  everything else was still processed)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read captures (pcap, pcapng; `-` for stdin) and report how every WebSocket session ended.
    Analyze(AnalyzeArgs),
    /// Report over session tables exported earlier (Parquet or CSV files, folders, globs).
    Report(ReportCmdArgs),
    /// List every close code with its name and meaning.
    Codes,
    /// Explain one close code: meaning, when you see it, how to fix it.
    Explain {
        /// A close code, e.g. 1006.
        code: u16,
    },
    /// Compare two close codes side by side, with their key difference.
    Compare { a: u16, b: u16 },
    /// The nightly job: analyze captures and session tables, compare with a baseline,
    /// check --max-rate thresholds, write Markdown and HTML reports.
    #[command(
        after_help = "Exit codes: 0 every threshold holds; 1 a threshold is breached \
                            (each printed with its value and limit); 2 an error (unreadable \
                            input or baseline, bad arguments, an output not written). Errors \
                            win over breaches."
    )]
    Audit(AuditArgs),
}

/// How the report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    /// For people (at most 100 columns).
    #[default]
    Text,
    /// One JSON document on stdout.
    Json,
}

/// Report options shared by `analyze` and `report`.
#[derive(Debug, Args, Clone)]
pub struct ReportArgs {
    /// Break close codes down by these keys (repeatable or comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "KEY")]
    pub by: Vec<GroupBy>,
    /// Groups shown per breakdown; the rest are folded into one row.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,
    /// Write the per-code table to PATH (.csv, .parquet, .json, .jsonl).
    #[arg(long, value_name = "PATH")]
    pub summary: Option<PathBuf>,
    /// Write one row per ended session with its reconnect (next session of the same
    /// client to the same server, host and path) to PATH.
    #[arg(long, value_name = "PATH")]
    pub reconnects: Option<PathBuf>,
    /// Reconnect window: a session starting later than this after a close is not its
    /// reconnect.
    #[arg(long, value_name = "SECS", default_value_t = crate::report::reconnect::DEFAULT_WINDOW_S)]
    pub window: f64,
    /// Also print closes over time by code (deploys and incidents show as spikes).
    #[arg(long)]
    pub timeline: bool,
    /// Write CSV cells exactly as they are. By default text cells starting with
    /// = + - @ tab or CR get a leading ' so spreadsheets do not run them as formulas.
    #[arg(long)]
    pub csv_raw: bool,
    /// How the report is printed.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Do not print the report.
    #[arg(short, long)]
    pub quiet: bool,
}

/// How log inputs are read (shared by `analyze` and `audit`).
#[derive(Debug, Args, Clone, Default)]
pub struct LogArgs {
    /// Read every input that is not a capture or a table as this log format (default:
    /// detected from the content).
    #[arg(long, value_enum, value_name = "NAME")]
    pub log_format: Option<crate::logs::LogFormat>,
    /// Field mapping for JSON-lines logs: code=…,reason=…,time=…,session=…,peer=…,duration=…
    /// (dotted paths reach nested fields).
    #[arg(long, value_name = "FIELD=PATH,...")]
    pub map: Option<String>,
}

impl LogArgs {
    pub fn options(&self) -> Result<crate::logs::LogOptions> {
        let map = match &self.map {
            Some(m) => {
                Some(crate::logs::FieldMap::parse(m).map_err(|e| anyhow::anyhow!("--map: {e}"))?)
            }
            None => None,
        };
        Ok(crate::logs::LogOptions {
            format: self.log_format,
            map,
        })
    }
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Captures (pcap, pcapng, optionally .gz/.zst; `-` reads one from standard input),
    /// log files, and session tables; folders are searched recursively; globs work.
    #[arg(required = true, value_name = "FILES")]
    pub files: Vec<String>,
    #[command(flatten)]
    pub logs: LogArgs,
    /// Write the session table (one row per session) to PATH: .csv, .parquet, .json or .jsonl.
    #[arg(long, value_name = "PATH")]
    pub sessions: Option<PathBuf>,
    /// With --sessions DIR: write the session table as hive-style partitioned Parquet
    /// (DIR/date=YYYY-MM-DD/[hour=HH/]part-RUN.parquet), for Spark, DuckDB, Trino,
    /// polars, and `wsaudit report DIR`.
    #[arg(long, value_enum, value_name = "date|hour", requires = "sessions")]
    pub partition_by: Option<Partition>,
    /// Write refused upgrades (one row per non-101 answer) to PATH.
    #[arg(long, value_name = "PATH")]
    pub refused: Option<PathBuf>,
    /// Write one row per Close frame to PATH.
    #[arg(long, value_name = "PATH")]
    pub closes: Option<PathBuf>,
    #[command(flatten)]
    pub report: ReportArgs,
    /// Most TCP connections tracked at once; beyond it the longest-idle one is closed
    /// and its session flagged `limit_hit`.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_conns)]
    pub max_connections: usize,
    /// Most out-of-order bytes held per connection direction before a gap is declared.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_buffered)]
    pub max_buffered: usize,
    /// Threads to use (default: one per core). Several files are read in parallel; a
    /// single file is read on one thread while its connections are spread over the others.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Finished sessions a worker holds in memory before writing them, sorted, to a run
    /// file in --spill-dir; the exports are merged back from the runs (0: never spill,
    /// and memory grows with the number of sessions).
    #[arg(long, value_name = "ROWS", default_value_t = crate::report::spill::SPILL_ROWS)]
    pub spill_after: usize,
    /// Folder for spilled runs (default: $TMPDIR, else /tmp); they are removed at the end.
    #[arg(long, value_name = "DIR")]
    pub spill_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReportCmdArgs {
    /// Session tables (and refused-upgrade tables) exported by `wsaudit analyze`:
    /// .parquet or .csv files, folders (searched recursively) or glob patterns.
    #[arg(required = true, value_name = "PATHS")]
    pub paths: Vec<String>,
    /// Write the merged session table to PATH.
    #[arg(long, value_name = "PATH")]
    pub sessions: Option<PathBuf>,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Captures (pcap, pcapng, also .gz / .zst; `-` for stdin), log files and session
    /// tables (.parquet, .csv); folders and globs; told apart by their content.
    #[arg(required = true, value_name = "PATHS")]
    pub paths: Vec<String>,
    #[command(flatten)]
    pub logs: LogArgs,
    /// An earlier night to compare with: a session table (file or folder) or a
    /// `--summary` per-code export.
    #[arg(long, value_name = "PATH")]
    pub baseline: Option<PathBuf>,
    /// Breached (exit 1) when more than PERCENT of all sessions have this close code,
    /// code class (4xxx) or ending (normal, announced, no_status, abnormal, open).
    /// Repeatable: --max-rate 1006=5 --max-rate open=50.
    #[arg(long = "max-rate", value_name = "CODE_OR_ENDING=PERCENT",
          value_parser = crate::audit::parse_threshold)]
    pub max_rate: Vec<crate::audit::Threshold>,
    /// Write a self-contained HTML report (inline SVG charts, no scripts, no network).
    #[arg(long, value_name = "PATH")]
    pub html: Option<PathBuf>,
    /// Write a Markdown summary.
    #[arg(long, value_name = "PATH")]
    pub markdown: Option<PathBuf>,
    /// Write the merged session table to PATH (tomorrow night's --baseline).
    #[arg(long, value_name = "PATH")]
    pub sessions: Option<PathBuf>,
    #[command(flatten)]
    pub report: ReportArgs,
}

fn check_outputs<'a>(paths: impl IntoIterator<Item = &'a Option<PathBuf>>) -> Result<()> {
    for p in paths.into_iter().flatten() {
        TableFormat::from_path(p)?;
    }
    Ok(())
}

fn check_window(w: f64) -> Result<()> {
    if !(w.is_finite() && w > 0.0) {
        bail!("--window must be a positive number of seconds");
    }
    Ok(())
}

/// A checked `analyze` run.
#[derive(Debug, Clone)]
pub struct AnalyzeConfig {
    /// As given: captures, logs, tables, folders, globs, `-`.
    pub paths: Vec<String>,
    pub logs: crate::logs::LogOptions,
    pub sessions: Option<PathBuf>,
    pub partition_by: Option<Partition>,
    pub refused: Option<PathBuf>,
    pub closes: Option<PathBuf>,
    pub report: ReportArgs,
    pub options: Options,
    pub threads: Option<usize>,
    pub spill: crate::inputs::SpillOptions,
}

impl AnalyzeConfig {
    pub fn from_args(a: AnalyzeArgs) -> Result<AnalyzeConfig> {
        if a.partition_by.is_none() {
            check_outputs([&a.sessions])?;
        } else if a.sessions.as_ref().is_some_and(|p| p.is_file()) {
            bail!("--partition-by needs --sessions to name a folder, not a file");
        }
        check_outputs([
            &a.refused,
            &a.closes,
            &a.report.summary,
            &a.report.reconnects,
        ])?;
        check_window(a.report.window)?;
        if a.files.iter().filter(|f| *f == "-").count() > 1 {
            bail!("standard input (-) can be given only once");
        }
        if a.max_connections == 0 {
            bail!("--max-connections must be at least 1");
        }
        let progress = !a.report.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
        Ok(AnalyzeConfig {
            logs: a.logs.options()?,
            paths: a.files,
            sessions: a.sessions,
            partition_by: a.partition_by,
            refused: a.refused,
            closes: a.closes,
            report: a.report,
            threads: a.threads,
            spill: crate::inputs::SpillOptions {
                dir: a
                    .spill_dir
                    .unwrap_or_else(|| crate::inputs::SpillOptions::default().dir),
                rows: (a.spill_after > 0).then_some(a.spill_after),
            },
            options: Options {
                limits: Limits {
                    max_conns: a.max_connections,
                    max_buffered: a.max_buffered,
                },
                progress,
                shards: crate::pipeline::AUTO_SHARDS,
            },
        })
    }
}

/// A checked `report` run.
#[derive(Debug, Clone)]
pub struct ReportConfig {
    pub paths: Vec<String>,
    pub sessions: Option<PathBuf>,
    pub report: ReportArgs,
}

impl ReportConfig {
    pub fn from_args(a: ReportCmdArgs) -> Result<ReportConfig> {
        check_outputs([&a.sessions, &a.report.summary, &a.report.reconnects])?;
        check_window(a.report.window)?;
        Ok(ReportConfig {
            paths: a.paths,
            sessions: a.sessions,
            report: a.report,
        })
    }
}
