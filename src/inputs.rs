//! What the paths on a command line are: the one owner of input discovery.
//!
//! Contract: [`classify`] sorts paths (files, folders searched recursively, globs, `-`)
//! by content, not by name, except for tables: a file starting with a pcap, pcapng,
//! gzip or zstd magic is a capture (a compressed file is looked into: a compressed log
//! is a log); `.parquet` / `.pq` / `.csv` files are session tables; other text is a log
//! (or any file when `--log-format` forces one); everything else is reported as not a
//! capture, with the byte offset. Folders are walked ([`walk`]) and globs expanded
//! ([`resolve`]) here and nowhere else; the magic numbers are `capture`'s
//! ([`Format::sniff`], [`Compression::sniff`]); [`open_decoded`] opens a file through
//! its compression. [`table_files`] and [`log_files`] are the same walk for the
//! commands that take only tables (`report`) or only logs.
//!
//! Reading what was found is the commands' job ([`crate::cmd`]).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::capture::{Compression, Format};
use crate::logs;
use crate::pipeline::Input;

/// Inputs sorted by kind.
#[derive(Debug, Default)]
pub struct Sources {
    pub captures: Vec<Input>,
    /// Session tables, found in folders and globs already.
    pub tables: Vec<PathBuf>,
    /// Log files, and whether each was named on the command line (rather than found in
    /// a folder): a named file in which nothing matched is an error, a found one is not.
    pub logs: Vec<(PathBuf, bool)>,
    /// Paths that are none of these (with why).
    pub unknown: Vec<(String, String)>,
}

/// Is this the start of a capture (pcap, pcapng, or gzip / zstd, which wsaudit reads as
/// compressed captures)?
pub fn is_capture_magic(head: &[u8]) -> bool {
    Compression::sniff(head) != Compression::None || Format::sniff(head).is_some()
}

/// `.parquet`, `.pq` or `.csv`: a table exported by wsaudit (by name; what `report` and
/// the input classifier take for a table).
pub fn is_table_name(p: &Path) -> bool {
    matches!(
        p.extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref(),
        Some("parquet" | "pq" | "csv")
    )
}

/// Open a file, decompressing gzip or zstd when its magic says so.
pub fn open_decoded(path: &Path) -> std::io::Result<Box<dyn BufRead>> {
    let mut f = File::open(path)?;
    let mut magic = [0u8; 4];
    let n = read_up_to(&mut f, &mut magic)?;
    drop(f);
    let f = BufReader::new(File::open(path)?);
    Ok(match Compression::sniff(&magic[..n]) {
        Compression::Gzip => Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(f))),
        Compression::Zstd => Box::new(BufReader::new(zstd::stream::read::Decoder::with_buffer(f)?)),
        Compression::None => Box::new(f),
    })
}

fn read_up_to(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// True when `path` is a readable file that is not a packet capture (pcap or pcapng,
/// possibly gzip/zstd-compressed): what may be read as a log. An empty file counts as a
/// log (it yields nothing).
pub fn is_log(path: &Path) -> bool {
    if !path.is_file() {
        return false;
    }
    let Ok(mut r) = open_decoded(path) else {
        return false;
    };
    let mut magic = [0u8; 4];
    match read_up_to(&mut r, &mut magic) {
        Ok(4) => Format::sniff(&magic).is_none(),
        Ok(_) => true,
        Err(_) => false,
    }
}

/// The mark in the name of an export being written: `.<name>.wsaudit-tmp.<pid>`.
pub const TEMP_MARK: &str = ".wsaudit-tmp.";
/// The start of a spill folder's name: `wsaudit-spill-<pid>-<n>/`.
pub const SPILL_PREFIX: &str = "wsaudit-spill-";

/// wsaudit's own scratch files and folders (an export being written, spilled runs):
/// never inputs, so folder walks pass over them (a run killed with SIGKILL leaves them
/// behind; a later `analyze DIR` read the 0-byte temporary file as a capture).
pub fn is_scratch(p: &Path) -> bool {
    p.file_name()
        .map(|n| n.to_string_lossy())
        .is_some_and(|n| n.contains(TEMP_MARK) || n.starts_with(SPILL_PREFIX))
}

/// Every file under `dir`, recursively, in sorted order, wsaudit's own scratch files
/// left out ([`is_scratch`]); folders that cannot be listed go to `unlisted` with why.
pub fn walk(dir: &Path, files: &mut Vec<PathBuf>, unlisted: &mut Vec<(PathBuf, std::io::Error)>) {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            unlisted.push((dir.to_path_buf(), e));
            return;
        }
    };
    let mut entries: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| !is_scratch(p))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, files, unlisted);
        } else {
            files.push(p);
        }
    }
}

/// What one command-line argument names.
#[derive(Debug)]
pub enum Arg {
    /// `-`: standard input.
    Stdin,
    /// A file or folder that exists.
    Path(PathBuf),
    /// A glob pattern and what it matched (files and folders), never empty.
    Glob(Vec<PathBuf>),
    /// A glob pattern that matched nothing.
    NoMatch,
    /// A glob pattern that is not one (why).
    BadPattern(String),
    /// Nothing of that name, and not a pattern.
    Missing,
}

