# shellcheck shell=bash
# The pre-commit hooks with the real pre-commit (try-repo in a scratch repository): a consistent
# commit passes; stale output is blocked, with the diff (deaap-gen-diff) or with generated/
# rewritten (deaap-gen-build); then the commit passes. The plain hooks compile the tool as
# pre-commit does for users (one install, shared by both); the -system ones run the one under test.

PRECOMMIT_SHARE=$(mktemp -d)
export DEAAP_PRECOMMIT_SHARE=$PRECOMMIT_SHARE

check "pre-commit manifest: pre-commit validate-manifest" \
  pre-commit validate-manifest "$ROOT/.pre-commit-hooks.yaml"
check "pre-commit hook deaap-gen-diff-system: (a) passes, (b) blocks with diff, (c) passes" \
  "$ROOT/scripts/pre-commit-check.sh" deaap-gen-diff-system
check "pre-commit hook deaap-gen-diff: (a) passes, (b) blocks with diff, (c) passes" \
  "$ROOT/scripts/pre-commit-check.sh" deaap-gen-diff
check "pre-commit hook deaap-gen-build-system: (a) passes, (b) rewrites generated/ and blocks, (c) passes" \
  "$ROOT/scripts/pre-commit-check.sh" deaap-gen-build-system
check "pre-commit hook deaap-gen-build: (a) passes, (b) rewrites generated/ and blocks, (c) passes" \
  "$ROOT/scripts/pre-commit-check.sh" deaap-gen-build
rm -rf "$PRECOMMIT_SHARE"
unset DEAAP_PRECOMMIT_SHARE PRECOMMIT_SHARE
