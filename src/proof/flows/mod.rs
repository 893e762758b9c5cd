//! Reachability: the generated `NetworkPolicies`, evaluated with Kubernetes' semantics
//! ([`policy`]) over the namespaces and pod templates generated beside them ([`cluster`]), must
//! allow every flow the model needs ([`need`]) and deny every other connection between two pods
//! where one of them is a DEAAP workload. A needed flow that is denied is DG0520 on the model key
//! that needs it; a connection the model does not need that is allowed is DG0521 on the workload
//! that opens it (or receives it); a workload whose pods were not generated is DG0522.
//!
//! Addresses outside the pod network (nodes, the API server, the object store, a Vault outside
//! the cluster) are allowed by port because the model does not know their addresses: for them
//! only the needed flows are checked.

pub mod cluster;
pub mod need;
pub mod policy;
pub mod spec;

use super::{Proof, Subject, Summary};
use crate::load::Seg;
use crate::model::Environment;
use crate::targets::Artifact;
use crate::validate::Report;
use crate::validate::rules::DiagnosticExt as _;
use policy::{Endpoint, Place, Protocol, Verdict};
use std::collections::{HashMap, HashSet};

/// The reachability proof, listed in [`super::all`].
pub const PROOF: Proof = Proof { name: "flows", run };

/// What the model says about one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// It needs it, for `why`, because of `key`.
    Allow { key: Vec<Seg>, why: String },
    /// It does not need it; `key` is the workload it concerns.
    Deny { key: Vec<Seg> },
}

/// One connection: from an endpoint to a port of another, what the model expects and what the
/// policies decide.
#[derive(Debug, Clone)]
pub struct Flow {
    pub from: String,
    pub to: String,
    pub port: u16,
    pub protocol: Protocol,
    pub expect: Expect,
    pub verdict: Verdict,
}

impl Flow {
    /// Whether the policies decide as the model expects.
    #[must_use]
    pub fn holds(&self) -> bool {
        match self.expect {
            Expect::Allow { .. } => self.verdict.allowed(),
            Expect::Deny { .. } => !self.verdict.allowed(),
        }
    }
}

/// The reachability of one environment: its endpoints, every connection judged, and the
/// workloads whose pods are missing from the generated objects.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    pub endpoints: Vec<Endpoint>,
    pub flows: Vec<Flow>,
    /// How many of the connections the model needs the policies allow.
    pub allowed_needs: usize,
    /// Workloads the model deploys without a generated pod template: (endpoint id, model key).
    pub missing: Vec<(String, Vec<Seg>)>,
    /// Whether connections the model does not need were judged (only with
    /// `security.network_policies`; without policies everything is allowed).
    pub isolated: bool,
}

/// Evaluates the generated policies of a Kubernetes environment; `None` for other platforms.
/// Every connection judged is in [`Analysis::flows`] (the connection matrix of `check --flows`).
///
/// # Errors
/// A generated object that does not read back (a generator defect).
pub fn analyse(env: &Environment, artifacts: &[Artifact]) -> Result<Option<Analysis>, String> {
    analyse_keeping(env, artifacts, Keep::Every)
}

/// Which judged connections an analysis keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// Every connection judged.
    Every,
    /// Those the policies decide otherwise than the model expects: what the proof reports (the
    /// allowed needed ones are only counted). Every connection is still judged, but a denied one
    /// the model does not need is found denied through the destination's ingress, without judging
    /// it pair by pair.
    Findings,
}

fn analyse_keeping(
    env: &Environment,
    artifacts: &[Artifact],
    keep: Keep,
) -> Result<Option<Analysis>, String> {
    if !env.is_kubernetes() {
        return Ok(None);
    }
    let (generated, model) = inputs(env, artifacts)?;
    Ok(Some(judge(
        generated,
        &model,
        env.security.network_policies,
        keep,
    )))
}

/// What the analysis reads: the generated network, and what the model says about it.
fn inputs(
    env: &Environment,
    artifacts: &[Artifact],
) -> Result<(cluster::Generated, need::Model), String> {
    Ok((cluster::read(artifacts)?, need::model(env, artifacts)))
}

