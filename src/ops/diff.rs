//! Drift (README "Command line": `diff` and `build --check`): how an output folder differs from
//! what the model compiles to, per environment, including environments whose output is orphaned.
//! Drift is a result, not an error; rendering it is the caller's.

use super::{Error, Workspace};
use crate::output::{self, Change};
use std::path::Path;

/// How one environment's folder in the output differs from what the model compiles to.
#[derive(Debug)]
pub struct EnvironmentDrift {
    pub environment: String,
    /// Empty when the folder is up to date.
    pub changes: Vec<Change>,
}

/// The drift of every compiled environment, then of every orphaned one.
#[derive(Debug)]
pub struct Drift {
    pub environments: Vec<EnvironmentDrift>,
}

impl Drift {
    /// Every change of every environment, in order.
    pub fn changes(&self) -> impl Iterator<Item = &Change> {
        self.environments.iter().flat_map(|d| &d.changes)
    }

    /// Whether anything differs.
    #[must_use]
    pub fn is_drift(&self) -> bool {
        self.changes().next().is_some()
    }
}

/// How many lines a change adds and removes (`diff --stat`), counted by the same line diff that
/// `diff` prints; `None` when the old side could not be read.
#[must_use]
pub fn line_counts(c: &Change) -> Option<(usize, usize)> {
    if c.problem.is_some() {
        return None;
    }
    let new = c
        .new
        .as_ref()
        .map(crate::targets::Bytes::read)
        .transpose()
        .ok()?;
    let (old, new) = (text(c.old.as_deref()), text(new.as_deref()));
    let diff = similar::TextDiff::from_lines(old.as_ref(), new.as_ref());
    let (mut added, mut removed) = (0, 0);
    for op in diff.iter_all_changes() {
        match op.tag() {
            similar::ChangeTag::Insert => added += 1,
            similar::ChangeTag::Delete => removed += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    Some((added, removed))
}

/// A side of a change as text (empty when absent).
fn text(bytes: Option<&[u8]>) -> std::borrow::Cow<'_, str> {
    bytes.map(String::from_utf8_lossy).unwrap_or_default()
}

/// Compares `out` with what every environment of `ws` compiles to; writes nothing.
///
/// # Errors
/// A file in `out` that exists but cannot be read, or `out` cannot be listed.
pub fn drift(ws: &Workspace, out: &Path) -> Result<Drift, Error> {
    let mut environments = Vec::new();
    for u in &ws.units {
        environments.push(EnvironmentDrift {
            environment: u.tree.environment.clone(),
            changes: output::compare(out, &u.tree).map_err(Error::Compare)?,
        });
    }
    for environment in ws.orphans(out).map_err(Error::Compare)? {
        environments.push(EnvironmentDrift {
            changes: output::orphan_changes(out, &environment).map_err(Error::Compare)?,
            environment,
        });
    }
    Ok(Drift { environments })
}

/// [`drift`] for a compilation kept from an earlier run (see [`super::kept`]): no drift when every
/// environment's folder in `out` holds exactly what it compiles to and no environment is orphaned;
/// `None` otherwise, for the caller to compile and compare.
#[must_use]
pub fn none_kept(
    kept: &super::kept::Kept,
    inputs: &[std::path::PathBuf],
    out: &Path,
) -> Option<Drift> {
    if !super::kept::current(kept, inputs, out) {
        return None;
    }
    Some(Drift {
        environments: kept
            .units
            .iter()
            .map(|u| EnvironmentDrift {
                environment: u.environment.clone(),
                changes: Vec::new(),
            })
            .collect(),
    })
}
