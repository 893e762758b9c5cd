//! The mutating webhooks the model enables, applied to a Pod the way the cluster's injectors
//! would: Istio's sidecar injector in namespaces labelled `istio-injection: enabled`, the Vault
//! agent injector on pods annotated `vault.hashicorp.com/agent-inject: "true"`. Each injected
//! container gets the image, resources and security context the injector's template gives it,
//! read from the pod's annotations (`sidecar.istio.io/*`, `vault.hashicorp.com/*`) with the
//! injector's defaults where an annotation is absent.

use serde_json::{Value, json};

/// The image Istio's injector uses without `sidecar.istio.io/proxyImage` (its default hub and
/// the release it installs).
pub const ISTIO_DEFAULT_IMAGE: &str = "docker.io/istio/proxyv2:1.24.2";

/// The image the Vault agent injector uses without `vault.hashicorp.com/agent-image`.
pub const VAULT_DEFAULT_IMAGE: &str = "hashicorp/vault:1.18.1";

/// The UID and GID of Istio's proxy.
const ISTIO_PROXY_UID: i64 = 1337;

/// Where an injected container came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injector {
    /// Istio's init container (`istio-init`, or `istio-validation` with the CNI agent).
    IstioInit,
    /// Istio's `istio-proxy`.
    IstioProxy,
    /// The Vault agent (`vault-agent-init`, `vault-agent`).
    Vault,
}

/// How the cluster's Istio installation injects.
#[derive(Debug, Clone, Copy)]
pub struct Istio {
    /// The CNI node agent sets up traffic redirection; the init container only validates it.
    pub cni: bool,
}

/// The injected containers of a mutated pod, by name.
pub type Injected = Vec<(String, Injector)>;

fn annotation<'v>(pod: &'v Value, key: &str) -> Option<&'v str> {
    pod["metadata"]["annotations"][key].as_str()
}

fn annotation_or<'v>(pod: &'v Value, key: &str, default: &'v str) -> &'v str {
    annotation(pod, key).unwrap_or(default)
}

fn push(pod: &mut Value, field: &str, container: Value, first: bool) {
    let spec = &mut pod["spec"];
    if !spec[field].is_array() {
        spec[field] = json!([]);
    }
    if let Some(list) = spec[field].as_array_mut() {
        if first {
            list.insert(0, container);
        } else {
            list.push(container);
        }
    }
}

fn add_volumes(pod: &mut Value, volumes: Vec<Value>) {
    for v in volumes {
        push(pod, "volumes", v, false);
    }
}

/// Whether Istio injects into this pod: its namespace is labelled for injection and the pod does
/// not opt out.
#[must_use]
pub fn istio_injects(pod: &Value, namespace_labels: &Value) -> bool {
    let ns_on = namespace_labels["istio-injection"] == "enabled"
        || namespace_labels.get("istio.io/rev").is_some();
    let opted_out = pod["metadata"]["labels"]["sidecar.istio.io/inject"] == "false"
        || annotation(pod, "sidecar.istio.io/inject") == Some("false");
    ns_on && !opted_out
}

