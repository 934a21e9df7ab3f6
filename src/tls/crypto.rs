//! Cipher suites, key schedules and record decryption: pure functions over secrets.
//!
//! Contract: [`Suite::of`] says whether a negotiated suite can be decrypted (the AEAD
//! suites of TLS 1.3 and TLS 1.2: AES-128/256-GCM and ChaCha20-Poly1305) or names it as
//! unsupported (CBC, CCM and the rest are never guessed at). From a key log's secrets,
//! [`tls13_cipher`] (RFC 8446 7.3) and [`tls12_ciphers`] (RFC 5246 6.3, RFC 5288,
//! RFC 7905) build one [`RecordCipher`] per direction, and [`RecordCipher::open`]
//! decrypts one record in place, checking its tag: a record that fails is an `Err`,
//! never a panic, and the cipher's sequence number moves on only after a success.
//! [`next_traffic_secret`] is TLS 1.3's KeyUpdate. The AEADs, HMAC and HKDF are
//! `ring`'s; only the TLS-specific glue (HKDF-Expand-Label, the TLS 1.2 PRF, nonces and
//! additional data) is written here, and tested against RFC 8448's example traces.

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::{hkdf, hmac};
use tls_parser::{TlsCipherEnc, TlsCipherEncMode, TlsCipherSuite, TlsPRF};

/// The AEAD a suite encrypts records with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aead {
    Aes128Gcm,
    Aes256Gcm,
    Chacha20Poly1305,
}

impl Aead {
    fn algorithm(self) -> &'static aead::Algorithm {
        match self {
            Aead::Aes128Gcm => &aead::AES_128_GCM,
            Aead::Aes256Gcm => &aead::AES_256_GCM,
            Aead::Chacha20Poly1305 => &aead::CHACHA20_POLY1305,
        }
    }

    fn key_len(self) -> usize {
        match self {
            Aead::Aes128Gcm => 16,
            Aead::Aes256Gcm | Aead::Chacha20Poly1305 => 32,
        }
    }
}

/// The hash of a suite's key schedule (TLS 1.3) or PRF (TLS 1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
}

impl Hash {
    fn hkdf(self) -> hkdf::Algorithm {
        match self {
            Hash::Sha256 => hkdf::HKDF_SHA256,
            Hash::Sha384 => hkdf::HKDF_SHA384,
        }
    }

    fn hmac(self) -> hmac::Algorithm {
        match self {
            Hash::Sha256 => hmac::HMAC_SHA256,
            Hash::Sha384 => hmac::HMAC_SHA384,
        }
    }

    pub fn output_len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
        }
    }
}

/// A cipher suite this tool can decrypt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suite {
    pub id: u16,
    pub aead: Aead,
    pub hash: Hash,
}

/// What a negotiated suite is to this tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuiteSupport {
    Supported(Suite),
    /// Known but not decrypted (CBC, CCM, ...): the reason, for the report.
    Unsupported(&'static str),
}

/// The IANA name of a suite (`TLS_AES_128_GCM_SHA256`), or its number in hex.
pub fn suite_name(id: u16) -> String {
    match TlsCipherSuite::from_id(id) {
        Some(s) => s.name.to_string(),
        None => format!("0x{id:04X}"),
    }
}

