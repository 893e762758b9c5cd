//! The `grafana/` target: Grafana dashboards from the model's metrics, performance targets, SLOs
//! and alerts, for environments that run the monitoring stack.
//!
//! - `deaap-overview`: each performance target's current value against its alert threshold, each
//!   SLO's burn rate per window, and the DEAAP alerts firing now;
//! - `deaap-<component>`: one per workload that exposes `[metrics.*]` (rate, latency quantiles
//!   and error ratio for a histogram, rate for a counter, the value of a gauge).
//!
//! Each dashboard is written as `grafana/<uid>.json` (for review and for import by hand) and as a
//! `ConfigMap` in the monitoring namespace labelled `grafana_dashboard: "1"` with the folder in the
//! `grafana_folder` annotation (`grafana/dashboards.yaml`): kube-prometheus-stack's Grafana
//! sidecar loads it into the provider's folder. Uids and panel ids follow from names and model
//! order only, so a rebuild never changes a dashboard's identity.

mod dashboard;

use crate::model::{Environment, MetricDef, MetricType, NamespaceKey, STACK_EXPORTERS, Signal};
use crate::render;
use crate::targets::kit::slo::{self, PAGE, TICKET};
use crate::targets::kit::{self, DASHBOARD_LABEL, FOLDER_ANNOTATION, promql};
use crate::targets::{Artifact, Bytes, Context, Target, TargetError};
use dashboard::{Dashboard, PanelSpec, Step, Viz};
use k8s_openapi::api::core::v1::ConfigMap;
use std::collections::BTreeMap;

pub(super) struct Grafana;

/// Grafana refuses a uid longer than this.
const UID_MAX: usize = 40;
/// The quantiles a histogram's latency panel shows.
const QUANTILES: [f64; 3] = [0.5, 0.95, 0.99];

impl Target for Grafana {
    fn name(&self) -> &'static str {
        "grafana"
    }

    fn applies(&self, env: &Environment) -> bool {
        env.is_kubernetes() && env.monitoring.enabled
    }

    fn generate(&self, cx: &Context<'_>) -> Result<Vec<Artifact>, TargetError> {
        let env = cx.env;
        let mut out = Vec::new();
        let mut maps = Vec::new();
        for d in dashboards(env)? {
            let file = format!("{}.json", d.uid);
            let text = String::from_utf8(render::json_bytes(&d)?)
                .map_err(|e| TargetError(format!("dashboard JSON is not UTF-8: {e}")))?;
            let mut meta = kit::addon_meta(env, &d.uid, env.namespace(NamespaceKey::Monitoring));
            meta.labels
                .get_or_insert_with(BTreeMap::new)
                .insert(DASHBOARD_LABEL.0.to_owned(), DASHBOARD_LABEL.1.to_owned());
            let meta = kit::annotated(
                meta,
                FOLDER_ANNOTATION,
                &env.monitoring.grafana.dashboard_provider.folder,
            );
            let map = ConfigMap {
                metadata: meta,
                data: Some(BTreeMap::from([(file.clone(), text)])),
                ..ConfigMap::default()
            };
            let object = kit::object(&map)?;
            drop(map);
            // The file is the text the map's data holds, shared rather than held twice.
            let bytes = InMap::new(object.value().clone(), file.clone())?;
            maps.push(object);
            out.push(Artifact::shared_file(
                self.name(),
                format!("grafana/{file}"),
                Bytes::shared(std::sync::Arc::new(bytes)),
            ));
        }
        out.push(kit::manifest(
            cx,
            self.name(),
            "grafana/dashboards.yaml",
            maps,
        ));
        Ok(out)
    }
}

/// A dashboard's file: the text under its name in the data of its `ConfigMap` (the map as data).
struct InMap {
    map: render::Data,
    file: String,
}

impl InMap {
    fn new(map: render::Data, file: String) -> Result<Self, TargetError> {
        if map["data"][file.as_str()].as_str().is_none() {
            return Err(TargetError(format!(
                "the ConfigMap of dashboard {file} does not hold it"
            )));
        }
        Ok(Self { map, file })
    }
}

impl AsRef<[u8]> for InMap {
    fn as_ref(&self) -> &[u8] {
        // Found when made, and the data never changes.
        self.map["data"][self.file.as_str()]
            .as_str()
            .unwrap_or_default()
            .as_bytes()
    }
}

