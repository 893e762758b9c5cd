//! The runbook sections that come from the service graph: the workloads an alert's failure
//! reaches (its dependents), the first checks (the generated health check, the logs to read) and
//! the troubleshooting steps for the document pipeline, consensus and storage where the alert's
//! workload or what it relies on belongs to them.

use crate::model::{Alert, BlockchainApi, Environment};
use crate::plan::{self, Health, Kind, Workload, alerting};
use crate::render::shell_word;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// The health check of the environment's output folder (the `ops` target writes it).
const HEALTH_CHECK: &str = "ops/health-check.sh";

/// The latency alerts each `up` alert holds back ([`alerting::Graph::inhibitions`]).
pub(super) type Inhibitions<'e> = BTreeMap<&'e str, BTreeSet<&'e str>>;

/// `## Dependents affected`, `## First checks` and `## Troubleshooting`, for the workload the alert
/// watches (an alert on no known workload gets the health check alone).
pub(super) fn sections(
    env: &Environment,
    graph: &alerting::Graph<'_>,
    inhibitions: &Inhibitions<'_>,
    name: &str,
    alert: &Alert,
) -> String {
    let plan = graph;
    let subject = graph.subject(alert);
    let mut s = String::new();
    let _ = writeln!(s, "\n## Dependents affected\n");
    match subject {
        Some(w) => dependents(&mut s, env, graph, inhibitions, name, w),
        None => {
            let _ = writeln!(
                s,
                "The alert watches no single workload of the environment; see the health check."
            );
        }
    }
    let _ = writeln!(s, "\n## First checks\n");
    first_checks(&mut s, env, subject, plan);
    if let Some(w) = subject {
        let steps = troubleshooting(env, w, plan);
        if !steps.is_empty() {
            let _ = writeln!(s, "\n## Troubleshooting\n");
            for (title, lines) in steps {
                let _ = writeln!(s, "### {title}\n");
                let _ = writeln!(s, "```sh\n{}\n```\n", lines.join("\n"));
            }
            s.pop();
        }
    }
    s
}

/// How many of an alert's dependents a runbook page names.
const DEPENDENTS_LISTED: usize = 20;

fn find<'p, 'a>(graph: &'p alerting::Graph<'a>, name: &str) -> Option<&'p Workload<'a>> {
    graph.find(name)
}

fn dependents(
    s: &mut String,
    env: &Environment,
    plan: &alerting::Graph<'_>,
    inhibitions: &Inhibitions<'_>,
    alert: &str,
    w: &Workload<'_>,
) {
    let (total, shown) = plan.dependents_sample(&w.name, DEPENDENTS_LISTED);
    if total == 0 {
        let _ = writeln!(
            s,
            "No workload depends on {} (`{}`): the failure stays there.",
            w.describe(),
            w.namespace
        );
        return;
    }
    let _ = writeln!(
        s,
        "The alert is about {} (`{}`). These workloads depend on it, directly or through \
         others (`depends_on`), and degrade with it:\n",
        w.describe(),
        w.namespace
    );
    for d in &shown {
        let how = if d.depends_on.contains(&w.name) {
            "directly"
        } else {
            "through others"
        };
        let _ = writeln!(s, "- `{}` (`{}`), {how}", d.name, d.namespace);
    }
    if total > shown.len() {
        let _ = writeln!(
            s,
            "- and {} more (the first {} by name are listed; `depends_on` in the environment \
             files names them all)",
            total - shown.len(),
            shown.len()
        );
    }
    let inhibited = env
        .monitoring
        .alertmanager
        .as_ref()
        .filter(|am| am.inhibit_dependents)
        .and_then(|_| inhibitions.get(alert));
    if let Some(targets) = inhibited {
        let list: Vec<String> = targets.iter().map(|t| format!("`{t}`")).collect();
        let _ = writeln!(
            s,
            "\nWhile this alert fires, Alertmanager holds back their latency alerts ({}): fix \
             this one first.",
            list.join(", ")
        );
    }
}

