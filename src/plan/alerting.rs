//! What an alert is about and what it affects: the workload whose series an alert watches, the
//! workloads that depend on it through the service graph (`depends_on`), and the alerts of the
//! environment with their names. The alert routing (inhibitions), the runbooks and the rules share
//! this view.

use super::{BLOCKCHAIN, Kind, Workload, deployed};
use crate::model::{Alert, Environment, Signal};
use std::collections::{BTreeMap, BTreeSet};

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

/// The workload an `exposed_by` names: a service or storage key, `blockchain` or `consensus`.
#[must_use]
pub fn exposer(w: &Workload<'_>, by: &str) -> bool {
    match w.kind {
        Kind::Service | Kind::Storage => w.name == by,
        Kind::Blockchain => by == "blockchain",
        Kind::Consensus => by == "consensus",
        Kind::Backup => false,
    }
}

/// The name of the deployed workload an alert watches: the exposer of its metric, or for an `up`
/// alert the workload its selector names (`job` of the blockchain nodes, or `app`).
#[must_use]
pub fn subject(env: &Environment, alert: &Alert) -> Option<String> {
    let plan = deployed(env);
    if alert.signal == Signal::Up {
        let wanted = if alert.selector.get("job") == Some(&env.blockchain.metrics_job) {
            Some(BLOCKCHAIN.to_owned())
        } else {
            alert.selector.get("app").cloned()
        };
        return wanted.filter(|n| plan.iter().any(|w| &w.name == n));
    }
    let by = env.metrics.get(&alert.metric)?.exposed_by.as_str();
    plan.iter().find(|w| exposer(w, by)).map(|w| w.name.clone())
}

/// The deployed workloads that depend on `name`, directly or through others, sorted by name.
#[must_use]
pub fn dependents(env: &Environment, name: &str) -> BTreeSet<String> {
    let mut users: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let plan = deployed(env);
    for w in &plan {
        for d in &w.depends_on {
            users.entry(d.as_str()).or_default().push(w.name.as_str());
        }
    }
    let mut out = BTreeSet::new();
    let mut todo = vec![name];
    while let Some(n) = todo.pop() {
        for u in users.get(n).into_iter().flatten() {
            if *u != name && out.insert((*u).to_owned()) {
                todo.push(u);
            }
        }
    }
    out
}

/// The workloads `name` depends on directly (its `depends_on`).
#[must_use]
pub fn dependencies(env: &Environment, name: &str) -> Vec<String> {
    deployed(env)
        .into_iter()
        .find(|w| w.name == name)
        .map(|w| w.depends_on)
        .unwrap_or_default()
}

/// For each `up` alert whose workload has dependents: the latency alerts (`quantile` signals) of
/// those dependents, which it inhibits while it fires. Sorted by alert name.
#[must_use]
pub fn inhibitions(env: &Environment) -> BTreeMap<&str, BTreeSet<&str>> {
    let all = alerts(env);
    let mut out = BTreeMap::new();
    for down in all.iter().filter(|a| a.alert.signal == Signal::Up) {
        let Some(w) = subject(env, down.alert) else {
            continue;
        };
        let affected = dependents(env, &w);
        let targets: BTreeSet<&str> = all
            .iter()
            .filter(|a| matches!(a.alert.signal, Signal::Quantile { .. }))
            .filter(|a| subject(env, a.alert).is_some_and(|s| affected.contains(&s)))
            .map(|a| a.name)
            .collect();
        if !targets.is_empty() {
            out.insert(down.name, targets);
        }
    }
    out
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
    fn the_blockchain_going_down_inhibits_the_latency_of_what_depends_on_it() {
        let env = production();
        let d = dependents(&env, BLOCKCHAIN);
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
