#!/usr/bin/env bash
# Runs one wsaudit binary over every fixture (captures and logs) with every output it
# has: the terminal report (with every --by and the timeline), --format json, every
# export format, report over exported tables, and the audit's text, JSON, Markdown and
# HTML. Writes each command's stdout, stderr, exit code and files under OUT.
#
# Used to prove a change has no behaviour change: run it with the binary from before and
# the binary from after, then `diff -r` the two folders.
#
#   scripts/compare_outputs.sh OLD_BIN /tmp/cmp/old
#   scripts/compare_outputs.sh target/debug/wsaudit /tmp/cmp/new
#   diff -r /tmp/cmp/old /tmp/cmp/new && echo identical
#
# BIG=path/to/capture.pcap adds the big capture (e.g. the 1 GiB bench file) with -q and
# its exports. Paths in outputs are relative to the repository, so the two folders can
# be compared byte for byte.
set -uo pipefail
BIN=$(realpath "$1")
OUT=$2
cd "$(dirname "$0")/.."
rm -rf "$OUT"
mkdir -p "$OUT"
n=0

# run NAME ARGS...: runs the binary from OUT/NAME (created), outputs land there.
run() {
  local name=$1
  shift
  n=$((n + 1))
  local dir="$OUT/$name"
  mkdir -p "$dir"
  (cd "$dir" && "$BIN" "$@" >stdout 2>stderr; echo $? >rc)
  # The only run-dependent text: temp folder names carrying a pid.
  sed -i -E 's/wsaudit-(spill|test)-[0-9]+[-0-9a-z]*/wsaudit-\1-PID/g; s/wsaudit-tmp\.[0-9]+/wsaudit-tmp.PID/g' "$dir/stderr" "$dir/stdout"
  # The audit's "generated at" time (whole seconds; data times carry fractions).
  local t
  for t in "$dir"/stdout "$dir"/*.md "$dir"/*.html; do
    [ -f "$t" ] && sed -i -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}Z/GENERATED/g' "$t"
  done
}

R=$(pwd)
FX=$R/fixtures
caps=("$FX"/*.pcap "$FX"/*.pcapng)
for f in "${caps[@]}"; do
  b=$(basename "$f")
  run "analyze-$b" analyze "$f"
  run "json-$b" analyze "$f" --format json
  run "by-$b" analyze "$f" --by server,path,host,subprotocol,client,user-agent,capture,minute,hour --timeline
  run "exports-$b" analyze -q "$f" --sessions s.csv --closes c.csv --refused r.csv \
    --summary p.csv --reconnects x.csv
  run "exports-pq-$b" analyze -q "$f" --sessions s.parquet --closes c.parquet \
    --refused r.parquet --summary p.parquet --reconnects x.parquet
  run "exports-json-$b" analyze -q "$f" --sessions s.json --closes c.jsonl --summary p.json
done

run all analyze "${caps[@]}" --by server,path --timeline --top 3
run all-json analyze "${caps[@]}" --format json --by server,path --timeline
run all-spill analyze "${caps[@]}" --spill-after 1 --sessions s.csv --closes c.csv
run all-csv-raw analyze "${caps[@]}" --sessions s.csv --csv-raw -q
run all-window analyze "${caps[@]}" --window 1 --reconnects x.csv
run all-partition analyze -q "${caps[@]}" --sessions ds --partition-by date
run report-partition report ../all-partition/ds --by server
run report-tables report ../all-spill/s.csv --by path --timeline
run report-tables-json report ../all-spill/s.csv --format json

# Logs: every fixture folder, forced formats, stdin.
run logs analyze "$FX/logs" --by server,path
run logs-json analyze "$FX/logs" --format json
run logs-export analyze -q "$FX/logs" --sessions s.csv --summary p.csv
run mixed analyze "$FX/demo.pcap" "$FX/logs" --sessions s.parquet --by capture
run missing analyze "$FX/demo.pcap" missing.pcap "$FX/README.md"
run notcap analyze "$FX/demo.truth.json"
run limits analyze "$FX/demo.pcap" --max-connections 2 --max-buffered 1000
run threads1 analyze "${caps[@]}" --threads 1 --sessions s.csv

# Audit: thresholds, a baseline, every output.
run base analyze -q "$FX/demo.pcap" --sessions base.parquet --refused base-refused.parquet
B=../base/base.parquet
run audit audit "$FX/ws_restart.pcap" "$FX/ws_lossy.pcap" --baseline "$B" \
  --max-rate 1006=5 --max-rate 1012=20 --markdown m.md --html h.html
run audit-json audit "$FX/ws_restart.pcap" "$FX/ws_lossy.pcap" --baseline "$B" \
  --max-rate 1006=5 --format json
run audit-all audit "${caps[@]}" "$FX/logs" --baseline "$B" --max-rate abnormal=1 \
  --max-rate 4000=1 --markdown m.md --html h.html --by server,path --timeline \
  --sessions s.csv --summary p.csv --reconnects x.csv
run audit-dir audit "${caps[@]}" --baseline ../base --max-rate 1006=50
run audit-missing audit "$FX/demo.pcap" missing.pcap --max-rate 1006=5
run audit-nobase audit "$FX/demo.pcap" --baseline nope.parquet
# Outputs that cannot be written, and tables that cannot be read.
run bad-out analyze "$FX/demo.pcap" --sessions "$FX/demo.pcap/s.csv" --summary "$FX/demo.pcap/p.csv" \
  --reconnects "$FX/demo.pcap/x.parquet" --refused "$FX/demo.pcap/r.json"
run bad-out-audit audit "$FX/demo.pcap" --sessions "$FX/demo.pcap/s.csv" --summary "$FX/demo.pcap/p.csv"
run bad-table report "$FX/demo.truth.json" "$FX/demo.pcap"
run bad-table-csv report "$FX/README.md"
run codes codes
run explain explain 1006
run compare compare 1001 1012

if [ -n "${BIG:-}" ]; then
  run big analyze -q "$BIG" --sessions s.parquet --refused r.parquet --summary p.csv \
    --reconnects x.csv
  run big-report analyze "$BIG" --by server,path --timeline
fi

# Outputs that name the folder they were written in would differ; none should.
grep -rl "$OUT" "$OUT" >/dev/null 2>&1 && echo "note: some outputs name $OUT"
echo "$n commands, outputs in $OUT"
