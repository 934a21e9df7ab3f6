//! The same sessions whatever the container and the link type.
//!
//! `fixtures/ws_python.pcap` (Ethernet, pcap, microseconds) is re-written by the small
//! writers in `tests/common` into other containers (pcap both byte orders and both time
//! resolutions, pcapng with several interfaces, sections, block types and time
//! resolutions) and other link types (VLAN, QinQ, raw IP, BSD NULL/LOOP, Linux SLL/SLL2).
//! Each variant must give exactly the sessions of the original: same endpoints, ending,
//! codes, reasons, counts, anomalies, and the same times to the nanosecond as far as the
//! variant's time resolution allows.

mod common;

use std::io::{self, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use common::*;
use wsaudit::capture::{read_file, read_stream};
use wsaudit::pipeline::{analyze, CaptureResult, Input, Options};
use wsaudit::session::SessionRecord;

const ORIGINAL: &str = "ws_python.pcap";

fn run(path: &Path) -> CaptureResult {
    analyze(&Input::Path(path.to_path_buf()), &Options::default())
}

/// The original's packet count, TCP segment count and sessions (analysed once).
fn original() -> &'static (u64, u64, Vec<SessionRecord>) {
    static ORIG: OnceLock<(u64, u64, Vec<SessionRecord>)> = OnceLock::new();
    ORIG.get_or_init(|| {
        let r = run(&fixture(ORIGINAL));
        assert!(!r.failed(), "{:?}", r.problems());
        assert_eq!(r.sessions.len(), 11, "the fixture has 11 sessions");
        (r.read.packets, r.tcp_segments, r.sessions)
    })
}

/// Write `bytes` as a capture, analyse it, and compare with the original.
fn check_variant(name: &str, bytes: &[u8], tol_ns: i64) -> CaptureResult {
    let (packets, segments, want) = original();
    let dir = TempDir::new("formats");
    let path = dir.file(name, bytes);
    let got = run(&path);
    assert!(!got.failed(), "{name}: {:?}", got.problems());
    assert_eq!(got.read.packets, *packets, "{name}: packet count");
    assert_eq!(got.tcp_segments, *segments, "{name}: TCP segments decoded");
    if let Err(e) = same_sessions(want, &got.sessions, tol_ns) {
        panic!("{name}: sessions differ from the original:\n{e}");
    }
    got
}

fn eth_packets() -> Vec<Pkt> {
    let p = packets(&fixture(ORIGINAL));
    assert!(p.iter().all(|p| p.linktype == LINKTYPE_ETHERNET as i32));
    assert!(
        p.iter().all(|p| p.ts_ns % 1000 == 0),
        "a microsecond capture"
    );
    p
}

// ---------------------------------------------------------------------------------------
// pcap

#[test]
fn pcap_little_endian_microseconds_rewrite_is_byte_identical() {
    let bytes = pcap(false, false, LINKTYPE_ETHERNET, &eth_packets());
    let orig = std::fs::read(fixture(ORIGINAL)).unwrap();
    assert_eq!(bytes.len(), orig.len());
    assert!(
        bytes == orig,
        "the pcap writer does not reproduce the fixture"
    );
    check_variant("le_usec.pcap", &bytes, 0);
}

#[test]
fn pcap_big_endian_nanoseconds() {
    let mut pkts = eth_packets();
    // Nanosecond timestamps that microseconds could not hold, in the sub-µs digits only,
    // so the sessions' order and classification are unchanged. The comparison then
    // allows exactly that sub-µs shift.
    for (i, p) in pkts.iter_mut().enumerate() {
        p.ts_ns += (i as i64 * 7) % 1000;
    }
    let bytes = pcap(true, true, LINKTYPE_ETHERNET, &pkts);
    assert_eq!(&bytes[..4], &[0xa1, 0xb2, 0x3c, 0x4d]);
    let dir = TempDir::new("formats");
    let path = dir.file("be_nsec.pcap", &bytes);
    let read = packets(&path);
    assert_eq!(read, pkts, "every nanosecond timestamp read back exactly");
    check_variant("be_nsec.pcap", &bytes, 999);
    // And with the original times, exact.
    check_variant(
        "be_nsec_exact.pcap",
        &pcap(true, true, LINKTYPE_ETHERNET, &eth_packets()),
        0,
    );
}

