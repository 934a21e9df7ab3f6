//! The commands: `analyze`, `report` and `audit`, from checked configurations to an
//! exit code.
//!
//! Contract: every command runs the same stages: find and read the inputs
//! ([`collect`]), hand the session rows to the export as they are merged
//! ([`crate::table::export`]), compute the facts ([`crate::analysis`]), judge them
//! ([`crate::audit`], `audit` only), print them ([`crate::render`], or the models as
//! JSON). Problems with one input or one output are printed as `wsaudit: ...` and turn
//! the exit code to 2, and the run goes on; `Err` is only for what stops a run before it
//! reads anything (a bad argument) or a failure to print. The configurations are built
//! from the command line by [`crate::cli`]; nothing here knows clap's argument types.

pub mod analyze;
pub mod audit;
pub mod collect;
pub mod error;
pub mod report;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub use error::{Error, Result};
use polars::prelude::DataFrame;

use crate::analysis::breakdown::GroupBy;
use crate::analysis::summary::{self, InputInfo, ReportOptions};
use crate::analysis::{charts, percode, reconnect};
use crate::inputs;
use crate::logs::LogOptions;
use crate::pipeline;
use crate::table::columns::Kept;
use crate::table::export::SessionsOut;
use crate::table::spill::SpillOptions;
use crate::table::write;
use crate::text::with_causes;

/// How the report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum OutputFormat {
    /// For people (at most 100 columns).
    #[default]
    Text,
    /// One JSON document on stdout.
    Json,
}

/// What a command prints and exports besides the session table: shared by `analyze`,
/// `report` and `audit`.
#[derive(Debug, Clone)]
pub struct Views {
    pub by: Vec<GroupBy>,
    pub top: usize,
    /// `--summary`: the per-code table.
    pub summary: Option<PathBuf>,
    /// `--reconnects`: one row per ended session with its reconnect.
    pub reconnects: Option<PathBuf>,
    /// `--proxies`: one row per session paired across a proxy.
    pub proxies: Option<PathBuf>,
    pub window_s: f64,
    pub timeline: bool,
    /// Write CSV cells as they are (no formula guard).
    pub csv_raw: bool,
    pub format: OutputFormat,
    pub quiet: bool,
    /// `--all-codes`: every code its own row in the terminal.
    pub all_codes: bool,
    /// `--path-raw`: paths grouped as they are.
    pub path_raw: bool,
    /// The terminal's width in columns.
    pub width: usize,
    /// `--html`: the dashboard.
    pub html: Option<PathBuf>,
    /// `--markdown`: the same views as Markdown.
    pub markdown: Option<PathBuf>,
}

impl Views {
    /// The report's options for these views.
    pub fn report_options(&self) -> ReportOptions {
        ReportOptions {
            by: self.by.clone(),
            top: self.top,
            window_s: self.window_s,
            timeline: self.timeline,
            path_raw: self.path_raw,
        }
    }

    /// How the terminal report is laid out.
    pub fn style(&self) -> crate::render::Style {
        crate::render::Style {
            width: self.width,
            top: self.top.max(1),
            all_codes: self.all_codes,
        }
    }

    /// Whether any report is computed (printed or exported).
    pub fn any_report(&self) -> bool {
        !self.quiet
            || self.summary.is_some()
            || self.reconnects.is_some()
            || self.proxies.is_some()
            || self.pages()
    }

    /// Whether an HTML or Markdown page is written.
    pub fn pages(&self) -> bool {
        self.html.is_some() || self.markdown.is_some()
    }

    /// The options of every figure computed: [`Views::report_options`], and with the
    /// pages, which always chart servers, paths and closes over time, those too.
    pub fn figures(&self) -> ReportOptions {
        let mut opts = self.report_options();
        if self.pages() {
            for extra in [GroupBy::Server, GroupBy::Path] {
                if !opts.by.contains(&extra) {
                    opts.by.push(extra);
                }
            }
            opts.timeline = true;
        }
        opts
    }

