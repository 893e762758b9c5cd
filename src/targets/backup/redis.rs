//! The backup and the restore of a Redis store, as concrete shell commands in the generated files
//! (a drill takes them from there, changes only hosts, ports and paths, and runs them).
//!
//! The backup asks the sentinels for the primary (a single server: its Service), streams a dump
//! from it with `redis-cli --rdb`, and uploads it twice: under its UTC time and as `latest.rdb`.
//! `redis-cli --rdb` makes a dump; it does not restore one. The restore is a Job for
//! `backup/restore-<name>.yaml`, run by hand with the servers stopped: it downloads a dump into the
//! first pod's volume, starts a server on it there (no network port) with the dump as its
//! `dbfilename` and no append-only files, which it would load instead, and prints the key count;
//! then it switches the server to append-only persistence (the set's), waits for the rewrite and
//! stops it. The set's first pod then starts as the primary with the restored data and the
//! replicas copy it.

use crate::model::Environment;
use crate::plan::{DataSource, Workload};
use crate::render;
use crate::targets::kit::{self, Object, pod};
use crate::targets::{Artifact, Context, TargetError};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::Container;
use std::fmt::Write as _;

/// Where the dump is written in the backup job's pod (a scratch volume).
pub(super) const DUMP_DIR: &str = "/backup";
/// Where the restore Job's server listens: a socket in its scratch `/tmp`, no network port.
const SOCKET: &str = "/tmp/restore.sock";
/// The restore Job's container that loads the dump (the store's image).
const LOAD: &str = "load";

/// `export NAME="$(cat "$NAME_FILE")"` for each secret of a job: the Vault agent renders secrets
/// to files, the AWS CLI reads variables.
fn credentials(w: &Workload<'_>) -> String {
    w.secrets.keys().fold(String::new(), |mut s, k| {
        let _ = writeln!(s, "export {k}=\"$(cat \"${k}_FILE\")\"");
        s
    })
}

/// The object prefix of a database backup's dumps in the bucket.
fn prefix(name: &str) -> String {
    format!("s3://$S3_BUCKET/{name}")
}

/// The backup job's command for the Redis store `source` (database backup `name`): the primary's
/// dump, uploaded.
pub(super) fn dump(name: &str, job: &Workload<'_>, source: &Workload<'_>) -> Vec<String> {
    let port = source.ports.first().map_or(6379, |p| p.number);
    let service = format!(
        "{}.{}.svc.cluster.local",
        source.service_name(),
        source.namespace
    );
    let file = format!("{DUMP_DIR}/{name}.rdb");
    let mut script = format!("set -eu\n{}", credentials(job));
    if source.sentinels() {
        let _ = writeln!(
            script,
            "primary=$(redis-cli -h {service} -p {} --raw SENTINEL get-master-addr-by-name {} | head -n 1)\n\
             [ -n \"$primary\" ] && [ \"${{primary#* }}\" = \"$primary\" ] || {{ echo \"no primary: $primary\" >&2; exit 1; }}\n\
             redis-cli -h \"$primary\" -p {port} --rdb {file}",
            crate::plan::SENTINEL_PORT,
            source.name,
        );
    } else {
        let _ = writeln!(script, "redis-cli -h {service} -p {port} --rdb {file}");
    }
    let _ = write!(
        script,
        "aws s3 cp {file} \"{p}/$(date -u +%Y%m%dT%H%M%SZ).rdb\"\n\
         aws s3 cp {file} \"{p}/latest.rdb\"\n",
        p = prefix(name),
    );
    vec!["sh".to_owned(), "-c".to_owned(), script]
}

/// The restore's two steps: the download (backup image, with the bucket's credentials), then the
/// load (the store's image) into `data`, the volume of the set's first pod.
fn steps(job: &Workload<'_>, data: &str) -> (String, String) {
    let fetch = format!(
        "set -eu\n{}aws s3 cp \"s3://$S3_BUCKET/$RESTORE_KEY\" {data}/restore.rdb\n",
        credentials(job)
    );
    let cli = format!("redis-cli -s {SOCKET}");
    let load = format!(
        r#"set -eu
cd {data}
rm -rf appendonlydir
mv restore.rdb dump.rdb
redis-server --port 0 --unixsocket {SOCKET} --dir {data} --dbfilename dump.rdb --appendonly no --save "" &
server=$!
until [ "$({cli} ping 2>/dev/null)" = PONG ]; do
  kill -0 "$server" 2>/dev/null || {{ echo "the server did not load the dump" >&2; exit 1; }}
  sleep 1
done
echo "keys restored: $({cli} dbsize)"
{cli} config set appendonly yes >/dev/null
until {cli} info persistence | grep -q '^aof_rewrite_scheduled:0' && {cli} info persistence | grep -q '^aof_rewrite_in_progress:0'; do
  sleep 1
done
{cli} info persistence | grep -q '^aof_last_bgrewrite_status:ok'
{cli} shutdown
wait "$server" || true
echo "restored into {data}"
"#
    );
    (fetch, load)
}

