//! Per-direction streaming WebSocket decoder.
//!
//! One [`DirectionDecoder`] per direction of a WebSocket connection, fed the in-order bytes
//! that direction sent after the HTTP 101 handshake, in any segmentation (one byte at a
//! time gives the same events and stats as everything at once).
//!
//! Contract:
//! - Data frame payloads are never kept: they are skipped by counting, O(1) per `feed` call
//!   whatever their length. Close/Ping/Pong payloads are buffered up to
//!   [`MAX_CONTROL_BUFFER`] bytes and unmasked; the rest of a longer one is counted and
//!   skipped. A partial header is buffered in a fixed 14-byte array. Memory per decoder is
//!   therefore bounded by a constant; no allocation is ever sized by a length off the wire.
//! - What is wrong in the traffic is reported as [`WsEvent::Anomaly`] with a stable
//!   [`Anomaly`] name, every occurrence, never as an error.
//! - Event timestamps are the `ts` passed to the call that produced them:
//!   [`WsEvent::Close`], [`WsEvent::Ping`], [`WsEvent::Pong`] and the anomalies about a
//!   Close payload carry the `ts` of the `feed` call in which the frame's LAST byte
//!   arrived; anomalies about a header carry the `ts` of the `feed` call in which the
//!   header's last byte arrived; `desync_after_gap` the `ts` of the `gap` call;
//!   `truncated_frame` the `ts` of the `finish` call.
//! - Once frame sync is lost (a gap the decoder cannot skip, or a 64-bit length with the
//!   most significant bit set), every later byte of this direction is ignored and
//!   [`DirectionDecoder::in_sync`] is false. After [`DirectionDecoder::finish`] every
//!   later call is ignored.
//!
//! Stats (see [`DirectionStats`]): frame counters count frame headers seen (a frame whose
//! payload is cut by the end of the stream still counts); `messages` and
//! `compressed_messages` count messages whose final frame was received completely.

use super::close::{parse_close_payload, CloseCode, ClosePayload};
use super::frame::{parse_header, unmask, FrameHeader, Opcode, MAX_HEADER_LEN};
use crate::Side;

/// Most bytes of a control frame payload kept for parsing. RFC 6455 allows 125; a longer
/// payload is counted in full, parsed from its first `MAX_CONTROL_BUFFER` bytes, and
/// flagged (`control_frame_too_long`, and `ClosePayloadOwned::truncated` for a Close).
pub const MAX_CONTROL_BUFFER: usize = 4096;

/// Largest control payload RFC 6455 5.5 allows.
const MAX_CONTROL_PAYLOAD: u64 = 125;

/// Something wrong in one direction's frames. Names from [`Anomaly::as_str`] are stable:
/// reports and tests key on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Anomaly {
    /// A client frame without a masking key (RFC 6455 5.1).
    UnmaskedClientFrame,
    /// A server frame with a masking key (RFC 6455 5.1).
    MaskedServerFrame,
    /// A control frame with a payload longer than 125 bytes.
    ControlFrameTooLong,
    /// A control frame without FIN.
    FragmentedControlFrame,
    /// A Close payload of exactly one byte.
    ClosePayloadLen1,
    /// A Close code that may not be sent (< 1000, 1004-1006, 1015, 1016-2999, >= 5000).
    InvalidCloseCode,
    /// A Close reason that is not valid UTF-8.
    CloseReasonInvalidUtf8,
    /// A data frame (Text, Binary, Continuation) after this direction sent its Close.
    DataAfterClose,
    /// A second Close frame from this direction.
    DuplicateClose,
    /// An opcode RFC 6455 reserves (3-7, 11-15).
    ReservedOpcode,
    /// RSV2 or RSV3 set, or RSV1 set without permessage-deflate or on a frame other than
    /// the first frame of a Text/Binary message.
    ReservedBits,
    /// A Continuation frame with no fragmented message in progress.
    UnexpectedContinuation,
    /// A new Text/Binary frame while a fragmented message is in progress.
    InterleavedDataFrame,
    /// A 64-bit payload length with its most significant bit set. Frame sync is lost.
    InvalidPayloadLength,
    /// A payload length in a longer encoding than needed.
    NonMinimalLength,
    /// Bytes missing from the capture where they could not be skipped. Frame sync is lost.
    DesyncAfterGap,
    /// The stream ended inside a frame (header or payload).
    TruncatedFrame,
}

impl Anomaly {
    /// Every anomaly, in declaration order.
    pub const ALL: &'static [Anomaly] = &[
        Anomaly::UnmaskedClientFrame,
        Anomaly::MaskedServerFrame,
        Anomaly::ControlFrameTooLong,
        Anomaly::FragmentedControlFrame,
        Anomaly::ClosePayloadLen1,
        Anomaly::InvalidCloseCode,
        Anomaly::CloseReasonInvalidUtf8,
        Anomaly::DataAfterClose,
        Anomaly::DuplicateClose,
        Anomaly::ReservedOpcode,
        Anomaly::ReservedBits,
        Anomaly::UnexpectedContinuation,
        Anomaly::InterleavedDataFrame,
        Anomaly::InvalidPayloadLength,
        Anomaly::NonMinimalLength,
        Anomaly::DesyncAfterGap,
        Anomaly::TruncatedFrame,
    ];

    /// Stable snake_case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Anomaly::UnmaskedClientFrame => "unmasked_client_frame",
            Anomaly::MaskedServerFrame => "masked_server_frame",
            Anomaly::ControlFrameTooLong => "control_frame_too_long",
            Anomaly::FragmentedControlFrame => "fragmented_control_frame",
            Anomaly::ClosePayloadLen1 => "close_payload_len_1",
            Anomaly::InvalidCloseCode => "invalid_close_code",
            Anomaly::CloseReasonInvalidUtf8 => "close_reason_invalid_utf8",
            Anomaly::DataAfterClose => "data_after_close",
            Anomaly::DuplicateClose => "duplicate_close",
            Anomaly::ReservedOpcode => "reserved_opcode",
            Anomaly::ReservedBits => "reserved_bits",
            Anomaly::UnexpectedContinuation => "unexpected_continuation",
            Anomaly::InterleavedDataFrame => "interleaved_data_frame",
            Anomaly::InvalidPayloadLength => "invalid_payload_length",
            Anomaly::NonMinimalLength => "non_minimal_length",
            Anomaly::DesyncAfterGap => "desync_after_gap",
            Anomaly::TruncatedFrame => "truncated_frame",
        }
    }
}

