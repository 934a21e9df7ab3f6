//! Reading everything a run was given into one session table.
//!
//! Contract: [`collect`] reads what [`crate::inputs::classify`] found: captures through
//! [`pipeline::analyze_all_with`] into [`TableSink`]s (spilling to disk as
//! [`SpillOptions`] says), tables through [`load::load`], logs through [`read_logs`];
//! into one session table of the documented schema ([`Sessions`]), the captures'
//! Close-frame table when asked for, and per-input facts ([`InputInfo`]). When capture
//! sessions were spilled, the table is merged back only as it is
//! [`Sessions::drain`]ed. A log file in which no line matched any format is an error
//! when it was named (it is most likely not a log) and a warning when it was found in a
//! folder; single unmatched lines are counted and reported, never an error.

use std::path::{Path, PathBuf};

use anyhow::Result;
use polars::prelude::*;

use crate::analysis::summary::InputInfo;
use crate::inputs::{self, Sources};
use crate::logs::{parser_for, read_records, FileStats, LogOptions, Record};
use crate::pipeline::{self, analyze_all_with};
use crate::table::chunks::{merge_chunks, SessionChunks, SpillBudget, TableSink};
use crate::table::columns::conform_to;
use crate::table::drain::Sessions;
use crate::table::load;
use crate::table::logs::records_frame;
use crate::table::run::SpillDir;
use crate::table::session::{self, sessions_frame};
use crate::table::spill::{SessionStream, SpillOptions};

/// Session rows from another reader (log formats, issue 5), in the session table schema
/// (`docs/schema.md`; missing columns are filled with nulls, others are cast).
pub struct ExtraSessions {
    /// The input, as given.
    pub name: String,
    /// `InputInfo::kind`: the log format name.
    pub kind: String,
    pub sessions: DataFrame,
    pub problems: Vec<String>,
}

/// What a session or refused-upgrade table read back contributes to the report.
pub fn table_input(file: &Path, kind: load::TableKind, rows: usize) -> InputInfo {
    let (sessions, refused) = match kind {
        load::TableKind::Sessions => (rows as u64, 0),
        load::TableKind::Refused => (0, rows as u64),
    };
    InputInfo {
        name: file.display().to_string(),
        kind: "table".into(),
        sessions,
        refused_upgrades: refused,
        ..InputInfo::default()
    }
}

/// Everything read, merged.
pub struct Collected {
    pub inputs: Vec<InputInfo>,
    /// Not failures: unmatched and half-matched log lines, as `<file>: <what>`.
    pub warnings: Vec<String>,
    /// Packet time range (ns) when every input was a capture.
    pub time_range: Option<(i64, i64)>,
    pub sessions: Sessions,
    pub refused: DataFrame,
    /// `<input>: <problem>`.
    pub errors: Vec<String>,
}

