//! `init` and `new-env` (README "Your own platform repository"): start a platform repository, and
//! add an environment to one. Both only ever create files: an existing file is never overwritten,
//! and when any file `init` would write exists, nothing is written at all.

use super::Error;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The environments a new repository starts from: the shared partial and staging, the same
/// files this repository ships (so a new repository starts from the reference model).
const BASE: &str = include_str!("../../environments/base.toml");
const STAGING: &str = include_str!("../../environments/staging.toml");
const APPLICATION: &str = include_str!("../../deploy/argocd/application-staging.yaml");

/// Every file of a new platform repository, relative to its folder.
fn repository() -> Vec<(&'static str, String)> {
    let version = env!("CARGO_PKG_VERSION");
    vec![
        ("environments/base.toml", BASE.to_owned()),
        ("environments/staging.toml", STAGING.to_owned()),
        (
            "schema/deaap-environment.schema.json",
            crate::validate::schema::schema_text(),
        ),
        (".pre-commit-config.yaml", pre_commit(version)),
        (
            "deploy/argocd/application-staging.yaml",
            APPLICATION.to_owned(),
        ),
        ("README.md", readme()),
    ]
}

fn pre_commit(version: &str) -> String {
    format!(
        "# deaap-gen keeps generated/ in step with environments/: on commit, deaap-gen-build rewrites
# generated/ and fails when it changed something (stage the result and commit again).
# deaap-gen-diff only checks (use it in CI: `pre-commit run deaap-gen-diff --all-files`).
# Where deaap-gen is installed (release binary, `cargo install`, the container image), the
# -system variants run it instead of compiling it from source on first use.
repos:
  - repo: https://git.deaap.company.com/deaap/deaap-gen
    rev: v{version}
    hooks:
      - id: deaap-gen-build
      - id: deaap-gen-diff
        stages: [manual]
"
    )
}

fn readme() -> String {
    "# DEAAP platform

The DEAAP environments of this platform, compiled by deaap-gen.

- `environments/` — one TOML model per environment; `base.toml` holds what they share
  (it has no `[environment]` table, so it is not built on its own).
- `generated/` — everything deaap-gen compiles from them, committed: Kubernetes objects, Helm
  values, Istio, Prometheus rules, Falco, Gatekeeper, the audit policy, backups.
- `schema/` — the JSON Schema editors use (each environment file's `#:schema` line).
- `deploy/argocd/` — the Argo CD Application of each environment (the deaap-gen plugin).

```sh
deaap-gen build environments/     # compile every environment into generated/
deaap-gen check environments/     # prove the environments work as deployed systems
deaap-gen diff                    # what would change in generated/ (exit 1 on drift)
deaap-gen new-env qa --extends environments/staging.toml
```

`pre-commit install` keeps `generated/` in step on every commit.
"
    .to_owned()
}

/// Creates a platform repository in `dir` (created when missing): the environments, the editor
/// schema, the pre-commit configuration, an Argo CD Application and a README. Returns the files
/// written, relative to `dir`.
///
/// # Errors
/// [`Error::Exists`] naming every file that already exists (nothing is written then), or
/// [`Error::Create`] when a file cannot be written.
pub fn init(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let files = repository();
    let existing: Vec<PathBuf> = files
        .iter()
        .map(|(rel, _)| dir.join(rel))
        .filter(|p| p.symlink_metadata().is_ok())
        .collect();
    if !existing.is_empty() {
        return Err(Error::Exists { paths: existing });
    }
    let mut written = Vec::new();
    for (rel, text) in files {
        create(&dir.join(rel), &text)?;
        written.push(PathBuf::from(rel));
    }
    Ok(written)
}

/// Writes `environments/<name>.toml` next to `extends`: a layer on it with its own name and
/// cluster (two environments on one cluster may not share objects). Returns the new file.
///
/// # Errors
/// [`Error::EnvName`] for a name that is no DNS-1123 label, [`Error::NotFound`] when `extends`
/// does not exist, [`Error::Exists`] when the new file does, [`Error::Create`] when it cannot be
/// written.
pub fn new_env(name: &str, extends: &Path) -> Result<PathBuf, Error> {
    if !is_dns_label(name) {
        return Err(Error::EnvName {
            name: name.to_owned(),
        });
    }
    let parent_text = std::fs::read_to_string(extends).map_err(|_| Error::NotFound {
        path: extends.to_owned(),
    })?;
    let file_name = extends
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::NotFound {
            path: extends.to_owned(),
        })?;
    let path = extends.with_file_name(format!("{name}.toml"));
    if path.symlink_metadata().is_ok() {
        return Err(Error::Exists { paths: vec![path] });
    }
    let schema = parent_text
        .lines()
        .next()
        .filter(|l| l.starts_with("#:schema "))
        .map_or_else(String::new, |l| format!("{l}\n"));
    let text = format!(
        "{schema}# The {name} environment: everything {file_name} says, with the changes below
# (tables deep-merge; arrays and scalars replace).
extends = \"{file_name}\"

[environment]
name = \"{name}\"
# The Argo CD cluster it is deployed to. Two environments on one cluster must not share an
# object: on {file_name}'s cluster, give {name} its own [namespaces] and turn off the
# cluster-wide policies one of them already installs.
cluster = \"{name}\"
"
    );
    create(&path, &text)?;
    Ok(path)
}

/// A new file (never an existing one, nor through a link in its place), its folders created.
fn create(path: &Path, text: &str) -> Result<(), Error> {
    let fail = |source| Error::Create {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(fail)?;
    f.write_all(text.as_bytes()).map_err(fail)
}

fn is_dns_label(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_writes_a_repository_and_refuses_to_overwrite_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let written = init(dir.path()).expect("init");
        assert_eq!(written.len(), 6);
        for f in &written {
            assert!(dir.path().join(f).is_file(), "{}", f.display());
        }
        let staging =
            std::fs::read_to_string(dir.path().join("environments/staging.toml")).expect("staging");
        assert!(staging.starts_with("#:schema ../schema/deaap-environment.schema.json\n"));
        let before = std::fs::read_to_string(dir.path().join("README.md")).expect("README");
        std::fs::write(dir.path().join("README.md"), "mine").expect("write");
        let Err(Error::Exists { paths }) = init(dir.path()) else {
            panic!("a second init must refuse");
        };
        assert_eq!(paths.len(), 6);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("README.md")).expect("README"),
            "mine"
        );
        assert_ne!(before, "mine");
    }

    #[test]
    fn new_env_layers_on_its_parent_and_refuses_bad_names_and_existing_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        init(dir.path()).expect("init");
        let staging = dir.path().join("environments/staging.toml");
        let qa = new_env("qa", &staging).expect("new-env");
        let text = std::fs::read_to_string(&qa).expect("qa");
        assert!(text.starts_with("#:schema ../schema/deaap-environment.schema.json\n"));
        assert!(text.contains("extends = \"staging.toml\""));
        assert!(text.contains("name = \"qa\""));
        assert!(matches!(new_env("qa", &staging), Err(Error::Exists { .. })));
        assert!(matches!(
            new_env("Q_A", &staging),
            Err(Error::EnvName { .. })
        ));
        assert!(matches!(
            new_env("x", &dir.path().join("environments/none.toml")),
            Err(Error::NotFound { .. })
        ));
    }
}
