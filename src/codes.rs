//! The close-code knowledge base: what each WebSocket close status code means, when an
//! operator sees it, and what to do about it. This is the text users would otherwise look
//! up on the web; `wsaudit codes`, `wsaudit explain CODE`, `wsaudit compare A B` and the
//! per-code report table read it from here.
//!
//! Contract:
//! - [`info`] is total over `u16`. 1000-1015 have their own entries (1004 reserved; 1005,
//!   1006 and 1015 never appear on the wire: an endpoint reports them locally), 3000, 3003
//!   and 3008 have entries for their IANA registrations, and every other value gets the
//!   entry of its range (0-999, 1016-2999, 3000-3999, 4000-4999, 5000-65535) with `code`
//!   set to the value asked for.
//! - [`CodeInfo::name`] always equals [`CloseCode::name`] of the same code, and
//!   [`CodeInfo::on_wire`] always equals [`CloseCode::may_be_sent`]: the tests check both
//!   for every `u16`, so this table and `ws::close` cannot drift apart.
//! - [`CodeInfo::summary`] is one line of at most [`SUMMARY_MAX`] characters. Every text is
//!   plain ASCII, so character counts are terminal columns.
//! - [`explain`], [`compare`] and [`list`] return plain text whose lines are at most
//!   [`WIDTH`] columns, with no trailing spaces; they never fail and never allocate by
//!   anything read off the wire.
//! - [`compare`] finds the hand-written "key difference" of the pairs in
//!   [`CONFUSABLE_PAIRS`] whatever the argument order; other pairs get a difference built
//!   from the two entries (who sends it, whether it is on the wire, the expected reaction).
//!
//! Sources: RFC 6455 sections 7.1.5, 7.4.1, 7.4.2 and 11.7, and the IANA "WebSocket Close
//! Code Number Registry" (1012-1014 and the 3000-3999 registrations are only there).

#[cfg(doc)]
use crate::ws::CloseCode;

/// Maximum width, in columns, of every line [`explain`], [`compare`] and [`list`] return.
pub const WIDTH: usize = 100;

/// Maximum length of [`CodeInfo::summary`] (it is a cell of the per-code report table).
pub const SUMMARY_MAX: usize = 70;

/// Width of one side of [`compare`]: two of these plus `" | "` fit in [`WIDTH`].
const COLUMN: usize = 48;

/// Indentation of paragraphs in [`explain`] and of the key difference in [`compare`].
const INDENT: &str = "  ";

/// Which endpoint puts a code in a Close frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SentBy {
    /// Only a client may send it (1010).
    Client,
    /// Only a server sends it (1011-1014).
    Server,
    /// Either endpoint may send it.
    Either,
    /// No endpoint may send it: an endpoint reports it locally (1005, 1006, 1015), or it
    /// is reserved or invalid (1004, 0-999, 1016-2999, 5000+).
    NeverOnWire,
}

impl SentBy {
    /// Stable lower-case label, used in the `wsaudit codes` table and in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            SentBy::Client => "client",
            SentBy::Server => "server",
            SentBy::Either => "either",
            SentBy::NeverOnWire => "never sent",
        }
    }
}

impl std::fmt::Display for SentBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything wsaudit knows about one close code.
///
/// Invariants (tested): `name == CloseCode::from(code).name()`,
/// `on_wire == CloseCode::from(code).may_be_sent()`, `summary` is one line of at most
/// [`SUMMARY_MAX`] characters, all texts are non-empty ASCII.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeInfo {
    /// The code asked for (for a range entry too).
    pub code: u16,
    /// The IANA registry name, the same as [`CloseCode::name`] ("Reserved", "Registered
    /// (IANA)", "Private use" or "Invalid" for the ranges).
    pub name: &'static str,
    /// One line, at most [`SUMMARY_MAX`] characters: what it means and what to do.
    pub summary: &'static str,
    /// What the code means.
    pub description: &'static str,
    /// The situations in which operators see it.
    pub when_you_see_it: &'static str,
    /// What to do about it.
    pub how_to_fix: &'static str,
    /// Which endpoint sends it.
    pub sent_by: SentBy,
    /// Whether an endpoint may put it in a Close frame.
    pub on_wire: bool,
    /// Where the meaning is defined.
    pub reference: &'static str,
}

/// The pairs users confuse, each with a hand-written key difference for [`compare`].
/// Order inside a pair does not matter for lookups.
pub const CONFUSABLE_PAIRS: [(u16, u16); 11] = [
    (1000, 1001),
    (1000, 1012),
    (1001, 1012),
    (1001, 1011),
    (1006, 1012),
    (1005, 1006),
    (1000, 1005),
    (1006, 1011),
    (1001, 1006),
    (1008, 1003),
    (1011, 1014),
];

