//! The service-level objectives of the performance targets (`[[performance_targets]] slo`), as
//! the Google SRE workbook's multi-window, multi-burn-rate method defines them: the error ratio of
//! each row's latency histogram recorded over seven windows, a page alert on a fast burn of the
//! error budget and a ticket alert on a slow one. The rules file (`prometheus/`) and the
//! dashboards (`grafana/`) both name the recorded series from here, so they cannot drift apart.

use super::promql;
use crate::model::{Environment, PerformanceTarget, Slo};
use crate::targets::TargetError;
use std::collections::BTreeMap;

/// The windows the error ratio is recorded over: every window a burn-rate condition reads.
pub const WINDOWS: [&str; 7] = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"];

/// One burn-rate condition: the error ratio over both windows is above `factor` times the budget.
#[derive(Debug, Clone, Copy)]
pub struct Burn {
    pub long: &'static str,
    pub short: &'static str,
    /// How many times faster than the period's even spend the budget burns.
    pub factor: f64,
}

/// The page alert: 2% of a 30-day budget in an hour, or 5% in six hours.
pub const PAGE: [Burn; 2] = [
    Burn {
        long: "1h",
        short: "5m",
        factor: 14.4,
    },
    Burn {
        long: "6h",
        short: "30m",
        factor: 6.0,
    },
];

/// The ticket alert: 10% of the budget in a day, or 10% in three days.
pub const TICKET: [Burn; 2] = [
    Burn {
        long: "1d",
        short: "2h",
        factor: 3.0,
    },
    Burn {
        long: "3d",
        short: "6h",
        factor: 1.0,
    },
];

/// How long each alert's condition must hold: the page alert quickly, the ticket alert long
/// enough that a burst the page alert already reports does not open a ticket as well.
pub const PAGE_FOR: &str = "2m";
pub const TICKET_FOR: &str = "15m";

/// The largest burn factor: an objective whose budget times it reaches 1 can never page.
pub const MAX_FACTOR: f64 = 14.4;

/// A performance target's SLO with the names everything generated from it uses.
pub struct SloDef<'a> {
    /// `doc-ingester-processing-latency`: the `slo` label of its series and alerts.
    pub id: String,
    /// The page (fast burn) alert's name.
    pub page_alert: String,
    /// The ticket (slow burn) alert's name.
    pub ticket_alert: String,
    pub target: &'a PerformanceTarget,
    pub slo: &'a Slo,
}

impl SloDef<'_> {
    /// The recorded error ratio over `window` of this SLO, e.g.
    /// `slo:sli_error:ratio_rate5m{slo="doc-ingester-processing-latency"}`.
    ///
    /// # Errors
    /// None in practice: the record name and label are fixed syntax.
    pub fn recorded(&self, window: &str) -> Result<String, TargetError> {
        promql::selector(
            &error_ratio_record(window),
            &BTreeMap::from([("slo".to_owned(), self.id.clone())]),
        )
    }

    /// The error ratio over `window` computed from the histogram: the share of observations above
    /// the threshold bucket, e.g.
    /// `1 - (sum(rate(m_bucket{le=~"30(\\.0)?"}[5m])) / sum(rate(m_count[5m])))`.
    ///
    /// # Errors
    /// A metric or selector label name Prometheus cannot parse, or a threshold that is no number.
    pub fn error_ratio(&self, window: &str) -> Result<String, TargetError> {
        let alert = &self.target.alert;
        let bucket = promql::selector(&format!("{}_bucket", alert.metric), &alert.selector)?;
        let good = with_matcher(&bucket, &le_matcher(self.slo.threshold)?);
        let total = promql::selector(&format!("{}_count", alert.metric), &alert.selector)?;
        Ok(format!(
            "1 - (sum(rate({good}[{window}])) / sum(rate({total}[{window}])))"
        ))
    }

    /// The error budget as `PromQL`, `(1 - 0.99)`, kept as the model writes the objective.
    ///
    /// # Errors
    /// An objective that is no finite number.
    pub fn budget(&self) -> Result<String, TargetError> {
        Ok(format!("(1 - {})", promql::number(self.slo.objective)?))
    }

    /// An alert expression: any of `burns` holds over both its windows.
    ///
    /// # Errors
    /// As [`Self::recorded`] and [`Self::budget`].
    pub fn burn_expr(&self, burns: &[Burn]) -> Result<String, TargetError> {
        let budget = self.budget()?;
        let mut parts = Vec::new();
        for b in burns {
            let factor = promql::number(b.factor)?;
            parts.push(format!(
                "({} > {factor} * {budget} and {} > {factor} * {budget})",
                self.recorded(b.long)?,
                self.recorded(b.short)?
            ));
        }
        Ok(parts.join(" or "))
    }
}

/// The record name of the error ratio over `window`, Sloth's and Pyrra's convention.
#[must_use]
pub fn error_ratio_record(window: &str) -> String {
    format!("slo:sli_error:ratio_rate{window}")
}

/// Every performance target that declares an SLO, in table order.
#[must_use]
pub fn slos(env: &Environment) -> Vec<SloDef<'_>> {
    env.performance_targets
        .iter()
        .filter_map(|t| {
            t.slo.as_ref().map(|slo| {
                let [page_alert, ticket_alert] = t.slo_alert_names();
                SloDef {
                    id: t.slo_id(),
                    page_alert,
                    ticket_alert,
                    target: t,
                    slo,
                }
            })
        })
        .collect()
}

/// The matcher of the threshold bucket. Prometheus 2 stores `le` as the exposition writes it
/// (`le="30"` from most client libraries) and Prometheus 3 normalizes a whole number to `30.0`,
/// so a whole threshold matches either spelling.
///
/// # Errors
/// A threshold that is no finite number.
pub fn le_matcher(threshold: f64) -> Result<String, TargetError> {
    let n = promql::number(threshold)?;
    Ok(if n.contains(['.', 'e']) {
        format!("le={}", promql::string_literal(&n))
    } else {
        format!("le=~{}", promql::string_literal(&format!("{n}(\\.0)?")))
    })
}

/// `selector` with one more matcher inside its braces.
fn with_matcher(selector: &str, matcher: &str) -> String {
    match selector.strip_suffix('}') {
        Some(open) => format!("{open},{matcher}}}"),
        None => format!("{selector}{{{matcher}}}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_threshold_matches_both_spellings_of_its_bucket() {
        assert_eq!(le_matcher(30.0).unwrap(), r#"le=~"30(\\.0)?""#);
        assert_eq!(le_matcher(0.2).unwrap(), r#"le="0.2""#);
        assert_eq!(with_matcher("m", "le=\"1\""), "m{le=\"1\"}");
        assert_eq!(
            with_matcher("m{a=\"b\"}", "le=\"1\""),
            "m{a=\"b\",le=\"1\"}"
        );
    }
}
