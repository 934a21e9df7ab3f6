//! HTTP/2 frames (RFC 9113 section 4 and 6): the 9-byte header and the payloads an
//! observer of extended CONNECT needs.
//!
//! Contract: pure functions over byte slices, no allocation. [`FrameHeader::parse`]
//! reads a header from the first 9 bytes ("need more" is `None`). Frames that carry
//! padding or fields before their body (DATA, HEADERS, PUSH_PROMISE) are read in two
//! steps so that a caller can stream a body without buffering it: [`prefix_len`] says
//! how many bytes precede the body, [`parse_prefix`] reads them, and [`body_len`] says
//! how long the body is once the padding is taken off (or that the padding is longer
//! than the frame, a PROTOCOL_ERROR). [`split_padded`] does both on a whole payload.
//! Fixed-size payloads (SETTINGS entries, RST_STREAM, GOAWAY, PING, WINDOW_UPDATE,
//! PRIORITY) have a parser each that checks the length RFC 9113 requires. Frame types
//! are converted totally: unknown types keep their number and are to be ignored
//! (section 4.1).

/// Length of a frame header.
pub const HEADER_LEN: usize = 9;
/// SETTINGS_MAX_FRAME_SIZE's initial value, and the least it may be set to.
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;
/// The largest SETTINGS_MAX_FRAME_SIZE (2^24 - 1).
pub const MAX_MAX_FRAME_SIZE: u32 = (1 << 24) - 1;

/// Flags (section 6): END_STREAM on DATA/HEADERS and ACK on SETTINGS/PING share a bit.
pub mod flags {
    pub const END_STREAM: u8 = 0x1;
    pub const ACK: u8 = 0x1;
    pub const END_HEADERS: u8 = 0x4;
    pub const PADDED: u8 = 0x8;
    pub const PRIORITY: u8 = 0x20;
}

/// SETTINGS identifiers (section 6.5.2; RFC 8441 section 3 for 0x8).
pub mod setting {
    pub const HEADER_TABLE_SIZE: u16 = 0x1;
    pub const ENABLE_PUSH: u16 = 0x2;
    pub const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    pub const INITIAL_WINDOW_SIZE: u16 = 0x4;
    pub const MAX_FRAME_SIZE: u16 = 0x5;
    pub const MAX_HEADER_LIST_SIZE: u16 = 0x6;
    pub const ENABLE_CONNECT_PROTOCOL: u16 = 0x8;
}

/// A frame type (section 6), converted totally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameType {
    Data,
    Headers,
    Priority,
    RstStream,
    Settings,
    PushPromise,
    Ping,
    GoAway,
    WindowUpdate,
    Continuation,
    Unknown(u8),
}

impl From<u8> for FrameType {
    fn from(t: u8) -> Self {
        match t {
            0x0 => FrameType::Data,
            0x1 => FrameType::Headers,
            0x2 => FrameType::Priority,
            0x3 => FrameType::RstStream,
            0x4 => FrameType::Settings,
            0x5 => FrameType::PushPromise,
            0x6 => FrameType::Ping,
            0x7 => FrameType::GoAway,
            0x8 => FrameType::WindowUpdate,
            0x9 => FrameType::Continuation,
            t => FrameType::Unknown(t),
        }
    }
}

/// A frame header (section 4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload length (24 bits).
    pub len: u32,
    pub kind: FrameType,
    pub flags: u8,
    /// Stream identifier, the reserved bit cleared.
    pub stream: u32,
}

impl FrameHeader {
    /// The header at the start of `b`, or `None` when fewer than 9 bytes are there.
    pub fn parse(b: &[u8]) -> Option<FrameHeader> {
        let h: &[u8; HEADER_LEN] = b.get(..HEADER_LEN)?.try_into().ok()?;
        Some(FrameHeader {
            len: u32::from_be_bytes([0, h[0], h[1], h[2]]),
            kind: FrameType::from(h[3]),
            flags: h[4],
            stream: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff,
        })
    }

    /// Whether `flag` is set.
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// A frame whose payload breaks RFC 9113's rules for its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// The fields before the body (pad length, priority, promised id) do not fit.
    PrefixTooLong,
    /// The padding is as long as the payload or longer (section 6.1, 6.2).
    PaddingTooLong,
    /// A fixed-size frame with the wrong length (FRAME_SIZE_ERROR).
    BadLength,
}

