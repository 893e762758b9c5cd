//! Observability closure: every alert watches a series that exists. The proof reads the generated
//! pod templates, Namespaces and `PeerAuthentications`, and the Prometheus scrape configuration of
//! `helm/monitoring-values.yaml`; it applies what Istio's sidecar injector does to a pod's
//! `prometheus.io/*` annotations (metrics merging), runs the scrape job's relabelling on every pod
//! the way Prometheus' pod discovery would, and so knows every target Prometheus scrapes, with its
//! labels and port. Then, for every alert and performance target:
//!
//! - a metric's series comes from the workload its `exposed_by` names: that workload must run
//!   (DG0541), be a target (DG0540) scraped on its own container's port, not the sidecar's merged
//!   port (DG0542), which under STRICT mTLS must bypass the sidecar (DG0543);
//! - `up{…}` exists for the targets its selector matches (DG0540), and every selector label that
//!   is a target label must be one some target carries (DG0544);
//! - the runbook an alert links to is a generated page (DG0546), the SLO alerts' too.
//!
//! And every HPA's Pods metric is served by a prometheus-adapter rule over a scraped series of the
//! workload it scales (DG0545).

use super::{Proof, Subject, Summary};
use crate::load::Seg;
use crate::model::{Alert, Environment, STACK_EXPORTERS, Signal};
use crate::path;
use crate::plan::{self, Kind, Workload};
use crate::render::Data;
use crate::validate::Report;
use crate::validate::rules::DiagnosticExt;
use regex_lite::Regex;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

pub(super) const PROOF: Proof = Proof {
    name: "observability",
    run,
};

/// Istio's merged-metrics endpoint on the sidecar: the port and path its injector writes into
/// `prometheus.io/*` unless the pod opts out.
const MERGED_PORT: u16 = 15020;
const MERGED_PATH: &str = "/stats/prometheus";
const MERGE_METRICS: &str = "prometheus.istio.io/merge-metrics";
const EXCLUDE_INBOUND: &str = "traffic.sidecar.istio.io/excludeInboundPorts";
const NAME_LABEL: &str = "app.kubernetes.io/name";
const INJECT: &str = "sidecar.istio.io/inject";

/// A pod as the generated controllers create it.
#[derive(Debug)]
struct Pod {
    /// `app.kubernetes.io/name`: the workload.
    workload: String,
    namespace: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    /// Ports of the workload's own container.
    own_ports: Vec<u16>,
    /// Whether it runs behind a sidecar that accepts only mTLS.
    strict: bool,
}

/// One scrape target: the pod it is, its labels after relabelling, where it is scraped.
#[derive(Debug)]
struct Target<'p> {
    pod: &'p Pod,
    labels: BTreeMap<String, String>,
    port: Option<u16>,
    path: String,
}

impl Target<'_> {
    fn own_port(&self) -> bool {
        self.port.is_some_and(|p| self.pod.own_ports.contains(&p))
    }

    fn merged(&self) -> bool {
        self.port == Some(MERGED_PORT) && self.path == MERGED_PATH
    }
}

/// What the generated artifacts say about scraping.
struct World {
    pods: Vec<Pod>,
    /// Namespaces whose pods get the Istio sidecar.
    meshed: Vec<String>,
    /// Namespaces whose sidecars accept only mTLS.
    strict: Vec<String>,
    jobs: Vec<Job>,
    /// Paths of the generated files.
    files: std::collections::BTreeSet<String>,
    /// kube-prometheus-stack components the monitoring values switch off.
    disabled: Vec<String>,
    /// prometheus-adapter rules: (series metric, exposed custom metric name, series matchers).
    adapter: Vec<AdapterRule>,
    /// `runbook_url` annotations of the generated rules, by alert name.
    runbooks: BTreeMap<String, String>,
}

