//! Five-field cron schedules as a Kubernetes CronJob accepts them (the standard parser of the cron
//! library the controller uses): `minute hour day-of-month month day-of-week`, with `*`, `?`,
//! lists, ranges, steps, month and weekday names, and the `@daily`-style macros.
//!
//! Day of week is 0–6 (Sunday = 0); `7` is refused by Kubernetes even though some crons accept it.
//! [`Schedule`] is the model's value: a schedule that passed [`check`], kept as written.

use serde::{Serialize, Serializer};
use std::fmt;
use std::fmt::Write as _;

/// A cron schedule a Kubernetes CronJob accepts, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule(String);

impl Schedule {
    /// Parses a schedule.
    ///
    /// # Errors
    /// The first problem found, with a fix.
    pub fn parse(text: &str) -> Result<Self, CronError> {
        check(text)?;
        Ok(Self(text.to_owned()))
    }

    /// The schedule as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Schedule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

parsed_from_string!(Schedule);

/// Why a schedule is refused; `Display` is the message, `help` the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronError {
    pub message: String,
    pub help: String,
}

impl fmt::Display for CronError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

const FORMAT_HELP: &str = "a schedule has five fields, `minute hour day-of-month month day-of-week`, e.g. `0 2 * * *` (daily at 02:00) or `30 1 * * MON-FRI`";

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    Field {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &[
            "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
        ],
    },
    Field {
        name: "day-of-week",
        min: 0,
        max: 6,
        names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
    },
];