/// Istio's sidecar injection (its `sidecar` injection template): the init container that sets
/// up (or, with the CNI agent, validates) traffic redirection, and `istio-proxy`, as a native
/// sidecar (an init container that keeps running) when the pod asks for one.
pub fn istio(pod: &mut Value, istio: Istio, injected: &mut Injected) {
    let image = annotation_or(pod, "sidecar.istio.io/proxyImage", ISTIO_DEFAULT_IMAGE).to_owned();
    let resources = json!({
        "requests": {
            "cpu": annotation_or(pod, "sidecar.istio.io/proxyCPU", "100m"),
            "memory": annotation_or(pod, "sidecar.istio.io/proxyMemory", "128Mi"),
        },
        "limits": {
            "cpu": annotation_or(pod, "sidecar.istio.io/proxyCPULimit", "2000m"),
            "memory": annotation_or(pod, "sidecar.istio.io/proxyMemoryLimit", "1024Mi"),
        },
    });
    let native = annotation(pod, "sidecar.istio.io/nativeSidecar") == Some("true");
    let tproxy = annotation(pod, "sidecar.istio.io/interceptionMode") == Some("TPROXY");
    let (init_name, init_security) = if istio.cni {
        (
            "istio-validation",
            json!({
                "allowPrivilegeEscalation": false,
                "privileged": false,
                "capabilities": {"drop": ["ALL"]},
                "readOnlyRootFilesystem": true,
                "runAsGroup": ISTIO_PROXY_UID,
                "runAsNonRoot": true,
                "runAsUser": ISTIO_PROXY_UID,
            }),
        )
    } else {
        (
            "istio-init",
            json!({
                "allowPrivilegeEscalation": false,
                "privileged": false,
                "capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]},
                "readOnlyRootFilesystem": false,
                "runAsGroup": 0,
                "runAsNonRoot": false,
                "runAsUser": 0,
            }),
        )
    };
    let mut init_args = vec!["istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337"];
    if istio.cni {
        init_args.extend(["--run-validation", "--skip-rule-apply"]);
    }
    push(
        pod,
        "initContainers",
        json!({
            "name": init_name,
            "image": image,
            "args": init_args,
            "resources": resources,
            "securityContext": init_security,
        }),
        true,
    );
    injected.push((init_name.to_owned(), Injector::IstioInit));
    let mut add = Vec::new();
    if tproxy {
        add.push("NET_ADMIN");
    }
    if annotation(pod, "sidecar.istio.io/capNetBindService") == Some("true") {
        add.push("NET_BIND_SERVICE");
    }
    let mut capabilities = json!({"drop": ["ALL"]});
    if !add.is_empty() {
        capabilities["add"] = json!(add);
    }
    let mut proxy = json!({
        "name": "istio-proxy",
        "image": image,
        "args": ["proxy", "sidecar"],
        "ports": [{"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}],
        "resources": resources,
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "capabilities": capabilities,
            "privileged": false,
            "readOnlyRootFilesystem": true,
            "runAsGroup": ISTIO_PROXY_UID,
            "runAsNonRoot": true,
            "runAsUser": ISTIO_PROXY_UID,
        },
        "volumeMounts": [
            {"name": "workload-socket", "mountPath": "/var/run/secrets/workload-spiffe-uds"},
            {"name": "credential-socket", "mountPath": "/var/run/secrets/credential-uds"},
            {"name": "workload-certs", "mountPath": "/var/run/secrets/workload-spiffe-credentials"},
            {"name": "istiod-ca-cert", "mountPath": "/var/run/secrets/istio"},
            {"name": "istio-data", "mountPath": "/var/lib/istio/data"},
            {"name": "istio-envoy", "mountPath": "/etc/istio/proxy"},
            {"name": "istio-token", "mountPath": "/var/run/secrets/tokens"},
            {"name": "istio-podinfo", "mountPath": "/etc/istio/pod"},
        ],
    });
    if native {
        proxy["restartPolicy"] = json!("Always");
        // After the init container that prepares the network, before the pod's own.
        let at = usize::from(pod["spec"]["initContainers"].is_array());
        if let Some(list) = pod["spec"]["initContainers"].as_array_mut() {
            list.insert(at.min(list.len()), proxy);
        }
    } else {
        push(pod, "containers", proxy, false);
    }
    injected.push(("istio-proxy".to_owned(), Injector::IstioProxy));
    let empty = |name: &str| json!({"name": name, "emptyDir": {}});
    add_volumes(
        pod,
        vec![
            empty("workload-socket"),
            empty("credential-socket"),
            empty("workload-certs"),
            json!({"name": "istio-envoy", "emptyDir": {"medium": "Memory"}}),
            empty("istio-data"),
            json!({"name": "istio-podinfo", "downwardAPI": {"items": [
                {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}},
            ]}}),
            json!({"name": "istio-token", "projected": {"sources": [{"serviceAccountToken": {
                "audience": "istio-ca", "expirationSeconds": 43200, "path": "istio-token"}}]}}),
            json!({"name": "istiod-ca-cert", "configMap": {"name": "istio-ca-root-cert"}}),
        ],
    );
}

/// Whether the Vault agent injector mutates this pod.
#[must_use]
pub fn vault_injects(pod: &Value) -> bool {
    matches!(
        annotation(pod, "vault.hashicorp.com/agent-inject"),
        Some("true" | "yes" | "on" | "1")
    ) && annotation(pod, "vault.hashicorp.com/agent-inject-status") != Some("injected")
}

