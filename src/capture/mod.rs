//! Capture files in, packets out.
//!
//! Contract: [`read_file`] and [`read_stream`] walk a pcap or pcapng capture and call the
//! given closure once per packet, in file order, with a [`RawPacket`] that borrows the
//! input (a memory-mapped file is never copied). Reading never stops at the first bad
//! record if it can go on; every problem becomes a [`CaptureError`] carrying the byte
//! offset where it was found, and what was read before a fatal error has already been
//! handed on. Memory is bounded: a streamed reader holds at most one record
//! ([`format::MAX_RECORD`]) plus one read buffer. A mapped file is a
//! [`guard::GuardedMap`]: if it shrinks while it is read, reading stops at the first
//! packet past the new end with a fatal `the file shrank to N bytes while being read`
//! error instead of a SIGBUS; a file that cannot be mapped (`ulimit -v`) is streamed.

pub mod format;
pub mod guard;
pub mod link;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

pub use format::{Format, RawPacket};
use format::{Parser, Step};

/// A problem with the capture file itself (not with the traffic in it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at byte {offset}")]
pub struct CaptureError {
    /// Byte offset in the (decompressed) input where the problem was found.
    pub offset: u64,
    pub message: String,
    /// Whether reading stopped here.
    pub fatal: bool,
}

/// What a read saw, whatever happened to the traffic.
#[derive(Debug, Clone, Default)]
pub struct ReadSummary {
    pub format: Option<Format>,
    pub packets: u64,
    pub bytes: u64,
    /// Packets cut short by the snaplen.
    pub snapped_packets: u64,
    /// Errors, in file order; a fatal one is last.
    pub errors: Vec<CaptureError>,
}

impl ReadSummary {
    pub fn failed(&self) -> bool {
        !self.errors.is_empty()
    }
}

/// Non-fatal errors kept per file; more are counted in the last message only.
const MAX_ERRORS: usize = 100;

struct Walker {
    parser: Parser,
    summary: ReadSummary,
    suppressed: u64,
    /// Stopped because a packet ended past the intact bytes of a shrunk file.
    shrunk: bool,
}

impl Walker {
    fn new() -> Self {
        Walker {
            parser: Parser::new(),
            summary: ReadSummary::default(),
            suppressed: 0,
            shrunk: false,
        }
    }

    fn error(&mut self, offset: u64, message: String, fatal: bool) {
        if self.summary.errors.len() < MAX_ERRORS || fatal {
            self.summary.errors.push(CaptureError {
                offset,
                message,
                fatal,
            });
        } else {
            self.suppressed += 1;
        }
    }

    /// Walk every complete record in `window` (which starts at file offset `base`).
    /// Returns how many bytes were consumed, and whether reading must stop.
    fn walk<'a, F: FnMut(&RawPacket<'a>)>(
        &mut self,
        window: &'a [u8],
        base: u64,
        on_packet: &mut F,
    ) -> (usize, bool) {
        self.walk_upto(window, base, on_packet, &mut |_| true)
    }

    /// [`Walker::walk`], handing on only packets for which `intact(end)` holds, `end`
    /// being the window offset just past the packet's record; the first that fails
    /// stops the walk (`shrunk`).
    #[inline(always)]
    fn walk_upto<'a, F: FnMut(&RawPacket<'a>), I: FnMut(usize) -> bool>(
        &mut self,
        window: &'a [u8],
        base: u64,
        on_packet: &mut F,
        intact: &mut I,
    ) -> (usize, bool) {
        let mut pos = 0usize;
        let mut ahead = 0usize;
        loop {
            match self.parser.next(&window[pos..]) {
                Step::Packet(pkt, used) => {
                    if !intact(pos + used) {
                        self.shrunk = true;
                        return (pos, true);
                    }
                    prefetch(window, pos + used);
                    ahead = prefetch_stream(window, ahead.max(pos + used), pos + used);
                    if pkt.is_tls_keys() {
                        on_packet(&pkt);
                        pos += used;
                        continue;
                    }
                    self.summary.packets += 1;
                    self.summary.bytes += pkt.data.len() as u64;
                    if (pkt.data.len() as u64) < pkt.orig_len as u64 {
                        self.summary.snapped_packets += 1;
                    }
                    on_packet(&pkt);
                    pos += used;
                }
                Step::Skip(used) => pos += used,
                Step::Bad(used, msg) => {
                    self.error(base + pos as u64, msg, false);
                    pos += used;
                }
                Step::NeedMore => return (pos, false),
                Step::Fatal(msg) => {
                    self.error(base + pos as u64, msg, true);
                    return (pos, true);
                }
            }
        }
    }

    fn end(mut self, leftover: usize, offset: u64) -> ReadSummary {
        if leftover > 0 {
            let what = match self.parser.format() {
                None if offset == 0 => "file too short to be a capture".to_string(),
                None => "truncated file header".to_string(),
                Some(_) => format!("truncated record ({leftover} bytes left)"),
            };
            self.error(offset, what, true);
        } else if self.parser.format().is_none() && !self.summary.errors.iter().any(|e| e.fatal) {
            self.error(
                offset,
                "empty file: not a pcap or pcapng capture".into(),
                true,
            );
        }
        if self.suppressed > 0 {
            let len = self.summary.errors.len();
            let at = match self.summary.errors.last() {
                Some(e) if e.fatal => len - 1,
                _ => len,
            };
            self.summary.errors.insert(
                at,
                CaptureError {
                    offset,
                    message: format!("{} more errors not shown", self.suppressed),
                    fatal: false,
                },
            );
        }
        self.summary.format = self.parser.format();
        self.summary
    }
}

