//! YAML 1.1 safety for every YAML file deaap-gen writes. The serializer follows YAML 1.2, where
//! `yes`, `off`, `y`, `1_000`, `12:30` or `2024-01-01` are plain strings; Kubernetes, Helm,
//! `PyYAML` and most other consumers read YAML 1.1, where they are booleans, numbers or timestamps
//! (`cannot unmarshal bool into ... of type string`, or an env value read as `true`). Every string
//! scalar a YAML 1.1 reader would resolve to another type is therefore written single-quoted.

use regex_lite::Regex;
use std::sync::LazyLock;

/// The YAML 1.1 implicit types (bool, int, float, null, timestamp, merge, value), as resolved by
/// `PyYAML`, plus the one-letter booleans `y`/`n` of the YAML 1.1 type repository. Words are matched
/// in any case, which is stricter than any reader.
static IMPLICIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(?:",
        // bool and null words, and the merge and value keys
        r"(?i:y|n|yes|no|on|off|true|false|null)|~|<<|=|",
        // int: binary, octal, decimal, hexadecimal, sexagesimal
        r"[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|",
        r"[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+|",
        // float
        r"[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|",
        r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?i:inf)|\.(?i:nan)|",
        // timestamp
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}|",
        r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?",
        r"(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?",
        r")$"
    ))
    .expect("the YAML 1.1 implicit-type pattern is valid") // cannot fail: a constant pattern
});

/// Whether a plain scalar `s` would be read by a YAML 1.1 reader as something other than a string
/// (or is empty, which reads as null).
#[must_use]
pub fn is_implicit(s: &str) -> bool {
    let Some(&first) = s.as_bytes().first() else {
        return true;
    };
    // Every implicit form starts with a digit, a sign, a dot, `~`, `<` or `=`, or is one of the
    // short bool and null words: anything else is a string without running the pattern.
    let bytes = s.as_bytes();
    let candidate = match first {
        // Digits alone are a decimal, or an octal after a leading zero (`09` is a string).
        b'0'..=b'9' if bytes.iter().all(u8::is_ascii_digit) => {
            return first != b'0' || bytes[1..].iter().all(|b| (b'0'..=b'7').contains(b));
        }
        b'0'..=b'9' => numeric(bytes),
        // A sign starts a form only before a digit (`-1`, `+0x1f`) or a dot (`-.inf`): an
        // argument such as `--port=80` is a string at its second byte.
        b'+' | b'-' => match bytes.get(1) {
            Some(b'0'..=b'9') => numeric(&bytes[1..]),
            Some(b'.') => true,
            _ => false,
        },
        // A dot starts a form before a digit (`.5`), or as `.inf` or `.nan`: a path such as
        // `./run` or `.git` is a string.
        b'.' => match bytes.get(1) {
            Some(b'0'..=b'9') => numeric(bytes),
            _ => bytes.len() == 4,
        },
        b'~' | b'=' => return bytes.len() == 1,
        b'<' => return s == "<<",
        // What starts with anything else is implicit only as one of the words (at most five
        // letters), in any ASCII case (the pattern's case-insensitivity is ASCII's): `name`,
        // `TCP` or `tls` need no pattern.
        _ => return s.len() <= 5 && WORDS.iter().any(|w| s.eq_ignore_ascii_case(w)),
    };
    candidate && IMPLICIT.is_match(s)
}

/// Whether `bytes` could be a form that starts with a digit (a number, a time, a timestamp): only
/// digits, hexadecimal letters and `_+-.:xtTZ`, spaces and tabs (`500m` or `1Gi` is a string at
/// its first other letter), at most one dot (`1.2.3` is a version), `x` only after a leading
/// `0` (`0+10x34` is a series of values), and a hexadecimal letter other than `b`, `e` or `E`
/// only in a number with that `x` (`3fa9` is a digest).
fn numeric(bytes: &[u8]) -> bool {
    let (mut dots, mut hex_letter, mut x) = (0, false, false);
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b if b.is_ascii_digit() || b"beE_+-:tTZ \t".contains(&b) => {}
            b'.' => dots += 1,
            b'x' if i == 1 && bytes[0] == b'0' => x = true,
            b'a' | b'c' | b'd' | b'f' | b'A'..=b'D' | b'F' => hex_letter = true,
            _ => return false,
        }
    }
    dots <= 1 && (x || !hex_letter)
}

