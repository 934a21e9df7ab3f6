//! HPACK decoding (RFC 7541): one [`Decoder`] per direction of an HTTP/2 connection.
//!
//! Contract: [`Decoder::decode`] reads one complete header block and hands each field
//! to a callback as `(name, value)` byte slices, in order, updating the dynamic table
//! as the block says (incremental indexing, size updates, eviction). It never allocates
//! by a number read off the wire: a string length is compared with what is left of the
//! block, an integer longer than 5 continuation octets is an error, and the dynamic
//! table holds at most [`Decoder::limit`] bytes as RFC 7541 counts them (name + value +
//! 32 per entry), a limit the caller sets from SETTINGS_HEADER_TABLE_SIZE and that is
//! never above [`MAX_TABLE_SIZE`] whatever the peer announced. A size update above the
//! limit is an error ([`HpackError::TableSizeOverLimit`]).
//!
//! After an error the dynamic table is in an unknown state (the block was applied in
//! part): the caller must stop decoding that direction's blocks. Decoding is only what
//! a passive observer needs: no encoder, and no check of the rules on where a size
//! update may appear (RFC 9113 section 4.3.1); such blocks still decode unambiguously.

use std::collections::VecDeque;

use super::huffman;

/// The most dynamic-table bytes kept per direction, whatever SETTINGS say.
pub const MAX_TABLE_SIZE: usize = 64 * 1024;
/// SETTINGS_HEADER_TABLE_SIZE's initial value (RFC 9113 section 6.5.2).
pub const DEFAULT_TABLE_SIZE: usize = 4096;
/// What RFC 7541 section 4.1 adds to each entry's length.
const ENTRY_OVERHEAD: usize = 32;

/// Why a header block could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HpackError {
    /// A representation runs past the end of the block.
    Truncated,
    /// An integer with more than 5 continuation octets (over 2^35).
    IntegerTooLong,
    /// Index 0, or past the static and dynamic tables.
    BadIndex,
    /// A Huffman-coded string with EOS inside or bad padding.
    Huffman,
    /// A dynamic table size update above the limit.
    TableSizeOverLimit,
}

impl HpackError {
    /// The anomaly name.
    pub fn name(self) -> &'static str {
        match self {
            HpackError::Truncated => "hpack_truncated",
            HpackError::IntegerTooLong => "hpack_integer_too_long",
            HpackError::BadIndex => "hpack_bad_index",
            HpackError::Huffman => "hpack_bad_huffman",
            HpackError::TableSizeOverLimit => "hpack_table_size_over_limit",
        }
    }
}

/// One dynamic table entry: name and value in one allocation.
struct Entry {
    bytes: Box<[u8]>,
    name_len: usize,
}

impl Entry {
    fn name(&self) -> &[u8] {
        &self.bytes[..self.name_len]
    }
    fn value(&self) -> &[u8] {
        &self.bytes[self.name_len..]
    }
    fn size(&self) -> usize {
        self.bytes.len() + ENTRY_OVERHEAD
    }
}

/// The decoding context of one direction.
///
/// Invariant: `size` is the sum of the entries' sizes and `size <= max_size <= limit
/// <= MAX_TABLE_SIZE`, so the table's bytes are bounded by [`MAX_TABLE_SIZE`].
pub struct Decoder {
    /// Newest first (index 62 is `table[0]`).
    table: VecDeque<Entry>,
    size: usize,
    /// The table's current maximum, set by size updates.
    max_size: usize,
    /// The most a size update may ask for.
    limit: usize,
    /// Scratch for decoded names and values, reused across fields.
    name: Vec<u8>,
    value: Vec<u8>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

/// Scratch buffers above this capacity are given back after a block.
const KEEP_SCRATCH: usize = 4096;

impl Decoder {
    /// A decoder in HTTP/2's initial state: empty table of 4096 bytes.
    pub fn new() -> Self {
        Decoder {
            table: VecDeque::new(),
            size: 0,
            max_size: DEFAULT_TABLE_SIZE,
            limit: DEFAULT_TABLE_SIZE,
            name: Vec::new(),
            value: Vec::new(),
        }
    }

