//! DG0124 consensus-writer: where the `consensus_writers` admission policy is on, the consensus
//! writer is an enabled service.

use super::DiagnosticExt;
use super::references_resolve::suggest;
use crate::path;
use crate::validate::{Rule, RuleContext};

pub static RULE: Rule = Rule {
    code: "DG0124",
    name: "consensus-writer",
    what: "On Kubernetes with the `consensus_writers` admission policy on, \
           `consensus.writer_service` is an enabled service.",
    why: "The admission policy lets only the writer's service account write consensus \
          validations; naming a service that is not deployed denies every write.",
};

pub(super) fn check(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    // The writer matters where the admission policy lets only it write consensus validations.
    let opa = &env.security.opa;
    if !(env.is_kubernetes() && opa.enabled && opa.policies.consensus_writers) {
        return;
    }
    let w = &env.consensus.writer_service;
    let p = path!["consensus", "writer_service"];
    match env.services.get(w) {
        Some(s) if s.enabled => {}
        Some(_) => {
            cx.error(
                RULE.code,
                &p,
                format!("consensus writer `{w}` is disabled in this environment"),
                "disabled here",
            )
            .help(format!(
                "enable `{w}`, or name the enabled service that writes consensus validations"
            ));
        }
        None => {
            let known: Vec<String> = env.enabled_services().map(|(n, _)| n.clone()).collect();
            let help = suggest(w, &known, || {
                format!("name one of the enabled services: {}", known.join(", "))
            });
            cx.error(
                RULE.code,
                &p,
                format!("consensus writer `{w}` is not a service"),
                "not declared",
            )
            .help(help);
        }
    }
}
