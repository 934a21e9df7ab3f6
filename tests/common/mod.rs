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
