//! Helpers shared by the test crates (each uses a subset): temporary directories,
//! small pcap / pcapng writers, and a field-by-field session comparison.
//!
//! Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use wsaudit::capture::read_file;
use wsaudit::session::SessionRecord;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

pub fn fixture(name: &str) -> PathBuf {
    fixtures().join(name)
}

/// Every capture in `fixtures/` (`.pcap`, `.pcapng`), sorted.
/// The log fixture folders wsaudit reads without options: every library's real log,
/// the quoted formats and the noisy mixes. Left out: `pattern/` (application logs only a
/// `--pattern` reads: without one they are unrecognised logs, an error by design) and
/// `gen/` (generators and their raw outputs).
pub fn fixture_log_folders() -> Vec<PathBuf> {
    [
        "go",
        "jetty",
        "mitmproxy",
        "noisy",
        "python-websockets",
        "quoted",
        "tomcat",
        "tungstenite",
    ]
    .iter()
    .map(|d| fixture("logs").join(d))
    .collect()
}

pub fn fixture_captures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.to_string_lossy();
            n.ends_with(".pcap") || n.ends_with(".pcapng")
        })
        .collect();
    v.sort();
    v
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_wsaudit")
}

/// A fresh directory under the system temp dir, removed (with its contents) on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!(
            "wsaudit-test-{tag}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Write `bytes` to `name` in this directory and return its path.
    pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One packet of a capture, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkt {
    pub ts_ns: i64,
    pub linktype: i32,
    pub data: Vec<u8>,
    pub orig_len: u32,
}

/// Every packet of a capture file (panics on any capture error: fixtures are clean).
pub fn packets(path: &Path) -> Vec<Pkt> {
    let mut v = Vec::new();
    let summary = read_file(path, |p| {
        v.push(Pkt {
            ts_ns: p.ts_ns,
            linktype: p.linktype.0,
            data: p.data.to_vec(),
            orig_len: p.orig_len,
        })
    })
    .unwrap();
    assert!(
        summary.errors.is_empty(),
        "{}: {:?}",
        path.display(),
        summary.errors
    );
    v
}

// ---------------------------------------------------------------------------------------
// pcap

pub const LINKTYPE_NULL: u32 = 0;
pub const LINKTYPE_ETHERNET: u32 = 1;
pub const LINKTYPE_RAW: u32 = 101;
pub const LINKTYPE_LOOP: u32 = 108;
pub const LINKTYPE_LINUX_SLL: u32 = 113;
pub const LINKTYPE_IPV4: u32 = 228;
pub const LINKTYPE_LINUX_SLL2: u32 = 276;

fn put16(out: &mut Vec<u8>, be: bool, v: u16) {
    out.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
}

fn put32(out: &mut Vec<u8>, be: bool, v: u32) {
    out.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
}

/// A pcap file header.
pub fn pcap_header(be: bool, nanos: bool, linktype: u32, snaplen: u32) -> Vec<u8> {
    let mut out = Vec::new();
    put32(&mut out, be, if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 });
    put16(&mut out, be, 2);
    put16(&mut out, be, 4);
    put32(&mut out, be, 0); // thiszone
    put32(&mut out, be, 0); // sigfigs
    put32(&mut out, be, snaplen);
    put32(&mut out, be, linktype);
    out
}

/// One pcap record header (caplen = data length unless the caller patches it).
pub fn pcap_record(
    out: &mut Vec<u8>,
    be: bool,
    nanos: bool,
    ts_ns: i64,
    data: &[u8],
    orig_len: u32,
) {
    let secs = ts_ns.div_euclid(1_000_000_000) as u32;
    let frac = ts_ns.rem_euclid(1_000_000_000) as u32;
    put32(out, be, secs);
    put32(out, be, if nanos { frac } else { frac / 1000 });
    put32(out, be, data.len() as u32);
    put32(out, be, orig_len);
    out.extend_from_slice(data);
}

