//! DG0118 value-syntax: values copied into artifacts have the syntax their consumer accepts, so
//! the API server, Prometheus or Falco never refuse what deaap-gen wrote, and a value never breaks
//! out of the place it is written to.
//!
//! DG0119 printable-text: no control, noncharacter or line-separator characters in any key or value.

use super::DiagnosticExt;
use crate::load::{Entry, Seg, Value};
use crate::model::{Comparison, Signal};
use crate::validate::{Rule, RuleContext};
use regex_lite::Regex;
use std::sync::LazyLock;

pub static RULE: Rule = Rule {
    code: "DG0118",
    name: "value-syntax",
    what: "Values that become Kubernetes or tool syntax have that syntax: label values \
           (`business_unit`, `monitoring.rule_labels`), DNS-1123 subdomains (`domain`, \
           `storage_class`, the gateway `issuer`), image references (`registry`, \
           `allowed_registries`, `repository`, `tag`, `digest`, the distribution reference \
           grammar), URL paths (`health_path`, `metrics.path`), Falco paths (`data_path`, the \
           data volume's `data.path`) and process names without backslashes, finite alert \
           thresholds (not `-0.0`, at most 10^15 in size) and Prometheus durations of at most a \
           year.",
    why: "deaap-gen copies these values verbatim into manifests, PromQL and Falco conditions. A label \
          value with a space, a registry `Registry Host:notaport` or a storage class `Fast SSD!` \
          passes every other check and is refused only by the API server at deploy time; an \
          unrepresentable number or duration cannot be written at all.",
};

pub static PRINTABLE: Rule = Rule {
    code: "DG0119",
    name: "printable-text",
    what: "No key or value holds a control character (a tab or newline is allowed only in \
           `summary`, `description` and `reason` texts and alert selectors), a Unicode \
           noncharacter, or a line or paragraph separator.",
    why: "Such characters are invisible in review and change meaning downstream: a newline in a \
          value can start a new YAML key, a carriage return hides text in a terminal, and YAML 1.1 \
          readers break lines at U+2028.",
};

/// `(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?`, at most 63 characters.
fn is_label_value(s: &str) -> bool {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(?:(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$").expect("valid pattern")
    });
    s.len() <= 63 && RE.is_match(s)
}

/// A DNS-1123 subdomain: dot-separated DNS labels, at most 253 characters.
fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(super::is_dns_label)
}

/// A registry host as the distribution reference grammar defines it: `domain-name[:port]`, also
/// an IPv6 address in brackets.
fn is_registry(s: &str) -> bool {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(concat!(
            r"^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])",
            r"(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*",
            r"|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$"
        ))
        .expect("valid pattern")
    });
    RE.is_match(s)
}

/// An image repository path: `/`-separated path components of the distribution grammar.
fn is_repository(s: &str) -> bool {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$",
        )
        .expect("valid pattern")
    });
    s.len() <= 255 && RE.is_match(s)
}

fn is_tag(s: &str) -> bool {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$").expect("valid pattern")
    });
    RE.is_match(s)
}

fn is_digest(s: &str) -> bool {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$")
            .expect("valid pattern")
    });
    RE.is_match(s)
}

/// An absolute URL path: `/` then RFC 3986 path characters (no space, `?` or `#`).
fn is_url_path(s: &str) -> bool {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*$")
            .expect("valid pattern")
    });
    RE.is_match(s)
}

/// The key names of a path, with `*` for array positions.
fn keys(path: &[Seg]) -> Vec<&str> {
    path.iter()
        .map(|s| match s {
            Seg::Key(k) => k.as_str(),
            Seg::Index(_) => "*",
        })
        .collect()
}

/// Whether `path` ends with `suffix` (`?` matches any one key).
fn ends(path: &[&str], suffix: &[&str]) -> bool {
    path.len() >= suffix.len()
        && path[path.len() - suffix.len()..]
            .iter()
            .zip(suffix)
            .all(|(p, s)| *s == "?" || p == s)
}

