//! The proof that the generated policies mean what they say: every template is compiled and
//! evaluated by regorus, an independent Rego engine, the way Gatekeeper would run it (its
//! Constraint's match, operations and parameters), against the objects deaap-gen itself deploys
//! (zero violations) and against deliberately bad objects (each denied, with a message naming it).

use super::{Opa, Policy, rego_str, templates};
use crate::model::{Enforcement, Environment};
use crate::proof::admission::{self, gatekeeper::review_input, gatekeeper::with_children};
use crate::targets::testkit::load;
use crate::targets::{Artifact, Context, Target, generate_all, registry};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

fn opa(env: &Environment) -> Vec<Artifact> {
    Opa.generate(&Context::new(env, "test.toml", None)).unwrap()
}

fn text(a: &Artifact) -> &str {
    std::str::from_utf8(&a.bytes).unwrap()
}

fn yaml_docs(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

fn fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/opa")
        .join(name);
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The kinds that carry pods, which the pod-level policies inspect.
const POD_KINDS: [&str; 7] = [
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
];

/// Who applies deaap-gen's output in a cluster.
const DEPLOYER: &str = "system:serviceaccount:argocd:argocd-application-controller";

/// The library's Gatekeeper (the one the admission proof runs), answering with the policy of each
/// violation.
struct Gatekeeper {
    inner: admission::Gatekeeper,
}

impl Gatekeeper {
    fn new(artifacts: &[Artifact]) -> Self {
        for a in artifacts
            .iter()
            .filter(|a| a.path.starts_with("opa/gatekeeper/"))
        {
            assert!(a.manifest, "{} is not streamed as a manifest", a.path);
            for doc in yaml_docs(text(a)) {
                if doc["kind"] == "ConstraintTemplate" {
                    let kind = doc["spec"]["crd"]["spec"]["names"]["kind"]
                        .as_str()
                        .unwrap();
                    assert_eq!(doc["metadata"]["name"], kind.to_lowercase());
                    let target = &doc["spec"]["targets"][0];
                    assert_eq!(target["target"], "admission.k8s.gatekeeper.sh");
                    assert_eq!(target["code"][0]["engine"], "Rego");
                    assert_eq!(target["code"][0]["source"]["version"], "v1");
                }
            }
        }
        Self {
            inner: admission::Gatekeeper::from_artifacts(artifacts).unwrap(),
        }
    }

    fn constraints(&self) -> usize {
        self.inner.constraints().len()
    }

    fn evaluations(&self) -> usize {
        self.inner.evaluations
    }

    /// Every violation of every constraint that matches the review, as (policy, message).
    fn review(&mut self, obj: &Value, operation: &str, username: &str) -> Vec<(Policy, String)> {
        self.inner
            .review(obj, operation, username)
            .unwrap()
            .into_iter()
            .map(|d| {
                let policy = *Policy::ALL.iter().find(|p| p.kind() == d.kind).unwrap();
                (policy, d.message)
            })
            .collect()
    }
}

fn violations(engine: &mut regorus::Engine, rule: &str) -> Vec<String> {
    let value = engine
        .eval_rule(rule.to_owned())
        .unwrap_or_else(|e| panic!("{rule}: {e}"));
    let value: Value = serde_json::from_str(&value.to_json_str().unwrap()).unwrap();
    value
        .as_array()
        .unwrap_or_else(|| panic!("{rule} is not a set: {value}"))
        .iter()
        .map(|v| v["msg"].as_str().unwrap().to_owned())
        .collect()
}

#[derive(Deserialize)]
struct Case {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    expect: Vec<String>,
    #[serde(default = "create")]
    operation: String,
    #[serde(default = "deployer")]
    username: String,
    object: Value,
}

fn create() -> String {
    "CREATE".to_owned()
}

fn deployer() -> String {
    DEPLOYER.to_owned()
}

fn all_policies_on(mut env: Environment) -> Environment {
    let p = &mut env.security.opa.policies;
    p.require_limits = true;
    p.non_root = true;
    p.allowed_registries = true;
    p.required_labels = true;
    p.consensus_writers = true;
    env.security.opa.enabled = true;
    env
}

#[test]
fn generated_workloads_of_staging_and_production_are_admitted() {
    let kubernetes_registered = registry().iter().any(|t| t.name() == "kubernetes");
    for name in ["staging", "production"] {
        let env = load(&format!("environments/{name}.toml"));
        let artifacts = generate_all(&Context::new(&env, "test.toml", None)).unwrap();
        let mut gk = Gatekeeper::new(&artifacts);
        assert_eq!(gk.constraints(), 5, "{name}: every policy is enabled");
        let mut denied = Vec::new();
        let (mut workloads, mut reviewed) = (0, 0);
        for a in artifacts.iter().filter(|a| {
            // The log collector runs in the monitoring namespace, which the pod-level
            // constraints leave to the charts there (it runs as root to read the nodes' logs).
            a.manifest
                && a.target != "opa"
                && a.target != "logging"
                && a.kinds.iter().any(|k| POD_KINDS.contains(&k.as_str()))
        }) {
            for obj in yaml_docs(text(a)) {
                if !POD_KINDS.contains(&obj["kind"].as_str().unwrap_or_default()) {
                    continue;
                }
                workloads += 1;
                for o in with_children(&obj) {
                    reviewed += 1;
                    for (policy, msg) in gk.review(&o, "CREATE", DEPLOYER) {
                        denied.push(format!("{} ({}): {msg}", a.path, policy.key()));
                    }
                }
            }
        }
        eprintln!(
            "{name}: {workloads} generated workloads, {reviewed} objects reviewed (with the \
             ReplicaSets, Jobs and Pods their controllers create), {} policy evaluations, {} \
             violations",
            gk.evaluations(),
            denied.len()
        );
        assert!(
            denied.is_empty(),
            "{name}: generated objects denied:\n{}",
            denied.join("\n")
        );
        if kubernetes_registered {
            assert!(
                workloads > 0,
                "{name}: the kubernetes target generated no workloads"
            );
            // Each object is seen by the four pod-level policies: none slipped past the match.
            assert_eq!(
                gk.evaluations(),
                reviewed * 4,
                "{name}: objects outside the constraints' match"
            );
        }
    }
}

#[test]
fn secure_workloads_are_admitted() {
    let env = load("environments/production.toml");
    let mut gk = Gatekeeper::new(&opa(&env));
    let cases: Vec<Case> = fixture("good-objects.yaml");
    let mut reviewed = 0;
    for case in &cases {
        for o in with_children(&case.object) {
            let denied = gk.review(&o, &case.operation, &case.username);
            assert!(
                denied.is_empty(),
                "{}: {} denied: {denied:?}",
                case.name.as_deref().unwrap_or("case"),
                o["kind"]
            );
            reviewed += 1;
        }
    }
    assert!(
        reviewed > cases.len(),
        "controllers' children were reviewed too"
    );
}

#[test]
fn each_policy_denies_its_bad_objects_naming_them() {
    let env = load("environments/production.toml");
    let mut gk = Gatekeeper::new(&opa(&env));
    let cases: Vec<Case> = fixture("bad-objects.yaml");
    for policy in Policy::ALL {
        assert!(
            cases
                .iter()
                .any(|c| c.policy.as_deref() == Some(policy.key())),
            "no bad object for {}",
            policy.key()
        );
    }
    for case in &cases {
        let key = case.policy.as_deref().unwrap();
        let denied: Vec<String> = gk
            .review(&case.object, &case.operation, &case.username)
            .into_iter()
            .filter(|(p, _)| p.key() == key)
            .map(|(_, m)| m)
            .collect();
        assert!(
            !denied.is_empty(),
            "{key} admitted {}",
            case.object["metadata"]["name"]
        );
        for want in &case.expect {
            assert!(
                denied.iter().any(|m| m.contains(want.as_str())),
                "{key}: no message contains {want:?}; got {denied:#?}"
            );
        }
        let subject = format!(
            "{} {}/{}: ",
            case.object["kind"].as_str().unwrap(),
            case.object["metadata"]["namespace"].as_str().unwrap(),
            case.object["metadata"]["name"].as_str().unwrap()
        );
        for m in &denied {
            assert!(m.starts_with(&subject), "{m:?} does not name the object");
        }
    }
}

/// The bundle is the same policy for `opa eval` and conftest: bare objects in, parameters from
/// data.json.
#[test]
fn bundle_modules_deny_and_admit_like_the_templates() {
    let env = load("environments/production.toml");
    let artifacts = opa(&env);
    let mut engine = regorus::Engine::new();
    let mut packages = BTreeMap::new();
    for a in &artifacts {
        if let Some(rest) = a.path.strip_prefix("opa/bundle/deaap/") {
            assert!(
                text(a).starts_with("# Generated by deaap-gen"),
                "{}",
                a.path
            );
            let package = engine
                .add_policy(a.path.clone(), text(a).to_owned())
                .unwrap();
            packages.insert(rest.trim_end_matches(".rego").to_owned(), package);
        }
    }
    assert_eq!(packages.len(), 5);
    for (key, package) in &packages {
        assert_eq!(*package, format!("data.deaap.{key}"));
    }
    let data = artifacts
        .iter()
        .find(|a| a.path == "opa/bundle/data.json")
        .unwrap();
    engine.add_data_json(text(data)).unwrap();

    let bad: Vec<Case> = fixture("bad-objects.yaml");
    for case in &bad {
        let key = case.policy.as_deref().unwrap();
        let input = if key == "consensus_writers" {
            review_input(&case.object, &case.operation, &case.username, None)
        } else {
            case.object.clone()
        };
        engine.set_input(regorus::Value::from_json_str(&input.to_string()).unwrap());
        let denied = violations(&mut engine, &format!("data.deaap.{key}.violation"));
        for want in &case.expect {
            assert!(
                denied.iter().any(|m| m.contains(want.as_str())),
                "bundle {key}: no message contains {want:?}; got {denied:#?}"
            );
        }
    }
    let good: Vec<Case> = fixture("good-objects.yaml");
    for case in good
        .iter()
        .filter(|c| c.object["kind"] != "ConsensusValidation")
    {
        for o in with_children(&case.object) {
            engine.set_input(regorus::Value::from_json_str(&o.to_string()).unwrap());
            for key in packages.keys() {
                let denied = violations(&mut engine, &format!("data.deaap.{key}.violation"));
                assert!(
                    denied.is_empty(),
                    "bundle {key} denied {}: {denied:?}",
                    o["kind"]
                );
            }
        }
    }
}

#[test]
fn constraints_carry_the_model_and_parameters_fit_the_template_schema() {
    let mut env = load("environments/production.toml");
    env.security.opa.enforcement = Enforcement::Warn;
    let artifacts = opa(&env);
    let docs: Vec<Value> = artifacts
        .iter()
        .filter(|a| a.path.starts_with("opa/gatekeeper/"))
        .flat_map(|a| yaml_docs(text(a)))
        .collect();
    let schema_of = |kind: &str| {
        docs.iter()
            .find(|d| {
                d["kind"] == "ConstraintTemplate"
                    && d["spec"]["crd"]["spec"]["names"]["kind"] == kind
            })
            .map(|d| d["spec"]["crd"]["spec"]["validation"]["openAPIV3Schema"].clone())
            .unwrap()
    };
    let mut seen = 0;
    for c in docs
        .iter()
        .filter(|d| d["apiVersion"] == "constraints.gatekeeper.sh/v1beta1")
    {
        seen += 1;
        assert_eq!(c["spec"]["enforcementAction"], "warn");
        let namespaces = if c["kind"] == "DeaapConsensusWriters" {
            json!([
                "deaap-core",
                "deaap-blockchain",
                "deaap-storage",
                "deaap-monitoring"
            ])
        } else {
            // The monitoring namespace runs the upstream monitoring chart, not model workloads.
            json!(["deaap-core", "deaap-blockchain", "deaap-storage"])
        };
        assert_eq!(
            c["spec"]["match"]["namespaces"], namespaces,
            "{}",
            c["kind"]
        );
        let schema = schema_of(c["kind"].as_str().unwrap());
        assert_eq!(
            schema["type"], "object",
            "structural schemas have a type at the root"
        );
        let params = c["spec"].get("parameters").cloned().unwrap_or(json!({}));
        let validator = jsonschema::draft4::new(&schema).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&params)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", c["kind"]);
        // The schema is not a formality: it refuses a wrong shape.
        if params.as_object().is_some_and(|o| !o.is_empty()) {
            let (k, _) = params.as_object().unwrap().iter().next().unwrap();
            assert!(
                !validator.is_valid(&json!({ k: "not a list" })),
                "{}",
                c["kind"]
            );
        }
    }
    assert_eq!(seen, 5);
    let by_kind = |kind: &str| docs.iter().find(|d| d["kind"] == kind).unwrap().clone();
    assert_eq!(
        by_kind("DeaapAllowedRegistries")["spec"]["parameters"]["registries"],
        json!(["registry.deaap.company.com"])
    );
    assert_eq!(
        by_kind("DeaapConsensusWriters")["spec"]["parameters"]["writers"],
        json!([{"namespace": "deaap-core", "name": "consensus-manager"}])
    );
    assert_eq!(
        by_kind("DeaapConsensusWriters")["spec"]["match"]["kinds"],
        json!([{"apiGroups": ["deaap.io"], "kinds": ["ConsensusValidation"]}])
    );
    // A model workload in the monitoring namespace brings it under the pod-level policies.
    env.services.get_mut("mineru").unwrap().namespace = crate::model::NamespaceKey::Monitoring;
    let limits = opa(&env)
        .iter()
        .filter(|a| a.path == "opa/gatekeeper/require-limits-constraint.yaml")
        .flat_map(|a| yaml_docs(text(a)))
        .next()
        .unwrap();
    assert_eq!(
        limits["spec"]["match"]["namespaces"],
        json!([
            "deaap-core",
            "deaap-blockchain",
            "deaap-storage",
            "deaap-monitoring"
        ])
    );
    // The writer's service account lives where the writer service runs.
    env.services.get_mut("consensus-manager").unwrap().namespace =
        crate::model::NamespaceKey::Blockchain;
    let moved = opa(&env)
        .iter()
        .filter(|a| a.path == "opa/gatekeeper/consensus-writers-constraint.yaml")
        .flat_map(|a| yaml_docs(text(a)))
        .next()
        .unwrap();
    assert_eq!(
        moved["spec"]["parameters"]["writers"],
        json!([{"namespace": "deaap-blockchain", "name": "consensus-manager"}])
    );
    assert_eq!(
        by_kind("DeaapRequiredLabels")["spec"]["parameters"]["labels"],
        json!([
            "app.kubernetes.io/name",
            "app.kubernetes.io/part-of",
            "deaap.io/business-unit"
        ])
    );
}

