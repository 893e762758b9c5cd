//! DG0104 autoscaling-range: an enabled `HorizontalPodAutoscaler` has a range it can work in.

use super::{DiagnosticExt, is_prom_name, join};
use crate::model::Amount;
use crate::path;
use crate::validate::{Rule, RuleContext};

pub static RULE: Rule = Rule {
    code: "DG0104",
    name: "autoscaling-range",
    what: "For an enabled service with `autoscaling` enabled: `min_replicas` is at least 1 and at \
           most `max_replicas`, and `replicas` (the starting count) lies between them; \
           `cpu_percent` and `memory_percent` are between 1 and 100 (above 100 is a warning: the \
           pods would have to use more than they request before scaling out); `pods_metric.name` \
           is a valid metric name and `pods_metric.target_average` a positive Kubernetes quantity.",
    why: "The API server refuses an HPA with `minReplicas` 0 or above `maxReplicas`, and a target \
          of 0%. A starting count outside the range is overridden by the HPA at once, so the \
          number in the file is not what runs. An invalid metric name or target is accepted by \
          the API server but the HPA never gets a value and stops scaling.",
};

pub(super) fn check(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    for (name, s) in env.enabled_services() {
        let Some(a) = s.autoscaling.as_ref().filter(|a| a.enabled) else {
            continue;
        };
        let base = path!["services", name, "autoscaling"];
        let min_p = join(&base, &["min_replicas"]);
        let max_p = join(&base, &["max_replicas"]);
        if a.min_replicas == 0 {
            cx.error(
                RULE.code,
                &min_p,
                format!("service `{name}` autoscales down to 0 replicas"),
                "must be at least 1",
            )
            .help("set `min_replicas = 1` or more; to stop a service, set `enabled = false`");
        } else if a.min_replicas > a.max_replicas {
            let max_span = cx.span(&max_p);
            cx.error(
                RULE.code,
                &min_p,
                format!(
                    "service `{name}` autoscales from {} up to {}: the minimum is above the maximum",
                    a.min_replicas, a.max_replicas
                ),
                "minimum",
            )
            .also(max_span, "maximum")
            .help("swap them, or raise `max_replicas`");
        } else if s.replicas < a.min_replicas || s.replicas > a.max_replicas {
            cx.error(
                RULE.code,
                path!["services", name, "replicas"],
                format!(
                    "service `{name}` starts with {} replicas, outside its autoscaling range {}–{}",
                    s.replicas, a.min_replicas, a.max_replicas
                ),
                "outside the range",
            )
            .help(format!(
                "set `replicas` between {} and {}; the autoscaler would change it at once",
                a.min_replicas, a.max_replicas
            ));
        }
        for (key, value) in [
            ("cpu_percent", a.cpu_percent),
            ("memory_percent", a.memory_percent),
        ] {
            let Some(v) = value else { continue };
            let p = join(&base, &[key]);
            let resource = key.trim_end_matches("_percent");
            if v == 0 {
                cx.error(
                    RULE.code,
                    &p,
                    format!("service `{name}` targets 0% {resource} utilisation"),
                    "must be 1–100",
                )
                .help(format!(
                    "a typical target is 70–80; remove `{key}` to not scale on {resource}"
                ));
            } else if v > 100 {
                cx.warning(
                    RULE.code,
                    &p,
                    format!(
                        "service `{name}` targets {v}% {resource} utilisation: pods must use more than they request before it scales out"
                    ),
                    "above 100%",
                )
                .help("the percentage is of the requests, not the limits; a typical target is 70–80");
            }
        }
        if let Some(m) = &a.pods_metric {
            let pm = join(&base, &["pods_metric"]);
            if !is_prom_name(&m.name, true) {
                cx.error(
                    RULE.code,
                    join(&pm, &["name"]),
                    format!("`{}` is not a valid metric name", m.name),
                    "invalid metric name",
                )
                .help("metric names are letters, digits, `_` and `:`, not starting with a digit, e.g. `document_processing_queue_size`");
            }
            let tp = join(&pm, &["target_average"]);
            match Amount::parse(&m.target_average) {
                Err(e) => {
                    cx.error(
                        RULE.code,
                        &tp,
                        format!("pods metric target of service `{name}` is not a quantity: {e}"),
                        "not a quantity",
                    )
                    .help(e.help());
                }
                Ok(q) if q.is_negative() || q.is_zero() => {
                    cx.error(
                        RULE.code,
                        &tp,
                        format!("pods metric target of service `{name}` must be above 0"),
                        "not positive",
                    )
                    .help("the target is the average value per pod the autoscaler aims for, e.g. `10`");
                }
                Ok(_) => {}
            }
        }
    }
}
