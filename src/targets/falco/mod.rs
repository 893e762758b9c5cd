//! The `falco` target: `falco/rules.yaml`, the runtime-security rules of `[security.falco]`,
//! scoped to the DEAAP namespaces and fed by the same model as the workloads: which services may
//! read the data directory, who writes consensus validations, which images are consensus pods.
//!
//! The file is self-contained (its own `deaap_*` macros, no dependency on Falco's default rules)
//! and keeps only the lists and macros its enabled rules use, so Falco loads it without warnings.
//! Conditions are minijinja templates (`templates/falco/*.cond`); model strings enter them only
//! through `falco_str`, and enter lists only as pre-quoted items, because Falco pastes list items
//! into conditions as text.

use crate::model::{Environment, FalcoRules};
use crate::render;
use crate::targets::{Artifact, Context, Target, TargetError};
use serde::Serialize;
use std::collections::BTreeSet;

#[cfg(test)]
mod tests;

pub(super) struct Falco;

impl Target for Falco {
    fn name(&self) -> &'static str {
        "falco"
    }

    fn applies(&self, env: &Environment) -> bool {
        env.is_kubernetes() && env.security.falco.enabled
    }

    fn generate(&self, cx: &Context<'_>) -> Result<Vec<Artifact>, TargetError> {
        Ok(vec![render::yaml_artifact(
            cx,
            self.name(),
            "falco/rules.yaml",
            &rules_file(cx.env)?,
        )?])
    }
}

/// One entry of a Falco rules file.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum Item {
    List(List),
    Macro(Macro),
    Rule(Rule),
}

#[derive(Debug, Serialize)]
pub(crate) struct List {
    pub list: String,
    pub items: Vec<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Macro {
    #[serde(rename = "macro")]
    pub name: String,
    pub condition: String,
}

/// One Falco rule; the field names are Falco's keys (`rule:` names the rule).
#[derive(Debug, Serialize)]
#[allow(clippy::struct_field_names)]
pub(crate) struct Rule {
    pub rule: &'static str,
    pub desc: &'static str,
    pub condition: String,
    pub output: String,
    pub priority: Priority,
    pub source: &'static str,
    pub tags: Vec<&'static str>,
}

/// Falco's schema lists priorities in upper case only.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum Priority {
    Critical,
    Error,
    Warning,
}

/// Where the event happened, appended to every rule's output.
const CONTEXT: &str = "user=%user.name namespace=%k8s.ns.name pod=%k8s.pod.name \
                       container=%container.name image=%container.image.repository";

/// Shells an attacker reaches for.
const SHELLS: [&str; 8] = ["ash", "bash", "csh", "dash", "ksh", "sh", "tcsh", "zsh"];

/// In-cluster and private destinations; anything else is the outside world.
const PRIVATE_NETWORKS: [&str; 3] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];

/// The Linux kernel keeps only the first 15 bytes of a process name (`TASK_COMM_LEN` - 1), and
/// that is what Falco's `proc.name` compares against.
const COMM_LEN: usize = 15;

/// A rule of the file and the switch in `[security.falco.rules]` that enables it.
struct RuleSpec {
    enabled: fn(&FalcoRules) -> bool,
    name: &'static str,
    desc: &'static str,
    /// Name of its condition template.
    template: &'static str,
    /// The output: a headline, then the event's own fields, then [`CONTEXT`].
    headline: &'static str,
    fields: &'static str,
    priority: Priority,
    tags: &'static [&'static str],
}

const RULES: [RuleSpec; 5] = [
    RuleSpec {
        enabled: |f| f.unauthorized_data_access,
        name: "DEAAP Unauthorized File Access",
        desc: "A file below the DEAAP data directory was read by a process other than those \
               allowed to: services with data_access = true, the extra data readers, and the \
               backup image's processes (the backup and restore jobs).",
        template: "unauthorized_data_access",
        headline: "Unauthorized read of DEAAP data",
        fields: "file=%fd.name process=%proc.name command=%proc.cmdline",
        priority: Priority::Warning,
        tags: &["deaap", "filesystem", "mitre_collection", "T1005"],
    },
    RuleSpec {
        enabled: |f| f.consensus_tampering,
        name: "DEAAP Consensus Tampering",
        desc: "A process other than the consensus writer and the validators wrote, renamed or \
               removed a consensus validation file in a DEAAP container.",
        template: "consensus_tampering",
        headline: "Potential consensus tampering",
        fields: "file=%fd.name path=%fs.path.name process=%proc.name command=%proc.cmdline",
        priority: Priority::Critical,
        tags: &["deaap", "consensus", "filesystem", "mitre_impact", "T1565"],
    },
    RuleSpec {
        enabled: |f| f.shell_in_container,
        name: "DEAAP Shell Spawned In Container",
        desc: "A shell started inside a DEAAP container, other than as the container's own \
               entrypoint; DEAAP images run their service binary directly.",
        template: "shell_in_container",
        headline: "Shell spawned in a DEAAP container",
        fields: "shell=%proc.name parent=%proc.pname command=%proc.cmdline terminal=%proc.tty",
        priority: Priority::Warning,
        tags: &["deaap", "container", "shell", "mitre_execution", "T1059"],
    },
    RuleSpec {
        enabled: |f| f.write_below_etc,
        name: "DEAAP Write Below Etc",
        desc: "A file below /etc was opened for writing in a DEAAP container.",
        template: "write_below_etc",
        headline: "File below /etc opened for writing in a DEAAP container",
        fields: "file=%fd.name process=%proc.name command=%proc.cmdline",
        priority: Priority::Error,
        tags: &["deaap", "filesystem", "mitre_persistence", "T1543"],
    },
    RuleSpec {
        enabled: |f| f.consensus_outbound,
        name: "DEAAP Unexpected Outbound Connection From Consensus",
        desc: "A pod of the blockchain namespace or a consensus pod (writer or validator image) \
               connected to an address outside the private networks (the backup image's jobs, \
               which upload the nodes' state to the bucket, aside).",
        template: "consensus_outbound",
        headline: "Unexpected outbound connection from a consensus workload",
        fields: "connection=%fd.name process=%proc.name command=%proc.cmdline",
        priority: Priority::Warning,
        tags: &[
            "deaap",
            "network",
            "consensus",
            "mitre_exfiltration",
            "T1041",
        ],
    },
];

