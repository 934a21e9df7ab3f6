//! What the paths on a command line are, and reading them all into one session table.
//!
//! Contract: [`classify`] sorts paths (files, folders searched recursively, globs, `-`)
//! by content, not by name, except for tables: a file starting with a pcap, pcapng,
//! gzip or zstd magic is a capture (a compressed file is looked into: a compressed log
//! is a log); `.parquet` / `.pq` / `.csv` files are session tables; other text is a log
//! (or any file when `--log-format` forces one); everything else is reported as not a
//! capture, with the byte offset. [`collect`] reads them all — captures through
//! [`pipeline::analyze_all_with`] and [`table::TableSink`], tables through
//! [`load::load`], logs through [`logs::read_logs`] — into one session table of the
//! documented schema ([`Sessions`]), the captures' Close-frame table when asked for, and
//! per-input facts. When capture sessions were spilled to disk
//! ([`crate::report::spill`]), the table is merged back only as it is
//! [`Sessions::drain`]ed: batch by batch into the export, keeping for the reports only the
//! columns they read. A log file in which no line matched any format is an error (it is
//! most likely not a log); single unmatched lines in a log are counted and reported,
//! never an error.

use std::path::{Path, PathBuf};

use anyhow::Result;
use polars::prelude::*;

use crate::logs::{self, LogOptions};
use crate::pipeline::{self, analyze_all_with, Input};
use crate::report::spill::{self, SessionStream, SpillDir};
use crate::report::summary::InputInfo;
use crate::report::table::{SessionChunks, TableSink};
use crate::report::{load, table};

/// Inputs sorted by kind.
#[derive(Debug, Default)]
pub struct Sources {
    pub captures: Vec<Input>,
    /// Session tables: files and folders, for [`load::expand`].
    pub tables: Vec<String>,
    /// Log files, and whether each was named on the command line (rather than found in
    /// a folder): a named file in which nothing matched is an error, a found one is not.
    pub logs: Vec<(PathBuf, bool)>,
    /// Paths that are none of these (with why).
    pub unknown: Vec<(String, String)>,
}

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

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
const PCAP_MAGICS: [[u8; 4]; 4] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
];

/// Is this the start of a capture (pcap, pcapng, or gzip / zstd, which wsaudit reads as
/// compressed captures)?
pub fn is_capture_magic(head: &[u8]) -> bool {
    head.starts_with(&GZIP_MAGIC)
        || head.starts_with(&ZSTD_MAGIC)
        || head.starts_with(&PCAPNG_MAGIC)
        || PCAP_MAGICS.iter().any(|m| head.starts_with(m))
}

pub use crate::report::load::is_table_name;

enum Kind {
    Capture,
    Table,
    Log,
    /// Not clearly anything (only skipped inside folders).
    Other,
}

/// The first bytes of a file after gzip/zstd decompression.
fn decoded_head(p: &Path) -> std::io::Result<Vec<u8>> {
    let mut r = logs::open_decoded(p)?;
    let mut head = vec![0u8; 4096];
    let mut n = 0;
    while n < head.len() {
        match std::io::Read::read(&mut r, &mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if n > 0 && e.kind() != std::io::ErrorKind::Interrupted => break,
            Err(e) => return Err(e),
        }
    }
    head.truncate(n);
    Ok(head)
}

/// Text a person or a logger wrote: no control bytes but tab, CR, LF and ESC, valid
/// UTF-8 (a character cut at the end of the sample is fine).
fn looks_like_text(head: &[u8]) -> bool {
    // Control bytes other than tab, line ends and ESC (colour codes) mean binary.
    let binary = |b: &u8| *b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x1b);
    if head.is_empty() || head.iter().any(binary) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

fn kind_of_file(p: &Path, force_log: bool) -> Kind {
    if is_table_name(p) {
        return Kind::Table;
    }
    let head = match decoded_head(p) {
        Ok(h) => h,
        // Unreadable: the capture reader says why, naming the file.
        Err(_) => return Kind::Capture,
    };
    if is_capture_magic(&head) {
        Kind::Capture
    } else if force_log || looks_like_text(&head) {
        Kind::Log
    } else if head.len() < 4 {
        // Empty or tiny: reported as "not a capture" with its offset.
        Kind::Capture
    } else {
        Kind::Other
    }
}