/// The hand-written key difference of a confusable pair, in either argument order.
pub fn key_difference(a: u16, b: u16) -> Option<&'static str> {
    let text = match (a.min(b), a.max(b)) {
        (1000, 1001) => {
            "1000 says the work is done: one side closed on purpose and the session ended \
             as designed. 1001 says an endpoint is leaving whatever the work: a server \
             shutting down, or a browser tab closing or navigating away. After 1000 a client \
             reconnects only if it still needs the connection; after 1001 from a server it \
             should reconnect with exponential backoff and jitter. 1001 from browser clients \
             is mostly users leaving pages; from servers it means shutdowns."
        }
        (1000, 1012) => {
            "Both are orderly Close frames, but 1000 means the session finished its purpose, \
             while 1012 means the server ended it only because the service is restarting. \
             1000 needs no reconnect unless the application still wants the connection; \
             1012 asks the client to reconnect after a short 1-5 s delay, and a burst of \
             1012 lines up with a deploy or restart."
        }
        (1001, 1012) => {
            "Both come from an orderly shutdown. 1012 is the more specific promise: the \
             service is restarting and will be back shortly, so reconnect after a short \
             1-5 s delay. 1001 promises nothing (the server may be gone for good, or it is \
             a browser leaving a page), so reconnect with exponential backoff and jitter. \
             Servers that restart on deploy should send 1012 rather than 1001."
        }
        (1001, 1011) => {
            "1001 is a planned departure (shutdown, page navigation); 1011 is a server \
             failure: an unexpected condition, usually an unhandled exception in a handler. \
             1001 needs no fix, only a reconnect with backoff on the client; 1011 needs the \
             server logs at the close time, and reconnecting may hit the same bug again."
        }
        (1006, 1012) => {
            "1012 is a Close frame the server sent on purpose before restarting; 1006 means \
             no Close frame at all: the TCP connection just ended. During a deploy, a server \
             that drains its connections gives 1012; one that is killed (SIGKILL, OOM, \
             crash) or cut off by a proxy gives 1006. If deploys show up as 1006, make the \
             server close its WebSockets with 1012 before it exits."
        }
        (1005, 1006) => {
            "Neither is ever sent; both are what an endpoint reports locally. 1005: a Close \
             frame did arrive, with an empty payload, so the close was orderly and only the \
             reason is missing. 1006: no Close frame arrived and the TCP connection ended \
             (FIN or RST), so there was no closing handshake. 1005 is usually harmless; 1006 \
             points at crashes, network loss or proxy and NAT idle timeouts."
        }
        (1000, 1005) => {
            "Both are orderly closes with a Close frame. 1000 is an explicit normal-closure \
             code; 1005 means the Close frame carried no code at all (an empty payload), so \
             the peer did not say why. Many libraries send an empty Close frame when close() \
             is called without a code: pass 1000 explicitly if you want it in the reports."
        }
        (1006, 1011) => {
            "1011 is a Close frame: the server noticed its own failure and closed cleanly, \
             so the cause is in the server logs. 1006 means nothing closed cleanly: the TCP \
             connection ended without a Close frame, from a killed process, network loss or \
             an idle timeout in a proxy or load balancer. A server crash that takes the whole \
             process down gives 1006, not 1011."
        }
        (1001, 1006) => {
            "1001 is announced: the endpoint sent a Close frame saying it is going away. \
             1006 is unannounced: the TCP connection ended with no Close frame. A graceful \
             shutdown gives 1001; a killed process, a dropped network or a proxy or load \
             balancer idle timeout gives 1006. Reconnect with backoff after either, but only \
             1006 points at the infrastructure (ping/pong heartbeats, idle timeouts)."
        }
        (1003, 1008) => {
            "1003 is narrow: the endpoint cannot accept this type of data at all (e.g. \
             binary sent to a text-only endpoint). 1008 is the generic refusal: a message \
             broke a policy (authentication, origin, rate limit, content rule), or the \
             endpoint chose to hide which rule. Fix 1003 by sending the data type the peer \
             expects; fix 1008 by checking credentials, origin and the server's policy logs."
        }
        (1011, 1014) => {
            "1011: the server itself failed. 1014: the server is a gateway or proxy and the \
             failure is upstream: it got an invalid response from the server behind it (like \
             HTTP 502). For 1011 read the logs of the endpoint that sent it; for 1014 read \
             the gateway's logs to find which upstream failed, then that upstream's logs."
        }
        _ => return None,
    };
    Some(text)
}

/// The codes that `code` is often confused with, in [`CONFUSABLE_PAIRS`] order.
pub fn often_confused_with(code: u16) -> Vec<u16> {
    CONFUSABLE_PAIRS
        .iter()
        .filter_map(|&(a, b)| match (a == code, b == code) {
            (true, false) => Some(b),
            (false, true) => Some(a),
            _ => None,
        })
        .collect()
}

const RFC_7_4_1: &str = "RFC 6455 7.4.1";
const IANA_ONLY: &str = "IANA WebSocket Close Code Number Registry (added after RFC 6455)";
const IANA_3XXX: &str = "RFC 6455 7.4.2, 11.7; IANA WebSocket Close Code Number Registry";

