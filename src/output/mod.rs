//! Output: the only module that writes files. It turns an environment's artifacts into the output
//! tree (`<out>/<env>/…` plus the `deaap-manifest.json` index), compares that tree with what is on
//! disk (for `diff` and `build --check`), and writes it atomically: the new tree is assembled
//! apart from the old one and swapped in, so a failed or interrupted build leaves the previous
//! tree intact. Unchanged files are the old tree's own (hard links), so their mtimes stay; a build
//! that changes nothing writes nothing. With the user's cache folder on the same file system, the
//! new tree is assembled in the spare tree the previous write swapped out ([`spare`]), replacing
//! only what differs.

pub mod diff;
pub mod lock;
mod seen;
mod spare;

use crate::fsafe;
use crate::model::Environment;
use crate::targets::Artifact;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

pub const INDEX: &str = "deaap-manifest.json";

#[derive(Debug, Serialize, Deserialize)]
pub struct Index {
    pub environment: String,
    pub generator: String,
    pub input_sha256: String,
    pub files: Vec<IndexFile>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct IndexFile {
    pub path: String,
    pub sha256: String,
    pub target: String,
    pub kinds: Vec<String>,
}

#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes).into())
}

/// A SHA-256 in lower-case hexadecimal.
#[must_use]
pub fn hex(digest: &[u8; 32]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// The full content of one environment's output folder: every artifact plus the index (the index
/// only when the files are needed: see [`tree`]).
#[derive(Debug)]
pub struct Tree {
    pub environment: String,
    pub files: BTreeMap<String, crate::targets::Bytes>,
    /// The files the index lists, in its order, each with its SHA-256 (none when there is no
    /// index).
    pub listed: Vec<(String, String)>,
    /// The index's own SHA-256 (empty when there is no index).
    pub index_sha256: String,
}

/// From how many files an environment's files are hashed and compared on every core: below it,
/// starting the threads costs more than they save (the shipped environments write 2 to 92 files; a
/// synthetic one of 100 services, 392).
const SPREAD_FROM: usize = 256;

/// From how many files an environment's files are linked, written and removed on every core. On
/// ext4 creating files in parallel costs more system time (the folders' locks), which pays off
/// only for larger trees: a first build of 300 services (992 files) took 0.79 s instead of 1.01
/// s on 2 cores, one of 100 services (392 files) 5–13% longer (hyperfine).
const WRITE_SPREAD_FROM: usize = 512;

/// Builds the output tree of an environment from its artifacts: with its index when `need` is
/// the files, else (a command that writes nothing and compares nothing) the artifacts alone, the
/// files never hashed.
///
/// # Errors
/// The index cannot be serialized (not expected).
pub fn tree(
    env: &Environment,
    artifacts: &[Artifact],
    need: crate::targets::Need,
) -> Result<Tree, serde_json::Error> {
    let files: BTreeMap<String, crate::targets::Bytes> = artifacts
        .iter()
        .map(|a| (a.path.clone(), a.bytes.clone()))
        .collect();
    if need == crate::targets::Need::Objects {
        return Ok(Tree {
            environment: env.environment.name.clone(),
            files,
            listed: Vec::new(),
            index_sha256: String::new(),
        });
    }
    // The model's JSON is hashed as it is written, never held whole.
    let mut input = Sha256::new();
    serde_json::to_writer(crate::cache::Hashing(&mut input), env)?;
    // Each file hashed on its own, spread over the machine's cores when there are many.
    // (A file a build or a check looked for in the output folder was hashed then.)
    let hashes = crate::parallel::map_from(SPREAD_FROM, artifacts, |a| hex(&a.bytes.sha256()));
    let index = Index {
        environment: env.environment.name.clone(),
        generator: format!("deaap-gen {}", env!("CARGO_PKG_VERSION")),
        input_sha256: hex(&input.finalize().into()),
        files: artifacts
            .iter()
            .zip(hashes)
            .map(|(a, sha256)| IndexFile {
                path: a.path.clone(),
                sha256,
                target: a.target.to_owned(),
                kinds: a.kinds.clone(),
            })
            .collect(),
    };
    indexed(files, index)
}

/// The tree of `files` with `index` written among them (`INDEX`), as it is written to disk.
fn indexed(
    mut files: BTreeMap<String, crate::targets::Bytes>,
    index: Index,
) -> Result<Tree, serde_json::Error> {
    let mut idx = serde_json::to_string_pretty(&index)?;
    idx.push('\n');
    let index_sha256 = sha256_hex(idx.as_bytes());
    files.insert(INDEX.to_owned(), idx.into_bytes().into());
    Ok(Tree {
        environment: index.environment,
        files,
        listed: index
            .files
            .into_iter()
            .map(|f| (f.path, f.sha256))
            .collect(),
        index_sha256,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Modified,
    Removed,
}

impl ChangeKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "added",
            Self::Modified => "modified",
            Self::Removed => "removed",
        }
    }
}

#[derive(Debug)]
pub struct Change {
    /// Path inside the environment folder.
    pub path: String,
    pub kind: ChangeKind,
    /// The file's content in the folder: `None` when there is none, and in a [`Pending`] write,
    /// which never reads it.
    pub old: Option<Vec<u8>>,
    /// The generated content, shared with the tree.
    pub new: Option<crate::targets::Bytes>,
    /// Why the old side could not be read: a link, FIFO or oversized file where a generated file
    /// belongs. Such a change blocks `build`.
    pub problem: Option<Problem>,
}

/// An obstacle met while comparing, and how it reads from the changed file.
#[derive(Debug, Clone)]
pub struct Problem {
    pub obstacle: fsafe::Obstacle,
    /// `is a FIFO, expected a file`, or `` `audit` is a symbolic link, expected a folder ``.
    pub text: String,
}

/// Why the output could not be written.
#[derive(Debug)]
pub enum WriteError {
    /// A link or special file where a generated file or folder belongs.
    Obstacle(fsafe::Obstacle),
    /// Another build holds the output folder's lock and the caller would not wait.
    Locked(lock::LockError),
    Io(io::Error),
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Obstacle(o) => write!(f, "{o}"),
            Self::Locked(e) => write!(f, "{e}"),
            Self::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<io::Error> for WriteError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<fsafe::WalkError> for WriteError {
    fn from(e: fsafe::WalkError) -> Self {
        match e {
            fsafe::WalkError::Obstacle(o) => Self::Obstacle(o),
            fsafe::WalkError::Io(e) => Self::Io(e),
        }
    }
}

/// The index the previous build left in `dir`, with its SHA-256 (none when there is none or it is
/// unreadable).
fn previous_index(dir: &Path) -> Option<(String, Index)> {
    read_index(dir).map(|(bytes, index)| (sha256_hex(&bytes), index))
}

/// The index the previous build left in `dir`, as read and as parsed.
fn read_index(dir: &Path) -> Option<(Vec<u8>, Index)> {
    let Ok(fsafe::Entry::File(bytes)) = fsafe::read(dir, INDEX) else {
        return None;
    };
    let index = serde_json::from_slice::<Index>(&bytes).ok()?;
    Some((bytes, index))
}

/// The files `index` lists that stay inside its folder, and the index itself.
fn listed_files(index: Option<&Index>) -> BTreeSet<String> {
    let mut v: BTreeSet<String> = index
        .into_iter()
        .flat_map(|index| &index.files)
        .map(|f| f.path.clone())
        .filter(|p| fsafe::safe_relative(p))
        .collect();
    v.insert(INDEX.to_owned());
    v
}

/// The environment folder `<out>/<env>`, checked to be a real folder (or absent) and never a link.
fn env_dir(out: &Path, environment: &str) -> Result<(PathBuf, bool), fsafe::WalkError> {
    if fsafe::real_dir(out)? {
        let dir = out.join(environment);
        let exists = fsafe::real_dir(&dir)?;
        Ok((dir, exists))
    } else {
        Ok((out.join(environment), false))
    }
}

/// Compares `tree` with `<out>/<env>/` on disk. Files the previous index listed that the new tree
/// lacks are removals; other files in the folder belong to the user and are left alone. Nothing is
/// read through a link: a link, FIFO or oversized file where a generated file belongs is a change
/// with a [`Change::problem`].
///
/// # Errors
/// A file that exists but cannot be read.
pub fn compare(out: &Path, tree: &Tree) -> io::Result<Vec<Change>> {
    let kept = crate::cache::folder("outputs");
    Ok(changes(out, tree, Old::Read, kept.as_deref())?.changes)
}

/// Whether a comparison reads the old side of each change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Old {
    /// Read whole into [`Change::old`], for a diff to show.
    Read,
    /// Only told apart (a file, nothing, an obstacle): a build replaces the file and shows no
    /// diff, so the old chart values of thousands of services are never held beside the new.
    Skip,
}

/// What a comparison found.
struct Found {
    changes: Vec<Change>,
    /// For each file of the tree, in its order: how it looked when it was found to hold its new
    /// bytes (read, or taken as it is from the record in `kept`); `None` for a change, and for
    /// every file when nothing is remembered.
    looked: Vec<Option<seen::Seen>>,
    /// For each file of the tree, in its order: how the file that held its new bytes looked when
    /// a check last found it holding them, when the previous index lists it with those bytes and
    /// the record in `kept` remembers it. A file of the spare tree that looks exactly so is that
    /// file, unwritten since ([`apply`]).
    held: Vec<Option<seen::Seen>>,
    /// The files the previous index lists (see [`listed_files`]); empty without a folder.
    listed_before: BTreeSet<String>,
}

