//! Text that came off the wire, made safe and short for a terminal.
//!
//! Contract: [`sanitize`] removes every control character (C0, DEL, C1 — so no escape
//! sequence can reach the terminal) by replacing it with a visible `\xNN` / `\u{..}`
//! escape, and [`fit`] cuts a string to a display width with an ellipsis.

/// Replace control characters with visible escapes.
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_never_reach_the_terminal() {
        let s = sanitize("bye\x1b[2J\x07\u{9b}31m\r\n");
        assert!(!s.chars().any(|c| c.is_control()), "{s:?}");
        assert_eq!(s, "bye\\x1b[2J\\x07\\x9b31m\\x0d\\x0a");
    }

    #[test]
    fn fit_cuts_with_ellipsis() {
        assert_eq!(fit("déconnecté", 5), "déco…");
        assert_eq!(fit("ok", 5), "ok");
    }
}
