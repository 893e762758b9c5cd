//! The `logging` target: `kubernetes/log-collector.yaml`, the collection side of the logging
//! pipeline (`[logging]`). A Fluent Bit `DaemonSet` in the monitoring namespace tails, on every
//! node, the container log of each DEAAP workload (`/var/log/containers/<pod>_<namespace>_<container>-<id>.log`),
//! reassembles the container runtime's (CRI) lines, parses the standard JSON log format
//! (`schema/log-format.schema.json`: `timestamp` is the event time) and produces every line to
//! its workload's Kafka topic.
//!
//! Beside it: its configuration (a `ConfigMap`, `fluent-bit.yaml` in Fluent Bit's YAML format),
//! a `ServiceAccount` without an API token (records are enriched from the log file's name, which
//! carries pod, namespace and container, so the collector never calls the API server), and the
//! `NetworkPolicy` that lets it reach the brokers (DNS comes from the namespace's policy).
//!
//! The collector reads files the container runtime writes as root with mode 0640 on the node's
//! `/var/log`, and keeps its read positions and its buffer in `/var/lib/fluent-bit` on the node:
//! it runs as root (no capabilities, no privilege escalation, read-only root filesystem) with two
//! `hostPath` volumes, which only a namespace at the `privileged` Pod Security level admits.

use crate::model::{Environment, Logging, NamespaceKey, broker, broker_namespace};
use crate::plan::Workload;
use crate::render::yaml11;
use crate::targets::kit::{self, Labels, Object, meta, pod::waiver_annotations};
use crate::targets::{Context, Target, TargetError};
use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetSpec, DaemonSetUpdateStrategy, RollingUpdateDaemonSet,
};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, HTTPGetAction,
    HostPathVolumeSource, PodSecurityContext, PodSpec, PodTemplateSpec, Probe, SeccompProfile,
    SecurityContext, ServiceAccount, Toleration, Volume, VolumeMount,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyPeer, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

#[cfg(test)]
mod tests;

pub(super) struct Logs;

/// Name of the collector's objects and of its container.
pub(crate) const COLLECTOR: &str = "log-collector";
/// `app.kubernetes.io/component` of the collector's objects.
const COMPONENT: &str = "logging";
/// Where the configuration is mounted in the collector's container.
const CONFIG_DIR: &str = "/fluent-bit/etc/deaap";
/// The configuration file's name (the `ConfigMap` key); Fluent Bit reads YAML by the extension.
pub(crate) const CONFIG_FILE: &str = "fluent-bit.yaml";
/// The node's container logs: `/var/log/containers/*` are links into `/var/log/pods`.
const NODE_LOGS: &str = "/var/log";
/// The collector's state on the node: read positions and the filesystem buffer, which survive a
/// restart of the pod.
const STATE_DIR: &str = "/var/lib/fluent-bit";
/// Fluent Bit's HTTP server: health and its own metrics.
pub(crate) const HTTP_PORT: u16 = 2020;
/// The parser of the standard log format.
const JSON_PARSER: &str = "deaap-json";
/// `timestamp` of the standard log format: RFC 3339 in UTC with milliseconds, e.g.
/// `2024-01-15T10:30:00.000Z` (the schema's pattern says the same).
pub(crate) const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S.%LZ";
/// Posture-scan findings the collector's design accepts (`checkov.io/skip` annotations).
const ACCEPTED: [(&str, &str); 2] = [
    (
        "CKV_K8S_23",
        "The log collector reads the container runtime's log files, owned by root with mode 0640, on every node.",
    ),
    (
        "CKV_K8S_40",
        "The log collector runs as root (UID 0) to read the container runtime's log files.",
    ),
];

impl Target for Logs {
    fn name(&self) -> &'static str {
        "logging"
    }

    fn applies(&self, env: &Environment) -> bool {
        env.collected_logging().is_some()
    }

    fn generate(&self, cx: &Context<'_>) -> Result<Vec<crate::targets::Artifact>, TargetError> {
        let env = cx.env;
        let Some(logging) = env.collected_logging() else {
            return Ok(Vec::new());
        };
        let objects = objects(env, logging, cx.workloads())?;
        Ok(vec![kit::manifest(
            cx,
            self.name(),
            "kubernetes/log-collector.yaml",
            objects,
        )])
    }
}

