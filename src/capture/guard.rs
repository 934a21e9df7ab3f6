//! Memory-mapped capture files that may shrink under the reader.
//!
//! Contract: a [`GuardedMap`] is a read-only map of a whole file, registered for as long
//! as it lives. Touching a page of it that the file no longer covers (the file was
//! truncated: logrotate `copytruncate`, a capture rewritten in place) raises SIGBUS; the
//! handler installed here maps zero pages over the rest of that mapping, records the
//! fault's offset in the map's [`GuardedMap::limit`] and returns, so the access reads
//! zeros instead of killing the process. A SIGBUS outside every registered map is handed
//! to the handler that was there before (the process dies of it as it always did).
//! Readers check [`GuardedMap::limit`] before handing a packet on (an atomic load) and
//! [`GuardedMap::recheck`] (an `fstat` of the open file) every few MiB, so a shrink is
//! noticed whether or not a page faulted, and stop at the first packet that ends past
//! the limit: what was read before is kept, the bytes past the new end are never used.
//!
//! What the map cannot promise (a copy would, at the price of copying every byte): the
//! kernel reads the part of the last page past a new end that is not a page boundary as
//! zeros without a fault, so a shrink that lands in the last MiB before the reader
//! reaches the new end can let up to one page of zero bytes through as records before the
//! next `fstat` notices; and a worker that is decoding a packet's payload at the very
//! moment its page disappears sees zeros for the rest of that one payload.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;

/// One registered map: where it lies in memory, and where its intact bytes end.
struct Slot {
    used: AtomicBool,
    /// Address of the map's first byte (page aligned) and its length in bytes.
    start: AtomicUsize,
    len: AtomicUsize,
    /// Map offset from which the bytes are not the file's any more (`usize::MAX`: all are).
    limit: AtomicUsize,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            used: AtomicBool::new(false),
            start: AtomicUsize::new(0),
            len: AtomicUsize::new(0),
            limit: AtomicUsize::new(usize::MAX),
        }
    }
}

/// Maps guarded at once; a file opened while all are taken is read as a stream instead.
const SLOTS: usize = 512;

static REGISTRY: [Slot; SLOTS] = [const { Slot::new() }; SLOTS];

/// The SIGBUS action that was installed before ours (Rust's own stack-guard handler, or
/// the default), for faults that are not ours; `None` until ours is installed.
static PREVIOUS: OnceLock<Option<libc::sigaction>> = OnceLock::new();

static PAGE: AtomicUsize = AtomicUsize::new(4096);

/// Install the handler once per process; `false` if that failed (then nothing is guarded
/// and files are read as streams).
fn install() -> bool {
    let previous = PREVIOUS.get_or_init(|| {
        // SAFETY: sysconf and sigaction with a zeroed (valid) action struct whose
        // handler is `on_sigbus`, a function that only does async-signal-safe things
        // (atomics, mmap, sigaction).
        unsafe {
            let page = libc::sysconf(libc::_SC_PAGESIZE);
            if page > 0 {
                PAGE.store(page as usize, Ordering::Relaxed);
            }
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigbus as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGBUS, &action, &mut old) != 0 {
                return None;
            }
            Some(old)
        }
    });
    previous.is_some()
}

