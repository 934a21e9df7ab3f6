//! One TCP connection's application layer: HTTP upgrade, then WebSocket frames.
//!
//! Contract: a [`Tracker`] is the [`StreamHandler`] of one connection. It reads the HTTP
//! request and response heads (buffering at most [`http::MAX_HEAD`] bytes per
//! direction), decides which side is the client (the one that sent the request), and
//! after a `101` hands each direction to a [`DirectionDecoder`]. Plain HTTP and anything
//! that is not HTTP make it stop asking for data. Upgrades answered with another status
//! become [`RefusedUpgrade`]s. [`Tracker::finish`] turns what it saw plus the TCP facts
//! into a [`SessionRecord`] (classified by [`super::classify`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{
    classify, CloseFrame, Initiator, RefusedUpgrade, SessionRecord, TcpEnd, CLIENT, SERVER,
};
use crate::http::{self, Request, Response};
use crate::tcp::{ConnMeta, Dir, EndKind, Release, StreamHandler};
use crate::ws::{DirectionDecoder, WsEvent};
use crate::Side;

/// Close frames kept per session for the close table (the first of each side is always
/// kept; the rest are rare and only counted as anomalies).
const MAX_CLOSES_KEPT: usize = 8;

enum Phase {
    Http,
    WebSocket(Box<WsState>),
    Ignored,
}

struct WsState {
    request: Request,
    response: Response,
    established: i64,
    /// Indexed by [`CLIENT`] / [`SERVER`].
    dec: [DirectionDecoder; 2],
    events: Vec<WsEvent>,
    closes: Vec<(Initiator, CloseFrame)>,
    first_close: [Option<CloseFrame>; 2],
    /// Pings sent by each side not yet answered by a Pong from the other.
    pending_pings: [u64; 2],
}

/// The application state of one connection; see the module docs.
pub struct Tracker {
    capture: Arc<str>,
    phase: Phase,
    client: Option<Dir>,
    /// HTTP-phase bytes not yet consumed, per [`Dir`].
    buf: [Vec<u8>; 2],
    /// Body bytes of a refused upgrade's response still to skip.
    skip_server: u64,
    /// The upgrade request waiting for its response (boxed: most connections never
    /// have one, and the table's memory bound counts every byte of a connection).
    pending: Option<Box<(Request, i64)>>,
    refused: Vec<RefusedUpgrade>,
    anomalies: BTreeMap<&'static str, u32>,
    /// Delivery counter, to order events from the two directions.
    order: u64,
    /// Part of a handshake head was never captured (snaplen or loss).
    head_cut: bool,
    /// An HTTP head outgrew the cap ([`http::MAX_HEAD`]) and the connection was ignored.
    oversized_head: bool,
}

/// What one connection produced.
#[derive(Debug, Default)]
pub struct ConnOutput {
    pub session: Option<SessionRecord>,
    pub refused: Vec<RefusedUpgrade>,
    /// An HTTP head outgrew the cap, so whatever it was (an upgrade or not) was not
    /// read: counted per capture, since no session row can carry it.
    pub oversized_head: bool,
}

impl Tracker {
    pub fn new(capture: Arc<str>) -> Self {
        Tracker {
            capture,
            phase: Phase::Http,
            client: None,
            buf: [Vec::new(), Vec::new()],
            skip_server: 0,
            pending: None,
            refused: Vec::new(),
            anomalies: BTreeMap::new(),
            order: 0,
            head_cut: false,
            oversized_head: false,
        }
    }

    fn take_request(&mut self) -> Option<Request> {
        self.pending.take().map(|p| p.0)
    }

    fn anomaly(&mut self, name: &'static str) {
        *self.anomalies.entry(name).or_insert(0) += 1;
    }

    fn ignore(&mut self) {
        self.phase = Phase::Ignored;
        self.buf = [Vec::new(), Vec::new()];
    }

    fn side(&self, dir: Dir) -> usize {
        if Some(dir) == self.client {
            CLIENT
        } else {
            SERVER
        }
    }

