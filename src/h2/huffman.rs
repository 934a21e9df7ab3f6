//! HPACK's Huffman code (RFC 7541 section 5.2 and Appendix B): decoding only.
//!
//! Contract: [`decode`] appends the octets a Huffman-coded string literal stands for to
//! `out` and never writes more than `8 * input.len() / 5` of them (the shortest code has
//! 5 bits). It rejects the EOS symbol inside a string and padding that is longer than 7
//! bits or not the most significant bits of EOS (all ones), as section 5.2 requires.
//!
//! The code is canonical (codes of one length are consecutive and ordered by symbol,
//! shorter codes first; `code_table_is_canonical` checks it against [`CODES`], copied
//! from Appendix B), so decoding walks one length at a time with a count per length
//! and the symbols sorted by code, as zlib's `puff` does: no tree, no allocation.

/// Appendix B: (code, length in bits) of symbols 0-255 and EOS (256).
pub const CODES: [(u32, u8); 257] = [
    (0x1ff8, 13),
    (0x7fffd8, 23),
    (0xfffffe2, 28),
    (0xfffffe3, 28),
    (0xfffffe4, 28),
    (0xfffffe5, 28),
    (0xfffffe6, 28),
    (0xfffffe7, 28),
    (0xfffffe8, 28),
    (0xffffea, 24),
    (0x3ffffffc, 30),
    (0xfffffe9, 28),
    (0xfffffea, 28),
    (0x3ffffffd, 30),
    (0xfffffeb, 28),
    (0xfffffec, 28),
    (0xfffffed, 28),
    (0xfffffee, 28),
    (0xfffffef, 28),
    (0xffffff0, 28),
    (0xffffff1, 28),
    (0xffffff2, 28),
    (0x3ffffffe, 30),
    (0xffffff3, 28),
    (0xffffff4, 28),
    (0xffffff5, 28),
    (0xffffff6, 28),
    (0xffffff7, 28),
    (0xffffff8, 28),
    (0xffffff9, 28),
    (0xffffffa, 28),
    (0xffffffb, 28),
    (0x14, 6),
    (0x3f8, 10),
    (0x3f9, 10),
    (0xffa, 12),
    (0x1ff9, 13),
    (0x15, 6),
    (0xf8, 8),
    (0x7fa, 11),
    (0x3fa, 10),
    (0x3fb, 10),
    (0xf9, 8),
    (0x7fb, 11),
    (0xfa, 8),
    (0x16, 6),
    (0x17, 6),
    (0x18, 6),
    (0x0, 5),
    (0x1, 5),
    (0x2, 5),
    (0x19, 6),
    (0x1a, 6),
    (0x1b, 6),
    (0x1c, 6),
    (0x1d, 6),
    (0x1e, 6),
    (0x1f, 6),
    (0x5c, 7),
    (0xfb, 8),
    (0x7ffc, 15),
    (0x20, 6),
    (0xffb, 12),
    (0x3fc, 10),
    (0x1ffa, 13),
    (0x21, 6),
    (0x5d, 7),
    (0x5e, 7),
    (0x5f, 7),
    (0x60, 7),
    (0x61, 7),
    (0x62, 7),
    (0x63, 7),
    (0x64, 7),
    (0x65, 7),
    (0x66, 7),
    (0x67, 7),
    (0x68, 7),
    (0x69, 7),
    (0x6a, 7),
    (0x6b, 7),
    (0x6c, 7),
    (0x6d, 7),
    (0x6e, 7),
    (0x6f, 7),
    (0x70, 7),
    (0x71, 7),
    (0x72, 7),
    (0xfc, 8),
    (0x73, 7),
    (0xfd, 8),
    (0x1ffb, 13),
    (0x7fff0, 19),
    (0x1ffc, 13),
    (0x3ffc, 14),
    (0x22, 6),
    (0x7ffd, 15),
    (0x3, 5),
    (0x23, 6),
    (0x4, 5),
    (0x24, 6),
    (0x5, 5),
    (0x25, 6),
    (0x26, 6),
    (0x27, 6),
    (0x6, 5),
    (0x74, 7),
    (0x75, 7),
    (0x28, 6),
    (0x29, 6),
    (0x2a, 6),
    (0x7, 5),
    (0x2b, 6),
    (0x76, 7),
    (0x2c, 6),
    (0x8, 5),
    (0x9, 5),
    (0x2d, 6),
    (0x77, 7),
    (0x78, 7),
    (0x79, 7),
    (0x7a, 7),
    (0x7b, 7),
    (0x7ffe, 15),
    (0x7fc, 11),
    (0x3ffd, 14),
    (0x1ffd, 13),
    (0xffffffc, 28),
    (0xfffe6, 20),
    (0x3fffd2, 22),
    (0xfffe7, 20),
    (0xfffe8, 20),
    (0x3fffd3, 22),
    (0x3fffd4, 22),
    (0x3fffd5, 22),
    (0x7fffd9, 23),
    (0x3fffd6, 22),
    (0x7fffda, 23),
    (0x7fffdb, 23),
    (0x7fffdc, 23),
    (0x7fffdd, 23),
    (0x7fffde, 23),
    (0xffffeb, 24),
    (0x7fffdf, 23),
    (0xffffec, 24),
    (0xffffed, 24),
    (0x3fffd7, 22),
    (0x7fffe0, 23),
    (0xffffee, 24),
    (0x7fffe1, 23),
    (0x7fffe2, 23),
    (0x7fffe3, 23),
    (0x7fffe4, 23),
    (0x1fffdc, 21),
    (0x3fffd8, 22),
    (0x7fffe5, 23),
    (0x3fffd9, 22),
    (0x7fffe6, 23),
    (0x7fffe7, 23),
    (0xffffef, 24),
    (0x3fffda, 22),
    (0x1fffdd, 21),
    (0xfffe9, 20),
    (0x3fffdb, 22),
    (0x3fffdc, 22),
    (0x7fffe8, 23),
    (0x7fffe9, 23),
    (0x1fffde, 21),
    (0x7fffea, 23),
    (0x3fffdd, 22),
    (0x3fffde, 22),
    (0xfffff0, 24),
    (0x1fffdf, 21),
    (0x3fffdf, 22),
    (0x7fffeb, 23),
    (0x7fffec, 23),
    (0x1fffe0, 21),
    (0x1fffe1, 21),
    (0x3fffe0, 22),
    (0x1fffe2, 21),
    (0x7fffed, 23),
    (0x3fffe1, 22),
    (0x7fffee, 23),
    (0x7fffef, 23),
    (0xfffea, 20),
    (0x3fffe2, 22),
    (0x3fffe3, 22),
    (0x3fffe4, 22),
    (0x7ffff0, 23),
    (0x3fffe5, 22),
    (0x3fffe6, 22),
    (0x7ffff1, 23),
    (0x3ffffe0, 26),
    (0x3ffffe1, 26),
    (0xfffeb, 20),
    (0x7fff1, 19),
    (0x3fffe7, 22),
    (0x7ffff2, 23),
    (0x3fffe8, 22),
    (0x1ffffec, 25),
    (0x3ffffe2, 26),
    (0x3ffffe3, 26),
    (0x3ffffe4, 26),
    (0x7ffffde, 27),
    (0x7ffffdf, 27),
    (0x3ffffe5, 26),
    (0xfffff1, 24),
    (0x1ffffed, 25),
    (0x7fff2, 19),
    (0x1fffe3, 21),
    (0x3ffffe6, 26),
    (0x7ffffe0, 27),
    (0x7ffffe1, 27),
    (0x3ffffe7, 26),
    (0x7ffffe2, 27),
    (0xfffff2, 24),
    (0x1fffe4, 21),
    (0x1fffe5, 21),
    (0x3ffffe8, 26),
    (0x3ffffe9, 26),
    (0xffffffd, 28),
    (0x7ffffe3, 27),
    (0x7ffffe4, 27),
    (0x7ffffe5, 27),
    (0xfffec, 20),
    (0xfffff3, 24),
    (0xfffed, 20),
    (0x1fffe6, 21),
    (0x3fffe9, 22),
    (0x1fffe7, 21),
    (0x1fffe8, 21),
    (0x7ffff3, 23),
    (0x3fffea, 22),
    (0x3fffeb, 22),
    (0x1ffffee, 25),
    (0x1ffffef, 25),
    (0xfffff4, 24),
    (0xfffff5, 24),
    (0x3ffffea, 26),
    (0x7ffff4, 23),
    (0x3ffffeb, 26),
    (0x7ffffe6, 27),
    (0x3ffffec, 26),
    (0x3ffffed, 26),
    (0x7ffffe7, 27),
    (0x7ffffe8, 27),
    (0x7ffffe9, 27),
    (0x7ffffea, 27),
    (0x7ffffeb, 27),
    (0xffffffe, 28),
    (0x7ffffec, 27),
    (0x7ffffed, 27),
    (0x7ffffee, 27),
    (0x7ffffef, 27),
    (0x7fffff0, 27),
    (0x3ffffee, 26),
    (0x3fffffff, 30),
];

