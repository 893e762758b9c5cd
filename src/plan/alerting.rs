//! What an alert is about and what it affects: the workload whose series an alert watches, the
//! workloads that depend on it through the service graph (`depends_on`), and the alerts of the
//! environment with their names. The alert routing (inhibitions), the runbooks and the rules share
//! this view.

use super::{BLOCKCHAIN, Kind, Workload, deployed};
use crate::model::{Alert, Environment, Signal};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One alert of the model with its name: the `[alerts.*]` entries, then every performance-target
/// row, in that order.
pub struct NamedAlert<'a> {
    pub name: &'a str,
    /// Whether it is a performance-target row's alert.
    pub target_row: bool,
    pub alert: &'a Alert,
}

/// Every alert the model defines, in rule-file order.
#[must_use]
pub fn alerts(env: &Environment) -> Vec<NamedAlert<'_>> {
    let mut out: Vec<NamedAlert<'_>> = env
        .alerts
        .iter()
        .map(|(name, alert)| NamedAlert {
            name,
            target_row: false,
            alert,
        })
        .collect();
    out.extend(env.performance_targets.iter().map(|t| NamedAlert {
        name: &t.alert_name,
        target_row: true,
        alert: &t.alert,
    }));
    out
}

/// The deployed workloads and their service graph, indexed once: what an alert watches, what
/// depends on a workload, what it depends on. Runbooks ask this for every alert, so each answer
/// is a lookup, not a walk over the whole plan.
pub struct Graph<'e> {
    env: &'e Environment,
    plan: Vec<Workload<'e>>,
    by_name: HashMap<String, usize>,
    /// The workload each `exposed_by` name gives: a service or storage key, `blockchain` or
    /// `consensus` (the first of each, in plan order).
    exposers: HashMap<String, usize>,
    /// For each workload name, the workloads that list it in `depends_on`.
    users: HashMap<String, Vec<usize>>,
}

impl<'e> Graph<'e> {
    #[must_use]
    pub fn new(env: &'e Environment) -> Self {
        let plan = deployed(env);
        let mut by_name = HashMap::new();
        let mut users: HashMap<String, Vec<usize>> = HashMap::new();
        let mut exposers = HashMap::new();
        for (i, w) in plan.iter().enumerate() {
            by_name.entry(w.name.clone()).or_insert(i);
            for d in &w.depends_on {
                users.entry(d.clone()).or_default().push(i);
            }
            let by = match w.kind {
                Kind::Service | Kind::Storage => w.name.as_str(),
                Kind::Blockchain => "blockchain",
                Kind::Consensus => "consensus",
                Kind::Backup => continue,
            };
            exposers.entry(by.to_owned()).or_insert(i);
        }
        Self {
            env,
            plan,
            by_name,
            exposers,
            users,
        }
    }

    /// The deployed workloads, in plan order.
    #[must_use]
    pub fn plan(&self) -> &[Workload<'e>] {
        &self.plan
    }