    /// Consume complete heads from the HTTP-phase buffers.
    fn advance_http(&mut self, ts: i64) {
        let Some(cdir) = self.client else { return };
        let sdir = cdir.other();
        loop {
            if self.pending.is_none() {
                let cbuf = &self.buf[cdir as usize];
                // A head longer than the cap is ignored also when it arrived whole (one
                // segment can carry 64 KiB on loopback).
                let Some(n) = http::head_len(cbuf).filter(|n| *n <= http::MAX_HEAD) else {
                    if cbuf.len() > http::MAX_HEAD {
                        self.oversized_head = true;
                        self.ignore();
                    }
                    return;
                };
                let Ok(req) = http::parse_request(&cbuf[..n]) else {
                    self.ignore();
                    return;
                };
                if !req.is_websocket_upgrade() {
                    // Plain HTTP is passed over.
                    self.ignore();
                    return;
                }
                self.buf[cdir as usize].drain(..n);
                self.pending = Some(Box::new((req, ts)));
            }
            // Skip the body of a refused upgrade's response.
            if self.skip_server > 0 {
                let sbuf = &mut self.buf[sdir as usize];
                let n = (self.skip_server as usize).min(sbuf.len());
                sbuf.drain(..n);
                self.skip_server -= n as u64;
                if self.skip_server > 0 {
                    return;
                }
            }
            let sbuf = &self.buf[sdir as usize];
            let Some(n) = http::head_len(sbuf).filter(|n| *n <= http::MAX_HEAD) else {
                if sbuf.len() > http::MAX_HEAD {
                    self.oversized_head = true;
                    self.ignore();
                } else if !sbuf.is_empty() && !http::looks_like_response(sbuf) {
                    self.ignore();
                }
                return;
            };
            let Ok(resp) = http::parse_response(&sbuf[..n]) else {
                self.ignore();
                return;
            };
            self.buf[sdir as usize].drain(..n);
            if resp.status == 101 {
                let Some(request) = self.take_request() else {
                    return;
                };
                self.establish(request, resp, ts);
                return;
            }
            if (100..200).contains(&resp.status) {
                // 100 Continue and friends: the real answer follows.
                continue;
            }
            let Some(request) = self.take_request() else {
                return;
            };
            self.refuse(&request, resp.status, resp.reason.clone(), ts);
            match resp.headers.content_length {
                Some(len) => self.skip_server = len,
                None if resp.headers.chunked || !matches!(resp.status, 204 | 304) => {
                    // The body runs until the connection closes (or is chunked, which
                    // we do not walk): nothing more to learn here.
                    self.ignore();
                    return;
                }
                None => {}
            }
        }
    }

    /// A hole in a handshake head (snaplen cut, lost segment). If what was captured
    /// shows a GET and then a `101`, the session is tracked anyway (flagged
    /// `handshake_not_captured`), with the frames taken to start after the hole.
    fn http_gap(&mut self, dir: Dir, ts: i64) {
        let Some(cdir) = self.client else {
            self.ignore();
            return;
        };
        let d = dir as usize;
        if dir == cdir && self.pending.is_none() && http::head_len(&self.buf[d]).is_none() {
            if let Some(req) = http::partial_request(&self.buf[d]) {
                self.buf[d].clear();
                self.head_cut = true;
                self.pending = Some(Box::new((req, ts)));
                return;
            }
        } else if dir != cdir
            && self.pending.is_some()
            && self.skip_server == 0
            && http::head_len(&self.buf[d]).is_none()
        {
            if let Some(status) = http::partial_status(&self.buf[d]) {
                self.buf[d].clear();
                self.head_cut = true;
                let Some(request) = self.take_request() else {
                    return;
                };
                if status == 101 {
                    let response = Response {
                        status,
                        ..Response::default()
                    };
                    self.establish(request, response, ts);
                } else {
                    self.refuse(&request, status, String::new(), ts);
                    self.ignore();
                }
                return;
            }
        }
        self.ignore();
    }

    fn refuse(&mut self, request: &Request, status: u16, reason: String, ts: i64) {
        self.refused.push(RefusedUpgrade {
            capture: self.capture.to_string(),
            // Filled in by `finish`, which knows the addresses.
            client: std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
            server: std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
            time: ts,
            status,
            reason,
            host: request.headers.host.clone(),
            path: Some(request.target.clone()),
            user_agent: request.headers.user_agent.clone(),
        });
    }