/// Everything the proof reads of the world, for the key of a kept outcome: all of it but the pod
/// annotations that neither the proof nor any scrape job reads (a checksum annotation that
/// changes with every edit of a workload's configuration, say). A job reads an annotation through
/// its relabelling: by its label name among a rule's source labels, or through a rule that
/// matches label names (`labelmap`, `labeldrop`, `labelkeep`).
impl std::hash::Hash for World {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut read: HashMap<&str, bool> = HashMap::new();
        self.pods.len().hash(state);
        for p in &self.pods {
            (&p.workload, &p.namespace, &p.labels, &p.own_ports, p.strict).hash(state);
            let mut annotations: Vec<(&String, &String)> = Vec::new();
            for (k, v) in &p.annotations {
                if *read
                    .entry(k.as_str())
                    .or_insert_with(|| self.reads_annotation(k))
                {
                    annotations.push((k, v));
                }
            }
            annotations.hash(state);
        }
        (&self.meshed, &self.strict, &self.jobs, &self.files).hash(state);
        (&self.disabled, &self.adapter, &self.runbooks).hash(state);
    }
}

#[derive(Hash)]
struct AdapterRule {
    series: String,
    matchers: BTreeMap<String, String>,
    name: String,
}

fn run(s: &Subject<'_>, report: &mut Report<'_>, summary: &mut Summary) {
    let env = s.env;
    if !env.is_kubernetes() {
        return;
    }
    let world = World::read(s);
    let plan = s.workloads;
    // A clean outcome kept for the same inputs is what proving them again would find.
    match inputs(env, plan) {
        Some(model) => super::kept::reuse_or_judge(
            "observability",
            &env.environment.name,
            (&world, model),
            report,
            &mut summary.alerts,
            |_, report, proven| prove(env, &world, plan, report, proven),
        ),
        None => prove(env, &world, plan, report, &mut summary.alerts),
    }
}

/// A workload of the plan as the proof knows it: kind, name, namespace, whether it runs.
type PlannedWorkload<'p> = (Kind, &'p str, &'p str, bool);

/// What the proof reads of the model besides the generated world: the monitoring settings, the
/// alerts, performance targets and metrics, the enabled services' autoscaling, and each workload
/// of the plan as the proof knows it (kind, name, namespace, whether it runs); `None` when the
/// model does not serialize (not expected), which keeps nothing.
fn inputs<'p>(
    env: &Environment,
    plan: &'p [Workload<'_>],
) -> Option<(super::kept::Key, Vec<PlannedWorkload<'p>>)> {
    let autoscaling: Vec<_> = env
        .enabled_services()
        .map(|(name, s)| (name, &s.autoscaling))
        .collect();
    let model = super::kept::digest(&(
        &env.monitoring,
        &env.alerts,
        &env.performance_targets,
        &env.metrics,
        autoscaling,
    ))?;
    let plan = plan
        .iter()
        .map(|w| (w.kind, w.name.as_str(), w.namespace.as_str(), w.deployed))
        .collect();
    Some((model, plan))
}

