#!/usr/bin/env bash
# Proves a pre-commit hook of this repository with the real pre-commit. In a scratch git repository
# holding a copy of environments/ and a generated/ tree built by deaap-gen, it runs the hook named
# by $1 (deaap-gen-diff by default) through `pre-commit try-repo`, which installs it the way users
# get it, and shows that
#   (a) a commit whose environment files and generated output agree passes,
#   (b) an environment edited without regenerating is blocked, with the diff shown,
#   (c) after `deaap-gen build` the commit passes.
# Prints one line per case; exits non-zero when any case fails.
#
# try-repo only sees committed (or staged and tracked) files of this repository.
# - deaap-gen-diff (language: rust): try-repo runs `cargo install` of the committed tree. That is a
#   release build; here it is made without optimisation (CARGO_PROFILE_RELEASE_*), which proves the
#   same install path in a fraction of the time, and CARGO_TARGET_DIR is kept in the tools cache.
# - deaap-gen-diff-system (language: system): runs the deaap-gen on PATH, here the one under test.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=${TOOLS:-${DEAAP_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/deaap-gen-conformance}}
PRE_COMMIT=${PRE_COMMIT:-$TOOLS/venv/bin/pre-commit}
# The binary that builds the scratch repository's generated/ must be this tree's: by default it is
# built here (the conformance driver passes the one it built as BIN).
BIN=${BIN:-${DEAAP_GEN:-}}

if [ ! -x "$PRE_COMMIT" ]; then
  echo "FAIL  pre-commit not found at $PRE_COMMIT (scripts/conformance.sh installs it)"
  exit 1
fi
if [ -z "$BIN" ]; then
  (cd "$ROOT" && cargo build --quiet) || { echo "FAIL  cannot build deaap-gen"; exit 1; }
  BIN=$ROOT/target/debug/deaap-gen
fi
HOOK=${1:-deaap-gen-diff}
case "$HOOK" in
  deaap-gen-diff)
    export CARGO_TARGET_DIR=${DEAAP_PRECOMMIT_TARGET:-$TOOLS/pre-commit-target}
    export CARGO_PROFILE_RELEASE_OPT_LEVEL=${CARGO_PROFILE_RELEASE_OPT_LEVEL:-0}
    export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=${CARGO_PROFILE_RELEASE_CODEGEN_UNITS:-256}
    mkdir -p "$CARGO_TARGET_DIR"
    ;;
  deaap-gen-diff-system)
    PATH="$(cd "$(dirname "$BIN")" && pwd):$PATH"
    export PATH
    ;;
  *)
    echo "FAIL  unknown hook $HOOK"
    exit 1
    ;;
esac

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
REPO=$WORK/platform
mkdir -p "$REPO"
cp -R "$ROOT/environments" "$REPO/environments"
(
  cd "$REPO" &&
    git init -q &&
    git config user.email "ci@deaap.invalid" &&
    git config user.name "deaap-gen pre-commit check" &&
    git config commit.gpgsign false
) || { echo "FAIL  cannot create the scratch repository"; exit 1; }

FAILED=0
LOG=$WORK/pre-commit.log

# hook: runs the hook on what is staged in the scratch repository, output in $LOG.
hook() {
  (cd "$REPO" && NO_COLOR=1 "$PRE_COMMIT" try-repo "$ROOT" "$HOOK" --color never) >"$LOG" 2>&1
}
fail() {
  FAILED=1
  echo "FAIL  $1"
  sed 's/^/      /' "$LOG" | tail -n 40
}
# commit MESSAGE: the commit the hook allowed.
commit() { (cd "$REPO" && git commit -q --no-verify -m "$1"); }

# (a) The first commit: environments and the generated tree built from them.
(cd "$REPO" && "$BIN" build environments/ 2>/dev/null && git add -A)
if hook && grep -q "Passed" "$LOG" && commit "environments and generated output"; then
  echo "ok    (a) consistent environments and generated output: commit passes"
else
  fail "(a) consistent environments and generated output: the hook should pass"
fi

# (b) A replica count changed by hand (production's Redis, two more: a Sentinel set stays odd),
# output not regenerated.
awk '/^\[/ { redis = ($0 == "[storage.redis]") }
  redis && /^replicas = [0-9]+$/ { print "replicas = " $3 + 2; next } { print }' \
  "$REPO/environments/production.toml" >"$WORK/production.toml"
if cmp -s "$WORK/production.toml" "$REPO/environments/production.toml"; then
  echo "FAIL  (b) production.toml has no [storage.redis] replicas to change"
  exit 1
fi
mv "$WORK/production.toml" "$REPO/environments/production.toml"
(cd "$REPO" && git add environments/production.toml)
if hook; then
  fail "(b) environment edited without regenerating: the hook should block the commit"
elif grep -q "^--- a/production/" "$LOG" && grep -q "^+++ b/production/" "$LOG" &&
  grep -q "^@@ " "$LOG" && grep -q "files\? changed, [0-9]* added, [0-9]* removed" "$LOG" &&
  grep -q "deaap-gen build" "$LOG"; then
  echo "ok    (b) environment edited without regenerating: commit blocked, diff shown"
else
  fail "(b) the hook failed but did not show the diff and the fix"
fi

# (c) Regenerated and staged: the same commit now passes.
(cd "$REPO" && "$BIN" build environments/ 2>/dev/null && git add -A)
if hook && grep -q "Passed" "$LOG" && commit "production: one Redis replica fewer"; then
  echo "ok    (c) after deaap-gen build: commit passes"
else
  fail "(c) after deaap-gen build: the hook should pass"
fi

exit "$FAILED"
