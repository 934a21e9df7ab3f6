//! Adversarial traffic (issue 6, "Bounded memory"): captures built to make an analyser
//! allocate, buffer or track without end. Each test builds its capture by hand (these are
//! hostile inputs, not fixtures), runs the whole pipeline and asserts the documented
//! limits held: what was skipped by counting, what was flagged, what was counted.
//! Sessions a limit touched are flagged `limit_hit` and still reported, never dropped.
//!
//! Peak memory is measured too: `peak_memory_is_bounded_by_the_limits_not_the_capture`
//! runs the binary on SYN floods and reads its peak RSS back (Linux). For every capture
//! here, in a release build, `scripts/adversarial_rss.sh` runs the binary on the captures
//! these tests write when `WSAUDIT_ADVERSARIAL_DIR` is set.

use std::net::SocketAddrV4;

use wsaudit::pipeline::{analyze, CaptureResult, Input, Options};
use wsaudit::session::{Ending, SessionRecord, CLIENT, SERVER};
use wsaudit::tcp::Limits;

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

/// A microsecond pcap of Ethernet/IPv4/TCP packets, built in memory.
struct Cap {
    buf: Vec<u8>,
    ts_us: u64,
}

impl Cap {
    fn new() -> Cap {
        let mut buf = Vec::new();
        buf.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        buf.extend_from_slice(&2u16.to_le_bytes());
        buf.extend_from_slice(&4u16.to_le_bytes());
        buf.extend_from_slice(&[0; 8]);
        buf.extend_from_slice(&262_144u32.to_le_bytes());
        buf.extend_from_slice(&1u32.to_le_bytes());
        Cap {
            buf,
            ts_us: 1_700_000_000_000_000,
        }
    }