impl Suite {
    pub fn of(id: u16) -> SuiteSupport {
        use SuiteSupport::*;
        let tls13 = |aead, hash| Supported(Suite { id, aead, hash });
        match id {
            0x1301 => return tls13(Aead::Aes128Gcm, Hash::Sha256),
            0x1302 => return tls13(Aead::Aes256Gcm, Hash::Sha384),
            0x1303 => return tls13(Aead::Chacha20Poly1305, Hash::Sha256),
            0x1304 | 0x1305 => return Unsupported("AES-CCM suites are not decrypted"),
            _ => {}
        }
        let Some(s) = TlsCipherSuite::from_id(id) else {
            return Unsupported("unknown cipher suite");
        };
        let hash = match s.prf {
            TlsPRF::Sha384 => Hash::Sha384,
            TlsPRF::Default | TlsPRF::Sha256 => Hash::Sha256,
            _ => return Unsupported("its PRF is not decrypted"),
        };
        let aead = match (s.enc, s.enc_mode, s.enc_size) {
            (TlsCipherEnc::Aes, TlsCipherEncMode::Gcm, 128) => Aead::Aes128Gcm,
            (TlsCipherEnc::Aes, TlsCipherEncMode::Gcm, 256) => Aead::Aes256Gcm,
            (TlsCipherEnc::Chacha20_Poly1305, _, _) => Aead::Chacha20Poly1305,
            (_, TlsCipherEncMode::Cbc, _) => {
                return Unsupported("CBC suites are not decrypted (only AEAD suites are)")
            }
            _ => return Unsupported("only AES-GCM and ChaCha20-Poly1305 suites are decrypted"),
        };
        Supported(Suite { id, aead, hash })
    }
}

/// `ring`'s HKDF output length for raw bytes.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label (RFC 8446 7.1) with an empty context, into `out`, from a PRK made
/// once per secret ([`prk`]: its HMAC key schedule is half the cost of a derivation).
fn expand_label_with(prk: &hkdf::Prk, label: &[u8], out: &mut [u8]) {
    // Labels here are at most 11 bytes ("traffic upd"): one stack buffer.
    let mut info = [0u8; 4 + 6 + 16];
    let n = out.len() as u16;
    info[..2].copy_from_slice(&n.to_be_bytes());
    info[2] = (6 + label.len()) as u8;
    info[3..9].copy_from_slice(b"tls13 ");
    info[9..9 + label.len()].copy_from_slice(label);
    let info = &info[..9 + label.len() + 1]; // the empty context's length byte is 0
                                             // Lengths here are at most 48 bytes, far below HKDF's 255 * hash limit.
    let filled = prk
        .expand(&[info], Len(out.len()))
        .and_then(|okm| okm.fill(out));
    debug_assert!(filled.is_ok());
}

fn prk(hash: Hash, secret: &[u8]) -> hkdf::Prk {
    hkdf::Prk::new_less_safe(hash.hkdf(), secret)
}

fn expand_label(hash: Hash, secret: &[u8], label: &[u8], out: &mut [u8]) {
    expand_label_with(&prk(hash, secret), label, out);
}

/// TLS 1.3's next traffic secret after a KeyUpdate (RFC 8446 7.2).
pub fn next_traffic_secret(hash: Hash, secret: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; hash.output_len()];
    expand_label(hash, secret, b"traffic upd", &mut out);
    out
}

/// The TLS 1.2 PRF (RFC 5246 5): P_hash(secret, label + seed), into `out`.
fn prf12(hash: Hash, secret: &[u8], label: &[u8], seed: &[u8], out: &mut [u8]) {
    let key = hmac::Key::new(hash.hmac(), secret);
    let mut label_seed = Vec::with_capacity(label.len() + seed.len());
    label_seed.extend_from_slice(label);
    label_seed.extend_from_slice(seed);
    // A(1) = HMAC(secret, label + seed); A(i) = HMAC(secret, A(i-1)).
    let mut a = hmac::sign(&key, &label_seed);
    let mut filled = 0;
    while filled < out.len() {
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(a.as_ref());
        ctx.update(&label_seed);
        let block = ctx.sign();
        let n = (out.len() - filled).min(block.as_ref().len());
        out[filled..filled + n].copy_from_slice(&block.as_ref()[..n]);
        filled += n;
        a = hmac::sign(&key, a.as_ref());
    }
}

/// How a record's nonce and additional data are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// TLS 1.3: nonce = iv XOR seq; AAD = the record header; the plaintext ends with
    /// its real content type and zero padding.
    Tls13,
    /// TLS 1.2 AES-GCM: nonce = 4-byte salt + the record's 8-byte explicit nonce.
    Tls12Explicit,
    /// TLS 1.2 ChaCha20-Poly1305 (RFC 7905): nonce = iv XOR seq, like TLS 1.3.
    Tls12Xor,
}

