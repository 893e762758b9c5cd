//! DG0117 env-names: environment-variable names are portable, and each is set once.

use super::{DiagnosticExt, join, model_path};
use crate::load::Seg;
use crate::model::SecretRef;
pub(crate) use crate::model::is_env_name;
use crate::path;
use crate::validate::{Rule, RuleContext};
use std::collections::BTreeMap;

pub static RULE: Rule = Rule {
    code: "DG0117",
    name: "env-names",
    what: "Every key of an `env` or `secrets` table (services, storage backends, backup) is an \
           environment-variable name, `[A-Za-z_][A-Za-z0-9_]*`, and no name is in both `env` and \
           `secrets` of the same workload.",
    why: "A name with `-` or `.` cannot be read by a shell or most runtimes, and older Kubernetes \
          versions refuse it. A name in both tables is set twice in the container: which one wins \
          depends on the target (Kubernetes takes the later entry, the Vault agent writes a file \
          the process may never read), so the service may run with the plain value.",
};

/// The `env` and `secrets` tables of one workload.
struct Tables<'a> {
    base: Vec<Seg>,
    plain: Option<&'a BTreeMap<String, String>>,
    secret: Option<&'a BTreeMap<String, SecretRef>>,
    who: String,
}

fn suggestion(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) || out.is_empty() {
        out.insert(0, '_');
    }
    out
}

pub(super) fn check(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    let plan = cx.workloads;
    let mut sets: Vec<Tables<'_>> = plan
        .iter()
        .filter(|w| w.declared_env.is_some())
        .map(|w| Tables {
            base: model_path(w),
            plain: w.declared_env,
            secret: Some(&w.secrets),
            who: w.describe(),
        })
        .collect();
    sets.push(Tables {
        base: path!["backup"],
        plain: None,
        secret: Some(&env.backup.secrets),
        who: "the backup".to_owned(),
    });
    for Tables {
        base,
        plain,
        secret,
        who,
    } in sets
    {
        let plain_keys = plain.into_iter().flat_map(BTreeMap::keys);
        let secret_keys = secret.into_iter().flat_map(BTreeMap::keys);
        let named = plain_keys
            .map(|k| ("env", k))
            .chain(secret_keys.map(|k| ("secrets", k)));
        for (table, key) in named {
            if !is_env_name(key) {
                cx.key_error(
                    RULE.code,
                    join(&base, &[table, key.as_str()]),
                    format!("`{key}` in `{table}` of {who} is not an environment-variable name"),
                    "invalid name",
                )
                .help(format!(
                    "use letters, digits and `_`, not starting with a digit, e.g. `{}`",
                    suggestion(key)
                ));
            }
        }
        if let (Some(plain), Some(secret)) = (plain, secret) {
            for key in plain.keys().filter(|k| secret.contains_key(*k)) {
                let other = cx.key_span(join(&base, &["secrets", key.as_str()]));
                cx.key_error(
                    RULE.code,
                    join(&base, &["env", key.as_str()]),
                    format!("`{key}` of {who} is set in both `env` and `secrets`"),
                    "plain value",
                )
                .also(other, "secret reference")
                .help(format!("remove `{key}` from `env`: the secret reference is the value the service should get"));
            }
        }
    }
}
