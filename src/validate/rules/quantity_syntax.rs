//! DG0106 quantity-syntax: every CPU, memory, volume-size and quota string is a Kubernetes
//! quantity that means what it looks like. Checked where each is written, before the model is
//! built (`validate::typed`), since the model holds them parsed.

use super::DiagnosticExt;
use crate::load::Seg;
use crate::model::Quantity;
use crate::validate::{Report, Rule};

pub static RULE: Rule = Rule {
    code: "DG0106",
    name: "quantity-syntax",
    what: "Every `cpu` and `memory` of `defaults.resources`, of each workload's `resources` and \
           of the mesh's `proxy_resources`, every persistence and monitoring `size`, and every \
           quota amount is a Kubernetes quantity (`500m`, `2`, `512Mi`, `1Gi`, `1G`, `1e3`): no \
           spaces, no `GB` or `K`, case-sensitive suffixes. Negative amounts, memory in fractions \
           of a byte (`500m` of memory is half a byte) and zero-sized volumes are refused too.",
    why: "The API server refuses a malformed quantity only when the manifest is applied, and Helm \
          renders it without complaint. The worse mistakes parse: `memory: 500m` asks for half a \
          byte and the container is killed at start, `1GB` is a typo for `1G` or `1Gi`.",
};

/// What a quantity measures, in messages, by its key: `CPU`, `memory` or `volume size`.
fn measured(key: &str) -> &'static str {
    if key == "size" {
        "volume size"
    } else if key.ends_with("cpu") {
        "CPU"
    } else {
        "memory"
    }
}

/// Checks the quantity `text` written at `p`, before the model is built: that it parses (which
/// the model's [`Quantity`] needs), and that it means what it looks like. `in_use` says, for a
/// volume size, whether the volume is switched on (only then may it not be zero). Returns whether
/// it parses.
pub(crate) fn check_at(report: &mut Report<'_>, p: &[Seg], text: &str, in_use: bool) -> bool {
    let key = match p.last() {
        Some(Seg::Key(k)) => k.as_str(),
        _ => "",
    };
    let what = measured(key);
    let q = match Quantity::parse(text) {
        Ok(q) => q.amount(),
        Err(e) => {
            report
                .error(
                    RULE.code,
                    p,
                    format!("{what} `{text}` is not a Kubernetes quantity: {e}"),
                    "not a quantity",
                )
                .help(e.help());
            return false;
        }
    };
    if q.is_negative() {
        report
            .error(
                RULE.code,
                p,
                format!("{what} `{text}` is negative"),
                "negative",
            )
            .help("resource amounts are zero or more");
        return true;
    }
    if what != "CPU" && !q.is_whole() {
        let fix = match text.strip_suffix('m') {
            Some(n) => format!("did you mean `{n}Mi` (mebibytes)? `m` means thousandths"),
            None => {
                "memory and sizes are whole bytes; use `Ki`, `Mi`, `Gi` or `k`, `M`, `G`".to_owned()
            }
        };
        report
            .error(
                RULE.code,
                p,
                format!("{what} `{text}` is a fraction of a byte"),
                "fraction of a byte",
            )
            .help(fix);
        return true;
    }
    if key == "size" && in_use && q.is_zero() {
        report
            .error(
                RULE.code,
                p,
                format!("volume size `{text}` is zero"),
                "empty volume",
            )
            .help("give the volume a size such as `10Gi`, or set `enabled = false` next to `size`");
    }
    true
}
