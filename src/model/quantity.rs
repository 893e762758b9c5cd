//! Kubernetes resource quantities (`500m`, `1Gi`, `1e3`), parsed by the API server's grammar so
//! that a malformed one is reported exactly where it is written, and the model can compare and
//! add values (`500m` < `1`, `1Gi` = `1024Mi`) without floating-point error. [`Quantity`] is the
//! model's value: the text as written (what every target emits) and its [`Amount`].
//!
//! ```text
//! quantity ::= [+-] number suffix
//! number   ::= digits | digits "." digits | digits "." | "." digits
//! suffix   ::= "" | n | u | m | k | M | G | T | P | E          (decimal SI)
//!            | Ki | Mi | Gi | Ti | Pi | Ei                     (binary SI)
//!            | (e | E) [+-] digits                             (decimal exponent)
//! ```

use serde::{Serialize, Serializer};
use std::fmt;

/// A Kubernetes quantity as written in the model, parsed: targets emit the text unchanged, rules
/// compute with the amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quantity {
    text: String,
    amount: Amount,
}

impl Quantity {
    /// Parses a quantity exactly as the Kubernetes API server would accept it.
    ///
    /// # Errors
    /// A string the API server would refuse.
    pub fn parse(text: &str) -> Result<Self, QuantityError> {
        Ok(Self {
            amount: Amount::parse(text)?,
            text: text.to_owned(),
        })
    }

    /// A quantity this program writes itself (a default), known to be valid.
    pub(crate) fn known(text: &str) -> Self {
        Self::parse(text).unwrap_or_else(|e| unreachable!("built-in quantity `{text}`: {e}"))
    }

    /// The text as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The value.
    #[must_use]
    pub fn amount(&self) -> Amount {
        self.amount
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

parsed_from_string!(Quantity);

/// A parsed quantity, held exactly in billionths of the unit (nano-cores, nano-bytes). The API
/// server rounds anything finer up to its smallest unit; so does this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Amount {
    nanos: i128,
}

const NANO: i128 = 1_000_000_000;

/// Why a string is not a quantity; `Display` is the message, [`QuantityError::help`] the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuantityError {
    Empty,
    /// Spaces inside or around the quantity (`1 Gi`).
    Whitespace,
    /// No digits, or more than one decimal point.
    Number,
    /// A suffix Kubernetes does not know (`GB`, `K`, `gi`).
    Suffix(String),
    /// Too large to be represented.
    Range,
}

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("the quantity is empty"),
            Self::Whitespace => f.write_str("a quantity may not contain spaces"),
            Self::Number => f.write_str("a quantity must start with a number"),
            Self::Suffix(s) => write!(f, "`{s}` is not a quantity suffix"),
            Self::Range => f.write_str("the quantity is too large"),
        }
    }
}

impl QuantityError {
    /// How to write what the user probably meant.
    #[must_use]
    pub fn help(&self) -> String {
        const FORMS: &str = "write a number with an optional suffix: `500m` or `2` (CPU), `512Mi`, `1Gi` or `1G` (bytes)";
        match self {
            Self::Suffix(s) => suffix_hint(s).unwrap_or_else(|| {
                format!("{FORMS}; suffixes are m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei")
            }),
            Self::Whitespace => format!("remove the spaces; {FORMS}"),
            Self::Range => "no Kubernetes resource is that large; check the exponent".to_owned(),
            Self::Empty | Self::Number => FORMS.to_owned(),
        }
    }
}

