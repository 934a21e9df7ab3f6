//! The "Timeline" section of the terminal report, from a [`Timeline`].
//!
//! Contract: one line per bucket (neighbours merged to at most [`MAX_LINES`]), lines at
//! most 100 columns.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::analysis::timeline::{SpikeKind, Timeline, MAX_LINES};
use crate::text::{fit, fmt_duration, fmt_time};

/// Width of the bar column.
const BAR: usize = 30;
/// Terminal width the chart fits in.
const WIDTH: usize = 100;

/// The "Timeline" section: one line per bucket (every bucket of the span, empty ones
/// too; neighbours merged so there are at most [`MAX_LINES`]): time, total closes, a bar,
/// the top codes, and a `<< deploy` / `<< incident` mark on spikes. Lines <= 100 columns.
pub fn render_timeline(t: &Timeline) -> String {
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
    let _ = writeln!(
        o,
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
    for (i, (total, codes, kinds)) in rows.iter().enumerate() {
        let ts = fmt_time(first + i as i64 * line_ns);
        // `YYYY-MM-DD HH:MM:SS.mmm`: time only when the chart stays within one day.
        let when = if one_day {
            ts.get(11..19).unwrap_or(&ts).to_string()
        } else {
            ts.get(..16).unwrap_or(&ts).to_string()
        };
        let width = if *total == 0 {
            0
        } else {
            ((*total as f64 / max as f64) * BAR as f64).ceil() as usize
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
        let head = format!("{when:<16} {total:>6} {:<BAR$} ", "#".repeat(width));
        let room = WIDTH.saturating_sub(head.chars().count() + mark.chars().count());
        let line = format!("{head}{}{mark}", fit(&shown.join(" "), room));
        let _ = writeln!(o, "{}", line.trim_end());
    }
    o
}
