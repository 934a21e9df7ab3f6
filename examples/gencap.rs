//! gencap: writes big, realistic benchmark captures from the real fixture sessions.
//!
//! ```text
//! cargo run --release --example gencap -- --profile mixed|small --size 1GiB --seed 42 \
//!     --out /work/bench-data/mixed-1g.pcap [--fixtures fixtures] [--open 400]
//! ```
//!
//! How it works (details in `benches/README.md`):
//!
//! 1. Every TCP connection of the real fixture captures (`fixtures/*.pcap*`, except the
//!    snaplen one) becomes a *template*: its packets (IP and TCP headers and payload as
//!    captured, per-packet time offsets, sequence numbers relative to each side's ISN) and
//!    its known outcome from the fixture's truth file (the libraries' own report): a
//!    WebSocket session with an ending and close code, a refused upgrade with its status,
//!    or plain HTTP.
//! 2. In templates whose TCP streams are clean (no retransmission, no gap) a *splice
//!    point* is found: the last packet boundary, before any Close frame, FIN or RST, where
//!    both directions are at a WebSocket frame boundary. Generated data messages are
//!    inserted there (binary frames, masked from the client, split into segments of the
//!    connection's MSS, with receiver ACKs); everything after the splice point is shifted
//!    in sequence space and time, so the real handshake and the real close sequence stay
//!    byte-identical and consistent.
//! 3. Connections are replicated with fresh addresses (IPv4 10.a.b.c clients, IPv6 fd00::
//!    clients for IPv6 templates), fresh client ports and fresh ISNs (seq, ack and SACK
//!    edges rewritten per direction), Ethernet framing, and correct IPv4 header and TCP
//!    checksums, then merged in time order with `--open` connections open at once
//!    (a closed loop: each finished connection is replaced by a new one).
//! 4. `<out>.expected.json` holds what wsaudit must report: sessions per ending and per
//!    close code, refused upgrades per status, packets and bytes.
//!
//! Seeded and repeatable: the same seed and build write a byte-identical file.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::io::{BufWriter, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use pcap_parser::Linktype;

// ---------------------------------------------------------------------------------------
// Deterministic RNG (SplitMix64): no dependency whose stream could change between versions.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn log_uniform(&mut self, lo: u64, hi: u64) -> u64 {
        let v = lo as f64 * (hi as f64 / lo as f64).powf(self.unit());
        (v as u64).clamp(lo, hi)
    }
    /// Exponential with the given mean, in nanoseconds.
    fn exp_ns(&mut self, mean_ns: f64) -> i64 {
        (-(1.0 - self.unit()).ln() * mean_ns) as i64
    }
}

// ---------------------------------------------------------------------------------------
// Arguments

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Profile {
    Mixed,
    Small,
    /// The TLS fixtures (`fixtures/tls`, HTTP/1.1 over TLS 1.3 and 1.2) replayed as they
    /// are (no messages inserted: they are encrypted), with the key logs they came with
    /// written to `<out>.keys`.
    Wss,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Mixed => "mixed",
            Profile::Small => "small",
            Profile::Wss => "wss",
        }
    }
}

/// What to generate.
pub struct Args {
    pub profile: Profile,
    /// Stop starting new connections once this many bytes are written.
    pub size: u64,
    pub seed: u64,
    pub out: PathBuf,
    pub fixtures: PathBuf,
    /// Connections open at once (0: the profile's default).
    pub open: usize,
}

impl Args {
    pub fn new(profile: Profile, size: u64, seed: u64, out: PathBuf) -> Args {
        Args {
            profile,
            size,
            seed,
            out,
            fixtures: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures")),
            open: 0,
        }
    }
}

pub fn parse_size(s: &str) -> Result<u64> {
    let s = s.trim();
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num
        .trim()
        .parse()
        .with_context(|| format!("bad size {s:?}"))?;
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => bail!("bad size unit in {s:?} (use KiB, MiB, GiB, KB, MB, GB)"),
    };
    Ok((num * mult as f64) as u64)
}

fn parse_args() -> Result<Args> {
    let mut a = Args::new(Profile::Mixed, 1 << 30, 42, PathBuf::from("bench.pcap"));
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().ok_or_else(|| anyhow!("{k} needs a value"));
        match k.as_str() {
            "--profile" => {
                a.profile = match v()?.as_str() {
                    "mixed" => Profile::Mixed,
                    "small" => Profile::Small,
                    "wss" => Profile::Wss,
                    p => bail!("unknown profile {p:?} (mixed, small or wss)"),
                }
            }
            "--size" => a.size = parse_size(&v()?)?,
            "--seed" => a.seed = v()?.parse()?,
            "--out" => a.out = PathBuf::from(v()?),
            "--fixtures" => a.fixtures = PathBuf::from(v()?),
            "--open" => a.open = v()?.parse()?,
            "-h" | "--help" => {
                println!(
                    "gencap --profile mixed|small|wss --size 1GiB --seed 42 --out FILE.pcap \
                     [--fixtures DIR] [--open N]"
                );
                std::process::exit(0);
            }
            _ => bail!("unknown argument {k:?}"),
        }
    }
    Ok(a)
}

// ---------------------------------------------------------------------------------------
// Templates

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

/// One packet of a template: the IP packet as captured plus parsed offsets.
struct TPkt {
    dir: u8, // 0 client->server, 1 server->client
    t: i64,  // ns since the connection's first packet
    bytes: Vec<u8>,
    tcp_off: usize,
    pay_off: usize,
    seq_rel: u32,
    ack_rel: u32,
    flags: u8,
    /// Byte offset (in `bytes`) of the first SACK edge and number of blocks.
    sack: Option<(usize, usize)>,
}

