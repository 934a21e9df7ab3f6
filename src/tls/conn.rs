//! One TLS connection: records per direction, the handshake facts, and decryption.
//!
//! Contract: a [`TlsConn`] is fed each direction's in-order TCP bytes (client first
//! seen sending a ClientHello, see [`looks_like_client_hello`]) and hands on the
//! decrypted application data of each direction, in order, to its caller. It reads the
//! plaintext handshake (ClientHello: client random, SNI; ServerHello:
//! version, suite; TLS 1.2's negotiated ALPN), finds the connection's secrets by its
//! client random in a [`KeyStore`], and then decrypts records: TLS 1.3 with the
//! handshake secrets until each side's Finished, then the traffic secrets (and every
//! KeyUpdate); TLS 1.2 from each side's ChangeCipherSpec on. What it learns is in
//! [`TlsFacts`]: whether it decrypted (or why not), `close_notify` and alerts per side.
//!
//! Memory per direction is bounded: one record (at most 5 + 2^14 + 2048 bytes) plus
//! the handshake message being read, kept only for the few types whose body is needed
//! and only up to [`MAX_HANDSHAKE_KEPT`]. Without keys records are skipped by their
//! length, never buffered. A record that fails authentication, a record longer than TLS
//! allows, or a gap in the capture stops that direction (an anomaly, never a panic).

use std::collections::BTreeMap;
use std::sync::Arc;

use tls_parser::{
    parse_tls_client_hello_extensions, parse_tls_extensions, parse_tls_handshake_client_hello,
    parse_tls_handshake_server_hello, parse_tls_server_hello_extensions, TlsExtension,
};

use super::crypto::{self, RecordCipher, Suite, SuiteSupport};
use super::keylog::Secrets;
use super::KeyStore;
use crate::Side;

/// The largest record TLS allows on the wire (TLS 1.2's ciphertext bound; TLS 1.3's is
/// smaller).
pub const MAX_RECORD: usize = (1 << 14) + 2048;
/// The largest handshake message whose body is kept (hellos and EncryptedExtensions
/// are far smaller; certificates are skipped, never kept).
pub const MAX_HANDSHAKE_KEPT: usize = 64 << 10;
/// What one connection's TLS state may hold on the heap at most: a record buffer and a
/// kept handshake body per direction, the traffic secrets, and the ClientHello's
/// strings (SNI and ALPN values are at most 64 KiB in all, the hello's own bound).
pub const MAX_HEAP_BYTES: usize = 2 * (2 * (MAX_RECORD + 5) + MAX_HANDSHAKE_KEPT + 64) + (64 << 10);

const CCS: u8 = 20;
const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;

const HS_CLIENT_HELLO: u8 = 1;
const HS_SERVER_HELLO: u8 = 2;
const HS_ENCRYPTED_EXTENSIONS: u8 = 8;
const HS_FINISHED: u8 = 20;
const HS_KEY_UPDATE: u8 = 24;

/// SHA-256("HelloRetryRequest"): a ServerHello with this random asks the client to try
/// again (RFC 8446 4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

/// Whether a direction's first bytes are a TLS handshake record holding a ClientHello
/// (how TLS is found on any port). Needs at least 6 bytes to say yes.
pub fn looks_like_client_hello(b: &[u8]) -> bool {
    b.len() >= 6
        && b[0] == HANDSHAKE
        && b[1] == 3
        && b[2] <= 4
        && u16::from_be_bytes([b[3], b[4]]) as usize >= 4
        && b[5] == HS_CLIENT_HELLO
}

/// Whether decryption happened, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decryption {
    /// No ServerHello seen yet (or the capture began after the handshake).
    NoHandshake,
    /// The key logs hold no secrets for this connection's client random.
    NoKey,
    /// The negotiated suite or version is not one this tool decrypts.
    Unsupported(&'static str),
    /// Secrets found: records were decrypted.
    Decrypted,
}

impl Decryption {
    /// The `decrypted` column: true, false, or unknown (no handshake seen).
    pub fn as_bool(self) -> Option<bool> {
        match self {
            Decryption::Decrypted => Some(true),
            Decryption::NoKey | Decryption::Unsupported(_) => Some(false),
            Decryption::NoHandshake => None,
        }
    }
}

