//! The "Proxies" section of the terminal report, and the sentence that names a proxy's
//! cut (also used by the 1006 diagnosis and the Markdown and HTML pages).
//!
//! Contract: from a [`Proxies`] (and [`Cut`]) only; every line at most the given width;
//! addresses and capture names pass through [`crate::text::fit`].

use std::fmt::Write as _;

use crate::analysis::diagnose::fmt_s;
use crate::analysis::proxies::{Cut, Proxies, Skew};
use crate::text::{fit, wrap};

/// "the proxy 10.0.0.5:443 closed both legs of 38 sessions after 60.0 s idle, with no
/// Close frame (FIN to the client, RST to the server)".
pub fn cut_sentence(c: &Cut) -> String {
    let n = c.sessions;
    let s = if n == 1 { "" } else { "s" };
    let how = format!(
        "with no Close frame ({} to the client, {} to the server)",
        c.to_client, c.to_server
    );
    if c.kind == "idle" {
        format!(
            "the proxy {} closed both legs of {n} session{s} after {} idle, {how}",
            fit(&c.proxy, 48),
            fmt_s(c.idle_s)
        )
    } else {
        format!(
            "the proxy {} closed both legs of {n} session{s} while traffic was flowing \
             ({} idle, lifetime {}), {how}: a reload, a shutdown or a lifetime limit",
            fit(&c.proxy, 48),
            fmt_s(c.idle_s),
            fmt_s(c.duration_s)
        )
    }
}

/// "capture b.pcap's clock is 1.500 s ahead of a.pcap's (14 paired handshakes)".
pub fn skew_sentence(s: &Skew) -> String {
    let (word, v) = if s.skew_s >= 0.0 {
        ("ahead of", s.skew_s)
    } else {
        ("behind", -s.skew_s)
    };
    format!(
        "{}'s clock is {v:.3} s {word} {}'s ({} paired handshake{}); taken out before comparing \
         the legs' ends",
        fit(&s.upstream_capture, 40),
        fit(&s.downstream_capture, 40),
        s.pairs,
        if s.pairs == 1 { "" } else { "s" }
    )
}

/// The section's first line.
pub fn head(p: &Proxies) -> String {
    format!(
        "Proxies: {} session{} seen on both sides of {} prox{} (each counted once above; per leg: \
         codes_per_leg in --format json, the pairs: --proxies PATH)",
        p.paired_sessions,
        if p.paired_sessions == 1 { "" } else { "s" },
        p.proxies.len(),
        if p.proxies.len() == 1 { "y" } else { "ies" }
    )
}

/// The bullets after the table: cuts, rewritten codes, skews, unpaired legs.
pub fn notes(p: &Proxies) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for c in &p.cuts {
        let mut t = cut_sentence(c);
        t[..1].make_ascii_uppercase();
        v.push(t + ".");
    }
    let rewritten: Vec<_> = p.pairs.iter().filter(|x| x.code_rewritten).collect();
    if !rewritten.is_empty() {
        let code = |c: Option<u16>| c.map_or_else(|| "none".to_string(), |c| c.to_string());
        let mut seen: std::collections::BTreeMap<(String, String), u64> = Default::default();
        for x in &rewritten {
            *seen
                .entry((code(x.server_sent_code), code(x.client_received_code)))
                .or_insert(0) += 1;
        }
        let parts: Vec<String> = seen
            .iter()
            .map(|((a, b), n)| format!("server sent {a}, client got {b} ({n})"))
            .collect();
        v.push(format!(
            "Close codes changed on the way in {} session{}: {}.",
            rewritten.len(),
            if rewritten.len() == 1 { "" } else { "s" },
            parts.join("; ")
        ));
    }
    let own = p
        .pairs
        .iter()
        .filter(|x| x.proxy_close_to.is_some())
        .count();
    if own > 0 {
        v.push(format!(
            "The proxy sent a Close of its own (one the other end never sent) in {own} session{}.",
            if own == 1 { "" } else { "s" }
        ));
    }
    let forbidden = p.pairs.iter().filter(|x| x.forbidden_code_on_wire).count();
    if forbidden > 0 {
        v.push(format!(
            "{forbidden} session{} had 1006 or 1015 on the wire (RFC 6455 7.4.1 forbids \
             sending them).",
            if forbidden == 1 { "" } else { "s" }
        ));
    }
    for s in &p.skews {
        let mut t = skew_sentence(s);
        t.push('.');
        v.push(t);
    }
    if p.unpaired_legs > 0 {
        v.push(format!(
            "{} leg{} in these captures had no partner (the other leg was not captured).",
            p.unpaired_legs,
            if p.unpaired_legs == 1 { "" } else { "s" }
        ));
    }
    v
}

/// The section, lines at most `width` columns; empty when nothing was paired.
pub fn render_proxies(p: &Proxies, width: usize) -> String {
    let mut o = String::new();
    if !p.any() {
        return o;
    }
    o.push_str(&wrap(&head(p), width, "", "  "));
    let _ = writeln!(
        o,
        "{:<30} {:>8} {:>9} {:>11} {:>9} {:>9}",
        "Proxy", "Sessions", "Idle cuts", "Active cuts", "Rewritten", "Own Close"
    );
    for r in &p.proxies {
        let _ = writeln!(
            o,
            "{:<30} {:>8} {:>9} {:>11} {:>9} {:>9}",
            fit(&r.proxy, 30),
            r.sessions,
            r.cuts_idle,
            r.cuts_active,
            r.codes_rewritten,
            r.proxy_closes
        );
    }
    for n in notes(p) {
        o.push_str(&wrap(&n, width, "- ", "  "));
    }
    o
}
