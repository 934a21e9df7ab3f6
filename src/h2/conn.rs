//! One HTTP/2 connection: the frame layer's state machine, per direction, and the
//! extended CONNECT streams it tracks.
//!
//! Contract: see the module above. [`H2Conn::feed`] takes any split of a direction's
//! bytes and gives the same events (DATA pieces aside, which follow the split); it
//! never panics, and the heap it holds ([`H2Conn::heap_bytes`]) stays under
//! [`MAX_HEAP_BYTES`] whatever the input. Each direction keeps: where it is in the preface and in the
//! current frame (header bytes, the few bytes before a body, how much body and padding
//! is left), the header block it is assembling, and its HPACK decoder. The connection
//! keeps the highest stream ids seen (to tell new streams from old and idle ones) and
//! the tracked streams. Checks follow RFC 9113 where a passive observer can make them;
//! each violation is an [`H2Event::Anomaly`] and decoding goes on where it can.
//!
//! HPACK limits: the table of one direction may grow to the largest
//! SETTINGS_HEADER_TABLE_SIZE the other side announced, at least the initial 4096
//! (an observer cannot tell which SETTINGS the encoder had seen), and never above
//! [`hpack::MAX_TABLE_SIZE`]. When a direction's header state is lost (a decoding error,
//! a block over [`MAX_HEADER_BLOCK`], a header block interrupted), `hpack_stopped` is
//! reported and that direction's header blocks are no longer decoded; its frames and
//! DATA still are.

use super::frame::{self, flags, setting, FrameHeader, FrameType};
use super::hpack;
use super::{H2Event, PREFACE};
use crate::http::{self, Headers, Request, Response};
use crate::Side;

/// Most streams tracked at once per connection (extended CONNECT streams still open).
pub const MAX_TRACKED_STREAMS: usize = 256;
/// Most bytes of one header block buffered (HEADERS or PUSH_PROMISE plus its
/// CONTINUATIONs); beyond, the block is dropped and that direction's HPACK stops.
pub const MAX_HEADER_BLOCK: usize = 256 * 1024;
/// Most a decoded header list may total (name + value + 32 per field, RFC 9113
/// section 6.5.2's measure); beyond, the block gives no event (HPACK stays in step).
pub const MAX_HEADER_LIST: usize = 64 * 1024;
/// What [`H2Conn::heap_bytes`] never exceeds between calls, whatever the input: per
/// direction a header block buffer (its capacity at most twice [`MAX_HEADER_BLOCK`]
/// as a `Vec` grows) and an HPACK decoder (table bytes, their slots and scratch:
/// under three times [`hpack::MAX_TABLE_SIZE`]), plus the tracked streams. About 1.4 MiB.
pub const MAX_HEAP_BYTES: usize = 2 * (2 * MAX_HEADER_BLOCK + 3 * hpack::MAX_TABLE_SIZE)
    + 2 * MAX_TRACKED_STREAMS * std::mem::size_of::<Tracked>();
/// Regular header fields kept from one block (only for extended CONNECT streams).
const MAX_KEPT_FIELDS: usize = 32;
/// A header block buffer above this capacity is given back after use.
const KEEP_BLOCK: usize = 16 * 1024;

/// Counters, for tests and the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct H2Stats {
    /// Frame headers read (both directions).
    pub frames: u64,
    /// Client streams opened (HEADERS on a new stream id).
    pub streams_seen: u64,
    /// Streams ever tracked (extended CONNECT requests accepted).
    pub streams_tracked: u64,
    /// Anomaly events emitted.
    pub anomalies: u64,
}

/// An extended CONNECT stream.
#[derive(Debug, Clone, Copy)]
struct Tracked {
    id: u32,
    responded: bool,
    client_ended: bool,
    server_ended: bool,
}

/// Where a direction is inside its current frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Collecting `need` bytes into `small` (the fields before a body, or the start
    /// of a fixed-size control payload).
    Prefix,
    /// `body_left` body bytes to go.
    Body,
    /// `pad_left` bytes of padding or ignored payload to go.
    Pad,
}

#[derive(Debug, Clone, Copy)]
struct Frame {
    h: FrameHeader,
    phase: Phase,
    need: usize,
    small: [u8; 8],
    small_len: usize,
    body_len: usize,
    body_left: usize,
    pad_left: usize,
    /// DATA on a tracked stream: pieces are handed on.
    tracked: bool,
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL seen in this SETTINGS frame.
    enable_connect: Option<bool>,
}

/// A header block waiting for its END_HEADERS.
#[derive(Debug, Clone, Copy)]
struct OpenBlock {
    stream: u32,
    push: bool,
    end_stream: bool,
    /// HEADERS that opened a new client stream.
    new_stream: bool,
    /// Over [`MAX_HEADER_BLOCK`]: its bytes are skipped.
    dropped: bool,
}

struct Dir {
    /// Preface bytes matched so far (the server starts with all of it).
    preface: usize,
    /// Bytes can no longer be framed: everything further is ignored.
    dead: bool,
    seen_frame: bool,
    hdr: [u8; frame::HEADER_LEN],
    hdr_len: usize,
    frame: Option<Frame>,
    open: Option<OpenBlock>,
    block: Vec<u8>,
    hpack: hpack::Decoder,
    hpack_dead: bool,
    /// The largest frame the other side allows this one to send.
    max_frame: u32,
}

impl Dir {
    fn new(side: Side) -> Dir {
        Dir {
            preface: if side == Side::Client {
                0
            } else {
                PREFACE.len()
            },
            dead: false,
            seen_frame: false,
            hdr: [0; frame::HEADER_LEN],
            hdr_len: 0,
            frame: None,
            open: None,
            block: Vec::new(),
            hpack: hpack::Decoder::new(),
            hpack_dead: false,
            max_frame: frame::DEFAULT_MAX_FRAME_SIZE,
        }
    }
}

/// The fields of a header block an extended CONNECT needs.
#[derive(Default)]
struct Fields {
    method: Option<Vec<u8>>,
    protocol: Option<Vec<u8>>,
    path: Option<Vec<u8>>,
    authority: Option<Vec<u8>>,
    status: Option<Vec<u8>>,
    regular: Vec<(Vec<u8>, Vec<u8>)>,
    list_size: usize,
    /// Pseudo-header fields are over (RFC 9113 section 8.3: they come first).
    past_pseudo: bool,
}

