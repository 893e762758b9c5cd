//! PostgreSQL in the plan: what a store with `replication = "cloudnative-pg"` runs as (the pods,
//! Services and operator of a CloudNativePG `Cluster`), and the dump and restore commands of a
//! PostgreSQL database backup. Each command is written here once: the backup `CronJob`, the restore
//! Job and the conformance drill (which takes them out of the generated files) run the same words.

use crate::model::{Environment, Replication, Schedule, StorageBackend, StorageKind};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The label CloudNativePG puts on every pod of a `Cluster` (instances and their Jobs alike).
pub const CLUSTER_LABEL: &str = "cnpg.io/cluster";
/// The port a CloudNativePG instance serves PostgreSQL on; the operator does not change it.
pub const POSTGRES_PORT: u16 = 5432;
/// The port of a CloudNativePG instance's metrics exporter (`/metrics`).
pub const METRICS_PORT: u16 = 9187;
/// The port of a CloudNativePG instance manager's status endpoint, which the operator and the
/// other instances call.
pub const STATUS_PORT: u16 = 8000;
/// The name of the container CloudNativePG runs PostgreSQL in.
pub const INSTANCE_CONTAINER: &str = "postgres";
/// Where the CloudNativePG operator runs (its default installation).
pub const OPERATOR_NAMESPACE: &str = "cnpg-system";
/// The label of the operator's pods in its upstream manifests and Helm chart.
pub const OPERATOR_LABEL: (&str, &str) = ("app.kubernetes.io/name", "cloudnative-pg");
/// The UID and GID CloudNativePG runs its instances as (the `postgres` user of its images).
pub const INSTANCE_UID: i64 = 26;

/// Whether a store runs as a CloudNativePG `Cluster`.
#[must_use]
pub fn cloudnative_pg(store: &StorageBackend) -> bool {
    store.kind == StorageKind::Postgresql && store.replication == Replication::CloudnativePg
}

/// Whether the database backup of `source` is the operator's (a CloudNativePG `ScheduledBackup`
/// with WAL archiving) rather than a backup `CronJob`.
#[must_use]
pub fn operator_backed(env: &Environment, source: &str) -> bool {
    env.storage
        .get(source)
        .is_some_and(|s| s.enabled && cloudnative_pg(s))
}

/// The Service CloudNativePG gives a `Cluster`'s primary (read-write).
#[must_use]
pub fn primary_service(cluster: &str) -> String {
    format!("{cluster}-rw")
}

/// The recovery `Cluster` a CloudNativePG store is restored into, beside the store.
#[must_use]
pub fn restore_cluster(cluster: &str) -> String {
    format!("{cluster}-restore")
}

/// The Secret (`kubernetes.io/basic-auth`: `username`, `password`) that holds the credentials of
/// the owner of a CloudNativePG store's database; the Vault sync creates it.
#[must_use]
pub fn app_secret(cluster: &str) -> String {
    format!("{cluster}-app")
}

/// The Secret that holds the object store credentials of a CloudNativePG store's backups (keys
/// named as `backup.secrets`); the Vault sync creates it.
#[must_use]
pub fn backup_secret(cluster: &str) -> String {
    format!("{cluster}-backup-credentials")
}

/// Where the backups of `store` go in the environment's bucket: `s3://<bucket>/<env>/<store>`.
#[must_use]
pub fn destination(env: &Environment, store: &str) -> String {
    format!(
        "s3://{}/{}/{store}",
        env.backup.bucket, env.environment.name
    )
}

/// The owner of a PostgreSQL store's database (`env.POSTGRES_USER`, else `postgres`) and the
/// database (`database`, else the owner's name), as the official image creates them.
#[must_use]
pub fn owner_and_database(store: &StorageBackend) -> (&str, &str) {
    let user = store
        .env
        .get("POSTGRES_USER")
        .map_or("postgres", String::as_str);
    (user, store.database.as_deref().unwrap_or(user))
}

/// The secret variable that holds a PostgreSQL store's password.
pub const PASSWORD_SECRET: &str = "POSTGRES_PASSWORD";

/// A backup schedule as CloudNativePG reads it: six fields, seconds first (a `@daily`-style
/// macro is the same in both).
#[must_use]
pub fn operator_schedule(schedule: &Schedule) -> String {
    let s = schedule.as_str().trim();
    if s.starts_with('@') {
        s.to_owned()
    } else {
        format!("0 {s}")
    }
}

/// The retention of a CloudNativePG store's backups and WAL: `<days>d`.
#[must_use]
pub fn retention_policy(days: u32) -> String {
    format!("{days}d")
}

/// Where the dump is written in the backup pod and read in the restore pod (a scratch volume).
pub const DUMP_DIR: &str = "/backup";
/// The name the latest dump is also stored under, which the restore takes by default.
pub const LATEST_DUMP: &str = "latest.dump";