impl FrameError {
    /// The anomaly name.
    pub fn name(self) -> &'static str {
        match self {
            FrameError::PrefixTooLong => "h2_frame_too_short",
            FrameError::PaddingTooLong => "h2_padding_too_long",
            FrameError::BadLength => "h2_bad_frame_length",
        }
    }
}

/// PRIORITY's fields (section 6.3), also in HEADERS with the PRIORITY flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Priority {
    pub exclusive: bool,
    pub dependency: u32,
    /// The weight field (the weight minus one).
    pub weight: u8,
}

fn priority(b: &[u8; 5]) -> Priority {
    let d = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    Priority {
        exclusive: d & 0x8000_0000 != 0,
        dependency: d & 0x7fff_ffff,
        weight: b[4],
    }
}

/// The fields before a DATA, HEADERS or PUSH_PROMISE body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Prefix {
    /// Padding after the body.
    pub pad: usize,
    pub priority: Option<Priority>,
    /// PUSH_PROMISE's promised stream.
    pub promised: Option<u32>,
}

/// How many bytes precede the body of a frame of this type and flags.
pub fn prefix_len(h: &FrameHeader) -> usize {
    let padded = usize::from(h.has(flags::PADDED));
    match h.kind {
        FrameType::Data => padded,
        FrameType::Headers => padded + if h.has(flags::PRIORITY) { 5 } else { 0 },
        FrameType::PushPromise => padded + 4,
        _ => 0,
    }
}

/// Read the prefix (`prefix.len() == prefix_len(h)`, checked by the caller).
pub fn parse_prefix(h: &FrameHeader, prefix: &[u8]) -> Prefix {
    let mut p = Prefix::default();
    let mut rest = prefix;
    if matches!(
        h.kind,
        FrameType::Data | FrameType::Headers | FrameType::PushPromise
    ) && h.has(flags::PADDED)
    {
        if let Some((&pad, r)) = rest.split_first() {
            p.pad = usize::from(pad);
            rest = r;
        }
    }
    match h.kind {
        FrameType::Headers if h.has(flags::PRIORITY) => {
            if let Some(b) = rest.first_chunk::<5>() {
                p.priority = Some(priority(b));
            }
        }
        FrameType::PushPromise => {
            if let Some(b) = rest.first_chunk::<4>() {
                p.promised = Some(u32::from_be_bytes(*b) & 0x7fff_ffff);
            }
        }
        _ => {}
    }
    p
}

/// The body's length once the prefix and the padding are taken off.
pub fn body_len(h: &FrameHeader, p: &Prefix) -> Result<usize, FrameError> {
    let len = h.len as usize;
    let before = prefix_len(h);
    if before > len {
        return Err(FrameError::PrefixTooLong);
    }
    // Section 6.1: padding "equal to or greater than the length of the remaining
    // payload" (after the Pad Length field) is an error; a body of zero bytes with
    // the padding filling the rest is allowed.
    (len - before)
        .checked_sub(p.pad)
        .ok_or(FrameError::PaddingTooLong)
}

/// A whole DATA, HEADERS or PUSH_PROMISE payload: its prefix and its body, padding
/// removed.
pub fn split_padded<'a>(
    h: &FrameHeader,
    payload: &'a [u8],
) -> Result<(Prefix, &'a [u8]), FrameError> {
    let before = prefix_len(h);
    let prefix = payload.get(..before).ok_or(FrameError::PrefixTooLong)?;
    let p = parse_prefix(h, prefix);
    let h = FrameHeader {
        len: payload.len() as u32,
        ..*h
    };
    let body = body_len(&h, &p)?;
    Ok((p, &payload[before..before + body]))
}

/// One SETTINGS parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub id: u16,
    pub value: u32,
}

/// One 6-byte SETTINGS entry (section 6.5.1).
pub fn parse_setting(b: &[u8; 6]) -> Setting {
    Setting {
        id: u16::from_be_bytes([b[0], b[1]]),
        value: u32::from_be_bytes([b[2], b[3], b[4], b[5]]),
    }
}

