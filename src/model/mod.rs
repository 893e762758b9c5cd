//! The validated, typed model of one DEAAP environment: what every target reads. It is plain data
//! (`BTreeMap`/`Vec`, no I/O, no TOML types), deserialized from the merged environment tree after
//! schema validation. In the tests its types generate the JSON Schema the tool compiles in
//! (`src/validate/environment.schema.json`, from which `schema/deaap-environment.schema.json`).
//!
//! Keys are `snake_case`; maps keyed by name (`services`, `storage`, `metrics`, `alerts`, ...) are
//! `BTreeMap`s so that every target emits them in one stable order.

/// Deserialize (and, in the tests, `JsonSchema`) for a model type written as a string and parsed
/// by its `parse`: the environment file and the schema see a plain string, whose syntax the
/// validation step checks with a located diagnostic before the model is built.
macro_rules! parsed_from_string {
    ($t:ty) => {
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(d)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }

        #[cfg(test)]
        impl schemars::JsonSchema for $t {
            fn inline_schema() -> bool {
                true
            }

            fn schema_name() -> std::borrow::Cow<'static, str> {
                <String as schemars::JsonSchema>::schema_name()
            }

            fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                <String as schemars::JsonSchema>::json_schema(generator)
            }
        }
    };
}

mod alerting;
pub mod duration;
mod logging;
mod observability;
mod platform;
mod quantity;
mod schedule;
mod secret;
mod security;
mod service;

pub use alerting::*;
pub use logging::*;
pub use observability::*;
pub use platform::*;
pub use quantity::*;
pub use schedule::{CronError, Schedule};
pub use secret::*;
pub use security::*;
pub use service::*;

#[cfg(test)]
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One environment file after `extends` layering. Partials (such as `base.toml`) have no
/// `[environment]` table and are never compiled on their own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(
    test,
    schemars(
        title = "DEAAP environment",
        description = "A deaap-gen environment file: one typed model of a DEAAP deployment."
    )
)]
pub struct Environment {
    /// The JSON Schema of this file, for editors (`#:schema` comments work too).
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Another environment file this one layers on, relative to this file. Tables deep-merge;
    /// arrays and scalars replace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<String>,
    /// Identity of the environment. Required in every file that is compiled.
    pub environment: Identity,
    /// Logical namespace → Kubernetes namespace name.
    pub namespaces: Namespaces,
    /// Container registry and image policy.
    pub images: Images,
    /// Resources given to every container that does not set its own.
    pub defaults: Defaults,
    /// Application services, by name (DNS-1123).
    #[serde(default)]
    pub services: BTreeMap<String, Service>,
    /// Stateful storage backends (Redis, PostgreSQL, vector DB), by name.
    #[serde(default)]
    pub storage: BTreeMap<String, StorageBackend>,
    /// Blockchain nodes and their persistence.
    pub blockchain: Blockchain,
    /// Consensus validators.
    pub consensus: Consensus,
    /// Monitoring stack (kube-prometheus-stack and Grafana).
    pub monitoring: Monitoring,
    /// Custom metrics the services export (the KPIs), by metric name.
    #[serde(default)]
    pub metrics: BTreeMap<String, MetricDef>,
    /// Alerting rules, by alert name.
    #[serde(default)]
    pub alerts: BTreeMap<String, Alert>,
    /// The performance targets table; each row becomes an alert on its threshold.
    #[serde(default)]
    pub performance_targets: Vec<PerformanceTarget>,
    /// Request tracing through the mesh: sampling and the Jaeger collector (Kubernetes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<Tracing>,
    /// Security posture: network policies, pod security, Vault, Falco, OPA.
    pub security: Security,
    /// Scheduled backups.
    pub backup: Backup,
    /// The application data volume (Kubernetes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Data>,
    /// Kubernetes audit policy.
    #[serde(default)]
    pub audit: Audit,
    /// Log collection: the node collector and the Kafka topics it ships to (Kubernetes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<Logging>,
    /// Resource quotas, by logical namespace (a key of `namespaces`).
    #[serde(default)]
    #[cfg_attr(test, schemars(with = "BTreeMap<String, Quota>"))]
    pub quotas: Quotas,
    /// Diagnostics accepted on purpose, each on one key with a reason (and an optional expiry):
    /// shown as waived instead of failing or warning. A waiver whose diagnostic no longer fires
    /// there is an error (DG0131), so none outlives its reason unnoticed.
    #[serde(default)]
    pub waivers: Vec<DiagnosticWaiver>,
}

/// One accepted diagnostic (`[[waivers]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DiagnosticWaiver {
    /// The code waived, e.g. `DG0113`: a rule's or a proof's warning or error.
    pub code: String,
    /// The key it is waived on, as a dotted path through the merged environment, e.g.
    /// `services.doc-ingester.autoscaling.memory_percent` (array items by index:
    /// `performance_targets.0.alert`).
    pub key: String,
    /// Why the finding is accepted; shown with it.
    pub reason: String,
    /// The last day the waiver holds, `YYYY-MM-DD` (UTC); after it the diagnostic is reported
    /// again, with a warning that the waiver expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

impl Environment {
    /// The Kubernetes namespace name of a logical namespace key.
    #[must_use]
    pub fn namespace(&self, key: NamespaceKey) -> &str {
        self.namespaces.get(key)
    }

    /// Services that are deployed in this environment, in name order.
    pub fn enabled_services(&self) -> impl Iterator<Item = (&String, &Service)> {
        self.services.iter().filter(|(_, s)| s.enabled)
    }

    /// Storage backends that are deployed in this environment, in name order.
    pub fn enabled_storage(&self) -> impl Iterator<Item = (&String, &StorageBackend)> {
        self.storage.iter().filter(|(_, s)| s.enabled)
    }

    /// The full image reference of an image in this environment's registry.
    #[must_use]
    pub fn image_ref(&self, image: &Image) -> String {
        image.reference(&self.images.registry)
    }

    /// Resources of a container: its own, else the environment's defaults.
    #[must_use]
    pub fn resources_of<'a>(&'a self, own: Option<&'a Resources>) -> &'a Resources {
        own.unwrap_or(&self.defaults.resources)
    }

    /// The log collection settings when this environment collects logs (on Kubernetes, with
    /// `logging.enabled`).
    #[must_use]
    pub fn collected_logging(&self) -> Option<&Logging> {
        self.logging
            .as_ref()
            .filter(|l| l.enabled && self.is_kubernetes())
    }

    /// Whether this environment runs on Kubernetes.
    #[must_use]
    pub fn is_kubernetes(&self) -> bool {
        self.environment.platform == PlatformKind::Kubernetes
    }
}
