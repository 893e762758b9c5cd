//! The flows the model needs, each with the model key that implies it, derived from the model and
//! the workload plan alone (never from the generated policies they are checked against): the
//! ingress gateway → each routed service, each `depends_on` (to a Sentinel set: its servers and
//! its sentinels), the consensus writer → the validators, replicas → each other (in a Sentinel
//! set: servers and sentinels), Prometheus → every scrape target (the workloads, and what
//! kube-prometheus-stack scrapes: kubelet, node-exporter, the control plane, the cluster DNS), DNS,
//! istiod where sidecars run, workloads with secrets → Vault, API callers → the API server, and
//! backup jobs → the stores they dump and the object store; for a CloudNativePG store, the
//! operator → its instances, instances → each other's instance manager and the object store (its
//! backups are the operator's, with no backup job).

use super::cluster::{self, API_SERVER_IP, EXTERNAL_VAULT_IP, NODE_IP, OBJECT_STORE_IP};
use super::policy::{Endpoint, Protocol};
use crate::load::Seg;
use crate::model::{Environment, NamespaceKey};
use crate::plan::{self, Kind, Workload, postgres};
use crate::targets::Artifact;
use crate::targets::kubernetes::network::vault_location;
use serde_json::Value;
use std::collections::HashSet;
use std::hash::Hash;
use std::rc::Rc;

/// The Istio control plane and ingress gateway run in Istio's default namespace.
const ISTIO_NAMESPACE: &str = "istio-system";
/// Cluster DNS.
const DNS_NAMESPACE: &str = "kube-system";

/// One flow the model needs. Its endpoints, key and reason are shared with the other flows that
/// name the same: a workload's flows repeat them, by the hundred thousand at 10,000 services.
#[derive(Debug, Clone, Hash)]
pub struct Need {
    pub from: Rc<str>,
    pub to: Rc<str>,
    pub port: u16,
    pub protocol: Protocol,
    /// The model key that implies it.
    pub key: Rc<[Seg]>,
    /// What it is for, e.g. `depends_on`.
    pub why: Rc<str>,
}

/// A DEAAP workload endpoint and the model key it comes from.
#[derive(Debug, Clone, Hash)]
pub struct Owned {
    pub id: String,
    pub key: Vec<Seg>,
}

/// What the model says about the network: its workloads (by endpoint id), the add-ons and
/// addresses around them, and the flows it needs.
#[derive(Debug, Default, Hash)]
pub struct Model {
    pub owned: Vec<Owned>,
    pub addons: Vec<Endpoint>,
    pub needs: Vec<Need>,
}

fn key(parts: &[&str]) -> Vec<Seg> {
    parts.iter().map(|p| Seg::from(*p)).collect()
}

/// The endpoint id of a workload's pods.
fn id(w: &Workload<'_>) -> String {
    format!("{}/{}", w.namespace, w.name)
}

/// The model table a workload comes from.
fn table(w: &Workload<'_>) -> Vec<Seg> {
    match w.kind {
        Kind::Service => key(&["services", &w.name]),
        Kind::Storage => key(&["storage", &w.name]),
        Kind::Blockchain => key(&["blockchain"]),
        Kind::Consensus => key(&["consensus"]),
        Kind::Backup => key(&["backup"]),
    }
}

/// The key under a workload's table.
fn under(w: &Workload<'_>, field: &str) -> Vec<Seg> {
    let mut k = table(w);
    k.push(Seg::from(field));
    k
}

/// The port clients connect to: the workload's first (serving) port.
fn serving(w: &Workload<'_>) -> Option<u16> {
    w.ports.first().map(|p| p.number)
}