/// Read captures and tables, and merge in `extra` rows (log inputs); with the captures'
/// Close-frame table when `with_closes`. Capture sessions spill to disk as `spill`
/// says; then the table is merged back only when [`Sessions::drain`]ed.
pub fn collect(
    sources: &Sources,
    extra: Vec<ExtraSessions>,
    opts: &pipeline::Options,
    log_opts: &LogOptions,
    with_closes: bool,
    spill: &SpillOptions,
) -> Result<Collected> {
    let mut warnings = Vec::new();
    let mut log_errors = Vec::new();
    let mut extra = extra;
    if !sources.logs.is_empty() {
        let paths: Vec<PathBuf> = sources.logs.iter().map(|(p, _)| p.clone()).collect();
        let read = read_logs(&paths, log_opts);
        let mut problems: Vec<(PathBuf, String)> = read.problems;
        let listed = |p: &Path| sources.logs.iter().any(|(q, l)| *l && q == p);
        for f in &read.files {
            if f.records == 0 && !listed(&f.path) {
                warnings.push(format!(
                    "{}: skipped: none of its {} lines matched a known log format",
                    f.path.display(),
                    f.lines
                ));
            } else if f.records == 0 {
                problems.push((
                    f.path.clone(),
                    format!(
                        "not a capture, and none of its {} lines matched a known log format \
                         (--log-format NAME forces one): no pcap or pcapng magic at byte 0",
                        f.lines
                    ),
                ));
            } else if f.unmatched_lines > 0 {
                warnings.push(format!(
                    "{}: {} of {} lines matched no log format",
                    f.path.display(),
                    f.unmatched_lines,
                    f.lines
                ));
            }
            if f.merged > 0 {
                warnings.push(format!(
                    "{}: {} lines about a close another line already reported were merged \
                     into it (one row per close)",
                    f.path.display(),
                    f.merged
                ));
            }
            for (line, why) in f.half_matched.iter().take(20) {
                warnings.push(format!("{}:{line}: {why}", f.path.display()));
            }
            if f.half_matched_total > 20 {
                warnings.push(format!(
                    "{}: {} more half-matched lines",
                    f.path.display(),
                    f.half_matched_total - 20
                ));
            }
        }
        let names: Vec<String> = read
            .files
            .iter()
            .map(|f| f.path.display().to_string())
            .collect();
        let kinds: Vec<String> = read
            .files
            .iter()
            .map(|f| {
                f.format
                    .map_or("log".to_string(), |x| x.as_str().to_string())
            })
            .collect();
        // One ExtraSessions for all logs: rows carry their file in `capture`.
        extra.push(ExtraSessions {
            name: if names.len() == 1 {
                names[0].clone()
            } else {
                format!("{} log files", names.len())
            },
            kind: kinds.first().cloned().unwrap_or_else(|| "log".into()),
            sessions: read.sessions,
            problems: Vec::new(),
        });
        log_errors.extend(
            problems
                .iter()
                .map(|(p, why)| format!("{}: {why}", p.display())),
        );
    }
    let mut errors: Vec<String> = sources
        .unknown
        .iter()
        .map(|(a, why)| format!("{a}: {why}"))
        .collect();
    errors.extend(log_errors);
    let mut inputs = Vec::new();

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
        for p in r.problems() {
            errors.push(format!("{}: {p}", r.name));
        }
        inputs.push(InputInfo {
            name: r.name.clone(),
            kind: "capture".into(),
            packets: Some(r.read.packets),
            sessions: r.sessions.iter().map(SessionChunks::rows).sum::<usize>() as u64,
            refused_upgrades: r.refused.len() as u64,
            problems: r.problems(),
            evicted_connections: r.evicted,
            oversized_heads: r.oversized_heads,
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
        match load::load(&sources.tables) {
            Ok(loaded) => {
                for (f, p) in &loaded.problems {
                    errors.push(format!("{}: {p}", f.display()));
                }
                for (f, kind, rows) in &loaded.files {
                    inputs.push(table_input(f, *kind, *rows));
                }
                sessions.vstack_mut(&loaded.sessions)?;
                refused.vstack_mut(&loaded.refused)?;
            }
            Err(e) => errors.push(crate::text::with_causes(&e)),
        }
    }

    // Log inputs (issue 5) join here, as session rows of the same schema.
    for x in extra {
        all_captures = false;
        for p in &x.problems {
            errors.push(format!("{}: {p}", x.name));
        }
        match conform_to(x.sessions, &sessions.clear()) {
            Ok(df) => {
                inputs.push(InputInfo {
                    name: x.name,
                    kind: x.kind,
                    packets: None,
                    sessions: df.height() as u64,
                    refused_upgrades: 0,
                    problems: x.problems,
                    ..InputInfo::default()
                });
                sessions.vstack_mut(&df)?;
            }
            Err(e) => errors.push(format!(
                "{}: rows do not fit the session table: {e}",
                x.name
            )),
        }
    }
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
        errors,
    })
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

/// Read one log file: detect its format (unless forced), then [`read_records`] with the
/// file's modification time.
pub fn read_file(
    path: &Path,
    opts: &LogOptions,
    rows: &mut Vec<Record>,
    problems: &mut Vec<(PathBuf, String)>,
) -> Result<FileStats, String> {
    let head = inputs::open_decoded(path).map_err(|e| format!("cannot open: {e}"))?;
    let parser = parser_for(head, opts).map_err(|e| format!("cannot read: {e}"))?;
    let r = inputs::open_decoded(path).map_err(|e| format!("cannot open: {e}"))?;
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
    let (files, mut problems) = inputs::log_files(paths);
    let mut rows = Vec::new();
    let mut stats = Vec::new();
    for f in &files {
        let start = rows.len();
        match read_file(f, opts, &mut rows, &mut problems) {
            Ok(s) => stats.push(s),
            Err(e) => {
                rows.truncate(start);
                problems.push((f.clone(), e));
            }
        }
    }
    (rows, stats, problems)
}
