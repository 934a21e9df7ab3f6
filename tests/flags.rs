//! Every option of every subcommand, run through the binary, with expected values from
//! outside wsaudit: the fixtures' `*.truth.json` (what the WebSocket libraries reported),
//! the raw bytes of the captures read by the small pcap reader below (not wsaudit's), or
//! small inputs whose answer is worked out by hand in the test (`tests/cases/flags/`).
//!
//! [`FLAGS`] lists every flag `--help` shows (and every value of a flag that takes one of
//! a fixed list) with the test that runs it; [`help_lists_no_flag_the_table_lacks`] fails
//! when `--help` shows a flag the table does not name, when the table names one `--help`
//! no longer shows, or when the test it names does not exist.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Map, Value};

mod common;
use common::TempDir;

/// (subcommand, flag or `flag value`, the test that runs it as `file::test`).
/// `""` is the top level; `-` is standard input, which the arguments' help names.
const FLAGS: &[(&str, &str, &str)] = &[
    ("", "--help", "flags::help_lists_no_flag_the_table_lacks"),
    ("", "-h", "flags::help_lists_no_flag_the_table_lacks"),
    ("", "--version", "flags::version_is_the_crate_version"),
    ("", "-V", "flags::version_is_the_crate_version"),
    // analyze
    (
        "analyze",
        "--help",
        "flags::help_lists_no_flag_the_table_lacks",
    ),
    ("analyze", "-h", "flags::help_lists_no_flag_the_table_lacks"),
    ("analyze", "-", "flags::stdin_dash_reads_one_capture"),
    (
        "analyze",
        "--log-format",
        "flags::log_format_forces_one_reader_for_every_format",
    ),
    (
        "analyze",
        "--log-format json",
        "flags::log_format_forces_one_reader_for_every_format",
    ),
    (
        "analyze",
        "--log-format aws_apigw",
        "flags::log_format_forces_one_reader_for_every_format",
    ),
    (
        "analyze",
        "--log-format traefik",
        "flags::log_format_forces_one_reader_for_every_format",
    ),
    (
        "analyze",
        "--log-format gorilla",
        "flags::log_format_forces_one_reader_for_every_format",
    ),
    (
        "analyze",
        "--log-format coder_websocket",
        "flags::log_format_forces_one_reader_for_every_format",
    ),
    (
        "analyze",
        "--log-format python_websockets",
        "flags::log_format_forces_one_reader_for_every_format",
    ),
    (
        "analyze",
        "--log-format spring",
        "flags::log_format_forces_one_reader_for_every_format",
    ),
    (
        "analyze",
        "--log-format jakarta",
        "flags::log_format_forces_one_reader_for_every_format",
    ),
    (
        "analyze",
        "--log-format jetty",
        "flags::log_format_forces_one_reader_for_every_format",
    ),
    (
        "analyze",
        "--log-format tungstenite",
        "flags::log_format_forces_one_reader_for_every_format",
    ),
    (
        "analyze",
        "--log-format mitmproxy",
        "flags::log_format_forces_one_reader_for_every_format",
    ),
    (
        "analyze",
        "--log-format browser",
        "flags::log_format_forces_one_reader_for_every_format",
    ),
    (
        "analyze",
        "--log-format nginx",
        "flags::log_format_forces_one_reader_for_every_format",
    ),
    (
        "analyze",
        "--log-format aws_alb",
        "flags::log_format_forces_one_reader_for_every_format",
    ),
    (
        "analyze",
        "--map",
        "flags::map_reads_json_logs_with_other_field_names",
    ),
    (
        "analyze",
        "--sessions",
        "flags::sessions_refused_and_closes_exports_match_the_truth",
    ),
    (
        "analyze",
        "--partition-by",
        "flags::partition_by_date_and_hour_and_report_over_the_dataset",
    ),
    (
        "analyze",
        "--partition-by date",
        "flags::partition_by_date_and_hour_and_report_over_the_dataset",
    ),
    (
        "analyze",
        "--partition-by hour",
        "flags::partition_by_date_and_hour_and_report_over_the_dataset",
    ),
    (
        "analyze",
        "--refused",
        "flags::sessions_refused_and_closes_exports_match_the_truth",
    ),
    (
        "analyze",
        "--closes",
        "flags::sessions_refused_and_closes_exports_match_the_truth",
    ),
    ("analyze", "--by", "flags::by_every_key_matches_the_truth"),
    (
        "analyze",
        "--by server",
        "flags::by_every_key_matches_the_truth",
    ),
    (
        "analyze",
        "--by host",
        "flags::by_every_key_matches_the_truth",
    ),
    (
        "analyze",
        "--by path",
        "flags::by_every_key_matches_the_truth",
    ),
    (
        "analyze",
        "--by subprotocol",
        "flags::by_every_key_matches_the_truth",
    ),
    (
        "analyze",
        "--by client",
        "flags::by_every_key_matches_the_truth",
    ),
    (
        "analyze",
        "--by user-agent",
        "flags::by_every_key_matches_the_truth",
    ),
    (
        "analyze",
        "--by capture",
        "flags::by_every_key_matches_the_truth",
    ),
    (
        "analyze",
        "--by minute",
        "flags::by_every_key_matches_the_truth",
    ),
    (
        "analyze",
        "--by hour",
        "flags::by_every_key_matches_the_truth",
    ),
    (
        "analyze",
        "--top",
        "flags::top_keeps_the_largest_groups_and_folds_the_rest",
    ),
    (
        "analyze",
        "--summary",
        "flags::summary_export_counts_codes_and_initiators_as_the_truth",
    ),
    (
        "analyze",
        "--reconnects",
        "flags::window_decides_which_reconnects_count",
    ),
    (
        "analyze",
        "--window",
        "flags::window_decides_which_reconnects_count",
    ),
    (
        "analyze",
        "--timeline",
        "flags::timeline_is_printed_only_when_asked",
    ),
    (
        "analyze",
        "--csv-raw",
        "flags::csv_raw_keeps_formula_cells_as_they_are",
    ),
    (
        "analyze",
        "--format",
        "flags::format_text_and_json_say_the_same",
    ),
    (
        "analyze",
        "--format text",
        "flags::format_text_and_json_say_the_same",
    ),
    (
        "analyze",
        "--format json",
        "flags::format_text_and_json_say_the_same",
    ),
    (
        "analyze",
        "-q",
        "flags::quiet_prints_nothing_and_still_writes",
    ),
    (
        "analyze",
        "--quiet",
        "flags::quiet_prints_nothing_and_still_writes",
    ),
    (
        "analyze",
        "--max-connections",
        "flags::max_connections_evicts_counts_and_flags",
    ),
    (
        "analyze",
        "--max-buffered",
        "flags::max_buffered_declares_a_gap_past_the_held_bytes",
    ),
    (
        "analyze",
        "--threads",
        "flags::threads_sets_the_pool_size_and_changes_no_result",
    ),
    (
        "analyze",
        "--spill-after",
        "flags::spill_after_writes_one_run_per_n_finished_sessions",
    ),
    (
        "analyze",
        "--spill-dir",
        "flags::spill_after_writes_one_run_per_n_finished_sessions",
    ),
    // report
    (
        "report",
        "--help",
        "flags::help_lists_no_flag_the_table_lacks",
    ),
    ("report", "-h", "flags::help_lists_no_flag_the_table_lacks"),
    (
        "report",
        "--sessions",
        "flags::sessions_refused_and_closes_exports_match_the_truth",
    ),
    ("report", "--by", "flags::by_every_key_matches_the_truth"),
    (
        "report",
        "--by server",
        "flags::by_every_key_matches_the_truth",
    ),
    (
        "report",
        "--by host",
        "flags::by_every_key_matches_the_truth",
    ),
    (
        "report",
        "--by path",
        "flags::by_every_key_matches_the_truth",
    ),
    (
        "report",
        "--by subprotocol",
        "flags::by_every_key_matches_the_truth",
    ),
    (
        "report",
        "--by client",
        "flags::by_every_key_matches_the_truth",
    ),
    (
        "report",
        "--by user-agent",
        "flags::by_every_key_matches_the_truth",
    ),
    (
        "report",
        "--by capture",
        "flags::by_every_key_matches_the_truth",
    ),
    (
        "report",
        "--by minute",
        "flags::by_every_key_matches_the_truth",
    ),
    (
        "report",
        "--by hour",
        "flags::by_every_key_matches_the_truth",
    ),
    (
        "report",
        "--top",
        "flags::top_keeps_the_largest_groups_and_folds_the_rest",
    ),
    (
        "report",
        "--summary",
        "flags::summary_export_counts_codes_and_initiators_as_the_truth",
    ),
    (
        "report",
        "--reconnects",
        "flags::window_decides_which_reconnects_count",
    ),
    (
        "report",
        "--window",
        "flags::window_decides_which_reconnects_count",
    ),
    (
        "report",
        "--timeline",
        "flags::timeline_is_printed_only_when_asked",
    ),
    (
        "report",
        "--csv-raw",
        "flags::csv_raw_keeps_formula_cells_as_they_are",
    ),
    (
        "report",
        "--format",
        "flags::format_text_and_json_say_the_same",
    ),
    (
        "report",
        "--format text",
        "flags::format_text_and_json_say_the_same",
    ),
    (
        "report",
        "--format json",
        "flags::format_text_and_json_say_the_same",
    ),
    (
        "report",
        "-q",
        "flags::quiet_prints_nothing_and_still_writes",
    ),
    (
        "report",
        "--quiet",
        "flags::quiet_prints_nothing_and_still_writes",
    ),
    // audit
    (
        "audit",
        "--help",
        "flags::help_lists_no_flag_the_table_lacks",
    ),
    ("audit", "-h", "flags::help_lists_no_flag_the_table_lacks"),
    ("audit", "-", "flags::stdin_dash_reads_one_capture"),
    (
        "audit",
        "--log-format",
        "flags::log_format_forces_one_reader_for_every_format",
    ),
    (
        "audit",
        "--log-format json",
        "flags::log_format_forces_one_reader_for_every_format",
    ),
    (
        "audit",
        "--log-format aws_apigw",
        "flags::log_format_forces_one_reader_for_every_format",
    ),
    (
        "audit",
        "--log-format traefik",
        "flags::log_format_forces_one_reader_for_every_format",
    ),
    (
        "audit",
        "--log-format gorilla",
        "flags::log_format_forces_one_reader_for_every_format",
    ),
    (
        "audit",
        "--log-format coder_websocket",
        "flags::log_format_forces_one_reader_for_every_format",
    ),
    (
        "audit",
        "--log-format python_websockets",
        "flags::log_format_forces_one_reader_for_every_format",
    ),
    (
        "audit",
        "--log-format spring",
        "flags::log_format_forces_one_reader_for_every_format",
    ),
    (
        "audit",
        "--log-format jakarta",
        "flags::log_format_forces_one_reader_for_every_format",
    ),
    (
        "audit",
        "--log-format jetty",
        "flags::log_format_forces_one_reader_for_every_format",
    ),
    (
        "audit",
        "--log-format tungstenite",
        "flags::log_format_forces_one_reader_for_every_format",
    ),
    (
        "audit",
        "--log-format mitmproxy",
        "flags::log_format_forces_one_reader_for_every_format",
    ),
    (
        "audit",
        "--log-format browser",
        "flags::log_format_forces_one_reader_for_every_format",
    ),
    (
        "audit",
        "--log-format nginx",
        "flags::log_format_forces_one_reader_for_every_format",
    ),
    (
        "audit",
        "--log-format aws_alb",
        "flags::log_format_forces_one_reader_for_every_format",
    ),
    (
        "audit",
        "--map",
        "flags::map_reads_json_logs_with_other_field_names",
    ),
    (
        "audit",
        "--baseline",
        "flags::baseline_is_a_table_file_or_a_folder_of_tables",
    ),
    (
        "audit",
        "--max-rate",
        "audit::a_breached_threshold_exits_1_and_says_which",
    ),
    (
        "audit",
        "--html",
        "audit::html_loads_nothing_and_escapes_a_hostile_close_reason",
    ),
    (
        "audit",
        "--markdown",
        "audit::markdown_summary_has_verdict_changes_and_tables",
    ),
    (
        "audit",
        "--sessions",
        "flags::sessions_refused_and_closes_exports_match_the_truth",
    ),
    ("audit", "--by", "flags::by_every_key_matches_the_truth"),
    (
        "audit",
        "--by server",
        "flags::by_every_key_matches_the_truth",
    ),
    (
        "audit",
        "--by host",
        "flags::by_every_key_matches_the_truth",
    ),
    (
        "audit",
        "--by path",
        "flags::by_every_key_matches_the_truth",
    ),
    (
        "audit",
        "--by subprotocol",
        "flags::by_every_key_matches_the_truth",
    ),
    (
        "audit",
        "--by client",
        "flags::by_every_key_matches_the_truth",
    ),
    (
        "audit",
        "--by user-agent",
        "flags::by_every_key_matches_the_truth",
    ),
    (
        "audit",
        "--by capture",
        "flags::by_every_key_matches_the_truth",
    ),
    (
        "audit",
        "--by minute",
        "flags::by_every_key_matches_the_truth",
    ),
    (
        "audit",
        "--by hour",
        "flags::by_every_key_matches_the_truth",
    ),
    (
        "audit",
        "--top",
        "flags::top_keeps_the_largest_groups_and_folds_the_rest",
    ),
    (
        "audit",
        "--summary",
        "flags::summary_export_counts_codes_and_initiators_as_the_truth",
    ),
    (
        "audit",
        "--reconnects",
        "flags::window_decides_which_reconnects_count",
    ),
    (
        "audit",
        "--window",
        "flags::window_decides_which_reconnects_count",
    ),
    (
        "audit",
        "--timeline",
        "flags::timeline_is_printed_only_when_asked",
    ),
    (
        "audit",
        "--csv-raw",
        "flags::csv_raw_keeps_formula_cells_as_they_are",
    ),
    (
        "audit",
        "--format",
        "flags::format_text_and_json_say_the_same",
    ),
    (
        "audit",
        "--format text",
        "flags::format_text_and_json_say_the_same",
    ),
    (
        "audit",
        "--format json",
        "flags::format_text_and_json_say_the_same",
    ),
    (
        "audit",
        "-q",
        "flags::quiet_prints_nothing_and_still_writes",
    ),
    (
        "audit",
        "--quiet",
        "flags::quiet_prints_nothing_and_still_writes",
    ),
    // the close-code reference
    (
        "codes",
        "--help",
        "flags::help_lists_no_flag_the_table_lacks",
    ),
    ("codes", "-h", "flags::help_lists_no_flag_the_table_lacks"),
    (
        "explain",
        "--help",
        "flags::help_lists_no_flag_the_table_lacks",
    ),
    ("explain", "-h", "flags::help_lists_no_flag_the_table_lacks"),
    (
        "compare",
        "--help",
        "flags::help_lists_no_flag_the_table_lacks",
    ),
    ("compare", "-h", "flags::help_lists_no_flag_the_table_lacks"),
];

