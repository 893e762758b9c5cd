//! Reachability as a user meets it: `check` proves the shipped environments (every proof),
//! `check --flows` prints the connection matrix (as a table or JSON) and `graph` writes the
//! service graph.

use crate::support::{root, run, stderr, stdout};

/// The count before ` {what}` in `env`'s summary line of `check`.
fn proven(out: &str, env: &str, what: &str) -> usize {
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("{env}: ")))
        .unwrap_or_else(|| panic!("no summary for {env}: {out}"));
    line[env.len() + 2..]
        .split(", ")
        .find_map(|p| p.strip_suffix(&format!(" {what}")))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `{what}` count in {line}"))
}

/// The shipped Kubernetes environments pass every proof: their objects are admitted, their flows
/// hold and every alert can fire.
#[test]
fn check_proves_the_shipped_environments() {
    let o = run(&root(), &["check", "environments/"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    for env in ["staging", "production"] {
        assert!(proven(&out, env, "objects admitted") > 100, "{out}");
        assert!(proven(&out, env, "flows proven") > 100, "{out}");
        assert_eq!(proven(&out, env, "alerts proven"), 9, "{out}");
    }
}

/// Every row of the JSON matrix: the verdict is what the model expects, the flows the issue
/// named are there, and the summary counts the needed flows.
#[test]
fn check_flows_json_lists_every_pair_with_its_verdict() {
    let o = run(
        &root(),
        &[
            "check",
            "--flows",
            "--format",
            "json",
            "tests/fixtures/flows.toml",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("one JSON line");
    let m = &v["matrix"];
    assert_eq!(m["environment"], "flows");
    let flows = m["flows"].as_array().expect("flows");
    let needed = flows.iter().filter(|f| f["expect"] == "allow").count();
    assert_eq!(v["flows"].as_u64(), Some(needed as u64));
    for f in flows {
        let expected = if f["expect"] == "allow" {
            "allowed"
        } else {
            "denied"
        };
        assert_eq!(f["verdict"], expected, "{f}");
    }
    let find = |from: &str, to: &str, port: u64| {
        flows
            .iter()
            .find(|f| f["from"] == from && f["to"] == to && f["port"] == port)
            .unwrap_or_else(|| panic!("{from} → {to}:{port}"))
    };
    let kubelet = find("mini-monitoring/prometheus", "node", 10250);
    assert_eq!(kubelet["key"], "monitoring");
    let dep = find("mini-core/web", "mini-storage/cache", 6379);
    assert_eq!(dep["key"], "services.web.depends_on");
    assert!(
        dep["why"]
            .as_str()
            .is_some_and(|w| w.contains("mini-core/web rule"))
    );
    let stray = find("mini-core/worker", "mini-storage/db", 5432);
    assert_eq!(stray["expect"], "deny");
    let endpoints = m["endpoints"].as_array().expect("endpoints");
    assert!(
        endpoints
            .iter()
            .any(|e| e["id"] == "mini-core/web" && e["labels"]["app.kubernetes.io/name"] == "web")
    );
}

#[test]
fn check_flows_prints_the_matrix_as_a_table() {
    let o = run(
        &root(),
        &["check", "--flows", "tests/fixtures/minimal.toml"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let mut lines = out.lines();
    assert!(lines.next().is_some_and(|l| l.starts_with("minimal: ")));
    let header = lines.next().expect("header");
    for col in ["FROM", "TO", "PORT", "VERDICT", "MODEL", "WHY"] {
        assert!(header.contains(col), "{header}");
    }
    let gateway = out
        .lines()
        .find(|l| l.contains("istio-system/istio-ingressgateway") && l.contains("mini-core/web"))
        .expect("the gateway's flow");
    assert!(gateway.contains("allowed"), "{gateway}");
    assert!(gateway.contains("needed: services.web.route"), "{gateway}");
    // A compose environment says it has no policies instead of failing.
    let o = run(
        &root(),
        &["check", "--flows", "tests/fixtures/compose.toml"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("not a Kubernetes environment"));
}

#[test]
fn graph_writes_mermaid_and_dot() {
    let o = run(&root(), &["graph", "tests/fixtures/flows.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mermaid = stdout(&o);
    assert!(mermaid.starts_with("flowchart LR\n"), "{mermaid}");
    assert!(mermaid.contains("subgraph ns0[\"mini-"), "{mermaid}");
    assert!(mermaid.contains("[\"web\"]"), "{mermaid}");
    assert!(mermaid.contains("-->|\"6379/TCP\"|"), "{mermaid}");
    let again = stdout(&run(&root(), &["graph", "tests/fixtures/flows.toml"]));
    assert_eq!(mermaid, again, "deterministic");

    let o = run(
        &root(),
        &["graph", "tests/fixtures/flows.toml", "--format", "dot"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let dot = stdout(&o);
    assert!(dot.starts_with("digraph \"flows\" {\n"), "{dot}");
    assert!(dot.contains("subgraph cluster_"), "{dot}");
    assert!(dot.contains("[label=\"6379/TCP\"];"), "{dot}");
    assert!(dot.trim_end().ends_with('}'));
    // Only needed flows are edges: web's metrics port only from Prometheus.
    assert_eq!(dot.matches("9090/TCP").count(), 1, "{dot}");
}

#[test]
fn graph_refuses_what_has_no_network() {
    let o = run(&root(), &["graph", "tests/fixtures/compose.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).is_empty());
    assert!(
        stderr(&o).contains("has no Kubernetes objects"),
        "{}",
        stderr(&o)
    );
    let o = run(&root(), &["graph", "tests/fixtures/nope.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).is_empty());
}
