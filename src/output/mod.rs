//! Output: the only module that writes files. It turns an environment's artifacts into the output
//! tree (`<out>/<env>/…` plus the `deaap-manifest.json` index), compares that tree with what is on
//! disk (for `diff` and `build --check`), and writes it atomically: the new tree is assembled in a
//! temporary folder beside the old one and swapped in, so a failed or interrupted build leaves the
//! previous tree intact. Unchanged files are hard-linked into the new tree, so their mtimes stay;
//! a build that changes nothing writes nothing.

pub mod diff;

use crate::model::Environment;
use crate::targets::Artifact;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
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
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The full content of one environment's output folder: every artifact plus the index.
#[derive(Debug)]
pub struct Tree {
    pub environment: String,
    pub files: BTreeMap<String, Vec<u8>>,
}

/// Builds the output tree of an environment from its artifacts.
///
/// # Errors
/// The index cannot be serialized (not expected).
pub fn tree(env: &Environment, artifacts: &[Artifact]) -> Result<Tree, serde_json::Error> {
    let input = serde_json::to_vec(env)?;
    let index = Index {
        environment: env.environment.name.clone(),
        generator: format!("deaap-gen {}", env!("CARGO_PKG_VERSION")),
        input_sha256: sha256_hex(&input),
        files: artifacts
            .iter()
            .map(|a| IndexFile {
                path: a.path.clone(),
                sha256: sha256_hex(&a.bytes),
                target: a.target.to_owned(),
                kinds: a.kinds.clone(),
            })
            .collect(),
    };
    let mut files: BTreeMap<String, Vec<u8>> = artifacts
        .iter()
        .map(|a| (a.path.clone(), a.bytes.clone()))
        .collect();
    let mut idx = serde_json::to_string_pretty(&index)?;
    idx.push('\n');
    files.insert(INDEX.to_owned(), idx.into_bytes());
    Ok(Tree {
        environment: env.environment.name.clone(),
        files,
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
    pub old: Option<Vec<u8>>,
    pub new: Option<Vec<u8>>,
}

/// Files the previous build wrote, from its index (empty when there is none or it is unreadable).
fn previous_files(dir: &Path) -> Vec<String> {
    let Ok(bytes) = std::fs::read(dir.join(INDEX)) else {
        return Vec::new();
    };
    let Ok(index) = serde_json::from_slice::<Index>(&bytes) else {
        return Vec::new();
    };
    let mut v: Vec<String> = index
        .files
        .into_iter()
        .map(|f| f.path)
        .filter(|p| safe_relative(p))
        .collect();
    v.push(INDEX.to_owned());
    v
}

/// A relative path that stays inside its folder (index entries are read from disk: trust nothing).
fn safe_relative(p: &str) -> bool {
    let path = Path::new(p);
    !p.is_empty()
        && path
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// Compares `tree` with `<out>/<env>/` on disk. Files the previous index listed that the new tree
/// lacks are removals; other files in the folder belong to the user and are left alone.
///
/// # Errors
/// A file that exists but cannot be read.
pub fn compare(out: &Path, tree: &Tree) -> io::Result<Vec<Change>> {
    let dir = out.join(&tree.environment);
    let mut changes = Vec::new();
    for (path, new) in &tree.files {
        match std::fs::read(dir.join(path)) {
            Ok(old) if old == *new => {}
            Ok(old) => changes.push(Change {
                path: path.clone(),
                kind: ChangeKind::Modified,
                old: Some(old),
                new: Some(new.clone()),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                changes.push(Change {
                    path: path.clone(),
                    kind: ChangeKind::Added,
                    old: None,
                    new: Some(new.clone()),
                });
            }
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("{}: {e}", dir.join(path).display()),
                ));
            }
        }
    }
    for path in previous_files(&dir) {
        if !tree.files.contains_key(&path) {
            let full = dir.join(&path);
            if let Ok(old) = std::fs::read(&full) {
                changes.push(Change {
                    path,
                    kind: ChangeKind::Removed,
                    old: Some(old),
                    new: None,
                });
            }
        }
    }
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(changes)
}

/// Moves one of the user's own entries into the staged tree unchanged: files are hard-linked (same
/// bytes, same mtime) or copied where links are impossible, symbolic links are recreated rather
/// than followed, and empty folders are recreated (others come back with what they hold; a folder
/// whose generated files all went stale disappears with them).
fn carry_over(src: &Path, kind: std::fs::FileType, dest: &Path) -> io::Result<()> {
    if kind.is_dir() {
        if std::fs::read_dir(src)?.next().is_none() {
            std::fs::create_dir_all(dest)?;
        }
        return Ok(());
    }
    if let Some(p) = dest.parent() {
        std::fs::create_dir_all(p)?;
    }
    if kind.is_symlink() {
        #[cfg(unix)]
        return std::os::unix::fs::symlink(std::fs::read_link(src)?, dest);
        #[cfg(not(unix))]
        return std::fs::copy(src, dest).map(drop);
    }
    if std::fs::hard_link(src, dest).is_err() {
        std::fs::copy(src, dest)?;
    }
    Ok(())
}

/// Removes the staging and set-aside folders of an earlier build of `environment` that was killed
/// before it could clean up, so they are neither committed nor left to accumulate.
fn remove_leftovers(out: &Path, environment: &str) -> io::Result<()> {
    let prefixes = [
        format!(".{environment}.new-"),
        format!(".{environment}.old-"),
    ];
    for entry in std::fs::read_dir(out)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if prefixes.iter().any(|p| name.starts_with(p.as_str())) && entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(entry.path())?;
        }
    }
    Ok(())
}

