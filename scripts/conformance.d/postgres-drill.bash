#!/usr/bin/env bash
# The backup and restore of a PostgreSQL store, for real (run by 66-postgres-drill.sh; not sourced
# by the driver): a PostgreSQL server of the Debian `postgresql` package on a loopback port in a
# scratch folder, with password authentication, loaded with sample tables; then the backup command
# of the store's generated backup CronJob and the restore command of its generated restore Job,
# each run as the container runs it (`/bin/sh -c`, the container's variables), with only the
# server's host and port, the files the Vault agent renders and the dump folder pointed at the
# scratch folder, and the object store replaced by a folder (an `aws` stand-in that copies
# `s3://bucket/key` to and from it). Between them the database is dropped and created empty, as a
# new volume starts; after the restore every table must hold the same rows (count and an md5 of
# the rows in key order). A second restore over changed data must bring the same rows back.
#
# usage: postgres-drill.bash TREE STORE
#   TREE   a generated environment (its backup/cronjobs.yaml and backup/restore-STORE.yaml)
#   STORE  the PostgreSQL store whose restore is a Job
set -euo pipefail

tree=$1
store=$2
started=$(date +%s%N)

pg_bin=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -type d -name bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$pg_bin/initdb" ] || { echo "no PostgreSQL server (Debian postgresql) under /usr/lib/postgresql"; exit 1; }

dir=$(mktemp -d)
pgdata=$dir/pgdata
postmaster=""

# initdb and the server refuse root: run them (and the client commands) as an unprivileged user.
if [ "$(id -u)" -eq 0 ]; then
  owner=$(id -un postgres 2>/dev/null || id -un nobody)
  as_owner() { runuser -u "$owner" -- "$@"; }
  chown "$owner" "$dir"
else
  as_owner() { "$@"; }
fi

# Whatever happens, the server started here stops (pg_ctl, then its postmaster by PID).
cleanup() {
  local rc=$?
  if [ -f "$pgdata/postmaster.pid" ]; then
    postmaster=$(head -n 1 "$pgdata/postmaster.pid")
    as_owner timeout 15 "$pg_bin/pg_ctl" -D "$pgdata" stop -m immediate >/dev/null 2>&1 || true
  fi
  if [ -n "$postmaster" ] && kill -0 "$postmaster" 2>/dev/null; then
    kill -9 "$postmaster" 2>/dev/null || true
  fi
  rm -rf "$dir"
  exit "$rc"
}
trap cleanup EXIT INT TERM

# The two commands and the variables their containers get, from the generated files.
python3 - "$tree" "$store" "$dir" <<'PY'
import json, pathlib, sys, yaml
tree, store, out = pathlib.Path(sys.argv[1]), sys.argv[2], pathlib.Path(sys.argv[3])
restore = [d for d in yaml.safe_load_all((tree / f"backup/restore-{store}.yaml").read_text()) if d]
job = next(d for d in restore if d["kind"] == "Job")
pod = job["spec"]["template"]["spec"]
workload = pod["serviceAccountName"]
cron = next(
    d for d in yaml.safe_load_all((tree / "backup/cronjobs.yaml").read_text())
    if d and d["kind"] == "CronJob" and d["metadata"]["name"] == workload
)
for name, spec in (("backup", cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]), ("restore", pod)):
    c = spec["containers"][0]
    assert c["command"][:2] == ["/bin/sh", "-c"], c["command"]
    (out / f"{name}.sh").write_text(c["command"][2])
    (out / f"{name}.env").write_text(json.dumps({v["name"]: v["value"] for v in c.get("env", [])}))
PY

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
vars_of() { python3 -c 'import json,sys; [print(f"{k}={v}") for k, v in json.load(open(sys.argv[1])).items()]' "$1"; }
user=$(vars_of "$dir/backup.env" | sed -n 's/^BACKUP_USER=//p')
database=$(vars_of "$dir/backup.env" | sed -n 's/^BACKUP_DATABASE=//p')
if [ -z "$user" ] || [ -z "$database" ]; then
  echo "the backup job names no BACKUP_USER or BACKUP_DATABASE"
  exit 1
fi

