//! Bad input is reported with the file and the byte offset, nothing read before the
//! problem is lost, and nothing panics.
//!
//! The binary is used for what a user sees (messages on stderr, exit codes, output
//! files); the library for the detail (which error, at which offset, which sessions).

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;
use wsaudit::capture::{link, read_slice, read_stream, CaptureError};
use wsaudit::pipeline::{analyze, CaptureResult, Input, Options};

fn run(path: &Path) -> CaptureResult {
    analyze(&Input::Path(path.to_path_buf()), &Options::default())
}

fn wsaudit(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(bin())
        .arg("analyze")
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Run the binary on one file; it must exit 2 and name the file and `at byte <offset>`.
fn cli_reports(path: &Path, offset: u64) -> String {
    let o = wsaudit(&[path.as_os_str(), "--quiet".as_ref()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{}: {err}", path.display());
    let prefix = format!("wsaudit: {}: ", path.display());
    let line = err
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in {err:?}"));
    assert!(
        line.ends_with(&format!(" at byte {offset}")),
        "expected an error at byte {offset}: {line}"
    );
    err
}

fn only_error(r: &CaptureResult) -> &CaptureError {
    assert_eq!(r.read.errors.len(), 1, "{:?}", r.read.errors);
    &r.read.errors[0]
}

// ---------------------------------------------------------------------------------------
// Not a capture at all

#[test]
fn not_a_capture_is_reported_at_byte_0() {
    let dir = TempDir::new("bad");
    let mut wrong_magic = std::fs::read(fixture("ws_python.pcap")).unwrap();
    wrong_magic[3] = 0xa2;
    let cases: [(&str, &[u8], &str); 5] = [
        ("empty.pcap", b"", "empty"),
        ("three.pcap", &[0x9f, 0x02, 0xd4], "too short"),
        (
            // Given to the CLI, text is first tried as a log: the message says both.
            "text.pcap",
            b"this is a text file, not a capture\nsecond line\n",
            "pcap or pcapng",
        ),
        ("magic.pcap", &wrong_magic, "not a pcap or pcapng"),
        (
            "ng_magic.pcapng",
            b"\x0a\x0d\x0d\x0bxxxxxxxxxxxxxxxx",
            "not a pcap",
        ),
    ];
    for (name, bytes, what) in cases {
        let path = dir.file(name, bytes);
        let r = run(&path);
        // One problem, one error: nothing else is said about a file that is not a capture.
        let e = only_error(&r);
        assert!(e.fatal && e.offset == 0, "{name}: {e:?}");
        assert!(e.message.contains(what), "{name}: {e}");
        assert!(r.sessions.is_empty());
        assert_eq!(r.read.packets, 0);
        let err = cli_reports(&path, 0);
        assert!(err.contains(what), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{name}: one line: {err}");
    }
}

#[test]
fn a_file_that_is_not_a_capture_gets_exactly_one_error() {
    let dir = TempDir::new("bad");
    let mut wrong_magic = std::fs::read(fixture("ws_python.pcap")).unwrap();
    wrong_magic[0] = 0xd5;
    for (name, bytes) in [
        ("text.pcap", &b"this is a text file, not a capture\n"[..]),
        ("magic.pcap", &wrong_magic[..]),
    ] {
        let path = dir.file(name, bytes);
        let r = run(&path);
        assert_eq!(
            r.read.errors.len(),
            1,
            "{name}: one problem, one error: {:?}",
            r.read.errors
        );
        let o = wsaudit(&[path.as_os_str(), "--quiet".as_ref()]);
        assert_eq!(stderr(&o).lines().count(), 1, "{name}: {}", stderr(&o));
    }
}

#[test]
fn a_missing_file_is_named_and_exits_2() {
    let dir = TempDir::new("bad");
    let missing = dir.path().join("missing.pcap");
    let o = wsaudit(&[missing.as_os_str()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("wsaudit: {}: ", missing.display())),
        "{err}"
    );
    let r = run(&missing);
    assert!(r.failed() && r.io_error.is_some());
}

// ---------------------------------------------------------------------------------------
// Truncated captures

/// The sessions whose connections have no packet at or after byte `cut` of a pcap file.
fn sessions_done_before(file: &[u8], cut: usize, full: &CaptureResult) -> Vec<usize> {
    let lt = file[20] as i32; // little-endian fixtures
    assert_eq!(lt, 1);
    let mut later = std::collections::HashSet::new();
    for &off in pcap_record_offsets(file).iter() {
        let caplen = u32::from_le_bytes(file[off + 8..off + 12].try_into().unwrap()) as usize;
        if off + 16 + caplen <= cut {
            continue;
        }
        let data = &file[off + 16..off + 16 + caplen];
        if let Some(seg) = link::decode(pcap_parser::Linktype(lt), data) {
            later.insert((seg.src, seg.dst));
            later.insert((seg.dst, seg.src));
        }
    }
    (0..full.sessions.len())
        .filter(|&i| !later.contains(&(full.sessions[i].client, full.sessions[i].server)))
        .collect()
}

#[test]
fn truncated_pcap_keeps_what_came_before_and_names_the_record() {
    let src = fixture("ws_python.pcap");
    let bytes = std::fs::read(&src).unwrap();
    let full = run(&src);
    assert!(!full.failed());
    let recs = pcap_record_offsets(&bytes);
    // Pick a record with data about two thirds in, so sessions end on both sides.
    let k = (recs.len() * 2 / 3..recs.len())
        .find(|&k| bytes[recs[k] + 8] > 8)
        .unwrap();
    let rec = recs[k];
    let dir = TempDir::new("bad");
    for (name, cut) in [
        ("cut_header.pcap", rec + 9),
        ("cut_data.pcap", rec + 16 + bytes[rec + 8] as usize / 2),
    ] {
        let path = dir.file(name, &bytes[..cut]);
        let r = run(&path);
        let e = only_error(&r);
        assert!(e.fatal, "{name}: {e:?}");
        assert_eq!(e.offset, rec as u64, "{name}: {e}");
        assert!(e.message.contains("truncated"), "{name}: {e}");
        assert_eq!(
            r.read.packets, k as u64,
            "{name}: every record before the cut"
        );
        let done = sessions_done_before(&bytes, cut, &full);
        assert!(
            done.len() >= 3 && done.len() < full.sessions.len(),
            "{name}: the cut should fall between sessions ({} done)",
            done.len()
        );
        for i in done {
            let want = &full.sessions[i];
            let got = r
                .sessions
                .iter()
                .find(|s| s.client == want.client && s.server == want.server)
                .unwrap_or_else(|| panic!("{name}: session {} lost", want.client));
            same_session(want, got, 0).unwrap();
        }
        // The same error, whichever way the bytes arrive.
        let streamed = read_stream(&bytes[..cut], |_| {}).unwrap();
        assert_eq!(streamed.errors, r.read.errors, "{name}: streamed");
        let err = cli_reports(&path, rec as u64);
        assert!(err.contains("truncated"), "{err}");
    }
}

#[test]
fn one_bad_file_among_good_ones_loses_no_sessions() {
    let dir = TempDir::new("bad");
    let bad = dir.file("bad.pcap", b"garbage, not a capture");
    let good = [fixture("ws_python.pcap"), fixture("ws_node.pcap")];
    let want: usize = good.iter().map(|p| run(p).sessions.len()).sum();
    let csv = dir.path().join("out.csv");
    let o = Command::new(bin())
        .arg("analyze")
        .arg(&good[0])
        .arg(&bad)
        .arg(&good[1])
        .arg("--sessions")
        .arg(&csv)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("wsaudit: {}: ", bad.display())) && err.contains("at byte 0"),
        "{err}"
    );
    for line in err.lines() {
        assert!(
            line.starts_with(&format!("wsaudit: {}: ", bad.display())),
            "only the bad file is reported: {err}"
        );
    }
    let text = std::fs::read_to_string(&csv).unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), want, "{text}");
    for g in &good {
        let name = g.display().to_string();
        assert!(rows.iter().any(|r| r.starts_with(&format!("{name},"))));
    }
}