// ---------------------------------------------------------------------------------------
// Running the binary

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Arguments as strings (paths included).
macro_rules! args {
    ($($x:expr),* $(,)?) => { vec![$(String::from(AsRef::<str>::as_ref(&$x))),*] };
}

/// `wsaudit ARGS`, run from the repository (so `fixtures/...` works and names captures).
fn run(args: &[String]) -> Output {
    Command::new(common::bin())
        .args(args)
        .current_dir(root())
        .output()
        .expect("run wsaudit")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Run and require exit code 0.
fn ok(args: &[String]) -> Output {
    let o = run(args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "wsaudit {}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        out(&o),
        err(&o)
    );
    o
}

/// Run with `--format json` and parse what it printed.
fn json(args: &[String]) -> Value {
    let mut a = args.to_vec();
    a.extend(args!["--format", "json"]);
    let o = ok(&a);
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("wsaudit {}: not JSON ({e}):\n{}", a.join(" "), out(&o)))
}

/// The report inside what `--format json` printed (`audit` wraps it with its verdict).
fn report_of(v: &Value) -> &Value {
    if v.get("verdict").is_some() {
        &v["report"]
    } else {
        v
    }
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

/// The rows of a `.json` export (an array of objects).
fn rows(path: &Path) -> Vec<Map<String, Value>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: Value = serde_json::from_str(&text).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_object().unwrap().clone())
        .collect()
}

