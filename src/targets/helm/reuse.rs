//! The pieces of a large chart values file taken from the file the output folder holds, instead
//! of being written again.
//!
//! The values file is written a run of entries at a time ([`super::chart`]), and the text of a
//! run follows from its section, its outer key, whether it continues the run before it, and its
//! objects, each of which its document's SHA-256 names (the document is written from the object's
//! data, and the entry is written from the same data). A build that spills the values file keeps,
//! in the user's cache folder, where each run's text stands in the file it made, under a key
//! hashing all of that. The next build over the same folder reads the file the folder holds from
//! start to end, copies the text of each run whose key it finds instead of writing it, and hashes
//! every byte it read on another core: only when the whole file hashes to what the record says
//! are the copies used; otherwise the file is written anew. After a one-service change, a
//! thousand services' values are copied but for the runs that hold the service's objects.
//!
//! The record is a cache like the others of [`crate::cache`]: kept under the binary's identity and
//! the output folder, ignored when missing, unreadable or of another format.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

/// The first bytes of a record; a record of another format is ignored.
const MAGIC: &[u8] = b"deaap-gen values pieces 1\n";

/// What a run's text is kept under.
pub(super) type Key = [u8; 16];

/// How many files a record describes: the one a build wrote, and the one a check (`diff`,
/// `build --check`) made from other inputs without writing it.
const ROOM: usize = 2;

/// The largest record read: 32 bytes per run of 64 entries.
const CAP: u64 = 16 << 20;

/// Where the runs of one values file stand in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Layout {
    pub sha256: [u8; 32],
    pub len: u64,
    /// Each run's key, start and length, in the file's order.
    pub runs: Vec<(Key, u64, u64)>,
}

/// The record of the values files at `path` in the output folder `dir`: its file in the cache
/// folder, and the layouts it keeps (newest first).
pub(super) struct Record {
    file: PathBuf,
    layouts: Vec<Layout>,
}

impl Record {
    /// The record kept for `path` in `dir`; `None` when nothing is kept (no cache folder, or a
    /// binary that cannot tell itself apart from other builds).
    pub(super) fn open(dir: &Path, path: &str) -> Option<Self> {
        let folder = crate::cache::folder("values")?;
        let mut h = Sha256::new();
        h.update(MAGIC);
        h.update(crate::cache::binary_identity()?);
        h.update(
            std::fs::canonicalize(dir)
                .ok()?
                .as_os_str()
                .as_encoded_bytes(),
        );
        h.update([0]);
        h.update(path);
        let name = crate::output::hex(&h.finalize().into());
        let file = folder.join(format!("{}.bin", &name[..32]));
        let layouts = match crate::fsafe::read_regular(&file, CAP, crate::fsafe::Links::Refuse) {
            Ok(crate::fsafe::Regular::Bytes(bytes)) => decode(&bytes).unwrap_or_default(),
            _ => Vec::new(),
        };
        Some(Self { file, layouts })
    }

    /// The layout of the file whose SHA-256 is `sha256` (in hexadecimal), when kept.
    pub(super) fn layout(&self, sha256: &str) -> Option<&Layout> {
        self.layouts
            .iter()
            .find(|l| crate::output::hex(&l.sha256) == sha256)
    }

    /// Keeps `layout` before the others.
    pub(super) fn keep(mut self, layout: Layout) {
        self.layouts.retain(|l| l.sha256 != layout.sha256);
        self.layouts.insert(0, layout);
        self.layouts.truncate(ROOM);
        let _ = crate::cache::write(&self.file, &encode(&self.layouts), ".bin");
    }
}

fn encode(layouts: &[Layout]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&(layouts.len() as u64).to_le_bytes());
    for l in layouts {
        out.extend_from_slice(&l.sha256);
        out.extend_from_slice(&l.len.to_le_bytes());
        out.extend_from_slice(&(l.runs.len() as u64).to_le_bytes());
        for (key, start, len) in &l.runs {
            out.extend_from_slice(key);
            out.extend_from_slice(&start.to_le_bytes());
            out.extend_from_slice(&len.to_le_bytes());
        }
    }
    out
}

fn decode(bytes: &[u8]) -> Option<Vec<Layout>> {
    let mut rest = bytes.strip_prefix(MAGIC)?;
    let count = number(&mut rest)?;
    let mut layouts = Vec::new();
    for _ in 0..count.min(ROOM as u64) {
        let sha256: [u8; 32] = take(&mut rest, 32)?.try_into().ok()?;
        let len = number(&mut rest)?;
        let runs = number(&mut rest)?;
        let mut l = Layout {
            sha256,
            len,
            runs: Vec::new(),
        };
        for _ in 0..runs {
            let key: Key = take(&mut rest, 16)?.try_into().ok()?;
            let start = number(&mut rest)?;
            let run = number(&mut rest)?;
            l.runs.push((key, start, run));
        }
        layouts.push(l);
    }
    Some(layouts)
}

/// The first `n` bytes of `rest`, which then starts after them.
fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, tail) = rest.split_at_checked(n)?;
    *rest = tail;
    Some(head)
}

/// The number `rest` starts with (8 bytes, little-endian).
fn number(rest: &mut &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(take(rest, 8)?.try_into().ok()?))
}

/// The values file the output folder holds, read once from start to end, each byte handed to a
/// hashing thread as it is read: the runs of its layout are copied out of it as they come.
pub(super) struct Old {
    file: std::fs::File,
    /// How far it has been read.
    at: u64,
    runs: HashMap<Key, (u64, u64)>,
    expect: ([u8; 32], u64),
    pieces: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    hashed: Option<std::thread::JoinHandle<([u8; 32], u64)>>,
}

