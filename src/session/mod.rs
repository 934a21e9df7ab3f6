//! What one WebSocket session was, and how it ended.
//!
//! Contract: [`SessionRecord`] is one row of the session table (the schema in
//! `docs/schema.md`); [`classify`] is the pure rule that turns the Close frames each side
//! sent and whether TCP ended into the session's ending, close code, initiator and the
//! codes each side observed (RFC 6455 section 7.1.5). [`tracker`] builds records from a
//! connection's byte streams.

pub mod conn;
pub mod h2;
pub mod stream;
pub mod tracker;

use std::fmt;
use std::net::SocketAddr;

/// How a session ended. The names are the stable strings used in every output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ending {
    /// The first Close frame carried 1000.
    Normal,
    /// The first Close frame carried another code.
    Announced,
    /// The first Close frame had no status code (1005).
    NoStatus,
    /// TCP ended (FIN or RST) and no Close frame was sent (1006).
    Abnormal,
    /// The capture ended while the session was still open.
    Open,
    /// A TLS connection with no key to read it: whether it carried a WebSocket, and how
    /// that ended, is unknown (not 1006, not a guess).
    Undecrypted,
}

impl Ending {
    pub const ALL: [Ending; 6] = [
        Ending::Normal,
        Ending::Announced,
        Ending::NoStatus,
        Ending::Abnormal,
        Ending::Open,
        Ending::Undecrypted,
    ];
    /// The ending a close code means when a library or a log reports it (the code an
    /// endpoint observes, RFC 6455 7.1.5): 1000 `normal`, 1005 (a Close without a code)
    /// `no_status`, 1006 (no Close at all) `abnormal`, anything else `announced`. On the
    /// wire 1005 and 1006 are forbidden, so [`classify`] reads the Close frames
    /// themselves; a reported code is all a log has.
    pub fn of_reported(code: u16) -> Ending {
        match code {
            1000 => Ending::Normal,
            1005 => Ending::NoStatus,
            1006 => Ending::Abnormal,
            _ => Ending::Announced,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Ending::Normal => "normal",
            Ending::Announced => "announced",
            Ending::NoStatus => "no_status",
            Ending::Abnormal => "abnormal",
            Ending::Open => "open",
            Ending::Undecrypted => "undecrypted",
        }
    }
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which endpoint did something first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Initiator {
    Client,
    Server,
    None,
}

impl Initiator {
    pub fn as_str(self) -> &'static str {
        match self {
            Initiator::Client => "client",
            Initiator::Server => "server",
            Initiator::None => "none",
        }
    }
}

/// Which side ended TCP first, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TcpEnd {
    ClientFin,
    ServerFin,
    ClientRst,
    ServerRst,
    None,
}

impl TcpEnd {
    pub fn as_str(self) -> &'static str {
        match self {
            TcpEnd::ClientFin => "client_fin",
            TcpEnd::ServerFin => "server_fin",
            TcpEnd::ClientRst => "client_rst",
            TcpEnd::ServerRst => "server_rst",
            TcpEnd::None => "none",
        }
    }
}

/// One Close frame as seen on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// Capture time of the packet that completed the frame (ns since the epoch).
    pub ts: i64,
    /// Position in the connection's delivery order, to order frames with equal times.
    pub order: u64,
    /// `None` for an empty payload (no status, 1005). A 1-byte payload is also `None`
    /// (it carries no code) and is flagged as `close_payload_len_1`.
    pub code: Option<u16>,
    pub reason: String,
    pub payload_len: u64,
}

/// The part of a session's outcome that [`classify`] decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub ending: Ending,
    pub close_code: Option<u16>,
    pub close_reason: Option<String>,
    pub initiator: Initiator,
    pub handshake_completed: bool,
    pub client_observed_code: Option<u16>,
    pub server_observed_code: Option<u16>,
}

/// The code an endpoint observes (RFC 6455 7.1.5): the code of the Close frame it
/// received, 1005 if that frame had none, 1006 if the connection closed without one,
/// and nothing while the connection is still open.
fn observed(received: Option<&CloseFrame>, tcp_ended: bool) -> Option<u16> {
    match received {
        Some(c) => Some(c.code.unwrap_or(1005)),
        None if tcp_ended => Some(1006),
        None => None,
    }
}

