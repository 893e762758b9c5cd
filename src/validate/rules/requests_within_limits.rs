//! DG0105 requests-within-limits: no container requests more than its limit.

use super::{DiagnosticExt, join, model_path};
use crate::load::Seg;
use crate::model::Amount;
use crate::model::Resources;
use crate::path;
use crate::validate::{Rule, RuleContext};

pub static RULE: Rule = Rule {
    code: "DG0105",
    name: "requests-within-limits",
    what: "`requests.cpu` ≤ `limits.cpu` and `requests.memory` ≤ `limits.memory`, compared as \
           quantities (`500m` < `1`, `1Gi` = `1024Mi`, `1G` < `1Gi`), in `defaults.resources` and in \
           the own `resources` of every enabled service and storage backend, the blockchain nodes \
           and the consensus validators.",
    why: "The API server refuses a pod whose request exceeds its limit, so the Deployment stays at \
          zero ready replicas; Compose starts the container with a reservation it can never honour. \
          Comparing the strings is not enough: `900m` sorts after `1`.",
};

pub(super) fn check(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    compare(
        cx,
        path!["defaults", "resources"].as_slice(),
        &env.defaults.resources,
        "`defaults.resources`",
    );
    let ws = cx.workloads;
    for w in ws {
        if let (true, Some(r)) = (w.enabled, w.own_resources) {
            compare(cx, &join(&model_path(w), &["resources"]), r, &w.describe());
        }
    }
}

fn compare(cx: &mut RuleContext<'_>, base: &[Seg], r: &Resources, whose: &str) {
    let pairs = [
        (
            "cpu",
            &r.requests.cpu,
            &r.limits.cpu,
            Amount::cpu as fn(Amount) -> String,
        ),
        (
            "memory",
            &r.requests.memory,
            &r.limits.memory,
            Amount::bytes,
        ),
    ];
    for (what, req, lim, show) in pairs {
        let (rq, lq) = (req.amount(), lim.amount());
        if rq <= lq {
            continue;
        }
        let lim_span = cx.span(join(base, &["limits", what]));
        cx.error(
            RULE.code,
            join(base, &["requests", what]),
            format!("{what} request `{req}` of {whose} is above its limit `{lim}`"),
            format!("requests {}", show(rq)),
        )
        .also(lim_span, format!("limit {}", show(lq)))
        .help(format!(
            "raise `limits.{what}` to at least `{req}`, or lower `requests.{what}`; Kubernetes refuses a pod that requests more than its limit"
        ));
    }
}
