//! RFC 6455 frame header parser (section 5.2) and payload unmasking.
//!
//! Contract:
//! - [`parse_header`] is a pure, zero-copy, streaming nom parser over a byte slice. On a
//!   complete header it returns the rest of the input (starting at the payload) and a
//!   [`FrameHeader`]; on partial input it returns `Err(nom::Err::Incomplete(_))` and, like
//!   every nom parser, consumes nothing. It never returns any other error: every byte
//!   pattern is a header, and what is wrong with it (reserved bits, reserved opcodes, a
//!   non-minimal or MSB-set 64-bit length) is reported in the header for the caller to
//!   flag.
//! - A header is at most [`MAX_HEADER_LEN`] (14) bytes, so a caller buffering a partial
//!   header needs at most 14 bytes.
//! - The payload length is a number to compare, never an allocation size.
//! - [`unmask`] takes the position of `buf` within the payload, so a payload that arrives
//!   in pieces is unmasked piece by piece with the same result as all at once.

use nom::number::streaming::{be_u16, be_u32, be_u64, be_u8};
use nom::IResult;

/// Longest possible frame header: 2 fixed bytes, 8 bytes of extended length, 4 bytes of
/// masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// A frame opcode (4 bits). Conversion from `u8` is total and keeps the raw value of
/// reserved opcodes (3-7 data, 11-15 control).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opcode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
    /// Any opcode RFC 6455 reserves (3-7, 11-15), or a value that does not fit in 4 bits
    /// if the caller passed one.
    Reserved(u8),
}

impl From<u8> for Opcode {
    fn from(v: u8) -> Self {
        match v {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xA => Opcode::Pong,
            other => Opcode::Reserved(other),
        }
    }
}

impl From<Opcode> for u8 {
    fn from(op: Opcode) -> u8 {
        op.raw()
    }
}

impl Opcode {
    /// The value on the wire.
    pub fn raw(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
            Opcode::Reserved(v) => v,
        }
    }

    /// Control frame per RFC 6455 5.5: the most significant opcode bit is set. True for
    /// Close, Ping, Pong and the reserved control opcodes 11-15.
    pub fn is_control(self) -> bool {
        self.raw() & 0x8 != 0
    }

    /// Continuation, Text or Binary (the reserved data opcodes 3-7 are not included).
    pub fn is_data(self) -> bool {
        matches!(self, Opcode::Continuation | Opcode::Text | Opcode::Binary)
    }

    /// One of the opcodes RFC 6455 reserves.
    pub fn is_reserved(self) -> bool {
        matches!(self, Opcode::Reserved(_))
    }
}

/// One parsed frame header. Fields are as on the wire; nothing is validated here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub fin: bool,
    pub rsv1: bool,
    pub rsv2: bool,
    pub rsv3: bool,
    pub opcode: Opcode,
    /// The masking key when the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// Declared payload length. A 64-bit length with its most significant bit set (which
    /// RFC 6455 forbids) is returned as read; see [`FrameHeader::length_msb_set`].
    pub payload_len: u64,
    /// Bytes of header on the wire: 2, 4, 8, 10 or 14 (2 + extended length + key).
    pub header_len: usize,
    /// False when the length used a longer encoding than needed (a 16-bit length < 126 or a
    /// 64-bit length <= 0xFFFF), which RFC 6455 5.2 forbids.
    pub minimal_length: bool,
}

impl FrameHeader {
    /// The 64-bit length had its most significant bit set (RFC 6455 5.2: "the most
    /// significant bit MUST be 0").
    pub fn length_msb_set(&self) -> bool {
        self.payload_len & (1 << 63) != 0
    }
}

/// Parse one frame header from the start of `input`.
///
/// Returns the input after the header (the payload starts there). On partial input returns
/// `Err(nom::Err::Incomplete(_))` and consumes nothing. No other error is ever returned.
pub fn parse_header(input: &[u8]) -> IResult<&[u8], FrameHeader> {
    let (i, b0) = be_u8(input)?;
    let (i, b1) = be_u8(i)?;
    let (i, payload_len, minimal_length) = match b1 & 0x7F {
        126 => {
            let (i, n) = be_u16(i)?;
            (i, u64::from(n), n >= 126)
        }
        127 => {
            let (i, n) = be_u64(i)?;
            (i, n, n > 0xFFFF)
        }
        n => (i, u64::from(n), true),
    };
    let (i, mask) = if b1 & 0x80 != 0 {
        let (i, key) = be_u32(i)?;
        (i, Some(key.to_be_bytes()))
    } else {
        (i, None)
    };
    let header = FrameHeader {
        fin: b0 & 0x80 != 0,
        rsv1: b0 & 0x40 != 0,
        rsv2: b0 & 0x20 != 0,
        rsv3: b0 & 0x10 != 0,
        opcode: Opcode::from(b0 & 0x0F),
        mask,
        payload_len,
        header_len: input.len() - i.len(),
        minimal_length,
    };
    Ok((i, header))
}

