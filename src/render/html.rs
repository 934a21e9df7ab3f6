//! `wsaudit audit --html`: one self-contained HTML page with inline SVG charts.
//!
//! Contract: [`render`] returns a complete document that loads nothing: no script, no
//! stylesheet or font from elsewhere, no image but inline SVG; a Content-Security-Policy
//! (`default-src 'none'`) makes a browser refuse any load even if something slipped in.
//! The verdict, the breached thresholds and the changes come first; then the charts
//! (close codes, closes over time by code, duration and idle-time histograms, reconnect
//! delays, servers and paths by abnormal rate), then the tables. Every string goes
//! through [`esc`] (control characters made visible, `& < > " '` as entities), in text
//! and in attributes alike: reasons, hosts and paths come from the wire.
//!
//! Each chart is an `<svg class="chart" data-chart="NAME">` with explicit `width` and
//! `height`; each drawn value is a `<rect class="bar">` with a positive size and a
//! `<title>` tooltip (the headless-browser test counts them).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::analysis::breakdown::{Breakdown, GroupBy};
use crate::analysis::charts::Histogram;
use crate::audit::{Audit, Verdict};
use crate::render::audit::check_line;
use crate::render::diagnosis::render_diagnosis;
use crate::text::{code_label, fit, fmt_duration, fmt_time, opt_duration, pct, sanitize};

/// Text and attribute values made inert in HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in sanitize(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Colour of a close code in every chart.
pub fn code_color(code: u16) -> &'static str {
    const PRIVATE: [&str; 4] = ["#00897b", "#4db6ac", "#00695c", "#80cbc4"];
    match code {
        1000 => "#2e7d32",
        1001 => "#1e88e5",
        1005 => "#9e9e9e",
        1006 => "#c62828",
        1011 => "#ef6c00",
        1012 => "#7b1fa2",
        1013 => "#8d6e63",
        1002 | 1003 | 1007 | 1008 | 1009 | 1010 => "#d81b60",
        3000..=3999 => "#5d4037",
        4000..=4999 => PRIVATE[usize::from(code % 4)],
        _ => "#546e7a",
    }
}

/// Colour of an ending.
pub fn ending_color(e: &str) -> &'static str {
    match e {
        "normal" => "#2e7d32",
        "announced" => "#1e88e5",
        "no_status" => "#9e9e9e",
        "abnormal" => "#c62828",
        _ => "#b0bec5",
    }
}

fn series_color(s: &str) -> &'static str {
    match s.parse::<u16>() {
        Ok(c) => code_color(c),
        Err(_) => ending_color(s),
    }
}

const WIDTH: u32 = 960;

/// A y axis for values up to `v`: (step, ticks) with step 1, 2 or 5 x 10^k and at most
/// five steps, so every tick is a round number.
fn axis(v: u64) -> (u64, u64) {
    let v = v.max(1);
    let mut m = 1u64;
    loop {
        for f in [1, 2, 5] {
            let step = m * f;
            if step * 5 >= v {
                return (step, v.div_ceil(step));
            }
        }
        m *= 10;
    }
}

fn svg_open(o: &mut String, name: &str, title: &str, height: u32) {
    let _ = write!(
        o,
        "<svg class=\"chart\" data-chart=\"{}\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"{}\"><title>{}</title>",
        esc(name),
        esc(title),
        esc(title)
    );
}

fn empty_chart(o: &mut String, name: &str, title: &str, why: &str) {
    svg_open(o, name, title, 60);
    let _ = write!(
        o,
        "<text x=\"10\" y=\"35\" class=\"empty\">{}</text></svg>",
        esc(why)
    );
}

