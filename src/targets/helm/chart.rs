//! `helm/values-<environment>.yaml`: the values of the `deaap` chart (`charts/deaap/`) for one
//! environment, from which `helm template` renders the same objects as `deaap-gen render`.
//!
//! The values hold every object of the environment's object stream, one section per kind (the
//! chart has one template per kind): namespaced kinds keyed by namespace, then name; cluster-scoped
//! ones by name; Gatekeeper constraints by kind, then name. An entry is the object without
//! `apiVersion`, `kind` and `metadata` (the template writes those), plus its `labels` and
//! `annotations`. Workloads (`Deployments`, `StatefulSets`, `DaemonSets`, `CronJobs`) also lift
//! out what a Helm user turns: `replicas`, and each container's `image` and `resources` under `images.<container>` and
//! `resources.<container>`. Helm adds its own `app.kubernetes.io/managed-by` and `helm.sh/chart`
//! labels; every other field comes from here. The `CustomResourceDefinitions` ship in the chart's
//! `crds/` folder instead, as Helm wants them.

use crate::targets::{Artifact, Context, TargetError};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The chart's templates: which values section holds a kind (by API version and kind), how its
/// entries are keyed, and where a workload keeps its pod spec.
struct Section {
    api_version: &'static str,
    /// `None`: every kind of the API version (Gatekeeper's constraint kinds, keyed by kind).
    kind: Option<&'static str>,
    key: &'static str,
    /// Cluster-scoped: entries keyed by name alone.
    cluster: bool,
    workload: Option<Workload>,
}

#[derive(Clone, Copy)]
enum Workload {
    /// `spec.replicas` and the pod spec at `spec.template.spec`.
    Replicated,
    /// The pod spec at `spec.jobTemplate.spec.template.spec`; no replicas.
    Scheduled,
}

const fn section(api_version: &'static str, kind: &'static str, key: &'static str) -> Section {
    Section {
        api_version,
        kind: Some(kind),
        key,
        cluster: false,
        workload: None,
    }
}

const fn cluster(api_version: &'static str, kind: &'static str, key: &'static str) -> Section {
    Section {
        cluster: true,
        ..section(api_version, kind, key)
    }
}

const fn workload(
    api_version: &'static str,
    kind: &'static str,
    key: &'static str,
    w: Workload,
) -> Section {
    Section {
        workload: Some(w),
        ..section(api_version, kind, key)
    }
}

/// Every section of the chart's values, in the order of `values.yaml` and of the schema. A kind
/// missing here is a generator error, not a silently dropped object.
const SECTIONS: &[Section] = &[
    cluster("v1", "Namespace", "namespaces"),
    section("v1", "ResourceQuota", "resourceQuotas"),
    section("v1", "ServiceAccount", "serviceAccounts"),
    section("v1", "ConfigMap", "configMaps"),
    section("v1", "Service", "services"),
    section("v1", "PersistentVolumeClaim", "persistentVolumeClaims"),
    workload("apps/v1", "Deployment", "deployments", Workload::Replicated),
    workload(
        "apps/v1",
        "StatefulSet",
        "statefulSets",
        Workload::Replicated,
    ),
    workload("apps/v1", "DaemonSet", "daemonSets", Workload::Replicated),
    workload("batch/v1", "CronJob", "cronJobs", Workload::Scheduled),
    section(
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        "horizontalPodAutoscalers",
    ),
    section("policy/v1", "PodDisruptionBudget", "podDisruptionBudgets"),
    section("networking.k8s.io/v1", "NetworkPolicy", "networkPolicies"),
    section("networking.istio.io/v1beta1", "Gateway", "gateways"),
    section(
        "networking.istio.io/v1beta1",
        "VirtualService",
        "virtualServices",
    ),
    section(
        "networking.istio.io/v1beta1",
        "DestinationRule",
        "destinationRules",
    ),
    section(
        "security.istio.io/v1beta1",
        "PeerAuthentication",
        "peerAuthentications",
    ),
    section("telemetry.istio.io/v1", "Telemetry", "telemetries"),
    section("cert-manager.io/v1", "Certificate", "certificates"),
    section(
        "monitoring.coreos.com/v1",
        "PrometheusRule",
        "prometheusRules",
    ),
    section("postgresql.cnpg.io/v1", "Cluster", "clusters"),
    section(
        "postgresql.cnpg.io/v1",
        "ScheduledBackup",
        "scheduledBackups",
    ),
    cluster(
        "templates.gatekeeper.sh/v1",
        "ConstraintTemplate",
        "constraintTemplates",
    ),
    Section {
        api_version: "constraints.gatekeeper.sh/v1beta1",
        kind: None,
        key: "constraints",
        cluster: true,
        workload: None,
    },
];

/// The label Helm sets to itself; the chart writes it, so the values leave it out.
const MANAGED_BY: &str = "app.kubernetes.io/managed-by";