/// XOR `buf` with the masking `key` in place. `offset` is the position of `buf[0]` within
/// the frame payload, so unmasking the pieces of a split payload with their offsets gives
/// the same bytes as unmasking the whole payload at offset 0. Masking is its own inverse.
pub fn unmask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let rot = offset % 4;
    let k = [
        key[rot],
        key[(rot + 1) % 4],
        key[(rot + 2) % 4],
        key[(rot + 3) % 4],
    ];
    let mut chunks = buf.chunks_exact_mut(4);
    for c in &mut chunks {
        c[0] ^= k[0];
        c[1] ^= k[1];
        c[2] ^= k[2];
        c[3] ^= k[3];
    }
    for (b, m) in chunks.into_remainder().iter_mut().zip(k) {
        *b ^= m;
    }
}

/// Test helper: encode one frame with the shortest length encoding (or a forced one).
#[cfg(test)]
pub(crate) fn encode_frame(
    b0: u8,
    mask: Option<[u8; 4]>,
    payload: &[u8],
    force_len_bytes: Option<usize>,
) -> Vec<u8> {
    let len = payload.len() as u64;
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    let mut v = vec![b0];
    let len_bytes = force_len_bytes.unwrap_or(if len < 126 {
        0
    } else if len <= 0xFFFF {
        2
    } else {
        8
    });
    match len_bytes {
        0 => v.push(mask_bit | len as u8),
        2 => {
            v.push(mask_bit | 126);
            v.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            v.push(mask_bit | 127);
            v.extend_from_slice(&len.to_be_bytes());
        }
    }
    if let Some(k) = mask {
        v.extend_from_slice(&k);
    }
    let start = v.len();
    v.extend_from_slice(payload);
    if let Some(k) = mask {
        unmask(&mut v[start..], k, 0);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    /// (name, frame bytes, expected header)
    fn real_frames() -> Vec<(&'static str, Vec<u8>, FrameHeader)> {
        let h = |fin, opcode, mask, payload_len, header_len| FrameHeader {
            fin,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode,
            mask,
            payload_len,
            header_len,
            minimal_length: true,
        };
        // RFC 6455 5.7 examples plus longer lengths and a close frame.
        let masked_hello = vec![
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let server_hello = vec![0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let len126 = encode_frame(0x82, None, &[0xAB; 256], None);
        let len127 = encode_frame(0x82, Some(KEY), &[0x11; 65536], None);
        let mut close_payload = 1001u16.to_be_bytes().to_vec();
        close_payload.extend_from_slice(b"bye");
        let close = encode_frame(0x88, Some(KEY), &close_payload, None);
        vec![
            (
                "masked client text",
                masked_hello,
                h(true, Opcode::Text, Some(KEY), 5, 6),
            ),
            (
                "unmasked server text",
                server_hello,
                h(true, Opcode::Text, None, 5, 2),
            ),
            (
                "16-bit length",
                len126,
                h(true, Opcode::Binary, None, 256, 4),
            ),
            (
                "64-bit length",
                len127,
                h(true, Opcode::Binary, Some(KEY), 65536, 14),
            ),
            (
                "close 1001 bye",
                close,
                h(true, Opcode::Close, Some(KEY), 5, 6),
            ),
        ]
    }

    #[test]
    fn every_split_point_is_incomplete_before_the_header_and_exact_after() {
        for (name, bytes, want) in real_frames() {
            for k in 0..=bytes.len() {
                match parse_header(&bytes[..k]) {
                    Ok((rest, got)) => {
                        assert!(k >= want.header_len, "{name}: parsed at k={k}");
                        assert_eq!(got, want, "{name} k={k}");
                        assert_eq!(rest, &bytes[want.header_len..k], "{name} k={k}");
                    }
                    Err(nom::Err::Incomplete(_)) => {
                        assert!(k < want.header_len, "{name}: incomplete at k={k}")
                    }
                    Err(e) => panic!("{name} k={k}: unexpected error {e:?}"),
                }
            }
        }
    }

    #[test]
    fn rfc_example_masked_hello_unmasks_to_hello() {
        let bytes = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let (rest, h) = parse_header(&bytes).unwrap();
        let mut p = rest.to_vec();
        unmask(&mut p, h.mask.unwrap(), 0);
        assert_eq!(p, b"Hello");
    }

    #[test]
    fn unmasking_in_pieces_equals_unmasking_whole() {
        let plain: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let mut whole = plain.clone();
        unmask(&mut whole, KEY, 0);
        for split in [0, 1, 2, 3, 5, 7, 500, 999, 1000] {
            for split2 in [split, (split + 3).min(1000), 1000] {
                let mut pieces = plain.clone();
                let (a, rest) = pieces.split_at_mut(split);
                let (b, c) = rest.split_at_mut(split2 - split);
                unmask(a, KEY, 0);
                unmask(b, KEY, split);
                unmask(c, KEY, split2);
                assert_eq!(pieces, whole, "split {split}/{split2}");
            }
        }
    }

    #[test]
    fn two_to_the_63_length_is_returned_not_rejected() {
        let mut bytes = vec![0x82, 0x7F];
        bytes.extend_from_slice(&(1u64 << 63).to_be_bytes());
        let (rest, h) = parse_header(&bytes).unwrap();
        assert!(rest.is_empty());
        assert_eq!(h.payload_len, 1 << 63);
        assert!(h.length_msb_set());
        assert_eq!(h.header_len, 10);
    }

    #[test]
    fn longer_length_encoding_than_needed_is_non_minimal() {
        let f16 = encode_frame(0x82, None, &[0; 10], Some(2));
        let f64_ = encode_frame(0x82, None, &[0; 300], Some(8));
        let (_, h16) = parse_header(&f16).unwrap();
        let (_, h64) = parse_header(&f64_).unwrap();
        assert_eq!((h16.payload_len, h16.minimal_length), (10, false));
        assert_eq!((h64.payload_len, h64.minimal_length), (300, false));
        let (_, ok) = parse_header(&encode_frame(0x82, None, &[0; 126], None)).unwrap();
        assert!(ok.minimal_length);
    }

    #[test]
    fn rsv_bits_and_reserved_opcode_are_reported_as_read() {
        let (_, h) = parse_header(&[0x7B, 0x00]).unwrap();
        assert!(!h.fin && h.rsv1 && h.rsv2 && h.rsv3);
        assert_eq!(h.opcode, Opcode::Reserved(0xB));
        assert!(h.opcode.is_control() && h.opcode.is_reserved());
    }

    #[test]
    fn opcode_conversion_is_total_and_keeps_raw_value() {
        for v in 0..=255u8 {
            assert_eq!(Opcode::from(v).raw(), v);
        }
        assert_eq!(Opcode::from(3), Opcode::Reserved(3));
        assert!(!Opcode::from(3).is_control() && !Opcode::from(3).is_data());
    }

    #[test]
    fn an_opcode_converts_to_its_wire_value() {
        let ops = [
            (Opcode::Continuation, 0x0),
            (Opcode::Text, 0x1),
            (Opcode::Binary, 0x2),
            (Opcode::Close, 0x8),
            (Opcode::Ping, 0x9),
            (Opcode::Pong, 0xA),
            (Opcode::Reserved(0xB), 0xB),
        ];
        for (op, v) in ops {
            assert_eq!(u8::from(op), v, "{op:?}");
        }
    }

    /// RFC 6455 5.2: the 64-bit form is for lengths above 65535 only.
    #[test]
    fn the_64_bit_length_is_minimal_from_65536_on() {
        let header = |len: u64| {
            let mut h = vec![0x82, 127];
            h.extend_from_slice(&len.to_be_bytes());
            parse_header(&h).unwrap().1
        };
        assert!(!header(0xFFFF).minimal_length);
        assert!(header(0x1_0000).minimal_length);
        assert_eq!(header(0x1_0000).payload_len, 65536);
        // The 16-bit form is for 126 and up.
        let h = parse_header(&[0x82, 126, 0, 125]).unwrap().1;
        assert!(!h.minimal_length);
    }
}