impl TPkt {
    fn payload_len(&self) -> usize {
        self.bytes.len() - self.pay_off
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Ws { ending: String, code: Option<u16> },
    Refused(u16),
    Plain,
}

struct Template {
    name: String,
    kind: Kind,
    v6: bool,
    server_port: u16,
    /// Index of the server address (one per fixture file and server IP).
    server_no: u8,
    pkts: Vec<TPkt>,
    /// Insert generated data before packet `cut` (clean WebSocket templates only).
    cut: Option<usize>,
    /// Packets whose IP+TCP headers are copied for generated packets, per direction.
    hdr_src: [usize; 2],
    /// Original ISNs (client, server), to rewrite SACK edges.
    isn: [u32; 2],
}

struct Captured {
    ts: i64,
    ip: Vec<u8>,
    v6: bool,
    src: SocketAddr,
    dst: SocketAddr,
    tcp_off: usize,
    pay_off: usize,
    seq: u32,
    ack: u32,
    flags: u8,
    sack: Option<(usize, usize)>,
}

fn ip_offset(lt: Linktype, d: &[u8]) -> Option<usize> {
    let off = match lt {
        Linktype::ETHERNET => {
            let mut off = 12;
            let mut et = u16::from_be_bytes([*d.get(off)?, *d.get(off + 1)?]);
            while et == 0x8100 || et == 0x88a8 {
                off += 4;
                et = u16::from_be_bytes([*d.get(off)?, *d.get(off + 1)?]);
            }
            off + 2
        }
        Linktype::LINUX_SLL => 16,
        Linktype::LINUX_SLL2 => 20,
        Linktype::NULL | Linktype::LOOP => 4,
        Linktype::RAW | Linktype::IPV4 | Linktype::IPV6 => 0,
        _ => return None,
    };
    (d.len() > off).then_some(off)
}

fn parse_captured(ts: i64, lt: Linktype, data: &[u8], orig_len: u32) -> Option<Captured> {
    if (data.len() as u32) < orig_len {
        return None; // snaplen-cut: not a usable template packet
    }
    let off = ip_offset(lt, data)?;
    let d = &data[off..];
    let (v6, ip_hlen, total, src_ip, dst_ip) = match d[0] >> 4 {
        4 => {
            let ihl = (d[0] & 15) as usize * 4;
            let total = u16::from_be_bytes([d[2], d[3]]) as usize;
            let frag = u16::from_be_bytes([d[6], d[7]]);
            if d[9] != 6 || frag & 0x3fff != 0 || total > d.len() || ihl < 20 {
                return None;
            }
            let s: [u8; 4] = d[12..16].try_into().ok()?;
            let t: [u8; 4] = d[16..20].try_into().ok()?;
            (false, ihl, total, IpAddr::from(s), IpAddr::from(t))
        }
        6 => {
            if d.len() < 40 || d[6] != 6 {
                return None; // extension headers: not used by the fixtures
            }
            let total = 40 + u16::from_be_bytes([d[4], d[5]]) as usize;
            if total > d.len() {
                return None;
            }
            let s: [u8; 16] = d[8..24].try_into().ok()?;
            let t: [u8; 16] = d[24..40].try_into().ok()?;
            (true, 40, total, IpAddr::from(s), IpAddr::from(t))
        }
        _ => return None,
    };
    let ip = d[..total].to_vec();
    let tcp = &ip[ip_hlen..];
    if tcp.len() < 20 {
        return None;
    }
    let thl = (tcp[12] >> 4) as usize * 4;
    if thl < 20 || thl > tcp.len() {
        return None;
    }
    // SACK option (kind 5), if any.
    let mut sack = None;
    let mut o = 20;
    while o < thl {
        match tcp[o] {
            0 => break,
            1 => o += 1,
            kind => {
                let Some(&len) = tcp.get(o + 1) else { break };
                let len = len as usize;
                if len < 2 || o + len > thl {
                    break;
                }
                if kind == 5 && len >= 10 {
                    sack = Some((ip_hlen + o + 2, (len - 2) / 8));
                }
                o += len;
            }
        }
    }
    Some(Captured {
        ts,
        v6,
        src: SocketAddr::new(src_ip, u16::from_be_bytes([tcp[0], tcp[1]])),
        dst: SocketAddr::new(dst_ip, u16::from_be_bytes([tcp[2], tcp[3]])),
        seq: u32::from_be_bytes(tcp[4..8].try_into().unwrap()),
        ack: u32::from_be_bytes(tcp[8..12].try_into().unwrap()),
        flags: tcp[13],
        tcp_off: ip_hlen,
        pay_off: ip_hlen + thl,
        sack,
        ip,
    })
}

#[derive(serde::Deserialize)]
struct Truth {
    sessions: Vec<TruthSession>,
    #[serde(default)]
    refused: Vec<TruthRefused>,
}

#[derive(serde::Deserialize)]
struct TruthSession {
    client: String,
    server: String,
    expected_ending: String,
    expected_close_code: Option<u16>,
    /// TLS fixtures: false for a suite wsaudit does not decrypt (the session is then
    /// `undecrypted`).
    #[serde(default)]
    decryptable: Option<bool>,
}

#[derive(serde::Deserialize)]
struct TruthRefused {
    client: String,
    server: String,
    status: u16,
}

/// Fixtures used as templates: every real capture except the snaplen one (its packets
/// are cut, so its sessions could not be replayed with consistent lengths).
const FIXTURES: &[&str] = &[
    "ws_python.pcap",
    "ws_node.pcap",
    "ws_aiohttp.pcap",
    "ws_restart.pcap",
    "ws_cut.pcap",
    "demo.pcap",
    "ws_chromium.pcap",
    "ws_lossy.pcap",
    "ws_ipv6_sll2.pcapng",
    "ws_sll.pcap",
];

/// The `wss` profile's templates: the HTTP/1.1-over-TLS fixtures with their key logs.
const FIXTURES_WSS: &[&str] = &[
    "tls/wss_py13.pcap",
    "tls/wss_py13_aes128.pcap",
    "tls/wss_py13_chacha.pcap",
    "tls/wss_py12.pcap",
    "tls/wss_node.pcap",
];

fn load_templates(dir: &Path, files: &[&str]) -> Result<Vec<Template>> {
    let mut out = Vec::new();
    let mut server_nos: HashMap<(String, IpAddr), u8> = HashMap::new();
    for file in files {
        let path = dir.join(file);
        let stem = file.split('.').next().unwrap();
        let truth: Truth = serde_json::from_slice(
            &std::fs::read(dir.join(format!("{stem}.truth.json")))
                .with_context(|| format!("reading the truth of {file}"))?,
        )?;
        let mut pkts: Vec<Captured> = Vec::new();
        let summary = wsaudit::capture::read_file(&path, |p| {
            if let Some(c) = parse_captured(p.ts_ns, p.linktype, p.data, p.orig_len) {
                pkts.push(c);
            }
        })
        .with_context(|| format!("reading {}", path.display()))?;
        if summary.failed() {
            bail!("{}: {:?}", path.display(), summary.errors);
        }
        // Group into connections: a SYN (without ACK) for a pair whose connection already
        // ended (FIN/RST) or started with another ISN begins a new one.
        type Pair = (SocketAddr, SocketAddr);
        struct Conn {
            client: Option<SocketAddr>,
            syn_seq: Option<u32>,
            ended: bool,
            pkts: Vec<Captured>,
        }
        let mut conns: Vec<Conn> = Vec::new();
        let mut live: HashMap<Pair, usize> = HashMap::new();
        for c in pkts {
            let key = if c.src < c.dst {
                (c.src, c.dst)
            } else {
                (c.dst, c.src)
            };
            let is_syn = c.flags & SYN != 0 && c.flags & ACK == 0;
            let idx = match live.get(&key) {
                Some(&i) if !(is_syn && (conns[i].ended || conns[i].syn_seq != Some(c.seq))) => i,
                _ => {
                    conns.push(Conn {
                        client: None,
                        syn_seq: None,
                        ended: false,
                        pkts: Vec::new(),
                    });
                    live.insert(key, conns.len() - 1);
                    conns.len() - 1
                }
            };
            let conn = &mut conns[idx];
            if is_syn && conn.client.is_none() {
                conn.client = Some(c.src);
                conn.syn_seq = Some(c.seq);
            }
            if c.flags & (FIN | RST) != 0 {
                conn.ended = true;
            }
            conn.pkts.push(c);
        }
        let mut sessions: Vec<(SocketAddr, SocketAddr, Kind, bool)> = Vec::new();
        for s in &truth.sessions {
            sessions.push((
                s.client.parse()?,
                s.server.parse()?,
                if s.decryptable == Some(false) {
                    Kind::Ws {
                        ending: "undecrypted".into(),
                        code: None,
                    }
                } else {
                    Kind::Ws {
                        ending: s.expected_ending.clone(),
                        code: s.expected_close_code,
                    }
                },
                false,
            ));
        }
        for r in &truth.refused {
            sessions.push((
                r.client.parse()?,
                r.server.parse()?,
                Kind::Refused(r.status),
                false,
            ));
        }
        for conn in conns {
            let Some(client) = conn.client else { continue };
            if conn.pkts[0].flags & SYN == 0 {
                continue;
            }
            let server = if conn.pkts[0].src == client {
                conn.pkts[0].dst
            } else {
                conn.pkts[0].src
            };
            let kind = match sessions
                .iter_mut()
                .find(|(c, s, _, used)| !*used && *c == client && *s == server)
            {
                Some(m) => {
                    m.3 = true;
                    m.2.clone()
                }
                None => Kind::Plain,
            };
            let n = server_nos.len() as u8;
            let server_no = *server_nos
                .entry((stem.to_string(), server.ip()))
                .or_insert(n);
            out.push(build_template(
                format!("{stem}:{client}"),
                kind,
                client,
                server,
                server_no,
                conn.pkts,
            ));
        }
        if let Some((c, s, k, _)) = sessions.iter().find(|x| !x.3) {
            eprintln!("gencap: warning: {file}: no connection for truth entry {c} -> {s} ({k:?})");
        }
    }
    Ok(out)
}

fn build_template(
    name: String,
    kind: Kind,
    client: SocketAddr,
    server: SocketAddr,
    server_no: u8,
    caps: Vec<Captured>,
) -> Template {
    let t0 = caps[0].ts;
    let v6 = caps[0].v6;
    let mut isn = [caps[0].seq, 0u32];
    let mut have_server_isn = false;
    for c in &caps {
        if c.src == server && !have_server_isn {
            isn[1] = c.seq.wrapping_sub((c.flags & SYN == 0) as u32);
            have_server_isn = true;
        }
    }
    isn[0] = caps
        .iter()
        .find(|c| c.src == client && c.flags & SYN != 0)
        .map_or(caps[0].seq, |c| c.seq);
    let pkts: Vec<TPkt> = caps
        .into_iter()
        .map(|c| {
            let dir = (c.src != client) as u8;
            TPkt {
                dir,
                t: c.ts - t0,
                seq_rel: c.seq.wrapping_sub(isn[dir as usize]),
                ack_rel: if c.flags & ACK != 0 {
                    c.ack.wrapping_sub(isn[1 - dir as usize])
                } else {
                    0
                },
                flags: c.flags,
                tcp_off: c.tcp_off,
                pay_off: c.pay_off,
                sack: c.sack,
                bytes: c.ip,
            }
        })
        .collect();
    let mut tpl = Template {
        name,
        v6,
        server_port: server.port(),
        server_no,
        pkts,
        cut: None,
        hdr_src: [0, 0],
        isn,
        kind,
    };
    if matches!(tpl.kind, Kind::Ws { .. }) {
        find_cut(&mut tpl);
    }
    tpl
}

/// Frame starts (and the end of the last complete frame) after `from`, and the offset of
/// the first Close frame.
fn frame_boundaries(stream: &[u8], from: usize) -> (Vec<usize>, usize) {
    let mut b = vec![from];
    let mut p = from;
    let mut first_close = stream.len();
    while p + 2 <= stream.len() {
        let op = stream[p] & 0x0f;
        let masked = stream[p + 1] & 0x80 != 0;
        let l7 = (stream[p + 1] & 0x7f) as usize;
        let mut h = 2;
        let len = match l7 {
            126 => {
                h += 2;
                if p + 4 > stream.len() {
                    break;
                }
                u16::from_be_bytes([stream[p + 2], stream[p + 3]]) as usize
            }
            127 => {
                h += 8;
                if p + 10 > stream.len() {
                    break;
                }
                u64::from_be_bytes(stream[p + 2..p + 10].try_into().unwrap()) as usize
            }
            l => l,
        };
        if masked {
            h += 4;
        }
        if op == 8 && first_close == stream.len() {
            first_close = p;
        }
        if p + h + len > stream.len() {
            break;
        }
        p += h + len;
        b.push(p);
    }
    (b, first_close)
}

fn find_cut(tpl: &mut Template) {
    // Clean streams only: every payload byte sent once, in order.
    let mut next = [1u32, 1u32];
    let mut streams: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    for p in &tpl.pkts {
        let d = p.dir as usize;
        if p.flags & SYN != 0 {
            if p.seq_rel != 0 {
                return;
            }
            continue;
        }
        let len = p.payload_len() as u32;
        if len > 0 && p.seq_rel != next[d] {
            return;
        }
        if len == 0 && p.seq_rel != next[d] && p.flags & RST == 0 {
            return; // keep-alive or retransmitted FIN
        }
        next[d] = next[d].wrapping_add(len);
        streams[d].extend_from_slice(&p.bytes[p.pay_off..]);
        if p.flags & FIN != 0 {
            next[d] = next[d].wrapping_add(1);
        }
    }
    let http_end = |s: &[u8]| s.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
    let (Some(he0), Some(he1)) = (http_end(&streams[0]), http_end(&streams[1])) else {
        return;
    };
    if !streams[1].starts_with(b"HTTP/1.1 101") {
        return;
    }
    let (b0, c0) = frame_boundaries(&streams[0], he0);
    let (b1, c1) = frame_boundaries(&streams[1], he1);
    let mut pos = [0usize, 0usize];
    let mut best = None;
    for (i, p) in tpl.pkts.iter().enumerate() {
        // Cut before packet i?
        if pos[0] >= he0
            && pos[1] >= he1
            && pos[0] <= c0
            && pos[1] <= c1
            && b0.binary_search(&pos[0]).is_ok()
            && b1.binary_search(&pos[1]).is_ok()
        {
            best = Some(i);
        }
        if p.flags & (FIN | RST) != 0 {
            break;
        }
        pos[p.dir as usize] += p.payload_len();
        if i + 1 == tpl.pkts.len()
            && pos[0] <= c0
            && pos[1] <= c1
            && b0.binary_search(&pos[0]).is_ok()
            && b1.binary_search(&pos[1]).is_ok()
        {
            best = Some(i + 1);
        }
    }
    let Some(cut) = best else { return };
    let mut src = [None, None];
    for (i, p) in tpl.pkts[..cut].iter().enumerate() {
        if p.flags & ACK != 0 && p.flags & SYN == 0 {
            src[p.dir as usize] = Some(i);
        }
    }
    if let [Some(a), Some(b)] = src {
        tpl.cut = Some(cut);
        tpl.hdr_src = [a, b];
    }
}

// ---------------------------------------------------------------------------------------
// Connection plans

#[derive(Clone, Copy, PartialEq, Eq)]
enum EvKind {
    Tpl,
    Data,
    Ack,
}

/// One packet of a planned connection.
#[derive(Clone, Copy)]
struct Ev {
    t: i64,
    kind: EvKind,
    dir: u8,
    /// Template packet index (Tpl) or header source (Data/Ack).
    idx: u32,
    /// Sequence and acknowledgment numbers relative to each side's ISN.
    seq: u32,
    ack: u32,
    /// Tpl: after the splice point (SACK edges shift too).
    after: bool,
    hdr_len: u8,
    hdr: [u8; 14],
    key: [u8; 4],
    body_off: u32,
    body_len: u32,
    /// Offset of this segment's body bytes within the message body (mask phase).
    body_pos: u32,
}

impl Ev {
    fn new(t: i64, kind: EvKind, dir: u8, idx: usize, seq: u32, ack: u32) -> Ev {
        Ev {
            t,
            kind,
            dir,
            idx: idx as u32,
            seq,
            ack,
            after: false,
            hdr_len: 0,
            hdr: [0; 14],
            key: [0; 4],
            body_off: 0,
            body_len: 0,
            body_pos: 0,
        }
    }
}

fn frame_header(opcode: u8, len: usize, key: Option<[u8; 4]>) -> ([u8; 14], u8) {
    let mut h = [0u8; 14];
    h[0] = 0x80 | opcode;
    let m = if key.is_some() { 0x80 } else { 0 };
    let mut n = 2;
    if len < 126 {
        h[1] = m | len as u8;
    } else if len <= 0xffff {
        h[1] = m | 126;
        h[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        n = 4;
    } else {
        h[1] = m | 127;
        h[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        n = 10;
    }
    if let Some(k) = key {
        h[n..n + 4].copy_from_slice(&k);
        n += 4;
    }
    (h, n as u8)
}

const CONTENT_LEN: usize = 2 << 20;
const BIG_MAX: u64 = 768 << 10;

struct Msg {
    dir: u8,
    len: usize,
    gap_ns: i64,
}

/// Plan a connection from a template: the template packets up to its splice point, the
/// generated messages, then the rest of the template shifted in sequence space and time.
/// Returns the bytes inserted per direction.
fn plan(tpl: &Template, profile: Profile, rng: &mut Rng, evs: &mut Vec<Ev>) -> [u32; 2] {
    evs.clear();
    let Some(cut) = tpl.cut else {
        for (i, p) in tpl.pkts.iter().enumerate() {
            evs.push(Ev::new(p.t, EvKind::Tpl, p.dir, i, p.seq_rel, p.ack_rel));
        }
        return [0, 0];
    };
    // The messages to insert.
    let mut msgs: Vec<Msg> = Vec::new();
    let (mss, opcode) = match profile {
        Profile::Mixed | Profile::Wss => {
            for _ in 0..rng.range(0, 8) {
                msgs.push(Msg {
                    dir: rng.below(2) as u8,
                    len: rng.log_uniform(2, 64 << 10) as usize,
                    gap_ns: rng.exp_ns(5e6),
                });
            }
            if rng.chance(0.04) {
                let at = rng.below(msgs.len() as u64 + 1) as usize;
                msgs.insert(
                    at,
                    Msg {
                        dir: rng.below(2) as u8,
                        len: rng.log_uniform(128 << 10, BIG_MAX) as usize,
                        gap_ns: rng.exp_ns(5e6),
                    },
                );
            }
            // Ethernet-sized segments for most connections, GRO/loopback-sized for some.
            (if rng.chance(0.7) { 1448 } else { 65483 }, 2u8)
        }
        Profile::Small => {
            for _ in 0..rng.range(300, 3000) {
                msgs.push(Msg {
                    dir: if rng.chance(0.75) { 1 } else { 0 },
                    len: rng.range(50, 500) as usize, // whole frame, header included
                    gap_ns: rng.exp_ns(3e6),
                });
            }
            (1448, 1u8)
        }
    };
    for (i, p) in tpl.pkts[..cut].iter().enumerate() {
        evs.push(Ev::new(p.t, EvKind::Tpl, p.dir, i, p.seq_rel, p.ack_rel));
    }
    let mut next = [1u32, 1u32];
    for p in &tpl.pkts[..cut] {
        next[p.dir as usize] = p.seq_rel.wrapping_add(p.payload_len() as u32);
    }
    let start_next = next;
    let t_cut = tpl.pkts[cut - 1].t;
    let mut t = t_cut;
    for m in &msgs {
        t += m.gap_ns.max(1_000);
        let d = m.dir as usize;
        let r = 1 - d;
        let key = (d == 0).then(|| (rng.next() as u32).to_be_bytes());
        let body_len = match profile {
            Profile::Mixed | Profile::Wss => m.len,
            // Small frames: the size includes the header.
            Profile::Small => m.len - if d == 0 { 6 } else { 2 },
        };
        let (hdr, hlen) = frame_header(opcode, body_len, key);
        let src = tpl.hdr_src[d];
        let s_src = &tpl.pkts[src];
        let limit =
            65535 - if tpl.v6 { 0 } else { s_src.tcp_off } - (s_src.pay_off - s_src.tcp_off);
        let mss = mss.min(limit);
        let body_off = rng.below((CONTENT_LEN - body_len) as u64) as u32;
        let total = hlen as usize + body_len;
        let mut sent = 0usize;
        let mut segs = 0u32;
        while sent < total {
            let n = (total - sent).min(mss);
            let mut ev = Ev::new(t, EvKind::Data, d as u8, src, next[d], next[r]);
            if sent == 0 {
                ev.hdr = hdr;
                ev.hdr_len = hlen;
            }
            let body_start = sent.saturating_sub(hlen as usize);
            let body_n = n - if sent == 0 { hlen as usize } else { 0 };
            ev.key = key.unwrap_or([0; 4]);
            ev.body_off = body_off + body_start as u32;
            ev.body_len = body_n as u32;
            ev.body_pos = body_start as u32;
            evs.push(ev);
            next[d] = next[d].wrapping_add(n as u32);
            sent += n;
            segs += 1;
            t += if mss > 1448 { 40_000 } else { 12_000 };
            let ack_now = match profile {
                Profile::Mixed | Profile::Wss => segs.is_multiple_of(2) || sent == total,
                Profile::Small => rng.chance(0.5),
            };
            if ack_now {
                t += 5_000;
                evs.push(Ev::new(
                    t,
                    EvKind::Ack,
                    r as u8,
                    tpl.hdr_src[r],
                    next[r],
                    next[d],
                ));
            }
        }
    }
    let ins = [
        next[0].wrapping_sub(start_next[0]),
        next[1].wrapping_sub(start_next[1]),
    ];
    let t_shift = if msgs.is_empty() {
        0
    } else {
        t - t_cut + 1_000
    };
    for (i, p) in tpl.pkts.iter().enumerate().skip(cut) {
        let d = p.dir as usize;
        let mut ev = Ev::new(
            p.t + t_shift,
            EvKind::Tpl,
            p.dir,
            i,
            p.seq_rel.wrapping_add(ins[d]),
            if p.flags & ACK != 0 {
                p.ack_rel.wrapping_add(ins[1 - d])
            } else {
                0
            },
        );
        ev.after = true;
        evs.push(ev);
    }
    ins
}

// ---------------------------------------------------------------------------------------
// Writing

fn csum_add(data: &[u8], mut acc: u64) -> u64 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let v = u64::from_be_bytes(c.try_into().unwrap());
        acc += (v >> 32) + (v & 0xffff_ffff);
    }
    let rest = chunks.remainder();
    let mut pairs = rest.chunks_exact(2);
    for p in &mut pairs {
        acc += u16::from_be_bytes([p[0], p[1]]) as u64;
    }
    if let [b] = pairs.remainder() {
        acc += (*b as u64) << 8;
    }
    acc
}

fn csum_fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

struct Active {
    tpl: usize,
    evs: Vec<Ev>,
    pos: usize,
    t0: i64,
    isn: [u32; 2],
    /// Bytes inserted per direction (shift of everything after the splice point).
    ins: [u32; 2],
    conn_no: u64,
    client_ip: [u8; 16],
    server_ip: [u8; 16],
    client_port: u16,
    client_mac: [u8; 6],
}

struct Writer {
    out: BufWriter<std::fs::File>,
    buf: Vec<u8>,
    bin: Vec<u8>,
    text: Vec<u8>,
    packets: u64,
    bytes: u64,
    base_ts: i64,
    last_ts: i64,
}

const SERVER_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x01];