/// The previous index of the folder `dir` (see [`previous_index`]), by path: each file's SHA-256
/// and how it looked when a check last found it to hold those bytes, as remembered in `kept`
/// ([`seen`]).
fn remembered<'a>(
    dir: &Path,
    previous: Option<&'a (String, Index)>,
    kept: &Path,
) -> BTreeMap<&'a str, (&'a str, Option<seen::Seen>)> {
    let Some((sha256, index)) = previous else {
        return BTreeMap::new();
    };
    let looked = seen::load(Some(kept), dir, sha256, index.files.len());
    index
        .files
        .iter()
        .zip(looked)
        .map(|(f, looked)| (f.path.as_str(), (f.sha256.as_str(), looked)))
        .collect()
}

/// What an environment's output folder held before a build or a check, for it to let go of each
/// generated file the folder holds already as soon as it is generated
/// ([`crate::targets::Context::let_go`]): the files the previous index lists, with their SHA-256
/// and how each looked when a check last found it to hold those bytes ([`seen`]).
#[derive(Debug)]
pub struct Before {
    dir: PathBuf,
    /// Every file the previous index lists, with its SHA-256 and, when remembered, how it looked.
    files: BTreeMap<String, (String, Option<seen::Seen>)>,
    real: BTreeMap<String, bool>,
}

impl Before {
    /// The environment's output folder, `<out>/<environment>/` (a real folder).
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What `<out>/<environment>/` holds, when the previous index and the record of how its files
    /// looked can be read; `None` otherwise (every file is then held until it is written or
    /// compared).
    #[must_use]
    pub fn of(out: &Path, environment: &str) -> Option<Self> {
        Self::remembered_in(out, environment, &crate::cache::folder("outputs")?)
    }

    /// [`Before::of`], with the record of how the files looked in `kept`.
    fn remembered_in(out: &Path, environment: &str, kept: &Path) -> Option<Self> {
        let Ok((dir, true)) = env_dir(out, environment) else {
            return None;
        };
        let previous = previous_index(&dir)?;
        let files: BTreeMap<String, (String, Option<seen::Seen>)> =
            remembered(&dir, Some(&previous), kept)
                .into_iter()
                .map(|(path, (sha256, looked))| (path.to_owned(), (sha256.to_owned(), looked)))
                .collect();
        let remembered: Vec<&str> = files
            .iter()
            .filter(|(_, (_, looked))| looked.is_some())
            .map(|(path, _)| path.as_str())
            .collect();
        if remembered.is_empty() {
            return None;
        }
        let real = real_folders(&dir, remembered.into_iter())
            .into_iter()
            .map(|(folder, real)| (folder.to_owned(), real))
            .collect();
        Some(Self { dir, files, real })
    }

    /// The SHA-256 (in hexadecimal) the previous index lists for the generated path `path`,
    /// whatever the file holds now.
    #[must_use]
    pub fn listed(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(|(sha256, _)| sha256.as_str())
    }

    /// The file at the generated path `path`, when it is a regular file that holds the bytes of
    /// SHA-256 `sha256`: the previous index lists it with that hash, and it looks exactly as it
    /// did when a check found it holding them.
    #[must_use]
    pub fn holds(&self, path: &str, sha256: &[u8; 32]) -> Option<PathBuf> {
        let (listed, Some(before)) = self.files.get(path)? else {
            return None;
        };
        (*listed == hex(sha256) && looks(&self.dir, path, &self.real).as_ref() == Some(before))
            .then(|| self.dir.join(path))
    }
}

/// For each folder of the files `paths` (relative to `dir`), whether it is a real folder all the
/// way (never a link): found once for all the files in it.
fn real_folders<'a>(dir: &Path, paths: impl Iterator<Item = &'a str>) -> BTreeMap<&'a str, bool> {
    let mut real: BTreeMap<&str, bool> = BTreeMap::new();
    for path in paths {
        if let Some((folder, _)) = path.rsplit_once('/')
            && !real.contains_key(folder)
        {
            real.insert(
                folder,
                fsafe::safe_relative(folder) && fsafe::real_folders(dir, folder),
            );
        }
    }
    real
}

/// How the regular file at `path` in `dir` looks, reached through the real folders `real` only;
/// `None` for anything else.
fn looks<K: std::borrow::Borrow<str> + Ord>(
    dir: &Path,
    path: &str,
    real: &BTreeMap<K, bool>,
) -> Option<seen::Seen> {
    let in_real_folder = path
        .rsplit_once('/')
        .is_none_or(|(folder, _)| real.get(folder) == Some(&true));
    if !in_real_folder || !fsafe::safe_relative(path) {
        return None;
    }
    seen::Seen::of(&fsafe::regular_metadata(dir, path)?)
}

/// [`compare`], reading the old side of each change only when `sides` says so. A file the
/// previous index lists with the bytes it is to hold, and that looks exactly as the record in
/// `kept` remembers it, is taken as it is without being read.
fn changes(out: &Path, tree: &Tree, sides: Old, kept: Option<&Path>) -> io::Result<Found> {
    let (dir, exists) = match env_dir(out, &tree.environment) {
        Ok(d) => d,
        Err(fsafe::WalkError::Obstacle(o)) => {
            let problem = Problem {
                text: o.describe(out, out),
                obstacle: o,
            };
            return Ok(Found {
                changes: tree
                    .files
                    .iter()
                    .map(|(path, new)| Change {
                        path: path.clone(),
                        kind: ChangeKind::Modified,
                        old: None,
                        new: Some(new.clone()),
                        problem: Some(problem.clone()),
                    })
                    .collect(),
                looked: vec![None; tree.files.len()],
                held: vec![None; tree.files.len()],
                listed_before: BTreeSet::new(),
            });
        }
        Err(fsafe::WalkError::Io(e)) => return Err(e),
    };
    // The previous index, read once; what the record remembers of its files, the folders they are
    // in, and what they are to hold.
    let previous_index = if exists { previous_index(&dir) } else { None };
    let (previous, real, to_hold) = match kept {
        Some(kept) if exists => (
            remembered(&dir, previous_index.as_ref(), kept),
            real_folders(&dir, tree.files.keys().map(String::as_str)),
            tree.listed
                .iter()
                .map(|(path, sha256)| (path.as_str(), sha256.as_str()))
                .collect(),
        ),
        _ => (BTreeMap::new(), BTreeMap::new(), BTreeMap::new()),
    };
    // Each file compared on its own, a piece at a time, spread over the machine's cores when there
    // are many; only a file that differs is read whole and kept, and only when `sides` asks.
    let files: Vec<(&String, &crate::targets::Bytes)> = tree.files.iter().collect();
    let entries = crate::parallel::map_from(
        SPREAD_FROM,
        &files,
        |(path, new)| -> io::Result<(Option<fsafe::Entry>, Option<seen::Seen>)> {
            // How it looks before it is read: what the record will remember if it holds its bytes.
            let looked = if kept.is_some() && exists {
                looks(&dir, path, &real)
            } else {
                None
            };
            if let (Some(now), Some((sha256, Some(before)))) = (looked, previous.get(path.as_str()))
                && now == *before
            {
                if to_hold.get(path.as_str()) == Some(sha256) {
                    return Ok((None, looked));
                }
                // A regular file that still holds the bytes the previous index lists, which are
                // not the new ones: changed, and a build need not read it to know.
                if sides == Old::Skip && to_hold.contains_key(path.as_str()) {
                    return Ok((Some(fsafe::Entry::File(Vec::new())), None));
                }
            }
            let entry = if !exists {
                fsafe::Entry::Missing
            } else if new.held_in(&dir, path) {
                return Ok((None, looked));
            } else if sides == Old::Skip {
                // Not the same bytes: told apart, not read (an empty old side).
                return Ok((
                    Some(match fsafe::find_generated(&dir, path, Some(new.len()))? {
                        fsafe::Found::Missing => fsafe::Entry::Missing,
                        fsafe::Found::File => fsafe::Entry::File(Vec::new()),
                        fsafe::Found::Obstacle(o) => fsafe::Entry::Obstacle(o),
                    }),
                    None,
                ));
            } else {
                fsafe::read_generated(&dir, path, new.len())?
            };
            Ok(match entry {
                // Bytes that are not held are read from where they are, and must still be there.
                fsafe::Entry::File(old) if old[..] == new.read()?[..] => (None, looked),
                other => (Some(other), None),
            })
        },
    );
    let mut changes = Vec::new();
    let mut looked = Vec::with_capacity(files.len());
    let mut held = Vec::with_capacity(files.len());
    for ((path, new), entry) in files.into_iter().zip(entries) {
        let (entry, seen) = entry?;
        looked.push(seen);
        held.push(
            previous
                .get(path.as_str())
                .filter(|(sha256, _)| to_hold.get(path.as_str()) == Some(sha256))
                .and_then(|(_, before)| *before),
        );
        let Some(entry) = entry else { continue };
        match entry {
            fsafe::Entry::File(old) => changes.push(Change {
                path: path.clone(),
                kind: ChangeKind::Modified,
                old: (sides == Old::Read).then_some(old),
                new: Some(new.clone()),
                problem: None,
            }),
            fsafe::Entry::Missing => changes.push(Change {
                path: path.clone(),
                kind: ChangeKind::Added,
                old: None,
                new: Some(new.clone()),
                problem: None,
            }),
            fsafe::Entry::Obstacle(o) => changes.push(Change {
                path: path.clone(),
                kind: ChangeKind::Modified,
                old: None,
                new: Some(new.clone()),
                problem: Some(Problem {
                    text: o.describe(&dir, &dir.join(path)),
                    obstacle: o,
                }),
            }),
        }
    }
    let listed_before = if exists {
        listed_files(previous_index.as_ref().map(|(_, index)| index))
    } else {
        BTreeSet::new()
    };
    for path in &listed_before {
        if tree.files.contains_key(path) {
            continue;
        }
        let old = match sides {
            Old::Read => match fsafe::read(&dir, path)? {
                fsafe::Entry::File(old) => Some(old),
                _ => continue,
            },
            Old::Skip => match fsafe::find_generated(&dir, path, None)? {
                fsafe::Found::File => None,
                _ => continue,
            },
        };
        changes.push(Change {
            path: path.clone(),
            kind: ChangeKind::Removed,
            old,
            new: None,
            problem: None,
        });
    }
    // What the model changed first, by path; the index, whose hashes follow every other change,
    // last.
    changes.sort_by(|a, b| (a.path == INDEX, &a.path).cmp(&(b.path == INDEX, &b.path)));
    Ok(Found {
        changes,
        looked,
        held,
        listed_before,
    })
}

