//! The formats CI systems read (README "Command line": `--format`): GitHub Actions workflow
//! commands, one GitLab Code Quality report, and one SARIF 2.1.0 log. Each takes a run's
//! [`Reported`] diagnostics; the JSON lines of `--format json` are in [`super::render`].

use super::Severity;
use super::report::{Place, Reported};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The text of a diagnostic for formats with one message field: the message, the help, the
/// secondary labels and, when it applies to several, the environments, one a line.
fn full_message(r: &Reported, with_labels: bool) -> String {
    let mut text = r.message.clone();
    if let Some(h) = &r.help {
        let _ = write!(text, "\nhelp: {h}");
    }
    if with_labels {
        for l in r.labels.iter().skip(1) {
            let p = &l.place;
            let _ = write!(text, "\n{}:{}:{}: {}", p.file, p.line, p.column, l.text);
        }
    }
    if r.environments.len() > 1 {
        let _ = write!(text, "\nenvironments: {}", r.environments.join(", "));
    }
    text
}

/// A workflow command's message: `%`, carriage return and line feed escaped.
#[must_use]
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: as [`escape_data`], and `:` and `,` too.
#[must_use]
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// One GitHub Actions workflow command (`::error` or `::warning`), which the runner turns into an
/// annotation on the file and lines: `::error file=F,line=L,col=C,endLine=..,endColumn=..,
/// title=DGxxxx::message`.
#[must_use]
pub fn github(r: &Reported) -> String {
    let command = match r.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "notice",
    };
    let mut props = format!("file={}", escape_property(r.file()));
    if let Some(p) = r.primary() {
        let _ = write!(
            props,
            ",line={},col={},endLine={},endColumn={}",
            p.line, p.column, p.end_line, p.end_column
        );
    }
    let _ = write!(props, ",title={}", escape_property(r.code));
    format!(
        "::{command} {props}::{}",
        escape_data(&full_message(r, true))
    )
}

/// GitLab's severity of a diagnostic: an error is `major`, a warning `minor`, a waived one `info`.
#[must_use]
pub fn gitlab_severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "major",
        Severity::Warning => "minor",
        Severity::Note => "info",
    }
}

/// A stable fingerprint per diagnostic: a hash of its code, file and message (not its line, so
/// that an unrelated edit above it keeps it the same issue), and of how many alike came before
/// it in the report.
fn fingerprints(all: &[Reported]) -> Vec<String> {
    let mut count: BTreeMap<(&str, &str, &str), usize> = BTreeMap::new();
    all.iter()
        .map(|r| {
            let n = count.entry((r.code, r.file(), &r.message)).or_insert(0);
            *n += 1;
            let mut h = Sha256::new();
            for part in [r.code, r.file(), &r.message, &n.to_string()] {
                h.update(part.as_bytes());
                h.update([0]);
            }
            h.finalize()
                .iter()
                .take(16)
                .fold(String::new(), |mut s, b| {
                    let _ = write!(s, "{b:02x}");
                    s
                })
        })
        .collect()
}

/// The GitLab Code Quality report of a run: one array with an issue per diagnostic.
#[must_use]
pub fn gitlab(all: &[Reported]) -> Value {
    let issues: Vec<Value> = all
        .iter()
        .zip(fingerprints(all))
        .map(|(r, fingerprint)| {
            json!({
                "description": full_message(r, false),
                "check_name": r.code,
                "fingerprint": fingerprint,
                "severity": gitlab_severity(r.severity),
                "location": {
                    "path": r.file(),
                    "lines": { "begin": r.primary().map_or(1, |p| p.line) },
                },
            })
        })
        .collect();
    Value::Array(issues)
}

/// The first sentence of a code's What, cut to fit one line of a listing (`explain`, SARIF's
/// short description).
#[must_use]
pub fn short_description(what: &str) -> String {
    let first = what
        .split(". ")
        .next()
        .unwrap_or(what)
        .trim_end_matches('.');
    if first.chars().count() <= 80 {
        return first.to_owned();
    }
    let cut: String = first.chars().take(79).collect();
    format!("{}…", cut.trim_end())
}

/// A relative path as a URI reference: every byte but unreserved characters and `/` escaped.
fn uri(path: &str) -> String {
    path.bytes().fold(String::new(), |mut s, b| {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            s.push(char::from(b));
        } else {
            let _ = write!(s, "%{b:02X}");
        }
        s
    })
}

fn physical(file: &str, place: Option<&Place>) -> Value {
    let mut v = json!({ "artifactLocation": { "uri": uri(file) } });
    if let Some(p) = place {
        v["region"] = json!({
            "startLine": p.line,
            "startColumn": p.column,
            "endLine": p.end_line,
            "endColumn": p.end_column,
        });
    }
    v
}

/// The SARIF rule of a code, from the catalogue.
fn rule(code: &str) -> Value {
    let Some(c) = crate::codes::find(code) else {
        return json!({ "id": code });
    };
    json!({
        "id": c.code,
        "name": c.name,
        "shortDescription": { "text": short_description(c.what) },
        "fullDescription": { "text": c.what },
        "help": {
            "text": format!("{}\n\nWhy: {}\n\n`deaap-gen explain {}` prints this.", c.what, c.why, c.code),
        },
        "properties": { "tags": [c.phase.as_str()] },
    })
}

/// The SARIF 2.1.0 log of a run: one run of deaap-gen, with a rule for every code it reports
/// (from the catalogue) and a result per diagnostic. Columns count characters
/// (`unicodeCodePoints`); an end column is the one just past the span.
#[must_use]
pub fn sarif(all: &[Reported]) -> Value {
    let mut codes: Vec<&str> = all.iter().map(|r| r.code).collect();
    codes.sort_unstable();
    codes.dedup();
    let results: Vec<Value> = all
        .iter()
        .zip(fingerprints(all))
        .map(|(r, fingerprint)| {
            let mut location = json!({ "physicalLocation": physical(r.file(), r.primary()) });
            if let Some(l) = r.labels.first() {
                location["message"] = json!({ "text": l.text });
            }
            let related: Vec<Value> = r
                .labels
                .iter()
                .skip(1)
                .enumerate()
                .map(|(i, l)| {
                    json!({
                        "id": i + 1,
                        "physicalLocation": physical(&l.place.file, Some(&l.place)),
                        "message": { "text": l.text },
                    })
                })
                .collect();
            let mut v = json!({
                "ruleId": r.code,
                "ruleIndex": codes.binary_search(&r.code).unwrap_or_default(),
                "level": match r.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                    Severity::Note => "note",
                },
                "message": { "text": full_message(r, false) },
                "locations": [location],
                "partialFingerprints": { "deaapGen/v1": fingerprint },
                "properties": { "environments": r.environments },
            });
            if !related.is_empty() {
                v["relatedLocations"] = Value::Array(related);
            }
            v
        })
        .collect();
    json!({
        "$schema": "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": env!("CARGO_PKG_NAME"),
                    "version": env!("CARGO_PKG_VERSION"),
                    "informationUri": env!("CARGO_PKG_HOMEPAGE"),
                    "rules": codes.iter().map(|c| rule(c)).collect::<Vec<_>>(),
                },
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_command_values_are_escaped() {
        assert_eq!(escape_data("50% a\r\nb:c,d"), "50%25 a%0D%0Ab:c,d");
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }

    #[test]
    fn uris_escape_what_a_uri_reference_cannot_hold() {
        assert_eq!(
            uri("environments/my env.toml"),
            "environments/my%20env.toml"
        );
        assert_eq!(uri("envs/é.toml"), "envs/%C3%A9.toml");
    }
}
