//! Alertmanager's configuration from `[monitoring.alertmanager]`: the route tree (severity and
//! business unit, in the model's order), the receivers with their credentials read from files of
//! the mounted receivers Secret, the inhibitions the service graph implies and the grouping. One
//! document, written as `alertmanager/alertmanager.yaml` and as kube-prometheus-stack's
//! `alertmanager.config`, so both are the same configuration.

use crate::model::{Alertmanager, Environment, NULL_RECEIVER, ReceiverKind};
use crate::plan::alerting;
use serde::Serialize;
use std::collections::BTreeMap;

/// The Secret the Vault sync fills with the receivers' credentials; kube-prometheus-stack mounts
/// it into Alertmanager (`alertmanagerSpec.secrets`) at [`SECRETS_DIR`]`/<secret>/`.
pub const RECEIVERS_SECRET: &str = "deaap-alertmanager-receivers";

/// Where the prometheus-operator mounts the Secrets an Alertmanager lists.
pub const SECRETS_DIR: &str = "/etc/alertmanager/secrets";

/// The label that names an alert's business unit (the KPI metrics' label).
pub const BUSINESS_UNIT_LABEL: &str = "bu_name";

/// The alert kube-prometheus-stack's default rules fire all the time, to show the pipeline works.
const WATCHDOG: &str = "Watchdog";

