//! Compilations kept between runs: a run over unchanged inputs that compiled without a diagnostic
//! skips compiling, and says exactly what a run that keeps nothing says, in every case.

use crate::support::{deaap_gen, edit, files_of, scratch_with_environments, stderr, stdout};
use std::path::PathBuf;

/// A copy of the shipped environments and a cache folder of its own.
struct Setup {
    dir: tempfile::TempDir,
    cache: PathBuf,
}

type Seen = (Option<i32>, String, String);

impl Setup {
    fn new() -> Self {
        let dir = scratch_with_environments();
        let cache = dir.path().join("cache");
        Self { dir, cache }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `deaap-gen ARGS`, keeping compilations in the setup's cache folder.
    fn kept(&self, args: &[&str]) -> Seen {
        let o = deaap_gen(self.dir.path())
            .env_remove("DEAAP_GEN_NO_CACHE")
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args)
            .output()
            .expect("the deaap-gen binary runs");
        (o.status.code(), stdout(&o), stderr(&o))
    }

    /// `deaap-gen ARGS`, keeping nothing.
    fn fresh(&self, args: &[&str]) -> Seen {
        let o = deaap_gen(self.dir.path())
            .args(args)
            .output()
            .expect("the deaap-gen binary runs");
        (o.status.code(), stdout(&o), stderr(&o))
    }

    /// Runs ARGS keeping compilations, then keeping nothing, and asserts the same outcome;
    /// returns it.
    fn same(&self, args: &[&str]) -> Seen {
        let kept = self.kept(args);
        let fresh = self.fresh(args);
        assert_eq!(kept, fresh, "deaap-gen {args:?}");
        kept
    }

    /// The records kept, by name.
    fn records(&self) -> Vec<(String, String)> {
        files_of(&self.cache.join("compilations"))
            .into_iter()
            .map(|(name, bytes)| (name, String::from_utf8(bytes).expect("UTF-8")))
            .collect()
    }

    /// Rewrites the one record kept, replacing `from` with `to`.
    fn edit_record(&self, from: &str, to: &str) {
        let records = self.records();
        assert_eq!(records.len(), 1, "{records:?}");
        edit(
            &self.cache.join("compilations").join(&records[0].0),
            from,
            to,
        );
    }
}

/// Replaces `file` with a symbolic link to a copy of it at `copy`: the same bytes, elsewhere.
#[cfg(unix)]
fn replace_with_link(file: &std::path::Path, copy: &std::path::Path) {
    std::fs::copy(file, copy).expect("copy");
    std::fs::remove_file(file).expect("remove");
    std::os::unix::fs::symlink(copy, file).expect("link");
}

/// Every command that takes a kept compilation, in the formats that print differently.
const CHECKS: &[&[&str]] = &[
    &["validate"],
    &["validate", "--format", "json"],
    &["validate", "--format", "sarif"],
    &["check"],
    &["check", "--format", "json"],
    &["check", "--flows"],
    &["diff"],
    &["diff", "--stat"],
    &["diff", "--format", "json"],
    &["diff", "--format", "github"],
    &["build", "--check"],
    &["build", "--check", "--format", "json"],
    &["build"],
];