/// What a TLS connection showed, for the session record and the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFacts {
    /// The negotiated version (0x0303 TLS 1.2, 0x0304 TLS 1.3).
    pub version: Option<u16>,
    pub cipher: Option<u16>,
    pub sni: Option<String>,
    /// The negotiated ALPN protocol (TLS 1.2's ServerHello, or TLS 1.3's decrypted
    /// EncryptedExtensions).
    pub alpn: Option<String>,
    pub decryption: Decryption,
    /// A `close_notify` alert was seen from [client, server].
    pub close_notify: [bool; 2],
    /// The first alert other than `close_notify` from [client, server]: (level,
    /// description).
    pub alert: [Option<(u8, u8)>; 2],
    /// Alert records seen that could not be read (encrypted, no key), per side.
    pub unreadable_alerts: [u32; 2],
    pub anomalies: BTreeMap<&'static str, u32>,
}

impl TlsFacts {
    /// `TLSv1.2` / `TLSv1.3` (the names OpenSSL and Python print).
    pub fn version_name(&self) -> Option<&'static str> {
        Some(match self.version? {
            0x0304 => "TLSv1.3",
            0x0303 => "TLSv1.2",
            0x0302 => "TLSv1.1",
            0x0301 => "TLSv1",
            0x0300 => "SSLv3",
            _ => "unknown",
        })
    }

    pub fn cipher_name(&self) -> Option<String> {
        self.cipher.map(crypto::suite_name)
    }
}

/// The IANA name of an alert description (`close_notify`, `bad_record_mac`, ...).
pub fn alert_name(desc: u8) -> String {
    let s = match desc {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        22 => "record_overflow",
        40 => "handshake_failure",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => return format!("alert_{desc}"),
    };
    s.to_string()
}

/// Reassembles one direction's handshake messages from record payloads.
#[derive(Default)]
struct HsReader {
    head: [u8; 4],
    have_head: usize,
    /// Body bytes of the current message still to come.
    remaining: usize,
    keep: bool,
    body: Vec<u8>,
}

impl HsReader {
    fn wanted(typ: u8) -> bool {
        matches!(
            typ,
            HS_CLIENT_HELLO | HS_SERVER_HELLO | HS_ENCRYPTED_EXTENSIONS | HS_KEY_UPDATE
        )
    }

    /// Feed handshake bytes; `done(type, body)` for each complete message (`body`
    /// empty when it was not kept).
    fn feed(&mut self, mut data: &[u8], done: &mut impl FnMut(u8, &[u8])) {
        while !data.is_empty() {
            if self.have_head < 4 {
                let n = (4 - self.have_head).min(data.len());
                self.head[self.have_head..self.have_head + n].copy_from_slice(&data[..n]);
                self.have_head += n;
                data = &data[n..];
                if self.have_head < 4 {
                    return;
                }
                let len = u32::from_be_bytes([0, self.head[1], self.head[2], self.head[3]]);
                self.remaining = len as usize;
                self.keep = Self::wanted(self.head[0]) && self.remaining <= MAX_HANDSHAKE_KEPT;
                self.body.clear();
            }
            let n = self.remaining.min(data.len());
            if self.keep {
                self.body.extend_from_slice(&data[..n]);
            }
            self.remaining -= n;
            data = &data[n..];
            if self.remaining == 0 {
                done(self.head[0], &self.body);
                self.have_head = 0;
                self.body.clear();
                if self.body.capacity() > 4096 {
                    self.body = Vec::new();
                }
            }
        }
    }
}

/// TLS 1.3's key stage of one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Handshake,
    Application,
}

#[derive(Default)]
struct Direction {
    /// The record being read: its header and (when decrypting) its bytes.
    buf: Vec<u8>,
    /// When skipping a record without buffering it: bytes still to skip.
    skip: usize,
    hs: HsReader,
    cipher: Option<RecordCipher>,
    /// TLS 1.2: the cipher that starts with this side's ChangeCipherSpec.
    pending: Option<RecordCipher>,
    /// TLS 1.3: this side's current traffic secret (for KeyUpdate).
    secret: Vec<u8>,
    stage: Option<Stage>,
    /// This side's records are encrypted from here on (TLS 1.2 after its CCS; TLS 1.3
    /// after the ServerHello).
    encrypted: bool,
    /// application_data records seen (decrypted or not).
    protected_records: u64,
    /// A ChangeCipherSpec was seen.
    ccs: bool,
    dead: bool,
}