    fn pkt(
        &mut self,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        seq: u32,
        ack: u32,
        flags: u8,
        payload: &[u8],
    ) {
        self.ts_us += 10;
        let mut p = Vec::with_capacity(54 + payload.len());
        p.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
        let total = (40 + payload.len()) as u16;
        p.extend_from_slice(&[
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0x40,
            0,
            64,
            6,
            0,
            0,
        ]);
        p.extend_from_slice(&src.ip().octets());
        p.extend_from_slice(&dst.ip().octets());
        p.extend_from_slice(&src.port().to_be_bytes());
        p.extend_from_slice(&dst.port().to_be_bytes());
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&ack.to_be_bytes());
        p.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        p.extend_from_slice(payload);
        let (s, us) = (self.ts_us / 1_000_000, self.ts_us % 1_000_000);
        self.buf.extend_from_slice(&(s as u32).to_le_bytes());
        self.buf.extend_from_slice(&(us as u32).to_le_bytes());
        self.buf.extend_from_slice(&(p.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(&(p.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(&p);
    }

    /// Run the pipeline on this capture (sequentially, so `limits` apply as given). With
    /// `WSAUDIT_ADVERSARIAL_DIR` set, the capture is also kept there as `<name>.pcap`.
    fn analyze(&self, name: &str, limits: Limits) -> CaptureResult {
        if let Some(dir) = std::env::var_os("WSAUDIT_ADVERSARIAL_DIR") {
            let dir = std::path::PathBuf::from(dir);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("{name}.pcap")), &self.buf).unwrap();
        }
        let path = std::env::temp_dir().join(format!(
            "wsaudit-adversarial-{}-{name}.pcap",
            std::process::id()
        ));
        std::fs::write(&path, &self.buf).unwrap();
        let opts = Options {
            limits,
            progress: false,
            shards: 0,
            ..Options::default()
        };
        let r = analyze(&Input::Path(path.clone()), &opts);
        let _ = std::fs::remove_file(&path);
        assert!(!r.failed(), "{name}: {:?}", r.problems());
        r
    }
}

/// One TCP connection; sequence numbers are tracked as stream offsets from the ISNs.
struct Flow {
    c: SocketAddrV4,
    s: SocketAddrV4,
    cisn: u32,
    sisn: u32,
    /// Next stream offset each side sends.
    coff: u64,
    soff: u64,
}

const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
const KEY: [u8; 4] = [0x11, 0x22, 0x33, 0x44];

impl Flow {
    fn new(client: &str, server: &str) -> Flow {
        Flow {
            c: client.parse().unwrap(),
            s: server.parse().unwrap(),
            cisn: 0x1000_0000,
            sisn: 0xf000_0000,
            coff: 0,
            soff: 0,
        }
    }
    fn cseq(&self, off: u64) -> u32 {
        self.cisn.wrapping_add(1).wrapping_add(off as u32)
    }
    fn sseq(&self, off: u64) -> u32 {
        self.sisn.wrapping_add(1).wrapping_add(off as u32)
    }
    fn handshake(&mut self, cap: &mut Cap) {
        cap.pkt(self.c, self.s, self.cisn, 0, SYN, &[]);
        cap.pkt(self.s, self.c, self.sisn, self.cseq(0), SYN | ACK, &[]);
        cap.pkt(self.c, self.s, self.cseq(0), self.sseq(0), ACK, &[]);
    }
    /// Client bytes, in segments of at most 1400 bytes.
    fn client(&mut self, cap: &mut Cap, data: &[u8]) {
        for chunk in data.chunks(1400) {
            cap.pkt(
                self.c,
                self.s,
                self.cseq(self.coff),
                self.sseq(self.soff),
                PSH | ACK,
                chunk,
            );
            self.coff += chunk.len() as u64;
        }
    }
    fn server(&mut self, cap: &mut Cap, data: &[u8]) {
        for chunk in data.chunks(1400) {
            cap.pkt(
                self.s,
                self.c,
                self.sseq(self.soff),
                self.cseq(self.coff),
                PSH | ACK,
                chunk,
            );
            self.soff += chunk.len() as u64;
        }
    }
    /// Server bytes at stream offset `off` (out of order; `soff` is left alone).
    fn server_at(&mut self, cap: &mut Cap, off: u64, data: &[u8]) {
        cap.pkt(
            self.s,
            self.c,
            self.sseq(off),
            self.cseq(self.coff),
            PSH | ACK,
            data,
        );
    }
    /// The client acknowledges server bytes up to stream offset `off`.
    fn client_acks(&mut self, cap: &mut Cap, off: u64) {
        cap.pkt(
            self.c,
            self.s,
            self.cseq(self.coff),
            self.sseq(off),
            ACK,
            &[],
        );
    }
    fn upgrade(&mut self, cap: &mut Cap) {
        self.handshake(cap);
        self.client(cap, REQUEST);
        self.server(cap, RESPONSE);
    }
    fn fins(&mut self, cap: &mut Cap) {
        cap.pkt(
            self.c,
            self.s,
            self.cseq(self.coff),
            self.sseq(self.soff),
            FIN | ACK,
            &[],
        );
        self.coff += 1;
        cap.pkt(
            self.s,
            self.c,
            self.sseq(self.soff),
            self.cseq(self.coff),
            FIN | ACK,
            &[],
        );
        self.soff += 1;
        cap.pkt(
            self.c,
            self.s,
            self.cseq(self.coff),
            self.sseq(self.soff),
            ACK,
            &[],
        );
    }
}

/// A masked client frame.
fn client_frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut v = vec![b0, 0x80 | payload.len() as u8];
    v.extend_from_slice(&KEY);
    v.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i % 4]));
    v
}

const SERVER_CLOSE_1000: [u8; 4] = [0x88, 0x02, 0x03, 0xe8];

fn client_close_1000() -> Vec<u8> {
    client_frame(0x88, &1000u16.to_be_bytes())
}

fn only_session(r: &CaptureResult) -> &SessionRecord {
    assert_eq!(r.sessions.len(), 1, "{:#?}", r.sessions);
    &r.sessions[0]
}

fn anomaly(s: &SessionRecord, name: &str) -> u32 {
    s.anomalies
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(0, |&(_, c)| c)
}

// ---------------------------------------------------------------------------------------
// Lengths off the wire

#[test]
fn frame_announcing_2_to_the_63_bytes_is_flagged_and_loses_sync_without_allocating() {
    let mut cap = Cap::new();
    let mut f = Flow::new("10.0.0.1:40000", "10.0.0.2:80");
    f.upgrade(&mut cap);
    let mut frame = vec![0x82, 0x7f];
    frame.extend_from_slice(&(1u64 << 63).to_be_bytes());
    frame.extend_from_slice(&[0xab; 3000]);
    f.server(&mut cap, &frame);
    f.client(&mut cap, &client_close_1000());
    f.fins(&mut cap);
    let r = cap.analyze("len_2_63", Limits::default());
    let s = only_session(&r);
    assert_eq!(anomaly(s, "invalid_payload_length"), 1, "{:?}", s.anomalies);
    // The server direction is out of sync; the client's Close still counts.
    assert_eq!(s.client_close.as_ref().and_then(|c| c.code), Some(1000));
    assert!(s.server_close.is_none());
    assert_eq!(s.outcome.ending, Ending::Normal);
}