    /// Set the most a size update may ask for (the decoding side's
    /// SETTINGS_HEADER_TABLE_SIZE), capped at [`MAX_TABLE_SIZE`]. The table itself
    /// changes size only when the encoder says so with a size update.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit.min(MAX_TABLE_SIZE);
    }

    /// The most a size update may ask for.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The dynamic table's size as RFC 7541 section 4.1 counts it.
    pub fn table_size(&self) -> usize {
        self.size
    }

    /// How many entries the dynamic table holds.
    pub fn table_len(&self) -> usize {
        self.table.len()
    }

    /// Entry `i` of the dynamic table (0 = newest), for tests and diagnostics.
    pub fn entry(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.table.get(i).map(|e| (e.name(), e.value()))
    }

    /// Heap bytes held (table entries, their slots, scratch buffers).
    pub fn heap_bytes(&self) -> usize {
        self.table.iter().map(|e| e.bytes.len()).sum::<usize>()
            + self.table.capacity() * std::mem::size_of::<Entry>()
            + self.name.capacity()
            + self.value.capacity()
    }

    /// Decode one complete header block, calling `field(name, value)` for each field.
    pub fn decode(
        &mut self,
        block: &[u8],
        field: &mut impl FnMut(&[u8], &[u8]),
    ) -> Result<(), HpackError> {
        let r = self.decode_inner(block, field);
        if self.name.capacity() > KEEP_SCRATCH {
            self.name = Vec::new();
        }
        if self.value.capacity() > KEEP_SCRATCH {
            self.value = Vec::new();
        }
        r
    }

    fn decode_inner(
        &mut self,
        block: &[u8],
        field: &mut impl FnMut(&[u8], &[u8]),
    ) -> Result<(), HpackError> {
        let mut i = 0;
        while i < block.len() {
            let b = block[i];
            if b & 0x80 != 0 {
                // 6.1 Indexed Header Field.
                let (index, n) = integer(&block[i..], 7)?;
                i += n;
                let (name, value) = lookup(&self.table, index).ok_or(HpackError::BadIndex)?;
                field(name, value);
            } else if b & 0xe0 == 0x20 {
                // 6.3 Dynamic Table Size Update.
                let (size, n) = integer(&block[i..], 5)?;
                i += n;
                if size > self.limit {
                    return Err(HpackError::TableSizeOverLimit);
                }
                self.max_size = size;
                self.evict(0);
            } else {
                // 6.2.1 with incremental indexing (01), 6.2.2 without (0000), 6.2.3
                // never indexed (0001).
                let indexing = b & 0xc0 == 0x40;
                let (index, n) = integer(&block[i..], if indexing { 6 } else { 4 })?;
                i += n;
                self.name.clear();
                if index == 0 {
                    i += string(&block[i..], &mut self.name)?;
                } else {
                    let (name, _) = lookup(&self.table, index).ok_or(HpackError::BadIndex)?;
                    self.name.extend_from_slice(name);
                }
                self.value.clear();
                i += string(&block[i..], &mut self.value)?;
                field(&self.name, &self.value);
                if indexing {
                    self.insert();
                }
            }
        }
        Ok(())
    }

    /// Evict oldest entries until `extra` more bytes fit (section 4.4).
    fn evict(&mut self, extra: usize) {
        while self.size + extra > self.max_size {
            match self.table.pop_back() {
                Some(e) => self.size -= e.size(),
                None => break,
            }
        }
    }