#[test]
fn ethernet_with_one_vlan_tag() {
    let pkts = reframe_all(&eth_packets(), LINKTYPE_ETHERNET, &[[0x81, 0x00]]);
    assert_eq!(&pkts[0].data[12..14], &[0x81, 0x00]);
    check_variant(
        "vlan.pcap",
        &pcap(false, false, LINKTYPE_ETHERNET, &pkts),
        0,
    );
}

#[test]
fn ethernet_with_qinq_tags() {
    let pkts = reframe_all(
        &eth_packets(),
        LINKTYPE_ETHERNET,
        &[[0x88, 0xa8], [0x81, 0x00]],
    );
    assert_eq!(&pkts[0].data[12..14], &[0x88, 0xa8]);
    assert_eq!(&pkts[0].data[16..18], &[0x81, 0x00]);
    check_variant(
        "qinq.pcap",
        &pcap(false, false, LINKTYPE_ETHERNET, &pkts),
        0,
    );
}

#[test]
fn linktype_raw_and_ipv4() {
    for lt in [LINKTYPE_RAW, LINKTYPE_IPV4] {
        let pkts = reframe_all(&eth_packets(), lt, &[]);
        check_variant(&format!("raw{lt}.pcap"), &pcap(false, false, lt, &pkts), 0);
    }
}

#[test]
fn bsd_null_host_order_and_loop_network_order() {
    let null = reframe_all(&eth_packets(), LINKTYPE_NULL, &[]);
    assert_eq!(&null[0].data[..4], &[2, 0, 0, 0]);
    check_variant("null.pcap", &pcap(false, false, LINKTYPE_NULL, &null), 0);
    let lo = reframe_all(&eth_packets(), LINKTYPE_LOOP, &[]);
    assert_eq!(&lo[0].data[..4], &[0, 0, 0, 2]);
    check_variant("loop.pcap", &pcap(false, false, LINKTYPE_LOOP, &lo), 0);
}

#[test]
fn linux_sll_and_sll2_loopback() {
    let sll = reframe_all(&eth_packets(), LINKTYPE_LINUX_SLL, &[]);
    assert_eq!(&sll[0].data[2..4], &772u16.to_be_bytes());
    assert_eq!(&sll[0].data[14..16], &[0x08, 0x00]);
    check_variant("sll.pcap", &pcap(false, false, LINKTYPE_LINUX_SLL, &sll), 0);
    let sll2 = reframe_all(&eth_packets(), LINKTYPE_LINUX_SLL2, &[]);
    assert_eq!(&sll2[0].data[..2], &[0x08, 0x00]);
    check_variant(
        "sll2.pcap",
        &pcap(false, false, LINKTYPE_LINUX_SLL2, &sll2),
        0,
    );
}

// ---------------------------------------------------------------------------------------
// pcapng

/// Interface 0: Ethernet, default resolution (µs). Interface 1: raw IP, if_tsresol 9 (ns).
fn ng_two_interfaces(ng: &mut Ng, swapped: bool) {
    let eth = |ng: &mut Ng| ng.idb(LINKTYPE_ETHERNET, 262_144, &[]);
    let raw = |ng: &mut Ng| ng.idb(LINKTYPE_RAW, 262_144, &[Ng::tsresol(9)]);
    if swapped {
        raw(ng);
        eth(ng);
    } else {
        eth(ng);
        raw(ng);
    }
}

