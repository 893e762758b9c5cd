//! The `backup` target: `batch/v1` `CronJobs` for the daily full backup of the data volume and for
//! each database backup (`[backup.databases.*]`), in the storage namespace, with the same hardened
//! pod as every other workload and the bucket credentials injected by the Vault agent. The pod
//! template and the workload plan (where each dumped database runs) are the `kubernetes` target's;
//! labels, metadata and the objects' conversion come from the kit.
//!
//! A PostgreSQL store's backup is generated, with its restore in `backup/restore-<store>.yaml`
//! (applied by hand, never synced): a `pg_dump` `CronJob` and a `pg_restore` Job run as the same
//! workload (its `ServiceAccount` and `NetworkPolicy`), with the commands of
//! [`plan::postgres`]; a CloudNativePG store is backed up by the operator (its `ScheduledBackup`,
//! written with its `Cluster`) and restored into a recovery `Cluster`.

mod redis;

use crate::model::{Environment, StorageKind};
use crate::plan::{self, DataSource, Workload, postgres};
use crate::targets::kit::{self, Object, meta, pod};
use crate::targets::{Artifact, Context, Target, TargetError};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, Job, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

pub(super) struct Backup;

pub(super) static TARGET: Backup = Backup;

const NAME: &str = "backup";

/// The script of the backup image that runs the full backup.
const FULL_BACKUP_COMMAND: &str = "/scripts/backup.sh";

impl Target for Backup {
    fn name(&self) -> &'static str {
        NAME
    }

    fn applies(&self, env: &Environment) -> bool {
        env.is_kubernetes() && env.backup.enabled
    }

    fn generate(&self, cx: &Context<'_>) -> Result<Vec<Artifact>, TargetError> {
        let mut objects = Vec::new();
        let jobs = jobs(cx.env)?;
        for (schedule, w) in &jobs {
            objects.push(kit::object(&ServiceAccount {
                metadata: meta(cx.env, &w.name, Some(&w.namespace), w.component),
                automount_service_account_token: Some(false),
                ..ServiceAccount::default()
            })?);
            objects.push(kit::object(&cron_job(cx.env, schedule, w)?)?);
        }
        let mut out = vec![kit::manifest(cx, NAME, "backup/cronjobs.yaml", objects)];
        out.extend(redis_restores(cx, &jobs)?);
        for (store, objects) in postgres_restores(cx.env)? {
            let path = format!("backup/restore-{store}.yaml");
            out.push(kit::unapplied(cx, NAME, path, objects));
        }
        Ok(out)
    }
}