/// The Vault agent injector (vault-k8s): `vault-agent-init` renders the secrets before the pod's
/// containers start (unless `agent-pre-populate` is off), `vault-agent` keeps them fresh
/// (unless `agent-pre-populate-only`). The security context is the injector's: a fixed non-root
/// UID and GID, read-only root, no escalation, every capability dropped, unless
/// `agent-set-security-context` is off.
pub fn vault(pod: &mut Value, injected: &mut Injected) {
    let p = "vault.hashicorp.com";
    let a = |pod: &Value, key: &str, default: &str| -> String {
        annotation_or(pod, &format!("{p}/{key}"), default).to_owned()
    };
    let image = a(pod, "agent-image", VAULT_DEFAULT_IMAGE);
    let resources = json!({
        "requests": {
            "cpu": a(pod, "agent-requests-cpu", "250m"),
            "memory": a(pod, "agent-requests-mem", "64Mi"),
        },
        "limits": {
            "cpu": a(pod, "agent-limits-cpu", "500m"),
            "memory": a(pod, "agent-limits-mem", "128Mi"),
        },
    });
    let uid: i64 = a(pod, "agent-run-as-user", "100").parse().unwrap_or(100);
    let gid: i64 = a(pod, "agent-run-as-group", "1000").parse().unwrap_or(1000);
    let security = (a(pod, "agent-set-security-context", "true") != "false").then(|| {
        json!({
            "runAsUser": uid,
            "runAsGroup": gid,
            "runAsNonRoot": uid != 0 && gid != 0,
            "readOnlyRootFilesystem": true,
            "allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["ALL"]},
        })
    });
    let pre_populate = a(pod, "agent-pre-populate", "true") != "false";
    let only = a(pod, "agent-pre-populate-only", "false") == "true";
    let init_first = a(pod, "agent-init-first", "false") == "true";
    let container = |name: &str, home: &str| {
        let mut c = json!({
            "name": name,
            "image": image,
            "command": ["/bin/sh", "-ec"],
            "resources": resources,
            "volumeMounts": [
                {"name": home, "mountPath": "/home/vault"},
                {"name": "vault-secrets", "mountPath": "/vault/secrets"},
            ],
        });
        if let Some(s) = &security {
            c["securityContext"] = s.clone();
        }
        c
    };
    if pre_populate || only {
        push(
            pod,
            "initContainers",
            container("vault-agent-init", "home-init"),
            init_first,
        );
        injected.push(("vault-agent-init".to_owned(), Injector::Vault));
    }
    if !only {
        push(
            pod,
            "containers",
            container("vault-agent", "home-sidecar"),
            false,
        );
        injected.push(("vault-agent".to_owned(), Injector::Vault));
    }
    add_volumes(
        pod,
        vec![
            json!({"name": "home-init", "emptyDir": {"medium": "Memory"}}),
            json!({"name": "home-sidecar", "emptyDir": {"medium": "Memory"}}),
            json!({"name": "vault-secrets", "emptyDir": {"medium": "Memory"}}),
        ],
    );
    pod["metadata"]["annotations"][format!("{p}/agent-inject-status")] = json!("injected");
}

/// The pod as the cluster runs it: the webhooks the namespace and the pod enable, in the order
/// the API server calls them (by webhook configuration name: Istio's, then Vault's).
#[must_use]
pub fn mutate(mut pod: Value, namespace_labels: &Value, istio_install: Istio) -> (Value, Injected) {
    let mut injected = Vec::new();
    if istio_injects(&pod, namespace_labels) {
        istio(&mut pod, istio_install, &mut injected);
    }
    if vault_injects(&pod) {
        vault(&mut pod, &mut injected);
    }
    (pod, injected)
}

/// The init containers of a mutated pod that connect out (the Vault agent's, to Vault) while
/// Istio already redirects the pod's traffic to a proxy that is not running yet: their
/// connections are refused and the pod never starts. Redirection is in place from the start with
/// the CNI agent, else from `istio-init` on; a native `istio-proxy` (an init container that keeps
/// running) is up for the init containers after it; the proxy's own UID and the ports in
/// `traffic.sidecar.istio.io/excludeOutboundPorts` bypass it.
#[must_use]
pub fn offline_init_containers(pod: &Value, injected: &Injected, istio: Istio) -> Vec<String> {
    let meshed = injected.iter().any(|(_, i)| *i == Injector::IstioProxy);
    let Some(inits) = pod["spec"]["initContainers"].as_array().filter(|_| meshed) else {
        return Vec::new();
    };
    let excluded: Vec<u16> = annotation(pod, "traffic.sidecar.istio.io/excludeOutboundPorts")
        .unwrap_or_default()
        .split(',')
        .filter_map(|p| p.trim().parse().ok())
        .collect();
    let vault_port =
        annotation(pod, "vault.hashicorp.com/service").map(crate::model::Vault::port_of);
    let (mut redirected, mut proxy_up) = (istio.cni, false);
    let mut out = Vec::new();
    for c in inits {
        let name = c["name"].as_str().unwrap_or_default();
        match name {
            "istio-init" => redirected = true,
            "istio-proxy" => proxy_up = c["restartPolicy"] == "Always",
            "vault-agent-init" => {
                let bypass = c["securityContext"]["runAsUser"] == ISTIO_PROXY_UID
                    || vault_port.is_some_and(|p| excluded.contains(&p));
                if redirected && !proxy_up && !bypass {
                    out.push(name.to_owned());
                }
            }
            _ => {}
        }
    }
    out
}
