//! `wsaudit audit`: the nightly job. Analyze everything given, compare with a baseline,
//! check `--max-rate` thresholds, say what changed, write Markdown and HTML.
//!
//! Contract:
//! - Inputs: captures, session tables and logs, sorted and read by [`crate::inputs`]
//!   exactly as `analyze` does.
//! - The [`Report`] is the one `analyze` and `report` build ([`summary::build`]), with
//!   the `server` and `path` breakdowns and the timeline always in (the HTML charts use
//!   them); the terminal shows only the breakdowns asked for with `--by`.
//! - Change detection ([`compare`]): per close code and per ending (`announced`, `open`;
//!   `normal`, `no_status` and `abnormal` are the codes 1000, 1005 and 1006), rates are
//!   sessions with that key over all sessions. A change is reported when the rate moved
//!   by a factor of at least [`MIN_RATIO`] *and* by at least [`MIN_POINTS`] percentage
//!   points *and* the difference is larger than chance makes at these session counts
//!   (two-proportion z-test, |z| >= [`MIN_Z`]). A key never seen in the baseline is
//!   always reported as `new`.
//! - Thresholds ([`Threshold`]): `KEY=PERCENT`, breached when the rate is strictly above
//!   the limit. Exit code: 2 when anything could not be read or written (errors win),
//!   else 1 when a threshold is breached, else 0.
//! - Everything from the wire (groups, reasons, names of inputs) is sanitized for the
//!   terminal ([`text::fit`]), escaped for HTML and Markdown by their writers.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use polars::prelude::*;
use polars_io::csv::read::CsvReadOptions;
use polars_io::parquet::read::ParquetReader;
use polars_io::SerReader;
use serde::Serialize;

use crate::cli::{AuditArgs, OutputFormat};
use crate::inputs::{self, SpillOptions};
use crate::logs::LogOptions;
use crate::pipeline;
use crate::report::breakdown::GroupBy;
use crate::report::columns::{f64s, strs, u16s, u64s};
use crate::report::diagnose::Measure;
use crate::report::export::SessionsOut;
use crate::report::summary::{self, Report, ReportOptions};
use crate::report::text::{self, code_label, fit, fmt_duration, fmt_time};
use crate::report::write::{self, TableFormat};
use crate::report::{html, markdown, percode, reconnect};
use crate::session::Ending;
use crate::tcp::Limits;

/// A rate must move by at least this factor (up or down) to be a change...
pub const MIN_RATIO: f64 = 1.5;
/// ...and by at least this many percentage points...
pub const MIN_POINTS: f64 = 0.5;
/// ...and the two-proportion z statistic must be at least this (about 95 %, two-sided):
/// 1 session of 17 against 1 of 8 is not a change; 3 of 17 against 10 of 15 is.
pub const MIN_Z: f64 = 1.96;
/// Context for a change: a server or path holding more than this share of the code's
/// sessions is named ("80% on server 10.0.0.5:443").
pub const CONCENTRATION_SHARE: f64 = 0.5;

// ---------------------------------------------------------------------------------
// Thresholds

/// What a `--max-rate` limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RateKey {
    /// Sessions with this close code.
    Code(u16),
    /// Sessions with a code in `N000..=N999` (`4xxx`).
    Class(u16),
    /// Sessions with this ending.
    Ending(#[serde(serialize_with = "ser_ending")] Ending),
}

fn ser_ending<S: serde::Serializer>(e: &Ending, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(e.as_str())
}

impl RateKey {
    /// `1006 Abnormal Closure`, `4xxx`, `abnormal`.
    pub fn label(self) -> String {
        match self {
            RateKey::Code(c) => code_label(c),
            RateKey::Class(n) => format!("{n}xxx"),
            RateKey::Ending(e) => format!("ending {}", e.as_str()),
        }
    }

    /// Sessions of the report with this key.
    pub fn sessions(self, r: &Report) -> u64 {
        match self {
            RateKey::Code(c) => r
                .codes
                .iter()
                .filter(|x| x.close_code == c)
                .map(|x| x.sessions)
                .sum(),
            RateKey::Class(n) => r
                .codes
                .iter()
                .filter(|x| x.close_code / 1000 == n)
                .map(|x| x.sessions)
                .sum(),
            RateKey::Ending(e) => r
                .endings
                .iter()
                .filter(|x| x.ending == e.as_str())
                .map(|x| x.sessions)
                .sum(),
        }
    }
}

/// One `--max-rate KEY=PERCENT`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Threshold {
    pub key: RateKey,
    /// At most this percent of all sessions (0-100).
    pub max_pct: f64,
}