/// Each backup as (schedule, workload): the full backup first, then the databases by name.
fn jobs(env: &Environment) -> Result<Vec<(&str, Workload<'_>)>, TargetError> {
    let b = &env.backup;
    let common = BTreeMap::from([
        ("S3_BUCKET".to_owned(), b.bucket.clone()),
        ("RETENTION_DAYS".to_owned(), b.retention_days.to_string()),
    ]);
    let base = |name: String, vars: BTreeMap<String, String>| Workload {
        env: vars,
        ..plan::backup_job(env, &name)
    };
    let mut vars = common.clone();
    let kind = match b.kind {
        crate::model::BackupType::Full => "full",
        crate::model::BackupType::Incremental => "incremental",
    };
    vars.insert("BACKUP_TYPE".to_owned(), kind.to_owned());
    let mut full = base(b.name.clone(), vars);
    full.command = vec![FULL_BACKUP_COMMAND.to_owned()];
    full.data = Some(("/data".to_owned(), DataSource::Claim(b.data_claim.clone())));
    let mut out = vec![(b.schedule.as_str(), full)];

    let plan = plan::deployed(env);
    let index: BTreeMap<&str, &Workload<'_>> = plan.iter().map(|w| (w.name.as_str(), w)).collect();
    for (name, db) in b
        .databases
        .iter()
        .filter(|(_, db)| !postgres::operator_backed(env, &db.source))
    {
        let source = index.get(db.source.as_str()).ok_or_else(|| {
            TargetError(format!(
                "backup `{name}` dumps `{}`, which is not deployed",
                db.source
            ))
        })?;
        let mut vars = common.clone();
        vars.insert("BACKUP_SOURCE".to_owned(), db.source.clone());
        vars.insert(
            "BACKUP_HOST".to_owned(),
            format!(
                "{}.{}.svc.cluster.local",
                source.service_name(),
                source.namespace
            ),
        );
        if let Some(database) = env
            .storage
            .get(&db.source)
            .and_then(|s| s.database.as_ref())
        {
            vars.insert("BACKUP_DATABASE".to_owned(), database.clone());
        }
        // The port of the Service in BACKUP_HOST (a Sentinel set's: the sentinels').
        if let Some(p) = source.client_ports().last() {
            vars.insert("BACKUP_PORT".to_owned(), p.to_string());
        }
        let mut w = base(format!("{}-{name}", b.name), vars);
        w.command.clone_from(&db.command);
        // A dump logs in with the database's own credentials.
        w.secrets.extend(source.secrets.clone());
        if let Some(store) = env
            .storage
            .get(&db.source)
            .filter(|s| s.kind == StorageKind::Postgresql)
        {
            w.env.extend(postgres::dump_vars(env, &db.source, store));
            w.scratch.push(("backup", postgres::DUMP_DIR.to_owned()));
            w.command = postgres::shell(postgres::backup_command(&secret_names(&w)));
        } else if db.command.is_empty() {
            if redis_store(env, &db.source) {
                w.command = redis::dump(name, &w, source);
                w.scratch.push(("backup", redis::DUMP_DIR.to_owned()));
            } else {
                return Err(TargetError(format!(
                    "backup `{name}` has no command and deaap-gen writes none for `{}`",
                    db.source
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
/// (`backup/restore-<name>.yaml`); `jobs` as [`jobs`] returns them.
fn redis_restores(
    cx: &Context<'_>,
    jobs: &[(&str, Workload<'_>)],
) -> Result<Vec<Artifact>, TargetError> {
    let env = cx.env;
    let b = &env.backup;
    let plan = plan::deployed(env);
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
/// workload.
fn postgres_restores(env: &Environment) -> Result<Vec<(String, Vec<Object>)>, TargetError> {
    let plan = plan::deployed(env);
    let mut backups = jobs(env)?.into_iter().map(|(_, w)| w);
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
            vec![kit::object(&restore_job(env, w)?)?]
        };
        out.push((db.source.clone(), objects));
    }
    Ok(out)
}

/// The restore Job of a database backup: the backup job's pod (its `ServiceAccount`, labels and
/// so `NetworkPolicy`, variables and credentials) running the restore command on the dump
/// `RESTORE_DUMP` (the latest unless changed before applying), once.
fn restore_job(env: &Environment, mut w: Workload<'_>) -> Result<Job, TargetError> {
    w.env
        .insert("RESTORE_DUMP".to_owned(), postgres::LATEST_DUMP.to_owned());
    w.command = postgres::shell(postgres::restore_command(&secret_names(&w)));
    let mut metadata = pod::workload_meta(env, &w);
    metadata.name = Some(format!("{}-restore", w.name));
    Ok(Job {
        metadata,
        spec: Some(JobSpec {
            // A restore that failed is looked at before it runs again.
            backoff_limit: Some(0),
            active_deadline_seconds: Some(6 * 3600),
            template: pod::template(env, &w)?,
            ..JobSpec::default()
        }),
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
                spec: Some(JobSpec {
                    backoff_limit: Some(2),
                    // A hung backup must not block the next day's run forever.
                    active_deadline_seconds: Some(6 * 3600),
                    template: pod::template(env, w)?,
                    ..JobSpec::default()
                }),
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

    fn artifacts(env: &Environment, source: &str) -> Vec<Artifact> {
        let cx = Context {
            env,
            source_name: source,
        };
        TARGET.generate(&cx).unwrap()
    }

    fn text(env: &Environment, source: &str) -> String {
        let a = artifacts(env, source);
        assert_eq!(a[0].path, "backup/cronjobs.yaml");
        assert_eq!(a[0].kinds, ["ServiceAccount", "CronJob"]);
        String::from_utf8(a[0].bytes.clone()).unwrap()
    }

    /// The container command of the object of `kind` named `name` in `a`.
    fn command<'a>(a: &'a Artifact, kind: &str, name: &str) -> &'a serde_json::Value {
        let o = a
            .objects
            .iter()
            .find(|o| o.kind() == kind && o.name() == name)
            .unwrap_or_else(|| panic!("no {kind} {name} in {}", a.path));
        let pod = match kind {
            "CronJob" => o.value().pointer("/spec/jobTemplate/spec/template/spec"),
            _ => o.value().pointer("/spec/template/spec"),
        };
        &pod.expect("a pod spec")["containers"][0]["command"]
    }

    /// A PostgreSQL store's dump is generated, and restored by a Job that runs as the backup's
    /// workload with the restore command; the restore is applied by hand, never streamed.
    #[test]
    fn postgresql_dumps_are_generated_and_restored_by_hand() {
        let env = load("tests/fixtures/backup.toml");
        let a = artifacts(&env, "backup.toml");
        let paths: Vec<&str> = a.iter().map(|a| a.path.as_str()).collect();
        assert_eq!(paths, ["backup/cronjobs.yaml", "backup/restore-db.yaml"]);
        let secrets = [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "POSTGRES_PASSWORD",
        ];
        let backup = command(&a[0], "CronJob", "backup-service-db");
        assert_eq!(backup[0], "/bin/sh");
        assert_eq!(backup[2], postgres::backup_command(&secrets));
        let restore = &a[1];
        assert!(!restore.manifest, "a restore must not run on every sync");
        assert_eq!(restore.kinds, ["Job"]);
        let job = &restore.objects[0];
        assert_eq!(job.name(), "backup-service-db-restore");
        assert_eq!(
            command(restore, "Job", "backup-service-db-restore")[2],
            postgres::restore_command(&secrets)
        );
        let pod = job.value().pointer("/spec/template").unwrap();
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

    /// One database backup of each kind of source, credentials from Vault
    /// (tests/fixtures/backup.toml); the shipped environments' backups are pinned once, in
    /// generated/.
    #[test]
    fn database_backups() {
        let env = load("tests/fixtures/backup.toml");
        let t = text(&env, "backup.toml");
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
        insta::assert_snapshot!("backup_databases", t);
    }

    #[test]
    fn minimal_has_backups_off() {
        let env = load("tests/fixtures/minimal.toml");
        assert!(!TARGET.applies(&env));
        let mut on = env.clone();
        on.backup.enabled = true;
        let t = text(&on, "minimal.toml");
        assert_eq!(t.matches("kind: CronJob").count(), 1);
        insta::assert_snapshot!("backup_minimal_enabled", t);
    }

    /// A Redis backup without a command gets the generated one: the primary found through the
    /// sentinels, dumped with `redis-cli --rdb` and uploaded; and the restore Job beside it, a
    /// file that is no manifest (never streamed), loading a dump into the first pod's volume.
    #[test]
    fn redis_dump_and_restore() {
        let env = load("tests/fixtures/sentinel.toml");
        let cx = Context {
            env: &env,
            source_name: "sentinel.toml",
        };
        let a = TARGET.generate(&cx).unwrap();
        let paths: Vec<&str> = a.iter().map(|a| a.path.as_str()).collect();
        assert_eq!(paths, ["backup/cronjobs.yaml", "backup/restore-cache.yaml"]);
        let cron = String::from_utf8(a[0].bytes.clone()).unwrap();
        for line in [
            "primary=$(redis-cli -h cache-sentinel.mini-storage.svc.cluster.local -p 26379 --raw SENTINEL get-master-addr-by-name cache | head -n 1)",
            "redis-cli -h \"$primary\" -p 6379 --rdb /backup/cache.rdb",
            "aws s3 cp /backup/cache.rdb \"s3://$S3_BUCKET/cache/latest.rdb\"",
            "export AWS_ACCESS_KEY_ID=\"$(cat \"$AWS_ACCESS_KEY_ID_FILE\")\"",
        ] {
            assert!(cron.contains(line), "{line}");
        }
        assert!(!cron.contains("/scripts/backup-redis.sh"));
        let restore = &a[1];
        assert!(!restore.manifest && restore.objects.is_empty());
        assert_eq!(restore.kinds, ["Job"]);
        let text = String::from_utf8(restore.bytes.clone()).unwrap();
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
}
