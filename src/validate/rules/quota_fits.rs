//! DG0113 quota-fits: what a namespace runs fits inside its `ResourceQuota`.

use super::{DiagnosticExt, Workload, join};
use crate::load::Seg;
use crate::model::Amount;
use crate::model::{Environment, NamespaceKey, Quota};
use crate::path;
use crate::plan::quota::{self, Usage};
use crate::validate::{Rule, RuleContext};

pub static RULE: Rule = Rule {
    code: "DG0113",
    name: "quota-fits",
    what: "On Kubernetes, for every namespace with a quota: the enabled workloads in it (services, \
           storage backends, blockchain nodes and consensus validators), at their starting replica \
           counts, request and are limited to no more CPU and memory than the quota allows, run no \
           more pods than `pods`, and create no more PersistentVolumeClaims than \
           `persistent_volume_claims` (Prometheus and Grafana volumes count in the monitoring \
           namespace, the application data claim in `data.namespace`). Exceeding it at the \
           autoscaling maximum is a warning, unless the quota's `autoscaling_cap_reason` says why \
           that is intended. Containers the platform injects count per pod: the Istio proxy in \
           meshed namespaces and the Vault agent in pods with secrets. The backup jobs that run in \
           the namespace count one pod each (the full backup runs beside the data claim, a \
           blockchain backup beside the nodes).",
    why: "The API server refuses every pod that would exceed a quota: a release that does not fit \
          rolls out partly and stalls, with the reason only in the ReplicaSet's events. At the \
          autoscaling maximum the HorizontalPodAutoscaler asks for pods the quota refuses, so the \
          service stops scaling exactly when it is busiest.",
};

