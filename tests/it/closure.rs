//! The system proof's observability closure (DG0540–DG0546, and the model rule DG0126) and the
//! isolation between environments (DG0560): each defect reproduced on a small fixture
//! (tests/fixtures/observability.toml, tests/fixtures/isolation/qa.toml), reported by
//! `deaap-gen check` at the model key that causes it; the fixture and the shipped environments as
//! they are prove every alert.

use crate::support::{edit, json_of_kind, root, run, scratch_with_environments, stderr, stdout};
use serde_json::Value;
use std::path::Path;

const FIXTURE: &str = "observability.toml";

/// A scratch folder with the observability fixture and the minimal fixture it extends.
fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for f in ["minimal.toml", FIXTURE] {
        std::fs::copy(root().join("tests/fixtures").join(f), dir.path().join(f)).expect("copy");
    }
    dir
}

/// `check TARGET --format json` in `dir`: exit code, diagnostics, and the proof summaries (one JSON
/// line each).
fn check(dir: &Path, target: &str) -> (i32, Vec<Value>, String) {
    let o = run(dir, &["check", target, "--format", "json"]);
    let proofs = json_of_kind(&o, "proof")
        .iter()
        .map(|v| v.to_string() + "\n")
        .collect();
    (
        o.status.code().unwrap_or(-1),
        json_of_kind(&o, "diagnostic"),
        proofs,
    )
}

/// The line of the first `needle` after the first `anchor` in `file`.
fn line_of(dir: &Path, file: &str, anchor: &str, needle: &str) -> u64 {
    let text = std::fs::read_to_string(dir.join(file)).expect("read");
    let start = text.find(anchor).expect("anchor");
    let i = start + text[start..].find(needle).expect("needle");
    text[..i].matches('\n').count() as u64 + 1
}

/// Asserts that checking the fixture exits 2 with an error `code` on line `line` of `file` whose
/// message has every word.
fn refused(dir: &Path, file: &str, line: u64, code: &str, words: &[&str]) -> Value {
    let (exit, diags, _) = check(dir, FIXTURE);
    assert_eq!(exit, 2, "{diags:#?}");
    let d = diags
        .iter()
        .find(|d| d["code"] == code && d["line"] == line && d["file"] == file)
        .unwrap_or_else(|| panic!("no {code} at {file}:{line}; got:\n{diags:#?}"))
        .clone();
    assert_eq!(d["severity"], "error");
    let message = d["message"].as_str().unwrap_or_default();
    for w in words {
        assert!(message.contains(w), "{w:?} not in {message:?}");
    }
    d
}

/// The line of an alert's `metric` key in the fixture.
fn metric_line(dir: &Path, alert: &str) -> u64 {
    line_of(dir, FIXTURE, &format!("[alerts.{alert}]"), "metric = ")
}

#[test]
fn the_fixture_proves_every_alert() {
    let dir = scratch();
    let (exit, diags, out) = check(dir.path(), FIXTURE);
    assert_eq!(exit, 0, "{diags:#?}");
    assert!(diags.is_empty(), "{diags:#?}");
    let summary: Value = serde_json::from_str(out.trim()).expect("one JSON summary");
    assert_eq!(summary["environment"], "observability");
    assert_eq!(summary["alerts"], 5);
}

/// `BlockchainNodeDown` without the mesh: the nodes carry no scrape annotation, so
/// `up{job=…}` never exists and the alert can never fire.
#[test]
fn an_up_alert_on_unscraped_nodes_without_the_mesh_is_refused() {
    let dir = scratch();
    let f = dir.path().join(FIXTURE);
    edit(&f, "metrics = { scrape = true, port = 6060 }", "");
    edit(&f, "sidecar_injection = true", "sidecar_injection = false");
    edit(&f, "mtls = \"STRICT\"", "mtls = \"PERMISSIVE\"");
    let line = metric_line(dir.path(), "ChainDown");
    let d = refused(
        dir.path(),
        FIXTURE,
        line,
        "DG0540",
        &["ChainDown", "up{job=\"chain-node\"}", "can never fire"],
    );
    assert!(
        d["help"]
            .as_str()
            .unwrap_or_default()
            .contains("scrape = true")
    );
}

