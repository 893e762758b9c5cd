//! `dr/README.md`: the disaster-recovery runbook of a Kubernetes environment, written from its
//! plan and backups. The restore order is the dependency order of the workloads (`depends_on`):
//! the stores first, each restored from its backup, then the blockchain nodes and the validators,
//! the application data, the services (each after what it depends on), and last the health
//! check. Every step names the generated file it applies and the command that waits for it.

use super::{HEALTH_CHECK, rank};
use crate::model::{Environment, Replication};
use crate::plan::{self, BLOCKCHAIN, Kind, Workload};
use crate::targets::Context;
use crate::targets::kit;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::fmt::Write as _;

/// The runbook's path below the environment's output folder.
pub(crate) const RUNBOOK: &str = "dr/README.md";

/// How long a restore Job may run (the Jobs' `activeDeadlineSeconds`).
const RESTORE_TIMEOUT: &str = "6h";
/// How long a workload may take to become ready.
const READY_TIMEOUT: &str = "15m";

/// The deployed workloads of `workloads` (as [`plan::workloads`] gives them) in restore order:
/// each after every deployed workload it depends on, and otherwise stores, blockchain nodes,
/// validators and services, each kind by name. Workloads in a dependency cycle (which Kubernetes
/// tolerates) come last, in that order too; the second value says whether there are any.
pub(crate) fn restore_order<'w, 'a>(
    workloads: &'w [Workload<'a>],
) -> (Vec<&'w Workload<'a>>, bool) {
    let mut left: Vec<&Workload<'a>> = workloads
        .iter()
        .filter(|w| w.deployed && w.kind != Kind::Backup)
        .collect();
    left.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.name.cmp(&b.name)));
    let (order, cycle) = first_ready(&left, |w| &w.name, |w| &w.depends_on);
    let mut slots: Vec<Option<&Workload<'a>>> = left.into_iter().map(Some).collect();
    let out = order.into_iter().filter_map(|i| slots[i].take()).collect();
    (out, cycle)
}

/// The positions of `items` in the order that takes, at each step, the first item whose
/// dependencies among the items' names have all been taken (a dependency on no item's name is
/// met); then the items in a dependency cycle, in the same order. The second value says whether
/// there are any.
fn first_ready<T>(
    items: &[T],
    name: impl Fn(&T) -> &String,
    depends_on: impl Fn(&T) -> &[String],
) -> (Vec<usize>, bool) {
    // Each item waits on how many of its dependencies are left, and is ready at none.
    let names: BTreeSet<&str> = items.iter().map(|w| name(w).as_str()).collect();
    let mut waiting = vec![0usize; items.len()];
    let mut dependents: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, w) in items.iter().enumerate() {
        let needs: BTreeSet<&str> = depends_on(w)
            .iter()
            .map(String::as_str)
            .filter(|d| names.contains(d))
            .collect();
        waiting[i] = needs.len();
        for d in needs {
            dependents.entry(d).or_default().push(i);
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..items.len())
        .filter(|&i| waiting[i] == 0)
        .map(Reverse)
        .collect();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut order = Vec::with_capacity(items.len());
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        let taken = name(&items[i]).as_str();
        if done.insert(taken) {
            for &j in dependents.get(taken).into_iter().flatten() {
                waiting[j] -= 1;
                if waiting[j] == 0 {
                    ready.push(Reverse(j));
                }
            }
        }
    }
    let cycle = order.len() < items.len();
    let mut placed = vec![false; items.len()];
    for &i in &order {
        placed[i] = true;
    }
    order.extend((0..items.len()).filter(|&i| !placed[i]));
    (order, cycle)
}

/// The generated file of a workload below `kubernetes/` (the kubernetes target's names).
fn manifest(w: &Workload<'_>) -> String {
    match w.kind {
        Kind::Storage => format!("kubernetes/storage-{}.yaml", w.name),
        Kind::Consensus => "kubernetes/validators.yaml".to_owned(),
        _ => format!("kubernetes/{}.yaml", w.name),
    }
}

/// A fenced shell block.
fn block(lines: &[String]) -> String {
    format!("```sh\n{}\n```\n\n", lines.join("\n"))
}

fn rollout(w: &Workload<'_>) -> String {
    if w.cloudnative_pg() {
        // The operator reports the Cluster ready once its primary and replicas are.
        return format!(
            "kubectl --namespace {} wait cluster.postgresql.cnpg.io/{} --for=condition=Ready --timeout={READY_TIMEOUT}",
            w.namespace, w.name
        );
    }
    let controller = if w.kind == Kind::Service {
        "deployment"
    } else {
        "statefulset"
    };
    format!(
        "kubectl --namespace {} rollout status {controller}/{} --timeout={READY_TIMEOUT}",
        w.namespace, w.name
    )
}

