//! Which environment files the named inputs mean (README "Command line": `ENV_PATH`).

use super::Error;
use std::path::{Path, PathBuf};

/// The folder read when no input is named.
pub const DEFAULT_DIR: &str = "environments";

/// The environment files named by the inputs (default `environments/`), in a stable order.
///
/// # Errors
/// A path that does not exist or a folder without environments.
pub fn resolve_inputs(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let default = [PathBuf::from(DEFAULT_DIR)];
    let paths = if paths.is_empty() {
        &default[..]
    } else {
        paths
    };
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|source| Error::ReadFolder {
                    path: p.clone(),
                    source,
                })?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|f| f.extension().is_some_and(|x| x == "toml") && declares_environment(f))
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(Error::NoEnvironments { path: p.clone() });
            }
            out.extend(found);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(Error::NotFound { path: p.clone() });
        }
    }
    Ok(out)
}

/// The one environment file `command` (`render`, `graph`) compiles: `path` itself, unless it is a
/// folder.
///
/// # Errors
/// [`Error::FolderNotFile`], naming the environment files in the folder.
pub fn one_file(command: &'static str, path: &Path) -> Result<PathBuf, Error> {
    if !path.is_dir() {
        return Ok(path.to_path_buf());
    }
    Err(Error::FolderNotFile {
        command,
        path: path.to_path_buf(),
        found: resolve_inputs(&[path.to_path_buf()]).unwrap_or_default(),
    })
}

/// Whether a TOML file declares an environment (partials such as `base.toml` do not). A file that
/// does not parse counts as one, so its errors are reported rather than silently skipped.
#[must_use]
pub fn declares_environment(path: &Path) -> bool {
    let Ok(text) = crate::load::read_input(path) else {
        return true;
    };
    match toml::from_str::<toml::Table>(&text) {
        Ok(t) => t.contains_key("environment"),
        Err(_) => true,
    }
}
