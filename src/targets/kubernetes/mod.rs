//! The `kubernetes` target: every core Kubernetes object of a Kubernetes environment (Namespaces,
//! workloads with their `ServiceAccounts`, Services, HPAs and PDBs, `ResourceQuotas`,
//! `NetworkPolicies` and the application data claim), built with `k8s-openapi` types and written under `kubernetes/`.
//!
//! The building blocks every workload shares (the hardened pod template, Vault agent annotations,
//! posture-scan waivers) live in [`pod`] so that the `backup` target produces pods that pass the
//! same checks; labels, metadata and the object conversion come from the [`kit`].

pub(crate) mod network;
pub(crate) mod sentinel;
pub(crate) mod workloads;

use crate::model::Environment;
use crate::targets::kit::{self, Object, meta};
use crate::targets::{Artifact, Context, Target, TargetError};
use k8s_openapi::api::core::v1::{
    Namespace, PersistentVolumeClaim, ResourceQuota, ResourceQuotaSpec,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

pub(crate) struct Kubernetes;

pub(crate) static TARGET: Kubernetes = Kubernetes;

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
        let mut out = vec![kit::manifest(
            cx,
            NAME,
            "kubernetes/namespaces.yaml",
            namespaces(env)?,
        )];
        if !env.quotas.is_empty() {
            out.push(kit::manifest(
                cx,
                NAME,
                "kubernetes/resource-quotas.yaml",
                resource_quotas(env)?,
            ));
        }
        if env.security.network_policies {
            out.push(kit::manifest(
                cx,
                NAME,
                "kubernetes/network-policies.yaml",
                network::policies(env, cx.workloads())?,
            ));
        }
        if let Some(claim) = data_claim(env)? {
            out.push(kit::manifest(cx, NAME, "kubernetes/data.yaml", vec![claim]));
        }
        out.extend(workloads::files(cx, NAME)?);
        Ok(out)
    }
}

/// The application data volume (`[data]`): the claim `backup.data_claim` in `data.namespace`,
/// which the data services, the full backup and the data restore mount. Neither Argo CD nor Helm
/// ever deletes it: removing the claim would delete the data with it.
fn data_claim(env: &Environment) -> Result<Option<Object>, TargetError> {
    let Some(d) = &env.data else {
        return Ok(None);
    };
    let name = &env.backup.data_claim;
    let mut metadata = meta(env, name, Some(env.namespace(d.namespace)), "data");
    metadata.annotations = Some(BTreeMap::from([
        (
            "argocd.argoproj.io/sync-options".to_owned(),
            "Prune=false,Delete=false".to_owned(),
        ),
        ("helm.sh/resource-policy".to_owned(), "keep".to_owned()),
    ]));
    kit::object(&PersistentVolumeClaim {
        metadata,
        spec: Some(workloads::claim_spec(
            d.access_mode,
            &d.size,
            d.storage_class.as_ref(),
        )),
        ..PersistentVolumeClaim::default()
    })
    .map(Some)
}

/// The four DEAAP namespaces, labelled for Pod Security Admission and sidecar injection
/// ([`kit::namespace_labels`]).
fn namespaces(env: &Environment) -> Result<Vec<Object>, TargetError> {
    env.namespaces
        .iter()
        .map(|(key, name)| {
            kit::object(&Namespace {
                metadata: ObjectMeta {
                    name: Some(name.to_owned()),
                    labels: Some(kit::namespace_labels(env, key, name)),
                    ..ObjectMeta::default()
                },
                ..Namespace::default()
            })
        })
        .collect()
}

/// One `ResourceQuota` per `[quotas.<namespace-key>]`, with the seed's six hard limits.
fn resource_quotas(env: &Environment) -> Result<Vec<Object>, TargetError> {
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
            kit::object(&ResourceQuota {
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
