//! One HTTP/2 connection's WebSockets (RFC 8441): one session per extended CONNECT
//! stream.
//!
//! Contract: an [`H2Sessions`] is fed a connection's plaintext (cleartext h2c, or what
//! TLS decrypted) per side, runs it through [`crate::h2::H2Conn`], and keeps one
//! [`WsStream`] per `:protocol websocket` stream the server answered with a 2xx (any
//! other status is a [`RefusedUpgrade`], as a non-101 answer is for HTTP/1.1). A
//! stream's DATA feeds the same WebSocket decoder HTTP/1.1 uses, so its ending follows
//! the same rules: a stream that ends without a Close frame (RST_STREAM, both
//! END_STREAMs, a GOAWAY then TCP's end, TLS or TCP ending first) is `abnormal` (1006),
//! and how the stream ended is kept in `h2_end`. Memory: at most
//! [`crate::h2::MAX_TRACKED_STREAMS`] open streams (the h2 stage's cap) and
//! [`MAX_FINISHED`] finished sessions per connection; the rest are counted as an
//! anomaly on the connection's sessions.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::stream::{Carrier, WsStream};
use super::{tcp_end, ConnOutput, H2Info, RefusedUpgrade, SessionRecord};
use crate::h2::{error_code_name, H2Conn, H2Event};
use crate::http::{self, Request};
use crate::tcp::{ConnMeta, Dir, Release};
use crate::Side;

/// Finished sessions one connection keeps until it ends (a million streams on one
/// connection must not hold a million records).
pub const MAX_FINISHED: usize = 4096;

struct Stream {
    id: u32,
    request: Request,
    opened: i64,
    ws: Option<Box<WsStream>>,
    end_stream: [bool; 2],
    /// How and when the stream ended at the HTTP/2 layer.
    end: Option<(String, i64)>,
    anomalies: BTreeMap<&'static str, u32>,
}

/// The WebSockets of one HTTP/2 connection; see the module docs.
pub struct H2Sessions {
    conn: H2Conn,
    st: State,
}

/// Everything but the frame layer, so that its events can be taken as they come.
struct State {
    capture: Arc<str>,
    /// The TCP direction of the client.
    client: Dir,
    open: BTreeMap<u32, Stream>,
    finished: Vec<Stream>,
    dropped: u32,
    refused: Vec<RefusedUpgrade>,
    /// The first GOAWAY: (`goaway <ERROR> last_stream_id=<n> by <side>`, time).
    goaway: Option<(String, i64)>,
    order: u64,
    /// Anomalies on no tracked stream: added to every session of the connection.
    conn_anomalies: BTreeMap<&'static str, u32>,
}

/// An HTTP/2 error code by its RFC 9113 name, or `0x..` when unknown.
fn code_name(code: u32) -> String {
    error_code_name(code)
        .map(str::to_string)
        .unwrap_or_else(|| format!("0x{code:x}"))
}

impl H2Sessions {
    pub fn new(capture: Arc<str>, client: Dir) -> H2Sessions {
        H2Sessions {
            conn: H2Conn::new(),
            st: State {
                capture,
                client,
                open: BTreeMap::new(),
                finished: Vec::new(),
                dropped: 0,
                refused: Vec::new(),
                goaway: None,
                order: 0,
                conn_anomalies: BTreeMap::new(),
            },
        }
    }

    /// `side`'s next plaintext bytes, delivered at `ts`.
    pub fn feed(&mut self, side: Side, data: &[u8], ts: i64) {
        let st = &mut self.st;
        // DATA pieces borrow `data` and go to the WebSocket decoder at once.
        self.conn.feed(side, data, &mut |ev| st.event(ev, ts));
    }

    /// Bytes of `side` were never captured.
    pub fn gap(&mut self, side: Side, len: u64, ts: i64) {
        let st = &mut self.st;
        self.conn.gap(side, &mut |ev| st.event(ev, ts));
        st.order += 1;
        for s in st.open.values_mut() {
            if let Some(ws) = s.ws.as_mut() {
                ws.gap(side.index(), len, ts, st.order);
            }
        }
    }

    /// The TCP direction of the client.
    pub fn client(&self) -> Dir {
        self.st.client
    }

    /// Whether bytes are still wanted.
    pub fn wants_data(&self) -> bool {
        !(self.conn.is_dead(Side::Client) && self.conn.is_dead(Side::Server))
    }

    /// The connection is over: one session per WebSocket stream, in stream order.
    pub fn finish(self, meta: &ConnMeta) -> ConnOutput {
        self.st.finish(meta)
    }
}

impl State {
    fn finish_stream(&mut self, id: u32) {
        if let Some(s) = self.open.remove(&id) {
            if s.ws.is_none() {
                return;
            }
            if self.finished.len() < MAX_FINISHED {
                self.finished.push(s);
            } else {
                self.dropped += 1;
            }
        }
    }

