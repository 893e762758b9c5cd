//! DG0201 literal-secret: a key that names a credential must hold a reference, never the value.

use crate::diagnostic::Diagnostic;
use crate::load::{Entry, Seg, Value, display_path, is_reference, looks_secret};
use crate::validate::{Rule, RuleContext};

pub static RULE: Rule = Rule {
    code: "DG0201",
    name: "literal-secret",
    what: "A key named like a credential (password, token, secret, credential, private key, API key) \
           or an entry of a `secrets` table holds a literal value instead of a reference \
           (`vault:<path>#<key>`, `file:<path>` or `env:<VAR>`).",
    why: "Environment files are committed and generated output is committed too: a literal secret \
          would be in Git history, in every generated manifest and in Argo CD's cache. The value is \
          never echoed in the diagnostic.",
    check,
};

/// The rule itself runs on the raw tree (before the schema), so it also catches secrets under
/// unknown keys; the model pass has nothing left to do.
fn check(_cx: &mut RuleContext<'_>) {}

/// Scans every string in the tree whose key names a credential or that sits in a `secrets` table.
pub fn scan_tree(tree: &Entry, out: &mut Vec<Diagnostic>) {
    tree.walk(&mut Vec::new(), &mut |path, entry| {
        let Value::String(s) = &entry.value else { return };
        let Some(Seg::Key(key)) = path.last() else { return };
        let in_secrets = path.len() >= 2 && matches!(&path[path.len() - 2], Seg::Key(k) if k == "secrets");
        let in_env = path.len() >= 2 && matches!(&path[path.len() - 2], Seg::Key(k) if k == "env");
        if !(looks_secret(key) || in_secrets) {
            return;
        }
        // A `secrets` value that starts like a reference but is malformed is DG0110's to report
        // (precisely, and for the platform); calling it a literal secret would mislead.
        let attempted = in_secrets && ["vault:", "file:", "env:"].iter().any(|p| s.starts_with(p));
        if is_reference(s) || attempted {
            if in_env {
                out.push(
                    Diagnostic::error("DG0202", format!("`{}` puts a secret reference in plain `env`", display_path(path)))
                        .with_label(entry.span.clone(), "plain environment variables are not resolved")
                        .with_help(format!("move `{key}` to the `secrets` table next to `env`")),
                );
            }
            return;
        }
        let help = if in_env {
            format!("move `{key}` to `secrets` with a reference such as `vault:secret/data/deaap/<name>#<key>`")
        } else {
            "use a reference: `vault:<path>#<key>` (Kubernetes), `file:<path>` or `env:<VAR>` (Compose)".to_owned()
        };
        out.push(
            Diagnostic::error(RULE.code, format!("`{}` holds a literal secret", display_path(path)))
                .with_label(entry.span.clone(), "literal value (not shown)")
                .with_help(help),
        );
    });
}