/// Entries for 1000-1015, indexed by `code - 1000`.
const NAMED: [CodeInfo; 16] = [
    CodeInfo {
        code: 1000,
        name: "Normal Closure",
        summary: "Closed on purpose; fine unless it was unexpected",
        description: "The connection fulfilled the purpose it was opened for and one side \
            closed it deliberately. It is also the only 1000-2999 code a browser's \
            WebSocket.close() accepts, so it is what applications send when they do not \
            think about codes.",
        when_you_see_it: "Users log out, a page closes its socket, a job finishes, a client \
            or server ends a session by design. In wsaudit, look at the initiator: an \
            unexpected 1000 from the server is an application decision, not a network \
            fault.",
        how_to_fix: "Nothing, if the close was expected. If it was not, look at who \
            initiated (client or server) and why the application closed: an explicit \
            close() on an error path, a session limit, or an application timeout that \
            should use a more specific code.",
        sent_by: SentBy::Either,
        on_wire: true,
        reference: RFC_7_4_1,
    },
    CodeInfo {
        code: 1001,
        name: "Going Away",
        summary: "Endpoint leaving; reconnect with backoff and jitter",
        description: "An endpoint is going away: a server shutting down, or a browser \
            navigating away from the page or closing the tab. It is an orderly, announced \
            close, not an error, and it says nothing about whether the endpoint comes \
            back.",
        when_you_see_it: "From servers: during shutdowns, scale-in and deploys that stop \
            instances (a server that is only restarting should send 1012). From browser \
            clients: all the time, as users navigate away or close tabs; that is normal \
            traffic.",
        how_to_fix: "Nothing on the sending side. Clients should reconnect with exponential \
            backoff and jitter (e.g. 1 s, 2 s, 4 s ... capped, each randomised) so that a \
            whole fleet does not reconnect at the same instant. If servers send it outside \
            deploys, find out why they shut down.",
        sent_by: SentBy::Either,
        on_wire: true,
        reference: RFC_7_4_1,
    },
    CodeInfo {
        code: 1002,
        name: "Protocol error",
        summary: "Peer broke the protocol; fix that implementation",
        description: "An endpoint is terminating the connection because its peer violated \
            the WebSocket protocol: malformed frames, reserved bits or opcodes set, wrong \
            masking, fragmented or oversized control frames, an invalid Close payload.",
        when_you_see_it: "With a buggy or hand-written client or server, a middlebox that \
            corrupts frames, or mismatched extension handling (e.g. permessage-deflate). \
            The anomalies wsaudit reports for the session (reserved_bits, \
            unmasked_client_frame, ...) usually name the violation.",
        how_to_fix: "The side that received 1002 is the one that broke the protocol: fix or \
            upgrade that implementation, guided by the session's anomalies. Retrying \
            without a fix fails the same way.",
        sent_by: SentBy::Either,
        on_wire: true,
        reference: RFC_7_4_1,
    },
    CodeInfo {
        code: 1003,
        name: "Unsupported Data",
        summary: "Data type not accepted; send the type the peer expects",
        description: "An endpoint received a type of data it cannot accept, for example a \
            text-only endpoint receiving a binary message.",
        when_you_see_it: "After a change that switched message types (text to binary or \
            back) on one side only, or when a client talks to the wrong endpoint or \
            subprotocol.",
        how_to_fix: "Send the message type the peer expects, and agree on it through the \
            subprotocol (Sec-WebSocket-Protocol). The last data frame before the close \
            shows the offending type.",
        sent_by: SentBy::Either,
        on_wire: true,
        reference: RFC_7_4_1,
    },
    CodeInfo {
        code: 1004,
        name: "Reserved",
        summary: "Reserved, must not be sent; the sender is buggy",
        description: "Reserved by RFC 6455: a meaning might be defined in the future. No \
            endpoint may send it today.",
        when_you_see_it: "Only from a non-conforming implementation; wsaudit flags such a \
            Close frame as invalid_close_code. Drafts before RFC 6455 used 1004 for a frame \
            that is too large, and some old code and tables still do.",
        how_to_fix: "Fix the sender to use a valid code (1009 for a message that is too \
            big). A receiver should treat 1004 in a Close frame as a protocol error.",
        sent_by: SentBy::NeverOnWire,
        on_wire: false,
        reference: "RFC 6455 7.4.1; IANA registry: Reserved",
    },
    CodeInfo {
        code: 1005,
        name: "No Status Rcvd",
        summary: "Close frame without a code; peer gave no reason",
        description: "Never sent: it is what an endpoint reports when the Close frame it \
            received had an empty payload, so no status code was present. The close itself \
            was orderly (a Close frame was exchanged). RFC 6455 forbids putting 1005 in a \
            Close frame.",
        when_you_see_it: "With libraries, proxies and clients that send an empty Close \
            frame when closing without a code. In wsaudit: the first Close frame of the \
            session had a 0-byte payload.",
        how_to_fix: "Not an error by itself. To learn why sessions end, make the closing \
            side pass an explicit code (1000 for a normal close). A Close frame that \
            literally carries 1005 is a bug in its sender; wsaudit flags it as \
            invalid_close_code.",
        sent_by: SentBy::NeverOnWire,
        on_wire: false,
        reference: "RFC 6455 7.1.5, 7.4.1",
    },
    CodeInfo {
        code: 1006,
        name: "Abnormal Closure",
        summary: "No Close frame, TCP ended; ping/pong, idle timeouts",
        description: "No Close frame was sent or received: the TCP connection ended (FIN or \
            RST) without the closing handshake. Never sent: it is what an endpoint, and \
            wsaudit, reports locally when the connection disappears.",
        when_you_see_it: "A process was killed or crashed (SIGKILL, OOM), the network \
            dropped (Wi-Fi change, mobile handover), or a proxy, load balancer or NAT \
            closed a connection it thought idle. Sessions that all die at the same age \
            (e.g. 60 s after the last message) are almost always an idle timeout.",
        how_to_fix: "Send ping/pong heartbeats more often than the shortest idle timeout on \
            the path (e.g. every 20 to 30 seconds) to keep connections alive and detect dead ones. \
            Check proxy and load balancer idle timeouts (defaults of 60 seconds are common, e.g. \
            AWS ALB and nginx proxy_read_timeout) and raise them for WebSocket routes. Log how \
            TCP ended (FIN vs RST, and from which side). Make servers send a Close frame \
            (1001 or 1012) before they exit.",
        sent_by: SentBy::NeverOnWire,
        on_wire: false,
        reference: "RFC 6455 7.1.5, 7.4.1",
    },
    CodeInfo {
        code: 1007,
        name: "Invalid frame payload data",
        summary: "Bad data for the type (non-UTF-8 text); fix the sender",
        description: "An endpoint received a message whose data is not consistent with the \
            message type, most often a text message that is not valid UTF-8 (RFC 6455 \
            requires text messages to be UTF-8).",
        when_you_see_it: "A sender that puts raw bytes or another encoding (Latin-1, \
            UTF-16) in text frames, or cuts a string in the middle of a multi-byte \
            character (e.g. when truncating to a size limit).",
        how_to_fix: "Send binary frames for binary data and encode text as UTF-8 before \
            framing. The side that received 1007 sent the bad data.",
        sent_by: SentBy::Either,
        on_wire: true,
        reference: RFC_7_4_1,
    },
    CodeInfo {
        code: 1008,
        name: "Policy Violation",
        summary: "Policy refused it (auth, origin); check server policy",
        description: "An endpoint received a message that violates its policy. It is the \
            generic refusal, used when no more specific code fits (such as 1003 or 1009) \
            or when the endpoint does not want to reveal which rule was broken.",
        when_you_see_it: "Failed or expired authentication, a disallowed Origin, rate \
            limits, forbidden content, a subscription the user may not make; often right \
            after the handshake, when a token is checked.",
        how_to_fix: "Read the close reason (often the only hint) and the server's auth and \
            policy logs; check tokens, their expiry and the Origin header. The code does \
            not say which policy. Do not reconnect in a loop until the cause is fixed.",
        sent_by: SentBy::Either,
        on_wire: true,
        reference: RFC_7_4_1,
    },
    CodeInfo {
        code: 1009,
        name: "Message Too Big",
        summary: "Message too big; raise the limit or chunk messages",
        description: "An endpoint received a message too big for it to process.",
        when_you_see_it: "Payloads that grew (large JSON documents, uploads, batched \
            updates), or a library's default maximum message size (e.g. 1 MiB in Python's \
            websockets) that is lower than the application needs.",
        how_to_fix: "The side that sent 1009 has the limit. Raise its maximum message size \
            if the size is legitimate, or split large payloads into chunks (or send a link \
            and fetch the data over HTTP).",
        sent_by: SentBy::Either,
        on_wire: true,
        reference: RFC_7_4_1,
    },
    CodeInfo {
        code: 1010,
        name: "Mandatory Ext.",
        summary: "Client needs an extension that was not negotiated",
        description: "Sent only by a client: it expected the server to negotiate one or \
            more extensions in the handshake response, and the server did not. The needed \
            extensions should be listed in the close reason. A server does not send it: it \
            can fail the handshake instead.",
        when_you_see_it: "Right after the handshake, when a client insists on an extension \
            (e.g. permessage-deflate) that the server does not support or that a proxy \
            removed from the handshake.",
        how_to_fix: "Read the reason for the extension names; enable the extension on the \
            server, make sure proxies forward Sec-WebSocket-Extensions, or let the client \
            work without it.",
        sent_by: SentBy::Client,
        on_wire: true,
        reference: RFC_7_4_1,
    },
    CodeInfo {
        code: 1011,
        name: "Internal Error",
        summary: "Server error (a bug); check server logs at close time",
        description: "The server hit an unexpected condition that kept it from fulfilling \
            the request: in practice an unhandled exception or a failed dependency inside a \
            message handler. The server noticed and closed cleanly, so this is not a \
            network problem.",
        when_you_see_it: "After a deploy that introduced a bug, when a backend the handler \
            needs (database, cache, upstream API) fails, or on particular messages that \
            reach an error path. RFC 6455 defines it for servers; some client libraries \
            also send it for their own errors, so check which side sent it.",
        how_to_fix: "Look at the server logs at the close time for the exception or error \
            and correlate with the session's last messages. Raising timeouts or retrying \
            harder will not help. Clients may retry with backoff, but the same request may \
            fail again.",
        sent_by: SentBy::Server,
        on_wire: true,
        reference: RFC_7_4_1,
    },
    CodeInfo {
        code: 1012,
        name: "Service Restart",
        summary: "Server restarting; reconnect after short 1-5 s delay",
        description: "The server is terminating the connection because the service is \
            restarting: an announcement that it will be back shortly.",
        when_you_see_it: "In bursts during deploys, rolling restarts and configuration \
            reloads: many sessions on one host end within seconds of each other.",
        how_to_fix: "Nothing to fix on the server. Clients should reconnect after a short \
            delay (1-5 s, with some jitter) and expect success; if reconnects keep failing, \
            the restart took longer than announced. A server going away for good should \
            send 1001 instead.",
        sent_by: SentBy::Server,
        on_wire: true,
        reference: IANA_ONLY,
    },
    CodeInfo {
        code: 1013,
        name: "Try Again Later",
        summary: "Server overloaded; back off and retry later",
        description: "The server is terminating the connection because of a temporary \
            condition, for example it is overloaded and sheds some clients.",
        when_you_see_it: "Under load spikes, when connection limits are reached, or during \
            a partial outage of something the server depends on.",
        how_to_fix: "Clients should back off (exponential backoff with jitter, longer than \
            after 1012) before reconnecting. Operators should look at capacity and \
            connection limits: many 1013 at once mean the server is shedding load.",
        sent_by: SentBy::Server,
        on_wire: true,
        reference: IANA_ONLY,
    },
    CodeInfo {
        code: 1014,
        name: "Bad Gateway",
        summary: "Gateway got a bad upstream response (like HTTP 502)",
        description: "The server was acting as a gateway or proxy and received an invalid \
            response from the upstream server, like HTTP 502.",
        when_you_see_it: "With WebSocket and API gateways or proxies that terminate the \
            WebSocket and talk to a backend: the backend crashed, refused the connection \
            or answered something invalid.",
        how_to_fix: "Read the gateway's logs to find which upstream failed and why, then \
            that upstream's logs. Clients may retry with backoff.",
        sent_by: SentBy::Server,
        on_wire: true,
        reference: IANA_ONLY,
    },
    CodeInfo {
        code: 1015,
        name: "TLS handshake",
        summary: "TLS handshake failed; check certificates (local only)",
        description: "Never sent: it is what an endpoint reports locally when the TLS \
            handshake could not be completed, for example because the server certificate \
            could not be verified. The WebSocket never opened.",
        when_you_see_it: "wss:// connections with expired, self-signed or wrong-hostname \
            certificates, a missing intermediate certificate, a TLS version or cipher \
            mismatch, or a TLS-intercepting proxy. A capture has no WebSocket frames for \
            such a connection, so wsaudit only sees 1015 in client logs.",
        how_to_fix: "Check the certificate chain and hostname (e.g. openssl s_client \
            -connect HOST:443 -servername HOST), the client's clock, and the TLS settings \
            of the server or load balancer.",
        sent_by: SentBy::NeverOnWire,
        on_wire: false,
        reference: RFC_7_4_1,
    },
];

