//! What the pods of a namespace request and are limited to, held against its `ResourceQuota`:
//! the arithmetic the quota-fits rule (DG0113) reports, and the scaling ceilings the operations
//! scripts embed. A pod counts its own container and what the platform injects (the Istio proxy
//! in meshed namespaces, the Vault agent where there are secrets); the backup jobs that run in a
//! namespace count one pod each, since a nightly run must fit beside everything else.

use super::{Workload, backup_jobs};
use crate::model::{Amount, Environment, NamespaceKey, Quota, Resources};
use std::collections::{BTreeMap, HashMap};

/// One workload's share of a namespace.
#[derive(Debug, Clone)]
pub struct Part {
    /// `` service `doc-ingester` ``, for messages.
    pub who: String,
    /// The workload's name.
    pub name: String,
    /// The pods counted.
    pub replicas: u32,
    /// One pod's requests CPU, requests memory, limits CPU, limits memory.
    pub each: [Amount; 4],
}

/// The totals of one namespace, in the order of [`Part::each`], then pods.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    pub requests_cpu: Amount,
    pub requests_memory: Amount,
    pub limits_cpu: Amount,
    pub limits_memory: Amount,
    pub pods: u64,
    pub parts: Vec<Part>,
}

impl Usage {
    /// The totals in the order of [`hard`]: requests CPU, requests memory, limits CPU, limits
    /// memory, pods.
    #[must_use]
    pub fn amounts(&self) -> [Amount; 5] {
        [
            self.requests_cpu,
            self.requests_memory,
            self.limits_cpu,
            self.limits_memory,
            Amount::from_units(self.pods),
        ]
    }

    fn add(&mut self, part: Part) {
        let n = part.replicas;
        let [rc, rm, lc, lm] = part.each;
        self.requests_cpu = self.requests_cpu + rc.times(n);
        self.requests_memory = self.requests_memory + rm.times(n);
        self.limits_cpu = self.limits_cpu + lc.times(n);
        self.limits_memory = self.limits_memory + lm.times(n);
        self.pods += u64::from(n);
        self.parts.push(part);
    }
}

/// A quota's hard amounts in the order of [`Usage::amounts`].
#[must_use]
pub fn hard(q: &Quota) -> [Amount; 5] {
    [
        q.requests_cpu.amount(),
        q.requests_memory.amount(),
        q.limits_cpu.amount(),
        q.limits_memory.amount(),
        Amount::from_units(u64::from(q.pods)),
    ]
}

/// Requests CPU, requests memory, limits CPU, limits memory.
fn amounts(r: &Resources) -> [Amount; 4] {
    [
        r.requests.cpu.amount(),
        r.requests.memory.amount(),
        r.limits.cpu.amount(),
        r.limits.memory.amount(),
    ]
}

/// One pod of `w`: its container and the sidecars the platform injects.
#[must_use]
pub fn pod(env: &Environment, w: &Workload<'_>) -> [Amount; 4] {
    let mut each = amounts(w.resources);
    for sidecar in w.sidecars(env) {
        for (total, amount) in each.iter_mut().zip(amounts(&sidecar.resources)) {
            *total = *total + amount;
        }
    }
    each
}