/// Vault from `security.vault.address`: a pod of the namespace an in-cluster address names,
/// else an address outside the cluster; and its port.
fn vault(address: &str) -> (Endpoint, u16) {
    let at = vault_location(address);
    let endpoint = match at.namespace {
        Some(namespace) => cluster::addon(
            &format!("{namespace}/vault"),
            namespace,
            &[
                ("app.kubernetes.io/name", "vault"),
                ("app.kubernetes.io/instance", "vault"),
                ("component", "server"),
            ],
            &[
                ("http", at.port, Protocol::Tcp),
                ("https-internal", 8201, Protocol::Tcp),
            ],
            cluster::pod_ip(9000),
        ),
        None => cluster::address(at.host, &[("vault", at.port)], EXTERNAL_VAULT_IP),
    };
    (endpoint, at.port)
}

/// The kube-prometheus-stack scrape targets on nodes and in `kube-system` that the generated
/// monitoring values leave on (the chart's default: all), as (values key, endpoint id, port).
fn stack_targets(artifacts: &[Artifact]) -> Vec<(&'static str, &'static str, u16)> {
    let values: Value = artifacts
        .iter()
        .find(|a| a.path == "helm/monitoring-values.yaml")
        .and_then(|a| serde_yaml::from_slice(&a.bytes.read().ok()?).ok())
        .unwrap_or(Value::Null);
    [
        ("kubelet", "node", 10250),
        ("nodeExporter", "node", 9100),
        ("kubeControllerManager", "node", 10257),
        ("kubeScheduler", "node", 10259),
        ("kubeEtcd", "node", 2381),
        ("kubeProxy", "node", 10249),
        ("coreDns", "kube-system/kube-dns", 9153),
        ("kubeApiServer", "kube-apiserver", 443),
        ("kubeApiServer", "kube-apiserver", 6443),
    ]
    .into_iter()
    .filter(|(k, _, _)| values[*k]["enabled"].as_bool() != Some(false))
    .collect()
}

/// The network the model describes for a Kubernetes environment.
#[must_use]
pub fn model(env: &Environment, artifacts: &[Artifact]) -> Model {
    model_of(env, artifacts, &plan::workloads(env))
}

