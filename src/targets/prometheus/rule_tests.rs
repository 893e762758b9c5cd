//! `rules.test.yaml`: a `promtool test rules` file with two cases per alert, one whose synthetic
//! series sit past the threshold for longer than the alert's `for` (the alert must fire, with its
//! exact labels and annotations) and one whose series sit short of it (no alert). The series are
//! computed from the threshold, so a wrong comparison, a wrong aggregation or a query over the
//! wrong series fails the test.

use super::{NamedAlert, alert_labels, annotations, promql};
use crate::model::duration;
use crate::model::{Alert, Comparison, Environment, Signal};
use crate::targets::TargetError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Spacing of the synthetic samples: several per `rate()` window.
const STEP_MS: u64 = 30_000;
/// Observations (or counter increments) added per step to the histogram buckets that receive them.
const OBSERVATIONS_PER_STEP: f64 = 10.0;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TestFile {
    pub rule_files: Vec<String>,
    pub evaluation_interval: String,
    pub tests: Vec<TestGroup>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TestGroup {
    pub name: String,
    pub interval: String,
    pub input_series: Vec<InputSeries>,
    pub alert_rule_test: Vec<AlertTest>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InputSeries {
    pub series: String,
    pub values: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AlertTest {
    pub eval_time: String,
    pub alertname: String,
    pub exp_alerts: Vec<ExpAlert>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ExpAlert {
    pub exp_labels: BTreeMap<String, String>,
    pub exp_annotations: BTreeMap<String, String>,
}

/// The test file for `alerts`, reading the rules from `rules_file` (relative to the test file).
///
/// # Errors
/// An alert whose threshold no series can cross (e.g. a rate below a negative number) or a
/// malformed duration.
pub(super) fn test_file(
    env: &Environment,
    alerts: &[NamedAlert<'_>],
    rules_file: &str,
) -> Result<TestFile, TargetError> {
    let eval_ms = duration::parse_ms(&env.monitoring.evaluation_interval)?.max(1);
    let mut tests = Vec::new();
    for a in alerts {
        let for_ms = duration::parse_ms(&a.alert.for_)?;
        let window_ms = duration::parse_ms(promql::RATE_WINDOW)?;
        // The expression becomes true once a rate window has filled; then it must hold for `for`,
        // and two evaluations of slack cover the alignment of evaluation steps.
        let eval_time = (window_ms + for_ms + 2 * eval_ms).div_ceil(eval_ms) * eval_ms;
        // Series run past the evaluation time so none is stale when it is checked.
        let samples = (eval_time + window_ms) / STEP_MS;
        let threshold = promql::number(a.alert.threshold)?;
        let (fire_side, quiet_side) = match a.alert.when {
            Comparison::Above => ("above", "at or below"),
            Comparison::Below => ("below", "at or above"),
        };

        // `up` is not aggregated: the alert keeps the labels of its series, under the rule's own.
        let mut labels = match a.alert.signal {
            Signal::Up => a.alert.selector.clone(),
            _ => BTreeMap::new(),
        };
        labels.extend(alert_labels(env, a.alert));
        let fired = ExpAlert {
            exp_labels: labels,
            exp_annotations: annotations(env, a)?,
        };
        for fire in [true, false] {
            tests.push(TestGroup {
                name: if fire {
                    format!("{} fires {fire_side} {threshold}", a.name)
                } else {
                    format!("{} stays silent {quiet_side} {threshold}", a.name)
                },
                interval: duration::format_ms(STEP_MS),
                input_series: input_series(a.alert, fire, samples)?,
                alert_rule_test: vec![AlertTest {
                    eval_time: duration::format_ms(eval_time),
                    alertname: a.name.to_owned(),
                    exp_alerts: if fire {
                        vec![ExpAlert {
                            exp_labels: fired.exp_labels.clone(),
                            exp_annotations: fired.exp_annotations.clone(),
                        }]
                    } else {
                        Vec::new()
                    },
                }],
            });
        }
    }
    Ok(TestFile {
        rule_files: vec![rules_file.to_owned()],
        evaluation_interval: env.monitoring.evaluation_interval.clone(),
        tests,
    })
}

/// Series whose signal is past the threshold on the firing side (`fire`) or short of it.
fn input_series(alert: &Alert, fire: bool, samples: u64) -> Result<Vec<InputSeries>, TargetError> {
    let t = alert.threshold;
    // Whether the signal must come out above the threshold.
    let high = (alert.when == Comparison::Above) == fire;
    let impossible = |what: &str| {
        TargetError(format!(
            "no series can make {what} {} {t}, so the alert cannot be tested",
            if high { "exceed" } else { "fall below" }
        ))
    };
    let constant = |v: f64| -> Result<String, TargetError> {
        Ok(format!("{}+0x{samples}", promql::number(v)?))
    };
    let counter = |per_step: f64| -> Result<String, TargetError> {
        Ok(format!("0+{}x{samples}", promql::number(per_step)?))
    };
    let step_s = duration_secs(STEP_MS);
    match alert.signal {
        Signal::Quantile { .. } => {
            if t <= 0.0 {
                return Err(impossible("a latency quantile"));
            }
            // All observations land in (2T, 4T] (every quantile ≥ 2T) or in (0, T/2] (every
            // quantile ≤ T/2): far enough from T that the interpolation inside the bucket cannot
            // bring it back across.
            let bounds = [t / 2.0, 2.0 * t, 4.0 * t];
            let mut out = Vec::new();
            for (i, bound) in bounds.iter().enumerate() {
                let le = promql::number(*bound)?;
                let receives = !high || i == 2;
                out.push(bucket(alert, &le, &counter(per_step(receives))?)?);
            }
            out.push(bucket(alert, "+Inf", &counter(OBSERVATIONS_PER_STEP)?)?);
            Ok(out)
        }
        Signal::Value | Signal::Up => {
            // Scrape health is 0 or 1 whenever that lands on the needed side (`up < 1` is silent
            // at exactly 1); other gauges sit well past the threshold.
            let up = if high { 1.0 } else { 0.0 };
            let needed = match (alert.when, fire) {
                (Comparison::Above, true) => up > t,
                (Comparison::Above, false) => up <= t,
                (Comparison::Below, true) => up < t,
                (Comparison::Below, false) => up >= t,
            };
            let v = if matches!(alert.signal, Signal::Up) && needed {
                up
            } else {
                beyond(t, high)
            };
            Ok(vec![InputSeries {
                series: promql::selector(&alert.metric, &alert.selector)?,
                values: constant(v)?,
            }])
        }
        Signal::Rate => {
            // Twice or half the threshold per second. Counters never fall: a rate can sit at zero
            // (silent for `> 0`) but never below it.
            let per_second = match (high, t > 0.0) {
                (true, true) => 2.0 * t,
                (true, false) => 1.0,
                (false, true) => t / 2.0,
                (false, false) if !fire && t == 0.0 => 0.0,
                (false, false) => return Err(impossible("a rate")),
            };
            Ok(vec![InputSeries {
                series: promql::selector(&alert.metric, &alert.selector)?,
                values: counter(per_second * step_s)?,
            }])
        }
    }
}

/// A value clearly above (`high`) or below the threshold: twice or half of it, which is exact in
/// binary floating point and so prints as short as the threshold itself.
fn beyond(t: f64, high: bool) -> f64 {
    match (high, t.partial_cmp(&0.0)) {
        (true, Some(std::cmp::Ordering::Greater)) | (false, Some(std::cmp::Ordering::Less)) => {
            2.0 * t
        }
        (false, Some(std::cmp::Ordering::Greater)) | (true, Some(std::cmp::Ordering::Less)) => {
            t / 2.0
        }
        (true, _) => 1.0,
        (false, _) => -1.0,
    }
}

fn per_step(receives: bool) -> f64 {
    if receives { OBSERVATIONS_PER_STEP } else { 0.0 }
}

fn bucket(alert: &Alert, le: &str, values: &str) -> Result<InputSeries, TargetError> {
    let mut labels = alert.selector.clone();
    labels.insert("le".to_owned(), le.to_owned());
    Ok(InputSeries {
        series: promql::selector(&format!("{}_bucket", alert.metric), &labels)?,
        values: values.to_owned(),
    })
}

#[allow(clippy::cast_precision_loss)] // a step of a few seconds is exact in f64
fn duration_secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}
