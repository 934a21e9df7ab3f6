//! The session table as users load it: every export format reads back with the
//! documented columns and types (docs/schema.md).

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use polars_io::parquet::read::ParquetReader;
use polars_io::SerReader;
use wsaudit::pipeline::{analyze, Input, Options};
use wsaudit::table::session::{sessions_frame, SESSION_COLUMNS};
use wsaudit::table::write::write_table;

mod common;

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wsaudit-export-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn demo_frame() -> (DataFrame, usize) {
    let r = analyze(
        &Input::Path(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo.pcap")),
        &Options::default(),
    );
    let n = r.sessions.len();
    (sessions_frame(&r.sessions).unwrap(), n)
}

/// Parquet times are µs: Spark cannot read TIMESTAMP(NANOS).
fn utc_micros() -> DataType {
    DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
}

/// The documented type of every column (docs/schema.md).
fn documented_type(name: &str) -> DataType {
    match name {
        "client_port"
        | "server_port"
        | "close_code"
        | "client_close_code"
        | "server_close_code"
        | "client_observed_code"
        | "server_observed_code" => DataType::UInt16,
        "start_time" | "established_time" | "end_time" | "close_time" | "tcp_end_time" => {
            utc_micros()
        }
        "duration_s" | "idle_before_end_s" => DataType::Float64,
        "permessage_deflate"
        | "handshake_completed"
        | "gap"
        | "midstream"
        | "truncated"
        | "limit_hit"
        | "tls_close_notify_client"
        | "tls_close_notify_server"
        | "decrypted"
        | "proxy_cut" => DataType::Boolean,
        "anomaly_count" | "h2_stream_id" => DataType::UInt32,
        // Parquet and JSON hold the names as a list; CSV as `;`-joined text.
        "anomalies" => DataType::List(Box::new(DataType::String)),
        n if n.starts_with("frames_")
            || n.starts_with("messages_")
            || n.starts_with("bytes_")
            || n.starts_with("pings_")
            || n.starts_with("pongs_")
            || n == "unanswered_pings" =>
        {
            DataType::Int64
        }
        _ => DataType::String,
    }
}

#[test]
fn parquet_reads_back_with_the_documented_columns_types_and_values() {
    let (mut df, n) = demo_frame();
    let d = tmpdir("pq");
    let p = d.join("sessions.parquet");
    write_table(&mut df, &p).unwrap();
    let back = ParquetReader::new(File::open(&p).unwrap())
        .finish()
        .unwrap();
    assert_eq!(back.height(), n);
    let names: Vec<String> = back
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(names, SESSION_COLUMNS);
    for (name, dt) in back.schema().iter() {
        assert_eq!(*dt, documented_type(name), "column {name}");
    }
    // The same values, `anomalies` as a list of the `;`-joined names.
    let names = df.column("anomalies").unwrap().str().unwrap().clone();
    let lists = back.column("anomalies").unwrap().list().unwrap().clone();
    for (joined, list) in names.iter().zip(lists.amortized_iter()) {
        let list = list.map(|l| {
            let l = l.as_ref().clone();
            l.str()
                .unwrap()
                .iter()
                .flatten()
                .map(str::to_string)
                .collect::<Vec<_>>()
        });
        let want = joined.map(|j| {
            j.split(';')
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        });
        assert_eq!(list, want);
    }
    assert!(
        back.drop("anomalies")
            .unwrap()
            .equals_missing(&df.drop("anomalies").unwrap()),
        "values changed in the Parquet round trip"
    );
}

#[test]
fn csv_has_the_documented_header_and_utc_iso_times() {
    let (mut df, n) = demo_frame();
    let d = tmpdir("csv");
    let p = d.join("sessions.csv");
    write_table(&mut df, &p).unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), SESSION_COLUMNS.join(","));
    let first = lines.next().unwrap();
    assert!(first.contains("2026-") && first.contains("Z,"), "{first}");
    assert_eq!(text.lines().count(), n + 1);
}

#[test]
fn json_is_an_array_of_objects_and_jsonl_one_object_per_line() {
    let (mut df, n) = demo_frame();
    let d = tmpdir("json");
    let pj = d.join("s.json");
    let pl = d.join("s.jsonl");
    write_table(&mut df, &pj).unwrap();
    write_table(&mut df, &pl).unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&pj).unwrap()).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), n);
    let keys: Vec<&String> = arr[0].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), SESSION_COLUMNS.len());
    for c in SESSION_COLUMNS {
        assert!(arr[0].get(*c).is_some(), "missing {c}");
    }
    let t = arr[0]["start_time"].as_str().unwrap();
    assert!(t.ends_with('Z') && t.contains('T'), "{t}");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&pl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), n);
    assert_eq!(lines[0], arr[0]);
}

