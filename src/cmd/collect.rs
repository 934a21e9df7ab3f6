//! Reading everything a run was given into one session table.
//!
//! Contract: [`collect`] reads what [`crate::inputs::classify`] found: captures through
//! [`pipeline::analyze_all_with`] into [`TableSink`]s (spilling to disk as
//! [`SpillOptions`] says), tables through [`load::load`], logs through [`read_files`];
//! into one session table of the documented schema ([`Sessions`]), the captures'
//! Close-frame table when asked for, and one [`InputInfo`] per input with its
//! [`Outcome`]: read, skipped (why), unrecognised (a log in which no line matched any
//! format), or failed (the error and its byte offset; what was read before it is kept).
//! The run's errors are the inputs' problems ([`errors_of`]); the exit code and the
//! audit's verdict come from [`Outcome::is_failure`]. Single unmatched log lines are
//! counted and reported as warnings, never errors. When capture sessions were spilled,
//! the table is merged back only as it is [`Sessions::drain`]ed.

use std::path::{Path, PathBuf};

use crate::cmd::Result;
use polars::prelude::*;

use crate::analysis::summary::{InputInfo, LogCounts};
use crate::inputs::{self, Outcome, Skip, Sources};
use crate::logs::{read_records, FileStats, LogOptions, Parser, Record};
use crate::pipeline::{self, analyze_all_with};
use crate::table::chunks::{merge_chunks, SessionChunks, SpillBudget, TableSink};
use crate::table::columns::{conform_to, Kept};
use crate::table::drain::Sessions;
use crate::table::load;
use crate::table::run::SpillDir;
use crate::table::session::records_frame;
use crate::table::session::{self, sessions_frame};
use crate::table::spill::{SessionStream, SpillOptions};
use crate::tls::{KeyLog, KeyStore};

/// What a session or refused-upgrade table read back contributes to the report.
pub fn table_input(file: &Path, kind: load::TableKind, rows: usize) -> InputInfo {
    let (sessions, refused) = match kind {
        load::TableKind::Sessions => (rows as u64, 0),
        load::TableKind::Refused => (0, rows as u64),
        _ => (0, 0),
    };
    InputInfo {
        name: file.display().to_string(),
        kind: "table".into(),
        sessions,
        refused_upgrades: refused,
        ..InputInfo::default()
    }
}

/// An input that failed: `error` (with `offset` when known) is its outcome and its one
/// problem.
pub fn failed_input(name: String, kind: &str, error: String, offset: Option<u64>) -> InputInfo {
    InputInfo {
        name,
        kind: kind.into(),
        problems: vec![error.clone()],
        outcome: Outcome::Failed { error, offset },
        ..InputInfo::default()
    }
}

/// An input passed over on purpose.
pub fn skipped_input(path: &Path, why: &Skip) -> InputInfo {
    InputInfo {
        name: path.display().to_string(),
        kind: why.kind().into(),
        outcome: Outcome::Skipped {
            why: why.to_string(),
        },
        ..InputInfo::default()
    }
}

/// Read the run's key logs into one [`KeyLog`], with one input row each: `keylog`,
/// read (bad lines are counted as problems, never fatal), or failed (unreadable, or
/// named on the command line and holding no secret at all).
fn read_keylogs(files: &[(PathBuf, bool)], inputs: &mut Vec<InputInfo>) -> KeyLog {
    let mut all = KeyLog::new();
    for (path, named) in files {
        let name = path.display().to_string();
        let bytes = match inputs::read_keylog(path) {
            Ok(b) => b,
            Err(e) => {
                inputs.push(failed_input(
                    name,
                    "keylog",
                    format!("cannot read: {e}"),
                    None,
                ));
                continue;
            }
        };
        let mut one = KeyLog::new();
        let found = one.parse(&bytes);
        let st = &one.stats;
        let mut problems = Vec::new();
        if st.bad_lines > 0 {
            let lines: Vec<String> = st.first_bad.iter().map(u64::to_string).collect();
            problems.push(format!(
                "{} line(s) are not key log lines (line {}{})",
                st.bad_lines,
                lines.join(", "),
                if st.bad_lines as usize > lines.len() {
                    ", ..."
                } else {
                    ""
                }
            ));
        }
        if st.unsupported_lines > 0 {
            problems.push(format!(
                "{} RSA pre-master line(s) not used (they need the server's private key)",
                st.unsupported_lines
            ));
        }
        let outcome = if found == 0 && *named {
            Outcome::Unrecognised {
                why: "no key log line (CLIENT_RANDOM, *_TRAFFIC_SECRET_*) in it".into(),
            }
        } else {
            Outcome::Read
        };
        inputs.push(InputInfo {
            name,
            kind: "keylog".into(),
            problems,
            outcome,
            keylog_secrets: Some(found),
            ..InputInfo::default()
        });
        all.extend(&one);
    }
    all
}