/// Horizontal bars: (label, value, colour, tooltip).
fn hbars(o: &mut String, name: &str, title: &str, rows: &[(String, u64, &str, String)]) {
    if rows.iter().all(|r| r.1 == 0) {
        return empty_chart(o, name, title, "No sessions.");
    }
    let (label_w, row_h, top) = (250u32, 26u32, 8u32);
    let plot = WIDTH - label_w - 120;
    let max = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1);
    let height = top * 2 + row_h * rows.len() as u32;
    svg_open(o, name, title, height);
    for (i, (label, v, color, tip)) in rows.iter().enumerate() {
        let y = top + row_h * i as u32;
        let w = ((*v as f64 / max as f64) * plot as f64).round().max(1.0) as u32;
        let _ = write!(
            o,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" class=\"label\">{}</text>",
            label_w - 8,
            y + 17,
            esc(&fit(label, 38))
        );
        if *v > 0 {
            let _ = write!(
                o,
                "<rect class=\"bar\" x=\"{label_w}\" y=\"{}\" width=\"{w}\" height=\"{}\" \
                 fill=\"{color}\"><title>{}</title></rect>",
                y + 3,
                row_h - 6,
                esc(tip)
            );
        }
        let _ = write!(
            o,
            "<text x=\"{}\" y=\"{}\" class=\"value\">{}</text>",
            label_w + w + 6,
            y + 17,
            v
        );
    }
    o.push_str("</svg>");
}

/// Stacked columns: categories on x, `counts[cat][series]`.
fn columns(
    o: &mut String,
    name: &str,
    title: &str,
    cats: &[String],
    series: &[String],
    counts: &[Vec<u64>],
    unit: &str,
) {
    let totals: Vec<u64> = counts.iter().map(|r| r.iter().sum()).collect();
    if totals.iter().all(|t| *t == 0) {
        return empty_chart(o, name, title, &format!("No {unit}."));
    }
    let (left, right, top, bottom, plot_h) = (56u32, 16u32, 12u32, 40u32, 220u32);
    let height = top + plot_h + bottom;
    let plot_w = WIDTH - left - right;
    let (step, ticks) = axis(*totals.iter().max().unwrap_or(&1));
    let max = step * ticks;
    svg_open(o, name, title, height);
    // Grid and y labels.
    for k in 0..=ticks {
        let v = step * k;
        let y = top + plot_h - (plot_h as u64 * k / ticks) as u32;
        let _ = write!(
            o,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" class=\"grid\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\" class=\"tick\">{v}</text>",
            WIDTH - right,
            left - 6,
            y + 4
        );
    }
    let n = cats.len().max(1) as u32;
    let slot = plot_w as f64 / n as f64;
    let bar_w = (slot * 0.8).max(1.0);
    let label_every = (n as usize).div_ceil(12).max(1);
    for (i, cat) in cats.iter().enumerate() {
        let x = left as f64 + slot * i as f64 + (slot - bar_w) / 2.0;
        let mut y = (top + plot_h) as f64;
        for (j, s) in series.iter().enumerate() {
            let v = counts[i].get(j).copied().unwrap_or(0);
            if v == 0 {
                continue;
            }
            let h = (v as f64 / max as f64 * plot_h as f64).max(1.0);
            y -= h;
            let _ = write!(
                o,
                "<rect class=\"bar\" data-series=\"{}\" x=\"{x:.1}\" y=\"{y:.1}\" \
                 width=\"{bar_w:.1}\" height=\"{h:.1}\" fill=\"{}\"><title>{}: {} {v} {}</title></rect>",
                esc(s),
                series_color(s),
                esc(cat),
                esc(s),
                esc(unit)
            );
        }
        if i % label_every == 0 {
            let _ = write!(
                o,
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\" class=\"tick\">{}</text>",
                left as f64 + slot * i as f64 + slot / 2.0,
                top + plot_h + 16,
                esc(cat)
            );
        }
    }
    let _ = write!(
        o,
        "<line x1=\"{left}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" class=\"axis\"/></svg>",
        WIDTH - right,
        top + plot_h,
        top + plot_h
    );
    legend(o, series);
}

fn legend(o: &mut String, series: &[String]) {
    o.push_str("<p class=\"legend\">");
    for s in series {
        let _ = write!(
            o,
            "<span><i style=\"background:{}\"></i>{}</span>",
            series_color(s),
            esc(&legend_label(s))
        );
    }
    o.push_str("</p>");
}

fn legend_label(s: &str) -> String {
    match s.parse::<u16>() {
        Ok(c) => code_label(c),
        Err(_) => s.to_string(),
    }
}

