//! wss and RFC 8441 fixtures (`fixtures/tls/`): real libraries and browsers over TLS (and
//! HTTP/2), captured with tcpdump, with the key logs they wrote and the truth they
//! reported (`fixtures/tls/README.md`). Every session is compared with its truth row
//! by row, with the key log and without it.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use serde_json::Value;
use wsaudit::pipeline::{analyze, Input, Options};
use wsaudit::session::SessionRecord;
use wsaudit::tls::{KeyLog, KeyStore};

fn tls_fixtures() -> PathBuf {
    common::fixtures().join("tls")
}

fn truth_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(tls_fixtures())
        .expect("fixtures/tls")
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".truth.json"))
        .collect();
    v.sort();
    assert!(v.len() >= 3, "the TLS fixtures are missing");
    v
}

fn load(truth: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(truth).unwrap()).unwrap()
}

fn capture_of(t: &Value) -> PathBuf {
    tls_fixtures().join(t["capture"].as_str().unwrap())
}

/// The key log named by the truth (`None` when the capture embeds it, or has none).
fn keys_of(t: &Value) -> Option<PathBuf> {
    match t["keylog"].as_str() {
        Some("dsb") | None => None,
        Some(k) => Some(tls_fixtures().join(k)),
    }
}

fn run(capture: &Path, keylog: Option<&Path>) -> wsaudit::pipeline::CaptureResult {
    let mut log = KeyLog::new();
    if let Some(k) = keylog {
        log.parse(&std::fs::read(k).unwrap());
    }
    let opts = Options {
        keys: Arc::new(KeyStore::new(log)),
        shards: 0,
        ..Options::default()
    };
    analyze(&Input::Path(capture.to_path_buf()), &opts)
}

fn addr(s: &SessionRecord) -> String {
    s.client.to_string()
}

/// What a truth session expects, as the session table spells it.
fn expected_ending(ts: &Value) -> String {
    if ts["decryptable"] == Value::Bool(false) {
        "undecrypted".into()
    } else {
        ts["expected_ending"].as_str().unwrap().to_string()
    }
}

fn h2_end_kind(s: &SessionRecord) -> Option<String> {
    s.h2.as_ref()
        .and_then(|h| h.end.as_deref())
        .map(|e| e.split_whitespace().next().unwrap_or("").to_string())
}

fn check(errs: &mut Vec<String>, what: &str, want: String, got: String) {
    if want != got {
        errs.push(format!("{what}: truth {want}, wsaudit {got}"));
    }
}

fn opt_str(v: &Value) -> String {
    v.as_str()
        .map(str::to_string)
        .unwrap_or_else(|| "null".into())
}

fn find<'a>(sessions: &'a [SessionRecord], ts: &Value) -> Option<&'a SessionRecord> {
    let client = ts["client"].as_str().unwrap();
    let stream = ts["h2_stream_id"].as_u64();
    sessions
        .iter()
        .find(|s| addr(s) == client && s.h2.as_ref().map(|h| h.stream_id as u64) == stream)
}

