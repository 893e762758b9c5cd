//! DG0140 data-volume: the application data volume exists where its users run, can be shared as
//! they share it, is the directory Falco watches, and the blockchain backup has a volume to read.

use super::{DiagnosticExt, Kind};
use crate::model::{AccessMode, FalcoRules};
use crate::path;
use crate::plan::{BLOCKCHAIN, backup_reads_volume};
use crate::validate::{Rule, RuleContext};

pub static RULE: Rule = Rule {
    code: "DG0140",
    name: "data-volume",
    what: "On Kubernetes: a deployed service with `data_access = true` needs `[data]`, the volume \
           deaap-gen creates as the claim `backup.data_claim`, and runs in `data.namespace`; a \
           `ReadWriteOnce` data volume has one pod using it (the data services at their \
           autoscaling maximum and the full backup count); Falco's `data_path` is `data.path` \
           when the unauthorized-data-access rule is on; a backup of `blockchain` needs the nodes' \
           persistence.",
    why: "A pod mounts only a claim of its own namespace, and a claim nothing creates leaves its \
          pods Pending. A `ReadWriteOnce` volume attaches to one node: the second pod on another \
          node never starts (Multi-Attach error), typically when the autoscaler adds it under load \
          or when the nightly backup runs. Falco watching another directory than the mounted one \
          never fires. Without persistence the nodes keep their state in a scratch volume no \
          backup can read.",
};

pub(super) fn check(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    if !env.is_kubernetes() {
        return;
    }
    let ws = cx.workloads;
    let data_services: Vec<_> = ws
        .iter()
        .filter(|w| {
            w.kind == Kind::Service
                && w.deployed
                && env.services.get(&w.name).is_some_and(|s| s.data_access)
        })
        .collect();
    let claim = &env.backup.data_claim;
    match &env.data {
        None => {
            for w in &data_services {
                cx.error(
                    RULE.code,
                    path!["services", &w.name, "data_access"],
                    format!(
                        "service `{}` reads the application data, but no `[data]` volume is declared: nothing would create the claim `{claim}`",
                        w.name
                    ),
                    "no data volume",
                )
                .help("add a `[data]` table with the volume's `size` (and `storage_class`, `access_mode`)");
            }
        }
        Some(d) => {
            let ns = env.namespace(d.namespace);
            for w in data_services
                .iter()
                .filter(|w| w.namespace_key != d.namespace)
            {
                cx.error(
                    RULE.code,
                    path!["services", &w.name, "namespace"],
                    format!(
                        "service `{}` runs in `{}`, but the data claim `{claim}` is in `{ns}`: a pod mounts only claims of its own namespace",
                        w.name, w.namespace
                    ),
                    "not the data namespace",
                )
                .help(format!(
                    "run the data services in `{}` (`data.namespace`), or set `data.namespace = \"{}\"`",
                    d.namespace.as_str(),
                    w.namespace_key.as_str()
                ));
            }
            let backup = u32::from(env.backup.enabled);
            let pods: u32 = data_services.iter().map(|w| w.max_replicas).sum::<u32>() + backup;
            if d.access_mode == AccessMode::ReadWriteOnce && pods > 1 {
                let users: Vec<String> = data_services
                    .iter()
                    .map(|w| format!("`{}` up to {}", w.name, w.max_replicas))
                    .chain((backup > 0).then(|| "the full backup".to_owned()))
                    .collect();
                cx.error(
                    RULE.code,
                    path!["data", "access_mode"],
                    format!(
                        "the data volume is ReadWriteOnce, but {pods} pods mount it ({}): those on another node than the first never start",
                        users.join(", ")
                    ),
                    "one node only",
                )
                .help("set `access_mode = \"ReadWriteMany\"` with a storage class that shares volumes between nodes (NFS, CephFS, a cloud file store)");
            }
            let falco = &env.security.falco;
            let watched = |f: &FalcoRules| f.unauthorized_data_access;
            if falco.enabled
                && watched(&falco.rules)
                && falco.data_path.trim_end_matches('/') != d.path.trim_end_matches('/')
            {
                cx.error(
                    RULE.code,
                    path!["security", "falco", "data_path"],
                    format!(
                        "Falco watches `{}`, but the data volume is mounted at `{}`: the unauthorized-data-access rule would never fire",
                        falco.data_path, d.path
                    ),
                    "not the mounted directory",
                )
                .help(format!("set `data_path = \"{}\"`", d.path));
            }
        }
    }
    if env.backup.enabled && env.blockchain.enabled && !env.blockchain.persistence.enabled {
        for (name, db) in &env.backup.databases {
            if db.source == BLOCKCHAIN && backup_reads_volume(&db.source) {
                cx.error(
                    RULE.code,
                    path!["backup", "databases", name, "source"],
                    format!(
                        "database backup `{name}` archives the blockchain nodes' volume, but their persistence is off: their state is in a scratch volume"
                    ),
                    "nothing to archive",
                )
                .help("set `[blockchain] persistence = { enabled = true, size = \"...\" }`, or remove this backup");
            }
        }
    }
}