extern "C" fn on_sigbus(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for an SA_SIGINFO handler.
    let addr = unsafe { (*info).si_addr() } as usize;
    let page = PAGE.load(Ordering::Relaxed);
    for slot in &REGISTRY {
        if !slot.used.load(Ordering::Acquire) {
            continue;
        }
        let start = slot.start.load(Ordering::Acquire);
        let len = slot.len.load(Ordering::Acquire);
        if addr < start || addr >= start + len {
            continue;
        }
        let from = addr & !(page - 1);
        let end = (start + len).div_ceil(page) * page;
        // SAFETY: [from, end) lies inside a live read-only file map of ours (registered
        // until just before it is unmapped); replacing it with private zero pages
        // changes what its readers see (zeros), never memory anyone else owns.
        let p = unsafe {
            libc::mmap(
                from as *mut libc::c_void,
                end - from,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if p != libc::MAP_FAILED {
            slot.limit.fetch_min(from - start, Ordering::AcqRel);
            return;
        }
        break;
    }
    // Not ours (or no zero pages to be had): put the previous action back and return;
    // the access faults again and that action runs (by default the process dies).
    // SAFETY: sigaction is async-signal-safe; the struct was filled by the kernel.
    unsafe {
        match PREVIOUS.get() {
            Some(Some(old)) => libc::sigaction(libc::SIGBUS, old, std::ptr::null_mut()),
            _ => {
                let mut dfl: libc::sigaction = std::mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(libc::SIGBUS, &dfl, std::ptr::null_mut())
            }
        };
    }
}

/// A read-only map of a whole file, guarded against the file shrinking (see the module
/// contract). Derefs to the mapped bytes.
pub struct GuardedMap {
    map: memmap2::Mmap,
    /// Kept open for [`GuardedMap::recheck`]: the length of this file, not of whatever
    /// the path names now.
    file: File,
    slot: &'static Slot,
}

impl GuardedMap {
    /// Map `file` (at least one byte long). Fails when it cannot be mapped (an
    /// address-space limit: `Cannot allocate memory`) or cannot be guarded; the caller
    /// then reads it as a stream.
    pub fn open(file: File) -> io::Result<GuardedMap> {
        if !install() {
            return Err(io::Error::other("cannot install the SIGBUS handler"));
        }
        let slot = REGISTRY
            .iter()
            .find(|s| {
                s.used
                    .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            })
            .ok_or_else(|| io::Error::other("too many files mapped at once"))?;
        // SAFETY: a read-only map; a shrinking file is handled by the registered handler
        // (see the module contract).
        let map = match unsafe { memmap2::Mmap::map(&file) } {
            Ok(m) => m,
            Err(e) => {
                slot.used.store(false, Ordering::Release);
                return Err(e);
            }
        };
        // `used` was set to claim the slot; the handler matches nothing until start and
        // len are set (len 0 covers no address).
        slot.limit.store(usize::MAX, Ordering::Release);
        slot.start.store(map.as_ptr() as usize, Ordering::Release);
        slot.len.store(map.len(), Ordering::Release);
        Ok(GuardedMap { map, file, slot })
    }

    /// The underlying map (for advice and page release).
    pub fn mmap(&self) -> &memmap2::Mmap {
        &self.map
    }

    /// Map offset where the file's intact bytes end: `usize::MAX` while the file has
    /// not shrunk (as far as this process saw).
    #[inline]
    pub fn limit(&self) -> usize {
        self.slot.limit.load(Ordering::Acquire)
    }

    /// Ask the file system for the file's length now; lower the limit if it shrank.
    /// Returns the limit.
    pub fn recheck(&self) -> usize {
        // SAFETY: fstat on our own open descriptor into a zeroed struct.
        let len = unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            if libc::fstat(self.file.as_raw_fd(), &mut st) == 0 {
                Some(st.st_size.max(0) as u64)
            } else {
                None
            }
        };
        if let Some(len) = len {
            if len < self.map.len() as u64 {
                self.slot.limit.fetch_min(len as usize, Ordering::AcqRel);
            }
        }
        self.limit()
    }

    /// The file's length now, for messages (`None` if it cannot be asked).
    pub fn current_len(&self) -> Option<u64> {
        self.file.metadata().ok().map(|m| m.len())
    }

    /// Offset of `data` (a slice of the map) in the map.
    #[inline]
    pub fn offset_of(&self, data: &[u8]) -> usize {
        (data.as_ptr() as usize).saturating_sub(self.map.as_ptr() as usize)
    }
}

impl std::ops::Deref for GuardedMap {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.map
    }
}

impl Drop for GuardedMap {
    fn drop(&mut self) {
        // Unregister before the map (a field) is unmapped.
        self.slot.len.store(0, Ordering::Release);
        self.slot.start.store(0, Ordering::Release);
        self.slot.used.store(false, Ordering::Release);
    }
}
