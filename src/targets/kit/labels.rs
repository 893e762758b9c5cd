//! Labels, selectors and object metadata. Every label a target puts on an object comes from here.

use crate::model::{Environment, NamespaceKey};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use std::collections::BTreeMap;

/// Labels or annotations: key → value, in key order.
pub type Labels = BTreeMap<String, String>;

/// The object's name among the DEAAP components (`app.kubernetes.io/name`).
pub const NAME: &str = "app.kubernetes.io/name";
/// The environment the component instance belongs to.
pub const INSTANCE: &str = "app.kubernetes.io/instance";
/// What the object is part of the deployment as: `service`, `storage`, `backup`, ...
pub const COMPONENT: &str = "app.kubernetes.io/component";
const PART_OF: &str = "app.kubernetes.io/part-of";
const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The DEAAP environment; the OPA policies require it.
pub const ENVIRONMENT: &str = "deaap.io/environment";
/// The business unit that owns the environment; the OPA policies require it.
pub const BUSINESS_UNIT: &str = "deaap.io/business-unit";

/// The label sets of the object families. Every object says it is part of DEAAP, managed by
/// deaap-gen, in its environment; the families differ in what else they say, because they
/// belong to different owners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelSet<'a> {
    /// The objects of one DEAAP component — its workload, `ServiceAccount`, Services, HPA, PDB,
    /// network policy and backup jobs — and the namespaces, quotas and policies of the
    /// environment: the recommended `app.kubernetes.io/*` identity (name, instance, component)
    /// plus the business unit. Pod templates and selectors key on the identity.
    Component { name: &'a str, component: &'a str },
    /// Objects that configure an add-on for the environment (Istio routing and mutual TLS, the
    /// gateway's cert-manager Certificate, the prometheus-operator PrometheusRule): no component
    /// of DEAAP runs them, so they carry no `app.kubernetes.io` identity, only the ownership
    /// labels and the business unit.
    Addon,
    /// Cluster-wide admission policy (Gatekeeper `ConstraintTemplates` and Constraints): they
    /// govern every namespace they match, whoever owns it, so they carry no business unit.
    Policy,
}

impl LabelSet<'_> {
    /// The labels of the set for the environment.
    #[must_use]
    pub fn labels(self, env: &Environment) -> Labels {
        let environment = env.environment.name.as_str();
        let mut out = vec![
            (PART_OF, "deaap"),
            (MANAGED_BY, "deaap-gen"),
            (ENVIRONMENT, environment),
        ];
        if self != Self::Policy {
            out.push((BUSINESS_UNIT, env.environment.business_unit.as_str()));
        }
        if let Self::Component { name, component } = self {
            out.extend([
                (NAME, name),
                (INSTANCE, environment),
                (COMPONENT, component),
            ]);
        }
        map(out)
    }
}

