//! DG0103 unique-routes: gateway route prefixes are well-formed and each belongs to one service.

use super::DiagnosticExt;
use crate::load::Seg;
use crate::path;
use crate::validate::{Rule, RuleContext};
use std::collections::BTreeMap;

pub static RULE: Rule = Rule {
    code: "DG0103",
    name: "unique-routes",
    what: "Each enabled service's `route` starts with `/`, has no whitespace, `?` or `#`, and no two \
           enabled services route the same prefix (`/api` and `/api/` count as the same). A route \
           on a disabled service is ignored.",
    why: "The gateway's VirtualService matches prefixes in order: with two services on one prefix \
          the second never receives traffic, and nothing reports it. A prefix without the leading \
          `/` never matches any request.",
};

pub(super) fn check(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    let mut seen: BTreeMap<String, (String, Vec<Seg>)> = BTreeMap::new();
    for (name, s) in env.enabled_services() {
        let Some(route) = &s.route else { continue };
        let p = path!["services", name, "route"];
        if !route.starts_with('/') {
            cx.error(
                RULE.code,
                &p,
                format!("route of service `{name}` does not start with `/`"),
                "not a path prefix",
            )
            .help(format!("write `/{}`", route.trim_start()));
            continue;
        }
        if let Some(c) = route
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || *c == '?' || *c == '#')
        {
            let what = match c {
                '?' => "a query string (`?`)".to_owned(),
                '#' => "a fragment (`#`)".to_owned(),
                _ => "whitespace".to_owned(),
            };
            cx.error(
                RULE.code,
                &p,
                format!("route of service `{name}` contains {what}"),
                "not a path prefix",
            )
            .help("a route is a URI path prefix such as `/api/v1/documents`");
            continue;
        }
        let key = match route.trim_end_matches('/') {
            "" => "/".to_owned(),
            k => k.to_owned(),
        };
        match seen.get(&key) {
            None => {
                seen.insert(key, (name.clone(), p));
            }
            Some((owner, owner_path)) => {
                let other = cx.span(owner_path);
                let owner = owner.clone();
                cx.error(
                    RULE.code,
                    &p,
                    format!("service `{name}` routes `{route}`, which service `{owner}` already routes"),
                    "duplicate route",
                )
                .also(other, format!("`{owner}` routes it here"))
                .help("the gateway sends each prefix to one service: give one of them another prefix, or disable one");
            }
        }
    }
}
