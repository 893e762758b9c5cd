//! The `tracing` target, from `[tracing]`: request tracing through the Istio mesh, reported to a
//! Jaeger collector the platform runs (deaap-gen does not deploy Jaeger).
//!
//! - `istio/telemetry.yaml`: a `Telemetry` (`telemetry.istio.io/v1`) in each meshed namespace,
//!   sampling `tracing.sampling` percent of requests to the provider. Per namespace rather than
//!   mesh-wide in `istio-system`, so the environment sets its own rate and leaves the mesh's
//!   other tenants alone.
//! - `helm/istiod-values.yaml`: the mesh configuration's `extensionProviders` entry for the
//!   provider (OpenTelemetry or Zipkin, at the collector's Service), as istiod's Helm values
//!   (`meshConfig`), for the Istio installation to merge.
//! - `kubernetes/tracing-network-policies.yaml`: a `NetworkPolicy` per meshed namespace (with network policies on): the
//!   sidecars send spans to the collector's namespace and port.

use crate::model::{Environment, Tracing, TracingProtocol};
use crate::render;
use crate::targets::kit::{self, Kind, Object};
use crate::targets::{Artifact, Context, Target, TargetError};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyPeer, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::Serialize;
use std::collections::BTreeMap;

pub(super) struct TracingTarget;

/// The name of each namespace's `Telemetry` and `NetworkPolicy`.
pub(super) const NAME: &str = "deaap-tracing";

const TELEMETRY: Kind = Kind::namespaced("telemetry.istio.io/v1", "Telemetry");

impl Target for TracingTarget {
    fn name(&self) -> &'static str {
        "tracing"
    }

    fn applies(&self, env: &Environment) -> bool {
        env.is_kubernetes()
            && env.tracing.as_ref().is_some_and(|t| t.enabled)
            && !meshed(env).is_empty()
    }

    fn generate(&self, cx: &Context<'_>) -> Result<Vec<Artifact>, TargetError> {
        let env = cx.env;
        let Some(t) = env.tracing.as_ref().filter(|t| t.enabled) else {
            return Ok(Vec::new());
        };
        let namespaces = meshed(env);
        let telemetries = namespaces
            .iter()
            .map(|ns| telemetry(env, t, ns))
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = vec![
            kit::manifest(cx, self.name(), "istio/telemetry.yaml", telemetries),
            render::yaml_artifact(cx, self.name(), "helm/istiod-values.yaml", &istiod(t))?,
        ];
        if env.security.network_policies {
            let policies = namespaces
                .iter()
                .map(|ns| egress(env, t, ns))
                .collect::<Result<Vec<_>, _>>()?;
            out.push(kit::manifest(
                cx,
                self.name(),
                "kubernetes/tracing-network-policies.yaml",
                policies,
            ));
        }
        Ok(out)
    }
}

/// The namespaces whose pods run the Istio sidecar, in the order of `[namespaces]`.
fn meshed(env: &Environment) -> Vec<String> {
    env.namespaces
        .iter()
        .filter(|(key, _)| env.security.mesh.meshed(*key))
        .map(|(_, ns)| ns.to_owned())
        .collect()
}

#[derive(Debug, Serialize)]
struct TelemetrySpec {
    tracing: Vec<TracingSpec>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TracingSpec {
    providers: Vec<ProviderRef>,
    /// A whole percentage is written as an integer, as YAML round-trips through Helm give it.
    random_sampling_percentage: serde_json::Number,
}

#[derive(Debug, Serialize)]
struct ProviderRef {
    name: String,
}

fn telemetry(env: &Environment, t: &Tracing, namespace: &str) -> Result<Object, TargetError> {
    TELEMETRY.object(
        kit::addon_meta(env, NAME, namespace),
        TelemetrySpec {
            tracing: vec![TracingSpec {
                providers: vec![ProviderRef {
                    name: t.provider.clone(),
                }],
                random_sampling_percentage: percentage(t.sampling)?,
            }],
        },
    )
}

/// `sampling` as a JSON number: an integer when it is whole (`100`, not `100.0`).
fn percentage(sampling: f64) -> Result<serde_json::Number, TargetError> {
    if sampling.fract() == 0.0 && (0.0..=100.0).contains(&sampling) {
        // Whole and within 0..=100: the cast is exact.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        return Ok(serde_json::Number::from(sampling as u8));
    }
    serde_json::Number::from_f64(sampling)
        .ok_or_else(|| TargetError(format!("sampling {sampling} is not a number")))
}

/// istiod's Helm values: the provider the `Telemetry` objects name.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct IstiodValues {
    mesh_config: MeshConfig,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct MeshConfig {
    extension_providers: Vec<ExtensionProvider>,
}

#[derive(Debug, Serialize)]
struct ExtensionProvider {
    name: String,
    #[serde(flatten)]
    provider: BTreeMap<&'static str, Endpoint>,
}

#[derive(Debug, Serialize)]
struct Endpoint {
    service: String,
    port: u16,
}

fn istiod(t: &Tracing) -> IstiodValues {
    let kind = match t.protocol {
        TracingProtocol::Opentelemetry => "opentelemetry",
        TracingProtocol::Zipkin => "zipkin",
    };
    IstiodValues {
        mesh_config: MeshConfig {
            extension_providers: vec![ExtensionProvider {
                name: t.provider.clone(),
                provider: BTreeMap::from([(
                    kind,
                    Endpoint {
                        service: t.collector.host(),
                        port: t.collector.port,
                    },
                )]),
            }],
        },
    }
}

/// Egress from every pod of a meshed namespace to the collector's namespace on its port.
fn egress(env: &Environment, t: &Tracing, namespace: &str) -> Result<Object, TargetError> {
    let to = NetworkPolicyPeer {
        namespace_selector: Some(kit::namespace_selector(&t.collector.namespace)),
        ..NetworkPolicyPeer::default()
    };
    kit::object(&NetworkPolicy {
        metadata: kit::meta(env, NAME, Some(namespace), "network-policy"),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Egress".to_owned()]),
            egress: Some(vec![NetworkPolicyEgressRule {
                to: Some(vec![to]),
                ports: Some(kit::tcp_ports([t.collector.port])),
            }]),
            ingress: None,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_percentages_are_integers_and_fractions_stay_fractions() {
        assert_eq!(percentage(100.0).expect("100").to_string(), "100");
        assert_eq!(percentage(1.0).expect("1").to_string(), "1");
        assert_eq!(percentage(0.5).expect("0.5").to_string(), "0.5");
    }
}