/// One TLS connection; see the module docs.
pub struct TlsConn {
    keys: Arc<KeyStore>,
    dirs: [Direction; 2],
    facts: TlsFacts,
    client_random: Option<[u8; 32]>,
    server_random: Option<[u8; 32]>,
    /// An application-data record was decrypted (or, without keys, seen after the
    /// handshake in TLS 1.2).
    app_data_seen: bool,
    suite: Option<Suite>,
    secrets: Option<Secrets>,
    tls13: bool,
}

impl TlsConn {
    pub fn new(keys: Arc<KeyStore>) -> TlsConn {
        TlsConn {
            keys,
            dirs: Default::default(),
            facts: TlsFacts {
                version: None,
                cipher: None,
                sni: None,
                alpn: None,
                decryption: Decryption::NoHandshake,
                close_notify: [false; 2],
                alert: [None; 2],
                unreadable_alerts: [0; 2],
                anomalies: BTreeMap::new(),
            },
            client_random: None,
            server_random: None,
            app_data_seen: false,
            suite: None,
            secrets: None,
            tls13: false,
        }
    }

    pub fn facts(&self) -> &TlsFacts {
        &self.facts
    }

    fn anomaly(&mut self, name: &'static str) {
        *self.facts.anomalies.entry(name).or_insert(0) += 1;
    }

    /// Whether the handshake failed: a ClientHello that got no ServerHello, a fatal
    /// alert before any application data, or (decrypted) a side that never finished
    /// its handshake. A connection that failed this way carried no WebSocket.
    pub fn handshake_failed(&self) -> bool {
        if self.client_random.is_some() && self.server_random.is_none() {
            return true;
        }
        if self.app_data_seen {
            return false;
        }
        let fatal = self
            .facts
            .alert
            .iter()
            .flatten()
            .any(|(level, _)| *level == 2);
        // Visible without keys: in TLS 1.3 a client that finished its handshake sent
        // at least one protected record (its Finished); in TLS 1.2 each side that
        // finished sent a ChangeCipherSpec.
        let unfinished = if self.tls13 {
            self.dirs[0].protected_records == 0
        } else {
            self.dirs.iter().any(|d| !d.ccs)
        };
        let decrypted_unfinished = self.facts.decryption == Decryption::Decrypted
            && self.tls13
            && self
                .dirs
                .iter()
                .any(|d| d.stage != Some(Stage::Application));
        fatal || unfinished || decrypted_unfinished
    }

    /// Heap bytes held by this connection's state (bounded: see the module docs).
    pub fn heap_bytes(&self) -> usize {
        self.dirs
            .iter()
            .map(|d| d.buf.capacity() + d.hs.body.capacity() + d.secret.capacity())
            .sum::<usize>()
            + self.facts.sni.as_ref().map_or(0, String::capacity)
            + self.facts.alpn.as_ref().map_or(0, String::capacity)
    }

    /// Whether a direction stopped being read (a record failed, a gap, a record that
    /// was not one).
    pub fn impaired(&self) -> bool {
        self.dirs.iter().any(|d| d.dead)
    }

    /// Whether more bytes can still tell anything: not once both directions are
    /// stopped, nor for TLS 1.3 without keys once each side sent a protected record
    /// (then everything, alerts included, is opaque, and the handshake is known to have
    /// completed). TLS 1.2 without keys is read on: its alert records are visible.
    pub fn wants_data(&self) -> bool {
        if self.dirs.iter().all(|d| d.dead) {
            return false;
        }
        let opaque = matches!(
            self.facts.decryption,
            Decryption::NoKey | Decryption::Unsupported(_)
        );
        !(opaque && self.tls13 && self.dirs.iter().all(|d| d.protected_records > 0))
    }

