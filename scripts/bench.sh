#!/usr/bin/env bash
# Benchmarks the whole pipeline with hyperfine (Debian package `hyperfine`): validate, a full build of
# every shipped environment into a fresh folder, a no-op rebuild, the drift check, render, and
# check (the system proof alone, and with the connection matrix printed); then, in one hyperfine run,
# `deaap-gen render` of production next to `helm template` of the chart with production's generated
# values (the same objects), with their ratio. Helm comes from PATH or from the conformance tools
# cache (scripts/conformance.sh installs it).
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

HELM=$(command -v helm || true)
TOOLS=${DEAAP_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/deaap-gen-conformance}
[ -z "$HELM" ] && [ -x "$TOOLS/helm/helm/helm" ] && HELM=$TOOLS/helm/helm/helm
if [ -z "$HELM" ]; then
  echo "helm not found (run scripts/conformance.sh once to install it): render vs helm template skipped" >&2
  exit 0
fi
hyperfine --warmup 3 --runs "${BENCH_RUNS:-30}" --export-markdown "${BENCH_HELM_REPORT:-/dev/null}" \
  -n render-production "$BIN render environments/production.toml" \
  -n helm-template-production "$HELM template deaap-production charts/deaap -f $OUT/warm/production/helm/values-production.yaml --include-crds"
