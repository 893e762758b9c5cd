//! The semantic rules, one per file. Each has a stable code (`DG01xx` model consistency, `DG02xx`
//! secrets, `DG03xx` production posture, `DG04xx` mistakes inherited from the seed) and What/Why docs.
//!
//! This module also holds what several rules share: the list of workloads an environment deploys,
//! and small helpers to add help and secondary labels to a recorded diagnostic.

use super::Rule;
use crate::diagnostic::{Diagnostic, Label};
use crate::load::Seg;
use crate::model::{Environment, Image, NamespaceKey, Resources, Tier};
use crate::source::Span;
use std::collections::BTreeMap;

pub mod alerts_resolve;
pub mod audit_secrets;
pub mod autoscaling_range;
pub mod backup_sources;
pub mod compose_platform;
pub mod consensus_writer;
pub mod cron_syntax;
pub mod dependencies_resolve;
pub mod env_names;
pub mod pinned_images;
pub mod pod_security_policy;
pub mod production_posture;
pub mod quantity_syntax;
pub mod quota_fits;
pub mod quota_namespaces;
pub mod references_resolve;
pub mod requests_within_limits;
pub mod secret_reference_syntax;
pub mod secrets;
pub mod unique_names;
pub mod unique_ports;
pub mod unique_routes;
pub mod validator_count;
pub mod value_syntax;
pub mod waiver_workloads;

/// Every semantic rule, in code order.
#[must_use]
pub fn all() -> Vec<&'static Rule> {
    let mut v: Vec<&'static Rule> = vec![
        &unique_names::RULE,
        &unique_ports::RULE,
        &unique_routes::RULE,
        &autoscaling_range::RULE,
        &requests_within_limits::RULE,
        &quantity_syntax::RULE,
        &cron_syntax::RULE,
        &validator_count::RULE,
        &secret_reference_syntax::RULE,
        &pinned_images::RULE,
        &production_posture::RULE,
        &quota_fits::RULE,
        &audit_secrets::RULE,
        &pod_security_policy::RULE,
        &compose_platform::RULE,
        &env_names::RULE,
        &secrets::RULE,
        &value_syntax::RULE,
        &value_syntax::PRINTABLE,
        &dependencies_resolve::RULE,
        &alerts_resolve::RULE,
        &quota_namespaces::RULE,
        &backup_sources::RULE,
        &consensus_writer::RULE,
        &waiver_workloads::RULE,
    ];
    v.sort_by_key(|r| r.code);
    v
}

/// Fluent additions to a diagnostic a rule has just recorded.
pub(crate) trait DiagnosticExt {
    /// Sets the `help:` line: how to fix it.
    fn help(&mut self, text: impl Into<String>) -> &mut Self;
    /// Adds a secondary label, e.g. the other half of a conflict.
    fn also(&mut self, span: Span, text: impl Into<String>) -> &mut Self;
}

impl DiagnosticExt for Diagnostic {
    fn help(&mut self, text: impl Into<String>) -> &mut Self {
        self.help = Some(text.into());
        self
    }

    fn also(&mut self, span: Span, text: impl Into<String>) -> &mut Self {
        self.labels.push(Label {
            span,
            text: text.into(),
        });
        self
    }
}

/// `base` followed by `rest`.
pub(crate) fn join(base: &[Seg], rest: &[&str]) -> Vec<Seg> {
    let mut p = base.to_vec();
    p.extend(rest.iter().map(|s| Seg::Key((*s).to_owned())));
    p
}

/// What kind of workload a [`Workload`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Service,
    Storage,
    Blockchain,
    Consensus,
}