/// The overview, then one dashboard per exposing workload in name order.
fn dashboards(env: &Environment) -> Result<Vec<Dashboard>, TargetError> {
    let tags = vec!["deaap".to_owned(), env.environment.name.clone()];
    let mut out = vec![overview(env, &tags)?];
    let mut by_exposer: BTreeMap<&str, Vec<(&String, &MetricDef)>> = BTreeMap::new();
    for (name, m) in &env.metrics {
        if !STACK_EXPORTERS.contains(&m.exposed_by.as_str()) {
            by_exposer.entry(&m.exposed_by).or_default().push((name, m));
        }
    }
    // The SLOs are looked up for every histogram: listed once.
    let slos = slo::slos(env);
    for (exposer, metrics) in by_exposer {
        let mut specs = Vec::new();
        for (name, m) in metrics {
            specs.extend(metric_panels(&slos, name, m)?);
        }
        out.push(dashboard::dashboard(
            uid(exposer),
            format!("DEAAP / {exposer}"),
            format!("The metrics `{exposer}` exposes (generated from the environment model)."),
            tags.clone(),
            specs,
        ));
    }
    Ok(out)
}

fn overview(env: &Environment, tags: &[String]) -> Result<Dashboard, TargetError> {
    let mut specs = Vec::new();
    for t in &env.performance_targets {
        let a = &t.alert;
        let threshold = Some(a.threshold);
        let steps: Vec<Step> = match a.when {
            crate::model::Comparison::Above => vec![(None, "green"), (threshold, "red")],
            crate::model::Comparison::Below => vec![(None, "red"), (threshold, "green")],
        };
        let what = match a.signal {
            Signal::Quantile { quantile } => {
                format!("p{}", promql::number((quantile * 1e6).round() / 1e4)?)
            }
            Signal::Rate => "per second".to_owned(),
            Signal::Value | Signal::Up => "value".to_owned(),
        };
        let mut spec = PanelSpec::new(
            Viz::Stat,
            format!("{} {} ({what})", t.component, t.measure),
            signal_unit(env, &a.metric, a.signal),
        )
        .query(promql::signal_expr(a)?, what)
        .describe(format!(
            "Target {}; the alert `{}` fires {} {} for {}.",
            t.target,
            t.alert_name,
            match a.when {
                crate::model::Comparison::Above => "above",
                crate::model::Comparison::Below => "below",
            },
            promql::number(a.threshold)?,
            a.for_
        ));
        spec.steps = steps;
        specs.push(spec);
    }
    for d in slo::slos(env) {
        let budget = d.budget()?;
        let mut spec = PanelSpec::new(
            Viz::TimeSeries,
            format!("{} {}: SLO burn rate", d.target.component, d.target.measure),
            "none",
        )
        .describe(format!(
            "Error ratio over each window divided by the error budget {budget} (objective {} of \
             observations within {}s). 1 spends the budget exactly over {}; the page alert `{}` \
             needs 14.4 over 1h and 5m or 6 over 6h and 30m, the ticket alert `{}` 3 over 1d and \
             2h or 1 over 3d and 6h.",
            promql::number(d.slo.objective)?,
            promql::number(d.slo.threshold)?,
            crate::model::SLO_PERIOD,
            d.page_alert.clone(),
            d.ticket_alert.clone()
        ));
        for b in PAGE.iter().chain(TICKET.iter()) {
            spec = spec.query(format!("{} / {budget}", d.recorded(b.long)?), b.long);
        }
        spec.steps = vec![(None, "green"), (Some(1.0), "yellow"), (Some(6.0), "red")];
        specs.push(spec);
    }
    let alerts = alert_names(env);
    if !alerts.is_empty() {
        let names = promql::string_literal(&alerts.join("|"));
        let firing = format!("ALERTS{{alertstate=\"firing\",alertname=~{names}}}");
        let mut count = PanelSpec::new(Viz::Stat, "Firing DEAAP alerts", "short")
            .query(format!("count({firing}) or vector(0)"), "firing")
            .describe("How many of the generated alerts fire now.");
        count.steps = vec![(None, "green"), (Some(1.0), "red")];
        specs.push(count);
        specs.push(
            PanelSpec::new(Viz::Table, "Firing alerts", "short")
                .query(
                    format!("sum by (alertname, severity, slo) ({firing})"),
                    String::new(),
                )
                .describe("The generated alerts firing now, with their severity."),
        );
    }
    Ok(dashboard::dashboard(
        uid("overview"),
        "DEAAP overview".to_owned(),
        "Performance targets against their alert thresholds, SLO burn rates and firing alerts \
         (generated from the environment model)."
            .to_owned(),
        tags.to_vec(),
        specs,
    ))
}