/// The collector's objects: `ServiceAccount`, `ConfigMap`, `DaemonSet`, `NetworkPolicy`.
fn objects(
    env: &Environment,
    logging: &Logging,
    workloads: &[Workload<'_>],
) -> Result<Vec<Object>, TargetError> {
    let namespace = env.namespace(NamespaceKey::Monitoring);
    let config = yaml11::to_string(&config(logging, workloads)).map_err(TargetError)?;
    let checksum =
        Sha256::digest(config.as_bytes())
            .iter()
            .fold(String::with_capacity(64), |mut hex, b| {
                let _ = write!(hex, "{b:02x}");
                hex
            });
    let account = ServiceAccount {
        metadata: meta(env, COLLECTOR, Some(namespace), COMPONENT),
        automount_service_account_token: Some(false),
        ..ServiceAccount::default()
    };
    let map = ConfigMap {
        metadata: meta(env, COLLECTOR, Some(namespace), COMPONENT),
        data: Some(BTreeMap::from([(CONFIG_FILE.to_owned(), config)])),
        ..ConfigMap::default()
    };
    Ok(vec![
        kit::object(&account)?,
        kit::object(&map)?,
        kit::object(&daemon_set(env, logging, namespace, &checksum))?,
        kit::object(&network_policy(env, logging, namespace))?,
    ])
}

/// The workloads whose logs are collected: every deployed workload of `workloads` (as
/// [`crate::plan::workloads`] gives them) with its namespace, pod name prefix and container name (a
/// CloudNativePG instance's container is `postgres`).
pub(crate) fn sources<'w, 'a>(workloads: &'w [Workload<'a>]) -> Vec<&'w Workload<'a>> {
    workloads.iter().filter(|w| w.deployed).collect()
}

/// The container whose log the collector tails in a workload's pods.
fn container<'w>(w: &'w Workload<'_>) -> &'w str {
    if w.cloudnative_pg() {
        "postgres"
    } else {
        &w.name
    }
}

/// The log files of a workload's container: `<pod>_<namespace>_<container>-<container id>.log`,
/// where every pod of the workload is named `<workload>-…`.
fn path(w: &Workload<'_>) -> String {
    format!(
        "/var/log/containers/{}-*_{}_{}-*.log",
        w.name,
        w.namespace,
        container(w)
    )
}

/// The Fluent Bit tag of a workload's records.
fn tag(w: &Workload<'_>) -> String {
    format!("deaap.{}.{}", w.namespace, w.name)
}

