//! Drift as a user meets it: `deaap-gen diff` and `build --check` against a built tree after the
//! model or the output changed, and the writer's promises (deterministic bytes, untouched mtimes on
//! a no-op, the previous tree intact after a failed build, stale files gone, the user's files kept).
//! Every test derives what it expects from trees the binary built, so it holds for any set of
//! targets.

use crate::support::{deaap_gen, edit, json_lines, run, scratch_with_environments, stderr, stdout};
use std::collections::BTreeMap;
use std::path::Path;

const SUMMARY_CLEAN: &str = "0 files changed, 0 added, 0 removed\n";

/// Every file under `dir`, by forward-slash path relative to it.
pub(crate) fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let e = e.expect("walk");
        if e.file_type().is_file() {
            let rel = e.path().strip_prefix(dir).expect("inside");
            files.insert(
                rel.to_string_lossy().replace('\\', "/"),
                std::fs::read(e.path()).expect("read"),
            );
        }
    }
    files
}

/// Builds `environments/` of `dir` into `dir/<out>` and fails the test unless that worked.
pub(crate) fn build(dir: &Path, out: &str) {
    let o = run(dir, &["build", "environments/", "-o", out]);
    assert_eq!(o.status.code(), Some(0), "build failed:\n{}", stderr(&o));
}

/// The change kinds between two built trees of one environment: what `diff` must report when
/// `before` is on disk and `after` is what the model compiles to.
fn expected_changes(before: &Path, after: &Path) -> BTreeMap<String, &'static str> {
    let old = read_tree(before);
    let new = read_tree(after);
    let mut out = BTreeMap::new();
    for (p, bytes) in &new {
        match old.get(p) {
            None => {
                out.insert(p.clone(), "added");
            }
            Some(b) if b != bytes => {
                out.insert(p.clone(), "modified");
            }
            Some(_) => {}
        }
    }
    for p in old.keys().filter(|p| !new.contains_key(*p)) {
        out.insert(p.clone(), "removed");
    }
    out
}

/// One file's section of a unified diff.
#[derive(Debug, Default)]
struct FilePatch {
    old_name: String,
    new_name: String,
    /// (old start line, lines of the hunk with their ' ', '-' or '+' prefix)
    hunks: Vec<(usize, Vec<String>)>,
}

/// Parses unified-diff output, using each hunk's line counts to know where it ends (so a removed
/// line that itself starts with `--` cannot be mistaken for a header). Returns the file patches and
/// the lines that were not part of any patch.
fn parse_patches(text: &str) -> (Vec<FilePatch>, Vec<String>) {
    let mut patches: Vec<FilePatch> = Vec::new();
    let mut rest = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(old) = line.strip_prefix("--- ") {
            let new = lines
                .next()
                .and_then(|l| l.strip_prefix("+++ "))
                .expect("`+++` follows `---`");
            patches.push(FilePatch {
                old_name: old.trim_end().to_owned(),
                new_name: new.trim_end().to_owned(),
                hunks: Vec::new(),
            });
        } else if let Some(h) = line.strip_prefix("@@ -") {
            let (old_range, tail) = h.split_once(" +").expect("hunk header");
            let (new_range, _) = tail.split_once(" @@").expect("hunk header end");
            let range = |r: &str| -> (usize, usize) {
                match r.split_once(',') {
                    Some((s, n)) => (s.parse().expect("start"), n.parse().expect("len")),
                    None => (r.parse().expect("start"), 1),
                }
            };
            let (old_start, mut old_left) = range(old_range);
            let (_, mut new_left) = range(new_range);
            let mut body = Vec::new();
            while old_left + new_left > 0 {
                let l = lines.next().expect("hunk is complete");
                match l.chars().next() {
                    Some(' ') => {
                        old_left -= 1;
                        new_left -= 1;
                    }
                    Some('-') => old_left -= 1,
                    Some('+') => new_left -= 1,
                    _ => panic!("unexpected line in hunk: {l:?}"),
                }
                body.push(l.to_owned());
                while lines.peek().is_some_and(|n| n.starts_with('\\')) {
                    lines.next();
                }
            }
            patches
                .last_mut()
                .expect("hunk after a header")
                .hunks
                .push((old_start, body));
        } else {
            rest.push(line.to_owned());
        }
    }
    (patches, rest)
}