/// Parse `1006=5`, `abnormal=5`, `4xxx=10`, `open=50%` (clap value parser).
pub fn parse_threshold(s: &str) -> std::result::Result<Threshold, String> {
    let (k, v) = s.split_once('=').ok_or_else(|| {
        format!("'{s}': expected CODE_OR_ENDING=PERCENT, e.g. 1006=5 or abnormal=5")
    })?;
    let k = k.trim().to_ascii_lowercase();
    let key = if let Some(e) = Ending::ALL.iter().find(|e| e.as_str() == k) {
        RateKey::Ending(*e)
    } else if let Some(n) = k.strip_suffix("xxx") {
        match n.parse::<u16>() {
            Ok(n @ 1..=4) => RateKey::Class(n),
            _ => return Err(format!("'{k}': code classes are 1xxx, 2xxx, 3xxx and 4xxx")),
        }
    } else if let Ok(c) = k.parse::<u16>() {
        if !(1000..=4999).contains(&c) {
            return Err(format!("'{k}': close codes are 1000-4999"));
        }
        RateKey::Code(c)
    } else {
        return Err(format!(
            "'{k}': not a close code (1006), a class (4xxx) or an ending \
             (normal, announced, no_status, abnormal, open)"
        ));
    };
    let v = v.trim();
    let pct: f64 = v
        .strip_suffix('%')
        .unwrap_or(v)
        .trim()
        .parse()
        .map_err(|_| format!("'{v}': the limit must be a percentage, e.g. 5 or 0.5"))?;
    if !(pct.is_finite() && (0.0..=100.0).contains(&pct)) {
        return Err(format!(
            "'{v}': the limit must be between 0 and 100 (percent)"
        ));
    }
    Ok(Threshold { key, max_pct: pct })
}

/// A threshold checked against the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub key: RateKey,
    pub label: String,
    pub sessions: u64,
    pub of: u64,
    pub rate_pct: f64,
    pub max_pct: f64,
    pub breached: bool,
}

/// Check every threshold (rate = sessions with the key / all sessions; 0 with none).
pub fn check(r: &Report, thresholds: &[Threshold]) -> Vec<Check> {
    thresholds
        .iter()
        .map(|t| {
            let n = t.key.sessions(r);
            let rate_pct = if r.sessions == 0 {
                0.0
            } else {
                n as f64 * 100.0 / r.sessions as f64
            };
            Check {
                key: t.key,
                label: t.key.label(),
                sessions: n,
                of: r.sessions,
                rate_pct,
                max_pct: t.max_pct,
                breached: rate_pct > t.max_pct,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------
// Baseline

/// What the baseline was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineKind {
    /// A session table (or a capture): every comparison, with servers and clusters.
    Sessions,
    /// A `--summary` per-code export: codes only; endings derived from them.
    Summary,
}

impl BaselineKind {
    /// How the reports name it.
    pub fn label(self) -> &'static str {
        match self {
            BaselineKind::Sessions => "session table",
            BaselineKind::Summary => "per-code summary",
        }
    }
}

/// An earlier night, reduced to what the comparison needs.
#[derive(Debug, Clone, Serialize)]
pub struct Baseline {
    pub name: String,
    pub kind: BaselineKind,
    pub sessions: u64,
    pub codes: BTreeMap<u16, u64>,
    pub endings: BTreeMap<String, u64>,
    /// The full report when the baseline was a session table.
    #[serde(skip)]
    pub report: Option<Report>,
}

impl Baseline {
    fn from_report(name: String, r: Report) -> Baseline {
        Baseline {
            name,
            kind: BaselineKind::Sessions,
            sessions: r.sessions,
            codes: r.codes.iter().map(|c| (c.close_code, c.sessions)).collect(),
            endings: r
                .endings
                .iter()
                .map(|e| (e.ending.clone(), e.sessions))
                .collect(),
            report: Some(r),
        }
    }

    /// From a per-code table: the total is recovered from `share` (which counts open
    /// sessions too), endings from the codes (1000 normal, 1005 no_status, 1006
    /// abnormal, the rest announced, the remainder open).
    fn from_summary(name: String, df: &DataFrame) -> Result<Baseline> {
        let code = u64s(df, "close_code")?;
        let n = u64s(df, "sessions")?;
        let share = if df.schema().contains("share") {
            f64s(df, "share")?
        } else {
            vec![None; df.height()]
        };
        let mut codes = BTreeMap::new();
        let (mut sum_n, mut sum_share) = (0u64, 0.0f64);
        for i in 0..df.height() {
            let (Some(c), Some(k)) = (code[i], n[i]) else {
                continue;
            };
            let c = u16::try_from(c).with_context(|| format!("{name}: close code {c}"))?;
            *codes.entry(c).or_insert(0) += k;
            sum_n += k;
            sum_share += share[i].unwrap_or(0.0);
        }
        let total = if sum_share > 0.0 {
            ((sum_n as f64 / sum_share).round() as u64).max(sum_n)
        } else {
            sum_n
        };
        let get = |c: u16| codes.get(&c).copied().unwrap_or(0);
        let mut endings = BTreeMap::new();
        endings.insert("normal".to_string(), get(1000));
        endings.insert("no_status".to_string(), get(1005));
        endings.insert("abnormal".to_string(), get(1006));
        endings.insert(
            "announced".to_string(),
            sum_n - get(1000) - get(1005) - get(1006),
        );
        endings.insert("open".to_string(), total - sum_n);
        Ok(Baseline {
            name,
            kind: BaselineKind::Summary,
            sessions: total,
            codes,
            endings,
            report: None,
        })
    }
}

fn read_table_raw(path: &Path) -> Result<DataFrame> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    Ok(if ext == "csv" {
        CsvReadOptions::default()
            .with_has_header(true)
            .try_into_reader_with_file_path(Some(path.to_path_buf()))?
            .finish()?
    } else {
        ParquetReader::new(std::fs::File::open(path)?).finish()?
    })
}

/// Read the baseline: a session table (file or folder), a `--summary` export, or a
/// capture. Problems reading parts of it are returned next to what was read.
pub fn load_baseline(
    path: &Path,
    opts: &ReportOptions,
    pipe: &pipeline::Options,
) -> Result<(Baseline, Vec<String>)> {
    let name = path.display().to_string();
    if path.is_file() && inputs::is_table_name(path) {
        let df = read_table_raw(path).with_context(|| format!("{name}: cannot read"))?;
        let has = |c: &str| df.schema().contains(c);
        if !has("session_id") && has("close_code") && has("sessions") {
            return Ok((Baseline::from_summary(name, &df)?, Vec::new()));
        }
    }
    let sources = inputs::classify(std::slice::from_ref(&name), false);
    let got = inputs::collect(
        &sources,
        Vec::new(),
        pipe,
        &LogOptions::default(),
        false,
        &SpillOptions::default(),
    )?;
    if got.inputs.iter().all(|i| i.sessions == 0) && !got.errors.is_empty() {
        bail!("baseline {}", got.errors.join("; "));
    }
    let sessions = got.sessions.drain(&mut |_| {}, true)?.sessions;
    let r = summary::build(got.inputs, got.time_range, &sessions, &got.refused, opts)?;
    Ok((Baseline::from_report(name, r), got.errors))
}

// ---------------------------------------------------------------------------------
// Changes

/// How a rate moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Never seen in the baseline.
    New,
    Up,
    Down,
    /// In the baseline, none now.
    Gone,
}

