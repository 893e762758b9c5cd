//! DG0133 backup-commands: a database backup runs a command, its own or the one deaap-gen writes
//! (a Redis or PostgreSQL store's dump, the blockchain nodes' archive).

use super::DiagnosticExt;
use crate::model::StorageKind;
use crate::path;
use crate::validate::{Rule, RuleContext};

pub static RULE: Rule = Rule {
    code: "DG0133",
    name: "backup-commands",
    what: "A database backup names its `command`, except a backup of a Redis or PostgreSQL \
           store or of the blockchain nodes: deaap-gen writes those (the primary's dump with \
           `redis-cli --rdb`, `pg_dump`, or an archive of the first node's volume, uploaded to \
           the bucket) and the restore that reads it back (`backup/restore-<name>.yaml`).",
    why: "A backup job with no command runs whatever its image does by default, which is not a \
          dump of this database; the restore procedure is where that would be found out.",
};

pub(super) fn check(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    for (name, db) in &env.backup.databases {
        if !db.command.is_empty() {
            continue;
        }
        let kind = env.storage.get(&db.source).map(|s| s.kind);
        if matches!(kind, Some(StorageKind::Redis | StorageKind::Postgresql)) {
            continue;
        }
        // The blockchain nodes' archive is written by deaap-gen; a source that is no store is
        // DG0123's.
        if kind.is_none() {
            continue;
        }
        cx.error(
            RULE.code,
            path!["backup", "databases", name],
            format!(
                "database backup `{name}` of `{}` has no `command`, and deaap-gen writes none for it",
                db.source
            ),
            "no command",
        )
        .help("add `command = [...]`: what the backup image runs to dump and upload it (deaap-gen writes it only for a Redis or PostgreSQL store and the blockchain nodes)");
    }
}