/// Decide how a session ended from the first Close frame each side sent and whether TCP
/// ended (FIN or RST from either side) before the capture did.
pub fn classify(
    client: Option<&CloseFrame>,
    server: Option<&CloseFrame>,
    tcp_ended: bool,
) -> Outcome {
    let first = match (client, server) {
        (Some(c), Some(s)) => {
            if (s.ts, s.order) < (c.ts, c.order) {
                Some((Initiator::Server, s))
            } else {
                Some((Initiator::Client, c))
            }
        }
        (Some(c), None) => Some((Initiator::Client, c)),
        (None, Some(s)) => Some((Initiator::Server, s)),
        (None, None) => None,
    };
    let (ending, close_code, close_reason, initiator) = match first {
        Some((who, f)) => {
            let ending = match f.code {
                Some(1000) => Ending::Normal,
                Some(_) => Ending::Announced,
                None => Ending::NoStatus,
            };
            (
                ending,
                Some(f.code.unwrap_or(1005)),
                Some(f.reason.clone()),
                who,
            )
        }
        None if tcp_ended => (Ending::Abnormal, Some(1006), None, Initiator::None),
        None => (Ending::Open, None, None, Initiator::None),
    };
    Outcome {
        ending,
        close_code,
        close_reason,
        initiator,
        handshake_completed: client.is_some() && server.is_some(),
        client_observed_code: observed(server, tcp_ended),
        server_observed_code: observed(client, tcp_ended),
    }
}

/// One row of the session table. Field order is column order; see `docs/schema.md`.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub capture: String,
    pub source: String,
    pub session_id: String,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub start_time: i64,
    pub established_time: Option<i64>,
    pub end_time: i64,
    pub host: Option<String>,
    pub path: Option<String>,
    pub user_agent: Option<String>,
    pub origin: Option<String>,
    pub subprotocol: Option<String>,
    pub extensions: Option<String>,
    pub outcome: Outcome,
    pub client_close: Option<CloseFrame>,
    pub server_close: Option<CloseFrame>,
    /// Every Close frame, in order (at most a few per direction are kept).
    pub closes: Vec<(Initiator, CloseFrame)>,
    pub tcp_end: TcpEnd,
    pub tcp_end_time: Option<i64>,
    /// Time of the last WebSocket frame from either side, if any.
    pub last_frame_time: Option<i64>,
    pub frames: [u64; 2],
    pub messages: [u64; 2],
    pub bytes: [u64; 2],
    pub pings: [u64; 2],
    pub pongs: [u64; 2],
    /// Pings (either side) that no Pong answered before the session ended.
    pub unanswered_pings: u64,
    pub permessage_deflate: bool,
    pub gap: bool,
    pub midstream: bool,
    pub truncated: bool,
    /// A memory limit (held bytes, table size) touched this session.
    pub limit_hit: bool,
    /// Anomaly names with their counts, sorted by name.
    pub anomalies: Vec<(&'static str, u32)>,
    /// The TLS layer under the session (`None`: plain TCP).
    pub tls: Option<Box<TlsInfo>>,
    /// `1.1` (an Upgrade) or `2` (an RFC 8441 extended CONNECT stream); `None` when no
    /// HTTP was read (an undecrypted TLS connection).
    pub http_version: Option<&'static str>,
    /// The HTTP/2 stream that carried the session.
    pub h2: Option<H2Info>,
    /// The client's `Sec-WebSocket-Key` (HTTP/1.1 upgrades): the same on both legs of a
    /// session through a proxy that passes the handshake through.
    pub websocket_key: Option<String>,
}

/// What the TLS layer under a session showed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsInfo {
    /// `TLSv1.3`, `TLSv1.2`, ...
    pub version: Option<&'static str>,
    /// The IANA name of the negotiated suite.
    pub cipher: Option<String>,
    pub sni: Option<String>,
    /// The negotiated ALPN protocol, when it could be seen.
    pub alpn: Option<String>,
    /// `close_notify` sent by [client, server].
    pub close_notify: [bool; 2],
    /// The first other alert sent by [client, server], by name (`fatal:
    /// bad_record_mac`); `encrypted` when one was sent but could not be read.
    pub alert: [Option<String>; 2],
    /// Whether the connection was decrypted; `None` when its handshake was not seen.
    pub decrypted: Option<bool>,
}

/// The HTTP/2 stream of a session (RFC 8441).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct H2Info {
    pub stream_id: u32,
    /// How the stream ended at the HTTP/2 layer: `end_stream`, `rst_stream:<error>`
    /// (by whom), `goaway:<error> last_stream_id=<n>`; `None` while open.
    pub end: Option<String>,
}

/// How one TLS connection went, for the summary's counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsCount {
    Decrypted,
    NoKey,
    Unsupported,
    /// The capture did not hold its handshake.
    NoHandshake,
    /// The handshake failed (no ServerHello, a fatal alert, a side that never
    /// finished): the alert, when one was read (`fatal unknown_ca by client`).
    HandshakeFailed(Option<String>),
}

