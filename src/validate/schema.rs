//! The environment JSON Schema: generated from the model types (so it can never disagree with what
//! the compiler accepts), checked in at `schema/deaap-environment.schema.json` for editors, and used
//! to validate the merged tree with every error mapped back to the TOML key that caused it.
//!
//! Messages are built from the error kind, never from the offending value, so a mistyped secret is
//! not echoed.

use super::json_schema::{Error, ErrorKind, Validator};
use crate::diagnostic::Diagnostic;
use crate::load::{Entry, Seg, Value, display_path};
use crate::model::Environment;
use serde_json::Value as J;
use std::sync::OnceLock;

/// The schema as JSON (draft-07).
#[must_use]
pub fn schema() -> &'static J {
    static SCHEMA: OnceLock<J> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let generator = schemars::generate::SchemaSettings::draft07().into_generator();
        let schema = generator.into_root_schema_for::<Environment>();
        serde_json::to_value(schema).unwrap_or(J::Null)
    })
}

/// Where the editor schema is published; its `$id`.
pub const SCHEMA_ID: &str = "https://deaap.company.com/schemas/deaap-environment.schema.json";

/// The schema editors use (`schema/deaap-environment.schema.json`, `deaap-gen schema`): the
/// model's schema with nothing required, since a file that `extends` another is partial and
/// deaap-gen checks required keys itself after layering. Unknown keys and wrong types are still
/// errors. Every property has a description: a property whose type is a documented definition
/// takes that definition's, and a tagged variant's tag takes its variant's.
#[must_use]
pub fn editor_schema() -> J {
    let mut editor = schema().clone();
    let definitions = editor.get("definitions").cloned().unwrap_or(J::Null);
    relax(&mut editor, &definitions, None);
    for (definition, property, examples) in EXAMPLES {
        if let Some(p) =
            editor.pointer_mut(&format!("/definitions/{definition}/properties/{property}"))
        {
            p["examples"] = serde_json::from_str(examples).unwrap_or(J::Null);
        }
    }
    if let Some(map) = editor.as_object_mut() {
        // `$id` after `$schema`, as editors show it.
        let mut out = serde_json::Map::new();
        for (k, v) in std::mem::take(map) {
            let schema_key = k == "$schema";
            out.insert(k, v);
            if schema_key {
                out.insert("$id".into(), J::from(SCHEMA_ID));
            }
        }
        *map = out;
    }
    editor
}

