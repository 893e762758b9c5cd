//! DG0109 references-resolve: every name that points at something else points at something that
//! exists, is deployed, and fits.

use super::{DiagnosticExt, is_prom_name, join};
use crate::load::Seg;
use crate::model::{Alert, MetricType, NamespaceKey, PlatformKind, Signal};
use crate::path;
use crate::validate::schema::did_you_mean;
use crate::validate::{Report, Rule, RuleContext};
use std::collections::{BTreeMap, BTreeSet};

pub static RULE: Rule = Rule {
    code: "DG0109",
    name: "references-resolve",
    what: "Names that refer to other parts of the file resolve: `depends_on` names a service, a \
           storage backend or `blockchain` that is enabled whenever the dependent is (and on \
           Compose the dependencies have no cycle); an alert's or performance target's `metric` \
           is a declared `[metrics.*]` entry or `up`, and its signal fits the metric's type \
           (`quantile` a histogram, `rate` a counter, `value` a gauge, `up` only `up`) with a \
           quantile strictly between 0 and 1 and valid selector label names; every metric and \
           alert name is valid for Prometheus and alert names are unique; a `quotas` key is a \
           namespace key (core, blockchain, storage, monitoring); a database backup's `source` is \
           a storage backend or `blockchain`, enabled when backups are; on Kubernetes with the \
           `consensus_writers` admission policy on, `consensus.writer_service` is an enabled \
           service; a waiver names existing workloads.",
    why: "A dangling name compiles into something that looks right and does nothing: a network \
          policy allowing traffic to a service that is not there, an alert on a series nobody \
          exports (it never fires), a quantile over a gauge (an empty query), a quota on a \
          namespace that does not exist, a backup of nothing. Compose refuses a dependency cycle \
          outright.",
};

pub(super) fn check(cx: &mut RuleContext<'_>) {
    depends_on(cx);
    alerts(cx);
    backups(cx);
    writer(cx);
    waivers(cx);
}

/// Whether `name` (a service, a storage backend or `blockchain`) exists, and is enabled.
fn target(cx: &RuleContext<'_>, name: &str) -> Option<bool> {
    let env = cx.env;
    if name == "blockchain" {
        return Some(env.blockchain.enabled);
    }
    env.services
        .get(name)
        .map(|s| s.enabled)
        .or_else(|| env.storage.get(name).map(|s| s.enabled))
}

fn known_targets(cx: &RuleContext<'_>) -> Vec<String> {
    let env = cx.env;
    let mut v: Vec<String> = env
        .services
        .keys()
        .chain(env.storage.keys())
        .cloned()
        .collect();
    v.push("blockchain".to_owned());
    v
}

fn unknown(cx: &mut RuleContext<'_>, p: &[Seg], name: &str, message: String, what: &str) {
    let known = known_targets(cx);
    let help = match did_you_mean(name, &known) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("{what} is one of: {}", known.join(", ")),
    };
    cx.error(RULE.code, p, message, "not declared").help(help);
}

fn depends_on(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    for (name, s) in &env.services {
        for (i, dep) in s.depends_on.iter().enumerate() {
            let p = path!["services", name, "depends_on", i];
            if dep == name {
                cx.error(
                    RULE.code,
                    &p,
                    format!("service `{name}` depends on itself"),
                    "itself",
                )
                .help("remove it from `depends_on`");
                continue;
            }
            match target(cx, dep) {
                None => unknown(
                    cx,
                    &p,
                    dep,
                    format!("service `{name}` depends on `{dep}`, which is not declared"),
                    "a dependency",
                ),
                Some(false) if s.enabled => {
                    let fix = if dep == "blockchain" {
                        "enable `[blockchain]`".to_owned()
                    } else {
                        format!("enable `{dep}`")
                    };
                    cx.error(
                        RULE.code,
                        &p,
                        format!("service `{name}` depends on `{dep}`, which is disabled in this environment"),
                        "disabled here",
                    )
                    .help(format!("{fix}, remove it from `depends_on`, or disable `{name}` too"));
                }
                _ => {}
            }
        }
    }
    if env.environment.platform == PlatformKind::Compose {
        compose_cycles(cx);
    }
}

