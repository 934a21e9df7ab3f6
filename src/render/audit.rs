//! The audit's verdict, thresholds, changes and errors, for the terminal.
//!
//! Contract: printed before the report; names and errors through [`crate::text::fit`].

use std::fmt::Write as _;

use crate::audit::{Audit, Check, MIN_POINTS, MIN_RATIO};
use crate::text::fit;

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
