//! The HTTP/1.1 WebSocket upgrade: request and response heads.
//!
//! Contract: pure functions over byte slices. [`head_len`] finds where a message head
//! ends; [`parse_request`] and [`parse_response`] read a complete head with nom and keep
//! only what wsaudit reports (each value capped at [`MAX_VALUE`] bytes). Header names are
//! matched case-insensitively. [`accept_for`] computes the `Sec-WebSocket-Accept` a server
//! must answer with (RFC 6455 section 4.2.2). Nothing here allocates by a length read off
//! the wire; callers cap how many head bytes they buffer ([`MAX_HEAD`]).

use base64::Engine as _;
use nom::bytes::complete::{tag, take_till, take_while, take_while1};
use nom::character::complete::{char, digit1, space0};
use nom::combinator::opt;
use nom::sequence::preceded;
use nom::{IResult, Parser};
use sha1::{Digest, Sha1};

/// Longest request or response head buffered; longer is not a WebSocket upgrade we track.
pub const MAX_HEAD: usize = 16 * 1024;
/// Longest header value kept for reporting (User-Agent, path, ...).
pub const MAX_VALUE: usize = 1024;

const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Where the head ends (index just past the blank line), if it is complete.
pub fn head_len(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(p) = memchr(b'\n', &buf[i..]) {
        let at = i + p;
        // "\n\n" or "\n\r\n"
        if buf.get(at + 1) == Some(&b'\n') {
            return Some(at + 2);
        }
        if buf.get(at + 1) == Some(&b'\r') && buf.get(at + 2) == Some(&b'\n') {
            return Some(at + 3);
        }
        i = at + 1;
    }
    None
}

fn memchr(b: u8, s: &[u8]) -> Option<usize> {
    s.iter().position(|&c| c == b)
}

/// Header fields wsaudit keeps, from either head.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    pub host: Option<String>,
    pub upgrade: Option<String>,
    pub connection: Option<String>,
    pub user_agent: Option<String>,
    pub origin: Option<String>,
    pub key: Option<String>,
    pub accept: Option<String>,
    pub protocol: Option<String>,
    pub extensions: Option<String>,
    pub version: Option<String>,
    pub content_length: Option<u64>,
    pub chunked: bool,
    pub server: Option<String>,
}

impl Headers {
    /// The fields wsaudit keeps, from `(name, value)` pairs: how HTTP/2 hands over a
    /// header list (RFC 9113 section 8.2). Names match case-insensitively, values are
    /// capped and repeated fields joined exactly as for an HTTP/1.1 head.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> Headers {
        let mut h = Headers::default();
        for (name, value) in pairs {
            h.set(name, value);
        }
        h
    }

    fn set(&mut self, name: &[u8], value: &[u8]) {
        let v = || Some(clip(value));
        let slot = match name.len() {
            4 if name.eq_ignore_ascii_case(b"host") => &mut self.host,
            7 if name.eq_ignore_ascii_case(b"upgrade") => &mut self.upgrade,
            10 if name.eq_ignore_ascii_case(b"connection") => &mut self.connection,
            10 if name.eq_ignore_ascii_case(b"user-agent") => &mut self.user_agent,
            6 if name.eq_ignore_ascii_case(b"origin") => &mut self.origin,
            6 if name.eq_ignore_ascii_case(b"server") => &mut self.server,
            17 if name.eq_ignore_ascii_case(b"sec-websocket-key") => &mut self.key,
            20 if name.eq_ignore_ascii_case(b"sec-websocket-accept") => &mut self.accept,
            22 if name.eq_ignore_ascii_case(b"sec-websocket-protocol") => &mut self.protocol,
            24 if name.eq_ignore_ascii_case(b"sec-websocket-extensions") => &mut self.extensions,
            21 if name.eq_ignore_ascii_case(b"sec-websocket-version") => &mut self.version,
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                self.content_length = std::str::from_utf8(value)
                    .ok()
                    .and_then(|s| s.trim().parse().ok());
                return;
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                self.chunked = value.windows(7).any(|w| w.eq_ignore_ascii_case(b"chunked"));
                return;
            }
            _ => return,
        };
        match slot {
            // Repeated headers (e.g. several Sec-WebSocket-Extensions lines) are one
            // comma-separated list (RFC 9110 section 5.3).
            Some(prev) if prev.len() < MAX_VALUE => {
                prev.push_str(", ");
                prev.push_str(&clip(value));
                prev.truncate(floor_char_boundary(prev, MAX_VALUE));
            }
            Some(_) => {}
            None => *slot = v(),
        }
    }
}

fn floor_char_boundary(s: &str, i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    (0..=i).rev().find(|&j| s.is_char_boundary(j)).unwrap_or(0)
}

/// A header value as text, at most [`MAX_VALUE`] bytes *after* decoding (each invalid
/// byte becomes a 3-byte U+FFFD, so cutting before decoding could triple it).
fn clip(v: &[u8]) -> String {
    let v = &v[..v.len().min(MAX_VALUE)];
    let mut s = String::from_utf8_lossy(v).trim().to_string();
    s.truncate(floor_char_boundary(&s, MAX_VALUE));
    s
}