/// Everything read, merged.
pub struct Collected {
    /// Every input, with its outcome (skipped ones too).
    pub inputs: Vec<InputInfo>,
    /// Not failures: unmatched and half-matched log lines, as `<file>: <what>`.
    pub warnings: Vec<String>,
    /// Packet time range (ns) when every input was a capture.
    pub time_range: Option<(i64, i64)>,
    pub sessions: Sessions,
    pub refused: DataFrame,
}

impl Collected {
    /// `<input>: <problem>` for every problem of every input: the "Errors" of a run.
    /// Some are inside inputs that were otherwise read (a capture cut short).
    pub fn errors(&self) -> Vec<String> {
        errors_of(&self.inputs)
    }
}

/// `<input>: <problem>` for every problem of every input, and `<input>: <why>` for each
/// that failed or was unrecognised without a listed problem.
pub fn errors_of(inputs: &[InputInfo]) -> Vec<String> {
    let mut out = Vec::new();
    for i in inputs {
        out.extend(i.problems.iter().map(|p| format!("{}: {p}", i.name)));
        if i.problems.is_empty() && i.outcome.is_failure() {
            out.push(format!("{}: {}", i.name, i.outcome.why()));
        }
    }
    out
}

/// Whether a log file had anything recognised in it: a line some format or pattern took
/// (a close, a line about something else, a close it could not read).
fn recognised(f: &FileStats) -> bool {
    f.records > 0
        || f.half_matched_total > 0
        || f.merged > 0
        || f.not_close_events > 0
        || !f.lines_by_format.is_empty()
}

/// The per-file counts of the JSON report.
fn log_counts(f: &FileStats) -> LogCounts {
    let map = |m: &std::collections::BTreeMap<&'static str, u64>| {
        m.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    };
    LogCounts {
        lines: f.lines,
        lines_by_format: map(&f.lines_by_format),
        closes_by_format: map(&f.closes_by_format),
        close_events: f.records,
        merged: f.merged,
        not_close_events: f.not_close_events,
        half_matched: f.half_matched_total,
        unmatched_lines: f.unmatched_lines,
        long_lines: f.long_lines,
        pattern_lines: f.pattern_lines.clone(),
    }
}

