//! Mutation, then admission: every pod the generated objects make the cluster run, mutated by
//! the webhooks the model enables ([`mutate`]: Istio's sidecar injector, the Vault agent
//! injector), is evaluated by Pod Security Admission at its namespace's `enforce` level
//! ([`pss`]: every control of the Pod Security Standards) and, with every generated object and
//! the `ReplicaSets` and Jobs controllers create from them, by the generated Gatekeeper
//! Constraints, whose Rego regorus evaluates ([`gatekeeper`]). The monitoring chart's pods
//! ([`chart`]) are evaluated at the monitoring namespace's level. A refusal is reported on the
//! model key that causes it, naming the object; what passes is counted as admitted.

pub mod chart;
pub mod gatekeeper;
pub mod mutate;
pub mod pss;
pub mod verdicts;

pub use gatekeeper::{Denial, Gatekeeper};

use super::{Proof, Subject, Summary};
use crate::load::{Seg, display_path};
use crate::model::{Environment, NamespaceKey, PodSecurityLevel};
use crate::path;
use crate::targets::kit::Object;
use crate::validate::Report;
use mutate::{Injected, Injector};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// The admission proof.
pub const PROOF: Proof = Proof {
    name: "admission",
    run,
};

/// Who applies the generated objects (Argo CD's application controller).
pub const DEPLOYER: &str = "system:serviceaccount:argocd:argocd-application-controller";

/// Who creates the objects controllers derive from a workload (`ReplicaSets`, Jobs, Pods).
fn creator(kind: &str) -> &'static str {
    match kind {
        "ReplicaSet" => "system:serviceaccount:kube-system:deployment-controller",
        "Job" => "system:serviceaccount:kube-system:cronjob-controller",
        _ => "system:serviceaccount:kube-system:replicaset-controller",
    }
}

/// What a finding is about, which decides the model key it is reported on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Concern {
    Image,
    Resources,
    Security,
    Labels,
    Writers,
}

/// Where a container (or the pod as a whole) comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// The workload's own container, or the pod spec deaap-gen writes.
    Workload,
    Injected(Injector),
    /// A pod of the monitoring chart.
    Chart,
}

/// One object the proof reviews, with where it came from.
struct Reviewed<'a> {
    object: Cow<'a, Value>,
    injected: Injected,
}

/// One reason one object is refused.
struct Refusal<'a> {
    /// Who refuses (the message's opening).
    what: String,
    /// The generated object it derives from.
    top: &'a str,
    /// The object refused (the generated one, or one a controller creates from it).
    object: &'a str,
    line: String,
    warning: bool,
}

/// A refusal, grouped by what to change and which generated object it concerns.
#[derive(Default)]
struct Group {
    /// The message's opening: who refuses.
    what: String,
    warning: bool,
    lines: Vec<String>,
    objects: Vec<String>,
    help: &'static str,
}

#[derive(Default)]
struct Findings {
    groups: BTreeMap<(&'static str, String, String), (Vec<Seg>, Group)>,
}

impl Findings {
    fn add(&mut self, code: &'static str, at: (Vec<Seg>, &'static str), refusal: Refusal<'_>) {
        let (path, help) = at;
        let key = (
            code,
            format!(
                "{}\u{0}{}\u{0}{}",
                display_path(&path),
                refusal.what,
                refusal.warning
            ),
            refusal.top.to_owned(),
        );
        let Refusal {
            what,
            object,
            line,
            warning,
            ..
        } = refusal;
        let (_, g) = self.groups.entry(key).or_insert_with(|| {
            (
                path,
                Group {
                    what,
                    warning,
                    help,
                    ..Group::default()
                },
            )
        });
        if !g.lines.contains(&line) {
            g.lines.push(line);
        }
        if !g.objects.iter().any(|o| o == object) {
            g.objects.push(object.to_owned());
        }
    }

