//! Shared helpers: run the binary, make scratch copies of the shipped environments.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A `deaap-gen` command with a clean, colourless environment, run in `dir`, that keeps no
/// Gatekeeper verdicts between runs (the tests of that set a cache folder of their own).
pub(crate) fn deaap_gen(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_deaap-gen"));
    c.current_dir(dir)
        .env("NO_COLOR", "1")
        .env("DEAAP_GEN_NO_CACHE", "1")
        .env_remove("DEAAP_GEN_CACHE_DIR")
        .env_remove("ARGOCD_APP_PARAMETERS");
    c
}

/// Runs `deaap-gen ARGS` in `dir`.
pub(crate) fn run(dir: &Path, args: &[&str]) -> Output {
    deaap_gen(dir)
        .args(args)
        .output()
        .expect("the deaap-gen binary runs")
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A scratch folder holding a copy of `environments/` (as `environments/`).
pub(crate) fn scratch_with_environments() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let envs = dir.path().join("environments");
    std::fs::create_dir_all(&envs).expect("mkdir");
    for e in std::fs::read_dir(root().join("environments")).expect("environments/ exists") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), envs.join(e.file_name())).expect("copy");
    }
    dir
}

/// Replaces the first occurrence of `from` with `to` in a file, failing the test if absent.
pub(crate) fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("read");
    assert!(
        text.contains(from),
        "{} does not contain {from:?}",
        path.display()
    );
    std::fs::write(path, text.replacen(from, to, 1)).expect("write");
}

/// Every JSON object a run printed on stdout (`--format json` prints one a line).
pub(crate) fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The objects of one `kind` (`diagnostic`, `drift`, `drift_summary`, `proof`) among them.
pub(crate) fn json_of_kind(o: &Output, kind: &str) -> Vec<serde_json::Value> {
    json_lines(o)
        .into_iter()
        .filter(|v| v["kind"] == kind)
        .collect()
}

/// The files of a folder (none when it does not exist), with their bytes.
pub(crate) fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            let bytes = std::fs::read(e.path()).expect("read");
            (e.file_name().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    files.sort();
    files
}
