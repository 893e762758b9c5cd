//! The DEAAP workloads of a Kubernetes environment: each enabled service as a Deployment, each
//! storage backend, the blockchain nodes and the consensus validators as StatefulSets, each with its
//! ServiceAccount, Services, HPA and PDB. [`plan`] describes them once; the objects and the network
//! policies are both derived from that description.

use super::pod::{self, DataSource, Health, Port, Workload};
use crate::model::{Autoscaling, Environment, NamespaceKey, Persistence, StorageKind};
use crate::targets::TargetError;
use crate::targets::kit::{self, Object, meta, object as obj};
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

/// The name of the consensus validators' workload (and their `app` label).
pub const VALIDATOR: &str = "bu-validator";

/// How a planned workload is run.
#[derive(Debug, Clone)]
pub enum Controller<'a> {
    /// A Deployment behind the Service `<name>-service`.
    Deployment {
        autoscaling: Option<&'a Autoscaling>,
    },
    /// A StatefulSet with a headless governing Service `<name>-headless` and a client Service
    /// `<name>`, which is the host name the other workloads' URLs use.
    StatefulSet {
        persistence: Option<&'a Persistence>,
        parallel: bool,
    },
}

/// One workload and how it connects to the rest.
#[derive(Debug, Clone)]
pub struct Planned<'a> {
    pub workload: Workload<'a>,
    pub controller: Controller<'a>,
    /// Output file below `kubernetes/`.
    pub file: String,
    /// The gateway routes a URI prefix here.
    pub routed: bool,
    /// Workloads it connects to (names of other planned workloads).
    pub depends_on: Vec<String>,
    /// Whether its replicas talk to each other (replication, consensus).
    pub peers: bool,
}

impl Planned<'_> {
    /// The name of the Service clients use.
    #[must_use]
    pub fn service_name(&self) -> String {
        match self.controller {
            Controller::Deployment { .. } => format!("{}-service", self.workload.name),
            Controller::StatefulSet { .. } => self.workload.name.clone(),
        }
    }
}

fn ns(env: &Environment, key: NamespaceKey) -> String {
    env.namespace(key).to_owned()
}

fn port(name: &str, number: u16) -> Vec<Port> {
    vec![Port {
        name: name.to_owned(),
        number,
    }]
}

