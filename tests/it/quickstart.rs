//! README's "Your own platform repository", walked in a temporary folder: `init`, `new-env qa`
//! with two changes, `build`, `check`, then `diff` finds nothing to change and a second `init`
//! refuses to overwrite anything.

use crate::support::{run, stderr, stdout};

#[test]
fn a_platform_repository_from_init_to_a_clean_diff() {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = dir.path().join("platform");
    let repo_arg = repo.to_str().expect("UTF-8 path");

    let o = run(dir.path(), &["init", repo_arg]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for f in [
        "environments/base.toml",
        "environments/staging.toml",
        "schema/deaap-environment.schema.json",
        ".pre-commit-config.yaml",
        "deploy/argocd/application-staging.yaml",
        "README.md",
    ] {
        assert!(repo.join(f).is_file(), "init wrote no {f}");
    }
    let hooks = std::fs::read_to_string(repo.join(".pre-commit-config.yaml")).expect("hooks");
    assert!(hooks.contains("id: deaap-gen-build") && hooks.contains("id: deaap-gen-diff"));

    let o = run(
        &repo,
        &["new-env", "qa", "--extends", "environments/staging.toml"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let qa = repo.join("environments/qa.toml");
    // Two changes of qa's own: its domain, and one replica of doc-ingester.
    let mut text = std::fs::read_to_string(&qa).expect("qa.toml");
    text.push_str("domain = \"qa.deaap.company.com\"\n\n[services.doc-ingester]\nreplicas = 3\n");
    std::fs::write(&qa, text).expect("write qa.toml");

    let o = run(&repo, &["build", "environments/"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let deployment =
        std::fs::read_to_string(repo.join("generated/qa/kubernetes/doc-ingester.yaml"))
            .expect("qa's doc-ingester");
    assert!(deployment.contains("instance: qa"), "{deployment}");
    let gateway =
        std::fs::read_to_string(repo.join("generated/qa/istio/gateway.yaml")).expect("gateway");
    assert!(gateway.contains("qa.deaap.company.com"), "{gateway}");
    assert!(repo.join("generated/qa/helm/values-qa.yaml").is_file());

    let o = run(&repo, &["check", "environments/"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let summary = stdout(&o);
    assert!(
        summary.contains("qa: ") && summary.contains("staging: "),
        "{summary}"
    );

    let o = run(&repo, &["diff"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));

    // CI output: a warning of qa's (an autoscaling target above 100% of requests) as SARIF and
    // as GitHub workflow commands.
    std::fs::write(
        &qa,
        std::fs::read_to_string(&qa).expect("qa.toml")
            + "autoscaling = { min_replicas = 2, max_replicas = 10, cpu_percent = 70, memory_percent = 150 }\n",
    )
    .expect("write qa.toml");
    let o = run(&repo, &["validate", "--format", "sarif"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let log: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("one SARIF document");
    crate::formats::assert_valid_sarif(&log);
    let results = log["runs"][0]["results"].as_array().expect("results");
    assert!(results.iter().any(|r| r["ruleId"] == "DG0104"), "{log:#}");
    let o = run(&repo, &["validate", "--format", "github"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let github = stdout(&o);
    assert!(github.lines().count() >= 1, "{github}");
    for line in github.lines() {
        assert!(crate::formats::github_command().is_match(line), "{line:?}");
    }

    let o = run(dir.path(), &["init", repo_arg]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nothing was written"), "{}", stderr(&o));
    let o = run(
        &repo,
        &["new-env", "qa", "--extends", "environments/staging.toml"],
    );
    assert_eq!(o.status.code(), Some(2));
}
