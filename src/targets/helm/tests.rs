use super::values::camel_case;
use super::*;
use crate::model::{Environment, PodSecurityLevel};
use crate::targets::testkit;
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn load(rel: &str) -> Environment {
    testkit::load(rel)
}

fn generate(env: &Environment) -> Result<BTreeMap<String, String>, TargetError> {
    testkit::generate(&Helm, env)
}

fn files(rel: &str) -> BTreeMap<String, String> {
    generate(&load(rel)).expect("the helm target succeeds")
}

fn yaml(text: &str) -> Value {
    serde_yaml::from_str(text).expect("YAML parses")
}

/// The generated values and a validator for the generated schema.
fn values_and_schema(f: &BTreeMap<String, String>) -> (Value, jsonschema::Validator) {
    let schema: Value = serde_json::from_str(&f["helm/values.schema.json"]).expect("JSON");
    let validator = jsonschema::draft7::new(&schema).expect("the schema compiles");
    (yaml(&f["helm/values.yaml"]), validator)
}

const WORKLOADS: &str = "tests/fixtures/workloads.toml";

const ALL: [&str; 4] = [
    "environments/staging.toml",
    "environments/production.toml",
    "tests/fixtures/minimal.toml",
    WORKLOADS,
];

#[test]
fn snapshots_minimal() {
    let f = files("tests/fixtures/minimal.toml");
    insta::assert_snapshot!("minimal_values", f["helm/values.yaml"]);
    insta::assert_snapshot!("minimal_values_schema", f["helm/values.schema.json"]);
    insta::assert_snapshot!(
        "minimal_monitoring_values",
        f["helm/monitoring-values.yaml"]
    );
}

/// One workload of each kind (tests/fixtures/workloads.toml): autoscaling, GPU, Vault secrets,
/// persistence on a storage class, blockchain nodes and validators. The shipped environments'
/// values are pinned once, in generated/.
#[test]
fn snapshots_workloads() {
    let f = files(WORKLOADS);
    insta::assert_snapshot!("workloads_values", f["helm/values.yaml"]);
    insta::assert_snapshot!("workloads_values_schema", f["helm/values.schema.json"]);
    insta::assert_snapshot!(
        "workloads_monitoring_values",
        f["helm/monitoring-values.yaml"]
    );
}

#[test]
fn production_values_have_the_seed_shape() {
    let v = yaml(&files("environments/production.toml")["helm/values.yaml"]);
    assert_eq!(v["global"]["environment"], "production");
    assert_eq!(
        v["global"]["resources"],
        json!({"requests": {"memory": "2Gi", "cpu": "1"}, "limits": {"memory": "8Gi", "cpu": "4"}})
    );
    assert_eq!(v["docIngester"]["replicaCount"], 5);
    assert_eq!(
        v["docIngester"]["autoscaling"],
        json!({"enabled": true, "minReplicas": 5, "maxReplicas": 50,
               "targetCPUUtilizationPercentage": 70, "targetMemoryUtilizationPercentage": 80})
    );
    assert_eq!(
        v["blockchain"]["persistence"],
        json!({"enabled": true, "size": "1Ti", "storageClass": "fast-ssd"})
    );
    assert_eq!(v["consensus"]["validators"], 7);
    assert_eq!(v["consensus"]["productionMode"], true);
    assert!(v["consensus"].get("testMode").is_none());
    assert_eq!(v["security"]["networkPolicies"]["enabled"], true);
    assert_eq!(v["security"]["podSecurityPolicies"]["enabled"], true);
    assert_eq!(v["security"]["podSecurityStandard"], "restricted");
    // Every service under its camelCase name, with its own image and port.
    assert_eq!(v["apiGateway"]["port"], 8080);
    assert_eq!(
        v["dataProcessor"]["image"]["repository"],
        "deaap/data-processor"
    );
    assert_eq!(v["mockConsensus"]["enabled"], false);
    assert_eq!(v["storage"]["vectorDb"]["kind"], "vector-db");
    assert_eq!(v["monitoring"]["retention"], "30d");
}

#[test]
fn staging_values_have_the_seed_shape() {
    let v = yaml(&files("environments/staging.toml")["helm/values.yaml"]);
    assert_eq!(v["global"]["environment"], "staging");
    assert_eq!(v["docIngester"]["replicaCount"], 2);
    assert_eq!(v["docIngester"]["autoscaling"]["minReplicas"], 2);
    assert_eq!(v["docIngester"]["autoscaling"]["maxReplicas"], 10);
    assert_eq!(
        v["blockchain"]["persistence"],
        json!({"enabled": true, "size": "100Gi"})
    );
    assert_eq!(v["consensus"]["validators"], 3);
    assert_eq!(v["consensus"]["testMode"], true);
    assert!(v["consensus"].get("productionMode").is_none());
}

#[test]
fn values_satisfy_their_schema() {
    for rel in ALL {
        let f = files(rel);
        let (values, v) = values_and_schema(&f);
        let errors: Vec<String> = v.iter_errors(&values).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{rel}: {errors:?}");
        let schema: Value = serde_json::from_str(&f["helm/values.schema.json"]).expect("JSON");
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    }
}

/// Applies `edit` to the production values and says whether the schema still accepts them.
fn accepts_after(edit: impl FnOnce(&mut Value)) -> bool {
    let f = files("environments/production.toml");
    let (mut values, v) = values_and_schema(&f);
    edit(&mut values);
    v.is_valid(&values)
}