    /// The deployed workload named `name`.
    #[must_use]
    pub fn find(&self, name: &str) -> Option<&Workload<'e>> {
        self.by_name.get(name).map(|&i| &self.plan[i])
    }

    /// The deployed workload an alert watches: the exposer of its metric, or for an `up` alert the
    /// workload its selector names (`job` of the blockchain nodes, or `app`).
    #[must_use]
    pub fn subject(&self, alert: &Alert) -> Option<&Workload<'e>> {
        if alert.signal == Signal::Up {
            let wanted = if alert.selector.get("job") == Some(&self.env.blockchain.metrics_job) {
                Some(BLOCKCHAIN)
            } else {
                alert.selector.get("app").map(String::as_str)
            };
            return wanted.and_then(|n| self.find(n));
        }
        let by = self.env.metrics.get(&alert.metric)?.exposed_by.as_str();
        self.exposers.get(by).map(|&i| &self.plan[i])
    }

    /// The deployed workloads that depend on `name`, directly or through others, sorted by name.
    #[must_use]
    pub fn dependents(&self, name: &str) -> BTreeSet<String> {
        self.walk_dependents(name, |_| {})
            .into_iter()
            .map(|i| self.plan[i].name.clone())
            .collect()
    }

    /// How many deployed workloads depend on `name`, directly or through others, and the first
    /// `limit` of them by name. A runbook names a bounded few: in a long chain of services every
    /// page listing all of them would make the output grow with the square of the services.
    #[must_use]
    pub fn dependents_sample(&self, name: &str, limit: usize) -> (usize, Vec<&Workload<'e>>) {
        let mut first: BTreeSet<(&str, usize)> = BTreeSet::new();
        let mut total = 0;
        self.walk_dependents(name, |i| {
            total += 1;
            first.insert((self.plan[i].name.as_str(), i));
            if first.len() > limit {
                first.pop_last();
            }
        });
        (
            total,
            first.into_iter().map(|(_, i)| &self.plan[i]).collect(),
        )
    }

    /// Visits every deployed workload that depends on `name`, directly or through others, once
    /// (but `name` itself), and returns their indices in the plan.
    fn walk_dependents(&self, name: &str, mut visit: impl FnMut(usize)) -> Vec<usize> {
        let mut seen = vec![false; self.plan.len()];
        let mut out = Vec::new();
        let mut todo: Vec<&str> = vec![name];
        while let Some(n) = todo.pop() {
            for &u in self.users.get(n).into_iter().flatten() {
                let user = self.plan[u].name.as_str();
                if user != name && !seen[u] {
                    seen[u] = true;
                    visit(u);
                    out.push(u);
                    todo.push(user);
                }
            }
        }
        out
    }

    /// For each `up` alert whose workload has dependents: the latency alerts (`quantile` signals)
    /// of those dependents, which it inhibits while it fires. Sorted by alert name.
    #[must_use]
    pub fn inhibitions(&self) -> BTreeMap<&'e str, BTreeSet<&'e str>> {
        let all = alerts(self.env);
        // The latency alerts by the workload they watch.
        let mut latency: HashMap<&str, Vec<&'e str>> = HashMap::new();
        for a in all
            .iter()
            .filter(|a| matches!(a.alert.signal, Signal::Quantile { .. }))
        {
            if let Some(w) = self.subject(a.alert) {
                latency.entry(w.name.as_str()).or_default().push(a.name);
            }
        }
        let mut out = BTreeMap::new();
        for down in all.iter().filter(|a| a.alert.signal == Signal::Up) {
            let Some(w) = self.subject(down.alert) else {
                continue;
            };
            let targets: BTreeSet<&'e str> = self
                .dependents(&w.name)
                .iter()
                .filter_map(|d| latency.get(d.as_str()))
                .flatten()
                .copied()
                .collect();
            if !targets.is_empty() {
                out.insert(down.name, targets);
            }
        }
        out
    }
}

/// For each `up` alert whose workload has dependents: the latency alerts of those dependents
/// ([`Graph::inhibitions`]).
#[must_use]
pub fn inhibitions(env: &Environment) -> BTreeMap<&str, BTreeSet<&str>> {
    Graph::new(env).inhibitions()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::VALIDATOR;

    fn production() -> Environment {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("environments/production.toml");
        crate::load_model(&path).expect("production loads")
    }

    #[test]
    fn a_sample_of_dependents_is_the_first_by_name_with_the_full_count() {
        let env = production();
        let graph = Graph::new(&env);
        let all = graph.dependents(BLOCKCHAIN);
        assert!(all.len() > 2, "{all:?}");
        let (total, shown) = graph.dependents_sample(BLOCKCHAIN, 2);
        assert_eq!(total, all.len());
        let shown: Vec<&str> = shown.iter().map(|w| w.name.as_str()).collect();
        let first: Vec<&str> = all.iter().take(2).map(String::as_str).collect();
        assert_eq!(shown, first);
        let (total, shown) = graph.dependents_sample(BLOCKCHAIN, 1000);
        assert_eq!((total, shown.len()), (all.len(), all.len()));
    }

    #[test]
    fn the_blockchain_going_down_inhibits_the_latency_of_what_depends_on_it() {
        let env = production();
        let d = Graph::new(&env).dependents(BLOCKCHAIN);
        for w in [
            "consensus-manager",
            "agent-orchestrator",
            "cartesi-runtime",
            VALIDATOR,
        ] {
            assert!(d.contains(w), "{w} in {d:?}");
        }
        assert!(!d.contains("doc-ingester"));
        let inh = inhibitions(&env);
        let targets: Vec<&str> = inh["BlockchainNodeDown"].iter().copied().collect();
        assert_eq!(
            targets,
            [
                "AgentDeploymentTimeAboveTarget",
                "ConsensusValidationTimeAboveTarget"
            ]
        );
    }
}
