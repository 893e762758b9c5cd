//! `NetworkPolicies`: every DEAAP namespace denies all traffic by default, then each workload gets one
//! policy listing exactly what may reach it and what it may reach, derived from the model: the
//! Istio ingress gateway → routed services, a workload → its `depends_on`, Prometheus → pods it
//! scrapes (and, in meshed namespaces, Istio's merged-metrics port) and what kube-prometheus-stack
//! scrapes outside them (kubelet, node-exporter, the control plane, the cluster DNS), sidecars → istiod,
//! Vault agents → Vault, API-calling services → the API server, each backup job → the database it
//! dumps and the object store, and DNS for everyone. Clients, the gateway and replicas reach a
//! workload's serving port only (and a Sentinel set's sentinel port); Prometheus its metrics port.
//!
//! A CloudNativePG store's policy selects the pods the operator creates by their `cnpg.io/cluster`
//! label (the store's and its recovery `Cluster`'s): the operator (in its own namespace) reaches
//! them on PostgreSQL's and the instance manager's ports, the instances reach each other on both
//! (streaming replication, status), the API server and the object store (WAL archiving, base
//! backups). They run outside the mesh, so the namespace's istiod policy leaves them out.
//!
//! `deaap-gen check` proves these policies against the model (the `flows` proof).
//!
//! Every rule names both sides (namespace and pod labels) so a policy reads on its own, and every
//! allowed flow appears twice (egress at the client, ingress at the server) because both ends deny
//! by default.

use super::workloads::{self, Planned};
use crate::model::{Environment, NamespaceKey};
use crate::plan::{self, Workload, postgres};
use crate::targets::TargetError;
use crate::targets::kit::{self, GATEWAY_NAMESPACE, INGRESS_GATEWAY_LABEL, Labels, Object, meta};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// The Istio control plane: sidecars fetch their configuration and certificates over xDS.
const ISTIOD_LABEL: (&str, &str) = ("app", "istiod");
const ISTIOD_XDS_PORT: u16 = 15012;
/// Istio's merged metrics (the application's and the proxy's), served in plain text by the
/// sidecar so Prometheus outside the mesh can scrape it.
const ISTIO_METRICS_PORT: u16 = 15020;
/// Where cluster DNS runs.
const DNS_NAMESPACE: &str = "kube-system";
const DNS_LABEL: (&str, &str) = ("k8s-app", "kube-dns");
/// The cluster DNS' metrics port, which kube-prometheus-stack scrapes.
const DNS_METRICS_PORT: u16 = 9153;
/// What kube-prometheus-stack scrapes on the nodes, which no pod selector matches (host network):
/// the kubelet (and cAdvisor), node-exporter, kube-proxy, the controller manager, the scheduler
/// and etcd's metrics.
const NODE_SCRAPE_PORTS: [u16; 6] = [10250, 9100, 10249, 10257, 10259, 2381];
/// The Prometheus pods of kube-prometheus-stack.
const PROMETHEUS_LABEL: (&str, &str) = (kit::labels::NAME, "prometheus");
/// The API server is outside the pod network and its address is the cluster's, so it is allowed
/// by port: 443 for the `kubernetes` Service, 6443 for its endpoints after translation.
const API_SERVER_PORTS: [u16; 2] = [443, 6443];
/// Object storage is outside the cluster and reached over HTTPS.
const OBJECT_STORE_PORT: u16 = 443;

/// A set of pods in a namespace: those with `labels` (and, for an operator's pods, matching
/// `expressions`).
#[derive(Debug, Clone)]
struct Pods {
    namespace: String,
    labels: Labels,
    expressions: Vec<LabelSelectorRequirement>,
}

impl Pods {
    fn new(namespace: &str, labels: Labels) -> Self {
        Self {
            namespace: namespace.to_owned(),
            labels,
            expressions: Vec::new(),
        }
    }

    fn selector(&self) -> LabelSelector {
        LabelSelector {
            match_expressions: (!self.expressions.is_empty()).then(|| self.expressions.clone()),
            ..kit::selector(self.labels.clone())
        }
    }

    fn peer(&self) -> NetworkPolicyPeer {
        NetworkPolicyPeer {
            namespace_selector: Some(namespace_selector(&self.namespace)),
            pod_selector: Some(self.selector()),
            ..NetworkPolicyPeer::default()
        }
    }
}

use kit::{namespace_selector, tcp_ports as tcp};

/// The ingress and egress rules of one workload's policy.
#[derive(Default)]
struct Rules {
    pods: Option<Pods>,
    ingress: Vec<NetworkPolicyIngressRule>,
    egress: Vec<NetworkPolicyEgressRule>,
}

