//! DG0137 alert-routes: the Alertmanager route tree names receivers that exist, its timings are
//! durations, its grouping labels are label names, and no route is shadowed by an earlier one.

use super::references_resolve::suggest;
use super::{DiagnosticExt, is_prom_name};
use crate::load::Seg;
use crate::model::duration;
use crate::path;
use crate::validate::{Rule, RuleContext};

pub static RULE: Rule = Rule {
    code: "DG0137",
    name: "alert-routes",
    what: "`monitoring.alertmanager.default_receiver` and every route's `receiver` name a key of \
           `receivers`; `group_wait`, `group_interval` and `repeat_interval` are durations; \
           `group_by` holds label names; a route whose matchers an earlier route already covers \
           (same or no `severity`, same or no `business_unit`) is reported, since it never \
           matches.",
    why: "Alertmanager refuses a configuration that routes to an unknown receiver, so every alert \
          of the environment would go undelivered; a shadowed route looks like a rule of the \
          on-call policy but no alert ever takes it.",
};

pub(super) fn check(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    let Some(am) = &env.monitoring.alertmanager else {
        return;
    };
    let known: Vec<String> = am.receivers.keys().cloned().collect();
    let mut targets = vec![(
        path!["monitoring", "alertmanager", "default_receiver"],
        &am.default_receiver,
    )];
    for (i, r) in am.routes.iter().enumerate() {
        targets.push((
            path!["monitoring", "alertmanager", "routes", i, "receiver"],
            &r.receiver,
        ));
    }
    for (p, name) in targets {
        if !am.receivers.contains_key(name) {
            let help = suggest(name, &known, || {
                "define it under `[monitoring.alertmanager.receivers.<name>]`".to_owned()
            });
            cx.error(
                RULE.code,
                &p,
                format!("receiver `{name}` is not defined"),
                "unknown receiver",
            )
            .help(help);
        }
    }
    for (key, value) in [
        ("group_wait", &am.group_wait),
        ("group_interval", &am.group_interval),
        ("repeat_interval", &am.repeat_interval),
    ] {
        if let Err(e) = duration::parse_ms(value) {
            cx.error(
                RULE.code,
                path!["monitoring", "alertmanager", key],
                format!("`{key}` is not a duration: {}", e.0),
                "not a duration",
            )
            .help("write a duration such as `30s`, `5m` or `4h`");
        }
    }
    for (i, label) in am.group_by.iter().enumerate() {
        if !is_prom_name(label, false) {
            cx.error(
                RULE.code,
                path!["monitoring", "alertmanager", "group_by", i],
                format!("`{label}` is not a label name"),
                "not a label name",
            )
            .help("label names are letters, digits and `_`, e.g. `alertname`");
        }
    }
    for (i, r) in am.routes.iter().enumerate() {
        let covered = am.routes[..i].iter().position(|e| {
            e.severity.is_none_or(|s| Some(s) == r.severity)
                && e.business_unit
                    .as_ref()
                    .is_none_or(|b| Some(b) == r.business_unit.as_ref())
        });
        if let Some(j) = covered {
            let earlier: Vec<Seg> = path!["monitoring", "alertmanager", "routes", j];
            let span = cx.span(&earlier);
            cx.warning(
                RULE.code,
                path!["monitoring", "alertmanager", "routes", i],
                format!("route {i} never matches: route {j} takes every alert it would"),
                "shadowed route",
            )
            .also(span, "this route matches first")
            .help("move the more specific route before the general one, or remove it");
        }
    }
}
