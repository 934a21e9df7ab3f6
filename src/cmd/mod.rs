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
pub mod report;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::Result;
use polars::prelude::DataFrame;

use crate::analysis::breakdown::GroupBy;
use crate::analysis::summary::{self, InputInfo, ReportOptions};
use crate::analysis::{percode, reconnect};
use crate::inputs;
use crate::logs::LogOptions;
use crate::pipeline;
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
    pub window_s: f64,
    pub timeline: bool,
    /// Write CSV cells as they are (no formula guard).
    pub csv_raw: bool,
    pub format: OutputFormat,
    pub quiet: bool,
}

impl Views {
    /// The report's options for these views.
    pub fn report_options(&self) -> ReportOptions {
        ReportOptions {
            by: self.by.clone(),
            top: self.top,
            window_s: self.window_s,
            timeline: self.timeline,
        }
    }

    /// Whether any report is computed (printed or exported).
    pub fn any_report(&self) -> bool {
        !self.quiet || self.summary.is_some() || self.reconnects.is_some()
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

/// Write `text` to stdout (a closed stdout ends the run quietly, see `main`).
pub fn print(text: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| anyhow::Error::new(e).context("standard output: cannot write"))
}

/// How a run reads its inputs.
pub struct Reading<'a> {
    pub options: &'a pipeline::Options,
    pub logs: &'a LogOptions,
    pub spill: &'a SpillOptions,
    /// Keep the captures' Close-frame table (`--closes`).
    pub with_closes: bool,
    /// Keep the rows for a report (else only the export sees rows merged from disk).
    pub for_reports: bool,
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
    let sources = inputs::classify(paths, how.logs.format.is_some());
    let got = collect::collect(
        &sources,
        Vec::new(),
        how.options,
        how.logs,
        how.with_closes,
        how.spill,
    )?;
    notice(&got.errors, &got.warnings);
    let drained = got
        .sessions
        .drain(&mut |batch| out.write(batch), how.for_reports)?;
    Ok(Read {
        inputs: got.inputs,
        time_range: got.time_range,
        sessions: drained.sessions,
        closes: drained.closes,
        refused: got.refused,
        errors: got.errors,
        export_error: out.finish().err(),
    })
}

/// The per-code (`--summary`) and reconnect (`--reconnects`) exports; failures go to
/// `failed` as `<file>: <why>`. Returns the reconnect table when it was made (always
/// when `need_reconnects`).
fn export_views(
    sessions: &DataFrame,
    views: &Views,
    need_reconnects: bool,
    failed: &mut Vec<String>,
) -> Result<Option<DataFrame>> {
    let mut write = |df: &mut DataFrame, path: &Path| failed.extend(write_table(df, path, views));
    if let Some(path) = &views.summary {
        write(&mut percode::per_code_frame(sessions)?, path);
    }
    if views.reconnects.is_none() && !need_reconnects {
        return Ok(None);
    }
    let mut rec = reconnect::reconnects(sessions, views.window_s)?;
    if let Some(path) = &views.reconnects {
        write(&mut rec, path);
    }
    Ok(Some(rec))
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

/// The per-code and reconnect exports, then the report printed; returns whether an
/// export failed.
fn report(
    inputs: Vec<InputInfo>,
    time_range: Option<(i64, i64)>,
    sessions: &DataFrame,
    refused: &DataFrame,
    views: &Views,
) -> Result<bool> {
    let mut failures = Vec::new();
    export_views(sessions, views, false, &mut failures)?;
    for f in &failures {
        say(f);
    }
    // The last export is complete: put the run's exports in place together (a no-op
    // unless the command opened a `write::ExportSet`).
    if let Err(why) = write::commit_exports() {
        say(&why);
        failures.push(why);
    }
    if !views.quiet {
        let r = summary::build(
            inputs,
            time_range,
            sessions,
            refused,
            &views.report_options(),
        )?;
        let text = match views.format {
            OutputFormat::Text => crate::render::report::render_text(&r),
            OutputFormat::Json => serde_json::to_string_pretty(&r)? + "\n",
        };
        print(&text)?;
    }
    Ok(!failures.is_empty())
}
