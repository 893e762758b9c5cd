//! File access that never blocks on a FIFO nor reads past a size cap, and that, inside the output
//! folder, never follows a symbolic link nor opens anything but a real folder or a regular file.
//! The output folder lives in a repository that anyone with commit
//! access can shape: a link or a FIFO planted where a generated file or folder belongs must be
//! reported, never written, read or deleted through.

use std::fs::FileType;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

/// The most that is read back from the output folder where deaap-gen generates nothing that
/// large: nearly every generated file is far smaller, and a larger file there was not written by
/// deaap-gen. Where it does generate a larger file (the chart values of thousands of services),
/// [`read_generated`] allows for its size.
pub const MAX_READ: u64 = 64 * 1024 * 1024;

/// Something where a generated file or folder belongs that deaap-gen will not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Obstacle {
    /// The offending entry (inside the output folder).
    pub path: PathBuf,
    /// What the entry is, e.g. "a symbolic link".
    pub found: &'static str,
    /// What belongs there: "a file" or "a folder".
    pub expected: &'static str,
}

impl Obstacle {
    /// The problem as seen from the entry `own` (inside `base`): `is a FIFO, expected a file` when
    /// the obstacle is `own` itself, else `` `audit` is a symbolic link, expected a folder ``.
    #[must_use]
    pub fn describe(&self, base: &Path, own: &Path) -> String {
        if self.path == own {
            return format!("is {}, expected {}", self.found, self.expected);
        }
        let rel = match self.path.strip_prefix(base) {
            Ok(r) if !r.as_os_str().is_empty() => r,
            _ => &self.path,
        };
        format!(
            "`{}` is {}, expected {}",
            rel.display(),
            self.found,
            self.expected
        )
    }
}

