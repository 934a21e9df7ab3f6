//! wsaudit against the truth the WebSocket libraries themselves reported.
//!
//! Every `fixtures/<name>.truth.json` (written by `fixtures/gen/generate.sh` from the
//! peers' own logs, never from wsaudit) is compared with wsaudit's session table for
//! `fixtures/<name>.pcap[ng]`, row by row: the same sessions (no more, no fewer), and
//! per session the ending, close code, initiator, each side's Close frame, the codes each
//! side observed, path, subprotocol, extensions and message counts; the same refused
//! upgrades with the same HTTP status.
//!
//! What only the capture can tell (which packets the snaplen cut, which bytes are
//! missing, who sent the first FIN or RST, when a connection started and ended, how much
//! of a cut Close reason or request line is in the file) is read from the file by the
//! tests' own small reader (`common::read_wire`), not from wsaudit. A session whose
//! packets were cut is compared with the exact bytes the capture kept.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{read_wire, wire_conn, wire_conns, WireConn, WireStream};
use serde_json::Value;
use wsaudit::pipeline::{analyze, Input, Options};
use wsaudit::session::{CloseFrame, SessionRecord, CLIENT, SERVER};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn truth_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".truth.json"))
        .collect();
    v.sort();
    v
}

/// One WebSocket frame as the capture holds it (payload unmasked, `None` where the
/// snaplen cut the byte).
#[derive(Debug)]
struct WireFrame {
    fin: bool,
    opcode: u8,
    payload: Vec<Option<u8>>,
}

/// Where the WebSocket frames of one direction start: after the HTTP head when the
/// capture holds it whole, else (a cut head) at the next segment, because the peers
/// write the head in one write and the frames in later ones.
fn frames_start(st: &WireStream) -> Option<usize> {
    let run = st.run_from(0);
    match run.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => Some(i + 4),
        None => st.starts.range(1..).next().copied(),
    }
}

/// Whether the capture holds the whole HTTP head of this direction.
fn head_captured(st: &WireStream) -> bool {
    st.run_from(0).windows(4).any(|w| w == b"\r\n\r\n")
}