fn s<'a>(r: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    r.get(k).unwrap_or_else(|| panic!("no column {k}")).as_str()
}

fn n(r: &Map<String, Value>, k: &str) -> Option<f64> {
    r.get(k).unwrap_or_else(|| panic!("no column {k}")).as_f64()
}

/// Export `fixtures/<name>` as a Parquet session table (the input of `report`).
fn table_of(dir: &TempDir, names: &[&str], file: &str) -> String {
    let out = dir.path().join(file);
    let mut a = args!["analyze", "-q", "--sessions", p(&out)];
    a.extend(names.iter().map(|n| format!("fixtures/{n}")));
    ok(&a);
    p(&out)
}

// ---------------------------------------------------------------------------------------
// The truth files

/// One session as the libraries reported it.
#[derive(Debug, Clone)]
struct Truth {
    capture: String,
    client: String,
    ip: String,
    port: u16,
    server: String,
    path: String,
    subprotocol: Option<String>,
    code: Option<u16>,
    ending: String,
    initiator: String,
    client_lib: String,
    client_close: Option<(Option<u16>, String)>,
    server_close: Option<(Option<u16>, String)>,
    reconnect_delay_ms: Option<f64>,
    connection_no: Option<u64>,
}

fn truth_json(capture: &str) -> Value {
    let stem = capture.rsplit_once('.').unwrap().0;
    let text = std::fs::read_to_string(common::fixture(&format!("{stem}.truth.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn close_of(v: &Value) -> Option<(Option<u16>, String)> {
    if v.is_null() {
        return None;
    }
    Some((
        v["code"].as_u64().map(|c| c as u16),
        v["reason"].as_str().unwrap_or("").to_string(),
    ))
}

/// The sessions of `fixtures/<capture>` as its truth file lists them.
fn truth(capture: &str) -> Vec<Truth> {
    let t = truth_json(capture);
    let lib = t["libraries"]["client"].as_str().unwrap().to_string();
    t["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            let client = x["client"].as_str().unwrap().to_string();
            let (ip, port) = client.rsplit_once(':').unwrap();
            Truth {
                capture: format!("fixtures/{capture}"),
                ip: ip.trim_matches(['[', ']']).to_string(),
                port: port.parse().unwrap(),
                client: client.clone(),
                server: x["server"].as_str().unwrap().to_string(),
                path: x["path"].as_str().unwrap().to_string(),
                subprotocol: x["subprotocol"].as_str().map(str::to_string),
                code: x["expected_close_code"].as_u64().map(|c| c as u16),
                ending: x["expected_ending"].as_str().unwrap().to_string(),
                initiator: x["initiator"].as_str().unwrap().to_string(),
                client_lib: x["libraries"]["client"]
                    .as_str()
                    .map_or(lib.clone(), str::to_string),
                client_close: close_of(&x["client_sent_close"]),
                server_close: close_of(&x["server_sent_close"]),
                reconnect_delay_ms: x["reconnect_delay_ms"].as_f64(),
                connection_no: x["connection_no"].as_u64(),
            }
        })
        .collect()
}

/// Sessions per close code (`None`: still open), from the truth.
fn code_counts(ts: &[Truth]) -> BTreeMap<Option<u16>, usize> {
    let mut m = BTreeMap::new();
    for t in ts {
        *m.entry(t.code).or_insert(0) += 1;
    }
    m
}

// ---------------------------------------------------------------------------------------
// A pcap reader of its own (classic pcap; Ethernet and Linux SLL; IPv4 TCP), so that
// times and TCP sequence numbers come from the capture's bytes, not from wsaudit.

#[derive(Debug, Clone)]
struct Seg {
    ts_ns: i64,
    src: ([u8; 4], u16),
    dst: ([u8; 4], u16),
    seq: u32,
    flags: u8,
    payload: usize,
}

const SYN: u8 = 0x02;

/// Every record's time, and its TCP segment when it holds one.
fn read_pcap(path: &Path) -> (Vec<i64>, Vec<Seg>) {
    let b = std::fs::read(path).unwrap();
    let (le, nanos) = match b[..4] {
        [0xd4, 0xc3, 0xb2, 0xa1] => (true, false),
        [0x4d, 0x3c, 0xb2, 0xa1] => (true, true),
        [0xa1, 0xb2, 0xc3, 0xd4] => (false, false),
        [0xa1, 0xb2, 0x3c, 0x4d] => (false, true),
        _ => panic!("{}: not a classic pcap", path.display()),
    };
    let u32_at = |o: usize| {
        let x = [b[o], b[o + 1], b[o + 2], b[o + 3]];
        if le {
            u32::from_le_bytes(x)
        } else {
            u32::from_be_bytes(x)
        }
    };
    let linktype = u32_at(20);
    let (mut times, mut segs) = (Vec::new(), Vec::new());
    let mut off = 24;
    while off + 16 <= b.len() {
        let (secs, frac, caplen) = (u32_at(off), u32_at(off + 4), u32_at(off + 8) as usize);
        let ts_ns = secs as i64 * 1_000_000_000 + frac as i64 * if nanos { 1 } else { 1000 };
        let d = &b[off + 16..off + 16 + caplen];
        off += 16 + caplen;
        times.push(ts_ns);
        let ip = match linktype {
            1 if d.len() > 14 && d[12..14] == [8, 0] => &d[14..],
            113 if d.len() > 16 && d[14..16] == [8, 0] => &d[16..],
            _ => continue,
        };
        if ip.len() < 20 || ip[0] >> 4 != 4 || ip[9] != 6 {
            continue;
        }
        let ihl = (ip[0] & 15) as usize * 4;
        let total = u16::from_be_bytes([ip[2], ip[3]]) as usize;
        let t = &ip[ihl..];
        let be16 = |o: usize| u16::from_be_bytes([t[o], t[o + 1]]);
        let be32 = |o: usize| u32::from_be_bytes([t[o], t[o + 1], t[o + 2], t[o + 3]]);
        let doff = (t[12] >> 4) as usize * 4;
        segs.push(Seg {
            ts_ns,
            src: ([ip[12], ip[13], ip[14], ip[15]], be16(0)),
            dst: ([ip[16], ip[17], ip[18], ip[19]], be16(2)),
            seq: be32(4),
            flags: t[13],
            payload: total - ihl - doff,
        });
    }
    (times, segs)
}

/// `YYYY-MM-DD HH:MM` (UTC) of a time in ns since the epoch (days to a civil date:
/// Howard Hinnant's algorithm).
fn utc_minute(ts_ns: i64) -> String {
    let secs = ts_ns.div_euclid(1_000_000_000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60
    )
}

/// The one minute every packet of `fixtures/<capture>` falls in (so every session of it
/// ended in that minute).
fn only_minute(capture: &str) -> String {
    let (times, _) = read_pcap(&common::fixture(capture));
    let (first, last) = (*times.iter().min().unwrap(), *times.iter().max().unwrap());
    let m = utc_minute(first);
    assert_eq!(m, utc_minute(last), "{capture} spans two minutes");
    m
}

// ---------------------------------------------------------------------------------------
// Captures built here: Ethernet / IPv4 / TCP packets, checksums left zero (wsaudit does
// not check them: loopback captures carry offloaded, unfilled checksums).

struct Flow {
    client: ([u8; 4], u16),
    server: ([u8; 4], u16),
    cseq: u32,
    sseq: u32,
    ts: i64,
}

impl Flow {
    fn new(client: [u8; 4], port: u16, ts: i64) -> Flow {
        Flow {
            client: (client, port),
            server: ([10, 0, 0, 1], 80),
            cseq: 1000,
            sseq: 5000,
            ts,
        }
    }

    fn pkt(&mut self, pkts: &mut Vec<common::Pkt>, from_client: bool, flags: u8, data: &[u8]) {
        let (src, dst, seq, ack) = if from_client {
            (self.client, self.server, self.cseq, self.sseq)
        } else {
            (self.server, self.client, self.sseq, self.cseq)
        };
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0];
        let total = (20 + 20 + data.len()) as u16;
        f.extend_from_slice(&[
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0x40,
            0,
            64,
            6,
            0,
            0,
        ]);
        f.extend_from_slice(&src.0);
        f.extend_from_slice(&dst.0);
        f.extend_from_slice(&src.1.to_be_bytes());
        f.extend_from_slice(&dst.1.to_be_bytes());
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&ack.to_be_bytes());
        f.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        f.extend_from_slice(data);
        let adv = data.len() as u32 + u32::from(flags & (SYN | 1) != 0);
        if from_client {
            self.cseq = self.cseq.wrapping_add(adv);
        } else {
            self.sseq = self.sseq.wrapping_add(adv);
        }
        self.ts += 1_000_000;
        pkts.push(common::Pkt {
            ts_ns: self.ts,
            linktype: 1,
            orig_len: f.len() as u32,
            data: f,
        });
    }

    /// A whole WebSocket session: handshake with `request` as the client's head (in
    /// segments of at most `mss` bytes), the 101, a server Close 1000 echoed by the
    /// client, FINs.
    fn session(&mut self, pkts: &mut Vec<common::Pkt>, request: &[u8], mss: usize) {
        const ACK: u8 = 0x10;
        self.pkt(pkts, true, SYN, &[]);
        self.pkt(pkts, false, SYN | ACK, &[]);
        self.pkt(pkts, true, ACK, &[]);
        for chunk in request.chunks(mss) {
            self.pkt(pkts, true, ACK | 0x08, chunk);
        }
        self.pkt(
            pkts,
            false,
            ACK | 0x08,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
        );
        self.pkt(pkts, false, ACK | 0x08, &[0x88, 0x02, 0x03, 0xe8]);
        // Masked with a zero key: the payload reads as it is.
        self.pkt(
            pkts,
            true,
            ACK | 0x08,
            &[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8],
        );
        self.pkt(pkts, false, ACK | 1, &[]);
        self.pkt(pkts, true, ACK | 1, &[]);
        self.pkt(pkts, false, ACK, &[]);
    }
}

