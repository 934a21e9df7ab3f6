//! The session table as storage: what the analyses read and the exports write.
//!
//! Contract: one schema for every row, whatever it came from (`docs/schema.md`):
//! [`session`] declares every column once (name, type, how a capture record and a log
//! record fill it) and builds the table from either; [`spill`] keeps rows past the memory budget on disk as sorted runs and
//! merges them back; [`write`](mod@write) writes tables (CSV, Parquet, JSON, JSON Lines;
//! atomic, whole or batch by batch), [`export`] feeds it the session rows as they are
//! merged, [`load`] reads exported tables back. Storage knows nothing of the analyses.
//!
//! [`columns`] holds the typed accessors the analyses use to read a column out.

pub mod chunks;
pub mod columns;
pub mod drain;
pub mod error;
pub mod export;
pub mod load;
pub mod run;
pub mod session;
pub mod spill;
pub mod write;