/// The frames of one direction, walked by their headers. `Err(offset)` when a frame
/// header was not captured (the frame boundaries after it are unknown).
fn walk_frames(st: &WireStream) -> Result<Vec<WireFrame>, usize> {
    let mut out = Vec::new();
    let Some(mut at) = frames_start(st) else {
        return Ok(out);
    };
    let byte = |i: usize| st.bytes.get(i).copied().flatten();
    while at < st.len {
        let (Some(b0), Some(b1)) = (byte(at), byte(at + 1)) else {
            return Err(at);
        };
        let mut hdr = 2;
        let mut len = (b1 & 0x7f) as u64;
        let ext = match len {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        if ext > 0 {
            len = 0;
            for k in 0..ext {
                len = len << 8 | byte(at + 2 + k).ok_or(at)? as u64;
            }
            hdr += ext;
        }
        let mut mask = [0u8; 4];
        if b1 & 0x80 != 0 {
            for (k, m) in mask.iter_mut().enumerate() {
                *m = byte(at + hdr + k).ok_or(at)?;
            }
            hdr += 4;
        }
        let start = at + hdr;
        let end = start + len as usize;
        if end > st.len {
            return Err(at); // the stream ends inside this frame
        }
        let payload = (start..end)
            .map(|i| byte(i).map(|b| b ^ mask[(i - start) % 4]))
            .collect();
        out.push(WireFrame {
            fin: b0 & 0x80 != 0,
            opcode: b0 & 0x0f,
            payload,
        });
        at = end;
    }
    Ok(out)
}

/// Complete data messages in `frames` (a message ends with a FIN data frame).
fn messages(frames: &[WireFrame]) -> u64 {
    frames.iter().filter(|f| f.fin && f.opcode < 3).count() as u64
}

/// The request target as the capture holds it: `(target, whole)`, where `whole` is false
/// when the snaplen cut the request line inside the target.
fn captured_target(client: &WireStream) -> Option<(String, bool)> {
    let run = client.run_from(0);
    let rest = run.strip_prefix(b"GET ")?;
    let (target, whole) = match rest.iter().position(|b| *b == b' ') {
        Some(i) => (&rest[..i], true),
        None => (rest, false),
    };
    Some((String::from_utf8_lossy(target).into_owned(), whole))
}

/// The first Close frame of a direction in the capture: (code if captured, the reason
/// bytes the capture kept, whether it kept all of them).
fn captured_close(frames: &[WireFrame]) -> Option<(Option<u16>, Vec<u8>, bool)> {
    let f = frames.iter().find(|f| f.opcode == 8)?;
    let code = match (f.payload.first(), f.payload.get(1)) {
        (Some(Some(a)), Some(Some(b))) => Some(u16::from_be_bytes([*a, *b])),
        _ => None,
    };
    let reason: Vec<u8> = f.payload.iter().skip(2).map_while(|b| *b).collect();
    let whole = f.payload.iter().all(|b| b.is_some());
    Some((code, reason, whole))
}

/// The truth's `{"code", "reason"}` (or null) next to what wsaudit saw. When the
/// capture cut that Close frame, the reason wsaudit can show is exactly the part the
/// capture kept (`captured`), which must itself start the reason that was sent.
fn same_close(
    truth: &Value,
    seen: &Option<CloseFrame>,
    captured: Option<&(Option<u16>, Vec<u8>, bool)>,
) -> Result<(), String> {
    match (truth, seen) {
        (Value::Null, None) => Ok(()),
        (Value::Null, Some(c)) => Err(format!("no Close sent, wsaudit saw {c:?}")),
        (t, None) => Err(format!("Close {t} sent, wsaudit saw none")),
        (t, Some(c)) => {
            let code = t["code"].as_u64().map(|c| c as u16);
            let sent = t["reason"].as_str().unwrap_or("");
            let want = match captured {
                Some((_, kept, false)) => {
                    if !sent.as_bytes().starts_with(kept) {
                        return Err(format!(
                            "the capture holds reason bytes {kept:?}, not a prefix of {sent:?}"
                        ));
                    }
                    // A cut inside a character keeps the characters before it.
                    match std::str::from_utf8(kept) {
                        Ok(s) => s.to_string(),
                        Err(e) => String::from_utf8_lossy(&kept[..e.valid_up_to()]).into_owned(),
                    }
                }
                _ => sent.to_string(),
            };
            if code == c.code && want == c.reason {
                Ok(())
            } else {
                Err(format!(
                    "Close {t} sent (captured reason {want:?}), wsaudit saw code {:?} reason {:?}",
                    c.code, c.reason
                ))
            }
        }
    }
}

/// RFC 6455 7.1.5: what an endpoint observes from the Close it received.
fn observed(received: &Value, tcp_ended: bool) -> Option<u16> {
    match received {
        Value::Null if tcp_ended => Some(1006),
        Value::Null => None,
        v => Some(v["code"].as_u64().map(|c| c as u16).unwrap_or(1005)),
    }
}

fn eq(errs: &mut Vec<String>, what: &str, want: String, got: String) {
    if want != got {
        errs.push(format!("{what}: expected {want}, wsaudit {got}"));
    }
}

/// Every difference between the truth `t` (what the libraries reported), the capture
/// `w` (what the file holds of this connection) and wsaudit's record `s`.
fn check_session(t: &Value, s: &SessionRecord, w: &WireConn) -> Vec<String> {
    let mut errs = Vec::new();
    let ending = t["expected_ending"].as_str().unwrap();
    eq(
        &mut errs,
        "ending",
        ending.into(),
        s.outcome.ending.as_str().into(),
    );
    eq(
        &mut errs,
        "close_code",
        format!("{:?}", t["expected_close_code"].as_u64().map(|c| c as u16)),
        format!("{:?}", s.outcome.close_code),
    );
    eq(
        &mut errs,
        "initiator",
        t["initiator"].as_str().unwrap().into(),
        s.outcome.initiator.as_str().into(),
    );
    let tcp_ended = ending != "open";
    eq(
        &mut errs,
        "client_observed_code",
        format!("{:?}", observed(&t["server_sent_close"], tcp_ended)),
        format!("{:?}", s.outcome.client_observed_code),
    );
    eq(
        &mut errs,
        "server_observed_code",
        format!("{:?}", observed(&t["client_sent_close"], tcp_ended)),
        format!("{:?}", s.outcome.server_observed_code),
    );

    // What the capture holds: cut packets, missing bytes, the handshake, TCP's end.
    let [cs, ss] = &w.streams;
    eq(
        &mut errs,
        "truncated (a packet cut by the snaplen)",
        w.cut.to_string(),
        s.truncated.to_string(),
    );
    let complete = cs.complete() && ss.complete();
    eq(
        &mut errs,
        "gap (bytes not in the capture)",
        (!complete).to_string(),
        s.gap.to_string(),
    );
    eq(
        &mut errs,
        "midstream (no SYN captured)",
        (!w.syn_seen).to_string(),
        s.midstream.to_string(),
    );
    eq(
        &mut errs,
        "limit_hit (default limits)",
        "false".into(),
        s.limit_hit.to_string(),
    );
    eq(
        &mut errs,
        "tcp_end (first FIN or RST)",
        w.tcp_end().into(),
        s.tcp_end.as_str().into(),
    );
    eq(
        &mut errs,
        "tcp_end_time",
        format!("{:?}", w.first_end.map(|(_, _, ts)| ts)),
        format!("{:?}", s.tcp_end_time),
    );
    eq(
        &mut errs,
        "start_time (first packet)",
        w.start_ts.to_string(),
        s.start_time.to_string(),
    );
    eq(
        &mut errs,
        "end_time (first FIN/RST, else last packet)",
        w.end_ts().to_string(),
        s.end_time.to_string(),
    );
    // Real libraries break no rule; the only anomaly a clean session may carry is the
    // capture's own: a handshake the snaplen cut.
    let heads = head_captured(cs) && head_captured(ss);
    let want: Vec<&str> = if heads {
        vec![]
    } else {
        vec!["handshake_not_captured"]
    };
    let got: Vec<&str> = s.anomalies.iter().map(|(n, _)| *n).collect();
    eq(
        &mut errs,
        "anomalies",
        format!("{want:?}"),
        format!("{got:?}"),
    );

    // Close frames: whole, or exactly the part the capture kept.
    let frames = [walk_frames(cs), walk_frames(ss)];
    for (side, key, seen) in [
        (CLIENT, "client_sent_close", &s.client_close),
        (SERVER, "server_sent_close", &s.server_close),
    ] {
        let captured = match &frames[side] {
            Ok(f) => captured_close(f),
            Err(at) if w.cut => {
                errs.push(format!(
                    "{key}: frame boundaries lost at byte {at}; cannot tell what was captured"
                ));
                continue;
            }
            Err(_) => None,
        };
        if w.cut && !t[key].is_null() && captured.is_none() {
            errs.push(format!("{key}: the capture holds no Close frame"));
            continue;
        }
        if let Err(e) = same_close(&t[key], seen, captured.as_ref()) {
            errs.push(format!("{key}: {e}"));
        }
    }

    // The request target: whole, or the part of the request line the capture kept.
    let tpath = t["path"].as_str().unwrap_or("");
    let path = s.path.clone().unwrap_or_default();
    match captured_target(cs) {
        Some((kept, false)) if tpath.starts_with(&kept) => {
            errs.extend((kept != path).then(|| {
                format!("path: the capture holds {kept:?} of {tpath:?}, wsaudit {path:?}")
            }));
        }
        Some((kept, false)) => {
            errs.push(format!("path: captured {kept:?} does not start {tpath:?}"))
        }
        _ => eq(&mut errs, "path", tpath.into(), path),
    }
    // Response headers: the truth's when the capture holds the 101 head; nothing (never
    // a guess) when it does not.
    let head_kept = head_captured(ss);
    let want_hdr = |v: &Value| {
        if head_kept {
            v.as_str().map(String::from)
        } else {
            None
        }
    };
    eq(
        &mut errs,
        "subprotocol",
        format!("{:?}", want_hdr(&t["subprotocol"])),
        format!("{:?}", s.subprotocol),
    );
    eq(
        &mut errs,
        "extensions",
        format!("{:?}", want_hdr(&t["extensions"])),
        format!("{:?}", s.extensions),
    );
    // Message counts wherever the capture holds every frame header of that direction.
    for (key, side) in [("messages_client", CLIENT), ("messages_server", SERVER)] {
        let Some(n) = t[key].as_u64() else { continue };
        match &frames[side] {
            Ok(f) => {
                eq(
                    &mut errs,
                    &format!("{key} (in the capture)"),
                    n.to_string(),
                    messages(f).to_string(),
                );
                eq(&mut errs, key, n.to_string(), s.messages[side].to_string());
            }
            Err(at) if !w.cut => errs.push(format!("{key}: frame walk lost at byte {at}")),
            Err(_) => {}
        }
    }
    errs
}

#[test]
fn every_fixture_matches_the_truth_its_libraries_reported() {
    let files = truth_files();
    assert!(
        files.len() >= 8,
        "expected the fixture set, found {files:?}"
    );
    let mut failures = Vec::new();
    for tf in &files {
        let truth: Value = serde_json::from_str(&std::fs::read_to_string(tf).unwrap()).unwrap();
        let capture = fixtures().join(truth["capture"].as_str().unwrap());
        let r = analyze(&Input::Path(capture.clone()), &Options::default());
        let name = truth["capture"].as_str().unwrap().to_string();
        assert!(!r.failed(), "{name}: {:?}", r.problems());
        let conns = wire_conns(&read_wire(&capture));

        let want: BTreeSet<(String, String)> = truth["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["client"].as_str().unwrap().into(),
                    s["server"].as_str().unwrap().into(),
                )
            })
            .collect();
        let got: BTreeSet<(String, String)> = r
            .sessions
            .iter()
            .map(|s| (s.client.to_string(), s.server.to_string()))
            .collect();
        for missing in want.difference(&got) {
            failures.push(format!("{name}: session {missing:?} not found"));
        }
        for extra in got.difference(&want) {
            failures.push(format!("{name}: session {extra:?} is not in the truth"));
        }
        for t in truth["sessions"].as_array().unwrap() {
            let (c, sv) = (t["client"].as_str().unwrap(), t["server"].as_str().unwrap());
            let Some(s) = r
                .sessions
                .iter()
                .find(|s| s.client.to_string() == c && s.server.to_string() == sv)
            else {
                continue;
            };
            let Some(w) = wire_conn(&conns, c, sv) else {
                failures.push(format!("{name} {c}: no such TCP connection in the capture"));
                continue;
            };
            for e in check_session(t, s, w) {
                failures.push(format!("{name} {c}: {e}"));
            }
        }

        let want: BTreeSet<(String, String, u16)> = truth["refused"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|x| {
                        (
                            x["client"].as_str().unwrap().into(),
                            x["server"].as_str().unwrap().into(),
                            x["status"].as_u64().unwrap() as u16,
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let got: BTreeSet<(String, String, u16)> = r
            .refused
            .iter()
            .map(|x| (x.client.to_string(), x.server.to_string(), x.status))
            .collect();
        if want != got {
            failures.push(format!(
                "{name}: refused upgrades: truth {want:?}, wsaudit {got:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn snaplen_cut_sessions_are_flagged_truncated_and_still_classified() {
    let path = fixtures().join("ws_snaplen.pcap");
    let r = analyze(&Input::Path(path.clone()), &Options::default());
    assert_eq!(r.sessions.len(), 5);
    for s in &r.sessions {
        assert!(s.truncated, "{}", s.session_id);
        assert!(s
            .anomalies
            .iter()
            .any(|(n, _)| *n == "handshake_not_captured"));
    }
    // The reading the fixture test relies on, against numbers computed by hand: snaplen
    // 96 = Ethernet 14 + IPv4 20 + TCP with timestamps 32 + 30 bytes of payload. A
    // server Close keeps 30 - 2 (header) - 2 (code) = 26 reason bytes, a client Close
    // 30 - 2 - 4 (mask) - 2 = 22; a request line keeps 30 - 4 ("GET ") = 26 target bytes.
    let wire = read_wire(&path);
    assert_eq!(wire.snaplens, [96]);
    let conns = wire_conns(&wire);
    // 127.0.0.3 is the session with the long reason (ports change when regenerated).
    let ip3: std::net::IpAddr = "127.0.0.3".parse().unwrap();
    let c = conns.iter().find(|c| c.client.ip() == ip3).unwrap();
    assert!(c.cut);
    let reason = b"a rather long reason that will not fit in 96 bytes";
    let server = walk_frames(&c.streams[SERVER]).expect("every server frame header kept");
    let client = walk_frames(&c.streams[CLIENT]).expect("every client frame header kept");
    assert_eq!(
        captured_close(&server),
        Some((Some(4321), reason[..26].to_vec(), false))
    );
    assert_eq!(
        captured_close(&client),
        Some((Some(4321), reason[..22].to_vec(), false))
    );
    assert_eq!(
        captured_target(&c.streams[CLIENT]),
        Some(("/close/4321/a%20rather%20l".to_string(), false))
    );
    assert!(!head_captured(&c.streams[SERVER]));
    // Every message of every cut session is countable from the kept frame headers.
    for c in &conns {
        for st in &c.streams {
            assert!(walk_frames(st).is_ok(), "{} -> {}", c.client, c.server);
        }
    }
    let s = r.sessions.iter().find(|s| s.client == c.client).unwrap();
    assert_eq!(s.path.as_deref(), Some("/close/4321/a%20rather%20l"));
    assert_eq!(
        s.server_close.as_ref().unwrap().reason,
        "a rather long reason that "
    );
    assert_eq!(
        s.client_close.as_ref().unwrap().reason,
        "a rather long reason t"
    );
}

#[test]
fn only_the_snaplen_fixture_has_cut_packets_and_its_header_says_so() {
    // The per-packet view (caplen < len) and the file header's snaplen agree: the cut
    // flag the fixture test expects is a fact of the file, whichever way it is read.
    let mut cut = Vec::new();
    for f in common::fixture_captures() {
        let wire = read_wire(&f);
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let any_cut = wire.segs.iter().any(|s| s.cut);
        let small_snaplen = wire.snaplens.iter().any(|&n| n < 65_535);
        assert_eq!(
            any_cut, small_snaplen,
            "{name}: snaplens {:?}",
            wire.snaplens
        );
        if any_cut {
            cut.push(name);
        }
    }
    assert_eq!(cut, ["ws_snaplen.pcap"]);
}

#[test]
fn sessions_still_running_when_the_capture_stopped_are_open_not_1006() {
    let r = analyze(
        &Input::Path(fixtures().join("ws_cut.pcap")),
        &Options::default(),
    );
    let open: Vec<_> = r
        .sessions
        .iter()
        .filter(|s| s.outcome.close_code.is_none())
        .collect();
    assert_eq!(open.len(), 2);
    for s in open {
        assert_eq!(s.outcome.ending.as_str(), "open");
        assert_eq!(s.tcp_end.as_str(), "none");
        assert_eq!(s.outcome.client_observed_code, None);
    }
}

/// tshark's view of a capture's TCP connections: per `tcp.stream`, (client, server,
/// first packet time, first FIN/RST as (sent by the client, is RST, time), any packet
/// cut). `None` when tshark is not installed.
type TsharkConn = (
    std::net::SocketAddr,
    std::net::SocketAddr,
    i64,
    Option<(bool, bool, i64)>,
    bool,
);

fn tshark_conns(path: &Path) -> Option<Vec<TsharkConn>> {
    use std::collections::BTreeMap;
    use std::net::{IpAddr, SocketAddr};
    let out = std::process::Command::new("tshark")
        .arg("-n")
        .arg("-r")
        .arg(path)
        .args(["-Y", "tcp", "-T", "fields"])
        .args(
            [
                "tcp.stream",
                "frame.time_epoch",
                "ip.src",
                "ipv6.src",
                "tcp.srcport",
                "ip.dst",
                "ipv6.dst",
                "tcp.dstport",
                "tcp.flags.syn",
                "tcp.flags.ack",
                "tcp.flags.fin",
                "tcp.flags.reset",
                "frame.cap_len",
                "frame.len",
            ]
            .iter()
            .flat_map(|f| ["-e", f]),
        )
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let flag = |v: &str| v == "1" || v == "True";
    let mut by_stream: BTreeMap<u64, TsharkConn> = BTreeMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let (secs, frac) = f[1].split_once('.').unwrap();
        let ts = secs.parse::<i64>().unwrap() * 1_000_000_000
            + format!("{frac:0<9}")[..9].parse::<i64>().unwrap();
        let ip =
            |v4: &str, v6: &str| -> IpAddr { if v4.is_empty() { v6 } else { v4 }.parse().unwrap() };
        let src = SocketAddr::new(ip(f[2], f[3]), f[4].parse().unwrap());
        let dst = SocketAddr::new(ip(f[5], f[6]), f[7].parse().unwrap());
        let (syn, ack, fin, rst) = (flag(f[8]), flag(f[9]), flag(f[10]), flag(f[11]));
        let cut = f[12].parse::<u32>().unwrap() < f[13].parse::<u32>().unwrap();
        let c = by_stream.entry(f[0].parse().unwrap()).or_insert_with(|| {
            let (client, server) = if syn && ack { (dst, src) } else { (src, dst) };
            (client, server, ts, None, false)
        });
        c.4 |= cut;
        if (fin || rst) && c.3.is_none() {
            c.3 = Some((src == c.0, rst, ts));
        }
    }
    Some(by_stream.into_values().collect())
}

#[test]
fn the_tests_own_capture_reader_agrees_with_tshark() {
    // The expected cut flags, TCP ends and times above come from common::read_wire;
    // here that reader is held against tshark on every fixture (when tshark is there).
    let mut compared = 0;
    for f in common::fixture_captures() {
        let Some(want) = tshark_conns(&f) else {
            common::skip("tshark not installed: the tests' capture reader was not cross-checked");
            return;
        };
        let got: Vec<TsharkConn> = wire_conns(&read_wire(&f))
            .into_iter()
            .map(|c| (c.client, c.server, c.start_ts, c.first_end, c.cut))
            .collect();
        assert_eq!(got, want, "{}", f.display());
        compared += got.len();
    }
    assert!(compared >= 91, "{compared} connections compared");
}
