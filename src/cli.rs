//! Command-line arguments (clap) and their resolution into run configurations.
//!
//! Contract: [`Cli`] is what the user typed; [`analyze_config`], [`report_config`] and
//! [`audit_config`] check it (output formats known, limits sane, folders there) before
//! any input is read, so a typo in an output path fails in a millisecond, not after an
//! hour of parsing, and turn it into the configurations of [`crate::cmd`]: the raw
//! flags stay here, the commands see only resolved values.

use std::path::{Path, PathBuf};

use crate::cmd::error::usage;
use crate::cmd::{Error, Result};
use clap::{Args, Parser, Subcommand};

use crate::analysis::breakdown::GroupBy;
use crate::cmd::{self, Views};
use crate::pipeline::Options;
use crate::table::spill::SpillOptions;
use crate::table::write::{Partition, TableFormat};
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

pub use crate::cmd::OutputFormat;

/// Report options shared by `analyze` and `report`.
#[derive(Debug, Args, Clone)]
pub struct ReportArgs {
    /// Break close codes down by these keys (repeatable or comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "KEY")]
    pub by: Vec<GroupBy>,
    /// Rows shown per table (breakdowns, close codes, reconnects); the rest are folded
    /// into one row.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,
    /// List every close code in the terminal report (by default private-use and other
    /// unnamed codes are folded into one row per range, with their top codes inline).
    #[arg(long)]
    pub all_codes: bool,
    /// Group `--by path` by the path as it is (by default the query string is dropped and
    /// identifiers such as numbers, UUIDs and long hex become `{id}`).
    #[arg(long)]
    pub path_raw: bool,
    /// Write the per-code table to PATH (.csv, .parquet, .json, .jsonl).
    #[arg(long, value_name = "PATH")]
    pub summary: Option<PathBuf>,
    /// Write one row per ended session with its reconnect (next session of the same
    /// client to the same server, host and path) to PATH.
    #[arg(long, value_name = "PATH")]
    pub reconnects: Option<PathBuf>,
    /// Write one row per session seen on both sides of a proxy (its downstream and
    /// upstream legs paired, what the proxy did) to PATH.
    #[arg(long, value_name = "PATH")]
    pub proxies: Option<PathBuf>,
    /// Reconnect window: a session starting later than this after a close is not its
    /// reconnect.
    #[arg(long, value_name = "SECS", default_value_t = crate::analysis::reconnect::DEFAULT_WINDOW_S)]
    pub window: f64,
    /// Also print closes over time by code (deploys and incidents show as spikes).
    #[arg(long)]
    pub timeline: bool,
    /// Write CSV cells exactly as they are. By default text cells starting with
    /// = + - @ tab or CR get a leading ' so spreadsheets do not run them as formulas.
    #[arg(long)]
    pub csv_raw: bool,
    /// Write the report as one self-contained HTML dashboard to PATH (inline SVG charts;
    /// no scripts, no network). With `audit`, the verdict, thresholds and changes on top.
    #[arg(long, value_name = "PATH")]
    pub html: Option<PathBuf>,
    /// Write the report as Markdown to PATH: the same sections as the HTML, as tables
    /// (fits a CI job summary).
    #[arg(long, value_name = "PATH")]
    pub markdown: Option<PathBuf>,
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
    /// A regular expression for the application's own lines about closes (repeatable),
    /// tried on lines no built-in format reads; named groups code (required), reason,
    /// time, session, peer, duration.
    #[arg(long = "pattern", value_name = "REGEX")]
    pub patterns: Vec<String>,
    /// TLS key log (the NSS format SSLKEYLOGFILE writes), to decrypt wss and HTTPS
    /// connections; repeatable; folders and globs work. Key logs among the inputs are
    /// found by their content and used too.
    #[arg(long = "keylog", value_name = "FILE")]
    pub keylogs: Vec<String>,
}

