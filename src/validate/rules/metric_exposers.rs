//! DG0126 metric-exposers: every `[metrics.*]` entry names who exposes it, and that name is a
//! declared service or storage backend, `blockchain`, `consensus`, or an exporter
//! kube-prometheus-stack runs.

use super::DiagnosticExt;
use super::references_resolve::suggest;
use crate::model::STACK_EXPORTERS;
use crate::path;
use crate::validate::{Rule, RuleContext};

pub static RULE: Rule = Rule {
    code: "DG0126",
    name: "metric-exposers",
    what: "A metric's `exposed_by` is a declared service or storage backend, `blockchain`, \
           `consensus` (the validators) or an exporter of the monitoring stack \
           (`kube-state-metrics`, `node-exporter`, `kubelet`).",
    why: "An alert is only as real as the series it watches: the system proof follows each \
          alert's metric to the workload that exposes it and checks that Prometheus scrapes it \
          there. A name that is nothing leaves the alert watching a series nobody produces.",
};

pub(super) fn check(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    let others = || {
        ["blockchain", "consensus"]
            .into_iter()
            .chain(STACK_EXPORTERS)
    };
    for (name, m) in &env.metrics {
        let by = &m.exposed_by;
        // Looked up by name: a list of every workload searched per metric grew with the square
        // of the services.
        if env.services.contains_key(by)
            || env.storage.contains_key(by)
            || others().any(|o| o == by)
        {
            continue;
        }
        let mut known: Vec<String> = env.services.keys().cloned().collect();
        known.extend(env.storage.keys().cloned());
        known.extend(others().map(str::to_owned));
        let help = suggest(by, &known, || {
            format!("a metric is exposed by one of: {}", known.join(", "))
        });
        cx.error(
            RULE.code,
            path!["metrics", name, "exposed_by"],
            format!("metric `{name}` is exposed by `{by}`, which is no workload or exporter"),
            "not declared",
        )
        .help(help);
    }
}