#[test]
fn frame_announcing_2_to_the_63_minus_1_bytes_is_skipped_by_counting() {
    let mut cap = Cap::new();
    let mut f = Flow::new("10.0.0.1:40000", "10.0.0.2:80");
    f.upgrade(&mut cap);
    let mut frame = vec![0x82, 0x7f];
    frame.extend_from_slice(&(u64::MAX >> 1).to_be_bytes());
    frame.extend_from_slice(&[0xab; 64 << 10]);
    f.server(&mut cap, &frame);
    f.fins(&mut cap);
    let r = cap.analyze("len_2_63_minus_1", Limits::default());
    let s = only_session(&r);
    assert_eq!(s.bytes[SERVER], 64 << 10);
    assert_eq!(s.frames[SERVER], 1);
    assert_eq!(anomaly(s, "invalid_payload_length"), 0);
    assert_eq!(anomaly(s, "truncated_frame"), 1, "{:?}", s.anomalies);
}

// ---------------------------------------------------------------------------------------
// Many frames

#[test]
fn message_fragmented_forever_is_counted_not_kept() {
    let mut cap = Cap::new();
    let mut f = Flow::new("10.0.0.1:40000", "10.0.0.2:80");
    f.upgrade(&mut cap);
    let mut frames = vec![0x01, 0x01, b'a']; // Text, not final
    for _ in 0..100_000 {
        frames.extend_from_slice(&[0x00, 0x01, b'b']); // Continuation, not final
    }
    frames.extend_from_slice(&SERVER_CLOSE_1000);
    f.server(&mut cap, &frames);
    f.client(&mut cap, &client_close_1000());
    f.fins(&mut cap);
    let r = cap.analyze("fragmented_forever", Limits::default());
    let s = only_session(&r);
    assert_eq!(s.frames[SERVER], 100_002);
    assert_eq!(s.messages[SERVER], 0, "the message never ended");
    assert_eq!(s.bytes[SERVER], 100_001 + 2);
    assert!(s.anomalies.is_empty(), "{:?}", s.anomalies);
    assert_eq!(s.outcome.ending, Ending::Normal);
    assert!(!s.limit_hit);
}

#[test]
fn a_million_tiny_frames_in_one_session() {
    let mut cap = Cap::new();
    let mut f = Flow::new("10.0.0.1:40000", "10.0.0.2:80");
    f.upgrade(&mut cap);
    let mut frames = [0x82u8, 0x00].repeat(1_000_000);
    frames.extend_from_slice(&SERVER_CLOSE_1000);
    f.server(&mut cap, &frames);
    f.client(&mut cap, &client_close_1000());
    f.fins(&mut cap);
    let r = cap.analyze("million_frames", Limits::default());
    let s = only_session(&r);
    assert_eq!(s.frames[SERVER], 1_000_001);
    assert_eq!(s.messages[SERVER], 1_000_000);
    assert_eq!(s.frames[CLIENT], 1);
    assert_eq!(s.outcome.ending, Ending::Normal);
}

// ---------------------------------------------------------------------------------------
// Sequence space

/// Three jumps of 900 MiB inside one 3 GiB payload, each made known by the client's
/// ACK: the gaps are counted as payload the capture missed, nothing is held, and the
/// Close after the payload is read in sync.
#[test]
fn gigabyte_gaps_inside_a_payload_are_skipped_not_buffered() {
    let mut cap = Cap::new();
    let mut f = Flow::new("10.0.0.1:40000", "10.0.0.2:80");
    f.upgrade(&mut cap);
    let start = f.soff;
    let len: u64 = 3 << 30;
    let mut head = vec![0x82, 0x7f];
    head.extend_from_slice(&len.to_be_bytes());
    head.extend_from_slice(&[0xab; 1000]);
    f.server(&mut cap, &head);
    for i in 1..=3u64 {
        let at = start + i * (900 << 20);
        f.server_at(&mut cap, at, &[0xcd; 1000]);
        f.client_acks(&mut cap, at + 1000);
    }
    // The payload's last 500 bytes, then a Close, in one segment.
    let end = start + 10 + len;
    let mut tail = vec![0xef; 500];
    tail.extend_from_slice(&SERVER_CLOSE_1000);
    f.soff = end - 500;
    f.server(&mut cap, &tail);
    f.client_acks(&mut cap, f.soff);
    f.client(&mut cap, &client_close_1000());
    f.fins(&mut cap);
    let r = cap.analyze("gigabyte_gaps", Limits::default());
    let s = only_session(&r);
    assert!(s.gap, "the gaps are flagged");
    assert!(!s.limit_hit, "nothing had to be held");
    assert_eq!(s.server_close.as_ref().and_then(|c| c.code), Some(1000));
    assert_eq!(s.bytes[SERVER], len + 2, "gap bytes count as payload");
    assert_eq!(anomaly(s, "desync_after_gap"), 0, "{:?}", s.anomalies);
    assert_eq!(s.outcome.ending, Ending::Normal);
}

