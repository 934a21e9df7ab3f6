//! The fleet job (`contrib/spark/wsaudit_spark.py`, issue 14): PySpark in local mode runs
//! the wsaudit binary on every fixture capture through `mapInArrow`, writes the session
//! rows as Parquet partitioned by date, and its per-code report in Spark SQL must give
//! the numbers `wsaudit analyze` gives over the same files.
//!
//! Needs Java and a Python with PySpark (`WSAUDIT_SPARK_PYTHON`, which `.ci/run` sets to
//! a venv with `contrib/spark/requirements.txt`; else `python3` if it has PySpark).
//! Without them it prints SKIP; in CI with `WSAUDIT_SPARK_PYTHON` set it must run.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

fn spark_python() -> Option<String> {
    let py = std::env::var("WSAUDIT_SPARK_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&py)
        .args(["-c", "import pyspark, pyarrow"])
        .output()
        .is_ok_and(|o| o.status.success())
        && Command::new("java").arg("-version").output().is_ok();
    ok.then_some(py)
}

fn fixture_captures() -> Vec<PathBuf> {
    common::fixture_captures()
}

#[test]
fn the_spark_job_gives_the_per_code_numbers_wsaudit_gives() {
    let Some(py) = spark_python() else {
        if std::env::var_os("WSAUDIT_SPARK_PYTHON").is_some() {
            panic!("WSAUDIT_SPARK_PYTHON is set but has no PySpark, or there is no java");
        }
        println!("SKIP: no Python with PySpark and pyarrow, or no java (set WSAUDIT_SPARK_PYTHON)");
        return;
    };
    let caps = fixture_captures();
    assert!(caps.len() >= 5);
    let dir = common::TempDir::new("spark");
    let out = dir.path().join("fleet");
    let report = dir.path().join("per_code.json");
    let job = Command::new(&py)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/contrib/spark/wsaudit_spark.py"
        ))
        .args(["--master", "local[2]", "--wsaudit", common::bin()])
        .arg("--out")
        .arg(&out)
        .arg("--report-json")
        .arg(&report)
        .args(&caps)
        .env("SPARK_LOCAL_IP", "127.0.0.1")
        .output()
        .unwrap();
    assert!(
        job.status.success(),
        "{}",
        String::from_utf8_lossy(&job.stderr)
            .lines()
            .filter(|l| !l.contains("WARN"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // Spark's per-code numbers.
    let rows: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let spark: BTreeMap<String, u64> = rows
        .iter()
        .map(|r| {
            let code = r["close_code"]
                .as_u64()
                .map_or("open".to_string(), |c| c.to_string());
            (code, r["sessions"].as_u64().unwrap())
        })
        .collect();
    // wsaudit's, over the same files.
    let sum = dir.path().join("sum.csv");
    let run = Command::new(common::bin())
        .args(["analyze", "--format", "json", "--summary"])
        .arg(&sum)
        .args(&caps)
        .output()
        .unwrap();
    assert!(run.status.success());
    let analyzed: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    let text = std::fs::read_to_string(&sum).unwrap();
    for line in text.lines().skip(1) {
        let mut f = line.split(',');
        let code = f.next().unwrap().to_string();
        f.next();
        want.insert(code, f.next().unwrap().parse().unwrap());
    }
    let total = analyzed["sessions"].as_u64().unwrap();
    let coded: u64 = want.values().sum();
    if total > coded {
        want.insert("open".into(), total - coded);
    }
    assert_eq!(spark, want, "Spark SQL per code vs wsaudit");
    // The dataset is partitioned by date, and names the original captures.
    let dates: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("date="))
        .collect();
    assert!(
        !dates.is_empty(),
        "no date= partitions in {}",
        out.display()
    );
    let again = Command::new(common::bin())
        .args(["report", "--format", "json"])
        .arg(&out)
        .output()
        .unwrap();
    let notes = String::from_utf8_lossy(&again.stderr).into_owned();
    assert!(
        !notes.contains("_SUCCESS") && !notes.contains(".crc"),
        "Spark's bookkeeping files are passed over without a note:\n{notes}"
    );
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(
        again["sessions"], analyzed["sessions"],
        "`wsaudit report` over the Spark dataset"
    );
}