fn histogram(o: &mut String, name: &str, h: &Histogram) {
    columns(o, name, &h.title, &h.bins, &h.series, &h.counts, &h.unit);
}

/// Groups of a breakdown as 100 % stacked bars by code, most 1006 first.
fn groups_chart(o: &mut String, name: &str, title: &str, b: &Breakdown) {
    let i1006 = b.codes.iter().position(|c| *c == 1006);
    let rate = |r: &crate::analysis::breakdown::GroupRow| {
        i1006.map_or(0.0, |i| r.per_code[i] as f64 / r.sessions.max(1) as f64)
    };
    let mut rows: Vec<_> = b.rows.iter().filter(|r| r.sessions > 0).collect();
    if rows.is_empty() {
        return empty_chart(o, name, title, "No sessions.");
    }
    rows.sort_by(|a, b| {
        rate(b)
            .total_cmp(&rate(a))
            .then(b.sessions.cmp(&a.sessions))
    });
    let (label_w, row_h, top, plot) = (300u32, 26u32, 8u32, 480u32);
    let height = top * 2 + row_h * rows.len() as u32;
    svg_open(o, name, title, height);
    for (i, r) in rows.iter().enumerate() {
        let y = top + row_h * i as u32;
        let _ = write!(
            o,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" class=\"label\">{}</text>",
            label_w - 8,
            y + 17,
            esc(&fit(&r.group, 44))
        );
        let mut x = label_w as f64;
        let parts = b
            .codes
            .iter()
            .map(|c| c.to_string())
            .zip(r.per_code.iter().copied())
            .chain(std::iter::once(("other".to_string(), r.other)));
        for (s, n) in parts {
            if n == 0 {
                continue;
            }
            let w = (n as f64 / r.sessions as f64 * plot as f64).max(1.0);
            let fill = if s == "other" {
                "#cfd8dc"
            } else {
                series_color(&s)
            };
            let _ = write!(
                o,
                "<rect class=\"bar\" data-series=\"{}\" x=\"{x:.1}\" y=\"{}\" width=\"{w:.1}\" \
                 height=\"{}\" fill=\"{fill}\"><title>{}: {} {} of {} ({})</title></rect>",
                esc(&s),
                y + 3,
                row_h - 6,
                esc(&r.group),
                esc(&s),
                n,
                r.sessions,
                pct(n as f64 / r.sessions as f64)
            );
            x += w;
        }
        let _ = write!(
            o,
            "<text x=\"{}\" y=\"{}\" class=\"value\">{} sessions, 1006 {}</text>",
            label_w + plot + 8,
            y + 17,
            r.sessions,
            pct(rate(r))
        );
    }
    o.push_str("</svg>");
    let mut series: Vec<String> = b.codes.iter().map(|c| c.to_string()).collect();
    series.push("other".into());
    legend(o, &series);
}