/// The values file of the chart for this environment.
///
/// # Errors
/// An object of a kind the chart has no template for, or with metadata the chart cannot carry (a
/// generator bug, reported rather than dropped).
pub(in crate::targets) fn values(
    cx: &Context<'_>,
    artifacts: &[Artifact],
) -> Result<Artifact, TargetError> {
    // section → outer key (namespace, constraint kind; none when cluster-scoped) → name → entry
    type Entries = BTreeMap<String, Value>;
    let objects = crate::stream::kubernetes_objects(artifacts).map_err(TargetError)?;
    let mut sections: BTreeMap<&str, BTreeMap<Option<&str>, Entries>> = BTreeMap::new();
    for o in objects {
        if o.kind() == "CustomResourceDefinition" {
            continue;
        }
        let s = SECTIONS
            .iter()
            .find(|s| s.api_version == o.api_version() && s.kind.is_none_or(|k| k == o.kind()))
            .ok_or_else(|| {
                TargetError(format!(
                    "the chart has no template for {} {}",
                    o.api_version(),
                    o.kind()
                ))
            })?;
        let outer = if s.kind.is_none() {
            Some(o.kind())
        } else if s.cluster {
            None
        } else {
            o.namespace()
        };
        let entries = sections.entry(s.key).or_default().entry(outer).or_default();
        if entries
            .insert(o.name().to_owned(), entry(o.value(), s.workload)?)
            .is_some()
        {
            return Err(TargetError(format!(
                "two {} objects named {} in one values section",
                o.kind(),
                o.name()
            )));
        }
    }
    let mut out = Map::new();
    out.insert("environment".into(), json!(cx.env.environment.name));
    for s in SECTIONS {
        let Some(groups) = sections.remove(s.key) else {
            continue;
        };
        let mut section = Map::new();
        for (outer, entries) in groups {
            let entries: Map<String, Value> = entries.into_iter().collect();
            match outer {
                Some(outer) => {
                    section.insert(outer.to_owned(), Value::Object(entries));
                }
                None => section.extend(entries),
            }
        }
        out.insert(s.key.into(), Value::Object(section));
    }
    let path = format!("helm/values-{}.yaml", cx.env.environment.name);
    crate::render::json_yaml_artifact(cx, "helm", path, Value::Object(out))
}

/// A map with its keys in sorted order.
fn sorted(map: Map<String, Value>) -> Value {
    Value::Object(
        map.into_iter()
            .collect::<BTreeMap<_, _>>()
            .into_iter()
            .collect(),
    )
}

/// One object as a values entry.
fn entry(object: &Value, workload: Option<Workload>) -> Result<Value, TargetError> {
    let mut body = object
        .as_object()
        .cloned()
        .ok_or_else(|| TargetError("an object is not a map".into()))?;
    body.remove("apiVersion");
    body.remove("kind");
    let metadata = body.remove("metadata").unwrap_or(Value::Null);
    let mut entry = Map::new();
    for (key, value) in metadata.as_object().into_iter().flatten() {
        match key.as_str() {
            "name" | "namespace" => {}
            "labels" => {
                let mut labels = value.as_object().cloned().unwrap_or_default();
                labels.remove(MANAGED_BY);
                if !labels.is_empty() {
                    entry.insert("labels".into(), sorted(labels));
                }
            }
            "annotations" => {
                entry.insert("annotations".into(), value.clone());
            }
            other => {
                return Err(TargetError(format!(
                    "the chart carries no metadata.{other} (object {})",
                    metadata["name"]
                )));
            }
        }
    }
    if let Some(w) = workload {
        lift(&mut body, &mut entry, w);
    }
    for (key, value) in body {
        if entry.insert(key.clone(), value).is_some() {
            return Err(TargetError(format!(
                "object field `{key}` clashes with the chart's entry key"
            )));
        }
    }
    Ok(Value::Object(entry))
}

/// Moves a workload's replicas and its containers' images and resources from the object into
/// the entry's own keys.
fn lift(body: &mut Map<String, Value>, entry: &mut Map<String, Value>, w: Workload) {
    let Some(spec) = body.get_mut("spec") else {
        return;
    };
    if let (Workload::Replicated, Some(replicas)) =
        (w, spec.as_object_mut().and_then(|s| s.remove("replicas")))
    {
        entry.insert("replicas".into(), replicas);
    }
    let mut pod = match w {
        Workload::Replicated => spec.pointer_mut("/template/spec"),
        Workload::Scheduled => spec.pointer_mut("/jobTemplate/spec/template/spec"),
    };
    let mut images = Map::new();
    let mut resources = Map::new();
    for field in ["initContainers", "containers"] {
        let containers = pod
            .as_deref_mut()
            .and_then(|p| p.get_mut(field))
            .and_then(Value::as_array_mut);
        for c in containers.into_iter().flatten() {
            let Some(c) = c.as_object_mut() else { continue };
            let name = c
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if let Some(image) = c.remove("image") {
                images.insert(name.clone(), image);
            }
            if let Some(r) = c.remove("resources") {
                resources.insert(name, r);
            }
        }
    }
    if !images.is_empty() {
        entry.insert("images".into(), sorted(images));
    }
    if !resources.is_empty() {
        entry.insert("resources".into(), sorted(resources));
    }
}

