//! DG0110 secret-reference-syntax: every secret reference is well-formed and resolvable on the
//! environment's platform.

use super::{DiagnosticExt, join};
use crate::load::{Seg, display_path};
use crate::model::{PlatformKind, SecretRef};
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
};

pub(super) fn check(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    // (where, the table, whether it is deployed here: only then must it resolve on this platform)
    let mut tables: Vec<(Vec<Seg>, &BTreeMap<String, SecretRef>, bool)> = Vec::new();
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
    // The syntax is checked where the references are written, before the model is built
    // (`validate::typed`); what is left is whether a deployed one resolves on this platform.
    for (base, table, deployed) in tables {
        for (key, reference) in table {
            if deployed && matches!(reference, SecretRef::Vault { .. }) {
                vault_resolves(cx, &join(&base, &[key.as_str()]));
            }
        }
    }
}

fn vault_resolves(cx: &mut RuleContext<'_>, p: &[Seg]) {
    let env = cx.env;
    let at = display_path(p);
    if env.environment.platform == PlatformKind::Compose {
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