/// The rules file of an environment: lists, then macros, then the enabled rules, each list and
/// macro kept only when something kept refers to it.
pub(crate) fn rules_file(env: &Environment) -> Result<Vec<Item>, TargetError> {
    let falco = &env.security.falco;
    let lists = vec![
        ("deaap_namespaces", namespaces(env)),
        ("deaap_data_readers", process_names(data_readers(env))),
        (
            "deaap_consensus_writers",
            process_names(consensus_writers(env)),
        ),
        ("deaap_consensus_images", consensus_images(env)),
        ("deaap_backup_images", backup_images(env)),
        (
            "deaap_shell_binaries",
            SHELLS.iter().map(|s| (*s).to_owned()).collect(),
        ),
        (
            "deaap_private_networks",
            PRIVATE_NETWORKS.iter().map(|s| (*s).to_owned()).collect(),
        ),
    ];
    let list_names: Vec<String> = lists.iter().map(|(n, _)| (*n).to_owned()).collect();
    let jinja = templates(list_names.clone())?;
    let vars = minijinja::context! {
        data_prefix => format!("{}/", falco.data_path.trim_end_matches('/')),
        blockchain_namespace => &env.namespaces.blockchain,
        backups => env.backup.enabled,
    };
    let condition = |name: &str| -> Result<String, TargetError> {
        let text = jinja.get_template(name)?.render(&vars)?;
        Ok(text.trim().to_owned())
    };

    let macros = [
        "deaap_container",
        "deaap_open_read",
        "deaap_open_write",
        "deaap_modify",
        "deaap_spawned_process",
        "deaap_outbound",
        "deaap_consensus_workload",
    ]
    .into_iter()
    .map(|name| Ok((name, condition(name)?)))
    .collect::<Result<Vec<_>, TargetError>>()?;

    let flags = &falco.rules;
    let mut rules = Vec::new();
    for spec in RULES {
        if (spec.enabled)(flags) {
            rules.push(Rule {
                rule: spec.name,
                desc: spec.desc,
                condition: condition(spec.template)?,
                output: format!("{} ({} {CONTEXT})", spec.headline, spec.fields),
                priority: spec.priority,
                source: "syscall",
                tags: spec.tags.to_vec(),
            });
        }
    }

    // Keep what the rules use, then what kept macros use, newest first so a macro's own
    // references are seen before it is decided.
    let mut used: BTreeSet<&str> = BTreeSet::new();
    for r in &rules {
        used.extend(identifiers(&r.condition));
    }
    let mut kept_macros = Vec::new();
    for (name, cond) in macros.iter().rev() {
        if used.contains(name) {
            used.extend(identifiers(cond));
            kept_macros.push(Macro {
                name: (*name).to_owned(),
                condition: cond.clone(),
            });
        }
    }
    kept_macros.reverse();

    let mut items = Vec::new();
    for (name, values) in lists {
        if used.contains(name) {
            let items_quoted = values
                .iter()
                .map(|v| quote(v, &list_names))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| TargetError(format!("falco list {name}: {e}")))?;
            items.push(Item::List(List {
                list: name.to_owned(),
                items: items_quoted,
            }));
        }
    }
    items.extend(kept_macros.into_iter().map(Item::Macro));
    items.extend(rules.into_iter().map(Item::Rule));
    Ok(items)
}

/// Words of a condition that could name a macro or a list.
fn identifiers(condition: &str) -> impl Iterator<Item = &str> {
    condition
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("deaap_"))
}

fn namespaces(env: &Environment) -> Vec<String> {
    env.namespaces.iter().map(|(_, n)| n.to_owned()).collect()
}

