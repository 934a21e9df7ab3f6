//! The public captures in ../shared/corpus/public against tshark's view of them
//! (tshark_close_frames.tsv, tshark_sessions.tsv): both ways, every Close frame and
//! session tshark sees is found, and every session wsaudit reports is one tshark sees.
//! When the corpus is not there the tests say `SKIP` with the reason, except under CI
//! (`CI` set), where a missing corpus fails. Where wsaudit and tshark differ on purpose,
//! docs/tshark-differences.md explains who is right; this test asserts wsaudit's side of
//! each difference.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use wsaudit::pipeline::{analyze, CaptureResult, Input, Options};
use wsaudit::session::{Ending, Initiator, SessionRecord};

/// The corpus folder; `None` (after saying `SKIP`) when it is not there, a failure under
/// CI.
fn corpus() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/public");
    if p.join("tshark_sessions.tsv").exists() {
        return Some(p);
    }
    assert!(
        !common::under_ci(),
        "{} is missing under CI (CI is set): the public-corpus comparison must run there",
        p.display()
    );
    common::skip("../shared/corpus/public is not here; the public-corpus comparison did not run");
    None
}

/// Rows of the corpus as it was taken (INDEX.md): a parity test over fewer rows than
/// this compared less than it claims.
const CLOSE_FRAME_ROWS: usize = 29;
const SESSION_ROWS: usize = 28;
const CAPTURE_FILES: usize = 25;

fn rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            header
                .iter()
                .zip(l.split('\t').chain(std::iter::repeat("")))
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// tshark writes IPv6 endpoints as `[addr]:port`, like Rust's SocketAddr.
fn find<'a>(r: &'a CaptureResult, client: &str, server: &str) -> Option<&'a SessionRecord> {
    r.sessions
        .iter()
        .find(|s| s.client.to_string() == client && s.server.to_string() == server)
}

fn analyze_all_files(
    root: &Path,
    files: impl Iterator<Item = String>,
) -> BTreeMap<String, CaptureResult> {
    let mut out = BTreeMap::new();
    for f in files {
        if out.contains_key(&f) {
            continue;
        }
        let r = analyze(&Input::Path(root.join(&f)), &Options::default());
        assert!(!r.failed(), "{f}: {:?}", r.problems());
        out.insert(f, r);
    }
    out
}

#[test]
fn every_close_frame_tshark_sees_is_found_with_the_same_code_direction_and_reason() {
    let Some(root) = corpus() else { return };
    let closes = rows(&root.join("tshark_close_frames.tsv"));
    assert!(
        closes.len() >= CLOSE_FRAME_ROWS,
        "{} Close frame rows",
        closes.len()
    );
    let results = analyze_all_files(&root, closes.iter().map(|r| r["file"].clone()));
    for row in &closes {
        let r = &results[&row["file"]];
        let (src, dst) = (&row["src"], &row["dst"]);
        let from_client = row["direction"] == "client->server";
        let (client, server) = if from_client { (src, dst) } else { (dst, src) };
        let s = find(r, client, server)
            .unwrap_or_else(|| panic!("{}: no session {client} -> {server}", row["file"]));
        let want_code: Option<u16> = match row["status_code"].as_str() {
            "(none)" => None,
            c => Some(c.parse().unwrap()),
        };
        let who = if from_client {
            Initiator::Client
        } else {
            Initiator::Server
        };
        let hit = s
            .closes
            .iter()
            .any(|(w, c)| *w == who && c.code == want_code && c.reason == row["reason"]);
        assert!(
            hit,
            "{} frame {}: Close {:?} {:?} from {:?} not found; wsaudit saw {:?}",
            row["file"], row["frame"], want_code, row["reason"], who, s.closes
        );
    }
}

#[test]
fn every_session_tshark_sees_is_found_with_the_ending_its_timeline_implies() {
    let Some(root) = corpus() else { return };
    let sessions = rows(&root.join("tshark_sessions.tsv"));
    assert!(
        sessions.len() >= SESSION_ROWS,
        "{} session rows",
        sessions.len()
    );
    let results = analyze_all_files(&root, sessions.iter().map(|r| r["file"].clone()));
    for row in &sessions {
        let r = &results[&row["file"]];
        let s = find(r, &row["client"], &row["server"]).unwrap_or_else(|| {
            panic!(
                "{}: no session {} -> {}",
                row["file"], row["client"], row["server"]
            )
        });
        let timeline = &row["ending_timeline"];
        // The first Close in tshark's timeline decides; else any FIN/RST means 1006.
        let first_close = timeline.split(' ').find(|t| t.contains("close(")).map(|t| {
            t.split_once("close(")
                .unwrap()
                .1
                .split(')')
                .next()
                .unwrap()
                .to_string()
        });
        let (ending, code) = match first_close.as_deref() {
            Some("no-status") => (Ending::NoStatus, Some(1005)),
            Some("1000") => (Ending::Normal, Some(1000)),
            Some(c) => (Ending::Announced, Some(c.parse().unwrap())),
            None if timeline.contains("FIN") || timeline.contains("RST") => {
                (Ending::Abnormal, Some(1006))
            }
            None => (Ending::Open, None),
        };
        assert_eq!(
            (s.outcome.ending, s.outcome.close_code),
            (ending, code),
            "{} stream {}: timeline {timeline}",
            row["file"],
            row["tcp_stream"]
        );
        let closes: usize = row["close_frames"].parse().unwrap();
        assert_eq!(
            s.closes.len(),
            closes,
            "{} stream {}",
            row["file"],
            row["tcp_stream"]
        );
        let frames: u64 = row["ws_frames"].parse().unwrap();
        assert_eq!(
            s.frames[0] + s.frames[1],
            frames,
            "{} stream {}: WebSocket frames",
            row["file"],
            row["tcp_stream"]
        );
    }
}