/// The database backups of `source`, by entry name.
fn backups_of<'a>(env: &'a Environment, source: &str) -> Vec<&'a str> {
    if !env.backup.enabled {
        return Vec::new();
    }
    env.backup
        .databases
        .iter()
        .filter(|(_, db)| db.source == source)
        .map(|(name, _)| name.as_str())
        .collect()
}

/// Whether the data volume has a backup and a restore.
fn data_restored(env: &Environment) -> bool {
    env.backup.enabled && env.data.is_some()
}

pub(crate) fn runbook(cx: &Context<'_>) -> String {
    let env = cx.env;
    let name = &env.environment.name;
    let b = &env.backup;
    let mut s = String::new();
    // Markdown has no comment line; an HTML comment is invisible when rendered.
    let header = crate::render::header(cx);
    let _ = writeln!(s, "<!-- {} -->", header.trim_start_matches("# ").trim_end());
    let _ = writeln!(s, "# Disaster recovery: {name}\n");
    let namespaces: Vec<String> = env
        .namespaces
        .iter()
        .map(|(_, n)| format!("`{n}`"))
        .collect();
    let _ = writeln!(
        s,
        "How to bring the environment `{name}` (namespaces {}) back on an empty cluster from its \
         backups in the bucket `{}`. Run every command from this folder's parent, the \
         environment's generated folder, with kubectl for the new cluster. Each step waits for the \
         previous one: the order is the dependency order of the workloads (`depends_on`).\n",
        namespaces.join(", "),
        b.bucket
    );
    recovery_point(env, &mut s);
    before(env, &mut s);

    let mut step = 0;
    let mut next = |title: &str, s: &mut String| {
        step += 1;
        let _ = writeln!(s, "### {step}. {title}\n");
    };
    s.push_str("## Steps\n\n");
    next("The namespaces, quotas and network policies", &mut s);
    let mut lines = vec![
        "kubectl apply --filename kubernetes/namespaces.yaml".to_owned(),
        "kubectl apply --filename kubernetes/crds.yaml".to_owned(),
    ];
    if !env.quotas.is_empty() {
        lines.push("kubectl apply --filename kubernetes/resource-quotas.yaml".to_owned());
    }
    if env.security.network_policies {
        lines.push("kubectl apply --filename kubernetes/network-policies.yaml".to_owned());
    }
    if env.data.is_some() {
        lines.push("kubectl apply --filename kubernetes/data.yaml".to_owned());
    }
    s.push_str(
        "The restore Jobs' pods need their namespace's network policies (they reach the bucket and \
         Vault through their backup job's policy) and fit in its quota.\n\n",
    );
    s.push_str(&block(&lines));

    let (order, cycle) = restore_order(cx.workloads());
    let mut data_done = !data_restored(env);
    for w in &order {
        if w.kind == Kind::Service && !data_done {
            data_done = true;
            data_step(env, &mut next, &mut s);
        }
        match w.kind {
            Kind::Storage => store_step(env, w, &mut next, &mut s),
            Kind::Blockchain => blockchain_step(env, w, &mut next, &mut s),
            _ => {
                let what = match w.kind {
                    Kind::Consensus => "The consensus validators".to_owned(),
                    _ => format!("Service `{}`", w.name),
                };
                next(&what, &mut s);
                if !w.depends_on.is_empty() {
                    let _ = writeln!(s, "After what it depends on: {}.\n", list(&w.depends_on));
                }
                s.push_str(&block(&[
                    format!("kubectl apply --filename {}", manifest(w)),
                    rollout(w),
                ]));
            }
        }
    }
    if !data_done {
        data_step(env, &mut next, &mut s);
    }
    if cycle {
        s.push_str(
            "Some workloads above depend on each other in a cycle: they come after everything \
             else, and each waits for the others to come up.\n\n",
        );
    }
    next("Everything else, and the backups", &mut s);
    let _ = writeln!(
        s,
        "Turn Argo CD's automated sync of the environment back on: it applies what is left (the \
         Istio routing, alert rules, admission policies and the backup CronJobs). Without Argo \
         CD, from the repository: `deaap-gen render environments/{} | kubectl apply --filename \
         -`. The backup CronJobs come last on purpose: a backup that ran before the restores \
         would store an empty archive as the newest.\n",
        cx.source_name
    );
    next("The health check", &mut s);
    let _ = writeln!(
        s,
        "Every check must pass; it names each one that failed.\n\n```sh\nbash {HEALTH_CHECK}\n```"
    );
    s
}

