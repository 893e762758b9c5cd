//! The log collection keys as a user meets their mistakes: DG0138 (topics) and DG0139 (brokers)
//! at the key that causes them, and a broken collector route that the reachability proof reports.

use crate::support::{edit, json_of_kind, run, scratch_with_environments};
use serde_json::Value;
use std::path::Path;

const BASE: &str = "environments/base.toml";
const STAGING: &str = "environments/staging.toml";

fn diagnostics(dir: &Path, args: &[&str]) -> (i32, Vec<Value>) {
    let o = run(dir, args);
    (
        o.status.code().unwrap_or(-1),
        json_of_kind(&o, "diagnostic"),
    )
}

fn find<'a>(diags: &'a [Value], code: &str, words: &str) -> &'a Value {
    diags
        .iter()
        .find(|d| d["code"] == code && d["message"].as_str().unwrap_or("").contains(words))
        .unwrap_or_else(|| panic!("no {code} with {words:?}; got:\n{diags:#?}"))
}

#[test]
fn topics_name_declared_workloads_once_and_are_kafka_names() {
    let dir = scratch_with_environments();
    edit(
        &dir.path().join(BASE),
        r#"deaap-audit-logs = ["consensus-manager", "authorization"]"#,
        r#"deaap-audit-logs = ["consensus-manager", "authorisation"]
"audit logs" = ["consensus-manager"]"#,
    );
    let (code, diags) = diagnostics(dir.path(), &["validate", STAGING, "--format", "json"]);
    assert_eq!(code, 2);
    let unknown = find(
        &diags,
        "DG0138",
        "workload `authorisation`, which is not declared",
    );
    assert_eq!(unknown["severity"], "error");
    assert!(
        unknown
            .to_string()
            .contains("did you mean `authorization`?"),
        "{unknown:#}"
    );
    find(&diags, "DG0138", "`audit logs` is not a Kafka topic name");
    find(
        &diags,
        "DG0138",
        "workload `consensus-manager` is listed under",
    );
}

#[test]
fn brokers_are_host_and_port() {
    let dir = scratch_with_environments();
    edit(
        &dir.path().join(BASE),
        r#"brokers = ["kafka-bootstrap.kafka.svc.cluster.local:9092"]"#,
        r#"brokers = ["kafka://kafka-bootstrap.kafka.svc.cluster.local:9092", "kafka"]"#,
    );
    let (code, diags) = diagnostics(dir.path(), &["validate", STAGING, "--format", "json"]);
    assert_eq!(code, 2);
    find(
        &diags,
        "DG0139",
        "`kafka://kafka-bootstrap.kafka.svc.cluster.local:9092` is not `host:port`",
    );
    let bare = find(&diags, "DG0139", "`kafka` is not `host:port`");
    assert_eq!(bare["severity"], "error");
    edit(
        &dir.path().join(BASE),
        r#"brokers = ["kafka://kafka-bootstrap.kafka.svc.cluster.local:9092", "kafka"]"#,
        "brokers = []",
    );
    let (code, diags) = diagnostics(dir.path(), &["validate", STAGING, "--format", "json"]);
    assert_eq!(code, 2);
    find(&diags, "DG0139", "logging is enabled with no Kafka broker");
}

#[test]
fn a_broker_outside_the_cluster_is_reached_by_port_and_proven() {
    let dir = scratch_with_environments();
    edit(
        &dir.path().join(BASE),
        r#"brokers = ["kafka-bootstrap.kafka.svc.cluster.local:9092"]"#,
        r#"brokers = ["kafka-1.logs.example.com:9093", "kafka-2.logs.example.com:9093"]"#,
    );
    let o = run(dir.path(), &["build", STAGING, "-o", "out"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text =
        std::fs::read_to_string(dir.path().join("out/staging/kubernetes/log-collector.yaml"))
            .unwrap();
    assert!(text.contains("brokers: kafka-1.logs.example.com:9093,kafka-2.logs.example.com:9093"));
    assert!(text.contains("port: 9093"));
}

#[test]
fn the_collector_is_admitted_only_where_the_monitoring_namespace_allows_host_paths() {
    let dir = scratch_with_environments();
    edit(
        &dir.path().join(BASE),
        "level = \"privileged\"",
        "level = \"baseline\"",
    );
    let (code, diags) = diagnostics(
        dir.path(),
        &["build", STAGING, "-o", "out", "--format", "json"],
    );
    assert_eq!(code, 2);
    let refused = find(&diags, "DG0501", "DaemonSet deaap-monitoring/log-collector");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("\"/var/log\""),
        "{refused:#}"
    );
}

#[test]
fn the_collector_image_is_pinned_like_the_others() {
    let dir = scratch_with_environments();
    edit(
        &dir.path().join(BASE),
        r#"image = { repository = "fluent/fluent-bit", tag = "4.0.3" }"#,
        r#"image = { repository = "fluent/fluent-bit", tag = "latest" }"#,
    );
    let (code, diags) = diagnostics(
        dir.path(),
        &[
            "validate",
            "environments/production.toml",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 2);
    let d = find(&diags, "DG0111", "the log collector");
    assert_eq!(d["severity"], "error");
}
