//! DG0116 compose-platform: settings that only one platform understands are not silently lost on
//! the other.

use super::DiagnosticExt;
use crate::model::PlatformKind;
use crate::path;
use crate::validate::{Rule, RuleContext};

pub static RULE: Rule = Rule {
    code: "DG0116",
    name: "compose-platform",
    what: "On `platform = \"compose\"`, an enabled service with `autoscaling.enabled` is a warning \
           (Compose cannot autoscale; `replicas` is what runs). On `platform = \"kubernetes\"`, an \
           enabled service with `volumes` (host bind mounts) is an error, and one with `profiles` \
           is a warning. `gpu` works on both platforms, and `route` is simply unused on Compose.",
    why: "Each of these settings compiles to nothing on the other platform, so the file promises \
          behaviour the deployment does not have. Host bind mounts on Kubernetes would tie a pod \
          to one node's disk and are refused by the restricted pod security level; data that must \
          survive belongs in persistence.",
};

pub(super) fn check(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    for (name, s) in env.enabled_services() {
        match env.environment.platform {
            PlatformKind::Compose => {
                if let Some(a) = s.autoscaling.as_ref().filter(|a| a.enabled) {
                    let at = if cx
                        .tree()
                        .lookup(path!["services", name, "autoscaling", "enabled"].as_slice())
                        .1
                    {
                        path!["services", name, "autoscaling", "enabled"]
                    } else {
                        path!["services", name, "autoscaling"]
                    };
                    cx.warning(
                        RULE.code,
                        &at,
                        format!(
                            "service `{name}` autoscales {}–{}, but Compose cannot autoscale",
                            a.min_replicas, a.max_replicas
                        ),
                        "ignored on Compose",
                    )
                    .help(format!(
                        "set `autoscaling.enabled = false` for this environment; Compose runs `replicas` ({}) copies",
                        s.replicas
                    ));
                }
            }
            PlatformKind::Kubernetes => {
                if !s.volumes.is_empty() {
                    cx.error(
                        RULE.code,
                        path!["services", name, "volumes"],
                        format!("service `{name}` mounts host directories, which Kubernetes deployments may not"),
                        "host bind mounts",
                    )
                    .help("remove `volumes` in this environment (they are for Compose); keep data on a persistent volume, e.g. a storage backend with `persistence`");
                }
                if !s.profiles.is_empty() {
                    cx.warning(
                        RULE.code,
                        path!["services", name, "profiles"],
                        format!("service `{name}` has Compose `profiles`, which Kubernetes ignores"),
                        "ignored on Kubernetes",
                    )
                    .help("set `profiles` only in Compose environments; on Kubernetes use `enabled` to choose what runs");
                }
            }
        }
    }
}
