# YAML 1.1 readers: an environment whose strings are YAML 1.1 booleans and numbers (`yes`, `off`,
# `y`, `1_000`, `12:30`) is compiled, and PyYAML (a YAML 1.1 reader, like kubectl's) must read every
# one of them back as the same string from every generated YAML file.
# Sourced by scripts/conformance.sh, which provides $OUT, $ROOT, $BIN, $TOOLS and `check`.

yaml11_check() {
  local work
  work=$(mktemp -d)
  sed -e 's/^business_unit = "testing"/business_unit = "no"/' \
    -e 's/^core = "mini-core"/core = "on"/' \
    -e 's|^route = "/"|route = "/"\nenv = { A = "yes", B = "off", C = "y", D = "1_000", E = "12:30", F = "2024-01-01" }\ncommand = ["run", "N", "On"]|' \
    "$ROOT/tests/fixtures/minimal.toml" >"$work/minimal.toml"
  (cd "$work" && "$BIN" build minimal.toml -o out) || return 1
  "$TOOLS/venv/bin/python" - "$work/out" <<'PY'
import datetime, pathlib, sys, yaml
planted = {"no", "on", "yes", "off", "y", "1_000", "12:30", "2024-01-01", "N", "On"}
seen, bad = set(), []
def walk(v, where):
    if isinstance(v, dict):
        for k, x in v.items():
            walk(k, where); walk(x, where)
    elif isinstance(v, list):
        for x in v:
            walk(x, where)
    elif isinstance(v, str):
        seen.add(v)
    elif isinstance(v, datetime.date):
        bad.append(f"{where}: {v!r} read as a timestamp")
for f in sorted(pathlib.Path(sys.argv[1]).rglob("*.yaml")):
    for doc in yaml.safe_load_all(f.read_text()):
        walk(doc, f)
bad += [f"{s!r} never read back as a string" for s in sorted(planted - seen)]
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
  local rc=$?
  rm -rf "$work"
  return $rc
}
check "YAML 1.1 readers see the model's strings (PyYAML)" yaml11_check