/// Resolve one argument: the only place globs are expanded.
pub fn resolve(a: &str) -> Arg {
    let p = Path::new(a);
    if a == "-" {
        Arg::Stdin
    } else if p.exists() {
        Arg::Path(p.to_path_buf())
    } else if a.contains(['*', '?', '[']) {
        match glob::glob(a) {
            Ok(matches) => {
                let found: Vec<PathBuf> = matches.flatten().collect();
                if found.is_empty() {
                    Arg::NoMatch
                } else {
                    Arg::Glob(found)
                }
            }
            Err(e) => Arg::BadPattern(e.to_string()),
        }
    } else {
        Arg::Missing
    }
}

/// The files that folders, globs and names in `args` stand for, keeping from folders
/// and globs only those `keep` accepts (a file named directly is always kept); sorted
/// and without duplicates. Problems are (argument or folder, why).
fn files_of(
    args: &[String],
    keep: &dyn Fn(&Path) -> bool,
    list_error: &dyn Fn(&std::io::Error) -> String,
) -> (Vec<PathBuf>, Vec<(PathBuf, String)>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let in_folder = |dir: &Path, out: &mut Vec<PathBuf>, problems: &mut Vec<(PathBuf, String)>| {
        let (mut files, mut unlisted) = (Vec::new(), Vec::new());
        walk(dir, &mut files, &mut unlisted);
        out.extend(files.into_iter().filter(|f| keep(f)));
        problems.extend(unlisted.into_iter().map(|(d, e)| (d, list_error(&e))));
    };
    for a in args {
        match resolve(a) {
            Arg::Path(p) if p.is_dir() => in_folder(&p, &mut out, &mut problems),
            Arg::Path(p) => out.push(p),
            Arg::Glob(found) => {
                for g in found {
                    if g.is_dir() {
                        in_folder(&g, &mut out, &mut problems);
                    } else if keep(&g) {
                        out.push(g);
                    }
                }
            }
            Arg::NoMatch => problems.push((a.into(), "no file matches".into())),
            Arg::BadPattern(e) => problems.push((a.into(), format!("bad pattern: {e}"))),
            Arg::Missing | Arg::Stdin => problems.push((a.into(), "no such file or folder".into())),
        }
    }
    out.sort();
    out.dedup();
    (out, problems)
}

/// The session tables that `args` (files, folders, globs) stand for: what `wsaudit
/// report` reads. Problems are (argument or folder, why).
pub fn table_files(args: &[String]) -> (Vec<PathBuf>, Vec<(PathBuf, String)>) {
    files_of(args, &|p| is_table_name(p), &|e| {
        format!("cannot list: {e}")
    })
}

/// The log files that `paths` (files, folders, globs) stand for: captures inside
/// folders and globs are left out; a file named directly is kept whatever it holds.
pub fn log_files(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<(PathBuf, String)>) {
    let args: Vec<String> = paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    files_of(&args, &|p| is_log(p), &|e| {
        format!("cannot list folder: {e}")
    })
}

enum Kind {
    Capture,
    Table,
    Log,
    /// Not clearly anything (only skipped inside folders).
    Other,
}

/// The first bytes of a file after gzip/zstd decompression.
fn decoded_head(p: &Path) -> std::io::Result<Vec<u8>> {
    let mut r = open_decoded(p)?;
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
    open_decoded(p)
        .and_then(|r| logs::detect::detect(r, false))
        .is_ok_and(|f| f.is_some())
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
        Kind::Table => s.tables.push(p.to_path_buf()),
        // In a folder, a text file counts as a log only when its first lines show a
        // known format (READMEs and scripts next to the logs are not inputs).
        Kind::Log if listed || force_log || detected(p) => s.logs.push((p.to_path_buf(), listed)),
        Kind::Other if listed => s.captures.push(Input::Path(p.to_path_buf())),
        Kind::Log | Kind::Other => {}
    };
    let dir_or_file = |s: &mut Sources, p: &Path| {
        if p.is_dir() {
            let (mut files, mut unlisted) = (Vec::new(), Vec::new());
            walk(p, &mut files, &mut unlisted);
            for f in files {
                one(s, &f, false);
            }
            for (d, _) in unlisted {
                s.unknown
                    .push((d.display().to_string(), "cannot list folder".into()));
            }
        } else {
            one(s, p, true);
        }
    };
    for a in paths {
        match resolve(a) {
            Arg::Stdin => s.captures.push(Input::Stdin),
            Arg::Path(p) => dir_or_file(&mut s, &p),
            Arg::Glob(found) => {
                for m in found {
                    dir_or_file(&mut s, &m);
                }
            }
            Arg::NoMatch => s.unknown.push((a.clone(), "no file matches".into())),
            Arg::BadPattern(e) => s.unknown.push((a.clone(), format!("bad pattern: {e}"))),
            // Let the capture reader report it, naming the file.
            Arg::Missing => s.captures.push(Input::Path(PathBuf::from(a))),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_magics_are_recognised() {
        // The magic numbers themselves live in `capture`; this is what classification
        // sees of them.
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
