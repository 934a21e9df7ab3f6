//! Throughput benchmark of `wsaudit analyze` (harness = false; Linux only).
//!
//! `cargo bench --bench throughput`, configured by environment variables (see
//! `benches/README.md`):
//!
//! - `WSAUDIT_BENCH_SIZE` (default `1GiB`): size of each generated capture.
//! - `WSAUDIT_BENCH_PROFILE` (`mixed`, `small`, `wss`, `both` = mixed and small, or
//!   `all`; default `both`). `wss` replays the TLS fixtures with their key logs: the
//!   cost of decryption.
//! - `WSAUDIT_BENCH_DIR` (default `target/bench-data`): where captures and outputs go.
//! - `WSAUDIT_BENCH_TSHARK` (`1` default: compare with tshark when it is on PATH; `0` skip).
//! - `WSAUDIT_BENCH_RUNS` (default 3; the best run counts), `WSAUDIT_BENCH_SEED` (42).
//! - `WSAUDIT_BENCH_MODE=stages`: instead of the throughput table, the CPU time per GiB of
//!   each stage of a sharded read (reader, pager, decoders, workers, from the binary's
//!   `WSAUDIT_STAGE_CPU` line) and of the record walk alone, the projected throughput on
//!   4-64 cores, and one run per `WSAUDIT_BENCH_THREADS` (default `1,2,3,4,8,16`) whose
//!   session tables must be identical (the bench fails otherwise).
//!
//! For each profile: generate the capture with the generator in `examples/gencap.rs`
//! (compiled into this benchmark) unless it is already there, read it once to put it in
//! the page cache, time the release `wsaudit` binary on it, check the session counts
//! against the generator's expected counts, and time tshark on the same file.

#[path = "../examples/gencap.rs"]
#[allow(dead_code)]
mod gencap;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use polars::prelude::*;
use polars_io::parquet::read::ParquetReader;

// ---------------------------------------------------------------------------------------
// Child processes: wall time and peak RSS via wait4(2) (no extra dependency: the C
// library is linked anyway). ru_maxrss is the child's own peak resident set in KiB.

#[repr(C)]
#[derive(Default)]
struct Timeval {
    sec: std::os::raw::c_long,
    usec: std::os::raw::c_long,
}

#[repr(C)]
#[derive(Default)]
struct Rusage {
    utime: Timeval,
    stime: Timeval,
    maxrss: std::os::raw::c_long,
    rest: [std::os::raw::c_long; 13],
}

extern "C" {
    fn wait4(pid: i32, status: *mut i32, options: i32, rusage: *mut Rusage) -> i32;
}

struct RunStats {
    wall: Duration,
    cpu: Duration,
    /// `ru_maxrss`: the peak resident set, file-backed pages (the mapped capture) included.
    max_rss_kib: u64,
    /// Peaks of `RssAnon` (heap, stacks) and `RssFile` (mapped files) sampled every 5 ms
    /// from `/proc/<pid>/status`.
    max_anon_kib: u64,
    max_file_kib: u64,
    exit: i32,
}

/// `RssAnon` and `RssFile` of a running process, in KiB.
fn rss_split(pid: i32) -> Option<(u64, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let get = |k: &str| -> Option<u64> {
        s.lines()
            .find(|l| l.starts_with(k))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    Some((get("RssAnon:")?, get("RssFile:")?))
}

fn run_measured(cmd: &mut Command) -> Result<RunStats> {
    let start = Instant::now();
    let child = cmd.spawn().with_context(|| format!("starting {cmd:?}"))?;
    let pid = child.id() as i32;
    let mut status = 0i32;
    let mut ru = Rusage::default();
    let (mut anon, mut filed) = (0u64, 0u64);
    const WNOHANG: i32 = 1;
    loop {
        // SAFETY: plain syscall on our own child with valid out-pointers.
        let r = unsafe { wait4(pid, &mut status, WNOHANG, &mut ru) };
        if r == pid {
            break;
        }
        if r == 0 {
            // Still running: sample its memory (a zombie reports no Rss lines).
            if let Some((a, f)) = rss_split(pid) {
                anon = anon.max(a);
                filed = filed.max(f);
            }
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            bail!("wait4: {e}");
        }
    }
    let wall = start.elapsed();
    // The child is reaped; dropping the handle neither waits nor kills.
    drop(child);
    let cpu = |t: &Timeval| Duration::new(t.sec as u64, t.usec as u32 * 1000);
    let exit = if status & 0x7f == 0 {
        (status >> 8) & 0xff
    } else {
        128 + (status & 0x7f)
    };
    Ok(RunStats {
        wall,
        cpu: cpu(&ru.utime) + cpu(&ru.stime),
        max_rss_kib: ru.maxrss as u64,
        max_anon_kib: anon,
        max_file_kib: filed,
        exit,
    })
}

// ---------------------------------------------------------------------------------------
// Configuration

struct Config {
    size: u64,
    size_label: String,
    profiles: Vec<gencap::Profile>,
    dir: PathBuf,
    tshark: bool,
    runs: usize,
    seed: u64,
}

fn env_or(k: &str, d: &str) -> String {
    std::env::var(k)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| d.to_string())
}

