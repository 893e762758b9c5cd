//! The Argo CD config-management-plugin entry points (CONTRACTS.md Part B §1). `generate` runs in the
//! application's source folder with the plugin's parameters in the environment, and prints the
//! chosen environment's Kubernetes objects on stdout; on any error it exits non-zero with a one-line
//! reason on stderr and nothing on stdout, because an empty stream with exit 0 would make Argo CD
//! prune every object of the application.

use crate::cli::{Format, Inputs, compile_all, fail};
use std::path::{Component, Path, PathBuf};

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
        return Err("plugin parameter `environment` must be an environment name (lowercase letters, digits, `-`)".to_owned());
    }
    let dir = parameter("directory", "DEAAP_DIRECTORY")?.unwrap_or_else(|| DEFAULT_DIR.to_owned());
    let dir_path = Path::new(&dir);
    if dir_path
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(
            "plugin parameter `directory` must be a relative folder inside the application"
                .to_owned(),
        );
    }
    let file = dir_path.join(format!("{env}.toml"));
    if !file.is_file() {
        return Err(format!("environment file `{}` not found", file.display()));
    }
    Ok(file)
}

/// `deaap-gen argocd generate`.
#[must_use]
pub fn generate() -> u8 {
    let file = match chosen_file() {
        Ok(f) => f,
        Err(e) => return fail(&e),
    };
    let Some(units) = compile_all(
        &Inputs {
            paths: vec![file.clone()],
        },
        Format::Human,
    ) else {
        return fail(&format!(
            "`{}` is invalid (see the diagnostics above)",
            file.display()
        ));
    };
    let Some(unit) = units.into_iter().next() else {
        return fail("no environment compiled");
    };
    match crate::stream::kubernetes_stream(&unit.artifacts) {
        Ok(s) if !s.trim().is_empty() => {
            print!("{s}");
            0
        }
        Ok(_) => fail(&format!(
            "environment `{}` produces no Kubernetes objects",
            unit.tree.environment
        )),
        Err(e) => fail(&e),
    }
}

/// `deaap-gen argocd discover`: lists the environment files of `environments/` (or the `directory`
/// parameter); exit 1 and no output when there are none.
#[must_use]
pub fn discover() -> u8 {
    let dir = match parameter("directory", "DEAAP_DIRECTORY") {
        Ok(d) => d.unwrap_or_else(|| DEFAULT_DIR.to_owned()),
        Err(e) => return fail(&e),
    };
    match crate::cli::resolve_inputs(&[PathBuf::from(&dir)]) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            0
        }
        Err(_) => 1,
    }
}