/// An upgrade request whose head (blank line included) is exactly `len` bytes.
fn request_of_len(len: usize) -> Vec<u8> {
    let mut r = b"GET /big HTTP/1.1\r\nHost: big.example\r\nUpgrade: websocket\r\n\
                  Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                  Sec-WebSocket-Version: 13\r\n"
        .to_vec();
    // Filler header lines (`X: aaa…\r\n`, 5 to 1000 bytes each), then the blank line.
    let mut filler = len.checked_sub(r.len() + 2).expect("too short");
    while filler > 0 {
        let line = match filler {
            f if f > 1000 && f - 1000 < 5 => f - 5,
            f if f > 1000 => 1000,
            f => f,
        };
        assert!(line >= 5, "cannot pad to {len}");
        r.extend_from_slice(b"X: ");
        r.extend(std::iter::repeat_n(b'a', line - 5));
        r.extend_from_slice(b"\r\n");
        filler -= line;
    }
    r.extend_from_slice(b"\r\n");
    assert_eq!(r.len(), len);
    r
}

// ---------------------------------------------------------------------------------------
// The table against --help

/// What `wsaudit [SUB] --help` lists: every `-x` / `--flag` of its options, `FLAG VALUE`
/// for each of a flag's possible values, and `-` when its arguments take standard input.
fn help_flags(sub: &str) -> BTreeSet<String> {
    let mut a: Vec<String> = Vec::new();
    if !sub.is_empty() {
        a.push(sub.into());
    }
    a.push("--help".into());
    let text = out(&ok(&a));
    let mut found = BTreeSet::new();
    let mut section = "";
    let mut flag: Option<String> = None;
    let mut values = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed.is_empty() {
            continue;
        }
        if indent == 0 {
            section = if line.ends_with(':') { line } else { "" };
            continue;
        }
        match section {
            "Arguments:" if trimmed.contains("`-`") => {
                found.insert("-".to_string());
            }
            "Options:" if indent <= 6 && trimmed.starts_with('-') => {
                values = false;
                flag = None;
                for name in trimmed
                    .split("  ")
                    .next()
                    .unwrap()
                    .split(", ")
                    .map(|n| n.split([' ', '<']).next().unwrap())
                {
                    assert!(name.starts_with('-'), "{sub}: odd option line {line:?}");
                    found.insert(name.to_string());
                    if name.starts_with("--") {
                        flag = Some(name.to_string());
                    }
                }
            }
            "Options:" if trimmed == "Possible values:" => values = true,
            "Options:" if values && trimmed.starts_with("- ") => {
                let v = trimmed[2..].split(':').next().unwrap().trim();
                let f = flag.as_ref().expect("values follow a flag");
                found.insert(format!("{f} {v}"));
            }
            "Options:" if !trimmed.starts_with("- ") => values = false,
            _ => {}
        }
    }
    found
}