fn suffix_hint(s: &str) -> Option<String> {
    let binary = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
    if let Some(b) = binary.iter().find(|b| b.eq_ignore_ascii_case(s)) {
        return Some(format!("suffixes are case-sensitive: did you mean `{b}`?"));
    }
    // `GB`, `GiB`, `mb`: byte units written the way disks are labelled.
    let stem = s
        .strip_suffix('B')
        .or_else(|| s.strip_suffix('b'))
        .unwrap_or(s);
    let stem = stem.strip_suffix('i').unwrap_or(stem);
    if stem.len() == 1 {
        let c = stem.chars().next()?;
        let upper = c.to_ascii_uppercase();
        if "KMGTPE".contains(upper) {
            let dec = if upper == 'K' { 'k' } else { upper };
            return Some(format!(
                "Kubernetes quantities have no byte unit: write `{dec}` (powers of 10) or `{upper}i` (powers of 2), e.g. `1{upper}i`"
            ));
        }
    }
    None
}

impl Amount {
    /// Parses a quantity exactly as the Kubernetes API server would accept it.
    ///
    /// # Errors
    /// A string the API server would refuse.
    pub fn parse(s: &str) -> Result<Self, QuantityError> {
        if s.is_empty() {
            return Err(QuantityError::Empty);
        }
        if s.chars().any(char::is_whitespace) {
            return Err(QuantityError::Whitespace);
        }
        let (negative, rest) = match s.as_bytes()[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(num_len);
        if !number.bytes().any(|b| b.is_ascii_digit()) || number.matches('.').count() > 1 {
            return Err(QuantityError::Number);
        }
        let (int, frac) = number.split_once('.').unwrap_or((number, ""));
        let digits = format!("{int}{frac}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 36 {
            return Err(QuantityError::Range);
        }
        let mantissa: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| QuantityError::Range)?
        };
        let (pow10, pow2) = parse_suffix(suffix)?;
        let frac_len = i32::try_from(frac.len()).map_err(|_| QuantityError::Range)?;
        let exp = pow10 + 9 - frac_len;
        let scaled = mantissa
            .checked_mul(1i128 << pow2)
            .ok_or(QuantityError::Range)?;
        let nanos = if exp >= 0 {
            let factor = 10i128
                .checked_pow(exp.unsigned_abs())
                .ok_or(QuantityError::Range)?;
            scaled.checked_mul(factor).ok_or(QuantityError::Range)?
        } else if exp < -38 {
            i128::from(scaled > 0)
        } else {
            let div = 10i128.pow(exp.unsigned_abs());
            (scaled + div - 1) / div
        };
        Ok(Self {
            nanos: if negative { -nanos } else { nanos },
        })
    }

    /// A quantity of whole units (CPU cores, bytes, pods).
    #[must_use]
    pub fn from_units(n: u64) -> Self {
        Self {
            nanos: i128::from(n) * NANO,
        }
    }

    #[must_use]
    pub fn is_negative(self) -> bool {
        self.nanos < 0
    }

    #[must_use]
    pub fn is_zero(self) -> bool {
        self.nanos == 0
    }

    /// Whether the value is a whole number of units (memory must be whole bytes).
    #[must_use]
    pub fn is_whole(self) -> bool {
        self.nanos % NANO == 0
    }

    /// `self × n`, saturating (sums are only compared against limits).
    #[must_use]
    pub fn times(self, n: u32) -> Self {
        Self {
            nanos: self.nanos.saturating_mul(i128::from(n)),
        }
    }

    /// How many whole `each` fit in `self` (`None` when `each` is not positive).
    #[must_use]
    pub fn count_of(self, each: Self) -> Option<u64> {
        if each.nanos <= 0 {
            return None;
        }
        Some(u64::try_from(self.nanos.max(0) / each.nanos).unwrap_or(u64::MAX))
    }

    /// CPU as Kubernetes writes it: whole cores (`20`) or millicores (`22500m`).
    #[must_use]
    pub fn cpu(self) -> String {
        if self.nanos % NANO == 0 {
            format!("{}", self.nanos / NANO)
        } else if self.nanos % 1_000_000 == 0 {
            format!("{}m", self.nanos / 1_000_000)
        } else {
            format!("{}n", self.nanos)
        }
    }

    /// Bytes in the largest exact binary (`43Gi`) or decimal (`1500M`) unit.
    #[must_use]
    pub fn bytes(self) -> String {
        if self.nanos % NANO != 0 {
            return self.cpu();
        }
        let b = self.nanos / NANO;
        if b == 0 {
            return "0".to_owned();
        }
        for (suffix, shift) in [
            ("Ei", 60),
            ("Pi", 50),
            ("Ti", 40),
            ("Gi", 30),
            ("Mi", 20),
            ("Ki", 10),
        ] {
            let unit = 1i128 << shift;
            if b % unit == 0 {
                return format!("{}{suffix}", b / unit);
            }
        }
        for (suffix, exp) in [
            ("E", 18),
            ("P", 15),
            ("T", 12),
            ("G", 9),
            ("M", 6),
            ("k", 3),
        ] {
            let unit = 10i128.pow(exp);
            if b % unit == 0 {
                return format!("{}{suffix}", b / unit);
            }
        }
        b.to_string()
    }
}