/// The Fluent Bit configuration (YAML format): one `tail` input per workload, the JSON parser on
/// each line the CRI parser reassembled, one `kafka` output per topic. `workloads` as
/// [`crate::plan::workloads`] gives them.
pub(crate) fn config(logging: &Logging, workloads: &[Workload<'_>]) -> Value {
    let sources = sources(workloads);
    // The sources by namespace and name (and position), to find those whose names extend a name.
    let by_name: BTreeSet<(&str, &str, usize)> = sources
        .iter()
        .enumerate()
        .map(|(i, w)| (w.namespace.as_str(), w.name.as_str(), i))
        .collect();
    let inputs: Vec<Value> = sources
        .iter()
        .map(|w| {
            let mut input = json!({
                "name": "tail",
                "alias": format!("tail-{}", w.name),
                "tag": tag(w),
                "path": path(w),
                "multiline.parser": "cri",
                "db": format!("{STATE_DIR}/tail-{}.db", w.name),
                "db.locking": true,
                "storage.type": "filesystem",
                "skip_long_lines": true,
                "refresh_interval": "10",
            });
            // Pods of a workload whose name extends this one (`api` and `api-admin`) match the
            // same pattern: leave them to their own input.
            let prefix = format!("{}-", w.name);
            let mut longer: Vec<usize> = by_name
                .range((w.namespace.as_str(), prefix.as_str(), 0)..)
                .take_while(|(ns, name, _)| *ns == w.namespace && name.starts_with(&prefix))
                .map(|&(_, _, i)| i)
                .collect();
            longer.sort_unstable();
            let longer: Vec<String> = longer.into_iter().map(|i| path(sources[i])).collect();
            if !longer.is_empty() {
                input["exclude_path"] = json!(longer.join(","));
            }
            input
        })
        .collect();
    let mut topics: BTreeMap<&str, Vec<&Workload<'_>>> = BTreeMap::new();
    for w in &sources {
        topics.entry(logging.topic_of(&w.name)).or_default().push(w);
    }
    let brokers = logging.kafka.brokers.join(",");
    let outputs: Vec<Value> = topics
        .iter()
        .map(|(topic, ws)| {
            let tags: Vec<String> = ws.iter().map(|w| regex_escape(&tag(w))).collect();
            let mut output = json!({
                "name": "kafka",
                "alias": format!("kafka-{topic}"),
                "match_regex": format!("^({})$", tags.join("|")),
                "brokers": brokers,
                "topics": topic,
                "format": "json",
                "timestamp_key": "@timestamp",
                "timestamp_format": "iso8601",
                "retry_limit": "no_limits",
            });
            if logging.kafka.tls {
                output["rdkafka.security.protocol"] = json!("ssl");
                // librdkafka looks for the CA bundle in the usual places of the image.
                output["rdkafka.ssl.ca.location"] = json!("probe");
            }
            output
        })
        .collect();
    json!({
        "service": {
            "flush": 1,
            "log_level": "info",
            "http_server": true,
            "http_listen": "0.0.0.0",
            "http_port": HTTP_PORT,
            "health_check": true,
            "storage.path": format!("{STATE_DIR}/buffer"),
            "storage.sync": "normal",
            "storage.backlog.mem_limit": "16M",
        },
        "parsers": [{
            "name": JSON_PARSER,
            "format": "json",
            "time_key": "timestamp",
            "time_format": TIME_FORMAT,
            "time_keep": true,
        }],
        "pipeline": {
            "inputs": inputs,
            "filters": [{
                "name": "parser",
                "alias": "standard-log-format",
                "match": "deaap.*",
                "key_name": "log",
                "parser": JSON_PARSER,
                "reserve_data": false,
            }],
            "outputs": outputs,
        },
    })
}

/// A Fluent Bit tag as a literal in a regular expression.
fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if !c.is_ascii_alphanumeric() && c != '-' && c != '_' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn daemon_set(env: &Environment, logging: &Logging, namespace: &str, checksum: &str) -> DaemonSet {
    let mut metadata = meta(env, COLLECTOR, Some(namespace), COMPONENT);
    let mut annotations = waiver_annotations(env, COLLECTOR);
    let first = annotations.len();
    for (i, (check, reason)) in ACCEPTED.iter().enumerate() {
        annotations.insert(
            format!("checkov.io/skip{}", first + i + 1),
            format!("{check}={reason}"),
        );
    }
    metadata.annotations = Some(annotations);
    let probe = |path: &str| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String("http".to_owned()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(10),
        ..Probe::default()
    };
    let mount = |name: &str, path: &str, read_only: bool| VolumeMount {
        name: name.to_owned(),
        mount_path: path.to_owned(),
        read_only: Some(read_only),
        ..VolumeMount::default()
    };
    let host = |name: &str, path: &str, kind: &str| Volume {
        name: name.to_owned(),
        host_path: Some(HostPathVolumeSource {
            path: path.to_owned(),
            type_: Some(kind.to_owned()),
        }),
        ..Volume::default()
    };
    let container = Container {
        name: COLLECTOR.to_owned(),
        image: Some(env.image_ref(&logging.image)),
        image_pull_policy: Some(env.images.pull_policy.as_str().to_owned()),
        command: Some(vec!["/fluent-bit/bin/fluent-bit".to_owned()]),
        args: Some(vec![format!("--config={CONFIG_DIR}/{CONFIG_FILE}")]),
        ports: Some(vec![ContainerPort {
            name: Some("http".to_owned()),
            container_port: i32::from(HTTP_PORT),
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        }]),
        resources: Some(kit::pod::requirements(&logging.resources, 0)),
        liveness_probe: Some(probe("/api/v1/health")),
        readiness_probe: Some(probe("/api/v1/health")),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_owned()]),
                ..Capabilities::default()
            }),
            privileged: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(false),
            run_as_user: Some(0),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(vec![
            mount("config", CONFIG_DIR, true),
            mount("node-logs", NODE_LOGS, true),
            mount("state", STATE_DIR, false),
        ]),
        ..Container::default()
    };
    let labels: Labels = kit::pod_labels(env, COLLECTOR, COMPONENT);
    let pod = PodSpec {
        service_account_name: Some(COLLECTOR.to_owned()),
        automount_service_account_token: Some(false),
        security_context: Some(PodSecurityContext {
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".to_owned(),
                ..SeccompProfile::default()
            }),
            ..PodSecurityContext::default()
        }),
        // Every node, tainted ones (GPU nodes) included: their pods log too.
        tolerations: Some(vec![Toleration {
            operator: Some("Exists".to_owned()),
            ..Toleration::default()
        }]),
        containers: vec![container],
        volumes: Some(vec![
            Volume {
                name: "config".to_owned(),
                config_map: Some(ConfigMapVolumeSource {
                    name: COLLECTOR.to_owned(),
                    ..ConfigMapVolumeSource::default()
                }),
                ..Volume::default()
            },
            host("node-logs", NODE_LOGS, "Directory"),
            host("state", STATE_DIR, "DirectoryOrCreate"),
        ]),
        ..PodSpec::default()
    };
    DaemonSet {
        metadata,
        spec: Some(DaemonSetSpec {
            selector: kit::selector(kit::selector_labels(env, COLLECTOR)),
            update_strategy: Some(DaemonSetUpdateStrategy {
                type_: Some("RollingUpdate".to_owned()),
                rolling_update: Some(RollingUpdateDaemonSet {
                    max_unavailable: Some(IntOrString::Int(1)),
                    ..RollingUpdateDaemonSet::default()
                }),
            }),
            template: PodTemplateSpec {
                metadata: Some(kit::annotated(
                    k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                        labels: Some(labels),
                        ..Default::default()
                    },
                    "deaap.io/config-sha256",
                    checksum,
                )),
                spec: Some(pod),
            },
            ..DaemonSetSpec::default()
        }),
        ..DaemonSet::default()
    }
}

/// The collector's egress to the brokers: an in-cluster broker by its namespace, any other by
/// port (its address is not the model's).
fn network_policy(env: &Environment, logging: &Logging, namespace: &str) -> NetworkPolicy {
    let mut by_place: BTreeMap<Option<&str>, BTreeSet<u16>> = BTreeMap::new();
    for b in &logging.kafka.brokers {
        if let Some((host, port)) = broker(b) {
            by_place
                .entry(broker_namespace(host))
                .or_default()
                .insert(port);
        }
    }
    let egress = by_place
        .into_iter()
        .map(|(ns, ports)| NetworkPolicyEgressRule {
            to: ns.map(|ns| {
                vec![NetworkPolicyPeer {
                    namespace_selector: Some(kit::namespace_selector(ns)),
                    ..NetworkPolicyPeer::default()
                }]
            }),
            ports: Some(kit::tcp_ports(ports)),
        })
        .collect();
    NetworkPolicy {
        metadata: meta(env, COLLECTOR, Some(namespace), "network-policy"),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(kit::selector(kit::selector_labels(env, COLLECTOR))),
            policy_types: Some(vec!["Egress".to_owned()]),
            egress: Some(egress),
            ..NetworkPolicySpec::default()
        }),
    }
}