/// Read a capture held entirely in memory (e.g. a memory-mapped file).
/// Packets borrow `data` for its whole lifetime, so they may be kept or sent to other
/// threads while `data` lives.
pub fn read_slice<'a, F: FnMut(&RawPacket<'a>)>(data: &'a [u8], mut on_packet: F) -> ReadSummary {
    let mut w = Walker::new();
    let (used, fatal) = w.walk(data, 0, &mut on_packet);
    if fatal {
        return w.end(0, used as u64);
    }
    w.end(data.len() - used, used as u64)
}

/// How far ahead of the record being read every cache line is asked for.
const STREAM_AHEAD: usize = 2048;

/// Ask for every cache line from `from` up to [`STREAM_AHEAD`] past `at`, and return
/// where that stopped. Record headers lie anywhere in those lines, and one miss per
/// record was the walk's cost: a walk over mapped pages took 122 ms per GiB with only
/// the next record's header prefetched, 96 ms with this too (`examples` walk, 1 GiB
/// mixed bench capture, 1.29 M records).
#[inline(always)]
fn prefetch_stream(window: &[u8], mut from: usize, at: usize) -> usize {
    let to = at + STREAM_AHEAD;
    while from < to {
        prefetch_line(window, from);
        from += 64;
    }
    from
}

/// Ask the CPU to start loading the cache line at `data[at]` (any offset: a hint that
/// never faults, inside the slice or not).
#[inline(always)]
pub fn prefetch_line(data: &[u8], at: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetch is a hint that never dereferences in a way that can fault, even
    // for addresses outside the slice.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch(data.as_ptr().wrapping_add(at) as *const i8, _MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (data, at);
}

/// Ask the CPU to start loading the next record's header and first bytes (where the
/// link, IP and TCP headers are) while this record is decoded, and a few KiB further on:
/// on a capture read once from the page cache, waiting for those lines was the reading
/// thread's biggest cost. A hint only; never faults, whatever the offset.
#[inline(always)]
fn prefetch(window: &[u8], at: usize) {
    prefetch_line(window, at);
    prefetch_line(window, at + 64);
    prefetch_line(window, at + 4096);
}

/// How the bytes of an input are packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// Recognise gzip and zstd by their magic numbers (not by file name).
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// Read a capture from a buffered stream, decompressing gzip or zstd transparently.
/// Offsets in errors are offsets in the decompressed capture.
pub fn read_any_stream<R: BufRead, F: FnMut(&RawPacket<'_>)>(
    mut reader: R,
    on_packet: F,
) -> io::Result<ReadSummary> {
    let head = reader.fill_buf()?;
    match Compression::sniff(head) {
        Compression::None => read_stream(reader, on_packet),
        Compression::Gzip => read_stream(flate2::bufread::MultiGzDecoder::new(reader), on_packet),
        Compression::Zstd => read_stream(zstd::Decoder::with_buffer(reader)?, on_packet),
    }
}