fn first_checks(
    s: &mut String,
    env: &Environment,
    subject: Option<&Workload<'_>>,
    plan: &alerting::Graph<'_>,
) {
    let _ = writeln!(
        s,
        "1. Run the environment's health check from its generated folder (`generated/{}/`), with \
         kubectl on the cluster's context: `bash {HEALTH_CHECK}`. It names every check that failed \
         (`FAIL  …`); `bash {HEALTH_CHECK} --dry-run` prints the commands it runs.",
        env.environment.name
    );
    let Some(w) = subject else {
        return;
    };
    let deps: Vec<&Workload<'_>> = w.depends_on.iter().filter_map(|d| find(plan, d)).collect();
    let mut named: Vec<String> = vec![format!("`{}`", w.name)];
    named.extend(deps.iter().map(|d| format!("`{}`", d.name)));
    let _ = writeln!(
        s,
        "1. In its output, the checks of {} must read `ok`: a failing dependency is the likely \
         cause.",
        named.join(", ")
    );
    let _ = writeln!(
        s,
        "1. Read the logs of {}: `{}`.",
        w.describe(),
        logs(w, None)
    );
    if w.in_mesh(env) {
        let _ = writeln!(
            s,
            "1. Refused or reset connections show in its Istio proxy's log: `{}`.",
            logs(w, Some(plan::ISTIO_PROXY))
        );
    }
    for d in deps {
        let _ = writeln!(
            s,
            "1. Read the logs of {}, which it depends on: `{}`.",
            d.describe(),
            logs(d, None)
        );
    }
}

/// `kubectl logs` of a workload's pods (its own container, or `container`).
fn logs(w: &Workload<'_>, container: Option<&str>) -> String {
    let c = container.unwrap_or(&w.name);
    format!(
        "kubectl --namespace {} logs --selector app.kubernetes.io/name={} --container {c} --tail=200 --prefix",
        w.namespace, w.name
    )
}

type Steps = Vec<(String, Vec<String>)>;

/// The troubleshooting groups that apply: the document pipeline when the workload handles the
/// documents (`data_access`), consensus when it is or relies on the blockchain, the validators or
/// the consensus writer, storage for the stores it is or relies on.
fn troubleshooting(env: &Environment, w: &Workload<'_>, plan: &alerting::Graph<'_>) -> Steps {
    // The workload and those it relies on, directly or through others, that the groups check.
    let involved = plan.checked_upstream(&w.name);
    let mut out = Steps::new();
    if w.kind == Kind::Service && w.data.is_some() {
        out.push(("Document processing".to_owned(), pipeline(w, plan)));
    }
    let writer = &env.consensus.writer_service;
    if involved
        .iter()
        .any(|x| matches!(x.kind, Kind::Blockchain | Kind::Consensus) || &x.name == writer)
    {
        out.push(("Consensus validation".to_owned(), consensus(env, plan)));
    }
    let stores: Vec<&&Workload<'_>> = involved
        .iter()
        .filter(|x| matches!(x.kind, Kind::Storage | Kind::Blockchain) && x.claims > 0)
        .collect();
    let checked: Vec<&&Workload<'_>> = involved
        .iter()
        .filter(|x| x.kind == Kind::Storage)
        .collect();
    if !stores.is_empty() || !checked.is_empty() {
        let mut lines = vec![
            "# The persistent volumes and their claims: Bound, on the expected storage class"
                .to_owned(),
            "kubectl get pv --output wide".to_owned(),
            "kubectl get storageclass".to_owned(),
        ];
        let namespaces: BTreeSet<&str> = stores.iter().map(|x| x.namespace.as_str()).collect();
        for ns in namespaces {
            lines.push(format!("kubectl --namespace {ns} get pvc"));
        }
        for x in checked {
            if x.cloudnative_pg() {
                lines.push(format!(
                    "# {} answers (its primary)",
                    x.describe().replace('`', "")
                ));
                lines.push(format!(
                    "kubectl --namespace {} exec service/{} --container postgres -- pg_isready",
                    x.namespace,
                    x.service_name()
                ));
            } else if let Health::Exec(cmd) = &x.health {
                lines.push(format!("# {} answers", x.describe().replace('`', "")));
                let words: Vec<String> = cmd.iter().map(|c| shell_word(c)).collect();
                lines.push(format!(
                    "kubectl --namespace {} exec service/{} -- {}",
                    x.namespace,
                    x.service_name(),
                    words.join(" ")
                ));
            }
        }
        out.push(("Storage".to_owned(), lines));
    }
    out
}

