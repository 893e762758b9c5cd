//! The evaluator's semantics, one case per rule of the upstream `NetworkPolicy` documentation, and
//! the proof on the fixtures: each defect it found in the generated policies, and where it points.

use super::cluster::{addon, address, pod_ip};
use super::policy::{Endpoint, Labels, Network, Policy, Protocol, Side, cidr_contains, selects};
use super::spec::{Selector, Spec};
use super::*;
use crate::targets::Artifact;
use std::net::IpAddr;
use std::path::Path;

const TCP: Protocol = Protocol::Tcp;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A network with the namespaces `a` (labelled `team: a`) and `b` (`team: b`).
fn network() -> Network {
    let mut n = Network::default();
    n.namespace("a", labels(&[("team", "a")]));
    n.namespace("b", labels(&[("team", "b")]));
    n
}

fn with(mut n: Network, namespace: &str, name: &str, spec: &str) -> Network {
    let spec: Spec = serde_yaml::from_str(spec).expect("a valid spec");
    n.policy(Policy::new(namespace, name, spec));
    n
}

fn pod(id: &str, namespace: &str, l: &[(&str, &str)], ports: &[(&str, u16, Protocol)]) -> Endpoint {
    addon(id, namespace, l, ports, pod_ip(id.len()))
}

fn web() -> Endpoint {
    pod(
        "a/web",
        "a",
        &[("app", "web")],
        &[("http", 8080, TCP), ("dns", 53, Protocol::Udp)],
    )
}

fn client(namespace: &str, app: &str) -> Endpoint {
    pod(
        &format!("{namespace}/{app}"),
        namespace,
        &[("app", app)],
        &[],
    )
}

fn allowed(n: &Network, from: &Endpoint, to: &Endpoint, port: u16, proto: Protocol) -> bool {
    n.verdict(from, to, port, proto).allowed()
}

#[test]
fn a_pod_no_policy_selects_is_not_isolated() {
    let n = with(
        network(),
        "a",
        "other",
        "{podSelector: {matchLabels: {app: other}}, policyTypes: [Ingress, Egress]}",
    );
    let v = n.verdict(&client("b", "x"), &web(), 8080, TCP);
    assert_eq!(v.ingress, Side::NotIsolated);
    assert_eq!(v.egress, Side::NotIsolated);
    assert!(v.allowed());
}

#[test]
fn an_empty_pod_selector_selects_every_pod_of_its_namespace_only() {
    let n = with(
        network(),
        "a",
        "deny",
        "{podSelector: {}, policyTypes: [Ingress]}",
    );
    assert!(!allowed(&n, &client("b", "x"), &web(), 8080, TCP));
    // The same policy does not isolate pods of another namespace.
    assert!(allowed(&n, &web(), &client("b", "x"), 8080, TCP));
}

#[test]
fn policy_types_default_to_ingress_plus_egress_when_there_are_egress_rules() {
    let ingress_only = with(network(), "a", "p", "{podSelector: {}}");
    let out = n_verdict(&ingress_only, &web(), &client("b", "x"));
    assert_eq!(out.egress, Side::NotIsolated);
    assert!(matches!(out.ingress, Side::NotIsolated));
    assert!(!allowed(
        &ingress_only,
        &client("b", "x"),
        &web(),
        8080,
        TCP
    ));
    let with_egress = with(
        network(),
        "a",
        "p",
        "{podSelector: {}, egress: [{ports: [{port: 53, protocol: UDP}]}]}",
    );
    assert!(!allowed(&with_egress, &web(), &client("b", "x"), 8080, TCP));
    assert!(!allowed(&with_egress, &client("b", "x"), &web(), 8080, TCP));
    // Egress only: ingress stays open.
    let egress_only = with(
        network(),
        "a",
        "p",
        "{podSelector: {}, policyTypes: [Egress]}",
    );
    assert!(allowed(&egress_only, &client("b", "x"), &web(), 8080, TCP));
    assert!(!allowed(&egress_only, &web(), &client("b", "x"), 8080, TCP));
}

