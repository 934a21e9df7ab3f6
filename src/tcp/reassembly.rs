//! Reassembly of one direction of a TCP connection into an ordered byte stream.
//!
//! Contract:
//! - Input: segments as `(sequence number, payload)`, in capture order, which may be out
//!   of order, duplicated, overlapping, or missing; plus the peer's acknowledgements.
//! - Output: [`Chunk`]s passed to a callback, strictly in stream order. Each stream byte
//!   position is reported at most once, as data or as part of a [`Chunk::Gap`]; the
//!   concatenation of all chunks (a gap counting as that many unknown bytes) is a prefix
//!   of the stream as the receiver saw it, starting at the stream start.
//! - Overlaps follow [`OverlapPolicy::First`]: bytes already delivered or already held
//!   are kept; a later copy only fills holes. Duplicate bytes are counted, not compared.
//! - Gaps are events, never silent: a hole becomes a [`Chunk::Gap`] when the peer acks
//!   past it ([`Reassembler::ack`]), when holding more out-of-order data would break the
//!   memory cap, or at the end of the stream ([`Reassembler::flush`]). Bytes of a hole
//!   that arrive after it was declared a gap are dropped as retransmissions.
//! - Memory: held out-of-order bytes never exceed `max_buffered` (each held segment is an
//!   exactly sized copy), and held segments never exceed `max_segments`.
//! - Positions are `u64` offsets from the stream start, so streams longer than 4 GiB are
//!   fine. A segment is placed by the signed 32-bit distance from
//!   [`Reassembler::next_seq`] to its sequence number: `[-2^31, 0)` is behind (trimmed as
//!   a retransmission, or ignored where it lies before the stream start), `[0, MAX_AHEAD]`
//!   is ahead and placed, and anything further ahead is ignored as garbage (see
//!   [`MAX_AHEAD`]). A segment more than 2^31 behind looks ahead; it is ignored unless it
//!   lands within [`MAX_AHEAD`], which takes data 3 to 4 GiB old, no live peer's.
//! - Untrusted input never panics; the only copies are held payload, bounded by the caps.
//!
//! The common case is cheap: an in-order segment with nothing held goes straight to the
//! callback as a slice of the caller's buffer, with no copy and no map lookup.

use std::collections::BTreeMap;

use super::seq::SeqNumber;

/// Default cap on held out-of-order bytes per direction (4 MiB).
pub const DEFAULT_MAX_BUFFERED: usize = 4 << 20;

/// Default cap on held out-of-order segments per direction.
pub const DEFAULT_MAX_SEGMENTS: usize = 4096;

/// Data or acks more than this far (1 GiB) ahead of [`Reassembler::next_seq`] are taken
/// to be garbage and ignored. 1 GiB is the largest window TCP can advertise (window
/// scale 14), so a sender cannot legitimately be further ahead of what its receiver
/// acked; it also keeps well inside the 2^31 range where sequence distances are defined.
pub const MAX_AHEAD: u64 = 1 << 30;

/// How overlapping copies of the same stream bytes are resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OverlapPolicy {
    /// The first copy captured wins: bytes already delivered or held are kept, and a
    /// later copy only fills holes. This matches most receivers (Linux, Windows) for
    /// already-acked data, and is the only policy that needs no re-delivery.
    First,
}

impl OverlapPolicy {
    /// A stable name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            OverlapPolicy::First => "first",
        }
    }
}

/// One piece of the reassembled stream, in stream order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// Stream bytes, in order, right after the previous chunk.
    Data(&'a [u8]),
    /// This many stream bytes (always > 0) were never captured: the receiver got them
    /// (or the stream ended after them) but we cannot know what they were.
    Gap(u64),
}

/// Counters for one direction. All are totals since [`Reassembler::new`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReassemblyStats {
    /// Bytes passed out as [`Chunk::Data`].
    pub bytes_delivered: u64,
    /// Bytes passed out as [`Chunk::Gap`].
    pub gap_bytes: u64,
    /// Number of [`Chunk::Gap`]s passed out.
    pub gaps: u64,
    /// Payload bytes dropped because those stream bytes had already been delivered, held,
    /// or declared a gap (retransmissions, keep-alive probes, overlaps).
    pub retransmitted_bytes: u64,
    /// Segments that carried at least one such already-seen byte.
    pub overlaps: u64,
    /// Segments (or their new parts) that arrived ahead of a hole and were held.
    pub out_of_order_segments: u64,
    /// Inserts where holding the segment would break a memory cap, so a gap was forced.
    pub buffer_limit_hits: u64,
    /// Payload bytes ignored because they lie before the stream start (e.g. older than
    /// the first segment of a mid-stream capture) or more than [`MAX_AHEAD`] ahead.
    pub ignored_bytes: u64,
}

/// Reassembles one direction of a TCP connection. See the module docs for the contract.
///
/// Invariants (relied on by every method; the tests check them after every call):
/// - every held segment is non-empty and starts strictly after `next` (a segment starting
///   at or before `next` is delivered or trimmed at once);
/// - held segments do not overlap one another;
/// - `buffered` is the sum of held segment lengths, `<= max_buffered`;
/// - `held.len() <= max_segments`.
#[derive(Debug)]
pub struct Reassembler {
    max_buffered: usize,
    max_segments: usize,
    /// Sequence number of stream offset 0; `None` until the stream start is known.
    start: Option<SeqNumber>,
    /// Offset of the next byte to deliver.
    next: u64,
    /// Out-of-order segments by stream offset.
    held: BTreeMap<u64, Vec<u8>>,
    buffered: usize,
    stats: ReassemblyStats,
}