fn config() -> Result<Config> {
    let size_label = env_or("WSAUDIT_BENCH_SIZE", "1GiB");
    let profiles = match env_or("WSAUDIT_BENCH_PROFILE", "both").as_str() {
        "mixed" => vec![gencap::Profile::Mixed],
        "small" => vec![gencap::Profile::Small],
        "wss" => vec![gencap::Profile::Wss],
        "both" => vec![gencap::Profile::Mixed, gencap::Profile::Small],
        "all" => vec![
            gencap::Profile::Mixed,
            gencap::Profile::Small,
            gencap::Profile::Wss,
        ],
        p => bail!("WSAUDIT_BENCH_PROFILE={p:?}: use mixed, small, wss, both or all"),
    };
    Ok(Config {
        size: gencap::parse_size(&size_label)?,
        size_label: size_label.replace(|c: char| !c.is_ascii_alphanumeric(), ""),
        profiles,
        dir: PathBuf::from(env_or(
            "WSAUDIT_BENCH_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench-data"),
        )),
        tshark: env_or("WSAUDIT_BENCH_TSHARK", "1") != "0",
        runs: env_or("WSAUDIT_BENCH_RUNS", "3").parse()?,
        seed: env_or("WSAUDIT_BENCH_SEED", "42").parse()?,
    })
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let n = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or("?".into(), |kib| {
            format!("{:.0} GiB", kib as f64 / 1048576.0)
        });
    format!("{n} cores (nproc), {cpu}, {mem} RAM")
}

fn git_head() -> String {
    Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn on_path(exe: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(exe).is_file()))
}

/// Read the whole file once so that the timed runs find it in the page cache.
fn warm(path: &Path) -> Result<(u64, Duration)> {
    let start = Instant::now();
    let mut f = File::open(path)?;
    let mut buf = vec![0u8; 16 << 20];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    Ok((total, start.elapsed()))
}

// ---------------------------------------------------------------------------------------
// Checks

#[derive(serde::Deserialize)]
struct Expected {
    #[serde(default)]
    profile: String,
    bytes: u64,
    packets: u64,
    connections: u64,
    websocket_sessions: u64,
    sessions_by_ending: BTreeMap<String, u64>,
    sessions_by_close_code: BTreeMap<String, u64>,
    refused_by_status: BTreeMap<String, u64>,
    server_ports: Vec<u16>,
}

type Key = (String, String);

