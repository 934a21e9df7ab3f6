//! `wsaudit audit`: the nightly job. Analyze everything given, compare with a baseline,
//! check `--max-rate` thresholds, say what changed, write Markdown and HTML.
//!
//! Contract: inputs are read exactly as `analyze` reads them ([`crate::cmd::read`]); the
//! [`Report`](crate::analysis::summary::Report) is the one `analyze` builds, with the `server` and `path` breakdowns and
//! the timeline always in (the HTML charts use them), and the terminal shows only the
//! breakdowns asked for with `--by`. The verdict's rules are [`crate::audit`]'s. Exit
//! code: 2 when anything could not be read or written (errors win), else 1 when a
//! threshold is breached, else 0.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cmd::{Error, Result};

use crate::analysis::breakdown::GroupBy;
use crate::analysis::summary::{self, ReportOptions};
use crate::analysis::{charts, reconnect};
use crate::audit::{check, compare, Audit, Baseline, Threshold};
use crate::cmd::{export_views, read, say_all, OutputFormat, Reading, Views};
use crate::inputs;
use crate::logs::LogOptions;
use crate::pipeline;
use crate::render;
use crate::table::export::SessionsOut;
use crate::table::spill::SpillOptions;
use crate::table::{load, write};
use crate::text::with_causes;

/// A checked `audit` run.
#[derive(Debug, Clone)]
pub struct Config {
    /// As given: captures, logs, tables, folders, globs, `-`.
    pub paths: Vec<String>,
    pub logs: LogOptions,
    /// `--keylog` arguments.
    pub keylogs: Vec<String>,
    /// `--allow-undecrypted`: TLS connections without keys are not an error.
    pub allow_undecrypted: bool,
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
        let df = load::read_raw(path, false).map_err(|source| Error::BaselineUnreadable {
            name: name.clone(),
            source,
        })?;
        let has = |c: &str| df.schema().contains(c);
        if !has("session_id") && has("close_code") && has("sessions") {
            return Ok((Baseline::from_summary(name, &df)?, Vec::new()));
        }
    }
    let how = Reading {
        options: pipe,
        keylogs: &[],
        logs: &LogOptions::default(),
        spill: &SpillOptions::default(),
        with_closes: false,
        keep: Some(summary::kept_for(opts, false)),
    };
    let got = read(
        std::slice::from_ref(&name),
        &how,
        SessionsOut::none(),
        &mut |_, _| {},
    )?;
    if got.inputs.iter().all(|i| i.sessions == 0) && !got.errors.is_empty() {
        return Err(Error::Baseline(got.errors.join("; ")));
    }
    let (r, _) =
        summary::build_counted(got.inputs, got.time_range, got.sessions, &got.refused, opts)?;
    Ok((Baseline::from_report(name, r), got.errors))
}

/// `wsaudit audit`: returns the exit code (0 pass, 1 breached, 2 errors); `Err` only for
/// bad arguments found before reading anything.
pub fn run(args: Config) -> Result<ExitCode> {
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

    let out = match &args.sessions {
        Some(path) => SessionsOut::file(path, !args.views.csv_raw),
        None => SessionsOut::none(),
    };
    let how = Reading {
        options: pipe,
        keylogs: &args.keylogs,
        logs: &args.logs,
        spill: &SpillOptions::default(),
        with_closes: false,
        // The audit's pages are always drawn (the verdict's HTML and Markdown).
        keep: Some(summary::kept_for(&opts, true)),
    };
    // Input problems are printed with the verdict's other errors, at the end.
    let got = read(&args.paths, &how, out, &mut |_, notes| {
        say_all(notes, "notes")
    })?;
    let mut errors = got.errors;
    if let Some(e) = &got.export_error {
        errors.push(with_causes(e));
    }
    let sessions = got.sessions;
    export_views(&sessions, &args.views, &mut errors)?;
    let (report, counted) =
        summary::build_counted(got.inputs, got.time_range, sessions, &got.refused, &opts)?;
    // The charts are drawn from the rows the report counts, as in `analyze`.
    let rec = reconnect::reconnects_with(&counted, args.views.window_s, charts::RECONNECT_COLUMNS)?;
    // TLS that could not be read is data the verdict would be blind to: an error,
    // unless the run says to audit without it.
    if report.undecrypted > 0 && !args.allow_undecrypted {
        errors.push(format!(
            "{} TLS connection{} could not be decrypted (no key in the key logs, or a suite \
             wsaudit does not decrypt), so {} in no rate: give the key log with --keylog, \
             or pass --allow-undecrypted to audit without {}",
            report.undecrypted,
            if report.undecrypted == 1 { "" } else { "s" },
            if report.undecrypted == 1 {
                "it is"
            } else {
                "they are"
            },
            if report.undecrypted == 1 {
                "it"
            } else {
                "them"
            },
        ));
    }
    let baseline = match &args.baseline {
        None => None,
        Some(p) => match load_baseline(p, &opts, pipe) {
            Ok((b, errs)) => {
                errors.extend(errs.into_iter().map(|e| format!("baseline {e}")));
                Some(b)
            }
            Err(e) => {
                errors.push(with_causes(&e));
                None
            }
        },
    };
    let changes = baseline
        .as_ref()
        .map(|b| compare(&report, b))
        .unwrap_or_default();
    let checks = check(&report, &args.max_rate);
    let extras = charts::extras(&counted, &rec)?;
    let mut audit = Audit::new(errors, checks, baseline, changes, report, extras);

    // The reports carry the verdict, so a write failure found after writing one of them
    // is only on stderr and in the exit code.
    let mut late = Vec::new();
    if let Some(p) = &args.markdown {
        if let Err(e) = write::write_text_atomic(p, &render::markdown::render(&audit)) {
            late.push(with_causes(&e));
        }
    }
    if let Some(p) = &args.html {
        if let Err(e) = write::write_text_atomic(p, &render::html::render(&audit)) {
            late.push(with_causes(&e));
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

    say_all(&audit.errors, "errors");
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
                    render::report::render_text(&shown, &args.views.style())
                )
            }
        };
        crate::cmd::print(&out)?;
    }
    Ok(ExitCode::from(audit.verdict.exit_code()))
}