/// One deployed thing with pods: a service, a storage backend, the blockchain nodes or the
/// consensus validators, seen the same way by the rules that count, compare or pin them.
pub(crate) struct Workload<'a> {
    pub kind: Kind,
    pub name: &'a str,
    /// Where it is written: `services.<name>`, `storage.<name>`, `blockchain`, `consensus`.
    pub path: Vec<Seg>,
    pub enabled: bool,
    pub namespace: NamespaceKey,
    /// Pods when it starts (the autoscaling minimum if it is higher).
    pub replicas: u32,
    /// Pods at the autoscaling maximum (`replicas` without autoscaling).
    pub max_replicas: u32,
    /// Its own resources; the environment's defaults apply when `None`.
    pub own_resources: Option<&'a Resources>,
    pub image: &'a Image,
    pub env: Option<&'a BTreeMap<String, String>>,
    pub secrets: Option<&'a BTreeMap<String, String>>,
    /// PersistentVolumeClaims it creates (one per replica when persistence is on).
    pub claims: u32,
}

impl Workload<'_> {
    /// `service `doc-ingester``, `the consensus validators`, for messages.
    pub fn describe(&self) -> String {
        match self.kind {
            Kind::Service => format!("service `{}`", self.name),
            Kind::Storage => format!("storage backend `{}`", self.name),
            Kind::Blockchain => "the blockchain nodes".to_owned(),
            Kind::Consensus => "the consensus validators".to_owned(),
        }
    }
}

/// Every workload of the environment, enabled or not, in a stable order.
pub(crate) fn workloads(env: &Environment) -> Vec<Workload<'_>> {
    let mut out = Vec::new();
    for (name, s) in &env.services {
        let scaling = s.autoscaling.as_ref().filter(|a| a.enabled);
        let replicas = scaling.map_or(s.replicas, |a| s.replicas.max(a.min_replicas));
        out.push(Workload {
            kind: Kind::Service,
            name,
            path: crate::path!["services", name],
            enabled: s.enabled,
            namespace: s.namespace,
            replicas,
            max_replicas: scaling.map_or(replicas, |a| a.max_replicas.max(replicas)),
            own_resources: s.resources.as_ref(),
            image: &s.image,
            env: Some(&s.env),
            secrets: Some(&s.secrets),
            claims: 0,
        });
    }
    for (name, s) in &env.storage {
        let persistent = s.persistence.as_ref().is_some_and(|p| p.enabled);
        out.push(Workload {
            kind: Kind::Storage,
            name,
            path: crate::path!["storage", name],
            enabled: s.enabled,
            namespace: s.namespace,
            replicas: s.replicas,
            max_replicas: s.replicas,
            own_resources: s.resources.as_ref(),
            image: &s.image,
            env: Some(&s.env),
            secrets: Some(&s.secrets),
            claims: if persistent { s.replicas } else { 0 },
        });
    }
    let b = &env.blockchain;
    out.push(Workload {
        kind: Kind::Blockchain,
        name: "blockchain",
        path: crate::path!["blockchain"],
        enabled: b.enabled,
        namespace: NamespaceKey::Blockchain,
        replicas: b.replicas,
        max_replicas: b.replicas,
        own_resources: b.resources.as_ref(),
        image: &b.image,
        env: None,
        secrets: None,
        claims: if b.persistence.enabled { b.replicas } else { 0 },
    });
    let c = &env.consensus;
    out.push(Workload {
        kind: Kind::Consensus,
        name: "bu-validator",
        path: crate::path!["consensus"],
        enabled: c.validators > 0,
        namespace: NamespaceKey::Blockchain,
        replicas: c.validators,
        max_replicas: c.validators,
        own_resources: c.resources.as_ref(),
        image: &c.image,
        env: None,
        secrets: None,
        claims: 0,
    });
    out
}

/// Whether the environment is the production tier.
pub(crate) fn is_production(env: &Environment) -> bool {
    env.environment.tier == Tier::Production
}

/// A DNS-1123 label: lower-case alphanumerics and `-`, starting and ending alphanumeric, ≤ 63.
pub(crate) fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A Prometheus metric or label name: `[a-zA-Z_:][a-zA-Z0-9_:]*` (labels without `:`).
pub(crate) fn is_prom_name(s: &str, colon: bool) -> bool {
    let ok = |c: char| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':');
    s.chars()
        .next()
        .is_some_and(|c| !c.is_ascii_digit() && ok(c))
        && s.chars().all(ok)
}
