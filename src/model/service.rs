//! Application services, storage backends, blockchain nodes and consensus validators.

use super::{Image, NamespaceKey, Persistence, Resources, SecretRef};
#[cfg(test)]
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// serde default helper: `true`.
#[must_use]
pub fn yes() -> bool {
    true
}

/// An application service (`[services.<name>]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Whether the service is deployed in this environment (a layer may switch a base service off).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The container image, below `images.registry`: `{ repository = "deaap/api-gateway", tag =
    /// "1.8.0" }`.
    pub image: Image,
    /// Container port the service listens on; the Kubernetes Service `<name>-service` exposes it.
    pub port: u16,
    /// Logical namespace the service runs in.
    pub namespace: NamespaceKey,
    /// URI prefix routed to this service by the gateway, e.g. `/api/v1/documents`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// Replica count (the starting count when autoscaling).
    #[serde(default = "one")]
    pub replicas: u32,
    /// Horizontal pod autoscaling (Kubernetes); `replicas` is then the starting count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<Autoscaling>,
    /// The container's own resources; the environment's defaults when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// Plain environment variables. A name that looks like a secret must go to `secrets`.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Secret environment variables: name → reference `vault:<path>#<key>` (injected by the Vault
    /// agent on Kubernetes) or `file:<path>` / `env:<VAR>` (Compose secrets). Never a value.
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretRef>,
    /// NVIDIA GPUs the service needs.
    #[serde(default)]
    pub gpu: u32,
    /// Compose profiles the service belongs to (platform = compose).
    #[serde(default)]
    pub profiles: Vec<String>,
    /// A stand-in for a real service, for development only.
    #[serde(default)]
    pub mock: bool,
    /// Whether the service reads the DEAAP data directory (Falco allows only these processes there).
    #[serde(default)]
    pub data_access: bool,
    /// Host bind mounts for Compose, `host:container`.
    #[serde(default)]
    pub volumes: Vec<String>,
    /// HTTP path of the liveness and readiness probes.
    #[serde(default = "default_health_path")]
    pub health_path: String,
    /// Prometheus scraping of the service's metrics endpoint.
    #[serde(default)]
    pub metrics: Metrics,
    /// Storage backends and services this one connects to (network policy allows, Compose
    /// `depends_on`).
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Whether the pod needs a Kubernetes service-account token (only for services that call the
    /// Kubernetes API, such as the agent orchestrator).
    #[serde(default)]
    pub kubernetes_api_access: bool,
    /// Command override for the container.
    #[serde(default)]
    pub command: Vec<String>,
}

fn one() -> u32 {
    1
}

fn default_health_path() -> String {
    "/health".to_owned()
}

/// Horizontal pod autoscaling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Autoscaling {
    /// Whether the horizontal pod autoscaler is generated (a layer may switch it off).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The fewest replicas the autoscaler keeps.
    pub min_replicas: u32,
    /// The most replicas the autoscaler may run; the namespace quota must hold them (DG0113).
    pub max_replicas: u32,
    /// Target average CPU utilisation, percent of requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<u8>,
    /// Target average memory utilisation, percent of requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_percent: Option<u8>,
    /// A custom per-pod metric to scale on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods_metric: Option<PodsMetric>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PodsMetric {
    /// Metric name, e.g. `document_processing_queue_size`.
    pub name: String,
    /// Target average value per pod (a quantity), e.g. `10`.
    pub target_average: String,
}

/// Prometheus scraping of a workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    /// Annotate pods with `prometheus.io/scrape` so the `deaap-services` job keeps them.
    #[serde(default)]
    pub scrape: bool,
    /// Port of the metrics endpoint; the service port when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// HTTP path of the metrics endpoint.
    #[serde(default = "default_metrics_path")]
    pub path: String,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            scrape: false,
            port: None,
            path: default_metrics_path(),
        }
    }
}

fn default_metrics_path() -> String {
    "/metrics".to_owned()
}