/// Example values editors offer for the keys written most often (definition, property, JSON).
const EXAMPLES: [(&str, &str, &str); 14] = [
    ("Identity", "name", r#"["production", "staging", "qa"]"#),
    ("Identity", "domain", r#"["deaap.company.com"]"#),
    ("Identity", "kubernetes_version", r#"["1.33"]"#),
    ("Identity", "cluster", r#"["deaap-production"]"#),
    ("Image", "repository", r#"["deaap/api-gateway"]"#),
    ("Image", "tag", r#"["1.8.0"]"#),
    ("CpuMemory", "cpu", r#"["500m", "2"]"#),
    ("CpuMemory", "memory", r#"["512Mi", "4Gi"]"#),
    ("Service", "route", r#"["/api/v1/documents"]"#),
    ("Persistence", "size", r#"["100Gi"]"#),
    ("Persistence", "storage_class", r#"["fast-ssd"]"#),
    ("Monitoring", "retention", r#"["30d"]"#),
    ("Alert", "for", r#"["5m"]"#),
    ("Backup", "schedule", r#"["0 2 * * *"]"#),
];

/// Removes `required` everywhere and fills in property descriptions (see [`editor_schema`]).
fn relax(node: &mut J, definitions: &J, branch: Option<&str>) {
    match node {
        J::Object(map) => {
            map.remove("required");
            let own = map
                .get("description")
                .and_then(J::as_str)
                .map(str::to_owned);
            if let Some(J::Object(props)) = map.get_mut("properties") {
                for prop in props.values_mut() {
                    if prop.get("description").is_none()
                        && let Some(text) = inherited(prop, definitions, own.as_deref().or(branch))
                    {
                        prop["description"] = J::from(text);
                    }
                }
            }
            let here = own.as_deref().or(branch).map(str::to_owned);
            for v in map.values_mut() {
                relax(v, definitions, here.as_deref());
            }
        }
        J::Array(items) => {
            for v in items {
                relax(v, definitions, branch);
            }
        }
        _ => {}
    }
}

/// A description for an undocumented property: its definition's, or for a tag (a `const`) the
/// description of the variant it selects.
fn inherited(prop: &J, definitions: &J, branch: Option<&str>) -> Option<String> {
    let reference = prop
        .get("$ref")
        .or_else(|| prop.pointer("/allOf/0/$ref"))
        .and_then(J::as_str);
    if let Some(name) = reference.and_then(|r| r.strip_prefix("#/definitions/")) {
        return definitions[name]["description"].as_str().map(str::to_owned);
    }
    if let (Some(tag), Some(text)) = (prop.get("const").and_then(J::as_str), branch) {
        return Some(format!("`{tag}`: {text}"));
    }
    None
}

/// The editor schema's text, exactly as checked in (pretty JSON plus a newline).
#[must_use]
pub fn schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&editor_schema()).unwrap_or_default();
    s.push('\n');
    s
}

fn validator() -> Option<&'static Validator<'static>> {
    static V: OnceLock<Option<Validator<'static>>> = OnceLock::new();
    V.get_or_init(|| Validator::new(schema()).ok()).as_ref()
}

/// Validates the merged tree against the schema; one diagnostic per problem.
pub fn check(tree: &Entry, json: &J, out: &mut Vec<Diagnostic>) {
    let Some(v) = validator() else {
        out.push(Diagnostic::error(
            "DG0099",
            "internal error: the environment schema does not compile",
        ));
        return;
    };
    let mut seen = std::collections::BTreeSet::new();
    for e in v.errors(json) {
        report(tree, &e, out, &mut seen);
    }
}

/// Takes out of `json` every key the schema does not know (each one reported by [`check`] as
/// DG0051), so that the model can still be built from the rest and its rules run in the same
/// pass. Returns whether what remains fits the schema.
pub fn without_unknown_keys(json: &mut J) -> bool {
    let Some(v) = validator() else {
        return false;
    };
    let mut unknown = Vec::new();
    for e in v.errors(json) {
        unknown_keys(&e, &mut unknown);
    }
    for (pointer, key) in unknown {
        if let Some(J::Object(table)) = json.pointer_mut(&pointer) {
            table.shift_remove(&key);
        }
    }
    v.is_valid(json)
}

/// The unknown keys an error reports, as (JSON pointer of the table, key); through the branch of
/// an `anyOf` that [`report`] reports too.
fn unknown_keys(e: &Error<'_>, out: &mut Vec<(String, String)>) {
    match &e.kind {
        ErrorKind::AdditionalProperties { unexpected } => {
            for key in unexpected {
                out.push((e.instance_path.clone(), key.clone()));
            }
        }
        ErrorKind::AnyOf { context } | ErrorKind::OneOfNotValid { context } => {
            for inner in closest_branch(context) {
                unknown_keys(inner, out);
            }
        }
        _ => {}
    }
}

/// The errors of the `anyOf`/`oneOf` branch that came closest to matching (the fewest errors, at
/// least one): the form the user meant.
fn closest_branch<T>(context: &[Vec<T>]) -> &[T] {
    context
        .iter()
        .filter(|c| !c.is_empty())
        .min_by_key(|c| c.len())
        .map_or(&[], Vec::as_slice)
}

fn pointer_to_path(tree: &Entry, pointer: &str) -> Vec<Seg> {
    let mut path = Vec::new();
    for raw in pointer.split('/').skip(1) {
        let seg = raw.replace("~1", "/").replace("~0", "~");
        let (node, _) = tree.lookup(&path);
        match (&node.value, seg.parse::<usize>()) {
            (Value::Array(_), Ok(i)) => path.push(Seg::Index(i)),
            _ => path.push(Seg::Key(seg)),
        }
    }
    path
}

fn report(
    tree: &Entry,
    e: &Error<'_>,
    out: &mut Vec<Diagnostic>,
    seen: &mut std::collections::BTreeSet<(String, String)>,
) {
    let path = pointer_to_path(tree, &e.instance_path);
    let (node, _) = tree.lookup(&path);
    let here = if path.is_empty() {
        "the environment".to_owned()
    } else {
        format!("`{}`", display_path(&path))
    };
    let d = match &e.kind {
        ErrorKind::AdditionalProperties { unexpected } => {
            for key in unexpected {
                let mut p = path.clone();
                p.push(Seg::Key(key.clone()));
                let (entry, _) = tree.lookup(&p);
                let known = properties_at(&path);
                let mut d = Diagnostic::error("DG0051", format!("unknown key `{key}` in {here}"))
                    .with_label(entry.anchor().clone(), "unknown key");
                if let Some(h) = hint(&path, key) {
                    d = d.with_help(h);
                } else if let Some(s) = did_you_mean(key, &known) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                } else if !known.is_empty() {
                    d = d.with_help(format!("expected one of: {}", known.join(", ")));
                }
                push(out, seen, d);
            }
            return;
        }
        ErrorKind::Required { property: name } => {
            Diagnostic::error("DG0052", format!("missing key `{name}` in {here}"))
                .with_label(node.anchor().clone(), format!("`{name}` is required here"))
        }
        ErrorKind::Type { types } => {
            let want: Vec<String> = types.iter().map(|t| type_name(t)).collect();
            let want = want.join(" or ");
            Diagnostic::error(
                "DG0053",
                format!("{here} must be {want}, found {}", found(&node.value)),
            )
            .with_label(node.span.clone(), format!("expected {want}"))
        }
        ErrorKind::Enum { options } => {
            let opts: Vec<String> = options
                .as_array()
                .map_or_else(Vec::new, |a| a.iter().map(ToString::to_string).collect());
            let mut d = Diagnostic::error(
                "DG0054",
                format!("{here} must be one of {}", opts.join(", ")),
            )
            .with_label(node.span.clone(), "not an allowed value");
            if let Value::String(s) = &node.value {
                let bare: Vec<String> = opts
                    .iter()
                    .map(|o| o.trim_matches('"').to_owned())
                    .collect();
                if let Some(m) = did_you_mean(s, &bare) {
                    d = d.with_help(format!("did you mean `{m}`?"));
                }
            }
            d
        }
        ErrorKind::Minimum { limit } | ErrorKind::ExclusiveMinimum { limit } => {
            Diagnostic::error("DG0055", format!("{here} must be at least {limit}"))
                .with_label(node.span.clone(), "too small")
        }
        ErrorKind::Maximum { limit } | ErrorKind::ExclusiveMaximum { limit } => {
            Diagnostic::error("DG0055", format!("{here} must be at most {limit}"))
                .with_label(node.span.clone(), "too large")
        }
        ErrorKind::AnyOf { context } | ErrorKind::OneOfNotValid { context } => {
            // Report the branch that came closest (fewest errors), which is what the user meant.
            let best = closest_branch(context);
            if !best.is_empty() {
                for inner in best {
                    report(tree, inner, out, seen);
                }
                return;
            }
            Diagnostic::error("DG0056", format!("{here} does not match any allowed form"))
                .with_label(node.span.clone(), "here")
        }
        other => Diagnostic::error("DG0056", format!("{here} is invalid ({})", other.keyword()))
            .with_label(node.span.clone(), "here"),
    };
    push(out, seen, d);
}

fn push(
    out: &mut Vec<Diagnostic>,
    seen: &mut std::collections::BTreeSet<(String, String)>,
    d: Diagnostic,
) {
    let key = (
        d.message.clone(),
        format!("{:?}", d.labels.first().map(|l| &l.span)),
    );
    if seen.insert(key) {
        out.push(d);
    }
}

fn type_name(t: &str) -> String {
    match t {
        "integer" => "an integer".to_owned(),
        "object" => "a table".to_owned(),
        "array" => "an array".to_owned(),
        "null" => "absent".to_owned(),
        other => format!("a {other}"),
    }
}

fn found(v: &Value) -> &'static str {
    match v {
        Value::Table(_) => "a table",
        Value::Array(_) => "an array",
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Bool(_) => "a boolean",
    }
}

/// Keys that are not typos but settings that moved or no longer exist (most from the seed's Helm
/// values): an explanation helps more than the nearest key name.
fn hint(path: &[Seg], key: &str) -> Option<String> {
    let norm: String = key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    let under = |k: &str| matches!(path.first(), Some(Seg::Key(p)) if p == k);
    let last = |k: &str| matches!(path.last(), Some(Seg::Key(p)) if p == k);
    match norm.as_str() {
        "podsecuritypolicies" | "podsecuritypolicy" | "psp" if under("security") => Some(
            "PodSecurityPolicy was removed in Kubernetes 1.25; use `security.pod_security = \"restricted\"` \
             (Pod Security Admission) instead (see `deaap-gen explain DG0115`)"
                .to_owned(),
        ),
        "tlsdisable" if last("vault") => Some(
            "write `tls = true`; the seed's `tls_disable = 1` is `tls = false`, which production refuses"
                .to_owned(),
        ),
        "testmode" | "productionmode" if last("consensus") => {
            Some("write `mode = \"test\"` or `mode = \"production\"`".to_owned())
        }
        _ => None,
    }
}

/// The closest known name, when it is close enough to be a typo.
#[must_use]
pub fn did_you_mean(given: &str, known: &[String]) -> Option<String> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(given, k), k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k.clone())
}

/// Property names the schema allows for the table at `path`.
fn properties_at(path: &[Seg]) -> Vec<String> {
    let root = schema();
    let mut nodes = vec![root];
    for seg in path {
        let mut next = Vec::new();
        for n in nodes.iter().flat_map(|n| expand(root, n)) {
            match seg {
                Seg::Key(k) => {
                    if let Some(p) = n.get("properties").and_then(|p| p.get(k)) {
                        next.push(p);
                    } else if let Some(a) = n.get("additionalProperties").filter(|a| a.is_object())
                    {
                        next.push(a);
                    }
                }
                Seg::Index(_) => {
                    if let Some(i) = n.get("items") {
                        next.push(i);
                    }
                }
            }
        }
        nodes = next;
    }
    let mut names: Vec<String> = nodes
        .iter()
        .flat_map(|n| expand(root, n))
        .filter_map(|n| n.get("properties").and_then(J::as_object))
        .flat_map(|p| p.keys().cloned())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// A schema node with `$ref`s resolved and `anyOf`/`oneOf`/`allOf` branches flattened.
fn expand<'a>(root: &'a J, node: &'a J) -> Vec<&'a J> {
    let mut out = Vec::new();
    let mut stack = vec![node];
    let mut guard = 0;
    while let Some(n) = stack.pop() {
        guard += 1;
        if guard > 64 {
            break;
        }
        if let Some(r) = n.get("$ref").and_then(J::as_str) {
            if let Some(t) = r.strip_prefix('#').and_then(|p| root.pointer(p)) {
                stack.push(t);
            }
            continue;
        }
        for k in ["anyOf", "oneOf", "allOf"] {
            if let Some(a) = n.get(k).and_then(J::as_array) {
                stack.extend(a.iter());
            }
        }
        out.push(n);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every property of `node`, with its JSON pointer.
    fn properties<'a>(node: &'a J, at: &str, out: &mut Vec<(String, &'a J)>) {
        match node {
            J::Object(map) => {
                if let Some(J::Object(props)) = map.get("properties") {
                    for (k, v) in props {
                        out.push((format!("{at}/properties/{k}"), v));
                    }
                }
                for (k, v) in map {
                    properties(v, &format!("{at}/{k}"), out);
                }
            }
            J::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    properties(v, &format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn every_editor_property_is_described_and_nothing_is_required() {
        let editor = editor_schema();
        let mut all = Vec::new();
        properties(&editor, "", &mut all);
        assert!(all.len() > 200, "{}", all.len());
        let undocumented: Vec<&String> = all
            .iter()
            .filter(|(_, p)| p["description"].as_str().is_none_or(str::is_empty))
            .map(|(at, _)| at)
            .collect();
        assert!(
            undocumented.is_empty(),
            "document these model fields: {undocumented:#?}"
        );
        let text = editor.to_string();
        assert!(
            !text.contains("\"required\""),
            "the editor schema requires keys"
        );
        assert_eq!(editor["$id"], SCHEMA_ID);
        for (definition, property, _) in EXAMPLES {
            let p = &editor["definitions"][definition]["properties"][property];
            assert!(
                p["examples"].is_array(),
                "{definition}.{property} has no examples"
            );
        }
        // Unknown keys stay errors for editors.
        assert_eq!(
            editor["definitions"]["Service"]["additionalProperties"],
            J::Bool(false)
        );
    }

    #[test]
    fn the_validating_schema_keeps_required_keys() {
        assert!(
            schema()["required"]
                .as_array()
                .is_some_and(|r| r.iter().any(|k| k == "environment"))
        );
    }

    #[test]
    fn a_partial_layer_is_valid_for_editors() {
        let editor = editor_schema();
        let validator = Validator::new(&editor).expect("compiles");
        let layer = serde_json::json!({
            "extends": "staging.toml",
            "services": {"doc-ingester": {"replicas": 3}},
        });
        assert!(validator.is_valid(&layer));
        let typo = serde_json::json!({"services": {"doc-ingester": {"replcias": 3}}});
        assert!(!validator.is_valid(&typo));
    }
}