/// A segment and an ACK 2 GiB ahead are garbage (further than any TCP window): ignored,
/// not held and not turned into a gap, and the stream goes on.
#[test]
fn data_and_acks_2_gib_ahead_are_ignored() {
    let mut cap = Cap::new();
    let mut f = Flow::new("10.0.0.1:40000", "10.0.0.2:80");
    f.upgrade(&mut cap);
    let far = f.soff + (2 << 30);
    f.server_at(&mut cap, far, &[0x88, 0x02, 0x0f, 0xa0]); // a Close 4000 nobody sent
    f.client_acks(&mut cap, far + 4);
    f.server(&mut cap, &SERVER_CLOSE_1000);
    f.client(&mut cap, &client_close_1000());
    f.fins(&mut cap);
    let r = cap.analyze("seq_2_gib_ahead", Limits::default());
    let s = only_session(&r);
    assert!(!s.gap);
    assert_eq!(s.server_close.as_ref().and_then(|c| c.code), Some(1000));
    assert_eq!(s.closes.len(), 2);
    assert_eq!(s.outcome.ending, Ending::Normal);
}

#[test]
fn out_of_order_data_over_the_buffer_limit_flags_the_session() {
    let mut cap = Cap::new();
    let mut f = Flow::new("10.0.0.1:40000", "10.0.0.2:80");
    f.upgrade(&mut cap);
    // A hole, then more held data than the 1000-byte limit allows.
    let base = f.soff;
    for k in 0..4 {
        f.server_at(&mut cap, base + 100 + k * 400, &[0x82; 400]);
    }
    f.fins(&mut cap);
    let limits = Limits {
        max_buffered: 1000,
        ..Limits::default()
    };
    let r = cap.analyze("buffer_limit", limits);
    let s = only_session(&r);
    assert!(s.limit_hit);
    assert!(s.gap);
}

// ---------------------------------------------------------------------------------------
// Connections

/// One real session, then `n` SYNs from distinct clients that never go further.
fn syn_flood(name: &str, n: u32, limits: Limits) -> CaptureResult {
    syn_flood_capture(n).analyze(name, limits)
}

/// 100,000 SYNs that never go further, with room for 1,000 connections: when full, the
/// table evicts its longest-idle sixteenth at once (so a flood costs linear time) and
/// counts every eviction; the one real session, idle since before the flood, is evicted
/// first and still reported, flagged.
#[test]
fn syn_flood_evicts_counts_and_flags() {
    let limits = Limits {
        max_conns: 1000,
        ..Limits::default()
    };
    let r = syn_flood("syn_flood", 100_000, limits);
    assert_eq!(r.oversized_heads, 0);
    // By hand: 100,001 connections; the first 1,000 fill the table, then every arrival
    // into a full table evicts 1000 / 16 = 62, which makes room for 62 arrivals. The
    // other 99,001 arrivals need ceil(99,001 / 62) = 1,597 evictions of 62: 99,014
    // connections evicted and counted, 987 held at the end.
    assert_eq!(r.evicted, 99_014);
    let s = only_session(&r);
    assert!(s.limit_hit, "an evicted session is flagged");
    assert_eq!(s.frames[SERVER], 1);
    assert_eq!(s.outcome.ending, Ending::Open);
}

/// The million half-open connections, at the default limits (200,000
/// connections): linear time (one table pass per sixteenth evicted), every eviction
/// counted, the real session still reported. Peak RSS for this capture is measured by
/// `scripts/adversarial_rss.sh` (release build).
#[test]
fn a_million_syns_at_default_limits() {
    assert_eq!(Limits::default().max_conns, 200_000);
    let r = syn_flood("syn_flood_million", 1_000_000, Limits::default());
    // By hand, as above: 200,000 fill the table, evictions of 200,000 / 16 = 12,500; the
    // other 800,001 arrivals need ceil(800,001 / 12,500) = 65 of them: 812,500 evicted.
    assert_eq!(r.evicted, 812_500);
    let s = only_session(&r);
    assert!(s.limit_hit);
    assert_eq!(s.frames[SERVER], 1);
}

