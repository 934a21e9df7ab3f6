//! Sharding a capture's connections over worker threads changes nothing: the same
//! sessions, refused upgrades and counts, in the same order, as one thread.

use std::path::PathBuf;

use wsaudit::pipeline::{analyze, analyze_all, Input, Options};

mod common;

#[path = "../examples/gencap.rs"]
#[allow(dead_code)]
mod gencap;

use common::fixture_captures as fixtures;

#[test]
fn sharded_runs_give_exactly_the_sequential_result() {
    for f in fixtures() {
        let input = Input::Path(f.clone());
        let seq = analyze(&input, &Options::default());
        for shards in [1, 2, 3, 7] {
            let par = analyze(
                &input,
                &Options {
                    shards,
                    ..Options::default()
                },
            );
            assert_eq!(
                par.sessions,
                seq.sessions,
                "{} with {shards} shards",
                f.display()
            );
            assert_eq!(
                par.refused,
                seq.refused,
                "{} with {shards} shards",
                f.display()
            );
            assert_eq!(par.read.packets, seq.read.packets);
            assert_eq!(par.tcp_segments, seq.tcp_segments);
            assert_eq!((par.first_ts, par.last_ts), (seq.first_ts, seq.last_ts));
        }
    }
}

/// Decoder threads and chunks of any size change nothing either: chunks of one record
/// put a chunk boundary at every place a connection can be (mid-handshake, mid-frame,
/// between a FIN and its ACK), and each worker still sees its connections in order.
#[test]
fn decoders_and_any_chunk_size_give_exactly_the_sequential_result() {
    // The TLS captures too, with their key logs: a pcapng's embedded keys must reach the
    // store before any worker decrypts the connections after them.
    let mut captures = fixtures();
    captures.extend(tls_fixtures());
    for f in captures {
        let input = Input::Path(f.clone());
        let keyed = || {
            let mut log = wsaudit::tls::KeyLog::new();
            if let Ok(bytes) = std::fs::read(f.with_extension("keys")) {
                log.parse(&bytes);
            }
            Options {
                keys: std::sync::Arc::new(wsaudit::tls::KeyStore::new(log)),
                ..Options::default()
            }
        };
        let seq = analyze(&input, &keyed());
        same_as_sequential(
            &input,
            &seq,
            &keyed,
            &[
                (0, 2, 1),
                (1, 1, 1),
                (1, 3, 1),
                (2, 3, 1),
                (3, 2, 1),
                (2, 2, 700),
                (1, 2, 64 << 10),
                (2, 5, 8 << 20),
            ],
        );
    }
}

/// How `--threads` is split per capture: never more threads than asked, no decoders
/// below four threads a capture, and every capture on one thread when there are at
/// least as many captures as threads.
fn tls_fixtures() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/tls");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    v.sort();
    v
}

#[test]
fn threads_are_split_into_decoders_and_workers_within_the_count() {
    use wsaudit::pipeline::split_threads;
    assert_eq!(split_threads(1, 1), (0, 0));
    assert_eq!(split_threads(2, 1), (0, 1));
    assert_eq!(split_threads(3, 1), (0, 2));
    assert_eq!(split_threads(8, 8), (0, 0));
    assert_eq!(split_threads(8, 20), (0, 0));
    for threads in 2..=64 {
        for files in 1..threads {
            let (d, w) = split_threads(threads, files);
            if (d, w) == (0, 0) {
                assert!(
                    files * 2 > threads,
                    "{threads} threads, {files} files: sequential"
                );
                continue;
            }
            // The reader, the decoders, as many pagers, the workers.
            let per_file = 1 + 2 * d + w;
            assert!(
                per_file * files <= threads,
                "{threads} threads, {files} files: {d}+{w}"
            );
            assert!(w >= 1);
            if per_file >= 4 {
                assert!(d >= 1, "{threads} threads, {files} files: no decoder");
            }
        }
    }
}

