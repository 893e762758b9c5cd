//! DG0130 replicated-stores: a store with more than one replica names how its replicas stay one
//! copy of the data, with a replication mode its engine has.

use super::DiagnosticExt;
use crate::model::{Replication, StorageKind};
use crate::path;
use crate::validate::{Rule, RuleContext};

pub static RULE: Rule = Rule {
    code: "DG0130",
    name: "replicated-stores",
    what: "A storage backend with `replicas` above 1 sets `replication`: `sentinel` for Redis \
           (a primary, replicas and Redis Sentinel) or `cloudnative-pg` for PostgreSQL (a \
           CloudNativePG `Cluster`); a mode belongs to its engine, and a vector database runs one \
           replica.",
    why: "Without replication, N replicas are N independent servers behind one Service: writes \
          land on whichever copy the connection hits, reads see a different copy, and a backup \
          dumps a random one. The data diverges silently, and no failover exists.",
};

pub(super) fn check(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    for (name, store) in env.storage.iter().filter(|(_, s)| s.enabled) {
        let fits = matches!(
            (store.kind, store.replication),
            (_, Replication::None)
                | (StorageKind::Redis, Replication::Sentinel)
                | (StorageKind::Postgresql, Replication::CloudnativePg)
        );
        let mode_for_kind = match store.kind {
            StorageKind::Redis => Some("sentinel"),
            StorageKind::Postgresql => Some("cloudnative-pg"),
            StorageKind::VectorDb => None,
        };
        if !fits {
            let d = cx.error(
                RULE.code,
                path!["storage", name, "replication"],
                format!(
                    "`{}` replication does not apply to store `{name}` ({})",
                    store.replication.as_str(),
                    kind_name(store.kind)
                ),
                "not this engine's replication",
            );
            match mode_for_kind {
                Some(mode) => d.help(format!(
                    "a {} store replicates with `replication = \"{mode}\"`",
                    kind_name(store.kind)
                )),
                None => d.help("a vector database has no replication mode here: run one replica"),
            };
        } else if store.replicas > 1 && store.replication == Replication::None {
            let d = cx.error(
                RULE.code,
                path!["storage", name, "replicas"],
                format!(
                    "store `{name}` runs {} replicas with no replication mode: they would be independent copies behind one Service",
                    store.replicas
                ),
                "replicated without replication",
            );
            match mode_for_kind {
                Some(mode) => d.help(format!(
                    "set `replication = \"{mode}\"` in [storage.{name}], or `replicas = 1`"
                )),
                None => {
                    d.help("a vector database has no replication mode here: set `replicas = 1`")
                }
            };
        }
    }
}

fn kind_name(kind: StorageKind) -> &'static str {
    match kind {
        StorageKind::Redis => "redis",
        StorageKind::Postgresql => "postgresql",
        StorageKind::VectorDb => "vector-db",
    }
}
