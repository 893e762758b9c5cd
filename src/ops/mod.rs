//! The operations behind the command line (README "Command line"), as a library: each one takes
//! typed inputs, returns typed results or an [`Error`], and never prints. The command line (the
//! `cli` module) parses the arguments, calls these, prints what they return and maps it to an exit
//! code; an embedder or a test calls them the same way.
//!
//! - [`compile`]: resolve the named inputs and compile every environment into a [`Workspace`]
//!   (the diagnostics come back per file, with their sources, for the caller to render);
//! - [`build`]: write the output folder under its lock;
//! - [`diff`]: how an output folder differs from what the model compiles to (`diff`,
//!   `build --check`);
//! - [`render`]: the Kubernetes object stream of one environment;
//! - [`argocd`]: the Argo CD config-management-plugin entry points;
//! - [`flows`]: the connection matrix of `check --flows` and the service graph of `graph`.

pub mod argocd;
pub mod build;
pub mod compile;
pub mod diff;
pub mod flows;
pub mod inputs;
pub mod kept;
pub mod render;
pub mod scaffold;

pub use compile::{Compilation, FileReport, Status, Unit, Workspace, compile_all, compile_all_for};

use std::io;
use std::path::PathBuf;

/// Whether `inputs` name whole folders of environments (none named: the default `environments/`).
/// Only then is an environment folder in the output that none of them produces stale: naming
/// single files says nothing about the environments left out.
#[must_use]
pub fn covers_folders(inputs: &[PathBuf]) -> bool {
    inputs.iter().all(|p| p.is_dir())
}

/// Why an operation failed. Every failure is exit code 2 (README "Command line"); drift is a
/// result, not an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A named input folder could not be listed.
    #[error("cannot read folder `{}`: {source}", path.display())]
    ReadFolder { path: PathBuf, source: io::Error },
    /// A named input folder holds no environment file (partials do not count).
    #[error(
        "no environment files in `{}` (a file needs an [environment] table)",
        path.display()
    )]
    NoEnvironments { path: PathBuf },
    /// A named input is neither a file nor a folder.
    #[error("`{}` does not exist", path.display())]
    NotFound { path: PathBuf },
    /// Two environment files declare the same environment.
    #[error(
        "`{}` and `{}` both declare environment `{name}`; their output folders would collide",
        first.display(),
        second.display()
    )]
    DuplicateEnvironment {
        name: String,
        first: PathBuf,
        second: PathBuf,
    },
    /// A target failed on a valid model (a bug).
    #[error("internal error while generating `{}`: {source}", path.display())]
    Generate {
        path: PathBuf,
        source: crate::targets::TargetError,
    },
    /// The output index could not be serialized (a bug).
    #[error("internal error: {0}")]
    Index(#[source] serde_json::Error),
    /// Some inputs did not compile; their diagnostics are in the [`Compilation`].
    #[error("{files} environment file{} did not compile", plural(*files))]
    Invalid { files: usize },
    /// The output folder could not be read for the comparison.
    #[error(transparent)]
    Compare(io::Error),
    /// The output folder, or one environment's folder in it, could not be written.
    #[error("writing {}: {reason}", path.display())]
    Write {
        path: PathBuf,
        reason: crate::output::WriteError,
    },
    /// The output folder could not be listed for orphaned environments.
    #[error("listing {}: {source}", path.display())]
    List { path: PathBuf, source: io::Error },
    /// An orphaned environment's generated files could not be removed.
    #[error("removing {}: {source}", path.display())]
    RemoveOrphan { path: PathBuf, source: io::Error },
    /// A command that compiles one environment (`render`, `graph`) was given a folder.
    #[error(
        "`{command}` takes one environment file, and `{}` is a folder{}",
        path.display(),
        folder_listing(command, found)
    )]
    FolderNotFile {
        command: &'static str,
        path: PathBuf,
        /// The environment files in the folder.
        found: Vec<PathBuf>,
    },
    /// `render` was given nothing to compile.
    #[error("no environment compiled")]
    NothingCompiled,
    /// `render` of an environment without Kubernetes objects.
    #[error("environment `{environment}` has no Kubernetes objects")]
    NoObjects { environment: String },
    /// The object stream could not be assembled (a generator bug, named in the message).
    #[error("{0}")]
    Stream(String),
    /// The flows of an environment could not be evaluated (a generator bug, or a file changed
    /// while it was read).
    #[error("cannot evaluate the network of {0}")]
    Flows(String),
    /// The Argo CD plugin refused its parameters or the chosen file (README "In a platform
    /// repository"); the message is the reason Argo CD shows.
    #[error("{0}")]
    Plugin(String),
    /// `init` or `new-env` would overwrite files.
    #[error(
        "{} already exist{}: {}; nothing was written",
        if paths.len() == 1 { "a file" } else { "files" },
        if paths.len() == 1 { "s" } else { "" },
        paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    Exists { paths: Vec<PathBuf> },
    /// A file of `init` or `new-env` could not be created.
    #[error("cannot create {}: {source}", path.display())]
    Create { path: PathBuf, source: io::Error },
    /// `new-env` was given a name that cannot name an environment.
    #[error(
        "`{name}` cannot name an environment: use lowercase letters, digits and `-` (a DNS-1123 label, at most 63 characters)"
    )]
    EnvName { name: String },
}

impl Error {
    /// The process exit code of this failure: 2 for every one (README "Command line").
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        2
    }
}

/// What [`Error::FolderNotFile`] says of the folder's environment files.
fn folder_listing(command: &str, found: &[PathBuf]) -> String {
    let Some(first) = found.first() else {
        return " without environment files".to_owned();
    };
    let names: Vec<String> = found.iter().map(|f| format!("`{}`", f.display())).collect();
    format!(
        " holding {}: name one, e.g. `deaap-gen {command} {}`",
        names.join(", "),
        first.display()
    )
}

/// `s` unless there is exactly one.
#[must_use]
pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