/// The key of one direction, with its sequence number.
pub struct RecordCipher {
    key: LessSafeKey,
    iv: [u8; 12],
    seq: u64,
    framing: Framing,
}

impl std::fmt::Debug for RecordCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecordCipher({:?}, seq {})", self.framing, self.seq)
    }
}

/// A record that did not decrypt (wrong key, damaged bytes, or not a record at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadRecord;

/// A decrypted record: its content type and where its plaintext is in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    pub content_type: u8,
    pub start: usize,
    pub end: usize,
}

impl RecordCipher {
    fn new(aead: Aead, key: &[u8], iv: [u8; 12], framing: Framing) -> Option<RecordCipher> {
        let key = UnboundKey::new(aead.algorithm(), key).ok()?;
        Some(RecordCipher {
            key: LessSafeKey::new(key),
            iv,
            seq: 0,
            framing,
        })
    }

    fn xor_nonce(&self) -> [u8; 12] {
        let mut n = self.iv;
        for (b, s) in n[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *b ^= s;
        }
        n
    }

    /// Decrypt one record in place. `header` is its 5-byte header, `body` its payload
    /// (replaced by plaintext in place). On success the sequence number advances.
    pub fn open(&mut self, header: [u8; 5], body: &mut [u8]) -> Result<Opened, BadRecord> {
        let tag = 16;
        match self.framing {
            Framing::Tls13 => {
                if body.len() < tag + 1 {
                    return Err(BadRecord);
                }
                let nonce = Nonce::assume_unique_for_key(self.xor_nonce());
                let plain = self
                    .key
                    .open_in_place(nonce, Aad::from(header), body)
                    .map_err(|_| BadRecord)?;
                // TLSInnerPlaintext: content, then the type, then zeros.
                let Some(last) = plain.iter().rposition(|b| *b != 0) else {
                    return Err(BadRecord);
                };
                let content_type = plain[last];
                self.seq += 1;
                Ok(Opened {
                    content_type,
                    start: 0,
                    end: last,
                })
            }
            Framing::Tls12Explicit | Framing::Tls12Xor => {
                let explicit = if self.framing == Framing::Tls12Explicit {
                    8
                } else {
                    0
                };
                if body.len() < explicit + tag {
                    return Err(BadRecord);
                }
                let nonce = if explicit == 8 {
                    let mut n = [0u8; 12];
                    n[..4].copy_from_slice(&self.iv[..4]);
                    n[4..].copy_from_slice(&body[..8]);
                    n
                } else {
                    self.xor_nonce()
                };
                let plain_len = (body.len() - explicit - tag) as u16;
                let mut aad = [0u8; 13];
                aad[..8].copy_from_slice(&self.seq.to_be_bytes());
                aad[8..11].copy_from_slice(&header[..3]);
                aad[11..].copy_from_slice(&plain_len.to_be_bytes());
                self.key
                    .open_in_place(
                        Nonce::assume_unique_for_key(nonce),
                        Aad::from(aad),
                        &mut body[explicit..],
                    )
                    .map_err(|_| BadRecord)?;
                self.seq += 1;
                Ok(Opened {
                    content_type: header[0],
                    start: explicit,
                    end: explicit + plain_len as usize,
                })
            }
        }
    }
}

/// A TLS 1.3 direction's cipher from its traffic secret.
pub fn tls13_cipher(suite: Suite, traffic_secret: &[u8]) -> Option<RecordCipher> {
    if traffic_secret.len() != suite.hash.output_len() {
        return None;
    }
    let mut key = [0u8; 32];
    let key = &mut key[..suite.aead.key_len()];
    let mut iv = [0u8; 12];
    let prk = prk(suite.hash, traffic_secret);
    expand_label_with(&prk, b"key", key);
    expand_label_with(&prk, b"iv", &mut iv);
    RecordCipher::new(suite.aead, key, iv, Framing::Tls13)
}

