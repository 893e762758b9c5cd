//! The `opa` target: the admission policies of `[security.opa]`, generated from the same model as
//! the workloads they admit. Each enabled policy becomes a Gatekeeper `ConstraintTemplate` (its Rego,
//! Rego v1 syntax, plus the schema of its parameters) and a Constraint (enforcement action, the
//! DEAAP namespaces and kinds it matches, and the parameters taken from the model), and the same
//! Rego as a plain module of an OPA bundle (`opa/bundle/deaap/<policy>.rego`, package
//! `deaap.<policy>`) whose parameters live in `opa/bundle/data.json`, for `opa eval` and conftest.
//!
//! Model values reach the policies only as parameters (data checked by the template's schema),
//! never as Rego source; the one filter that can put a string into Rego, `rego_str`, writes it as
//! a JSON string literal, which is also a Rego string literal.

use crate::model::{Enforcement, Environment, NamespaceKey, OpaPolicies};
use crate::render;
use crate::targets::kit::{self, Kind, Object, Role, annotated, policy_meta};
use crate::targets::{Artifact, Context, Target, TargetError};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSON, JSONSchemaProps, JSONSchemaPropsOrArray,
};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[cfg(test)]
mod tests;

pub(super) struct Opa;

/// Gatekeeper's template kind: each template defines the Constraint kind of its policy.
const CONSTRAINT_TEMPLATE: Kind = Kind::cluster(
    "templates.gatekeeper.sh/v1",
    "ConstraintTemplate",
    Role::Definition,
);

/// Gatekeeper's admission target; the only one a `ConstraintTemplate` for Kubernetes objects uses.
const ADMISSION_TARGET: &str = "admission.k8s.gatekeeper.sh";

/// The Kubernetes controllers that delete objects on the cluster's behalf: the namespace
/// controller when a namespace is deleted, the garbage collector when an owner is.
/// Argo CD applies lower waves first and waits for them to be healthy: the templates (whose
/// Constraint kinds Gatekeeper creates) before the Constraints, and both before the workloads
/// (wave 0) they admit.
const SYNC_WAVE: &str = "argocd.argoproj.io/sync-wave";
const TEMPLATE_WAVE: &str = "-2";
const CONSTRAINT_WAVE: &str = "-1";

const SYSTEM_DELETERS: [&str; 2] = [
    "system:serviceaccount:kube-system:namespace-controller",
    "system:serviceaccount:kube-system:generic-garbage-collector",
];

impl Target for Opa {
    fn name(&self) -> &'static str {
        "opa"
    }

    fn applies(&self, env: &Environment) -> bool {
        env.is_kubernetes() && env.security.opa.enabled
    }

    fn generate(&self, cx: &Context<'_>) -> Result<Vec<Artifact>, TargetError> {
        let jinja = templates()?;
        let mut out = Vec::new();
        let mut data = BTreeMap::new();
        for policy in Policy::enabled(&cx.env.security.opa.policies) {
            let params = policy.parameters(cx.env);
            let stem = policy.file_stem();
            out.push(kit::manifest(
                cx,
                self.name(),
                format!("opa/gatekeeper/{stem}-template.yaml"),
                vec![policy.template(cx.env, &jinja)?],
            ));
            out.push(kit::manifest(
                cx,
                self.name(),
                format!("opa/gatekeeper/{stem}-constraint.yaml"),
                vec![policy.constraint(cx.env, params.clone())?],
            ));
            let mut module = render::header(cx);
            module.push_str(&policy.rego(&jinja, false)?);
            out.push(Artifact::file(
                self.name(),
                format!("opa/bundle/deaap/{}.rego", policy.key()),
                module.into_bytes(),
            ));
            data.insert(policy.key(), params.unwrap_or_else(|| json!({})));
        }
        out.push(Artifact::file(
            self.name(),
            "opa/bundle/data.json",
            render::json_bytes(&json!({ "deaap": { "parameters": data } }))?,
        ));
        Ok(out)
    }
}

/// One admission policy of `[security.opa.policies]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Policy {
    RequireLimits,
    NonRoot,
    AllowedRegistries,
    RequiredLabels,
    ConsensusWriters,
}

impl Policy {
    const ALL: [Policy; 5] = [
        Self::RequireLimits,
        Self::NonRoot,
        Self::AllowedRegistries,
        Self::RequiredLabels,
        Self::ConsensusWriters,
    ];

