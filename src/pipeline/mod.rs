//! Wiring: one capture in, its sessions and refused upgrades out.
//!
//! Contract: [`analyze`] runs every stage over one input and always returns a
//! [`CaptureResult`], even when the file is unreadable or corrupt part-way: what was read
//! before the problem is kept and the problem is in `errors`. [`analyze_all`] runs
//! several inputs in parallel (rayon) and returns results in input order, so output is
//! deterministic. Sessions get ids `<capture>#<n>`, numbered by start time. A plain
//! capture is read through a guarded map (`capture::guard`): when it shrinks under the
//! reader, workers skip the payloads past the new end and the input ends with an error.
//!
//! Finished sessions go to a [`SessionSink`], one per worker, as soon as their
//! connection ends: [`analyze`] keeps them as records, while the table layer
//! (`table::chunks::TableSink`) turns them into compact columnar chunks at once, so a
//! long capture holds no record longer than a chunk's worth of them.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use rayon::prelude::*;

use crate::capture::{self, link, CaptureError, ReadSummary};
use crate::session::conn::Conn;
use crate::session::{ConnOutput, RefusedUpgrade, SessionRecord, TlsCount};
use crate::tcp::{ConnTable, Limits};
use crate::tls::KeyStore;

pub mod sharded;

/// [`Options::shards`] value that lets [`analyze_all`] choose from the core count.
pub const AUTO_SHARDS: usize = usize::MAX;

/// Where a capture comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Path(PathBuf),
    /// `-`: standard input.
    Stdin,
}

impl Input {
    pub fn parse(arg: &str) -> Input {
        if arg == "-" {
            Input::Stdin
        } else {
            Input::Path(PathBuf::from(arg))
        }
    }

    /// The name used in the `capture` column and in messages.
    pub fn name(&self) -> String {
        match self {
            Input::Path(p) => p.display().to_string(),
            // Not "-": a CSV cell starting with '-' would be guarded as a formula.
            Input::Stdin => "stdin".to_string(),
        }
    }
}

/// Knobs of one analysis run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub limits: Limits,
    /// The secrets of the run's key logs, for TLS connections; secrets found in
    /// captures (pcapng Decryption Secrets Blocks) are added to it as they are read.
    pub keys: Arc<KeyStore>,
    /// Show a progress bar on stderr (the caller decides: a terminal, not `--quiet`).
    pub progress: bool,
    /// Worker threads per capture for the TCP and WebSocket stages (0: all stages on
    /// the reading thread). Only plain files are sharded; compressed files and stdin
    /// are read as streams on one thread.
    pub shards: usize,
    /// Decoder threads per sharded capture, between the reader and the workers (0: the
    /// reader decodes; [`AUTO_SHARDS`] in `shards` lets [`analyze_all`] choose both).
    pub decoders: usize,
    /// Map bytes per chunk handed from the reader on (0: chosen from the lead allowed,
    /// see [`sharded::Plan::chunk_for`]); for tests, which cut chunks of one record.
    pub chunk_bytes: usize,
    /// Captures read at the same time (set by [`analyze_all`]; 0 counts as 1): each
    /// gets its share of [`MAP_LAG_BUDGET`].
    pub concurrent: usize,
}

/// Bytes read between two progress-bar updates.
const PROGRESS_STEP: u64 = 8 << 20;

/// Receives the sessions of one worker (or of a sequential run) as their connections
/// end, in that worker's finishing order.
pub trait SessionSink: Send {
    /// What the sink hands back once the capture is read.
    type Out: Send;
    fn push(&mut self, session: SessionRecord);
    fn finish(self) -> Self::Out;
    /// Finish the sinks of one capture, which all stop receiving at once (its workers
    /// are done): none of them is still being filled while the others finish.
    fn finish_all(sinks: Vec<Self>) -> Vec<Self::Out>
    where
        Self: Sized,
    {
        sinks.into_iter().map(Self::finish).collect()
    }
}

/// The plain sink: every record, as it came.
impl SessionSink for Vec<SessionRecord> {
    type Out = Vec<SessionRecord>;
    fn push(&mut self, session: SessionRecord) {
        Vec::push(self, session);
    }
    fn finish(self) -> Self::Out {
        self
    }
}

