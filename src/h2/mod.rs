//! HTTP/2 (RFC 9113) as WebSocket's carrier (RFC 8441): the two byte streams of one
//! connection in, per-stream events out.
//!
//! Contract: [`H2Conn`] is fed each direction's in-order bytes (after TCP reassembly,
//! and after TLS when there is TLS) and calls back with [`H2Event`]s: each side's
//! SETTINGS (whether it allows extended CONNECT), every client HEADERS that is an
//! extended CONNECT (`:method CONNECT` with `:protocol`, RFC 8441 section 4) as an
//! HTTP [`Request`] head, the server's answer on those streams as
//! a [`Response`], their DATA as it arrives (padding removed,
//! END_STREAM with the last piece), their RST_STREAM, every GOAWAY, and anomalies
//! (protocol errors, HPACK failures, caps hit) with stable names. Streams that are not
//! extended CONNECT produce no events and keep no state beyond what HPACK needs.
//!
//! Memory per connection is bounded whatever the input: a DATA payload is never
//! buffered (pieces of the caller's slices are handed on), one header block per
//! direction is buffered up to [`MAX_HEADER_BLOCK`], each direction's HPACK table is at
//! most [`hpack::MAX_TABLE_SIZE`], and at most [`MAX_TRACKED_STREAMS`] streams are
//! tracked. A direction that lost bytes ([`H2Conn::gap`]) or does not start as HTTP/2
//! is no longer framed: its further bytes are ignored.
//!
//! Files: [`frame`] (pure frame parsing), [`hpack`] and `huffman` (RFC 7541 decoding),
//! [`conn`] (the per-connection state machine).

pub mod conn;
pub mod frame;
pub mod hpack;
mod huffman;

pub use conn::{
    H2Conn, H2Stats, MAX_HEADER_BLOCK, MAX_HEADER_LIST, MAX_HEAP_BYTES, MAX_TRACKED_STREAMS,
};
pub use frame::error_code_name;

use crate::http::{Request, Response};
use crate::Side;

/// The client connection preface (RFC 9113 section 3.4): the first bytes of every
/// HTTP/2 connection, cleartext (h2c "prior knowledge") or inside TLS.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Whether `bytes` (a client's first bytes, however few) can start the preface: what a
/// caller sniffing for h2c checks before handing the connection to [`H2Conn`]. Empty
/// input is a prefix; callers wait for at least a few bytes.
pub fn is_preface_prefix(bytes: &[u8]) -> bool {
    let n = bytes.len().min(PREFACE.len());
    bytes[..n] == PREFACE[..n]
}

/// What an HTTP/2 connection says about its extended CONNECT streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum H2Event<'a> {
    /// A SETTINGS frame (not an acknowledgement). `enable_connect_protocol` is
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL when the frame carries it.
    Settings {
        side: Side,
        enable_connect_protocol: Option<bool>,
    },
    /// A client HEADERS opening an extended CONNECT stream: `head` has method
    /// `CONNECT`, target `:path`, Host from `:authority`; `protocol` is `:protocol`.
    Request {
        stream: u32,
        head: Box<Request>,
        protocol: Option<String>,
        end_stream: bool,
    },
    /// The server's final (non-1xx) HEADERS on a stream that had a `Request`.
    Response {
        stream: u32,
        head: Box<Response>,
        end_stream: bool,
    },
    /// DATA payload bytes on a tracked stream, in pieces as they arrive. `end_stream`
    /// is set on the last piece of a frame with END_STREAM (an empty piece when that
    /// frame, or trailing HEADERS, carries no data).
    Data {
        side: Side,
        stream: u32,
        data: &'a [u8],
        end_stream: bool,
    },
    /// RST_STREAM on a tracked stream (the stream is no longer tracked).
    RstStream {
        side: Side,
        stream: u32,
        error_code: u32,
    },
    /// GOAWAY (any).
    GoAway {
        side: Side,
        last_stream_id: u32,
        error_code: u32,
    },
    /// Something off in the traffic; `name` is stable (`h2_...`, `hpack_...`).
    Anomaly {
        side: Side,
        stream: Option<u32>,
        name: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preface_prefixes() {
        assert!(is_preface_prefix(
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00"
        ));
        assert!(is_preface_prefix(b"PRI *"));
        assert!(is_preface_prefix(b""));
        assert!(!is_preface_prefix(b"PRI / HTTP/1.1"));
        assert!(!is_preface_prefix(b"GET / HTTP/1.1\r\n"));
    }
}
