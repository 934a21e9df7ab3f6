//! Whether a file's first lines hold a log: for telling logs from other text files in
//! folders (READMEs and scripts next to the logs are not inputs).
//!
//! Contract: [`detect`] and [`recognised`] read at most [`DETECT_LINES`] non-empty lines
//! (each cut at [`MAX_LINE`](super::MAX_LINE)) and recognise each the way the reader does
//! ([`Parser::line`]: every format that can match the line, then the `--pattern`s). A
//! line counts when a format took it (a close event, a line of the format that is not a
//! close, such as an nginx 200, or a half match), or when it is a JSON object. Reading a
//! log does not depend on this: every line of a file is recognised on its own
//! ([`super::read_records`]).

use std::io::BufRead;

use super::{json, CappedLines, LogFormat, LogOptions, Parser, Taker, DETECT_LINES};

/// The format of the first line some built-in format takes among the first lines of `r`;
/// else [`LogFormat::Json`] when JSON objects were seen; else `None`. (`_have_map` is
/// kept for callers: JSON objects count with or without a map.)
pub fn detect<R: BufRead>(r: R, _have_map: bool) -> std::io::Result<Option<LogFormat>> {
    let opts = LogOptions::default();
    Ok(first(r, &opts)?.and_then(|t| match t {
        Taker::Format(f) => Some(f),
        Taker::Pattern(_) => None,
    }))
}

/// Do the first lines of `r` hold a log as `opts` reads it (built-in formats, JSON objects,
/// the `--pattern`s; with `--log-format`, that format only)?
pub fn recognised<R: BufRead>(r: R, opts: &LogOptions) -> std::io::Result<bool> {
    Ok(first(r, opts)?.is_some())
}

/// Who took the first line taken, or JSON when JSON objects were seen.
fn first<R: BufRead>(r: R, opts: &LogOptions) -> std::io::Result<Option<Taker>> {
    let parser = Parser::new(opts);
    let mut lines = CappedLines::new(r);
    let mut seen = 0;
    let mut json_seen = false;
    while seen < DETECT_LINES {
        let Some((line, _)) = lines.next_line()? else {
            break;
        };
        let line = String::from_utf8_lossy(line);
        if line.trim().is_empty() {
            continue;
        }
        seen += 1;
        if let (Some(by), _) = parser.line(&line) {
            return Ok(Some(by));
        }
        json_seen |= opts.format.is_none() && json::object(&line).is_some();
    }
    Ok(json_seen.then_some(Taker::Format(LogFormat::Json)))
}
