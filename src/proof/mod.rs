//! The system proof: after generation, the generated objects are evaluated the way the cluster
//! would treat them (admission after the mutating webhooks, NetworkPolicy reachability, the
//! observability chain from each alert to the workload that exposes its series) and every
//! violation is reported as a diagnostic located on the model key that causes it. It reads only
//! the typed model, the workload plan and the generated artifacts: no network, no cluster.
//!
//! Each proof is one module with one [`Proof`] entry in [`all`]; `build`, `diff`, `render`,
//! `argocd generate` and `check` run every one of them, and an error leaves nothing written. In an
//! environment of a thousand objects or more they run side by side.

pub mod admission;
pub mod cnpg;
pub mod flows;
pub mod kept;

use crate::diagnostic::Diagnostic;
use crate::model::Environment;
use crate::targets::Artifact;
use crate::validate::Report;

mod observability;
mod tracing;

/// What a proof sees: the model, the merged tree its diagnostics point into, and the artifacts
/// generated from it.
pub struct Subject<'a> {
    pub env: &'a Environment,
    pub artifacts: &'a [Artifact],
    /// Every workload of the plan ([`crate::plan::workloads`]), planned once for all the proofs.
    pub workloads: &'a [crate::plan::Workload<'a>],
}

/// What the proofs established about one environment, for `check`'s summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// Pods and objects admitted by the simulated admission chain.
    pub admitted: usize,
    /// Flows the model needs that the generated NetworkPolicies allow.
    pub flows: usize,
    /// Alerts whose series a scraped workload produces.
    pub alerts: usize,
}

/// One proof: its name and its run, which records violations in the report and counts what it
/// established in the summary.
pub struct Proof {
    pub name: &'static str,
    pub run: fn(&Subject<'_>, &mut Report<'_>, &mut Summary),
}

/// Every proof, in the order they run. A new proof is one module plus one line here.
#[must_use]
pub fn all() -> Vec<Proof> {
    vec![
        admission::PROOF,
        flows::PROOF,
        observability::PROOF,
        tracing::PROOF,
    ]
}

/// Environments with at least this many generated objects run their proofs side by side (the unit
/// tests run every environment's so).
const SIDE_BY_SIDE_FROM: usize = if cfg!(test) { 2 } else { 1000 };

/// Runs every proof on one environment.
#[must_use]
pub fn prove<'t>(
    tree: impl Into<crate::validate::Tree<'t>>,
    env: &Environment,
    artifacts: &[Artifact],
) -> (Vec<Diagnostic>, Summary) {
    let tree = tree.into();
    let workloads = crate::plan::workloads(env);
    let subject = Subject {
        env,
        artifacts,
        workloads: &workloads,
    };
    let run = |p: &Proof| {
        let mut report = Report::new(tree);
        let mut summary = Summary::default();
        (p.run)(&subject, &mut report, &mut summary);
        (report.into_diagnostics(), summary)
    };
    // In a large environment the proofs run side by side, each with its own report; their
    // diagnostics are taken in the order of `all`, as one after the other would have found them.
    // A small one is proven faster on one thread, beside the other environments.
    let objects: usize = artifacts.iter().map(|a| a.objects.len()).sum();
    let proved = if objects >= SIDE_BY_SIDE_FROM {
        crate::parallel::map(&all(), run)
    } else {
        all().iter().map(run).collect()
    };
    let mut diagnostics = Vec::new();
    let mut summary = Summary::default();
    for (found, s) in proved {
        diagnostics.extend(found);
        summary.admitted += s.admitted;
        summary.flows += s.flows;
        summary.alerts += s.alerts;
    }
    (diagnostics, summary)
}
