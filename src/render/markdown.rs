//! The Markdown summary of `wsaudit analyze --markdown`, `wsaudit report --markdown` and
//! `wsaudit audit --markdown`: for a CI job summary (GitHub renders it: tables, no raw
//! HTML), a ticket, a chat message or a wiki page.
//!
//! Contract: [`render_report`] (analyze, report) and [`render`] (audit: the verdict,
//! thresholds and changes on top) write the sections of
//! [`Dashboard`] in its order, the same as the HTML
//! page: charts become tables (closes over time a sparkline per code). Every string that
//! can come from the wire or from a file (reasons, hosts, paths, input names) goes
//! through [`md`]: control characters become visible escapes and Markdown / HTML
//! punctuation is backslash-escaped, so a close reason cannot become a link, an image or
//! raw HTML. Durations keep their unit with a non-breaking space.

use std::fmt::Write as _;

use crate::analysis::breakdown::{Breakdown, GroupBy};
use crate::analysis::charts::{Extras, Histogram};
use crate::analysis::summary::Report;
use crate::audit::Audit;
use crate::inputs::Outcome;
use crate::render::audit::check_line;
use crate::render::dashboard::{
    count, coverage, fold_histogram, group_rows, nb, time_range, Dashboard, Key, Section,
    TimeColumns,
};
use crate::render::diagnosis::render_diagnosis;
use crate::text::{code_label, fit, opt_duration, pct, sanitize};

/// Text made inert in Markdown (and in the HTML a Markdown renderer makes of it).
pub fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in sanitize(s).chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '!' | '|' | '~' | '&'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn breakdown_table(o: &mut String, b: &Breakdown) {
    let key = match b.by {
        GroupBy::Server => "Server",
        GroupBy::Path => "Path",
        _ => b.by.as_str(),
    };
    let i1006 = b.codes.iter().position(|c| *c == 1006);
    let _ = write!(o, "| {key} | Sessions | 1006 |");
    let shown: Vec<(usize, u16)> = b
        .codes
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, c)| *c != 1006)
        .collect();
    for (_, c) in &shown {
        let _ = write!(o, " {c} |");
    }
    let _ = writeln!(o, " other or open |");
    let _ = write!(o, "|---|---:|---:|");
    for _ in &shown {
        let _ = write!(o, "---:|");
    }
    let _ = writeln!(o, "---:|");
    let share = |n: u64, of: u64| {
        if n == 0 {
            "-".to_string()
        } else {
            pct(n as f64 / of.max(1) as f64)
        }
    };
    for (name, r) in group_rows(b) {
        let abnormal = i1006.map_or(0, |i| r.per_code[i]);
        let _ = write!(
            o,
            "| {} | {} | {} |",
            md(&fit(&name, 60)),
            r.sessions,
            if abnormal == 0 {
                "-".to_string()
            } else {
                nb(&format!("{abnormal} ({})", share(abnormal, r.sessions)))
            }
        );
        for (i, _) in &shown {
            let _ = write!(o, " {} |", share(r.per_code[*i], r.sessions));
        }
        let _ = writeln!(o, " {} |", share(r.other, r.sessions));
    }
    let _ = writeln!(
        o,
        "\nShares of each group's sessions; the {} busiest, most 1006 first{}.",
        b.rows.len(),
        b.folded
            .as_ref()
            .map(|(n, _)| format!(", then the {n} smaller ones together"))
            .unwrap_or_default()
    );
}

fn histogram_table(o: &mut String, d: &Dashboard, h: &Histogram, what: &str) {
    let (keys, counts) = fold_histogram(h, &d.palette);
    let _ = writeln!(o, "| {what} | {} | By close code |\n|---|---:|---|", h.unit);
    for (bin, row) in h.bins.iter().zip(&counts) {
        let total: u64 = row.iter().sum();
        if total == 0 {
            continue;
        }
        let parts: Vec<String> = keys
            .iter()
            .zip(row)
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| {
                let name = match k {
                    Key::Code(c) => c.to_string(),
                    Key::Other => "other".into(),
                    Key::Open => "open".into(),
                };
                nb(&format!("{name} ×{n}"))
            })
            .collect();
        let _ = writeln!(o, "| {} | {total} | {} |", md(&nb(bin)), parts.join(", "));
    }
}