/// Every alert the generated rules hold: `[alerts.*]`, the performance targets', the SLOs'.
fn alert_names(env: &Environment) -> Vec<String> {
    let mut names: Vec<String> = env.alerts.keys().cloned().collect();
    names.extend(env.performance_targets.iter().map(|t| t.alert_name.clone()));
    for d in slo::slos(env) {
        names.push(d.page_alert.clone());
        names.push(d.ticket_alert.clone());
    }
    names
}

/// The panels of one metric, by its type.
fn metric_panels(
    slos: &[slo::SloDef<'_>],
    name: &str,
    m: &MetricDef,
) -> Result<Vec<PanelSpec>, TargetError> {
    let none = BTreeMap::new();
    let window = promql::RATE_WINDOW;
    let unit = value_unit(m);
    let mut out = Vec::new();
    match m.kind {
        MetricType::Histogram => {
            let bucket = promql::selector(&format!("{name}_bucket"), &none)?;
            let count = promql::selector(&format!("{name}_count"), &none)?;
            let mut latency = PanelSpec::new(Viz::TimeSeries, format!("{name}: quantiles"), unit)
                .describe(m.description.clone());
            for q in QUANTILES {
                let p = format!("p{}", promql::number(q * 100.0)?);
                latency = latency.query(
                    format!(
                        "histogram_quantile({}, sum by (le) (rate({bucket}[{window}])))",
                        promql::number(q)?
                    ),
                    p,
                );
            }
            out.push(latency);
            out.push(
                PanelSpec::new(Viz::TimeSeries, format!("{name}: rate"), "ops")
                    .query(format!("sum(rate({count}[{window}]))"), "per second")
                    .describe(format!("Observations per second: {}", m.description)),
            );
            for d in slos.iter().filter(|d| d.target.alert.metric == name) {
                let mut errors = PanelSpec::new(
                    Viz::TimeSeries,
                    format!(
                        "{name}: error ratio (slower than {}s)",
                        promql::number(d.slo.threshold)?
                    ),
                    "percentunit",
                )
                .describe(format!(
                    "Share of observations above the SLO threshold ({}), against the error budget.",
                    d.target.target
                ));
                for w in ["5m", "1h"] {
                    errors = errors.query(d.recorded(w)?, w);
                }
                errors.steps = vec![(None, "green"), (Some(1.0 - d.slo.objective), "red")];
                out.push(errors);
            }
        }
        MetricType::Counter => {
            let series = promql::selector(name, &none)?;
            out.push(
                PanelSpec::new(Viz::TimeSeries, format!("{name}: rate"), "ops")
                    .query(format!("sum(rate({series}[{window}]))"), "per second")
                    .describe(m.description.clone()),
            );
            if m.labels.iter().any(|l| l == "status") {
                out.push(
                    PanelSpec::new(Viz::TimeSeries, format!("{name}: rate by status"), "ops")
                        .query(
                            format!("sum by (status) (rate({series}[{window}]))"),
                            "{{status}}",
                        )
                        .describe("Failures show as their own status."),
                );
            }
        }
        MetricType::Gauge => {
            out.push(
                PanelSpec::new(Viz::TimeSeries, name.to_owned(), unit)
                    .query(promql::selector(name, &none)?, legend(m))
                    .describe(m.description.clone()),
            );
        }
    }
    Ok(out)
}

/// A gauge's legend: its labels, or the pod it comes from.
fn legend(m: &MetricDef) -> String {
    let labels: Vec<String> = if m.labels.is_empty() {
        vec!["{{pod}}".to_owned()]
    } else {
        m.labels.iter().map(|l| format!("{{{{{l}}}}}")).collect()
    };
    labels.join(" ")
}

/// Grafana's unit for a metric's values.
fn value_unit(m: &MetricDef) -> &'static str {
    match m.unit.as_deref() {
        Some("seconds") => "s",
        Some("ratio") => "percentunit",
        _ => "short",
    }
}

/// Grafana's unit for an alert signal on `metric`.
fn signal_unit(env: &Environment, metric: &str, signal: Signal) -> &'static str {
    match (signal, env.metrics.get(metric)) {
        (Signal::Rate, _) => "ops",
        (Signal::Quantile { .. } | Signal::Value, Some(m)) => value_unit(m),
        _ => "short",
    }
}

/// `deaap-<name>` in lower case, letters, digits and `-`; a name too long for Grafana's uid is
/// cut and ends in a hash of the whole, so distinct names keep distinct uids.
fn uid(name: &str) -> String {
    let mut slug = String::from("deaap-");
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-').to_owned();
    if slug.len() <= UID_MAX {
        return slug;
    }
    // FNV-1a: stable across builds and platforms.
    let hash = slug.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{}-{:08x}", &slug[..UID_MAX - 9], hash & 0xffff_ffff)
}

#[cfg(test)]
mod tests;