/// Read a capture file: memory-mapped when plain, streamed when gzip or zstd.
pub fn read_path<F: FnMut(&RawPacket<'_>)>(path: &Path, on_packet: F) -> io::Result<ReadSummary> {
    let mut head = [0u8; 4];
    let n = {
        let mut f = File::open(path)?;
        let mut n = 0;
        while n < head.len() {
            match f.read(&mut head[n..])? {
                0 => break,
                k => n += k,
            }
        }
        n
    };
    match Compression::sniff(&head[..n]) {
        Compression::None => read_file(path, on_packet),
        _ => read_any_stream(
            BufReader::with_capacity(1 << 20, File::open(path)?),
            on_packet,
        ),
    }
}

/// Bounds the resident memory of reading a memory-mapped capture: pages of the map that
/// were read long enough ago are dropped from this process (they stay in the page cache,
/// and a late reader just faults them back in from there), so RSS stays flat however big
/// the file is.
pub struct MapReleaser<'m> {
    map: &'m memmap2::Mmap,
    released: usize,
    step: usize,
}

impl<'m> MapReleaser<'m> {
    /// Drop pages in steps of at least this size. Mapped pages count in the resident
    /// set, so up to this much (plus what consumers still hold) stays resident.
    const STEP: usize = 1 << 20;

    pub fn new(map: &'m memmap2::Mmap) -> Self {
        Self::with_step(map, Self::STEP)
    }

    /// A releaser that drops pages in steps of `step` bytes (rounded to whole pages),
    /// for readers that know exactly how far their consumers got.
    pub fn with_step(map: &'m memmap2::Mmap, step: usize) -> Self {
        MapReleaser {
            map,
            released: 0,
            step: step.max(4096),
        }
    }

    /// Offset of `data` (a slice of the map) in the map.
    #[inline]
    pub fn offset_of(&self, data: &[u8]) -> usize {
        (data.as_ptr() as usize).saturating_sub(self.map.as_ptr() as usize)
    }

    /// The reader has reached `data` (a slice of the map), and nothing before it will
    /// be read again: for a reader that consumes packets at once.
    #[inline]
    pub fn reached(&mut self, data: &[u8]) {
        let at = self.offset_of(data);
        self.done_before(at);
    }

    /// Every consumer is past map offset `at`: drop the whole pages before it once at
    /// least a step of them is pending (for readers that know how far their consumers
    /// got, so no slack is kept).
    #[inline]
    pub fn drop_before(&mut self, at: usize) {
        if at >= self.released + self.step {
            let page = 4096;
            let start = self.released / page * page;
            let len = (at - start) / page * page;
            drop_pages(self.map, start, len);
            self.released = start + len;
        }
    }

    /// Nothing before map offset `at` will be read again. A page dropped too early is
    /// only faulted back in from the page cache, never wrong — but then stays resident.
    #[inline]
    pub fn done_before(&mut self, at: usize) {
        if at >= self.released + 2 * self.step {
            let upto = at - self.step;
            let page = 4096;
            let start = self.released / page * page;
            let len = (upto - start) / page * page;
            drop_pages(self.map, start, len);
            self.released = start + len;
        }
    }
}

/// Drop this process's copy of the map's pages in `start..start + len` (page-aligned
/// `start`): they stay in the page cache, and reading them again faults them back in.
pub fn drop_pages(map: &memmap2::Mmap, start: usize, len: usize) {
    #[cfg(unix)]
    // SAFETY: the map is a read-only mapping of a file. MADV_DONTNEED only drops our
    // copy of the pages; reading them again faults them back in with the same contents
    // from the page cache (no zero-fill, as for anonymous memory).
    unsafe {
        let _ = map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, len);
    }
    #[cfg(not(unix))]
    let _ = (map, start, len);
}

/// How often (bytes read) a guarded reader asks the file system whether the file shrank.
const RECHECK_STEP: usize = 1 << 20;