impl Rules {
    fn allow_from(&mut self, from: Option<NetworkPolicyPeer>, ports: Vec<NetworkPolicyPort>) {
        self.ingress.push(NetworkPolicyIngressRule {
            from: from.map(|f| vec![f]),
            ports: Some(ports),
        });
    }

    fn allow_to(&mut self, to: Option<NetworkPolicyPeer>, ports: Vec<NetworkPolicyPort>) {
        self.egress.push(NetworkPolicyEgressRule {
            to: to.map(|t| vec![t]),
            ports: Some(ports),
        });
    }
}

/// A network endpoint: its pods and the ports its clients connect to (its first, and a Sentinel
/// set's sentinel port; a separate metrics port is Prometheus' alone).
struct Endpoint {
    pods: Pods,
    serving: Vec<u16>,
}

fn endpoint(env: &Environment, w: &Workload<'_>) -> Endpoint {
    let pods = if w.cloudnative_pg() {
        // Every pod of the store's Cluster and of its recovery Cluster, instances and Jobs.
        Pods {
            expressions: vec![LabelSelectorRequirement {
                key: postgres::CLUSTER_LABEL.to_owned(),
                operator: "In".to_owned(),
                values: Some(vec![w.name.clone(), postgres::restore_cluster(&w.name)]),
            }],
            ..Pods::new(&w.namespace, Labels::new())
        }
    } else {
        Pods::new(&w.namespace, kit::selector_labels(env, &w.name))
    };
    Endpoint {
        pods,
        serving: w.client_ports(),
    }
}

/// Where `security.vault.address` points: its host, the namespace of an in-cluster address
/// (`<service>.<namespace>.svc…`), and its port (the scheme's default when it names none).
pub(crate) struct VaultLocation<'a> {
    pub host: &'a str,
    pub namespace: Option<&'a str>,
    pub port: u16,
}

pub(crate) fn vault_location(address: &str) -> VaultLocation<'_> {
    let (scheme, rest) = address.split_once("://").unwrap_or(("https", address));
    let authority = rest.split('/').next().unwrap_or(rest);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()),
        None => (authority, None),
    };
    let port = port.unwrap_or(if scheme == "http" { 80 } else { 443 });
    let labels: Vec<&str> = host.split('.').collect();
    let namespace = match labels.as_slice() {
        [_, namespace, "svc", ..] => Some(*namespace),
        _ => None,
    };
    VaultLocation {
        host,
        namespace,
        port,
    }
}

/// Vault as a peer and port: an in-cluster address becomes its namespace; anything else is
/// allowed by port only.
fn vault_peer(address: &str) -> (Option<NetworkPolicyPeer>, u16) {
    let at = vault_location(address);
    let peer = at.namespace.map(|namespace| NetworkPolicyPeer {
        namespace_selector: Some(namespace_selector(namespace)),
        ..NetworkPolicyPeer::default()
    });
    (peer, at.port)
}

/// The pods of the backup job `name` in `namespace` (each backup `CronJob`'s pods carry its
/// name, and so do the pods of the restore Jobs that read its archives).
fn backup_pods(env: &Environment, name: &str, namespace: &str) -> Pods {
    Pods::new(namespace, kit::selector_labels(env, name))
}

/// The Prometheus server of the monitoring stack.
fn prometheus(env: &Environment) -> Pods {
    addon(env.namespace(NamespaceKey::Monitoring), PROMETHEUS_LABEL)
}

/// A set of pods of a cluster add-on, by namespace and one label.
fn addon(namespace: &str, label: (&str, &str)) -> Pods {
    Pods::new(
        namespace,
        Labels::from([(label.0.to_owned(), label.1.to_owned())]),
    )
}

/// Every `NetworkPolicy` of the environment: the namespace-wide ones, then one per workload, then
/// the backup jobs'.
///
/// # Errors
/// A dependency on a workload that does not exist.
pub(crate) fn policies<'a>(
    env: &'a Environment,
    workloads: &'a [Workload<'a>],
) -> Result<Vec<Object>, TargetError> {
    let plan = workloads::plan(env, workloads);
    let mut flows = Flows::new(env, &plan);
    for p in &plan {
        flows.workload(p)?;
    }
    flows.consensus();
    let backups = flows.backups();

    let unmeshed: Vec<&str> = plan
        .iter()
        .filter(|p| !p.workload.in_mesh(env))
        .map(|p| p.workload.namespace.as_str())
        .collect();
    let mut out = namespace_policies(env, &flows.scrape.egress, &unmeshed)?;
    for p in &plan {
        if let Some(r) = flows.rules.remove(&p.workload.name) {
            out.push(policy(
                env,
                &p.workload.name,
                &p.workload.namespace,
                None,
                r,
            )?);
        }
    }
    for (name, namespace, r) in backups {
        out.push(policy(env, &name, &namespace, Some("backup"), r)?);
    }
    Ok(out)
}