/// The largest file [`holds`] reads: far above any generated file.
const HOLDS_CAP: u64 = 1 << 30;

/// Whether `<out>/<environment>/` holds the index whose SHA-256 is `index_sha256` and every file
/// it lists, byte for byte (read as [`compare`] reads them, never through a link): then the
/// folder is what a compilation to that index would leave, and [`compare`] would find nothing.
///
/// A file that looks exactly as it did when a check last read it and found its bytes (size, times,
/// inode: see `seen`) is taken as it is, without reading it again; the user's cache folder
/// remembers how each file looked.
#[must_use]
pub fn holds(out: &Path, environment: &str, index_sha256: &str) -> bool {
    holds_remembering(
        out,
        environment,
        index_sha256,
        crate::cache::folder("outputs").as_deref(),
        seen::SETTLED,
    )
}

/// [`holds`], remembering how the files looked in `kept` (nothing remembered without it), each
/// file only when it last changed at least `settled` before the check.
fn holds_remembering(
    out: &Path,
    environment: &str,
    index_sha256: &str,
    kept: Option<&Path>,
    settled: std::time::Duration,
) -> bool {
    let Ok((dir, true)) = env_dir(out, environment) else {
        return false;
    };
    let Ok(fsafe::Entry::File(bytes)) = fsafe::read(&dir, INDEX) else {
        return false;
    };
    if sha256_hex(&bytes) != index_sha256 {
        return false;
    }
    let Ok(index) = serde_json::from_slice::<Index>(&bytes) else {
        return false;
    };
    let now = std::time::SystemTime::now();
    let remembered = seen::load(kept, &dir, index_sha256, index.files.len());
    let files: Vec<(&IndexFile, Option<seen::Seen>)> = index.files.iter().zip(remembered).collect();
    let folders = real_folders(&dir, index.files.iter().map(|f| f.path.as_str()));
    // Reading and hashing thousands of files is the whole of the work, unless they look as they
    // did: on every core, each file a piece at a time (the chart values of 10,000 services are
    // 170 MiB). For each file, how it looked before it was read, and whether it was read; `None`
    // when it does not hold its bytes.
    let found = crate::parallel::map(&files, |(f, before)| {
        if f.path == INDEX || !fsafe::safe_relative(&f.path) {
            return None;
        }
        let looks = looks(&dir, &f.path, &folders);
        if looks.is_some() && looks == *before {
            return Some((looks, false));
        }
        fsafe::sha256_of(&dir, &f.path, HOLDS_CAP)
            .is_some_and(|h| hex(&h) == f.sha256)
            .then_some((looks, true))
    });
    let mut read = false;
    let mut looked = Vec::with_capacity(found.len());
    for f in found {
        let Some((looks, was_read)) = f else {
            return false;
        };
        read |= was_read;
        looked.push(looks.filter(|s| s.settled(now, settled)));
    }
    if read && looked.iter().any(Option::is_some) {
        seen::keep(kept, &dir, index_sha256, looked);
    }
    true
}

/// Moves one of the user's own entries into the staged tree unchanged: files are hard-linked (same
/// bytes, same mtime) or copied where links are impossible, symbolic links are recreated rather
/// than followed, and empty folders are recreated (others come back with what they hold; a folder
/// whose generated files all went stale disappears with them).
fn carry_over(src: &Path, kind: std::fs::FileType, staging: &Path, rel: &Path) -> io::Result<()> {
    let dest = staging.join(rel);
    if kind.is_dir() {
        if std::fs::read_dir(src)?.next().is_none() {
            fsafe::create_folders(staging, rel).map_err(io::Error::from)?;
        }
        return Ok(());
    }
    if let Some(p) = rel.parent() {
        fsafe::create_folders(staging, p).map_err(io::Error::from)?;
    }
    if kind.is_symlink() {
        #[cfg(unix)]
        return std::os::unix::fs::symlink(std::fs::read_link(src)?, dest);
        #[cfg(not(unix))]
        return Ok(());
    }
    if std::fs::hard_link(src, &dest).is_ok() {
        return Ok(());
    }
    // Where links are impossible only a regular file is copied (a FIFO would block the copy).
    match fsafe::read_regular(src, fsafe::MAX_READ, fsafe::Links::Refuse)? {
        fsafe::Regular::Bytes(bytes) => fsafe::write_new(&dest, &bytes),
        _ => Err(io::Error::other(format!(
            "`{}` is {} and cannot be carried into the new tree",
            src.display(),
            fsafe::describe(kind)
        ))),
    }
}

/// Gives every folder of the staged tree the mode its counterpart has in the old tree, so a `0700`
/// folder of the user's stays `0700`.
#[cfg(unix)]
fn keep_modes(old: &Path, staged: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for entry in walkdir::WalkDir::new(old) {
        let entry = entry.map_err(io::Error::other)?;
        if !entry.file_type().is_dir() {
            continue;
        }
        let rel = entry.path().strip_prefix(old).map_err(io::Error::other)?;
        let target = staged.join(rel);
        if std::fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir()) {
            let mode = entry
                .metadata()
                .map_err(io::Error::other)?
                .permissions()
                .mode();
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode))?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn keep_modes(_old: &Path, _staged: &Path) -> io::Result<()> {
    Ok(())
}

fn staging_prefix(environment: &str) -> String {
    format!(".{environment}.new-")
}

fn aside_prefix(environment: &str) -> String {
    format!(".{environment}.old-")
}

/// A fresh, uniquely named folder in `out` (the process id keeps concurrent tools apart; the lock
/// keeps deaap-gen runs apart).
fn fresh_dir(out: &Path, prefix: &str) -> io::Result<PathBuf> {
    for n in 0u32.. {
        let p = out.join(format!("{prefix}{}-{n}", std::process::id()));
        match std::fs::create_dir(&p) {
            Ok(()) => return Ok(p),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("no free name for a staging folder"))
}

/// Removes a staging folder unless the swap took it.
struct Staging(Option<PathBuf>);

impl Drop for Staging {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

/// Repairs what a build that was killed mid-way left in `out`: when the environment's folder is
/// missing but a tree set aside during the swap is there, that tree is put back (it is the last
/// complete output, user files included); every other staging or set-aside folder is removed.
/// Returns whether a tree was restored.
///
/// # Errors
/// `out` cannot be listed or a leftover cannot be moved or removed.
pub fn recover(out: &Path, environment: &str) -> io::Result<bool> {
    let (staging, aside) = (staging_prefix(environment), aside_prefix(environment));
    let mut asides = Vec::new();
    let mut stagings = Vec::new();
    let entries = match std::fs::read_dir(out) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&aside) {
            let modified = entry.metadata()?.modified().ok();
            asides.push((modified, entry.path()));
        } else if name.starts_with(&staging) {
            stagings.push(entry.path());
        }
    }
    let dir = out.join(environment);
    let mut restored = false;
    asides.sort();
    if std::fs::symlink_metadata(&dir).is_err()
        && let Some((_, newest)) = asides.pop()
    {
        std::fs::rename(&newest, &dir)?;
        restored = true;
    }
    for p in asides.into_iter().map(|(_, p)| p).chain(stagings) {
        std::fs::remove_dir_all(p)?;
    }
    Ok(restored)
}

/// Puts `staged` in the place of `dir` and returns where the old tree is now (`None` when there
/// was none). On Linux and macOS an existing tree is exchanged with the staged one in one atomic
/// step, so there is no moment without a tree, and the old tree is where `staged` was; elsewhere
/// (or on a filesystem without the exchange) the old tree is moved aside first, and [`recover`]
/// puts it back if the process dies before the new one is in.
fn swap(
    out: &Path,
    environment: &str,
    staged: &Path,
    dir: &Path,
    exists: bool,
) -> io::Result<Option<PathBuf>> {
    if !exists {
        std::fs::rename(staged, dir)?;
        return Ok(None);
    }
    #[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        match renameat_with(CWD, staged, CWD, dir, RenameFlags::EXCHANGE) {
            Ok(()) => return Ok(Some(staged.to_path_buf())),
            Err(e)
                if e == rustix::io::Errno::INVAL
                    || e == rustix::io::Errno::NOSYS
                    || e == rustix::io::Errno::NOTSUP => {}
            Err(e) => return Err(e.into()),
        }
    }
    let aside = fresh_dir(out, &aside_prefix(environment))?;
    std::fs::remove_dir(&aside)?;
    std::fs::rename(dir, &aside)?;
    if let Err(e) = std::fs::rename(staged, dir) {
        std::fs::rename(&aside, dir)?;
        return Err(e);
    }
    Ok(Some(aside))
}

/// Removes the folder `tree` and everything in it, as `remove_dir_all` does (never following a
/// link); with `spread` (a tree of many files), its top-level entries on every core.
fn remove_tree(tree: &Path, spread: bool) -> io::Result<()> {
    if !spread {
        return std::fs::remove_dir_all(tree);
    }
    let entries: Vec<std::fs::DirEntry> = std::fs::read_dir(tree)?.collect::<io::Result<_>>()?;
    let removed = crate::parallel::map(&entries, |e| {
        if e.file_type()?.is_dir() {
            std::fs::remove_dir_all(e.path())
        } else {
            std::fs::remove_file(e.path())
        }
    });
    for r in removed {
        r?;
    }
    std::fs::remove_dir(tree)
}