// ---------------------------------------------------------------------------------------
// Corrupt pcap records

fn python_with_record(k: usize, patch: impl Fn(&mut [u8])) -> (Vec<u8>, usize) {
    let mut bytes = std::fs::read(fixture("ws_python.pcap")).unwrap();
    let rec = pcap_record_offsets(&bytes)[k];
    patch(&mut bytes[rec..rec + 16]);
    (bytes, rec)
}

#[test]
fn pcap_caplen_larger_than_origlen_is_skipped_with_its_offset() {
    let k = 40;
    let (bytes, rec) = python_with_record(k, |h| {
        let caplen = u32::from_le_bytes(h[8..12].try_into().unwrap());
        h[12..16].copy_from_slice(&(caplen - 1).to_le_bytes());
    });
    let dir = TempDir::new("bad");
    let path = dir.file("caplen_gt_origlen.pcap", &bytes);
    let r = run(&path);
    let e = only_error(&r);
    assert!(!e.fatal, "{e:?}");
    assert_eq!(e.offset, rec as u64, "{e}");
    let total = pcap_record_offsets(&bytes).len() as u64;
    assert_eq!(r.read.packets, total - 1, "every other record still read");
    cli_reports(&path, rec as u64);
}

#[test]
fn pcap_subsecond_field_out_of_range_is_skipped_with_its_offset() {
    let (bytes, rec) = python_with_record(40, |h| {
        h[4..8].copy_from_slice(&1_000_000u32.to_le_bytes()); // µs field of a µs file
    });
    let dir = TempDir::new("bad");
    let path = dir.file("usec_range.pcap", &bytes);
    let r = run(&path);
    let e = only_error(&r);
    assert!(!e.fatal && e.offset == rec as u64, "{e:?}");
    let total = pcap_record_offsets(&bytes).len() as u64;
    assert_eq!(r.read.packets, total - 1);
    cli_reports(&path, rec as u64);
}