fn pair_key(a: String, b: String) -> Key {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

struct Sessions {
    by_ending: BTreeMap<String, u64>,
    by_code: BTreeMap<String, u64>,
    /// Sessions with a Close frame: address pair -> close code.
    closes: HashMap<Key, u16>,
    total: u64,
}

fn read_sessions(path: &Path) -> Result<Sessions> {
    let df = ParquetReader::new(File::open(path)?).finish()?;
    let s =
        |name: &str| -> Result<Series> { Ok(df.column(name)?.as_materialized_series().clone()) };
    let ending = s("ending")?;
    let ending = ending.str()?;
    let code = s("close_code")?;
    let code = code.u16()?;
    let cip = s("client_ip")?;
    let cip = cip.str()?;
    let cport = s("client_port")?;
    let cport = cport.u16()?;
    let sip = s("server_ip")?;
    let sip = sip.str()?;
    let sport = s("server_port")?;
    let sport = sport.u16()?;
    let mut out = Sessions {
        by_ending: BTreeMap::new(),
        by_code: BTreeMap::new(),
        closes: HashMap::new(),
        total: df.height() as u64,
    };
    for i in 0..df.height() {
        let e = ending.get(i).unwrap_or("?").to_string();
        let c = code.get(i);
        *out.by_code
            .entry(c.map_or("null".into(), |c| c.to_string()))
            .or_default() += 1;
        if matches!(e.as_str(), "normal" | "announced" | "no_status") {
            if let (Some(c), Some(ci), Some(cp), Some(si), Some(sp)) =
                (c, cip.get(i), cport.get(i), sip.get(i), sport.get(i))
            {
                out.closes
                    .insert(pair_key(format!("{ci}:{cp}"), format!("{si}:{sp}")), c);
            }
        }
        *out.by_ending.entry(e).or_default() += 1;
    }
    Ok(out)
}

fn read_refused(path: &Path) -> Result<BTreeMap<String, u64>> {
    let df = ParquetReader::new(File::open(path)?).finish()?;
    let st = df.column("status")?.as_materialized_series().clone();
    let st = st.u16()?;
    let mut m = BTreeMap::new();
    for i in 0..st.len() {
        let v = st.get(i);
        *m.entry(v.map_or("null".into(), |v| v.to_string()))
            .or_default() += 1;
    }
    Ok(m)
}

/// Compare two count maps; prints one line per key, returns whether all agree.
fn compare(what: &str, expected: &BTreeMap<String, u64>, got: &BTreeMap<String, u64>) -> bool {
    let mut ok = true;
    let keys: std::collections::BTreeSet<&String> = expected.keys().chain(got.keys()).collect();
    for k in keys {
        let e = expected.get(k).copied().unwrap_or(0);
        let g = got.get(k).copied().unwrap_or(0);
        let tag = if e == g { "OK" } else { "MISMATCH" };
        ok &= e == g;
        println!("  {tag:8} {what} {k:>10}: expected {e:>8}, wsaudit {g:>8}");
    }
    ok
}

struct TsharkResult {
    stats: RunStats,
    streams: usize,
    agree: usize,
    differ: Vec<(Key, u16, u16)>,
    tshark_only: Vec<(Key, u16)>,
    wsaudit_only: Vec<(Key, u16)>,
}

fn run_tshark(pcap: &Path, exp: &Expected, ws: &Sessions, out: &Path) -> Result<TsharkResult> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"])
        .arg(pcap)
        .args(["-o", "tcp.reassemble_out_of_order:TRUE"]);
    let keys = pcap.with_extension("keys");
    let tls = exp.profile == "wss";
    if tls {
        cmd.args(["-o", &format!("tls.keylog_file:{}", keys.display())]);
    }
    for p in exp.server_ports.iter().filter(|&&p| p != 80) {
        let proto = if tls { "tls" } else { "http" };
        cmd.args(["-d", &format!("tcp.port=={p},{proto}")]);
        if tls {
            cmd.args(["-d", &format!("tls.port=={p},http")]);
        }
    }
    cmd.args(["-Y", "websocket.opcode==8", "-T", "fields"]);
    for f in [
        "tcp.stream",
        "websocket.payload.close.status_code",
        "ip.src",
        "ipv6.src",
        "tcp.srcport",
        "ip.dst",
        "ipv6.dst",
        "tcp.dstport",
    ] {
        cmd.args(["-e", f]);
    }
    cmd.stdout(File::create(out)?).stderr(Stdio::null());
    println!("  running: {}", shell_words(&cmd));
    let stats = run_measured(&mut cmd)?;
    let mut first: HashMap<u64, (Key, u16)> = HashMap::new();
    for line in BufReader::new(File::open(out)?).lines() {
        let line = line?;
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 8 {
            continue;
        }
        let Ok(stream) = f[0].parse::<u64>() else {
            continue;
        };
        if first.contains_key(&stream) {
            continue;
        }
        // Several Close frames in one packet: the first one counts; an empty Close has
        // no status code (wsaudit reports 1005).
        let code = f[1]
            .split(',')
            .next()
            .and_then(|c| c.parse::<u16>().ok())
            .unwrap_or(1005);
        let src = if f[2].is_empty() { f[3] } else { f[2] };
        let dst = if f[5].is_empty() { f[6] } else { f[5] };
        let fmt = |ip: &str, port: &str| {
            // Tunnelled packets list several addresses: the first is the outer one.
            let ip = ip.split(',').next().unwrap_or("");
            format!("{ip}:{port}")
        };
        first.insert(stream, (pair_key(fmt(src, f[4]), fmt(dst, f[7])), code));
    }
    let mut r = TsharkResult {
        stats,
        streams: first.len(),
        agree: 0,
        differ: Vec::new(),
        tshark_only: Vec::new(),
        wsaudit_only: Vec::new(),
    };
    let mut seen: std::collections::HashSet<&Key> = std::collections::HashSet::new();
    let mut streams: Vec<_> = first.values().collect();
    streams.sort();
    for (k, code) in streams {
        match ws.closes.get(k) {
            Some(&c) if c == *code => r.agree += 1,
            Some(&c) => r.differ.push((k.clone(), *code, c)),
            None => r.tshark_only.push((k.clone(), *code)),
        }
        seen.insert(k);
    }
    let mut only: Vec<_> = ws
        .closes
        .iter()
        .filter(|(k, _)| !seen.contains(k))
        .map(|(k, &c)| (k.clone(), c))
        .collect();
    only.sort();
    r.wsaudit_only = only;
    Ok(r)
}

