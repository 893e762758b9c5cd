//! The platform's own kinds: the `CustomResourceDefinitions` of the API group `deaap.io`
//! (`ConsensusValidation`, `AgentDeployment`).
//!
//! Their one source is [`SOURCE_PATH`], written by hand and installed by the deaap chart from its
//! `crds/` folder. deaap-gen compiles the same file in: the `crds` target writes it into every
//! Kubernetes environment, the audit rule DG0127 checks the resources a policy names against it,
//! and the Gatekeeper policies match only kinds it defines.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde::Deserialize;
use std::sync::LazyLock;

/// Where the definitions are written, relative to the repository root.
pub const SOURCE_PATH: &str = "charts/deaap/crds/deaap.io.yaml";

/// The definitions as written.
pub const SOURCE: &str = include_str!("../charts/deaap/crds/deaap.io.yaml");

/// The API group every definition of [`SOURCE`] defines a kind of.
pub const GROUP: &str = "deaap.io";

/// One definition: typed, and its `spec` as written. k8s-openapi reads a schema's `minimum` and
/// `maximum` as floats, so the objects deaap-gen writes take the spec from the source as it is.
#[derive(Debug)]
pub struct Definition {
    pub crd: CustomResourceDefinition,
    pub spec: serde_json::Value,
}

static DEFINITIONS: LazyLock<Result<Vec<Definition>, String>> = LazyLock::new(|| parse(SOURCE));

/// Every definition, in the order of the source.
///
/// # Errors
/// The source is not a stream of `CustomResourceDefinitions` (a defect its tests catch).
pub fn definitions() -> Result<&'static [Definition], &'static str> {
    DEFINITIONS.as_deref().map_err(String::as_str)
}

fn parse(text: &str) -> Result<Vec<Definition>, String> {
    let invalid = |e: &dyn std::fmt::Display| {
        format!("{SOURCE_PATH} is not a stream of CustomResourceDefinitions: {e}")
    };
    serde_yaml::Deserializer::from_str(text)
        .map(|doc| {
            let value = serde_json::Value::deserialize(doc).map_err(|e| invalid(&e))?;
            let crd = CustomResourceDefinition::deserialize(&value).map_err(|e| invalid(&e))?;
            Ok(Definition {
                crd,
                spec: value["spec"].clone(),
            })
        })
        .collect()
}

/// One resource a definition serves, by the names the API server knows it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub group: &'static str,
    pub kind: &'static str,
    /// What URLs, RBAC rules and audit policies name it by (`consensusvalidations`).
    pub plural: &'static str,
    /// The other names `kubectl` accepts: the singular, the short names and the kind in lower case.
    pub aliases: Vec<String>,
    /// The subresources it serves (`status`, `scale`).
    pub subresources: Vec<&'static str>,
    /// The versions it serves.
    pub versions: Vec<&'static str>,
}

/// The resources of every definition, in the order of the source.
///
/// # Errors
/// As [`definitions`].
pub fn resources() -> Result<Vec<Resource>, &'static str> {
    Ok(definitions()?.iter().map(resource).collect())
}

fn resource(d: &'static Definition) -> Resource {
    let d = &d.crd;
    let names = &d.spec.names;
    let mut aliases: Vec<String> = names.singular.iter().cloned().collect();
    aliases.extend(names.short_names.iter().flatten().cloned());
    aliases.push(names.kind.to_lowercase());
    aliases.sort();
    aliases.dedup();
    let mut subresources = Vec::new();
    let mut versions = Vec::new();
    for v in d.spec.versions.iter().filter(|v| v.served) {
        versions.push(v.name.as_str());
        let s = v.subresources.as_ref();
        if s.is_some_and(|s| s.status.is_some()) {
            subresources.push("status");
        }
        if s.is_some_and(|s| s.scale.is_some()) {
            subresources.push("scale");
        }
    }
    subresources.sort_unstable();
    subresources.dedup();
    Resource {
        group: &d.spec.group,
        kind: &names.kind,
        plural: &names.plural,
        aliases,
        subresources,
        versions,
    }
}