/// What one connection produced.
#[derive(Debug, Default)]
pub struct ConnOutput {
    /// The WebSocket sessions the connection carried (one for HTTP/1.1; none when it
    /// carried none).
    pub sessions: Vec<SessionRecord>,
    pub refused: Vec<RefusedUpgrade>,
    /// An HTTP head outgrew the cap, so whatever it was (an upgrade or not) was not
    /// read: counted per capture, since no session row can carry it.
    pub oversized_head: bool,
    /// How the connection's TLS went, when it was TLS (set by [`conn::Conn`]).
    pub tls: Option<TlsCount>,
}

/// Which side ended TCP first, and how, with its time; `cdir` is the client's
/// direction.
pub fn tcp_end(meta: &crate::tcp::ConnMeta, cdir: crate::tcp::Dir) -> (TcpEnd, Option<i64>) {
    match meta.first_end {
        Some((dir, kind, ts)) => {
            let is_client = dir == cdir;
            let e = match (is_client, kind) {
                (true, crate::tcp::EndKind::Fin) => TcpEnd::ClientFin,
                (false, crate::tcp::EndKind::Fin) => TcpEnd::ServerFin,
                (true, crate::tcp::EndKind::Rst) => TcpEnd::ClientRst,
                (false, crate::tcp::EndKind::Rst) => TcpEnd::ServerRst,
            };
            (e, Some(ts))
        }
        None => (TcpEnd::None, None),
    }
}

/// Index into the per-side arrays of [`SessionRecord`].
pub const CLIENT: usize = 0;
pub const SERVER: usize = 1;

impl SessionRecord {
    pub fn duration_s(&self) -> f64 {
        (self.end_time - self.start_time) as f64 / 1e9
    }

    /// From the last frame (or the handshake, when no frame came) to the session's end.
    /// When the first Close frame was sent, by either side.
    pub fn first_close_time(&self) -> Option<i64> {
        [self.client_close.as_ref(), self.server_close.as_ref()]
            .into_iter()
            .flatten()
            .map(|c| c.ts)
            .min()
    }

    pub fn idle_before_end_s(&self) -> Option<f64> {
        let last = self.last_frame_time.or(self.established_time)?;
        Some((self.end_time - last).max(0) as f64 / 1e9)
    }

    pub fn anomaly_names(&self) -> String {
        let names: Vec<&str> = self.anomalies.iter().map(|(n, _)| *n).collect();
        names.join(";")
    }
}