/// Processes allowed to read the data directory: services with `data_access` and
/// `extra_data_readers` (the backup and restore jobs are known by their image instead: they run
/// `tar`).
fn data_readers(env: &Environment) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = env
        .enabled_services()
        .filter(|(_, s)| s.data_access)
        .map(|(n, _)| n.clone())
        .collect();
    names.extend(env.security.falco.extra_data_readers.iter().cloned());
    names
}

/// The image repository of the backup and restore jobs, when backups run.
fn backup_images(env: &Environment) -> Vec<String> {
    if !env.backup.enabled {
        return Vec::new();
    }
    vec![repository(env, &env.backup.image)]
}

/// An image's repository as `container.image.repository` reports it: registry and path, no tag.
fn repository(env: &Environment, image: &crate::model::Image) -> String {
    crate::model::Image {
        tag: None,
        digest: None,
        ..image.clone()
    }
    .reference(&env.images.registry)
}

/// Processes allowed to write consensus validations: the writer service and the validators
/// (named after their image).
fn consensus_writers(env: &Environment) -> BTreeSet<String> {
    let validator = env
        .consensus
        .image
        .repository
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    [env.consensus.writer_service.clone(), validator]
        .into_iter()
        .filter(|n| !n.is_empty())
        .collect()
}

/// Image repositories (as `container.image.repository` reports them: registry and path, no tag)
/// of the consensus pods: the validators and the writer service.
fn consensus_images(env: &Environment) -> Vec<String> {
    let repo = |image: &crate::model::Image| repository(env, image);
    let mut images = BTreeSet::from([repo(&env.consensus.image)]);
    if let Some(s) = env.services.get(&env.consensus.writer_service)
        && s.enabled
    {
        images.insert(repo(&s.image));
    }
    images.into_iter().collect()
}

/// Each name, plus the 15-byte prefix the kernel keeps when it is longer.
fn process_names(names: BTreeSet<String>) -> Vec<String> {
    let mut out = BTreeSet::new();
    for n in names {
        if n.len() > COMM_LEN {
            let mut end = COMM_LEN;
            while !n.is_char_boundary(end) {
                end -= 1;
            }
            out.insert(n[..end].to_owned());
        }
        out.insert(n);
    }
    out.into_iter().collect()
}

/// The condition templates. `falco_str` knows the list names: Falco substitutes lists into the
/// condition text wherever their name stands between blanks, even inside a quoted string.
fn templates(list_names: Vec<String>) -> Result<minijinja::Environment<'static>, TargetError> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_filter("falco_str", move |value: String| {
        quote(&value, &list_names)
            .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e))
    });
    for (name, text) in [
        (
            "deaap_container",
            include_str!("../../../templates/falco/deaap_container.cond"),
        ),
        (
            "deaap_open_read",
            include_str!("../../../templates/falco/deaap_open_read.cond"),
        ),
        (
            "deaap_open_write",
            include_str!("../../../templates/falco/deaap_open_write.cond"),
        ),
        (
            "deaap_modify",
            include_str!("../../../templates/falco/deaap_modify.cond"),
        ),
        (
            "deaap_spawned_process",
            include_str!("../../../templates/falco/deaap_spawned_process.cond"),
        ),
        (
            "deaap_outbound",
            include_str!("../../../templates/falco/deaap_outbound.cond"),
        ),
        (
            "deaap_consensus_workload",
            include_str!("../../../templates/falco/deaap_consensus_workload.cond"),
        ),
        (
            "unauthorized_data_access",
            include_str!("../../../templates/falco/unauthorized_data_access.cond"),
        ),
        (
            "consensus_tampering",
            include_str!("../../../templates/falco/consensus_tampering.cond"),
        ),
        (
            "shell_in_container",
            include_str!("../../../templates/falco/shell_in_container.cond"),
        ),
        (
            "write_below_etc",
            include_str!("../../../templates/falco/write_below_etc.cond"),
        ),
        (
            "consensus_outbound",
            include_str!("../../../templates/falco/consensus_outbound.cond"),
        ),
    ] {
        env.add_template(name, text)?;
    }
    Ok(env)
}

/// A Falco filter string literal: double-quoted, with `"` and control characters escaped the way
/// Falco's lexer unescapes them. Refused: a backslash (Falco's lexer ends a string at a quote
/// after any backslash, so `\\"` cannot be written), other control characters, and a list name
/// standing between blanks (Falco would paste the list into the string).
pub(crate) fn quote(value: &str, list_names: &[String]) -> Result<String, String> {
    const DELIMS: &[char] = &[' ', '\t', '\n', '\r', '(', ')', ',', '='];
    if let Some(name) = value
        .split(DELIMS)
        .find(|w| list_names.iter().any(|n| n == w))
    {
        return Err(format!("{value:?} contains the Falco list name {name:?}"));
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\\' => {
                return Err(format!(
                    "{value:?} contains a backslash, which Falco cannot quote"
                ));
            }
            c if c.is_control() => {
                return Err(format!("{value:?} contains the control character {c:?}"));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    Ok(out)
}
