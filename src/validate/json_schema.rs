//! A JSON Schema (draft-07) validator for the part of the standard the model's schema uses: the
//! keywords schemars emits for structs, enums, options, lists and maps. [`Validator::new`] refuses
//! a schema with any other keyword, so a schema change that needs one (a `pattern`, say) fails the
//! tests instead of being ignored.
//!
//! Every error is collected, with the JSON pointer of the value it is about; an `anyOf`/`oneOf`
//! that no branch matches carries the errors of each branch, so the caller can report the branch
//! the user meant.

use serde_json::Value as J;
use std::cmp::Ordering;
use std::fmt::Write as _;

/// Keywords that only describe (never checked).
const ANNOTATIONS: [&str; 13] = [
    "$schema",
    "$id",
    "$comment",
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "definitions",
    "$defs",
    "format",
];

/// `format` values schemars writes for numbers. They are annotations here as in draft-07 (the
/// range of an unsigned type is its `minimum`; the model's own parse rejects an overflow); any
/// other format (`date-time`, `uri`, ...) is refused, since a reader would expect it enforced.
const NUMBER_FORMATS: [&str; 12] = [
    "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64",
    "float", "double",
];

/// The JSON types in the order type errors list them.
const TYPES: [&str; 7] = [
    "null", "boolean", "integer", "number", "string", "array", "object",
];

/// One way an instance does not fit the schema.
#[derive(Debug, Clone, PartialEq)]
pub enum ErrorKind<'s> {
    /// Keys that `additionalProperties: false` does not allow, in the instance's order.
    AdditionalProperties {
        unexpected: Vec<String>,
    },
    /// A key `required` names is missing.
    Required {
        property: &'s str,
    },
    /// The value has none of these types (in `TYPES` order).
    Type {
        types: Vec<&'static str>,
    },
    /// The value is none of the `enum` array's values.
    Enum {
        options: &'s J,
    },
    /// The value is not the `const` value.
    Const,
    Minimum {
        limit: &'s J,
    },
    Maximum {
        limit: &'s J,
    },
    ExclusiveMinimum {
        limit: &'s J,
    },
    ExclusiveMaximum {
        limit: &'s J,
    },
    MinItems,
    MaxItems,
    UniqueItems,
    /// The schema is `false`.
    FalseSchema,
    /// No `anyOf` branch matches; the errors of each branch, in the schema's order.
    AnyOf {
        context: Vec<Vec<Error<'s>>>,
    },
    /// No `oneOf` branch matches; the errors of each branch, in the schema's order.
    OneOfNotValid {
        context: Vec<Vec<Error<'s>>>,
    },
    /// More than one `oneOf` branch matches.
    OneOfMultipleValid,
}

impl ErrorKind<'_> {
    /// The keyword that failed.
    #[must_use]
    pub fn keyword(&self) -> &'static str {
        match self {
            Self::AdditionalProperties { .. } => "additionalProperties",
            Self::Required { .. } => "required",
            Self::Type { .. } => "type",
            Self::Enum { .. } => "enum",
            Self::Const => "const",
            Self::Minimum { .. } => "minimum",
            Self::Maximum { .. } => "maximum",
            Self::ExclusiveMinimum { .. } => "exclusiveMinimum",
            Self::ExclusiveMaximum { .. } => "exclusiveMaximum",
            Self::MinItems => "minItems",
            Self::MaxItems => "maxItems",
            Self::UniqueItems => "uniqueItems",
            Self::FalseSchema => "falseSchema",
            Self::AnyOf { .. } => "anyOf",
            Self::OneOfNotValid { .. } | Self::OneOfMultipleValid => "oneOf",
        }
    }
}

/// An error, at the JSON pointer of the value it is about (`""` for the whole instance).
#[derive(Debug, Clone, PartialEq)]
pub struct Error<'s> {
    pub instance_path: String,
    pub kind: ErrorKind<'s>,
}

/// A schema checked to use only the supported keywords, ready to validate instances.
#[derive(Debug)]
pub struct Validator<'s> {
    root: &'s J,
}

