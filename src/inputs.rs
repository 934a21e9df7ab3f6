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
    /// Tables, and whether each was named on the command line (a table of the wrong
    /// kind is an error when named, passed over when found in a folder).
    pub tables: Vec<(PathBuf, bool)>,
    /// Log files, and whether each was named on the command line (rather than found in
    /// a folder): a named file in which nothing matched is an error, a found one is not.
    pub logs: Vec<(PathBuf, bool)>,
    /// Arguments and folders that could not be used (with why): errors.
    pub unknown: Vec<(String, String)>,
    /// Files and folders passed over on purpose (with why): notes, never errors.
    pub skipped: Vec<(PathBuf, Skip)>,
    /// TLS key logs (`--keylog`, and key logs found among the inputs), and whether each
    /// was named (a named one without a single secret is an error).
    pub keylogs: Vec<(PathBuf, bool)>,
}

/// What became of one input. The report lists every input with it (`--format json`:
/// `outcome` plus its fields), and the exit code and the audit's verdict come from it
/// ([`Outcome::is_failure`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Read to its end.
    #[default]
    Read,
    /// Passed over on purpose, and nothing the report should count is in it: a second
    /// name of a file already read, a loop, a FIFO or device in a folder, a file that is
    /// not an input.
    Skipped { why: String },
    /// Read to its end, and nothing in it was recognised (a log of no known format):
    /// the report may be missing what it holds.
    Unrecognised { why: String },
    /// Could not be read, or not to its end (what was read before is kept): the first
    /// error, and the byte offset where it was found when known.
    Failed { error: String, offset: Option<u64> },
}

impl Outcome {
    /// Data the report may be missing: the exit code is 2 and the audit says ERROR.
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Unrecognised { .. } | Outcome::Failed { .. })
    }

    /// `read`, `skipped`, `unrecognised` or `failed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Read => "read",
            Outcome::Skipped { .. } => "skipped",
            Outcome::Unrecognised { .. } => "unrecognised",
            Outcome::Failed { .. } => "failed",
        }
    }

    /// Why, for people (empty when read).
    pub fn why(&self) -> String {
        match self {
            Outcome::Read => String::new(),
            Outcome::Skipped { why } | Outcome::Unrecognised { why } => why.clone(),
            Outcome::Failed { error, .. } => error.clone(),
        }
    }
}

impl Skip {
    /// What kind of thing was passed over (the report's `kind` for it).
    pub fn kind(&self) -> &'static str {
        match self {
            Skip::Duplicate { .. } => "duplicate",
            Skip::NotInput(_) => "file",
            Skip::Special(k) => k,
            Skip::Loop { .. } | Skip::Dangling => "link",
        }
    }
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

/// The bookkeeping files Spark and Hadoop write beside a dataset's Parquet files
/// (`_SUCCESS`, `_committed_*`, `_started_*`, `.<part>.crc` checksums): folder walks pass
/// over them without a note, so a fleet's dataset (docs/fleet.md) reads cleanly.
pub fn is_dataset_bookkeeping(p: &Path) -> bool {
    p.file_name().map(|n| n.to_string_lossy()).is_some_and(|n| {
        n == "_SUCCESS"
            || n.starts_with("_committed_")
            || n.starts_with("_started_")
            || (n.starts_with('.') && n.ends_with(".crc"))
    })
}

/// Why a file or folder found while walking was passed over (never an error: the data
/// in it is read once elsewhere, or it holds none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// The same file or folder (same device and inode) as one already taken, reached
    /// again through a symbolic or hard link: read once, under its first name.
    Duplicate { of: PathBuf },
    /// A symbolic link back into a folder that is being walked (a loop), not followed.
    Loop { to: PathBuf },
    /// A FIFO, socket or device inside a folder: never opened (opening a FIFO blocks).
    Special(&'static str),
    /// A symbolic link to nothing.
    Dangling,
    /// A file that is neither a capture, a table nor a log (why).
    NotInput(String),
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::Duplicate { of } => write!(
                f,
                "already read as {} (the same file or folder, by another name)",
                of.display()
            ),
            Skip::Loop { to } => write!(
                f,
                "a symbolic link back to {} (a loop; not followed)",
                to.display()
            ),
            Skip::Special(what) => write!(f, "a {what}, not a regular file (not opened)"),
            Skip::Dangling => f.write_str("a symbolic link to nothing"),
            Skip::NotInput(why) => f.write_str(why),
        }
    }
}