/// A whole pcap file.
pub fn pcap(be: bool, nanos: bool, linktype: u32, pkts: &[Pkt]) -> Vec<u8> {
    let mut out = pcap_header(be, nanos, linktype, 262_144);
    for p in pkts {
        pcap_record(&mut out, be, nanos, p.ts_ns, &p.data, p.orig_len);
    }
    out
}

/// Byte offset of every record in a pcap file (little- or big-endian, read from the magic).
pub fn pcap_record_offsets(file: &[u8]) -> Vec<usize> {
    let be = file[..4] == [0xa1, 0xb2, 0xc3, 0xd4] || file[..4] == [0xa1, 0xb2, 0x3c, 0x4d];
    let mut v = Vec::new();
    let mut off = 24;
    while off + 16 <= file.len() {
        let b = [file[off + 8], file[off + 9], file[off + 10], file[off + 11]];
        let caplen = if be {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        } as usize;
        if off + 16 + caplen > file.len() {
            break;
        }
        v.push(off);
        off += 16 + caplen;
    }
    v
}

// ---------------------------------------------------------------------------------------
// pcapng

pub const OPT_IF_TSRESOL: u16 = 9;
pub const OPT_IF_TSOFFSET: u16 = 14;

/// A pcapng writer; every block is written in the byte order of the current section.
pub struct Ng {
    pub be: bool,
    pub buf: Vec<u8>,
}

impl Ng {
    /// A file starting with a Section Header Block in the given byte order.
    pub fn new(be: bool) -> Ng {
        let mut ng = Ng {
            be,
            buf: Vec::new(),
        };
        ng.shb(be);
        ng
    }

    fn u16(&self, v: u16) -> [u8; 2] {
        if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn u32(&self, v: u32) -> [u8; 4] {
        if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    /// Options encoded in the section's byte order, with the end-of-options marker.
    pub fn options(&self, opts: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        if opts.is_empty() {
            return out;
        }
        for (code, value) in opts {
            out.extend_from_slice(&self.u16(*code));
            out.extend_from_slice(&self.u16(value.len() as u16));
            out.extend_from_slice(value);
            while !out.len().is_multiple_of(4) {
                out.push(0);
            }
        }
        out.extend_from_slice(&[0, 0, 0, 0]);
        out
    }

    /// Append a block of `btype` with `body` (padded to 4 bytes). Returns its offset.
    pub fn block(&mut self, btype: u32, body: &[u8]) -> usize {
        let off = self.buf.len();
        let mut body = body.to_vec();
        while !body.len().is_multiple_of(4) {
            body.push(0);
        }
        let len = (12 + body.len()) as u32;
        let (t, l) = (self.u32(btype), self.u32(len));
        self.buf.extend_from_slice(&t);
        self.buf.extend_from_slice(&l);
        self.buf.extend_from_slice(&body);
        self.buf.extend_from_slice(&l);
        off
    }

    /// A Section Header Block; the blocks after it use `be`.
    pub fn shb(&mut self, be: bool) -> usize {
        self.be = be;
        let mut body = Vec::new();
        body.extend_from_slice(&self.u32(0x1a2b_3c4d));
        body.extend_from_slice(&self.u16(1));
        body.extend_from_slice(&self.u16(0));
        body.extend_from_slice(&[0xff; 8]); // section length unknown
        self.block(0x0a0d_0d0a, &body)
    }

    /// An Interface Description Block.
    pub fn idb(&mut self, linktype: u32, snaplen: u32, opts: &[(u16, Vec<u8>)]) -> usize {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u16(linktype as u16));
        body.extend_from_slice(&self.u16(0));
        body.extend_from_slice(&self.u32(snaplen));
        body.extend(self.options(opts));
        self.block(1, &body)
    }

    /// if_tsresol option value.
    pub fn tsresol(v: u8) -> (u16, Vec<u8>) {
        (OPT_IF_TSRESOL, vec![v])
    }

    /// if_tsoffset option value (seconds), in this section's byte order.
    pub fn tsoffset(&self, secs: i64) -> (u16, Vec<u8>) {
        let b = if self.be {
            secs.to_be_bytes()
        } else {
            secs.to_le_bytes()
        };
        (OPT_IF_TSOFFSET, b.to_vec())
    }

    /// An Enhanced Packet Block with a timestamp in interface units.
    pub fn epb(&mut self, if_id: u32, ticks: u64, data: &[u8], orig_len: u32) -> usize {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u32(if_id));
        body.extend_from_slice(&self.u32((ticks >> 32) as u32));
        body.extend_from_slice(&self.u32(ticks as u32));
        body.extend_from_slice(&self.u32(data.len() as u32));
        body.extend_from_slice(&self.u32(orig_len));
        body.extend_from_slice(data);
        self.block(6, &body)
    }

