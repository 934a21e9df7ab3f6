//! Writes the fuzz seed corpora, `fuzz/seeds/<target>/`, from `fixtures/*.pcap[ng]`.
//!
//! Contract: deterministic (same fixtures, same seeds); every seed is small (capture seeds
//! at most ~32 KB, the rest a few KB) and the whole folder stays well under 2 MB; each
//! seed is in the layout its target's function in `fuzz/src/lib.rs` documents. Existing
//! seed folders are emptied first. Usage: `wsaudit-seedgen [FIXTURES_DIR [SEEDS_DIR]]`
//! (defaults: the repository's `fixtures/` and `fuzz/seeds/`).
//!
//! What each target gets:
//! - `capture`: fixtures up to 32 KB whole, and the first ~6 KB of records of each
//!   fixture re-written as a pcap.
//! - `pcapng`: the pcapng fixture, and the first records of each fixture re-written as
//!   pcapng (SHB, IDB with `if_tsresol`, EPBs, and an unknown block to skip).
//! - `pipeline`, `conn_table`: each connection's first packets (segments) in that
//!   target's framing.
//! - `ws_decoder`: each direction's bytes after the handshake; `frame_header`,
//!   `close_payload`: the frames and Close payloads found there; `http_upgrade`: the
//!   request and response heads.
//! - `reassembler`: each direction's sequence numbers and lengths as insert operations,
//!   with the peer's acks.
//! - `logs_text`, `logs_json`, `logs_access`: each line of `fixtures/logs/**` (scripts in
//!   `gen/` left out) that its family parses as a record or a half match, one seed per
//!   line; `logs_file`: the first ~4 KB (whole lines) of each log fixture, once detected
//!   (selector byte 0) and once forced to its detected format.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use pcap_parser::Linktype;
use wsaudit::capture::{self, link};
use wsaudit::http;
use wsaudit::tcp::{ConnTable, Dir, Limits, StreamHandler};
use wsaudit::ws;

const CAPTURE_WHOLE_MAX: usize = 32 << 10;
const HEAD_BYTES: usize = 6 << 10;
const PACKETS_PER_CONN: usize = 40;
const STREAM_MAX: usize = 4 << 10;

struct Pkt {
    ts_ns: i64,
    linktype: i32,
    data: Vec<u8>,
    orig_len: u32,
}

#[derive(Default)]
struct Seeds {
    /// target -> name -> bytes (BTreeMap: deterministic, and deduplicated by content).
    by_target: BTreeMap<&'static str, BTreeMap<String, Vec<u8>>>,
    seen: BTreeSet<(&'static str, Vec<u8>)>,
}

impl Seeds {
    fn add(&mut self, target: &'static str, name: String, bytes: Vec<u8>) {
        if self.seen.insert((target, bytes.clone())) {
            self.by_target
                .entry(target)
                .or_default()
                .insert(name, bytes);
        }
    }
}

fn pcap_bytes(pkts: &[&Pkt], linktype: i32) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&0xa1b2_3c4du32.to_le_bytes()); // nanosecond pcap
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&262_144u32.to_le_bytes());
    v.extend_from_slice(&(linktype as u32).to_le_bytes());
    for p in pkts {
        v.extend_from_slice(&((p.ts_ns / 1_000_000_000) as u32).to_le_bytes());
        v.extend_from_slice(&((p.ts_ns % 1_000_000_000) as u32).to_le_bytes());
        v.extend_from_slice(&(p.data.len() as u32).to_le_bytes());
        v.extend_from_slice(&p.orig_len.to_le_bytes());
        v.extend_from_slice(&p.data);
    }
    v
}

fn ng_block(kind: u32, body: &[u8]) -> Vec<u8> {
    let pad = (4 - body.len() % 4) % 4;
    let total = (12 + body.len() + pad) as u32;
    let mut v = Vec::new();
    v.extend_from_slice(&kind.to_le_bytes());
    v.extend_from_slice(&total.to_le_bytes());
    v.extend_from_slice(body);
    v.extend(std::iter::repeat_n(0u8, pad));
    v.extend_from_slice(&total.to_le_bytes());
    v
}

