//! WebSocket (RFC 6455) frame layer: the stage between the HTTP upgrade and the session
//! summary.
//!
//! - [`frame`]: pure, zero-copy, streaming nom parser for one frame header, and unmasking.
//!   Partial input is answered with `nom::Err::Incomplete`, never an error.
//! - [`close`]: Close frame payloads (RFC 6455 5.5.1, 7.1.5, 7.4) and [`CloseCode`] with
//!   the IANA registry names.
//! - [`decoder`]: [`DirectionDecoder`], one per direction of a connection. It is fed the
//!   in-order bytes of that direction (any segmentation), skips data payloads by counting,
//!   buffers control payloads up to [`MAX_CONTROL_BUFFER`], and reports Close/Ping/Pong and
//!   named [`Anomaly`] values as [`WsEvent`]s. Its memory is bounded by a constant whatever
//!   lengths the wire claims.
//!
//! Anomalies in the traffic are data (events with stable snake_case names), never errors:
//! nothing in this module returns a `Result` that the caller must treat as failure.

pub mod close;
pub mod decoder;
pub mod frame;

pub use close::{parse_close_payload, CloseCode, ClosePayload};
pub use decoder::{
    Anomaly, ClosePayloadOwned, DirectionDecoder, DirectionStats, WsEvent, MAX_CONTROL_BUFFER,
};
pub use frame::{parse_header, unmask, FrameHeader, Opcode, MAX_HEADER_LEN};