fn capped(b: &[u8]) -> Vec<u8> {
    b[..b.len().min(http::MAX_VALUE)].to_vec()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// One HTTP/2 connection being observed.
pub struct H2Conn {
    client: Dir,
    server: Dir,
    /// Open extended CONNECT streams, at most [`MAX_TRACKED_STREAMS`].
    tracked: Vec<Tracked>,
    /// The highest stream id a client HEADERS opened.
    highest_client: u32,
    /// The highest stream id a PUSH_PROMISE reserved.
    highest_promised: u32,
    stats: H2Stats,
}

impl Default for H2Conn {
    fn default() -> Self {
        Self::new()
    }
}

impl H2Conn {
    /// A connection before its first byte: the client must start with [`PREFACE`].
    pub fn new() -> Self {
        H2Conn {
            client: Dir::new(Side::Client),
            server: Dir::new(Side::Server),
            tracked: Vec::new(),
            highest_client: 0,
            highest_promised: 0,
            stats: H2Stats::default(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> &H2Stats {
        &self.stats
    }

    /// Streams tracked now.
    pub fn tracked_streams(&self) -> usize {
        self.tracked.len()
    }

    /// Whether `side`'s bytes are ignored (a gap, or not HTTP/2).
    pub fn is_dead(&self, side: Side) -> bool {
        self.dir(side).dead
    }

    /// Heap bytes held by this connection's state.
    pub fn heap_bytes(&self) -> usize {
        [&self.client, &self.server]
            .iter()
            .map(|d| d.block.capacity() + d.hpack.heap_bytes())
            .sum::<usize>()
            + self.tracked.capacity() * std::mem::size_of::<Tracked>()
    }

    fn dir(&self, side: Side) -> &Dir {
        match side {
            Side::Client => &self.client,
            Side::Server => &self.server,
        }
    }

    fn dir_mut(&mut self, side: Side) -> &mut Dir {
        match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        }
    }

    fn anomaly(
        &mut self,
        side: Side,
        stream: Option<u32>,
        name: &'static str,
        out: &mut impl FnMut(H2Event<'_>),
    ) {
        self.stats.anomalies += 1;
        out(H2Event::Anomaly { side, stream, name });
    }

    /// Stop decoding `side`'s header blocks (reported once).
    fn stop_hpack(&mut self, side: Side, out: &mut impl FnMut(H2Event<'_>)) {
        let d = self.dir_mut(side);
        if !d.hpack_dead {
            d.hpack_dead = true;
            d.block = Vec::new();
            self.anomaly(side, None, "hpack_stopped", out);
        }
    }

    /// Bytes of `side` were lost: that direction can no longer be framed.
    pub fn gap(&mut self, side: Side, out: &mut impl FnMut(H2Event<'_>)) {
        let d = self.dir_mut(side);
        if d.dead {
            return;
        }
        d.dead = true;
        d.frame = None;
        d.open = None;
        d.block = Vec::new();
        self.anomaly(side, None, "h2_gap", out);
    }

    /// The next in-order bytes of `side`.
    pub fn feed(&mut self, side: Side, mut data: &[u8], out: &mut impl FnMut(H2Event<'_>)) {
        while !data.is_empty() && !self.dir(side).dead {
            let n = self.step(side, data, out);
            data = &data[n..];
        }
    }

    /// Consume some of `data` (at least one byte); returns how many.
    fn step(&mut self, side: Side, data: &[u8], out: &mut impl FnMut(H2Event<'_>)) -> usize {
        let d = self.dir_mut(side);
        if d.preface < PREFACE.len() {
            let want = &PREFACE[d.preface..];
            let n = want.len().min(data.len());
            if data[..n] != want[..n] {
                d.dead = true;
                self.anomaly(side, None, "h2_bad_preface", out);
                return data.len();
            }
            d.preface += n;
            return n;
        }
        let Some(f) = d.frame.as_mut() else {
            let n = (frame::HEADER_LEN - d.hdr_len).min(data.len());
            d.hdr[d.hdr_len..d.hdr_len + n].copy_from_slice(&data[..n]);
            d.hdr_len += n;
            if d.hdr_len == frame::HEADER_LEN {
                d.hdr_len = 0;
                if let Some(h) = FrameHeader::parse(&d.hdr) {
                    self.start_frame(side, h, out);
                    self.settle(side, out);
                }
            }
            return n;
        };
        let n = match f.phase {
            Phase::Prefix => {
                let n = (f.need - f.small_len).min(data.len());
                f.small[f.small_len..f.small_len + n].copy_from_slice(&data[..n]);
                f.small_len += n;
                n
            }
            Phase::Body => {
                let n = f.body_left.min(data.len());
                f.body_left -= n;
                let (h, last, tracked) = (f.h, f.body_left == 0, f.tracked);
                match h.kind {
                    FrameType::Data if tracked => {
                        out(H2Event::Data {
                            side,
                            stream: h.stream,
                            data: &data[..n],
                            end_stream: last && h.has(flags::END_STREAM),
                        });
                    }
                    FrameType::Headers | FrameType::PushPromise | FrameType::Continuation => {
                        self.append_block(side, &data[..n], out)
                    }
                    FrameType::Settings => self.settings_bytes(side, &data[..n], out),
                    _ => {}
                }
                n
            }
            Phase::Pad => {
                let n = f.pad_left.min(data.len());
                f.pad_left -= n;
                n
            }
        };
        self.settle(side, out);
        n
    }

    /// Move the current frame through phases that have nothing left to read.
    fn settle(&mut self, side: Side, out: &mut impl FnMut(H2Event<'_>)) {
        while let Some(mut f) = self.dir(side).frame {
            let h = f.h;
            match f.phase {
                Phase::Prefix if f.small_len == f.need => {
                    f.phase = Phase::Body;
                    match h.kind {
                        FrameType::Data | FrameType::Headers | FrameType::PushPromise => {
                            let p = frame::parse_prefix(&h, &f.small[..f.need]);
                            match frame::body_len(&h, &p) {
                                Ok(body) => {
                                    f.body_len = body;
                                    f.body_left = body;
                                    f.pad_left = p.pad;
                                    if let Some(promised) = p.promised {
                                        self.promise(side, h.stream, promised, out);
                                    }
                                }
                                Err(e) => {
                                    // Skip the whole frame; a header block it opened
                                    // cannot be decoded.
                                    f.pad_left = h.len as usize - f.need;
                                    f.tracked = false;
                                    f.phase = Phase::Pad;
                                    self.anomaly(side, Some(h.stream), e.name(), out);
                                    if h.kind != FrameType::Data {
                                        self.dir_mut(side).open = None;
                                        self.stop_hpack(side, out);
                                    }
                                }
                            }
                        }
                        FrameType::Settings | FrameType::Continuation => {
                            f.body_len = h.len as usize;
                            f.body_left = h.len as usize;
                        }
                        _ => {
                            // Fixed-size control frames: the rest is not needed.
                            f.pad_left = h.len as usize - f.need;
                        }
                    }
                }
                Phase::Body if f.body_left == 0 => {
                    if h.kind == FrameType::Data
                        && f.tracked
                        && f.body_len == 0
                        && h.has(flags::END_STREAM)
                    {
                        out(H2Event::Data {
                            side,
                            stream: h.stream,
                            data: &[],
                            end_stream: true,
                        });
                    }
                    f.phase = Phase::Pad;
                }
                Phase::Pad if f.pad_left == 0 => {
                    self.dir_mut(side).frame = None;
                    self.end_frame(side, &f, out);
                    return;
                }
                _ => return,
            }
            self.dir_mut(side).frame = Some(f);
        }
    }

    /// A frame header was read: checks, and what to collect.
    fn start_frame(&mut self, side: Side, h: FrameHeader, out: &mut impl FnMut(H2Event<'_>)) {
        self.stats.frames += 1;
        let d = self.dir_mut(side);
        let first = !d.seen_frame;
        d.seen_frame = true;
        let too_large = h.len > d.max_frame;
        let open = d.open;
        if first && (h.kind != FrameType::Settings || h.has(flags::ACK)) {
            self.anomaly(side, None, "h2_first_frame_not_settings", out);
        }
        if too_large {
            self.anomaly(side, Some(h.stream), "h2_frame_too_large", out);
        }
        // A header block must continue with CONTINUATION frames on its stream only.
        if let Some(o) = open {
            if h.kind != FrameType::Continuation || h.stream != o.stream {
                self.dir_mut(side).open = None;
                self.anomaly(side, Some(o.stream), "h2_continuation_expected", out);
                if !o.dropped {
                    self.stop_hpack(side, out);
                }
            }
        }
        let on_stream = matches!(
            h.kind,
            FrameType::Data
                | FrameType::Headers
                | FrameType::Priority
                | FrameType::RstStream
                | FrameType::PushPromise
                | FrameType::Continuation
        );
        if on_stream && h.stream == 0 {
            self.anomaly(side, None, "h2_stream_zero", out);
        }
        let connection_level = matches!(
            h.kind,
            FrameType::Settings | FrameType::Ping | FrameType::GoAway
        );
        if connection_level && h.stream != 0 {
            self.anomaly(side, Some(h.stream), "h2_control_on_stream", out);
        }
        let len = h.len as usize;
        let mut f = Frame {
            h,
            phase: Phase::Prefix,
            need: 0,
            small: [0; 8],
            small_len: 0,
            body_len: 0,
            body_left: 0,
            pad_left: 0,
            tracked: false,
            enable_connect: None,
        };
        match h.kind {
            FrameType::Data => {
                // A prefix longer than the frame is reported once it is read.
                f.need = frame::prefix_len(&h).min(len);
                if h.stream != 0 && self.is_idle(side, h.stream) {
                    self.anomaly(side, Some(h.stream), "h2_frame_on_idle_stream", out);
                }
                if let Some(t) = self.tracked.iter().find(|t| t.id == h.stream) {
                    let ended = match side {
                        Side::Client => t.client_ended,
                        Side::Server => t.server_ended,
                    };
                    if ended {
                        self.anomaly(side, Some(h.stream), "h2_data_after_end_stream", out);
                    } else {
                        f.tracked = true;
                    }
                }
            }
            FrameType::Headers | FrameType::PushPromise => {
                f.need = frame::prefix_len(&h).min(len);
                self.open_block(side, &h, out);
            }
            FrameType::Continuation => {
                if self.dir(side).open.is_none() {
                    self.anomaly(side, Some(h.stream), "h2_unexpected_continuation", out);
                    f.pad_left = len;
                    f.phase = Phase::Pad;
                }
            }
            FrameType::Settings => {
                if h.has(flags::ACK) && len != 0 {
                    self.anomaly(side, None, "h2_bad_frame_length", out);
                    f.pad_left = len;
                    f.phase = Phase::Pad;
                } else if !len.is_multiple_of(6) {
                    self.anomaly(side, None, "h2_bad_frame_length", out);
                }
            }
            FrameType::RstStream
            | FrameType::GoAway
            | FrameType::Ping
            | FrameType::WindowUpdate
            | FrameType::Priority => {
                f.need = len.min(8);
            }
            FrameType::Unknown(_) => {
                f.pad_left = len;
                f.phase = Phase::Pad;
            }
        }
        self.dir_mut(side).frame = Some(f);
    }

    /// Whether `stream` was never opened: a client stream above the highest a client
    /// HEADERS opened, or a server stream above the highest promised.
    fn is_idle(&self, _side: Side, stream: u32) -> bool {
        if stream % 2 == 1 {
            stream > self.highest_client
        } else {
            stream > self.highest_promised
        }
    }

    /// HEADERS or PUSH_PROMISE begins a header block.
    fn open_block(&mut self, side: Side, h: &FrameHeader, out: &mut impl FnMut(H2Event<'_>)) {
        let push = h.kind == FrameType::PushPromise;
        let mut new_stream = false;
        if !push && side == Side::Client && h.stream != 0 {
            if h.stream.is_multiple_of(2) {
                self.anomaly(side, Some(h.stream), "h2_bad_stream_id", out);
            } else if h.stream > self.highest_client {
                self.highest_client = h.stream;
                self.stats.streams_seen += 1;
                new_stream = true;
            }
        }
        if !push && side == Side::Server && h.stream != 0 && self.is_idle(side, h.stream) {
            self.anomaly(side, Some(h.stream), "h2_frame_on_idle_stream", out);
        }
        if push && side == Side::Client {
            self.anomaly(side, Some(h.stream), "h2_push_promise_from_client", out);
        }
        let d = self.dir_mut(side);
        d.block.clear();
        d.open = Some(OpenBlock {
            stream: h.stream,
            push,
            end_stream: !push && h.has(flags::END_STREAM),
            new_stream,
            dropped: false,
        });
    }

    /// PUSH_PROMISE reserved `promised`.
    fn promise(
        &mut self,
        side: Side,
        stream: u32,
        promised: u32,
        out: &mut impl FnMut(H2Event<'_>),
    ) {
        if promised == 0 || promised % 2 == 1 {
            self.anomaly(side, Some(stream), "h2_bad_stream_id", out);
        } else if promised > self.highest_promised {
            self.highest_promised = promised;
        }
    }

    /// Header block fragment bytes.
    fn append_block(&mut self, side: Side, bytes: &[u8], out: &mut impl FnMut(H2Event<'_>)) {
        let d = self.dir_mut(side);
        let Some(o) = d.open.as_mut() else { return };
        if o.dropped || d.hpack_dead {
            return;
        }
        if d.block.len() + bytes.len() > MAX_HEADER_BLOCK {
            o.dropped = true;
            let stream = o.stream;
            d.block = Vec::new();
            self.anomaly(side, Some(stream), "h2_header_block_too_large", out);
            self.stop_hpack(side, out);
            return;
        }
        d.block.extend_from_slice(bytes);
    }

    /// SETTINGS payload bytes: whole 6-byte entries are applied as they complete.
    fn settings_bytes(&mut self, side: Side, mut bytes: &[u8], out: &mut impl FnMut(H2Event<'_>)) {
        while !bytes.is_empty() {
            let Some(f) = self.dir_mut(side).frame.as_mut() else {
                return;
            };
            if f.h.has(flags::ACK) {
                return;
            }
            let n = (6 - f.small_len).min(bytes.len());
            f.small[f.small_len..f.small_len + n].copy_from_slice(&bytes[..n]);
            f.small_len += n;
            bytes = &bytes[n..];
            if f.small_len < 6 {
                return;
            }
            f.small_len = 0;
            let Some(entry) = f.small.first_chunk::<6>() else {
                return;
            };
            let s = frame::parse_setting(entry);
            let other = match side {
                Side::Client => Side::Server,
                Side::Server => Side::Client,
            };
            match s.id {
                setting::ENABLE_CONNECT_PROTOCOL => match s.value {
                    0 | 1 => f.enable_connect = Some(s.value == 1),
                    _ => self.anomaly(side, None, "h2_bad_setting", out),
                },
                setting::HEADER_TABLE_SIZE => {
                    // `side` decodes what the other side encodes.
                    let hp = &mut self.dir_mut(other).hpack;
                    let limit = hp.limit().max(s.value as usize);
                    hp.set_limit(limit);
                }
                setting::MAX_FRAME_SIZE => {
                    if (frame::DEFAULT_MAX_FRAME_SIZE..=frame::MAX_MAX_FRAME_SIZE)
                        .contains(&s.value)
                    {
                        let d = self.dir_mut(other);
                        d.max_frame = d.max_frame.max(s.value);
                    } else {
                        self.anomaly(side, None, "h2_bad_setting", out);
                    }
                }
                setting::ENABLE_PUSH if s.value > 1 => {
                    self.anomaly(side, None, "h2_bad_setting", out)
                }
                setting::INITIAL_WINDOW_SIZE if s.value > 0x7fff_ffff => {
                    self.anomaly(side, None, "h2_bad_setting", out)
                }
                _ => {}
            }
        }
    }

    /// A frame was read to its end.
    fn end_frame(&mut self, side: Side, f: &Frame, out: &mut impl FnMut(H2Event<'_>)) {
        let h = f.h;
        let small = &f.small[..f.small_len.min(h.len as usize)];
        match h.kind {
            FrameType::Data if f.tracked && h.has(flags::END_STREAM) => {
                self.stream_ended(side, h.stream);
            }
            FrameType::Headers | FrameType::PushPromise | FrameType::Continuation
                if h.has(flags::END_HEADERS) && self.dir(side).open.is_some() =>
            {
                self.finish_block(side, out);
            }
            FrameType::Settings if !h.has(flags::ACK) => {
                out(H2Event::Settings {
                    side,
                    enable_connect_protocol: f.enable_connect,
                });
            }
            FrameType::RstStream => match frame::parse_rst_stream(small) {
                Ok(error_code) if h.len == 4 => {
                    if h.stream != 0 && self.is_idle(side, h.stream) {
                        self.anomaly(side, Some(h.stream), "h2_frame_on_idle_stream", out);
                    }
                    if let Some(i) = self.tracked.iter().position(|t| t.id == h.stream) {
                        self.tracked.swap_remove(i);
                        out(H2Event::RstStream {
                            side,
                            stream: h.stream,
                            error_code,
                        });
                    }
                }
                _ => self.anomaly(side, Some(h.stream), "h2_bad_frame_length", out),
            },
            FrameType::GoAway => match frame::parse_goaway(small) {
                Ok(g) => out(H2Event::GoAway {
                    side,
                    last_stream_id: g.last_stream_id,
                    error_code: g.error_code,
                }),
                Err(e) => self.anomaly(side, None, e.name(), out),
            },
            FrameType::Ping if h.len != 8 => self.anomaly(side, None, "h2_bad_frame_length", out),
            FrameType::WindowUpdate => {
                if h.len != 4 {
                    self.anomaly(side, Some(h.stream), "h2_bad_frame_length", out);
                } else if frame::parse_window_update(small) == Ok(0) {
                    self.anomaly(side, Some(h.stream), "h2_window_update_zero", out);
                }
            }
            FrameType::Priority if h.len != 5 => {
                self.anomaly(side, Some(h.stream), "h2_bad_frame_length", out)
            }
            _ => {}
        }
    }

    /// `side` sent END_STREAM on a tracked stream; forget it once both sides did.
    fn stream_ended(&mut self, side: Side, stream: u32) {
        if let Some(i) = self.tracked.iter().position(|t| t.id == stream) {
            let t = &mut self.tracked[i];
            match side {
                Side::Client => t.client_ended = true,
                Side::Server => t.server_ended = true,
            }
            if t.client_ended && t.server_ended {
                self.tracked.swap_remove(i);
            }
        }
    }

    /// A header block is complete: decode it and act on it.
    fn finish_block(&mut self, side: Side, out: &mut impl FnMut(H2Event<'_>)) {
        let d = self.dir_mut(side);
        let Some(o) = d.open.take() else { return };
        if o.dropped || d.hpack_dead {
            // Undecodable, but END_STREAM on a stream already answered (the other
            // side's trailers, or the server's after its response) still ends it.
            let answered = self.tracked.iter().any(|t| {
                t.id == o.stream && (side == Side::Client && !o.new_stream || t.responded)
            });
            if o.end_stream && !o.push && answered {
                self.trailers_end(side, o.stream, out);
            }
            return;
        }
        let block = std::mem::take(&mut d.block);
        let tracked = self.tracked.iter().find(|t| t.id == o.stream).copied();
        // Regular fields are kept only for blocks that can give an event.
        let server_wants = side == Side::Server && !o.push && tracked.is_some();
        let mut fields = Fields::default();
        let d = self.dir_mut(side);
        let result = d.hpack.decode(&block, &mut |name, value| {
            fields.list_size += name.len() + value.len() + 32;
            if fields.list_size > MAX_HEADER_LIST {
                return;
            }
            if let Some(pseudo) = name.strip_prefix(b":") {
                let slot = match pseudo {
                    b"method" => &mut fields.method,
                    b"protocol" => &mut fields.protocol,
                    b"path" => &mut fields.path,
                    b"authority" => &mut fields.authority,
                    b"status" => &mut fields.status,
                    _ => return,
                };
                if !fields.past_pseudo && slot.is_none() {
                    *slot = Some(capped(value));
                }
                return;
            }
            fields.past_pseudo = true;
            let client_wants = side == Side::Client
                && o.new_stream
                && fields.method.as_deref() == Some(b"CONNECT")
                && fields.protocol.is_some();
            if (client_wants || server_wants) && fields.regular.len() < MAX_KEPT_FIELDS {
                fields.regular.push((capped(name), capped(value)));
            }
        });
        // Give the buffer back (its capacity, unless it grew big).
        let d = self.dir_mut(side);
        if block.capacity() <= KEEP_BLOCK {
            d.block = block;
            d.block.clear();
        }
        if let Err(e) = result {
            self.anomaly(side, Some(o.stream), e.name(), out);
            self.stop_hpack(side, out);
            return;
        }
        if fields.list_size > MAX_HEADER_LIST {
            self.anomaly(side, Some(o.stream), "h2_header_list_too_large", out);
            return;
        }
        if o.push || o.stream == 0 {
            return;
        }
        match side {
            Side::Client => self.client_headers(o, fields, out),
            Side::Server => self.server_headers(o, tracked, fields, out),
        }
    }

    /// HEADERS with END_STREAM after the opening ones (trailers): an empty last piece.
    fn trailers_end(&mut self, side: Side, stream: u32, out: &mut impl FnMut(H2Event<'_>)) {
        out(H2Event::Data {
            side,
            stream,
            data: &[],
            end_stream: true,
        });
        self.stream_ended(side, stream);
    }

    fn client_headers(&mut self, o: OpenBlock, f: Fields, out: &mut impl FnMut(H2Event<'_>)) {
        let stream = o.stream;
        if !o.new_stream {
            // Trailers (or HEADERS on an old stream): only END_STREAM matters.
            if o.end_stream && self.tracked.iter().any(|t| t.id == stream) {
                self.trailers_end(Side::Client, stream, out);
            }
            return;
        }
        let Some(protocol) = f.protocol else { return };
        if f.method.as_deref() != Some(b"CONNECT") {
            // `:protocol` is only for CONNECT (RFC 8441 section 4).
            self.anomaly(
                Side::Client,
                Some(stream),
                "h2_protocol_without_connect",
                out,
            );
            return;
        }
        if self.tracked.len() >= MAX_TRACKED_STREAMS {
            self.anomaly(Side::Client, Some(stream), "h2_too_many_streams", out);
            return;
        }
        self.tracked.push(Tracked {
            id: stream,
            responded: false,
            client_ended: o.end_stream,
            server_ended: false,
        });
        self.stats.streams_tracked += 1;
        let host = f.authority.as_deref().map(|a| (&b"host"[..], a));
        let headers = Headers::from_pairs(
            host.into_iter()
                .chain(f.regular.iter().map(|(n, v)| (&n[..], &v[..]))),
        );
        let head = Request {
            method: "CONNECT".to_string(),
            target: f.path.as_deref().map(text).unwrap_or_default(),
            headers,
        };
        out(H2Event::Request {
            stream,
            head: Box::new(head),
            protocol: Some(text(&protocol)),
            end_stream: o.end_stream,
        });
    }

    fn server_headers(
        &mut self,
        o: OpenBlock,
        tracked: Option<Tracked>,
        f: Fields,
        out: &mut impl FnMut(H2Event<'_>),
    ) {
        let stream = o.stream;
        let Some(t) = tracked else { return };
        if t.responded {
            if o.end_stream {
                self.trailers_end(Side::Server, stream, out);
            }
            return;
        }
        let status = f
            .status
            .as_deref()
            .filter(|s| s.len() == 3 && s.iter().all(u8::is_ascii_digit))
            .and_then(|s| std::str::from_utf8(s).ok()?.parse::<u16>().ok());
        let Some(status) = status else {
            self.anomaly(Side::Server, Some(stream), "h2_bad_status", out);
            return;
        };
        if (100..200).contains(&status) {
            return; // informational: the final answer follows
        }
        if let Some(t) = self.tracked.iter_mut().find(|t| t.id == stream) {
            t.responded = true;
        }
        let headers = Headers::from_pairs(f.regular.iter().map(|(n, v)| (&n[..], &v[..])));
        out(H2Event::Response {
            stream,
            head: Box::new(Response {
                status,
                reason: String::new(),
                headers,
            }),
            end_stream: o.end_stream,
        });
        if o.end_stream {
            self.stream_ended(Side::Server, stream);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::huffman;
    use super::*;

    // ---- Hand-built frames and header blocks (RFC 9113 section 4.1, RFC 7541) ----

    pub fn frame(kind: u8, fl: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let mut v = (payload.len() as u32).to_be_bytes()[1..].to_vec();
        v.extend_from_slice(&[kind, fl]);
        v.extend_from_slice(&stream.to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    pub fn settings(entries: &[(u16, u32)]) -> Vec<u8> {
        let mut p = Vec::new();
        for (id, v) in entries {
            p.extend_from_slice(&id.to_be_bytes());
            p.extend_from_slice(&v.to_be_bytes());
        }
        frame(4, 0, 0, &p)
    }

    /// An HPACK integer with an `n`-bit prefix and the bits above it in `first`.
    pub fn int(first: u8, n: u32, v: usize) -> Vec<u8> {
        let max = (1usize << n) - 1;
        if v < max {
            return vec![first | v as u8];
        }
        let mut out = vec![first | max as u8];
        let mut rest = v - max;
        while rest >= 128 {
            out.push(0x80 | (rest & 0x7f) as u8);
            rest >>= 7;
        }
        out.push(rest as u8);
        out
    }

    fn raw_str(s: &[u8]) -> Vec<u8> {
        let mut v = int(0, 7, s.len());
        v.extend_from_slice(s);
        v
    }

    /// Huffman-code `s` with Appendix B's table.
    fn huff_str(s: &[u8]) -> Vec<u8> {
        let (mut acc, mut bits, mut out) = (0u64, 0u32, Vec::new());
        for &c in s {
            let (code, len) = huffman::CODES[c as usize];
            acc = (acc << len) | u64::from(code);
            bits += u32::from(len);
            while bits >= 8 {
                out.push((acc >> (bits - 8)) as u8);
                bits -= 8;
            }
        }
        if bits > 0 {
            out.push(((acc << (8 - bits)) | ((1 << (8 - bits)) - 1)) as u8);
        }
        let mut v = int(0x80, 7, out.len());
        v.extend(out);
        v
    }

    /// Literal without indexing, new name (RFC 7541 section 6.2.2).
    pub fn lit(name: &str, value: &str) -> Vec<u8> {
        let mut v = vec![0x00];
        v.extend(raw_str(name.as_bytes()));
        v.extend(raw_str(value.as_bytes()));
        v
    }

    /// Literal with incremental indexing, new name, both Huffman-coded (6.2.1).
    pub fn hlit(name: &str, value: &str) -> Vec<u8> {
        let mut v = vec![0x40];
        v.extend(huff_str(name.as_bytes()));
        v.extend(huff_str(value.as_bytes()));
        v
    }

    /// An extended CONNECT request's header block, Huffman-coded and indexed.
    pub fn connect_block(path: &str, authority: &str) -> Vec<u8> {
        let mut b = Vec::new();
        for (n, v) in [
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "https"),
            (":path", path),
            (":authority", authority),
            ("sec-websocket-version", "13"),
            ("sec-websocket-protocol", "chat"),
            ("origin", "https://example.com"),
            ("user-agent", "test/1"),
        ] {
            b.extend(hlit(n, v));
        }
        b
    }

    /// `:status` as a literal without indexing of static name 8 (RFC 7541 Appendix A).
    pub fn status_block(status: &str) -> Vec<u8> {
        let mut b = vec![0x08];
        b.extend(raw_str(status.as_bytes()));
        b
    }

    pub fn headers(stream: u32, fl: u8, block: &[u8]) -> Vec<u8> {
        frame(1, fl | flags::END_HEADERS, stream, block)
    }

    pub fn data(stream: u32, fl: u8, payload: &[u8]) -> Vec<u8> {
        frame(0, fl, stream, payload)
    }

    pub fn client_start() -> Vec<u8> {
        let mut v = PREFACE.to_vec();
        v.extend(settings(&[(setting::HEADER_TABLE_SIZE, 4096)]));
        v
    }

    pub fn server_start() -> Vec<u8> {
        settings(&[(setting::ENABLE_CONNECT_PROTOCOL, 1)])
    }

    // ---- Events as owned values ----

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum E {
        Settings(Side, Option<bool>),
        /// stream, target, Host, :protocol, end_stream
        Request(u32, String, Option<String>, Option<String>, bool),
        Response(u32, u16, bool),
        Data(Side, u32, Vec<u8>, bool),
        Rst(Side, u32, u32),
        GoAway(Side, u32, u32),
        Anomaly(Side, Option<u32>, &'static str),
    }

    fn own(e: &H2Event<'_>) -> E {
        match e {
            H2Event::Settings {
                side,
                enable_connect_protocol,
            } => E::Settings(*side, *enable_connect_protocol),
            H2Event::Request {
                stream,
                head,
                protocol,
                end_stream,
            } => E::Request(
                *stream,
                head.target.clone(),
                head.headers.host.clone(),
                protocol.clone(),
                *end_stream,
            ),
            H2Event::Response {
                stream,
                head,
                end_stream,
            } => E::Response(*stream, head.status, *end_stream),
            H2Event::Data {
                side,
                stream,
                data,
                end_stream,
            } => E::Data(*side, *stream, data.to_vec(), *end_stream),
            H2Event::RstStream {
                side,
                stream,
                error_code,
            } => E::Rst(*side, *stream, *error_code),
            H2Event::GoAway {
                side,
                last_stream_id,
                error_code,
            } => E::GoAway(*side, *last_stream_id, *error_code),
            H2Event::Anomaly { side, stream, name } => E::Anomaly(*side, *stream, name),
        }
    }

    /// Push an event, merging DATA pieces of one stream that follow each other (the
    /// pieces follow the feed's split; their bytes and END_STREAM do not). A piece
    /// after one with END_STREAM is not merged.
    fn push(events: &mut Vec<E>, e: E) {
        if let (Some(E::Data(s0, id0, d0, false)), E::Data(s1, id1, d1, end)) =
            (events.last_mut(), &e)
        {
            if s0 == s1 && id0 == id1 {
                d0.extend_from_slice(d1);
                let (s, id, d) = (*s0, *id0, std::mem::take(d0));
                *events.last_mut().unwrap() = E::Data(s, id, d, *end);
                return;
            }
        }
        events.push(e);
    }

    /// Feed each (side, bytes) in order; events with DATA pieces merged.
    pub fn run(conn: &mut H2Conn, feeds: &[(Side, &[u8])]) -> Vec<E> {
        let mut events = Vec::new();
        for (side, bytes) in feeds {
            conn.feed(*side, bytes, &mut |e| push(&mut events, own(&e)));
        }
        events
    }

    fn anomalies(events: &[E]) -> Vec<&'static str> {
        events
            .iter()
            .filter_map(|e| match e {
                E::Anomaly(_, _, n) => Some(*n),
                _ => None,
            })
            .collect()
    }

    use Side::{Client as C, Server as S};

    // ---- Tests ----

    #[test]
    fn preface_and_settings_with_enable_connect_protocol() {
        let mut conn = H2Conn::new();
        let ev = run(&mut conn, &[(C, &client_start()), (S, &server_start())]);
        assert_eq!(ev, vec![E::Settings(C, None), E::Settings(S, Some(true))]);
        // An ACK is not a Settings event; ENABLE_CONNECT_PROTOCOL 0 is Some(false).
        let ack = frame(4, flags::ACK, 0, &[]);
        let off = settings(&[(setting::ENABLE_CONNECT_PROTOCOL, 0)]);
        let ev = run(&mut conn, &[(C, &ack), (S, &off)]);
        assert_eq!(ev, vec![E::Settings(S, Some(false))]);
        assert_eq!(conn.stats().frames, 4);
    }

    #[test]
    fn a_client_without_the_preface_is_not_framed() {
        let mut conn = H2Conn::new();
        let ev = run(
            &mut conn,
            &[(C, b"GET / HTTP/1.1\r\n\r\n"), (C, &client_start())],
        );
        assert_eq!(ev, vec![E::Anomaly(C, None, "h2_bad_preface")]);
        assert!(conn.is_dead(C));
        // The preface split anywhere is fine.
        let mut conn = H2Conn::new();
        let start = client_start();
        let ev = run(
            &mut conn,
            &[(C, &start[..5]), (C, &start[5..30]), (C, &start[30..])],
        );
        assert_eq!(ev, vec![E::Settings(C, None)]);
    }

    #[test]
    fn extended_connect_with_huffman_headers_and_its_200() {
        let mut c = client_start();
        c.extend(headers(1, 0, &connect_block("/chat", "example.com")));
        let mut s = server_start();
        let mut resp = status_block("200");
        resp.extend(lit("sec-websocket-protocol", "chat"));
        resp.extend(lit("server", "hyper"));
        s.extend(headers(1, 0, &resp));
        let mut conn = H2Conn::new();
        let mut req = None;
        let mut res = None;
        conn.feed(C, &c, &mut |e| {
            if let H2Event::Request {
                stream,
                head,
                protocol,
                end_stream,
            } = e
            {
                req = Some((stream, head, protocol, end_stream));
            }
        });
        conn.feed(S, &s, &mut |e| {
            if let H2Event::Response {
                stream,
                head,
                end_stream,
            } = e
            {
                res = Some((stream, head, end_stream));
            }
        });
        let (stream, head, protocol, end) = req.expect("a Request event");
        assert_eq!((stream, end), (1, false));
        assert_eq!(protocol.as_deref(), Some("websocket"));
        assert_eq!(head.method, "CONNECT");
        assert_eq!(head.target, "/chat");
        let h = &head.headers;
        assert_eq!(h.host.as_deref(), Some("example.com"));
        assert_eq!(h.version.as_deref(), Some("13"));
        assert_eq!(h.protocol.as_deref(), Some("chat"));
        assert_eq!(h.origin.as_deref(), Some("https://example.com"));
        assert_eq!(h.user_agent.as_deref(), Some("test/1"));
        let (stream, head, end) = res.expect("a Response event");
        assert_eq!((stream, head.status, end), (1, 200, false));
        assert_eq!(head.headers.protocol.as_deref(), Some("chat"));
        assert_eq!(head.headers.server.as_deref(), Some("hyper"));
        assert_eq!(conn.stats().streams_tracked, 1);
        assert_eq!(conn.tracked_streams(), 1);
    }

    /// A whole conversation in the order it crossed the wire: two WebSockets, padded
    /// frames, END_STREAM, RST_STREAM, GOAWAY.
    fn conversation() -> Vec<(Side, Vec<u8>)> {
        let mut c1 = client_start();
        c1.extend(headers(1, 0, &connect_block("/a", "example.com")));
        c1.extend(headers(3, 0, &connect_block("/b", "example.com")));
        c1.extend(data(1, 0, b"one-1"));
        c1.extend(data(3, 0, b"three-1"));
        // Padded: pad length 4, "one-2", four zero bytes.
        c1.extend(data(1, flags::PADDED, b"\x04one-2\0\0\0\0"));
        c1.extend(data(3, 0, b"three-2"));
        c1.extend(data(1, flags::END_STREAM, b"one-end"));
        let mut s1 = server_start();
        s1.extend(headers(1, 0, &status_block("200")));
        s1.extend(headers(3, 0, &status_block("200")));
        s1.extend(data(3, 0, b"srv-three"));
        s1.extend(data(
            1,
            flags::END_STREAM | flags::PADDED,
            b"\x00srv-one-end",
        ));
        let c2 = frame(3, 0, 3, &8u32.to_be_bytes()); // RST_STREAM CANCEL
        let mut s2 = data(3, 0, b"late"); // after the reset: not reported
        s2.extend(frame(7, 0, 0, &[0, 0, 0, 3, 0, 0, 0, 0, b'b', b'y', b'e']));
        vec![(C, c1), (S, s1), (C, c2), (S, s2)]
    }

    fn conversation_events() -> Vec<E> {
        vec![
            E::Settings(C, None),
            E::Request(
                1,
                "/a".into(),
                Some("example.com".into()),
                Some("websocket".into()),
                false,
            ),
            E::Request(
                3,
                "/b".into(),
                Some("example.com".into()),
                Some("websocket".into()),
                false,
            ),
            E::Data(C, 1, b"one-1".to_vec(), false),
            E::Data(C, 3, b"three-1".to_vec(), false),
            E::Data(C, 1, b"one-2".to_vec(), false),
            E::Data(C, 3, b"three-2".to_vec(), false),
            E::Data(C, 1, b"one-end".to_vec(), true),
            E::Settings(S, Some(true)),
            E::Response(1, 200, false),
            E::Response(3, 200, false),
            E::Data(S, 3, b"srv-three".to_vec(), false),
            E::Data(S, 1, b"srv-one-end".to_vec(), true),
            E::Rst(C, 3, 8),
            E::GoAway(S, 3, 0),
        ]
    }

    fn feeds(segments: &[(Side, Vec<u8>)]) -> Vec<(Side, &[u8])> {
        segments.iter().map(|(s, b)| (*s, &b[..])).collect()
    }

    #[test]
    fn two_websockets_interleaved_with_padding_rst_and_goaway() {
        let conv = conversation();
        let mut conn = H2Conn::new();
        let ev = run(&mut conn, &feeds(&conv));
        // Merging pieces cannot hide a wrong split of "one-1" and "one-2": frames of
        // the other stream sit between them.
        assert_eq!(ev, conversation_events());
        // Both streams are finished (1 by END_STREAM both ways, 3 by RST_STREAM).
        assert_eq!(conn.tracked_streams(), 0);
        assert_eq!(conn.stats().streams_seen, 2);
    }

    #[test]
    fn any_split_gives_the_same_events() {
        let conv = conversation();
        let want = conversation_events();
        for k in 0..conv.len() {
            for at in 0..=conv[k].1.len() {
                let mut f = feeds(&conv);
                let (side, bytes) = f[k];
                f[k] = (side, &bytes[..at]);
                f.insert(k + 1, (side, &bytes[at..]));
                let mut conn = H2Conn::new();
                assert_eq!(run(&mut conn, &f), want, "segment {k} split at {at}");
            }
        }
        // One byte at a time, and END_STREAM only ever on a frame's last piece.
        let mut conn = H2Conn::new();
        let mut events = Vec::new();
        for (side, bytes) in &conv {
            for b in bytes.chunks(1) {
                conn.feed(*side, b, &mut |e| {
                    if let H2Event::Data {
                        data, end_stream, ..
                    } = &e
                    {
                        assert!(!*end_stream || data.len() <= 1);
                    }
                    push(&mut events, own(&e));
                });
            }
        }
        assert_eq!(events, want);
    }

    #[test]
    fn padded_headers_with_priority() {
        let mut block = Vec::new();
        block.push(3); // pad length
        block.extend_from_slice(&[0x80, 0, 0, 0, 200]); // exclusive on stream 0, weight
        block.extend(connect_block("/p", "h.example"));
        block.extend_from_slice(&[0, 0, 0]);
        let mut c = client_start();
        c.extend(headers(1, flags::PADDED | flags::PRIORITY, &block));
        let mut conn = H2Conn::new();
        let ev = run(&mut conn, &[(C, &c)]);
        assert_eq!(
            ev[1],
            E::Request(
                1,
                "/p".into(),
                Some("h.example".into()),
                Some("websocket".into()),
                false
            )
        );
        // Padding longer than the frame: an anomaly, the block is lost.
        let mut c = client_start();
        c.extend(headers(1, flags::PADDED, &[9, 0x82]));
        let mut conn = H2Conn::new();
        let ev = run(&mut conn, &[(C, &c)]);
        assert_eq!(anomalies(&ev), vec!["h2_padding_too_long", "hpack_stopped"]);
    }

    #[test]
    fn continuation_frames_make_one_block() {
        let block = connect_block("/cont", "example.com");
        let (a, rest) = block.split_at(10);
        let (b, c3) = rest.split_at(7);
        let mut c = client_start();
        c.extend(frame(1, flags::END_STREAM, 1, a)); // HEADERS without END_HEADERS
        c.extend(frame(9, 0, 1, b));
        c.extend(frame(9, flags::END_HEADERS, 1, c3));
        let mut conn = H2Conn::new();
        let ev = run(&mut conn, &[(C, &c)]);
        assert_eq!(
            ev,
            vec![
                E::Settings(C, None),
                E::Request(
                    1,
                    "/cont".into(),
                    Some("example.com".into()),
                    Some("websocket".into()),
                    true
                ),
            ]
        );
        // Another frame in the middle of a block: PROTOCOL_ERROR, HPACK state lost.
        let mut c = client_start();
        c.extend(frame(1, 0, 1, a));
        c.extend(frame(6, 0, 0, &[0; 8])); // PING
        c.extend(frame(9, flags::END_HEADERS, 1, b));
        c.extend(headers(3, 0, &connect_block("/next", "example.com")));
        let mut conn = H2Conn::new();
        let ev = run(&mut conn, &[(C, &c)]);
        assert_eq!(
            anomalies(&ev),
            vec![
                "h2_continuation_expected",
                "hpack_stopped",
                "h2_unexpected_continuation"
            ]
        );
        assert!(!ev.iter().any(|e| matches!(e, E::Request(..))));
    }

    #[test]
    fn plain_requests_are_ignored_but_keep_hpack_in_step() {
        // A GET that puts :authority and user-agent in the dynamic table, then a
        // CONNECT that refers to them by index (62 = newest, 63 = the one before).
        let mut get = vec![0x82, 0x87, 0x84]; // :method GET, :scheme https, :path /
        get.extend(hlit(":authority", "example.org"));
        get.extend(hlit("user-agent", "agent/2"));
        let mut connect = Vec::new();
        connect.extend(lit(":method", "CONNECT"));
        connect.extend(lit(":protocol", "websocket"));
        connect.extend(lit(":path", "/ws"));
        connect.extend([0xbf, 0xbe]); // index 63 :authority, index 62 user-agent
        let mut c = client_start();
        c.extend(headers(1, flags::END_STREAM, &get));
        c.extend(headers(3, 0, &connect));
        let mut conn = H2Conn::new();
        let mut ua = None;
        let mut ev = Vec::new();
        conn.feed(C, &c, &mut |e| {
            if let H2Event::Request { head, .. } = &e {
                ua = head.headers.user_agent.clone();
            }
            ev.push(own(&e));
        });
        assert_eq!(
            ev,
            vec![
                E::Settings(C, None),
                E::Request(
                    3,
                    "/ws".into(),
                    Some("example.org".into()),
                    Some("websocket".into()),
                    false
                ),
            ]
        );
        assert_eq!(ua.as_deref(), Some("agent/2"));
        assert_eq!(conn.stats().streams_seen, 2);
        assert_eq!(conn.stats().streams_tracked, 1);
        // The GET's response: no event.
        let mut s = server_start();
        s.extend(headers(1, flags::END_STREAM, &status_block("200")));
        assert_eq!(run(&mut conn, &[(S, &s)]), vec![E::Settings(S, Some(true))]);
    }

    #[test]
    fn a_refused_upgrade_and_trailers_end_the_stream() {
        let mut c = client_start();
        c.extend(headers(1, 0, &connect_block("/x", "e")));
        c.extend(headers(3, 0, &connect_block("/y", "e")));
        let mut s = server_start();
        s.extend(headers(1, 0, &[0x08, 0x03, b'1', b'0', b'3'])); // 103: not final
        s.extend(headers(1, flags::END_STREAM, &status_block("403")));
        s.extend(headers(3, 0, &status_block("200")));
        s.extend(headers(3, flags::END_STREAM, &lit("grpc-status", "0"))); // trailers
        let mut conn = H2Conn::new();
        let ev = run(&mut conn, &[(C, &c), (S, &s)]);
        assert_eq!(
            ev[3..],
            [
                E::Settings(S, Some(true)),
                E::Response(1, 403, true),
                E::Response(3, 200, false),
                E::Data(S, 3, vec![], true),
            ]
        );
    }

    #[test]
    fn trailers_end_a_stream_even_when_headers_no_longer_decode() {
        let mut c = client_start();
        c.extend(headers(1, 0, &connect_block("/t", "e")));
        c.extend(headers(3, 0, &[0x80])); // index 0: HPACK error, client HPACK stops
        c.extend(headers(1, flags::END_STREAM, &[0x82])); // trailers, not decoded
        let mut conn = H2Conn::new();
        let ev = run(&mut conn, &[(C, &c)]);
        assert_eq!(
            ev[2..],
            [
                E::Anomaly(C, Some(3), "hpack_bad_index"),
                E::Anomaly(C, None, "hpack_stopped"),
                E::Data(C, 1, vec![], true),
            ]
        );
    }

    #[test]
    fn a_gap_stops_that_direction_only() {
        let conv = conversation();
        let start = client_start().len();
        let mut conn = H2Conn::new();
        let mut ev = run(&mut conn, &[(C, &conv[0].1[..start])]);
        conn.gap(C, &mut |e| ev.push(own(&e)));
        conn.gap(C, &mut |e| ev.push(own(&e))); // reported once
        let mut rest = feeds(&conv);
        rest[0].1 = &conv[0].1[start..];
        ev.extend(run(&mut conn, &rest));
        assert_eq!(
            ev,
            vec![
                E::Settings(C, None),
                E::Anomaly(C, None, "h2_gap"),
                E::Settings(S, Some(true)),
                // No request was seen: the server's frames are on idle streams.
                E::Anomaly(S, Some(1), "h2_frame_on_idle_stream"),
                E::Anomaly(S, Some(3), "h2_frame_on_idle_stream"),
                E::Anomaly(S, Some(3), "h2_frame_on_idle_stream"),
                E::Anomaly(S, Some(1), "h2_frame_on_idle_stream"),
                E::Anomaly(S, Some(3), "h2_frame_on_idle_stream"),
                E::GoAway(S, 3, 0),
            ]
        );
        assert!(conn.is_dead(C) && !conn.is_dead(S));
    }

    #[test]
    fn protocol_errors_are_named() {
        let mut c = client_start();
        c.extend(data(0, 0, b"x")); // DATA on stream 0
        c.extend(data(9, 0, b"x")); // DATA on an idle stream
        c.extend(frame(0x42, 0xff, 5, b"unknown type")); // ignored
        c.extend(frame(6, 0, 1, &[0; 8])); // PING on a stream
        c.extend(frame(8, 0, 0, &[0, 0, 0, 0])); // WINDOW_UPDATE of 0
        c.extend(frame(3, 0, 1, &[0, 0, 8])); // RST_STREAM of 3 bytes
        c.extend(frame(9, flags::END_HEADERS, 1, &[0x82])); // CONTINUATION alone
        c.extend(headers(2, 0, &[0x82])); // an even stream from the client
        c.extend(settings(&[(setting::ENABLE_CONNECT_PROTOCOL, 2)]));
        c.extend(frame(4, flags::ACK, 0, &[0; 6])); // ACK with a payload
        let mut conn = H2Conn::new();
        let ev = run(&mut conn, &[(C, &c)]);
        assert_eq!(
            anomalies(&ev),
            vec![
                "h2_stream_zero",
                "h2_frame_on_idle_stream",
                "h2_control_on_stream",
                "h2_window_update_zero",
                "h2_bad_frame_length",
                "h2_unexpected_continuation",
                "h2_bad_stream_id",
                "h2_bad_setting",
                "h2_bad_frame_length",
            ]
        );
        // The server's first frame must be SETTINGS.
        let mut conn = H2Conn::new();
        let ev = run(&mut conn, &[(S, &frame(6, 0, 0, &[0; 8]))]);
        assert_eq!(anomalies(&ev), vec!["h2_first_frame_not_settings"]);
    }

    #[test]
    fn data_after_end_stream_is_named_not_reported() {
        let mut c = client_start();
        c.extend(headers(1, 0, &connect_block("/e", "e")));
        c.extend(data(1, flags::END_STREAM, b"last"));
        c.extend(data(1, 0, b"after"));
        let mut conn = H2Conn::new();
        let ev = run(&mut conn, &[(C, &c)]);
        assert_eq!(
            ev[2..],
            [
                E::Data(C, 1, b"last".to_vec(), true),
                E::Anomaly(C, Some(1), "h2_data_after_end_stream"),
            ]
        );
    }

    #[test]
    fn a_frame_above_max_frame_size_is_named_and_still_read() {
        let mut c = client_start();
        c.extend(headers(1, 0, &connect_block("/big", "e")));
        let mut s = server_start();
        s.extend(headers(1, 0, &status_block("200")));
        let payload = vec![7u8; 20_000];
        s.extend(data(1, 0, &payload));
        let mut conn = H2Conn::new();
        let ev = run(&mut conn, &[(C, &c), (S, &s)]);
        assert_eq!(anomalies(&ev), vec!["h2_frame_too_large"]);
        assert_eq!(ev.last(), Some(&E::Data(S, 1, payload.clone(), false)));
        // Once the client allows 32 KiB, it is not.
        let mut c = client_start();
        c.extend(settings(&[(setting::MAX_FRAME_SIZE, 32_768)]));
        c.extend(headers(1, 0, &connect_block("/big", "e")));
        let mut conn = H2Conn::new();
        let ev = run(&mut conn, &[(C, &c), (S, &s)]);
        assert_eq!(anomalies(&ev), Vec::<&str>::new());
    }

    #[test]
    fn a_million_streams_keep_memory_bounded() {
        let mut conn = H2Conn::new();
        let mut ev = run(&mut conn, &[(C, &client_start()), (S, &server_start())]);
        // 300 extended CONNECTs (44 over the cap), then a million plain GETs.
        let mut batch = Vec::new();
        let mut id = 1u32;
        for _ in 0..300 {
            batch.extend(headers(id, 0, &connect_block("/ws", "e")));
            id += 2;
        }
        ev.extend(run(&mut conn, &[(C, &batch)]));
        let get = [0x82, 0x87, 0x84, 0x41, 0x01, b'e'];
        for _ in 0..1000 {
            batch.clear();
            for _ in 0..1000 {
                batch.extend(headers(id, flags::END_STREAM, &get));
                id += 2;
            }
            let mut n = 0;
            conn.feed(C, &batch, &mut |_| n += 1);
            assert_eq!(n, 0);
        }
        let over = anomalies(&ev)
            .iter()
            .filter(|a| **a == "h2_too_many_streams")
            .count();
        assert_eq!(over, 44);
        assert_eq!(conn.tracked_streams(), MAX_TRACKED_STREAMS);
        assert_eq!(conn.stats().streams_seen, 1_000_300);
        assert_eq!(conn.stats().streams_tracked, 256);
        assert!(conn.heap_bytes() < MAX_HEAP_BYTES, "{}", conn.heap_bytes());
    }

    #[test]
    fn endless_continuation_frames_are_dropped_past_the_cap() {
        let mut conn = H2Conn::new();
        let mut ev = run(&mut conn, &[(C, &client_start())]);
        ev.extend(run(&mut conn, &[(C, &frame(1, 0, 1, &[0x82]))]));
        let cont = frame(9, 0, 1, &vec![0x82; 16_384]);
        let mut peak = 0;
        for _ in 0..4096 {
            // 64 MiB of header block in all
            ev.extend(run(&mut conn, &[(C, &cont)]));
            peak = peak.max(conn.heap_bytes());
        }
        ev.extend(run(
            &mut conn,
            &[(C, &frame(9, flags::END_HEADERS, 1, &[0x82]))],
        ));
        ev.extend(run(&mut conn, &[(C, &frame(7, 0, 0, &[0; 8]))]));
        assert_eq!(
            anomalies(&ev),
            vec!["h2_header_block_too_large", "hpack_stopped"]
        );
        assert_eq!(ev.last(), Some(&E::GoAway(C, 0, 0)), "framing goes on");
        assert!(peak <= MAX_HEADER_BLOCK + 64 * 1024, "{peak}");
        assert!(conn.heap_bytes() < 64 * 1024, "{}", conn.heap_bytes());
    }

    #[test]
    fn a_2_pow_31_table_size_is_refused_and_stops_hpack() {
        // The server announces 2^31 for its decoder: capped at 64 KiB.
        let mut s = server_start();
        s.extend(settings(&[(setting::HEADER_TABLE_SIZE, 1 << 31)]));
        let mut conn = H2Conn::new();
        run(&mut conn, &[(C, &client_start()), (S, &s)]);
        assert_eq!(conn.client.hpack.limit(), hpack::MAX_TABLE_SIZE);
        // A size update to 65536 is fine.
        let mut block = int(0x20, 5, 65536);
        block.extend(connect_block("/ok", "e"));
        let ev = run(&mut conn, &[(C, &headers(1, 0, &block))]);
        assert!(matches!(ev[..], [E::Request(1, ..)]), "{ev:?}");
        // One to 2^31 is not: the direction's HPACK stops.
        let mut block = int(0x20, 5, 1 << 31);
        block.extend(connect_block("/no", "e"));
        let mut c = headers(3, 0, &block);
        c.extend(headers(5, 0, &connect_block("/after", "e")));
        let ev = run(&mut conn, &[(C, &c)]);
        assert_eq!(
            ev,
            vec![
                E::Anomaly(C, Some(3), "hpack_table_size_over_limit"),
                E::Anomaly(C, None, "hpack_stopped"),
            ]
        );
        assert!(conn.heap_bytes() < MAX_HEAP_BYTES);
    }

    #[test]
    fn an_oversized_header_list_gives_no_event_but_hpack_goes_on() {
        // A 4000-byte value put in the table, then referred to 20 times: 80 KiB
        // decoded from a block of a few dozen bytes.
        let mut block = connect_block("/bomb", "e");
        let value = "v".repeat(4000);
        block.extend(hlit("x-big", &value));
        block.extend(std::iter::repeat_n(0xbe, 20)); // index 62: x-big
        let mut c = client_start();
        c.extend(headers(1, 0, &block));
        c.extend(headers(3, 0, &connect_block("/fine", "e")));
        let mut conn = H2Conn::new();
        let ev = run(&mut conn, &[(C, &c)]);
        assert_eq!(
            ev[1..],
            [
                E::Anomaly(C, Some(1), "h2_header_list_too_large"),
                E::Request(
                    3,
                    "/fine".into(),
                    Some("e".into()),
                    Some("websocket".into()),
                    false
                ),
            ]
        );
    }

    #[test]
    fn a_16_mib_data_frame_is_streamed_not_buffered() {
        let mut c = client_start();
        c.extend(headers(1, 0, &connect_block("/stream", "e")));
        c.extend(settings(&[(
            setting::MAX_FRAME_SIZE,
            frame::MAX_MAX_FRAME_SIZE,
        )]));
        let mut conn = H2Conn::new();
        run(&mut conn, &[(C, &c), (S, &server_start())]);
        let len = frame::MAX_MAX_FRAME_SIZE as usize;
        let head = &frame(0, flags::END_STREAM, 1, &[])[..];
        let mut head = head.to_vec();
        head[..3].copy_from_slice(&(len as u32).to_be_bytes()[1..]);
        let mut total = 0;
        let mut ends = 0;
        conn.feed(S, &head, &mut |_| {});
        let chunk = vec![0u8; 65_536];
        let mut left = len;
        while left > 0 {
            let n = left.min(chunk.len());
            conn.feed(S, &chunk[..n], &mut |e| {
                if let H2Event::Data {
                    data, end_stream, ..
                } = e
                {
                    total += data.len();
                    ends += usize::from(end_stream);
                }
            });
            left -= n;
            assert!(conn.heap_bytes() < 64 * 1024, "{}", conn.heap_bytes());
        }
        assert_eq!((total, ends), (len, 1));
    }

    #[test]
    #[ignore = "a measurement: cargo test --release --no-default-features --lib h2_speed -- --ignored --nocapture"]
    fn h2_speed() {
        let mut c = client_start();
        c.extend(headers(1, 0, &connect_block("/s", "e")));
        let mut stream = Vec::new();
        for _ in 0..4096 {
            stream.extend(data(1, 0, &[0x5a; 16_384]));
        }
        let mut conn = H2Conn::new();
        run(&mut conn, &[(C, &c)]);
        let t = std::time::Instant::now();
        let mut n = 0usize;
        for piece in stream.chunks(1460) {
            conn.feed(C, piece, &mut |e| {
                if let H2Event::Data { data, .. } = e {
                    n += data.len();
                }
            });
        }
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(n, 4096 * 16_384);
        println!(
            "DATA: {:.0} MB/s in 1460-byte pieces",
            stream.len() as f64 / secs / 1e6
        );
        // Request header blocks (Huffman-coded, 9 fields) decoded per second.
        let mut many = client_start();
        for i in 0..100_000u32 {
            many.extend(headers(
                2 * i + 1,
                flags::END_STREAM,
                &connect_block("/s", "e"),
            ));
        }
        let mut conn = H2Conn::new();
        let t = std::time::Instant::now();
        conn.feed(C, &many, &mut |_| {});
        let secs = t.elapsed().as_secs_f64();
        println!(
            "HEADERS: {:.2} us per extended CONNECT block",
            secs * 1e6 / 100_000.0
        );
    }

    // ---- A real exchange recorded from Python's h2 (tests/data/h2/make.py) ----

    #[test]
    fn python_h2_exchange_matches_what_h2_reported() {
        let bin = include_bytes!("../../tests/data/h2/exchange.bin");
        let truth: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/data/h2/truth.json")).unwrap();
        let mut chunks = Vec::new();
        let mut i = 0;
        while i < bin.len() {
            let side = if bin[i] == 0 { C } else { S };
            let len = u32::from_be_bytes(bin[i + 1..i + 5].try_into().unwrap()) as usize;
            chunks.push((side, &bin[i + 5..i + 5 + len]));
            i += 5 + len;
        }
        let mut conn = H2Conn::new();
        let got = run(&mut conn, &chunks);

        // What h2 reported, in our terms: events at the server came from the client.
        let header = |h: &serde_json::Value, name: &str| {
            h.as_array()
                .unwrap()
                .iter()
                .find_map(|p| (p[0] == name).then(|| p[1].as_str().unwrap().to_string()))
        };
        let mut tracked = Vec::new();
        let mut want = Vec::new();
        for e in truth.as_array().unwrap() {
            let from = if e["at"] == "server" { C } else { S };
            let stream = e["stream"].as_u64().unwrap_or(0) as u32;
            let end = e["end_stream"].as_bool().unwrap_or(false);
            match e["event"].as_str().unwrap() {
                "settings" => {
                    let ecp = e["changed"].get("8").map(|v| v == 1);
                    want.push(E::Settings(from, ecp));
                }
                "request" => {
                    let h = &e["headers"];
                    if header(h, ":method").as_deref() == Some("CONNECT")
                        && header(h, ":protocol").is_some()
                    {
                        tracked.push(stream);
                        want.push(E::Request(
                            stream,
                            header(h, ":path").unwrap(),
                            header(h, ":authority"),
                            header(h, ":protocol"),
                            end,
                        ));
                    }
                }
                "response" if tracked.contains(&stream) => {
                    let status = header(&e["headers"], ":status").unwrap();
                    want.push(E::Response(stream, status.parse().unwrap(), end));
                }
                "data" if tracked.contains(&stream) => {
                    let hex = e["data"].as_str().unwrap();
                    let bytes = (0..hex.len())
                        .step_by(2)
                        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                        .collect();
                    push(&mut want, E::Data(from, stream, bytes, end));
                }
                "rst_stream" if tracked.contains(&stream) => want.push(E::Rst(
                    from,
                    stream,
                    e["error_code"].as_u64().unwrap() as u32,
                )),
                "goaway" => want.push(E::GoAway(
                    from,
                    e["last_stream_id"].as_u64().unwrap() as u32,
                    e["error_code"].as_u64().unwrap() as u32,
                )),
                _ => {}
            }
        }
        // The chunks were fed in the order h2 exchanged them, so the orders match too.
        assert_eq!(got, want);
        assert_eq!(tracked, vec![1, 3, 7]);
        assert_eq!(conn.stats().streams_seen, 4);
        assert_eq!(conn.tracked_streams(), 0);
    }
}

/// Seeds for the `h2` fuzz target, from the frames of the tests above.
#[cfg(test)]
mod seeds {
    use super::tests::*;
    use super::*;
    use Side::{Client as C, Server as S};

    /// The fuzz target's layout (fuzz/src/lib.rs `h2`): config byte 0, then records
    /// of side, u16 length, bytes.
    fn encode(records: &[(Side, &[u8])]) -> Vec<u8> {
        let mut v = vec![0u8];
        for (side, bytes) in records {
            for piece in bytes.chunks(u16::MAX as usize) {
                v.push(if *side == S { 0x80 } else { 0 });
                v.extend_from_slice(&(piece.len() as u16).to_le_bytes());
                v.extend_from_slice(piece);
            }
        }
        v
    }

    fn all() -> Vec<(&'static str, Vec<u8>)> {
        let mut out = Vec::new();
        let start = client_start();
        let mut c = start.clone();
        c.extend(headers(1, 0, &connect_block("/chat", "example.com")));
        c.extend(data(1, flags::PADDED, b"\x02\x81\x02hi\0\0"));
        let mut s = server_start();
        s.extend(headers(1, 0, &status_block("200")));
        s.extend(data(1, flags::END_STREAM, b"\x88\x02\x03\xe8"));
        out.push(("connect", encode(&[(C, &c), (S, &s)])));
        // A DATA frame with END_STREAM alone in a record (tests/regressions/h2-1.bin).
        let mut s = server_start();
        s.extend(headers(1, 0, &status_block("200")));
        let end = data(1, flags::END_STREAM, &[b'x'; 100]);
        out.push(("end-stream", encode(&[(C, &c), (S, &s), (S, &end)])));
        let block = connect_block("/cont", "example.com");
        let mut c = start.clone();
        c.extend(frame(1, 0, 1, &block[..10]));
        c.extend(frame(9, flags::END_HEADERS, 1, &block[10..]));
        c.extend(frame(3, 0, 1, &8u32.to_be_bytes()));
        out.push(("continuation-rst", encode(&[(C, &c), (S, &server_start())])));
        let mut c = start.clone();
        let mut b = int(0x20, 5, 1 << 31);
        b.extend(connect_block("/no", "e"));
        c.extend(headers(1, 0, &b));
        out.push(("size-2-pow-31", encode(&[(C, &c)])));
        let mut c = start.clone();
        let mut b = connect_block("/bomb", "e");
        b.extend(hlit("x-big", &"v".repeat(4000)));
        b.extend(std::iter::repeat_n(0xbe, 20));
        c.extend(headers(1, 0, &b));
        out.push(("list-bomb", encode(&[(C, &c)])));
        let mut c = start.clone();
        c.extend(frame(0x42, 0xff, 5, b"unknown"));
        c.extend(frame(6, 0, 0, &[0; 8]));
        c.extend(frame(8, 0, 0, &[0, 0, 1, 0]));
        c.extend(frame(2, 0, 1, &[0, 0, 0, 0, 15]));
        c.extend(frame(7, 0, 0, &[0, 0, 0, 1, 0, 0, 0, 2]));
        out.push(("control", encode(&[(C, &c)])));
        // The real exchange, chunk by chunk.
        let bin = include_bytes!("../../tests/data/h2/exchange.bin");
        let mut v = vec![0u8];
        let mut i = 0;
        while i + 5 <= bin.len() {
            let len = u32::from_be_bytes([bin[i + 1], bin[i + 2], bin[i + 3], bin[i + 4]]);
            v.push(if bin[i] == 0 { 0 } else { 0x80 });
            v.extend_from_slice(&(len as u16).to_le_bytes());
            v.extend_from_slice(&bin[i + 5..i + 5 + len as usize]);
            i += 5 + len as usize;
        }
        out.push(("python-h2", v));
        out
    }

    #[test]
    #[ignore = "writes fuzz/seeds/h2/: run with --ignored to regenerate them"]
    fn write_fuzz_seeds() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/h2");
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in all() {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }

    #[test]
    fn seeds_are_what_the_tests_feed() {
        // The committed seeds are the ones this file makes (regenerate with
        // `cargo test --no-default-features --lib write_fuzz_seeds -- --ignored`).
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/h2");
        for (name, bytes) in all() {
            let saved = std::fs::read(dir.join(name)).unwrap_or_default();
            assert!(saved == bytes, "fuzz/seeds/h2/{name} is stale or missing");
        }
    }
}
