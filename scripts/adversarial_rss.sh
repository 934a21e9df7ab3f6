#!/usr/bin/env bash
# Peak RSS of `wsaudit analyze` on the adversarial captures of tests/adversarial.rs
# (2^63-byte frame, endless fragmentation, a million tiny frames, gigabyte sequence gaps,
# SYN floods of 100,000 and 1,000,000 connections, endless headers, no 101), one at a time.
#
#   scripts/adversarial_rss.sh [EXTRA_ANALYZE_ARGS...]
#
# The tests write their captures to $WSAUDIT_ADVERSARIAL_DIR; this script then runs the
# release binary on each and prints the peak RSS (from /proc via GNU time when present,
# else the shell's getrusage). Compare with the caps documented on `tcp::Limits`.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
cd "$ROOT"
WSAUDIT_ADVERSARIAL_DIR="$DIR" cargo test --quiet --test adversarial >/dev/null
cargo build --quiet --release
BIN="$ROOT/target/release/wsaudit"
printf '%-22s %10s %12s\n' capture size_kb max_rss_kb
for f in "$DIR"/*.pcap; do
    size=$(( $(stat -c %s "$f") / 1024 ))
    if [ -x /usr/bin/time ]; then
        rss=$(/usr/bin/time -f '%M' "$BIN" analyze "$f" --quiet "$@" 2>&1 >/dev/null | tail -1)
    else
        rss=$(python3 -c 'import resource,subprocess,sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$BIN" analyze "$f" --quiet "$@")
    fi
    printf '%-22s %10d %12s\n' "$(basename "$f" .pcap)" "$size" "$rss"
done
