//! The HTML dashboard of `wsaudit analyze --html`, `wsaudit report --html` and `wsaudit
//! audit --html`: one self-contained page with inline SVG charts.
//!
//! Contract: [`render_report`] (analyze, report) and [`render`] (audit: the verdict,
//! thresholds and changes on top) return a complete document that loads nothing: no
//! script, no stylesheet or font from elsewhere, no image but inline SVG; a
//! Content-Security-Policy (`default-src 'none'`) makes a browser refuse any load even if
//! something slipped in. Both draw the sections of [`Dashboard`] in its order (the
//! Markdown summary has the same ones), each code in the colour [`Palette`] gives it in
//! every chart. Every string goes through [`esc`] (control characters made visible,
//! `& < > " '` as entities), in text and in attributes alike: reasons, hosts and paths
//! come from the wire. Numbers never part from their units (non-breaking spaces, and
//! number cells do not wrap).
//!
//! Each chart is an `<svg class="chart" data-chart="NAME">` with explicit `width` and
//! `height`; each drawn value is a `<rect class="bar">` with a positive size and a
//! `<title>` tooltip (the headless-browser test counts them).

use std::fmt::Write as _;

use crate::analysis::breakdown::Breakdown;
use crate::analysis::charts::{Extras, Histogram};
use crate::analysis::summary::Report;
use crate::audit::{Audit, Verdict};
use crate::render::audit::check_line;
use crate::render::dashboard::{
    count, coverage, fold_histogram, group_rows, group_summary, nb, time_range, Dashboard, Key,
    Palette, Section, TimeColumns,
};
use crate::render::diagnosis::render_diagnosis;
use crate::text::{code_label, fit, opt_duration, pct, sanitize};

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

/// One horizontal bar.
struct HBar {
    label: String,
    value: u64,
    colour: &'static str,
    series: String,
    tip: String,
    text: String,
}

/// Horizontal bars (the caller leaves the chart out when every value is 0).
fn hbars(o: &mut String, name: &str, title: &str, rows: &[HBar]) {
    let (label_w, row_h, top) = (250u32, 26u32, 8u32);
    let plot = WIDTH - label_w - 190;
    let max = rows.iter().map(|r| r.value).max().unwrap_or(1).max(1);
    let height = top * 2 + row_h * rows.len() as u32;
    svg_open(o, name, title, height);
    for (i, r) in rows.iter().enumerate() {
        let y = top + row_h * i as u32;
        let w = ((r.value as f64 / max as f64) * plot as f64)
            .round()
            .max(1.0) as u32;
        let _ = write!(
            o,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" class=\"label\">{}</text>",
            label_w - 8,
            y + 17,
            esc(&fit(&r.label, 38))
        );
        if r.value > 0 {
            let _ = write!(
                o,
                "<rect class=\"bar\" data-series=\"{}\" x=\"{label_w}\" y=\"{}\" width=\"{w}\" \
                 height=\"{}\" fill=\"{}\"><title>{}</title></rect>",
                esc(&r.series),
                y + 3,
                row_h - 6,
                r.colour,
                esc(&r.tip)
            );
        }
        let _ = write!(
            o,
            "<text x=\"{}\" y=\"{}\" class=\"value\">{}</text>",
            label_w + w + 6,
            y + 17,
            esc(&r.text)
        );
    }
    o.push_str("</svg>");
}

/// The name of a series in `data-series`: the code, `other` or `open`.
fn series_name(k: Key) -> String {
    match k {
        Key::Code(c) => c.to_string(),
        Key::Other => "other".into(),
        Key::Open => "open".into(),
    }
}

/// Stacked columns over categories (time or bins).
struct Columns<'a> {
    name: &'a str,
    title: &'a str,
    /// Every column's name for tooltips.
    cats: Vec<String>,
    /// Columns labelled under the axis.
    ticks: Vec<(usize, String)>,
    keys: &'a [Key],
    /// `counts[column][key]`.
    counts: &'a [Vec<u64>],
    /// What a value counts (`closes`, `sessions`).
    unit: &'a str,
    y_title: String,
    x_title: String,
    /// (column, label, tooltip).
    marks: Vec<(usize, String, String)>,
}