impl std::fmt::Display for Obstacle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` is {}, expected {}; deaap-gen never writes, reads or deletes through it: remove it and build again",
            self.path.display(),
            self.found,
            self.expected
        )
    }
}

/// What is at a generated path.
#[derive(Debug)]
pub enum Entry {
    Missing,
    File(Vec<u8>),
    Obstacle(Obstacle),
}

/// "a symbolic link", "a FIFO", … for an entry that is not what it should be.
#[must_use]
pub fn describe(kind: FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device";
        }
    }
    if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_dir() {
        "a folder"
    } else if kind.is_file() {
        "a file"
    } else {
        "a special file"
    }
}

/// Checks that `dir` is a real folder (not a link to one). `Ok(false)` when it does not exist.
///
/// # Errors
/// An obstacle (as `io::ErrorKind::Other` wrapping its text) or a failure to look.
pub fn real_dir(dir: &Path) -> Result<bool, WalkError> {
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => Ok(true),
        Ok(m) => Err(WalkError::Obstacle(Obstacle {
            path: dir.to_path_buf(),
            found: describe(m.file_type()),
            expected: "a folder",
        })),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(WalkError::Io(with_path(dir, &e))),
    }
}

/// Why a walk inside the output folder stopped.
#[derive(Debug)]
pub enum WalkError {
    Obstacle(Obstacle),
    Io(io::Error),
}

impl From<WalkError> for io::Error {
    fn from(e: WalkError) -> Self {
        match e {
            WalkError::Obstacle(o) => io::Error::other(o.to_string()),
            WalkError::Io(e) => e,
        }
    }
}

pub(crate) fn with_path(path: &Path, e: &io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Whether an index entry is a plain relative path that stays inside its folder.
#[must_use]
pub fn safe_relative(p: &str) -> bool {
    !p.is_empty()
        && !p.contains('\\')
        && !p.contains('\0')
        && Path::new(p)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// What a walk does with a folder on the way that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Absent {
    Stop,
    Create,
}

/// Walks the folders of `folders` (a relative path) below `root`, refusing links on the way.
/// `Ok(false)` when one of them does not exist (and is not to be created).
fn walk_folders(root: &Path, folders: &Path, absent: Absent) -> Result<bool, WalkError> {
    let mut cur = root.to_path_buf();
    for c in folders.components() {
        cur.push(c);
        if !real_dir(&cur)? {
            match absent {
                Absent::Stop => return Ok(false),
                Absent::Create => {
                    std::fs::create_dir(&cur).map_err(|e| WalkError::Io(with_path(&cur, &e)))?;
                }
            }
        }
    }
    Ok(true)
}

/// `root/rel` when every folder on the way there is a real folder; `Ok(None)` when one is missing.
fn reach(root: &Path, rel: &str) -> Result<Option<PathBuf>, WalkError> {
    let rel = Path::new(rel);
    let folders = rel.parent().unwrap_or(Path::new(""));
    Ok(walk_folders(root, folders, Absent::Stop)?.then(|| root.join(rel)))
}

/// Reads the generated path `rel` under `root` without following any link, opening only a regular
/// file of at most [`MAX_READ`] bytes. `root` itself must already be known to be a real folder.
///
/// # Errors
/// A failure to read something that is a regular file.
pub fn read(root: &Path, rel: &str) -> io::Result<Entry> {
    read_up_to(root, rel, MAX_READ, true)
}

/// [`read`] where deaap-gen generates `expected` bytes: a generated file may be larger than
/// [`MAX_READ`] (the chart values of thousands of services are), so the file there is read up to
/// that size and [`MAX_READ`] more, a bound set by what deaap-gen writes, never by what it finds.
///
/// # Errors
/// A failure to read something that is a regular file.
pub fn read_generated(root: &Path, rel: &str, expected: usize) -> io::Result<Entry> {
    read_up_to(root, rel, generated_cap(expected), true)
}

/// How much of a file [`read_generated`] reads where deaap-gen generates `expected` bytes.
fn generated_cap(expected: usize) -> u64 {
    MAX_READ.saturating_add(u64::try_from(expected).unwrap_or(u64::MAX))
}

/// What is at a generated path, as [`read_generated`] and [`read`] tell it, without reading a
/// file's bytes.
#[derive(Debug)]
pub enum Found {
    Missing,
    /// A regular file within the bound [`read_generated`] reads up to.
    File,
    Obstacle(Obstacle),
}

/// [`read_generated`] when only what is there matters, not what a file holds: a regular file is
/// opened (never through a link) but not read, so it costs no memory however large it is.
/// `expected` is `None` for a path deaap-gen no longer generates there ([`read`]'s bound).
///
/// # Errors
/// A failure to open something that is a regular file.
pub fn find_generated(root: &Path, rel: &str, expected: Option<usize>) -> io::Result<Found> {
    let cap = expected.map_or(MAX_READ, generated_cap);
    Ok(match read_up_to(root, rel, cap, false)? {
        Entry::Missing => Found::Missing,
        Entry::File(_) => Found::File,
        Entry::Obstacle(o) => Found::Obstacle(o),
    })
}

/// The SHA-256 of the generated path `rel` under `root`, read as [`read`] reads it (never through
/// a link, only a regular file) but a piece at a time, so a large file costs no memory; `None`
/// when there is no regular file there or it holds more than `cap` bytes.
#[must_use]
pub fn sha256_of(root: &Path, rel: &str, cap: u64) -> Option<[u8; 32]> {
    use sha2::Digest as _;
    let (file, _) = open_generated(root, rel)?;
    let mut hasher = sha2::Sha256::new();
    let total = pieces(file, cap, |piece| {
        hasher.update(piece);
        true
    })?;
    (total <= cap).then(|| hasher.finalize().into())
}

/// Whether the generated path `rel` under `root` is a regular file holding exactly `bytes`, read
/// as [`read`] reads it (never through a link) but a piece at a time into one small buffer, so
/// comparing a large file costs no memory. `false` for anything else (another size, other bytes,
/// a link, a special file, no file, an error), which the caller reads whole to say what it is.
#[must_use]
pub fn holds(root: &Path, rel: &str, bytes: &[u8]) -> bool {
    let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    holds_with(root, rel, len, |at, piece| {
        bytes.get(at..at + piece.len()) == Some(piece)
    })
}

/// [`holds`] for `len` bytes that `same` compares a piece at a time: whether the piece of the file
/// starting at the offset it is given is theirs.
#[must_use]
pub fn holds_with(
    root: &Path,
    rel: &str,
    len: u64,
    mut same: impl FnMut(usize, &[u8]) -> bool,
) -> bool {
    let Some((file, size)) = open_generated(root, rel).filter(|(_, size)| *size == len) else {
        return false;
    };
    let mut at = 0;
    let read = pieces(file, size, |piece| {
        let same = same(at, piece);
        at += piece.len();
        same
    });
    read == Some(len)
}

/// Whether every folder of the relative path `folders` below `root` is a real folder (never a
/// link): what [`regular_metadata`] needs of the folders of the files it looks at.
#[must_use]
pub fn real_folders(root: &Path, folders: &str) -> bool {
    matches!(
        walk_folders(root, Path::new(folders), Absent::Stop),
        Ok(true)
    )
}

/// What the file system says of the regular file at the generated path `rel` under `root`, never
/// through a link at its own place; `None` for anything else. The caller has found the folders on
/// the way real ([`real_folders`]), each once for all the files in it.
#[must_use]
pub fn regular_metadata(root: &Path, rel: &str) -> Option<std::fs::Metadata> {
    std::fs::symlink_metadata(root.join(rel))
        .ok()
        .filter(std::fs::Metadata::is_file)
}

/// The regular file at the generated path `rel` under `root`, opened as [`read`] opens it (never
/// through a link, without blocking on a FIFO), with its size; `None` for anything else.
pub(crate) fn open_generated(root: &Path, rel: &str) -> Option<(std::fs::File, u64)> {
    let path = reach(root, rel).ok()??;
    let file = open_nonblocking(&path, Links::Refuse).ok()?;
    let meta = file.metadata().ok()?;
    meta.is_file().then_some((file, meta.len()))
}

/// Hands `file` to `each` a piece at a time, up to one byte more than `cap` (so a file that grew
/// past it is told apart): how many bytes were read; `None` on a read error or when `each` stops.
fn pieces(file: std::fs::File, cap: u64, mut each: impl FnMut(&[u8]) -> bool) -> Option<u64> {
    let limit = cap.saturating_add(1);
    let mut reader = file.take(limit);
    let mut buf = vec![0; usize::try_from(limit).unwrap_or(usize::MAX).min(64 * 1024)];
    let mut total: u64 = 0;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Some(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        };
        total += n as u64;
        if !each(&buf[..n]) {
            return None;
        }
    }
}

/// [`read`] with the cap `cap`; a regular file within it is only opened when `read` is false, and
/// comes back as an empty [`Entry::File`].
fn read_up_to(root: &Path, rel: &str, cap: u64, read: bool) -> io::Result<Entry> {
    let path = match reach(root, rel) {
        Ok(Some(p)) => p,
        Ok(None) => return Ok(Entry::Missing),
        Err(WalkError::Obstacle(o)) => return Ok(Entry::Obstacle(o)),
        Err(WalkError::Io(e)) => return Err(e),
    };
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Entry::Missing),
        Err(e) => return Err(with_path(&path, &e)),
    };
    if !meta.is_file() {
        return Ok(Entry::Obstacle(Obstacle {
            path,
            found: describe(meta.file_type()),
            expected: "a file",
        }));
    }
    let regular = if read {
        read_regular(&path, cap, Links::Refuse)?
    } else {
        match open_regular(&path, cap, Links::Refuse)? {
            Ok(_) => Regular::Bytes(Vec::new()),
            Err(other) => other,
        }
    };
    match regular {
        Regular::Bytes(bytes) => Ok(Entry::File(bytes)),
        Regular::NotRegular(found) => Ok(Entry::Obstacle(Obstacle {
            path,
            found,
            expected: "a file",
        })),
        Regular::TooLarge => Ok(Entry::Obstacle(Obstacle {
            path,
            found: if cap == MAX_READ {
                "larger than 64 MiB"
            } else {
                "over 64 MiB larger than what deaap-gen generates there"
            },
            expected: "a generated file",
        })),
    }
}

/// Whether the last component of a path may be a symbolic link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Open what a link points to (input files the user names).
    Follow,
    /// Never open through a link (anything inside the output folder).
    Refuse,
}

/// What [`read_regular`] found.
#[derive(Debug)]
pub enum Regular {
    Bytes(Vec<u8>),
    /// Not a regular file: "a symbolic link", "a FIFO", "a device", "a folder", …
    NotRegular(&'static str),
    /// A regular file over the cap.
    TooLarge,
}

/// Opens `path` without blocking on a FIFO (and, with [`Links::Refuse`], without following a final
/// link), and reads it only if it is a regular file of at most `cap` bytes. A file that grows while
/// it is read is still never read past the cap.
///
/// # Errors
/// The file cannot be opened or read (`NotFound` when it does not exist).
pub fn read_regular(path: &Path, cap: u64, links: Links) -> io::Result<Regular> {
    let (file, len) = match open_regular(path, cap, links)? {
        Ok(opened) => opened,
        Err(other) => return Ok(other),
    };
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Ok(Regular::TooLarge);
    }
    Ok(Regular::Bytes(bytes))
}

/// [`read_regular`]'s checks without the read: the opened file and its size when it is a regular
/// file of at most `cap` bytes, else what was found instead.
fn open_regular(
    path: &Path,
    cap: u64,
    links: Links,
) -> io::Result<Result<(std::fs::File, u64), Regular>> {
    let file = match open_nonblocking(path, links) {
        Ok(f) => f,
        Err(e) if links == Links::Refuse && is_link_error(&e) => {
            let found = std::fs::symlink_metadata(path)
                .map_or("a special file", |m| describe(m.file_type()));
            return Ok(Err(Regular::NotRegular(found)));
        }
        Err(e) if is_special_error(&e) => return Ok(Err(Regular::NotRegular("a special file"))),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(Err(Regular::NotRegular(describe(meta.file_type()))));
    }
    if meta.len() > cap {
        return Ok(Err(Regular::TooLarge));
    }
    Ok(Ok((file, meta.len())))
}

#[cfg(unix)]
fn open_nonblocking(path: &Path, links: Links) -> io::Result<std::fs::File> {
    use rustix::fs::{Mode, OFlags};
    let mut flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    if links == Links::Refuse {
        flags |= OFlags::NOFOLLOW;
    }
    let fd = rustix::fs::open(path, flags, Mode::empty())?;
    Ok(std::fs::File::from(fd))
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path, links: Links) -> io::Result<std::fs::File> {
    if links == Links::Refuse && std::fs::symlink_metadata(path)?.file_type().is_symlink() {
        return Err(io::Error::other("is a symbolic link"));
    }
    std::fs::File::open(path)
}

/// Opening a socket fails with ENXIO.
fn is_special_error(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(rustix::io::Errno::NXIO.raw_os_error())
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// `open(O_NOFOLLOW)` on a link fails with ELOOP (EMLINK on some BSDs); a socket with ENXIO.
fn is_link_error(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        let code = e.raw_os_error();
        code == Some(rustix::io::Errno::LOOP.raw_os_error())
            || code == Some(rustix::io::Errno::MLINK.raw_os_error())
    }
    #[cfg(not(unix))]
    {
        e.kind() == io::ErrorKind::Other
    }
}

/// Creates every missing folder of `folders` (a relative path) under `root`, a folder deaap-gen
/// just made, refusing to go through anything that is not a real folder.
///
/// # Errors
/// An obstacle on the way, or a failure to create a folder.
pub fn create_folders(root: &Path, folders: &Path) -> Result<(), WalkError> {
    walk_folders(root, folders, Absent::Create).map(drop)
}

/// Creates the folders of the generated path `rel` under `root` (see [`create_folders`]) and
/// returns the file's full path.
///
/// # Errors
/// An obstacle on the way, or a failure to create a folder.
pub fn create_parents(root: &Path, rel: &str) -> Result<PathBuf, WalkError> {
    let rel = Path::new(rel);
    if let Some(folders) = rel.parent() {
        create_folders(root, folders)?;
    }
    Ok(root.join(rel))
}

/// How much of a file one `write` call hands the kernel at most. Linux's page cache takes a
/// write's length as a hint for the size of the pages it allocates to hold it; on a virtual
/// machine, pages of 128 KiB and more can cost far more to come by than small ones. Writing a
/// 190 MB file on ext4 (Linux 6.18) took 0.24–1.65 s in writes of 128 KiB or more, and
/// 0.03–0.06 s in writes of 64 KiB; a write of this size costs nothing measurable elsewhere.
pub(crate) const WRITE_PIECE: usize = 64 * 1024;

/// Writes a new file (never replacing or following anything already there), 64 KiB
/// at a time.
///
/// # Errors
/// The path exists already or cannot be written.
pub fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut f = create_new(path)?;
    for piece in bytes.chunks(WRITE_PIECE) {
        f.write_all(piece).map_err(|e| with_path(path, &e))?;
    }
    Ok(())
}

/// The new file `path`, for writing; an error when anything is there already (a link included).
///
/// # Errors
/// Something is at `path`, or the file cannot be created.
pub fn create_new(path: &Path) -> io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| with_path(path, &e))
}

/// Unlinks `root/rel` only when it is a regular file reached through real folders. Returns whether
/// a file was removed; a link or special file there is left alone.
///
/// # Errors
/// A failure to remove a regular file.
pub fn remove_regular(root: &Path, rel: &str) -> io::Result<bool> {
    let Ok(Some(path)) = reach(root, rel) else {
        return Ok(false);
    };
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.is_file() => match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(with_path(&path, &e)),
        },
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_paths_must_be_plain_relative_paths() {
        assert!(safe_relative("helm/values.yaml"));
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "helm\\values.yaml",
            "a\0b",
        ] {
            assert!(!safe_relative(bad), "{bad:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn links_and_fifos_are_obstacles_never_read() {
        let root = tempfile::tempdir().expect("temp dir");
        let outside = tempfile::tempdir().expect("temp dir");
        std::fs::write(outside.path().join("id_rsa"), "secret").expect("write");
        std::os::unix::fs::symlink(outside.path(), root.path().join("lnk")).expect("link");
        std::os::unix::fs::symlink("/dev/zero", root.path().join("zero")).expect("link");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            root.path().join("fifo"),
            rustix::fs::Mode::from_bits_truncate(0o600),
        )
        .expect("fifo");
        for (rel, found, expected) in [
            ("lnk/id_rsa", "a symbolic link", "a folder"),
            ("zero", "a symbolic link", "a file"),
            ("fifo", "a FIFO", "a file"),
        ] {
            match read(root.path(), rel).expect("read") {
                Entry::Obstacle(o) => {
                    assert_eq!((o.found, o.expected), (found, expected), "{rel}");
                }
                other => panic!("{rel}: {other:?}"),
            }
            assert!(!remove_regular(root.path(), rel).expect("remove"));
        }
        assert!(outside.path().join("id_rsa").exists());
        assert!(matches!(
            read(root.path(), "missing/x").expect("read"),
            Entry::Missing
        ));
        // Hashed as they are read: never through a link or from a FIFO.
        for rel in ["lnk/id_rsa", "zero", "fifo", "missing/x"] {
            assert_eq!(sha256_of(root.path(), rel, MAX_READ), None, "{rel}");
            // Nor compared through a link or with a FIFO.
            assert!(!holds(root.path(), rel, b""), "{rel}");
        }
    }

    /// A file holds the generated bytes only when it is a regular file with exactly those bytes,
    /// compared across the pieces it is read in.
    #[test]
    fn a_file_holds_exactly_its_bytes_or_not() {
        let root = tempfile::tempdir().expect("temp dir");
        let big: Vec<u8> = (0..200_000u32)
            .map(|i| b"abcdefgh\n"[(i % 9) as usize])
            .collect();
        std::fs::write(root.path().join("big.yaml"), &big).expect("write");
        std::fs::write(root.path().join("empty.yaml"), "").expect("write");
        assert!(holds(root.path(), "big.yaml", &big));
        assert!(holds(root.path(), "empty.yaml", b""));
        assert!(!holds(root.path(), "empty.yaml", b"a"));
        // One byte changed in the last piece, in the first; one byte more or less.
        for at in [big.len() - 1, 70_000, 0] {
            let mut other = big.clone();
            other[at] ^= 1;
            assert!(!holds(root.path(), "big.yaml", &other), "{at}");
        }
        assert!(!holds(root.path(), "big.yaml", &big[..big.len() - 1]));
        let mut longer = big.clone();
        longer.push(b'\n');
        assert!(!holds(root.path(), "big.yaml", &longer));
        assert!(!holds(root.path(), "missing.yaml", b""));
        std::fs::create_dir(root.path().join("dir")).expect("mkdir");
        assert!(!holds(root.path(), "dir", b""));
    }

    /// A generated file may be larger than 64 MiB (the chart values of thousands of services): it
    /// is read where deaap-gen generates one that large, and only there, and hashed within a cap.
    #[test]
    fn a_large_generated_file_is_read_where_one_that_large_is_generated() {
        use sha2::Digest as _;
        let root = tempfile::tempdir().expect("temp dir");
        let size = MAX_READ + 10;
        let file = std::fs::File::create(root.path().join("values.yaml")).expect("create");
        file.set_len(size).expect("grow");
        match read(root.path(), "values.yaml").expect("read") {
            Entry::Obstacle(o) => assert_eq!(o.found, "larger than 64 MiB"),
            other => panic!("{other:?}"),
        }
        let expected = usize::try_from(size).expect("fits");
        match read_generated(root.path(), "values.yaml", expected).expect("read") {
            Entry::File(bytes) => assert_eq!(bytes.len(), expected),
            other => panic!("{other:?}"),
        }
        let grown = MAX_READ.saturating_add(size) + 1;
        file.set_len(grown).expect("grow");
        match read_generated(root.path(), "values.yaml", expected).expect("read") {
            Entry::Obstacle(o) => assert!(o.found.starts_with("over 64 MiB larger"), "{o:?}"),
            other => panic!("{other:?}"),
        }
        std::fs::write(root.path().join("small.yaml"), "a: 1\n").expect("write");
        let digest: [u8; 32] = sha2::Sha256::digest(b"a: 1\n").into();
        assert_eq!(sha256_of(root.path(), "small.yaml", 5), Some(digest));
        assert_eq!(sha256_of(root.path(), "small.yaml", 4), None);
    }

    /// A file written in pieces holds its bytes exactly, whatever its length against the piece,
    /// and a file already there is never replaced.
    #[test]
    fn a_new_file_written_in_pieces_holds_its_bytes() {
        let root = tempfile::tempdir().expect("temp dir");
        for len in [0, 1, WRITE_PIECE - 1, WRITE_PIECE, 3 * WRITE_PIECE + 17] {
            let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let path = root.path().join(format!("f{len}"));
            write_new(&path, &bytes).expect("written");
            assert_eq!(std::fs::read(&path).expect("read"), bytes, "{len} bytes");
            assert!(write_new(&path, b"other").is_err(), "it exists");
            assert_eq!(std::fs::read(&path).expect("read").len(), len);
        }
    }
}
