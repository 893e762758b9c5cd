//! DG0107 cron-syntax: backup schedules are cron expressions a Kubernetes `CronJob` accepts.
//! Checked where each is written, before the model is built (`validate::typed`), since the model
//! holds them parsed.

use super::DiagnosticExt;
use crate::load::Seg;
use crate::model::CronError;
use crate::validate::{Report, Rule};

pub static RULE: Rule = Rule {
    code: "DG0107",
    name: "cron-syntax",
    what: "`backup.schedule` and every `backup.databases.<name>.schedule` is a five-field cron \
           expression (`minute hour day-of-month month day-of-week`) with values in each field's \
           bounds, or one of `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`, \
           `@hourly`. Lists, ranges, steps and the names JAN–DEC and SUN–SAT are accepted; day of \
           week is 0–6, and a `TZ=` prefix is refused.",
    why: "A CronJob with an invalid schedule is refused by the API server when the release is \
          applied, and a schedule that parses but means something else (a range written \
          backwards, a seconds field) silently leaves the data without a backup.",
};

/// The malformed schedule at `p` (`backup.schedule` or `backup.databases.<name>.schedule`),
/// where it is written (before the model is built).
pub(crate) fn malformed(report: &mut Report<'_>, p: &[Seg], e: CronError) {
    let what = match p {
        [_, Seg::Key(databases), Seg::Key(name), _] if databases == "databases" => {
            format!("database backup `{name}`")
        }
        _ => "the full backup".to_owned(),
    };
    report
        .error(
            RULE.code,
            p,
            format!("schedule of {what} is not a valid cron expression: {e}"),
            "invalid schedule",
        )
        .help(e.help);
}
