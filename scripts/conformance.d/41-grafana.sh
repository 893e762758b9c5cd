# grafana/: every generated dashboard against Grafana's typed models (grafana-foundation-sdk,
# grafana_conformance.py: decoded into the models and encoded back with no key lost, every value
# checked against the models' type annotations), every panel query parsed by `promtool check
# rules` (each written as a recording rule), and the dashboard ConfigMaps Grafana's sidecar loads
# (grafana/dashboards.yaml) carrying exactly the JSON files, labelled and annotated for it.
# Sourced by scripts/conformance.sh, which provides $OUT, $ROOT, $BIN, $TOOLS and check.
# shellcheck source=scripts/conformance.d/obs-trees.bash
. "$ROOT/scripts/conformance.d/obs-trees.bash"

GRAFANA_VENV="$TOOLS/grafana-venv"
GRAFANA_SDK="grafana-foundation-sdk==1769699998!10.1.0"
if ! "$GRAFANA_VENV/bin/python" -c 'import grafana_foundation_sdk' >/dev/null 2>&1; then
  log "installing $GRAFANA_SDK into $GRAFANA_VENV"
  { python3 -m venv "$GRAFANA_VENV" && "$GRAFANA_VENV/bin/pip" install -q "$GRAFANA_SDK"; } >>"$TOOLS/pip.log" 2>&1 \
    || log "pip install $GRAFANA_SDK failed: see $TOOLS/pip.log"
fi

# grafana_configmaps TREE: each ConfigMap of grafana/dashboards.yaml holds one dashboard file,
# byte for byte, with the sidecar's label and folder annotation.
grafana_configmaps() {
  "$TOOLS/venv/bin/python" - "$1/grafana" <<'PY'
import pathlib, sys, yaml
folder = pathlib.Path(sys.argv[1])
maps = [d for d in yaml.safe_load_all((folder / "dashboards.yaml").read_text()) if d]
files = {p.name: p.read_text() for p in folder.glob("*.json")}
seen = {}
for m in maps:
    assert m["kind"] == "ConfigMap", m["kind"]
    meta = m["metadata"]
    assert meta["labels"].get("grafana_dashboard") == "1", meta
    assert meta["annotations"].get("grafana_folder"), meta
    for name, text in m["data"].items():
        assert files.get(name) == text, f"{meta['name']}: {name} differs from grafana/{name}"
        seen[name] = meta["namespace"]
assert set(seen) == set(files), f"files without a ConfigMap: {set(files) - set(seen)}"
print(f"{len(maps)} ConfigMaps in {sorted(set(seen.values()))}, each one dashboard file")
PY
}

check "grafana: the dashboard validator rejects an unknown field and ill-typed values" \
  "$GRAFANA_VENV/bin/python" "$ROOT/scripts/conformance.d/grafana_conformance.py" --self-test
for tree in $(obs_trees); do
  [ -d "$tree/grafana" ] || continue
  grafana_env=$(basename "$tree")
  grafana_rules="$OUT/.grafana-$grafana_env-queries.json"
  check "grafana: $grafana_env dashboards valid (grafana-foundation-sdk models)" \
    "$GRAFANA_VENV/bin/python" "$ROOT/scripts/conformance.d/grafana_conformance.py" "$grafana_rules" "$tree"/grafana/*.json
  check "grafana: $grafana_env panel queries parse (promtool check rules)" promtool check rules "$grafana_rules"
  check "grafana: $grafana_env dashboard ConfigMaps carry the dashboards" grafana_configmaps "$tree"
done