/// The subcommands the top-level help lists (clap's own `help` aside: it takes no flag).
fn subcommands() -> Vec<String> {
    let text = out(&ok(&args!["--help"]));
    let mut subs = Vec::new();
    let mut in_commands = false;
    for line in text.lines() {
        if line == "Commands:" {
            in_commands = true;
        } else if !line.starts_with(' ') {
            in_commands = false;
        } else if in_commands {
            let name = line.split_whitespace().next().unwrap();
            if name != "help" {
                subs.push(name.to_string());
            }
        }
    }
    subs
}

/// `--help` of the binary and of every subcommand lists exactly the flags [`FLAGS`]
/// names, each test named there exists, and `-h` lists the same flags (without values).
#[test]
fn help_lists_no_flag_the_table_lacks() {
    let subs = subcommands();
    assert_eq!(
        subs,
        ["analyze", "report", "codes", "explain", "compare", "audit"],
        "subcommands changed: add their flags to FLAGS"
    );
    let mut problems = Vec::new();
    for sub in std::iter::once("").chain(subs.iter().map(String::as_str)) {
        let listed = help_flags(sub);
        let table: BTreeSet<String> = FLAGS
            .iter()
            .filter(|(c, _, _)| *c == sub)
            .map(|(_, f, _)| f.to_string())
            .collect();
        for f in listed.difference(&table) {
            problems.push(format!(
                "`wsaudit {sub} --help` lists {f}, FLAGS has no test for it"
            ));
        }
        for f in table.difference(&listed) {
            problems.push(format!(
                "FLAGS names `{sub} {f}`, which --help no longer lists"
            ));
        }
        // The short help names the same flags.
        let mut a: Vec<String> = Vec::new();
        if !sub.is_empty() {
            a.push(sub.into());
        }
        a.push("-h".into());
        let short = out(&ok(&a));
        for f in listed
            .iter()
            .filter(|f| f.starts_with('-') && !f.contains(' ') && f.len() > 1)
        {
            let shown = short
                .split(|c: char| c.is_whitespace() || c == ',')
                .any(|w| w == f);
            if !shown {
                problems.push(format!("`wsaudit {sub} -h` does not list {f}"));
            }
        }
    }
    let mut seen = BTreeSet::new();
    for (sub, flag, test) in FLAGS {
        if !seen.insert((sub, flag)) {
            problems.push(format!("FLAGS lists `{sub} {flag}` twice"));
        }
        let (file, name) = test.split_once("::").expect("file::test");
        let src = std::fs::read_to_string(root().join("tests").join(format!("{file}.rs")))
            .unwrap_or_default();
        if !src.contains(&format!("#[test]\nfn {name}()")) {
            problems.push(format!("`{sub} {flag}`: no test tests/{file}.rs::{name}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn version_is_the_crate_version() {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let version = manifest
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("version in Cargo.toml");
    for flag in ["--version", "-V"] {
        assert_eq!(
            out(&ok(&args![flag])),
            format!("wsaudit {version}\n"),
            "{flag}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Exports

/// The session rows of an export, by `capture` and client `ip:port`.
fn by_client(rows: &[Map<String, Value>]) -> BTreeMap<(String, String), Map<String, Value>> {
    let mut m = BTreeMap::new();
    for r in rows {
        let key = (
            s(r, "capture").unwrap().to_string(),
            format!(
                "{}:{}",
                s(r, "client_ip").unwrap(),
                n(r, "client_port").unwrap()
            ),
        );
        assert!(m.insert(key.clone(), r.clone()).is_none(), "{key:?} twice");
    }
    m
}

/// Every truth session is one row with its code, ending and initiator, and nothing else.
fn check_sessions(what: &str, got: &[Map<String, Value>], want: &[Truth]) {
    let got = by_client(got);
    assert_eq!(got.len(), want.len(), "{what}: rows");
    for t in want {
        let r = got
            .get(&(t.capture.clone(), t.client.clone()))
            .unwrap_or_else(|| panic!("{what}: no row for {} in {}", t.client, t.capture));
        let code = n(r, "close_code").map(|c| c as u16);
        assert_eq!(code, t.code, "{what}: {} close_code", t.client);
        assert_eq!(
            s(r, "ending"),
            Some(t.ending.as_str()),
            "{what}: {} ending",
            t.client
        );
        assert_eq!(
            s(r, "initiator"),
            Some(t.initiator.as_str()),
            "{what}: {} initiator",
            t.client
        );
        assert_eq!(
            s(r, "path"),
            Some(t.path.as_str()),
            "{what}: {} path",
            t.client
        );
    }
}

const EXPORT_FIXTURES: [&str; 4] = [
    "demo.pcap",
    "ws_aiohttp.pcap",
    "ws_node.pcap",
    "ws_python.pcap",
];

fn truth_of(captures: &[&str]) -> Vec<Truth> {
    captures.iter().flat_map(|c| truth(c)).collect()
}

/// `analyze --sessions --refused --closes`, `report --sessions` (two tables merged) and
/// `audit --sessions`: one row per truth session with the libraries' codes; one refused row
/// per truth refusal; one Close-frame row per Close a peer sent, with its code and reason.
#[test]
fn sessions_refused_and_closes_exports_match_the_truth() {
    let dir = TempDir::new("flags-exports");
    let want = truth_of(&EXPORT_FIXTURES);
    let (sess, refused, closes) = (
        dir.path().join("s.json"),
        dir.path().join("r.json"),
        dir.path().join("c.json"),
    );
    let mut a = args![
        "analyze",
        "-q",
        "--sessions",
        p(&sess),
        "--refused",
        p(&refused),
        "--closes",
        p(&closes)
    ];
    a.extend(EXPORT_FIXTURES.iter().map(|f| format!("fixtures/{f}")));
    ok(&a);
    let sessions = rows(&sess);
    check_sessions("analyze --sessions", &sessions, &want);

    // Refused upgrades: demo's 403 and aiohttp's four.
    let mut want_refused = Vec::new();
    for f in EXPORT_FIXTURES {
        for r in truth_json(f)["refused"].as_array().unwrap() {
            want_refused.push((
                format!("fixtures/{f}"),
                r["client"].as_str().unwrap().to_string(),
                r["server"].as_str().unwrap().to_string(),
                r["status"].as_u64().unwrap(),
            ));
        }
    }
    want_refused.sort();
    assert_eq!(want_refused.len(), 5);
    let mut got_refused: Vec<_> = rows(&refused)
        .iter()
        .map(|r| {
            (
                s(r, "capture").unwrap().to_string(),
                format!(
                    "{}:{}",
                    s(r, "client_ip").unwrap(),
                    n(r, "client_port").unwrap()
                ),
                format!(
                    "{}:{}",
                    s(r, "server_ip").unwrap(),
                    n(r, "server_port").unwrap()
                ),
                n(r, "status").unwrap() as u64,
            )
        })
        .collect();
    got_refused.sort();
    assert_eq!(got_refused, want_refused, "--refused");

    // Close frames, joined to their session through the session table's ids.
    let id_to_client: BTreeMap<String, (String, String)> = sessions
        .iter()
        .map(|r| {
            (
                s(r, "session_id").unwrap().to_string(),
                (
                    s(r, "capture").unwrap().to_string(),
                    format!(
                        "{}:{}",
                        s(r, "client_ip").unwrap(),
                        n(r, "client_port").unwrap()
                    ),
                ),
            )
        })
        .collect();
    let mut want_closes = BTreeSet::new();
    for t in &want {
        for (sender, close) in [("client", &t.client_close), ("server", &t.server_close)] {
            if let Some((code, reason)) = close {
                let first = t.initiator == sender;
                // docs/schema.md: an empty Close frame reads as 1005; the payload is the
                // two code bytes and the reason's UTF-8.
                let len = code.map_or(0, |_| 2 + reason.len());
                want_closes.insert((
                    t.capture.clone(),
                    t.client.clone(),
                    sender,
                    Some(code.unwrap_or(1005)),
                    reason.clone(),
                    first,
                    len,
                ));
            }
        }
    }
    let got_closes: Vec<_> = rows(&closes)
        .iter()
        .map(|r| {
            let (cap, client) = id_to_client[s(r, "session_id").unwrap()].clone();
            let sender = match s(r, "sender").unwrap() {
                "client" => "client",
                "server" => "server",
                other => panic!("sender {other}"),
            };
            (
                cap,
                client,
                sender,
                n(r, "close_code").map(|c| c as u16),
                s(r, "close_reason").unwrap_or("").to_string(),
                r["first_in_session"].as_bool().unwrap(),
                n(r, "payload_len").unwrap() as usize,
            )
        })
        .collect();
    assert_eq!(got_closes.len(), want_closes.len(), "--closes rows");
    let got_set: BTreeSet<_> = got_closes.into_iter().collect();
    let missing: Vec<_> = want_closes.difference(&got_set).collect();
    let extra: Vec<_> = got_set.difference(&want_closes).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "--closes\nmissing {missing:#?}\nextra {extra:#?}"
    );

    // report: two tables merged into one.
    let t1 = table_of(&dir, &EXPORT_FIXTURES[..2], "a.parquet");
    let t2 = table_of(&dir, &EXPORT_FIXTURES[2..], "b.parquet");
    let merged = dir.path().join("merged.json");
    ok(&args!["report", "-q", t1, t2, "--sessions", p(&merged)]);
    check_sessions("report --sessions", &rows(&merged), &want);

    // audit: tomorrow night's baseline.
    let audited = dir.path().join("audit.json");
    let mut a = args!["audit", "-q", "--sessions", p(&audited)];
    a.extend(EXPORT_FIXTURES.iter().map(|f| format!("fixtures/{f}")));
    ok(&a);
    check_sessions("audit --sessions", &rows(&audited), &want);
}

/// `--summary` of `analyze`, `report` and `audit`: one row per close code with the
/// sessions that ended with it and who sent the first Close, as the truth says.
#[test]
fn summary_export_counts_codes_and_initiators_as_the_truth() {
    let dir = TempDir::new("flags-summary");
    let caps = ["demo.pcap", "ws_node.pcap", "ws_python.pcap"];
    let want_truth = truth_of(&caps);
    // code -> (sessions, by client, by server)
    let mut want: BTreeMap<u16, (u64, u64, u64)> = BTreeMap::new();
    for t in &want_truth {
        let Some(code) = t.code else { continue };
        let e = want.entry(code).or_default();
        e.0 += 1;
        e.1 += u64::from(t.initiator == "client");
        e.2 += u64::from(t.initiator == "server");
    }
    let total = want_truth.len() as f64;
    let fixture_args: Vec<String> = caps.iter().map(|c| format!("fixtures/{c}")).collect();
    let table = table_of(&dir, &caps, "t.parquet");
    for sub in ["analyze", "report", "audit"] {
        let path = dir.path().join(format!("{sub}-summary.json"));
        let mut a = args![sub, "-q", "--summary", p(&path)];
        if sub == "report" {
            a.push(table.clone());
        } else {
            a.extend(fixture_args.iter().cloned());
        }
        ok(&a);
        let got = rows(&path);
        let mut seen = BTreeMap::new();
        for r in &got {
            let code = n(r, "close_code").unwrap() as u16;
            seen.insert(
                code,
                (
                    n(r, "sessions").unwrap() as u64,
                    n(r, "by_client").unwrap() as u64,
                    n(r, "by_server").unwrap() as u64,
                ),
            );
            let share = n(r, "share").unwrap();
            assert!(
                (share - seen[&code].0 as f64 / total).abs() < 1e-9,
                "{sub}: {code} share {share}"
            );
        }
        assert_eq!(seen, want, "{sub} --summary");
        // Most sessions first.
        let order: Vec<u64> = got
            .iter()
            .map(|r| n(r, "sessions").unwrap() as u64)
            .collect();
        assert!(order.windows(2).all(|w| w[0] >= w[1]), "{sub}: {order:?}");
    }
}

/// `--window` and `--reconnects` of `analyze`, `report` and `audit` over ws_restart: client
/// k waited k*200 ms after each 1012 (`reconnect_delay_ms`), so a window of W seconds
/// counts exactly the reconnects that came sooner than W; each is the same client's next
/// connection, with the delay the client waited (within 5 ms).
#[test]
fn window_decides_which_reconnects_count() {
    let dir = TempDir::new("flags-window");
    let want = truth("ws_restart.pcap");
    let by_addr: BTreeMap<String, &Truth> = want.iter().map(|t| (t.client.clone(), t)).collect();
    let table = table_of(&dir, &["ws_restart.pcap"], "t.parquet");
    // Windows between the delays (200, 400, 600, 800, 1000 ms) and the default (300 s).
    for window in [
        Some("0.3"),
        Some("0.5"),
        Some("0.7"),
        Some("0.9"),
        Some("1.1"),
        None,
    ] {
        let w: f64 = window.map_or(300.0, |w| w.parse().unwrap());
        for sub in ["analyze", "report", "audit"] {
            let what = format!("{sub} --window {w}");
            let (rec, sess) = (dir.path().join("rec.json"), dir.path().join("s.json"));
            let mut a = args![sub, "--reconnects", p(&rec), "--sessions", p(&sess)];
            a.push(if sub == "report" {
                table.clone()
            } else {
                "fixtures/ws_restart.pcap".into()
            });
            if let Some(w) = window {
                a.extend(args!["--window", w]);
            }
            let report = json(&a);
            let id_addr: BTreeMap<String, String> = rows(&sess)
                .iter()
                .map(|r| {
                    (
                        s(r, "session_id").unwrap().to_string(),
                        format!(
                            "{}:{}",
                            s(r, "client_ip").unwrap(),
                            n(r, "client_port").unwrap()
                        ),
                    )
                })
                .collect();
            let mut reconnected = 0;
            let got = rows(&rec);
            assert_eq!(got.len(), want.len(), "{what}: one row per ended session");
            for r in &got {
                let t = by_addr[&id_addr[s(r, "session_id").unwrap()]];
                let expect = t.reconnect_delay_ms.filter(|d| d / 1000.0 < w);
                match (expect, s(r, "next_session_id")) {
                    (None, None) => {}
                    (Some(d), Some(next)) => {
                        reconnected += 1;
                        let next = by_addr[&id_addr[next]];
                        assert_eq!(
                            next.ip, t.ip,
                            "{what}: {} reconnected as another client",
                            t.client
                        );
                        assert_eq!(
                            next.connection_no,
                            t.connection_no.map(|c| c + 1),
                            "{what}: {} reconnect is not its next connection",
                            t.client
                        );
                        let got_ms = n(r, "reconnect_delay_s").unwrap() * 1000.0;
                        assert!(
                            (got_ms - d).abs() <= 5.0,
                            "{what}: {}: {got_ms} ms, client waited {d} ms",
                            t.client
                        );
                    }
                    (e, g) => panic!(
                        "{what}: {}: expected reconnect after {e:?} ms, got {g:?}",
                        t.client
                    ),
                }
            }
            let rc = &report_of(&report)["reconnects"];
            assert_eq!(rc["window_s"].as_f64(), Some(w), "{what}");
            let r1012 = rc["by_code"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["close_code"] == 1012)
                .unwrap();
            assert_eq!(r1012["sessions"], 10, "{what}");
            assert_eq!(r1012["reconnected"], reconnected, "{what}");
            let expected = want
                .iter()
                .filter(|t| t.reconnect_delay_ms.is_some_and(|d| d / 1000.0 < w))
                .count();
            assert_eq!(reconnected, expected, "{what}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Breakdowns

const BY_KEYS: [&str; 9] = [
    "server",
    "host",
    "path",
    "subprotocol",
    "client",
    "user-agent",
    "capture",
    "minute",
    "hour",
];

/// The User-Agent each client library sends (seen in the captures' requests; Node `ws`
/// sends none, Chromium its reduced UA string).
fn user_agent(lib: &str) -> Option<&'static str> {
    match lib {
        "websockets 15.0.1" => Some("Python/3.11 websockets/15.0.1"),
        "aiohttp 3.12.15" => Some("Python/3.11 aiohttp/3.12.15"),
        "ws 8.18.3" => None,
        "Chromium 156.0.8078.79" => Some(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
             HeadlessChrome/156.0.0.0 Safari/537.36",
        ),
        other => panic!("which User-Agent does {other} send?"),
    }
}

/// The group a truth session falls in for `key` (`host`: the Host header, which these
/// clients set to the server's address, except where `hosts` renames it).
fn group_of(t: &Truth, key: &str, minute: &str, hosts: &BTreeMap<String, String>) -> String {
    let none = || "(none)".to_string();
    match key {
        "server" => t.server.clone(),
        "host" => hosts.get(&t.server).cloned().unwrap_or(t.server.clone()),
        "path" => t.path.clone(),
        "subprotocol" => t.subprotocol.clone().unwrap_or_else(none),
        "client" => t.ip.clone(),
        "user-agent" => user_agent(&t.client_lib).map_or_else(none, str::to_string),
        "capture" => t.capture.clone(),
        "minute" => minute.to_string(),
        "hour" => format!("{}:00", &minute[..13]),
        _ => unreachable!(),
    }
}

/// One `--by` table of a JSON report against the truth: every group with its sessions and
/// its sessions per shown code, largest groups first, the shown codes the most common.
fn check_breakdown(what: &str, b: &Value, want: &BTreeMap<String, Vec<Option<u16>>>, top: usize) {
    let codes: Vec<u16> = b["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap() as u16)
        .collect();
    // The code columns: the most common codes overall (1006 always when seen), at most 6.
    let mut overall: BTreeMap<u16, usize> = BTreeMap::new();
    for c in want.values().flatten().flatten() {
        *overall.entry(*c).or_default() += 1;
    }
    assert_eq!(
        codes.len(),
        overall.len().min(6),
        "{what}: code columns {codes:?}"
    );
    if overall.contains_key(&1006) {
        assert!(codes.contains(&1006), "{what}: 1006 column");
    }
    let least_shown = codes
        .iter()
        .filter(|c| **c != 1006)
        .map(|c| overall[c])
        .min()
        .unwrap_or(0);
    for (c, k) in &overall {
        assert!(
            codes.contains(c) || *k <= least_shown,
            "{what}: {c} ({k} sessions) has no column but {codes:?} do"
        );
    }
    let mut expected: Vec<(String, u64, Vec<u64>, u64)> = want
        .iter()
        .map(|(g, v)| {
            let per: Vec<u64> = codes
                .iter()
                .map(|c| v.iter().filter(|x| **x == Some(*c)).count() as u64)
                .collect();
            let other = v.len() as u64 - per.iter().sum::<u64>();
            (g.clone(), v.len() as u64, per, other)
        })
        .collect();
    expected.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let row = |r: &Value| {
        (
            r["group"].as_str().unwrap().to_string(),
            r["sessions"].as_u64().unwrap(),
            r["per_code"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap())
                .collect::<Vec<u64>>(),
            r["other"].as_u64().unwrap(),
        )
    };
    let got: Vec<_> = b["rows"].as_array().unwrap().iter().map(row).collect();
    let shown = expected.len().min(top);
    assert_eq!(got, expected[..shown], "{what}: rows");
    if expected.len() > top {
        let rest = &expected[top..];
        let folded = &b["folded"];
        assert_eq!(
            folded[0].as_u64(),
            Some(rest.len() as u64),
            "{what}: folded groups"
        );
        let (_, sessions, per, other) = row(&folded[1]);
        assert_eq!(
            sessions,
            rest.iter().map(|r| r.1).sum::<u64>(),
            "{what}: folded sessions"
        );
        let want_per: Vec<u64> = (0..codes.len())
            .map(|i| rest.iter().map(|r| r.2[i]).sum())
            .collect();
        assert_eq!(per, want_per, "{what}: folded per code");
        assert_eq!(
            other,
            rest.iter().map(|r| r.3).sum::<u64>(),
            "{what}: folded other"
        );
        assert_eq!(
            folded[1]["group"].as_str(),
            Some(format!("({} other groups)", rest.len()).as_str()),
            "{what}"
        );
    } else {
        assert!(b["folded"].is_null(), "{what}: nothing to fold");
    }
}

/// The inputs of the breakdown tests: demo.pcap with the Host header of its port-9000
/// requests rewritten (`127.0.0.1:9000` -> `ws.example.org`, same length, so nothing else
/// moves), and five more fixtures; their truth, the minute of each, the renamed hosts.
struct ByInputs {
    _dir: TempDir,
    files: Vec<String>,
    truth: Vec<(Truth, String)>,
    hosts: BTreeMap<String, String>,
}

fn by_inputs() -> ByInputs {
    let dir = TempDir::new("flags-by");
    let demo = std::fs::read(common::fixture("demo.pcap")).unwrap();
    let (from, to) = (b"Host: 127.0.0.1:9000\r\n", b"Host: ws.example.org\r\n");
    let mut patched = demo.clone();
    let mut renamed = 0;
    let mut i = 0;
    while let Some(at) = patched[i..].windows(from.len()).position(|w| w == from) {
        patched[i + at..i + at + to.len()].copy_from_slice(to);
        renamed += 1;
        i += at + 1;
    }
    // 16 sessions and the refused upgrade on port 9000 (truth).
    assert_eq!(renamed, 17);
    let demo_path = dir.file("demo-hosts.pcap", &patched);
    let others = [
        "ws_node.pcap",
        "ws_python.pcap",
        "ws_aiohttp.pcap",
        "ws_chromium.pcap",
        "ws_sll.pcap",
    ];
    let mut files = vec![p(&demo_path)];
    let mut truth_all = Vec::new();
    for t in truth("demo.pcap") {
        truth_all.push((
            Truth {
                capture: p(&demo_path),
                ..t
            },
            only_minute("demo.pcap"),
        ));
    }
    for f in others {
        files.push(format!("fixtures/{f}"));
        let bytes = std::fs::read(common::fixture(f)).unwrap();
        for t in truth(f) {
            // The Host header these clients sent is the server's address.
            let host = format!("Host: {}\r\n", t.server);
            assert!(
                bytes.windows(host.len()).any(|w| w == host.as_bytes()),
                "{f}: no {host:?}"
            );
            truth_all.push((t, only_minute(f)));
        }
    }
    let hosts = BTreeMap::from([("127.0.0.1:9000".to_string(), "ws.example.org".to_string())]);
    ByInputs {
        _dir: dir,
        files,
        truth: truth_all,
        hosts,
    }
}

/// The JSON report of `sub` over the breakdown inputs (`report` reads them exported).
fn by_report(sub: &str, inp: &ByInputs, extra: &[String]) -> Value {
    let mut a = args![sub];
    if sub == "report" {
        let table = inp._dir.path().join("by.parquet");
        if !table.exists() {
            let mut e = args!["analyze", "-q", "--sessions", p(&table)];
            e.extend(inp.files.iter().cloned());
            ok(&e);
        }
        a.push(p(&table));
    } else {
        a.extend(inp.files.iter().cloned());
    }
    a.extend(extra.iter().cloned());
    json(&a)
}

/// `--by KEY` for every key, through `analyze`, `report` and `audit`: each group's sessions
/// and codes are the truth's (server, path, subprotocol, client address and the User-Agent
/// each library sends from the truth; host from a rewritten Host header; capture from the
/// file names; minute and hour from the capture's packet times).
#[test]
fn by_every_key_matches_the_truth() {
    let inp = by_inputs();
    for sub in ["analyze", "report", "audit"] {
        let v = by_report(
            sub,
            &inp,
            &args!["--by", BY_KEYS.join(","), "--top", "1000"],
        );
        let bds = report_of(&v)["breakdowns"].as_array().unwrap();
        for key in BY_KEYS {
            let mut want: BTreeMap<String, Vec<Option<u16>>> = BTreeMap::new();
            for (t, minute) in &inp.truth {
                want.entry(group_of(t, key, minute, &inp.hosts))
                    .or_default()
                    .push(t.code);
            }
            let name = key.replace('-', "_");
            let b = bds
                .iter()
                .find(|b| b["by"] == name.as_str())
                .unwrap_or_else(|| panic!("{sub}: no --by {key} table"));
            check_breakdown(&format!("{sub} --by {key}"), b, &want, 1000);
        }
    }
}

/// `--top N`: the N largest groups (ties by name), the rest folded into one row that
/// adds them up; in the text report too.
#[test]
fn top_keeps_the_largest_groups_and_folds_the_rest() {
    let inp = by_inputs();
    for sub in ["analyze", "report", "audit"] {
        for top in [1, 2, 5] {
            let v = by_report(
                sub,
                &inp,
                &args!["--by", "client,path", "--top", top.to_string()],
            );
            let bds = report_of(&v)["breakdowns"].as_array().unwrap();
            for key in ["client", "path"] {
                let mut want: BTreeMap<String, Vec<Option<u16>>> = BTreeMap::new();
                for (t, minute) in &inp.truth {
                    want.entry(group_of(t, key, minute, &inp.hosts))
                        .or_default()
                        .push(t.code);
                }
                assert!(want.len() > 5, "{key}: enough groups to fold");
                let b = bds.iter().find(|b| b["by"] == key).unwrap();
                check_breakdown(&format!("{sub} --by {key} --top {top}"), b, &want, top);
            }
        }
        // Text: the folded line says how many groups it holds.
        let mut a = args![sub, "--by", "client", "--top", "2"];
        if sub == "report" {
            a.push(p(&inp._dir.path().join("by.parquet")));
        } else {
            a.extend(inp.files.iter().cloned());
        }
        let text = out(&ok(&a));
        let mut clients = BTreeSet::new();
        for (t, _) in &inp.truth {
            clients.insert(t.ip.clone());
        }
        let folded = format!("({} other groups)", clients.len() - 2);
        assert!(text.contains(&folded), "{sub}: no `{folded}` line:\n{text}");
    }
}
