//! What changed since the baseline, worded for a person.
//!
//! Contract: see [`crate::audit`]: a change needs the rate to move by a factor of
//! [`MIN_RATIO`], by [`MIN_POINTS`] points, and beyond chance (|z| >= [`MIN_Z`]); a key
//! never seen in the baseline is always `new`.

use std::fmt::Write as _;

use serde::Serialize;

use crate::analysis::breakdown::GroupBy;
use crate::analysis::diagnose::Measure;
use crate::analysis::summary::Report;
use crate::audit::baseline::Baseline;
use crate::audit::threshold::RateKey;
use crate::audit::{CONCENTRATION_SHARE, MIN_POINTS, MIN_RATIO, MIN_Z};
use crate::session::Ending;
use crate::text::{self, fit, fmt_duration, fmt_time, pct};

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
