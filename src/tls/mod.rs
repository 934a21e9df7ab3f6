//! TLS stage: from a connection's encrypted byte streams to plaintext ones, when a key
//! log has the secrets.
//!
//! - [`keylog`]: the NSS key log format (`SSLKEYLOGFILE`), parsed leniently.
//! - [`crypto`]: cipher suites, the TLS 1.3 and TLS 1.2 key schedules, and record
//!   decryption (`ring`'s AEADs), tested against RFC 8448.
//! - [`conn`]: [`TlsConn`], one connection's records, handshake facts, alerts and
//!   decryption.
//!
//! Contract for callers: TLS is found from the ClientHello
//! ([`conn::looks_like_client_hello`]), never from port numbers. The plaintext a
//! [`TlsConn`] hands on is exactly the application data each side sent, in order, so
//! the HTTP and WebSocket stages above cannot tell it from a plaintext connection.
//! Secrets come from a [`KeyStore`]: the key log files of the run, plus the pcapng
//! Decryption Secrets Blocks of the capture being read (added as they are met, before
//! the packets that follow them).

pub mod conn;
pub mod crypto;
pub mod keylog;

use std::sync::RwLock;

pub use conn::{alert_name, looks_like_client_hello, Decryption, TlsConn, TlsFacts};
pub use keylog::{KeyLog, KeyLogStats, Secrets};

/// Every secret a run knows: its key log files, and secrets met inside captures.
#[derive(Debug, Default)]
pub struct KeyStore {
    files: KeyLog,
    embedded: RwLock<KeyLog>,
}

impl KeyStore {
    pub fn new(files: KeyLog) -> KeyStore {
        KeyStore {
            files,
            embedded: RwLock::new(KeyLog::new()),
        }
    }

    /// Add the key log text of a pcapng Decryption Secrets Block.
    pub fn add_embedded(&self, bytes: &[u8]) {
        if let Ok(mut e) = self.embedded.write() {
            e.parse(bytes);
        }
    }

    /// The secrets for a connection's client random, from the files or the captures.
    pub fn secrets(&self, client_random: &[u8; 32]) -> Option<Secrets> {
        let mut s = self.files.get(client_random).copied();
        if let Ok(e) = self.embedded.read() {
            if let Some(more) = e.get(client_random) {
                let mut merged = s.unwrap_or_default();
                merged.merge(more);
                s = Some(merged);
            }
        }
        s
    }
}
