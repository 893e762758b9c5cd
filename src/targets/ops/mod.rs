//! The `ops` target: the operations scripts of a Kubernetes environment, written from its plan
//! (`ops/health-check.sh`, `ops/scale-services.sh`), and its disaster-recovery runbook
//! (`dr/README.md`, see [`dr`]).
//!
//! The scripts are bash, run with `kubectl` against the cluster of the current context. Their
//! fixed parts live in `templates/ops/`; what comes from the model (namespaces, Service names and
//! ports, health paths, readiness commands, autoscalers and quota ceilings) is written here, every
//! model string quoted as one shell word.

mod dr;

use crate::model::{BlockchainApi, Environment, StorageKind};
use crate::plan::{self, Health, Kind, Workload};
use crate::render::{self, shell_word};
use crate::targets::{Artifact, Context, Target, TargetError};
use std::fmt::Write as _;

pub(super) struct Ops;

pub(super) static TARGET: Ops = Ops;

const NAME: &str = "ops";

/// The health check's path below the environment's output folder.
pub(crate) const HEALTH_CHECK: &str = "ops/health-check.sh";
/// The scaling script's path.
pub(crate) const SCALE_SERVICES: &str = "ops/scale-services.sh";

/// Qdrant's readiness endpoint: 200 once its collections are loaded.
const VECTOR_DB_READY: &str = "/readyz";

/// An Ethereum JSON-RPC call that answers with the head block while the node serves the chain.
const ETH_BLOCK_NUMBER: &str = r#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}"#;

impl Target for Ops {
    fn name(&self) -> &'static str {
        NAME
    }

    fn applies(&self, env: &Environment) -> bool {
        env.is_kubernetes()
    }

    fn generate(&self, cx: &Context<'_>) -> Result<Vec<Artifact>, TargetError> {
        Ok(vec![
            Artifact::file(NAME, HEALTH_CHECK, health_check(cx).into_bytes()),
            Artifact::file(NAME, SCALE_SERVICES, scale_services(cx).into_bytes()),
            Artifact::file(NAME, dr::RUNBOOK, dr::runbook(cx).into_bytes()),
        ])
    }
}

/// The first lines of a script: the interpreter, the generated header, what it does.
fn opening(cx: &Context<'_>, about: &str) -> String {
    let mut s = String::from("#!/usr/bin/env bash\n");
    s.push_str(&render::header(cx));
    s.push_str("#\n");
    for line in about.lines() {
        if line.is_empty() {
            s.push_str("#\n");
        } else {
            let _ = writeln!(s, "# {line}");
        }
    }
    s.push_str("set -euo pipefail\n\n");
    s
}

/// A `usage` function printing `text`.
fn usage(text: &str) -> String {
    format!("usage() {{\n  cat <<'USAGE'\n{text}USAGE\n}}\n\n")
}

