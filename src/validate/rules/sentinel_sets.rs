//! DG0134 sentinel-sets: a Redis replicated with Sentinel can fail over, and its clients find the
//! primary the way the platform tells them.

use super::DiagnosticExt;
use crate::model::{Replication, StorageKind};
use crate::path;
use crate::plan;
use crate::validate::{Rule, RuleContext};

pub static RULE: Rule = Rule {
    code: "DG0134",
    name: "sentinel-sets",
    what: "A Redis store with `replication = \"sentinel\"` runs at least 3 replicas. A service \
           that depends on it declares neither the variables deaap-gen gives it \
           (`<STORE>_SENTINELS`, `<STORE>_MASTER_NAME`) nor an address of the store's own \
           Service (`<store>.<namespace>.svc…`, `//<store>:`), which a Sentinel set does not have.",
    why: "A majority of the sentinels must agree before a replica is promoted: with 2 pods, losing \
          one leaves no majority, and the primary also stops taking writes without its replica, so \
          the set is less available than one server. A client configured with a single address \
          keeps writing to a server that may no longer be the primary, or fails to resolve a \
          Service that is not there.",
};

pub(super) fn check(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    let sets = env.storage.iter().filter(|(_, s)| {
        s.enabled && s.kind == StorageKind::Redis && s.replication == Replication::Sentinel
    });
    for (store, s) in sets {
        if s.replicas < 3 {
            cx.error(
                RULE.code,
                path!["storage", store, "replicas"],
                format!(
                    "Sentinel set `{store}` runs {} replica(s): it cannot fail over when one pod is lost",
                    s.replicas
                ),
                "too few to fail over",
            )
            .help("run `replicas = 3` or more (an odd number), or a single server with `replication = \"none\"`");
        }
        let namespace = env.namespace(s.namespace);
        let given = plan::client_env(env, store);
        let own_service = [
            format!("{store}.{namespace}.svc"),
            format!("{store}.{namespace}:"),
            format!("//{store}:"),
            format!("//{store}/"),
        ];
        for (name, service) in &env.services {
            if !service.enabled || !service.depends_on.iter().any(|d| d == store) {
                continue;
            }
            for (var, value) in &service.env {
                let p = path!["services", name, "env", var];
                if given.contains_key(var) {
                    cx.error(
                        RULE.code,
                        &p,
                        format!("`{var}` of service `{name}` is set by deaap-gen for Sentinel set `{store}`"),
                        "set by deaap-gen",
                    )
                    .help(format!("remove it: deaap-gen gives it `{}`", given[var]));
                } else if own_service.iter().any(|a| value.contains(a.as_str())) {
                    let names: Vec<&str> = given.keys().map(String::as_str).collect();
                    cx.error(
                        RULE.code,
                        &p,
                        format!(
                            "`{var}` of service `{name}` addresses `{store}` as one server, but `{store}` is a Sentinel set with no such Service"
                        ),
                        "no such address",
                    )
                    .help(format!(
                        "remove it: the service asks the sentinels for the primary with {}, which deaap-gen sets",
                        names.join(" and ")
                    ));
                }
            }
        }
    }
}