/// Every .pcap / .pcapng under `dir`, relative to it, sorted.
fn captures_under(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            captures_under(root, &p, out);
        } else if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            out.push(rel);
        }
    }
    out.sort();
}

#[test]
fn every_session_wsaudit_reports_is_one_tshark_sees() {
    // The other direction of the parity: no session invented, in any capture of the
    // corpus (also those where tshark sees none).
    let Some(root) = corpus() else { return };
    let known: BTreeSet<(String, String, String)> = rows(&root.join("tshark_sessions.tsv"))
        .into_iter()
        .map(|r| (r["file"].clone(), r["client"].clone(), r["server"].clone()))
        .collect();
    let mut files = Vec::new();
    captures_under(&root, &root, &mut files);
    assert!(
        files.len() >= CAPTURE_FILES,
        "{} captures: {files:?}",
        files.len()
    );
    let results = analyze_all_files(&root, files.into_iter());
    let mut extra = Vec::new();
    let mut seen = 0;
    for (file, r) in &results {
        // TLS connections no key log could open are rows too (ending `undecrypted`),
        // but they claim no WebSocket: they are checked to be TLS, nothing more.
        for s in &r.sessions {
            if s.outcome.ending == wsaudit::session::Ending::Undecrypted {
                assert!(
                    s.tls.is_some() && s.outcome.close_code.is_none(),
                    "{file}: an undecrypted row that is not a TLS connection"
                );
                continue;
            }
            seen += 1;
            let key = (file.clone(), s.client.to_string(), s.server.to_string());
            if !known.contains(&key) {
                extra.push(format!("{file}: {} -> {}", s.client, s.server));
            }
        }
    }
    assert!(
        extra.is_empty(),
        "sessions tshark does not see:\n{}",
        extra.join("\n")
    );
    assert_eq!(seen, known.len(), "wsaudit's sessions in the corpus");
}

#[test]
fn the_data_only_capture_without_handshake_is_not_a_session() {
    // ndpi/websocket.pcap holds the five data packets of a session whose handshake was
    // not captured: nothing proves it is WebSocket, so it is no session (tshark agrees).
    let Some(root) = corpus() else { return };
    let file = root.join("ndpi/websocket.pcap");
    assert!(file.is_file(), "{} is missing", file.display());
    let r = analyze(&Input::Path(file), &Options::default());
    assert!(!r.failed(), "{:?}", r.problems());
    assert_eq!(r.tcp_segments, 5, "the five data packets were read");
    assert!(r.sessions.is_empty());
}

#[test]
fn unmasked_client_frames_and_the_wrong_accept_header_are_flagged() {
    // Neither tshark nor Zeek flags the unmasked client frames of wstunnel (INDEX.md).
    let Some(root) = corpus() else { return };
    let check = |file: &str, anomaly: &str| {
        let r = analyze(&Input::Path(root.join(file)), &Options::default());
        assert!(
            r.sessions
                .iter()
                .any(|s| s.anomalies.iter().any(|(n, _)| *n == anomaly)),
            "{file}: {anomaly} not flagged"
        );
    };
    check(
        "zeek/traces/websocket/wstunnel-http.pcap",
        "unmasked_client_frame",
    );
    check(
        "suricata-verify/websocket-ping/input.pcap",
        "unmasked_client_frame",
    );
    check(
        "zeek/traces/websocket/wrong-accept-header.pcap",
        "wrong_accept_header",
    );
    check(
        "zeek/traces/websocket/oversized-close-frame.pcapng",
        "control_frame_too_long",
    );
}

/// Captures made by other people's tools read the same on many threads: decoders,
/// pagers and chunks of one record give every public capture exactly the sequential
/// result (odd link types, pcapng with several interfaces, truncated files).
#[test]
fn every_public_capture_reads_the_same_sharded_as_sequentially() {
    let Some(root) = corpus() else { return };
    let mut files = Vec::new();
    captures_under(&root, &root, &mut files);
    assert_eq!(files.len(), CAPTURE_FILES);
    for f in files {
        let input = Input::Path(root.join(&f));
        let seq = analyze(&input, &Options::default());
        for (decoders, shards, chunk_bytes) in [(0, 3, 1), (2, 3, 1), (1, 4, 4096)] {
            let par = analyze(
                &input,
                &Options {
                    decoders,
                    shards,
                    chunk_bytes,
                    ..Options::default()
                },
            );
            let how =
                format!("{f}: {decoders} decoders, {shards} workers, chunks of {chunk_bytes}");
            assert!(par.sessions == seq.sessions, "{how}: sessions differ");
            assert_eq!(par.refused, seq.refused, "{how}");
            assert_eq!(par.read.packets, seq.read.packets, "{how}");
            assert_eq!(par.problems(), seq.problems(), "{how}");
        }
    }
}