/// A request head.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub headers: Headers,
}

impl Request {
    /// A WebSocket opening handshake: GET with `Upgrade: websocket`.
    pub fn is_websocket_upgrade(&self) -> bool {
        self.method == "GET"
            && self.headers.upgrade.as_deref().is_some_and(|u| {
                u.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("websocket"))
            })
    }
}

/// A response head.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
}

/// The standard reason phrase of an HTTP status (RFC 9110 section 15), for answers
/// that carry none (HTTP/2); empty for a status without one.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// Why a head could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotHttp;

fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn eol(i: &[u8]) -> IResult<&[u8], ()> {
    let (i, _) = opt(char('\r')).parse(i)?;
    let (i, _) = char('\n')(i)?;
    Ok((i, ()))
}

fn header_line(i: &[u8]) -> IResult<&[u8], (&[u8], &[u8])> {
    let (i, name) = take_while1(is_token)(i)?;
    let (i, _) = char(':')(i)?;
    let (i, _) = space0(i)?;
    let (i, value) = take_till(|c| c == b'\r' || c == b'\n')(i)?;
    let (i, _) = eol(i)?;
    Ok((i, (name, value)))
}

fn headers(mut i: &[u8]) -> IResult<&[u8], Headers> {
    let mut h = Headers::default();
    loop {
        if let Ok((rest, ())) = eol(i) {
            return Ok((rest, h));
        }
        let (rest, (name, value)) = header_line(i)?;
        h.set(name, value);
        i = rest;
    }
}

fn http_version(i: &[u8]) -> IResult<&[u8], &[u8]> {
    preceded(
        tag("HTTP/"),
        take_while1(|c: u8| c.is_ascii_digit() || c == b'.'),
    )
    .parse(i)
}

fn request(i: &[u8]) -> IResult<&[u8], Request> {
    let (i, method) = take_while1(is_token)(i)?;
    let (i, _) = char(' ')(i)?;
    let (i, target) = take_till(|c| c == b' ' || c == b'\r' || c == b'\n')(i)?;
    let (i, _) = char(' ')(i)?;
    let (i, _) = http_version(i)?;
    let (i, _) = eol(i)?;
    let (i, headers) = headers(i)?;
    Ok((
        i,
        Request {
            method: String::from_utf8_lossy(method).into_owned(),
            target: clip(target),
            headers,
        },
    ))
}

fn response(i: &[u8]) -> IResult<&[u8], Response> {
    let (i, _) = http_version(i)?;
    let (i, _) = take_while1(|c| c == b' ')(i)?;
    let (i, code) = digit1(i)?;
    let (i, _) = take_while(|c| c == b' ')(i)?;
    let (i, reason) = take_till(|c| c == b'\r' || c == b'\n')(i)?;
    let (i, _) = eol(i)?;
    let (i, headers) = headers(i)?;
    let status = std::str::from_utf8(code)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((
        i,
        Response {
            status,
            reason: clip(reason),
            headers,
        },
    ))
}

/// Parse a complete request head (as delimited by [`head_len`]).
pub fn parse_request(head: &[u8]) -> Result<Request, NotHttp> {
    request(head).map(|(_, r)| r).map_err(|_| NotHttp)
}

/// Parse a complete response head (as delimited by [`head_len`]).
pub fn parse_response(head: &[u8]) -> Result<Response, NotHttp> {
    response(head).map(|(_, r)| r).map_err(|_| NotHttp)
}

/// The start of a request head whose rest was never captured (snaplen, loss): a GET
/// request line, with the target if the line got that far.
pub fn partial_request(prefix: &[u8]) -> Option<Request> {
    let rest = prefix.strip_prefix(b"GET ")?;
    let end = rest
        .iter()
        .position(|&c| c == b' ' || c == b'\r' || c == b'\n')
        .unwrap_or(rest.len());
    Some(Request {
        method: "GET".into(),
        target: clip(&rest[..end]),
        headers: Headers::default(),
    })
}

