# shellcheck shell=bash
# Core Kubernetes objects (kubernetes/, backup/, and the deaap.io CustomResourceDefinitions of
# charts/deaap/crds/) against the upstream OpenAPI schemas of the targeted Kubernetes version, the
# whole tree of each environment against checkov's posture checks (findings are accepted only
# through `security.waivers`, rendered as per-object annotations, so no check is skipped here), and
# the YAML style of kubernetes/, backup/ and audit/.
# Sourced by scripts/conformance.sh, which provides $OUT, $BIN, check and kube_envs.

# The minimal fixture is no shipped environment; it is built beside them (a dot folder, so other
# fragments' `kube_envs` do not list it) because it shows the smallest output the targets produce.
KUBE_FIXTURES="$OUT/.fixtures"
(cd "$ROOT" && "$BIN" build tests/fixtures/minimal.toml -o "$KUBE_FIXTURES") >/dev/null 2>&1 \
  || check "deaap-gen build tests/fixtures/minimal.toml" false

# The files of core Kubernetes objects: CloudNativePG's (a store's Cluster, a recovery Cluster),
# which kubernetes-validate has no schema for, are validated against the operator's definitions by
# 65-cnpg.sh.
kube_objects() {
  local tree=$1
  find "$tree/kubernetes" "$tree/backup" -name '*.yaml' 2>/dev/null | sort \
    | while read -r f; do grep -q '^apiVersion: postgresql.cnpg.io/' "$f" || printf '%s\n' "$f"; done
}

kube_trees() {
  for e in $(kube_envs); do printf '%s\n' "$OUT/$e"; done
  [ -d "$KUBE_FIXTURES/minimal" ] && printf '%s\n' "$KUBE_FIXTURES/minimal"
}

# kubernetes-validate prints one INFO line per valid object; it fails on any other line too, so a
# file it cannot read or an object it skips is not silently passed.
kube_validate() {
  local out
  out=$(kubernetes-validate --strict -k 1.33.0 "$@" 2>&1)
  local rc=$?
  printf '%s\n' "$out" | grep -v '^INFO ' && return 1
  printf '%s\n' "$out" | grep -q 'passed for resource' || { echo "no object validated"; return 1; }
  return $rc
}

for tree in $(kube_trees); do
  env_name=$(basename "$tree")
  # shellcheck disable=SC2046
  check "kubernetes-validate $env_name kubernetes/ backup/" kube_validate $(kube_objects "$tree")
  # shellcheck disable=SC2046
  check "yamllint $env_name kubernetes/ backup/ audit/" \
    yamllint -d relaxed $(kube_objects "$tree") $(find "$tree/audit" -name '*.yaml' 2>/dev/null)
done

# The deaap.io CustomResourceDefinitions as written, in the chart's crds/ folder (each Kubernetes
# environment's kubernetes/crds.yaml, validated above, holds the same objects).
check "kubernetes-validate charts/deaap/crds/" kube_validate "$ROOT"/charts/deaap/crds/*.yaml

for e in $(kube_envs); do
  check "checkov $e" checkov -d "$OUT/$e" --framework kubernetes --compact --quiet --skip-download
done
