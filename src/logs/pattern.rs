//! `--pattern REGEX`: the application's own text lines about closes, read through the
//! user's regular expression (the text counterpart of `--map`).
//!
//! Contract: a [`LinePattern`] is checked when it is made ([`LinePattern::new`], at
//! argument time): it compiles (the `regex` crate: linear time in the line, no
//! backtracking), it has a named group `code`, and every named group is one of
//! [`GROUPS`] (`code`, `reason`, `time`, `session`, `peer`, `duration`), so a misspelt
//! group is an error, not a field silently left empty. Unnamed groups are allowed.
//!
//! [`LinePattern::parse`] of a line: `None` when the pattern does not match; else the
//! groups go through [`fields::record`], the same rule as JSON lines: a close event when
//! `code` holds a close code (1000-4999, or a library's code name such as `GOING_AWAY`),
//! otherwise [`LineResult::NotClose`] (a matching line with an HTTP status or any other
//! value in `code`, or with `code` not taking part in the match). `time` is read by
//! [`parse_time`](super::parse_time), `duration` as seconds, `peer` as `ip:port`; one of
//! them that cannot be read is a half match naming the group. Records name their format
//! [`SOURCE`] (`pattern`).
//!
//! The reader tries patterns, in the order given, only on lines that no built-in format
//! took (see `super::Parser`).

use regex::Regex;

use super::{fields, LineResult};

/// The `source` of rows read through a pattern.
pub const SOURCE: &str = super::PATTERN_SOURCE;

/// The named groups a pattern may have.
pub const GROUPS: &[&str] = &["code", "reason", "time", "session", "peer", "duration"];

/// Why a `--pattern` value is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("`{pattern}` is not a regular expression: {why}")]
    Compile { pattern: String, why: String },
    #[error(
        "`{0}` has no group named `code`: a pattern must capture the close code, as in \
         `code=(?P<code>\\d+)`"
    )]
    NoCode(String),
    #[error(
        "`{pattern}`: unknown group name `{name}` (the names are code, reason, time, \
         session, peer, duration; use (?:...) for other groups)"
    )]
    UnknownGroup { pattern: String, name: String },
}

/// A checked `--pattern`: the regex and where each of [`GROUPS`] is.
#[derive(Debug, Clone)]
pub struct LinePattern {
    re: Regex,
    /// Capture index of each of [`GROUPS`], in that order.
    at: [Option<usize>; 6],
}

impl LinePattern {
    /// Check and compile a pattern (see the module doc).
    pub fn new(pattern: &str) -> Result<LinePattern, PatternError> {
        let re = Regex::new(pattern).map_err(|e| PatternError::Compile {
            pattern: pattern.to_string(),
            // The regex crate's message spans several lines (the pattern, a caret, the
            // error): keep it, on one line.
            why: e
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        })?;
        let mut at = [None; 6];
        for (i, name) in re.capture_names().enumerate() {
            let Some(name) = name else { continue };
            match GROUPS.iter().position(|g| *g == name) {
                Some(k) => at[k] = Some(i),
                None => {
                    return Err(PatternError::UnknownGroup {
                        pattern: pattern.to_string(),
                        name: name.to_string(),
                    })
                }
            }
        }
        if at[0].is_none() {
            return Err(PatternError::NoCode(pattern.to_string()));
        }
        Ok(LinePattern { re, at })
    }

    /// The pattern as given.
    pub fn as_str(&self) -> &str {
        self.re.as_str()
    }

    /// What this pattern says about `line`: `None` when it does not match.
    pub fn parse(&self, line: &str) -> Option<LineResult> {
        let c = self.re.captures(line)?;
        let group = |k: usize| {
            let m = c.get(self.at[k]?)?;
            Some(fields::Field {
                text: m.as_str().into(),
                from: GROUPS[k],
            })
        };
        let named = fields::Named {
            code: group(0),
            reason: group(1),
            time: group(2),
            session: group(3),
            peer: group(4),
            duration: group(5),
        };
        Some(fields::record(SOURCE, "group", named, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_without_code_or_with_a_misspelt_group_is_refused() {
        let e = LinePattern::new(r"closed reason=(?P<reason>.*)").unwrap_err();
        assert_eq!(
            e,
            PatternError::NoCode(r"closed reason=(?P<reason>.*)".into())
        );
        assert!(e.to_string().contains("no group named `code`"), "{e}");
        let e = LinePattern::new(r"code=(?P<code>\d+) (?P<reson>.*)").unwrap_err();
        assert!(
            matches!(&e, PatternError::UnknownGroup { name, .. } if name == "reson"),
            "{e}"
        );
        let e = LinePattern::new(r"code=(?P<code>\d+").unwrap_err();
        assert!(matches!(e, PatternError::Compile { .. }), "{e}");
        assert!(!e.to_string().contains('\n'), "{e}");
        assert!(LinePattern::new(r"(code)=(?P<code>\d+)").is_ok());
    }

    #[test]
    fn jetty_callback_line_through_a_pattern() {
        let p = LinePattern::new(
            r"^(?P<time>\S+ \S+) .*onWebSocketClose statusCode=(?P<code>\d+) reason=(?P<reason>.*)$",
        )
        .unwrap();
        let l = "2026-11-22 10:00:00.250 INFO [qtp-17] c.e.Chat onWebSocketClose statusCode=1001 reason=Shutdown";
        let Some(LineResult::Record(r)) = p.parse(l) else {
            panic!("{:?}", p.parse(l))
        };
        assert_eq!(r.source, SOURCE);
        assert_eq!(r.close_code, Some(1001));
        assert_eq!(r.close_reason.as_deref(), Some("Shutdown"));
        assert_eq!(r.end_ns, Some(1_795_341_600_250_000_000));
        assert_eq!(p.parse("nothing here"), None);
    }

    #[test]
    fn a_matching_line_with_another_code_is_not_a_close() {
        let p = LinePattern::new(r"status=(?P<code>\S+)(?: sid=(?P<session>\S+))?").unwrap();
        assert_eq!(p.parse("GET /api status=200"), Some(LineResult::NotClose));
        assert_eq!(p.parse("job status=done"), Some(LineResult::NotClose));
        assert!(matches!(
            p.parse("ws status=4001 sid=a"),
            Some(LineResult::Record(r)) if r.close_code == Some(4001) && r.session_id.as_deref() == Some("a")
        ));
        // `code` outside the match: not a close either.
        let q = LinePattern::new(r"disconnected(?: code=(?P<code>\d+))?").unwrap();
        assert_eq!(q.parse("client disconnected"), Some(LineResult::NotClose));
    }
}