/// Document processing: the service's logs, the health of the services it calls, then a restart
/// of the services that process documents.
fn pipeline(w: &Workload<'_>, plan: &alerting::Graph<'_>) -> Vec<String> {
    let mut lines = vec![
        format!("# {}'s log, followed", w.name),
        format!(
            "kubectl --namespace {} logs --follow deployment/{}",
            w.namespace, w.name
        ),
    ];
    for d in w.depends_on.iter().filter_map(|d| find(plan, d)) {
        if d.kind == Kind::Service
            && let Health::Http(path) = &d.health
            && let Some(port) = d.ports.first()
        {
            lines.push(format!("# {} answers on its health path", d.name));
            lines.push(format!(
                "kubectl --namespace {} exec deployment/{} --container {} -- curl -fsS localhost:{}{}",
                d.namespace, d.name, d.name, port.number, path
            ));
        }
    }
    let restart: Vec<&Workload<'_>> = plan
        .plan()
        .iter()
        .filter(|x| x.kind == Kind::Service && x.data.is_some())
        .copied()
        .collect();
    if !restart.is_empty() {
        lines.push("# Restart the document pipeline (its queued work is retried)".to_owned());
        for x in restart {
            lines.push(format!(
                "kubectl --namespace {} rollout restart deployment/{}",
                x.namespace, x.name
            ));
        }
    }
    lines
}

/// Consensus: the validators' pods, the blockchain as the consensus writer reaches it, the
/// writer's log.
fn consensus(env: &Environment, plan: &alerting::Graph<'_>) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(v) = plan.plan().iter().find(|x| x.kind == Kind::Consensus) {
        lines.push("# The validators run and are ready".to_owned());
        lines.push(format!(
            "kubectl --namespace {} get pods --selector app.kubernetes.io/name={} --output wide",
            v.namespace, v.name
        ));
    }
    let writer = find(plan, &env.consensus.writer_service);
    let chain = plan.plan().iter().find(|x| x.kind == Kind::Blockchain);
    if let (Some(wr), Some(b)) = (writer, chain)
        && let Some(port) = b.ports.first()
    {
        lines.push(format!("# {} reaches the blockchain's RPC", wr.name));
        let url = format!(
            "http://{}.{}.svc.cluster.local:{}",
            b.service_name(),
            b.namespace,
            port.number
        );
        let call = match env.blockchain.api {
            BlockchainApi::Ethereum => format!(
                "curl -fsS -H 'Content-Type: application/json' --data \
                 '{{\"jsonrpc\":\"2.0\",\"method\":\"eth_blockNumber\",\"params\":[],\"id\":1}}' {url}"
            ),
            BlockchainApi::Http => format!("curl -fsS {url}{}", env.blockchain.health_path),
        };
        lines.push(format!(
            "kubectl --namespace {} exec deployment/{} --container {} -- {call}",
            wr.namespace, wr.name, wr.name
        ));
    }
    if let Some(wr) = writer {
        lines.push(format!("# {}'s log, followed", wr.name));
        lines.push(format!(
            "kubectl --namespace {} logs --follow deployment/{}",
            wr.namespace, wr.name
        ));
    }
    lines
}