/// TLS 1.2's two ciphers `[client write, server write]` from the master secret and the
/// two hellos' randoms (the key block of RFC 5246 6.3; AEAD suites have no MAC keys).
pub fn tls12_ciphers(
    suite: Suite,
    master: &[u8],
    client_random: &[u8; 32],
    server_random: &[u8; 32],
) -> Option<[RecordCipher; 2]> {
    let (key_len, iv_len, framing) = match suite.aead {
        Aead::Chacha20Poly1305 => (32, 12, Framing::Tls12Xor),
        a => (a.key_len(), 4, Framing::Tls12Explicit),
    };
    let mut seed = [0u8; 64];
    seed[..32].copy_from_slice(server_random);
    seed[32..].copy_from_slice(client_random);
    let mut block = [0u8; 2 * (32 + 12)];
    let block = &mut block[..2 * (key_len + iv_len)];
    prf12(suite.hash, master, b"key expansion", &seed, block);
    let (ck, rest) = block.split_at(key_len);
    let (sk, rest) = rest.split_at(key_len);
    let (civ, siv) = rest.split_at(iv_len);
    let iv = |b: &[u8]| {
        let mut iv = [0u8; 12];
        iv[..b.len()].copy_from_slice(b);
        iv
    };
    Some([
        RecordCipher::new(suite.aead, ck, iv(civ), framing)?,
        RecordCipher::new(suite.aead, sk, iv(siv), framing)?,
    ])
}

#[cfg(test)]
mod tests {
    //! The TLS 1.3 schedule and record protection against RFC 8448 section 3 (the simple
    //! 1-RTT handshake); the TLS 1.2 PRF against values computed with Python's `hmac`
    //! module (an independent implementation), and GCM/ChaCha framing by round trips
    //! through `ring`'s sealing.

    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    const SUITE_AES128: Suite = Suite {
        id: 0x1301,
        aead: Aead::Aes128Gcm,
        hash: Hash::Sha256,
    };

    #[test]
    fn rfc8448_traffic_keys_and_ivs() {
        for (secret, key, iv) in [
            (
                // server_handshake_traffic_secret
                "b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38",
                "3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc",
                "5d 31 3e b2 67 12 76 ee 13 00 0b 30",
            ),
            (
                // client_handshake_traffic_secret
                "b3 ed db 12 6e 06 7f 35 a7 80 b3 ab f4 5e 2d 8f 3b 1a 95 07 38 f5 2e 96 00 74 6a 0e 27 a5 5a 21",
                "db fa a6 93 d1 76 2c 5b 66 6a f5 d9 50 25 8d 01",
                "5b d3 c7 1b 83 6e 0b 76 bb 73 26 5f",
            ),
            (
                // server_application_traffic_secret_0
                "a1 1a f9 f0 55 31 f8 56 ad 47 11 6b 45 a9 50 32 82 04 b4 f4 4b fb 6b 3a 4b 4f 1f 3f cb 63 16 43",
                "9f 02 28 3b 6c 9c 07 ef c2 6b b9 f2 ac 92 e3 56",
                "cf 78 2b 88 dd 83 54 9a ad f1 e9 84",
            ),
        ] {
            let mut k = [0u8; 16];
            let mut v = [0u8; 12];
            expand_label(Hash::Sha256, &hex(secret), b"key", &mut k);
            expand_label(Hash::Sha256, &hex(secret), b"iv", &mut v);
            assert_eq!(k.to_vec(), hex(key));
            assert_eq!(v.to_vec(), hex(iv));
        }
    }

