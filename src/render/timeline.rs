//! The "Timeline" section of the terminal report, from a [`Timeline`].
//!
//! Contract: one line per bucket (neighbours merged to at most [`MAX_LINES`]), runs of
//! empty buckets said in one line, lines at most `width` columns.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::analysis::timeline::{SpikeKind, Timeline, MAX_LINES};
use crate::text::{fit, fmt_duration, fmt_time, wrap};

/// Width of the bar column at 100 columns (narrower terminals get a shorter bar).
const BAR: usize = 30;
/// Runs of at least this many empty lines are said in one line (`... 25 quiet minutes ...`).
const QUIET_RUN: usize = 3;

/// The "Timeline" section: one line per bucket (neighbours merged so there are at most
/// [`MAX_LINES`]): time, total closes, a bar, the top codes, and a `<< deploy` /
/// `<< incident` mark on spikes; three or more empty lines in a row are one line saying
/// how long it was quiet. Lines at most `width` columns.
pub fn render_timeline(t: &Timeline, width: usize) -> String {
    let bar = BAR.min(width.saturating_sub(40)).max(5);
    let mut o = String::new();
    let (Some(first), Some(last)) = (t.first_bucket, t.last_bucket) else {
        let _ = writeln!(o, "Timeline: no closes.");
        return o;
    };
    let size = t.bucket_s * 1_000_000_000;
    let n = ((last - first) / size + 1) as usize;
    let merge = n.div_ceil(MAX_LINES).max(1);
    let line_ns = size * merge as i64;
    let lines = n.div_ceil(merge);
    // Per line: total, per-code counts, spike kinds.
    let mut rows: Vec<(u64, BTreeMap<u16, u64>, Vec<SpikeKind>)> =
        vec![(0, BTreeMap::new(), Vec::new()); lines];
    for b in &t.buckets {
        let i = ((b.start - first) / line_ns) as usize;
        if let Some(r) = rows.get_mut(i) {
            r.0 += b.closes;
            for c in &b.codes {
                *r.1.entry(c.close_code).or_insert(0) += c.closes;
            }
        }
    }
    for s in &t.spikes {
        let i = ((s.bucket_start - first) / line_ns) as usize;
        if let Some(r) = rows.get_mut(i) {
            if !r.2.contains(&s.kind) {
                r.2.push(s.kind);
            }
        }
    }
    let max = rows.iter().map(|r| r.0).max().unwrap_or(0).max(1);
    let one_day = last + line_ns - first <= 86_400_000_000_000
        && fmt_time(first).get(..10) == fmt_time(last).get(..10);
    let head = format!(
        "Timeline: {} closes from {} UTC, one line per {}{}",
        t.closes,
        fmt_time(first),
        fmt_duration((line_ns / 1_000_000_000) as f64),
        if t.spikes.is_empty() {
            ""
        } else {
            " (<< marks spikes)"
        }
    );
    o.push_str(&wrap(&head, width, "", "  "));
    let mut i = 0;
    while i < rows.len() {
        let quiet = rows[i..].iter().take_while(|r| r.0 == 0).count();
        if quiet >= QUIET_RUN {
            let _ = writeln!(
                o,
                "{:<16} {:>6} ... {} ...",
                "",
                "",
                quiet_span(quiet as i64 * line_ns)
            );
            i += quiet;
            continue;
        }
        let (total, codes, kinds) = &rows[i];
        let ts = fmt_time(first + i as i64 * line_ns);
        // `YYYY-MM-DD HH:MM:SS.mmm`: time only when the chart stays within one day.
        let when = if one_day {
            ts.get(11..19).unwrap_or(&ts).to_string()
        } else {
            ts.get(..16).unwrap_or(&ts).to_string()
        };
        let len = if *total == 0 {
            0
        } else {
            ((*total as f64 / max as f64) * bar as f64).ceil() as usize
        };
        let mut top: Vec<(u16, u64)> = codes.iter().map(|(c, n)| (*c, *n)).collect();
        top.sort_by_key(|(c, n)| (std::cmp::Reverse(*n), *c));
        let mut shown: Vec<String> = top
            .iter()
            .take(3)
            .map(|(c, n)| format!("{c}x{n}"))
            .collect();
        if top.len() > 3 {
            shown.push(format!("+{}", top.len() - 3));
        }
        let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        let mark = if kinds.is_empty() {
            String::new()
        } else {
            format!("  << {}", kinds.join(", "))
        };
        let head = format!("{when:<16} {total:>6} {:<bar$} ", "#".repeat(len));
        let room = width.saturating_sub(head.chars().count() + mark.chars().count());
        let line = format!("{head}{}{mark}", fit(&shown.join(" "), room));
        let _ = writeln!(o, "{}", line.trim_end());
        i += 1;
    }
    o
}

/// `25 quiet minutes`, `3 quiet hours`, `1 quiet day`: how long a quiet run lasted.
fn quiet_span(ns: i64) -> String {
    let s = ns / 1_000_000_000;
    let (n, unit) = if s % 86_400 == 0 && s >= 86_400 {
        (s / 86_400, "day")
    } else if s % 3600 == 0 && s >= 3600 {
        (s / 3600, "hour")
    } else if s % 60 == 0 && s >= 60 {
        (s / 60, "minute")
    } else {
        (s, "second")
    };
    format!("{n} quiet {unit}{}", if n == 1 { "" } else { "s" })
}