/// The JSON Schema of the chart's values (`charts/deaap/values.schema.json`), the same for every
/// environment: Helm checks the values against it on lint, template, install and upgrade, so a
/// misspelt key or a value of the wrong type fails before anything reaches the cluster.
#[must_use]
pub fn values_schema() -> Value {
    let mut properties = Map::new();
    properties.insert(
        "environment".into(),
        json!({
            "description": "The environment these values were compiled for (its `[environment] name`).",
            "type": "string",
        }),
    );
    for s in SECTIONS {
        let (def, what) = match (s.workload, s.kind) {
            (Some(Workload::Replicated), _) => {
                ("workload", "with their replicas, images and resources")
            }
            (Some(Workload::Scheduled), _) => {
                ("scheduledWorkload", "with their images and resources")
            }
            (None, Some("ServiceAccount")) => ("serviceAccount", "with their token setting"),
            (None, Some("ConfigMap")) => ("configMap", "with their files"),
            (None, _) => ("entry", "each with its spec"),
        };
        let kind = s.kind.unwrap_or("Gatekeeper constraint");
        let entries =
            json!({"type": "object", "additionalProperties": {"$ref": format!("#/$defs/{def}")}});
        let (keyed, inner) = if s.kind.is_none() {
            (
                "kind, then name",
                json!({"type": "object", "propertyNames": {"$ref": "#/$defs/kind"}, "additionalProperties": entries}),
            )
        } else if s.cluster {
            ("name", entries)
        } else {
            (
                "namespace, then name",
                json!({"type": "object", "propertyNames": {"$ref": "#/$defs/name"}, "additionalProperties": entries}),
            )
        };
        let mut section = inner;
        section["description"] = json!(format!(
            "{kind} objects ({}), by {keyed}, {what}.",
            s.api_version
        ));
        if s.kind.is_some() && s.cluster {
            section["propertyNames"] = json!({"$ref": "#/$defs/name"});
        }
        properties.insert(s.key.into(), section);
    }
    let strings = json!({"type": "object", "additionalProperties": {"type": "string"}});
    let metadata = json!({
        "labels": {"description": "The object's labels (Helm adds helm.sh/chart and app.kubernetes.io/managed-by).", "$ref": "#/$defs/strings"},
        "annotations": {"description": "The object's annotations.", "$ref": "#/$defs/strings"},
    });
    let with = |extra: Value, required: &[&str]| {
        let mut p = metadata.clone();
        for (k, v) in extra.as_object().into_iter().flatten() {
            p[k] = v.clone();
        }
        json!({"type": "object", "additionalProperties": false, "properties": p, "required": required})
    };
    let spec = json!({"description": "The object's spec, as the Kubernetes API defines it for its kind.", "type": "object"});
    let images = json!({
        "description": "Each container's image by container name, e.g. `registry.example.com/deaap/api-gateway:1.8.0`.",
        "type": "object",
        "additionalProperties": {"type": "string", "minLength": 1},
    });
    let resources = json!({
        "description": "Each container's requests and limits by container name.",
        "type": "object",
        "additionalProperties": {"$ref": "#/$defs/resources"},
    });
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://deaap.company.com/schemas/deaap-chart-values.schema.json",
        "title": "Values of the deaap chart",
        "description": "Generated by `deaap-gen schema --chart`; deaap-gen writes a values file of this shape for each environment (helm/values-<environment>.yaml).",
        "type": "object",
        "additionalProperties": false,
        "properties": properties,
        "$defs": {
            "name": {"description": "A Kubernetes object or namespace name.", "type": "string", "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253},
            "kind": {"description": "A Kubernetes kind.", "type": "string", "pattern": "^[A-Z][A-Za-z0-9]*$"},
            "strings": strings,
            "quantity": {"description": "A Kubernetes quantity (`500m`, `2Gi`, `4`).", "type": ["string", "number"]},
            "resources": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "requests": {"type": "object", "additionalProperties": {"$ref": "#/$defs/quantity"}},
                    "limits": {"type": "object", "additionalProperties": {"$ref": "#/$defs/quantity"}},
                },
            },
            "entry": with(json!({"spec": spec}), &[]),
            "serviceAccount": with(json!({
                "automountServiceAccountToken": {"description": "Whether pods get the account's API token mounted.", "type": "boolean"},
            }), &[]),
            "configMap": with(json!({
                "data": {"description": "The files the ConfigMap holds, by key (a Redis Sentinel set's redis.conf, sentinel.conf and start step).", "$ref": "#/$defs/strings"},
            }), &[]),
            "workload": with(json!({
                "replicas": {"description": "The number of pods (left out under a HorizontalPodAutoscaler, which sets it).", "type": "integer", "minimum": 0},
                "images": images,
                "resources": resources,
                "spec": spec,
            }), &["spec"]),
            "scheduledWorkload": with(json!({
                "images": images,
                "resources": resources,
                "spec": spec,
            }), &["spec"]),
        },
    })
}