fn shell_words(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().to_string();
    for a in cmd.get_args() {
        let a = a.to_string_lossy();
        if a.contains(|c: char| c.is_whitespace() || "'=<>|&;()".contains(c)) {
            s.push_str(&format!(" '{a}'"));
        } else {
            s.push(' ');
            s.push_str(&a);
        }
    }
    s
}

// ---------------------------------------------------------------------------------------

struct Row {
    profile: &'static str,
    bytes: u64,
    packets: u64,
    best: Duration,
    runs: Vec<Duration>,
    cpu: Duration,
    rss_mib: f64,
    anon_mib: f64,
    counts_ok: bool,
    tshark: Option<(Duration, f64, String)>,
    /// What went wrong in this profile (a count that differs, a failed run, a close code
    /// tshark reads otherwise): any entry makes the bench exit non-zero.
    failures: Vec<String>,
}

/// The failures of every profile, each prefixed with its profile: the bench fails when
/// this is not empty. (Kept apart from `main` so that the rule is in one place.)
fn failures(rows: &[Row]) -> Vec<String> {
    rows.iter()
        .flat_map(|r| {
            r.failures
                .iter()
                .map(move |f| format!("{}: {f}", r.profile))
        })
        .collect()
}

/// The profile's capture in the bench folder (generated unless it is there), read once
/// so that it is in the page cache, with what the generator expects of it.
fn ready_capture(cfg: &Config, profile: gencap::Profile) -> Result<(PathBuf, Expected)> {
    let name = profile.name();
    let pcap = cfg
        .dir
        .join(format!("{name}-{}-seed{}.pcap", cfg.size_label, cfg.seed));
    let jpath = PathBuf::from(format!("{}.expected.json", pcap.display()));
    println!("\n== profile {name}: {}", pcap.display());
    if pcap.is_file() && jpath.is_file() {
        println!("  reusing the existing capture (delete it to regenerate)");
    } else {
        let t = Instant::now();
        gencap::generate(&gencap::Args::new(
            profile,
            cfg.size,
            cfg.seed,
            pcap.clone(),
        ))?;
        println!("  generated in {:.1} s", t.elapsed().as_secs_f64());
    }
    let exp: Expected = serde_json::from_slice(&std::fs::read(&jpath)?)?;
    let (n, d) = warm(&pcap)?;
    if n != exp.bytes {
        bail!(
            "{} has {n} bytes, its expected.json says {}",
            pcap.display(),
            exp.bytes
        );
    }
    println!(
        "  warm-up read: {:.2} GB in {:.2} s ({:.1} GB/s); {} packets, {} connections, {} WebSocket sessions",
        n as f64 / 1e9,
        d.as_secs_f64(),
        n as f64 / 1e9 / d.as_secs_f64(),
        exp.packets,
        exp.connections,
        exp.websocket_sessions
    );
    Ok((pcap, exp))
}

