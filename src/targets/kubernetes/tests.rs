//! Snapshots of every kubernetes/ file for the minimal fixture and for tests/fixtures/workloads.toml
//! (one workload of each kind, on the minimal fixture), and the properties a user relies on whatever
//! the snapshots say. The shipped environments' output is pinned once, in generated/.

use super::*;
use std::path::Path;

fn load(rel: &str) -> Environment {
    crate::load_model(&Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

fn generate(env: &Environment, source: &str) -> Vec<Artifact> {
    let cx = Context::new(env, source, None);
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

// ── A Redis replicated with Sentinel ─────────────────────────────────────────────────────────

const SENTINEL: &str = "tests/fixtures/sentinel.toml";

fn find<'a>(objects: &'a [serde_json::Value], kind: &str, name: &str) -> &'a serde_json::Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn config_file<'a>(objects: &'a [serde_json::Value], key: &str) -> &'a str {
    find(objects, "ConfigMap", "cache-config")["data"][key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key}"))
}

#[test]
fn sentinel_set_snapshot() {
    let env = load(SENTINEL);
    let a = generate(&env, "sentinel.toml");
    let file = a
        .iter()
        .find(|a| a.path == "kubernetes/storage-cache.yaml")
        .unwrap();
    assert_eq!(
        file.kinds,
        [
            "ServiceAccount",
            "ConfigMap",
            "StatefulSet",
            "Service",
            "PodDisruptionBudget"
        ]
    );
    insta::assert_snapshot!("sentinel_storage-cache", text(file));
}

/// The servers start as replicas of the first pod, the sentinels watch it with a majority
/// quorum, and the primary takes writes only while a majority of the set has them.
#[test]
fn sentinel_set_configuration() {
    let mut env = load(SENTINEL);
    let host = |i: u32| format!("cache-{i}.cache-headless.mini-storage.svc.cluster.local");
    let objects = all_objects(&env);
    let redis = config_file(&objects, "redis.conf");
    assert!(redis.contains(&format!("\nreplicaof {} 6379\n", host(0))));
    assert!(redis.contains("\nappendonly yes\n"));
    assert!(redis.contains("\nmin-replicas-to-write 1\nmin-replicas-max-lag 10\n"));
    let sentinel = config_file(&objects, "sentinel.conf");
    assert!(sentinel.contains(&format!("\nsentinel monitor cache {} 6379 2\n", host(0))));
    for line in [
        "sentinel resolve-hostnames yes",
        "sentinel announce-hostnames yes",
        "sentinel down-after-milliseconds cache 5000",
        "sentinel failover-timeout cache 60000",
        "sentinel parallel-syncs cache 1",
    ] {
        assert!(sentinel.contains(&format!("\n{line}\n")), "{line}");
    }
    // Hostnames are resolved only when the monitor line is read after the switch.
    assert!(sentinel.find("resolve-hostnames") < sentinel.find("sentinel monitor"));
    let start = config_file(&objects, "start.sh");
    let asked = format!("for host in {} {} {}; do", host(0), host(1), host(2));
    assert!(start.contains(&asked), "{start}");
    assert!(start.contains(&format!("primary=${{primary:-{}}}", host(0))));
    assert!(start.contains("SENTINEL get-master-addr-by-name cache"));

    // Five pods: a quorum of three, and two replicas must acknowledge.
    env.storage.get_mut("cache").unwrap().replicas = 5;
    let objects = all_objects(&env);
    assert!(config_file(&objects, "sentinel.conf").contains(" 6379 3\n"));
    assert!(config_file(&objects, "redis.conf").contains("\nmin-replicas-to-write 2\n"));
    assert!(config_file(&objects, "start.sh").contains(&host(4)));
}

/// One server and one sentinel per pod and per node, a start step before them, every container
/// hardened; no Service spreads clients over the servers.
#[test]
fn sentinel_set_pods_and_services() {
    let env = load(SENTINEL);
    let objects = all_objects(&env);
    let sts = find(&objects, "StatefulSet", "cache");
    assert_eq!(sts["spec"]["replicas"], 3);
    assert_eq!(sts["spec"]["serviceName"], "cache-headless");
    let t = &sts["spec"]["template"];
    let spec = &t["spec"];
    let names = |field: &str| -> Vec<&str> {
        spec[field]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect()
    };
    assert_eq!(names("containers"), ["cache", "sentinel"]);
    assert_eq!(names("initContainers"), ["start"]);
    let term =
        &spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0];
    assert_eq!(term["topologyKey"], "kubernetes.io/hostname");
    assert_eq!(
        term["labelSelector"]["matchLabels"]["app.kubernetes.io/name"],
        "cache"
    );
    let annotations = &t["metadata"]["annotations"];
    assert_eq!(annotations["sidecar.istio.io/nativeSidecar"], "true");
    assert_eq!(
        annotations["deaap.io/redis-config-checksum"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    let containers = spec["containers"].as_array().unwrap();
    assert_eq!(
        containers[0]["command"],
        serde_json::json!(["redis-server", "/etc/redis/redis.conf"])
    );
    assert_eq!(containers[1]["ports"][0]["containerPort"], 26379);
    assert_eq!(
        containers[1]["readinessProbe"]["exec"]["command"][2],
        "26379"
    );
    for c in containers
        .iter()
        .chain(spec["initContainers"].as_array().unwrap())
    {
        let sc = &c["securityContext"];
        assert_eq!(sc["readOnlyRootFilesystem"], true, "{}", c["name"]);
        assert_eq!(sc["runAsNonRoot"], true, "{}", c["name"]);
        assert_eq!(sc["allowPrivilegeEscalation"], false, "{}", c["name"]);
        assert!(c["resources"]["limits"].get("memory").is_some());
        // The configuration each pod writes lives in a volume, not the root filesystem.
        assert!(
            c["volumeMounts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["mountPath"] == "/etc/redis")
        );
    }
    let services: Vec<&str> = objects
        .iter()
        .filter(|o| {
            o["kind"] == "Service" && o["metadata"]["labels"]["app.kubernetes.io/name"] == "cache"
        })
        .map(|o| o["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(services, ["cache-headless", "cache-sentinel"]);
    let sentinel = find(&objects, "Service", "cache-sentinel");
    assert_eq!(sentinel["spec"]["ports"].as_array().unwrap().len(), 1);
    assert_eq!(sentinel["spec"]["ports"][0]["port"], 26379);
    let headless = find(&objects, "Service", "cache-headless");
    assert_eq!(headless["spec"]["clusterIP"], "None");
    assert_eq!(headless["spec"]["ports"][1]["port"], 26379);
}

/// A service that depends on the set finds the primary through the sentinels, and its policy and
/// the set's allow servers and sentinels both ways.
#[test]
fn sentinel_set_clients_and_policies() {
    let env = load(SENTINEL);
    let objects = all_objects(&env);
    let web = find(&objects, "Deployment", "web");
    let vars = web["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap();
    let var = |name: &str| {
        vars.iter()
            .find(|v| v["name"] == name)
            .and_then(|v| v["value"].as_str())
            .unwrap_or_else(|| panic!("no {name}"))
    };
    assert_eq!(
        var("CACHE_SENTINELS"),
        "cache-sentinel.mini-storage.svc.cluster.local:26379"
    );
    assert_eq!(var("CACHE_MASTER_NAME"), "cache");
    let ports = |rules: &serde_json::Value, peer: &str| -> Vec<i64> {
        rules
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| {
                r["from"]
                    .get(0)
                    .or_else(|| r["to"].get(0))
                    .is_some_and(|p| {
                        p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == peer
                    })
            })
            .flat_map(|r| r["ports"].as_array().unwrap().iter())
            .map(|p| p["port"].as_i64().unwrap())
            .collect()
    };
    let cache = find(&objects, "NetworkPolicy", "cache");
    assert_eq!(ports(&cache["spec"]["ingress"], "web"), [6379, 26379]);
    assert_eq!(ports(&cache["spec"]["ingress"], "cache"), [6379, 26379]);
    assert_eq!(ports(&cache["spec"]["egress"], "cache"), [6379, 26379]);
    let web = find(&objects, "NetworkPolicy", "web");
    assert_eq!(ports(&web["spec"]["egress"], "cache"), [6379, 26379]);
}

const CNPG: &str = "tests/fixtures/cnpg.toml";

fn object<'a>(objects: &'a [serde_json::Value], kind: &str, name: &str) -> &'a serde_json::Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

/// `replication = "cloudnative-pg"`: the store is a CloudNativePG Cluster built from the model
/// (instances, image, storage, resources, the owner's database and credentials, anti-affinity,
/// scraping, WAL archiving) and a `ScheduledBackup` on its database backup's schedule; the operator
/// makes the pods, Services and disruption budgets, so none are generated.
#[test]
fn a_cloudnative_pg_store_is_a_cluster_with_its_scheduled_backup() {
    let env = load(CNPG);
    let a = generate(&env, "cnpg.toml");
    let file = a
        .iter()
        .find(|a| a.path == "kubernetes/storage-db.yaml")
        .unwrap();
    assert_eq!(file.kinds, ["Cluster", "ScheduledBackup"]);
    let objects = docs(file);
    assert_eq!(objects.len(), 2);
    let cluster = object(&objects, "Cluster", "db");
    assert_eq!(cluster["apiVersion"], "postgresql.cnpg.io/v1");
    assert_eq!(cluster["metadata"]["namespace"], "mini-storage");
    let spec = &cluster["spec"];
    let store = &env.storage["db"];
    assert_eq!(spec["instances"], store.replicas);
    assert_eq!(
        spec["imageName"],
        "registry.example.com/cloudnative-pg/postgresql:16.4"
    );
    assert_eq!(spec["storage"]["size"], "1Gi");
    assert_eq!(spec["storage"]["storageClass"], "fast-ssd");
    let r = env.resources_of(store.resources.as_ref());
    assert_eq!(
        spec["resources"]["limits"]["memory"],
        r.limits.memory.as_str()
    );
    assert_eq!(
        spec["resources"]["requests"]["cpu"],
        r.requests.cpu.as_str()
    );
    assert_eq!(spec["affinity"]["enablePodAntiAffinity"], true);
    assert_eq!(spec["affinity"]["topologyKey"], "kubernetes.io/hostname");
    assert_eq!(spec["affinity"]["podAntiAffinityType"], "required");
    let initdb = &spec["bootstrap"]["initdb"];
    assert_eq!(initdb["database"], "mini");
    assert_eq!(initdb["owner"], store.env["POSTGRES_USER"].as_str());
    assert_eq!(initdb["secret"]["name"], "db-app");
    // The Vault reference behind the Secret, never a value.
    assert_eq!(
        cluster["metadata"]["annotations"]["deaap.io/secret.db-app.password"],
        "vault:secret/data/mini/db#password"
    );
    let pods = &spec["inheritedMetadata"];
    assert_eq!(pods["labels"]["sidecar.istio.io/inject"], "false");
    assert_eq!(pods["labels"]["deaap.io/business-unit"], "testing");
    assert!(pods["labels"].get("app.kubernetes.io/name").is_none());
    assert_eq!(pods["annotations"]["prometheus.io/port"], "9187");
    let archive = &spec["backup"]["barmanObjectStore"];
    assert_eq!(archive["destinationPath"], "s3://minimal-backups/cnpg/db");
    assert_eq!(archive["wal"]["compression"], "gzip");
    assert_eq!(
        spec["backup"]["retentionPolicy"],
        format!("{}d", env.backup.retention_days)
    );
    let scheduled = object(&objects, "ScheduledBackup", "backup-service-db");
    assert_eq!(scheduled["spec"]["cluster"]["name"], "db");
    assert_eq!(scheduled["spec"]["schedule"], "0 30 3 * * *");
    assert_eq!(scheduled["spec"]["method"], "barmanObjectStore");
}

/// Clients, the NetworkPolicies and the plan use CloudNativePG's primary Service and pods: `web`
/// reaches the Cluster's pods (and its recovery Cluster's) by `cnpg.io/cluster`; the operator, the
/// instances and the object store get what CloudNativePG needs; the pods run outside the mesh.
#[test]
fn cloudnative_pg_pods_get_the_operators_flows_under_the_rw_service() {
    let env = load(CNPG);
    let plan = crate::plan::deployed(&env);
    let db = plan.iter().find(|w| w.name == "db").unwrap();
    assert_eq!(db.service_name(), "db-rw");
    assert!(!db.in_mesh(&env) && db.sidecars(&env).is_empty());
    let objects = all_objects(&env);
    let selects_db = serde_json::json!({"matchExpressions": [
        {"key": "cnpg.io/cluster", "operator": "In", "values": ["db", "db-restore"]}
    ]});
    let web = object(&objects, "NetworkPolicy", "web");
    let to_db = web["spec"]["egress"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["to"][0]["podSelector"] == selects_db)
        .expect("web reaches db");
    assert_eq!(to_db["ports"][0]["port"], 5432);
    let policy = object(&objects, "NetworkPolicy", "db");
    assert_eq!(policy["spec"]["podSelector"], selects_db);
    let ingress = policy["spec"]["ingress"].as_array().unwrap();
    let operator = ingress
        .iter()
        .find(|r| {
            r["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                == "cnpg-system"
        })
        .expect("the operator reaches the instances");
    let ports: Vec<&serde_json::Value> = operator["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["port"])
        .collect();
    assert_eq!(ports, [5432, 8000]);
    let peers: Vec<&serde_json::Value> = ingress
        .iter()
        .filter(|r| r["from"][0]["podSelector"] == selects_db)
        .map(|r| &r["ports"][0]["port"])
        .collect();
    assert_eq!(peers, [5432, 8000], "replication and the instance manager");
    let egress_ports: Vec<&serde_json::Value> = policy["spec"]["egress"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r.get("to").is_none())
        .flat_map(|r| r["ports"].as_array().unwrap().iter().map(|p| &p["port"]))
        .collect();
    assert_eq!(
        egress_ports,
        [443, 6443, 443],
        "the API server, the object store"
    );
    let istiod = objects
        .iter()
        .find(|o| {
            o["metadata"]["name"] == "allow-istiod" && o["metadata"]["namespace"] == "mini-storage"
        })
        .unwrap();
    assert_eq!(
        istiod["spec"]["podSelector"]["matchExpressions"][0]["key"],
        "sidecar.istio.io/inject"
    );
    // No StatefulSet, Service or ServiceAccount of its own: the operator's.
    assert!(!objects.iter().any(|o| o["metadata"]["name"] == "db"
        && o["kind"] != "Cluster"
        && o["kind"] != "NetworkPolicy"));
}

/// Without access keys in `backup.secrets`, the instances reach the bucket with the IAM role of
/// their service account (the field as CloudNativePG spells it).
#[test]
fn a_cloudnative_pg_store_without_access_keys_archives_with_its_iam_role() {
    let env = load(CNPG);
    assert!(env.backup.secrets.is_empty());
    let objects = all_objects(&env);
    let credentials =
        &object(&objects, "Cluster", "db")["spec"]["backup"]["barmanObjectStore"]["s3Credentials"];
    assert_eq!(
        *credentials,
        serde_json::json!({"inheritFromIAMRole": true})
    );
}
