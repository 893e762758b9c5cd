//! golden/ holds, for each shipped environment, exactly what `deaap-gen build environments/ -o
//! golden` writes. This test fails when it is stale, shows the diff, and names the command that
//! refreshes it; with `DEAAP_BLESS=1` it rewrites golden/ through the same writer `build` uses.

use deaap_gen::ops::{Compilation, Unit, compile_all};
use deaap_gen::output;
use std::path::Path;

const REFRESH: &str =
    "refresh with `deaap-gen build environments/ -o golden` (or `DEAAP_BLESS=1 cargo test golden`)";

/// The compiled shipped environments, through the same operation `build` uses.
fn shipped_units(root: &Path) -> Vec<Unit> {
    compile_all(&[root.join("environments")])
        .and_then(Compilation::into_workspace)
        .expect("the shipped environments compile")
        .units
}

#[test]
fn golden_is_what_build_writes() {
    let root = crate::support::root();
    let golden = root.join("golden");
    let units = shipped_units(&root);
    let names: Vec<&str> = units.iter().map(|u| u.tree.environment.as_str()).collect();
    assert_eq!(names, ["development", "production", "staging"]);
    let orphans = output::orphans(&golden, &names).expect("golden/ can be listed");

    if std::env::var_os("DEAAP_BLESS").is_some_and(|v| v == "1") {
        for u in &units {
            output::write(&golden, &u.tree).expect("write golden/");
        }
        for env in &orphans {
            output::remove_orphan(&golden, env).expect("remove a retired environment");
        }
        return;
    }

    let mut report = String::new();
    let mut changes = Vec::new();
    for u in &units {
        for c in output::compare(&golden, &u.tree).expect("golden/ is readable") {
            report.push_str(&output::diff::unified(&u.tree.environment, &c, false));
            changes.push(c);
        }
    }
    for env in &orphans {
        for c in output::orphan_changes(&golden, env).expect("golden/ is readable") {
            report.push_str(&output::diff::unified(env, &c, false));
            changes.push(c);
        }
    }
    assert!(
        changes.is_empty(),
        "golden/ is stale ({}); {REFRESH}\n\n{report}",
        output::diff::summary(&changes)
    );
}

/// The check above must be able to fail: a golden tree that lacks a file, has a hand edit, or
/// keeps a retired environment is reported, through the same calls.
#[test]
fn stale_golden_is_detected() {
    let root = crate::support::root();
    let scratch = tempfile::tempdir().expect("temp dir");
    let golden = scratch.path().join("golden");
    let units = shipped_units(&root);
    for u in &units {
        output::write(&golden, &u.tree).expect("write");
        assert!(output::compare(&golden, &u.tree).expect("read").is_empty());
    }
    let index = golden.join("staging").join(output::INDEX);
    let mut text = std::fs::read_to_string(&index).expect("read");
    text.push_str("edited\n");
    std::fs::write(&index, text).expect("write");
    let staging = units
        .iter()
        .find(|u| u.tree.environment == "staging")
        .expect("staging");
    let changes = output::compare(&golden, &staging.tree).expect("read");
    assert_eq!(changes.len(), 1);
    assert!(output::diff::unified("staging", &changes[0], false).contains("\n-edited\n"));

    std::fs::rename(golden.join("staging"), golden.join("qa")).expect("rename");
    let index = golden.join("qa").join(output::INDEX);
    let text = std::fs::read_to_string(&index)
        .expect("read")
        .replace("edited\n", "")
        .replace("\"environment\": \"staging\"", "\"environment\": \"qa\"");
    std::fs::write(&index, text).expect("write");
    let names: Vec<&str> = units.iter().map(|u| u.tree.environment.as_str()).collect();
    assert_eq!(output::orphans(&golden, &names).expect("list"), ["qa"]);
    assert!(
        !output::orphan_changes(&golden, "qa")
            .expect("read")
            .is_empty()
    );
}
