# shellcheck shell=bash
# The editor schema (schema/deaap-environment.schema.json) with the real taplo CLI (npm
# @taplo/cli), as an editor's TOML extension applies it through each file's `#:schema` line:
# every shipped environment file, layered or not, has 0 errors, and the fixture
# tests/fixtures/editor/typos.toml reports exactly its four typos (`tier = "stagin"`, `replcias`,
# `port = "8080"`, `[servises...]`), each at its line. taplo repeats an unknown-key error on every
# line of the table that holds the key, so errors are counted by message.
# Sourced by scripts/conformance.sh, which provides $ROOT, $TOOLS, $OUT, $BIN and check.

TAPLO="$TOOLS/node/node_modules/.bin/taplo"

taplo_clean() {
  local out
  if ! out=$("$TAPLO" check "$@" 2>&1); then
    printf '%s\n' "$out" | grep -A4 '^error' | head -n 40
    return 1
  fi
}

taplo_typos() {
  local out
  out=$("$TAPLO" check "$ROOT/tests/fixtures/editor/typos.toml" 2>&1) && { echo "taplo accepted the typos"; return 1; }
  printf '%s\n' "$out" | python3 -c '
import re, sys
found = {}
message = None
for line in sys.stdin:
    m = re.match(r"error: (.*)", line)
    if m:
        message = m.group(1).strip()
        continue
    m = re.search(r"typos\.toml:(\d+):\d+", line)
    if m and message:
        found.setdefault(message, set()).add(int(m.group(1)))
        message = None
expected = {
    "\"stagin\" is not one of": 8,
    "(\x27replcias\x27 was unexpected)": 11,
    "\"8080\" is not of type \"integer\"": 12,
    "(\x27servises\x27 was unexpected)": 14,
}
problems = []
for needle, line in expected.items():
    hits = [m for m in found if needle in m]
    if len(hits) != 1:
        problems.append(f"{needle}: {len(hits)} messages")
    elif line not in found[hits[0]]:
        problems.append(f"{needle}: not at line {line} (lines {sorted(found[hits[0]])})")
if len(found) != len(expected):
    problems.append(f"{len(found)} distinct errors, expected {len(expected)}: {sorted(found)}")
for p in problems:
    print(p)
print(f"{len(found)} distinct errors: " + "; ".join(f"{m} @ {sorted(l)[0] if len(l) == 1 else sorted(l)}" for m, l in sorted(found.items())))
sys.exit(1 if problems else 0)
'
}

for f in "$ROOT"/environments/*.toml; do
  check "taplo: $(basename "$f") has no errors against the editor schema" taplo_clean "$f"
done
# The files a new platform repository starts with (`init`, then `new-env qa`), against the schema
# init wrote next to them.
taplo_scaffold() {
  local repo
  repo=$(mktemp -d "$OUT/.taplo-XXXXXX")/platform
  "$BIN" init "$repo" 2>/dev/null || return 1
  (cd "$repo" && "$BIN" new-env qa --extends environments/staging.toml 2>/dev/null) || return 1
  taplo_clean "$repo"/environments/*.toml
}
check "taplo: the files of deaap-gen init and new-env have no errors" taplo_scaffold
check "taplo: the four typos of tests/fixtures/editor/typos.toml, each at its line" taplo_typos
