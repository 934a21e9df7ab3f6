//! logread: time the log reader (`src/logs/`) on one file, without polars.
//!
//! ```text
//! cargo build --release --no-default-features --example logread
//! target/release/examples/logread FILE [ROUNDS] [--pattern REGEX]...
//! ```
//!
//! Reads FILE once (page cache), then ROUNDS times (default 3) through the reader that
//! `analyze` uses (line recognition, merging), and prints rows, counts and MB/s per round.
//! Without polars it builds in about two minutes from cold (a release build of the whole
//! binary takes over fifteen on two cores).
use std::io::BufReader;
use std::time::Instant;

use wsaudit::logs::pattern::LinePattern;
use wsaudit::logs::{read_records, LogOptions, Parser};

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut opts = LogOptions::default();
    while let Some(i) = args.iter().position(|a| a == "--pattern") {
        let p = args.remove(i + 1);
        args.remove(i);
        opts.patterns.push(LinePattern::new(&p).expect("--pattern"));
    }
    let path = args
        .first()
        .expect("usage: logread FILE [ROUNDS] [--pattern REGEX]...");
    let rounds: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(3);
    let size = std::fs::read(path).expect("read").len() as f64;
    for _ in 0..rounds {
        let t = Instant::now();
        let parser = Parser::new(&opts);
        let r = BufReader::with_capacity(1 << 16, std::fs::File::open(path).expect("open"));
        let (rows, stats, _) = read_records(r, &parser, path, None);
        let s = t.elapsed().as_secs_f64();
        println!(
            "{} rows ({} merged), {} lines, {} unmatched, {} not closes, by format {:?}: {:.2} s, {:.0} MB/s",
            rows.len(),
            stats.merged,
            stats.lines,
            stats.unmatched_lines,
            stats.not_close_events,
            stats.lines_by_format,
            s,
            size / s / 1e6
        );
    }
}