/// Applies one file's hunks to `old`, checking every context and removed line against it.
fn apply(old: &str, patch: &FilePatch) -> Vec<String> {
    let old: Vec<&str> = old.lines().collect();
    let mut out = Vec::new();
    let mut at = 0;
    for (start, body) in &patch.hunks {
        // A hunk names its first old line, 1-based; a pure insertion names the line it follows.
        let start = if body.iter().any(|l| !l.starts_with('+')) {
            start.saturating_sub(1)
        } else {
            *start
        }
        .min(old.len());
        out.extend(old[at..start].iter().map(|s| (*s).to_owned()));
        at = start;
        for l in body {
            let (tag, text) = l.split_at(1);
            match tag {
                " " | "-" => {
                    assert_eq!(old.get(at).copied(), Some(text), "patch does not fit");
                    if tag == " " {
                        out.push(text.to_owned());
                    }
                    at += 1;
                }
                _ => out.push(text.to_owned()),
            }
        }
    }
    out.extend(old[at..].iter().map(|s| (*s).to_owned()));
    out
}

/// Length of the longest common subsequence of two line lists: the fewest lines a diff can show
/// removed is `a.len() - lcs`, added `b.len() - lcs`.
fn lcs(a: &[&str], b: &[&str]) -> usize {
    let mut prev = vec![0usize; b.len() + 1];
    let mut cur = vec![0usize; b.len() + 1];
    for x in a {
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = if x == y {
                prev[j] + 1
            } else {
                prev[j + 1].max(cur[j])
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

fn summary_counts(line: &str) -> (usize, usize, usize) {
    let nums: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("number"))
        .collect();
    assert_eq!(nums.len(), 3, "summary line: {line:?}");
    assert!(
        line.contains(" changed, ") && line.contains(" added, ") && line.ends_with(" removed"),
        "summary line: {line:?}"
    );
    (nums[0], nums[1], nums[2])
}

/// One replica count changed in production.toml: Redis, 3 → 5 (a change every rule accepts).
pub(crate) const REDIS_REPLICAS: (&str, &str) = (
    "[storage.redis]\nreplicas = 3\n",
    "[storage.redis]\nreplicas = 5\n",
);

/// A scratch repository with `generated/` built, plus `expected/` built from the model after
/// one replica count in production.toml changed ([`REDIS_REPLICAS`]).
fn scratch_with_replica_change() -> tempfile::TempDir {
    let dir = scratch_with_environments();
    build(dir.path(), "generated");
    edit(
        &dir.path().join("environments/production.toml"),
        REDIS_REPLICAS.0,
        REDIS_REPLICAS.1,
    );
    build(dir.path(), "expected");
    dir
}

#[test]
fn clean_tree_has_no_drift() {
    let dir = scratch_with_environments();
    build(dir.path(), "generated");
    for args in [
        &["diff"][..],
        &["diff", "environments/"],
        &["diff", "--stat"],
    ] {
        let o = run(dir.path(), args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert_eq!(stdout(&o), SUMMARY_CLEAN, "{args:?}");
    }
    let o = run(dir.path(), &["build", "--check"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(dir.path(), &["diff", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let (files, summary) = drift_json(&o);
    assert_eq!(summary["drift"], false);
    assert!(files.is_empty());
}

/// `diff --format json` (and `build --check --format json`): the drift objects, one per changed
/// file, and the summary that closes them.
pub(crate) fn drift_json(o: &std::process::Output) -> (Vec<serde_json::Value>, serde_json::Value) {
    let lines = json_lines(o);
    let (summary, files) = lines.split_last().expect("a summary line");
    assert_eq!(summary["kind"], "drift_summary", "{lines:#?}");
    assert!(files.iter().all(|f| f["kind"] == "drift"), "{lines:#?}");
    (files.to_vec(), summary.clone())
}

/// The diff shows every changed file and only those, and within each file exactly the changed
/// lines: applying it to the committed tree gives the new output, and it removes and adds no more
/// lines than the fewest any line diff could.
#[test]
fn replica_change_shows_exactly_the_changed_lines() {
    let dir = scratch_with_replica_change();
    let expected = expected_changes(
        &dir.path().join("generated/production"),
        &dir.path().join("expected/production"),
    );
    assert!(
        expected.contains_key("deaap-manifest.json"),
        "the index records the input digest, so it changes"
    );
    for env in ["development", "staging"] {
        assert!(
            expected_changes(
                &dir.path().join("generated").join(env),
                &dir.path().join("expected").join(env)
            )
            .is_empty(),
            "{env} does not depend on production.toml"
        );
    }
    let o = run(dir.path(), &["diff", "environments/"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        !out.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
    let (patches, rest) = parse_patches(&out);
    assert_eq!(
        rest.len(),
        1,
        "only the summary besides the patches:\n{out}"
    );
    let (modified, added, removed) = summary_counts(&rest[0]);
    let count = |k| expected.values().filter(|v| **v == k).count();
    assert_eq!(
        (modified, added, removed),
        (count("modified"), count("added"), count("removed"))
    );
    let mut seen = Vec::new();
    for p in &patches {
        let name = if p.new_name == "/dev/null" {
            p.old_name.strip_prefix("a/production/")
        } else {
            p.new_name.strip_prefix("b/production/")
        }
        .unwrap_or_else(|| panic!("only production changed: {p:?}"));
        seen.push(name.to_owned());
        let old = std::fs::read_to_string(dir.path().join("generated/production").join(name))
            .unwrap_or_default();
        let new = std::fs::read_to_string(dir.path().join("expected/production").join(name))
            .unwrap_or_default();
        assert_eq!(apply(&old, p), new.lines().collect::<Vec<_>>(), "{name}");
        let old_lines: Vec<&str> = old.lines().collect();
        let new_lines: Vec<&str> = new.lines().collect();
        let common = lcs(&old_lines, &new_lines);
        let shown = |tag: char| {
            p.hunks
                .iter()
                .flat_map(|(_, b)| b)
                .filter(|l| l.starts_with(tag))
                .count()
        };
        assert_eq!(
            shown('-'),
            old_lines.len() - common,
            "{name}: removed lines"
        );
        assert_eq!(shown('+'), new_lines.len() - common, "{name}: added lines");
    }
    assert_eq!(
        seen,
        index_last(expected.keys().cloned().collect()),
        "every changed file, once, in order: the index last"
    );
    assert!(
        stderr(&o).contains("deaap-gen build"),
        "names the command that refreshes: {}",
        stderr(&o)
    );
}

#[test]
fn json_lists_exactly_the_changed_files() {
    let dir = scratch_with_replica_change();
    let expected = expected_changes(
        &dir.path().join("generated/production"),
        &dir.path().join("expected/production"),
    );
    let o = run(dir.path(), &["diff", "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let (files, summary) = drift_json(&o);
    assert_eq!(summary["drift"], true);
    let listed: BTreeMap<String, &str> = files
        .iter()
        .map(|f| {
            assert_eq!(f["environment"], "production");
            (
                f["path"]
                    .as_str()
                    .and_then(|p| p.strip_prefix("production/"))
                    .expect("path under the environment")
                    .to_owned(),
                f["change"].as_str().expect("change kind"),
            )
        })
        .collect();
    assert_eq!(listed, expected);
    assert_eq!(
        summary["modified"].as_u64(),
        Some(expected.values().filter(|k| **k == "modified").count() as u64)
    );
}

/// `diff --stat` lists every changed file as `git diff --stat` does, with how many lines it adds
/// and removes, then the summary with the totals.
#[test]
fn stat_lists_every_changed_file_with_its_line_counts() {
    let dir = scratch_with_replica_change();
    let (before, after) = (
        dir.path().join("generated/production"),
        dir.path().join("expected/production"),
    );
    let expected = expected_changes(&before, &after);
    let o = run(dir.path(), &["diff", "--stat"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    let (summary, rows) = lines.split_last().expect("a summary line");
    let row = regex_lite::Regex::new(r"^ (\S+) +\| +(\d+) (\+*)(-*)$").expect("regex");
    let (mut plus, mut minus) = (0, 0);
    let mut listed = Vec::new();
    for l in rows {
        let c = row
            .captures(l)
            .unwrap_or_else(|| panic!("not a stat row: {l:?}\n{out}"));
        let name = c[1].strip_prefix("production/").expect("only production");
        let old = std::fs::read_to_string(before.join(name)).unwrap_or_default();
        let new = std::fs::read_to_string(after.join(name)).unwrap_or_default();
        let (old, new): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
        let common = lcs(&old, &new);
        let (added, removed) = (new.len() - common, old.len() - common);
        assert_eq!(c[2].parse::<usize>().ok(), Some(added + removed), "{l}");
        if added + removed <= 40 {
            assert_eq!((c[3].len(), c[4].len()), (added, removed), "{l}");
        }
        plus += added;
        minus += removed;
        listed.push(name.to_owned());
    }
    assert_eq!(listed, index_last(expected.keys().cloned().collect()));
    let (counts, totals) = summary
        .split_once(" removed, ")
        .unwrap_or_else(|| panic!("summary: {summary:?}"));
    let (modified, added, removed) = summary_counts(&format!("{counts} removed"));
    let count = |k| expected.values().filter(|v| **v == k).count();
    assert_eq!(
        (modified, added, removed),
        (count("modified"), count("added"), count("removed"))
    );
    let s = |n: usize| if n == 1 { "" } else { "s" };
    assert_eq!(
        totals,
        format!(
            "{plus} insertion{}(+), {minus} deletion{}(-)",
            s(plus),
            s(minus)
        )
    );
}

#[test]
fn update_writes_the_new_output() {
    let dir = scratch_with_replica_change();
    let o = run(dir.path(), &["diff", "--update"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        read_tree(&dir.path().join("generated")),
        read_tree(&dir.path().join("expected"))
    );
    let o = run(dir.path(), &["diff"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o), SUMMARY_CLEAN);
}

#[test]
fn build_check_reports_without_the_diff_and_writes_nothing() {
    let dir = scratch_with_replica_change();
    let before = read_tree(&dir.path().join("generated"));
    let o = run(dir.path(), &["build", "--check"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).is_empty());
    let err = stderr(&o);
    assert!(err.contains("production: stale"), "{err}");
    assert!(err.contains("staging: up to date"), "{err}");
    assert!(
        err.contains("deaap-manifest.json"),
        "names the stale files: {err}"
    );
    assert!(!err.contains("@@"), "no diff: {err}");
    assert!(err.contains("run `deaap-gen build`"), "{err}");
    assert_eq!(read_tree(&dir.path().join("generated")), before);
}

#[test]
fn invalid_input_exits_2_with_nothing_on_stdout() {
    let dir = scratch_with_environments();
    build(dir.path(), "generated");
    edit(
        &dir.path().join("environments/production.toml"),
        "replicas = 5\n",
        "replicas = \"five\"\n",
    );
    for args in [
        &["diff"][..],
        &["diff", "--stat"],
        &["diff", "--format", "json"],
        &["diff", "--update"],
        &["build", "--check"],
        &["diff", "environments/nope.toml"],
    ] {
        let o = run(dir.path(), args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        if args.contains(&"json") {
            // Only the diagnostics, which machine formats print on stdout: no drift.
            let lines = json_lines(&o);
            assert!(!lines.is_empty());
            assert!(
                lines.iter().all(|v| v["kind"] == "diagnostic"),
                "{lines:#?}"
            );
        } else {
            assert!(stdout(&o).is_empty(), "{args:?}: {}", stdout(&o));
        }
    }
}

/// The first generated file the index lists (the index itself when no target wrote anything).
fn some_generated_file(env_dir: &Path) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env_dir.join("deaap-manifest.json")).expect("index"))
            .expect("JSON");
    index["files"]
        .as_array()
        .and_then(|f| f.first())
        .and_then(|f| f["path"].as_str())
        .unwrap_or("deaap-manifest.json")
        .to_owned()
}

#[test]
fn hand_edit_of_a_generated_file_is_drift() {
    let dir = scratch_with_environments();
    build(dir.path(), "generated");
    let env_dir = dir.path().join("generated/staging");
    let file = some_generated_file(&env_dir);
    let mut bytes = std::fs::read(env_dir.join(&file)).expect("read");
    bytes.extend_from_slice(b"hand-edited: true\n");
    std::fs::write(env_dir.join(&file), bytes).expect("write");
    let o = run(dir.path(), &["diff"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains(&format!("--- a/staging/{file}\n")), "{out}");
    assert!(out.contains("\n-hand-edited: true\n"), "{out}");
    assert!(
        out.ends_with("1 file changed, 0 added, 0 removed\n"),
        "{out}"
    );
    assert_eq!(
        run(dir.path(), &["build", "--check"]).status.code(),
        Some(1)
    );
}

#[test]
fn deleted_generated_file_is_shown_as_added() {
    let dir = scratch_with_environments();
    build(dir.path(), "generated");
    let env_dir = dir.path().join("generated/staging");
    let file = some_generated_file(&env_dir);
    let text = std::fs::read_to_string(env_dir.join(&file)).expect("read");
    std::fs::remove_file(env_dir.join(&file)).expect("rm");
    let o = run(dir.path(), &["diff"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains(&format!("--- /dev/null\n+++ b/staging/{file}\n")),
        "{out}"
    );
    let added: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
        .map(|l| &l[1..])
        .collect();
    assert_eq!(added, text.lines().collect::<Vec<_>>());
    assert!(
        out.ends_with("0 files changed, 1 added, 0 removed\n"),
        "{out}"
    );
}

/// Adds a file to the index of `env_dir` as if an earlier build had generated it.
fn plant_stale_file(env_dir: &Path, path: &str, text: &str) {
    let index_path = env_dir.join("deaap-manifest.json");
    let mut index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&index_path).expect("index")).expect("JSON");
    index["files"]
        .as_array_mut()
        .expect("files")
        .push(serde_json::json!({
            "path": path,
            "sha256": deaap_gen::output::sha256_hex(text.as_bytes()),
            "target": "retired",
            "kinds": ["ConfigMap"],
        }));
    std::fs::write(
        &index_path,
        serde_json::to_string_pretty(&index).expect("JSON") + "\n",
    )
    .expect("write");
    let file = env_dir.join(path);
    std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    std::fs::write(file, text).expect("write");
}

#[test]
fn no_longer_generated_file_is_shown_as_removed() {
    let dir = scratch_with_environments();
    build(dir.path(), "generated");
    plant_stale_file(
        &dir.path().join("generated/production"),
        "retired/old.yaml",
        "kind: ConfigMap\n",
    );
    let o = run(dir.path(), &["diff"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("--- a/production/retired/old.yaml\n+++ /dev/null\n"),
        "{out}"
    );
    assert!(out.contains("\n-kind: ConfigMap\n"), "{out}");
    assert!(
        out.ends_with("1 file changed, 0 added, 1 removed\n"),
        "{out}"
    );
    let (files, _) = drift_json(&run(dir.path(), &["diff", "--format", "json"]));
    assert!(
        files.contains(&serde_json::json!({"kind": "drift", "environment": "production", "path": "production/retired/old.yaml", "change": "removed"})),
        "{files:#?}"
    );
}

/// Deleting an environment file makes its whole output stale, when the inputs are the folder.
#[test]
fn output_of_a_deleted_environment_is_stale() {
    let dir = scratch_with_environments();
    build(dir.path(), "generated");
    let staging = dir.path().join("generated/staging");
    let generated: Vec<String> = read_tree(&staging).into_keys().collect();
    std::fs::write(staging.join("NOTES.md"), "mine\n").expect("write");
    std::fs::remove_file(dir.path().join("environments/staging.toml")).expect("rm");
    // Naming single files says nothing about other environments.
    let o = run(dir.path(), &["diff", "environments/production.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let o = run(dir.path(), &["diff", "--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let (files, _) = drift_json(&o);
    let listed: Vec<&str> = files
        .iter()
        .map(|f| {
            assert_eq!(f["change"], "removed");
            f["path"].as_str().expect("path")
        })
        .collect();
    let expected: Vec<String> =
        index_last(generated.iter().map(|p| format!("staging/{p}")).collect());
    assert_eq!(listed, expected);
    assert_eq!(run(dir.path(), &["build"]).status.code(), Some(0));
    assert_eq!(
        read_tree(&staging).into_keys().collect::<Vec<_>>(),
        ["NOTES.md"],
        "generated files removed, the user's file kept"
    );
    assert_eq!(run(dir.path(), &["diff"]).status.code(), Some(0));
}

#[test]
fn missing_output_folder_is_drift_with_a_hint() {
    let dir = scratch_with_environments();
    let o = run(dir.path(), &["diff"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("--- /dev/null\n+++ b/production/deaap-manifest.json\n"));
    assert!(
        stderr(&o).contains("`generated` does not exist"),
        "{}",
        stderr(&o)
    );
    let o = run(dir.path(), &["diff", "--against", "golden"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("deaap-gen build -o golden"),
        "the hint names the folder: {}",
        stderr(&o)
    );
}

/// Colour only on a terminal, never with `NO_COLOR`. A pseudo-terminal comes from `script(1)`; where
/// it is missing the terminal half cannot run, and the test says so.
#[test]
fn diff_colours_only_on_a_terminal_without_no_color() {
    let dir = scratch_with_replica_change();
    let piped = run(dir.path(), &["diff"]);
    assert!(!stdout(&piped).contains('\x1b'));
    let with_script = |no_color: bool| {
        let mut c = std::process::Command::new("script");
        c.current_dir(dir.path())
            .args(["-q", "-e", "-c"])
            .arg(format!("{} diff", env!("CARGO_BIN_EXE_deaap-gen")))
            .arg("/dev/null")
            .env("DEAAP_GEN_NO_CACHE", "1")
            .env_remove("NO_COLOR");
        if no_color {
            c.env("NO_COLOR", "1");
        }
        c.output()
    };
    let Ok(tty) = with_script(false) else {
        eprintln!("script(1) not found: terminal colour not exercised");
        return;
    };
    assert_eq!(tty.status.code(), Some(1), "{}", stderr(&tty));
    assert!(
        stdout(&tty).contains("\x1b[31m-"),
        "red removals on a terminal"
    );
    assert!(
        stdout(&tty).contains("\x1b[32m+"),
        "green additions on a terminal"
    );
    let tty_no_color = with_script(true).expect("script ran before");
    assert_eq!(tty_no_color.status.code(), Some(1));
    assert!(!stdout(&tty_no_color).contains('\x1b'), "NO_COLOR wins");
}

// The writer.

#[test]
fn repeated_builds_are_byte_identical() {
    type Files = BTreeMap<String, deaap_gen::targets::Bytes>;
    let dir = scratch_with_environments();
    let inputs = [dir.path().join("environments")];
    let trees = || -> Vec<(String, Files)> {
        deaap_gen::ops::compile_all(&inputs)
            .and_then(deaap_gen::ops::Compilation::into_workspace)
            .expect("shipped environments compile")
            .units
            .into_iter()
            .map(|u| (u.tree.environment, u.tree.files))
            .collect()
    };
    let first = trees();
    assert_eq!(first.len(), 3);
    for i in 1..100 {
        let again = trees();
        assert!(again == first, "build {i} differs from the first");
    }
    // And through the binary, from another working directory, into two folders.
    build(dir.path(), "one");
    let o = deaap_gen(Path::new("/"))
        .args(["build"])
        .arg(dir.path().join("environments"))
        .arg("-o")
        .arg(dir.path().join("two"))
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let one = read_tree(&dir.path().join("one"));
    assert_eq!(one, read_tree(&dir.path().join("two")));
    for (env, files) in &first {
        for (p, bytes) in files {
            assert_eq!(
                one.get(&format!("{env}/{p}")).map(Vec::as_slice),
                bytes.in_memory(),
                "{env}/{p}"
            );
        }
    }
}

fn mtimes(dir: &Path) -> BTreeMap<String, std::time::SystemTime> {
    read_tree(dir)
        .into_keys()
        .map(|p| {
            let m = std::fs::metadata(dir.join(&p))
                .and_then(|m| m.modified())
                .expect("mtime");
            (p, m)
        })
        .collect()
}

/// Sets every file's mtime to one fixed instant in the past, so a rewrite cannot go unnoticed
/// within the filesystem's timestamp granularity.
fn age_files(dir: &Path) -> std::time::SystemTime {
    let past = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    for p in read_tree(dir).into_keys() {
        std::fs::File::options()
            .write(true)
            .open(dir.join(&p))
            .and_then(|f| f.set_modified(past))
            .expect("set mtime");
    }
    past
}

#[test]
fn no_op_rebuild_leaves_every_mtime_unchanged() {
    let dir = scratch_with_environments();
    build(dir.path(), "generated");
    let generated = dir.path().join("generated");
    let past = age_files(&generated);
    let before = mtimes(&generated);
    assert!(before.values().all(|t| *t == past));
    let o = run(dir.path(), &["build"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("production: up to date"),
        "{}",
        stderr(&o)
    );
    assert_eq!(mtimes(&generated), before);
    // A rebuild that changes one environment keeps every unchanged file's mtime.
    edit(
        &dir.path().join("environments/production.toml"),
        REDIS_REPLICAS.0,
        REDIS_REPLICAS.1,
    );
    let old = read_tree(&generated);
    assert_eq!(run(dir.path(), &["build"]).status.code(), Some(0));
    let new = read_tree(&generated);
    assert_ne!(old, new);
    for (p, t) in mtimes(&generated) {
        if old.get(&p) == new.get(&p) {
            assert_eq!(t, past, "{p} was rewritten without changing");
        } else {
            assert_ne!(t, past, "{p} changed but kept its old mtime");
        }
    }
    let leftovers: Vec<String> = std::fs::read_dir(&generated)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(
        leftovers.is_empty(),
        "staging folders left behind: {leftovers:?}"
    );
}

#[test]
fn failed_build_leaves_the_previous_tree_intact() {
    let dir = scratch_with_environments();
    build(dir.path(), "generated");
    let generated = dir.path().join("generated");
    let before = read_tree(&generated);
    // production alone would build and change; staging is broken, so nothing may be written.
    edit(
        &dir.path().join("environments/production.toml"),
        REDIS_REPLICAS.0,
        REDIS_REPLICAS.1,
    );
    edit(
        &dir.path().join("environments/staging.toml"),
        "replicas = 2\n",
        "replicas = -2\n",
    );
    let o = run(dir.path(), &["build"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("staging.toml"), "{}", stderr(&o));
    assert_eq!(read_tree(&generated), before);
    let o = run(dir.path(), &["diff", "--update"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(read_tree(&generated), before);
}

#[test]
fn stale_generated_files_go_and_the_users_files_stay() {
    let dir = scratch_with_environments();
    build(dir.path(), "generated");
    let prod = dir.path().join("generated/production");
    plant_stale_file(&prod, "retired/old.yaml", "kind: ConfigMap\n");
    plant_stale_file(&prod, "retired/deeper/older.yaml", "kind: Secret\n");
    std::fs::write(prod.join("NOTES.md"), "my notes\n").expect("write");
    std::fs::create_dir_all(prod.join("kustomize/empty")).expect("mkdir");
    std::fs::write(prod.join("kustomize/patch.yaml"), "my patch\n").expect("write");
    #[cfg(unix)]
    std::os::unix::fs::symlink("NOTES.md", prod.join("README.md")).expect("symlink");
    let past = age_files(&prod);
    let o = run(dir.path(), &["build"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        !prod.join("retired").exists(),
        "stale files and their folder removed"
    );
    assert_eq!(
        std::fs::read_to_string(prod.join("NOTES.md")).expect("kept"),
        "my notes\n"
    );
    assert_eq!(
        std::fs::read_to_string(prod.join("kustomize/patch.yaml")).expect("kept"),
        "my patch\n"
    );
    assert!(
        prod.join("kustomize/empty").is_dir(),
        "the user's empty folder kept"
    );
    for user_file in ["NOTES.md", "kustomize/patch.yaml"] {
        assert_eq!(
            std::fs::metadata(prod.join(user_file))
                .and_then(|m| m.modified())
                .expect("mtime"),
            past,
            "{user_file} was not rewritten"
        );
    }
    #[cfg(unix)]
    assert_eq!(
        std::fs::read_link(prod.join("README.md")).expect("still a symlink"),
        Path::new("NOTES.md")
    );
    let o = run(dir.path(), &["diff"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // The user's files are never drift.
    assert_eq!(stdout(&o), SUMMARY_CLEAN);
}

/// Paths in the order diff shows them: by path, the index (`deaap-manifest.json`) last.
fn index_last(mut paths: Vec<String>) -> Vec<String> {
    paths.sort_by_key(|p| (p.ends_with("deaap-manifest.json"), p.clone()));
    paths
}