/// The largest alert threshold: every integer up to it is exact in a double, and the unit tests'
/// series around it stay finite.
const MAX_THRESHOLD: f64 = 1e15;
/// The longest `for` or evaluation interval: a year.
const MAX_DURATION_MS: u64 = 365 * 24 * 3_600_000;

/// What a string at `path` must look like: the problem and the help, or `None` when it fits.
fn string_problem(path: &[&str], s: &str) -> Option<(&'static str, &'static str)> {
    // Free-form tables: user-chosen keys, never checked by name.
    if path
        .iter()
        .any(|k| matches!(*k, "env" | "secrets" | "selector" | "waivers"))
    {
        return None;
    }
    let last = *path.last()?;
    let (ok, what, help) = match last {
        _ if (last == "business_unit" && path.len() == 2)
            || ends(path, &["monitoring", "rule_labels", "?"]) =>
        {
            (
                is_label_value(s),
                "is not a Kubernetes label value",
                "at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit",
            )
        }
        "domain" if path.len() == 2 => (
            is_dns_subdomain(s),
            "is not a DNS-1123 domain name",
            "lower-case letters, digits, `-` and `.`, e.g. `deaap.example.com`",
        ),
        "storage_class" | "issuer" => (
            is_dns_subdomain(s),
            "is not a DNS-1123 subdomain, so it cannot name a Kubernetes object",
            "lower-case letters, digits, `-` and `.`, e.g. `fast-ssd` or `letsencrypt-prod`",
        ),
        _ if (last == "registry" && path.len() == 2)
            || ends(path, &["images", "allowed_registries", "*"]) =>
        {
            (
                is_registry(s),
                "is not a registry host",
                "a host name with an optional port, e.g. `registry.example.com:5000`",
            )
        }
        "repository" => (
            is_repository(s),
            "is not an image repository",
            "lower-case path components separated by `/`, e.g. `deaap/doc-ingester`",
        ),
        "tag" if ends(path, &["image", "tag"]) => (
            is_tag(s),
            "is not an image tag",
            "at most 128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-`",
        ),
        "digest" => (
            is_digest(s),
            "is not an image digest",
            "`sha256:` followed by the hexadecimal digest",
        ),
        "health_path" => (
            is_url_path(s),
            "is not a URL path",
            "a path such as `/healthz`; encode a space as `%20`",
        ),
        "path" if ends(path, &["metrics", "path"]) => (
            is_url_path(s),
            "is not a URL path",
            "a path such as `/metrics`; encode a space as `%20`",
        ),
        "data_path" | "path" if last == "data_path" || ends(path, &["data", "path"]) => (
            s.starts_with('/') && !s.contains(['\\', '"']),
            "is not an absolute path Falco can quote",
            "an absolute path without backslashes or quotes, e.g. `/app/data`",
        ),
        _ if ends(path, &["falco", "extra_data_readers", "*"]) => (
            !s.is_empty() && !s.contains(['\\', '"', ' ', '(', ')', ',', '=']),
            "is not a process name Falco can quote",
            "a process name such as `backup-agent`, without backslashes, quotes, spaces or `(),=`",
        ),
        "for" | "evaluation_interval" => (
            crate::model::duration::parse_ms(s).is_ok_and(|ms| ms <= MAX_DURATION_MS),
            "is not a Prometheus duration of at most a year",
            "a duration such as `5m` or `1h30m`",
        ),
        _ => return None,
    };
    (!ok).then_some((what, help))
}

/// A threshold `PromQL` and the generated unit tests can write: finite, not `-0.0`, at most 10^15.
fn usable_threshold(v: &Value) -> bool {
    match v {
        Value::Float(f) => {
            f.is_finite() && f.abs() <= MAX_THRESHOLD && !(*f == 0.0 && f.is_sign_negative())
        }
        Value::Integer(i) => i.unsigned_abs() <= 1_000_000_000_000_000,
        _ => true,
    }
}

