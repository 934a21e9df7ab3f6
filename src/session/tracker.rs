//! One HTTP/1.1 connection's application layer: the upgrade, then WebSocket frames.
//!
//! Contract: a [`Tracker`] is the [`StreamHandler`] of one connection's plaintext
//! (driven by [`super::conn::Conn`]). It reads the HTTP request and response heads
//! (buffering at most [`http::MAX_HEAD`] bytes per direction), decides which side is the
//! client (the one that sent the request), and after a `101` hands the frames to a
//! [`WsStream`]. Plain HTTP and anything that is not HTTP make it stop asking for data.
//! Upgrades answered with another status become [`RefusedUpgrade`]s. [`Tracker::finish`]
//! turns what it saw plus the TCP facts into a [`super::SessionRecord`] (classified by
//! [`super::classify`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::stream::{Carrier, WsStream};
use super::{tcp_end, ConnOutput, RefusedUpgrade, CLIENT, SERVER};
use crate::http::{self, Request, Response};
use crate::tcp::{ConnMeta, Dir, Release, StreamHandler};

enum Phase {
    Http,
    WebSocket(Box<WsStream>),
    Ignored,
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
        let mut state = Box::new(WsStream::new(request, response, ts, deflate));
        // Bytes that arrived with the heads (e.g. a first frame in the 101's segment).
        let client_rest = std::mem::take(&mut self.buf[cdir as usize]);
        let server_rest = std::mem::take(&mut self.buf[cdir.other() as usize]);
        self.buf = [Vec::new(), Vec::new()];
        if !server_rest.is_empty() {
            self.anomaly("data_with_upgrade_response");
        }
        self.feed_ws(&mut state, SERVER, &server_rest, ts);
        self.feed_ws(&mut state, CLIENT, &client_rest, ts);
        self.phase = Phase::WebSocket(state);
    }

    fn feed_ws(&mut self, st: &mut WsStream, side: usize, data: &[u8], ts: i64) {
        if data.is_empty() {
            return;
        }
        self.order += 1;
        st.feed(side, data, ts, self.order);
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
        let Phase::WebSocket(st) = phase else {
            return ConnOutput {
                sessions: Vec::new(),
                refused: self.refused,
                oversized_head: self.oversized_head,
                tls: None,
            };
        };
        let tcp_ended = meta.first_end.is_some() && meta.release != Release::Evicted;
        let (tcp_end, tcp_end_time) = tcp_end(meta, cdir);
        let carrier = Carrier {
            capture: &self.capture,
            client,
            server,
            start_time: meta.start_ts,
            ended: tcp_ended,
            end_time: tcp_end_time.unwrap_or(meta.last_ts),
            tcp_end,
            tcp_end_time,
            gap: meta.gaps > 0,
            midstream: meta.midstream(),
            truncated: meta.snapped_segments > 0,
            limit_hit: meta.buffer_limit_hit || meta.release == Release::Evicted,
        };
        let record = st.record(&carrier, meta.last_ts, self.order, &self.anomalies);
        ConnOutput {
            oversized_head: self.oversized_head,
            sessions: vec![record],
            refused: self.refused,
            tls: None,
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
                self.order += 1;
                st.gap(side, len, ts, self.order);
                self.phase = Phase::WebSocket(st);
            }
        }
    }

    fn wants_data(&self) -> bool {
        !matches!(self.phase, Phase::Ignored)
    }
}

#[cfg(test)]
mod tests {
    //! The tracker driven directly, the way the connection table drives it: bytes per
    //! direction with their capture times, then [`Tracker::finish`] with the TCP facts.
    //! Handshakes and frames are written out by hand; the key/accept pair is RFC 6455's
    //! own example (section 1.3).

    use super::*;
    use crate::session::{Ending, Initiator, SessionRecord, TcpEnd};
    use crate::tcp::{ConnMeta, Dir, EndKind, Release};

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
    const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
    const C: &str = "10.0.0.1:40000";
    const S: &str = "10.0.0.2:8765";

