//! The Kubernetes object stream of one environment, for `render` and `argocd generate`: every object
//! of the manifest artifacts (kubernetes/, istio/, prometheus/prometheusrule.yaml, opa/gatekeeper/,
//! backup/) as one multi-document YAML stream, Namespaces and other cluster-scoped objects first so
//! `kubectl apply -f -` and Argo CD create them before what lives in them.

use crate::targets::Artifact;
use serde::Deserialize;

/// Where an object goes in the stream: Namespaces first, then the definitions other objects need
/// (CRDs, ConstraintTemplates), then every other cluster-scoped object, then Gatekeeper constraints
/// (cluster-scoped, but instances of the templates), then namespaced objects.
fn rank(api_version: &str, kind: &str) -> u8 {
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    match kind {
        "Namespace" => 0,
        "CustomResourceDefinition" => 1,
        "ConstraintTemplate" => 2,
        _ if group == "constraints.gatekeeper.sh" => 4,
        _ if CLUSTER_SCOPED.contains(&kind) => 3,
        _ => 5,
    }
}

/// The cluster-scoped kinds of Kubernetes 1.33 and of the add-ons deaap-gen targets.
const CLUSTER_SCOPED: &[&str] = &[
    "APIService",
    "CSIDriver",
    "CSINode",
    "CertificateSigningRequest",
    "ClusterIssuer",
    "ClusterRole",
    "ClusterRoleBinding",
    "ClusterTrustBundle",
    "DeviceClass",
    "FlowSchema",
    "IPAddress",
    "IngressClass",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding",
    "MutatingWebhookConfiguration",
    "Node",
    "PersistentVolume",
    "PriorityClass",
    "PriorityLevelConfiguration",
    "RuntimeClass",
    "ServiceCIDR",
    "StorageClass",
    "StorageVersionMigration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "VolumeAttributesClass",
];

/// Every Kubernetes object of the manifest artifacts, in stream order.
///
/// # Errors
/// An artifact that is not valid YAML (a generator bug), named in the message.
pub fn kubernetes_objects(artifacts: &[Artifact]) -> Result<Vec<serde_yaml::Value>, String> {
    let mut objects: Vec<(u8, usize, serde_yaml::Value)> = Vec::new();
    for a in artifacts.iter().filter(|a| a.manifest) {
        let text = String::from_utf8_lossy(&a.bytes);
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let v = serde_yaml::Value::deserialize(doc).map_err(|e| format!("{}: {e}", a.path))?;
            if v.is_null() {
                continue;
            }
            let api = v
                .get("apiVersion")
                .and_then(serde_yaml::Value::as_str)
                .unwrap_or_default();
            let kind = v
                .get("kind")
                .and_then(serde_yaml::Value::as_str)
                .unwrap_or_default();
            objects.push((rank(api, kind), objects.len(), v));
        }
    }
    objects.sort_by_key(|(r, i, _)| (*r, *i));
    Ok(objects.into_iter().map(|(_, _, v)| v).collect())
}

/// The YAML stream (`---` before each object; empty when there are none).
///
/// # Errors
/// An artifact that is not valid YAML (a generator bug), named in the message.
pub fn kubernetes_stream(artifacts: &[Artifact]) -> Result<String, String> {
    to_stream(kubernetes_objects(artifacts)?)
}

/// Serializes objects as one multi-document YAML stream.
///
/// # Errors
/// A value that cannot be serialized (not expected for parsed YAML).
pub fn to_stream(objects: Vec<serde_yaml::Value>) -> Result<String, String> {
    let mut out = String::new();
    for mut v in objects {
        out.push_str("---\n");
        out.push_str(&crate::render::yaml11::value_to_string(&mut v)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(path: &str, text: &str, manifest: bool) -> Artifact {
        Artifact {
            path: path.to_owned(),
            bytes: text.as_bytes().to_vec(),
            target: "test",
            kinds: Vec::new(),
            manifest,
        }
    }

    fn kinds(stream: &str) -> Vec<String> {
        stream
            .lines()
            .filter_map(|l| l.strip_prefix("kind: "))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn cluster_scoped_objects_come_first_in_dependency_order() {
        let artifacts = [
            artifact(
                "backup/cronjob.yaml",
                "# header\napiVersion: batch/v1\nkind: CronJob\nmetadata: {name: b, namespace: n}\n",
                true,
            ),
            artifact(
                "kubernetes/app.yaml",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: n}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\n---\n",
                true,
            ),
            artifact(
                "kubernetes/namespaces.yaml",
                "apiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n",
                true,
            ),
            artifact(
                "opa/gatekeeper/x.yaml",
                "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: DeaapX\nmetadata: {name: x}\n---\napiVersion: templates.gatekeeper.sh/v1\nkind: ConstraintTemplate\nmetadata: {name: deaapx}\n",
                true,
            ),
            artifact(
                "helm/values.yaml",
                "apiVersion: v1\nkind: ConfigMap\n",
                false,
            ),
        ];
        let stream = kubernetes_stream(&artifacts).expect("valid YAML");
        assert_eq!(
            kinds(&stream),
            [
                "Namespace",
                "ConstraintTemplate",
                "ClusterRole",
                "DeaapX",
                "CronJob",
                "Deployment"
            ]
        );
        assert_eq!(stream.matches("---\n").count(), 6);
        assert!(!stream.contains("# header"), "comments are not objects");
        assert!(!stream.contains("ConfigMap"), "only manifest artifacts");
    }

    #[test]
    fn no_manifests_is_an_empty_stream_and_bad_yaml_names_the_file() {
        assert_eq!(kubernetes_stream(&[]).as_deref(), Ok(""));
        let err = kubernetes_stream(&[artifact("kubernetes/bad.yaml", "a: [\n", true)])
            .expect_err("invalid YAML");
        assert!(err.starts_with("kubernetes/bad.yaml: "), "{err}");
    }
}
