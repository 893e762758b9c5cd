use super::*;
use crate::model::Environment;
use crate::targets::{Context, generate_all, testkit};
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

const WORKLOADS: &str = "tests/fixtures/workloads.toml";

#[test]
fn snapshots_minimal() {
    let f = files("tests/fixtures/minimal.toml");
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
    insta::assert_snapshot!(
        "workloads_monitoring_values",
        f["helm/monitoring-values.yaml"]
    );
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
}

// ── The chart's values ──────────────────────────────────────────────────────────────────────────

/// Every environment with a Kubernetes platform among the shipped ones and the fixtures.
const KUBERNETES: [&str; 5] = [
    "environments/staging.toml",
    "environments/production.toml",
    "tests/fixtures/minimal.toml",
    WORKLOADS,
    "tests/fixtures/istio.toml",
];

/// Every artifact of `rel`, and the chart values among them, parsed.
fn chart_values(rel: &str) -> (Vec<crate::targets::Artifact>, Value) {
    let env = load(rel);
    let artifacts = generate_all(&Context::new(&env, "test.toml", None)).expect("generates");
    let path = format!("helm/values-{}.yaml", env.environment.name);
    let values = artifacts.iter().find(|a| a.path == path).map_or_else(
        || panic!("{rel}: no {path}"),
        |a| yaml(std::str::from_utf8(&a.bytes).expect("UTF-8")),
    );
    (artifacts, values)
}

fn validator() -> jsonschema::Validator {
    jsonschema::draft202012::new(&chart::values_schema()).expect("the chart schema compiles")
}

/// Entries of a values section: namespaced and constraint sections are two levels deep.
fn entries(section: &Value, nested: bool) -> usize {
    let map = section.as_object().expect("a section is a map");
    if nested {
        map.values()
            .map(|inner| inner.as_object().expect("a map").len())
            .sum()
    } else {
        map.len()
    }
}

#[test]
fn the_committed_chart_schema_is_the_generated_one() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/deaap/values.schema.json");
    let mut want = serde_json::to_string_pretty(&chart::values_schema()).expect("JSON");
    want.push('\n');
    if std::env::var_os("DEAAP_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &want).expect("writes the chart schema");
    }
    let have = std::fs::read_to_string(&path).expect("charts/deaap/values.schema.json exists");
    assert!(
        have == want,
        "charts/deaap/values.schema.json is stale: refresh it with `deaap-gen schema --chart > charts/deaap/values.schema.json` (or DEAAP_BLESS=1 cargo test)"
    );
}

