//! `PromQL` for a structured alert: the one place that knows how each signal kind becomes a query,
//! and how names, label values and numbers are written so that any model value yields a query
//! Prometheus parses as intended.

use crate::model::{Alert, Comparison, Signal};
use crate::targets::TargetError;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Range of the `rate()` windows. Five minutes spans several scrapes at any usual interval.
pub const RATE_WINDOW: &str = "5m";

/// The alert's expression, e.g.
/// `histogram_quantile(0.95, sum by (le) (rate(m_bucket{job="x"}[5m]))) > 300`.
///
/// # Errors
/// A metric or label name Prometheus cannot parse, or a threshold that is not a finite number.
pub fn alert_expr(alert: &Alert) -> Result<String, TargetError> {
    let op = match alert.when {
        Comparison::Above => ">",
        Comparison::Below => "<",
    };
    let threshold = number(alert.threshold)?;
    Ok(format!("{} {op} {threshold}", signal_expr(alert)?))
}

/// The alert's signal, the value its threshold is compared with, e.g.
/// `histogram_quantile(0.95, sum by (le) (rate(m_bucket{job="x"}[5m])))`; the dashboards plot it.
///
/// # Errors
/// A metric or label name Prometheus cannot parse, or a quantile that is not a finite number.
pub fn signal_expr(alert: &Alert) -> Result<String, TargetError> {
    Ok(match alert.signal {
        Signal::Quantile { quantile } => format!(
            "histogram_quantile({}, sum by (le) (rate({}[{RATE_WINDOW}])))",
            number(quantile)?,
            selector(&format!("{}_bucket", alert.metric), &alert.selector)?
        ),
        // `min` for "below" and `max` for "above": the alert fires when the worst series crosses.
        Signal::Value => format!(
            "{}({})",
            value_aggregation(alert.when),
            selector(&alert.metric, &alert.selector)?
        ),
        Signal::Rate => format!(
            "sum(rate({}[{RATE_WINDOW}]))",
            selector(&alert.metric, &alert.selector)?
        ),
        // Not aggregated: each target that is down is its own alert, with its job and instance.
        Signal::Up => selector(&alert.metric, &alert.selector)?,
    })
}

/// The aggregation a `value` alert applies across series.
#[must_use]
pub fn value_aggregation(when: Comparison) -> &'static str {
    match when {
        Comparison::Above => "max",
        Comparison::Below => "min",
    }
}

/// `metric{a="x",b="y"}`, or the bare name without matchers. Also the series notation of
/// `promtool test rules` input series, which uses the same syntax.
///
/// # Errors
/// A metric or label name outside Prometheus' name syntax.
pub fn selector(metric: &str, labels: &BTreeMap<String, String>) -> Result<String, TargetError> {
    if !is_metric_name(metric) {
        return Err(TargetError(format!(
            "`{metric}` is not a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)"
        )));
    }
    let mut out = metric.to_owned();
    if labels.is_empty() {
        return Ok(out);
    }
    out.push('{');
    for (i, (name, value)) in labels.iter().enumerate() {
        if !is_label_name(name) {
            return Err(TargetError(format!(
                "`{name}` is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)"
            )));
        }
        if i > 0 {
            out.push(',');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(&string_literal(value));
    }
    out.push('}');
    Ok(out)
}

/// A `PromQL` double-quoted string literal. `PromQL` unquotes with Go's rules, so quotes, backslashes
/// and control characters are escaped; other characters, including non-ASCII, stand as they are.
#[must_use]
pub fn string_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A number as `PromQL` (and promtool's series notation) reads it: the shortest text that parses
/// back to the same value, e.g. `300`, `0.8`, `0.005`.
///
/// # Errors
/// NaN or an infinity: no alert threshold or quantile can be one.
pub fn number(v: f64) -> Result<String, TargetError> {
    if v.is_finite() {
        Ok(format!("{v}"))
    } else {
        Err(TargetError(format!("{v} is not a usable PromQL number")))
    }
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AlertSeverity;

    fn alert(signal: Signal, metric: &str, when: Comparison, threshold: f64) -> Alert {
        Alert {
            signal,
            metric: metric.to_owned(),
            selector: BTreeMap::new(),
            when,
            threshold,
            for_: "5m".to_owned(),
            severity: AlertSeverity::Warning,
            summary: "s".to_owned(),
            description: None,
        }
    }

    #[test]
    fn each_signal_kind_compiles_to_its_query() {
        let q = alert(
            Signal::Quantile { quantile: 0.95 },
            "lat_seconds",
            Comparison::Above,
            300.0,
        );
        assert_eq!(
            alert_expr(&q).unwrap(),
            "histogram_quantile(0.95, sum by (le) (rate(lat_seconds_bucket[5m]))) > 300"
        );
        let v = alert(Signal::Value, "ok_ratio", Comparison::Below, 0.8);
        assert_eq!(alert_expr(&v).unwrap(), "min(ok_ratio) < 0.8");
        let v = alert(Signal::Value, "queue", Comparison::Above, 10.0);
        assert_eq!(alert_expr(&v).unwrap(), "max(queue) > 10");
        let r = alert(Signal::Rate, "tx_total", Comparison::Below, 50.0);
        assert_eq!(alert_expr(&r).unwrap(), "sum(rate(tx_total[5m])) < 50");
        let mut u = alert(Signal::Up, "up", Comparison::Below, 1.0);
        u.selector
            .insert("job".to_owned(), "blockchain-node".to_owned());
        assert_eq!(alert_expr(&u).unwrap(), r#"up{job="blockchain-node"} < 1"#);
    }

    #[test]
    fn label_values_are_escaped_as_string_literals() {
        let mut labels = BTreeMap::new();
        labels.insert("job".to_owned(), "a\"b\\c\nd".to_owned());
        labels.insert("bu".to_owned(), "ünïcode".to_owned());
        assert_eq!(
            selector("m", &labels).unwrap(),
            r#"m{bu="ünïcode",job="a\"b\\c\nd"}"#
        );
    }

    #[test]
    fn names_outside_prometheus_syntax_are_refused() {
        assert!(selector("bad-name", &BTreeMap::new()).is_err());
        let mut labels = BTreeMap::new();
        labels.insert("bad label".to_owned(), "x".to_owned());
        assert!(selector("ok", &labels).is_err());
        assert!(number(f64::NAN).is_err());
        assert_eq!(number(0.005).unwrap(), "0.005");
        assert_eq!(number(1e21).unwrap(), "1000000000000000000000");
    }
}
