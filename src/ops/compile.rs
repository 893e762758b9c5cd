//! Compiling the named inputs: every environment file is loaded, validated and generated, and its
//! diagnostics are kept with their sources for the caller to render (README "Command line":
//! diagnostics go to stderr). Nothing may be written unless every input compiled.

use super::Error;
use crate::diagnostic::Diagnostic;
use crate::output;
use crate::source::SourceMap;
use std::path::{Path, PathBuf};

/// A compiled, valid environment ready for the targets.
#[derive(Debug)]
pub struct Unit {
    pub path: PathBuf,
    pub tree: output::Tree,
    pub artifacts: Vec<crate::targets::Artifact>,
    /// What the proofs established about it.
    pub proof: crate::proof::Summary,
}

/// How one input file fared.
#[derive(Debug)]
pub enum Status {
    /// It compiled into a [`Unit`] (warnings may remain).
    Compiled,
    /// Its diagnostics hold at least one error.
    Invalid,
    /// It is valid on its own but could not be used; the error says why.
    Failed(Error),
}

/// One input file's diagnostics, with the sources they point into, and its status.
#[derive(Debug)]
pub struct FileReport {
    pub path: PathBuf,
    pub sources: SourceMap,
    pub diagnostics: Vec<Diagnostic>,
    pub status: Status,
}

/// Every input compiled: a report per file in input order, and the units of those that compiled.
#[derive(Debug)]
pub struct Compilation {
    /// The inputs as they were named (empty for the default `environments/`).
    pub inputs: Vec<PathBuf>,
    pub files: Vec<FileReport>,
    pub units: Vec<Unit>,
}

impl Compilation {
    /// The compiled environments, when every input compiled.
    ///
    /// # Errors
    /// [`Error::Invalid`] when any input did not compile (its report says why).
    pub fn into_workspace(self) -> Result<Workspace, Error> {
        let failed = self
            .files
            .iter()
            .filter(|f| !matches!(f.status, Status::Compiled))
            .count();
        if failed > 0 {
            return Err(Error::Invalid { files: failed });
        }
        Ok(Workspace {
            inputs: self.inputs,
            units: self.units,
        })
    }
}

/// Every named environment, compiled and valid: what `build`, `diff` and `render` work on.
#[derive(Debug)]
pub struct Workspace {
    /// The inputs as they were named (empty for the default `environments/`).
    pub inputs: Vec<PathBuf>,
    pub units: Vec<Unit>,
}

impl Workspace {
    /// Whether the inputs name whole folders of environments (the default `environments/` too).
    /// Only then is an environment folder in the output that none of them produces stale: naming
    /// single files says nothing about the environments left out.
    #[must_use]
    pub fn covers_folders(&self) -> bool {
        self.inputs.iter().all(|p| p.is_dir())
    }

    /// Environments with output in `out` that the inputs no longer produce (none when the inputs
    /// are single files).
    ///
    /// # Errors
    /// `out` exists but cannot be listed.
    pub fn orphans(&self, out: &Path) -> std::io::Result<Vec<String>> {
        if !self.covers_folders() {
            return Ok(Vec::new());
        }
        let keep: Vec<&str> = self
            .units
            .iter()
            .map(|u| u.tree.environment.as_str())
            .collect();
        output::orphans(out, &keep)
    }
}

/// Compiles every environment file the inputs name (default `environments/`). Each file's
/// diagnostics come back in its [`FileReport`]; a file that fails does not stop the others.
///
/// # Errors
/// The inputs name a path that does not exist or a folder without environments.
pub fn compile_all(inputs: &[PathBuf]) -> Result<Compilation, Error> {
    let files = super::inputs::resolve_inputs(inputs)?;
    let mut compilation = Compilation {
        inputs: inputs.to_vec(),
        files: Vec::new(),
        units: Vec::new(),
    };
    // Every environment name met so far, even of an environment that then failed to generate.
    let mut names: Vec<(String, PathBuf)> = Vec::new();
    for f in files {
        let mut c = crate::compile(&f);
        let status = match (&c.model, &c.tree) {
            (Some(model), Some(tree)) => match unit(&mut names, model, &f) {
                Ok(mut u) => {
                    let (found, summary) = crate::proof::prove(tree, model, &u.artifacts);
                    let refused = found.iter().any(Diagnostic::is_error);
                    c.diagnostics.extend(found);
                    u.proof = summary;
                    if refused {
                        Status::Invalid
                    } else {
                        compilation.units.push(u);
                        Status::Compiled
                    }
                }
                Err(e) => Status::Failed(e),
            },
            _ => Status::Invalid,
        };
        compilation.files.push(FileReport {
            path: f,
            sources: c.sources,
            diagnostics: c.diagnostics,
            status,
        });
    }
    Ok(compilation)
}

/// The unit of one valid environment, unless an earlier file declares the same environment.
fn unit(
    names: &mut Vec<(String, PathBuf)>,
    model: &crate::model::Environment,
    path: &Path,
) -> Result<Unit, Error> {
    let name = &model.environment.name;
    if let Some((_, other)) = names.iter().find(|(n, _)| n == name) {
        return Err(Error::DuplicateEnvironment {
            name: name.clone(),
            first: other.clone(),
            second: path.to_path_buf(),
        });
    }
    names.push((name.clone(), path.to_path_buf()));
    let artifacts = crate::generate(model, path).map_err(|source| Error::Generate {
        path: path.to_path_buf(),
        source,
    })?;
    let tree = output::tree(model, &artifacts).map_err(Error::Index)?;
    Ok(Unit {
        path: path.to_path_buf(),
        tree,
        artifacts,
        proof: crate::proof::Summary::default(),
    })
}
