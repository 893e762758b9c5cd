//! The Kubernetes object stream of one environment, for `render` and `argocd generate`: every object
//! of the manifest artifacts (kubernetes/, istio/, prometheus/prometheusrule.yaml, opa/gatekeeper/,
//! backup/) as one multi-document YAML stream, Namespaces and other cluster-scoped objects first so
//! `kubectl apply -f -` and Argo CD create them before what lives in them.
//!
//! The artifacts carry their objects as the targets built them (identity, scope, role and YAML
//! document), so the stream is assembled from those, never by reading the files back.

use crate::targets::Artifact;
use crate::targets::kit::{Object, Role, Scope};
use std::collections::HashMap;

/// Where an object goes in the stream: Namespaces first, then the definitions other objects need
/// (`CustomResourceDefinitions`, `ConstraintTemplates`), then every other cluster-scoped object, then
/// the cluster-scoped instances of those definitions (Gatekeeper constraints), then every
/// namespaced object. Definitions keep their artifact order among themselves.
fn stage(o: &Object) -> u8 {
    match (o.scope(), o.role()) {
        (_, Role::Namespace) => 0,
        (_, Role::Definition) => 1,
        (Scope::Cluster, Role::Resource) => 2,
        (Scope::Cluster, Role::Instance) => 3,
        (Scope::Namespaced, Role::Resource | Role::Instance) => 4,
    }
}

/// Every Kubernetes object of the manifest artifacts (not those applied by hand, such as a
/// restore), in stream order: by `stage`, and within a
/// stage in artifact (path) and file order.
///
/// # Errors
/// Two artifacts holding the same object (API group, kind, namespace and name): applying the
/// stream would keep only the last, which is a generator bug, named in the message.
pub fn kubernetes_objects(artifacts: &[Artifact]) -> Result<Vec<&Object>, String> {
    // Looked up by hash: the first holder of an identity is all that is kept, so the order of the
    // map never shows.
    let mut seen: HashMap<(&str, &str, Option<&str>, &str), &str> = HashMap::new();
    let mut objects = Vec::new();
    for a in artifacts.iter().filter(|a| a.manifest) {
        for o in &a.objects {
            // An object is the same whatever version of its API group it is written in.
            let group = o.api_version().rsplit_once('/').map_or("", |(g, _)| g);
            let id = (group, o.kind(), o.namespace(), o.name());
            if let Some(first) = seen.insert(id, &a.path) {
                let namespace = o.namespace().map_or(String::new(), |n| format!("{n}/"));
                return Err(format!(
                    "{first} and {} both hold {} {namespace}{}",
                    a.path,
                    o.kind(),
                    o.name()
                ));
            }
            objects.push(o);
        }
    }
    objects.sort_by_key(|o| stage(o));
    Ok(objects)
}

/// The YAML stream (`---` before each object; empty when there are none), whole, for the tests
/// that compare it; the commands write it with [`write_stream`].
///
/// # Errors
/// As [`kubernetes_objects`].
#[cfg(test)]
pub fn kubernetes_stream(artifacts: &[Artifact]) -> Result<String, String> {
    let mut out = Vec::new();
    write_stream(&kubernetes_objects(artifacts)?, &mut out).map_err(|e| e.to_string())?;
    String::from_utf8(out).map_err(|e| e.to_string())
}