/// One change worth a person's attention.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub key: RateKey,
    pub kind: ChangeKind,
    /// True when the change is bad news (more non-1000 endings, fewer 1000s).
    pub worse: bool,
    pub baseline_sessions: u64,
    pub baseline_rate: f64,
    pub current_sessions: u64,
    pub current_rate: f64,
    /// current / baseline rate (None when the baseline rate was 0).
    pub ratio: Option<f64>,
    /// Where and how (servers, paths, idle times, spikes), already worded.
    pub context: Vec<String>,
    /// The whole sentence, sanitized for a terminal.
    pub text: String,
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn z_score(b: u64, bt: u64, c: u64, ct: u64) -> f64 {
    let (b, bt, c, ct) = (b as f64, bt as f64, c as f64, ct as f64);
    let p = (b + c) / (bt + ct);
    let se = (p * (1.0 - p) * (1.0 / bt + 1.0 / ct)).sqrt();
    if se > 0.0 {
        (c / ct - b / bt) / se
    } else {
        0.0
    }
}

/// Is a move from `b` of `bt` to `c` of `ct` a change by the rule in the module docs?
pub fn is_change(b: u64, bt: u64, c: u64, ct: u64) -> bool {
    if bt == 0 || ct == 0 {
        return false;
    }
    let (pb, pc) = (b as f64 / bt as f64, c as f64 / ct as f64);
    let (lo, hi) = (pb.min(pc), pb.max(pc));
    let ratio_ok = if lo == 0.0 {
        hi > 0.0
    } else {
        hi / lo >= MIN_RATIO
    };
    ratio_ok && (hi - lo) * 100.0 >= MIN_POINTS && z_score(b, bt, c, ct).abs() >= MIN_Z
}

fn share_of(n: u64, of: u64) -> String {
    format!("{:.0}%", n as f64 * 100.0 / of.max(1) as f64)
}