fn prove(
    env: &Environment,
    world: &World,
    plan: &[Workload<'_>],
    report: &mut Report<'_>,
    proven: &mut usize,
) {
    let targets = world.targets();
    let exposers = plan::exposers(plan);
    let mut by_workload: HashMap<(&str, &str), Vec<&Target<'_>>> = HashMap::new();
    for t in &targets {
        by_workload
            .entry((t.pod.workload.as_str(), t.pod.namespace.as_str()))
            .or_default()
            .push(t);
    }
    let scraped = Scraped {
        env,
        world,
        plan,
        targets: &targets,
        exposers,
        by_workload,
    };
    // Without the monitoring stack nothing scrapes, serves or evaluates: no alert is proven,
    // and an HPA's Pods metric has no source.
    let alerting = if env.monitoring.enabled {
        alerts(env)
    } else {
        Vec::new()
    };
    for (p, name, alert) in alerting {
        let series = match alert.signal {
            Signal::Up => prove_up(&targets, &p, name, alert, report),
            _ => prove_metric(&scraped, &p, name, alert, report),
        };
        let runbook = env
            .monitoring
            .runbook_base_url
            .as_ref()
            .is_none_or(|base| prove_runbook(world, base, &p, name, report));
        if series && runbook {
            *proven += 1;
        }
    }
    // The SLO burn-rate alerts of the performance targets link runbooks too.
    if let Some(base) = env
        .monitoring
        .runbook_base_url
        .as_ref()
        .filter(|_| env.monitoring.enabled)
    {
        for (i, t) in env.performance_targets.iter().enumerate() {
            if t.slo.is_some() {
                for name in t.slo_alert_names() {
                    let p = path!["performance_targets", i, "alert"];
                    prove_runbook(world, base, &p, &name, report);
                }
            }
        }
    }
    prove_autoscalers(&scraped, report);
}

/// Every alert with the model path of its table: `[alerts.*]`, then the performance targets' `alert`.
fn alerts(env: &Environment) -> Vec<(Vec<Seg>, &str, &Alert)> {
    let mut v: Vec<(Vec<Seg>, &str, &Alert)> = env
        .alerts
        .iter()
        .map(|(n, a)| (path!["alerts", n], n.as_str(), a))
        .collect();
    v.extend(env.performance_targets.iter().enumerate().map(|(i, t)| {
        (
            path!["performance_targets", i, "alert"],
            t.alert_name.as_str(),
            &t.alert,
        )
    }));
    v
}

/// `p` extended by `key`.
fn with(p: &[Seg], key: &str) -> Vec<Seg> {
    let mut v = p.to_vec();
    v.push(Seg::from(key));
    v
}

/// The target labels Prometheus itself attaches (not the series' own labels).
fn is_target_label(label: &str, targets: &[&Target<'_>]) -> bool {
    targets.iter().any(|t| t.labels.contains_key(label))
}

/// Proves an `up` alert; `true` when its series exists as it should.
fn prove_up(
    targets: &[Target<'_>],
    p: &[Seg],
    name: &str,
    alert: &Alert,
    report: &mut Report<'_>,
) -> bool {
    let matching: Vec<&Target<'_>> = targets
        .iter()
        .filter(|t| {
            alert
                .selector
                .iter()
                .all(|(k, v)| t.labels.get(k) == Some(v))
        })
        .collect();
    let series = selector_text("up", &alert.selector);
    if matching.is_empty() {
        let known: Vec<String> = targets
            .iter()
            .filter_map(|t| t.labels.get("job").cloned())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        report
            .error(
                "DG0540",
                with(p, "metric"),
                format!(
                    "alert `{name}` watches `{series}`, but no target the generated Prometheus \
                     configuration scrapes has those labels: the series never exists and the \
                     alert can never fire"
                ),
                "no such series",
            )
            .help(format!(
                "scrape the workload (its `metrics = {{ scrape = true, port = … }}`); the scraped \
                 jobs are: {}",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ));
        return false;
    }
    if let Some(t) = matching.iter().find(|t| !t.own_port()) {
        not_own_port(report, p, name, &series, t);
        return false;
    }
    if let Some(t) = matching.iter().find(|t| refused(t)) {
        refused_error(report, p, name, &series, t);
        return false;
    }
    true
}

/// What the metric and autoscaler proofs read: the model, the generated world, the workload plan
/// and the scrape targets.
struct Scraped<'a> {
    env: &'a Environment,
    world: &'a World,
    plan: &'a [Workload<'a>],
    targets: &'a [Target<'a>],
    /// The first workload of the plan that exposes each `exposed_by` name ([`plan::exposers`]).
    exposers: HashMap<&'a str, &'a Workload<'a>>,
    /// The scrape targets of each workload (name, namespace), in target order.
    by_workload: HashMap<(&'a str, &'a str), Vec<&'a Target<'a>>>,
}

