//! Proxies (issue 17): real nginx, HAProxy and mitmproxy between real libraries
//! (`fixtures/proxy/`, `fixtures/logs/proxy/`), both legs of every session in one capture.
//! Every expected value comes from the truth files: what the libraries at both ends
//! reported, tshark's view of each leg's TCP end, and the proxies' own logs.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn proxy_dir() -> PathBuf {
    common::fixtures().join("proxy")
}

fn truth(name: &str) -> Value {
    let p = proxy_dir().join(format!("{name}.truth.json"));
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// `wsaudit analyze INPUTS --sessions s.json --proxies p.json --format json`: (report,
/// session rows, pairs).
fn run(inputs: &[PathBuf], extra: &[&str]) -> (Value, Vec<Value>, Vec<Value>) {
    let dir = common::TempDir::new("proxies");
    let s = dir.path().join("s.json");
    let p = dir.path().join("p.json");
    let out = Command::new(common::bin())
        .arg("analyze")
        .args(inputs)
        .arg("--sessions")
        .arg(&s)
        .arg("--proxies")
        .arg(&p)
        .args(["--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = read_json(&s).as_array().unwrap().clone();
    let pairs = read_json(&p).as_array().unwrap().clone();
    (report, rows, pairs)
}

fn addr(row: &Value) -> String {
    format!(
        "{}:{}",
        row["client_ip"].as_str().unwrap(),
        row["client_port"].as_u64().unwrap()
    )
}

/// session_id -> client address (ip:port) of each row.
fn clients(rows: &[Value]) -> BTreeMap<String, String> {
    rows.iter()
        .map(|r| (r["session_id"].as_str().unwrap().to_string(), addr(r)))
        .collect()
}

/// The pair whose downstream leg's client is `client`.
fn pair_of<'a>(pairs: &'a [Value], ids: &BTreeMap<String, String>, client: &str) -> &'a Value {
    pairs
        .iter()
        .find(|p| {
            ids.get(p["downstream_session_id"].as_str().unwrap())
                .map(String::as_str)
                == Some(client)
        })
        .unwrap_or_else(|| panic!("no pair for the downstream leg of {client}"))
}

/// What the truth says about how a leg's TCP ended first, as `tcp_end` words.
fn tcp_end_word(leg: &Value, downstream: bool) -> String {
    let by = leg["ended_first_by"].as_str().unwrap();
    let with = leg["ended_first_with"].as_str().unwrap().to_lowercase();
    // downstream: client = the client, proxy = its server; upstream: proxy = its client
    let side = match (downstream, by) {
        (true, "client") | (false, "proxy") => "client",
        _ => "server",
    };
    format!("{side}_{with}")
}

/// Every truth session is one pair: the right legs, the right proxy, matched on the
/// key, each leg's end as tshark saw it, rewriting and cuts as the libraries reported.
fn check_pairs(t: &Value, rows: &[Value], pairs: &[Value]) {
    let ids = clients(rows);
    let sessions = t["sessions"].as_array().unwrap();
    assert_eq!(pairs.len(), sessions.len(), "one pair per user session");
    for s in sessions {
        let id = s["id"].as_str().unwrap();
        let down = &s["downstream"];
        let up = &s["upstream"];
        let p = pair_of(pairs, &ids, down["client"].as_str().unwrap());
        let up_id = p["upstream_session_id"].as_str().unwrap();
        assert_eq!(
            ids[up_id],
            up["client"].as_str().unwrap(),
            "{id}: upstream leg"
        );
        assert_eq!(p["proxy"], down["server"], "{id}: proxy address");
        assert_eq!(p["confidence"], "key", "{id}");
        assert_eq!(
            p["downstream_tcp_end"].as_str().unwrap(),
            tcp_end_word(down, true),
            "{id}: downstream end"
        );
        assert_eq!(
            p["upstream_tcp_end"].as_str().unwrap(),
            tcp_end_word(up, false),
            "{id}: upstream end"
        );
        assert_eq!(
            p["code_rewritten"], s["code_rewritten"],
            "{id}: code_rewritten"
        );
        assert_eq!(p["proxy_cut"], s["proxy_cut"], "{id}: proxy_cut");
        let own = if s["proxy_sent_close_to_client"] == true {
            Value::from("client")
        } else if s["proxy_sent_close_to_server"] == true {
            Value::from("server")
        } else {
            Value::Null
        };
        assert_eq!(p["proxy_close_to"], own, "{id}: the proxy's own Close");
        let code = |c: &Value| {
            c.get("code")
                .cloned()
                .map(|c| if c.is_null() { Value::from(1005) } else { c })
                .unwrap_or(Value::Null)
        };
        assert_eq!(
            p["client_received_code"],
            code(&s["client_received_close"]),
            "{id}"
        );
        assert_eq!(p["server_sent_code"], code(&s["server_sent_close"]), "{id}");
    }
}

#[test]
fn every_pair_is_found_in_one_capture() {
    for name in ["proxy_nginx", "proxy_haproxy", "proxy_mitm"] {
        let t = truth(name);
        let (report, rows, pairs) = run(&[proxy_dir().join(format!("{name}.pcap"))], &[]);
        check_pairs(&t, &rows, &pairs);
        // each user session once in the figures, every leg in the per-leg view
        let n = t["sessions"].as_array().unwrap().len() as u64;
        assert_eq!(report["sessions"].as_u64(), Some(n), "{name}");
        let legs: u64 = report["codes_per_leg"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["sessions"].as_u64().unwrap())
            .sum();
        assert_eq!(legs, 2 * n, "{name}: per-leg view");
        assert_eq!(report["proxies"]["paired_sessions"].as_u64(), Some(n));
    }
}

#[test]
fn pairs_are_found_across_the_two_halves_and_the_skew_measured() {
    let t = truth("proxy_nginx");
    let halves = &t["halves"];
    let (report, rows, pairs) = run(
        &[
            proxy_dir().join(halves["front"].as_str().unwrap()),
            proxy_dir().join(halves["back"].as_str().unwrap()),
        ],
        &[],
    );
    check_pairs(&t, &rows, &pairs);
    for p in &pairs {
        assert_ne!(p["downstream_capture"], p["upstream_capture"]);
    }
    let skews = report["proxies"]["skews"].as_array().unwrap();
    assert_eq!(skews.len(), 1, "{skews:?}");
    let want = halves["back_clock_offset_s"].as_f64().unwrap();
    let got = skews[0]["skew_s"].as_f64().unwrap();
    assert!(
        (got - want).abs() < 0.01,
        "skew {got} s, the back half was shifted by {want} s"
    );
    assert!(skews[0]["upstream_capture"]
        .as_str()
        .unwrap()
        .contains("back"));
    // the legs' ends compared with the skew taken out: as in the single capture
    let (_, rows1, pairs1) = run(&[proxy_dir().join("proxy_nginx.pcap")], &[]);
    let first = |rows: &[Value], pairs: &[Value]| -> BTreeMap<String, Value> {
        let ids = clients(rows);
        pairs
            .iter()
            .map(|p| {
                (
                    ids[p["downstream_session_id"].as_str().unwrap()].clone(),
                    p["first_leg_ended"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(first(&rows, &pairs), first(&rows1, &pairs1));
}

/// The finding sentence, built from the truth: count, idle, what the proxy sent.
fn cut_sentence(proxy: &str, cuts: &[&Value]) -> String {
    let mut idle: Vec<f64> = cuts
        .iter()
        .map(|s| s["idle_before_end_ms"].as_f64().unwrap() / 1000.0)
        .collect();
    idle.sort_by(f64::total_cmp);
    let m = idle.len();
    let med = if m % 2 == 1 {
        idle[m / 2]
    } else {
        (idle[m / 2 - 1] + idle[m / 2]) / 2.0
    };
    let sent = |f: &dyn Fn(&Value) -> String| -> String {
        let set: BTreeSet<String> = cuts.iter().map(|s| f(s)).collect();
        assert_eq!(set.len(), 1, "mixed ends in the truth: {set:?}");
        set.into_iter().next().unwrap()
    };
    let to_client = sent(&|s| {
        s["downstream"]["fin_rst_server_side"]
            .as_str()
            .unwrap()
            .to_string()
    });
    let to_server = sent(&|s| {
        s["upstream"]["fin_rst_client_side"]
            .as_str()
            .unwrap()
            .to_string()
    });
    format!(
        "the proxy {proxy} closed both legs of {m} sessions after {med:.1} s idle, with no Close \
         frame ({to_client} to the client, {to_server} to the server)"
    )
}

#[test]
fn the_proxy_cut_is_named_with_its_idle_time() {
    for name in ["proxy_nginx", "proxy_haproxy"] {
        let t = truth(name);
        let proxy = t["proxy"]["address"].as_str().unwrap();
        let sessions = t["sessions"].as_array().unwrap();
        let idle_cuts: Vec<&Value> = sessions
            .iter()
            .filter(|s| s["cut_cause"] == "idle_timeout")
            .collect();
        assert!(idle_cuts.len() >= 2, "{name}");
        let (_, rows, pairs) = run(&[proxy_dir().join(format!("{name}.pcap"))], &[]);
        let ids = clients(&rows);
        for s in &idle_cuts {
            let p = pair_of(&pairs, &ids, s["downstream"]["client"].as_str().unwrap());
            let want = s["idle_before_end_ms"].as_f64().unwrap() / 1000.0;
            let got = p["idle_s"].as_f64().unwrap();
            assert!(
                (got - want).abs() < 0.05,
                "{name} {}: idle {got} s, tshark {want} s",
                s["id"]
            );
        }
        let out = Command::new(common::bin())
            .arg("analyze")
            .arg(proxy_dir().join(format!("{name}.pcap")))
            .env("COLUMNS", "400")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).replace("\n  ", " ");
        let want = cut_sentence(proxy, &idle_cuts);
        assert!(text.contains(&want), "{name}: want `{want}` in\n{text}");
    }
}

#[test]
fn no_rewriting_where_codes_passed_through() {
    for name in ["proxy_nginx", "proxy_haproxy"] {
        let t = truth(name);
        assert!(t["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["code_rewritten"] == false));
        let (report, _, pairs) = run(&[proxy_dir().join(format!("{name}.pcap"))], &[]);
        assert!(pairs.iter().all(|p| p["code_rewritten"] == false), "{name}");
        assert!(report["proxies"]["proxies"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["codes_rewritten"] == 0));
    }
}

#[test]
fn rewriting_is_found_where_it_happened() {
    let t = truth("proxy_mitm");
    let want: BTreeSet<String> = t["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["code_rewritten"] == true)
        .map(|s| s["downstream"]["client"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(want.len(), 3);
    let (_, rows, pairs) = run(&[proxy_dir().join("proxy_mitm.pcap")], &[]);
    let ids = clients(&rows);
    let got: BTreeSet<String> = pairs
        .iter()
        .filter(|p| p["code_rewritten"] == true)
        .map(|p| ids[p["downstream_session_id"].as_str().unwrap()].clone())
        .collect();
    assert_eq!(got, want);
}

#[test]
fn by_proxy_groups_user_sessions() {
    let t = truth("proxy_haproxy");
    let n = t["sessions"].as_array().unwrap().len() as u64;
    let (report, _, _) = run(
        &[proxy_dir().join("proxy_haproxy.pcap")],
        &["--by", "proxy"],
    );
    let b = &report["breakdowns"][0];
    assert_eq!(b["by"], "proxy");
    let rows = b["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{b}");
    assert_eq!(rows[0]["group"], t["proxy"]["address"]);
    assert_eq!(rows[0]["sessions"].as_u64(), Some(n));
}

// ------------------------------------------------------------------------ proxy logs

fn log_truth(name: &str) -> Value {
    let p = common::fixtures().join("logs/proxy").join(name);
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn log_rows(files: &[&str]) -> Vec<Value> {
    let dir = common::TempDir::new("proxylogs");
    let s = dir.path().join("s.json");
    let out = Command::new(common::bin())
        .arg("analyze")
        .args(
            files
                .iter()
                .map(|f| common::fixtures().join("logs/proxy").join(f)),
        )
        .arg("--sessions")
        .arg(&s)
        .arg("-q")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    read_json(&s).as_array().unwrap().clone()
}

#[test]
fn nginx_error_log_cuts_are_joined_to_their_access_lines() {
    let t = log_truth("nginx.truth.json");
    let rows = log_rows(&["nginx_access.log", "nginx_error.log"]);
    let sessions = t["sessions"].as_array().unwrap();
    // one row per access line (the error lines are folded into them)
    assert_eq!(rows.len(), sessions.len());
    let mut found = 0;
    for s in sessions {
        let ip = s["client"].as_str().unwrap().rsplit_once(':').unwrap().0;
        let path = s["path"].as_str().unwrap();
        let candidates: Vec<&Value> = rows
            .iter()
            .filter(|r| r["client_ip"] == ip && r["path"] == path)
            .collect();
        assert!(!candidates.is_empty(), "{ip} {path}");
        let cut = candidates.iter().any(|r| r["proxy_cut"] == true);
        match s["cut_cause"].as_str() {
            // nginx's error log names its idle cuts
            Some("idle_timeout") => {
                assert!(cut, "{ip} {path}: an idle cut not found");
                let r = candidates.iter().find(|r| r["proxy_cut"] == true).unwrap();
                assert_eq!(r["ending"], "abnormal");
                assert_eq!(r["close_code"], 1006);
                found += 1;
            }
            // reload / quit: nginx logs nothing about them (see fixtures/proxy/README.md)
            Some(_) => assert!(!cut && candidates.iter().all(|r| r["ending"].is_null())),
            // normal closes are never called cuts
            None => assert!(
                !cut && candidates.iter().all(|r| r["ending"] != "abnormal"),
                "{ip} {path}"
            ),
        }
    }
    assert_eq!(found, 3);
    // and the diagnosis says so
    let out = Command::new(common::bin())
        .arg("analyze")
        .arg(common::fixtures().join("logs/proxy/nginx_access.log"))
        .arg(common::fixtures().join("logs/proxy/nginx_error.log"))
        .env("COLUMNS", "400")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).replace("\n  ", " ");
    assert!(
        text.contains(&format!(
            "{found} of them were cut by a proxy, as its own log says"
        )),
        "{text}"
    );
}

#[test]
fn haproxy_httplog_sessions_and_their_cuts() {
    let t = log_truth("haproxy.truth.json");
    let rows = log_rows(&["haproxy_httplog.log"]);
    let sessions = t["sessions"].as_array().unwrap();
    assert_eq!(rows.len(), sessions.len(), "status 101 lines only");
    for s in sessions {
        let client = s["client"].as_str().unwrap();
        let r = rows
            .iter()
            .find(|r| addr(r) == client)
            .unwrap_or_else(|| panic!("no row for {client}"));
        assert_eq!(r["proxy_cut"], s["proxy_cut"], "{client}");
        if s["proxy_cut"] == true {
            assert_eq!(r["ending"], "abnormal", "{client}");
        } else {
            assert!(
                r["ending"].is_null(),
                "{client}: the line holds no close code"
            );
        }
    }
}

#[test]
fn log_format_forces_the_proxy_log_readers() {
    // Forced, each reader takes its own lines and nothing else: the error log's cuts
    // (rows of their own without the access log), HAProxy's 101 lines.
    let dir = common::TempDir::new("proxyfmt");
    for (format, file, truth, want) in [
        (
            "nginx_error",
            "nginx_error.log",
            "nginx.truth.json",
            "idle_timeout",
        ),
        ("haproxy", "haproxy_httplog.log", "haproxy.truth.json", ""),
    ] {
        let s = dir.path().join(format!("{format}.json"));
        let out = Command::new(common::bin())
            .arg("analyze")
            .arg(common::fixtures().join("logs/proxy").join(file))
            .args(["--log-format", format, "-q", "--sessions"])
            .arg(&s)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rows = read_json(&s).as_array().unwrap().clone();
        let t = log_truth(truth);
        let expected = t["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| want.is_empty() || x["cut_cause"] == want)
            .count();
        assert_eq!(rows.len(), expected, "{format}");
        assert!(rows.iter().all(|r| r["source"] == format), "{format}");
    }
}

#[test]
fn markdown_and_html_pages_have_the_proxies_section() {
    let t = truth("proxy_haproxy");
    let proxy = t["proxy"]["address"].as_str().unwrap();
    let cuts: Vec<&Value> = t["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["cut_cause"] == "idle_timeout")
        .collect();
    let want = cut_sentence(proxy, &cuts);
    let dir = common::TempDir::new("proxypages");
    let (md, html) = (dir.path().join("r.md"), dir.path().join("r.html"));
    let out = Command::new(common::bin())
        .arg("analyze")
        .arg(proxy_dir().join("proxy_haproxy.pcap"))
        .arg("--markdown")
        .arg(&md)
        .arg("--html")
        .arg(&html)
        .arg("-q")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(md).unwrap();
    let n = t["sessions"].as_array().unwrap().len();
    let row = format!("| {proxy} | {n} | {} | 0 | 0 | 0 |", cuts.len());
    assert!(md.contains(&row), "want `{row}` in\n{md}");
    let mut upper = want.clone();
    upper[..1].make_ascii_uppercase();
    assert!(md.contains(&upper), "want `{upper}` in\n{md}");
    let html = std::fs::read_to_string(html).unwrap();
    assert!(
        html.contains("id=\"proxies\""),
        "no proxies section in the HTML"
    );
    assert!(html.contains(&upper), "want `{upper}` in the HTML");
}

/// The README's Proxies example is what the tool prints (its quoted lines, in order;
/// `...` marks a cut).
#[test]
fn readme_proxies_example_is_real_output() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let start = readme.find("## Proxies").expect("a Proxies section");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let block = section
        .split("```")
        .nth(1)
        .expect("an example")
        .trim_start_matches('\n');
    let mut lines = block.lines();
    let cmd = lines.next().unwrap().strip_prefix("$ wsaudit ").unwrap();
    let out = Command::new(common::bin())
        .args(cmd.split_whitespace())
        .current_dir(root)
        .output()
        .unwrap();
    let got = String::from_utf8_lossy(&out.stdout).to_string();
    let got: Vec<&str> = got.lines().collect();
    let mut at = 0;
    for want in lines.filter(|l| *l != "...") {
        let i = got[at..]
            .iter()
            .position(|g| *g == want)
            .unwrap_or_else(|| {
                panic!(
                    "README line `{want}` not in the output (in order):\n{}",
                    got.join("\n")
                )
            });
        at += i + 1;
    }
}

/// Pairing reads only table columns: `wsaudit report` over the exported session table
/// (Parquet and CSV) finds the same pairs as `analyze` over the capture.
#[test]
fn report_over_exported_tables_finds_the_same_pairs() {
    let dir = common::TempDir::new("proxyreport");
    let cap = proxy_dir().join("proxy_mitm.pcap");
    let (_, _, direct) = run(std::slice::from_ref(&cap), &[]);
    for ext in ["parquet", "csv"] {
        let table = dir.path().join(format!("s.{ext}"));
        let ok = Command::new(common::bin())
            .arg("analyze")
            .arg(&cap)
            .arg("--sessions")
            .arg(&table)
            .arg("-q")
            .status()
            .unwrap();
        assert!(ok.success());
        let p = dir.path().join(format!("p-{ext}.json"));
        let ok = Command::new(common::bin())
            .arg("report")
            .arg(&table)
            .arg("--proxies")
            .arg(&p)
            .arg("-q")
            .status()
            .unwrap();
        assert!(ok.success());
        let back = read_json(&p).as_array().unwrap().clone();
        assert_eq!(back.len(), direct.len(), "{ext}");
        let key = |v: &Value| {
            let mut v = v.clone();
            v.as_object_mut().unwrap().remove("downstream_capture");
            v.as_object_mut().unwrap().remove("upstream_capture");
            v.to_string()
        };
        let mut a: Vec<String> = direct.iter().map(key).collect();
        let mut b: Vec<String> = back.iter().map(key).collect();
        a.sort();
        b.sort();
        assert_eq!(a, b, "{ext}");
    }
}
