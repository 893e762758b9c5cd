//! The `prometheus/` target: the model's alerts and performance targets as a plain Prometheus
//! rules file (`rules.yaml`, for `promtool` and any Prometheus), the same groups as a
//! prometheus-operator `PrometheusRule` (`prometheusrule.yaml`, labelled for the Prometheus
//! `ruleSelector`), and a `promtool test rules` file (`rules.test.yaml`) proving that each alert
//! fires past its threshold and stays silent short of it; and a runbook page per alert
//! (`runbooks/<Alert>.md`), which each rule's `runbook_url` links; and the performance targets'
//! SLOs as recording rules and burn-rate alerts (`slo-rules.yaml`, [`slo`]).

mod rule_tests;
mod runbooks;
mod slo;
mod troubleshooting;

use crate::model::{Alert, Comparison, Environment, NamespaceKey, Signal, duration};
use crate::render;
use crate::targets::kit::{self, Kind, Object, promql};
use crate::targets::{Artifact, Context, Target, TargetError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub(super) struct Prometheus;

/// Group of the `[alerts.*]` table (the seed's `deaap.rules`).
pub(super) const ALERTS_GROUP: &str = "deaap.rules";
/// Group of the `[[performance_targets]]` rows.
pub(super) const TARGETS_GROUP: &str = "deaap.performance-targets";

impl Target for Prometheus {
    fn name(&self) -> &'static str {
        "prometheus"
    }

    fn applies(&self, env: &Environment) -> bool {
        env.is_kubernetes()
    }

    fn generate(&self, cx: &Context<'_>) -> Result<Vec<Artifact>, TargetError> {
        let alerts = named_alerts(cx.env)?;
        let file = rule_file(cx.env, &alerts)?;
        let mut out = vec![
            render::yaml_artifact(cx, self.name(), "prometheus/rules.yaml", &file)?,
            render::yaml_artifact(
                cx,
                self.name(),
                "prometheus/rules.test.yaml",
                &rule_tests::test_file(cx.env, &alerts, "rules.yaml")?,
            )?,
        ];
        out.extend(runbooks::pages(cx, self.name(), &alerts)?);
        out.extend(slo::artifacts(cx, self.name())?);
        // Without the monitoring stack there is no prometheus-operator to own the CRD.
        if cx.env.monitoring.enabled {
            out.push(kit::manifest(
                cx,
                self.name(),
                "prometheus/prometheusrule.yaml",
                vec![prometheus_rule(cx.env, file.groups)?],
            ));
        }
        Ok(out)
    }
}

/// A plain Prometheus rules file. The same structs parse it back in tests, with unknown fields
/// refused as Prometheus refuses them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RuleFile {
    pub groups: Vec<RuleGroup>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RuleGroup {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    pub rules: Vec<AlertRule>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AlertRule {
    pub alert: String,
    pub expr: String,
    #[serde(rename = "for")]
    pub for_: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

/// The prometheus-operator's rule object.
const PROMETHEUS_RULE: Kind = Kind::namespaced("monitoring.coreos.com/v1", "PrometheusRule");

/// The spec of a `PrometheusRule` (only the fields deaap-gen writes).
#[derive(Debug, Serialize)]
struct PrometheusRuleSpec {
    groups: Vec<RuleGroup>,
}

/// One alert of the model with its name and group: the `[alerts.*]` entries, then every
/// performance-target row.
pub(super) struct NamedAlert<'a> {
    pub name: &'a str,
    pub group: &'static str,
    pub alert: &'a Alert,
}

fn named_alerts(env: &Environment) -> Result<Vec<NamedAlert<'_>>, TargetError> {
    let out: Vec<NamedAlert<'_>> = crate::plan::alerting::alerts(env)
        .into_iter()
        .map(|a| NamedAlert {
            name: a.name,
            group: if a.target_row {
                TARGETS_GROUP
            } else {
                ALERTS_GROUP
            },
            alert: a.alert,
        })
        .collect();
    // promtool's unit tests select alerts by name, so a name used twice could not be tested.
    let mut seen = BTreeSet::new();
    for a in &out {
        if !seen.insert(a.name) {
            return Err(TargetError(format!(
                "alert name `{}` is used more than once (alerts and performance targets share one namespace)",
                a.name
            )));
        }
        duration::parse_ms(&a.alert.for_)?;
    }
    Ok(out)
}