const RANGE_UNUSED: CodeInfo = CodeInfo {
    code: 0,
    name: "Invalid",
    summary: "Not used (0-999): must not be sent; the sender is buggy",
    description: "RFC 6455 does not use status codes below 1000: no endpoint may send \
        them.",
    when_you_see_it: "Only from a broken implementation, or a Close payload that was built \
        or parsed wrongly. wsaudit flags such a Close frame as invalid_close_code.",
    how_to_fix: "Fix the sender to use a valid code. A receiver should treat it as a \
        protocol error.",
    sent_by: SentBy::NeverOnWire,
    on_wire: false,
    reference: "RFC 6455 7.4.2",
};

const RANGE_RESERVED: CodeInfo = CodeInfo {
    code: 0,
    name: "Reserved",
    summary: "Reserved for future RFC 6455 extensions: must not be sent",
    description: "1016-2999 are reserved for the WebSocket protocol itself, its future \
        revisions and extensions. None is assigned in the IANA registry, so no endpoint may \
        send them.",
    when_you_see_it: "Only from a non-conforming or experimental implementation; wsaudit \
        flags such a Close frame as invalid_close_code.",
    how_to_fix: "Fix the sender: use a code defined by RFC 6455 or IANA, a 3000-3999 code \
        registered with IANA, or a 4000-4999 private code for application meanings.",
    sent_by: SentBy::NeverOnWire,
    on_wire: false,
    reference: "RFC 6455 7.4.2; IANA registry: unassigned",
};

const RANGE_REGISTERED: CodeInfo = CodeInfo {
    code: 0,
    name: "Registered (IANA)",
    summary: "Library/framework range registered with IANA: see the registration",
    description: "3000-3999 are for libraries, frameworks and applications, registered \
        directly with IANA on a first come, first served basis; RFC 6455 does not define \
        their meaning. Known registrations include 3000 Unauthorized, 3003 Forbidden and \
        3008 Timeout; many other values are unregistered and used ad hoc.",
    when_you_see_it: "When a library, framework or service closes with its own code, \
        commonly for authentication (3000, 3003) or application-level timeouts (3008).",
    how_to_fix: "Look the code up in the IANA WebSocket Close Code Number Registry and in \
        the documentation of the library or service that sent it, and read the close \
        reason.",
    sent_by: SentBy::Either,
    on_wire: true,
    reference: IANA_3XXX,
};

const REGISTERED_3000: CodeInfo = CodeInfo {
    code: 3000,
    summary: "IANA-registered Unauthorized (like HTTP 401): authenticate first",
    description: "Registered with IANA as Unauthorized, modelled on HTTP 401: the endpoint \
        must authenticate before its request is accepted. The 3000-3999 range is for \
        libraries, frameworks and applications; RFC 6455 itself does not define it.",
    when_you_see_it: "Usually from a server right after the handshake or on a request: a \
        missing, invalid or expired token or session.",
    how_to_fix: "Check the credentials the client sends (token, cookie, header), their \
        expiry and refresh, and the server's authentication logs. Reconnecting with the \
        same credentials fails again.",
    ..RANGE_REGISTERED
};

const REGISTERED_3003: CodeInfo = CodeInfo {
    code: 3003,
    summary: "IANA-registered Forbidden (like HTTP 403): not allowed to do that",
    description: "Registered with IANA as Forbidden, modelled on HTTP 403: the endpoint is \
        authenticated but not permitted to perform the request. The 3000-3999 range is for \
        libraries, frameworks and applications; RFC 6455 itself does not define it.",
    when_you_see_it: "Usually from a server when a user subscribes to or acts on something \
        their role does not allow.",
    how_to_fix: "Check the user's permissions and the server's authorization logs; \
        reconnecting does not help until the permission changes.",
    ..RANGE_REGISTERED
};

const REGISTERED_3008: CodeInfo = CodeInfo {
    code: 3008,
    summary: "IANA-registered Timeout (like HTTP 408): an application timeout",
    description: "Registered with IANA as Timeout, modelled on HTTP 408: the endpoint took \
        too long at the application level (e.g. to send an expected message). The \
        3000-3999 range is for libraries, frameworks and applications; RFC 6455 itself \
        does not define it.",
    when_you_see_it: "When a client connects but does not send its first message (e.g. an \
        init or auth message) in time, or a request inside the session times out.",
    how_to_fix: "Find which application timer fired (server logs, close reason); make the \
        slow side answer in time or raise that timeout. It is an application timeout, not \
        a TCP or proxy idle timeout (those give 1006).",
    ..RANGE_REGISTERED
};

