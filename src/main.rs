//! The `wsaudit` binary: exit codes and error printing only.
//!
//! Exit codes: 0 every input read; 2 a problem with an input or an output (each printed
//! as `wsaudit: <file>: <what> at byte <offset>`; everything else was still processed).
//! A closed stdout (e.g. `| head`) is not an error. Ctrl-C (or SIGTERM) stops at once with
//! exit code 130, removing any export that was still being written.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;
use polars::prelude::DataFrame;

use wsaudit::cli::{AnalyzeConfig, Cli, Command, OutputFormat, ReportArgs, ReportConfig};
use wsaudit::codes;
use wsaudit::inputs;
use wsaudit::report::export::SessionsOut;
use wsaudit::report::summary::{self, InputInfo, ReportOptions};
use wsaudit::report::{load, percode, reconnect, spill, write};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's tuning for a tool whose memory is a promise (peak RSS, issue 4).
mod allocator {
    // Positions in `mi_option_e` of the bundled mimalloc 3.x (include/mimalloc.h);
    // libmimalloc-sys names only some of them.
    const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

    /// Set before anything allocates (a constructor in `.init_array`, as the
    /// `MIMALLOC_*` environment variables would be; set in `main` they came too late for
    /// the first arena): commit arena memory only when used, and return freed memory
    /// to the system at once. The table and report stages allocate and free big
    /// columns in bursts; with the defaults, freed memory still counted when the next
    /// burst came (10 GiB capture: 337 MiB peak RSS with the defaults, 213 MiB with
    /// these; no measurable time cost once batch vectors were recycled).
    /// (ELF only; elsewhere mimalloc runs with its defaults.)
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    #[used]
    #[link_section = ".init_array"]
    static AT_LOAD: extern "C" fn() = at_load;

    #[cfg_attr(
        not(any(target_os = "linux", target_os = "android", target_os = "freebsd")),
        allow(dead_code)
    )]
    extern "C" fn at_load() {
        // SAFETY: setting documented options; no allocation depends on their old values.
        unsafe {
            libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0);
            libmimalloc_sys::mi_option_set(PURGE_DELAY, 0);
        }
    }
}

/// Ctrl-C or SIGTERM: remove half-written exports and stop at once (exit 130, as
/// shells report an interrupted command).
fn stop_cleanly_on_interrupt() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    if let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
        std::thread::spawn(move || {
            if signals.forever().next().is_some() {
                write::remove_temp_files();
                spill::remove_spill_dirs();
                eprintln!("wsaudit: interrupted; no partial export was left behind");
                std::process::exit(130);
            }
        });
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    stop_cleanly_on_interrupt();
    let result = match cli.command {
        Command::Analyze(args) => AnalyzeConfig::from_args(args).and_then(run_analyze),
        Command::Report(args) => ReportConfig::from_args(args).and_then(run_report),
        Command::Codes => print(&codes::list()),
        Command::Explain { code } => print(&codes::explain(code)),
        Command::Compare { a, b } => print(&codes::compare(a, b)),
        Command::Audit(args) => wsaudit::audit::run(args),
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

fn print(text: &str) -> Result<ExitCode> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Write a table, reporting (not propagating) a failure so other outputs still happen.
fn export(df: &mut DataFrame, path: &Path, args: &ReportArgs, failed: &mut bool) {
    if let Err(e) = write::write_table_with(df, path, !args.csv_raw) {
        eprintln!("wsaudit: {e:#}");
        *failed = true;
    }
}

/// Build, export and print the report; returns whether an export failed.
fn report(
    inputs: Vec<InputInfo>,
    time_range: Option<(i64, i64)>,
    sessions: &DataFrame,
    refused: &DataFrame,
    args: &ReportArgs,
) -> Result<bool> {
    let mut failed = false;
    let opts = ReportOptions {
        by: args.by.clone(),
        top: args.top,
        window_s: args.window,
        timeline: args.timeline,
    };
    if let Some(path) = &args.summary {
        let mut df = percode::per_code_frame(sessions)?;
        export(&mut df, path, args, &mut failed);
    }
    if let Some(path) = &args.reconnects {
        let mut df = reconnect::reconnects(sessions, args.window)?;
        export(&mut df, path, args, &mut failed);
    }
    if !args.quiet {
        let r = summary::build(inputs, time_range, sessions, refused, &opts)?;
        let text = match args.format {
            OutputFormat::Text => summary::render_text(&r),
            OutputFormat::Json => serde_json::to_string_pretty(&r)? + "\n",
        };
        print(&text)?;
    }
    Ok(failed)
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

fn run_analyze(cfg: AnalyzeConfig) -> Result<ExitCode> {
    if let Some(n) = cfg.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()?;
    }
    let sources = inputs::classify(&cfg.paths, cfg.logs.format.is_some());
    let got = inputs::collect(
        &sources,
        Vec::new(),
        &cfg.options,
        &cfg.logs,
        cfg.closes.is_some(),
        &cfg.spill,
    )?;
    let mut failed = !got.errors.is_empty();
    for e in &got.errors {
        eprintln!("wsaudit: {e}");
    }
    for w in &got.warnings {
        eprintln!("wsaudit: {w}");
    }
    let mut out = match (&cfg.sessions, cfg.partition_by) {
        (Some(dir), Some(by)) => {
            let tag = run_tag(&cfg.paths.iter().map(String::as_str).collect::<Vec<_>>());
            SessionsOut::partitioned(dir, by, &tag)
        }
        (Some(path), None) => SessionsOut::file(path, !cfg.report.csv_raw),
        _ => SessionsOut::none(),
    };
    // Rows go to the export as they are merged; the reports get what they read.
    let reports =
        !cfg.report.quiet || cfg.report.summary.is_some() || cfg.report.reconnects.is_some();
    let drained = got.sessions.drain(&mut |batch| out.write(batch), reports)?;
    if let Err(e) = out.finish() {
        eprintln!("wsaudit: {e:#}");
        failed = true;
    }
    let sessions = drained.sessions;
    let mut refused = got.refused;
    if let Some(path) = &cfg.refused {
        export(&mut refused, path, &cfg.report, &mut failed);
    }
    if let Some(path) = &cfg.closes {
        if let Some(mut df) = drained.closes {
            export(&mut df, path, &cfg.report, &mut failed);
        }
    }
    failed |= report(got.inputs, got.time_range, &sessions, &refused, &cfg.report)?;
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn run_report(cfg: ReportConfig) -> Result<ExitCode> {
    let files = load::expand(&cfg.paths)?;
    let loaded = load::load(&files)?;
    let mut failed = false;
    for (f, p) in &loaded.problems {
        eprintln!("wsaudit: {}: {p}", f.display());
        failed = true;
    }
    let mut sessions = loaded.sessions;
    if let Some(path) = &cfg.sessions {
        export(&mut sessions, path, &cfg.report, &mut failed);
    }
    let inputs = loaded
        .files
        .iter()
        .map(|(f, kind, rows)| inputs::table_input(f, *kind, *rows))
        .collect();
    failed |= report(inputs, None, &sessions, &loaded.refused, &cfg.report)?;
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