impl Writer {
    fn emit(
        &mut self,
        tpls: &[Template],
        a: &Active,
        ev: &Ev,
        t: i64,
        profile: Profile,
    ) -> Result<()> {
        let tpl = &tpls[a.tpl];
        let p = &tpl.pkts[ev.idx as usize];
        let d = ev.dir as usize;
        let b = &mut self.buf;
        b.clear();
        b.extend_from_slice(&[0u8; 16]);
        // Ethernet
        if d == 0 {
            b.extend_from_slice(&SERVER_MAC);
            b.extend_from_slice(&a.client_mac);
        } else {
            b.extend_from_slice(&a.client_mac);
            b.extend_from_slice(&SERVER_MAC);
        }
        b.extend_from_slice(if tpl.v6 { &[0x86, 0xdd] } else { &[0x08, 0x00] });
        let ip0 = b.len();
        let (flags, ack_flag) = match ev.kind {
            EvKind::Tpl => {
                b.extend_from_slice(&p.bytes);
                (p.flags, p.flags & ACK != 0)
            }
            EvKind::Data | EvKind::Ack => {
                b.extend_from_slice(&p.bytes[..p.pay_off]);
                if ev.kind == EvKind::Data {
                    b.extend_from_slice(&ev.hdr[..ev.hdr_len as usize]);
                    let src = if profile == Profile::Small {
                        &self.text
                    } else {
                        &self.bin
                    };
                    let s = ev.body_off as usize;
                    let start = b.len();
                    b.extend_from_slice(&src[s..s + ev.body_len as usize]);
                    if d == 0 {
                        let body = &mut b[start..];
                        let ph = ev.body_pos as usize;
                        for (i, x) in body.iter_mut().enumerate() {
                            *x ^= ev.key[(ph + i) & 3];
                        }
                    }
                    (0x18, true)
                } else {
                    (0x10, true)
                }
            }
        };
        let ip_len = b.len() - ip0;
        let tcp0 = ip0 + p.tcp_off;
        let (src_ip, dst_ip) = if d == 0 {
            (&a.client_ip, &a.server_ip)
        } else {
            (&a.server_ip, &a.client_ip)
        };
        let (sport, dport) = if d == 0 {
            (a.client_port, tpl.server_port)
        } else {
            (tpl.server_port, a.client_port)
        };
        let tcp_len = b.len() - tcp0;
        let mut acc;
        if tpl.v6 {
            b[ip0 + 4..ip0 + 6].copy_from_slice(&(tcp_len as u16).to_be_bytes());
            b[ip0 + 8..ip0 + 24].copy_from_slice(src_ip);
            b[ip0 + 24..ip0 + 40].copy_from_slice(dst_ip);
            acc = csum_add(&b[ip0 + 8..ip0 + 40], 0);
            acc += tcp_len as u64 + 6;
        } else {
            b[ip0 + 2..ip0 + 4].copy_from_slice(&(ip_len as u16).to_be_bytes());
            b[ip0 + 10..ip0 + 12].copy_from_slice(&[0, 0]);
            b[ip0 + 12..ip0 + 16].copy_from_slice(&src_ip[..4]);
            b[ip0 + 16..ip0 + 20].copy_from_slice(&dst_ip[..4]);
            let c = csum_fold(csum_add(&b[ip0..tcp0], 0));
            b[ip0 + 10..ip0 + 12].copy_from_slice(&c.to_be_bytes());
            acc = csum_add(&b[ip0 + 12..ip0 + 20], 0);
            acc += tcp_len as u64 + 6;
        }
        let seq = a.isn[d].wrapping_add(ev.seq);
        let ack = if ack_flag {
            a.isn[1 - d].wrapping_add(ev.ack)
        } else {
            0
        };
        b[tcp0..tcp0 + 2].copy_from_slice(&sport.to_be_bytes());
        b[tcp0 + 2..tcp0 + 4].copy_from_slice(&dport.to_be_bytes());
        b[tcp0 + 4..tcp0 + 8].copy_from_slice(&seq.to_be_bytes());
        b[tcp0 + 8..tcp0 + 12].copy_from_slice(&ack.to_be_bytes());
        b[tcp0 + 13] = flags;
        b[tcp0 + 16..tcp0 + 18].copy_from_slice(&[0, 0]);
        if let Some((off, n)) = p.sack {
            // SACK edges are in the other side's sequence space; rewrite them like acks.
            if ev.kind == EvKind::Tpl {
                let shift = if ev.after { a.ins[1 - d] } else { 0 };
                for k in 0..2 * n {
                    let o = ip0 + off + 4 * k;
                    let v = u32::from_be_bytes(b[o..o + 4].try_into().unwrap());
                    let nv = v
                        .wrapping_sub(tpl.isn[1 - d])
                        .wrapping_add(a.isn[1 - d])
                        .wrapping_add(shift);
                    b[o..o + 4].copy_from_slice(&nv.to_be_bytes());
                }
            } else {
                // Copied header with SACK blocks: drop the blocks' meaning by turning the
                // option into NOPs.
                let o = ip0 + off - 2;
                for x in &mut b[o..o + 2 + 8 * n] {
                    *x = 1;
                }
            }
        }
        let c = csum_fold(csum_add(&b[tcp0..], acc));
        b[tcp0 + 16..tcp0 + 18].copy_from_slice(&c.to_be_bytes());
        // Record header
        let ts = self.base_ts + t;
        debug_assert!(ts >= self.last_ts);
        self.last_ts = ts;
        let sec = (ts / 1_000_000_000) as u32;
        let usec = ((ts % 1_000_000_000) / 1000) as u32;
        let cap = (b.len() - 16) as u32;
        b[0..4].copy_from_slice(&sec.to_le_bytes());
        b[4..8].copy_from_slice(&usec.to_le_bytes());
        b[8..12].copy_from_slice(&cap.to_le_bytes());
        b[12..16].copy_from_slice(&cap.to_le_bytes());
        self.out.write_all(b)?;
        self.packets += 1;
        self.bytes += b.len() as u64;
        Ok(())
    }
}