/// "80% on server 10.0.0.5:443 (baseline 10%)" when one group holds most of the code.
fn concentration(cur: &Report, base: Option<&Report>, by: GroupBy, code: u16) -> Option<String> {
    let b = cur.breakdowns.iter().find(|b| b.by == by)?;
    let i = b.codes.iter().position(|c| *c == code)?;
    let total: u64 = RateKey::Code(code).sessions(cur);
    let groups = b.rows.len() as u64 + b.folded.as_ref().map_or(0, |f| f.0);
    if total == 0 || groups < 2 {
        return None;
    }
    let top = b.rows.iter().max_by_key(|r| r.per_code[i])?;
    let n = top.per_code[i];
    if (n as f64) <= CONCENTRATION_SHARE * total as f64 {
        return None;
    }
    let mut s = format!(
        "{} on {} {}",
        share_of(n, total),
        by.as_str(),
        fit(&top.group, 48)
    );
    if let Some(base) = base {
        let bt = RateKey::Code(code).sessions(base);
        if bt > 0 {
            let bn = base
                .breakdowns
                .iter()
                .find(|x| x.by == by)
                .and_then(|x| {
                    let j = x.codes.iter().position(|c| *c == code)?;
                    x.rows
                        .iter()
                        .find(|r| r.group == top.group)
                        .map(|r| r.per_code[j])
                })
                .unwrap_or(0);
            let _ = write!(s, " (baseline {})", share_of(bn, bt));
        }
    }
    Some(s)
}

fn tcp_end_words(e: &str) -> &'static str {
    match e {
        "server_fin" => "the server closing TCP (FIN)",
        "server_rst" => "the server resetting TCP (RST)",
        "client_fin" => "the client closing TCP (FIN)",
        "client_rst" => "the client resetting TCP (RST)",
        _ => "no FIN or RST seen",
    }
}

/// Context for a code that went up or appeared.
fn context(cur: &Report, base: Option<&Report>, code: u16) -> Vec<String> {
    let mut out = Vec::new();
    for by in [GroupBy::Server, GroupBy::Path] {
        if let Some(s) = concentration(cur, base, by, code) {
            out.push(s);
        }
    }
    if code == 1006 {
        let d = &cur.diagnosis;
        for c in d.clusters.iter().take(1) {
            let how = if c.sessions as f64 >= 0.5 * c.of as f64 {
                "most".to_string()
            } else {
                share_of(c.sessions, c.of)
            };
            let what = match c.measure {
                Measure::Idle => format!("{how} after {} idle", fmt_duration(c.value_s)),
                Measure::Lifetime => {
                    format!("{how} {} after they started", fmt_duration(c.value_s))
                }
            };
            let was = base.map(|b| {
                b.diagnosis.clusters.iter().any(|x| {
                    x.measure == c.measure && (x.value_s - c.value_s).abs() <= 0.02 * c.value_s
                })
            });
            out.push(match was {
                Some(true) => format!("{what} (as in the baseline)"),
                Some(false) => format!("{what} (new since the baseline)"),
                None => what,
            });
        }
        if let Some(top) = d.tcp_end.first() {
            if d.abnormal > 0 && top.sessions as f64 >= 0.5 * d.abnormal as f64 {
                out.push(format!(
                    "{} by {}",
                    share_of(top.sessions, d.abnormal),
                    tcp_end_words(&top.tcp_end)
                ));
            }
        }
    }
    if let Some(t) = &cur.timeline {
        let spikes: Vec<String> = t
            .spikes
            .iter()
            .filter(|s| s.kind.codes().contains(&code))
            .take(3)
            .map(|s| format!("{} UTC", fmt_time(s.bucket_start)))
            .collect();
        if !spikes.is_empty() {
            out.push(format!("spikes at {}", spikes.join(", ")));
        }
    }
    out
}

fn change_text(key: RateKey, kind: ChangeKind, c: &Change) -> String {
    let label = key.label();
    let mut s = match kind {
        ChangeKind::New => format!(
            "{label} new: {} session{} ({}), never seen in the baseline",
            c.current_sessions,
            if c.current_sessions == 1 { "" } else { "s" },
            pct(c.current_rate)
        ),
        ChangeKind::Gone => format!(
            "{label} gone ({} -> 0.0%; {} session{} in the baseline)",
            pct(c.baseline_rate),
            c.baseline_sessions,
            if c.baseline_sessions == 1 { "" } else { "s" }
        ),
        ChangeKind::Up | ChangeKind::Down => {
            let r = c.ratio.unwrap_or(f64::INFINITY);
            let (dir, factor) = if kind == ChangeKind::Up {
                ("up", r)
            } else {
                ("down", 1.0 / r)
            };
            format!(
                "{label} {dir} {factor:.1}x vs baseline ({} -> {})",
                pct(c.baseline_rate),
                pct(c.current_rate)
            )
        }
    };
    for x in &c.context {
        s.push_str(", ");
        s.push_str(x);
    }
    text::sanitize(&s)
}

