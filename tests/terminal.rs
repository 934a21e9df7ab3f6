//! The terminal report on a real mix (issue 18): it fits the terminal (`COLUMNS`), folds
//! the private-use codes into one row with their top codes inline, shows time groups in
//! time order, groups paths without query strings and identifiers, puts the sessions
//! without a value last, compresses quiet stretches of the timeline, and never splits a
//! number from its unit. Snapshots at 80 and 120 columns, plus the properties each
//! snapshot must have, checked on their own.
//!
//! Input: `tests/cases/terminal/app-closes.jsonl` (made by hand: see its README) and
//! `fixtures/demo.pcap` (a real capture).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn case(name: &str) -> String {
    format!("tests/cases/terminal/{name}")
}

fn run(columns: Option<usize>, args: &[&str]) -> String {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wsaudit"));
    c.args(args).current_dir(root()).env_remove("COLUMNS");
    if let Some(w) = columns {
        c.env("COLUMNS", w.to_string());
    }
    let out: Output = c.output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn snapshot(path: &Path, got: &str) {
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "snapshot {} cannot be read ({e}); UPDATE_SNAPSHOTS=1 writes it",
            path.display()
        )
    });
    assert!(
        got == want,
        "snapshot {} differs (UPDATE_SNAPSHOTS=1 to accept):\n{got}",
        path.display()
    );
}

/// The close codes of the log, counted from the file itself.
fn log_codes() -> BTreeMap<u16, usize> {
    let text = std::fs::read_to_string(root().join(case("app-closes.jsonl"))).unwrap();
    let mut m = BTreeMap::new();
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        *m.entry(v["code"].as_u64().unwrap() as u16).or_default() += 1;
    }
    m
}

const MIX: &[&str] = &[
    "analyze",
    "tests/cases/terminal/app-closes.jsonl",
    "fixtures/demo.pcap",
    "--by",
    "path,minute",
    "--timeline",
];

#[test]
fn the_report_fits_80_and_120_columns() {
    for width in [80, 120] {
        let text = run(Some(width), MIX);
        snapshot(&root().join(case(&format!("expected-{width}.txt"))), &text);
        for l in text.lines() {
            assert!(
                l.chars().count() <= width,
                "{width} columns: {} wide: {l}",
                l.chars().count()
            );
        }
    }
    // And every width a terminal may have.
    for width in [60, 72, 100, 132, 200] {
        let text = run(Some(width), MIX);
        let widest = text.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(widest <= width, "{width}: a line of {widest}");
    }
}

/// Private-use codes are one row (`4000-4999 private use`) with the sum of their
/// sessions and their top codes inline; `--all-codes` lists each.
#[test]
fn private_use_codes_fold_into_one_row_unless_all_codes() {
    let codes = log_codes();
    let private: Vec<(&u16, &usize)> = codes.iter().filter(|(c, _)| **c >= 4000).collect();
    // demo.pcap adds one 4403.
    let sessions = private.iter().map(|(_, n)| **n).sum::<usize>() + 1;
    let text = run(None, MIX);
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("4000-4999 private use"))
        .collect();
    assert_eq!(rows.len(), 1, "{text}");
    let t: Vec<&str> = rows[0].split_whitespace().collect();
    assert_eq!(t[3], sessions.to_string(), "{}", rows[0]);
    let inline = text
        .lines()
        .skip_while(|l| !l.starts_with("4000-4999"))
        .nth(1)
        .unwrap();
    assert!(
        inline.contains(&format!("{} codes:", private.len() + 1)),
        "{inline}"
    );
    // The most common private codes come first: each appears three times in the log.
    let top = private.iter().map(|(_, n)| **n).max().unwrap();
    let first: u16 = *private.iter().find(|(_, n)| **n == top).unwrap().0;
    assert!(inline.contains(&format!("{first} x{top}")), "{inline}");
    assert!(
        !text.lines().any(|l| l.starts_with("4001 ")),
        "no private code has a row of its own"
    );

    let mut all = MIX.to_vec();
    all.push("--all-codes");
    let text = run(None, &all);
    for (c, n) in &private {
        let row = text
            .lines()
            .find(|l| l.starts_with(&format!("{c} Private use")))
            .unwrap_or_else(|| panic!("--all-codes: no {c} row:\n{text}"));
        assert_eq!(row.split_whitespace().nth(3), Some(n.to_string().as_str()));
    }
    // Logs cannot say who sent the first Close: unknown, not 0.
    let row = text.lines().find(|l| l.starts_with("4010 ")).unwrap();
    let t: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&t[5..8], ["-", "-", "-"], "{row}");
}