#[test]
fn a_kept_compilation_changes_no_outcome() {
    let s = Setup::new();
    // The first build compiles and keeps one record for the inputs it was given, per need.
    let first = s.kept(&["build"]);
    assert_eq!(first.0, Some(0), "{}", first.2);
    assert_eq!(s.records().len(), 1, "{:?}", s.records());
    s.kept(&["validate"]);
    let records = s.records();
    assert_eq!(records.len(), 1, "validate uses the build's record");
    for args in CHECKS {
        let (code, _, err) = s.same(args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
    }
    // A run that finds everything known rewrites nothing.
    assert_eq!(s.records(), records);
    // And it takes what the record says, without compiling: a count changed in the record is
    // the count reported.
    s.edit_record("\"files\":92,", "\"files\":7,");
    s.edit_record("\"admitted\":0,", "\"admitted\":4242,");
    let (code, _, err) = s.kept(&["build"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("production: up to date (7 files)"), "{err}");
    let (code, out, err) = s.kept(&["check"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("development: 4242 objects admitted"), "{out}");
    // `--no-cache` neither reads nor writes it.
    std::fs::remove_dir_all(s.cache.join("compilations")).expect("remove");
    s.kept(&["--no-cache", "build"]);
    assert!(s.records().is_empty());
}

#[test]
fn changed_output_is_found_as_a_run_that_keeps_nothing_finds_it() {
    let s = Setup::new();
    s.kept(&["build"]);
    let yaml = s.path("generated/production/kubernetes/namespaces.yaml");
    assert!(yaml.is_file(), "{}", yaml.display());
    // A generated file edited by hand.
    edit(&yaml, "kind: Namespace", "kind: Namespace # edited");
    for args in CHECKS.iter().filter(|a| a[0] != "build" || a.len() > 1) {
        let (code, _, err) = s.same(args);
        // What compares the output finds it stale; what does not, still passes.
        let compares = !matches!(args[0], "validate" | "check");
        assert_eq!(code, Some(i32::from(compares)), "{args:?}: {err}");
    }
    // Built again, and a generated file removed; then the folder of an environment no input
    // declares any more.
    let (code, _, err) = s.kept(&["build"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("production: wrote"), "{err}");
    s.same(&["diff"]);
    std::fs::remove_file(&yaml).expect("remove");
    let (code, _, err) = s.same(&["diff", "--stat"]);
    assert_eq!(code, Some(1), "{err}");
    let (code, _, err) = s.kept(&["build"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("production: wrote"), "{err}");
    assert!(yaml.is_file());
    let ghost = s.path("generated/ghost");
    std::fs::create_dir_all(&ghost).expect("mkdir");
    std::fs::write(
        ghost.join("deaap-manifest.json"),
        r#"{"environment": "ghost", "generator": "deaap-gen", "input_sha256": "", "files": []}"#,
    )
    .expect("write");
    let (code, _, err) = s.same(&["diff", "--format", "json"]);
    assert_eq!(code, Some(1), "{err}");
    let (code, _, err) = s.kept(&["build"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("ghost: removed"), "{err}");
    // A generated file replaced by a link to the same bytes is an obstacle, found as such.
    #[cfg(unix)]
    {
        replace_with_link(&yaml, &s.path("namespaces-copy.yaml"));
        let (code, _, err) = s.same(&["build"]);
        assert_eq!(code, Some(2), "{err}");
    }
}

#[test]
fn changed_inputs_are_compiled_again() {
    let s = Setup::new();
    s.kept(&["build"]);
    // The layer every environment extends: read while compiling, named by no input.
    edit(
        &s.path("environments/base.toml"),
        "pull_policy = \"IfNotPresent\"",
        "pull_policy = \"Always\"",
    );
    let (code, _, err) = s.same(&["diff", "--stat"]);
    assert_eq!(code, Some(1), "{err}");
    let (code, _, err) = s.kept(&["build"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains(": wrote"), "{err}");
    s.same(&["diff"]);
    // A diagnostic is reported from the compilation every time, and nothing is kept for it: a
    // warning (5 validators tolerate no more faults than 4)...
    let before = s.records();
    let production = s.path("environments/production.toml");
    let text = std::fs::read_to_string(&production).expect("read");
    edit(&production, "validators = 7", "validators = 5");
    for _ in 0..2 {
        let (code, _, err) = s.same(&["validate"]);
        assert_eq!(code, Some(0), "{err}");
        assert!(err.contains("warning"), "{err}");
    }
    assert_eq!(s.records(), before);
    std::fs::write(&production, text).expect("write");
    // ...and an error.
    edit(
        &s.path("environments/staging.toml"),
        "[environment]",
        "[environment]\nunknown_key = 1",
    );
    for _ in 0..2 {
        let (code, _, err) = s.same(&["validate"]);
        assert_eq!(code, Some(2), "{err}");
    }
    assert_eq!(s.records(), before);
    // Inputs named differently are other inputs: one file, then the folder again.
    edit(
        &s.path("environments/staging.toml"),
        "[environment]\nunknown_key = 1",
        "[environment]",
    );
    for args in [
        &["build", "environments/production.toml"][..],
        &["build", "--check", "environments/production.toml"],
        &["validate", "environments/production.toml"],
        &["diff"],
    ] {
        let (code, _, err) = s.same(args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
    }
    // A layer that now resolves outside the environment folder, with the same bytes, is refused
    // as a run that keeps nothing refuses it.
    #[cfg(unix)]
    {
        replace_with_link(
            &s.path("environments/base.toml"),
            &s.path("base-outside.toml"),
        );
        let (code, _, err) = s.same(&["validate"]);
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains("DG0003"), "{err}");
    }
}

#[test]
fn a_broken_record_is_ignored_and_replaced() {
    let s = Setup::new();
    s.kept(&["build"]);
    let records = s.records();
    let (name, text) = &records[0];
    let file = s.cache.join("compilations").join(name);
    for broken in [&text[..text.len() / 2], "not a record", ""] {
        std::fs::write(&file, broken).expect("write");
        s.same(&["build"]);
        assert_eq!(s.records(), records);
    }
    // A record that says other output is due is not believed blindly: the folder is checked.
    let other = text.replacen("\"index_sha256\":\"", "\"index_sha256\":\"0", 1);
    assert_ne!(&other, text);
    std::fs::write(&file, &other).expect("write");
    let (code, _, err) = s.same(&["build", "--check"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        &std::fs::read_to_string(&file).expect("read"),
        text,
        "the compilation replaced the record"
    );
}

/// Writes `large.toml` in `dir`: `n` services on production's model (a layer over the scratch copy
/// of `production.toml`), the first of them on image tag `tag`. Its chart values pass a megabyte
/// from about 60 services, where a build that replaces them writes them to a temporary file.
fn large(dir: &std::path::Path, n: usize, tag: &str) {
    use std::fmt::Write as _;
    let mut text = String::from(
        "extends = \"environments/production.toml\"\n\n[environment]\nname = \"large\"\ncluster = \"deaap-large\"\n",
    );
    let (cpu, memory) = (100 + n * 4, 200 * 1024 + n * 4 * 448);
    let _ = write!(
        text,
        "\n[quotas.core]\nrequests_cpu = \"{cpu}\"\nrequests_memory = \"{memory}Mi\"\nlimits_cpu = \"{}\"\nlimits_memory = \"{}Mi\"\npods = {}\n",
        cpu * 2,
        memory * 2,
        100 + n * 4
    );
    for i in 0..n {
        let name = format!("svc-{i:05}");
        let tag = if i == 0 {
            tag.to_owned()
        } else {
            format!("1.0.{i}")
        };
        let deps = if i == 0 {
            "\"redis\"".to_owned()
        } else {
            format!("\"postgres\", \"svc-{:05}\"", i - 1)
        };
        let _ = write!(
            text,
            "\n[services.{name}]\nimage = {{ repository = \"deaap/{name}\", tag = \"{tag}\" }}\nport = 8080\nnamespace = \"core\"\nroute = \"/api/v1/{name}\"\nreplicas = 2\ndepends_on = [{deps}]\nmetrics = {{ scrape = true, port = 9090 }}\nautoscaling = {{ min_replicas = 2, max_replicas = 4, cpu_percent = 70 }}\nresources = {{ requests = {{ cpu = \"100m\", memory = \"128Mi\" }}, limits = {{ cpu = \"200m\", memory = \"256Mi\" }} }}\n"
        );
    }
    std::fs::write(dir.join("large.toml"), text).expect("write");
}

/// Every file under `dir`, by path, with its bytes.
fn tree_of(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.expect("walk"))
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(dir).expect("inside");
            let bytes = std::fs::read(e.path()).expect("read");
            (rel.to_string_lossy().into_owned(), bytes)
        })
        .collect()
}

/// The paths where the files under `dir` differ from `files`.
fn differ(
    dir: &std::path::Path,
    files: &std::collections::BTreeMap<String, Vec<u8>>,
) -> Vec<String> {
    let found = tree_of(dir);
    let paths: std::collections::BTreeSet<&String> = found
        .keys()
        .chain(files.keys())
        .filter(|p| found.get(*p) != files.get(*p))
        .collect();
    paths.into_iter().cloned().collect()
}

/// A build that replaces large chart values copies the runs of entries that did not change from
/// the values file the folder holds, when the cache folder keeps its layout: the tree is the one a
/// build that keeps nothing writes, after a new image and after a hand edit of the values file
/// that keeps its length.
#[test]
fn chart_values_copied_from_the_folder_are_those_a_build_afresh_writes() {
    let s = Setup::new();
    let values = s.path("generated/large/helm/values-large.yaml");
    let afresh = |tag: &str| {
        let out = s.path(&format!("afresh-{tag}"));
        let (code, _, err) = s.fresh(&["build", "large.toml", "-o", out.to_str().expect("UTF-8")]);
        assert_eq!(code, Some(0), "{err}");
        tree_of(&out.join("large"))
    };
    let build = |tag: &str| {
        large(s.dir.path(), 80, tag);
        let (code, _, err) = s.kept(&["build", "large.toml"]);
        assert_eq!(code, Some(0), "{err}");
    };
    build("1.0.0");
    assert!(std::fs::metadata(&values).expect("values").len() > 1 << 20);
    // Files are remembered once written long enough before a check: as if an hour ago.
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for e in walkdir::WalkDir::new(s.path("generated/large")) {
        let e = e.expect("walk");
        if e.file_type().is_file() {
            let f = std::fs::File::options()
                .write(true)
                .open(e.path())
                .expect("open");
            f.set_modified(past).expect("age");
        }
    }
    // The next build remembers them, and the one after lets go of them and spills its values,
    // keeping their layout.
    build("2.0.0");
    assert!(files_of(&s.cache.join("values")).is_empty());
    build("3.0.0");
    assert_eq!(files_of(&s.cache.join("values")).len(), 1, "one record");
    // A new image: the service's runs written, the others copied.
    build("4.0.0");
    assert_eq!(
        differ(&s.path("generated/large"), &afresh("4.0.0")),
        [""; 0]
    );
    // A byte of the values file changed by hand, in the middle of a run: the copies are not
    // used, and the file is written afresh.
    let mut bytes = std::fs::read(&values).expect("read");
    let at = bytes.len() / 2;
    bytes[at] = if bytes[at] == b'#' { b'%' } else { b'#' };
    std::fs::write(&values, &bytes).expect("write");
    build("5.0.0");
    assert_eq!(
        differ(&s.path("generated/large"), &afresh("5.0.0")),
        [""; 0]
    );
}
