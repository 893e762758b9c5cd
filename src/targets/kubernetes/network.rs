//! NetworkPolicies: every DEAAP namespace denies all traffic by default, then each workload gets one
//! policy listing exactly what may reach it and what it may reach, derived from the model: the
//! Istio ingress gateway → routed services, a workload → its `depends_on`, Prometheus → pods it
//! scrapes (and, in meshed namespaces, Istio's merged-metrics port), sidecars → istiod, Vault
//! agents → Vault, API-calling services → the API server, backup jobs → the
//! databases they dump and the object store, and DNS for everyone.
//!
//! Every rule names both sides (namespace and pod labels) so a policy reads on its own, and every
//! allowed flow appears twice (egress at the client, ingress at the server) because both ends deny
//! by default.

use super::pod::{self, Workload};
use super::workloads::{self, Planned};
use super::{meta, obj};
use crate::model::{Environment, NamespaceKey};
use crate::targets::TargetError;
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// Where the Istio ingress gateway and istiod run (Istio's default installation).
const GATEWAY_NAMESPACE: &str = "istio-system";
const GATEWAY_LABEL: (&str, &str) = ("istio", "ingressgateway");
/// The Istio control plane: sidecars fetch their configuration and certificates over xDS.
const ISTIOD_LABEL: (&str, &str) = ("app", "istiod");
const ISTIOD_XDS_PORT: u16 = 15012;
/// Istio's merged metrics (the application's and the proxy's), served in plain text by the
/// sidecar so Prometheus outside the mesh can scrape it.
const ISTIO_METRICS_PORT: u16 = 15020;
/// Where cluster DNS runs.
const DNS_NAMESPACE: &str = "kube-system";
const DNS_LABEL: (&str, &str) = ("k8s-app", "kube-dns");
/// The Prometheus pods of kube-prometheus-stack.
const PROMETHEUS_LABEL: (&str, &str) = ("app.kubernetes.io/name", "prometheus");
/// The API server is outside the pod network and its address is the cluster's, so it is allowed
/// by port: 443 for the `kubernetes` Service, 6443 for its endpoints after translation.
const API_SERVER_PORTS: [u16; 2] = [443, 6443];
/// Object storage is outside the cluster and reached over HTTPS.
const OBJECT_STORE_PORT: u16 = 443;

/// A set of pods in a namespace.
#[derive(Debug, Clone)]
struct Pods {
    namespace: String,
    labels: BTreeMap<String, String>,
}

impl Pods {
    fn peer(&self) -> NetworkPolicyPeer {
        NetworkPolicyPeer {
            namespace_selector: Some(namespace_selector(&self.namespace)),
            pod_selector: Some(pod::selector(self.labels.clone())),
            ..NetworkPolicyPeer::default()
        }
    }
}

fn namespace_selector(namespace: &str) -> LabelSelector {
    pod::selector(BTreeMap::from([(
        "kubernetes.io/metadata.name".to_owned(),
        namespace.to_owned(),
    )]))
}

fn one(key: &str, value: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(key.to_owned(), value.to_owned())])
}

fn tcp(ports: impl IntoIterator<Item = u16>) -> Vec<NetworkPolicyPort> {
    ports
        .into_iter()
        .map(|p| NetworkPolicyPort {
            port: Some(IntOrString::Int(i32::from(p))),
            protocol: Some("TCP".to_owned()),
            ..NetworkPolicyPort::default()
        })
        .collect()
}

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

/// A network endpoint: its pods and the ports it serves.
struct Endpoint {
    pods: Pods,
    ports: Vec<u16>,
}

fn endpoint(env: &Environment, w: &Workload<'_>) -> Endpoint {
    Endpoint {
        pods: Pods {
            namespace: w.namespace.clone(),
            labels: pod::selector_labels(env, &w.name),
        },
        ports: w.ports.iter().map(|p| p.number).collect(),
    }
}

