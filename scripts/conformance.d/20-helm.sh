# Helm 4 against the repository's chart (charts/deaap/) and each environment's generated values
# (helm/values-<environment>.yaml): `helm lint --strict`, `helm template`, and the chart's
# values.schema.json making Helm refuse two hand edits (a replicas written as "five" and a misspelt
# key). For staging and production, the objects `helm template --include-crds` prints must be the
# objects `deaap-gen render` prints (chart_equivalence.py: parsed, only Helm's own labels differ),
# and pass kubernetes-validate --strict (the built-in kinds) and checkov with zero failures, as the
# kubernetes/ target does. monitoring-values.yaml: its prometheusSpec against the Prometheus CRD
# schema, its scrape config through `promtool check config`.
# shellcheck source=scripts/conformance.d/obs-trees.bash
. "$ROOT/scripts/conformance.d/obs-trees.bash"

CHART="$ROOT/charts/deaap"

# obs_helm_rejects VALUES EDIT PATTERN: helm template with EDIT over VALUES must fail, naming
# PATTERN in its error.
obs_helm_rejects() {
  local out
  if out=$(helm template deaap "$CHART" -f "$1" -f "$2" 2>&1); then
    printf 'helm accepted %s\n' "$2"
    return 1
  fi
  if ! printf '%s\n' "$out" | grep -q -- "$3"; then
    printf 'helm failed, but not on %s:\n%s\n' "$3" "$out"
    return 1
  fi
}

# chart_equivalent ENV VALUES SCRATCH: helm template of the chart against deaap-gen render.
chart_equivalent() {
  helm template "deaap-$1" "$CHART" -f "$2" --include-crds >"$3/helm.yaml" || return 1
  (cd "$ROOT" && "$BIN" render "environments/$1.toml") >"$3/render.yaml" || return 1
  python3 "$ROOT/scripts/conformance.d/chart_equivalence.py" "$3/helm.yaml" "$3/render.yaml" \
    --core-out "$3/core.yaml"
}

# chart_validate SCRATCH: the chart's built-in objects through kubernetes-validate --strict (one
# INFO line per valid object; any other line fails).
chart_validate() {
  local out
  out=$(kubernetes-validate --strict -k 1.33.0 "$1/core.yaml" 2>&1) || { printf '%s\n' "$out"; return 1; }
  printf '%s\n' "$out" | grep -v '^INFO ' && return 1
  printf '%s\n' "$out" | grep -q 'passed for resource'
}

for tree in $(obs_trees); do
  obs_env=$(basename "$tree")
  values="$tree/helm/values-$obs_env.yaml"
  scratch=$(mktemp -d "$OUT/.helm-XXXXXX")
  check "helm: $obs_env chart lint --strict" helm lint --strict "$CHART" -f "$values"
  check "helm: $obs_env chart template" helm template deaap "$CHART" -f "$values"
  svc=$(python3 - "$values" "$scratch" <<'PY'
import sys, yaml
values = yaml.safe_load(open(sys.argv[1]))
ns, items = sorted(values["deployments"].items())[0]
name = sorted(items)[0]
for file, edit in (("replicas-string.yaml", {"replicas": "five"}), ("unknown-key.yaml", {"replcias": 3})):
    with open(f"{sys.argv[2]}/{file}", "w") as f:
        yaml.safe_dump({"deployments": {ns: {name: edit}}}, f)
print(f"deployments.{ns}.{name}")
PY
)
  check "helm: $obs_env rejects $svc.replicas: \"five\"" \
    obs_helm_rejects "$values" "$scratch/replicas-string.yaml" "replicas': got string, want integer"
  check "helm: $obs_env rejects an unknown key ($svc.replcias)" \
    obs_helm_rejects "$values" "$scratch/unknown-key.yaml" "'replcias' not allowed"
  case "$obs_env" in
    staging | production)
      check "helm: $obs_env chart install --dry-run=client" \
        helm install --dry-run=client "deaap-$obs_env" "$CHART" -f "$values"
      check "helm: $obs_env chart renders the objects of deaap-gen render" chart_equivalent "$obs_env" "$values" "$scratch"
      check "helm: $obs_env chart objects (kubernetes-validate --strict)" chart_validate "$scratch"
      check "helm: $obs_env chart objects (checkov)" \
        checkov -f "$scratch/helm.yaml" --framework kubernetes --compact --quiet --skip-download
      ;;
  esac
  obs_chart=$scratch/chart
  mkdir -p "$obs_chart"
  if [ -f "$tree/helm/monitoring-values.yaml" ]; then
    check "helm: $obs_env monitoring-values prometheusSpec (Prometheus CRD schema)" \
      node "$ROOT/scripts/conformance.d/20-helm.mjs" monitoring "$tree/helm/monitoring-values.yaml" "$obs_chart/../prometheus.yml"
    check "helm: $obs_env monitoring-values scrape config (promtool check config)" \
      promtool check config "$obs_chart/../prometheus.yml"
    check "helm: $obs_env monitoring-values storage claim (kubernetes-validate --strict)" \
      kubernetes-validate --strict -k 1.33.0 "$obs_chart/../prometheus-claim.yaml"
  fi
done

# A new environment as README's "Adding an environment" writes it (the toml block after the
# new-environment marker, taken from README itself): it builds, and the unchanged chart lints and
# templates it with the values deaap-gen wrote for it.
new_env_chart() {
  local scratch
  scratch=$(mktemp -d "$OUT/.new-env-XXXXXX")
  cp -R "$ROOT/environments" "$scratch/"
  awk '/<!-- new-environment/ {on=1; next} on && /^```toml/ {inside=1; next} inside && /^```/ {exit} inside' \
    "$ROOT/README.md" >"$scratch/environments/qa.toml"
  grep -q '^name = "qa"' "$scratch/environments/qa.toml" || { echo "README has no qa environment block"; return 1; }
  (cd "$scratch" && "$BIN" build environments/) || return 1
  [ -f "$scratch/generated/qa/helm/values-qa.yaml" ] || { echo "no values-qa.yaml"; return 1; }
  helm lint --strict "$CHART" -f "$scratch/generated/qa/helm/values-qa.yaml" || return 1
  helm template deaap-qa "$CHART" -f "$scratch/generated/qa/helm/values-qa.yaml" >"$scratch/qa.yaml" || return 1
  grep -q '^kind: Deployment' "$scratch/qa.yaml"
}
check "helm: a new environment as README adds it (qa) gets values the chart renders" new_env_chart