    /// What the reports of these views read of each session row (`None`: no report).
    pub fn kept(&self) -> Option<Kept> {
        self.any_report()
            .then(|| summary::kept_for(&self.figures(), self.pages()))
    }
}

/// One `wsaudit: <message>` line on stderr. File names and wire text in it are made
/// safe for a terminal ([`crate::text::sanitize`]: a name holding `ESC[2J` cannot clear
/// the screen), and a stderr that is closed or full is not a crash: the line is lost,
/// the exit code still says what happened.
pub fn say(message: &str) {
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "wsaudit: {}", crate::text::sanitize(message));
}

/// At most this many lines of one kind (errors, notes) are said on stderr; the rest
/// are counted, and `--format json` lists every input with its outcome.
pub const MAX_SAID: usize = 50;

/// Say each line ([`say`]), at most [`MAX_SAID`] of them, then how many more there were.
pub fn say_all(lines: &[String], what: &str) {
    for l in lines.iter().take(MAX_SAID) {
        say(l);
    }
    if lines.len() > MAX_SAID {
        say(&format!(
            "... and {} more {what} (--format json lists every input with its outcome)",
            lines.len() - MAX_SAID
        ));
    }
}

/// Write `text` to stdout (a closed stdout ends the run quietly, see `main`).
pub fn print(text: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(Error::Stdout)
}

/// How a run reads its inputs.
pub struct Reading<'a> {
    pub options: &'a pipeline::Options,
    /// `--keylog` arguments: files, folders, globs.
    pub keylogs: &'a [String],
    pub logs: &'a LogOptions,
    pub spill: &'a SpillOptions,
    /// Keep the captures' Close-frame table (`--closes`).
    pub with_closes: bool,
    /// What the reports read of each row (`None`: no report; only the export sees rows
    /// merged from disk).
    pub keep: Option<Kept>,
}

/// What a run read.
pub struct Read {
    pub inputs: Vec<InputInfo>,
    /// Packet time range (ns) when every input was a capture.
    pub time_range: Option<(i64, i64)>,
    /// Every session row (see [`crate::table::drain::Drained::sessions`]).
    pub sessions: DataFrame,
    /// The captures' Close-frame table, when asked for.
    pub closes: Option<DataFrame>,
    pub refused: DataFrame,
    /// Inputs that could not be read, or not wholly: `<input>: <what>`.
    pub errors: Vec<String>,
    /// Why the session export failed, if it did.
    pub export_error: Option<crate::table::error::Error>,
}

/// The one "collect inputs -> session rows -> export" routine of every command: find
/// and read `paths`, hand the session rows to `out` as they are merged (batch by batch
/// when they were spilled), and return what was read. `notice` sees the input problems
/// and the warnings once every input was read, before the rows are merged.
pub fn read(
    paths: &[String],
    how: &Reading,
    mut out: SessionsOut,
    notice: &mut dyn FnMut(&[String], &[String]),
) -> Result<Read> {
    let mut sources = inputs::classify(paths, how.logs);
    sources.add_keylogs(how.keylogs);
    let got = collect::collect(&sources, how.options, how.logs, how.with_closes, how.spill)?;
    let errors = got.errors();
    let mut notes = got.warnings.clone();
    notes.extend(got.inputs.iter().filter_map(|i| match &i.outcome {
        inputs::Outcome::Skipped { why } => Some(format!("{}: skipped: {why}", i.name)),
        _ => None,
    }));
    notice(&errors, &notes);
    let drained = got
        .sessions
        .drain(&mut |batch| out.write(batch), how.keep.as_ref())?;
    Ok(Read {
        inputs: got.inputs,
        time_range: got.time_range,
        sessions: drained.sessions,
        closes: drained.closes,
        refused: got.refused,
        errors,
        export_error: out.finish().err(),
    })
}