# The files the Vault agent would render, the dump folder, the bucket and the `aws` stand-in.
mkdir -p "$dir/secrets" "$dir/dump" "$dir/bucket" "$dir/bin"
password="drill-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s' "$password" >"$dir/secrets/POSTGRES_PASSWORD"
printf 'drill' >"$dir/secrets/AWS_ACCESS_KEY_ID"
printf 'drill' >"$dir/secrets/AWS_SECRET_ACCESS_KEY"
cat >"$dir/bin/aws" <<EOF
#!/bin/sh
# aws s3 cp [--only-show-errors] SRC DST, with s3://bucket/key as $dir/bucket/bucket/key.
set -eu
[ "\$1 \$2" = "s3 cp" ] || { echo "aws stand-in: only s3 cp" >&2; exit 2; }
shift 2
[ "\$1" = "--only-show-errors" ] && shift
local_path() { case \$1 in s3://*) printf '%s/%s' "$dir/bucket" "\${1#s3://}" ;; *) printf '%s' "\$1" ;; esac; }
src=\$(local_path "\$1"); dst=\$(local_path "\$2")
mkdir -p "\$(dirname "\$dst")"
cp "\$src" "\$dst"
EOF
chmod 755 "$dir/bin/aws"
printf '%s\n' "$password" >"$dir/pwfile"
[ "$(id -u)" -eq 0 ] && chown -R "$owner" "$dir"

# A server as the store's image initialises one: the user is the superuser, the database its own.
as_owner timeout 60 "$pg_bin/initdb" -D "$pgdata" -U "$user" --pwfile="$dir/pwfile" \
  --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log"; exit 1; }
as_owner timeout 30 "$pg_bin/pg_ctl" -D "$pgdata" -l "$dir/server.log" -w -t 20 \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null \
  || { cat "$dir/server.log"; exit 1; }
postmaster=$(head -n 1 "$pgdata/postmaster.pid")

sql() { as_owner timeout 30 "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U "$user" "$@"; }
sql -d postgres -c "CREATE DATABASE \"$database\""

# Sample data: related tables of several types, a sequence, an index and a view.
sql -d "$database" <<'SQL'
CREATE TABLE documents (id bigint PRIMARY KEY, title text NOT NULL, body text, size integer,
                        created_at timestamptz NOT NULL);
INSERT INTO documents
  SELECT g, 'document ' || g, repeat(md5(g::text), 1 + g % 5), g * 37 % 100000,
         timestamptz '2024-01-01 00:00:00+00' + g * interval '7 minutes'
  FROM generate_series(1, 5000) g;
CREATE TABLE validations (id bigint PRIMARY KEY, document_id bigint NOT NULL REFERENCES documents,
                          score numeric(5,4), accepted boolean, notes text);
INSERT INTO validations
  SELECT g, 1 + g % 5000, (g % 10000) / 10000.0, g % 3 <> 0, CASE WHEN g % 7 = 0 THEN NULL ELSE 'n' || g END
  FROM generate_series(1, 3000) g;
CREATE INDEX validations_document ON validations (document_id);
CREATE TABLE agents (id serial PRIMARY KEY, name text UNIQUE NOT NULL, config jsonb);
INSERT INTO agents (name, config)
  SELECT 'agent-' || g, jsonb_build_object('replicas', g % 4, 'tags', jsonb_build_array('a', g))
  FROM generate_series(1, 500) g;
CREATE VIEW accepted AS SELECT d.id, d.title FROM documents d JOIN validations v ON v.document_id = d.id
  WHERE v.accepted;
SQL

tables="documents validations agents"
fingerprint() {
  local t
  for t in $tables; do
    sql -d "$database" -At -c "SELECT '$t', count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM $t t"
  done
  sql -d "$database" -At -c "SELECT 'accepted', count(*) FROM accepted"
  sql -d "$database" -At -c "SELECT 'agents_id_seq', last_value FROM agents_id_seq"
}
before=$(fingerprint)

# A generated command as its container runs it: its variables, with the server's address and the
# rendered files here; the dump folder here; `aws` the stand-in; as an unprivileged user.
run_generated() {
  local name=$1 script
  script=$(sed "s#\"/backup/#\"$dir/dump/#g" "$dir/$name.sh")
  local -a vars=()
  while IFS= read -r kv; do
    case $kv in
      BACKUP_HOST=*) kv="BACKUP_HOST=127.0.0.1" ;;
      BACKUP_PORT=*) kv="BACKUP_PORT=$port" ;;
      *_FILE=/vault/secrets/*) kv="${kv%%=*}=$dir/secrets/${kv##*/}" ;;
    esac
    vars+=("$kv")
  done < <(vars_of "$dir/$name.env")
  as_owner timeout 60 env -i PATH="$dir/bin:$pg_bin:/usr/bin:/bin" HOME="$dir" "${vars[@]}" \
    /bin/sh -c "$script"
}

run_generated backup
latest=$(find "$dir/bucket" -name latest.dump)
[ -s "$latest" ] || { echo "the backup uploaded no latest.dump"; exit 1; }
dumps=$(find "$dir/bucket" -name '*.dump' | wc -l)

# Disaster: the database is gone; a new volume starts with it empty.
sql -d postgres -c "DROP DATABASE \"$database\"" -c "CREATE DATABASE \"$database\""
[ "$(sql -d "$database" -At -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" = 0 ]
run_generated restore
after=$(fingerprint)
if [ "$before" != "$after" ]; then
  echo "restored data differs:"; diff <(echo "$before") <(echo "$after") || true; exit 1
fi

# A restore over live, changed data replaces it (--clean --if-exists, one transaction).
sql -d "$database" -c "DELETE FROM validations WHERE id % 2 = 0" -c "UPDATE documents SET title = 'x'" \
  -c "CREATE TABLE stray (id int)" -c "DROP VIEW accepted"
run_generated restore
again=$(fingerprint)
if [ "$before" != "$again" ]; then
  echo "the second restore differs:"; diff <(echo "$before") <(echo "$again") || true; exit 1
fi

elapsed=$(( ($(date +%s%N) - started) / 1000000 ))
printf 'PostgreSQL %s: %s rows in %s tables dumped by the generated backup command (%s objects in the bucket), the database dropped, restored by the generated restore command with identical row counts and md5 of every table, and restored again over changed data; %s ms\n' \
  "$("$pg_bin/postgres" --version | awk '{print $3}')" \
  "$(echo "$before" | awk -F'|' 'NR<=3 {n += $2} END {print n}')" \
  "$(echo "$tables" | wc -w)" "$dumps" "$elapsed"