/// Every entry of a whole SETTINGS payload; its length must be a multiple of 6.
pub fn parse_settings(p: &[u8]) -> Result<impl Iterator<Item = Setting> + '_, FrameError> {
    if !p.len().is_multiple_of(6) {
        return Err(FrameError::BadLength);
    }
    Ok(p.chunks_exact(6)
        .filter_map(|c| c.first_chunk::<6>().map(parse_setting)))
}

/// RST_STREAM's error code (section 6.4: exactly 4 bytes).
pub fn parse_rst_stream(p: &[u8]) -> Result<u32, FrameError> {
    let b: [u8; 4] = p.try_into().map_err(|_| FrameError::BadLength)?;
    Ok(u32::from_be_bytes(b))
}

/// GOAWAY's fields (section 6.8); the debug data after them is not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoAway {
    pub last_stream_id: u32,
    pub error_code: u32,
}

/// GOAWAY from its first 8 payload bytes (at least 8 are required).
pub fn parse_goaway(p: &[u8]) -> Result<GoAway, FrameError> {
    let b = p.first_chunk::<8>().ok_or(FrameError::BadLength)?;
    Ok(GoAway {
        last_stream_id: u32::from_be_bytes([b[0], b[1], b[2], b[3]]) & 0x7fff_ffff,
        error_code: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
    })
}

/// WINDOW_UPDATE's increment (section 6.9: exactly 4 bytes).
pub fn parse_window_update(p: &[u8]) -> Result<u32, FrameError> {
    let b: [u8; 4] = p.try_into().map_err(|_| FrameError::BadLength)?;
    Ok(u32::from_be_bytes(b) & 0x7fff_ffff)
}

/// PRIORITY's fields (section 6.3: exactly 5 bytes).
pub fn parse_priority(p: &[u8]) -> Result<Priority, FrameError> {
    let b: &[u8; 5] = p.try_into().map_err(|_| FrameError::BadLength)?;
    Ok(priority(b))
}

/// PING's opaque data (section 6.7: exactly 8 bytes).
pub fn parse_ping(p: &[u8]) -> Result<[u8; 8], FrameError> {
    p.try_into().map_err(|_| FrameError::BadLength)
}

