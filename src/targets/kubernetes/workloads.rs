//! The DEAAP workloads of a Kubernetes environment: each enabled service as a Deployment, each
//! storage backend, the blockchain nodes and the consensus validators as `StatefulSets`, each with its
//! `ServiceAccount`, Services, HPA and PDB; a PostgreSQL store with `replication = "cloudnative-pg"`
//! as a CloudNativePG `Cluster` ([`kit::cnpg`]). [`plan`] describes them once; the objects and the network
//! policies are both derived from that description.

use crate::model::{AccessMode, Autoscaling, Environment, Persistence};
use crate::plan::{self, Kind, Workload};
use crate::targets::kit::{self, Object, meta, object as obj, pod};
use crate::targets::kubernetes::sentinel;
use crate::targets::{Artifact, Context, TargetError};
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy,
    StatefulSetSpec,
};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec,
    MetricIdentifier, MetricSpec, MetricTarget, PodsMetricSource, ResourceMetricSource,
};
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, Service, ServiceAccount, ServicePort,
    ServiceSpec, VolumeResourceRequirements,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

pub(crate) use crate::plan::VALIDATOR;

/// How a planned workload is run.
#[derive(Debug, Clone)]
pub(crate) enum Controller<'a> {
    /// A Deployment behind the Service `<name>-service`.
    Deployment {
        autoscaling: Option<&'a Autoscaling>,
    },
    /// A `StatefulSet` with a headless governing Service `<name>-headless` and a client Service
    /// `<name>`, which is the host name the other workloads' URLs use.
    StatefulSet {
        persistence: Option<&'a Persistence>,
        parallel: bool,
    },
    /// A CloudNativePG `Cluster`: the operator creates the pods, their volumes, Services
    /// (`<name>-rw`, `-ro`, `-r`) and disruption budgets.
    CloudnativePg,
}

/// One workload and how Kubernetes runs it.
#[derive(Debug, Clone)]
pub(crate) struct Planned<'a> {
    pub workload: &'a Workload<'a>,
    pub controller: Controller<'a>,
    /// Output file below `kubernetes/`.
    pub file: String,
}

impl Planned<'_> {
    /// The name of the Service clients use.
    #[must_use]
    pub(crate) fn service_name(&self) -> String {
        self.workload.service_name()
    }
}

/// Every deployed workload of the environment's plan (`workloads`, as [`plan::workloads`] gives
/// them), in its order (services, storage, blockchain, validators), with the controller that runs
/// it.
pub(crate) fn plan<'a>(env: &'a Environment, workloads: &'a [Workload<'a>]) -> Vec<Planned<'a>> {
    workloads
        .iter()
        .filter(|w| w.deployed)
        .filter_map(|w| match w.kind {
            Kind::Service => Some(service(env, w)),
            Kind::Storage => Some(storage(env, w)),
            Kind::Blockchain => Some(blockchain(env, w)),
            Kind::Consensus => Some(validators(w)),
            // Backup jobs are the backup target's CronJobs, not long-running workloads.
            Kind::Backup => None,
        })
        .collect()
}

/// A service runs as a Deployment, autoscaled when its autoscaling is on.
fn service<'a>(env: &'a Environment, w: &'a Workload<'a>) -> Planned<'a> {
    let s = &env.services[&w.name];
    Planned {
        controller: Controller::Deployment {
            autoscaling: s.autoscaling.as_ref().filter(|a| a.enabled),
        },
        file: format!("{}.yaml", w.name),
        workload: w,
    }
}

/// A storage backend runs as a `StatefulSet`, with a claim per replica when it persists, or as a
/// CloudNativePG `Cluster` with `replication = "cloudnative-pg"`.
fn storage<'a>(env: &'a Environment, w: &'a Workload<'a>) -> Planned<'a> {
    let persistence = env.storage[&w.name].persistence.as_ref();
    let file = format!("storage-{}.yaml", w.name);
    if w.cloudnative_pg() {
        return Planned {
            controller: Controller::CloudnativePg,
            file,
            workload: w,
        };
    }
    stateful(w, persistence.filter(|p| p.enabled), false, file)
}

/// The blockchain nodes run as a `StatefulSet`, with a claim per replica when they persist.
fn blockchain<'a>(env: &'a Environment, w: &'a Workload<'a>) -> Planned<'a> {
    let persistence = Some(&env.blockchain.persistence).filter(|p| p.enabled);
    stateful(w, persistence, false, "blockchain.yaml".to_owned())
}

/// The validators run as a `StatefulSet` whose pods start in parallel.
fn validators<'a>(w: &'a Workload<'a>) -> Planned<'a> {
    stateful(w, None, true, "validators.yaml".to_owned())
}

fn stateful<'a>(
    workload: &'a Workload<'a>,
    persistence: Option<&'a Persistence>,
    parallel: bool,
    file: String,
) -> Planned<'a> {
    Planned {
        controller: Controller::StatefulSet {
            persistence,
            parallel,
        },
        file,
        workload,
    }
}

