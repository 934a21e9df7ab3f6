//! TCP connections: segments in, per-direction in-order byte streams and end events out.
//!
//! Contract: [`ConnTable::segment`] takes every TCP segment of a capture in capture
//! order. Each connection (4-tuple plus instance: a new SYN after FIN/RST on the same
//! ports starts a new one) gets its own [`StreamHandler`], which is told, per direction,
//! the bytes in stream order ([`StreamHandler::on_data`]), the bytes the capture missed
//! ([`StreamHandler::on_gap`], never glued over), and at the end the connection's
//! [`ConnMeta`] (who opened it, how and when it ended, quality flags).
//!
//! Direction: `Orig` is the side that sent the SYN; when no SYN was seen, the side that
//! sent the SYN-ACK is `Resp`; failing both, the sender of the first payload is `Orig`
//! and the handler may decide otherwise (it sees who sent the HTTP request).
//!
//! Memory: a connection holds two reassemblers (each bounded by `max_buffered`) and its
//! handler; a connection is dropped as soon as it ended (both FINs delivered, or a RST)
//! or when the table is full ([`Limits::max_conns`], oldest idle connection first, and
//! flagged). Nothing grows with the size of the capture.

use std::collections::HashMap;

use foldhash::fast::RandomState;
use std::net::SocketAddr;

use super::{Chunk, Reassembler, SeqNumber};
use crate::capture::link::Segment;

/// Direction of a byte stream within a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// From the connection's opener (SYN sender) to its acceptor.
    Orig = 0,
    Resp = 1,
}

impl Dir {
    pub fn other(self) -> Dir {
        match self {
            Dir::Orig => Dir::Resp,
            Dir::Resp => Dir::Orig,
        }
    }
    fn idx(self) -> usize {
        self as usize
    }
}

/// How one side ended its half of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndKind {
    Fin,
    Rst,
}

/// Why the table let go of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// Both sides sent FIN, or one sent RST.
    Ended,
    /// The capture ended with the connection still open (or half-closed).
    CaptureEnd,
    /// The connection table was full and this was the longest-idle connection.
    Evicted,
}

/// What is known about a connection at the TCP level.
#[derive(Debug, Clone)]
pub struct ConnMeta {
    pub orig: SocketAddr,
    pub resp: SocketAddr,
    pub syn_seen: bool,
    pub synack_seen: bool,
    /// First and last packet times (ns since the epoch).
    pub start_ts: i64,
    pub last_ts: i64,
    /// Per direction: time of the first FIN and the first RST.
    pub fin_ts: [Option<i64>; 2],
    pub rst_ts: [Option<i64>; 2],
    /// The first FIN or RST seen, from either side.
    pub first_end: Option<(Dir, EndKind, i64)>,
    /// Payload bytes the capture did not have (per direction), and gap count.
    pub gap_bytes: [u64; 2],
    pub gaps: u64,
    /// Segments whose payload the snaplen cut.
    pub snapped_segments: u64,
    pub packets: [u64; 2],
    pub payload_bytes: [u64; 2],
    pub retransmitted_bytes: u64,
    pub out_of_order_segments: u64,
    /// Held out-of-order bytes exceeded the limit at least once.
    pub buffer_limit_hit: bool,
    pub release: Release,
}

impl ConnMeta {
    /// Data flowed without a captured SYN or SYN-ACK.
    pub fn midstream(&self) -> bool {
        !self.syn_seen && !self.synack_seen
    }
    pub fn addr(&self, dir: Dir) -> SocketAddr {
        match dir {
            Dir::Orig => self.orig,
            Dir::Resp => self.resp,
        }
    }
}

/// The application layer riding on one connection.
pub trait StreamHandler {
    /// The next in-order bytes of direction `dir`, delivered by a packet at `ts`.
    fn on_data(&mut self, dir: Dir, data: &[u8], ts: i64);
    /// `len` bytes of direction `dir` were never captured.
    fn on_gap(&mut self, dir: Dir, len: u64, ts: i64);
    /// Whether payload is still wanted. Once false (e.g. not HTTP), the table stops
    /// reassembling and only tracks the ends.
    fn wants_data(&self) -> bool;
}

/// Limits that bound memory; sessions hit by one are flagged.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections tracked at once.
    pub max_conns: usize,
    /// Out-of-order bytes held per direction.
    pub max_buffered: usize,
}

impl Default for Limits {
    /// About 1 KiB per tracked connection, hash table included (measured with
    /// `scripts/adversarial_rss.sh`): 200,000 connections (a SYN flood, or a very busy
    /// gateway) stay under the 256 MiB the project promises. Raise `--max-connections`
    /// for more.
    fn default() -> Self {
        Limits {
            max_conns: 200_000,
            max_buffered: 4 << 20,
        }
    }
}

struct Half {
    reasm: Reassembler,
    /// Sequence number just past this side's FIN, once seen.
    fin_end: Option<SeqNumber>,
}

