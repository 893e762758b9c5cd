//! The network the generated objects make: the Namespaces with their labels, the
//! `NetworkPolicies`, and a pod endpoint per pod template (Deployments, `StatefulSets`,
//! `DaemonSets`, Jobs, `CronJobs`, and the instances of a CloudNativePG `Cluster` as
//! [`crate::proof::cnpg`] derives them) with its template's labels and container ports, read back
//! from the generated documents; then the add-ons around them, with the labels and ports their
//! upstream installations give their pods, and the addresses outside the pod network.

use super::policy::{ContainerPort, Endpoint, Labels, Network, Place, Policy, Protocol};
use crate::targets::Artifact;
use k8s_openapi::api::core::v1::Namespace;
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr};

/// The ports the injected Istio proxy listens on beside the application: merged Prometheus
/// metrics (15020), health (15021) and Envoy's own metrics (15090).
pub const ISTIO_PROXY_PORTS: [(&str, u16); 3] = [
    ("merged-metrics", 15020),
    ("health", 15021),
    ("http-envoy-prom", 15090),
];

/// The generated network: namespaces, policies and pod endpoints (in object order).
#[derive(Debug, Default, Hash)]
pub struct Generated {
    pub network: Network,
    /// Namespace name → labels, as generated (without the API server's name label).
    pub namespaces: Vec<(String, Labels)>,
    pub pods: Vec<Endpoint>,
}

/// Reads the generated objects; an object that does not read back is a generator defect,
/// returned as its description.
///
/// # Errors
/// A document that is not the object its kind says.
pub fn read(artifacts: &[Artifact]) -> Result<Generated, String> {
    let mut g = Generated::default();
    let mut templates = Vec::new();
    for a in artifacts.iter().filter(|a| a.manifest) {
        for o in &a.objects {
            let what =
                |e: serde_json::Error| format!("{} `{}` in {}: {e}", o.kind(), o.name(), a.path);
            match o.kind() {
                "Namespace" => {
                    let n = Namespace::deserialize(o.value()).map_err(what)?;
                    let labels = n.metadata.labels.unwrap_or_default();
                    g.network.namespace(o.name(), labels.clone());
                    g.namespaces.push((o.name().to_owned(), labels));
                }
                "NetworkPolicy" => {
                    let p = PolicyObject::deserialize(o.value()).map_err(what)?;
                    g.network.policy(Policy::new(
                        o.namespace().unwrap_or_default(),
                        o.name(),
                        p.spec.unwrap_or_default(),
                    ));
                }
                "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" | "CronJob" => {
                    let w = Workload::deserialize(o.value()).map_err(what)?;
                    let template = w
                        .spec
                        .template
                        .or_else(|| w.spec.job_template.and_then(|j| j.spec.template))
                        .unwrap_or_default();
                    templates.push((o, template.read()));
                }
                _ if crate::proof::cnpg::is_cluster(o) => {
                    let t = crate::proof::cnpg::instance_template(&o.value().to_json());
                    templates.push((o, PodTemplate::deserialize(&t).map_err(what)?.read()));
                }
                _ => {}
            }
        }
    }
    for (i, (o, t)) in templates.into_iter().enumerate() {
        let namespace = o.namespace().unwrap_or_default().to_owned();
        g.pods.push(pod(&g, i, namespace, o.name(), t));
    }
    Ok(g)
}

/// A `NetworkPolicy` object, as far as the network depends on it: its spec.
#[derive(Deserialize)]
struct PolicyObject {
    spec: Option<super::spec::Spec>,
}

/// What a workload object says about its pods: the pod template of a Deployment, `StatefulSet`,
/// `DaemonSet`, `ReplicaSet` or Job (`spec.template`), or of a `CronJob`'s Jobs
/// (`spec.jobTemplate.spec.template`).
#[derive(Deserialize)]
struct Workload<'a> {
    #[serde(borrow)]
    spec: WorkloadSpec<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WorkloadSpec<'a> {
    #[serde(borrow)]
    template: Option<PodTemplate<'a>>,
    #[serde(borrow)]
    job_template: Option<JobTemplate<'a>>,
}

#[derive(Deserialize)]
struct JobTemplate<'a> {
    #[serde(borrow)]
    spec: JobSpec<'a>,
}

#[derive(Deserialize)]
struct JobSpec<'a> {
    #[serde(borrow)]
    template: Option<PodTemplate<'a>>,
}

