//! pcap and pcapng record parsing over a byte window.
//!
//! Contract: [`Parser::next`] looks at the bytes at the start of a window and answers with
//! one [`Step`]: a packet (borrowing the window), a block to skip, "need more bytes", or an
//! error. It never reads past the window and never allocates by a length read from the
//! file; a record or block longer than [`MAX_RECORD`] is corrupt. Both drivers in
//! `capture/mod.rs` (memory-mapped file, streamed reader) use this one parser, so offsets
//! and errors are the same whichever way the bytes arrive.

use pcap_parser::pcap::{parse_pcap_frame, parse_pcap_frame_be, parse_pcap_header};
use pcap_parser::pcapng::{parse_block_be, parse_block_le, Block, SecretsType};
use pcap_parser::{Linktype, OptionCode, PcapError};

/// Timestamp units per second for an `if_tsresol` value: 10^r, or 2^(r & 0x7f) when the
/// top bit is set; `None` when that does not fit in a u64 (or is zero).
pub fn ts_units_per_sec(r: u8) -> Option<u64> {
    let e = (r & 0x7f) as u32;
    if r & 0x80 == 0 {
        10u64.checked_pow(e)
    } else if e < 64 {
        Some(1u64 << e)
    } else {
        None
    }
}

/// Largest record or block accepted (libpcap's own maximum snaplen is 256 KiB; pcapng
/// blocks carry options too). Anything longer is treated as corruption, not as a reason
/// to buffer more.
pub const MAX_RECORD: usize = 16 * 1024 * 1024;

/// One captured packet, borrowing the window it was parsed from.
#[derive(Debug, Clone, Copy)]
pub struct RawPacket<'a> {
    /// Nanoseconds since the Unix epoch, UTC.
    pub ts_ns: i64,
    pub linktype: Linktype,
    /// The captured bytes (never more than were captured).
    pub data: &'a [u8],
    /// Length of the packet on the wire; larger than `data.len()` when snaplen cut it.
    pub orig_len: u32,
}

/// The link type of a [`RawPacket`] that is not a packet: `data` is the TLS key log
/// text of a pcapng Decryption Secrets Block, handed on in file order so that the
/// packets after it can use it. (A value no capture uses: link types are 16-bit.)
pub const TLS_KEYS: Linktype = Linktype(-1);

impl RawPacket<'_> {
    /// Whether this is a Decryption Secrets Block's key log ([`TLS_KEYS`]), not a packet.
    #[inline]
    pub fn is_tls_keys(&self) -> bool {
        self.linktype == TLS_KEYS
    }
}

/// What the parser found at the start of the window.
pub enum Step<'a> {
    /// A packet, and how many bytes of the window its record used.
    Packet(RawPacket<'a>, usize),
    /// A header or block with no packet in it (file header, interface description,
    /// statistics, unknown block types): skip this many bytes.
    Skip(usize),
    /// A packet-carrying record that could not be used (e.g. it names an interface that
    /// was never described): skip it, and report the message as a non-fatal error.
    Bad(usize, String),
    /// The record continues past the end of the window.
    NeedMore,
    /// The bytes are not a capture (or are corrupt beyond recovery) at this point.
    Fatal(String),
}

#[derive(Debug, Clone, Copy)]
struct Iface {
    linktype: Linktype,
    /// Timestamp units per second.
    units_per_sec: u64,
    /// Seconds added to every timestamp (if_tsoffset).
    offset_s: i64,
    snaplen: u32,
}

enum State {
    /// Nothing read yet: the format is decided by the magic number.
    Start,
    Pcap {
        big_endian: bool,
        nanos: bool,
        linktype: Linktype,
        snaplen: u32,
    },
    PcapNg {
        big_endian: bool,
        ifaces: Vec<Iface>,
    },
}

/// Incremental capture parser; see the module docs for its contract.
pub struct Parser {
    state: State,
}

/// Which container format a file turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pcap,
    PcapNg,
}

const PCAP_MAGICS: [[u8; 4]; 4] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
];
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

impl Format {
    /// The container a file starts with, by its magic number (pcap in both byte orders,
    /// micro- and nanosecond; pcapng's section header block); `None` for anything else.
    /// The one place, with [`crate::capture::Compression::sniff`], that knows the magic
    /// numbers of the inputs wsaudit reads as captures.
    pub fn sniff(head: &[u8]) -> Option<Format> {
        let magic: [u8; 4] = head.get(..4)?.try_into().ok()?;
        if PCAP_MAGICS.contains(&magic) {
            Some(Format::Pcap)
        } else if magic == PCAPNG_MAGIC {
            Some(Format::PcapNg)
        } else {
            None
        }
    }
}

impl Default for Parser {
    fn default() -> Self {
        Self::new()
    }
}

impl Parser {
    pub fn new() -> Self {
        Parser {
            state: State::Start,
        }
    }

    pub fn format(&self) -> Option<Format> {
        match self.state {
            State::Start => None,
            State::Pcap { .. } => Some(Format::Pcap),
            State::PcapNg { .. } => Some(Format::PcapNg),
        }
    }

