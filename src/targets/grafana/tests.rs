use super::*;
use crate::targets::testkit;

#[test]
fn uids_are_slugs_of_names_and_fit_grafana() {
    assert_eq!(uid("doc-ingester"), "deaap-doc-ingester");
    assert_eq!(uid("Overview"), "deaap-overview");
    let long = uid(&"x".repeat(60));
    assert_eq!(long.len(), UID_MAX);
    assert_ne!(long, uid(&"x".repeat(61)));
}

fn production() -> Vec<Dashboard> {
    dashboards(&testkit::load("environments/production.toml")).expect("dashboards build")
}

#[test]
fn an_overview_and_one_dashboard_per_exposing_workload() {
    let uids: Vec<String> = production().into_iter().map(|d| d.uid).collect();
    assert_eq!(
        uids,
        [
            "deaap-overview",
            "deaap-agent-orchestrator",
            "deaap-api-gateway",
            "deaap-blockchain",
            "deaap-consensus",
            "deaap-consensus-manager",
            "deaap-data-processor",
            "deaap-doc-ingester",
        ]
    );
}

#[test]
fn panel_ids_are_sequential_and_queries_fit_the_metric_type() {
    for d in production() {
        let ids: Vec<u32> = d.panels.iter().map(|p| p.id).collect();
        let want: Vec<u32> = (1..=u32::try_from(ids.len()).unwrap()).collect();
        assert_eq!(ids, want, "{}", d.uid);
    }
    let all = production();
    let exprs = |uid: &str| -> Vec<String> {
        all.iter()
            .find(|d| d.uid == uid)
            .unwrap()
            .panels
            .iter()
            .flat_map(|p| p.targets.iter().map(|t| t.expr.clone()))
            .collect()
    };
    let doc = exprs("deaap-doc-ingester");
    assert!(doc.contains(
        &"histogram_quantile(0.95, sum by (le) (rate(deaap_document_processing_duration_seconds_bucket[5m])))"
            .to_owned()
    ));
    assert!(
        doc.contains(&"sum(rate(deaap_document_processing_duration_seconds_count[5m]))".to_owned())
    );
    // The gauge is plotted as it is.
    assert!(doc.contains(&"document_processing_queue_size".to_owned()));
    assert!(doc.contains(
        &r#"slo:sli_error:ratio_rate5m{slo="doc-ingester-processing-latency"}"#.to_owned()
    ));
    let chain = exprs("deaap-blockchain");
    assert_eq!(
        chain,
        [
            "sum(rate(deaap_blockchain_transaction_count[5m]))",
            "sum by (status) (rate(deaap_blockchain_transaction_count[5m]))"
        ]
    );
    let overview = exprs("deaap-overview");
    assert!(overview.iter().any(|e| {
        e.starts_with("count(ALERTS{alertstate=\"firing\",alertname=~\"BlockchainNodeDown|")
    }));
    assert!(
        overview
            .iter()
            .any(|e| e.contains("DocIngesterProcessingLatencySloFastBurn"))
    );
}

#[test]
fn the_target_writes_each_dashboard_as_a_file_and_a_sidecar_configmap() {
    let env = testkit::load("environments/production.toml");
    let f = testkit::generate(&Grafana, &env).expect("the grafana target succeeds");
    let maps = &f["grafana/dashboards.yaml"];
    for d in dashboards(&env).unwrap() {
        let file = format!("grafana/{}.json", d.uid);
        let json: serde_json::Value = serde_json::from_str(&f[&file]).expect("valid JSON");
        assert_eq!(json["uid"], d.uid.as_str());
        assert!(maps.contains(&format!("  name: {}\n", d.uid)), "{}", d.uid);
    }
    assert_eq!(maps.matches("grafana_dashboard: '1'").count(), 8);
    assert_eq!(maps.matches("grafana_folder: DEAAP").count(), 8);
    assert!(maps.contains("namespace: deaap-monitoring"));
    assert!(!Grafana.applies(&testkit::load("environments/development.toml")));
}

/// Each dashboard file is the text its `ConfigMap`'s data holds, the same bytes held once.
#[test]
fn a_dashboard_file_is_its_configmaps_text_held_once() {
    let env = testkit::load("environments/production.toml");
    let out = testkit::artifacts(&Grafana, &env).expect("the grafana target succeeds");
    let maps = out
        .iter()
        .find(|a| a.path == "grafana/dashboards.yaml")
        .expect("the maps");
    let mut shared = 0;
    for o in &maps.objects {
        for (name, text) in o.value()["data"].as_object().expect("the map's data") {
            let text = text.as_str().expect("a dashboard's text");
            let file = out
                .iter()
                .find(|a| a.path == format!("grafana/{name}"))
                .expect("the dashboard's file");
            assert_eq!(&*file.bytes, text.as_bytes());
            assert_eq!(file.bytes.as_ptr(), text.as_ptr(), "{name} is held twice");
            shared += 1;
        }
    }
    assert_eq!(shared, 8);
    let missing = InMap::new(maps.objects[0].value().clone(), "other.json".to_owned());
    assert!(missing.is_err());
}
