//! Sharding a capture's connections over worker threads changes nothing: the same
//! sessions, refused upgrades and counts, in the same order, as one thread.

use std::path::PathBuf;

use wsaudit::pipeline::{analyze, analyze_all, Input, Options};

fn fixtures() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.to_string_lossy();
            n.ends_with(".pcap") || n.ends_with(".pcapng")
        })
        .collect();
    v.sort();
    v
}

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
