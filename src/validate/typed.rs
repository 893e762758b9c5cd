//! The values the model parses into types of their own — quantities, cron schedules and secret
//! references — checked where they are written, before the model is built. Each is parsed by its
//! model type's own parser, so the located diagnostic and the model agree: when this check passes,
//! building the model cannot fail on these values, and nothing downstream parses them again.

use super::Report;
use super::rules::{
    DiagnosticExt, cron_syntax, quantity_syntax, quota_namespaces, secret_reference_syntax,
};
use crate::load::{Seg, Value, display_path};
use crate::model::{NamespaceKey, Schedule, SecretRef, SecretRefError};

/// What a typed value is, by where it is written; in the order of their codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Site {
    /// A CPU or memory amount, a volume size or a quota amount (DG0106).
    Quantity,
    /// A backup schedule (DG0107).
    Schedule,
    /// A value of a `secrets` table: services, storage backends, backup (DG0110).
    Secret,
    /// A key of `quotas`, which names a namespace (DG0122).
    QuotaKey,
}

/// The typed value written at `path`, if one is.
fn site(path: &[Seg]) -> Option<Site> {
    let keys: Vec<Option<&str>> = path
        .iter()
        .map(|s| match s {
            Seg::Key(k) => Some(k.as_str()),
            Seg::Index(_) => None,
        })
        .collect();
    let resources =
        |r: &[Option<&str>]| matches!(r, [Some("requests" | "limits"), Some("cpu" | "memory")]);
    match keys.as_slice() {
        [
            Some("defaults" | "blockchain" | "consensus" | "backup"),
            Some("resources"),
            r @ ..,
        ]
        | [
            Some("services" | "storage"),
            Some(_),
            Some("resources"),
            r @ ..,
        ]
        | [
            Some("security"),
            Some("mesh"),
            Some("proxy_resources"),
            r @ ..,
        ] if resources(r) => Some(Site::Quantity),
        [Some("storage"), Some(_), Some("persistence"), Some("size")]
        | [Some("blockchain"), Some("persistence"), Some("size")]
        | [Some("monitoring"), Some("storage"), Some("size")]
        | [Some("data"), Some("size")]
        | [
            Some("monitoring"),
            Some("grafana"),
            Some("persistence"),
            Some("size"),
        ]
        | [
            Some("quotas"),
            Some(_),
            Some("requests_cpu" | "requests_memory" | "limits_cpu" | "limits_memory"),
        ] => Some(Site::Quantity),
        [Some("backup"), Some("schedule")]
        | [Some("backup"), Some("databases"), Some(_), Some("schedule")] => Some(Site::Schedule),
        [
            Some("services" | "storage"),
            Some(_),
            Some("secrets"),
            Some(_),
        ]
        | [Some("backup"), Some("secrets"), Some(_)]
        | [
            Some("monitoring"),
            Some("alertmanager"),
            Some("receivers"),
            Some(_),
            Some("secrets"),
            Some(_),
        ] => Some(Site::Secret),
        _ => None,
    }
}

/// Checks every typed value of the tree, reporting each malformed one at its value. Returns
/// whether all of them parse (a literal secret is not a reference either: DG0201 reports it).
///
/// A `quotas` key that names no namespace is reported too, and taken out of `json` so that the
/// model, which keys quotas by namespace, can still be built and checked.
pub fn check(report: &mut Report<'_>, json: &mut serde_json::Value) -> bool {
    let mut sites: Vec<(Site, Vec<Seg>, String)> = Vec::new();
    report.tree().walk(&mut Vec::new(), &mut |path, entry| {
        if let [Seg::Key(quotas), Seg::Key(key)] = path
            && quotas == "quotas"
            && NamespaceKey::named(key).is_none()
        {
            sites.push((Site::QuotaKey, path.to_vec(), key.clone()));
        }
        if let (Value::String(text), Some(site)) = (&entry.value, site(path)) {
            sites.push((site, path.to_vec(), text.clone()));
        }
    });
    // In code order, then as written in the tree.
    sites.sort_by_key(|(site, _, _)| *site);
    let mut ok = true;
    for (site, path, text) in sites {
        ok &= match site {
            Site::Quantity => {
                let in_use = volume_in_use(report, &path);
                quantity_syntax::check_at(report, &path, &text, in_use)
            }
            Site::Schedule => Schedule::parse(&text)
                .map_err(|e| cron_syntax::malformed(report, &path, e))
                .is_ok(),
            Site::QuotaKey => {
                quota_namespaces::unknown(report, &text);
                if let Some(quotas) = json.get_mut("quotas").and_then(|q| q.as_object_mut()) {
                    quotas.remove(&text);
                }
                true
            }
            Site::Secret => secret(report, &path, &text),
        };
    }
    ok
}