/// A write that has been checked and is ready to apply: what changes, and nothing in the way.
#[derive(Debug)]
pub struct Pending<'a> {
    tree: &'a Tree,
    pub changes: Vec<Change>,
    /// The files the previous index lists (the user's own entries are the others).
    listed_before: BTreeSet<String>,
    /// What the write is to remember of the files it keeps, when anything is remembered.
    remember: Option<Remember>,
}

/// What a write remembers of the files it keeps ([`remember_kept`]).
#[derive(Debug)]
struct Remember {
    /// Where: the record's folder.
    kept: PathBuf,
    /// How the files found to hold their new bytes looked (see [`Found::looked`]).
    looked: Vec<Option<seen::Seen>>,
    /// How the files that held each file's new bytes looked when last found (see
    /// [`Found::held`]).
    held: Vec<Option<seen::Seen>>,
    /// When the files were looked at, and how long before it a file's bytes must have been
    /// written for it to be remembered.
    at: std::time::SystemTime,
    settled: std::time::Duration,
}

impl Pending<'_> {
    #[must_use]
    pub fn environment(&self) -> &str {
        &self.tree.environment
    }

    /// Files in the tree (the index included).
    #[must_use]
    pub fn file_count(&self) -> usize {
        self.tree.files.len()
    }
}

/// Prepares writing `tree` to `<out>/<env>/`: finishes what an interrupted build left (see
/// [`recover`]), compares (telling apart, never reading, the files it replaces), and refuses a link
/// or special file where a generated file or folder belongs. Nothing is written to the
/// environment's folder. The caller holds the output folder's [`lock`].
///
/// # Errors
/// An obstacle, or a file that cannot be read.
pub fn prepare<'a>(out: &Path, tree: &'a Tree) -> Result<Pending<'a>, WriteError> {
    prepare_remembering(out, tree, crate::cache::folder("outputs"), seen::SETTLED)
}

/// [`prepare`], taking a file as it is when it looks as the record in `kept` remembers it, and
/// remembering after the write how the files it keeps look (see [`apply`]), each only when its
/// bytes were written at least `settled` before the check.
fn prepare_remembering<'a>(
    out: &Path,
    tree: &'a Tree,
    kept: Option<PathBuf>,
    settled: std::time::Duration,
) -> Result<Pending<'a>, WriteError> {
    if fsafe::real_dir(out)? {
        recover(out, &tree.environment)?;
    }
    let at = std::time::SystemTime::now();
    let Found {
        changes,
        looked,
        held,
        listed_before,
    } = changes(out, tree, Old::Skip, kept.as_deref())?;
    if let Some(p) = changes.iter().find_map(|c| c.problem.as_ref()) {
        return Err(WriteError::Obstacle(p.obstacle.clone()));
    }
    Ok(Pending {
        tree,
        changes,
        listed_before,
        remember: kept.map(|kept| Remember {
            kept,
            looked,
            held,
            at,
            settled,
        }),
    })
}

/// Writes `tree` to `<out>/<env>/` atomically. Returns the number of changed files (0: nothing was
/// written at all). The caller holds the output folder's [`lock`].
///
/// # Errors
/// A link or special file where a generated file or folder belongs (nothing is written then), or
/// any filesystem failure; the previous tree is then left as it was.
pub fn write(out: &Path, tree: &Tree) -> Result<usize, WriteError> {
    apply(out, prepare(out, tree)?)
}

