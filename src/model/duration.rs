//! Prometheus durations (`30s`, `5m`, `1h30m`), as the model's alert `for`, evaluation intervals
//! and windows are written: parsed by one parser (the value check and the Prometheus target's
//! rule tests, which place evaluation times past an alert's `for`), and written back in the same
//! notation.

use std::fmt::Write as _;

/// Text that Prometheus would reject as a duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError(pub String);

impl std::fmt::Display for DurationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DurationError {}

/// Units Prometheus accepts, largest first, in milliseconds.
const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Parses a Prometheus duration into milliseconds. Units must appear largest first and at most
/// once each, as Prometheus requires; `0` alone is zero.
///
/// # Errors
/// Text that Prometheus would reject as a duration.
pub fn parse_ms(text: &str) -> Result<u64, DurationError> {
    let bad = || {
        DurationError(format!(
            "`{text}` is not a Prometheus duration (e.g. 30s, 5m, 1h30m)"
        ))
    };
    if text == "0" {
        return Ok(0);
    }
    if text.is_empty() {
        return Err(bad());
    }
    let mut rest = text;
    let mut total: u64 = 0;
    // Index into UNITS of the last unit seen: each next unit must be strictly smaller.
    let mut last: Option<usize> = None;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        // `ms` must be tried before `m`.
        let (idx, unit_len, ms) = UNITS
            .iter()
            .enumerate()
            .filter(|(_, (u, _))| rest.starts_with(u))
            .max_by_key(|(_, (u, _))| u.len())
            .map(|(i, (u, ms))| (i, u.len(), *ms))
            .ok_or_else(bad)?;
        if last.is_some_and(|l| idx <= l) {
            return Err(bad());
        }
        last = Some(idx);
        rest = &rest[unit_len..];
        total = n
            .checked_mul(ms)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    Ok(total)
}

/// Writes milliseconds as a Prometheus duration, e.g. `1020000` → `17m`, `5400000` → `1h30m`.
#[must_use]
pub fn format_ms(mut ms: u64) -> String {
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    // Years and weeks read badly in test files; stop at days.
    for (unit, size) in UNITS.iter().skip(2) {
        if ms >= *size {
            let _ = write!(out, "{}{unit}", ms / size);
            ms %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_notations_prometheus_accepts() {
        assert_eq!(parse_ms("0").unwrap(), 0);
        assert_eq!(parse_ms("30s").unwrap(), 30_000);
        assert_eq!(parse_ms("5m").unwrap(), 300_000);
        assert_eq!(parse_ms("1h30m").unwrap(), 5_400_000);
        assert_eq!(parse_ms("1d").unwrap(), 86_400_000);
        assert_eq!(parse_ms("1m500ms").unwrap(), 60_500);
    }

    #[test]
    fn rejects_what_prometheus_rejects() {
        for bad in ["", "5", "m", "5x", "30m1h", "1m1m", "-5m", "1.5m"] {
            assert!(parse_ms(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn formats_back_round_trip() {
        for text in ["0s", "30s", "5m", "17m", "1h30m", "2d3h", "1m500ms"] {
            assert_eq!(format_ms(parse_ms(text).unwrap()), text);
        }
    }
}
