//! deaap-gen compiles one typed TOML model per DEAAP environment into every deployment artifact.
//!
//! The pipeline, one module per stage (ARCHITECTURE.md says where a change goes):
//!
//! 1. [`load`] reads an environment file and the files it `extends` (through [`fsafe`]), merging
//!    them into one tree where every value remembers the file and span that set it ([`source`]).
//! 2. [`validate`] checks that tree: the secret scan, the JSON Schema generated from the model, the
//!    values the model parses, then the semantic rules. Every problem is a
//!    [`diagnostic::Diagnostic`] with a code from [`codes`].
//! 3. [`model`] is the typed environment the tree becomes: quantities, schedules, durations and
//!    secret references are parsed once, into types of their own.
//! 4. [`plan`] lists every workload the environment runs, with its pods' facts: the one view that
//!    rules and targets share.
//! 5. [`targets`] turn the model and the plan into artifacts (path → bytes, with their Kubernetes
//!    objects, built with `targets::kit`); [`render`] holds the serializers they share.
//! 6. [`proof`] evaluates the artifacts the way the cluster would and reports what would fail there
//!    on the model key that causes it.
//! 7. [`output`] compares the artifacts with a committed tree or swaps them in under a lock;
//!    [`stream`] prints their objects as one YAML stream.
//!
//! [`crds`] holds the platform's own `CustomResourceDefinitions` (`deaap.io`), compiled in from
//! their hand-written source, for the target that writes them and the rules that check names.
//!
//! [`ops`] runs the stages for each command and returns typed results; [`cli`] only parses,
//! prints and maps results to exit codes.

pub mod bits;
pub mod cache;
pub mod cli;
pub mod codes;
pub mod crds;
pub mod diagnostic;
pub mod fsafe;
pub mod load;
pub mod model;
pub mod ops;
pub mod output;
pub mod parallel;
pub mod plan;
pub mod proof;
pub mod render;
pub mod source;
pub mod stream;
pub mod targets;
pub mod validate;

use diagnostic::Diagnostic;
use source::SourceMap;
use std::path::Path;

/// The result of compiling one environment file.
#[derive(Debug)]
pub struct Compiled {
    pub sources: SourceMap,
    pub diagnostics: Vec<Diagnostic>,
    /// The model; `Some` only when no error was found (warnings may remain).
    pub model: Option<model::Environment>,
    /// The merged tree the model came from, which later diagnostics (the proofs') point into;
    /// `Some` when the model is.
    pub tree: Option<load::Entry>,
}

/// Loads, layers and validates one environment file.
#[must_use]
pub fn compile(path: &Path) -> Compiled {
    let mut sources = SourceMap::default();
    let mut diagnostics = Vec::new();
    if let Some(d) = file_name_problem(path) {
        return Compiled {
            sources,
            diagnostics: vec![d],
            model: None,
            tree: None,
        };
    }
    let loaded = load::load(path, &mut sources, &mut diagnostics);
    let (model, tree) = match loaded {
        Some(l) if diagnostics.iter().all(|d| !d.is_error()) => {
            match validate::validate(&l.root, &mut diagnostics) {
                Some(m) => {
                    if let Some(told) = WHEN_VALID.get() {
                        told(m.services.len());
                    }
                    (Some(m), Some(l.root))
                }
                None => (None, None),
            }
        }
        _ => (None, None),
    };
    Compiled {
        sources,
        diagnostics,
        model,
        tree,
    }
}

/// What is told, as each environment file is found valid, how many services it declares.
static WHEN_VALID: std::sync::OnceLock<fn(usize)> = std::sync::OnceLock::new();

/// Has `told` called with the number of services of each environment file found valid, before
/// anything is generated from it (from every thread that compiles one): the binary sizes its
/// allocator's settings by it. Only the first call sets it.
pub fn when_valid(told: fn(usize)) {
    let _ = WHEN_VALID.set(told);
}

/// DG0007: an environment file whose name holds a control or other unprintable character. The
/// name is written into the header of every generated file, so it must be plain text.
fn file_name_problem(path: &Path) -> Option<Diagnostic> {
    let name = path.file_name()?.to_string_lossy();
    let c = validate::rules::value_syntax::unprintable(&name, false)
        .or_else(|| name.chars().find(|c| c.is_whitespace() && *c != ' '))?;
    Some(
        Diagnostic::error(
            "DG0007",
            format!(
                "the environment file name `{}` holds the character U+{:04X}",
                name.escape_debug(),
                u32::from(c)
            ),
        )
        .with_help("rename the file: its name is written into the header of every generated file"),
    )
}

/// The bundle of one valid environment: its artifacts, sorted by path.
///
/// # Errors
/// A target failure (a bug, reported as an internal error).
pub fn generate(
    env: &model::Environment,
    path: &Path,
) -> Result<Vec<targets::Artifact>, targets::TargetError> {
    generate_needed(env, path, targets::Need::Files)
}

/// [`generate`], with only what `need` asks for ([`targets::Need`]).
///
/// # Errors
/// As [`generate`].
pub fn generate_needed(
    env: &model::Environment,
    path: &Path,
    need: targets::Need,
) -> Result<Vec<targets::Artifact>, targets::TargetError> {
    let (out, ()) = generate_then(env, path, need, None, |_| ())?;
    Ok(out)
}

/// [`generate_needed`], running `meanwhile` on the artifacts as soon as every one but the chart
/// values is generated ([`targets::generate_then`]); for a build into the output folder `before`,
/// letting go of the files it holds already as they are made.
///
/// # Errors
/// As [`generate`].
pub fn generate_then<R: Send>(
    env: &model::Environment,
    path: &Path,
    need: targets::Need,
    before: Option<&crate::output::Before>,
    meanwhile: impl FnOnce(&[targets::Artifact]) -> R + Send,
) -> Result<(Vec<targets::Artifact>, R), targets::TargetError> {
    let source_name = path
        .file_name()
        .map_or_else(|| path.to_string_lossy(), |n| n.to_string_lossy());
    let cx = targets::Context::new(env, &source_name, before);
    targets::generate_then(&cx, need, meanwhile)
}

/// Loads and validates one environment file into the typed model; the error is the rendered
/// diagnostics (plain text). A convenience for tests and embedders.
///
/// # Errors
/// Every problem found, rendered.
pub fn load_model(path: &Path) -> Result<model::Environment, String> {
    let c = compile(path);
    match c.model {
        Some(m) => Ok(m),
        None => Err(c
            .diagnostics
            .iter()
            .map(|d| diagnostic::render::human(d, &c.sources, false))
            .collect::<Vec<_>>()
            .join("\n")),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    static TOLD: Mutex<Vec<usize>> = Mutex::new(Vec::new());

    /// A valid environment file tells the binary how many services it declares; other tests
    /// compiling at the same time are told too.
    #[test]
    fn a_valid_environment_tells_how_many_services_it_declares() {
        super::when_valid(|n| TOLD.lock().expect("lock").push(n));
        let c = super::compile(std::path::Path::new("environments/production.toml"));
        let services = c.model.expect("valid").services.len();
        assert!(services > 5);
        assert!(TOLD.lock().expect("lock").contains(&services));
    }
}