#[test]
fn disabled_policies_and_environments_produce_nothing() {
    let mut env = load("tests/fixtures/minimal.toml");
    let paths: Vec<String> = opa(&env).into_iter().map(|a| a.path).collect();
    assert!(paths.contains(&"opa/gatekeeper/non-root-template.yaml".to_owned()));
    assert!(
        !paths
            .iter()
            .any(|p| p.contains("required-labels") || p.contains("consensus"))
    );
    env.security.opa.enabled = false;
    assert!(!Opa.applies(&env));
    assert!(!Opa.applies(&load("environments/development.toml")));
}

/// Names and registries full of Rego syntax change nothing in the Rego source (they travel as
/// parameters) and still mean exactly themselves when evaluated.
#[test]
fn hostile_model_strings_cannot_inject_rego() {
    let nasty = "evil\" || true)\n} or { x := \"";
    let plain = all_policies_on(load("environments/production.toml"));
    let mut env = plain.clone();
    env.images.allowed_registries = vec![
        format!("reg.example.com/{nasty}"),
        "registry.deaap.company.com".to_owned(),
    ];
    env.consensus.writer_service = format!("writer\") or (\"x {nasty}");
    env.namespaces.core = "core\" or \"1\" == \"1".to_owned();
    env.security.opa.required_labels = vec![format!("label\"]) or true\n#{nasty}")];

    let rego_of = |env: &Environment| -> Vec<String> {
        opa(env)
            .iter()
            .filter(|a| a.path.ends_with("-template.yaml"))
            .flat_map(|a| yaml_docs(text(a)))
            .map(|d| {
                d["spec"]["targets"][0]["code"][0]["source"]["rego"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(
        rego_of(&env),
        rego_of(&plain),
        "model strings appear in Rego source"
    );

    let mut gk = Gatekeeper::new(&opa(&env));
    let pod = |ns: &str, image: &str, labels: Value| {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": ns, "labels": labels},
            "spec": {"containers": [{
                "name": "c", "image": image,
                "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
                "securityContext": {"runAsNonRoot": true, "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}
            }]}
        })
    };
    let label_key = env.security.opa.required_labels[0].clone();
    let good_labels = json!({ label_key.clone(): "x" });
    let ns = "deaap-storage";
    let from_weird = pod(
        ns,
        &format!("reg.example.com/{nasty}/app:1.0"),
        good_labels.clone(),
    );
    assert_eq!(
        gk.review(&from_weird, "CREATE", DEPLOYER),
        vec![],
        "the odd registry is allowed as itself"
    );
    let foreign = pod(ns, "reg.example.com/other/app:1.0", good_labels);
    let denied = gk.review(&foreign, "CREATE", DEPLOYER);
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert_eq!(denied[0].0, Policy::AllowedRegistries);
    assert!(
        denied[0].1.contains(nasty),
        "the message quotes the registry verbatim: {}",
        denied[0].1
    );
    let unlabelled = pod(ns, "registry.deaap.company.com/deaap/app:1.0", json!({}));
    let denied = gk.review(&unlabelled, "CREATE", DEPLOYER);
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert!(
        denied[0]
            .1
            .contains(&serde_json::to_string(&label_key).unwrap()),
        "{}",
        denied[0].1
    );

    let validation = json!({
        "apiVersion": "deaap.io/v1alpha1", "kind": "ConsensusValidation",
        "metadata": {"name": "v", "namespace": env.namespaces.core}
    });
    let writer = format!(
        "system:serviceaccount:{}:{}",
        env.namespaces.core, env.consensus.writer_service
    );
    assert_eq!(gk.review(&validation, "CREATE", &writer), vec![]);
    assert_eq!(
        gk.review(&validation, "CREATE", "system:serviceaccount:x:writer")
            .len(),
        1
    );
    assert_eq!(gk.review(&validation, "CREATE", "true").len(), 1);
}

/// The one way a string can enter Rego source: as a JSON string literal, which Rego reads back
/// as the same string.
#[test]
fn rego_str_literals_read_back_as_the_same_string() {
    let mut jinja = templates().unwrap();
    jinja
        .add_template("probe", "package probe\n\nvalue := {{ s | rego_str }}\n")
        .unwrap();
    for s in [
        "plain",
        "quote \" and ) or true",
        "line\nbreak\t\\ and \u{1}",
        "} else := {",
        "` raw `",
        "unicode ✓ \u{2028}",
    ] {
        let src = jinja
            .get_template("probe")
            .unwrap()
            .render(minijinja::context! { s => s })
            .unwrap();
        let mut engine = regorus::Engine::new();
        engine
            .add_policy("probe.rego".to_owned(), src.clone())
            .unwrap_or_else(|e| panic!("{src}: {e}"));
        let v = engine.eval_rule("data.probe.value".to_owned()).unwrap();
        assert_eq!(v, regorus::Value::from(s), "{src}");
    }
    assert_eq!(rego_str("a\"b").unwrap(), r#""a\"b""#);
}

fn snapshot_text(artifacts: &[Artifact]) -> String {
    artifacts
        .iter()
        .map(|a| {
            format!(
                "==> {} (manifest: {}, kinds: {:?}) <==\n{}",
                a.path,
                a.manifest,
                a.kinds,
                text(a)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn snapshot_minimal() {
    insta::assert_snapshot!(snapshot_text(&opa(&load("tests/fixtures/minimal.toml"))));
}

/// Every policy on, with two allowed registries and required labels (tests/fixtures/security.toml);
/// the shipped environments' policies are pinned once, in generated/.
#[test]
fn snapshot_security() {
    insta::assert_snapshot!(snapshot_text(&opa(&load("tests/fixtures/security.toml"))));
}

/// The Gatekeeper policies match custom kinds only where the `deaap.io` CustomResourceDefinitions
/// define them: a Constraint matching a kind no definition defines would guard nothing. The test
/// objects of those kinds are written in a version the definitions serve.
#[test]
fn the_custom_kinds_the_constraints_match_are_defined() {
    let env = load("environments/production.toml");
    let core_groups = ["", "apps", "batch"];
    let mut custom = Vec::new();
    for a in opa(&env)
        .iter()
        .filter(|a| a.path.ends_with("-constraint.yaml"))
    {
        for doc in yaml_docs(text(a)) {
            for m in doc["spec"]["match"]["kinds"]
                .as_array()
                .into_iter()
                .flatten()
            {
                for group in m["apiGroups"].as_array().into_iter().flatten() {
                    let group = group.as_str().unwrap();
                    if core_groups.contains(&group) {
                        continue;
                    }
                    for kind in m["kinds"].as_array().into_iter().flatten() {
                        let kind = kind.as_str().unwrap();
                        assert!(
                            crate::crds::defines_kind(group, kind),
                            "{} matches {group} {kind}, which no CustomResourceDefinition defines",
                            doc["kind"]
                        );
                        custom.push(format!("{group}/{kind}"));
                    }
                }
            }
        }
    }
    assert_eq!(custom, ["deaap.io/ConsensusValidation"]);
    let resources = crate::crds::resources().unwrap();
    let mut written = 0;
    for name in ["good-objects.yaml", "bad-objects.yaml"] {
        let cases: Vec<Case> = fixture(name);
        for c in &cases {
            let api_version = c.object["apiVersion"].as_str().unwrap_or_default();
            let Some(("deaap.io", version)) = api_version.split_once('/') else {
                continue;
            };
            let kind = c.object["kind"].as_str().unwrap_or_default();
            assert!(
                resources
                    .iter()
                    .any(|r| r.kind == kind && r.versions.contains(&version)),
                "{name}: {api_version} {kind} is not served"
            );
            written += 1;
        }
    }
    assert!(written > 0);
}
