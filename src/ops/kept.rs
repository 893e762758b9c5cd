//! Compilations kept between runs. What `validate`, `build` and `diff` find is a function of the
//! environment files they read, the day (waivers expire), and deaap-gen itself. When a run
//! compiles every input without a single diagnostic, what it established is kept in the user's
//! cache folder (see [`crate::cache`]): every file it read with its SHA-256, and per environment
//! the SHA-256 of the output index it compiles to and what the proofs counted. The next run over
//! the same inputs checks those files, and when every one still holds the same bytes it knows the
//! outcome without compiling: `validate` has nothing to report, and `build` and `diff` only check
//! that each output folder still holds the files its index lists, byte for byte.
//!
//! Anything else takes the full path, which is always right: a file that changed, a diagnostic
//! (which must be shown, and shown from the compilation), output that differs, an orphaned
//! environment, a record that is missing, corrupt or from another build.

use super::inputs::resolve_inputs;
use crate::targets::Need;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The first line of a record; a file of another format is ignored.
const MAGIC: &str = "deaap-gen kept compilation 1";

/// The largest record read: a few hundred bytes per environment and per file read.
const CAP: u64 = 16 << 20;

/// One environment of a kept compilation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptUnit {
    pub environment: String,
    /// The SHA-256 of the output index (`deaap-manifest.json`) it compiles to; empty when the
    /// compilation generated no files (a `validate`).
    pub index_sha256: String,
    /// How many files its output folder holds, the index included.
    pub files: usize,
    /// What its proofs established.
    pub proof: crate::proof::Summary,
}

/// A file the compilation read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Read {
    /// As the loader named it (relative paths stay relative).
    path: PathBuf,
    /// Where it resolved: a link turned elsewhere is a change even with the same bytes.
    canonical: PathBuf,
    sha256: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    magic: String,
    key: String,
    read: Vec<Read>,
    units: Vec<KeptUnit>,
}

/// What is known of a compilation of these inputs: every environment compiled without a
/// diagnostic, to these outputs.
#[derive(Debug)]
pub struct Kept {
    pub units: Vec<KeptUnit>,
}

/// The kept compilation of `inputs` for `need`, when one is kept and every file it read is
/// unchanged. A compilation of the files serves a command that needs only the objects too.
#[must_use]
pub fn lookup(inputs: &[PathBuf], need: Need) -> Option<Kept> {
    let folder = crate::cache::folder("compilations")?;
    let files = resolve_inputs(inputs).ok()?;
    let needs: &[Need] = match need {
        Need::Files => &[Need::Files],
        Need::Objects => &[Need::Files, Need::Objects],
    };
    needs.iter().find_map(|&n| {
        let key = key(&files, n)?;
        let record = read_record(&folder, &key)?;
        record.read.iter().all(unchanged).then_some(Kept {
            units: record.units,
        })
    })
}

/// Whether `out` is what the kept compilation of `inputs` would leave there: every environment's
/// folder holds the index it compiles to and every file that lists, byte for byte, and no
/// environment is orphaned (as [`super::Workspace::orphans`] finds them).
#[must_use]
pub fn current(kept: &Kept, inputs: &[PathBuf], out: &Path) -> bool {
    let holds = kept.units.iter().all(|u| {
        !u.index_sha256.is_empty() && crate::output::holds(out, &u.environment, &u.index_sha256)
    });
    if !holds {
        return false;
    }
    if !super::covers_folders(inputs) {
        return true;
    }
    let keep: Vec<&str> = kept.units.iter().map(|u| u.environment.as_str()).collect();
    crate::output::orphans(out, &keep).is_ok_and(|o| o.is_empty())
}

/// Keeps the outcome of a compilation for `need` that reported no diagnostic: `compiled`, the
/// environment files the inputs `inputs` named when it began, `read`, every file it read (path
/// and SHA-256 of its bytes as read), and its environments. Writes nothing when the same record
/// is kept already.
pub fn keep(
    inputs: &[PathBuf],
    compiled: &[PathBuf],
    need: Need,
    read: &[(&Path, [u8; 32])],
    units: Vec<KeptUnit>,
) {
    let Some(folder) = crate::cache::folder("compilations") else {
        return;
    };
    // Keyed by the files compiled, not by what the inputs name now: a file added meanwhile
    // must not find a record that lacks it.
    let Some(key) = key(compiled, need) else {
        return;
    };
    // A kept compilation of the files already serves a command that needs only the objects.
    if need == Need::Objects && lookup(inputs, Need::Files).is_some() {
        return;
    }
    let mut reads: Vec<Read> = Vec::with_capacity(read.len());
    for (path, sha256) in read {
        let Ok(canonical) = std::fs::canonicalize(path) else {
            return;
        };
        let r = Read {
            path: path.to_path_buf(),
            canonical,
            sha256: crate::output::hex(sha256),
        };
        if !reads.contains(&r) {
            reads.push(r);
        }
    }
    let record = Record {
        magic: MAGIC.to_owned(),
        key: key.clone(),
        read: reads,
        units,
    };
    if read_record(&folder, &key).is_some_and(|r| r.read == record.read && r.units == record.units)
    {
        return;
    }
    let Ok(bytes) = serde_json::to_vec(&record) else {
        return;
    };
    let _ = crate::cache::write(&file(&folder, &key), &bytes, ".json");
}

/// What a record is kept under: deaap-gen itself, the day, the folder it runs in, what the
/// command needs, and the environment files the inputs name.
fn key(files: &[PathBuf], need: Need) -> Option<String> {
    let mut h = Sha256::new();
    h.update(MAGIC);
    h.update([0]);
    h.update(crate::cache::binary_identity()?);
    h.update(crate::validate::waivers::today().to_le_bytes());
    h.update(std::env::current_dir().ok()?.as_os_str().as_encoded_bytes());
    h.update([0]);
    h.update(match need {
        Need::Files => "files",
        Need::Objects => "objects",
    });
    for f in files {
        h.update([0]);
        h.update(f.as_os_str().as_encoded_bytes());
    }
    Some(crate::output::hex(&h.finalize().into()))
}

fn file(folder: &Path, key: &str) -> PathBuf {
    folder.join(format!("{}.json", &key[..32]))
}

/// The record kept under `key`, if it is one.
fn read_record(folder: &Path, key: &str) -> Option<Record> {
    let crate::fsafe::Regular::Bytes(bytes) =
        crate::fsafe::read_regular(&file(folder, key), CAP, crate::fsafe::Links::Refuse).ok()?
    else {
        return None;
    };
    let record: Record = serde_json::from_slice(&bytes).ok()?;
    (record.magic == MAGIC && record.key == key).then_some(record)
}

/// Whether a file read by the kept compilation still resolves to the same place and holds the
/// same bytes.
fn unchanged(r: &Read) -> bool {
    std::fs::canonicalize(&r.path).is_ok_and(|c| c == r.canonical)
        && crate::load::read_input(&r.path)
            .is_ok_and(|text| crate::output::sha256_hex(text.as_bytes()) == r.sha256)
}