    fn establish(&mut self, request: Request, response: Response, ts: i64) {
        let Some(cdir) = self.client else { return };
        // With the head cut, the negotiated extensions are unknown: do not call RSV1 a
        // violation.
        let deflate =
            self.head_cut || http::has_permessage_deflate(response.headers.extensions.as_deref());
        match (&request.headers.key, &response.headers.accept) {
            _ if self.head_cut => self.anomaly("handshake_not_captured"),
            (Some(key), Some(accept)) => {
                if http::accept_for(key) != *accept {
                    self.anomaly("wrong_accept_header");
                }
            }
            (None, _) => self.anomaly("missing_websocket_key"),
            (_, None) => self.anomaly("missing_accept_header"),
        }
        let mut state = Box::new(WsState {
            request,
            response,
            established: ts,
            dec: [
                DirectionDecoder::new(Side::Client, deflate),
                DirectionDecoder::new(Side::Server, deflate),
            ],
            events: Vec::new(),
            closes: Vec::new(),
            first_close: [None, None],
            pending_pings: [0, 0],
        });
        // Bytes that arrived with the heads (e.g. a first frame in the 101's segment).
        let client_rest = std::mem::take(&mut self.buf[cdir as usize]);
        let server_rest = std::mem::take(&mut self.buf[cdir.other() as usize]);
        self.buf = [Vec::new(), Vec::new()];
        self.phase = Phase::Ignored; // placeholder while we borrow
        if !server_rest.is_empty() {
            self.anomaly("data_with_upgrade_response");
        }
        self.feed_ws(&mut state, SERVER, &server_rest, ts);
        self.feed_ws(&mut state, CLIENT, &client_rest, ts);
        self.phase = Phase::WebSocket(state);
    }

    fn feed_ws(&mut self, st: &mut WsState, side: usize, data: &[u8], ts: i64) {
        if data.is_empty() {
            return;
        }
        st.events.clear();
        st.dec[side].feed(data, ts, &mut st.events);
        self.take_events(st, side);
    }

    fn take_events(&mut self, st: &mut WsState, side: usize) {
        self.order += 1;
        let who = if side == CLIENT {
            Initiator::Client
        } else {
            Initiator::Server
        };
        for ev in st.events.drain(..) {
            match ev {
                WsEvent::Close { ts, payload } => {
                    let frame = CloseFrame {
                        ts,
                        order: self.order,
                        code: payload.code,
                        reason: payload.reason,
                        payload_len: payload.payload_len,
                    };
                    if st.first_close[side].is_none() {
                        st.first_close[side] = Some(frame.clone());
                    }
                    if st.closes.len() < MAX_CLOSES_KEPT {
                        st.closes.push((who, frame));
                    }
                }
                WsEvent::Ping { .. } => st.pending_pings[side] += 1,
                WsEvent::Pong { .. } => {
                    let other = 1 - side;
                    st.pending_pings[other] = st.pending_pings[other].saturating_sub(1);
                }
                WsEvent::Anomaly { kind, .. } => {
                    *self.anomalies.entry(kind.as_str()).or_insert(0) += 1;
                }
            }
        }
    }

