//! One mapped capture over many cores: the reader cuts records into chunks, decoders
//! turn each chunk into one list of TCP segments per worker, and the workers run the TCP
//! and WebSocket stages over the connections hashed to them.
//!
//! Contract: `run` hands every connection's segments to one worker in capture order,
//! so its sessions are exactly those of a sequential run, whatever the number of
//! decoders and workers and whatever the chunk size (`tests/parallel.rs` cuts chunks of
//! one record up to many MiB). How:
//!
//! - The reader (the calling thread) only walks records: it cuts them into chunks of
//!   about [`Plan::chunk_bytes`] of the map, reads pcapng key logs into the key store
//!   before any later packet is handed on, and counts time stamps and progress. Chunk `k`
//!   goes to decoder `k mod D`.
//! - A decoder decodes link, IP and TCP headers, hashes each segment's address pair to
//!   its worker, and sends every worker its part of the chunk (in pieces of at most
//!   1024 segments, the last one marked, and empty when there was nothing).
//! - Worker `w` takes the parts of chunk `k` from decoder `k mod D`, up to the marked
//!   last one, for `k = 0, 1, 2, …`: each decoder sends its chunks in order, so the
//!   worker sees every chunk in capture order without a reorder buffer.
//! - As many pagers as decoders map the pages the reader will walk next
//!   (`MADV_POPULATE_READ`, cheaper than faulting them in one by one) and drop those every
//!   worker is past: page-table work was half the reader's time.
//! - With no decoder (`D = 0`, few cores) the reader decodes each packet itself, faults
//!   the pages in and drops them, and sends the parts at each chunk's end: the same
//!   router code, on fewer threads.
//!
//! Memory: every queue is bounded, so at most [`Plan::in_flight`] chunks are between the
//! reader and the slowest worker, and [`Plan::resident_chunks`] of the map are resident;
//! segment vectors and packet vectors go back to whoever fills them. Each thread adds
//! its CPU time to [`stage_cpu`], for the per-stage benchmark.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::Arc;

use crate::capture::{self, link, RawPacket};
use crate::session::conn::Conn;
use crate::tcp::{ConnTable, Limits};
use crate::tls::KeyStore;

use super::{Kept, Seen, SessionSink};

/// How one capture is spread over threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Decoder threads (0: the reader decodes).
    pub decoders: usize,
    /// Worker threads, each owning the connections that hash to it.
    pub workers: usize,
    /// Map bytes per chunk (a chunk ends at the first record that reaches this size).
    pub chunk_bytes: usize,
}

impl Plan {
    /// Chunks that can be between the reader and the slowest worker at once: the one
    /// being cut, those queued at and decoded by each decoder, those queued for a worker
    /// (up to one per decoder, two without decoders), and the one it works on.
    pub fn in_flight(decoders: usize) -> usize {
        if decoders == 0 {
            1 + WORKER_QUEUE_INLINE + 1
        } else {
            1 + decoders * (DECODER_QUEUE + 1) + decoders * WORKER_QUEUE + 1
        }
    }

    /// Chunks of the map that can be resident at once: those in flight, those the
    /// pager maps ahead of the reader (with decoders), and one step of pages not yet
    /// dropped.
    pub fn resident_chunks(decoders: usize) -> usize {
        let ahead = if decoders == 0 {
            0
        } else {
            Self::populate_ahead(decoders)
        };
        // With pagers, each drops only whole slots of its own: up to one per pager
        // waits for the slowest worker to pass its end.
        Self::in_flight(decoders) + ahead + decoders.max(1)
    }

    /// Chunks the pagers map ahead of the reader: two, and at least one per pager.
    pub fn populate_ahead(pagers: usize) -> usize {
        pagers.max(2)
    }