/// For a volume `size`, whether the `enabled` beside it is on (it is by default).
fn volume_in_use(report: &Report<'_>, path: &[Seg]) -> bool {
    let mut enabled = path.to_vec();
    enabled.pop();
    enabled.push(Seg::Key("enabled".to_owned()));
    match report.tree().lookup(&enabled) {
        (e, true) => !matches!(e.value, Value::Bool(false)),
        (_, false) => true,
    }
}

/// DG0110: a secret reference is well-formed; its text is never shown.
fn secret(report: &mut Report<'_>, path: &[Seg], text: &str) -> bool {
    match SecretRef::parse(text) {
        Ok(_) => true,
        Err(SecretRefError::NotAReference) => false,
        Err(SecretRefError::Malformed { scheme, problem }) => {
            report
                .error(
                    secret_reference_syntax::RULE.code,
                    path,
                    format!(
                        "`{}` is a malformed `{scheme}:` reference: {problem}",
                        display_path(path)
                    ),
                    "malformed reference (not shown)",
                )
                .help(format!("write it like {}", SecretRefError::example(scheme)));
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(keys: &[&str]) -> Option<Site> {
        let path: Vec<Seg> = keys.iter().map(|k| Seg::from(*k)).collect();
        site(&path)
    }

    #[test]
    fn every_place_the_model_parses_a_value_is_a_site() {
        for keys in [
            &["defaults", "resources", "requests", "cpu"][..],
            &["services", "api", "resources", "limits", "memory"],
            &["storage", "redis", "resources", "requests", "memory"],
            &["blockchain", "resources", "limits", "cpu"],
            &["consensus", "resources", "requests", "cpu"],
            &["security", "mesh", "proxy_resources", "limits", "memory"],
            &["storage", "redis", "persistence", "size"],
            &["blockchain", "persistence", "size"],
            &["monitoring", "storage", "size"],
            &["monitoring", "grafana", "persistence", "size"],
            &["quotas", "core", "limits_memory"],
            &["data", "size"],
            &["backup", "resources", "limits", "cpu"],
        ] {
            assert_eq!(at(keys), Some(Site::Quantity), "{keys:?}");
        }
        assert_eq!(at(&["backup", "schedule"]), Some(Site::Schedule));
        assert_eq!(
            at(&["backup", "databases", "redis", "schedule"]),
            Some(Site::Schedule)
        );
        for keys in [
            &["services", "api", "secrets", "TOKEN"][..],
            &["storage", "postgres", "secrets", "POSTGRES_PASSWORD"],
            &["backup", "secrets", "AWS_SECRET_ACCESS_KEY"],
            &[
                "monitoring",
                "alertmanager",
                "receivers",
                "slack",
                "secrets",
                "api_url",
            ],
        ] {
            assert_eq!(at(keys), Some(Site::Secret), "{keys:?}");
        }
        for keys in [
            &["services", "api", "env", "CPU"][..],
            &["services", "api", "resources", "limits", "gpu"],
            &["quotas", "core", "pods"],
            &["audit", "rules", "resources"],
        ] {
            assert_eq!(at(keys), None, "{keys:?}");
        }
    }
}