fn pcapng_bytes(pkts: &[&Pkt], linktype: i32) -> Vec<u8> {
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    let mut v = ng_block(0x0a0d_0d0a, &shb);
    let mut idb = Vec::new();
    idb.extend_from_slice(&(linktype as u16).to_le_bytes());
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&262_144u32.to_le_bytes());
    // if_tsresol = 9 (nanoseconds), then opt_endofopt.
    idb.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
    v.extend(ng_block(1, &idb));
    // A block type nobody defined: readers skip it.
    v.extend(ng_block(0x0bad_0bad, b"skip me"));
    for p in pkts {
        let ts = p.ts_ns as u64;
        let mut epb = Vec::new();
        epb.extend_from_slice(&0u32.to_le_bytes());
        epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(ts as u32).to_le_bytes());
        epb.extend_from_slice(&(p.data.len() as u32).to_le_bytes());
        epb.extend_from_slice(&p.orig_len.to_le_bytes());
        epb.extend_from_slice(&p.data);
        let pad = (4 - p.data.len() % 4) % 4;
        epb.extend(std::iter::repeat_n(0u8, pad));
        v.extend(ng_block(6, &epb));
    }
    v
}

/// Packets up to about `budget` bytes of packet data.
fn head(pkts: &[Pkt], budget: usize) -> Vec<&Pkt> {
    let mut used = 0;
    pkts.iter()
        .take_while(|p| {
            used += p.data.len() + 16;
            used <= budget
        })
        .collect()
}

/// Connection key: the unordered address pair.
fn conn_key(s: &link::Segment<'_>) -> (SocketAddr, SocketAddr) {
    if s.src <= s.dst {
        (s.src, s.dst)
    } else {
        (s.dst, s.src)
    }
}

/// Collects each direction's reassembled bytes (capped).
struct Collect {
    bytes: [Vec<u8>; 2],
    orig: SocketAddr,
}

impl StreamHandler for Collect {
    fn on_data(&mut self, dir: Dir, data: &[u8], _ts: i64) {
        let b = &mut self.bytes[dir as usize];
        let room = (4 * STREAM_MAX).saturating_sub(b.len());
        b.extend_from_slice(&data[..data.len().min(room)]);
    }
    fn on_gap(&mut self, _dir: Dir, _len: u64, _ts: i64) {}
    fn wants_data(&self) -> bool {
        true
    }
}

/// Frames of one WebSocket direction: header bytes plus a little payload, and the
/// unmasked Close payloads.
fn walk_frames(stream: &[u8], seeds: &mut Seeds, stem: &str) {
    let mut rest = stream;
    let mut shapes = BTreeSet::new();
    let mut n = 0;
    while let Ok((after, h)) = ws::parse_header(rest) {
        let shape = (rest[0], rest[1] & 0x80, h.header_len);
        if shapes.insert(shape) {
            let take = (h.header_len + 16).min(rest.len());
            seeds.add("frame_header", format!("{stem}-{n}"), rest[..take].to_vec());
            n += 1;
        }
        let len = usize::try_from(h.payload_len).unwrap_or(usize::MAX);
        if len > after.len() {
            break;
        }
        if h.opcode == ws::Opcode::Close {
            let mut p = after[..len].to_vec();
            if let Some(k) = h.mask {
                ws::unmask(&mut p, k, 0);
            }
            seeds.add("close_payload", format!("{stem}-{n}"), p);
            n += 1;
        }
        rest = &after[len..];
    }
}

