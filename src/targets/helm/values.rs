//! `values.yaml` of the DEAAP umbrella chart. The seed's keys keep their seed shape
//! (`global.resources`, `docIngester.autoscaling`, `blockchain.persistence`, `consensus.testMode` /
//! `productionMode`, `security.*.enabled`); every other service gets the same shape under the
//! camelCase of its name, storage backends sit under `storage`, and `monitoring` summarises the
//! monitoring stack configured in `monitoring-values.yaml`.

use crate::model::{
    Autoscaling, ConsensusMode, CpuMemory, Environment, Image, Persistence, PodSecurityLevel,
    Resources,
};
use crate::targets::TargetError;
use serde::Serialize;
use std::collections::BTreeMap;

/// Top-level keys that are not services; a service whose camelCase name is one of these would
/// overwrite it.
pub(super) const RESERVED: [&str; 6] = [
    "global",
    "blockchain",
    "consensus",
    "storage",
    "security",
    "monitoring",
];

#[derive(Debug, Serialize)]
pub(super) struct Values {
    pub global: Global,
    /// Services by the camelCase of their name (`docIngester`, `apiGateway`, ...).
    #[serde(flatten)]
    pub services: BTreeMap<String, ServiceValues>,
    pub blockchain: BlockchainValues,
    pub consensus: ConsensusValues,
    pub storage: BTreeMap<String, StorageValues>,
    pub security: SecurityValues,
    pub monitoring: MonitoringSummary,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Global {
    pub environment: String,
    pub domain: String,
    pub image_registry: String,
    pub image_pull_policy: &'static str,
    pub namespaces: NamespaceValues,
    pub resources: ResourceValues,
}

#[derive(Debug, Serialize)]
pub(super) struct NamespaceValues {
    pub core: String,
    pub blockchain: String,
    pub storage: String,
    pub monitoring: String,
}

/// Requests and limits, memory first as in the seed.
#[derive(Debug, Serialize)]
pub(super) struct ResourceValues {
    pub requests: Quantities,
    pub limits: Quantities,
}

#[derive(Debug, Serialize)]
pub(super) struct Quantities {
    pub memory: String,
    pub cpu: String,
}

#[derive(Debug, Serialize)]
pub(super) struct ImageValues {
    pub repository: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ServiceValues {
    pub enabled: bool,
    pub image: ImageValues,
    pub namespace: String,
    pub port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    pub replica_count: u32,
    pub autoscaling: AutoscalingValues,
    /// Only when the service sets its own; otherwise `global.resources` apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceValues>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu: Option<u32>,
    pub metrics: MetricsValues,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AutoscalingValues {
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_replicas: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_replicas: Option<u32>,
    #[serde(
        rename = "targetCPUUtilizationPercentage",
        skip_serializing_if = "Option::is_none"
    )]
    pub target_cpu: Option<u8>,
    #[serde(
        rename = "targetMemoryUtilizationPercentage",
        skip_serializing_if = "Option::is_none"
    )]
    pub target_memory: Option<u8>,
}

