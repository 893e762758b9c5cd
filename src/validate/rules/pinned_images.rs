//! DG0111 pinned-images: production runs images that cannot change under it.

use super::{DiagnosticExt, join, model_path};
use crate::load::Seg;
use crate::model::{Image, Tier};
use crate::path;
use crate::validate::{Rule, RuleContext};

pub static RULE: Rule = Rule {
    code: "DG0111",
    name: "pinned-images",
    what: "In production every image of an enabled service, storage backend, the blockchain nodes, \
           the consensus validators, the backup job, the log collector (`logging.image`) and the \
           injected Istio proxy and Vault agent (`security.mesh.proxy_image`, \
           `security.vault.agent_image`) is pinned: a `digest`, or \
           a version-like `tag` (`1.4.2`, `v1.11.3`, `16.4-alpine`: at least major.minor). A missing tag (which \
           means `latest`), `latest`, `latest-*` and moving names such as `dev`, `main`, `master`, \
           `stable`, `edge` or `nightly` are errors in production and warnings in staging; \
           development may use anything. A malformed tag or digest is an error in every tier.",
    why: "A moving tag makes the deployment depend on when a node pulled the image: two replicas \
          of one release can run different code, a rollback does not roll back, and a compromised \
          registry push goes live on the next restart. The seed's backup job ran \
          `backup-service:latest` in production.",
};

const MOVING: [&str; 20] = [
    "latest",
    "dev",
    "devel",
    "develop",
    "development",
    "main",
    "master",
    "trunk",
    "head",
    "stable",
    "edge",
    "nightly",
    "canary",
    "snapshot",
    "current",
    "release",
    "prod",
    "production",
    "staging",
    "test",
];

pub(super) fn check(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    let tier = env.environment.tier;
    let mut images: Vec<(Vec<Seg>, &Image, String)> = cx
        .workloads
        .iter()
        .filter(|w| w.enabled)
        .map(|w| (join(&model_path(w), &["image"]), w.image, w.describe()))
        .collect();
    if env.backup.enabled {
        images.push((
            path!["backup", "image"],
            &env.backup.image,
            "the backup job".to_owned(),
        ));
    }
    if let Some(logging) = env.collected_logging() {
        images.push((
            path!["logging", "image"],
            &logging.image,
            "the log collector".to_owned(),
        ));
    }
    // The images the injectors add to pods, when the model names them.
    let mesh = &env.security.mesh;
    if let Some(image) = mesh.proxy_image.as_ref().filter(|_| mesh.sidecar_injection) {
        images.push((
            path!["security", "mesh", "proxy_image"],
            image,
            "the injected Istio proxy".to_owned(),
        ));
    }
    let vault = &env.security.vault;
    if let Some(image) = vault.agent_image.as_ref().filter(|_| vault.enabled) {
        images.push((
            path!["security", "vault", "agent_image"],
            image,
            "the injected Vault agent".to_owned(),
        ));
    }
    for (p, image, who) in images {
        if let Some(d) = &image.digest {
            if let Some(problem) = digest_problem(d) {
                cx.error(
                    RULE.code,
                    join(&p, &["digest"]),
                    format!("image digest of {who} is malformed: {problem}"),
                    "malformed digest",
                )
                .help("a digest is `sha256:` followed by 64 lower-case hex digits, as `docker buildx imagetools inspect` prints it");
            }
            continue;
        }
        let tag = image.tag.as_deref();
        if let Some(t) = tag
            && !valid_tag(t)
        {
            cx.error(
                RULE.code,
                join(&p, &["tag"]),
                format!("image tag `{t}` of {who} is not a valid tag"),
                "invalid tag",
            )
            .help("a tag is up to 128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-`");
            continue;
        }
        let problem = match tag {
            None => "has no tag or digest, so it runs `latest`".to_owned(),
            Some(t) if is_moving(t) => format!("uses the moving tag `{t}`"),
            Some(t) if !version_like(t) => format!("uses `{t}`, which is not a version"),
            Some(_) => continue,
        };
        let message = format!("image `{}` of {who} {problem}", image.repository);
        let help = "pin a version tag such as `tag = \"2.3.1\"`, or a `digest = \"sha256:…\"`";
        let at = if tag.is_some() {
            join(&p, &["tag"])
        } else {
            p.clone()
        };
        match tier {
            Tier::Production => {
                cx.error(RULE.code, &at, message, "not pinned")
                    .help(format!(
                        "{help}; production may not run an image that can change under it"
                    ));
            }
            Tier::Staging => {
                cx.warning(RULE.code, &at, message, "not pinned")
                    .help(format!(
                        "{help}; staging should test the exact image production will run"
                    ));
            }
            Tier::Development => {}
        }
    }
}

fn is_moving(t: &str) -> bool {
    let l = t.to_ascii_lowercase();
    MOVING.contains(&l.as_str()) || l.starts_with("latest-") || l.ends_with("-latest")
}

/// `v1.2`, `1.2.3`, `16.4-alpine`: a major and a minor number at the start.
fn version_like(t: &str) -> bool {
    let t = t.strip_prefix(['v', 'V']).unwrap_or(t);
    let mut parts = t.splitn(3, '.');
    let major = parts.next().unwrap_or("");
    let minor: String = parts
        .next()
        .unwrap_or("")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    !major.is_empty() && major.chars().all(|c| c.is_ascii_digit()) && !minor.is_empty()
}

fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && !t.starts_with(['.', '-'])
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn digest_problem(d: &str) -> Option<&'static str> {
    let Some((alg, hex)) = d.split_once(':') else {
        return Some("it has no `algorithm:` prefix");
    };
    let is_hex = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    };
    match alg {
        "sha256" if hex.len() == 64 && is_hex(hex) => None,
        "sha512" if hex.len() == 128 && is_hex(hex) => None,
        "sha256" => Some("a sha256 digest is 64 lower-case hex digits"),
        "sha512" => Some("a sha512 digest is 128 lower-case hex digits"),
        _ => Some("the algorithm is not `sha256` or `sha512`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_like_tags() {
        for t in [
            "1.4.2",
            "v1.11.3",
            "16.4-alpine",
            "7.2.5-alpine",
            "0.9",
            "2024.01",
        ] {
            assert!(version_like(t) && !is_moving(t), "{t}");
        }
        for t in ["7", "v2", "alpine", "sha-abc", "1.x"] {
            assert!(!version_like(t), "{t}");
        }
        for t in [
            "latest",
            "LATEST",
            "latest-alpine",
            "alpine-latest",
            "dev",
            "main",
            "nightly",
        ] {
            assert!(is_moving(t), "{t}");
        }
    }

    #[test]
    fn tags_and_digests() {
        assert!(valid_tag("1.0_rc-1") && !valid_tag("-x") && !valid_tag("a:b") && !valid_tag(""));
        assert_eq!(digest_problem(&format!("sha256:{}", "a".repeat(64))), None);
        assert!(digest_problem("sha256:abc").is_some());
        assert!(digest_problem(&format!("sha256:{}", "A".repeat(64))).is_some());
        assert!(digest_problem("md5:abc").is_some());
        assert!(digest_problem("abc").is_some());
    }
}
