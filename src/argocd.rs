//! The Argo CD config-management-plugin entry points (README "In a platform repository" and
//! deploy/argocd/README.md). `generate` runs in the application's source folder with the plugin's
//! parameters in the environment, and prints the chosen environment's Kubernetes objects on stdout;
//! on any error it exits non-zero with a one-line reason on stderr and nothing on stdout, because
//! an empty stream with exit 0 would make Argo CD prune every object of the application.

use crate::cli::fail;
use std::io::Write;
use std::path::{Component, PathBuf};

const DEFAULT_DIR: &str = "environments";

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

/// `deaap-gen argocd generate`. On success stdout is the object stream and stderr one log line;
/// on failure stdout is empty and stderr is a single line (Argo CD shows it in the UI as the
/// reason generation failed).
#[must_use]
pub fn generate() -> u8 {
    match stream() {
        Ok((stream, log)) => {
            let mut out = std::io::stdout().lock();
            if let Err(e) = out.write_all(stream.as_bytes()).and_then(|()| out.flush()) {
                return fail(&format!("cannot write the manifests to stdout: {e}"));
            }
            eprintln!("{log}");
            0
        }
        Err(e) => fail(&e.replace(['\n', '\r'], " ")),
    }
}

/// The chosen environment's object stream and a log line, or a one-line reason.
fn stream() -> Result<(String, String), String> {
    let file = chosen_file()?;
    if !crate::cli::declares_environment(&file) {
        return Err(format!(
            "`{}` has no [environment] table: it is a partial that environments extend, not an environment",
            file.display()
        ));
    }
    let compiled = crate::compile(&file);
    let errors: Vec<String> = compiled
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| one_line(d, &compiled.sources))
        .collect();
    let model = match compiled.model {
        Some(m) => m,
        None => {
            return Err(format!(
                "`{}` is invalid ({} error{}): {}",
                file.display(),
                errors.len(),
                if errors.len() == 1 { "" } else { "s" },
                errors.join("; ")
            ));
        }
    };
    for w in compiled.diagnostics.iter().filter(|d| !d.is_error()) {
        eprintln!("{}", one_line(w, &compiled.sources));
    }
    let artifacts = crate::generate(&model, &file)
        .map_err(|e| format!("internal error while generating `{}`: {e}", file.display()))?;
    let objects = crate::stream::kubernetes_objects(&artifacts)?;
    if objects.is_empty() {
        // Exit 0 with no objects would make Argo CD prune the whole application.
        return Err(format!(
            "environment `{}` produces no Kubernetes objects",
            model.environment.name
        ));
    }
    let count = objects.len();
    let stream = crate::stream::to_stream(objects)?;
    Ok((
        stream,
        format!(
            "deaap-gen: environment `{}` from `{}`: {count} objects",
            model.environment.name,
            file.display(),
        ),
    ))
}

/// `file:line:col: error[CODE]: message`, with no source snippet and no newline.
fn one_line(d: &crate::diagnostic::Diagnostic, sources: &crate::source::SourceMap) -> String {
    let at = d.labels.first().map_or_else(String::new, |l| {
        let (file, line, col) = sources.locate(&l.span);
        format!("{file}:{line}:{col}: ")
    });
    let severity = if d.is_error() { "error" } else { "warning" };
    let mut line = format!("{at}{severity}[{}]: {}", d.code, d.message);
    if let Some(h) = &d.help {
        line.push_str(&format!(" (help: {h})"));
    }
    line.replace(['\n', '\r'], " ")
}

/// `deaap-gen argocd discover`: lists the environment files of `environments/` (or the `directory`
/// parameter); exit 1 and no output when there are none.
#[must_use]
pub fn discover() -> u8 {
    let dir = match directory() {
        Ok(d) => d,
        Err(e) => return fail(&e),
    };
    match crate::cli::resolve_inputs(&[dir]) {
        Ok(files) => {
            let list: String = files.iter().map(|f| format!("{}\n", f.display())).collect();
            // A closed stdout means nobody is asking any more; the exit code still answers.
            let _ = std::io::stdout().lock().write_all(list.as_bytes());
            0
        }
        Err(_) => 1,
    }
}