/// Packet `p` on the Ethernet (µs) or raw (ns) interface, with the given interface ids.
fn ng_packet(ng: &mut Ng, p: &Pkt, on_raw: bool, eth_id: u32, raw_id: u32) {
    if on_raw {
        let ip = ip_of(&p.data).to_vec();
        let orig = p.orig_len - ETH_HDR as u32;
        ng.epb(raw_id, p.ts_ns as u64, &ip, orig);
    } else {
        ng.epb(eth_id, p.ts_ns as u64 / 1000, &p.data, p.orig_len);
    }
}

/// One section, two interfaces, packets alternating, and NRB / ISB / unknown blocks
/// sprinkled between packets.
fn ng_file(be: bool) -> Vec<u8> {
    let pkts = eth_packets();
    let mut ng = Ng::new(be);
    ng_two_interfaces(&mut ng, false);
    for (i, p) in pkts.iter().enumerate() {
        ng_packet(&mut ng, p, i % 2 == 1, 0, 1);
        match i % 40 {
            5 => {
                ng.nrb();
            }
            17 => {
                ng.isb(1, p.ts_ns as u64);
            }
            29 => {
                ng.block(0x0BAD, b"not a block wsaudit knows");
            }
            _ => {}
        }
    }
    ng.isb(0, 0);
    ng.buf
}

#[test]
fn pcapng_two_interfaces_with_other_blocks_between_packets() {
    let bytes = ng_file(false);
    let dir = TempDir::new("formats");
    let path = dir.file("two_if.pcapng", &bytes);
    // Packet level: the same timestamps, alternating link types.
    let orig = eth_packets();
    let got = packets(&path);
    assert_eq!(got.len(), orig.len());
    for (i, (g, o)) in got.iter().zip(&orig).enumerate() {
        assert_eq!(g.ts_ns, o.ts_ns, "packet {i}");
        let lt = if i % 2 == 1 {
            LINKTYPE_RAW
        } else {
            LINKTYPE_ETHERNET
        };
        assert_eq!(g.linktype, lt as i32, "packet {i}");
    }
    check_variant("two_if.pcapng", &bytes, 0);
}

#[test]
fn pcapng_big_endian_section() {
    let bytes = ng_file(true);
    assert_eq!(&bytes[8..12], &[0x1a, 0x2b, 0x3c, 0x4d]);
    check_variant("be.pcapng", &bytes, 0);
}

/// A second section in the middle re-declares its interfaces in the other order (and,
/// with `second_be`, in the other byte order); packets after it use the new numbering.
fn ng_two_sections(second_be: bool) -> Vec<u8> {
    let pkts = eth_packets();
    let half = pkts.len() / 2;
    let mut ng = Ng::new(false);
    ng_two_interfaces(&mut ng, false);
    for (i, p) in pkts[..half].iter().enumerate() {
        ng_packet(&mut ng, p, i % 2 == 1, 0, 1);
    }
    ng.shb(second_be);
    ng_two_interfaces(&mut ng, true);
    for (i, p) in pkts[half..].iter().enumerate() {
        ng_packet(&mut ng, p, i % 2 == 1, 1, 0);
    }
    ng.buf
}

#[test]
fn pcapng_second_section_redeclares_interfaces_in_another_order() {
    check_variant("two_sections.pcapng", &ng_two_sections(false), 0);
}

#[test]
fn pcapng_second_section_in_the_other_byte_order() {
    check_variant("two_sections_be.pcapng", &ng_two_sections(true), 0);
}

/// Everything on one Ethernet interface whose if_tsresol is `tsresol`.
fn ng_one_interface(tsresol: u8, units_per_sec: u64) -> Vec<u8> {
    let mut ng = Ng::new(false);
    ng.idb(LINKTYPE_ETHERNET, 262_144, &[Ng::tsresol(tsresol)]);
    for p in eth_packets() {
        let ns = p.ts_ns as u128;
        let ticks = ns * units_per_sec as u128 / 1_000_000_000;
        ng.epb(0, ticks as u64, &p.data, p.orig_len);
    }
    ng.buf
}