const RANGE_PRIVATE: CodeInfo = CodeInfo {
    code: 0,
    name: "Private use",
    summary: "Private use: your application's own meaning; see its protocol docs",
    description: "4000-4999 are for private use by agreement between the two endpoints; \
        they cannot be registered and RFC 6455 gives them no meaning. Each application or \
        service defines its own (e.g. the graphql-ws protocol uses 4401 and 4403, modelled on \
        HTTP 401 and 403, and Discord's gateway uses codes from 4000 to 4014).",
    when_you_see_it: "Whenever the application closes for its own reasons: expired \
        session, kicked user, duplicate connection, protocol version mismatch.",
    how_to_fix: "Look the code up in your application's (or the service's) protocol \
        documentation and read the close reason: wsaudit cannot know what it means.",
    sent_by: SentBy::Either,
    on_wire: true,
    reference: "RFC 6455 7.4.2",
};

const RANGE_INVALID: CodeInfo = CodeInfo {
    code: 0,
    name: "Invalid",
    summary: "Invalid (5000 and above): must not be sent; the sender is buggy",
    description: "Codes 5000-65535 are outside every range RFC 6455 defines: no endpoint \
        may send them.",
    when_you_see_it: "A sender bug, often a code written in the wrong byte order: 1000 \
        written little-endian reads as 59395 (0xE803). wsaudit flags such a Close frame as \
        invalid_close_code.",
    how_to_fix: "Fix the sender to write a valid code, big-endian. A receiver should treat \
        it as a protocol error.",
    sent_by: SentBy::NeverOnWire,
    on_wire: false,
    reference: "RFC 6455 7.4.2",
};

/// Everything known about `code`. Total: every `u16` gets an entry (see the module docs).
pub fn info(code: u16) -> CodeInfo {
    let entry = match code {
        1000..=1015 => NAMED[usize::from(code - 1000)],
        0..=999 => RANGE_UNUSED,
        1016..=2999 => RANGE_RESERVED,
        3000..=3999 => match code {
            3000 => REGISTERED_3000,
            3003 => REGISTERED_3003,
            3008 => REGISTERED_3008,
            _ => RANGE_REGISTERED,
        },
        4000..=4999 => RANGE_PRIVATE,
        5000..=u16::MAX => RANGE_INVALID,
    };
    CodeInfo { code, ..entry }
}

/// For a code that has no entry of its own, only its range's (private use, unassigned
/// registered codes, reserved, invalid): the range and its name, `(4000, 4999, "private
/// use")`. The terminal report folds such codes into one row per range.
pub fn unnamed_range(code: u16) -> Option<(u16, u16, &'static str)> {
    match code {
        0..=999 => Some((0, 999, "unused")),
        1000..=1015 => None,
        1016..=2999 => Some((1016, 2999, "reserved")),
        3000 | 3003 | 3008 => None,
        3000..=3999 => Some((3000, 3999, "registered")),
        4000..=4999 => Some((4000, 4999, "private use")),
        5000..=u16::MAX => Some((5000, u16::MAX, "invalid")),
    }
}

/// The range a code belongs to, for headers: `None` for 1000-1015.
fn range_label(code: u16) -> Option<&'static str> {
    match code {
        0..=999 => Some("range 0-999"),
        1000..=1015 => None,
        1016..=2999 => Some("range 1016-2999"),
        3000..=3999 => Some("range 3000-3999"),
        4000..=4999 => Some("range 4000-4999"),
        5000..=u16::MAX => Some("range 5000-65535"),
    }
}

/// A short "what should the client do" used by [`compare`] for pairs without a
/// hand-written key difference.
fn reaction(code: u16) -> &'static str {
    match code {
        1000 => "nothing, reconnect only if the application still needs the connection",
        1001 => "reconnect with exponential backoff and jitter",
        1005 => "treat it as an orderly close without a reason",
        1006 => "reconnect with backoff, and check heartbeats and idle timeouts",
        1008 => "do not reconnect until the policy problem (e.g. auth) is fixed",
        1009 => "do not resend the same message, raise the limit or chunk it",
        1011 => "retry with backoff, but the server needs a fix",
        1012 => "reconnect after a short 1-5 s delay",
        1013 => "back off longer, then reconnect",
        1014 => "retry with backoff, but the upstream needs a fix",
        1015 => "fix the TLS setup before retrying",
        1002 | 1003 | 1007 | 1010 => "do not retry blindly, fix the offending side first",
        3000..=3999 => "follow the documentation of the library that registered it",
        4000..=4999 => "follow the application's own protocol",
        _ => "treat it as a protocol error and fix the sender",
    }
}

/// "Sent by" in words, for [`explain`] and [`compare`].
fn sent_by_text(i: &CodeInfo) -> &'static str {
    match (i.sent_by, i.code) {
        (SentBy::Client, _) => "client only",
        (SentBy::Server, _) => "server",
        (SentBy::Either, _) => "either side (client or server)",
        (SentBy::NeverOnWire, 1005 | 1006 | 1015) => "nobody: an endpoint reports it locally",
        (SentBy::NeverOnWire, _) => "nobody: no endpoint may send it",
    }
}

/// "On the wire" in words, for [`explain`] and [`compare`].
fn on_wire_text(i: &CodeInfo) -> &'static str {
    match (i.on_wire, i.code) {
        (true, _) => "yes: it may appear in a Close frame",
        (false, 1005 | 1006 | 1015) => "no: never in a Close frame (reported locally)",
        (false, _) => "no: a Close frame carrying it is invalid",
    }
}

/// The header of an entry: `1006 Abnormal Closure`, or `3456 Registered (IANA) (range
/// 3000-3999)` for a range entry.
fn header(i: &CodeInfo) -> String {
    match range_label(i.code) {
        Some(range) => format!("{} {} ({range})", i.code, i.name),
        None => format!("{} {}", i.code, i.name),
    }
}

/// The full entry for `code` as plain text (`wsaudit explain CODE`), lines at most
/// [`WIDTH`] columns.
pub fn explain(code: u16) -> String {
    let i = info(code);
    let mut lines: Vec<String> = Vec::new();
    lines.extend(wrap(&header(&i), WIDTH));
    lines.extend(indented(i.summary));
    lines.push(String::new());
    for (label, text) in [
        ("Meaning", i.description),
        ("When you see it", i.when_you_see_it),
        ("How to fix", i.how_to_fix),
    ] {
        lines.push(label.to_string());
        lines.extend(indented(text));
    }
    lines.push(String::new());
    for (label, text) in [
        ("Sent by", sent_by_text(&i)),
        ("On the wire", on_wire_text(&i)),
        ("Reference", i.reference),
    ] {
        lines.extend(wrap(&format!("{label}: {text}"), WIDTH));
    }
    for other in often_confused_with(code) {
        lines.push(format!(
            "Often confused with: {other} (see `wsaudit compare {code} {other}`)"
        ));
    }
    finish(lines)
}