/// A storage backend (`[storage.<name>]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct StorageBackend {
    /// Whether the backend is deployed in this environment (a layer may switch a base backend off).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The engine: `redis`, `postgresql` or `vector-db` (Qdrant).
    pub kind: StorageKind,
    /// The server image, below `images.registry`.
    pub image: Image,
    /// The port clients connect to, e.g. `6379` or `5432`.
    pub port: u16,
    /// Logical namespace the backend runs in.
    #[serde(default = "storage_ns")]
    pub namespace: NamespaceKey,
    /// Number of servers; above 1 needs a `replication` mode (DG0130).
    #[serde(default = "one")]
    pub replicas: u32,
    /// How the replicas of a store with `replicas > 1` keep one copy of the data: `sentinel`
    /// (Redis: a primary, replicas and Redis Sentinel for automatic failover) or `cloudnative-pg`
    /// (PostgreSQL: a CloudNativePG `Cluster`). `none`, the default, allows only one replica.
    #[serde(default)]
    pub replication: Replication,
    /// The server's own resources; the environment's defaults when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// The data volume of each server; ephemeral when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence: Option<Persistence>,
    /// Database name (PostgreSQL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// Secret environment variables, as for services.
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretRef>,
    /// Plain environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Prometheus scraping of the backend's own metrics endpoint (an engine with one, or an
    /// exporter container in the image).
    #[serde(default)]
    pub metrics: Metrics,
}

fn storage_ns() -> NamespaceKey {
    NamespaceKey::Storage
}

/// How a replicated store keeps its replicas in step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Replication {
    /// No replication: a single server.
    #[default]
    None,
    /// Redis: one primary, asynchronous replicas and Redis Sentinel electing a new primary.
    Sentinel,
    /// PostgreSQL: a CloudNativePG `Cluster` (streaming replication, automated failover).
    CloudnativePg,
}

impl Replication {
    /// The key's value as written in an environment file.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Sentinel => "sentinel",
            Self::CloudnativePg => "cloudnative-pg",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum StorageKind {
    Redis,
    Postgresql,
    VectorDb,
}

/// Blockchain nodes (`[blockchain]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Blockchain {
    /// Whether blockchain nodes are deployed in this environment.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The node image, below `images.registry`.
    pub image: Image,
    /// JSON-RPC port, e.g. 8545.
    pub port: u16,
    /// What the nodes answer on `port`: `ethereum` (Ethereum JSON-RPC: the health check calls
    /// `eth_blockNumber`) or `http` (the health check gets `health_path`).
    #[serde(default)]
    pub api: BlockchainApi,
    /// HTTP path the health check gets with `api = "http"`.
    #[serde(default = "default_health_path")]
    pub health_path: String,
    /// Number of blockchain nodes.
    #[serde(default = "one")]
    pub replicas: u32,
    /// The nodes' own resources; the environment's defaults when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// The chain data volume of each node.
    pub persistence: Persistence,
    /// Prometheus job name of the nodes (the `BlockchainNodeDown` alert watches `up{job=…}`).
    #[serde(default = "default_bc_job")]
    pub metrics_job: String,
    /// Prometheus scraping of the nodes' own metrics endpoint.
    #[serde(default)]
    pub metrics: Metrics,
}

/// The API a blockchain node serves on its port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum BlockchainApi {
    /// Ethereum JSON-RPC (`eth_blockNumber` answers while the node serves the chain).
    Ethereum,
    /// Plain HTTP with a health path.
    #[default]
    Http,
}

fn default_bc_job() -> String {
    "blockchain-node".to_owned()
}

/// Consensus validators (`[consensus]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Consensus {
    /// Number of validator pods (`bu-validator`).
    pub validators: u32,
    /// `test` (validators accept test transactions) or `production`.
    pub mode: ConsensusMode,
    /// The validator image, below `images.registry`.
    pub image: Image,
    /// The validators' port.
    #[serde(default = "default_validator_port")]
    pub port: u16,
    /// The validators' own resources; the environment's defaults when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// Service account allowed to write `deaap.io` consensus-validation resources.
    #[serde(default = "default_writer")]
    pub writer_service: String,
    /// Prometheus scraping of the validators' own metrics endpoint.
    #[serde(default)]
    pub metrics: Metrics,
}

fn default_validator_port() -> u16 {
    8770
}

fn default_writer() -> String {
    "consensus-manager".to_owned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum ConsensusMode {
    /// Test mode: validators accept test transactions (`consensus.testMode`).
    Test,
    /// Production mode (`consensus.productionMode`).
    Production,
}