    #[test]
    fn rfc8448_client_finished_record_decrypts() {
        let secret = hex("b3 ed db 12 6e 06 7f 35 a7 80 b3 ab f4 5e 2d 8f 3b 1a 95 07 38 f5 2e 96 00 74 6a 0e 27 a5 5a 21");
        let mut c = tls13_cipher(SUITE_AES128, &secret).unwrap();
        let record = hex(
            "17 03 03 00 35 75 ec 4d c2 38 cc e6 0b 29 80 44 a7 1e 21 9c 56 cc 77 b0 51 7f e9 b9 3c 7a 4b fc 44 d8 7f 38 f8 03 38 ac 98 fc 46 de b3 84 bd 1c ae ac ab 68 67 d7 26 c4 05 46",
        );
        let header: [u8; 5] = record[..5].try_into().unwrap();
        let mut body = record[5..].to_vec();
        let o = c.open(header, &mut body).unwrap();
        assert_eq!(o.content_type, 22);
        assert_eq!(
            body[o.start..o.end].to_vec(),
            hex("14 00 00 20 a8 ec 43 6d 67 76 34 ae 52 5a c1 fc eb e1 1a 03 9e c1 76 94 fa c6 e9 85 27 b6 42 f2 ed d5 ce 61")
        );
        assert_eq!(c.seq, 1);
    }

    #[test]
    fn rfc8448_server_application_record_decrypts_and_a_damaged_one_fails() {
        let secret = hex("a1 1a f9 f0 55 31 f8 56 ad 47 11 6b 45 a9 50 32 82 04 b4 f4 4b fb 6b 3a 4b 4f 1f 3f cb 63 16 43");
        let record = hex(
            "17 03 03 00 43 2e 93 7e 11 ef 4a c7 40 e5 38 ad 36 00 5f c4 a4 69 32 fc 32 25 d0 5f 82 aa 1b 36 e3 0e fa f9 7d 90 e6 df fc 60 2d cb 50 1a 59 a8 fc c4 9c 4b f2 e5 f0 a2 1c 00 47 c2 ab f3 32 54 0d d0 32 e1 67 c2 95 5d",
        );
        let header: [u8; 5] = record[..5].try_into().unwrap();
        let mut c = tls13_cipher(SUITE_AES128, &secret).unwrap();
        // The trace's server sent its NewSessionTicket (sequence 0) under this key first.
        c.seq = 1;
        let mut damaged = record[5..].to_vec();
        damaged[10] ^= 1;
        assert_eq!(c.open(header, &mut damaged), Err(BadRecord));
        assert_eq!(c.seq, 1, "a failed record does not move the sequence on");
        let mut body = record[5..].to_vec();
        let o = c.open(header, &mut body).unwrap();
        assert_eq!(o.content_type, 23);
        assert_eq!(
            body[o.start..o.end].to_vec(),
            (0u8..0x32).collect::<Vec<_>>()
        );
    }

    #[test]
    fn the_tls12_prf_matches_an_independent_implementation() {
        // Python: P_hash with hmac.new(secret, A(i) + label + seed, sha256), 100 bytes.
        let mut out = [0u8; 100];
        prf12(
            Hash::Sha256,
            &hex("9b be 43 6b a9 40 f0 17 b1 76 52 84 9a 71 db 35"),
            b"test label",
            &hex("a0 ba 9f 93 6c da 31 18 27 a6 f7 96 ff d5 19 8c"),
            &mut out,
        );
        assert_eq!(
            out.to_vec(),
            hex(PRF_SHA256_EXPECTED),
            "TLS 1.2 PRF (SHA-256) output"
        );
    }

    // From Python's hmac module (see the test); also the vector published on the IETF TLS list.
    const PRF_SHA256_EXPECTED: &str = "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66";

