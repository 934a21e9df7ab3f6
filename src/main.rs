//! The `wsaudit` binary: exit codes and error printing only.
//!
//! Exit codes: 0 every input read; 2 a problem with an input or an output (each printed
//! as `wsaudit: <file>: <what> at byte <offset>`; everything else was still processed).
//! A closed stdout (e.g. `| head`) is not an error. Ctrl-C (or SIGTERM) stops at once with
//! exit code 130, removing any export that was still being written; while the exports
//! of an `analyze` run are being renamed into place (one set), it waits for the renames
//! to end, so either every previous file or every new one is there, and says which. Too few file
//! descriptors (`ulimit -n`) is said once at start (exit 2) after the soft limit was
//! raised as far as the hard one allows, instead of a panic deep inside polars.

use std::process::ExitCode;

use clap::Parser;

use wsaudit::cli::{self, Cli, Command};
use wsaudit::cmd;
use wsaudit::codes;
use wsaudit::table::{run, write};

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
                // Renames of the run's exports under way finish first (exports as a set).
                write::note_interrupt();
                let _renames = write::hold_renames();
                write::remove_temp_files();
                run::remove_spill_dirs();
                cmd::say(match write::set_stage() {
                    write::SetStage::NoSet => "interrupted; no partial export was left behind",
                    write::SetStage::Before => {
                        "interrupted; no export was replaced: every previous file is as it was"
                    }
                    write::SetStage::Done => {
                        "interrupted after this run's exports were all in place"
                    }
                });
                std::process::exit(130);
            }
        });
    }
}

/// Open files a run needs at least: stdin, stdout and stderr, the interrupt handler's
/// socket pair, polars' I/O runtime (an epoll instance and two event descriptors, made
/// on the first lazy query: with 8 allowed that panicked), an input and an export or
/// two at once, and the spill files being merged.
const MIN_OPEN_FILES: u64 = 16;

/// Raise the soft limit on open files to the hard limit (as much as the operator allows;
/// partitioned exports keep up to 64 files open), and refuse to start below
/// [`MIN_OPEN_FILES`] with a message that says which limit and how to change it.
fn enough_open_files() -> Result<(), String> {
    // SAFETY: getrlimit/setrlimit on a zeroed struct of the right type.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return Ok(());
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
        if (lim.rlim_cur as u64) < MIN_OPEN_FILES {
            return Err(format!(
                "only {} open files are allowed (ulimit -n); wsaudit needs at least {MIN_OPEN_FILES}: \
                 raise the limit (ulimit -n 1024) and run again",
                lim.rlim_cur
            ));
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(why) = enough_open_files() {
        cmd::say(&why);
        return ExitCode::from(2);
    }
    stop_cleanly_on_interrupt();
    let result = match cli.command {
        Command::Analyze(args) => cli::analyze_config(args).and_then(cmd::analyze::run),
        Command::Report(args) => cli::report_config(args).and_then(cmd::report::run),
        Command::Codes => print(&codes::list()),
        Command::Explain { code } => print(&codes::explain(code)),
        Command::Compare { a, b } => print(&codes::compare(a, b)),
        Command::Audit(args) => cli::audit_config(args).and_then(cmd::audit::run),
    };
    if std::env::var_os("WSAUDIT_STAGE_CPU").is_some() {
        // For the per-stage benchmark (benches/throughput.rs): one JSON line.
        let c = wsaudit::pipeline::sharded::stage_cpu();
        cmd::say(&format!(
            "stage-cpu {{\"read_ns\":{},\"page_ns\":{},\"decode_ns\":{},\"work_ns\":{}}}",
            c.read_ns, c.page_ns, c.decode_ns, c.work_ns
        ));
    }
    // An interrupt being handled now (its handler holds this while it cleans up, then
    // exits 130) wins over a normal end, so a run that was told to stop says so.
    let held = write::hold_renames();
    if write::interrupted() {
        drop(held);
        loop {
            std::thread::park();
        }
    }
    match result {
        Ok(code) => code,
        // `wsaudit ... | head`: the reader has all it wanted.
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            cmd::say(&wsaudit::text::with_causes(&e));
            ExitCode::from(2)
        }
    }
}

fn print(text: &str) -> cmd::Result<ExitCode> {
    cmd::print(text)?;
    Ok(ExitCode::SUCCESS)
}