/// Everything one capture produced. `S` holds the sessions: sorted and numbered
/// records for [`analyze`], one sink output per worker for [`analyze_all_with`].
#[derive(Debug, Default)]
pub struct CaptureResult<S = Vec<SessionRecord>> {
    pub name: String,
    pub read: ReadSummary,
    /// I/O failure opening or reading the input (not a format problem).
    pub io_error: Option<String>,
    pub sessions: S,
    pub refused: Vec<RefusedUpgrade>,
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    pub tcp_segments: u64,
    /// Connections dropped because the table was full.
    pub evicted: u64,
    /// Connections ignored because an HTTP head outgrew `http::MAX_HEAD`.
    pub oversized_heads: u64,
    /// TLS connections, and how many of them could be decrypted.
    pub tls: TlsCounts,
}

/// How the TLS connections of a capture went.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TlsCounts {
    pub connections: u64,
    pub decrypted: u64,
    /// No secrets for their client random in the key logs.
    pub no_key: u64,
    /// A suite or version this tool does not decrypt (CBC suites, ...).
    pub unsupported: u64,
    /// The capture did not hold their handshake.
    pub no_handshake: u64,
    /// Handshakes that failed (no ServerHello, a fatal alert, a side that never
    /// finished): no WebSocket, no row.
    pub handshake_failed: u64,
    /// The fatal alerts of those (`unknown_ca by client`), with counts.
    pub failure_alerts: std::collections::BTreeMap<String, u64>,
}

impl TlsCounts {
    fn count(&mut self, c: TlsCount) {
        self.connections += 1;
        match c {
            TlsCount::Decrypted => self.decrypted += 1,
            TlsCount::NoKey => self.no_key += 1,
            TlsCount::Unsupported => self.unsupported += 1,
            TlsCount::NoHandshake => self.no_handshake += 1,
            TlsCount::HandshakeFailed(alert) => {
                self.handshake_failed += 1;
                if let Some(a) = alert {
                    *self.failure_alerts.entry(a).or_insert(0) += 1;
                }
            }
        }
    }

    pub fn add(&mut self, o: &TlsCounts) {
        self.connections += o.connections;
        self.decrypted += o.decrypted;
        self.no_key += o.no_key;
        self.unsupported += o.unsupported;
        self.no_handshake += o.no_handshake;
        self.handshake_failed += o.handshake_failed;
        for (a, n) in &o.failure_alerts {
            *self.failure_alerts.entry(a.clone()).or_insert(0) += n;
        }
    }
}

impl<S> CaptureResult<S> {
    pub fn failed(&self) -> bool {
        self.io_error.is_some() || self.read.failed()
    }

    /// Every problem, as `what at byte N` lines (without the file name).
    pub fn problems(&self) -> Vec<String> {
        let mut v: Vec<String> = self.io_error.iter().cloned().collect();
        v.extend(self.read.errors.iter().map(CaptureError::to_string));
        v
    }
}

/// Analyse one capture.
pub fn analyze(input: &Input, opts: &Options) -> CaptureResult {
    analyze_with(input, opts, None)
}

/// What the reading side sees of every packet, whichever mode runs the stages.
struct Seen<'p> {
    keys: &'p KeyStore,
    first_ts: Option<i64>,
    last_ts: Option<i64>,
    segments: u64,
    progress: Option<&'p indicatif::ProgressBar>,
    unreported: u64,
}

impl<'p> Seen<'p> {
    fn new(keys: &'p KeyStore, progress: Option<&'p indicatif::ProgressBar>) -> Self {
        Seen {
            keys,
            first_ts: None,
            last_ts: None,
            segments: 0,
            progress,
            unreported: 0,
        }
    }

    /// Account for one record: `false` for a pcapng key log, which goes to the key
    /// store here, on the reading thread, before any packet after it is handed on.
    #[inline]
    fn account(&mut self, pkt: &capture::RawPacket<'_>) -> bool {
        if pkt.is_tls_keys() {
            self.keys.add_embedded(pkt.data);
            return false;
        }
        if let Some(pb) = self.progress {
            self.unreported += pkt.data.len() as u64 + 16;
            if self.unreported >= PROGRESS_STEP {
                pb.inc(self.unreported);
                self.unreported = 0;
            }
        }
        self.first_ts = Some(self.first_ts.map_or(pkt.ts_ns, |t| t.min(pkt.ts_ns)));
        self.last_ts = Some(self.last_ts.map_or(pkt.ts_ns, |t| t.max(pkt.ts_ns)));
        true
    }

