#!/bin/sh
# The two dashboard screenshots of the README (docs/analyze.png, docs/audit.png): the
# `analyze --html` and `audit --html` pages over every fixture capture and the log
# fixtures, in headless chromium, 1300 px wide, the top 2400 px of the page.
# Usage: scripts/screenshots.sh [path/to/wsaudit]   (default: target/debug/wsaudit)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/target/debug/wsaudit}
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Relative names on the pages, as a user in a checkout would see them.
ln -s "$root/fixtures" "$work/fixtures"
mkdir "$work/out"
cd "$work"
# The log folders wsaudit reads without options (fixtures/logs/pattern needs --pattern).
logs="fixtures/logs/go fixtures/logs/jetty fixtures/logs/mitmproxy fixtures/logs/noisy
fixtures/logs/python-websockets fixtures/logs/quoted fixtures/logs/tomcat fixtures/logs/tungstenite"
"$bin" analyze -q fixtures/demo.pcap --sessions out/2026-11-21.parquet
"$bin" analyze -q fixtures/*.pcap fixtures/*.pcapng $logs --html analyze.html 2>/dev/null
"$bin" audit -q fixtures/*.pcap fixtures/*.pcapng $logs --baseline out/2026-11-21.parquet \
    --max-rate 1006=5 --max-rate 1012=20 --html audit.html 2>/dev/null || true
for page in analyze audit; do
    chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --hide-scrollbars --user-data-dir="$work/profile" --window-size=1300,2400 \
        --screenshot="$root/docs/$page.png" "file://$work/$page.html" >/dev/null 2>&1
    ls -l "$root/docs/$page.png"
done
