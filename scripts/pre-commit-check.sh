#!/usr/bin/env bash
# Proves a pre-commit hook of this repository with the real pre-commit. In a scratch platform
# repository made as README's quick start makes one (`deaap-gen init`, then `deaap-gen new-env qa
# --extends environments/staging.toml`, then `deaap-gen build`), under git, it runs the hook named
# by $1 (deaap-gen-diff by default) through a pre-commit configuration that names this repository
# and a revision, which installs it the way users get it, and shows that
#   (a) a commit whose environment files and generated output agree passes,
#   (b) an environment edited without regenerating is blocked: the diff hooks show the diff; the
#       build hooks rewrite generated/ in the working tree (and fail because they changed it),
#   (c) after `deaap-gen build` (diff hooks) or staging what the hook wrote (build hooks), the
#       commit passes.
# Prints one line per case; exits non-zero when any case fails.
#
# The revision is a commit of a copy of this repository with its uncommitted changes to tracked
# files (what `pre-commit try-repo` would test). With DEAAP_PRECOMMIT_SHARE set to a folder, runs
# for several hooks share that copy and pre-commit's store, so deaap-gen is compiled once for all
# of them, as for a user whose configuration lists several hooks of this repository.
# - deaap-gen-diff (language: rust): pre-commit runs `cargo install` of that revision. That is a
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
  deaap-gen-diff | deaap-gen-build)
    export CARGO_TARGET_DIR=${DEAAP_PRECOMMIT_TARGET:-$TOOLS/pre-commit-target}
    export CARGO_PROFILE_RELEASE_OPT_LEVEL=${CARGO_PROFILE_RELEASE_OPT_LEVEL:-0}
    export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=${CARGO_PROFILE_RELEASE_CODEGEN_UNITS:-256}
    mkdir -p "$CARGO_TARGET_DIR"
    ;;
  deaap-gen-diff-system | deaap-gen-build-system)
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
(
  "$BIN" init "$REPO" 2>/dev/null &&
    cd "$REPO" &&
    "$BIN" new-env qa --extends environments/staging.toml 2>/dev/null &&
    git init -q &&
    git config user.email "ci@deaap.invalid" &&
    git config user.name "deaap-gen pre-commit check" &&
    git config commit.gpgsign false
) || { echo "FAIL  cannot create the scratch repository"; exit 1; }

SHARE=${DEAAP_PRECOMMIT_SHARE:-$WORK/share}
if [ ! -d "$SHARE/repo/.git" ]; then
  mkdir -p "$SHARE"
  (
    git clone -q "$ROOT" "$SHARE/repo" &&
      (cd "$ROOT" && git diff HEAD --binary) >"$SHARE/uncommitted.diff" &&
      if [ -s "$SHARE/uncommitted.diff" ]; then
        cd "$SHARE/repo" &&
          git apply --binary "$SHARE/uncommitted.diff" &&
          git -c user.email=ci@deaap.invalid -c user.name="deaap-gen pre-commit check" \
            -c commit.gpgsign=false commit -qam "uncommitted changes"
      fi
  ) || { echo "FAIL  cannot copy the repository"; exit 1; }
fi
CONFIG=$WORK/pre-commit-config.yaml
cat >"$CONFIG" <<EOF
repos:
  - repo: $SHARE/repo
    rev: $(git -C "$SHARE/repo" rev-parse HEAD)
    hooks:
      - id: $HOOK
EOF
export PRE_COMMIT_HOME=$SHARE/pre-commit-home

FAILED=0
LOG=$WORK/pre-commit.log

# hook: runs the hook on what is staged in the scratch repository, output in $LOG.
hook() {
  (cd "$REPO" && NO_COLOR=1 "$PRE_COMMIT" run --config "$CONFIG" "$HOOK" --color never) >"$LOG" 2>&1
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

# (b) A replica count changed by hand in qa (api-gateway, 2 in staging), output not regenerated.
printf '\n[services.api-gateway]\nreplicas = 3\n' >>"$REPO/environments/qa.toml"
(cd "$REPO" && git add environments/qa.toml)
if hook; then
  fail "(b) environment edited without regenerating: the hook should block the commit"
elif [[ $HOOK == deaap-gen-build* ]]; then
  if grep -q "files were modified by this hook" "$LOG" &&
    ! (cd "$REPO" && git diff --quiet -- generated/qa); then
    echo "ok    (b) environment edited without regenerating: commit blocked, generated/ rewritten"
  else
    fail "(b) the hook failed but did not rewrite generated/qa"
  fi
elif grep -q "^--- a/qa/" "$LOG" && grep -q "^+++ b/qa/" "$LOG" &&
  grep -q "^@@ " "$LOG" && grep -q "files\? changed, [0-9]* added, [0-9]* removed" "$LOG" &&
  grep -q "deaap-gen build" "$LOG"; then
  echo "ok    (b) environment edited without regenerating: commit blocked, diff shown"
else
  fail "(b) the hook failed but did not show the diff and the fix"
fi

# (c) Regenerated (by hand, or by the build hook in (b)) and staged: the same commit now passes.
if [[ $HOOK == deaap-gen-build* ]]; then
  (cd "$REPO" && git add -A)
else
  (cd "$REPO" && "$BIN" build environments/ 2>/dev/null && git add -A)
fi
if hook && grep -q "Passed" "$LOG" && commit "qa: three api-gateway replicas"; then
  echo "ok    (c) after regenerating (${HOOK%-system}: $([[ $HOOK == deaap-gen-build* ]] && echo "what the hook wrote, staged" || echo "deaap-gen build")): commit passes"
else
  fail "(c) after deaap-gen build: the hook should pass"
fi

exit "$FAILED"
