//! `check --flows` and `graph` (README "Reachability"): the connection matrix the reachability
//! proof judged, and the service graph of the flows the model needs. The workspace keeps the
//! artifacts but not the model, so each environment's file is compiled again for its flows.

use super::{Error, Unit, Workspace};
use crate::load::display_path;
use crate::proof::flows::policy::{Endpoint, Place};
use crate::proof::flows::{self, Analysis, Expect, Flow};
use std::fmt::Write as _;

/// The judged connections of one environment; `analysis` is `None` on a platform without
/// `NetworkPolicies` (Compose).
#[derive(Debug, Clone)]
pub struct Matrix {
    pub environment: String,
    pub analysis: Option<Analysis>,
}

/// The matrix of every environment of the workspace, in workspace order.
///
/// # Errors
/// An environment file that no longer compiles, or generated objects that do not read back.
pub fn matrices(ws: &Workspace) -> Result<Vec<Matrix>, Error> {
    ws.units
        .iter()
        .map(|u| {
            Ok(Matrix {
                environment: u.tree.environment.clone(),
                analysis: analysis(u)?,
            })
        })
        .collect()
}

/// The reachability of one compiled environment (`None` without `NetworkPolicies`).
fn analysis(u: &Unit) -> Result<Option<Analysis>, Error> {
    let model = crate::compile(&u.path)
        .model
        .ok_or_else(|| Error::Flows(format!("`{}` no longer compiles", u.path.display())))?;
    flows::analyse(&model, &u.artifacts)
        .map_err(|e| Error::Flows(format!("`{}`: {e}", u.path.display())))
}

/// One row of a matrix as text columns: from, to, port/protocol, verdict, what the model says,
/// why the policies decided.
#[must_use]
pub fn row(f: &Flow) -> [String; 6] {
    let model = match &f.expect {
        Expect::Allow { key, why } => format!("needed: {} ({why})", display_path(key)),
        Expect::Deny { .. } => "not needed".to_owned(),
    };
    [
        f.from.clone(),
        f.to.clone(),
        format!("{}/{}", f.port, f.protocol),
        verdict(f).to_owned(),
        model,
        f.verdict.why(),
    ]
}

fn verdict(f: &Flow) -> &'static str {
    if f.verdict.allowed() {
        "allowed"
    } else {
        "denied"
    }
}

/// A matrix as one JSON object: the endpoints (with the labels, ports and address each was
/// judged with) and every connection with the model's expectation and the verdict.
#[must_use]
pub fn json(m: &Matrix) -> serde_json::Value {
    let Some(a) = &m.analysis else {
        return serde_json::json!({ "environment": m.environment, "kubernetes": false });
    };
    let endpoints: Vec<serde_json::Value> = a.endpoints.iter().map(endpoint_json).collect();
    let flows: Vec<serde_json::Value> = a
        .flows
        .iter()
        .map(|f| {
            let (expect, key, why) = match &f.expect {
                Expect::Allow { key, why } => ("allow", display_path(key), Some(why.as_str())),
                Expect::Deny { key } => ("deny", display_path(key), None),
            };
            serde_json::json!({
                "from": f.from,
                "to": f.to,
                "port": f.port,
                "protocol": f.protocol.as_str(),
                "expect": expect,
                "key": key,
                "need": why,
                "verdict": verdict(f),
                "why": f.verdict.why(),
            })
        })
        .collect();
    serde_json::json!({
        "environment": m.environment,
        "kubernetes": true,
        "isolated": a.isolated,
        "endpoints": endpoints,
        "flows": flows,
    })
}

fn endpoint_json(e: &Endpoint) -> serde_json::Value {
    let namespace = match &e.place {
        Place::Pod { namespace } => Some(namespace.as_str()),
        Place::Address => None,
    };
    let ports: Vec<serde_json::Value> = e
        .ports
        .iter()
        .map(|p| serde_json::json!({"name": p.name, "port": p.number, "protocol": p.protocol.as_str()}))
        .collect();
    serde_json::json!({
        "id": e.id,
        "namespace": namespace,
        "labels": e.labels,
        "ports": ports,
        "ip": e.ip.to_string(),
    })
}

/// The service graph of one environment: its endpoints (grouped by namespace) and, per pair, the
/// ports of the flows the model needs.
#[derive(Debug, Clone)]
pub struct Graph {
    pub environment: String,
    /// Endpoint ids with their namespace (`None`: outside the pod network), in matrix order.
    pub nodes: Vec<(String, Option<String>)>,
    /// (from, to, ports such as `8080/TCP`), in the order the flows were needed.
    pub edges: Vec<(String, String, Vec<String>)>,
}

/// A namespace (`None`: outside the pod network) and its nodes as (index, label).
type Group<'a> = (Option<&'a str>, Vec<(usize, &'a str)>);

/// How `graph` writes the service graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphFormat {
    Mermaid,
    Dot,
}