fn n_verdict(n: &Network, from: &Endpoint, to: &Endpoint) -> policy::Verdict {
    n.verdict(from, to, 8080, TCP)
}

#[test]
fn allows_are_a_union_over_every_isolating_policy() {
    let n = with(
        network(),
        "a",
        "deny",
        "{podSelector: {}, policyTypes: [Ingress]}",
    );
    let n = with(
        n,
        "a",
        "from-b",
        "{podSelector: {matchLabels: {app: web}}, ingress: [{from: [{namespaceSelector: {matchLabels: {team: b}}}]}]}",
    );
    let v = n.verdict(&client("b", "x"), &web(), 8080, TCP);
    assert_eq!(
        v.ingress,
        Side::Allowed {
            policy: "a/from-b".to_owned(),
            rule: 0
        }
    );
    let denied = n.verdict(&client("a", "x"), &web(), 8080, TCP);
    assert_eq!(
        denied.ingress,
        Side::Denied {
            isolating: vec!["a/deny".to_owned(), "a/from-b".to_owned()]
        }
    );
}

#[test]
fn a_connection_needs_egress_at_the_source_and_ingress_at_the_destination() {
    let open_ingress = "{podSelector: {}, ingress: [{}]}";
    let n = with(network(), "a", "open", open_ingress);
    let n = with(
        n,
        "b",
        "no-egress",
        "{podSelector: {}, policyTypes: [Egress]}",
    );
    let v = n.verdict(&client("b", "x"), &web(), 8080, TCP);
    assert!(v.ingress.allows());
    assert!(!v.egress.allows());
    assert!(!v.allowed());
}

#[test]
fn absent_or_empty_peers_and_ports_match_everything() {
    for rule in ["{}", "{from: []}", "{ports: []}", "{from: [], ports: []}"] {
        let n = with(
            network(),
            "a",
            "p",
            &format!("{{podSelector: {{}}, ingress: [{rule}]}}"),
        );
        assert!(allowed(&n, &client("b", "x"), &web(), 8080, TCP), "{rule}");
        assert!(
            allowed(&n, &client("b", "x"), &web(), 53, Protocol::Udp),
            "{rule}"
        );
    }
}

#[test]
fn a_pod_selector_alone_means_pods_of_the_policys_namespace() {
    let n = with(
        network(),
        "a",
        "p",
        "{podSelector: {}, ingress: [{from: [{podSelector: {matchLabels: {app: x}}}]}]}",
    );
    assert!(allowed(&n, &client("a", "x"), &web(), 8080, TCP));
    assert!(!allowed(&n, &client("b", "x"), &web(), 8080, TCP));
}

#[test]
fn a_namespace_selector_alone_means_every_pod_there_and_names_are_labels() {
    let n = with(
        network(),
        "a",
        "p",
        "{podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: b}}}]}]}",
    );
    assert!(allowed(&n, &client("b", "x"), &web(), 8080, TCP));
    assert!(allowed(&n, &client("b", "y"), &web(), 8080, TCP));
    assert!(!allowed(&n, &client("a", "x"), &web(), 8080, TCP));
    // An empty namespace selector matches every namespace.
    let all = with(
        network(),
        "a",
        "p",
        "{podSelector: {}, ingress: [{from: [{namespaceSelector: {}}]}]}",
    );
    assert!(allowed(&all, &client("b", "x"), &web(), 8080, TCP));
}

#[test]
fn both_selectors_in_one_peer_and_in_two_peers_differ() {
    // One peer: pods labelled app=x in namespaces of team b (AND).
    let and = with(
        network(),
        "a",
        "p",
        "{podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {team: b}}, podSelector: {matchLabels: {app: x}}}]}]}",
    );
    assert!(allowed(&and, &client("b", "x"), &web(), 8080, TCP));
    assert!(!allowed(&and, &client("b", "y"), &web(), 8080, TCP));
    assert!(!allowed(&and, &client("a", "x"), &web(), 8080, TCP));
    // Two peers: every pod of team b's namespaces, or app=x pods of the policy's namespace (OR).
    let or = with(
        network(),
        "a",
        "p",
        "{podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {team: b}}}, {podSelector: {matchLabels: {app: x}}}]}]}",
    );
    assert!(allowed(&or, &client("b", "y"), &web(), 8080, TCP));
    assert!(allowed(&or, &client("a", "x"), &web(), 8080, TCP));
    assert!(!allowed(&or, &client("a", "y"), &web(), 8080, TCP));
}

