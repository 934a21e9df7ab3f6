//! The terminal report of `analyze` and `report`, from a [`Report`].
//!
//! Contract: sections in a fixed order (inputs, time range, endings, close codes with
//! what each means, refused upgrades, anomalies, capture quality, the `--by` breakdowns,
//! the 1006 diagnosis, reconnects, the timeline when asked for); every line at most
//! [`Style::width`] columns (tables drop optional columns, prose wraps at words and never
//! separates a number from its unit); everything from the wire through
//! [`crate::text::fit`]. What a source cannot know (who sent the first Close, in most
//! logs) is `-`, never 0. Close codes without a name of their own (private use,
//! unassigned registered codes) are folded into one row per range with their top codes
//! inline unless [`Style::all_codes`]; every table shows at most [`Style::top`] rows.

use std::fmt::Write as _;

use crate::analysis::breakdown::{Breakdown, GroupRow};
use crate::analysis::percode::CodeRow;
use crate::analysis::summary::Report;
use crate::codes::unnamed_range;
use crate::inputs::Outcome;
use crate::render::diagnosis::render_diagnosis;
use crate::render::reconnects::render_reconnects;
use crate::render::timeline::render_timeline;
use crate::render::Style;
use crate::text::{fmt_duration, opt_duration, pct, wrap, Column, Table};

/// The TLS line under the session count: how many TLS connections, how many were
/// decrypted, and what the undecrypted ones mean for the figures.
pub fn tls_line(r: &Report) -> Option<String> {
    let mut line = match &r.tls {
        Some(t) => {
            let mut parts = vec![format!("decrypted {}", t.decrypted)];
            if t.no_key > 0 {
                parts.push(format!("no key {}", t.no_key));
            }
            if t.unsupported > 0 {
                parts.push(format!("unsupported suite {}", t.unsupported));
            }
            if t.no_handshake > 0 {
                parts.push(format!("handshake not captured {}", t.no_handshake));
            }
            if t.handshake_failed > 0 {
                let alerts: Vec<String> = t
                    .failure_alerts
                    .iter()
                    .map(|(a, n)| format!("{a} x{n}"))
                    .collect();
                parts.push(if alerts.is_empty() {
                    format!("handshake failed {}", t.handshake_failed)
                } else {
                    format!(
                        "handshake failed {}: fatal {}",
                        t.handshake_failed,
                        alerts.join(", ")
                    )
                });
            }
            format!("TLS connections: {} ({})", t.connections, parts.join(", "))
        }
        None if r.undecrypted > 0 => "TLS connections not decrypted:".to_string(),
        None => return None,
    };
    if r.undecrypted > 0 {
        let n = r.undecrypted;
        let (s, are) = if n == 1 { ("", "is") } else { ("s", "are") };
        line.push_str(&format!(
            ". {n} undecrypted connection{s} {are} in no figure below"
        ));
        let keys_would_help = r.tls.as_ref().is_none_or(|t| t.no_key > 0);
        if keys_would_help {
            line.push_str(&format!(
                "; give the key log with --keylog (what SSLKEYLOGFILE writes) to read {}.",
                if n == 1 { "it" } else { "them" }
            ));
        } else {
            line.push('.');
        }
    }
    Some(line)
}

fn render_breakdown(o: &mut String, b: &Breakdown, style: &Style) {
    // As many code columns as fit beside a name column of at least 21 (1006 kept when
    // present); the codes left out count in "other".
    let room = style.width.saturating_sub(21 + 9 + 8) / 8;
    let mut shown: Vec<usize> = (0..b.codes.len()).take(room).collect();
    if let Some(k) = b.codes.iter().position(|c| *c == 1006) {
        if !shown.contains(&k) && !shown.is_empty() {
            shown.pop();
            shown.push(k);
        }
    }
    let mut columns = vec![
        Column::name(format!("By {}", b.by.as_str()), 29, 21),
        Column::num("Sessions", 8, 0),
    ];
    columns.extend(
        shown
            .iter()
            .map(|k| Column::num(b.codes[*k].to_string(), 7, 0)),
    );
    columns.push(Column::num("other", 7, 0));
    let cell = |n: u64, of: u64| {
        if n == 0 {
            "-".to_string()
        } else {
            pct(n as f64 / of.max(1) as f64)
        }
    };
    let line = |r: &GroupRow| {
        let mut v = vec![r.group.clone(), r.sessions.to_string()];
        v.extend(shown.iter().map(|k| cell(r.per_code[*k], r.sessions)));
        let hidden: u64 = (0..r.per_code.len())
            .filter(|k| !shown.contains(k))
            .map(|k| r.per_code[k])
            .sum();
        v.push(cell(r.other + hidden, r.sessions));
        v
    };
    let mut rows: Vec<Vec<String>> = b.rows.iter().map(line).collect();
    if let Some((_, r)) = &b.folded {
        rows.push(line(r));
    }
    if let Some(r) = &b.missing {
        rows.push(line(r));
    }
    o.push('\n');
    o.push_str(&Table { columns }.render(&rows, style.width));
}

