//! The performance targets' SLOs as Prometheus rules: `slo-rules.yaml` (one group per SLO: the
//! error ratio recorded over every window, then its page and ticket burn-rate alerts), the same
//! groups as the `PrometheusRule` `deaap-slo` (`slo-prometheusrule.yaml`), a `promtool test rules`
//! file (`slo-rules.test.yaml`) and a runbook page per alert.
//!
//! The tests play three traffic histories against each SLO: a day of good traffic and then a
//! burst of errors (the page alert fires, the ticket alert stays silent), a steady burn at twice
//! the budget (the ticket alert fires, the page alert stays silent), and a steady error ratio
//! within the budget (both silent). The series are computed from the objective, so a wrong
//! window, factor, bucket or comparison fails a test.

use super::rule_tests::{AlertTest, ExpAlert, InputSeries, TestFile, TestGroup};
use super::{AlertRule, PROMETHEUS_RULE, template_literal};
use crate::model::{AlertSeverity, Environment, NamespaceKey, SLO_PERIOD, duration};
use crate::render;
use crate::targets::kit::slo::{self, Burn, PAGE, PAGE_FOR, SloDef, TICKET, TICKET_FOR};
use crate::targets::kit::{self, Object, promql};
use crate::targets::{Artifact, Context, TargetError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The plain rules file, its test file and the `PrometheusRule`.
pub(super) const RULES: &str = "prometheus/slo-rules.yaml";
const TESTS: &str = "prometheus/slo-rules.test.yaml";
const OBJECT: &str = "prometheus/slo-prometheusrule.yaml";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SloRuleFile {
    pub groups: Vec<SloGroup>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SloGroup {
    pub name: String,
    pub interval: String,
    pub rules: Vec<SloRule>,
}

/// A recording or an alerting rule (Prometheus tells them apart by `record` or `alert`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub(super) enum SloRule {
    Record(RecordingRule),
    Alert(AlertRule),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RecordingRule {
    pub record: String,
    pub expr: String,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
struct Spec {
    groups: Vec<SloGroup>,
}

/// Every SLO artifact; nothing when no performance target declares an SLO.
pub(super) fn artifacts(
    cx: &Context<'_>,
    target: &'static str,
) -> Result<Vec<Artifact>, TargetError> {
    let env = cx.env;
    let defs = slo::slos(env);
    if defs.is_empty() {
        return Ok(Vec::new());
    }
    let file = rule_file(env, &defs)?;
    let mut out = vec![
        render::yaml_artifact(cx, target, RULES, &file)?,
        render::yaml_artifact(cx, target, TESTS, &test_file(env, &defs)?)?,
    ];
    for d in &defs {
        for page in [true, false] {
            let a = SloAlert::new(d, page);
            out.push(Artifact::file(
                target,
                format!("runbooks/{}", super::runbooks::page_name(&a.name)),
                runbook(cx, d, &a)?.into_bytes(),
            ));
        }
    }
    if env.monitoring.enabled {
        out.push(kit::manifest(
            cx,
            target,
            OBJECT,
            vec![prometheus_rule(env, file.groups)?],
        ));
    }
    Ok(out)
}

/// One of an SLO's two alerts.
struct SloAlert {
    name: String,
    page: bool,
    burns: &'static [Burn; 2],
    for_: &'static str,
    severity: AlertSeverity,
}

impl SloAlert {
    fn new(d: &SloDef<'_>, page: bool) -> Self {
        if page {
            Self {
                name: d.page_alert.clone(),
                page,
                burns: &PAGE,
                for_: PAGE_FOR,
                severity: AlertSeverity::Critical,
            }
        } else {
            Self {
                name: d.ticket_alert.clone(),
                page,
                burns: &TICKET,
                for_: TICKET_FOR,
                severity: AlertSeverity::Warning,
            }
        }
    }

    /// Its `severity`, the SLO it guards and, like every generated alert, the environment's
    /// business unit, which Alertmanager routes on.
    fn labels(&self, env: &Environment, d: &SloDef<'_>) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("severity".to_owned(), self.severity.as_str().to_owned()),
            ("slo".to_owned(), d.id.clone()),
            (
                kit::alertmanager::BUSINESS_UNIT_LABEL.to_owned(),
                env.environment.business_unit.clone(),
            ),
        ])
    }

    /// The annotations as the receiver reads them (before template escaping).
    fn annotations(
        &self,
        env: &Environment,
        d: &SloDef<'_>,
    ) -> Result<BTreeMap<String, String>, TargetError> {
        let what = format!("{} {}", d.target.component, d.target.measure);
        let mut out = BTreeMap::new();
        out.insert(
            "summary".to_owned(),
            if self.page {
                format!("{what} is burning its error budget fast")
            } else {
                format!("{what} is burning its error budget")
            },
        );
        out.insert(
            "description".to_owned(),
            format!(
                "Observations of {} slower than {}s (the target {}) are spending the error \
                 budget of the {} objective {}: at this rate the {SLO_PERIOD} budget runs out {}.",
                d.target.alert.metric,
                promql::number(d.slo.threshold)?,
                d.target.target,
                percent(d.slo.objective)?,
                if self.page { "fast" } else { "steadily" },
                if self.page {
                    "within days"
                } else {
                    "before the period ends"
                }
            ),
        );
        if let Some(url) = super::runbook_url(env, &self.name) {
            out.insert("runbook_url".to_owned(), url);
        }
        Ok(out)
    }
}

/// `0.99` as `99%`, `0.995` as `99.5%`.
fn percent(v: f64) -> Result<String, TargetError> {
    Ok(format!("{}%", promql::number((v * 1e6).round() / 1e4)?))
}

fn rule_file(env: &Environment, defs: &[SloDef<'_>]) -> Result<SloRuleFile, TargetError> {
    let mut groups = Vec::new();
    for d in defs {
        let mut rules = Vec::new();
        for w in slo::WINDOWS {
            rules.push(SloRule::Record(RecordingRule {
                record: slo::error_ratio_record(w),
                expr: d.error_ratio(w)?,
                labels: BTreeMap::from([("slo".to_owned(), d.id.clone())]),
            }));
        }
        for page in [true, false] {
            let a = SloAlert::new(d, page);
            rules.push(SloRule::Alert(AlertRule {
                alert: a.name.clone(),
                expr: d.burn_expr(a.burns)?,
                for_: a.for_.to_owned(),
                labels: a.labels(env, d),
                annotations: a
                    .annotations(env, d)?
                    .into_iter()
                    .map(|(k, v)| (k, template_literal(&v)))
                    .collect(),
            }));
        }
        groups.push(SloGroup {
            name: format!("deaap.slo.{}", d.id),
            interval: env.monitoring.evaluation_interval.clone(),
            rules,
        });
    }
    Ok(SloRuleFile { groups })
}

fn prometheus_rule(env: &Environment, groups: Vec<SloGroup>) -> Result<Object, TargetError> {
    let mut meta = kit::addon_meta(env, "deaap-slo", env.namespace(NamespaceKey::Monitoring));
    if let Some(labels) = meta.labels.as_mut() {
        labels.extend(env.monitoring.rule_labels.clone());
    }
    PROMETHEUS_RULE.object(meta, Spec { groups })
}

/// Observations per minute of the synthetic traffic.
const PER_MINUTE: f64 = 1000.0;
/// Good traffic before the burst: a day, so the ticket alert's day and three-day windows see the
/// burst as the small part of the budget it is.
const HISTORY_MIN: u64 = 24 * 60;

/// How often the tests evaluate the rules: coarser than Prometheus does, which keeps a day of
/// history quick to replay and changes no outcome (every window and `for` spans several steps).
const TEST_EVAL_MIN: u64 = 5;

/// The histories every SLO is tested with, by name (in the order of [`histories`]).
const HISTORIES: [&str; 3] = [
    "a burst of errors after a good day pages, and opens no ticket",
    "a steady burn at twice the budget opens a ticket, and does not page",
    "errors within the budget stay silent",
];

/// One traffic history: minutes of history at an error ratio, then minutes at another.
struct History {
    /// (minutes, error ratio) segments, in order.
    segments: Vec<(u64, f64)>,
    page_fires: bool,
    ticket_fires: bool,
}

fn histories(budget: f64) -> Vec<History> {
    // A burst at twice the page factor (or every request failing, when that is less) long
    // enough to push the hour's ratio to 1.5 times the page threshold.
    let burst = (2.0 * slo::MAX_FACTOR * budget).min(1.0);
    let burst_min =
        ceil_minutes(1.5 * slo::MAX_FACTOR * budget * 60.0 / burst).next_multiple_of(TEST_EVAL_MIN);
    // Steady traffic long enough for the short windows to fill and the ticket's `for` to pass.
    let steady_min = 45;
    vec![
        History {
            segments: vec![(HISTORY_MIN, 0.0), (burst_min, burst)],
            page_fires: true,
            ticket_fires: false,
        },
        History {
            segments: vec![(steady_min, 2.0 * budget)],
            page_fires: false,
            ticket_fires: true,
        },
        History {
            segments: vec![(steady_min, budget / 2.0)],
            page_fires: false,
            ticket_fires: false,
        },
    ]
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // a few hundred minutes
fn ceil_minutes(v: f64) -> u64 {
    v.ceil().max(1.0) as u64
}

fn test_file(env: &Environment, defs: &[SloDef<'_>]) -> Result<TestFile, TargetError> {
    let file_name = RULES.trim_start_matches("prometheus/");
    // SLOs on different histograms share a test group (one run of the rules per history);
    // SLOs on the same histogram need groups of their own, since their series would collide.
    let mut batches: Vec<Vec<&SloDef<'_>>> = Vec::new();
    for d in defs {
        let series = |x: &SloDef<'_>| {
            (
                x.target.alert.metric.clone(),
                x.target.alert.selector.clone(),
            )
        };
        match batches
            .iter_mut()
            .find(|b| b.iter().all(|x| series(x) != series(d)))
        {
            Some(b) => b.push(d),
            None => batches.push(vec![d]),
        }
    }
    let mut tests = Vec::new();
    for (i, batch) in batches.iter().enumerate() {
        for (h, name) in HISTORIES.iter().enumerate() {
            let mut input_series = Vec::new();
            let mut alert_rule_test = Vec::new();
            for d in batch {
                let history = &histories(1.0 - d.slo.objective)[h];
                let minutes: u64 = history.segments.iter().map(|s| s.0).sum();
                input_series.extend(series(d, history)?);
                for page in [true, false] {
                    let a = SloAlert::new(d, page);
                    let fires = if page {
                        history.page_fires
                    } else {
                        history.ticket_fires
                    };
                    alert_rule_test.push(AlertTest {
                        eval_time: duration::format_ms(minutes * 60_000),
                        alertname: a.name.clone(),
                        exp_alerts: if fires {
                            vec![ExpAlert {
                                exp_labels: a.labels(env, d),
                                exp_annotations: a.annotations(env, d)?,
                            }]
                        } else {
                            Vec::new()
                        },
                    });
                }
            }
            tests.push(TestGroup {
                name: if batches.len() == 1 {
                    (*name).to_owned()
                } else {
                    format!("{name} ({})", i + 1)
                },
                interval: "1m".to_owned(),
                input_series,
                alert_rule_test,
            });
        }
    }
    Ok(TestFile {
        rule_files: vec![file_name.to_owned()],
        evaluation_interval: duration::format_ms(TEST_EVAL_MIN * 60_000),
        tests,
    })
}

/// The histogram's `_count` and threshold bucket for a history, one sample a minute.
fn series(d: &SloDef<'_>, h: &History) -> Result<Vec<InputSeries>, TargetError> {
    let alert = &d.target.alert;
    let mut total = String::new();
    let mut good = String::new();
    let (mut total_at, mut good_at) = (0.0, 0.0);
    for (i, (minutes, ratio)) in h.segments.iter().enumerate() {
        let ok = PER_MINUTE * (1.0 - ratio);
        // The first segment starts at zero with its first sample; later ones continue a minute on.
        let (start_total, start_good, steps) = if i == 0 {
            (0.0, 0.0, *minutes)
        } else {
            (total_at + PER_MINUTE, good_at + ok, minutes - 1)
        };
        // promtool's series notation: `start+step x count`, segments separated by spaces.
        for (out, start, step) in [
            (&mut total, start_total, PER_MINUTE),
            (&mut good, start_good, ok),
        ] {
            if i > 0 {
                out.push(' ');
            }
            let _ = write!(
                out,
                "{}+{}x{steps}",
                promql::number(start)?,
                promql::number(step)?
            );
        }
        #[allow(clippy::cast_precision_loss)] // a few thousand steps
        let n = steps as f64;
        total_at = start_total + PER_MINUTE * n;
        good_at = start_good + ok * n;
    }
    let mut bucket = alert.selector.clone();
    bucket.insert("le".to_owned(), promql::number(d.slo.threshold)?);
    Ok(vec![
        InputSeries {
            series: promql::selector(&format!("{}_count", alert.metric), &alert.selector)?,
            values: total,
        },
        InputSeries {
            series: promql::selector(&format!("{}_bucket", alert.metric), &bucket)?,
            values: good,
        },
    ])
}

fn runbook(cx: &Context<'_>, d: &SloDef<'_>, a: &SloAlert) -> Result<String, TargetError> {
    let env = cx.env;
    let mut s = super::runbooks::head(
        cx,
        &a.name,
        a.severity.as_str(),
        &format!("deaap.slo.{}", d.id),
        a.for_,
    );
    let ann = a.annotations(env, d)?;
    let _ = writeln!(s, "## What it means\n");
    let _ = writeln!(s, "{}\n", ann["summary"]);
    let _ = writeln!(s, "{}\n", ann["description"]);
    let _ = writeln!(
        s,
        "The objective: {} of `{}` observations within {}s over {SLO_PERIOD}, an error budget \
         of {}. The alert fires when the error ratio over both windows of a pair is above the \
         budget times the burn factor:\n",
        percent(d.slo.objective)?,
        d.target.alert.metric,
        promql::number(d.slo.threshold)?,
        percent(1.0 - d.slo.objective)?
    );
    let _ = writeln!(s, "| Long window | Short window | Burn factor |");
    let _ = writeln!(s, "|---|---|---|");
    for b in a.burns {
        let _ = writeln!(
            s,
            "| {} | {} | {} |",
            b.long,
            b.short,
            promql::number(b.factor)?
        );
    }
    let _ = writeln!(s, "\n## The query\n");
    let _ = writeln!(s, "```promql\n{}\n```\n", d.burn_expr(a.burns)?);
    let _ = writeln!(
        s,
        "Each window's error ratio is recorded from the histogram:\n"
    );
    let _ = writeln!(s, "```promql\n{}\n```\n", d.error_ratio("5m")?);
    let _ = writeln!(s, "## First steps\n");
    let _ = writeln!(
        s,
        "1. Open the `{}` alert's runbook: the latency it watches is the same histogram.",
        d.target.alert_name
    );
    let _ = writeln!(
        s,
        "1. Open the `DEAAP overview` dashboard in Grafana: this SLO's burn-rate panel shows \
         each window's error ratio against the budget."
    );
    let _ = writeln!(
        s,
        "1. {}",
        if a.page {
            "A fast burn is an incident: find what changed in the last hours (a release, a \
             dependency, load) and mitigate first."
        } else {
            "A slow burn is a trend: plan the fix (capacity, a slow dependency, a regression) \
             before the budget is spent."
        }
    );
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::testkit;

    fn files(rel: &str) -> BTreeMap<String, String> {
        testkit::generate(&super::super::Prometheus, &testkit::load(rel))
            .expect("the prometheus target succeeds")
    }

    #[test]
    fn each_latency_target_gets_recordings_over_every_window_and_two_alerts() {
        let f = files("environments/production.toml");
        let file: SloRuleFile = serde_yaml::from_str(&f[RULES]).expect("slo-rules.yaml parses");
        // Five latency rows; the throughput row has no SLO.
        assert_eq!(file.groups.len(), 5);
        let g = &file.groups[0];
        assert_eq!(g.name, "deaap.slo.doc-ingester-processing-latency");
        let records: Vec<&str> = g
            .rules
            .iter()
            .filter_map(|r| match r {
                SloRule::Record(r) => Some(r.record.as_str()),
                SloRule::Alert(_) => None,
            })
            .collect();
        assert_eq!(
            records,
            slo::WINDOWS
                .map(slo::error_ratio_record)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
        );
        let SloRule::Record(first) = &g.rules[0] else {
            panic!("recordings come first")
        };
        assert_eq!(
            first.expr,
            r#"1 - (sum(rate(deaap_document_processing_duration_seconds_bucket{le=~"30(\\.0)?"}[5m])) / sum(rate(deaap_document_processing_duration_seconds_count[5m])))"#
        );
        let alerts: Vec<&AlertRule> = g
            .rules
            .iter()
            .filter_map(|r| match r {
                SloRule::Alert(a) => Some(a),
                SloRule::Record(_) => None,
            })
            .collect();
        assert_eq!(alerts.len(), 2);
        let (page, ticket) = (alerts[0], alerts[1]);
        assert_eq!(page.alert, "DocIngesterProcessingLatencySloFastBurn");
        assert_eq!(page.labels["severity"], "critical");
        let sel = r#"{slo="doc-ingester-processing-latency"}"#;
        assert_eq!(
            page.expr,
            format!(
                "(slo:sli_error:ratio_rate1h{sel} > 14.4 * (1 - 0.99) and slo:sli_error:ratio_rate5m{sel} > 14.4 * (1 - 0.99)) or (slo:sli_error:ratio_rate6h{sel} > 6 * (1 - 0.99) and slo:sli_error:ratio_rate30m{sel} > 6 * (1 - 0.99))"
            )
        );
        assert_eq!(ticket.alert, "DocIngesterProcessingLatencySloSlowBurn");
        assert_eq!(ticket.labels["severity"], "warning");
        assert!(
            ticket
                .expr
                .contains(&format!("slo:sli_error:ratio_rate3d{sel} > 1 * (1 - 0.99)"))
        );
        // Fractional thresholds match their bucket exactly.
        assert!(f[RULES].contains(r#"deaap_api_request_duration_seconds_bucket{le="0.2"}"#));
    }

    #[test]
    fn every_slo_alert_has_a_runbook_page_and_three_test_histories() {
        let env = testkit::load("environments/production.toml");
        let f = files("environments/production.toml");
        let base = env
            .monitoring
            .runbook_base_url
            .clone()
            .expect("a runbook base");
        let tests: TestFile = serde_yaml::from_str(&f[TESTS]).expect("the test file parses");
        // SLOs on distinct histograms share one group per history.
        assert_eq!(tests.tests.len(), HISTORIES.len());
        for d in slo::slos(&env) {
            for name in [&d.page_alert, &d.ticket_alert] {
                let page = format!("runbooks/{name}.md");
                assert!(f.contains_key(&page), "no {page}");
                assert!(f[RULES].contains(&format!("runbook_url: {base}/{name}.md")));
                let cases: Vec<_> = tests
                    .tests
                    .iter()
                    .flat_map(|t| &t.alert_rule_test)
                    .filter(|a| &a.alertname == name)
                    .collect();
                assert_eq!(cases.len(), HISTORIES.len(), "{name}");
                // Exactly one history fires each alert: the burst pages, the steady burn tickets.
                assert_eq!(cases.iter().filter(|c| !c.exp_alerts.is_empty()).count(), 1);
            }
        }
        assert!(f.contains_key(OBJECT));
    }

    #[test]
    fn no_slo_no_files() {
        let f = files("tests/fixtures/minimal.toml");
        assert!(!f.keys().any(|k| k.contains("slo")), "{:?}", f.keys());
    }

    #[test]
    fn the_burst_pages_within_its_length_and_stays_under_the_ticket_windows() {
        for objective in [0.935, 0.99, 0.999, 0.9999] {
            let budget = 1.0 - objective;
            let h = &histories(budget)[0];
            let (_, history) = h.segments[0];
            let (minutes, ratio) = h.segments[1];
            #[allow(clippy::cast_precision_loss)]
            let (m, total) = (minutes as f64, (HISTORY_MIN + minutes) as f64);
            let bad = ratio * m;
            // The hour's ratio passes the page threshold with room for `for`.
            assert!(
                ratio * m.min(60.0) / 60.0 > slo::MAX_FACTOR * budget,
                "{objective}"
            );
            // The day's and three days' ratios stay under the ticket thresholds.
            assert!(bad / 1440.0 < 3.0 * budget, "{objective}");
            assert!(bad / total < budget, "{objective} {history}");
        }
    }
}
