# Helm 4 against helm/: a scratch chart (Chart.yaml, a trivial template, our values.yaml and
# values.schema.json) must lint and template, and the schema must make Helm refuse two hand edits: a
# replicaCount written as "five" and a misspelt key. monitoring-values.yaml: its prometheusSpec against
# the Prometheus CRD schema, its scrape config through `promtool check config`.
# shellcheck source=scripts/conformance.d/obs-trees.bash
. "$ROOT/scripts/conformance.d/obs-trees.bash"

# obs_helm_rejects CHART VALUES PATTERN: helm template must fail, naming PATTERN in its error.
obs_helm_rejects() {
  local out
  if out=$(helm template deaap "$1" -f "$2" 2>&1); then
    printf 'helm accepted %s\n' "$2"
    return 1
  fi
  if ! printf '%s\n' "$out" | grep -q -- "$3"; then
    printf 'helm failed, but not on %s:\n%s\n' "$3" "$out"
    return 1
  fi
}

for tree in $(obs_trees); do
  obs_env=$(basename "$tree")
  obs_chart=$(mktemp -d "$OUT/.helm-XXXXXX")/deaap
  mkdir -p "$obs_chart/templates"
  printf 'apiVersion: v2\nname: deaap\ndescription: scratch chart for the deaap-gen values\nversion: 0.1.0\n' >"$obs_chart/Chart.yaml"
  cat >"$obs_chart/templates/configmap.yaml" <<'TPL'
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-values
data:
  environment: {{ .Values.global.environment | quote }}
  podSecurityStandard: {{ .Values.security.podSecurityStandard | quote }}
TPL
  cp "$tree/helm/values.yaml" "$tree/helm/values.schema.json" "$obs_chart/"
  check "helm: $obs_env lint" helm lint --strict "$obs_chart"
  check "helm: $obs_env template" helm template deaap "$obs_chart"
  obs_svc=$(node "$ROOT/scripts/conformance.d/20-helm.mjs" bad-values "$tree/helm/values.yaml" "$obs_chart/..")
  check "helm: $obs_env rejects $obs_svc.replicaCount: \"five\"" \
    obs_helm_rejects "$obs_chart" "$obs_chart/../replica-count-string.yaml" "/$obs_svc/replicaCount"
  check "helm: $obs_env rejects an unknown key ($obs_svc.replicaCont)" \
    obs_helm_rejects "$obs_chart" "$obs_chart/../unknown-key.yaml" "replicaCont"
  if [ -f "$tree/helm/monitoring-values.yaml" ]; then
    check "helm: $obs_env monitoring-values prometheusSpec (Prometheus CRD schema)" \
      node "$ROOT/scripts/conformance.d/20-helm.mjs" monitoring "$tree/helm/monitoring-values.yaml" "$obs_chart/../prometheus.yml"
    check "helm: $obs_env monitoring-values scrape config (promtool check config)" \
      promtool check config "$obs_chart/../prometheus.yml"
    check "helm: $obs_env monitoring-values storage claim (kubernetes-validate --strict)" \
      kubernetes-validate --strict -k 1.33.0 "$obs_chart/../prometheus-claim.yaml"
  fi
done
