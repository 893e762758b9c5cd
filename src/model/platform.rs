//! Environment identity, namespaces, images and resources: what every workload shares.

use super::Quantity;
#[cfg(test)]
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// Environment name (DNS-1123 label); the output folder and the `deaap.io/environment` label.
    pub name: String,
    /// The environment's tier: `development`, `staging` or `production`. Production turns on the
    /// strictest checks (pinned images, TLS, Vault TLS, enforced policies).
    pub tier: Tier,
    /// Where the environment runs: `compose` (Docker Compose files) or `kubernetes` (Kubernetes
    /// objects, Helm values, Istio, policies, alerts).
    pub platform: PlatformKind,
    /// Public domain served by the gateway, e.g. `deaap.company.com`.
    pub domain: String,
    /// Business unit that owns the deployment (the `deaap.io/business-unit` label).
    pub business_unit: String,
    /// Kubernetes version targeted by the generated objects, e.g. `1.33`.
    #[serde(default = "default_kube_version")]
    pub kubernetes_version: String,
    /// The Argo CD cluster name the environment is deployed to (`in-cluster` when absent: the
    /// cluster Argo CD itself runs in). Two environments on one cluster must not share an object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

/// Argo CD's name of the cluster it runs in.
pub const IN_CLUSTER: &str = "in-cluster";

impl Identity {
    /// The cluster the environment is deployed to.
    #[must_use]
    pub fn cluster(&self) -> &str {
        self.cluster.as_deref().unwrap_or(IN_CLUSTER)
    }
}

fn default_kube_version() -> String {
    "1.33".to_owned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Development,
    Staging,
    Production,
}

impl Tier {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Development => "development",
            Tier::Staging => "staging",
            Tier::Production => "production",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum PlatformKind {
    /// Docker Compose on one machine.
    Compose,
    /// Kubernetes with Helm, Istio and the monitoring and security stack.
    Kubernetes,
}

/// The four DEAAP namespaces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Namespaces {
    /// Kubernetes namespace of the core services (gateway, ingestion, agents, consensus manager),
    /// e.g. `deaap-core`.
    pub core: String,
    /// Kubernetes namespace of the blockchain nodes, validators and Cartesi runtime, e.g. `deaap-
    /// blockchain`.
    pub blockchain: String,
    /// Kubernetes namespace of the storage backends and backup jobs, e.g. `deaap-storage`.
    pub storage: String,
    /// Kubernetes namespace of the monitoring stack (Prometheus, Grafana, Alertmanager), e.g.
    /// `deaap-monitoring`.
    pub monitoring: String,
}

/// A logical namespace: where a workload lives, independent of the environment's naming.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum NamespaceKey {
    Core,
    Blockchain,
    Storage,
    Monitoring,
}

impl NamespaceKey {
    pub const ALL: [NamespaceKey; 4] = [
        Self::Core,
        Self::Blockchain,
        Self::Storage,
        Self::Monitoring,
    ];

    /// The key named `name`, if one is.
    #[must_use]
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Core => "core",
            Self::Blockchain => "blockchain",
            Self::Storage => "storage",
            Self::Monitoring => "monitoring",
        }
    }
}

impl Namespaces {
    #[must_use]
    pub fn get(&self, key: NamespaceKey) -> &str {
        match key {
            NamespaceKey::Core => &self.core,
            NamespaceKey::Blockchain => &self.blockchain,
            NamespaceKey::Storage => &self.storage,
            NamespaceKey::Monitoring => &self.monitoring,
        }
    }

