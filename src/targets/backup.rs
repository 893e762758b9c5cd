//! The `backup` target: `batch/v1` `CronJobs` for the daily full backup of the data volume and for
//! each database backup (`[backup.databases.*]`), with the same hardened pod as every other
//! workload and the bucket credentials injected by the Vault agent; and the restore Jobs that read
//! those archives back (`backup/restore-data.yaml`, `backup/restore-blockchain.yaml`), which an
//! operator applies during a recovery and which therefore stay out of the object stream. The pod
//! template and the backup jobs' plan (namespace, volume, secrets) come from the plan and the kit.
//!
//! The archive and restore commands are written out here, as bash run by the backup image (which
//! provides bash, coreutils, `find`, `tar`, `awk` and the AWS CLI): a drill can take one out of the
//! generated file, change the paths, and run it.

mod redis;

use crate::model::{Environment, StorageKind};
use crate::plan::{self, BLOCKCHAIN, BackupJob, DataSource, Workload, postgres};
use crate::render::shell_word;
use crate::targets::kit::{self, Object, meta, pod};
use crate::targets::{Artifact, Context, Target, TargetError};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, Job, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    Affinity, PodAffinity, PodAffinityTerm, PodTemplateSpec, ServiceAccount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;
use std::fmt::Write as _;

pub(super) struct Backup;

pub(super) static TARGET: Backup = Backup;

const NAME: &str = "backup";

/// A hung backup or restore must not run forever (nor block the next day's backup).
const DEADLINE_SECONDS: i64 = 6 * 3600;

impl Target for Backup {
    fn name(&self) -> &'static str {
        NAME
    }

    fn applies(&self, env: &Environment) -> bool {
        env.is_kubernetes() && env.backup.enabled
    }

    fn generate(&self, cx: &Context<'_>) -> Result<Vec<Artifact>, TargetError> {
        let env = cx.env;
        let mut objects = Vec::new();
        // The workloads that run, planned once for every file below.
        let plan: Vec<&Workload<'_>> = cx.deployed().collect();
        let jobs = jobs(env, &plan)?;
        for (schedule, w) in &jobs {
            objects.push(service_account(env, w)?);
            let mut c = cron_job(env, schedule, w)?;
            if w.data.as_ref().is_some_and(|(_, d)| reads_node_volume(d))
                && let Some(t) = c.spec.as_mut().and_then(|s| s.job_template.spec.as_mut())
            {
                beside_first_node(&mut t.template);
            }
            objects.push(kit::object(&c)?);
        }
        let mut out = vec![kit::manifest(cx, NAME, "backup/cronjobs.yaml", objects)];
        out.extend(restores(cx)?);
        out.extend(redis_restores(cx, &jobs, &plan)?);
        for (store, objects) in postgres_restores(env, &jobs, &plan)? {
            let path = format!("backup/restore-{store}.yaml");
            out.push(kit::unapplied(cx, NAME, path, objects));
        }
        Ok(out)
    }
}

/// Whether a backup reads the first blockchain node's volume.
fn reads_node_volume(d: &DataSource) -> bool {
    matches!(d, DataSource::Claim(c) if *c == plan::blockchain_claim(0))
}