const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// One character per column: `·` for none, else a block scaled to the row's peak.
fn sparkline(values: &[u64]) -> String {
    let peak = values.iter().copied().max().unwrap_or(0).max(1);
    values
        .iter()
        .map(|v| {
            if *v == 0 {
                '·'
            } else {
                LEVELS[((*v * 8 - 1) / peak).min(7) as usize]
            }
        })
        .collect()
}

fn timeline_table(o: &mut String, d: &Dashboard) {
    let Some(t) = &d.timeline else { return };
    if let Some((b, n, of)) = &d.busiest {
        let _ = writeln!(o, "The busiest stretch: {n} of {of} closes.\n");
        time_table(o, d, b);
        let _ = writeln!(o, "\nThe whole span:\n");
    }
    time_table(o, d, t);
}

fn time_table(o: &mut String, d: &Dashboard, t: &TimeColumns) {
    let per = t.column();
    let last = t.counts.len().saturating_sub(1);
    let _ = writeln!(
        o,
        "One character per {per} ({}), from {} to {} UTC; each row scaled to its own peak; \
         `·` none.\n",
        t.axis,
        t.start(0),
        t.start(last)
    );
    let _ = writeln!(
        o,
        "| Close code | Closes | Peak per {per} | Over time |\n|---|---:|---:|---|"
    );
    let mut rows: Vec<(String, Vec<u64>)> = t
        .keys
        .iter()
        .enumerate()
        .map(|(j, k)| {
            let name = match k {
                Key::Other => "other codes".to_string(),
                k => d.palette.label(*k),
            };
            (name, t.counts.iter().map(|r| r[j]).collect())
        })
        .collect();
    rows.push((
        "all".to_string(),
        t.counts.iter().map(|r| r.iter().sum()).collect(),
    ));
    for (name, v) in rows {
        let _ = writeln!(
            o,
            "| {} | {} | {} | `{}` |",
            md(&name),
            v.iter().sum::<u64>(),
            v.iter().max().unwrap_or(&0),
            sparkline(&v)
        );
    }
    let marks = t.marks();
    if marks.is_empty() {
        let _ = writeln!(o, "\nNo spike.");
    } else {
        o.push('\n');
        for (i, label, text) in marks {
            let _ = writeln!(
                o,
                "- **{label}** in the {per} from {} UTC ({text})",
                t.start(i)
            );
        }
    }
}

/// The audit as Markdown: the verdict, thresholds and changes, then the report's views.
pub fn render(a: &Audit) -> String {
    page(&Dashboard::new(&a.report, &a.extras, Some(a)))
}

/// The report of `analyze` / `report` as Markdown.
pub fn render_report(r: &Report, x: &Extras) -> String {
    page(&Dashboard::new(r, x, None))
}

fn page(d: &Dashboard) -> String {
    let r = d.report;
    let mut o = String::new();
    let abnormal = r
        .codes
        .iter()
        .find(|c| c.close_code == 1006)
        .map_or(0, |c| c.sessions);
    match d.audit {
        Some(a) => {
            let _ = writeln!(o, "# wsaudit audit: {}\n", a.verdict.as_str());
            let _ = writeln!(o, "**{}**\n", md(&a.headline));
        }
        None => {
            let _ = writeln!(
                o,
                "# wsaudit: {}\n",
                count(r.sessions, "WebSocket session", "WebSocket sessions")
            );
            let _ = writeln!(
                o,
                "**{}**\n",
                if abnormal == 0 {
                    "No abnormal closure (1006)".to_string()
                } else {
                    format!(
                        "{abnormal} abnormal (1006), {}",
                        pct(abnormal as f64 / r.sessions.max(1) as f64)
                    )
                }
            );
        }
    }
    let inputs = r.inputs.iter().filter(|i| i.taken()).count() as u64;
    let mut line = vec![
        count(r.sessions, "WebSocket session", "WebSocket sessions"),
        count(r.refused_upgrades, "refused upgrade", "refused upgrades"),
        count(inputs, "input", "inputs"),
    ];
    if let Some(t) = time_range(r) {
        line.push(md(&t));
    }
    if let Some(a) = d.audit {
        line.push(format!(
            "generated {}",
            a.generated.replace('T', " ").replace('Z', " UTC").trim()
        ));
    }
    let _ = writeln!(o, "{}", line.join(" · "));
    if let Some(tls) = crate::render::report::tls_line(r) {
        let _ = writeln!(o, "\n{}", md(&tls));
    }
    for (sec, title) in &d.sections {
        let _ = writeln!(o, "\n## {}\n", md(title));
        section(&mut o, d, *sec);
    }
    o
}

