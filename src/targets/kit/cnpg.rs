//! CloudNativePG objects (`postgresql.cnpg.io/v1`) of a PostgreSQL store with
//! `replication = "cloudnative-pg"`: its `Cluster` (instances, storage, resources, anti-affinity,
//! the metadata the operator passes on to every pod it creates, the owner's database and
//! credentials, WAL archiving and base backups to the backup bucket), the `ScheduledBackup` of its
//! `[backup.databases.*]` entry, and the recovery `Cluster` that restores it from the bucket. The
//! `kubernetes` target writes the first two, the `backup` target the third; both build them here so
//! the store and its restore are one shape.
//!
//! Credentials are Secrets the Vault sync creates from the model's references
//! ([`postgres::app_secret`], [`postgres::backup_secret`]); each object names the references
//! behind each key in its `deaap.io/secret.<Secret>.<key>` annotations, never a value.

use crate::model::{Environment, Persistence, Resources, StorageBackend, Tier};
use crate::plan::{Workload, postgres};
use crate::targets::TargetError;
use crate::targets::kit::{Kind, Labels, Object, labels, meta};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use std::collections::BTreeMap;

/// A CloudNativePG `Cluster`.
pub const CLUSTER: Kind = Kind::namespaced("postgresql.cnpg.io/v1", "Cluster");
/// A CloudNativePG `ScheduledBackup`.
pub const SCHEDULED_BACKUP: Kind = Kind::namespaced("postgresql.cnpg.io/v1", "ScheduledBackup");

/// The AWS variables of `backup.secrets` the object store credentials are read from; without both
/// the instances use the IAM role of their service account.
const ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
const SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";

/// The labels CloudNativePG itself sets on its pods (the recommended `app.kubernetes.io` ones):
/// a `Cluster` passes none of these on, or the operator and the `Cluster` would relabel its
/// volumes back and forth.
const OPERATOR_LABELS: [&str; 5] = [
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/version",
];

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSpec {
    pub instances: u32,
    pub image_name: String,
    pub image_pull_policy: &'static str,
    pub inherited_metadata: InheritedMetadata,
    pub resources: ResourceSpec,
    pub storage: StorageSpec,
    pub affinity: Affinity,
    pub bootstrap: Bootstrap,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupSpec>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub external_clusters: Vec<ExternalCluster>,
}

/// What the operator copies onto every pod, Job and volume of the `Cluster`.
#[derive(Debug, Serialize)]
pub struct InheritedMetadata {
    pub labels: Labels,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: Labels,
}