/// Compose refuses `depends_on` cycles; report each cycle once, at the edge that closes it.
fn compose_cycles(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    let graph: BTreeMap<&str, Vec<&str>> = env
        .enabled_services()
        .map(|(n, s)| {
            let deps = s
                .depends_on
                .iter()
                .map(String::as_str)
                .filter(|d| env.services.get(*d).is_some_and(|t| t.enabled) && *d != n.as_str())
                .collect();
            (n.as_str(), deps)
        })
        .collect();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut reported: BTreeSet<Vec<&str>> = BTreeSet::new();
    for start in graph.keys() {
        let mut stack: Vec<&str> = Vec::new();
        visit(start, &graph, &mut stack, &mut done, &mut |cycle| {
            let mut key = cycle.to_vec();
            key.sort_unstable();
            if reported.insert(key) {
                let from = cycle[cycle.len() - 1];
                let to = cycle[0];
                let i = env.services[from]
                    .depends_on
                    .iter()
                    .position(|d| d == to)
                    .unwrap_or(0);
                let mut chain: Vec<&str> = cycle.to_vec();
                chain.push(to);
                cx.error(
                    RULE.code,
                    path!["services", from, "depends_on", i],
                    format!("`depends_on` forms a cycle: {}", chain.join(" → ")),
                    "closes the cycle",
                )
                .help("Compose starts dependencies first and refuses a cycle; remove one of these dependencies");
            }
        });
    }
}

