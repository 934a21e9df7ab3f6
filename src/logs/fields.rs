//! Named fields to a record: the one piece JSON lines (`--map`) and `--pattern` lines share.
//!
//! Contract: a line reader finds the text of the named fields (`code`, `reason`, `time`,
//! `session`, `peer`, `duration`: a JSON field through the field map, or a `--pattern`
//! group) and [`record`] turns them into the line's outcome, the same way for both:
//!
//! - The line is a close event only when its code is a close code ([`close_code`]: an
//!   integer from 1000 to 4999, or a code name a WebSocket library prints, such as
//!   `GOING_AWAY` or `StatusGoingAway`). Any other number (HTTP statuses 200, 404, 500, a
//!   count, a negative or fractional number) and an absent code make the line a
//!   [`LineResult::NotClose`]: counted, never a row. A code that is neither a number nor a
//!   known name is a half match when the caller says the field was named by the user
//!   (`--map code=...`: the user said this field holds the close code), else not a close.
//! - Of a close event: `time` through [`parse_time`] (RFC 3339, epoch numbers, ...),
//!   `duration` as seconds (a finite number >= 0), `peer` through [`split_peer`]; a value
//!   that cannot be read is a half match naming the field. Empty `reason` and `session`
//!   are absent. Fields of lines that are not close events are not read at all.

use std::borrow::Cow;

use super::text::{CODER_NAMES, WSPROTO_NAMES};
use super::{parse_time, split_peer, LineResult, Record, CLOSE_CODES};

/// What a code field's text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeText {
    /// A close code.
    Close(u16),
    /// A number that is not a close code (an HTTP status, a count, `-1`, `1000.5`).
    OtherNumber,
    /// Neither a number nor a code name.
    Unknown,
}

/// Is this text a close code? An integer in [`CLOSE_CODES`], or a close-code name of
/// wsproto (`GOING_AWAY`, what mitmproxy prints) or coder/websocket
/// (`StatusGoingAway`), in any letter case.
pub fn close_code(text: &str) -> CodeText {
    let t = text.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return match t.parse::<u16>() {
            Ok(k) if CLOSE_CODES.contains(&k) => CodeText::Close(k),
            _ => CodeText::OtherNumber,
        };
    }
    if t.parse::<f64>().is_ok() {
        return CodeText::OtherNumber;
    }
    [&WSPROTO_NAMES, &CODER_NAMES]
        .iter()
        .flat_map(|n| n.table.iter())
        .find(|(name, _)| name.eq_ignore_ascii_case(t))
        .map_or(CodeText::Unknown, |(_, k)| CodeText::Close(*k))
}

/// Can a line whose code field holds `text` be more than a not-close event for
/// [`record`] (a close, or a half match when `unknown_code_is_half`)? A cheap test before
/// the other fields are looked up.
pub fn may_close(text: &str, unknown_code_is_half: bool) -> bool {
    match close_code(text) {
        CodeText::Close(_) => true,
        CodeText::Unknown => unknown_code_is_half,
        CodeText::OtherNumber => false,
    }
}

/// A duration in seconds: a finite number >= 0.
pub fn duration_s(text: &str) -> Option<f64> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|d| d.is_finite() && *d >= 0.0)
}

/// One field's text and where it came from (a JSON path, a group name), for messages.
#[derive(Debug, Clone)]
pub struct Field<'a> {
    pub text: Cow<'a, str>,
    pub from: &'a str,
}

/// The named fields one line holds (absent: `None`).
#[derive(Debug, Clone, Default)]
pub struct Named<'a> {
    pub code: Option<Field<'a>>,
    pub reason: Option<Field<'a>>,
    pub time: Option<Field<'a>>,
    pub session: Option<Field<'a>>,
    pub peer: Option<Field<'a>>,
    pub duration: Option<Field<'a>>,
}

