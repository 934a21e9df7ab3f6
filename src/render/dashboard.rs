//! What the HTML page and the Markdown summary show, and in which order: one list of
//! sections for both, one colour per close code for every chart, the columns and the
//! time axis of "closes over time", and the words for groups and counts.
//!
//! Contract: [`Dashboard::sections`] is the order of both views (an audit adds its
//! verdict, thresholds and changes on top; a section with nothing to show is left out
//! and named under "Not shown" with the reason). [`Palette`] gives at most
//! [`MAX_COLOURS`] codes a colour of their own (Okabe-Ito and Paul Tol's colour-blind
//! safe schemes; 1006 always has one, and always the same vermillion), the rest share
//! "other". [`TimeColumns`] puts a timeline in at most [`MAX_COLUMNS`] columns of a
//! round size chosen from the span (1 s .. 365 d), whatever the span. No formatting of
//! wire text here: each view escapes for its medium.

use crate::analysis::breakdown::{Breakdown, GroupBy, GroupRow};
use crate::analysis::charts::{Extras, Histogram, OPEN_SERIES};
use crate::analysis::reconnect::{ReconnectRow, RECONNECT_CODES};
use crate::analysis::summary::Report;
use crate::analysis::timeline::{SpikeKind, Timeline};
use crate::audit::Audit;
use crate::text::{code_label, fmt_duration, pct};

/// Codes with a colour of their own; the others are drawn as "other".
pub const MAX_COLOURS: usize = 12;

/// 1006 in every chart: Okabe-Ito vermillion, never given to another code.
pub const COLOUR_1006: &str = "#D55E00";
/// Codes without a colour of their own.
pub const OTHER_COLOUR: &str = "#8C8C8C";
/// Sessions still open (no close code).
pub const OPEN_COLOUR: &str = "#D4D4D4";

/// Codes that keep one colour from page to page when they occur (Okabe-Ito).
const PREFERRED: [(u16, &str); 6] = [
    (1006, COLOUR_1006),
    (1000, "#009E73"), // bluish green
    (1001, "#56B4E9"), // sky blue
    (1012, "#CC79A7"), // reddish purple
    (1011, "#E69F00"), // orange
    (1005, "#0072B2"), // blue
];

/// Colours for the other codes, in order: Paul Tol's muted indigo, teal, wine and
/// olive, Okabe-Ito's black and yellow, then the preferred colours of absent codes
/// (never vermillion).
const POOL: [&str; 6] = [
    "#332288", "#44AA99", "#882255", "#999933", "#000000", "#F0E442",
];

/// A series in the charts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Code(u16),
    /// Codes without a colour of their own.
    Other,
    /// Sessions with no close code yet.
    Open,
}

/// Which code gets which colour on one page.
#[derive(Debug, Clone, Default)]
pub struct Palette {
    /// 1006 first, then most sessions first.
    coloured: Vec<(u16, &'static str)>,
    /// Codes drawn as "other", most sessions first.
    folded: Vec<(u16, u64)>,
}

impl Palette {
    /// `codes`: every code of the page with its sessions.
    pub fn new(codes: &[(u16, u64)]) -> Palette {
        let mut ranked = codes.to_vec();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut chosen: Vec<u16> = ranked.iter().map(|c| c.0).take(MAX_COLOURS).collect();
        if ranked.iter().any(|c| c.0 == 1006) && !chosen.contains(&1006) {
            chosen.pop();
            chosen.push(1006);
        }
        // 1006 first: the bottom of every stack and of every legend, where it is read best.
        chosen.sort_by_key(|c| *c != 1006);
        let preferred = |c: u16| PREFERRED.iter().find(|p| p.0 == c).map(|p| p.1);
        let mut free: Vec<&'static str> = POOL.to_vec();
        free.extend(
            PREFERRED
                .iter()
                .filter(|p| p.0 != 1006 && !chosen.contains(&p.0))
                .map(|p| p.1),
        );
        let mut free = free.into_iter();
        let coloured = chosen
            .iter()
            .map(|c| {
                let colour = preferred(*c)
                    .or_else(|| free.next())
                    .unwrap_or(OTHER_COLOUR);
                (*c, colour)
            })
            .collect();
        let folded = ranked
            .into_iter()
            .filter(|c| !chosen.contains(&c.0))
            .collect();
        Palette { coloured, folded }
    }

    /// The series a code is drawn in.
    pub fn key(&self, code: u16) -> Key {
        if self.coloured.iter().any(|c| c.0 == code) {
            Key::Code(code)
        } else {
            Key::Other
        }
    }

    /// The series of a histogram's series name (a code, or `open`).
    pub fn series_key(&self, s: &str) -> Key {
        if s == OPEN_SERIES {
            return Key::Open;
        }
        s.parse::<u16>().map_or(Key::Other, |c| self.key(c))
    }