fn columns(o: &mut String, c: &Columns, pal: &Palette) {
    let totals: Vec<u64> = c.counts.iter().map(|r| r.iter().sum()).collect();
    let (left, right, top, bottom, plot_h) = (64u32, 16u32, 30u32, 48u32, 220u32);
    let height = top + plot_h + bottom;
    let plot_w = WIDTH - left - right;
    let (step, ticks) = axis(*totals.iter().max().unwrap_or(&1));
    let max = step * ticks;
    svg_open(o, c.name, c.title, height);
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
    let _ = write!(
        o,
        "<text class=\"axis-title\" transform=\"translate(16 {}) rotate(-90)\" \
         text-anchor=\"middle\">{}</text>",
        top + plot_h / 2,
        esc(&c.y_title)
    );
    let n = c.cats.len().max(1) as u32;
    let slot = plot_w as f64 / n as f64;
    let bar_w = (slot * 0.8).max(1.0);
    for (i, cat) in c.cats.iter().enumerate() {
        let x = left as f64 + slot * i as f64 + (slot - bar_w) / 2.0;
        let mut y = (top + plot_h) as f64;
        for (j, k) in c.keys.iter().enumerate() {
            let v = c.counts[i].get(j).copied().unwrap_or(0);
            if v == 0 {
                continue;
            }
            let h = (v as f64 / max as f64 * plot_h as f64).max(1.0);
            y -= h;
            let _ = write!(
                o,
                "<rect class=\"bar\" data-series=\"{}\" x=\"{x:.1}\" y=\"{y:.1}\" \
                 width=\"{bar_w:.1}\" height=\"{h:.1}\" fill=\"{}\"><title>{}: {} {}</title></rect>",
                series_name(*k),
                pal.colour(*k),
                esc(cat),
                esc(&pal.label(*k)),
                esc(&count(v, c.unit.trim_end_matches('s'), c.unit))
            );
        }
    }
    for (i, label, tip) in &c.marks {
        let total = totals.get(*i).copied().unwrap_or(0);
        let x = left as f64 + slot * *i as f64 + slot / 2.0;
        let y = (top + plot_h) as f64 - total as f64 / max as f64 * plot_h as f64 - 3.0;
        // The label starts right of the y axis (at the first column it ran into the
        // axis's numbers): about 6.5 px per character at the mark's font size.
        let half = label.chars().count() as f64 * 3.25 + 2.0;
        let label_x = x.max(left as f64 + half);
        let _ = write!(
            o,
            "<g class=\"mark\" data-mark=\"{}\"><title>{}</title>\
             <path d=\"M{:.1} {:.1}l-5 -8h10z\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text></g>",
            esc(label),
            esc(tip),
            x,
            y,
            label_x,
            (y - 11.0).max(10.0),
            esc(label)
        );
    }
    for (i, label) in &c.ticks {
        let x = left as f64 + slot * *i as f64 + slot / 2.0;
        let _ = write!(
            o,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{}\" y2=\"{}\" class=\"axis\"/>\
             <text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\" class=\"tick\">{}</text>",
            top + plot_h,
            top + plot_h + 4,
            top + plot_h + 16,
            esc(label)
        );
    }
    let _ = write!(
        o,
        "<line x1=\"{left}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" class=\"axis\"/>\
         <text class=\"axis-title\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text></svg>",
        WIDTH - right,
        top + plot_h,
        top + plot_h,
        left + plot_w / 2,
        top + plot_h + 38,
        esc(&c.x_title)
    );
}

fn legend(o: &mut String, keys: &[Key], pal: &Palette) {
    o.push_str("<p class=\"legend\">");
    for k in keys {
        let _ = write!(
            o,
            "<span><i style=\"background:{}\"></i>{}</span>",
            pal.colour(*k),
            esc(&pal.label(*k))
        );
    }
    o.push_str("</p>");
}

fn histogram(o: &mut String, name: &str, h: &Histogram, x_title: &str, pal: &Palette) {
    let (keys, mut counts) = fold_histogram(h, pal);
    // Bins past the largest value are left off (the last bin still says ">= ...").
    let used = counts
        .iter()
        .rposition(|r| r.iter().any(|n| *n > 0))
        .map_or(1, |i| i + 1);
    counts.truncate(used);
    let bins: Vec<String> = h.bins.iter().take(used).cloned().collect();
    let ticks = bins.iter().enumerate().map(|(i, b)| (i, nb(b))).collect();
    columns(
        o,
        &Columns {
            name,
            title: &h.title,
            cats: bins,
            ticks,
            keys: &keys,
            counts: &counts,
            unit: &h.unit,
            y_title: h.unit.clone(),
            x_title: x_title.to_string(),
            marks: Vec::new(),
        },
        pal,
    );
    legend(o, &keys, pal);
}

