//! What an alert is about and what it affects: the workload whose series an alert watches, the
//! workloads that depend on it through the service graph (`depends_on`), and the alerts of the
//! environment with their names. The alert routing (inhibitions), the runbooks and the rules share
//! this view.

use super::{BLOCKCHAIN, Kind, Workload};
use crate::bits::Bits;
use crate::model::{Alert, Environment, Signal};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

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
    /// The deployed workloads, in plan order.
    plan: Vec<&'e Workload<'e>>,
    by_name: HashMap<String, usize>,
    /// The workload each `exposed_by` name gives: a service or storage key, `blockchain` or
    /// `consensus` (the first of each, in plan order).
    exposers: HashMap<String, usize>,
    /// For each workload name, the workloads that list it in `depends_on`.
    users: HashMap<String, Vec<usize>>,
    /// What depends on each workload and what each depends on, worked out once when first asked
    /// (`None` when two workloads share a name; then every question walks the graph).
    closures: OnceLock<Option<Closures>>,
}

/// The service graph's closures for uniquely named workloads, computed in one pass each way: a
/// runbook per alert asking for its workload's dependents would otherwise walk the graph once per
/// page, and in a chain of services that is the square of the services.
struct Closures {
    /// Each workload's bit (by plan index): its rank by name.
    bit: Vec<usize>,
    /// The workload at each bit.
    at_bit: Vec<usize>,
    /// Each workload's strongly connected component: workloads that depend on one another in a
    /// cycle share their closures.
    component: Vec<usize>,
    /// The workloads of each component.
    members: Vec<Vec<usize>>,
    /// Per component: the bits of the workloads of other components that depend on it, directly
    /// or through others.
    below: Vec<Bits>,
    /// Per component: its workloads and those they depend on, directly or through others, that a
    /// failure investigation checks ([`Graph::checked_upstream`]), by plan index in name order.
    upstream: Vec<Vec<usize>>,
}

impl Closures {
    /// The bits of the workloads that depend on workload `i`, directly or through others: the
    /// rest of its component and everything below it.
    fn dependents(&self, i: usize) -> Bits {
        let c = self.component[i];
        let mut set = self.below[c].clone();
        for &j in self.members[c].iter().filter(|&&j| j != i) {
            set.insert(self.bit[j]);
        }
        set
    }
}

impl<'e> Graph<'e> {
    /// The graph of the deployed workloads among `workloads` (as [`super::workloads`] gives them).
    #[must_use]
    pub fn new(env: &'e Environment, workloads: &'e [Workload<'e>]) -> Self {
        let plan: Vec<&Workload<'e>> = workloads.iter().filter(|w| w.deployed).collect();
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
            closures: OnceLock::new(),
        }
    }

    fn closures(&self) -> Option<&Closures> {
        self.closures.get_or_init(|| self.close()).as_ref()
    }

    /// Works out [`Closures`] over the graph's strongly connected components (workloads that
    /// depend on one another in a cycle share their closures): checked workloads upstream from
    /// the components everything depends on, dependents the other way.
    fn close(&self) -> Option<Closures> {
        let n = self.plan.len();
        if self.by_name.len() != n {
            return None;
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| self.plan[a].name.cmp(&self.plan[b].name));
        let mut bit = vec![0; n];
        for (b, &i) in order.iter().enumerate() {
            bit[i] = b;
        }
        let dependencies = self.dependencies();
        let (component, members) = strongly_connected(&dependencies);
        // Components come dependencies first.
        let mut upstream: Vec<Vec<usize>> = Vec::with_capacity(members.len());
        for (c, workloads) in members.iter().enumerate() {
            let mut mine: Vec<usize> = workloads
                .iter()
                .copied()
                .filter(|&i| self.is_checked(self.plan[i]))
                .collect();
            for &i in workloads {
                for &d in &dependencies[i] {
                    if component[d] != c {
                        mine.extend_from_slice(&upstream[component[d]]);
                    }
                }
            }
            mine.sort_by_key(|&j| bit[j]);
            mine.dedup();
            upstream.push(mine);
        }
        let mut below: Vec<Bits> = vec![Bits::new(n); members.len()];
        for c in (0..members.len()).rev() {
            let mut mine = Bits::new(n);
            for &i in &members[c] {
                for &u in self.users.get(&self.plan[i].name).into_iter().flatten() {
                    let theirs = component[u];
                    if theirs != c {
                        for &j in &members[theirs] {
                            mine.insert(bit[j]);
                        }
                        mine.union(&below[theirs]);
                    }
                }
            }
            below[c] = mine;
        }
        Some(Closures {
            bit,
            at_bit: order,
            component,
            members,
            below,
            upstream,
        })
    }

