//! DG0122 quota-namespaces: every `[quotas.*]` key is a namespace key.

use super::DiagnosticExt;
use super::references_resolve::suggest;
use crate::model::NamespaceKey;
use crate::path;
use crate::validate::{Rule, RuleContext};

pub static RULE: Rule = Rule {
    code: "DG0122",
    name: "quota-namespaces",
    what: "A `quotas` key is a namespace key (core, blockchain, storage, monitoring).",
    why: "A quota on a namespace that does not exist limits nothing, while the namespace meant \
          stays without one.",
    check,
};

fn check(cx: &mut RuleContext<'_>) {
    let keys: Vec<String> = NamespaceKey::ALL
        .iter()
        .map(|k| k.as_str().to_owned())
        .collect();
    for key in cx.env.quotas.keys() {
        if keys.contains(key) {
            continue;
        }
        let help = suggest(key, &keys, || {
            format!("quotas are keyed by namespace key: {}", keys.join(", "))
        });
        cx.key_error(
            RULE.code,
            path!["quotas", key],
            format!("quota `{key}` names no namespace"),
            "not a namespace key",
        )
        .help(help);
    }
}