impl Reassembler {
    /// A reassembler that holds at most `max_buffered` out-of-order bytes (e.g.
    /// [`DEFAULT_MAX_BUFFERED`]) in at most [`DEFAULT_MAX_SEGMENTS`] segments.
    pub fn new(max_buffered: usize) -> Self {
        Self::with_limits(max_buffered, DEFAULT_MAX_SEGMENTS)
    }

    /// Like [`Reassembler::new`] with an explicit cap on held segments too.
    pub fn with_limits(max_buffered: usize, max_segments: usize) -> Self {
        Reassembler {
            max_buffered,
            max_segments,
            start: None,
            next: 0,
            held: BTreeMap::new(),
            buffered: 0,
            stats: ReassemblyStats::default(),
        }
    }

    /// The overlap policy in force (always [`OverlapPolicy::First`]).
    pub fn overlap_policy(&self) -> OverlapPolicy {
        OverlapPolicy::First
    }

    /// Stream data starts at `seq` (the SYN's seq + 1; data carried on a SYN is inserted
    /// at that same seq + 1). If never called, the first segment inserted defines the
    /// start (mid-stream capture). Has no effect once the stream has started: the first
    /// start seen wins.
    pub fn set_start(&mut self, seq: SeqNumber) {
        if self.start.is_none() {
            self.start = Some(seq);
        }
    }

    /// The sequence number the stream starts at (the SYN's seq + 1 when the SYN was
    /// seen), if known.
    pub fn start_seq(&self) -> Option<SeqNumber> {
        self.start
    }

    /// Whether the stream start is known.
    pub fn is_started(&self) -> bool {
        self.start.is_some()
    }

    /// Next expected sequence number, if started.
    pub fn next_seq(&self) -> Option<SeqNumber> {
        // Truncating the offset is sequence arithmetic modulo 2^32.
        self.start
            .map(|s| SeqNumber(s.0.wrapping_add(self.next as u32)))
    }

    /// Stream offset of the next byte to be delivered: the number of bytes passed out so
    /// far, data and gaps together.
    pub fn next_offset(&self) -> u64 {
        self.next
    }