fn bench_profile(cfg: &Config, profile: gencap::Profile, bin: &Path) -> Result<Row> {
    let name = profile.name();
    let (pcap, exp) = ready_capture(cfg, profile)?;
    let jpath = PathBuf::from(format!("{}.expected.json", pcap.display()));
    let out = cfg.dir.join(format!("out-{name}.parquet"));
    let out_refused = cfg.dir.join(format!("out-{name}-refused.parquet"));
    let mut runs = Vec::new();
    let mut rss = 0u64;
    let mut anon = 0u64;
    let mut cpu = Duration::MAX;
    let mut failed = Vec::new();
    // The issue's command (with --refused, to count refused upgrades too).
    let analyze = |quiet: bool| {
        let mut cmd = Command::new(bin);
        cmd.arg("analyze")
            .arg(&pcap)
            .arg("--sessions")
            .arg(&out)
            .arg("--refused")
            .arg(&out_refused)
            .stdout(Stdio::null());
        if profile == gencap::Profile::Wss {
            // The key logs the TLS fixtures came with (gencap writes them beside).
            cmd.arg("--keylog").arg(pcap.with_extension("keys"));
        }
        if quiet {
            cmd.arg("-q");
        }
        cmd
    };
    for i in 0..cfg.runs.max(1) {
        let mut cmd = analyze(true);
        if i == 0 {
            println!("  running: {}", shell_words(&cmd));
        }
        let st = run_measured(&mut cmd)?;
        if st.exit != 0 {
            println!("  FAILED: wsaudit exited with status {}", st.exit);
            failed.push(format!(
                "run {}: wsaudit exited with status {}",
                i + 1,
                st.exit
            ));
        }
        println!(
            "  run {}: {:.3} s wall, {:.3} s CPU, {:.0} MB/s, {:.2} M packets/s, peak RSS {:.1} MiB \
             (sampled peaks: anon {:.1} MiB, file-backed {:.1} MiB)",
            i + 1,
            st.wall.as_secs_f64(),
            st.cpu.as_secs_f64(),
            exp.bytes as f64 / 1e6 / st.wall.as_secs_f64(),
            exp.packets as f64 / 1e6 / st.wall.as_secs_f64(),
            st.max_rss_kib as f64 / 1024.0,
            st.max_anon_kib as f64 / 1024.0,
            st.max_file_kib as f64 / 1024.0
        );
        rss = rss.max(st.max_rss_kib);
        anon = anon.max(st.max_anon_kib);
        if runs.iter().all(|r| st.wall < *r) {
            cpu = st.cpu;
        }
        runs.push(st.wall);
    }
    let best = *runs.iter().min().unwrap();

    // Once more without -q: the report printed too (it keeps ~0.35 KiB per session for
    // its exact quantiles and reconnects, while the export is merged from disk).
    let st = run_measured(&mut analyze(false))?;
    if st.exit != 0 {
        println!("  FAILED: wsaudit exited with status {}", st.exit);
        failed.push(format!(
            "run without -q: wsaudit exited with status {}",
            st.exit
        ));
    }
    println!(
        "  with the report printed (no -q): {:.3} s wall, peak RSS {:.1} MiB",
        st.wall.as_secs_f64(),
        st.max_rss_kib as f64 / 1024.0
    );

    println!("  count check against {}:", jpath.display());
    let ws = read_sessions(&out)?;
    let mut ok = compare("ending", &exp.sessions_by_ending, &ws.by_ending);
    ok &= compare("close_code", &exp.sessions_by_close_code, &ws.by_code);
    ok &= compare(
        "refused",
        &exp.refused_by_status,
        &read_refused(&out_refused)?,
    );
    let total_ok = ws.total == exp.websocket_sessions;
    println!(
        "  {:8} sessions   total: expected {:>8}, wsaudit {:>8}",
        if total_ok { "OK" } else { "MISMATCH" },
        exp.websocket_sessions,
        ws.total
    );
    ok &= total_ok;
    println!("  count check: {}", if ok { "OK" } else { "MISMATCH" });
    if !ok {
        failed.push(format!(
            "counts differ from {} (see the MISMATCH lines)",
            jpath.display()
        ));
    }

    let tshark = if !cfg.tshark {
        println!("  tshark skipped (WSAUDIT_BENCH_TSHARK=0)");
        None
    } else if !on_path("tshark") {
        println!("  tshark not installed: ratio skipped");
        None
    } else {
        let t = run_tshark(
            &pcap,
            &exp,
            &ws,
            &cfg.dir.join(format!("tshark-{name}.tsv")),
        )?;
        let ratio = t.stats.wall.as_secs_f64() / best.as_secs_f64();
        println!(
            "  tshark: {:.1} s wall, peak RSS {:.0} MiB, exit {}; ratio tshark/wsaudit {:.1}x",
            t.stats.wall.as_secs_f64(),
            t.stats.max_rss_kib as f64 / 1024.0,
            t.stats.exit,
            ratio
        );
        println!(
            "  close codes per session: {} streams with a Close in tshark, {} sessions with a Close in wsaudit; \
             {} agree, {} differ, {} only in tshark, {} only in wsaudit",
            t.streams,
            ws.closes.len(),
            t.agree,
            t.differ.len(),
            t.tshark_only.len(),
            t.wsaudit_only.len()
        );
        for (k, a, b) in t.differ.iter().take(5) {
            println!("    differ: {} <-> {}: tshark {a}, wsaudit {b}", k.0, k.1);
        }
        for (k, a) in t.tshark_only.iter().take(5) {
            println!("    only tshark: {} <-> {}: {a}", k.0, k.1);
        }
        for (k, a) in t.wsaudit_only.iter().take(5) {
            println!("    only wsaudit: {} <-> {}: {a}", k.0, k.1);
        }
        let same = t.differ.is_empty() && t.tshark_only.is_empty() && t.wsaudit_only.is_empty();
        let verdict = if same {
            "same close codes".to_string()
        } else {
            format!(
                "{} differ, {} tshark-only, {} wsaudit-only",
                t.differ.len(),
                t.tshark_only.len(),
                t.wsaudit_only.len()
            )
        };
        if !same {
            failed.push(format!("close codes against tshark: {verdict}"));
        }
        Some((t.stats.wall, ratio, verdict))
    };
    Ok(Row {
        profile: name,
        bytes: exp.bytes,
        packets: exp.packets,
        best,
        runs,
        cpu,
        rss_mib: rss as f64 / 1024.0,
        anon_mib: anon as f64 / 1024.0,
        counts_ok: ok,
        tshark,
        failures: failed,
    })
}