impl<'s> Validator<'s> {
    /// Checks that `root` uses only the keywords this validator implements, in the forms it
    /// implements, and that every `$ref` points into the schema itself.
    ///
    /// # Errors
    /// What is not supported, and where (a JSON pointer into the schema).
    pub fn new(root: &'s J) -> Result<Self, String> {
        let v = Self { root };
        v.check_schema(root, "")?;
        Ok(v)
    }

    /// Every error of `instance`.
    #[must_use]
    pub fn errors(&self, instance: &J) -> Vec<Error<'s>> {
        let mut out = Vec::new();
        self.validate(self.root, instance, &mut String::new(), &mut out);
        out
    }

    /// Whether `instance` fits the schema.
    #[must_use]
    pub fn is_valid(&self, instance: &J) -> bool {
        self.errors(instance).is_empty()
    }

    fn resolve(&self, reference: &str) -> Option<&'s J> {
        self.root.pointer(reference.strip_prefix('#')?)
    }

    fn check_schema(&self, schema: &J, at: &str) -> Result<(), String> {
        let map = match schema {
            J::Bool(_) => return Ok(()),
            J::Object(map) => map,
            _ => return Err(format!("{at}: a schema must be an object or a boolean")),
        };
        let bad = |keyword: &str, what: &str| Err(format!("{at}/{keyword}: {what}"));
        for (keyword, value) in map {
            let here = format!("{at}/{}", escape(keyword));
            match keyword.as_str() {
                "$ref" => match value.as_str() {
                    Some(r) if r.starts_with('#') && self.resolve(r).is_some() => {}
                    _ => return bad(keyword, "only a reference into this schema is supported"),
                },
                "format" => {
                    if !value.as_str().is_some_and(|f| NUMBER_FORMATS.contains(&f)) {
                        return bad(keyword, "only the number formats are supported");
                    }
                }
                "definitions" | "$defs" | "properties" => {
                    let Some(children) = value.as_object() else {
                        return bad(keyword, "must be an object");
                    };
                    for (name, child) in children {
                        self.check_schema(child, &format!("{here}/{}", escape(name)))?;
                    }
                }
                k if ANNOTATIONS.contains(&k) => {}
                "type" => {
                    let known = |t: &J| t.as_str().is_some_and(|t| TYPES.contains(&t));
                    let ok = match value {
                        J::Array(ts) => !ts.is_empty() && ts.iter().all(known),
                        t => known(t),
                    };
                    if !ok {
                        return bad(keyword, "must name JSON types");
                    }
                }
                "enum" => {
                    if !value.is_array() {
                        return bad(keyword, "must be an array");
                    }
                }
                "const" => {}
                "required" => {
                    if !value.as_array().is_some_and(|a| a.iter().all(J::is_string)) {
                        return bad(keyword, "must be an array of names");
                    }
                }
                "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" => {
                    if !value.is_number() {
                        return bad(keyword, "must be a number");
                    }
                }
                "minItems" | "maxItems" => {
                    if !value.is_u64() {
                        return bad(keyword, "must be a non-negative integer");
                    }
                }
                "uniqueItems" => {
                    if !value.is_boolean() {
                        return bad(keyword, "must be a boolean");
                    }
                }
                "additionalProperties" => self.check_schema(value, &here)?,
                "items" => {
                    if value.is_array() {
                        return bad(keyword, "the array (tuple) form is not supported");
                    }
                    self.check_schema(value, &here)?;
                }
                "allOf" | "anyOf" | "oneOf" => {
                    let Some(branches) = value.as_array().filter(|a| !a.is_empty()) else {
                        return bad(keyword, "must be a non-empty array");
                    };
                    for (i, branch) in branches.iter().enumerate() {
                        self.check_schema(branch, &format!("{here}/{i}"))?;
                    }
                }
                other => return bad(other, "keyword not supported"),
            }
        }
        Ok(())
    }

    fn validate(&self, schema: &'s J, instance: &J, path: &mut String, out: &mut Vec<Error<'s>>) {
        let map = match schema {
            J::Object(map) => map,
            J::Bool(false) => return push(out, path, ErrorKind::FalseSchema),
            _ => return,
        };
        // Draft-07: a `$ref` replaces the schema it is in; its siblings are ignored.
        if let Some(target) = map.get("$ref").and_then(J::as_str) {
            if let Some(target) = self.resolve(target) {
                self.validate(target, instance, path, out);
            }
            return;
        }
        for (keyword, value) in map {
            match keyword.as_str() {
                "type" => {
                    let types: Vec<&str> = match value {
                        J::Array(ts) => ts.iter().filter_map(J::as_str).collect(),
                        t => t.as_str().into_iter().collect(),
                    };
                    if !types.iter().any(|t| has_type(instance, t)) {
                        let types = TYPES.into_iter().filter(|t| types.contains(t)).collect();
                        push(out, path, ErrorKind::Type { types });
                    }
                }
                "enum" => {
                    let options = value.as_array().map_or(&[][..], Vec::as_slice);
                    if !options.iter().any(|o| equal(o, instance)) {
                        push(out, path, ErrorKind::Enum { options: value });
                    }
                }
                "const" if !equal(value, instance) => push(out, path, ErrorKind::Const),
                "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" => {
                    if let Some(order) = compare(instance, value) {
                        let (fails, kind) = match keyword.as_str() {
                            "minimum" => (order.is_lt(), ErrorKind::Minimum { limit: value }),
                            "maximum" => (order.is_gt(), ErrorKind::Maximum { limit: value }),
                            "exclusiveMinimum" => {
                                (order.is_le(), ErrorKind::ExclusiveMinimum { limit: value })
                            }
                            _ => (order.is_ge(), ErrorKind::ExclusiveMaximum { limit: value }),
                        };
                        if fails {
                            push(out, path, kind);
                        }
                    }
                }
                "minItems" | "maxItems" | "uniqueItems" => {
                    if let (J::Array(items), Some(limit)) = (instance, value.as_u64()) {
                        let len = items.len() as u64;
                        if keyword == "minItems" && len < limit {
                            push(out, path, ErrorKind::MinItems);
                        } else if keyword == "maxItems" && len > limit {
                            push(out, path, ErrorKind::MaxItems);
                        }
                    }
                    if let (J::Array(items), Some(true)) = (instance, value.as_bool()) {
                        let repeated = items
                            .iter()
                            .enumerate()
                            .any(|(i, a)| items[..i].iter().any(|b| equal(a, b)));
                        if repeated {
                            push(out, path, ErrorKind::UniqueItems);
                        }
                    }
                }
                "items" => {
                    if let J::Array(items) = instance {
                        for (i, item) in items.iter().enumerate() {
                            within(path, &i.to_string(), |path| {
                                self.validate(value, item, path, out);
                            });
                        }
                    }
                }
                "required" => {
                    if let J::Object(object) = instance {
                        for name in value.as_array().into_iter().flatten() {
                            if let Some(name) = name.as_str()
                                && !object.contains_key(name)
                            {
                                push(out, path, ErrorKind::Required { property: name });
                            }
                        }
                    }
                }
                "properties" => {
                    if let (J::Object(object), Some(properties)) = (instance, value.as_object()) {
                        for (name, sub) in properties {
                            if let Some(v) = object.get(name) {
                                within(path, name, |path| self.validate(sub, v, path, out));
                            }
                        }
                    }
                }
                "additionalProperties" => {
                    if let J::Object(object) = instance {
                        let declared = map.get("properties").and_then(J::as_object);
                        let extra = object
                            .iter()
                            .filter(|(k, _)| declared.is_none_or(|d| !d.contains_key(*k)));
                        if value == &J::Bool(false) {
                            let unexpected: Vec<String> = extra.map(|(k, _)| k.clone()).collect();
                            if !unexpected.is_empty() {
                                push(out, path, ErrorKind::AdditionalProperties { unexpected });
                            }
                        } else {
                            for (name, v) in extra {
                                within(path, name, |path| self.validate(value, v, path, out));
                            }
                        }
                    }
                }
                "allOf" => {
                    for branch in value.as_array().into_iter().flatten() {
                        self.validate(branch, instance, path, out);
                    }
                }
                "anyOf" | "oneOf" => {
                    let context: Vec<Vec<Error<'s>>> = value
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|branch| {
                            let mut errors = Vec::new();
                            self.validate(branch, instance, path, &mut errors);
                            errors
                        })
                        .collect();
                    let matching = context.iter().filter(|e| e.is_empty()).count();
                    let kind = match (keyword.as_str(), matching) {
                        ("anyOf", 0) => Some(ErrorKind::AnyOf { context }),
                        ("oneOf", 0) => Some(ErrorKind::OneOfNotValid { context }),
                        ("oneOf", 2..) => Some(ErrorKind::OneOfMultipleValid),
                        _ => None,
                    };
                    if let Some(kind) = kind {
                        push(out, path, kind);
                    }
                }
                _ => {}
            }
        }
    }
}