    /// A Simple Packet Block.
    pub fn spb(&mut self, data: &[u8]) -> usize {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u32(data.len() as u32));
        body.extend_from_slice(data);
        self.block(3, &body)
    }

    /// A Name Resolution Block with one IPv4 record (127.0.0.1 -> "localhost").
    pub fn nrb(&mut self) -> usize {
        let mut body = Vec::new();
        let value = b"\x7f\x00\x00\x01localhost\0";
        body.extend_from_slice(&self.u16(1));
        body.extend_from_slice(&self.u16(value.len() as u16));
        body.extend_from_slice(value);
        while !body.len().is_multiple_of(4) {
            body.push(0);
        }
        body.extend_from_slice(&[0, 0, 0, 0]); // nrb_record_end
        self.block(4, &body)
    }

    /// An Interface Statistics Block for `if_id`.
    pub fn isb(&mut self, if_id: u32, ticks: u64) -> usize {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u32(if_id));
        body.extend_from_slice(&self.u32((ticks >> 32) as u32));
        body.extend_from_slice(&self.u32(ticks as u32));
        // isb_ifrecv (4), 8 bytes
        let recv = if self.be {
            1234u64.to_be_bytes()
        } else {
            1234u64.to_le_bytes()
        };
        body.extend(self.options(&[(4, recv.to_vec())]));
        self.block(5, &body)
    }
}

// ---------------------------------------------------------------------------------------
// Link layers, from an Ethernet frame

pub const ETH_HDR: usize = 14;

/// The IP packet inside an Ethernet frame.
pub fn ip_of(eth: &[u8]) -> &[u8] {
    assert!(
        eth[12..14] == [0x08, 0x00] || eth[12..14] == [0x86, 0xdd],
        "untagged IP expected"
    );
    &eth[ETH_HDR..]
}

fn ethertype(ip: &[u8]) -> [u8; 2] {
    if ip[0] >> 4 == 6 {
        [0x86, 0xdd]
    } else {
        [0x08, 0x00]
    }
}

/// Convert an Ethernet frame to another link type's framing.
pub fn reframe(linktype: u32, eth: &[u8], vlan_tags: &[[u8; 2]]) -> Vec<u8> {
    let ip = ip_of(eth);
    let et = ethertype(ip);
    let mut out = Vec::new();
    match linktype {
        LINKTYPE_ETHERNET => {
            out.extend_from_slice(&eth[..12]);
            for (i, tpid) in vlan_tags.iter().enumerate() {
                out.extend_from_slice(tpid);
                out.extend_from_slice(&(100 + i as u16).to_be_bytes()); // TCI
            }
            out.extend_from_slice(&et);
        }
        LINKTYPE_RAW | LINKTYPE_IPV4 => {}
        LINKTYPE_NULL => out.extend_from_slice(&2u32.to_le_bytes()),
        LINKTYPE_LOOP => out.extend_from_slice(&2u32.to_be_bytes()),
        LINKTYPE_LINUX_SLL => {
            out.extend_from_slice(&0u16.to_be_bytes()); // packet type: to us
            out.extend_from_slice(&772u16.to_be_bytes()); // ARPHRD_LOOPBACK
            out.extend_from_slice(&6u16.to_be_bytes()); // address length
            out.extend_from_slice(&[0; 8]);
            out.extend_from_slice(&et);
        }
        LINKTYPE_LINUX_SLL2 => {
            out.extend_from_slice(&et);
            out.extend_from_slice(&[0, 0]); // reserved
            out.extend_from_slice(&1u32.to_be_bytes()); // interface index
            out.extend_from_slice(&772u16.to_be_bytes()); // ARPHRD_LOOPBACK
            out.push(0); // packet type
            out.push(6); // address length
            out.extend_from_slice(&[0; 8]);
        }
        other => panic!("no framing for link type {other}"),
    }
    out.extend_from_slice(ip);
    out
}