    fn enabled(p: &OpaPolicies) -> impl Iterator<Item = Policy> + '_ {
        Self::ALL.into_iter().filter(|policy| match policy {
            Self::RequireLimits => p.require_limits,
            Self::NonRoot => p.non_root,
            Self::AllowedRegistries => p.allowed_registries,
            Self::RequiredLabels => p.required_labels,
            Self::ConsensusWriters => p.consensus_writers,
        })
    }

    /// The model's name of the policy: the key in `[security.opa.policies]`, the bundle package
    /// `deaap.<key>` and the key of its parameters in `data.json`.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Self::RequireLimits => "require_limits",
            Self::NonRoot => "non_root",
            Self::AllowedRegistries => "allowed_registries",
            Self::RequiredLabels => "required_labels",
            Self::ConsensusWriters => "consensus_writers",
        }
    }

    fn file_stem(self) -> String {
        self.key().replace('_', "-")
    }

    /// The Constraint kind; the template's name is its lowercase.
    pub(crate) fn kind(self) -> &'static str {
        match self {
            Self::RequireLimits => "DeaapRequireLimits",
            Self::NonRoot => "DeaapNonRoot",
            Self::AllowedRegistries => "DeaapAllowedRegistries",
            Self::RequiredLabels => "DeaapRequiredLabels",
            Self::ConsensusWriters => "DeaapConsensusWriters",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Self::RequireLimits => {
                "Every container and init container sets CPU and memory limits above zero, with \
                 requests within them."
            }
            Self::NonRoot => {
                "Pods and pod templates meet the restricted Pod Security Standard, control by \
                 control: no host namespaces, host processes, privileged containers, hostPath \
                 volumes or host ports; only NET_BIND_SERVICE added and ALL dropped; AppArmor, \
                 SELinux, /proc mount and sysctls as baseline allows; only the restricted volume \
                 types; no privilege escalation; non-root, never UID 0; seccomp RuntimeDefault or \
                 Localhost."
            }
            Self::AllowedRegistries => {
                "Images come only from the allowed registries and are pinned: never :latest, \
                 never untagged."
            }
            Self::RequiredLabels => {
                "Workloads and their pod (and job) templates carry the required labels."
            }
            Self::ConsensusWriters => {
                "Only the consensus writer's service account creates, updates or deletes \
                 deaap.io consensus validations."
            }
        }
    }

    fn source(self) -> &'static str {
        match self {
            Self::RequireLimits => "opa/require_limits.rego",
            Self::NonRoot => "opa/non_root.rego",
            Self::AllowedRegistries => "opa/allowed_registries.rego",
            Self::RequiredLabels => "opa/required_labels.rego",
            Self::ConsensusWriters => "opa/consensus_writers.rego",
        }
    }

    /// The Rego module: for Gatekeeper (package named after the template, parameters from the
    /// Constraint) or for the bundle (package `deaap.<key>`, parameters from `data.json`).
    fn rego(
        self,
        jinja: &minijinja::Environment<'_>,
        gatekeeper: bool,
    ) -> Result<String, TargetError> {
        let package = if gatekeeper {
            self.kind().to_lowercase()
        } else {
            format!("deaap.{}", self.key())
        };
        let text = jinja.get_template(self.source())?.render(minijinja::context! {
            package => package,
            gatekeeper => gatekeeper,
            policy => self.key(),
            kinds => self.match_kinds().iter().flat_map(|m| m.kinds.clone()).collect::<Vec<_>>(),
        })?;
        Ok(text)
    }

    /// What the policy matches: Pods and every kind that carries a pod template, or the
    /// consensus-validation resources.
    fn match_kinds(self) -> Vec<MatchKind> {
        match self {
            Self::ConsensusWriters => vec![MatchKind {
                api_groups: vec!["deaap.io"],
                kinds: vec!["ConsensusValidation"],
            }],
            _ => vec![
                MatchKind {
                    api_groups: vec![""],
                    kinds: vec!["Pod"],
                },
                MatchKind {
                    api_groups: vec!["apps"],
                    kinds: vec!["DaemonSet", "Deployment", "ReplicaSet", "StatefulSet"],
                },
                MatchKind {
                    api_groups: vec!["batch"],
                    kinds: vec!["CronJob", "Job"],
                },
            ],
        }
    }

    /// The DEAAP namespaces the Constraint matches. The monitoring namespace holds the
    /// kube-prometheus-stack chart (upstream images, the chart's own labels, a node exporter on
    /// the host network), which the pod-level policies would refuse; they cover it only when a
    /// workload of the model runs there.
    fn namespaces(self, env: &Environment) -> Vec<String> {
        let model_workload_in = |key: NamespaceKey| {
            env.enabled_services().any(|(_, s)| s.namespace == key)
                || env.enabled_storage().any(|(_, s)| s.namespace == key)
        };
        env.namespaces
            .iter()
            .filter(|(key, _)| {
                self == Self::ConsensusWriters
                    || *key != NamespaceKey::Monitoring
                    || !env.monitoring.enabled
                    || model_workload_in(*key)
            })
            .map(|(_, n)| n.to_owned())
            .collect()
    }

    fn operations(self) -> Vec<&'static str> {
        match self {
            Self::ConsensusWriters => vec!["CREATE", "UPDATE", "DELETE"],
            _ => vec!["CREATE", "UPDATE"],
        }
    }

    /// The Constraint's parameters, from the model. `None` for a policy without any.
    fn parameters(self, env: &Environment) -> Option<Value> {
        match self {
            Self::RequireLimits => Some(json!({ "resources": ["cpu", "memory"] })),
            Self::NonRoot => None,
            Self::AllowedRegistries => Some(json!({ "registries": env.images.allowed() })),
            Self::RequiredLabels => Some(json!({ "labels": env.security.opa.required_labels })),
            Self::ConsensusWriters => Some(json!({
                "writers": [{
                    "namespace": writer_namespace(env),
                    "name": env.consensus.writer_service,
                }],
                "deleters": SYSTEM_DELETERS,
            })),
        }
    }

    /// The structural `OpenAPI` v3 schema of the parameters; Kubernetes checks every Constraint
    /// against it before Gatekeeper sees the values.
    fn schema(self) -> JSONSchemaProps {
        let properties: Vec<(&str, JSONSchemaProps)> = match self {
            Self::RequireLimits => vec![(
                "resources",
                array_of(JSONSchemaProps {
                    enum_: Some(vec![JSON(json!("cpu")), JSON(json!("memory"))]),
                    ..string()
                })
                .described("Resources every container must limit."),
            )],
            Self::NonRoot => vec![],
            Self::AllowedRegistries => vec![(
                "registries",
                JSONSchemaProps {
                    min_items: Some(1),
                    ..array_of(non_empty_string())
                }
                .described("Registry prefixes (host and optional path) images may come from."),
            )],
            Self::RequiredLabels => vec![(
                "labels",
                array_of(non_empty_string()).described("Label keys every workload must carry."),
            )],
            Self::ConsensusWriters => vec![
                (
                    "writers",
                    JSONSchemaProps {
                        min_items: Some(1),
                        ..array_of(object_of(
                            vec![
                                ("namespace", non_empty_string()),
                                ("name", non_empty_string()),
                            ],
                            true,
                        ))
                    }
                    .described("Service accounts allowed to write consensus validations."),
                ),
                (
                    "deleters",
                    array_of(non_empty_string())
                        .described("User names also allowed to delete them (cluster controllers)."),
                ),
            ],
        };
        object_of(properties, false)
    }

    fn template(
        self,
        env: &Environment,
        jinja: &minijinja::Environment<'_>,
    ) -> Result<Object, TargetError> {
        CONSTRAINT_TEMPLATE.object(
            annotated(
                annotated(
                    policy_meta(env, &self.kind().to_lowercase()),
                    "description",
                    self.description(),
                ),
                SYNC_WAVE,
                TEMPLATE_WAVE,
            ),
            TemplateSpec {
                crd: Crd {
                    spec: CrdSpec {
                        names: Names { kind: self.kind() },
                        validation: Validation {
                            open_api_v3_schema: self.schema(),
                        },
                    },
                },
                targets: vec![TemplateTarget {
                    target: ADMISSION_TARGET,
                    code: vec![Code {
                        engine: "Rego",
                        source: RegoSource {
                            version: "v1",
                            rego: self.rego(jinja, true)?,
                        },
                    }],
                    operations: self.operations(),
                }],
            },
        )
    }

    /// The Constraint: an instance of the kind the policy's template defines.
    fn constraint(
        self,
        env: &Environment,
        parameters: Option<Value>,
    ) -> Result<Object, TargetError> {
        let kind = Kind::cluster(
            "constraints.gatekeeper.sh/v1beta1",
            self.kind(),
            Role::Instance,
        );
        kind.object(
            // The Constraint's kind exists only once Gatekeeper has read the template, so a dry
            // run before the first sync cannot know it.
            annotated(
                annotated(
                    policy_meta(env, &format!("deaap-{}", self.file_stem())),
                    "argocd.argoproj.io/sync-options",
                    "SkipDryRunOnMissingResource=true",
                ),
                SYNC_WAVE,
                CONSTRAINT_WAVE,
            ),
            ConstraintSpec {
                enforcement_action: enforcement_action(env.security.opa.enforcement),
                match_: Match {
                    kinds: self.match_kinds(),
                    namespaces: self.namespaces(env),
                },
                parameters,
            },
        )
    }
}