/// The name of an HTTP/2 error code (section 7), `None` for codes RFC 9113 does not
/// define (which are to be treated as INTERNAL_ERROR but reported as they are).
pub fn error_code_name(code: u32) -> Option<&'static str> {
    Some(match code {
        0x0 => "NO_ERROR",
        0x1 => "PROTOCOL_ERROR",
        0x2 => "INTERNAL_ERROR",
        0x3 => "FLOW_CONTROL_ERROR",
        0x4 => "SETTINGS_TIMEOUT",
        0x5 => "STREAM_CLOSED",
        0x6 => "FRAME_SIZE_ERROR",
        0x7 => "REFUSED_STREAM",
        0x8 => "CANCEL",
        0x9 => "COMPRESSION_ERROR",
        0xa => "CONNECT_ERROR",
        0xb => "ENHANCE_YOUR_CALM",
        0xc => "INADEQUATE_SECURITY",
        0xd => "HTTP_1_1_REQUIRED",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(len: u32, kind: u8, fl: u8, stream: u32) -> Vec<u8> {
        let mut v = len.to_be_bytes()[1..].to_vec();
        v.push(kind);
        v.push(fl);
        v.extend_from_slice(&stream.to_be_bytes());
        v
    }

    #[test]
    fn header_fields_and_reserved_bit() {
        let b = head(0x01_02_03, 0x1, 0x25, 0x8000_0003);
        let h = FrameHeader::parse(&b).unwrap();
        assert_eq!(h.len, 0x010203);
        assert_eq!(h.kind, FrameType::Headers);
        assert!(h.has(flags::END_STREAM) && h.has(flags::END_HEADERS) && h.has(flags::PRIORITY));
        assert!(!h.has(flags::PADDED));
        assert_eq!(h.stream, 3, "the reserved bit is ignored (section 4.1)");
        assert_eq!(FrameHeader::parse(&b[..8]), None);
        assert_eq!(FrameType::from(0x0a), FrameType::Unknown(0x0a));
    }

    #[test]
    fn padded_data_body_excludes_padding() {
        // DATA, PADDED, pad 3: [3] "hello" [0 0 0].
        let h = FrameHeader::parse(&head(9, 0, flags::PADDED, 1)).unwrap();
        let payload = [3, b'h', b'e', b'l', b'l', b'o', 0, 0, 0];
        let (p, body) = split_padded(&h, &payload).unwrap();
        assert_eq!((p.pad, body), (3, &b"hello"[..]));
        // Padding filling the rest is allowed: empty body.
        let h2 = FrameHeader { len: 4, ..h };
        assert_eq!(split_padded(&h2, &[3, 0, 0, 0]).unwrap().1, b"");
        // Padding longer than what follows the pad length: PROTOCOL_ERROR.
        assert_eq!(
            split_padded(&h2, &[4, 0, 0, 0]),
            Err(FrameError::PaddingTooLong)
        );
        // PADDED with an empty payload: no room for the pad length.
        let h0 = FrameHeader { len: 0, ..h };
        assert_eq!(split_padded(&h0, &[]), Err(FrameError::PrefixTooLong));
    }

    #[test]
    fn headers_with_padding_and_priority() {
        let fl = flags::PADDED | flags::PRIORITY | flags::END_HEADERS;
        let payload = [2, 0x80, 0, 0, 5, 15, 0x82, 0x84, 0, 0];
        let h = FrameHeader::parse(&head(payload.len() as u32, 1, fl, 7)).unwrap();
        assert_eq!(prefix_len(&h), 6);
        let (p, body) = split_padded(&h, &payload).unwrap();
        assert_eq!(body, &[0x82, 0x84]);
        assert_eq!(
            p.priority,
            Some(Priority {
                exclusive: true,
                dependency: 5,
                weight: 15
            })
        );
    }

    #[test]
    fn push_promise_carries_promised_stream() {
        let payload = [0x80, 0, 0, 2, 0x82];
        let h = FrameHeader::parse(&head(5, 5, flags::END_HEADERS, 1)).unwrap();
        let (p, body) = split_padded(&h, &payload).unwrap();
        assert_eq!((p.promised, body), (Some(2), &[0x82][..]));
    }

    #[test]
    fn fixed_size_payloads() {
        let s: Vec<Setting> = parse_settings(&[0, 8, 0, 0, 0, 1, 0, 1, 0, 0, 0x10, 0])
            .unwrap()
            .collect();
        assert_eq!(
            s,
            vec![
                Setting {
                    id: setting::ENABLE_CONNECT_PROTOCOL,
                    value: 1
                },
                Setting {
                    id: setting::HEADER_TABLE_SIZE,
                    value: 4096
                }
            ]
        );
        assert!(parse_settings(&[0, 8, 0, 0, 0]).is_err());
        assert_eq!(parse_rst_stream(&[0, 0, 0, 8]), Ok(8));
        assert_eq!(parse_rst_stream(&[0, 0, 8]), Err(FrameError::BadLength));
        assert_eq!(
            parse_goaway(&[0x80, 0, 0, 5, 0, 0, 0, 0xb, b'x']),
            Ok(GoAway {
                last_stream_id: 5,
                error_code: 0xb
            })
        );
        assert_eq!(parse_goaway(&[0; 7]), Err(FrameError::BadLength));
        assert_eq!(parse_window_update(&[0x80, 0, 1, 0]), Ok(256));
        assert_eq!(parse_ping(&[1; 8]), Ok([1; 8]));
        assert_eq!(parse_ping(&[1; 9]), Err(FrameError::BadLength));
        assert!(parse_priority(&[0; 5]).is_ok() && parse_priority(&[0; 4]).is_err());
    }

    #[test]
    fn error_codes_are_named() {
        assert_eq!(error_code_name(0), Some("NO_ERROR"));
        assert_eq!(error_code_name(1), Some("PROTOCOL_ERROR"));
        assert_eq!(error_code_name(8), Some("CANCEL"));
        assert_eq!(error_code_name(0xd), Some("HTTP_1_1_REQUIRED"));
        assert_eq!(error_code_name(0xe), None);
    }
}