/// Changes between the baseline and this run, worse ones first, then by how much the
/// rate moved.
pub fn compare(cur: &Report, base: &Baseline) -> Vec<Change> {
    let (bt, ct) = (base.sessions, cur.sessions);
    if bt == 0 || ct == 0 {
        return Vec::new();
    }
    let mut keys: Vec<RateKey> = base
        .codes
        .keys()
        .chain(cur.codes.iter().map(|c| &c.close_code))
        .copied()
        .collect::<std::collections::BTreeSet<u16>>()
        .into_iter()
        .map(RateKey::Code)
        .collect();
    // normal, no_status and abnormal are the codes 1000, 1005 and 1006.
    keys.extend([Ending::Announced, Ending::Open].map(RateKey::Ending));
    let mut out = Vec::new();
    for key in keys {
        let b = match key {
            RateKey::Code(c) => base.codes.get(&c).copied().unwrap_or(0),
            RateKey::Ending(e) => base.endings.get(e.as_str()).copied().unwrap_or(0),
            RateKey::Class(_) => 0,
        };
        let c = key.sessions(cur);
        let kind = if b == 0 && c > 0 {
            ChangeKind::New
        } else if !is_change(b, bt, c, ct) {
            continue;
        } else if c == 0 {
            ChangeKind::Gone
        } else if c as f64 / ct as f64 > b as f64 / bt as f64 {
            ChangeKind::Up
        } else {
            ChangeKind::Down
        };
        let (pb, pc) = (b as f64 / bt as f64, c as f64 / ct as f64);
        let good = matches!(key, RateKey::Code(1000) | RateKey::Ending(Ending::Normal));
        let up = matches!(kind, ChangeKind::New | ChangeKind::Up);
        let ctx = match (key, up) {
            (RateKey::Code(code), true) => context(cur, base.report.as_ref(), code),
            _ => Vec::new(),
        };
        let mut ch = Change {
            key,
            kind,
            worse: up != good,
            baseline_sessions: b,
            baseline_rate: pb,
            current_sessions: c,
            current_rate: pc,
            ratio: (pb > 0.0).then(|| pc / pb),
            context: ctx,
            text: String::new(),
        };
        ch.text = change_text(key, kind, &ch);
        out.push(ch);
    }
    out.sort_by(|a, b| {
        b.worse.cmp(&a.worse).then(a.kind.cmp(&b.kind)).then(
            (b.current_rate - b.baseline_rate)
                .abs()
                .total_cmp(&(a.current_rate - a.baseline_rate).abs()),
        )
    });
    out
}

// ---------------------------------------------------------------------------------
// Histograms and reasons (for the HTML and Markdown reports)

/// Counts per bin and series (stacked bars).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Histogram {
    pub title: String,
    /// What a bin counts, e.g. "sessions".
    pub unit: String,
    pub bins: Vec<String>,
    pub series: Vec<String>,
    /// `counts[bin][series]`.
    pub counts: Vec<Vec<u64>>,
    /// Values that fed the histogram.
    pub total: u64,
}

/// Bin edges (seconds) and labels for durations and idle times.
pub const TIME_BINS: &[(f64, &str)] = &[
    (0.01, "<10 ms"),
    (0.1, "10-100 ms"),
    (1.0, "0.1-1 s"),
    (10.0, "1-10 s"),
    (30.0, "10-30 s"),
    (60.0, "30-60 s"),
    (120.0, "1-2 min"),
    (300.0, "2-5 min"),
    (600.0, "5-10 min"),
    (1800.0, "10-30 min"),
    (3600.0, "30-60 min"),
    (f64::INFINITY, ">=1 h"),
];

/// Bin edges (seconds) and labels for reconnect delays.
pub const DELAY_BINS: &[(f64, &str)] = &[
    (0.1, "<100 ms"),
    (0.5, "0.1-0.5 s"),
    (1.0, "0.5-1 s"),
    (2.0, "1-2 s"),
    (5.0, "2-5 s"),
    (10.0, "5-10 s"),
    (30.0, "10-30 s"),
    (60.0, "30-60 s"),
    (f64::INFINITY, ">=1 min"),
];

fn bin_of(edges: &[(f64, &str)], v: f64) -> usize {
    edges
        .iter()
        .position(|(hi, _)| v < *hi)
        .unwrap_or(edges.len() - 1)
}

fn histogram(
    title: &str,
    edges: &[(f64, &str)],
    values: &[Option<f64>],
    series_of: &[Option<String>],
    order: &[String],
) -> Histogram {
    let mut series: Vec<String> = order.to_vec();
    for s in series_of.iter().flatten() {
        if !series.contains(s) {
            series.push(s.clone());
        }
    }
    let mut counts = vec![vec![0u64; series.len()]; edges.len()];
    let mut total = 0;
    for (v, s) in values.iter().zip(series_of) {
        let (Some(v), Some(s)) = (v, s) else { continue };
        if !v.is_finite() || *v < 0.0 {
            continue;
        }
        if let Some(j) = series.iter().position(|x| x == s) {
            counts[bin_of(edges, *v)][j] += 1;
            total += 1;
        }
    }
    // Drop series with nothing in them.
    let keep: Vec<usize> = (0..series.len())
        .filter(|j| counts.iter().any(|row| row[*j] > 0))
        .collect();
    Histogram {
        title: title.to_string(),
        unit: "sessions".into(),
        bins: edges.iter().map(|(_, l)| l.to_string()).collect(),
        series: keep.iter().map(|j| series[*j].clone()).collect(),
        counts: counts
            .iter()
            .map(|row| keep.iter().map(|j| row[*j]).collect())
            .collect(),
        total,
    }
}