fn section(o: &mut String, d: &Dashboard, sec: Section) {
    let r = d.report;
    let x = d.extras;
    match sec {
        Section::Errors => {
            for e in d.errors() {
                let _ = writeln!(o, "- {}", md(&e));
            }
        }
        Section::Thresholds => {
            let Some(a) = d.audit else { return };
            let _ = writeln!(
                o,
                "| Status | Key | Value | Limit | Sessions |\n|---|---|---:|---:|---:|"
            );
            for c in &a.checks {
                let _ = writeln!(
                    o,
                    "| {} | {} | {:.1}% | {}% | {} of {} |",
                    if c.breached { "**BREACHED**" } else { "ok" },
                    md(&c.label),
                    c.rate_pct,
                    c.max_pct,
                    c.sessions,
                    c.of
                );
            }
            let breached: Vec<_> = a.checks.iter().filter(|c| c.breached).collect();
            if !breached.is_empty() {
                o.push('\n');
                for c in breached {
                    let _ = writeln!(o, "- Breached: {}", md(&check_line(c)));
                }
            }
        }
        Section::Changes => {
            let Some(a) = d.audit else { return };
            match &a.baseline {
                None => {
                    let _ = writeln!(o, "No baseline given (`--baseline PATH`).");
                }
                Some(b) => {
                    let _ = writeln!(
                        o,
                        "Baseline: {} ({}, {}).\n",
                        md(&b.name),
                        b.kind.label(),
                        count(b.sessions, "session", "sessions")
                    );
                    if a.changes.is_empty() {
                        let _ = writeln!(
                            o,
                            "No change worth acting on (a change: the rate moved {}x or more, \
                             by {} points or more, and beyond chance at these session counts).",
                            crate::audit::MIN_RATIO,
                            crate::audit::MIN_POINTS
                        );
                    }
                    for c in &a.changes {
                        let _ = writeln!(
                            o,
                            "- {} {}",
                            if c.worse { "**worse**:" } else { "better:" },
                            md(&c.text)
                        );
                    }
                }
            }
        }
        Section::Codes => {
            let _ = writeln!(o, "| Code | Sessions | Share |\n|---|---:|---:|");
            for (k, n) in d.code_bars() {
                let name = match k {
                    Key::Other => format!("{} other codes", d.palette.folded().len()),
                    k => d.palette.label(k),
                };
                let _ = writeln!(
                    o,
                    "| {} | {n} | {} |",
                    md(&name),
                    pct(n as f64 / r.sessions.max(1) as f64)
                );
            }
            if !d.palette.folded().is_empty() {
                let _ = writeln!(o, "\nOther codes: {}.", md(&d.other_codes(12)));
            }
        }
        Section::CodeTable => {
            let _ = writeln!(
                o,
                "| Code | Sessions | Share | By client | By server | Echoed | Duration p50 | \
                 p95 | Meaning |\n|---|---:|---:|---:|---:|---:|---:|---:|---|"
            );
            for c in &r.codes {
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    md(&format!("{} {}", c.close_code, c.close_code_name)),
                    c.sessions,
                    pct(c.share),
                    c.by_client,
                    c.by_server,
                    pct(c.handshake_completed_rate),
                    nb(&opt_duration(c.duration_p50_s)),
                    nb(&opt_duration(c.duration_p95_s)),
                    md(&c.meaning)
                );
            }
            let _ = writeln!(
                o,
                "\nBy client / by server: who sent the first Close. Echoed: the other side \
                 answered with a Close."
            );
        }
        Section::Timeline => timeline_table(o, d),
        Section::Servers | Section::Paths => {
            let by = if sec == Section::Servers {
                GroupBy::Server
            } else {
                GroupBy::Path
            };
            if let Some(b) = r.breakdowns.iter().find(|b| b.by == by) {
                breakdown_table(o, b);
            }
        }
        Section::Diagnosis => {
            for line in render_diagnosis(&r.diagnosis, crate::render::DEFAULT_WIDTH).lines() {
                if let Some(rest) = line.strip_prefix("- ") {
                    let _ = writeln!(o, "- {}", md(rest));
                } else if let Some(rest) = line.strip_prefix("  ") {
                    let _ = writeln!(o, "  {}", md(rest));
                } else {
                    // The section's title says it already.
                    let line = line.strip_prefix("1006 diagnosis: ").unwrap_or(line);
                    let _ = writeln!(o, "{}\n", md(line));
                }
            }
        }
        Section::Proxies => {
            let p = &r.proxies;
            let head = crate::render::proxies::head(p);
            let _ = writeln!(
                o,
                "{}\n",
                md(head.strip_prefix("Proxies: ").unwrap_or(&head))
            );
            let _ = writeln!(
                o,
                "| Proxy | Sessions | Idle cuts | Active cuts | Rewritten | Own Close |\n|---|---:|---:|---:|---:|---:|"
            );
            for row in &p.proxies {
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} | {} | {} |",
                    md(&row.proxy),
                    row.sessions,
                    row.cuts_idle,
                    row.cuts_active,
                    row.codes_rewritten,
                    row.proxy_closes
                );
            }
            let notes = crate::render::proxies::notes(p);
            if !notes.is_empty() {
                o.push('\n');
            }
            for n in notes {
                let _ = writeln!(o, "- {}", md(&n));
            }
        }
        Section::Idle => {
            histogram_table(o, d, &x.idle, "Idle time before the end");
            let _ = writeln!(
                o,
                "\n{} Seconds from the last WebSocket frame to the end of TCP; abnormal (1006) \
                 drops piling up at one idle time point at a timeout on the path.",
                md(&coverage(
                    &x.idle,
                    "idle time",
                    "a log does not say when the last frame was sent"
                ))
            );
        }
        Section::Duration => {
            histogram_table(o, d, &x.duration, "Duration");
            let _ = writeln!(
                o,
                "\n{}",
                md(&coverage(
                    &x.duration,
                    "duration",
                    "the log line does not carry it"
                ))
            );
        }
        Section::Reconnects => {
            if x.reconnect_delay.total > 0 {
                histogram_table(o, d, &x.reconnect_delay, "Delay to the next session");
                o.push('\n');
            }
            let _ = writeln!(
                o,
                "| Close code | Ended | Reconnected | Rate | Delay p50 | Delay p95 |\n\
                 |---|---:|---:|---:|---:|---:|"
            );
            for row in d.reconnect_rows() {
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} | {} | {} |",
                    row.close_code
                        .map_or("open".to_string(), |c| md(&code_label(c))),
                    row.sessions,
                    row.reconnected,
                    pct(row.reconnect_rate),
                    nb(&opt_duration(row.delay_p50_s)),
                    nb(&opt_duration(row.delay_p95_s))
                );
            }
            let _ = writeln!(o, "\n{}", d.reconnect_note());
        }
        Section::Reasons => {
            let _ = writeln!(o, "| Code | Reason (as sent) | Sessions |\n|---|---|---:|");
            for x in &x.reasons {
                let _ = writeln!(
                    o,
                    "| {} | {} | {} |",
                    x.close_code,
                    md(&fit(&x.close_reason, 80)),
                    x.sessions
                );
            }
        }
        Section::Endings => {
            let _ = writeln!(
                o,
                "| Ending | Sessions | Share | Meaning |\n|---|---:|---:|---|"
            );
            for e in &r.endings {
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} |",
                    md(&e.ending),
                    e.sessions,
                    pct(e.share),
                    md(&e.meaning)
                );
            }
        }
        Section::Refused => {
            let _ = writeln!(o, "| HTTP status | Count |\n|---|---:|");
            for x in &r.refused {
                let _ = writeln!(o, "| {} {} | {} |", x.status, md(&x.reason), x.count);
            }
        }
        Section::Anomalies => {
            let _ = writeln!(o, "| Anomaly | Sessions |\n|---|---:|");
            for x in &r.anomalies {
                let _ = writeln!(o, "| {} | {} |", md(&x.anomaly), x.sessions);
            }
        }
        Section::Quality => {
            let q = &r.quality;
            let _ = writeln!(
                o,
                "{} with capture gaps, {} started mid-stream, {} cut by snaplen, {} hit a \
                 memory limit.",
                count(q.gap, "session", "sessions"),
                q.midstream,
                q.truncated,
                q.limit_hit
            );
        }
        Section::Inputs => {
            for i in &r.inputs {
                let _ = writeln!(
                    o,
                    "- {} ({}): {}{}{}",
                    md(&i.name),
                    md(&i.kind),
                    count(i.sessions, "session", "sessions"),
                    i.packets
                        .map(|p| format!(", {}", count(p, "packet", "packets")))
                        .unwrap_or_default(),
                    match (&i.outcome, i.problems.is_empty()) {
                        (Outcome::Read, true) => String::new(),
                        (Outcome::Read, false) =>
                            format!("; problems: {}", md(&i.problems.join("; "))),
                        (_, true) => format!("; **{}**", md(&i.outcome_text())),
                        (_, false) => format!(
                            "; **{}**; problems: {}",
                            md(i.outcome.as_str()),
                            md(&i.problems.join("; "))
                        ),
                    }
                );
            }
        }
        Section::NotShown => {
            for n in &d.not_shown {
                let _ = writeln!(o, "- {}", md(n));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::render::dashboard::fixture::{extras, report};

    #[test]
    fn same_sections_in_the_same_order_as_the_html() {
        let (r, x) = (report(), extras());
        let html = crate::render::html::render_report(&r, &x);
        let md = render_report(&r, &x);
        let h2: Vec<String> = html
            .match_indices("<h2>")
            .map(|(i, _)| {
                let rest = &html[i + 4..];
                rest[..rest.find("</h2>").unwrap()].to_string()
            })
            .collect();
        let h2_md: Vec<String> = md
            .lines()
            .filter_map(|l| l.strip_prefix("## "))
            .map(|l| l.replace('\\', ""))
            .collect();
        assert_eq!(h2_md, h2);
        assert_eq!(
            h2,
            [
                "Close codes",
                "Closes over time",
                "Paths by abnormal (1006) closes",
                "Idle time before the end",
                "Session duration",
                "Close codes in detail",
                "Endings",
                "Inputs",
                "Not shown"
            ]
        );
    }

    #[test]
    fn a_ci_summary_without_raw_html_units_kept_and_counts_in_words() {
        let md = render_report(&report(), &extras());
        assert!(md.starts_with("# wsaudit: 10 WebSocket sessions\n\n**3 abnormal (1006), 30.0%**"));
        assert!(
            md.contains("2026-11-22 00:00:00.123 to 00:01:00.500 UTC (1m 00s)"),
            "{md}"
        );
        let bare = md
            .match_indices('<')
            .filter(|(i, _)| !md[..*i].ends_with('\\'))
            .count();
        assert_eq!(bare, 0, "raw HTML:\n{md}");
        assert!(md.contains("| \\<10\u{a0}ms | 1 | 1000\u{a0}×1 |"), "{md}");
        assert!(md.contains("| 310\u{a0}ms |"), "{md}");
        assert!(
            md.contains("| no path: log rows | 3 | 2\u{a0}(66.7%) |"),
            "{md}"
        );
        let none = md.find("| no path: log rows |").unwrap();
        assert!(
            md.find("| /x |").unwrap() < none,
            "the group with no path comes last"
        );
        assert!(md.contains("Covers 5 of 10 sessions. 5 log rows (gorilla 5) have no idle time"));
        assert!(
            md.contains("- **incident** in the 1 s from 2026-11-22 00:00:30 UTC"),
            "{md}"
        );
        // One sparkline character per second of the minute.
        let line = md
            .lines()
            .find(|l| l.starts_with("| 1006 Abnormal Closure | 3 | 3 |"))
            .unwrap();
        let spark = line.split('`').nth(1).unwrap();
        assert_eq!(spark.chars().count(), 60, "{line}");
        assert_eq!(spark.chars().nth(30), Some('█'));
    }

    #[test]
    fn hostile_text_is_inert() {
        let s = md("<img src=x onerror=alert(1)> [a](javascript:x) | `c`\x1b");
        assert!(s.starts_with("\\<img src=x onerror=alert(1)\\>"), "{s}");
        assert!(s.contains("\\[a\\](javascript:x)"));
        assert!(s.contains("\\|") && !s.contains('\x1b'));
    }
}
