//! `render` (README "Command line"): the Kubernetes objects of one environment as one YAML stream.

use super::{Error, Workspace};

/// The object stream of the first (for `render`, the only) environment of `ws`.
///
/// # Errors
/// Nothing was compiled, the environment has no Kubernetes objects, or an artifact is not valid
/// YAML (a generator bug).
pub fn render(ws: &Workspace) -> Result<String, Error> {
    let unit = ws.units.first().ok_or(Error::NothingCompiled)?;
    let stream = crate::stream::kubernetes_stream(&unit.artifacts).map_err(Error::Stream)?;
    if stream.is_empty() {
        return Err(Error::NoObjects {
            environment: unit.tree.environment.clone(),
        });
    }
    Ok(stream)
}
