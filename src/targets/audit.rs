//! The `audit` target: the API server's audit policy (`audit.k8s.io/v1` Policy) from
//! `[[audit.rules]]`, logical namespaces resolved to the environment's names. It is a file for the
//! API server's `--audit-policy-file`, not an object to apply, so it is no manifest.

use crate::model::{AuditLevel, Environment};
use crate::targets::kit;
use crate::targets::{Artifact, Context, Target, TargetError};
use serde::Serialize;

pub(super) struct Audit;

pub(super) static TARGET: Audit = Audit;

const NAME: &str = "audit";

/// The policy file. The API server refuses a policy with no rules, so an environment without
/// rules gets no file.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Policy {
    api_version: &'static str,
    kind: &'static str,
    /// `RequestReceived` repeats what `ResponseComplete` says, at twice the log volume.
    omit_stages: Vec<&'static str>,
    rules: Vec<PolicyRule>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PolicyRule {
    level: AuditLevel,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    namespaces: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    verbs: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    resources: Vec<GroupResources>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupResources {
    group: String,
    resources: Vec<String>,
}

impl Target for Audit {
    fn name(&self) -> &'static str {
        NAME
    }

    fn applies(&self, env: &Environment) -> bool {
        env.is_kubernetes() && !env.audit.rules.is_empty()
    }

    fn generate(&self, cx: &Context<'_>) -> Result<Vec<Artifact>, TargetError> {
        let env = cx.env;
        let policy = Policy {
            api_version: "audit.k8s.io/v1",
            kind: "Policy",
            omit_stages: vec!["RequestReceived"],
            rules: env
                .audit
                .rules
                .iter()
                .map(|r| PolicyRule {
                    level: r.level,
                    namespaces: r
                        .namespaces
                        .iter()
                        .map(|k| env.namespace(*k).to_owned())
                        .collect(),
                    verbs: r.verbs.clone(),
                    resources: r
                        .resources
                        .iter()
                        .map(|g| GroupResources {
                            group: g.group.clone(),
                            resources: g.resources.clone(),
                        })
                        .collect(),
                })
                .collect(),
        };
        Ok(vec![kit::config_file(
            cx,
            NAME,
            "audit/audit-policy.yaml",
            policy.kind,
            &policy,
        )?])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn generate(rel: &str) -> Artifact {
        let env = crate::load_model(&Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap();
        let name = Path::new(rel).file_name().unwrap().to_string_lossy();
        let cx = Context::new(&env, &name, None);
        assert!(TARGET.applies(&env));
        let mut a = TARGET.generate(&cx).unwrap();
        assert_eq!(a.len(), 1);
        a.remove(0)
    }

    /// Both levels, several namespaces and groups (tests/fixtures/audit.toml); the shipped
    /// environments' policies are pinned once, in generated/.
    #[test]
    fn policy_uses_real_namespace_names() {
        let a = generate("tests/fixtures/audit.toml");
        assert!(!a.manifest);
        assert_eq!(a.kinds, ["Policy"]);
        let text = String::from_utf8(a.bytes.to_vec()).unwrap();
        assert!(text.contains("  - mini-core\n  - mini-chain\n"));
        assert!(text.contains("omitStages:\n- RequestReceived\n"));
        // The core group is the empty string, which must stay a quoted empty string.
        assert!(text.contains("group: ''"));
        assert!(text.contains("level: RequestResponse"));
        insta::assert_snapshot!("audit_fixture", text);
    }

    #[test]
    fn minimal_policy() {
        let a = generate("tests/fixtures/minimal.toml");
        let text = String::from_utf8(a.bytes.to_vec()).unwrap();
        assert!(text.contains("- mini-core\n"));
        insta::assert_snapshot!("audit_minimal", text);
    }
}