#[test]
fn pcap_absurd_caplen_is_reported_without_allocating_it() {
    let k = 40;
    let (bytes, rec) = python_with_record(k, |h| {
        h[8..12].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    });
    let dir = TempDir::new("bad");
    let path = dir.file("huge_caplen.pcap", &bytes);
    let r = run(&path);
    let e = r.read.errors.last().unwrap();
    assert!(e.fatal, "{e:?}");
    assert_eq!(e.offset, rec as u64, "{e}");
    assert_eq!(r.read.packets, k as u64, "records before it were read");
    // Streamed too: the reader must not wait for 4 GiB before giving up.
    let s = read_stream(&bytes[..], |_| {}).unwrap();
    assert_eq!(s.errors, r.read.errors);
    cli_reports(&path, rec as u64);
}

// ---------------------------------------------------------------------------------------
// Corrupt pcapng blocks

/// SHB, IDB, three packets; returns the file and the offset of the second packet's block.
fn small_pcapng() -> (Ng, usize) {
    let pkts = packets(&fixture("ws_python.pcap"));
    let mut ng = Ng::new(false);
    ng.idb(LINKTYPE_ETHERNET, 262_144, &[]);
    ng.epb(
        0,
        pkts[0].ts_ns as u64 / 1000,
        &pkts[0].data,
        pkts[0].orig_len,
    );
    let at = ng.epb(
        0,
        pkts[1].ts_ns as u64 / 1000,
        &pkts[1].data,
        pkts[1].orig_len,
    );
    ng.epb(
        0,
        pkts[2].ts_ns as u64 / 1000,
        &pkts[2].data,
        pkts[2].orig_len,
    );
    (ng, at)
}

