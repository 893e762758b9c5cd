//! Tracing coverage: with `[tracing]`, every namespace where a deployed workload runs behind the
//! Istio sidecar has a generated `Telemetry` that names a provider the mesh configuration
//! (`helm/istiod-values.yaml`) defines at the model's collector, and, with network policies, a
//! policy of that namespace lets the sidecars reach the collector (DG0550). Tracing that no
//! sidecar can report is a warning: it would trace nothing.

use super::{Proof, Subject, Summary};
use crate::path;
use crate::render::Data;
use crate::validate::Report;
use crate::validate::rules::DiagnosticExt;
use serde_json::Value;
use std::collections::BTreeSet;

pub(super) const PROOF: Proof = Proof {
    name: "tracing",
    run,
};

const CODE: &str = "DG0550";

fn run(s: &Subject<'_>, report: &mut Report<'_>, _summary: &mut Summary) {
    let env = s.env;
    let Some(t) = env.tracing.as_ref().filter(|t| t.enabled) else {
        return;
    };
    if !env.is_kubernetes() {
        return;
    }
    let meshed: BTreeSet<&str> = s
        .workloads
        .iter()
        .filter(|w| w.deployed && w.in_mesh(env))
        .map(|w| w.namespace.as_str())
        .collect();
    if meshed.is_empty() {
        report
            .warning(
                CODE,
                path!["tracing"],
                "tracing is on, but no workload runs behind an Istio sidecar to report spans",
                "traces nothing",
            )
            .help("turn on `security.mesh.sidecar_injection`, or remove `[tracing]`");
        return;
    }
    // The Telemetries and NetworkPolicies, picked out once by their kind: every namespace is
    // checked against them.
    let of_kind = |kind: &str| -> Vec<&Data> {
        s.artifacts
            .iter()
            .flat_map(|a| &a.objects)
            .filter(|o| o.kind() == kind)
            .map(crate::targets::kit::Object::value)
            .collect()
    };
    let telemetries = of_kind("Telemetry");
    let policies = of_kind("NetworkPolicy");
    let providers: Vec<Value> = s
        .artifacts
        .iter()
        .find(|a| a.path == "helm/istiod-values.yaml")
        .and_then(|a| serde_yaml::from_slice::<Value>(&a.bytes.read().ok()?).ok())
        .and_then(|v| v["meshConfig"]["extensionProviders"].as_array().cloned())
        .unwrap_or_default();
    let host = t.collector.host();
    let provider_ok = providers.iter().any(|p| {
        p["name"] == t.provider.as_str()
            && ["opentelemetry", "zipkin"].iter().any(|k| {
                p[k]["service"] == host.as_str() && p[k]["port"] == u64::from(t.collector.port)
            })
    });
    if !provider_ok {
        report.error(
            CODE,
            path!["tracing", "collector"],
            format!(
                "the mesh configuration has no provider `{}` at {host}:{}",
                t.provider, t.collector.port
            ),
            "no such provider",
        );
    }
    for ns in &meshed {
        let telemetry = telemetries.iter().any(|o| {
            o["metadata"]["namespace"] == *ns
                && o["spec"]["tracing"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|tr| tr["providers"][0]["name"] == t.provider.as_str())
        });
        if !telemetry {
            report.error(
                CODE,
                path!["tracing"],
                format!(
                    "namespace `{ns}` runs sidecars but has no Telemetry for `{}`",
                    t.provider
                ),
                "no Telemetry",
            );
        }
        if env.security.network_policies
            && !egress(&policies, ns, &t.collector.namespace, t.collector.port)
        {
            report.error(
                CODE,
                path!["tracing", "collector"],
                format!(
                    "no NetworkPolicy of `{ns}` lets its sidecars reach the collector ({host}:{})",
                    t.collector.port
                ),
                "spans blocked",
            );
        }
    }
}

/// Whether one of the NetworkPolicies `policies` of `ns` allows egress to namespace `to` on
/// `port`.
fn egress(policies: &[&Data], ns: &str, to: &str, port: u16) -> bool {
    policies.iter().any(|o| {
        o["metadata"]["namespace"] == ns
            && o["spec"]["egress"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|r| {
                    r["ports"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|p| p["port"] == u64::from(port))
                        && r["to"].as_array().into_iter().flatten().any(|peer| {
                            peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                                == to
                        })
                })
    })
}