pub(super) fn check(cx: &mut RuleContext<'_>) {
    let mut found: Vec<(Vec<Seg>, String, &'static str)> = Vec::new();
    cx.tree().walk(&mut Vec::new(), &mut |path, entry| {
        let last_is = |name: &str| matches!(path.last(), Some(Seg::Key(k)) if k == name);
        match &entry.value {
            Value::String(s) => {
                if let Some((what, help)) = string_problem(&keys(path), s) {
                    let shown = crate::load::display_path(path);
                    found.push((path.to_vec(), format!("`{shown}` {what}"), help));
                }
            }
            Value::Float(_) | Value::Integer(_)
                if last_is("threshold") && !usable_threshold(&entry.value) =>
            {
                found.push((
                    path.to_vec(),
                    format!(
                        "`{}` is not a usable alert threshold",
                        crate::load::display_path(path)
                    ),
                    "a finite number of at most 10^15 in size (and `0`, not `-0.0`)",
                ));
            }
            _ => {}
        }
    });
    let env = cx.env;
    let alerts = env
        .alerts
        .iter()
        .map(|(name, a)| (crate::path!["alerts", name, "threshold"], a))
        .chain(env.performance_targets.iter().enumerate().map(|(i, t)| {
            (
                vec![
                    Seg::from("performance_targets"),
                    Seg::Index(i),
                    Seg::from("alert"),
                    Seg::from("threshold"),
                ],
                &t.alert,
            )
        }));
    for (path, a) in alerts {
        let t = a.threshold;
        let never = match a.signal {
            Signal::Quantile { .. } => t <= 0.0,
            Signal::Rate => t < 0.0 || (a.when == Comparison::Below && t <= 0.0),
            Signal::Value | Signal::Up => false,
        };
        if never && t.is_finite() {
            found.push((
                path.clone(),
                format!(
                    "`{}` is a threshold this signal can never cross",
                    crate::load::display_path(&path)
                ),
                "latency quantiles and counter rates are never negative: use a positive threshold",
            ));
        }
    }
    for (path, message, help) in found {
        cx.error(
            RULE.code,
            &path,
            message,
            "refused by the consumer of this value",
        )
        .help(help);
    }
}

/// Keys whose text may span lines.
const PROSE: [&str; 5] = [
    "summary",
    "description",
    "reason",
    "payload_logging_reason",
    "autoscaling_cap_reason",
];

/// The first character of `s` that no key or value may hold.
pub(crate) fn unprintable(s: &str, prose: bool) -> Option<char> {
    s.chars().find(|&c| {
        let n = u32::from(c);
        (c.is_control() && !(prose && (c == '\n' || c == '\t')))
            || (0xFDD0..=0xFDEF).contains(&n)
            || n & 0xFFFE == 0xFFFE
            || c == '\u{2028}'
            || c == '\u{2029}'
            || c == '\u{FEFF}'
    })
}

pub(super) fn check_printable(cx: &mut RuleContext<'_>) {
    let mut found: Vec<(Vec<Seg>, bool, char)> = Vec::new();
    cx.tree().walk(&mut Vec::new(), &mut |path, entry: &Entry| {
        if let Some(Seg::Key(k)) = path.last()
            && let Some(c) = unprintable(k, false)
        {
            found.push((path.to_vec(), true, c));
        }
        if let Value::String(s) = &entry.value
            && unprintable(s, false).is_some()
        {
            // Alert selectors match label values, which PromQL escapes.
            let names = keys(path);
            let prose = names.contains(&"selector")
                || names
                    .iter()
                    .rev()
                    .find(|k| **k != "*")
                    .is_some_and(|k| PROSE.contains(k));
            if let Some(c) = unprintable(s, prose) {
                found.push((path.to_vec(), false, c));
            }
        }
    });
    for (path, is_key, c) in found {
        let what = format!("U+{:04X}", u32::from(c));
        let shown = crate::load::display_path(&path);
        if is_key {
            cx.key_error(
                PRINTABLE.code,
                &path,
                format!(
                    "the key `{}` holds the character {what}",
                    shown.escape_debug()
                ),
                "unprintable character",
            )
        } else {
            cx.error(
                PRINTABLE.code,
                &path,
                format!("`{}` holds the character {what}", shown.escape_debug()),
                "unprintable character",
            )
        }
        .help(
            "remove it; write text that spans lines only in `summary`, `description` or `reason`",
        );
    }
}
