//! What each fuzz target feeds wsaudit and what it checks besides "does not panic".
//!
//! Contract: one `pub fn <target>(data: &[u8])` per target in `fuzz_targets/` (the
//! `pcapng` target runs [`capture`] over its own corpus). Each function accepts any
//! bytes and panics only when wsaudit breaks a documented promise: a panic inside
//! wsaudit, or a failed `check!` below. The same functions replay the saved crashing
//! inputs in `tests/regressions.rs` (which includes this file as a module), so a
//! regression test runs exactly the code its fuzz target ran.
//!
//! Inputs that need structure (operation sequences, segments, packets) are decoded from
//! the raw bytes by [`Bytes`], which never fails: when the input runs out, every read
//! returns zeros and [`Bytes::done`] turns true. The layouts are documented on each
//! function and written by `fuzz/seedgen`, which cuts seed corpora out of the fixtures.
//!
//! Memory and time per input are bounded here too: a target never asks wsaudit to do
//! work proportional to a number read off the input beyond small caps, so libFuzzer's
//! timeouts and RSS limit flag wsaudit's own behaviour, not the harness's.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use wsaudit::capture::{self, link};
use wsaudit::http;
use wsaudit::session::conn::Conn;
use wsaudit::session::ConnOutput;
use wsaudit::session::{CloseFrame, Ending, Initiator, SessionRecord, TcpEnd, CLIENT, SERVER};
use wsaudit::tcp::{
    Chunk, ConnMeta, ConnTable, Dir, EndKind, Limits, Reassembler, Release, SeqNumber,
};
use wsaudit::ws::{self, ClosePayload, DirectionDecoder, Opcode, WsEvent};
use wsaudit::Side;

/// `assert!` with the input-independent message first, so that libFuzzer's crash
/// de-duplication (by stack) and a human reading the artifact see the broken promise.
macro_rules! check {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            panic!("broken promise: {}", format_args!($($msg)+));
        }
    };
}

// ---------------------------------------------------------------------------------------
// Input decoding

/// A cursor over the fuzz input that never fails (zeros past the end).
pub struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data, pos: 0 }
    }
    pub fn done(&self) -> bool {
        self.pos >= self.data.len()
    }
    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    /// Up to `n` bytes (fewer at the end of the input).
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        let end = start.saturating_add(n).min(self.data.len());
        self.pos = self.pos.saturating_add(n);
        &self.data[start..end]
    }
    pub fn rest(&mut self) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        self.pos = self.data.len();
        &self.data[start..]
    }
}

fn within(outer: &[u8], inner: &[u8]) -> bool {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    inner.is_empty() || (i >= o && i + inner.len() <= o + outer.len())
}

// ---------------------------------------------------------------------------------------
// frame_header

