//! Alert routing, runbooks' service graph and tracing as an operator meets them in the shipped
//! environments' output: every alert of the generated rules reaches the receiver the environment's
//! routing policy intends (walked through the generated route tree the way Alertmanager matches),
//! the standalone configuration is the one kube-prometheus-stack gets, credentials are files of
//! the mounted Secret, and the receivers' and routes' mistakes are located (DG0136, DG0137).

use crate::support::{edit, json_of_kind, root, run, scratch_with_environments};
use serde_json::Value;
use std::path::Path;

fn yaml(env: &str, file: &str) -> Value {
    let text = std::fs::read_to_string(root().join("generated").join(env).join(file))
        .unwrap_or_else(|e| panic!("{env}/{file}: {e}"));
    serde_yaml::from_str(&text).expect("YAML")
}

/// Every document of a multi-document YAML file.
fn docs(env: &str, file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(root().join("generated").join(env).join(file))
        .unwrap_or_else(|e| panic!("{env}/{file}: {e}"));
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).expect("YAML"))
        .collect()
}

/// Whether Alertmanager's matcher `label="value"` or `label=~"regex"` holds for `labels`.
fn matches(matcher: &str, labels: &Value) -> bool {
    let (label, op, value) = if let Some((l, v)) = matcher.split_once("=~") {
        (l, "=~", v)
    } else {
        let (l, v) = matcher.split_once('=').expect("a matcher");
        (l, "=", v)
    };
    let value = value.trim_matches('"');
    let have = labels[label].as_str().unwrap_or("");
    match op {
        "=~" => value.split('|').any(|v| v == have),
        _ => value == have,
    }
}

/// The receiver Alertmanager picks: the first child route whose matchers all hold (the generated
/// tree is one level deep and never continues), else the root's.
fn route(config: &Value, labels: &Value) -> String {
    let root = &config["route"];
    for r in root["routes"].as_array().into_iter().flatten() {
        let all = r["matchers"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|m| matches(m.as_str().unwrap_or(""), labels));
        if all {
            return r["receiver"].as_str().unwrap_or("").to_owned();
        }
    }
    root["receiver"].as_str().unwrap_or("").to_owned()
}

/// Every alert of the environment's rules with its labels (plus `alertname`).
fn alerts(env: &str) -> Vec<Value> {
    let rules = yaml(env, "prometheus/rules.yaml");
    let mut out = Vec::new();
    for g in rules["groups"].as_array().expect("groups") {
        for r in g["rules"].as_array().expect("rules") {
            let mut labels = r["labels"].clone();
            labels["alertname"] = r["alert"].clone();
            out.push(labels);
        }
    }
    out
}

#[test]
fn production_pages_critical_alerts_and_posts_warnings_for_the_business_unit() {
    let config = yaml("production", "alertmanager/alertmanager.yaml");
    let values = yaml("production", "helm/monitoring-values.yaml");
    assert_eq!(values["alertmanager"]["config"], config);
    let all = alerts("production");
    assert_eq!(all.len(), 9);
    for labels in &all {
        assert_eq!(labels["bu_name"], "platform", "{labels}");
        let want = match labels["severity"].as_str() {
            Some("critical") => "pagerduty-platform",
            _ => "slack-platform",
        };
        assert_eq!(route(&config, labels), want, "{labels}");
    }
    // Another business unit's critical alert pages operations; the rest goes to their channel.
    let other = serde_json::json!({"alertname": "X", "severity": "critical", "bu_name": "finance"});
    assert_eq!(route(&config, &other), "pagerduty-deaap-ops");
    let other = serde_json::json!({"alertname": "X", "severity": "warning", "bu_name": "finance"});
    assert_eq!(route(&config, &other), "slack-deaap-ops");
    let watchdog = serde_json::json!({"alertname": "Watchdog", "severity": "none"});
    assert_eq!(route(&config, &watchdog), "null");
    assert_eq!(
        config["route"]["group_by"],
        serde_json::json!(["alertname", "namespace", "bu_name"])
    );
}

#[test]
fn staging_pages_no_one() {
    let config = yaml("staging", "alertmanager/alertmanager.yaml");
    for labels in alerts("staging") {
        assert_eq!(route(&config, &labels), "slack-platform", "{labels}");
    }
    let receivers = config["receivers"].as_array().expect("receivers");
    assert!(receivers.iter().all(|r| r["pagerduty_configs"].is_null()));
}

#[test]
fn a_down_blockchain_holds_back_its_dependents_latency_alerts() {
    let config = yaml("production", "alertmanager/alertmanager.yaml");
    let rules = config["inhibit_rules"].as_array().expect("inhibit rules");
    assert_eq!(rules.len(), 1);
    assert_eq!(
        rules[0]["source_matchers"],
        serde_json::json!(["alertname=\"BlockchainNodeDown\""])
    );
    let target = rules[0]["target_matchers"][0].as_str().expect("matcher");
    for name in [
        "ConsensusValidationTimeAboveTarget",
        "AgentDeploymentTimeAboveTarget",
    ] {
        let labels = serde_json::json!({ "alertname": name });
        assert!(matches(target, &labels), "{name} not inhibited by {target}");
    }
    // doc-ingester does not depend on the blockchain.
    let labels = serde_json::json!({"alertname": "DocIngesterHighLatency"});
    assert!(!matches(target, &labels));
    assert_eq!(rules[0]["equal"], serde_json::json!(["bu_name"]));
}