/// The byte layout `wsaudit_fuzz::conn_table` reads, for one connection's segments.
fn conn_table_seed(segs: &[(link::Segment<'_>, i64)]) -> Vec<u8> {
    let mut v = vec![3, 64];
    let client = segs[0].0.src;
    let mut last_ts = segs[0].1;
    for (s, ts) in segs {
        // Client 10.0.0.1:40000 (index 8), server 10.0.0.2:80 (index 1).
        let a: u8 = if s.src == client {
            8 | (1 << 4)
        } else {
            1 | (8 << 4)
        };
        let dt = ts - last_ts;
        last_ts = *ts;
        let step: u8 = if dt >= 40_000_000_000 {
            3
        } else if dt >= 1_000_000_000 {
            2
        } else if dt >= 1_000_000 {
            1
        } else {
            0
        };
        let f = s.flags;
        let mut fl = u8::from(f.syn)
            | u8::from(f.ack) << 1
            | u8::from(f.fin) << 2
            | u8::from(f.rst) << 3
            | step << 4
            | 0x80;
        if s.missing > 0 {
            fl |= 0x40;
        }
        let payload = &s.payload[..s.payload.len().min(0x3fff)];
        v.push(a);
        v.push(fl);
        v.extend_from_slice(&s.seq.to_le_bytes());
        v.extend_from_slice(&s.ack.to_le_bytes());
        v.extend_from_slice(&(payload.len() as u16).to_le_bytes());
        if s.missing > 0 {
            v.push(s.missing.min(255) as u8);
        }
        v.extend_from_slice(payload);
    }
    v
}

/// The layout `wsaudit_fuzz::pipeline` reads.
fn pipeline_seed(pkts: &[&Pkt], linktype: i32) -> Option<Vec<u8>> {
    let idx = [1, 101, 113, 276, 0].iter().position(|&l| l == linktype)?;
    let mut v = vec![idx as u8, 3];
    let mut last = pkts.first()?.ts_ns;
    for p in pkts {
        let data = &p.data[..p.data.len().min(0xffff)];
        v.extend_from_slice(&(data.len() as u16).to_le_bytes());
        v.push(((p.ts_ns - last) / 1_000_000).clamp(0, 255) as u8);
        last = p.ts_ns;
        v.push((p.orig_len as usize).saturating_sub(data.len()).min(255) as u8);
        v.extend_from_slice(data);
    }
    Some(v)
}

/// The layout `wsaudit_fuzz::reassembler` reads: one direction's segments as inserts
/// (sequence number as an i16 offset from the ISN), the peer's acks in between.
fn reassembler_seed(segs: &[(link::Segment<'_>, i64)], from: SocketAddr) -> Option<Vec<u8>> {
    let isn = segs.iter().find(|(s, _)| s.src == from)?.0.seq;
    let mut v = vec![64, 8];
    v.extend_from_slice(&isn.to_le_bytes());
    for (s, _) in segs {
        let rel = s.seq.wrapping_sub(isn) as i32;
        let rel_ack = s.ack.wrapping_sub(isn) as i32;
        if s.src == from && !s.payload.is_empty() && (-32768..32768).contains(&rel) {
            let len = s.payload.len();
            let (bit, lb) = if len > 255 {
                (0x10, (len / 16).min(255))
            } else {
                (0, len)
            };
            v.push(1 | (1 << 2) | bit);
            v.extend_from_slice(&(rel as i16).to_le_bytes());
            v.push(lb as u8);
        } else if s.src != from && s.flags.ack && (-32768..32768).contains(&rel_ack) {
            v.push(2 | (1 << 2));
            v.extend_from_slice(&(rel_ack as i16).to_le_bytes());
        }
        if v.len() > 600 {
            break;
        }
    }
    v.push(3);
    Some(v)
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut args = std::env::args_os().skip(1);
    let fixtures = args.next().map_or(root.join("fixtures"), PathBuf::from);
    let out = args.next().map_or(root.join("fuzz/seeds"), PathBuf::from);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&fixtures)
        .expect("fixtures directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            )
        })
        .collect();
    files.sort();
    let mut seeds = Seeds::default();
    // Close payloads worth having whatever the fixtures hold.
    for (i, p) in [
        &b""[..],
        b"\x03",
        b"\x03\xe8",
        b"\x0f\xa1bye",
        b"\x03\xe9\xff\xfe",
        b"\x13\x88",
    ]
    .iter()
    .enumerate()
    {
        seeds.add("close_payload", format!("rfc-{i}"), p.to_vec());
    }
    for path in &files {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let raw = std::fs::read(path).expect("read fixture");
        let mut pkts = Vec::new();
        capture::read_slice(&raw, |p| {
            pkts.push(Pkt {
                ts_ns: p.ts_ns,
                linktype: p.linktype.0,
                data: p.data.to_vec(),
                orig_len: p.orig_len,
            })
        });
        let Some(linktype) = pkts.first().map(|p| p.linktype) else {
            continue;
        };
        let is_ng = raw.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]);
        let kind = if is_ng { "pcapng" } else { "capture" };
        if raw.len() <= CAPTURE_WHOLE_MAX {
            seeds.add(kind, format!("{stem}-whole"), raw.clone());
        }
        let first = head(&pkts, HEAD_BYTES);
        seeds.add(
            "capture",
            format!("{stem}-head"),
            pcap_bytes(&first, linktype),
        );
        seeds.add(
            "pcapng",
            format!("{stem}-head"),
            pcapng_bytes(&first, linktype),
        );

        // Per connection.
        let mut conns: BTreeMap<(SocketAddr, SocketAddr), Vec<usize>> = BTreeMap::new();
        for (i, p) in pkts.iter().enumerate() {
            if let Some(s) = link::decode(Linktype(p.linktype), &p.data) {
                conns.entry(conn_key(&s)).or_default().push(i);
            }
        }
        for (c, (_, idx)) in conns.iter().enumerate() {
            let mine: Vec<&Pkt> = idx
                .iter()
                .take(PACKETS_PER_CONN)
                .map(|&i| &pkts[i])
                .collect();
            if let Some(seed) = pipeline_seed(&mine, linktype) {
                seeds.add("pipeline", format!("{stem}-c{c}"), seed);
            }
            let lt = Linktype(linktype);
            let segs: Vec<(link::Segment<'_>, i64)> = mine
                .iter()
                .filter_map(|p| link::decode(lt, &p.data).map(|s| (s, p.ts_ns)))
                .collect();
            if segs.is_empty() {
                continue;
            }
            seeds.add("conn_table", format!("{stem}-c{c}"), conn_table_seed(&segs));
            for from in [segs[0].0.src, segs[0].0.dst] {
                if let Some(s) = reassembler_seed(&segs, from) {
                    seeds.add("reassembler", format!("{stem}-c{c}-{}", from.port()), s);
                }
            }
            // Reassemble the whole connection for the HTTP and WebSocket seeds.
            let all: Vec<(link::Segment<'_>, i64)> = idx
                .iter()
                .filter_map(|&i| link::decode(lt, &pkts[i].data).map(|s| (s, pkts[i].ts_ns)))
                .collect();
            let mut got: Option<Collect> = None;
            let mut table = ConnTable::new(Limits::default(), |o: &SocketAddr, _: &SocketAddr| {
                Collect {
                    bytes: [Vec::new(), Vec::new()],
                    orig: *o,
                }
            });
            for (s, ts) in &all {
                table.segment(s, *ts, &mut |_, h| {
                    got.get_or_insert(h);
                });
            }
            table.finish(&mut |_, h| {
                got.get_or_insert(h);
            });
            let Some(col) = got else { continue };
            let _ = col.orig;
            let mut deflate = false;
            for (d, bytes) in col.bytes.iter().enumerate() {
                let Some(n) = http::head_len(bytes) else {
                    continue;
                };
                seeds.add(
                    "http_upgrade",
                    format!("{stem}-c{c}-{d}"),
                    bytes[..n].to_vec(),
                );
                if let Ok(r) = http::parse_response(&bytes[..n]) {
                    deflate = http::has_permessage_deflate(r.headers.extensions.as_deref());
                }
            }
            for (d, bytes) in col.bytes.iter().enumerate() {
                let Some(n) = http::head_len(bytes) else {
                    continue;
                };
                let stream = &bytes[n..bytes.len().min(n + STREAM_MAX)];
                if stream.is_empty() {
                    continue;
                }
                let is_server = http::looks_like_response(bytes);
                let mut seed = vec![u8::from(is_server) | u8::from(deflate) << 1, 0];
                seed.extend_from_slice(stream);
                seeds.add("ws_decoder", format!("{stem}-c{c}-{d}"), seed);
                walk_frames(stream, &mut seeds, &format!("{stem}-c{c}-{d}"));
            }
        }
    }
    log_seeds(&fixtures.join("logs"), &mut seeds);
    tls_seeds(&fixtures.join("tls"), &out, &mut seeds);
    let mut total = 0;
    for (target, files) in &seeds.by_target {
        let dir = out.join(target);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create seed directory");
        let bytes: usize = files.values().map(Vec::len).sum();
        total += bytes;
        for (name, b) in files {
            std::fs::write(dir.join(name), b).expect("write seed");
        }
        println!("{target:>14}: {:4} seeds, {:7} bytes", files.len(), bytes);
    }
    println!("{:>14}: {total} bytes", "total");
}

const LOG_HEAD: usize = 4 << 10;

fn log_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    v.sort();
    for p in v {
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "gen") {
                log_files(&p, out);
            }
        } else if p.extension().is_some_and(|e| e == "log" || e == "jsonl") {
            out.push(p);
        }
    }
}