#[test]
fn match_expressions_and_labels_combine_with_and() {
    let sel = |yaml: &str| -> Selector { serde_yaml::from_str(yaml).expect("selector") };
    let l = labels(&[("app", "web"), ("tier", "front")]);
    assert!(selects(
        Some(&sel(
            "{matchExpressions: [{key: app, operator: In, values: [web, api]}]}"
        )),
        &l
    ));
    assert!(!selects(
        Some(&sel(
            "{matchExpressions: [{key: app, operator: In, values: [api]}]}"
        )),
        &l
    ));
    assert!(selects(
        Some(&sel(
            "{matchExpressions: [{key: app, operator: NotIn, values: [api]}]}"
        )),
        &l
    ));
    assert!(!selects(
        Some(&sel(
            "{matchExpressions: [{key: app, operator: NotIn, values: [web]}]}"
        )),
        &l
    ));
    assert!(selects(
        Some(&sel(
            "{matchExpressions: [{key: zone, operator: NotIn, values: [x]}]}"
        )),
        &l
    ));
    assert!(selects(
        Some(&sel("{matchExpressions: [{key: tier, operator: Exists}]}")),
        &l
    ));
    assert!(!selects(
        Some(&sel("{matchExpressions: [{key: zone, operator: Exists}]}")),
        &l
    ));
    assert!(selects(
        Some(&sel(
            "{matchExpressions: [{key: zone, operator: DoesNotExist}]}"
        )),
        &l
    ));
    assert!(!selects(
        Some(&sel(
            "{matchExpressions: [{key: app, operator: DoesNotExist}]}"
        )),
        &l
    ));
    assert!(!selects(
        Some(&sel(
            "{matchLabels: {app: web}, matchExpressions: [{key: tier, operator: In, values: [back]}]}"
        )),
        &l
    ));
    assert!(!selects(
        Some(&sel(
            "{matchExpressions: [{key: app, operator: Like, values: [web]}]}"
        )),
        &l
    ));
    assert!(selects(Some(&sel("{}")), &l));
    assert!(selects(None, &l));
}

#[test]
fn ports_match_by_protocol_number_range_and_name() {
    let spec = |ports: &str| format!("{{podSelector: {{}}, ingress: [{{ports: [{ports}]}}]}}");
    let from = client("b", "x");
    let n = with(network(), "a", "p", &spec("{port: 8080}"));
    assert!(
        allowed(&n, &from, &web(), 8080, TCP),
        "protocol defaults to TCP"
    );
    assert!(!allowed(&n, &from, &web(), 8080, Protocol::Udp));
    assert!(!allowed(&n, &from, &web(), 8081, TCP));
    let n = with(network(), "a", "p", &spec("{port: 8000, endPort: 8100}"));
    assert!(allowed(&n, &from, &web(), 8080, TCP));
    assert!(allowed(&n, &from, &web(), 8100, TCP));
    assert!(!allowed(&n, &from, &web(), 8101, TCP));
    let n = with(network(), "a", "p", &spec("{protocol: UDP}"));
    assert!(
        allowed(&n, &from, &web(), 53, Protocol::Udp),
        "no port: all ports"
    );
    assert!(!allowed(&n, &from, &web(), 53, TCP));
    let n = with(network(), "a", "p", &spec("{port: 53, protocol: SCTP}"));
    assert!(allowed(&n, &from, &web(), 53, Protocol::Sctp));
    // A named port is resolved against the destination pod's container ports.
    let n = with(network(), "a", "p", &spec("{port: http}"));
    assert!(allowed(&n, &from, &web(), 8080, TCP));
    assert!(!allowed(&n, &from, &web(), 8081, TCP));
    let n = with(network(), "a", "p", &spec("{port: dns, protocol: UDP}"));
    assert!(allowed(&n, &from, &web(), 53, Protocol::Udp));
    let n = with(network(), "a", "p", &spec("{port: dns}"));
    assert!(
        !allowed(&n, &from, &web(), 53, Protocol::Udp),
        "dns is UDP, the rule TCP"
    );
    // In egress, the name resolves against the destination, not the source.
    let egress = with(
        network(),
        "b",
        "p",
        "{podSelector: {}, policyTypes: [Egress], egress: [{ports: [{port: http}]}]}",
    );
    assert!(allowed(&egress, &from, &web(), 8080, TCP));
    assert!(
        !allowed(&egress, &from, &client("b", "y"), 8080, TCP),
        "the destination has no port named http"
    );
}