/// The parts of a pod template (`PodTemplateSpec`) the network depends on, read in place: its
/// labels and annotations, its containers' ports, and whether it uses the node's network. The
/// rest of the template is skipped, not copied.
#[derive(Deserialize, Default)]
struct PodTemplate<'a> {
    #[serde(borrow)]
    metadata: Option<TemplateMeta<'a>>,
    #[serde(borrow)]
    spec: Option<PodSpec<'a>>,
}

#[derive(Deserialize, Default)]
struct TemplateMeta<'a> {
    labels: Option<Labels>,
    #[serde(borrow)]
    annotations: Option<Annotations<'a>>,
}

/// The one annotation the network depends on; the others are skipped.
#[derive(Deserialize, Default)]
struct Annotations<'a> {
    #[serde(rename = "sidecar.istio.io/inject")]
    inject: Option<&'a str>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PodSpec<'a> {
    #[serde(default, borrow)]
    containers: Vec<Container<'a>>,
    #[serde(borrow)]
    init_containers: Option<Vec<Container<'a>>>,
    host_network: Option<bool>,
}

#[derive(Deserialize)]
struct Container<'a> {
    #[serde(borrow)]
    ports: Option<Vec<Port<'a>>>,
}

#[derive(Deserialize)]
struct Port<'a> {
    name: Option<&'a str>,
    #[serde(rename = "containerPort")]
    number: i32,
    protocol: Option<&'a str>,
}

/// What the network takes from a pod template, read out of a [`PodTemplate`].
struct Template {
    labels: Labels,
    /// The pod's `sidecar.istio.io/inject` annotation.
    inject: Option<String>,
    ports: Vec<ContainerPort>,
    host_network: bool,
}

impl PodTemplate<'_> {
    fn read(&self) -> Template {
        let meta = self.metadata.as_ref();
        let spec = self.spec.as_ref();
        Template {
            labels: meta.and_then(|m| m.labels.clone()).unwrap_or_default(),
            inject: meta
                .and_then(|m| m.annotations.as_ref()?.inject)
                .map(str::to_owned),
            ports: spec
                .into_iter()
                .flat_map(|s| {
                    s.containers
                        .iter()
                        .chain(s.init_containers.iter().flatten())
                })
                .flat_map(|c| c.ports.iter().flatten())
                .map(|p| ContainerPort {
                    name: p.name.map(str::to_owned),
                    number: u16::try_from(p.number).unwrap_or(0),
                    protocol: p
                        .protocol
                        .map_or(Some(Protocol::Tcp), Protocol::parse)
                        .unwrap_or(Protocol::Tcp),
                })
                .collect(),
            host_network: spec.is_some_and(|s| s.host_network == Some(true)),
        }
    }
}

/// The endpoint of the pods of one template: the template's labels and every container's ports;
/// in a namespace labelled for Istio injection (unless the pod opts out), the proxy's too. A
/// host-network pod is its node's address.
fn pod(g: &Generated, index: usize, namespace: String, name: &str, t: Template) -> Endpoint {
    let Template {
        labels,
        inject,
        mut ports,
        host_network,
    } = t;
    let injected = g.namespaces.iter().any(|(n, l)| {
        *n == namespace && l.get("istio-injection").map(String::as_str) == Some("enabled")
    });
    let opted_out = inject
        .as_ref()
        .or_else(|| labels.get("sidecar.istio.io/inject"))
        .is_some_and(|v| v == "false");
    if injected && !opted_out {
        ports.extend(ISTIO_PROXY_PORTS.iter().map(|(n, p)| ContainerPort {
            name: Some((*n).to_owned()),
            number: *p,
            protocol: Protocol::Tcp,
        }));
    }
    Endpoint {
        id: format!("{namespace}/{name}"),
        place: if host_network {
            Place::Address
        } else {
            Place::Pod { namespace }
        },
        labels,
        ports,
        ip: if host_network { NODE_IP } else { pod_ip(index) },
    }
}

/// The address of the `index`th pod endpoint, on a pod network of 10.244.0.0/16.
#[must_use]
pub fn pod_ip(index: usize) -> IpAddr {
    let i = index + 2;
    IpAddr::V4(Ipv4Addr::new(10, 244, (i / 250) as u8, (i % 250) as u8 + 1))
}