    /// Bytes of `side` were never captured: that direction's records can no longer be
    /// found, so it stops (an anomaly when it was still being read).
    ///
    /// A gap that ends inside the record being read loses that record only: its end is
    /// known from its header, so reading resumes at the next record (with the sequence
    /// number moved past the lost one), and the plaintext the record held is returned,
    /// for the layer above to skip (`Some(bytes)`; AEAD overhead taken off, padding
    /// assumed none). Any other gap stops the direction (`None`).
    pub fn gap(&mut self, side: Side, len: u64) -> Option<u64> {
        let i = side.index();
        let tls13 = self.tls13;
        let d = &mut self.dirs[i];
        if d.dead {
            return None;
        }
        // Skipping an unreadable record: the gap is part of what is skipped.
        if d.skip > 0 && len <= d.skip as u64 {
            d.skip -= len as usize;
            return Some(0);
        }
        if d.buf.len() >= 5 && d.skip == 0 {
            let rec_len = 5 + u16::from_be_bytes([d.buf[3], d.buf[4]]) as usize;
            let remaining = (rec_len - d.buf.len()) as u64;
            if len <= remaining {
                let typ = d.buf[0];
                d.buf.clear();
                d.skip = (remaining - len) as usize;
                let overhead = match (&d.cipher, tls13) {
                    (None, _) => 0,
                    (Some(_), true) => 16 + 1,
                    (Some(c), false) => 16 + c.explicit_nonce_len(),
                };
                if let Some(c) = d.cipher.as_mut() {
                    c.skip_record();
                }
                self.anomaly("tls_record_lost");
                let plain = if typ == APPLICATION_DATA || tls13 {
                    (rec_len - 5).saturating_sub(overhead) as u64
                } else {
                    0
                };
                return Some(plain);
            }
        }
        d.dead = true;
        d.buf = Vec::new();
        self.anomaly("tls_gap");
        None
    }

    /// Feed `side`'s next in-order bytes; `out(side, plaintext)` receives decrypted
    /// application data.
    pub fn feed(&mut self, side: Side, mut data: &[u8], out: &mut impl FnMut(Side, &[u8])) {
        let i = side.index();
        while !data.is_empty() && !self.dirs[i].dead {
            // Skipping a record we cannot decrypt.
            let d = &mut self.dirs[i];
            if d.skip > 0 {
                let n = d.skip.min(data.len());
                d.skip -= n;
                data = &data[n..];
                continue;
            }
            // The header first.
            if d.buf.len() < 5 {
                let n = (5 - d.buf.len()).min(data.len());
                d.buf.extend_from_slice(&data[..n]);
                data = &data[n..];
                if d.buf.len() < 5 {
                    return;
                }
                let len = u16::from_be_bytes([d.buf[3], d.buf[4]]) as usize;
                let typ = d.buf[0];
                if !(CCS..=24).contains(&typ) || d.buf[1] != 3 || len > MAX_RECORD {
                    d.dead = true;
                    d.buf = Vec::new();
                    let name = if len > MAX_RECORD {
                        "tls_record_too_long"
                    } else {
                        "tls_not_a_record"
                    };
                    self.anomaly(name);
                    return;
                }
                if typ == APPLICATION_DATA {
                    self.dirs[i].protected_records += 1;
                }
                if self.skips(i, typ) {
                    if typ == ALERT {
                        self.facts.unreadable_alerts[i] += 1;
                    }
                    let d = &mut self.dirs[i];
                    d.skip = len;
                    d.buf.clear();
                    continue;
                }
            }
            // Then the body.
            let d = &mut self.dirs[i];
            let len = u16::from_be_bytes([d.buf[3], d.buf[4]]) as usize;
            let want = 5 + len - d.buf.len();
            let n = want.min(data.len());
            d.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            if d.buf.len() < 5 + len {
                return;
            }
            let mut record = std::mem::take(&mut self.dirs[i].buf);
            if let Some((start, end)) = self.record(i, &mut record) {
                out(side, &record[start..end]);
            }
            record.clear();
            if record.capacity() <= MAX_RECORD + 5 {
                self.dirs[i].buf = record;
            }
        }
    }

    /// Whether a record of `typ` on direction `i` is skipped unread: its direction is
    /// encrypted and there is no cipher to read it with.
    fn skips(&self, i: usize, typ: u8) -> bool {
        let d = &self.dirs[i];
        if typ == CCS {
            return false;
        }
        if d.cipher.is_some() {
            return false;
        }
        // Encrypted with no cipher: no key, unsupported suite, or TLS 1.3 early data
        // (application_data before the ServerHello). TLS 1.3 protects only
        // application_data records: an alert or handshake record is plaintext.
        if self.tls13 {
            typ == APPLICATION_DATA
        } else {
            d.encrypted || typ == APPLICATION_DATA
        }
    }