    /// `(key, name)` pairs in a stable order.
    pub fn iter(&self) -> impl Iterator<Item = (NamespaceKey, &str)> {
        NamespaceKey::ALL.into_iter().map(|k| (k, self.get(k)))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Images {
    /// Registry host (and optional path) prefixed to every image, e.g. `registry.deaap.company.com`.
    pub registry: String,
    /// Registries images may come from; enforced by the OPA policy. Defaults to `registry` alone.
    #[serde(default)]
    pub allowed_registries: Vec<String>,
    /// Image pull policy for every container.
    #[serde(default = "default_pull_policy")]
    pub pull_policy: PullPolicy,
}

fn default_pull_policy() -> PullPolicy {
    PullPolicy::IfNotPresent
}

impl Images {
    /// The allowed registries, defaulting to the one registry images are pulled from.
    #[must_use]
    pub fn allowed(&self) -> Vec<String> {
        if self.allowed_registries.is_empty() {
            vec![self.registry.clone()]
        } else {
            self.allowed_registries.clone()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
pub enum PullPolicy {
    Always,
    IfNotPresent,
    Never,
}

impl PullPolicy {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "Always",
            Self::IfNotPresent => "IfNotPresent",
            Self::Never => "Never",
        }
    }
}

/// An image: repository path in the environment's registry plus a tag or a digest (one of them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Image {
    /// Repository path below the registry, e.g. `deaap/doc-ingester`.
    pub repository: String,
    /// A tag, e.g. `1.4.2`. Production refuses `latest` and other moving tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// A content digest, e.g. `sha256:…`; wins over `tag` when both are set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

impl Image {
    /// `registry/repository:tag` or `registry/repository@digest`.
    #[must_use]
    pub fn reference(&self, registry: &str) -> String {
        let base = if registry.is_empty() {
            self.repository.clone()
        } else {
            format!("{}/{}", registry.trim_end_matches('/'), self.repository)
        };
        match (&self.digest, &self.tag) {
            (Some(d), _) => format!("{base}@{d}"),
            (None, Some(t)) => format!("{base}:{t}"),
            (None, None) => base,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Requests and limits of every container that does not set its own `resources`.
    pub resources: Resources,
}

/// Requests and limits of a container (Kubernetes quantities).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// What the scheduler reserves for the container: `cpu` and `memory` quantities.
    pub requests: CpuMemory,
    /// The most the container may use: `cpu` (throttled above) and `memory` (killed above); at
    /// least the requests.
    pub limits: CpuMemory,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CpuMemory {
    /// CPU quantity, e.g. `500m` or `1`.
    pub cpu: Quantity,
    /// Memory quantity, e.g. `1Gi`.
    pub memory: Quantity,
}

/// A persistent volume claim's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Persistence {
    /// Whether the data lives on a persistent volume claim (`false`: an ephemeral volume, lost with
    /// the pod).
    #[serde(default = "crate::model::yes")]
    pub enabled: bool,
    /// Volume size, e.g. `100Gi`.
    pub size: Quantity,
    /// Storage class; the cluster default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
}

/// The application data volume (`[data]`): one `PersistentVolumeClaim`, named by
/// `backup.data_claim`, that every service with `data_access = true` mounts at `path`, that the
/// full backup archives and that the data restore fills. Kubernetes only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Data {
    /// Volume size, e.g. `100Gi`.
    pub size: Quantity,
    /// Storage class; the cluster default when absent. With `ReadWriteMany` it must be a class
    /// whose volumes several nodes mount at once (NFS, `CephFS`, a cloud file store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    /// How the claim is shared. `ReadWriteMany` (the default): the data services' replicas and the
    /// backup job mount it from any node. `ReadWriteOnce` only where a single pod mounts it.
    #[serde(default)]
    pub access_mode: AccessMode,
    /// Where the data services and the backup and restore jobs mount it.
    #[serde(default = "default_data_path")]
    pub path: String,
    /// The logical namespace of the claim: the data services run there, and so do the full
    /// backup and the data restore (a pod mounts only claims of its own namespace).
    #[serde(default = "core_namespace")]
    pub namespace: NamespaceKey,
}

fn default_data_path() -> String {
    "/app/data".to_owned()
}

fn core_namespace() -> NamespaceKey {
    NamespaceKey::Core
}

/// A volume's access mode, as Kubernetes writes it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
pub enum AccessMode {
    /// Mounted read-write by pods on any number of nodes.
    #[default]
    ReadWriteMany,
    /// Mounted read-write by the pods of one node.
    ReadWriteOnce,
}

impl AccessMode {
    /// The mode as Kubernetes and the environment file write it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadWriteMany => "ReadWriteMany",
            Self::ReadWriteOnce => "ReadWriteOnce",
        }
    }
}

/// The resource quotas, by logical namespace. Iterated in the order of the keys' names, as they
/// are written (`blockchain`, `core`, `monitoring`, `storage`), which is the order of the
/// generated ResourceQuotas. A key that names no namespace is reported where it is written
/// (DG0122) and left out of the model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Quotas(BTreeMap<NamespaceKey, Quota>);

impl Quotas {
    /// Every quota with its namespace, by the namespace key's name.
    pub fn iter(&self) -> impl Iterator<Item = (NamespaceKey, &Quota)> {
        let mut v: Vec<(NamespaceKey, &Quota)> = self.0.iter().map(|(k, q)| (*k, q)).collect();
        v.sort_by_key(|(k, _)| k.as_str());
        v.into_iter()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A namespace's resource quota (`[quotas.<namespace-key>]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// The namespace's total CPU requests (`requests.cpu`), e.g. `20`.
    pub requests_cpu: Quantity,
    /// The namespace's total memory requests (`requests.memory`), e.g. `40Gi`.
    pub requests_memory: Quantity,
    /// The namespace's total CPU limits (`limits.cpu`), e.g. `40`.
    pub limits_cpu: Quantity,
    /// The namespace's total memory limits (`limits.memory`), e.g. `80Gi`.
    pub limits_memory: Quantity,
    /// How many persistent volume claims the namespace may hold.
    pub persistent_volume_claims: u32,
    /// How many pods the namespace may run (`count/pods`), sidecar-injected and autoscaled ones
    /// included.
    pub pods: u32,
    /// Why autoscaled workloads in this namespace may reach the quota before their
    /// `max_replicas` (the autoscaler is then capped). Without it deaap-gen warns (DG0113).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling_cap_reason: Option<String>,
}
