//! Text that came off the wire, made safe and short for a terminal.
//!
//! Contract: [`sanitize`] removes every control character (C0, DEL, C1 — so no escape
//! sequence can reach the terminal) by replacing it with a visible `\xNN` / `\u{..}`
//! escape, and [`fit`] cuts a string to a display width with an ellipsis. Times and
//! durations are formatted here too, one way for the whole report, and so are the two
//! layouts every terminal section uses: [`wrap`] for prose (words never split, a number
//! never separated from its unit) and [`Table`] for tables that fit the terminal's
//! width (the name column shrinks, optional columns are dropped).

/// A share (0.0-1.0) as a percentage with one decimal: `0.125` -> `12.5%`.
pub fn pct(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// A duration that may be unknown: [`fmt_duration`], or `-`.
pub fn opt_duration(secs: Option<f64>) -> String {
    secs.map_or_else(|| "-".to_string(), fmt_duration)
}

/// An error and its causes, `outer: inner: innermost` (as `anyhow` prints `{:#}`): what
/// a `wsaudit: ` line says. A cause whose text the message already ends with is said
/// once (polars' I/O errors show their cause and also return it as their source).
pub fn with_causes(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !s.ends_with(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cause = c.source();
    }
    s
}

/// Bidirectional embedding, override and isolate characters (U+202A-U+202E,
/// U+2066-U+2069): invisible, they reorder what follows, so `invoice \u{202e}fdp.exe`
/// shows as `invoice exe.pdf`.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Replace control characters (C0, DEL, C1) and bidirectional controls with visible
/// escapes (`\x1b`, `\u{202e}`).
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || is_bidi_control(c) {
            let v = c as u32;
            if v < 0x100 {
                out.push_str(&format!("\\x{v:02x}"));
            } else {
                out.push_str(&format!("\\u{{{v:x}}}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// For CSV cells: control characters (C0 but tab and line feed, DEL, C1) and
/// bidirectional controls as visible escapes, like [`sanitize`]; tab and line feed stay
/// (a CSV writer quotes them). A cell from the wire cannot set a terminal's title when
/// the file is `cat`-ed (`ESC ] 0 ; ... BEL`), hide text behind a bare carriage return,
/// or reorder what a spreadsheet shows (U+202E). Borrowed when nothing needs escaping.
pub fn escape_for_csv(s: &str) -> std::borrow::Cow<'_, str> {
    let risky = |c: char| (c.is_control() && c != '\t' && c != '\n') || is_bidi_control(c);
    if !s.chars().any(risky) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if risky(c) {
            out.push_str(&sanitize(c.encode_utf8(&mut [0; 4])));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Sanitize and cut to at most `width` characters (with `…` when cut).
pub fn fit(s: &str, width: usize) -> String {
    let s = sanitize(s);
    if s.chars().count() <= width {
        return s;
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Format ns since the epoch as `YYYY-MM-DD HH:MM:SS.mmm` (UTC).
pub fn fmt_time(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let sub = ns.rem_euclid(1_000_000_000) as u32;
    match chrono::DateTime::from_timestamp(secs, sub) {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
        None => format!("{ns}ns"),
    }
}

/// ISO 8601 UTC with nanoseconds, as in the exports.
pub fn iso_time(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let sub = ns.rem_euclid(1_000_000_000) as u32;
    match chrono::DateTime::from_timestamp(secs, sub) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string(),
        None => format!("{ns}ns"),
    }
}

/// Human duration: `850 ms`, `12.4 s`, `3m 07s`, `2h 05m`.
pub fn fmt_duration(secs: f64) -> String {
    if !secs.is_finite() {
        return "-".into();
    }
    if secs < 1.0 {
        format!("{:.0} ms", secs * 1000.0)
    } else if secs < 60.0 {
        format!("{secs:.1} s")
    } else if secs < 3600.0 {
        format!("{}m {:02}s", (secs / 60.0) as u64, (secs % 60.0) as u64)
    } else if secs < 86400.0 * 2.0 {
        format!(
            "{}h {:02}m",
            (secs / 3600.0) as u64,
            ((secs % 3600.0) / 60.0) as u64
        )
    } else {
        format!("{:.1} d", secs / 86400.0)
    }
}

/// Units that never go to the start of a line on their own: `3.8 s` wraps as one word.
const UNITS: &[&str] = &[
    "ns", "us", "µs", "ms", "s", "m", "h", "d", "%", "B", "KiB", "MiB", "GiB", "sessions",
    "session",
];

/// The words of `text` for wrapping: a number and the unit after it are one word.
fn words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in text.split_whitespace() {
        let bare = w.trim_end_matches([',', '.', ';', ':', ')']);
        let glue = out
            .last()
            .is_some_and(|prev| prev.ends_with(|c: char| c.is_ascii_digit()))
            && UNITS.contains(&bare);
        match out.last_mut() {
            Some(prev) if glue => {
                prev.push(' ');
                prev.push_str(w);
            }
            _ => out.push(w.to_string()),
        }
    }
    out
}

/// Word-wrap `text` to lines of at most `width` columns: the first line starts with
/// `first`, the others with `rest`. Words are never split, and a number is never
/// separated from its unit (`max 3.8 s` never ends a line with `3.8`); a word longer than
/// a line is cut with `…`. Text is sanitized ([`sanitize`]).
pub fn wrap(text: &str, width: usize, first: &str, rest: &str) -> String {
    let mut out = String::new();
    let mut line = first.to_string();
    let mut empty = true;
    for word in words(&sanitize(text)) {
        let room = width.saturating_sub(rest.chars().count()).max(8);
        let word = fit(&word, room);
        let len = line.chars().count();
        if !empty && len + 1 + word.chars().count() > width {
            out.push_str(line.trim_end());
            out.push('\n');
            line = rest.to_string();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(&word);
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

/// How a column of a [`Table`] is laid out.
#[derive(Debug, Clone)]
pub struct Column {
    pub head: String,
    /// Right-aligned (numbers) or left-aligned (names).
    pub right: bool,
    /// Width when there is room.
    pub width: usize,
    /// A name column (the first, or a last one of prose) may shrink to this to fit;
    /// value columns are dropped instead.
    pub min: usize,
    /// When the table is too wide, columns with the highest `drop` go first; 0 never.
    pub drop: u8,
}

impl Column {
    /// A left-aligned name column that shrinks from `width` down to `min`.
    pub fn name(head: impl Into<String>, width: usize, min: usize) -> Column {
        Column {
            head: head.into(),
            right: false,
            width,
            min,
            drop: 0,
        }
    }

    /// A right-aligned value column, dropped in order `drop` (0: never) when narrow.
    pub fn num(head: impl Into<String>, width: usize, drop: u8) -> Column {
        Column {
            head: head.into(),
            right: true,
            width,
            min: width,
            drop,
        }
    }
}

/// A table for a terminal of `width` columns: a last name column shrinks first, then the
/// first column (cells cut with `…`), then optional columns are dropped (highest `drop`
/// first) until every line fits. Cells are sanitized. One layout for every table of the
/// report.
#[derive(Debug, Clone)]
pub struct Table {
    pub columns: Vec<Column>,
}

impl Table {
    /// Which columns are kept, and each column's width, for `width`.
    fn layout(&self, width: usize) -> (Vec<bool>, Vec<usize>) {
        let n = self.columns.len();
        let mut keep = vec![true; n];
        let last = n.saturating_sub(1);
        // Only the first column and a left-aligned last one shrink.
        let shrinks = |i: usize| i == 0 || (i == last && !self.columns[i].right);
        loop {
            let mut widths: Vec<usize> = self.columns.iter().map(|c| c.width).collect();
            let total = |widths: &[usize]| -> usize {
                (0..n)
                    .filter(|i| keep[*i])
                    .map(|i| widths[i])
                    .sum::<usize>()
                    + keep.iter().filter(|k| **k).count().saturating_sub(1)
            };
            for i in [last, 0] {
                if !shrinks(i) || !keep[i] {
                    continue;
                }
                let over = total(&widths).saturating_sub(width);
                let min = self.columns[i].min;
                widths[i] = widths[i].saturating_sub(over).max(min);
            }
            if total(&widths) <= width {
                return (keep, widths);
            }
            // Drop the most droppable column still shown.
            let next = self
                .columns
                .iter()
                .enumerate()
                .filter(|(i, c)| keep[*i] && c.drop > 0)
                .max_by_key(|(i, c)| (c.drop, *i));
            match next {
                Some((i, _)) => keep[i] = false,
                None => return (keep, widths),
            }
        }
    }

    /// The header and the rows, each line at most `width` columns when the columns that
    /// are never dropped fit.
    pub fn render(&self, rows: &[Vec<String>], width: usize) -> String {
        let (keep, widths) = self.layout(width);
        let mut out = String::new();
        let mut line = |cells: &mut dyn Iterator<Item = String>| {
            let mut l = String::new();
            for (i, (c, cell)) in self.columns.iter().zip(cells).enumerate() {
                if !keep[i] {
                    continue;
                }
                let w = widths[i];
                let cell = fit(&cell, w);
                if i > 0 {
                    l.push(' ');
                }
                if c.right {
                    l.push_str(&format!("{cell:>w$}"));
                } else {
                    l.push_str(&format!("{cell:<w$}"));
                }
            }
            out.push_str(l.trim_end());
            out.push('\n');
        };
        line(&mut self.columns.iter().map(|c| c.head.clone()));
        for r in rows {
            line(&mut r.iter().cloned());
        }
        out
    }
}

/// A code with its name: `1006 Abnormal Closure`.
pub fn code_label(code: u16) -> String {
    format!("{code} {}", crate::ws::CloseCode::from(code).name())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that says its cause and also returns it as its source, as polars' I/O
    /// errors do.
    #[derive(Debug)]
    struct Repeats(std::io::Error);
    impl std::fmt::Display for Repeats {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}", self.0)
        }
    }
    impl std::error::Error for Repeats {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_cause_is_said_once() {
        let full = || std::io::Error::from_raw_os_error(28);
        let e = anyhow::Error::new(Repeats(full())).context("out.json: cannot write");
        assert_eq!(
            with_causes(e.as_ref()),
            "out.json: cannot write: No space left on device (os error 28)"
        );
        // Different causes are all said, in order.
        let e = anyhow::Error::new(full())
            .context("tmp: cannot create")
            .context("out.csv: cannot write");
        assert_eq!(
            with_causes(e.as_ref()),
            "out.csv: cannot write: tmp: cannot create: No space left on device (os error 28)"
        );
    }

    #[test]
    fn bidi_overrides_are_shown_not_obeyed() {
        assert_eq!(
            sanitize("invoice \u{202e}fdp.exe"),
            "invoice \\u{202e}fdp.exe"
        );
        assert_eq!(sanitize("a\u{2066}b\u{2069}c"), "a\\u{2066}b\\u{2069}c");
        // Right-to-left text itself is not a control: Arabic and Hebrew pass as they are.
        assert_eq!(
            sanitize("\u{05e9}\u{05dc}\u{05d5}\u{05dd}"),
            "\u{05e9}\u{05dc}\u{05d5}\u{05dd}"
        );
        assert!(
            !sanitize("\u{202a}\u{202b}\u{202c}\u{202d}\u{2067}\u{2068}")
                .chars()
                .any(is_bidi_control)
        );
    }

    #[test]
    fn escape_sequences_never_reach_the_terminal() {
        let s = sanitize("bye\x1b[2J\x07\u{9b}31m\r\n");
        assert!(!s.chars().any(|c| c.is_control()), "{s:?}");
        assert_eq!(s, "bye\\x1b[2J\\x07\\x9b31m\\x0d\\x0a");
    }

    #[test]
    fn times_are_iso_with_nanoseconds_and_z() {
        assert_eq!(
            iso_time(1_500_000_000_123_456_789),
            "2017-07-14T02:40:00.123456789Z"
        );
        assert_eq!(iso_time(-1), "1969-12-31T23:59:59.999999999Z");
    }

    #[test]
    fn fit_cuts_with_ellipsis() {
        assert_eq!(fit("déconnecté", 5), "déco…");
        assert_eq!(fit("ok", 5), "ok");
    }
}