// ---------------------------------------------------------------------------------------
// Per-stage mode (`WSAUDIT_BENCH_MODE=stages`): CPU time per GiB of each stage of one
// capture's sharded read, the projection to many cores, and the same session table at
// every thread count.

/// CPU seconds per GiB of each stage, from `WSAUDIT_STAGE_CPU`'s line on stderr.
#[derive(Clone, Copy, Default)]
struct Stages {
    read: f64,
    page: f64,
    decode: f64,
    work: f64,
}

fn parse_stages(stderr: &str, gib: f64) -> Option<Stages> {
    let json = stderr
        .lines()
        .find_map(|l| l.strip_prefix("wsaudit: stage-cpu "))?;
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    let s = |k: &str| v.get(k).and_then(|x| x.as_f64()).map(|ns| ns / 1e9 / gib);
    Some(Stages {
        read: s("read_ns")?,
        page: s("page_ns")?,
        decode: s("decode_ns")?,
        work: s("work_ns")?,
    })
}

/// The record walk alone over the mapped, populated capture, on this thread: what the
/// reader's cost would be if it did nothing else. Best of `runs`, seconds per GiB.
fn header_walk(pcap: &Path, runs: usize) -> Result<(f64, u64)> {
    let file = File::open(pcap)?;
    let map = wsaudit::capture::guard::GuardedMap::open(file)?;
    let _ = map.mmap().advise(memmap2::Advice::PopulateRead);
    let gib = map.len() as f64 / (1u64 << 30) as f64;
    let mut best = f64::MAX;
    let mut packets = 0;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let mut bytes = 0u64;
        let sum = wsaudit::capture::read_guarded(&map, |p| bytes += p.data.len() as u64);
        best = best.min(t.elapsed().as_secs_f64());
        std::hint::black_box(bytes);
        packets = sum.packets;
    }
    Ok((best / gib, packets))
}

/// Projected GB/s of one capture on `cores` cores, from stage costs in CPU s/GiB: the
/// reader takes a core, `d` decoders, `d` pagers and `w` workers share the rest, and
/// the slowest of (reader, pagers together, decoders together, workers together, all
/// CPU over all cores) sets the pace. The best `d` wins.
fn project(s: &Stages, cores: usize) -> (f64, usize, usize, &'static str) {
    let gib = (1u64 << 30) as f64 / 1e9;
    let mut best = (0.0, 0, 0, "");
    let mut d = 1;
    while 1 + 2 * d < cores {
        let w = cores - 1 - 2 * d;
        let limits = [
            (s.read, "reader"),
            (s.page / d as f64, "pagers"),
            (s.decode / d as f64, "decoders"),
            (s.work / w as f64, "workers"),
            (
                (s.read + s.page + s.decode + s.work) / cores as f64,
                "all cores",
            ),
        ];
        let (t, why) = limits
            .iter()
            .copied()
            .fold((0.0, ""), |a, b| if b.0 > a.0 { b } else { a });
        let gbps = gib / t;
        if gbps > best.0 {
            best = (gbps, d, w, why);
        }
        d += 1;
    }
    best
}