/// The bool and null words of [`IMPLICIT`].
const WORDS: [&str; 9] = ["y", "n", "yes", "no", "on", "off", "true", "false", "null"];

/// The prefix that makes the serializer quote a string: `@` may not start a plain scalar, and
/// U+FDD0 is a Unicode noncharacter (reserved for internal use; validation refuses it in the
/// model), so `'@\u{FDD0}` occurs in the output only where it was put and is cut out again.
const MARK: &str = "@\u{FDD0}";
/// [`MARK`] as it comes out of the serializer: at the start of a single-quoted scalar.
const QUOTED: &str = "'@\u{FDD0}";

/// Serializes one YAML document with every YAML-1.1-ambiguous string single-quoted.
///
/// # Errors
/// A value that cannot be serialized, or one holding U+FDD0.
pub fn to_string<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, String> {
    // Most documents are JSON-shaped: built as data, which costs less than the serializer's
    // value, and written directly.
    if let Some(text) = super::data::to_exact_data(value)
        .ok()
        .and_then(|d| super::block::write(&d))
    {
        return Ok(text);
    }
    let v = serde_yaml::to_value(value).map_err(|e| e.to_string())?;
    // A document JSON can hold is written directly, with the same bytes.
    match super::block::write_yaml(&v) {
        Some(text) => Ok(text),
        None => yaml_by_serializer(v),
    }
}

/// [`to_string`] through the serializer: the document with its strings marked.
fn yaml_by_serializer(mut v: serde_yaml::Value) -> Result<String, String> {
    let mut marked = 0usize;
    mark(&mut v, &mut marked);
    unmark(
        serde_yaml::to_string(&v).map_err(|e| e.to_string())?,
        marked,
    )
}

/// [`to_string`] for a JSON-shaped document such as a Kubernetes object that is already a
/// `serde_json::Value`: written directly (`block`) when it can be, else marked and
/// serialized, with the same bytes either way.
///
/// # Errors
/// A value that cannot be serialized, or one holding U+FDD0.
pub fn json_to_string(v: &serde_json::Value) -> Result<String, String> {
    match super::block::write(v) {
        Some(text) => Ok(text),
        None => by_serializer(v),
    }
}

/// [`json_to_string`] of [`super::Data`], with the spans of the document's longer mapping values
/// when the block writer wrote it (`block::write_recording`); none when the serializer did.
///
/// # Errors
/// As [`json_to_string`].
pub fn data_to_string_recording(v: &super::Data) -> Result<(String, Vec<super::Span>), String> {
    match super::block::write_recording(v) {
        Some(written) => Ok(written),
        None => Ok((by_serializer(&v.to_json())?, Vec::new())),
    }
}

/// [`json_to_string`] of the value a [`super::Node`] stands for, with the same bytes, without
/// copying the values it borrows unless the serializer has to write it.
///
/// # Errors
/// As [`json_to_string`].
pub fn node_to_string(n: &super::Node<'_>) -> Result<String, String> {
    match super::block::write_node(n) {
        Some(text) => Ok(text),
        None => by_serializer(&n.to_value()),
    }
}

/// [`json_to_string`] through the serializer: a copy of the document with its strings marked.
pub(super) fn by_serializer(v: &serde_json::Value) -> Result<String, String> {
    let mut v = v.clone();
    let mut marked = 0usize;
    mark_json(&mut v, &mut marked);
    unmark(
        serde_yaml::to_string(&v).map_err(|e| e.to_string())?,
        marked,
    )
}

/// Cuts the marks out of serialized text, checking that each marked string came out quoted.
fn unmark(text: String, marked: usize) -> Result<String, String> {
    if text.matches(QUOTED).count() != marked {
        return Err(
            "a YAML 1.1-ambiguous string was not quoted, or a string holds U+FDD0".to_owned(),
        );
    }
    if marked == 0 {
        return Ok(text);
    }
    Ok(text.replace(QUOTED, "'"))
}

// A string that itself holds the mark cannot slip through: it is refused in the model (DG0119),
// and were one to reach the output quoted, [`unmark`] would count one mark too many and fail.