#[test]
fn with_the_key_log_every_session_matches_its_truth() {
    let mut failures = Vec::new();
    for truth in truth_files() {
        let t = load(&truth);
        let name = t["capture"].as_str().unwrap().to_string();
        let r = run(&capture_of(&t), keys_of(&t).as_deref());
        assert!(!r.failed(), "{name}: {:?}", r.problems());
        let want_sessions = t["sessions"].as_array().unwrap();
        let mut errs = Vec::new();
        check(
            &mut errs,
            "TLS connections",
            t["tls_connections"].as_u64().unwrap_or(0).to_string(),
            r.tls.connections.to_string(),
        );
        check(
            &mut errs,
            "rows",
            want_sessions.len().to_string(),
            r.sessions.len().to_string(),
        );
        // Failed handshakes: counted, no row, with the fatal alerts that were sent.
        let failed = t["tls_failed"].as_array().cloned().unwrap_or_default();
        check(
            &mut errs,
            "failed handshakes",
            failed.len().to_string(),
            r.tls.handshake_failed.to_string(),
        );
        let mut want_alerts: BTreeMap<String, u64> = BTreeMap::new();
        for f in &failed {
            for a in f["alerts"].as_array().unwrap() {
                if a["level"] == "fatal" {
                    let k = format!(
                        "{} by {}",
                        a["description"].as_str().unwrap(),
                        a["by"].as_str().unwrap()
                    );
                    *want_alerts.entry(k).or_default() += 1;
                }
            }
        }
        check(
            &mut errs,
            "failure alerts",
            format!("{want_alerts:?}"),
            format!("{:?}", r.tls.failure_alerts),
        );
        for ts in want_sessions {
            let who = format!(
                "{} stream {}",
                ts["client"].as_str().unwrap(),
                opt_str(&ts["h2_stream_id"])
            );
            let Some(s) = find(&r.sessions, ts) else {
                errs.push(format!("{who}: no session"));
                continue;
            };
            let mut e = Vec::new();
            check(
                &mut e,
                "ending",
                expected_ending(ts),
                s.outcome.ending.to_string(),
            );
            if expected_ending(ts) != "undecrypted" {
                check(
                    &mut e,
                    "close_code",
                    opt_str(
                        &ts["expected_close_code"]
                            .as_u64()
                            .map(|c| c.to_string())
                            .into(),
                    ),
                    opt_str(&s.outcome.close_code.map(|c| c.to_string()).into()),
                );
                check(
                    &mut e,
                    "initiator",
                    opt_str(&ts["initiator"]),
                    s.outcome.initiator.as_str().into(),
                );
                check(
                    &mut e,
                    "path",
                    opt_str(&ts["path"]),
                    opt_str(&s.path.clone().into()),
                );
                check(
                    &mut e,
                    "http_version",
                    opt_str(&ts["http_version"]),
                    opt_str(&s.http_version.into()),
                );
            }
            let tls = s.tls.as_deref();
            check(
                &mut e,
                "transport",
                opt_str(&ts["transport"]),
                if tls.is_some() { "tls" } else { "tcp" }.into(),
            );
            if ts["transport"] == "tls" {
                let tls = tls.cloned().unwrap_or_default();
                check(
                    &mut e,
                    "tls_version",
                    opt_str(&ts["tls_version"]),
                    opt_str(&tls.version.into()),
                );
                check(
                    &mut e,
                    "tls_cipher",
                    opt_str(&ts["tls_cipher"]),
                    opt_str(&tls.cipher.clone().into()),
                );
                check(
                    &mut e,
                    "sni",
                    opt_str(&ts["sni"]),
                    opt_str(&tls.sni.clone().into()),
                );
                if expected_ending(ts) != "undecrypted" {
                    check(
                        &mut e,
                        "alpn",
                        opt_str(&ts["alpn"]),
                        opt_str(&tls.alpn.clone().into()),
                    );
                    for (i, side) in ["client", "server"].iter().enumerate() {
                        let key = format!("tls_close_notify_{side}");
                        if let Some(b) = ts[&key].as_bool() {
                            check(&mut e, &key, b.to_string(), tls.close_notify[i].to_string());
                        }
                    }
                }
                check(
                    &mut e,
                    "decrypted",
                    (ts["decryptable"] != Value::Bool(false)).to_string(),
                    opt_str(&tls.decrypted.map(|b| b.to_string()).into()),
                );
            }
            if let Some(kind) = ts["h2_end"]["kind"].as_str() {
                check(
                    &mut e,
                    "h2_end",
                    kind.to_string(),
                    opt_str(&h2_end_kind(s).into()),
                );
            }
            errs.extend(e.into_iter().map(|x| format!("{who}: {x}")));
        }
        if let Some(refused) = t["refused"].as_array() {
            check(
                &mut errs,
                "refused",
                refused.len().to_string(),
                r.refused.len().to_string(),
            );
            for rf in refused {
                let found = r.refused.iter().any(|x| {
                    x.client.to_string() == rf["client"].as_str().unwrap()
                        && x.status as u64 == rf["status"].as_u64().unwrap()
                });
                if !found {
                    errs.push(format!("refused {rf}: not found"));
                }
            }
        }
        if !errs.is_empty() {
            failures.push(format!("{name}:\n  {}", errs.join("\n  ")));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn without_a_key_log_every_tls_connection_is_one_undecrypted_row_with_its_handshake() {
    for truth in truth_files() {
        let t = load(&truth);
        let tls_conns = t["tls_connections"].as_u64().unwrap_or(0);
        if tls_conns == 0 || t["keylog"] == "dsb" {
            continue;
        }
        let name = t["capture"].as_str().unwrap();
        let r = run(&capture_of(&t), None);
        assert!(!r.failed(), "{name}");
        assert_eq!(r.tls.connections, tls_conns, "{name}");
        assert_eq!(r.tls.decrypted, 0, "{name}");
        // Failed handshakes are seen as failed without keys too (no ServerHello, a
        // plaintext alert, a side that never finished): counted, no row.
        let failed = t["tls_failed"].as_array().map_or(0, |f| f.len()) as u64;
        assert_eq!(r.tls.handshake_failed, failed, "{name}");
        let rows: Vec<&SessionRecord> = r.sessions.iter().collect();
        assert_eq!(
            rows.len() as u64,
            tls_conns - failed,
            "{name}: one row per TLS connection that got past its handshake"
        );
        for s in rows {
            assert_eq!(
                s.outcome.ending.as_str(),
                "undecrypted",
                "{name} {}",
                addr(s)
            );
            assert_eq!(s.outcome.close_code, None, "{name}: never a guessed 1006");
            let tls = s.tls.as_deref().expect("a TLS row");
            assert_eq!(tls.decrypted, Some(false), "{name}");
            // What the handshake shows without keys is still reported.
            if let Some(ts) = t["sessions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|ts| ts["client"].as_str() == Some(&addr(s)))
            {
                assert_eq!(
                    Some(tls.version.unwrap_or("")),
                    ts["tls_version"].as_str(),
                    "{name}"
                );
                assert_eq!(tls.cipher.as_deref(), ts["tls_cipher"].as_str(), "{name}");
                assert_eq!(tls.sni.as_deref(), ts["sni"].as_str(), "{name}");
            }
        }
    }
}

#[test]
fn a_damaged_record_is_an_anomaly_on_its_session_not_a_crash() {
    // Flip one byte inside the server's first application-data record of a TLS 1.3
    // fixture: that direction stops decrypting (tls_record_auth_failed); nothing panics
    // and the other sessions are unaffected.
    let t = load(&tls_fixtures().join("wss_py13.truth.json"));
    let cap = capture_of(&t);
    let pkts = common::packets(&cap);
    let mut out = Vec::new();
    let mut hit = None;
    for (i, p) in pkts.iter().enumerate() {
        let mut p = p.clone();
        // The first record of type 23 from the server port after a few packets.
        if hit.is_none() && i > 8 {
            if let Some(at) = find_app_record(&p.data, 8843) {
                p.data[at + 10] ^= 0x55;
                hit = Some(i);
            }
        }
        out.push(p);
    }
    assert!(hit.is_some(), "no server application-data record found");
    let dir = common::TempDir::new("tls-damaged");
    let path = dir.file("damaged.pcap", &common::pcap(false, false, 1, &out));
    let r = run(&path, keys_of(&t).as_deref());
    assert!(!r.failed());
    let flagged: Vec<&SessionRecord> = r
        .sessions
        .iter()
        .filter(|s| {
            s.anomalies
                .iter()
                .any(|(n, _)| *n == "tls_record_auth_failed")
        })
        .collect();
    assert_eq!(flagged.len(), 1, "exactly the damaged session is flagged");
    let others = r.sessions.len() - 1;
    let normal = r
        .sessions
        .iter()
        .filter(|s| !s.anomalies.iter().any(|(n, _)| n.starts_with("tls_")))
        .count();
    assert_eq!(normal, others);
}

/// Offset of a TLS application-data record header in an Ethernet/IPv4/TCP frame sent
/// from `port`.
fn find_app_record(frame: &[u8], port: u16) -> Option<usize> {
    let ip = 14;
    if frame.len() < ip + 20 || frame[12..14] != [0x08, 0x00] {
        return None;
    }
    let ihl = (frame[ip] & 0x0f) as usize * 4;
    let tcp = ip + ihl;
    let sport = u16::from_be_bytes([frame[tcp], frame[tcp + 1]]);
    let off = ((frame[tcp + 12] >> 4) as usize) * 4;
    let payload = tcp + off;
    (sport == port
        && frame.len() > payload + 30
        && frame[payload] == 23
        && frame[payload + 1] == 3
        && frame[payload + 2] == 3)
        .then_some(payload)
}

#[test]
fn the_command_line_reads_key_logs_from_flags_folders_and_inputs() {
    let t = load(&tls_fixtures().join("wss_py12.truth.json"));
    let cap = capture_of(&t);
    let keys = keys_of(&t).unwrap();
    let json = |args: &[&str]| -> Value {
        let out = Command::new(common::bin())
            .arg("analyze")
            .args(args)
            .args(["--format", "json"])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
    };
    let cap_s = cap.to_str().unwrap();
    let keys_s = keys.to_str().unwrap();
    // --keylog FILE, the key log among the inputs, and --keylog DIR all decrypt.
    for args in [
        vec![cap_s, "--keylog", keys_s],
        vec![cap_s, keys_s],
        vec![cap_s, "--keylog", tls_fixtures().to_str().unwrap()],
    ] {
        let r = json(&args);
        assert_eq!(r["tls"]["decrypted"], 4, "{args:?}");
        assert_eq!(r["tls"]["unsupported"], 1, "{args:?}");
        assert_eq!(r["sessions"], 4, "{args:?}");
        assert_eq!(r["undecrypted"], 1, "{args:?}");
        let kl: Vec<&Value> = r["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["kind"] == "keylog")
            .collect();
        assert!(
            !kl.is_empty(),
            "{args:?}: the key log is listed as an input"
        );
    }
    // Without a key: no session read, the TLS connections counted, and said so.
    let out = Command::new(common::bin())
        .args(["analyze", cap_s])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("TLS connections: 5"), "{text}");
    assert!(text.contains("--keylog"), "{text}");
    // A named key log with no secret in it is a failed input (exit 2).
    let dir = common::TempDir::new("tls-badkeys");
    let bad = dir.file("bad.keys", b"CLIENT_RANDOM not hex\n");
    let out = Command::new(common::bin())
        .args(["analyze", cap_s, "--keylog", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = BTreeMap::<(), ()>::new();
}

#[test]
fn the_audit_never_passes_over_tls_it_could_not_read() {
    let t = load(&tls_fixtures().join("wss_py13.truth.json"));
    let cap = capture_of(&t);
    let keys = keys_of(&t).unwrap();
    let audit = |extra: &[&str]| {
        let out = Command::new(common::bin())
            .args(["audit", cap.to_str().unwrap(), "--max-rate", "1006=50"])
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, text) = audit(&[]);
    assert_eq!(code, Some(2), "no key: not a PASS\n{text}");
    assert!(text.contains("could not be decrypted"), "{text}");
    let (code, text) = audit(&["--allow-undecrypted"]);
    assert_eq!(code, Some(0), "allowed: the rest passes\n{text}");
    let (code, text) = audit(&["--keylog", keys.to_str().unwrap()]);
    assert_eq!(code, Some(0), "with the key: read and judged\n{text}");
    assert!(text.contains("PASS"), "{text}");
}

#[test]
fn by_sni_and_by_transport_group_the_sessions() {
    // Every fixture capture of this folder with its key logs (found in the folder):
    // HTTP/1.1 over TLS, HTTP/2 over TLS and cleartext h2c, all with SNI wsaudit.test
    // except h2c (no TLS, no SNI). Expected counts come from the truth files.
    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    let mut sni: BTreeMap<String, u64> = BTreeMap::new();
    for truth in truth_files() {
        let t = load(&truth);
        for ts in t["sessions"].as_array().unwrap() {
            if expected_ending(ts) == "undecrypted" {
                continue;
            }
            let transport = format!(
                "{} {}",
                ts["transport"].as_str().unwrap(),
                if ts["http_version"] == "2" {
                    "h2"
                } else {
                    "http/1.1"
                }
            );
            *want.entry(transport).or_default() += 1;
            let s = ts["sni"].as_str().unwrap_or("(no SNI)").to_string();
            *sni.entry(s).or_default() += 1;
        }
    }
    let dir = tls_fixtures();
    let bin = common::bin();
    let tables = common::TempDir::new("tls-by");
    let table = tables.path().join("s.parquet");
    let out = Command::new(bin)
        .args(["analyze", dir.to_str().unwrap(), "--sessions"])
        .arg(&table)
        .args(["--by", "transport,sni", "--format", "json"])
        .output()
        .unwrap();
    let analyzed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let report = Command::new(bin)
        .args(["report"])
        .arg(&table)
        .args(["--by", "sni", "--by", "transport", "--format", "json"])
        .output()
        .unwrap();
    let reported: Value = serde_json::from_slice(&report.stdout).unwrap();
    let audit = Command::new(bin)
        .args([
            "audit",
            dir.to_str().unwrap(),
            "--by",
            "transport,sni",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let audited: Value = serde_json::from_slice(&audit.stdout).unwrap();
    for (what, r) in [
        ("analyze", &analyzed),
        ("report", &reported),
        ("audit", &audited["report"]),
    ] {
        let groups = |by: &str| -> BTreeMap<String, u64> {
            let b = r["breakdowns"]
                .as_array()
                .unwrap()
                .iter()
                .find(|b| b["by"] == by)
                .unwrap_or_else(|| panic!("{what}: no --by {by}"));
            let mut m: BTreeMap<String, u64> = b["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|row| {
                    (
                        row["group"].as_str().unwrap().to_string(),
                        row["sessions"].as_u64().unwrap(),
                    )
                })
                .collect();
            if let Some(row) = b["missing"].as_object() {
                m.insert("(no SNI)".into(), row["sessions"].as_u64().unwrap());
            }
            m
        };
        assert_eq!(groups("transport"), want, "{what}");
        assert_eq!(groups("sni"), sni, "{what}");
    }
}

/// Split the Ethernet/IPv4/TCP frame `f` into the part of its payload before `a`, and
/// the part from `b` on (bytes `a..b` dropped: never captured).
fn cut_out(f: &[u8], a: usize, b: usize) -> (Vec<u8>, Vec<u8>) {
    let ip = 14;
    let ihl = (f[ip] & 0x0f) as usize * 4;
    let tcp = ip + ihl;
    let off = ((f[tcp + 12] >> 4) as usize) * 4;
    let pay = tcp + off;
    let seq = u32::from_be_bytes(f[tcp + 4..tcp + 8].try_into().unwrap());
    let head = &f[..pay];
    let mk = |payload: &[u8], seq: u32| {
        let mut p = head.to_vec();
        p.extend_from_slice(payload);
        let total = (p.len() - ip) as u16;
        p[ip + 2..ip + 4].copy_from_slice(&total.to_be_bytes());
        p[tcp + 4..tcp + 8].copy_from_slice(&seq.to_be_bytes());
        p
    };
    let payload = &f[pay..];
    (
        mk(&payload[..a], seq),
        mk(&payload[b..], seq.wrapping_add(b as u32)),
    )
}

#[test]
fn a_gap_inside_one_tls_record_loses_that_record_only() {
    // The capture missed 500 bytes in the middle of a server record of the session that
    // sends 40,000-byte messages: that record is lost, the next ones decrypt, and the
    // session still ends as its libraries said (the Close frames come after the gap).
    let t = load(&tls_fixtures().join("wss_py13.truth.json"));
    let cap = capture_of(&t);
    let pkts = common::packets(&cap);
    let server_port = 8843u16;
    let client = "127.0.0.2";
    let mut out = Vec::new();
    let mut done = false;
    for p in &pkts {
        let f = &p.data;
        if !done && f.len() > 14 + 20 + 20 && f[12..14] == [8, 0] {
            let ihl = (f[14] & 0x0f) as usize * 4;
            let tcp = 14 + ihl;
            let sport = u16::from_be_bytes([f[tcp], f[tcp + 1]]);
            let dst = format!("{}.{}.{}.{}", f[30], f[31], f[32], f[33]);
            let pay = tcp + ((f[tcp + 12] >> 4) as usize) * 4;
            // A segment holding a whole big application-data record from its start.
            if sport == server_port && dst == client && f.len() > pay + 5 && f[pay] == 23 {
                let len = u16::from_be_bytes([f[pay + 3], f[pay + 4]]) as usize;
                if len > 4000 && f.len() >= pay + 5 + len {
                    let (x, y) = cut_out(f, 1000, 1500);
                    let mut a = p.clone();
                    a.data = x;
                    let mut b = p.clone();
                    b.data = y;
                    out.push(a);
                    out.push(b);
                    done = true;
                    continue;
                }
            }
        }
        out.push(p.clone());
    }
    assert!(done, "no big server record found to cut");
    let dir = common::TempDir::new("tls-gap");
    let path = dir.file("gap.pcap", &common::pcap(false, false, 1, &out));
    let r = run(&path, keys_of(&t).as_deref());
    let s = r
        .sessions
        .iter()
        .find(|s| s.client.ip().to_string() == client)
        .expect("the session");
    let names: Vec<&str> = s.anomalies.iter().map(|(n, _)| *n).collect();
    assert!(s.gap, "the gap is flagged");
    assert!(names.contains(&"tls_record_lost"), "{names:?}");
    assert!(
        !names.contains(&"tls_gap"),
        "the direction went on: {names:?}"
    );
    let ts = &t["sessions"][0];
    assert_eq!(
        s.outcome.ending.as_str(),
        ts["expected_ending"].as_str().unwrap()
    );
    assert_eq!(
        s.outcome.close_code.map(u64::from),
        ts["expected_close_code"].as_u64()
    );
    assert_eq!(
        s.outcome.initiator.as_str(),
        ts["initiator"].as_str().unwrap()
    );
}

#[test]
fn a_refused_extended_connect_groups_with_the_same_status_over_http_1_1() {
    // HTTP/2 answers carry no reason phrase: the refusal gets the standard one, so the
    // report lists "403 Forbidden" once for both protocols.
    let t = load(&tls_fixtures().join("h2_ws.truth.json"));
    let r = run(&capture_of(&t), keys_of(&t).as_deref());
    let want = t["refused"].as_array().unwrap();
    assert!(!want.is_empty());
    for rf in want {
        let got = r
            .refused
            .iter()
            .find(|x| x.status as u64 == rf["status"].as_u64().unwrap())
            .expect("the refusal");
        assert_eq!(got.reason, "Forbidden");
        assert_eq!(got.path.as_deref(), rf["path"].as_str());
    }
}

/// The README's wss section shows real output: every block that runs one `wsaudit`
/// command prints its lines (in order) today, and the HTTP/2 block's rows are the
/// session table's.
#[test]
fn readme_wss_examples_are_real_output() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let start = readme
        .find("## wss (TLS) and WebSocket over HTTP/2")
        .expect("the wss section");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let blocks: Vec<&str> = section.split("```").skip(1).step_by(2).collect();
    let mut checked = 0;
    for block in &blocks {
        let lines: Vec<&str> = block.trim_start_matches('\n').lines().collect();
        let commands = lines.iter().filter(|l| l.starts_with("$ ")).count();
        let Some(cmd) = lines.first().and_then(|l| l.strip_prefix("$ wsaudit ")) else {
            continue;
        };
        if commands == 1 {
            let out = Command::new(common::bin())
                .args(cmd.split_whitespace())
                .current_dir(root)
                .output()
                .unwrap();
            let got = String::from_utf8_lossy(&out.stdout).to_string();
            let got: Vec<&str> = got.lines().collect();
            let mut at = 0;
            for want in lines[1..].iter().filter(|l| **l != "...") {
                let i = got[at..].iter().position(|g| g == want).unwrap_or_else(|| {
                    panic!(
                        "README line `{want}` not in the output of `{cmd}`:\n{}",
                        got.join("\n")
                    )
                });
                at += i + 1;
            }
            checked += 1;
        } else {
            // `analyze --sessions s.csv` then a one-liner printing stream, ending, code
            // and h2_end of 127.0.0.2's sessions: the same rows from the library.
            let r = run(
                &root.join("fixtures/tls/h2_ws.pcap"),
                Some(&root.join("fixtures/tls/h2_ws.keys")),
            );
            let mut rows: Vec<String> = r
                .sessions
                .iter()
                .filter(|s| s.client.ip().to_string() == "127.0.0.2")
                .map(|s| {
                    format!(
                        "{} {} {} {}",
                        s.h2.as_ref().unwrap().stream_id,
                        s.outcome.ending,
                        s.outcome.close_code.unwrap(),
                        s.h2.as_ref().unwrap().end.clone().unwrap_or_default()
                    )
                })
                .collect();
            rows.sort_by_key(|l| l.split(' ').next().unwrap().parse::<u32>().unwrap());
            let shown: Vec<&str> = lines
                .iter()
                .filter(|l| !l.starts_with("$ "))
                .copied()
                .collect();
            assert_eq!(shown, rows, "the README's HTTP/2 rows");
            checked += 1;
        }
    }
    assert_eq!(checked, 3, "the section's three examples were checked");
}

#[test]
fn the_pages_charts_count_the_sessions_the_report_counts() {
    // Undecrypted TLS rows and the upstream legs of proxied sessions are rows of the
    // table but not in the report's figures: the charts of the HTML and Markdown pages
    // must not count them either ("Covers N of M sessions" with M the report's total).
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = common::TempDir::new("tls-pages");
    let md = dir.path().join("r.md");
    let out = Command::new(common::bin())
        .arg("analyze")
        .arg(root.join("fixtures/tls/wss_py13.pcap"))
        .arg(root.join("fixtures/proxy/proxy_haproxy.pcap"))
        .args(["--format", "json", "--markdown"])
        .arg(&md)
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let total = r["sessions"].as_u64().unwrap();
    assert!(
        r["undecrypted"].as_u64().unwrap() > 0,
        "the mix has undecrypted rows"
    );
    let text = std::fs::read_to_string(&md).unwrap();
    let covers: Vec<&str> = text
        .lines()
        .filter_map(|l| l.find("Covers ").map(|i| &l[i..]))
        .collect();
    assert!(!covers.is_empty(), "the page has its histograms");
    for c in covers {
        let of: u64 = c
            .split(" of ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(of, total, "{c}");
    }
}