/// Read a guarded map of a capture file: as [`read_slice`], but stopping at the first
/// packet that ends past the file's intact bytes when the file shrinks under the reader
/// (see [`guard`]); that ends the read with a fatal `the file shrank to N bytes while
/// being read at byte M` error, M being where the reading stopped. A shrink seen only once
/// the whole map was read fails the read too: the bytes read last may have been zeros.
pub fn read_guarded<'a, F: FnMut(&RawPacket<'a>)>(
    map: &'a guard::GuardedMap,
    mut on_packet: F,
) -> ReadSummary {
    let mut w = Walker::new();
    let mut next_check = RECHECK_STEP;
    let mut intact = |end: usize| {
        if end >= next_check {
            next_check = end + RECHECK_STEP;
            map.recheck();
        }
        end <= map.limit()
    };
    let data: &'a [u8] = map;
    let (used, fatal) = w.walk_upto(data, 0, &mut on_packet, &mut intact);
    // A shrink noticed only after the last packet still cut the read short when the map
    // was read to its end: the last bytes may have been zeros.
    if w.shrunk || map.recheck() < data.len() {
        let now = map.current_len().unwrap_or(map.limit() as u64);
        w.error(
            used as u64,
            format!("the file shrank to {now} bytes while being read"),
            true,
        );
        return w.end(0, used as u64);
    }
    if fatal {
        return w.end(0, used as u64);
    }
    w.end(data.len() - used, used as u64)
}

/// Read a plain capture file, memory-mapped and guarded ([`read_guarded`]); streamed
/// ([`read_stream`]) when it cannot be mapped (an address-space limit such as
/// `ulimit -v`) or guarded.
pub fn read_file<F: FnMut(&RawPacket<'_>)>(path: &Path, on_packet: F) -> io::Result<ReadSummary> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(read_slice(&[], on_packet));
    }
    let map = match guard::GuardedMap::open(file.try_clone()?) {
        Ok(map) => {
            drop(file);
            map
        }
        Err(_) => return read_open_file(file, len, on_packet),
    };
    #[cfg(unix)]
    let _ = map.mmap().advise(memmap2::Advice::Sequential);
    let mut release = MapReleaser::new(map.mmap());
    let mut on_packet = on_packet;
    Ok(read_guarded(&map, |pkt| {
        release.reached(pkt.data);
        on_packet(pkt)
    }))
}

/// Read an open plain capture file of `len` bytes as a stream; a file that shrank below
/// `len` meanwhile ends with the same error as [`read_guarded`]'s.
pub fn read_open_file<F: FnMut(&RawPacket<'_>)>(
    file: File,
    len: u64,
    on_packet: F,
) -> io::Result<ReadSummary> {
    let probe = file.try_clone()?;
    let mut summary = read_stream(file, on_packet)?;
    let now = probe.metadata().map(|m| m.len()).unwrap_or(len);
    if now < len {
        let at = summary.errors.last().map_or(now, |e| e.offset);
        if summary.errors.last().is_some_and(|e| e.fatal) {
            summary.errors.pop();
        }
        summary.errors.push(CaptureError {
            offset: at,
            message: format!("the file shrank to {now} bytes while being read"),
            fatal: true,
        });
    }
    Ok(summary)
}

/// Read a capture from a stream (stdin, a decompressor) with bounded memory.
pub fn read_stream<R: Read, F: FnMut(&RawPacket<'_>)>(
    mut reader: R,
    mut on_packet: F,
) -> io::Result<ReadSummary> {
    const CHUNK: usize = 1 << 20;
    let mut w = Walker::new();
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK * 2);
    let mut start = 0usize; // consumed bytes at the front of buf
    let mut base = 0u64; // file offset of buf[0]
    loop {
        // Make room: drop consumed bytes, then read up to CHUNK more.
        if start > 0 {
            buf.drain(..start);
            base += start as u64;
        }
        let old = buf.len();
        buf.resize(old + CHUNK, 0);
        let n = loop {
            match reader.read(&mut buf[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // A corrupt or cut compressed stream (or a failing device): keep
                    // what was read, and say where the readable data ended.
                    buf.truncate(old);
                    let (used, _) = w.walk(&buf, base, &mut on_packet);
                    let at = base + used as u64;
                    w.error(at, format!("cannot read further: {e}"), true);
                    return Ok(w.end(0, at));
                }
            }
        };
        buf.truncate(old + n);
        let (used, fatal) = w.walk(&buf, base, &mut on_packet);
        start = used;
        if fatal {
            return Ok(w.end(0, base + used as u64));
        }
        if n == 0 {
            let left = buf.len() - used;
            return Ok(w.end(left, base + used as u64));
        }
        if buf.len() - used > format::MAX_RECORD + CHUNK {
            // The parser checks lengths, so this cannot happen; guard anyway.
            w.error(
                base + used as u64,
                "record larger than the limit".into(),
                true,
            );
            return Ok(w.end(0, base + used as u64));
        }
    }
}