/// Most frequent close reasons per code.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReasonRow {
    pub close_code: u16,
    /// As sent (wire text: escape before display).
    pub close_reason: String,
    pub sessions: u64,
}

/// The `n` most frequent (code, non-empty reason) pairs.
pub fn top_reasons(sessions: &DataFrame, n: usize) -> PolarsResult<Vec<ReasonRow>> {
    let g = sessions
        .clone()
        .lazy()
        .select([
            col("close_code").cast(DataType::UInt16),
            col("close_reason").cast(DataType::String),
        ])
        .filter(
            col("close_code")
                .is_not_null()
                .and(col("close_reason").is_not_null())
                .and(col("close_reason").neq(lit(""))),
        )
        .group_by([col("close_code"), col("close_reason")])
        .agg([len().cast(DataType::UInt64).alias("n")])
        .sort_by_exprs(
            [col("n"), col("close_code"), col("close_reason")],
            SortMultipleOptions::default().with_order_descending_multi([true, false, false]),
        )
        .limit(n as IdxSize)
        .collect()?;
    let code = u16s(&g, "close_code")?;
    let reason = strs(&g, "close_reason")?;
    let count = u64s(&g, "n")?;
    Ok((0..g.height())
        .map(|i| ReasonRow {
            close_code: code[i].unwrap_or(0),
            close_reason: reason[i].clone().unwrap_or_default(),
            sessions: count[i].unwrap_or(0),
        })
        .collect())
}

/// The charts' data that the [`Report`] does not hold.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Extras {
    pub duration: Histogram,
    pub idle: Histogram,
    pub reconnect_delay: Histogram,
    pub reasons: Vec<ReasonRow>,
}

fn extras(sessions: &DataFrame, rec: &DataFrame) -> PolarsResult<Extras> {
    let endings: Vec<String> = Ending::ALL.iter().map(|e| e.as_str().to_string()).collect();
    let ending = strs(sessions, "ending")?;
    let delay_code: Vec<Option<String>> = u16s(rec, "close_code")?
        .into_iter()
        .map(|c| c.map(|c| c.to_string()))
        .collect();
    let mut delay = histogram(
        "Reconnect delays (close to the same client's next session)",
        DELAY_BINS,
        &f64s(rec, "reconnect_delay_s")?,
        &delay_code,
        &[],
    );
    delay.unit = "reconnects".into();
    // Series (codes) in numeric order.
    let mut order: Vec<usize> = (0..delay.series.len()).collect();
    order.sort_by_key(|j| delay.series[*j].parse::<u32>().unwrap_or(u32::MAX));
    delay.series = order.iter().map(|j| delay.series[*j].clone()).collect();
    delay.counts = delay
        .counts
        .iter()
        .map(|row| order.iter().map(|j| row[*j]).collect())
        .collect();
    Ok(Extras {
        duration: histogram(
            "Session duration by ending",
            TIME_BINS,
            &f64s(sessions, "duration_s")?,
            &ending,
            &endings,
        ),
        idle: histogram(
            "Idle time before the end by ending",
            TIME_BINS,
            &f64s(sessions, "idle_before_end_s")?,
            &ending,
            &endings,
        ),
        reconnect_delay: delay,
        reasons: top_reasons(sessions, 15)?,
    })
}

// ---------------------------------------------------------------------------------
// The run

/// PASS, FAIL or ERROR, with the exit code it maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every threshold holds (exit 0).
    Pass,
    /// A threshold is breached (exit 1).
    Fail,
    /// Something could not be read or written (exit 2; wins over Fail).
    Error,
}

impl Verdict {
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Pass => 0,
            Verdict::Fail => 1,
            Verdict::Error => 2,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Error => "ERROR",
        }
    }
}

/// Everything the audit found; what the writers render.
#[derive(Debug, Clone, Serialize)]
pub struct Audit {
    pub verdict: Verdict,
    /// One line: the verdict in words.
    pub headline: String,
    pub errors: Vec<String>,
    pub checks: Vec<Check>,
    pub baseline: Option<Baseline>,
    pub changes: Vec<Change>,
    /// Generated at (UTC, ISO 8601).
    pub generated: String,
    pub report: Report,
    pub extras: Extras,
}