impl LogArgs {
    pub fn options(&self) -> Result<crate::logs::LogOptions> {
        let map = match &self.map {
            Some(m) => Some(
                crate::logs::FieldMap::parse(m).map_err(|e| Error::Usage(format!("--map: {e}")))?,
            ),
            None => None,
        };
        let patterns = self
            .patterns
            .iter()
            .map(|p| crate::logs::pattern::LinePattern::new(p))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::Usage(format!("--pattern: {e}")))?;
        Ok(crate::logs::LogOptions {
            format: self.log_format,
            map,
            patterns,
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
    /// and its session flagged `limit_hit`. Shared evenly by a file's worker shards
    /// (connections are hashed to shards), so a shard may evict before N connections
    /// are open in all; --threads 1 makes it one exact limit.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_conns)]
    pub max_connections: usize,
    /// Most out-of-order bytes held per connection direction before a gap is declared.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_buffered)]
    pub max_buffered: usize,
    /// Threads to use (default: one per core). Several files are read in parallel, each
    /// with its share of the threads; within a file one thread cuts the records into
    /// chunks, and from four threads a file on, decoders and pagers take the packet
    /// decoding and the page mapping off it, while workers own its connections.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Map bytes per chunk handed from a capture's reader to its decoders and workers
    /// (default: chosen from the memory budget). For tests and benchmarks: results are
    /// the same for every value.
    #[arg(long, value_name = "BYTES", hide = true, default_value_t = 0)]
    pub chunk_bytes: usize,
    /// Finished sessions the whole run holds in memory (all workers and captures
    /// together) before workers write theirs, sorted, to run files in --spill-dir; the
    /// exports are merged back from the runs (0: never spill, and memory grows with the
    /// number of sessions).
    #[arg(long, value_name = "ROWS", default_value_t = crate::table::spill::SPILL_ROWS)]
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
    /// Write the merged session table to PATH (tomorrow night's --baseline).
    #[arg(long, value_name = "PATH")]
    pub sessions: Option<PathBuf>,
    /// TLS connections that could not be decrypted are not an error (by default they
    /// are: the verdict would be blind to them). They stay out of every rate either way.
    #[arg(long)]
    pub allow_undecrypted: bool,
    #[command(flatten)]
    pub report: ReportArgs,
}

fn check_outputs<'a>(paths: impl IntoIterator<Item = &'a Option<PathBuf>>) -> Result<()> {
    for p in paths.into_iter().flatten() {
        TableFormat::from_path(p)?;
    }
    Ok(())
}

/// Where an output path really goes: its folder resolved (symlinks, `..`), plus its name.
fn resolved(p: &Path) -> PathBuf {
    if let Ok(c) = p.canonicalize() {
        return c;
    }
    let dir = p.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.map_or_else(|| Path::new(".").canonicalize(), Path::canonicalize);
    match (dir, p.file_name()) {
        (Ok(d), Some(n)) => d.join(n),
        _ => p.to_path_buf(),
    }
}

/// Refuse, before any work, outputs that cannot all be what the user wants: two outputs
/// on one path (one would overwrite the other), and an output inside a folder that is
/// being read (the next run would read it as an input; this one may too).
fn check_output_paths(outputs: &[(&str, &Option<PathBuf>)], inputs: &[String]) -> Result<()> {
    let mut seen: Vec<(&str, PathBuf)> = Vec::new();
    for (flag, p) in outputs {
        let Some(p) = p else { continue };
        let r = resolved(p);
        if let Some((other, _)) = seen.iter().find(|(_, q)| *q == r) {
            usage!(
                "{flag} and {other} both write {}: give each output its own path",
                p.display()
            );
        }
        for i in inputs.iter().filter(|i| *i != "-") {
            let dir = Path::new(i);
            if dir.is_dir() && r.starts_with(resolved(dir)) {
                usage!(
                    "{flag} {}: inside the input folder {i}, which is being read; write it \
                     elsewhere",
                    p.display()
                );
            }
        }
        seen.push((flag, r));
    }
    Ok(())
}

fn check_window(w: f64) -> Result<()> {
    if !(w.is_finite() && w > 0.0) {
        usage!("--window must be a positive number of seconds");
    }
    Ok(())
}

impl ReportArgs {
    /// The outputs these flags name, with their flags (for [`check_output_paths`]).
    fn outputs(&self) -> [(&'static str, &Option<PathBuf>); 5] {
        [
            ("--summary", &self.summary),
            ("--reconnects", &self.reconnects),
            ("--proxies", &self.proxies),
            ("--html", &self.html),
            ("--markdown", &self.markdown),
        ]
    }

    /// The views these flags ask for (checked: outputs known, window positive).
    fn views(self) -> Result<Views> {
        check_outputs([&self.summary, &self.reconnects, &self.proxies])?;
        check_window(self.window)?;
        for p in [&self.html, &self.markdown].into_iter().flatten() {
            let dir = p.parent().filter(|d| !d.as_os_str().is_empty());
            if dir.is_some_and(|d| !d.is_dir()) {
                usage!("{}: the folder does not exist", p.display());
            }
        }
        Ok(Views {
            html: self.html,
            markdown: self.markdown,
            by: self.by,
            top: self.top,
            summary: self.summary,
            reconnects: self.reconnects,
            proxies: self.proxies,
            window_s: self.window,
            timeline: self.timeline,
            csv_raw: self.csv_raw,
            format: self.format,
            quiet: self.quiet,
            all_codes: self.all_codes,
            path_raw: self.path_raw,
            width: terminal_width(),
        })
    }
}

/// The terminal report's width: `COLUMNS` when set, else the width of the terminal
/// stdout is, else 100; never below 60 or above 200.
fn terminal_width() -> usize {
    let from_env = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok());
    let from_tty = || {
        let term = console::Term::stdout();
        term.is_term()
            .then(|| term.size_checked().map(|(_, cols)| usize::from(cols)))
            .flatten()
    };
    from_env
        .or_else(from_tty)
        .unwrap_or(crate::render::DEFAULT_WIDTH)
        .clamp(60, 200)
}

/// Progress on stderr only for a person watching and a report that will be printed.
fn progress(quiet: bool) -> bool {
    !quiet && std::io::IsTerminal::is_terminal(&std::io::stderr())
}

/// Check an `analyze` command line into its run.
pub fn analyze_config(a: AnalyzeArgs) -> Result<cmd::analyze::Config> {
    if a.partition_by.is_none() {
        check_outputs([&a.sessions])?;
    } else if let Some(p) = &a.sessions {
        if p.is_file() || TableFormat::from_path(p).is_ok() {
            usage!(
                "--partition-by writes a folder of Parquet files; --sessions {} names a file \
                 (give a folder, e.g. --sessions sessions/)",
                p.display()
            );
        }
    }
    let mut outputs = vec![
        ("--sessions", &a.sessions),
        ("--refused", &a.refused),
        ("--closes", &a.closes),
    ];
    outputs.extend(a.report.outputs());
    check_output_paths(&outputs, &a.files)?;
    check_outputs([&a.refused, &a.closes])?;
    let views = a.report.views()?;
    if a.files.iter().filter(|f| *f == "-").count() > 1 {
        usage!("standard input (-) can be given only once");
    }
    if a.max_connections == 0 {
        usage!("--max-connections must be at least 1");
    }
    Ok(cmd::analyze::Config {
        logs: a.logs.options()?,
        keylogs: a.logs.keylogs.clone(),
        paths: a.files,
        sessions: a.sessions,
        partition_by: a.partition_by,
        refused: a.refused,
        closes: a.closes,
        threads: a.threads,
        spill: SpillOptions {
            dir: a.spill_dir.unwrap_or_else(|| SpillOptions::default().dir),
            rows: (a.spill_after > 0).then_some(a.spill_after),
        },
        options: Options {
            limits: Limits {
                max_conns: a.max_connections,
                max_buffered: a.max_buffered,
            },
            progress: progress(views.quiet),
            shards: crate::pipeline::AUTO_SHARDS,
            chunk_bytes: a.chunk_bytes,
            ..Options::default()
        },
        views,
    })
}

/// Check a `report` command line into its run.
pub fn report_config(a: ReportCmdArgs) -> Result<cmd::report::Config> {
    check_outputs([&a.sessions])?;
    let mut outputs = vec![("--sessions", &a.sessions)];
    outputs.extend(a.report.outputs());
    check_output_paths(&outputs, &a.paths)?;
    Ok(cmd::report::Config {
        paths: a.paths,
        sessions: a.sessions,
        views: a.report.views()?,
    })
}

/// Check an `audit` command line into its run.
pub fn audit_config(a: AuditArgs) -> Result<cmd::audit::Config> {
    check_outputs([&a.sessions, &a.report.summary, &a.report.reconnects])?;
    let mut outputs = vec![("--sessions", &a.sessions)];
    outputs.extend(a.report.outputs());
    check_output_paths(&outputs, &a.paths)?;
    let views = a.report.views()?;
    if a.paths.iter().filter(|p| *p == "-").count() > 1 {
        usage!("standard input (-) can be given only once");
    }
    let mut seen = Vec::new();
    for t in &a.max_rate {
        if seen.contains(&t.key) {
            usage!("--max-rate {} given twice", t.key.label());
        }
        seen.push(t.key);
    }
    if let Some(b) = &a.baseline {
        if !b.exists() {
            usage!("{}: no such baseline file or folder", b.display());
        }
    }
    Ok(cmd::audit::Config {
        logs: a.logs.options()?,
        keylogs: a.logs.keylogs.clone(),
        allow_undecrypted: a.allow_undecrypted,
        paths: a.paths,
        baseline: a.baseline,
        max_rate: a.max_rate,
        html: views.html.clone(),
        markdown: views.markdown.clone(),
        sessions: a.sessions,
        options: Options {
            limits: Limits::default(),
            progress: progress(views.quiet),
            shards: crate::pipeline::AUTO_SHARDS,
            ..Options::default()
        },
        views,
    })
}