/// Two entries side by side (`wsaudit compare A B`), then their key difference. Lines are
/// at most [`WIDTH`] columns. The argument order sets the column order only.
pub fn compare(a: u16, b: u16) -> String {
    let (x, y) = (info(a), info(b));
    let mut lines: Vec<String> = Vec::new();
    side_by_side(&mut lines, &header(&x), &header(&y));
    lines.push(format!("{}-+-{}", "-".repeat(COLUMN), "-".repeat(COLUMN)));
    let rows = [
        ("Meaning", x.description, y.description),
        ("Sent by", sent_by_text(&x), sent_by_text(&y)),
        ("On the wire", on_wire_text(&x), on_wire_text(&y)),
        ("When you see it", x.when_you_see_it, y.when_you_see_it),
        ("What to do", x.how_to_fix, y.how_to_fix),
    ];
    for (label, left, right) in rows {
        lines.push(format!("[{label}]"));
        side_by_side(&mut lines, left, right);
    }
    lines.push(String::new());
    lines.push(format!("Key difference between {a} and {b}"));
    let difference = match key_difference(a, b) {
        Some(text) => text.to_string(),
        None => generic_difference(&x, &y),
    };
    lines.extend(indented(&difference));
    finish(lines)
}

/// The key difference of a pair without a hand-written one, built from the two entries.
fn generic_difference(x: &CodeInfo, y: &CodeInfo) -> String {
    if x.code == y.code {
        return format!("{} and {} are the same code.", x.code, y.code);
    }
    let sender = |i: &CodeInfo| match (i.sent_by, i.code) {
        (SentBy::Client, _) => "sent only by a client",
        (SentBy::Server, _) => "sent by the server",
        (SentBy::Either, _) => "sent by either side",
        (SentBy::NeverOnWire, 1005 | 1006 | 1015) => "never sent: an endpoint reports it locally",
        (SentBy::NeverOnWire, _) => "never valid in a Close frame",
    };
    let wire = match (x.on_wire, y.on_wire) {
        (true, true) => "Both can appear in a Close frame.".to_string(),
        (false, false) => "Neither may appear in a Close frame.".to_string(),
        (true, false) => format!("Only {} may appear in a Close frame.", x.code),
        (false, true) => format!("Only {} may appear in a Close frame.", y.code),
    };
    format!(
        "{} ({}) is {}; {} ({}) is {}. {wire} Expected reaction after {}: {}. After {}: {}.",
        x.code,
        x.name,
        sender(x),
        y.code,
        y.name,
        sender(y),
        x.code,
        reaction(x.code),
        y.code,
        reaction(y.code),
    )
}

/// Columns of the [`list`] table: code, name, sent by; the summary takes the rest.
const LIST_CODE_W: usize = 6;
const LIST_NAME_W: usize = 28;
const LIST_SENT_W: usize = 12;
const LIST_LEFT: usize = LIST_CODE_W + LIST_NAME_W + LIST_SENT_W;

/// Maximum summary length of the codes 1000-1015, so that each has exactly one line in
/// [`list`] (ranges have their own line with room for [`SUMMARY_MAX`]).
pub const LIST_SUMMARY_MAX: usize = WIDTH - LIST_LEFT;

/// The `wsaudit codes` listing: one line per code 1000-1015 (code, name, sent by,
/// summary), then one line per range (1016-2999, 3000-3999, 4000-4999). Lines are at most
/// [`WIDTH`] columns (a summary longer than [`LIST_SUMMARY_MAX`] would continue on the
/// next line rather than overflow).
pub fn list() -> String {
    let mut lines = vec![format!(
        "{:<LIST_CODE_W$}{:<LIST_NAME_W$}{:<LIST_SENT_W$}SUMMARY",
        "CODE", "NAME", "SENT BY"
    )];
    for code in 1000..=1015 {
        let i = info(code);
        for (n, part) in wrap(i.summary, LIST_SUMMARY_MAX).iter().enumerate() {
            if n == 0 {
                lines.push(format!(
                    "{:<LIST_CODE_W$}{:<LIST_NAME_W$}{:<LIST_SENT_W$}{part}",
                    i.code,
                    i.name,
                    i.sent_by.as_str()
                ));
            } else {
                lines.push(format!("{:LIST_LEFT$}{part}", ""));
            }
        }
    }
    lines.push(String::new());
    // 11 + 19 + SUMMARY_MAX (70) = WIDTH.
    lines.push(format!("{:<11}{:<19}SUMMARY", "RANGE", "NAME"));
    for (range, i) in [
        ("1016-2999", RANGE_RESERVED),
        ("3000-3999", RANGE_REGISTERED),
        ("4000-4999", RANGE_PRIVATE),
    ] {
        lines.extend(wrap_hanging(
            &format!("{range:<11}{:<19}", i.name),
            i.summary,
        ));
    }
    lines.push(String::new());
    lines.push("Details: `wsaudit explain CODE`; confusable pairs: `wsaudit compare A B`.".into());
    finish(lines)
}

/// `head` followed by `text` wrapped into the columns left of [`WIDTH`], continuation
/// lines indented under the text.
fn wrap_hanging(head: &str, text: &str) -> Vec<String> {
    let indent = head.chars().count();
    wrap(text, WIDTH.saturating_sub(indent))
        .into_iter()
        .enumerate()
        .map(|(n, l)| match n {
            0 => format!("{head}{l}"),
            _ => format!("{:indent$}{l}", ""),
        })
        .collect()
}

/// Push `left` and `right` wrapped to [`COLUMN`] as two columns separated by `" | "`.
fn side_by_side(lines: &mut Vec<String>, left: &str, right: &str) {
    let (l, r) = (wrap(left, COLUMN), wrap(right, COLUMN));
    for n in 0..l.len().max(r.len()) {
        let left = l.get(n).map_or("", String::as_str);
        let right = r.get(n).map_or("", String::as_str);
        lines.push(format!("{left:<COLUMN$} | {right}"));
    }
}

/// `text` wrapped to [`WIDTH`] with every line indented by [`INDENT`].
fn indented(text: &str) -> Vec<String> {
    wrap(text, WIDTH - INDENT.len())
        .into_iter()
        .map(|l| format!("{INDENT}{l}"))
        .collect()
}

/// Join lines with `\n` (and a final one), trimming trailing spaces.
fn finish(lines: Vec<String>) -> String {
    let mut out = String::new();
    for l in &lines {
        out.push_str(l.trim_end());
        out.push('\n');
    }
    out
}

