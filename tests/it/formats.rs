//! How results reach people and CI (README "Command line"): the output formats (JSON lines, GitHub
//! workflow commands, a GitLab Code Quality report, a SARIF log valid against the SARIF 2.1.0
//! schema), machine output on stdout and the rest on stderr, a diagnostic of `base.toml` reported
//! once for every environment, every error of a run at once, and the conveniences: `-C`,
//! `--quiet`, `--color`, `--deny-warnings`, `completion`, `man`, and `render` given a folder.

use crate::support::{
    edit, json_lines, json_of_kind, root, run, scratch_with_environments, stderr, stdout,
};
use regex_lite::Regex;
use serde_json::Value;
use std::path::Path;

const BASE: &str = "environments/base.toml";
const PROD: &str = "environments/production.toml";

/// A scratch copy of the shipped environments with, in `base.toml` (which every environment
/// extends), a port clash, a typo in a key and a warning (150% memory utilisation).
fn scratch_with_problems() -> tempfile::TempDir {
    let dir = scratch_with_environments();
    let base = dir.path().join(BASE);
    // mineru on doc-ingester's port: a clash on the Compose host (development).
    edit(&base, "port = 8753", "port = 8752");
    edit(
        &base,
        "[services.api-gateway]\n",
        "[services.api-gateway]\nreplcas = 2\n",
    );
    edit(&base, "memory_percent = 80", "memory_percent = 150");
    dir
}

/// A scratch copy whose only problem is a warning in `base.toml`.
fn scratch_with_a_warning() -> tempfile::TempDir {
    let dir = scratch_with_environments();
    edit(
        &dir.path().join(BASE),
        "memory_percent = 80",
        "memory_percent = 150",
    );
    dir
}

/// The line of the first `needle` after `anchor` in `file`.
fn line_of(dir: &Path, file: &str, anchor: &str, needle: &str) -> u64 {
    let text = std::fs::read_to_string(dir.join(file)).expect("read");
    let start = text.find(anchor).expect("anchor");
    let i = start + text[start..].find(needle).expect("needle");
    text[..i].matches('\n').count() as u64 + 1
}

fn order(d: &Value) -> (String, u64, u64) {
    (
        d["file"].as_str().unwrap_or_default().to_owned(),
        d["line"].as_u64().unwrap_or(0),
        d["column"].as_u64().unwrap_or(0),
    )
}

// ── All errors in one run ───────────────────────────────────────────────────────────────────────

