//! The "1006 diagnosis" section of the terminal report, from a [`Diagnosis`].
//!
//! Contract: a short list of paragraphs saying what the numbers mean, every line at most
//! the given width; values from the wire pass through [`crate::text::fit`].

use std::fmt::Write as _;

use crate::analysis::diagnose::{
    fmt_s, Diagnosis, Measure, Quantiles, CLUSTER_MIN_SESSIONS, CLUSTER_TOLERANCE,
};
use crate::text::{fit, fmt_duration, wrap};

fn pct(n: u64, of: u64) -> String {
    if of == 0 {
        "-".into()
    } else {
        format!("{:.0}%", n as f64 * 100.0 / of as f64)
    }
}

fn tcp_end_meaning(e: &str) -> &'static str {
    match e {
        "server_fin" => {
            "the server side closed TCP without a Close frame (process exited or was killed, \
             or a proxy in front of it gave up)"
        }
        "server_rst" => {
            "the server side reset the connection (crash, proxy or firewall timeout, \
             connection limit)"
        }
        "client_fin" => {
            "the client closed TCP without a Close frame (app or tab killed, a library that \
             skips the closing handshake, or a client-side proxy)"
        }
        "client_rst" => {
            "the client reset the connection (process killed, network change, NAT or \
             firewall state lost)"
        }
        "unknown" => "not known (log rows do not say how TCP ended)",
        _ => "no FIN or RST was seen",
    }
}

fn q(v: &Quantiles) -> String {
    let d = |x: Option<f64>| x.map_or_else(|| "-".to_string(), fmt_duration);
    format!("p50 {}, p95 {}, max {}", d(v.p50), d(v.p95), d(v.max))
}

/// Word-wrap `text` as a `- ` bullet, continuation lines indented by two spaces, every
/// line at most `width` columns.
fn bullet(text: &str, width: usize) -> String {
    wrap(text, width, "- ", "  ")
}

/// The "1006 diagnosis" section: a short list of paragraphs saying what the numbers
/// mean, lines at most `width` columns.
pub fn render_diagnosis(d: &Diagnosis, width: usize) -> String {
    let mut o = String::new();
    let head = if d.abnormal == 0 {
        format!(
            "1006 diagnosis: no abnormal sessions of {} (every ended session had a Close frame)",
            d.sessions
        )
    } else {
        format!(
            "1006 diagnosis: {} abnormal session{} of {} ({}): TCP ended without a Close frame",
            d.abnormal,
            if d.abnormal == 1 { "" } else { "s" },
            d.sessions,
            pct(d.abnormal, d.sessions)
        )
    };
    o.push_str(&wrap(&head, width, "", "  "));
    if d.abnormal > 0 {
        let parts: Vec<String> = d
            .tcp_end
            .iter()
            .map(|e| {
                format!(
                    "{} {} ({})",
                    fit(&e.tcp_end, 12),
                    e.sessions,
                    pct(e.sessions, d.abnormal)
                )
            })
            .collect();
        let mut text = format!("Who ended TCP: {}.", parts.join(", "));
        if let Some(top) = d.tcp_end.first() {
            // "Mostly" only for a majority.
            let lead = if d.tcp_end.len() == 1 {
                ""
            } else if top.sessions * 2 > d.abnormal {
                "Mostly "
            } else {
                "No single cause; the largest group, "
            };
            let _ = write!(
                text,
                " {lead}{}: {}.",
                fit(&top.tcp_end, 12),
                tcp_end_meaning(&top.tcp_end)
            );
        }
        o.push_str(&bullet(&text, width));
        if d.proxy_cut_logged > 0 {
            o.push_str(&bullet(
                &format!(
                    "{} of them were cut by a proxy, as its own log says (nginx's error log \
                     `upstream timed out ... while proxying upgraded connection`, HAProxy's \
                     termination state cD/sD): an idle timeout of the proxy, not the client \
                     or the server.",
                    d.proxy_cut_logged
                ),
                width,
            ));
        }
        for c in &d.proxy_cuts {
            o.push_str(&bullet(
                &format!(
                    "A proxy, not the client or the server: {} (see Proxies).",
                    crate::render::proxies::cut_sentence(c)
                ),
                width,
            ));
        }
        if !d.h2_end.is_empty() {
            let n: u64 = d.h2_end.iter().map(|e| e.sessions).sum();
            let parts: Vec<String> = d
                .h2_end
                .iter()
                .map(|e| format!("{} {}", fit(&e.h2_end, 32), e.sessions))
                .collect();
            o.push_str(&bullet(
                &format!(
                    "{n} of them on HTTP/2 streams, which ended by: {} (a stream can end \
                     while its TCP connection carries on).",
                    parts.join(", ")
                ),
                width,
            ));
        }
        o.push_str(&bullet(
            &format!(
                "Idle before the drop: {}. Lifetime: {}.",
                q(&d.idle_before_end_s),
                q(&d.duration_s)
            ),
            width,
        ));
        for c in &d.clusters {
            let what = match c.measure {
                Measure::Idle => format!("ended after {} idle", fmt_s(c.value_s)),
                Measure::Lifetime => format!("ended {} after they started", fmt_s(c.value_s)),
            };
            o.push_str(&bullet(
                &format!(
                    "{} of {} abnormal sessions ({}) {} (±{:.0}%): {}; {}.",
                    c.sessions,
                    c.of,
                    pct(c.sessions, c.of),
                    what,
                    CLUSTER_TOLERANCE * 100.0,
                    c.cause,
                    c.advice
                ),
                width,
            ));
        }
        if d.clusters.is_empty() && d.abnormal >= CLUSTER_MIN_SESSIONS {
            o.push_str(&bullet(
                "No common idle time or lifetime: the drops do not look like one timeout.",
                width,
            ));
        }
        if d.unanswered_ping_sessions > 0 {
            o.push_str(&bullet(
                &format!(
                    "{} abnormal session{} had {} ping{} that no Pong answered before the \
                     drop: the peer or the path was already gone; keep pinging and close \
                     the connection when a Pong is late.",
                    d.unanswered_ping_sessions,
                    if d.unanswered_ping_sessions == 1 {
                        ""
                    } else {
                        "s"
                    },
                    d.unanswered_pings,
                    if d.unanswered_pings == 1 { "" } else { "s" },
                ),
                width,
            ));
        }
    }
    if d.one_sided.sessions > 0 {
        let s = d.one_sided;
        o.push_str(&bullet(
            &format!(
                "{} session{} sent a Close that was never answered (by the client {}, by the \
                 server {}): the peer dropped TCP instead of echoing it; the sender sees its \
                 own code, the peer's library reports 1006.",
                s.sessions,
                if s.sessions == 1 { "" } else { "s" },
                s.by_client,
                s.by_server
            ),
            width,
        ));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bullet_wraps_with_hanging_indent_and_escapes_wire_text() {
        let text = "word ".repeat(50) + "bad\x1b[2Jreason";
        let out = bullet(&text, 30);
        assert!(out.starts_with("- word"));
        assert!(out.lines().skip(1).all(|l| l.starts_with("  ")));
        assert!(out.lines().all(|l| l.chars().count() <= 30), "{out}");
        assert!(!out.contains('\x1b') && out.contains("bad\\x1b[2Jreason"));
    }
}
