//! NSS key log files: the secrets that `SSLKEYLOGFILE` makes browsers, curl, Node
//! (`--tls-keylog`), Python (`keylog_filename`), Go (`KeyLogWriter`) and rustls write.
//!
//! Contract: [`KeyLog::parse`] reads any bytes and never fails: each line is
//! `LABEL <client_random hex> <secret hex>`; comments (`#`) and blank lines are skipped,
//! every other line that is not a well-formed known label is counted in
//! [`KeyLogStats::bad_lines`] (with the first few line numbers kept for the message).
//! Secrets are keyed by the connection's 32-byte client random, which is how a captured
//! connection finds its own. Memory is the size of the secrets, never of a length field.
//!
//! Labels (<https://firefox-source-docs.mozilla.org/security/nss/legacy/key_log_format/>):
//! `CLIENT_RANDOM` (the TLS 1.2 master secret, 48 bytes), and for TLS 1.3
//! `CLIENT_HANDSHAKE_TRAFFIC_SECRET`, `SERVER_HANDSHAKE_TRAFFIC_SECRET`,
//! `CLIENT_TRAFFIC_SECRET_0`, `SERVER_TRAFFIC_SECRET_0` (32 or 48 bytes: the suite's hash
//! length). `EXPORTER_SECRET`, `EARLY_EXPORTER_SECRET` and `CLIENT_EARLY_TRAFFIC_SECRET`
//! and later traffic secrets (`CLIENT_TRAFFIC_SECRET_N`, which some tools log after a
//! KeyUpdate; they are derived here) are known and not needed; `RSA` lines (an encrypted pre-master secret) are counted as
//! unsupported.

use std::collections::HashMap;

/// A secret of at most 48 bytes (SHA-384's length), stored inline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Secret {
    bytes: [u8; 48],
    len: u8,
}

impl Secret {
    pub fn new(b: &[u8]) -> Option<Secret> {
        if b.is_empty() || b.len() > 48 {
            return None;
        }
        let mut bytes = [0u8; 48];
        bytes[..b.len()].copy_from_slice(b);
        Some(Secret {
            bytes,
            len: b.len() as u8,
        })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        write!(f, "Secret({} bytes)", self.len)
    }
}

/// What the key log holds for one connection (one client random).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Secrets {
    /// TLS 1.2: the master secret (`CLIENT_RANDOM`).
    pub master: Option<Secret>,
    /// TLS 1.3 handshake traffic secrets, client and server.
    pub client_handshake: Option<Secret>,
    pub server_handshake: Option<Secret>,
    /// TLS 1.3 first application traffic secrets, client and server.
    pub client_traffic: Option<Secret>,
    pub server_traffic: Option<Secret>,
}

impl Secrets {
    pub fn merge(&mut self, other: &Secrets) {
        for (mine, theirs) in [
            (&mut self.master, other.master),
            (&mut self.client_handshake, other.client_handshake),
            (&mut self.server_handshake, other.server_handshake),
            (&mut self.client_traffic, other.client_traffic),
            (&mut self.server_traffic, other.server_traffic),
        ] {
            if theirs.is_some() {
                *mine = theirs;
            }
        }
    }
}

/// Counts from reading key logs, for the run's summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyLogStats {
    /// Lines that gave a secret.
    pub secret_lines: u64,
    /// Known labels this tool does not need (exporter and early-data secrets).
    pub ignored_lines: u64,
    /// `RSA` lines: a pre-master secret that would need the server's private key.
    pub unsupported_lines: u64,
    /// Lines that are neither a comment, blank, nor a well-formed known label.
    pub bad_lines: u64,
    /// The 1-based numbers of the first few bad lines.
    pub first_bad: Vec<u64>,
}

/// Bad line numbers kept for the message.
const BAD_KEPT: usize = 5;

/// The secrets of every connection a key log names; see the module docs.
#[derive(Debug, Clone, Default)]
pub struct KeyLog {
    map: HashMap<[u8; 32], Secrets>,
    pub stats: KeyLogStats,
}