    pub fn colour(&self, k: Key) -> &'static str {
        match k {
            Key::Code(c) => self
                .coloured
                .iter()
                .find(|x| x.0 == c)
                .map_or(OTHER_COLOUR, |x| x.1),
            Key::Other => OTHER_COLOUR,
            Key::Open => OPEN_COLOUR,
        }
    }

    /// Codes with a colour: 1006, then most sessions first.
    pub fn coloured(&self) -> impl Iterator<Item = u16> + '_ {
        self.coloured.iter().map(|c| c.0)
    }

    /// Codes drawn as "other", with their sessions, most first.
    pub fn folded(&self) -> &[(u16, u64)] {
        &self.folded
    }

    /// The series in legend order: coloured codes, other, open.
    pub fn order(&self, k: Key) -> usize {
        match k {
            Key::Code(c) => self
                .coloured
                .iter()
                .position(|x| x.0 == c)
                .unwrap_or(MAX_COLOURS),
            Key::Other => MAX_COLOURS + 1,
            Key::Open => MAX_COLOURS + 2,
        }
    }

    /// A series' name for a legend: `1006 Abnormal Closure`, `other codes (29)`, `open`.
    pub fn label(&self, k: Key) -> String {
        match k {
            Key::Code(c) => code_label(c),
            Key::Other => format!(
                "other codes ({})",
                self.folded.len().max(1) // "other" also holds codes a chart had no room for
            ),
            Key::Open => "open (no close yet)".into(),
        }
    }
}

/// `1 session`, `2 sessions`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A duration whose number and unit never part: `310\u{a0}ms`.
pub fn nb(s: &str) -> String {
    s.replace(' ', "\u{a0}")
}

