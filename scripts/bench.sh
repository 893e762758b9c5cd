#!/usr/bin/env bash
# Benchmarks the whole pipeline with hyperfine (Debian package `hyperfine`): validate, a full build of
# every shipped environment into a fresh folder, a no-op rebuild, the drift check, render, and
# check (the system proof alone, and with the connection matrix printed); then, in one hyperfine run,
# `deaap-gen render` of production next to `helm template` of the chart with production's generated
# values (the same objects), with their ratio. Helm comes from PATH or from the conformance tools
# cache (scripts/conformance.sh installs it).
# DEAAP_GEN=<binary> times that binary instead of a fresh release build (e.g. to compare two
# revisions); BENCH_REPORT=<file> writes hyperfine's Markdown table there.
#
# scripts/bench.sh --scaling instead times a synthetic environment of N services
# (scripts/synth-model.py) for N = 10, 100, 1000 and 10000 (BENCH_SCALING_N="10 100" to choose):
# validate, build into an empty folder, a no-op build, render and diff, each command's peak memory
# (GNU time's maximum resident set; for a build, also after a new image, the median of five), and
# `helm template` of the chart with the values deaap-gen wrote for the same N services next to
# `deaap-gen render`, with their ratio and objects per second. It prints one Markdown table, then a second with how
# many times each time and the peaks grow from one N to the next (the goal: a build of 1,000
# services after a new image in at most 300 ms and 64 MiB, and of 10,000 in at most ten times
# that), and writes both to BENCH_SCALING_REPORT=<file> if set.
#
# Every command runs with DEAAP_GEN_NO_CACHE=1, compiling everything and evaluating every admission
# review as a first run does, except the rows and columns marked "kept", which keep what runs may
# reuse in a cache folder of their own (warmed by hyperfine's warm-up run), as repeated runs do:
# "after an edit" changes an environment file before each run (a comment), so the run compiles
# with every Gatekeeper verdict and proof outcome kept; "after a new image" gives one service a new
# image before each build, which writes its changed files; "unchanged" takes the compilation kept
# whole.
#
# scripts/bench.sh --cold-build instead times what a new user waits for: `cargo build --release
# --timings` in a fresh clone of the committed HEAD (uncommitted changes are not in it), with a
# target folder of its own and the crates already downloaded (`cargo fetch`, not timed). It prints
# the wall and CPU time, the load average before the build (the machine should be quiet), the
# longest crates, and when deaap-gen itself started and how long it took; BENCH_TIMINGS=<file>
# keeps cargo's HTML timings report there.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

if [ "${1:-}" = "--cold-build" ]; then
  [ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time; }
  CLONE=$(mktemp -d)
  trap 'rm -rf "$CLONE"' EXIT
  git clone -q "$ROOT" "$CLONE/deaap-gen"
  cd "$CLONE/deaap-gen"
  unset CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR
  cargo fetch --locked -q
  echo "HEAD $(git log --oneline -1); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  /usr/bin/time -f '%e %U %S' -o "$CLONE/time" cargo build --release --locked --timings -q
  read -r wall user sys < "$CLONE/time"
  report=target/cargo-timings/cargo-timing.html
  [ -n "${BENCH_TIMINGS:-}" ] && cp "$report" "$BENCH_TIMINGS"
  python3 - "$report" "$wall" "$user" "$sys" <<'PY'
import json, re, sys
report, wall, user, sys_time = sys.argv[1], *map(float, sys.argv[2:])
units = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);", open(report).read(), re.S).group(1))
crate = sum(u["duration"] for u in units)
print(f"cold release build: {wall:.1f} s wall ({wall // 60:.0f} min {wall % 60:02.0f} s), "
      f"{user + sys_time:.0f} s CPU ({user:.0f} s user), {len(units)} units, {crate:.0f} s of crate time")
for u in sorted(units, key=lambda u: -u["duration"])[:8]:
    print(f"  {u['name']:<30} {u['duration']:6.1f} s, from {u['start']:6.1f} s")
own = max((u for u in units if u["name"] == "deaap-gen"), key=lambda u: u["duration"])
print(f"deaap-gen itself: {own['duration']:.1f} s, from {own['start']:.1f} s")
PY
  exit 0
fi

command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine; }
if [ -n "${DEAAP_GEN:-}" ]; then
  BIN=$DEAAP_GEN
else
  cargo build --release --quiet
  BIN=$ROOT/target/release/deaap-gen