/// Every workload of the environment, in a stable order: services, storage, blockchain,
/// validators.
pub fn plan(env: &Environment) -> Vec<Planned<'_>> {
    let mut out = Vec::new();
    for (name, s) in env.enabled_services() {
        let autoscaling = s.autoscaling.as_ref().filter(|a| a.enabled);
        let replicas = autoscaling.map_or(s.replicas, |a| a.min_replicas.max(s.replicas));
        let mut ports = port("http", s.port);
        let metrics_port = s.metrics.port.unwrap_or(s.port);
        if metrics_port != s.port {
            ports.extend(port("metrics", metrics_port));
        }
        out.push(Planned {
            workload: Workload {
                name: name.clone(),
                component: "service",
                namespace: ns(env, s.namespace),
                image: &s.image,
                ports,
                resources: env.resources_of(s.resources.as_ref()),
                gpu: s.gpu,
                env: s.env.clone(),
                secrets: s.secrets.clone(),
                command: s.command.clone(),
                api_access: s.kubernetes_api_access,
                health: Health::Http(s.health_path.clone()),
                scratch: Vec::new(),
                data: None,
                metrics: s
                    .metrics
                    .scrape
                    .then(|| (metrics_port, s.metrics.path.clone())),
                replicas,
                job: false,
            },
            controller: Controller::Deployment { autoscaling },
            file: format!("{name}.yaml"),
            routed: s.route.is_some(),
            depends_on: s.depends_on.clone(),
            peers: false,
        });
    }
    for (name, s) in env.enabled_storage() {
        let mut vars = s.env.clone();
        let mut scratch = Vec::new();
        let (port_name, data_path, health) = match s.kind {
            StorageKind::Redis => (
                "tcp-redis",
                "/data".to_owned(),
                Health::Exec(vec![
                    "redis-cli".to_owned(),
                    "-p".to_owned(),
                    s.port.to_string(),
                    "ping".to_owned(),
                ]),
            ),
            StorageKind::Postgresql => {
                let base = "/var/lib/postgresql/data";
                // The mount's root holds `lost+found` on most volumes, which initdb refuses.
                vars.insert("PGDATA".to_owned(), format!("{base}/pgdata"));
                scratch.push(("run", "/var/run/postgresql".to_owned()));
                let user = s
                    .env
                    .get("POSTGRES_USER")
                    .map_or("postgres", String::as_str);
                let db = s.database.as_deref().unwrap_or(user);
                (
                    "tcp-postgresql",
                    base.to_owned(),
                    Health::Exec(
                        [
                            "pg_isready",
                            "-h",
                            "127.0.0.1",
                            "-p",
                            &s.port.to_string(),
                            "-U",
                            user,
                            "-d",
                            db,
                        ]
                        .map(str::to_owned)
                        .to_vec(),
                    ),
                )
            }
            StorageKind::VectorDb => {
                scratch.push(("snapshots", "/qdrant/snapshots".to_owned()));
                ("http", "/qdrant/storage".to_owned(), Health::Tcp)
            }
        };
        let persistence = s.persistence.as_ref().filter(|p| p.enabled);
        out.push(Planned {
            workload: Workload {
                name: name.clone(),
                component: "storage",
                namespace: ns(env, s.namespace),
                image: &s.image,
                ports: port(port_name, s.port),
                resources: env.resources_of(s.resources.as_ref()),
                gpu: 0,
                env: vars,
                secrets: s.secrets.clone(),
                command: Vec::new(),
                api_access: false,
                health,
                scratch,
                data: Some((data_path, data_source(persistence))),
                metrics: None,
                replicas: s.replicas,
                job: false,
            },
            controller: Controller::StatefulSet {
                persistence,
                parallel: false,
            },
            file: format!("storage-{name}.yaml"),
            routed: false,
            depends_on: Vec::new(),
            peers: s.replicas > 1,
        });
    }
    let bc = &env.blockchain;
    if bc.enabled {
        let persistence = Some(&bc.persistence).filter(|p| p.enabled);
        out.push(Planned {
            workload: Workload {
                name: "blockchain".to_owned(),
                component: "blockchain",
                namespace: ns(env, NamespaceKey::Blockchain),
                image: &bc.image,
                ports: port("http-rpc", bc.port),
                resources: env.resources_of(bc.resources.as_ref()),
                gpu: 0,
                env: BTreeMap::new(),
                secrets: BTreeMap::new(),
                command: Vec::new(),
                api_access: false,
                health: Health::Tcp,
                scratch: Vec::new(),
                data: Some(("/data".to_owned(), data_source(persistence))),
                metrics: None,
                replicas: bc.replicas,
                job: false,
            },
            controller: Controller::StatefulSet {
                persistence,
                parallel: false,
            },
            file: "blockchain.yaml".to_owned(),
            routed: false,
            depends_on: Vec::new(),
            peers: bc.replicas > 1,
        });
    }
    let c = &env.consensus;
    // Validators agree on what goes on the chain: without nodes there is nothing to validate.
    if bc.enabled && c.validators > 0 {
        let mode = match c.mode {
            crate::model::ConsensusMode::Test => "test",
            crate::model::ConsensusMode::Production => "production",
        };
        out.push(Planned {
            workload: Workload {
                name: VALIDATOR.to_owned(),
                component: "validator",
                namespace: ns(env, NamespaceKey::Blockchain),
                image: &c.image,
                ports: port("http", c.port),
                resources: env.resources_of(c.resources.as_ref()),
                gpu: 0,
                env: BTreeMap::from([
                    ("CONSENSUS_MODE".to_owned(), mode.to_owned()),
                    ("VALIDATOR_COUNT".to_owned(), c.validators.to_string()),
                ]),
                secrets: BTreeMap::new(),
                command: Vec::new(),
                api_access: false,
                health: Health::Http("/health".to_owned()),
                scratch: Vec::new(),
                data: None,
                metrics: None,
                replicas: c.validators,
                job: false,
            },
            controller: Controller::StatefulSet {
                persistence: None,
                parallel: true,
            },
            file: "validators.yaml".to_owned(),
            routed: false,
            // Validators submit what they agree on to the chain.
            depends_on: vec!["blockchain".to_owned()],
            peers: c.validators > 1,
        });
    }
    out
}

fn data_source(persistence: Option<&Persistence>) -> DataSource {
    if persistence.is_some() {
        DataSource::ClaimTemplate
    } else {
        DataSource::EmptyDir
    }
}

/// The Kubernetes files of every workload: path below the output folder → objects.
///
/// # Errors
/// A secret that cannot be injected.
pub fn files(env: &Environment) -> Result<Vec<(String, Vec<Object>)>, TargetError> {
    plan(env)
        .iter()
        .map(|p| Ok((format!("kubernetes/{}", p.file), objects(env, p)?)))
        .collect()
}

fn objects(env: &Environment, p: &Planned<'_>) -> Result<Vec<Object>, TargetError> {
    let w = &p.workload;
    let sel = kit::selector_labels(env, &w.name);
    let template = pod::template(env, w)?;
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
    let service = |name: String, headless: bool| {
        let mut m = meta(env, &w.name, Some(&w.namespace), w.component);
        m.name = Some(name);
        obj(&Service {
            metadata: m,
            spec: Some(ServiceSpec {
                type_: Some("ClusterIP".to_owned()),
                cluster_ip: headless.then(|| "None".to_owned()),
                publish_not_ready_addresses: headless.then_some(true),
                selector: Some(sel.clone()),
                ports: Some(ports.clone()),
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
            out.push(service(p.service_name(), false)?);
            if let Some(a) = autoscaling {
                out.push(obj(&hpa(env, w, a))?);
            }
        }
        Controller::StatefulSet {
            persistence,
            parallel,
        } => {
            let headless = format!("{}-headless", w.name);
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
            out.push(service(headless, true)?);
            out.push(service(p.service_name(), false)?);
        }
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

fn count(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn claim(p: &Persistence) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some("data".to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
            storage_class_name: p.storage_class.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_owned(),
                    Quantity(p.size.clone()),
                )])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
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
