//! Security posture, backups and the audit policy.

use super::{CpuMemory, Image, NamespaceKey, Quantity, Resources, Schedule, SecretRef};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Security {
    /// Default-deny NetworkPolicies per namespace plus the allows the model implies.
    pub network_policies: bool,
    /// Pod Security Admission level enforced on every DEAAP namespace. (PodSecurityPolicy was
    /// removed in Kubernetes 1.25; this replaces the seed's `podSecurityPolicies`.)
    pub pod_security: PodSecurityLevel,
    /// A different Pod Security Admission level for one namespace, with the reason: for a
    /// namespace whose upstream components need more than `pod_security` allows (the monitoring
    /// chart's node exporter reads the host's network, processes and filesystem).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_security_overrides: BTreeMap<NamespaceKey, PodSecurityOverride>,
    /// Istio mutual TLS mode between workloads.
    #[serde(default = "default_mtls")]
    pub mtls: MtlsMode,
    /// Istio sidecar injection. Without it, mutual TLS settings protect nothing.
    #[serde(default)]
    pub mesh: Mesh,
    /// TLS on the public gateway (a cert-manager Certificate).
    pub gateway_tls: GatewayTls,
    pub vault: Vault,
    pub falco: Falco,
    pub opa: Opa,
    /// Accepted findings of the Kubernetes posture scan, each with a reason; rendered as checkov
    /// skip annotations on the objects they concern.
    #[serde(default)]
    pub waivers: Vec<Waiver>,
}

/// A namespace's own Pod Security Admission level (`[security.pod_security_overrides.<ns>]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PodSecurityOverride {
    pub level: PodSecurityLevel,
    /// Why this namespace needs its own level; written next to the label it sets.
    pub reason: String,
}

impl Security {
    /// The Pod Security Admission level enforced in a namespace: its override, else
    /// `pod_security`.
    #[must_use]
    pub fn pod_security_of(&self, ns: NamespaceKey) -> PodSecurityLevel {
        self.pod_security_overrides
            .get(&ns)
            .map_or(self.pod_security, |o| o.level)
    }
}

/// The Istio data plane (`[security.mesh]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mesh {
    /// Label the core, blockchain and storage namespaces for Istio sidecar injection. The
    /// monitoring namespace stays outside the mesh: Prometheus scrapes Istio's plaintext
    /// merged-metrics port. Under restricted Pod Security the Istio CNI node agent is required.
    #[serde(default)]
    pub sidecar_injection: bool,
    /// Requests and limits of the injected `istio-proxy` container; a small default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_resources: Option<Resources>,
    /// The cluster's Istio runs the CNI node agent, which sets up each pod's traffic redirection:
    /// the injector then adds the unprivileged `istio-validation` init container instead of
    /// `istio-init` (root with `NET_ADMIN` and `NET_RAW`, which restricted and baseline Pod Security
    /// refuse).
    #[serde(default)]
    pub cni: bool,
    /// The image of the injected `istio-proxy` (and its init container), below `images.registry`
    /// (`sidecar.istio.io/proxyImage`); pin it like every other image. Without it the injector
    /// pulls Istio's upstream image, which the allowed-registries policy refuses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_image: Option<Image>,
}

impl Mesh {
    /// Whether workloads of a namespace get a sidecar.
    #[must_use]
    pub fn meshed(&self, ns: NamespaceKey) -> bool {
        self.sidecar_injection && ns != NamespaceKey::Monitoring
    }

    /// The sidecar's resources when injection is on.
    #[must_use]
    pub fn proxy(&self) -> Option<Resources> {
        self.sidecar_injection.then(|| {
            self.proxy_resources.clone().unwrap_or_else(|| Resources {
                requests: CpuMemory {
                    cpu: Quantity::known("50m"),
                    memory: Quantity::known("64Mi"),
                },
                limits: CpuMemory {
                    cpu: Quantity::known("200m"),
                    memory: Quantity::known("128Mi"),
                },
            })
        })
    }
}