/// `-` where no session of the row can tell.
fn known(n: u64, known: u64) -> String {
    if known == 0 {
        "-".into()
    } else {
        n.to_string()
    }
}

/// One row of the close-code table.
enum CodeLine<'a> {
    Code(&'a CodeRow),
    /// Codes of one range without names of their own: (range label, codes).
    Range(String, Vec<&'a CodeRow>),
    /// The codes beyond `--top`.
    Rest(Vec<&'a CodeRow>),
}

fn code_lines<'a>(codes: &'a [CodeRow], style: &Style) -> Vec<CodeLine<'a>> {
    let mut lines: Vec<CodeLine> = Vec::new();
    for c in codes {
        let range = if style.all_codes {
            None
        } else {
            unnamed_range(c.close_code)
        };
        match range {
            None => lines.push(CodeLine::Code(c)),
            Some((lo, hi, name)) => {
                let label = format!("{lo}-{hi} {name}");
                let at = lines
                    .iter()
                    .position(|l| matches!(l, CodeLine::Range(r, _) if *r == label));
                match at {
                    Some(i) => {
                        if let CodeLine::Range(_, v) = &mut lines[i] {
                            v.push(c);
                        }
                    }
                    None => lines.push(CodeLine::Range(label, vec![c])),
                }
            }
        }
    }
    if !style.all_codes && lines.len() > style.top {
        let rest: Vec<&CodeRow> = lines
            .drain(style.top..)
            .flat_map(|l| match l {
                CodeLine::Code(c) => vec![c],
                CodeLine::Range(_, v) | CodeLine::Rest(v) => v,
            })
            .collect();
        lines.push(CodeLine::Rest(rest));
    }
    lines
}

fn render_codes(o: &mut String, codes: &[CodeRow], sessions: u64, style: &Style) {
    let table = Table {
        columns: vec![
            Column::name("Close code", 28, 22),
            Column::num("Sessions", 8, 0),
            Column::num("Share", 6, 1),
            Column::num("Client", 7, 0),
            Column::num("Server", 6, 0),
            Column::num("Echoed", 7, 3),
            Column::num("Duration p50", 13, 0),
            Column::num("p95", 6, 2),
            Column::num("p99", 6, 4),
        ],
    };
    let mut out = String::new();
    let lines = code_lines(codes, style);
    // Each row, then its meaning (prose, wrapped) or its folded codes.
    let mut blocks: Vec<(Vec<String>, String)> = Vec::new();
    for l in &lines {
        match l {
            CodeLine::Code(c) => blocks.push((
                vec![
                    format!("{} {}", c.close_code, c.close_code_name),
                    c.sessions.to_string(),
                    pct(c.share),
                    known(c.by_client, c.initiator_known),
                    known(c.by_server, c.initiator_known),
                    if c.echo_known == 0 {
                        "-".into()
                    } else {
                        pct(c.handshake_completed_rate)
                    },
                    opt_duration(c.duration_p50_s),
                    opt_duration(c.duration_p95_s),
                    opt_duration(c.duration_p99_s),
                ],
                wrap(&c.meaning, style.width, "    ", "    "),
            )),
            CodeLine::Range(_, v) | CodeLine::Rest(v) => {
                let n: u64 = v.iter().map(|c| c.sessions).sum();
                let label = match l {
                    CodeLine::Range(label, _) => label.clone(),
                    _ => format!("{} more codes", v.len()),
                };
                let by_client: u64 = v.iter().map(|c| c.by_client).sum();
                let by_server: u64 = v.iter().map(|c| c.by_server).sum();
                let k: u64 = v.iter().map(|c| c.initiator_known).sum();
                let mut top: Vec<String> = v
                    .iter()
                    .take(4)
                    .map(|c| format!("{} x{}", c.close_code, c.sessions))
                    .collect();
                if v.len() > 4 {
                    top.push("...".into());
                }
                let what = format!(
                    "{} code{}: {}{}",
                    v.len(),
                    if v.len() == 1 { "" } else { "s" },
                    top.join(", "),
                    if style.all_codes {
                        ""
                    } else {
                        " (--all-codes lists every code)"
                    }
                );
                blocks.push((
                    vec![
                        label,
                        n.to_string(),
                        pct(n as f64 / sessions.max(1) as f64),
                        known(by_client, k),
                        known(by_server, k),
                        "".into(),
                        "".into(),
                        "".into(),
                        "".into(),
                    ],
                    wrap(&what, style.width, "    ", "    "),
                ));
            }
        }
    }
    let rows: Vec<Vec<String>> = blocks.iter().map(|(r, _)| r.clone()).collect();
    let rendered = table.render(&rows, style.width);
    let mut it = rendered.lines();
    if let Some(h) = it.next() {
        let _ = writeln!(out, "{h}");
    }
    for ((_, prose), line) in blocks.iter().zip(it) {
        let _ = writeln!(out, "{line}");
        out.push_str(prose);
    }
    out.push_str(&wrap(
        "(Client/Server: who sent the first Close, - where the source cannot tell; Echoed: \
         the other side answered with a Close)",
        style.width,
        "  ",
        "   ",
    ));
    o.push('\n');
    o.push_str(&out);
}