/// Greedy word wrap of `text` into lines of at most `width` characters (at least 1).
/// Runs of whitespace, including newlines, count as one space; a word longer than `width`
/// is split. Empty or blank text gives no lines.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut line_len = 0;
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        // A word too long for any line: fill the current line's remainder, then whole lines.
        while word.len() > width {
            if line_len > 0 {
                lines.push(std::mem::take(&mut line));
                line_len = 0;
            }
            let rest = word.split_off(width);
            lines.push(word.into_iter().collect());
            word = rest;
        }
        if word.is_empty() {
            continue;
        }
        if line_len > 0 && line_len + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
            line_len = 0;
        }
        if line_len > 0 {
            line.push(' ');
            line_len += 1;
        }
        line_len += word.len();
        line.extend(word);
    }
    if line_len > 0 {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::CloseCode;

    /// The extra codes whose `explain` the tests check besides 1000-1015.
    const RANGE_SAMPLES: [u16; 12] = [
        0, 999, 1016, 2999, 3000, 3003, 3008, 3999, 4000, 4999, 5000, 65535,
    ];

    fn explained_codes() -> impl Iterator<Item = u16> {
        (1000..=1015).chain(RANGE_SAMPLES)
    }

    /// Whitespace-insensitive form, to find a wrapped paragraph in rendered text.
    fn squash(s: &str) -> String {
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn assert_lines_fit(text: &str, what: &str) {
        assert!(!text.is_empty(), "{what}: empty");
        for line in text.lines() {
            assert!(
                line.chars().count() <= WIDTH,
                "{what}: line of {} columns: {line:?}",
                line.chars().count()
            );
            assert_eq!(line, line.trim_end(), "{what}: trailing spaces: {line:?}");
        }
    }

    fn text_fields(i: &CodeInfo) -> [&'static str; 6] {
        [
            i.name,
            i.summary,
            i.description,
            i.when_you_see_it,
            i.how_to_fix,
            i.reference,
        ]
    }

    #[test]
    fn every_named_code_1000_to_1015_has_all_texts() {
        for code in 1000..=1015 {
            let i = info(code);
            assert_eq!(i.code, code);
            for t in text_fields(&i) {
                assert!(!t.trim().is_empty(), "{code}: empty field");
            }
        }
    }

    #[test]
    fn named_entries_sit_at_their_own_index() {
        for (n, entry) in NAMED.iter().enumerate() {
            assert_eq!(usize::from(entry.code), 1000 + n);
        }
    }

    #[test]
    fn names_match_close_code_for_every_u16() {
        for code in 0..=u16::MAX {
            assert_eq!(info(code).name, CloseCode::from(code).name(), "{code}");
        }
    }

    #[test]
    fn on_wire_matches_may_be_sent_for_every_u16() {
        for code in 0..=u16::MAX {
            let i = info(code);
            assert_eq!(i.on_wire, CloseCode::from(code).may_be_sent(), "{code}");
            assert_eq!(i.on_wire, i.sent_by != SentBy::NeverOnWire, "{code}");
        }
    }

    #[test]
    fn info_is_total_and_keeps_the_asked_code() {
        for code in 0..=u16::MAX {
            assert_eq!(info(code).code, code);
        }
    }

    #[test]
    fn named_summaries_fit_one_list_line() {
        for code in 1000..=1015 {
            let s = info(code).summary;
            assert!(s.chars().count() <= LIST_SUMMARY_MAX, "{code}: {s:?}");
            let line = format!("{code}");
            assert!(list()
                .lines()
                .any(|l| l.starts_with(&line) && l.ends_with(s)));
        }
    }

    #[test]
    fn summaries_fit_the_report_table_for_every_entry() {
        for code in explained_codes() {
            let s = info(code).summary;
            assert!(s.chars().count() <= SUMMARY_MAX, "{code}: {s:?}");
            assert!(!s.contains('\n'), "{code}");
        }
    }

    #[test]
    fn all_texts_are_ascii_so_chars_are_columns() {
        for code in explained_codes() {
            for t in text_fields(&info(code)) {
                assert!(t.is_ascii(), "{code}: {t:?}");
            }
        }
        for (a, b) in CONFUSABLE_PAIRS {
            assert!(key_difference(a, b).is_some_and(str::is_ascii), "{a} {b}");
        }
    }

    #[test]
    fn never_on_wire_codes_1004_1005_1006_1015_are_not_sendable() {
        for code in [1004, 1005, 1006, 1015] {
            let i = info(code);
            assert_eq!(
                (i.sent_by, i.on_wire),
                (SentBy::NeverOnWire, false),
                "{code}"
            );
        }
        assert_eq!(info(1010).sent_by, SentBy::Client);
        for code in [1011, 1012, 1013, 1014] {
            assert_eq!(info(code).sent_by, SentBy::Server, "{code}");
        }
    }

    #[test]
    fn range_entries_fill_in_the_asked_code() {
        for (code, name) in [
            (0, "Invalid"),
            (999, "Invalid"),
            (1016, "Reserved"),
            (2999, "Reserved"),
            (3456, "Registered (IANA)"),
            (4001, "Private use"),
            (5000, "Invalid"),
            (u16::MAX, "Invalid"),
        ] {
            let i = info(code);
            assert_eq!((i.code, i.name), (code, name));
            assert!(explain(code).starts_with(&format!("{code} {name} (range ")));
        }
        assert_eq!(info(1017).description, info(2500).description);
    }

    #[test]
    fn iana_registrations_3000_3003_3008_are_named_in_their_entries() {
        for (code, registered) in [
            (3000, "Unauthorized"),
            (3003, "Forbidden"),
            (3008, "Timeout"),
        ] {
            let i = info(code);
            assert!(i.summary.contains(registered), "{code}");
            assert!(i.description.contains(registered), "{code}");
            assert!(i.reference.contains("IANA"), "{code}");
        }
        let range = info(3500).description;
        assert!(range.contains("3000 Unauthorized"));
        assert!(range.contains("3003 Forbidden"));
        assert!(range.contains("3008 Timeout"));
    }

    #[test]
    fn private_range_sends_you_to_your_own_protocol_docs() {
        let i = info(4321);
        assert!(i.how_to_fix.contains("protocol"));
        assert!(i.how_to_fix.contains("documentation"));
    }

    #[test]
    fn going_away_1001_says_reconnect_with_backoff_and_jitter() {
        let i = info(1001);
        assert!(i.summary.contains("backoff"));
        assert!(i.how_to_fix.contains("exponential backoff and jitter"));
    }

    #[test]
    fn service_restart_1012_says_short_delay() {
        let i = info(1012);
        assert!(i.summary.contains("short 1-5 s delay"));
        assert!(i.how_to_fix.contains("short"));
        assert!(i.when_you_see_it.contains("deploys"));
    }

    #[test]
    fn internal_error_1011_sends_you_to_server_logs() {
        let i = info(1011);
        assert!(i.summary.contains("server logs"));
        assert!(i.how_to_fix.contains("server logs"));
        assert!(i.description.contains("not a"));
    }

    #[test]
    fn abnormal_1006_mentions_ping_pong_and_idle_timeouts() {
        let i = info(1006);
        assert!(i.how_to_fix.contains("ping/pong"));
        assert!(i.how_to_fix.contains("idle timeout"));
        assert!(i.how_to_fix.contains("FIN vs RST"));
        assert!(i.summary.contains("ping/pong"));
    }

    #[test]
    fn explain_lines_fit_and_name_the_code() {
        for code in explained_codes() {
            let text = explain(code);
            assert_lines_fit(&text, &format!("explain {code}"));
            assert!(text.contains(&code.to_string()), "{code}");
            let i = info(code);
            let squashed = squash(&text);
            for t in [i.summary, i.description, i.when_you_see_it, i.how_to_fix] {
                assert!(squashed.contains(&squash(t)), "{code}: {t:?}");
            }
            for label in ["Meaning", "When you see it", "How to fix", "Sent by: "] {
                assert!(text.contains(label), "{code}: {label}");
            }
            assert!(text.contains("On the wire: ") && text.contains("Reference: "));
        }
    }

    #[test]
    fn explain_1006_starts_with_header_and_points_to_comparisons() {
        let text = explain(1006);
        assert!(text.starts_with("1006 Abnormal Closure\n"));
        for other in [1005, 1006, 1011, 1001] {
            if other != 1006 {
                let want =
                    format!("Often confused with: {other} (see `wsaudit compare 1006 {other}`)");
                assert!(text.contains(&want), "{want}");
            }
        }
        assert!(text.contains("Often confused with: 1012 (see `wsaudit compare 1006 1012`)"));
        assert!(!explain(1002).contains("Often confused"));
    }

    #[test]
    fn every_code_in_a_pair_lists_its_partner() {
        for (a, b) in CONFUSABLE_PAIRS {
            assert!(often_confused_with(a).contains(&b));
            assert!(often_confused_with(b).contains(&a));
        }
        assert!(often_confused_with(4000).is_empty());
    }

    #[test]
    fn compare_confusable_pairs_in_both_orders() {
        for (a, b) in CONFUSABLE_PAIRS {
            for (x, y) in [(a, b), (b, a)] {
                let text = compare(x, y);
                let what = format!("compare {x} {y}");
                assert_lines_fit(&text, &what);
                assert!(text.contains(&x.to_string()) && text.contains(&y.to_string()));
                let key = key_difference(x, y).expect("pair has a hand-written text");
                assert_eq!(Some(key), key_difference(y, x));
                assert!(squash(&text).contains(&squash(key)), "{what}");
                assert!(text.starts_with(&format!("{x} {}", info(x).name)), "{what}");
            }
        }
    }

    #[test]
    fn compare_shows_every_row_in_two_columns() {
        let text = compare(1006, 1012);
        for row in [
            "[Meaning]",
            "[Sent by]",
            "[On the wire]",
            "[When you see it]",
            "[What to do]",
            "Key difference between 1006 and 1012",
        ] {
            assert!(text.contains(row), "{row}");
        }
        let first = text.lines().next().unwrap_or_default();
        assert_eq!(first.find(" | "), Some(COLUMN));
        assert!(first.ends_with("1012 Service Restart"));
    }

    #[test]
    fn compare_other_pairs_builds_a_generic_difference() {
        for (a, b) in [
            (1002, 4001),
            (1009, 1013),
            (3000, 999),
            (1005, 1015),
            (1004, 2000),
        ] {
            assert!(key_difference(a, b).is_none());
            let text = compare(a, b);
            assert_lines_fit(&text, &format!("compare {a} {b}"));
            let squashed = squash(&text);
            assert!(squashed.contains("Expected reaction"), "{a} {b}");
            assert!(
                squashed.contains(&format!("reaction after {a}:")),
                "{a} {b}"
            );
            assert!(squashed.contains(&format!("After {b}:")), "{a} {b}");
        }
        assert!(squash(&compare(1002, 4001)).contains("Both can appear in a Close frame."));
        assert!(squash(&compare(1005, 1015)).contains("Neither may appear"));
        assert!(squash(&compare(3000, 999)).contains("Only 3000 may appear"));
        assert!(squash(&compare(1011, 1011)).contains("the same code"));
    }

    #[test]
    fn list_has_every_named_code_and_the_ranges() {
        let text = list();
        assert_lines_fit(&text, "list");
        for code in 1000..=1015 {
            let i = info(code);
            let line = text
                .lines()
                .find(|l| l.starts_with(&code.to_string()))
                .unwrap_or_else(|| panic!("no line for {code}"));
            assert!(
                line.contains(i.name) && line.contains(i.sent_by.as_str()),
                "{line}"
            );
        }
        for range in ["1016-2999", "3000-3999", "4000-4999"] {
            let line = text.lines().find(|l| l.starts_with(range));
            let i = info(range[..4].parse().unwrap_or_default());
            assert!(line.is_some_and(|l| l.contains(i.name)), "{range}");
        }
        assert!(squash(&text).contains(&squash(RANGE_REGISTERED.summary)));
        // One header, 16 codes, a blank, range header, 3 ranges, a blank, the footer.
        assert_eq!(text.lines().count(), 1 + 16 + 1 + 1 + 3 + 1 + 1, "{text}");
    }

    #[test]
    fn wrap_splits_on_words_and_respects_width() {
        assert_eq!(wrap("a bb ccc dddd", 6), ["a bb", "ccc", "dddd"]);
        assert_eq!(wrap("  spaced \n out  ", 80), ["spaced out"]);
        assert!(wrap("", 10).is_empty() && wrap(" \n ", 10).is_empty());
        assert_eq!(wrap("abcdefghij xy", 4), ["abcd", "efgh", "ij", "xy"]);
        assert_eq!(wrap("xy abcdefghij", 4), ["xy", "abcd", "efgh", "ij"]);
        assert_eq!(wrap("abc", 0), ["a", "b", "c"]);
        assert_eq!(wrap("exactly10c", 10), ["exactly10c"]);
    }

    #[test]
    fn wrap_never_loses_or_reorders_words() {
        let text = info(1006).how_to_fix;
        for width in [1, 7, 20, 48, 98] {
            let lines = wrap(text, width);
            assert!(lines.iter().all(|l| l.chars().count() <= width), "{width}");
            if width >= 20 {
                assert_eq!(lines.join(" "), squash(text), "{width}");
            }
        }
    }

    #[test]
    fn sent_by_labels_are_stable() {
        let labels = [
            SentBy::Client,
            SentBy::Server,
            SentBy::Either,
            SentBy::NeverOnWire,
        ]
        .map(SentBy::as_str);
        assert_eq!(labels, ["client", "server", "either", "never sent"]);
        assert_eq!(SentBy::Either.to_string(), "either");
    }
}