fn content_buffers(rng: &mut Rng) -> (Vec<u8>, Vec<u8>) {
    let mut bin = vec![0u8; CONTENT_LEN];
    for c in bin.chunks_mut(8) {
        let v = rng.next().to_le_bytes();
        c.copy_from_slice(&v[..c.len()]);
    }
    // Chat / market-data style JSON text.
    let syms = [
        "BTC-USD", "ETH-USD", "SOL-USD", "EUR-USD", "AAPL", "MSFT", "NVDA",
    ];
    let kinds = ["trade", "quote", "book", "chat", "presence"];
    let mut text = Vec::with_capacity(CONTENT_LEN + 512);
    let mut id = 0u64;
    while text.len() < CONTENT_LEN {
        id += 1;
        let k = kinds[rng.below(kinds.len() as u64) as usize];
        let s = syms[rng.below(syms.len() as u64) as usize];
        let line = match k {
            "chat" => format!(
                "{{\"type\":\"chat\",\"room\":\"r{}\",\"user\":\"u{}\",\"text\":\"message number {} \
                 about {} looks good to me\",\"id\":{}}}\n",
                rng.below(50),
                rng.below(10_000),
                id,
                s,
                id
            ),
            _ => format!(
                "{{\"type\":\"{}\",\"symbol\":\"{}\",\"price\":{}.{:02},\"qty\":{}.{:03},\
                 \"side\":\"{}\",\"seq\":{}}}\n",
                k,
                s,
                rng.range(1, 99_999),
                rng.below(100),
                rng.below(100),
                rng.below(1000),
                if rng.chance(0.5) { "buy" } else { "sell" },
                id
            ),
        };
        text.extend_from_slice(line.as_bytes());
    }
    text.truncate(CONTENT_LEN);
    (bin, text)
}