fn push<'s>(out: &mut Vec<Error<'s>>, path: &str, kind: ErrorKind<'s>) {
    out.push(Error {
        instance_path: path.to_owned(),
        kind,
    });
}

/// Runs `f` with `segment` appended to the JSON pointer `path`.
fn within(path: &mut String, segment: &str, f: impl FnOnce(&mut String)) {
    let len = path.len();
    let _ = write!(path, "/{}", escape(segment));
    f(path);
    path.truncate(len);
}

/// A JSON pointer segment: `~` and `/` escaped.
fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

fn has_type(instance: &J, t: &str) -> bool {
    match (t, instance) {
        ("null", J::Null)
        | ("boolean", J::Bool(_))
        | ("number", J::Number(_))
        | ("string", J::String(_))
        | ("array", J::Array(_))
        | ("object", J::Object(_)) => true,
        ("integer", J::Number(n)) => {
            n.is_i64()
                || n.is_u64()
                || n.as_f64()
                    .is_some_and(|f| f.is_finite() && f.fract() == 0.0)
        }
        _ => false,
    }
}

/// How the number `a` compares with the number `b`; `None` when either is not a number.
fn compare(a: &J, b: &J) -> Option<Ordering> {
    let (J::Number(a), J::Number(b)) = (a, b) else {
        return None;
    };
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

/// JSON Schema equality: numbers by value (`1` equals `1.0`), objects regardless of key order.
fn equal(a: &J, b: &J) -> bool {
    match (a, b) {
        (J::Number(_), J::Number(_)) => compare(a, b) == Some(Ordering::Equal),
        (J::Array(x), J::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b))
        }
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(schema: &J, instance: &J) -> Vec<(String, &'static str)> {
        Validator::new(schema)
            .expect("supported schema")
            .errors(instance)
            .into_iter()
            .map(|e| (e.instance_path, e.kind.keyword()))
            .collect()
    }

    fn at(path: &str, keyword: &'static str) -> (String, &'static str) {
        (path.to_owned(), keyword)
    }

    #[test]
    fn keywords_it_does_not_implement_are_refused() {
        for schema in [
            json!({"pattern": "^a"}),
            json!({"properties": {"a": {"minLength": 1}}}),
            json!({"definitions": {"A": {"not": {}}}}),
            json!({"patternProperties": {"a": {}}}),
            json!({"items": [{"type": "string"}]}),
            json!({"format": "date-time"}),
            json!({"$ref": "https://example.com/other.json"}),
            json!({"$ref": "#/definitions/Missing"}),
            json!({"anyOf": []}),
            json!({"type": "text"}),
            json!({"required": "a"}),
            json!({"if": {}, "then": {}}),
            json!(3),
        ] {
            assert!(Validator::new(&schema).is_err(), "{schema} was accepted");
        }
        let e = Validator::new(&json!({"properties": {"a/b": {"minLength": 1}}})).unwrap_err();
        assert_eq!(e, "/properties/a~1b/minLength: keyword not supported");
    }

    #[test]
    fn annotations_and_number_formats_are_accepted_and_not_checked() {
        let schema = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "$id": "https://example.com/s.json",
            "title": "t", "description": "d", "default": 1, "examples": [1],
            "deprecated": true, "readOnly": false, "writeOnly": false, "$comment": "c",
            "type": "integer", "format": "uint32", "minimum": 0
        });
        assert!(errors(&schema, &json!(7_000_000_000_u64)).is_empty());
        assert_eq!(errors(&schema, &json!(-1)), [at("", "minimum")]);
    }

    #[test]
    fn types() {
        let integer = json!({"type": "integer"});
        assert!(errors(&integer, &json!(3)).is_empty());
        assert!(errors(&integer, &json!(3.0)).is_empty());
        assert_eq!(errors(&integer, &json!(3.5)), [at("", "type")]);
        assert_eq!(errors(&integer, &json!("3")), [at("", "type")]);
        let number = json!({"type": "number"});
        assert!(errors(&number, &json!(3)).is_empty());
        assert!(errors(&number, &json!(0.5)).is_empty());
        for (t, ok, bad) in [
            ("null", json!(null), json!(false)),
            ("boolean", json!(true), json!(1)),
            ("string", json!("s"), json!(null)),
            ("array", json!([]), json!({})),
            ("object", json!({}), json!([])),
        ] {
            let schema = json!({ "type": t });
            assert!(errors(&schema, &ok).is_empty(), "{t}");
            assert_eq!(errors(&schema, &bad), [at("", "type")], "{t}");
        }
        // Several types are listed in one fixed order, whatever the schema's order.
        let schema = json!({"type": ["string", "null", "integer"]});
        let v = Validator::new(&schema).unwrap();
        let kinds: Vec<ErrorKind<'_>> =
            v.errors(&json!(true)).into_iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [ErrorKind::Type {
                types: vec!["null", "integer", "string"]
            }]
        );
    }

    #[test]
    fn enum_and_const_compare_numbers_by_value() {
        let schema = json!({"enum": ["a", 1, {"x": [1, 2]}]});
        assert!(errors(&schema, &json!("a")).is_empty());
        assert!(errors(&schema, &json!(1.0)).is_empty());
        assert!(errors(&schema, &json!({"x": [1.0, 2]})).is_empty());
        assert_eq!(errors(&schema, &json!("b")), [at("", "enum")]);
        assert_eq!(errors(&schema, &json!({"x": [2, 1]})), [at("", "enum")]);
        let schema = json!({"const": "tag"});
        assert!(errors(&schema, &json!("tag")).is_empty());
        assert_eq!(errors(&schema, &json!("other")), [at("", "const")]);
    }

    #[test]
    fn limits() {
        let schema = json!({"minimum": 1, "maximum": 65535});
        assert!(errors(&schema, &json!(1)).is_empty());
        assert!(errors(&schema, &json!(65535.0)).is_empty());
        assert_eq!(errors(&schema, &json!(0)), [at("", "minimum")]);
        assert_eq!(errors(&schema, &json!(0.5)), [at("", "minimum")]);
        assert_eq!(errors(&schema, &json!(65536)), [at("", "maximum")]);
        assert_eq!(errors(&schema, &json!(u64::MAX)), [at("", "maximum")]);
        assert_eq!(errors(&schema, &json!(i64::MIN)), [at("", "minimum")]);
        // Not a number: only `type` says so.
        assert!(errors(&schema, &json!("0")).is_empty());
        let schema = json!({"exclusiveMinimum": 0, "exclusiveMaximum": 1.5});
        assert!(errors(&schema, &json!(1)).is_empty());
        assert_eq!(errors(&schema, &json!(0)), [at("", "exclusiveMinimum")]);
        assert_eq!(errors(&schema, &json!(1.5)), [at("", "exclusiveMaximum")]);
        let schema = json!({"minimum": 2});
        let v = Validator::new(&schema).unwrap();
        assert_eq!(
            v.errors(&json!(1))[0].kind,
            ErrorKind::Minimum { limit: &json!(2) }
        );
    }

    #[test]
    fn arrays() {
        let schema = json!({"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2, "uniqueItems": true});
        assert!(errors(&schema, &json!(["a", "b"])).is_empty());
        assert_eq!(errors(&schema, &json!([])), [at("", "minItems")]);
        assert_eq!(
            errors(&schema, &json!(["a", "b", "c"])),
            [at("", "maxItems")]
        );
        assert_eq!(errors(&schema, &json!(["a", "a"])), [at("", "uniqueItems")]);
        assert_eq!(
            errors(&schema, &json!(["a", 1, "b"])),
            [at("/1", "type"), at("", "maxItems")]
        );
    }

    #[test]
    fn objects_report_every_problem_with_its_pointer() {
        let schema = json!({
            "type": "object",
            "required": ["a", "b", "c"],
            "properties": {
                "a": {"type": "string"},
                "b": {"type": "object", "additionalProperties": {"type": "integer"}},
                "c": {"type": "null"},
                "c/d~": {"type": "boolean"}
            },
            "additionalProperties": false
        });
        let v = Validator::new(&schema).unwrap();
        let instance = json!({"b": {"x": 1, "y": "2", "z/~": true}, "c/d~": 1, "zz": 1, "yy": 2});
        let got = v.errors(&instance);
        let summary: Vec<(String, &str)> = got
            .iter()
            .map(|e| (e.instance_path.clone(), e.kind.keyword()))
            .collect();
        assert_eq!(
            summary,
            [
                at("", "required"),
                at("", "required"),
                at("/b/y", "type"),
                at("/b/z~1~0", "type"),
                at("/c~1d~0", "type"),
                at("", "additionalProperties"),
            ]
        );
        assert_eq!(got[0].kind, ErrorKind::Required { property: "a" });
        assert_eq!(
            got[5].kind,
            ErrorKind::AdditionalProperties {
                unexpected: vec!["zz".into(), "yy".into()]
            }
        );
        assert!(v.is_valid(&json!({"a": "", "b": {}, "c": null, "c/d~": false})));
        // Keywords for one kind of value ignore the others.
        assert_eq!(errors(&schema, &json!([1])), [at("", "type")]);
    }

    #[test]
    fn refs_resolve_into_the_schema_and_replace_their_siblings() {
        let schema = json!({
            "definitions": {"Port": {"type": "integer", "minimum": 1}},
            "$defs": {"Name": {"type": "string"}},
            "properties": {
                "port": {"$ref": "#/definitions/Port", "description": "d", "maximum": 0},
                "name": {"allOf": [{"$ref": "#/$defs/Name"}], "description": "n"},
                "self": {"$ref": "#"}
            }
        });
        assert!(
            errors(
                &schema,
                &json!({"port": 80, "name": "x", "self": {"port": 1}})
            )
            .is_empty()
        );
        assert_eq!(
            errors(
                &schema,
                &json!({"port": 0, "name": 1, "self": {"port": "x"}})
            ),
            [
                at("/port", "minimum"),
                at("/name", "type"),
                at("/self/port", "type")
            ]
        );
    }

    #[test]
    fn branches_keep_their_errors() {
        let schema = json!({
            "anyOf": [{"type": "string"}, {"type": "object", "required": ["a", "b"]}]
        });
        assert!(errors(&schema, &json!("s")).is_empty());
        let v = Validator::new(&schema).unwrap();
        let got = v.errors(&json!({}));
        let [
            Error {
                kind: ErrorKind::AnyOf { context },
                ..
            },
        ] = got.as_slice()
        else {
            panic!("{got:?}");
        };
        assert_eq!(context.len(), 2);
        assert_eq!(context[0].len(), 1);
        assert_eq!(context[1].len(), 2);

        let one_of = json!({"oneOf": [{"const": "a"}, {"enum": ["a", "b"]}, {"type": "integer"}]});
        assert!(errors(&one_of, &json!("b")).is_empty());
        assert_eq!(errors(&one_of, &json!("a")), [at("", "oneOf")]);
        let v = Validator::new(&one_of).unwrap();
        assert_eq!(v.errors(&json!("a"))[0].kind, ErrorKind::OneOfMultipleValid);
        assert!(matches!(
            v.errors(&json!("c"))[0].kind,
            ErrorKind::OneOfNotValid { ref context } if context.len() == 3
        ));
        let all_of = json!({"allOf": [{"type": "integer"}, {"minimum": 5}]});
        assert_eq!(
            errors(&all_of, &json!(1.5)),
            [at("", "type"), at("", "minimum")]
        );
        assert_eq!(errors(&json!(false), &json!(1)), [at("", "falseSchema")]);
        assert!(errors(&json!(true), &json!(1)).is_empty());
    }

    /// What schemars writes for the kinds of Rust types the model uses is all supported.
    #[test]
    fn schemars_output_for_common_types_is_supported() {
        use std::collections::{BTreeMap, BTreeSet, HashMap};
        #[derive(schemars::JsonSchema)]
        #[allow(dead_code)]
        /// A nested table.
        struct Inner {
            /// A port.
            port: u16,
            #[schemars(default)]
            ratio: Option<f64>,
        }
        #[derive(schemars::JsonSchema)]
        #[allow(dead_code)]
        #[serde(rename_all = "snake_case")]
        enum Plain {
            One,
            Two,
        }
        #[derive(schemars::JsonSchema)]
        #[allow(dead_code)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        enum Tagged {
            /// First.
            A { size: u32 },
            /// Second.
            B { names: Vec<String> },
        }
        #[derive(schemars::JsonSchema)]
        #[allow(dead_code)]
        #[serde(deny_unknown_fields)]
        struct Outer {
            inner: Inner,
            maybe: Option<Inner>,
            list: Vec<Inner>,
            map: HashMap<String, u8>,
            tree: BTreeMap<String, Inner>,
            set: BTreeSet<String>,
            plain: Plain,
            tagged: Tagged,
            #[deprecated]
            old: Option<i64>,
            fixed: [u8; 2],
        }
        let schema = serde_json::to_value(
            schemars::generate::SchemaSettings::draft07()
                .into_generator()
                .into_root_schema_for::<Outer>(),
        )
        .unwrap();
        let v = Validator::new(&schema).unwrap_or_else(|e| panic!("{e}\n{schema:#}"));
        let good = json!({
            "inner": {"port": 80},
            "maybe": null,
            "list": [{"port": 1, "ratio": 0.5}],
            "map": {"a": 1},
            "tree": {"b": {"port": 2}},
            "set": ["x", "y"],
            "plain": "one",
            "tagged": {"kind": "a", "size": 3},
            "old": 1,
            "fixed": [1, 2]
        });
        assert!(v.is_valid(&good), "{:?}", v.errors(&good));
        let mut bad = good.clone();
        bad["inner"]["port"] = json!(70_000);
        bad["map"]["a"] = json!(-1);
        bad["plain"] = json!("three");
        bad["tagged"] = json!({"kind": "b", "size": 3});
        bad["set"] = json!(["x", "x"]);
        bad["fixed"] = json!([1]);
        let mut got: Vec<String> = v
            .errors(&bad)
            .iter()
            .map(|e| format!("{} {}", e.instance_path, e.kind.keyword()))
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                "/fixed minItems",
                "/inner/port maximum",
                "/map/a minimum",
                "/plain enum",
                "/set uniqueItems",
                "/tagged oneOf",
            ]
        );
    }

    /// A normal form of an error of either validator: pointer, keyword, details, and for a
    /// branching keyword each branch's errors.
    fn normal(path: &str, keyword: &str, detail: &str, context: Vec<Vec<String>>) -> String {
        let branches: Vec<String> = context
            .into_iter()
            .map(|mut b| {
                b.sort();
                format!("[{}]", b.join(", "))
            })
            .collect();
        format!("{path} {keyword} {detail} {}", branches.join(" "))
    }

    fn ours(e: &Error<'_>) -> String {
        let (detail, context) = match &e.kind {
            ErrorKind::AdditionalProperties { unexpected } => (unexpected.join(","), vec![]),
            ErrorKind::Required { property } => ((*property).to_owned(), vec![]),
            ErrorKind::Type { types } => (types.join(","), vec![]),
            ErrorKind::Enum { options } => (options.to_string(), vec![]),
            ErrorKind::Minimum { limit }
            | ErrorKind::Maximum { limit }
            | ErrorKind::ExclusiveMinimum { limit }
            | ErrorKind::ExclusiveMaximum { limit } => (limit.to_string(), vec![]),
            ErrorKind::AnyOf { context } | ErrorKind::OneOfNotValid { context } => (
                String::new(),
                context
                    .iter()
                    .map(|b| b.iter().map(ours).collect())
                    .collect(),
            ),
            _ => (String::new(), vec![]),
        };
        normal(&e.instance_path, e.kind.keyword(), &detail, context)
    }

    fn theirs(e: &jsonschema::ValidationError<'_>) -> String {
        use jsonschema::error::{TypeKind, ValidationErrorKind as K};
        let (detail, context) = match e.kind() {
            K::AdditionalProperties { unexpected } => (unexpected.join(","), vec![]),
            K::Required { property } => (property.as_str().unwrap_or("?").to_owned(), vec![]),
            K::Type { kind } => (
                match kind {
                    TypeKind::Single(t) => t.to_string(),
                    TypeKind::Multiple(ts) => ts
                        .iter()
                        .map(|t| t.to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                },
                vec![],
            ),
            K::Enum { options } => (options.to_string(), vec![]),
            K::Minimum { limit }
            | K::Maximum { limit }
            | K::ExclusiveMinimum { limit }
            | K::ExclusiveMaximum { limit } => (limit.to_string(), vec![]),
            K::AnyOf { context } | K::OneOfNotValid { context } => (
                String::new(),
                context
                    .iter()
                    .map(|b| b.iter().map(theirs).collect())
                    .collect(),
            ),
            _ => (String::new(), vec![]),
        };
        normal(
            e.instance_path().as_str(),
            e.kind().keyword(),
            &detail,
            context,
        )
    }

    /// `instance` with the value at `pointer` replaced by each kind of wrong value, removed, and
    /// (for a table) given an unknown key.
    fn mutations(instance: &J, pointer: &str, out: &mut Vec<J>) {
        let value = instance.pointer(pointer).expect("walked").clone();
        // A table or an array is replaced by a scalar only; its members are mutated one by one.
        let wrongs = if value.is_object() || value.is_array() {
            vec![json!("wrong")]
        } else {
            vec![
                json!("wrong"),
                json!(-1),
                json!(70_000),
                json!(1.5),
                json!({"zzz": 1}),
            ]
        };
        for wrong in wrongs {
            let mut m = instance.clone();
            *m.pointer_mut(pointer).expect("walked") = wrong;
            out.push(m);
        }
        if let Some((parent, key)) = pointer.rsplit_once('/') {
            let mut m = instance.clone();
            if let Some(J::Object(t)) = m.pointer_mut(parent) {
                t.shift_remove(&key.replace("~1", "/").replace("~0", "~"));
                out.push(m);
            }
        }
        if value.is_object() {
            let mut m = instance.clone();
            m.pointer_mut(pointer).expect("walked")["unknwon_key"] = json!(1);
            out.push(m);
        }
        match &value {
            J::Object(t) => {
                for k in t.keys() {
                    mutations(instance, &format!("{pointer}/{}", escape(k)), out);
                }
            }
            J::Array(a) if !a.is_empty() => mutations(instance, &format!("{pointer}/0"), out),
            _ => {}
        }
    }

    /// Differential check against an independent, complete implementation of the standard: on
    /// production's and development's environments and thousands of broken variants of them, the model's
    /// schema gives the same errors, with the same details and branch errors.
    #[test]
    fn the_model_schema_gives_the_errors_a_complete_implementation_gives() {
        let schema = crate::validate::schema::schema();
        let ours_v = Validator::new(schema).expect("the model schema is supported");
        let theirs_v = jsonschema::draft7::new(schema).expect("compiles");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("environments");
        let mut instances = Vec::new();
        for name in ["production.toml", "development.toml"] {
            let mut sources = crate::source::SourceMap::default();
            let mut diags = Vec::new();
            let loaded = crate::load::load(&dir.join(name), &mut sources, &mut diags)
                .expect("the repository's environments load");
            let json = loaded.root.to_json();
            instances.push(json.clone());
            mutations(&json, "", &mut instances);
        }
        assert!(instances.len() > 3000, "{}", instances.len());
        for instance in &instances {
            let mut a: Vec<String> = ours_v.errors(instance).iter().map(ours).collect();
            let mut b: Vec<String> = theirs_v.iter_errors(instance).map(|e| theirs(&e)).collect();
            a.sort();
            b.sort();
            assert_eq!(a, b, "{instance:#}");
            assert_eq!(ours_v.is_valid(instance), theirs_v.is_valid(instance));
        }
    }
}