    /// The chunk size that keeps [`Plan::resident_chunks`] chunks within `lead` bytes:
    /// at least 256 KiB (smaller chunks cost system time: more page drops and wakeups),
    /// at most 4 MiB (larger chunks only held more segments in flight: 15 MiB more at
    /// 8 MiB, no faster).
    pub fn chunk_for(lead: usize, decoders: usize) -> usize {
        (lead / Self::resident_chunks(decoders)).clamp(256 << 10, 4 << 20)
    }
}

/// Chunks queued for each decoder.
const DECODER_QUEUE: usize = 1;
/// Parts queued for each worker from each decoder.
const WORKER_QUEUE: usize = 1;
/// Parts queued for each worker when the reader decodes.
const WORKER_QUEUE_INLINE: usize = 2;

/// A slice of segments for one worker, with the time stamp of each.
type Segs<'m> = Vec<(link::Segment<'m>, i64)>;

/// Consecutive records of the capture, cut by the reader; `end` is the map offset just
/// past the last one.
struct Chunk<'m> {
    pkts: Vec<RawPacket<'m>>,
    end: usize,
}

/// One worker's segments of one chunk.
struct Part<'m> {
    segs: Segs<'m>,
    /// The map offset just past the last packet the decoder had read when it sent this.
    end: usize,
    /// The chunk's last part for this worker (a full part is sent before the chunk ends).
    last: bool,
}

/// Segments in a part at most: a worker then reads segments the decoder wrote moments
/// ago, still in cache (a chunk's whole part at once was 10 % slower on small packets,
/// and held 17 MiB more).
const PART_SEGS: usize = 1024;

/// Decodes packets and sorts their segments by worker, one chunk at a time.
struct Router<'m> {
    parts: Vec<Segs<'m>>,
    txs: Vec<SyncSender<Part<'m>>>,
    /// Emptied vectors the workers gave back.
    spare: Receiver<Segs<'m>>,
    /// The map's address, to turn packets into offsets.
    base: usize,
    segments: u64,
}

impl<'m> Router<'m> {
    fn new(txs: Vec<SyncSender<Part<'m>>>, spare: Receiver<Segs<'m>>, map: &[u8]) -> Self {
        Router {
            parts: txs.iter().map(|_| Vec::new()).collect(),
            txs,
            spare,
            base: map.as_ptr() as usize,
            segments: 0,
        }
    }

    #[inline]
    fn packet(&mut self, pkt: &RawPacket<'m>) {
        if let Some(seg) = link::decode(pkt.linktype, pkt.data) {
            self.segments += 1;
            let w = super::shard_of(&seg, self.parts.len());
            self.parts[w].push((seg, pkt.ts_ns));
            if self.parts[w].len() == PART_SEGS {
                let end = pkt.data.as_ptr() as usize + pkt.data.len() - self.base;
                self.send_one(w, end, false);
            }
        }
    }

    /// Send worker `w` what it has of the chunk so far.
    #[inline]
    fn send_one(&mut self, w: usize, end: usize, last: bool) {
        let segs = &mut self.parts[w];
        let segs = if segs.is_empty() {
            Vec::new()
        } else {
            let fresh = self
                .spare
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(PART_SEGS));
            std::mem::replace(segs, fresh)
        };
        // A worker only stops early by panicking, which join() reports.
        let _ = self.txs[w].send(Part { segs, end, last });
    }

    /// End the chunk that ends at map offset `end`: every worker gets its last part of
    /// it, an empty one too, since workers count chunks to take them in order.
    fn send(&mut self, end: usize) {
        for w in 0..self.parts.len() {
            self.send_one(w, end, true);
        }
    }
}

/// CPU time of this thread, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

static CPU_READ: AtomicU64 = AtomicU64::new(0);
static CPU_DECODE: AtomicU64 = AtomicU64::new(0);
static CPU_WORK: AtomicU64 = AtomicU64::new(0);
static CPU_PAGE: AtomicU64 = AtomicU64::new(0);

