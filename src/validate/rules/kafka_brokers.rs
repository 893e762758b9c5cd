//! DG0139 kafka-brokers: the collector has brokers to produce to, each written `host:port`.

use super::DiagnosticExt;
use crate::model::broker;
use crate::path;
use crate::validate::{Rule, RuleContext};

pub static RULE: Rule = Rule {
    code: "DG0139",
    name: "kafka-brokers",
    what: "`logging.kafka.brokers` lists at least one broker when logging is enabled, each \
           `host:port`: a DNS name or an IPv4 address, and a port from 1 to 65535, with no \
           scheme (`kafka://`) and no path.",
    why: "Fluent Bit hands the brokers to librdkafka, which accepts a malformed list at start \
          and then retries forever: the collector looks healthy while no log reaches Kafka. The \
          collector's NetworkPolicy also opens exactly the brokers' ports, which a broker \
          without a port does not give.",
};

pub(super) fn check(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    let Some(logging) = &env.logging else {
        return;
    };
    if logging.enabled && logging.kafka.brokers.is_empty() {
        cx.error(
            RULE.code,
            path!["logging", "kafka", "brokers"].as_slice(),
            "logging is enabled with no Kafka broker".to_owned(),
            "no broker",
        )
        .help(
            "list the bootstrap brokers, e.g. `[\"kafka-bootstrap.kafka.svc.cluster.local:9092\"]`",
        );
    }
    for (i, b) in logging.kafka.brokers.iter().enumerate() {
        if broker(b).is_none() {
            cx.error(
                RULE.code,
                path!["logging", "kafka", "brokers", i].as_slice(),
                format!("Kafka broker `{b}` is not `host:port`"),
                "not host:port",
            )
            .help("write the broker as `host:port`, e.g. `kafka-0.kafka.svc.cluster.local:9092`");
        }
    }
}