/// [`model`], from the environment's workloads as [`plan::workloads`] gives them.
#[must_use]
pub fn model_of(env: &Environment, artifacts: &[Artifact], all: &[Workload<'_>]) -> Model {
    let mut m = Model::default();
    let workloads: Vec<&Workload<'_>> = all.iter().filter(|w| w.deployed).collect();
    let monitoring = env.namespace(NamespaceKey::Monitoring);
    let prometheus_id = format!("{monitoring}/prometheus");
    let gateway_id = format!("{ISTIO_NAMESPACE}/istio-ingressgateway");
    let istiod_id = format!("{ISTIO_NAMESPACE}/istiod");
    let dns_id = format!("{DNS_NAMESPACE}/kube-dns");
    let (vault_endpoint, vault_port) = vault(&env.security.vault.address);
    let vault_id = vault_endpoint.id.clone();
    m.addons = vec![
        cluster::addon(
            &gateway_id,
            ISTIO_NAMESPACE,
            &[("app", "istio-ingressgateway"), ("istio", "ingressgateway")],
            &[
                ("http2", 8080, Protocol::Tcp),
                ("https", 8443, Protocol::Tcp),
                ("status-port", 15021, Protocol::Tcp),
                ("http-envoy-prom", 15090, Protocol::Tcp),
            ],
            cluster::pod_ip(9001),
        ),
        cluster::addon(
            &istiod_id,
            ISTIO_NAMESPACE,
            &[("app", "istiod"), ("istio", "pilot")],
            &[
                ("http-debug", 8080, Protocol::Tcp),
                ("grpc-xds", 15010, Protocol::Tcp),
                ("https-dns", 15012, Protocol::Tcp),
                ("http-monitoring", 15014, Protocol::Tcp),
                ("https-webhooks", 15017, Protocol::Tcp),
            ],
            cluster::pod_ip(9002),
        ),
        cluster::addon(
            &dns_id,
            DNS_NAMESPACE,
            &[("k8s-app", "kube-dns")],
            &[
                ("dns", 53, Protocol::Udp),
                ("dns-tcp", 53, Protocol::Tcp),
                ("metrics", 9153, Protocol::Tcp),
            ],
            cluster::pod_ip(9003),
        ),
        cluster::address(
            "node",
            &[
                ("kubelet", 10250),
                ("node-exporter", 9100),
                ("kube-controller-manager", 10257),
                ("kube-scheduler", 10259),
                ("etcd-metrics", 2381),
                ("kube-proxy-metrics", 10249),
            ],
            NODE_IP,
        ),
        cluster::address(
            "kube-apiserver",
            &[("https", 443), ("https-endpoint", 6443)],
            API_SERVER_IP,
        ),
    ];
    if env.monitoring.enabled {
        m.addons.push(cluster::addon(
            &prometheus_id,
            monitoring,
            &[
                ("app.kubernetes.io/name", "prometheus"),
                (
                    "app.kubernetes.io/instance",
                    "kube-prometheus-stack-prometheus",
                ),
                ("app.kubernetes.io/managed-by", "prometheus-operator"),
                ("prometheus", "kube-prometheus-stack-prometheus"),
            ],
            &[
                ("http-web", 9090, Protocol::Tcp),
                ("reloader-web", 8080, Protocol::Tcp),
            ],
            cluster::pod_ip(9004),
        ));
    }
    if env.security.vault.enabled {
        m.addons.push(vault_endpoint);
    }
    if env.backup.enabled {
        m.addons.push(cluster::address(
            "object-store",
            &[("https", 443)],
            OBJECT_STORE_IP,
        ));
    }
    let operator_id = format!("{}/cloudnative-pg", postgres::OPERATOR_NAMESPACE);
    if workloads.iter().any(|w| w.cloudnative_pg()) {
        m.addons.push(cluster::addon(
            &operator_id,
            postgres::OPERATOR_NAMESPACE,
            &[
                postgres::OPERATOR_LABEL,
                ("app.kubernetes.io/instance", "cnpg"),
            ],
            &[
                ("metrics", 8080, Protocol::Tcp),
                ("webhook-server", 9443, Protocol::Tcp),
            ],
            cluster::pod_ip(9005),
        ));
    }

    let tcp = Protocol::Tcp;
    let mut needs = Needs::default();
    // The first workload of each name.
    let mut named: std::collections::HashMap<&str, &Workload<'_>> =
        std::collections::HashMap::new();
    for w in &workloads {
        named.entry(w.name.as_str()).or_insert(w);
    }
    let by_name = |name: &str| named.get(name).copied();
    let around = Around {
        env,
        dns: &dns_id,
        istiod: &istiod_id,
        vault: &vault_id,
        vault_port,
    };

    for w in &workloads {
        let me = id(w);
        needs.owned.push(Owned {
            id: me.clone(),
            key: table(w),
        });
        around.basics(
            &mut needs,
            &me,
            w.in_mesh(env),
            w.uses_vault().then(|| under(w, "secrets")),
        );
        let Some(port) = serving(w) else { continue };
        if w.routed {
            needs.add(
                &gateway_id,
                &me,
                port,
                tcp,
                &under(w, "route"),
                "routed by the gateway",
            );
        }
        if w.peers {
            let k = match w.kind {
                Kind::Consensus => key(&["consensus", "validators"]),
                _ => under(w, "replicas"),
            };
            for p in w.client_ports() {
                needs.add(&me, &me, p, tcp, &k, "replicas talk to each other");
            }
        }
        for dep in &w.depends_on {
            if let Some(d) = by_name(dep) {
                let k = match w.kind {
                    Kind::Consensus => key(&["consensus", "validators"]),
                    _ => under(w, "depends_on"),
                };
                for p in d.client_ports() {
                    needs.add(&me, &id(d), p, tcp, &k, "depends_on");
                }
            }
        }
        if w.api_access {
            // A CloudNativePG instance manager watches its Cluster.
            let k = if w.cloudnative_pg() {
                under(w, "replication")
            } else {
                under(w, "kubernetes_api_access")
            };
            for p in [443, 6443] {
                needs.add(&me, "kube-apiserver", p, tcp, &k, "Kubernetes API");
            }
        }
        if w.cloudnative_pg() {
            let k = under(w, "replication");
            for p in [postgres::POSTGRES_PORT, postgres::STATUS_PORT] {
                needs.add(&operator_id, &me, p, tcp, &k, "CloudNativePG operator");
            }
            if w.peers {
                let why = "instance managers talk to each other";
                needs.add(&me, &me, postgres::STATUS_PORT, tcp, &k, why);
            }
            if env.backup.enabled {
                let why = "WAL archiving and base backups";
                needs.add(
                    &me,
                    "object-store",
                    443,
                    tcp,
                    &key(&["backup", "bucket"]),
                    why,
                );
            }
        }
        if env.monitoring.enabled {
            let scraped = match (&w.metrics, w.kind) {
                (Some((p, _)), _) => Some((*p, under(w, "metrics"))),
                (None, Kind::Blockchain) => Some((port, key(&["blockchain", "metrics_job"]))),
                _ => None,
            };
            if let Some((p, k)) = scraped {
                needs.add(&prometheus_id, &me, p, tcp, &k, "scraped by Prometheus");
                if w.in_mesh(env) {
                    needs.add(
                        &prometheus_id,
                        &me,
                        cluster::ISTIO_PROXY_PORTS[0].1,
                        tcp,
                        &k,
                        "scraped by Prometheus (Istio merged metrics)",
                    );
                }
            }
        }
    }

    // The consensus writer submits to the validators.
    let writer = env.consensus.writer_service.as_str();
    if let (Some(wr), Some(v)) = (by_name(writer), by_name(plan::VALIDATOR))
        && let Some(port) = serving(v)
    {
        needs.add(
            &id(wr),
            &id(v),
            port,
            tcp,
            &key(&["consensus", "writer_service"]),
            "consensus writer",
        );
    }

    for job in plan::backup_jobs(env) {
        if job
            .source
            .is_some_and(|s| postgres::operator_backed(env, s))
        {
            // The operator backs a CloudNativePG store up; no job of ours runs.
            continue;
        }
        let w = &job.workload;
        let me = id(w);
        let table = match job.database {
            Some(name) => key(&["backup", "databases", name]),
            None => key(&["backup"]),
        };
        needs.owned.push(Owned {
            id: me.clone(),
            key: table,
        });
        let source = job.source.and_then(&by_name);
        let secrets = if env.backup.secrets.is_empty() {
            source
                .filter(|s| s.uses_vault())
                .map(|s| under(s, "secrets"))
        } else {
            Some(key(&["backup", "secrets"]))
        };
        around.basics(&mut needs, &me, plan::meshed(env, &w.namespace), secrets);
        needs.add(
            &me,
            "object-store",
            443,
            tcp,
            &key(&["backup", "bucket"]),
            "backup upload",
        );
        let dumped = source.filter(|s| !plan::backup_reads_volume(&s.name));
        if let (Some(name), Some(s)) = (job.database, dumped) {
            // A Sentinel set's dump asks the sentinels for the primary, then reads it.
            for port in s.client_ports() {
                needs.add(
                    &me,
                    &id(s),
                    port,
                    tcp,
                    &key(&["backup", "databases", name, "source"]),
                    "database dump",
                );
            }
        }
    }

    if env.monitoring.enabled {
        around.basics(
            &mut needs,
            &prometheus_id,
            plan::meshed(env, monitoring),
            None,
        );
        for (component, to, port) in stack_targets(artifacts) {
            needs.add(
                &prometheus_id,
                to,
                port,
                tcp,
                &key(&["monitoring"]),
                &format!("kube-prometheus-stack scrapes `{component}`"),
            );
        }
    }
    if let Some(logging) = env.collected_logging() {
        logs(&mut m, &mut needs, &around, monitoring, logging);
    }
    m.owned = needs.owned;
    m.needs = needs.flows;
    m
}

/// The log collector in the monitoring namespace produces to the Kafka brokers: an in-cluster
/// broker is a pod of its namespace, any other an address outside the cluster.
fn logs(
    m: &mut Model,
    needs: &mut Needs,
    around: &Around<'_>,
    monitoring: &str,
    logging: &crate::model::Logging,
) {
    let me = format!("{monitoring}/{}", crate::targets::logging::COLLECTOR);
    around.basics(needs, &me, plan::meshed(around.env, monitoring), None);
    for (i, b) in logging.kafka.brokers.iter().enumerate() {
        let Some((host, port)) = crate::model::broker(b) else {
            continue;
        };
        let to = if let Some(namespace) = crate::model::broker_namespace(host) {
            let id = format!("{namespace}/kafka");
            if !m.addons.iter().any(|a| a.id == id) {
                m.addons.push(cluster::addon(
                    &id,
                    namespace,
                    &[("app.kubernetes.io/name", "kafka")],
                    &[("kafka", port, Protocol::Tcp)],
                    cluster::pod_ip(9006 + i),
                ));
            }
            id
        } else {
            let id = format!("kafka-{host}");
            m.addons
                .push(cluster::address(&id, &[("kafka", port)], cluster::KAFKA_IP));
            id
        };
        needs.add(
            &me,
            &to,
            port,
            Protocol::Tcp,
            &key(&["logging", "kafka", "brokers"]),
            "log shipping to Kafka",
        );
    }
}

/// The flows and owned endpoints gathered so far, with the texts and keys they share.
#[derive(Default)]
struct Needs {
    owned: Vec<Owned>,
    flows: Vec<Need>,
    texts: HashSet<Rc<str>>,
    keys: HashSet<Rc<[Seg]>>,
}

impl Needs {
    fn add(&mut self, from: &str, to: &str, port: u16, protocol: Protocol, key: &[Seg], why: &str) {
        let need = Need {
            from: shared(&mut self.texts, from),
            to: shared(&mut self.texts, to),
            port,
            protocol,
            key: shared(&mut self.keys, key),
            why: shared(&mut self.texts, why),
        };
        self.flows.push(need);
    }
}

/// `value`, shared with every flow that names it: the copy `set` holds, made when it holds none.
fn shared<T: Hash + Eq + ?Sized>(set: &mut HashSet<Rc<T>>, value: &T) -> Rc<T>
where
    for<'v> Rc<T>: From<&'v T>,
{
    if let Some(v) = set.get(value) {
        return Rc::clone(v);
    }
    let v = Rc::from(value);
    set.insert(Rc::clone(&v));
    v
}

/// The services every pod of the environment may need.
struct Around<'a> {
    env: &'a Environment,
    dns: &'a str,
    istiod: &'a str,
    vault: &'a str,
    vault_port: u16,
}

impl Around<'_> {
    /// What every pod needs: DNS, istiod where it runs in the mesh, Vault where it has secrets
    /// (`secrets`: the key that gives it them).
    fn basics(&self, needs: &mut Needs, me: &str, meshed: bool, secrets: Option<Vec<Seg>>) {
        for proto in [Protocol::Udp, Protocol::Tcp] {
            needs.add(
                me,
                self.dns,
                53,
                proto,
                &key(&["security", "network_policies"]),
                "DNS",
            );
        }
        if meshed {
            needs.add(
                me,
                self.istiod,
                15012,
                Protocol::Tcp,
                &key(&["security", "mesh", "sidecar_injection"]),
                "sidecar configuration (xDS)",
            );
        }
        if let Some(k) = secrets.filter(|_| self.env.security.vault.enabled) {
            needs.add(
                me,
                self.vault,
                self.vault_port,
                Protocol::Tcp,
                &k,
                "Vault agent",
            );
        }
    }
}