#[test]
fn ip_blocks_match_addresses_and_selectors_never_do() {
    let outside = address(
        "api",
        &[("https", 443)],
        "203.0.113.10".parse().expect("ip"),
    );
    let n = with(
        network(),
        "a",
        "p",
        "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 203.0.113.0/24, except: [203.0.113.10/32]}}]}, {to: [{namespaceSelector: {}}]}]}",
    );
    assert!(
        !allowed(&n, &web(), &outside, 443, TCP),
        "excepted, and no selector matches an address"
    );
    let other = address(
        "other",
        &[("https", 443)],
        "203.0.113.11".parse().expect("ip"),
    );
    assert!(allowed(&n, &web(), &other, 443, TCP));
    let ingress = with(
        network(),
        "a",
        "p",
        "{podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 10.244.0.0/16}}]}]}",
    );
    assert!(allowed(&ingress, &client("b", "x"), &web(), 8080, TCP));
    assert!(!allowed(&ingress, &outside, &web(), 8080, TCP));
    // An address is never isolated: only the pod side decides.
    let v = n.verdict(&outside, &web(), 8080, TCP);
    assert_eq!(v.egress, Side::Unmanaged);
}

#[test]
fn cidrs_of_both_families() {
    let v4: IpAddr = "10.1.2.3".parse().expect("ip");
    let v6: IpAddr = "2001:db8::1".parse().expect("ip");
    assert_eq!(cidr_contains("10.0.0.0/8", v4), Some(true));
    assert_eq!(cidr_contains("10.1.2.4/32", v4), Some(false));
    assert_eq!(cidr_contains("0.0.0.0/0", v4), Some(true));
    assert_eq!(cidr_contains("2001:db8::/32", v6), Some(true));
    assert_eq!(cidr_contains("::/0", v4), Some(false), "another family");
    assert_eq!(cidr_contains("10.0.0.0/33", v4), None);
    assert_eq!(cidr_contains("10.0.0.0", v4), None);
}

// ── The proof on the fixtures ────────────────────────────────────────────────────────────────

fn load(rel: &str) -> (crate::Compiled, Vec<Artifact>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    let c = crate::compile(&path);
    let model = c.model.as_ref().unwrap_or_else(|| panic!("{rel} compiles"));
    let artifacts = crate::generate(model, &path).expect("generates");
    (c, artifacts)
}

fn analysis(rel: &str) -> Analysis {
    let (c, artifacts) = load(rel);
    analyse(c.model.as_ref().expect("model"), &artifacts)
        .expect("reads back")
        .expect("a Kubernetes environment")
}

fn flow<'a>(a: &'a Analysis, from: &str, to: &str, port: u16) -> &'a Flow {
    a.flows
        .iter()
        .find(|f| f.from == from && f.to == to && f.port == port)
        .unwrap_or_else(|| panic!("no flow {from} → {to}:{port}"))
}