/// At most 30 characters of a value, for messages.
fn short(s: &str) -> String {
    match s.char_indices().nth(30) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

fn text_of(f: Option<Field<'_>>) -> Option<String> {
    f.map(|f| f.text.into_owned()).filter(|s| !s.is_empty())
}

/// The outcome of a line with these fields (see the module doc). `source` names the
/// format in the record, `what` the kind of field in messages (`field`, `group`);
/// `unknown_code_is_half`: a code that is neither a number nor a name is a half match
/// (the user named the field) instead of not a close.
pub fn record(
    source: &'static str,
    what: &str,
    n: Named<'_>,
    unknown_code_is_half: bool,
) -> LineResult {
    let Some(code) = n.code else {
        return LineResult::NotClose;
    };
    let k = match close_code(&code.text) {
        CodeText::Close(k) => k,
        CodeText::Unknown if unknown_code_is_half => {
            return LineResult::Half(format!(
                "{what} `{}`: close code {} is neither a number nor a close code name",
                code.from,
                short(&code.text)
            ))
        }
        CodeText::Unknown | CodeText::OtherNumber => return LineResult::NotClose,
    };
    let mut r = Record::with_code(source, k);
    if let Some(f) = n.duration {
        match duration_s(&f.text) {
            Some(d) => r.duration_s = Some(d),
            None => {
                return LineResult::Half(format!(
                    "{what} `{}`: duration {} is not a number of seconds",
                    f.from,
                    short(&f.text)
                ))
            }
        }
    }
    if let Some(f) = n.time {
        match parse_time(&f.text) {
            Some(t) => r.end_ns = Some(t),
            None => {
                return LineResult::Half(format!(
                    "{what} `{}`: {} is not a time",
                    f.from,
                    short(&f.text)
                ))
            }
        }
    }
    r.close_reason = text_of(n.reason);
    r.session_id = text_of(n.session);
    if let Some(f) = n.peer {
        let (ip, port) = split_peer(&f.text);
        r.client_ip = ip;
        r.client_port = port;
    }
    LineResult::Record(Box::new(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_are_1000_to_4999_or_a_library_name() {
        assert_eq!(close_code("1000"), CodeText::Close(1000));
        assert_eq!(close_code(" 4999 "), CodeText::Close(4999));
        assert_eq!(close_code("1006"), CodeText::Close(1006));
        for http in ["200", "404", "500", "101", "999", "5000", "70000", "-1006"] {
            assert_eq!(close_code(http), CodeText::OtherNumber, "{http}");
        }
        assert_eq!(close_code("99999999999999999999999"), CodeText::OtherNumber);
        assert_eq!(close_code("1000.5"), CodeText::OtherNumber);
        assert_eq!(close_code("GOING_AWAY"), CodeText::Close(1001));
        assert_eq!(close_code("going_away"), CodeText::Close(1001));
        assert_eq!(close_code("StatusTryAgainLater"), CodeText::Close(1013));
        assert_eq!(close_code("ECONNRESET"), CodeText::Unknown);
        assert_eq!(close_code(""), CodeText::Unknown);
    }

    fn f(text: &str) -> Option<Field<'_>> {
        Some(Field {
            text: text.into(),
            from: "x",
        })
    }

    #[test]
    fn http_status_is_not_a_close_and_its_fields_are_not_read() {
        let n = Named {
            code: f("200"),
            time: f("not a time"),
            ..Default::default()
        };
        assert_eq!(record("json", "field", n, true), LineResult::NotClose);
    }

    #[test]
    fn a_close_reads_every_field() {
        let n = Named {
            code: f("1011"),
            reason: f("boom"),
            time: f("2026-11-22T10:00:00Z"),
            session: f(""),
            peer: f("[::1]:443"),
            duration: f("1.5"),
        };
        let LineResult::Record(r) = record("pattern", "group", n, false) else {
            panic!()
        };
        assert_eq!(r.close_code, Some(1011));
        assert_eq!(r.close_reason.as_deref(), Some("boom"));
        assert_eq!(r.end_ns, Some(1_795_341_600_000_000_000));
        assert_eq!(r.session_id, None);
        assert_eq!(
            (r.client_ip.as_deref(), r.client_port),
            (Some("::1"), Some(443))
        );
        assert_eq!(r.duration_s, Some(1.5));
        let bad = Named {
            code: f("1000"),
            duration: f("-3"),
            ..Default::default()
        };
        assert!(
            matches!(record("pattern", "group", bad, false), LineResult::Half(m) if m.contains("group `x`: duration -3"))
        );
    }

    #[test]
    fn an_unknown_code_is_half_only_when_the_user_named_the_field() {
        let n = || Named {
            code: f("n/a"),
            ..Default::default()
        };
        assert!(matches!(
            record("json", "field", n(), true),
            LineResult::Half(_)
        ));
        assert_eq!(record("json", "field", n(), false), LineResult::NotClose);
        assert_eq!(
            record("json", "field", Named::default(), true),
            LineResult::NotClose
        );
    }
}