    /// Whether a failure investigation checks the workload: a store, the blockchain, a consensus
    /// workload or the consensus writer.
    fn is_checked(&self, w: &Workload<'_>) -> bool {
        matches!(w.kind, Kind::Storage | Kind::Blockchain | Kind::Consensus)
            || w.name == self.env.consensus.writer_service
    }

    /// Each workload's dependencies in the plan, by index.
    fn dependencies(&self) -> Vec<Vec<usize>> {
        self.plan
            .iter()
            .map(|w| {
                w.depends_on
                    .iter()
                    .filter_map(|d| self.by_name.get(d).copied())
                    .collect()
            })
            .collect()
    }

    /// `name` and every workload it depends on, directly or through others, that a failure
    /// investigation checks (the stores, the blockchain, the consensus workloads and the consensus
    /// writer), sorted by name.
    #[must_use]
    pub fn checked_upstream(&self, name: &str) -> Vec<&Workload<'e>> {
        if let (Some(c), Some(&i)) = (self.closures(), self.by_name.get(name)) {
            let upstream = &c.upstream[c.component[i]];
            return upstream.iter().map(|&j| self.plan[j]).collect();
        }
        self.checked_upstream_by_walking(name)
    }

    /// [`Graph::checked_upstream`] by walking the graph from `name`.
    fn checked_upstream_by_walking(&self, name: &str) -> Vec<&Workload<'e>> {
        let mut involved: BTreeSet<&str> = BTreeSet::from([name]);
        let mut todo: Vec<&str> = vec![name];
        while let Some(n) = todo.pop() {
            for d in self.find(n).into_iter().flat_map(|w| &w.depends_on) {
                if involved.insert(d) {
                    todo.push(d);
                }
            }
        }
        involved
            .into_iter()
            .filter_map(|n| self.find(n))
            .filter(|w| self.is_checked(w))
            .collect()
    }

    /// The deployed workloads, in plan order.
    #[must_use]
    pub fn plan(&self) -> &[&'e Workload<'e>] {
        &self.plan
    }

    /// The deployed workload named `name`.
    #[must_use]
    pub fn find(&self, name: &str) -> Option<&Workload<'e>> {
        self.by_name.get(name).map(|&i| self.plan[i])
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
        self.exposers.get(by).map(|&i| self.plan[i])
    }

    /// The deployed workloads that depend on `name`, directly or through others, sorted by name.
    #[must_use]
    pub fn dependents(&self, name: &str) -> BTreeSet<String> {
        if let (Some(c), Some(&i)) = (self.closures(), self.by_name.get(name)) {
            let set = c.dependents(i);
            return set
                .iter()
                .map(|b| self.plan[c.at_bit[b]].name.clone())
                .collect();
        }
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
        if let (Some(c), Some(&i)) = (self.closures(), self.by_name.get(name)) {
            let set = c.dependents(i);
            let first = set.iter().take(limit).map(|b| self.plan[c.at_bit[b]]);
            return (set.len(), first.collect());
        }
        self.dependents_sample_by_walking(name, limit)
    }

    /// [`Graph::dependents_sample`] by walking the graph from `name`.
    fn dependents_sample_by_walking(
        &self,
        name: &str,
        limit: usize,
    ) -> (usize, Vec<&Workload<'e>>) {
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
            first.into_iter().map(|(_, i)| self.plan[i]).collect(),
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
        self.inhibitions_walking(None)
    }

    /// [`Graph::inhibitions`], finding each `up` alert's dependents by walking the graph
    /// (`Some(true)`), through the closures (`Some(false)`), or as is cheaper for their number.
    fn inhibitions_walking(&self, walk: Option<bool>) -> BTreeMap<&'e str, BTreeSet<&'e str>> {
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
        let downs: Vec<(&NamedAlert<'e>, &Workload<'e>)> = all
            .iter()
            .filter(|a| a.alert.signal == Signal::Up)
            .filter_map(|a| Some((a, self.subject(a.alert)?)))
            .collect();
        // Walking the graph from a workload costs the size of the graph; the closures cost its
        // square over 64, once (in a chain of 10,000 services, 12.5 MB of bits): a few `up`
        // alerts walk it, many share the closures.
        let walk = walk.unwrap_or(downs.len().saturating_mul(64) < self.plan.len());
        let latency_of = |name: &str| latency.get(name).into_iter().flatten().copied();
        let mut out = BTreeMap::new();
        for (down, w) in downs {
            let targets: BTreeSet<&'e str> = if walk {
                self.walk_dependents(&w.name, |_| {})
                    .into_iter()
                    .flat_map(|i| latency_of(&self.plan[i].name))
                    .collect()
            } else {
                self.dependents(&w.name)
                    .iter()
                    .flat_map(|d| latency_of(d))
                    .collect()
            };
            if !targets.is_empty() {
                out.insert(down.name, targets);
            }
        }
        out
    }
}

