//! An earlier night, reduced to what the comparison needs: from a session table's
//! report, or from a `--summary` per-code export.
//!
//! Contract: reading the baseline's files is the command's job ([`crate::cmd`]); this
//! module turns what was read into a [`Baseline`].

use std::collections::BTreeMap;

use polars::prelude::*;
use serde::Serialize;

use crate::analysis::summary::Report;
use crate::table::columns::{f64s, u64s};

/// A per-code table that cannot be a baseline.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error(transparent)]
    Table(#[from] PolarsError),
    #[error("{name}: close code {code}")]
    Code {
        name: String,
        code: u64,
        #[source]
        source: std::num::TryFromIntError,
    },
}

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
    /// From the report of a session table (or a capture): every comparison.
    pub fn from_report(name: String, r: Report) -> Baseline {
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
    pub fn from_summary(name: String, df: &DataFrame) -> Result<Baseline, BaselineError> {
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
            let c = u16::try_from(c).map_err(|source| BaselineError::Code {
                name: name.clone(),
                code: c,
                source,
            })?;
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
