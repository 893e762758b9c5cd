//! A small Gatekeeper: the generated `ConstraintTemplates`' Rego loaded into regorus, an
//! independent Rego engine, and the generated Constraints deciding which template sees which
//! object (their `match` on kinds and namespaces, their operations and their parameters), with
//! the input Gatekeeper builds (`input.review`, `input.parameters`) and its `violation[{"msg"}]`
//! result. The Rego evaluated is the generated Rego itself, compiled once per environment to
//! regorus's bytecode and run on its virtual machine (several times faster per review than its
//! tree-walking interpreter, with the same results).

use super::verdicts::{Memory, Used, Verdict};
use crate::targets::Artifact;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One generated Constraint, with what its template compiled to.
#[derive(Debug, Clone)]
pub struct Constraint {
    /// The Constraint's kind (`DeaapNonRoot`), which its template defines.
    pub kind: String,
    /// `deny`, `warn` or `dryrun`.
    pub enforcement: String,
    /// The index of its template's `violation` rule among the program's entry points.
    entry: usize,
    operations: Vec<String>,
    matcher: Match,
    /// The Constraint's `spec.parameters`, converted for the engine once.
    parameters: regorus::Value,
}

/// A VM with every template's `violation` rule as an entry point, in the order of `templates`
/// (kind and Rego).
fn compile(templates: &[(String, String)]) -> Result<regorus::rvm::RegoVM, String> {
    let mut engine = regorus::Engine::new();
    let mut rules = Vec::new();
    for (kind, rego) in templates {
        let package = engine
            .add_policy(format!("{kind}.rego"), rego.clone())
            .map_err(|e| format!("the Rego of {kind} does not compile: {e}"))?;
        rules.push(format!("{package}.violation"));
    }
    let rules: Vec<&str> = rules.iter().map(String::as_str).collect();
    let mut vm = match rules.first() {
        Some(first) => {
            let policy = engine
                .compile_with_entrypoint(&regorus::Rc::from(*first))
                .map_err(|e| format!("the generated Rego does not compile: {e}"))?;
            let program =
                regorus::languages::rego::compiler::Compiler::compile_from_policy(&policy, &rules)
                    .map_err(|e| format!("the generated Rego does not compile: {e}"))?;
            let mut vm = regorus::rvm::RegoVM::new_with_policy(policy);
            vm.load_program(program);
            vm
        }
        None => regorus::rvm::RegoVM::new(),
    };
    // Gatekeeper (OPA) makes a failing builtin undefined instead of failing the review.
    vm.set_strict_builtin_errors(false);
    Ok(vm)
}

/// One violation of one Constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The Constraint's kind.
    pub kind: String,
    /// Its enforcement action: only `deny` refuses the object.
    pub enforcement: String,
    pub message: String,
}

/// The generated templates and Constraints of one environment, ready to review objects.
pub struct Gatekeeper {
    vm: Option<regorus::rvm::RegoVM>,
    /// Each template's kind and Rego, in entry-point order.
    templates: Vec<(String, String)>,
    constraints: Vec<Constraint>,
    /// How many (object, Constraint) pairs were evaluated.
    pub evaluations: usize,
    /// Verdicts kept by earlier runs, and those this one used, in review order.
    memory: Option<(Arc<Memory>, Used)>,
}

impl Gatekeeper {
    /// Whether some Constraint's `spec.match` may match an object of this API version and kind,
    /// whatever its namespace: one without kinds matches every kind.
    #[must_use]
    pub fn may_match(&self, api_version: &str, kind: &str) -> bool {
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        self.constraints
            .iter()
            .any(|c| c.matcher.kinds_match(group, kind))
    }

    /// Loads every `ConstraintTemplate` and Constraint among the artifacts' objects.
    ///
    /// # Errors
    /// A template whose Rego does not compile, or a Constraint without its template (defects of
    /// the generator, reported rather than trusted).
    pub fn from_artifacts(artifacts: &[Artifact]) -> Result<Self, String> {
        Self::compiled(&policies(artifacts))
    }