/// A typo in an unrelated key no longer hides the semantic rules: the unknown key and the port
/// clash come in one run, in the order of file, line and column.
#[test]
fn a_typo_and_a_port_clash_in_one_file_are_reported_in_one_run() {
    let dir = scratch_with_environments();
    let prod = dir.path().join(PROD);
    edit(
        &prod,
        "[services.doc-ingester]\n",
        "[services.doc-ingester]\nreplcas = 2\nroute = \"/\"\n",
    );
    let o = run(dir.path(), &["validate", PROD, "--format", "json"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let diags = json_of_kind(&o, "diagnostic");
    let at = |code: &str, needle: &str| {
        let d = diags
            .iter()
            .find(|d| d["code"] == code)
            .unwrap_or_else(|| panic!("no {code} in {diags:#?}"));
        assert_eq!(d["file"], PROD);
        let line = line_of(dir.path(), PROD, "[services.doc-ingester]", needle);
        assert_eq!(d["line"], line, "{d}");
        d
    };
    assert_eq!(at("DG0051", "replcas")["help"], "did you mean `replicas`?");
    // The route clash comes in the same run as the typo.
    assert!(
        at("DG0103", "route = ")["message"]
            .as_str()
            .is_some_and(|m| m.contains("api-gateway"))
    );
    let mut sorted = diags.clone();
    sorted.sort_by_key(order);
    assert_eq!(diags, sorted, "sorted by file, line, column");
    // The same in the human rendering.
    let human = stderr(&run(dir.path(), &["validate", PROD]));
    assert!(
        human.contains("error[DG0051]") && human.contains("error[DG0103]"),
        "{human}"
    );
}

/// A schema error other than an unknown key leaves no model: the rules do not run on a guess.
#[test]
fn a_wrong_type_still_stops_the_rules() {
    let dir = scratch_with_environments();
    let prod = dir.path().join(PROD);
    edit(&prod, "replicas = 5\n", "replicas = \"five\"\n");
    edit(
        &prod,
        "[services.doc-ingester]\n",
        "[services.doc-ingester]\nroute = \"/\"\n",
    );
    let o = run(dir.path(), &["validate", PROD, "--format", "json"]);
    assert_eq!(o.status.code(), Some(2));
    let codes: Vec<Value> = json_of_kind(&o, "diagnostic")
        .iter()
        .map(|d| d["code"].clone())
        .collect();
    assert!(codes.contains(&"DG0053".into()), "{codes:?}");
    assert!(!codes.contains(&"DG0103".into()), "{codes:?}");
}

// ── JSON lines and the stdout/stderr split ─────────────────────────────────────────────────────

/// A diagnostic in `base.toml` is reported once, with every environment it applies to; one of a
/// single environment names it. Every diagnostic says where it ends.
#[test]
fn a_diagnostic_of_base_toml_is_reported_once_with_its_environments() {
    let dir = scratch_with_problems();
    let o = run(dir.path(), &["validate", "--format", "json"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let diags = json_of_kind(&o, "diagnostic");
    let typos: Vec<&Value> = diags.iter().filter(|d| d["code"] == "DG0051").collect();
    assert_eq!(typos.len(), 1, "{diags:#?}");
    assert_eq!(
        typos[0]["environments"],
        serde_json::json!(["development", "production", "staging"])
    );
    assert_eq!(typos[0]["environment"], Value::Null);
    let line = line_of(dir.path(), BASE, "[services.api-gateway]", "replcas");
    assert_eq!(
        (
            &typos[0]["line"],
            &typos[0]["column"],
            &typos[0]["end_line"],
            &typos[0]["end_column"]
        ),
        (&line.into(), &1.into(), &line.into(), &8.into()),
        "`replcas` spans columns 1 to 8 (exclusive)"
    );
    for d in &diags {
        for key in ["end_line", "end_column"] {
            assert!(d[key].is_u64(), "{key} missing in {d}");
        }
        assert!(d["end_line"].as_u64() >= d["line"].as_u64(), "{d}");
        for l in d["labels"].as_array().expect("labels") {
            assert!(l["end_line"].is_u64() && l["end_column"].is_u64(), "{l}");
        }
        let envs = d["environments"].as_array().expect("environments");
        assert!(!envs.is_empty(), "{d}");
        if envs.len() == 1 {
            assert_eq!(d["environment"], envs[0], "{d}");
        } else {
            assert_eq!(d["environment"], Value::Null, "{d}");
        }
    }
    // No two diagnostics are the same one.
    let mut keys: Vec<String> = diags
        .iter()
        .map(|d| format!("{}{}{}{}", d["code"], d["message"], d["file"], d["line"]))
        .collect();
    let all = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), all, "{diags:#?}");
    let mut sorted = diags.clone();
    sorted.sort_by_key(order);
    assert_eq!(diags, sorted, "sorted by file, line, column");
    // People see it once too, with the environments named.
    let human = stderr(&run(dir.path(), &["validate"]));
    assert_eq!(human.matches("error[DG0051]").count(), 1, "{human}");
    assert!(
        human.contains(
            "= note: reported once for the environments development, production, staging"
        ),
        "{human}"
    );
}

/// Machine output goes to stdout and nothing else does; progress and human text go to stderr.
#[test]
fn machine_output_is_on_stdout_and_progress_on_stderr() {
    let dir = scratch_with_a_warning();
    let o = run(dir.path(), &["build", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    assert!(!lines.is_empty());
    assert!(
        lines.iter().all(|v| v["kind"] == "diagnostic"),
        "{lines:#?}"
    );
    let err = stderr(&o);
    assert!(err.contains("production: wrote"), "{err}");
    assert!(!err.contains('{'), "no JSON on stderr: {err}");
    // Human: diagnostics on stderr, nothing on stdout.
    let o = run(dir.path(), &["validate"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    assert!(stderr(&o).contains("warning[DG0104]"), "{}", stderr(&o));
    // Drift under `build --check --format json` is JSON on stdout too.
    let (from, to) = crate::diff::REDIS_REPLICAS;
    edit(&dir.path().join(PROD), from, to);
    let o = run(dir.path(), &["build", "--check", "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let drift = json_of_kind(&o, "drift");
    assert!(!drift.is_empty(), "{}", stdout(&o));
    for d in &drift {
        assert_eq!(d["environment"], "production", "{d}");
        assert!(
            ["modified", "added", "removed"].contains(&d["change"].as_str().unwrap_or("")),
            "{d}"
        );
        assert!(
            d["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("production/")),
            "{d}"
        );
    }
    let summary = json_of_kind(&o, "drift_summary");
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0]["drift"], true);
    assert_eq!(summary[0]["against"], "generated");
    assert!(stderr(&o).contains("generated output is stale"));
    assert!(!stderr(&o).contains('{'), "{}", stderr(&o));
}

// ── GitHub, GitLab, SARIF ───────────────────────────────────────────────────────────────────────

#[test]
fn github_annotations_are_well_formed_workflow_commands() {
    let dir = scratch_with_problems();
    let o = run(dir.path(), &["validate", "--format", "github"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let command = github_command();
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() >= 3, "{out}");
    for l in &lines {
        assert!(command.is_match(l), "not a workflow command: {l:?}");
        let (_, message) = l.split_at(l.find("::").expect("::") + 2);
        let message = &message[message.find("::").expect("second ::") + 2..];
        // `%` only as an escape: %25, %0D, %0A.
        for (i, _) in message.match_indices('%') {
            assert!(
                ["%25", "%0D", "%0A"]
                    .iter()
                    .any(|e| message[i..].starts_with(e)),
                "unescaped % in {l:?}"
            );
        }
    }
    let typo = lines
        .iter()
        .find(|l| l.contains("title=DG0051"))
        .expect("the typo");
    assert!(typo.starts_with("::error file=environments/base.toml,line="));
    assert!(
        typo.ends_with(
            "%0Ahelp: did you mean `replicas`?%0Aenvironments: development, production, staging"
        ),
        "{typo}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("::warning ") && l.contains("title=DG0104"))
    );
    assert!(
        !stderr(&o).contains("::"),
        "annotations only on stdout: {}",
        stderr(&o)
    );
}

#[test]
fn gitlab_code_quality_report_has_the_fields_gitlab_reads() {
    let dir = scratch_with_problems();
    let o = run(dir.path(), &["validate", "--format", "gitlab"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let report: Value = serde_json::from_str(&stdout(&o)).expect("one JSON document");
    let issues = report.as_array().expect("an array of issues");
    assert!(issues.len() >= 3, "{report:#}");
    let hex = Regex::new("^[0-9a-f]{32}$").expect("regex");
    let mut fingerprints = Vec::new();
    for i in issues {
        assert!(
            i["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{i}"
        );
        assert!(
            i["check_name"]
                .as_str()
                .is_some_and(|c| c.starts_with("DG") && c.len() == 6),
            "{i}"
        );
        let fp = i["fingerprint"].as_str().expect("fingerprint");
        assert!(hex.is_match(fp), "{fp}");
        fingerprints.push(fp.to_owned());
        assert!(
            ["major", "minor"].contains(&i["severity"].as_str().unwrap_or("")),
            "{i}"
        );
        assert!(
            i["location"]["path"]
                .as_str()
                .is_some_and(|p| !p.starts_with('/')),
            "{i}"
        );
        assert!(i["location"]["lines"]["begin"].as_u64() >= Some(1), "{i}");
    }
    let n = fingerprints.len();
    fingerprints.sort();
    fingerprints.dedup();
    assert_eq!(fingerprints.len(), n, "fingerprints are unique");
    let warning = issues
        .iter()
        .find(|i| i["check_name"] == "DG0104")
        .expect("the warning");
    assert_eq!(warning["severity"], "minor");
    let typo = issues
        .iter()
        .find(|i| i["check_name"] == "DG0051")
        .expect("the typo");
    assert_eq!(typo["severity"], "major");
    assert_eq!(typo["location"]["path"], BASE);
    // Stable: the same report from the same input.
    let again = run(dir.path(), &["validate", "--format", "gitlab"]);
    assert_eq!(stdout(&again), stdout(&o));
    // A clean run is an empty report, and a failure before compiling is one too.
    let clean = scratch_with_environments();
    let o = run(clean.path(), &["validate", "--format", "gitlab"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&o)).ok(),
        Some(serde_json::json!([]))
    );
    let o = run(
        clean.path(),
        &["validate", "nope.toml", "--format", "gitlab"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&o)).ok(),
        Some(serde_json::json!([]))
    );
}

/// The vendored SARIF 2.1.0 schema (tests/schemas/README.md).
fn sarif_validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("tests/schemas/sarif-schema-2.1.0.json"))
        .expect("the SARIF schema");
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::draft4::new(&schema).expect("the SARIF schema compiles")
}

/// One GitHub Actions workflow command for a diagnostic, as `--format github` prints it.
pub(crate) fn github_command() -> Regex {
    Regex::new(
        r"^::(error|warning) file=[^,:\r\n]+,line=[1-9]\d*,col=[1-9]\d*,endLine=[1-9]\d*,endColumn=[1-9]\d*,title=DG\d{4}::[^\r\n]+$",
    )
    .expect("regex")
}

pub(crate) fn assert_valid_sarif(log: &Value) {
    let errors: Vec<String> = sarif_validator()
        .iter_errors(log)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "invalid SARIF:\n{}\n{log:#}",
        errors.join("\n")
    );
}

#[test]
fn sarif_log_is_valid_and_describes_every_rule_it_reports() {
    let dir = scratch_with_problems();
    let o = run(dir.path(), &["validate", "--format", "sarif"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let log: Value = serde_json::from_str(&stdout(&o)).expect("one JSON document");
    assert_valid_sarif(&log);
    // The schema does hold output to it: a result with a level SARIF does not know is refused.
    let mut wrong = log.clone();
    wrong["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!sarif_validator().is_valid(&wrong));
    assert_eq!(log["version"], "2.1.0");
    let runs = log["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1, "one run for every environment");
    let driver = &runs[0]["tool"]["driver"];
    assert_eq!(driver["name"], "deaap-gen");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        driver["informationUri"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://"))
    );
    let rules = driver["rules"].as_array().expect("rules");
    let results = runs[0]["results"].as_array().expect("results");
    assert!(results.len() >= 3);
    for r in results {
        let id = r["ruleId"].as_str().expect("ruleId");
        let index = r["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[index]["id"], id);
        assert!(["error", "warning"].contains(&r["level"].as_str().unwrap_or("")));
        let loc = &r["locations"][0]["physicalLocation"];
        let uri = loc["artifactLocation"]["uri"].as_str().expect("uri");
        assert!(uri.starts_with("environments/"), "relative: {uri}");
        for k in ["startLine", "startColumn", "endLine", "endColumn"] {
            assert!(loc["region"][k].as_u64() >= Some(1), "{k} in {r}");
        }
    }
    for rule in rules {
        let code = rule["id"].as_str().expect("id");
        assert!(
            results.iter().any(|r| r["ruleId"] == code),
            "rule {code} unused"
        );
        assert!(
            rule["shortDescription"]["text"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        );
        assert!(
            rule["help"]["text"]
                .as_str()
                .is_some_and(|t| t.contains("Why: ")),
            "{rule}"
        );
    }
    // The port clash points at the other service's port as a related location.
    let clash = results
        .iter()
        .find(|r| r["ruleId"] == "DG0102")
        .expect("the port clash");
    let related = &clash["relatedLocations"][0];
    assert_eq!(related["physicalLocation"]["artifactLocation"]["uri"], BASE);
    assert!(
        related["message"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("uses it here"))
    );
    let typo = results
        .iter()
        .find(|r| r["ruleId"] == "DG0051")
        .expect("the typo");
    assert_eq!(
        typo["properties"]["environments"],
        serde_json::json!(["development", "production", "staging"])
    );
}

/// One document per run, whatever the command and whether or not it found anything.
#[test]
fn sarif_is_one_valid_document_for_every_run() {
    let dir = scratch_with_environments();
    for args in [
        &["validate", "--format", "sarif"][..],
        &["check", "--format", "sarif"],
        &["build", "--check", "--format", "sarif"],
        &["validate", "nope.toml", "--format", "sarif"],
    ] {
        let o = run(dir.path(), args);
        let log: Value = serde_json::from_str(&stdout(&o))
            .unwrap_or_else(|e| panic!("{args:?}: not one JSON document ({e}): {}", stdout(&o)));
        assert_valid_sarif(&log);
        assert_eq!(log["runs"][0]["results"], serde_json::json!([]), "{args:?}");
    }
}

// ── Conveniences ────────────────────────────────────────────────────────────────────────────────

#[test]
fn deny_warnings_fails_a_run_with_a_warning_and_writes_nothing() {
    let dir = scratch_with_a_warning();
    let o = run(dir.path(), &["validate", "environments/staging.toml"]);
    assert_eq!(o.status.code(), Some(0), "a warning alone passes");
    let o = run(
        dir.path(),
        &["validate", "environments/staging.toml", "--deny-warnings"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--deny-warnings"), "{}", stderr(&o));
    let o = run(dir.path(), &["--deny-warnings", "build"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!dir.path().join("generated").exists(), "nothing written");
    // Without a warning it changes nothing.
    let clean = scratch_with_environments();
    let o = run(clean.path(), &["validate", "--deny-warnings"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn dash_c_runs_as_if_started_in_the_folder() {
    let dir = scratch_with_environments();
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let path = dir.path().to_str().expect("UTF-8 path");
    let o = run(elsewhere.path(), &["-C", path, "build", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        dir.path()
            .join("generated/production/deaap-manifest.json")
            .is_file()
    );
    assert!(!elsewhere.path().join("generated").exists());
    let o = run(elsewhere.path(), &["diff", "--stat", "-C", path]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(elsewhere.path(), &["-C", "no/such/folder", "validate"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no/such/folder"), "{}", stderr(&o));
}

#[test]
fn quiet_prints_no_progress() {
    let dir = scratch_with_environments();
    let o = run(dir.path(), &["build"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("production: wrote"), "{}", stderr(&o));
    let (from, to) = crate::diff::REDIS_REPLICAS;
    edit(&dir.path().join(PROD), from, to);
    let o = run(dir.path(), &["build", "--quiet"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stderr(&o), "", "nothing but errors");
    let o = run(dir.path(), &["-q", "build", "--check"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stderr(&o), "");
    // Diagnostics still show.
    edit(
        &dir.path().join(BASE),
        "memory_percent = 80",
        "memory_percent = 150",
    );
    let o = run(dir.path(), &["validate", "-q"]);
    assert!(stderr(&o).contains("warning[DG0104]"), "{}", stderr(&o));
}

#[test]
fn color_always_and_never_override_the_terminal_and_no_color() {
    let dir = scratch_with_a_warning();
    // The support runner sets NO_COLOR and pipes stderr: auto means no colour.
    let auto = run(dir.path(), &["validate"]);
    assert!(!stderr(&auto).contains('\x1b'));
    let always = run(dir.path(), &["validate", "--color", "always"]);
    assert!(stderr(&always).contains('\x1b'), "{}", stderr(&always));
    let never = run(dir.path(), &["--color=never", "validate"]);
    assert!(!stderr(&never).contains('\x1b'));
}

#[test]
fn completion_scripts_and_the_man_page() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let o = run(&root(), &["completion", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}: {}", stderr(&o));
        let script = stdout(&o);
        assert!(script.contains("deaap-gen"), "{shell}: {script}");
        assert!(script.contains("validate"), "{shell}: subcommands complete");
    }
    let o = run(&root(), &["completion", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&root(), &["man"]);
    assert_eq!(o.status.code(), Some(0));
    let page = stdout(&o);
    assert!(page.starts_with(".TH"), "{page}");
    assert!(page.contains("deaap\\-gen"), "{page}");
}

#[test]
fn explain_without_a_code_lists_every_code() {
    let o = run(&root(), &["explain"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert_eq!(out.lines().count(), deaap_gen::codes::all().len());
    assert!(out.lines().all(|l| l.starts_with("DG")), "{out}");
}

#[test]
fn render_of_a_folder_names_the_environments_in_it() {
    let dir = scratch_with_environments();
    for command in ["render", "graph"] {
        let o = run(dir.path(), &[command, "environments"]);
        assert_eq!(o.status.code(), Some(2), "{command}");
        assert!(stdout(&o).is_empty(), "{command}: {}", stdout(&o));
        let err = stderr(&o);
        assert!(
            err.contains(&format!("`{command}` takes one environment file")),
            "{err}"
        );
        for env in ["development.toml", "production.toml", "staging.toml"] {
            assert!(err.contains(env), "{env} not named: {err}");
        }
        assert!(
            !err.contains("base.toml"),
            "a partial is no environment: {err}"
        );
    }
}