/// CPU time spent by each stage of every sharded read of this process so far, in
/// nanoseconds: the readers (cutting chunks, and decoding when there are no decoders),
/// the pagers (mapping pages ahead of a reader and dropping them behind the workers,
/// when there are decoders), the decoders and the workers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageCpu {
    pub read_ns: u64,
    pub page_ns: u64,
    pub decode_ns: u64,
    pub work_ns: u64,
}

/// See [`StageCpu`].
pub fn stage_cpu() -> StageCpu {
    StageCpu {
        read_ns: CPU_READ.load(Ordering::Relaxed),
        page_ns: CPU_PAGE.load(Ordering::Relaxed),
        decode_ns: CPU_DECODE.load(Ordering::Relaxed),
        work_ns: CPU_WORK.load(Ordering::Relaxed),
    }
}

/// Run the TCP and WebSocket stages over one mapped capture as `plan` says (see the
/// module's contract). Returns what the walk found, each worker's output, the
/// connections evicted and the TCP segments decoded.
pub(super) fn run<'m, K: SessionSink>(
    map: &'m capture::guard::GuardedMap,
    cap: &Arc<str>,
    keys: &Arc<KeyStore>,
    limits: Limits,
    plan: Plan,
    seen: &mut Seen<'_>,
    sink: &(dyn Fn() -> K + Sync),
) -> (capture::ReadSummary, Vec<Kept<K>>, u64, u64) {
    let started = thread_cpu_ns();
    // Each worker holds `max_conns / workers` connections, at least one: with more
    // workers than connections allowed, more than `max_conns` would be tracked at once.
    let workers = plan.workers.min(limits.max_conns).max(1);
    let decoders = plan.decoders;
    let lanes = decoders.max(1);
    let chunk_bytes = plan.chunk_bytes.max(1);
    let per_worker = Limits {
        max_conns: (limits.max_conns / workers).max(1),
        ..limits
    };
    let worker_queue = if decoders == 0 {
        WORKER_QUEUE_INLINE
    } else {
        WORKER_QUEUE
    };
    // Map offset up to which each worker has finished its parts.
    let done_at: Vec<AtomicUsize> = (0..workers).map(|_| AtomicUsize::new(0)).collect();
    // Where the reader is, and whether it is done (for the pager).
    let reached = AtomicUsize::new(0);
    let ended = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        // lane_txs[d][w]: decoder d (or the reader) to worker w; spare_txs[d]: back.
        let mut lane_txs: Vec<Vec<SyncSender<Part<'m>>>> = Vec::with_capacity(lanes);
        let mut spare_rxs: Vec<Receiver<Segs<'m>>> = Vec::with_capacity(lanes);
        let mut worker_rxs: Vec<Vec<Receiver<Part<'m>>>> =
            (0..workers).map(|_| Vec::with_capacity(lanes)).collect();
        let mut spare_txs: Vec<Sender<Segs<'m>>> = Vec::with_capacity(lanes);
        for _ in 0..lanes {
            let mut txs = Vec::with_capacity(workers);
            for rxs in worker_rxs.iter_mut() {
                let (tx, rx) = sync_channel::<Part<'m>>(worker_queue);
                txs.push(tx);
                rxs.push(rx);
            }
            lane_txs.push(txs);
            let (tx, rx) = channel::<Segs<'m>>();
            spare_txs.push(tx);
            spare_rxs.push(rx);
        }
        let mut handles = Vec::with_capacity(workers);
        for (rxs, done_at) in worker_rxs.into_iter().zip(&done_at) {
            let spare_txs = spare_txs.clone();
            let (cap, keys) = (cap.clone(), keys.clone());
            let mut kept = Kept::new(sink());
            handles.push(spawn(scope, "wsaudit-work", move || {
                let start = thread_cpu_ns();
                let mut table =
                    ConnTable::new(per_worker, |_, _| Conn::new(cap.clone(), keys.clone()));
                let mut k = 0usize;
                while let Ok(part) = rxs[k % lanes].recv() {
                    for (seg, ts) in &part.segs {
                        // Bytes past a shrunk file's end are zeros now, not the
                        // capture: skip what lies there (capture::guard).
                        if map.offset_of(seg.payload) + seg.payload.len() > map.limit() {
                            continue;
                        }
                        table.segment(seg, *ts, &mut |m, c: Conn| kept.keep(c.finish(&m)));
                    }
                    done_at.store(part.end, Ordering::Release);
                    let mut segs = part.segs;
                    if segs.capacity() > 0 {
                        segs.clear();
                        let _ = spare_txs[k % lanes].send(segs);
                    }
                    if part.last {
                        k += 1;
                    }
                }
                let evicted = table.finish(&mut |m, c: Conn| kept.keep(c.finish(&m)));
                CPU_WORK.fetch_add(thread_cpu_ns().saturating_sub(start), Ordering::Relaxed);
                (kept, evicted)
            }));
        }
        drop(spare_txs);

        let mut release = capture::MapReleaser::with_step(map.mmap(), chunk_bytes);
        let mut chunk_start = 0usize;
        let (read, segments) = if decoders == 0 {
            let mut router = Router::new(
                lane_txs.pop().unwrap_or_default(),
                spare_rxs.pop().expect("one lane"),
                map,
            );
            let read = capture::read_guarded(map, |pkt| {
                if !seen.account(pkt) {
                    return;
                }
                router.packet(pkt);
                let end = release.offset_of(pkt.data) + pkt.data.len();
                if end - chunk_start >= chunk_bytes {
                    router.send(end);
                    chunk_start = end;
                    release.drop_before(min_done(&done_at));
                }
            });
            router.send(map.len());
            (read, router.segments)
        } else {
            // The pagers map the pages the reader will walk next and drop those every
            // worker is past, so that the reader only walks.
            let (reached, ended, done_at) = (&reached, &ended, &done_at);
            let pagers: Vec<_> = (0..decoders)
                .map(|j| {
                    spawn(scope, "wsaudit-page", move || {
                        // Slots of whole pages, about a chunk each.
                        let slot = chunk_bytes.next_multiple_of(4096);
                        page(map, j, decoders, slot, reached, ended, done_at)
                    })
                })
                .collect();
            let wake_pagers = || pagers.iter().for_each(|p| p.thread().unpark());
            let (pkt_spare_tx, pkt_spare_rx) = channel::<Vec<RawPacket<'m>>>();
            let mut chunk_txs = Vec::with_capacity(decoders);
            let mut decoder_handles = Vec::with_capacity(decoders);
            for (txs, spare) in lane_txs.into_iter().zip(spare_rxs) {
                let (tx, rx) = sync_channel::<Chunk<'m>>(DECODER_QUEUE);
                chunk_txs.push(tx);
                let pkt_spare_tx = pkt_spare_tx.clone();
                decoder_handles.push(spawn(scope, "wsaudit-work", move || {
                    let start = thread_cpu_ns();
                    let mut router = Router::new(txs, spare, map);
                    for mut chunk in rx {
                        for (i, pkt) in chunk.pkts.iter().enumerate() {
                            if let Some(ahead) = chunk.pkts.get(i + 4) {
                                capture::prefetch_line(ahead.data, 0);
                            }
                            router.packet(pkt);
                        }
                        router.send(chunk.end);
                        chunk.pkts.clear();
                        let _ = pkt_spare_tx.send(chunk.pkts);
                    }
                    CPU_DECODE.fetch_add(thread_cpu_ns().saturating_sub(start), Ordering::Relaxed);
                    router.segments
                }));
            }
            drop(pkt_spare_tx);
            let mut pkts: Vec<RawPacket<'m>> = Vec::new();
            let mut k = 0usize;
            let mut send = |pkts: &mut Vec<RawPacket<'m>>, end: usize| {
                let fresh = pkt_spare_rx
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(pkts.len()));
                let pkts = std::mem::replace(pkts, fresh);
                let _ = chunk_txs[k % decoders].send(Chunk { pkts, end });
                k += 1;
            };
            let read = capture::read_guarded(map, |pkt| {
                if !seen.account(pkt) {
                    return;
                }
                pkts.push(*pkt);
                let end = release.offset_of(pkt.data) + pkt.data.len();
                if end - chunk_start >= chunk_bytes {
                    send(&mut pkts, end);
                    chunk_start = end;
                    reached.store(end, Ordering::Release);
                    wake_pagers();
                }
            });
            if !pkts.is_empty() {
                send(&mut pkts, map.len());
            }
            drop(chunk_txs);
            ended.store(true, Ordering::Release);
            wake_pagers();
            for p in pagers {
                let _ = p.join();
            }
            let mut segments = 0;
            for d in decoder_handles {
                match d.join() {
                    Ok(n) => segments += n,
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            (read, segments)
        };
        CPU_READ.fetch_add(thread_cpu_ns().saturating_sub(started), Ordering::Relaxed);
        let mut outputs = Vec::with_capacity(workers);
        let mut evicted = 0;
        for w in handles {
            match w.join() {
                Ok((o, e)) => {
                    outputs.push(o);
                    evicted += e;
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        (read, outputs, evicted, segments)
    })
}

/// The map offset every worker has finished its parts up to.
fn min_done(done_at: &[AtomicUsize]) -> usize {
    done_at
        .iter()
        .map(|d| d.load(Ordering::Acquire))
        .min()
        .unwrap_or(0)
}

/// Start a named thread of the scope (names show in `top -H` and profilers); a thread
/// that cannot be started is a panic, as `scope.spawn`'s.
fn spawn<'scope, 'env, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    name: &str,
    f: impl FnOnce() -> T + Send + 'scope,
) -> std::thread::ScopedJoinHandle<'scope, T> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn_scoped(scope, f)
        .expect("failed to spawn thread")
}

