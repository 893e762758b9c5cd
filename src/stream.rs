//! The Kubernetes object stream of one environment, for `render` and `argocd generate`: every object
//! of the manifest artifacts (kubernetes/, istio/, prometheus/prometheusrule.yaml, opa/gatekeeper/,
//! backup/) as one multi-document YAML stream, Namespaces and other cluster-scoped objects first so
//! `kubectl apply -f -` and Argo CD create them before what lives in them.

use crate::targets::Artifact;
use serde::Deserialize;

/// Kinds that are not namespaced, in the order they must exist: namespaces, then definitions, then
/// objects that use those definitions.
fn rank(api_version: &str, kind: &str) -> u8 {
    match kind {
        "Namespace" => 0,
        "CustomResourceDefinition" => 1,
        "ConstraintTemplate" => 2,
        "ClusterRole" | "ClusterRoleBinding" | "StorageClass" | "PriorityClass"
        | "ClusterIssuer" => 3,
        _ if api_version.starts_with("constraints.gatekeeper.sh/") => 4,
        _ => 5,
    }
}

/// The YAML stream, or a message naming the artifact that did not parse.
///
/// # Errors
/// An artifact that is not valid YAML (a generator bug).
pub fn kubernetes_stream(artifacts: &[Artifact]) -> Result<String, String> {
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
    let mut out = String::new();
    for (_, _, v) in &objects {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(v).map_err(|e| e.to_string())?);
    }
    Ok(out)
}
