//! Monitoring stack, KPI metric definitions, alerts and the performance-targets table.

use super::Persistence;
#[cfg(test)]
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// kube-prometheus-stack settings (`[monitoring]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Monitoring {
    /// Whether the monitoring stack's values, alert rules and runbooks are generated.
    #[serde(default = "crate::model::yes")]
    pub enabled: bool,
    /// Prometheus retention, e.g. `30d`.
    pub retention: String,
    /// Prometheus storage.
    pub storage: Persistence,
    /// Name of the scrape job that keeps pods annotated `prometheus.io/scrape: "true"`.
    pub scrape_job: String,
    /// Grafana's storage and dashboard provider.
    pub grafana: Grafana,
    /// Labels a Prometheus `ruleSelector` matches; put on the generated PrometheusRule.
    #[serde(default)]
    pub rule_labels: std::collections::BTreeMap<String, String>,
    /// Base URL of the runbooks; each alert gets `runbook_url = <base>/<alert name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook_base_url: Option<String>,
    /// Rule evaluation interval of the DEAAP rule group, e.g. `30s`.
    #[serde(default = "default_interval")]
    pub evaluation_interval: String,
    /// Alertmanager: receivers, routes by severity and business unit, grouping. Without it the
    /// chart's default configuration stays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alertmanager: Option<super::Alertmanager>,
}

fn default_interval() -> String {
    "1m".to_owned()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Grafana {
    /// Grafana's data volume.
    pub persistence: Persistence,
    /// The dashboard provider Grafana loads the DEAAP dashboards from.
    pub dashboard_provider: DashboardProvider,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DashboardProvider {
    /// The provider's name in Grafana, e.g. `deaap-dashboards`.
    pub name: String,
    /// The Grafana folder the dashboards appear in, e.g. `DEAAP`.
    pub folder: String,
    /// Where dashboards are read from inside the Grafana pod.
    pub path: String,
}

/// A custom metric definition (`[metrics.<name>]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct MetricDef {
    /// The Prometheus metric type: `counter`, `gauge` or `histogram`; it decides which alert
    /// signals fit.
    #[serde(rename = "type")]
    pub kind: MetricType,
    /// What the metric measures (the HELP text).
    pub description: String,
    /// The metric's label names, e.g. `["service", "status"]`.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Unit of the values: alert thresholds on this metric are written in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Who exposes the series: a service or storage key, `blockchain`, `consensus` (the
    /// validators), or an exporter kube-prometheus-stack runs (`kube-state-metrics`,
    /// `node-exporter`, `kubelet`). Alerts on the metric are proven against that workload's
    /// scrape configuration.
    pub exposed_by: String,
    /// A histogram's bucket boundaries (`le`), in the metric's unit, as the exposing code
    /// declares them. Optional; when given, an SLO threshold on the histogram must be one of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buckets: Vec<f64>,
}

/// The exporters kube-prometheus-stack runs and scrapes with its own monitors: a metric may be
/// `exposed_by` one of them.
pub const STACK_EXPORTERS: [&str; 3] = ["kube-state-metrics", "node-exporter", "kubelet"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
}

/// An alert (`[alerts.<AlertName>]`). Alerts are structured rather than raw PromQL so that
/// deaap-gen can write correct queries (quantiles over histogram buckets, rates over counters)
/// and a `promtool` unit test for each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Alert {
    /// What to compute.
    pub signal: Signal,
    /// The series: a declared metric, or `up` for `signal = "up"`.
    pub metric: String,
    /// Label matchers on the series, e.g. `{ job = "blockchain-node" }`.
    #[serde(default)]
    pub selector: std::collections::BTreeMap<String, String>,
    /// Fire when the signal is `above` or `below` the threshold.
    pub when: Comparison,
    /// Threshold in the metric's unit (seconds for durations, a ratio for rates, TPS, ...).
    pub threshold: f64,
    /// How long the condition must hold, e.g. `5m`.
    #[serde(rename = "for")]
    pub for_: String,
    /// `info`, `warning` or `critical`: the `severity` label Alertmanager routes on.
    pub severity: AlertSeverity,
    /// One line for the notification (the `summary` annotation).
    pub summary: String,
    /// More detail for the notification (the `description` annotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// How an alert reduces its series to one number.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Signal {
    /// `histogram_quantile(q, sum by (le) (rate(<metric>_bucket[window])))`.
    Quantile {
        /// The quantile, strictly between 0 and 1, e.g. `0.95` for the 95th percentile.
        quantile: f64,
    },
    /// The gauge's value, aggregated with `min` across series.
    Value,
    /// Per-second rate of a counter, summed across series.
    Rate,
    /// Scrape health: `up{selector}`; fires when a target is down.
    Up,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Comparison {
    Above,
    Below,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum AlertSeverity {
    Info,
    Warning,
    Critical,
}

impl AlertSeverity {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

/// One row of the performance-targets table (`[[performance_targets]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PerformanceTarget {
    /// Component, e.g. `Doc Ingester`.
    pub component: String,
    /// What is measured, e.g. `Processing Latency`.
    pub measure: String,
    /// The target as written in the table, e.g. `< 30s per PDF`.
    pub target: String,
    /// The alert raised at the table's alert threshold; its name is `alert_name`.
    pub alert_name: String,
    /// The alert raised at the table's alert threshold, as an `[alerts.*]` entry.
    pub alert: Alert,
    /// The row as a service-level objective on its latency histogram: SLO recording rules and
    /// multi-window, multi-burn-rate alerts. Only latency rows (a `quantile` alert on a
    /// histogram) have one: a throughput row has no good and bad events to count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<Slo>,
}

impl PerformanceTarget {
    /// The row's SLO name, `doc-ingester-processing-latency`: its component and measure in
    /// lower-case words joined by `-`; the `slo` label of its recorded series and alerts.
    #[must_use]
    pub fn slo_id(&self) -> String {
        self.words().join("-").to_lowercase()
    }

    /// The names of the row's SLO alerts: the page (fast burn) and the ticket (slow burn) alert,
    /// `DocIngesterProcessingLatencySloFastBurn` and `...SloSlowBurn`.
    #[must_use]
    pub fn slo_alert_names(&self) -> [String; 2] {
        let stem: String = self
            .words()
            .iter()
            .map(|w| {
                let mut c = w.chars();
                c.next().map_or_else(String::new, |f| {
                    f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase()
                })
            })
            .collect();
        [format!("{stem}SloFastBurn"), format!("{stem}SloSlowBurn")]
    }

    fn words(&self) -> Vec<&str> {
        [self.component.as_str(), self.measure.as_str()]
            .into_iter()
            .flat_map(|s| s.split(|c: char| !c.is_ascii_alphanumeric()))
            .filter(|w| !w.is_empty())
            .collect()
    }
}

/// A latency service-level objective (`performance_targets.slo`): the fraction of requests that
/// must finish within `threshold` over a 30-day period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// The fraction of events that must be good, strictly between 0 and 1, e.g. `0.99`; the
    /// error budget is `1 - objective`.
    pub objective: f64,
    /// The latency a good event stays within, in the metric's unit (seconds), e.g. `30` for
    /// `< 30s`: the histogram bucket `le` whose count is the good events. It must be a bucket
    /// boundary of the histogram and agree with the row's `target`.
    pub threshold: f64,
}

/// The period an SLO's error budget is spent over (the SRE workbook's and Sloth's default).
pub const SLO_PERIOD: &str = "30d";