/// Captures of different sizes share the threads by size: a big capture beside small
/// ones gets most of them, every capture gets at least a reader and a worker, and the
/// total is never more than asked.
#[test]
fn threads_follow_the_size_of_each_capture() {
    use wsaudit::pipeline::{split_threads, split_threads_by_size};
    let gib = 1u64 << 30;
    // One 10 GiB capture and three of 1 MiB on 16 threads: 2 each, the big one the rest.
    let plans = split_threads_by_size(16, &[1 << 20, 10 * gib, 1 << 20, 1 << 20]);
    let own: Vec<usize> = plans.iter().map(|(d, w)| 1 + 2 * d + w).collect();
    assert_eq!(own, vec![2, 10, 2, 2]);
    // Equal sizes: the same as the equal split.
    for threads in 2..=40 {
        for files in 1..=8 {
            let plans = split_threads_by_size(threads, &vec![gib; files]);
            let total: usize = plans
                .iter()
                .map(|&(d, w)| if (d, w) == (0, 0) { 1 } else { 1 + 2 * d + w })
                .sum();
            assert!(
                total <= threads.max(files),
                "{threads} threads, {files} files: {plans:?}"
            );
            if threads / files >= 2 {
                let (d, w) = split_threads(threads, files);
                assert!(
                    plans
                        .iter()
                        .all(|&(pd, pw)| 1 + 2 * pd + pw >= 1 + 2 * d + w),
                    "{threads} threads, {files} files: {plans:?} below the equal split {d}+{w}"
                );
            }
        }
    }
}

#[test]
fn many_files_at_once_come_back_in_input_order() {
    let inputs: Vec<Input> = fixtures().into_iter().map(Input::Path).collect();
    let all = analyze_all(
        &inputs,
        &Options {
            shards: wsaudit::pipeline::AUTO_SHARDS,
            ..Options::default()
        },
    );
    for (i, r) in inputs.iter().zip(&all) {
        assert_eq!(r.name, i.name());
        assert_eq!(r.sessions, analyze(i, &Options::default()).sessions);
    }
}