    /// As [`Gatekeeper::from_artifacts`], taking each review's verdict from `memory` (which must
    /// be that of these artifacts' policies) when it holds one, and recording every verdict used
    /// ([`Gatekeeper::used`]). The Rego is compiled only when a review needs it, unless `memory`
    /// holds nothing: verdicts kept for these policies mean this build compiled them before.
    ///
    /// # Errors
    /// As [`Gatekeeper::from_artifacts`].
    pub fn remembering(artifacts: &[Artifact], memory: Arc<Memory>) -> Result<Self, String> {
        let mut gk = Self::parse(&policies(artifacts))?;
        if memory.is_empty() {
            gk.vm = Some(compile(&gk.templates)?);
        }
        gk.memory = Some((memory, Vec::new()));
        Ok(gk)
    }

    /// As [`Gatekeeper::from_artifacts`], from the objects as JSON values.
    ///
    /// # Errors
    /// As [`Gatekeeper::from_artifacts`].
    pub fn from_documents(docs: &[Value]) -> Result<Self, String> {
        Self::compiled(docs)
    }

    /// [`Gatekeeper::parse`], with the Rego compiled.
    fn compiled(docs: &[Value]) -> Result<Self, String> {
        let mut gk = Self::parse(docs)?;
        gk.vm = Some(compile(&gk.templates)?);
        Ok(gk)
    }

    /// The templates and Constraints of `docs`, without compiling the Rego.
    fn parse(docs: &[Value]) -> Result<Self, String> {
        // Each template's kind, Rego and operations, by kind: a template's entry point is its
        // position here.
        let mut templates: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
        for doc in docs.iter().filter(|d| d["kind"] == "ConstraintTemplate") {
            let kind = str_at(doc, &["spec", "crd", "spec", "names", "kind"])?;
            let target = &doc["spec"]["targets"][0];
            let code = target["code"]
                .as_array()
                .and_then(|c| c.iter().find(|c| c["engine"] == "Rego"))
                .ok_or_else(|| format!("ConstraintTemplate for {kind} has no Rego code"))?;
            let rego = str_at(code, &["source", "rego"])?;
            let operations = target["operations"].as_array().map_or_else(
                || vec!["CREATE".to_owned(), "UPDATE".to_owned()],
                |ops| {
                    ops.iter()
                        .filter_map(|o| o.as_str().map(str::to_owned))
                        .collect()
                },
            );
            templates.insert(kind.to_owned(), (rego.to_owned(), operations));
        }
        let entries: BTreeMap<&str, (usize, &[String])> = templates
            .iter()
            .enumerate()
            .map(|(i, (kind, (_, operations)))| (kind.as_str(), (i, operations.as_slice())))
            .collect();
        let mut constraints = Vec::new();
        for doc in docs.iter().filter(|d| d["kind"] != "ConstraintTemplate") {
            let kind = str_at(doc, &["kind"])?;
            let &(entry, operations) = entries
                .get(kind)
                .ok_or_else(|| format!("the Constraint {kind} has no ConstraintTemplate"))?;
            constraints.push(Constraint {
                kind: kind.to_owned(),
                enforcement: doc["spec"]["enforcementAction"]
                    .as_str()
                    .unwrap_or("deny")
                    .to_owned(),
                entry,
                operations: operations.to_vec(),
                matcher: Match::new(&doc["spec"]["match"]),
                parameters: regorus::Value::from(
                    doc["spec"].get("parameters").cloned().unwrap_or(json!({})),
                ),
            });
        }
        Ok(Self {
            vm: None,
            templates: templates
                .into_iter()
                .map(|(kind, (rego, _))| (kind, rego))
                .collect(),
            constraints,
            evaluations: 0,
            memory: None,
        })
    }

    /// The verdicts the reviews used, in review order, when made [`Gatekeeper::remembering`].
    #[must_use]
    pub fn used(self) -> Used {
        self.memory.map(|(_, used)| used).unwrap_or_default()
    }

    #[must_use]
    pub fn constraints(&self) -> &[Constraint] {
        &self.constraints
    }