/// Proves an alert on a declared metric; `true` when its series exists as it should.
fn prove_metric(
    cx: &Scraped<'_>,
    p: &[Seg],
    name: &str,
    alert: &Alert,
    report: &mut Report<'_>,
) -> bool {
    let (env, world) = (cx.env, cx.world);
    let Some(def) = env.metrics.get(&alert.metric) else {
        return false; // DG0121 reports it
    };
    let by = def.exposed_by.as_str();
    let series = selector_text(&alert.metric, &alert.selector);
    let exposed = report.span(path!["metrics", alert.metric.as_str(), "exposed_by"]);
    if STACK_EXPORTERS.contains(&by) {
        if world.disabled.iter().any(|d| d == by) {
            report
                .error(
                    "DG0541",
                    with(p, "metric"),
                    format!(
                        "alert `{name}` watches `{series}`, exposed by `{by}`, which the \
                         generated monitoring values switch off"
                    ),
                    "never scraped",
                )
                .also(exposed.clone(), "exposed here");
            return false;
        }
        return true;
    }
    let Some(w) = cx.exposers.get(by).copied() else {
        return false; // DG0126 reports it
    };
    if !w.deployed {
        report
            .error(
                "DG0541",
                with(p, "metric"),
                format!(
                    "alert `{name}` watches `{series}`, exposed by {}, which does not run in \
                     this environment: the series never exists",
                    w.describe()
                ),
                "no such series",
            )
            .also(exposed.clone(), "exposed here")
            .help(format!(
                "enable {} here, or remove the alert from this environment",
                w.describe()
            ));
        return false;
    }
    let own: &[&Target<'_>] = cx
        .by_workload
        .get(&(w.name.as_str(), w.namespace.as_str()))
        .map_or(&[], Vec::as_slice);
    if own.is_empty() {
        report
            .error(
                "DG0540",
                with(p, "metric"),
                format!(
                    "alert `{name}` watches `{series}`, exposed by {}, which the generated \
                     Prometheus configuration does not scrape: the series never exists and the \
                     alert can never fire",
                    w.describe()
                ),
                "never scraped",
            )
            .also(exposed.clone(), "exposed here")
            .help(format!(
                "scrape it: `metrics = {{ scrape = true, port = <its metrics port> }}` on {}",
                w.describe()
            ));
        return false;
    }
    if let Some(t) = own.iter().find(|t| !t.own_port()) {
        not_own_port(report, p, name, &series, t);
        return false;
    }
    if let Some(t) = own.iter().find(|t| refused(t)) {
        refused_error(report, p, name, &series, t);
        return false;
    }
    let mut proven = true;
    for (k, v) in &alert.selector {
        if def.labels.contains(k) || !is_target_label(k, own) {
            continue;
        }
        if !own.iter().any(|t| t.labels.get(k) == Some(v)) {
            let seen: Vec<&str> = own
                .iter()
                .filter_map(|t| t.labels.get(k).map(String::as_str))
                .collect();
            report
                .error(
                    "DG0544",
                    with(&with(p, "selector"), k),
                    format!(
                        "alert `{name}` selects `{k}=\"{v}\"`, but {}'s series carry `{k}` = {}",
                        w.describe(),
                        seen.join(", ")
                    ),
                    "matches no series",
                )
                .help(format!("select `{k}` = {}", seen.join(" or ")));
            proven = false;
        }
    }
    proven
}

/// Whether Prometheus, outside the mesh, is refused: the target's port is behind a sidecar that
/// accepts only mTLS (the merged-metrics port is never intercepted).
fn refused(t: &Target<'_>) -> bool {
    let Some(port) = t.port else { return false };
    t.pod.strict
        && port != MERGED_PORT
        && !t
            .pod
            .annotations
            .get(EXCLUDE_INBOUND)
            .is_some_and(|v| v.split(',').any(|p| p.trim() == port.to_string()))
}

fn not_own_port(report: &mut Report<'_>, p: &[Seg], name: &str, series: &str, t: &Target<'_>) {
    let port = t
        .port
        .map_or_else(|| "no port".to_owned(), |p| p.to_string());
    let via = if t.merged() {
        format!("Istio's merged-metrics port {MERGED_PORT} on the sidecar")
    } else {
        format!("port {port}, which is not a port of its own container")
    };
    report
        .error(
            "DG0542",
            with(p, "metric"),
            format!(
                "alert `{name}` watches `{series}`, which Prometheus scrapes from `{}` only \
                 through {via}: the series reports the sidecar, not the workload, and vanishes \
                 with the mesh",
                t.pod.workload
            ),
            "not the workload's own port",
        )
        .help(format!(
            "give `{}` a metrics port of its own (`metrics = {{ scrape = true, port = … }}`); \
             deaap-gen then keeps Istio from redirecting the scrape",
            t.pod.workload
        ));
}

fn refused_error(report: &mut Report<'_>, p: &[Seg], name: &str, series: &str, t: &Target<'_>) {
    let port = t.port.unwrap_or_default();
    report
        .error(
            "DG0543",
            with(p, "metric"),
            format!(
                "alert `{name}` watches `{series}`, scraped from `{}` on port {port}, which its \
                 sidecar intercepts under STRICT mTLS: Prometheus, outside the mesh, is refused \
                 and the target is always down",
                t.pod.workload
            ),
            "scrape refused",
        )
        .help(format!(
            "give `{}` a metrics port separate from the port it serves on; deaap-gen excludes \
             it from the sidecar",
            t.pod.workload
        ));
}

/// Proves that the runbook an alert links to is a generated page; `true` when it is.
fn prove_runbook(
    world: &World,
    base: &str,
    p: &[Seg],
    name: &str,
    report: &mut Report<'_>,
) -> bool {
    let Some(url) = world.runbooks.get(name) else {
        return true;
    };
    let page = url
        .strip_prefix(base.trim_end_matches('/'))
        .map(|rest| format!("runbooks{rest}"));
    if page.is_some_and(|page| world.files.contains(&page)) {
        return true;
    }
    let alert_span = report.span(with(p, "metric"));
    report
        .error(
            "DG0546",
            path!["monitoring", "runbook_base_url"],
            format!("alert `{name}` links its runbook at `{url}`, a page nothing generates"),
            "no page there",
        )
        .also(alert_span, "the alert");
    false
}

fn prove_autoscalers(cx: &Scraped<'_>, report: &mut Report<'_>) {
    let (env, world, plan, targets) = (cx.env, cx.world, cx.plan, cx.targets);
    for (svc, s) in env.enabled_services() {
        let Some(a) = s.autoscaling.as_ref().filter(|a| a.enabled) else {
            continue;
        };
        let Some(m) = &a.pods_metric else { continue };
        let p = path!["services", svc, "autoscaling", "pods_metric", "name"];
        let rule = world.adapter.iter().find(|r| r.name == m.name);
        let Some(rule) = rule else {
            report
                .error(
                    "DG0545",
                    &p,
                    format!(
                        "the HPA of `{svc}` scales on the Pods metric `{}`, which no \
                         prometheus-adapter rule serves: the custom metrics API has no value and \
                         the HPA cannot scale on it",
                        m.name
                    ),
                    "no source",
                )
                .help(format!(
                    "declare `[metrics.{}]` with `exposed_by = \"{svc}\"`",
                    m.name
                ));
            continue;
        };
        let exposer = env.metrics.get(&rule.series).map(|d| d.exposed_by.as_str());
        let w = plan
            .iter()
            .find(|w| w.kind == Kind::Service && w.name == *svc);
        let served = w.is_some_and(|w| {
            exposer == Some(w.name.as_str())
                && targets.iter().any(|t| {
                    t.pod.workload == w.name
                        && t.own_port()
                        && !refused(t)
                        && ["namespace", "pod"]
                            .iter()
                            .all(|l| t.labels.contains_key(*l))
                        && rule
                            .matchers
                            .iter()
                            .all(|(k, v)| t.labels.get(k) == Some(v))
                })
        });
        if !served {
            report
                .error(
                    "DG0545",
                    &p,
                    format!(
                        "the HPA of `{svc}` scales on `{}`, served from the series `{}`, which \
                         no scraped pod of `{svc}` exposes with `namespace` and `pod` labels",
                        m.name, rule.series
                    ),
                    "no series behind it",
                )
                .help(format!(
                    "declare `[metrics.{}]` with `exposed_by = \"{svc}\"` and scrape `{svc}`",
                    m.name
                ));
        }
    }
}

fn selector_text(metric: &str, selector: &BTreeMap<String, String>) -> String {
    if selector.is_empty() {
        return metric.to_owned();
    }
    let inner: Vec<String> = selector
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", v.escape_debug()))
        .collect();
    format!("{metric}{{{}}}", inner.join(","))
}

impl World {
    /// Whether the proof or a scrape job's relabelling reads the pod annotation `key`.
    fn reads_annotation(&self, key: &str) -> bool {
        const READ: [&str; 6] = [
            INJECT,
            MERGE_METRICS,
            EXCLUDE_INBOUND,
            "prometheus.io/scrape",
            "prometheus.io/port",
            "prometheus.io/path",
        ];
        let s = sanitize(key);
        let names = [
            format!("__meta_kubernetes_pod_annotation_{s}"),
            format!("__meta_kubernetes_pod_annotationpresent_{s}"),
        ];
        READ.contains(&key)
            || self.jobs.iter().flat_map(|j| &j.relabel).any(|r| {
                names.iter().any(|n| {
                    r.source.contains(n)
                        || (matches!(r.action.as_str(), "labelmap" | "labeldrop" | "labelkeep")
                            && r.regex.is_match(n))
                })
            })
    }

    fn read(s: &Subject<'_>) -> Self {
        let mut w = World {
            pods: Vec::new(),
            meshed: Vec::new(),
            strict: Vec::new(),
            jobs: Vec::new(),
            files: s.artifacts.iter().map(|a| a.path.clone()).collect(),
            disabled: Vec::new(),
            adapter: Vec::new(),
            runbooks: BTreeMap::new(),
        };
        let mut templates = Vec::new();
        for a in s.artifacts {
            // What the cluster runs: not the restores an operator applies by hand.
            for o in a.objects.iter().filter(|_| a.manifest) {
                let doc = o.value();
                match o.kind() {
                    "Namespace" if doc["metadata"]["labels"]["istio-injection"] == "enabled" => {
                        w.meshed.push(o.name().to_owned());
                    }
                    "PeerAuthentication"
                        if doc["spec"]["mtls"]["mode"] == "STRICT"
                            && doc["spec"]["selector"].is_null() =>
                    {
                        w.strict.extend(o.namespace().map(str::to_owned));
                    }
                    "Deployment" | "StatefulSet" => {
                        let ns = o.namespace().unwrap_or_default().to_owned();
                        templates.push((ns, Cow::Borrowed(&doc["spec"]["template"])));
                    }
                    _ if super::cnpg::is_cluster(o) => {
                        let ns = o.namespace().unwrap_or_default().to_owned();
                        let t = super::cnpg::instance_template(&doc.to_json());
                        let t = crate::render::data::to_data(&t).unwrap_or(Data::Null);
                        templates.push((ns, Cow::Owned(t)));
                    }
                    "PrometheusRule" => w.read_runbooks(doc),
                    _ => {}
                }
            }
            if a.path == "helm/monitoring-values.yaml" {
                w.read_monitoring(&a.bytes.read().unwrap_or_default());
            }
            if a.path == "helm/prometheus-adapter-values.yaml" {
                w.read_adapter(&a.bytes.read().unwrap_or_default());
            }
        }
        for (ns, t) in templates {
            let pod = w.pod(ns, &t);
            w.pods.extend(pod);
        }
        w
    }

    /// A pod of `template` after admission's mutating webhooks (Istio's, as far as scraping goes).
    fn pod(&self, namespace: String, t: &Data) -> Option<Pod> {
        let strings = |v: &Data| -> BTreeMap<String, String> {
            v.as_object()
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| v.as_str().map(|s| (k.to_string(), s.to_owned())))
                        .collect()
                })
                .unwrap_or_default()
        };
        let labels = strings(&t["metadata"]["labels"]);
        let mut annotations = strings(&t["metadata"]["annotations"]);
        // A CloudNativePG instance belongs to its Cluster and runs PostgreSQL in `postgres`.
        let (workload, container) =
            if let Some(cluster) = super::cnpg::cluster_of(&t["metadata"]["labels"]) {
                let c = plan::postgres::INSTANCE_CONTAINER.to_owned();
                (cluster.to_owned(), c)
            } else {
                let w = labels.get(NAME_LABEL)?.clone();
                (w.clone(), w)
            };
        let own_ports = t["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["name"] == container.as_str())
            .flat_map(|c| c["ports"].as_array().into_iter().flatten())
            .filter_map(|p| p["containerPort"].as_u64())
            .filter_map(|p| u16::try_from(p).ok())
            .collect();
        // Istio's injector honours the opt-out as a label or an annotation.
        let opted_out = [labels.get(INJECT), annotations.get(INJECT)]
            .into_iter()
            .any(|v| v.is_some_and(|v| v == "false"));
        let meshed = self.meshed.contains(&namespace) && !opted_out;
        if meshed {
            // Istio's injector with metrics merging (its default): unless the pod opts out, its
            // scrape annotations are pointed at the sidecar's merged endpoint.
            let opted_out = annotations.get(MERGE_METRICS).is_some_and(|v| v == "false")
                || annotations
                    .get("prometheus.io/scrape")
                    .is_some_and(|v| v == "false");
            if !opted_out {
                annotations.insert("prometheus.io/scrape".to_owned(), "true".to_owned());
                annotations.insert("prometheus.io/port".to_owned(), MERGED_PORT.to_string());
                annotations.insert("prometheus.io/path".to_owned(), MERGED_PATH.to_owned());
            }
        }
        let strict = meshed && self.strict.contains(&namespace);
        Some(Pod {
            workload,
            namespace,
            labels,
            annotations,
            own_ports,
            strict,
        })
    }

    fn read_monitoring(&mut self, bytes: &[u8]) {
        let Ok(v) = serde_yaml::from_slice::<Value>(bytes) else {
            return;
        };
        for (key, exporter) in [
            ("kubeStateMetrics", "kube-state-metrics"),
            ("nodeExporter", "node-exporter"),
            ("kubelet", "kubelet"),
        ] {
            if v[key]["enabled"] == false {
                self.disabled.push(exporter.to_owned());
            }
        }
        let configs = v["prometheus"]["prometheusSpec"]["additionalScrapeConfigs"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        self.jobs.extend(configs.iter().filter_map(Job::parse));
    }

    fn read_adapter(&mut self, bytes: &[u8]) {
        let Ok(v) = serde_yaml::from_slice::<Value>(bytes) else {
            return;
        };
        let series_re = Regex::new(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$").ok();
        let matcher_re =
            Regex::new(r#"^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=|!=)\s*"([^"]*)"\s*$"#).ok();
        for r in v["rules"]["custom"].as_array().into_iter().flatten() {
            let (Some(q), Some(as_)) = (r["seriesQuery"].as_str(), r["name"]["as"].as_str()) else {
                continue;
            };
            let Some(c) = series_re.as_ref().and_then(|re| re.captures(q.trim())) else {
                continue;
            };
            let mut matchers = BTreeMap::new();
            for m in c.get(2).map_or("", |m| m.as_str()).split(',') {
                if let Some(mc) = matcher_re.as_ref().and_then(|re| re.captures(m))
                    && &mc[2] == "="
                {
                    matchers.insert(mc[1].to_owned(), mc[3].to_owned());
                }
            }
            self.adapter.push(AdapterRule {
                series: c[1].to_owned(),
                matchers,
                name: as_.to_owned(),
            });
        }
    }

    fn read_runbooks(&mut self, doc: &Data) {
        for g in doc["spec"]["groups"].as_array().into_iter().flatten() {
            for r in g["rules"].as_array().into_iter().flatten() {
                if let (Some(a), Some(u)) = (
                    r["alert"].as_str(),
                    r["annotations"]["runbook_url"].as_str(),
                ) {
                    self.runbooks.insert(a.to_owned(), u.to_owned());
                }
            }
        }
    }

    /// Every target of every pod-role job, after relabelling.
    fn targets(&self) -> Vec<Target<'_>> {
        let mut out = Vec::new();
        for job in &self.jobs {
            for pod in &self.pods {
                if !job.namespaces.is_empty() && !job.namespaces.contains(&pod.namespace) {
                    continue;
                }
                if let Some(t) = job.relabel(pod) {
                    out.push(t);
                }
            }
        }
        out
    }
}

/// A pod-role scrape job of the generated configuration.
#[derive(Hash)]
struct Job {
    name: String,
    metrics_path: String,
    /// Namespaces its discovery watches; empty for all.
    namespaces: Vec<String>,
    relabel: Vec<Relabel>,
}

struct Relabel {
    source: Vec<String>,
    separator: String,
    regex: Regex,
    target: Option<String>,
    replacement: String,
    action: String,
}

impl std::hash::Hash for Relabel {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.source.hash(state);
        self.separator.hash(state);
        self.regex.as_str().hash(state);
        self.target.hash(state);
        self.replacement.hash(state);
        self.action.hash(state);
    }
}