/// A histogram's series folded into the page's keys: (keys in legend order,
/// `counts[bin][key]`).
pub fn fold_histogram(h: &Histogram, pal: &Palette) -> (Vec<Key>, Vec<Vec<u64>>) {
    let mut keys: Vec<Key> = Vec::new();
    for s in &h.series {
        let k = pal.series_key(s);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys.sort_by_key(|k| pal.order(*k));
    let counts = h
        .counts
        .iter()
        .map(|row| {
            let mut out = vec![0u64; keys.len()];
            for (s, n) in h.series.iter().zip(row) {
                let k = pal.series_key(s);
                if let Some(j) = keys.iter().position(|x| *x == k) {
                    out[j] += n;
                }
            }
            out
        })
        .collect();
    (keys, counts)
}

/// What a histogram covers, in words: `Covers 36 of 342 sessions; 306 log rows
/// (gorilla 200, nginx 106) have no idle time: a log does not say when the last frame
/// was sent.`
pub fn coverage(h: &Histogram, what: &str, why_logs: &str) -> String {
    let mut s = format!(
        "Covers {} of {}.",
        h.total,
        count(h.of, "session", "sessions")
    );
    let logs: Vec<_> = h.missing.iter().filter(|m| m.source != "capture").collect();
    let log_rows: u64 = logs.iter().map(|m| m.sessions).sum();
    if log_rows > 0 {
        let parts: Vec<String> = logs
            .iter()
            .map(|m| format!("{} {}", m.source, m.sessions))
            .collect();
        s.push_str(&format!(
            " {} ({}) {} no {what}: {why_logs}.",
            count(log_rows, "log row", "log rows"),
            parts.join(", "),
            if log_rows == 1 { "has" } else { "have" }
        ));
    }
    if let Some(m) = h.missing.iter().find(|m| m.source == "capture") {
        s.push_str(&format!(
            " {} from captures {} no {what}.",
            count(m.sessions, "session", "sessions"),
            if m.sessions == 1 { "has" } else { "have" }
        ));
    }
    s
}

/// A group's name for people: the group of sessions without a value
/// ([`Breakdown::missing`], named by the analysis: `(no path: log rows)`) without its
/// parentheses.
pub fn group_name(group: &str) -> String {
    match group.strip_prefix("(no ") {
        Some(rest) => format!("no {}", rest.trim_end_matches(')')),
        None => group.to_string(),
    }
}

/// A breakdown's rows as charted: most 1006 sessions first (then most sessions), then
/// the folded smaller groups, then the group with no value.
pub fn group_rows(b: &Breakdown) -> Vec<(String, &GroupRow)> {
    let i1006 = b.codes.iter().position(|c| *c == 1006);
    let abnormal = |r: &GroupRow| i1006.map_or(0, |i| r.per_code[i]);
    let mut named: Vec<&GroupRow> = b.rows.iter().filter(|r| r.sessions > 0).collect();
    named.sort_by(|x, y| {
        abnormal(y)
            .cmp(&abnormal(x))
            .then(y.sessions.cmp(&x.sessions))
    });
    let what = match b.by {
        GroupBy::Server => "servers",
        GroupBy::Path => "paths",
        _ => "groups",
    };
    let mut out: Vec<(String, &GroupRow)> = named
        .into_iter()
        .map(|r| (group_name(&r.group), r))
        .collect();
    if let Some((n, r)) = &b.folded {
        out.push((format!("{n} other {what}"), r));
    }
    out.extend(b.missing.iter().map(|r| (group_name(&r.group), r)));
    out
}

/// A group's line: `12 sessions · 3 × 1006 (25.0%)`, `1 session · no 1006`.
pub fn group_summary(b: &Breakdown, r: &GroupRow) -> String {
    let n = b
        .codes
        .iter()
        .position(|c| *c == 1006)
        .map_or(0, |i| r.per_code[i]);
    if n == 0 {
        format!("{} · no 1006", count(r.sessions, "session", "sessions"))
    } else {
        format!(
            "{} · {n} × 1006 ({})",
            count(r.sessions, "session", "sessions"),
            pct(n as f64 / r.sessions.max(1) as f64)
        )
    }
}

/// At most this many columns in "closes over time".
pub const MAX_COLUMNS: usize = 72;

const S_MIN: i64 = 60;
const S_HOUR: i64 = 3600;
const S_DAY: i64 = 86_400;
/// Column sizes to choose from (seconds).
const NICE_S: [i64; 25] = [
    1,
    2,
    5,
    10,
    15,
    30,
    S_MIN,
    2 * S_MIN,
    5 * S_MIN,
    10 * S_MIN,
    15 * S_MIN,
    30 * S_MIN,
    S_HOUR,
    2 * S_HOUR,
    3 * S_HOUR,
    6 * S_HOUR,
    12 * S_HOUR,
    S_DAY,
    2 * S_DAY,
    7 * S_DAY,
    14 * S_DAY,
    30 * S_DAY,
    91 * S_DAY,
    182 * S_DAY,
    365 * S_DAY,
];

/// "Closes over time" in columns.
#[derive(Debug, Clone)]
pub struct TimeColumns {
    /// Seconds per column (a multiple of the timeline's bucket size).
    pub col_s: i64,
    /// Start of the first column (ns since the epoch, UTC).
    pub first: i64,
    /// Keys in legend order.
    pub keys: Vec<Key>,
    /// `counts[column][key]`.
    pub counts: Vec<Vec<u64>>,
    /// (column, kind, closes of the kind's codes in the timeline's bucket).
    pub spikes: Vec<(usize, SpikeKind, u64)>,
    /// Columns that get a time label, with it.
    pub ticks: Vec<(usize, String)>,
    /// `UTC, 2026-11-22` (the date when every column is in one day).
    pub axis: String,
}

fn time(ns: i64, fmt: &str) -> String {
    chrono::DateTime::from_timestamp(ns.div_euclid(1_000_000_000), 0)
        .map_or_else(|| ns.to_string(), |t| t.format(fmt).to_string())
}

impl TimeColumns {
    /// Columns for `t`, `None` when it has no close.
    pub fn new(t: &Timeline, pal: &Palette) -> Option<TimeColumns> {
        let (first_b, last_b) = (t.first_bucket?, t.last_bucket?);
        let bucket = t.bucket_s.max(1);
        let span_s = (last_b - first_b) / 1_000_000_000 + bucket;
        let col_s = NICE_S
            .iter()
            .copied()
            .filter(|c| c % bucket == 0)
            .find(|c| span_s / c < MAX_COLUMNS as i64)
            .unwrap_or_else(|| {
                // Spans beyond 72 years: whole multiples of a year.
                365 * S_DAY * (span_s / (365 * S_DAY) / MAX_COLUMNS as i64 + 1)
            });
        let size = col_s * 1_000_000_000;
        let first = first_b.div_euclid(size) * size;
        let last = last_b.div_euclid(size) * size;
        let n = ((last - first) / size + 1) as usize;
        let mut keys: Vec<Key> = Vec::new();
        for b in &t.buckets {
            for c in &b.codes {
                let k = pal.key(c.close_code);
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        keys.sort_by_key(|k| pal.order(*k));
        let mut counts = vec![vec![0u64; keys.len()]; n];
        for b in &t.buckets {
            let i = ((b.start - first) / size) as usize;
            for c in &b.codes {
                let k = pal.key(c.close_code);
                if let (Some(row), Some(j)) = (counts.get_mut(i), keys.iter().position(|x| *x == k))
                {
                    row[j] += c.closes;
                }
            }
        }
        let spikes = t
            .spikes
            .iter()
            .map(|s| (((s.bucket_start - first) / size) as usize, s.kind, s.closes))
            .filter(|s| s.0 < n)
            .collect();
        // Labels: a round interval (a multiple of the column) giving at most 8 of them.
        let span_cols_s = n as i64 * col_s;
        let every_s = NICE_S
            .iter()
            .copied()
            .filter(|e| *e >= col_s && e % col_s == 0)
            .find(|e| span_cols_s / e <= 8)
            .unwrap_or(col_s * ((n as i64 + 7) / 8).max(1));
        let one_day = time(first, "%F") == time(last + size - 1, "%F");
        let one_year = time(first, "%Y") == time(last, "%Y");
        let fmt = if every_s < S_MIN {
            "%H:%M:%S"
        } else if every_s < S_DAY && one_day {
            "%H:%M"
        } else if every_s < S_DAY {
            "%m-%d %H:%M"
        } else if every_s < 28 * S_DAY && one_year {
            "%m-%d"
        } else if every_s < 28 * S_DAY {
            "%F"
        } else {
            "%Y-%m"
        };
        let every = every_s * 1_000_000_000;
        let ticks = (0..n)
            .filter(|i| (first + *i as i64 * size).rem_euclid(every) == 0 || n == 1)
            .map(|i| (i, time(first + i as i64 * size, fmt)))
            .collect::<Vec<_>>();
        let ticks = if ticks.is_empty() {
            vec![(0, time(first, fmt))]
        } else {
            ticks
        };
        let axis = if one_day && col_s < S_DAY {
            format!("UTC, {}", time(first, "%F"))
        } else if one_year && fmt == "%m-%d" {
            format!("UTC, {}", time(first, "%Y"))
        } else {
            "UTC".to_string()
        };
        Some(TimeColumns {
            col_s,
            first,
            keys,
            counts,
            spikes,
            ticks,
            axis,
        })
    }

    /// One mark per column with spikes: (column, `incident` or `deploy` (incident wins),
    /// every spike of the column in words).
    pub fn marks(&self) -> Vec<(usize, &'static str, String)> {
        let mut out: Vec<(usize, &'static str, String)> = Vec::new();
        for (i, kind, n) in &self.spikes {
            let codes = kind.codes();
            let text = format!(
                "{}: {} of {} and {}",
                kind.as_str(),
                count(*n, "close", "closes"),
                codes[0],
                codes[1]
            );
            match out.iter_mut().find(|m| m.0 == *i) {
                Some(m) => {
                    if *kind == SpikeKind::Incident {
                        m.1 = kind.as_str();
                    }
                    m.2.push_str("; ");
                    m.2.push_str(&text);
                }
                None => out.push((*i, kind.as_str(), text)),
            }
        }
        out
    }

    /// `10 s`, `1 min`, `1 h`, `7 days`.
    pub fn column(&self) -> String {
        let s = self.col_s;
        if s < S_MIN {
            format!("{s} s")
        } else if s < S_HOUR {
            format!("{} min", s / S_MIN)
        } else if s < S_DAY {
            format!("{} h", s / S_HOUR)
        } else {
            count((s / S_DAY) as u64, "day", "days")
        }
    }

    /// The start of column `i` as `YYYY-MM-DD HH:MM:SS` (UTC).
    pub fn start(&self, i: usize) -> String {
        time(
            self.first + i as i64 * self.col_s * 1_000_000_000,
            "%F %H:%M:%S",
        )
    }
}

/// An ISO 8601 time of the report to the millisecond: `2026-11-22 00:53:54.770`.
pub fn ms_time(iso: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(iso).map_or_else(
        |_| iso.to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
    )
}

/// The report's time range in words: `2026-11-22 00:53:54.770 to 00:53:57.300 UTC
/// (2.5 s)` (the date once when both ends are on it).
pub fn time_range(r: &Report) -> Option<String> {
    let (from, to) = r.time_range.as_ref()?;
    let (from, to) = (ms_time(from), ms_time(to));
    let to = match (from.get(..11), to.get(..11)) {
        (Some(a), Some(b)) if a == b => to[11..].to_string(),
        _ => to,
    };
    Some(format!(
        "{from} to {to} UTC{}",
        r.time_span_s
            .map(|s| format!(" ({})", fmt_duration(s)))
            .unwrap_or_default()
    ))
}

/// One part of the page (an `<h2>` in HTML, a `##` in Markdown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Errors,
    Thresholds,
    Changes,
    Codes,
    Timeline,
    Servers,
    Paths,
    Diagnosis,
    Proxies,
    Idle,
    Duration,
    Reconnects,
    Reasons,
    CodeTable,
    Endings,
    Refused,
    Anomalies,
    Quality,
    Inputs,
    NotShown,
}

impl Section {
    /// The `id` of the HTML section.
    pub fn id(self) -> &'static str {
        match self {
            Section::Errors => "errors",
            Section::Thresholds => "thresholds",
            Section::Changes => "changes",
            Section::Codes => "codes",
            Section::Timeline => "timeline",
            Section::Servers => "servers",
            Section::Paths => "paths",
            Section::Diagnosis => "diagnosis",
            Section::Proxies => "proxies",
            Section::Idle => "idle",
            Section::Duration => "duration",
            Section::Reconnects => "reconnects",
            Section::Reasons => "reasons",
            Section::CodeTable => "code-table",
            Section::Endings => "endings",
            Section::Refused => "refused",
            Section::Anomalies => "anomalies",
            Section::Quality => "quality",
            Section::Inputs => "inputs",
            Section::NotShown => "not-shown",
        }
    }
}

/// The page: what is shown, in which order, with which colours.
pub struct Dashboard<'a> {
    pub report: &'a Report,
    pub extras: &'a Extras,
    pub audit: Option<&'a Audit>,
    pub palette: Palette,
    /// Shown, in order, with their titles.
    pub sections: Vec<(Section, String)>,
    /// What was left out, and why (one sentence each).
    pub not_shown: Vec<String>,
    pub timeline: Option<TimeColumns>,
    /// The busiest stretch, when the span is much longer (closes in it, of all).
    pub busiest: Option<(TimeColumns, u64, u64)>,
}

impl<'a> Dashboard<'a> {
    pub fn new(report: &'a Report, extras: &'a Extras, audit: Option<&'a Audit>) -> Self {
        let r = report;
        let palette = Palette::new(
            &r.codes
                .iter()
                .map(|c| (c.close_code, c.sessions))
                .collect::<Vec<_>>(),
        );
        let timeline = r
            .timeline
            .as_ref()
            .and_then(|t| TimeColumns::new(t, &palette));
        let busiest = match (&timeline, &extras.busiest) {
            (Some(_), Some(b)) => {
                TimeColumns::new(&b.timeline, &palette).map(|c| (c, b.timeline.closes, b.of))
            }
            _ => None,
        };
        let mut s: Vec<(Section, String)> = Vec::new();
        let mut not_shown = Vec::new();
        let errors = match audit {
            Some(a) => !a.errors.is_empty(),
            None => r.inputs.iter().any(|i| i.outcome.is_failure()),
        };
        if errors {
            s.push((Section::Errors, "Problems reading or writing".into()));
        }
        if let Some(a) = audit {
            if !a.checks.is_empty() {
                s.push((Section::Thresholds, "Thresholds".into()));
            }
            s.push((
                Section::Changes,
                if a.baseline.is_some() {
                    "Changes vs baseline".into()
                } else {
                    "Changes".into()
                },
            ));
        }
        if r.sessions > 0 {
            s.push((Section::Codes, "Close codes".into()));
        }
        match (&r.timeline, &timeline) {
            (Some(_), Some(_)) => s.push((Section::Timeline, "Closes over time".into())),
            (Some(_), None) if r.sessions > 0 => not_shown.push(
                "Closes over time: no session has a close time (open sessions, or log rows \
                 without times)."
                    .to_string(),
            ),
            _ => {}
        }
        for b in &r.breakdowns {
            match b.by {
                GroupBy::Server if !b.rows.is_empty() => {
                    s.push((Section::Servers, "Servers by abnormal (1006) closes".into()))
                }
                GroupBy::Path if !b.rows.is_empty() => {
                    s.push((Section::Paths, "Paths by abnormal (1006) closes".into()))
                }
                _ => {}
            }
        }
        let d = &r.diagnosis;
        if d.abnormal > 0 || d.one_sided.sessions > 0 {
            s.push((Section::Diagnosis, "1006 diagnosis".into()));
        }
        if r.proxies.any() {
            s.push((Section::Proxies, "Proxies".into()));
        }
        for (sec, h, title, what) in [
            (
                Section::Idle,
                &extras.idle,
                "Idle time before the end",
                "idle time",
            ),
            (
                Section::Duration,
                &extras.duration,
                "Session duration",
                "duration",
            ),
        ] {
            if h.total > 0 {
                s.push((sec, title.into()));
            } else if r.sessions > 0 {
                not_shown.push(format!(
                    "{title}: no session has a {what} ({}).",
                    coverage(h, what, "a log does not record it")
                ));
            }
        }
        let rc = &r.reconnects;
        if rc.by_code.iter().any(|x| x.reconnected > 0) {
            s.push((
                Section::Reconnects,
                format!("Reconnects within {}", fmt_duration(rc.window_s)),
            ));
        } else if r.sessions > 0 {
            not_shown.push(format!(
                "Reconnects: no session was followed by the same client's next session to the \
                 same server, host and path within {}.",
                fmt_duration(rc.window_s)
            ));
        }
        if !extras.reasons.is_empty() {
            s.push((Section::Reasons, "Most frequent close reasons".into()));
        }
        if !r.codes.is_empty() {
            s.push((Section::CodeTable, "Close codes in detail".into()));
        }
        if !r.endings.is_empty() {
            s.push((Section::Endings, "Endings".into()));
        }
        if !r.refused.is_empty() {
            s.push((Section::Refused, "Refused upgrades".into()));
        }
        if !r.anomalies.is_empty() {
            s.push((Section::Anomalies, "Protocol anomalies".into()));
        }
        let q = &r.quality;
        if q.gap + q.midstream + q.truncated + q.limit_hit > 0 {
            s.push((Section::Quality, "Capture quality".into()));
        }
        s.push((Section::Inputs, "Inputs".into()));
        if !not_shown.is_empty() {
            s.push((Section::NotShown, "Not shown".into()));
        }
        Dashboard {
            report,
            extras,
            audit,
            palette,
            sections: s,
            not_shown,
            timeline,
            busiest,
        }
    }

    /// The reconnect rows worth showing ([`ReconnectRow::worth_showing`]).
    pub fn reconnect_rows(&self) -> Vec<&'a ReconnectRow> {
        self.report
            .reconnects
            .by_code
            .iter()
            .filter(|x| x.worth_showing())
            .collect()
    }

    /// The sentence under the reconnect table, the same on every page: what a reconnect
    /// is, which rows are shown, and the flags raised.
    pub fn reconnect_note(&self) -> String {
        let r = &self.report.reconnects;
        let codes: Vec<String> = RECONNECT_CODES.iter().map(u16::to_string).collect();
        let mut s = format!(
            "A reconnect: the same client's next session to the same server, host and path \
             within {}. Rows: codes followed by reconnects, and {} when they occur.",
            fmt_duration(r.window_s),
            codes.join(", ")
        );
        let f = &r.flags;
        if !f.is_empty() {
            s.push_str(&format!(
                " {}, {} without backoff, {} that did not come back after 1012.",
                count(f.storms.len() as u64, "reconnect storm", "reconnect storms"),
                count(f.no_backoff.len() as u64, "reconnect", "reconnects"),
                count(f.never_came_back.len() as u64, "client", "clients")
            ));
        }
        s
    }

    /// The problems to list under [`Section::Errors`].
    pub fn errors(&self) -> Vec<String> {
        match self.audit {
            Some(a) => a.errors.clone(),
            None => self
                .report
                .inputs
                .iter()
                .filter(|i| i.outcome.is_failure())
                .map(|i| format!("{}: {}", i.name, i.outcome_text()))
                .collect(),
        }
    }

    /// Rows of the close-code chart: the coloured codes, then one row for the others,
    /// then open sessions: (key, sessions).
    pub fn code_bars(&self) -> Vec<(Key, u64)> {
        let r = self.report;
        let mut rows: Vec<(Key, u64)> = self
            .palette
            .coloured()
            .map(|c| {
                let n = r
                    .codes
                    .iter()
                    .find(|x| x.close_code == c)
                    .map_or(0, |x| x.sessions);
                (Key::Code(c), n)
            })
            .collect();
        let other: u64 = self.palette.folded().iter().map(|c| c.1).sum();
        if other > 0 {
            rows.push((Key::Other, other));
        }
        if let Some(open) = r.endings.iter().find(|e| e.ending == "open") {
            if open.sessions > 0 {
                rows.push((Key::Open, open.sessions));
            }
        }
        rows
    }

    /// The codes of the "other" row: `4001 ×3, 4000 ×3, … (29 codes)`.
    pub fn other_codes(&self, max: usize) -> String {
        let f = self.palette.folded();
        let mut s: Vec<String> = f
            .iter()
            .take(max)
            .map(|(c, n)| format!("{c} ×{n}"))
            .collect();
        if f.len() > max {
            s.push("…".into());
        }
        format!(
            "{} ({})",
            s.join(", "),
            count(f.len() as u64, "code", "codes")
        )
    }
}