fn rule_file(env: &Environment, alerts: &[NamedAlert<'_>]) -> Result<RuleFile, TargetError> {
    duration::parse_ms(&env.monitoring.evaluation_interval)?;
    let mut groups = Vec::new();
    for group in [ALERTS_GROUP, TARGETS_GROUP] {
        let rules = alerts
            .iter()
            .filter(|a| a.group == group)
            .map(|a| alert_rule(env, a))
            .collect::<Result<Vec<_>, _>>()?;
        if !rules.is_empty() {
            groups.push(RuleGroup {
                name: group.to_owned(),
                interval: Some(env.monitoring.evaluation_interval.clone()),
                rules,
            });
        }
    }
    Ok(RuleFile { groups })
}

fn alert_rule(env: &Environment, a: &NamedAlert<'_>) -> Result<AlertRule, TargetError> {
    Ok(AlertRule {
        alert: a.name.to_owned(),
        expr: promql::alert_expr(a.alert)?,
        for_: a.alert.for_.clone(),
        labels: alert_labels(env, a.alert),
        annotations: annotations(env, a)?
            .into_iter()
            .map(|(k, v)| (k, template_literal(&v)))
            .collect(),
    })
}

/// The labels every alert carries beyond those of its series: its `severity` and the
/// environment's business unit, which Alertmanager routes on.
fn alert_labels(env: &Environment, alert: &Alert) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("severity".to_owned(), alert.severity.as_str().to_owned()),
        (
            kit::alertmanager::BUSINESS_UNIT_LABEL.to_owned(),
            env.environment.business_unit.clone(),
        ),
    ])
}

/// An alert's annotations as the receiver should read them (before template escaping).
fn annotations(
    env: &Environment,
    a: &NamedAlert<'_>,
) -> Result<BTreeMap<String, String>, TargetError> {
    let mut out = BTreeMap::new();
    out.insert("summary".to_owned(), a.alert.summary.clone());
    let description = match &a.alert.description {
        Some(d) => d.clone(),
        None => describe(env, a.alert)?,
    };
    out.insert("description".to_owned(), description);
    if let Some(url) = runbook_url(env, a.name) {
        out.insert("runbook_url".to_owned(), url);
    }
    Ok(out)
}

/// `<monitoring.runbook_base_url>/<Alert>.md`, when the environment publishes runbooks.
fn runbook_url(env: &Environment, alert: &str) -> Option<String> {
    env.monitoring.runbook_base_url.as_ref().map(|base| {
        format!(
            "{}/{}",
            base.trim_end_matches('/'),
            runbooks::page_name(alert)
        )
    })
}

/// Prometheus expands annotations as Go templates. Model text is literal, so an opening `{{` is
/// written as a template action that prints it.
fn template_literal(text: &str) -> String {
    text.replace("{{", "{{ \"{{\" }}")
}

/// A description for an alert the model does not describe, saying what is measured and the limit.
fn describe(env: &Environment, alert: &Alert) -> Result<String, TargetError> {
    let series = promql::selector(&alert.metric, &alert.selector)?;
    let direction = match alert.when {
        Comparison::Above => "above",
        Comparison::Below => "below",
    };
    let limit = promql::number(alert.threshold)?;
    let limit = match env
        .metrics
        .get(&alert.metric)
        .and_then(|m| m.unit.as_deref())
    {
        Some("seconds") => format!("{limit}s"),
        Some("ratio") | None => limit,
        Some(unit) => format!("{limit} {unit}"),
    };
    let window = promql::RATE_WINDOW;
    let what = match alert.signal {
        Signal::Quantile { quantile } => format!(
            "The p{} of {series} over {window}",
            promql::number((quantile * 1e6).round() / 1e4)?
        ),
        Signal::Value => format!(
            "The {} of {series} across series",
            promql::value_aggregation(alert.when)
        ),
        Signal::Rate => format!("The per-second rate of {series} over {window}, summed,"),
        Signal::Up if alert.when == Comparison::Below && alert.threshold <= 1.0 => {
            return Ok(format!(
                "A scrape target of {series} has been down for {}.",
                alert.for_
            ));
        }
        Signal::Up => format!("The scrape health {series}"),
    };
    Ok(format!(
        "{what} has been {direction} {limit} for {}.",
        alert.for_
    ))
}

fn prometheus_rule(env: &Environment, groups: Vec<RuleGroup>) -> Result<Object, TargetError> {
    let mut meta = kit::addon_meta(env, "deaap-rules", env.namespace(NamespaceKey::Monitoring));
    // The ruleSelector labels are what makes Prometheus load the object; they win over the
    // standard ones.
    if let Some(labels) = meta.labels.as_mut() {
        labels.extend(env.monitoring.rule_labels.clone());
    }
    PROMETHEUS_RULE.object(meta, PrometheusRuleSpec { groups })
}

#[cfg(test)]
mod tests;