/// The longest code (EOS and a few control octets).
const MAX_LEN: usize = 30;

/// How many codes each length has (index = length in bits).
const COUNT: [u16; MAX_LEN + 1] = {
    let mut count = [0u16; MAX_LEN + 1];
    let mut s = 0;
    while s < 257 {
        count[CODES[s].1 as usize] += 1;
        s += 1;
    }
    count
};

/// The symbols ordered by (length, symbol): for a canonical code, by code.
const SORTED: [u16; 257] = {
    let mut out = [0u16; 257];
    let mut n = 0;
    let mut len = 1;
    while len <= MAX_LEN {
        let mut s = 0;
        while s < 257 {
            if CODES[s].1 as usize == len {
                out[n] = s as u16;
                n += 1;
            }
            s += 1;
        }
        len += 1;
    }
    out
};

const EOS: u16 = 256;

/// Why a Huffman-coded string could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HuffmanError {
    /// The EOS symbol inside the string.
    Eos,
    /// More than 7 bits of padding, or padding that is not all ones.
    Padding,
}

/// Decode `input`, appending the octets to `out`.
pub fn decode(input: &[u8], out: &mut Vec<u8>) -> Result<(), HuffmanError> {
    // The code read so far for the current symbol, the first code of its length, the
    // index in SORTED of that first code, and how many bits it has.
    let (mut code, mut first, mut index, mut len) = (0u32, 0u32, 0usize, 0usize);
    let mut all_ones = true;
    for &byte in input {
        for shift in (0..8).rev() {
            let bit = u32::from((byte >> shift) & 1);
            code |= bit;
            len += 1;
            all_ones &= bit == 1;
            let count = u32::from(COUNT[len]);
            let offset = code.wrapping_sub(first);
            if offset < count {
                let sym = SORTED[index + offset as usize];
                if sym == EOS {
                    return Err(HuffmanError::Eos);
                }
                out.push(sym as u8);
                (code, first, index, len) = (0, 0, 0, 0);
                all_ones = true;
            } else {
                index += count as usize;
                first = (first + count) << 1;
                code <<= 1;
                // The code is complete: 30 bits always end a symbol (EOS at worst).
                // Kept as a guard so that a wrong table cannot index out of bounds.
                if len == MAX_LEN {
                    return Err(HuffmanError::Eos);
                }
            }
        }
    }
    if len > 7 || !all_ones {
        return Err(HuffmanError::Padding);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(b: &[u8]) -> Result<Vec<u8>, HuffmanError> {
        let mut v = Vec::new();
        decode(b, &mut v).map(|()| v)
    }

    #[test]
    fn code_table_is_canonical() {
        // Rebuild every code from the lengths alone (RFC 1951 section 3.2.2's
        // algorithm); the result must be Appendix B's codes.
        let mut next = [0u32; MAX_LEN + 2];
        let mut code = 0u32;
        for len in 1..=MAX_LEN {
            code = (code + u32::from(COUNT[len - 1])) << 1;
            next[len] = code;
        }
        for (s, &(c, l)) in CODES.iter().enumerate() {
            assert_eq!(next[l as usize], c, "symbol {s}");
            next[l as usize] += 1;
        }
        assert_eq!(COUNT.iter().map(|&c| c as usize).sum::<usize>(), 257);
    }

    #[test]
    fn every_symbol_round_trips_alone() {
        // Each symbol's code, padded with ones to a byte boundary, decodes to it.
        for (s, &(c, l)) in CODES.iter().enumerate().take(256) {
            let pad = (8 - l as usize % 8) % 8;
            let bits = (u64::from(c) << pad) | ((1u64 << pad) - 1);
            let nbytes = (l as usize + pad) / 8;
            let bytes: Vec<u8> = (0..nbytes).rev().map(|i| (bits >> (8 * i)) as u8).collect();
            assert_eq!(dec(&bytes), Ok(vec![s as u8]), "symbol {s}");
        }
    }

    #[test]
    fn rfc7541_c4_strings() {
        // C.4.1 "www.example.com", C.4.2 "no-cache", C.4.3 "custom-key"/"custom-value".
        assert_eq!(
            dec(&[0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff]),
            Ok(b"www.example.com".to_vec())
        );
        assert_eq!(
            dec(&[0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf]),
            Ok(b"no-cache".to_vec())
        );
        assert_eq!(
            dec(&[0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xa9, 0x7d, 0x7f]),
            Ok(b"custom-key".to_vec())
        );
        assert_eq!(dec(&[]), Ok(vec![]));
    }

    #[test]
    fn bad_padding_and_eos_are_errors() {
        // 'o' is 00111 (5 bits): padding 000 is not EOS's prefix.
        assert_eq!(dec(&[0b0011_1000]), Err(HuffmanError::Padding));
        assert_eq!(dec(&[0b0011_1111]), Ok(b"o".to_vec()));
        // A whole byte of ones is 8 bits of padding: too long.
        assert_eq!(dec(&[0xff]), Err(HuffmanError::Padding));
        // EOS itself: 30 ones, then two more.
        assert_eq!(dec(&[0xff, 0xff, 0xff, 0xff]), Err(HuffmanError::Eos));
    }

    #[test]
    fn output_never_exceeds_eight_fifths_of_input() {
        // The densest input: '0' (00000, 5 bits) repeated.
        let input = vec![0u8; 5];
        let out = dec(&input).unwrap();
        assert_eq!(out, b"00000000".to_vec());
    }
}
