//! Close frame payloads (RFC 6455 5.5.1, 7.1.5, 7.4) and close status codes.
//!
//! Contract:
//! - [`CloseCode`] converts totally from `u16` and keeps the raw value: named variants for
//!   1000-1015 except 1004 (which is `Reserved(1004)`, IANA's "Reserved"), then ranges (1016-2999 reserved, 3000-3999 registered, 4000-4999 private,
//!   everything else invalid). [`CloseCode::name`] gives the IANA "WebSocket Close Code
//!   Number Registry" names; [`CloseCode::may_be_sent`] says whether an endpoint may put
//!   the code on the wire.
//! - [`parse_close_payload`] is pure and total over an (already unmasked) payload: 0 bytes
//!   is "no status" (1005 semantics), 1 byte is a protocol violation, otherwise a
//!   big-endian code and a reason decoded lossily, with a flag saying whether it was valid
//!   UTF-8. The only allocation is the reason, bounded by the payload slice given (the
//!   decoder caps that at `MAX_CONTROL_BUFFER`).

use nom::number::complete::be_u16;

/// A close status code. `From<u16>` is total; [`CloseCode::code`] returns the raw value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseCode {
    /// 1000
    Normal,
    /// 1001
    GoingAway,
    /// 1002
    ProtocolError,
    /// 1003
    Unsupported,
    /// 1005 (must not be sent: means "no code was present")
    NoStatus,
    /// 1006 (must not be sent: means "closed without a Close frame")
    Abnormal,
    /// 1007
    InvalidPayload,
    /// 1008
    PolicyViolation,
    /// 1009
    MessageTooBig,
    /// 1010
    MandatoryExtension,
    /// 1011
    InternalError,
    /// 1012
    ServiceRestart,
    /// 1013
    TryAgainLater,
    /// 1014
    BadGateway,
    /// 1015 (must not be sent: TLS handshake failure)
    TlsHandshake,
    /// 1004 (IANA "Reserved") and 1016-2999 (reserved for future RFCs): must not be sent.
    /// 1004 is `Reserved(1004)` rather than a unit variant, because an enum cannot have
    /// two variants named `Reserved`.
    Reserved(u16),
    /// 3000-3999: registered with IANA by libraries and frameworks.
    Registered(u16),
    /// 4000-4999: private use by applications.
    Private(u16),
    /// 0-999 and 5000-65535: never valid.
    Invalid(u16),
}

impl From<u16> for CloseCode {
    fn from(c: u16) -> Self {
        use CloseCode::*;
        match c {
            1000 => Normal,
            1001 => GoingAway,
            1002 => ProtocolError,
            1003 => Unsupported,
            1005 => NoStatus,
            1006 => Abnormal,
            1007 => InvalidPayload,
            1008 => PolicyViolation,
            1009 => MessageTooBig,
            1010 => MandatoryExtension,
            1011 => InternalError,
            1012 => ServiceRestart,
            1013 => TryAgainLater,
            1014 => BadGateway,
            1015 => TlsHandshake,
            1004 | 1016..=2999 => Reserved(c),
            3000..=3999 => Registered(c),
            4000..=4999 => Private(c),
            _ => Invalid(c),
        }
    }
}

impl From<CloseCode> for u16 {
    fn from(c: CloseCode) -> u16 {
        c.code()
    }
}

impl CloseCode {
    /// The raw value on the wire.
    pub fn code(&self) -> u16 {
        use CloseCode::*;
        match *self {
            Normal => 1000,
            GoingAway => 1001,
            ProtocolError => 1002,
            Unsupported => 1003,
            NoStatus => 1005,
            Abnormal => 1006,
            InvalidPayload => 1007,
            PolicyViolation => 1008,
            MessageTooBig => 1009,
            MandatoryExtension => 1010,
            InternalError => 1011,
            ServiceRestart => 1012,
            TryAgainLater => 1013,
            BadGateway => 1014,
            TlsHandshake => 1015,
            Reserved(c) | Registered(c) | Private(c) | Invalid(c) => c,
        }
    }