/// Applies a prepared write: the new tree is assembled beside the old one and swapped in.
///
/// When the record of how the files look is kept (the user's cache folder) on the output
/// folder's file system, the new tree is assembled in the spare tree kept there for this output
/// folder ([`spare`]): the tree the previous write swapped out, which shares its files with the
/// tree it replaced but for those that write changed. Only what differs is replaced there, and
/// after the swap the old tree stays as the next spare: a write that changes one file of thousands
/// links, writes and removes a few files, not every file twice. Otherwise the tree is assembled in
/// a new folder beside the old one, every unchanged file linked into it, and the old tree removed
/// after the swap.
///
/// # Errors
/// Any filesystem failure; the previous tree is then left as it was and the staging folder removed
/// (a spare tree is kept, whatever it holds).
pub fn apply(out: &Path, pending: Pending<'_>) -> Result<usize, WriteError> {
    let Pending {
        tree,
        changes,
        listed_before,
        remember,
    } = pending;
    if changes.is_empty() {
        return Ok(0);
    }
    std::fs::create_dir_all(out)?;
    let (dir, exists) = env_dir(out, &tree.environment)?;
    // With a spare tree, how the file that held each file's new bytes looked when last found: a
    // file of the spare that looks exactly so is that file, unwritten since, and stays.
    let spare = match &remember {
        Some(r) if exists => spare::take(&r.kept, out, &dir, tree).map(|p| (p, &r.held[..])),
        _ => None,
    };
    let mut staging = Staging(None);
    let staged = if let Some((p, _)) = &spare {
        p.clone()
    } else {
        let p = fresh_dir(out, &staging_prefix(&tree.environment))?;
        staging.0 = Some(p.clone());
        p
    };
    let changed: BTreeSet<&str> = changes.iter().map(|c| c.path.as_str()).collect();
    // Carry over the user's own entries (anything the previous index did not list), compared by
    // their exact bytes.
    if exists {
        // In the order the folders list them: a folder still comes before what it holds.
        for entry in walkdir::WalkDir::new(&dir).min_depth(1) {
            let entry = entry.map_err(io::Error::other)?;
            let rel = entry.path().strip_prefix(&dir).map_err(io::Error::other)?;
            if let Some(rel_s) = rel.to_str()
                && (listed_before.contains(rel_s) || tree.files.contains_key(rel_s))
            {
                continue;
            }
            carry_over(entry.path(), entry.file_type(), &staged, rel)?;
        }
    }
    // The folders first, each once; then the files, linked or written on every core when there
    // are many (a file never needs another's folder created meanwhile).
    let mut folders: BTreeSet<&str> = BTreeSet::new();
    for path in tree.files.keys() {
        if let Some((folder, _)) = path.rsplit_once('/')
            && folders.insert(folder)
        {
            fsafe::create_folders(&staged, Path::new(folder))?;
        }
    }
    let real = match &spare {
        Some(_) => real_folders(&staged, tree.files.keys().map(String::as_str)),
        None => BTreeMap::new(),
    };
    let files: Vec<(usize, &String, &crate::targets::Bytes)> = tree
        .files
        .iter()
        .enumerate()
        .map(|(i, (path, bytes))| (i, path, bytes))
        .collect();
    // For each file, how it looks when it stays as the spare held it.
    let stays = crate::parallel::map_runs_from(
        WRITE_SPREAD_FROM,
        &files,
        |&(i, path, bytes)| -> io::Result<Option<seen::Seen>> {
            let dest = staged.join(path);
            if let Some((_, held)) = &spare {
                if let Some(before) = held[i]
                    && looks(&staged, path, &real) == Some(before)
                {
                    return Ok(Some(before));
                }
                match std::fs::remove_file(&dest) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
            let unchanged = !changed.contains(path.as_str());
            if !(unchanged && std::fs::hard_link(dir.join(path), &dest).is_ok()) {
                bytes.write_new(&dest)?;
            }
            Ok(None)
        },
    );
    let stays = stays.into_iter().collect::<io::Result<Vec<_>>>()?;
    if exists {
        keep_modes(&dir, &staged)?;
    }
    let old = swap(out, &tree.environment, &staged, &dir, exists)?;
    staging.0 = None;
    if let Some(old) = old {
        // The old tree is the next spare, or goes.
        let kept_as_spare = match &spare {
            Some((p, _)) => *p == old || std::fs::rename(&old, p).is_ok(),
            None => false,
        };
        if !kept_as_spare {
            remove_tree(&old, tree.files.len() >= WRITE_SPREAD_FROM)?;
        }
    }
    if let Some(remember) = remember {
        remember_kept(&dir, tree, &remember, &stays);
    }
    Ok(changes.len())
}

/// Remembers in `kept` how the files a write kept in `dir` look now, for the next check to take
/// them as they are ([`seen`]). A file that stayed as the spare tree held it looks as it was last
/// found (`stays`, in the tree's order). Linking a file into the new tree moved its change time, so
/// the record of the files as they looked before the write no longer matches them: such a file is
/// remembered when it was found to hold its bytes (`looked`, in the tree's order), those bytes were
/// written at least `settled` before the check at `at`, and it has not been written since: the
/// same file, size and modification time. Any write sets the modification time to the current
/// tick, later than a settled one.
fn remember_kept(dir: &Path, tree: &Tree, remember: &Remember, stays: &[Option<seen::Seen>]) {
    let Remember {
        kept,
        looked,
        at,
        settled,
        ..
    } = remember;
    if tree.index_sha256.is_empty() {
        return;
    }
    let mut now: BTreeMap<&str, seen::Seen> = BTreeMap::new();
    let mut linked: Vec<(&str, seen::Seen)> = Vec::new();
    for ((path, before), stayed) in tree.files.keys().zip(looked).zip(stays) {
        if path == INDEX {
            continue;
        }
        if let Some(stayed) = stayed {
            now.insert(path.as_str(), *stayed);
        } else if let Some(before) = before.filter(|b| b.written_before(*at, *settled)) {
            linked.push((path.as_str(), before));
        }
    }
    if now.is_empty() && linked.is_empty() {
        return;
    }
    let real = real_folders(dir, linked.iter().map(|(path, _)| *path));
    let looks_now = crate::parallel::map_from(SPREAD_FROM, &linked, |(path, before)| {
        looks(dir, path, &real).filter(|now| before.unwritten_in(*now))
    });
    now.extend(
        linked
            .iter()
            .zip(looks_now)
            .filter_map(|((path, _), now)| Some((*path, now?))),
    );
    let seen: Vec<Option<seen::Seen>> = tree
        .listed
        .iter()
        .map(|(path, _)| now.remove(path.as_str()))
        .collect();
    seen::keep(Some(kept), dir, &tree.index_sha256, seen);
}

/// Environments whose output sits in `out` but that are no longer compiled: sub-folders holding an
/// index that names the folder's own environment, other than `keep`. Their generated files are
/// stale as a whole (an environment was renamed or deleted). A link is never taken for a folder.
///
/// # Errors
/// `out` exists but cannot be listed.
pub fn orphans(out: &Path, keep: &[&str]) -> io::Result<Vec<String>> {
    match fsafe::real_dir(out) {
        Ok(true) => {}
        Ok(false) | Err(fsafe::WalkError::Obstacle(_)) => return Ok(Vec::new()),
        Err(fsafe::WalkError::Io(e)) => return Err(e),
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir(out)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || keep.contains(&name.as_str()) || !entry.file_type()?.is_dir() {
            continue;
        }
        let Ok(fsafe::Entry::File(bytes)) = fsafe::read(&entry.path(), INDEX) else {
            continue;
        };
        if serde_json::from_slice::<Index>(&bytes).is_ok_and(|i| i.environment == name) {
            found.push(name);
        }
    }
    found.sort();
    Ok(found)
}

/// What removing an orphaned environment would remove: every file its index lists, and the index.
///
/// # Errors
/// A listed file that exists but cannot be read.
pub fn orphan_changes(out: &Path, environment: &str) -> io::Result<Vec<Change>> {
    let empty = Tree {
        environment: environment.to_owned(),
        files: BTreeMap::new(),
        listed: Vec::new(),
        index_sha256: String::new(),
    };
    compare(out, &empty)
}

/// Removes an orphaned environment's generated files (and the folders they leave empty); the
/// user's own files stay. Only regular files reached through real folders are unlinked: nothing is
/// ever removed through a link. Returns the number of files removed.
///
/// # Errors
/// Any filesystem failure.
pub fn remove_orphan(out: &Path, environment: &str) -> io::Result<usize> {
    let (dir, exists) = env_dir(out, environment)?;
    if !exists {
        return Ok(0);
    }
    let changes = orphan_changes(out, environment)?;
    // The index goes last, so an interrupted removal can be finished by the next build.
    let (index, files): (Vec<&Change>, Vec<&Change>) =
        changes.iter().partition(|c| c.path == INDEX);
    let mut removed = 0;
    for c in files.iter().chain(index.iter()) {
        removed += usize::from(fsafe::remove_regular(&dir, &c.path)?);
    }
    // Prune the folders that held generated files once they are empty, deepest first; a folder
    // that still holds something of the user's stays, and so does the user's own empty folder.
    // (`remove_dir` never follows a link.)
    let mut dirs: Vec<PathBuf> = vec![dir.clone()];
    for c in &changes {
        let mut p = Path::new(&c.path).parent();
        while let Some(d) = p.filter(|d| !d.as_os_str().is_empty()) {
            dirs.push(dir.join(d));
            p = d.parent();
        }
    }
    dirs.sort_by(|a, b| (b.components().count(), a).cmp(&(a.components().count(), b)));
    dirs.dedup();
    for d in dirs {
        let _ = std::fs::remove_dir(d);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn tree(files: &[(&str, &str)]) -> Tree {
        let files: BTreeMap<String, crate::targets::Bytes> = files
            .iter()
            .map(|(p, t)| ((*p).to_owned(), t.as_bytes().to_vec().into()))
            .collect();
        tree_of(files)
    }

    /// The tree of `files` as they are (held or not), with its index.
    fn tree_of(files: BTreeMap<String, crate::targets::Bytes>) -> Tree {
        let index = Index {
            environment: "env".to_owned(),
            generator: "test".to_owned(),
            input_sha256: String::new(),
            files: files
                .iter()
                .map(|(p, b)| IndexFile {
                    path: p.clone(),
                    sha256: hex(&b.sha256()),
                    target: "test".to_owned(),
                    kinds: Vec::new(),
                })
                .collect(),
        };
        indexed(files, index).expect("serializable")
    }

    fn mtime(p: &Path) -> std::time::SystemTime {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .expect("mtime")
    }

    /// Sets `p`'s modification time far in the past and returns it: a file the next write links
    /// instead of rewriting keeps it.
    fn age(p: &Path) -> std::time::SystemTime {
        let past = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
        std::fs::File::options()
            .write(true)
            .open(p)
            .and_then(|f| f.set_modified(past))
            .expect("age");
        past
    }

    #[test]
    fn unchanged_files_keep_their_mtime_when_a_sibling_changes() {
        let out = tempfile::tempdir().expect("temp dir");
        let first = tree(&[("a/one.yaml", "1\n"), ("b/two.yaml", "2\n")]);
        assert_eq!(write(out.path(), &first).expect("write"), 3);
        let one = out.path().join("env/a/one.yaml");
        let past = age(&one);
        let second = tree(&[("a/one.yaml", "1\n"), ("b/two.yaml", "two\n")]);
        // two.yaml and the index.
        assert_eq!(write(out.path(), &second).expect("write"), 2);
        assert_eq!(mtime(&one), past);
        assert_eq!(
            std::fs::read_to_string(out.path().join("env/b/two.yaml")).expect("read"),
            "two\n"
        );
        assert!(compare(out.path(), &second).expect("compare").is_empty());
        assert_eq!(write(out.path(), &second).expect("write"), 0);
    }

    /// A tree of many files is linked, written and swapped on every core: the same files, the
    /// unchanged ones linked (their mtimes kept), the old tree gone, no staging folder left.
    #[test]
    fn a_large_tree_is_written_and_swapped_whole() {
        let out = tempfile::tempdir().expect("temp dir");
        let names: Vec<String> = (0..WRITE_SPREAD_FROM + 40)
            .map(|i| format!("{}/{}/f{i}.yaml", ["a", "b", "c"][i % 3], i % 7))
            .collect();
        let texts = |changed: usize| -> Vec<(String, String)> {
            names
                .iter()
                .enumerate()
                .map(|(i, n)| (n.clone(), format!("{}\n", if i == changed { 0 } else { i })))
                .collect()
        };
        let as_tree = |files: &[(String, String)]| {
            let files: Vec<(&str, &str)> = files
                .iter()
                .map(|(n, t)| (n.as_str(), t.as_str()))
                .collect();
            tree(&files)
        };
        let first = as_tree(&texts(usize::MAX));
        assert!(first.files.len() >= WRITE_SPREAD_FROM);
        assert_eq!(write(out.path(), &first).expect("write"), names.len() + 1);
        let kept = out.path().join("env").join(&names[1]);
        let past = age(&kept);
        let second = as_tree(&texts(5));
        // The changed file and the index.
        assert_eq!(write(out.path(), &second).expect("write"), 2);
        assert!(compare(out.path(), &second).expect("compare").is_empty());
        assert_eq!(mtime(&kept), past);
        assert_eq!(
            std::fs::read_to_string(out.path().join("env").join(&names[5])).expect("read"),
            "0\n"
        );
        let left: Vec<String> = std::fs::read_dir(out.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["env"]);
    }

    /// A write tells the files it replaces or removes apart without reading them, and finds the
    /// same changes and obstacles as `compare`, which reads them for a diff.
    #[test]
    fn a_write_never_reads_the_files_it_replaces() {
        let out = tempfile::tempdir().expect("temp dir");
        write(
            out.path(),
            &tree(&[
                ("same.yaml", "s\n"),
                ("big.yaml", "old\n"),
                ("gone.yaml", "g\n"),
            ]),
        )
        .expect("write");
        let next = tree(&[
            ("same.yaml", "s\n"),
            ("big.yaml", "new\n"),
            ("new.yaml", "n\n"),
        ]);
        let read = compare(out.path(), &next).expect("compare");
        let pending = prepare(out.path(), &next).expect("prepare");
        let sides = |changes: &[Change]| -> Vec<(String, ChangeKind, bool)> {
            changes
                .iter()
                .map(|c| (c.path.clone(), c.kind, c.old.is_some()))
                .collect()
        };
        assert_eq!(
            sides(&read),
            [
                ("big.yaml".to_owned(), ChangeKind::Modified, true),
                ("gone.yaml".to_owned(), ChangeKind::Removed, true),
                ("new.yaml".to_owned(), ChangeKind::Added, false),
                (INDEX.to_owned(), ChangeKind::Modified, true),
            ]
        );
        let unread: Vec<(String, ChangeKind, bool)> = sides(&read)
            .into_iter()
            .map(|(p, k, _)| (p, k, false))
            .collect();
        assert_eq!(sides(&pending.changes), unread);
        assert_eq!(apply(out.path(), pending).expect("apply"), 4);
        assert!(compare(out.path(), &next).expect("compare").is_empty());

        // A link where a changed file belongs is refused as before, and nothing is written.
        #[cfg(unix)]
        {
            let file = out.path().join("env/big.yaml");
            std::fs::remove_file(&file).expect("rm");
            std::os::unix::fs::symlink("same.yaml", &file).expect("link");
            let last = tree(&[("same.yaml", "s\n"), ("big.yaml", "newer\n")]);
            assert!(matches!(
                prepare(out.path(), &last),
                Err(WriteError::Obstacle(_))
            ));
            assert!(std::fs::symlink_metadata(&file).expect("link").is_symlink());
        }
    }

    #[test]
    fn stale_files_and_their_emptied_folders_go() {
        let out = tempfile::tempdir().expect("temp dir");
        write(
            out.path(),
            &tree(&[("keep.yaml", "k\n"), ("old/deep/gone.yaml", "g\n")]),
        )
        .expect("write");
        std::fs::write(out.path().join("env/old/mine.txt"), "mine").expect("user file");
        let next = tree(&[("keep.yaml", "k\n")]);
        let changes = compare(out.path(), &next).expect("compare");
        let kinds: Vec<(&str, ChangeKind)> =
            changes.iter().map(|c| (c.path.as_str(), c.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("old/deep/gone.yaml", ChangeKind::Removed),
                (INDEX, ChangeKind::Modified)
            ]
        );
        write(out.path(), &next).expect("write");
        assert!(!out.path().join("env/old/deep").exists());
        assert_eq!(
            std::fs::read_to_string(out.path().join("env/old/mine.txt")).expect("kept"),
            "mine"
        );
    }

    #[test]
    fn index_entries_cannot_reach_outside_the_folder() {
        let out = tempfile::tempdir().expect("temp dir");
        let outside = out.path().join("victim.txt");
        std::fs::write(&outside, "precious").expect("write");
        write(out.path(), &tree(&[("a.yaml", "a\n")])).expect("write");
        let evil = serde_json::json!({
            "environment": "env", "generator": "x", "input_sha256": "",
            "files": [{"path": "../victim.txt", "sha256": "", "target": "x", "kinds": []},
                      {"path": "/etc/hostname", "sha256": "", "target": "x", "kinds": []}],
        });
        std::fs::write(
            out.path().join("env").join(INDEX),
            serde_json::to_vec(&evil).expect("json"),
        )
        .expect("write");
        let changes = compare(out.path(), &tree(&[])).expect("compare");
        assert!(
            changes
                .iter()
                .all(|c| !c.path.contains("victim") && !c.path.starts_with('/')),
            "{changes:?}"
        );
        write(out.path(), &tree(&[])).expect("write");
        remove_orphan(out.path(), "env").expect("remove");
        assert_eq!(std::fs::read_to_string(&outside).expect("kept"), "precious");
    }

    fn dot_entries(out: &Path) -> Vec<String> {
        let mut left: Vec<String> = std::fs::read_dir(out)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        left.sort();
        left
    }

    #[test]
    fn leftovers_of_a_killed_build_are_cleaned_up() {
        let out = tempfile::tempdir().expect("temp dir");
        write(out.path(), &tree(&[("a.yaml", "a\n")])).expect("write");
        for d in [".env.new-abc/x", ".env.old-def", ".other.new-ghi"] {
            std::fs::create_dir_all(out.path().join(d)).expect("mkdir");
        }
        write(out.path(), &tree(&[("a.yaml", "b\n")])).expect("write");
        assert_eq!(dot_entries(out.path()), [".other.new-ghi"]);
    }

    #[test]
    fn a_set_aside_tree_comes_back_when_the_folder_is_missing() {
        let out = tempfile::tempdir().expect("temp dir");
        write(out.path(), &tree(&[("a.yaml", "a\n")])).expect("write");
        std::fs::write(out.path().join("env/mine.txt"), "mine").expect("write");
        std::fs::rename(out.path().join("env"), out.path().join(".env.old-1-0")).expect("mv");
        std::fs::create_dir_all(out.path().join(".env.new-2-0/half")).expect("mkdir");
        assert!(recover(out.path(), "env").expect("recover"));
        assert_eq!(
            std::fs::read_to_string(out.path().join("env/mine.txt")).expect("restored"),
            "mine"
        );
        assert!(dot_entries(out.path()).is_empty());
    }

    #[test]
    fn a_failed_write_leaves_the_old_tree_and_no_staging_folder() {
        let out = tempfile::tempdir().expect("temp dir");
        write(out.path(), &tree(&[("a.yaml", "a\n")])).expect("write");
        // A user file whose path fits inside the environment folder but not inside the longer
        // staging folder's name: carrying it over fails half-way through the new tree.
        let env = out.path().join("env");
        let room = 4095 - env.as_os_str().len() - 1;
        let mut deep = env.clone();
        let mut left = room;
        while left > 200 {
            deep.push("d".repeat(199));
            left -= 200;
        }
        std::fs::create_dir_all(&deep).expect("mkdir");
        let file = deep.join("f".repeat(left.saturating_sub(1).max(1)));
        std::fs::write(&file, "mine").expect("user file");
        let err = write(out.path(), &tree(&[("a.yaml", "b\n")])).expect_err("cannot carry over");
        assert!(matches!(err, WriteError::Io(_)), "{err}");
        assert_eq!(
            std::fs::read_to_string(env.join("a.yaml")).expect("old tree"),
            "a\n"
        );
        assert!(file.exists());
        assert!(
            dot_entries(out.path()).is_empty(),
            "{:?}",
            dot_entries(out.path())
        );
    }

    #[test]
    fn orphans_are_folders_whose_index_names_them() {
        let out = tempfile::tempdir().expect("temp dir");
        write(out.path(), &tree(&[("a.yaml", "a\n")])).expect("write");
        std::fs::create_dir_all(out.path().join("notes")).expect("mkdir");
        std::fs::create_dir_all(out.path().join("copy")).expect("mkdir");
        std::fs::copy(
            out.path().join("env").join(INDEX),
            out.path().join("copy").join(INDEX),
        )
        .expect("copy");
        assert_eq!(orphans(out.path(), &[]).expect("list"), ["env"]);
        assert!(orphans(out.path(), &["env"]).expect("list").is_empty());
        assert!(
            orphans(&out.path().join("missing"), &[])
                .expect("list")
                .is_empty()
        );
        std::fs::write(out.path().join("env/NOTES.md"), "mine").expect("write");
        assert_eq!(remove_orphan(out.path(), "env").expect("remove"), 2);
        assert_eq!(
            std::fs::read_dir(out.path().join("env"))
                .expect("kept for the user's file")
                .count(),
            1
        );
    }

    /// The output folder of [`tree`] written to a new folder, with a cache folder of its own and
    /// the SHA-256 of its index.
    #[cfg(unix)]
    fn remembered() -> (tempfile::TempDir, tempfile::TempDir, String) {
        let out = tempfile::tempdir().expect("temp dir");
        let kept = tempfile::tempdir().expect("temp dir");
        let t = tree(&[("a.yaml", "a: 1\n"), ("sub/b.yaml", "b: 2\n")]);
        write(out.path(), &t).expect("write");
        let index = sha256_hex(&t.files[INDEX]);
        (out, kept, index)
    }

    /// A build lets go of a file the folder holds, found by the record of how it looked; the
    /// write then links the file it holds into the new tree as before, and a file that changed
    /// meanwhile stops the write, the previous tree left as it was.
    #[cfg(unix)]
    #[test]
    fn a_file_let_go_of_is_written_from_the_folder_and_checked_there() {
        let sha = |t: &str| -> [u8; 32] { Sha256::digest(t).into() };
        let (out, kept, index) = remembered();
        let dir = out.path().join("env");
        assert!(
            Before::remembered_in(out.path(), "env", kept.path()).is_none(),
            "nothing remembered yet"
        );
        age(&dir.join("a.yaml"));
        age(&dir.join("sub/b.yaml"));
        assert!(holds_now(out.path(), kept.path(), &index));
        let before = Before::remembered_in(out.path(), "env", kept.path()).expect("remembered");
        let a = before.holds("a.yaml", &sha("a: 1\n")).expect("held");
        assert_eq!(a, dir.join("a.yaml"));
        assert_eq!(before.holds("a.yaml", &sha("a: 2\n")), None, "other bytes");
        assert_eq!(before.holds("c.yaml", &sha("a: 1\n")), None, "not listed");
        let kept_a = crate::targets::Bytes::kept(a.clone(), 5, sha("a: 1\n"));
        assert_eq!(kept_a.read().expect("read").as_ref(), b"a: 1\n");
        let next = |b: &str| {
            tree_of(BTreeMap::from([
                ("a.yaml".to_owned(), kept_a.clone()),
                ("sub/b.yaml".to_owned(), b.as_bytes().to_vec().into()),
            ]))
        };
        // A comparison takes it as it is, and finds only the file that changed.
        let found = compare(out.path(), &next("b: 3\n")).expect("compare");
        let changed: Vec<&str> = found.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(changed, ["sub/b.yaml", INDEX]);
        assert_eq!(write(out.path(), &next("b: 3\n")).expect("write"), 2);
        assert_eq!(std::fs::read(&a).expect("a"), b"a: 1\n");
        assert_eq!(std::fs::read(dir.join("sub/b.yaml")).expect("b"), b"b: 3\n");
        // Touched since (the same bytes, written again): no longer taken as it is.
        std::fs::write(&a, "a: 1\n").expect("write");
        assert_eq!(before.holds("a.yaml", &sha("a: 1\n")), None);
        // Changed after the build let go of it: the comparison and the write stop, and nothing is
        // replaced.
        std::fs::write(&a, "a: 7\n").expect("write");
        let e = compare(out.path(), &next("b: 4\n")).expect_err("changed meanwhile");
        assert!(e.to_string().contains("changed while deaap-gen ran"), "{e}");
        let e = write(out.path(), &next("b: 4\n")).expect_err("changed meanwhile");
        assert!(e.to_string().contains("changed while deaap-gen ran"), "{e}");
        assert_eq!(std::fs::read(&a).expect("a"), b"a: 7\n");
        assert_eq!(std::fs::read(dir.join("sub/b.yaml")).expect("b"), b"b: 3\n");
    }

    /// Generating with every file already in the folder holds none of them, and makes the same
    /// files: the chart values write the objects from their data instead of copying their text.
    #[cfg(unix)]
    #[test]
    fn generating_into_a_folder_that_holds_every_file_makes_the_same_files() {
        let env = crate::targets::testkit::load("environments/production.toml");
        let path = Path::new("production.toml");
        let all =
            crate::generate_needed(&env, path, crate::targets::Need::Files).expect("generates");
        let t = super::tree(&env, &all, crate::targets::Need::Files).expect("tree");
        let (out, kept) = (
            tempfile::tempdir().expect("dir"),
            tempfile::tempdir().expect("dir"),
        );
        write(out.path(), &t).expect("write");
        let dir = out.path().join(&t.environment);
        for p in t.files.keys() {
            age(&dir.join(p));
        }
        assert!(holds_remembering(
            out.path(),
            &t.environment,
            &t.index_sha256,
            Some(kept.path()),
            Duration::ZERO
        ));
        let before =
            Before::remembered_in(out.path(), &t.environment, kept.path()).expect("remembered");
        let (again, ()) = crate::generate_then(
            &env,
            path,
            crate::targets::Need::Files,
            Some(&before),
            |_| (),
        )
        .expect("generates");
        assert_eq!(again.len(), all.len());
        let mut let_go = 0;
        for (a, b) in all.iter().zip(&again) {
            assert_eq!(a.path, b.path);
            let_go += usize::from(b.bytes.in_memory().is_none());
            assert_eq!(
                a.bytes.read().expect("read"),
                b.bytes.read().expect("read"),
                "{}",
                a.path
            );
        }
        // Every file: the chart values, made after the targets, were written to a temporary file.
        assert_eq!(let_go, all.len());
        let values = again
            .iter()
            .find(|a| a.path.starts_with("helm/values-"))
            .expect("values");
        assert!(values.bytes.is_spilled());
        let t2 = super::tree(&env, &again, crate::targets::Need::Files).expect("tree");
        assert_eq!(t2.index_sha256, t.index_sha256);
        assert!(compare(out.path(), &t2).expect("compare").is_empty());
        // The folder's values edited by hand: a build finds them changed and writes the spilled
        // bytes in their place.
        let on_disk = dir.join(&values.path);
        let mut edited = std::fs::read(&on_disk).expect("read");
        let middle = edited.len() / 2;
        edited[middle] = if edited[middle] == b'x' { b'y' } else { b'x' };
        std::fs::write(&on_disk, &edited).expect("edit");
        let changes = compare(out.path(), &t2).expect("compare");
        assert_eq!(
            changes.iter().map(|c| c.path.as_str()).collect::<Vec<_>>(),
            [values.path.as_str()]
        );
        let pending = prepare(out.path(), &t2).expect("prepare");
        assert_eq!(apply(out.path(), pending).expect("apply"), 1);
        assert_eq!(
            std::fs::read(&on_disk).expect("read"),
            values.bytes.read().expect("read").as_ref()
        );
        assert!(compare(out.path(), &t2).expect("compare").is_empty());
    }

    #[cfg(unix)]
    fn holds_now(out: &Path, kept: &Path, index: &str) -> bool {
        holds_remembering(out, "env", index, Some(kept), std::time::Duration::ZERO)
    }

    #[cfg(unix)]
    #[test]
    fn a_file_that_looks_as_it_was_found_is_not_read_again() {
        let (out, kept, index) = remembered();
        assert!(holds_now(out.path(), kept.path(), &index));
        assert_eq!(std::fs::read_dir(kept.path()).expect("list").count(), 1);
        // Other bytes of the same size, and a record that says the file looked like this when it
        // was found to hold its bytes: taken as it is, unread.
        let a = out.path().join("env/a.yaml");
        std::fs::write(&a, "a: 2\n").expect("write");
        let dir = out.path().join("env");
        let mut looked = seen::load(Some(kept.path()), &dir, &index, 2);
        assert!(looked.iter().all(Option::is_some), "{looked:?}");
        looked[0] = seen::Seen::of(&std::fs::symlink_metadata(&a).expect("stat"));
        seen::keep(Some(kept.path()), &dir, &index, looked);
        assert!(holds_now(out.path(), kept.path(), &index));
        // A file changed in the last seconds is not remembered: it is read every time.
        std::fs::remove_dir_all(kept.path()).expect("remove");
        std::fs::write(&a, "a: 1\n").expect("write");
        let hour = std::time::Duration::from_secs(3600);
        assert!(holds_remembering(
            out.path(),
            "env",
            &index,
            Some(kept.path()),
            hour
        ));
        assert!(!kept.path().exists(), "nothing settled, nothing kept");
        // One record per folder: another index replaces it.
        assert!(holds_now(out.path(), kept.path(), &index));
        let other = tree(&[("a.yaml", "a: 1\n")]);
        write(out.path(), &other).expect("write");
        let other_index = sha256_hex(&other.files[INDEX]);
        assert!(holds_now(out.path(), kept.path(), &other_index));
        assert_eq!(std::fs::read_dir(kept.path()).expect("list").count(), 1);
        assert_eq!(
            seen::load(Some(kept.path()), &dir, &index, 2),
            vec![None, None]
        );
        assert!(seen::load(Some(kept.path()), &dir, &other_index, 1)[0].is_some());
    }

    /// A change made to a generated file.
    #[cfg(unix)]
    type Edit = fn(&Path);

    #[cfg(unix)]
    #[test]
    fn any_write_after_a_file_was_found_is_seen() {
        // A write in place of the same size: its change time moves past the tick the file was
        // found in (the kernel's coarse clock ticks every few milliseconds).
        let (out, kept, index) = remembered();
        assert!(holds_now(out.path(), kept.path(), &index));
        let a = out.path().join("env/a.yaml");
        std::thread::sleep(std::time::Duration::from_millis(50));
        std::fs::write(&a, "a: 2\n").expect("write");
        assert!(!holds_now(out.path(), kept.path(), &index));
        // Each kind of change, from a folder found to hold every file.
        let changes: [(&str, Edit); 4] = [
            ("removed", |p| std::fs::remove_file(p).expect("remove")),
            ("replaced", |p| {
                let other = p.with_extension("new");
                std::fs::write(&other, "a: 9\n").expect("write");
                std::fs::rename(&other, p).expect("rename");
            }),
            ("linked", |p| {
                let copy = p.with_extension("copy");
                std::fs::copy(p, &copy).expect("copy");
                std::fs::remove_file(p).expect("remove");
                std::os::unix::fs::symlink(&copy, p).expect("link");
            }),
            ("its folder linked", |p| {
                let folder = p.parent().expect("folder");
                let moved = folder.with_file_name("moved");
                std::fs::rename(folder, &moved).expect("move");
                std::os::unix::fs::symlink(&moved, folder).expect("link");
            }),
        ];
        for (what, change) in changes {
            let (out, kept, index) = remembered();
            assert!(holds_now(out.path(), kept.path(), &index));
            assert!(
                holds_now(out.path(), kept.path(), &index),
                "{what}: remembered"
            );
            change(&out.path().join("env/sub/b.yaml"));
            assert!(!holds_now(out.path(), kept.path(), &index), "{what}");
        }
    }

    /// Writes `t` over `out`, remembering in `kept` (files written before the check settle).
    #[cfg(unix)]
    fn write_remembering(out: &Path, kept: &Path, t: &Tree) -> usize {
        apply(out, prepare_kept(out, t, kept, Duration::ZERO)).expect("apply")
    }

    /// Prepares writing `t` over `out`, remembering in `kept` the files written `settled` before.
    #[cfg(unix)]
    fn prepare_kept<'a>(out: &Path, t: &'a Tree, kept: &Path, settled: Duration) -> Pending<'a> {
        prepare_remembering(out, t, Some(kept.to_path_buf()), settled).expect("prepare")
    }

    #[cfg(unix)]
    fn stat(p: &Path) -> Option<seen::Seen> {
        seen::Seen::of(&std::fs::symlink_metadata(p).expect("stat"))
    }

    #[cfg(unix)]
    #[test]
    fn a_write_remembers_the_files_it_kept_as_they_look_after_it() {
        let (out, kept, _) = remembered();
        let dir = out.path().join("env");
        let (a, b) = (dir.join("a.yaml"), dir.join("sub/b.yaml"));
        age(&a);
        age(&b);
        // `a` is kept (linked into the new tree, which moves its change time), `b` rewritten.
        let next = tree(&[("a.yaml", "a: 1\n"), ("sub/b.yaml", "b: 3\n")]);
        let next_index = sha256_hex(&next.files[INDEX]);
        assert_eq!(write_remembering(out.path(), kept.path(), &next), 2);
        let looked = seen::load(Some(kept.path()), &dir, &next_index, 2);
        assert_eq!(
            looked,
            vec![stat(&a), None],
            "only the kept file, as it looks now"
        );
        // Other bytes to hold than those the index lists are a change, however the file looks.
        let other = tree(&[("a.yaml", "a: 2\n"), ("sub/b.yaml", "b: 3\n")]);
        let found = changes(out.path(), &other, Old::Skip, Some(kept.path())).expect("compare");
        assert!(found.changes.iter().any(|c| c.path == "a.yaml"));
        // The next check takes `a` as it is: other bytes under a record that matches them pass.
        std::fs::write(&a, "a: 9\n").expect("write");
        let mut looked = looked;
        looked[0] = stat(&a);
        seen::keep(Some(kept.path()), &dir, &next_index, looked);
        let pending = prepare_kept(out.path(), &next, kept.path(), Duration::ZERO);
        assert!(pending.changes.is_empty(), "{:?}", pending.changes);
        // Without the record it is read, and found.
        let found = changes(out.path(), &next, Old::Skip, None).expect("compare");
        assert_eq!(found.changes.len(), 1);
        assert_eq!(found.changes[0].path, "a.yaml");
        // Nothing settled before the check: nothing remembered.
        std::fs::write(&a, "a: 1\n").expect("write");
        let kept = tempfile::tempdir().expect("temp dir");
        let last = tree(&[("a.yaml", "a: 1\n"), ("sub/b.yaml", "b: 4\n")]);
        let last_index = sha256_hex(&last.files[INDEX]);
        let pending = prepare_kept(out.path(), &last, kept.path(), Duration::from_secs(3600));
        assert_eq!(apply(out.path(), pending).expect("apply"), 2);
        assert_eq!(
            seen::load(Some(kept.path()), &dir, &last_index, 2),
            [None, None]
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_write_to_a_kept_file_during_a_build_is_not_remembered() {
        let (out, kept, _) = remembered();
        let dir = out.path().join("env");
        let a = dir.join("a.yaml");
        age(&a);
        let next = tree(&[("a.yaml", "a: 1\n"), ("sub/b.yaml", "b: 3\n")]);
        let next_index = sha256_hex(&next.files[INDEX]);
        let pending = prepare_kept(out.path(), &next, kept.path(), Duration::ZERO);
        // Found to hold its bytes, then written before the new tree is swapped in.
        std::fs::write(&a, "a: 7\n").expect("write");
        assert_eq!(apply(out.path(), pending).expect("apply"), 2);
        let looked = seen::load(Some(kept.path()), &dir, &next_index, 2);
        assert_eq!(looked, vec![None, None]);
        // So the next check reads it, and finds it.
        let pending = prepare_kept(out.path(), &next, kept.path(), Duration::ZERO);
        assert_eq!(pending.changes.len(), 1);
        assert_eq!(pending.changes[0].path, "a.yaml");
        // As does a write after the record was made.
        let (out, kept, _) = remembered();
        let dir = out.path().join("env");
        let a = dir.join("a.yaml");
        age(&a);
        write_remembering(out.path(), kept.path(), &next);
        assert!(seen::load(Some(kept.path()), &dir, &next_index, 2)[0].is_some());
        std::thread::sleep(Duration::from_millis(50));
        std::fs::write(&a, "a: 8\n").expect("write");
        let found = changes(out.path(), &next, Old::Skip, Some(kept.path())).expect("compare");
        assert_eq!(found.changes.len(), 1);
    }

    /// The spare tree kept in `kept` for the environment folder of `out`.
    #[cfg(unix)]
    fn spare_of(out: &Path, kept: &Path) -> PathBuf {
        let key = seen::key(&out.join("env")).expect("key");
        kept.join(seen::spare_name(&key))
    }

    /// Every file under `dir`, by path, with its bytes.
    #[cfg(unix)]
    fn files_in(dir: &Path) -> BTreeMap<String, String> {
        walkdir::WalkDir::new(dir)
            .min_depth(1)
            .into_iter()
            .map(|e| e.expect("walk"))
            .filter(|e| !e.file_type().is_dir())
            .map(|e| {
                let rel = e.path().strip_prefix(dir).expect("inside");
                let bytes = std::fs::read_to_string(e.path()).expect("read");
                (rel.to_string_lossy().into_owned(), bytes)
            })
            .collect()
    }

    /// The files `t` writes, the index included, and the user's own.
    #[cfg(unix)]
    fn expected(t: &Tree, own: &[(&str, &str)]) -> BTreeMap<String, String> {
        t.files
            .iter()
            .map(|(p, b)| (p.clone(), String::from_utf8(b.to_vec()).expect("text")))
            .chain(own.iter().map(|(p, b)| ((*p).to_owned(), (*b).to_owned())))
            .collect()
    }

    /// A write keeps the tree it swaps out as a spare beside the record, and the next write
    /// assembles its tree there: a file that stays as the spare holds it is not touched at all
    /// (the same file, its change time too), and only what changed is written.
    #[cfg(unix)]
    #[test]
    fn a_write_assembles_its_tree_in_the_spare_and_touches_only_what_changed() {
        use std::os::unix::fs::MetadataExt;
        let (out, kept, _) = remembered();
        let dir = out.path().join("env");
        std::fs::write(dir.join("notes.txt"), "mine\n").expect("user file");
        age(&dir.join("a.yaml"));
        let second = tree(&[("a.yaml", "a: 1\n"), ("sub/b.yaml", "b: 3\n")]);
        assert_eq!(write_remembering(out.path(), kept.path(), &second), 2);
        // The first tree is the spare now.
        let spare = spare_of(out.path(), kept.path());
        assert_eq!(
            std::fs::read_to_string(spare.join("sub/b.yaml")).expect("spare"),
            "b: 2\n"
        );
        let a = dir.join("a.yaml");
        let before = std::fs::symlink_metadata(&a).expect("stat");
        std::thread::sleep(Duration::from_millis(20));
        let third = tree(&[
            ("a.yaml", "a: 1\n"),
            ("sub/b.yaml", "b: 4\n"),
            ("c.yaml", "c\n"),
        ]);
        assert_eq!(write_remembering(out.path(), kept.path(), &third), 3);
        let after = std::fs::symlink_metadata(&a).expect("stat");
        assert_eq!(
            (before.ino(), before.ctime(), before.ctime_nsec()),
            (after.ino(), after.ctime(), after.ctime_nsec()),
            "the kept file is not touched"
        );
        assert_eq!(files_in(&dir), expected(&third, &[("notes.txt", "mine\n")]));
        // The record remembers the untouched file as it looks.
        let index = sha256_hex(&third.files[INDEX]);
        assert_eq!(
            seen::load(Some(kept.path()), &dir, &index, 3)[0],
            seen::Seen::of(&after)
        );
        // And the second tree is the spare.
        assert_eq!(
            std::fs::read_to_string(spare.join("sub/b.yaml")).expect("spare"),
            "b: 3\n"
        );
    }

    /// Whatever the spare holds, a write makes it hold exactly the new tree: files written over,
    /// replaced or left by a killed build are replaced; strays, links and a folder where a file
    /// belongs go; nothing is followed out of it.
    #[cfg(unix)]
    #[test]
    fn a_spare_tree_that_was_tampered_with_still_gives_the_new_tree() {
        let (out, kept, _) = remembered();
        let dir = out.path().join("env");
        age(&dir.join("a.yaml"));
        age(&dir.join("sub/b.yaml"));
        // The tree of `a.yaml`, `c.yaml` and `sub/b.yaml` holding `b`.
        let with_b = |b| tree(&[("a.yaml", "a: 1\n"), ("sub/b.yaml", b), ("c.yaml", "c\n")]);
        let second = with_b("b: 2\n");
        write_remembering(out.path(), kept.path(), &second);
        let spare = spare_of(out.path(), kept.path());
        let outside = tempfile::tempdir().expect("temp dir");
        std::fs::write(outside.path().join("b.yaml"), "outside\n").expect("write");
        // Another file in `a.yaml`'s place, of the same size; the folder `sub` a link out of the
        // spare; a folder where `c.yaml` goes; strays.
        std::fs::remove_file(spare.join("a.yaml")).expect("remove");
        std::fs::write(spare.join("a.yaml"), "a: 9\n").expect("write");
        std::fs::remove_dir_all(spare.join("sub")).expect("remove");
        std::os::unix::fs::symlink(outside.path(), spare.join("sub")).expect("link");
        std::fs::create_dir_all(spare.join("c.yaml/deep")).expect("mkdir");
        std::fs::create_dir_all(spare.join("old")).expect("mkdir");
        std::fs::write(spare.join("old/x.yaml"), "x\n").expect("write");
        std::os::unix::fs::symlink("/", spare.join("root")).expect("link");
        let third = with_b("b: 5\n");
        assert_eq!(write_remembering(out.path(), kept.path(), &third), 2);
        assert_eq!(files_in(&dir), expected(&third, &[]));
        assert_eq!(
            std::fs::read_to_string(outside.path().join("b.yaml")).expect("outside"),
            "outside\n"
        );
        // An in-place write to a file the tree and the spare share is seen, through either.
        let fourth = with_b("b: 6\n");
        write_remembering(out.path(), kept.path(), &fourth);
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(dir.join("a.yaml"), "a: 7\n").expect("write");
        let fifth = with_b("b: 7\n");
        assert_eq!(write_remembering(out.path(), kept.path(), &fifth), 3);
        assert_eq!(files_in(&dir), expected(&fifth, &[]));
    }

    /// A spare whose record is gone, unchanged for longer than the cache keeps a file, goes when
    /// another is taken; one just made by another run, whose record is yet to come, stays.
    #[cfg(unix)]
    #[test]
    fn a_spare_without_its_record_goes_once_stale() {
        let (out, kept, _) = remembered();
        let orphan = kept.path().join(seen::spare_name(&"0".repeat(64)));
        let young = kept.path().join(seen::spare_name(&"1".repeat(64)));
        std::fs::create_dir_all(orphan.join("sub")).expect("mkdir");
        std::fs::create_dir_all(&young).expect("mkdir");
        let past = std::time::SystemTime::now() - crate::cache::STALE - Duration::from_secs(60);
        std::fs::File::open(&orphan)
            .and_then(|f| f.set_modified(past))
            .expect("age");
        let second = tree(&[("a.yaml", "a: 2\n"), ("sub/b.yaml", "b: 2\n")]);
        write_remembering(out.path(), kept.path(), &second);
        assert!(!orphan.exists());
        assert!(young.is_dir());
        assert!(spare_of(out.path(), kept.path()).is_dir());
        assert_eq!(dot_entries(out.path()), Vec::<String>::new());
    }
}