struct Conn<H> {
    meta: ConnMeta,
    halves: [Half; 2],
    handler: H,
    /// Both FINs seen, waiting for held data (or a timeout) before release.
    closing_since: Option<i64>,
}

/// A connection's address pair, lower address first (both directions give one key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key(SocketAddr, SocketAddr);

/// One hasher write per key instead of one per field of two socket addresses (that was
/// 5-7 % of all time on small-packet captures). Equality still compares everything.
impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        h.write_u128(addr_bits(&self.0) ^ addr_bits(&self.1).rotate_left(61));
    }
}

/// An address and port folded into 128 bits (IPv4 exactly; IPv6 with the port mixed
/// in). For hashing only: different addresses may share bits.
#[inline]
pub fn addr_bits(a: &SocketAddr) -> u128 {
    match a {
        SocketAddr::V4(v4) => (u128::from(v4.ip().to_bits()) << 16) | u128::from(v4.port()),
        SocketAddr::V6(v6) => v6.ip().to_bits() ^ (u128::from(v6.port()) << 100),
    }
}

fn key(a: SocketAddr, b: SocketAddr) -> Key {
    if a <= b {
        Key(a, b)
    } else {
        Key(b, a)
    }
}

/// How long a connection whose both FINs were seen waits for missing data, and how
/// long stray packets of a finished connection are recognised (capture time).
const LINGER_NS: i64 = 30_000_000_000;
/// How often (capture time) lingering connections are swept.
const SWEEP_NS: i64 = 10_000_000_000;

/// All connections of one capture; see the module docs.
pub struct ConnTable<H, F> {
    /// Boxed: the table's spare capacity then costs a pointer per slot, not a whole
    /// connection (what the memory bound in [`Limits`] rests on).
    conns: HashMap<Key, Box<Conn<H>>, RandomState>,
    /// Finished connections, so that their trailing ACKs and retransmitted FINs do not
    /// open phantom mid-stream connections. Value: release time.
    finished: HashMap<Key, i64, RandomState>,
    new_handler: F,
    limits: Limits,
    last_sweep: i64,
    /// Connections released because the table was full.
    pub evicted: u64,
}

impl<H: StreamHandler, F: FnMut(&SocketAddr, &SocketAddr) -> H> ConnTable<H, F> {
    /// `new_handler(orig, resp)` makes the handler for a new connection.
    pub fn new(limits: Limits, new_handler: F) -> Self {
        ConnTable {
            conns: HashMap::default(),
            finished: HashMap::default(),
            new_handler,
            limits,
            last_sweep: i64::MIN,
            evicted: 0,
        }
    }

    pub fn open_connections(&self) -> usize {
        self.conns.len()
    }

    /// Process one segment captured at `ts`. Released connections go to `done`.
    pub fn segment(&mut self, seg: &Segment<'_>, ts: i64, done: &mut impl FnMut(ConnMeta, H)) {
        if ts.saturating_sub(self.last_sweep) >= SWEEP_NS {
            self.sweep(ts, done);
        }
        let k = key(seg.src, seg.dst);
        let f = seg.flags;
        // A new SYN on a tuple whose connection ended (or was answered already with a
        // different ISN) starts a new instance.
        if f.syn && !f.ack {
            if let Some(c) = self.conns.get(&k) {
                let ended = c.meta.first_end.is_some();
                // Compared with where the stream started (the first SYN's ISN + 1),
                // not with where it is now: a late duplicate of the first SYN after
                // data is the same connection.
                let other_isn = c.meta.syn_seen
                    && c.meta.orig == seg.src
                    && c.halves[0]
                        .reasm
                        .start_seq()
                        .is_some_and(|s| s != SeqNumber(seg.seq.wrapping_add(1)))
                    && c.meta.payload_bytes[0] > 0;
                if ended || other_isn {
                    self.release(k, Release::Ended, done);
                }
            }
            self.finished.remove(&k);
        }
        // The common case first: one lookup for a packet of a tracked connection.
        if let Some(conn) = self.conns.get_mut(&k) {
            if conn.process(seg, ts) {
                self.release(k, Release::Ended, done);
            }
            return;
        }
        {
            // Stray packets of a connection that ended recently (trailing ACKs,
            // retransmitted FINs) open nothing. Judged by time, not by when the table
            // was last swept, so the outcome does not depend on sweep timing (or on
            // how flows are sharded across threads).
            if let Some(&ended) = self.finished.get(&k) {
                if ts.saturating_sub(ended) < LINGER_NS {
                    return;
                }
                self.finished.remove(&k);
            }
            if f.rst {
                return;
            }
            if !f.syn && seg.payload.is_empty() && seg.missing == 0 {
                // Pure ACKs of a connection we never saw carry nothing to decode.
                return;
            }
            if self.conns.len() >= self.limits.max_conns {
                self.evict_one(done);
            }
            let (orig, resp) = if f.syn && f.ack {
                (seg.dst, seg.src)
            } else {
                (seg.src, seg.dst)
            };
            let handler = (self.new_handler)(&orig, &resp);
            let half = || Half {
                reasm: Reassembler::new(self.limits.max_buffered),
                fin_end: None,
            };
            self.conns.insert(
                k,
                Box::new(Conn {
                    meta: ConnMeta {
                        orig,
                        resp,
                        syn_seen: false,
                        synack_seen: false,
                        start_ts: ts,
                        last_ts: ts,
                        fin_ts: [None; 2],
                        rst_ts: [None; 2],
                        first_end: None,
                        gap_bytes: [0; 2],
                        gaps: 0,
                        snapped_segments: 0,
                        packets: [0; 2],
                        payload_bytes: [0; 2],
                        retransmitted_bytes: 0,
                        out_of_order_segments: 0,
                        buffer_limit_hit: false,
                        release: Release::Ended,
                    },
                    halves: [half(), half()],
                    handler,
                    closing_since: None,
                }),
            );
        }
        let Some(conn) = self.conns.get_mut(&k) else {
            return;
        };
        if conn.process(seg, ts) {
            self.release(k, Release::Ended, done);
        }
    }

