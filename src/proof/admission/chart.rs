//! The pods of the kube-prometheus-stack chart that ask more of Pod Security than a DEAAP
//! workload does, as the chart's defaults run them unless the generated `monitoring-values.yaml`
//! switches them off: the node exporter (a `DaemonSet` on the host's network and process
//! namespaces, reading the host's `/proc`, `/sys` and `/` and binding port 9100 on the node) and
//! Grafana's `init-chown-data` container (root with `CHOWN`, to hand the persistent volume to
//! Grafana's user). Both are admitted only where the namespace's level allows them.

use serde_json::{Value, json};

/// A value of the chart's values, `default` when the generated values leave it unset.
fn value<'v>(values: &'v Value, path: &[&str], default: &'v Value) -> &'v Value {
    path.iter()
        .try_fold(values, |v, k| v.get(k))
        .filter(|v| !v.is_null())
        .unwrap_or(default)
}

fn enabled(values: &Value, path: &[&str], default: bool) -> bool {
    value(values, path, &Value::Bool(default)) == &Value::Bool(true)
}

/// The chart's pods in `namespace`, given its values (the generated `monitoring-values.yaml`).
#[must_use]
pub fn pods(values: &Value, namespace: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let exporter = ["prometheus-node-exporter"];
    if enabled(values, &["nodeExporter", "enabled"], true) {
        let host_path = |name: &str, path: &str| json!({"name": name, "hostPath": {"path": path}});
        let mut volumes = vec![host_path("proc", "/proc"), host_path("sys", "/sys")];
        if enabled(values, &[exporter[0], "hostRootFsMount", "enabled"], true) {
            volumes.push(host_path("root", "/"));
        }
        out.push(json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "kube-prometheus-stack-prometheus-node-exporter-7xk2p",
                "namespace": namespace,
                "labels": {"app.kubernetes.io/name": "prometheus-node-exporter"},
            },
            "spec": {
                "automountServiceAccountToken": false,
                "hostNetwork": enabled(values, &[exporter[0], "hostNetwork"], true),
                "hostPID": enabled(values, &[exporter[0], "hostPID"], true),
                "securityContext": {
                    "fsGroup": 65534, "runAsGroup": 65534, "runAsNonRoot": true, "runAsUser": 65534,
                },
                "containers": [{
                    "name": "node-exporter",
                    "image": "quay.io/prometheus/node-exporter:v1.8.2",
                    "ports": [{"name": "http-metrics", "containerPort": 9100, "hostPort": 9100, "protocol": "TCP"}],
                    "securityContext": {"readOnlyRootFilesystem": true},
                }],
                "volumes": volumes,
            },
        }));
    }
    let grafana = |path: &[&str], default| {
        let mut full = vec!["grafana"];
        full.extend_from_slice(path);
        enabled(values, &full, default)
    };
    if grafana(&["enabled"], true) {
        let mut init = Vec::new();
        if grafana(&["persistence", "enabled"], false)
            && grafana(&["initChownData", "enabled"], true)
        {
            init.push(json!({
                "name": "init-chown-data",
                "image": "docker.io/library/busybox:1.31.1",
                "command": ["chown", "-R", "472:472", "/var/lib/grafana"],
                "securityContext": {
                    "readOnlyRootFilesystem": false,
                    "runAsNonRoot": false,
                    "runAsUser": 0,
                    "seccompProfile": {"type": "RuntimeDefault"},
                    "capabilities": {"add": ["CHOWN"], "drop": ["ALL"]},
                },
            }));
        }
        out.push(json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "kube-prometheus-stack-grafana-6c9d8b7f5-q4m8z",
                "namespace": namespace,
                "labels": {"app.kubernetes.io/name": "grafana"},
            },
            "spec": {
                "securityContext": {
                    "fsGroup": 472, "runAsGroup": 472, "runAsNonRoot": true, "runAsUser": 472,
                },
                "initContainers": init,
                "containers": [{
                    "name": "grafana",
                    "image": "docker.io/grafana/grafana:11.3.0",
                    "securityContext": {
                        "allowPrivilegeEscalation": false,
                        "capabilities": {"drop": ["ALL"]},
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                }],
                "volumes": [{"name": "storage", "persistentVolumeClaim": {"claimName": "kube-prometheus-stack-grafana"}}],
            },
        }));
    }
    out
}