/// One walk over the inputs of a run: every file and folder is taken once, by device
/// and inode, whatever names (symbolic links, hard links, a folder and a glob inside it)
/// lead to it; symbolic links are followed, except back into a folder being walked.
#[derive(Default)]
pub struct Walker {
    /// (device, inode) of every file taken, with the name it was taken under.
    files: std::collections::HashMap<(u64, u64), PathBuf>,
    /// The same for folders walked.
    dirs: std::collections::HashMap<(u64, u64), PathBuf>,
    /// The folders being walked now (the current branch), for loops.
    branch: Vec<((u64, u64), PathBuf)>,
    /// Folders that could not be listed (with why).
    pub unlisted: Vec<(PathBuf, std::io::Error)>,
    /// Files and folders passed over, with why.
    pub skipped: Vec<(PathBuf, Skip)>,
}

fn id_of(m: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

fn special_kind(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_fifo() {
        "FIFO"
    } else if t.is_socket() {
        "socket"
    } else if t.is_char_device() {
        "character device"
    } else if t.is_block_device() {
        "block device"
    } else {
        "special file"
    }
}

impl Walker {
    /// Take a file named on the command line (or matched by a glob): `false` when the same
    /// file was already taken (then it is listed as skipped). FIFOs and devices named
    /// directly are taken: `<(zcat x.pcap.gz)` is one.
    pub fn take_named(&mut self, p: &Path) -> bool {
        match std::fs::metadata(p) {
            Ok(m) => self.take_file(p, &m),
            // Missing or unreadable: the reader names the error.
            Err(_) => true,
        }
    }

    fn take_file(&mut self, p: &Path, m: &std::fs::Metadata) -> bool {
        if !m.file_type().is_file() {
            // A pipe read twice is two different streams.
            return true;
        }
        match self.files.entry(id_of(m)) {
            std::collections::hash_map::Entry::Occupied(e) => {
                self.skipped.push((
                    p.to_path_buf(),
                    Skip::Duplicate {
                        of: e.get().clone(),
                    },
                ));
                false
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(p.to_path_buf());
                true
            }
        }
    }

    /// Every regular file under `dir`, recursively, in sorted order, each once;
    /// wsaudit's own scratch files are left out ([`is_scratch`]), special files,
    /// duplicates and loops go to [`Walker::skipped`], folders that cannot be listed to
    /// [`Walker::unlisted`].
    pub fn walk(&mut self, dir: &Path, files: &mut Vec<PathBuf>) {
        let Ok(m) = std::fs::metadata(dir) else {
            return self.list(dir, files);
        };
        let id = id_of(&m);
        if let Some((_, to)) = self.branch.iter().find(|(b, _)| *b == id) {
            let to = to.clone();
            self.skipped.push((dir.to_path_buf(), Skip::Loop { to }));
            return;
        }
        if let Some(of) = self.dirs.get(&id) {
            let of = of.clone();
            self.skipped
                .push((dir.to_path_buf(), Skip::Duplicate { of }));
            return;
        }
        self.dirs.insert(id, dir.to_path_buf());
        self.branch.push((id, dir.to_path_buf()));
        self.list(dir, files);
        self.branch.pop();
    }

    fn list(&mut self, dir: &Path, files: &mut Vec<PathBuf>) {
        let rd = match std::fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) => {
                self.unlisted.push((dir.to_path_buf(), e));
                return;
            }
        };
        let mut entries: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| !is_scratch(p) && !is_dataset_bookkeeping(p))
            .collect();
        entries.sort();
        for p in entries {
            // Follow symbolic links; a link to nothing is noted.
            let m = match std::fs::metadata(&p) {
                Ok(m) => m,
                Err(_) if std::fs::symlink_metadata(&p).is_ok_and(|l| l.is_symlink()) => {
                    self.skipped.push((p, Skip::Dangling));
                    continue;
                }
                Err(e) => {
                    self.unlisted.push((p, e));
                    continue;
                }
            };
            let t = m.file_type();
            if t.is_dir() {
                self.walk(&p, files);
            } else if !t.is_file() {
                self.skipped.push((p, Skip::Special(special_kind(t))));
            } else if self.take_file(&p, &m) {
                files.push(p);
            }
        }
    }
}

