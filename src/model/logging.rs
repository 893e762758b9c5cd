//! The log collection pipeline (`[logging]`): a collector on every node tails the containers'
//! logs and ships them to a Kafka buffer, from which the log processing layer (Logstash,
//! Elasticsearch) reads.

use super::{Image, Resources};
#[cfg(test)]
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Log collection (`[logging]`), on Kubernetes: a Fluent Bit `DaemonSet` in the monitoring
/// namespace tails the container log of every DEAAP workload on its node, parses the standard
/// JSON log format, and produces each line to a Kafka topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Logging {
    /// Whether the collector is generated (Kubernetes environments only; a Compose environment's
    /// logs stay with Docker).
    #[serde(default = "crate::model::yes")]
    pub enabled: bool,
    /// The collector: `fluent-bit` (a `DaemonSet`, one pod per node).
    pub collector: LogCollector,
    /// The collector's image, below `images.registry`, e.g. `fluent/fluent-bit` with a pinned tag.
    pub image: Image,
    /// Requests and limits of the collector's container, on every node.
    pub resources: Resources,
    /// The Kafka cluster the collector produces to.
    pub kafka: Kafka,
    /// Topics other than `kafka.topic`, each with the workloads (service or storage keys) whose
    /// logs go there instead, e.g. `{ deaap-audit-logs = ["authorization"] }` for the services
    /// whose logs are the audit trail. A workload is in one topic at most.
    #[serde(default)]
    pub topics: BTreeMap<String, Vec<String>>,
}

/// Log collectors deaap-gen can configure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum LogCollector {
    /// Fluent Bit, with its native Kafka output.
    FluentBit,
}

/// The Kafka buffer (`[logging.kafka]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Kafka {
    /// Bootstrap brokers, each `host:port`, e.g.
    /// `kafka-bootstrap.kafka.svc.cluster.local:9092`. An in-cluster host
    /// (`<service>.<namespace>.svc…`) is allowed by namespace in the collector's `NetworkPolicy`,
    /// any other by port.
    pub brokers: Vec<String>,
    /// The topic every workload's logs go to unless `logging.topics` names another.
    pub topic: String,
    /// Whether the collector connects to the brokers over TLS (librdkafka's
    /// `security.protocol=ssl`, verifying the brokers' certificates against the CA bundle it
    /// finds in the image, `ssl.ca.location=probe`); plain text when off.
    #[serde(default)]
    pub tls: bool,
}

impl Logging {
    /// The topic of a workload's logs.
    #[must_use]
    pub fn topic_of(&self, workload: &str) -> &str {
        self.topics
            .iter()
            .find(|(_, ws)| ws.iter().any(|w| w == workload))
            .map_or(self.kafka.topic.as_str(), |(topic, _)| topic.as_str())
    }
}

/// A Kafka broker address, `host:port`, split; `None` when it is not one.
#[must_use]
pub fn broker(address: &str) -> Option<(&str, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    let port: u16 = port.parse().ok().filter(|p| *p != 0)?;
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    (host.len() <= 253 && host.split('.').all(label_ok)).then_some((host, port))
}

/// The namespace of an in-cluster broker host (`<service>.<namespace>.svc…`).
#[must_use]
pub fn broker_namespace(host: &str) -> Option<&str> {
    match host.split('.').collect::<Vec<_>>().as_slice() {
        [_, namespace, "svc", ..] => Some(namespace),
        _ => None,
    }
}

/// Whether `name` is a valid Kafka topic name: 1–249 characters of `a-z A-Z 0-9 . _ -`, not
/// `.` or `..`.
#[must_use]
pub fn topic_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brokers_are_host_and_port() {
        assert_eq!(
            broker("kafka.logging.svc.cluster.local:9092"),
            Some(("kafka.logging.svc.cluster.local", 9092))
        );
        assert_eq!(broker("10.0.0.1:9093"), Some(("10.0.0.1", 9093)));
        for bad in [
            "kafka",
            "kafka:",
            ":9092",
            "kafka:0",
            "kafka:70000",
            "ka fka:9092",
            "-a:1",
        ] {
            assert_eq!(broker(bad), None, "{bad}");
        }
        assert_eq!(
            broker_namespace("kafka.logging.svc.cluster.local"),
            Some("logging")
        );
        assert_eq!(broker_namespace("kafka.example.com"), None);
    }

    #[test]
    fn topic_names_follow_kafka() {
        assert!(topic_name_ok("deaap-logs.v1_a"));
        for bad in ["", ".", "..", "a b", "a/b", &"x".repeat(250)] {
            assert!(!topic_name_ok(bad), "{bad}");
        }
    }
}
