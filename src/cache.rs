//! The user's cache folder: what deaap-gen keeps between runs to skip work whose result it already
//! knows (the Gatekeeper verdicts of `proof::admission::verdicts`, the proof outcomes of
//! `proof::kept`, the compilations of `ops::kept`, how the output files looked in `output::seen`).
//! Everything kept is a cache and nothing more: a file that is missing, unreadable, corrupt or
//! written by another build of deaap-gen is ignored and replaced, and a folder that cannot be
//! created or written leaves every run to do the work, without a message. Only the binary's
//! command layer chooses the folder ([`keep_in`]); without one (the library's default) nothing is
//! kept.

use sha2::Sha256;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Kept files not written for this long are removed whenever a file of their folder is written.
pub(crate) const STALE: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// The cache folder, set once per process by [`keep_in`].
static FOLDER: OnceLock<Option<PathBuf>> = OnceLock::new();

/// Keeps what runs may reuse in `cache` (one sub-folder per kind, created when missing, readable
/// by its owner only) from now on; `None` keeps nothing. Only the first call counts.
pub fn keep_in(cache: Option<PathBuf>) {
    let _ = FOLDER.set(cache);
}

/// The sub-folder `kind` of the cache folder; `None` when nothing is kept.
#[must_use]
pub fn folder(kind: &str) -> Option<PathBuf> {
    Some(FOLDER.get()?.as_deref()?.join(kind))
}

/// Replaces `file` with `bytes` through a new file beside it, so a reader sees the old file or
/// the new one, never a part; then removes the files of the folder ending in `extension`, and the
/// new files of runs that were killed, that have not been written for a month.
///
/// # Errors
/// The folder cannot be created, or the file cannot be written.
pub fn write(file: &Path, bytes: &[u8], extension: &str) -> std::io::Result<()> {
    let folder = file.parent().unwrap_or(Path::new("."));
    create_private(folder)?;
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    let temporary = folder.join(format!(".{name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&temporary);
    crate::fsafe::write_new(&temporary, bytes)?;
    if let Err(e) = std::fs::rename(&temporary, file) {
        let _ = std::fs::remove_file(&temporary);
        return Err(e);
    }
    let now = std::time::SystemTime::now();
    for entry in std::fs::read_dir(folder)?.flatten() {
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age > STALE));
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if stale && (name.ends_with(extension) || name.ends_with(".tmp")) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// Creates `folder` and its missing parents, each new one readable by its owner only.
pub(crate) fn create_private(folder: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(folder)
}

/// The running binary's version, size and modification time: a rebuilt or upgraded deaap-gen
/// (which may compile or evaluate differently) does not use what an earlier build kept.
#[must_use]
pub fn binary_identity() -> Option<Vec<u8>> {
    let meta = std::fs::metadata(std::env::current_exe().ok()?).ok()?;
    let modified = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    let mut id = env!("CARGO_PKG_VERSION").as_bytes().to_vec();
    id.push(0);
    id.extend_from_slice(&meta.len().to_le_bytes());
    id.extend_from_slice(&modified.as_nanos().to_le_bytes());
    Some(id)
}

/// Feeds what is written to a SHA-256.
pub struct Hashing<'a>(pub &'a mut Sha256);

impl std::io::Write for Hashing<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        sha2::Digest::update(self.0, buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
