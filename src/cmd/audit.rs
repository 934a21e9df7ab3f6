//! `wsaudit audit`: the nightly job. Analyze everything given, compare with a baseline,
//! check `--max-rate` thresholds, say what changed, write Markdown and HTML.
//!
//! Contract: inputs are read exactly as `analyze` reads them ([`collect`]); the
//! [`Report`](crate::analysis::summary::Report) is the one `analyze` builds, with the `server` and `path` breakdowns and
//! the timeline always in (the HTML charts use them), and the terminal shows only the
//! breakdowns asked for with `--by`. The verdict's rules are [`crate::audit`]'s. Exit
//! code: 2 when anything could not be read or written (errors win), else 1 when a
//! threshold is breached, else 0.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use polars::prelude::*;

use crate::analysis::breakdown::GroupBy;
use crate::analysis::summary::{self, ReportOptions};
use crate::analysis::{charts, percode, reconnect};
use crate::audit::{check, compare, Audit, Baseline, Threshold};
use crate::cmd::{collect, OutputFormat, Views};
use crate::inputs;
use crate::logs::LogOptions;
use crate::pipeline;
use crate::render;
use crate::table::export::SessionsOut;
use crate::table::spill::SpillOptions;
use crate::table::{load, write};
use crate::text;

/// A checked `audit` run.
#[derive(Debug, Clone)]
pub struct Config {
    /// As given: captures, logs, tables, folders, globs, `-`.
    pub paths: Vec<String>,
    pub logs: LogOptions,
    /// An earlier night: a session table (file or folder) or a `--summary` export.
    pub baseline: Option<PathBuf>,
    pub max_rate: Vec<Threshold>,
    pub html: Option<PathBuf>,
    pub markdown: Option<PathBuf>,
    /// Where the merged session table goes (tomorrow night's baseline).
    pub sessions: Option<PathBuf>,
    pub views: Views,
    pub options: pipeline::Options,
}

/// Read the baseline: a session table (file or folder), a `--summary` export, or a
/// capture. Problems reading parts of it are returned next to what was read.
pub fn load_baseline(
    path: &Path,
    opts: &ReportOptions,
    pipe: &pipeline::Options,
) -> Result<(Baseline, Vec<String>)> {
    let name = path.display().to_string();
    if path.is_file() && inputs::is_table_name(path) {
        let df = load::read_raw(path, false).with_context(|| format!("{name}: cannot read"))?;
        let has = |c: &str| df.schema().contains(c);
        if !has("session_id") && has("close_code") && has("sessions") {
            return Ok((Baseline::from_summary(name, &df)?, Vec::new()));
        }
    }
    let sources = inputs::classify(std::slice::from_ref(&name), false);
    let got = collect::collect(
        &sources,
        Vec::new(),
        pipe,
        &LogOptions::default(),
        false,
        &SpillOptions::default(),
    )?;
    if got.inputs.iter().all(|i| i.sessions == 0) && !got.errors.is_empty() {
        bail!("baseline {}", got.errors.join("; "));
    }
    let sessions = got.sessions.drain(&mut |_| {}, true)?.sessions;
    let r = summary::build(got.inputs, got.time_range, &sessions, &got.refused, opts)?;
    Ok((Baseline::from_report(name, r), got.errors))
}

/// `wsaudit audit`: returns the exit code (0 pass, 1 breached, 2 errors); `Err` only for
/// bad arguments found before reading anything.
pub fn run(args: Config) -> Result<ExitCode> {
    if let Some(b) = &args.baseline {
        if !b.exists() {
            bail!("{}: no such baseline file or folder", b.display());
        }
    }
    let pipe = &args.options;
    let mut by = args.views.by.clone();
    for extra in [GroupBy::Server, GroupBy::Path] {
        if !by.contains(&extra) {
            by.push(extra);
        }
    }
    let opts = ReportOptions {
        by,
        timeline: true,
        ..args.views.report_options()
    };

    let sources = inputs::classify(&args.paths, args.logs.format.is_some());
    let got = collect::collect(
        &sources,
        Vec::new(),
        pipe,
        &args.logs,
        false,
        &SpillOptions::default(),
    )?;
    for w in &got.warnings {
        eprintln!("wsaudit: {w}");
    }
    let mut errors = got.errors;
    let mut out = match &args.sessions {
        Some(path) => SessionsOut::file(path, !args.views.csv_raw),
        None => SessionsOut::none(),
    };
    let sessions = got
        .sessions
        .drain(&mut |batch| out.write(batch), true)?
        .sessions;
    if let Err(e) = out.finish() {
        errors.push(format!("{e:#}"));
    }

    let write_table = |df: &mut DataFrame, path: &Path, errors: &mut Vec<String>| {
        if let Err(e) = write::write_table_with(df, path, !args.views.csv_raw) {
            errors.push(format!("{e:#}"));
        }
    };
    if let Some(path) = &args.views.summary {
        let mut df = percode::per_code_frame(&sessions)?;
        write_table(&mut df, path, &mut errors);
    }
    let mut rec = reconnect::reconnects(&sessions, args.views.window_s)?;
    if let Some(path) = &args.views.reconnects {
        write_table(&mut rec, path, &mut errors);
    }

    let report = summary::build(got.inputs, got.time_range, &sessions, &got.refused, &opts)?;
    let baseline = match &args.baseline {
        None => None,
        Some(p) => match load_baseline(p, &opts, pipe) {
            Ok((b, errs)) => {
                errors.extend(errs.into_iter().map(|e| format!("baseline {e}")));
                Some(b)
            }
            Err(e) => {
                errors.push(format!("{e:#}"));
                None
            }
        },
    };
    let changes = baseline
        .as_ref()
        .map(|b| compare(&report, b))
        .unwrap_or_default();
    let checks = check(&report, &args.max_rate);
    let extras = charts::extras(&sessions, &rec)?;
    let mut audit = Audit::new(errors, checks, baseline, changes, report, extras);

    // The reports carry the verdict, so a write failure found after writing one of them
    // is only on stderr and in the exit code.
    let mut late = Vec::new();
    if let Some(p) = &args.markdown {
        if let Err(e) = write::write_text_atomic(p, &render::markdown::render(&audit)) {
            late.push(format!("{e:#}"));
        }
    }
    if let Some(p) = &args.html {
        if let Err(e) = write::write_text_atomic(p, &render::html::render(&audit)) {
            late.push(format!("{e:#}"));
        }
    }
    if !late.is_empty() {
        audit = Audit::new(
            audit.errors.into_iter().chain(late).collect(),
            audit.checks,
            audit.baseline,
            audit.changes,
            audit.report,
            audit.extras,
        );
    }

    for e in &audit.errors {
        eprintln!("wsaudit: {}", text::sanitize(e));
    }
    if !args.views.quiet {
        let out = match args.views.format {
            OutputFormat::Json => serde_json::to_string_pretty(&audit)? + "\n",
            OutputFormat::Text => {
                let mut shown = audit.report.clone();
                shown.breakdowns.retain(|b| args.views.by.contains(&b.by));
                if !args.views.timeline {
                    shown.timeline = None;
                }
                format!(
                    "{}\n{}",
                    render::audit::render_text(&audit),
                    render::report::render_text(&shown)
                )
            }
        };
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(out.as_bytes())?;
        stdout.flush()?;
    }
    Ok(ExitCode::from(audit.verdict.exit_code()))
}
