//! wsaudit against the truth the WebSocket libraries themselves reported.
//!
//! Every `fixtures/<name>.truth.json` (written by `fixtures/gen/generate.sh` from the
//! peers' own logs, never from wsaudit) is compared with wsaudit's session table for
//! `fixtures/<name>.pcap[ng]`, row by row: the same sessions (no more, no fewer), and
//! per session the ending, close code, initiator, each side's Close frame, the codes each
//! side observed, path, subprotocol, extensions and message counts; the same refused
//! upgrades with the same HTTP status.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

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

/// The truth's `{"code", "reason"}` (or null) next to what wsaudit saw.
fn same_close(
    truth: &Value,
    seen: &Option<CloseFrame>,
    reason_may_be_cut: bool,
) -> Result<(), String> {
    match (truth, seen) {
        (Value::Null, None) => Ok(()),
        (Value::Null, Some(c)) => Err(format!("no Close sent, wsaudit saw {c:?}")),
        (t, None) => Err(format!("Close {t} sent, wsaudit saw none")),
        (t, Some(c)) => {
            let code = t["code"].as_u64().map(|c| c as u16);
            let reason = t["reason"].as_str().unwrap_or("");
            let reason_ok = if reason_may_be_cut {
                reason.starts_with(&c.reason)
            } else {
                reason == c.reason
            };
            if code == c.code && reason_ok {
                Ok(())
            } else {
                Err(format!(
                    "Close {t} sent, wsaudit saw code {:?} reason {:?}",
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

fn check_session(t: &Value, s: &SessionRecord, cut: bool) -> Vec<String> {
    let mut errs = Vec::new();
    let mut eq = |what: &str, want: String, got: String| {
        if want != got {
            errs.push(format!("{what}: truth {want}, wsaudit {got}"));
        }
    };
    let ending = t["expected_ending"].as_str().unwrap();
    eq("ending", ending.into(), s.outcome.ending.as_str().into());
    eq(
        "close_code",
        format!("{:?}", t["expected_close_code"].as_u64().map(|c| c as u16)),
        format!("{:?}", s.outcome.close_code),
    );
    eq(
        "initiator",
        t["initiator"].as_str().unwrap().into(),
        s.outcome.initiator.as_str().into(),
    );
    if let Err(e) = same_close(&t["client_sent_close"], &s.client_close, cut) {
        errs.push(format!("client close: {e}"));
    }
    if let Err(e) = same_close(&t["server_sent_close"], &s.server_close, cut) {
        errs.push(format!("server close: {e}"));
    }
    let tcp_ended = ending != "open";
    let mut eq = |what: &str, want: String, got: String| {
        if want != got {
            errs.push(format!("{what}: truth {want}, wsaudit {got}"));
        }
    };
    eq(
        "client_observed_code",
        format!("{:?}", observed(&t["server_sent_close"], tcp_ended)),
        format!("{:?}", s.outcome.client_observed_code),
    );
    eq(
        "server_observed_code",
        format!("{:?}", observed(&t["client_sent_close"], tcp_ended)),
        format!("{:?}", s.outcome.server_observed_code),
    );
    let path = s.path.clone().unwrap_or_default();
    let tpath = t["path"].as_str().unwrap_or("");
    if cut {
        if !tpath.starts_with(&path) {
            errs.push(format!("path: truth {tpath}, wsaudit {path}"));
        }
    } else {
        eq("path", tpath.into(), path);
        eq(
            "subprotocol",
            format!("{:?}", t["subprotocol"].as_str()),
            format!("{:?}", s.subprotocol.as_deref()),
        );
        eq(
            "extensions",
            format!("{:?}", t["extensions"].as_str()),
            format!("{:?}", s.extensions.as_deref()),
        );
        for (key, side) in [("messages_client", CLIENT), ("messages_server", SERVER)] {
            if let Some(n) = t[key].as_u64() {
                eq(key, n.to_string(), s.messages[side].to_string());
            }
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
        // Snaplen-cut captures cannot show whole reasons, paths or headers.
        let cut = r.sessions.iter().any(|s| s.truncated);

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
            for e in check_session(t, s, cut) {
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
    let r = analyze(
        &Input::Path(fixtures().join("ws_snaplen.pcap")),
        &Options::default(),
    );
    assert!(!r.sessions.is_empty());
    for s in &r.sessions {
        assert!(s.truncated, "{}", s.session_id);
        assert!(s
            .anomalies
            .iter()
            .any(|(n, _)| *n == "handshake_not_captured"));
    }
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