    /// Add the field in the scratch buffers to the table (section 4.4: an entry larger
    /// than the table empties it and is not added).
    fn insert(&mut self) {
        let size = self.name.len() + self.value.len() + ENTRY_OVERHEAD;
        if size > self.max_size {
            self.table.clear();
            self.size = 0;
            return;
        }
        self.evict(size);
        let mut bytes = Vec::with_capacity(self.name.len() + self.value.len());
        bytes.extend_from_slice(&self.name);
        bytes.extend_from_slice(&self.value);
        self.table.push_front(Entry {
            bytes: bytes.into_boxed_slice(),
            name_len: self.name.len(),
        });
        self.size += size;
    }
}

/// Index `index` of the static table followed by the dynamic one (section 2.3.3).
fn lookup(table: &VecDeque<Entry>, index: usize) -> Option<(&[u8], &[u8])> {
    match index {
        0 => None,
        i if i <= STATIC.len() => Some(STATIC[i - 1]),
        i => table
            .get(i - STATIC.len() - 1)
            .map(|e| (e.name(), e.value())),
    }
}

/// An integer with an `prefix`-bit prefix (section 5.1): (value, octets read).
fn integer(src: &[u8], prefix: u32) -> Result<(usize, usize), HpackError> {
    let mask = ((1u16 << prefix) - 1) as u8;
    let first = src.first().ok_or(HpackError::Truncated)? & mask;
    if first < mask {
        return Ok((usize::from(first), 1));
    }
    let mut value = u64::from(mask);
    for (k, &b) in src[1..].iter().enumerate() {
        if k == 5 {
            return Err(HpackError::IntegerTooLong);
        }
        value += u64::from(b & 0x7f) << (7 * k);
        if b & 0x80 == 0 {
            let value = usize::try_from(value).map_err(|_| HpackError::IntegerTooLong)?;
            return Ok((value, k + 2));
        }
    }
    Err(HpackError::Truncated)
}

/// A string literal (section 5.2) appended to `out`: octets read.
fn string(src: &[u8], out: &mut Vec<u8>) -> Result<usize, HpackError> {
    let huffman = src.first().ok_or(HpackError::Truncated)? & 0x80 != 0;
    let (len, n) = integer(src, 7)?;
    let raw = src
        .get(n..)
        .and_then(|r| r.get(..len))
        .ok_or(HpackError::Truncated)?;
    if huffman {
        huffman::decode(raw, out).map_err(|_| HpackError::Huffman)?;
    } else {
        out.extend_from_slice(raw);
    }
    Ok(n + len)
}