#[test]
fn pcapng_if_tsresol_decimal_forms() {
    // 10^-3 would merge packets; 10^-6 .. 10^-9 hold these times exactly.
    for (resol, units) in [(6u8, 1_000_000u64), (7, 10_000_000), (9, 1_000_000_000)] {
        check_variant(
            &format!("tsresol{resol}.pcapng"),
            &ng_one_interface(resol, units),
            0,
        );
    }
}

#[test]
fn pcapng_if_tsresol_power_of_two() {
    let bytes = ng_one_interface(0x80 | 20, 1 << 20);
    let dir = TempDir::new("formats");
    let path = dir.file("tsresol_pow2.pcapng", &bytes);
    let orig = eth_packets();
    let got = packets(&path);
    // 2^-20 s is 953.67 ns: the read-back time is never later, and within one unit plus
    // the nanosecond lost when ticks are converted to whole nanoseconds.
    for (i, (g, o)) in got.iter().zip(&orig).enumerate() {
        let d = o.ts_ns - g.ts_ns;
        assert!(
            (0..=954).contains(&d),
            "packet {i}: {} read as {} ({d} ns off)",
            o.ts_ns,
            g.ts_ns
        );
    }
    check_variant("tsresol_pow2.pcapng", &bytes, 954);
}

/// Timestamps written relative to an if_tsoffset (seconds) in the section's byte order.
fn ng_tsoffset(be: bool, offset_s: i64) -> Vec<u8> {
    let mut ng = Ng::new(be);
    let opt = ng.tsoffset(offset_s);
    ng.idb(LINKTYPE_ETHERNET, 262_144, &[opt]);
    for p in eth_packets() {
        let ticks = (p.ts_ns - offset_s * 1_000_000_000) / 1000;
        ng.epb(0, ticks as u64, &p.data, p.orig_len);
    }
    ng.buf
}

#[test]
fn pcapng_if_tsoffset_little_endian() {
    check_variant("tsoffset_le.pcapng", &ng_tsoffset(false, 1_000_000_000), 0);
}

#[test]
fn pcapng_if_tsoffset_big_endian() {
    check_variant("tsoffset_be.pcapng", &ng_tsoffset(true, 1_000_000_000), 0);
}

#[test]
fn pcapng_simple_packet_blocks_are_read_without_timestamps() {
    let pkts = eth_packets();
    let mut ng = Ng::new(false);
    ng.idb(LINKTYPE_RAW, 0, &[]);
    for p in &pkts[..3] {
        ng.spb(ip_of(&p.data));
    }
    let dir = TempDir::new("formats");
    let path = dir.file("spb.pcapng", &ng.buf);
    let got = packets(&path);
    assert_eq!(got.len(), 3);
    for (g, p) in got.iter().zip(&pkts) {
        assert_eq!(g.ts_ns, 0, "a simple packet block has no timestamp");
        assert_eq!(g.linktype, LINKTYPE_RAW as i32);
        assert_eq!(g.data, ip_of(&p.data));
    }
    let r = run(&path);
    assert!(!r.failed(), "{:?}", r.problems());
    assert_eq!(r.read.packets, 3);
    assert_eq!(r.tcp_segments, 3);
}

#[test]
fn pcapng_packet_for_an_undescribed_interface_is_skipped_with_its_offset() {
    let pkts = eth_packets();
    let mut ng = Ng::new(false);
    ng_two_interfaces(&mut ng, false);
    let mut bad_at = 0;
    for (i, p) in pkts.iter().enumerate() {
        if i == 50 {
            bad_at = ng.epb(7, p.ts_ns as u64 / 1000, &p.data, p.orig_len);
        }
        ng_packet(&mut ng, p, i % 2 == 1, 0, 1);
    }
    let dir = TempDir::new("formats");
    let path = dir.file("undescribed.pcapng", &ng.buf);
    let r = run(&path);
    assert_eq!(r.read.errors.len(), 1, "{:?}", r.read.errors);
    let e = &r.read.errors[0];
    assert!(!e.fatal, "{e:?}");
    assert_eq!(e.offset, bad_at as u64, "{e}");
    assert!(e.message.contains("interface 7"), "{e}");
    assert_eq!(
        r.read.packets,
        pkts.len() as u64,
        "later packets still read"
    );
    same_sessions(&original().2, &r.sessions, 0).unwrap();
}