/// The Kubernetes files of every workload: path below the output folder → objects.
///
/// # Errors
/// A secret that cannot be injected.
pub(crate) fn files(cx: &Context<'_>, target: &'static str) -> Result<Vec<Artifact>, TargetError> {
    // Each workload's file is built on its own, spread over the machine's cores, and let go of at
    // once when the output folder holds it already ([`Context::let_go`]).
    crate::parallel::map(&plan(cx.env, cx.workloads()), |p| {
        let path = format!("kubernetes/{}", p.file);
        let mut a = kit::manifest(cx, target, path, objects(cx.env, p)?);
        cx.let_go(&mut a);
        Ok(a)
    })
    .into_iter()
    .collect()
}

fn objects(env: &Environment, p: &Planned<'_>) -> Result<Vec<Object>, TargetError> {
    let w = &p.workload;
    if let Controller::CloudnativePg = p.controller {
        return operated_postgres(env, w);
    }
    let sel = kit::selector_labels(env, &w.name);
    let mut template = pod::template(env, w)?;
    if let Some(m) = template.metadata.as_mut() {
        m.annotations
            .get_or_insert_with(BTreeMap::new)
            .extend(own_port_scrape(env, w));
    }
    let mut out = vec![obj(&ServiceAccount {
        metadata: meta(env, &w.name, Some(&w.namespace), w.component),
        automount_service_account_token: Some(w.api_access),
        ..ServiceAccount::default()
    })?];
    let ports: Vec<ServicePort> = w
        .ports
        .iter()
        .map(|pt| ServicePort {
            name: Some(pt.name.clone()),
            port: i32::from(pt.number),
            target_port: Some(IntOrString::String(pt.name.clone())),
            protocol: Some("TCP".to_owned()),
            ..ServicePort::default()
        })
        .collect();
    let service = |name: String, headless: bool, ports: Vec<ServicePort>| {
        let mut m = meta(env, &w.name, Some(&w.namespace), w.component);
        m.name = Some(name);
        obj(&Service {
            metadata: m,
            spec: Some(ServiceSpec {
                type_: Some("ClusterIP".to_owned()),
                cluster_ip: headless.then(|| "None".to_owned()),
                publish_not_ready_addresses: headless.then_some(true),
                selector: Some(sel.clone()),
                ports: Some(ports),
                ..ServiceSpec::default()
            }),
            ..Service::default()
        })
    };
    match &p.controller {
        Controller::Deployment { autoscaling } => {
            out.push(obj(&Deployment {
                metadata: pod::workload_meta(env, w),
                spec: Some(DeploymentSpec {
                    // With an HPA the replica count is the autoscaler's: a count in the manifest
                    // would reset it on every sync.
                    replicas: autoscaling.is_none().then(|| count(w.replicas)),
                    revision_history_limit: Some(5),
                    selector: kit::selector(sel.clone()),
                    template,
                    ..DeploymentSpec::default()
                }),
                ..Deployment::default()
            })?);
            out.push(service(p.service_name(), false, ports.clone())?);
            if let Some(a) = autoscaling {
                out.push(obj(&hpa(env, w, a))?);
            }
        }
        Controller::StatefulSet {
            persistence,
            parallel,
        } => {
            let headless = format!("{}-headless", w.name);
            // A Sentinel set's clients reach the sentinels, which name the primary; never the
            // servers behind one Service.
            let client_ports: Vec<ServicePort> = if w.sentinels() {
                out.push(sentinel::apply(env, w, &mut template)?);
                let sentinel = i32::from(plan::SENTINEL_PORT);
                ports
                    .iter()
                    .filter(|pt| pt.port == sentinel)
                    .cloned()
                    .collect()
            } else {
                ports.clone()
            };
            out.push(obj(&StatefulSet {
                metadata: pod::workload_meta(env, w),
                spec: Some(StatefulSetSpec {
                    replicas: Some(count(w.replicas)),
                    revision_history_limit: Some(5),
                    service_name: Some(headless.clone()),
                    pod_management_policy: parallel.then(|| "Parallel".to_owned()),
                    selector: kit::selector(sel.clone()),
                    template,
                    volume_claim_templates: persistence.map(|pv| vec![claim(pv)]),
                    // Deleting or scaling down never deletes data.
                    persistent_volume_claim_retention_policy: persistence.map(|_| {
                        StatefulSetPersistentVolumeClaimRetentionPolicy {
                            when_deleted: Some("Retain".to_owned()),
                            when_scaled: Some("Retain".to_owned()),
                        }
                    }),
                    ..StatefulSetSpec::default()
                }),
                ..StatefulSet::default()
            })?);
            out.push(service(headless, true, ports.clone())?);
            out.push(service(p.service_name(), false, client_ports)?);
        }
        Controller::CloudnativePg => {}
    }
    if w.replicas > 1 {
        out.push(obj(&PodDisruptionBudget {
            metadata: meta(env, &w.name, Some(&w.namespace), w.component),
            spec: Some(PodDisruptionBudgetSpec {
                max_unavailable: Some(IntOrString::Int(1)),
                selector: Some(kit::selector(sel)),
                ..PodDisruptionBudgetSpec::default()
            }),
            ..PodDisruptionBudget::default()
        })?);
    }
    Ok(out)
}