/// Groups of a breakdown as 100 % stacked bars by code, most 1006 first.
fn groups_chart(o: &mut String, name: &str, title: &str, b: &Breakdown, pal: &Palette) {
    let rows = group_rows(b);
    let (label_w, row_h, top, plot) = (300u32, 26u32, 8u32, 420u32);
    let height = top * 2 + row_h * rows.len() as u32;
    svg_open(o, name, title, height);
    let mut used: Vec<Key> = Vec::new();
    for (i, (group, r)) in rows.iter().enumerate() {
        let y = top + row_h * i as u32;
        let _ = write!(
            o,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" class=\"label\">{}</text>",
            label_w - 8,
            y + 17,
            esc(&fit(group, 44))
        );
        // Folded onto the page's keys: codes without a colour join "other".
        let mut parts: Vec<(Key, u64)> = Vec::new();
        for (c, n) in b.codes.iter().zip(&r.per_code) {
            let k = pal.key(*c);
            match parts.iter_mut().find(|p| p.0 == k) {
                Some(p) => p.1 += n,
                None => parts.push((k, *n)),
            }
        }
        match parts.iter_mut().find(|p| p.0 == Key::Other) {
            Some(p) => p.1 += r.other,
            None => parts.push((Key::Other, r.other)),
        }
        parts.sort_by_key(|p| pal.order(p.0));
        let mut x = label_w as f64;
        for (k, n) in parts {
            if n == 0 {
                continue;
            }
            if !used.contains(&k) {
                used.push(k);
            }
            let w = (n as f64 / r.sessions.max(1) as f64 * plot as f64).max(1.0);
            let what = match k {
                Key::Other => "other codes or open".to_string(),
                k => pal.label(k),
            };
            let _ = write!(
                o,
                "<rect class=\"bar\" data-series=\"{}\" x=\"{x:.1}\" y=\"{}\" width=\"{w:.1}\" \
                 height=\"{}\" fill=\"{}\"><title>{}: {}: {} of {} ({})</title></rect>",
                series_name(k),
                y + 3,
                row_h - 6,
                pal.colour(k),
                esc(group),
                esc(&what),
                n,
                count(r.sessions, "session", "sessions"),
                pct(n as f64 / r.sessions.max(1) as f64)
            );
            x += w;
        }
        let _ = write!(
            o,
            "<text x=\"{}\" y=\"{}\" class=\"value\">{}</text>",
            label_w + plot + 8,
            y + 17,
            esc(&group_summary(b, r))
        );
    }
    o.push_str("</svg>");
    used.sort_by_key(|k| pal.order(*k));
    o.push_str("<p class=\"legend\">");
    for k in &used {
        let label = match k {
            Key::Other => "other codes, open, or no code (access logs)".to_string(),
            k => pal.label(*k),
        };
        let _ = write!(
            o,
            "<span><i style=\"background:{}\"></i>{}</span>",
            pal.colour(*k),
            esc(&label)
        );
    }
    o.push_str("</p>");
}

fn time_chart(o: &mut String, name: &str, title: &str, t: &TimeColumns, pal: &Palette) {
    let per = t.column();
    let cats: Vec<String> = (0..t.counts.len())
        .map(|i| format!("{} UTC (+{per})", t.start(i)))
        .collect();
    let marks = t
        .marks()
        .into_iter()
        .map(|(i, label, text)| (i, label.to_string(), format!("{} UTC: {text}", t.start(i))))
        .collect();
    columns(
        o,
        &Columns {
            name,
            title,
            cats,
            ticks: t.ticks.clone(),
            keys: &t.keys,
            counts: &t.counts,
            unit: "closes",
            y_title: format!("closes per {per}"),
            x_title: format!("{}; one column = {per}", t.axis),
            marks,
        },
        pal,
    );
}