/// Whether the first lines of a (possibly compressed) text file show a log format.
fn detected(p: &Path) -> bool {
    logs::open_decoded(p)
        .and_then(|r| logs::detect::detect(r, false))
        .is_ok_and(|f| f.is_some())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        out.push(dir.to_path_buf());
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Sort the command-line paths into captures, tables, logs and the rest. With
/// `force_log` (`--log-format`), every file that is not a capture or a table is a log.
pub fn classify(paths: &[String], force_log: bool) -> Sources {
    let mut s = Sources::default();
    // `listed`: named on the command line (or matched by a glob). Such a file is always
    // read as something, so that "not a capture" is reported with its byte offset; files
    // found in folders are taken only when clearly a capture, table or log.
    let one = |s: &mut Sources, p: &Path, listed: bool| match kind_of_file(p, force_log) {
        Kind::Capture => s.captures.push(Input::Path(p.to_path_buf())),
        Kind::Table => s.tables.push(p.display().to_string()),
        // In a folder, a text file counts as a log only when its first lines show a
        // known format (READMEs and scripts next to the logs are not inputs).
        Kind::Log if listed || force_log || detected(p) => s.logs.push((p.to_path_buf(), listed)),
        Kind::Other if listed => s.captures.push(Input::Path(p.to_path_buf())),
        Kind::Log | Kind::Other => {}
    };
    let dir_or_file = |s: &mut Sources, p: &Path| {
        if p.is_dir() {
            let mut files = Vec::new();
            walk(p, &mut files);
            for f in files {
                if f.is_dir() {
                    s.unknown
                        .push((f.display().to_string(), "cannot list folder".into()));
                } else {
                    one(s, &f, false);
                }
            }
        } else {
            one(s, p, true);
        }
    };
    for a in paths {
        let p = Path::new(a);
        if a == "-" {
            s.captures.push(Input::Stdin);
        } else if p.exists() {
            dir_or_file(&mut s, p);
        } else if a.contains(['*', '?', '[']) {
            match glob::glob(a) {
                Ok(matches) => {
                    let mut any = false;
                    for m in matches.flatten() {
                        any = true;
                        dir_or_file(&mut s, &m);
                    }
                    if !any {
                        s.unknown.push((a.clone(), "no file matches".into()));
                    }
                }
                Err(e) => s.unknown.push((a.clone(), format!("bad pattern: {e}"))),
            }
        } else {
            // Let the capture reader report it, naming the file.
            s.captures.push(Input::Path(p.to_path_buf()));
        }
    }
    s
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

/// When capture sessions go to disk: each worker writes the rows it holds as a sorted
/// run under `dir` once it holds `rows` of them (`None`: never).
#[derive(Debug, Clone)]
pub struct SpillOptions {
    pub dir: PathBuf,
    pub rows: Option<usize>,
}

impl Default for SpillOptions {
    /// The system's temporary folder (`TMPDIR`), every [`spill::SPILL_ROWS`] rows.
    fn default() -> Self {
        SpillOptions {
            dir: std::env::temp_dir(),
            rows: Some(spill::SPILL_ROWS),
        }
    }
}

/// The session table of everything read: in memory, or (when captures spilled to disk)
/// merged back batch by batch as it is drained.
pub struct Sessions {
    inner: SessionsInner,
}

enum SessionsInner {
    Table {
        table: DataFrame,
        closes: Option<DataFrame>,
    },
    Stream {
        /// It holds the spill folder, removed when the stream is dropped.
        stream: SessionStream,
        /// Rows of tables and logs, after the captures'.
        rest: DataFrame,
        with_closes: bool,
    },
}

/// What [`Sessions::drain`] leaves for the reports.
pub struct Drained {
    /// Every row. Streamed rows keep only the columns a report reads; the others
    /// ([`table::NOT_REPORTED`]) are null.
    pub sessions: DataFrame,
    /// The Close-frame table of the captures, when asked for.
    pub closes: Option<DataFrame>,
}

impl Sessions {
    /// Whether rows come from disk (then [`Drained::sessions`] lacks some columns).
    pub fn streamed(&self) -> bool {
        matches!(self.inner, SessionsInner::Stream { .. })
    }

    /// Hand every row to `out`, in batches in table order (one batch when the table is
    /// in memory), and return what the reports need; with `for_reports` false, nothing
    /// is kept of rows merged from disk (an empty table: no report will run).
    pub fn drain(
        self,
        out: &mut dyn FnMut(&DataFrame),
        for_reports: bool,
    ) -> PolarsResult<Drained> {
        match self.inner {
            SessionsInner::Table { table, closes } => {
                out(&table);
                Ok(Drained {
                    sessions: table,
                    closes,
                })
            }
            SessionsInner::Stream {
                stream,
                rest,
                with_closes,
            } => {
                let template = table::sessions_frame(&[])?;
                let reported: Vec<&str> = table::SESSION_COLUMNS
                    .iter()
                    .copied()
                    .filter(|c| !table::NOT_REPORTED.contains(c))
                    .collect();
                let mut kept: Vec<DataFrame> = Vec::new();
                let mut each = |batch: DataFrame| -> PolarsResult<()> {
                    out(&batch);
                    if for_reports {
                        kept.push(spill::compact_strings(
                            &batch.select(reported.iter().copied())?,
                        )?);
                    }
                    Ok(())
                };
                let stream = stream.drain_ahead(&mut each)?;
                if rest.height() > 0 {
                    each(rest)?;
                }
                let closes = with_closes.then(|| stream.closes_frame()).transpose()?;
                let mut kept = match table::stack(kept)? {
                    Some(k) => k,
                    None => template.select(reported)?,
                };
                // One chunk, as the in-memory table: a gather from several string chunks
                // copies every value (the reconnect table alone cost 64 MiB more on a
                // 10 GiB capture); concatenating shares the chunks' buffers.
                kept.rechunk_mut();
                let height = kept.height();
                let columns = template
                    .columns()
                    .iter()
                    .map(|c| {
                        if table::NOT_REPORTED.contains(&c.name().as_str()) {
                            Ok(Column::full_null(c.name().clone(), height, c.dtype()))
                        } else {
                            Ok(kept.column(c.name())?.clone())
                        }
                    })
                    .collect::<PolarsResult<Vec<Column>>>()?;
                Ok(Drained {
                    sessions: DataFrame::new(height, columns)?,
                    closes,
                })
            }
        }
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
        let read = logs::read_logs(&paths, log_opts);
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
    // (analyze_all divides by the input count when choosing shards: never call it empty.)
    let results = if sources.captures.is_empty() {
        Vec::new()
    } else {
        analyze_all_with(&sources.captures, opts, &|| match spill.rows {
            Some(rows) => TableSink::new(with_closes).spilling(spill_dir.clone(), rows),
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
        (Some(stream), table::sessions_frame(&[])?, None)
    } else {
        let (sessions, closes) = table::merge_chunks(chunks, with_closes)?;
        (None, sessions, closes)
    };
    let mut refused = table::refused_frame(&refused_rows)?;
    let mut all_captures = true;

    if !sources.tables.is_empty() {
        all_captures = false;
        match load::expand(&sources.tables).and_then(|files| load::load(&files)) {
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
            Err(e) => errors.push(format!("{e:#}")),
        }
    }

    // Log inputs (issue 5) join here, as session rows of the same schema.
    for x in extra {
        all_captures = false;
        for p in &x.problems {
            errors.push(format!("{}: {p}", x.name));
        }
        match crate::report::columns::conform_to(x.sessions, &sessions.clear()) {
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
        Some(stream) => Sessions {
            inner: SessionsInner::Stream {
                stream,
                rest: sessions,
                with_closes,
            },
        },
        None => Sessions {
            inner: SessionsInner::Table {
                table: sessions,
                closes,
            },
        },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_magics_are_recognised() {
        assert!(is_capture_magic(&[0xd4, 0xc3, 0xb2, 0xa1]));
        assert!(is_capture_magic(&[0x0a, 0x0d, 0x0d, 0x0a]));
        assert!(is_capture_magic(&[0x1f, 0x8b, 0x08, 0x00]));
        assert!(is_capture_magic(&[0x28, 0xb5, 0x2f, 0xfd]));
        assert!(!is_capture_magic(b"capt"));
        assert!(!is_capture_magic(b"PAR1"));
    }

    #[test]
    fn text_is_told_from_binary() {
        assert!(looks_like_text(
            b"websocket: close 1006 (abnormal closure)\n"
        ));
        assert!(looks_like_text("d\u{e9}connect\u{e9}".as_bytes()));
        assert!(!looks_like_text(b"\x00\x01\x02\x03"));
        assert!(!looks_like_text(b"\x0a\x0d\x0d\x0bxxxx"));
        assert!(looks_like_text(b"\x1b[31mERROR\x1b[0m close 1006\r\n"));
        assert!(!looks_like_text(b""));
        // A multi-byte character cut by the sample's end is still text.
        assert!(looks_like_text(&"\u{e9}".as_bytes()[..1]));
    }
}