/// Pager `j` of `pagers`: for the map's slots of `chunk_bytes` (whole pages) numbered `j`, `j +
/// pagers`, …, map each one before the reader gets there (up to [`Plan::populate_ahead`]
/// chunks past it) and drop it once every worker is past it. Page-table work on
/// different ranges runs in parallel, so it scales with the pagers.
fn page(
    map: &capture::guard::GuardedMap,
    j: usize,
    pagers: usize,
    chunk_bytes: usize,
    reached: &AtomicUsize,
    ended: &std::sync::atomic::AtomicBool,
    done_at: &[AtomicUsize],
) {
    let start = thread_cpu_ns();
    let ahead = Plan::populate_ahead(pagers) * chunk_bytes;
    let (mut next_map, mut next_drop) = (j, j);
    let mut can_populate = true;
    loop {
        let last = ended.load(Ordering::Acquire);
        let at = reached.load(Ordering::Acquire);
        // Slots the reader has passed are not worth mapping any more.
        while next_map * chunk_bytes + chunk_bytes <= at {
            next_map += pagers;
        }
        while can_populate && next_map * chunk_bytes < (at + ahead).min(map.len()) {
            let from = next_map * chunk_bytes;
            // Only a hint: a kernel without MADV_POPULATE_READ (before 5.14) or a file
            // that shrank just leaves the reader to fault the pages in.
            can_populate = map
                .mmap()
                .advise_range(
                    memmap2::Advice::PopulateRead,
                    from,
                    chunk_bytes.min(map.len() - from),
                )
                .is_ok();
            next_map += pagers;
        }
        let done = min_done(done_at);
        while (next_drop + 1) * chunk_bytes <= done {
            capture::drop_pages(map.mmap(), next_drop * chunk_bytes, chunk_bytes);
            next_drop += pagers;
        }
        if last {
            break;
        }
        std::thread::park_timeout(std::time::Duration::from_millis(2));
    }
    CPU_PAGE.fetch_add(thread_cpu_ns().saturating_sub(start), Ordering::Relaxed);
}
