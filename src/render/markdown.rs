//! `wsaudit audit --markdown`: the audit as a Markdown summary (for a ticket, a chat
//! message or a wiki page).
//!
//! Contract: [`render`] writes the verdict and the changes first, then the tables of the
//! report (endings, codes, close reasons, servers and paths, the 1006 diagnosis,
//! reconnects, the timeline). Every string that can come from the wire or from a file
//! (reasons, hosts, paths, input names) goes through [`md`]: control characters become
//! visible escapes and Markdown / HTML punctuation is backslash-escaped, so a close
//! reason cannot become a link, an image or raw HTML.

use std::fmt::Write as _;

use crate::analysis::breakdown::{Breakdown, GroupBy};
use crate::audit::Audit;
use crate::inputs::Outcome;
use crate::render::audit::check_line;
use crate::render::diagnosis::render_diagnosis;
use crate::render::timeline::render_timeline;
use crate::text::{code_label, fit, fmt_duration, opt_duration, pct, sanitize};

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
    let what = match b.by {
        GroupBy::Server => "Servers",
        GroupBy::Path => "Paths",
        _ => b.by.as_str(),
    };
    let _ = writeln!(
        o,
        "\n## {what} by abnormal (1006) rate\n\nThe {} busiest, most 1006 first.\n",
        b.rows.len()
    );
    let _ = write!(o, "| {} | Sessions |", b.by.as_str());
    for c in &b.codes {
        let _ = write!(o, " {c} |");
    }
    let _ = writeln!(o, " other |");
    let _ = write!(o, "|---|---:|");
    for _ in &b.codes {
        let _ = write!(o, "---:|");
    }
    let _ = writeln!(o, "---:|");
    let i1006 = b.codes.iter().position(|c| *c == 1006);
    let mut rows: Vec<_> = b.rows.iter().collect();
    let rate = |r: &crate::analysis::breakdown::GroupRow| {
        i1006.map_or(0.0, |i| r.per_code[i] as f64 / r.sessions.max(1) as f64)
    };
    rows.sort_by(|a, b| {
        rate(b)
            .total_cmp(&rate(a))
            .then(b.sessions.cmp(&a.sessions))
    });
    for r in rows.into_iter().chain(b.folded.as_ref().map(|f| &f.1)) {
        let _ = write!(o, "| {} | {} |", md(&fit(&r.group, 60)), r.sessions);
        for n in &r.per_code {
            let cell = if *n == 0 {
                "-".to_string()
            } else {
                pct(*n as f64 / r.sessions.max(1) as f64)
            };
            let _ = write!(o, " {cell} |");
        }
        let _ = writeln!(
            o,
            " {} |",
            if r.other == 0 {
                "-".to_string()
            } else {
                pct(r.other as f64 / r.sessions.max(1) as f64)
            }
        );
    }
}