#[test]
fn the_chart_is_versioned_with_the_tool() {
    let chart = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/deaap/Chart.yaml"),
    )
    .expect("Chart.yaml");
    let chart = yaml(&chart);
    assert_eq!(chart["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(chart["appVersion"], env!("CARGO_PKG_VERSION"));
    assert_eq!(chart["name"], "deaap");
}

#[test]
fn chart_values_hold_every_object_and_satisfy_the_schema() {
    let v = validator();
    for rel in KUBERNETES {
        let (artifacts, values) = chart_values(rel);
        let errors: Vec<String> = v
            .iter_errors(&values)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{rel}: {errors:?}");
        let objects = crate::stream::kubernetes_objects(&artifacts)
            .expect("a stream")
            .into_iter()
            .filter(|o| o.kind() != "CustomResourceDefinition")
            .count();
        let held: usize = values
            .as_object()
            .expect("a map")
            .iter()
            .filter(|(k, _)| *k != "environment")
            .map(|(k, section)| {
                entries(
                    section,
                    !matches!(k.as_str(), "namespaces" | "constraintTemplates"),
                )
            })
            .sum();
        assert_eq!(
            held, objects,
            "{rel}: every object of the stream is in the values"
        );
    }
}

#[test]
fn workloads_lift_replicas_images_and_resources() {
    let (_, v) = chart_values("environments/production.toml");
    assert_eq!(v["environment"], "production");
    let gateway = &v["deployments"]["deaap-core"]["api-gateway"];
    assert_eq!(gateway["replicas"], 2);
    assert_eq!(
        gateway["images"]["api-gateway"],
        "registry.deaap.company.com/deaap/api-gateway:1.8.0"
    );
    assert_eq!(
        gateway["resources"]["api-gateway"]["limits"]["memory"],
        "3Gi"
    );
    let container = &gateway["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["name"], "api-gateway");
    assert!(container.get("image").is_none() && container.get("resources").is_none());
    assert!(gateway["spec"].get("replicas").is_none());
    // Helm writes its own managed-by label.
    assert!(
        gateway["labels"]
            .get("app.kubernetes.io/managed-by")
            .is_none()
    );
    assert_eq!(gateway["labels"]["app.kubernetes.io/name"], "api-gateway");
    // Under an HPA, the Deployment leaves replicas to it.
    let ingester = &v["deployments"]["deaap-core"]["doc-ingester"];
    assert!(ingester.get("replicas").is_none(), "{ingester}");
    // Constraints by kind, cluster-scoped objects by name.
    assert!(v["constraints"]["DeaapNonRoot"]["deaap-non-root"].is_object());
    assert!(v["namespaces"]["deaap-core"]["labels"].is_object());
}

#[test]
fn the_chart_schema_refuses_what_the_chart_cannot_use() {
    let v = validator();
    let (_, values) = chart_values("environments/production.toml");
    let accepts = |edit: &dyn Fn(&mut Value)| {
        let mut values = values.clone();
        edit(&mut values);
        v.is_valid(&values)
    };
    assert!(accepts(
        &|v| v["deployments"]["deaap-core"]["api-gateway"]["replicas"] = json!(3)
    ));
    assert!(!accepts(
        &|v| v["deployments"]["deaap-core"]["api-gateway"]["replicas"] = json!("five")
    ));
    assert!(!accepts(
        &|v| v["deployments"]["deaap-core"]["api-gateway"]["replcias"] = json!(3)
    ));
    assert!(!accepts(
        &|v| v["deployments"]["deaap-core"]["api-gateway"]["replicas"] = json!(-1)
    ));
    assert!(!accepts(&|v| v["servcies"] = json!({})));
    assert!(!accepts(
        &|v| v["services"]["deaap-core"]["api-gateway-service"]["labels"]["a"] = json!(1)
    ));
    assert!(!accepts(
        &|v| v["deployments"]["deaap-core"]["api-gateway"]["images"]["api-gateway"] = json!("")
    ));
    assert!(!accepts(
        &|v| v["deployments"]["Not A Namespace"] = json!({})
    ));
}

/// The commands that write no file generate everything but the chart values, byte for byte the
/// same.
#[test]
fn only_the_chart_values_are_left_out_when_no_file_is_written() {
    let env = load("environments/production.toml");
    let cx = Context::new(&env, "production.toml", None);
    let mut all = generate_all(&cx).expect("generates");
    let objects =
        crate::targets::generate_needed(&cx, crate::targets::Need::Objects).expect("generates");
    let values = all
        .iter()
        .position(|a| a.path == "helm/values-production.yaml")
        .expect("the chart values are among every file");
    all.remove(values);
    assert_eq!(objects, all);
}

/// The values file is written in pieces (two entries each in the unit tests); read back and
/// written again as one document, it is the same text.
#[test]
fn the_values_written_in_pieces_are_the_document_written_whole() {
    for rel in [
        "environments/production.toml",
        "environments/staging.toml",
        WORKLOADS,
    ] {
        let (artifacts, values) = chart_values(rel);
        let text = artifacts
            .iter()
            .find(|a| a.path.starts_with("helm/values-"))
            .map(|a| String::from_utf8(a.bytes.to_vec()).expect("UTF-8"))
            .expect("the values are generated");
        let (_, body) = text.split_once('\n').expect("a header line");
        let again = crate::render::yaml11::json_to_string(&values).expect("writes");
        assert_eq!(body, again, "{rel}");
    }
}
