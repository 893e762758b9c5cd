//! The output folder's lock: one writer at a time. Two builds of the same folder at once would
//! otherwise interleave their swaps and leave a tree that neither wrote. The lock is an advisory
//! lock on `<out>/.deaap-gen.lock`, removed again when the writer is done so that nothing is left
//! for `git status` to show.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

pub const LOCK_FILE: &str = ".deaap-gen.lock";

/// Whether a second writer waits for the first or gives up at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    Block,
    NoWait,
}

/// Why the lock could not be taken.
#[derive(Debug)]
pub enum LockError {
    /// Another process holds it and the caller asked not to wait.
    Busy(PathBuf),
    Io(io::Error),
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Busy(p) => write!(
                f,
                "another deaap-gen is writing this output folder (it holds `{}`); run again when it is done, or leave out --no-wait to wait for it",
                p.display()
            ),
            Self::Io(e) => write!(f, "{e}"),
        }
    }
}

/// The held lock; dropping it removes the lock file and releases the lock.
#[derive(Debug)]
pub struct OutputLock {
    path: PathBuf,
    file: Option<File>,
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        // Unlink while still holding the lock: a process waiting on this file then finds, once it
        // gets the lock, that the path no longer names it, and starts over with a fresh file.
        let _ = std::fs::remove_file(&self.path);
        self.file.take();
    }
}

/// Takes the exclusive lock of `out` (which must exist). With [`Wait::Block`] a second writer calls
/// `waiting` once and waits; with [`Wait::NoWait`] it fails at once.
///
/// # Errors
/// The lock is busy and the caller would not wait, or the lock file cannot be opened (a link or
/// anything else than a regular file at its path is refused).
pub fn lock(out: &Path, wait: Wait, waiting: &mut dyn FnMut()) -> Result<OutputLock, LockError> {
    let path = out.join(LOCK_FILE);
    let mut told = false;
    loop {
        let file = open(&path).map_err(|e| {
            LockError::Io(io::Error::new(e.kind(), format!("{}: {e}", path.display())))
        })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                if wait == Wait::NoWait {
                    return Err(LockError::Busy(path));
                }
                if !told {
                    waiting();
                    told = true;
                }
                file.lock().map_err(LockError::Io)?;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(LockError::Io(e)),
        }
        if same_file(&file, &path) {
            return Ok(OutputLock {
                path,
                file: Some(file),
            });
        }
        // The previous holder removed the file while we waited: lock the current one instead.
    }
}

#[cfg(unix)]
fn open(path: &Path) -> io::Result<File> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::open(
        path,
        OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::from_bits_truncate(0o644),
    )?;
    let file = File::from(fd);
    if !file.metadata()?.is_file() {
        return Err(io::Error::other("is not a regular file"));
    }
    Ok(file)
}

#[cfg(not(unix))]
fn open(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, path: &Path) -> bool {
    path.exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_and_the_file_goes_with_the_lock() {
        let out = tempfile::tempdir().expect("temp dir");
        let held = lock(out.path(), Wait::NoWait, &mut || {}).expect("first lock");
        assert!(matches!(
            lock(out.path(), Wait::NoWait, &mut || {}),
            Err(LockError::Busy(_))
        ));
        drop(held);
        assert!(!out.path().join(LOCK_FILE).exists());
        let again = lock(out.path(), Wait::NoWait, &mut || {}).expect("free again");
        drop(again);
    }

    #[cfg(unix)]
    #[test]
    fn a_linked_lock_file_is_refused() {
        let out = tempfile::tempdir().expect("temp dir");
        let victim = out.path().join("victim");
        std::fs::write(&victim, "keep").expect("write");
        std::os::unix::fs::symlink(&victim, out.path().join(LOCK_FILE)).expect("link");
        assert!(matches!(
            lock(out.path(), Wait::NoWait, &mut || {}),
            Err(LockError::Io(_))
        ));
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "keep");
    }
}