/// Closes over time by code, from the report's timeline (every bucket of the span; at
/// most 120 columns, neighbours merged).
fn timeline_chart(o: &mut String, a: &Audit) {
    let title = "Closes over time by close code";
    let Some(t) = a.report.timeline.as_ref() else {
        return empty_chart(o, "timeline", title, "No timeline.");
    };
    let (Some(first), Some(last)) = (t.first_bucket, t.last_bucket) else {
        return empty_chart(o, "timeline", title, "No closes.");
    };
    let size = t.bucket_s * 1_000_000_000;
    let n = ((last - first) / size + 1) as usize;
    let merge = n.div_ceil(120).max(1);
    let line_ns = size * merge as i64;
    let cols = n.div_ceil(merge);
    let mut totals: BTreeMap<u16, u64> = BTreeMap::new();
    for b in &t.buckets {
        for c in &b.codes {
            *totals.entry(c.close_code).or_insert(0) += c.closes;
        }
    }
    let mut codes: Vec<u16> = totals.keys().copied().collect();
    codes.sort_by_key(|c| (std::cmp::Reverse(totals[c]), *c));
    let mut counts = vec![vec![0u64; codes.len()]; cols];
    for b in &t.buckets {
        let i = ((b.start - first) / line_ns) as usize;
        for c in &b.codes {
            if let (Some(row), Some(j)) = (
                counts.get_mut(i),
                codes.iter().position(|x| *x == c.close_code),
            ) {
                row[j] += c.closes;
            }
        }
    }
    let one_day = fmt_time(first).get(..10) == fmt_time(last).get(..10);
    let cats: Vec<String> = (0..cols)
        .map(|i| {
            let ts = fmt_time(first + i as i64 * line_ns);
            if one_day {
                ts.get(11..19).unwrap_or(&ts).to_string()
            } else {
                ts.get(5..16).unwrap_or(&ts).to_string()
            }
        })
        .collect();
    let series: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
    columns(o, "timeline", title, &cats, &series, &counts, "closes");
    let _ = write!(
        o,
        "<p class=\"note\">One column per {} (UTC){}.</p>",
        fmt_duration((line_ns / 1_000_000_000) as f64),
        if t.spikes.is_empty() {
            String::new()
        } else {
            format!(
                "; spikes: {}",
                t.spikes
                    .iter()
                    .map(|s| format!("{} at {}", s.kind.as_str(), fmt_time(s.bucket_start)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
}

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1c2430;background:#f4f6f8}
main{max-width:1000px;margin:0 auto;padding:16px 20px 40px}
header.verdict{padding:18px 20px;border-radius:8px;color:#fff;margin:16px 0}
header.pass{background:#2e7d32}header.fail{background:#c62828}header.error{background:#e65100}
header h1{margin:0 0 6px;font-size:24px}header p{margin:2px 0}
section{background:#fff;border-radius:8px;padding:12px 18px;margin:14px 0;box-shadow:0 1px 2px rgba(0,0,0,.08)}
h2{font-size:18px;margin:6px 0 10px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:4px 8px;border-bottom:1px solid #e3e7ea;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
tr.breached td{background:#ffebee;font-weight:600}
ul.changes li{margin:4px 0}
li.worse::marker{color:#c62828}li.better::marker{color:#2e7d32}
li.worse{color:#8e0000}
svg.chart{display:block;max-width:100%;height:auto;background:#fff}
svg .label{font-size:12px;fill:#1c2430}svg .value,svg .tick{font-size:11px;fill:#555}
svg .empty{font-size:13px;fill:#777}
svg .grid{stroke:#e3e7ea}svg .axis{stroke:#90a4ae}
p.legend span{display:inline-block;margin:0 14px 4px 0;font-size:12px}
p.legend i{display:inline-block;width:11px;height:11px;margin-right:5px;vertical-align:-1px;border-radius:2px}
p.note,p.muted{color:#5f6b76;font-size:12px}
pre{white-space:pre-wrap;font-size:12px}
code{font-size:12px}
";

fn table_head(o: &mut String, cols: &[&str]) {
    o.push_str("<table><thead><tr>");
    for c in cols {
        let (cls, name) = match c.strip_prefix('#') {
            Some(n) => (" class=\"n\"", n),
            None => ("", *c),
        };
        let _ = write!(o, "<th{cls}>{}</th>", esc(name));
    }
    o.push_str("</tr></thead><tbody>");
}

fn td(o: &mut String, s: &str) {
    let _ = write!(o, "<td>{}</td>", esc(s));
}

fn tdn(o: &mut String, s: impl std::fmt::Display) {
    let _ = write!(o, "<td class=\"n\">{}</td>", esc(&s.to_string()));
}

/// The audit as one HTML page.
pub fn render(a: &Audit) -> String {
    let r = &a.report;
    let mut o = String::with_capacity(64 * 1024);
    let class = match a.verdict {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Error => "error",
    };
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>wsaudit audit: {}</title><style>{STYLE}</style></head><body><main>",
        a.verdict.as_str()
    );

    // Verdict.
    let _ = write!(
        o,
        "<header class=\"verdict {class}\" id=\"verdict\"><h1>{}</h1>",
        esc(&a.headline)
    );
    for c in a.checks.iter().filter(|c| c.breached) {
        let _ = write!(o, "<p>Breached: {}</p>", esc(&check_line(c)));
    }
    let _ = write!(
        o,
        "<p>{} WebSocket sessions, {} refused upgrades, {} input{}",
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
        let _ = write!(
            o,
            "; {} to {} ({})",
            esc(from),
            esc(to),
            esc(&fmt_duration(span))
        );
    }
    let _ = write!(o, ". Generated {}.</p></header>", esc(&a.generated));

    // Changes.
    o.push_str("<section id=\"changes\">");
    match &a.baseline {
        None => o.push_str(
            "<h2>Changes</h2><p class=\"muted\">No baseline given (<code>--baseline PATH</code>).</p>",
        ),
        Some(b) => {
            let _ = write!(
                o,
                "<h2>Changes vs baseline</h2><p class=\"muted\">Baseline: {} ({}, {} sessions).</p>",
                esc(&b.name),
                b.kind.label(),
                b.sessions
            );
            if a.changes.is_empty() {
                let _ = write!(
                    o,
                    "<p>No change worth acting on (a change: the rate moved {}x or more, by {} \
                     points or more, and beyond chance at these session counts).</p>",
                    crate::audit::MIN_RATIO,
                    crate::audit::MIN_POINTS
                );
            } else {
                o.push_str("<ul class=\"changes\">");
                for c in &a.changes {
                    let _ = write!(
                        o,
                        "<li class=\"{}\">{}</li>",
                        if c.worse { "worse" } else { "better" },
                        esc(&c.text)
                    );
                }
                o.push_str("</ul>");
            }
        }
    }
    o.push_str("</section>");

    if !a.checks.is_empty() {
        o.push_str("<section id=\"thresholds\"><h2>Thresholds</h2>");
        table_head(&mut o, &["Status", "Key", "#Value", "#Limit", "#Sessions"]);
        for c in &a.checks {
            let _ = write!(
                o,
                "<tr{}>",
                if c.breached {
                    " class=\"breached\""
                } else {
                    ""
                }
            );
            td(&mut o, if c.breached { "BREACHED" } else { "ok" });
            td(&mut o, &c.label);
            tdn(&mut o, format!("{:.1}%", c.rate_pct));
            tdn(&mut o, format!("{}%", c.max_pct));
            tdn(&mut o, format!("{} of {}", c.sessions, c.of));
            o.push_str("</tr>");
        }
        o.push_str("</tbody></table></section>");
    }

    if !a.errors.is_empty() {
        o.push_str("<section id=\"errors\"><h2>Errors</h2><ul>");
        for e in &a.errors {
            let _ = write!(o, "<li>{}</li>", esc(e));
        }
        o.push_str("</ul></section>");
    }

    // Charts.
    o.push_str("<section id=\"chart-codes\"><h2>Close codes</h2>");
    let mut rows: Vec<(String, u64, &str, String)> = r
        .codes
        .iter()
        .map(|c| {
            (
                format!("{} {}", c.close_code, c.close_code_name),
                c.sessions,
                code_color(c.close_code),
                format!(
                    "{} {}: {} sessions ({})",
                    c.close_code,
                    c.close_code_name,
                    c.sessions,
                    pct(c.share)
                ),
            )
        })
        .collect();
    if let Some(open) = r.endings.iter().find(|e| e.ending == "open") {
        rows.push((
            "open (no close yet)".into(),
            open.sessions,
            ending_color("open"),
            format!("open: {} sessions ({})", open.sessions, pct(open.share)),
        ));
    }
    hbars(&mut o, "codes", "Sessions per close code", &rows);
    o.push_str("</section>");

    o.push_str("<section id=\"chart-timeline\"><h2>Closes over time</h2>");
    timeline_chart(&mut o, a);
    o.push_str("</section>");

    o.push_str("<section id=\"chart-duration\"><h2>Session duration</h2>");
    histogram(&mut o, "duration", &a.extras.duration);
    o.push_str("</section><section id=\"chart-idle\"><h2>Idle time before the end</h2>");
    histogram(&mut o, "idle", &a.extras.idle);
    o.push_str(
        "<p class=\"note\">Seconds from the last WebSocket frame to the end of TCP. Abnormal \
         (1006) drops piling up at one idle time point at a timeout on the path.</p></section>",
    );
    o.push_str("<section id=\"chart-reconnect\"><h2>Reconnect delays</h2>");
    histogram(&mut o, "reconnect", &a.extras.reconnect_delay);
    let _ = write!(
        o,
        "<p class=\"note\">Same client to the same server, host and path within {}; by the \
         close code of the session that ended.</p></section>",
        esc(&fmt_duration(r.reconnects.window_s))
    );
    for b in &r.breakdowns {
        let (name, what) = match b.by {
            GroupBy::Server => ("servers", "Servers"),
            GroupBy::Path => ("paths", "Paths"),
            _ => continue,
        };
        let _ = write!(
            o,
            "<section id=\"chart-{name}\"><h2>{what} by abnormal (1006) rate</h2>"
        );
        groups_chart(
            &mut o,
            name,
            &format!("{what}: share of each close code"),
            b,
        );
        let _ = write!(
            o,
            "<p class=\"note\">The {} busiest {}{}, most 1006 first.</p></section>",
            b.rows.len(),
            name,
            b.folded
                .as_ref()
                .map(|(n, _)| format!(" ({n} smaller ones not shown)"))
                .unwrap_or_default()
        );
    }

    // Tables.
    if !r.endings.is_empty() {
        o.push_str("<section id=\"endings\"><h2>Endings</h2>");
        table_head(&mut o, &["Ending", "#Sessions", "#Share", "Meaning"]);
        for e in &r.endings {
            o.push_str("<tr>");
            td(&mut o, &e.ending);
            tdn(&mut o, e.sessions);
            tdn(&mut o, pct(e.share));
            td(&mut o, &e.meaning);
            o.push_str("</tr>");
        }
        o.push_str("</tbody></table></section>");
    }
    if !r.codes.is_empty() {
        o.push_str("<section id=\"codes\"><h2>Close codes in detail</h2>");
        table_head(
            &mut o,
            &[
                "Code",
                "#Sessions",
                "#Share",
                "#By client",
                "#By server",
                "#Echoed",
                "#p50",
                "#p95",
                "Meaning",
            ],
        );
        for c in &r.codes {
            o.push_str("<tr>");
            td(&mut o, &format!("{} {}", c.close_code, c.close_code_name));
            tdn(&mut o, c.sessions);
            tdn(&mut o, pct(c.share));
            tdn(&mut o, c.by_client);
            tdn(&mut o, c.by_server);
            tdn(&mut o, pct(c.handshake_completed_rate));
            tdn(&mut o, opt_duration(c.duration_p50_s));
            tdn(&mut o, opt_duration(c.duration_p95_s));
            td(&mut o, &c.meaning);
            o.push_str("</tr>");
        }
        o.push_str("</tbody></table></section>");
    }
    if !a.extras.reasons.is_empty() {
        o.push_str("<section id=\"reasons\"><h2>Most frequent close reasons</h2>");
        table_head(&mut o, &["Code", "Reason (as sent)", "#Sessions"]);
        for x in &a.extras.reasons {
            o.push_str("<tr>");
            td(&mut o, &code_label(x.close_code));
            td(&mut o, &fit(&x.close_reason, 120));
            tdn(&mut o, x.sessions);
            o.push_str("</tr>");
        }
        o.push_str("</tbody></table></section>");
    }
    let d = &r.diagnosis;
    if d.abnormal > 0 || d.one_sided.sessions > 0 {
        o.push_str("<section id=\"diagnosis\"><h2>1006 diagnosis</h2>");
        let mut items: Vec<String> = Vec::new();
        let mut head = String::new();
        for line in render_diagnosis(d, crate::render::DEFAULT_WIDTH).lines() {
            if let Some(rest) = line.strip_prefix("- ") {
                items.push(rest.to_string());
            } else if let (Some(rest), Some(last)) = (line.strip_prefix("  "), items.last_mut()) {
                last.push(' ');
                last.push_str(rest);
            } else {
                head.push_str(line);
            }
        }
        let _ = write!(o, "<p>{}</p><ul>", esc(&head));
        for i in items {
            let _ = write!(o, "<li>{}</li>", esc(&i));
        }
        o.push_str("</ul></section>");
    }
    let rc = &r.reconnects;
    if !rc.by_code.is_empty() {
        o.push_str("<section id=\"reconnects\"><h2>Reconnects by close code</h2>");
        table_head(
            &mut o,
            &[
                "Close code",
                "#Ended",
                "#Reconnected",
                "#Rate",
                "#Delay p50",
                "#Delay p95",
            ],
        );
        for x in &rc.by_code {
            o.push_str("<tr>");
            td(&mut o, &x.close_code.map_or("-".into(), code_label));
            tdn(&mut o, x.sessions);
            tdn(&mut o, x.reconnected);
            tdn(&mut o, pct(x.reconnect_rate));
            tdn(&mut o, opt_duration(x.delay_p50_s));
            tdn(&mut o, opt_duration(x.delay_p95_s));
            o.push_str("</tr>");
        }
        o.push_str("</tbody></table>");
        let f = &rc.flags;
        if !f.is_empty() {
            let _ = write!(
                o,
                "<p>{} reconnect storm(s), {} reconnect(s) without backoff, {} client(s) that \
                 did not come back after 1012.</p>",
                f.storms.len(),
                f.no_backoff.len(),
                f.never_came_back.len()
            );
        }
        o.push_str("</section>");
    }
    if !r.refused.is_empty() {
        o.push_str("<section id=\"refused\"><h2>Refused upgrades</h2>");
        table_head(&mut o, &["HTTP status", "#Count"]);
        for x in &r.refused {
            o.push_str("<tr>");
            td(&mut o, &format!("{} {}", x.status, x.reason));
            tdn(&mut o, x.count);
            o.push_str("</tr>");
        }
        o.push_str("</tbody></table></section>");
    }
    if !r.anomalies.is_empty() {
        o.push_str("<section id=\"anomalies\"><h2>Protocol anomalies</h2>");
        table_head(&mut o, &["Anomaly", "#Sessions"]);
        for x in &r.anomalies {
            o.push_str("<tr>");
            td(&mut o, &x.anomaly);
            tdn(&mut o, x.sessions);
            o.push_str("</tr>");
        }
        o.push_str("</tbody></table></section>");
    }
    let q = &r.quality;
    if q.gap + q.midstream + q.truncated + q.limit_hit > 0 {
        let _ = write!(
            o,
            "<section id=\"quality\"><h2>Capture quality</h2><p>{} sessions with capture gaps, \
             {} started mid-stream, {} cut by snaplen, {} hit a memory limit.</p></section>",
            q.gap, q.midstream, q.truncated, q.limit_hit
        );
    }
    o.push_str("<section id=\"inputs\"><h2>Inputs</h2>");
    table_head(
        &mut o,
        &[
            "Input",
            "Kind",
            "#Packets",
            "#Sessions",
            "Outcome",
            "Problems",
        ],
    );
    for i in &r.inputs {
        o.push_str("<tr>");
        td(&mut o, &i.name);
        td(&mut o, &i.kind);
        tdn(&mut o, i.packets.map_or("-".into(), |p| p.to_string()));
        tdn(&mut o, i.sessions);
        if i.problems.is_empty() {
            td(&mut o, &i.outcome_text());
        } else {
            td(&mut o, i.outcome.as_str());
        }
        td(&mut o, &i.problems.join("; "));
        o.push_str("</tr>");
    }
    o.push_str("</tbody></table></section>");
    let _ = writeln!(
        o,
        "<p class=\"note\">wsaudit {}: this page loads nothing (no scripts, no network).</p>\
         </main></body></html>",
        env!("CARGO_PKG_VERSION")
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_is_escaped_in_text_and_attributes() {
        assert_eq!(
            esc("<img src=x onerror=alert(1)>\"'&\x07"),
            "&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;\\x07"
        );
    }

    #[test]
    fn axes_have_round_ticks() {
        assert_eq!(axis(0), (1, 1));
        assert_eq!(axis(3), (1, 3));
        assert_eq!(axis(10), (2, 5));
        assert_eq!(axis(11), (5, 3));
        assert_eq!(axis(501), (200, 3));
    }
}