/// Each backup as (schedule, workload): the full backup first, then the databases by name.
/// `plan` is what [`Context::deployed`] gives.
fn jobs<'a>(
    env: &'a Environment,
    plan: &[&Workload<'a>],
) -> Result<Vec<(&'a str, Workload<'a>)>, TargetError> {
    let b = &env.backup;
    let common = BTreeMap::from([
        ("S3_BUCKET".to_owned(), b.bucket.clone()),
        ("RETENTION_DAYS".to_owned(), b.retention_days.to_string()),
    ]);
    let index: BTreeMap<&str, &Workload<'_>> = plan.iter().map(|w| (w.name.as_str(), *w)).collect();
    let mut out = Vec::new();
    for BackupJob {
        database,
        source,
        workload: mut w,
    } in plan::backup_jobs(env)
    {
        let mut vars = common.clone();
        let (Some(name), Some(source)) = (database, source) else {
            // The full backup of the data volume.
            let kind = match b.kind {
                crate::model::BackupType::Full => "full",
                crate::model::BackupType::Incremental => "incremental",
            };
            vars.insert("BACKUP_TYPE".to_owned(), kind.to_owned());
            vars.insert("S3_PREFIX".to_owned(), kit::backup_prefix(env, "data"));
            let dir = w.data.as_ref().map_or("/data", |(p, _)| p.as_str());
            w.command = archive_command(env, dir);
            w.env = vars;
            out.push((b.schedule.as_str(), w));
            continue;
        };
        if postgres::operator_backed(env, source) {
            // The operator's ScheduledBackup, written with its Cluster.
            continue;
        }
        let db = &b.databases[name];
        let target = index.get(source).ok_or_else(|| {
            TargetError(format!(
                "backup `{name}` dumps `{source}`, which is not deployed"
            ))
        })?;
        vars.insert("BACKUP_SOURCE".to_owned(), source.to_owned());
        if plan::backup_reads_volume(source) {
            vars.insert("S3_PREFIX".to_owned(), kit::backup_prefix(env, BLOCKCHAIN));
        } else {
            vars.insert(
                "BACKUP_HOST".to_owned(),
                format!(
                    "{}.{}.svc.cluster.local",
                    target.service_name(),
                    target.namespace
                ),
            );
            if let Some(database) = env.storage.get(source).and_then(|s| s.database.as_ref()) {
                vars.insert("BACKUP_DATABASE".to_owned(), database.clone());
            }
            // The port of the Service in BACKUP_HOST (a Sentinel set's: the sentinels').
            if let Some(p) = target.client_ports().last() {
                vars.insert("BACKUP_PORT".to_owned(), p.to_string());
            }
        }
        w.env = vars;
        w.command.clone_from(&db.command);
        if let Some(store) = env
            .storage
            .get(source)
            .filter(|s| s.kind == StorageKind::Postgresql)
        {
            w.env.extend(postgres::dump_vars(env, source, store));
            w.scratch.push(("backup", postgres::DUMP_DIR.to_owned()));
            w.command = postgres::shell(postgres::backup_command(&secret_names(&w)));
        } else if w.command.is_empty() && plan::backup_reads_volume(source) {
            w.command = archive_command(env, "/data");
        } else if w.command.is_empty() {
            if redis_store(env, source) {
                w.command = redis::dump(name, &w, target);
                w.scratch.push(("backup", redis::DUMP_DIR.to_owned()));
            } else {
                return Err(TargetError(format!(
                    "backup `{name}` has no command and deaap-gen writes none for `{source}`"
                )));
            }
        }
        out.push((db.schedule.as_str(), w));
    }
    Ok(out)
}

/// Whether `source` is a Redis store.
fn redis_store(env: &Environment, source: &str) -> bool {
    env.storage
        .get(source)
        .is_some_and(|s| s.kind == StorageKind::Redis)
}

