//! Where alerts go (`[monitoring.alertmanager]`: receivers, routes, grouping) and request tracing
//! through the mesh (`[tracing]`).

use super::{AlertSeverity, SecretRef};
#[cfg(test)]
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The generated receiver of kube-prometheus-stack's always-firing `Watchdog` alert: it notifies
/// no one. A receiver of the model cannot take the name.
pub const NULL_RECEIVER: &str = "null";

/// Alertmanager's configuration (`[monitoring.alertmanager]`): who is notified of which alert.
/// Every generated alert carries `severity` and `bu_name` (the environment's business unit)
/// labels, which the routes match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Alertmanager {
    /// Labels that put alerts into one notification, e.g. `["alertname", "namespace",
    /// "bu_name"]`.
    #[serde(default = "default_group_by")]
    pub group_by: Vec<String>,
    /// How long to wait for more alerts of a new group before notifying, e.g. `30s`.
    #[serde(default = "default_group_wait")]
    pub group_wait: String,
    /// How long to wait before notifying of new alerts in a group already notified, e.g. `5m`.
    #[serde(default = "default_group_interval")]
    pub group_interval: String,
    /// How long to wait before notifying again of an alert still firing, e.g. `4h`.
    #[serde(default = "default_repeat_interval")]
    pub repeat_interval: String,
    /// The receiver of alerts no route matches: a key of `receivers`.
    pub default_receiver: String,
    /// Where notifications go, by receiver name (DNS-1123 label).
    pub receivers: BTreeMap<String, Receiver>,
    /// Routes, tried in order: an alert goes to the first whose matchers all hold, else to
    /// `default_receiver`.
    #[serde(default)]
    pub routes: Vec<AlertRoute>,
    /// While a workload's down alert (an `up` alert) fires, the latency alerts (`quantile`
    /// signals) of the workloads that depend on it, directly or through others (`depends_on`),
    /// are inhibited: the cause is notified, not each symptom.
    #[serde(default = "crate::model::yes")]
    pub inhibit_dependents: bool,
}

fn default_group_by() -> Vec<String> {
    ["alertname", "namespace", "bu_name"]
        .map(str::to_owned)
        .to_vec()
}

fn default_group_wait() -> String {
    "30s".to_owned()
}

fn default_group_interval() -> String {
    "5m".to_owned()
}

fn default_repeat_interval() -> String {
    "4h".to_owned()
}

/// One route (`[[monitoring.alertmanager.routes]]`). A route without matchers catches every
/// alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AlertRoute {
    /// Match alerts of this `severity` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<AlertSeverity>,
    /// Match alerts of this business unit only (the `bu_name` label; generated alerts carry
    /// `environment.business_unit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_unit: Option<String>,
    /// The receiver matched alerts go to: a key of `receivers`.
    pub receiver: String,
}

/// Kinds of receiver deaap-gen writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum ReceiverKind {
    /// A Slack incoming webhook: `channel`, and `secrets.api_url` (the webhook URL).
    Slack,
    /// `PagerDuty`'s Events API v2: `secrets.routing_key` (the integration key).
    Pagerduty,
    /// Email: `to`, `from`, `smarthost`, optional `auth_username` and `secrets.auth_password`.
    Email,
    /// An HTTP endpoint: `url`, optional `secrets.bearer_token`.
    Webhook,
}

impl ReceiverKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::Pagerduty => "pagerduty",
            Self::Email => "email",
            Self::Webhook => "webhook",
        }
    }

    /// The `secrets` keys the kind takes, and whether each is required.
    #[must_use]
    pub fn secret_keys(self) -> &'static [(&'static str, bool)] {
        match self {
            Self::Slack => &[("api_url", true)],
            Self::Pagerduty => &[("routing_key", true)],
            Self::Email => &[("auth_password", false)],
            Self::Webhook => &[("bearer_token", false)],
        }
    }

    /// The plain settings the kind takes, and whether each is required.
    #[must_use]
    pub fn settings(self) -> &'static [(&'static str, bool)] {
        match self {
            Self::Slack => &[("channel", true)],
            Self::Pagerduty => &[],
            Self::Email => &[
                ("to", true),
                ("from", true),
                ("smarthost", true),
                ("auth_username", false),
            ],
            Self::Webhook => &[("url", true)],
        }
    }
}

