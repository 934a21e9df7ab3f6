//! The terminal report of `analyze` and `report`, from a [`Report`].
//!
//! Contract: sections in a fixed order (inputs, time range, endings, close codes with
//! what each means, refused upgrades, anomalies, capture quality, the `--by` breakdowns,
//! the 1006 diagnosis, reconnects, the timeline when asked for); lines at most 100
//! columns; everything from the wire through [`crate::text::fit`].

use std::fmt::Write as _;

use crate::analysis::breakdown::Breakdown;
use crate::analysis::summary::Report;
use crate::inputs::Outcome;
use crate::render::diagnosis::render_diagnosis;
use crate::render::reconnects::render_reconnects;
use crate::render::timeline::render_timeline;
use crate::text::{fit, fmt_duration, opt_duration, pct};

fn render_breakdown(o: &mut String, b: &Breakdown) {
    let _ = write!(o, "\nBy {:<26} {:>8}", b.by.as_str(), "Sessions");
    for c in &b.codes {
        let _ = write!(o, " {:>7}", c);
    }
    let _ = writeln!(o, " {:>7}", "other");
    let mut line = |r: &crate::analysis::breakdown::GroupRow| {
        let _ = write!(o, "{:<29} {:>8}", fit(&r.group, 29), r.sessions);
        for n in &r.per_code {
            let share = *n as f64 / r.sessions.max(1) as f64;
            let cell = if *n == 0 { "-".to_string() } else { pct(share) };
            let _ = write!(o, " {cell:>7}");
        }
        let other = if r.other == 0 {
            "-".to_string()
        } else {
            pct(r.other as f64 / r.sessions.max(1) as f64)
        };
        let _ = writeln!(o, " {other:>7}");
    };
    for r in &b.rows {
        line(r);
    }
    if let Some((_, r)) = &b.folded {
        line(r);
    }
}

/// The report as text for a terminal (at most 100 columns).
pub fn render_text(r: &Report) -> String {
    let mut o = String::new();
    let packets: u64 = r.inputs.iter().filter_map(|i| i.packets).sum();
    let (taken, skipped): (Vec<_>, Vec<_>) = r
        .inputs
        .iter()
        .partition(|i| !matches!(i.outcome, Outcome::Skipped { .. }));
    let n = taken.len();
    let mut kinds = if taken.iter().all(|i| i.kind == "capture") {
        format!(
            "{n} capture{}, {packets} packets",
            if n == 1 { "" } else { "s" }
        )
    } else {
        format!("{n} input{}", if n == 1 { "" } else { "s" })
    };
    if !skipped.is_empty() {
        let _ = write!(
            kinds,
            " ({} file{} skipped: see stderr)",
            skipped.len(),
            if skipped.len() == 1 { "" } else { "s" }
        );
    }
    let _ = writeln!(o, "{kinds}");
    if let (Some((a, b)), Some(span)) = (&r.time_range, r.time_span_s) {
        let short = |s: &str| s.replace('T', " ").chars().take(23).collect::<String>();
        let _ = writeln!(
            o,
            "Time range: {} -> {} UTC ({})",
            short(a),
            short(b),
            fmt_duration(span)
        );
    }
    let _ = writeln!(
        o,
        "WebSocket sessions: {}    refused upgrades: {}",
        r.sessions, r.refused_upgrades
    );

    if !r.endings.is_empty() {
        let _ = writeln!(o, "\nEnding        Sessions   Share  Meaning");
        for e in &r.endings {
            let _ = writeln!(
                o,
                "{:<12} {:>9} {:>7}  {}",
                e.ending,
                e.sessions,
                pct(e.share),
                e.meaning
            );
        }
    }

    if !r.codes.is_empty() {
        let _ = writeln!(
            o,
            "\nClose code                   Sessions  Share  Client Server  Echoed  Duration p50    p95    p99"
        );
        for c in &r.codes {
            let label = format!("{} {}", c.close_code, c.close_code_name);
            let _ = writeln!(
                o,
                "{:<28} {:>8} {:>6} {:>7} {:>6} {:>7} {:>13} {:>6} {:>6}",
                fit(&label, 28),
                c.sessions,
                pct(c.share),
                c.by_client,
                c.by_server,
                pct(c.handshake_completed_rate),
                opt_duration(c.duration_p50_s),
                opt_duration(c.duration_p95_s),
                opt_duration(c.duration_p99_s),
            );
            let _ = writeln!(o, "    {}", fit(&c.meaning, 96));
        }
        let _ = writeln!(
            o,
            "  (Client/Server: who sent the first Close; Echoed: the other side answered with a Close)"
        );
    }

    if !r.refused.is_empty() {
        let _ = writeln!(o, "\nRefused upgrade (HTTP status)          Count");
        for x in &r.refused {
            let _ = writeln!(
                o,
                "{:<38} {:>5}",
                fit(&format!("{} {}", x.status, x.reason), 38),
                x.count
            );
        }
    }

    if !r.anomalies.is_empty() {
        let _ = writeln!(o, "\nAnomaly                          Sessions");
        for a in &r.anomalies {
            let _ = writeln!(o, "{:<32} {:>8}", fit(&a.anomaly, 32), a.sessions);
        }
    }

    let q = &r.quality;
    if q.gap + q.midstream + q.truncated + q.limit_hit > 0 {
        let _ = writeln!(
            o,
            "\nQuality: {} with capture gaps, {} started mid-stream, {} cut by snaplen, {} hit a memory limit",
            q.gap, q.midstream, q.truncated, q.limit_hit
        );
    }

    for b in &r.breakdowns {
        render_breakdown(&mut o, b);
    }

    let evicted: u64 = r.inputs.iter().map(|i| i.evicted_connections).sum();
    let heads: u64 = r.inputs.iter().map(|i| i.oversized_heads).sum();
    if evicted + heads > 0 {
        let _ = writeln!(
            o,
            "\nLimits: {evicted} connections evicted from a full table (--max-connections), \
             {heads} HTTP heads over 16 KiB ignored"
        );
    }

    let d = &r.diagnosis;
    if d.abnormal > 0 || d.one_sided.sessions > 0 {
        o.push('\n');
        o.push_str(&render_diagnosis(d));
    }
    let rc = &r.reconnects;
    if rc.by_code.iter().any(|x| x.reconnected > 0) || !rc.flags.is_empty() {
        o.push('\n');
        o.push_str(&render_reconnects(&rc.by_code, &rc.flags, rc.window_s));
    }
    if let Some(t) = &r.timeline {
        o.push('\n');
        o.push_str(&render_timeline(t));
    }

    let problems: usize = r
        .inputs
        .iter()
        .map(|i| i.problems.len().max(usize::from(i.outcome.is_failure())))
        .sum();
    if problems > 0 {
        let _ = writeln!(o, "\nProblems reading the input ({problems}; see stderr)");
    }
    o
}