fn mark_json(v: &mut serde_json::Value, marked: &mut usize) {
    use serde_json::Value;
    match v {
        Value::String(s) => mark_str(s, marked),
        Value::Array(items) => {
            for item in items {
                mark_json(item, marked);
            }
        }
        Value::Object(m) => {
            if m.keys().any(|k| needs_mark(k)) {
                let old = std::mem::take(m);
                for (mut k, val) in old {
                    mark_str(&mut k, marked);
                    m.insert(k, val);
                }
            }
            for val in m.values_mut() {
                mark_json(val, marked);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn mark(v: &mut serde_yaml::Value, marked: &mut usize) {
    use serde_yaml::Value;
    match v {
        Value::String(s) => mark_str(s, marked),
        Value::Sequence(items) => {
            for item in items {
                mark(item, marked);
            }
        }
        Value::Mapping(m) => {
            if m.keys()
                .any(|k| matches!(k, Value::String(s) if needs_mark(s)))
            {
                let old = std::mem::take(m);
                for (mut k, val) in old {
                    if let Value::String(s) = &mut k {
                        mark_str(s, marked);
                    }
                    m.insert(k, val);
                }
            }
            for val in m.values_mut() {
                mark(val, marked);
            }
        }
        Value::Tagged(t) => mark(&mut t.value, marked),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Whether `s` is written single-quoted for YAML 1.1 readers.
pub(super) fn needs_mark(s: &str) -> bool {
    is_implicit(s) && !s.is_empty()
}

fn mark_str(s: &mut String, marked: &mut usize) {
    if needs_mark(s) {
        s.insert_str(0, MARK);
        *marked += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml11_words_and_numbers_are_quoted() {
        for s in [
            "yes",
            "No",
            "ON",
            "off",
            "y",
            "N",
            "true",
            "~",
            "null",
            "1_000",
            "0777",
            "0x1f",
            "12:30",
            "1:20:30.5",
            ".5",
            "1.",
            "-.inf",
            ".NaN",
            "2024-01-01",
            "2001-12-14 21:59:43.10 -5",
            "<<",
            "=",
            "0b101",
            "+12",
            "1e3",
            "007",
        ] {
            let text = to_string(s).expect("serializes");
            assert_eq!(text, format!("'{s}'\n"), "{s:?}");
            assert_eq!(serde_yaml::from_str::<String>(&text).expect("reads"), s);
        }
        for s in [
            "1.0.0",
            "500m",
            "1Gi",
            "doc-ingester",
            "yess",
            "8080:80",
            "v1",
        ] {
            assert_eq!(to_string(s).expect("serializes"), format!("{s}\n"), "{s:?}");
        }
    }

    proptest::proptest! {
        /// The shortcuts before the pattern never change its answer.
        #[test]
        fn the_shortcuts_agree_with_the_pattern(
            s in "[0-9][0-9a-zA-Z_+:. \t-]{0,12}|[-+.~<=a-zA-Z][0-9a-zA-Z_+:. -]{0,6}\
                  |([yY]([eE][sS]?)?|[nN][oO]?|[oO]([nN]|[fF][fF])|[tT][rR][uU][eE]\
                  |[fF][aA][lL][sS][eE]|[nN][uU][lL][lL])[sSeE\u{17F}\u{212A}]?"
        ) {
            proptest::prop_assert_eq!(is_implicit(&s), IMPLICIT.is_match(&s), "{:?}", s);
        }
    }

    /// Every string of up to four of the characters the forms start and go on with, and the
    /// signed and dotted words: the shortcuts give the pattern's answer for each.
    #[test]
    fn the_shortcuts_agree_with_the_pattern_on_every_short_form() {
        const ALPHABET: &[u8] = b"-+.~<=0179_: xbeinfaTN";
        let mut strings: Vec<String> = concat!(
            "-.inf|+.inf|-.Inf|+.NAN|-.nan|+.5|-.5|+.5e+1|--port=80|-x|./run|.git|...|<<<|",
            "1:20:30.5|-1_000|0x1F|-0xaBcD|1.2.3|3fa9|2001-12-14t21:59:43.10-05:00|",
            "2001-12-14 21:59:43.10 Z|1_0.5e+10|0+10x34|00x1|0x1x|+0x1f|-0b101|0777|0778|12345",
        )
        .split('|')
        .map(String::from)
        .collect();
        let mut shorter = vec![String::new()];
        for _ in 0..4 {
            shorter = shorter
                .iter()
                .flat_map(|s| {
                    ALPHABET
                        .iter()
                        .map(move |&c| format!("{s}{}", char::from(c)))
                })
                .collect();
            strings.extend(shorter.iter().cloned());
        }
        for s in &strings {
            assert_eq!(is_implicit(s), IMPLICIT.is_match(s), "{s:?}");
        }
    }

    #[test]
    fn documents_json_can_hold_are_written_as_the_serializer_writes_them() {
        #[derive(serde::Serialize)]
        enum Shape {
            Unit,
            Newtype(u8),
        }
        let docs = [
            serde_yaml::to_value(std::collections::BTreeMap::from([("on", vec!["1", "a b"])])),
            serde_yaml::to_value((Shape::Unit, -3i64, u64::MAX, "x\ny", ())),
            serde_yaml::to_value(Shape::Newtype(1)),
            serde_yaml::to_value(std::collections::BTreeMap::from([(1, 2.5)])),
            serde_yaml::to_value(std::collections::BTreeMap::from([(1, 2)])),
            serde_yaml::to_value(std::collections::BTreeMap::from([(true, "x")])),
        ];
        for v in docs {
            let v = v.expect("a value");
            assert_eq!(to_string(&v), yaml_by_serializer(v.clone()), "{v:?}");
        }
        // A tag, a key that is no string, a float: the serializer's.
        for v in [
            serde_yaml::to_value(Shape::Newtype(1)),
            serde_yaml::to_value(std::collections::BTreeMap::from([(1, 2)])),
            serde_yaml::to_value(vec![0.5]),
        ] {
            assert!(super::super::block::write_yaml(&v.expect("a value")).is_none());
        }
    }

    /// Values written as data take the serializer's path for what data would hold otherwise
    /// than YAML: keys that are no strings, floats that are not finite, variants with values, and
    /// keys the serializer reads as tags.
    #[test]
    fn values_are_written_as_the_serializer_writes_them() {
        #[derive(serde::Serialize)]
        enum Shape {
            Unit,
            Newtype(u8),
            Tuple(u8, u8),
            Struct { a: u8 },
        }
        fn same<T: serde::Serialize>(v: &T) {
            let by_serializer =
                yaml_by_serializer(serde_yaml::to_value(v).expect("a value")).expect("serializes");
            assert_eq!(to_string(v).expect("serializes"), by_serializer);
        }
        use std::collections::BTreeMap;
        same(&BTreeMap::from([("a", vec!["1", "on", "x y"])]));
        same(&BTreeMap::from([(1u8, "one")]));
        same(&BTreeMap::from([(true, "yes")]));
        same(&BTreeMap::from([('c', "c")]));
        same(&BTreeMap::from([("!tag", 1)]));
        same(&BTreeMap::from([("!tag", 1), ("b", 2)]));
        same(&f64::INFINITY);
        same(&BTreeMap::from([("nan", f64::NAN)]));
        same(&(1.5f32, -0.0f64));
        same(&(
            Shape::Unit,
            Shape::Newtype(1),
            Shape::Tuple(1, 2),
            Shape::Struct { a: 3 },
        ));
        same(&(None::<u8>, (), u64::MAX, i64::MIN, "multi\nline\n"));
        assert!(crate::render::data::to_exact_data(&BTreeMap::from([(1u8, "one")])).is_err());
        assert!(crate::render::data::to_exact_data(&f64::NAN).is_err());
        assert!(crate::render::data::to_exact_data(&Shape::Newtype(1)).is_err());
        assert!(crate::render::data::to_exact_data(&BTreeMap::from([("!t", 1)])).is_err());
        assert!(crate::render::data::to_exact_data(&Shape::Unit).is_ok());
    }

    #[test]
    fn keys_are_quoted_too() {
        let m = std::collections::BTreeMap::from([("on", "off")]);
        assert_eq!(to_string(&m).expect("serializes"), "'on': 'off'\n");
    }

    #[test]
    fn the_reserved_mark_is_refused() {
        assert!(to_string("@\u{FDD0}x").is_err());
    }
}
