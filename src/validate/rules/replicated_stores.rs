//! DG0130 replicated-stores: a store with more than one replica names how its replicas stay one
//! copy of the data, with a replication mode its engine has; a CloudNativePG store fits what the
//! operator runs (its ports, a persistent volume).

use super::DiagnosticExt;
use crate::model::{Replication, StorageBackend, StorageKind};
use crate::path;
use crate::plan::postgres;
use crate::validate::{Rule, RuleContext};

pub static RULE: Rule = Rule {
    code: "DG0130",
    name: "replicated-stores",
    what: "A storage backend with `replicas` above 1 sets `replication`: `sentinel` for Redis \
           (a primary, replicas and Redis Sentinel) or `cloudnative-pg` for PostgreSQL (a \
           CloudNativePG `Cluster`); a mode belongs to its engine, and a vector database runs one \
           replica. A `cloudnative-pg` store persists its data and keeps the operator's ports \
           (PostgreSQL on 5432, metrics on 9187).",
    why: "Without replication, N replicas are N independent servers behind one Service: writes \
          land on whichever copy the connection hits, reads see a different copy, and a backup \
          dumps a random one. The data diverges silently, and no failover exists. The \
          CloudNativePG operator serves on fixed ports and needs a volume per instance: another \
          port would be a Service and policies for a port nothing listens on.",
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
        } else if postgres::cloudnative_pg(store) {
            operated(cx, name, store);
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

/// What a CloudNativePG store cannot change: the operator's ports, and a volume per instance.
fn operated(cx: &mut RuleContext<'_>, name: &str, store: &StorageBackend) {
    let fixed = [
        (
            "port",
            Some(store.port),
            postgres::POSTGRES_PORT,
            "PostgreSQL",
        ),
        (
            "metrics",
            store.metrics.port,
            postgres::METRICS_PORT,
            "its metrics exporter",
        ),
    ];
    for (key, set, fixed, what) in fixed {
        if let Some(port) = set.filter(|p| *p != fixed) {
            let p = if key == "port" {
                path!["storage", name, "port"]
            } else {
                path!["storage", name, "metrics", "port"]
            };
            cx.error(
                RULE.code,
                p,
                format!(
                    "store `{name}` runs on CloudNativePG, whose instances serve {what} on {fixed}, not {port}"
                ),
                "not the operator's port",
            )
            .help(format!("set it to {fixed}"));
        }
    }
    if !store.persistence.as_ref().is_some_and(|p| p.enabled) {
        cx.error(
            RULE.code,
            path!["storage", name, "replication"],
            format!(
                "store `{name}` runs on CloudNativePG, which keeps each instance's data on a volume of its own, but it has no persistence"
            ),
            "needs a volume",
        )
        .help(format!(
            "set `persistence = {{ size = \"…\" }}` in [storage.{name}]"
        ));
    }
}

fn kind_name(kind: StorageKind) -> &'static str {
    match kind {
        StorageKind::Redis => "redis",
        StorageKind::Postgresql => "postgresql",
        StorageKind::VectorDb => "vector-db",
    }
}
