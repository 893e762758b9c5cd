//! A hostile repository, tried as an attacker would shape it: links, FIFOs and devices planted in
//! the committed output tree or among the environment files, two builds at once, a build killed in
//! the middle of its swap. deaap-gen must never write, read or delete through a link, never hang,
//! and never lose the user's files.

#![cfg(unix)]

use crate::diff::{build, read_tree};
use crate::support::{deaap_gen, edit, run, scratch_with_environments, stderr, stdout};
use std::io::Read;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `deaap-gen ARGS` in `dir`, failing the test if it has not finished within `secs` (a hang
/// on a FIFO or an endless read of `/dev/zero` must fail, not stall the suite).
fn run_bounded(dir: &Path, args: &[&str], secs: u64) -> Output {
    let mut child = deaap_gen(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the deaap-gen binary runs");
    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_pipe.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err_pipe.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + Duration::from_secs(secs);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`deaap-gen {}` still running after {secs} s",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out_reader.join().expect("stdout reader"),
        stderr: err_reader.join().expect("stderr reader"),
    }
}

/// A scratch copy of the environments, built into `generated/`.
fn built() -> tempfile::TempDir {
    let dir = scratch_with_environments();
    build(dir.path(), "generated");
    dir
}

/// A model change that alters production's output, so the next build has something to write.
fn change_production(dir: &Path) {
    edit(
        &dir.join("environments/production.toml"),
        "replicas = 3",
        "replicas = 5",
    );
}

/// A folder outside the repository holding a file nobody may touch.
fn victim() -> (tempfile::TempDir, std::path::PathBuf) {
    let outside = tempfile::tempdir().expect("temp dir");
    let file = outside.path().join("id_rsa");
    std::fs::write(&file, "-----BEGIN OPENSSH PRIVATE KEY-----\nvictim\n").expect("write");
    (outside, file)
}

/// The names in a folder.
fn entry_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn assert_untouched(outside: &Path, file: &Path) {
    assert_eq!(
        std::fs::read_to_string(file).expect("the victim file is still there"),
        "-----BEGIN OPENSSH PRIVATE KEY-----\nvictim\n"
    );
    assert_eq!(
        entry_names(outside),
        ["id_rsa"],
        "nothing was written outside the tree"
    );
}

#[test]
fn a_linked_generated_folder_is_refused_and_nothing_is_written_through_it() {
    let dir = built();
    let (outside, file) = victim();
    let audit = dir.path().join("generated/production/audit");
    std::fs::remove_dir_all(&audit).expect("rm");
    symlink(outside.path(), &audit).expect("link");
    change_production(dir.path());
    let before = read_tree(&dir.path().join("generated/staging"));
    let o = run_bounded(dir.path(), &["build", "environments/"], 60);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("audit") && err.contains("is a symbolic link, expected a folder"),
        "{err}"
    );
    assert_untouched(outside.path(), &file);
    assert!(
        std::fs::symlink_metadata(&audit)
            .expect("still there")
            .is_symlink()
    );
    // Refused before anything was written: the other environments are as they were.
    assert_eq!(read_tree(&dir.path().join("generated/staging")), before);
    let names = entry_names(&dir.path().join("generated"));
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
}

#[test]
fn a_linked_environment_folder_or_output_folder_is_refused() {
    let dir = built();
    let (outside, file) = victim();
    let prod = dir.path().join("generated/production");
    std::fs::remove_dir_all(&prod).expect("rm");
    symlink(outside.path(), &prod).expect("link");
    let o = run_bounded(dir.path(), &["build", "environments/"], 60);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("is a symbolic link"), "{}", stderr(&o));
    assert_untouched(outside.path(), &file);

    let other = scratch_with_environments();
    symlink(outside.path(), other.path().join("generated")).expect("link");
    let o = run_bounded(other.path(), &["build", "environments/"], 60);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_untouched(outside.path(), &file);
}

/// A committed folder that looks like the output of a deleted environment.
fn plant_ghost(folder: &Path, listed: &str) {
    std::fs::create_dir_all(folder).expect("mkdir");
    let index = serde_json::json!({
        "environment": "ghost", "generator": "deaap-gen 0.1.0", "input_sha256": "",
        "files": [{"path": listed, "sha256": "", "target": "audit", "kinds": []}],
    });
    std::fs::write(
        folder.join("deaap-manifest.json"),
        serde_json::to_vec(&index).expect("json"),
    )
    .expect("write");
}

