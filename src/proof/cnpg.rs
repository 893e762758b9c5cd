//! The pods the CloudNativePG operator creates for a generated `Cluster`: no generated object
//! holds their template, so the proofs take it from the `Cluster` and from what the operator
//! (1.28 and later) always puts in an instance's pod. The `Cluster` decides the image, resources,
//! service account and the labels and annotations the operator passes on
//! (`spec.inheritedMetadata`); the operator adds its own labels, the `postgres` container's ports
//! (PostgreSQL, metrics, status) and its default security contexts (UID 26, no privilege
//! escalation, no capabilities, read-only root filesystem, the runtime's seccomp profile).
//!
//! Left out, because no generated object says it: the `bootstrap-controller` init container,
//! whose image is the operator's own (installed from the company registry, see README), and the
//! volumes (the data claim, `emptyDir` scratch and shared memory, which every Pod Security level
//! admits).

use crate::plan::postgres;
use crate::targets::kit::Object;
use serde_json::{Map, Value, json};

/// Whether an object is a CloudNativePG `Cluster`.
#[must_use]
pub fn is_cluster(o: &Object) -> bool {
    o.kind() == "Cluster" && o.api_version().starts_with("postgresql.cnpg.io/")
}

/// The workload a pod belongs to when CloudNativePG created it: its `Cluster`.
#[must_use]
pub fn cluster_of(labels: &crate::render::Data) -> Option<&str> {
    labels[postgres::CLUSTER_LABEL].as_str()
}

/// The storage backend a CloudNativePG pod's data belongs to: its `Cluster`'s `app` label (the
/// store's name, for the store and its recovery `Cluster` alike), else its `Cluster`.
#[must_use]
pub fn store_of(labels: &Value) -> Option<&str> {
    let cluster = labels[postgres::CLUSTER_LABEL].as_str()?;
    Some(labels["app"].as_str().unwrap_or(cluster))
}

/// The pod template of the first instance of a `Cluster` (a generated object's value).
#[must_use]
pub fn instance_template(cluster: &Value) -> Value {
    let name = cluster["metadata"]["name"].as_str().unwrap_or_default();
    let spec = &cluster["spec"];
    let mut labels = Map::new();
    for (k, v) in [
        (postgres::CLUSTER_LABEL, name.to_owned()),
        ("cnpg.io/instanceName", format!("{name}-1")),
        ("cnpg.io/podRole", "instance".to_owned()),
        ("app.kubernetes.io/name", "postgresql".to_owned()),
        ("app.kubernetes.io/instance", name.to_owned()),
        ("app.kubernetes.io/component", "database".to_owned()),
        ("app.kubernetes.io/managed-by", "cloudnative-pg".to_owned()),
    ] {
        labels.insert(k.to_owned(), json!(v));
    }
    let inherited = &spec["inheritedMetadata"];
    for (k, v) in inherited["labels"].as_object().into_iter().flatten() {
        labels.insert(k.clone(), v.clone());
    }
    let annotations = inherited["annotations"].clone();
    let seccomp = json!({"type": "RuntimeDefault"});
    let port =
        |name: &str, number: u16| json!({"name": name, "containerPort": number, "protocol": "TCP"});
    json!({
        "metadata": {
            "labels": labels,
            "annotations": if annotations.is_object() { annotations } else { json!({}) },
        },
        "spec": {
            "serviceAccountName": name,
            "securityContext": {
                "runAsNonRoot": true,
                "runAsUser": postgres::INSTANCE_UID,
                "runAsGroup": postgres::INSTANCE_UID,
                "fsGroup": postgres::INSTANCE_UID,
                "seccompProfile": seccomp,
            },
            "containers": [{
                "name": postgres::INSTANCE_CONTAINER,
                "image": spec["imageName"],
                "imagePullPolicy": spec["imagePullPolicy"],
                "ports": [
                    port("postgresql", postgres::POSTGRES_PORT),
                    port("metrics", postgres::METRICS_PORT),
                    port("status", postgres::STATUS_PORT),
                ],
                "resources": spec["resources"],
                "securityContext": {
                    "allowPrivilegeEscalation": false,
                    "capabilities": {"drop": ["ALL"]},
                    "privileged": false,
                    "readOnlyRootFilesystem": true,
                    "runAsNonRoot": true,
                    "seccompProfile": seccomp,
                },
            }],
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_instance_pod_takes_the_clusters_image_resources_and_inherited_metadata() {
        let cluster = json!({
            "metadata": {"name": "db", "namespace": "storage"},
            "spec": {
                "imageName": "registry.example.com/cloudnative-pg/postgresql:16.4",
                "imagePullPolicy": "Always",
                "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
                "inheritedMetadata": {
                    "labels": {"app": "db", "sidecar.istio.io/inject": "false"},
                    "annotations": {"prometheus.io/port": "9187"},
                },
            },
        });
        let t = instance_template(&cluster);
        let labels = &t["metadata"]["labels"];
        let data = crate::render::data::to_data(labels).expect("serializes");
        assert_eq!(cluster_of(&data), Some("db"));
        assert_eq!(store_of(labels), Some("db"));
        assert_eq!(labels["app"], "db");
        assert_eq!(labels["app.kubernetes.io/name"], "postgresql");
        assert_eq!(t["metadata"]["annotations"]["prometheus.io/port"], "9187");
        let c = &t["spec"]["containers"][0];
        assert_eq!(c["name"], "postgres");
        assert_eq!(c["image"], cluster["spec"]["imageName"]);
        assert_eq!(c["resources"]["limits"]["cpu"], "1");
        assert_eq!(c["ports"][2]["containerPort"], 8000);
        assert_eq!(t["spec"]["securityContext"]["runAsUser"], 26);
    }
}