    /// One whole record (header + body) of direction `i`; the range of its
    /// application data in `record`, if it carried any.
    fn record(&mut self, i: usize, record: &mut [u8]) -> Option<(usize, usize)> {
        let header: [u8; 5] = record[..5].try_into().unwrap_or([0; 5]);
        let typ = header[0];
        let d = &mut self.dirs[i];
        if typ == CCS {
            d.ccs = true;
            if !self.tls13 && d.pending.is_some() {
                d.cipher = d.pending.take();
            }
            if !self.tls13 && self.server_random.is_some() {
                d.encrypted = true;
            }
            return None;
        }
        // TLS 1.3 protects only application_data records; a plaintext alert can still
        // come before (a handshake that failed early).
        let protected = !self.tls13 || typ == APPLICATION_DATA;
        let (content_type, start, end) = match d.cipher.as_mut().filter(|_| protected) {
            None => (typ, 5, record.len()),
            Some(c) => match c.open(header, &mut record[5..]) {
                Ok(o) => (o.content_type, 5 + o.start, 5 + o.end),
                Err(_) => {
                    if self.tls13 && i == 0 && d.stage == Some(Stage::Handshake) {
                        // Early data the server did not take, under other keys.
                        self.anomaly("tls_early_data_skipped");
                        return None;
                    }
                    d.dead = true;
                    self.anomaly("tls_record_auth_failed");
                    return None;
                }
            },
        };
        let body = &record[start..end];
        match content_type {
            HANDSHAKE => {
                let mut hs = std::mem::take(&mut self.dirs[i].hs);
                hs.feed(body, &mut |t, b| self.handshake(i, t, b));
                self.dirs[i].hs = hs;
                None
            }
            ALERT => {
                if body.len() >= 2 {
                    let (level, desc) = (body[0], body[1]);
                    if desc == 0 {
                        self.facts.close_notify[i] = true;
                    } else if self.facts.alert[i].is_none() {
                        self.facts.alert[i] = Some((level, desc));
                    }
                }
                None
            }
            APPLICATION_DATA => {
                self.dirs[i].cipher.as_ref()?;
                self.app_data_seen = true;
                Some((start, end))
            }
            _ => None,
        }
    }

    fn handshake(&mut self, i: usize, typ: u8, body: &[u8]) {
        match (i, typ) {
            (0, HS_CLIENT_HELLO) => self.client_hello(body),
            (1, HS_SERVER_HELLO) => self.server_hello(body),
            // extensions<0..2^16-1>
            (1, HS_ENCRYPTED_EXTENSIONS) if body.len() >= 2 => {
                if let Ok((_, exts)) = parse_tls_extensions(&body[2..]) {
                    self.take_alpn(&exts);
                }
            }
            (_, HS_FINISHED) if self.tls13 => {
                let d = &mut self.dirs[i];
                if d.stage == Some(Stage::Handshake) {
                    d.stage = Some(Stage::Application);
                    let secret = self.secrets.and_then(|s| {
                        if i == 0 {
                            s.client_traffic
                        } else {
                            s.server_traffic
                        }
                    });
                    match (self.suite, secret) {
                        (Some(suite), Some(secret)) => {
                            d.cipher = crypto::tls13_cipher(suite, secret.as_bytes());
                            d.secret = secret.as_bytes().to_vec();
                        }
                        _ => {
                            d.cipher = None;
                            self.anomaly("tls_traffic_secret_missing");
                        }
                    }
                }
            }
            (_, HS_KEY_UPDATE) if self.tls13 => {
                let d = &mut self.dirs[i];
                if let (Some(suite), Some(Stage::Application)) = (self.suite, d.stage) {
                    if !d.secret.is_empty() {
                        d.secret = crypto::next_traffic_secret(suite.hash, &d.secret);
                        d.cipher = crypto::tls13_cipher(suite, &d.secret);
                    }
                }
            }
            (0, HS_SERVER_HELLO) | (1, HS_CLIENT_HELLO) => {
                self.anomaly("tls_hello_from_wrong_side")
            }
            _ => {}
        }
    }

