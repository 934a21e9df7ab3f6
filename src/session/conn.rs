//! One TCP connection's layers: HTTP/1.1 or HTTP/2 (RFC 8441), in plaintext or TLS.
//!
//! Contract: a [`Conn`] is the [`StreamHandler`] the connection table drives for every
//! connection. The first bytes decide what the connection is: a TLS ClientHello (on any
//! port) makes it a TLS connection whose decrypted bytes feed the same trackers a
//! plaintext connection uses; the HTTP/2 connection preface makes it cleartext h2c
//! ([`H2Sessions`]); anything else goes to the HTTP/1.1 [`Tracker`]. Inside TLS, ALPN
//! `h2` (or the preface) picks [`H2Sessions`], anything else the [`Tracker`]. So the
//! WebSocket stages never know whether their bytes were encrypted, and
//! [`Conn::finish`] adds the TLS facts to the session it produced. A TLS connection
//! that could not be decrypted (no key, an unsupported suite) still produces one row,
//! with ending `undecrypted` and what the handshake showed; one that was decrypted and
//! held no WebSocket produces none. Every TLS connection is counted ([`TlsCount`]).

use std::sync::Arc;

use super::h2::H2Sessions;
use super::tracker::Tracker;
use super::{tcp_end, ConnOutput, Ending, Initiator, Outcome, SessionRecord, TlsCount, TlsInfo};
use crate::h2;
use crate::tcp::{ConnMeta, Dir, Release, StreamHandler};
use crate::tls::{self, Decryption, KeyStore, TlsConn, TlsFacts};
use crate::Side;

enum App {
    /// No byte seen yet.
    Sniff,
    Plain(Tracker),
    H2c(Box<H2Sessions>),
    Tls(Box<TlsApp>),
}

struct TlsApp {
    tls: TlsConn,
    /// The direction that sent the ClientHello.
    client: Dir,
    inner: Inner,
}

/// What runs inside TLS, decided by the first plaintext.
enum Inner {
    Undecided,
    Http1(Tracker),
    H2(Box<H2Sessions>),
}

impl Inner {
    /// Plaintext of `dir`; `alpn_h2`: TLS negotiated ALPN `h2`.
    fn on_data(
        &mut self,
        capture: &Arc<str>,
        alpn_h2: bool,
        client: Dir,
        dir: Dir,
        data: &[u8],
        ts: i64,
    ) {
        if let Inner::Undecided = self {
            let h2 = alpn_h2 || (dir == client && data.len() >= 4 && h2::is_preface_prefix(data));
            *self = if h2 {
                Inner::H2(Box::new(H2Sessions::new(capture.clone(), client)))
            } else {
                Inner::Http1(Tracker::new(capture.clone()))
            };
        }
        match self {
            Inner::Undecided => {}
            Inner::Http1(t) => t.on_data(dir, data, ts),
            Inner::H2(h) => h.feed(side_of(client, dir), data, ts),
        }
    }

    fn on_gap(&mut self, client: Dir, dir: Dir, len: u64, ts: i64) {
        match self {
            Inner::Undecided => {}
            Inner::Http1(t) => t.on_gap(dir, len, ts),
            Inner::H2(h) => h.gap(side_of(client, dir), len, ts),
        }
    }

    fn wants_data(&self) -> bool {
        match self {
            Inner::Undecided => true,
            Inner::Http1(t) => t.wants_data(),
            Inner::H2(h) => h.wants_data(),
        }
    }

    fn finish(self, meta: &ConnMeta) -> ConnOutput {
        match self {
            Inner::Undecided => ConnOutput::default(),
            Inner::Http1(t) => t.finish(meta),
            Inner::H2(h) => h.finish(meta),
        }
    }
}

/// The layers of one connection; see the module docs.
pub struct Conn {
    capture: Arc<str>,
    keys: Arc<KeyStore>,
    app: App,
}

impl Conn {
    pub fn new(capture: Arc<str>, keys: Arc<KeyStore>) -> Conn {
        Conn {
            capture,
            keys,
            app: App::Sniff,
        }
    }