impl Job {
    fn parse(v: &Value) -> Option<Job> {
        let sd = v["kubernetes_sd_configs"].as_array()?;
        let pod_sd = sd.iter().find(|s| s["role"] == "pod")?;
        let namespaces = pod_sd["namespaces"]["names"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect();
        let relabel = v["relabel_configs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(Relabel::parse)
            .collect::<Option<Vec<_>>>()?;
        Some(Job {
            name: v["job_name"].as_str()?.to_owned(),
            metrics_path: v["metrics_path"].as_str().unwrap_or("/metrics").to_owned(),
            namespaces,
            relabel,
        })
    }

    /// The pod's target as Prometheus' pod discovery and this job's relabelling make it; `None`
    /// when the job drops it.
    fn relabel<'p>(&self, pod: &'p Pod) -> Option<Target<'p>> {
        let mut l: BTreeMap<String, String> = BTreeMap::new();
        let address = match pod.own_ports.first() {
            Some(p) => format!("10.0.0.1:{p}"),
            None => "10.0.0.1".to_owned(),
        };
        l.insert("__address__".to_owned(), address);
        l.insert("__metrics_path__".to_owned(), self.metrics_path.clone());
        l.insert("__scheme__".to_owned(), "http".to_owned());
        l.insert("job".to_owned(), self.name.clone());
        l.insert(
            "__meta_kubernetes_namespace".to_owned(),
            pod.namespace.clone(),
        );
        l.insert(
            "__meta_kubernetes_pod_name".to_owned(),
            format!("{}-0", pod.workload),
        );
        for (k, v) in &pod.labels {
            l.insert(
                format!("__meta_kubernetes_pod_label_{}", sanitize(k)),
                v.clone(),
            );
            l.insert(
                format!("__meta_kubernetes_pod_labelpresent_{}", sanitize(k)),
                "true".to_owned(),
            );
        }
        for (k, v) in &pod.annotations {
            l.insert(
                format!("__meta_kubernetes_pod_annotation_{}", sanitize(k)),
                v.clone(),
            );
            l.insert(
                format!("__meta_kubernetes_pod_annotationpresent_{}", sanitize(k)),
                "true".to_owned(),
            );
        }
        for r in &self.relabel {
            if !r.apply(&mut l) {
                return None;
            }
        }
        let address = l.get("__address__").cloned().unwrap_or_default();
        let port = address
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse::<u16>().ok());
        let path = l.get("__metrics_path__").cloned().unwrap_or_default();
        l.entry("instance".to_owned()).or_insert(address);
        l.retain(|k, _| !k.starts_with("__"));
        Some(Target {
            pod,
            labels: l,
            port,
            path,
        })
    }
}

