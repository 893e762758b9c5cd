# shellcheck shell=bash
# Redis drills with real servers on loopback (redis_drill.py), from the generated files with only
# hosts, ports and paths changed:
# - production's Sentinel set: three servers and three sentinels from the ConfigMap's redis.conf,
#   sentinel.conf and start step; writes acknowledged by every replica (WAIT); kill -9 of the
#   primary's server and sentinel; a replica promoted within the failover timeout with every
#   acknowledged write; the lost pod back as a replica through the start step; then the backup
#   CronJob's command (the primary found through the sentinels) and the restore Job's steps into
#   an empty volume, on which the set's first pod starts as the primary with every key.
# - staging's single server: sample keys, the backup command, the server wiped and stopped, the
#   restore steps, the server started again with every key.
# Each drill is bounded by `timeout`; every process it starts is stopped by PID (by the driver,
# and by the trap here if the driver itself is stopped). What was proved, with timings, is printed
# under the check.
# Sourced by scripts/conformance.sh, which provides $OUT, $ROOT, check and kube_envs.

# redis_drill KIND ENV STORE: one drill on the environment's built tree, in a subshell whose trap
# stops, by PID, whatever the driver started and left running.
redis_drill() (
  kind=$1 env=$2 store=$3
  work=$(mktemp -d)
  # shellcheck disable=SC2064
  trap "redis_drill_stop '$work'" EXIT
  timeout -k 5 120 python3 "$ROOT/scripts/conformance.d/redis_drill.py" "$kind" "$OUT/$env" "$store" "$work" || exit
  cp "$work/report" "$OUT/.redis-$kind-$env.report"
)

# redis_drill_stop WORK: stops every process a drill started that is still running, by PID.
redis_drill_stop() {
  local pid
  if [ -f "$1/pids" ]; then
    while read -r pid; do
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    done <"$1/pids"
  fi
  rm -rf "$1"
}

# redis_store_of ENV REPLICATION: the Redis store of the environment whose StatefulSet replicates
# that way (`sentinel`: it has a sentinel container; `none`: a single server), if any.
redis_store_of() {
  python3 - "$OUT/$1" "$2" <<'PY'
import glob, os, sys, yaml
tree, mode = sys.argv[1:]
for path in sorted(glob.glob(os.path.join(tree, "kubernetes", "storage-*.yaml"))):
    for d in yaml.safe_load_all(open(path)):
        if not d or d["kind"] != "StatefulSet":
            continue
        containers = d["spec"]["template"]["spec"]["containers"]
        if "redis" not in containers[0]["image"].rsplit("/", 1)[-1]:
            continue
        sentinel = any(c["name"] == "sentinel" for c in containers)
        if (mode == "sentinel") == sentinel and (sentinel or d["spec"]["replicas"] == 1):
            print(d["metadata"]["name"])
PY
}

for redis_env in $(kube_envs); do
  for redis_store in $(redis_store_of "$redis_env" sentinel); do
    check "redis: $redis_env $redis_store Sentinel failover, rejoin, backup and restore (drill)" \
      redis_drill failover "$redis_env" "$redis_store"
    [ -f "$OUT/.redis-failover-$redis_env.report" ] && sed 's/^/      /' "$OUT/.redis-failover-$redis_env.report"
  done
  for redis_store in $(redis_store_of "$redis_env" none); do
    check "redis: $redis_env $redis_store backup, wipe and restore (drill)" \
      redis_drill backup "$redis_env" "$redis_store"
    [ -f "$OUT/.redis-backup-$redis_env.report" ] && sed 's/^/      /' "$OUT/.redis-backup-$redis_env.report"
  done
done
