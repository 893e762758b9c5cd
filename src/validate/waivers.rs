//! `[[waivers]]`: a rule's or a proof's diagnostic accepted on one key, with a reason. A waived
//! diagnostic stays visible (as a note naming the reason) but no longer fails or warns. A waiver
//! must keep earning its place: one whose diagnostic does not fire on its key any more, one that
//! names a code that cannot be waived, a key that is not written, or a malformed date is an error,
//! and an expired one stops waiving, with a warning (DG0131).
//!
//! Rules' diagnostics are waived when the rules have run, proofs' after the proof; each waiver is
//! judged in the phase its code belongs to.

use crate::codes::{self, Phase};
use crate::diagnostic::{Diagnostic, Severity};
use crate::load::{Entry, Seg};
use crate::model::{DiagnosticWaiver, Environment};
use crate::path;
use crate::validate::Report;
use crate::validate::rules::DiagnosticExt;
use std::time::{SystemTime, UNIX_EPOCH};

/// The code of every problem with a waiver itself.
pub const CODE: &str = "DG0131";

/// Waives the diagnostics in `out` that `env`'s waivers of codes of `phase` name, and reports
/// the waivers of that phase that are stale, expired or malformed. Waivers of codes that cannot be
/// waived are reported in the rules' phase.
pub fn apply<'a>(
    env: &Environment,
    tree: impl Into<super::Tree<'a>>,
    out: &mut Vec<Diagnostic>,
    phase: Phase,
) {
    let today = today();
    let mut report = Report::new(tree);
    for (i, w) in env.waivers.iter().enumerate() {
        let at = |field: &str| path!["waivers", i, field];
        let code = codes::find(&w.code);
        let waivable = code
            .as_ref()
            .is_some_and(|c| matches!(c.phase, Phase::Rule | Phase::Proof) && c.code != CODE);
        if !waivable {
            if phase == Phase::Rule {
                let what = match &code {
                    None => format!("`{}` is no diagnostic code", w.code),
                    Some(c) => format!(
                        "{} cannot be waived: the environment cannot be compiled until it is fixed",
                        c.code
                    ),
                };
                report.error(CODE, at("code"), what, "not waivable").help(
                    "waivers accept a rule's or a proof's code (`deaap-gen explain` lists them)",
                );
            }
            continue;
        }
        let Some(code) = code.filter(|c| c.phase == phase) else {
            continue;
        };
        let key = parse_key(&w.key);
        let (entry, written) = report.tree().lookup(&key);
        if !written || w.key.is_empty() {
            report
                .error(
                    CODE,
                    at("key"),
                    format!("the waiver's key `{}` is not written in this environment", w.key),
                    "no such key",
                )
                .help("name the key the diagnostic points at, as a dotted path, e.g. `services.doc-ingester.autoscaling.memory_percent`");
            continue;
        }
        match w.expires.as_deref().map(parse_date) {
            Some(None) => {
                report
                    .error(
                        CODE,
                        at("expires"),
                        "`expires` is not a date written `YYYY-MM-DD`",
                        "not a date",
                    )
                    .help("e.g. `expires = \"2027-06-30\"`");
                continue;
            }
            Some(Some(day)) if day < today => {
                report
                    .warning(
                        CODE,
                        at("expires"),
                        format!(
                            "the waiver of {} on `{}` expired on {}: the diagnostic is reported again",
                            code.code,
                            w.key,
                            w.expires.as_deref().unwrap_or_default()
                        ),
                        "expired",
                    )
                    .help("fix what it reports, or renew the waiver with a new date and reason");
                continue;
            }
            _ => {}
        }
        let mut waived = 0;
        for d in out.iter_mut() {
            if d.code == code.code && d.severity != Severity::Note && on(d, entry) {
                waive(d, w);
                waived += 1;
            }
        }
        if waived == 0 {
            report
                .error(
                    CODE,
                    at("code"),
                    format!(
                        "stale waiver: {} is not reported on `{}` any more",
                        code.code, w.key
                    ),
                    "waives nothing",
                )
                .help("remove the waiver: what it accepted is gone");
        }
    }
    out.extend(report.into_diagnostics());
}

/// Whether `d` points at the key or into its value.
fn on(d: &Diagnostic, entry: &Entry) -> bool {
    d.labels.first().is_some_and(|l| {
        let (value, key) = (&entry.span, entry.anchor());
        l.span.file == value.file
            && ((l.span.range.start >= value.range.start && l.span.range.end <= value.range.end)
                || l.span == *key)
    })
}

fn waive(d: &mut Diagnostic, w: &DiagnosticWaiver) {
    d.severity = Severity::Note;
    let until = w
        .expires
        .as_deref()
        .map_or_else(String::new, |day| format!(", until {day}"));
    d.message = format!("waived: {} (reason: {}{until})", d.message, w.reason);
}

/// `a.b.0.c` → keys and indices.
fn parse_key(key: &str) -> Vec<Seg> {
    key.split('.')
        .map(|s| {
            s.parse::<usize>()
                .map_or_else(|_| Seg::Key(s.to_owned()), Seg::Index)
        })
        .collect()
}

/// A `YYYY-MM-DD` date as days since 1970-01-01.
fn parse_date(s: &str) -> Option<i64> {
    let mut parts = s.splitn(3, '-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (i64, u32, u32) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month[(m - 1) as usize] {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Today (UTC) as days since 1970-01-01; `DEAAP_TODAY=YYYY-MM-DD` sets it (for tests and for
/// checking which waivers will have expired by a date).
pub fn today() -> i64 {
    if let Some(day) = std::env::var("DEAAP_TODAY")
        .ok()
        .as_deref()
        .and_then(parse_date)
    {
        return day;
    }
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    i64::try_from(secs / 86_400).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2000-03-01"), Some(11_017));
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("2026-13-01"), None);
        assert_eq!(parse_date("26-01-01"), None);
        assert_eq!(parse_date("soon"), None);
    }

    #[test]
    fn keys() {
        assert_eq!(
            parse_key("performance_targets.0.alert"),
            vec![
                Seg::Key("performance_targets".into()),
                Seg::Index(0),
                Seg::Key("alert".into())
            ]
        );
    }
}