    /// The connection is over (or the capture ended): what it produced.
    pub fn finish(self, meta: &ConnMeta) -> ConnOutput {
        match self.app {
            App::Sniff => ConnOutput::default(),
            App::Plain(t) => t.finish(meta),
            App::H2c(h) => h.finish(meta),
            App::Tls(app) => {
                let TlsApp { tls, client, inner } = *app;
                let facts = tls.facts();
                let info = tls_info(facts);
                let mut out = inner.finish(meta);
                // (A connection the capture ended in the middle of is not called failed.)
                let tcp_ended = meta.first_end.is_some();
                let failed = out.sessions.is_empty() && tcp_ended && tls.handshake_failed();
                out.tls = Some(match facts.decryption {
                    _ if failed => TlsCount::HandshakeFailed(first_fatal(facts)),
                    Decryption::Decrypted => TlsCount::Decrypted,
                    Decryption::NoKey => TlsCount::NoKey,
                    Decryption::Unsupported(_) => TlsCount::Unsupported,
                    Decryption::NoHandshake => TlsCount::NoHandshake,
                });
                if failed {
                    // Not a WebSocket: a TLS handshake that failed (counted, no row).
                    return out;
                }
                for s in &mut out.sessions {
                    s.tls = Some(Box::new(info.clone()));
                    for (name, n) in &facts.anomalies {
                        s.anomalies.push((name, *n));
                    }
                    s.anomalies.sort();
                }
                // Nothing read, and not because the connection carried no WebSocket:
                // no key, an unsupported suite, or decryption that broke off (a damaged
                // record, a gap) before a WebSocket was seen.
                if out.sessions.is_empty()
                    && (facts.decryption != Decryption::Decrypted || tls.impaired())
                {
                    let mut info = info;
                    info.decrypted = info.decrypted.map(|_| false);
                    out.sessions
                        .push(undecrypted(&self.capture, meta, client, facts, info));
                }
                out
            }
        }
    }
}

/// The first fatal alert of a connection, as `fatal <name> by <side>`.
fn first_fatal(f: &TlsFacts) -> Option<String> {
    [(0, "client"), (1, "server")]
        .iter()
        .find_map(|(i, who)| match f.alert[*i] {
            Some((2, desc)) => Some(format!("{} by {who}", tls::alert_name(desc))),
            _ => None,
        })
}

fn tls_info(f: &TlsFacts) -> TlsInfo {
    let alert = |i: usize| {
        f.alert[i]
            .map(|(level, desc)| {
                let level = if level == 2 { "fatal" } else { "warning" };
                format!("{level}: {}", tls::alert_name(desc))
            })
            .or_else(|| {
                (f.unreadable_alerts[i] > 0 && !f.close_notify[i]).then(|| "encrypted".into())
            })
    };
    TlsInfo {
        version: f.version_name(),
        cipher: f.cipher_name(),
        sni: f.sni.clone(),
        alpn: f.alpn.clone(),
        close_notify: f.close_notify,
        alert: [alert(0), alert(1)],
        decrypted: f.decryption.as_bool(),
    }
}