/// The flows the policies decide otherwise than the model expects, described.
fn broken(a: &Analysis) -> Vec<String> {
    a.flows
        .iter()
        .filter(|f| !f.holds())
        .map(|f| format!("{} → {}:{} {}", f.from, f.to, f.port, f.verdict.why()))
        .collect()
}

#[test]
fn every_flow_of_the_fixture_holds() {
    let a = analysis("tests/fixtures/flows.toml");
    let broken = broken(&a);
    assert!(broken.is_empty(), "{broken:#?}");
    assert!(a.missing.is_empty(), "{:?}", a.missing);
}

/// The defect of the issue: Prometheus could not reach what kube-prometheus-stack scrapes on the
/// nodes (the kubelet, node-exporter on the host network) nor the cluster DNS' metrics.
#[test]
fn prometheus_reaches_the_kubelet_node_exporter_and_dns_metrics() {
    let a = analysis("tests/fixtures/minimal.toml");
    for (to, port) in [
        ("node", 10250),
        ("node", 9100),
        ("kube-system/kube-dns", 9153),
    ] {
        let f = flow(&a, "mini-monitoring/prometheus", to, port);
        assert!(matches!(f.expect, Expect::Allow { .. }));
        assert!(f.verdict.allowed(), "{to}:{port}: {}", f.verdict.why());
    }
}

/// Each backup job reaches the database it dumps and no other; the full backup, which runs
/// beside the data volume in the core namespace, none.
#[test]
fn a_backup_job_reaches_only_the_database_it_dumps() {
    let a = analysis("tests/fixtures/flows.toml");
    let needed = flow(
        &a,
        "mini-storage/backup-service-db",
        "mini-storage/db",
        5432,
    );
    assert!(needed.verdict.allowed());
    for (job, store, port) in [
        ("mini-core/backup-service", "db", 5432),
        ("mini-core/backup-service", "cache", 6379),
        ("mini-storage/backup-service-db", "cache", 6379),
        ("mini-storage/backup-service-cache", "db", 5432),
    ] {
        let f = flow(&a, job, &format!("mini-storage/{store}"), port);
        assert!(matches!(f.expect, Expect::Deny { .. }), "{job} → {store}");
        assert!(!f.verdict.allowed(), "{job} → {store}: {}", f.verdict.why());
    }
}

/// A separate metrics port is Prometheus' alone: the gateway and clients reach the serving port.
#[test]
fn a_metrics_port_is_reached_by_prometheus_only() {
    let a = analysis("tests/fixtures/flows.toml");
    let gateway = "istio-system/istio-ingressgateway";
    assert!(flow(&a, gateway, "mini-core/web", 8080).verdict.allowed());
    assert!(!flow(&a, gateway, "mini-core/web", 9090).verdict.allowed());
    assert!(
        !flow(&a, "mini-core/web", "mini-core/worker", 9091)
            .verdict
            .allowed()
    );
    assert!(
        flow(&a, "mini-core/web", "mini-core/worker", 8081)
            .verdict
            .allowed()
    );
    assert!(
        flow(&a, "mini-monitoring/prometheus", "mini-core/web", 9090)
            .verdict
            .allowed()
    );
}

/// A denied flow the model needs is DG0520 on the key that needs it; an allowed one it does not
/// need DG0521 on the workload.
#[test]
fn violations_point_at_the_model_key() {
    let (c, mut artifacts) = load("tests/fixtures/minimal.toml");
    for a in &mut artifacts {
        // Drop web's own policy: the namespace's default deny still isolates it.
        a.objects
            .retain(|o| !(o.kind() == "NetworkPolicy" && o.name() == "web"));
    }
    let tree = c.tree.as_ref().expect("tree");
    let env = c.model.as_ref().expect("model");
    let (found, summary) = crate::proof::prove(tree, env, &artifacts);
    let text: Vec<String> = found
        .iter()
        .map(|d| crate::diagnostic::render::human(d, &c.sources, false))
        .collect();
    let gateway = text
        .iter()
        .find(|t| t.contains("DG0520") && t.contains("istio-ingressgateway"))
        .unwrap_or_else(|| panic!("{text:#?}"));
    assert!(gateway.contains("route = \"/\""), "{gateway}");
    let dependency = text
        .iter()
        .find(|t| t.contains("DG0520") && t.contains("mini-storage/cache"))
        .unwrap_or_else(|| panic!("{text:#?}"));
    assert!(
        dependency.contains("depends_on = [\"cache\"]"),
        "{dependency}"
    );
    // Taking a policy away only takes flows away.
    let unneeded = text.iter().filter(|t| t.contains("DG0521")).count();
    assert_eq!(unneeded, 0, "{text:#?}");
    assert!(summary.flows > 0);
}