fn totals(env: &Environment, ws: &[Workload<'_>], ns: NamespaceKey, at_max: bool) -> Usage {
    quota::usage(env, ws, ns, at_max)
}

struct Dim {
    key: &'static str,
    need: Amount,
    quota: Amount,
    show: fn(Amount) -> String,
    /// Which of a part's four amounts this dimension sums.
    pick: usize,
}

fn dims(t: &Usage, q: &Quota) -> Vec<Dim> {
    let cpu = Amount::cpu as fn(Amount) -> String;
    let mem = Amount::bytes as fn(Amount) -> String;
    vec![
        Dim {
            key: "requests_cpu",
            need: t.requests_cpu,
            quota: q.requests_cpu.amount(),
            show: cpu,
            pick: 0,
        },
        Dim {
            key: "requests_memory",
            need: t.requests_memory,
            quota: q.requests_memory.amount(),
            show: mem,
            pick: 1,
        },
        Dim {
            key: "limits_cpu",
            need: t.limits_cpu,
            quota: q.limits_cpu.amount(),
            show: cpu,
            pick: 2,
        },
        Dim {
            key: "limits_memory",
            need: t.limits_memory,
            quota: q.limits_memory.amount(),
            show: mem,
            pick: 3,
        },
        Dim {
            key: "pods",
            need: Amount::from_units(t.pods),
            quota: Amount::from_units(u64::from(q.pods)),
            show: cpu,
            pick: 4,
        },
    ]
}

/// "service `doc-ingester` 5 × 1, service `api-gateway` 2 × 500m, …", largest first.
fn breakdown(t: &Usage, d: &Dim) -> String {
    let mut parts: Vec<(Amount, String)> = t
        .parts
        .iter()
        .map(|p| {
            let (who, n) = (&p.who, p.replicas);
            match p.each.get(d.pick).copied() {
                Some(each) => (each.times(n), format!("{who} {n} × {}", (d.show)(each))),
                None => (Amount::from_units(u64::from(n)), format!("{who} {n}")),
            }
        })
        .filter(|(q, _)| !q.is_zero())
        .collect();
    parts.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let more = parts.len().saturating_sub(4);
    let mut s: Vec<String> = parts.into_iter().take(4).map(|p| p.1).collect();
    if more > 0 {
        s.push(format!("and {more} more"));
    }
    s.join(", ")
}

/// "requests 24 CPU", "is limited to 80Gi of memory", "runs 61 pods".
fn amount(d: &Dim, q: Amount) -> String {
    let v = (d.show)(q);
    match d.key {
        "requests_cpu" => format!("requests {v} CPU"),
        "requests_memory" => format!("requests {v} of memory"),
        "limits_cpu" => format!("is limited to {v} CPU"),
        "limits_memory" => format!("is limited to {v} of memory"),
        _ => format!("runs {v} pods"),
    }
}

pub(super) fn check(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    if !env.is_kubernetes() {
        return;
    }
    let ws = cx.workloads;
    for (ns, quota) in env.quotas.iter() {
        let ns_name = env.namespace(ns);
        let base = path!["quotas", ns.as_str()];
        let start = totals(env, ws, ns, false);
        let start_dims = dims(&start, quota);
        let mut fits = true;
        for d in &start_dims {
            if d.need <= d.quota {
                continue;
            }
            fits = false;
            cx.error(
                RULE.code,
                join(&base, &[d.key]),
                format!(
                    "namespace `{ns_name}` {} when it starts; its quota allows {}",
                    amount(d, d.need),
                    (d.show)(d.quota)
                ),
                "quota too small",
            )
            .help(format!(
                "raise `{}` to at least {}, or give these workloads fewer replicas or smaller resources: {}",
                d.key,
                (d.show)(d.need),
                breakdown(&start, d)
            ));
        }
        claims(cx, ws, ns, quota, &base, ns_name);
        if !fits || quota.autoscaling_cap_reason.is_some() {
            continue;
        }
        let max = totals(env, ws, ns, true);
        let max_dims = dims(&max, quota);
        let over: Vec<&Dim> = max_dims.iter().filter(|d| d.need > d.quota).collect();
        if over.is_empty() {
            continue;
        }
        let list: Vec<String> = over
            .iter()
            .map(|d| format!("{} (quota {})", amount(d, d.need), (d.show)(d.quota)))
            .collect();
        let scaling: Vec<&Workload<'_>> = ws
            .iter()
            .filter(|w| w.enabled && w.namespace_key == ns && w.max_replicas > w.replicas)
            .collect();
        let scaled: Vec<String> = scaling
            .iter()
            .map(|w| format!("{} up to {}", w.describe(), w.max_replicas))
            .collect();
        // With one autoscaled workload, say how far it can really go.
        let reach = match scaling.as_slice() {
            [w] => reachable(env, ws, w).map(|r| {
                format!(
                    "; {} can reach only {r} of its {} replicas",
                    w.describe(),
                    w.max_replicas
                )
            }),
            _ => None,
        }
        .unwrap_or_default();
        cx.key_warning(
            RULE.code,
            &base,
            format!(
                "at the autoscaling maximum, namespace `{ns_name}` {}{reach}",
                list.join(", ")
            ),
            "quota reached before the autoscaling maximum",
        )
        .help(format!(
            "raise the quota, lower `max_replicas` ({}), or set `autoscaling_cap_reason = \"...\"` on this quota to record that the cap is intended",
            scaled.join(", ")
        ));
    }
}

/// The replicas `w` reaches before the first quota dimension is exhausted.
fn reachable(env: &Environment, ws: &[Workload<'_>], w: &Workload<'_>) -> Option<u32> {
    quota::ceiling(env, ws, &w.name).map(|n| n.min(w.max_replicas))
}

fn claims(
    cx: &mut RuleContext<'_>,
    ws: &[Workload<'_>],
    ns: NamespaceKey,
    quota: &Quota,
    base: &[Seg],
    ns_name: &str,
) {
    let env = cx.env;
    let mut n: u32 = ws
        .iter()
        .filter(|w| w.enabled && w.namespace_key == ns)
        .map(|w| w.claims)
        .sum();
    if env.data.as_ref().is_some_and(|d| d.namespace == ns) {
        n += 1;
    }
    if ns == NamespaceKey::Monitoring && env.monitoring.enabled {
        n += u32::from(env.monitoring.storage.enabled)
            + u32::from(env.monitoring.grafana.persistence.enabled);
    }
    if n > quota.persistent_volume_claims {
        cx.error(
            RULE.code,
            join(base, &["persistent_volume_claims"]),
            format!(
                "namespace `{ns_name}` creates {n} PersistentVolumeClaims, above its quota of {}",
                quota.persistent_volume_claims
            ),
            "quota too small",
        )
        .help(format!(
            "raise `persistent_volume_claims` to at least {n}: each replica of a persistent workload has its own claim"
        ));
    }
}
