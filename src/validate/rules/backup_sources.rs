//! DG0123 backup-sources: every database backup backs up a storage backend or `blockchain` that
//! is deployed when backups are.

use super::DiagnosticExt;
use super::references_resolve::suggest;
use crate::path;
use crate::validate::{Rule, RuleContext};

pub static RULE: Rule = Rule {
    code: "DG0123",
    name: "backup-sources",
    what: "A database backup's `source` is a storage backend or `blockchain`, enabled when backups \
           are.",
    why: "A backup of something that is not there is a CronJob that fails every night, or worse \
          one that succeeds with nothing in it; the restore procedure finds out.",
};

pub(super) fn check(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    for (name, db) in &env.backup.databases {
        let p = path!["backup", "databases", name, "source"];
        let src = &db.source;
        let exists = if src == "blockchain" {
            Some(env.blockchain.enabled)
        } else {
            env.storage.get(src).map(|s| s.enabled)
        };
        match exists {
            None => {
                let mut known: Vec<String> = env.storage.keys().cloned().collect();
                known.push("blockchain".to_owned());
                let help = suggest(src, &known, || {
                    format!(
                        "a source is a storage backend or `blockchain`: {}",
                        known.join(", ")
                    )
                });
                cx.error(
                    RULE.code,
                    &p,
                    format!(
                        "database backup `{name}` backs up `{src}`, which is not a storage backend"
                    ),
                    "not declared",
                )
                .help(help);
            }
            Some(false) if env.backup.enabled => {
                cx.error(
                    RULE.code,
                    &p,
                    format!("database backup `{name}` backs up `{src}`, which is disabled in this environment"),
                    "disabled here",
                )
                .help(format!("remove `[backup.databases.{name}]` in this environment, or enable `{src}`"));
            }
            _ => {}
        }
    }
}
