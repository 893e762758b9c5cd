//! Test helpers shared by the targets' unit tests: load a shipped environment or fixture through
//! the real loader, and run one target on it, keyed by output path.

use super::{Artifact, Context, Target, TargetError};
use crate::model::Environment;
use std::collections::BTreeMap;
use std::path::Path;

/// Loads an environment file given relative to the crate root, panicking with its diagnostics.
pub(crate) fn load(rel: &str) -> Environment {
    crate::load_model(&Path::new(env!("CARGO_MANIFEST_DIR")).join(rel))
        .unwrap_or_else(|e| panic!("{rel} loads: {e}"))
}

/// Runs `target` on `env`: its artifacts as it generated them.
pub(crate) fn artifacts(
    target: &dyn Target,
    env: &Environment,
) -> Result<Vec<Artifact>, TargetError> {
    target.generate(&Context::new(env, "test.toml", None))
}

/// Runs `target` on `env`: each artifact's text by its path.
pub(crate) fn generate(
    target: &dyn Target,
    env: &Environment,
) -> Result<BTreeMap<String, String>, TargetError> {
    Ok(artifacts(target, env)?
        .into_iter()
        .map(|a| {
            let text = String::from_utf8(a.bytes.to_vec()).expect("generated text is UTF-8");
            (a.path, text)
        })
        .collect())
}