    fn take_alpn(&mut self, exts: &[TlsExtension<'_>]) {
        for e in exts {
            if let TlsExtension::ALPN(list) = e {
                if let Some(p) = list.first() {
                    self.facts.alpn = Some(String::from_utf8_lossy(p).into_owned());
                }
            }
        }
    }

    fn client_hello(&mut self, body: &[u8]) {
        let Ok((_, ch)) = parse_tls_handshake_client_hello(body) else {
            self.anomaly("tls_bad_client_hello");
            return;
        };
        if let Ok(r) = <[u8; 32]>::try_from(ch.random) {
            self.client_random = Some(r);
        }
        let Some(ext) = ch.ext else { return };
        let Ok((_, exts)) = parse_tls_client_hello_extensions(ext) else {
            return;
        };
        for e in &exts {
            if let TlsExtension::SNI(names) = e {
                if let Some((_, name)) = names.first() {
                    self.facts.sni = Some(String::from_utf8_lossy(name).into_owned());
                }
            }
        }
    }

    fn server_hello(&mut self, body: &[u8]) {
        let Ok((_, sh)) = parse_tls_handshake_server_hello(body) else {
            self.anomaly("tls_bad_server_hello");
            return;
        };
        if sh.random == HRR_RANDOM {
            // HelloRetryRequest: the real ServerHello follows a second ClientHello.
            return;
        }
        let Ok(server_random) = <[u8; 32]>::try_from(sh.random) else {
            return;
        };
        self.server_random = Some(server_random);
        let mut version = sh.version.0;
        if let Some(ext) = sh.ext {
            if let Ok((_, exts)) = parse_tls_server_hello_extensions(ext) {
                for e in &exts {
                    if let TlsExtension::SupportedVersions(v) = e {
                        if let Some(v) = v.first() {
                            version = v.0;
                        }
                    }
                }
                self.take_alpn(&exts);
            }
        }
        let id = sh.cipher.0;
        self.facts.version = Some(version);
        self.facts.cipher = Some(id);
        self.tls13 = version == 0x0304;
        if self.tls13 {
            for d in &mut self.dirs {
                d.encrypted = true;
                d.stage = Some(Stage::Handshake);
            }
        }
        let suite = match Suite::of(id) {
            SuiteSupport::Supported(s) if version == 0x0304 || version == 0x0303 => s,
            SuiteSupport::Supported(_) => {
                self.facts.decryption =
                    Decryption::Unsupported("only TLS 1.2 and TLS 1.3 are decrypted");
                return;
            }
            SuiteSupport::Unsupported(why) => {
                self.facts.decryption = Decryption::Unsupported(why);
                return;
            }
        };
        self.suite = Some(suite);
        let secrets = self.client_random.and_then(|cr| self.keys.secrets(&cr));
        self.secrets = secrets;
        let Some(s) = secrets else {
            self.facts.decryption = Decryption::NoKey;
            return;
        };
        if self.tls13 {
            let (Some(c), Some(sv)) = (s.client_handshake, s.server_handshake) else {
                self.facts.decryption = Decryption::NoKey;
                return;
            };
            self.dirs[0].cipher = crypto::tls13_cipher(suite, c.as_bytes());
            self.dirs[1].cipher = crypto::tls13_cipher(suite, sv.as_bytes());
            if self.dirs[0].cipher.is_none() || self.dirs[1].cipher.is_none() {
                self.facts.decryption = Decryption::Unsupported(
                    "the key log's secrets do not fit the negotiated suite",
                );
                return;
            }
        } else {
            let (Some(master), Some(cr)) = (s.master, self.client_random) else {
                self.facts.decryption = Decryption::NoKey;
                return;
            };
            let Some([c, sv]) =
                crypto::tls12_ciphers(suite, master.as_bytes(), &cr, &server_random)
            else {
                self.facts.decryption = Decryption::NoKey;
                return;
            };
            self.dirs[0].pending = Some(c);
            self.dirs[1].pending = Some(sv);
        }
        self.facts.decryption = Decryption::Decrypted;
    }
}