    /// One diagnostic per code, model key and set of reasons, naming every object refused for
    /// them: a setting that breaks many workloads the same way is reported once.
    fn report(self, report: &mut Report<'_>) {
        let mut merged: BTreeMap<(&'static str, String, String), (Vec<Seg>, Group)> =
            BTreeMap::new();
        for ((code, key, top), (path, g)) in self.groups {
            let reasons = g.lines.join("; ");
            let (_, m) = merged.entry((code, key, reasons)).or_insert_with(|| {
                (
                    path,
                    Group {
                        what: g.what.clone(),
                        warning: g.warning,
                        help: g.help,
                        lines: g.lines.clone(),
                        objects: Vec::new(),
                    },
                )
            });
            let derived: Vec<&String> = g.objects.iter().filter(|o| **o != top).collect();
            m.objects.push(if derived.is_empty() {
                top
            } else {
                format!(
                    "{top} (as {})",
                    derived
                        .iter()
                        .map(|o| o.split_once(' ').map_or(o.as_str(), |(k, _)| k))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            });
        }
        for ((code, _, reasons), (path, g)) in merged {
            let message = format!("{} {}: {reasons}", g.what, g.objects.join(", "));
            let label = "this setting decides it";
            let d = if g.warning {
                report.warning(code, &path, message, label)
            } else {
                report.error(code, &path, message, label)
            };
            d.help = Some(g.help.to_owned());
        }
    }
}

/// `Kind namespace/name`.
fn describe(o: &Value) -> String {
    let ns = o["metadata"]["namespace"].as_str();
    let name = o["metadata"]["name"].as_str().unwrap_or("?");
    let kind = o["kind"].as_str().unwrap_or("object");
    ns.map_or_else(
        || format!("{kind} {name}"),
        |ns| format!("{kind} {ns}/{name}"),
    )
}

/// The model table of the workload a pod belongs to, from its standard labels (a CloudNativePG
/// instance's: the store its `Cluster` runs or restores).
fn workload_path(pod_like: &Value) -> Vec<Seg> {
    let labels = &pod_like["metadata"]["labels"];
    if let Some(store) = super::cnpg::store_of(labels) {
        return path!["storage", store];
    }
    let name = labels["app.kubernetes.io/name"]
        .as_str()
        .unwrap_or_default();
    match labels["app.kubernetes.io/component"].as_str() {
        Some("service") => path!["services", name],
        Some("storage") => path!["storage", name],
        Some("blockchain") => path!["blockchain"],
        Some("validator") => path!["consensus"],
        Some("backup") => path!["backup"],
        _ => Vec::new(),
    }
}

/// The model key of the namespace's Pod Security level.
fn level_path(env: &Environment, ns: &str) -> Vec<Seg> {
    env.namespaces
        .iter()
        .find(|(_, name)| *name == ns)
        .filter(|(key, _)| env.security.pod_security_overrides.contains_key(key))
        .map_or_else(
            || path!["security", "pod_security"],
            |(key, _)| path!["security", "pod_security_overrides", key.as_str(), "level"],
        )
}

/// The model key behind a finding and the help that goes with it.
fn locate(
    env: &Environment,
    source: Source,
    concern: Concern,
    pod_like: &Value,
) -> (Vec<Seg>, &'static str) {
    let ns = pod_like["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default();
    match (source, concern) {
        (_, Concern::Labels) => (
            path!["security", "opa", "required_labels"],
            "every workload, pod template and job template carries the required labels",
        ),
        (_, Concern::Writers) => (
            path!["consensus", "writer_service"],
            "only the consensus writer's service account may write consensus validations",
        ),
        (Source::Injected(Injector::IstioInit | Injector::IstioProxy), Concern::Image) => (
            path!["security", "mesh", "proxy_image"],
            "set `security.mesh.proxy_image` to the Istio proxy image in the company registry, \
             pinned; it is written as `sidecar.istio.io/proxyImage` on every meshed pod",
        ),
        (Source::Injected(Injector::Vault), Concern::Image) => (
            path!["security", "vault", "agent_image"],
            "set `security.vault.agent_image` to the Vault image in the company registry, \
             pinned; it is written as `vault.hashicorp.com/agent-image` on every pod with secrets",
        ),
        (Source::Injected(Injector::IstioInit), Concern::Security) => (
            path!["security", "mesh", "cni"],
            "`istio-init` runs as root with NET_ADMIN and NET_RAW to set up traffic redirection; \
             install Istio's CNI node agent and set `security.mesh.cni = true`, so the injector \
             adds the unprivileged `istio-validation` instead",
        ),
        (Source::Injected(Injector::IstioInit | Injector::IstioProxy), Concern::Resources) => (
            path!["security", "mesh", "proxy_resources"],
            "the injected proxy's requests and limits come from `security.mesh.proxy_resources`",
        ),
        (Source::Injected(Injector::IstioProxy), _) => (
            path!["security", "mesh"],
            "the proxy's security context comes from the injector and the pod's annotations",
        ),
        (Source::Injected(Injector::Vault), _) => (
            path!["security", "vault"],
            "the Vault agent's security context and resources come from the injector and the \
             pod's `vault.hashicorp.com/*` annotations",
        ),
        (Source::Chart, _) => (
            level_path(env, ns),
            "the monitoring chart's node exporter shares the node's network and process \
             namespaces and reads its filesystem, and Grafana's init container runs as root: \
             give the monitoring namespace the level they need in \
             `[security.pod_security_overrides.monitoring]`, with the reason",
        ),
        (Source::Workload, Concern::Image) => {
            let mut p = workload_path(pod_like);
            p.push("image".into());
            (
                p,
                "images come from the allowed registries, pinned by a tag or a digest",
            )
        }
        (Source::Workload, Concern::Resources) => {
            let mut p = workload_path(pod_like);
            p.push("resources".into());
            (
                p,
                "every container limits CPU and memory above zero, with requests within its limits",
            )
        }
        (Source::Workload, Concern::Security) => (
            level_path(env, ns),
            "the namespace's Pod Security level refuses what this pod runs",
        ),
    }
}

fn concern_of(constraint: &str) -> Concern {
    match constraint {
        "DeaapAllowedRegistries" => Concern::Image,
        "DeaapRequireLimits" => Concern::Resources,
        "DeaapRequiredLabels" => Concern::Labels,
        "DeaapConsensusWriters" => Concern::Writers,
        _ => Concern::Security,
    }
}

/// The injector of the container a message or failure names, if it is an injected one.
fn source_of(injected: &Injected, container: Option<&str>, message: &str) -> Source {
    injected
        .iter()
        .find(|(name, _)| {
            container == Some(name.as_str()) || message.contains(&format!("\"{name}\""))
        })
        .map_or(Source::Workload, |(_, i)| Source::Injected(*i))
}

fn level_of(label: Option<&str>) -> PodSecurityLevel {
    match label {
        Some("restricted") => PodSecurityLevel::Restricted,
        Some("baseline") => PodSecurityLevel::Baseline,
        _ => PodSecurityLevel::Privileged,
    }
}

fn run(s: &Subject<'_>, report: &mut Report<'_>, summary: &mut Summary) {
    if !s.env.is_kubernetes() {
        return;
    }
    match prove(s, summary) {
        Ok(findings) => findings.report(report),
        Err(e) => {
            report.error(
                "DG0519",
                Vec::<Seg>::new(),
                format!("the generated objects cannot be evaluated for admission: {e}"),
                "in this environment",
            );
        }
    }
}

/// Environments with at least this many generated objects are reviewed on several threads (the
/// unit tests review every environment so).
const PARALLEL_FROM: usize = if cfg!(test) { 2 } else { 1000 };

fn prove(s: &Subject<'_>, summary: &mut Summary) -> Result<Findings, String> {
    // Every generated object: those synced, and those an operator applies by hand (a restore),
    // which the same admission chain reviews.
    let objects: Vec<&Object> = s.artifacts.iter().flat_map(|a| &a.objects).collect();
    let namespaces = namespace_labels(&objects);
    // The objects in consecutive shares, one a thread, each reviewed by its own Gatekeeper; the
    // last share also reviews the monitoring chart's pods. Their findings are taken in object
    // order, as one thread would have found them.
    let workers = if objects.len() < PARALLEL_FROM {
        1
    } else {
        crate::parallel::cores()
    };
    let share = objects.len().div_ceil(workers).max(1);
    // At least one share, which reviews the chart's pods even when there is no object.
    let shares: Vec<&[&Object]> = if objects.is_empty() {
        vec![&[]]
    } else {
        objects.chunks(share).collect()
    };
    let last = shares.len().saturating_sub(1);
    let numbered: Vec<(usize, &[&Object])> = shares.into_iter().enumerate().collect();
    let memory =
        verdicts::Memory::open(&s.env.environment.name, &gatekeeper::policies(s.artifacts))
            .map(std::sync::Arc::new);
    let reviews = crate::parallel::map(&numbered, |&(i, share)| {
        review_share(s, &namespaces, share, i == last, memory.as_ref())
    });
    let mut findings = Findings::default();
    let mut used = Vec::new();
    let mut passed = Vec::new();
    for r in reviews {
        let Reviews {
            recorded,
            admitted,
            verdicts,
            passed: objects,
        } = r?;
        used.extend(verdicts);
        passed.extend(objects);
        summary.admitted += admitted;
        for e in recorded.0 {
            findings.add(
                e.code,
                e.at,
                Refusal {
                    what: e.what,
                    top: &e.top,
                    object: &e.object,
                    line: e.line,
                    warning: e.warning,
                },
            );
        }
    }
    if let Some(memory) = memory {
        memory.keep(&used, &passed);
    }
    Ok(findings)
}

/// The labels of each generated Namespace, by name.
fn namespace_labels(objects: &[&Object]) -> BTreeMap<String, Value> {
    objects
        .iter()
        .map(|o| o.value())
        .filter(|o| o["kind"] == "Namespace")
        .filter_map(|o| {
            Some((
                o["metadata"]["name"].as_str()?.to_owned(),
                o["metadata"]["labels"].to_json(),
            ))
        })
        .collect()
}

/// The refusals of one share of the objects, in the order they were found.
#[derive(Default)]
struct Recorder(Vec<Recorded>);

/// One [`Findings::add`], owned.
struct Recorded {
    code: &'static str,
    at: (Vec<Seg>, &'static str),
    what: String,
    top: String,
    object: String,
    line: String,
    warning: bool,
}

impl Recorder {
    fn add(&mut self, code: &'static str, at: (Vec<Seg>, &'static str), refusal: Refusal<'_>) {
        self.0.push(Recorded {
            code,
            at,
            what: refusal.what,
            top: refusal.top.to_owned(),
            object: refusal.object.to_owned(),
            line: refusal.line,
            warning: refusal.warning,
        });
    }
}

/// What one share of the objects found.
struct Reviews {
    /// What it refuses, in the order found.
    recorded: Recorder,
    /// How many objects and pods it admits.
    admitted: usize,
    /// The Gatekeeper verdicts it used.
    verdicts: verdicts::Used,
    /// The objects that passed every review with nothing to report, each under its key
    /// ([`verdicts::Memory::object_key`]), with how many reviews it admitted.
    passed: Vec<(verdicts::Key, verdicts::Passed)>,
}

/// Whether admission has anything to review in an object of this API version and kind: a pod,
/// what creates pods, or a kind some Constraint may match. Any other object is admitted as it is.
fn reviewable(gk: &Gatekeeper, api_version: &str, kind: &str) -> bool {
    kind == "Pod" || gatekeeper::derives(api_version, kind) || gk.may_match(api_version, kind)
}

/// Reviews `objects` (and, when `chart`, the monitoring chart's pods), taking the Gatekeeper
/// verdicts and the objects that passed from `memory` when it holds them.
fn review_share(
    s: &Subject<'_>,
    namespaces: &BTreeMap<String, Value>,
    objects: &[&Object],
    chart_pods: bool,
    memory: Option<&std::sync::Arc<verdicts::Memory>>,
) -> Result<Reviews, String> {
    let env = s.env;
    let mut admitted = 0;
    let mut passed = Vec::new();
    let mut gk = match memory {
        Some(memory) => Gatekeeper::remembering(s.artifacts, std::sync::Arc::clone(memory))?,
        None => Gatekeeper::from_artifacts(s.artifacts)?,
    };
    let istio = mutate::Istio {
        cni: env.security.mesh.cni,
    };
    let mut findings = Recorder::default();
    let unreviewed: std::collections::HashSet<(&str, &str)> = objects
        .iter()
        .map(|o| (o.api_version(), o.kind()))
        .filter(|&(api_version, kind)| !reviewable(&gk, api_version, kind))
        .collect();
    // Reviews `top` as `reviewed`: how many of them it admits.
    let mut review = |findings: &mut Recorder,
                      top: &Value,
                      reviewed: Vec<Reviewed>,
                      chart: bool|
     -> Result<usize, String> {
        let mut admitted = 0;
        let top_name = describe(top);
        for (i, r) in reviewed.into_iter().enumerate() {
            let o = &r.object;
            let kind = o["kind"].as_str().unwrap_or_default();
            let ns = o["metadata"]["namespace"].as_str().unwrap_or_default();
            let mut refused = false;
            if kind == "Pod" && !chart {
                for name in mutate::offline_init_containers(o, &r.injected, istio) {
                    refused = true;
                    findings.add(
                        "DG0503",
                        (
                            path!["security", "mesh", "sidecar_injection"],
                            "the pod's traffic is redirected to the Istio proxy before the proxy \
                             runs; keep Vault's port out of the redirection \
                             (`traffic.sidecar.istio.io/excludeOutboundPorts`) or run the proxy \
                             as a native sidecar (`sidecar.istio.io/nativeSidecar`)",
                        ),
                        Refusal {
                            what: "the injected containers cannot start the pods of".to_owned(),
                            top: &top_name,
                            object: &describe(o),
                            line: format!(
                                "init container `{name}` connects to Vault while the pod's \
                                 traffic goes to an Istio proxy that has not started"
                            ),
                            warning: false,
                        },
                    );
                }
            }
            if kind == "Pod" {
                let labels = namespaces.get(ns).unwrap_or(&Value::Null);
                let level = level_of(labels["pod-security.kubernetes.io/enforce"].as_str());
                for f in pss::evaluate(o)
                    .into_iter()
                    .filter(|f| pss::refuses(level, f.level))
                {
                    refused = true;
                    let source = if chart {
                        Source::Chart
                    } else {
                        source_of(&r.injected, f.container.as_deref(), "")
                    };
                    let who = f
                        .container
                        .as_ref()
                        .map_or_else(String::new, |c| format!("container `{c}` "));
                    findings.add(
                        "DG0501",
                        locate(env, source, Concern::Security, o),
                        Refusal {
                            what: format!(
                                "Pod Security Admission at the `{}` level refuses the pods of",
                                level.as_str()
                            ),
                            top: &top_name,
                            object: &describe(o),
                            line: format!(
                                "{who}{} ({} control `{}`)",
                                f.detail,
                                f.level.as_str(),
                                f.control
                            ),
                            warning: false,
                        },
                    );
                }
            }
            let user = if i == 0 || chart {
                DEPLOYER
            } else {
                creator(kind)
            };
            for d in gk.review(o, "CREATE", user)? {
                if d.enforcement == "dryrun" {
                    continue;
                }
                let warning = d.enforcement != "deny";
                refused |= !warning;
                let source = if chart {
                    Source::Chart
                } else {
                    source_of(&r.injected, None, &d.message)
                };
                let subject = format!("{}: ", describe(o));
                let line = d
                    .message
                    .strip_prefix(&subject)
                    .unwrap_or(&d.message)
                    .to_owned();
                findings.add(
                    "DG0502",
                    locate(env, source, concern_of(&d.kind), o),
                    Refusal {
                        what: if warning {
                            "the generated Gatekeeper constraints warn about"
                        } else {
                            "the generated Gatekeeper constraints deny"
                        }
                        .to_owned(),
                        top: &top_name,
                        object: &describe(o),
                        line: format!("{line} ({})", d.kind),
                        warning,
                    },
                );
            }
            if !refused {
                admitted += 1;
            }
        }
        Ok(admitted)
    };
    for &object in objects {
        if unreviewed.contains(&(object.api_version(), object.kind())) {
            admitted += 1;
            continue;
        }
        let ns = object.namespace().unwrap_or_default();
        let labels = namespaces.get(ns).unwrap_or(&Value::Null);
        let key = memory.map(|m| {
            (
                m.object_key(&object.document_sha256(), labels, istio.cni),
                m,
            )
        });
        if let Some((key, n)) = key.and_then(|(k, m)| Some((k, m.passed(&k)?))) {
            admitted += n as usize;
            passed.push((key, n));
            continue;
        }
        // The object itself as it is, then what controllers create from it.
        let top = &object.value().to_json();
        let reviewed = std::iter::once(Cow::Borrowed(top))
            .chain(gatekeeper::children(top).into_iter().map(Cow::Owned))
            .map(|o| {
                if o["kind"] == "Pod" {
                    let ns = o["metadata"]["namespace"].as_str().unwrap_or_default();
                    let labels = namespaces.get(ns).unwrap_or(&Value::Null);
                    // A pod a controller creates is the proof's own to change.
                    let (object, injected) = mutate::mutate(o.into_owned(), labels, istio);
                    Reviewed {
                        object: Cow::Owned(object),
                        injected,
                    }
                } else {
                    Reviewed {
                        object: o,
                        injected: Vec::new(),
                    }
                }
            })
            .collect();
        let found = findings.0.len();
        let n = review(&mut findings, top, reviewed, false)?;
        admitted += n;
        if let Some((key, _)) = key.filter(|_| findings.0.len() == found)
            && let Ok(n) = verdicts::Passed::try_from(n)
        {
            passed.push((key, n));
        }
    }
    if let Some(values) = s
        .artifacts
        .iter()
        .filter(|_| chart_pods)
        .find(|a| a.path == "helm/monitoring-values.yaml")
    {
        let bytes = values
            .bytes
            .read()
            .map_err(|e| format!("helm/monitoring-values.yaml could not be read back: {e}"))?;
        let values: Value = serde_yaml::from_slice(&bytes)
            .map_err(|e| format!("helm/monitoring-values.yaml does not parse: {e}"))?;
        let ns = env.namespace(NamespaceKey::Monitoring);
        for pod in chart::pods(&values, ns) {
            let reviewed = vec![Reviewed {
                object: Cow::Borrowed(&pod),
                injected: Vec::new(),
            }];
            admitted += review(&mut findings, &pod, reviewed, true)?;
        }
    }
    Ok(Reviews {
        recorded: findings,
        admitted,
        verdicts: gk.used(),
        passed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// An object kept as passed is taken as it is kept, without reviewing its pods: the count
    /// kept is the count admitted, and a refusal its pods would meet is not looked for.
    #[test]
    fn an_object_kept_as_passed_is_taken_without_review() {
        let mut env = crate::targets::testkit::load("tests/fixtures/workloads.toml");
        // Without the CNI agent every meshed pod gets `istio-init`, which the restricted level
        // refuses; the generated objects are the same.
        env.security.mesh.cni = false;
        let artifacts =
            crate::generate(&env, std::path::Path::new("workloads.toml")).expect("generates");
        let s = Subject {
            env: &env,
            artifacts: &artifacts,
            workloads: &[],
        };
        let objects: Vec<&Object> = artifacts.iter().flat_map(|a| &a.objects).collect();
        let namespaces = namespace_labels(&objects);
        let reviewed = review_share(&s, &namespaces, &objects, false, None).expect("reviews");
        assert!(
            reviewed.recorded.0.iter().any(|r| r.code == "DG0501"),
            "the pods are refused when reviewed"
        );

        // Objects no review can refuse (a Service, a ConfigMap) are admitted without a key; the
        // others are kept.
        let gk = Gatekeeper::from_artifacts(&artifacts).expect("compiles");
        let (reviewable, unreviewable): (Vec<&Object>, Vec<&Object>) = objects
            .iter()
            .partition(|o| reviewable(&gk, o.api_version(), o.kind()));
        assert!(!reviewable.is_empty() && !unreviewable.is_empty());
        let mut memory = verdicts::Memory::holding(std::collections::HashMap::new());
        let keys: Vec<verdicts::Key> = reviewable
            .iter()
            .map(|o| {
                let ns = o.namespace().unwrap_or_default();
                let labels = namespaces.get(ns).unwrap_or(&Value::Null);
                memory.object_key(&o.document_sha256(), labels, false)
            })
            .collect();
        // Each kept with a count of its own, so that a count not taken from here shows (an object
        // written twice, the same in two files, is one key with the later count).
        for (n, key) in (1..).zip(&keys) {
            memory.pass(*key, n);
        }
        let expected: Vec<(verdicts::Key, verdicts::Passed)> = keys
            .iter()
            .map(|k| (*k, memory.passed(k).expect("kept")))
            .collect();
        let kept = review_share(&s, &namespaces, &objects, false, Some(&Arc::new(memory)))
            .expect("reviews");
        assert!(kept.recorded.0.is_empty());
        assert!(kept.verdicts.is_empty());
        assert_eq!(
            kept.admitted,
            expected.iter().map(|(_, n)| *n as usize).sum::<usize>() + unreviewable.len()
        );
        assert_eq!(kept.passed, expected);
    }
}