/// A small report built by hand for the views' tests: 10 sessions over one minute
/// (2026-11-22 00:00:00 .. 00:01:00 UTC): 4 × 1000, 3 × 1006, 1 × 4001, 2 open; 5 of
/// them log rows (gorilla) with no idle time; paths `/live` (6 sessions, 1 × 1006),
/// `/x` (1 session) and 3 log rows without a path (2 × 1006); no reconnect.
#[cfg(test)]
pub(crate) mod fixture {
    use crate::analysis::breakdown::{Breakdown, GroupBy, GroupRow};
    use crate::analysis::charts::{Extras, Histogram, Missing};
    use crate::analysis::percode::{CodeRow, EndingRow};
    use crate::analysis::summary::{InputInfo, Quality, Reconnects, Report};
    use crate::analysis::timeline::{Bucket, CodeCount, Spike, SpikeKind, Timeline};

    pub const T0: i64 = 1_795_305_600 * 1_000_000_000;

    fn code(c: u16, name: &str, n: u64, p50: f64) -> CodeRow {
        CodeRow {
            close_code: c,
            close_code_name: name.into(),
            sessions: n,
            share: n as f64 / 10.0,
            by_client: 0,
            by_server: 0,
            initiator_known: n,
            handshake_completed_rate: 0.0,
            echo_known: n,
            duration_p50_s: Some(p50),
            duration_p95_s: Some(p50),
            duration_p99_s: Some(p50),
            meaning: "m".into(),
        }
    }

