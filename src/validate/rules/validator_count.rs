//! DG0108 validator-count: consensus has enough validators, in the right mode, for its tier.

use super::{DiagnosticExt, is_production};
use crate::model::ConsensusMode;
use crate::path;
use crate::validate::{Rule, RuleContext};

pub static RULE: Rule = Rule {
    code: "DG0108",
    name: "validator-count",
    what: "Every environment has at least one consensus validator. Production needs at least 4 \
           (byzantine fault tolerance with n = 3f + 1 validators survives f faulty ones, and f must \
           be at least 1) and `mode = \"production\"`; `mode = \"test\"` in production is an error. \
           In production, a count that is not 3f + 1 is a warning, since the extra validators add \
           no fault tolerance. `mode = \"production\"` outside production is a warning. \
           Development may run a single validator.",
    why: "With 3 or fewer validators one faulty or compromised validator can stall or fork \
          consensus. Test mode makes validators accept test transactions, which in production \
          means accepting unvalidated results; production mode outside production makes a test \
          environment refuse the test traffic it exists for.",
};

pub(super) fn check(cx: &mut RuleContext<'_>) {
    let c = &cx.env.consensus;
    let n = c.validators;
    let count = path!["consensus", "validators"];
    let mode = path!["consensus", "mode"];
    if n == 0 {
        cx.error(
            RULE.code,
            &count,
            "consensus has no validators",
            "0 validators",
        )
        .help("set `validators = 1` for development, 4 or more for production");
        return;
    }
    if is_production(cx.env) {
        if n < 4 {
            cx.error(
                RULE.code,
                &count,
                format!("production runs {n} consensus validator{}; it needs at least 4", if n == 1 { "" } else { "s" }),
                "too few to tolerate a fault",
            )
            .help("byzantine fault tolerance needs 3f + 1 validators to survive f faults: use 4 (f = 1) or 7 (f = 2)");
        } else if !(n - 1).is_multiple_of(3) {
            let f = (n - 1) / 3;
            cx.warning(
                RULE.code,
                &count,
                format!(
                    "{n} validators tolerate {f} fault{}, as {} would",
                    if f == 1 { "" } else { "s" },
                    3 * f + 1
                ),
                "not 3f + 1",
            )
            .help(format!(
                "use {} (tolerates {f}) or {} (tolerates {})",
                3 * f + 1,
                3 * f + 4,
                f + 1
            ));
        }
        if c.mode == ConsensusMode::Test {
            cx.error(
                RULE.code,
                &mode,
                "consensus runs in test mode in production",
                "test mode",
            )
            .help(
                "set `mode = \"production\"`: test mode makes validators accept test transactions",
            );
        }
    } else if c.mode == ConsensusMode::Production {
        let tier = cx.env.environment.tier.as_str();
        cx.warning(
            RULE.code,
            &mode,
            format!("consensus runs in production mode in the {tier} tier"),
            "production mode",
        )
        .help("use `mode = \"test\"` outside production, so the environment accepts test transactions");
    }
}
