# shellcheck shell=bash
# The backup and restore of each PostgreSQL store whose restore is a Job (a single-instance store),
# drilled against a real PostgreSQL server: postgres-drill.bash runs the generated backup command,
# drops the database, runs the generated restore command and compares every table, row for row;
# what it proved is printed under its line. A CloudNativePG store's backups and restore are the
# operator's (65-cnpg.sh validates them against its definitions).
# Sourced by scripts/conformance.sh, which provides $OUT, $ROOT, check and kube_envs.

# pg_drill TREE STORE REPORT: the drill, bounded in time; its last line goes to REPORT.
pg_drill() {
  local out rc
  out=$(timeout 120 bash "$ROOT/scripts/conformance.d/postgres-drill.bash" "$1" "$2" 2>&1)
  rc=$?
  printf '%s\n' "$out" | tail -n 1 >"$3"
  printf '%s\n' "$out"
  return "$rc"
}

for pg_env in $(kube_envs); do
  for pg_restore_file in "$OUT/$pg_env"/backup/restore-*.yaml; do
    if ! { [ -f "$pg_restore_file" ] && grep -q '^kind: Job$' "$pg_restore_file" \
      && grep -q 'pg_restore ' "$pg_restore_file"; }; then
      continue
    fi
    pg_store=$(basename "$pg_restore_file" .yaml)
    pg_store=${pg_store#restore-}
    pg_report=$(mktemp "$OUT/.pg-drill-XXXXXX")
    check "postgres drill: $pg_env $pg_store backup, drop, restore, same rows" \
      pg_drill "$OUT/$pg_env" "$pg_store" "$pg_report"
    grep -q '^PostgreSQL ' "$pg_report" && sed 's/^/      /' "$pg_report"
  done
done