fn bench_stages(cfg: &Config, profile: gencap::Profile, bin: &Path) -> Result<Vec<String>> {
    let name = profile.name();
    let (pcap, exp) = ready_capture(cfg, profile)?;
    let gib = exp.bytes as f64 / (1u64 << 30) as f64;
    let mut failed = Vec::new();
    let threads: Vec<usize> = env_or("WSAUDIT_BENCH_THREADS", "1,2,3,4,8,16")
        .split(',')
        .map(|t| t.trim().parse())
        .collect::<std::result::Result<_, _>>()?;
    let mut first_table: Option<(usize, Vec<u8>)> = None;
    let mut cpu_at_2 = None;
    let mut four: Option<Stages> = None;
    println!("  | --threads | best wall | CPU (user+sys) | MB/s | peak RSS | read | pager | decoders | workers (CPU s/GiB) | table |");
    println!("  |---|---|---|---|---|---|---|---|---|---|");
    for &t in &threads {
        let out = cfg.dir.join(format!("stages-{name}-{t}.csv"));
        let err = cfg.dir.join(format!("stages-{name}-{t}.stderr"));
        let mut best: Option<(RunStats, Stages)> = None;
        for _ in 0..cfg.runs.max(1) {
            let mut cmd = Command::new(bin);
            cmd.args(["analyze", "-q", "--threads", &t.to_string()])
                .arg(&pcap)
                .arg("--sessions")
                .arg(&out)
                .env("WSAUDIT_STAGE_CPU", "1")
                .stdout(Stdio::null())
                .stderr(File::create(&err)?);
            if profile == gencap::Profile::Wss {
                cmd.arg("--keylog").arg(pcap.with_extension("keys"));
            }
            let st = run_measured(&mut cmd)?;
            if st.exit != 0 {
                failed.push(format!(
                    "--threads {t}: wsaudit exited with status {}",
                    st.exit
                ));
            }
            let stages = parse_stages(&std::fs::read_to_string(&err)?, gib).unwrap_or_default();
            if best.as_ref().is_none_or(|(b, _)| st.wall < b.wall) {
                best = Some((st, stages));
            }
        }
        let (st, stg) = best.expect("at least one run");
        let table = std::fs::read(&out)?;
        let same = match &first_table {
            None => {
                first_table = Some((t, table));
                "first".to_string()
            }
            Some((t0, first)) if *first == table => format!("= --threads {t0}"),
            Some((t0, _)) => {
                failed.push(format!(
                    "--threads {t}: session table differs from --threads {t0}"
                ));
                "DIFFERS".to_string()
            }
        };
        if t == 2 {
            cpu_at_2 = Some(st.cpu);
        }
        if t == 4 {
            four = Some(stg);
        }
        println!(
            "  | {t} | {:.3} s | {:.3} s{} | {:.0} | {:.0} MiB | {:.3} | {:.3} | {:.3} | {:.3} | {same} |",
            st.wall.as_secs_f64(),
            st.cpu.as_secs_f64(),
            cpu_at_2
                .filter(|_| t != 2)
                .map(|c| format!(" ({:+.0} %)", (st.cpu.as_secs_f64() / c.as_secs_f64() - 1.0) * 100.0))
                .unwrap_or_default(),
            exp.bytes as f64 / 1e6 / st.wall.as_secs_f64(),
            st.max_rss_kib as f64 / 1024.0,
            stg.read,
            stg.page,
            stg.decode,
            stg.work
        );
    }
    // After the runs: a child's ru_maxrss starts from its parent's peak at fork, and
    // this maps the whole capture.
    let (walk, packets) = header_walk(&pcap, cfg.runs)?;
    println!(
        "  record walk alone (mapped and populated, one thread): {:.3} s/GiB ({:.1} GB/s), {packets} records",
        walk,
        (1u64 << 30) as f64 / 1e9 / walk
    );
    if let Some(s) = four {
        println!(
            "\n  Stage costs at --threads 4 (one reader, one pager, one decoder, one worker), CPU s/GiB: \
             reader {:.3}, pager {:.3}, decoders {:.3}, workers {:.3}; the record walk alone {:.3}.",
            s.read, s.page, s.decode, s.work, walk
        );
        println!("  Projection, one capture (GB/s = 1.074 / max(reader, pagers/D, decoders/D, workers/W, all/P), P = 1 + 2D + W, best D):");
        println!("  | cores | decoders (= pagers) | workers | projected GB/s | limited by |");
        println!("  |---|---|---|---|---|");
        for cores in [4, 8, 16, 32, 64] {
            let (gbps, d, w, why) = project(&s, cores);
            println!("  | {cores} | {d} | {w} | {gbps:.1} | {why} |");
        }
        let all = s.read + s.page + s.decode + s.work;
        println!(
            "  Many captures at once (each on its own threads): {:.1} GB/s per core of CPU, {:.1} GB/s on 16 cores, \
             before memory bandwidth.",
            (1u64 << 30) as f64 / 1e9 / all,
            16.0 * (1u64 << 30) as f64 / 1e9 / all
        );
    } else {
        println!("  (no --threads 4 run: no stage costs or projection)");
    }
    Ok(failed)
}

