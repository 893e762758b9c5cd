//! The semantic rules, one per file. Each has a stable code (`DG01xx` model consistency, `DG02xx`
//! secrets, `DG03xx` production posture, `DG04xx` mistakes inherited from the seed) and What/Why docs.
//!
//! This module also holds what several rules share: where a workload of the plan is written in the
//! model, and small helpers to add help and secondary labels to a recorded diagnostic.

use super::{Check, Rule};
use crate::diagnostic::{Diagnostic, Label};
use crate::load::Seg;
use crate::model::{Environment, Tier};
pub(crate) use crate::plan::{Kind, Workload};
use crate::source::Span;

pub mod alert_receivers;
pub mod alert_routes;
pub mod alerts_resolve;
pub mod audit_deaap_resources;
pub mod audit_secrets;
pub mod autoscaling_range;
pub mod backup_commands;
pub mod backup_sources;
pub mod compose_platform;
pub mod consensus_writer;
pub mod cron_syntax;
pub mod data_volume;
pub mod dependencies_resolve;
pub mod env_names;
pub mod kafka_brokers;
pub mod logging_topics;
pub mod metric_exposers;
pub mod pinned_images;
pub mod pod_security_policy;
pub mod production_posture;
pub mod quantity_syntax;
pub mod quota_fits;
pub mod quota_namespaces;
pub mod references_resolve;
pub mod replicated_stores;
pub mod requests_within_limits;
pub mod secret_reference_syntax;
pub mod secrets;
pub mod sentinel_sets;
pub mod slo_measures;
pub mod unique_names;
pub mod unique_ports;
pub mod unique_routes;
pub mod validator_count;
pub mod value_syntax;
pub mod waiver_workloads;

/// The rules whose problems are found on the merged tree before the model is built, so they have
/// no check of their own here: literal secrets (the secret scan), quantities and schedules
/// (`validate::typed`, as the model parses them), a quota key that names no namespace, and
/// `PodSecurityPolicy` (the schema's unknown key, with the rule's explanation).
const FOUND_ON_THE_TREE: [&Rule; 5] = [
    &quantity_syntax::RULE,
    &cron_syntax::RULE,
    &pod_security_policy::RULE,
    &secrets::RULE,
    &quota_namespaces::RULE,
];

/// Every semantic rule's documentation, in code order: what `explain` and README show.
#[must_use]
pub fn all() -> Vec<&'static Rule> {
    let mut v: Vec<&'static Rule> = checks().iter().map(|c| c.rule).collect();
    v.extend(FOUND_ON_THE_TREE);
    v.sort_by_key(|r| r.code);
    v
}

/// The checks that run on the typed model, in code order: a new rule is its file plus one line here.
#[must_use]
pub fn checks() -> Vec<Check> {
    let check = |rule, run| Check { rule, run };
    let mut v = vec![
        check(&unique_names::RULE, unique_names::check),
        check(&unique_ports::RULE, unique_ports::check),
        check(&unique_routes::RULE, unique_routes::check),
        check(&autoscaling_range::RULE, autoscaling_range::check),
        check(&requests_within_limits::RULE, requests_within_limits::check),
        check(&validator_count::RULE, validator_count::check),
        check(&dependencies_resolve::RULE, dependencies_resolve::check),
        check(&alerts_resolve::RULE, alerts_resolve::check),
        check(&backup_sources::RULE, backup_sources::check),
        check(&consensus_writer::RULE, consensus_writer::check),
        check(&waiver_workloads::RULE, waiver_workloads::check),
        check(&metric_exposers::RULE, metric_exposers::check),
        check(
            &secret_reference_syntax::RULE,
            secret_reference_syntax::check,
        ),
        check(&pinned_images::RULE, pinned_images::check),
        check(&production_posture::RULE, production_posture::check),
        check(&quota_fits::RULE, quota_fits::check),
        check(&audit_secrets::RULE, audit_secrets::check),
        check(&audit_deaap_resources::RULE, audit_deaap_resources::check),
        check(&compose_platform::RULE, compose_platform::check),
        check(&env_names::RULE, env_names::check),
        check(&replicated_stores::RULE, replicated_stores::check),
        check(&backup_commands::RULE, backup_commands::check),
        check(&sentinel_sets::RULE, sentinel_sets::check),
        check(&slo_measures::RULE, slo_measures::check),
        check(&data_volume::RULE, data_volume::check),
        check(&logging_topics::RULE, logging_topics::check),
        check(&kafka_brokers::RULE, kafka_brokers::check),
        check(&value_syntax::RULE, value_syntax::check),
        check(&value_syntax::PRINTABLE, value_syntax::check_printable),
        check(&alert_receivers::RULE, alert_receivers::check),
        check(&alert_routes::RULE, alert_routes::check),
    ];
    v.sort_by_key(|c| c.rule.code);
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

/// Where a workload of the plan is written in the model: `services.<name>`, `storage.<name>`,
/// `blockchain`, `consensus` or `backup`.
pub(crate) fn model_path(w: &Workload<'_>) -> Vec<Seg> {
    match w.kind {
        Kind::Service => crate::path!["services", &w.name],
        Kind::Storage => crate::path!["storage", &w.name],
        Kind::Blockchain => crate::path!["blockchain"],
        Kind::Consensus => crate::path!["consensus"],
        Kind::Backup => crate::path!["backup"],
    }
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