/// One receiver (`[monitoring.alertmanager.receivers.<name>]`). Credentials are never values:
/// `secrets` holds Vault references, which the Vault sync puts into the Secret Alertmanager
/// mounts; the configuration reads them from files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Receiver {
    /// `slack`, `pagerduty`, `email` or `webhook`; it decides which other keys apply.
    pub kind: ReceiverKind,
    /// Slack: the channel, e.g. `#deaap-alerts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Email: the recipient address(es), comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Email: the sender address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Email: the SMTP server, `host:port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smarthost: Option<String>,
    /// Email: the SMTP user name (its password is `secrets.auth_password`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_username: Option<String>,
    /// Webhook: the endpoint URL (without credentials; a token goes to
    /// `secrets.bearer_token`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Whether resolved alerts are notified too.
    #[serde(default = "crate::model::yes")]
    pub send_resolved: bool,
    /// The receiver's credentials, by Alertmanager field (`api_url` for Slack, `routing_key` for
    /// `PagerDuty`, `auth_password` for email, `bearer_token` for a webhook): `vault:<path>#<key>`
    /// references, never values.
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretRef>,
}

impl Receiver {
    /// The plain setting named `key`, if the receiver has it.
    #[must_use]
    pub fn setting(&self, key: &str) -> Option<&str> {
        match key {
            "channel" => self.channel.as_deref(),
            "to" => self.to.as_deref(),
            "from" => self.from.as_deref(),
            "smarthost" => self.smarthost.as_deref(),
            "auth_username" => self.auth_username.as_deref(),
            "url" => self.url.as_deref(),
            _ => None,
        }
    }

    /// Every plain setting key a receiver can have.
    pub const SETTINGS: [&'static str; 6] =
        ["channel", "to", "from", "smarthost", "auth_username", "url"];
}

/// Request tracing through the Istio mesh (`[tracing]`): the sidecars report spans to a Jaeger
/// collector the platform runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Tracing {
    /// Whether the mesh reports spans.
    #[serde(default = "crate::model::yes")]
    pub enabled: bool,
    /// The percentage of requests traced, 0 to 100 (e.g. `100.0` in staging, `1.0` in
    /// production).
    #[cfg_attr(test, schemars(range(min = 0.0, max = 100.0)))]
    pub sampling: f64,
    /// The name of the tracing provider in the mesh configuration, e.g. `jaeger`.
    #[serde(default = "default_provider")]
    pub provider: String,
    /// How the sidecars send spans: `opentelemetry` (OTLP over gRPC) or `zipkin`.
    #[serde(default)]
    pub protocol: TracingProtocol,
    /// The Jaeger collector the spans go to (deaap-gen does not deploy it).
    pub collector: TraceCollector,
}

fn default_provider() -> String {
    "jaeger".to_owned()
}

/// The span protocol of the tracing provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum TracingProtocol {
    /// OTLP over gRPC (Jaeger's collector port 4317).
    #[default]
    Opentelemetry,
    /// Zipkin's JSON over HTTP (Jaeger's collector port 9411).
    Zipkin,
}

/// Where the Jaeger collector listens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TraceCollector {
    /// The collector's Kubernetes namespace, e.g. `observability`.
    pub namespace: String,
    /// The collector's Service name, e.g. `jaeger-collector`.
    pub service: String,
    /// The collector's port for the chosen protocol (4317 for OTLP gRPC, 9411 for Zipkin).
    pub port: u16,
}

impl TraceCollector {
    /// The Service's cluster DNS name.
    #[must_use]
    pub fn host(&self) -> String {
        format!("{}.{}.svc.cluster.local", self.service, self.namespace)
    }
}
