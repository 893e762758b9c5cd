//! Snapshots of every kubernetes/ file for the minimal fixture and for tests/fixtures/workloads.toml
//! (one workload of each kind, on the minimal fixture), and the properties a user relies on whatever
//! the snapshots say. The shipped environments' output is pinned once, in generated/.

use super::*;
use std::path::Path;

fn load(rel: &str) -> Environment {
    crate::load_model(&Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

fn generate(env: &Environment, source: &str) -> Vec<Artifact> {
    let cx = Context {
        env,
        source_name: source,
    };
    TARGET.generate(&cx).unwrap()
}

fn text(a: &Artifact) -> &str {
    std::str::from_utf8(&a.bytes).unwrap()
}

fn docs(a: &Artifact) -> Vec<serde_json::Value> {
    let t = text(a);
    serde_yaml::Deserializer::from_str(t)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect()
}

fn snapshot_all(prefix: &str, artifacts: &[Artifact]) {
    for a in artifacts {
        let name = a
            .path
            .trim_start_matches("kubernetes/")
            .trim_end_matches(".yaml");
        insta::assert_snapshot!(format!("{prefix}_{name}"), text(a));
    }
}

#[test]
fn minimal_snapshots() {
    let env = load("tests/fixtures/minimal.toml");
    let a = generate(&env, "minimal.toml");
    let paths: Vec<&str> = a.iter().map(|a| a.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "kubernetes/namespaces.yaml",
            "kubernetes/network-policies.yaml",
            "kubernetes/web.yaml",
            "kubernetes/storage-cache.yaml",
        ]
    );
    snapshot_all("minimal", &a);
}

const WORKLOADS: &str = "tests/fixtures/workloads.toml";

#[test]
fn workloads_snapshots() {
    let env = load(WORKLOADS);
    let a = generate(&env, "workloads.toml");
    assert!(a.iter().all(|a| a.manifest && a.target == "kubernetes"));
    let paths: Vec<&str> = a.iter().map(|a| a.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "kubernetes/namespaces.yaml",
            "kubernetes/resource-quotas.yaml",
            "kubernetes/network-policies.yaml",
            "kubernetes/data.yaml",
            "kubernetes/runtime.yaml",
            "kubernetes/web.yaml",
            "kubernetes/worker.yaml",
            "kubernetes/storage-cache.yaml",
            "kubernetes/storage-db.yaml",
            "kubernetes/blockchain.yaml",
            "kubernetes/validators.yaml",
        ]
    );
    snapshot_all("workloads", &a);
}

fn all_objects(env: &Environment) -> Vec<serde_json::Value> {
    generate(env, "x.toml").iter().flat_map(docs).collect()
}

fn pod_specs(objects: &[serde_json::Value]) -> Vec<(&str, &serde_json::Value)> {
    objects
        .iter()
        .filter_map(|o| {
            let name = o["metadata"]["name"].as_str()?;
            o["spec"]["template"]
                .get("spec")
                .map(|_| (name, &o["spec"]["template"]))
        })
        .collect()
}

#[test]
fn every_object_and_pod_carries_the_standard_labels() {
    let env = load(WORKLOADS);
    let objects = all_objects(&env);
    let check = |labels: &serde_json::Value, what: &str| {
        for key in [
            "app.kubernetes.io/name",
            "app.kubernetes.io/instance",
            "app.kubernetes.io/part-of",
            "app.kubernetes.io/managed-by",
            "deaap.io/environment",
            "deaap.io/business-unit",
        ] {
            assert!(labels.get(key).is_some(), "{what} lacks {key}");
        }
        assert_eq!(labels["app.kubernetes.io/managed-by"], "deaap-gen");
        assert_eq!(labels["deaap.io/environment"], "workloads");
    };
    for o in &objects {
        check(&o["metadata"]["labels"], &o["metadata"]["name"].to_string());
    }
    for (name, t) in pod_specs(&objects) {
        check(&t["metadata"]["labels"], name);
    }
}

