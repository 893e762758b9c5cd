#!/usr/bin/env bash
# Benchmarks the whole pipeline with hyperfine (Debian package `hyperfine`): validate, a full build of
# every shipped environment into a fresh folder, a no-op rebuild, the drift check, render, and
# check (the system proof alone, and with the connection matrix printed).
# DEAAP_GEN=<binary> times that binary instead of a fresh release build (e.g. to compare two
# revisions); BENCH_REPORT=<file> writes hyperfine's Markdown table there.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine; }
if [ -n "${DEAAP_GEN:-}" ]; then
  BIN=$DEAAP_GEN
else
  cargo build --release --quiet
  BIN=$ROOT/target/release/deaap-gen
fi
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
"$BIN" build environments/ -o "$OUT/warm" 2>/dev/null
hyperfine --warmup 3 --runs "${BENCH_RUNS:-30}" --export-markdown "${BENCH_REPORT:-/dev/null}" \
  -n validate "$BIN validate environments/" \
  -n build-fresh --prepare "rm -rf $OUT/fresh" "$BIN build environments/ -o $OUT/fresh" \
  -n build-noop "$BIN build environments/ -o $OUT/warm" \
  -n diff-clean "$BIN diff environments/ --against $OUT/warm --stat" \
  -n render-production "$BIN render environments/production.toml" \
  -n check "$BIN check environments/" \
  -n check-flows "$BIN check --flows --format json environments/"
