//! DG0114 audit-secrets: the audit policy never writes Secret values to the audit log, and every
//! audit rule can match something.

use super::DiagnosticExt;
use crate::model::{AuditLevel, AuditRule, NamespaceKey};
use crate::path;
use crate::validate::{Rule, RuleContext};
use std::collections::BTreeSet;

pub static RULE: Rule = Rule {
    code: "DG0114",
    name: "audit-secrets",
    what: "An audit rule that can match Secrets (core group `\"\"` with `secrets` or `*`, a core \
           group entry without resources, or no `resources` at all) at level `RequestResponse`, or \
           at `Request` for verbs that carry a body (create, update, patch), and that no earlier \
           rule already catches for Secrets, is an error unless it has a \
           `payload_logging_reason` (then a warning). An audit rule that an earlier rule already \
           matches completely is dead, since the first matching rule wins: a warning.",
    why: "At `Request` and `RequestResponse` the API server writes request and response bodies to \
          the audit log, and a Secret's body is its value: every password would be copied to log \
          storage with a wider audience than the Secret itself. The seed's policy logged Secrets \
          at `RequestResponse`. A dead rule is a policy that says more than it does.",
};

/// What a rule matches; `None` means everything.
struct Matcher {
    namespaces: Option<BTreeSet<NamespaceKey>>,
    verbs: Option<BTreeSet<String>>,
    resources: Option<Vec<(String, Vec<String>)>>,
}

fn matcher(r: &AuditRule) -> Matcher {
    Matcher {
        namespaces: (!r.namespaces.is_empty()).then(|| r.namespaces.iter().copied().collect()),
        verbs: (!r.verbs.is_empty()).then(|| r.verbs.iter().cloned().collect()),
        resources: (!r.resources.is_empty()).then(|| {
            r.resources
                .iter()
                .map(|g| (g.group.clone(), g.resources.clone()))
                .collect()
        }),
    }
}

fn set_covers<T: Ord>(a: Option<&BTreeSet<T>>, b: Option<&BTreeSet<T>>) -> bool {
    match (a, b) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(a), Some(b)) => b.is_subset(a),
    }
}

/// Whether resource pattern `a` matches everything pattern `b` does.
fn resource_covers(a: &str, b: &str) -> bool {
    a == "*"
        || a == b
        || a.strip_suffix("/*")
            .is_some_and(|base| b.strip_prefix(base).is_some_and(|r| r.starts_with('/')))
        || a.strip_prefix("*/")
            .is_some_and(|sub| b.split_once('/').is_some_and(|(_, s)| s == sub))
}

/// Whether a group's resource list `a` matches everything list `b` does (empty = all).
fn list_covers(a: &[String], b: &[String]) -> bool {
    if a.is_empty() || a.iter().any(|r| r == "*") {
        return true;
    }
    !b.is_empty() && b.iter().all(|r| a.iter().any(|p| resource_covers(p, r)))
}

/// Whether every request `b` matches is matched by `a`.
fn covers(a: &Matcher, b: &Matcher) -> bool {
    set_covers(a.namespaces.as_ref(), b.namespaces.as_ref())
        && set_covers(a.verbs.as_ref(), b.verbs.as_ref())
        && match (&a.resources, &b.resources) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(a), Some(b)) => b
                .iter()
                .all(|(g, rs)| a.iter().any(|(ga, ra)| ga == g && list_covers(ra, rs))),
        }
}

/// The part of `r` that logs Secret bodies, if any.
fn secret_probe(r: &AuditRule) -> Option<Matcher> {
    let body_verbs: BTreeSet<String> = ["create", "update", "patch"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let verbs = match r.level {
        AuditLevel::None | AuditLevel::Metadata => return None,
        AuditLevel::RequestResponse => {
            (!r.verbs.is_empty()).then(|| r.verbs.iter().cloned().collect())
        }
        AuditLevel::Request => {
            let v: BTreeSet<String> = if r.verbs.is_empty() {
                body_verbs
            } else {
                r.verbs
                    .iter()
                    .filter(|v| body_verbs.contains(*v))
                    .cloned()
                    .collect()
            };
            if v.is_empty() {
                return None;
            }
            Some(v)
        }
    };
    let secrets = vec![String::from("secrets")];
    let matches_secrets = r.resources.is_empty()
        || r.resources
            .iter()
            .any(|g| g.group.is_empty() && list_covers(&g.resources, &secrets));
    matches_secrets.then(|| Matcher {
        namespaces: (!r.namespaces.is_empty()).then(|| r.namespaces.iter().copied().collect()),
        verbs,
        resources: Some(vec![(String::new(), secrets)]),
    })
}

pub(super) fn check(cx: &mut RuleContext<'_>) {
    let rules = &cx.env.audit.rules;
    let matchers: Vec<Matcher> = rules.iter().map(matcher).collect();
    for (i, r) in rules.iter().enumerate() {
        let here = path!["audit", "rules", i];
        if let Some(j) = (0..i).find(|&j| covers(&matchers[j], &matchers[i])) {
            let earlier = cx.span(path!["audit", "rules", j]);
            cx.warning(
                RULE.code,
                &here,
                format!("audit rule {} never applies: rule {} already matches every request it matches", i + 1, j + 1),
                "dead rule",
            )
            .also(earlier, "this earlier rule wins")
            .help("the first matching rule decides the level: move this rule above the broader one, or remove it");
            continue;
        }
        let Some(probe) = secret_probe(r) else {
            continue;
        };
        if (0..i).any(|j| covers(&matchers[j], &probe)) {
            continue;
        }
        let level = if r.level == AuditLevel::Request {
            "Request"
        } else {
            "RequestResponse"
        };
        let lp = path!["audit", "rules", i, "level"];
        if r.payload_logging_reason.is_some() {
            cx.warning(
                RULE.code,
                &lp,
                format!(
                    "audit rule {} logs Secret values at `{level}`; a reason is recorded",
                    i + 1
                ),
                "Secret payloads logged",
            )
            .help("make sure the audit log is protected like the Secrets themselves");
        } else {
            cx.error(
                RULE.code,
                &lp,
                format!("audit rule {} logs Secret values: at `{level}` the request{} bodies of Secrets are written to the audit log", i + 1, if r.level == AuditLevel::RequestResponse { " and response" } else { "" }),
                "Secret payloads logged",
            )
            .help("log Secrets at `Metadata` in an earlier rule, e.g. `{ level = \"Metadata\", resources = [{ group = \"\", resources = [\"secrets\"] }] }`, or leave `secrets` out of this rule; if the payloads must be logged, set `payload_logging_reason`");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_patterns() {
        assert!(resource_covers("*", "secrets"));
        assert!(resource_covers("pods/*", "pods/log"));
        assert!(!resource_covers("pods/*", "pods"));
        assert!(resource_covers("*/scale", "deployments/scale"));
        assert!(!resource_covers("*/scale", "deployments"));
        assert!(list_covers(&[], &["secrets".into()]));
        assert!(!list_covers(&["pods".into()], &[]));
        assert!(list_covers(&["*".into()], &[]));
    }
}