/// Every file under `dir`, recursively, in sorted order, each once (see [`Walker`]);
/// folders that cannot be listed go to `unlisted` with why.
pub fn walk(dir: &Path, files: &mut Vec<PathBuf>, unlisted: &mut Vec<(PathBuf, std::io::Error)>) {
    let mut w = Walker::default();
    w.walk(dir, files);
    unlisted.append(&mut w.unlisted);
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

/// What a search for one kind of file found.
#[derive(Debug, Default)]
pub struct Found {
    /// The files, each once, in the order the arguments gave them (folders sorted).
    pub files: Vec<PathBuf>,
    /// Arguments or folders that could not be used: (argument or folder, why).
    pub problems: Vec<(PathBuf, String)>,
    /// Files passed over (duplicates, loops, special files), with why.
    pub skipped: Vec<(PathBuf, Skip)>,
}

/// The files that folders, globs and names in `args` stand for, keeping from folders
/// and globs only those `keep` accepts (a file named directly is always kept); each file
/// once ([`Walker`]).
fn files_of(
    args: &[String],
    keep: &dyn Fn(&Path) -> bool,
    list_error: &dyn Fn(&std::io::Error) -> String,
) -> Found {
    let mut w = Walker::default();
    let mut found = Found::default();
    let in_folder = |w: &mut Walker, dir: &Path, out: &mut Vec<PathBuf>| {
        let mut files = Vec::new();
        w.walk(dir, &mut files);
        out.extend(files.into_iter().filter(|f| keep(f)));
    };
    for a in args {
        match resolve(a) {
            Arg::Path(p) if p.is_dir() => in_folder(&mut w, &p, &mut found.files),
            Arg::Path(p) => {
                if w.take_named(&p) {
                    found.files.push(p)
                }
            }
            Arg::Glob(matched) => {
                for g in matched {
                    if g.is_dir() {
                        in_folder(&mut w, &g, &mut found.files);
                    } else if keep(&g) && w.take_named(&g) {
                        found.files.push(g);
                    }
                }
            }
            Arg::NoMatch => found.problems.push((a.into(), "no file matches".into())),
            Arg::BadPattern(e) => found.problems.push((a.into(), format!("bad pattern: {e}"))),
            Arg::Missing | Arg::Stdin => found
                .problems
                .push((a.into(), "no such file or folder".into())),
        }
    }
    found
        .problems
        .extend(w.unlisted.into_iter().map(|(d, e)| (d, list_error(&e))));
    found.skipped = w.skipped;
    found
}

/// The tables that `args` (files, folders, globs) stand for: what `wsaudit report`
/// reads (`.csv`, `.parquet`, `.pq`, and `.json` / `.jsonl` / `.ndjson` files holding
/// a wsaudit export: [`is_table_file`]). Which kind of table each one is, is the
/// table reader's to say.
pub fn table_files(args: &[String]) -> Found {
    files_of(args, &is_table_file, &|e| format!("cannot list: {e}"))
}

/// The log files that `paths` (files, folders, globs) stand for: captures inside
/// folders and globs are left out; a file named directly is kept whatever it holds.
pub fn log_files(paths: &[PathBuf]) -> Found {
    let args: Vec<String> = paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    files_of(&args, &|p| is_log(p), &|e| {
        format!("cannot list folder: {e}")
    })
}

/// The file name, lower case, without a compression suffix (`.gz`, `.zst`, `.zstd`).
fn plain_name(p: &Path) -> String {
    let n = p
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    for z in [".gz", ".zst", ".zstd"] {
        if let Some(s) = n.strip_suffix(z) {
            return s.to_string();
        }
    }
    n
}

/// Whether `name` has `.<ext>` as an extension, possibly followed by a rotation number
/// (`x.pcap1`, `x.pcap.3`, `x.log.2`, `x.log-20261204`, `x.log.2026-12-04`).
fn has_ext_rotated(name: &str, ext: &str) -> bool {
    let dot = format!(".{ext}");
    name.match_indices(&dot).any(|(i, _)| {
        let rest = &name[i + dot.len()..];
        let rest = rest.trim_start_matches(['.', '-', '_']);
        rest.bytes().all(|b| b.is_ascii_digit() || b == b'-')
    })
}

/// Named like a packet capture (`.pcap`, `.pcapng`, `.cap`, rotated and compressed
/// forms): such a file found in a folder is read as one, so that a damaged capture is an
/// error with its byte offset, never passed over.
pub fn is_capture_name(p: &Path) -> bool {
    let n = plain_name(p);
    ["pcap", "pcapng", "cap"]
        .iter()
        .any(|e| has_ext_rotated(&n, e))
}

/// Named like a log (`.log` and its rotations, `.jsonl`, `.ndjson`, `.out`, `.err`):
/// such a text file found in a folder is read as one even when its first lines show no
/// known format (application logs often say nothing about WebSockets for a while), and
/// a log in which no line is recognised is reported, not passed over.
pub fn is_log_name(p: &Path) -> bool {
    let n = plain_name(p);
    ["log", "jsonl", "ndjson", "out", "err"]
        .iter()
        .any(|e| has_ext_rotated(&n, e))
}

/// The start of a table exported by wsaudit as JSON (`.json` array or `.jsonl` lines):
/// the first object starts with one of its tables' first columns (`capture`,
/// `session_id`; a per-code summary's `close_code` followed by `close_code_name`).
fn is_wsaudit_json(head: &[u8]) -> bool {
    let s = String::from_utf8_lossy(head);
    let s = s.trim_start().trim_start_matches('[').trim_start();
    s.starts_with("{\"capture\":")
        || s.starts_with("{\"session_id\":")
        || (s.starts_with("{\"close_code\":") && s.contains("\"close_code_name\""))
}

/// A table exported by wsaudit: `.parquet`, `.pq` or `.csv` by name, or a `.json`,
/// `.jsonl` or `.ndjson` file whose first object is a wsaudit table row (other JSON is
/// a log).
pub fn is_table_file(p: &Path) -> bool {
    if is_table_name(p) {
        return true;
    }
    let ext = p
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    matches!(ext.as_deref(), Some("json" | "jsonl" | "ndjson"))
        && decoded_head(p).is_ok_and(|h| is_wsaudit_json(&h))
}

enum Kind {
    Capture,
    Table,
    Log,
    /// An NSS key log (`SSLKEYLOGFILE`): secrets for TLS connections.
    KeyLog,
    /// Not clearly anything (why; only passed over inside folders).
    Other(String),
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

/// What a file is, by content (and by name for tables, and for captures and logs that
/// cannot be told by content). `listed`: named on the command line.
fn kind_of_file(p: &Path, opts: &logs::LogOptions, listed: bool) -> Kind {
    let force_log = opts.format.is_some();
    if is_table_file(p) {
        return Kind::Table;
    }
    let head = match decoded_head(p) {
        Ok(h) => h,
        // Unreadable: the capture reader says why, naming the file.
        Err(_) => return Kind::Capture,
    };
    if is_capture_magic(&head) {
        return Kind::Capture;
    }
    if is_capture_name(p) && !force_log {
        // Damaged, empty or not a capture at all: said with its byte offset.
        return Kind::Capture;
    }
    if !force_log && crate::tls::KeyLog::sniff(&head) {
        return Kind::KeyLog;
    }
    if force_log || looks_like_text(&head) || (head.is_empty() && is_log_name(p)) {
        // In a folder, a text file counts as a log only when it is named like one or its
        // first lines show a known format (READMEs and scripts next to the logs are not
        // inputs).
        if listed || force_log || is_log_name(p) || detected(p, opts) {
            return Kind::Log;
        }
        return Kind::Other(format!(
            "text, but not named like a log and no line of its first {} shows a known log \
             format (name the file, or use --log-format, to read it as a log)",
            logs::DETECT_LINES
        ));
    }
    if listed {
        // Reported as "not a capture" with its offset.
        return Kind::Capture;
    }
    if head.is_empty() {
        Kind::Other("an empty file".into())
    } else {
        Kind::Other(
            "not a capture (no pcap or pcapng magic at byte 0, and not named like one), a \
             table or a log"
                .into(),
        )
    }
}

/// Whether the first lines of a (possibly compressed) text file show a log as `opts`
/// reads it (a built-in format, JSON objects, a `--pattern`).
fn detected(p: &Path, opts: &logs::LogOptions) -> bool {
    open_decoded(p)
        .and_then(|r| logs::detect::recognised(r, opts))
        .unwrap_or(false)
}

/// Sort the command-line paths into captures, tables, logs and the rest, each file once
/// ([`Walker`]). With `--log-format` (`opts.format`), every file that is not a capture or
/// a table is a log; a text file in a folder is a log when its first lines show one as
/// `opts` reads it (`--map`, `--pattern` included).
pub fn classify(paths: &[String], opts: &logs::LogOptions) -> Sources {
    let mut s = Sources::default();
    let mut w = Walker::default();
    // `listed`: named on the command line (or matched by a glob). Such a file is always
    // read as something, so that "not a capture" is reported with its byte offset; files
    // found in folders are taken only when clearly a capture, table or log.
    let one = |s: &mut Sources, p: &Path, listed: bool| match kind_of_file(p, opts, listed) {
        Kind::Capture => s.captures.push(Input::Path(p.to_path_buf())),
        Kind::Table => s.tables.push((p.to_path_buf(), listed)),
        Kind::Log => s.logs.push((p.to_path_buf(), listed)),
        Kind::KeyLog => s.keylogs.push((p.to_path_buf(), listed)),
        Kind::Other(why) => s.skipped.push((p.to_path_buf(), Skip::NotInput(why))),
    };
    let dir_or_file = |s: &mut Sources, w: &mut Walker, p: &Path| {
        if p.is_dir() {
            let mut files = Vec::new();
            w.walk(p, &mut files);
            for f in files {
                one(s, &f, false);
            }
        } else if w.take_named(p) {
            one(s, p, true);
        }
    };
    for a in paths {
        match resolve(a) {
            Arg::Stdin => s.captures.push(Input::Stdin),
            Arg::Path(p) => dir_or_file(&mut s, &mut w, &p),
            Arg::Glob(found) => {
                for m in found {
                    dir_or_file(&mut s, &mut w, &m);
                }
            }
            Arg::NoMatch => s.unknown.push((a.clone(), "no file matches".into())),
            Arg::BadPattern(e) => s.unknown.push((a.clone(), format!("bad pattern: {e}"))),
            // Let the capture reader report it, naming the file.
            Arg::Missing => s.captures.push(Input::Path(PathBuf::from(a))),
        }
    }
    for (d, e) in w.unlisted {
        s.unknown
            .push((d.display().to_string(), format!("cannot list folder: {e}")));
    }
    s.skipped.extend(w.skipped);
    s
}

impl Sources {
    /// Add the `--keylog` arguments: files (read as key logs whatever they hold),
    /// folders (the key logs inside, found by their first line) and globs.
    pub fn add_keylogs(&mut self, args: &[String]) {
        let mut w = Walker::default();
        let one = |s: &mut Sources, p: &Path, listed: bool| {
            if listed {
                s.keylogs.push((p.to_path_buf(), true));
                return;
            }
            match decoded_head(p) {
                Ok(head) if crate::tls::KeyLog::sniff(&head) => {
                    s.keylogs.push((p.to_path_buf(), false))
                }
                _ => s.skipped.push((
                    p.to_path_buf(),
                    Skip::NotInput("in a --keylog folder, but not a key log".into()),
                )),
            }
        };
        for a in args {
            let paths = match resolve(a) {
                Arg::Path(p) => vec![p],
                Arg::Glob(found) => found,
                Arg::Stdin => {
                    self.unknown
                        .push((a.clone(), "--keylog cannot read standard input".into()));
                    continue;
                }
                Arg::NoMatch => {
                    self.unknown
                        .push((a.clone(), "no key log file matches".into()));
                    continue;
                }
                Arg::BadPattern(e) => {
                    self.unknown.push((a.clone(), format!("bad pattern: {e}")));
                    continue;
                }
                Arg::Missing => {
                    self.unknown
                        .push((a.clone(), "no such key log file or folder".into()));
                    continue;
                }
            };
            for p in paths {
                if p.is_dir() {
                    let mut files = Vec::new();
                    w.walk(&p, &mut files);
                    for f in files {
                        one(self, &f, false);
                    }
                } else if w.take_named(&p) && !self.keylogs.iter().any(|(k, _)| *k == p) {
                    one(self, &p, true);
                }
            }
        }
        for (d, e) in std::mem::take(&mut w.unlisted) {
            self.unknown
                .push((d.display().to_string(), format!("cannot list folder: {e}")));
        }
        self.skipped.extend(std::mem::take(&mut w.skipped));
    }
}

/// Read a (possibly compressed) key log file whole.
pub fn read_keylog(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut r = open_decoded(path)?;
    let mut buf = Vec::new();
    // Key logs are text of a few hundred bytes per connection; a file bigger than this
    // is not one a run can hold (and is said so, not read into memory whole).
    const MAX: u64 = 1 << 30;
    (&mut r).take(MAX + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > MAX {
        return Err(std::io::Error::other("larger than 1 GiB; not read"));
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spark_and_hadoop_bookkeeping_is_not_an_input() {
        for n in [
            "_SUCCESS",
            "_committed_123",
            "_started_123",
            ".part-0.snappy.parquet.crc",
        ] {
            assert!(is_dataset_bookkeeping(Path::new(n)), "{n}");
        }
        for n in ["part-0.snappy.parquet", "x.crc", "SUCCESS", "capture.pcap"] {
            assert!(!is_dataset_bookkeeping(Path::new(n)), "{n}");
        }
    }

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
