//! DG0102 unique-ports: no two deployed services listen on one port.

use super::DiagnosticExt;
use crate::load::Seg;
use crate::model::PlatformKind;
use crate::path;
use crate::validate::{Rule, RuleContext};
use std::collections::BTreeMap;

pub static RULE: Rule = Rule {
    code: "DG0102",
    name: "unique-ports",
    what: "No two enabled services share a `port`. On `platform = \"compose\"` the enabled storage \
           backends and the blockchain nodes take part too, since every port is published on the \
           one host.",
    why: "Compose publishes each port on the host, so the second container fails to start with \
          \"port is already allocated\". On Kubernetes the gateway, the network policies and the \
          health checks identify a service by its port; two services on one port make the seed's \
          `:8080/health` mix-up easy to repeat.",
};

pub(super) fn check(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    let compose = env.environment.platform == PlatformKind::Compose;
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
    if compose {
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
                let published = if compose { " on the host" } else { "" };
                cx.error(
                    RULE.code,
                    &p,
                    format!("{who} uses port {port}{published}, already used by {owner}"),
                    "port already in use",
                )
                .also(other, format!("{owner} uses it here"))
                .help("give each service its own port; the Kubernetes Service and the gateway route follow it");
            }
        }
    }
}
