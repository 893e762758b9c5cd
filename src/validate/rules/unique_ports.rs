//! DG0102 unique-ports: on Docker Compose, no two deployed containers publish one host port.

use super::DiagnosticExt;
use crate::load::Seg;
use crate::model::PlatformKind;
use crate::path;
use crate::validate::{Rule, RuleContext};
use std::collections::BTreeMap;

pub static RULE: Rule = Rule {
    code: "DG0102",
    name: "unique-ports",
    what: "On `platform = \"compose\"`, no two enabled services, storage backends or blockchain \
           nodes share a `port`, since every port is published on the one host. On Kubernetes \
           each workload has its own pods and Service, so services may share a port.",
    why: "Compose publishes each port on the host, so the second container fails to start with \
          \"port is already allocated\".",
};

pub(super) fn check(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    if env.environment.platform != PlatformKind::Compose {
        return;
    }
    let mut users: Vec<(u16, String, Vec<Seg>)> = env
        .enabled_services()
        .map(|(n, s)| {
            (
                s.port,
                format!("service `{n}`"),
                path!["services", n, "port"],
            )
        })
        .collect();
    users.extend(env.enabled_storage().map(|(n, s)| {
        (
            s.port,
            format!("storage backend `{n}`"),
            path!["storage", n, "port"],
        )
    }));
    if env.blockchain.enabled {
        users.push((
            env.blockchain.port,
            "the blockchain nodes".to_owned(),
            path!["blockchain", "port"],
        ));
    }
    let mut first: BTreeMap<u16, (String, Vec<Seg>)> = BTreeMap::new();
    for (port, who, p) in users {
        match first.get(&port) {
            None => {
                first.insert(port, (who, p));
            }
            Some((owner, owner_path)) => {
                let other = cx.span(owner_path);
                let owner = owner.clone();
                cx.error(
                    RULE.code,
                    &p,
                    format!("{who} uses port {port} on the host, already used by {owner}"),
                    "port already in use",
                )
                .also(other, format!("{owner} uses it here"))
                .help("give each container its own port: Compose publishes every port on the one host");
            }
        }
    }
}