/// The audit as Markdown.
pub fn render(a: &Audit) -> String {
    let r = &a.report;
    let mut o = String::new();
    let _ = writeln!(o, "# wsaudit audit: {}\n", a.verdict.as_str());
    let _ = writeln!(o, "**{}**\n", md(&a.headline));
    let _ = writeln!(
        o,
        "Generated {} · {} WebSocket sessions · {} refused upgrades · {} input{}",
        a.generated,
        r.sessions,
        r.refused_upgrades,
        r.inputs.iter().filter(|i| i.taken()).count(),
        if r.inputs.iter().filter(|i| i.taken()).count() == 1 {
            ""
        } else {
            "s"
        }
    );
    if let (Some((from, to)), Some(span)) = (&r.time_range, r.time_span_s) {
        let _ = writeln!(
            o,
            "\nTime range: {} -> {} ({})",
            md(from),
            md(to),
            fmt_duration(span)
        );
    }

    if !a.checks.is_empty() {
        let _ = writeln!(
            o,
            "\n## Thresholds\n\n| Status | Key | Value | Limit | Sessions |\n|---|---|---:|---:|---:|"
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

    match &a.baseline {
        None => {
            let _ = writeln!(o, "\n## Changes\n\nNo baseline given (`--baseline PATH`).");
        }
        Some(b) => {
            let _ = writeln!(
                o,
                "\n## Changes vs baseline\n\nBaseline: {} ({}, {} sessions).\n",
                md(&b.name),
                b.kind.label(),
                b.sessions
            );
            if a.changes.is_empty() {
                let _ = writeln!(
                    o,
                    "No change worth acting on (a change: the rate moved {}x or more, by {} \
                     points or more, and beyond chance at these session counts).",
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

    if !a.errors.is_empty() {
        let _ = writeln!(o, "\n## Errors\n");
        for e in &a.errors {
            let _ = writeln!(o, "- {}", md(e));
        }
    }

    if !r.endings.is_empty() {
        let _ = writeln!(
            o,
            "\n## Endings\n\n| Ending | Sessions | Share | Meaning |\n|---|---:|---:|---|"
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
    if !r.codes.is_empty() {
        let _ = writeln!(
            o,
            "\n## Close codes\n\n| Code | Sessions | Share | By client | By server | Echoed | \
             Duration p50 | p95 | Meaning |\n|---|---:|---:|---:|---:|---:|---:|---:|---|"
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
                opt_duration(c.duration_p50_s),
                opt_duration(c.duration_p95_s),
                md(&c.meaning)
            );
        }
    }
    if !a.extras.reasons.is_empty() {
        let _ = writeln!(
            o,
            "\n## Most frequent close reasons\n\n| Code | Reason | Sessions |\n|---|---|---:|"
        );
        for x in &a.extras.reasons {
            let _ = writeln!(
                o,
                "| {} | {} | {} |",
                x.close_code,
                md(&fit(&x.close_reason, 80)),
                x.sessions
            );
        }
    }
    for b in &r.breakdowns {
        if matches!(b.by, GroupBy::Server | GroupBy::Path) {
            breakdown_table(&mut o, b);
        }
    }

    let d = &r.diagnosis;
    if d.abnormal > 0 || d.one_sided.sessions > 0 {
        let _ = writeln!(o, "\n## 1006 diagnosis\n");
        for line in render_diagnosis(d, crate::render::DEFAULT_WIDTH).lines() {
            if let Some(rest) = line.strip_prefix("- ") {
                let _ = writeln!(o, "- {}", md(rest));
            } else if let Some(rest) = line.strip_prefix("  ") {
                let _ = writeln!(o, "  {}", md(rest));
            } else {
                let _ = writeln!(o, "{}\n", md(line));
            }
        }
    }

    let rc = &r.reconnects;
    if rc.by_code.iter().any(|x| x.reconnected > 0) {
        let _ = writeln!(
            o,
            "\n## Reconnects (within {})\n\n| Close code | Ended | Reconnected | Rate | Delay p50 | \
             Delay p95 |\n|---|---:|---:|---:|---:|---:|",
            fmt_duration(rc.window_s)
        );
        for x in &rc.by_code {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} |",
                x.close_code.map_or("-".to_string(), |c| md(&code_label(c))),
                x.sessions,
                x.reconnected,
                pct(x.reconnect_rate),
                opt_duration(x.delay_p50_s),
                opt_duration(x.delay_p95_s)
            );
        }
        let f = &rc.flags;
        if !f.is_empty() {
            let _ = writeln!(
                o,
                "\nFlags: {} reconnect storm(s), {} reconnect(s) without backoff, {} client(s) \
                 that did not come back after 1012.",
                f.storms.len(),
                f.no_backoff.len(),
                f.never_came_back.len()
            );
        }
    }

    if let Some(t) = &r.timeline {
        if t.closes > 0 {
            // Fenced: nothing inside is rendered; the chart holds codes and times only.
            let _ = writeln!(
                o,
                "\n## Timeline\n\n```text\n{}```",
                render_timeline(t, crate::render::DEFAULT_WIDTH)
            );
        }
    }

    if !r.anomalies.is_empty() {
        let _ = writeln!(o, "\n## Anomalies\n\n| Anomaly | Sessions |\n|---|---:|");
        for x in &r.anomalies {
            let _ = writeln!(o, "| {} | {} |", md(&x.anomaly), x.sessions);
        }
    }

    let _ = writeln!(o, "\n## Inputs\n");
    for i in &r.inputs {
        let _ = writeln!(
            o,
            "- {} ({}): {} sessions{}{}",
            md(&i.name),
            md(&i.kind),
            i.sessions,
            i.packets
                .map(|p| format!(", {p} packets"))
                .unwrap_or_default(),
            match (&i.outcome, i.problems.is_empty()) {
                (Outcome::Read, true) => String::new(),
                (Outcome::Read, false) => format!("; problems: {}", md(&i.problems.join("; "))),
                (_, true) => format!("; **{}**", md(&i.outcome_text())),
                (_, false) => format!(
                    "; **{}**; problems: {}",
                    md(i.outcome.as_str()),
                    md(&i.problems.join("; "))
                ),
            }
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_is_inert() {
        let s = md("<img src=x onerror=alert(1)> [a](javascript:x) | `c`\x1b");
        assert!(s.starts_with("\\<img src=x onerror=alert(1)\\>"), "{s}");
        assert!(s.contains("\\[a\\](javascript:x)"));
        assert!(s.contains("\\|") && !s.contains('\x1b'));
    }
}
