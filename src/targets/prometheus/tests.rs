use super::rule_tests::TestFile;
use super::*;
use crate::model::{AlertSeverity, Environment, Signal};
use crate::targets::testkit;

fn load(rel: &str) -> Environment {
    testkit::load(rel)
}

fn generate(env: &Environment) -> Result<BTreeMap<String, String>, TargetError> {
    testkit::generate(&Prometheus, env)
}

fn files(rel: &str) -> BTreeMap<String, String> {
    generate(&load(rel)).expect("the prometheus target succeeds")
}

fn rules(files: &BTreeMap<String, String>) -> RuleFile {
    serde_yaml::from_str(&files["prometheus/rules.yaml"])
        .expect("rules.yaml parses as a rules file")
}

/// Every alert signal in both directions (tests/fixtures/prometheus-signals.toml); the shipped
/// environments' rules are pinned once, in generated/.
const SIGNALS: &str = "tests/fixtures/prometheus-signals.toml";

fn tests_of(files: &BTreeMap<String, String>) -> TestFile {
    serde_yaml::from_str(&files["prometheus/rules.test.yaml"]).expect("rules.test.yaml parses")
}

#[test]
fn snapshots_minimal() {
    let f = files("tests/fixtures/minimal.toml");
    insta::assert_snapshot!("minimal_rules", f["prometheus/rules.yaml"]);
    insta::assert_snapshot!("minimal_rules_test", f["prometheus/rules.test.yaml"]);
    insta::assert_snapshot!(
        "minimal_prometheusrule",
        f["prometheus/prometheusrule.yaml"]
    );
}

#[test]
fn production_alerts_have_correct_promql() {
    let file = rules(&files("environments/production.toml"));
    let names: Vec<&str> = file.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, [ALERTS_GROUP, TARGETS_GROUP]);
    let exprs: BTreeMap<&str, &str> = file
        .groups
        .iter()
        .flat_map(|g| &g.rules)
        .map(|r| (r.alert.as_str(), r.expr.as_str()))
        .collect();
    let q = |metric: &str, t: &str| {
        format!("histogram_quantile(0.95, sum by (le) (rate({metric}_bucket[5m]))) > {t}")
    };
    let expected = BTreeMap::from([
        (
            "DocIngesterHighLatency",
            q("deaap_document_processing_duration_seconds", "300"),
        ),
        (
            "ConsensusValidationFailure",
            "min(deaap_consensus_validation_success_rate) < 0.8".to_owned(),
        ),
        (
            "BlockchainNodeDown",
            r#"up{job="blockchain-node"} < 1"#.to_owned(),
        ),
        (
            "DocIngesterProcessingLatencyAboveTarget",
            q("deaap_document_processing_duration_seconds", "60"),
        ),
        (
            "ConsensusValidationTimeAboveTarget",
            q("deaap_consensus_validation_duration_seconds", "600"),
        ),
        (
            "AgentDeploymentTimeAboveTarget",
            q("deaap_agent_deployment_duration_seconds", "300"),
        ),
        (
            "BlockchainThroughputBelowTarget",
            "sum(rate(deaap_blockchain_transaction_count[5m])) < 50".to_owned(),
        ),
        (
            "VectorQueryLatencyAboveTarget",
            q("deaap_vector_query_duration_seconds", "0.5"),
        ),
        (
            "ApiGatewayLatencyAboveTarget",
            q("deaap_api_request_duration_seconds", "1"),
        ),
    ]);
    assert_eq!(
        exprs,
        expected
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect::<BTreeMap<_, _>>()
    );
}

