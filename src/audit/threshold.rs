//! `--max-rate KEY=PERCENT` thresholds and whether a report breaches them.
//!
//! Contract: a key is a close code (`1006`), a class (`4xxx`) or an ending
//! (`abnormal`); the rate is sessions with that key over all sessions; a threshold is
//! breached when the rate is strictly above the limit.

use serde::Serialize;

use crate::analysis::summary::Report;
use crate::session::Ending;
use crate::text::code_label;

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
