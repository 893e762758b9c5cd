//! The Kubernetes object kit every target builds its objects with: metadata and the named label
//! sets ([`labels`](mod@labels)), typed objects with their scope and their serialized document, and the
//! manifest artifact made of them ([`object`](mod@object)), and the hardened pod template every workload's pods
//! are built from ([`pod`]: the long-running workloads and the backup jobs alike). Targets take the
//! conventions every object shares from here and the workloads from the plan, never from another
//! target, so each is written once.

pub mod alertmanager;
pub mod cnpg;
pub mod labels;
pub mod object;
pub mod pod;
pub mod promql;
pub mod slo;

pub use labels::{
    LabelSet, Labels, addon_meta, annotated, component_selector_labels, labels, meta,
    namespace_labels, namespace_selector, pod_labels, policy_meta, selector, selector_labels,
};
pub use object::{Kind, Object, Role, Scope, config_file, manifest, object, unapplied};

use k8s_openapi::api::networking::v1::NetworkPolicyPort;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Namespace of the Istio control plane and ingress gateway (Istio's default installation): the
/// gateway's `credentialName` secret must live there, and the network policies let meshed pods
/// reach istiod and routed pods be reached from the gateway there.
pub const GATEWAY_NAMESPACE: &str = "istio-system";

/// The label of the Istio ingress gateway's pods, which the Gateway selects.
pub const INGRESS_GATEWAY_LABEL: (&str, &str) = ("istio", "ingressgateway");

/// A NetworkPolicy's TCP `ports`.
#[must_use]
pub fn tcp_ports(ports: impl IntoIterator<Item = u16>) -> Vec<NetworkPolicyPort> {
    ports
        .into_iter()
        .map(|p| NetworkPolicyPort {
            port: Some(IntOrString::Int(i32::from(p))),
            protocol: Some("TCP".to_owned()),
            ..NetworkPolicyPort::default()
        })
        .collect()
}

/// Where the restore of `what` (a store, `blockchain`, `data`) is written: a file of objects an
/// operator applies during a recovery ([`unapplied`]), never streamed.
#[must_use]
pub fn restore_file(what: &str) -> String {
    format!("backup/restore-{what}.yaml")
}

/// The folder of the bucket that holds the archives of `what` (`data`, `blockchain`): one folder
/// per environment, since environments may share a bucket.
#[must_use]
pub fn backup_prefix(env: &crate::model::Environment, what: &str) -> String {
    format!("{}/{what}", env.environment.name)
}

/// The label kube-prometheus-stack's Grafana sidecar selects dashboard `ConfigMap`s by (the
/// chart's default), and the annotation it reads their Grafana folder from (set in the generated
/// `monitoring-values.yaml`).
pub const DASHBOARD_LABEL: (&str, &str) = ("grafana_dashboard", "1");
pub const FOLDER_ANNOTATION: &str = "grafana_folder";