fn visit<'a>(
    node: &'a str,
    graph: &BTreeMap<&'a str, Vec<&'a str>>,
    stack: &mut Vec<&'a str>,
    done: &mut BTreeSet<&'a str>,
    found: &mut dyn FnMut(&[&'a str]),
) {
    if let Some(pos) = stack.iter().position(|n| *n == node) {
        found(&stack[pos..]);
        return;
    }
    if done.contains(node) {
        return;
    }
    stack.push(node);
    for next in graph.get(node).into_iter().flatten() {
        visit(next, graph, stack, done, found);
    }
    stack.pop();
    done.insert(node);
}

fn alerts(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    for name in env.metrics.keys() {
        if !is_prom_name(name, true) {
            cx.key_error(
                RULE.code,
                path!["metrics", name],
                format!("`{name}` is not a valid Prometheus metric name"),
                "invalid metric name",
            )
            .help("metric names are letters, digits, `_` and `:`, not starting with a digit, e.g. `deaap_api_request_duration_seconds`");
        }
    }
    // Alert names: the `[alerts.*]` keys and every performance target's `alert_name`.
    let mut names: Vec<(String, Vec<Seg>, bool)> = env
        .alerts
        .keys()
        .map(|n| (n.clone(), path!["alerts", n], true))
        .collect();
    for (i, t) in env.performance_targets.iter().enumerate() {
        names.push((
            t.alert_name.clone(),
            path!["performance_targets", i, "alert_name"],
            false,
        ));
    }
    let mut seen: BTreeMap<String, Vec<Seg>> = BTreeMap::new();
    for (name, p, is_key) in names {
        if !is_prom_name(&name, false) {
            let msg = format!("`{name}` is not a valid alert name");
            let d = if is_key {
                cx.key_error(RULE.code, &p, msg, "invalid alert name")
            } else {
                cx.error(RULE.code, &p, msg, "invalid alert name")
            };
            d.help("alert names are letters, digits and `_`, not starting with a digit; by convention CamelCase, e.g. `DocIngesterHighLatency`");
        }
        if let Some(first) = seen.get(&name) {
            let other = if matches!(first.first(), Some(Seg::Key(k)) if k == "alerts") {
                cx.key_span(first)
            } else {
                cx.span(first)
            };
            let msg = format!("alert `{name}` is defined twice");
            let d = if is_key {
                cx.key_error(RULE.code, &p, msg, "second definition")
            } else {
                cx.error(RULE.code, &p, msg, "second definition")
            };
            d.also(other, "first defined here")
                .help("rename one: alert names identify the alert in Alertmanager, in the runbook URL and in the rule tests");
        } else {
            seen.insert(name, p);
        }
    }
    let mut all: Vec<(Vec<Seg>, &Alert, String)> = env
        .alerts
        .iter()
        .map(|(n, a)| (path!["alerts", n], a, format!("alert `{n}`")))
        .collect();
    for (i, t) in env.performance_targets.iter().enumerate() {
        all.push((
            path!["performance_targets", i, "alert"],
            &t.alert,
            format!("performance target `{} {}`", t.component, t.measure),
        ));
    }
    for (base, alert, what) in all {
        check_alert(cx, &base, alert, &what);
    }
}

fn check_alert(cx: &mut RuleContext<'_>, base: &[Seg], a: &Alert, what: &str) {
    let env = cx.env;
    let mp = join(base, &["metric"]);
    let sp = join(base, &["signal", "kind"]);
    let signal = match a.signal {
        Signal::Quantile { .. } => "quantile",
        Signal::Value => "value",
        Signal::Rate => "rate",
        Signal::Up => "up",
    };
    if a.metric == "up" || matches!(a.signal, Signal::Up) {
        if a.metric != "up" {
            cx.error(
                RULE.code,
                &mp,
                format!("{what} uses signal `up` on metric `{}`", a.metric),
                "not `up`",
            )
            .help("signal `up` watches scrape health: set `metric = \"up\"` and a `selector` such as `{ job = \"...\" }`");
        } else if !matches!(a.signal, Signal::Up) {
            cx.error(
                RULE.code,
                &sp,
                format!("{what} uses signal `{signal}` on metric `up`"),
                "use `up`",
            )
            .help("`up` is scrape health (0 or 1): use `signal = { kind = \"up\" }`");
        }
    } else {
        match env.metrics.get(&a.metric) {
            None => {
                let known: Vec<String> = env.metrics.keys().cloned().collect();
                let help = match did_you_mean(&a.metric, &known) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => {
                        "declare it under `[metrics.<name>]` with its type, or use `up`".to_owned()
                    }
                };
                cx.error(
                    RULE.code,
                    &mp,
                    format!(
                        "{what} watches metric `{}`, which is not declared",
                        a.metric
                    ),
                    "not declared",
                )
                .help(help);
            }
            Some(m) => {
                let want = match a.signal {
                    Signal::Quantile { .. } => MetricType::Histogram,
                    Signal::Rate => MetricType::Counter,
                    Signal::Value | Signal::Up => MetricType::Gauge,
                };
                if m.kind != want {
                    let have = type_name(m.kind);
                    let fits = match m.kind {
                        MetricType::Histogram => "quantile",
                        MetricType::Counter => "rate",
                        MetricType::Gauge => "value",
                    };
                    cx.error(
                        RULE.code,
                        &sp,
                        format!(
                            "{what} takes a `{signal}` of `{}`, which is a {have}",
                            a.metric
                        ),
                        format!("needs a {}", type_name(want)),
                    )
                    .help(format!(
                        "a {have} takes `signal = {{ kind = \"{fits}\" }}`, or watch a {} metric",
                        type_name(want)
                    ));
                }
            }
        }
    }
    if let Signal::Quantile { quantile } = a.signal
        && !(quantile > 0.0 && quantile < 1.0)
    {
        cx.error(
            RULE.code,
            join(base, &["signal", "quantile"]),
            format!("{what} asks for quantile {quantile}, outside (0, 1)"),
            "not a quantile",
        )
        .help("write the quantile as a fraction: 0.95 for the 95th percentile");
    }
    for label in a.selector.keys() {
        if !is_prom_name(label, false) || label.starts_with("__") {
            cx.key_error(
                RULE.code,
                join(base, &["selector", label]),
                format!("`{label}` is not a valid label name"),
                "invalid label name",
            )
            .help("label names are letters, digits and `_`, not starting with a digit or `__`");
        }
    }
}