#[test]
fn an_empty_table_still_has_every_column() {
    let mut df = sessions_frame(&[]).unwrap();
    assert_eq!(df.width(), SESSION_COLUMNS.len());
    let d = tmpdir("empty");
    let p = d.join("e.parquet");
    write_table(&mut df, &p).unwrap();
    let back = ParquetReader::new(File::open(&p).unwrap())
        .finish()
        .unwrap();
    assert_eq!(back.height(), 0);
    assert_eq!(back.width(), SESSION_COLUMNS.len());
}

#[test]
fn a_failed_write_leaves_no_file_behind() {
    let (mut df, _) = demo_frame();
    let p = Path::new("/nonexistent-dir-wsaudit/x.parquet");
    assert!(write_table(&mut df, p).is_err());
    assert!(!p.exists());
}

#[test]
fn csv_cells_that_spreadsheets_would_run_are_neutralised_unless_raw() {
    let mut df = DataFrame::new(
        4,
        vec![
            Column::new(
                "close_reason".into(),
                ["=HYPERLINK(\"x\")", "+1", "@SUM(A1)", "fine"],
            ),
            Column::new("close_code".into(), [1000u16, 1001, 4000, 1000]),
        ],
    )
    .unwrap();
    let d = tmpdir("guard");
    let guarded = d.join("g.csv");
    let raw = d.join("r.csv");
    wsaudit::table::write::write_table(&mut df, &guarded).unwrap();
    wsaudit::table::write::write_table_with(&mut df, &raw, false).unwrap();
    let g = std::fs::read_to_string(&guarded).unwrap();
    assert!(g.contains("\"'=HYPERLINK(\"\"x\"\")\""), "{g}");
    assert!(g.contains("'+1,1001") && g.contains("'@SUM(A1),4000") && g.contains("\nfine,1000"));
    let r = std::fs::read_to_string(&raw).unwrap();
    assert!(r.contains("\n+1,1001"), "{r}");
}

#[test]
fn summary_closes_and_reconnects_exports_read_back_with_documented_types() {
    let d = tmpdir("others");
    let (s, c, r) = (
        d.join("s.parquet"),
        d.join("c.parquet"),
        d.join("r.parquet"),
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wsaudit"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["analyze", "-q", "fixtures/ws_restart.pcap", "--summary"])
        .arg(&s)
        .arg("--closes")
        .arg(&c)
        .arg("--reconnects")
        .arg(&r)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |p: &Path| ParquetReader::new(File::open(p).unwrap()).finish().unwrap();
    let types = |df: &DataFrame| -> Vec<(String, DataType)> {
        df.schema()
            .iter()
            .map(|(n, t)| (n.to_string(), t.clone()))
            .collect()
    };
    let us = utc_micros();
    let summary = read(&s);
    assert_eq!(
        types(&summary),
        vec![
            ("close_code".into(), DataType::UInt16),
            ("close_code_name".into(), DataType::String),
            ("sessions".into(), DataType::Int64),
            ("share".into(), DataType::Float64),
            ("by_client".into(), DataType::Int64),
            ("by_server".into(), DataType::Int64),
            ("handshake_completed_rate".into(), DataType::Float64),
            ("duration_p50_s".into(), DataType::Float64),
            ("duration_p95_s".into(), DataType::Float64),
            ("duration_p99_s".into(), DataType::Float64),
            ("meaning".into(), DataType::String),
        ]
    );
    let closes = read(&c);
    assert_eq!(
        types(&closes),
        vec![
            ("capture".into(), DataType::String),
            ("session_id".into(), DataType::String),
            ("time".into(), us.clone()),
            ("sender".into(), DataType::String),
            ("close_code".into(), DataType::UInt16),
            ("close_code_name".into(), DataType::String),
            ("close_reason".into(), DataType::String),
            ("payload_len".into(), DataType::Int64),
            ("first_in_session".into(), DataType::Boolean),
        ]
    );
    assert_eq!(closes.height(), 30, "15 sessions, both sides closed");
    let rec = read(&r);
    let rt = types(&rec);
    let names: Vec<&str> = rt.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "session_id",
            "capture",
            "client_ip",
            "server_ip",
            "server_port",
            "host",
            "path",
            "ending",
            "close_code",
            "end_time",
            "next_session_id",
            "next_start_time",
            "reconnect_delay_s"
        ]
    );
    assert_eq!(rt[9].1, us);
    assert_eq!(rt[12].1, DataType::Float64);
    assert_eq!(rec.height(), 15);
}

