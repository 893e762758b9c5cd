//! `render` (README "Command line"): the Kubernetes objects of one environment as one YAML stream.

use super::{Error, Workspace};
use crate::targets::kit::Object;

/// The objects of the first (for `render`, the only) environment of `ws`, in stream order, for
/// [`crate::stream::write_stream`].
///
/// # Errors
/// Nothing was compiled, the environment has no Kubernetes objects, or two artifacts hold the same
/// object (a generator bug).
pub fn render(ws: &Workspace) -> Result<Vec<&Object>, Error> {
    let unit = ws.units.first().ok_or(Error::NothingCompiled)?;
    let objects = crate::stream::kubernetes_objects(&unit.artifacts).map_err(Error::Stream)?;
    if objects.is_empty() {
        return Err(Error::NoObjects {
            environment: unit.tree.environment.clone(),
        });
    }
    Ok(objects)
}