/// The allowed flows between the workloads and to what surrounds them, gathered per workload
/// before any policy is written (a flow adds a rule at both of its ends).
struct Flows<'p, 'e> {
    env: &'e Environment,
    /// The planned workloads by name.
    index: BTreeMap<&'p str, &'p Planned<'e>>,
    /// Each workload's rules, by workload name.
    rules: BTreeMap<String, Rules>,
    /// Prometheus' egress to the pods it scrapes.
    scrape: Rules,
    vault: Option<NetworkPolicyPeer>,
    vault_port: u16,
}

impl<'p, 'e> Flows<'p, 'e> {
    fn new(env: &'e Environment, plan: &'p [Planned<'e>]) -> Self {
        let (vault, vault_port) = vault_peer(&env.security.vault.address);
        Self {
            env,
            index: plan.iter().map(|p| (p.workload.name.as_str(), p)).collect(),
            rules: BTreeMap::new(),
            scrape: Rules::default(),
            vault,
            vault_port,
        }
    }

    fn rules_of(&mut self, name: &str) -> &mut Rules {
        self.rules.entry(name.to_owned()).or_default()
    }

    /// A flow from the pods of `from` to the endpoint of `to`: egress at one end, ingress at the
    /// other.
    fn edge(&mut self, from: (&str, &Pods), to: (&str, &Endpoint)) {
        let ports = || tcp(to.1.serving.iter().copied());
        self.rules_of(from.0)
            .allow_to(Some(to.1.pods.peer()), ports());
        self.rules_of(to.0).allow_from(Some(from.1.peer()), ports());
    }

    /// Everything one workload sends and receives: its dependencies, the gateway when routed,
    /// Prometheus when scraped, its peers, Vault and the API server.
    fn workload(&mut self, p: &Planned<'_>) -> Result<(), TargetError> {
        let env = self.env;
        let w = &p.workload;
        let me = endpoint(env, w);
        self.rules_of(&w.name).pods = Some(me.pods.clone());
        for dep in &p.workload.depends_on {
            self.dependency((&w.name, &me.pods), dep)?;
        }
        let scraped = scrape_ports(env, w, &me);
        if let Some(ports) = &scraped {
            self.scrape
                .allow_to(Some(me.pods.peer()), tcp(ports.iter().copied()));
        }
        let (vault, vault_port) = (self.vault.clone(), self.vault_port);
        let own_ports = || tcp(me.serving.iter().copied());
        let r = self.rules_of(&w.name);
        if p.workload.routed {
            let gateway = addon(GATEWAY_NAMESPACE, INGRESS_GATEWAY_LABEL);
            r.allow_from(Some(gateway.peer()), own_ports());
        }
        if let Some(ports) = scraped {
            r.allow_from(Some(prometheus(env).peer()), tcp(ports));
        }
        if p.workload.peers {
            r.allow_from(Some(me.pods.peer()), own_ports());
            r.allow_to(Some(me.pods.peer()), own_ports());
        }
        if w.uses_vault() {
            r.allow_to(vault, tcp([vault_port]));
        }
        if w.api_access {
            r.allow_to(None, tcp(API_SERVER_PORTS));
        }
        if w.cloudnative_pg() {
            self.operated_postgres(w, &me);
        }
        Ok(())
    }

    /// What a CloudNativePG `Cluster`'s pods need beyond a store's: the operator calls each
    /// instance's PostgreSQL and instance manager ports, the instances call each other's instance
    /// manager too, and archive WAL and base backups to the object store.
    fn operated_postgres(&mut self, w: &Workload<'_>, me: &Endpoint) {
        let env = self.env;
        let operator = addon(postgres::OPERATOR_NAMESPACE, postgres::OPERATOR_LABEL);
        let r = self.rules_of(&w.name);
        r.allow_from(
            Some(operator.peer()),
            tcp([postgres::POSTGRES_PORT, postgres::STATUS_PORT]),
        );
        if w.peers {
            r.allow_from(Some(me.pods.peer()), tcp([postgres::STATUS_PORT]));
            r.allow_to(Some(me.pods.peer()), tcp([postgres::STATUS_PORT]));
        }
        if env.backup.enabled {
            r.allow_to(None, tcp([OBJECT_STORE_PORT]));
        }
    }

    /// The flow from a workload to one it depends on; a dependency on a workload that is not
    /// deployed (a disabled service or storage backend) has none.
    fn dependency(&mut self, from: (&str, &Pods), dep: &str) -> Result<(), TargetError> {
        let env = self.env;
        match self.index.get(dep).copied() {
            Some(t) => self.edge(from, (dep, &endpoint(env, t.workload))),
            None if env.services.contains_key(dep) || env.storage.contains_key(dep) => {}
            None => {
                return Err(TargetError(format!(
                    "{} depends on `{dep}`, which is no workload",
                    from.0
                )));
            }
        }
        Ok(())
    }

    /// The consensus manager coordinates the validators.
    fn consensus(&mut self) {
        let env = self.env;
        let writer = env.consensus.writer_service.as_str();
        let manager = self.index.get(writer).copied();
        let validators = self.index.get(workloads::VALIDATOR).copied();
        if let (Some(m), Some(v)) = (manager, validators) {
            let from = endpoint(env, m.workload).pods;
            self.edge(
                (writer, &from),
                (workloads::VALIDATOR, &endpoint(env, v.workload)),
            );
        }
    }

    /// Each backup job's name, namespace and rules (none without backups): the full backup and a
    /// backup of the blockchain (which read volumes) reach the object store, each database backup
    /// the database it dumps (which admits it) and the object store; all reach Vault when they
    /// have secrets (a dump logs in with its database's).
    fn backups(&mut self) -> Vec<(String, String, Rules)> {
        let env = self.env;
        let b = &env.backup;
        let mut out = Vec::new();
        for job in plan::backup_jobs(env)
            .into_iter()
            .filter(|j| !j.source.is_some_and(|s| postgres::operator_backed(env, s)))
        {
            let (name, namespace) = (job.workload.name, job.workload.namespace);
            let pods = backup_pods(env, &name, &namespace);
            let mut rules = Rules {
                pods: Some(pods.clone()),
                ..Rules::default()
            };
            let mut secrets = !b.secrets.is_empty();
            let dumped = job.source.filter(|s| !plan::backup_reads_volume(s));
            if let Some(t) = dumped.and_then(|s| self.index.get(s).copied()) {
                let to = endpoint(env, t.workload);
                rules.allow_to(Some(to.pods.peer()), tcp(to.serving.iter().copied()));
                self.rules_of(&t.workload.name)
                    .allow_from(Some(pods.peer()), tcp(to.serving.iter().copied()));
                secrets |= t.workload.uses_vault();
            }
            rules.allow_to(None, tcp([OBJECT_STORE_PORT]));
            if secrets {
                rules.allow_to(self.vault.clone(), tcp([self.vault_port]));
            }
            out.push((name, namespace, rules));
        }
        out
    }
}

/// The ports Prometheus scrapes a workload on, if it does: its metrics port (the blockchain
/// nodes are scraped by their own job, `blockchain.metrics_job`, on their first port), and in a
/// meshed namespace Istio's merged metrics.
fn scrape_ports(env: &Environment, w: &Workload<'_>, me: &Endpoint) -> Option<Vec<u16>> {
    let port = w
        .metrics
        .as_ref()
        .map(|(port, _)| *port)
        .or_else(|| (w.component == "blockchain").then(|| me.serving[0]))?;
    let mut ports = vec![port];
    if w.in_mesh(env) {
        ports.push(ISTIO_METRICS_PORT);
    }
    Some(ports)
}

/// The policies of every namespace: deny by default, allow DNS, allow istiod where sidecars run
/// (in a namespace with `unmeshed` pods, only from pods that did not opt out of injection), and
/// the monitoring stack's own in its namespace.
fn namespace_policies(
    env: &Environment,
    scrape: &[NetworkPolicyEgressRule],
    unmeshed: &[&str],
) -> Result<Vec<Object>, TargetError> {
    let mut out = Vec::new();
    for (key, namespace) in env.namespaces.iter() {
        out.push(policy(
            env,
            "default-deny",
            namespace,
            None,
            Rules::default(),
        )?);
        let mut dns = Rules::default();
        dns.allow_to(Some(addon(DNS_NAMESPACE, DNS_LABEL).peer()), dns_ports());
        out.push(policy(env, "allow-dns", namespace, None, dns)?);
        if env.security.mesh.meshed(key) {
            let mut xds = Rules::default();
            if unmeshed.contains(&namespace) {
                xds.pods = Some(Pods {
                    expressions: vec![LabelSelectorRequirement {
                        key: "sidecar.istio.io/inject".to_owned(),
                        operator: "NotIn".to_owned(),
                        values: Some(vec!["false".to_owned()]),
                    }],
                    ..Pods::new(namespace, Labels::new())
                });
            }
            xds.allow_to(
                Some(addon(GATEWAY_NAMESPACE, ISTIOD_LABEL).peer()),
                tcp([ISTIOD_XDS_PORT]),
            );
            out.push(policy(env, "allow-istiod", namespace, None, xds)?);
        }
        if key == NamespaceKey::Monitoring {
            out.extend(monitoring(
                env,
                namespace,
                &prometheus(env),
                scrape.to_vec(),
            )?);
        }
    }
    Ok(out)
}

fn dns_ports() -> Vec<NetworkPolicyPort> {
    ["UDP", "TCP"]
        .into_iter()
        .map(|proto| NetworkPolicyPort {
            port: Some(IntOrString::Int(53)),
            protocol: Some(proto.to_owned()),
            ..NetworkPolicyPort::default()
        })
        .collect()
}

/// The monitoring stack is installed by its own chart with many internal flows; inside its
/// namespace traffic is allowed, its operators and Prometheus reach the API server, and Prometheus
/// reaches exactly the pods it scrapes.
fn monitoring(
    env: &Environment,
    namespace: &str,
    prometheus: &Pods,
    scrape: Vec<NetworkPolicyEgressRule>,
) -> Result<Vec<Object>, TargetError> {
    let same = Pods::new(namespace, Labels::new());
    let mut internal = Rules::default();
    internal.ingress.push(NetworkPolicyIngressRule {
        from: Some(vec![same.peer()]),
        ports: None,
    });
    internal.egress.push(NetworkPolicyEgressRule {
        to: Some(vec![same.peer()]),
        ports: None,
    });
    let mut api = Rules::default();
    api.allow_to(None, tcp(API_SERVER_PORTS));
    let mut out = vec![
        policy(env, "allow-same-namespace", namespace, None, internal)?,
        policy(env, "allow-kube-apiserver", namespace, None, api)?,
    ];
    let mut r = Rules {
        pods: Some(prometheus.clone()),
        egress: scrape,
        ..Rules::default()
    };
    // kube-prometheus-stack's own targets: host-network ones by port (nodes have no pod labels
    // and their addresses are the cluster's), the cluster DNS by its pods.
    r.allow_to(None, tcp(NODE_SCRAPE_PORTS));
    r.allow_to(
        Some(addon(DNS_NAMESPACE, DNS_LABEL).peer()),
        tcp([DNS_METRICS_PORT]),
    );
    out.push(policy(env, "prometheus-scrape", namespace, None, r)?);
    Ok(out)
}

/// One `NetworkPolicy`. Its policy types are those it has rules for, except that a policy with no
/// rules at all denies both directions (the default-deny).
fn policy(
    env: &Environment,
    name: &str,
    namespace: &str,
    component: Option<&str>,
    r: Rules,
) -> Result<Object, TargetError> {
    let deny_all = r.ingress.is_empty() && r.egress.is_empty();
    let mut types = Vec::new();
    if deny_all || !r.ingress.is_empty() {
        types.push("Ingress".to_owned());
    }
    if deny_all || !r.egress.is_empty() {
        types.push("Egress".to_owned());
    }
    let pod_selector = r.pods.map_or_else(LabelSelector::default, |p| p.selector());
    kit::object(&NetworkPolicy {
        metadata: meta(
            env,
            name,
            Some(namespace),
            component.unwrap_or("network-policy"),
        ),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(pod_selector),
            policy_types: Some(types),
            ingress: (!r.ingress.is_empty()).then_some(r.ingress),
            egress: (!r.egress.is_empty()).then_some(r.egress),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_in_cluster_is_a_namespace_peer() {
        let (peer, port) = vault_peer("https://vault.vault.svc.cluster.local:8200");
        assert_eq!(port, 8200);
        let ns = peer
            .and_then(|p| p.namespace_selector)
            .and_then(|s| s.match_labels);
        assert_eq!(
            ns.unwrap()["kubernetes.io/metadata.name"],
            "vault".to_owned()
        );
    }

    #[test]
    fn vault_outside_is_allowed_by_port() {
        let (peer, port) = vault_peer("https://vault.example.com");
        assert!(peer.is_none());
        assert_eq!(port, 443);
    }
}