/// Writes `tree` to `<out>/<env>/` atomically. Returns the number of changed files (0: nothing was
/// written at all).
///
/// # Errors
/// Any filesystem failure; the previous tree is then left as it was.
pub fn write(out: &Path, tree: &Tree) -> io::Result<usize> {
    let changes = compare(out, tree)?;
    if changes.is_empty() {
        return Ok(0);
    }
    std::fs::create_dir_all(out)?;
    remove_leftovers(out, &tree.environment)?;
    let dir = out.join(&tree.environment);
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{}.new-", tree.environment))
        .tempdir_in(out)?;
    let generated_before = previous_files(&dir);
    // Carry over the user's own files (anything the previous index did not list).
    if dir.is_dir() {
        for entry in walkdir::WalkDir::new(&dir).min_depth(1).sort_by_file_name() {
            let entry = entry.map_err(io::Error::other)?;
            let rel = entry.path().strip_prefix(&dir).map_err(io::Error::other)?;
            let rel_s = rel.to_string_lossy().replace('\\', "/");
            if generated_before.contains(&rel_s) || tree.files.contains_key(&rel_s) {
                continue;
            }
            let dest = staging.path().join(rel);
            carry_over(entry.path(), entry.file_type(), &dest)?;
        }
    }
    for (path, bytes) in &tree.files {
        let dest = staging.path().join(path);
        if let Some(p) = dest.parent() {
            std::fs::create_dir_all(p)?;
        }
        let old = dir.join(path);
        let unchanged = !changes.iter().any(|c| c.path == *path);
        if !(unchanged && std::fs::hard_link(&old, &dest).is_ok()) {
            std::fs::write(&dest, bytes)?;
        }
    }
    // Swap: move the old tree aside, move the new one in, then delete the old one.
    let staged = staging.keep();
    let backup: Option<PathBuf> = if dir.exists() {
        let aside = tempfile::Builder::new()
            .prefix(&format!(".{}.old-", tree.environment))
            .tempdir_in(out)?
            .keep();
        std::fs::remove_dir(&aside)?;
        std::fs::rename(&dir, &aside)?;
        Some(aside)
    } else {
        None
    };
    if let Err(e) = std::fs::rename(&staged, &dir) {
        if let Some(b) = &backup {
            let _ = std::fs::rename(b, &dir);
        }
        let _ = std::fs::remove_dir_all(&staged);
        return Err(e);
    }
    if let Some(b) = backup {
        std::fs::remove_dir_all(b)?;
    }
    Ok(changes.len())
}

