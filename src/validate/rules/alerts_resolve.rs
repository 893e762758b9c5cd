//! DG0121 alerts-resolve: metric and alert names are valid for Prometheus, alert names are
//! unique, and every alert (and performance target alert) watches a declared metric with a signal
//! that fits its type.

use super::references_resolve::suggest;
use super::{DiagnosticExt, is_prom_name, join};
use crate::load::Seg;
use crate::model::{Alert, MetricType, Signal};
use crate::path;
use crate::validate::{Rule, RuleContext};
use std::collections::BTreeMap;

pub static RULE: Rule = Rule {
    code: "DG0121",
    name: "alerts-resolve",
    what: "An alert's or performance target's `metric` is a declared `[metrics.*]` entry or `up`, \
           and its signal fits the metric's type (`quantile` a histogram, `rate` a counter, \
           `value` a gauge, `up` only `up`) with a quantile strictly between 0 and 1 and valid \
           selector label names; every metric and alert name is valid for Prometheus and alert \
           names are unique.",
    why: "An alert on a series nobody exports never fires, and a quantile over a gauge is an empty \
          query: both look right and do nothing. Prometheus refuses invalid names, and a second \
          alert of the same name is indistinguishable in Alertmanager, in the runbook URL and in \
          the rule tests.",
};

pub(super) fn check(cx: &mut RuleContext<'_>) {
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
                let help = suggest(&a.metric, &known, || {
                    "declare it under `[metrics.<name>]` with its type, or use `up`".to_owned()
                });
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