/// With the mesh on, Istio's injector points the unannotated nodes' scrape at its merged port:
/// `up` then reports the sidecar, and vanishes with the mesh.
#[test]
fn an_up_alert_scraped_only_through_the_merged_port_is_refused() {
    let dir = scratch();
    edit(
        &dir.path().join(FIXTURE),
        "metrics = { scrape = true, port = 6060 }",
        "",
    );
    let line = metric_line(dir.path(), "ChainDown");
    refused(dir.path(), FIXTURE, line, "DG0542", &["ChainDown", "15020"]);
    let line = metric_line(dir.path(), "ChainIdle");
    refused(
        dir.path(),
        FIXTURE,
        line,
        "DG0542",
        &["ChainIdle", "blockchain"],
    );
}

#[test]
fn a_metric_of_an_unscraped_storage_backend_is_refused() {
    let dir = scratch();
    let f = dir.path().join(FIXTURE);
    edit(&f, "metrics = { scrape = true, port = 9121 }", "");
    edit(&f, "sidecar_injection = true", "sidecar_injection = false");
    let line = metric_line(dir.path(), "CacheColdly");
    refused(
        dir.path(),
        FIXTURE,
        line,
        "DG0540",
        &["CacheColdly", "storage backend `cache`", "does not scrape"],
    );
}

#[test]
fn a_metric_of_unscraped_validators_is_refused() {
    let dir = scratch();
    let f = dir.path().join(FIXTURE);
    edit(
        &f,
        "[consensus]\nmetrics = { scrape = true, port = 9090 }",
        "",
    );
    edit(&f, "sidecar_injection = true", "sidecar_injection = false");
    let line = metric_line(dir.path(), "ValidationsFailing");
    refused(
        dir.path(),
        FIXTURE,
        line,
        "DG0540",
        &["ValidationsFailing", "the consensus validators"],
    );
}

/// Metrics on the serving port behind a STRICT sidecar: Prometheus (outside the mesh) is refused.
#[test]
fn a_scrape_the_strict_sidecar_refuses_is_refused() {
    let dir = scratch();
    edit(
        &dir.path().join(FIXTURE),
        "metrics = { scrape = true, port = 9090 }\nautoscaling",
        "metrics = { scrape = true }\nautoscaling",
    );
    refused(
        dir.path(),
        "minimal.toml",
        line_of(dir.path(), "minimal.toml", "[alerts.WebSlow]", "metric = "),
        "DG0543",
        &["WebSlow", "port 8080", "STRICT"],
    );
}

#[test]
fn an_alert_on_a_workload_that_does_not_run_is_refused() {
    let dir = scratch();
    edit(
        &dir.path().join(FIXTURE),
        "[blockchain]\nenabled = true",
        "[blockchain]\nenabled = false",
    );
    let line = metric_line(dir.path(), "ValidationsFailing");
    refused(
        dir.path(),
        FIXTURE,
        line,
        "DG0541",
        &["ValidationsFailing", "does not run"],
    );
}

#[test]
fn a_selector_no_target_carries_is_refused() {
    let dir = scratch();
    edit(
        &dir.path().join(FIXTURE),
        "selector = { namespace = \"mini-storage\" }",
        "selector = { namespace = \"mini-core\" }",
    );
    let line = line_of(dir.path(), FIXTURE, "[alerts.CacheColdly]", "selector = ");
    let (exit, diags, _) = check(dir.path(), FIXTURE);
    assert_eq!(exit, 2);
    let d = diags
        .iter()
        .find(|d| d["code"] == "DG0544")
        .unwrap_or_else(|| panic!("{diags:#?}"));
    assert_eq!(d["line"], line);
    assert!(
        d["help"]
            .as_str()
            .unwrap_or_default()
            .contains("mini-storage")
    );
}