/// The per-code (`--summary`), proxies (`--proxies`) and reconnect (`--reconnects`)
/// exports, over every row of the table; failures go to `failed` as `<file>: <why>`.
fn export_views(sessions: &DataFrame, views: &Views, failed: &mut Vec<String>) -> Result<()> {
    let mut write = |df: &mut DataFrame, path: &Path| failed.extend(write_table(df, path, views));
    if let Some(path) = &views.summary {
        write(&mut percode::per_code_frame(sessions)?, path);
    }
    if let Some(path) = &views.proxies {
        // Pairing needs both legs' rows: it runs over the whole table, after it is
        // collected (the streamed session export cannot carry the pair columns).
        let pairs = crate::analysis::proxies::pair(sessions)?;
        write(&mut crate::analysis::proxies::pairs_frame(&pairs)?, path);
    }
    if let Some(path) = &views.reconnects {
        write(&mut reconnect::reconnects(sessions, views.window_s)?, path);
    }
    Ok(())
}

/// Write one table as `views` says (CSV formula guard unless `--csv-raw`); a failure
/// comes back as its message, so other outputs still happen.
fn write_table(df: &mut DataFrame, path: &Path, views: &Views) -> Option<String> {
    write::write_table_with(df, path, !views.csv_raw)
        .err()
        .map(|e| with_causes(&e))
}

/// Write a table now, saying (not propagating) a failure.
fn export(df: &mut DataFrame, path: &Path, views: &Views, failed: &mut bool) {
    if let Some(why) = write_table(df, path, views) {
        say(&why);
        *failed = true;
    }
}

/// The per-code and reconnect exports, the HTML and Markdown pages, then the report
/// printed; returns whether an output failed. The table is taken: the report leaves
/// rows out of it without holding it twice ([`summary::build_counted`]).
fn report(
    inputs: Vec<InputInfo>,
    time_range: Option<(i64, i64)>,
    sessions: DataFrame,
    refused: &DataFrame,
    views: &Views,
) -> Result<bool> {
    let mut failures = Vec::new();
    export_views(&sessions, views, &mut failures)?;
    // Once the last export is complete: put the run's exports in place together (a
    // no-op unless the command opened a `write::ExportSet`), before the report is printed.
    let commit = |failures: &mut Vec<String>| {
        if let Err(why) = write::commit_exports() {
            failures.push(why);
        }
    };
    let say_failures = |failures: &[String]| failures.iter().for_each(|f| say(f));
    if views.quiet && !views.pages() {
        commit(&mut failures);
        say_failures(&failures);
        return Ok(!failures.is_empty());
    }
    let opts = views.figures();
    let (mut r, counted) = summary::build_counted(inputs, time_range, sessions, refused, &opts)?;
    if views.pages() {
        // Drawn from the rows the report counts (no undecrypted TLS, each proxied
        // session once), so that the charts and the report agree.
        let rec = reconnect::reconnects_with(&counted, views.window_s, charts::RECONNECT_COLUMNS)?;
        let x = charts::extras(&counted, &rec)?;
        use crate::render::{html, markdown};
        for (path, page) in [
            (&views.html, html::render_report as fn(&_, &_) -> String),
            (&views.markdown, markdown::render_report),
        ] {
            if let Some(p) = path {
                if let Err(e) = write::write_text_atomic(p, &page(&r, &x)) {
                    failures.push(with_causes(&e));
                }
            }
        }
    }
    commit(&mut failures);
    say_failures(&failures);
    if !views.quiet {
        // The terminal and JSON show what was asked for.
        r.breakdowns.retain(|b| views.by.contains(&b.by));
        if !views.timeline {
            r.timeline = None;
        }
        let text = match views.format {
            OutputFormat::Text => crate::render::report::render_text(&r, &views.style()),
            OutputFormat::Json => serde_json::to_string_pretty(&r)? + "\n",
        };
        print(&text)?;
    }
    Ok(!failures.is_empty())
}