/// An Alertmanager configuration file (the fields deaap-gen writes).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    pub global: Global,
    pub route: Route,
    pub inhibit_rules: Vec<InhibitRule>,
    pub receivers: Vec<Receiver>,
    /// Empty, so the chart's default template list does not merge in.
    pub templates: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Global {
    pub resolve_timeout: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Route {
    pub receiver: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub matchers: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_wait: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat_interval: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
}

impl Route {
    fn leaf(receiver: &str, matchers: Vec<String>) -> Self {
        Self {
            receiver: receiver.to_owned(),
            matchers,
            group_by: Vec::new(),
            group_wait: None,
            group_interval: None,
            repeat_interval: None,
            routes: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InhibitRule {
    pub source_matchers: Vec<String>,
    pub target_matchers: Vec<String>,
    pub equal: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Receiver {
    pub name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slack_configs: Vec<Slack>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pagerduty_configs: Vec<Pagerduty>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub email_configs: Vec<Email>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub webhook_configs: Vec<Webhook>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slack {
    pub send_resolved: bool,
    pub api_url_file: String,
    pub channel: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pagerduty {
    pub send_resolved: bool,
    pub routing_key_file: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Email {
    pub send_resolved: bool,
    pub to: String,
    pub from: String,
    pub smarthost: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_password_file: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Webhook {
    pub send_resolved: bool,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_config: Option<HttpConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpConfig {
    pub authorization: Authorization,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Authorization {
    pub credentials_file: String,
}

/// The key of a receiver's credential in [`RECEIVERS_SECRET`].
#[must_use]
pub fn secret_key(receiver: &str, field: &str) -> String {
    format!("{receiver}.{field}")
}

/// The file Alertmanager reads a receiver's credential from.
#[must_use]
pub fn secret_file(receiver: &str, field: &str) -> String {
    format!(
        "{SECRETS_DIR}/{RECEIVERS_SECRET}/{}",
        secret_key(receiver, field)
    )
}

/// Every credential of the receivers: the key in [`RECEIVERS_SECRET`] and its reference, sorted.
#[must_use]
pub fn secret_references(am: &Alertmanager) -> BTreeMap<String, String> {
    am.receivers
        .iter()
        .flat_map(|(name, r)| {
            r.secrets
                .iter()
                .map(move |(field, reference)| (secret_key(name, field), reference.to_string()))
        })
        .collect()
}

/// A matcher `label="value"`, with the value quoted as Alertmanager parses it.
fn matcher(label: &str, op: &str, value: &str) -> String {
    let quoted = value.replace('\\', "\\\\").replace('"', "\\\"");
    format!("{label}{op}\"{quoted}\"")
}

/// The configuration of an environment with `[monitoring.alertmanager]`; `workloads` as
/// [`crate::plan::workloads`] gives them.
#[must_use]
pub fn config(
    env: &Environment,
    am: &Alertmanager,
    workloads: &[crate::plan::Workload<'_>],
) -> Config {
    let mut routes = vec![Route::leaf(
        NULL_RECEIVER,
        vec![matcher("alertname", "=", WATCHDOG)],
    )];
    for r in &am.routes {
        let mut matchers = Vec::new();
        if let Some(s) = r.severity {
            matchers.push(matcher("severity", "=", s.as_str()));
        }
        if let Some(bu) = &r.business_unit {
            matchers.push(matcher(BUSINESS_UNIT_LABEL, "=", bu));
        }
        routes.push(Route::leaf(&r.receiver, matchers));
    }
    let route = Route {
        receiver: am.default_receiver.clone(),
        matchers: Vec::new(),
        group_by: am.group_by.clone(),
        group_wait: Some(am.group_wait.clone()),
        group_interval: Some(am.group_interval.clone()),
        repeat_interval: Some(am.repeat_interval.clone()),
        routes,
    };
    let inhibit_rules = if am.inhibit_dependents {
        alerting::inhibitions(env, workloads)
            .into_iter()
            .map(|(down, targets)| InhibitRule {
                source_matchers: vec![matcher("alertname", "=", down)],
                target_matchers: vec![matcher(
                    "alertname",
                    "=~",
                    &targets.into_iter().collect::<Vec<_>>().join("|"),
                )],
                equal: vec![BUSINESS_UNIT_LABEL.to_owned()],
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut receivers = vec![receiver(NULL_RECEIVER)];
    receivers.extend(am.receivers.iter().map(|(name, r)| {
        let file = |field: &str| {
            r.secrets
                .contains_key(field)
                .then(|| secret_file(name, field))
        };
        let setting = |key: &str| r.setting(key).unwrap_or_default().to_owned();
        let mut out = receiver(name);
        let send_resolved = r.send_resolved;
        match r.kind {
            ReceiverKind::Slack => out.slack_configs.push(Slack {
                send_resolved,
                api_url_file: secret_file(name, "api_url"),
                channel: setting("channel"),
            }),
            ReceiverKind::Pagerduty => out.pagerduty_configs.push(Pagerduty {
                send_resolved,
                routing_key_file: secret_file(name, "routing_key"),
            }),
            ReceiverKind::Email => out.email_configs.push(Email {
                send_resolved,
                to: setting("to"),
                from: setting("from"),
                smarthost: setting("smarthost"),
                auth_username: r.auth_username.clone(),
                auth_password_file: file("auth_password"),
            }),
            ReceiverKind::Webhook => out.webhook_configs.push(Webhook {
                send_resolved,
                url: setting("url"),
                http_config: file("bearer_token").map(|credentials_file| HttpConfig {
                    authorization: Authorization { credentials_file },
                }),
            }),
        }
        out
    }));
    Config {
        global: Global {
            resolve_timeout: "5m",
        },
        route,
        inhibit_rules,
        receivers,
        templates: Vec::new(),
    }
}

fn receiver(name: &str) -> Receiver {
    Receiver {
        name: name.to_owned(),
        slack_configs: Vec::new(),
        pagerduty_configs: Vec::new(),
        email_configs: Vec::new(),
        webhook_configs: Vec::new(),
    }
}

/// kube-prometheus-stack's `alertmanager` values: the configuration, and the receivers' Secret
/// mounted into the Alertmanager pods, whose annotations name each key's reference for the Vault
/// sync (`deaap.io/secret.<Secret>.<key>: vault:<path>#<key>`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Values {
    pub alertmanager_spec: Spec,
    pub config: Config,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_metadata: Option<PodMetadata>,
}

#[derive(Debug, Serialize)]
pub struct PodMetadata {
    pub annotations: BTreeMap<String, String>,
}

/// The `alertmanager` values of an environment with `[monitoring.alertmanager]`; `workloads` as
/// [`crate::plan::workloads`] gives them.
#[must_use]
pub fn values(
    env: &Environment,
    am: &Alertmanager,
    workloads: &[crate::plan::Workload<'_>],
) -> Values {
    let references = secret_references(am);
    let annotations: BTreeMap<String, String> = references
        .into_iter()
        .map(|(key, r)| (format!("deaap.io/secret.{RECEIVERS_SECRET}.{key}"), r))
        .collect();
    Values {
        alertmanager_spec: Spec {
            secrets: if annotations.is_empty() {
                Vec::new()
            } else {
                vec![RECEIVERS_SECRET]
            },
            pod_metadata: (!annotations.is_empty()).then_some(PodMetadata { annotations }),
        },
        config: config(env, am, workloads),
    }
}