/// A CloudNativePG store: its `Cluster`, and the `ScheduledBackup` of each database backup of it.
fn operated_postgres(env: &Environment, w: &Workload<'_>) -> Result<Vec<Object>, TargetError> {
    let store = &env.storage[&w.name];
    let mut out = vec![kit::cnpg::cluster(env, w, store)?];
    let b = &env.backup;
    for (name, db) in b.databases.iter().filter(|(_, db)| db.source == w.name) {
        if b.enabled {
            let job = format!("{}-{name}", b.name);
            out.push(kit::cnpg::scheduled_backup(env, w, &job, &db.schedule)?);
        }
    }
    Ok(out)
}

/// Istio's annotation that keeps a pod's `prometheus.io/*` annotations as written instead of
/// pointing them at the sidecar's merged-metrics port.
pub(crate) const MERGE_METRICS: &str = "prometheus.istio.io/merge-metrics";
/// Istio's annotation of inbound ports the sidecar does not intercept.
pub(crate) const EXCLUDE_INBOUND: &str = "traffic.sidecar.istio.io/excludeInboundPorts";

/// In a meshed namespace, what makes Prometheus (outside the mesh) scrape a workload on its own
/// metrics port: Istio must not redirect the scrape annotations to its merged port, and a metrics
/// port of its own bypasses the sidecar, which refuses plain text under STRICT mTLS. The serving
/// port is never excluded: its traffic keeps mTLS.
fn own_port_scrape(env: &Environment, w: &Workload<'_>) -> BTreeMap<String, String> {
    let mut a = BTreeMap::new();
    let Some((port, _)) = &w.metrics else {
        return a;
    };
    if !plan::meshed(env, &w.namespace) || env.security.mesh.proxy().is_none() {
        return a;
    }
    a.insert(MERGE_METRICS.to_owned(), "false".to_owned());
    if w.ports
        .iter()
        .any(|p| p.name == "metrics" && p.number == *port)
    {
        a.insert(EXCLUDE_INBOUND.to_owned(), port.to_string());
    }
    a
}

fn count(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn claim(p: &Persistence) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some("data".to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(claim_spec(
            AccessMode::ReadWriteOnce,
            &p.size,
            p.storage_class.as_ref(),
        )),
        ..PersistentVolumeClaim::default()
    }
}

/// A claim of `size` on `storage_class` (the cluster default when `None`).
pub(crate) fn claim_spec(
    mode: AccessMode,
    size: &crate::model::Quantity,
    storage_class: Option<&String>,
) -> PersistentVolumeClaimSpec {
    PersistentVolumeClaimSpec {
        access_modes: Some(vec![mode.as_str().to_owned()]),
        storage_class_name: storage_class.cloned(),
        resources: Some(VolumeResourceRequirements {
            requests: Some(BTreeMap::from([(
                "storage".to_owned(),
                Quantity(size.to_string()),
            )])),
            ..VolumeResourceRequirements::default()
        }),
        ..PersistentVolumeClaimSpec::default()
    }
}

fn hpa(env: &Environment, w: &Workload<'_>, a: &Autoscaling) -> HorizontalPodAutoscaler {
    let resource = |name: &str, percent: u8| MetricSpec {
        type_: "Resource".to_owned(),
        resource: Some(ResourceMetricSource {
            name: name.to_owned(),
            target: MetricTarget {
                type_: "Utilization".to_owned(),
                average_utilization: Some(i32::from(percent)),
                ..MetricTarget::default()
            },
        }),
        ..MetricSpec::default()
    };
    let mut metrics: Vec<MetricSpec> = [("cpu", a.cpu_percent), ("memory", a.memory_percent)]
        .into_iter()
        .filter_map(|(n, p)| p.map(|p| resource(n, p)))
        .collect();
    if let Some(m) = &a.pods_metric {
        metrics.push(MetricSpec {
            type_: "Pods".to_owned(),
            pods: Some(PodsMetricSource {
                metric: MetricIdentifier {
                    name: m.name.clone(),
                    ..MetricIdentifier::default()
                },
                target: MetricTarget {
                    type_: "AverageValue".to_owned(),
                    average_value: Some(Quantity(m.target_average.clone())),
                    ..MetricTarget::default()
                },
            }),
            ..MetricSpec::default()
        });
    }
    HorizontalPodAutoscaler {
        metadata: meta(env, &w.name, Some(&w.namespace), w.component),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".to_owned()),
                kind: "Deployment".to_owned(),
                name: w.name.clone(),
            },
            min_replicas: Some(count(a.min_replicas)),
            max_replicas: count(a.max_replicas),
            metrics: (!metrics.is_empty()).then_some(metrics),
            ..HorizontalPodAutoscalerSpec::default()
        }),
        ..HorizontalPodAutoscaler::default()
    }
}
