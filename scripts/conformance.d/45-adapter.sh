# helm/prometheus-adapter-values.yaml: every rule's queries as prometheus-adapter sends them to
# Prometheus (the series query, and the metrics query with its <<.Series>>, <<.LabelMatchers>>
# and <<.GroupBy>> filled in the way the adapter fills them for a pods request) must be PromQL
# that `promtool check rules` accepts; the name each rule serves must be exactly the Pods metric
# of an HPA in kubernetes/, and every HPA Pods metric must have a rule.
# shellcheck source=scripts/conformance.d/obs-trees.bash
. "$ROOT/scripts/conformance.d/obs-trees.bash"

# obs_adapter TREE
obs_adapter() {
  local rules
  rules=$(mktemp "$OUT/.adapter-XXXXXX.yaml")
  "$TOOLS/venv/bin/python" - "$1" "$rules" <<'PY' || return 1
import glob, re, sys, yaml
tree, out = sys.argv[1], sys.argv[2]
values = yaml.safe_load(open(f"{tree}/helm/prometheus-adapter-values.yaml"))
assert values["rules"]["default"] is False, "the chart's default rules would expose every series"
hpa_metrics = set()
for f in glob.glob(f"{tree}/kubernetes/*.yaml"):
    for doc in yaml.safe_load_all(open(f)):
        if doc and doc.get("kind") == "HorizontalPodAutoscaler":
            for m in doc["spec"].get("metrics", []):
                if m["type"] == "Pods":
                    hpa_metrics.add(m["pods"]["metric"]["name"])
served = set()
records = []
for i, r in enumerate(values["rules"]["custom"]):
    name = r["name"]["as"]
    series = r["seriesQuery"]
    metric = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", series).group(0)
    assert re.fullmatch(r["name"]["matches"], metric), (r["name"], metric)
    assert set(r["resources"]["overrides"]) >= {"namespace", "pod"}, r["resources"]
    served.add(name)
    query = (r["metricsQuery"]
             .replace("<<.Series>>", metric)
             .replace("<<.LabelMatchers>>", 'namespace="ns",pod=~"a-0|a-1"')
             .replace("<<.GroupBy>>", "pod"))
    records += [{"record": f"adapter:series_{i}", "expr": series},
                {"record": f"adapter:metrics_{i}", "expr": query}]
assert served == hpa_metrics, f"adapter serves {sorted(served)}, HPAs ask for {sorted(hpa_metrics)}"
yaml.safe_dump({"groups": [{"name": "prometheus-adapter", "rules": records}]}, open(out, "w"))
print(f"{len(served)} Pods metric(s): {', '.join(sorted(served))}")
PY
  promtool check rules "$rules"
}

for tree in $(obs_trees); do
  [ -f "$tree/helm/prometheus-adapter-values.yaml" ] || continue
  check "prometheus-adapter: $(basename "$tree") rules are PromQL and serve exactly the HPAs' Pods metrics" \
    obs_adapter "$tree"
done
