//! Clean proof outcomes kept between runs: the reachability and observability proofs of an
//! environment are not judged again while what they read is unchanged, and what they establish
//! is the same as a run that keeps nothing.

use crate::support::{deaap_gen, edit, files_of, json_of_kind, scratch_with_environments, stderr};
use serde_json::Value;
use std::path::Path;

const PROD: &str = "environments/production.toml";

/// `check` of production in `dir` keeping what runs may reuse in `cache` (none: keeping nothing),
/// after a comment appended to the file, so that the run compiles rather than reuse a kept
/// compilation: exit code, diagnostics, and the proof summary.
fn check(dir: &Path, cache: Option<&Path>) -> (Option<i32>, Vec<Value>, Value) {
    let file = dir.join(PROD);
    let mut text = std::fs::read_to_string(&file).expect("read");
    text.push_str("# run\n");
    std::fs::write(&file, text).expect("write");
    let mut c = deaap_gen(dir);
    if let Some(cache) = cache {
        c.env_remove("DEAAP_GEN_NO_CACHE")
            .arg("--cache-dir")
            .arg(cache);
    }
    let o = c
        .args(["check", PROD, "--format", "json"])
        .output()
        .expect("the deaap-gen binary runs");
    let proof = json_of_kind(&o, "proof").pop().unwrap_or(Value::Null);
    assert!(
        o.status.code() == Some(2) || proof.is_object(),
        "{}",
        stderr(&o)
    );
    (o.status.code(), json_of_kind(&o, "diagnostic"), proof)
}

/// Writes `n` as the outcome of every kept entry in `folder`: a run that reports `n` took it
/// from there.
fn forge(folder: &Path, n: u32) {
    for (name, mut bytes) in files_of(folder) {
        let magic = b"deaap-gen proof outcomes 1\n".len();
        let entries = &mut bytes[magic + 32..];
        assert_eq!(entries.len() % 36, 0, "{name}");
        for e in entries.chunks_exact_mut(36) {
            e[32..].copy_from_slice(&n.to_le_bytes());
        }
        std::fs::write(folder.join(name), bytes).expect("write");
    }
}

#[test]
fn clean_outcomes_are_kept_and_taken_only_while_their_inputs_are_unchanged() {
    let dir = scratch_with_environments();
    let scratch = tempfile::tempdir().expect("temp dir");
    let cache = scratch.path().join("cache");
    let kept = cache.join("proofs");
    let fresh = check(dir.path(), None);
    assert_eq!(fresh.0, Some(0), "{:#?}", fresh.1);
    assert!(fresh.2["flows"].as_u64() > Some(100), "{}", fresh.2);

    // The first run judges and keeps both outcomes; the next takes them and writes nothing.
    assert_eq!(check(dir.path(), Some(&cache)), fresh);
    let first = files_of(&kept);
    assert_eq!(
        first.len(),
        2,
        "one file each for reachability and observability"
    );
    assert_eq!(check(dir.path(), Some(&cache)), fresh);
    assert_eq!(files_of(&kept), first);

    // A kept outcome is what the run reports: forged, it shows.
    forge(&kept, 4321);
    let forged = check(dir.path(), Some(&cache));
    assert_eq!(forged.2["flows"], 4321, "{}", forged.2);
    assert_eq!(forged.2["alerts"], 4321, "{}", forged.2);
    assert_eq!(forged.2["admitted"], fresh.2["admitted"]);

    // A new image, or an environment variable (which changes the pods' configuration checksum),
    // changes nothing either proof reads: the forged outcomes are still taken.
    let base = dir.path().join("environments/base.toml");
    for (from, to) in [
        ("tag = \"1.8.0\"", "tag = \"1.8.1\""),
        (
            "CUDA_VISIBLE_DEVICES = \"0\"",
            "CUDA_VISIBLE_DEVICES = \"1\"",
        ),
    ] {
        edit(&base, from, to);
        let edited = check(dir.path(), Some(&cache)).2;
        assert_eq!(
            (&edited["flows"], &edited["alerts"]),
            (&4321.into(), &4321.into()),
            "{to}"
        );
    }

    // Another port changes what both read: they are judged again, as a run that keeps nothing.
    edit(&base, "port = 8080", "port = 8081");
    let fresh = check(dir.path(), None);
    assert_eq!(fresh.0, Some(0), "{:#?}", fresh.1);
    assert_eq!(check(dir.path(), Some(&cache)), fresh);
    assert_eq!(files_of(&kept).len(), 2);
    // `--no-cache` neither reads nor writes them.
    forge(&kept, 4321);
    let before = files_of(&kept);
    let mut c = deaap_gen(dir.path());
    let o = c
        .env_remove("DEAAP_GEN_NO_CACHE")
        .args(["--no-cache", "--cache-dir"])
        .arg(&cache)
        .args(["check", PROD, "--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(json_of_kind(&o, "proof").pop(), Some(fresh.2.clone()));
    assert_eq!(files_of(&kept), before);

    // A file cut short or of another format is ignored and replaced.
    for (name, bytes) in &before {
        std::fs::write(kept.join(name), &bytes[..bytes.len() / 2]).expect("write");
    }
    assert_eq!(check(dir.path(), Some(&cache)), fresh);
    for (name, _) in &before {
        std::fs::write(kept.join(name), b"not outcomes").expect("write");
    }
    assert_eq!(check(dir.path(), Some(&cache)), fresh);
    assert_eq!(files_of(&kept).len(), 2);
}

#[test]
fn a_proof_that_reports_keeps_nothing_and_reports_the_same_each_run() {
    let dir = scratch_with_environments();
    let scratch = tempfile::tempdir().expect("temp dir");
    let cache = scratch.path().join("cache");
    // An alert on a series no scraped target has: the observability proof reports DG0540.
    edit(
        &dir.path().join("environments/base.toml"),
        "selector = { job = \"blockchain-node\" }",
        "selector = { job = \"no-such-job\" }",
    );
    let fresh = check(dir.path(), None);
    assert_eq!(fresh.0, Some(2));
    assert!(
        fresh.1.iter().any(|d| d["code"] == "DG0540"),
        "{:#?}",
        fresh.1
    );
    for _ in 0..3 {
        assert_eq!(check(dir.path(), Some(&cache)), fresh);
    }
    // Only the reachability proof, which found nothing, is kept.
    assert_eq!(files_of(&cache.join("proofs")).len(), 1);
}
