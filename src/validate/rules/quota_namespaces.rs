//! DG0122 quota-namespaces: every `[quotas.*]` key is a namespace key. Checked on the merged tree,
//! before the model is built: the model keys quotas by namespace and leaves an unknown key out.

use super::DiagnosticExt;
use super::references_resolve::suggest;
use crate::model::NamespaceKey;
use crate::path;
use crate::validate::{Report, Rule};

pub static RULE: Rule = Rule {
    code: "DG0122",
    name: "quota-namespaces",
    what: "A `quotas` key is a namespace key (core, blockchain, storage, monitoring).",
    why: "A quota on a namespace that does not exist limits nothing, while the namespace meant \
          stays without one.",
};

/// Reports the `quotas` key `key`, which names no namespace, where it is written.
pub(crate) fn unknown(report: &mut Report<'_>, key: &str) {
    let keys: Vec<String> = NamespaceKey::ALL
        .iter()
        .map(|k| k.as_str().to_owned())
        .collect();
    let help = suggest(key, &keys, || {
        format!("quotas are keyed by namespace key: {}", keys.join(", "))
    });
    report
        .key_error(
            RULE.code,
            path!["quotas", key],
            format!("quota `{key}` names no namespace"),
            "not a namespace key",
        )
        .help(help);
}
