//! The Argo CD config-management-plugin entry points (README "In a platform repository" and
//! deploy/argocd/README.md). `generate` runs in the application's source folder with the plugin's
//! parameters in the environment, and yields the chosen environment's Kubernetes objects; any
//! failure is an [`Error`] whose text is the one-line reason Argo CD shows, because an empty
//! stream with exit 0 would make Argo CD prune every object of the application.

use super::Error;
use super::inputs::{DEFAULT_DIR, declares_environment, resolve_inputs};
use crate::diagnostic::Diagnostic;
use crate::source::SourceMap;
use std::fmt::Write as _;
use std::path::{Component, PathBuf};

/// A parameter from `ARGOCD_APP_PARAMETERS` (JSON), then `PARAM_<NAME>`, then `ARGOCD_ENV_<env>`.
fn parameter(name: &str, env_fallback: &str) -> Result<Option<String>, String> {
    if let Ok(json) = std::env::var("ARGOCD_APP_PARAMETERS")
        && !json.trim().is_empty()
    {
        let params: serde_json::Value = serde_json::from_str(&json)
            .map_err(|e| format!("ARGOCD_APP_PARAMETERS is not valid JSON: {e}"))?;
        if let Some(found) = params
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p.get("name").and_then(serde_json::Value::as_str) == Some(name))
        {
            return match found.get("string").and_then(serde_json::Value::as_str) {
                Some(s) => Ok(Some(s.to_owned())),
                None => Err(format!("plugin parameter `{name}` must be a string")),
            };
        }
    }
    let upper: String = name
        .to_ascii_uppercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    for var in [
        format!("PARAM_{upper}"),
        format!("ARGOCD_ENV_{env_fallback}"),
    ] {
        if let Ok(v) = std::env::var(&var)
            && !v.is_empty()
        {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// The environment file the plugin parameters name, confined to the application folder.
fn chosen_file() -> Result<PathBuf, String> {
    let env = parameter("environment", "DEAAP_ENVIRONMENT")?
        .ok_or("no environment chosen: set the plugin parameter `environment` (or ARGOCD_ENV_DEAAP_ENVIRONMENT)")?;
    let valid = !env.is_empty()
        && env.len() <= 63
        && env
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(format!(
            "plugin parameter `environment` is {env:?}: expected an environment name (lowercase letters, digits, `-`)"
        ));
    }
    let dir_path = directory()?;
    let file = dir_path.join(format!("{env}.toml"));
    if !file.is_file() {
        return Err(format!("environment file `{}` not found", file.display()));
    }
    confine(&file)?;
    Ok(file)
}

/// Refuses a path that resolves (through symbolic links) outside the application folder: a
/// repository must not make the plugin render files from elsewhere on the repo-server.
fn confine(path: &std::path::Path) -> Result<(), String> {
    let app = std::env::current_dir()
        .and_then(std::fs::canonicalize)
        .map_err(|e| format!("cannot resolve the application folder: {e}"))?;
    let resolved = std::fs::canonicalize(path)
        .map_err(|e| format!("cannot resolve `{}`: {e}", path.display()))?;
    if resolved.starts_with(&app) {
        Ok(())
    } else {
        Err(format!(
            "`{}` leads outside the application folder (through a symbolic link); refusing to read it",
            path.display()
        ))
    }
}

/// The folder of environment files: the `directory` parameter, confined to the application folder.
fn directory() -> Result<PathBuf, String> {
    let dir = parameter("directory", "DEAAP_DIRECTORY")?.unwrap_or_else(|| DEFAULT_DIR.to_owned());
    let path = PathBuf::from(&dir);
    if dir.is_empty()
        || path
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(format!(
            "plugin parameter `directory` is {dir:?}: expected a relative folder inside the application"
        ));
    }
    if path.exists() {
        confine(&path)?;
    }
    Ok(path)
}

/// The objects of the chosen environment, for [`Manifests::write`].
#[derive(Debug)]
pub struct Manifests {
    /// What the targets generated: the stream is written from their objects, never held whole.
    artifacts: Vec<crate::targets::Artifact>,
    pub environment: String,
    /// The environment file the parameters chose.
    pub file: PathBuf,
    /// How many objects the stream holds.
    pub objects: usize,
}