    /// Name from the IANA WebSocket Close Code Number Registry ("Reserved",
    /// "Registered (IANA)", "Private use" or "Invalid" for the ranges).
    pub fn name(&self) -> &'static str {
        use CloseCode::*;
        match self {
            Normal => "Normal Closure",
            GoingAway => "Going Away",
            ProtocolError => "Protocol error",
            Unsupported => "Unsupported Data",
            NoStatus => "No Status Rcvd",
            Abnormal => "Abnormal Closure",
            InvalidPayload => "Invalid frame payload data",
            PolicyViolation => "Policy Violation",
            MessageTooBig => "Message Too Big",
            MandatoryExtension => "Mandatory Ext.",
            InternalError => "Internal Error",
            ServiceRestart => "Service Restart",
            TryAgainLater => "Try Again Later",
            BadGateway => "Bad Gateway",
            TlsHandshake => "TLS handshake",
            Reserved(_) => "Reserved",
            Registered(_) => "Registered (IANA)",
            Private(_) => "Private use",
            Invalid(_) => "Invalid",
        }
    }

    /// Whether an endpoint may send this code in a Close frame (RFC 6455 7.4.1/7.4.2 and
    /// the IANA registry): false for < 1000, 1004, 1005, 1006, 1015, 1016-2999 and >= 5000.
    pub fn may_be_sent(&self) -> bool {
        use CloseCode::*;
        !matches!(
            self,
            NoStatus | Abnormal | TlsHandshake | Reserved(_) | Invalid(_)
        )
    }
}

impl std::fmt::Display for CloseCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.code(), self.name())
    }
}

/// What a Close frame's payload said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClosePayload {
    /// Empty payload: no status code (the receiver reports 1005).
    NoStatus,
    /// Exactly one byte: a protocol violation (RFC 6455 5.5.1 needs 0 or >= 2 bytes).
    OneByte,
    /// A status code and a reason (possibly empty).
    Code {
        code: CloseCode,
        /// The reason decoded lossily (invalid sequences become U+FFFD).
        reason: String,
        /// The reason bytes were valid UTF-8 (RFC 6455 requires it).
        reason_valid_utf8: bool,
    },
}