#[test]
fn without_policies_only_the_needed_flows_are_judged() {
    let (c, _) = load("tests/fixtures/minimal.toml");
    let mut env = c.model.clone().expect("model");
    env.security.network_policies = false;
    let artifacts = crate::generate(&env, Path::new("minimal.toml")).expect("generates");
    let a = analyse(&env, &artifacts)
        .expect("reads")
        .expect("kubernetes");
    assert!(!a.isolated);
    assert!(
        a.flows
            .iter()
            .all(|f| matches!(f.expect, Expect::Allow { .. }))
    );
    assert!(a.flows.iter().all(Flow::holds));
}

#[test]
fn compose_has_no_network_to_prove() {
    let (c, artifacts) = load("tests/fixtures/compose.toml");
    assert!(
        analyse(c.model.as_ref().expect("model"), &artifacts)
            .expect("reads")
            .is_none()
    );
}

#[test]
fn a_pod_template_that_was_not_generated_is_reported() {
    let (c, mut artifacts) = load("tests/fixtures/minimal.toml");
    for a in &mut artifacts {
        a.objects.retain(|o| o.kind() != "StatefulSet");
    }
    let a = analyse(c.model.as_ref().expect("model"), &artifacts)
        .expect("reads")
        .expect("kubernetes");
    assert_eq!(a.missing.len(), 1);
    assert_eq!(a.missing[0].0, "mini-storage/cache");
}

/// A Sentinel set: its pods reach each other's servers (replication) and sentinels (gossip), its
/// clients and its backup job reach both, and nothing else reaches the sentinels.
#[test]
fn a_sentinel_set_replicates_gossips_and_answers_its_clients() {
    let a = analysis("tests/fixtures/sentinel.toml");
    let broken = broken(&a);
    assert!(broken.is_empty(), "{broken:#?}");
    let cache = "mini-storage/cache";
    for from in [cache, "mini-core/web", "mini-storage/backup-service-cache"] {
        for port in [6379, 26379] {
            let f = flow(&a, from, cache, port);
            assert!(matches!(f.expect, Expect::Allow { .. }), "{from} → {port}");
            assert!(f.verdict.allowed(), "{from} → {port}: {}", f.verdict.why());
        }
    }
    // The full backup (with a data volume) dumps no store: the sentinels are closed to it.
    if let Some(full) = a
        .endpoints
        .iter()
        .find(|e| e.id.ends_with("/backup-service"))
        .map(|e| e.id.clone())
    {
        let f = flow(&a, &full, cache, 26379);
        assert!(matches!(f.expect, Expect::Deny { .. }));
        assert!(!f.verdict.allowed(), "{}", f.verdict.why());
    }
}

/// Fails unless every judged flow holds and every workload's pods were generated.
fn assert_all_hold(a: &Analysis) {
    let broken = broken(a);
    assert!(broken.is_empty(), "{broken:#?}");
    assert!(a.missing.is_empty(), "{:?}", a.missing);
}

