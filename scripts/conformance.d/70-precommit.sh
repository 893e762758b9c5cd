# shellcheck shell=bash
# The deaap-gen-diff pre-commit hook with the real pre-commit (try-repo in a scratch repository):
# consistent commit passes, stale output is blocked with the diff, passes again after build.

check "pre-commit manifest: pre-commit validate-manifest" \
  pre-commit validate-manifest "$ROOT/.pre-commit-hooks.yaml"
check "pre-commit hook deaap-gen-diff: (a) passes, (b) blocks with diff, (c) passes" \
  "$ROOT/scripts/pre-commit-check.sh"