fn type_name(t: MetricType) -> &'static str {
    match t {
        MetricType::Counter => "counter",
        MetricType::Gauge => "gauge",
        MetricType::Histogram => "histogram",
    }
}

/// A `quotas` key that names no namespace, where it is written (before the model is built: the
/// model keys quotas by namespace and leaves this one out).
pub(crate) fn unknown_quota(report: &mut Report<'_>, key: &str) {
    let keys: Vec<String> = NamespaceKey::ALL
        .iter()
        .map(|k| k.as_str().to_owned())
        .collect();
    let help = match did_you_mean(key, &keys) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("quotas are keyed by namespace key: {}", keys.join(", ")),
    };
    report
        .key_error(
            RULE.code,
            path!["quotas", key],
            format!("quota `{key}` names no namespace"),
            "not a namespace key",
        )
        .help(help);
}

fn backups(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    for (name, db) in &env.backup.databases {
        let p = path!["backup", "databases", name, "source"];
        let src = &db.source;
        let exists = if src == "blockchain" {
            Some(env.blockchain.enabled)
        } else {
            env.storage.get(src).map(|s| s.enabled)
        };
        match exists {
            None => {
                let mut known: Vec<String> = env.storage.keys().cloned().collect();
                known.push("blockchain".to_owned());
                let help = match did_you_mean(src, &known) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "a source is a storage backend or `blockchain`: {}",
                        known.join(", ")
                    ),
                };
                cx.error(
                    RULE.code,
                    &p,
                    format!(
                        "database backup `{name}` backs up `{src}`, which is not a storage backend"
                    ),
                    "not declared",
                )
                .help(help);
            }
            Some(false) if env.backup.enabled => {
                cx.error(
                    RULE.code,
                    &p,
                    format!("database backup `{name}` backs up `{src}`, which is disabled in this environment"),
                    "disabled here",
                )
                .help(format!("remove `[backup.databases.{name}]` in this environment, or enable `{src}`"));
            }
            _ => {}
        }
    }
}

fn writer(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    // The writer matters where the admission policy lets only it write consensus validations.
    let opa = &env.security.opa;
    if !(env.is_kubernetes() && opa.enabled && opa.policies.consensus_writers) {
        return;
    }
    let w = &env.consensus.writer_service;
    let p = path!["consensus", "writer_service"];
    match env.services.get(w) {
        Some(s) if s.enabled => {}
        Some(_) => {
            cx.error(
                RULE.code,
                &p,
                format!("consensus writer `{w}` is disabled in this environment"),
                "disabled here",
            )
            .help(format!(
                "enable `{w}`, or name the enabled service that writes consensus validations"
            ));
        }
        None => {
            let known: Vec<String> = env.enabled_services().map(|(n, _)| n.clone()).collect();
            let help = match did_you_mean(w, &known) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("name one of the enabled services: {}", known.join(", ")),
            };
            cx.error(
                RULE.code,
                &p,
                format!("consensus writer `{w}` is not a service"),
                "not declared",
            )
            .help(help);
        }
    }
}

fn waivers(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    for (i, w) in env.security.waivers.iter().enumerate() {
        for (j, name) in w.workloads.iter().enumerate() {
            if target(cx, name).is_none() {
                unknown(
                    cx,
                    path!["security", "waivers", i, "workloads", j].as_slice(),
                    name,
                    format!(
                        "waiver of `{}` names workload `{name}`, which is not declared",
                        w.check
                    ),
                    "a workload",
                );
            }
        }
    }
}