impl std::fmt::Display for Anomaly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A received Close frame, flattened for the session layer.
///
/// - Empty payload: `code: None, one_byte: false` (1005 semantics).
/// - One byte: `code: None, one_byte: true`.
/// - Otherwise `code: Some(raw)` and the reason (lossy UTF-8, empty if none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosePayloadOwned {
    /// Raw status code; `None` when the payload had fewer than 2 bytes.
    pub code: Option<u16>,
    /// Reason decoded lossily (U+FFFD for invalid sequences); empty when absent.
    pub reason: String,
    /// The reason bytes were valid UTF-8 (true when there was no reason). When the payload
    /// was truncated to the cap, a multi-byte character cut at the cap counts as invalid.
    pub reason_valid_utf8: bool,
    /// Payload length declared in the frame header (may exceed what was parsed).
    pub payload_len: u64,
    /// The payload was exactly one byte (a protocol violation).
    pub one_byte: bool,
    /// The payload was longer than [`MAX_CONTROL_BUFFER`]; only its first bytes were parsed.
    pub truncated: bool,
}

impl ClosePayloadOwned {
    fn new(parsed: ClosePayload, payload_len: u64) -> Self {
        let truncated = payload_len > MAX_CONTROL_BUFFER as u64;
        match parsed {
            ClosePayload::NoStatus | ClosePayload::OneByte => ClosePayloadOwned {
                code: None,
                reason: String::new(),
                reason_valid_utf8: true,
                payload_len,
                one_byte: parsed == ClosePayload::OneByte,
                truncated,
            },
            ClosePayload::Code {
                code,
                reason,
                reason_valid_utf8,
            } => ClosePayloadOwned {
                code: Some(code.code()),
                reason,
                reason_valid_utf8,
                payload_len,
                one_byte: false,
                truncated,
            },
        }
    }

    /// The status code as a [`CloseCode`], if there was one.
    pub fn close_code(&self) -> Option<CloseCode> {
        self.code.map(CloseCode::from)
    }
}

/// What the decoder reports. See the module docs for which `ts` each event carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsEvent {
    Close { ts: i64, payload: ClosePayloadOwned },
    Ping { ts: i64, payload_len: u64 },
    Pong { ts: i64, payload_len: u64 },
    Anomaly { ts: i64, kind: Anomaly },
}

impl WsEvent {
    /// The event's timestamp.
    pub fn ts(&self) -> i64 {
        match *self {
            WsEvent::Close { ts, .. }
            | WsEvent::Ping { ts, .. }
            | WsEvent::Pong { ts, .. }
            | WsEvent::Anomaly { ts, .. } => ts,
        }
    }
}

/// Counters for one direction.
///
/// Frame counters count frame headers seen. `payload_bytes` counts payload bytes of all
/// frames (data and control), including bytes skipped over by [`DirectionDecoder::gap`]
/// inside a data payload. `messages`/`compressed_messages` count messages whose final
/// frame was completely received.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DirectionStats {
    pub frames: u64,
    pub messages: u64,
    pub payload_bytes: u64,
    /// Text, Binary and Continuation frames.
    pub data_frames: u64,
    /// Close, Ping and Pong frames (reserved control opcodes count only in `frames`).
    pub control_frames: u64,
    pub pings: u64,
    pub pongs: u64,
    /// Messages whose first frame had RSV1 set (permessage-deflate compressed).
    pub compressed_messages: u64,
    /// `ts` of the feed call that completed the first frame header.
    pub first_frame_ts: Option<i64>,
    /// `ts` of the feed call that completed the latest frame header.
    pub last_frame_ts: Option<i64>,
    /// `ts` of the latest feed call that delivered a data frame header or data payload bytes.
    pub last_data_ts: Option<i64>,
}

/// Where the decoder is in the byte stream.
#[derive(Debug, Clone, Copy)]
enum State {
    /// Between frames or inside a header (`hdr_len` bytes of it buffered).
    Header,
    /// Counting past the payload of a data or reserved-opcode frame.
    Skip {
        remaining: u64,
        /// Text/Binary/Continuation (updates `last_data_ts`).
        data: bool,
        /// Completing this frame completes a message.
        completes_message: bool,
    },
    /// Buffering (up to the cap) the payload of a Close/Ping/Pong frame.
    Control { header: FrameHeader, remaining: u64 },
    /// Frame sync lost; everything is ignored.
    Desync,
}

/// Streaming decoder for one direction of a WebSocket connection. See the module docs.
///
/// Invariants: `hdr_len < MAX_HEADER_LEN`, and is 0 outside `State::Header`;
/// `ctrl.capacity() <= MAX_CONTROL_BUFFER`, and in `State::Control`
/// `ctrl.len() == min(received payload bytes, MAX_CONTROL_BUFFER)`, already unmasked.
#[derive(Debug)]
pub struct DirectionDecoder {
    sender: Side,
    deflate: bool,
    state: State,
    hdr: [u8; MAX_HEADER_LEN],
    hdr_len: usize,
    ctrl: Vec<u8>,
    /// A fragmented Text/Binary message is waiting for its final Continuation.
    in_message: bool,
    /// The message in progress had RSV1 on its first frame.
    msg_compressed: bool,
    close_seen: bool,
    /// Part of the current control payload was never captured (a gap inside it): what
    /// follows the hole is counted but not buffered, and the frame is reported truncated.
    ctrl_hole: bool,
    finished: bool,
    stats: DirectionStats,
}

impl DirectionDecoder {
    /// A decoder for bytes sent by `sender`. `deflate_negotiated`: the handshake agreed on
    /// permessage-deflate, so RSV1 on the first frame of a message is legitimate.
    pub fn new(sender: Side, deflate_negotiated: bool) -> Self {
        DirectionDecoder {
            sender,
            deflate: deflate_negotiated,
            state: State::Header,
            hdr: [0; MAX_HEADER_LEN],
            hdr_len: 0,
            ctrl: Vec::new(),
            in_message: false,
            msg_compressed: false,
            close_seen: false,
            ctrl_hole: false,
            finished: false,
            stats: DirectionStats::default(),
        }
    }