/// An upgrade request answered with something other than 101.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedUpgrade {
    pub capture: String,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub time: i64,
    pub status: u16,
    pub reason: String,
    pub host: Option<String>,
    pub path: Option<String>,
    pub user_agent: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(ts: i64, code: Option<u16>) -> CloseFrame {
        CloseFrame {
            ts,
            order: ts as u64,
            code,
            reason: String::new(),
            payload_len: if code.is_some() { 2 } else { 0 },
        }
    }

    #[test]
    fn client_1000_echoed_is_normal_and_complete() {
        let o = classify(
            Some(&close(1, Some(1000))),
            Some(&close(2, Some(1000))),
            true,
        );
        assert_eq!(o.ending, Ending::Normal);
        assert_eq!(o.initiator, Initiator::Client);
        assert!(o.handshake_completed);
        assert_eq!(o.client_observed_code, Some(1000));
        assert_eq!(o.server_observed_code, Some(1000));
    }

    #[test]
    fn server_going_away_is_announced_by_server() {
        let o = classify(
            Some(&close(5, Some(1001))),
            Some(&close(3, Some(1001))),
            true,
        );
        assert_eq!(o.ending, Ending::Announced);
        assert_eq!(o.close_code, Some(1001));
        assert_eq!(o.initiator, Initiator::Server);
    }

    #[test]
    fn established_rst_without_close_is_1006() {
        let o = classify(None, None, true);
        assert_eq!(o.ending, Ending::Abnormal);
        assert_eq!(o.close_code, Some(1006));
        assert_eq!(o.client_observed_code, Some(1006));
        assert_eq!(o.server_observed_code, Some(1006));
        assert_eq!(o.initiator, Initiator::None);
    }

    #[test]
    fn capture_end_without_close_is_open_not_1006() {
        let o = classify(None, None, false);
        assert_eq!(o.ending, Ending::Open);
        assert_eq!(o.close_code, None);
        assert_eq!(o.client_observed_code, None);
    }

    #[test]
    fn empty_close_is_no_status_1005() {
        let o = classify(Some(&close(1, None)), Some(&close(2, None)), true);
        assert_eq!(o.ending, Ending::NoStatus);
        assert_eq!(o.close_code, Some(1005));
        assert_eq!(o.client_observed_code, Some(1005));
    }

    /// The strings every output uses, as `docs/schema.md` spells them.
    #[test]
    fn names_are_the_schema_strings() {
        let endings: Vec<String> = Ending::ALL.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            endings,
            [
                "normal",
                "announced",
                "no_status",
                "abnormal",
                "open",
                "undecrypted"
            ]
        );
        assert_eq!(
            Ending::ALL.map(Ending::as_str),
            [
                "normal",
                "announced",
                "no_status",
                "abnormal",
                "open",
                "undecrypted"
            ]
        );
        assert_eq!(
            [Initiator::Client, Initiator::Server, Initiator::None].map(Initiator::as_str),
            ["client", "server", "none"]
        );
        assert_eq!(
            [
                TcpEnd::ClientFin,
                TcpEnd::ServerFin,
                TcpEnd::ClientRst,
                TcpEnd::ServerRst,
                TcpEnd::None
            ]
            .map(TcpEnd::as_str),
            [
                "client_fin",
                "server_fin",
                "client_rst",
                "server_rst",
                "none"
            ]
        );
    }

    fn record() -> SessionRecord {
        let addr = "10.0.0.1:1".parse().unwrap();
        SessionRecord {
            capture: String::new(),
            source: String::new(),
            session_id: String::new(),
            client: addr,
            server: addr,
            start_time: 1_000_000_000,
            established_time: Some(1_250_000_000),
            end_time: 4_500_000_000,
            host: None,
            path: None,
            user_agent: None,
            origin: None,
            subprotocol: None,
            extensions: None,
            outcome: classify(None, None, false),
            client_close: None,
            server_close: None,
            closes: Vec::new(),
            tcp_end: TcpEnd::None,
            tcp_end_time: None,
            last_frame_time: None,
            frames: [0; 2],
            messages: [0; 2],
            bytes: [0; 2],
            pings: [0; 2],
            pongs: [0; 2],
            unanswered_pings: 0,
            permessage_deflate: false,
            gap: false,
            midstream: false,
            truncated: false,
            limit_hit: false,
            anomalies: Vec::new(),
            tls: None,
            http_version: Some("1.1"),
            h2: None,
            websocket_key: None,
        }
    }

    #[test]
    fn duration_and_idle_time_are_seconds_from_the_times() {
        let mut r = record();
        assert_eq!(r.duration_s(), 3.5);
        // No frame: idle since the handshake.
        assert_eq!(r.idle_before_end_s(), Some(3.25));
        r.last_frame_time = Some(4_000_000_000);
        assert_eq!(r.idle_before_end_s(), Some(0.5));
        // A frame stamped after the end (the end is the first FIN) is not negative idle.
        r.last_frame_time = Some(5_000_000_000);
        assert_eq!(r.idle_before_end_s(), Some(0.0));
        r.last_frame_time = None;
        r.established_time = None;
        assert_eq!(r.idle_before_end_s(), None);
    }

    #[test]
    fn anomaly_names_are_joined_with_semicolons() {
        let mut r = record();
        assert_eq!(r.anomaly_names(), "");
        r.anomalies = vec![("duplicate_close", 2), ("reserved_bits", 1)];
        assert_eq!(r.anomaly_names(), "duplicate_close;reserved_bits");
    }

    #[test]
    fn a_close_at_the_same_time_goes_to_the_frame_delivered_first() {
        let c = CloseFrame {
            order: 7,
            ..close(5, Some(1000))
        };
        let s = CloseFrame {
            order: 6,
            ..close(5, Some(1001))
        };
        let o = classify(Some(&c), Some(&s), true);
        assert_eq!(o.initiator, Initiator::Server);
        assert_eq!((o.ending, o.close_code), (Ending::Announced, Some(1001)));
        // The server alone, with a reason.
        let s = CloseFrame {
            reason: "restart".into(),
            ..close(3, Some(1012))
        };
        let o = classify(None, Some(&s), false);
        assert_eq!(o.initiator, Initiator::Server);
        assert_eq!(o.close_reason.as_deref(), Some("restart"));
        assert_eq!(o.ending, Ending::Announced);
        // The capture ended before the client answered: it observed 1012, the server
        // nothing yet.
        assert_eq!(
            (o.client_observed_code, o.server_observed_code),
            (Some(1012), None)
        );
        assert!(!o.handshake_completed);
    }

    #[test]
    fn one_sided_close_then_fin_leaves_initiator_observing_1006() {
        let o = classify(Some(&close(1, Some(1000))), None, true);
        assert_eq!(o.ending, Ending::Normal);
        assert!(!o.handshake_completed);
        assert_eq!(o.client_observed_code, Some(1006));
        assert_eq!(o.server_observed_code, Some(1000));
    }
}