/// `wsaudit analyze` with sessions spilled to disk after every row (`--spill-after 1`)
/// writes the same exports and prints the same report as with everything in memory:
/// the same bytes for CSV, JSON and JSON Lines, the same rows for Parquet and for a
/// partitioned dataset, the same Close-frame table; and leaves no spill folder behind.
#[test]
fn exports_and_report_are_the_same_when_sessions_spill_to_disk() {
    let inputs = fixture_inputs();
    let dir = tmpdir("spill");
    let spill = dir.join("spill");
    std::fs::create_dir_all(&spill).unwrap();
    let run = |tag: &str, spill_after: &str, sessions: &str, extra: &[&str]| -> String {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_wsaudit"))
            .arg("analyze")
            .args(&inputs)
            .arg("--sessions")
            .arg(dir.join(format!("{tag}-{sessions}")))
            .arg("--spill-after")
            .arg(spill_after)
            .arg("--spill-dir")
            .arg(&spill)
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    for name in ["s.csv", "s.json", "s.jsonl"] {
        let closes = format!("--closes={}", dir.join(format!("closes-{name}")).display());
        let a = run("mem", "0", name, &[]);
        let b = run("disk", "1", name, &[&closes]);
        assert_eq!(a, b, "{name}: the printed report");
        let read = |tag: &str| std::fs::read(dir.join(format!("{tag}-{name}"))).unwrap();
        assert_eq!(
            read("mem"),
            read("disk"),
            "{name}: the export, byte for byte"
        );
        let c = run(
            "mem2",
            "0",
            name,
            &[&closes.replace("closes-", "closes-mem-")],
        );
        assert_eq!(a, c);
        assert_eq!(
            std::fs::read(dir.join(format!("closes-{name}"))).unwrap(),
            std::fs::read(dir.join(format!("closes-mem-{name}"))).unwrap(),
            "{name}: the Close-frame table"
        );
    }
    let parquet = |p: PathBuf| ParquetReader::new(File::open(p).unwrap()).finish().unwrap();
    run("mem", "0", "s.parquet", &[]);
    run("disk", "1", "s.parquet", &[]);
    let a = parquet(dir.join("mem-s.parquet"));
    assert!(a.height() > 20);
    assert!(a.equals_missing(&parquet(dir.join("disk-s.parquet"))));

    // A partitioned dataset: the same files, with the same rows.
    run("mem", "0", "parts", &["--partition-by", "hour"]);
    run("disk", "1", "parts", &["--partition-by", "hour"]);
    let files = |root: PathBuf| -> Vec<PathBuf> {
        let mut v = Vec::new();
        let mut todo = vec![root.clone()];
        while let Some(d) = todo.pop() {
            for e in std::fs::read_dir(d).unwrap().flatten() {
                if e.path().is_dir() {
                    todo.push(e.path());
                } else {
                    v.push(e.path().strip_prefix(&root).unwrap().to_path_buf());
                }
            }
        }
        v.sort();
        v
    };
    let (mem, disk) = (dir.join("mem-parts"), dir.join("disk-parts"));
    assert_eq!(files(mem.clone()), files(disk.clone()));
    for f in files(mem.clone()) {
        assert!(
            parquet(mem.join(&f)).equals_missing(&parquet(disk.join(&f))),
            "{}",
            f.display()
        );
    }
    assert_eq!(
        std::fs::read_dir(&spill).unwrap().count(),
        0,
        "spilled runs are removed"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every fixture capture, and the log folders wsaudit reads without options.
fn fixture_inputs() -> Vec<PathBuf> {
    let mut v = common::fixture_captures();
    v.extend(common::fixture_log_folders());
    v
}

/// A spill folder that cannot be made (its parent is a file) is a warning, not a
/// failure: the rows stay in memory and every export is what it would have been.
#[test]
fn an_unusable_spill_folder_keeps_rows_in_memory_with_a_warning() {
    let inputs = fixture_inputs();
    let dir = tmpdir("nospill");
    let blocker = dir.join("a-file");
    std::fs::write(&blocker, b"not a folder").unwrap();
    let run = |name: &str, extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_wsaudit"))
            .arg("analyze")
            .args(&inputs)
            .arg("--sessions")
            .arg(dir.join(name))
            .arg("-q")
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let spill_dir = blocker.join("spill").display().to_string();
    let (code, stderr) = run(
        "bad.csv",
        &["--spill-after", "1", "--spill-dir", &spill_dir],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("cannot spill session rows to disk") && stderr.contains("a-file"),
        "{stderr}"
    );
    let (code, stderr) = run("mem.csv", &["--spill-after", "0"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        std::fs::read(dir.join("bad.csv")).unwrap(),
        std::fs::read(dir.join("mem.csv")).unwrap()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 18: export mistakes are refused before any work, naming the flags and paths:
/// two outputs on one path, `--partition-by` with a file name, an output inside an
/// input folder that is being read. Nothing is written.
#[test]
fn export_mistakes_are_refused_before_any_work() {
    let dir = std::env::temp_dir().join(format!("wsaudit-export-refuse-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let inputs = dir.join("night");
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo.pcap"),
        inputs.join("gw1.pcap"),
    )
    .unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let same = s(&dir.join("x.csv"));
    let same_other_spelling = s(&dir.join("night/../x.csv"));
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "analyze".into(),
                s(&inputs),
                "--sessions".into(),
                same.clone(),
                "--closes".into(),
                same_other_spelling,
            ],
            "--closes and --sessions both write",
        ),
        (
            vec![
                "analyze".into(),
                s(&inputs),
                "--sessions".into(),
                same.clone(),
                "--summary".into(),
                same.clone(),
            ],
            "--summary and --sessions both write",
        ),
        (
            vec![
                "analyze".into(),
                s(&inputs),
                "--sessions".into(),
                s(&dir.join("p.parquet")),
                "--partition-by".into(),
                "date".into(),
            ],
            "--partition-by writes a folder",
        ),
        (
            vec![
                "analyze".into(),
                s(&inputs),
                "--sessions".into(),
                s(&inputs.join("out.parquet")),
            ],
            "inside the input folder",
        ),
        (
            vec![
                "audit".into(),
                s(&inputs),
                "--html".into(),
                s(&inputs.join("night.html")),
            ],
            "inside the input folder",
        ),
        (
            vec![
                "audit".into(),
                s(&inputs),
                "--html".into(),
                same.clone(),
                "--markdown".into(),
                same.clone(),
            ],
            "both write",
        ),
    ];
    for (args, says) in cases {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_wsaudit"))
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(
            out.stdout.is_empty(),
            "{args:?}: no report before the refusal"
        );
        let mut left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["night"], "{args:?}: nothing written");
        assert_eq!(std::fs::read_dir(&inputs).unwrap().count(), 1, "{args:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The Arrow schema in a Parquet footer (`ARROW:schema`), as written (polars' own
/// reader turns strings into views on reading, so it is decoded here by hand).
fn footer_arrow_schema(path: &Path) -> polars_arrow::datatypes::ArrowSchema {
    use base64::Engine;
    let meta = polars_parquet::read::read_metadata(&mut File::open(path).unwrap()).unwrap();
    let kv = meta.key_value_metadata.clone().unwrap_or_default();
    let encoded = kv
        .iter()
        .find(|kv| kv.key == "ARROW:schema")
        .and_then(|kv| kv.value.clone())
        .unwrap_or_else(|| panic!("{}: no ARROW:schema", path.display()));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    let message = if bytes[..4] == [255u8; 4] {
        &bytes[8..]
    } else {
        &bytes[..]
    };
    polars_arrow::io::ipc::read::deserialize_schema(message)
        .unwrap()
        .0
}

#[test]
fn parquet_footers_name_no_type_older_readers_cannot_open() {
    // polars writes its string columns as Arrow string views; pyarrow before 15
    // ("Unrecognized type: 24"), Spark and older Trino cannot read a file whose
    // ARROW:schema names them. Every Parquet table wsaudit writes says large_string.
    use polars_arrow::datatypes::ArrowDataType as A;
    let d = tmpdir("pq-compat");
    let out = std::process::Command::new(common::bin())
        .arg("analyze")
        .arg(common::fixture("demo.pcap"))
        .arg("-q")
        .args([
            "--sessions",
            "s.parquet",
            "--refused",
            "r.parquet",
            "--closes",
            "c.parquet",
        ])
        .args(["--summary", "p.parquet", "--reconnects", "rc.parquet"])
        .current_dir(&d)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let part = d.join("part");
    let out = std::process::Command::new(common::bin())
        .arg("analyze")
        .arg(common::fixture("demo.pcap"))
        .args(["-q", "--partition-by", "hour", "--sessions"])
        .arg(&part)
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut files: Vec<PathBuf> = ["s", "r", "c", "p", "rc"]
        .iter()
        .map(|n| d.join(format!("{n}.parquet")))
        .collect();
    let mut stack = vec![part];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                files.push(p);
            }
        }
    }
    assert!(files.len() > 5, "the partitioned export wrote files");
    for f in &files {
        let schema = footer_arrow_schema(f);
        assert!(!schema.is_empty(), "{}", f.display());
        for (name, field) in schema.iter() {
            assert!(
                !matches!(field.dtype, A::Utf8View | A::BinaryView),
                "{}: column {name} is {:?} in the footer's Arrow schema",
                f.display(),
                field.dtype
            );
        }
    }
}

/// Python with pyarrow, pandas and DuckDB: `WSAUDIT_PYTHON` (`.ci/run` makes a venv with
/// the pinned versions), else `python3` if it has them.
fn python_with_readers() -> Option<String> {
    let py = std::env::var("WSAUDIT_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = std::process::Command::new(&py)
        .args(["-c", "import pyarrow, pandas, duckdb"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(py)
}

#[test]
fn notebooks_open_the_exports_with_the_documented_types() {
    // What docs/notebooks.md tells users to run, on a real export: pyarrow (14 in CI,
    // the last version without string views), pandas with nullable dtypes, DuckDB.
    let Some(py) = python_with_readers() else {
        if std::env::var_os("CI").is_some() && std::env::var_os("WSAUDIT_PYTHON").is_some() {
            panic!("WSAUDIT_PYTHON is set but has no pyarrow, pandas or duckdb");
        }
        println!("SKIP: no Python with pyarrow, pandas and duckdb (set WSAUDIT_PYTHON)");
        return;
    };
    let d = tmpdir("notebooks");
    let out = std::process::Command::new(common::bin())
        .arg("analyze")
        .arg(common::fixture("demo.pcap"))
        .args(["-q", "--sessions"])
        .arg(d.join("s.parquet"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let script = r#"
import sys, pyarrow, pyarrow.parquet as pq, pandas as pd, duckdb
p = sys.argv[1]
t = pq.read_table(p)
assert t.num_rows == 17, t.num_rows
assert str(t.schema.field("capture").type) == "large_string", t.schema.field("capture").type
assert str(t.schema.field("close_code").type) == "uint16"
assert str(t.schema.field("start_time").type) == "timestamp[us, tz=UTC]", t.schema.field("start_time").type
df = pd.read_parquet(p, dtype_backend="numpy_nullable")
assert str(df["close_code"].dtype) == "UInt16", df["close_code"].dtype
assert str(df["start_time"].dtype) == "datetime64[us, UTC]", df["start_time"].dtype
n = duckdb.sql(f"select count(*) from '{p}' where close_code = 1006").fetchone()[0]
assert n == 1, n
print("pyarrow", pyarrow.__version__, "ok")
"#;
    let out = std::process::Command::new(&py)
        .args(["-c", script])
        .arg(d.join("s.parquet"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{}", String::from_utf8_lossy(&out.stdout).trim());
}

/// The same over the TLS and HTTP/2 fixtures with their key logs: the 1006 diagnosis
/// (how HTTP/2 streams ended, pings) and `--by transport` read columns that a spilled
/// run must keep for the reports too.
#[test]
fn http2_report_is_the_same_when_sessions_spill_to_disk() {
    let tls = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/tls");
    let dir = tmpdir("spill-h2");
    let spill = dir.join("spill");
    std::fs::create_dir_all(&spill).unwrap();
    let run = |spill_after: &str, extra: &[&str]| -> String {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_wsaudit"))
            .arg("analyze")
            .arg(&tls)
            .arg("--keylog")
            .arg(&tls)
            .arg("--sessions")
            .arg(dir.join(format!("s-{spill_after}.csv")))
            .args(["--spill-after", spill_after, "--spill-dir"])
            .arg(&spill)
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    for extra in [&["--format", "json"][..], &["--by", "transport"][..]] {
        let mem = run("0", extra);
        assert!(
            mem.contains("h2") || mem.contains("\"2\""),
            "{extra:?}: HTTP/2 sessions in the report"
        );
        assert_eq!(
            mem,
            run("1", extra),
            "{extra:?}: the report with sessions spilled"
        );
    }
}

/// `report` reads a Parquet table a piece at a time (32,768 rows), whatever its row
/// groups: over a table of every fixture session repeated past three pieces (row groups
/// of 40,000 rows, so pieces start inside them), the report counts each ending and code
/// as many times over as the table repeats them, the session export read back is the
/// table itself, and a session held twice in one file is counted once, the file naming
/// itself.
#[test]
fn report_reads_a_big_parquet_table_piece_by_piece() {
    use polars_io::parquet::write::ParquetWriter;
    let dir = tmpdir("pieces");
    let base_path = dir.join("base.parquet");
    let mut args: Vec<String> = vec!["analyze".into(), "-q".into()];
    args.extend(fixture_inputs().iter().map(|p| p.display().to_string()));
    args.extend(["--sessions".into(), base_path.display().to_string()]);
    let o = std::process::Command::new(common::bin())
        .args(&args)
        .output()
        .unwrap();
    assert!(
        o.status.code() == Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let base = ParquetReader::new(File::open(&base_path).unwrap())
        .finish()
        .unwrap();
    let times = 70_000 / base.height() + 1;
    let mut big: Option<DataFrame> = None;
    for k in 0..times {
        let mut copy = base.clone();
        let ids = copy
            .column("session_id")
            .unwrap()
            .str()
            .unwrap()
            .apply_values(|id| format!("{id}#{k}").into());
        copy.with_column(ids.into_column()).unwrap();
        match &mut big {
            Some(b) => {
                b.vstack_mut(&copy).unwrap();
            }
            None => big = Some(copy),
        }
    }
    let mut big = big.unwrap();
    big.rechunk_mut();
    let write = |path: &Path, df: &mut DataFrame| {
        ParquetWriter::new(File::create(path).unwrap())
            .with_row_group_size(Some(40_000))
            .finish(df)
            .unwrap();
    };
    let big_path = dir.join("big.parquet");
    write(&big_path, &mut big);

    // wsaudit with `args`, which must succeed: (stdout, stderr).
    let wsaudit = |args: &[&std::ffi::OsStr]| -> (Vec<u8>, String) {
        let o = std::process::Command::new(common::bin())
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(0), "{stderr}");
        (o.stdout, stderr)
    };
    let report = |path: &Path| -> (serde_json::Value, String) {
        let (out, stderr) = wsaudit(&[
            "report".as_ref(),
            "--format".as_ref(),
            "json".as_ref(),
            path.as_ref(),
        ]);
        (serde_json::from_slice(&out).unwrap(), stderr)
    };
    let (one, _) = report(&base_path);
    let (many, _) = report(&big_path);
    let n = |v: &serde_json::Value| v.as_u64().unwrap();
    assert_eq!(n(&many["sessions"]), times as u64 * n(&one["sessions"]));
    for (list, key) in [("endings", "ending"), ("codes", "close_code")] {
        let (a, b) = (
            one[list].as_array().unwrap(),
            many[list].as_array().unwrap(),
        );
        assert_eq!(a.len(), b.len(), "{list}");
        for (x, y) in a.iter().zip(b) {
            assert_eq!(x[key], y[key], "{list}");
            for count in ["sessions", "by_client", "by_server"] {
                if let Some(c) = x.get(count) {
                    assert_eq!(
                        n(&y[count]),
                        times as u64 * n(c),
                        "{list} {} {count}",
                        x[key]
                    );
                }
            }
        }
    }

    // Exported while it is read: the table itself.
    let re = dir.join("re.parquet");
    wsaudit(&[
        "report".as_ref(),
        "-q".as_ref(),
        big_path.as_ref(),
        "--sessions".as_ref(),
        re.as_ref(),
    ]);
    let back = ParquetReader::new(File::open(&re).unwrap())
        .finish()
        .unwrap();
    assert_eq!(back.schema(), big.schema());
    assert!(back.equals_missing(&big), "the export is the table read");

    // Ten sessions twice in one file: counted once, the file its own first.
    let mut twice = big.clone();
    twice.vstack_mut(&big.slice(40_000, 10)).unwrap();
    let twice_path = dir.join("twice.parquet");
    write(&twice_path, &mut twice);
    let (v, stderr) = report(&twice_path);
    assert_eq!(n(&v["sessions"]), n(&many["sessions"]));
    assert!(
        stderr.contains(&format!(
            "twice.parquet: 10 sessions already read from {}",
            twice_path.display()
        )),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