// ---------------------------------------------------------------------------------------
// Handshakes that never complete

/// A request head that never ends is buffered up to the cap (`http::MAX_HEAD`), then the
/// connection is ignored; another connection in the same capture is unaffected.
#[test]
fn http_headers_that_never_end_are_dropped_at_the_cap() {
    let mut cap = Cap::new();
    let mut f = Flow::new("10.0.0.1:40000", "10.0.0.2:80");
    f.handshake(&mut cap);
    let mut head = REQUEST[..REQUEST.len() - 2].to_vec(); // no blank line
    for i in 0..20_000 {
        head.extend_from_slice(format!("X-Filler-{i}: yes\r\n").as_bytes());
    }
    f.client(&mut cap, &head);
    f.server(&mut cap, RESPONSE);
    f.server(&mut cap, &SERVER_CLOSE_1000);
    f.fins(&mut cap);
    let mut ok = Flow::new("10.0.0.3:40000", "10.0.0.2:80");
    ok.upgrade(&mut cap);
    ok.server(&mut cap, &SERVER_CLOSE_1000);
    ok.client(&mut cap, &client_close_1000());
    ok.fins(&mut cap);
    let r = cap.analyze("endless_headers", Limits::default());
    let s = only_session(&r);
    assert_eq!(s.client, "10.0.0.3:40000".parse().unwrap());
    assert!(r.refused.is_empty());
    assert_eq!(r.oversized_heads, 1, "the ignored connection is counted");
}

/// An upgrade request answered by silence while the client keeps talking: nothing is
/// reported and the client's bytes are not piled up without end.
#[test]
fn a_stream_that_never_sends_the_101() {
    let mut cap = Cap::new();
    let mut f = Flow::new("10.0.0.1:40000", "10.0.0.2:80");
    f.handshake(&mut cap);
    f.client(&mut cap, REQUEST);
    f.client(&mut cap, &vec![0x82; 4 << 20]);
    f.fins(&mut cap);
    // And one answered with a 200 whose body never ends.
    let mut g = Flow::new("10.0.0.4:40000", "10.0.0.2:80");
    g.handshake(&mut cap);
    g.client(&mut cap, REQUEST);
    g.server(
        &mut cap,
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n",
    );
    g.server(&mut cap, &vec![b'x'; 4 << 20]);
    g.fins(&mut cap);
    let r = cap.analyze("never_101", Limits::default());
    assert!(r.sessions.is_empty(), "{:#?}", r.sessions);
    assert_eq!(r.refused.len(), 1);
    assert_eq!(r.refused[0].status, 200);
    assert_eq!(r.refused[0].client, "10.0.0.4:40000".parse().unwrap());
}

// ---------------------------------------------------------------------------------------
// Peak memory, measured: the binary's peak RSS on these captures.
//
// Read with getrusage(RUSAGE_CHILDREN) in a small launcher process (this test binary,
// run again for the `rss_probe` test only): a child's peak counts the memory of the
// process that spawned it before its exec (here, a test holding a 200 MB capture), and
// RUSAGE_CHILDREN keeps the largest peak of all children, so each run gets a fresh
// launcher whose only child is wsaudit.

/// `struct rusage` of Linux (x86_64 and aarch64 alike: two timevals, then 14 longs).
#[cfg(target_os = "linux")]
#[repr(C)]
struct RUsage {
    utime: [i64; 2],
    stime: [i64; 2],
    maxrss_kib: i64,
    rest: [i64; 13],
}

#[cfg(target_os = "linux")]
extern "C" {
    fn getrusage(who: i32, usage: *mut RUsage) -> i32;
}

/// Peak RSS (KiB) of the largest child this process has waited for.
#[cfg(target_os = "linux")]
fn children_peak_rss_kib() -> u64 {
    const RUSAGE_CHILDREN: i32 = -1;
    let mut u = RUsage {
        utime: [0; 2],
        stime: [0; 2],
        maxrss_kib: 0,
        rest: [0; 13],
    };
    // SAFETY: `u` is a valid, writable `struct rusage` for the duration of the call.
    let rc = unsafe { getrusage(RUSAGE_CHILDREN, &mut u) };
    assert_eq!(rc, 0, "getrusage");
    u.maxrss_kib as u64
}