fn unhex(s: &[u8], out: &mut [u8]) -> Option<usize> {
    if !s.len().is_multiple_of(2) || s.len() / 2 > out.len() {
        return None;
    }
    fn nib(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    for (i, pair) in s.chunks_exact(2).enumerate() {
        out[i] = (nib(pair[0])? << 4) | nib(pair[1])?;
    }
    Some(s.len() / 2)
}

enum Line {
    Secret(Box<([u8; 32], Secrets)>),
    Ignored,
    Unsupported,
    Bad,
    Blank,
}

fn parse_line(line: &[u8]) -> Line {
    let line = line.trim_ascii();
    if line.is_empty() || line.starts_with(b"#") {
        return Line::Blank;
    }
    let mut parts = line
        .split(|c| *c == b' ' || *c == b'\t')
        .filter(|p| !p.is_empty());
    let (Some(label), Some(random), Some(secret), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Line::Bad;
    };
    let mut cr = [0u8; 32];
    let mut sec = [0u8; 48];
    let secret_len = unhex(secret, &mut sec);
    if label == b"RSA" {
        // `RSA <first 8 bytes of the encrypted pre-master> <pre-master>`.
        return if secret_len.is_some() {
            Line::Unsupported
        } else {
            Line::Bad
        };
    }
    if unhex(random, &mut cr) != Some(32) {
        return Line::Bad;
    }
    let Some(n) = secret_len else {
        return Line::Bad;
    };
    let mut s = Secrets::default();
    let slot = match label {
        b"CLIENT_RANDOM" => {
            if n != 48 {
                return Line::Bad;
            }
            &mut s.master
        }
        b"CLIENT_HANDSHAKE_TRAFFIC_SECRET" => &mut s.client_handshake,
        b"SERVER_HANDSHAKE_TRAFFIC_SECRET" => &mut s.server_handshake,
        b"CLIENT_TRAFFIC_SECRET_0" => &mut s.client_traffic,
        b"SERVER_TRAFFIC_SECRET_0" => &mut s.server_traffic,
        b"EXPORTER_SECRET" | b"EARLY_EXPORTER_SECRET" | b"CLIENT_EARLY_TRAFFIC_SECRET" => {
            return Line::Ignored
        }
        // Later traffic secrets (after KeyUpdates; some tools log them): derived here
        // from the first ones.
        l if l.starts_with(b"CLIENT_TRAFFIC_SECRET_")
            || l.starts_with(b"SERVER_TRAFFIC_SECRET_") =>
        {
            return Line::Ignored
        }
        _ => return Line::Bad,
    };
    if !(n == 32 || n == 48) {
        return Line::Bad;
    }
    *slot = Secret::new(&sec[..n]);
    Line::Secret(Box::new((cr, s)))
}

impl KeyLog {
    pub fn new() -> KeyLog {
        KeyLog::default()
    }

    /// Read one key log's bytes (a file, or a pcapng Decryption Secrets Block) into
    /// this one. Returns how many lines gave a secret.
    pub fn parse(&mut self, bytes: &[u8]) -> u64 {
        let mut found = 0;
        for (i, line) in bytes.split(|c| *c == b'\n').enumerate() {
            match parse_line(line) {
                Line::Secret(b) => {
                    let (cr, s) = *b;
                    self.map.entry(cr).or_default().merge(&s);
                    found += 1;
                }
                Line::Ignored => self.stats.ignored_lines += 1,
                Line::Unsupported => self.stats.unsupported_lines += 1,
                Line::Blank => {}
                Line::Bad => {
                    self.stats.bad_lines += 1;
                    if self.stats.first_bad.len() < BAD_KEPT {
                        self.stats.first_bad.push(i as u64 + 1);
                    }
                }
            }
        }
        self.stats.secret_lines += found;
        found
    }

    /// Add another key log's secrets (and counts) to this one.
    pub fn extend(&mut self, other: &KeyLog) {
        for (cr, s) in &other.map {
            self.map.entry(*cr).or_default().merge(s);
        }
        let st = &mut self.stats;
        st.secret_lines += other.stats.secret_lines;
        st.ignored_lines += other.stats.ignored_lines;
        st.unsupported_lines += other.stats.unsupported_lines;
        st.bad_lines += other.stats.bad_lines;
    }

    pub fn get(&self, client_random: &[u8]) -> Option<&Secrets> {
        let cr: [u8; 32] = client_random.try_into().ok()?;
        self.map.get(&cr)
    }

    /// Connections with at least one secret.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Whether the first meaningful line of `head` is a key log line: how a key log in
    /// a folder of inputs is recognised.
    pub fn sniff(head: &[u8]) -> bool {
        head.split(|c| *c == b'\n')
            .map(|l| l.trim_ascii())
            .find(|l| !l.is_empty() && !l.starts_with(b"#"))
            .is_some_and(|l| {
                matches!(
                    parse_line(l),
                    Line::Secret(_) | Line::Ignored | Line::Unsupported
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CR: &str = "4bd5f0e1c2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d";

    #[test]
    fn every_label_goes_to_its_connection() {
        let mut log = KeyLog::new();
        let text = format!(
            "# written by a browser\n\
             CLIENT_HANDSHAKE_TRAFFIC_SECRET {CR} {s32}\n\
             SERVER_HANDSHAKE_TRAFFIC_SECRET {CR} {s48}\n\
             CLIENT_TRAFFIC_SECRET_0 {CR} {s32}\r\n\
             SERVER_TRAFFIC_SECRET_0 {CR} {s32}\n\
             EXPORTER_SECRET {CR} {s32}\n\
             \n\
             CLIENT_RANDOM {cr2} {s48}\n",
            s32 = "11".repeat(32),
            s48 = "22".repeat(48),
            cr2 = "AB".repeat(32),
        );
        assert_eq!(log.parse(text.as_bytes()), 5);
        assert_eq!(log.len(), 2);
        let mut cr = [0u8; 32];
        unhex(CR.as_bytes(), &mut cr).unwrap();
        let s = log.get(&cr).unwrap();
        assert_eq!(s.client_handshake.unwrap().as_bytes(), &[0x11; 32]);
        assert_eq!(s.server_handshake.unwrap().as_bytes(), &[0x22; 48]);
        assert!(s.client_traffic.is_some() && s.server_traffic.is_some());
        assert!(s.master.is_none());
        assert_eq!(
            log.get(&[0xab; 32]).unwrap().master.unwrap().as_bytes(),
            &[0x22; 48]
        );
        assert_eq!(log.stats.ignored_lines, 1);
        assert_eq!(log.stats.bad_lines, 0);
    }

    #[test]
    fn bad_lines_are_counted_with_their_numbers_never_fatal() {
        let mut log = KeyLog::new();
        let text = format!(
            "CLIENT_RANDOM {CR}\n\
             CLIENT_RANDOM {CR} zz{s}\n\
             CLIENT_RANDOM {short} {s}\n\
             CLIENT_RANDOM {CR} {s32}\n\
             NONSENSE {CR} {s}\n\
             RSA 0102030405060708 {s}\n\
             CLIENT_RANDOM {CR} {s} extra\n\
             CLIENT_RANDOM {CR} {s}\n",
            s = "33".repeat(48),
            s32 = "33".repeat(32),
            short = "aa".repeat(31),
        );
        assert_eq!(log.parse(text.as_bytes()), 1);
        assert_eq!(log.stats.bad_lines, 6);
        assert_eq!(log.stats.first_bad, vec![1, 2, 3, 4, 5]);
        assert_eq!(log.stats.unsupported_lines, 1);
        // Binary junk and huge lines are just bad lines.
        let junk: Vec<u8> = (0..100_000u32).map(|i| (i * 7919 % 251) as u8).collect();
        let mut other = KeyLog::new();
        other.parse(&junk);
        assert!(other.is_empty());
    }

    #[test]
    fn a_key_log_is_recognised_by_its_first_line() {
        assert!(KeyLog::sniff(
            format!(
                "# SSL/TLS secrets log file\nCLIENT_RANDOM {CR} {}\n",
                "00".repeat(48)
            )
            .as_bytes()
        ));
        assert!(!KeyLog::sniff(b"GET / HTTP/1.1\r\n"));
        assert!(!KeyLog::sniff(b"2026-12-04 closed 1000\n"));
    }
}