/// Read the logs `sources` found: one [`InputInfo`] per file, the rows, and warnings.
fn collect_logs(
    sources: &Sources,
    log_opts: &LogOptions,
    inputs: &mut Vec<InputInfo>,
    warnings: &mut Vec<String>,
) -> DataFrame {
    let files: Vec<PathBuf> = sources.logs.iter().map(|(p, _)| p.clone()).collect();
    // (A set: a folder may hold thousands of logs.)
    let named: std::collections::HashSet<&Path> = sources
        .logs
        .iter()
        .filter(|(_, l)| *l)
        .map(|(p, _)| p.as_path())
        .collect();
    let listed = |p: &Path| named.contains(p);
    let (rows, stats, problems) = read_files(&files, log_opts);
    for f in &stats {
        let name = f.path.display().to_string();
        let kind = match f.format {
            Some(x) => x.as_str(),
            None if !f.pattern_lines.iter().all(|n| *n == 0) => crate::logs::pattern::SOURCE,
            None => "log",
        }
        .to_string();
        // Named, or named like a log: a log in which nothing is recognised is data the
        // report is missing. Found in a folder only because a line looked like a format
        // (source code quoting a library's message): not a log after all.
        let meant = listed(&f.path) || inputs::is_log_name(&f.path);
        let outcome = if f.lines > 0 && !recognised(f) && !meant {
            Outcome::Skipped {
                why: format!(
                    "text in which none of its {} lines is a close event of a known log format",
                    f.lines
                ),
            }
        } else if f.lines > 0 && !recognised(f) {
            Outcome::Unrecognised {
                why: if listed(&f.path) {
                    format!(
                        "not a capture, and none of its {} lines matched a known log format \
                         (--log-format NAME forces one): no pcap or pcapng magic at byte 0",
                        f.lines
                    )
                } else {
                    format!(
                        "none of its {} lines matched a known log format (--log-format NAME \
                         forces one)",
                        f.lines
                    )
                },
            }
        } else {
            Outcome::Read
        };
        if outcome == Outcome::Read && f.unmatched_lines > 0 {
            warnings.push(format!(
                "{name}: {} of {} lines matched no log format",
                f.unmatched_lines, f.lines
            ));
        }
        if f.merged > 0 {
            warnings.push(format!(
                "{name}: {} lines about a close another line already reported were merged \
                 into it (one row per close)",
                f.merged
            ));
        }
        for (line, why) in f.half_matched.iter().take(20) {
            warnings.push(format!("{name}:{line}: {why}"));
        }
        if f.half_matched_total > 20 {
            warnings.push(format!(
                "{name}: {} more half-matched lines",
                f.half_matched_total - 20
            ));
        }
        inputs.push(InputInfo {
            name,
            kind,
            sessions: f.records,
            outcome,
            log: Some(log_counts(f)),
            ..InputInfo::default()
        });
    }
    for (p, why) in problems {
        let name = p.display().to_string();
        // A file that was read in part keeps its row; the error joins it.
        match inputs.iter_mut().find(|i| i.name == name) {
            Some(i) => {
                i.problems.push(why.clone());
                if !i.outcome.is_failure() {
                    i.outcome = Outcome::Failed {
                        error: why,
                        offset: None,
                    };
                }
            }
            None => inputs.push(failed_input(name, "log", why, None)),
        }
    }
    match records_frame(&rows) {
        Ok(df) => df,
        Err(e) => {
            inputs.push(failed_input(
                "logs".into(),
                "log",
                format!("cannot build the session table of the log rows: {e}"),
                None,
            ));
            sessions_frame(&[]).unwrap_or_default()
        }
    }
}

