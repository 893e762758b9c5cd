//! The compiler core as a user meets it: building, located diagnostics, secrets never echoed,
//! `extends` confinement, provenance through layers, the checked-in schema, and robustness.

use crate::support::{edit, json_lines, run, scratch_with_environments, stderr, stdout};

#[test]
fn build_production_writes_the_index() {
    let dir = scratch_with_environments();
    let o = run(dir.path(), &["build", "environments/production.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let index =
        std::fs::read_to_string(dir.path().join("generated/production/deaap-manifest.json"))
            .expect("index written");
    let v: serde_json::Value = serde_json::from_str(&index).expect("index is JSON");
    assert_eq!(v["environment"], "production");
    assert_eq!(v["input_sha256"].as_str().map(str::len), Some(64));
    assert!(
        v["generator"]
            .as_str()
            .is_some_and(|g| g.starts_with("deaap-gen "))
    );
    let files = v["files"].as_array().expect("files");
    assert!(
        files.len() > 40,
        "production compiles to every artifact family: {files:?}"
    );
    for f in files {
        let path = f["path"].as_str().expect("path");
        let bytes = std::fs::read(dir.path().join("generated/production").join(path))
            .expect("listed file exists");
        assert_eq!(
            f["sha256"].as_str(),
            Some(deaap_gen::output::sha256_hex(&bytes).as_str()),
            "{path}"
        );
    }
    // Only production was asked for.
    assert!(!dir.path().join("generated/staging").exists());
}

#[test]
fn shipped_environments_validate() {
    let dir = scratch_with_environments();
    let o = run(dir.path(), &["validate"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).is_empty());
}

#[test]
fn misspelled_key_is_located_with_a_suggestion() {
    let dir = scratch_with_environments();
    let prod = dir.path().join("environments/production.toml");
    edit(&prod, "replicas = 5\n", "replcas = 3\n");
    let o = run(dir.path(), &["validate", "environments/production.toml"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    let text = std::fs::read_to_string(&prod).expect("read");
    let line = text
        .lines()
        .position(|l| l.starts_with("replcas"))
        .expect("edited line")
        + 1;
    assert!(
        err.contains(&format!("environments/production.toml:{line}:1")),
        "{err}"
    );
    assert!(err.contains("did you mean `replicas`"), "{err}");
    assert!(err.contains("DG0051"), "{err}");
}

/// Five independent mistakes in one file: all five reported in one run, in both formats.
#[test]
fn five_independent_errors_in_one_run() {
    let dir = scratch_with_environments();
    let prod = dir.path().join("environments/production.toml");
    edit(&prod, "replicas = 5\n", "replcas = 5\n");
    edit(&prod, "tier = \"production\"", "tier = \"prod\"");
    edit(&prod, "validators = 7", "validators = \"seven\"");
    edit(&prod, "[blockchain]\n", "[blockchain]\ncolour = \"blue\"\n");
    edit(
        &prod,
        "[storage.redis]\n",
        "[storage.redis]\nport = \"6379\"\n",
    );
    let o = run(
        dir.path(),
        &[
            "validate",
            "environments/production.toml",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let objects = json_lines(&o);
    assert_eq!(objects.len(), 5, "{objects:#?}");
    for o in &objects {
        for key in ["file", "line", "column", "code", "severity", "message"] {
            assert!(!o[key].is_null(), "{key} missing in {o}");
        }
        assert_eq!(o["file"], "environments/production.toml");
    }
    let human = run(dir.path(), &["validate", "environments/production.toml"]);
    assert_eq!(
        stderr(&human).matches("error[DG").count(),
        5,
        "{}",
        stderr(&human)
    );
}

/// `validate` (human and JSON) and `build` of production in `dir` refuse it with at least
/// `refusals` DG0201 diagnostics, write nothing, and never show any of `secrets`.
fn refused_and_never_echoed(dir: &std::path::Path, secrets: &[&str], refusals: usize) {
    for args in [
        &["validate", "environments/production.toml"][..],
        &[
            "validate",
            "environments/production.toml",
            "--format",
            "json",
        ],
        &["build", "environments/production.toml"],
    ] {
        let o = run(dir, args);
        assert_eq!(o.status.code(), Some(2));
        let all = format!("{}{}", stdout(&o), stderr(&o));
        for secret in secrets {
            assert!(!all.contains(secret), "secret echoed by {args:?}:\n{all}");
        }
        assert!(all.matches("DG0201").count() >= refusals, "{all}");
    }
    assert!(
        !dir.join("generated").exists(),
        "nothing may be written for invalid input"
    );
}

#[test]
fn literal_secret_is_refused_and_never_echoed() {
    let dir = scratch_with_environments();
    let prod = dir.path().join("environments/production.toml");
    let text = std::fs::read_to_string(&prod).expect("read");
    std::fs::write(&prod, format!("password = \"hunter2\"\n{text}")).expect("write");
    edit(
        &prod,
        "[services.doc-ingester.env]\n",
        "[services.doc-ingester.env]\nDB_PASSWORD = \"hunter2\"\n",
    );
    refused_and_never_echoed(dir.path(), &["hunter2"], 1);
}

/// A table of hundreds of entries (a large `[services]`) is converted on every core: a literal
/// secret inside it is masked as in a small one.
#[test]
fn a_secret_in_a_large_table_is_never_echoed() {
    use std::fmt::Write as _;
    let dir = scratch_with_environments();
    let prod = dir.path().join("environments/production.toml");
    edit(
        &prod,
        "[services.doc-ingester.env]\n",
        "[services.doc-ingester.env]\nDB_PASSWORD = \"hunter2hunter2\"\n",
    );
    let mut text = std::fs::read_to_string(&prod).expect("read");
    for i in 0..300 {
        let _ = write!(
            text,
            "\n[services.filler-{i:03}]\nimage = {{ repository = \"deaap/filler\", tag = \"1.0.{i}\" }}\n\
             port = 8080\nenv = {{ API_TOKEN = \"tok-{i}-s3cr3tvalue\" }}\n"
        );
    }
    std::fs::write(&prod, text).expect("write");
    refused_and_never_echoed(dir.path(), &["hunter2", "s3cr3tvalue"], 301);
}

#[test]
fn extends_may_not_leave_the_environment_folder() {
    for target in [
        "../../etc/passwd",
        "/etc/passwd",
        "../environments/base.toml",
    ] {
        let dir = scratch_with_environments();
        let prod = dir.path().join("environments/production.toml");
        edit(
            &prod,
            "extends = \"base.toml\"",
            &format!("extends = \"{target}\""),
        );
        let o = run(dir.path(), &["validate", "environments/production.toml"]);
        assert_eq!(o.status.code(), Some(2), "{target}");
        let err = stderr(&o);
        assert!(err.contains("DG0003"), "{target}: {err}");
        assert!(
            err.contains("environments/production.toml:"),
            "points at the extends line: {err}"
        );
        assert!(!err.contains("root:x:0"), "{err}");
    }
}

#[test]
fn extends_cycle_is_named() {
    let dir = scratch_with_environments();
    let base = dir.path().join("environments/base.toml");
    let text = std::fs::read_to_string(&base).expect("read");
    std::fs::write(&base, format!("extends = \"production.toml\"\n{text}")).expect("write");
    let o = run(dir.path(), &["validate", "environments/production.toml"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("DG0004"), "{err}");
    assert!(
        err.contains(
            "environments/production.toml → environments/base.toml → environments/production.toml"
        ),
        "{err}"
    );
}

#[test]
fn missing_extends_target_points_at_extends() {
    let dir = scratch_with_environments();
    edit(
        &dir.path().join("environments/staging.toml"),
        "extends = \"base.toml\"",
        "extends = \"bsae.toml\"",
    );
    let o = run(dir.path(), &["validate", "environments/staging.toml"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("DG0002") && err.contains("environments/staging.toml:3:"),
        "{err}"
    );
}

/// An error in a value that base.toml sets is reported in base.toml, even when compiling
/// production.toml.
#[test]
fn errors_name_the_layer_that_set_the_value() {
    let dir = scratch_with_environments();
    let base = dir.path().join("environments/base.toml");
    edit(&base, "scrape_job = \"deaap-services\"", "scrape_job = 42");
    let o = run(dir.path(), &["validate", "environments/production.toml"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    let line = std::fs::read_to_string(&base)
        .expect("read")
        .lines()
        .position(|l| l.starts_with("scrape_job"))
        .expect("line")
        + 1;
    assert!(
        err.contains(&format!("environments/base.toml:{line}:")),
        "{err}"
    );
}

#[test]
fn checked_in_schema_is_current() {
    let o = run(&crate::support::root(), &["schema"]);
    assert_eq!(o.status.code(), Some(0));
    let checked_in = std::fs::read_to_string(
        crate::support::root().join("schema/deaap-environment.schema.json"),
    )
    .expect("schema file");
    assert!(
        stdout(&o) == checked_in,
        "schema/deaap-environment.schema.json is stale: run `cargo run -- schema > schema/deaap-environment.schema.json`"
    );
    let v: serde_json::Value = serde_json::from_str(&checked_in).expect("JSON");
    assert_eq!(v["$schema"], "http://json-schema.org/draft-07/schema#");
    assert!(
        v["properties"]["$schema"].is_object(),
        "editors' `$schema` key is allowed"
    );
}

#[test]
fn every_environment_file_names_the_schema() {
    for e in std::fs::read_dir(crate::support::root().join("environments")).expect("dir") {
        let p = e.expect("entry").path();
        let text = std::fs::read_to_string(&p).expect("read");
        assert!(
            text.starts_with("#:schema ../schema/deaap-environment.schema.json\n"),
            "{}",
            p.display()
        );
    }
}

/// Truncated and byte-garbled versions of every shipped file: always a clean exit 0 or 2, never a
/// panic or a signal.
#[test]
fn no_panic_on_damaged_input() {
    let names = [
        "base.toml",
        "development.toml",
        "staging.toml",
        "production.toml",
    ];
    let dir = scratch_with_environments();
    let envs = dir.path().join("environments");
    let originals: Vec<Vec<u8>> = names
        .iter()
        .map(|n| std::fs::read(envs.join(n)).expect("read"))
        .collect();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut runs = 0;
    for (i, name) in names.iter().enumerate() {
        let orig = &originals[i];
        let mut variants: Vec<Vec<u8>> = Vec::new();
        for k in 1..=8 {
            variants.push(orig[..orig.len() * k / 9].to_vec());
        }
        for _ in 0..12 {
            let mut v = orig.clone();
            for _ in 0..4 {
                let pos = usize::try_from(next() % v.len() as u64).unwrap_or(0);
                v[pos] = u8::try_from(next() % 256).unwrap_or(0);
            }
            variants.push(v);
        }
        for v in variants {
            std::fs::write(envs.join(name), &v).expect("write");
            let target = if *name == "base.toml" {
                "environments/production.toml"
            } else {
                &format!("environments/{name}")
            };
            let o = run(dir.path(), &["validate", target]);
            let code = o.status.code();
            assert!(
                matches!(code, Some(0 | 2)),
                "exit {code:?} on damaged {name}:\n{}",
                stderr(&o)
            );
            assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
            runs += 1;
        }
        std::fs::write(envs.join(name), orig).expect("restore");
    }
    assert_eq!(runs, 80);
}

#[test]
fn toml_syntax_error_has_a_caret_snippet() {
    let dir = scratch_with_environments();
    let prod = dir.path().join("environments/production.toml");
    edit(&prod, "validators = 7", "validators = = 7");
    let o = run(dir.path(), &["validate", "environments/production.toml"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    let line = std::fs::read_to_string(&prod)
        .expect("read")
        .lines()
        .position(|l| l.starts_with("validators"))
        .expect("line")
        + 1;
    assert!(err.contains("error[DG0001]: TOML syntax error"), "{err}");
    assert!(
        err.contains(&format!("--> environments/production.toml:{line}:14")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{line} | validators = = 7")) && err.contains('^'),
        "{err}"
    );
}

#[test]
fn help_shows_examples_and_usage_errors_exit_2() {
    let root = crate::support::root();
    let o = run(&root, &["--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("deaap-gen build environments/production.toml"));
    let o = run(&root, &["build", "--no-such-flag"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&root, &["validate", "does/not/exist.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("does not exist"));
}

#[test]
fn explain_prints_what_and_why() {
    let o = run(&crate::support::root(), &["explain", "dg0201"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(
        out.starts_with("DG0201 literal-secret") && out.contains("What:") && out.contains("Why:"),
        "{out}"
    );
    assert_eq!(
        run(&crate::support::root(), &["explain", "DG9999"])
            .status
            .code(),
        Some(2)
    );
}