#[test]
fn pcapng_block_lengths_that_cannot_be() {
    let dir = TempDir::new("bad");
    for (name, len) in [("len_odd.pcapng", 0x46u32), ("len_8.pcapng", 8)] {
        let (mut ng, at) = small_pcapng();
        ng.buf[at + 4..at + 8].copy_from_slice(&len.to_le_bytes());
        let path = dir.file(name, &ng.buf);
        let r = run(&path);
        let e = r.read.errors.last().unwrap();
        assert_eq!(e.offset, at as u64, "{name}: {e}");
        assert!(e.message.contains("length"), "{name}: {e}");
        assert_eq!(r.read.packets, 1, "{name}: the packet before it was read");
        cli_reports(&path, at as u64);
    }
}

#[test]
fn pcapng_block_running_past_the_end_of_the_file() {
    let dir = TempDir::new("bad");
    let (mut ng, at) = small_pcapng();
    let remaining = (ng.buf.len() - at) as u32;
    ng.buf[at + 4..at + 8].copy_from_slice(&(remaining + 64).to_le_bytes());
    let path = dir.file("past_end.pcapng", &ng.buf);
    let r = run(&path);
    let e = only_error(&r);
    assert!(e.fatal, "{e:?}");
    assert_eq!(e.offset, at as u64, "{e}");
    assert_eq!(r.read.packets, 1);
    cli_reports(&path, at as u64);
    // A section header cut short is reported too.
    let cut = dir.file("shb_cut.pcapng", &ng.buf[..20]);
    let r = run(&cut);
    let e = only_error(&r);
    assert!(e.fatal && e.offset == 0, "{e:?}");
}

#[test]
fn pcapng_packet_longer_than_its_block_is_skipped_and_reading_goes_on() {
    let dir = TempDir::new("bad");
    let (mut ng, at) = small_pcapng();
    // caplen (EPB bytes 20..24) larger than the data the block holds.
    ng.buf[at + 20..at + 24].copy_from_slice(&4000u32.to_le_bytes());
    ng.buf[at + 24..at + 28].copy_from_slice(&4000u32.to_le_bytes());
    let path = dir.file("caplen_past_block.pcapng", &ng.buf);
    let r = run(&path);
    let e = only_error(&r);
    assert!(!e.fatal && e.offset == at as u64, "{e:?}");
    assert_eq!(r.read.packets, 2, "the packets on either side were read");
    cli_reports(&path, at as u64);
}

// ---------------------------------------------------------------------------------------
// Output paths

#[test]
fn sessions_into_a_missing_directory_fails_cleanly() {
    let dir = TempDir::new("bad");
    let target = dir.path().join("no/such/dir/out.csv");
    let o = Command::new(bin())
        .current_dir(dir.path())
        .arg("analyze")
        .arg(fixture("ws_python.pcap"))
        .arg("--quiet")
        .arg("--sessions")
        .arg(&target)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.starts_with("wsaudit: "), "{err}");
    assert!(err.contains(&target.display().to_string()), "{err}");
    // Nothing left behind: not the target, not a temporary file, not a directory.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn unknown_table_extension_fails_before_reading_any_input() {
    let dir = TempDir::new("bad");
    let missing = dir.path().join("never-read.pcap");
    let out = dir.path().join("out.txt");
    let o = Command::new(bin())
        .current_dir(dir.path())
        .arg("analyze")
        .arg(&missing)
        .arg("--sessions")
        .arg(&out)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("out.txt") && err.contains("unknown"), "{err}");
    assert!(
        !err.contains("never-read"),
        "the input was looked at before the output was checked: {err}"
    );
    assert!(o.stdout.is_empty(), "no summary either");
    assert!(!out.exists());
}

// ---------------------------------------------------------------------------------------
// Mutation sweep

/// xorshift64*: tiny, deterministic, good enough to pick bits.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, orig: &[u8]) -> (Vec<u8>, String) {
    let mut m = orig.to_vec();
    let mut what = Vec::new();
    let kind = rng.below(4);
    if kind != 0 {
        // Bit flips, half the time near the start where the headers are.
        let flips = 1 + rng.below(20);
        for _ in 0..flips {
            let span = if rng.below(2) == 0 { 256 } else { m.len() };
            let i = rng.below(span.min(m.len()));
            let bit = rng.below(8);
            m[i] ^= 1 << bit;
            what.push(format!("flip {i}.{bit}"));
        }
    }
    if kind != 1 {
        let len = rng.below(m.len() + 1);
        m.truncate(len);
        what.push(format!("truncate {len}"));
    }
    (m, what.join(", "))
}