/// Writes the objects to `out` as one multi-document YAML stream, each document as its artifact
/// holds it. `render` and `argocd generate` write it straight to stdout: held whole, the stream
/// of a large environment (16 MB at 1,000 services) would come on top of the objects it copies.
///
/// # Errors
/// `out` fails.
pub fn write_stream(objects: &[&Object], out: &mut dyn std::io::Write) -> std::io::Result<()> {
    for o in objects {
        out.write_all(b"---\n")?;
        out.write_all(o.document()?.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::kit::{self, Kind};
    use crate::targets::{Artifact, Context, testkit};
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::batch::v1::CronJob;
    use k8s_openapi::api::core::v1::Namespace;
    use k8s_openapi::api::rbac::v1::ClusterRole;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_owned()),
            namespace: namespace.map(str::to_owned),
            ..ObjectMeta::default()
        }
    }

    fn names(stream: &str) -> Vec<String> {
        stream
            .lines()
            .filter_map(|l| l.strip_prefix("  name: "))
            .map(str::to_owned)
            .collect()
    }

    fn artifacts() -> Vec<Artifact> {
        let env = testkit::load("tests/fixtures/minimal.toml");
        let cx = Context::new(&env, "test.toml", None);
        let object = |o: Result<Object, _>| o.expect("the object serializes");
        let template = Kind::cluster(
            "templates.gatekeeper.sh/v1",
            "ConstraintTemplate",
            Role::Definition,
        );
        let constraint = Kind::cluster(
            "constraints.gatekeeper.sh/v1beta1",
            "DeaapX",
            Role::Instance,
        );
        vec![
            kit::manifest(
                &cx,
                "test",
                "backup/cronjob.yaml",
                vec![object(kit::object(&CronJob {
                    metadata: meta("nightly", Some("apps")),
                    ..CronJob::default()
                }))],
            ),
            kit::manifest(
                &cx,
                "test",
                "kubernetes/app.yaml",
                vec![
                    object(kit::object(&Deployment {
                        metadata: meta("api", Some("apps")),
                        ..Deployment::default()
                    })),
                    object(kit::object(&ClusterRole {
                        metadata: meta("reader", None),
                        ..ClusterRole::default()
                    })),
                ],
            ),
            kit::manifest(
                &cx,
                "test",
                "kubernetes/namespaces.yaml",
                vec![object(kit::object(&Namespace {
                    metadata: meta("apps", None),
                    ..Namespace::default()
                }))],
            ),
            kit::manifest(
                &cx,
                "test",
                "opa/gatekeeper/x.yaml",
                vec![
                    object(constraint.object(meta("deaap-x", None), ())),
                    object(template.object(meta("deaapx", None), ())),
                ],
            ),
            Artifact::file(
                "test",
                "helm/values.yaml",
                b"apiVersion: v1\nkind: ConfigMap\n".to_vec(),
            ),
        ]
    }

    #[test]
    fn cluster_scoped_objects_come_first_in_dependency_order() {
        let stream = kubernetes_stream(&artifacts()).expect("no object twice");
        // The Namespace, the template, the ClusterRole, the constraint, then the namespaced
        // CronJob and Deployment in artifact order.
        assert_eq!(
            names(&stream),
            ["apps", "deaapx", "reader", "deaap-x", "nightly", "api"]
        );
        assert_eq!(stream.matches("---\n").count(), 6);
        assert!(!stream.contains("# Generated"), "the header is no object");
        assert!(!stream.contains("ConfigMap"), "only manifest artifacts");
    }

    #[test]
    fn no_manifests_is_an_empty_stream_and_an_object_twice_names_both_files() {
        assert_eq!(kubernetes_stream(&[]).as_deref(), Ok(""));
        let mut twice = artifacts();
        let mut copy = twice[0].clone();
        copy.path = "backup/again.yaml".to_owned();
        twice.push(copy);
        let err = kubernetes_stream(&twice).expect_err("the CronJob is there twice");
        assert_eq!(
            err,
            "backup/cronjob.yaml and backup/again.yaml both hold CronJob apps/nightly"
        );
    }

    #[test]
    fn the_scope_comes_from_the_type_or_the_declaration() {
        let ns = kit::object(&Namespace {
            metadata: meta("n", None),
            ..Namespace::default()
        })
        .expect("a Namespace");
        assert_eq!((ns.scope(), ns.role()), (Scope::Cluster, Role::Namespace));
        let deployment = kit::object(&Deployment {
            metadata: meta("d", Some("n")),
            ..Deployment::default()
        })
        .expect("a Deployment");
        assert_eq!(deployment.scope(), Scope::Namespaced);
        assert!(
            kit::object(&Deployment {
                metadata: meta("d", None),
                ..Deployment::default()
            })
            .is_err(),
            "a namespaced object needs its namespace"
        );
        let rule = Kind::namespaced("monitoring.coreos.com/v1", "PrometheusRule");
        assert!(rule.object(meta("r", None), ()).is_err());
        let o = rule.object(meta("r", Some("m")), ()).expect("a rule");
        assert_eq!((o.scope(), o.role()), (Scope::Namespaced, Role::Resource));
        assert_eq!(
            o.document().expect("held"),
            "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n  name: r\n  namespace: m\nspec: null\n"
        );
    }
}