/// A CloudNativePG store: its instances (derived from the Cluster) are an endpoint; the operator,
/// the instances themselves, Prometheus and the clients reach exactly what CloudNativePG needs,
/// under the policies that select them by `cnpg.io/cluster`; outside the mesh they need no istiod
/// and have no backup job.
#[test]
fn cloudnative_pg_instances_get_what_the_operator_needs_and_nothing_else() {
    let a = analysis("tests/fixtures/cnpg.toml");
    assert_all_hold(&a);
    let db = "mini-storage/db";
    let endpoint = a
        .endpoints
        .iter()
        .find(|e| e.id == db)
        .expect("the instances");
    assert_eq!(endpoint.labels["cnpg.io/cluster"], "db");
    for (from, to, port) in [
        ("cnpg-system/cloudnative-pg", db, 5432),
        ("cnpg-system/cloudnative-pg", db, 8000),
        (db, db, 5432),
        (db, db, 8000),
        (db, "object-store", 443),
        (db, "kube-apiserver", 443),
        ("mini-core/web", db, 5432),
        ("mini-monitoring/prometheus", db, 9187),
    ] {
        let f = flow(&a, from, to, port);
        assert!(
            matches!(f.expect, Expect::Allow { .. }),
            "{from} → {to}:{port}"
        );
        assert!(
            f.verdict.allowed(),
            "{from} → {to}:{port}: {}",
            f.verdict.why()
        );
    }
    for (from, to, port) in [
        ("mini-core/web", db, 8000),
        (db, "istio-system/istiod", 15012),
        ("cnpg-system/cloudnative-pg", "mini-core/web", 8080),
    ] {
        let f = flow(&a, from, to, port);
        assert!(
            matches!(f.expect, Expect::Deny { .. }),
            "{from} → {to}:{port}"
        );
        assert!(!f.verdict.allowed(), "{from} → {to}:{port}");
    }
    assert!(
        !a.endpoints
            .iter()
            .any(|e| e.id == "mini-storage/backup-service-db")
    );
}

/// The proof judges denied connections through the destination's ingress instead of pair by pair:
/// it must keep exactly the connections of the whole matrix that it reports (those the policies
/// decide otherwise than the model expects), in the matrix's order, and count the same allowed
/// needs.
#[test]
fn the_proof_keeps_the_findings_of_the_whole_matrix() {
    let findings = |env: &crate::model::Environment, artifacts: &[Artifact]| {
        let keep = |a: Analysis| -> Vec<String> {
            a.flows
                .iter()
                .filter(|f| !f.holds())
                .map(|f| format!("{f:?}"))
                .collect()
        };
        let every = analyse(env, artifacts).expect("reads").expect("Kubernetes");
        let found = analyse_keeping(env, artifacts, Keep::Findings)
            .expect("reads")
            .expect("Kubernetes");
        assert_eq!(found.missing, every.missing);
        let needed = |f: &&Flow| matches!(f.expect, Expect::Allow { .. });
        let allowed = every.flows.iter().filter(needed).filter(|f| f.holds());
        assert_eq!(found.allowed_needs, allowed.count());
        assert_eq!(every.allowed_needs, found.allowed_needs);
        assert!(found.allowed_needs > 0);
        (
            keep(every),
            found
                .flows
                .iter()
                .map(|f| format!("{f:?}"))
                .collect::<Vec<_>>(),
        )
    };
    for rel in ["tests/fixtures/minimal.toml", "tests/fixtures/flows.toml"] {
        let (c, artifacts) = load(rel);
        let env = c.model.as_ref().expect("model");
        let (every, found) = findings(env, &artifacts);
        assert_eq!(found, every, "{rel}");
        // Without the policies of one namespace its pods accept and open every connection.
        let namespace = artifacts
            .iter()
            .flat_map(|a| &a.objects)
            .find(|o| o.kind() == "NetworkPolicy")
            .and_then(|o| o.namespace())
            .expect("a policy")
            .to_owned();
        let (_, mut open) = load(rel);
        for a in &mut open {
            a.objects.retain(|o| {
                !(o.kind() == "NetworkPolicy" && o.namespace() == Some(namespace.as_str()))
            });
        }
        let (every, found) = findings(env, &open);
        assert!(every.iter().any(|f| f.contains("Deny")), "{every:#?}");
        assert_eq!(found, every, "{rel} without the policies of {namespace}");
    }
}