fn main() -> Result<()> {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let cfg = config()?;
    std::fs::create_dir_all(&cfg.dir)?;
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_wsaudit"));
    let machine = machine();
    let commit = git_head();
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
    println!("wsaudit throughput benchmark");
    println!("  machine: {machine}");
    println!("  wsaudit {} (commit {commit}), {date}", bin.display());
    println!(
        "  size {} per profile, seed {}, best of {} runs, data in {}",
        cfg.size_label,
        cfg.seed,
        cfg.runs,
        cfg.dir.display()
    );
    if env_or("WSAUDIT_BENCH_MODE", "throughput") == "stages" {
        let mut failed = Vec::new();
        for &p in &cfg.profiles {
            failed.extend(bench_stages(&cfg, p, &bin)?);
        }
        return verdict(&failed);
    }
    let mut rows = Vec::new();
    for &p in &cfg.profiles {
        rows.push(bench_profile(&cfg, p, &bin)?);
    }
    println!("\n## Results ({machine}; commit {commit}; {date})\n");
    println!(
        "| profile | input | packets | best wall (runs) | CPU | MB/s | M packets/s | peak RSS (anon) | counts | tshark | ratio | tshark close codes |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        let secs = r.best.as_secs_f64();
        let runs: Vec<String> = r
            .runs
            .iter()
            .map(|d| format!("{:.2}", d.as_secs_f64()))
            .collect();
        let (ts, ratio, verdict) = match &r.tshark {
            Some((d, ratio, v)) => (
                format!("{:.1} s", d.as_secs_f64()),
                format!("{ratio:.1}x"),
                v.clone(),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        println!(
            "| {} | {:.2} GB | {:.2} M | {:.2} s ({}) | {:.2} s | {:.0} | {:.2} | {:.0} MiB ({:.0}) | {} | {} | {} | {} |",
            r.profile,
            r.bytes as f64 / 1e9,
            r.packets as f64 / 1e6,
            secs,
            runs.join(", "),
            r.cpu.as_secs_f64(),
            r.bytes as f64 / 1e6 / secs,
            r.packets as f64 / 1e6 / secs,
            r.rss_mib,
            r.anon_mib,
            if r.counts_ok { "OK" } else { "MISMATCH" },
            ts,
            ratio,
            verdict
        );
    }
    println!("\nTargets (issue 4): 2 GB/s (2000 MB/s), >= 40x tshark, peak RSS <= 256 MiB \
         (peak RSS = ru_maxrss, which counts the mapped capture's pages; anon = heap only), small profile >= 5 M packets/s.");
    verdict(&failures(&rows))
}

/// End the bench: a mismatch fails it (exit status 1), so no script or CI job can take
/// a run with wrong counts or differing tables for a good one.
fn verdict(failed: &[String]) -> Result<()> {
    if !failed.is_empty() {
        eprintln!("\nbench FAILED:");
        for f in failed {
            eprintln!("  {f}");
        }
        std::process::exit(1);
    }
    println!("\nevery check passed");
    Ok(())
}