/// "`a`, `b` and `c`".
fn list(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => quoted.join(""),
    }
}

/// The backups' facts: what each holds, when it runs, how long archives are kept, where.
fn recovery_point(env: &Environment, s: &mut String) {
    let b = &env.backup;
    s.push_str("## What the backups hold\n\n");
    if !b.enabled {
        s.push_str(
            "Backups are off in this environment (`backup.enabled = false`): nothing can be \
             restored; the steps below bring the workloads up empty.\n\n",
        );
        return;
    }
    s.push_str("| backup | holds | schedule (UTC) | kept | archives |\n|---|---|---|---|---|\n");
    let days = b.retention_days;
    if let Some(d) = &env.data {
        let _ = writeln!(
            s,
            "| full backup `{}` | the data volume `{}` ({}) | `{}` | {days} days | `s3://{}/{}/<UTC time>.tar` |",
            b.name,
            b.data_claim,
            d.path,
            b.schedule,
            b.bucket,
            kit::backup_prefix(env, "data")
        );
    }
    for (name, db) in &b.databases {
        let (holds, archives) = if plan::backup_reads_volume(&db.source) {
            (
                "the first blockchain node's volume".to_owned(),
                format!(
                    "`s3://{}/{}/<UTC time>.tar`",
                    b.bucket,
                    kit::backup_prefix(env, BLOCKCHAIN)
                ),
            )
        } else {
            (
                format!("store `{}`", db.source),
                format!("`s3://{}/`, as its command writes them", b.bucket),
            )
        };
        let _ = writeln!(
            s,
            "| `{name}` | {holds} | `{}` | {days} days | {archives} |",
            db.schedule
        );
    }
    s.push_str(
        "\nA recovery brings back each backup's newest archive: what was written after its last \
         run is lost (with a daily schedule, up to a day). Archives older than the retention are \
         deleted by the backup that follows. Each restore Job gives up after 6 hours \
         (`activeDeadlineSeconds`); a restore Job reads `RESTORE_KEY` to restore an older archive \
         by name instead (`kubectl set env --local` on the file, or edit a copy).\n\n",
    );
}

/// What must be in place first.
fn before(env: &Environment, s: &mut String) {
    s.push_str("## Before you start\n\n");
    let mut items = Vec::new();
    if env.security.mesh.sidecar_injection {
        items.push(if env.security.mesh.cni {
            "Istio and its CNI node agent are installed".to_owned()
        } else {
            "Istio is installed".to_owned()
        });
    }
    if env.security.vault.enabled {
        items.push(format!(
            "Vault answers at `{}` with the role `{}`, and its agent injector runs: every restore \
             Job gets the bucket credentials from it",
            env.security.vault.address, env.security.vault.role
        ));
    }
    if env.security.opa.enabled {
        items.push(
            "Gatekeeper is installed (its constraints come with everything else, at the end)"
                .to_owned(),
        );
    }
    items.push(
        "Argo CD's automated sync of the environment's application is off (`argocd app set \
         <application> --sync-policy none`), so that nothing starts before what it depends on is \
         restored"
            .to_owned(),
    );
    for i in items {
        let _ = writeln!(s, "- {i}.");
    }
    s.push('\n');
}

/// A store: started, then filled from each of its backups.
fn store_step(
    env: &Environment,
    w: &Workload<'_>,
    next: &mut impl FnMut(&str, &mut String),
    s: &mut String,
) {
    next(&format!("Store `{}`", w.name), s);
    let backups = backups_of(env, &w.name);
    let mut lines = vec![
        format!("kubectl apply --filename {}", manifest(w)),
        rollout(w),
    ];
    if backups.is_empty() {
        s.push_str("It has no backup: it starts empty.\n\n");
        s.push_str(&block(&lines));
        return;
    }
    let file = kit::restore_file(&w.name);
    let _ = writeln!(
        s,
        "Started, then restored from its backup ({}) with `{file}`: what that file creates (Jobs, \
         or a recovery Cluster) is waited for.\n",
        list(&backups.iter().map(|b| (*b).to_owned()).collect::<Vec<_>>())
    );
    lines.push(format!("kubectl apply --filename {file}"));
    lines.push(format!(
        "kubectl get --filename {file} --output name | grep '^job' \\\n  | xargs -r kubectl --namespace {} wait --for=condition=complete --timeout={RESTORE_TIMEOUT}",
        w.namespace
    ));
    if env
        .storage
        .get(&w.name)
        .is_some_and(|st| st.replication == Replication::CloudnativePg)
    {
        lines.push(format!(
            "kubectl get --filename {file} --output name | grep '^cluster' \\\n  | xargs -r kubectl --namespace {} wait --for=condition=Ready --timeout={RESTORE_TIMEOUT}",
            w.namespace
        ));
    }
    s.push_str(&block(&lines));
}