fi
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
export DEAAP_GEN_NO_CACHE=1
KEPT="env DEAAP_GEN_NO_CACHE=0 $BIN --cache-dir $OUT/cache"
# An edit that changes an environment file but none of its objects (a comment): the next run
# compiles again, with every admission verdict kept.
EDIT=$OUT/edit
# shellcheck disable=SC2016 # the script expands $1 when it runs
printf '#!/bin/sh\necho "# edited" >> "$1"\n' > "$EDIT"
chmod +x "$EDIT"
# An edit that changes one service's objects (a new image for svc-00000 of the synthetic
# environment in folder $1): the next build writes them, with every other verdict and the proof
# outcomes kept.
RETAG=$OUT/retag
cat > "$RETAG" <<'SH'
#!/bin/sh
n=$(($(cat "$1/.retag" 2>/dev/null || echo 0) + 1))
echo "$n" > "$1/.retag"
sed -i "s|repository = \"deaap/svc-00000\", tag = \"[^\"]*\"|repository = \"deaap/svc-00000\", tag = \"2.0.$n\"|" "$1"/layers/*.toml
SH
chmod +x "$RETAG"
HELM=$(command -v helm || true)
TOOLS=${DEAAP_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/deaap-gen-conformance}
[ -z "$HELM" ] && [ -x "$TOOLS/helm/helm/helm" ] && HELM=$TOOLS/helm/helm/helm

if [ "${1:-}" = "--scaling" ]; then
  [ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time; }
  REPORT=${BENCH_SCALING_REPORT:-/dev/null}
  # Mean ± standard deviation in ms of each command of a hyperfine JSON export, by name.
  means() {
    python3 -c 'import json,sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(r["command"], "%.0f" % (r["mean"] * 1000), "%.0f" % (r["stddev"] * 1000 if r["stddev"] else 0))' "$1"
  }
  # Peak resident memory in MiB of one run of a command.
  rss() {
    /usr/bin/time -f %M -o "$OUT/rss" "$@" >/dev/null 2>&1 || true
    echo $(($(tail -1 "$OUT/rss") / 1024))
  }
  {
    echo "| services | objects | validate | build (empty folder) | no-op build | render | diff | after an edit, verdicts kept: validate · no-op build | after a new image, kept: build | unchanged, compilation kept: validate · no-op build · diff | peak RSS: build · after a new image · no-op build, unchanged · render · helm | helm template | render vs helm | objects/s render · helm |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  } | tee "$REPORT"
  for n in ${BENCH_SCALING_N:-10 100 1000 10000}; do
    model=$OUT/model-$n
    python3 scripts/synth-model.py "$n" "$model"
    "$BIN" -q build "$model" -o "$OUT/warm-$n"
    cp -R "$model" "$model-retag"
    "$BIN" -q build "$model-retag" -o "$OUT/retag-$n"
    # As a folder a team builds into again and again: its files settled, and a check has found
    # them and remembered how they look (a first run keeps the compilation, the next one checks).
    sleep 3
    $KEPT -q build "$model-retag" -o "$OUT/retag-$n"
    $KEPT -q build "$model-retag" -o "$OUT/retag-$n"
    objects=$("$BIN" render "$model/synth.toml" | grep -c '^---$')
    runs=$(( n >= 10000 ? 3 : n >= 1000 ? 5 : 10 ))
    # hyperfine takes one --prepare per command (or one for all): `true` where none is needed.
    commands=(
      -n validate --prepare true "$BIN validate $model"
      -n build-fresh --prepare "rm -rf $OUT/fresh" "$BIN -q build $model -o $OUT/fresh"
      -n build-noop --prepare true "$BIN -q build $model -o $OUT/warm-$n"
      -n render --prepare true "$BIN render $model/synth.toml"
      -n diff --prepare true "$BIN diff $model --against $OUT/warm-$n --stat"
      -n validate-edited --prepare "$EDIT $model/synth.toml" "$KEPT validate $model"
      -n build-noop-edited --prepare "$EDIT $model/synth.toml" "$KEPT -q build $model -o $OUT/warm-$n"
      -n build-retag --prepare "$RETAG $model-retag" "$KEPT -q build $model-retag -o $OUT/retag-$n"
      -n validate-kept --prepare true "$KEPT validate $model"
      -n build-noop-kept --prepare true "$KEPT -q build $model -o $OUT/warm-$n"
      -n diff-kept --prepare true "$KEPT diff $model --against $OUT/warm-$n --stat"
    )
    values=$OUT/warm-$n/synth/helm/values-synth.yaml
    [ -n "$HELM" ] && commands+=(-n helm --prepare true "$HELM template deaap-synth charts/deaap -f $values --include-crds")
    hyperfine -N --warmup 1 --runs "$runs" --export-json "$OUT/scaling-$n.json" "${commands[@]}" >&2
    declare -A ms=() ms_mean=()
    while read -r name mean sd; do ms[$name]="$mean ± $sd"; ms_mean[$name]=$mean; done < <(means "$OUT/scaling-$n.json")
    rm -rf "$OUT/fresh"
    peak=$(rss "$BIN" -q build "$model" -o "$OUT/fresh")
    kept_peak=$(rss env DEAAP_GEN_NO_CACHE=0 "$BIN" --cache-dir "$OUT/cache" -q build "$model" -o "$OUT/warm-$n")
    # A build after a new image: the median of five peaks, each after a new image (one peak varies
    # by a few MiB from run to run, with the moments the allocator gives memory back).
    retag_peak=$(for _ in 1 2 3 4 5; do
      "$RETAG" "$model-retag"
      rss env DEAAP_GEN_NO_CACHE=0 "$BIN" --cache-dir "$OUT/cache" -q build "$model-retag" -o "$OUT/retag-$n"
    done | sort -n | sed -n 3p)
    render_peak=$(rss "$BIN" render "$model/synth.toml")
    helm_peak="–"
    [ -n "$HELM" ] && helm_peak=$(rss "$HELM" template deaap-synth charts/deaap -f "$values" --include-crds)
    helm_cell="–"; ratio="–"; rate="$((objects * 1000 / (ms_mean[render] > 0 ? ms_mean[render] : 1))) · –"
    if [ -n "$HELM" ]; then
      helm_cell="${ms[helm]} ms"
      ratio=$(python3 -c "print('%.2f×' % (${ms_mean[render]} / max(${ms_mean[helm]}, 1)))")
      rate="$((objects * 1000 / (ms_mean[render] > 0 ? ms_mean[render] : 1))) · $((objects * 1000 / (ms_mean[helm] > 0 ? ms_mean[helm] : 1)))"
    fi
    echo "$peak $retag_peak $render_peak" > "$OUT/peaks-$n"
    echo "| $n | $objects | ${ms[validate]} ms | ${ms[build-fresh]} ms | ${ms[build-noop]} ms | ${ms[render]} ms | ${ms[diff]} ms | ${ms[validate-edited]} · ${ms[build-noop-edited]} ms | ${ms[build-retag]} ms | ${ms[validate-kept]} · ${ms[build-noop-kept]} · ${ms[diff-kept]} ms | $peak · $retag_peak · $kept_peak · $render_peak · $helm_peak MiB | $helm_cell | $ratio | $rate |" | tee -a "$REPORT"
    unset ms ms_mean
  done
  # How many times each mean time and each peak grows from one N to the next.
  python3 - "$OUT" "${BENCH_SCALING_N:-10 100 1000 10000}" <<'PY' | tee -a "$REPORT"
import json, sys
out, ns = sys.argv[1], sys.argv[2].split()
columns = [("validate", ["validate"]), ("build (empty folder)", ["build-fresh"]),
           ("no-op build", ["build-noop"]), ("render", ["render"]), ("diff", ["diff"]),
           ("after an edit: validate · no-op build", ["validate-edited", "build-noop-edited"]),
           ("after a new image: build", ["build-retag"]), ("helm template", ["helm"])]
def means(n):
    return {r["command"]: r["mean"] for r in json.load(open(f"{out}/scaling-{n}.json"))["results"]}
def peaks(n):
    return [float(p) for p in open(f"{out}/peaks-{n}").read().split()]
print()
print("| growth | " + " | ".join(c for c, _ in columns) + " | peak RSS: build · after a new image · render |")
print("|---" + "|---:" * (len(columns) + 1) + "|")
for a, b in zip(ns, ns[1:]):
    ma, mb = means(a), means(b)
    cells = [" · ".join("%.1f×" % (mb[k] / ma[k]) if k in ma and k in mb and ma[k] else "–"
                        for k in keys) for _, keys in columns]
    grown = " · ".join("%.1f×" % (q / p) if p else "–" for p, q in zip(peaks(a), peaks(b)))
    print(f"| {a} → {b} | " + " | ".join(cells) + f" | {grown} |")
PY
  exit 0
fi
"$BIN" build environments/ -o "$OUT/warm" 2>/dev/null
# The "after an edit" rows edit a copy of the environments, never the repository's.
cp -R environments "$OUT/envs"
hyperfine -N --warmup 3 --runs "${BENCH_RUNS:-30}" --export-markdown "${BENCH_REPORT:-/dev/null}" \
  -n validate --prepare true "$BIN validate environments/" \
  -n build-fresh --prepare "rm -rf $OUT/fresh" "$BIN build environments/ -o $OUT/fresh" \
  -n build-noop --prepare true "$BIN build environments/ -o $OUT/warm" \
  -n diff-clean --prepare true "$BIN diff environments/ --against $OUT/warm --stat" \
  -n render-production --prepare true "$BIN render environments/production.toml" \
  -n check --prepare true "$BIN check environments/" \
  -n check-flows --prepare true "$BIN check --flows --format json environments/" \
  -n validate-edited --prepare "$EDIT $OUT/envs/base.toml" "$KEPT validate $OUT/envs" \
  -n build-noop-edited --prepare "$EDIT $OUT/envs/base.toml" "$KEPT build $OUT/envs -o $OUT/warm" \
  -n validate-kept --prepare true "$KEPT validate environments/" \
  -n build-noop-kept --prepare true "$KEPT build environments/ -o $OUT/warm" \
  -n diff-kept --prepare true "$KEPT diff environments/ --against $OUT/warm --stat"

if [ -z "$HELM" ]; then
  echo "helm not found (run scripts/conformance.sh once to install it): render vs helm template skipped" >&2
  exit 0
fi
hyperfine --warmup 3 --runs "${BENCH_RUNS:-30}" --export-markdown "${BENCH_HELM_REPORT:-/dev/null}" \
  -n render-production "$BIN render environments/production.toml" \
  -n helm-template-production "$HELM template deaap-production charts/deaap -f $OUT/warm/production/helm/values-production.yaml --include-crds"