    /// Feed the next in-order bytes of this direction's TCP stream (any split: 1 byte at a
    /// time works). Events are appended to `out`.
    pub fn feed(&mut self, mut data: &[u8], ts: i64, out: &mut Vec<WsEvent>) {
        if self.finished {
            return;
        }
        while !data.is_empty() {
            data = match self.state {
                State::Desync => return,
                State::Header => self.feed_header(data, ts, out),
                State::Skip {
                    remaining,
                    data: is_data,
                    completes_message,
                } => {
                    let n = remaining.min(data.len() as u64);
                    self.stats.payload_bytes += n;
                    if is_data {
                        self.stats.last_data_ts = Some(ts);
                    }
                    let remaining = remaining - n;
                    if remaining == 0 {
                        self.state = State::Header;
                        self.end_data_frame(completes_message);
                    } else {
                        self.state = State::Skip {
                            remaining,
                            data: is_data,
                            completes_message,
                        };
                    }
                    // n <= data.len(), so the cast is lossless.
                    &data[n as usize..]
                }
                State::Control { header, remaining } => {
                    let n = remaining.min(data.len() as u64);
                    let (chunk, rest) = data.split_at(n as usize);
                    let room = MAX_CONTROL_BUFFER - self.ctrl.len();
                    if room > 0 && !self.ctrl_hole {
                        let keep = &chunk[..chunk.len().min(room)];
                        let start = self.ctrl.len();
                        self.ctrl.extend_from_slice(keep);
                        if let Some(key) = header.mask {
                            // start == payload offset while below the cap.
                            unmask(&mut self.ctrl[start..], key, start);
                        }
                    }
                    self.stats.payload_bytes += n;
                    let remaining = remaining - n;
                    if remaining == 0 {
                        self.state = State::Header;
                        self.end_control_frame(header, ts, out);
                    } else {
                        self.state = State::Control { header, remaining };
                    }
                    rest
                }
            };
        }
    }

    /// `len` bytes of the stream were never captured (TCP gap). Inside a data payload with
    /// at least `len` bytes left the decoder stays in sync (the bytes are counted as
    /// payload); anywhere else it loses frame sync, emits `desync_after_gap` once and
    /// ignores the rest of this direction.
    pub fn gap(&mut self, len: u64, ts: i64, out: &mut Vec<WsEvent>) {
        if self.finished || len == 0 {
            return;
        }
        match self.state {
            State::Desync => {}
            State::Skip {
                remaining,
                data,
                completes_message,
            } if remaining >= len => {
                self.stats.payload_bytes += len;
                let remaining = remaining - len;
                if remaining == 0 {
                    self.state = State::Header;
                    self.end_data_frame(completes_message);
                } else {
                    self.state = State::Skip {
                        remaining,
                        data,
                        completes_message,
                    };
                }
            }
            State::Control { header, remaining } if remaining >= len => {
                // A snaplen cut or lost segment inside a Close/Ping/Pong payload: keep
                // what was captured (a Close code usually is), stay in sync.
                self.ctrl_hole = true;
                self.stats.payload_bytes += len;
                let remaining = remaining - len;
                if remaining == 0 {
                    self.state = State::Header;
                    self.end_control_frame(header, ts, out);
                } else {
                    self.state = State::Control { header, remaining };
                }
            }
            _ => {
                self.lose_sync();
                out.push(WsEvent::Anomaly {
                    ts,
                    kind: Anomaly::DesyncAfterGap,
                });
            }
        }
    }

    /// The stream ended (FIN, RST or end of capture). If a frame was partly received,
    /// emits `truncated_frame`. Later calls on this decoder are ignored.
    pub fn finish(&mut self, ts: i64, out: &mut Vec<WsEvent>) {
        if self.finished {
            return;
        }
        self.finished = true;
        let mid_frame = match self.state {
            State::Header => self.hdr_len > 0,
            State::Skip { .. } | State::Control { .. } => true,
            State::Desync => false,
        };
        if mid_frame {
            out.push(WsEvent::Anomaly {
                ts,
                kind: Anomaly::TruncatedFrame,
            });
        }
    }

    pub fn stats(&self) -> &DirectionStats {
        &self.stats
    }

    /// False once frame sync was lost (unskippable gap, or an MSB-set 64-bit length).
    pub fn in_sync(&self) -> bool {
        !matches!(self.state, State::Desync)
    }