    /// Parse what starts at `window`. See [`Step`].
    pub fn next<'a>(&mut self, window: &'a [u8]) -> Step<'a> {
        match &mut self.state {
            State::Start => self.start(window),
            State::Pcap {
                big_endian,
                nanos,
                linktype,
                snaplen,
            } => {
                if window.len() < 16 {
                    return Step::NeedMore;
                }
                let caplen = if *big_endian {
                    u32::from_be_bytes([window[8], window[9], window[10], window[11]])
                } else {
                    u32::from_le_bytes([window[8], window[9], window[10], window[11]])
                } as usize;
                let limit = (*snaplen as usize).clamp(262_144, MAX_RECORD);
                if caplen > limit {
                    return Step::Fatal(format!(
                        "corrupt pcap record: captured length {caplen} exceeds the limit {limit}"
                    ));
                }
                let parsed = if *big_endian {
                    parse_pcap_frame_be(window)
                } else {
                    parse_pcap_frame(window)
                };
                match parsed {
                    Ok((rest, rec)) => {
                        let used = window.len() - rest.len();
                        let frac_ns = if *nanos {
                            rec.ts_usec as i64
                        } else {
                            rec.ts_usec as i64 * 1000
                        };
                        if frac_ns >= 1_000_000_000 {
                            return Step::Bad(
                                used,
                                format!("corrupt pcap record: sub-second field {}", rec.ts_usec),
                            );
                        }
                        if rec.caplen > rec.origlen {
                            return Step::Bad(
                                used,
                                format!(
                                    "corrupt pcap record: captured length {} exceeds original length {}",
                                    rec.caplen, rec.origlen
                                ),
                            );
                        }
                        let ts_ns = rec.ts_sec as i64 * 1_000_000_000 + frac_ns;
                        Step::Packet(
                            RawPacket {
                                ts_ns,
                                linktype: *linktype,
                                data: rec.data,
                                orig_len: rec.origlen,
                            },
                            used,
                        )
                    }
                    Err(nom::Err::Incomplete(_)) => Step::NeedMore,
                    Err(_) => Step::Fatal("corrupt pcap record".into()),
                }
            }
            State::PcapNg { .. } => self.next_pcapng(window),
        }
    }

    fn start<'a>(&mut self, window: &'a [u8]) -> Step<'a> {
        if window.len() < 4 {
            return Step::NeedMore;
        }
        let magic = [window[0], window[1], window[2], window[3]];
        if PCAP_MAGICS.contains(&magic) {
            if window.len() < 24 {
                return Step::NeedMore;
            }
            match parse_pcap_header(window) {
                Ok((rest, hdr)) => {
                    if hdr.is_modified_format() {
                        return Step::Fatal(
                            "modified (Kuznetzov) pcap format is not supported".into(),
                        );
                    }
                    self.state = State::Pcap {
                        big_endian: hdr.is_bigendian(),
                        nanos: hdr.is_nanosecond_precision(),
                        linktype: hdr.network,
                        snaplen: hdr.snaplen,
                    };
                    Step::Skip(window.len() - rest.len())
                }
                Err(nom::Err::Incomplete(_)) => Step::NeedMore,
                Err(_) => Step::Fatal("corrupt pcap file header".into()),
            }
        } else if magic == PCAPNG_MAGIC {
            self.state = State::PcapNg {
                big_endian: false,
                ifaces: Vec::new(),
            };
            self.next_pcapng(window)
        } else {
            Step::Fatal(format!(
                "not a pcap or pcapng file (magic {:02x}{:02x}{:02x}{:02x})",
                magic[0], magic[1], magic[2], magic[3]
            ))
        }
    }

    fn next_pcapng<'a>(&mut self, window: &'a [u8]) -> Step<'a> {
        let State::PcapNg { big_endian, ifaces } = &mut self.state else {
            return Step::Fatal("internal: pcapng state expected".into());
        };
        if window.len() < 12 {
            return Step::NeedMore;
        }
        let is_shb = window[..4] == PCAPNG_MAGIC;
        // A section header carries its own byte order; every other block uses the
        // section's.
        let be = if is_shb {
            window[8..12] == [0x1a, 0x2b, 0x3c, 0x4d]
        } else {
            *big_endian
        };
        let len_bytes = [window[4], window[5], window[6], window[7]];
        let block_len = if be {
            u32::from_be_bytes(len_bytes)
        } else {
            u32::from_le_bytes(len_bytes)
        } as usize;
        if block_len < 12 || !block_len.is_multiple_of(4) {
            return Step::Fatal(format!("corrupt pcapng block: length {block_len}"));
        }
        if block_len > MAX_RECORD {
            return Step::Fatal(format!(
                "corrupt pcapng block: length {block_len} exceeds the limit {MAX_RECORD}"
            ));
        }
        if window.len() < block_len {
            return Step::NeedMore;
        }
        let block = &window[..block_len];
        let parsed = if be {
            parse_block_be(block)
        } else {
            parse_block_le(block)
        };
        let block = match parsed {
            Ok((_, b)) => b,
            Err(nom::Err::Incomplete(_)) if !is_shb => {
                // The block's own length is sound; only its contents are not: skip it.
                return Step::Bad(
                    block_len,
                    "corrupt pcapng block: inner length past block end".into(),
                );
            }
            Err(nom::Err::Incomplete(_)) => {
                return Step::Fatal(
                    "corrupt pcapng section header: inner length past block end".into(),
                )
            }
            Err(nom::Err::Error(PcapError::HeaderNotRecognized))
            | Err(nom::Err::Failure(PcapError::HeaderNotRecognized)) => {
                return Step::Fatal("corrupt pcapng section header: bad byte-order magic".into())
            }
            Err(_) => {
                if is_shb {
                    return Step::Fatal("corrupt pcapng section header".into());
                }
                return Step::Bad(block_len, "corrupt pcapng block skipped".into());
            }
        };
        match block {
            Block::SectionHeader(shb) => {
                *big_endian = shb.big_endian();
                ifaces.clear();
                Step::Skip(block_len)
            }
            Block::InterfaceDescription(idb) => {
                // Resolution and offset are decoded here, not by pcap-parser 0.17: it
                // rejects the power-of-two resolution form and reads if_tsoffset as
                // little-endian whatever the section's byte order.
                let offset_s = idb
                    .options
                    .iter()
                    .find(|o| o.code == OptionCode::IfTsoffset)
                    .and_then(|o| o.value().get(..8))
                    .map(|b| {
                        let b: [u8; 8] = [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
                        if *big_endian {
                            i64::from_be_bytes(b)
                        } else {
                            i64::from_le_bytes(b)
                        }
                    })
                    .unwrap_or(0);
                let tsresol = idb
                    .options
                    .iter()
                    .find(|o| o.code == OptionCode::IfTsresol)
                    .and_then(|o| o.value().first().copied());
                let units = match tsresol {
                    None => Some(1_000_000),
                    Some(r) => ts_units_per_sec(r),
                };
                let iface = Iface {
                    linktype: idb.linktype,
                    units_per_sec: units.unwrap_or(1_000_000),
                    offset_s,
                    snaplen: idb.snaplen,
                };
                ifaces.push(iface);
                match (units, tsresol) {
                    (None, Some(r)) => Step::Bad(
                        block_len,
                        format!(
                            "pcapng interface {} has an invalid timestamp resolution {r:#x}; using microseconds",
                            ifaces.len() - 1
                        ),
                    ),
                    _ => Step::Skip(block_len),
                }
            }
            Block::EnhancedPacket(epb) => {
                let Some(iface) = ifaces.get(epb.if_id as usize) else {
                    return Step::Bad(
                        block_len,
                        format!(
                            "packet for interface {} which was never described",
                            epb.if_id
                        ),
                    );
                };
                let ticks = ((epb.ts_high as u128) << 32) | epb.ts_low as u128;
                let secs = ticks / iface.units_per_sec as u128;
                let frac = ticks % iface.units_per_sec as u128;
                let frac_ns = frac * 1_000_000_000 / iface.units_per_sec as u128;
                let ts_ns =
                    (secs as i128 + iface.offset_s as i128) * 1_000_000_000 + frac_ns as i128;
                let ts_ns = ts_ns.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
                if epb.caplen > epb.origlen {
                    return Step::Bad(
                        block_len,
                        format!(
                            "corrupt pcapng packet: captured length {} exceeds original length {}",
                            epb.caplen, epb.origlen
                        ),
                    );
                }
                let data: &'a [u8] = &epb.data[..(epb.caplen as usize).min(epb.data.len())];
                Step::Packet(
                    RawPacket {
                        ts_ns,
                        linktype: iface.linktype,
                        data,
                        orig_len: epb.origlen,
                    },
                    block_len,
                )
            }
            Block::SimplePacket(spb) => {
                let Some(iface) = ifaces.first() else {
                    return Step::Bad(
                        block_len,
                        "simple packet block before any interface description".into(),
                    );
                };
                let mut data: &'a [u8] = &spb.data[..(spb.origlen as usize).min(spb.data.len())];
                if iface.snaplen > 0 && data.len() > iface.snaplen as usize {
                    data = &data[..iface.snaplen as usize];
                }
                // A simple packet block has no timestamp.
                Step::Packet(
                    RawPacket {
                        ts_ns: 0,
                        linktype: iface.linktype,
                        data,
                        orig_len: spb.origlen,
                    },
                    block_len,
                )
            }
            Block::DecryptionSecrets(dsb) if dsb.secrets_type == SecretsType::TlsKeyLog => {
                let n = (dsb.secrets_len as usize).min(dsb.data.len());
                Step::Packet(
                    RawPacket {
                        ts_ns: 0,
                        linktype: TLS_KEYS,
                        data: &dsb.data[..n],
                        orig_len: n as u32,
                    },
                    block_len,
                )
            }
            _ => Step::Skip(block_len),
        }
    }
}