/// Environments whose output sits in `out` but that are no longer compiled: sub-folders holding an
/// index that names the folder's own environment, other than `keep`. Their generated files are
/// stale as a whole (an environment was renamed or deleted).
///
/// # Errors
/// `out` exists but cannot be listed.
pub fn orphans(out: &Path, keep: &[&str]) -> io::Result<Vec<String>> {
    let entries = match std::fs::read_dir(out) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || keep.contains(&name.as_str()) || !entry.path().is_dir() {
            continue;
        }
        let Ok(bytes) = std::fs::read(entry.path().join(INDEX)) else {
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
    };
    compare(out, &empty)
}

/// Removes an orphaned environment's generated files (and the folders they leave empty); the
/// user's own files stay. Returns the number of files removed.
///
/// # Errors
/// Any filesystem failure.
pub fn remove_orphan(out: &Path, environment: &str) -> io::Result<usize> {
    let dir = out.join(environment);
    let changes = orphan_changes(out, environment)?;
    // The index goes last, so an interrupted removal can be finished by the next build.
    let (index, files): (Vec<&Change>, Vec<&Change>) =
        changes.iter().partition(|c| c.path == INDEX);
    for c in files.iter().chain(index.iter()) {
        match std::fs::remove_file(dir.join(&c.path)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    // Prune the folders that held generated files once they are empty, deepest first; a folder
    // that still holds something of the user's stays, and so does the user's own empty folder.
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
    Ok(changes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> Tree {
        let mut files: BTreeMap<String, Vec<u8>> = files
            .iter()
            .map(|(p, t)| ((*p).to_owned(), t.as_bytes().to_vec()))
            .collect();
        let index = Index {
            environment: "env".to_owned(),
            generator: "test".to_owned(),
            input_sha256: String::new(),
            files: files
                .iter()
                .map(|(p, b)| IndexFile {
                    path: p.clone(),
                    sha256: sha256_hex(b),
                    target: "test".to_owned(),
                    kinds: Vec::new(),
                })
                .collect(),
        };
        files.insert(
            INDEX.to_owned(),
            serde_json::to_vec(&index).expect("serializable"),
        );
        Tree {
            environment: "env".to_owned(),
            files,
        }
    }

    fn mtime(p: &Path) -> std::time::SystemTime {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .expect("mtime")
    }

    #[test]
    fn unchanged_files_keep_their_mtime_when_a_sibling_changes() {
        let out = tempfile::tempdir().expect("temp dir");
        let first = tree(&[("a/one.yaml", "1\n"), ("b/two.yaml", "2\n")]);
        assert_eq!(write(out.path(), &first).expect("write"), 3);
        let one = out.path().join("env/a/one.yaml");
        let past = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
        std::fs::File::options()
            .write(true)
            .open(&one)
            .and_then(|f| f.set_modified(past))
            .expect("age");
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
                (INDEX, ChangeKind::Modified),
                ("old/deep/gone.yaml", ChangeKind::Removed)
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

    #[test]
    fn leftovers_of_a_killed_build_are_cleaned_up() {
        let out = tempfile::tempdir().expect("temp dir");
        for d in [".env.new-abc/x", ".env.old-def", ".other.new-ghi"] {
            std::fs::create_dir_all(out.path().join(d)).expect("mkdir");
        }
        write(out.path(), &tree(&[("a.yaml", "a\n")])).expect("write");
        let mut left: Vec<String> = std::fs::read_dir(out.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [".other.new-ghi", "env"]);
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
}