const MACROS: [&str; 7] = [
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

fn err(message: impl Into<String>, help: impl Into<String>) -> CronError {
    CronError {
        message: message.into(),
        help: help.into(),
    }
}

/// Checks a schedule.
///
/// # Errors
/// The first problem found, with a fix.
pub(super) fn check(schedule: &str) -> Result<(), CronError> {
    let s = schedule.trim();
    if s.is_empty() {
        return Err(err("the schedule is empty", FORMAT_HELP));
    }
    if s.starts_with("TZ=") || s.starts_with("CRON_TZ=") {
        return Err(err(
            "Kubernetes refuses a time zone inside the schedule",
            "remove the `TZ=` prefix; CronJobs run in the controller's time zone (UTC on most clusters)",
        ));
    }
    if let Some(m) = s.strip_prefix('@') {
        let m = format!("@{}", m.to_ascii_lowercase());
        if MACROS.contains(&m.as_str()) {
            return Ok(());
        }
        return Err(err(
            format!("`{s}` is not a schedule macro"),
            format!(
                "use one of {} or five fields, e.g. `0 2 * * *`",
                MACROS.join(", ")
            ),
        ));
    }
    let parts: Vec<&str> = s.split_whitespace().collect();
    if parts.len() != 5 {
        let extra = if parts.len() == 6 {
            " (a seconds field is not supported)"
        } else {
            ""
        };
        return Err(err(
            format!("the schedule has {} fields, not 5{extra}", parts.len()),
            FORMAT_HELP,
        ));
    }
    for (part, field) in parts.iter().zip(FIELDS.iter()) {
        check_field(part, field)?;
    }
    Ok(())
}

fn check_field(part: &str, f: &Field) -> Result<(), CronError> {
    for item in part.split(',') {
        check_item(item, f)?;
    }
    Ok(())
}

fn bounds_help(f: &Field) -> String {
    let mut h = format!("the {} field takes {}–{}", f.name, f.min, f.max);
    if let (Some(first), Some(last)) = (f.names.first(), f.names.last()) {
        let _ = write!(h, " or {first}–{last}");
    }
    if f.name == "day-of-week" {
        h.push_str(" (Sunday is 0)");
    }
    h
}

fn check_item(item: &str, f: &Field) -> Result<(), CronError> {
    if item.is_empty() {
        return Err(err(
            format!("the {} field has an empty list item", f.name),
            "remove the extra comma",
        ));
    }
    let (range, step) = match item.split_once('/') {
        Some((r, s)) => (r, Some(s)),
        None => (item, None),
    };
    if let Some(step) = step {
        let n: u32 = step.parse().map_err(|_| {
            err(
                format!("the {} field has step `{step}`, not a number", f.name),
                "a step is a positive number, e.g. `*/15`",
            )
        })?;
        if n == 0 {
            return Err(err(
                format!("the {} field has a step of 0", f.name),
                "a step is a positive number, e.g. `*/15`",
            ));
        }
        if n > f.max - f.min + 1 {
            return Err(err(
                format!(
                    "the {} field has step {n}, larger than the field's range",
                    f.name
                ),
                bounds_help(f),
            ));
        }
    }
    if range == "*" || range == "?" {
        return Ok(());
    }
    let (lo, hi) = match range.split_once('-') {
        Some((a, b)) => (value(a, f)?, Some(value(b, f)?)),
        None => (value(range, f)?, None),
    };
    if let Some(hi) = hi
        && lo > hi
    {
        return Err(err(
            format!("the {} range `{range}` runs backwards", f.name),
            format!("write the smaller value first; {}", bounds_help(f)),
        ));
    }
    Ok(())
}

fn value(v: &str, f: &Field) -> Result<u32, CronError> {
    if v.is_empty() {
        return Err(err(
            format!("the {} field is missing a value", f.name),
            bounds_help(f),
        ));
    }
    let n = if let Ok(n) = v.parse::<u32>() {
        n
    } else if let Some(i) = f.names.iter().position(|n| n.eq_ignore_ascii_case(v)) {
        // A name's position is its value's offset from the field's minimum.
        f.min + u32::try_from(i).unwrap_or(0)
    } else {
        return Err(err(
            format!("`{v}` is not a valid {} value", f.name),
            bounds_help(f),
        ));
    };
    if n < f.min || n > f.max {
        let help = if f.name == "day-of-week" && n == 7 {
            "write 0 (or SUN) for Sunday: Kubernetes refuses 7".to_owned()
        } else {
            bounds_help(f)
        };
        return Err(err(
            format!("{} {n} is out of range {}–{}", f.name, f.min, f.max),
            help,
        ));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted() {
        for s in [
            "0 2 * * *",
            "30 2 * * *",
            "*/15 * * * *",
            "0 0-23/2 * * *",
            "0 9-17 * * MON-FRI",
            "0 9 * * mon,wed,fri",
            "0 0 1 JAN,jul *",
            "0 0 1-31/7 * *",
            "59 23 31 12 6",
            "0 0 ? * SUN",
            "5/10 * * * *",
            "0 0 * * 0",
            "@daily",
            "@hourly",
            "@Weekly",
            "@midnight",
            "@yearly",
            "@annually",
            "@monthly",
            "  0 2 * * *  ",
            "0\t2 * * *",
        ] {
            assert_eq!(check(s), Ok(()), "{s:?}");
        }
    }

    #[test]
    fn refused_with_the_field_named() {
        for (s, words) in [
            ("", "empty"),
            ("0 2 * *", "4 fields"),
            ("0 0 2 * * *", "seconds"),
            ("60 * * * *", "minute 60 is out of range 0–59"),
            ("0 24 * * *", "hour 24"),
            ("0 0 0 * *", "day-of-month 0"),
            ("0 0 32 * *", "day-of-month 32"),
            ("0 0 1 13 *", "month 13"),
            ("0 0 * * 7", "day-of-week 7"),
            ("0 0 * * 8", "day-of-week 8"),
            ("*/0 * * * *", "step of 0"),
            ("*/x * * * *", "step `x`"),
            ("*/61 * * * *", "larger than"),
            ("0 5-3 * * *", "runs backwards"),
            ("0 0 * * FRI-MON", "runs backwards"),
            ("0 0 * FOO *", "`FOO` is not a valid month"),
            ("0 0 * * MONDAY", "`MONDAY`"),
            ("0 0 JAN * *", "`JAN` is not a valid day-of-month"),
            ("1,,2 * * * *", "empty list item"),
            ("@every 1h", "not a schedule macro"),
            ("@reboot", "not a schedule macro"),
            ("TZ=UTC 0 2 * * *", "time zone"),
            ("CRON_TZ=Europe/Paris 0 2 * * *", "time zone"),
            ("a b c d e", "`a` is not a valid minute"),
            ("-1 * * * *", "minute field is missing a value"),
        ] {
            match check(s) {
                Ok(()) => panic!("{s:?} accepted"),
                Err(e) => assert!(e.message.contains(words), "{s:?}: {}", e.message),
            }
        }
    }

    #[test]
    fn sunday_seven_gets_a_specific_fix() {
        let e = check("0 3 * * 7").expect_err("refused");
        assert!(e.help.contains("0 (or SUN)"), "{}", e.help);
        let e = check("0 3 * * 9").expect_err("refused");
        assert!(e.help.contains("0–6 or SUN–SAT"), "{}", e.help);
    }
}