fn default_mtls() -> MtlsMode {
    MtlsMode::Strict
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PodSecurityLevel {
    Privileged,
    Baseline,
    Restricted,
}

impl PodSecurityLevel {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Privileged => "privileged",
            Self::Baseline => "baseline",
            Self::Restricted => "restricted",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MtlsMode {
    Strict,
    Permissive,
    Disable,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GatewayTls {
    pub enabled: bool,
    /// cert-manager issuer of the gateway certificate.
    pub issuer: String,
    #[serde(default = "default_issuer_kind")]
    pub issuer_kind: String,
}

fn default_issuer_kind() -> String {
    "ClusterIssuer".to_owned()
}

/// HashiCorp Vault: where secret references are resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Vault {
    pub enabled: bool,
    pub address: String,
    /// Vault Kubernetes-auth role the agent injector logs in with.
    pub role: String,
    /// TLS on Vault's listener. `false` is the seed's `tls_disable = 1`; refused in production.
    pub tls: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<VaultStorage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<VaultSeal>,
    /// The image of the injected Vault agent, below `images.registry`
    /// (`vault.hashicorp.com/agent-image`); pin it like every other image. Without it the
    /// injector pulls HashiCorp's upstream image, which the allowed-registries policy refuses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_image: Option<Image>,
}

impl Vault {
    /// The TCP port of `address`.
    #[must_use]
    pub fn port(&self) -> u16 {
        Self::port_of(&self.address)
    }

    /// The TCP port of a Vault address: the one written, else the scheme's (443 for https, 80
    /// for http).
    #[must_use]
    pub fn port_of(address: &str) -> u16 {
        let (scheme, rest) = address.split_once("://").unwrap_or(("https", address));
        let authority = rest.split('/').next().unwrap_or(rest);
        authority
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or(if scheme == "http" { 80 } else { 443 })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VaultStorage {
    /// Storage backend type, e.g. `consul`.
    pub kind: String,
    pub address: String,
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VaultSeal {
    /// Seal type, e.g. `gcpckms`.
    pub kind: String,
    pub project: String,
    pub region: String,
    pub key_ring: String,
    pub crypto_key: String,
}

/// Falco runtime-security rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Falco {
    pub enabled: bool,
    /// The DEAAP data directory inside containers, e.g. `/app/data`.
    pub data_path: String,
    /// Extra process names allowed to read the data directory, beyond services with
    /// `data_access = true`.
    #[serde(default)]
    pub extra_data_readers: Vec<String>,
    /// Which rules to generate.
    pub rules: FalcoRules,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(clippy::struct_excessive_bools)]
pub struct FalcoRules {
    pub unauthorized_data_access: bool,
    pub consensus_tampering: bool,
    pub shell_in_container: bool,
    pub write_below_etc: bool,
    pub consensus_outbound: bool,
}

/// OPA Gatekeeper admission policies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Opa {
    pub enabled: bool,
    pub enforcement: Enforcement,
    pub policies: OpaPolicies,
    /// Labels every workload must carry.
    #[serde(default)]
    pub required_labels: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Enforcement {
    Deny,
    Warn,
    Dryrun,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(clippy::struct_excessive_bools)]
pub struct OpaPolicies {
    pub require_limits: bool,
    pub non_root: bool,
    pub allowed_registries: bool,
    pub required_labels: bool,
    pub consensus_writers: bool,
}

/// An accepted posture-scan finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Waiver {
    /// Check id, e.g. `CKV_K8S_43`.
    pub check: String,
    /// Workloads it applies to (service names); all when empty.
    #[serde(default)]
    pub workloads: Vec<String>,
    pub reason: String,
}

/// Scheduled backups (`[backup]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    pub enabled: bool,
    pub image: Image,
    /// Five-field cron schedule of the full backup, e.g. `0 2 * * *`.
    pub schedule: Schedule,
    #[serde(rename = "type")]
    pub kind: BackupType,
    /// Object-storage bucket.
    pub bucket: String,
    pub retention_days: u32,
    /// Name of the backup job and of its process (Falco lets it read the data directory).
    #[serde(default = "default_backup_name")]
    pub name: String,
    /// The application data's PersistentVolumeClaim (`[data]` describes it): the data services
    /// mount it, the full backup archives it and the data restore fills it.
    pub data_claim: String,
    /// Database backups (PostgreSQL dump, Redis RDB, blockchain state), by name.
    #[serde(default)]
    pub databases: BTreeMap<String, DatabaseBackup>,
    /// Credentials for the bucket, as secret references.
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretRef>,
    /// The backup and restore jobs' container resources; the environment's defaults when absent.
    /// They count against the quota of the namespace a job runs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackupType {
    Full,
    Incremental,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatabaseBackup {
    /// What is dumped: a storage backend name, or `blockchain`.
    pub source: String,
    pub schedule: Schedule,
    /// The command run by the backup container. Empty for the blockchain nodes: deaap-gen writes
    /// the command that archives a node's data volume, which `backup/restore-blockchain.yaml`
    /// reads back.
    #[serde(default)]
    pub command: Vec<String>,
}

/// The Kubernetes audit policy (`[audit]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Audit {
    #[serde(default)]
    pub rules: Vec<AuditRule>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditRule {
    pub level: AuditLevel,
    /// Logical namespaces (keys of `[namespaces]`); all when empty.
    #[serde(default)]
    pub namespaces: Vec<super::NamespaceKey>,
    #[serde(default)]
    pub verbs: Vec<String>,
    #[serde(default)]
    pub resources: Vec<AuditResources>,
    /// Written reason for logging Secrets above `Metadata`; without it that is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_logging_reason: Option<String>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum AuditLevel {
    None,
    Metadata,
    Request,
    RequestResponse,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditResources {
    /// API group; `""` is the core group.
    pub group: String,
    pub resources: Vec<String>,
}

fn default_backup_name() -> String {
    "backup-service".to_owned()
}
