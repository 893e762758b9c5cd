# shellcheck shell=bash
# Both pre-commit hooks with the real pre-commit (try-repo in a scratch repository): consistent
# commit passes, stale output is blocked with the diff, passes again after build. deaap-gen-diff
# compiles the tool as pre-commit does for users; deaap-gen-diff-system runs the one under test.

check "pre-commit manifest: pre-commit validate-manifest" \
  pre-commit validate-manifest "$ROOT/.pre-commit-hooks.yaml"
check "pre-commit hook deaap-gen-diff-system: (a) passes, (b) blocks with diff, (c) passes" \
  "$ROOT/scripts/pre-commit-check.sh" deaap-gen-diff-system
check "pre-commit hook deaap-gen-diff: (a) passes, (b) blocks with diff, (c) passes" \
  "$ROOT/scripts/pre-commit-check.sh" deaap-gen-diff
