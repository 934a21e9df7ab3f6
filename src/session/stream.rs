//! One WebSocket's two directions of frames, whatever carried them.
//!
//! Contract: a [`WsStream`] starts once an upgrade was accepted (an HTTP/1.1 `101`, or
//! an HTTP/2 extended CONNECT answered `200`) and is fed each side's bytes after the
//! handshake, in delivery order. It keeps the Close frames (each side's first always,
//! at most [`MAX_CLOSES_KEPT`] in all), counts pings left unanswered and anomalies, and
//! [`WsStream::record`] turns it, with what its carrier knows of the end ([`Carrier`]),
//! into a classified [`SessionRecord`]. The HTTP/1.1 tracker ([`super::tracker`]) and
//! the HTTP/2 one ([`super::h2`]) both use it, so a session's ending means the same
//! whichever carried it.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::{classify, CloseFrame, Initiator, SessionRecord, TcpEnd, CLIENT, SERVER};
use crate::http::{self, Request, Response};
use crate::ws::{DirectionDecoder, WsEvent};
use crate::Side;

/// Close frames kept per session for the close table (the first of each side is always
/// kept; the rest are rare and only counted as anomalies).
pub const MAX_CLOSES_KEPT: usize = 8;

/// One WebSocket's state; see the module docs.
pub struct WsStream {
    pub request: Request,
    pub response: Response,
    pub established: i64,
    /// Indexed by [`CLIENT`] / [`SERVER`].
    dec: [DirectionDecoder; 2],
    events: Vec<WsEvent>,
    closes: Vec<(Initiator, CloseFrame)>,
    first_close: [Option<CloseFrame>; 2],
    /// Pings sent by each side not yet answered by a Pong from the other.
    pending_pings: [u64; 2],
    anomalies: BTreeMap<&'static str, u32>,
}

/// What the carrier (TCP for HTTP/1.1, an HTTP/2 stream) knows about the session's
/// end and quality, for [`WsStream::record`].
pub struct Carrier<'a> {
    pub capture: &'a str,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub start_time: i64,
    /// The carrier ended (TCP FIN/RST; for HTTP/2 also the stream's reset, GOAWAY or
    /// both END_STREAMs): a session with no Close frame is then `abnormal` (1006),
    /// otherwise `open`.
    pub ended: bool,
    pub end_time: i64,
    pub tcp_end: TcpEnd,
    pub tcp_end_time: Option<i64>,
    pub gap: bool,
    pub midstream: bool,
    pub truncated: bool,
    pub limit_hit: bool,
}

impl WsStream {
    pub fn new(request: Request, response: Response, established: i64, deflate: bool) -> Self {
        WsStream {
            request,
            response,
            established,
            dec: [
                DirectionDecoder::new(Side::Client, deflate),
                DirectionDecoder::new(Side::Server, deflate),
            ],
            events: Vec::new(),
            closes: Vec::new(),
            first_close: [None, None],
            pending_pings: [0, 0],
            anomalies: BTreeMap::new(),
        }
    }

    pub fn anomaly(&mut self, name: &'static str) {
        *self.anomalies.entry(name).or_insert(0) += 1;
    }

    /// Bytes of `side` ([`CLIENT`] / [`SERVER`]) delivered at `ts`; `order` is the
    /// connection's delivery counter (it orders Close frames with equal times).
    pub fn feed(&mut self, side: usize, data: &[u8], ts: i64, order: u64) {
        if data.is_empty() {
            return;
        }
        self.events.clear();
        self.dec[side].feed(data, ts, &mut self.events);
        self.take_events(side, order);
    }

    /// `len` bytes of `side` were never captured.
    pub fn gap(&mut self, side: usize, len: u64, ts: i64, order: u64) {
        self.events.clear();
        self.dec[side].gap(len, ts, &mut self.events);
        self.take_events(side, order);
    }

    fn take_events(&mut self, side: usize, order: u64) {
        let who = if side == CLIENT {
            Initiator::Client
        } else {
            Initiator::Server
        };
        for ev in self.events.drain(..) {
            match ev {
                WsEvent::Close { ts, payload } => {
                    let frame = CloseFrame {
                        ts,
                        order,
                        code: payload.code,
                        reason: payload.reason,
                        payload_len: payload.payload_len,
                    };
                    if self.first_close[side].is_none() {
                        self.first_close[side] = Some(frame.clone());
                    }
                    if self.closes.len() < MAX_CLOSES_KEPT {
                        self.closes.push((who, frame));
                    }
                }
                WsEvent::Ping { .. } => self.pending_pings[side] += 1,
                WsEvent::Pong { .. } => {
                    let other = 1 - side;
                    self.pending_pings[other] = self.pending_pings[other].saturating_sub(1);
                }
                WsEvent::Anomaly { kind, .. } => {
                    *self.anomalies.entry(kind.as_str()).or_insert(0) += 1;
                }
            }
        }
    }

    /// The session, classified: the carrier's end plus the frames seen. `extra`
    /// anomalies (the handshake's, the carrier's) are added to the frames'.
    pub fn record(
        mut self,
        c: &Carrier<'_>,
        last_ts: i64,
        order: u64,
        extra: &BTreeMap<&'static str, u32>,
    ) -> SessionRecord {
        for (side, order) in [(CLIENT, order + 1), (SERVER, order + 2)] {
            self.events.clear();
            self.dec[side].finish(last_ts, &mut self.events);
            self.take_events(side, order);
        }
        let outcome = classify(
            self.first_close[CLIENT].as_ref(),
            self.first_close[SERVER].as_ref(),
            c.ended,
        );
        let stats = [
            self.dec[CLIENT].stats().clone(),
            self.dec[SERVER].stats().clone(),
        ];
        let last_frame_time = stats.iter().filter_map(|s| s.last_frame_ts).max();
        for (k, v) in extra {
            *self.anomalies.entry(k).or_insert(0) += v;
        }
        let anomalies: Vec<(&'static str, u32)> = self.anomalies.into_iter().collect();
        let req = &self.request;
        let resp = &self.response;
        SessionRecord {
            capture: c.capture.to_string(),
            source: "capture".into(),
            session_id: String::new(),
            client: c.client,
            server: c.server,
            start_time: c.start_time,
            established_time: Some(self.established),
            end_time: c.end_time,
            host: req.headers.host.clone(),
            path: Some(req.target.clone()),
            user_agent: req.headers.user_agent.clone(),
            origin: req.headers.origin.clone(),
            subprotocol: resp.headers.protocol.clone(),
            extensions: resp.headers.extensions.clone(),
            permessage_deflate: http::has_permessage_deflate(resp.headers.extensions.as_deref()),
            outcome,
            client_close: self.first_close[CLIENT].take(),
            server_close: self.first_close[SERVER].take(),
            closes: self.closes,
            tcp_end: c.tcp_end,
            tcp_end_time: c.tcp_end_time,
            last_frame_time,
            frames: [stats[0].frames, stats[1].frames],
            messages: [stats[0].messages, stats[1].messages],
            bytes: [stats[0].payload_bytes, stats[1].payload_bytes],
            pings: [stats[0].pings, stats[1].pings],
            pongs: [stats[0].pongs, stats[1].pongs],
            unanswered_pings: self.pending_pings.iter().sum(),
            gap: c.gap,
            midstream: c.midstream,
            truncated: c.truncated,
            limit_hit: c.limit_hit,
            anomalies,
            tls: None,
            http_version: Some("1.1"),
            h2: None,
            websocket_key: req.headers.key.clone(),
        }
    }
}