/// The status code of a response head whose rest was never captured, if the status
/// line got that far (`HTTP/1.1 101`).
pub fn partial_status(prefix: &[u8]) -> Option<u16> {
    let (rest, _) = http_version(prefix).ok()?;
    let rest = rest.strip_prefix(b" ")?;
    let code = rest.get(..3)?;
    if !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

/// Whether `prefix` could be the start of an HTTP request (used to tell which side is
/// the client before a head is complete).
pub fn looks_like_request(prefix: &[u8]) -> bool {
    const METHODS: [&[u8]; 9] = [
        b"GET ",
        b"POST ",
        b"PUT ",
        b"HEAD ",
        b"DELETE ",
        b"OPTIONS ",
        b"PATCH ",
        b"CONNECT ",
        b"TRACE ",
    ];
    METHODS.iter().any(|m| {
        let n = m.len().min(prefix.len());
        n > 0 && prefix[..n] == m[..n]
    })
}

/// Whether `prefix` could be the start of an HTTP response.
pub fn looks_like_response(prefix: &[u8]) -> bool {
    let m = b"HTTP/";
    let n = m.len().min(prefix.len());
    n > 0 && prefix[..n] == m[..n]
}

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`.
pub fn accept_for(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.trim().as_bytes());
    h.update(WS_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// Whether the negotiated extensions include permessage-deflate.
pub fn has_permessage_deflate(extensions: Option<&str>) -> bool {
    extensions.is_some_and(|e| {
        e.split(',').any(|x| {
            x.split(';')
                .next()
                .is_some_and(|n| n.trim().eq_ignore_ascii_case("permessage-deflate"))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6455_sample_key_gives_sample_accept() {
        assert_eq!(
            accept_for("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn upgrade_request_with_mixed_case_headers_is_recognised() {
        let head = b"GET /chat?x=1 HTTP/1.1\r\nhOsT: example.com\r\nUPGRADE: WebSocket\r\nConnection: keep-alive, Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Extensions: permessage-deflate\r\nSec-WebSocket-Extensions: x-foo\r\nUser-Agent: t/1\r\n\r\n";
        assert_eq!(head_len(head), Some(head.len()));
        let r = parse_request(head).unwrap();
        assert!(r.is_websocket_upgrade());
        assert_eq!(r.target, "/chat?x=1");
        assert_eq!(r.headers.host.as_deref(), Some("example.com"));
        assert_eq!(r.headers.key.as_deref(), Some("dGhlIHNhbXBsZSBub25jZQ=="));
        assert_eq!(
            r.headers.extensions.as_deref(),
            Some("permessage-deflate, x-foo")
        );
        assert!(has_permessage_deflate(r.headers.extensions.as_deref()));
    }

    #[test]
    fn refused_upgrade_response_keeps_status_and_length() {
        let head = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 12\r\n\r\n";
        let r = parse_response(head).unwrap();
        assert_eq!(r.status, 403);
        assert_eq!(r.reason, "Forbidden");
        assert_eq!(r.headers.content_length, Some(12));
    }

    #[test]
    fn plain_get_is_not_an_upgrade() {
        let r = parse_request(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        assert!(!r.is_websocket_upgrade());
    }

    #[test]
    fn incomplete_head_has_no_length() {
        assert_eq!(head_len(b"GET / HTTP/1.1\r\nHost: a\r\n"), None);
        assert!(looks_like_request(b"GE"));
        assert!(!looks_like_request(b"\x16\x03\x01"));
    }

    #[test]
    fn heads_cut_by_the_snaplen_still_give_path_and_status() {
        let r = partial_request(b"GET /chat/room1 HTTP/1.1\r\nHost: 127.0").unwrap();
        assert_eq!(r.target, "/chat/room1");
        assert_eq!(
            partial_request(b"GET /very-long-pa").unwrap().target,
            "/very-long-pa"
        );
        assert_eq!(partial_request(b"POST / HTTP/1.1"), None);
        assert_eq!(partial_status(b"HTTP/1.1 101 Switching Protoc"), Some(101));
        assert_eq!(partial_status(b"HTTP/1.1 40"), None);
        assert_eq!(partial_status(b"SSH-2.0"), None);
    }

    #[test]
    fn header_values_stay_within_the_cap_even_when_invalid_utf8() {
        let mut head = b"GET / HTTP/1.1\r\nUser-Agent: ".to_vec();
        head.extend(std::iter::repeat_n(0xffu8, 5000));
        head.extend(b"\r\n\r\n");
        let r = parse_request(&head).unwrap();
        let ua = r.headers.user_agent.unwrap();
        assert!(ua.len() <= MAX_VALUE, "{}", ua.len());
        assert!(ua.starts_with('\u{fffd}'));
    }

    #[test]
    fn garbage_is_not_http() {
        assert_eq!(parse_request(b"\x00\x01\r\n\r\n"), Err(NotHttp));
        assert_eq!(parse_response(b"HTTP/1.1 abc\r\n\r\n"), Err(NotHttp));
    }

    #[test]
    fn pairs_give_the_same_fields_as_a_head() {
        let h = Headers::from_pairs([
            (&b"Sec-WebSocket-Protocol"[..], &b"chat"[..]),
            (b"user-agent", b"curl/8"),
            (b"sec-websocket-protocol", b"superchat"),
            (b"x-other", b"ignored"),
        ]);
        let head = parse_request(
            b"GET / HTTP/1.1\r\nSec-WebSocket-Protocol: chat\r\nUser-Agent: curl/8\r\n\
              sec-websocket-protocol: superchat\r\nX-Other: ignored\r\n\r\n",
        )
        .unwrap();
        assert_eq!(h, head.headers);
        assert_eq!(h.protocol.as_deref(), Some("chat, superchat"));
    }
}
