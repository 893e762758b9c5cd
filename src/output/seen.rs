//! What the files of an output folder looked like when their bytes were last found to be those its
//! index lists: size, modification and change times, inode and device, as `git` keeps them for its
//! index. A later check that finds a file looking exactly the same trusts it without reading it:
//! any write to a file changes its change time, which no tool sets back, and a file replaced is
//! another inode. Only a file last changed well before it was looked at is remembered, so that a
//! write in the same tick of a coarse clock cannot hide behind an unchanged time.
//!
//! A build that writes finds the files it keeps the same way. A file that stays as the spare tree
//! holds it is untouched and remembered as it was; a file it links into the new tree has its
//! change time moved, and is remembered as it looks after the swap when its bytes were written
//! well before the check and not since (see `output::apply`).
//!
//! The record is a cache like the others of [`crate::cache`]: one per output folder in the user's
//! cache folder, for the index the folder held when the record was written (a record of another
//! index is ignored, and replaced), ignored when missing, unreadable or of another format, and
//! never consulted off Unix.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// The first field of a record; a record of another format is ignored.
const MAGIC: &str = "deaap-gen output seen 1";

/// How long before a file is looked at it must have last changed to be remembered: above the tick
/// of every file system clock (FAT's is 2 s; ext4's and tmpfs's follow the kernel's, a few ms).
pub(super) const SETTLED: Duration = Duration::from_secs(3);

/// The largest record read: a hundred bytes or so per file.
const CAP: u64 = 64 << 20;

/// A file's size, modification and change times (seconds and nanoseconds), inode and device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Seen(u64, i64, i64, i64, i64, u64, u64);

impl Seen {
    /// How `meta` describes its file; `None` off Unix.
    #[cfg(unix)]
    #[allow(clippy::unnecessary_wraps)] // `None` off Unix.
    pub(super) fn of(meta: &std::fs::Metadata) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        Some(Self(
            meta.len(),
            meta.mtime(),
            meta.mtime_nsec(),
            meta.ctime(),
            meta.ctime_nsec(),
            meta.ino(),
            meta.dev(),
        ))
    }

    #[cfg(not(unix))]
    pub(super) fn of(_meta: &std::fs::Metadata) -> Option<Self> {
        None
    }

    /// Whether the file last changed (or was modified) at least `settled` before `now`.
    pub(super) fn settled(self, now: SystemTime, settled: Duration) -> bool {
        settled_before(now, settled)
            .is_some_and(|before| (self.1, self.2) < before && (self.3, self.4) < before)
    }

    /// Whether the file's bytes were last written at least `settled` before `now`: any later
    /// write sets its modification time to a later tick.
    pub(super) fn written_before(self, now: SystemTime, settled: Duration) -> bool {
        settled_before(now, settled).is_some_and(|before| (self.1, self.2) < before)
    }

    /// Whether `later` is the same file, with the same size and modification time: nothing was
    /// written to it between the two looks, though its change time may have moved (a link made to
    /// it, as a build makes to every file it keeps).
    pub(super) fn unwritten_in(self, later: Self) -> bool {
        (self.0, self.1, self.2, self.5, self.6) == (later.0, later.1, later.2, later.5, later.6)
    }
}

/// `settled` before `now`, in seconds and nanoseconds since the epoch, as [`Seen`] holds times.
fn settled_before(now: SystemTime, settled: Duration) -> Option<(i64, i64)> {
    let before = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()?
        .checked_sub(settled)?;
    Some((
        i64::try_from(before.as_secs()).unwrap_or(i64::MAX),
        i64::from(before.subsec_nanos()),
    ))
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    magic: String,
    key: String,
    /// The SHA-256 of the index whose files it describes.
    index_sha256: String,
    /// One entry per file of the index, in its order: how it looked, if it is remembered.
    seen: Vec<Option<Seen>>,
}

/// What the record of the output folder `dir` is kept under.
pub(super) fn key(dir: &Path) -> Option<String> {
    let dir = std::fs::canonicalize(dir).ok()?;
    let mut h = Sha256::new();
    h.update(MAGIC);
    h.update([0]);
    h.update(dir.as_os_str().as_encoded_bytes());
    Some(super::hex(&h.finalize().into()))
}

/// The file in `folder` that holds the record kept under `key`.
fn file(folder: &Path, key: &str) -> std::path::PathBuf {
    folder.join(format!("{}{RECORD}", &key[..32]))
}

/// How a record's file name ends.
pub(super) const RECORD: &str = ".json";

/// The name in the record's folder of the spare tree of the output folder kept under `key`: the
/// record's name, ending in [`SPARE`] instead.
pub(super) fn spare_name(key: &str) -> String {
    format!("{}{SPARE}", &key[..32])
}

/// How a spare tree's name ends.
pub(super) const SPARE: &str = ".tree";

/// How the `files` files of the index `index_sha256` in `dir` looked when last found to hold its
/// bytes, as kept in `folder`; nothing remembered when no such record is kept.
pub(super) fn load(
    folder: Option<&Path>,
    dir: &Path,
    index_sha256: &str,
    files: usize,
) -> Vec<Option<Seen>> {
    let found = || -> Option<Vec<Option<Seen>>> {
        let key = key(dir)?;
        let crate::fsafe::Regular::Bytes(bytes) =
            crate::fsafe::read_regular(&file(folder?, &key), CAP, crate::fsafe::Links::Refuse)
                .ok()?
        else {
            return None;
        };
        let record: Record = serde_json::from_slice(&bytes).ok()?;
        (record.magic == MAGIC
            && record.key == key
            && record.index_sha256 == index_sha256
            && record.seen.len() == files)
            .then_some(record.seen)
    };
    found().unwrap_or_else(|| vec![None; files])
}

/// Keeps in `folder` how the files of the index `index_sha256` in `dir` looked (one entry per
/// file of the index, in its order), for [`load`].
pub(super) fn keep(folder: Option<&Path>, dir: &Path, index_sha256: &str, seen: Vec<Option<Seen>>) {
    let (Some(folder), Some(key)) = (folder, key(dir)) else {
        return;
    };
    let at = file(folder, &key);
    let record = Record {
        magic: MAGIC.to_owned(),
        key,
        index_sha256: index_sha256.to_owned(),
        seen,
    };
    if let Ok(bytes) = serde_json::to_vec(&record) {
        let _ = crate::cache::write(&at, &bytes, RECORD);
    }
}