/// A node's address: the kubelet and host-network pods.
pub const NODE_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 10));
/// The API server's endpoint address.
pub const API_SERVER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
/// The object store of the backups, outside the cluster.
pub const OBJECT_STORE_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 10));
/// Kafka brokers outside the cluster (the log collector's).
pub const KAFKA_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 30));
/// A Vault outside the cluster.
pub const EXTERNAL_VAULT_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 20));

/// A pod of an add-on, in `namespace`, with its labels and ports.
#[must_use]
pub fn addon(
    id: &str,
    namespace: &str,
    labels: &[(&str, &str)],
    ports: &[(&str, u16, Protocol)],
    ip: IpAddr,
) -> Endpoint {
    Endpoint {
        id: id.to_owned(),
        place: Place::Pod {
            namespace: namespace.to_owned(),
        },
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ports: ports
            .iter()
            .map(|(n, p, proto)| ContainerPort {
                name: Some((*n).to_owned()),
                number: *p,
                protocol: *proto,
            })
            .collect(),
        ip,
    }
}

/// An address outside the pod network that serves `ports`.
#[must_use]
pub fn address(id: &str, ports: &[(&str, u16)], ip: IpAddr) -> Endpoint {
    Endpoint {
        id: id.to_owned(),
        place: Place::Address,
        labels: Labels::new(),
        ports: ports
            .iter()
            .map(|(n, p)| ContainerPort {
                name: Some((*n).to_owned()),
                number: *p,
                protocol: Protocol::Tcp,
            })
            .collect(),
        ip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The endpoint of `template` in namespace `ns`, in a cluster whose `mesh` namespace is
    /// labelled for Istio injection.
    fn endpoint(ns: &str, template: &serde_json::Value) -> Endpoint {
        let mut g = Generated::default();
        g.namespaces.push((
            "mesh".to_owned(),
            Labels::from([("istio-injection".to_owned(), "enabled".to_owned())]),
        ));
        let t = PodTemplate::deserialize(template).expect("a pod template");
        pod(&g, 0, ns.to_owned(), "web", t.read())
    }

    fn numbers(e: &Endpoint) -> Vec<(u16, Protocol)> {
        e.ports.iter().map(|p| (p.number, p.protocol)).collect()
    }

    /// A template's labels and the ports of its containers and init containers make its endpoint;
    /// in a meshed namespace the proxy's ports are added unless the pod's annotation or label opts
    /// out; host networking makes it the node's address.
    #[test]
    fn a_template_reads_as_the_network_sees_its_pods() {
        let template = json!({
            "metadata": {"labels": {"app": "web"}, "annotations": {"other": "x"}},
            "spec": {
                "containers": [{"name": "app", "image": "i", "ports": [
                    {"name": "http", "containerPort": 8080},
                    {"containerPort": 53, "protocol": "UDP"},
                ]}],
                "initContainers": [{"name": "init", "ports": [{"containerPort": 9000}]}],
                "volumes": [{"name": "v", "emptyDir": {}}],
            },
        });
        let plain = endpoint("apps", &template);
        assert_eq!(
            plain.labels,
            Labels::from([("app".to_owned(), "web".to_owned())])
        );
        assert_eq!(
            numbers(&plain),
            [
                (8080, Protocol::Tcp),
                (53, Protocol::Udp),
                (9000, Protocol::Tcp)
            ]
        );
        assert_eq!(plain.ports[0].name.as_deref(), Some("http"));
        assert_eq!(
            plain.place,
            Place::Pod {
                namespace: "apps".to_owned()
            }
        );
        assert_eq!(plain.ip, pod_ip(0));

        let meshed = endpoint("mesh", &template);
        assert_eq!(meshed.ports.len(), 3 + ISTIO_PROXY_PORTS.len());

        let mut annotated = template.clone();
        annotated["metadata"]["annotations"]["sidecar.istio.io/inject"] = json!("false");
        assert_eq!(endpoint("mesh", &annotated).ports.len(), 3);
        let mut labelled = template.clone();
        labelled["metadata"]["labels"]["sidecar.istio.io/inject"] = json!("false");
        assert_eq!(endpoint("mesh", &labelled).ports.len(), 3);

        let mut host = template;
        host["spec"]["hostNetwork"] = json!(true);
        let host = endpoint("apps", &host);
        assert_eq!(host.place, Place::Address);
        assert_eq!(host.ip, NODE_IP);
    }
}
