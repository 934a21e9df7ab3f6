//! Session rows to tables, summaries and files.
//!
//! - [`table`]: the session and refused-upgrade tables as polars `DataFrame`s.
//! - [`spill`]: session rows past the memory budget, as sorted runs on disk, merged back.
//! - [`export`]: the session table's export, fed batch by batch.
//! - [`summary`]: the human summary printed by `wsaudit analyze`.
//! - [`write`](mod@write): CSV / Parquet / JSON / JSONL writers (atomic, whole or in
//!   batches).
//! - [`text`]: wire text made safe for terminals.

pub mod breakdown;
pub mod columns;
pub mod diagnose;
pub mod export;
pub mod html;
pub mod load;
pub mod markdown;
pub mod percode;
pub mod reconnect;
pub mod spill;
pub mod summary;
pub mod table;
pub mod text;
pub mod timeline;
pub mod write;