    /// Account for one packet and decode it down to TCP.
    fn packet<'a>(&mut self, pkt: &capture::RawPacket<'a>) -> Option<link::Segment<'a>> {
        if !self.account(pkt) {
            return None;
        }
        let seg = link::decode(pkt.linktype, pkt.data)?;
        self.segments += 1;
        Some(seg)
    }
}

/// What one worker produced: its sink's output and the refused upgrades it saw.
struct Kept<K> {
    sink: K,
    refused: Vec<RefusedUpgrade>,
    oversized_heads: u64,
    tls: TlsCounts,
}

impl<K: SessionSink> Kept<K> {
    fn new(sink: K) -> Self {
        Kept {
            sink,
            refused: Vec::new(),
            oversized_heads: 0,
            tls: TlsCounts::default(),
        }
    }

    /// Keep what a finished connection produced, if anything: most connections of a
    /// busy capture (or a SYN flood) are no WebSocket session.
    fn keep(&mut self, o: ConnOutput) {
        for s in o.sessions {
            self.sink.push(s);
        }
        if let Some(c) = o.tls {
            self.tls.count(c);
        }
        self.refused.extend(o.refused);
        self.oversized_heads += u64::from(o.oversized_head);
    }
}

/// Mapped capture bytes the sharded readers of all captures read at once may keep
/// resident, together: each of `n` captures gets `1/n` of it, and its chunk size
/// follows (`sharded::Plan::chunk_for`), so that file-backed memory does not grow with
/// the number of captures or threads (4 x 1 GiB at `--threads 16` kept 164 MiB of
/// mapped pages when each reader had its own lead). A capture read on one thread keeps
/// at most two of `capture::MapReleaser`'s steps.
pub const MAP_LAG_BUDGET: usize = 32 << 20;

/// How much of the map the reader of one of `concurrent` captures may keep resident.
fn lead_for(concurrent: usize) -> usize {
    MAP_LAG_BUDGET / concurrent.max(1)
}

/// Which worker a segment's connection belongs to: a fixed, symmetric hash of the
/// address pair, so both directions (and every run) land on the same worker.
#[inline]
fn shard_of(seg: &link::Segment<'_>, shards: usize) -> usize {
    if shards == 1 {
        return 0;
    }
    let (a, b) = (
        crate::tcp::addr_bits(&seg.src),
        crate::tcp::addr_bits(&seg.dst),
    );
    // Symmetric in a and b; then a multiplicative mix (the high bits are the best).
    let x = (a ^ b) ^ (a.wrapping_add(b) >> 7);
    let folded = (x as u64) ^ ((x >> 64) as u64);
    let mixed = folded.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    ((mixed >> 32) % shards as u64) as usize
}

/// Run every stage on this thread.
fn run_sequential<K: SessionSink>(
    input: &Input,
    cap: &Arc<str>,
    keys: &Arc<KeyStore>,
    limits: Limits,
    seen: &mut Seen<'_>,
    sink: &(dyn Fn() -> K + Sync),
) -> (io::Result<capture::ReadSummary>, Vec<Kept<K>>, u64) {
    let mut kept = Kept::new(sink());
    let mut table = ConnTable::new(limits, |_, _| Conn::new(cap.clone(), keys.clone()));
    let read = {
        let mut on_packet = |pkt: &capture::RawPacket<'_>| {
            if let Some(seg) = seen.packet(pkt) {
                table.segment(&seg, pkt.ts_ns, &mut |meta, conn: Conn| {
                    kept.keep(conn.finish(&meta));
                });
            }
        };
        match input {
            Input::Path(p) => capture::read_path(p, &mut on_packet),
            Input::Stdin => capture::read_any_stream(io::stdin().lock(), &mut on_packet),
        }
    };
    let evicted = table.finish(&mut |meta, conn: Conn| kept.keep(conn.finish(&meta)));
    (read, vec![kept], evicted)
}