#[test]
fn orphan_clean_up_never_deletes_through_a_link() {
    let dir = built();
    let (outside, file) = victim();
    let ghost = dir.path().join("generated/ghost");
    plant_ghost(&ghost, "lnk/id_rsa");
    symlink(outside.path(), ghost.join("lnk")).expect("link");
    for args in [
        &["build", "environments/"][..],
        &["diff", "environments/", "--update"][..],
    ] {
        let o = run_bounded(dir.path(), args, 60);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_untouched(outside.path(), &file);
    }

    // The orphan folder itself a link to another project's output.
    let other_project = tempfile::tempdir().expect("temp dir");
    let theirs = other_project.path().join("ghost");
    plant_ghost(&theirs, "id_rsa");
    std::fs::write(theirs.join("id_rsa"), "theirs").expect("write");
    let dir = built();
    symlink(&theirs, dir.path().join("generated/ghost")).expect("link");
    let o = run_bounded(dir.path(), &["build", "environments/"], 60);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(theirs.join("id_rsa")).expect("kept"),
        "theirs"
    );
    assert!(theirs.join("deaap-manifest.json").exists());
}

#[test]
fn diff_never_prints_a_file_from_outside_the_tree() {
    let dir = built();
    let (outside, file) = victim();
    let values = dir
        .path()
        .join("generated/production/helm/values-production.yaml");
    std::fs::remove_file(&values).expect("rm");
    symlink(&file, &values).expect("link");
    let kube = dir.path().join("generated/staging/kubernetes");
    std::fs::rename(&kube, outside.path().join("kubernetes")).expect("move");
    symlink(outside.path().join("kubernetes"), &kube).expect("link");
    let o = run_bounded(dir.path(), &["diff", "environments/"], 60);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        !out.contains("PRIVATE KEY"),
        "a file outside the tree was printed"
    );
    assert!(
        out.contains(
            "a/production/helm/values-production.yaml\t(is a symbolic link, expected a file)"
        ),
        "{out}"
    );
    assert!(
        out.contains("(`kubernetes` is a symbolic link, expected a folder)"),
        "{out}"
    );
    let json = run_bounded(
        dir.path(),
        &["diff", "environments/", "--format", "json"],
        60,
    );
    let (files, _) = crate::diff::drift_json(&json);
    assert!(
        files
            .iter()
            .any(|f| f["path"] == "production/helm/values-production.yaml"
                && f["problem"] == "is a symbolic link, expected a file"),
        "{files:#?}"
    );
}

#[test]
fn a_link_to_identical_content_is_drift() {
    let dir = built();
    let copy = tempfile::tempdir().expect("temp dir");
    let values = dir
        .path()
        .join("generated/production/helm/values-production.yaml");
    let same = copy.path().join("values.yaml");
    std::fs::copy(&values, &same).expect("copy");
    std::fs::remove_file(&values).expect("rm");
    symlink(&same, &values).expect("link");
    let o = run_bounded(dir.path(), &["diff", "environments/", "--stat"], 60);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let o = run_bounded(dir.path(), &["build", "environments/", "--check"], 60);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("is a symbolic link"), "{}", stderr(&o));
}

#[test]
fn fifos_and_devices_in_the_tree_neither_hang_nor_exhaust_memory() {
    let dir = built();
    let fifo = dir.path().join("generated/production/falco/rules.yaml");
    std::fs::remove_file(&fifo).expect("rm");
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::Mode::from_bits_truncate(0o600),
    )
    .expect("fifo");
    let zero = dir
        .path()
        .join("generated/staging/helm/values-staging.yaml");
    std::fs::remove_file(&zero).expect("rm");
    symlink("/dev/zero", &zero).expect("link");
    let o = run_bounded(dir.path(), &["diff", "environments/", "--stat"], 30);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let o = run_bounded(dir.path(), &["diff", "environments/"], 30);
    let out = stdout(&o);
    assert!(out.contains("(is a FIFO, expected a file)"), "{out}");
    let o = run_bounded(dir.path(), &["build", "environments/"], 30);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("is a FIFO"), "{}", stderr(&o));
}