/// The launcher: with `WSAUDIT_RSS_PROBE` set (arguments of `wsaudit`, separated by
/// newlines), run the binary once and print `peak_rss_kib=N`. Run only by
/// [`peak_rss_kib`] (ignored otherwise).
#[cfg(target_os = "linux")]
#[test]
#[ignore = "the launcher of peak_memory_is_bounded_by_the_limits_not_the_capture"]
fn rss_probe() {
    let Ok(args) = std::env::var("WSAUDIT_RSS_PROBE") else {
        return;
    };
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wsaudit"))
        .args(args.lines())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "wsaudit {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("peak_rss_kib={}", children_peak_rss_kib());
}

/// Peak RSS (KiB) of `wsaudit analyze CAPTURE -q ARGS` on `cap`.
#[cfg(target_os = "linux")]
fn peak_rss_kib(cap: &[u8], name: &str, args: &[&str]) -> u64 {
    let path = std::env::temp_dir().join(format!(
        "wsaudit-adversarial-rss-{}-{name}.pcap",
        std::process::id()
    ));
    std::fs::write(&path, cap).unwrap();
    let mut wsaudit = vec!["analyze", path.to_str().unwrap(), "-q"];
    wsaudit.extend_from_slice(args);
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "rss_probe",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("WSAUDIT_RSS_PROBE", wsaudit.join("\n"))
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{name}: {stdout}");
    let kib = stdout
        .lines()
        .find_map(|l| {
            let n = l.split("peak_rss_kib=").nth(1)?;
            n.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("{name}: no peak in {stdout}"));
    eprintln!(
        "{name}: capture {} KiB, peak RSS {kib} KiB",
        cap.len() / 1024
    );
    kib
}

/// One real session, then `n` SYNs from distinct clients (the capture of [`syn_flood`]).
fn syn_flood_capture(n: u32) -> Cap {
    let mut cap = Cap::new();
    let mut f = Flow::new("10.0.0.1:40000", "10.0.0.2:80");
    f.upgrade(&mut cap);
    f.server(&mut cap, &[0x81, 0x02, b'h', b'i']);
    let server: SocketAddrV4 = "10.0.0.2:80".parse().unwrap();
    for i in 0..n {
        let src = SocketAddrV4::new(
            [10, (9 + (i >> 24)) as u8, (i >> 8) as u8, i as u8].into(),
            1024 + (i % 50_000) as u16,
        );
        cap.pkt(src, server, i.wrapping_mul(2_654_435_761), 0, SYN, &[]);
    }
    cap
}

#[cfg(target_os = "linux")]
#[test]
fn peak_memory_is_bounded_by_the_limits_not_the_capture() {
    let base = peak_rss_kib(&syn_flood_capture(0).buf, "one_session", &[]);
    // Floods 10x and 30x larger with room for 1,000 connections: the table holds the
    // same number, and read pages of the mapped capture are dropped, so the peak does not
    // follow the capture (100,000 SYNs are 6.7 MiB, a million 67 MiB, 3 million 200 MiB).
    let limit = ["--max-connections", "1000"];
    let small = peak_rss_kib(&syn_flood_capture(100_000).buf, "flood_100k", &limit);
    let huge = peak_rss_kib(&syn_flood_capture(3_000_000).buf, "flood_3m", &limit);
    // Measured (debug build): one session 65 MiB (mostly the binary's own pages), the
    // floods 4-12 MiB above it.
    const MIB: u64 = 1024;
    for (name, peak) in [("100,000", small), ("3,000,000", huge)] {
        assert!(
            peak <= base + 24 * MIB,
            "{name} SYNs at 1,000 connections: peak {peak} KiB, one session {base} KiB"
        );
    }
    // At the default limits (200,000 connections, "about 1 KiB each" in the README) a
    // million SYNs fill the table: at most 1.25 KiB per connection above one session's
    // peak (measured: 198 MiB, 1.01 KiB each).
    let max = Limits::default().max_conns as u64;
    let dflt = peak_rss_kib(&syn_flood_capture(1_000_000).buf, "flood_1m_default", &[]);
    assert!(
        dflt <= base + max * 5 / 4,
        "a million SYNs at {max} connections: peak {dflt} KiB, one session {base} KiB"
    );
}