/// Whether a definition defines `kind` in `group`.
#[must_use]
pub fn defines_kind(group: &str, kind: &str) -> bool {
    resources().is_ok_and(|rs| rs.iter().any(|r| r.group == group && r.kind == kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
        JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
    };

    fn all() -> impl Iterator<Item = &'static CustomResourceDefinition> {
        definitions()
            .expect("the source parses")
            .iter()
            .map(|d| &d.crd)
    }

    #[test]
    fn the_source_defines_the_two_kinds_of_deaap_io() {
        let rs = resources().expect("the source parses");
        let names: Vec<(&str, &str, &str)> =
            rs.iter().map(|r| (r.group, r.kind, r.plural)).collect();
        assert_eq!(
            names,
            [
                (GROUP, "ConsensusValidation", "consensusvalidations"),
                (GROUP, "AgentDeployment", "agentdeployments"),
            ]
        );
        for d in all() {
            let name = d.metadata.name.as_deref().unwrap_or_default();
            assert_eq!(
                name,
                format!("{}.{}", d.spec.names.plural, d.spec.group),
                "a definition is named <plural>.<group>"
            );
            assert_eq!(d.spec.scope, "Namespaced", "{name}");
            let served: Vec<(&str, bool)> = d
                .spec
                .versions
                .iter()
                .map(|v| (v.name.as_str(), v.storage))
                .collect();
            assert_eq!(served, [("v1alpha1", true)], "{name}");
            assert!(
                d.spec
                    .names
                    .short_names
                    .as_ref()
                    .is_some_and(|s| !s.is_empty()),
                "{name}"
            );
            assert!(d.spec.names.list_kind.is_some(), "{name}");
        }
        assert!(rs.iter().all(|r| r.subresources.contains(&"status")));
        assert_eq!(rs[1].subresources, ["scale", "status"]);
        assert!(rs[0].aliases.contains(&"consensusvalidation".to_owned()));
        assert!(defines_kind(GROUP, "AgentDeployment"));
        assert!(!defines_kind(GROUP, "Agent"));
        assert!(!defines_kind("apps", "AgentDeployment"));
    }

    /// Every field of the source is one the API knows: read into the typed definition and written
    /// back, nothing is lost (numbers compared as numbers, since the typed schema holds floats).
    #[test]
    fn the_source_has_no_field_the_api_does_not_know() {
        fn numbers_as_floats(v: &mut serde_json::Value) {
            match v {
                serde_json::Value::Number(n) => {
                    *v = serde_json::json!(n.as_f64());
                }
                serde_json::Value::Array(a) => a.iter_mut().for_each(numbers_as_floats),
                serde_json::Value::Object(o) => o.values_mut().for_each(numbers_as_floats),
                _ => {}
            }
        }
        let written: Vec<serde_json::Value> = serde_yaml::Deserializer::from_str(SOURCE)
            .map(|d| serde_json::Value::deserialize(d).expect("YAML"))
            .collect();
        assert_eq!(written.len(), 2);
        for (d, mut w) in definitions().expect("parses").iter().zip(written) {
            assert_eq!(d.spec, w["spec"]);
            let mut typed = serde_json::to_value(&d.crd).expect("serializes");
            numbers_as_floats(&mut typed);
            numbers_as_floats(&mut w);
            assert_eq!(typed, w);
        }
    }

    /// The API server accepts only structural schemas: every node says its type (or is an
    /// int-or-string), every array its items, `required` names properties that exist; and each
    /// printer column reads a field the schema has.
    #[test]
    fn the_schemas_are_structural_and_the_columns_exist() {
        fn walk(at: &str, s: &JSONSchemaProps, problems: &mut Vec<String>) {
            let int_or_string = s.x_kubernetes_int_or_string == Some(true);
            if s.type_.is_none() && !int_or_string {
                problems.push(format!("{at} has no type"));
            }
            if s.type_.as_deref() == Some("array") && s.items.is_none() {
                problems.push(format!("{at} is an array without items"));
            }
            if s.type_.as_deref() == Some("object") && !at.ends_with(".metadata") {
                let has_fields = s.properties.is_some() || s.additional_properties.is_some();
                if !has_fields {
                    problems.push(format!("{at} is an object without properties"));
                }
            }
            if s.description.is_none() && !at.ends_with("[]") && !at.ends_with("{}") {
                problems.push(format!("{at} has no description"));
            }
            let properties = s.properties.as_ref();
            for r in s.required.iter().flatten() {
                if !properties.is_some_and(|p| p.contains_key(r)) {
                    problems.push(format!("{at} requires `{r}`, which it does not have"));
                }
            }
            for (k, p) in properties.into_iter().flatten() {
                walk(&format!("{at}.{k}"), p, problems);
            }
            if let Some(JSONSchemaPropsOrArray::Schema(items)) = &s.items {
                walk(&format!("{at}[]"), items, problems);
            }
            if let Some(JSONSchemaPropsOrBool::Schema(v)) = &s.additional_properties {
                walk(&format!("{at}{{}}"), v, problems);
            }
        }
        let mut problems = Vec::new();
        for d in all() {
            for v in &d.spec.versions {
                let kind = &d.spec.names.kind;
                let Some(schema) = v
                    .schema
                    .as_ref()
                    .and_then(|s| s.open_api_v3_schema.as_ref())
                else {
                    problems.push(format!("{kind} has no schema"));
                    continue;
                };
                let mut found = Vec::new();
                walk(kind, schema, &mut found);
                // The root's metadata is the API server's to describe.
                found.retain(|p| p != &format!("{kind}.metadata has no description"));
                problems.extend(found);
                for c in v.additional_printer_columns.iter().flatten() {
                    let mut node = Some(schema);
                    for part in c.json_path.trim_start_matches('.').split('.') {
                        if part == "metadata" {
                            break;
                        }
                        node = node.and_then(|n| n.properties.as_ref()?.get(part));
                    }
                    if node.is_none() {
                        problems.push(format!(
                            "{kind}'s column {} reads {}, which the schema lacks",
                            c.name, c.json_path
                        ));
                    }
                }
                if let Some(scale) = v.subresources.as_ref().and_then(|s| s.scale.as_ref()) {
                    assert_eq!(scale.spec_replicas_path, ".spec.replicas", "{kind}");
                }
            }
        }
        assert!(problems.is_empty(), "{problems:#?}");
    }
}