impl std::ops::Add for Amount {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Self {
            nanos: self.nanos.saturating_add(o.nanos),
        }
    }
}

impl std::ops::Sub for Amount {
    type Output = Self;
    fn sub(self, o: Self) -> Self {
        Self {
            nanos: self.nanos.saturating_sub(o.nanos),
        }
    }
}

impl std::iter::Sum for Amount {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::default(), |a, b| a + b)
    }
}

/// The suffix as (power of ten, power of two).
fn parse_suffix(s: &str) -> Result<(i32, u32), QuantityError> {
    let dec = |p: i32| Ok((p, 0));
    match s {
        "" => dec(0),
        "n" => dec(-9),
        "u" => dec(-6),
        "m" => dec(-3),
        "k" => dec(3),
        "M" => dec(6),
        "G" => dec(9),
        "T" => dec(12),
        "P" => dec(15),
        "E" => dec(18),
        "Ki" => Ok((0, 10)),
        "Mi" => Ok((0, 20)),
        "Gi" => Ok((0, 30)),
        "Ti" => Ok((0, 40)),
        "Pi" => Ok((0, 50)),
        "Ei" => Ok((0, 60)),
        _ => {
            let exp = s
                .strip_prefix('e')
                .or_else(|| s.strip_prefix('E'))
                .ok_or_else(|| QuantityError::Suffix(s.to_owned()))?;
            let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(QuantityError::Suffix(s.to_owned()));
            }
            if digits.len() > 3 {
                return Err(QuantityError::Range);
            }
            let v: i32 = exp.parse().map_err(|_| QuantityError::Range)?;
            if v > 40 {
                return Err(QuantityError::Range);
            }
            Ok((v.max(-60), 0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Amount {
        Amount::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn equal_values_in_different_notations() {
        assert_eq!(q("1"), q("1000m"));
        assert_eq!(q("0.5"), q("500m"));
        assert_eq!(q(".5"), q("500m"));
        assert_eq!(q("1."), q("1"));
        assert_eq!(q("1Gi"), q("1024Mi"));
        assert_eq!(q("1Ti"), q("1024Gi"));
        assert_eq!(q("1Ei"), q("1024Pi"));
        assert_eq!(q("1e3"), q("1k"));
        assert_eq!(q("1E3"), q("1000"));
        assert_eq!(q("1e-3"), q("1m"));
        assert_eq!(q("1e+3"), q("1k"));
        assert_eq!(q("1G"), q("1000M"));
        assert_eq!(q("1.5Gi"), q("1536Mi"));
        assert_eq!(q("+2"), q("2"));
        assert_eq!(q("250000u"), q("250m"));
        assert_eq!(q("007"), q("7"));
    }

    #[test]
    fn ordering_is_exact() {
        assert!(q("500m") < q("1"));
        assert!(q("1G") < q("1Gi"));
        assert!(q("999Mi") < q("1Gi"));
        assert!(q("1Ti") > q("1000Gi"));
        assert!(q("2Gi") > q("2G"));
        assert!(q("-1") < q("0"));
    }

    #[test]
    fn the_letter_e_alone_is_exa() {
        assert_eq!(q("1E"), Amount::from_units(1_000_000_000_000_000_000));
        assert_eq!(q("2e0"), q("2"));
    }

    #[test]
    fn finer_than_nano_rounds_up() {
        assert_eq!(q("0.1n"), q("1n"));
        assert_eq!(q("1e-30"), q("1n"));
        assert_eq!(q("0e-30"), q("0"));
    }

    #[test]
    fn refused_forms() {
        for (s, e) in [
            ("", QuantityError::Empty),
            ("1 Gi", QuantityError::Whitespace),
            (" 1", QuantityError::Whitespace),
            ("Gi", QuantityError::Number),
            ("1.2.3", QuantityError::Number),
            (".", QuantityError::Number),
            ("-", QuantityError::Number),
            ("1GB", QuantityError::Suffix("GB".into())),
            ("1gi", QuantityError::Suffix("gi".into())),
            ("1K", QuantityError::Suffix("K".into())),
            ("1Kb", QuantityError::Suffix("Kb".into())),
            ("1e", QuantityError::Suffix("e".into())),
            ("1e1.5", QuantityError::Suffix("e1.5".into())),
            ("1Gi1", QuantityError::Suffix("Gi1".into())),
            ("1m ", QuantityError::Whitespace),
            ("1cores", QuantityError::Suffix("cores".into())),
            ("1e999", QuantityError::Range),
            ("1e41", QuantityError::Range),
            (
                "9999999999999999999999999999999999999999",
                QuantityError::Range,
            ),
            ("99999999999999999999999Ei", QuantityError::Range),
        ] {
            assert_eq!(Amount::parse(s), Err(e), "{s:?}");
        }
    }

    #[test]
    fn help_names_the_right_suffix() {
        let help = |s: &str| match Amount::parse(s) {
            Err(e) => e.help(),
            Ok(_) => panic!("{s} parsed"),
        };
        assert!(help("1gi").contains("`Gi`"), "{}", help("1gi"));
        assert!(help("1GB").contains("`G`") && help("1GB").contains("`Gi`"));
        assert!(help("1GiB").contains("`Gi`"));
        assert!(help("1K").contains("`k`") && help("1K").contains("`Ki`"));
        assert!(help("1mb").contains("`M`"));
        assert!(help("1cores").contains("suffixes are"));
    }

    #[test]
    fn formatting_picks_the_exact_unit() {
        assert_eq!(q("20").cpu(), "20");
        assert_eq!(q("22.5").cpu(), "22500m");
        assert_eq!((q("500m") + q("1")).cpu(), "1500m");
        assert_eq!(q("1n").cpu(), "1n");
        assert_eq!(q("43Gi").bytes(), "43Gi");
        assert_eq!((q("40Gi") + q("512Mi")).bytes(), "41472Mi");
        assert_eq!(q("1500M").bytes(), "1500M");
        assert_eq!(q("1Ti").bytes(), "1Ti");
        assert_eq!(q("1001").bytes(), "1001");
        assert_eq!(q("0").bytes(), "0");
        assert_eq!(q("1m").bytes(), "1m");
    }

    #[test]
    fn arithmetic() {
        assert_eq!(q("500m").times(4), q("2"));
        assert_eq!([q("1Gi"), q("1Gi")].into_iter().sum::<Amount>(), q("2Gi"));
        assert!(q("1").is_whole() && !q("1m").is_whole());
        assert!(q("-1").is_negative() && q("0").is_zero());
        assert_eq!(q("9").count_of(q("2")), Some(4));
        assert_eq!(q("3").count_of(q("4")), Some(0));
        assert_eq!(q("-3").count_of(q("1")), Some(0));
        assert_eq!(q("3").count_of(q("0")), None);
        assert_eq!(q("1") - q("250m"), q("750m"));
    }
}
