//! DG0107 cron-syntax: backup schedules are cron expressions a Kubernetes CronJob accepts.

use super::DiagnosticExt;
use crate::path;
use crate::validate::cron;
use crate::validate::{Rule, RuleContext};

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
    check,
};

fn check(cx: &mut RuleContext<'_>) {
    let b = &cx.env.backup;
    let mut schedules = vec![(
        path!["backup", "schedule"],
        b.schedule.clone(),
        "the full backup".to_owned(),
    )];
    for (name, db) in &b.databases {
        schedules.push((
            path!["backup", "databases", name, "schedule"],
            db.schedule.clone(),
            format!("database backup `{name}`"),
        ));
    }
    for (p, s, what) in schedules {
        if let Err(e) = cron::check(&s) {
            cx.error(
                RULE.code,
                &p,
                format!("schedule of {what} is not a valid cron expression: {e}"),
                "invalid schedule",
            )
            .help(e.help);
        }
    }
}
