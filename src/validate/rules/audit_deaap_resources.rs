//! DG0127 audit-deaap-resources: an audit rule names only `deaap.io` resources that a shipped
//! `CustomResourceDefinition` defines ([`crate::crds`]).

use super::DiagnosticExt;
use super::references_resolve::suggest;
use crate::crds::{self, Resource};
use crate::path;
use crate::validate::{Rule, RuleContext};

pub static RULE: Rule = Rule {
    code: "DG0127",
    name: "audit-deaap-resources",
    what: "Every resource an `[[audit.rules]]` entry names in the API group `deaap.io` is one a \
           CustomResourceDefinition of charts/deaap/crds/deaap.io.yaml defines, by its plural \
           (`consensusvalidations`), `*`, or either with a subresource the definition serves \
           (`consensusvalidations/status`).",
    why: "The API server matches audit rules by name and never checks them: a rule naming a \
          resource that does not exist (a kind, a singular, a typo) logs nothing, and the \
          consensus decisions it was written to record go unaudited without a word.",
};

pub(super) fn check(cx: &mut RuleContext<'_>) {
    let Ok(defined) = crds::resources() else {
        // The definitions did not parse: a defect of deaap-gen, which their target reports.
        return;
    };
    let rules = &cx.env.audit.rules;
    for (i, r) in rules.iter().enumerate() {
        for (j, g) in r.resources.iter().enumerate() {
            let group: Vec<&Resource> = defined.iter().filter(|d| d.group == g.group).collect();
            if group.is_empty() {
                continue;
            }
            for (k, name) in g.resources.iter().enumerate() {
                let here = path!["audit", "rules", i, "resources", j, "resources", k];
                let Some((message, help)) = unknown(&g.group, &group, name) else {
                    continue;
                };
                cx.error(
                    RULE.code,
                    &here,
                    format!("audit rule {} names {message}", i + 1),
                    "no such resource",
                )
                .help(help);
            }
        }
    }
}

/// What is wrong with `name` in `group` (whose definitions are `defined`), and the help: `None`
/// when the API server serves it.
fn unknown(group: &str, defined: &[&Resource], name: &str) -> Option<(String, String)> {
    let (base, sub) = match name.split_once('/') {
        Some((base, sub)) => (base, Some(sub)),
        None => (name, None),
    };
    let serving = |sub: &str| -> Vec<&Resource> {
        defined
            .iter()
            .copied()
            .filter(|d| base == "*" || d.plural == base)
            .filter(|d| sub == "*" || d.subresources.contains(&sub))
            .collect()
    };
    if base != "*" && !defined.iter().any(|d| d.plural == base) {
        let plurals: Vec<String> = defined.iter().map(|d| d.plural.to_owned()).collect();
        let alias = defined
            .iter()
            .find(|d| d.aliases.iter().any(|a| a.eq_ignore_ascii_case(base)));
        let help = match alias {
            Some(d) => format!(
                "did you mean `{}`? audit rules name a resource by its plural",
                d.plural
            ),
            None => suggest(base, &plurals, || {
                format!(
                    "the {group} resources are {} (defined in {})",
                    plurals.join(", "),
                    crds::SOURCE_PATH
                )
            }),
        };
        return Some((
            format!(
                "`{base}` in API group `{group}`, which no CustomResourceDefinition of {} defines",
                crds::SOURCE_PATH
            ),
            help,
        ));
    }
    let sub = sub?;
    if !serving(sub).is_empty() {
        return None;
    }
    let mut served: Vec<&str> = defined
        .iter()
        .filter(|d| base == "*" || d.plural == base)
        .flat_map(|d| d.subresources.iter().copied())
        .collect();
    served.sort_unstable();
    served.dedup();
    let known: Vec<String> = served.iter().map(|s| (*s).to_owned()).collect();
    let help = match crate::validate::schema::did_you_mean(sub, &known) {
        Some(s) => format!("did you mean `{base}/{s}`?"),
        None => format!("`{base}` serves the subresources {}", served.join(", ")),
    };
    Some((
        format!("`{name}` in API group `{group}`: `{base}` has no subresource `{sub}`"),
        help,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str) -> Option<(String, String)> {
        let defined = crds::resources().expect("the definitions parse");
        let group: Vec<&Resource> = defined.iter().collect();
        unknown(crds::GROUP, &group, name)
    }

    #[test]
    fn served_names_pass() {
        for name in [
            "consensusvalidations",
            "agentdeployments",
            "*",
            "consensusvalidations/status",
            "agentdeployments/scale",
            "consensusvalidations/*",
            "*/status",
            "*/scale",
            "*/*",
        ] {
            assert_eq!(check(name), None, "{name}");
        }
    }

    #[test]
    fn unknown_names_get_the_plural_or_the_list() {
        let (message, help) = check("consensusvalidation").expect("a singular");
        assert!(message.starts_with("`consensusvalidation` in API group `deaap.io`"));
        assert_eq!(
            help,
            "did you mean `consensusvalidations`? audit rules name a resource by its plural"
        );
        let (_, help) = check("ConsensusValidation").expect("a kind");
        assert!(
            help.starts_with("did you mean `consensusvalidations`?"),
            "{help}"
        );
        let (_, help) = check("agd").expect("a short name");
        assert!(
            help.starts_with("did you mean `agentdeployments`?"),
            "{help}"
        );
        let (_, help) = check("agentdeploymnts").expect("a typo");
        assert_eq!(help, "did you mean `agentdeployments`?");
        let (_, help) = check("widgets").expect("nothing like it");
        assert_eq!(
            help,
            "the deaap.io resources are consensusvalidations, agentdeployments (defined in \
             charts/deaap/crds/deaap.io.yaml)"
        );
        let (message, help) = check("consensusvalidations/scale").expect("no scale");
        assert_eq!(
            message,
            "`consensusvalidations/scale` in API group `deaap.io`: `consensusvalidations` has no \
             subresource `scale`"
        );
        assert_eq!(
            help,
            "`consensusvalidations` serves the subresources status"
        );
        let (_, help) = check("agentdeployments/stats").expect("a typo");
        assert_eq!(help, "did you mean `agentdeployments/status`?");
        assert!(check("*/logs").is_some());
    }
}