#[derive(Debug, Serialize)]
pub struct ResourceSpec {
    pub requests: BTreeMap<&'static str, String>,
    pub limits: BTreeMap<&'static str, String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageSpec {
    pub size: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Affinity {
    pub enable_pod_anti_affinity: bool,
    pub topology_key: &'static str,
    pub pod_anti_affinity_type: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Bootstrap {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initdb: Option<Database>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery: Option<Recovery>,
}

/// The application database, its owner and the owner's credentials.
#[derive(Debug, Serialize)]
pub struct Database {
    pub database: String,
    pub owner: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<LocalRef>,
}

#[derive(Debug, Serialize)]
pub struct Recovery {
    pub source: String,
    #[serde(flatten)]
    pub database: Database,
}

#[derive(Debug, Serialize)]
pub struct LocalRef {
    pub name: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupSpec {
    pub barman_object_store: ObjectStore,
    pub retention_policy: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectStore {
    pub destination_path: String,
    pub s3_credentials: S3Credentials,
    pub wal: Compression,
    pub data: Compression,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct S3Credentials {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<SecretKey>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<SecretKey>,
    #[serde(rename = "inheritFromIAMRole", skip_serializing_if = "Option::is_none")]
    pub inherit_from_iam_role: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct SecretKey {
    pub name: String,
    pub key: String,
}

#[derive(Debug, Serialize)]
pub struct Compression {
    pub compression: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalCluster {
    pub name: String,
    pub barman_object_store: ObjectStore,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledBackupSpec {
    pub cluster: LocalRef,
    pub schedule: String,
    pub method: &'static str,
    pub backup_owner_reference: &'static str,
    /// A first base backup as soon as the `Cluster` exists: WAL archiving restores nothing without
    /// one.
    pub immediate: bool,
}

/// The labels the operator passes on to the store's pods: the DEAAP labels it does not set itself
/// (the business unit, environment and `part-of` the admission policies require), the plain `app`
/// label, and Istio's opt-out (see [`Workload::in_mesh`]).
fn pod_labels(env: &Environment, w: &Workload<'_>) -> Labels {
    let mut l = labels(env, &w.name, w.component);
    l.retain(|k, _| !OPERATOR_LABELS.contains(&k.as_str()));
    l.insert("app".to_owned(), w.name.clone());
    l.insert("sidecar.istio.io/inject".to_owned(), "false".to_owned());
    l
}

/// Prometheus' scrape annotations, on the exporter's port, when the store is scraped.
fn pod_annotations(w: &Workload<'_>) -> Labels {
    w.metrics
        .iter()
        .flat_map(|(port, path)| {
            [
                ("prometheus.io/scrape", "true".to_owned()),
                ("prometheus.io/port", port.to_string()),
                ("prometheus.io/path", path.clone()),
            ]
        })
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

fn resources(r: &Resources) -> ResourceSpec {
    let side = |c: &crate::model::CpuMemory| {
        BTreeMap::from([("cpu", c.cpu.to_string()), ("memory", c.memory.to_string())])
    };
    ResourceSpec {
        requests: side(&r.requests),
        limits: side(&r.limits),
    }
}

/// The owner's database and credentials: the Secret the Vault sync creates, when the model gives
/// the password; without one the operator generates it.
fn database(w: &Workload<'_>, store: &StorageBackend) -> Database {
    let (owner, database) = postgres::owner_and_database(store);
    Database {
        database: database.to_owned(),
        owner: owner.to_owned(),
        secret: store
            .secrets
            .contains_key(postgres::PASSWORD_SECRET)
            .then(|| LocalRef {
                name: postgres::app_secret(&w.name),
            }),
    }
}

/// Where the base backups and WAL go, with the bucket's credentials.
fn object_store(env: &Environment, name: &str) -> ObjectStore {
    let secrets = &env.backup.secrets;
    let key = |k: &str| {
        secrets.contains_key(k).then(|| SecretKey {
            name: postgres::backup_secret(name),
            key: k.to_owned(),
        })
    };
    let (id, secret) = (key(ACCESS_KEY_ID), key(SECRET_ACCESS_KEY));
    let iam = (id.is_none() || secret.is_none()).then_some(true);
    ObjectStore {
        destination_path: postgres::destination(env, name),
        s3_credentials: if iam.is_some() {
            S3Credentials {
                access_key_id: None,
                secret_access_key: None,
                inherit_from_iam_role: iam,
            }
        } else {
            S3Credentials {
                access_key_id: id,
                secret_access_key: secret,
                inherit_from_iam_role: None,
            }
        },
        wal: Compression {
            compression: "gzip",
        },
        data: Compression {
            compression: "gzip",
        },
    }
}

/// The Vault references behind the keys of the Secrets the object reads, as annotations.
fn secret_annotations(env: &Environment, w: &Workload<'_>, store: &StorageBackend) -> Labels {
    let mut a = Labels::new();
    let (owner, _) = postgres::owner_and_database(store);
    if let Some(password) = store.secrets.get(postgres::PASSWORD_SECRET) {
        let secret = postgres::app_secret(&w.name);
        a.insert(
            format!("deaap.io/secret.{secret}.username"),
            owner.to_owned(),
        );
        a.insert(
            format!("deaap.io/secret.{secret}.password"),
            password.to_string(),
        );
    }
    if env.backup.enabled {
        let secret = postgres::backup_secret(&w.name);
        for k in [ACCESS_KEY_ID, SECRET_ACCESS_KEY] {
            if let Some(r) = env.backup.secrets.get(k) {
                a.insert(format!("deaap.io/secret.{secret}.{k}"), r.to_string());
            }
        }
    }
    a
}

fn cluster_meta(
    env: &Environment,
    w: &Workload<'_>,
    store: &StorageBackend,
    name: &str,
) -> ObjectMeta {
    let mut m = meta(env, name, Some(&w.namespace), w.component);
    let a = secret_annotations(env, w, store);
    m.annotations = (!a.is_empty()).then_some(a);
    m
}

/// The spec every `Cluster` of the store shares: instances, image, pod metadata, resources,
/// storage and anti-affinity (required across nodes in production, preferred elsewhere).
fn spec(
    env: &Environment,
    w: &Workload<'_>,
    persistence: &Persistence,
    bootstrap: Bootstrap,
) -> ClusterSpec {
    ClusterSpec {
        instances: w.replicas,
        image_name: env.image_ref(w.image),
        image_pull_policy: env.images.pull_policy.as_str(),
        inherited_metadata: InheritedMetadata {
            labels: pod_labels(env, w),
            annotations: pod_annotations(w),
        },
        resources: resources(w.resources),
        storage: StorageSpec {
            size: persistence.size.to_string(),
            storage_class: persistence.storage_class.clone(),
        },
        affinity: Affinity {
            enable_pod_anti_affinity: true,
            topology_key: "kubernetes.io/hostname",
            pod_anti_affinity_type: if env.environment.tier == Tier::Production {
                "required"
            } else {
                "preferred"
            },
        },
        bootstrap,
        backup: None,
        external_clusters: Vec::new(),
    }
}

fn persistence<'a>(
    w: &Workload<'_>,
    store: &'a StorageBackend,
) -> Result<&'a Persistence, TargetError> {
    store
        .persistence
        .as_ref()
        .filter(|p| p.enabled)
        .ok_or_else(|| TargetError(format!("{} has no persistence", w.describe())))
}

/// The store's `Cluster`: a new database owned by the model's user, archiving its WAL and base
/// backups to the bucket (kept `backup.retention_days`) when backups are on.
///
/// # Errors
/// A store without persistence (validation refuses it first).
pub fn cluster(
    env: &Environment,
    w: &Workload<'_>,
    store: &StorageBackend,
) -> Result<Object, TargetError> {
    let mut s = spec(
        env,
        w,
        persistence(w, store)?,
        Bootstrap {
            initdb: Some(database(w, store)),
            recovery: None,
        },
    );
    s.backup = env.backup.enabled.then(|| BackupSpec {
        barman_object_store: object_store(env, &w.name),
        retention_policy: postgres::retention_policy(env.backup.retention_days),
    });
    CLUSTER.object(cluster_meta(env, w, store, &w.name), s)
}

/// The `ScheduledBackup` of the database backup `job` (named as the `CronJob` it replaces) on
/// `schedule`, in the operator's six-field form.
///
/// # Errors
/// None in practice: the object serializes.
pub fn scheduled_backup(
    env: &Environment,
    w: &Workload<'_>,
    job: &str,
    schedule: &crate::model::Schedule,
) -> Result<Object, TargetError> {
    SCHEDULED_BACKUP.object(
        meta(env, job, Some(&w.namespace), "backup"),
        ScheduledBackupSpec {
            cluster: LocalRef {
                name: w.name.clone(),
            },
            schedule: postgres::operator_schedule(schedule),
            method: "barmanObjectStore",
            backup_owner_reference: "self",
            immediate: true,
        },
    )
}

/// The recovery `Cluster` ([`postgres::restore_cluster`]): the store's shape, bootstrapped from
/// its latest base backup and WAL in the bucket (the store as an external cluster), with the same
/// database, owner and credentials.
///
/// # Errors
/// A store without persistence (validation refuses it first).
pub fn recovery(
    env: &Environment,
    w: &Workload<'_>,
    store: &StorageBackend,
) -> Result<Object, TargetError> {
    let name = postgres::restore_cluster(&w.name);
    let mut s = spec(
        env,
        w,
        persistence(w, store)?,
        Bootstrap {
            initdb: None,
            recovery: Some(Recovery {
                source: w.name.clone(),
                database: database(w, store),
            }),
        },
    );
    s.external_clusters = vec![ExternalCluster {
        name: w.name.clone(),
        barman_object_store: object_store(env, &w.name),
    }];
    CLUSTER.object(cluster_meta(env, w, store, &name), s)
}