    pub fn report() -> Report {
        let ending = |e: &str, n: u64| EndingRow {
            ending: e.into(),
            sessions: n,
            share: n as f64 / 10.0,
            meaning: "m".into(),
        };
        let at = |s: i64| T0 + s * 1_000_000_000;
        Report {
            inputs: vec![InputInfo {
                name: "a.pcap".into(),
                kind: "capture".into(),
                sessions: 10,
                ..InputInfo::default()
            }],
            time_range: Some((
                "2026-11-22T00:00:00.123456789Z".into(),
                "2026-11-22T00:01:00.5Z".into(),
            )),
            time_span_s: Some(60.4),
            sessions: 10,
            undecrypted: 0,
            tls: None,
            refused_upgrades: 0,
            endings: vec![
                ending("normal", 4),
                ending("abnormal", 3),
                ending("announced", 1),
                ending("open", 2),
            ],
            codes: vec![
                code(1000, "Normal Closure", 4, 0.31),
                code(1006, "Abnormal Closure", 3, 2.0),
                code(4001, "Private use", 1, 0.004),
            ],
            refused: Vec::new(),
            anomalies: Vec::new(),
            proxies: Default::default(),
            codes_per_leg: None,
            quality: Quality::default(),
            breakdowns: vec![Breakdown {
                by: GroupBy::Path,
                codes: vec![1000, 1006],
                rows: vec![
                    GroupRow {
                        group: "/live".into(),
                        sessions: 6,
                        per_code: vec![3, 1],
                        other: 2,
                    },
                    GroupRow {
                        group: "/x".into(),
                        sessions: 1,
                        per_code: vec![1, 0],
                        other: 0,
                    },
                ],
                folded: None,
                missing: Some(GroupRow {
                    group: "(no path: log rows)".into(),
                    sessions: 3,
                    per_code: vec![0, 2],
                    other: 1,
                }),
            }],
            diagnosis: Default::default(),
            reconnects: Reconnects {
                window_s: 300.0,
                by_code: Vec::new(),
                flags: Default::default(),
            },
            timeline: Some(Timeline {
                bucket_s: 1,
                first_bucket: Some(at(0)),
                last_bucket: Some(at(59)),
                closes: 8,
                buckets: vec![
                    Bucket {
                        start: at(0),
                        closes: 2,
                        codes: vec![CodeCount {
                            close_code: 1000,
                            closes: 2,
                        }],
                    },
                    Bucket {
                        start: at(30),
                        closes: 5,
                        codes: vec![
                            CodeCount {
                                close_code: 1006,
                                closes: 3,
                            },
                            CodeCount {
                                close_code: 1000,
                                closes: 2,
                            },
                        ],
                    },
                    Bucket {
                        start: at(59),
                        closes: 1,
                        codes: vec![CodeCount {
                            close_code: 4001,
                            closes: 1,
                        }],
                    },
                ],
                spikes: vec![Spike {
                    bucket_start: at(30),
                    kind: SpikeKind::Incident,
                    closes: 3,
                    median: 0.0,
                }],
                frame: Default::default(),
            }),
        }
    }