    /// Parse (or keep buffering) a header; returns the unconsumed input.
    fn feed_header<'a>(&mut self, data: &'a [u8], ts: i64, out: &mut Vec<WsEvent>) -> &'a [u8] {
        if self.hdr_len == 0 {
            // Fast path: the header is usually whole in `data`; parse it in place.
            if let Ok((rest, header)) = parse_header(data) {
                self.on_header(header, ts, out);
                return rest;
            }
            // Incomplete: fewer than MAX_HEADER_LEN bytes, buffer them all.
            let n = data.len().min(MAX_HEADER_LEN);
            self.hdr[..n].copy_from_slice(&data[..n]);
            self.hdr_len = n;
            return &data[n..];
        }
        let old = self.hdr_len;
        let take = (MAX_HEADER_LEN - old).min(data.len());
        self.hdr[old..old + take].copy_from_slice(&data[..take]);
        let parsed = parse_header(&self.hdr[..old + take]).map(|(_, h)| h);
        match parsed {
            Ok(header) => {
                self.hdr_len = 0;
                self.on_header(header, ts, out);
                &data[header.header_len - old..]
            }
            Err(_) if old + take < MAX_HEADER_LEN => {
                self.hdr_len = old + take;
                &data[take..]
            }
            Err(_) => {
                // Unreachable: 14 bytes always hold a whole header. Stay safe anyway.
                self.lose_sync();
                &[]
            }
        }
    }

    fn lose_sync(&mut self) {
        self.state = State::Desync;
        self.hdr_len = 0;
        self.ctrl = Vec::new();
    }

    /// A whole header arrived: flag what is wrong with it and choose the payload state.
    fn on_header(&mut self, h: FrameHeader, ts: i64, out: &mut Vec<WsEvent>) {
        let mut flag = |kind| out.push(WsEvent::Anomaly { ts, kind });
        if h.length_msb_set() {
            flag(Anomaly::InvalidPayloadLength);
            self.lose_sync();
            return;
        }
        let st = &mut self.stats;
        st.frames += 1;
        st.first_frame_ts.get_or_insert(ts);
        st.last_frame_ts = Some(ts);

        let op = h.opcode;
        match (self.sender, h.mask.is_some()) {
            (Side::Client, false) => flag(Anomaly::UnmaskedClientFrame),
            (Side::Server, true) => flag(Anomaly::MaskedServerFrame),
            _ => {}
        }
        if op.is_reserved() {
            flag(Anomaly::ReservedOpcode);
        }
        let rsv1_ok = self.deflate && matches!(op, Opcode::Text | Opcode::Binary);
        if h.rsv2 || h.rsv3 || (h.rsv1 && !rsv1_ok) {
            flag(Anomaly::ReservedBits);
        }
        if !h.minimal_length {
            flag(Anomaly::NonMinimalLength);
        }
        if op.is_control() {
            if h.payload_len > MAX_CONTROL_PAYLOAD {
                flag(Anomaly::ControlFrameTooLong);
            }
            if !h.fin {
                flag(Anomaly::FragmentedControlFrame);
            }
        }

        let mut completes_message = false;
        match op {
            Opcode::Text | Opcode::Binary | Opcode::Continuation => {
                st.data_frames += 1;
                st.last_data_ts = Some(ts);
                if self.close_seen {
                    flag(Anomaly::DataAfterClose);
                }
                if op == Opcode::Continuation {
                    if self.in_message {
                        completes_message = h.fin;
                        self.in_message = !h.fin;
                    } else {
                        flag(Anomaly::UnexpectedContinuation);
                    }
                } else {
                    if self.in_message {
                        // The unfinished message is abandoned; this one starts afresh.
                        flag(Anomaly::InterleavedDataFrame);
                    }
                    self.msg_compressed = h.rsv1;
                    self.in_message = !h.fin;
                    completes_message = h.fin;
                }
            }
            Opcode::Close => {
                st.control_frames += 1;
                if self.close_seen {
                    flag(Anomaly::DuplicateClose);
                }
            }
            Opcode::Ping => {
                st.control_frames += 1;
                st.pings += 1;
            }
            Opcode::Pong => {
                st.control_frames += 1;
                st.pongs += 1;
            }
            Opcode::Reserved(_) => {}
        }

        let buffered = matches!(op, Opcode::Close | Opcode::Ping | Opcode::Pong);
        if h.payload_len == 0 {
            if buffered {
                self.end_control_frame(h, ts, out);
            } else {
                self.end_data_frame(completes_message);
            }
        } else if buffered {
            // Capped, so never sized by the wire beyond MAX_CONTROL_BUFFER.
            let want = MAX_CONTROL_BUFFER.min(usize::try_from(h.payload_len).unwrap_or(usize::MAX));
            self.ctrl.clear();
            self.ctrl.reserve_exact(want);
            self.state = State::Control {
                header: h,
                remaining: h.payload_len,
            };
        } else {
            self.state = State::Skip {
                remaining: h.payload_len,
                data: op.is_data(),
                completes_message,
            };
        }
    }

    fn end_data_frame(&mut self, completes_message: bool) {
        if completes_message {
            self.stats.messages += 1;
            if self.msg_compressed {
                self.stats.compressed_messages += 1;
            }
        }
    }

    /// The last byte of a Close/Ping/Pong frame arrived (in the feed call stamped `ts`).
    fn end_control_frame(&mut self, h: FrameHeader, ts: i64, out: &mut Vec<WsEvent>) {
        let payload_len = h.payload_len;
        match h.opcode {
            Opcode::Ping => out.push(WsEvent::Ping { ts, payload_len }),
            Opcode::Pong => out.push(WsEvent::Pong { ts, payload_len }),
            Opcode::Close => {
                let captured = if self.ctrl_hole {
                    // The reason was cut: keep its longest valid UTF-8 prefix.
                    let valid = match std::str::from_utf8(self.ctrl.get(2..).unwrap_or(&[])) {
                        Ok(_) => self.ctrl.len(),
                        Err(e) => 2 + e.valid_up_to(),
                    };
                    &self.ctrl[..valid.min(self.ctrl.len())]
                } else {
                    &self.ctrl[..]
                };
                let parsed = parse_close_payload(captured);
                let mut payload = ClosePayloadOwned::new(parsed, payload_len);
                payload.truncated |= self.ctrl_hole;
                let one_byte = payload.one_byte;
                let bad_code = payload.close_code().is_some_and(|c| !c.may_be_sent());
                let bad_utf8 = !payload.reason_valid_utf8;
                out.push(WsEvent::Close { ts, payload });
                let mut flag = |kind| out.push(WsEvent::Anomaly { ts, kind });
                if one_byte {
                    flag(Anomaly::ClosePayloadLen1);
                }
                if bad_code {
                    flag(Anomaly::InvalidCloseCode);
                }
                if bad_utf8 {
                    flag(Anomaly::CloseReasonInvalidUtf8);
                }
                self.close_seen = true;
            }
            _ => {}
        }
        self.ctrl.clear();
        self.ctrl_hole = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::frame::encode_frame;

    const KEY: [u8; 4] = [0xA1, 0x02, 0x7F, 0xE3];
    const FIN: u8 = 0x80;
    const RSV1: u8 = 0x40;

    fn client(b0: u8, payload: &[u8]) -> Vec<u8> {
        encode_frame(b0, Some(KEY), payload, None)
    }

    fn server(b0: u8, payload: &[u8]) -> Vec<u8> {
        encode_frame(b0, None, payload, None)
    }

    fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
        let mut v = code.to_be_bytes().to_vec();
        v.extend_from_slice(reason);
        v
    }

    /// Feed `chunks` in order with ts = 0, then finish; return events and stats.
    fn run_chunks<'a>(
        side: Side,
        deflate: bool,
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> (Vec<WsEvent>, DirectionStats) {
        let mut d = DirectionDecoder::new(side, deflate);
        let mut out = Vec::new();
        for c in chunks {
            d.feed(c, 0, &mut out);
        }
        d.finish(0, &mut out);
        (out, d.stats().clone())
    }

    fn run(side: Side, bytes: &[u8]) -> (Vec<WsEvent>, DirectionStats) {
        run_chunks(side, false, [bytes])
    }

    fn anomalies(events: &[WsEvent]) -> Vec<Anomaly> {
        events
            .iter()
            .filter_map(|e| match e {
                WsEvent::Anomaly { kind, .. } => Some(*kind),
                _ => None,
            })
            .collect()
    }

    fn closes(events: &[WsEvent]) -> Vec<&ClosePayloadOwned> {
        events
            .iter()
            .filter_map(|e| match e {
                WsEvent::Close { payload, .. } => Some(payload),
                _ => None,
            })
            .collect()
    }

    /// Fragmented text with a ping between fragments, a 70000-byte binary message, and a
    /// masked Close 1001 "bye": a clean client stream.
    fn client_session_stream() -> Vec<u8> {
        let mut s = client(0x01, b"Hel");
        s.extend(client(FIN | 0x09, b"p"));
        s.extend(client(FIN, b"lo"));
        let big: Vec<u8> = (0..70000u32).map(|i| i as u8).collect();
        s.extend(client(FIN | 0x02, &big));
        s.extend(client(FIN | 0x08, &close_payload(1001, b"bye")));
        s
    }

    fn check_client_session(events: &[WsEvent], stats: &DirectionStats) {
        assert_eq!(
            events,
            &[
                WsEvent::Ping {
                    ts: 0,
                    payload_len: 1
                },
                WsEvent::Close {
                    ts: 0,
                    payload: ClosePayloadOwned {
                        code: Some(1001),
                        reason: "bye".into(),
                        reason_valid_utf8: true,
                        payload_len: 5,
                        one_byte: false,
                        truncated: false,
                    }
                },
            ]
        );
        assert_eq!(
            stats,
            &DirectionStats {
                frames: 5,
                messages: 2,
                payload_bytes: 3 + 1 + 2 + 70000 + 5,
                data_frames: 3,
                control_frames: 2,
                pings: 1,
                pongs: 0,
                compressed_messages: 0,
                first_frame_ts: Some(0),
                last_frame_ts: Some(0),
                last_data_ts: Some(0),
            }
        );
    }

    #[test]
    fn client_session_whole_stream_gives_ping_close_and_stats() {
        let s = client_session_stream();
        let (events, stats) = run(Side::Client, &s);
        check_client_session(&events, &stats);
    }

    #[test]
    fn client_session_split_at_every_point_into_two_chunks_is_identical() {
        let s = client_session_stream();
        for k in 0..=s.len() {
            let (events, stats) = run_chunks(Side::Client, false, [&s[..k], &s[k..]]);
            check_client_session(&events, &stats);
        }
    }

    #[test]
    fn client_session_fed_one_byte_at_a_time_is_identical() {
        let s = client_session_stream();
        let (events, stats) = run_chunks(Side::Client, false, s.chunks(1));
        check_client_session(&events, &stats);
    }

    #[test]
    fn client_session_in_pseudo_random_chunks_is_identical() {
        let s = client_session_stream();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200 {
            let mut chunks = Vec::new();
            let mut i = 0;
            while i < s.len() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let n = 1 + (x % 40) as usize;
                let n = if x.is_multiple_of(7) { n * 1000 } else { n };
                let end = (i + n).min(s.len());
                chunks.push(&s[i..end]);
                i = end;
            }
            let (events, stats) = run_chunks(Side::Client, false, chunks);
            check_client_session(&events, &stats);
        }
    }

    #[test]
    fn anomalous_server_stream_gives_same_events_in_any_segmentation() {
        let mut s = client(FIN | 0x01, b"masked");
        s.extend(server(RSV1 | 0x02, b"frag"));
        s.extend(server(0x09, &[9; 200]));
        s.extend(encode_frame(FIN, None, &[1; 20], Some(2)));
        s.extend(server(FIN | 0x08, &[0x03]));
        s.extend(server(FIN | 0x01, b"late"));
        s.extend(server(FIN | 0x08, &close_payload(999, &[0xFF])));
        s.extend(server(FIN | 0x0A, b"tail"));
        let whole = run(Side::Server, &s);
        assert_eq!(
            anomalies(&whole.0),
            [
                Anomaly::MaskedServerFrame,
                Anomaly::ReservedBits,
                Anomaly::ControlFrameTooLong,
                Anomaly::FragmentedControlFrame,
                Anomaly::NonMinimalLength,
                Anomaly::ClosePayloadLen1,
                Anomaly::DataAfterClose,
                Anomaly::DuplicateClose,
                Anomaly::InvalidCloseCode,
                Anomaly::CloseReasonInvalidUtf8,
            ]
        );
        assert_eq!(whole.1.messages, 3);
        for k in 0..=s.len() {
            assert_eq!(
                run_chunks(Side::Server, false, [&s[..k], &s[k..]]),
                whole,
                "{k}"
            );
        }
        assert_eq!(run_chunks(Side::Server, false, s.chunks(1)), whole);
    }

    #[test]
    fn close_ts_is_the_ts_of_the_feed_that_brought_its_last_byte() {
        let s = client(FIN | 0x08, &close_payload(1000, b"done"));
        let mut d = DirectionDecoder::new(Side::Client, false);
        let mut out = Vec::new();
        d.feed(&s[..3], 10, &mut out);
        d.feed(&s[3..8], 20, &mut out);
        assert!(out.is_empty());
        d.feed(&s[8..], 30, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].ts(), 30);
        assert_eq!(d.stats().first_frame_ts, Some(20));
    }

    #[test]
    fn server_close_normal_with_empty_reason() {
        let (events, _) = run(Side::Server, &server(FIN | 0x08, &close_payload(1000, b"")));
        assert!(anomalies(&events).is_empty());
        let c = closes(&events)[0];
        assert_eq!(c.code, Some(1000));
        assert_eq!(c.close_code(), Some(CloseCode::Normal));
        assert!(c.reason.is_empty() && c.reason_valid_utf8);
    }

    #[test]
    fn empty_close_is_no_status_without_anomaly() {
        let (events, stats) = run(Side::Server, &server(FIN | 0x08, b""));
        assert!(anomalies(&events).is_empty());
        let c = closes(&events)[0];
        assert_eq!((c.code, c.one_byte, c.payload_len), (None, false, 0));
        assert_eq!(stats.control_frames, 1);
    }

    #[test]
    fn one_byte_close_is_close_payload_len_1() {
        let (events, _) = run(Side::Server, &server(FIN | 0x08, &[0x03]));
        assert_eq!(anomalies(&events), [Anomaly::ClosePayloadLen1]);
        let c = closes(&events)[0];
        assert_eq!((c.code, c.one_byte), (None, true));
    }

    #[test]
    fn close_1005_on_the_wire_is_invalid_close_code() {
        let (events, _) = run(Side::Server, &server(FIN | 0x08, &close_payload(1005, b"")));
        assert_eq!(anomalies(&events), [Anomaly::InvalidCloseCode]);
        assert_eq!(closes(&events)[0].code, Some(1005));
    }

    #[test]
    fn close_4001_with_utf8_reason_is_clean() {
        let p = close_payload(4001, "déconnecté".as_bytes());
        let (events, _) = run(Side::Client, &client(FIN | 0x08, &p));
        assert!(anomalies(&events).is_empty());
        let c = closes(&events)[0];
        assert_eq!((c.code, c.reason.as_str()), (Some(4001), "déconnecté"));
    }

    #[test]
    fn close_reason_with_invalid_utf8_is_flagged() {
        let p = close_payload(1000, &[0xC3, 0x28]);
        let (events, _) = run(Side::Client, &client(FIN | 0x08, &p));
        assert_eq!(anomalies(&events), [Anomaly::CloseReasonInvalidUtf8]);
        assert!(!closes(&events)[0].reason_valid_utf8);
    }

    #[test]
    fn close_with_300_byte_payload_is_too_long_but_fully_parsed() {
        let reason = vec![b'x'; 298];
        let p = close_payload(1000, &reason);
        let (events, _) = run(Side::Server, &server(FIN | 0x08, &p));
        assert_eq!(anomalies(&events), [Anomaly::ControlFrameTooLong]);
        let c = closes(&events)[0];
        assert_eq!(
            (c.reason.len(), c.payload_len, c.truncated),
            (298, 300, false)
        );
    }

    #[test]
    fn close_longer_than_the_cap_is_truncated_for_parsing() {
        let reason = vec![b'y'; 10_000];
        let p = close_payload(1001, &reason);
        let mut d = DirectionDecoder::new(Side::Client, false);
        let mut out = Vec::new();
        for c in client(FIN | 0x08, &p).chunks(777) {
            d.feed(c, 0, &mut out);
            assert!(d.ctrl.capacity() <= MAX_CONTROL_BUFFER);
        }
        assert_eq!(anomalies(&out), [Anomaly::ControlFrameTooLong]);
        let c = closes(&out)[0];
        assert_eq!(c.code, Some(1001));
        assert_eq!(c.reason, "y".repeat(MAX_CONTROL_BUFFER - 2));
        assert_eq!((c.payload_len, c.truncated), (10_002, true));
        assert_eq!(d.stats().payload_bytes, 10_002);
    }

    #[test]
    fn huge_ping_length_allocates_only_the_cap_and_truncates_at_end() {
        let mut h = vec![FIN | 0x09, 0x80 | 127];
        h.extend_from_slice(&(1u64 << 40).to_be_bytes());
        h.extend_from_slice(&KEY);
        let mut d = DirectionDecoder::new(Side::Client, false);
        let mut out = Vec::new();
        d.feed(&h, 0, &mut out);
        d.feed(&[0u8; 20_000], 0, &mut out);
        assert!(d.ctrl.capacity() <= MAX_CONTROL_BUFFER);
        assert_eq!(d.ctrl.len(), MAX_CONTROL_BUFFER);
        d.finish(1, &mut out);
        assert_eq!(
            anomalies(&out),
            [Anomaly::ControlFrameTooLong, Anomaly::TruncatedFrame]
        );
        assert_eq!(d.stats().pings, 1);
    }

    #[test]
    fn two_to_the_63_length_is_invalid_payload_length_and_loses_sync() {
        let mut h = vec![FIN | 0x02, 127];
        h.extend_from_slice(&(1u64 << 63).to_be_bytes());
        let mut d = DirectionDecoder::new(Side::Server, false);
        let mut out = Vec::new();
        d.feed(&h, 5, &mut out);
        d.feed(&server(FIN | 0x08, b""), 6, &mut out);
        d.gap(10, 7, &mut out);
        d.finish(8, &mut out);
        assert_eq!(
            out,
            [WsEvent::Anomaly {
                ts: 5,
                kind: Anomaly::InvalidPayloadLength
            }]
        );
        assert!(!d.in_sync());
        assert_eq!(d.ctrl.capacity(), 0);
        assert_eq!(d.stats().frames, 0);
    }

    #[test]
    fn gap_inside_a_data_payload_keeps_sync() {
        let data = server(FIN | 0x02, &[7u8; 1000]);
        let close = server(FIN | 0x08, &close_payload(1000, b""));
        let mut d = DirectionDecoder::new(Side::Server, false);
        let mut out = Vec::new();
        d.feed(&data[..104], 1, &mut out); // 4-byte header + 100 payload bytes
        d.gap(800, 2, &mut out);
        d.feed(&data[904..], 3, &mut out);
        d.feed(&close, 4, &mut out);
        d.finish(5, &mut out);
        assert!(d.in_sync());
        assert!(anomalies(&out).is_empty());
        assert_eq!(closes(&out).len(), 1);
        assert_eq!((d.stats().messages, d.stats().payload_bytes), (1, 1002));
    }

    #[test]
    fn gap_covering_exactly_the_rest_of_a_payload_keeps_sync() {
        let data = server(FIN | 0x01, &[b'a'; 50]);
        let mut d = DirectionDecoder::new(Side::Server, false);
        let mut out = Vec::new();
        d.feed(&data[..10], 1, &mut out);
        d.gap(42, 2, &mut out);
        d.feed(&server(FIN | 0x0A, b"pp"), 3, &mut out);
        assert!(d.in_sync());
        assert_eq!(
            out,
            [WsEvent::Pong {
                ts: 3,
                payload_len: 2
            }]
        );
        assert_eq!(d.stats().messages, 1);
    }

    #[test]
    fn gap_inside_a_header_loses_sync_with_desync_after_gap_once() {
        let data = client(FIN | 0x01, b"hello");
        let mut d = DirectionDecoder::new(Side::Client, false);
        let mut out = Vec::new();
        d.feed(&data[..3], 1, &mut out);
        d.gap(4, 2, &mut out);
        d.feed(&data[7..], 3, &mut out);
        d.feed(&client(FIN | 0x08, b""), 4, &mut out);
        d.gap(4, 5, &mut out);
        d.finish(6, &mut out);
        assert!(!d.in_sync());
        assert_eq!(
            out,
            [WsEvent::Anomaly {
                ts: 2,
                kind: Anomaly::DesyncAfterGap
            }]
        );
    }

    #[test]
    fn gap_longer_than_the_rest_of_a_payload_loses_sync() {
        let data = server(FIN | 0x02, &[0; 100]);
        let mut d = DirectionDecoder::new(Side::Server, false);
        let mut out = Vec::new();
        d.feed(&data[..50], 1, &mut out);
        d.gap(53, 2, &mut out);
        assert!(!d.in_sync());
        assert_eq!(anomalies(&out), [Anomaly::DesyncAfterGap]);
    }

    #[test]
    fn gap_at_a_frame_boundary_loses_sync() {
        let mut d = DirectionDecoder::new(Side::Server, false);
        let mut out = Vec::new();
        d.feed(&server(FIN | 0x01, b"hi"), 1, &mut out);
        d.gap(10, 2, &mut out);
        assert!(!d.in_sync());
        assert_eq!(anomalies(&out), [Anomaly::DesyncAfterGap]);
    }

    #[test]
    fn gap_inside_a_control_payload_keeps_sync_and_what_was_captured() {
        let ping = client(FIN | 0x09, b"abcdef");
        let mut d = DirectionDecoder::new(Side::Client, false);
        let mut out = Vec::new();
        d.feed(&ping[..8], 1, &mut out);
        d.gap(2, 2, &mut out);
        d.feed(&ping[10..], 3, &mut out);
        assert!(d.in_sync());
        assert!(anomalies(&out).is_empty());
        assert!(matches!(
            out.last(),
            Some(WsEvent::Ping {
                ts: 3,
                payload_len: 6
            })
        ));
    }

    #[test]
    fn snaplen_cut_close_keeps_its_code_and_the_captured_reason_prefix() {
        // "déconnecté": the cut falls inside the two-byte "é", which is dropped.
        let close = server(FIN | 0x08, &close_payload(4001, "déconnecté".as_bytes()));
        let cut = 2 + 2 + 2; // header, code, "dÃ" (first byte of é)
        let mut d = DirectionDecoder::new(Side::Server, false);
        let mut out = Vec::new();
        d.feed(&close[..cut], 1, &mut out);
        d.gap((close.len() - cut) as u64, 1, &mut out);
        d.feed(&server(FIN | 0x01, b"after"), 2, &mut out);
        d.finish(3, &mut out);
        let WsEvent::Close { payload, .. } = &out[0] else {
            panic!("{out:?}")
        };
        assert_eq!(payload.code, Some(4001));
        assert_eq!(payload.reason, "d");
        assert!(payload.truncated);
        assert!(anomalies(&out).contains(&Anomaly::DataAfterClose));
        assert!(!anomalies(&out).contains(&Anomaly::CloseReasonInvalidUtf8));
    }

    #[test]
    fn masked_server_frame_is_flagged() {
        let (events, _) = run(Side::Server, &client(FIN | 0x01, b"x"));
        assert_eq!(anomalies(&events), [Anomaly::MaskedServerFrame]);
    }

    #[test]
    fn unmasked_client_frame_is_flagged_and_its_close_still_parsed() {
        let mut s = server(FIN | 0x01, b"x");
        s.extend(server(FIN | 0x08, &close_payload(1000, b"ok")));
        let (events, _) = run(Side::Client, &s);
        assert_eq!(
            anomalies(&events),
            [Anomaly::UnmaskedClientFrame, Anomaly::UnmaskedClientFrame]
        );
        assert_eq!(closes(&events)[0].reason, "ok");
    }

    #[test]
    fn rsv1_without_deflate_is_reserved_bits() {
        let (events, _) = run(Side::Server, &server(FIN | RSV1 | 0x01, b"z"));
        assert_eq!(anomalies(&events), [Anomaly::ReservedBits]);
    }

    #[test]
    fn rsv1_with_deflate_counts_a_compressed_message() {
        let mut s = server(RSV1 | 0x02, b"ab");
        s.extend(server(FIN, b"cd"));
        s.extend(server(FIN | 0x01, b"plain"));
        let (events, stats) = run_chunks(Side::Server, true, [s.as_slice()]);
        assert!(anomalies(&events).is_empty());
        assert_eq!((stats.messages, stats.compressed_messages), (2, 1));
    }

    #[test]
    fn rsv1_on_continuation_or_control_is_reserved_bits_even_with_deflate() {
        let mut s = server(RSV1 | 0x01, b"a");
        s.extend(server(FIN | RSV1, b"b"));
        s.extend(server(FIN | RSV1 | 0x09, b""));
        let (events, _) = run_chunks(Side::Server, true, [s.as_slice()]);
        assert_eq!(
            anomalies(&events),
            [Anomaly::ReservedBits, Anomaly::ReservedBits]
        );
    }

    #[test]
    fn rsv2_or_rsv3_is_reserved_bits() {
        let mut s = server(FIN | 0x20 | 0x01, b"a");
        s.extend(server(FIN | 0x10 | 0x02, b"b"));
        let (events, _) = run_chunks(Side::Server, true, [s.as_slice()]);
        assert_eq!(
            anomalies(&events),
            [Anomaly::ReservedBits, Anomaly::ReservedBits]
        );
    }

    #[test]
    fn reserved_opcodes_are_flagged_and_skipped() {
        let mut s = server(FIN | 0x03, b"data-ish");
        s.extend(server(FIN | 0x0B, b"ctl"));
        s.extend(server(FIN | 0x01, b"ok"));
        let (events, stats) = run(Side::Server, &s);
        assert_eq!(
            anomalies(&events),
            [Anomaly::ReservedOpcode, Anomaly::ReservedOpcode]
        );
        assert_eq!(
            (stats.frames, stats.data_frames, stats.control_frames),
            (3, 1, 0)
        );
        assert_eq!(stats.messages, 1);
    }

    #[test]
    fn fragmented_control_frame_is_flagged() {
        let (events, _) = run(Side::Server, &server(0x09, b"p"));
        assert_eq!(anomalies(&events), [Anomaly::FragmentedControlFrame]);
    }

    #[test]
    fn continuation_without_a_message_is_unexpected() {
        let (events, stats) = run(Side::Server, &server(FIN, b"orphan"));
        assert_eq!(anomalies(&events), [Anomaly::UnexpectedContinuation]);
        assert_eq!(stats.messages, 0);
    }

    #[test]
    fn new_text_during_a_fragmented_message_is_interleaved() {
        let mut s = server(0x01, b"part");
        s.extend(server(FIN | 0x02, b"other"));
        s.extend(server(FIN, b"late"));
        let (events, stats) = run(Side::Server, &s);
        assert_eq!(
            anomalies(&events),
            [
                Anomaly::InterleavedDataFrame,
                Anomaly::UnexpectedContinuation
            ]
        );
        assert_eq!(stats.messages, 1);
    }

    #[test]
    fn data_after_close_and_duplicate_close_are_flagged_but_ping_is_not() {
        let mut s = server(FIN | 0x08, &close_payload(1000, b""));
        s.extend(server(FIN | 0x09, b""));
        s.extend(server(FIN | 0x01, b"late"));
        s.extend(server(FIN | 0x08, b""));
        let (events, stats) = run(Side::Server, &s);
        assert_eq!(
            anomalies(&events),
            [Anomaly::DataAfterClose, Anomaly::DuplicateClose]
        );
        assert_eq!(closes(&events).len(), 2);
        assert_eq!(stats.messages, 1);
    }

    #[test]
    fn non_minimal_length_is_flagged() {
        let (events, stats) = run(
            Side::Server,
            &encode_frame(FIN | 0x02, None, &[1, 2, 3], Some(8)),
        );
        assert_eq!(anomalies(&events), [Anomaly::NonMinimalLength]);
        assert_eq!(stats.payload_bytes, 3);
    }

    #[test]
    fn stream_ending_mid_header_is_truncated_frame_once() {
        let f = client(FIN | 0x01, b"abc");
        let mut d = DirectionDecoder::new(Side::Client, false);
        let mut out = Vec::new();
        d.feed(&f[..4], 1, &mut out);
        d.finish(9, &mut out);
        d.finish(10, &mut out);
        d.feed(&f[4..], 11, &mut out);
        assert_eq!(
            out,
            [WsEvent::Anomaly {
                ts: 9,
                kind: Anomaly::TruncatedFrame
            }]
        );
    }

    #[test]
    fn stream_ending_mid_payload_is_truncated_and_message_not_counted() {
        let f = server(FIN | 0x02, &[0; 500]);
        let (events, stats) = run(Side::Server, &f[..300]);
        assert_eq!(anomalies(&events), [Anomaly::TruncatedFrame]);
        assert_eq!(
            (stats.frames, stats.messages, stats.payload_bytes),
            (1, 0, 296)
        );
    }

    #[test]
    fn stream_ending_between_frames_is_clean() {
        let (events, _) = run(Side::Server, &server(FIN | 0x01, b"done"));
        assert!(events.is_empty());
    }

    #[test]
    fn zero_length_frames_complete_at_once() {
        let mut s = client(FIN | 0x01, b"");
        s.extend(client(FIN | 0x09, b""));
        s.extend(client(FIN | 0x0A, b""));
        let (events, stats) = run(Side::Client, &s);
        assert_eq!(
            events,
            [
                WsEvent::Ping {
                    ts: 0,
                    payload_len: 0
                },
                WsEvent::Pong {
                    ts: 0,
                    payload_len: 0
                }
            ]
        );
        assert_eq!((stats.frames, stats.messages, stats.pongs), (3, 1, 1));
    }

    #[test]
    fn timestamps_track_first_last_frame_and_last_data() {
        let mut d = DirectionDecoder::new(Side::Server, false);
        let mut out = Vec::new();
        let data = server(FIN | 0x02, &[0; 10]);
        d.feed(&data[..5], 100, &mut out);
        d.feed(&data[5..], 200, &mut out);
        d.feed(&server(FIN | 0x09, b""), 300, &mut out);
        let st = d.stats();
        assert_eq!(
            (st.first_frame_ts, st.last_frame_ts, st.last_data_ts),
            (Some(100), Some(300), Some(200))
        );
    }

    #[test]
    fn anomaly_names_are_unique_snake_case_and_all_listed() {
        assert_eq!(Anomaly::ALL.len(), 17);
        let mut names: Vec<&str> = Anomaly::ALL.iter().map(|a| a.as_str()).collect();
        for n in &names {
            assert!(n
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 17);
    }

    #[test]
    fn anomalies_display_as_their_names() {
        for a in Anomaly::ALL {
            assert_eq!(a.to_string(), a.as_str());
        }
        assert_eq!(Anomaly::DesyncAfterGap.to_string(), "desync_after_gap");
    }

    /// A hole inside a Close payload: the code and the reason up to the hole are kept,
    /// nothing after it is glued on, and every declared byte is counted.
    #[test]
    fn a_close_reason_stops_at_a_hole_and_its_bytes_are_all_counted() {
        let close = server(FIN | 0x08, &close_payload(1000, b"abcdefgh"));
        let mut d = DirectionDecoder::new(Side::Server, false);
        let mut out = Vec::new();
        d.feed(&close[..2 + 5], 1, &mut out); // header, code and "abc"
        d.gap(2, 2, &mut out); // "de"
        d.feed(&close[2 + 7..], 3, &mut out); // "fgh"
        assert!(d.in_sync());
        assert!(anomalies(&out).is_empty(), "{out:?}");
        let c = closes(&out);
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].code, c[0].reason.as_str()), (Some(1000), "abc"));
        assert!(c[0].truncated);
        assert_eq!(c[0].payload_len, 10);
        assert_eq!(d.stats().payload_bytes, 10);
    }

    #[test]
    fn a_gap_longer_than_the_rest_of_a_control_payload_loses_sync() {
        let ping = server(FIN | 0x09, b"abcdef");
        let mut d = DirectionDecoder::new(Side::Server, false);
        let mut out = Vec::new();
        d.feed(&ping[..4], 1, &mut out); // header and "ab"
        d.gap(5, 2, &mut out); // "cdef" and one byte more
        assert!(!d.in_sync());
        assert_eq!(anomalies(&out), [Anomaly::DesyncAfterGap]);
        assert_eq!(d.stats().pings, 1);
    }

    #[test]
    fn an_empty_gap_or_one_after_the_end_changes_nothing() {
        let mut d = DirectionDecoder::new(Side::Server, false);
        let mut out = Vec::new();
        d.feed(&server(FIN | 0x01, b"hi"), 1, &mut out);
        d.gap(0, 2, &mut out);
        assert!(d.in_sync() && out.is_empty());
        d.finish(3, &mut out);
        d.gap(5, 4, &mut out);
        d.feed(&server(FIN | 0x01, b"hi"), 5, &mut out);
        assert!(d.in_sync() && out.is_empty());
        assert_eq!(d.stats().frames, 1);
    }

    #[test]
    fn a_control_payload_of_125_bytes_is_allowed_and_126_is_too_long() {
        let (out, _) = run(Side::Server, &server(FIN | 0x09, &[b'x'; 125]));
        assert!(anomalies(&out).is_empty(), "{out:?}");
        let (out, _) = run(Side::Server, &server(FIN | 0x09, &[b'x'; 126]));
        assert_eq!(anomalies(&out), [Anomaly::ControlFrameTooLong]);
    }

    #[test]
    fn control_frames_count_pongs_pings_and_closes() {
        let mut s = server(FIN | 0x0A, b"");
        s.extend(server(FIN | 0x09, b""));
        s.extend(server(FIN | 0x0A, b""));
        s.extend(server(FIN | 0x08, b""));
        let (_, st) = run(Side::Server, &s);
        assert_eq!(
            (
                st.frames,
                st.control_frames,
                st.data_frames,
                st.pings,
                st.pongs
            ),
            (4, 4, 0, 1, 2)
        );
    }
}