    /// Out-of-order bytes currently held.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered
    }

    /// Counters so far.
    pub fn stats(&self) -> &ReassemblyStats {
        &self.stats
    }

    /// Inserts a segment's payload. In-order data is passed to `out` at once, zero-copy
    /// (a slice of `data`); out-of-order data is copied and held; data already delivered
    /// (retransmission, keep-alive probe one byte below `next_seq`) is trimmed and
    /// counted. After an in-order insert, held segments that became contiguous are
    /// delivered too. Zero-length payloads are no-ops (and do not start the stream).
    pub fn insert(&mut self, seq: SeqNumber, data: &[u8], out: &mut impl FnMut(Chunk<'_>)) {
        if data.is_empty() {
            return;
        }
        let start = *self.start.get_or_insert(seq);
        let next_seq = SeqNumber(start.0.wrapping_add(self.next as u32));
        let ahead = seq - next_seq;
        if ahead > MAX_AHEAD as i64 {
            self.stats.ignored_bytes += data.len() as u64;
            return;
        }
        // `next` is far below 2^63, so this cannot overflow.
        let signed_off = self.next as i64 + ahead;
        let (off, mut data) = if signed_off < 0 {
            let before = signed_off.unsigned_abs().min(data.len() as u64) as usize;
            self.stats.ignored_bytes += before as u64;
            (0, &data[before..])
        } else {
            (signed_off as u64, data)
        };
        if data.is_empty() {
            return;
        }

        let mut duplicate = 0u64;
        let mut limit_hit = false;
        loop {
            if off <= self.next {
                let seen = (self.next - off).min(data.len() as u64) as usize;
                duplicate += seen as u64;
                data = &data[seen..];
                if !data.is_empty() {
                    duplicate += self.deliver_in_order(data, out);
                }
                break;
            }
            let end = off + data.len() as u64;
            let pieces = self.uncovered(off, end);
            let new_bytes: u64 = pieces.iter().map(|&(a, b)| b - a).sum();
            if new_bytes == 0 {
                duplicate += data.len() as u64;
                break;
            }
            let fits = self.buffered as u64 + new_bytes <= self.max_buffered as u64
                && self.held.len() + pieces.len() <= self.max_segments;
            if fits {
                duplicate += data.len() as u64 - new_bytes;
                for (a, b) in pieces {
                    let piece = &data[(a - off) as usize..(b - off) as usize];
                    self.held.insert(a, piece.to_vec());
                }
                self.buffered += new_bytes as usize;
                self.stats.out_of_order_segments += 1;
                break;
            }
            // Holding this would break a cap: give up on the earliest hole, then retry.
            // Each round delivers at least one held segment or reaches `off`, so this ends.
            limit_hit = true;
            let earliest = self.held.keys().next().map_or(off, |&k| k.min(off));
            self.skip_to(earliest, out);
        }
        if limit_hit {
            self.stats.buffer_limit_hits += 1;
        }
        if duplicate > 0 {
            self.stats.overlaps += 1;
            self.stats.retransmitted_bytes += duplicate;
        }
    }

    /// The peer acknowledged up to `ack`: bytes before `ack` that were never seen reached
    /// the receiver but not the capture. Emits a gap up to `ack` (or up to the first held
    /// segment before it), delivers held data that became contiguous, and repeats until
    /// `next_seq` reaches `ack`. Acks at or behind `next_seq`, acks more than
    /// [`MAX_AHEAD`] ahead (garbage, or a sequence space we lost track of), and acks
    /// before the stream has started are ignored.
    pub fn ack(&mut self, ack: SeqNumber, out: &mut impl FnMut(Chunk<'_>)) {
        let Some(next_seq) = self.next_seq() else {
            return;
        };
        let ahead = ack - next_seq;
        if ahead <= 0 || ahead > MAX_AHEAD as i64 {
            return;
        }
        let target = self.next + ahead as u64;
        while self.next < target {
            let to = self.held.keys().next().map_or(target, |&k| k.min(target));
            self.skip_to(to, out);
        }
    }

    /// End of stream (FIN, RST or end of capture): delivers all held segments in order,
    /// with [`Chunk::Gap`]s for the holes between them. Bytes after the last held segment
    /// are unknown and not reported. The reassembler stays usable afterwards.
    pub fn flush(&mut self, out: &mut impl FnMut(Chunk<'_>)) {
        while let Some(&first) = self.held.keys().next() {
            self.skip_to(first, out);
        }
    }

    /// Delivers `data`, which starts exactly at `next`, merging in held segments it runs
    /// into (held bytes win), then whatever held data became contiguous. Returns how many
    /// bytes of `data` were dropped because they were already held.
    fn deliver_in_order(&mut self, mut data: &[u8], out: &mut impl FnMut(Chunk<'_>)) -> u64 {
        let mut duplicate = 0u64;
        while !data.is_empty() {
            let end = self.next + data.len() as u64;
            match self.held.first_entry() {
                Some(held) if *held.key() < end => {
                    let fresh = (*held.key() - self.next) as usize;
                    let seg = held.remove();
                    self.buffered -= seg.len();
                    if fresh > 0 {
                        self.emit_data(&data[..fresh], out);
                    }
                    self.emit_data(&seg, out);
                    let seen = seg.len().min(data.len() - fresh);
                    duplicate += seen as u64;
                    data = &data[fresh + seen..];
                }
                _ => {
                    self.emit_data(data, out);
                    break;
                }
            }
        }
        self.drain_contiguous(out);
        duplicate
    }

    /// Declares `[next, to)` a gap (if non-empty), then delivers held data that became
    /// contiguous.
    fn skip_to(&mut self, to: u64, out: &mut impl FnMut(Chunk<'_>)) {
        if to > self.next {
            let n = to - self.next;
            self.next = to;
            self.stats.gaps += 1;
            self.stats.gap_bytes += n;
            out(Chunk::Gap(n));
        }
        self.drain_contiguous(out);
    }

    /// Delivers held segments while the first one starts at `next`.
    fn drain_contiguous(&mut self, out: &mut impl FnMut(Chunk<'_>)) {
        while let Some(held) = self.held.first_entry() {
            debug_assert!(*held.key() >= self.next, "held segment behind next");
            if *held.key() != self.next {
                break;
            }
            let seg = held.remove();
            self.buffered -= seg.len();
            self.emit_data(&seg, out);
        }
    }

    fn emit_data(&mut self, data: &[u8], out: &mut impl FnMut(Chunk<'_>)) {
        self.next += data.len() as u64;
        self.stats.bytes_delivered += data.len() as u64;
        out(Chunk::Data(data));
    }

    /// The parts of `[off, end)` not covered by held segments, in order. `off > next`.
    fn uncovered(&self, off: u64, end: u64) -> Vec<(u64, u64)> {
        let mut pieces = Vec::new();
        let mut pos = off;
        if let Some((&k, seg)) = self.held.range(..off).next_back() {
            pos = pos.max(k + seg.len() as u64);
        }
        for (&k, seg) in self.held.range(off..end) {
            if k > pos {
                pieces.push((pos, k));
            }
            pos = pos.max(k + seg.len() as u64);
        }
        if pos < end {
            pieces.push((pos, end));
        }
        pieces
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// An owned [`Chunk`], for comparing what came out.
    #[derive(Clone, Debug, PartialEq, Eq)]
    enum Ev {
        Data(Vec<u8>),
        Gap(u64),
    }

    fn own(c: Chunk<'_>) -> Ev {
        match c {
            Chunk::Data(d) => Ev::Data(d.to_vec()),
            Chunk::Gap(n) => Ev::Gap(n),
        }
    }

    impl Reassembler {
        /// Checks the invariants documented on the type.
        fn check_invariants(&self) {
            let mut pos = self.next;
            let mut sum = 0;
            for (&k, seg) in &self.held {
                assert!(!seg.is_empty(), "empty held segment at {k}");
                assert!(
                    k > self.next,
                    "held segment at {k} not after next {}",
                    self.next
                );
                assert!(k >= pos, "held segment at {k} overlaps the previous one");
                pos = k + seg.len() as u64;
                sum += seg.len();
            }
            assert_eq!(sum, self.buffered);
            assert!(self.buffered <= self.max_buffered);
            assert!(self.held.len() <= self.max_segments);
        }
    }

    /// Inserts and returns what came out.
    fn ins(r: &mut Reassembler, seq: u32, data: &[u8]) -> Vec<Ev> {
        let mut ev = Vec::new();
        r.insert(SeqNumber(seq), data, &mut |c| ev.push(own(c)));
        r.check_invariants();
        ev
    }

    fn ack(r: &mut Reassembler, seq: u32) -> Vec<Ev> {
        let mut ev = Vec::new();
        r.ack(SeqNumber(seq), &mut |c| ev.push(own(c)));
        r.check_invariants();
        ev
    }

    fn flush(r: &mut Reassembler) -> Vec<Ev> {
        let mut ev = Vec::new();
        r.flush(&mut |c| ev.push(own(c)));
        r.check_invariants();
        ev
    }

    fn d(b: &[u8]) -> Ev {
        Ev::Data(b.to_vec())
    }

    fn started_at(seq: u32) -> Reassembler {
        let mut r = Reassembler::new(DEFAULT_MAX_BUFFERED);
        r.set_start(SeqNumber(seq));
        r
    }

    // ---- unit scenarios ----

    #[test]
    fn in_order_segments_pass_through_zero_copy() {
        let mut r = started_at(1000);
        let payload = b"hello".to_vec();
        let mut ptr = None;
        r.insert(SeqNumber(1000), &payload, &mut |c| {
            if let Chunk::Data(s) = c {
                ptr = Some(s.as_ptr());
            }
        });
        assert_eq!(
            ptr,
            Some(payload.as_ptr()),
            "in-order data must be the caller's slice"
        );
        assert_eq!(ins(&mut r, 1005, b" world"), vec![d(b" world")]);
        assert_eq!(r.next_seq(), Some(SeqNumber(1011)));
        assert_eq!(r.next_offset(), 11);
        assert_eq!(r.stats().bytes_delivered, 11);
        assert_eq!(r.buffered_bytes(), 0);
        assert_eq!(
            r.stats(),
            &ReassemblyStats {
                bytes_delivered: 11,
                ..Default::default()
            }
        );
    }

    #[test]
    fn two_reordered_segments_are_delivered_in_order() {
        let mut r = started_at(0);
        assert_eq!(ins(&mut r, 3, b"def"), vec![]);
        assert_eq!(r.buffered_bytes(), 3);
        assert_eq!(ins(&mut r, 0, b"abc"), vec![d(b"abc"), d(b"def")]);
        assert_eq!(r.buffered_bytes(), 0);
        assert_eq!(r.stats().out_of_order_segments, 1);
        assert_eq!(r.next_seq(), Some(SeqNumber(6)));
    }

    #[test]
    fn duplicate_segment_is_dropped_and_counted() {
        let mut r = started_at(0);
        ins(&mut r, 0, b"abcd");
        assert_eq!(ins(&mut r, 0, b"abcd"), vec![]);
        // A duplicate of held data is dropped too.
        ins(&mut r, 10, b"xy");
        assert_eq!(ins(&mut r, 10, b"xy"), vec![]);
        assert_eq!(r.buffered_bytes(), 2);
        let s = r.stats();
        assert_eq!((s.retransmitted_bytes, s.overlaps), (6, 2));
    }

    #[test]
    fn partial_overlap_keeps_first_copy_and_fills_holes() {
        let mut r = started_at(0);
        ins(&mut r, 4, b"EFGH"); // held [4, 8)
                                 // [2, 10) overlaps the held segment; only [2, 4) and [8, 10) are new.
        assert_eq!(ins(&mut r, 2, b"cdefghij"), vec![]);
        assert_eq!(r.buffered_bytes(), 8);
        assert_eq!(
            ins(&mut r, 0, b"abc"),
            vec![d(b"ab"), d(b"cd"), d(b"EFGH"), d(b"ij")]
        );
        // Delivered [0, 10); a copy reaching past it is trimmed to its new tail.
        assert_eq!(ins(&mut r, 8, b"IJKL"), vec![d(b"KL")]);
        let s = r.stats();
        assert_eq!(s.retransmitted_bytes, 4 + 1 + 2);
        assert_eq!(s.overlaps, 3);
        assert_eq!(r.overlap_policy().as_str(), "first");
    }

    #[test]
    fn in_order_segment_running_into_held_data_yields_to_it() {
        let mut r = started_at(0);
        ins(&mut r, 3, b"DE");
        ins(&mut r, 7, b"H");
        assert_eq!(
            ins(&mut r, 0, b"abcdefgh"),
            vec![d(b"abc"), d(b"DE"), d(b"fg"), d(b"H")]
        );
        assert_eq!(r.stats().retransmitted_bytes, 3);
        assert_eq!(r.buffered_bytes(), 0);
    }

    #[test]
    fn keepalive_probe_one_byte_below_next_seq_is_trimmed() {
        let mut r = started_at(500);
        ins(&mut r, 500, b"0123456789");
        assert_eq!(ins(&mut r, 509, b"\0"), vec![]);
        assert_eq!(r.next_seq(), Some(SeqNumber(510)));
        assert_eq!(r.stats().retransmitted_bytes, 1);
        assert_eq!(r.stats().bytes_delivered, 10);
    }

    #[test]
    fn stream_crossing_the_u32_wrap_stays_in_order() {
        let start = u32::MAX - 2;
        let mut r = started_at(start);
        // Second segment (after the wrap) arrives first.
        assert_eq!(ins(&mut r, 2, b"fghi"), vec![]);
        assert_eq!(ins(&mut r, start, b"abcde"), vec![d(b"abcde"), d(b"fghi")]);
        assert_eq!(r.next_seq(), Some(SeqNumber(6)));
        assert_eq!(r.next_offset(), 9);
        // A retransmission from before the wrap is old, not far ahead.
        assert_eq!(ins(&mut r, start + 1, b"bc"), vec![]);
        assert_eq!(r.stats().retransmitted_bytes, 2);
        assert_eq!(r.stats().ignored_bytes, 0);
    }

    #[test]
    fn ack_beyond_a_hole_emits_gap_and_resumes() {
        let mut r = started_at(100);
        ins(&mut r, 100, b"ab");
        ins(&mut r, 105, b"fg"); // hole [102, 105)
        ins(&mut r, 110, b"k"); // hole [107, 110)
                                // The receiver acked up to 112: both holes were received but not captured.
        assert_eq!(
            ack(&mut r, 112),
            vec![Ev::Gap(3), d(b"fg"), Ev::Gap(3), d(b"k"), Ev::Gap(1)]
        );
        assert_eq!(r.next_seq(), Some(SeqNumber(112)));
        assert_eq!(ins(&mut r, 112, b"m"), vec![d(b"m")]);
        // The late copy of a hole is now old.
        assert_eq!(ins(&mut r, 102, b"cde"), vec![]);
        let s = r.stats();
        assert_eq!((s.gaps, s.gap_bytes, s.retransmitted_bytes), (3, 7, 3));
    }

    #[test]
    fn ack_stops_at_a_held_segment_that_extends_past_it() {
        let mut r = started_at(0);
        ins(&mut r, 5, b"fghij");
        assert_eq!(ack(&mut r, 7), vec![Ev::Gap(5), d(b"fghij")]);
        assert_eq!(r.next_offset(), 10);
    }

    #[test]
    fn old_duplicate_and_garbage_acks_are_ignored() {
        let mut r = started_at(0);
        ins(&mut r, 0, b"abc");
        ins(&mut r, 10, b"x");
        assert_eq!(ack(&mut r, 3), vec![]);
        assert_eq!(ack(&mut r, 1), vec![]);
        assert_eq!(ack(&mut r, 3 + (MAX_AHEAD as u32) + 1), vec![]);
        assert_eq!(r.next_offset(), 3);
        assert_eq!(r.buffered_bytes(), 1);
        // Exactly MAX_AHEAD is still believed.
        assert_eq!(
            ack(&mut r, 3 + MAX_AHEAD as u32),
            vec![Ev::Gap(7), d(b"x"), Ev::Gap(MAX_AHEAD - 8)]
        );
    }

    #[test]
    fn ack_before_the_stream_started_is_ignored() {
        let mut r = Reassembler::new(DEFAULT_MAX_BUFFERED);
        assert_eq!(ack(&mut r, 42), vec![]);
        assert!(!r.is_started());
        assert_eq!(r.next_seq(), None);
    }

    #[test]
    fn flush_with_holes_emits_gaps_between_held_segments() {
        let mut r = started_at(0);
        ins(&mut r, 0, b"a");
        ins(&mut r, 8, b"ij");
        ins(&mut r, 3, b"de");
        assert_eq!(
            flush(&mut r),
            vec![Ev::Gap(2), d(b"de"), Ev::Gap(3), d(b"ij")]
        );
        assert_eq!(r.buffered_bytes(), 0);
        assert_eq!(flush(&mut r), vec![]);
        assert_eq!(r.next_offset(), 10);
    }

    #[test]
    fn buffer_limit_forces_a_gap_to_the_earliest_held_segment() {
        let mut r = Reassembler::new(4);
        r.set_start(SeqNumber(0));
        ins(&mut r, 0, b"a");
        ins(&mut r, 3, b"de"); // held 2
        ins(&mut r, 6, b"g"); // held 3
                              // Holding 2 more would make 5 > 4: give up on [1, 3) and deliver "de"; then
                              // "g" + "hi" fit, so nothing more is skipped.
        assert_eq!(ins(&mut r, 7, b"hi"), vec![Ev::Gap(2), d(b"de")]);
        let s = r.stats();
        assert_eq!((s.buffer_limit_hits, s.gaps, s.gap_bytes), (1, 1, 2));
        assert_eq!(r.buffered_bytes(), 3);
        assert_eq!(flush(&mut r), vec![Ev::Gap(1), d(b"g"), d(b"hi")]);
    }

    #[test]
    fn segment_larger_than_the_buffer_is_delivered_after_a_gap() {
        let mut r = Reassembler::new(4);
        r.set_start(SeqNumber(0));
        ins(&mut r, 20, b"u"); // held, after the big one
        assert_eq!(
            ins(&mut r, 10, b"klmnopqrst"),
            vec![Ev::Gap(10), d(b"klmnopqrst"), d(b"u")]
        );
        assert_eq!(r.stats().buffer_limit_hits, 1);
        assert_eq!(r.buffered_bytes(), 0);
    }

    #[test]
    fn segment_count_cap_forces_a_gap() {
        let mut r = Reassembler::with_limits(DEFAULT_MAX_BUFFERED, 2);
        r.set_start(SeqNumber(0));
        ins(&mut r, 2, b"c");
        ins(&mut r, 4, b"e");
        assert_eq!(ins(&mut r, 6, b"g"), vec![Ev::Gap(2), d(b"c")]);
        assert_eq!(r.held.len(), 2);
        assert_eq!(r.stats().buffer_limit_hits, 1);
    }

    #[test]
    fn zero_length_insert_is_a_no_op_and_does_not_start_the_stream() {
        let mut r = Reassembler::new(DEFAULT_MAX_BUFFERED);
        assert_eq!(ins(&mut r, 77, b""), vec![]);
        assert!(!r.is_started());
        assert_eq!(ins(&mut r, 80, b"x"), vec![d(b"x")]);
        assert_eq!(ins(&mut r, 5, b""), vec![]);
        assert_eq!(
            r.stats(),
            &ReassemblyStats {
                bytes_delivered: 1,
                ..Default::default()
            }
        );
    }

    #[test]
    fn mid_stream_capture_starts_at_first_segment_and_ignores_older_bytes() {
        let mut r = Reassembler::new(DEFAULT_MAX_BUFFERED);
        assert_eq!(ins(&mut r, 1000, b"klm"), vec![d(b"klm")]);
        assert!(r.is_started());
        // An older segment reordered in the capture straddles the start.
        assert_eq!(ins(&mut r, 998, b"ijklmn"), vec![d(b"n")]);
        assert_eq!(r.stats().ignored_bytes, 2);
        assert_eq!(r.stats().retransmitted_bytes, 3);
        // set_start after the stream started changes nothing.
        r.set_start(SeqNumber(0));
        assert_eq!(r.next_seq(), Some(SeqNumber(1004)));
    }

    #[test]
    fn segment_far_ahead_is_ignored_as_garbage() {
        let mut r = started_at(0);
        assert_eq!(ins(&mut r, (MAX_AHEAD as u32) + 1, b"zz"), vec![]);
        assert_eq!(r.stats().ignored_bytes, 2);
        assert_eq!(r.buffered_bytes(), 0);
    }

    #[test]
    fn a_segment_exactly_the_largest_window_ahead_is_held() {
        let mut r = started_at(0);
        assert_eq!(ins(&mut r, MAX_AHEAD as u32, b"zz"), vec![]);
        assert_eq!(r.stats().ignored_bytes, 0);
        assert_eq!(r.buffered_bytes(), 2);
    }

    #[test]
    fn offsets_keep_growing_past_4_gib() {
        let start = u32::MAX - 10;
        let mut r = started_at(start);
        let mut gap = 0;
        for _ in 0..5 {
            let next = r.next_seq().unwrap();
            for ev in ack(&mut r, (next + MAX_AHEAD as usize).0) {
                let Ev::Gap(n) = ev else {
                    panic!("ack emitted data")
                };
                gap += n;
            }
        }
        assert_eq!(gap, 5 * MAX_AHEAD);
        assert_eq!(r.next_offset(), 5 * MAX_AHEAD);
        let next = r.next_seq().unwrap();
        assert_eq!(next, SeqNumber(start) + (5 * MAX_AHEAD) as usize);
        assert_eq!(ins(&mut r, (next + 1).0, b"b"), vec![]);
        assert_eq!(ins(&mut r, next.0, b"a"), vec![d(b"a"), d(b"b")]);
        assert_eq!(r.next_offset(), 5 * MAX_AHEAD + 2);
    }

    // ---- property test against an oracle ----

    /// One thing that happens to the reassembler.
    #[derive(Clone, Debug)]
    enum Op {
        /// Segment at a stream offset (relative to the ISN), with its payload.
        Seg(u64, Vec<u8>),
        /// Ack up to a stream offset.
        Ack(u64),
        Flush,
    }

    #[derive(Debug)]
    struct Case {
        stream: Vec<u8>,
        isn: u32,
        set_start: bool,
        ops: Vec<Op>,
        dropped: bool,
        conflicting: bool,
    }

    struct Knobs {
        drops: bool,
        acks: bool,
        conflicting: bool,
        near_wrap: bool,
    }

    /// A segment as sent: (send order key, offset from the ISN, payload).
    type Sent = (usize, u64, Vec<u8>);

    fn gen_case(rng: &mut StdRng, k: &Knobs) -> Case {
        let len = rng.random_range(0..=3000usize);
        let stream: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        let max_seg = rng.random_range(1..=400usize);
        let mut segs: Vec<Sent> = Vec::new();
        let mut pos = 0;
        while pos < len {
            let n = rng.random_range(1..=max_seg).min(len - pos);
            segs.push((segs.len(), pos as u64, stream[pos..pos + n].to_vec()));
            pos += n;
        }
        let originals = segs.len();
        // Retransmissions: repacketized ranges (overlapping cut points), exact duplicates,
        // and keep-alive probes, sent later than the original.
        if len > 0 {
            for _ in 0..rng.random_range(0..=originals / 2 + 1) {
                let (a, b) = match rng.random_range(0..3) {
                    0 => {
                        let (_, o, p) = &segs[rng.random_range(0..originals)];
                        (*o as usize, *o as usize + p.len())
                    }
                    1 => {
                        let a = rng.random_range(0..len);
                        (a, (a + rng.random_range(1..=2 * max_seg)).min(len))
                    }
                    _ => {
                        let (_, o, _) = &segs[rng.random_range(0..originals)];
                        let a = (*o as usize).saturating_sub(1);
                        (a, a + 1)
                    }
                };
                let payload = if k.conflicting && rng.random_bool(0.5) {
                    (a..b).map(|_| rng.random()).collect()
                } else {
                    stream[a..b].to_vec()
                };
                let when = rng.random_range(0..=originals + 5);
                segs.push((when, a as u64, payload));
            }
        }
        segs.sort_by_key(|s| s.0);
        // Reorder within a window: each segment moves up to `window` places.
        let window = rng.random_range(1..=16usize);
        let mut keyed: Vec<(usize, Sent)> = segs
            .into_iter()
            .enumerate()
            .map(|(i, s)| (i + rng.random_range(0..window), s))
            .collect();
        keyed.sort_by_key(|s| s.0);
        let drop_p = if k.drops {
            rng.random_range(0.02..0.3)
        } else {
            0.0
        };
        let mut ops = Vec::new();
        let mut dropped = false;
        let mut sent_end = 0;
        for (_, (_, off, payload)) in keyed {
            sent_end = sent_end.max(off + payload.len() as u64);
            if rng.random_bool(drop_p) {
                dropped = true;
            } else {
                ops.push(Op::Seg(off, payload));
            }
            if rng.random_bool(0.05) {
                // Pure acks and window updates carry no payload.
                ops.push(Op::Seg(rng.random_range(0..=len as u64), Vec::new()));
            }
            if k.acks && rng.random_bool(0.15) {
                // The receiver acks something it could have received by now.
                ops.push(Op::Ack(sent_end.saturating_sub(rng.random_range(0..300))));
            }
            if k.acks && rng.random_bool(0.01) {
                ops.push(Op::Flush);
            }
        }
        let isn = if k.near_wrap {
            u32::MAX - rng.random_range(0..=len as u32 + 10)
        } else {
            rng.random()
        };
        Case {
            stream,
            isn,
            set_start: rng.random_bool(0.8),
            ops,
            dropped,
            conflicting: k.conflicting,
        }
    }

    /// The per-byte model: the stream as a bitmap of first-arrival bytes, with a cursor.
    /// Every operation returns what it delivers, `None` standing for a gap byte.
    #[derive(Default)]
    struct Model {
        start: Option<u64>,
        next: u64,
        known: Vec<Option<u8>>,
        stats: ReassemblyStats,
    }

    impl Model {
        fn emit(&mut self, upto: u64) -> Vec<Option<u8>> {
            let mut out = Vec::new();
            let mut in_gap = false;
            while self.next < upto {
                let b = self.known.get(self.next as usize).copied().flatten();
                match b {
                    Some(_) => self.stats.bytes_delivered += 1,
                    None => {
                        self.stats.gap_bytes += 1;
                        self.stats.gaps += u64::from(!in_gap);
                    }
                }
                in_gap = b.is_none();
                out.push(b);
                self.next += 1;
            }
            out
        }

        fn contiguous_end(&self) -> u64 {
            let mut e = self.next;
            while let Some(Some(_)) = self.known.get(e as usize) {
                e += 1;
            }
            e
        }

        /// Offsets here are absolute (from the ISN); the model works relative to start.
        fn seg(&mut self, off: u64, payload: &[u8]) -> Vec<Option<u8>> {
            if payload.is_empty() {
                return Vec::new();
            }
            let start = *self.start.get_or_insert(off);
            let mut dup = 0;
            let mut new = 0;
            for (i, &b) in payload.iter().enumerate() {
                let Some(rel) = (off + i as u64).checked_sub(start) else {
                    self.stats.ignored_bytes += 1;
                    continue;
                };
                if self.known.len() <= rel as usize {
                    self.known.resize(rel as usize + 1, None);
                }
                if rel < self.next || self.known[rel as usize].is_some() {
                    dup += 1;
                } else {
                    self.known[rel as usize] = Some(b);
                    new += 1;
                }
            }
            if new > 0 && off > start + self.next {
                self.stats.out_of_order_segments += 1;
            }
            if dup > 0 {
                self.stats.overlaps += 1;
                self.stats.retransmitted_bytes += dup;
            }
            let end = self.contiguous_end();
            self.emit(end)
        }

        fn ack(&mut self, off: u64) -> Vec<Option<u8>> {
            let Some(start) = self.start else {
                return Vec::new();
            };
            let target = off.saturating_sub(start);
            let mut out = self.emit(target);
            let end = self.contiguous_end();
            out.extend(self.emit(end));
            out
        }

        fn flush(&mut self) -> Vec<Option<u8>> {
            let last = self.known.len() as u64;
            self.emit(last)
        }
    }

    fn flat(ev: &[Ev]) -> Vec<Option<u8>> {
        let mut v = Vec::new();
        for e in ev {
            match e {
                Ev::Data(b) => {
                    assert!(!b.is_empty(), "empty Data chunk");
                    v.extend(b.iter().map(|&x| Some(x)));
                }
                Ev::Gap(n) => {
                    assert!(*n > 0, "empty Gap chunk");
                    v.extend(std::iter::repeat_n(None, *n as usize));
                }
            }
        }
        v
    }

    /// Runs a case; returns the whole output and the reassembler, and checks every step
    /// against `model` if given.
    fn run(case: &Case, r: &mut Reassembler, mut model: Option<&mut Model>) -> Vec<Option<u8>> {
        let isn = SeqNumber(case.isn);
        if case.set_start {
            r.set_start(isn);
            if let Some(m) = model.as_deref_mut() {
                m.start = Some(0);
            }
        }
        let mut all = Vec::new();
        let ops = case.ops.iter().map(Some).chain([None]);
        for op in ops {
            let mut ev = Vec::new();
            let mut sink = |c: Chunk<'_>| ev.push(own(c));
            let expect = match op {
                Some(Op::Seg(off, p)) => {
                    r.insert(isn + *off as usize, p, &mut sink);
                    model.as_deref_mut().map(|m| m.seg(*off, p))
                }
                Some(Op::Ack(off)) => {
                    r.ack(isn + *off as usize, &mut sink);
                    model.as_deref_mut().map(|m| m.ack(*off))
                }
                Some(Op::Flush) | None => {
                    r.flush(&mut sink);
                    model.as_deref_mut().map(|m| m.flush())
                }
            };
            r.check_invariants();
            let got = flat(&ev);
            if let Some(expect) = expect {
                assert_eq!(got, expect, "after {op:?}");
            }
            all.extend(got);
        }
        if let Some(m) = model {
            assert_eq!(r.stats(), &m.stats);
        }
        all
    }

    /// Sort-and-concatenate oracle: paint received bytes in arrival order (first wins),
    /// read them in offset order from the stream start, holes as `None`.
    fn oracle(case: &Case) -> Vec<Option<u8>> {
        let segs: Vec<(u64, &Vec<u8>)> = case
            .ops
            .iter()
            .filter_map(|op| match op {
                Op::Seg(o, p) if !p.is_empty() => Some((*o, p)),
                _ => None,
            })
            .collect();
        let start = if case.set_start {
            0
        } else {
            segs.first().map_or(0, |s| s.0)
        };
        let mut painted: Vec<Option<u8>> = vec![None; case.stream.len()];
        for (off, p) in &segs {
            for (i, &b) in p.iter().enumerate() {
                let slot = &mut painted[*off as usize + i];
                if slot.is_none() {
                    *slot = Some(b);
                }
            }
        }
        let end = segs
            .iter()
            .map(|(o, p)| o + p.len() as u64)
            .max()
            .unwrap_or(0);
        painted[start as usize..end.max(start) as usize].to_vec()
    }

    const CASES: u64 = 2000;

    fn knobs(rng: &mut StdRng) -> Knobs {
        Knobs {
            drops: rng.random_bool(0.5),
            acks: false,
            conflicting: rng.random_bool(0.3),
            near_wrap: rng.random_bool(0.3),
        }
    }

    #[test]
    fn random_segmentations_match_the_sort_and_concatenate_oracle() {
        let mut rng = StdRng::seed_from_u64(0x7c9_5eed);
        let mut no_drop_cases = 0;
        for case_no in 0..CASES {
            let k = knobs(&mut rng);
            let case = gen_case(&mut rng, &k);
            let mut r = Reassembler::new(DEFAULT_MAX_BUFFERED);
            let mut model = Model::default();
            let got = run(&case, &mut r, Some(&mut model));
            assert_eq!(got, oracle(&case), "case {case_no}: {case:?}");
            if !case.dropped && !case.conflicting && case.set_start {
                no_drop_cases += 1;
                let exact: Vec<Option<u8>> = case.stream.iter().map(|&b| Some(b)).collect();
                assert_eq!(got, exact, "case {case_no}: lossless stream must be exact");
                assert_eq!(r.stats().gaps, 0);
            }
        }
        assert!(
            no_drop_cases > CASES / 5,
            "too few lossless cases: {no_drop_cases}"
        );
    }

    #[test]
    fn random_segmentations_across_the_u32_wrap_match_the_oracle() {
        let mut rng = StdRng::seed_from_u64(0xffff_fff0);
        for case_no in 0..CASES / 2 {
            let mut k = knobs(&mut rng);
            k.near_wrap = true;
            let case = gen_case(&mut rng, &k);
            let mut r = Reassembler::new(DEFAULT_MAX_BUFFERED);
            let got = run(&case, &mut r, Some(&mut Model::default()));
            assert_eq!(got, oracle(&case), "case {case_no}: {case:?}");
        }
    }

    #[test]
    fn random_segmentations_with_acks_and_flushes_match_the_model() {
        let mut rng = StdRng::seed_from_u64(0xac4);
        let mut gaps = 0;
        for _ in 0..CASES {
            let mut k = knobs(&mut rng);
            k.acks = true;
            let case = gen_case(&mut rng, &k);
            let mut r = Reassembler::new(DEFAULT_MAX_BUFFERED);
            run(&case, &mut r, Some(&mut Model::default()));
            gaps += r.stats().gaps;
        }
        assert!(
            gaps > 0,
            "acks never declared a gap: the test is not testing"
        );
    }

    #[test]
    fn random_segmentations_under_a_small_buffer_deliver_correct_bytes_at_correct_offsets() {
        let mut rng = StdRng::seed_from_u64(0x5_3a11);
        let mut limit_hits = 0;
        for case_no in 0..CASES {
            let mut k = knobs(&mut rng);
            k.acks = rng.random_bool(0.5);
            let case = gen_case(&mut rng, &k);
            let max_buffered = rng.random_range(0..=1500);
            let max_segments = rng.random_range(0..=20);
            let mut r = Reassembler::with_limits(max_buffered, max_segments);
            let got = run(&case, &mut r, None); // checks the memory caps after every op
            limit_hits += r.stats().buffer_limit_hits;
            // The model without limits says where each byte would first have arrived.
            let mut unlimited = Model::default();
            let full = run(
                &case,
                &mut Reassembler::new(DEFAULT_MAX_BUFFERED),
                Some(&mut unlimited),
            );
            assert_eq!(
                got.len(),
                full.len(),
                "case {case_no}: stream length differs"
            );
            for (i, (g, f)) in got.iter().zip(&full).enumerate() {
                if let Some(b) = g {
                    assert_eq!(
                        Some(b),
                        f.as_ref(),
                        "case {case_no}: wrong byte at offset {i}"
                    );
                }
            }
            let data = got.iter().filter(|b| b.is_some()).count() as u64;
            let s = r.stats();
            assert_eq!(s.bytes_delivered, data);
            assert_eq!(s.gap_bytes, got.len() as u64 - data);
            assert_eq!(s.ignored_bytes, unlimited.stats.ignored_bytes);
        }
        assert!(limit_hits > CASES / 4, "limits rarely hit: {limit_hits}");
    }
}