fn map<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Labels {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The labels of the objects of the component `name` ([`LabelSet::Component`]).
#[must_use]
pub fn labels(env: &Environment, name: &str, component: &str) -> Labels {
    LabelSet::Component { name, component }.labels(env)
}

/// The labels of a component's pods: the component's, plus the plain `app` label (its name),
/// which Istio's telemetry and the Falco and OPA rules key on.
#[must_use]
pub fn pod_labels(env: &Environment, name: &str, component: &str) -> Labels {
    let mut out = labels(env, name, component);
    out.insert("app".to_owned(), name.to_owned());
    out
}

/// The labels of the namespace `name` (logical namespace `key`): the `namespace` component's, its
/// logical name, Istio sidecar injection where the mesh injects, and Pod Security Admission at
/// the model's level. `enforce` rejects violating pods, `audit` and `warn` make a violation
/// visible in the audit log and to `kubectl` users; all three are pinned to the targeted
/// Kubernetes version so an upgrade of the cluster does not silently tighten or loosen the
/// profile.
#[must_use]
pub fn namespace_labels(env: &Environment, key: NamespaceKey, name: &str) -> Labels {
    let mut out = labels(env, name, "namespace");
    let level = env.security.pod_security_of(key).as_str();
    let version = format!(
        "v{}",
        env.environment.kubernetes_version.trim_start_matches('v')
    );
    for mode in ["enforce", "audit", "warn"] {
        out.insert(
            format!("pod-security.kubernetes.io/{mode}"),
            level.to_owned(),
        );
        out.insert(
            format!("pod-security.kubernetes.io/{mode}-version"),
            version.clone(),
        );
    }
    out.insert("deaap.io/namespace".to_owned(), key.as_str().to_owned());
    if env.security.mesh.meshed(key) {
        out.insert("istio-injection".to_owned(), "enabled".to_owned());
    }
    out
}

/// The labels that select a workload's pods: stable across releases (no version), unique per
/// workload and environment.
#[must_use]
pub fn selector_labels(env: &Environment, name: &str) -> Labels {
    map([(NAME, name), (INSTANCE, env.environment.name.as_str())])
}

/// The labels that select the pods of every workload of one component kind in the environment
/// (all backup jobs, say).
#[must_use]
pub fn component_selector_labels(env: &Environment, component: &str) -> Labels {
    map([
        (COMPONENT, component),
        (INSTANCE, env.environment.name.as_str()),
    ])
}

/// A selector matching exactly `labels`; with no labels it selects everything.
#[must_use]
pub fn selector(labels: Labels) -> LabelSelector {
    LabelSelector {
        match_labels: (!labels.is_empty()).then_some(labels),
        ..LabelSelector::default()
    }
}

/// A selector of the namespace named `namespace` (by the label Kubernetes sets on every namespace).
#[must_use]
pub fn namespace_selector(namespace: &str) -> LabelSelector {
    selector(BTreeMap::from([(
        "kubernetes.io/metadata.name".to_owned(),
        namespace.to_owned(),
    )]))
}

/// Metadata of an object of the component `name`: its name, its namespace when it is namespaced,
/// and the component's labels.
#[must_use]
pub fn meta(env: &Environment, name: &str, namespace: Option<&str>, component: &str) -> ObjectMeta {
    with_labels(name, namespace, labels(env, name, component))
}

/// Metadata of a namespaced add-on object ([`LabelSet::Addon`]).
#[must_use]
pub fn addon_meta(env: &Environment, name: &str, namespace: &str) -> ObjectMeta {
    with_labels(name, Some(namespace), LabelSet::Addon.labels(env))
}

/// Metadata of a cluster-scoped admission-policy object ([`LabelSet::Policy`]).
#[must_use]
pub fn policy_meta(env: &Environment, name: &str) -> ObjectMeta {
    with_labels(name, None, LabelSet::Policy.labels(env))
}

fn with_labels(name: &str, namespace: Option<&str>, labels: Labels) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespace.map(str::to_owned),
        labels: Some(labels),
        ..ObjectMeta::default()
    }
}

/// `meta` with the annotation `key: value` added.
#[must_use]
pub fn annotated(mut meta: ObjectMeta, key: &str, value: &str) -> ObjectMeta {
    meta.annotations
        .get_or_insert_with(Labels::new)
        .insert(key.to_owned(), value.to_owned());
    meta
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::testkit;

    #[test]
    fn each_set_extends_the_smaller_one_and_selectors_match_it() {
        let env = testkit::load("tests/fixtures/minimal.toml");
        let policy = LabelSet::Policy.labels(&env);
        let addon = LabelSet::Addon.labels(&env);
        let component = labels(&env, "api", "service");
        assert_eq!(policy.len(), 3);
        assert_eq!(addon.len(), 4);
        assert_eq!(component.len(), 7);
        assert!(policy.iter().all(|(k, v)| addon.get(k) == Some(v)));
        assert!(addon.iter().all(|(k, v)| component.get(k) == Some(v)));
        let selected = selector_labels(&env, "api");
        assert!(selected.iter().all(|(k, v)| component.get(k) == Some(v)));
        let services = component_selector_labels(&env, "service");
        assert!(services.iter().all(|(k, v)| component.get(k) == Some(v)));
    }

    #[test]
    fn an_empty_selector_selects_everything() {
        assert_eq!(selector(Labels::new()), LabelSelector::default());
    }
}
