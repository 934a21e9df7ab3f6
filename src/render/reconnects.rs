//! The "Reconnects" section of the terminal report.
//!
//! Contract: the per-code table (codes followed by reconnects, and those where
//! reconnecting matters) and the flags (storms, no backoff, never came back), lines at
//! most the style's width, client and server names through [`crate::text::fit`].

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::analysis::reconnect::{ReconnectFlags, ReconnectRow, NO_BACKOFF_S};
use crate::render::Style;
use crate::text::{code_label, fit, fmt_duration, fmt_time, opt_duration, wrap, Column, Table};

fn ip(v: &Option<String>) -> String {
    fit(v.as_deref().unwrap_or("?"), 40)
}

/// At most this many examples per flag in the terminal.
const EXAMPLES: usize = 3;

/// The "Reconnects" section: the per-code rows (of
/// [`reconnect_by_code`](crate::analysis::reconnect::reconnect_by_code)) for codes that
/// were followed by reconnects or where reconnecting matters
/// ([`ReconnectRow::worth_showing`]), at
/// most `style.top` of them, and the flags; lines at most `style.width` columns.
/// `window_s` is the window the reconnects were matched in.
pub fn render_reconnects(
    by_code: &[ReconnectRow],
    flags: &ReconnectFlags,
    window_s: f64,
    style: &Style,
) -> String {
    let mut o = String::new();
    o.push_str(&wrap(
        &format!(
            "Reconnects (same client to the same server, host and path within {})",
            fmt_duration(window_s)
        ),
        style.width,
        "",
        "  ",
    ));
    let shown: Vec<&ReconnectRow> = by_code.iter().filter(|x| x.worth_showing()).collect();
    if by_code.is_empty() {
        let _ = writeln!(o, "No ended sessions.");
    } else if shown.is_empty() {
        let _ = writeln!(o, "No session was followed by a reconnect.");
    } else {
        let table = Table {
            columns: vec![
                Column::name("Close code", 32, 16),
                Column::num("Ended", 8, 0),
                Column::num("Reconnected", 11, 0),
                Column::num("Rate", 7, 0),
                Column::num("Delay p50", 10, 0),
                Column::num("Delay p95", 10, 1),
            ],
        };
        let mut rows: Vec<Vec<String>> = shown
            .iter()
            .take(style.top)
            .map(|x| {
                vec![
                    x.close_code
                        .map_or_else(|| "(no code)".to_string(), code_label),
                    x.sessions.to_string(),
                    x.reconnected.to_string(),
                    format!("{:.1}%", x.reconnect_rate * 100.0),
                    opt_duration(x.delay_p50_s),
                    opt_duration(x.delay_p95_s),
                ]
            })
            .collect();
        if shown.len() > style.top {
            let rest = &shown[style.top..];
            let ended: u64 = rest.iter().map(|x| x.sessions).sum();
            let back: u64 = rest.iter().map(|x| x.reconnected).sum();
            rows.push(vec![
                format!("({} other codes)", rest.len()),
                ended.to_string(),
                back.to_string(),
                format!("{:.1}%", back as f64 * 100.0 / ended.max(1) as f64),
                "-".into(),
                "-".into(),
            ]);
        }
        o.push_str(&table.render(&rows, style.width));
    }
    for s in &flags.storms {
        let codes: Vec<String> = s.codes.iter().map(u16::to_string).collect();
        let _ = writeln!(
            o,
            "- Reconnect storm: {} of {} clients whose sessions ended at {} (codes {})",
            s.clients_reconnected,
            s.clients_closed,
            fmt_time(s.closed_second),
            fit(&codes.join(", "), 20),
        );
        let _ = writeln!(
            o,
            "  reconnected within {} of each other: add random jitter to reconnect delays.",
            fmt_duration((s.reconnect_to - s.reconnect_from) as f64 / 1e9)
        );
    }
    if !flags.no_backoff.is_empty() {
        let clients: BTreeSet<&str> = flags
            .no_backoff
            .iter()
            .filter_map(|f| f.client_ip.as_deref())
            .collect();
        let _ = writeln!(
            o,
            "- No backoff: {} reconnect{} within {} after 1001/1006 ({} client{}); e.g.:",
            flags.no_backoff.len(),
            if flags.no_backoff.len() == 1 { "" } else { "s" },
            fmt_duration(NO_BACKOFF_S),
            clients.len(),
            if clients.len() == 1 { "" } else { "s" },
        );
        for f in flags.no_backoff.iter().take(EXAMPLES) {
            let _ = writeln!(
                o,
                "    {} after {} in {}",
                ip(&f.client_ip),
                f.close_code,
                fmt_duration(f.reconnect_delay_s)
            );
        }
        let _ = writeln!(
            o,
            "  Reconnect with exponential backoff and jitter, or a failing server is hammered."
        );
    }
    if !flags.never_came_back.is_empty() {
        let _ = writeln!(
            o,
            "- Never came back after 1012 Service Restart: {} session{}; e.g.:",
            flags.never_came_back.len(),
            if flags.never_came_back.len() == 1 {
                ""
            } else {
                "s"
            },
        );
        for f in flags.never_came_back.iter().take(EXAMPLES) {
            let seen = match f.observed_after_s {
                Some(s) if s < window_s => {
                    format!(
                        " (data ends {} later: may have come back after)",
                        fmt_duration(s)
                    )
                }
                _ => String::new(),
            };
            let _ = writeln!(o, "    {}{}", ip(&f.client_ip), seen);
        }
        let _ = writeln!(
            o,
            "  1012 means \"reconnect after a short delay\": check these clients' reconnect logic."
        );
    }
    o
}