// ---------------------------------------------------------------------------------------
// Streams

/// A reader that hands out at most `n` bytes per call, to cut records across reads.
struct Trickle<R> {
    inner: R,
    n: usize,
}

impl<R: Read> Read for Trickle<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.n);
        self.inner.read(&mut buf[..n])
    }
}

fn collect_stream<R: Read>(r: R) -> (Vec<Pkt>, wsaudit::capture::ReadSummary) {
    let mut v = Vec::new();
    let s = read_stream(r, |p| {
        v.push(Pkt {
            ts_ns: p.ts_ns,
            linktype: p.linktype.0,
            data: p.data.to_vec(),
            orig_len: p.orig_len,
        })
    })
    .unwrap();
    (v, s)
}

#[test]
fn read_stream_gives_the_packets_read_file_gives() {
    let dir = TempDir::new("formats");
    let variants = [
        ("two_sections.pcapng", ng_two_sections(true)),
        ("ng.pcapng", ng_file(false)),
        (
            "be_nsec.pcap",
            pcap(true, true, LINKTYPE_ETHERNET, &eth_packets()),
        ),
    ];
    for (name, bytes) in variants {
        let path = dir.file(name, &bytes);
        let mut from_file = Vec::new();
        let fs = read_file(&path, |p| {
            from_file.push(Pkt {
                ts_ns: p.ts_ns,
                linktype: p.linktype.0,
                data: p.data.to_vec(),
                orig_len: p.orig_len,
            })
        })
        .unwrap();
        // Whole, and in odd-sized pieces so records straddle reads.
        for chunk in [usize::MAX, 4093, 1000] {
            let f = std::fs::File::open(&path).unwrap();
            let (pkts, s) = collect_stream(Trickle { inner: f, n: chunk });
            assert_eq!(pkts, from_file, "{name}, reads of {chunk}");
            assert_eq!(s.packets, fs.packets, "{name}");
            assert_eq!(s.bytes, fs.bytes, "{name}");
            assert_eq!(s.errors, fs.errors, "{name}");
            assert_eq!(s.format, fs.format, "{name}");
        }
    }
}

/// CSV rows without the capture-name columns (`capture`, `source`, `session_id`).
fn csv_rows_unnamed(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .map(|l| l.splitn(4, ',').nth(3).unwrap().to_string())
        .collect()
}

#[test]
fn binary_reads_a_capture_from_stdin() {
    let dir = TempDir::new("formats");
    let path = dir.file("two_sections.pcapng", &ng_two_sections(false));
    let from_stdin = dir.path().join("stdin.csv");
    let out = Command::new(bin())
        .args(["analyze", "-", "--quiet", "--sessions"])
        .arg(&from_stdin)
        .stdin(Stdio::from(std::fs::File::open(&path).unwrap()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let from_file = dir.path().join("file.csv");
    let out = Command::new(bin())
        .args(["analyze", "--quiet", "--sessions"])
        .arg(&from_file)
        .arg(fixture(ORIGINAL))
        .output()
        .unwrap();
    assert!(out.status.success());
    let (a, b) = (csv_rows_unnamed(&from_stdin), csv_rows_unnamed(&from_file));
    assert_eq!(a.len(), 11);
    assert_eq!(a, b);
    let text = std::fs::read_to_string(&from_stdin).unwrap();
    assert!(text
        .lines()
        .nth(1)
        .unwrap()
        .starts_with("stdin,capture,stdin#1,"));
}