#[test]
fn gzip_and_zstd_captures_are_read_transparently() {
    use std::io::Write;
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/ws_python.pcap");
    let bytes = std::fs::read(&src).unwrap();
    let dir = std::env::temp_dir().join(format!("wsaudit-compressed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let gz = dir.join("ws_python.pcap.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&bytes).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    let zst = dir.join("ws_python.pcap.zst");
    std::fs::write(&zst, zstd::encode_all(&bytes[..], 3).unwrap()).unwrap();
    let plain = analyze(&Input::Path(src), &Options::default());
    for p in [gz, zst] {
        let r = analyze(&Input::Path(p.clone()), &Options::default());
        assert!(!r.failed(), "{}: {:?}", p.display(), r.problems());
        assert_eq!(r.sessions.len(), plain.sessions.len());
        for (a, b) in r.sessions.iter().zip(&plain.sessions) {
            assert_eq!(
                (a.client, a.server, &a.outcome),
                (b.client, b.server, &b.outcome)
            );
            assert_eq!(
                (a.start_time, a.end_time, a.frames),
                (b.start_time, b.end_time, b.frames)
            );
        }
    }
}

#[test]
fn a_truncated_gzip_capture_keeps_what_was_read_and_says_where() {
    use std::io::Write;
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo.pcap");
    let bytes = std::fs::read(&src).unwrap();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&bytes).unwrap();
    let gz = enc.finish().unwrap();
    let dir = std::env::temp_dir().join(format!("wsaudit-gzcut-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cut = dir.join("demo.pcap.gz");
    std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    let r = analyze(&Input::Path(cut), &Options::default());
    assert!(r.failed());
    // Where the readable data ends, found without wsaudit: decompress the cut file as far
    // as it goes (what `zcat` prints before "unexpected end of file"), then walk the pcap
    // records by hand (24-byte file header; 16-byte record headers whose bytes 8..12 are
    // the captured length, little-endian in this capture).
    let mut readable = Vec::new();
    let mut dec = flate2::read::MultiGzDecoder::new(&gz[..gz.len() / 2]);
    let mut buf = [0u8; 4096];
    loop {
        match std::io::Read::read(&mut dec, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => readable.extend_from_slice(&buf[..n]),
        }
    }
    assert_eq!(&readable[..4], &0xa1b2_c3d4u32.to_le_bytes());
    let (mut at, mut whole) = (24usize, 0u64);
    while at + 16 <= readable.len() {
        let incl = u32::from_le_bytes(readable[at + 8..at + 12].try_into().unwrap()) as usize;
        if at + 16 + incl > readable.len() {
            break;
        }
        at += 16 + incl;
        whole += 1;
    }
    assert!(
        whole > 0 && at < bytes.len(),
        "the cut falls inside the capture"
    );
    assert_eq!(
        r.read.packets, whole,
        "every whole record before the cut is kept"
    );
    assert_eq!(r.read.errors.len(), 1, "{:?}", r.read.errors);
    let e = &r.read.errors[0];
    assert!(e.fatal, "{e:?}");
    assert_eq!(
        e.offset, at as u64,
        "the error is at the first record the cut left incomplete: {e}"
    );
}

#[test]
fn no_input_at_all_is_no_work_and_no_crash() {
    let all = analyze_all(
        &[],
        &Options {
            shards: wsaudit::pipeline::AUTO_SHARDS,
            ..Options::default()
        },
    );
    assert!(all.is_empty());
}

/// The session table built chunk by chunk while captures are read (what `analyze` and
/// `audit` use, so records never pile up) is the table of the records, row for row, with
/// the same ids and the same Close-frame table, whatever the chunk size and sharding.
#[test]
fn chunked_session_table_equals_the_table_of_the_records() {
    use wsaudit::table::chunks::merge_chunks;
    use wsaudit::table::chunks::TableSink;
    use wsaudit::table::session::{closes_frame, sessions_frame};
    let inputs: Vec<Input> = fixtures().into_iter().map(Input::Path).collect();
    let records: Vec<_> = analyze_all(&inputs, &Options::default())
        .into_iter()
        .flat_map(|r| r.sessions)
        .collect();
    assert!(
        records.len() > 20,
        "the fixtures hold more than 20 sessions"
    );
    let want = sessions_frame(&records).unwrap();
    let want_closes = closes_frame(&records).unwrap();
    for (shards, chunk) in [(0, 1), (0, 3), (2, 2), (3, 4096)] {
        let opts = Options {
            shards,
            ..Options::default()
        };
        let got = wsaudit::pipeline::analyze_all_with(&inputs, &opts, &|| {
            TableSink::with_chunk_rows(true, chunk)
        });
        let parts = got.into_iter().map(|r| (r.name, r.sessions)).collect();
        let (table, closes) = merge_chunks(parts, true).unwrap();
        assert!(
            table.equals_missing(&want),
            "{shards} shards, chunks of {chunk}:\n{table}\nwant\n{want}"
        );
        assert!(
            closes.unwrap().equals_missing(&want_closes),
            "{shards} shards, chunks of {chunk}"
        );
    }
}

/// Sessions that start in the same nanosecond are numbered by client, then server
/// address, on both paths; among full equals the workers' order is kept.
#[test]
fn equal_start_times_are_ordered_by_address_on_both_paths() {
    use wsaudit::pipeline::SessionSink;
    use wsaudit::table::chunks::merge_chunks;
    use wsaudit::table::chunks::TableSink;
    let clients = [
        "10.0.0.9:5000",
        "[2001:db8::1]:4000",
        "10.0.0.10:5000",
        "10.0.0.9:4999",
        "10.0.0.9:5000",
    ];
    // By hand: equal starts, so by client address: IPv4 before IPv6, 10.0.0.9 before
    // 10.0.0.10, port 4999 before 5000; the two full equals (0 and 4) in push order.
    let (recs, want) = tie_records(&clients, &[1_000; 5], &[3, 0, 4, 2, 1]);
    let mut sink = TableSink::with_chunk_rows(false, 2);
    for r in recs {
        sink.push(r);
    }
    let (got, _) = merge_chunks(vec![("cap".into(), vec![sink.finish()])], false).unwrap();
    assert!(got.equals_missing(&want), "{got}\nwant\n{want}");
}

/// Copies of the demo's first session in capture `cap`, from `clients` at `starts`
/// (their end times tell equal keys apart), and the table they must give: the copies in
/// `order` (indexes into `clients`, written out by hand by the caller), numbered
/// `cap#1`, `cap#2`, ...
fn tie_records(
    clients: &[&str],
    starts: &[i64],
    order: &[usize],
) -> (
    Vec<wsaudit::session::SessionRecord>,
    polars::prelude::DataFrame,
) {
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo.pcap");
    let base = analyze(&Input::Path(demo), &Options::default()).sessions[0].clone();
    let recs: Vec<_> = clients
        .iter()
        .zip(starts)
        .enumerate()
        .map(|(i, (c, start))| {
            let mut r = base.clone();
            r.client = c.parse().unwrap();
            r.start_time = *start;
            r.end_time = 2_000 + i as i64;
            r.capture = "cap".into();
            r
        })
        .collect();
    let mut sorted: Vec<usize> = order.to_vec();
    sorted.sort();
    assert_eq!(
        sorted,
        (0..clients.len()).collect::<Vec<_>>(),
        "order names every copy once"
    );
    let want: Vec<_> = order
        .iter()
        .enumerate()
        .map(|(n, &i)| {
            let mut r = recs[i].clone();
            r.session_id = format!("cap#{}", n + 1);
            r
        })
        .collect();
    let want = wsaudit::table::session::sessions_frame(&want).unwrap();
    (recs, want)
}

/// Every batch of `stream` (each at most `max` rows), stacked.
fn drain_stream(
    stream: &mut wsaudit::table::spill::SessionStream,
    max: usize,
) -> polars::prelude::DataFrame {
    let mut table: Option<polars::prelude::DataFrame> = None;
    while let Some(b) = stream.next_batch().unwrap() {
        assert!(b.height() <= max, "a batch of {} rows", b.height());
        match &mut table {
            Some(t) => {
                t.vstack_mut(&b).unwrap();
            }
            None => table = Some(b),
        }
    }
    table.expect("at least one batch")
}

/// A fresh folder for spilled runs, removed with its contents when dropped.
struct SpillFolder(PathBuf);

impl SpillFolder {
    fn new(tag: &str) -> SpillFolder {
        let p =
            std::env::temp_dir().join(format!("wsaudit-test-spill-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        SpillFolder(p)
    }

    /// Files left anywhere under the folder.
    fn files_left(&self) -> usize {
        fn walk(p: &std::path::Path) -> usize {
            std::fs::read_dir(p)
                .map(|rd| {
                    rd.flatten()
                        .map(|e| {
                            let p = e.path();
                            if p.is_dir() {
                                walk(&p)
                            } else {
                                1
                            }
                        })
                        .sum()
                })
                .unwrap_or(0)
        }
        walk(&self.0)
    }
}

impl Drop for SpillFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Rows spilled to disk in sorted runs and merged back (what a capture with more
/// sessions than a worker holds goes through) give exactly the table of the records:
/// same rows, order, ids and Close frames, whatever the run, chunk and batch sizes and
/// sharding; and every run file is gone once the merge is done.
#[test]
fn spilled_and_merged_session_table_equals_the_table_of_the_records() {
    use wsaudit::table::chunks::TableSink;
    use wsaudit::table::run::SpillDir;
    use wsaudit::table::session::{closes_frame, sessions_frame};
    use wsaudit::table::spill::SessionStream;
    let inputs: Vec<Input> = fixtures().into_iter().map(Input::Path).collect();
    let records: Vec<_> = analyze_all(&inputs, &Options::default())
        .into_iter()
        .flat_map(|r| r.sessions)
        .collect();
    let want = sessions_frame(&records).unwrap();
    let want_closes = closes_frame(&records).unwrap();
    let folder = SpillFolder::new("merge");
    for (shards, chunk, spill, batch, fan_in) in [
        (0, 1, 1, 1, 2),
        (0, 3, 5, 2, 16),
        (2, 2, 3, 7, 3),
        (3, 7, 4, 65_536, 16),
        (1, 4096, 4, 3, 2),
        (1, 1, 1, 5, 4),
    ] {
        let what = format!(
            "{shards} shards, chunks of {chunk}, spill at {spill}, batches of {batch}, \
             merging {fan_in} runs at most"
        );
        let dir = SpillDir::new(folder.0.clone());
        let opts = Options {
            shards,
            ..Options::default()
        };
        let got = wsaudit::pipeline::analyze_all_with(&inputs, &opts, &|| {
            TableSink::with_chunk_rows(true, chunk).spilling(dir.clone(), spill)
        });
        let parts: Vec<_> = got.into_iter().map(|r| (r.name, r.sessions)).collect();
        assert!(
            parts.iter().any(|(_, p)| p.iter().any(|c| c.spilled())),
            "{what}: something spilled"
        );
        assert!(folder.files_left() > 0, "{what}: runs on disk");
        let mut stream = SessionStream::new(parts, dir.clone(), true)
            .with_batch_rows(batch)
            .with_fan_in(fan_in);
        let table = drain_stream(&mut stream, batch);
        assert!(
            table.equals_missing(&want),
            "{what}:\n{table}\nwant\n{want}"
        );
        assert!(
            stream.closes_frame().unwrap().equals_missing(&want_closes),
            "{what}: Close frames"
        );
        assert_eq!(
            folder.files_left(),
            0,
            "{what}: every run file read and removed"
        );
        drop(stream);
        drop(dir);
    }
    assert_eq!(
        std::fs::read_dir(&folder.0).unwrap().count(),
        0,
        "spill folders removed"
    );
}

/// Equal start times are ordered by address in the merge of spilled runs too, and full
/// equals keep the workers' order across runs.
#[test]
fn equal_start_times_are_ordered_by_address_across_spilled_runs() {
    use wsaudit::pipeline::SessionSink;
    use wsaudit::table::chunks::TableSink;
    use wsaudit::table::run::SpillDir;
    use wsaudit::table::spill::SessionStream;
    let clients = [
        "10.0.0.9:5000",
        "[2001:db8::1]:4000",
        "10.0.0.10:5000",
        "10.0.0.9:4999",
        "10.0.0.9:5000",
        "10.0.0.9:5000",
        "10.0.0.8:1",
    ];
    // By hand: 10.0.0.8:1 starts first (999); then as above, the three full equals
    // (0, 4, 5) in push order.
    let (recs, want) = tie_records(
        &clients,
        &[1_000, 1_000, 1_000, 1_000, 1_000, 1_000, 999],
        &[6, 3, 0, 4, 5, 2, 1],
    );
    let folder = SpillFolder::new("ties");
    let dir = SpillDir::new(folder.0.clone());
    let mut sink = TableSink::with_chunk_rows(false, 1).spilling(dir.clone(), 2);
    for r in recs {
        sink.push(r);
    }
    let mut stream = SessionStream::new(
        vec![("cap".into(), vec![sink.finish()])],
        dir.clone(),
        false,
    )
    .with_batch_rows(3)
    .with_fan_in(2);
    let got = drain_stream(&mut stream, 3);
    assert!(got.equals_missing(&want), "{got}\nwant\n{want}");
}

/// `--threads 1` to `16` as users run it: the exported session table is the same file,
/// byte for byte, on every fixture (the TLS ones with their key logs), with the default
/// chunks and with chunks of 4 KiB so that the small fixtures span many.
#[test]
fn every_thread_count_exports_the_same_session_table() {
    let dir = std::env::temp_dir().join(format!("wsaudit-threads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut captures = fixtures();
    captures.extend(tls_fixtures());
    for f in captures {
        let keys = f.with_extension("keys");
        let export = |threads: usize, chunk: Option<usize>| {
            let out = dir.join(format!("t{threads}-{}.csv", chunk.unwrap_or(0)));
            let mut cmd = std::process::Command::new(common::bin());
            cmd.args(["analyze", "-q", "--threads", &threads.to_string()])
                .arg(&f)
                .arg("--sessions")
                .arg(&out);
            if keys.is_file() {
                cmd.arg("--keylog").arg(&keys);
            }
            if let Some(c) = chunk {
                cmd.args(["--chunk-bytes", &c.to_string()]);
            }
            let run = cmd.output().unwrap();
            assert!(
                run.status.success(),
                "{} --threads {threads}: {}",
                f.display(),
                String::from_utf8_lossy(&run.stderr)
            );
            std::fs::read(&out).unwrap()
        };
        let one = export(1, None);
        for threads in [2, 3, 4, 5, 8, 16] {
            for chunk in [None, Some(4096)] {
                assert!(
                    export(threads, chunk) == one,
                    "{}: --threads {threads} (chunks {chunk:?}) exported another table than --threads 1",
                    f.display()
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The same on generated captures big enough that chunks hold thousands of records and a
/// worker's part of one chunk is sent in several pieces (small packets: many segments per
/// MiB), so pieces, chunk ends and decoder lanes all interleave.
#[test]
fn decoders_give_the_sequential_result_on_many_chunks_and_pieces() {
    for (profile, mib) in [
        (gencap::Profile::Small, 12u64),
        (gencap::Profile::Mixed, 24),
    ] {
        let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("parallel-{}-{mib}MiB.pcap", profile.name()));
        if !path.is_file() {
            gencap::generate(&gencap::Args::new(profile, mib << 20, 11, path.clone())).unwrap();
        }
        let input = Input::Path(path.clone());
        let seq = analyze(&input, &Options::default());
        assert!(
            seq.tcp_segments > 20_000 && seq.sessions.len() > 10,
            "{}: {} segments, {} sessions",
            path.display(),
            seq.tcp_segments,
            seq.sessions.len()
        );
        same_as_sequential(
            &input,
            &seq,
            &Options::default,
            &[
                (0, 1, 300 << 10),
                (1, 2, 256 << 10),
                (3, 4, 1 << 20),
                (2, 7, 64 << 10),
            ],
        );
    }
}

/// The workers of one capture finish together and do not spill rows that fit the
/// budget (only another capture still being read makes a finishing sink spill): one
/// capture's 4 sinks holding 40 sessions within a budget of 64 write nothing, while with
/// a sink of another capture still live the same finish spills.
#[test]
fn the_sinks_of_one_capture_finish_together_without_spilling_within_the_budget() {
    use wsaudit::pipeline::SessionSink;
    use wsaudit::table::chunks::{SpillBudget, TableSink};
    use wsaudit::table::run::SpillDir;
    let records = analyze(
        &Input::Path(common::fixture("demo.pcap")),
        &Options::default(),
    )
    .sessions;
    assert!(!records.is_empty());
    for other_capture_live in [false, true] {
        let folder = SpillFolder::new("finish");
        let dir = SpillDir::new(folder.0.clone());
        let budget = SpillBudget::new(64);
        let mut sinks: Vec<TableSink> = (0..4)
            .map(|_| {
                TableSink::with_chunk_rows(false, 4).spilling_within(dir.clone(), budget.clone())
            })
            .collect();
        let other = other_capture_live.then(|| {
            TableSink::with_chunk_rows(false, 4).spilling_within(dir.clone(), budget.clone())
        });
        for i in 0..40 {
            sinks[i % 4].push(records[i % records.len()].clone());
        }
        let outs = TableSink::finish_all(sinks);
        let spilled = outs.iter().filter(|o| o.spilled()).count();
        if other_capture_live {
            assert!(
                spilled > 0,
                "a capture still read: finished rows over half the budget spill"
            );
        } else {
            assert_eq!(
                spilled, 0,
                "nothing else live: 40 rows within a budget of 64 stay in memory"
            );
        }
        drop(other);
    }
}

/// Analyse `input` with each (decoders, workers, chunk bytes) and compare with the
/// sequential result `seq`: sessions, refused upgrades, TLS counts, packets, segments,
/// evictions and time range.
fn same_as_sequential(
    input: &Input,
    seq: &wsaudit::pipeline::CaptureResult,
    base: &dyn Fn() -> Options,
    plans: &[(usize, usize, usize)],
) {
    for &(decoders, shards, chunk_bytes) in plans {
        let par = analyze(
            input,
            &Options {
                shards,
                decoders,
                chunk_bytes,
                ..base()
            },
        );
        let how = format!(
            "{}: {decoders} decoders, {shards} workers, chunks of {chunk_bytes} bytes",
            input.name()
        );
        assert!(par.sessions == seq.sessions, "{how}: sessions differ");
        assert_eq!(par.refused, seq.refused, "{how}");
        assert_eq!(par.tls, seq.tls, "{how}");
        assert_eq!(par.read.packets, seq.read.packets, "{how}");
        assert_eq!(par.tcp_segments, seq.tcp_segments, "{how}");
        assert_eq!(par.evicted, seq.evicted, "{how}");
        assert_eq!(
            (par.first_ts, par.last_ts),
            (seq.first_ts, seq.last_ts),
            "{how}"
        );
    }
}