/// For each `up` alert whose workload has dependents: the latency alerts of those dependents
/// ([`Graph::inhibitions`]); `workloads` as [`super::workloads`] gives them.
#[must_use]
pub fn inhibitions<'e>(
    env: &'e Environment,
    workloads: &'e [Workload<'e>],
) -> BTreeMap<&'e str, BTreeSet<&'e str>> {
    Graph::new(env, workloads).inhibitions()
}

/// The strongly connected components of a graph given by each node's successors (Tarjan's
/// algorithm, without recursion): each node's component, and the components' members, every
/// component after all those it reaches.
fn strongly_connected(successors: &[Vec<usize>]) -> (Vec<usize>, Vec<Vec<usize>>) {
    const UNSEEN: usize = usize::MAX;
    let n = successors.len();
    let (mut index, mut low) = (vec![UNSEEN; n], vec![0; n]);
    let mut on_stack = vec![false; n];
    let (mut stack, mut component, mut components) = (Vec::new(), vec![UNSEEN; n], Vec::new());
    let mut next = 0;
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        // Each frame: a node and how many of its successors it has visited.
        let mut frames = vec![(root, 0)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&(v, e)) = frames.last() {
            if let Some(&w) = successors[v].get(e) {
                if let Some(top) = frames.last_mut() {
                    top.1 += 1;
                }
                if index[w] == UNSEEN {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    frames.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            frames.pop();
            if let Some(&(parent, _)) = frames.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut members = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component[w] = components.len();
                    members.push(w);
                    if w == v {
                        break;
                    }
                }
                components.push(members);
            }
        }
    }
    (component, components)
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
        let ws = crate::plan::workloads(&env);
        let graph = Graph::new(&env, &ws);
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

    /// Names of workloads, for comparing answers.
    fn names(ws: &[&Workload<'_>]) -> Vec<String> {
        ws.iter().map(|w| w.name.clone()).collect()
    }

    /// Every question the closures answer, asked of every workload, against walking the graph.
    fn closures_agree_with_walking(env: &Environment) {
        let ws = crate::plan::workloads(env);
        let graph = Graph::new(env, &ws);
        assert!(graph.closures().is_some(), "the closures are computed");
        for w in graph.plan() {
            for limit in [0, 2, 20, usize::MAX] {
                let (total, shown) = graph.dependents_sample(&w.name, limit);
                let (walked, walked_shown) = graph.dependents_sample_by_walking(&w.name, limit);
                assert_eq!(
                    (total, names(&shown)),
                    (walked, names(&walked_shown)),
                    "{}",
                    w.name
                );
            }
            let walked: BTreeSet<String> = graph
                .walk_dependents(&w.name, |_| {})
                .into_iter()
                .map(|i| graph.plan()[i].name.clone())
                .collect();
            assert_eq!(graph.dependents(&w.name), walked, "{}", w.name);
            assert_eq!(
                names(&graph.checked_upstream(&w.name)),
                names(&graph.checked_upstream_by_walking(&w.name)),
                "{}",
                w.name
            );
        }
    }

    #[test]
    fn the_closures_answer_as_walking_the_graph_does() {
        let mut env = production();
        closures_agree_with_walking(&env);
        // Every service also depending on the one before it by name: a chain through all of them,
        // the shape whose walks grow with the square of the services.
        let names: Vec<String> = env.services.keys().cloned().collect();
        for pair in names.windows(2) {
            let before = pair[0].clone();
            let service = env.services.get_mut(&pair[1]).expect("the service exists");
            if !service.depends_on.contains(&before) {
                service.depends_on.push(before);
            }
        }
        closures_agree_with_walking(&env);
        let most = |env: &Environment| {
            let ws = crate::plan::workloads(env);
            let graph = Graph::new(env, &ws);
            let totals = graph
                .plan()
                .iter()
                .map(|w| graph.dependents_sample(&w.name, 0).0);
            totals.max().unwrap_or_default()
        };
        assert!(
            most(&env) > most(&production()),
            "the chain reaches further"
        );
    }

    /// Workloads that depend on one another in a cycle share their closures, and each is the
    /// other's dependent.
    #[test]
    fn a_cycle_shares_its_closures() {
        let mut env = production();
        let (user, dependency) = env
            .services
            .iter()
            .find_map(|(name, s)| {
                let d = s
                    .depends_on
                    .iter()
                    .find(|d| env.services.contains_key(*d))?;
                Some((name.clone(), d.clone()))
            })
            .expect("a service depends on another");
        env.services
            .get_mut(&dependency)
            .expect("the service exists")
            .depends_on
            .push(user);
        let ws = crate::plan::workloads(&env);
        let graph = Graph::new(&env, &ws);
        let (_, components) = strongly_connected(&graph.dependencies());
        let cycle = components
            .iter()
            .find(|c| c.len() > 1)
            .expect("the two services make a cycle");
        for &i in cycle {
            let (_, shown) = graph.dependents_sample(&graph.plan()[i].name, usize::MAX);
            for &j in cycle.iter().filter(|&&j| j != i) {
                let other = &graph.plan()[j].name;
                assert!(shown.iter().any(|w| &w.name == other), "{other}");
            }
        }
        closures_agree_with_walking(&env);
    }

    /// Walking the graph from each `up` alert's workload finds the same inhibitions as the
    /// closures, in production and in a chain of services behind the blockchain, each with a
    /// latency alert of its own that the blockchain going down inhibits.
    #[test]
    fn walking_and_the_closures_find_the_same_inhibitions() {
        let mut env = production();
        {
            let ws = crate::plan::workloads(&env);
            let graph = Graph::new(&env, &ws);
            let closures = graph.inhibitions_walking(Some(false));
            assert!(!closures.is_empty());
            assert_eq!(graph.inhibitions_walking(Some(true)), closures);
            assert_eq!(graph.inhibitions(), closures);
        }
        let template = env.services["agent-orchestrator"].clone();
        let latency = env.alerts["DocIngesterHighLatency"].clone();
        let metric = env.metrics[&latency.metric].clone();
        let mut before = "agent-orchestrator".to_owned();
        for i in 0..100 {
            let name = format!("chain-{i:03}");
            let mut service = template.clone();
            service.depends_on = vec![before.clone()];
            env.services.insert(name.clone(), service);
            let mut m = metric.clone();
            m.exposed_by.clone_from(&name);
            let mut a = latency.clone();
            a.metric = format!("chain_{i:03}_duration_seconds");
            env.metrics.insert(a.metric.clone(), m);
            env.alerts.insert(format!("Chain{i:03}HighLatency"), a);
            before = name;
        }
        let ws = crate::plan::workloads(&env);
        let graph = Graph::new(&env, &ws);
        let closures = graph.inhibitions_walking(Some(false));
        assert!(closures["BlockchainNodeDown"].contains("Chain000HighLatency"));
        assert!(closures["BlockchainNodeDown"].contains("Chain099HighLatency"));
        assert_eq!(graph.inhibitions_walking(Some(true)), closures);
        assert_eq!(graph.inhibitions(), closures);
    }

    #[test]
    fn the_blockchain_going_down_inhibits_the_latency_of_what_depends_on_it() {
        let env = production();
        let ws = crate::plan::workloads(&env);
        let d = Graph::new(&env, &ws).dependents(BLOCKCHAIN);
        for w in [
            "consensus-manager",
            "agent-orchestrator",
            "cartesi-runtime",
            VALIDATOR,
        ] {
            assert!(d.contains(w), "{w} in {d:?}");
        }
        assert!(!d.contains("doc-ingester"));
        let inh = inhibitions(&env, &ws);
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
