//! `runbooks/<Alert>.md`: one page per alert, written from the alert model — what it means, the
//! query, likely causes and first steps. The rules link each alert's page as
//! `runbook_url = <monitoring.runbook_base_url>/<Alert>.md`: publish the `runbooks/` folder of
//! the environment's output at that base (README "Runbooks").

use super::{NamedAlert, describe, promql};
use crate::model::{Alert, Comparison, Environment, MetricType, Signal};
use crate::plan;
use crate::targets::{Artifact, Context, TargetError};
use std::fmt::Write as _;

/// The page's file name below `runbooks/`, which its URL ends with.
pub(super) fn page_name(alert: &str) -> String {
    format!("{alert}.md")
}

pub(super) fn pages(
    cx: &Context<'_>,
    target: &'static str,
    alerts: &[NamedAlert<'_>],
) -> Result<Vec<Artifact>, TargetError> {
    let graph = plan::alerting::Graph::new(cx.env, cx.workloads());
    let inhibitions = graph.inhibitions();
    alerts
        .iter()
        .map(|a| {
            Ok(Artifact::file(
                target,
                format!("runbooks/{}", page_name(a.name)),
                page(cx, a, &graph, &inhibitions)?.into_bytes(),
            ))
        })
        .collect()
}

/// A page's first lines: the generated-file notice, the alert's name, its severity, rule group and
/// `for`.
pub(super) fn head(
    cx: &Context<'_>,
    name: &str,
    severity: &str,
    group: &str,
    for_: &str,
) -> String {
    let mut s = String::new();
    // Markdown has no comment line; an HTML comment is invisible when rendered.
    let header = crate::render::header(cx);
    let _ = writeln!(s, "<!-- {} -->", header.trim_start_matches("# ").trim_end());
    let _ = writeln!(s, "# {name}\n");
    let _ = writeln!(
        s,
        "Severity **{severity}**, rule group `{group}`, fires after the condition holds for \
         `{for_}`.\n"
    );
    s
}

fn page(
    cx: &Context<'_>,
    a: &NamedAlert<'_>,
    graph: &plan::alerting::Graph<'_>,
    inhibitions: &super::troubleshooting::Inhibitions<'_>,
) -> Result<String, TargetError> {
    let env = cx.env;
    let alert = a.alert;
    let mut s = head(cx, a.name, alert.severity.as_str(), a.group, &alert.for_);
    let _ = writeln!(s, "## What it means\n");
    let _ = writeln!(s, "{}\n", alert.summary);
    let description = match &alert.description {
        Some(d) => d.clone(),
        None => describe(env, alert)?,
    };
    let _ = writeln!(s, "{description}\n");
    let _ = writeln!(s, "## The query\n");
    let _ = writeln!(s, "```promql\n{}\n```\n", promql::alert_expr(alert)?);
    let source = source(env, &alert.metric);
    let _ = writeln!(s, "{source}\n");
    let _ = writeln!(s, "## Likely causes\n");
    for c in causes(alert.signal, alert.when) {
        let _ = writeln!(s, "- {c}");
    }
    let _ = writeln!(s, "\n## First steps\n");
    for step in first_steps(graph, alert) {
        let _ = writeln!(s, "1. {step}");
    }
    s.push_str(&super::troubleshooting::sections(
        env,
        graph,
        inhibitions,
        a.name,
        alert,
    ));
    Ok(s)
}

/// Where the series comes from, as the model states it.
fn source(env: &Environment, metric: &str) -> String {
    match env.metrics.get(metric) {
        Some(m) => format!(
            "`{metric}` is a {} ({}), exposed by `{}` and scraped by the `{}` job.",
            match m.kind {
                MetricType::Counter => "counter",
                MetricType::Gauge => "gauge",
                MetricType::Histogram => "histogram",
            },
            m.description,
            m.exposed_by,
            env.monitoring.scrape_job
        ),
        None => format!(
            "`{metric}` is Prometheus' scrape health of each target: 1 when the last scrape \
             succeeded, 0 when it failed."
        ),
    }
}

fn causes(signal: Signal, when: Comparison) -> Vec<&'static str> {
    match (signal, when) {
        (Signal::Up, _) => vec![
            "The pods are not running or not ready (crash loop, failed scheduling, evicted).",
            "The metrics endpoint fails or times out (the process is overloaded or hung).",
            "A NetworkPolicy or mesh change keeps Prometheus from reaching the metrics port.",
        ],
        (Signal::Quantile { .. }, _) => vec![
            "More load than the workload's replicas can serve (the autoscaler at its maximum, \
             or a quota capping it).",
            "A slow dependency: storage, the blockchain node or another service it calls.",
            "CPU throttling at the container's limit, or memory pressure.",
        ],
        (Signal::Rate | Signal::Value, Comparison::Below) => vec![
            "The producer is down or stalled, so the series stops growing.",
            "Upstream traffic dropped (gateway, routing or a client-side failure).",
            "A dependency rejects the work (validation failures, refused writes).",
        ],
        (Signal::Rate | Signal::Value, Comparison::Above) => vec![
            "A burst of load or a retry storm.",
            "A failing dependency making the work fail or pile up.",
            "A recent release changed behaviour: compare with the previous version.",
        ],
    }
}

fn first_steps(graph: &plan::alerting::Graph<'_>, alert: &Alert) -> Vec<String> {
    let workload = graph.subject(alert);
    let mut steps = vec![
        "Open the alert's query in Prometheus and find which series breach the threshold \
         (`namespace`, `pod` and `app` labels name the pod)."
            .to_owned(),
        "Check the target on Prometheus' Targets page: a target that is down makes this alert \
         meaningless until it is back."
            .to_owned(),
    ];
    if let Some(w) = workload {
        steps.push(format!(
            "`kubectl -n {} get pods -l app.kubernetes.io/name={}` and \
             `kubectl -n {} logs -l app.kubernetes.io/name={} --tail=200`.",
            w.namespace, w.name, w.namespace, w.name
        ));
        steps.push(format!(
            "Check recent changes: `kubectl -n {} rollout history` of `{}` and the Argo CD \
             application's last sync.",
            w.namespace, w.name
        ));
    }
    steps
}