/// The restore files of the database backups whose commands deaap-gen wrote
/// (`backup/restore-<name>.yaml`); `jobs` as [`jobs`] returns them, `plan` as
/// [`Context::deployed`] gives them.
fn redis_restores(
    cx: &Context<'_>,
    jobs: &[(&str, Workload<'_>)],
    plan: &[&Workload<'_>],
) -> Result<Vec<Artifact>, TargetError> {
    let env = cx.env;
    let b = &env.backup;
    let mut out = Vec::new();
    for (name, db) in &b.databases {
        let job_name = format!("{}-{name}", b.name);
        let job = jobs.iter().map(|(_, w)| w).find(|w| w.name == job_name);
        let source = plan.iter().find(|w| w.name == db.source);
        if let (true, true, Some(job), Some(source)) = (
            db.command.is_empty(),
            redis_store(env, &db.source),
            job,
            source,
        ) {
            out.extend(redis::restore(cx, name, job, source)?);
        }
    }
    Ok(out)
}

fn secret_names<'a>(w: &'a Workload<'_>) -> Vec<&'a str> {
    w.secrets.keys().map(String::as_str).collect()
}

/// The restore of each PostgreSQL store with a database backup, by store: a recovery `Cluster`
/// for a CloudNativePG store, else a Job that runs the restore command as the backup job's
/// workload. `jobs` as [`jobs`] returns them, `plan` as [`Context::deployed`] gives them.
fn postgres_restores(
    env: &Environment,
    jobs: &[(&str, Workload<'_>)],
    plan: &[&Workload<'_>],
) -> Result<Vec<(String, Vec<Object>)>, TargetError> {
    let mut backups = jobs.iter().map(|(_, w)| w);
    let mut out = Vec::new();
    for (name, db) in &env.backup.databases {
        let Some(store) = env
            .storage
            .get(&db.source)
            .filter(|s| s.kind == StorageKind::Postgresql)
        else {
            continue;
        };
        let objects = if postgres::cloudnative_pg(store) {
            let Some(w) = plan.iter().find(|w| w.name == db.source) else {
                continue;
            };
            vec![kit::cnpg::recovery(env, w, store)?]
        } else {
            let job = format!("{}-{name}", env.backup.name);
            let Some(w) = backups.find(|w| w.name == job) else {
                continue;
            };
            vec![kit::object(&postgres_restore_job(env, w.clone())?)?]
        };
        out.push((db.source.clone(), objects));
    }
    Ok(out)
}

/// The restore Job of a database backup: the backup job's pod (its `ServiceAccount`, labels and
/// so `NetworkPolicy`, variables and credentials) running the restore command on the dump
/// `RESTORE_DUMP` (the latest unless changed before applying), once.
fn postgres_restore_job(env: &Environment, mut w: Workload<'_>) -> Result<Job, TargetError> {
    w.env
        .insert("RESTORE_DUMP".to_owned(), postgres::LATEST_DUMP.to_owned());
    w.command = postgres::shell(postgres::restore_command(&secret_names(&w)));
    let mut job = restore_job(env, &format!("{}-restore", w.name), &w)?;
    if let Some(spec) = job.spec.as_mut() {
        // A restore that failed is looked at before it runs again.
        spec.backoff_limit = Some(0);
    }
    Ok(job)
}

/// Bash that reads each bucket credential from the file the Vault agent renders it to.
fn credentials(env: &Environment) -> String {
    env.backup.secrets.keys().fold(String::new(), |mut s, k| {
        let _ = write!(s, "{k}=\"$(cat \"${{{k}_FILE}}\")\"\nexport {k}\n");
        s
    })
}

/// The archives a backup writes below `s3://$S3_BUCKET/$S3_PREFIX/`: `<UTC time>.tar`.
const ARCHIVE_NAME: &str = "^[0-9]+T[0-9]+Z[.]tar$";

/// `bash -c` with `script`, `@DIR@` standing for the quoted directory.
fn bash(script: &str, dir: &str) -> Vec<String> {
    let script = script.replace("@DIR@", &shell_word(dir));
    vec!["/bin/bash".to_owned(), "-c".to_owned(), script]
}

/// Archives `dir` (without the file system's `lost+found`) as one tar file in the bucket, then
/// removes the archives older than `RETENTION_DAYS`.
fn archive_command(env: &Environment, dir: &str) -> Vec<String> {
    let script = format!(
        r#"set -euo pipefail
{credentials}stamp="$(date -u +%Y%m%dT%H%M%SZ)"
size=$(( $(du -sk @DIR@ | cut -f1) * 1024 ))
tar -C @DIR@ --exclude=./lost+found -cf - . \
  | aws s3 cp - "s3://${{S3_BUCKET}}/${{S3_PREFIX}}/${{stamp}}.tar" --expected-size "${{size}}"
cutoff="$(date -u -d "@$(( $(date +%s) - RETENTION_DAYS * 86400 ))" +%Y%m%dT%H%M%SZ)"
aws s3 ls "s3://${{S3_BUCKET}}/${{S3_PREFIX}}/" \
  | awk -v cutoff="${{cutoff}}.tar" '$4 ~ /{ARCHIVE_NAME}/ && $4 < cutoff {{ print $4 }}' \
  | while read -r old; do aws s3 rm "s3://${{S3_BUCKET}}/${{S3_PREFIX}}/${{old}}"; done
echo "archived @DIR@ to s3://${{S3_BUCKET}}/${{S3_PREFIX}}/${{stamp}}.tar"
"#,
        credentials = credentials(env),
    );
    bash(&script, dir)
}

/// Extracts an archive of the bucket into `dir`: `RESTORE_KEY` (an archive's name), else the
/// newest. A `dir` holding anything but `lost+found` is refused unless `RESTORE_OVERWRITE=true`,
/// which empties it first.
fn restore_command(env: &Environment, dir: &str) -> Vec<String> {
    let script = format!(
        r#"set -euo pipefail
{credentials}key="${{RESTORE_KEY:-}}"
if [ -z "${{key}}" ]; then
  key="$(aws s3 ls "s3://${{S3_BUCKET}}/${{S3_PREFIX}}/" | awk '$4 ~ /{ARCHIVE_NAME}/ {{ print $4 }}' | sort | tail -n 1 || true)"
fi
if [ -z "${{key}}" ]; then
  echo "no archive below s3://${{S3_BUCKET}}/${{S3_PREFIX}}/" >&2
  exit 1
fi
if [ -n "$(find @DIR@ -mindepth 1 -maxdepth 1 ! -name lost+found -print -quit)" ]; then
  if [ "${{RESTORE_OVERWRITE:-false}}" != "true" ]; then
    echo "@DIR@ is not empty: set RESTORE_OVERWRITE=true to replace what it holds" >&2
    exit 1
  fi
  find @DIR@ -mindepth 1 -maxdepth 1 ! -name lost+found -exec rm -rf {{}} +
fi
aws s3 cp "s3://${{S3_BUCKET}}/${{S3_PREFIX}}/${{key}}" - | tar -C @DIR@ -xf -
echo "restored s3://${{S3_BUCKET}}/${{S3_PREFIX}}/${{key}} into @DIR@"
"#,
        credentials = credentials(env),
    );
    bash(&script, dir)
}

/// The restore Jobs of the data volume and of the blockchain nodes, each file with the
/// `ServiceAccount` its pods run as. A restore pod is its backup job's pod with the volume
/// writable: the same account, labels (so the same `NetworkPolicy` lets it reach the bucket and
/// Vault) and resources.
fn restores(cx: &Context<'_>) -> Result<Vec<Artifact>, TargetError> {
    let env = cx.env;
    let mut out = Vec::new();
    for job in plan::backup_jobs(env) {
        let w = job.workload;
        let vars = |what: &str, overwrite: bool| {
            BTreeMap::from([
                ("S3_BUCKET".to_owned(), env.backup.bucket.clone()),
                ("S3_PREFIX".to_owned(), kit::backup_prefix(env, what)),
                ("RESTORE_KEY".to_owned(), String::new()),
                ("RESTORE_OVERWRITE".to_owned(), overwrite.to_string()),
            ])
        };
        match job.source {
            None => {
                let Some(d) = &env.data else { continue };
                let mut r = w.clone();
                r.data = Some((
                    d.path.clone(),
                    DataSource::WritableClaim(env.backup.data_claim.clone()),
                ));
                r.env = vars("data", false);
                r.command = restore_command(env, &d.path);
                let objects = vec![
                    service_account(env, &r)?,
                    kit::object(&restore_job(env, "restore-data", &r)?)?,
                ];
                out.push(kit::unapplied(cx, NAME, kit::restore_file("data"), objects));
            }
            Some(source) if plan::backup_reads_volume(source) => {
                let path = kit::restore_file(source);
                if out.iter().any(|a| a.path == path) {
                    continue;
                }
                // Every node gets the same archive: the nodes hold one chain.
                let mut objects = vec![service_account(env, &w)?];
                for ordinal in 0..env.blockchain.replicas {
                    let mut r = w.clone();
                    r.data = Some((
                        "/data".to_owned(),
                        DataSource::WritableClaim(plan::blockchain_claim(ordinal)),
                    ));
                    // The nodes rewrite their volume as soon as they start: it is replaced.
                    r.env = vars(BLOCKCHAIN, true);
                    r.command = restore_command(env, "/data");
                    let name = format!("restore-{BLOCKCHAIN}-{ordinal}");
                    objects.push(kit::object(&restore_job(env, &name, &r)?)?);
                }
                out.push(kit::unapplied(cx, NAME, path, objects));
            }
            Some(_) => {}
        }
    }
    Ok(out)
}

fn service_account(env: &Environment, w: &Workload<'_>) -> Result<Object, TargetError> {
    kit::object(&ServiceAccount {
        metadata: meta(env, &w.name, Some(&w.namespace), w.component),
        automount_service_account_token: Some(false),
        ..ServiceAccount::default()
    })
}

/// A backup of the blockchain reads the first node's `ReadWriteOnce` volume, which only pods on
/// that node can mount: its pod is scheduled beside the node's.
fn beside_first_node(template: &mut PodTemplateSpec) {
    if let Some(spec) = template.spec.as_mut() {
        spec.affinity = Some(Affinity {
            pod_affinity: Some(PodAffinity {
                required_during_scheduling_ignored_during_execution: Some(vec![PodAffinityTerm {
                    label_selector: Some(kit::selector(BTreeMap::from([(
                        "statefulset.kubernetes.io/pod-name".to_owned(),
                        format!("{BLOCKCHAIN}-0"),
                    )]))),
                    topology_key: "kubernetes.io/hostname".to_owned(),
                    ..PodAffinityTerm::default()
                }]),
                ..PodAffinity::default()
            }),
            ..Affinity::default()
        });
    }
}

/// A run-to-completion Job of `w`'s pod: a failed run is retried twice, none runs longer than the
/// deadline.
fn job_spec(env: &Environment, w: &Workload<'_>) -> Result<JobSpec, TargetError> {
    Ok(JobSpec {
        backoff_limit: Some(2),
        active_deadline_seconds: Some(DEADLINE_SECONDS),
        template: pod::template(env, w)?,
        ..JobSpec::default()
    })
}

fn restore_job(env: &Environment, name: &str, w: &Workload<'_>) -> Result<Job, TargetError> {
    let mut metadata = pod::workload_meta(env, w);
    metadata.name = Some(name.to_owned());
    Ok(Job {
        metadata,
        spec: Some(job_spec(env, w)?),
        ..Job::default()
    })
}

fn cron_job(env: &Environment, schedule: &str, w: &Workload<'_>) -> Result<CronJob, TargetError> {
    Ok(CronJob {
        metadata: pod::workload_meta(env, w),
        spec: Some(CronJobSpec {
            schedule: schedule.to_owned(),
            // Cron schedules are read in UTC whatever the controller's zone.
            time_zone: Some("Etc/UTC".to_owned()),
            // Two dumps of one database at once would compete for it and for the bucket.
            concurrency_policy: Some("Forbid".to_owned()),
            // A run missed by up to an hour (controller down, upgrade) still happens.
            starting_deadline_seconds: Some(3600),
            successful_jobs_history_limit: Some(3),
            failed_jobs_history_limit: Some(5),
            job_template: JobTemplateSpec {
                // Jobs carry the standard labels too: admission policies check every object.
                metadata: Some(ObjectMeta {
                    labels: Some(kit::labels(env, &w.name, w.component)),
                    ..ObjectMeta::default()
                }),
                spec: Some(job_spec(env, w)?),
            },
            ..CronJobSpec::default()
        }),
        ..CronJob::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::Context;
    use std::path::Path;

    fn load(rel: &str) -> Environment {
        crate::load_model(&Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
    }

    /// The target's files by path, after checking what each holds: the `CronJobs` are streamed,
    /// the restores are applied by hand.
    fn files(env: &Environment, source: &str) -> BTreeMap<String, String> {
        let cx = Context::new(env, source, None);
        let mut out = BTreeMap::new();
        for a in TARGET.generate(&cx).unwrap() {
            if a.path == "backup/cronjobs.yaml" {
                assert!(a.manifest);
                assert_eq!(a.kinds, ["ServiceAccount", "CronJob"]);
            } else {
                assert!(a.path.starts_with("backup/restore-"), "{}", a.path);
                // Applied by hand: no manifest, so never streamed (its objects stay for the
                // proofs).
                assert!(!a.manifest, "{} is streamed", a.path);
                assert!(
                    a.kinds.iter().any(|k| k == "Job" || k == "Cluster"),
                    "{}",
                    a.path
                );
            }
            out.insert(a.path, String::from_utf8(a.bytes.to_vec()).unwrap());
        }
        out
    }

    /// One database backup of each kind of source, credentials from Vault, and the data volume
    /// (tests/fixtures/backup.toml); the shipped environments' backups are pinned once, in
    /// generated/.
    #[test]
    fn database_backups() {
        let env = load("tests/fixtures/backup.toml");
        let files = files(&env, "backup.toml");
        assert_eq!(
            files.keys().collect::<Vec<_>>(),
            [
                "backup/cronjobs.yaml",
                "backup/restore-blockchain.yaml",
                "backup/restore-data.yaml",
                "backup/restore-db.yaml"
            ]
        );
        let t = &files["backup/cronjobs.yaml"];
        // The full backup and one CronJob per database.
        assert_eq!(env.backup.databases.len(), 3);
        assert_eq!(
            t.matches("kind: CronJob").count(),
            1 + env.backup.databases.len()
        );
        assert!(t.contains("concurrencyPolicy: Forbid"));
        assert!(t.contains("claimName: minimal-data"));
        assert!(t.contains("value: db.mini-storage.svc.cluster.local"));
        assert!(t.contains("vault.hashicorp.com/agent-pre-populate-only: 'true'"));
        // The PostgreSQL dump gets the database password from Vault too; no value anywhere.
        assert!(t.contains("vault.hashicorp.com/agent-inject-secret-POSTGRES_PASSWORD"));
        assert!(!t.contains("kind: Secret\n"));
        // The blockchain backup reads the first node's volume, beside it, in its namespace.
        assert!(t.contains("claimName: data-blockchain-0"));
        assert!(t.contains("statefulset.kubernetes.io/pod-name: blockchain-0"));
        assert!(t.contains("name: backup-service-blockchain\n  namespace: mini-chain"));
        // The full backup archives the data volume where the services mount it.
        assert!(t.contains("tar -C /srv/data --exclude=./lost+found -cf - ."));
        insta::assert_snapshot!("backup_databases", t);
        insta::assert_snapshot!("backup_restore_data", &files["backup/restore-data.yaml"]);
        insta::assert_snapshot!(
            "backup_restore_blockchain",
            &files["backup/restore-blockchain.yaml"]
        );
    }

    /// A restore reads the folder its backup writes, and the archive names its backup writes.
    #[test]
    fn restores_read_what_backups_write() {
        let env = load("tests/fixtures/backup.toml");
        let files = files(&env, "backup.toml");
        for (restore, prefix, dir) in [
            ("backup/restore-data.yaml", "backup/data", "/srv/data"),
            (
                "backup/restore-blockchain.yaml",
                "backup/blockchain",
                "/data",
            ),
        ] {
            let prefix = format!("value: {prefix}\n");
            assert!(files["backup/cronjobs.yaml"].contains(&prefix), "{prefix}");
            let r = &files[restore];
            assert!(r.contains(&prefix), "{restore}: {prefix}");
            assert!(r.contains(&format!("| tar -C {dir} -xf -")), "{restore}");
            assert!(r.contains(ARCHIVE_NAME), "{restore}");
            // Nothing mounts the restored volume read-only.
            assert!(!r.contains("readOnly: true"), "{restore}");
        }
        assert!(files["backup/cronjobs.yaml"].contains("+%Y%m%dT%H%M%SZ"));
        assert_eq!(
            files["backup/restore-blockchain.yaml"]
                .matches("kind: Job")
                .count(),
            usize::try_from(env.blockchain.replicas).unwrap()
        );
    }

    #[test]
    fn minimal_has_backups_off() {
        let env = load("tests/fixtures/minimal.toml");
        assert!(!TARGET.applies(&env));
        let mut on = env.clone();
        on.backup.enabled = true;
        on.data = load("tests/fixtures/backup.toml").data;
        let files = files(&on, "minimal.toml");
        let t = &files["backup/cronjobs.yaml"];
        assert_eq!(t.matches("kind: CronJob").count(), 1);
        assert!(files.contains_key("backup/restore-data.yaml"));
        assert!(!files.contains_key("backup/restore-blockchain.yaml"));
        insta::assert_snapshot!("backup_minimal_enabled", t);
    }

    fn artifacts(env: &Environment, source: &str) -> Vec<Artifact> {
        let cx = Context::new(env, source, None);
        TARGET.generate(&cx).unwrap()
    }

    /// The container command of the object of `kind` named `name` in `a`.
    fn command(a: &Artifact, kind: &str, name: &str) -> serde_json::Value {
        let o = a
            .objects
            .iter()
            .find(|o| o.kind() == kind && o.name() == name)
            .unwrap_or_else(|| panic!("no {kind} {name} in {}", a.path));
        let v = o.value();
        let template = match kind {
            "CronJob" => &v["spec"]["jobTemplate"]["spec"]["template"],
            _ => &v["spec"]["template"],
        };
        let command = template["spec"]["containers"][0]["command"].to_json();
        assert!(command.is_array(), "{kind} {name} has no container command");
        command
    }

    /// A Redis backup without a command gets the generated one: the primary found through the
    /// sentinels, dumped with `redis-cli --rdb` and uploaded; and the restore Job beside it, a
    /// file that is no manifest (never streamed), loading a dump into the first pod's volume.
    #[test]
    fn redis_dump_and_restore() {
        let env = load("tests/fixtures/sentinel.toml");
        let cx = Context::new(&env, "sentinel.toml", None);
        let a = TARGET.generate(&cx).unwrap();
        assert_eq!(a[0].path, "backup/cronjobs.yaml");
        let cron = String::from_utf8(a[0].bytes.to_vec()).unwrap();
        for line in [
            "primary=$(redis-cli -h cache-sentinel.mini-storage.svc.cluster.local -p 26379 --raw SENTINEL get-master-addr-by-name cache | head -n 1)",
            "redis-cli -h \"$primary\" -p 6379 --rdb /backup/cache.rdb",
            "aws s3 cp /backup/cache.rdb \"s3://$S3_BUCKET/cache/latest.rdb\"",
            "export AWS_ACCESS_KEY_ID=\"$(cat \"$AWS_ACCESS_KEY_ID_FILE\")\"",
        ] {
            assert!(cron.contains(line), "{line}");
        }
        assert!(!cron.contains("/scripts/backup-redis.sh"));
        let restore = a
            .iter()
            .find(|a| a.path == "backup/restore-cache.yaml")
            .expect("the Redis restore");
        assert!(!restore.manifest && restore.objects.is_empty());
        assert_eq!(restore.kinds, ["Job"]);
        let text = String::from_utf8(restore.bytes.to_vec()).unwrap();
        assert!(text.contains("kubectl -n mini-storage scale statefulset/cache --replicas=0"));
        let job: serde_json::Value = serde_yaml::from_str(&text).unwrap();
        let spec = &job["spec"]["template"]["spec"];
        assert_eq!(spec["initContainers"][0]["name"], "fetch");
        assert_eq!(spec["containers"][0]["name"], "load");
        assert_eq!(
            spec["containers"][0]["image"],
            "registry.example.com/library/redis:7.2.5"
        );
        let claim = spec["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "data")
            .unwrap();
        assert_eq!(claim["persistentVolumeClaim"]["claimName"], "data-cache-0");
        assert!(claim["persistentVolumeClaim"].get("readOnly").is_none());
        let annotations = &job["spec"]["template"]["metadata"]["annotations"];
        assert_eq!(annotations["vault.hashicorp.com/agent-init-first"], "true");
        assert_eq!(
            annotations["traffic.sidecar.istio.io/excludeOutboundPorts"],
            "8200"
        );
        insta::assert_snapshot!("backup_restore_cache", text);
    }

    /// A PostgreSQL store's dump is generated, and restored by a Job that runs as the backup's
    /// workload with the restore command; the restore is applied by hand, never streamed.
    #[test]
    fn postgresql_dumps_are_generated_and_restored_by_hand() {
        let env = load("tests/fixtures/backup.toml");
        let a = artifacts(&env, "backup.toml");
        assert_eq!(a[0].path, "backup/cronjobs.yaml");
        let secrets = [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "POSTGRES_PASSWORD",
        ];
        let backup = command(&a[0], "CronJob", "backup-service-db");
        assert_eq!(backup[0], "/bin/sh");
        assert_eq!(backup[2], postgres::backup_command(&secrets));
        let restore = a
            .iter()
            .find(|a| a.path == "backup/restore-db.yaml")
            .expect("the PostgreSQL restore");
        assert!(!restore.manifest, "a restore must not run on every sync");
        assert_eq!(restore.kinds, ["Job"]);
        let job = &restore.objects[0];
        assert_eq!(job.name(), "backup-service-db-restore");
        assert_eq!(
            command(restore, "Job", "backup-service-db-restore")[2],
            postgres::restore_command(&secrets)
        );
        let pod = &job.value()["spec"]["template"];
        assert!(!pod.is_null(), "the restore Job has a pod template");
        // The backup job's identity: its ServiceAccount, labels and so NetworkPolicy.
        assert_eq!(pod["spec"]["serviceAccountName"], "backup-service-db");
        assert_eq!(
            pod["metadata"]["labels"]["app.kubernetes.io/name"],
            "backup-service-db"
        );
        let env_vars = &pod["spec"]["containers"][0]["env"];
        let var = |name: &str| {
            env_vars
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["name"] == name)
                .map(|v| v["value"].clone())
        };
        assert_eq!(var("RESTORE_DUMP").unwrap(), "latest.dump");
        assert_eq!(var("BACKUP_USER").unwrap(), "mini");
        assert_eq!(
            var("BACKUP_DESTINATION").unwrap(),
            "s3://minimal-backups/backup/db"
        );
        let stream = crate::stream::kubernetes_stream(&a).unwrap();
        assert!(stream.contains("name: backup-service-db\n"));
        assert!(!stream.contains("-restore"));
    }

    /// A CloudNativePG store has no backup CronJob (its `ScheduledBackup` is the operator's) and is
    /// restored into a recovery Cluster of its shape, from the object store it archives to.
    #[test]
    fn cloudnative_pg_stores_restore_into_a_recovery_cluster() {
        let env = load("tests/fixtures/cnpg.toml");
        let a = artifacts(&env, "cnpg.toml");
        assert!(!a[0].objects.iter().any(|o| o.name() == "backup-service-db"));
        let restore = a
            .iter()
            .find(|a| a.path == "backup/restore-db.yaml")
            .unwrap();
        assert!(!restore.manifest);
        assert_eq!(restore.kinds, ["Cluster"]);
        let recovery = restore.objects[0].value();
        assert_eq!(recovery["metadata"]["name"], "db-restore");
        let spec = &recovery["spec"];
        assert!(spec.get("backup").is_none());
        assert_eq!(spec["bootstrap"]["recovery"]["source"], "db");
        assert_eq!(spec["bootstrap"]["recovery"]["database"], "mini");
        assert_eq!(spec["externalClusters"][0]["name"], "db");
        let plan = plan::deployed(&env);
        let w = plan.iter().find(|w| w.name == "db").unwrap();
        let cluster = kit::cnpg::cluster(&env, w, &env.storage["db"]).unwrap();
        let store = cluster.value();
        assert_eq!(
            spec["externalClusters"][0]["barmanObjectStore"],
            store["spec"]["backup"]["barmanObjectStore"]
        );
        for key in [
            "instances",
            "imageName",
            "storage",
            "resources",
            "inheritedMetadata",
        ] {
            assert_eq!(spec[key], store["spec"][key], "{key}");
        }
    }
}