/// Seeds for the log targets (see the module doc).
fn log_seeds(dir: &Path, seeds: &mut Seeds) {
    use wsaudit::logs::{access, json, text, LineResult, LogFormat, LogOptions};
    let mut files = Vec::new();
    log_files(dir, &mut files);
    let hit = |r: LineResult| !matches!(r, LineResult::NoMatch);
    for path in &files {
        let stem = path
            .strip_prefix(dir)
            .unwrap_or(path)
            .to_string_lossy()
            .replace(['/', '.'], "_");
        let raw = std::fs::read(path).expect("read log fixture");
        let text_ = String::from_utf8_lossy(&raw);
        for (i, line) in text_.lines().enumerate() {
            let name = format!("{stem}-{}", i + 1);
            if hit(text::parse_any(line)) {
                seeds.add("logs_text", name.clone(), line.as_bytes().to_vec());
            }
            if hit(json::parse_apigw(line))
                || hit(json::parse_traefik(line))
                || hit(json::parse_mapped(line, None))
            {
                seeds.add("logs_json", name.clone(), line.as_bytes().to_vec());
            }
            if hit(access::parse_nginx(line)) || hit(access::parse_alb(line)) {
                seeds.add("logs_access", name, line.as_bytes().to_vec());
            }
        }
        let mut end = raw.len().min(LOG_HEAD);
        if end < raw.len() {
            end = raw[..end]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(end, |i| i + 1);
        }
        let head = &raw[..end];
        let mut seed = vec![0u8];
        seed.extend_from_slice(head);
        seeds.add("logs_file", format!("{stem}-detect"), seed);
        let (_, stats) = wsaudit::logs::read_bytes(head, &LogOptions::default());
        if let Some(f) = stats.format {
            let k = LogFormat::ALL.iter().position(|x| *x == f).unwrap_or(0) as u8 + 1;
            let mut seed = vec![k];
            seed.extend_from_slice(head);
            seeds.add("logs_file", format!("{stem}-forced"), seed);
        }
    }
}

