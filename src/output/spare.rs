//! The spare tree of an output folder: the tree the last write swapped out, kept beside the record
//! of how the folder's files look ([`super::seen`]) for the next write to assemble its tree in.
//!
//! A write links every file it keeps from the old tree into the new one, so the tree it swaps out
//! holds the same files as the tree it swaps in, but for those it changed. The next write makes
//! the spare hold its new tree by replacing only what differs, and swaps it in: a file of the
//! spare that looks exactly as the file holding its new bytes did when a check last found it
//! (size, times, inode and device) is that file, unwritten since, and stays. Everything else is
//! replaced, so a spare that was edited, half-written by a killed build, or left from another
//! index costs time, never a wrong file.
//!
//! The spare is a cache like the record: it lives in the user's cache folder, never in the output
//! folder, and is used only when a folder can be renamed between the two (the same file system and
//! mount). A spare whose record is gone (removed after a month unwritten, as every kept file is)
//! and that was not changed for as long is removed.

use super::{Tree, seen};
use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

/// The spare tree for the output folder `dir` (a sub-folder of `out`) in the record folder `kept`,
/// created when missing and cleared of everything `tree` does not hold ([`prune`]); `None` when it
/// cannot be made, cleared or swapped with `dir`, and the write then stages its tree as it would
/// without one.
pub(super) fn take(kept: &Path, out: &Path, dir: &Path, tree: &Tree) -> Option<PathBuf> {
    if !cfg!(unix) {
        return None;
    }
    let key = seen::key(dir)?;
    crate::cache::create_private(kept).ok()?;
    let spare = kept.join(seen::spare_name(&key));
    match std::fs::symlink_metadata(&spare) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            std::fs::remove_file(&spare).ok()?;
            std::fs::create_dir(&spare).ok()?;
        }
        Err(_) => std::fs::create_dir(&spare).ok()?,
    }
    // Whether the swap can take it: moved into the output folder and back, under a staging name
    // that `super::recover` clears if the process dies in between.
    let probe = out.join(format!(
        "{}{}-spare",
        super::staging_prefix(&tree.environment),
        std::process::id()
    ));
    if std::fs::rename(&spare, &probe).is_err() {
        return None;
    }
    if std::fs::rename(&probe, &spare).is_err() {
        let _ = std::fs::remove_dir_all(&probe);
        return None;
    }
    forget_orphans(kept, &spare);
    prune(&spare, tree).ok()?;
    Some(spare)
}

/// Removes the spare trees in `kept` whose record is gone and that were not changed for as long as
/// the cache keeps a file unwritten, but `spare` (whose record the write that takes it makes): a
/// spare another run has just made has no record yet.
fn forget_orphans(kept: &Path, spare: &Path) {
    let now = std::time::SystemTime::now();
    let Ok(entries) = std::fs::read_dir(kept) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(seen::SPARE)) else {
            continue;
        };
        let stale = entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| {
            now.duration_since(t)
                .is_ok_and(|age| age > crate::cache::STALE)
        });
        if stale
            && entry.path() != spare
            && std::fs::symlink_metadata(kept.join(format!("{stem}{}", seen::RECORD))).is_err()
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Removes from the spare tree `spare` everything that is not where `tree` has a file or a folder
/// of its own, never following a link: files it does not hold, folders none of its files are in,
/// and anything that is neither a regular file nor a folder. What stays is each file of `tree`
/// that the spare holds as a regular file, in real folders.
///
/// # Errors
/// A folder cannot be listed or an entry cannot be removed.
fn prune(spare: &Path, tree: &Tree) -> io::Result<()> {
    let mut folders: BTreeSet<&str> = BTreeSet::new();
    for path in tree.files.keys() {
        let mut rest = path.as_str();
        while let Some((folder, _)) = rest.rsplit_once('/') {
            if !folders.insert(folder) {
                break;
            }
            rest = folder;
        }
    }
    prune_in(spare, "", tree, &folders)
}

fn prune_in(spare: &Path, rel: &str, tree: &Tree, folders: &BTreeSet<&str>) -> io::Result<()> {
    for entry in std::fs::read_dir(spare.join(rel))? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = entry.file_name().to_str().map(|name| {
            if rel.is_empty() {
                name.to_owned()
            } else {
                format!("{rel}/{name}")
            }
        });
        match path {
            Some(p) if kind.is_dir() && folders.contains(p.as_str()) => {
                prune_in(spare, &p, tree, folders)?;
            }
            Some(p) if kind.is_file() && tree.files.contains_key(&p) => {}
            _ if kind.is_dir() => std::fs::remove_dir_all(entry.path())?,
            _ => std::fs::remove_file(entry.path())?,
        }
    }
    Ok(())
}
