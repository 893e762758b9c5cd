//! DG0123 backup-sources: every database backup backs up a storage backend or `blockchain` that
//! is deployed when backups are; a PostgreSQL store's backup sets no command of its own (a
//! missing command elsewhere is DG0133's).

use super::DiagnosticExt;
use super::references_resolve::suggest;
use crate::path;
use crate::validate::{Rule, RuleContext};

pub static RULE: Rule = Rule {
    code: "DG0123",
    name: "backup-sources",
    what: "A database backup's `source` is a storage backend or `blockchain`, enabled when backups \
           are. Its `command` is left out for a PostgreSQL store (deaap-gen generates the dump and \
           its restore).",
    why: "A backup of something that is not there is a CronJob that fails every night, or worse \
          one that succeeds with nothing in it; the restore procedure finds out. A command of \
          its own for PostgreSQL would be a backup the generated restore cannot read.",
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
        let generated = env
            .storage
            .get(src)
            .is_some_and(|s| s.kind == crate::model::StorageKind::Postgresql);
        if generated && !db.command.is_empty() {
            cx.error(
                RULE.code,
                path!["backup", "databases", name, "command"],
                format!(
                    "database backup `{name}` dumps the PostgreSQL store `{src}`, whose dump and restore deaap-gen generates"
                ),
                "not used",
            )
            .help("remove `command`: the backup runs `pg_dump`, its restore `pg_restore`");
        }
    }
}