/// The row of a TLS connection that could not be read: its times, how TCP ended, and
/// what the handshake showed.
fn undecrypted(
    capture: &str,
    meta: &ConnMeta,
    cdir: Dir,
    facts: &TlsFacts,
    info: TlsInfo,
) -> SessionRecord {
    let (tcp_end, tcp_end_time) = tcp_end(meta, cdir);
    let mut anomalies: Vec<(&'static str, u32)> =
        facts.anomalies.iter().map(|(k, v)| (*k, *v)).collect();
    if let Decryption::Unsupported(_) = facts.decryption {
        anomalies.push(("tls_unsupported_suite", 1));
    }
    anomalies.sort();
    SessionRecord {
        capture: capture.to_string(),
        source: "capture".into(),
        session_id: String::new(),
        client: meta.addr(cdir),
        server: meta.addr(cdir.other()),
        start_time: meta.start_ts,
        established_time: None,
        end_time: tcp_end_time.unwrap_or(meta.last_ts),
        host: facts.sni.clone(),
        path: None,
        user_agent: None,
        origin: None,
        subprotocol: None,
        extensions: None,
        outcome: Outcome {
            ending: Ending::Undecrypted,
            close_code: None,
            close_reason: None,
            initiator: Initiator::None,
            handshake_completed: false,
            client_observed_code: None,
            server_observed_code: None,
        },
        client_close: None,
        server_close: None,
        closes: Vec::new(),
        tcp_end,
        tcp_end_time,
        last_frame_time: None,
        frames: [0; 2],
        messages: [0; 2],
        bytes: [0; 2],
        pings: [0; 2],
        pongs: [0; 2],
        unanswered_pings: 0,
        permessage_deflate: false,
        gap: meta.gaps > 0,
        midstream: meta.midstream(),
        truncated: meta.snapped_segments > 0,
        limit_hit: meta.buffer_limit_hit || meta.release == Release::Evicted,
        anomalies,
        tls: Some(Box::new(info)),
        http_version: None,
        h2: None,
        websocket_key: None,
    }
}

fn side_of(client: Dir, dir: Dir) -> Side {
    if dir == client {
        Side::Client
    } else {
        Side::Server
    }
}

fn dir_of(client: Dir, side: Side) -> Dir {
    match side {
        Side::Client => client,
        Side::Server => client.other(),
    }
}

impl StreamHandler for Conn {
    fn on_data(&mut self, dir: Dir, data: &[u8], ts: i64) {
        if let App::Sniff = self.app {
            self.app = if tls::looks_like_client_hello(data) {
                App::Tls(Box::new(TlsApp {
                    tls: TlsConn::new(self.keys.clone()),
                    client: dir,
                    inner: Inner::Undecided,
                }))
            } else if data.len() >= 4 && h2::is_preface_prefix(data) {
                App::H2c(Box::new(H2Sessions::new(self.capture.clone(), dir)))
            } else {
                App::Plain(Tracker::new(self.capture.clone()))
            };
        }
        match &mut self.app {
            App::Sniff => {}
            App::Plain(t) => t.on_data(dir, data, ts),
            App::H2c(h) => h.feed(side_of(h.client(), dir), data, ts),
            App::Tls(app) => {
                let TlsApp { tls, client, inner } = &mut **app;
                let client = *client;
                let capture = &self.capture;
                // ALPN is known before the first application data (TLS 1.2's
                // ServerHello, TLS 1.3's EncryptedExtensions).
                let alpn_h2 = tls.facts().alpn.as_deref() == Some("h2");
                tls.feed(side_of(client, dir), data, &mut |side, plain| {
                    inner.on_data(capture, alpn_h2, client, dir_of(client, side), plain, ts)
                });
            }
        }
    }

    fn on_gap(&mut self, dir: Dir, len: u64, ts: i64) {
        match &mut self.app {
            App::Sniff => {}
            App::Plain(t) => t.on_gap(dir, len, ts),
            App::H2c(h) => h.gap(side_of(h.client(), dir), len, ts),
            App::Tls(app) => {
                // A gap inside one record loses that record's plaintext (the layers
                // above skip it, as a gap in a plaintext stream); any other gap stops
                // the direction, and the layers above lose sync.
                match app.tls.gap(side_of(app.client, dir), len) {
                    Some(0) => {}
                    Some(plain) => app.inner.on_gap(app.client, dir, plain, ts),
                    None => app.inner.on_gap(app.client, dir, len, ts),
                }
            }
        }
    }

    fn wants_data(&self) -> bool {
        match &self.app {
            App::Sniff => true,
            App::Plain(t) => t.wants_data(),
            App::H2c(h) => h.wants_data(),
            // Alerts and close_notify are read to the end, while they can be seen.
            // (and not at all once the plaintext is known to carry no WebSocket: such a
            // connection gives no row).
            App::Tls(app) => app.tls.wants_data() && app.inner.wants_data(),
        }
    }
}