fn timeline_chart(o: &mut String, d: &Dashboard) {
    let Some(t) = &d.timeline else { return };
    let pal = &d.palette;
    if let Some((b, n, of)) = &d.busiest {
        let _ = write!(
            o,
            "<p class=\"note\">The busiest stretch: {} of {} closes, {} to {} UTC.</p>",
            n,
            of,
            esc(&b.start(0)),
            esc(&b.start(b.counts.len().saturating_sub(1)))
        );
        time_chart(
            o,
            "timeline-busiest",
            "Closes over the busiest stretch",
            b,
            pal,
        );
        o.push_str("<p class=\"note\">The whole span:</p>");
    }
    time_chart(o, "timeline", "Closes over time by close code", t, pal);
    legend(o, &t.keys, pal);
    let spikes = d.report.timeline.as_ref().map_or(0, |t| t.spikes.len()) as u64;
    let _ = write!(
        o,
        "<p class=\"note\">{}Marked: a spike, where deploy codes (1001, 1012) or incident \
         codes (1006, 1011) reached 3 times their median per bucket and at least 5.</p>",
        if spikes == 0 {
            "No spike. ".to_string()
        } else {
            format!("{}. ", count(spikes, "spike", "spikes"))
        }
    );
}

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1c2430;background:#f4f6f8}
main{max-width:1000px;margin:0 auto;padding:16px 20px 40px}
header.verdict{padding:18px 20px;border-radius:8px;color:#fff;margin:16px 0}
header.pass{background:#2e7d32}header.fail{background:#c62828}header.error{background:#e65100}
header.report{background:#263238}
header h1{margin:0 0 6px;font-size:24px}header p{margin:2px 0}
section{background:#fff;border-radius:8px;padding:12px 18px;margin:14px 0;box-shadow:0 1px 2px rgba(0,0,0,.08)}
h2{font-size:18px;margin:6px 0 10px}
table{border-collapse:collapse;width:100%;font-size:13px;margin-top:8px}
th,td{padding:4px 8px;border-bottom:1px solid #e3e7ea;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.code{white-space:nowrap}
tr.breached td{background:#ffebee;font-weight:600}
ul.changes li{margin:4px 0}
li.worse::marker{color:#c62828}li.better::marker{color:#2e7d32}
li.worse{color:#8e0000}
svg.chart{display:block;max-width:100%;height:auto;background:#fff}
svg .label{font-size:12px;fill:#1c2430}svg .value,svg .tick{font-size:11px;fill:#555}
svg .axis-title{font-size:12px;fill:#37474f}
svg .grid{stroke:#e3e7ea}svg .axis{stroke:#90a4ae}
svg rect.bar{stroke:#fff;stroke-width:.5}
svg .mark path{fill:#1c2430}svg .mark text{font-size:11px;font-weight:600;fill:#1c2430}
p.legend span{display:inline-block;margin:0 14px 4px 0;font-size:12px;white-space:nowrap}
p.legend i,i.sw{display:inline-block;width:11px;height:11px;margin-right:5px;vertical-align:-1px;border-radius:2px}
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

/// A number cell: right-aligned, never wrapped, its unit bound to it.
fn tdn(o: &mut String, s: impl std::fmt::Display) {
    let _ = write!(o, "<td class=\"n\">{}</td>", esc(&nb(&s.to_string())));
}

/// A code cell with the code's colour.
fn td_code(o: &mut String, pal: &Palette, code: u16) {
    let _ = write!(
        o,
        "<td class=\"code\"><i class=\"sw\" style=\"background:{}\"></i>{}</td>",
        pal.colour(pal.key(code)),
        esc(&code_label(code))
    );
}

/// The audit as one HTML page: the verdict, thresholds and changes, then the report's
/// views.
pub fn render(a: &Audit) -> String {
    page(&Dashboard::new(&a.report, &a.extras, Some(a)))
}

/// The report of `analyze` / `report` as one HTML page.
pub fn render_report(r: &Report, x: &Extras) -> String {
    page(&Dashboard::new(r, x, None))
}

fn banner(o: &mut String, d: &Dashboard) {
    let r = d.report;
    let abnormal = r
        .codes
        .iter()
        .find(|c| c.close_code == 1006)
        .map_or(0, |c| c.sessions);
    match d.audit {
        Some(a) => {
            let class = match a.verdict {
                Verdict::Pass => "pass",
                Verdict::Fail => "fail",
                Verdict::Error => "error",
            };
            let _ = write!(
                o,
                "<header class=\"verdict {class}\" id=\"verdict\"><h1>{}</h1>",
                esc(&a.headline)
            );
            for c in a.checks.iter().filter(|c| c.breached) {
                let _ = write!(o, "<p>Breached: {}</p>", esc(&check_line(c)));
            }
        }
        None => {
            let _ = write!(
                o,
                "<header class=\"verdict report\" id=\"verdict\"><h1>{}: {}</h1>",
                count(r.sessions, "WebSocket session", "WebSocket sessions"),
                if abnormal == 0 {
                    "no abnormal closure (1006)".to_string()
                } else {
                    format!(
                        "{} abnormal (1006), {}",
                        abnormal,
                        pct(abnormal as f64 / r.sessions.max(1) as f64)
                    )
                }
            );
        }
    }
    let inputs = r.inputs.iter().filter(|i| i.taken()).count() as u64;
    let _ = write!(
        o,
        "<p>{}, {}, {}",
        count(r.sessions, "WebSocket session", "WebSocket sessions"),
        count(r.refused_upgrades, "refused upgrade", "refused upgrades"),
        count(inputs, "input", "inputs")
    );
    if let Some(t) = time_range(r) {
        let _ = write!(o, "; {}", esc(&t));
    }
    o.push('.');
    if let Some(a) = d.audit {
        let _ = write!(
            o,
            " Generated {}.",
            esc(&a.generated.replace('T', " ").replace('Z', " UTC"))
        );
    }
    o.push_str("</p>");
    if let Some(tls) = crate::render::report::tls_line(r) {
        let _ = write!(o, "<p>{}</p>", esc(&tls));
    }
    o.push_str("</header>");
}

fn page(d: &Dashboard) -> String {
    let r = d.report;
    let pal = &d.palette;
    let mut o = String::with_capacity(64 * 1024);
    let title = match d.audit {
        Some(a) => format!("wsaudit audit: {}", a.verdict.as_str()),
        None => format!(
            "wsaudit: {}",
            count(r.sessions, "WebSocket session", "WebSocket sessions")
        ),
    };
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>",
        esc(&title)
    );
    banner(&mut o, d);
    for (sec, title) in &d.sections {
        let _ = write!(o, "<section id=\"{}\"><h2>{}</h2>", sec.id(), esc(title));
        section(&mut o, d, *sec, pal);
        o.push_str("</section>");
    }
    let _ = writeln!(
        o,
        "<p class=\"note\">wsaudit {}: this page loads nothing (no scripts, no network).</p>\
         </main></body></html>",
        env!("CARGO_PKG_VERSION")
    );
    o
}

fn section(o: &mut String, d: &Dashboard, sec: Section, pal: &Palette) {
    let r = d.report;
    let x = d.extras;
    match sec {
        Section::Errors => {
            o.push_str("<ul>");
            for e in d.errors() {
                let _ = write!(o, "<li>{}</li>", esc(&e));
            }
            o.push_str("</ul>");
        }
        Section::Thresholds => {
            let Some(a) = d.audit else { return };
            table_head(o, &["Status", "Key", "#Value", "#Limit", "#Sessions"]);
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
                td(o, if c.breached { "BREACHED" } else { "ok" });
                td(o, &c.label);
                tdn(o, format!("{:.1}%", c.rate_pct));
                tdn(o, format!("{}%", c.max_pct));
                tdn(o, format!("{} of {}", c.sessions, c.of));
                o.push_str("</tr>");
            }
            o.push_str("</tbody></table>");
        }
        Section::Changes => {
            let Some(a) = d.audit else { return };
            match &a.baseline {
                None => o.push_str(
                    "<p class=\"muted\">No baseline given (<code>--baseline PATH</code>).</p>",
                ),
                Some(b) => {
                    let _ = write!(
                        o,
                        "<p class=\"muted\">Baseline: {} ({}, {}).</p>",
                        esc(&b.name),
                        b.kind.label(),
                        count(b.sessions, "session", "sessions")
                    );
                    if a.changes.is_empty() {
                        let _ = write!(
                            o,
                            "<p>No change worth acting on (a change: the rate moved {}x or \
                             more, by {} points or more, and beyond chance at these session \
                             counts).</p>",
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
        }
        Section::Codes => {
            let bars: Vec<HBar> = d
                .code_bars()
                .into_iter()
                .map(|(k, n)| {
                    let share = pct(n as f64 / r.sessions.max(1) as f64);
                    let label = match k {
                        Key::Other => format!("{} other codes", pal.folded().len()),
                        k => pal.label(k),
                    };
                    let tip = match k {
                        Key::Other => format!(
                            "other codes: {}: {}",
                            count(n, "session", "sessions"),
                            d.other_codes(8)
                        ),
                        k => format!(
                            "{}: {} ({share})",
                            pal.label(k),
                            count(n, "session", "sessions")
                        ),
                    };
                    HBar {
                        label,
                        value: n,
                        colour: pal.colour(k),
                        series: series_name(k),
                        tip,
                        text: format!("{n} · {share}"),
                    }
                })
                .collect();
            if bars.iter().any(|b| b.value > 0) {
                hbars(o, "codes", "Sessions per close code", &bars);
            }
            if !pal.folded().is_empty() {
                let _ = write!(
                    o,
                    "<p class=\"note\">Other codes: {}.</p>",
                    esc(&d.other_codes(12))
                );
            }
            o.push_str(
                "<p class=\"note\">Every code with its meaning: \
                 <a href=\"#code-table\">close codes in detail</a>.</p>",
            );
        }
        Section::CodeTable => {
            table_head(
                o,
                &[
                    "Code",
                    "#Sessions",
                    "#Share",
                    "#By client",
                    "#By server",
                    "#Echoed",
                    "#Duration p50",
                    "#p95",
                    "Meaning",
                ],
            );
            for c in &r.codes {
                o.push_str("<tr>");
                td_code(o, pal, c.close_code);
                tdn(o, c.sessions);
                tdn(o, pct(c.share));
                tdn(o, c.by_client);
                tdn(o, c.by_server);
                tdn(o, pct(c.handshake_completed_rate));
                tdn(o, opt_duration(c.duration_p50_s));
                tdn(o, opt_duration(c.duration_p95_s));
                td(o, &c.meaning);
                o.push_str("</tr>");
            }
            o.push_str(
                "</tbody></table><p class=\"note\">By client / by server: who sent the first \
                 Close. Echoed: the other side answered with a Close.</p>",
            );
        }
        Section::Timeline => timeline_chart(o, d),
        Section::Servers | Section::Paths => {
            let (by, what) = if sec == Section::Servers {
                (crate::analysis::breakdown::GroupBy::Server, "servers")
            } else {
                (crate::analysis::breakdown::GroupBy::Path, "paths")
            };
            let Some(b) = r.breakdowns.iter().find(|b| b.by == by) else {
                return;
            };
            groups_chart(
                o,
                what,
                &format!("{what}: share of each close code"),
                b,
                pal,
            );
            let _ = write!(
                o,
                "<p class=\"note\">Each bar is one group's sessions (100 %), split by close \
                 code; the {} busiest {what}{}, most 1006 first.</p>",
                b.rows.len(),
                b.folded
                    .as_ref()
                    .map(|(n, _)| format!(", then the {n} smaller ones together"))
                    .unwrap_or_default()
            );
        }
        Section::Diagnosis => {
            let mut items: Vec<String> = Vec::new();
            let mut head = String::new();
            for line in render_diagnosis(&r.diagnosis, crate::render::DEFAULT_WIDTH).lines() {
                if let Some(rest) = line.strip_prefix("- ") {
                    items.push(rest.to_string());
                } else if let (Some(rest), Some(last)) = (line.strip_prefix("  "), items.last_mut())
                {
                    last.push(' ');
                    last.push_str(rest);
                } else {
                    if !head.is_empty() {
                        head.push(' ');
                    }
                    // The section's title says it already.
                    head.push_str(line.strip_prefix("1006 diagnosis: ").unwrap_or(line));
                }
            }
            let _ = write!(o, "<p>{}</p><ul>", esc(&head));
            for i in items {
                let _ = write!(o, "<li>{}</li>", esc(&i));
            }
            o.push_str("</ul>");
        }
        Section::Idle => {
            histogram(o, "idle", &x.idle, "idle time before the end", pal);
            let _ = write!(
                o,
                "<p class=\"note\">{} Seconds from the last WebSocket frame to the end of TCP. \
                 Abnormal (1006) drops piling up at one idle time point at a timeout on the \
                 path.</p>",
                esc(&coverage(
                    &x.idle,
                    "idle time",
                    "a log does not say when the last frame was sent"
                ))
            );
        }
        Section::Duration => {
            histogram(o, "duration", &x.duration, "session duration", pal);
            let _ = write!(
                o,
                "<p class=\"note\">{}</p>",
                esc(&coverage(
                    &x.duration,
                    "duration",
                    "the log line does not carry it"
                ))
            );
        }
        Section::Reconnects => {
            let h = &x.reconnect_delay;
            if h.total > 0 {
                histogram(
                    o,
                    "reconnect",
                    h,
                    "delay from the close to the next session",
                    pal,
                );
            }
            table_head(
                o,
                &[
                    "Close code",
                    "#Ended",
                    "#Reconnected",
                    "#Rate",
                    "#Delay p50",
                    "#Delay p95",
                ],
            );
            for row in d.reconnect_rows() {
                o.push_str("<tr>");
                match row.close_code {
                    Some(c) => td_code(o, pal, c),
                    None => td(o, "open"),
                }
                tdn(o, row.sessions);
                tdn(o, row.reconnected);
                tdn(o, pct(row.reconnect_rate));
                tdn(o, opt_duration(row.delay_p50_s));
                tdn(o, opt_duration(row.delay_p95_s));
                o.push_str("</tr>");
            }
            o.push_str("</tbody></table>");
            let _ = write!(o, "<p class=\"note\">{}</p>", esc(&d.reconnect_note()));
        }
        Section::Proxies => {
            let p = &r.proxies;
            let head = crate::render::proxies::head(p);
            let _ = write!(
                o,
                "<p>{}</p>",
                esc(head.strip_prefix("Proxies: ").unwrap_or(&head))
            );
            table_head(
                o,
                &[
                    "Proxy",
                    "#Sessions",
                    "#Idle cuts",
                    "#Active cuts",
                    "#Rewritten",
                    "#Own Close",
                ],
            );
            for row in &p.proxies {
                o.push_str("<tr>");
                td(o, &fit(&row.proxy, 60));
                tdn(o, row.sessions);
                tdn(o, row.cuts_idle);
                tdn(o, row.cuts_active);
                tdn(o, row.codes_rewritten);
                tdn(o, row.proxy_closes);
                o.push_str("</tr>");
            }
            o.push_str("</tbody></table><ul>");
            for n in crate::render::proxies::notes(p) {
                let _ = write!(o, "<li>{}</li>", esc(&n));
            }
            o.push_str("</ul>");
        }
        Section::Reasons => {
            table_head(o, &["Code", "Reason (as sent)", "#Sessions"]);
            for x in &x.reasons {
                o.push_str("<tr>");
                td_code(o, pal, x.close_code);
                td(o, &fit(&x.close_reason, 120));
                tdn(o, x.sessions);
                o.push_str("</tr>");
            }
            o.push_str("</tbody></table>");
        }
        Section::Endings => {
            table_head(o, &["Ending", "#Sessions", "#Share", "Meaning"]);
            for e in &r.endings {
                o.push_str("<tr>");
                td(o, &e.ending);
                tdn(o, e.sessions);
                tdn(o, pct(e.share));
                td(o, &e.meaning);
                o.push_str("</tr>");
            }
            o.push_str("</tbody></table>");
        }
        Section::Refused => {
            table_head(o, &["HTTP status", "#Count"]);
            for x in &r.refused {
                o.push_str("<tr>");
                td(o, &format!("{} {}", x.status, x.reason));
                tdn(o, x.count);
                o.push_str("</tr>");
            }
            o.push_str("</tbody></table>");
        }
        Section::Anomalies => {
            table_head(o, &["Anomaly", "#Sessions"]);
            for x in &r.anomalies {
                o.push_str("<tr>");
                td(o, &x.anomaly);
                tdn(o, x.sessions);
                o.push_str("</tr>");
            }
            o.push_str("</tbody></table>");
        }
        Section::Quality => {
            let q = &r.quality;
            let _ = write!(
                o,
                "<p>{} with capture gaps, {} started mid-stream, {} cut by snaplen, {} hit a \
                 memory limit.</p>",
                count(q.gap, "session", "sessions"),
                q.midstream,
                q.truncated,
                q.limit_hit
            );
        }
        Section::Inputs => {
            table_head(
                o,
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
                td(o, &i.name);
                td(o, &i.kind);
                tdn(o, i.packets.map_or("-".into(), |p| p.to_string()));
                tdn(o, i.sessions);
                if i.problems.is_empty() {
                    td(o, &i.outcome_text());
                } else {
                    td(o, i.outcome.as_str());
                }
                td(o, &i.problems.join("; "));
                o.push_str("</tr>");
            }
            o.push_str("</tbody></table>");
        }
        Section::NotShown => {
            o.push_str("<ul class=\"muted\">");
            for n in &d.not_shown {
                let _ = write!(o, "<li>{}</li>", esc(n));
            }
            o.push_str("</ul>");
        }
    }
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

    use crate::render::dashboard::fixture::{extras, report};
    use crate::render::dashboard::COLOUR_1006;

    fn page() -> String {
        render_report(&report(), &extras())
    }

    #[test]
    fn the_1006_colour_is_the_same_in_every_chart() {
        let p = page();
        let rects: Vec<&str> = p
            .match_indices("data-series=\"1006\"")
            .map(|(i, _)| &p[i..i + p[i..].find('>').unwrap()])
            .collect();
        // The code bar, the timeline column, two histogram columns, two path bars.
        assert!(rects.len() >= 5, "{rects:?}");
        for r in rects {
            assert!(r.contains(&format!("fill=\"{COLOUR_1006}\"")), "{r}");
        }
    }

    #[test]
    fn number_cells_keep_their_units_and_do_not_wrap() {
        let p = page();
        assert!(
            p.contains("<td class=\"n\">310\u{a0}ms</td>"),
            "p50 of 1000"
        );
        assert!(!p.contains("310 ms"));
        assert!(p.contains(
            "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
        ));
    }

    #[test]
    fn banner_times_are_to_the_millisecond() {
        let p = page();
        assert!(
            p.contains("2026-11-22 00:00:00.123 to 00:01:00.500 UTC (1m 00s)"),
            "{}",
            &p[p.find("<header").unwrap()..p.find("</header>").unwrap()]
        );
        assert!(!p.contains(".123456789"));
    }

    #[test]
    fn no_empty_cards_and_what_is_left_out_is_said() {
        let p = page();
        // No reconnect in the report: no card, a line under "Not shown".
        assert!(!p.contains("data-chart=\"reconnect\""));
        assert!(!p.contains("<section id=\"reconnects\">"));
        let not_shown = &p[p.find("<section id=\"not-shown\">").expect("not shown")..];
        assert!(
            not_shown.contains("Reconnects: no session was followed"),
            "{not_shown}"
        );
        // Every section has something after its title.
        for (i, _) in p.match_indices("</h2>") {
            assert!(!p[i + 5..].starts_with("</section>"), "empty card at {i}");
        }
    }

    #[test]
    fn histograms_say_what_they_cover() {
        let p = page();
        assert!(
            p.contains("Covers 5 of 10 sessions. 5 log rows (gorilla 5) have no idle time"),
            "{p}"
        );
        // Bins past the largest value are not drawn; the drawn ones are labelled.
        let idle = &p[p.find("data-chart=\"idle\"").unwrap()..];
        let idle = &idle[..idle.find("</svg>").unwrap()];
        assert!(idle.contains(">0.1-1\u{a0}s</text>"), "{idle}");
        assert!(idle.contains(">sessions</text>"), "y-axis title");
    }

    #[test]
    fn groups_count_in_words_and_the_none_group_comes_last_by_its_name() {
        let p = page();
        let paths = &p[p.find("data-chart=\"paths\"").unwrap()..];
        let paths = &paths[..paths.find("</svg>").unwrap()];
        assert!(paths.contains(">1 session · no 1006<"), "{paths}");
        assert!(paths.contains(">6 sessions · 1 × 1006 (16.7%)<"), "{paths}");
        assert!(!paths.contains("1 sessions"));
        let live = paths.find(">/live<").unwrap();
        let x = paths.find(">/x<").unwrap();
        let none = paths.find(">no path: log rows<").expect("named");
        assert!(
            live < x && x < none,
            "order: /live {live}, /x {x}, none {none}"
        );
        assert!(!paths.contains("(none)"));
    }

    #[test]
    fn timeline_has_axis_titles_time_labels_and_a_spike_mark() {
        let p = page();
        let t = &p[p.find("data-chart=\"timeline\"").unwrap()..];
        let t = &t[..t.find("</svg>").unwrap()];
        assert!(t.contains(">closes per 1 s</text>"), "y title");
        assert!(
            t.contains(">UTC, 2026-11-22; one column = 1 s</text>"),
            "x title"
        );
        assert!(t.contains(">00:00:30</text>"), "a clock label: {t}");
        assert!(
            t.contains("data-mark=\"incident\""),
            "the spike is marked on the chart"
        );
        assert_eq!(
            t.matches("<rect class=\"bar\"").count(),
            4,
            "2 + 1 + 1 stacked parts"
        );
    }

    #[test]
    fn the_page_loads_nothing_and_says_so() {
        let p = page().to_ascii_lowercase();
        assert!(!p.contains("<script") && !p.contains("http://") && !p.contains("https://"));
        assert!(!p.contains(" src=") && !p.contains("<link") && !p.contains("url("));
        assert!(p.contains("content-security-policy\" content=\"default-src 'none'"));
        assert!(p.contains("this page loads nothing (no scripts, no network)"));
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
