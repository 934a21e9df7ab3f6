//! TCP stage: from captured segments to per-direction byte streams.
//!
//! - [`seq`]: [`SeqNumber`], a `u32` sequence number compared and subtracted with
//!   wrap-around, as smoltcp's `SeqNumber`.
//! - [`reassembly`]: [`Reassembler`], one per direction of a connection. It turns
//!   segments (in any order, duplicated, overlapping, with some missing) into an ordered
//!   stream of [`Chunk`]s: data, or an explicit [`Chunk::Gap`] where bytes were never
//!   captured. Overlaps are resolved by a named policy, [`OverlapPolicy::First`].
//!
//! Contract for callers: stream positions are `u64` offsets from the stream start (the
//! SYN's sequence number + 1, or the first segment seen in a mid-stream capture), so they
//! never wrap; only the `u32` sequence numbers on the wire do.

pub mod reassembly;
pub mod seq;

pub use reassembly::{
    Chunk, OverlapPolicy, Reassembler, ReassemblyStats, DEFAULT_MAX_BUFFERED, DEFAULT_MAX_SEGMENTS,
    MAX_AHEAD,
};
pub use seq::SeqNumber;

pub mod conn;
pub use conn::{addr_bits, ConnMeta, ConnTable, Dir, EndKind, Limits, Release, StreamHandler};