    /// The capture ended: release every connection still open.
    pub fn finish(mut self, done: &mut impl FnMut(ConnMeta, H)) -> u64 {
        let mut keys: Vec<(i64, Key)> = self
            .conns
            .iter()
            .map(|(k, c)| (c.meta.start_ts, *k))
            .collect();
        keys.sort();
        for (_, k) in keys {
            let ended = self
                .conns
                .get(&k)
                .is_some_and(|c| c.closing_since.is_some());
            let why = if ended {
                Release::Ended
            } else {
                Release::CaptureEnd
            };
            self.release(k, why, done);
        }
        self.evicted
    }

    fn release(&mut self, k: Key, why: Release, done: &mut impl FnMut(ConnMeta, H)) {
        if let Some(mut c) = self.conns.remove(&k) {
            c.flush();
            c.meta.release = why;
            if why == Release::Ended {
                self.finished.insert(k, c.meta.last_ts);
            }
            done(c.meta, c.handler);
        }
    }

    fn sweep(&mut self, now: i64, done: &mut impl FnMut(ConnMeta, H)) {
        self.last_sweep = now;
        self.finished
            .retain(|_, t| now.saturating_sub(*t) < LINGER_NS);
        let mut ripe: Vec<(i64, Key)> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                c.closing_since
                    .is_some_and(|t| now.saturating_sub(t) >= LINGER_NS)
            })
            .map(|(k, c)| (c.meta.start_ts, *k))
            .collect();
        ripe.sort();
        for (_, k) in ripe {
            self.release(k, Release::Ended, done);
        }
    }

    /// The table is full: release the longest-idle sixteenth of it (at least one) in one
    /// pass, so a flood of new connections costs O(n) per n/16 evictions rather than a
    /// full scan per eviction. Which ones go depends only on the table's contents.
    fn evict_one(&mut self, done: &mut impl FnMut(ConnMeta, H)) {
        let mut idle: Vec<(i64, Key)> = self
            .conns
            .iter()
            .map(|(k, c)| (c.meta.last_ts, *k))
            .collect();
        let n = (idle.len() / 16).max(1).min(idle.len());
        if n == 0 {
            return;
        }
        if n < idle.len() {
            idle.select_nth_unstable(n - 1);
        }
        let mut victims: Vec<(i64, Key)> = idle[..n].to_vec();
        victims.sort_unstable();
        for (_, k) in victims {
            self.evicted += 1;
            self.release(k, Release::Evicted, done);
        }
        // Recently-finished entries are only there to ignore stray packets; under a
        // flood, keep them bounded by the table size too.
        if self.finished.len() > self.limits.max_conns {
            let mut old: Vec<(i64, Key)> = self.finished.iter().map(|(k, t)| (*t, *k)).collect();
            let excess = old.len() - self.limits.max_conns;
            old.select_nth_unstable(excess - 1);
            for (_, k) in &old[..excess] {
                self.finished.remove(k);
            }
        }
    }
}