    const TEXT: u8 = 0x1;
    const CLOSE: u8 = 0x8;
    const PING: u8 = 0x9;
    const PONG: u8 = 0xA;

    fn request(path: &str, extra: &str) -> Vec<u8> {
        format!(
            "GET {path} HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\
             User-Agent: test-agent/1\r\nOrigin: http://example.com\r\n{extra}\r\n"
        )
        .into_bytes()
    }

    fn switching(extra: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {ACCEPT}\r\n{extra}\r\n"
        )
        .into_bytes()
    }

    /// A final, unmasked frame (the server's), payload under 126 bytes.
    fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x80 | opcode, payload.len() as u8];
        f.extend_from_slice(payload);
        f
    }

    /// A final frame masked with key 11 22 33 44 (the client's), payload under 126 bytes.
    fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let key = [0x11, 0x22, 0x33, 0x44];
        let mut f = vec![0x80 | opcode, 0x80 | payload.len() as u8];
        f.extend_from_slice(&key);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        f
    }

    fn close_payload(code: u16, reason: &str) -> Vec<u8> {
        let mut p = code.to_be_bytes().to_vec();
        p.extend_from_slice(reason.as_bytes());
        p
    }

    /// A connection opened by `C` (SYN and SYN-ACK seen) from 5 to 90 ns, nothing lost.
    fn meta(first_end: Option<(Dir, EndKind, i64)>, release: Release) -> ConnMeta {
        ConnMeta {
            orig: C.parse().unwrap(),
            resp: S.parse().unwrap(),
            syn_seen: true,
            synack_seen: true,
            start_ts: 5,
            last_ts: 90,
            fin_ts: [None, None],
            rst_ts: [None, None],
            first_end,
            gap_bytes: [0, 0],
            gaps: 0,
            snapped_segments: 0,
            packets: [0, 0],
            payload_bytes: [0, 0],
            retransmitted_bytes: 0,
            out_of_order_segments: 0,
            buffer_limit_hit: false,
            release,
        }
    }

    fn ended_by(dir: Dir, kind: EndKind, ts: i64) -> ConnMeta {
        meta(Some((dir, kind, ts)), Release::Ended)
    }

    fn tracker() -> Tracker {
        Tracker::new(Arc::from("cap.pcap"))
    }

    /// A tracker past a clean handshake: request at 10 (from `Orig`), 101 at 20.
    fn established() -> Tracker {
        let mut t = tracker();
        t.on_data(Dir::Orig, &request("/chat?x=1", ""), 10);
        t.on_data(Dir::Resp, &switching(""), 20);
        assert!(t.wants_data());
        t
    }

    fn session(t: Tracker, m: &ConnMeta) -> SessionRecord {
        let out = t.finish(m);
        assert!(out.refused.is_empty() && !out.oversized_head);
        out.sessions
            .into_iter()
            .next()
            .expect("a WebSocket session")
    }

    #[test]
    fn client_close_echoed_then_server_fin_is_a_normal_session_with_its_counts() {
        let mut t = tracker();
        t.on_data(Dir::Orig, &request("/chat?x=1", ""), 10);
        t.on_data(
            Dir::Resp,
            &switching("Sec-WebSocket-Protocol: chat\r\n"),
            20,
        );
        t.on_data(Dir::Orig, &client_frame(TEXT, b"hi"), 30);
        t.on_data(Dir::Resp, &server_frame(PING, b"p"), 40);
        t.on_data(Dir::Orig, &client_frame(PONG, b"p"), 50);
        t.on_data(
            Dir::Orig,
            &client_frame(CLOSE, &close_payload(1000, "bye")),
            60,
        );
        t.on_data(
            Dir::Resp,
            &server_frame(CLOSE, &close_payload(1000, "")),
            70,
        );
        let s = session(t, &ended_by(Dir::Resp, EndKind::Fin, 80));

        assert_eq!(s.capture, "cap.pcap");
        assert_eq!(s.source, "capture");
        assert_eq!(s.client, C.parse().unwrap());
        assert_eq!(s.server, S.parse().unwrap());
        assert_eq!(
            (s.start_time, s.established_time, s.end_time),
            (5, Some(20), 80)
        );
        assert_eq!((s.tcp_end, s.tcp_end_time), (TcpEnd::ServerFin, Some(80)));
        assert_eq!(s.host.as_deref(), Some("example.com"));
        assert_eq!(s.path.as_deref(), Some("/chat?x=1"));
        assert_eq!(s.user_agent.as_deref(), Some("test-agent/1"));
        assert_eq!(s.origin.as_deref(), Some("http://example.com"));
        assert_eq!(s.subprotocol.as_deref(), Some("chat"));
        assert_eq!(s.extensions, None);
        assert!(!s.permessage_deflate);

        let o = &s.outcome;
        assert_eq!(o.ending, Ending::Normal);
        assert_eq!(o.close_code, Some(1000));
        assert_eq!(o.close_reason.as_deref(), Some("bye"));
        assert_eq!(o.initiator, Initiator::Client);
        assert!(o.handshake_completed);
        assert_eq!(
            (o.client_observed_code, o.server_observed_code),
            (Some(1000), Some(1000))
        );

        let cc = s.client_close.clone().unwrap();
        let sc = s.server_close.clone().unwrap();
        assert_eq!(
            (cc.ts, cc.code, cc.reason.as_str(), cc.payload_len),
            (60, Some(1000), "bye", 5)
        );
        assert_eq!(
            (sc.ts, sc.code, sc.reason.as_str(), sc.payload_len),
            (70, Some(1000), "", 2)
        );
        assert!(cc.order < sc.order, "delivery order");
        assert_eq!(
            s.closes,
            vec![(Initiator::Client, cc), (Initiator::Server, sc)]
        );

        // Client: text, pong, close; server: ping, close.
        assert_eq!(s.frames, [3, 2]);
        assert_eq!(s.messages, [1, 0]);
        assert_eq!(s.bytes, [2 + 1 + 5, 1 + 2]);
        assert_eq!(s.pings, [0, 1]);
        assert_eq!(s.pongs, [1, 0]);
        assert_eq!(s.unanswered_pings, 0);
        assert_eq!(s.last_frame_time, Some(70));
        assert!(!s.gap && !s.midstream && !s.truncated && !s.limit_hit);
        assert!(s.anomalies.is_empty(), "{:?}", s.anomalies);
    }

    #[test]
    fn closes_at_the_same_time_go_to_whoever_was_delivered_first() {
        let mut t = established();
        t.on_data(
            Dir::Resp,
            &server_frame(CLOSE, &close_payload(1001, "")),
            60,
        );
        t.on_data(
            Dir::Orig,
            &client_frame(CLOSE, &close_payload(1000, "")),
            60,
        );
        let s = session(t, &ended_by(Dir::Orig, EndKind::Fin, 70));
        assert_eq!(s.outcome.initiator, Initiator::Server);
        assert_eq!(s.outcome.ending, Ending::Announced);
        assert_eq!(s.outcome.close_code, Some(1001));
        assert_eq!(s.tcp_end, TcpEnd::ClientFin);
        assert_eq!(s.closes[0].0, Initiator::Server);
    }

    #[test]
    fn a_close_the_peer_never_answered_leaves_it_observing_1006() {
        let mut t = established();
        t.on_data(
            Dir::Resp,
            &server_frame(CLOSE, &close_payload(1011, "oops")),
            60,
        );
        let s = session(t, &ended_by(Dir::Resp, EndKind::Rst, 65));
        let o = &s.outcome;
        assert_eq!((o.ending, o.close_code), (Ending::Announced, Some(1011)));
        assert_eq!(o.close_reason.as_deref(), Some("oops"));
        assert_eq!(o.initiator, Initiator::Server);
        assert!(!o.handshake_completed);
        // The client received 1011; the server received nothing before TCP ended.
        assert_eq!(
            (o.client_observed_code, o.server_observed_code),
            (Some(1011), Some(1006))
        );
        assert!(s.client_close.is_none());
        assert_eq!((s.tcp_end, s.end_time), (TcpEnd::ServerRst, 65));
    }

    #[test]
    fn an_empty_close_is_no_status_1005() {
        let mut t = established();
        t.on_data(Dir::Orig, &client_frame(CLOSE, b""), 60);
        let s = session(t, &ended_by(Dir::Orig, EndKind::Fin, 70));
        assert_eq!(s.outcome.ending, Ending::NoStatus);
        assert_eq!(s.outcome.close_code, Some(1005));
        assert_eq!(s.outcome.server_observed_code, Some(1005));
        assert_eq!(s.client_close.unwrap().payload_len, 0);
    }

    #[test]
    fn rst_without_close_is_1006_and_the_end_of_the_capture_is_open() {
        let mut t = established();
        t.on_data(Dir::Orig, &client_frame(TEXT, b"x"), 30);
        let s = session(t, &ended_by(Dir::Orig, EndKind::Rst, 40));
        let o = &s.outcome;
        assert_eq!((o.ending, o.close_code), (Ending::Abnormal, Some(1006)));
        assert_eq!(o.initiator, Initiator::None);
        assert_eq!(
            (o.client_observed_code, o.server_observed_code),
            (Some(1006), Some(1006))
        );
        assert_eq!(
            (s.tcp_end, s.tcp_end_time, s.end_time),
            (TcpEnd::ClientRst, Some(40), 40)
        );

        // The capture ended first: open, no code, the end is the last packet.
        let s = session(established(), &meta(None, Release::CaptureEnd));
        let o = &s.outcome;
        assert_eq!((o.ending, o.close_code), (Ending::Open, None));
        assert_eq!(
            (o.client_observed_code, o.server_observed_code),
            (None, None)
        );
        assert_eq!(
            (s.tcp_end, s.tcp_end_time, s.end_time),
            (TcpEnd::None, None, 90)
        );
        assert_eq!(s.last_frame_time, None);
        assert_eq!(s.frames, [0, 0]);
    }

    #[test]
    fn an_evicted_session_is_open_and_flagged_even_after_a_fin() {
        let s = session(
            established(),
            &meta(Some((Dir::Orig, EndKind::Fin, 50)), Release::Evicted),
        );
        assert_eq!(s.outcome.ending, Ending::Open);
        assert_eq!(s.outcome.close_code, None);
        assert!(s.limit_hit);
        assert_eq!(s.tcp_end, TcpEnd::ClientFin);
    }

    #[test]
    fn flags_come_from_the_connection() {
        let mut m = meta(None, Release::CaptureEnd);
        m.gaps = 1;
        m.snapped_segments = 2;
        m.syn_seen = false;
        m.synack_seen = false;
        m.buffer_limit_hit = true;
        let s = session(established(), &m);
        assert!(s.gap && s.truncated && s.midstream && s.limit_hit);
        // A SYN-ACK alone is not mid-stream.
        let mut m = meta(None, Release::CaptureEnd);
        m.syn_seen = false;
        let s = session(established(), &m);
        assert!(!s.midstream && !s.gap && !s.truncated && !s.limit_hit);
    }

    #[test]
    fn the_side_that_sent_the_request_is_the_client_whatever_the_tcp_roles() {
        // The TCP opener answered: the 101 comes first, from `Orig`.
        let mut t = tracker();
        t.on_data(Dir::Orig, &switching(""), 20);
        t.on_data(Dir::Resp, &request("/rev", ""), 21);
        t.on_data(
            Dir::Resp,
            &client_frame(CLOSE, &close_payload(4000, "")),
            30,
        );
        t.on_data(
            Dir::Orig,
            &server_frame(CLOSE, &close_payload(4000, "")),
            31,
        );
        let s = session(t, &ended_by(Dir::Resp, EndKind::Fin, 40));
        assert_eq!(s.client, S.parse().unwrap());
        assert_eq!(s.server, C.parse().unwrap());
        assert_eq!(s.tcp_end, TcpEnd::ClientFin);
        assert_eq!(s.outcome.initiator, Initiator::Client);
        assert_eq!(s.frames, [1, 1]);
        assert_eq!(s.path.as_deref(), Some("/rev"));
        // The server side ending TCP first, by RST.
        let mut t = tracker();
        t.on_data(Dir::Resp, &request("/rev", ""), 10);
        t.on_data(Dir::Orig, &switching(""), 20);
        let s = session(t, &ended_by(Dir::Orig, EndKind::Rst, 40));
        assert_eq!(s.client, S.parse().unwrap());
        assert_eq!(s.tcp_end, TcpEnd::ServerRst);
        assert!(s.anomalies.is_empty());
    }

    #[test]
    fn pings_without_a_pong_from_the_other_side_are_unanswered() {
        let mut t = established();
        // A pong before any ping answers nothing.
        t.on_data(Dir::Resp, &server_frame(PONG, b""), 25);
        t.on_data(Dir::Orig, &client_frame(PING, b"1"), 30);
        t.on_data(Dir::Orig, &client_frame(PING, b"2"), 31);
        t.on_data(Dir::Resp, &server_frame(PONG, b"1"), 32);
        t.on_data(Dir::Resp, &server_frame(PING, b"3"), 33);
        let s = session(t, &meta(None, Release::CaptureEnd));
        assert_eq!(s.pings, [2, 1]);
        assert_eq!(s.pongs, [0, 2]);
        assert_eq!(s.unanswered_pings, 2);
        assert_eq!(s.last_frame_time, Some(33));
    }

    #[test]
    fn the_last_frame_time_is_the_later_of_the_two_sides() {
        let mut t = established();
        t.on_data(Dir::Resp, &server_frame(TEXT, b"a"), 30);
        t.on_data(Dir::Orig, &client_frame(TEXT, b"b"), 70);
        t.on_data(Dir::Resp, &server_frame(TEXT, b"c"), 50);
        let s = session(t, &meta(None, Release::CaptureEnd));
        assert_eq!(s.last_frame_time, Some(70));
        assert_eq!(s.messages, [1, 2]);
    }

    #[test]
    fn at_most_eight_closes_are_kept_and_each_sides_first_always_is() {
        let mut t = established();
        for i in 0..9 {
            t.on_data(
                Dir::Orig,
                &client_frame(CLOSE, &close_payload(3000 + i, "")),
                30 + i64::from(i),
            );
        }
        t.on_data(
            Dir::Resp,
            &server_frame(CLOSE, &close_payload(1001, "")),
            50,
        );
        let s = session(t, &ended_by(Dir::Resp, EndKind::Fin, 60));
        assert_eq!(s.closes.len(), 8);
        assert!(s.closes.iter().all(|(w, _)| *w == Initiator::Client));
        let codes: Vec<Option<u16>> = s.closes.iter().map(|(_, f)| f.code).collect();
        assert_eq!(codes, (3000..3008).map(Some).collect::<Vec<_>>());
        assert_eq!(s.client_close.unwrap().code, Some(3000));
        assert_eq!(s.outcome.close_code, Some(3000));
        assert_eq!(s.server_close.unwrap().code, Some(1001));
        assert!(s.outcome.handshake_completed);
        assert_eq!(s.outcome.client_observed_code, Some(1001));
        assert_eq!(s.anomalies, vec![("duplicate_close", 8)]);
    }

    #[test]
    fn a_refused_upgrade_is_recorded_and_a_retry_on_the_connection_is_the_session() {
        let mut t = tracker();
        t.on_data(Dir::Orig, &request("/first", ""), 10);
        let refusal = b"HTTP/1.1 426 Upgrade Required\r\nContent-Length: 5\r\n\r\nno";
        t.on_data(Dir::Resp, refusal, 20);
        // The rest of the body, then the retry and its 101.
        t.on_data(Dir::Resp, b"pe!", 21);
        t.on_data(Dir::Orig, &request("/second", ""), 30);
        t.on_data(Dir::Resp, &switching(""), 40);
        let out = t.finish(&meta(None, Release::CaptureEnd));
        assert_eq!(out.refused.len(), 1);
        let r = &out.refused[0];
        assert_eq!(r.capture, "cap.pcap");
        assert_eq!(
            (r.status, r.reason.as_str(), r.time),
            (426, "Upgrade Required", 20)
        );
        assert_eq!(r.path.as_deref(), Some("/first"));
        assert_eq!(r.host.as_deref(), Some("example.com"));
        assert_eq!(r.user_agent.as_deref(), Some("test-agent/1"));
        assert_eq!(
            (r.client, r.server),
            (C.parse().unwrap(), S.parse().unwrap())
        );
        let s = out
            .sessions
            .into_iter()
            .next()
            .expect("the retry's session");
        assert_eq!(s.path.as_deref(), Some("/second"));
        assert_eq!(s.established_time, Some(40));
        assert!(s.anomalies.is_empty(), "{:?}", s.anomalies);
    }

    #[test]
    fn a_refusal_whose_body_has_no_length_ends_the_tracking() {
        let mut t = tracker();
        t.on_data(Dir::Orig, &request("/", ""), 10);
        t.on_data(Dir::Resp, b"HTTP/1.1 403 Forbidden\r\n\r\n", 20);
        assert!(!t.wants_data());
        let out = t.finish(&meta(None, Release::CaptureEnd));
        assert!(out.sessions.is_empty());
        assert_eq!(out.refused.len(), 1);
        assert_eq!(out.refused[0].status, 403);
        // 204 has no body: the connection may still upgrade afterwards.
        let mut t = tracker();
        t.on_data(Dir::Orig, &request("/a", ""), 10);
        t.on_data(Dir::Resp, b"HTTP/1.1 204 No Content\r\n\r\n", 20);
        assert!(t.wants_data());
        t.on_data(Dir::Orig, &request("/b", ""), 30);
        t.on_data(Dir::Resp, &switching(""), 40);
        let out = t.finish(&meta(None, Release::CaptureEnd));
        assert_eq!(out.refused.len(), 1);
        assert_eq!(
            out.sessions.into_iter().next().unwrap().path.as_deref(),
            Some("/b")
        );
    }

    #[test]
    fn informational_answers_before_the_101_are_skipped() {
        let mut t = tracker();
        t.on_data(Dir::Orig, &request("/", ""), 10);
        let mut answer = b"HTTP/1.1 100 Continue\r\n\r\n".to_vec();
        answer.extend(switching(""));
        t.on_data(Dir::Resp, &answer, 20);
        let out = t.finish(&meta(None, Release::CaptureEnd));
        assert!(out.refused.is_empty());
        assert_eq!(
            out.sessions.into_iter().next().unwrap().established_time,
            Some(20)
        );
    }

    #[test]
    fn plain_http_and_other_protocols_are_not_sessions() {
        for first in [
            &b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"[..],
            b"\x16\x03\x01\x02\x00",
            b"SSH-2.0-OpenSSH_9.6\r\n",
        ] {
            let mut t = tracker();
            t.on_data(Dir::Orig, first, 10);
            assert!(!t.wants_data(), "{first:?}");
            let out = t.finish(&meta(None, Release::CaptureEnd));
            assert!(out.sessions.is_empty() && out.refused.is_empty() && !out.oversized_head);
        }
        // A request answered by something that is not HTTP.
        let mut t = tracker();
        t.on_data(Dir::Orig, &request("/", ""), 10);
        t.on_data(Dir::Resp, b"\x00\x01binary", 20);
        assert!(!t.wants_data());
        assert!(t
            .finish(&meta(None, Release::CaptureEnd))
            .sessions
            .is_empty());
    }

    #[test]
    fn heads_longer_than_the_cap_are_counted_and_not_read() {
        let mut big = b"GET / HTTP/1.1\r\nX-Long: ".to_vec();
        big.resize(http::MAX_HEAD + 10, b'a');
        let mut t = tracker();
        t.on_data(Dir::Orig, &big, 10);
        assert!(!t.wants_data());
        let out = t.finish(&meta(None, Release::CaptureEnd));
        assert!(out.oversized_head && out.sessions.is_empty());
        // The same for an answer.
        let mut big = b"HTTP/1.1 101 Switching Protocols\r\nX-Long: ".to_vec();
        big.resize(http::MAX_HEAD + 10, b'a');
        let mut t = tracker();
        t.on_data(Dir::Orig, &request("/", ""), 10);
        t.on_data(Dir::Resp, &big, 20);
        assert!(!t.wants_data());
        let out = t.finish(&meta(None, Release::CaptureEnd));
        assert!(out.oversized_head && out.sessions.is_empty());
        // Up to the cap, a head is still waited for.
        let mut big = b"GET / HTTP/1.1\r\nX-Long: ".to_vec();
        big.resize(http::MAX_HEAD, b'a');
        let mut t = tracker();
        t.on_data(Dir::Orig, &big, 10);
        assert!(t.wants_data());
        let mut t = tracker();
        t.on_data(Dir::Orig, &request("/", ""), 10);
        t.on_data(Dir::Resp, &big[..http::MAX_HEAD], 20);
        assert!(!t.wants_data(), "not a response");
    }

    #[test]
    fn handshake_problems_are_anomalies() {
        let cases: [(Vec<u8>, Vec<u8>, &str); 3] = [
            (
                request("/", ""),
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                  Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n"
                    .to_vec(),
                "wrong_accept_header",
            ),
            (
                b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n".to_vec(),
                switching(""),
                "missing_websocket_key",
            ),
            (
                request("/", ""),
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n".to_vec(),
                "missing_accept_header",
            ),
        ];
        for (req, resp, anomaly) in cases {
            let mut t = tracker();
            t.on_data(Dir::Orig, &req, 10);
            t.on_data(Dir::Resp, &resp, 20);
            let s = session(t, &meta(None, Release::CaptureEnd));
            assert_eq!(s.anomalies, vec![(anomaly, 1)]);
        }
    }

    #[test]
    fn frames_that_came_with_the_heads_are_counted() {
        let mut t = tracker();
        let mut req = request("/", "");
        req.extend(client_frame(TEXT, b"early"));
        t.on_data(Dir::Orig, &req, 10);
        let mut resp = switching("Sec-WebSocket-Extensions: permessage-deflate\r\n");
        resp.extend(server_frame(TEXT, b"hello"));
        t.on_data(Dir::Resp, &resp, 20);
        let s = session(t, &meta(None, Release::CaptureEnd));
        assert_eq!(s.frames, [1, 1]);
        assert_eq!(s.messages, [1, 1]);
        assert_eq!(s.last_frame_time, Some(20));
        assert!(s.permessage_deflate);
        assert_eq!(s.extensions.as_deref(), Some("permessage-deflate"));
        assert_eq!(s.anomalies, vec![("data_with_upgrade_response", 1)]);
    }

    #[test]
    fn a_handshake_cut_by_the_capture_is_tracked_from_what_was_captured() {
        let mut t = tracker();
        t.on_data(Dir::Orig, b"GET /cut?q=1 HTTP/1.1\r\nHost: exa", 10);
        t.on_gap(Dir::Orig, 100, 11);
        t.on_data(Dir::Resp, b"HTTP/1.1 101 Swi", 20);
        t.on_gap(Dir::Resp, 50, 21);
        // permessage-deflate is assumed (the extensions were cut): RSV1 is no anomaly.
        t.on_data(Dir::Resp, &[0xC1, 0x01, b'z'], 30);
        t.on_data(
            Dir::Orig,
            &client_frame(CLOSE, &close_payload(1000, "")),
            40,
        );
        let s = session(t, &ended_by(Dir::Orig, EndKind::Fin, 50));
        assert_eq!(s.path.as_deref(), Some("/cut?q=1"));
        assert_eq!(s.host, None);
        assert_eq!(s.established_time, Some(21));
        assert_eq!(s.anomalies, vec![("handshake_not_captured", 1)]);
        assert_eq!(s.frames, [1, 1]);
        assert_eq!(s.outcome.ending, Ending::Normal);

        // A cut refusal.
        let mut t = tracker();
        t.on_data(Dir::Orig, b"GET /no HTTP/1.1\r\n", 10);
        t.on_gap(Dir::Orig, 100, 11);
        t.on_data(Dir::Resp, b"HTTP/1.1 403 Forb", 20);
        t.on_gap(Dir::Resp, 50, 21);
        assert!(!t.wants_data());
        let out = t.finish(&meta(None, Release::CaptureEnd));
        assert!(out.sessions.is_empty());
        assert_eq!(out.refused.len(), 1);
        assert_eq!((out.refused[0].status, out.refused[0].time), (403, 21));
        assert_eq!(out.refused[0].path.as_deref(), Some("/no"));

        // A hole before anything was seen, or in a head that is not a GET: given up.
        let mut t = tracker();
        t.on_gap(Dir::Orig, 10, 5);
        assert!(!t.wants_data());
        let mut t = tracker();
        t.on_data(Dir::Orig, b"POST /x HTTP/1.1\r\n", 10);
        t.on_gap(Dir::Orig, 10, 11);
        assert!(!t.wants_data());
    }

    #[test]
    fn a_gap_in_the_frames_desyncs_that_direction_only() {
        let mut t = established();
        t.on_data(Dir::Orig, &client_frame(TEXT, b"a"), 30);
        t.on_gap(Dir::Orig, 7, 31);
        t.on_data(Dir::Orig, &client_frame(TEXT, b"b"), 32);
        t.on_data(
            Dir::Resp,
            &server_frame(CLOSE, &close_payload(1000, "")),
            40,
        );
        let s = session(t, &ended_by(Dir::Resp, EndKind::Fin, 50));
        assert_eq!(s.frames, [1, 1]);
        assert_eq!(s.anomalies, vec![("desync_after_gap", 1)]);
        assert_eq!(s.outcome.initiator, Initiator::Server);
    }

    /// The rest of a refusal's body and the answer to the retry in one segment.
    #[test]
    fn the_answer_to_a_retry_may_follow_the_refusal_body_in_one_segment() {
        let mut t = tracker();
        t.on_data(Dir::Orig, &request("/first", ""), 10);
        t.on_data(
            Dir::Resp,
            b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 5\r\n\r\nno",
            20,
        );
        t.on_data(Dir::Orig, &request("/second", ""), 30);
        let mut rest = b"pe!".to_vec();
        rest.extend(switching(""));
        t.on_data(Dir::Resp, &rest, 40);
        let out = t.finish(&meta(None, Release::CaptureEnd));
        assert_eq!(out.refused.len(), 1);
        assert_eq!(out.refused[0].status, 401);
        let s = out
            .sessions
            .into_iter()
            .next()
            .expect("the retry's session");
        assert_eq!(
            (s.path.as_deref(), s.established_time),
            (Some("/second"), Some(40))
        );
    }

    #[test]
    fn an_answer_up_to_the_cap_is_waited_for() {
        let mut big = b"HTTP/1.1 101 Switching Protocols\r\nX-Long: ".to_vec();
        big.resize(http::MAX_HEAD, b'a');
        let mut t = tracker();
        t.on_data(Dir::Orig, &request("/", ""), 10);
        t.on_data(Dir::Resp, &big, 20);
        assert!(t.wants_data());
        t.on_data(Dir::Resp, b"a", 21);
        assert!(!t.wants_data());
        assert!(t.finish(&meta(None, Release::CaptureEnd)).oversized_head);
    }

    /// While the request is incomplete, what the server sends piles up to twice the
    /// head cap at most.
    #[test]
    fn bytes_held_before_a_request_is_complete_are_capped_at_twice_the_head_cap() {
        let mut early = b"HTTP/1.1 200 OK\r\nX-Long: ".to_vec();
        early.resize(2 * http::MAX_HEAD, b'a');
        let mut t = tracker();
        t.on_data(Dir::Orig, b"GET / HTTP/1.1\r\n", 10);
        t.on_data(Dir::Resp, &early, 20);
        assert!(t.wants_data());
        t.on_data(Dir::Resp, b"a", 21);
        assert!(!t.wants_data());
        let out = t.finish(&meta(None, Release::CaptureEnd));
        assert!(out.oversized_head && out.sessions.is_empty());
    }
}
