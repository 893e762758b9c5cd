//! DG0138 logging-topics: every workload of `[logging.topics]` is one whose logs the collector
//! tails, in one topic only, and every topic is a name Kafka accepts.

use super::DiagnosticExt;
use super::references_resolve::{target, unknown};
use crate::load::Seg;
use crate::model::topic_name_ok;
use crate::path;
use crate::validate::{Rule, RuleContext};
use std::collections::BTreeMap;

pub static RULE: Rule = Rule {
    code: "DG0138",
    name: "logging-topics",
    what: "Every workload listed in `[logging.topics]` is a declared service or storage backend \
           and is listed under one topic only; `logging.kafka.topic` and every key of \
           `[logging.topics]` are Kafka topic names (1 to 249 characters of letters, digits, \
           `.`, `_` and `-`; not `.` or `..`). A workload that is disabled in the environment is \
           a warning: its entry routes nothing.",
    why: "The collector routes a workload's logs to its topic by the workload's name: a \
          misspelt name leaves that workload's logs in the default topic (an audit trail mixed \
          into the application logs), a workload under two topics would go to whichever the \
          collector matches first, and Kafka refuses a topic with other characters only when \
          the collector first produces to it, so no log line of that topic arrives.",
};

pub(super) fn check(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    let Some(logging) = &env.logging else {
        return;
    };
    if !topic_name_ok(&logging.kafka.topic) {
        bad_topic(
            cx,
            path!["logging", "kafka", "topic"].as_slice(),
            &logging.kafka.topic,
        );
    }
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for (topic, workloads) in &logging.topics {
        if !topic_name_ok(topic) {
            bad_topic(
                cx,
                path!["logging", "topics", topic.as_str()].as_slice(),
                topic,
            );
        }
        for (i, workload) in workloads.iter().enumerate() {
            let at = path!["logging", "topics", topic.as_str(), i];
            if let Some(first) = seen.insert(workload, topic) {
                cx.error(
                    RULE.code,
                    at.as_slice(),
                    format!("workload `{workload}` is listed under `{first}` and `{topic}`"),
                    "second topic",
                )
                .help("list each workload under one topic");
            }
            match target(cx, workload) {
                None => unknown(
                    cx,
                    RULE.code,
                    at.as_slice(),
                    workload,
                    format!(
                        "`logging.topics.{topic}` names workload `{workload}`, which is not declared"
                    ),
                    "a workload",
                ),
                Some(false) if logging.enabled => {
                    cx.warning(
                        RULE.code,
                        at.as_slice(),
                        format!("workload `{workload}` is disabled here: its topic routes nothing"),
                        "disabled workload",
                    )
                    .help("remove it from the topic, or enable the workload");
                }
                Some(_) => {}
            }
        }
    }
}

fn bad_topic(cx: &mut RuleContext<'_>, at: &[Seg], topic: &str) {
    cx.error(
        RULE.code,
        at,
        format!("`{topic}` is not a Kafka topic name"),
        "not a topic name",
    )
    .help("1 to 249 characters of letters, digits, `.`, `_` and `-`");
}
