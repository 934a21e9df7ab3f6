//! The HTTP/2 stage's memory bound, measured by the allocator: whatever a connection
//! is fed (a million streams, endless CONTINUATION frames, a 2^31 HPACK table size, a
//! 16 MiB DATA frame), the bytes it holds never exceed `h2::MAX_HEAP_BYTES`.
//!
//! A counting global allocator records the peak of live bytes while one `H2Conn` is
//! fed; the inputs are built before counting starts. One test function, so no other
//! test allocates while it counts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use wsaudit::h2::{H2Conn, H2Event, MAX_HEAP_BYTES, PREFACE};
use wsaudit::Side::{Client as C, Server as S};

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(l.size(), Relaxed) + l.size();
        PEAK.fetch_max(now, Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    v.extend_from_slice(&[kind, flags]);
    v.extend_from_slice(&stream.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// A literal header field without indexing, new name, short strings.
fn lit(out: &mut Vec<u8>, name: &str, value: &str) {
    out.push(0);
    out.push(name.len() as u8);
    out.extend_from_slice(name.as_bytes());
    out.push(value.len() as u8);
    out.extend_from_slice(value.as_bytes());
}

fn connect_block() -> Vec<u8> {
    let mut b = Vec::new();
    for (n, v) in [
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":path", "/ws"),
        (":authority", "e"),
    ] {
        lit(&mut b, n, v);
    }
    b
}

/// Peak live bytes above the level before `f` ran.
fn peak_of(f: impl FnOnce()) -> usize {
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    f();
    PEAK.load(Relaxed) - base
}

#[test]
fn hostile_connections_stay_under_the_bound() {
    let mut start = PREFACE.to_vec();
    start.extend(frame(4, 0, 0, &[]));
    let server_start = frame(4, 0, 0, &[0, 1, 0x80, 0, 0, 0, 0, 5, 0, 0xff, 0xff, 0xff]);

    // A million streams: 300 extended CONNECTs (over the cap of 256), then plain GETs
    // that each add a 4 KiB header to the dynamic table.
    let mut connects = Vec::new();
    for i in 0..300u32 {
        connects.extend(frame(1, 0x4, 2 * i + 1, &connect_block()));
    }
    let mut get = vec![0x82, 0x87, 0x84, 0x40, 1, b'x', 0x7f, 0xa1, 0x1e];
    get.extend(std::iter::repeat_n(b'a', 4000));
    let mut gets = Vec::new();
    for i in 0..1000u32 {
        gets.extend(frame(1, 0x5, 601 + 2 * i, &get));
    }
    let cheap_get = [0x82, 0x87, 0x84];
    let mut many = Vec::new();
    for _ in 0..10_000u32 {
        many.extend(frame(1, 0x5, 0, &cheap_get));
    }
    // Endless CONTINUATION, a 2^31 table size, a 16 MiB DATA frame.
    let open = frame(1, 0, 2_100_001, &[0x82]);
    let cont = frame(9, 0, 2_100_001, &vec![0x82; 16_384]);
    let size_2_31 = frame(
        1,
        0x4,
        2_100_003,
        &[0x3f, 0xe1, 0xff, 0xff, 0xff, 0x07, 0x82],
    );
    let mut data_head = frame(0, 0x1, 1, &[]);
    data_head[..3].copy_from_slice(&[0xff, 0xff, 0xff]);
    let chunk = vec![0u8; 65_536];

    let mut events = 0usize;
    let mut ev = |_: H2Event<'_>| events += 1;
    let mut conn = H2Conn::new();
    let peak = peak_of(|| {
        conn.feed(C, &start, &mut ev);
        conn.feed(S, &server_start, &mut ev);
        conn.feed(C, &connects, &mut ev);
        conn.feed(C, &gets, &mut ev);
        for round in 0..100u32 {
            // New stream ids each round, written in place (no allocation).
            for (k, f) in many.chunks_mut(12).enumerate() {
                let id = 2601 + 2 * (round * 10_000 + k as u32);
                f[5..9].copy_from_slice(&id.to_be_bytes());
            }
            conn.feed(C, &many, &mut ev); // a million streams in all
        }
        conn.feed(S, &frame(1, 0x4, 1, &[0x08, 3, b'2', b'0', b'0']), &mut ev);
        conn.feed(S, &data_head, &mut ev);
        for _ in 0..256 {
            conn.feed(S, &chunk, &mut ev);
        }
        conn.feed(C, &open, &mut ev);
        for _ in 0..2048 {
            conn.feed(C, &cont, &mut ev); // 32 MiB of header block
        }
        conn.feed(C, &frame(9, 0x4, 2_100_001, &[0x82]), &mut ev);
        conn.feed(S, &size_2_31, &mut ev);
    });
    let s = conn.stats();
    println!(
        "peak {peak} bytes (bound {MAX_HEAP_BYTES}), held now {}, {} frames, {} streams, {} events",
        conn.heap_bytes(),
        s.frames,
        s.streams_seen,
        events
    );
    assert!(s.streams_seen > 1_000_000, "{}", s.streams_seen);
    assert_eq!(conn.tracked_streams(), 256);
    assert!(peak <= MAX_HEAP_BYTES, "peak {peak} > {MAX_HEAP_BYTES}");
}
