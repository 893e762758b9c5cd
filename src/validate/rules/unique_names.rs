//! DG0101 unique-names: every name that becomes a Kubernetes object name is valid and unique.

use super::{DiagnosticExt, is_dns_label};
use crate::path;
use crate::validate::{Rule, RuleContext};

pub static RULE: Rule = Rule {
    code: "DG0101",
    name: "unique-names",
    what: "Service and storage names are unique across `services` and `storage`, are DNS-1035 labels \
           (lower-case letters, digits and `-`, starting with a letter, at most 63 characters; a \
           service's Kubernetes Service `<name>-service` must fit too, so at most 55), and are not \
           `blockchain`, which `depends_on` and backups use for the blockchain nodes. The \
           environment name and the four namespace names are DNS-1123 labels.",
    why: "These names become Deployment, Service, NetworkPolicy and Compose service names and DNS \
          host names. The API server refuses an invalid name only when the manifest is applied, \
          after the rest of the release went out; two workloads with one name overwrite each \
          other's objects silently.",
};

const LABEL_HELP: &str = "use lower-case letters, digits and `-`, starting with a letter and ending with a letter or digit";

pub(super) fn check(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    let name = &env.environment.name;
    if !is_dns_label(name) {
        cx.error(
            RULE.code,
            path!["environment", "name"],
            format!("environment name `{name}` is not a DNS-1123 label"),
            "not a valid name",
        )
        .help(format!(
            "it names the output folder and the `deaap.io/environment` label; {LABEL_HELP}, at most 63 characters"
        ));
    }
    for (key, ns) in env.namespaces.iter() {
        if !is_dns_label(ns) {
            cx.error(
                RULE.code,
                path!["namespaces", key.as_str()],
                format!("namespace name `{ns}` is not a DNS-1123 label"),
                "not a valid namespace name",
            )
            .help(format!("{LABEL_HELP}, at most 63 characters"));
        }
    }
    for name in env.services.keys() {
        let p = path!["services", name];
        check_workload_name(cx, &p, name, "service", 63 - "-service".len());
        if let Some(first) = env.storage.keys().find(|s| *s == name) {
            let other = cx.key_span(path!["storage", first]);
            cx.key_error(
                RULE.code,
                &p,
                format!("`{name}` is both a service and a storage backend"),
                "service declared here",
            )
            .also(other, "storage backend with the same name")
            .help("rename one of them: they share Deployment, Service and Compose service names");
        }
    }
    for name in env.storage.keys() {
        check_workload_name(
            cx,
            path!["storage", name].as_slice(),
            name,
            "storage backend",
            63,
        );
    }
}

fn check_workload_name(
    cx: &mut RuleContext<'_>,
    p: &[crate::load::Seg],
    name: &str,
    what: &str,
    max: usize,
) {
    if name == "blockchain" {
        cx.key_error(
            RULE.code,
            p,
            format!("a {what} may not be named `blockchain`"),
            "reserved name",
        )
        .help("`blockchain` in `depends_on` and `backup.databases.*.source` means the blockchain nodes; choose another name");
        return;
    }
    let starts_with_letter = name.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    if !is_dns_label(name) || !starts_with_letter {
        cx.key_error(
            RULE.code,
            p,
            format!("{what} name `{name}` is not a DNS-1035 label"),
            "not a valid name",
        )
        .help(format!("{LABEL_HELP}, at most {max} characters"));
    } else if name.len() > max {
        let why = if what == "service" {
            format!("its Kubernetes Service `{name}-service` would be longer than 63")
        } else {
            "Kubernetes names are at most 63 characters".to_owned()
        };
        cx.key_error(
            RULE.code,
            p,
            format!(
                "{what} name `{name}` is {} characters long; at most {max} fit",
                name.len()
            ),
            "name too long",
        )
        .help(format!("shorten it: {why}"));
    }
}
