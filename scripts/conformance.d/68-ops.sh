# shellcheck shell=bash
# The operations scripts and the backup and restore commands with their consumers: shellcheck on
# ops/health-check.sh, ops/scale-services.sh and on the bash of every backup and restore Job;
# each script's --dry-run against the generated objects (every namespace and Service checked, each
# autoscaler patched in its namespace up to its quota ceiling, one replica more refused, an unknown
# service and a service without an autoscaler refused); and a drill of the data volume's backup and
# restore commands, taken out of the generated files, against a stand-in bucket (ops_conformance.py).
# Sourced by scripts/conformance.sh, which provides $OUT, $ROOT, check and kube_envs.

OPS_PY="$ROOT/scripts/conformance.d/ops_conformance.py"

# backup_commands_shellcheck TREE: shellcheck on the bash of every backup and restore container.
backup_commands_shellcheck() {
  local dir rc
  dir=$(mktemp -d)
  python3 "$OPS_PY" commands "$1" "$dir" && shellcheck --shell=bash "$dir"/*.sh
  rc=$?
  rm -rf "$dir"
  return $rc
}

for e in $(kube_envs); do
  check "shellcheck $e ops/*.sh" shellcheck "$OUT/$e"/ops/health-check.sh "$OUT/$e"/ops/scale-services.sh
  check "shellcheck $e backup and restore commands" backup_commands_shellcheck "$OUT/$e"
  check "health-check.sh --dry-run checks every namespace and Service ($e)" python3 "$OPS_PY" health "$OUT/$e"
  check "scale-services.sh --dry-run within the quota, refusals ($e)" python3 "$OPS_PY" scale "$OUT/$e"
  check "data volume backup then restore drill ($e)" python3 "$OPS_PY" drill "$OUT/$e"
done
