//! DG0135 slo-measures: each performance target's measure fits its metric, and each SLO can be
//! computed from it and tested.

use super::{DiagnosticExt, join};
use crate::load::Seg;
use crate::model::{MetricType, PerformanceTarget, Signal};
use crate::path;
use crate::validate::{Rule, RuleContext};
use std::collections::BTreeMap;

pub static RULE: Rule = Rule {
    code: "DG0135",
    name: "slo-measures",
    what: "A performance target whose `target` is a latency (`< 30s`, `< 100ms`) alerts on a \
           `quantile`, one that is a throughput (`> 100 TPS`) on a `rate`. An `slo` belongs to a \
           latency target on a histogram: its `threshold` is the target's latency and one of the \
           histogram's `buckets` when it declares them, its `objective` is between 1 - 1/14.4 \
           and 1, and its alert names and `slo` label are not used by anything else. A metric's \
           `buckets` belong to a histogram and increase.",
    why: "An SLO counts the good events in the histogram's bucket at the threshold: a threshold \
          that is no bucket counts nothing and pages forever, one that is not the table's target \
          measures another objective. A rate has no good and bad events, so a throughput SLO \
          would be a number without meaning. Below an objective of 93.06% the fast-burn page \
          can never fire (14.4 times the budget is more than every request failing).",
};

/// What a performance target's `target` text states.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Measure {
    /// `< 30s`, `< 5min`, `< 100ms`: a latency bound in seconds.
    Latency(f64),
    /// `> 100 TPS`, `> 20/s`: a rate per second.
    Throughput,
}

/// Reads `< <number><unit>` or `> <number> TPS`; `None` for text it does not recognise.
fn measure(target: &str) -> Option<Measure> {
    let t = target.trim();
    let (op, rest) = (t.chars().next()?, t.get(1..)?.trim_start());
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let value: f64 = rest[..end].parse().ok()?;
    let unit = rest[end..].trim_start();
    let word = unit
        .split(|c: char| c.is_whitespace() || c == ',')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    match op {
        '<' => {
            let scale = match word.as_str() {
                "ms" => 1e-3,
                "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
                "min" | "mins" | "minute" | "minutes" => 60.0,
                "h" | "hour" | "hours" => 3600.0,
                _ => return None,
            };
            Some(Measure::Latency(value * scale))
        }
        '>' if matches!(word.as_str(), "tps" | "rps" | "/s" | "ops/s" | "req/s") => {
            Some(Measure::Throughput)
        }
        _ => None,
    }
}

/// Slowest budget the page alert can still fire on: 14.4 times it is every request failing.
const MIN_OBJECTIVE: f64 = 1.0 - 1.0 / 14.4;

pub(super) fn check(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    for (name, m) in &env.metrics {
        if m.buckets.is_empty() {
            continue;
        }
        let p = path!["metrics", name, "buckets"];
        if m.kind != MetricType::Histogram {
            cx.key_error(
                RULE.code,
                &p,
                format!("metric `{name}` declares `buckets` but is not a histogram"),
                "only histograms have buckets",
            )
            .help("remove `buckets`, or set `type = \"histogram\"`");
        } else if m
            .buckets
            .windows(2)
            .any(|w| w[0].partial_cmp(&w[1]) != Some(std::cmp::Ordering::Less))
            || m.buckets.iter().any(|b| !b.is_finite() || *b <= 0.0)
        {
            cx.error(
                RULE.code,
                &p,
                format!("the buckets of `{name}` are not positive and increasing"),
                "not increasing",
            )
            .help("list the bucket boundaries (`le`) from the smallest up, e.g. `[0.1, 0.5, 1, 5]`; `+Inf` is implied");
        }
    }
    // The names every alert already uses, and the SLO labels seen so far.
    let mut alert_names: BTreeMap<String, Vec<Seg>> = env
        .alerts
        .keys()
        .map(|n| (n.clone(), path!["alerts", n]))
        .collect();
    for (i, t) in env.performance_targets.iter().enumerate() {
        alert_names.insert(
            t.alert_name.clone(),
            path!["performance_targets", i, "alert_name"],
        );
    }
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    for (i, t) in env.performance_targets.iter().enumerate() {
        let base = path!["performance_targets", i];
        let what = format!("performance target `{} {}`", t.component, t.measure);
        let stated = measure(&t.target);
        check_measure(cx, &base, t, stated, &what);
        if t.slo.is_some() {
            check_slo(cx, &base, t, stated, &what);
            let id = t.slo_id();
            if let Some(first) = ids.insert(id.clone(), i) {
                let other = cx.span(path!["performance_targets", first, "slo"]);
                cx.error(
                    RULE.code,
                    join(&base, &["slo"]),
                    format!("{what} has the same SLO name `{id}` as another row"),
                    "second SLO of this name",
                )
                .also(other, "first here")
                .help("the SLO name comes from `component` and `measure`: make them differ");
            }
            for name in t.slo_alert_names() {
                if let Some(p) = alert_names.get(&name) {
                    let other = cx.span(p);
                    cx.error(
                        RULE.code,
                        join(&base, &["slo"]),
                        format!("{what}'s SLO alert `{name}` has the name of another alert"),
                        "alert name taken",
                    )
                    .also(other, "declared here")
                    .help("rename the other alert: SLO alerts are named after `component` and `measure`");
                }
            }
        }
    }
}

