//! wsaudit: how WebSocket sessions end, from packet captures and logs.
//!
//! The floors, bottom to top (data flows one way; a floor uses only the floors below
//! it, which `tests/layers.rs` checks):
//!
//! ```text
//! capture file(s) ─► capture (packets) ─► capture::link (TCP segments)
//!   ─► tcp (per-connection in-order byte streams, gaps, ends)
//!   ─► tls (records decrypted with a key log, alerts, handshake facts)
//!   ─► http (upgrade) │ h2 (HTTP/2 frames, HPACK, extended CONNECT streams)
//!   ─► ws (frames, Close payloads, anomalies)
//!   ─► session (one record per session, classified ending)
//! log file(s) ─► logs (the same session records)
//! pipeline: the capture stages wired and sharded; inputs: what each path is
//! session records ─► table (storage: columns, chunks, spill, files)
//!   ─► analysis (typed facts) ─► audit (verdict) ─► render (text, Markdown, HTML)
//! cmd: analyze, report, audit; cli: flags -> configurations; main: exit codes
//! ```
//!
//! [`codes`] (what each close code means) and [`text`] (terminal-safe text, times,
//! durations) sit under everything that words a result. Without the `report` feature
//! the crate is the parsing floors alone (capture to logs, pipeline, inputs): what the
//! fuzz targets build.

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
pub mod h2;
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
pub mod tls;
pub mod ws;

/// Which endpoint sent a byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Client,
    Server,
}

impl Side {
    /// Index into per-side arrays: client 0, server 1 (`session::CLIENT`/`SERVER`).
    pub fn index(self) -> usize {
        match self {
            Side::Client => 0,
            Side::Server => 1,
        }
    }

    /// `client` / `server`, as every output spells them.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }
}