/// The namespace of the consensus writer's service account: the writer service's own namespace,
/// or the core namespace when the writer is not a service of the model.
fn writer_namespace(env: &Environment) -> &str {
    env.services
        .get(&env.consensus.writer_service)
        .map_or(&env.namespaces.core, |s| env.namespace(s.namespace))
}

/// Gatekeeper's `spec.enforcementAction` values.
fn enforcement_action(e: Enforcement) -> &'static str {
    match e {
        Enforcement::Deny => "deny",
        Enforcement::Warn => "warn",
        Enforcement::Dryrun => "dryrun",
    }
}

fn string() -> JSONSchemaProps {
    JSONSchemaProps {
        type_: Some("string".to_owned()),
        ..JSONSchemaProps::default()
    }
}

fn non_empty_string() -> JSONSchemaProps {
    JSONSchemaProps {
        min_length: Some(1),
        ..string()
    }
}

fn array_of(items: JSONSchemaProps) -> JSONSchemaProps {
    JSONSchemaProps {
        type_: Some("array".to_owned()),
        items: Some(JSONSchemaPropsOrArray::Schema(Box::new(items))),
        ..JSONSchemaProps::default()
    }
}

fn object_of(properties: Vec<(&str, JSONSchemaProps)>, all_required: bool) -> JSONSchemaProps {
    let required: Vec<String> = properties.iter().map(|(k, _)| (*k).to_owned()).collect();
    JSONSchemaProps {
        type_: Some("object".to_owned()),
        properties: (!properties.is_empty()).then(|| {
            properties
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect()
        }),
        required: all_required.then_some(required),
        ..JSONSchemaProps::default()
    }
}

