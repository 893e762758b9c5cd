//! DG0106 quantity-syntax: every CPU, memory, volume-size and quota string is a Kubernetes
//! quantity that means what it looks like.

use super::{DiagnosticExt, join, model_path, workloads};
use crate::load::Seg;
use crate::model::{CpuMemory, Persistence, Resources};
use crate::path;
use crate::validate::quantity::Quantity;
use crate::validate::{Rule, RuleContext};

pub static RULE: Rule = Rule {
    code: "DG0106",
    name: "quantity-syntax",
    what: "Every `cpu` and `memory` of `defaults.resources` and of each workload's `resources`, \
           every persistence and monitoring `size`, and every quota amount is a Kubernetes \
           quantity (`500m`, `2`, `512Mi`, `1Gi`, `1G`, `1e3`): no spaces, no `GB` or `K`, \
           case-sensitive suffixes. Negative amounts, memory in fractions of a byte (`500m` of \
           memory is half a byte) and zero-sized volumes are refused too.",
    why: "The API server refuses a malformed quantity only when the manifest is applied, and Helm \
          renders it without complaint. The worse mistakes parse: `memory: 500m` asks for half a \
          byte and the container is killed at start, `1GB` is a typo for `1G` or `1Gi`.",
    check,
};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Measure {
    Cpu,
    Memory,
    Size,
    /// The size of a volume that is switched off: checked, but may be zero.
    UnusedSize,
    QuotaCpu,
    QuotaMemory,
}

fn push_resources<'a>(out: &mut Vec<(Vec<Seg>, &'a str, Measure)>, base: &[Seg], r: &'a Resources) {
    let mut side = |which: &str, cm: &'a CpuMemory| {
        out.push((join(base, &[which, "cpu"]), cm.cpu.as_str(), Measure::Cpu));
        out.push((
            join(base, &[which, "memory"]),
            cm.memory.as_str(),
            Measure::Memory,
        ));
    };
    side("requests", &r.requests);
    side("limits", &r.limits);
}

fn check(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    let mut sites: Vec<(Vec<Seg>, &str, Measure)> = Vec::new();
    push_resources(
        &mut sites,
        path!["defaults", "resources"].as_slice(),
        &env.defaults.resources,
    );
    for w in workloads(env) {
        if let Some(r) = w.own_resources {
            push_resources(&mut sites, &join(&model_path(&w), &["resources"]), r);
        }
    }
    for (name, s) in &env.storage {
        if let Some(p) = &s.persistence {
            sites.push((
                path!["storage", name, "persistence", "size"],
                &p.size,
                size(p),
            ));
        }
    }
    sites.push((
        path!["blockchain", "persistence", "size"],
        &env.blockchain.persistence.size,
        size(&env.blockchain.persistence),
    ));
    sites.push((
        path!["monitoring", "storage", "size"],
        &env.monitoring.storage.size,
        size(&env.monitoring.storage),
    ));
    sites.push((
        path!["monitoring", "grafana", "persistence", "size"],
        &env.monitoring.grafana.persistence.size,
        size(&env.monitoring.grafana.persistence),
    ));
    for (key, q) in &env.quotas {
        let base = path!["quotas", key];
        sites.push((
            join(&base, &["requests_cpu"]),
            &q.requests_cpu,
            Measure::QuotaCpu,
        ));
        sites.push((
            join(&base, &["limits_cpu"]),
            &q.limits_cpu,
            Measure::QuotaCpu,
        ));
        sites.push((
            join(&base, &["requests_memory"]),
            &q.requests_memory,
            Measure::QuotaMemory,
        ));
        sites.push((
            join(&base, &["limits_memory"]),
            &q.limits_memory,
            Measure::QuotaMemory,
        ));
    }
    for (p, text, measure) in sites {
        check_one(cx, &p, text, measure);
    }
}

fn size(p: &Persistence) -> Measure {
    if p.enabled {
        Measure::Size
    } else {
        Measure::UnusedSize
    }
}

fn check_one(cx: &mut RuleContext<'_>, p: &[Seg], text: &str, measure: Measure) {
    let what = match measure {
        Measure::Cpu | Measure::QuotaCpu => "CPU",
        Measure::Memory | Measure::QuotaMemory => "memory",
        Measure::Size | Measure::UnusedSize => "volume size",
    };
    let q = match Quantity::parse(text) {
        Ok(q) => q,
        Err(e) => {
            cx.error(
                RULE.code,
                p,
                format!("{what} `{text}` is not a Kubernetes quantity: {e}"),
                "not a quantity",
            )
            .help(e.help());
            return;
        }
    };
    if q.is_negative() {
        cx.error(
            RULE.code,
            p,
            format!("{what} `{text}` is negative"),
            "negative",
        )
        .help("resource amounts are zero or more");
        return;
    }
    let bytes = matches!(
        measure,
        Measure::Memory | Measure::QuotaMemory | Measure::Size | Measure::UnusedSize
    );
    if bytes && !q.is_whole() {
        let fix = match text.strip_suffix('m') {
            Some(n) => format!("did you mean `{n}Mi` (mebibytes)? `m` means thousandths"),
            None => {
                "memory and sizes are whole bytes; use `Ki`, `Mi`, `Gi` or `k`, `M`, `G`".to_owned()
            }
        };
        cx.error(
            RULE.code,
            p,
            format!("{what} `{text}` is a fraction of a byte"),
            "fraction of a byte",
        )
        .help(fix);
        return;
    }
    if measure == Measure::Size && q.is_zero() {
        cx.error(
            RULE.code,
            p,
            format!("volume size `{text}` is zero"),
            "empty volume",
        )
        .help("give the volume a size such as `10Gi`, or set `enabled = false` next to `size`");
    }
}