/// The blockchain nodes: started, stopped, their volumes filled from the archive, started again.
fn blockchain_step(
    env: &Environment,
    w: &Workload<'_>,
    next: &mut impl FnMut(&str, &mut String),
    s: &mut String,
) {
    next("The blockchain nodes", s);
    let mut lines = vec![format!("kubectl apply --filename {}", manifest(w))];
    if backups_of(env, BLOCKCHAIN).is_empty() {
        s.push_str("They have no backup: they sync the chain from their peers.\n\n");
        lines.push(rollout(w));
        s.push_str(&block(&lines));
        return;
    }
    let file = kit::restore_file(BLOCKCHAIN);
    let ns = &w.namespace;
    let _ = writeln!(
        s,
        "Applying the StatefulSet creates the nodes' volumes; the nodes are stopped while \
         `{file}` replaces each volume's content with the newest archive, then started again.\n"
    );
    lines.push(format!(
        "kubectl --namespace {ns} scale statefulset/{} --replicas=0",
        w.name
    ));
    for i in 0..w.replicas {
        lines.push(format!(
            "kubectl --namespace {ns} wait --for=delete pod/{}-{i} --timeout={READY_TIMEOUT}",
            w.name
        ));
    }
    lines.push(format!("kubectl apply --filename {file}"));
    for i in 0..w.replicas {
        lines.push(format!(
            "kubectl --namespace {ns} wait --for=condition=complete job/restore-{BLOCKCHAIN}-{i} --timeout={RESTORE_TIMEOUT}"
        ));
    }
    lines.push(format!(
        "kubectl --namespace {ns} scale statefulset/{} --replicas={}",
        w.name, w.replicas
    ));
    lines.push(rollout(w));
    s.push_str(&block(&lines));
}

/// The application data volume, before the services that read it.
fn data_step(env: &Environment, next: &mut impl FnMut(&str, &mut String), s: &mut String) {
    let Some(d) = &env.data else { return };
    next("The application data", s);
    let file = kit::restore_file("data");
    let ns = env.namespace(d.namespace);
    let _ = writeln!(
        s,
        "`{file}` fills the claim `{}` with the newest archive of the full backup, before any \
         service mounts it (it refuses a volume that already holds data unless its \
         `RESTORE_OVERWRITE` is `true`).\n",
        env.backup.data_claim
    );
    s.push_str(&block(&[
        format!("kubectl apply --filename {file}"),
        format!(
            "kubectl --namespace {ns} wait --for=condition=complete job/restore-data --timeout={RESTORE_TIMEOUT}"
        ),
    ]));
}

#[cfg(test)]
mod tests {
    use super::first_ready;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// The order by its definition: at each step, scan for the first item whose dependencies
    /// among the names have all been taken.
    fn by_scanning(items: &[(String, Vec<String>)]) -> (Vec<usize>, bool) {
        let names: BTreeSet<&String> = items.iter().map(|(n, _)| n).collect();
        let mut left: Vec<usize> = (0..items.len()).collect();
        let mut done: BTreeSet<&String> = BTreeSet::new();
        let mut out = Vec::new();
        while let Some(p) = left.iter().position(|&i| {
            items[i]
                .1
                .iter()
                .all(|d| done.contains(d) || !names.contains(d))
        }) {
            let i = left.remove(p);
            done.insert(&items[i].0);
            out.push(i);
        }
        let cycle = !left.is_empty();
        out.extend(left);
        (out, cycle)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Names from a small alphabet, so that items share names, depend on themselves, on
        /// names no item has, twice on one name, and in cycles.
        #[test]
        fn the_restore_order_is_the_first_ready_at_each_step(
            items in prop::collection::vec(
                ("[a-h]", prop::collection::vec("[a-j]", 0..4)),
                0..24,
            )
        ) {
            let got = first_ready(&items, |(n, _)| n, |(_, d)| d);
            prop_assert_eq!(got, by_scanning(&items));
        }
    }

    #[test]
    fn a_chain_is_restored_from_its_root() {
        let items: Vec<(String, Vec<String>)> = (0..5)
            .map(|i| (format!("s{i}"), vec![format!("s{}", i + 1)]))
            .collect();
        assert_eq!(
            first_ready(&items, |(n, _)| n, |(_, d)| d),
            (vec![4, 3, 2, 1, 0], false)
        );
    }
}