/// `ws::parse_header` on the input. Checks: a header is 2 + {0, 2, 8} + {0, 4} bytes and
/// the rest starts right after it; every shorter prefix is `Incomplete` and any longer
/// input gives the same header (streaming, consumes nothing on partial input); no other
/// error; the minimal-length flag and the opcode conversion are exact; unmasking in two
/// pieces equals unmasking at once, and twice is the identity.
pub fn frame_header(data: &[u8]) {
    match ws::parse_header(data) {
        Ok((rest, h)) => {
            let len_bytes = match data[1] & 0x7f {
                126 => 2,
                127 => 8,
                _ => 0,
            };
            let want = 2 + len_bytes + if h.mask.is_some() { 4 } else { 0 };
            check!(
                h.header_len == want,
                "header_len {} != {want}",
                h.header_len
            );
            check!(
                h.header_len <= ws::MAX_HEADER_LEN,
                "header longer than MAX_HEADER_LEN"
            );
            check!(
                rest.len() == data.len() - want,
                "rest does not start after the header"
            );
            check!(h.opcode.raw() == data[0] & 0x0f, "opcode raw value lost");
            check!(
                Opcode::from(h.opcode.raw()) == h.opcode,
                "opcode not round-tripping"
            );
            let minimal = match len_bytes {
                2 => h.payload_len >= 126,
                8 => h.payload_len > 0xffff,
                _ => true,
            };
            check!(
                h.minimal_length == minimal,
                "minimal_length wrong for {h:?}"
            );
            check!(
                h.length_msb_set() == (h.payload_len >> 63 == 1),
                "length_msb_set wrong"
            );
            for k in 0..want {
                check!(
                    matches!(ws::parse_header(&data[..k]), Err(nom::Err::Incomplete(_))),
                    "prefix of {k} bytes of a {want}-byte header is not Incomplete"
                );
            }
            match ws::parse_header(&data[..want]) {
                Ok((r, h2)) => check!(r.is_empty() && h2 == h, "exact header parses differently"),
                Err(e) => check!(false, "exact header fails: {e:?}"),
            }
            if let Some(key) = h.mask {
                let mut whole = rest.to_vec();
                ws::unmask(&mut whole, key, 0);
                let mut pieces = rest.to_vec();
                let cut = usize::from(data[0]) % (pieces.len() + 1);
                let (a, b) = pieces.split_at_mut(cut);
                ws::unmask(a, key, 0);
                ws::unmask(b, key, cut);
                check!(pieces == whole, "unmasking in pieces differs");
                ws::unmask(&mut whole, key, 0);
                check!(whole == rest, "unmasking twice is not the identity");
            }
        }
        Err(nom::Err::Incomplete(_)) => {
            check!(
                data.len() < ws::MAX_HEADER_LEN,
                "Incomplete on {} bytes",
                data.len()
            );
        }
        Err(e) => check!(false, "parse_header returned an error: {e:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// close_payload

/// `ws::parse_close_payload` on the input, which is total. Checks RFC 6455 5.5.1: 0 bytes
/// no status, 1 byte a violation, else the big-endian code (kept raw by `CloseCode`) and
/// the reason, lossy-decoded, with validity exactly as `str::from_utf8` says.
pub fn close_payload(data: &[u8]) {
    match ws::parse_close_payload(data) {
        ClosePayload::NoStatus => check!(data.is_empty(), "NoStatus for {} bytes", data.len()),
        ClosePayload::OneByte => check!(data.len() == 1, "OneByte for {} bytes", data.len()),
        ClosePayload::Code {
            code,
            reason,
            reason_valid_utf8,
        } => {
            check!(data.len() >= 2, "a code from {} bytes", data.len());
            let raw = u16::from_be_bytes([data[0], data[1]]);
            check!(code.code() == raw, "code {} != raw {raw}", code.code());
            check!(
                u16::from(code) == raw,
                "From<CloseCode> for u16 loses the raw value"
            );
            check!(
                ws::CloseCode::from(raw) == code,
                "CloseCode::from not a function"
            );
            check!(!code.name().is_empty(), "empty name for {raw}");
            // RFC 6455 7.4.1/7.4.2 and the IANA registry: 1000-1003, 1007-1014 and
            // 3000-4999 may be sent; < 1000, 1004-1006, 1015, 1016-2999, >= 5000 not.
            let sendable = matches!(raw, 1000..=1003 | 1007..=1014 | 3000..=4999);
            check!(
                code.may_be_sent() == sendable,
                "may_be_sent({raw}) is {}",
                code.may_be_sent()
            );
            let tail = &data[2..];
            check!(
                reason_valid_utf8 == std::str::from_utf8(tail).is_ok(),
                "reason_valid_utf8 wrong"
            );
            check!(
                reason == String::from_utf8_lossy(tail),
                "reason not the lossy decoding"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// ws_decoder

/// Events of a decoder, without their timestamps (every call here passes ts 0, so
/// comparing them whole is fine).
fn decode_all(side: Side, deflate: bool, pieces: &[&[u8]]) -> (Vec<WsEvent>, ws::DirectionStats) {
    let mut d = DirectionDecoder::new(side, deflate);
    let mut ev = Vec::new();
    for p in pieces {
        d.feed(p, 0, &mut ev);
    }
    d.finish(0, &mut ev);
    (ev, d.stats().clone())
}

/// `DirectionDecoder`. Layout: byte 0 = config (bit 0: server side, bit 1: deflate
/// negotiated), byte 1 = `k`, then `k` split instructions, then the byte stream.
/// Instruction byte `b`: feed the next `(b & 0x3f) + 1` stream bytes (`* 64` when bit 6 is
/// set); bit 7 set: then a gap of `b & 0x3f` bytes (0 means 2^62: a gap nothing skips).
///
/// Checks: (1) any split gives the events and stats of feeding the whole stream at once
/// (the module's contract); (2) with gaps: no panic; events after desync come only from
/// `finish`; once desynced the decoder stays so; a bounded number of events per byte;
/// stats never go backwards.
pub fn ws_decoder(data: &[u8]) {
    let mut b = Bytes::new(data);
    let cfg = b.u8();
    let side = if cfg & 1 == 1 {
        Side::Server
    } else {
        Side::Client
    };
    let deflate = cfg & 2 != 0;
    let k = usize::from(b.u8());
    let ins = b.take(k);
    let stream = b.rest();

    // (1) Same stream, split per the instructions (gaps ignored), versus whole.
    let mut pieces = Vec::new();
    let mut rest = stream;
    for &i in ins {
        let n = (usize::from(i & 0x3f) + 1) * if i & 0x40 != 0 { 64 } else { 1 };
        let (p, r) = rest.split_at(n.min(rest.len()));
        pieces.push(p);
        rest = r;
    }
    pieces.push(rest);
    let whole = decode_all(side, deflate, &[stream]);
    let split = decode_all(side, deflate, &pieces);
    check!(
        whole == split,
        "splitting the stream changed events or stats"
    );
    let bytewise: Vec<&[u8]> = stream.chunks(1).take(4096).collect();
    if stream.len() <= 4096 {
        check!(
            decode_all(side, deflate, &bytewise) == whole,
            "one byte at a time changed events or stats"
        );
    }

    // (2) With gaps.
    let mut d = DirectionDecoder::new(side, deflate);
    let mut ev = Vec::new();
    let mut rest = stream;
    let mut fed = 0u64;
    let mut gaps = 0u64;
    let mut ts = 0i64;
    let mut last = d.stats().clone();
    let step = |d: &mut DirectionDecoder, ev: &mut Vec<WsEvent>, last: &mut ws::DirectionStats| {
        let s = d.stats();
        check!(
            s.frames >= last.frames
                && s.messages >= last.messages
                && s.payload_bytes >= last.payload_bytes
                && s.data_frames >= last.data_frames
                && s.control_frames >= last.control_frames,
            "stats went backwards"
        );
        check!(
            s.messages <= s.data_frames,
            "more messages than data frames"
        );
        check!(
            s.control_frames <= s.frames && s.data_frames <= s.frames,
            "frame counters"
        );
        *last = s.clone();
        let _ = ev;
    };
    for &i in ins.iter().chain(std::iter::repeat_n(&0x3f, 1)) {
        let n = (usize::from(i & 0x3f) + 1) * if i & 0x40 != 0 { 64 } else { 1 };
        let (p, r) = rest.split_at(n.min(rest.len()));
        rest = r;
        let was_sync = d.in_sync();
        let before = ev.len();
        ts += 1;
        d.feed(p, ts, &mut ev);
        fed += p.len() as u64;
        if !was_sync {
            check!(ev.len() == before && !d.in_sync(), "events after desync");
        }
        step(&mut d, &mut ev, &mut last);
        if i & 0x80 != 0 {
            let len = match u64::from(i & 0x3f) {
                0 => 1 << 62,
                n => n,
            };
            let was_sync = d.in_sync();
            let before = ev.len();
            d.gap(len, ts, &mut ev);
            gaps += 1;
            // desync_after_gap, or the end of a Close frame the gap completed (the Close
            // and what is wrong with its payload).
            check!(
                ev.len() <= before + 4,
                "a gap produced {} events",
                ev.len() - before
            );
            if !was_sync {
                check!(ev.len() == before && !d.in_sync(), "gap event after desync");
            }
            step(&mut d, &mut ev, &mut last);
        }
    }
    d.feed(rest, ts, &mut ev);
    fed += rest.len() as u64;
    d.finish(ts + 1, &mut ev);
    let n = ev.len();
    d.feed(b"\x81\x00", ts + 2, &mut ev);
    d.gap(1, ts + 2, &mut ev);
    d.finish(ts + 2, &mut ev);
    check!(ev.len() == n, "events after finish");
    // A header is at least 2 bytes and yields at most a handful of anomalies, a Close
    // a few more; gaps and finish one each.
    check!(
        (ev.len() as u64) <= 8 * (fed / 2 + 1) + 4 * gaps + 1,
        "{} events from {fed} bytes and {gaps} gaps",
        ev.len()
    );
    for e in &ev {
        if let WsEvent::Close { payload, .. } = e {
            check!(
                payload.reason.len() <= 3 * ws::MAX_CONTROL_BUFFER,
                "close reason of {} bytes",
                payload.reason.len()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// http_upgrade

/// Every value the HTTP parser keeps is clipped to `MAX_VALUE` input bytes; lossy UTF-8
/// decoding may turn each byte into a 3-byte U+FFFD, and repeated headers are joined.
const MAX_KEPT: usize = 3 * http::MAX_VALUE + 8;

fn check_headers(h: &http::Headers) {
    for v in [
        &h.host,
        &h.upgrade,
        &h.connection,
        &h.user_agent,
        &h.origin,
        &h.key,
        &h.accept,
        &h.protocol,
        &h.extensions,
        &h.version,
        &h.server,
    ]
    .into_iter()
    .flatten()
    {
        check!(
            v.len() <= MAX_KEPT,
            "header value of {} bytes kept",
            v.len()
        );
    }
    if let Some(k) = &h.key {
        check!(
            http::accept_for(k).len() == 28,
            "accept is not 28 base64 chars"
        );
    }
    let _ = http::has_permessage_deflate(h.extensions.as_deref());
}

/// `http::{head_len, parse_request, parse_response, partial_request, partial_status,
/// looks_like_*}` on the input. Checks: `head_len` points just past the first blank line
/// ("\n\n" or "\n\r\n") and nothing earlier is one; parsers are total (Err, never panic)
/// and keep bounded values; a partial status has 3 digits.
pub fn http_upgrade(data: &[u8]) {
    let n = http::head_len(data);
    if let Some(n) = n {
        check!(n <= data.len() && n >= 2, "head_len {n} out of range");
        let head = &data[..n];
        check!(
            head.ends_with(b"\n\n") || head.ends_with(b"\n\r\n"),
            "head does not end with a blank line"
        );
        check!(
            http::head_len(&data[..n - 1]).is_none(),
            "an earlier blank line"
        );
        check!(
            http::head_len(head) == Some(n),
            "head_len of the head itself differs"
        );
    } else {
        check!(
            !data.windows(2).any(|w| w == b"\n\n") && !data.windows(3).any(|w| w == b"\n\r\n"),
            "head_len missed a blank line"
        );
    }
    for head in [Some(data), n.map(|n| &data[..n])].into_iter().flatten() {
        if let Ok(r) = http::parse_request(head) {
            check!(!r.method.is_empty(), "empty method");
            check!(
                r.target.len() <= MAX_KEPT,
                "target of {} bytes",
                r.target.len()
            );
            check_headers(&r.headers);
            let _ = r.is_websocket_upgrade();
        }
        if let Ok(r) = http::parse_response(head) {
            check!(
                r.reason.len() <= MAX_KEPT,
                "reason of {} bytes",
                r.reason.len()
            );
            check_headers(&r.headers);
        }
    }
    if let Some(r) = http::partial_request(data) {
        check!(data.starts_with(b"GET "), "partial request without GET");
        check!(
            r.target.len() <= MAX_KEPT,
            "partial target of {} bytes",
            r.target.len()
        );
    }
    if let Some(s) = http::partial_status(data) {
        check!(s <= 999, "status {s}");
        check!(
            http::looks_like_response(data),
            "a status from a non-response"
        );
    }
    if http::partial_request(data).is_some() {
        check!(
            http::looks_like_request(data),
            "a GET that does not look like a request"
        );
    }
}

// ---------------------------------------------------------------------------------------
// capture, pcapng

/// `capture::read_slice` on the input as a whole capture file, `link::decode` on every
/// packet, and `capture::read_stream` on the same bytes. Checks: packets and segment
/// payloads borrow the input (nothing read past it); error offsets lie in the file and
/// in order, a fatal error is last and single; both drivers agree on packets and errors.
pub fn capture(data: &[u8]) {
    let mut packets = 0u64;
    let mut bytes = 0u64;
    let slice = capture::read_slice(data, |pkt| {
        packets += 1;
        bytes += pkt.data.len() as u64;
        check!(within(data, pkt.data), "packet bytes outside the input");
        if let Some(seg) = link::decode(pkt.linktype, pkt.data) {
            check!(
                within(pkt.data, seg.payload),
                "segment payload outside its packet"
            );
        }
    });
    check!(
        slice.packets == packets,
        "packet count {} != callbacks {packets}",
        slice.packets
    );
    check!(slice.bytes == bytes, "byte count");
    check!(
        slice.snapped_packets <= packets,
        "more snapped packets than packets"
    );
    let errors = &slice.errors;
    for e in errors {
        check!(
            e.offset <= data.len() as u64,
            "error offset past the end: {e}"
        );
    }
    check!(
        errors.windows(2).all(|w| w[0].offset <= w[1].offset),
        "errors out of order: {errors:?}"
    );
    if let Some(i) = errors.iter().position(|e| e.fatal) {
        check!(
            i + 1 == errors.len(),
            "errors after the fatal one: {errors:?}"
        );
    }
    let mut streamed_packets = 0u64;
    let streamed = capture::read_stream(data, |_| streamed_packets += 1);
    match streamed {
        Ok(s) => {
            check!(
                s.packets == slice.packets,
                "stream read {} packets, slice {}",
                s.packets,
                slice.packets
            );
            check!(
                s.errors == slice.errors,
                "stream errors {:?} != slice {:?}",
                s.errors,
                slice.errors
            );
            check!(s.format == slice.format, "formats differ");
        }
        Err(e) => check!(false, "read_stream failed on a slice: {e}"),
    }
}

// ---------------------------------------------------------------------------------------
// reassembler

/// The byte a well-behaved sender puts at sequence number `s`: every copy of a stream
/// byte is the same, so what comes out can be checked position by position.
fn byte_at(s: u32) -> u8 {
    (s ^ (s >> 8) ^ (s >> 16) ^ (s >> 24)) as u8
}

/// `tcp::Reassembler` driven by operations. Layout: byte 0 → `max_buffered` (0 to 4080
/// bytes), byte 1 → `max_segments` (1 to 16), 4 bytes base ISN, then operations; each
/// starts with a byte `op`: `op & 3` is 0 set_start, 1 insert, 2 ack, 3 flush; bits 2-3 say
/// how the sequence number is given relative to the base (0: i8, 1: i16, 2: i32 scaled
/// by 2^16, 3: absolute u32), then for insert one length byte (`* 16` when op bit 4).
/// Payload bytes are `byte_at(seq)`: copies agree.
///
/// Checks after every operation: held bytes never exceed the cap; chunks are non-empty,
/// contiguous and start at the offset the reassembler reports (strictly increasing, no
/// byte twice); each data byte is the one sent at its position; the stats agree with what
/// came out; flush leaves nothing held.
pub fn reassembler(data: &[u8]) {
    let mut b = Bytes::new(data);
    let max_buffered = usize::from(b.u8()) * 16;
    let max_segments = usize::from(b.u8() % 16) + 1;
    let isn = b.u32();
    let mut r = Reassembler::with_limits(max_buffered, max_segments);
    let mut next = 0u64; // offset of the next byte expected out
    let mut data_out = 0u64;
    let mut gap_out = 0u64;
    let mut gaps = 0u64;
    let mut start: Option<u32> = None;
    let mut bad: Option<String> = None;
    let mut payload = Vec::new();
    let mut ops = 0;
    while !b.done() && ops < 2000 {
        ops += 1;
        let op = b.u8();
        let seq = match (op >> 2) & 3 {
            0 => isn.wrapping_add(b.u8() as i8 as u32),
            1 => isn.wrapping_add(b.u16() as i16 as u32),
            2 => isn.wrapping_add(u32::from(b.u16()) << 16),
            _ => b.u32(),
        };
        // Mirror the documented start rule: the first set_start, or else the first
        // non-empty insert, fixes where offset 0 sits.
        let ins_len = if op & 3 == 1 {
            usize::from(b.u8()) * if op & 0x10 != 0 { 16 } else { 1 }
        } else {
            0
        };
        if start.is_none() && (op & 3 == 0 || ins_len > 0) {
            start = Some(seq);
        }
        {
            let start_known = &start;
            let mut out = |c: Chunk<'_>| match c {
                Chunk::Data(d) => {
                    if d.is_empty() {
                        bad.get_or_insert("empty data chunk".into());
                    }
                    if let Some(s) = *start_known {
                        for (i, &x) in d.iter().enumerate() {
                            let pos = s.wrapping_add((next + i as u64) as u32);
                            if x != byte_at(pos) {
                                bad.get_or_insert(format!(
                                    "byte at offset {} is {x:#x}, sent {:#x}",
                                    next + i as u64,
                                    byte_at(pos)
                                ));
                                break;
                            }
                        }
                    }
                    next += d.len() as u64;
                    data_out += d.len() as u64;
                }
                Chunk::Gap(n) => {
                    if n == 0 {
                        bad.get_or_insert("empty gap".into());
                    }
                    next += n;
                    gap_out += n;
                    gaps += 1;
                }
            };
            match op & 3 {
                0 => r.set_start(SeqNumber(seq)),
                1 => {
                    payload.clear();
                    payload.extend((0..ins_len as u32).map(|i| byte_at(seq.wrapping_add(i))));
                    r.insert(SeqNumber(seq), &payload, &mut out);
                }
                2 => r.ack(SeqNumber(seq), &mut out),
                _ => r.flush(&mut out),
            }
        }
        if let Some(msg) = bad.take() {
            check!(false, "{msg}");
        }
        let want_next = start.map(|s| s.wrapping_add(next as u32));
        check!(
            r.next_seq().map(|n| n.0) == want_next,
            "next_seq {:?}, expected {want_next:?}",
            r.next_seq()
        );
        check!(
            r.buffered_bytes() <= max_buffered,
            "{} bytes held, cap {max_buffered}",
            r.buffered_bytes()
        );
        check!(
            r.next_offset() == next,
            "next_offset {} but {next} bytes came out",
            r.next_offset()
        );
        let s = r.stats();
        check!(
            s.bytes_delivered == data_out,
            "bytes_delivered {} != {data_out}",
            s.bytes_delivered
        );
        check!(
            s.gap_bytes == gap_out && s.gaps == gaps,
            "gap stats disagree"
        );
        if op & 3 == 3 {
            check!(
                r.buffered_bytes() == 0,
                "flush left {} bytes held",
                r.buffered_bytes()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// conn_table and pipeline: connections with the session tracker

/// What a connection table run produced, checked as it goes.
struct Run {
    limits: Limits,
    outputs: Vec<(ConnMeta, ConnOutput)>,
}

impl Run {
    fn done(&mut self, meta: ConnMeta, t: Conn) {
        let out = t.finish(&meta);
        for s in &out.sessions {
            check_session(&meta, s);
        }
        for r in &out.refused {
            check!(r.status != 101, "a 101 answer counted as a refused upgrade");
            check!(
                (r.client, r.server) == (meta.orig, meta.resp)
                    || (r.client, r.server) == (meta.resp, meta.orig),
                "a refused upgrade with addresses not its connection's"
            );
            check!(
                meta.start_ts <= r.time && r.time <= meta.last_ts,
                "a refusal outside its connection's time"
            );
        }
        self.outputs.push((meta, out));
    }

    fn check_end(&self, evicted: u64) {
        let n = self
            .outputs
            .iter()
            .filter(|(m, _)| m.release == Release::Evicted)
            .count() as u64;
        check!(
            evicted == n,
            "table says {evicted} evicted, {n} released as evicted"
        );
        let _ = self.limits;
    }
}

/// What the pipeline promises about one session record, given its connection's TCP facts
/// (`docs/schema.md`, RFC 6455 7.1.5). The expected values are derived here from the
/// record's Close frames and the connection's metadata, not with `session::classify`.
///
/// The timestamps these targets feed never go backwards, so delivery order is time order
/// and the first Close frame is `closes[0]` (the list is in delivery order and only its
/// tail is ever dropped).
fn check_session(meta: &ConnMeta, s: &SessionRecord) {
    let o = &s.outcome;
    // An evicted connection was let go before it ended: like the end of the capture.
    let tcp_ended = meta.first_end.is_some() && meta.release != Release::Evicted;
    let code_of = |f: &CloseFrame| f.code.unwrap_or(1005);

    // Addresses and times.
    check!(
        (s.client, s.server) == (meta.orig, meta.resp)
            || (s.client, s.server) == (meta.resp, meta.orig),
        "session addresses are not its connection's"
    );
    let client_dir = if s.client == meta.orig {
        Dir::Orig
    } else {
        Dir::Resp
    };
    check!(
        s.start_time == meta.start_ts,
        "start_time is not the first packet's"
    );
    let want_end = match meta.first_end {
        Some((dir, kind, ts)) => {
            let e = match (dir == client_dir, kind) {
                (true, EndKind::Fin) => TcpEnd::ClientFin,
                (false, EndKind::Fin) => TcpEnd::ServerFin,
                (true, EndKind::Rst) => TcpEnd::ClientRst,
                (false, EndKind::Rst) => TcpEnd::ServerRst,
            };
            (e, Some(ts))
        }
        None => (TcpEnd::None, None),
    };
    check!(
        (s.tcp_end, s.tcp_end_time) == want_end,
        "tcp_end {:?} at {:?}, the first FIN/RST was {want_end:?}",
        s.tcp_end,
        s.tcp_end_time
    );
    check!(
        s.end_time == s.tcp_end_time.unwrap_or(meta.last_ts),
        "end_time is neither the first FIN/RST nor the last packet"
    );
    check!(
        s.start_time <= s.end_time,
        "a session ends before it starts"
    );
    let established = s.established_time;
    check!(
        established.is_some_and(|e| meta.start_ts <= e && e <= meta.last_ts),
        "established_time {established:?} outside the connection"
    );
    for (_, f) in &s.closes {
        check!(
            meta.start_ts <= f.ts && f.ts <= meta.last_ts,
            "a Close frame outside its connection's time"
        );
    }

    // The ending, code, reason and initiator follow the first Close frame.
    match s.closes.first() {
        Some((who, f)) => {
            let want = match f.code {
                Some(1000) => Ending::Normal,
                Some(_) => Ending::Announced,
                None => Ending::NoStatus,
            };
            check!(
                o.ending == want,
                "first Close carried {:?} but the ending is {}",
                f.code,
                o.ending
            );
            check!(
                o.close_code == Some(code_of(f)),
                "close_code {:?}, the first Close carried {:?}",
                o.close_code,
                f.code
            );
            check!(
                o.close_reason.as_deref() == Some(f.reason.as_str()),
                "close_reason is not the first Close's"
            );
            check!(
                o.initiator == *who,
                "initiator {:?}, the first Close came from {who:?}",
                o.initiator
            );
        }
        None if tcp_ended => {
            check!(
                o.ending == Ending::Abnormal && o.close_code == Some(1006),
                "TCP ended without a Close: {} {:?}, not abnormal 1006",
                o.ending,
                o.close_code
            );
            check!(
                o.initiator == Initiator::None,
                "an initiator without a Close"
            );
            check!(o.close_reason.is_none(), "a reason without a Close");
        }
        None => {
            check!(
                o.ending == Ending::Open && o.close_code.is_none(),
                "still open at the end: {} {:?}, not open",
                o.ending,
                o.close_code
            );
            check!(
                o.initiator == Initiator::None,
                "an initiator without a Close"
            );
        }
    }
    check!(
        o.close_code.is_some() == (o.ending != Ending::Open),
        "close_code {:?} with ending {}",
        o.close_code,
        o.ending
    );

    // Each side's first Close, and what each endpoint observed (RFC 6455 7.1.5: the code
    // of the Close it received, 1005 for an empty one, 1006 when TCP ended without one).
    let first_of = |side: Initiator| s.closes.iter().find(|(w, _)| *w == side).map(|(_, f)| f);
    for (side, kept) in [
        (Initiator::Client, &s.client_close),
        (Initiator::Server, &s.server_close),
    ] {
        match first_of(side) {
            Some(f) => check!(
                kept.as_ref() == Some(f),
                "{side:?}'s first Close is not the first of its Close frames"
            ),
            None if s.closes.len() < 8 => check!(
                kept.is_none(),
                "{side:?} has a first Close but none in the list of closes"
            ),
            None => {}
        }
    }
    let observed = |received: &Option<CloseFrame>| match received {
        Some(f) => Some(code_of(f)),
        None if tcp_ended => Some(1006),
        None => None,
    };
    check!(
        o.client_observed_code == observed(&s.server_close)
            && o.server_observed_code == observed(&s.client_close),
        "observed codes {:?}/{:?} do not follow the Close frames received",
        o.client_observed_code,
        o.server_observed_code
    );
    check!(
        o.handshake_completed == (s.client_close.is_some() && s.server_close.is_some()),
        "handshake_completed without a Close from both sides"
    );

    // Close frames themselves.
    for (_, f) in &s.closes {
        check!(
            f.code.is_none() || f.payload_len >= 2,
            "a code from a {}-byte Close payload",
            f.payload_len
        );
        if f.payload_len == 1 {
            check!(
                anomaly(s, "close_payload_len_1") > 0,
                "a 1-byte Close payload not flagged"
            );
        }
    }
    check!(
        s.closes.len() <= 8,
        "{} closes kept for one session",
        s.closes.len()
    );
    let dups: u32 = [Initiator::Client, Initiator::Server]
        .iter()
        .map(|w| {
            s.closes
                .iter()
                .filter(|(x, _)| x == w)
                .count()
                .saturating_sub(1) as u32
        })
        .sum();
    check!(
        anomaly(s, "duplicate_close") >= dups,
        "{dups} repeated Close frames, {} duplicate_close",
        anomaly(s, "duplicate_close")
    );

    // Counters.
    for side in [CLIENT, SERVER] {
        let who = if side == CLIENT {
            Initiator::Client
        } else {
            Initiator::Server
        };
        let closes = s.closes.iter().filter(|(w, _)| *w == who).count() as u64;
        check!(
            s.messages[side] <= s.frames[side],
            "more messages than frames"
        );
        check!(
            s.pings[side] + s.pongs[side] + closes <= s.frames[side],
            "more pings, pongs and closes than frames"
        );
    }
    check!(
        s.unanswered_pings <= s.pings[CLIENT] + s.pings[SERVER],
        "more unanswered pings than pings"
    );
    check!(
        s.last_frame_time.is_some() == (s.frames[CLIENT] + s.frames[SERVER] > 0),
        "last_frame_time {:?} with {:?} frames",
        s.last_frame_time,
        s.frames
    );

    // Flags from the TCP facts.
    check!(
        s.gap == (meta.gaps > 0),
        "gap flag disagrees with the gap count"
    );
    check!(
        s.truncated == (meta.snapped_segments > 0),
        "truncated flag disagrees with the snapped segments"
    );
    check!(s.midstream == meta.midstream(), "midstream flag");
    check!(
        s.limit_hit == (meta.buffer_limit_hit || meta.release == Release::Evicted),
        "limit_hit {} (buffer limit {}, release {:?})",
        s.limit_hit,
        meta.buffer_limit_hit,
        meta.release
    );
    check!(
        s.anomalies.windows(2).all(|w| w[0].0 < w[1].0) && s.anomalies.iter().all(|a| a.1 > 0),
        "anomalies not sorted, repeated, or counted zero"
    );
}

fn anomaly(s: &SessionRecord, name: &str) -> u32 {
    s.anomalies
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(0, |(_, c)| *c)
}

const PORTS: [u16; 4] = [80, 443, 40000, 40001];

fn addr(i: u8) -> SocketAddr {
    let port = PORTS[usize::from(i >> 2) & 3];
    let ip = match i & 3 {
        0 => IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        1 => IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        2 => IpAddr::V6(Ipv6Addr::LOCALHOST),
        _ => IpAddr::V4(Ipv4Addr::new(192, 168, 1, 1)),
    };
    SocketAddr::new(ip, port)
}

/// `tcp::ConnTable` with a `session::conn::Conn` per connection, fed segments
/// decoded from the input. Layout: byte 0 → `max_conns` (1 to 8), byte 1 →
/// `max_buffered` (`* 64` bytes), then segments: byte `a` (src = `addr(a & 15)`, dst =
/// `addr(a >> 4)`), flags byte (bit 0 SYN, 1 ACK, 2 FIN, 3 RST; bits 4-5: time step 0,
/// 1 ms, 1 s, 40 s; bit 6: some bytes missing (snaplen), bit 7: seq/ack are absolute
/// u32s, else u16 offsets from per-address ISNs), seq, ack, payload length u16 (capped
/// at what is left), missing count (1 byte, when bit 6), payload.
///
/// Checks: the table never holds more than `max_conns`; evictions are counted and the
/// evicted sessions flagged `limit_hit`, as are sessions that hit the buffer cap (and no
/// others); every session record keeps the promises of [`check_session`] (the ending,
/// code and initiator follow the first Close frame, a code exists exactly when the
/// session is not open, TCP facts and counters agree); refused upgrades carry their
/// connection's addresses; no panic anywhere in TCP, HTTP, WebSocket or classification.
pub fn conn_table(data: &[u8]) {
    let mut b = Bytes::new(data);
    let limits = Limits {
        max_conns: usize::from(b.u8() % 8) + 1,
        max_buffered: usize::from(b.u8()) * 64,
    };
    let cap: Arc<str> = Arc::from("fuzz");
    let mut run = Run {
        limits,
        outputs: Vec::new(),
    };
    let mut table = ConnTable::new(limits, |_, _| {
        Conn::new(
            cap.clone(),
            std::sync::Arc::new(wsaudit::tls::KeyStore::default()),
        )
    });
    let mut ts = 1_700_000_000_000_000_000i64;
    let isn = |a: u8| 0xfff0_0000u32.wrapping_add(u32::from(a) << 24);
    let mut n = 0;
    while !b.done() && n < 5000 {
        n += 1;
        let a = b.u8();
        let fl = b.u8();
        let (src, dst) = (a & 15, a >> 4);
        let (seq, ack) = if fl & 0x80 != 0 {
            (b.u32(), b.u32())
        } else {
            (
                isn(src).wrapping_add(u32::from(b.u16())),
                isn(dst).wrapping_add(u32::from(b.u16())),
            )
        };
        let len = usize::from(b.u16() & 0x3fff);
        let missing = if fl & 0x40 != 0 { u32::from(b.u8()) } else { 0 };
        let payload = b.take(len);
        ts += [0, 1_000_000, 1_000_000_000, 40_000_000_000][usize::from(fl >> 4) & 3];
        let seg = link::Segment {
            src: addr(src),
            dst: addr(dst),
            seq,
            ack,
            flags: link::Flags {
                syn: fl & 1 != 0,
                ack: fl & 2 != 0,
                fin: fl & 4 != 0,
                rst: fl & 8 != 0,
            },
            payload,
            missing,
        };
        table.segment(&seg, ts, &mut |m, t| run.done(m, t));
        check!(
            table.open_connections() <= limits.max_conns,
            "{} connections open, max {}",
            table.open_connections(),
            limits.max_conns
        );
    }
    let evicted = table.finish(&mut |m, t| run.done(m, t));
    run.check_end(evicted);
}

/// Link types the pipeline target writes into its pcap header.
const LINKTYPES: [u32; 5] = [1, 101, 113, 276, 0];

/// The pipeline of `pipeline`'s `run_sequential` (read_slice, link::decode,
/// ConnTable<Conn>) over a pcap built from the input. Layout: byte 0 picks the link
/// type (`LINKTYPES[b % 5]`: Ethernet, raw IP, Linux SLL, SLL2, BSD NULL), byte 1 →
/// `max_conns` (1 to 16), then packets: u16 length (capped at what is left), one byte of
/// time step (ms), a snap byte (`n > 0`: the record says the packet was `n` bytes longer
/// on the wire), then the packet bytes.
///
/// Checks: a well-formed pcap reads without errors; the checks of [`conn_table`] on
/// every connection and session.
pub fn pipeline(data: &[u8]) {
    let mut b = Bytes::new(data);
    let linktype = LINKTYPES[usize::from(b.u8()) % LINKTYPES.len()];
    let limits = Limits {
        max_conns: usize::from(b.u8() % 16) + 1,
        max_buffered: 64 << 10,
    };
    let mut pcap = Vec::with_capacity(data.len() + 24 + 16 * (data.len() / 20));
    pcap.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    pcap.extend_from_slice(&2u16.to_le_bytes());
    pcap.extend_from_slice(&4u16.to_le_bytes());
    pcap.extend_from_slice(&[0; 8]);
    pcap.extend_from_slice(&65535u32.to_le_bytes());
    pcap.extend_from_slice(&linktype.to_le_bytes());
    let mut ts_us = 1_700_000_000_000_000u64;
    while !b.done() {
        let len = usize::from(b.u16());
        ts_us += u64::from(b.u8()) * 1000;
        let snap = u32::from(b.u8());
        let pkt = b.take(len);
        pcap.extend_from_slice(&((ts_us / 1_000_000) as u32).to_le_bytes());
        pcap.extend_from_slice(&((ts_us % 1_000_000) as u32).to_le_bytes());
        pcap.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
        pcap.extend_from_slice(&(pkt.len() as u32 + snap).to_le_bytes());
        pcap.extend_from_slice(pkt);
    }
    let cap: Arc<str> = Arc::from("fuzz");
    let mut run = Run {
        limits,
        outputs: Vec::new(),
    };
    let mut table = ConnTable::new(limits, |_, _| {
        Conn::new(
            cap.clone(),
            std::sync::Arc::new(wsaudit::tls::KeyStore::default()),
        )
    });
    let summary = capture::read_slice(&pcap, |pkt| {
        if let Some(seg) = link::decode(pkt.linktype, pkt.data) {
            table.segment(&seg, pkt.ts_ns, &mut |m, t| run.done(m, t));
        }
    });
    check!(
        summary.errors.is_empty(),
        "a well-formed pcap reported {:?}",
        summary.errors
    );
    let evicted = table.finish(&mut |m, t| run.done(m, t));
    run.check_end(evicted);
}

// ---------------------------------------------------------------------------------------
// Logs (issue 6: a target per log format family). The line parsers build without polars.

use wsaudit::logs::pattern::{self as log_pattern, LinePattern};
use wsaudit::logs::{
    self, access, json, text, CappedLines, FieldMap, LineResult, LogFormat, LogOptions, Record,
};
use wsaudit::session::Ending as LogEnding;

/// Most lines of one input the line targets parse (each line is tried several times).
const LOG_LINES: usize = 64;

/// The lines of a fuzz input, as the log reader sees them (lossy UTF-8).
fn log_lines(data: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = CappedLines::new(data);
    while let Ok(Some((line, _))) = lines.next_line() {
        out.push(String::from_utf8_lossy(line).into_owned());
        if out.len() == LOG_LINES {
            break;
        }
    }
    out
}

/// What every parser promises about one line's result: a record finishes (derived fields
/// are consistent: the ending is the code's, a duration is a finite number of seconds
/// >= 0 when the parser set one), a half match says why in a bounded message.
fn check_line(res: &LineResult) {
    match res {
        LineResult::NoMatch | LineResult::NotClose => {}
        LineResult::Half(why) => {
            check!(!why.is_empty(), "a half match says why");
            check!(why.len() < 512, "half-match message of {} bytes", why.len());
        }
        LineResult::Record(r) => {
            check!(!r.source.is_empty(), "a record names its format");
            check!(
                LogFormat::from_name(r.source).is_some() || r.source == log_pattern::SOURCE,
                "source `{}` is a format name",
                r.source
            );
            if let Some(d) = r.duration_s {
                check!(d.is_finite() && d >= 0.0, "duration {d} from a parser");
            }
            let mut r: Record = (**r).clone();
            r.finish();
            check!(
                r.ending == r.close_code.map(LogEnding::of_reported),
                "ending {:?} for code {:?}",
                r.ending,
                r.close_code
            );
        }
    }
}

/// `logs_text`: each line (at most 64) through every library's matchers ([`text::parse_any`]
/// and [`text::parse_one`] per format) and mitmproxy's clock. Checks: [`check_line`]; a
/// record from `parse_any` is a text format's, has a close code, and [`text::which`] names
/// the same format (detection agrees with parsing); `parse_one` of that format gives the
/// same record; a mitmproxy clock is a time of day.
pub fn logs_text(data: &[u8]) {
    for line in log_lines(data) {
        let any = text::parse_any(&line);
        check_line(&any);
        if let LineResult::Record(r) = &any {
            let f = LogFormat::from_name(r.source);
            check!(
                f.is_some_and(|f| f.is_text()),
                "text record from {}",
                r.source
            );
            check!(r.close_code.is_some(), "a library message without a code");
            check!(text::which(&line) == f, "detection disagrees with parsing");
            if let Some(f) = f {
                check!(text::parse_one(f, &line) == any, "parse_one disagrees");
            }
        }
        for f in LogFormat::ALL.iter().filter(|f| f.is_text()) {
            check_line(&text::parse_one(*f, &line));
        }
        if let Some(t) = text::mitm_clock(&line) {
            check!((0..86_401_000_000_000).contains(&t), "clock {t} ns");
        }
    }
}

/// `logs_json`: each line (at most 64) as a JSON log: [`json::parse_mapped`] with the
/// default names and with a nested field map, [`json::parse_apigw`],
/// [`json::parse_traefik`]. Checks: [`check_line`]; an API Gateway record has a code.
pub fn logs_json(data: &[u8]) {
    let map = FieldMap::parse(
        "code=close.code,reason=close.why,time=ts,session=conn.id,peer=conn.peer,duration=d",
    )
    .ok();
    for line in log_lines(data) {
        check_line(&json::parse_mapped(&line, None));
        check_line(&json::parse_mapped(&line, map.as_ref()));
        let a = json::parse_apigw(&line);
        check_line(&a);
        if let LineResult::Record(r) = &a {
            check!(
                r.close_code.is_some(),
                "a $disconnect record without a code"
            );
        }
        check_line(&json::parse_traefik(&line));
    }
}

/// `logs_access`: each line (at most 64) as an nginx and an ALB access-log line. Checks:
/// [`check_line`]; access logs never give a close code; an ALB record with a start has
/// `start <= end` and duration `end - start`.
pub fn logs_access(data: &[u8]) {
    for line in log_lines(data) {
        let _ = access::looks_nginx(&line);
        let _ = access::looks_alb(&line);
        for res in [access::parse_nginx(&line), access::parse_alb(&line)] {
            check_line(&res);
            if let LineResult::Record(r) = &res {
                check!(r.close_code.is_none(), "an access log gave a close code");
                if let (Some(s), Some(e)) = (r.start_ns, r.end_ns) {
                    check!(s <= e, "start after end");
                }
            }
        }
    }
}

/// `logs_file`: a whole log through the reader ([`logs::read_bytes`]: detection, every
/// parser, mitmproxy clocks, merging). Byte 0 picks the format: low 4 bits 0 = detect,
/// k = `LogFormat::ALL[k - 1]` (wrapping); bit 4 adds a `--map`, bit 5 two `--pattern`s.
/// The rest is the file. Checks: every non-empty line is counted exactly once (unmatched,
/// not a close, half matched, a row, or a library line merged into a row), and once by
/// the format that took it; close events per format add up to rows plus merged; rows
/// number `records`, each has a session id and the ending of its code; half-match lists
/// are bounded.
pub fn logs_file(data: &[u8]) {
    let mut b = Bytes::new(data);
    let sel = b.u8();
    let body = b.rest();
    let k = usize::from(sel & 0x0f);
    let format = (k > 0).then(|| LogFormat::ALL[(k - 1) % LogFormat::ALL.len()]);
    let map = (sel & 0x10 != 0)
        .then(|| FieldMap::parse("code=c,reason=r,time=t,session=s,peer=p,duration=d").ok())
        .flatten();
    // Bit 5: two `--pattern`s, one with every group (tried on the lines no format took).
    let patterns = if sel & 0x20 != 0 {
        [
            r"(?P<time>\S+) .*code=(?P<code>\S+)(?: reason=(?P<reason>.*?))?(?: sid=(?P<session>\S+))?(?: peer=(?P<peer>\S+))?(?: dur=(?P<duration>\S+))?$",
            r"closed (?P<code>\d+)",
        ]
        .iter()
        .filter_map(|p| LinePattern::new(p).ok())
        .collect()
    } else {
        Vec::new()
    };
    let opts = LogOptions {
        format,
        map,
        patterns,
    };
    let (rows, stats) = logs::read_bytes(body, &opts);
    let mut nonempty = 0u64;
    let mut lines = CappedLines::new(body);
    while let Ok(Some((line, _))) = lines.next_line() {
        if !String::from_utf8_lossy(line).trim().is_empty() {
            nonempty += 1;
        }
    }
    check!(stats.records == rows.len() as u64, "records count");
    check!(
        stats.unmatched_lines
            + stats.not_close_events
            + stats.half_matched_total
            + stats.records
            + stats.merged
            == nonempty,
        "lines accounted: {} unmatched + {} not closes + {} half + {} rows + {} merged != {} lines",
        stats.unmatched_lines,
        stats.not_close_events,
        stats.half_matched_total,
        stats.records,
        stats.merged,
        nonempty
    );
    let taken: u64 = stats.lines_by_format.values().sum();
    check!(
        taken + stats.unmatched_lines == nonempty,
        "lines by format {:?} + {} unmatched != {} lines",
        stats.lines_by_format,
        stats.unmatched_lines,
        nonempty
    );
    let closes: u64 = stats.closes_by_format.values().sum();
    check!(
        closes == stats.records + stats.merged,
        "closes by format {:?} != {} rows + {} merged",
        stats.closes_by_format,
        stats.records,
        stats.merged
    );
    check!(
        stats.half_matched.len() <= logs::MAX_HALF_MATCHED,
        "half-matched list bounded"
    );
    for r in &rows {
        check!(r.session_id.is_some(), "a row without a session id");
        check!(
            r.ending == r.close_code.map(LogEnding::of_reported),
            "ending of the code"
        );
        check!(r.line >= 1 && r.line <= stats.lines, "line number in range");
    }
}

// ---------------------------------------------------------------------------------------
// h2

/// One record of a two-sided input: the side, whether a gap comes first, the bytes.
type SideRecord<'a> = (Side, bool, &'a [u8]);

/// The input layout of the two-sided stream targets (`h2`, `tls`): a config byte, then
/// records of a control byte (bit 7: 0 client, 1 server; bits 5 and 6 both set: a gap on
/// that side first), a little-endian u16 length and that many bytes (fewer at the end).
fn side_records(data: &[u8]) -> (u8, Vec<SideRecord<'_>>) {
    let mut b = Bytes::new(data);
    let cfg = b.u8();
    let mut records = Vec::new();
    while !b.done() {
        let r = b.u8();
        let side = if r & 0x80 != 0 {
            Side::Server
        } else {
            Side::Client
        };
        let n = usize::from(b.u16());
        records.push((side, r & 0x60 == 0x60, b.take(n)));
    }
    (cfg, records)
}

/// One event of an `H2Conn`, owned; DATA pieces of one stream that follow each other
/// are merged (pieces follow the feed's split, their bytes do not).
#[derive(Debug, PartialEq)]
enum H2Owned {
    Data(Side, u32, Vec<u8>, bool),
    Other(String),
}

/// `H2Conn`. Layout: byte 0 = config (bit 0: the client stream starts with the
/// connection preface, which the harness writes), then records: a control byte `r`
/// (bit 7: 0 client, 1 server; bits 5 and 6 both set: a gap on that side first), a
/// little-endian u16 length, and that many bytes for that side (fewer at the end).
///
/// Checks: no panic; between calls the heap held stays under `h2::MAX_HEAP_BYTES` and
/// at most `MAX_TRACKED_STREAMS` streams are tracked; Response, Data and RstStream come
/// only for streams that had a Request; a side's DATA bytes out are at most its bytes
/// in; anomaly names are `h2_`/`hpack_` names; and splitting every record in two gives
/// the same events (DATA pieces merged).
pub fn h2(data: &[u8]) {
    use wsaudit::h2::{H2Conn, H2Event, MAX_HEAP_BYTES, MAX_TRACKED_STREAMS, PREFACE};
    let (cfg, mut records) = side_records(data);
    if cfg & 1 != 0 {
        records.insert(0, (Side::Client, false, &PREFACE[..]));
    }

    let run = |split: bool| -> Vec<H2Owned> {
        let mut conn = H2Conn::new();
        let mut events: Vec<H2Owned> = Vec::new();
        let mut requested = std::collections::HashSet::new();
        let (mut fed, mut out) = ([0usize; 2], [0usize; 2]);
        let mut on_event = |e: H2Event<'_>| {
            let known = |s: &u32| requested.contains(s);
            match &e {
                H2Event::Request { stream, .. } => {
                    requested.insert(*stream);
                }
                H2Event::Response { stream, .. } | H2Event::RstStream { stream, .. } => {
                    check!(
                        known(stream),
                        "an event on stream {stream} without a Request"
                    )
                }
                H2Event::Data { stream, .. } => {
                    check!(known(stream), "DATA on stream {stream} without a Request")
                }
                H2Event::Anomaly { name, .. } => check!(
                    name.starts_with("h2_") || name.starts_with("hpack_"),
                    "anomaly name {name}"
                ),
                _ => {}
            }
            if let H2Event::Data {
                side,
                stream,
                data,
                end_stream,
            } = e
            {
                out[side as usize] += data.len();
                if let Some(H2Owned::Data(s, id, d, false)) = events.last_mut() {
                    if *s == side && *id == stream {
                        d.extend_from_slice(data);
                        if end_stream {
                            let (s, id, d) = (*s, *id, std::mem::take(d));
                            *events.last_mut().unwrap() = H2Owned::Data(s, id, d, true);
                        }
                        return;
                    }
                }
                events.push(H2Owned::Data(side, stream, data.to_vec(), end_stream));
            } else {
                events.push(H2Owned::Other(format!("{e:?}")));
            }
        };
        for (side, gap, bytes) in &records {
            if *gap {
                conn.gap(*side, &mut on_event);
            }
            fed[*side as usize] += bytes.len();
            if split {
                let (a, c) = bytes.split_at(bytes.len() / 2);
                conn.feed(*side, a, &mut on_event);
                conn.feed(*side, c, &mut on_event);
            } else {
                conn.feed(*side, bytes, &mut on_event);
            }
            check!(
                conn.heap_bytes() <= MAX_HEAP_BYTES,
                "heap {} over the bound",
                conn.heap_bytes()
            );
            check!(
                conn.tracked_streams() <= MAX_TRACKED_STREAMS,
                "too many streams tracked"
            );
        }
        check!(
            out[0] <= fed[0] && out[1] <= fed[1],
            "more DATA out than bytes in"
        );
        events
    };
    let whole = run(false);
    let split = run(true);
    check!(whole == split, "splitting records changed the events");
}

// ---------------------------------------------------------------------------------------
// tls and keylog

/// The key logs of the `fixtures/tls` captures the `tls` seeds were cut from
/// (`fuzz/seedgen`): with them, fuzzing reaches decryption with keys that fit.
pub const FUZZ_KEYLOG: &str = include_str!("../seeds/tls.keys");

/// `tls::TlsConn`. Layout as [`h2`]'s records: a config byte (bit 0: the seeds' keys
/// are known, [`FUZZ_KEYLOG`]), then records of a control byte (bit 7: 0 client,
/// 1 server; bits 5 and 6 both set: a gap on that side first), a little-endian u16
/// length and that many bytes.
///
/// Checks: no panic; the heap held stays under `tls::conn::MAX_HEAP_BYTES`; plaintext
/// out of a side is at most the bytes in; anomaly names start with `tls_`; splitting
/// every record in two gives the same plaintext and the same facts.
pub fn tls(data: &[u8]) {
    use wsaudit::tls::conn::MAX_HEAP_BYTES;
    use wsaudit::tls::{KeyLog, KeyStore, TlsConn};
    let (cfg, records) = side_records(data);
    let mut log = KeyLog::new();
    if cfg & 1 != 0 {
        log.parse(FUZZ_KEYLOG.as_bytes());
    }
    let keys = std::sync::Arc::new(KeyStore::new(log));
    let run = |split: bool| {
        let mut conn = TlsConn::new(keys.clone());
        let mut plain: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        let mut fed = [0usize; 2];
        for (side, gap, bytes) in &records {
            if *gap {
                // A gap of a record's worth: inside the record being read, or not.
                let _ = conn.gap(*side, bytes.len() as u64);
            }
            fed[*side as usize] += bytes.len();
            let mut out = |s: Side, p: &[u8]| plain[s as usize].extend_from_slice(p);
            if split {
                let (a, c) = bytes.split_at(bytes.len() / 2);
                conn.feed(*side, a, &mut out);
                conn.feed(*side, c, &mut out);
            } else {
                conn.feed(*side, bytes, &mut out);
            }
            check!(
                conn.heap_bytes() <= MAX_HEAP_BYTES,
                "heap {} over the bound",
                conn.heap_bytes()
            );
        }
        check!(
            plain[0].len() <= fed[0] && plain[1].len() <= fed[1],
            "more plaintext out than bytes in"
        );
        for name in conn.facts().anomalies.keys() {
            check!(name.starts_with("tls_"), "anomaly name {name}");
        }
        (plain, conn.facts().clone())
    };
    let whole = run(false);
    let split = run(true);
    check!(
        whole == split,
        "splitting records changed the plaintext or the facts"
    );
}

/// `tls::KeyLog::parse` on any bytes. Checks: no panic; every line is counted once
/// (secret, ignored, unsupported, bad or blank); the secrets found are never more than
/// the lines; parsing the same bytes twice into one log changes no count of
/// connections; `sniff` agrees with parsing about the first meaningful line.
pub fn keylog(data: &[u8]) {
    use wsaudit::tls::KeyLog;
    let mut log = KeyLog::new();
    let found = log.parse(data);
    let lines = data.split(|c| *c == b'\n').count() as u64;
    let st = &log.stats;
    check!(
        st.secret_lines + st.ignored_lines + st.unsupported_lines + st.bad_lines <= lines,
        "more lines counted than there are"
    );
    check!(found == st.secret_lines, "secret lines miscounted");
    check!(
        log.len() as u64 <= found,
        "more connections than secret lines"
    );
    check!(
        st.first_bad.len() as u64 <= st.bad_lines.min(5),
        "bad lines kept"
    );
    let n = log.len();
    log.parse(data);
    check!(log.len() == n, "the same lines twice added connections");
    let _ = KeyLog::sniff(data);
}