    /// Every violation of every Constraint that matches the review of `obj`.
    ///
    /// # Errors
    /// A policy that fails to evaluate.
    pub fn review(
        &mut self,
        obj: &Value,
        operation: &str,
        username: &str,
    ) -> Result<Vec<Denial>, String> {
        let matched: Vec<usize> = (0..self.constraints.len())
            .filter(|&i| {
                let c = &self.constraints[i];
                c.operations.iter().any(|o| o == operation || o == "*") && c.matcher.matches(obj)
            })
            .collect();
        if matched.is_empty() {
            return Ok(Vec::new());
        }
        self.evaluations += matched.len();
        let key = self
            .memory
            .as_ref()
            .map(|(m, _)| m.key(obj, operation, username));
        // A kept verdict names only Constraints this review matched; one that names others is
        // not this binary's, and the review is evaluated anew.
        let known = key
            .and_then(|k| self.memory.as_ref()?.0.get(&k))
            .filter(|v| v.iter().all(|(i, _)| matched.contains(&(*i as usize))))
            .cloned();
        let verdict = match known {
            Some(v) => v,
            None => self.evaluate(&matched, obj, operation, username)?,
        };
        let out = verdict
            .iter()
            .filter_map(|(i, message)| {
                let c = self.constraints.get(*i as usize)?;
                Some(Denial {
                    kind: c.kind.clone(),
                    enforcement: c.enforcement.clone(),
                    message: message.clone(),
                })
            })
            .collect();
        if let (Some(k), Some((_, used))) = (key, self.memory.as_mut()) {
            used.push((k, verdict));
        }
        Ok(out)
    }

    /// Evaluates the `matched` Constraints on the review of `obj`: each violation's Constraint
    /// (its position) and message.
    fn evaluate(
        &mut self,
        matched: &[usize],
        obj: &Value,
        operation: &str,
        username: &str,
    ) -> Result<Verdict, String> {
        let mut out = Vec::new();
        // The review is converted once; each Constraint's input shares it.
        let review = rego_review(obj, operation, username);
        let vm = match &mut self.vm {
            Some(vm) => vm,
            None => self.vm.insert(compile(&self.templates)?),
        };
        for &i in matched {
            let c = &self.constraints[i];
            let input = BTreeMap::from([
                (regorus::Value::from("review"), review.clone()),
                (regorus::Value::from("parameters"), c.parameters.clone()),
            ]);
            vm.set_input(regorus::Value::from(input));
            let value = vm
                .execute_entry_point_by_index(c.entry)
                .map_err(|e| format!("{} does not evaluate: {e}", c.kind))?;
            let value: Value = value
                .to_json_str()
                .ok()
                .and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or(Value::Null);
            let Some(set) = value.as_array() else {
                return Err(format!("{}'s violation is not a set: {value}", c.kind));
            };
            for v in set {
                out.push((
                    u32::try_from(i).unwrap_or(u32::MAX),
                    v["msg"].as_str().unwrap_or_default().to_owned(),
                ));
            }
        }
        Ok(out)
    }
}

/// The `ConstraintTemplates` and Constraints among the artifacts' objects, in artifact order: the
/// policies a [`Gatekeeper`] loads.
#[must_use]
pub fn policies(artifacts: &[Artifact]) -> Vec<Value> {
    artifacts
        .iter()
        .flat_map(|a| &a.objects)
        .filter(|o| {
            o.kind() == "ConstraintTemplate"
                || o.api_version().starts_with("constraints.gatekeeper.sh/")
        })
        .map(|o| o.value().to_json())
        .collect()
}

fn str_at<'v>(v: &'v Value, path: &[&str]) -> Result<&'v str, String> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_str)
        .ok_or_else(|| format!("a Gatekeeper object has no `{}`", path.join(".")))
}

/// The API group of an object's `apiVersion` (`""` for the core group).
fn group_of(obj: &Value) -> &str {
    obj["apiVersion"]
        .as_str()
        .and_then(|v| v.rsplit_once('/'))
        .map_or("", |(g, _)| g)
}

/// Whether [`children`] derives anything from an object of `kind`: a controller's pods, the
/// instances of a CloudNativePG `Cluster`.
#[must_use]
pub fn derives(api_version: &str, kind: &str) -> bool {
    matches!(
        kind,
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" | "CronJob"
    ) || (kind == "Cluster" && api_version.starts_with("postgresql.cnpg.io/"))
}