#[test]
fn an_unknown_exposer_is_refused_with_a_suggestion() {
    let dir = scratch();
    edit(
        &dir.path().join(FIXTURE),
        "exposed_by = \"cache\"",
        "exposed_by = \"cahce\"",
    );
    let line = line_of(
        dir.path(),
        FIXTURE,
        "[metrics.cache_hit_ratio]",
        "exposed_by",
    );
    let d = refused(dir.path(), FIXTURE, line, "DG0126", &["cahce"]);
    assert!(
        d["help"]
            .as_str()
            .unwrap_or_default()
            .contains("did you mean `cache`")
    );
}

#[test]
fn an_hpa_metric_without_a_source_is_refused() {
    let dir = scratch();
    let f = dir.path().join(FIXTURE);
    // The autoscaler's metric is exposed by another workload: the adapter rule, restricted to
    // web's pods, has no series behind it.
    edit(
        &f,
        "description = \"Requests waiting in one web pod\"\nexposed_by = \"web\"",
        "description = \"Requests waiting in one web pod\"\nexposed_by = \"cache\"",
    );
    let line = line_of(dir.path(), FIXTURE, "[services.web]", "name = ");
    refused(
        dir.path(),
        FIXTURE,
        line,
        "DG0545",
        &["web", "web_queue_size"],
    );
}