/// Vault as a peer and port, from `security.vault.address`: an in-cluster address
/// (`<service>.<namespace>.svc…`) becomes that namespace; anything else is allowed by port only.
fn vault_peer(address: &str) -> (Option<NetworkPolicyPeer>, u16) {
    let (scheme, rest) = address.split_once("://").unwrap_or(("https", address));
    let authority = rest.split('/').next().unwrap_or(rest);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()),
        None => (authority, None),
    };
    let port = port.unwrap_or(if scheme == "http" { 80 } else { 443 });
    let labels: Vec<&str> = host.split('.').collect();
    let peer = match labels.as_slice() {
        [_, namespace, "svc", ..] => Some(NetworkPolicyPeer {
            namespace_selector: Some(namespace_selector(namespace)),
            ..NetworkPolicyPeer::default()
        }),
        _ => None,
    };
    (peer, port)
}

/// The backup jobs as a network endpoint (all backup CronJobs share the `backup` component).
fn backup_pods(env: &Environment) -> Pods {
    let mut labels = one("app.kubernetes.io/component", "backup");
    labels.insert(
        "app.kubernetes.io/instance".to_owned(),
        env.environment.name.clone(),
    );
    Pods {
        namespace: env.namespace(NamespaceKey::Storage).to_owned(),
        labels,
    }
}