/// The shell words of a command.
fn words<S: AsRef<str>>(args: &[S]) -> String {
    args.iter()
        .map(|a| shell_word(a.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The workloads in the order the checks run and recovery starts them: stores, the blockchain
/// nodes, the validators, then the services.
fn rank(w: &Workload<'_>) -> u8 {
    match w.kind {
        Kind::Storage => 0,
        Kind::Blockchain => 1,
        Kind::Consensus => 2,
        Kind::Service => 3,
        Kind::Backup => 4,
    }
}

/// The check of one workload, as a line of the script.
fn check(env: &Environment, w: &Workload<'_>) -> Option<String> {
    let port = w.ports.first()?.number.to_string();
    let service = w.service_name();
    let name = w.describe().replace('`', "");
    let http = |path: &str| {
        format!(
            "http_check {}\n",
            words(&[&name, &w.namespace, &service, &port, path])
        )
    };
    match (&w.kind, &w.health) {
        (Kind::Blockchain, _) => Some(match env.blockchain.api {
            BlockchainApi::Ethereum => format!(
                "http_check {}\n",
                words(&[
                    "blockchain RPC (eth_blockNumber)",
                    &w.namespace,
                    &service,
                    &port,
                    "/",
                    ETH_BLOCK_NUMBER,
                    "\"result\"",
                ])
            ),
            BlockchainApi::Http => http(&env.blockchain.health_path),
        }),
        (_, Health::Exec(cmd)) => Some(format!(
            "exec_check {} -- {}\n",
            words(&[&name, &w.namespace, &service, &w.name]),
            words(cmd)
        )),
        (_, Health::Http(path)) => Some(http(path)),
        // CloudNativePG runs its own probes; the check asks the primary (`<name>-rw`) directly.
        (Kind::Storage, _) if w.cloudnative_pg() => Some(format!(
            "exec_check {} -- {}\n",
            words(&[&name, &w.namespace, &service, "postgres"]),
            words(&["pg_isready", "-h", "127.0.0.1", "-p", &port])
        )),
        (Kind::Storage, _)
            if env
                .storage
                .get(&w.name)
                .is_some_and(|s| s.kind == StorageKind::VectorDb) =>
        {
            Some(http(VECTOR_DB_READY))
        }
        _ => None,
    }
}

/// `ops/health-check.sh`.
fn health_check(cx: &Context<'_>) -> String {
    let env = cx.env;
    let mut ws: Vec<&Workload<'_>> = cx.deployed().collect();
    ws.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.name.cmp(&b.name)));
    let lines: Vec<String> = ws.iter().filter_map(|w| check(env, w)).collect();
    let namespaces: Vec<&str> = env
        .namespaces
        .iter()
        .map(|(_, n)| n)
        .filter(|n| ws.iter().any(|w| w.namespace == *n))
        .collect();
    let mut s = opening(
        cx,
        &format!(
            "The health of the DEAAP environment `{}`: every pod of its namespaces runs, every service\n\
             answers on its health path through its Service, the blockchain nodes answer on their RPC\n\
             port, and each store is ready. Every check runs; the script names each one that failed and\n\
             then exits 1. Needs kubectl, for the cluster of the current context, and curl.",
            env.environment.name
        ),
    );
    let mut text = String::from(
        "Usage: health-check.sh [--dry-run]\n\n\
         Checks, and exits 1 naming every check that failed:\n",
    );
    for ns in &namespaces {
        let _ = writeln!(text, "  pods of {ns}");
    }
    for w in &ws {
        if check(env, w).is_some() {
            let _ = writeln!(
                text,
                "  {} ({}/{})",
                w.describe().replace('`', ""),
                w.namespace,
                w.service_name()
            );
        }
    }
    text.push_str(
        "\nOptions:\n  --dry-run   print the kubectl and curl commands of each check, run nothing\n  \
         -h, --help  this text\n\nHEALTH_CHECK_TIMEOUT (seconds, default 10) bounds each check.\n",
    );
    s.push_str(&usage(&text));
    s.push_str(include_str!("../../../templates/ops/health-check.sh"));
    s.push('\n');
    for ns in namespaces {
        let _ = writeln!(s, "pods_check {}", shell_word(ns));
    }
    for line in lines {
        s.push_str(&line);
    }
    s.push_str(include_str!(
        "../../../templates/ops/health-check-report.sh"
    ));
    s
}

/// `ops/scale-services.sh`.
fn scale_services(cx: &Context<'_>) -> String {
    let env = cx.env;
    let all = cx.workloads();
    let services: Vec<&Workload<'_>> = all
        .iter()
        .filter(|w| w.kind == Kind::Service && w.deployed)
        .collect();
    let ceilings = plan::quota::ceilings(env, all);
    let mut s = opening(
        cx,
        &format!(
            "Changes the autoscaling range of a service of the DEAAP environment `{}`: the bounds of its\n\
             HorizontalPodAutoscaler, never the replicas of its Deployment (the autoscaler owns them). A\n\
             service without an autoscaler runs the fixed replica count of the environment file and is\n\
             refused, and so is a maximum the namespace's ResourceQuota cannot hold (the ceilings below\n\
             are computed from the model). Argo CD puts the model's range back on its next sync: make a\n\
             lasting change in the environment file.",
            env.environment.name
        ),
    );
    let mut text = String::from(
        "Usage: scale-services.sh [--dry-run] SERVICE MIN MAX\n\n\
         Sets the HorizontalPodAutoscaler of SERVICE to MIN..MAX replicas.\n\n\
         Services (namespace, autoscaling range in the model, most replicas the quota holds):\n",
    );
    let mut facts = String::from(
        "# facts SERVICE: sets NAMESPACE, HPA (its HorizontalPodAutoscaler; empty without one) and\n\
         # CEILING (the most replicas its namespace's quota holds; empty without a quota).\n\
         facts() {\n  case \"$1\" in\n",
    );
    for w in &services {
        let autoscaled = env
            .services
            .get(&w.name)
            .and_then(|s| s.autoscaling.as_ref())
            .is_some_and(|a| a.enabled);
        let ceiling = ceilings.get(&w.name).copied();
        let range = if autoscaled {
            format!("{}-{}", w.replicas, w.max_replicas)
        } else {
            format!("fixed at {}", w.replicas)
        };
        let most = ceiling.map_or_else(|| "no quota".to_owned(), |c| c.to_string());
        let _ = writeln!(
            text,
            "  {:<24} {:<20} {:<14} {most}",
            w.name, w.namespace, range
        );
        let _ = writeln!(
            facts,
            "    {}) NAMESPACE={} HPA={} CEILING={} ;;",
            shell_word(&w.name),
            shell_word(&w.namespace),
            if autoscaled {
                shell_word(&w.name)
            } else {
                "''".to_owned()
            },
            ceiling.map_or_else(|| "''".to_owned(), |c| c.to_string()),
        );
    }
    facts.push_str("    *) return 1 ;;\n  esac\n}\n\n");
    text.push_str(
        "\nOptions:\n  --dry-run   print the kubectl command, change nothing\n  \
         -h, --help  this text\n",
    );
    s.push_str(&usage(&text));
    let names: Vec<&str> = services.iter().map(|w| w.name.as_str()).collect();
    let _ = writeln!(s, "SERVICES={}", shell_word(&names.join(" ")));
    s.push_str(&facts);
    s.push_str(include_str!("../../../templates/ops/scale-services.sh"));
    s
}

#[cfg(test)]
mod tests;
