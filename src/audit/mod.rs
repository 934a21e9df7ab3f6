//! The nightly audit's judgement: thresholds, the comparison with a baseline, and the
//! verdict (facts in, verdict out; running it is [`crate::cmd::audit`], showing it
//! [`crate::render`]).
//!
//! Contract:
//! - Input: the [`Report`] that `analyze` and `report` build
//!   ([`crate::analysis::summary::build`]), with the `server` and `path` breakdowns and
//!   the timeline in, and the [`Extras`] for the charts.
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
//! - Change sentences carry wire text (groups, reasons) sanitized for a terminal
//!   ([`crate::text::fit`]); HTML and Markdown escape it again for their medium.

use serde::Serialize;

use crate::analysis::charts::Extras;
use crate::analysis::summary::Report;

mod baseline;
mod changes;
mod threshold;

pub use baseline::{Baseline, BaselineError, BaselineKind};
pub use changes::{compare, is_change, Change, ChangeKind};
pub use threshold::{check, parse_threshold, Check, RateKey, Threshold};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Ending;

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