impl Relabel {
    fn parse(v: &Value) -> Option<Relabel> {
        let regex = v["regex"].as_str().unwrap_or("(.*)");
        Some(Relabel {
            source: v["source_labels"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect(),
            separator: v["separator"].as_str().unwrap_or(";").to_owned(),
            // Prometheus anchors every relabel regex at both ends.
            regex: Regex::new(&format!("^(?:{regex})$")).ok()?,
            target: v["target_label"].as_str().map(str::to_owned),
            replacement: v["replacement"].as_str().unwrap_or("$1").to_owned(),
            action: v["action"].as_str().unwrap_or("replace").to_lowercase(),
        })
    }

    /// Applies the rule; `false` when it drops the target.
    fn apply(&self, l: &mut BTreeMap<String, String>) -> bool {
        let value: Vec<&str> = self
            .source
            .iter()
            .map(|s| l.get(s).map_or("", String::as_str))
            .collect();
        let value = value.join(&self.separator);
        match self.action.as_str() {
            "keep" => self.regex.is_match(&value),
            "drop" => !self.regex.is_match(&value),
            "replace" => {
                if let (Some(c), Some(target)) = (self.regex.captures(&value), &self.target) {
                    let mut out = String::new();
                    c.expand(&self.replacement, &mut out);
                    if out.is_empty() {
                        l.remove(target);
                    } else {
                        l.insert(target.clone(), out);
                    }
                }
                true
            }
            "labelmap" => {
                let mapped: Vec<(String, String)> = l
                    .iter()
                    .filter_map(|(k, v)| {
                        let c = self.regex.captures(k)?;
                        let mut out = String::new();
                        c.expand(&self.replacement, &mut out);
                        Some((out, v.clone()))
                    })
                    .collect();
                l.extend(mapped);
                true
            }
            "labeldrop" => {
                l.retain(|k, _| !self.regex.is_match(k));
                true
            }
            "labelkeep" => {
                l.retain(|k, _| self.regex.is_match(k));
                true
            }
            // An action the proof does not model: it cannot claim the target exists.
            _ => false,
        }
    }
}

/// Prometheus' label-name form of a Kubernetes label or annotation name.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}
