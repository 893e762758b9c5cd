//! generated/ holds, for each shipped environment, exactly what `deaap-gen build environments/`
//! writes: it is the one end-to-end pin of the compiler's output. This test fails when it is stale,
//! shows the diff, and names the command that refreshes it; with `DEAAP_BLESS=1` it rewrites
//! generated/ through the same writer `build` uses.

use deaap_gen::ops::{Compilation, Unit, compile_all};
use deaap_gen::output;
use std::path::Path;

const REFRESH: &str =
    "refresh with `deaap-gen build environments/` (or `DEAAP_BLESS=1 cargo test generated`)";

/// The compiled shipped environments, through the same operation `build` uses.
fn shipped_units(root: &Path) -> Vec<Unit> {
    compile_all(&[root.join("environments")])
        .and_then(Compilation::into_workspace)
        .expect("the shipped environments compile")
        .units
}

#[test]
fn generated_is_what_build_writes() {
    let root = crate::support::root();
    let generated = root.join("generated");
    let units = shipped_units(&root);
    let names: Vec<&str> = units.iter().map(|u| u.tree.environment.as_str()).collect();
    assert_eq!(names, ["development", "production", "staging"]);
    let orphans = output::orphans(&generated, &names).expect("generated/ can be listed");

    if std::env::var_os("DEAAP_BLESS").is_some_and(|v| v == "1") {
        for u in &units {
            output::write(&generated, &u.tree).expect("write generated/");
        }
        for env in &orphans {
            output::remove_orphan(&generated, env).expect("remove a retired environment");
        }
        return;
    }

    let mut report = String::new();
    let mut changes = Vec::new();
    for u in &units {
        for c in output::compare(&generated, &u.tree).expect("generated/ is readable") {
            report.push_str(&output::diff::unified(&u.tree.environment, &c, false));
            changes.push(c);
        }
    }
    for env in &orphans {
        for c in output::orphan_changes(&generated, env).expect("generated/ is readable") {
            report.push_str(&output::diff::unified(env, &c, false));
            changes.push(c);
        }
    }
    assert!(
        changes.is_empty(),
        "generated/ is stale ({}); {REFRESH}\n\n{report}",
        output::diff::summary(&changes)
    );
}

/// The check above must be able to fail: a generated tree that lacks a file, has a hand edit, or
/// keeps a retired environment is reported, through the same calls.
#[test]
fn stale_generated_is_detected() {
    let root = crate::support::root();
    let scratch = tempfile::tempdir().expect("temp dir");
    let generated = scratch.path().join("generated");
    let units = shipped_units(&root);
    for u in &units {
        output::write(&generated, &u.tree).expect("write");
        assert!(
            output::compare(&generated, &u.tree)
                .expect("read")
                .is_empty()
        );
    }
    let index = generated.join("staging").join(output::INDEX);
    let mut text = std::fs::read_to_string(&index).expect("read");
    text.push_str("edited\n");
    std::fs::write(&index, text).expect("write");
    let staging = units
        .iter()
        .find(|u| u.tree.environment == "staging")
        .expect("staging");
    let changes = output::compare(&generated, &staging.tree).expect("read");
    assert_eq!(changes.len(), 1);
    assert!(output::diff::unified("staging", &changes[0], false).contains("\n-edited\n"));

    std::fs::rename(generated.join("staging"), generated.join("qa")).expect("rename");
    let index = generated.join("qa").join(output::INDEX);
    let text = std::fs::read_to_string(&index)
        .expect("read")
        .replace("edited\n", "")
        .replace("\"environment\": \"staging\"", "\"environment\": \"qa\"");
    std::fs::write(&index, text).expect("write");
    let names: Vec<&str> = units.iter().map(|u| u.tree.environment.as_str()).collect();
    assert_eq!(output::orphans(&generated, &names).expect("list"), ["qa"]);
    assert!(
        !output::orphan_changes(&generated, "qa")
            .expect("read")
            .is_empty()
    );
}
