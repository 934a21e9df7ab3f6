//! The `wsaudit` binary: exit codes and error printing only.
//!
//! Exit codes: 0 every input read; 2 a problem with an input or an output (each printed
//! as `wsaudit: <file>: <what> at byte <offset>`; everything else was still processed).
//! A closed stdout (e.g. `| head`) is not an error. Ctrl-C (or SIGTERM) stops at once with
//! exit code 130, removing any export that was still being written.

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
                write::remove_temp_files();
                run::remove_spill_dirs();
                cmd::say("interrupted; no partial export was left behind");
                std::process::exit(130);
            }
        });
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    stop_cleanly_on_interrupt();
    let result = match cli.command {
        Command::Analyze(args) => cli::analyze_config(args).and_then(cmd::analyze::run),
        Command::Report(args) => cli::report_config(args).and_then(cmd::report::run),
        Command::Codes => print(&codes::list()),
        Command::Explain { code } => print(&codes::explain(code)),
        Command::Compare { a, b } => print(&codes::compare(a, b)),
        Command::Audit(args) => cli::audit_config(args).and_then(cmd::audit::run),
    };
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
