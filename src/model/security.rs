//! Security posture, backups and the audit policy.

use super::{CpuMemory, Image, NamespaceKey, Quantity, Resources, Schedule, SecretRef};
#[cfg(test)]
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
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
    /// HashiCorp Vault, which resolves every `vault:` secret reference.
    pub vault: Vault,
    /// Falco runtime-security rules.
    pub falco: Falco,
    /// OPA Gatekeeper admission policies.
    pub opa: Opa,
    /// Accepted findings of the Kubernetes posture scan, each with a reason; rendered as checkov
    /// skip annotations on the objects they concern.
    #[serde(default)]
    pub waivers: Vec<Waiver>,
}

/// A namespace's own Pod Security Admission level (`[security.pod_security_overrides.<ns>]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PodSecurityOverride {
    /// The Pod Security Admission level of this namespace: `privileged`, `baseline` or
    /// `restricted`.
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MtlsMode {
    Strict,
    Permissive,
    Disable,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct GatewayTls {
    /// Whether the public gateway serves TLS with a cert-manager certificate (required in
    /// production).
    pub enabled: bool,
    /// cert-manager issuer of the gateway certificate.
    pub issuer: String,
    /// The issuer's kind: `ClusterIssuer` or `Issuer`.
    #[serde(default = "default_issuer_kind")]
    pub issuer_kind: String,
}

fn default_issuer_kind() -> String {
    "ClusterIssuer".to_owned()
}

/// HashiCorp Vault: where secret references are resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Vault {
    /// Whether secrets are injected by the Vault agent (required when any secret reference is
    /// `vault:`).
    pub enabled: bool,
    /// Vault's address, e.g. `https://vault.deaap.company.com:8200`; its port is opened in the
    /// NetworkPolicies.
    pub address: String,
    /// Vault Kubernetes-auth role the agent injector logs in with.
    pub role: String,
    /// TLS on Vault's listener. `false` is the seed's `tls_disable = 1`; refused in production.
    pub tls: bool,
    /// Vault's storage backend (documentation of the Vault deployment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<VaultStorage>,
    /// Vault's auto-unseal key (documentation of the Vault deployment).
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct VaultStorage {
    /// Storage backend type, e.g. `consul`.
    pub kind: String,
    /// The storage backend's address.
    pub address: String,
    /// The path Vault keeps its data under in the backend.
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct VaultSeal {
    /// Seal type, e.g. `gcpckms`.
    pub kind: String,
    /// The cloud project of the seal key.
    pub project: String,
    /// The region of the seal key.
    pub region: String,
    /// The key ring of the seal key.
    pub key_ring: String,
    /// The seal key's name.
    pub crypto_key: String,
}

/// Falco runtime-security rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Falco {
    /// Whether Falco rules are generated.
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
#[allow(clippy::struct_excessive_bools)]
pub struct FalcoRules {
    /// Alert when a process other than the data readers opens a file below `data_path`.
    pub unauthorized_data_access: bool,
    /// Alert when a validator's binaries or configuration are written to.
    pub consensus_tampering: bool,
    /// Alert when a shell starts in a DEAAP container.
    pub shell_in_container: bool,
    /// Alert when a DEAAP container writes below `/etc`.
    pub write_below_etc: bool,
    /// Alert when a validator connects outside the cluster.
    pub consensus_outbound: bool,
}

/// OPA Gatekeeper admission policies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Opa {
    /// Whether the Gatekeeper ConstraintTemplates and Constraints (and the plain Rego bundle) are
    /// generated.
    pub enabled: bool,
    /// What a violation does: `deny` (refused at admission), `warn` (admitted with a warning) or
    /// `dryrun` (only audited).
    pub enforcement: Enforcement,
    /// Which policies to generate.
    pub policies: OpaPolicies,
    /// Labels every workload must carry.
    #[serde(default)]
    pub required_labels: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Enforcement {
    Deny,
    Warn,
    Dryrun,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
#[allow(clippy::struct_excessive_bools)]
pub struct OpaPolicies {
    /// Every container sets CPU and memory limits above zero, and requests within them.
    pub require_limits: bool,
    /// Every pod meets the Pod Security Standards' restricted profile (non-root, no privilege
    /// escalation, seccomp, no host namespaces).
    pub non_root: bool,
    /// Every image comes from `images.registry`.
    pub allowed_registries: bool,
    /// Every workload carries `opa.required_labels`.
    pub required_labels: bool,
    /// Only `consensus.writer_service` may write `deaap.io` consensus validations.
    pub consensus_writers: bool,
}

/// An accepted posture-scan finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Waiver {
    /// Check id, e.g. `CKV_K8S_43`.
    pub check: String,
    /// Workloads it applies to (service names); all when empty.
    #[serde(default)]
    pub workloads: Vec<String>,
    /// Why the finding is accepted; written into the skip annotation.
    pub reason: String,
}

/// Scheduled backups (`[backup]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Backup {
    /// Whether the backup jobs are generated.
    pub enabled: bool,
    /// The backup container image, below `images.registry`.
    pub image: Image,
    /// Five-field cron schedule of the full backup, e.g. `0 2 * * *`.
    pub schedule: Schedule,
    /// `full` or `incremental` backups of the data volume.
    #[serde(rename = "type")]
    pub kind: BackupType,
    /// Object-storage bucket.
    pub bucket: String,
    /// How many days backups are kept in the bucket.
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum BackupType {
    Full,
    Incremental,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DatabaseBackup {
    /// What is dumped: a storage backend name, or `blockchain`.
    pub source: String,
    /// Five-field cron schedule of this backup, e.g. `30 2 * * *`.
    pub schedule: Schedule,
    /// The command run by the backup container. Left out where deaap-gen writes it: a Redis
    /// store's dump (`redis-cli --rdb` from the primary, loaded back by
    /// `backup/restore-<name>.yaml`), a PostgreSQL store's (`pg_dump`, restored by `pg_restore`;
    /// with `replication = "cloudnative-pg"` the operator's `ScheduledBackup`) and the blockchain
    /// nodes' (an archive of a node's data volume, read back by
    /// `backup/restore-blockchain.yaml`); every other source needs one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
}

/// The Kubernetes audit policy (`[audit]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Audit {
    /// The audit policy's rules, in order: the first rule that matches a request decides its level.
    #[serde(default)]
    pub rules: Vec<AuditRule>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AuditRule {
    /// How much of a matching request is logged: `None`, `Metadata`, `Request` or
    /// `RequestResponse`.
    pub level: AuditLevel,
    /// Logical namespaces (keys of `[namespaces]`); all when empty.
    #[serde(default)]
    pub namespaces: Vec<super::NamespaceKey>,
    /// API verbs the rule matches (`create`, `update`, `patch`, `delete`, ...); all when empty.
    #[serde(default)]
    pub verbs: Vec<String>,
    /// API groups and resources the rule matches; all when empty.
    #[serde(default)]
    pub resources: Vec<AuditResources>,
    /// Written reason for logging Secrets above `Metadata`; without it that is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_logging_reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
pub enum AuditLevel {
    None,
    Metadata,
    Request,
    RequestResponse,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AuditResources {
    /// API group; `""` is the core group.
    pub group: String,
    /// Resource names (plural, e.g. `deployments`, `consensusvalidations`), optionally with a
    /// subresource (`pods/exec`).
    pub resources: Vec<String>,
}

fn default_backup_name() -> String {
    "backup-service".to_owned()
}