/// A plain (uncompressed) capture file, memory-mapped and guarded against shrinking
/// (`capture::guard`); `None` when it is compressed, empty or cannot be mapped (an
/// address-space limit): the streaming reader then handles it, errors included.
fn map_plain(path: &std::path::Path) -> Option<capture::guard::GuardedMap> {
    let file = std::fs::File::open(path).ok()?;
    if file.metadata().ok()?.len() < 4 {
        return None;
    }
    let map = capture::guard::GuardedMap::open(file).ok()?;
    if capture::Compression::sniff(&map) != capture::Compression::None {
        return None;
    }
    #[cfg(unix)]
    let _ = map.mmap().advise(memmap2::Advice::Sequential);
    Some(map)
}

/// Run every stage over one input, handing its sessions to sinks made by `sink`.
fn analyze_into<K: SessionSink>(
    input: &Input,
    opts: &Options,
    progress: Option<&indicatif::ProgressBar>,
    sink: &(dyn Fn() -> K + Sync),
) -> CaptureResult<Vec<K::Out>> {
    let name = input.name();
    let cap: Arc<str> = Arc::from(name.as_str());
    let mut seen = Seen::new(&opts.keys, progress);
    let map: Option<capture::guard::GuardedMap> = match (input, opts.shards) {
        (Input::Path(p), n) if n > 0 => map_plain(p),
        _ => None,
    };
    let (read, kept, evicted) = match &map {
        Some(map) => {
            let plan = sharded::Plan {
                decoders: opts.decoders,
                workers: opts.shards,
                chunk_bytes: match opts.chunk_bytes {
                    0 => sharded::Plan::chunk_for(lead_for(opts.concurrent), opts.decoders),
                    n => n,
                },
            };
            let (r, k, e, segments) =
                sharded::run(map, &cap, &opts.keys, opts.limits, plan, &mut seen, sink);
            seen.segments += segments;
            (Ok(r), k, e)
        }
        None => run_sequential(input, &cap, &opts.keys, opts.limits, &mut seen, sink),
    };
    let (read, io_error) = match read {
        Ok(r) => (r, None),
        Err(e) => (ReadSummary::default(), Some(format!("cannot read: {e}"))),
    };
    let mut sinks = Vec::with_capacity(kept.len());
    let mut refused: Vec<RefusedUpgrade> = Vec::new();
    let mut oversized_heads = 0;
    let mut tls = TlsCounts::default();
    for k in kept {
        sinks.push(k.sink);
        refused.extend(k.refused);
        oversized_heads += k.oversized_heads;
        tls.add(&k.tls);
    }
    let parts = K::finish_all(sinks);
    refused.sort_by_key(|r| (r.time, r.client, r.server));
    CaptureResult {
        name,
        read,
        io_error,
        sessions: parts,
        refused,
        first_ts: seen.first_ts,
        last_ts: seen.last_ts,
        tcp_segments: seen.segments,
        evicted,
        oversized_heads,
        tls,
    }
}

/// The order sessions are numbered in: start time, then the address pair. Sorting is
/// stable, so ties keep the workers' order (worker by worker, finishing order within).
pub fn session_order(r: &SessionRecord) -> (i64, std::net::SocketAddr, std::net::SocketAddr) {
    (r.start_time, r.client, r.server)
}

/// A session's id: `<capture>#<n>`, `n` counting from 1 in [`session_order`].
pub fn session_id(capture: &str, n: usize) -> String {
    format!("{capture}#{n}")
}

fn analyze_with(
    input: &Input,
    opts: &Options,
    progress: Option<&indicatif::ProgressBar>,
) -> CaptureResult {
    let r = analyze_into(input, opts, progress, &Vec::new);
    let mut sessions: Vec<SessionRecord> = r.sessions.into_iter().flatten().collect();
    sessions.sort_by_key(session_order);
    for (i, s) in sessions.iter_mut().enumerate() {
        s.session_id = session_id(&r.name, i + 1);
    }
    CaptureResult {
        name: r.name,
        read: r.read,
        io_error: r.io_error,
        sessions,
        refused: r.refused,
        first_ts: r.first_ts,
        last_ts: r.last_ts,
        tcp_segments: r.tcp_segments,
        evicted: r.evicted,
        oversized_heads: r.oversized_heads,
        tls: r.tls,
    }
}

/// Analyse several captures in parallel; results come back in input order.
pub fn analyze_all(inputs: &[Input], opts: &Options) -> Vec<CaptureResult> {
    run_all(inputs, opts, analyze_with)
}