#[test]
fn schema_rejects_hand_edits_the_chart_cannot_use() {
    assert!(accepts_after(
        |v| v["docIngester"]["replicaCount"] = json!(6)
    ));
    assert!(!accepts_after(
        |v| v["docIngester"]["replicaCount"] = json!("five")
    ));
    assert!(!accepts_after(
        |v| v["docIngester"]["replicaCount"] = json!(-1)
    ));
    assert!(!accepts_after(
        |v| v["docIngester"]["replicaCont"] = json!(3)
    ));
    assert!(!accepts_after(|v| v["docIngestor"] = json!({})));
    assert!(!accepts_after(
        |v| v["global"]["resources"]["limits"]["memory"] = json!("8 GB")
    ));
    assert!(!accepts_after(
        |v| v["global"]["resources"]["requests"]["cpu"] = json!("lots")
    ));
    assert!(!accepts_after(
        |v| v["blockchain"]["persistence"]["size"] = json!(100)
    ));
    assert!(!accepts_after(|v| v["consensus"]["testMode"] = json!(true)));
    assert!(!accepts_after(
        |v| v["security"]["podSecurityStandard"] = json!("strict")
    ));
    assert!(!accepts_after(|v| v["apiGateway"]["port"] = json!(70000)));
    assert!(!accepts_after(|v| {
        v.as_object_mut().map(|o| o.remove("global"));
    }));
}

#[test]
fn monitoring_values_carry_the_seed_stack() {
    let text = files("environments/production.toml")["helm/monitoring-values.yaml"].clone();
    let m = yaml(&text);
    let ps = &m["prometheus"]["prometheusSpec"];
    assert_eq!(ps["retention"], "30d");
    let claim = &ps["storageSpec"]["volumeClaimTemplate"]["spec"];
    assert_eq!(claim["storageClassName"], "fast-ssd");
    assert_eq!(claim["resources"]["requests"]["storage"], "500Gi");
    assert_eq!(
        ps["ruleSelector"],
        json!({"matchLabels": {"release": "kube-prometheus-stack"}})
    );
    let job = &ps["additionalScrapeConfigs"][0];
    assert_eq!(job["job_name"], "deaap-services");
    assert_eq!(job["kubernetes_sd_configs"][0]["role"], "pod");
    let keep = &job["relabel_configs"][0];
    assert_eq!(
        keep["source_labels"],
        json!(["__meta_kubernetes_pod_annotation_prometheus_io_scrape"])
    );
    assert_eq!(keep["action"], "keep");
    // A string, not YAML's boolean.
    assert_eq!(keep["regex"], json!("true"));
    assert!(text.contains("regex: 'true'"), "{text}");
    let relabelled: Vec<&str> = job["relabel_configs"]
        .as_array()
        .expect("relabel list")
        .iter()
        .flat_map(|r| r["source_labels"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    assert!(relabelled.contains(&"__meta_kubernetes_pod_annotation_prometheus_io_port"));
    assert!(relabelled.contains(&"__meta_kubernetes_pod_annotation_prometheus_io_path"));
    let g = &m["grafana"];
    assert_eq!(g["persistence"], json!({"enabled": true, "size": "10Gi"}));
    let provider = &g["dashboardProviders"]["dashboardproviders.yaml"]["providers"][0];
    assert_eq!(provider["name"], "deaap-dashboards");
    assert_eq!(provider["folder"], "DEAAP");
    assert_eq!(
        provider["options"]["path"],
        "/var/lib/grafana/dashboards/deaap"
    );
}

#[test]
fn blockchain_nodes_report_under_their_metrics_job() {
    let m = yaml(&files(WORKLOADS)["helm/monitoring-values.yaml"]);
    let relabels =
        m["prometheus"]["prometheusSpec"]["additionalScrapeConfigs"][0]["relabel_configs"]
            .as_array()
            .expect("relabel list")
            .clone();
    let to_job = relabels
        .iter()
        .find(|r| r["target_label"] == "job")
        .expect("a relabel sets the job");
    assert_eq!(to_job["regex"], "mini-chain;blockchain");
    assert_eq!(to_job["replacement"], "chain-node");
    // The minimal fixture runs no blockchain.
    let m = yaml(&files("tests/fixtures/minimal.toml")["helm/monitoring-values.yaml"]);
    let text = m.to_string();
    assert!(!text.contains("\"target_label\":\"job\""), "{text}");
}

#[test]
fn without_monitoring_there_are_no_monitoring_values() {
    let mut env = load("tests/fixtures/minimal.toml");
    env.monitoring.enabled = false;
    let f = generate(&env).expect("generates");
    assert!(!f.contains_key("helm/monitoring-values.yaml"));
    assert_eq!(yaml(&f["helm/values.yaml"])["monitoring"]["enabled"], false);
}

#[test]
fn privileged_pods_switch_the_legacy_policy_key_off() {
    let mut env = load("tests/fixtures/minimal.toml");
    env.security.pod_security = PodSecurityLevel::Privileged;
    let v = yaml(&generate(&env).expect("generates")["helm/values.yaml"]);
    assert_eq!(v["security"]["podSecurityPolicies"]["enabled"], false);
    assert_eq!(v["security"]["podSecurityStandard"], "privileged");
}

#[test]
fn a_service_named_like_a_chart_key_is_an_error() {
    let mut env = load("tests/fixtures/minimal.toml");
    let web = env.services["web"].clone();
    env.services.insert("storage".to_owned(), web);
    let e = generate(&env).expect_err("refused");
    assert!(e.0.contains("`storage`"), "{e}");
}

#[test]
fn names_become_camel_case_keys() {
    assert_eq!(camel_case("doc-ingester"), "docIngester");
    assert_eq!(camel_case("vector-db"), "vectorDb");
    assert_eq!(camel_case("web"), "web");
    assert_eq!(camel_case("a-b-c2"), "aBC2");
}