#[test]
fn the_hpa_metric_is_served_by_a_prometheus_adapter_rule() {
    let dir = scratch();
    let o = run(dir.path(), &["build", FIXTURE, "-o", "out"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(
        dir.path()
            .join("out/observability/helm/prometheus-adapter-values.yaml"),
    )
    .expect("adapter values");
    let v: Value = serde_yaml::from_str(&text).expect("YAML");
    let rule = &v["rules"]["custom"][0];
    assert_eq!(
        rule["seriesQuery"],
        "web_queue_size{namespace=\"mini-core\",app=\"web\",pod!=\"\"}"
    );
    assert_eq!(rule["name"]["as"], "web_queue_size");
    assert_eq!(rule["resources"]["overrides"]["pod"]["resource"], "pod");
    assert_eq!(v["rules"]["default"], false);
}

/// Every `runbook_url` names a generated page; without the pages the proof refuses the links.
#[test]
fn runbook_links_name_generated_pages() {
    let dir = scratch();
    let path = dir.path().join(FIXTURE);
    let c = deaap_gen::compile(&path);
    let (model, tree) = (c.model.expect("valid"), c.tree.expect("tree"));
    let artifacts = deaap_gen::generate(&model, &path).expect("generates");
    let pages: Vec<&str> = artifacts
        .iter()
        .filter(|a| a.path.starts_with("runbooks/"))
        .map(|a| a.path.as_str())
        .collect();
    assert_eq!(pages.len(), 5, "{pages:?}");
    let page = artifacts
        .iter()
        .find(|a| a.path == "runbooks/ChainDown.md")
        .expect("page");
    let bytes = page.bytes.read().expect("held");
    let text = String::from_utf8_lossy(&bytes);
    for part in [
        "# ChainDown",
        "## The query",
        "up{job=\"chain-node\"}",
        "## First steps",
        "## Dependents affected",
        "## First checks",
        "bash ops/health-check.sh",
        "logs --selector app.kubernetes.io/name=",
        // The validators depend on the nodes; their troubleshooting is consensus'.
        "- `bu-validator` (`",
        "### Consensus validation",
    ] {
        assert!(text.contains(part), "{part:?} not in\n{text}");
    }
    let (found, summary) = deaap_gen::proof::prove(&tree, &model, &artifacts);
    assert!(found.is_empty(), "{found:#?}");
    assert_eq!(summary.alerts, 5);
    let without: Vec<_> = artifacts
        .into_iter()
        .filter(|a| !a.path.starts_with("runbooks/"))
        .collect();
    let (found, summary) = deaap_gen::proof::prove(&tree, &model, &without);
    assert_eq!(found.iter().filter(|d| d.code == "DG0546").count(), 5);
    assert_eq!(summary.alerts, 0);
}

/// The SLO alerts' runbook links are proven as well: without their pages the proof refuses them.
#[test]
fn slo_alert_runbook_links_name_generated_pages() {
    let path = root().join("environments/production.toml");
    let c = deaap_gen::compile(&path);
    let (model, tree) = (c.model.expect("valid"), c.tree.expect("tree"));
    let artifacts = deaap_gen::generate(&model, &path).expect("generates");
    let (found, _) = deaap_gen::proof::prove(&tree, &model, &artifacts);
    assert!(found.is_empty(), "{found:#?}");
    let without: Vec<_> = artifacts
        .into_iter()
        .filter(|a| !(a.path.starts_with("runbooks/") && a.path.contains("SloFastBurn")))
        .collect();
    let (found, _) = deaap_gen::proof::prove(&tree, &model, &without);
    let refused: Vec<&str> = found
        .iter()
        .filter(|d| d.code == "DG0546")
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(refused.len(), 5, "{refused:#?}");
    assert!(
        refused.iter().all(|m| m.contains("SloFastBurn")),
        "{refused:#?}"
    );
}

// ── Isolation ────────────────────────────────────────────────────────────────────────────────

/// A scratch copy of the shipped environments plus the `qa` fixture, which extends staging.
fn with_qa() -> tempfile::TempDir {
    let dir = scratch_with_environments();
    std::fs::copy(
        root().join("tests/fixtures/isolation/qa.toml"),
        dir.path().join("environments/qa.toml"),
    )
    .expect("copy");
    dir
}

/// As [`with_qa`], with `text` appended to qa.toml.
fn with_qa_and(text: &str) -> tempfile::TempDir {
    let dir = with_qa();
    let qa = dir.path().join("environments/qa.toml");
    let mut toml = std::fs::read_to_string(&qa).expect("read");
    toml.push_str(text);
    std::fs::write(&qa, toml).expect("write");
    dir
}

/// Namespaces of qa's own, none of staging's.
const QA_NAMESPACES: &str = "\n[namespaces]\ncore = \"qa-core\"\nblockchain = \"qa-blockchain\"\n\
                             storage = \"qa-storage\"\nmonitoring = \"qa-monitoring\"\n";

#[test]
fn two_environments_on_one_cluster_may_not_share_objects() {
    let dir = with_qa();
    let (exit, diags, _) = check(dir.path(), "environments/");
    assert_eq!(exit, 2, "{diags:#?}");
    let d = diags
        .iter()
        .find(|d| d["code"] == "DG0560")
        .unwrap_or_else(|| panic!("{diags:#?}"));
    let message = d["message"].as_str().unwrap_or_default();
    // Every object staging renders is one of qa's; the deaap.io CustomResourceDefinitions, the
    // same in both, are no conflict.
    let staging = run(dir.path(), &["render", "environments/staging.toml"]);
    let stream = stdout(&staging);
    let kinds: Vec<&str> = stream.lines().filter(|l| l.starts_with("kind: ")).collect();
    let definitions = kinds
        .iter()
        .filter(|k| **k == "kind: CustomResourceDefinition")
        .count();
    assert_eq!(definitions, 2, "{kinds:?}");
    let objects = kinds.len() - definitions;
    assert!(objects > 100, "{objects}");
    assert!(!message.contains("CustomResourceDefinition"), "{message}");
    let shared = format!("share {objects} objects");
    for part in [
        "qa.toml",
        "staging.toml",
        "cluster `deaap-staging`",
        shared.as_str(),
    ] {
        assert!(message.contains(part), "{part:?} not in {message:?}");
    }
    // The shared objects are named by kind and name, e.g. `Namespace deaap-core`.
    let first = message
        .split("objects: ")
        .nth(1)
        .and_then(|list| list.split(", ").next())
        .unwrap_or_else(|| panic!("no object listed in {message:?}"));
    let kind = first.split(' ').next().unwrap_or_default();
    assert!(
        kinds.contains(&format!("kind: {kind}").as_str()),
        "{first:?} is not an object of the stream"
    );
    // Located on the `cluster` key of staging.toml, which both files state (qa inherits it).
    assert!(
        d["file"]
            .as_str()
            .unwrap_or_default()
            .ends_with("staging.toml"),
        "{d:#}"
    );
    let line = line_of(
        dir.path(),
        "environments/staging.toml",
        "[environment]",
        "cluster = ",
    );
    assert_eq!(d["line"], line, "{d:#}");
    // build writes nothing when environments collide.
    let o = run(dir.path(), &["build", "environments/"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!dir.path().join("generated/qa").exists());
}

#[test]
fn an_environment_on_its_own_cluster_is_isolated() {
    let dir = with_qa();
    let qa = dir.path().join("environments/qa.toml");
    let text = std::fs::read_to_string(&qa).expect("read");
    std::fs::write(
        &qa,
        text.replace("[environment]\n", "[environment]\ncluster = \"deaap-qa\"\n"),
    )
    .expect("write");
    let (exit, diags, out) = check(dir.path(), "environments/");
    assert_eq!(exit, 0, "{diags:#?}");
    assert!(out.contains("\"environment\":\"qa\""), "{out}");
}

/// Own namespaces are not enough while both environments install the same cluster-scoped
/// Gatekeeper policies.
#[test]
fn own_namespaces_still_share_cluster_scoped_policies() {
    let dir = with_qa_and(QA_NAMESPACES);
    let (exit, diags, _) = check(dir.path(), "environments/");
    assert_eq!(exit, 2, "{diags:#?}");
    let d = diags
        .iter()
        .find(|d| d["code"] == "DG0560")
        .unwrap_or_else(|| panic!("{diags:#?}"));
    let message = d["message"].as_str().unwrap_or_default();
    assert!(message.contains("DeaapAllowedRegistries"), "{message}");
    assert!(!message.contains("Namespace "), "{message}");
}

/// Two environments on one cluster, each with its own namespaces, no Gatekeeper policies and no
/// gateway certificate, share only the deaap.io CustomResourceDefinitions, which are identical:
/// that is one definition per cluster, not a conflict.
#[test]
fn environments_on_one_cluster_share_identical_definitions() {
    let dir = with_qa_and(&format!(
        "{QA_NAMESPACES}\n[security.opa]\nenabled = false\n\n[security.gateway_tls]\nenabled = false\n"
    ));
    let (exit, diags, out) = check(dir.path(), "environments/");
    assert_eq!(exit, 0, "{diags:#?}");
    assert!(out.contains("\"environment\":\"qa\""), "{out}");
    let definitions = |env: &str| -> Vec<String> {
        let o = run(dir.path(), &["render", &format!("environments/{env}.toml")]);
        let stream = stdout(&o);
        serde_yaml::Deserializer::from_str(&stream)
            .map(|d| <Value as serde::Deserialize>::deserialize(d).expect("YAML"))
            .filter(|d| d["kind"] == "CustomResourceDefinition")
            .map(|d| d.to_string())
            .collect()
    };
    let shared = definitions("qa");
    assert_eq!(shared.len(), 2);
    assert_eq!(shared, definitions("staging"));
}

#[test]
fn example_applications_target_their_environments_cluster_and_retry() {
    for env in ["staging", "production"] {
        let text =
            std::fs::read_to_string(root().join(format!("deploy/argocd/application-{env}.yaml")))
                .expect("read");
        let a: Value = serde_yaml::from_str(&text).expect("YAML");
        let model =
            deaap_gen::load_model(&root().join(format!("environments/{env}.toml"))).expect("model");
        assert_eq!(
            a["spec"]["destination"]["name"],
            model.environment.cluster(),
            "{env}"
        );
        assert!(a["spec"]["destination"]["server"].is_null(), "{env}");
        let retry = &a["spec"]["syncPolicy"]["retry"];
        assert!(retry["limit"].as_u64().is_some_and(|n| n > 0), "{env}");
        assert!(retry["backoff"]["duration"].is_string(), "{env}");
    }
}

/// ConstraintTemplates sync in an earlier wave than their Constraints, and both before the
/// workloads (wave 0).
#[test]
fn constraint_templates_sync_before_their_constraints() {
    let dir = root().join("generated/production/opa/gatekeeper");
    let wave = |file: &Path| -> i64 {
        let text = std::fs::read_to_string(file).expect("read");
        let v: Value = serde_yaml::from_str(&text).expect("YAML");
        v["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
            .as_str()
            .and_then(|w| w.parse().ok())
            .unwrap_or(0)
    };
    let mut pairs = 0;
    for e in std::fs::read_dir(&dir).expect("gatekeeper/") {
        let p = e.expect("entry").path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let Some(stem) = name.strip_suffix("-template.yaml") else {
            continue;
        };
        let constraint = dir.join(format!("{stem}-constraint.yaml"));
        assert!(wave(&p) < wave(&constraint), "{stem}");
        assert!(wave(&constraint) < 0, "{stem}");
        pairs += 1;
    }
    assert!(pairs >= 4, "{pairs}");
}

/// Without the monitoring stack there is no Prometheus and no adapter behind the HPA's metric.
#[test]
fn an_hpa_metric_without_the_monitoring_stack_is_refused() {
    let dir = scratch();
    let f = dir.path().join(FIXTURE);
    edit(
        &f,
        "[monitoring]\nrunbook_base_url",
        "[monitoring]\nenabled = false\nrunbook_base_url",
    );
    let line = line_of(dir.path(), FIXTURE, "[services.web]", "name = ");
    refused(
        dir.path(),
        FIXTURE,
        line,
        "DG0545",
        &["web_queue_size", "no"],
    );
}

/// The fixtures conformance builds together prove every alert and do not collide (the
/// observability fixture shares minimal's namespaces, on a cluster of its own).
#[test]
fn the_conformance_fixtures_prove_together() {
    let o = run(
        &root(),
        &[
            "check",
            "tests/fixtures/minimal.toml",
            "tests/fixtures/prometheus-signals.toml",
            "tests/fixtures/observability.toml",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("prometheus-signals: ") && out.contains(" 11 alerts proven"),
        "{out}"
    );
}

/// An alert on a CloudNativePG store's metric is proven on the instances the operator creates
/// (scraped on its exporter's port through the annotations the Cluster passes on); unscraped,
/// the series never exists.
#[test]
fn an_alert_on_a_cloudnative_pg_metric_is_proven_on_its_instances() {
    let dir = tempfile::tempdir().expect("temp dir");
    for f in ["minimal.toml", "workloads.toml", "cnpg.toml"] {
        std::fs::copy(root().join("tests/fixtures").join(f), dir.path().join(f)).expect("copy");
    }
    let (exit, diags, out) = check(dir.path(), "cnpg.toml");
    assert_eq!(exit, 0, "{diags:#?}");
    assert!(out.contains("\"alerts\":2"), "{out}");
    edit(
        &dir.path().join("cnpg.toml"),
        "metrics = { scrape = true }",
        "metrics = { scrape = false }",
    );
    let (exit, diags, _) = check(dir.path(), "cnpg.toml");
    assert_eq!(exit, 2, "{diags:#?}");
    let d = diags
        .iter()
        .find(|d| d["code"] == "DG0540")
        .unwrap_or_else(|| panic!("{diags:#?}"));
    let message = d["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("`cnpg_pg_replication_lag`, exposed by storage backend `db`"),
        "{message}"
    );
}
