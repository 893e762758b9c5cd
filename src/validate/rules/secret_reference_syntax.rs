//! DG0110 secret-reference-syntax: every secret reference is well-formed and resolvable on the
//! environment's platform.

use super::{DiagnosticExt, env_names::is_env_name, join};
use crate::load::{Seg, display_path};
use crate::model::PlatformKind;
use crate::path;
use crate::validate::{Rule, RuleContext};
use std::collections::BTreeMap;

pub static RULE: Rule = Rule {
    code: "DG0110",
    name: "secret-reference-syntax",
    what: "Every value of a `secrets` table (services, storage backends, backup) is a well-formed \
           reference: `vault:<path>#<key>` (path of letters, digits, `_`, `-`, `.` and single `/`, \
           no leading or trailing `/`; a key of letters, digits, `_`, `-`, `.`), `file:<path>` or \
           `env:<VARIABLE>`. On Kubernetes a `vault:` reference needs `security.vault.enabled`; on \
           Compose only `file:` and `env:` work, since Compose cannot read Vault. The platform \
           checks apply to what is deployed (enabled services and storage, backups when enabled).",
    why: "A malformed reference is not resolved: the Vault agent renders an empty file and the \
          service starts without its credential, or Compose refuses the whole file. The \
          reference's text is never shown, in case it is a secret pasted into the wrong place.",
    check,
};

fn check(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    // (where, the table, whether it is deployed here: only then must it resolve on this platform)
    let mut tables: Vec<(Vec<Seg>, &BTreeMap<String, String>, bool)> = Vec::new();
    for (n, s) in &env.services {
        tables.push((path!["services", n, "secrets"], &s.secrets, s.enabled));
    }
    for (n, s) in &env.storage {
        tables.push((path!["storage", n, "secrets"], &s.secrets, s.enabled));
    }
    tables.push((
        path!["backup", "secrets"],
        &env.backup.secrets,
        env.backup.enabled,
    ));
    for (base, table, deployed) in tables {
        for (key, value) in table {
            let p = join(&base, &[key.as_str()]);
            check_one(cx, &p, value, deployed);
        }
    }
}

fn check_one(cx: &mut RuleContext<'_>, p: &[Seg], value: &str, deployed: bool) {
    let env = cx.env;
    let at = display_path(p);
    let compose = env.environment.platform == PlatformKind::Compose;
    let (scheme, problem) = if let Some(rest) = value.strip_prefix("vault:") {
        ("vault", vault_problem(rest))
    } else if let Some(rest) = value.strip_prefix("file:") {
        let bad = rest.is_empty() || rest.chars().any(char::is_control) || rest.trim() != rest;
        (
            "file",
            bad.then_some("its path is empty or has surrounding spaces or control characters"),
        )
    } else if let Some(rest) = value.strip_prefix("env:") {
        let bad = !is_env_name(rest);
        (
            "env",
            bad.then_some("it does not name an environment variable (`[A-Za-z_][A-Za-z0-9_]*`)"),
        )
    } else {
        // Not a reference at all: DG0201 reports it as a literal secret.
        return;
    };
    if let Some(problem) = problem {
        let example = match scheme {
            "vault" => "`vault:secret/data/deaap/postgres#password`",
            "file" => "`file:./secrets/postgres-password`",
            _ => "`env:POSTGRES_PASSWORD`",
        };
        cx.error(
            RULE.code,
            p,
            format!("`{at}` is a malformed `{scheme}:` reference: {problem}"),
            "malformed reference (not shown)",
        )
        .help(format!("write it like {example}"));
        return;
    }
    if scheme == "vault" && deployed {
        if compose {
            cx.error(
                RULE.code,
                p,
                format!("`{at}` is a Vault reference, which Compose cannot resolve"),
                "Vault reference on Compose",
            )
            .help("on Compose use `file:<path>` (a Compose secret) or `env:<VARIABLE>`, e.g. `file:./secrets/postgres-password`");
        } else if !env.security.vault.enabled {
            let vault = cx.span(path!["security", "vault", "enabled"]);
            cx.error(
                RULE.code,
                p,
                format!("`{at}` is a Vault reference, but Vault is disabled in this environment"),
                "needs Vault",
            )
            .also(vault, "Vault disabled here")
            .help("set `security.vault.enabled = true`, or use a `file:` or `env:` reference");
        }
    }
}

fn vault_problem(rest: &str) -> Option<&'static str> {
    let Some((p, key)) = rest.split_once('#') else {
        return Some("it has no `#<key>` after the path");
    };
    if p.is_empty() {
        return Some("its path is empty");
    }
    let path_ok = p
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'));
    if !path_ok || p.starts_with('/') || p.ends_with('/') || p.contains("//") {
        return Some(
            "its path has characters other than letters, digits, `_`, `-`, `.` and single inner `/`",
        );
    }
    if key.is_empty() {
        return Some("the key after `#` is empty");
    }
    if !key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Some(
            "the key after `#` has characters other than letters, digits, `_`, `-` and `.`",
        );
    }
    None
}