impl Audit {
    /// Decide the verdict and word the headline (errors win over breaches).
    pub fn new(
        errors: Vec<String>,
        checks: Vec<Check>,
        baseline: Option<Baseline>,
        changes: Vec<Change>,
        report: Report,
        extras: Extras,
    ) -> Audit {
        let breached = checks.iter().filter(|c| c.breached).count();
        let verdict = if !errors.is_empty() {
            Verdict::Error
        } else if breached > 0 {
            Verdict::Fail
        } else {
            Verdict::Pass
        };
        let thresholds = if checks.is_empty() {
            "no --max-rate thresholds given".to_string()
        } else if breached == 0 {
            if checks.len() == 1 {
                "the threshold holds".to_string()
            } else {
                format!("all {} thresholds hold", checks.len())
            }
        } else {
            format!("{breached} of {} thresholds breached", checks.len())
        };
        let headline = match verdict {
            Verdict::Error => format!(
                "ERROR: {} problem{} reading or writing (see below); {thresholds}",
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            ),
            v => format!("{}: {thresholds}", v.as_str()),
        };
        Audit {
            verdict,
            headline,
            errors,
            checks,
            baseline,
            changes,
            generated: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            report,
            extras,
        }
    }
}

/// "1006 Abnormal Closure: 8.0% of sessions (2 of 25), limit 5%".
pub fn check_line(c: &Check) -> String {
    format!(
        "{}: {:.1}% of sessions ({} of {}), limit {}%",
        c.label, c.rate_pct, c.sessions, c.of, c.max_pct
    )
}

/// The verdict, thresholds, changes and errors, for the terminal (before the report).
pub fn render_text(a: &Audit) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "Audit {}", a.headline);
    for c in &a.checks {
        let _ = writeln!(
            o,
            "  {} {}",
            if c.breached { "BREACHED" } else { "ok      " },
            check_line(c)
        );
    }
    match &a.baseline {
        None => {
            let _ = writeln!(
                o,
                "No baseline (--baseline PATH compares with an earlier night)."
            );
        }
        Some(b) => {
            let _ = writeln!(
                o,
                "Changes vs baseline {} ({}, {} sessions):",
                fit(&b.name, 50),
                b.kind.label(),
                b.sessions
            );
            if a.changes.is_empty() {
                let _ = writeln!(
                    o,
                    "  none (a change: rate x{MIN_RATIO} or more, {MIN_POINTS} points or more, \
                     beyond chance at these counts)"
                );
            }
            for c in &a.changes {
                let _ = writeln!(o, "  - {}", c.text);
            }
        }
    }
    if !a.errors.is_empty() {
        let _ = writeln!(o, "Errors:");
        for e in &a.errors {
            let _ = writeln!(o, "  {}", fit(e, 96));
        }
    }
    o
}

fn check_output_paths(args: &AuditArgs) -> Result<()> {
    for p in [
        &args.sessions,
        &args.report.summary,
        &args.report.reconnects,
    ]
    .into_iter()
    .flatten()
    {
        TableFormat::from_path(p)?;
    }
    for p in [&args.html, &args.markdown].into_iter().flatten() {
        let dir = p.parent().filter(|d| !d.as_os_str().is_empty());
        if dir.is_some_and(|d| !d.is_dir()) {
            bail!("{}: the folder does not exist", p.display());
        }
    }
    if !(args.report.window.is_finite() && args.report.window > 0.0) {
        bail!("--window must be a positive number of seconds");
    }
    if args.paths.iter().filter(|p| *p == "-").count() > 1 {
        bail!("standard input (-) can be given only once");
    }
    let mut seen = Vec::new();
    for t in &args.max_rate {
        if seen.contains(&t.key) {
            bail!("--max-rate {} given twice", t.key.label());
        }
        seen.push(t.key);
    }
    Ok(())
}