/// The enabled workloads of `ns` among `ws`, at their starting replica counts (`at_max`: at the
/// autoscaling maximum), and the backup jobs that run in `ns`.
#[must_use]
pub fn usage(env: &Environment, ws: &[Workload<'_>], ns: NamespaceKey, at_max: bool) -> Usage {
    let mut u = Usage::default();
    for w in ws.iter().filter(|w| w.enabled && w.namespace_key == ns) {
        u.add(Part {
            who: w.describe(),
            name: w.name.clone(),
            replicas: if at_max { w.max_replicas } else { w.replicas },
            each: pod(env, w),
        });
    }
    for job in backup_jobs(env) {
        let w = job.workload;
        if w.namespace_key == ns {
            u.add(Part {
                who: w.describe(),
                name: w.name.clone(),
                replicas: 1,
                each: pod(env, &w),
            });
        }
    }
    u
}

/// The most replicas of the workload `name` (one of `ws`) that its namespace's quota holds, with
/// every other workload at its starting count and the namespace's backup jobs running: `None`
/// when its namespace has no quota or it is not an enabled workload there.
#[must_use]
pub fn ceiling(env: &Environment, ws: &[Workload<'_>], name: &str) -> Option<u32> {
    let w = ws.iter().find(|w| w.name == name && w.enabled)?;
    let start = usage(env, ws, w.namespace_key, false);
    let mine = start.parts.iter().find(|p| p.name == name)?;
    fit(env, w.namespace_key, &start, mine)
}

/// [`ceiling`] of every enabled workload of `ws` by name, each namespace's starting usage
/// computed once (not once per workload).
#[must_use]
pub fn ceilings(env: &Environment, ws: &[Workload<'_>]) -> HashMap<String, u32> {
    let mut starts: BTreeMap<NamespaceKey, Usage> = BTreeMap::new();
    for w in ws.iter().filter(|w| w.enabled) {
        starts
            .entry(w.namespace_key)
            .or_insert_with(|| usage(env, ws, w.namespace_key, false));
    }
    // Each namespace's first share of each name.
    let firsts: BTreeMap<NamespaceKey, HashMap<&str, usize>> = starts
        .iter()
        .map(|(ns, start)| {
            let mut first = HashMap::new();
            for (i, p) in start.parts.iter().enumerate() {
                first.entry(p.name.as_str()).or_insert(i);
            }
            (*ns, first)
        })
        .collect();
    let mut out = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    for w in ws.iter().filter(|w| w.enabled) {
        if !seen.insert(w.name.as_str()) {
            continue;
        }
        let (start, first) = (&starts[&w.namespace_key], &firsts[&w.namespace_key]);
        if let Some(c) = first
            .get(w.name.as_str())
            .and_then(|i| fit(env, w.namespace_key, start, &start.parts[*i]))
        {
            out.insert(w.name.clone(), c);
        }
    }
    out
}

/// The most replicas of the workload whose starting share is `mine` that the quota of `ns` holds
/// beside the rest of `start`.
fn fit(env: &Environment, ns: NamespaceKey, start: &Usage, mine: &Part) -> Option<u32> {
    let quota = env.quotas.iter().find(|(k, _)| *k == ns)?.1;
    let each = [
        mine.each[0],
        mine.each[1],
        mine.each[2],
        mine.each[3],
        Amount::from_units(1),
    ];
    let others = start
        .amounts()
        .into_iter()
        .zip(each)
        .map(|(total, one)| total - one.times(mine.replicas));
    let fit = hard(quota)
        .into_iter()
        .zip(others)
        .zip(each)
        .filter_map(|((cap, used), one)| (cap - used).count_of(one))
        .min()?;
    Some(u32::try_from(fit).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::workloads;
    use std::path::Path;

    fn load(rel: &str) -> Environment {
        crate::load_model(&Path::new(env!("CARGO_MANIFEST_DIR")).join(rel))
            .unwrap_or_else(|e| panic!("{rel} loads: {e}"))
    }

    /// At its ceiling a workload fits the quota, one more replica does not.
    #[test]
    fn the_ceiling_is_the_last_count_that_fits() {
        let env = load("environments/production.toml");
        let ws = workloads(&env);
        let quota = env
            .quotas
            .iter()
            .find(|(ns, _)| *ns == NamespaceKey::Core)
            .unwrap()
            .1;
        for name in ["doc-ingester", "api-gateway", "mineru"] {
            let top = ceiling(&env, &ws, name).unwrap();
            let at = |n: u32| {
                let mut ws = ws.clone();
                let w = ws.iter_mut().find(|w| w.name == name).unwrap();
                w.replicas = n;
                usage(&env, &ws, NamespaceKey::Core, false)
                    .amounts()
                    .into_iter()
                    .zip(hard(quota))
                    .all(|(need, cap)| need <= cap)
            };
            assert!(at(top), "{name} at {top}");
            assert!(!at(top + 1), "{name} at {}", top + 1);
        }
        assert_eq!(ceiling(&env, &ws, "blockchain"), None);
        assert_eq!(ceiling(&env, &ws, "no-such-service"), None);
    }
}