/// Judges every connection of the `generated` network against the `model`; `isolated` with
/// `security.network_policies`.
fn judge(
    mut generated: cluster::Generated,
    model: &need::Model,
    isolated: bool,
    keep: Keep,
) -> Analysis {
    // The add-ons' namespaces exist in the cluster with the label the API server gives each.
    for a in &model.addons {
        if let Place::Pod { namespace } = &a.place
            && !generated.network.has_namespace(namespace)
        {
            generated
                .network
                .namespace(namespace, policy::Labels::new());
        }
    }
    let mut endpoints: Vec<Endpoint> = std::mem::take(&mut generated.pods);
    endpoints.extend(model.addons.iter().cloned());
    let mut out = Analysis {
        isolated,
        ..Analysis::default()
    };
    let index: HashMap<&str, usize> = endpoints
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.as_str(), i))
        .collect();
    for o in &model.owned {
        if !index.contains_key(o.id.as_str()) {
            out.missing.push((o.id.clone(), o.key.clone()));
        }
    }
    let judge = generated.network.judge(&endpoints);
    let mut judged: HashSet<(usize, usize, u16, Protocol)> = HashSet::new();
    // A connection from endpoint `i` to port `port`/`protocol` of endpoint `j`, as judged.
    let flow = |i: usize, j: usize, port: u16, protocol: Protocol, expect, verdict| Flow {
        from: endpoints[i].id.clone(),
        to: endpoints[j].id.clone(),
        port,
        protocol,
        expect,
        verdict,
    };
    for n in &model.needs {
        let (Some(&i), Some(&j)) = (index.get(&*n.from), index.get(&*n.to)) else {
            continue;
        };
        if judged.insert((i, j, n.port, n.protocol)) {
            let verdict = judge.verdict(i, j, n.port, n.protocol);
            if verdict.allowed() {
                out.allowed_needs += 1;
                if keep == Keep::Findings {
                    continue;
                }
            }
            let expect = Expect::Allow {
                key: n.key.to_vec(),
                why: n.why.to_string(),
            };
            out.flows
                .push(flow(i, j, n.port, n.protocol, expect, verdict));
        }
    }
    if out.isolated {
        // Each endpoint's model key when it is a DEAAP workload's.
        let mut owned: HashMap<&str, &Vec<Seg>> = HashMap::new();
        for o in &model.owned {
            owned.entry(o.id.as_str()).or_insert(&o.key);
        }
        let owners: Vec<Option<&Vec<Seg>>> = endpoints
            .iter()
            .map(|e| owned.get(e.id.as_str()).copied())
            .collect();
        let is_pod = |i: usize| matches!(endpoints[i].place, Place::Pod { .. });
        let pods: Vec<usize> = (0..endpoints.len()).filter(|i| is_pod(*i)).collect();
        // A connection from pod `i` to port `p` of pod `j` that the model does not need, unless
        // judged already (needed, or a port `j` declares twice).
        let unneeded = |i: usize, j: usize, p: usize| {
            let port = &endpoints[j].ports[p];
            let first = endpoints[j].ports[..p]
                .iter()
                .all(|q| (q.number, q.protocol) != (port.number, port.protocol));
            let key = owners[i].or(owners[j])?;
            (first && !judged.contains(&(i, j, port.number, port.protocol)))
                .then(|| Expect::Deny { key: key.clone() })
        };
        // That connection as judged, when the model does not need it.
        let unneeded_flow = |i: usize, j: usize, p: usize| {
            let expect = unneeded(i, j, p)?;
            let port = &endpoints[j].ports[p];
            let verdict = judge.verdict(i, j, port.number, port.protocol);
            Some(flow(i, j, port.number, port.protocol, expect, verdict))
        };
        match keep {
            Keep::Every => {
                for &i in &pods {
                    for &j in &pods {
                        for p in 0..endpoints[j].ports.len() {
                            out.flows.extend(unneeded_flow(i, j, p));
                        }
                    }
                }
            }
            Keep::Findings => {
                // The sources the ingress side of each port admits, then each of them judged
                // whole; in the order the matrix lists them.
                let mut allowed: Vec<(usize, usize, usize)> = Vec::new();
                for &j in &pods {
                    for (p, port) in endpoints[j].ports.iter().enumerate() {
                        let check = |i: usize| {
                            is_pod(i)
                                && unneeded(i, j, p).is_some()
                                && judge.verdict(i, j, port.number, port.protocol).allowed()
                        };
                        match judge.ingress_sources(j, port.number, port.protocol) {
                            None => allowed
                                .extend(pods.iter().filter(|i| check(**i)).map(|&i| (i, j, p))),
                            Some(s) => {
                                allowed.extend(s.iter().filter(|i| check(*i)).map(|i| (i, j, p)));
                            }
                        }
                    }
                }
                allowed.sort_unstable();
                for (i, j, p) in allowed {
                    out.flows.extend(unneeded_flow(i, j, p));
                }
            }
        }
    }
    out.endpoints = endpoints;
    out
}

fn run(s: &Subject<'_>, report: &mut Report<'_>, summary: &mut Summary) {
    if !s.env.is_kubernetes() {
        return;
    }
    let (generated, model) = match cluster::read(s.artifacts) {
        Ok(generated) => (generated, need::model_of(s.env, s.artifacts, s.workloads)),
        Err(e) => {
            report
                .error(
                    "DG0522",
                    crate::path!["environment", "platform"],
                    format!("the generated objects cannot be evaluated: {e}"),
                    "the network of this environment",
                )
                .help("this is a defect of deaap-gen; please report it");
            return;
        }
    };
    // A clean outcome kept for the same inputs is what judging them again would find.
    let isolated = s.env.security.network_policies;
    let judge = |(generated, model, isolated), report: &mut Report<'_>, flows: &mut usize| {
        let analysis = judge(generated, &model, isolated, Keep::Findings);
        *flows += analysis.allowed_needs;
        for (id, key) in &analysis.missing {
            report.error(
                "DG0522",
                key,
                format!(
                    "no pod template was generated for `{id}`, so none of its flows can be proven"
                ),
                "deploys this workload",
            );
        }
        for f in analysis.flows.iter().filter(|f| !f.holds()) {
            match &f.expect {
                Expect::Allow { key, why } => {
                    report
                        .error(
                            "DG0520",
                            key,
                            format!(
                                "the generated NetworkPolicies deny `{}` → `{}` on {}/{} ({why}), which the model needs",
                                f.from, f.to, f.port, f.protocol
                            ),
                            "needs this flow",
                        )
                        .help(f.verdict.why());
                }
                Expect::Deny { key } => {
                    report
                        .error(
                            "DG0521",
                            key,
                            format!(
                                "the generated NetworkPolicies allow `{}` → `{}` on {}/{}, which the model does not need",
                                f.from, f.to, f.port, f.protocol
                            ),
                            "this workload",
                        )
                        .help(format!(
                            "{}; every connection the model does not need must be denied",
                            f.verdict.why()
                        ));
                }
            }
        }
    };
    super::kept::reuse_or_judge(
        "flows",
        &s.env.environment.name,
        (generated, model, isolated),
        report,
        &mut summary.flows,
        judge,
    );
}

#[cfg(test)]
mod tests;