    /// The connection is over (or the capture ended): build what it produced.
    pub fn finish(mut self, meta: &ConnMeta) -> ConnOutput {
        let cdir = self.client.unwrap_or(Dir::Orig);
        let client = meta.addr(cdir);
        let server = meta.addr(cdir.other());
        for r in &mut self.refused {
            r.client = client;
            r.server = server;
        }
        let phase = std::mem::replace(&mut self.phase, Phase::Ignored);
        let Phase::WebSocket(mut st) = phase else {
            return ConnOutput {
                session: None,
                refused: self.refused,
                oversized_head: self.oversized_head,
            };
        };
        let tcp_ended = meta.first_end.is_some() && meta.release != Release::Evicted;
        for side in [CLIENT, SERVER] {
            st.events.clear();
            st.dec[side].finish(meta.last_ts, &mut st.events);
            self.take_events(&mut st, side);
        }
        let outcome = classify(
            st.first_close[CLIENT].as_ref(),
            st.first_close[SERVER].as_ref(),
            tcp_ended,
        );
        let (tcp_end, tcp_end_time) = match meta.first_end {
            Some((dir, kind, ts)) => {
                let is_client = dir == cdir;
                let e = match (is_client, kind) {
                    (true, EndKind::Fin) => TcpEnd::ClientFin,
                    (false, EndKind::Fin) => TcpEnd::ServerFin,
                    (true, EndKind::Rst) => TcpEnd::ClientRst,
                    (false, EndKind::Rst) => TcpEnd::ServerRst,
                };
                (e, Some(ts))
            }
            None => (TcpEnd::None, None),
        };
        let end_time = tcp_end_time.unwrap_or(meta.last_ts);
        let stats = [
            st.dec[CLIENT].stats().clone(),
            st.dec[SERVER].stats().clone(),
        ];
        let last_frame_time = stats.iter().filter_map(|s| s.last_frame_ts).max();
        let req = &st.request;
        let resp = &st.response;
        let mut anomalies: Vec<(&'static str, u32)> = self.anomalies.into_iter().collect();
        anomalies.sort();
        let record = SessionRecord {
            capture: self.capture.to_string(),
            source: "capture".into(),
            session_id: String::new(),
            client,
            server,
            start_time: meta.start_ts,
            established_time: Some(st.established),
            end_time,
            host: req.headers.host.clone(),
            path: Some(req.target.clone()),
            user_agent: req.headers.user_agent.clone(),
            origin: req.headers.origin.clone(),
            subprotocol: resp.headers.protocol.clone(),
            extensions: resp.headers.extensions.clone(),
            permessage_deflate: http::has_permessage_deflate(resp.headers.extensions.as_deref()),
            outcome,
            client_close: st.first_close[CLIENT].clone(),
            server_close: st.first_close[SERVER].clone(),
            closes: std::mem::take(&mut st.closes),
            tcp_end,
            tcp_end_time,
            last_frame_time,
            frames: [stats[0].frames, stats[1].frames],
            messages: [stats[0].messages, stats[1].messages],
            bytes: [stats[0].payload_bytes, stats[1].payload_bytes],
            pings: [stats[0].pings, stats[1].pings],
            pongs: [stats[0].pongs, stats[1].pongs],
            unanswered_pings: st.pending_pings.iter().sum(),
            gap: meta.gaps > 0,
            midstream: meta.midstream(),
            truncated: meta.snapped_segments > 0,
            limit_hit: meta.buffer_limit_hit || meta.release == Release::Evicted,
            anomalies,
        };
        ConnOutput {
            oversized_head: self.oversized_head,
            session: Some(record),
            refused: self.refused,
        }
    }
}

impl StreamHandler for Tracker {
    fn on_data(&mut self, dir: Dir, data: &[u8], ts: i64) {
        match &mut self.phase {
            Phase::Ignored => {}
            Phase::WebSocket(_) => {
                let side = self.side(dir);
                let Phase::WebSocket(mut st) = std::mem::replace(&mut self.phase, Phase::Ignored)
                else {
                    return;
                };
                self.feed_ws(&mut st, side, data, ts);
                self.phase = Phase::WebSocket(st);
            }
            Phase::Http => {
                if self.client.is_none() {
                    if http::looks_like_request(data) {
                        self.client = Some(dir);
                    } else if http::looks_like_response(data) {
                        self.client = Some(dir.other());
                    } else {
                        self.ignore();
                        return;
                    }
                }
                self.buf[dir as usize].extend_from_slice(data);
                self.advance_http(ts);
                // Heads longer than the cap are not an upgrade we can read; a refused
                // upgrade's body is drained as it comes, so it never piles up here.
                if self.buf.iter().any(|b| b.len() > 2 * http::MAX_HEAD) {
                    self.oversized_head = true;
                    self.ignore();
                }
            }
        }
    }

    fn on_gap(&mut self, dir: Dir, len: u64, ts: i64) {
        match &mut self.phase {
            Phase::Ignored => {}
            Phase::Http => self.http_gap(dir, ts),
            Phase::WebSocket(_) => {
                let side = self.side(dir);
                let Phase::WebSocket(mut st) = std::mem::replace(&mut self.phase, Phase::Ignored)
                else {
                    return;
                };
                st.events.clear();
                st.dec[side].gap(len, ts, &mut st.events);
                self.take_events(&mut st, side);
                self.phase = Phase::WebSocket(st);
            }
        }
    }

    fn wants_data(&self) -> bool {
        !matches!(self.phase, Phase::Ignored)
    }
}
