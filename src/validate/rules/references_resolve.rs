//! What the rules that check names pointing elsewhere in the file share: whether a workload name
//! resolves (DG0120 dependencies-resolve, DG0125 waiver-workloads) and the did-you-mean help for a
//! name that does not (DG0120–DG0125). Those checks were one rule, DG0109 references-resolve,
//! until each got its own code; `deaap-gen explain DG0109` lists them.

use super::DiagnosticExt;
use crate::load::Seg;
use crate::validate::RuleContext;
use crate::validate::schema::did_you_mean;

/// Whether `name` (a service, a storage backend or `blockchain`) exists, and is enabled.
pub(super) fn target(cx: &RuleContext<'_>, name: &str) -> Option<bool> {
    let env = cx.env;
    if name == "blockchain" {
        return Some(env.blockchain.enabled);
    }
    env.services
        .get(name)
        .map(|s| s.enabled)
        .or_else(|| env.storage.get(name).map(|s| s.enabled))
}

fn known_targets(cx: &RuleContext<'_>) -> Vec<String> {
    let env = cx.env;
    let mut v: Vec<String> = env
        .services
        .keys()
        .chain(env.storage.keys())
        .cloned()
        .collect();
    v.push("blockchain".to_owned());
    v
}

/// The help for `name`, which is none of `known`: the closest known name, else `otherwise`.
pub(super) fn suggest(name: &str, known: &[String], otherwise: impl FnOnce() -> String) -> String {
    match did_you_mean(name, known) {
        Some(s) => format!("did you mean `{s}`?"),
        None => otherwise(),
    }
}

/// Reports `name`, which is no service, storage backend or `blockchain`, under `code`.
pub(super) fn unknown(
    cx: &mut RuleContext<'_>,
    code: &'static str,
    p: &[Seg],
    name: &str,
    message: String,
    what: &str,
) {
    let known = known_targets(cx);
    let help = suggest(name, &known, || {
        format!("{what} is one of: {}", known.join(", "))
    });
    cx.error(code, p, message, "not declared").help(help);
}