#[test]
fn credentials_are_files_of_the_mounted_secret_never_values() {
    let values = yaml("production", "helm/monitoring-values.yaml");
    let spec = &values["alertmanager"]["alertmanagerSpec"];
    assert_eq!(
        spec["secrets"],
        serde_json::json!(["deaap-alertmanager-receivers"])
    );
    let annotations = spec["podMetadata"]["annotations"]
        .as_object()
        .expect("annotations");
    assert_eq!(annotations.len(), 4);
    assert!(
        annotations
            .values()
            .all(|v| v.as_str().is_some_and(|s| s.starts_with("vault:")))
    );
    let text =
        std::fs::read_to_string(root().join("generated/production/alertmanager/alertmanager.yaml"))
            .expect("read");
    for line in text.lines().filter(|l| l.contains("_file:")) {
        assert!(
            line.contains("/etc/alertmanager/secrets/deaap-alertmanager-receivers/"),
            "{line}"
        );
    }
    for word in ["api_url:", "routing_key:", "vault:"] {
        assert!(!text.contains(word), "{word} in the configuration");
    }
}

#[test]
fn tracing_samples_at_the_environments_rate_to_the_jaeger_collector() {
    for (env, rate) in [("production", 1), ("staging", 100)] {
        let telemetries = docs(env, "istio/telemetry.yaml");
        let namespaces: Vec<&str> = telemetries
            .iter()
            .filter_map(|t| t["metadata"]["namespace"].as_str())
            .collect();
        assert_eq!(
            namespaces,
            ["deaap-core", "deaap-blockchain", "deaap-storage"]
        );
        for t in &telemetries {
            assert_eq!(t["spec"]["tracing"][0]["randomSamplingPercentage"], rate);
            assert_eq!(t["spec"]["tracing"][0]["providers"][0]["name"], "jaeger");
        }
        let egress = docs(env, "kubernetes/tracing-network-policies.yaml");
        assert_eq!(egress.len(), 3);
        assert_eq!(egress[0]["spec"]["egress"][0]["ports"][0]["port"], 4317);
    }
    let istiod = yaml("production", "helm/istiod-values.yaml");
    let p = &istiod["meshConfig"]["extensionProviders"][0];
    assert_eq!(p["name"], "jaeger");
    assert_eq!(
        p["opentelemetry"]["service"],
        "jaeger-collector.observability.svc.cluster.local"
    );
}

fn diagnostics(dir: &Path) -> Vec<Value> {
    let o = run(
        dir,
        &[
            "validate",
            "environments/production.toml",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    json_of_kind(&o, "diagnostic")
}

#[test]
fn dg0136_and_dg0137_locate_receiver_and_route_mistakes() {
    let dir = scratch_with_environments();
    let prod = dir.path().join("environments/production.toml");
    edit(
        &prod,
        "kind = \"pagerduty\"\nsecrets = { routing_key = \"vault:secret/data/deaap/alertmanager#pagerduty-ops-routing-key\" }",
        "kind = \"pagerduty\"\nchannel = \"#ops\"\nsecrets = { api_url = \"file:./pd\" }",
    );
    edit(
        &prod,
        "receiver = \"pagerduty-deaap-ops\"",
        "receiver = \"pagerduty-deaap-opz\"",
    );
    edit(
        &prod,
        "severity = \"critical\"\nbusiness_unit = \"platform\"\nreceiver",
        "business_unit = \"platform\"\nreceiver",
    );
    let diags = diagnostics(dir.path());
    let of = |code: &str| -> Vec<String> {
        diags
            .iter()
            .filter(|d| d["code"] == code)
            .map(|d| d["message"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    let receivers = of("DG0136");
    for want in [
        "receiver `pagerduty-deaap-ops` is `pagerduty`, which has no `channel`",
        "which has no credential `api_url`",
        "`pagerduty` receiver `pagerduty-deaap-ops` has no `secrets.routing_key`",
    ] {
        assert!(
            receivers.iter().any(|m| m.contains(want)),
            "{want:?} not in {receivers:#?}"
        );
    }
    let routes = of("DG0137");
    assert!(
        routes
            .iter()
            .any(|m| m.contains("receiver `pagerduty-deaap-opz` is not defined")),
        "{routes:#?}"
    );
    assert!(
        routes.iter().any(|m| m.contains("route 1 never matches")),
        "{routes:#?}"
    );
}

/// The tracing proof (DG0550): without the Telemetry objects or the sidecars' egress the spans are
/// lost, and each gap is reported on the model.
#[test]
fn dg0550_spans_lost_between_sidecar_and_collector_are_refused() {
    let path = root().join("environments/staging.toml");
    let c = deaap_gen::compile(&path);
    let (model, tree) = (c.model.expect("valid"), c.tree.expect("tree"));
    let artifacts = deaap_gen::generate(&model, &path).expect("generates");
    let (found, _) = deaap_gen::proof::prove(&tree, &model, &artifacts);
    assert!(found.iter().all(|d| d.code != "DG0550"), "{found:#?}");
    let without: Vec<_> = artifacts
        .into_iter()
        .filter(|a| {
            a.path != "istio/telemetry.yaml" && a.path != "kubernetes/tracing-network-policies.yaml"
        })
        .collect();
    let (found, _) = deaap_gen::proof::prove(&tree, &model, &without);
    let messages: Vec<&str> = found
        .iter()
        .filter(|d| d.code == "DG0550")
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(messages.len(), 6, "{messages:#?}");
    assert!(
        messages
            .iter()
            .any(|m| m.contains("namespace `deaap-core` runs sidecars but has no Telemetry"))
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("no NetworkPolicy of `deaap-storage` lets its sidecars reach"))
    );
}