/// The alert's signal is the one the target's text states.
fn check_measure(
    cx: &mut RuleContext<'_>,
    base: &[Seg],
    t: &PerformanceTarget,
    stated: Option<Measure>,
    what: &str,
) {
    let (needs, kind) = match (stated, t.alert.signal) {
        (Some(Measure::Latency(_)), Signal::Quantile { .. })
        | (Some(Measure::Throughput), Signal::Rate)
        | (None, _) => return,
        (Some(Measure::Latency(_)), _) => ("a `quantile` of a histogram", "quantile"),
        (Some(Measure::Throughput), _) => ("a `rate` of a counter", "rate"),
    };
    cx.error(
        RULE.code,
        join(base, &["alert", "signal", "kind"]),
        format!("{what} states `{}`, which takes {needs}", t.target),
        format!("use `{kind}`"),
    )
    .help(format!(
        "alert on `signal = {{ kind = \"{kind}\" }}` of a {} metric",
        if kind == "rate" {
            "counter"
        } else {
            "histogram"
        }
    ));
}

fn check_slo(
    cx: &mut RuleContext<'_>,
    base: &[Seg],
    t: &PerformanceTarget,
    stated: Option<Measure>,
    what: &str,
) {
    let Some(slo) = &t.slo else { return };
    let env = cx.env;
    let sp = join(base, &["slo"]);
    let metric = env.metrics.get(&t.alert.metric);
    let histogram = matches!(t.alert.signal, Signal::Quantile { .. })
        && metric.is_some_and(|m| m.kind == MetricType::Histogram);
    if !histogram {
        let why = if stated == Some(Measure::Throughput) || matches!(t.alert.signal, Signal::Rate) {
            "a throughput has no good and bad events to count"
        } else {
            "an SLO counts good events in a latency histogram's buckets"
        };
        cx.error(
            RULE.code,
            &sp,
            format!(
                "{what} has an `slo` but watches `{}` with no latency histogram: {why}",
                t.alert.metric
            ),
            "no histogram to count",
        )
        .help("remove `slo` (the row's alert stays), or give the row a `quantile` alert on a histogram metric");
        return;
    }
    if !(slo.objective > MIN_OBJECTIVE && slo.objective < 1.0) {
        cx.error(
            RULE.code,
            join(base, &["slo", "objective"]),
            format!(
                "{what} has objective {}, outside ({MIN_OBJECTIVE:.4}, 1)",
                slo.objective
            ),
            "not an objective the burn-rate alerts can watch",
        )
        .help("write the objective as a fraction of good events, e.g. 0.99 or 0.999; below 0.9306 the fast-burn page can never fire");
    }
    let tp = join(base, &["slo", "threshold"]);
    if !(slo.threshold.is_finite() && slo.threshold > 0.0) {
        cx.error(
            RULE.code,
            &tp,
            format!("{what} has SLO threshold {}", slo.threshold),
            "not a latency",
        )
        .help("the threshold is the latency a good event stays within, in seconds, e.g. 0.2");
        return;
    }
    if let Some(Measure::Latency(seconds)) = stated
        && (seconds - slo.threshold).abs() > 1e-9 * seconds.max(1.0)
    {
        cx.error(
            RULE.code,
            &tp,
            format!(
                "{what}'s SLO threshold {}s is not its target `{}` ({seconds}s)",
                slo.threshold, t.target
            ),
            "differs from the target",
        )
        .help(format!("did you mean `threshold = {seconds}`?"));
    }
    if let Some(m) = metric
        && !m.buckets.is_empty()
        && !m.buckets.contains(&slo.threshold)
    {
        let nearest = m.buckets.iter().copied().min_by(|a, b| {
            (a - slo.threshold)
                .abs()
                .total_cmp(&(b - slo.threshold).abs())
        });
        let d = cx.error(
            RULE.code,
            &tp,
            format!(
                "{what}'s SLO threshold {} is no bucket of `{}`",
                slo.threshold, t.alert.metric
            ),
            "no such bucket",
        );
        let help = match nearest {
            Some(n) => format!(
                "did you mean `{n}`? The good events are the count of the bucket at the threshold; \
                 or add {} to the histogram's buckets (and to the code that exposes it)",
                slo.threshold
            ),
            None => "add the threshold to the histogram's buckets".to_owned(),
        };
        d.help(help);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_text_states_a_latency_or_a_throughput() {
        assert_eq!(measure("< 30s per PDF"), Some(Measure::Latency(30.0)));
        assert_eq!(measure("< 5min per request"), Some(Measure::Latency(300.0)));
        assert_eq!(measure("< 100ms"), Some(Measure::Latency(0.1)));
        assert_eq!(measure("> 100 TPS"), Some(Measure::Throughput));
        assert_eq!(measure("99.9% uptime"), None);
        assert_eq!(measure("<"), None);
    }
}