    fn event(&mut self, ev: H2Event<'_>, ts: i64) {
        match ev {
            H2Event::Request {
                stream,
                head,
                protocol,
                ..
            } => {
                let ws = protocol
                    .as_deref()
                    .is_some_and(|p| p.eq_ignore_ascii_case("websocket"));
                if ws && self.open.len() < crate::h2::MAX_TRACKED_STREAMS {
                    self.open.insert(
                        stream,
                        Stream {
                            id: stream,
                            request: *head,
                            opened: ts,
                            ws: None,
                            end_stream: [false; 2],
                            end: None,
                            anomalies: BTreeMap::new(),
                        },
                    );
                }
            }
            H2Event::Response { stream, head, .. } => {
                let Some(s) = self.open.get_mut(&stream) else {
                    return;
                };
                if (200..300).contains(&head.status) {
                    let deflate = http::has_permessage_deflate(head.headers.extensions.as_deref());
                    s.ws = Some(Box::new(WsStream::new(
                        s.request.clone(),
                        *head,
                        ts,
                        deflate,
                    )));
                } else if head.status >= 200 {
                    let s = self.open.remove(&stream).expect("just found");
                    self.refused.push(RefusedUpgrade {
                        capture: self.capture.to_string(),
                        client: std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
                        server: std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
                        time: ts,
                        status: head.status,
                        // HTTP/2 has no reason phrase: the standard one, so a refusal
                        // groups with the same status over HTTP/1.1.
                        reason: http::reason_phrase(head.status).to_string(),
                        host: s.request.headers.host.clone(),
                        path: Some(s.request.target.clone()),
                        user_agent: s.request.headers.user_agent.clone(),
                    });
                }
            }
            H2Event::Data {
                side,
                stream,
                data,
                end_stream,
            } => {
                self.order += 1;
                let order = self.order;
                let Some(s) = self.open.get_mut(&stream) else {
                    return;
                };
                if let Some(ws) = s.ws.as_mut() {
                    ws.feed(side.index(), data, ts, order);
                }
                if end_stream {
                    s.end_stream[side.index()] = true;
                    if s.end_stream == [true; 2] {
                        s.end = Some(("end_stream".into(), ts));
                        self.finish_stream(stream);
                    }
                }
            }
            H2Event::RstStream {
                side,
                stream,
                error_code,
            } => {
                if let Some(s) = self.open.get_mut(&stream) {
                    s.end = Some((
                        format!("rst_stream {} by {}", code_name(error_code), side.as_str()),
                        ts,
                    ));
                    self.finish_stream(stream);
                }
            }
            H2Event::GoAway {
                side,
                last_stream_id,
                error_code,
            } => {
                if self.goaway.is_none() {
                    self.goaway = Some((
                        format!(
                            "goaway {} last_stream_id={last_stream_id} by {}",
                            code_name(error_code),
                            side.as_str()
                        ),
                        ts,
                    ));
                }
            }
            H2Event::Anomaly { stream, name, .. } => {
                match stream.and_then(|id| self.open.get_mut(&id)) {
                    Some(s) => *s.anomalies.entry(name).or_insert(0) += 1,
                    None => *self.conn_anomalies.entry(name).or_insert(0) += 1,
                }
            }
            H2Event::Settings { .. } => {}
        }
    }

    fn finish(mut self, meta: &ConnMeta) -> ConnOutput {
        let cdir = self.client;
        let client = meta.addr(cdir);
        let server = meta.addr(cdir.other());
        let tcp_ended = meta.first_end.is_some() && meta.release != Release::Evicted;
        let (tcp_end, tcp_end_time) = tcp_end(meta, cdir);
        if self.dropped > 0 {
            *self
                .conn_anomalies
                .entry("h2_sessions_dropped")
                .or_insert(0) += self.dropped;
        }
        let mut streams = std::mem::take(&mut self.finished);
        streams.extend(std::mem::take(&mut self.open).into_values());
        streams.retain(|s| s.ws.is_some());
        streams.sort_by_key(|s| s.id);
        let mut sessions = Vec::with_capacity(streams.len());
        for mut s in streams {
            let Some(ws) = s.ws.take() else { continue };
            // A GOAWAY names how an open stream's connection went away, if TCP ended
            // after it.
            let end = s.end.clone().or_else(|| {
                self.goaway
                    .clone()
                    .filter(|_| tcp_ended || meta.release == Release::Evicted)
            });
            let stream_ended = s.end.is_some();
            let end_time = match &s.end {
                Some((_, t)) => *t,
                None => tcp_end_time.unwrap_or(meta.last_ts),
            };
            let carrier = Carrier {
                capture: &self.capture,
                client,
                server,
                start_time: s.opened,
                ended: stream_ended || tcp_ended,
                end_time,
                tcp_end,
                tcp_end_time,
                gap: meta.gaps > 0,
                midstream: meta.midstream(),
                truncated: meta.snapped_segments > 0,
                limit_hit: meta.buffer_limit_hit || meta.release == Release::Evicted,
            };
            let mut extra = self.conn_anomalies.clone();
            for (k, v) in &s.anomalies {
                *extra.entry(k).or_insert(0) += v;
            }
            self.order += 2;
            let mut r: SessionRecord = ws.record(&carrier, meta.last_ts, self.order, &extra);
            r.http_version = Some("2");
            r.h2 = Some(H2Info {
                stream_id: s.id,
                end: end.map(|(e, _)| e),
            });
            sessions.push(r);
        }
        for r in &mut self.refused {
            r.client = client;
            r.server = server;
        }
        ConnOutput {
            sessions,
            refused: self.refused,
            oversized_head: false,
            tls: None,
        }
    }
}
