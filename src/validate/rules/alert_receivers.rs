//! DG0136 alert-receivers: every Alertmanager receiver has the settings and credentials its kind
//! needs, and nothing of another kind; its credentials are Vault references Alertmanager can read.

use super::{DiagnosticExt, is_dns_label};
use crate::model::{NULL_RECEIVER, Receiver, ReceiverKind, SecretRef};
use crate::path;
use crate::validate::{Rule, RuleContext};

pub static RULE: Rule = Rule {
    code: "DG0136",
    name: "alert-receivers",
    what: "Each `[monitoring.alertmanager.receivers.<name>]` is named with a DNS-1123 label other \
           than `null`, has the settings its `kind` requires (Slack: `channel`; email: `to`, \
           `from`, `smarthost`; webhook: an `http(s)://` `url`) and none of another kind, and its \
           `secrets` are exactly the kind's credentials (`api_url` for Slack, `routing_key` for \
           PagerDuty, optional `auth_password` for email and `bearer_token` for a webhook), each a \
           `vault:` reference with `security.vault.enabled` where Alertmanager is generated.",
    why: "Alertmanager refuses a Slack receiver without its webhook URL and ignores settings of \
          another integration, so a misplaced key silently notifies no one. Credentials reach \
          Alertmanager only through the Secret the Vault sync fills: a `file:` or `env:` \
          reference names nothing inside the cluster. The receiver's name becomes part of a \
          Secret key, and `null` is the generated receiver of the stack's Watchdog alert.",
};

pub(super) fn check(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    let Some(am) = &env.monitoring.alertmanager else {
        return;
    };
    let generated = env.is_kubernetes() && env.monitoring.enabled;
    for (name, r) in &am.receivers {
        let base = path!["monitoring", "alertmanager", "receivers", name];
        if !is_dns_label(name) || name == NULL_RECEIVER {
            cx.key_error(
                RULE.code,
                &base,
                format!("receiver name `{name}` is reserved or not a DNS-1123 label"),
                "invalid receiver name",
            )
            .help("name receivers with lower-case letters, digits and `-`, e.g. `slack-platform`; `null` is the Watchdog's receiver");
        }
        settings(cx, name, r);
        credentials(cx, name, r, generated);
    }
}

fn settings(cx: &mut RuleContext<'_>, name: &str, r: &Receiver) {
    let kind = r.kind.as_str();
    let base = path!["monitoring", "alertmanager", "receivers", name];
    let wanted = r.kind.settings();
    for key in Receiver::SETTINGS {
        let needed = wanted.iter().find(|(k, _)| *k == key);
        match (r.setting(key), needed) {
            (Some(_), None) => {
                cx.error(
                    RULE.code,
                    path!["monitoring", "alertmanager", "receivers", name, key],
                    format!("receiver `{name}` is `{kind}`, which has no `{key}`"),
                    "not a setting of this kind",
                )
                .help(format!(
                    "a `{kind}` receiver takes {}",
                    listing(wanted.iter().map(|(k, _)| *k))
                ));
            }
            (None, Some((_, true))) => {
                cx.key_error(
                    RULE.code,
                    &base,
                    format!("`{kind}` receiver `{name}` has no `{key}`"),
                    format!("`{key}` missing"),
                )
                .help(format!("set `{key}` in the receiver's table"));
            }
            _ => {}
        }
    }
    if r.kind == ReceiverKind::Webhook
        && let Some(url) = &r.url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        cx.error(
            RULE.code,
            path!["monitoring", "alertmanager", "receivers", name, "url"],
            format!("webhook receiver `{name}`'s `url` is not an http(s) URL"),
            "not an http(s) URL",
        )
        .help("write the endpoint as `https://host/path`; a token goes to `secrets.bearer_token`");
    }
}

fn credentials(cx: &mut RuleContext<'_>, name: &str, r: &Receiver, generated: bool) {
    let kind = r.kind.as_str();
    let base = path!["monitoring", "alertmanager", "receivers", name];
    let wanted = r.kind.secret_keys();
    for (key, reference) in &r.secrets {
        let p = path![
            "monitoring",
            "alertmanager",
            "receivers",
            name,
            "secrets",
            key
        ];
        if !wanted.iter().any(|(k, _)| k == key) {
            cx.key_error(
                RULE.code,
                &p,
                format!("receiver `{name}` is `{kind}`, which has no credential `{key}`"),
                "not a credential of this kind",
            )
            .help(format!(
                "a `{kind}` receiver's `secrets` take {}",
                listing(wanted.iter().map(|(k, _)| *k))
            ));
        } else if generated && !matches!(reference, SecretRef::Vault { .. }) {
            cx.error(
                RULE.code,
                &p,
                format!(
                    "receiver `{name}`'s `{key}` is a `{}:` reference, which Alertmanager cannot read",
                    reference.scheme()
                ),
                "not a Vault reference",
            )
            .help("use `vault:<path>#<key>`: the Vault sync puts it into the Secret Alertmanager mounts");
        } else if generated && !cx.env.security.vault.enabled {
            cx.error(
                RULE.code,
                &p,
                format!("receiver `{name}`'s `{key}` is a Vault reference, but Vault is disabled"),
                "needs Vault",
            )
            .help("set `security.vault.enabled = true`");
        }
    }
    for (key, required) in wanted {
        if *required && !r.secrets.contains_key(*key) {
            cx.key_error(
                RULE.code,
                &base,
                format!("`{kind}` receiver `{name}` has no `secrets.{key}`"),
                format!("`secrets.{key}` missing"),
            )
            .help(format!(
                "add `secrets = {{ {key} = \"vault:<path>#<key>\" }}` to the receiver"
            ));
        }
    }
}

fn listing<'a>(keys: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<String> = keys.map(|k| format!("`{k}`")).collect();
    if v.is_empty() {
        "none".to_owned()
    } else {
        v.join(", ")
    }
}