/// Gatekeeper's `spec.match`, read once for every review: kinds (with their API groups, `*` for
/// any), `namespaces` and `excludedNamespaces` (exact, or a prefix ending in `*`; a Namespace is
/// matched by its own name).
#[derive(Debug, Clone)]
pub struct Match {
    /// Each `kinds` entry's API groups and kinds (a list that is not one, or a name that is no
    /// string, takes nothing); `None` when the match has no list of kinds, which takes every kind.
    kinds: Option<Vec<(Vec<String>, Vec<String>)>>,
    /// `namespaces`, when the match has it (a value that is no list takes no namespace).
    namespaces: Option<Vec<String>>,
    /// `excludedNamespaces`, likewise.
    excluded: Option<Vec<String>>,
}

impl Match {
    /// The match `matcher` (a Constraint's `spec.match`) describes.
    #[must_use]
    pub fn new(matcher: &Value) -> Self {
        let strings = |list: &Value| -> Vec<String> {
            list.as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        };
        Self {
            kinds: matcher["kinds"].as_array().map(|kinds| {
                kinds
                    .iter()
                    .map(|k| (strings(&k["apiGroups"]), strings(&k["kinds"])))
                    .collect()
            }),
            namespaces: matcher.get("namespaces").map(strings),
            excluded: matcher.get("excludedNamespaces").map(strings),
        }
    }

    /// Whether its kinds take an object of API group `group` and `kind`.
    fn kinds_match(&self, group: &str, kind: &str) -> bool {
        let any = |list: &[String], want: &str| list.iter().any(|x| x == "*" || x == want);
        self.kinds.as_ref().is_none_or(|kinds| {
            kinds
                .iter()
                .any(|(groups, kinds)| any(groups, group) && any(kinds, kind))
        })
    }

    /// Whether it takes `obj`.
    #[must_use]
    pub fn matches(&self, obj: &Value) -> bool {
        let kind = obj["kind"].as_str().unwrap_or_default();
        let kind_ok = self.kinds_match(group_of(obj), kind);
        let ns = if kind == "Namespace" {
            obj["metadata"]["name"].as_str()
        } else {
            obj["metadata"]["namespace"].as_str()
        };
        let listed = |list: &[String], ns: &str| {
            list.iter().any(|p| {
                p.strip_suffix('*')
                    .map_or(p == ns, |prefix| ns.starts_with(prefix))
            })
        };
        // A cluster-scoped object other than a Namespace is in no namespace: the namespace
        // criteria do not apply to it.
        let ns_ok = match (ns, &self.namespaces) {
            (Some(ns), Some(list)) => listed(list, ns),
            _ => true,
        };
        let excluded = ns.is_some_and(|ns| self.excluded.as_ref().is_some_and(|l| listed(l, ns)));
        kind_ok && ns_ok && !excluded
    }
}

/// Gatekeeper's input document for one admission review.
#[must_use]
pub fn review_input(
    obj: &Value,
    operation: &str,
    username: &str,
    parameters: Option<&Value>,
) -> Value {
    let api_version = obj["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let (object, old) = if operation == "DELETE" {
        (Value::Null, obj.clone())
    } else {
        (obj.clone(), Value::Null)
    };
    let mut input = json!({
        "review": {
            "kind": {"group": group, "version": version, "kind": obj["kind"]},
            "operation": operation,
            "namespace": obj["metadata"]["namespace"],
            "name": obj["metadata"]["name"],
            "userInfo": {"username": username, "groups": ["system:authenticated"]},
            "object": object,
            "oldObject": old,
        }
    });
    if let Some(p) = parameters {
        input["parameters"] = p.clone();
    }
    input
}

