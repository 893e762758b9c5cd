//! The `kubernetes` target: every core Kubernetes object of a Kubernetes environment (Namespaces,
//! workloads with their ServiceAccounts, Services, HPAs and PDBs, ResourceQuotas and
//! NetworkPolicies), built with `k8s-openapi` types and written under `kubernetes/`.
//!
//! The building blocks every workload shares (standard labels, the hardened pod template, Vault
//! agent annotations, posture-scan waivers) live in [`pod`] so that the `backup` target produces
//! pods that pass the same checks.

pub(crate) mod network;
pub(crate) mod pod;
pub(crate) mod workloads;

use crate::model::Environment;
use crate::render;
use crate::targets::{Artifact, Context, Target, TargetError};
use k8s_openapi::api::core::v1::{Namespace, ResourceQuota, ResourceQuotaSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use std::collections::BTreeMap;

pub struct Kubernetes;

pub static TARGET: Kubernetes = Kubernetes;

const NAME: &str = "kubernetes";

impl Target for Kubernetes {
    fn name(&self) -> &'static str {
        NAME
    }

    fn applies(&self, env: &Environment) -> bool {
        env.is_kubernetes()
    }

    fn generate(&self, cx: &Context<'_>) -> Result<Vec<Artifact>, TargetError> {
        let env = cx.env;
        let mut out = vec![render::manifest_artifact(
            cx,
            NAME,
            "kubernetes/namespaces.yaml",
            &namespaces(env)?,
        )?];
        if !env.quotas.is_empty() {
            out.push(render::manifest_artifact(
                cx,
                NAME,
                "kubernetes/resource-quotas.yaml",
                &resource_quotas(env)?,
            )?);
        }
        if env.security.network_policies {
            out.push(render::manifest_artifact(
                cx,
                NAME,
                "kubernetes/network-policies.yaml",
                &network::policies(env)?,
            )?);
        }
        for (path, objects) in workloads::files(env)? {
            out.push(render::manifest_artifact(cx, NAME, path, &objects)?);
        }
        Ok(out)
    }
}

/// A typed object as a JSON value, so that one file can hold objects of several kinds in order.
pub(crate) fn obj<T: Serialize>(value: &T) -> Result<serde_json::Value, TargetError> {
    Ok(serde_json::to_value(value)?)
}

/// Metadata of an object: name, namespace (when namespaced) and the standard labels.
pub(crate) fn meta(
    env: &Environment,
    name: &str,
    namespace: Option<&str>,
    component: &str,
) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespace.map(str::to_owned),
        labels: Some(pod::labels(env, name, component)),
        ..ObjectMeta::default()
    }
}

/// The four DEAAP namespaces with Pod Security Admission at the model's level. `enforce` rejects
/// violating pods, `audit` and `warn` make a violation visible in the audit log and to `kubectl`
/// users; all three are pinned to the targeted Kubernetes version so an upgrade of the cluster does
/// not silently tighten or loosen the profile.
fn namespaces(env: &Environment) -> Result<Vec<serde_json::Value>, TargetError> {
    let level = env.security.pod_security.as_str();
    let version = format!(
        "v{}",
        env.environment.kubernetes_version.trim_start_matches('v')
    );
    env.namespaces
        .iter()
        .map(|(key, name)| {
            let mut m = meta(env, name, None, "namespace");
            let labels = m.labels.get_or_insert_with(BTreeMap::new);
            for mode in ["enforce", "audit", "warn"] {
                labels.insert(
                    format!("pod-security.kubernetes.io/{mode}"),
                    level.to_owned(),
                );
                labels.insert(
                    format!("pod-security.kubernetes.io/{mode}-version"),
                    version.clone(),
                );
            }
            labels.insert("deaap.io/namespace".to_owned(), key.as_str().to_owned());
            if env.security.mesh.meshed(key) {
                labels.insert("istio-injection".to_owned(), "enabled".to_owned());
            }
            obj(&Namespace {
                metadata: m,
                ..Namespace::default()
            })
        })
        .collect()
}

/// One ResourceQuota per `[quotas.<namespace-key>]`, with the seed's six hard limits.
fn resource_quotas(env: &Environment) -> Result<Vec<serde_json::Value>, TargetError> {
    env.quotas
        .iter()
        .map(|(key, q)| {
            let ns = env.namespace(key);
            let hard: BTreeMap<String, Quantity> = [
                ("requests.cpu", q.requests_cpu.to_string()),
                ("requests.memory", q.requests_memory.to_string()),
                ("limits.cpu", q.limits_cpu.to_string()),
                ("limits.memory", q.limits_memory.to_string()),
                (
                    "persistentvolumeclaims",
                    q.persistent_volume_claims.to_string(),
                ),
                ("count/pods", q.pods.to_string()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Quantity(v)))
            .collect();
            obj(&ResourceQuota {
                metadata: meta(env, "deaap-quota", Some(ns), "quota"),
                spec: Some(ResourceQuotaSpec {
                    hard: Some(hard),
                    ..ResourceQuotaSpec::default()
                }),
                ..ResourceQuota::default()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