/// The service graph of the first (for `graph`, the only) environment of `ws`.
///
/// # Errors
/// Nothing was compiled, the environment has no Kubernetes network, or its flows cannot be
/// evaluated.
pub fn graph(ws: &Workspace) -> Result<Graph, Error> {
    let unit = ws.units.first().ok_or(Error::NothingCompiled)?;
    let analysis = analysis(unit)?.ok_or_else(|| Error::NoObjects {
        environment: unit.tree.environment.clone(),
    })?;
    Ok(graph_of(&unit.tree.environment, &analysis))
}

/// The graph of the needed flows of an analysis; only endpoints that take part appear.
#[must_use]
pub fn graph_of(environment: &str, a: &Analysis) -> Graph {
    let mut edges: Vec<(String, String, Vec<String>)> = Vec::new();
    for f in a
        .flows
        .iter()
        .filter(|f| matches!(f.expect, Expect::Allow { .. }))
    {
        let port = format!("{}/{}", f.port, f.protocol);
        match edges
            .iter_mut()
            .find(|(x, y, _)| *x == f.from && *y == f.to)
        {
            Some(e) => {
                if !e.2.contains(&port) {
                    e.2.push(port);
                }
            }
            None => edges.push((f.from.clone(), f.to.clone(), vec![port])),
        }
    }
    let nodes = a
        .endpoints
        .iter()
        .filter(|e| edges.iter().any(|(x, y, _)| *x == e.id || *y == e.id))
        .map(|e| {
            let ns = match &e.place {
                Place::Pod { namespace } => Some(namespace.clone()),
                Place::Address => None,
            };
            (e.id.clone(), ns)
        })
        .collect();
    Graph {
        environment: environment.to_owned(),
        nodes,
        edges,
    }
}

impl Graph {
    /// The namespaces in first-seen order, then the nodes of each.
    fn groups(&self) -> Vec<Group<'_>> {
        let mut groups: Vec<Group<'_>> = Vec::new();
        for (i, (id, ns)) in self.nodes.iter().enumerate() {
            let label = ns
                .as_deref()
                .and_then(|n| id.strip_prefix(n))
                .and_then(|r| r.strip_prefix('/'))
                .unwrap_or(id);
            match groups.iter_mut().find(|(n, _)| *n == ns.as_deref()) {
                Some(g) => g.1.push((i, label)),
                None => groups.push((ns.as_deref(), vec![(i, label)])),
            }
        }
        groups
    }

    fn index(&self, id: &str) -> usize {
        self.nodes.iter().position(|(n, _)| n == id).unwrap_or(0)
    }

    /// The graph in the given format.
    #[must_use]
    pub fn render(&self, format: GraphFormat) -> String {
        match format {
            GraphFormat::Mermaid => self.mermaid(),
            GraphFormat::Dot => self.dot(),
        }
    }

    /// A Mermaid flowchart: a subgraph per namespace, an edge per pair labelled with its ports.
    #[must_use]
    pub fn mermaid(&self) -> String {
        let quote = |s: &str| s.replace('"', "#quot;");
        let mut out = String::from("flowchart LR\n");
        for (g, (ns, nodes)) in self.groups().into_iter().enumerate() {
            let indent = if let Some(ns) = ns {
                let _ = writeln!(out, "  subgraph ns{g}[\"{}\"]", quote(ns));
                "    "
            } else {
                "  "
            };
            for (i, label) in nodes {
                let _ = writeln!(out, "{indent}n{i}[\"{}\"]", quote(label));
            }
            if ns.is_some() {
                out.push_str("  end\n");
            }
        }
        for (from, to, ports) in &self.edges {
            let _ = writeln!(
                out,
                "  n{} -->|\"{}\"| n{}",
                self.index(from),
                quote(&ports.join(", ")),
                self.index(to)
            );
        }
        out
    }

    /// A Graphviz digraph: a cluster per namespace, an edge per pair labelled with its ports.
    #[must_use]
    pub fn dot(&self) -> String {
        let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        let mut out = format!("digraph {} {{\n  rankdir=LR;\n", quote(&self.environment));
        for (g, (ns, nodes)) in self.groups().into_iter().enumerate() {
            let indent = if let Some(ns) = ns {
                let _ = writeln!(out, "  subgraph cluster_{g} {{\n    label={};", quote(ns));
                "    "
            } else {
                "  "
            };
            for (i, label) in nodes {
                let _ = writeln!(out, "{indent}n{i} [label={}];", quote(label));
            }
            if ns.is_some() {
                out.push_str("  }\n");
            }
        }
        for (from, to, ports) in &self.edges {
            let _ = writeln!(
                out,
                "  n{} -> n{} [label={}];",
                self.index(from),
                self.index(to),
                quote(&ports.join(", "))
            );
        }
        out.push_str("}\n");
        out
    }
}