#[test]
fn a_second_build_waits_for_the_first_or_fails_with_no_wait() {
    let dir = built();
    change_production(dir.path());
    let out = dir.path().join("generated");
    let held =
        deaap_gen::output::lock::lock(&out, deaap_gen::output::lock::Wait::NoWait, &mut || {})
            .expect("the lock is free");
    let o = run_bounded(dir.path(), &["build", "environments/", "--no-wait"], 30);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("another deaap-gen is writing this output folder"),
        "{}",
        stderr(&o)
    );
    // Without --no-wait the second build waits, then completes the whole tree.
    let mut waiting = deaap_gen(dir.path())
        .args(["build", "environments/"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        waiting.try_wait().expect("poll").is_none(),
        "the second build did not wait for the lock"
    );
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = waiting.try_wait().expect("poll") {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the waiting build never finished"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    waiting
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read");
    assert!(status.success(), "{err}");
    assert!(err.contains("waiting for another deaap-gen"), "{err}");
    let o = run(dir.path(), &["diff", "environments/", "--stat"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        !out.join(".deaap-gen.lock").exists(),
        "the lock file is left behind"
    );
}

#[test]
fn concurrent_builds_never_both_leave_a_broken_tree() {
    let dir = scratch_with_environments();
    let spawn = || {
        deaap_gen(dir.path())
            .args(["build", "environments/"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("runs")
    };
    for _ in 0..3 {
        let (mut a, mut b) = (spawn(), spawn());
        let (sa, sb) = (a.wait().expect("wait"), b.wait().expect("wait"));
        assert!(sa.success() && sb.success());
        let o = run(dir.path(), &["diff", "environments/", "--stat"]);
        assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
        let names = entry_names(&dir.path().join("generated"));
        assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
        std::fs::remove_dir_all(dir.path().join("generated")).expect("rm");
    }
}

#[test]
fn a_tree_set_aside_by_a_killed_build_is_restored_not_deleted() {
    let dir = built();
    let out = dir.path().join("generated");
    std::fs::write(out.join("production/NOTES.md"), "mine").expect("user file");
    // The state a build killed between moving the old tree aside and moving the new one in
    // leaves behind.
    std::fs::rename(out.join("production"), out.join(".production.old-4242-0")).expect("mv");
    let o = run_bounded(dir.path(), &["build", "environments/"], 60);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(out.join("production/NOTES.md")).expect("restored"),
        "mine"
    );
    assert!(!out.join(".production.old-4242-0").exists());
    let o = run(dir.path(), &["diff", "environments/", "--stat"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn folder_modes_and_byte_exact_user_paths_survive_a_rebuild() {
    let dir = built();
    let env = dir.path().join("generated/production");
    let private = env.join("private");
    std::fs::create_dir(&private).expect("mkdir");
    std::fs::write(private.join("notes.txt"), "mine").expect("write");
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o750)).expect("chmod");
    let odd = env.join("helm\\values.yaml");
    std::fs::write(&odd, "a user file with a backslash in its name").expect("write");
    change_production(dir.path());
    let o = run_bounded(dir.path(), &["build", "environments/"], 60);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o7777;
    assert_eq!(mode(&private), 0o700);
    assert_eq!(mode(&env), 0o750);
    assert_eq!(
        std::fs::read_to_string(private.join("notes.txt")).expect("kept"),
        "mine"
    );
    assert!(
        odd.exists(),
        "a user file named `helm\\values.yaml` was deleted"
    );
}

#[test]
fn special_or_oversized_environment_files_in_a_scanned_folder_are_refused_promptly() {
    let dir = scratch_with_environments();
    let envs = dir.path().join("environments");
    symlink("/dev/zero", envs.join("zero.toml")).expect("link");
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        envs.join("pipe.toml"),
        rustix::fs::Mode::from_bits_truncate(0o600),
    )
    .expect("fifo");
    let mut big = String::from("[environment]\nname = \"big\"\n");
    while big.len() <= 4 * 1024 * 1024 {
        big.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    std::fs::write(envs.join("big.toml"), big).expect("write");
    let o = run_bounded(dir.path(), &["validate", "environments/"], 30);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    for needle in [
        "zero.toml",
        "a device, not a regular file",
        "pipe.toml",
        "a FIFO, not a regular file",
        "big.toml",
        "larger than 4194304 bytes",
    ] {
        assert!(err.contains(needle), "{needle}: {err}");
    }
    // The plugin's discovery scans the same folder and must return too.
    let o = run_bounded(dir.path(), &["argocd", "discover"], 30);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}