/// Seeds for `tls` (the first connections of each `fixtures/tls` capture that has a key
/// log, as records in packet order: a control byte with the side, a u16 length, the
/// segment's payload) and `keylog` (the key logs' heads). The key logs themselves go to
/// `fuzz/seeds/tls.keys`, which the `tls` harness loads.
fn tls_seeds(dir: &Path, out: &Path, seeds: &mut Seeds) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut caps: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    caps.sort();
    let mut keys = String::new();
    for cap in caps {
        let Ok(log) = std::fs::read_to_string(cap.with_extension("keys")) else {
            continue;
        };
        let stem = cap.file_stem().unwrap().to_string_lossy().into_owned();
        seeds.add(
            "keylog",
            stem.clone(),
            log.as_bytes()[..log.len().min(LOG_HEAD)].to_vec(),
        );
        keys.push_str(&log);
        let raw = std::fs::read(&cap).expect("read TLS fixture");
        let mut conns: BTreeMap<(SocketAddr, SocketAddr), (SocketAddr, Vec<u8>)> =
            BTreeMap::new();
        let mut order = Vec::new();
        capture::read_slice(&raw, |p| {
            let Some(seg) = link::decode(p.linktype, p.data) else {
                return;
            };
            let key = conn_key(&seg);
            let (client, rec) = conns.entry(key).or_insert_with(|| {
                order.push(key);
                (seg.src, vec![1u8])
            });
            if seg.payload.is_empty() || rec.len() > 4 * STREAM_MAX {
                return;
            }
            for piece in seg.payload.chunks(u16::MAX as usize) {
                rec.push(if seg.src == *client { 0 } else { 0x80 });
                rec.extend_from_slice(&(piece.len() as u16).to_le_bytes());
                rec.extend_from_slice(piece);
            }
        });
        for (i, key) in order.iter().take(2).enumerate() {
            seeds.add("tls", format!("{stem}-c{i}"), conns[key].1.clone());
        }
    }
    seeds.add("keylog", "junk".into(), b"CLIENT_RANDOM zz\n\x00\xff RSA 01 02\n#\n".to_vec());
    std::fs::write(out.join("tls.keys"), keys).expect("write tls.keys");
}