/// Parse an unmasked Close payload. Total: every byte slice gives a [`ClosePayload`].
pub fn parse_close_payload(p: &[u8]) -> ClosePayload {
    if p.is_empty() {
        return ClosePayload::NoStatus;
    }
    match be_u16::<_, nom::error::Error<&[u8]>>(p) {
        Ok((rest, raw)) => ClosePayload::Code {
            code: CloseCode::from(raw),
            reason: String::from_utf8_lossy(rest).into_owned(),
            reason_valid_utf8: std::str::from_utf8(rest).is_ok(),
        },
        Err(_) => ClosePayload::OneByte,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(code: u16, reason: &[u8]) -> Vec<u8> {
        let mut v = code.to_be_bytes().to_vec();
        v.extend_from_slice(reason);
        v
    }

    #[test]
    fn empty_payload_is_no_status() {
        assert_eq!(parse_close_payload(&[]), ClosePayload::NoStatus);
    }

    #[test]
    fn one_byte_payload_is_a_violation() {
        assert_eq!(parse_close_payload(&[0x03]), ClosePayload::OneByte);
    }

    #[test]
    fn normal_closure_without_reason() {
        assert_eq!(
            parse_close_payload(&payload(1000, b"")),
            ClosePayload::Code {
                code: CloseCode::Normal,
                reason: String::new(),
                reason_valid_utf8: true
            }
        );
    }

    #[test]
    fn private_4001_with_utf8_reason_deconnecte() {
        let p = payload(4001, "déconnecté".as_bytes());
        match parse_close_payload(&p) {
            ClosePayload::Code {
                code,
                reason,
                reason_valid_utf8,
            } => {
                assert_eq!(code, CloseCode::Private(4001));
                assert_eq!(code.name(), "Private use");
                assert!(code.may_be_sent());
                assert_eq!(reason, "déconnecté");
                assert!(reason_valid_utf8);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn invalid_utf8_reason_is_decoded_lossily_and_flagged() {
        let p = payload(1000, &[b'o', b'k', 0xFF, 0xC3]);
        match parse_close_payload(&p) {
            ClosePayload::Code {
                reason,
                reason_valid_utf8,
                ..
            } => {
                assert_eq!(reason, "ok\u{FFFD}\u{FFFD}");
                assert!(!reason_valid_utf8);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_status_1005_on_the_wire_may_not_be_sent() {
        match parse_close_payload(&payload(1005, b"")) {
            ClosePayload::Code { code, .. } => {
                assert_eq!(code, CloseCode::NoStatus);
                assert_eq!(code.name(), "No Status Rcvd");
                assert!(!code.may_be_sent());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn code_999_is_invalid() {
        let c = CloseCode::from(999);
        assert_eq!(c, CloseCode::Invalid(999));
        assert_eq!(
            (c.name(), c.may_be_sent(), c.code()),
            ("Invalid", false, 999)
        );
    }

    #[test]
    fn code_2999_is_reserved_and_may_not_be_sent() {
        let c = CloseCode::from(2999);
        assert_eq!(c, CloseCode::Reserved(2999));
        assert_eq!((c.name(), c.may_be_sent()), ("Reserved", false));
    }

    #[test]
    fn code_1004_is_reserved_and_may_not_be_sent() {
        let c = CloseCode::from(1004);
        assert_eq!(c, CloseCode::Reserved(1004));
        assert_eq!(
            (c.name(), c.may_be_sent(), c.code()),
            ("Reserved", false, 1004)
        );
    }

    #[test]
    fn code_3000_is_registered_and_may_be_sent() {
        let c = CloseCode::from(3000);
        assert_eq!(c, CloseCode::Registered(3000));
        assert_eq!((c.name(), c.may_be_sent()), ("Registered (IANA)", true));
    }

    #[test]
    fn conversion_is_total_and_round_trips_every_u16() {
        for v in 0..=u16::MAX {
            assert_eq!(CloseCode::from(v).code(), v);
        }
    }

    #[test]
    fn may_be_sent_matches_rfc_6455_and_iana_for_every_code() {
        for v in 0..=u16::MAX {
            let forbidden = v < 1000
                || matches!(v, 1004 | 1005 | 1006 | 1015)
                || (1016..=2999).contains(&v)
                || v >= 5000;
            assert_eq!(CloseCode::from(v).may_be_sent(), !forbidden, "{v}");
        }
    }

    #[test]
    fn named_codes_have_iana_names() {
        let names: Vec<&str> = (1000..=1015).map(|c| CloseCode::from(c).name()).collect();
        assert_eq!(
            names,
            [
                "Normal Closure",
                "Going Away",
                "Protocol error",
                "Unsupported Data",
                "Reserved",
                "No Status Rcvd",
                "Abnormal Closure",
                "Invalid frame payload data",
                "Policy Violation",
                "Message Too Big",
                "Mandatory Ext.",
                "Internal Error",
                "Service Restart",
                "Try Again Later",
                "Bad Gateway",
                "TLS handshake",
            ]
        );
    }

    #[test]
    fn a_code_converts_back_to_its_number_and_displays_with_its_registry_name() {
        for raw in [0u16, 1000, 1001, 1004, 1015, 2999, 3000, 4001, 5000, 65535] {
            assert_eq!(u16::from(CloseCode::from(raw)), raw);
        }
        assert_eq!(CloseCode::GoingAway.to_string(), "1001 (Going Away)");
        assert_eq!(CloseCode::from(4001).to_string(), "4001 (Private use)");
        assert_eq!(CloseCode::from(1004).to_string(), "1004 (Reserved)");
    }
}