/// The `review` of [`review_input`] as the engine's value, converted straight from `obj`.
fn rego_review(obj: &Value, operation: &str, username: &str) -> regorus::Value {
    let s = |v: &str| regorus::Value::from(v);
    let api_version = obj["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let (object, old) = if operation == "DELETE" {
        (regorus::Value::Null, to_rego(obj))
    } else {
        (to_rego(obj), regorus::Value::Null)
    };
    let kind = BTreeMap::from([
        (s("group"), s(group)),
        (s("version"), s(version)),
        (s("kind"), to_rego(&obj["kind"])),
    ]);
    let user = BTreeMap::from([
        (s("username"), s(username)),
        (
            s("groups"),
            regorus::Value::from(vec![s("system:authenticated")]),
        ),
    ]);
    regorus::Value::from(BTreeMap::from([
        (s("kind"), regorus::Value::from(kind)),
        (s("operation"), s(operation)),
        (s("namespace"), to_rego(&obj["metadata"]["namespace"])),
        (s("name"), to_rego(&obj["metadata"]["name"])),
        (s("userInfo"), regorus::Value::from(user)),
        (s("object"), object),
        (s("oldObject"), old),
    ]))
}

/// A JSON value as the engine's value: what `regorus::Value::from` makes of it, without the
/// owned copy and the pass through serde that it takes.
fn to_rego(v: &Value) -> regorus::Value {
    match v {
        Value::Null => regorus::Value::Null,
        Value::Bool(b) => regorus::Value::from(*b),
        Value::Number(n) => n
            .as_u64()
            .map(regorus::Value::from)
            .or_else(|| n.as_i64().map(regorus::Value::from))
            .or_else(|| n.as_f64().map(regorus::Value::from))
            .unwrap_or(regorus::Value::Undefined),
        Value::String(s) => regorus::Value::from(s.as_str()),
        Value::Array(items) => regorus::Value::from(items.iter().map(to_rego).collect::<Vec<_>>()),
        Value::Object(m) => regorus::Value::from(
            m.iter()
                .map(|(k, v)| (regorus::Value::from(k.as_str()), to_rego(v)))
                .collect::<BTreeMap<_, _>>(),
        ),
    }
}

/// The workload itself, then what controllers create from it ([`children`]).
#[cfg(test)]
#[must_use]
pub fn with_children(obj: &Value) -> Vec<Value> {
    std::iter::once(obj.clone()).chain(children(obj)).collect()
}

/// What controllers create from a workload, without mutation: a Deployment's `ReplicaSet`, a
/// `CronJob`'s Job, and the Pod of each (one stands for all replicas). Admission reviews those
/// too, so a template that would be refused is a workload that never runs.
#[must_use]
pub fn children(obj: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    let ns = &obj["metadata"]["namespace"];
    let name = obj["metadata"]["name"].as_str().unwrap_or("generated");
    let labels_of = |template: &Value| template["metadata"].get("labels").cloned();
    let pod_from = |template: &Value, suffix: &str| pod(template, &format!("{name}-{suffix}"), ns);
    match obj["kind"].as_str().unwrap_or_default() {
        "Deployment" => {
            let template = &obj["spec"]["template"];
            // Copied as values: `json!` would copy them through the serializer.
            let mut replica_set = json!({
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": format!("{name}-5d8f7c9b6"),
                    "namespace": ns.clone(),
                    "labels": labels_of(template).unwrap_or(json!({})),
                },
                "spec": {},
            });
            replica_set["spec"]["template"] = template.clone();
            out.push(replica_set);
            out.push(pod_from(template, "5d8f7c9b6-x2x9q"));
        }
        "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            out.push(pod_from(&obj["spec"]["template"], "0"));
        }
        // The instances CloudNativePG creates for a Cluster.
        "Cluster"
            if obj["apiVersion"]
                .as_str()
                .is_some_and(|v| v.starts_with("postgresql.cnpg.io/")) =>
        {
            out.push(pod_from(&crate::proof::cnpg::instance_template(obj), "1"));
        }
        "CronJob" => {
            let job = &obj["spec"]["jobTemplate"];
            let mut metadata = job.get("metadata").cloned().unwrap_or(json!({}));
            metadata["name"] = json!(format!("{name}-29000000"));
            metadata["namespace"] = ns.clone();
            let spec = job["spec"].clone();
            let mut job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata});
            job["spec"] = spec;
            let pods = children(&job);
            out.push(job);
            out.extend(pods);
        }
        _ => {}
    }
    out
}