/// As [`analyze_all`], with each worker's sessions going to a sink made by `sink`
/// (its outputs in worker order; number them with [`session_order`] and [`session_id`]).
pub fn analyze_all_with<K: SessionSink>(
    inputs: &[Input],
    opts: &Options,
    sink: &(dyn Fn() -> K + Sync),
) -> Vec<CaptureResult<Vec<K::Out>>> {
    run_all(inputs, opts, |i, opts, pb| analyze_into(i, opts, pb, sink))
}

/// Share of a capture's threads (beside its reader) that decode, and as many again
/// page: the decoders' and the pagers' CPU time per GiB are each about a fifth of the
/// decoders', pagers' and workers' together (the per-stage benchmark,
/// `benches/README.md`).
const DECODE_SHARE: f64 = 0.2;

/// Decoders and workers per capture when `threads` threads read `files` captures: as many
/// captures at once as there are threads, each with `threads / files` threads (a run
/// never starts more threads than asked). A capture with fewer than four threads reads
/// with one reader and workers; beyond that a `DECODE_SHARE` (0.2) of its threads decode and
/// as many page (`sharded`). Fewer than two threads per capture: every capture on one
/// thread.
pub fn split_threads(threads: usize, files: usize) -> (usize, usize) {
    if files == 0 || threads / files < 2 {
        return (0, 0);
    }
    split_file_threads(threads / files)
}

/// Decoders and workers of a capture given `own` threads, its reader included.
fn split_file_threads(own: usize) -> (usize, usize) {
    let helpers = own.saturating_sub(1);
    if helpers < 3 {
        return (0, helpers);
    }
    let decoders = ((helpers as f64 * DECODE_SHARE).round() as usize).clamp(1, (helpers - 1) / 2);
    (decoders, helpers - 2 * decoders)
}

/// As [`split_threads`] for captures of these sizes in bytes: each gets two threads, and
/// the threads left over go to the captures by size (largest remainders first), so a big
/// capture beside small ones is not held to an equal share. Never more threads than
/// asked in all.
pub fn split_threads_by_size(threads: usize, sizes: &[u64]) -> Vec<(usize, usize)> {
    let files = sizes.len();
    if files == 0 || threads / files < 2 {
        return vec![(0, 0); files];
    }
    let spare = (threads - 2 * files) as u128;
    let total: u128 = sizes.iter().map(|&s| u128::from(s.max(1))).sum();
    let exact: Vec<u128> = sizes
        .iter()
        .map(|&s| spare * u128::from(s.max(1)))
        .collect();
    let mut own: Vec<usize> = exact.iter().map(|e| 2 + (e / total) as usize).collect();
    let mut left = threads - own.iter().sum::<usize>();
    let mut by_remainder: Vec<usize> = (0..files).collect();
    by_remainder.sort_by_key(|&i| std::cmp::Reverse(exact[i] % total));
    for i in by_remainder {
        if left == 0 {
            break;
        }
        own[i] += 1;
        left -= 1;
    }
    own.into_iter().map(split_file_threads).collect()
}

fn run_all<R: Send>(
    inputs: &[Input],
    opts: &Options,
    one: impl Fn(&Input, &Options, Option<&indicatif::ProgressBar>) -> R + Sync,
) -> Vec<R> {
    let sizes: Vec<u64> = inputs
        .iter()
        .map(|i| match i {
            Input::Path(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
            Input::Stdin => 0,
        })
        .collect();
    let progress = opts.progress.then(|| {
        let pb = indicatif::ProgressBar::with_draw_target(
            Some(sizes.iter().sum()),
            indicatif::ProgressDrawTarget::stderr_with_hz(4),
        );
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left) {wide_bar}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    });
    let threads = rayon::current_num_threads();
    let mut opts = opts.clone();
    opts.concurrent = inputs.len().min(threads).max(1);
    let plans: Vec<(usize, usize)> = if opts.shards == AUTO_SHARDS {
        split_threads_by_size(threads, &sizes)
    } else {
        vec![(opts.decoders, opts.shards); inputs.len()]
    };
    let results = inputs
        .par_iter()
        .zip(plans)
        .map(|(i, (decoders, shards))| {
            let opts = Options {
                decoders,
                shards,
                ..opts.clone()
            };
            one(i, &opts, progress.as_ref())
        })
        .collect();
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    results
}