#[derive(Default, serde::Serialize)]
struct Expected {
    profile: String,
    seed: u64,
    target_size: u64,
    bytes: u64,
    packets: u64,
    connections: u64,
    websocket_sessions: u64,
    plain_http_connections: u64,
    sessions_by_ending: BTreeMap<String, u64>,
    /// Keys are codes, `null` for sessions without a code (open).
    sessions_by_close_code: BTreeMap<String, u64>,
    refused_by_status: BTreeMap<String, u64>,
    server_ports: Vec<u16>,
    max_open_connections: usize,
    first_ts_ns: i64,
    last_ts_ns: i64,
    templates: Vec<TemplateInfo>,
}

#[derive(serde::Serialize)]
struct TemplateInfo {
    name: String,
    outcome: String,
    packets: usize,
    spliced: bool,
    used: u64,
}

fn kind_str(k: &Kind) -> String {
    match k {
        Kind::Ws { ending, code } => match code {
            Some(c) => format!("{ending} {c}"),
            None => ending.clone(),
        },
        Kind::Refused(s) => format!("refused {s}"),
        Kind::Plain => "plain http".into(),
    }
}

fn main() -> Result<()> {
    generate(&parse_args()?)?;
    Ok(())
}

/// Write the capture and its `<out>.expected.json`; returns the expected counts' path.
pub fn generate(args: &Args) -> Result<PathBuf> {
    let open = match (args.open, args.profile) {
        (0, Profile::Mixed | Profile::Wss) => 400,
        (0, Profile::Small) => 300,
        (n, _) => n,
    };
    let started = Instant::now();
    let tpls = match args.profile {
        Profile::Wss => {
            let mut keys = Vec::new();
            for f in FIXTURES_WSS {
                let k = args.fixtures.join(f).with_extension("keys");
                keys.extend(std::fs::read(&k).with_context(|| format!("reading {}", k.display()))?);
            }
            std::fs::write(args.out.with_extension("keys"), keys)?;
            load_templates(&args.fixtures, FIXTURES_WSS)?
        }
        _ => load_templates(&args.fixtures, FIXTURES)?,
    };
    if tpls.is_empty() {
        bail!("no templates in {}", args.fixtures.display());
    }
    let mut rng = Rng(args.seed ^ 0x5753_4155_4449_5421);
    let (bin, text) = content_buffers(&mut rng);
    // Pick templates uniformly; in the small profile only clean WebSocket templates
    // (they carry the chat traffic) plus the non-WebSocket ones.
    let pool: Vec<usize> = (0..tpls.len())
        .filter(|&i| match args.profile {
            Profile::Mixed | Profile::Wss => true,
            Profile::Small => tpls[i].cut.is_some() || !matches!(tpls[i].kind, Kind::Ws { .. }),
        })
        .collect();
    let file = std::fs::File::create(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut w = Writer {
        out: BufWriter::with_capacity(8 << 20, file),
        buf: Vec::with_capacity(70_000),
        bin,
        text,
        packets: 0,
        bytes: 24,
        base_ts: 1_735_689_600_000_000_000, // 2025-01-01T00:00:00Z
        last_ts: 0,
    };
    // pcap header: microsecond timestamps, Ethernet.
    let mut gh = Vec::with_capacity(24);
    gh.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    gh.extend_from_slice(&2u16.to_le_bytes());
    gh.extend_from_slice(&4u16.to_le_bytes());
    gh.extend_from_slice(&0i32.to_le_bytes());
    gh.extend_from_slice(&0u32.to_le_bytes());
    gh.extend_from_slice(&262_144u32.to_le_bytes());
    gh.extend_from_slice(&1u32.to_le_bytes());
    w.out.write_all(&gh)?;

    let mut exp = Expected {
        profile: args.profile.name().into(),
        seed: args.seed,
        target_size: args.size,
        max_open_connections: open,
        ..Default::default()
    };
    let mut used = vec![0u64; tpls.len()];
    let mut slots: Vec<Option<Active>> = Vec::new();
    let mut free_evs: Vec<Vec<Ev>> = Vec::new();
    let mut heap: BinaryHeap<Reverse<(i64, u64, usize)>> = BinaryHeap::new();
    let mut conn_no: u64 = 0;

    let mut spawn = |start: i64,
                     slot: usize,
                     rng: &mut Rng,
                     slots: &mut Vec<Option<Active>>,
                     free_evs: &mut Vec<Vec<Ev>>,
                     heap: &mut BinaryHeap<Reverse<(i64, u64, usize)>>,
                     exp: &mut Expected,
                     committed: &mut u64| {
        let ti = pool[rng.below(pool.len() as u64) as usize];
        let tpl = &tpls[ti];
        used[ti] += 1;
        conn_no += 1;
        let n = conn_no;
        let mut evs = free_evs.pop().unwrap_or_default();
        let ins = plan(tpl, args.profile, rng, &mut evs);
        let planned: u64 = evs
            .iter()
            .map(|e| {
                let p = &tpl.pkts[e.idx as usize];
                30 + match e.kind {
                    EvKind::Tpl => p.bytes.len(),
                    EvKind::Ack => p.pay_off,
                    EvKind::Data => p.pay_off + e.hdr_len as usize + e.body_len as usize,
                } as u64
            })
            .sum();
        *committed += planned;
        // Fresh, unique client address per connection.
        let (a, b2, c) = (
            (n / (254 * 254)) % 254 + 1,
            (n / 254) % 254 + 1,
            n % 254 + 1,
        );
        let mut client_ip = [0u8; 16];
        let mut server_ip = [0u8; 16];
        if tpl.v6 {
            client_ip[0] = 0xfd;
            client_ip[7] = 1;
            client_ip[8..16].copy_from_slice(&n.to_be_bytes());
            server_ip[0] = 0xfd;
            server_ip[15] = 1 + tpl.server_no;
        } else {
            client_ip[..4].copy_from_slice(&[10, a as u8, b2 as u8, c as u8]);
            server_ip[..4].copy_from_slice(&[172, 16, 0, 1 + tpl.server_no]);
        }
        let nb = n.to_be_bytes();
        let act = Active {
            tpl: ti,
            pos: 0,
            t0: start,
            isn: [rng.next() as u32, rng.next() as u32],
            ins,
            conn_no: n,
            client_ip,
            server_ip,
            client_port: rng.range(32768, 60999) as u16,
            client_mac: [0x02, 0x00, nb[4], nb[5], nb[6], nb[7]],
            evs,
        };
        exp.connections += 1;
        match &tpl.kind {
            Kind::Ws { ending, code } => {
                exp.websocket_sessions += 1;
                *exp.sessions_by_ending.entry(ending.clone()).or_default() += 1;
                let key = code.map_or("null".to_string(), |c| c.to_string());
                *exp.sessions_by_close_code.entry(key).or_default() += 1;
            }
            Kind::Refused(s) => *exp.refused_by_status.entry(s.to_string()).or_default() += 1,
            Kind::Plain => exp.plain_http_connections += 1,
        }
        if !exp.server_ports.contains(&tpl.server_port) {
            exp.server_ports.push(tpl.server_port);
        }
        heap.push(Reverse((start + act.evs[0].t, n, slot)));
        if slot == slots.len() {
            slots.push(Some(act));
        } else {
            slots[slot] = Some(act);
        }
    };

    // Bytes written plus bytes planned by the open connections: no new connection starts
    // once it reaches the target size, so the file ends close to it.
    let mut committed: u64 = 24;
    for s in 0..open {
        if committed >= args.size {
            break;
        }
        let start = rng.below(1_000_000_000) as i64;
        spawn(
            start,
            s,
            &mut rng,
            &mut slots,
            &mut free_evs,
            &mut heap,
            &mut exp,
            &mut committed,
        );
    }
    while let Some(Reverse((t, _, slot))) = heap.pop() {
        let a = slots[slot].as_mut().unwrap();
        let ev = a.evs[a.pos];
        a.pos += 1;
        let a = slots[slot].as_ref().unwrap();
        w.emit(&tpls, a, &ev, t, args.profile)?;
        if a.pos < a.evs.len() {
            let nt = a.t0 + a.evs[a.pos].t;
            heap.push(Reverse((nt.max(t), a.conn_no, slot)));
            continue;
        }
        let done = slots[slot].take().unwrap();
        free_evs.push(done.evs);
        if committed < args.size {
            let start = t + rng.below(2_000_000) as i64;
            spawn(
                start,
                slot,
                &mut rng,
                &mut slots,
                &mut free_evs,
                &mut heap,
                &mut exp,
                &mut committed,
            );
        }
    }
    w.out.flush()?;
    drop(w.out);
    exp.bytes = w.bytes;
    exp.packets = w.packets;
    exp.first_ts_ns = w.base_ts;
    exp.last_ts_ns = w.last_ts;
    exp.server_ports.sort();
    exp.templates = tpls
        .iter()
        .zip(&used)
        .map(|(t, &u)| TemplateInfo {
            name: t.name.clone(),
            outcome: kind_str(&t.kind),
            packets: t.pkts.len(),
            spliced: t.cut.is_some(),
            used: u,
        })
        .collect();
    let jpath = PathBuf::from(format!("{}.expected.json", args.out.display()));
    std::fs::write(&jpath, serde_json::to_string_pretty(&exp)? + "\n")?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "gencap: {} ({} profile, seed {}): {} bytes, {} packets, {} connections \
         ({} WebSocket, {} refused, {} plain), {} templates ({} spliceable), {:.1} s ({:.0} MB/s)",
        args.out.display(),
        args.profile.name(),
        args.seed,
        exp.bytes,
        exp.packets,
        exp.connections,
        exp.websocket_sessions,
        exp.refused_by_status.values().sum::<u64>(),
        exp.plain_http_connections,
        tpls.len(),
        tpls.iter().filter(|t| t.cut.is_some()).count(),
        secs,
        exp.bytes as f64 / secs / 1e6,
    );
    Ok(jpath)
}