trait Described {
    fn described(self, text: &str) -> Self;
}

impl Described for JSONSchemaProps {
    fn described(self, text: &str) -> Self {
        Self {
            description: Some(text.to_owned()),
            ..self
        }
    }
}

/// The Rego templates, with strict undefined variables so a typo fails the build instead of
/// emitting an empty string into a policy.
fn templates() -> Result<minijinja::Environment<'static>, TargetError> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()?,
    );
    env.add_filter("rego_str", rego_str);
    for (name, text) in [
        (
            "opa/_common.rego",
            include_str!("../../../templates/opa/_common.rego"),
        ),
        (
            "opa/require_limits.rego",
            include_str!("../../../templates/opa/require_limits.rego"),
        ),
        (
            "opa/non_root.rego",
            include_str!("../../../templates/opa/non_root.rego"),
        ),
        (
            "opa/allowed_registries.rego",
            include_str!("../../../templates/opa/allowed_registries.rego"),
        ),
        (
            "opa/required_labels.rego",
            include_str!("../../../templates/opa/required_labels.rego"),
        ),
        (
            "opa/consensus_writers.rego",
            include_str!("../../../templates/opa/consensus_writers.rego"),
        ),
    ] {
        env.add_template(name, text)?;
    }
    Ok(env)
}

/// A Rego string literal of any value: JSON string syntax is Rego's, so quotes, backslashes,
/// newlines and operators inside the value stay inside the literal.
pub(crate) fn rego_str(value: &str) -> Result<String, minijinja::Error> {
    serde_json::to_string(value)
        .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string()))
}

// ── Gatekeeper CRDs (templates.gatekeeper.sh/v1, constraints.gatekeeper.sh/v1beta1) ───────────

#[derive(Debug, Serialize)]
struct TemplateSpec {
    crd: Crd,
    targets: Vec<TemplateTarget>,
}

#[derive(Debug, Serialize)]
struct Crd {
    spec: CrdSpec,
}

#[derive(Debug, Serialize)]
struct CrdSpec {
    names: Names,
    validation: Validation,
}

#[derive(Debug, Serialize)]
struct Names {
    kind: &'static str,
}

#[derive(Debug, Serialize)]
struct Validation {
    #[serde(rename = "openAPIV3Schema")]
    open_api_v3_schema: JSONSchemaProps,
}

#[derive(Debug, Serialize)]
struct TemplateTarget {
    target: &'static str,
    code: Vec<Code>,
    operations: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
struct Code {
    engine: &'static str,
    source: RegoSource,
}

/// Rego with an explicit language version; Gatekeeper parses `v1` sources with Rego v1 syntax.
#[derive(Debug, Serialize)]
struct RegoSource {
    version: &'static str,
    rego: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ConstraintSpec {
    enforcement_action: &'static str,
    #[serde(rename = "match")]
    match_: Match,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<Value>,
}

#[derive(Debug, Serialize)]
struct Match {
    kinds: Vec<MatchKind>,
    namespaces: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct MatchKind {
    api_groups: Vec<&'static str>,
    kinds: Vec<&'static str>,
}