/// `backup/restore-<name>.yaml` for the database backup `name` of the Redis store `source`, when
/// the store keeps its data on volumes (a store without them has nothing to restore into). `job`
/// is the backup job, whose identity (service account, network policy, credentials) the restore
/// Job's pod takes.
///
/// # Errors
/// An object that cannot be serialized, or a secret that is not a Vault reference.
pub(super) fn restore(
    cx: &Context<'_>,
    name: &str,
    job: &Workload<'_>,
    source: &Workload<'_>,
) -> Result<Option<Artifact>, TargetError> {
    let env = cx.env;
    let Some((data, DataSource::ClaimTemplate)) = &source.data else {
        return Ok(None);
    };
    let claim = format!("data-{}-0", source.name);
    let (fetch_script, load_script) = steps(job, data);
    let mut w = job.clone();
    w.scratch.retain(|(volume, _)| *volume != "backup");
    w.data = Some((data.clone(), DataSource::Claim(claim.clone())));
    w.env
        .insert("RESTORE_KEY".to_owned(), format!("{name}/latest.rdb"));
    w.command = vec!["sh".to_owned(), "-c".to_owned(), fetch_script];
    let mut template = pod::template(env, &w)?;
    if let Some(m) = template.metadata.as_mut() {
        let a = m.annotations.get_or_insert_default();
        // The download needs the bucket's credentials: the Vault agent renders them first, and
        // reaches Vault around the mesh's proxy, which is not up yet.
        if w.uses_vault() {
            a.insert(
                "vault.hashicorp.com/agent-init-first".to_owned(),
                "true".to_owned(),
            );
            if pod::meshed(env, &w.namespace) && env.security.mesh.proxy().is_some() {
                a.insert(
                    "traffic.sidecar.istio.io/excludeOutboundPorts".to_owned(),
                    env.security.vault.port().to_string(),
                );
            }
        }
    }
    if let Some(spec) = template.spec.as_mut() {
        for v in spec.volumes.iter_mut().flatten() {
            if let Some(c) = v.persistent_volume_claim.as_mut() {
                c.read_only = None;
            }
        }
        let mut fetch = spec.containers.remove(0);
        for m in fetch.volume_mounts.iter_mut().flatten() {
            m.read_only = None;
        }
        "fetch".clone_into(&mut fetch.name);
        let load = Container {
            name: LOAD.to_owned(),
            image: Some(env.image_ref(source.image)),
            command: Some(vec!["sh".to_owned(), "-c".to_owned(), load_script]),
            env: None,
            // The server holds the whole dataset in memory, as the store's own servers do.
            resources: Some(pod::requirements(source.resources, 0)),
            ..fetch.clone()
        };
        spec.init_containers = Some(vec![fetch]);
        spec.containers = vec![load];
    }
    let mut metadata = pod::workload_meta(env, &w);
    metadata.name = Some(format!("{}-restore", w.name));
    let object = kit::object(&Job {
        metadata,
        spec: Some(JobSpec {
            // A failed load is read and retried by hand: the volume may be half-way.
            backoff_limit: Some(0),
            active_deadline_seconds: Some(6 * 3600),
            template,
            ..JobSpec::default()
        }),
        ..Job::default()
    })?;
    let procedure = procedure(env, name, job, source, &claim);
    Ok(Some(file(
        cx,
        format!("backup/restore-{name}.yaml"),
        &procedure,
        &[object],
    )))
}

/// What an operator does, as comment lines at the top of the file.
fn procedure(
    env: &Environment,
    name: &str,
    job: &Workload<'_>,
    source: &Workload<'_>,
    claim: &str,
) -> String {
    let ns = &source.namespace;
    let sts = &source.name;
    let restore = format!("{}-restore", job.name);
    let bucket = &env.backup.bucket;
    let resync = if source.sentinels() {
        format!(
            "#    {sts}-0 starts as the primary (no sentinel answers while the set is down) and the\n\
             #    replicas copy it in full.\n"
        )
    } else {
        String::new()
    };
    format!(
        "# Restore of the Redis store `{sts}` from the dumps of the backup `{name}`\n\
         # (s3://{bucket}/{name}/<UTC time>.rdb, the newest also as latest.rdb). Not applied by\n\
         # `deaap-gen render` or Argo CD: an operator runs it, with automated sync paused.\n\
         #  1. Stop the servers:\n\
         #       kubectl -n {ns} scale statefulset/{sts} --replicas=0\n\
         #       kubectl -n {ns} wait --for=delete pod -l app.kubernetes.io/name={sts} --timeout=10m\n\
         #  2. Choose the dump: RESTORE_KEY below ({name}/latest.rdb, or {name}/<UTC time>.rdb).\n\
         #  3. Load it into the first pod's volume ({claim}):\n\
         #       kubectl apply -f restore-{name}.yaml\n\
         #       kubectl -n {ns} wait --for=condition=complete job/{restore} --timeout=6h\n\
         #       kubectl -n {ns} logs job/{restore} -c {LOAD}    # keys restored: N\n\
         #  4. Start the servers again:\n\
         #       kubectl -n {ns} delete job/{restore}\n\
         #       kubectl -n {ns} scale statefulset/{sts} --replicas={replicas}\n\
         {resync}",
        replicas = source.replicas,
    )
}

/// A file of objects that is no manifest: the header, the procedure, then the documents. The
/// index records their kinds; the object stream, `render` and Argo CD leave them out.
fn file(cx: &Context<'_>, path: String, procedure: &str, objects: &[Object]) -> Artifact {
    let mut text = render::header(cx);
    text.push_str(procedure);
    let mut kinds: Vec<String> = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        if i > 0 {
            text.push_str("---\n");
        }
        // Just built, so held.
        text.push_str(o.document().unwrap_or_default());
        if !kinds.iter().any(|k| k == o.kind()) {
            kinds.push(o.kind().to_owned());
        }
    }
    let mut a = Artifact::file(super::NAME, path, text.into_bytes());
    a.kinds = kinds;
    a
}