#[test]
fn every_alert_has_severity_for_and_annotations() {
    for rel in [
        "environments/staging.toml",
        "environments/production.toml",
        "tests/fixtures/minimal.toml",
    ] {
        let env = load(rel);
        let file = rules(&files(rel));
        for r in file.groups.iter().flat_map(|g| &g.rules) {
            assert!(r.labels.contains_key("severity"), "{rel} {}", r.alert);
            assert!(duration::parse_ms(&r.for_).is_ok(), "{rel} {}", r.alert);
            assert!(!r.annotations["summary"].is_empty());
            assert!(!r.annotations["description"].is_empty());
            match &env.monitoring.runbook_base_url {
                Some(base) => {
                    assert_eq!(
                        r.annotations["runbook_url"],
                        format!("{base}/{}.md", r.alert)
                    );
                    let page = format!("runbooks/{}.md", r.alert);
                    assert!(files(rel).contains_key(&page), "{rel}: no {page}");
                }
                None => assert!(!r.annotations.contains_key("runbook_url")),
            }
        }
    }
}

#[test]
fn seed_alerts_keep_their_for_and_severity() {
    let file = rules(&files("environments/production.toml"));
    let seed = &file.groups[0].rules;
    let got: Vec<(&str, &str, &str)> = seed
        .iter()
        .map(|r| {
            (
                r.alert.as_str(),
                r.for_.as_str(),
                r.labels["severity"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("BlockchainNodeDown", "1m", "critical"),
            ("ConsensusValidationFailure", "2m", "critical"),
            ("DocIngesterHighLatency", "5m", "warning"),
        ]
    );
}

#[test]
fn a_missing_description_is_generated_from_the_signal() {
    let file = rules(&files("environments/production.toml"));
    let r = file.groups[1]
        .rules
        .iter()
        .find(|r| r.alert == "VectorQueryLatencyAboveTarget")
        .expect("the vector latency alert exists");
    assert_eq!(
        r.annotations["description"],
        "The p95 of deaap_vector_query_duration_seconds over 5m has been above 0.5s for 10m."
    );
    let r = file.groups[1]
        .rules
        .iter()
        .find(|r| r.alert == "BlockchainThroughputBelowTarget")
        .expect("the throughput alert exists");
    assert_eq!(
        r.annotations["description"],
        "The per-second rate of deaap_blockchain_transaction_count over 5m, summed, has been below 50 for 10m."
    );
}

#[test]
fn every_alert_has_a_firing_and_a_silent_test_case() {
    for rel in [
        "environments/staging.toml",
        "environments/production.toml",
        "tests/fixtures/minimal.toml",
    ] {
        let f = files(rel);
        let tests = tests_of(&f);
        assert_eq!(tests.rule_files, ["rules.yaml"]);
        for r in rules(&f).groups.iter().flat_map(|g| &g.rules) {
            let cases: Vec<_> = tests
                .tests
                .iter()
                .flat_map(|t| &t.alert_rule_test)
                .filter(|c| c.alertname == r.alert)
                .collect();
            assert_eq!(cases.len(), 2, "{rel} {}", r.alert);
            let fires = cases.iter().find(|c| !c.exp_alerts.is_empty());
            let silent = cases.iter().find(|c| c.exp_alerts.is_empty());
            let fires = fires.unwrap_or_else(|| panic!("{} has no firing case", r.alert));
            assert!(silent.is_some(), "{} has no silent case", r.alert);
            // The evaluation comes after the alert's `for` has elapsed.
            assert!(
                duration::parse_ms(&fires.eval_time).unwrap()
                    > duration::parse_ms(&r.for_).unwrap()
            );
            // What fires is what the rules file declares.
            let exp = &fires.exp_alerts[0];
            assert_eq!(exp.exp_labels["severity"], r.labels["severity"]);
            assert_eq!(exp.exp_annotations, r.annotations);
        }
    }
}

#[test]
fn latency_alerts_are_fed_histogram_buckets_on_either_side_of_the_threshold() {
    let tests = tests_of(&files("environments/production.toml"));
    let group = |prefix: &str| {
        tests
            .tests
            .iter()
            .find(|t| t.name.starts_with(prefix))
            .unwrap_or_else(|| panic!("no test group {prefix}"))
    };
    let fires = group("DocIngesterHighLatency fires above 300");
    let series: Vec<(&str, &str)> = fires
        .input_series
        .iter()
        .map(|s| (s.series.as_str(), s.values.as_str()))
        .collect();
    // Every observation in (600, 1200]: the p95 is 600 + 0.95 × 600 = 1170 > 300.
    assert_eq!(
        series,
        [
            (
                r#"deaap_document_processing_duration_seconds_bucket{le="150"}"#,
                "0+0x34"
            ),
            (
                r#"deaap_document_processing_duration_seconds_bucket{le="600"}"#,
                "0+0x34"
            ),
            (
                r#"deaap_document_processing_duration_seconds_bucket{le="1200"}"#,
                "0+10x34"
            ),
            (
                r#"deaap_document_processing_duration_seconds_bucket{le="+Inf"}"#,
                "0+10x34"
            ),
        ]
    );
    // Every observation in (0, 150]: the p95 is at most 150 < 300.
    let silent = group("DocIngesterHighLatency stays silent");
    assert!(silent.input_series.iter().all(|s| s.values == "0+10x34"));
    assert_eq!(silent.alert_rule_test[0].eval_time, "12m");

    let rate = group("BlockchainThroughputBelowTarget fires below 50");
    // 25 transactions per second, sampled every 30 s.
    assert_eq!(rate.input_series[0].values, "0+750x44");
    let up = group("BlockchainNodeDown stays silent");
    assert_eq!(up.input_series[0].values, "1+0x26");
}

#[test]
fn label_values_are_escaped_in_queries_and_test_series() {
    let mut env = load("tests/fixtures/minimal.toml");
    let alert = env.alerts.get_mut("WebSlow").expect("fixture alert");
    alert
        .selector
        .insert("route".to_owned(), "/a\"b\\c".to_owned());
    let f = generate(&env).expect("generates");
    let expr = &rules(&f).groups[0].rules[0].expr;
    assert!(
        expr.contains(r#"web_request_duration_seconds_bucket{route="/a\"b\\c"}"#),
        "{expr}"
    );
    assert!(
        tests_of(&f)
            .tests
            .iter()
            .flat_map(|t| &t.input_series)
            .all(|s| s.series.contains(r#"route="/a\"b\\c""#))
    );
}

#[test]
fn model_text_is_not_expanded_as_a_template() {
    let mut env = load("tests/fixtures/minimal.toml");
    let alert = env.alerts.get_mut("WebSlow").expect("fixture alert");
    alert.summary = "p99 {{ $value }} too high".to_owned();
    let f = generate(&env).expect("generates");
    let rule = &rules(&f).groups[0].rules[0];
    assert_eq!(
        rule.annotations["summary"],
        r#"p99 {{ "{{" }} $value }} too high"#
    );
    // Prometheus prints the text back as written, which is what the unit test expects.
    let tests = tests_of(&f);
    let exp = &tests.tests[0].alert_rule_test[0].exp_alerts[0];
    assert_eq!(exp.exp_annotations["summary"], "p99 {{ $value }} too high");
}

#[test]
fn prometheus_rule_is_selected_by_the_rule_labels() {
    let f = files(SIGNALS);
    let obj: serde_json::Value =
        serde_yaml::from_str(&f["prometheus/prometheusrule.yaml"]).expect("parses");
    assert_eq!(obj["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(obj["kind"], "PrometheusRule");
    assert_eq!(obj["metadata"]["namespace"], "sig-monitoring");
    assert_eq!(obj["metadata"]["labels"]["release"], "prom");
    assert_eq!(obj["metadata"]["labels"]["team"], "sre");
    let groups: Vec<RuleGroup> =
        serde_json::from_value(obj["spec"]["groups"].clone()).expect("groups parse");
    assert_eq!(groups, rules(&f).groups);
}

#[test]
fn without_monitoring_there_is_no_prometheus_rule_object() {
    let mut env = load("tests/fixtures/minimal.toml");
    env.monitoring.enabled = false;
    let f = generate(&env).expect("generates");
    assert!(!f.contains_key("prometheus/prometheusrule.yaml"));
    assert!(f.contains_key("prometheus/rules.yaml"));
}

#[test]
fn compose_environments_get_nothing() {
    let env = load("environments/development.toml");
    assert!(!Prometheus.applies(&env));
}

#[test]
fn a_duplicate_alert_name_is_an_error() {
    let mut env = load("environments/production.toml");
    env.performance_targets[0].alert_name = "DocIngesterHighLatency".to_owned();
    let e = generate(&env).expect_err("duplicate names are refused");
    assert!(e.0.contains("DocIngesterHighLatency"), "{e}");
}

#[test]
fn untestable_thresholds_are_errors() {
    let mut env = load("tests/fixtures/minimal.toml");
    let alert = env.alerts.get_mut("WebSlow").expect("fixture alert");
    alert.signal = Signal::Rate;
    alert.when = Comparison::Below;
    alert.threshold = 0.0;
    assert!(generate(&env).is_err(), "a rate is never below 0");
}

#[test]
fn up_and_value_alerts_above_a_threshold() {
    let mut env = load("tests/fixtures/minimal.toml");
    let mut alert = env.alerts["WebSlow"].clone();
    alert.signal = Signal::Value;
    alert.when = Comparison::Above;
    alert.threshold = 10.0;
    alert.severity = AlertSeverity::Critical;
    env.alerts.insert("QueueDeep".to_owned(), alert);
    let f = generate(&env).expect("generates");
    let rule = rules(&f).groups[0]
        .rules
        .iter()
        .find(|r| r.alert == "QueueDeep")
        .cloned()
        .expect("alert present");
    assert_eq!(rule.expr, "max(web_request_duration_seconds) > 10");
    let tests = tests_of(&f);
    let values: Vec<&str> = tests
        .tests
        .iter()
        .filter(|t| t.name.starts_with("QueueDeep"))
        .map(|t| t.input_series[0].values.as_str())
        .collect();
    assert_eq!(values, ["20+0x34", "5+0x34"]);
}

#[test]
fn every_signal_kind_and_direction_compiles() {
    let f = files(SIGNALS);
    insta::assert_snapshot!("signals_rules", f["prometheus/rules.yaml"]);
    insta::assert_snapshot!("signals_rules_test", f["prometheus/rules.test.yaml"]);
    insta::assert_snapshot!(
        "signals_prometheusrule",
        f["prometheus/prometheusrule.yaml"]
    );
    let file = rules(&f);
    let expr = |name: &str| {
        file.groups
            .iter()
            .flat_map(|g| &g.rules)
            .find(|r| r.alert == name)
            .map_or_else(|| panic!("no alert {name}"), |r| r.expr.clone())
    };
    assert_eq!(
        expr("LatencyBelow"),
        "histogram_quantile(0.5, sum by (le) (rate(latency_seconds_bucket[5m]))) < 0.001"
    );
    assert_eq!(
        expr("QueueAbove"),
        r#"max(queue_depth{queue="line1\nline2"}) > 100"#
    );
    assert_eq!(expr("Freezing"), "min(temperature_celsius) < -10");
    assert_eq!(
        expr("ErrorsAppear"),
        r#"sum(rate(requests_total{code="500"}[5m])) > 0"#
    );
    assert_eq!(
        expr("WebDown"),
        r#"up{job="signals",namespace="sig-core"} < 1"#
    );
    // The firing `up` alert carries the series' labels next to its severity and business unit.
    let tests = tests_of(&f);
    let down = tests
        .tests
        .iter()
        .find(|t| t.name.starts_with("WebDown fires"))
        .expect("WebDown firing case");
    let labels = &down.alert_rule_test[0].exp_alerts[0].exp_labels;
    assert_eq!(
        labels,
        &BTreeMap::from([
            ("bu_name".to_owned(), "testing".to_owned()),
            ("job".to_owned(), "signals".to_owned()),
            ("namespace".to_owned(), "sig-core".to_owned()),
            ("severity".to_owned(), "critical".to_owned()),
        ])
    );
    // A rate can be tested silent at exactly zero.
    let quiet = tests
        .tests
        .iter()
        .find(|t| t.name.starts_with("ErrorsAppear stays silent"))
        .expect("ErrorsAppear silent case");
    assert_eq!(quiet.input_series[0].values, "0+0x24");
}