impl<H: StreamHandler> Conn<H> {
    /// Handle one segment; returns true when the connection is over.
    fn process(&mut self, seg: &Segment<'_>, ts: i64) -> bool {
        let dir = if seg.src == self.meta.orig {
            Dir::Orig
        } else {
            Dir::Resp
        };
        let f = seg.flags;
        let d = dir.idx();
        let meta = &mut self.meta;
        meta.last_ts = ts;
        meta.packets[d] += 1;
        if f.syn {
            if f.ack {
                meta.synack_seen = true;
            } else {
                meta.syn_seen = true;
            }
            if !self.halves[d].reasm.is_started() {
                self.halves[d]
                    .reasm
                    .set_start(SeqNumber(seg.seq.wrapping_add(1)));
            }
        }
        let data_seq = if f.syn {
            seg.seq.wrapping_add(1)
        } else {
            seg.seq
        };
        let wants = self.handler.wants_data();
        let [h0, h1] = &mut self.halves;
        let (this, other) = if d == 0 { (h0, h1) } else { (h1, h0) };
        let handler = &mut self.handler;
        if wants {
            let len = seg.payload.len() + seg.missing as usize;
            if len > 0 {
                meta.payload_bytes[d] += len as u64;
                if !this.reasm.is_started() {
                    this.reasm.set_start(SeqNumber(data_seq));
                }
                let mut out = |c: Chunk<'_>| match c {
                    Chunk::Data(b) => handler.on_data(dir, b, ts),
                    Chunk::Gap(n) => handler.on_gap(dir, n, ts),
                };
                if !seg.payload.is_empty() {
                    this.reasm
                        .insert(SeqNumber(data_seq), seg.payload, &mut out);
                }
                if seg.missing > 0 {
                    meta.snapped_segments += 1;
                    // The snaplen cut this segment: what follows its captured part up to
                    // its end is a gap of known size.
                    this.reasm.ack(SeqNumber(data_seq) + len, &mut out);
                }
            }
            // The peer's ACK tells what it received: anything it acknowledged that we
            // never saw is a gap in the other direction.
            if f.ack && other.reasm.is_started() {
                let mut ack = SeqNumber(seg.ack);
                if let Some(fe) = other.fin_end {
                    // The FIN takes one sequence number but carries no byte.
                    if ack.distance_from(fe) >= 0 {
                        ack = fe - 1usize;
                    }
                }
                let od = dir.other();
                let mut out = |c: Chunk<'_>| match c {
                    Chunk::Data(b) => handler.on_data(od, b, ts),
                    Chunk::Gap(n) => handler.on_gap(od, n, ts),
                };
                other.reasm.ack(ack, &mut out);
            }
        }
        if f.fin {
            if meta.fin_ts[d].is_none() {
                meta.fin_ts[d] = Some(ts);
            }
            if meta.first_end.is_none() {
                meta.first_end = Some((dir, EndKind::Fin, ts));
            }
            let end = SeqNumber(data_seq) + (seg.payload.len() + seg.missing as usize + 1);
            this.fin_end.get_or_insert(end);
        }
        if f.rst {
            if meta.rst_ts[d].is_none() {
                meta.rst_ts[d] = Some(ts);
            }
            if meta.first_end.is_none() {
                meta.first_end = Some((dir, EndKind::Rst, ts));
            }
            return true;
        }
        if self.halves[0].fin_end.is_some() && self.halves[1].fin_end.is_some() {
            let complete = self
                .halves
                .iter()
                .all(|h| match (h.reasm.next_seq(), h.fin_end) {
                    (Some(n), Some(fe)) => n == fe - 1usize,
                    _ => true,
                });
            if complete || !wants {
                return true;
            }
            self.closing_since.get_or_insert(ts);
        }
        false
    }

    /// Deliver everything still held, with gaps for the holes, and collect statistics.
    fn flush(&mut self) {
        let ts = self.meta.last_ts;
        for (i, h) in self.halves.iter_mut().enumerate() {
            let dir = if i == 0 { Dir::Orig } else { Dir::Resp };
            let handler = &mut self.handler;
            if handler.wants_data() {
                let mut out = |c: Chunk<'_>| match c {
                    Chunk::Data(b) => handler.on_data(dir, b, ts),
                    Chunk::Gap(n) => handler.on_gap(dir, n, ts),
                };
                h.reasm.flush(&mut out);
            }
            let s = h.reasm.stats();
            self.meta.gap_bytes[i] = s.gap_bytes;
            self.meta.gaps += s.gaps;
            self.meta.retransmitted_bytes += s.retransmitted_bytes;
            self.meta.out_of_order_segments += s.out_of_order_segments;
            self.meta.buffer_limit_hit |= s.buffer_limit_hits > 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::link::Flags;

    /// Records what the table tells a handler, as text.
    #[derive(Default)]
    struct Rec {
        log: Vec<String>,
        stop: bool,
    }

    impl StreamHandler for Rec {
        fn on_data(&mut self, dir: Dir, data: &[u8], _ts: i64) {
            self.log
                .push(format!("{dir:?}:{}", String::from_utf8_lossy(data)));
        }
        fn on_gap(&mut self, dir: Dir, len: u64, _ts: i64) {
            self.log.push(format!("{dir:?}:gap{len}"));
        }
        fn wants_data(&self) -> bool {
            !self.stop
        }
    }

    const C: &str = "10.0.0.1:40000";
    const S: &str = "10.0.0.2:80";

    fn seg<'a>(
        src: &str,
        dst: &str,
        seq: u32,
        ack: u32,
        flags: &str,
        payload: &'a [u8],
    ) -> Segment<'a> {
        Segment {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            seq,
            ack,
            flags: Flags {
                syn: flags.contains('S'),
                ack: flags.contains('A'),
                fin: flags.contains('F'),
                rst: flags.contains('R'),
            },
            payload,
            missing: 0,
        }
    }

    fn run(segs: &[Segment<'_>]) -> Vec<(ConnMeta, Vec<String>)> {
        let mut out = Vec::new();
        let mut t = ConnTable::new(Limits::default(), |_, _| Rec::default());
        for (i, s) in segs.iter().enumerate() {
            t.segment(s, i as i64 * 1000, &mut |m, h: Rec| out.push((m, h.log)));
        }
        t.finish(&mut |m, h: Rec| out.push((m, h.log)));
        out
    }

    fn handshake() -> Vec<Segment<'static>> {
        vec![
            seg(C, S, 100, 0, "S", b""),
            seg(S, C, 500, 101, "SA", b""),
            seg(C, S, 101, 501, "A", b""),
        ]
    }

    #[test]
    fn reordered_segments_are_delivered_in_stream_order() {
        let mut s = handshake();
        s.push(seg(C, S, 104, 501, "A", b"def"));
        s.push(seg(C, S, 101, 501, "A", b"abc"));
        s.push(seg(S, C, 501, 107, "A", b"ok"));
        let out = run(&s);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].1, vec!["Orig:abc", "Orig:def", "Resp:ok"]);
        assert_eq!(out[0].0.release, Release::CaptureEnd);
        assert!(!out[0].0.midstream());
    }

    #[test]
    fn fin_from_both_sides_ends_the_connection_and_late_acks_open_nothing() {
        let mut s = handshake();
        s.push(seg(C, S, 101, 501, "A", b"hi"));
        s.push(seg(S, C, 501, 103, "AF", b""));
        s.push(seg(C, S, 103, 502, "AF", b""));
        s.push(seg(S, C, 502, 104, "A", b""));
        s.push(seg(S, C, 502, 104, "A", b"")); // duplicate trailing ACK
        let out = run(&s);
        assert_eq!(
            out.len(),
            1,
            "a trailing ACK must not open a phantom connection"
        );
        let m = &out[0].0;
        assert_eq!(m.release, Release::Ended);
        assert_eq!(
            m.first_end.map(|(d, k, _)| (d, k)),
            Some((Dir::Resp, EndKind::Fin))
        );
    }

    #[test]
    fn a_new_syn_after_the_end_is_a_new_connection_on_the_same_ports() {
        let mut s = handshake();
        s.push(seg(C, S, 101, 501, "A", b"one"));
        s.push(seg(C, S, 104, 501, "AR", b""));
        s.push(seg(C, S, 9000, 0, "S", b""));
        s.push(seg(S, C, 7000, 9001, "SA", b""));
        s.push(seg(C, S, 9001, 7001, "A", b"two"));
        let out = run(&s);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].1, vec!["Orig:one"]);
        assert_eq!(
            out[0].0.first_end.map(|(d, k, _)| (d, k)),
            Some((Dir::Orig, EndKind::Rst))
        );
        assert_eq!(out[1].1, vec!["Orig:two"]);
        assert!(out[1].0.syn_seen);
    }

    #[test]
    fn syn_ack_seen_first_still_makes_its_receiver_the_opener() {
        let s = vec![
            seg(S, C, 500, 101, "SA", b""),
            seg(C, S, 101, 501, "A", b"GET"),
        ];
        let out = run(&s);
        assert_eq!(out[0].0.orig, C.parse().unwrap());
        assert_eq!(out[0].1, vec!["Orig:GET"]);
        // A SYN-ACK is the start of the connection: not mid-stream.
        assert!(out[0].0.synack_seen && !out[0].0.syn_seen);
        assert!(!out[0].0.midstream());
    }

    #[test]
    fn data_the_peer_acknowledged_but_the_capture_missed_is_a_gap() {
        let mut s = handshake();
        s.push(seg(C, S, 101, 501, "A", b"abc"));
        // 104..110 never captured; the server acknowledges up to 110.
        s.push(seg(S, C, 501, 110, "A", b""));
        s.push(seg(C, S, 110, 501, "A", b"xyz"));
        let out = run(&s);
        assert_eq!(out[0].1, vec!["Orig:abc", "Orig:gap6", "Orig:xyz"]);
        assert_eq!(out[0].0.gap_bytes[0], 6);
    }

    #[test]
    fn keepalive_probe_below_the_window_is_not_data() {
        let mut s = handshake();
        s.push(seg(C, S, 101, 501, "A", b"abc"));
        s.push(seg(C, S, 103, 501, "A", b"c")); // keep-alive: 1 byte at next-1
        s.push(seg(C, S, 104, 501, "A", b"d"));
        let out = run(&s);
        assert_eq!(out[0].1, vec!["Orig:abc", "Orig:d"]);
    }

    #[test]
    fn midstream_connection_starts_at_its_first_payload() {
        let s = vec![
            seg(C, S, 5000, 9000, "A", b"xy"),
            seg(S, C, 9000, 5002, "A", b"z"),
        ];
        let out = run(&s);
        assert!(out[0].0.midstream());
        assert_eq!(out[0].1, vec!["Orig:xy", "Resp:z"]);
    }

    #[test]
    fn sequence_numbers_wrap_without_losing_bytes() {
        let s = vec![
            seg(C, S, u32::MAX - 2, 0, "S", b""),
            seg(S, C, 10, u32::MAX - 1, "SA", b""),
            seg(C, S, u32::MAX - 1, 11, "A", b"abcd"),
            seg(C, S, 2, 11, "A", b"ef"),
        ];
        let out = run(&s);
        assert_eq!(out[0].1, vec!["Orig:abcd", "Orig:ef"]);
    }

    #[test]
    fn a_full_table_evicts_the_longest_idle_connection_and_says_so() {
        let mut out = Vec::new();
        let limits = Limits {
            max_conns: 2,
            ..Limits::default()
        };
        let mut t = ConnTable::new(limits, |_, _| Rec::default());
        for (i, port) in [1u16, 2, 3].iter().enumerate() {
            let src = format!("10.0.0.1:{port}");
            t.segment(&seg(&src, S, 1, 0, "S", b""), i as i64, &mut |m, h: Rec| {
                out.push((m, h.log))
            });
        }
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0.release, Release::Evicted);
        assert_eq!(out[0].0.orig.port(), 1);
        assert_eq!(t.open_connections(), 2);
    }

    #[test]
    fn a_tracked_connection_stays_small() {
        // The memory bound of the connection table rests on this (see `Limits`).
        let size = std::mem::size_of::<Conn<crate::session::tracker::Tracker>>();
        assert!(size <= 800, "Conn is {size} bytes");
    }

    #[test]
    fn once_the_handler_stops_wanting_data_nothing_is_buffered() {
        let mut out = Vec::new();
        let mut t = ConnTable::new(Limits::default(), |_, _| Rec {
            stop: true,
            ..Rec::default()
        });
        for s in handshake() {
            t.segment(&s, 0, &mut |m, h: Rec| out.push((m, h.log)));
        }
        t.segment(
            &seg(C, S, 200, 501, "A", b"far ahead"),
            1,
            &mut |m, h: Rec| out.push((m, h.log)),
        );
        t.finish(&mut |m, h: Rec| out.push((m, h.log)));
        assert!(out[0].1.is_empty());
    }

    /// Like [`run`], with each segment's capture time given.
    fn run_at(segs: &[(i64, Segment<'_>)], limits: Limits) -> Vec<(ConnMeta, Vec<String>)> {
        let mut out = Vec::new();
        let mut t = ConnTable::new(limits, |_, _| Rec::default());
        for (ts, s) in segs {
            t.segment(s, *ts, &mut |m, h: Rec| out.push((m, h.log)));
        }
        t.finish(&mut |m, h: Rec| out.push((m, h.log)));
        out
    }

    const SEC: i64 = 1_000_000_000;

    #[test]
    fn the_connection_facts_are_counted_per_direction() {
        let segs = [
            (10, seg(C, S, 100, 0, "S", b"")),
            (20, seg(S, C, 500, 101, "SA", b"")),
            (30, seg(C, S, 101, 501, "A", b"abc")),
            (40, seg(S, C, 501, 104, "A", b"hello")),
            (50, seg(C, S, 104, 506, "AF", b"")),
            (60, seg(S, C, 506, 105, "AF", b"")),
            (70, seg(C, S, 105, 507, "A", b"")),
        ];
        let out = run_at(&segs, Limits::default());
        assert_eq!(out.len(), 1, "the last ACK belongs to the ended connection");
        let (m, log) = &out[0];
        assert_eq!(log, &["Orig:abc", "Resp:hello"]);
        assert_eq!((m.orig, m.resp), (C.parse().unwrap(), S.parse().unwrap()));
        assert!(m.syn_seen && m.synack_seen && !m.midstream());
        assert_eq!((m.start_ts, m.last_ts), (10, 60));
        assert_eq!(m.packets, [3, 3]);
        assert_eq!(m.payload_bytes, [3, 5]);
        assert_eq!(m.fin_ts, [Some(50), Some(60)]);
        assert_eq!(m.rst_ts, [None, None]);
        assert_eq!(m.first_end, Some((Dir::Orig, EndKind::Fin, 50)));
        assert_eq!(m.release, Release::Ended);
        assert_eq!((m.gaps, m.gap_bytes, m.snapped_segments), (0, [0, 0], 0));
        assert!(!m.buffer_limit_hit);
        assert_eq!(m.addr(Dir::Orig), m.orig);
        assert_eq!(m.addr(Dir::Resp), m.resp);
        assert_eq!(Dir::Orig.other(), Dir::Resp);
        assert_eq!(Dir::Resp.other(), Dir::Orig);
    }

    #[test]
    fn rst_times_are_kept_per_side_and_the_first_end_is_the_first() {
        let mut s: Vec<(i64, Segment<'_>)> = handshake().into_iter().map(|x| (0, x)).collect();
        s.push((5, seg(S, C, 501, 101, "R", b"")));
        let out = run_at(&s, Limits::default());
        let m = &out[0].0;
        assert_eq!(m.rst_ts, [None, Some(5)]);
        assert_eq!(m.first_end, Some((Dir::Resp, EndKind::Rst, 5)));
        assert_eq!(m.release, Release::Ended);
    }

    #[test]
    fn a_snaplen_cut_segment_is_counted_and_its_missing_bytes_are_a_gap() {
        let mut s: Vec<(i64, Segment<'_>)> = handshake().into_iter().map(|x| (0, x)).collect();
        let mut cut = seg(C, S, 101, 501, "A", b"abc");
        cut.missing = 4;
        s.push((1, cut));
        s.push((2, seg(C, S, 108, 501, "A", b"xy")));
        let out = run_at(&s, Limits::default());
        let (m, log) = &out[0];
        assert_eq!(log, &["Orig:abc", "Orig:gap4", "Orig:xy"]);
        assert_eq!(m.snapped_segments, 1);
        assert_eq!(m.payload_bytes, [3 + 4 + 2, 0]);
        assert_eq!((m.gaps, m.gap_bytes), (1, [4, 0]));
    }

    #[test]
    fn both_fins_with_bytes_missing_wait_for_them_then_are_released_after_30_s() {
        // 104..107 never arrive; both sides FIN.
        let mut s: Vec<(i64, Segment<'_>)> = handshake().into_iter().map(|x| (0, x)).collect();
        s.push((1, seg(C, S, 101, 501, "A", b"abc")));
        s.push((2, seg(C, S, 107, 501, "AF", b"xyz")));
        s.push((3, seg(S, C, 501, 101, "AF", b"")));
        // Another connection's packets move the clock on.
        let other = "10.0.0.3:5000";
        s.push((29 * SEC, seg(other, S, 1, 0, "S", b"")));
        let out = run_at(&s, Limits::default());
        // Still held at 29 s: released at the end of the capture, as ended.
        assert_eq!(out.len(), 2);
        let m = &out[0].0;
        assert_eq!(m.release, Release::Ended);
        assert_eq!(out[0].1, vec!["Orig:abc", "Orig:gap3", "Orig:xyz"]);

        let mut s2 = s.clone();
        s2.pop();
        s2.push((31 * SEC, seg(other, S, 1, 0, "S", b"")));
        let mut out = Vec::new();
        let mut t = ConnTable::new(Limits::default(), |_, _| Rec::default());
        for (ts, x) in &s2 {
            t.segment(x, *ts, &mut |m, h: Rec| out.push((m, h.log)));
        }
        // Swept before the last SYN is looked at.
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0.release, Release::Ended);
        assert_eq!(out[0].0.gap_bytes, [3, 0]);
        assert_eq!(t.open_connections(), 1);
    }

    #[test]
    fn stray_packets_of_an_ended_connection_open_nothing_for_30_s() {
        let mut s: Vec<(i64, Segment<'_>)> = handshake().into_iter().map(|x| (0, x)).collect();
        s.push((1, seg(C, S, 101, 501, "AR", b"")));
        s.push((10 * SEC, seg(C, S, 101, 501, "A", b"late")));
        let out = run_at(&s, Limits::default());
        assert_eq!(out.len(), 1, "within 30 s: ignored");
        s.pop();
        s.push((31 * SEC, seg(C, S, 101, 501, "A", b"late")));
        let out = run_at(&s, Limits::default());
        assert_eq!(out.len(), 2, "after 30 s: a new, mid-stream connection");
        assert!(out[1].0.midstream());
        assert_eq!(out[1].1, vec!["Orig:late"]);
    }

    #[test]
    fn a_reset_or_an_empty_ack_of_an_unknown_connection_opens_nothing() {
        let out = run(&[
            seg(C, S, 1, 1, "R", b""),
            seg(C, S, 1, 1, "A", b""),
            seg(C, S, 1, 1, "AR", b""),
        ]);
        assert!(out.is_empty());
        // A snaplen-cut segment with no captured byte still carries a length.
        let mut cut = seg(C, S, 1, 1, "A", b"");
        cut.missing = 10;
        assert_eq!(run(&[cut]).len(), 1);
    }

    #[test]
    fn a_syn_with_another_isn_after_data_is_a_new_connection() {
        let mut s = handshake();
        s.push(seg(C, S, 101, 501, "A", b"one"));
        s.push(seg(C, S, 9000, 0, "S", b""));
        s.push(seg(S, C, 7000, 9001, "SA", b""));
        s.push(seg(C, S, 9001, 7001, "A", b"two"));
        let out = run(&s);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].1, vec!["Orig:one"]);
        assert_eq!(out[0].0.release, Release::Ended);
        assert_eq!(out[1].1, vec!["Orig:two"]);
        // A late duplicate of the first SYN after data is the same connection.
        let mut s = handshake();
        s.push(seg(C, S, 101, 501, "A", b"one"));
        s.push(seg(C, S, 100, 0, "S", b""));
        s.push(seg(C, S, 104, 501, "A", b"two"));
        let out = run(&s);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].1, vec!["Orig:one", "Orig:two"]);
        // A retransmitted SYN before any data is the same connection.
        let mut s = vec![seg(C, S, 100, 0, "S", b""), seg(C, S, 100, 0, "S", b"")];
        s.extend(handshake().into_iter().skip(1));
        s.push(seg(C, S, 101, 501, "A", b"one"));
        let out = run(&s);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].1, vec!["Orig:one"]);
    }

    #[test]
    fn a_full_table_evicts_its_idlest_sixteenth_and_counts_them() {
        let limits = Limits {
            max_conns: 32,
            ..Limits::default()
        };
        let mut out = Vec::new();
        let mut t = ConnTable::new(limits, |_, _| Rec::default());
        for i in 0..33u16 {
            let src = format!("10.0.0.1:{}", 1000 + i);
            t.segment(
                &seg(&src, S, 1, 0, "S", b""),
                i64::from(i),
                &mut |m, h: Rec| out.push((m, h.log)),
            );
        }
        // 33 > 32: the two idlest (32 / 16) go.
        let ports: Vec<u16> = out.iter().map(|(m, _)| m.orig.port()).collect();
        assert_eq!(ports, [1000, 1001]);
        assert!(out.iter().all(|(m, _)| m.release == Release::Evicted));
        assert_eq!(t.open_connections(), 31);
        assert_eq!(t.evicted, 2);
        let evicted = t.finish(&mut |m, h: Rec| out.push((m, h.log)));
        assert_eq!(evicted, 2);
        assert_eq!(out.len(), 33);
        // The rest are released at the end of the capture, oldest first.
        let rest: Vec<u16> = out[2..].iter().map(|(m, _)| m.orig.port()).collect();
        assert_eq!(rest, (1002..1033).collect::<Vec<_>>());
        assert!(out[2..]
            .iter()
            .all(|(m, _)| m.release == Release::CaptureEnd));
    }

    #[test]
    fn the_default_limits_are_the_documented_ones() {
        let l = Limits::default();
        assert_eq!((l.max_conns, l.max_buffered), (200_000, 4 << 20));
    }

    #[test]
    fn both_directions_make_one_key_and_addresses_fold_apart() {
        let (a, b): (SocketAddr, SocketAddr) = (C.parse().unwrap(), S.parse().unwrap());
        assert_eq!(key(a, b), key(b, a));
        assert_eq!(addr_bits(&a), (0x0a00_0001u128 << 16) | 40000);
        let v6: SocketAddr = "[::1]:443".parse().unwrap();
        assert_eq!(addr_bits(&v6), 1 ^ (443u128 << 100));
    }

    /// A reset after a FIN (a segment without ACK) still belongs to the connection.
    #[test]
    fn a_reset_after_a_fin_is_recorded_on_the_same_connection() {
        let mut s: Vec<(i64, Segment<'_>)> = handshake().into_iter().map(|x| (0, x)).collect();
        s.push((1, seg(C, S, 101, 501, "AF", b"")));
        s.push((2, seg(C, S, 102, 0, "R", b"")));
        let out = run_at(&s, Limits::default());
        assert_eq!(out.len(), 1);
        let m = &out[0].0;
        assert_eq!(m.fin_ts, [Some(1), None]);
        assert_eq!(m.rst_ts, [Some(2), None]);
        assert_eq!(m.first_end, Some((Dir::Orig, EndKind::Fin, 1)));
    }

    /// What the reassemblers saw reaches the connection's facts: retransmitted bytes,
    /// segments out of order, and a buffer cap that was hit.
    #[test]
    fn reassembly_statistics_reach_the_connection_facts() {
        let mut s: Vec<(i64, Segment<'_>)> = handshake().into_iter().map(|x| (0, x)).collect();
        s.push((1, seg(C, S, 101, 501, "A", b"abc")));
        s.push((2, seg(C, S, 101, 501, "A", b"abc"))); // retransmitted
        s.push((3, seg(C, S, 110, 501, "A", b"12345678"))); // ahead of a hole
        s.push((4, seg(C, S, 104, 501, "A", b"def")));
        s.push((5, seg(S, C, 501, 101, "A", b"ok")));
        let limits = Limits {
            max_buffered: 4,
            ..Limits::default()
        };
        let out = run_at(&s, limits);
        assert!(out[0].0.buffer_limit_hit, "8 bytes held over a cap of 4");
        // Within the cap: not hit.
        let out = run_at(&s, Limits::default());
        let m = &out[0].0;
        assert!(!m.buffer_limit_hit);
        assert_eq!(m.retransmitted_bytes, 3);
        assert_eq!(m.out_of_order_segments, 1);
    }
}