    fn seal(aead: Aead, key: &[u8], nonce: [u8; 12], aad: &[u8], plain: &[u8]) -> Vec<u8> {
        let k = LessSafeKey::new(UnboundKey::new(aead.algorithm(), key).unwrap());
        let mut buf = plain.to_vec();
        k.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut buf,
        )
        .unwrap();
        buf
    }

    #[test]
    fn tls12_gcm_and_chacha_records_follow_their_nonce_and_aad_rules() {
        let master = [7u8; 48];
        let (cr, sr) = ([1u8; 32], [2u8; 32]);
        for id in [0xC02F_u16, 0xC030, 0xCCA8] {
            let SuiteSupport::Supported(suite) = Suite::of(id) else {
                panic!("{id:x} is an AEAD suite")
            };
            let [mut client, _server] = tls12_ciphers(suite, &master, &cr, &sr).unwrap();
            // The same key block by hand, to seal records the way a peer would.
            let key_len = suite.aead.key_len();
            let iv_len = if suite.aead == Aead::Chacha20Poly1305 {
                12
            } else {
                4
            };
            let mut block = vec![0u8; 2 * (key_len + iv_len)];
            let seed = [sr, cr].concat();
            prf12(suite.hash, &master, b"key expansion", &seed, &mut block);
            let ck = &block[..key_len];
            let civ = &block[2 * key_len..2 * key_len + iv_len];
            for seq in 0u64..3 {
                let plain = format!("record {seq}");
                let mut aad = seq.to_be_bytes().to_vec();
                aad.extend_from_slice(&[23, 3, 3]);
                aad.extend_from_slice(&(plain.len() as u16).to_be_bytes());
                let body = if iv_len == 4 {
                    let explicit = (seq + 1000).to_be_bytes();
                    let nonce: [u8; 12] = [civ, &explicit[..]].concat().try_into().unwrap();
                    [
                        explicit.to_vec(),
                        seal(suite.aead, ck, nonce, &aad, plain.as_bytes()),
                    ]
                    .concat()
                } else {
                    let mut nonce: [u8; 12] = civ.try_into().unwrap();
                    for (b, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
                        *b ^= s;
                    }
                    seal(suite.aead, ck, nonce, &aad, plain.as_bytes())
                };
                let mut body = body;
                let header = [23, 3, 3, (body.len() >> 8) as u8, body.len() as u8];
                let o = client.open(header, &mut body).unwrap();
                assert_eq!(&body[o.start..o.end], plain.as_bytes(), "suite {id:x}");
                assert_eq!(o.content_type, 23);
            }
        }
    }

    #[test]
    fn suites_are_named_and_only_aead_ones_are_supported() {
        assert_eq!(suite_name(0x1302), "TLS_AES_256_GCM_SHA384");
        assert_eq!(suite_name(0xC02F), "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        assert_eq!(suite_name(0xFAFA), "0xFAFA");
        assert!(
            matches!(Suite::of(0x1303), SuiteSupport::Supported(s) if s.aead == Aead::Chacha20Poly1305)
        );
        assert!(
            matches!(Suite::of(0xC030), SuiteSupport::Supported(s) if s.hash == Hash::Sha384 && s.aead == Aead::Aes256Gcm)
        );
        assert!(matches!(Suite::of(0x009C), SuiteSupport::Supported(_)));
        // TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, TLS_RSA_WITH_AES_128_CBC_SHA
        assert!(matches!(Suite::of(0xC027), SuiteSupport::Unsupported(w) if w.contains("CBC")));
        assert!(matches!(Suite::of(0x002F), SuiteSupport::Unsupported(w) if w.contains("CBC")));
        assert!(matches!(Suite::of(0x1304), SuiteSupport::Unsupported(_)));
    }

    #[test]
    fn key_update_derives_the_next_secret() {
        // RFC 8446 7.2: application_traffic_secret_N+1 =
        //   HKDF-Expand-Label(secret_N, "traffic upd", "", Hash.length).
        let s0 = [9u8; 32];
        let s1 = next_traffic_secret(Hash::Sha256, &s0);
        let mut by_hand = [0u8; 32];
        expand_label(Hash::Sha256, &s0, b"traffic upd", &mut by_hand);
        assert_eq!(s1, by_hand.to_vec());
        assert_ne!(s1, s0.to_vec());
        assert_eq!(next_traffic_secret(Hash::Sha384, &[9u8; 48]).len(), 48);
    }
}