#[derive(Debug, Serialize)]
pub(super) struct MetricsValues {
    pub scrape: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    pub path: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PersistenceValues {
    pub enabled: bool,
    pub size: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BlockchainValues {
    pub enabled: bool,
    pub image: ImageValues,
    pub port: u16,
    pub replica_count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceValues>,
    pub persistence: PersistenceValues,
    pub metrics_job: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ConsensusValues {
    pub validators: u32,
    /// The seed's staging key; present (and `true`) only in test mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_mode: Option<bool>,
    /// The seed's production key; present (and `true`) only in production mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub production_mode: Option<bool>,
    pub image: ImageValues,
    pub port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceValues>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StorageValues {
    pub enabled: bool,
    pub kind: &'static str,
    pub image: ImageValues,
    pub namespace: String,
    pub port: u16,
    pub replica_count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistence: Option<PersistenceValues>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceValues>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SecurityValues {
    pub network_policies: Toggle,
    /// The seed's key. `PodSecurityPolicy` was removed in Kubernetes 1.25; the chart enforces
    /// `podSecurityStandard` through Pod Security Admission instead, and this stays `true` while
    /// that level is stricter than `privileged`.
    pub pod_security_policies: Toggle,
    pub pod_security_standard: &'static str,
}

#[derive(Debug, Serialize)]
pub(super) struct Toggle {
    pub enabled: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MonitoringSummary {
    pub enabled: bool,
    pub namespace: String,
    pub scrape_job: String,
    pub retention: String,
    pub evaluation_interval: String,
    pub persistence: PersistenceValues,
}

/// `doc-ingester` → `docIngester`, `vector-db` → `vectorDb`.
#[must_use]
pub(super) fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '-' || c == '_' || c == '.' {
            upper = !out.is_empty();
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The values of one environment.
///
/// # Errors
/// Two services (or two storage backends) whose names give the same key, or a service whose key
/// is one of the chart's own top-level keys.
pub(super) fn values(env: &Environment) -> Result<Values, TargetError> {
    let mut services = BTreeMap::new();
    for (name, s) in &env.services {
        let key = camel_case(name);
        if RESERVED.contains(&key.as_str()) {
            return Err(TargetError(format!(
                "service `{name}` would be written under the Helm key `{key}`, which the chart uses for its own settings"
            )));
        }
        let entry = ServiceValues {
            enabled: s.enabled,
            image: image(&s.image),
            namespace: env.namespace(s.namespace).to_owned(),
            port: s.port,
            route: s.route.clone(),
            replica_count: s.replicas,
            autoscaling: autoscaling(s.autoscaling.as_ref()),
            resources: s.resources.as_ref().map(resources),
            gpu: (s.gpu > 0).then_some(s.gpu),
            metrics: MetricsValues {
                scrape: s.metrics.scrape,
                port: s.metrics.port,
                path: s.metrics.path.clone(),
            },
        };
        if services.insert(key.clone(), entry).is_some() {
            return Err(TargetError(format!(
                "two services map to the Helm key `{key}`"
            )));
        }
    }

    let mut storage = BTreeMap::new();
    for (name, b) in &env.storage {
        let key = camel_case(name);
        let entry = StorageValues {
            enabled: b.enabled,
            kind: storage_kind(b.kind),
            image: image(&b.image),
            namespace: env.namespace(b.namespace).to_owned(),
            port: b.port,
            replica_count: b.replicas,
            persistence: b.persistence.as_ref().map(persistence),
            resources: b.resources.as_ref().map(resources),
            database: b.database.clone(),
        };
        if storage.insert(key.clone(), entry).is_some() {
            return Err(TargetError(format!(
                "two storage backends map to the Helm key `storage.{key}`"
            )));
        }
    }

    let bc = &env.blockchain;
    let cs = &env.consensus;
    let mon = &env.monitoring;
    Ok(Values {
        global: Global {
            environment: env.environment.name.clone(),
            domain: env.environment.domain.clone(),
            image_registry: env.images.registry.clone(),
            image_pull_policy: env.images.pull_policy.as_str(),
            namespaces: NamespaceValues {
                core: env.namespaces.core.clone(),
                blockchain: env.namespaces.blockchain.clone(),
                storage: env.namespaces.storage.clone(),
                monitoring: env.namespaces.monitoring.clone(),
            },
            resources: resources(&env.defaults.resources),
        },
        services,
        blockchain: BlockchainValues {
            enabled: bc.enabled,
            image: image(&bc.image),
            port: bc.port,
            replica_count: bc.replicas,
            resources: bc.resources.as_ref().map(resources),
            persistence: persistence(&bc.persistence),
            metrics_job: bc.metrics_job.clone(),
        },
        consensus: ConsensusValues {
            validators: cs.validators,
            test_mode: (cs.mode == ConsensusMode::Test).then_some(true),
            production_mode: (cs.mode == ConsensusMode::Production).then_some(true),
            image: image(&cs.image),
            port: cs.port,
            resources: cs.resources.as_ref().map(resources),
        },
        storage,
        security: SecurityValues {
            network_policies: Toggle {
                enabled: env.security.network_policies,
            },
            pod_security_policies: Toggle {
                enabled: env.security.pod_security != PodSecurityLevel::Privileged,
            },
            pod_security_standard: env.security.pod_security.as_str(),
        },
        monitoring: MonitoringSummary {
            enabled: mon.enabled,
            namespace: env.namespaces.monitoring.clone(),
            scrape_job: mon.scrape_job.clone(),
            retention: mon.retention.clone(),
            evaluation_interval: mon.evaluation_interval.clone(),
            persistence: persistence(&mon.storage),
        },
    })
}

fn image(i: &Image) -> ImageValues {
    ImageValues {
        repository: i.repository.clone(),
        tag: i.tag.clone(),
        digest: i.digest.clone(),
    }
}

fn quantities(q: &CpuMemory) -> Quantities {
    Quantities {
        memory: q.memory.to_string(),
        cpu: q.cpu.to_string(),
    }
}

fn resources(r: &Resources) -> ResourceValues {
    ResourceValues {
        requests: quantities(&r.requests),
        limits: quantities(&r.limits),
    }
}

fn persistence(p: &Persistence) -> PersistenceValues {
    PersistenceValues {
        enabled: p.enabled,
        size: p.size.to_string(),
        storage_class: p.storage_class.clone(),
    }
}

fn autoscaling(a: Option<&Autoscaling>) -> AutoscalingValues {
    match a {
        Some(a) => AutoscalingValues {
            enabled: a.enabled,
            min_replicas: Some(a.min_replicas),
            max_replicas: Some(a.max_replicas),
            target_cpu: a.cpu_percent,
            target_memory: a.memory_percent,
        },
        None => AutoscalingValues {
            enabled: false,
            min_replicas: None,
            max_replicas: None,
            target_cpu: None,
            target_memory: None,
        },
    }
}

fn storage_kind(k: crate::model::StorageKind) -> &'static str {
    match k {
        crate::model::StorageKind::Redis => "redis",
        crate::model::StorageKind::Postgresql => "postgresql",
        crate::model::StorageKind::VectorDb => "vector-db",
    }
}
