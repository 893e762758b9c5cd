//! DG0201 literal-secret: a key that names a credential must hold a reference, never the value.

use crate::diagnostic::Diagnostic;
use crate::load::{
    Entry, Seg, Value, display_path, flagged_items, is_reference, literal_credential, looks_secret,
};
use crate::validate::Rule;

pub static RULE: Rule = Rule {
    code: "DG0201",
    name: "literal-secret",
    what: "A key named like a credential (password, pass, pwd, passphrase, token, secret, \
           credential, private, API, access or encryption key, authorization; matched after NFKC \
           normalisation and with one-letter typos) or an entry of a `secrets` table holds a \
           literal value (string, number or list) instead of a reference (`vault:<path>#<key>`, \
           `file:<path>` or `env:<VAR>`); or any value carries a credential: a URL with a \
           password, an `Authorization` header value, a `--password`/`--token` argument.",
    why: "Environment files are committed and generated output is committed too: a literal secret \
          would be in Git history, in every generated manifest and in Argo CD's cache. The value is \
          never echoed in the diagnostic.",
};

/// Scans every string in the tree whose key names a credential or that sits in a `secrets` table.
pub fn scan_tree(tree: &Entry, out: &mut Vec<Diagnostic>) {
    tree.walk(&mut Vec::new(), &mut |path, entry| {
        carried_credentials(path, entry, out);
        let s = match &entry.value {
            Value::String(s) => s,
            Value::Integer(_) | Value::Float(_) | Value::Array(_) => {
                if let Some(Seg::Key(key)) = path.last()
                    && looks_secret(key)
                {
                    out.push(literal(path, entry, REFERENCE_HELP.to_owned()));
                }
                return;
            }
            _ => return,
        };
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
            REFERENCE_HELP.to_owned()
        };
        out.push(literal(path, entry, help));
    });
}

const REFERENCE_HELP: &str =
    "use a reference: `vault:<path>#<key>` (Kubernetes), `file:<path>` or `env:<VAR>` (Compose)";

fn literal(path: &[Seg], entry: &Entry, help: String) -> Diagnostic {
    Diagnostic::error(
        RULE.code,
        format!("`{}` holds a literal secret", display_path(path)),
    )
    .with_label(entry.span.clone(), "literal value (not shown)")
    .with_help(help)
}

/// Values that carry a credential whatever their key: a URL with a password, an `Authorization`
/// header value, a `--password` argument (also as the item after the flag in a list).
fn carried_credentials(path: &[Seg], entry: &Entry, out: &mut Vec<Diagnostic>) {
    let key_secret = matches!(path.last(), Some(Seg::Key(k)) if looks_secret(k) || k == "secrets");
    let parent_secrets =
        path.len() >= 2 && matches!(&path[path.len() - 2], Seg::Key(k) if k == "secrets");
    if key_secret || parent_secrets {
        return; // reported as a literal secret by its key
    }
    let help = "take the credential out: put it in `secrets` as a reference and read it from the \
                variable (`$(NAME)` in a command)";
    match &entry.value {
        Value::String(s) => {
            if let Some(what) = literal_credential(s) {
                out.push(
                    Diagnostic::error(RULE.code, format!("`{}` holds {what}", display_path(path)))
                        .with_label(entry.span.clone(), "literal credential (not shown)")
                        .with_help(help),
                );
            }
        }
        Value::Array(items) => {
            let words: Vec<&str> = items
                .iter()
                .map(|i| match &i.value {
                    Value::String(s) => s.as_str(),
                    _ => "",
                })
                .collect();
            for i in flagged_items(&words) {
                let mut p = path.to_vec();
                p.push(Seg::Index(i));
                out.push(
                    Diagnostic::error(
                        RULE.code,
                        format!("`{}` holds a credential argument", display_path(&p)),
                    )
                    .with_label(items[i].span.clone(), "literal credential (not shown)")
                    .with_help(help),
                );
            }
        }
        _ => {}
    }
}