#[test]
fn every_pod_is_hardened() {
    let env = load(WORKLOADS);
    let objects = all_objects(&env);
    let pods = pod_specs(&objects);
    assert_eq!(
        pods.len(),
        7,
        "three services, two backends, nodes, validators"
    );
    for (name, t) in pods {
        let spec = &t["spec"];
        assert_eq!(spec["securityContext"]["runAsNonRoot"], true, "{name}");
        assert_eq!(spec["securityContext"]["runAsUser"], 10001, "{name}");
        assert_eq!(
            spec["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        let api = env
            .services
            .get(name)
            .is_some_and(|s| s.kubernetes_api_access);
        assert_eq!(spec["automountServiceAccountToken"], api, "{name}");
        for c in spec["containers"].as_array().unwrap() {
            let sc = &c["securityContext"];
            assert_eq!(sc["readOnlyRootFilesystem"], true, "{name}");
            assert_eq!(sc["allowPrivilegeEscalation"], false, "{name}");
            assert_eq!(sc["capabilities"]["drop"][0], "ALL", "{name}");
            for side in ["requests", "limits"] {
                for r in ["cpu", "memory"] {
                    assert!(c["resources"][side].get(r).is_some(), "{name} {side}.{r}");
                }
            }
            assert!(c.get("livenessProbe").is_some(), "{name}");
            assert!(c.get("readinessProbe").is_some(), "{name}");
            assert!(
                c["volumeMounts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|m| m["mountPath"] == "/tmp")
            );
        }
    }
}

#[test]
fn secrets_are_vault_annotations_never_secret_objects() {
    let env = load(WORKLOADS);
    let objects = all_objects(&env);
    assert!(objects.iter().all(|o| o["kind"] != "Secret"));
    let ingester = objects
        .iter()
        .find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == "web")
        .unwrap();
    let a = &ingester["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(a["vault.hashicorp.com/agent-inject"], "true");
    assert_eq!(a["vault.hashicorp.com/role"], "minimal");
    assert_eq!(
        a["vault.hashicorp.com/agent-inject-secret-DB_PASSWORD"],
        "secret/data/mini/db"
    );
    assert!(
        a["vault.hashicorp.com/agent-inject-template-DB_PASSWORD"]
            .as_str()
            .unwrap()
            .contains(r#"index .Data.data "password""#)
    );
    assert_eq!(a["deaap.io/config-checksum"].as_str().unwrap().len(), 64);
}

#[test]
fn config_checksum_follows_the_configuration() {
    let env = load(WORKLOADS);
    let checksum = |env: &Environment| {
        all_objects(env)
            .into_iter()
            .find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == "web")
            .map(|o| {
                o["spec"]["template"]["metadata"]["annotations"]["deaap.io/config-checksum"].clone()
            })
            .unwrap()
    };
    let before = checksum(&env);
    assert_eq!(before, checksum(&env));
    let mut changed = env.clone();
    if let Some(s) = changed.services.get_mut("web") {
        s.secrets.insert(
            "DB_PASSWORD".to_owned(),
            "vault:secret/data/other#k".parse().unwrap(),
        );
    }
    assert_ne!(before, checksum(&changed));
}

#[test]
fn autoscaled_services_get_the_seed_hpa_and_a_pdb() {
    let env = load(WORKLOADS);
    let objects = all_objects(&env);
    let hpa = objects
        .iter()
        .find(|o| o["kind"] == "HorizontalPodAutoscaler")
        .unwrap();
    assert_eq!(hpa["apiVersion"], "autoscaling/v2");
    assert_eq!(hpa["spec"]["minReplicas"], 2);
    assert_eq!(hpa["spec"]["maxReplicas"], 4);
    let metrics = hpa["spec"]["metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), 3);
    assert_eq!(metrics[2]["pods"]["metric"]["name"], "web_queue_size");
    let deployment = objects
        .iter()
        .find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == "web")
        .unwrap();
    assert!(deployment["spec"].get("replicas").is_none());
    let pdbs: Vec<&str> = objects
        .iter()
        .filter(|o| o["kind"] == "PodDisruptionBudget")
        .filter_map(|o| o["metadata"]["name"].as_str())
        .collect();
    assert!(pdbs.contains(&"web"));
    assert!(pdbs.contains(&"bu-validator"));
    // Single-replica workloads would never drain with a PDB.
    assert!(!pdbs.contains(&"worker"));
}

#[test]
fn gpu_services_request_and_limit_gpus() {
    let env = load(WORKLOADS);
    let objects = all_objects(&env);
    let worker = objects
        .iter()
        .find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == "worker")
        .unwrap();
    let r = &worker["spec"]["template"]["spec"]["containers"][0]["resources"];
    assert_eq!(r["requests"]["nvidia.com/gpu"], "1");
    assert_eq!(r["limits"]["nvidia.com/gpu"], "1");
}

#[test]
fn validators_and_storage_are_statefulsets() {
    let env = load(WORKLOADS);
    let objects = all_objects(&env);
    let sts = |name: &str| {
        objects
            .iter()
            .find(|o| o["kind"] == "StatefulSet" && o["metadata"]["name"] == name)
            .unwrap()
    };
    let v = sts("bu-validator");
    assert_eq!(v["metadata"]["namespace"], "mini-chain");
    assert_eq!(v["spec"]["replicas"], 4);
    assert_eq!(
        v["spec"]["template"]["metadata"]["labels"]["app"],
        "bu-validator"
    );
    let bc = sts("blockchain");
    let claim = &bc["spec"]["volumeClaimTemplates"][0]["spec"];
    assert_eq!(claim["storageClassName"], "fast-ssd");
    assert_eq!(claim["resources"]["requests"]["storage"], "2Gi");
    let pg = sts("db");
    let env_vars = pg["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap();
    assert!(env_vars.iter().any(|e| {
        e["name"] == "PGDATA"
            && e["value"]
                .as_str()
                .unwrap()
                .starts_with("/var/lib/postgresql/data/")
    }));
    assert!(
        env_vars
            .iter()
            .any(|e| e["name"] == "POSTGRES_PASSWORD_FILE")
    );
}

#[test]
fn quotas_use_the_seed_keys_and_namespaces_enforce_pod_security() {
    let env = load(WORKLOADS);
    let a = generate(&env, "workloads.toml");
    let quota = a
        .iter()
        .find(|a| a.path.ends_with("resource-quotas.yaml"))
        .unwrap();
    let q = &docs(quota)[0];
    assert_eq!(q["metadata"]["namespace"], "mini-core");
    for key in [
        "requests.cpu",
        "requests.memory",
        "limits.cpu",
        "limits.memory",
        "persistentvolumeclaims",
        "count/pods",
    ] {
        assert!(q["spec"]["hard"].get(key).is_some(), "{key}");
    }
    let ns = docs(&a[0]);
    assert_eq!(ns.len(), 4);
    for n in ns {
        // The monitoring namespace has its own level (the chart's node exporter needs it).
        let level = if n["metadata"]["name"] == "mini-monitoring" {
            "privileged"
        } else {
            "restricted"
        };
        assert_eq!(
            n["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
            level
        );
    }
}

#[test]
fn network_policies_deny_by_default_and_allow_the_model() {
    let env = load(WORKLOADS);
    let a = generate(&env, "workloads.toml");
    let np = docs(
        a.iter()
            .find(|a| a.path.ends_with("network-policies.yaml"))
            .unwrap(),
    );
    let named = |ns: &str, name: &str| {
        np.iter()
            .find(|p| p["metadata"]["namespace"] == ns && p["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{ns}/{name}"))
            .clone()
    };
    for ns in ["mini-core", "mini-chain", "mini-storage", "mini-monitoring"] {
        let d = named(ns, "default-deny");
        assert_eq!(d["spec"]["podSelector"], serde_json::json!({}));
        assert_eq!(
            d["spec"]["policyTypes"],
            serde_json::json!(["Ingress", "Egress"])
        );
        named(ns, "allow-dns");
    }
    let db = serde_json::to_string(&named("mini-storage", "db")).unwrap();
    // web depends on db; its backup job dumps it (the full backup does not); worker does neither.
    assert!(db.contains("\"web\""));
    assert!(db.contains("\"backup-service-db\""));
    assert!(!db.contains("\"backup-service\""));
    assert!(!db.contains("\"worker\""));
    let cache = serde_json::to_string(&named("mini-storage", "cache")).unwrap();
    assert!(cache.contains("\"web\""));
    assert!(!cache.contains("\"backup\""), "cache is not backed up");
    let web = serde_json::to_string(&named("mini-core", "web")).unwrap();
    assert!(web.contains("ingressgateway"));
    let worker = serde_json::to_string(&named("mini-core", "worker")).unwrap();
    assert!(!worker.contains("ingressgateway"), "worker has no route");

    let mut off = env.clone();
    off.security.network_policies = false;
    assert!(
        generate(&off, "p.toml")
            .iter()
            .all(|a| !a.path.contains("network"))
    );
}

#[test]
fn meshed_namespaces_get_injection_sized_proxies_and_istio_flows() {
    let env = load(WORKLOADS);
    let a = generate(&env, "workloads.toml");
    let injected: Vec<(String, bool)> = docs(&a[0])
        .iter()
        .map(|n| {
            (
                n["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                n["metadata"]["labels"]["istio-injection"] == "enabled",
            )
        })
        .collect();
    assert_eq!(
        injected,
        [
            ("mini-core".to_owned(), true),
            ("mini-chain".to_owned(), true),
            ("mini-storage".to_owned(), true),
            ("mini-monitoring".to_owned(), false),
        ]
    );
    let objects = all_objects(&env);
    let pods = pod_specs(&objects);
    assert!(!pods.is_empty());
    for (name, t) in pods {
        let an = &t["metadata"]["annotations"];
        assert_eq!(an["sidecar.istio.io/proxyCPULimit"], "200m", "{name}");
        assert_eq!(an["sidecar.istio.io/proxyMemory"], "64Mi", "{name}");
    }
    let policies = objects
        .iter()
        .filter(|o| o["kind"] == "NetworkPolicy")
        .collect::<Vec<_>>();
    let istiod: Vec<&str> = policies
        .iter()
        .filter(|p| p["metadata"]["name"] == "allow-istiod")
        .filter_map(|p| p["metadata"]["namespace"].as_str())
        .collect();
    assert_eq!(istiod, ["mini-core", "mini-chain", "mini-storage"]);
    let text = serde_json::to_string(&policies).unwrap_or_default();
    assert!(
        text.contains("15020"),
        "Prometheus reaches the merged metrics"
    );

    // Without injection nothing mentions the mesh.
    let mut env = env;
    env.security.mesh.sidecar_injection = false;
    let all = serde_json::to_string(&all_objects(&env)).unwrap_or_default();
    for needle in ["istio-injection", "sidecar.istio.io", "15012", "15020"] {
        assert!(!all.contains(needle), "{needle}");
    }
}