/// The Pod a controller creates from a pod template: its labels and annotations, its spec.
#[must_use]
pub fn pod(template: &Value, name: &str, namespace: &Value) -> Value {
    let mut metadata = json!({"name": name, "namespace": namespace.clone()});
    for key in ["labels", "annotations"] {
        if let Some(v) = template["metadata"].get(key) {
            metadata[key] = v.clone();
        }
    }
    let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata});
    pod["spec"] = template["spec"].clone();
    pod
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Gatekeeper of tests/fixtures/security.toml, and a Pod its Constraints deny.
    fn denying() -> (Vec<Artifact>, Value) {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/security.toml");
        let env = crate::load_model(&path).expect("the fixture loads");
        let artifacts = crate::generate(&env, &path).expect("generates");
        let pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "mini-core"},
            "spec": {"containers": [{"name": "c", "image": "elsewhere.example/x:latest"}]},
        });
        (artifacts, pod)
    }

    /// `derives` says of every kind what `children` does.
    #[test]
    fn derives_names_the_kinds_children_derives_from() {
        let template = json!({"metadata": {"labels": {"a": "b"}}, "spec": {"containers": []}});
        for (api_version, kind) in [
            ("apps/v1", "Deployment"),
            ("apps/v1", "StatefulSet"),
            ("apps/v1", "DaemonSet"),
            ("apps/v1", "ReplicaSet"),
            ("batch/v1", "Job"),
            ("batch/v1", "CronJob"),
            ("postgresql.cnpg.io/v1", "Cluster"),
            ("example.io/v1", "Cluster"),
            ("v1", "Pod"),
            ("v1", "Service"),
            ("v1", "ConfigMap"),
            ("networking.k8s.io/v1", "NetworkPolicy"),
            ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ] {
            let obj = json!({
                "apiVersion": api_version,
                "kind": kind,
                "metadata": {"name": "x", "namespace": "n"},
                "spec": {
                    "template": template,
                    "jobTemplate": {"spec": {"template": template}},
                    "instances": 1,
                },
            });
            assert_eq!(
                derives(api_version, kind),
                !children(&obj).is_empty(),
                "{api_version} {kind}"
            );
        }
    }

    /// `spec.match` as Gatekeeper reads it: kinds in their groups (`*` for any, every kind without
    /// a list), namespaces exact or by a prefix ending in `*`, a Namespace by its own name, and no
    /// namespace criterion for another cluster-scoped object.
    #[test]
    fn a_match_takes_kinds_and_namespaces_as_gatekeeper_does() {
        let obj = |api_version: &str, kind: &str, ns: Option<&str>| {
            let mut o = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "n"}});
            if let Some(ns) = ns {
                o["metadata"]["namespace"] = json!(ns);
            }
            o
        };
        let m = Match::new(&json!({
            "kinds": [{"apiGroups": ["apps"], "kinds": ["Deployment"]}, {"apiGroups": ["*"], "kinds": ["Pod"]}],
            "namespaces": ["deaap-core", "team-*", "n"],
            "excludedNamespaces": ["team-old*"],
        }));
        for (o, expected) in [
            (obj("apps/v1", "Deployment", Some("deaap-core")), true),
            (obj("apps/v1", "Deployment", Some("team-a")), true),
            (obj("apps/v1", "Deployment", Some("team-old-b")), false),
            (obj("apps/v1", "Deployment", Some("other")), false),
            (
                obj("example.io/v1", "Deployment", Some("deaap-core")),
                false,
            ),
            (obj("v1", "Pod", Some("deaap-core")), true),
            (obj("v1", "Service", Some("deaap-core")), false),
        ] {
            assert_eq!(m.matches(&o), expected, "{o}");
        }
        let any_kind = Match::new(&json!({"namespaces": ["n"], "excludedNamespaces": "none"}));
        assert!(any_kind.matches(&obj("v1", "ConfigMap", Some("n"))));
        // A Namespace is matched by its own name; another cluster-scoped object by none.
        assert!(any_kind.matches(&obj("v1", "Namespace", None)));
        assert!(any_kind.matches(&obj("rbac.authorization.k8s.io/v1", "ClusterRole", None)));
        assert!(!any_kind.matches(&obj("v1", "ConfigMap", Some("other"))));
        // A list that is no list takes nothing.
        let broken =
            Match::new(&json!({"kinds": [{"apiGroups": "", "kinds": ["Pod"]}], "namespaces": "n"}));
        assert!(!broken.matches(&obj("v1", "Pod", None)));
        assert!(!Match::new(&json!({"namespaces": "n"})).matches(&obj("v1", "Pod", Some("n"))));
        assert!(Match::new(&Value::Null).matches(&obj("v1", "Pod", Some("n"))));
    }

    /// The Constraints match the workload kinds and `ConsensusValidation`s, nothing else.
    #[test]
    fn may_match_follows_the_constraints_kinds() {
        let (artifacts, _) = denying();
        let gk = Gatekeeper::from_artifacts(&artifacts).expect("compiles");
        for (api_version, kind, expected) in [
            ("v1", "Pod", true),
            ("apps/v1", "Deployment", true),
            ("apps/v1", "StatefulSet", true),
            ("deaap.io/v1", "ConsensusValidation", true),
            ("v1", "ConfigMap", false),
            ("v1", "Service", false),
            ("networking.k8s.io/v1", "NetworkPolicy", false),
            // The right kind in another group.
            ("example.io/v1", "Deployment", false),
        ] {
            assert_eq!(
                gk.may_match(api_version, kind),
                expected,
                "{api_version} {kind}"
            );
        }
    }

    #[test]
    fn kept_verdicts_are_used_only_where_they_fit_the_review() {
        use std::collections::HashMap;
        let (artifacts, pod) = denying();
        let username = "u";
        let fresh = Gatekeeper::from_artifacts(&artifacts)
            .expect("compiles")
            .review(&pod, "CREATE", username)
            .expect("evaluates");
        assert!(fresh.len() > 1, "{fresh:?}");
        let key = Memory::holding(HashMap::new()).key(&pod, "CREATE", username);
        let review = |verdict: Verdict| {
            let memory = Arc::new(Memory::holding(HashMap::from([(key, verdict)])));
            let mut gk = Gatekeeper::remembering(&artifacts, memory).expect("loads");
            let found = gk.review(&pod, "CREATE", username).expect("reviews");
            (found, gk.used())
        };
        // A kept verdict is the review's verdict, without evaluating.
        let (found, used) = review(vec![(0, "kept".to_owned())]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].message, "kept");
        assert_eq!(used, vec![(key, vec![(0, "kept".to_owned())])]);
        // One that names a Constraint the review did not match, or none at all, is not this
        // review's: it is evaluated anew.
        let unmatched = Gatekeeper::from_artifacts(&artifacts)
            .expect("compiles")
            .constraints()
            .iter()
            .position(|c| !c.matcher.matches(&pod))
            .expect("a Constraint that does not select pods");
        let unmatched = u32::try_from(unmatched).expect("small");
        for verdict in [
            vec![(unmatched, "x".to_owned())],
            vec![(u32::MAX, "x".to_owned())],
        ] {
            let (found, used) = review(verdict);
            assert_eq!(found, fresh);
            assert_eq!(used.len(), 1);
            assert_ne!(used[0].1.first().map(|(_, m)| m.as_str()), Some("x"));
        }
    }

    #[test]
    fn the_review_converts_as_the_engine_converts_json() {
        let obj = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "api", "namespace": "deaap", "labels": {}},
            "spec": {
                "replicas": 3,
                "offset": -2,
                "ratio": 0.25,
                "big": u64::MAX,
                "paused": false,
                "selector": null,
                "list": [[], {}, "x", 1.5e300],
            },
        });
        for operation in ["CREATE", "DELETE"] {
            let expected =
                regorus::Value::from(review_input(&obj, operation, "admin", None)["review"].take());
            assert_ne!(expected, regorus::Value::Undefined);
            assert_eq!(
                rego_review(&obj, operation, "admin"),
                expected,
                "{operation}"
            );
        }
        let core = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}});
        assert_eq!(
            rego_review(&core, "UPDATE", "u"),
            regorus::Value::from(review_input(&core, "UPDATE", "u", None)["review"].take())
        );
    }
}