/// The variables the dump and restore commands read: the database, who logs in, where the dumps
/// go, and which dump a restore takes (`RESTORE_DUMP`, set only on the restore Job).
#[must_use]
pub fn dump_vars(
    env: &Environment,
    name: &str,
    store: &StorageBackend,
) -> BTreeMap<String, String> {
    let (user, _) = owner_and_database(store);
    BTreeMap::from([
        ("BACKUP_USER".to_owned(), user.to_owned()),
        ("BACKUP_DESTINATION".to_owned(), destination(env, name)),
    ])
}

/// What both commands start with: fail on the first error, and hand each secret the Vault agent
/// rendered to a file (`<NAME>_FILE`) to the tools as the variable they read (`PGPASSWORD` for the
/// store's password).
fn preamble(secrets: &[&str]) -> String {
    let mut s = String::from("set -eu\n");
    for name in secrets {
        let var = if *name == PASSWORD_SECRET {
            "PGPASSWORD"
        } else {
            name
        };
        let _ = writeln!(s, "{var}=\"$(cat \"${name}_FILE\")\"");
        let _ = writeln!(s, "export {var}");
    }
    s
}

/// The connection options of `pg_dump` and `pg_restore`, from the pod's variables.
const CONNECTION: &str = "--no-password --host=\"$BACKUP_HOST\" --port=\"$BACKUP_PORT\" \
                          --username=\"$BACKUP_USER\" --dbname=\"$BACKUP_DATABASE\"";

/// The backup: a custom-format dump (compressed, restorable table by table) written to
/// [`DUMP_DIR`] under its UTC time, uploaded to `BACKUP_DESTINATION`, then copied there as
/// [`LATEST_DUMP`]. `secrets`: the secret variables of the backup pod.
#[must_use]
pub fn backup_command(secrets: &[&str]) -> String {
    let mut s = preamble(secrets);
    let _ = writeln!(
        s,
        "dump=\"{DUMP_DIR}/$(date -u +%Y%m%dT%H%M%SZ).dump\"\n\
         pg_dump --format=custom {CONNECTION} --file=\"$dump\"\n\
         aws s3 cp --only-show-errors \"$dump\" \"$BACKUP_DESTINATION/${{dump##*/}}\"\n\
         aws s3 cp --only-show-errors \"$BACKUP_DESTINATION/${{dump##*/}}\" \"$BACKUP_DESTINATION/{LATEST_DUMP}\""
    );
    s
}

/// The restore: download the dump `RESTORE_DUMP` from `BACKUP_DESTINATION` to [`DUMP_DIR`], then
/// `pg_restore` it into the database in one transaction, dropping what it replaces, stopping at
/// the first error. `secrets`: the secret variables of the restore pod.
#[must_use]
pub fn restore_command(secrets: &[&str]) -> String {
    let mut s = preamble(secrets);
    let _ = writeln!(
        s,
        "aws s3 cp --only-show-errors \"$BACKUP_DESTINATION/$RESTORE_DUMP\" \"{DUMP_DIR}/$RESTORE_DUMP\"\n\
         pg_restore --clean --if-exists --no-owner --single-transaction --exit-on-error {CONNECTION} \"{DUMP_DIR}/$RESTORE_DUMP\""
    );
    s
}

/// A command as the container runs it: the script under `/bin/sh -c`.
#[must_use]
pub fn shell(script: String) -> Vec<String> {
    vec!["/bin/sh".to_owned(), "-c".to_owned(), script]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_read_secrets_from_the_rendered_files() {
        let b = backup_command(&["AWS_ACCESS_KEY_ID", PASSWORD_SECRET]);
        assert!(b.starts_with("set -eu\n"));
        assert!(b.contains("AWS_ACCESS_KEY_ID=\"$(cat \"$AWS_ACCESS_KEY_ID_FILE\")\"\n"));
        assert!(
            b.contains("PGPASSWORD=\"$(cat \"$POSTGRES_PASSWORD_FILE\")\"\nexport PGPASSWORD\n")
        );
        assert!(b.contains("pg_dump --format=custom --no-password --host=\"$BACKUP_HOST\""));
        assert!(b.contains("\"$BACKUP_DESTINATION/latest.dump\""));
        let r = restore_command(&[PASSWORD_SECRET]);
        assert!(r.contains(
            "pg_restore --clean --if-exists --no-owner --single-transaction --exit-on-error"
        ));
        assert!(r.ends_with("\"/backup/$RESTORE_DUMP\"\n"));
    }

    #[test]
    fn operator_schedules_have_seconds() {
        let s = Schedule::parse("30 2 * * *").unwrap();
        assert_eq!(operator_schedule(&s), "0 30 2 * * *");
        let m = Schedule::parse("@daily").unwrap();
        assert_eq!(operator_schedule(&m), "@daily");
        assert_eq!(retention_policy(30), "30d");
    }
}
