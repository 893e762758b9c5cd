//! `build` (and `diff --update`): writes every environment's output folder (README "Command line"
//! and "Safety"). Under the output folder's lock, every environment is first checked (so an
//! obstacle in one leaves all of them unwritten), then each is swapped in; environments that no
//! input produces any more lose their generated files.

use super::{Error, Workspace};
use crate::output::{self, WriteError, lock::Wait};
use std::path::{Path, PathBuf};

/// What the build did to one environment's folder, reported as soon as it is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Nothing differed: no file was written.
    UpToDate { environment: String, files: usize },
    /// The folder `dir` was swapped in with `changed` files changed.
    Wrote {
        environment: String,
        dir: PathBuf,
        changed: usize,
    },
    /// No input declares the environment any more: its `removed` generated files are gone.
    RemovedOrphan { environment: String, removed: usize },
    /// Another build holds the lock of the output folder `out`; this one waits for it.
    Waiting { out: PathBuf },
}

/// Writes the output of every environment of `ws` to `out/<environment>/` and removes the output
/// of orphaned environments, calling `progress` after each folder. With [`Wait::Block`], a build
/// that finds the folder locked waits for it (reported once, as [`Written::Waiting`]).
///
/// # Errors
/// The output folder cannot be created, locked, read or written, or holds an obstacle; nothing of
/// any environment is written when an obstacle is found before the first swap.
pub fn build(
    ws: &Workspace,
    out: &Path,
    wait: Wait,
    progress: &mut dyn FnMut(&Written),
) -> Result<(), Error> {
    let folder_error = |reason: WriteError| Error::Write {
        path: out.to_path_buf(),
        reason,
    };
    if !crate::fsafe::real_dir(out).map_err(|e| folder_error(e.into()))? {
        std::fs::create_dir_all(out).map_err(|e| folder_error(e.into()))?;
    }
    let _lock = output::lock::lock(out, wait, &mut || {
        progress(&Written::Waiting {
            out: out.to_path_buf(),
        });
    })
    .map_err(|e| folder_error(WriteError::Locked(e)))?;
    let mut pending = Vec::new();
    for u in &ws.units {
        pending.push(output::prepare(out, &u.tree).map_err(folder_error)?);
    }
    for p in pending {
        let (environment, files) = (p.environment().to_owned(), p.file_count());
        let dir = out.join(&environment);
        match output::apply(out, p) {
            Ok(0) => progress(&Written::UpToDate { environment, files }),
            Ok(changed) => progress(&Written::Wrote {
                environment,
                dir,
                changed,
            }),
            Err(reason) => return Err(Error::Write { path: dir, reason }),
        }
    }
    let orphans = ws.orphans(out).map_err(|source| Error::List {
        path: out.to_path_buf(),
        source,
    })?;
    for environment in orphans {
        let removed =
            output::remove_orphan(out, &environment).map_err(|source| Error::RemoveOrphan {
                path: out.join(&environment),
                source,
            })?;
        progress(&Written::RemovedOrphan {
            environment,
            removed,
        });
    }
    Ok(())
}

/// [`build`] for a compilation kept from an earlier run (see [`super::kept`]): under the output
/// folder's lock, when every environment's folder holds exactly what it compiles to and no
/// environment is orphaned, reports each one up to date and returns `true`. Otherwise it writes
/// nothing and returns `false`, for the caller to compile and [`build`].
///
/// # Errors
/// The output folder cannot be locked, or a killed build's leftovers cannot be cleared.
pub fn up_to_date(
    kept: &super::kept::Kept,
    inputs: &[PathBuf],
    out: &Path,
    wait: Wait,
    progress: &mut dyn FnMut(&Written),
) -> Result<bool, Error> {
    let folder_error = |reason: WriteError| Error::Write {
        path: out.to_path_buf(),
        reason,
    };
    if !matches!(crate::fsafe::real_dir(out), Ok(true)) {
        return Ok(false);
    }
    let _lock = output::lock::lock(out, wait, &mut || {
        progress(&Written::Waiting {
            out: out.to_path_buf(),
        });
    })
    .map_err(|e| folder_error(WriteError::Locked(e)))?;
    for u in &kept.units {
        output::recover(out, &u.environment).map_err(|e| folder_error(e.into()))?;
    }
    if !super::kept::current(kept, inputs, out) {
        return Ok(false);
    }
    for u in &kept.units {
        progress(&Written::UpToDate {
            environment: u.environment.clone(),
            files: u.files,
        });
    }
    Ok(true)
}