/// Every packet re-framed for `linktype`, orig_len adjusted by the header size change.
pub fn reframe_all(pkts: &[Pkt], linktype: u32, vlan_tags: &[[u8; 2]]) -> Vec<Pkt> {
    pkts.iter()
        .map(|p| {
            let data = reframe(linktype, &p.data, vlan_tags);
            let orig_len = p.orig_len - p.data.len() as u32 + data.len() as u32;
            Pkt {
                ts_ns: p.ts_ns,
                linktype: linktype as i32,
                data,
                orig_len,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Sessions

fn times(s: &SessionRecord) -> Vec<(String, Option<i64>)> {
    let mut v = vec![
        ("start_time".to_string(), Some(s.start_time)),
        ("established_time".into(), s.established_time),
        ("end_time".into(), Some(s.end_time)),
        ("tcp_end_time".into(), s.tcp_end_time),
        ("last_frame_time".into(), s.last_frame_time),
        (
            "client_close.ts".into(),
            s.client_close.as_ref().map(|c| c.ts),
        ),
        (
            "server_close.ts".into(),
            s.server_close.as_ref().map(|c| c.ts),
        ),
    ];
    for (i, (_, c)) in s.closes.iter().enumerate() {
        v.push((format!("closes[{i}].ts"), Some(c.ts)));
    }
    v
}

fn set_times_from(dst: &mut SessionRecord, src: &SessionRecord) {
    dst.start_time = src.start_time;
    dst.established_time = src.established_time;
    dst.end_time = src.end_time;
    dst.tcp_end_time = src.tcp_end_time;
    dst.last_frame_time = src.last_frame_time;
    if let (Some(d), Some(s)) = (dst.client_close.as_mut(), src.client_close.as_ref()) {
        d.ts = s.ts;
    }
    if let (Some(d), Some(s)) = (dst.server_close.as_mut(), src.server_close.as_ref()) {
        d.ts = s.ts;
    }
    for ((_, d), (_, s)) in dst.closes.iter_mut().zip(src.closes.iter()) {
        d.ts = s.ts;
    }
}

/// The record without the names that depend on the file it came from.
pub fn unnamed(s: &SessionRecord) -> SessionRecord {
    let mut s = s.clone();
    s.capture = String::new();
    s.session_id = String::new();
    s
}

/// Whether two sessions are the same, field by field, times within `tol_ns`.
pub fn same_session(want: &SessionRecord, got: &SessionRecord, tol_ns: i64) -> Result<(), String> {
    let (tw, tg) = (times(want), times(got));
    if tw.len() != tg.len() {
        return Err(format!(
            "{}: {} close frames, expected {}",
            want.client,
            got.closes.len(),
            want.closes.len()
        ));
    }
    for ((name, a), (_, b)) in tw.iter().zip(tg.iter()) {
        let ok = match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => (a - b).abs() <= tol_ns,
            _ => false,
        };
        if !ok {
            return Err(format!(
                "{}: {name} {b:?}, expected {a:?} (tolerance {tol_ns} ns)",
                want.client
            ));
        }
    }
    let w = unnamed(want);
    let mut g = unnamed(got);
    set_times_from(&mut g, &w);
    if w != g {
        let (dw, dg) = (format!("{w:#?}"), format!("{g:#?}"));
        let diff: Vec<String> = dw
            .lines()
            .zip(dg.lines())
            .filter(|(a, b)| a != b)
            .map(|(a, b)| format!("expected {} / got {}", a.trim(), b.trim()))
            .take(5)
            .collect();
        return Err(format!("{}: {}", want.client, diff.join("; ")));
    }
    Ok(())
}

/// Whether two session lists are the same (matched by client and server address).
pub fn same_sessions(
    want: &[SessionRecord],
    got: &[SessionRecord],
    tol_ns: i64,
) -> Result<(), String> {
    let mut errs = Vec::new();
    if want.len() != got.len() {
        errs.push(format!("{} sessions, expected {}", got.len(), want.len()));
    }
    for w in want {
        match got
            .iter()
            .find(|g| g.client == w.client && g.server == w.server)
        {
            None => errs.push(format!("session {} -> {} missing", w.client, w.server)),
            Some(g) => {
                if let Err(e) = same_session(w, g, tol_ns) {
                    errs.push(e);
                }
            }
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs.join("\n"))
    }
}

// ---------------------------------------------------------------------------------------
// The capture as the wire shows it, read without wsaudit (expected values for tests)
//
// A small pcap / pcapng reader of its own (Ethernet, Linux cooked v1/v2, raw IP, BSD
// loopback; IPv4 and IPv6 without extension headers; TCP), so that facts about a fixture
// (who sent the first FIN or RST, which packets the snaplen cut, which bytes are missing,
// when a connection started) come from the file itself, not from the code under test.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

/// One TCP segment of a capture.
#[derive(Debug, Clone)]
pub struct WireSeg {
    pub ts_ns: i64,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
    /// TCP payload length on the wire (from the IP header's length field).
    pub payload_len: u32,
    /// The payload bytes the capture kept (a prefix of the payload when cut).
    pub captured: Vec<u8>,
    /// The packet was cut by the snaplen (captured length < length on the wire).
    pub cut: bool,
}

/// Every TCP segment of a capture, the snaplen of each interface, and the time of the
/// first and last packet (of any kind).
#[derive(Debug, Default)]
pub struct Wire {
    pub snaplens: Vec<u32>,
    pub segs: Vec<WireSeg>,
    pub first_ts: i64,
    pub last_ts: i64,
}

fn rd16(b: &[u8], be: bool) -> u16 {
    let a = [b[0], b[1]];
    if be {
        u16::from_be_bytes(a)
    } else {
        u16::from_le_bytes(a)
    }
}

fn rd32(b: &[u8], be: bool) -> u32 {
    let a = [b[0], b[1], b[2], b[3]];
    if be {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}

/// The IP packet inside a link-layer frame, if it carries one.
fn wire_ip(linktype: u32, f: &[u8]) -> Option<&[u8]> {
    let ip_after_ethertype = |et: u16, rest: &[u8]| -> Option<usize> {
        (et == 0x0800 || et == 0x86dd).then_some(f.len() - rest.len())
    };
    let start = match linktype {
        1 => {
            let mut off = 12;
            let mut et = u16::from_be_bytes([f[off], f[off + 1]]);
            while et == 0x8100 || et == 0x88a8 {
                off += 4;
                et = u16::from_be_bytes([f[off], f[off + 1]]);
            }
            ip_after_ethertype(et, &f[off + 2..])?
        }
        113 => ip_after_ethertype(u16::from_be_bytes([f[14], f[15]]), &f[16..])?,
        276 => ip_after_ethertype(u16::from_be_bytes([f[0], f[1]]), &f[20..])?,
        0 | 108 => 4,
        101 | 228 | 229 => 0,
        other => panic!("wire reader: link type {other} not supported"),
    };
    Some(&f[start..])
}

/// The TCP segment in an IP packet (captured bytes only; `cut` when caplen < len).
fn wire_tcp(ts_ns: i64, ip: &[u8], cut: bool) -> Option<WireSeg> {
    let (src_ip, dst_ip, tcp_off, ip_payload_len): (IpAddr, IpAddr, usize, usize) = match ip[0] >> 4
    {
        4 => {
            if ip[9] != 6 {
                return None;
            }
            let ihl = (ip[0] & 0x0f) as usize * 4;
            let total = u16::from_be_bytes([ip[2], ip[3]]) as usize;
            let s: [u8; 4] = ip[12..16].try_into().unwrap();
            let d: [u8; 4] = ip[16..20].try_into().unwrap();
            (s.into(), d.into(), ihl, total - ihl)
        }
        6 => {
            if ip[6] != 6 {
                return None;
            }
            let plen = u16::from_be_bytes([ip[4], ip[5]]) as usize;
            let s: [u8; 16] = ip[8..24].try_into().unwrap();
            let d: [u8; 16] = ip[24..40].try_into().unwrap();
            (s.into(), d.into(), 40, plen)
        }
        _ => return None,
    };
    let t = &ip[tcp_off..];
    let sport = u16::from_be_bytes([t[0], t[1]]);
    let dport = u16::from_be_bytes([t[2], t[3]]);
    let seq = u32::from_be_bytes([t[4], t[5], t[6], t[7]]);
    let hlen = (t[12] >> 4) as usize * 4;
    let flags = t[13];
    let payload_len = (ip_payload_len - hlen) as u32;
    let kept = ip
        .len()
        .saturating_sub(tcp_off + hlen)
        .min(payload_len as usize);
    let captured = t.get(hlen..hlen + kept).unwrap_or(&[]).to_vec();
    Some(WireSeg {
        ts_ns,
        src: SocketAddr::new(src_ip, sport),
        dst: SocketAddr::new(dst_ip, dport),
        seq,
        syn: flags & 0x02 != 0,
        ack: flags & 0x10 != 0,
        fin: flags & 0x01 != 0,
        rst: flags & 0x04 != 0,
        payload_len,
        captured,
        cut,
    })
}

/// Read a pcap or pcapng file (uncompressed) without wsaudit.
pub fn read_wire(path: &Path) -> Wire {
    let b = std::fs::read(path).unwrap();
    let mut w = Wire {
        first_ts: i64::MAX,
        last_ts: i64::MIN,
        ..Wire::default()
    };
    let push = |w: &mut Wire, linktype: u32, ts_ns: i64, data: &[u8], orig_len: u32| {
        w.first_ts = w.first_ts.min(ts_ns);
        w.last_ts = w.last_ts.max(ts_ns);
        if let Some(ip) = wire_ip(linktype, data) {
            if let Some(s) = wire_tcp(ts_ns, ip, (data.len() as u32) < orig_len) {
                w.segs.push(s);
            }
        }
    };
    let magic = u32::from_le_bytes(b[0..4].try_into().unwrap());
    if magic == 0x0a0d_0d0a {
        // pcapng: (linktype, ticks per second) per interface of the current section.
        let mut ifaces: Vec<(u32, u64)> = Vec::new();
        let mut be = false;
        let mut off = 0;
        while off + 12 <= b.len() {
            let btype = rd32(&b[off..], be);
            if btype == 0x0a0d_0d0a {
                be = b[off + 8..off + 12] == [0x1a, 0x2b, 0x3c, 0x4d];
                ifaces.clear();
            }
            let len = rd32(&b[off + 4..], be) as usize;
            let body = &b[off + 8..off + len - 4];
            match btype {
                1 => {
                    let linktype = rd16(body, be) as u32;
                    w.snaplens.push(rd32(&body[4..], be));
                    let mut tps = 1_000_000u64;
                    let mut o = 8;
                    while o + 4 <= body.len() {
                        let (code, olen) =
                            (rd16(&body[o..], be), rd16(&body[o + 2..], be) as usize);
                        if code == 0 {
                            break;
                        }
                        if code == 9 {
                            let v = body[o + 4];
                            tps = if v & 0x80 != 0 {
                                1u64 << (v & 0x7f)
                            } else {
                                10u64.pow(v as u32)
                            };
                        }
                        o += 4 + olen.div_ceil(4) * 4;
                    }
                    ifaces.push((linktype, tps));
                }
                6 => {
                    let (linktype, tps) = ifaces[rd32(body, be) as usize];
                    let ticks = ((rd32(&body[4..], be) as u64) << 32) | rd32(&body[8..], be) as u64;
                    let caplen = rd32(&body[12..], be) as usize;
                    let orig = rd32(&body[16..], be);
                    let ts = (ticks as u128 * 1_000_000_000 / tps as u128) as i64;
                    push(&mut w, linktype, ts, &body[20..20 + caplen], orig);
                }
                3 => panic!("wire reader: simple packet blocks not supported"),
                _ => {}
            }
            off += len;
        }
    } else {
        let (be, nanos) = match magic {
            0xa1b2_c3d4 => (false, false),
            0xa1b2_3c4d => (false, true),
            0xd4c3_b2a1 => (true, false),
            0x4d3c_b2a1 => (true, true),
            m => panic!("{}: not a capture (magic {m:#x})", path.display()),
        };
        w.snaplens.push(rd32(&b[16..], be));
        let linktype = rd32(&b[20..], be) & 0x0fff_ffff;
        let mut off = 24;
        while off + 16 <= b.len() {
            let secs = rd32(&b[off..], be) as i64;
            let frac = rd32(&b[off + 4..], be) as i64;
            let caplen = rd32(&b[off + 8..], be) as usize;
            let orig = rd32(&b[off + 12..], be);
            let ts = secs * 1_000_000_000 + if nanos { frac } else { frac * 1000 };
            push(&mut w, linktype, ts, &b[off + 16..off + 16 + caplen], orig);
            off += 16 + caplen;
        }
    }
    w
}

/// One direction of a TCP connection as captured: which stream bytes the file holds.
#[derive(Debug, Clone, Default)]
pub struct WireStream {
    /// `bytes[i]` is byte `i` of the stream (after the SYN), `None` if not captured.
    pub bytes: Vec<Option<u8>>,
    /// Stream length on the wire (up to the FIN or the last segment seen).
    pub len: usize,
    /// Stream offsets at which a segment with payload started.
    pub starts: std::collections::BTreeSet<usize>,
}

impl WireStream {
    /// Whether every byte the sender sent (as far as the capture tells) is in the file.
    pub fn complete(&self) -> bool {
        self.bytes.len() >= self.len && self.bytes[..self.len].iter().all(|b| b.is_some())
    }

    /// The captured bytes from `from` up to the first byte not captured.
    pub fn run_from(&self, from: usize) -> Vec<u8> {
        self.bytes
            .get(from..)
            .unwrap_or(&[])
            .iter()
            .map_while(|b| *b)
            .collect()
    }
}

/// One TCP connection of a capture, seen without wsaudit.
#[derive(Debug, Clone)]
pub struct WireConn {
    /// The side that sent the SYN (or, without one, the first packet).
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub syn_seen: bool,
    /// First packet of the connection.
    pub start_ts: i64,
    /// Last packet of the connection.
    pub last_ts: i64,
    /// Last packet that carried payload (either side).
    pub last_payload_ts: Option<i64>,
    /// The first FIN or RST: (sent by the client, is RST, time).
    pub first_end: Option<(bool, bool, i64)>,
    /// Some packet of the connection was cut by the snaplen.
    pub cut: bool,
    /// Client-to-server and server-to-client bytes.
    pub streams: [WireStream; 2],
}

impl WireConn {
    /// `client_fin`, `server_fin`, `client_rst`, `server_rst` or `none`.
    pub fn tcp_end(&self) -> &'static str {
        match self.first_end {
            None => "none",
            Some((true, false, _)) => "client_fin",
            Some((false, false, _)) => "server_fin",
            Some((true, true, _)) => "client_rst",
            Some((false, true, _)) => "server_rst",
        }
    }

    /// When TCP ended (first FIN or RST), else the last packet.
    pub fn end_ts(&self) -> i64 {
        self.first_end.map_or(self.last_ts, |(_, _, t)| t)
    }
}

/// The TCP connections of a capture, in order of their first packet (a 4-tuple that
/// starts again with a new SYN is a new connection).
pub fn wire_conns(w: &Wire) -> Vec<WireConn> {
    let mut conns: Vec<WireConn> = Vec::new();
    let mut by_pair: BTreeMap<(SocketAddr, SocketAddr), usize> = BTreeMap::new();
    // Initial sequence number per direction: (conn index, from client) -> isn + 1.
    let mut base: BTreeMap<(usize, bool), u32> = BTreeMap::new();
    for s in &w.segs {
        let key = if s.src < s.dst {
            (s.src, s.dst)
        } else {
            (s.dst, s.src)
        };
        let new_syn = s.syn && !s.ack;
        let i = match by_pair.get(&key) {
            Some(&i) if !(new_syn && conns[i].first_end.is_some()) => i,
            _ => {
                let (client, server) = if !s.syn || !s.ack {
                    (s.src, s.dst)
                } else {
                    (s.dst, s.src)
                };
                conns.push(WireConn {
                    client,
                    server,
                    syn_seen: s.syn,
                    start_ts: s.ts_ns,
                    last_ts: s.ts_ns,
                    last_payload_ts: None,
                    first_end: None,
                    cut: false,
                    streams: Default::default(),
                });
                by_pair.insert(key, conns.len() - 1);
                conns.len() - 1
            }
        };
        let c = &mut conns[i];
        let from_client = s.src == c.client;
        c.last_ts = s.ts_ns;
        c.cut |= s.cut;
        if s.payload_len > 0 {
            c.last_payload_ts = Some(s.ts_ns);
        }
        if (s.fin || s.rst) && c.first_end.is_none() {
            c.first_end = Some((from_client, s.rst, s.ts_ns));
        }
        let b = *base
            .entry((i, from_client))
            .or_insert(s.seq.wrapping_add(s.syn as u32));
        let at = s.seq.wrapping_add(s.syn as u32).wrapping_sub(b) as usize;
        if at > 1 << 30 {
            continue; // before the first sequence number seen (no SYN captured)
        }
        if s.payload_len == 0 && !s.fin {
            continue; // a bare ACK or RST says nothing about the stream's length
        }
        let st = &mut c.streams[usize::from(!from_client)];
        let end = at + s.payload_len as usize;
        if st.bytes.len() < end {
            st.bytes.resize(end, None);
        }
        for (k, byte) in s.captured.iter().enumerate() {
            st.bytes[at + k] = Some(*byte);
        }
        if s.payload_len > 0 {
            st.starts.insert(at);
        }
        st.len = st.len.max(end);
    }
    conns
}

/// The connection between `client` and `server` (addresses as wsaudit prints them).
pub fn wire_conn<'a>(conns: &'a [WireConn], client: &str, server: &str) -> Option<&'a WireConn> {
    conns
        .iter()
        .find(|c| c.client.to_string() == client && c.server.to_string() == server)
}

/// Linear-interpolation quantile (`q` in 0..=1) of unsorted values; NaN when empty.
pub fn quantile_linear(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pos = q * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// Whether the tests run under CI (`CI` set, as CI services and `.ci/run` do, and not
/// `0` or `false`): there a missing corpus or tool is a failure, not a skip.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// Say `SKIP: <why>` where CI's log shows it (the stderr handle, not `eprintln!`: the
/// test harness captures the print macros of passing tests).
pub fn skip(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIP: {why}");
}
