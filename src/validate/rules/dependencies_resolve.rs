//! DG0120 dependencies-resolve: every `depends_on` entry names a workload that exists and is
//! deployed whenever the dependent is, and on Compose the dependencies have no cycle.

use super::DiagnosticExt;
use super::references_resolve::{target, unknown};
use crate::model::PlatformKind;
use crate::path;
use crate::validate::{Rule, RuleContext};
use std::collections::{BTreeMap, BTreeSet};

pub static RULE: Rule = Rule {
    code: "DG0120",
    name: "dependencies-resolve",
    what: "A service's `depends_on` names a service, a storage backend or `blockchain` other than \
           itself that is enabled whenever the dependent is; on Compose the dependencies have no \
           cycle.",
    why: "A dangling dependency compiles into something that looks right and does nothing: a \
          network policy allowing traffic to a service that is not there, a start order on a \
          container that never starts. Compose refuses a dependency cycle outright.",
};

pub(super) fn check(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    for (name, s) in &env.services {
        for (i, dep) in s.depends_on.iter().enumerate() {
            let p = path!["services", name, "depends_on", i];
            if dep == name {
                cx.error(
                    RULE.code,
                    &p,
                    format!("service `{name}` depends on itself"),
                    "itself",
                )
                .help("remove it from `depends_on`");
                continue;
            }
            match target(cx, dep) {
                None => unknown(
                    cx,
                    RULE.code,
                    &p,
                    dep,
                    format!("service `{name}` depends on `{dep}`, which is not declared"),
                    "a dependency",
                ),
                Some(false) if s.enabled => {
                    let fix = if dep == "blockchain" {
                        "enable `[blockchain]`".to_owned()
                    } else {
                        format!("enable `{dep}`")
                    };
                    cx.error(
                        RULE.code,
                        &p,
                        format!("service `{name}` depends on `{dep}`, which is disabled in this environment"),
                        "disabled here",
                    )
                    .help(format!("{fix}, remove it from `depends_on`, or disable `{name}` too"));
                }
                _ => {}
            }
        }
    }
    if env.environment.platform == PlatformKind::Compose {
        compose_cycles(cx);
    }
}

/// Compose refuses `depends_on` cycles; report each cycle once, at the edge that closes it.
fn compose_cycles(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    let graph: BTreeMap<&str, Vec<&str>> = env
        .enabled_services()
        .map(|(n, s)| {
            let deps = s
                .depends_on
                .iter()
                .map(String::as_str)
                .filter(|d| env.services.get(*d).is_some_and(|t| t.enabled) && *d != n.as_str())
                .collect();
            (n.as_str(), deps)
        })
        .collect();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut reported: BTreeSet<Vec<&str>> = BTreeSet::new();
    for start in graph.keys() {
        let mut stack: Vec<&str> = Vec::new();
        visit(start, &graph, &mut stack, &mut done, &mut |cycle| {
            let mut key = cycle.to_vec();
            key.sort_unstable();
            if reported.insert(key) {
                let from = cycle[cycle.len() - 1];
                let to = cycle[0];
                let i = env.services[from]
                    .depends_on
                    .iter()
                    .position(|d| d == to)
                    .unwrap_or(0);
                let mut chain: Vec<&str> = cycle.to_vec();
                chain.push(to);
                cx.error(
                    RULE.code,
                    path!["services", from, "depends_on", i],
                    format!("`depends_on` forms a cycle: {}", chain.join(" → ")),
                    "closes the cycle",
                )
                .help("Compose starts dependencies first and refuses a cycle; remove one of these dependencies");
            }
        });
    }
}

fn visit<'a>(
    node: &'a str,
    graph: &BTreeMap<&'a str, Vec<&'a str>>,
    stack: &mut Vec<&'a str>,
    done: &mut BTreeSet<&'a str>,
    found: &mut dyn FnMut(&[&'a str]),
) {
    if let Some(pos) = stack.iter().position(|n| *n == node) {
        found(&stack[pos..]);
        return;
    }
    if done.contains(node) {
        return;
    }
    stack.push(node);
    for next in graph.get(node).into_iter().flatten() {
        visit(next, graph, stack, done, found);
    }
    stack.pop();
    done.insert(node);
}