/// Read captures, tables and logs; with the captures' Close-frame table when
/// `with_closes`. Capture sessions spill to disk as `spill` says; then the table is
/// merged back only when [`Sessions::drain`]ed.
pub fn collect(
    sources: &Sources,
    opts: &pipeline::Options,
    log_opts: &LogOptions,
    with_closes: bool,
    spill: &SpillOptions,
) -> Result<Collected> {
    let mut warnings = Vec::new();
    let mut inputs: Vec<InputInfo> = sources
        .unknown
        .iter()
        .map(|(a, why)| failed_input(a.clone(), "argument", why.clone(), None))
        .collect();
    // Key logs first: every capture's TLS connections look their secrets up in them.
    let keylog = read_keylogs(&sources.keylogs, &mut inputs);
    let mut with_keys;
    let opts = if keylog.is_empty() {
        opts
    } else {
        with_keys = opts.clone();
        with_keys.keys = std::sync::Arc::new(KeyStore::new(keylog));
        &with_keys
    };
    let mut log_inputs = Vec::new();
    let log_rows = if sources.logs.is_empty() {
        None
    } else {
        Some(collect_logs(
            sources,
            log_opts,
            &mut log_inputs,
            &mut warnings,
        ))
    };

    let spill_dir = SpillDir::new(spill.dir.clone());
    // One budget for every worker of every capture (table::chunks::SpillBudget).
    let budget = SpillBudget::new(spill.rows.unwrap_or(usize::MAX));
    // (analyze_all divides by the input count when choosing shards: never call it empty.)
    let results = if sources.captures.is_empty() {
        Vec::new()
    } else {
        analyze_all_with(&sources.captures, opts, &|| match spill.rows {
            Some(_) => {
                TableSink::new(with_closes).spilling_within(spill_dir.clone(), budget.clone())
            }
            None => TableSink::new(with_closes),
        })
    };
    for r in &results {
        let first = r.io_error.as_ref().map(|e| (e.clone(), None)).or_else(|| {
            r.read
                .errors
                .first()
                .map(|e| (e.to_string(), Some(e.offset)))
        });
        inputs.push(InputInfo {
            name: r.name.clone(),
            kind: "capture".into(),
            packets: Some(r.read.packets),
            sessions: r.sessions.iter().map(SessionChunks::rows).sum::<usize>() as u64,
            refused_upgrades: r.refused.len() as u64,
            problems: r.problems(),
            evicted_connections: r.evicted,
            oversized_heads: r.oversized_heads,
            tls: (r.tls.connections > 0).then(|| r.tls.clone()),
            outcome: match first {
                Some((error, offset)) => Outcome::Failed { error, offset },
                None => Outcome::Read,
            },
            log: None,
            keylog_secrets: None,
        });
        for w in r.sessions.iter().filter_map(|c| c.warning.as_ref()) {
            warnings.push(format!("{}: {w}", r.name));
        }
    }
    let first = results.iter().filter_map(|r| r.first_ts).min();
    let last = results.iter().filter_map(|r| r.last_ts).max();
    let mut refused_rows = Vec::new();
    let mut chunks = Vec::with_capacity(results.len());
    for r in results {
        refused_rows.extend(r.refused);
        chunks.push((r.name, r.sessions));
    }
    // Spilled: merged back from disk when drained; the other inputs' rows follow.
    let spilled = chunks
        .iter()
        .any(|(_, parts)| parts.iter().any(|p| p.spilled()));
    let (stream, mut sessions, closes) = if spilled {
        let stream = SessionStream::new(chunks, spill_dir, with_closes);
        (Some(stream), session::sessions_frame(&[])?, None)
    } else {
        let (sessions, closes) = merge_chunks(chunks, with_closes)?;
        (None, sessions, closes)
    };
    let mut refused = session::refused_frame(&refused_rows)?;
    let mut all_captures = true;

    if !sources.tables.is_empty() {
        all_captures = false;
        let files: Vec<PathBuf> = sources.tables.iter().map(|(p, _)| p.clone()).collect();
        let listed: std::collections::HashSet<&Path> = sources
            .tables
            .iter()
            .filter(|(_, l)| *l)
            .map(|(p, _)| p.as_path())
            .collect();
        let named = |p: &Path| listed.contains(p);
        let (rows, table_refused) =
            read_tables(&files, &named, &mut inputs, &mut warnings, None, None)?;
        if sessions.height() == 0 {
            // (As loaded: stacked on an empty table, the columns left null would get
            // a value per row.)
            sessions = rows;
        } else {
            sessions.vstack_mut(&rows)?;
        }
        refused.vstack_mut(&table_refused)?;
    }

    // Log inputs join here, as session rows of the same schema.
    if let Some(rows) = log_rows {
        all_captures = false;
        match conform_to(rows, &sessions.clear()) {
            Ok(df) => {
                sessions.vstack_mut(&df)?;
            }
            Err(e) => log_inputs.push(failed_input(
                "logs".into(),
                "log",
                format!("rows do not fit the session table: {e}"),
                None,
            )),
        }
        inputs.extend(log_inputs);
    }
    inputs.extend(sources.skipped.iter().map(|(p, why)| skipped_input(p, why)));
    sessions.rechunk_mut();
    refused.rechunk_mut();
    let sessions = match stream {
        Some(stream) => Sessions::streamed_from(stream, sessions, with_closes),
        None => Sessions::in_memory(sessions, closes),
    };
    Ok(Collected {
        inputs,
        warnings,
        time_range: if all_captures { first.zip(last) } else { None },
        sessions,
        refused,
    })
}

/// Read table files ([`load::load`]): their session and refused-upgrade rows, and one
/// [`InputInfo`] per file and its notes added to `inputs` and `warnings`. A wsaudit
/// table of another kind (closes, summary, reconnects) is refused when `named` says it
/// was named on the command line, and passed over with a note when it was found in a
/// folder. Each piece of session rows goes to `out` as it is read; with `keep`, the
/// table kept holds what the reports read, and the columns it leaves out are not even
/// decoded unless there is an `out` ([`load::load_with`]). A file that fails part way
/// is a failed input whose rows before the failure are kept.
pub fn read_tables(
    files: &[PathBuf],
    named: &dyn Fn(&Path) -> bool,
    inputs: &mut Vec<InputInfo>,
    warnings: &mut Vec<String>,
    keep: Option<&Kept>,
    out: Option<&mut dyn FnMut(&DataFrame)>,
) -> Result<(DataFrame, DataFrame)> {
    let loaded = load::load_with(files, keep, out)?;
    for f in &loaded.files {
        let mut input = table_input(&f.path, f.kind, f.rows);
        if let Some(why) = &f.error {
            // Its rows before the failure are read; the input failed.
            input.problems.push(why.clone());
            input.outcome = Outcome::Failed {
                error: why.clone(),
                offset: None,
            };
        }
        inputs.push(input);
    }
    for (f, kind) in &loaded.other {
        let why = format!(
            "{}, not a session table (--sessions): only session tables are read",
            kind.describe()
        );
        inputs.push(if named(f) {
            failed_input(f.display().to_string(), "table", why, None)
        } else {
            skipped_input(f, &Skip::NotInput(why))
        });
    }
    for (f, why) in &loaded.problems {
        inputs.push(failed_input(
            f.display().to_string(),
            "table",
            why.clone(),
            None,
        ));
    }
    for (f, rows, first) in &loaded.duplicates {
        warnings.push(format!(
            "{}: {rows} session{} already read from {} (same capture and session_id): \
             counted once",
            f.display(),
            if *rows == 1 { "" } else { "s" },
            first.display()
        ));
    }
    Ok((loaded.sessions, loaded.refused))
}

