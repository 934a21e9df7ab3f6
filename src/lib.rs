//! wsaudit: how WebSocket sessions end, from packet captures.
//!
//! The pipeline, one module per stage (data flows one way):
//!
//! ```text
//! capture file(s) ─► capture (packets) ─► capture::link (TCP segments)
//!   ─► tcp (per-connection in-order byte streams, gaps, ends)
//!   ─► http (upgrade) ─► ws (frames, Close payloads, anomalies)
//!   ─► session (one record per session, classified ending)
//!   ─► report (polars DataFrame, terminal summary, CSV / Parquet / JSON)
//! ```
//!
//! [`pipeline`] wires the stages for one capture; `main.rs` only maps results to exit
//! codes and messages.

#[cfg(feature = "report")]
pub mod analysis;
#[cfg(feature = "report")]
pub mod audit;
pub mod capture;
#[cfg(feature = "report")]
pub mod cli;
#[cfg(feature = "report")]
pub mod cmd;
pub mod codes;
pub mod http;
pub mod inputs;
pub mod logs;
pub mod pipeline;
#[cfg(feature = "report")]
pub mod render;
pub mod session;
#[cfg(feature = "report")]
pub mod table;
pub mod tcp;
pub mod text;
pub mod ws;

/// Which endpoint sent a byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Client,
    Server,
}