/// Appendix A: the static table (indices 1 to 61).
const STATIC: [(&[u8], &[u8]); 61] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }

    fn decode(d: &mut Decoder, block: &[u8]) -> Result<Vec<(String, String)>, HpackError> {
        let mut out = Vec::new();
        d.decode(block, &mut |n, v| {
            out.push((
                String::from_utf8(n.to_vec()).unwrap(),
                String::from_utf8(v.to_vec()).unwrap(),
            ))
        })?;
        Ok(out)
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    /// The dynamic table, newest first, with each entry's size, and the table size.
    fn table(d: &Decoder) -> (Vec<(String, String, usize)>, usize) {
        let v = (0..d.table_len())
            .map(|i| {
                let (n, v) = d.entry(i).unwrap();
                let (n, v) = (String::from_utf8_lossy(n), String::from_utf8_lossy(v));
                let size = n.len() + v.len() + 32;
                (n.into_owned(), v.into_owned(), size)
            })
            .collect();
        (v, d.table_size())
    }

    fn t(e: &[(&str, &str, usize)], size: usize) -> (Vec<(String, String, usize)>, usize) {
        (
            e.iter()
                .map(|(n, v, s)| (n.to_string(), v.to_string(), *s))
                .collect(),
            size,
        )
    }

    #[test]
    fn rfc7541_c1_integers() {
        assert_eq!(integer(&[0b0000_1010], 5), Ok((10, 1)));
        assert_eq!(integer(&[0b1110_1010], 5), Ok((10, 1)));
        assert_eq!(integer(&[0x1f, 0x9a, 0x0a], 5), Ok((1337, 3)));
        assert_eq!(integer(&[42], 8), Ok((42, 1)));
        assert_eq!(integer(&[0x1f], 5), Err(HpackError::Truncated));
        assert_eq!(integer(&[0x1f, 0x80], 5), Err(HpackError::Truncated));
        assert_eq!(integer(&[], 5), Err(HpackError::Truncated));
        // 2^31: 31 + 0x7fffffe1 in four 7-bit groups and one more.
        assert_eq!(
            integer(&[0x1f, 0xe1, 0xff, 0xff, 0xff, 0x07], 5),
            Ok((1 << 31, 6))
        );
        assert_eq!(
            integer(&[0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], 5),
            Err(HpackError::IntegerTooLong)
        );
        // Endless continuation octets stop at the sixth.
        let mut long = vec![0x7f];
        long.extend(std::iter::repeat_n(0x80, 1000));
        assert_eq!(integer(&long, 7), Err(HpackError::IntegerTooLong));
    }

    #[test]
    fn rfc7541_c2_field_representations() {
        // C.2.1 literal with indexing.
        let mut d = Decoder::new();
        let b = hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");
        assert_eq!(
            decode(&mut d, &b),
            Ok(pairs(&[("custom-key", "custom-header")]))
        );
        assert_eq!(table(&d), t(&[("custom-key", "custom-header", 55)], 55));
        // C.2.2 literal without indexing.
        let mut d = Decoder::new();
        let b = hex("040c 2f73 616d 706c 652f 7061 7468");
        assert_eq!(decode(&mut d, &b), Ok(pairs(&[(":path", "/sample/path")])));
        assert_eq!(table(&d), t(&[], 0));
        // C.2.3 literal never indexed.
        let mut d = Decoder::new();
        let b = hex("1008 7061 7373 776f 7264 0673 6563 7265 74");
        assert_eq!(decode(&mut d, &b), Ok(pairs(&[("password", "secret")])));
        assert_eq!(table(&d), t(&[], 0));
        // C.2.4 indexed.
        let mut d = Decoder::new();
        assert_eq!(decode(&mut d, &[0x82]), Ok(pairs(&[(":method", "GET")])));
        assert_eq!(table(&d), t(&[], 0));
    }

    const REQ1: &[(&str, &str)] = &[
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
    ];
    const REQ2: &[(&str, &str)] = &[
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
        ("cache-control", "no-cache"),
    ];
    const REQ3: &[(&str, &str)] = &[
        (":method", "GET"),
        (":scheme", "https"),
        (":path", "/index.html"),
        (":authority", "www.example.com"),
        ("custom-key", "custom-value"),
    ];

    fn requests(blocks: [&str; 3]) {
        let mut d = Decoder::new();
        assert_eq!(decode(&mut d, &hex(blocks[0])), Ok(pairs(REQ1)));
        assert_eq!(table(&d), t(&[(":authority", "www.example.com", 57)], 57));
        assert_eq!(decode(&mut d, &hex(blocks[1])), Ok(pairs(REQ2)));
        assert_eq!(
            table(&d),
            t(
                &[
                    ("cache-control", "no-cache", 53),
                    (":authority", "www.example.com", 57)
                ],
                110
            )
        );
        assert_eq!(decode(&mut d, &hex(blocks[2])), Ok(pairs(REQ3)));
        assert_eq!(
            table(&d),
            t(
                &[
                    ("custom-key", "custom-value", 54),
                    ("cache-control", "no-cache", 53),
                    (":authority", "www.example.com", 57)
                ],
                164
            )
        );
    }

    #[test]
    fn rfc7541_c3_requests_without_huffman() {
        requests([
            "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
            "8286 84be 5808 6e6f 2d63 6163 6865",
            "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
        ]);
    }

    #[test]
    fn rfc7541_c4_requests_with_huffman() {
        requests([
            "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
            "8286 84be 5886 a8eb 1064 9cbf",
            "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
        ]);
    }

    const DATE1: &str = "Mon, 21 Oct 2013 20:13:21 GMT";
    const DATE2: &str = "Mon, 21 Oct 2013 20:13:22 GMT";
    const LOC: &str = "https://www.example.com";
    const COOKIE: &str = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";

    fn responses(blocks: [&str; 3]) {
        // C.5 and C.6: SETTINGS_HEADER_TABLE_SIZE 256, so entries get evicted.
        let mut d = Decoder::new();
        d.set_limit(256);
        d.decode(&[0x3f, 0xe1, 0x01], &mut |_, _| {}).unwrap(); // size update to 256
        let r1 = [
            (":status", "302"),
            ("cache-control", "private"),
            ("date", DATE1),
            ("location", LOC),
        ];
        assert_eq!(decode(&mut d, &hex(blocks[0])), Ok(pairs(&r1)));
        let after1 = [
            ("location", LOC, 63),
            ("date", DATE1, 65),
            ("cache-control", "private", 52),
            (":status", "302", 42),
        ];
        assert_eq!(table(&d), t(&after1, 222));
        let r2 = [
            (":status", "307"),
            ("cache-control", "private"),
            ("date", DATE1),
            ("location", LOC),
        ];
        assert_eq!(decode(&mut d, &hex(blocks[1])), Ok(pairs(&r2)));
        let after2 = [
            (":status", "307", 42),
            ("location", LOC, 63),
            ("date", DATE1, 65),
            ("cache-control", "private", 52),
        ];
        assert_eq!(table(&d), t(&after2, 222));
        let r3 = [
            (":status", "200"),
            ("cache-control", "private"),
            ("date", DATE2),
            ("location", LOC),
            ("content-encoding", "gzip"),
            ("set-cookie", COOKIE),
        ];
        assert_eq!(decode(&mut d, &hex(blocks[2])), Ok(pairs(&r3)));
        let after3 = [
            ("set-cookie", COOKIE, 98),
            ("content-encoding", "gzip", 52),
            ("date", DATE2, 65),
        ];
        assert_eq!(table(&d), t(&after3, 215));
    }

    #[test]
    fn rfc7541_c5_responses_without_huffman() {
        responses([
            "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
             2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
             6c65 2e63 6f6d",
            "4803 3330 37c1 c0bf",
            "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
             54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
             5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
             3d31",
        ]);
    }

    #[test]
    fn rfc7541_c6_responses_with_huffman() {
        responses([
            "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
             2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
            "4883 640e ffc1 c0bf",
            "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
             77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
             9587 3160 65c0 03ed 4ee5 b106 3d50 07",
        ]);
    }

    #[test]
    fn size_update_evicts_and_zero_empties() {
        let mut d = Decoder::new();
        decode(
            &mut d,
            &hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"),
        )
        .unwrap();
        assert_eq!(d.table_len(), 1);
        // Size update to 0, then :method GET.
        assert_eq!(
            decode(&mut d, &[0x20, 0x82]),
            Ok(pairs(&[(":method", "GET")]))
        );
        assert_eq!(table(&d), t(&[], 0));
        // The emptied table no longer answers index 62.
        assert_eq!(decode(&mut d, &[0xbe]), Err(HpackError::BadIndex));
    }

    #[test]
    fn entries_that_fill_the_table_exactly_all_stay() {
        // Size update to 100, then two entries of 8 + 10 + 32 = 50 bytes: exactly
        // full (section 4.4 evicts only while the new entry does not fit).
        let mut d = Decoder::new();
        let mut b = vec![0x3f, 0x45]; // 31 + 69 = 100
        for v in ["value-0001", "value-0002"] {
            b.extend_from_slice(&[0x40, 8]);
            b.extend_from_slice(b"name-abc");
            b.push(10);
            b.extend_from_slice(v.as_bytes());
        }
        decode(&mut d, &b).unwrap();
        assert_eq!(
            table(&d),
            t(
                &[
                    ("name-abc", "value-0002", 50),
                    ("name-abc", "value-0001", 50)
                ],
                100
            )
        );
        // One byte more evicts the oldest.
        let mut b = vec![0x40, 8];
        b.extend_from_slice(b"name-abc");
        b.push(11);
        b.extend_from_slice(b"value-00003");
        decode(&mut d, &b).unwrap();
        assert_eq!(table(&d), t(&[("name-abc", "value-00003", 51)], 51));
    }

    #[test]
    fn hostile_blocks_are_errors_not_panics() {
        let mut d = Decoder::new();
        // Index 0; past the tables; truncated strings.
        assert_eq!(decode(&mut d, &[0x80]), Err(HpackError::BadIndex));
        assert_eq!(decode(&mut d, &[0xbe]), Err(HpackError::BadIndex));
        assert_eq!(decode(&mut d, &hex("400a6375")), Err(HpackError::Truncated));
        assert_eq!(decode(&mut d, &[0x41]), Err(HpackError::Truncated));
        // A string claiming 2^28 bytes in a 7-byte block: compared, not allocated.
        assert_eq!(
            decode(&mut d, &[0x40, 0x7f, 0x80, 0xff, 0xff, 0x7f, 0x61]),
            Err(HpackError::Truncated)
        );
        assert!(d.heap_bytes() < 1024, "{}", d.heap_bytes());
        // Bad Huffman: EOS inside.
        assert_eq!(
            decode(&mut d, &[0x00, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00]),
            Err(HpackError::Huffman)
        );
    }

    #[test]
    fn table_size_update_of_2_pow_31_is_refused() {
        let mut d = Decoder::new();
        d.set_limit(usize::MAX);
        assert_eq!(d.limit(), MAX_TABLE_SIZE);
        let b = [0x3f, 0xe1, 0xff, 0xff, 0xff, 0x07];
        assert_eq!(decode(&mut d, &b), Err(HpackError::TableSizeOverLimit));
        // Up to the limit is fine.
        let mut d = Decoder::new();
        d.set_limit(MAX_TABLE_SIZE);
        // 65536 = 31 + 65505: 65505 = 0x7f + 0x7f<<7 + 3<<14 -> e1 ff 03
        assert_eq!(decode(&mut d, &[0x3f, 0xe1, 0xff, 0x03]), Ok(vec![]));
    }

    #[test]
    fn the_table_never_holds_more_than_the_limit() {
        // Fill a 64 KiB table with 4 KiB entries, many times over.
        let mut d = Decoder::new();
        d.set_limit(1 << 31);
        let mut block = vec![0x3f, 0xe1, 0xff, 0x03];
        let value = vec![b'a'; 4000];
        for _ in 0..200 {
            block.extend_from_slice(&[0x40, 0x01, b'x', 0x7f, 0xa1, 0x1e]); // 127 + 3873
            block.extend_from_slice(&value);
        }
        let mut n = 0;
        decode_count(&mut d, &block, &mut n);
        assert_eq!(n, 200);
        assert!(d.table_size() <= MAX_TABLE_SIZE);
        assert_eq!(d.table_len(), MAX_TABLE_SIZE / 4033);
        assert!(d.heap_bytes() < MAX_TABLE_SIZE + 8192, "{}", d.heap_bytes());
        // An entry bigger than the whole table empties it (section 4.4).
        let mut big = vec![0x40, 0x01, b'y', 0x7f, 0x81, 0x80, 0x04];
        // Value length 127 + 1 + 4 * 2^14 = 65664.
        big.extend(std::iter::repeat_n(b'b', 65664));
        let mut n = 0;
        decode_count(&mut d, &big, &mut n);
        assert_eq!((n, d.table_len(), d.table_size()), (1, 0, 0));
    }

    fn decode_count(d: &mut Decoder, block: &[u8], n: &mut usize) {
        d.decode(block, &mut |_, _| *n += 1).unwrap();
    }
}