/// Everything [`read_logs`] found.
pub struct LogResult {
    /// The session table (schema of `sessions_frame(&[])`).
    pub sessions: DataFrame,
    pub files: Vec<FileStats>,
    /// Files or arguments that could not be read: (path, why).
    pub problems: Vec<(PathBuf, String)>,
}

/// Read every log named by `paths` (files, folders, globs) into the session table.
pub fn read_logs(paths: &[PathBuf], opts: &LogOptions) -> LogResult {
    let (rows, files, mut problems) = read_all(paths, opts);
    let sessions = match records_frame(&rows) {
        Ok(df) => df,
        Err(e) => {
            problems.push((PathBuf::from("-"), format!("cannot build table: {e}")));
            sessions_frame(&[]).unwrap_or_default()
        }
    };
    LogResult {
        sessions,
        files,
        problems,
    }
}

/// Why a log file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum LogFileError {
    #[error("cannot open: {0}")]
    Open(#[source] std::io::Error),
}

/// Read one log file: [`read_records`] (each line's format recognised, unless forced)
/// with the file's modification time.
pub fn read_file(
    path: &Path,
    opts: &LogOptions,
    rows: &mut Vec<Record>,
    problems: &mut Vec<(PathBuf, String)>,
) -> std::result::Result<FileStats, LogFileError> {
    let parser = Parser::new(opts);
    let r = inputs::open_decoded(path).map_err(LogFileError::Open)?;
    let modified_ns = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_nanos()).ok());
    let capture = path.display().to_string();
    let (recs, mut stats, error) = read_records(r, &parser, &capture, modified_ns);
    stats.path = path.to_path_buf();
    if let Some(e) = error {
        problems.push((path.to_path_buf(), e));
    }
    rows.extend(recs);
    Ok(stats)
}

/// Read every log named by `paths` (files, folders, globs) into records: what
/// [`read_logs`] turns into the session table.
pub fn read_all(
    paths: &[PathBuf],
    opts: &LogOptions,
) -> (Vec<Record>, Vec<FileStats>, Vec<(PathBuf, String)>) {
    let found = inputs::log_files(paths);
    let (rows, stats, mut problems) = read_files(&found.files, opts);
    problems.extend(found.problems);
    (rows, stats, problems)
}

/// Read log files (already found) into records, per-file facts, and (file, why) for
/// files that could not be read.
pub fn read_files(
    files: &[PathBuf],
    opts: &LogOptions,
) -> (Vec<Record>, Vec<FileStats>, Vec<(PathBuf, String)>) {
    let mut problems = Vec::new();
    let mut rows = Vec::new();
    let mut stats = Vec::new();
    for f in files {
        let start = rows.len();
        match read_file(f, opts, &mut rows, &mut problems) {
            Ok(s) => stats.push(s),
            Err(e) => {
                rows.truncate(start);
                problems.push((f.clone(), e.to_string()));
            }
        }
    }
    // nginx's error log names the sessions it cut; their access lines (in another file)
    // carry the rest: one row each.
    for capture in crate::logs::proxy::join_proxy_cuts(&mut rows) {
        if let Some(s) = stats
            .iter_mut()
            .find(|s: &&mut FileStats| s.path.display().to_string() == capture)
        {
            s.records = s.records.saturating_sub(1);
            s.merged += 1;
        }
    }
    (rows, stats, problems)
}
