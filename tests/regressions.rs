//! Fuzz regressions: every input a fuzz target crashed on, replayed through exactly the
//! code that target runs.
//!
//! Inputs live in `tests/regressions/<target>-<n>.bin` (see the README there). The fuzz
//! targets' checks are in `fuzz/src/lib.rs`, included here as a module, so a regression
//! fails the same way the fuzz target did: a panic in wsaudit or a broken promise.

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod harness;

use std::path::{Path, PathBuf};

/// What a fuzz target runs on one input.
type Target = fn(&[u8]);

/// Each fuzz target and the function it runs.
const TARGETS: &[(&str, Target)] = &[
    ("frame_header", harness::frame_header),
    ("close_payload", harness::close_payload),
    ("ws_decoder", harness::ws_decoder),
    ("http_upgrade", harness::http_upgrade),
    ("capture", harness::capture),
    ("pcapng", harness::capture),
    ("reassembler", harness::reassembler),
    ("conn_table", harness::conn_table),
    ("pipeline", harness::pipeline),
    ("logs_text", harness::logs_text),
    ("logs_json", harness::logs_json),
    ("logs_access", harness::logs_access),
    ("logs_file", harness::logs_file),
    ("h2", harness::h2),
    ("tls", harness::tls),
    ("keylog", harness::keylog),
];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions")
}

/// Saved inputs of one target, sorted.
fn inputs(target: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir())
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        name.ends_with(".bin")
            && name
                .strip_prefix(target)
                .and_then(|r| r.strip_prefix('-'))
                .is_some_and(|n| n.trim_end_matches(".bin").parse::<u32>().is_ok())
    });
    v.sort();
    v
}

/// Replay every saved input of `target`; panics listing the ones that still fail. A
/// target without a saved input is a failure: the test would prove nothing.
fn replay(target: &str) {
    let (_, run) = TARGETS
        .iter()
        .find(|(t, _)| *t == target)
        .expect("known target");
    let saved = inputs(target);
    assert!(
        !saved.is_empty(),
        "no tests/regressions/{target}-<n>.bin: every target keeps at least one input"
    );
    let mut failed = Vec::new();
    for path in saved {
        let bytes = std::fs::read(&path).unwrap();
        if std::panic::catch_unwind(|| run(&bytes)).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(failed.is_empty(), "still failing:\n{}", failed.join("\n"));
}

#[test]
fn every_saved_input_belongs_to_a_target() {
    for e in std::fs::read_dir(dir()).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if name == "README.md" {
            continue;
        }
        assert!(
            TARGETS.iter().any(|(t, _)| inputs(t)
                .iter()
                .any(|p| p.file_name().is_some_and(|n| n.to_string_lossy() == name))),
            "{name}: not <target>-<n>.bin for a known target"
        );
    }
}

/// The seed corpora still run clean: a change that breaks a seed breaks fuzzing's
/// starting point (and usually the parser). Every target has a seed folder with seeds in
/// it: a missing or empty one fails (`scripts/fuzz.sh seeds` writes them).
#[test]
fn seed_corpora_pass_every_check() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    for (target, run) in TARGETS {
        let dir = seeds.join(target);
        let entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{target}: no seed folder {}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        assert!(
            !entries.is_empty(),
            "{target}: the seed folder {} is empty",
            dir.display()
        );
        for path in entries {
            let bytes = std::fs::read(&path).unwrap();
            if std::panic::catch_unwind(|| run(&bytes)).is_err() {
                panic!("{target}: seed {} fails", path.display());
            }
        }
    }
}

#[test]
fn frame_header_regressions() {
    replay("frame_header");
}

#[test]
fn close_payload_regressions() {
    replay("close_payload");
}

#[test]
fn ws_decoder_regressions() {
    replay("ws_decoder");
}

#[test]
fn http_upgrade_regressions() {
    replay("http_upgrade");
}

#[test]
fn capture_regressions() {
    replay("capture");
}

#[test]
fn pcapng_regressions() {
    replay("pcapng");
}

#[test]
fn reassembler_regressions() {
    replay("reassembler");
}

#[test]
fn conn_table_regressions() {
    replay("conn_table");
}

#[test]
fn pipeline_regressions() {
    replay("pipeline");
}

#[test]
fn logs_text_regressions() {
    replay("logs_text");
}

#[test]
fn logs_json_regressions() {
    replay("logs_json");
}

#[test]
fn logs_access_regressions() {
    replay("logs_access");
}

#[test]
fn logs_file_regressions() {
    replay("logs_file");
}

/// Every target in [`TARGETS`] has its own test above: a target added without one (or
/// without inputs) does not pass unnoticed.
#[test]
fn every_target_has_a_regression_test() {
    let src = std::fs::read_to_string(dir().with_extension("rs")).unwrap();
    for (t, _) in TARGETS {
        assert!(
            src.contains(&format!("fn {t}_regressions()")),
            "no {t}_regressions test"
        );
    }
}

#[test]
fn h2_regressions() {
    replay("h2");
}

#[test]
fn tls_regressions() {
    replay("tls");
}

#[test]
fn keylog_regressions() {
    replay("keylog");
}