/// The report as text for a terminal, laid out as `style` says.
pub fn render_text(r: &Report, style: &Style) -> String {
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
        o.push_str(&wrap(
            &format!(
                "Time range: {} -> {} UTC ({})",
                short(a),
                short(b),
                fmt_duration(span)
            ),
            style.width,
            "",
            "  ",
        ));
    }
    let _ = writeln!(
        o,
        "WebSocket sessions: {}    refused upgrades: {}",
        r.sessions, r.refused_upgrades
    );
    if r.proxies.any() {
        o.push_str(&wrap(
            &format!(
                "  (each counted once: {} of them were also seen on the proxy's upstream leg, \
                 see Proxies)",
                r.proxies.paired_sessions
            ),
            style.width,
            "",
            "  ",
        ));
    }
    if let Some(line) = tls_line(r) {
        o.push_str(&wrap(&line, style.width, "", "  "));
    }

    if !r.endings.is_empty() {
        let table = Table {
            columns: vec![
                Column::name("Ending", 12, 12),
                Column::num("Sessions", 9, 0),
                Column::num("Share", 7, 0),
                Column::name("Meaning", 48, 10),
            ],
        };
        let rows: Vec<Vec<String>> = r
            .endings
            .iter()
            .map(|e| {
                vec![
                    e.ending.clone(),
                    e.sessions.to_string(),
                    pct(e.share),
                    e.meaning.clone(),
                ]
            })
            .collect();
        o.push('\n');
        o.push_str(&table.render(&rows, style.width));
    }

    if !r.codes.is_empty() {
        render_codes(&mut o, &r.codes, r.sessions, style);
    }

    if !r.refused.is_empty() {
        let table = Table {
            columns: vec![
                Column::name("Refused upgrade (HTTP status)", 38, 20),
                Column::num("Count", 5, 0),
            ],
        };
        let rows: Vec<Vec<String>> = r
            .refused
            .iter()
            .map(|x| vec![format!("{} {}", x.status, x.reason), x.count.to_string()])
            .collect();
        o.push('\n');
        o.push_str(&table.render(&rows, style.width));
    }

    if !r.anomalies.is_empty() {
        let table = Table {
            columns: vec![
                Column::name("Anomaly", 32, 20),
                Column::num("Sessions", 8, 0),
            ],
        };
        let rows: Vec<Vec<String>> = r
            .anomalies
            .iter()
            .map(|a| vec![a.anomaly.clone(), a.sessions.to_string()])
            .collect();
        o.push('\n');
        o.push_str(&table.render(&rows, style.width));
    }

    let q = &r.quality;
    if q.gap + q.midstream + q.truncated + q.limit_hit > 0 {
        o.push('\n');
        o.push_str(&wrap(
            &format!(
                "Quality: {} with capture gaps, {} started mid-stream, {} cut by snaplen, {} \
                 hit a memory limit",
                q.gap, q.midstream, q.truncated, q.limit_hit
            ),
            style.width,
            "",
            "  ",
        ));
    }

    for b in &r.breakdowns {
        render_breakdown(&mut o, b, style);
    }

    let evicted: u64 = r.inputs.iter().map(|i| i.evicted_connections).sum();
    let heads: u64 = r.inputs.iter().map(|i| i.oversized_heads).sum();
    if evicted + heads > 0 {
        o.push('\n');
        o.push_str(&wrap(
            &format!(
                "Limits: {evicted} connections evicted from a full table (--max-connections), \
                 {heads} HTTP heads over 16 KiB ignored"
            ),
            style.width,
            "",
            "  ",
        ));
    }

    let d = &r.diagnosis;
    if d.abnormal > 0 || d.one_sided.sessions > 0 {
        o.push('\n');
        o.push_str(&render_diagnosis(d, style.width));
    }
    if r.proxies.any() {
        o.push('\n');
        o.push_str(&crate::render::proxies::render_proxies(
            &r.proxies,
            style.width,
        ));
    }
    let rc = &r.reconnects;
    if rc.by_code.iter().any(|x| x.reconnected > 0) || !rc.flags.is_empty() {
        o.push('\n');
        o.push_str(&render_reconnects(
            &rc.by_code,
            &rc.flags,
            rc.window_s,
            style,
        ));
    }
    if let Some(t) = &r.timeline {
        o.push('\n');
        o.push_str(&render_timeline(t, style.width));
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