/// `wsaudit audit`: returns the exit code (0 pass, 1 breached, 2 errors); `Err` only for
/// bad arguments found before reading anything.
pub fn run(args: AuditArgs) -> Result<ExitCode> {
    check_output_paths(&args)?;
    if let Some(b) = &args.baseline {
        if !b.exists() {
            bail!("{}: no such baseline file or folder", b.display());
        }
    }
    let pipe = pipeline::Options {
        limits: Limits::default(),
        progress: !args.report.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        shards: pipeline::AUTO_SHARDS,
    };
    let mut by = args.report.by.clone();
    for extra in [GroupBy::Server, GroupBy::Path] {
        if !by.contains(&extra) {
            by.push(extra);
        }
    }
    let opts = ReportOptions {
        by,
        top: args.report.top,
        window_s: args.report.window,
        timeline: true,
    };

    let log_opts = args.logs.options()?;
    let sources = inputs::classify(&args.paths, log_opts.format.is_some());
    let got = inputs::collect(
        &sources,
        Vec::new(),
        &pipe,
        &log_opts,
        false,
        &SpillOptions::default(),
    )?;
    for w in &got.warnings {
        eprintln!("wsaudit: {w}");
    }
    let mut errors = got.errors;
    let mut out = match &args.sessions {
        Some(path) => SessionsOut::file(path, !args.report.csv_raw),
        None => SessionsOut::none(),
    };
    let sessions = got
        .sessions
        .drain(&mut |batch| out.write(batch), true)?
        .sessions;
    if let Err(e) = out.finish() {
        errors.push(format!("{e:#}"));
    }

    let write_table = |df: &mut DataFrame, path: &Path, errors: &mut Vec<String>| {
        if let Err(e) = write::write_table_with(df, path, !args.report.csv_raw) {
            errors.push(format!("{e:#}"));
        }
    };
    if let Some(path) = &args.report.summary {
        let mut df = percode::per_code_frame(&sessions)?;
        write_table(&mut df, path, &mut errors);
    }
    let mut rec = reconnect::reconnects(&sessions, args.report.window)?;
    if let Some(path) = &args.report.reconnects {
        write_table(&mut rec, path, &mut errors);
    }

    let report = summary::build(got.inputs, got.time_range, &sessions, &got.refused, &opts)?;
    let baseline = match &args.baseline {
        None => None,
        Some(p) => match load_baseline(p, &opts, &pipe) {
            Ok((b, errs)) => {
                errors.extend(errs.into_iter().map(|e| format!("baseline {e}")));
                Some(b)
            }
            Err(e) => {
                errors.push(format!("{e:#}"));
                None
            }
        },
    };
    let changes = baseline
        .as_ref()
        .map(|b| compare(&report, b))
        .unwrap_or_default();
    let checks = check(&report, &args.max_rate);
    let extras = extras(&sessions, &rec)?;
    let mut audit = Audit::new(errors, checks, baseline, changes, report, extras);

    // The reports carry the verdict, so a write failure found after writing one of them
    // is only on stderr and in the exit code.
    let mut late = Vec::new();
    if let Some(p) = &args.markdown {
        if let Err(e) = write::write_text_atomic(p, &markdown::render(&audit)) {
            late.push(format!("{e:#}"));
        }
    }
    if let Some(p) = &args.html {
        if let Err(e) = write::write_text_atomic(p, &html::render(&audit)) {
            late.push(format!("{e:#}"));
        }
    }
    if !late.is_empty() {
        audit = Audit::new(
            audit.errors.into_iter().chain(late).collect(),
            audit.checks,
            audit.baseline,
            audit.changes,
            audit.report,
            audit.extras,
        );
    }

    for e in &audit.errors {
        eprintln!("wsaudit: {}", text::sanitize(e));
    }
    if !args.report.quiet {
        let out = match args.report.format {
            OutputFormat::Json => serde_json::to_string_pretty(&audit)? + "\n",
            OutputFormat::Text => {
                let mut shown = audit.report.clone();
                shown.breakdowns.retain(|b| args.report.by.contains(&b.by));
                if !args.report.timeline {
                    shown.timeline = None;
                }
                format!("{}\n{}", render_text(&audit), summary::render_text(&shown))
            }
        };
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(out.as_bytes())?;
        stdout.flush()?;
    }
    Ok(ExitCode::from(audit.verdict.exit_code()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse_codes_classes_and_endings() {
        let t = parse_threshold("1006=5").unwrap();
        assert_eq!(t.key, RateKey::Code(1006));
        assert_eq!(t.max_pct, 5.0);
        assert_eq!(
            parse_threshold("Abnormal=2.5%").unwrap().key,
            RateKey::Ending(Ending::Abnormal)
        );
        assert_eq!(parse_threshold("4xxx=10").unwrap().key, RateKey::Class(4));
        for bad in [
            "1006",
            "1006=",
            "1006=x",
            "999=5",
            "5000=1",
            "abnormal=101",
            "foo=1",
            "7xxx=1",
        ] {
            assert!(parse_threshold(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tiny_or_chance_moves_are_not_changes() {
        // 2.4% -> 7.5% over thousands of sessions: a change.
        assert!(is_change(24, 1000, 75, 1000));
        // 1 of 17 against 1 of 8: ratio 2.1x but chance.
        assert!(!is_change(1, 17, 1, 8));
        // 0.10% -> 0.30%: ratio 3x, significant at 100k, but under half a point.
        assert!(!is_change(100, 100_000, 300, 100_000));
        // 40% -> 50%: significant, 10 points, but only 1.25x.
        assert!(!is_change(4000, 10_000, 5000, 10_000));
        // 3 of 17 against 10 of 15: a change.
        assert!(is_change(3, 17, 10, 15));
    }
}