/// `deaap-gen argocd generate`: the Kubernetes objects of the environment the plugin parameters
/// choose. The warnings of a valid environment go to `warning` as they are found.
///
/// # Errors
/// Bad parameters, a file outside the application folder, a partial, an invalid environment, or
/// one without Kubernetes objects; the message is the reason Argo CD shows.
pub fn generate(warning: &mut dyn FnMut(&Diagnostic, &SourceMap)) -> Result<Manifests, Error> {
    let file = chosen_file().map_err(Error::Plugin)?;
    if !declares_environment(&file) {
        return Err(Error::Plugin(format!(
            "`{}` has no [environment] table: it is a partial that environments extend, not an environment",
            file.display()
        )));
    }
    let mut compiled = crate::compile(&file);
    let artifacts = match (&compiled.model, &compiled.tree) {
        (Some(model), Some(tree)) => {
            let need = crate::targets::Need::Objects;
            let artifacts =
                crate::generate_needed(model, &file, need).map_err(|source| Error::Generate {
                    path: file.clone(),
                    source,
                })?;
            compiled
                .diagnostics
                .extend(crate::proof::prove(tree, model, &artifacts).0);
            Some(artifacts)
        }
        _ => None,
    };
    let (Some(model), Some(artifacts)) = (
        compiled
            .model
            .filter(|_| !compiled.diagnostics.iter().any(Diagnostic::is_error)),
        artifacts,
    ) else {
        let errors: Vec<String> = compiled
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| one_line(d, &compiled.sources))
            .collect();
        return Err(Error::Plugin(format!(
            "`{}` is invalid ({} error{}): {}",
            file.display(),
            errors.len(),
            super::plural(errors.len()),
            errors.join("; ")
        )));
    };
    for w in compiled.diagnostics.iter().filter(|d| !d.is_error()) {
        warning(w, &compiled.sources);
    }
    let objects = crate::stream::kubernetes_objects(&artifacts).map_err(Error::Stream)?;
    if objects.is_empty() {
        // Exit 0 with no objects would make Argo CD prune the whole application.
        return Err(Error::Plugin(format!(
            "environment `{}` produces no Kubernetes objects",
            model.environment.name
        )));
    }
    let count = objects.len();
    Ok(Manifests {
        artifacts,
        environment: model.environment.name,
        file,
        objects: count,
    })
}

impl Manifests {
    /// Writes the Kubernetes objects to `out` as one multi-document YAML stream (never empty), as
    /// `render` prints them.
    ///
    /// # Errors
    /// `out` fails.
    pub fn write(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        // `generate` listed these objects already, so this finds no conflict.
        let objects =
            crate::stream::kubernetes_objects(&self.artifacts).map_err(std::io::Error::other)?;
        crate::stream::write_stream(&objects, out)
    }
}

/// `file:line:col: error[CODE]: message`, with no source snippet and no newline.
#[must_use]
pub fn one_line(d: &Diagnostic, sources: &SourceMap) -> String {
    let at = d.labels.first().map_or_else(String::new, |l| {
        let (file, line, col) = sources.locate(&l.span);
        format!("{file}:{line}:{col}: ")
    });
    let severity = if d.is_error() { "error" } else { "warning" };
    let mut line = format!("{at}{severity}[{}]: {}", d.code, d.message);
    if let Some(h) = &d.help {
        let _ = write!(line, " (help: {h})");
    }
    line.replace(['\n', '\r'], " ")
}

/// `deaap-gen argocd discover`: the environment files of `environments/` (or the `directory`
/// parameter); empty when there are none (Argo CD matches on non-empty output).
///
/// # Errors
/// A `directory` parameter that is not a relative folder inside the application.
pub fn discover() -> Result<Vec<PathBuf>, Error> {
    let dir = directory().map_err(Error::Plugin)?;
    Ok(resolve_inputs(&[dir]).unwrap_or_default())
}
