//! DG0125 waiver-workloads: a posture-scan waiver names workloads that exist.

use super::references_resolve::{target, unknown};
use crate::path;
use crate::validate::{Rule, RuleContext};

pub static RULE: Rule = Rule {
    code: "DG0125",
    name: "waiver-workloads",
    what: "Every workload a `[[security.waivers]]` entry names is a service, a storage backend or \
           `blockchain`.",
    why: "A waiver is rendered as an annotation on the workloads it names; a misspelt name waives \
          nothing, and the finding the waiver was written for stays.",
};

pub(super) fn check(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    for (i, w) in env.security.waivers.iter().enumerate() {
        for (j, name) in w.workloads.iter().enumerate() {
            if target(cx, name).is_none() {
                unknown(
                    cx,
                    RULE.code,
                    path!["security", "waivers", i, "workloads", j].as_slice(),
                    name,
                    format!(
                        "waiver of `{}` names workload `{name}`, which is not declared",
                        w.check
                    ),
                    "a workload",
                );
            }
        }
    }
}
