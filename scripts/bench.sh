#!/usr/bin/env bash
# Benchmarks the whole pipeline with hyperfine (Debian package `hyperfine`): validate, a full build of
# every shipped environment into a fresh folder, a no-op rebuild, and the drift check.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine; }
cargo build --release --quiet
BIN=$ROOT/target/release/deaap-gen
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
"$BIN" build environments/ -o "$OUT/warm" 2>/dev/null
hyperfine --warmup 3 --runs 30 --export-markdown "${BENCH_REPORT:-/dev/null}" \
  -n validate "$BIN validate environments/" \
  -n build-fresh --prepare "rm -rf $OUT/fresh" "$BIN build environments/ -o $OUT/fresh" \
  -n build-noop "$BIN build environments/ -o $OUT/warm" \
  -n diff-clean "$BIN diff environments/ --against $OUT/warm --stat" \
  -n render-production "$BIN render environments/production.toml"