impl Old {
    /// The file at `path` in `dir`, when `layout` describes it; it is told whether it holds
    /// those bytes only at [`Old::finish`].
    pub(super) fn open(dir: &Path, path: &str, layout: &Layout) -> Option<Self> {
        let file = crate::fsafe::open_generated(dir, path)?.0;
        let (send, receive) = std::sync::mpsc::sync_channel::<Vec<u8>>(16);
        let hashed = std::thread::Builder::new()
            .spawn(move || {
                let (mut h, mut len) = (Sha256::new(), 0u64);
                for piece in receive {
                    h.update(&piece);
                    len += piece.len() as u64;
                }
                (h.finalize().into(), len)
            })
            .ok()?;
        Some(Self {
            file,
            at: 0,
            runs: layout
                .runs
                .iter()
                .map(|(key, start, len)| (*key, (*start, *len)))
                .collect(),
            expect: (layout.sha256, layout.len),
            pieces: Some(send),
            hashed: Some(hashed),
        })
    }

    /// Whether the run of `key` can be copied: the layout has it, not before what was read.
    pub(super) fn has(&self, key: &Key) -> bool {
        self.runs
            .get(key)
            .is_some_and(|(start, _)| *start >= self.at)
    }

    /// Reads on to `to` (or to the end, at most a byte past the layout's length), handing every
    /// piece to the hashing thread, and `each` the pieces from `keep` on. `false` when the file
    /// cannot be read or ends before `to`.
    fn read_to(&mut self, to: Option<u64>, keep: u64, each: &mut dyn FnMut(&[u8]) -> bool) -> bool {
        let end = to.unwrap_or(self.expect.1 + 1);
        while self.at < end {
            let want = usize::try_from(end - self.at)
                .unwrap_or(usize::MAX)
                .min(crate::fsafe::WRITE_PIECE);
            let mut piece = vec![0; want];
            let n = match self.file.read(&mut piece) {
                Ok(0) => return to.is_none(),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return false,
            };
            piece.truncate(n);
            let from = usize::try_from(keep.saturating_sub(self.at)).unwrap_or(usize::MAX);
            if from < n && !each(&piece[from..]) {
                return false;
            }
            self.at += n as u64;
            if self.pieces.as_ref().is_none_or(|p| p.send(piece).is_err()) {
                return false;
            }
        }
        true
    }

    /// Hands `each` the text of the run of `key`, a piece at a time; `false` when it cannot (the
    /// run is not there, or the file cannot be read).
    pub(super) fn copy(&mut self, key: &Key, each: &mut dyn FnMut(&[u8]) -> bool) -> bool {
        let Some((start, len)) = self.runs.get(key).copied() else {
            return false;
        };
        start >= self.at && self.read_to(Some(start + len), start, each)
    }

    /// Reads the rest of the file: whether every byte read hashes to the layout's SHA-256 and
    /// the file is of its length, so that every copy holds what the layout says.
    pub(super) fn finish(mut self) -> bool {
        let read = self.read_to(None, u64::MAX, &mut |_| true);
        drop(self.pieces.take());
        let hashed = self.hashed.take().and_then(|h| h.join().ok());
        read && hashed == Some(self.expect)
    }
}

impl Drop for Old {
    fn drop(&mut self) {
        drop(self.pieces.take());
        if let Some(h) = self.hashed.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_as_written() {
        let layouts = vec![
            Layout {
                sha256: [7; 32],
                len: 99,
                runs: vec![([1; 16], 0, 10), ([2; 16], 10, 89)],
            },
            Layout {
                sha256: [8; 32],
                len: 0,
                runs: Vec::new(),
            },
        ];
        let bytes = encode(&layouts);
        assert_eq!(decode(&bytes), Some(layouts));
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_none_or(|l| l.len() < 2), "{cut}");
        }
    }

    /// The runs are copied from the file as the layout says, and only a file whose every byte
    /// hashes to the layout's SHA-256 is vouched for.
    #[test]
    fn runs_are_copied_and_the_whole_file_checked() {
        let dir = tempfile::tempdir().expect("dir");
        let text: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        std::fs::write(dir.path().join("v.yaml"), &text).expect("write");
        let layout = Layout {
            sha256: Sha256::digest(&text).into(),
            len: text.len() as u64,
            runs: vec![([1; 16], 5, 70_000), ([2; 16], 150_000, 50_000)],
        };
        let mut old = Old::open(dir.path(), "v.yaml", &layout).expect("open");
        assert!(old.has(&[1; 16]) && old.has(&[2; 16]) && !old.has(&[3; 16]));
        let mut got = Vec::new();
        assert!(old.copy(&[1; 16], &mut |p| {
            got.extend_from_slice(p);
            true
        }));
        assert_eq!(got, text[5..70_005]);
        assert!(!old.has(&[1; 16]), "read past it");
        got.clear();
        assert!(old.copy(&[2; 16], &mut |p| {
            got.extend_from_slice(p);
            true
        }));
        assert_eq!(got, text[150_000..]);
        assert!(old.finish());
        // One byte other, or one more: not vouched for.
        for other in [
            {
                let mut t = text.clone();
                t[100_000] = b'!';
                t
            },
            [&text[..], b"a"].concat(),
        ] {
            std::fs::write(dir.path().join("v.yaml"), &other).expect("write");
            let mut old = Old::open(dir.path(), "v.yaml", &layout).expect("open");
            assert!(old.copy(&[1; 16], &mut |_| true));
            assert!(!old.finish());
        }
        // A shorter file cannot give a run past its end.
        std::fs::write(dir.path().join("v.yaml"), &text[..160_000]).expect("write");
        let mut old = Old::open(dir.path(), "v.yaml", &layout).expect("open");
        assert!(!old.copy(&[2; 16], &mut |_| true));
    }
}