/// Every NetworkPolicy of the environment.
///
/// # Errors
/// A dependency on a workload that does not exist.
pub fn policies(env: &Environment) -> Result<Vec<serde_json::Value>, TargetError> {
    let plan = workloads::plan(env);
    let index: BTreeMap<&str, &Planned<'_>> =
        plan.iter().map(|p| (p.workload.name.as_str(), p)).collect();
    let mut rules: BTreeMap<String, Rules> = BTreeMap::new();
    let (vault, vault_port) = vault_peer(&env.security.vault.address);
    let prometheus = Pods {
        namespace: env.namespace(NamespaceKey::Monitoring).to_owned(),
        labels: one(PROMETHEUS_LABEL.0, PROMETHEUS_LABEL.1),
    };
    let gateway = Pods {
        namespace: GATEWAY_NAMESPACE.to_owned(),
        labels: one(GATEWAY_LABEL.0, GATEWAY_LABEL.1),
    };
    let mut scrape_egress = Rules::default();

    let edge = |rules: &mut BTreeMap<String, Rules>, from: (&str, &Pods), to: (&str, &Endpoint)| {
        let ports = || tcp(to.1.ports.iter().copied());
        rules
            .entry(from.0.to_owned())
            .or_default()
            .allow_to(Some(to.1.pods.peer()), ports());
        rules
            .entry(to.0.to_owned())
            .or_default()
            .allow_from(Some(from.1.peer()), ports());
    };

    for p in &plan {
        let w = &p.workload;
        let me = endpoint(env, w);
        rules.entry(w.name.clone()).or_default().pods = Some(me.pods.clone());
        for dep in &p.workload.depends_on {
            match index.get(dep.as_str()) {
                Some(t) => edge(
                    &mut rules,
                    (&w.name, &me.pods),
                    (dep, &endpoint(env, &t.workload)),
                ),
                None if env.services.contains_key(dep) || env.storage.contains_key(dep) => {}
                None => {
                    return Err(TargetError(format!(
                        "{} depends on `{dep}`, which is no workload",
                        w.name
                    )));
                }
            }
        }
        let r = rules.entry(w.name.clone()).or_default();
        if p.workload.routed {
            r.allow_from(Some(gateway.peer()), tcp(me.ports.iter().copied()));
        }
        // The blockchain nodes are scraped by their own job (`blockchain.metrics_job`).
        let scraped = w
            .metrics
            .as_ref()
            .map(|(port, _)| *port)
            .or_else(|| (w.component == "blockchain").then(|| me.ports[0]));
        if let Some(port) = scraped {
            let mut ports = vec![port];
            if pod::meshed(env, &w.namespace) {
                ports.push(ISTIO_METRICS_PORT);
            }
            r.allow_from(Some(prometheus.peer()), tcp(ports.clone()));
            scrape_egress.allow_to(Some(me.pods.peer()), tcp(ports));
        }
        if p.workload.peers {
            r.allow_from(Some(me.pods.peer()), tcp(me.ports.iter().copied()));
            r.allow_to(Some(me.pods.peer()), tcp(me.ports.iter().copied()));
        }
        if w.uses_vault() {
            r.allow_to(vault.clone(), tcp([vault_port]));
        }
        if w.api_access {
            r.allow_to(None, tcp(API_SERVER_PORTS));
        }
    }

    // The consensus manager coordinates the validators.
    let writer = env.consensus.writer_service.as_str();
    if let (Some(m), Some(v)) = (index.get(writer), index.get(workloads::VALIDATOR)) {
        let from = endpoint(env, &m.workload).pods;
        edge(
            &mut rules,
            (writer, &from),
            (workloads::VALIDATOR, &endpoint(env, &v.workload)),
        );
    }

    let mut backup = Rules {
        pods: Some(backup_pods(env)),
        ..Rules::default()
    };
    if env.backup.enabled {
        let pods = backup_pods(env);
        for db in env.backup.databases.values() {
            if let Some(t) = index.get(db.source.as_str()) {
                let to = endpoint(env, &t.workload);
                backup.allow_to(Some(to.pods.peer()), tcp(to.ports.iter().copied()));
                rules
                    .entry(db.source.clone())
                    .or_default()
                    .allow_from(Some(pods.peer()), tcp(to.ports.iter().copied()));
            }
        }
        backup.allow_to(None, tcp([OBJECT_STORE_PORT]));
        let db_secrets = env.backup.databases.values().any(|d| {
            env.storage
                .get(&d.source)
                .is_some_and(|s| !s.secrets.is_empty())
        });
        if !env.backup.secrets.is_empty() || db_secrets {
            backup.allow_to(vault, tcp([vault_port]));
        }
    }

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
        dns.allow_to(
            Some(
                Pods {
                    namespace: DNS_NAMESPACE.to_owned(),
                    labels: one(DNS_LABEL.0, DNS_LABEL.1),
                }
                .peer(),
            ),
            dns_ports(),
        );
        out.push(policy(env, "allow-dns", namespace, None, dns)?);
        if env.security.mesh.meshed(key) {
            let mut xds = Rules::default();
            xds.allow_to(
                Some(
                    Pods {
                        namespace: GATEWAY_NAMESPACE.to_owned(),
                        labels: one(ISTIOD_LABEL.0, ISTIOD_LABEL.1),
                    }
                    .peer(),
                ),
                tcp([ISTIOD_XDS_PORT]),
            );
            out.push(policy(env, "allow-istiod", namespace, None, xds)?);
        }
        if key == NamespaceKey::Monitoring {
            out.extend(monitoring(
                env,
                namespace,
                &prometheus,
                scrape_egress.egress.clone(),
            )?);
        }
    }
    for p in &plan {
        if let Some(r) = rules.remove(&p.workload.name) {
            out.push(policy(
                env,
                &p.workload.name,
                &p.workload.namespace,
                None,
                r,
            )?);
        }
    }
    if env.backup.enabled {
        let namespace = backup
            .pods
            .as_ref()
            .map(|p| p.namespace.clone())
            .unwrap_or_default();
        out.push(policy(
            env,
            &env.backup.name,
            &namespace,
            Some("backup"),
            backup,
        )?);
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
) -> Result<Vec<serde_json::Value>, TargetError> {
    let same = Pods {
        namespace: namespace.to_owned(),
        labels: BTreeMap::new(),
    };
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
    if !scrape.is_empty() {
        let r = Rules {
            pods: Some(prometheus.clone()),
            egress: scrape,
            ..Rules::default()
        };
        out.push(policy(env, "prometheus-scrape", namespace, None, r)?);
    }
    Ok(out)
}

/// One NetworkPolicy. Its policy types are those it has rules for, except that a policy with no
/// rules at all denies both directions (the default-deny).
fn policy(
    env: &Environment,
    name: &str,
    namespace: &str,
    component: Option<&str>,
    r: Rules,
) -> Result<serde_json::Value, TargetError> {
    let deny_all = r.ingress.is_empty() && r.egress.is_empty();
    let mut types = Vec::new();
    if deny_all || !r.ingress.is_empty() {
        types.push("Ingress".to_owned());
    }
    if deny_all || !r.egress.is_empty() {
        types.push("Egress".to_owned());
    }
    let pod_selector = r
        .pods
        .map_or_else(LabelSelector::default, |p| pod::selector(p.labels));
    obj(&NetworkPolicy {
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