/// `--top N` applies to the code table and the reconnect table too.
#[test]
fn top_applies_to_codes_and_reconnects() {
    let mut a = MIX.to_vec();
    a.extend(["--top", "3"]);
    let text = run(None, &a);
    let section = |head: &str| -> Vec<String> {
        text.lines()
            .skip_while(|l| !l.starts_with(head))
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .filter(|l| !l.starts_with(' '))
            .map(str::to_string)
            .collect()
    };
    let codes = section("Close code                   Sessions");
    assert_eq!(codes.len(), 4, "3 codes and the rest: {codes:#?}");
    assert!(codes[3].contains("more codes"), "{codes:#?}");
    let rec = section("Close code                          Ended");
    assert!(rec.len() <= 4, "{rec:#?}");
}

/// `--by minute` in time order; `--by path` without query strings or ids, the log rows
/// (no path) last and named; `--path-raw` keeps paths as they are.
#[test]
fn time_groups_in_time_order_and_paths_grouped() {
    let text = run(None, MIX);
    let minutes: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("By minute"))
        .skip(1)
        .take_while(|l| l.starts_with("20"))
        .map(|l| &l[..16])
        .collect();
    assert!(minutes.len() >= 5, "{text}");
    let mut sorted = minutes.clone();
    sorted.sort();
    assert_eq!(minutes, sorted, "time order");

    let paths: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("By path"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .collect();
    assert!(paths.iter().all(|l| !l.contains('?')), "{paths:#?}");
    assert!(
        paths.last().unwrap().starts_with("(no path: log rows)"),
        "{paths:#?}"
    );
    let json_paths = run(
        None,
        &[
            "analyze",
            "fixtures/demo.pcap",
            "--by",
            "path",
            "--path-raw",
            "--format",
            "json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&json_paths).unwrap();
    let groups: Vec<&str> = v["breakdowns"][0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["group"].as_str().unwrap())
        .collect();
    assert!(
        groups.iter().any(|g| g.starts_with("/close/4")),
        "--path-raw keeps the numbers: {groups:?}"
    );
    let grouped = run(
        None,
        &[
            "analyze",
            "fixtures/demo.pcap",
            "--by",
            "path",
            "--format",
            "json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&grouped).unwrap();
    let groups: Vec<&str> = v["breakdowns"][0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["group"].as_str().unwrap())
        .collect();
    assert!(
        groups.iter().any(|g| g.starts_with("/close/{id}/")),
        "{groups:?}"
    );
}

/// The timeline says a quiet stretch in one line, and a bucket has one label.
#[test]
fn timeline_compresses_quiet_stretches() {
    let text = run(None, MIX);
    let timeline: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Timeline:"))
        .collect();
    assert!(
        timeline.iter().any(|l| l.contains("quiet hours ...")),
        "{timeline:#?}"
    );
    assert!(timeline.len() < 10, "{timeline:#?}");
    for l in &timeline {
        assert!(!l.contains("deploy, incident"), "{l}");
    }
}

/// Wrapped prose never ends a line with a number whose unit starts the next line.
#[test]
fn numbers_stay_with_their_units() {
    let units = ["ms", "s", "m", "h", "d", "%", "KiB", "MiB", "sessions"];
    for width in [60, 64, 70, 80] {
        let text = run(Some(width), MIX);
        let lines: Vec<&str> = text.lines().collect();
        for w in lines.windows(2) {
            let ends_num = w[0].trim_end().ends_with(|c: char| c.is_ascii_digit());
            let first = w[1].split_whitespace().next().unwrap_or("");
            let first = first.trim_end_matches([',', '.', ')', ';']);
            assert!(
                !(ends_num && units.contains(&first) && w[1].starts_with("  ")),
                "{width}: split from its unit:\n{}\n{}",
                w[0],
                w[1]
            );
        }
    }
}
