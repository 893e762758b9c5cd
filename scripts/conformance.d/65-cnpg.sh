# shellcheck shell=bash
# CloudNativePG objects (a PostgreSQL store with replication = "cloudnative-pg": its Cluster and
# ScheduledBackup in kubernetes/, its recovery Cluster in backup/restore-<store>.yaml) against the
# operator's CustomResourceDefinitions, vendored in scripts/conformance.d/schemas/cloudnative-pg/
# (cnpg_conformance.py: the openAPIV3Schema with unknown fields refused, six-field schedules,
# references that resolve). kubernetes-validate has no schema for these kinds; 10-kubernetes.sh
# leaves their files to this fragment. The trees: every Kubernetes environment that has such
# objects, and tests/fixtures/cnpg.toml.
# Sourced by scripts/conformance.sh, which provides $OUT, $ROOT, $BIN, $TOOLS, check and kube_envs.

CNPG_FIXTURES="$OUT/.cnpg"
(cd "$ROOT" && "$BIN" build tests/fixtures/cnpg.toml -o "$CNPG_FIXTURES") >/dev/null 2>&1 \
  || check "deaap-gen build tests/fixtures/cnpg.toml" false

for cnpg_tree in $(for e in $(kube_envs); do printf '%s\n' "$OUT/$e"; done) "$CNPG_FIXTURES/cnpg"; do
  [ -d "$cnpg_tree" ] || continue
  grep -qs '^apiVersion: postgresql.cnpg.io/' "$cnpg_tree"/kubernetes/*.yaml "$cnpg_tree"/backup/*.yaml \
    || continue
  check "CloudNativePG CRD schemas: $(basename "$cnpg_tree") Cluster, ScheduledBackup, recovery Cluster" \
    "$TOOLS/venv/bin/python" "$ROOT/scripts/conformance.d/cnpg_conformance.py" \
    "$ROOT/scripts/conformance.d/schemas/cloudnative-pg" "$cnpg_tree"
done
