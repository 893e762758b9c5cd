# shellcheck shell=bash
# NetworkPolicy reachability: every connection `deaap-gen check --flows` judged is judged again by
# an independent evaluator written from the upstream NetworkPolicy documentation
# (flows_conformance.py), which reads the generated Namespaces, NetworkPolicies and pod templates
# itself; both must agree on every pair, for every Kubernetes environment and for the flows and
# CloudNativePG fixtures.
# Sourced by scripts/conformance.sh, which provides $OUT, $ROOT, $BIN, check and kube_envs.

FLOWS_FIXTURES="$OUT/.flows"
for fixture in flows cnpg; do
  (cd "$ROOT" && "$BIN" build "tests/fixtures/$fixture.toml" -o "$FLOWS_FIXTURES") >/dev/null 2>&1 \
    || check "deaap-gen build tests/fixtures/$fixture.toml" false
done

# flows_agree ENV_FILE TREE: the matrix of ENV_FILE, cross-checked against the objects in TREE.
flows_agree() {
  local env_file=$1 tree=$2 matrix
  matrix=$(mktemp)
  (cd "$ROOT" && "$BIN" check --flows --format json "$env_file") >"$matrix" || { rm -f "$matrix"; return 1; }
  python3 "$ROOT/scripts/conformance.d/flows_conformance.py" "$tree" "$matrix"
  local rc=$?
  rm -f "$matrix"
  return $rc
}

for e in $(kube_envs); do
  check "networkpolicy verdicts agree ($e)" flows_agree "environments/$e.toml" "$OUT/$e"
done
[ -d "$FLOWS_FIXTURES/flows" ] \
  && check "networkpolicy verdicts agree (tests/fixtures/flows.toml)" \
    flows_agree tests/fixtures/flows.toml "$FLOWS_FIXTURES/flows"
# A Redis Sentinel set: replication and sentinel gossip between its pods, clients and the backup
# job on both ports.
(cd "$ROOT" && "$BIN" build tests/fixtures/sentinel.toml -o "$FLOWS_FIXTURES") >/dev/null 2>&1 \
  || check "deaap-gen build tests/fixtures/sentinel.toml" false
[ -d "$FLOWS_FIXTURES/sentinel" ] \
  && check "networkpolicy verdicts agree (tests/fixtures/sentinel.toml)" \
    flows_agree tests/fixtures/sentinel.toml "$FLOWS_FIXTURES/sentinel"
[ -d "$FLOWS_FIXTURES/cnpg" ] \
  && check "networkpolicy verdicts agree (tests/fixtures/cnpg.toml)" \
    flows_agree tests/fixtures/cnpg.toml "$FLOWS_FIXTURES/cnpg"