/// Run `WSAUDIT_MUTANTS` (default 300) mutants of the fixture captures through the
/// pipeline and both readers; returns the failures. `one_fatal`: also require at most one
/// fatal error per file.
fn sweep(one_fatal: bool) -> Vec<String> {
    let total: usize = std::env::var("WSAUDIT_MUTANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let mut files: Vec<_> = std::fs::read_dir(fixtures())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            )
        })
        .collect();
    files.sort();
    // A fixture being regenerated right now may be short or gone: skip it.
    let originals: Vec<_> = files
        .iter()
        .filter_map(|p| std::fs::read(p).ok().map(|b| (p.clone(), b)))
        .filter(|(_, b)| b.len() > 24)
        .collect();
    assert!(originals.len() >= 5, "{files:?}");
    let dir = TempDir::new("mutants");
    let started = std::time::Instant::now();
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut failures = Vec::new();
    let mut with_errors = 0;
    for n in 0..total {
        let (src, orig) = &originals[n % originals.len()];
        let (m, what) = mutate(&mut rng, orig);
        let path = dir.file("mutant.bin", &m);
        let outcome = std::panic::catch_unwind(|| {
            let r = run(&path);
            let slice = read_slice(&m, |_| {});
            let streamed = read_stream(&m[..], |_| {}).unwrap();
            (r, slice, streamed)
        });
        let name = src.file_name().unwrap().to_string_lossy();
        let mut fail = |msg: String| failures.push(format!("mutant {n} of {name} ({what}): {msg}"));
        let (r, slice, streamed) = match outcome {
            Ok(x) => x,
            Err(_) => {
                let saved = std::env::temp_dir().join(format!("wsaudit-panic-{n}-{name}"));
                let _ = std::fs::copy(&path, &saved);
                fail(format!("panicked; saved as {}", saved.display()));
                continue;
            }
        };
        if r.failed() {
            with_errors += 1;
        }
        let errors = &r.read.errors;
        for e in errors {
            if e.offset > m.len() as u64 {
                fail(format!("offset past the end ({} bytes): {e}", m.len()));
            }
        }
        if errors.windows(2).any(|w| w[0].offset > w[1].offset) {
            fail(format!("errors not in file order: {errors:?}"));
        }
        if let Some(i) = errors.iter().position(|e| e.fatal) {
            if errors[i..].iter().any(|e| !e.fatal) {
                fail(format!("an error after the fatal one: {errors:?}"));
            }
            if one_fatal && errors.len() != i + 1 {
                fail(format!("more than one fatal error: {errors:?}"));
            }
        }
        if slice.errors != *errors || streamed.errors != *errors {
            fail(format!(
                "errors differ between readers: file {errors:?}, slice {:?}, stream {:?}",
                slice.errors, streamed.errors
            ));
        }
        if slice.packets != r.read.packets || streamed.packets != r.read.packets {
            fail(format!(
                "packet counts differ between readers: file {}, slice {}, stream {}",
                r.read.packets, slice.packets, streamed.packets
            ));
        }
    }
    println!(
        "{total} mutants of {} captures in {:.2?}; {with_errors} reported errors",
        originals.len(),
        started.elapsed()
    );
    failures
}

#[test]
fn mutation_sweep_never_panics_and_offsets_stay_in_the_file() {
    let failures = sweep(false);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn mutation_sweep_at_most_one_fatal_error() {
    let failures = sweep(true);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn stdin_that_is_not_a_capture_is_reported() {
    let dir = TempDir::new("bad");
    let path = dir.file("text.txt", b"hello\n");
    let o = Command::new(bin())
        .args(["analyze", "-", "--quiet"])
        .stdin(std::fs::File::open(&path).unwrap())
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("wsaudit: stdin: ") && err.contains("at byte 0"),
        "{err}"
    );
}