    pub fn extras() -> Extras {
        let hist = |title: &str| Histogram {
            title: title.into(),
            unit: "sessions".into(),
            bins: vec!["<10 ms".into(), "10-100 ms".into(), "0.1-1 s".into()],
            series: vec!["1000".into(), "1006".into(), "open".into()],
            counts: vec![vec![1, 0, 0], vec![0, 2, 0], vec![1, 0, 1]],
            total: 5,
            of: 10,
            missing: vec![Missing {
                source: "gorilla".into(),
                sessions: 5,
            }],
        };
        Extras {
            duration: hist("Session duration by close code"),
            idle: hist("Idle time before the end by close code"),
            reconnect_delay: Histogram {
                unit: "reconnects".into(),
                ..Histogram::default()
            },
            reasons: Vec::new(),
            busiest: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::timeline::{Bucket, CodeCount, Spike};

    fn hex(c: &str) -> [u8; 3] {
        let v = u32::from_str_radix(&c[1..], 16).unwrap();
        [(v >> 16) as u8, (v >> 8) as u8, v as u8]
    }

    #[test]
    fn forty_codes_get_twelve_distinct_colours_and_1006_keeps_vermillion() {
        // 40 codes, 1006 the rarest: it still gets its colour, the 28 smallest share "other".
        let mut codes: Vec<(u16, u64)> = (0..39).map(|i| (4000 + i, 100 - i as u64)).collect();
        codes.push((1006, 1));
        let p = Palette::new(&codes);
        let coloured: Vec<u16> = p.coloured().collect();
        assert_eq!(coloured.len(), 12);
        assert!(coloured.contains(&1006));
        assert_eq!(p.colour(Key::Code(1006)), "#D55E00");
        let mut colours: Vec<&str> = coloured.iter().map(|c| p.colour(Key::Code(*c))).collect();
        colours.push(OTHER_COLOUR);
        colours.push(OPEN_COLOUR);
        let mut uniq = colours.clone();
        uniq.sort_unstable();
        uniq.dedup();
        assert_eq!(uniq.len(), 14, "{colours:?}");
        assert_eq!(p.key(4038), Key::Other);
        assert_eq!(p.folded().len(), 28);
        // Without 1006 on the page nobody else is vermillion.
        let p = Palette::new(&(0..20).map(|i| (4000 + i, 5)).collect::<Vec<_>>());
        assert!(p.coloured().all(|c| p.colour(Key::Code(c)) != COLOUR_1006));
        // Every colour differs from every other one clearly (not two greys or magentas).
        for (i, a) in colours.iter().enumerate() {
            for b in &colours[i + 1..] {
                let (x, y) = (hex(a), hex(b));
                let d: i32 = x
                    .iter()
                    .zip(y)
                    .map(|(p, q)| (*p as i32 - q as i32).abs())
                    .sum();
                assert!(d >= 60, "{a} and {b} too close");
            }
        }
    }

    #[test]
    fn well_known_codes_keep_their_colour_on_every_page() {
        let a = Palette::new(&[(1000, 5), (1006, 3), (4001, 9)]);
        let b = Palette::new(&[(1006, 50), (1000, 1), (1012, 2)]);
        assert_eq!(a.colour(Key::Code(1000)), b.colour(Key::Code(1000)));
        assert_eq!(a.colour(Key::Code(1006)), b.colour(Key::Code(1006)));
    }

    fn timeline(bucket_s: i64, starts: &[i64]) -> Timeline {
        let ns = |s: i64| s * 1_000_000_000;
        let buckets: Vec<Bucket> = starts
            .iter()
            .map(|s| Bucket {
                start: ns(*s),
                closes: 2,
                codes: vec![
                    CodeCount {
                        close_code: 1006,
                        closes: 1,
                    },
                    CodeCount {
                        close_code: 1000,
                        closes: 1,
                    },
                ],
            })
            .collect();
        Timeline {
            bucket_s,
            first_bucket: starts.first().map(|s| ns(*s)),
            last_bucket: starts.last().map(|s| ns(*s)),
            closes: 2 * starts.len() as u64,
            buckets,
            spikes: Vec::new(),
            frame: Default::default(),
        }
    }

    #[test]
    fn three_years_of_daily_buckets_make_a_few_dozen_columns() {
        // 2024-01-01 .. 2026-12-31, one bucket a day: 1096 buckets.
        let day0 = 1_704_067_200;
        let starts: Vec<i64> = (0..1096).map(|d| day0 + d * 86_400).collect();
        let p = Palette::new(&[(1000, 1096), (1006, 1096)]);
        let c = TimeColumns::new(&timeline(86_400, &starts), &p).unwrap();
        assert!(c.counts.len() <= MAX_COLUMNS, "{} columns", c.counts.len());
        assert!(c.counts.len() >= 12, "{} columns", c.counts.len());
        assert_eq!(c.col_s % 86_400, 0);
        let total: u64 = c.counts.iter().flatten().sum();
        assert_eq!(total, 2 * 1096, "every close in a column");
        assert!(c.ticks.len() <= 9 && c.ticks.len() >= 2, "{:?}", c.ticks);
        assert!(c.ticks[0].1.starts_with("2024"), "{:?}", c.ticks);
    }

    #[test]
    fn a_54_minute_span_gets_minute_columns_and_clock_labels() {
        // 2026-11-22 00:00:00 .. 00:54:00, 1 min buckets.
        let t0 = 1_795_305_600;
        let starts: Vec<i64> = (0..=54).map(|m| t0 + m * 60).collect();
        let p = Palette::new(&[(1000, 55), (1006, 55)]);
        let c = TimeColumns::new(&timeline(60, &starts), &p).unwrap();
        assert_eq!(c.col_s, 60);
        assert_eq!(c.counts.len(), 55);
        assert_eq!(c.column(), "1 min");
        assert_eq!(c.axis, "UTC, 2026-11-22");
        let labels: Vec<&str> = c.ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(
            labels,
            ["00:00", "00:10", "00:20", "00:30", "00:40", "00:50"]
        );
        assert_eq!(c.keys, [Key::Code(1006), Key::Code(1000)]);
    }

    #[test]
    fn spikes_land_in_their_column() {
        let t0 = 1_795_305_600;
        let mut t = timeline(1, &[t0, t0 + 30, t0 + 59]);
        t.spikes.push(Spike {
            bucket_start: (t0 + 30) * 1_000_000_000,
            kind: SpikeKind::Incident,
            closes: 9,
            median: 0.0,
        });
        let c = TimeColumns::new(&t, &Palette::new(&[(1006, 3)])).unwrap();
        assert_eq!(c.col_s, 1);
        assert_eq!(c.spikes, [(30, SpikeKind::Incident, 9)]);
    }

    #[test]
    fn times_are_shown_to_the_millisecond() {
        assert_eq!(
            ms_time("2026-11-22T00:53:54.770123456Z"),
            "2026-11-22 00:53:54.770"
        );
    }
}
