//! The semantic rules (DG0101–DG0127) as a user meets them: each mistake in a scratch copy of the
//! shipped environments (or of the minimal fixture) gives the rule's code, at the key that caused
//! it, with a message that names the problem; warnings keep the exit code at 0. A few renderings
//! are pinned as snapshots, and the shipped environments stay free of errors and warnings.

use crate::support::{edit, json_of_kind, root, run, scratch_with_environments, stderr, stdout};
use serde_json::Value;
use std::path::Path;

/// `validate TARGET --format json` in `dir`: the exit code and every diagnostic.
fn validate(dir: &Path, target: &str) -> (i32, Vec<Value>) {
    let o = run(dir, &["validate", target, "--format", "json"]);
    (
        o.status.code().unwrap_or(-1),
        json_of_kind(&o, "diagnostic"),
    )
}

/// The human rendering (what a user sees), for snapshots.
fn human(dir: &Path, target: &str) -> String {
    stderr(&run(dir, &["validate", target]))
}

/// `file:line:col` of the first `needle` at or after the first `anchor` in `file` (relative to `dir`).
fn at(dir: &Path, file: &str, anchor: &str, needle: &str) -> String {
    let text = std::fs::read_to_string(dir.join(file)).expect("read");
    let start = text
        .find(anchor)
        .unwrap_or_else(|| panic!("{file} has no {anchor:?}"));
    let i = start
        + text[start..]
            .find(needle)
            .unwrap_or_else(|| panic!("{file} has no {needle:?} after {anchor:?}"));
    let line = text[..i].matches('\n').count() + 1;
    let col = text[..i].rsplit('\n').next().unwrap_or("").chars().count() + 1;
    format!("{file}:{line}:{col}")
}

fn location(d: &Value) -> String {
    format!(
        "{}:{}:{}",
        d["file"].as_str().unwrap_or("?"),
        d["line"],
        d["column"]
    )
}

/// Asserts a diagnostic with `code` and `severity` at `loc` whose message has every word.
fn expect<'a>(
    diags: &'a [Value],
    code: &str,
    severity: &str,
    loc: &str,
    words: &[&str],
) -> &'a Value {
    let found = diags
        .iter()
        .find(|d| d["code"] == code && location(d) == loc)
        .unwrap_or_else(|| panic!("no {code} at {loc}; got:\n{diags:#?}"));
    assert_eq!(found["severity"], severity, "{found:#}");
    let message = found["message"].as_str().unwrap_or("");
    for w in words {
        assert!(message.contains(w), "{w:?} not in {message:?}");
    }
    found
}

fn help(d: &Value) -> &str {
    d["help"].as_str().unwrap_or("")
}

fn codes(diags: &[Value]) -> Vec<&str> {
    diags.iter().filter_map(|d| d["code"].as_str()).collect()
}

fn append(path: &Path, text: &str) {
    let mut s = std::fs::read_to_string(path).expect("read");
    s.push_str(text);
    std::fs::write(path, s).expect("write");
}

/// A scratch folder with the minimal fixture as `env.toml`.
fn scratch_minimal() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(
        root().join("tests/fixtures/minimal.toml"),
        dir.path().join("env.toml"),
    )
    .expect("copy");
    dir
}

const PROD: &str = "environments/production.toml";
const STAGING: &str = "environments/staging.toml";
const DEV: &str = "environments/development.toml";
const BASE: &str = "environments/base.toml";

// ── The shipped environments ─────────────────────────────────────────────────────────────────

#[test]
fn shipped_environments_have_no_errors_and_no_warnings() {
    let dir = scratch_with_environments();
    let o = run(dir.path(), &["validate", "environments/"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        "",
        "the shipped environments must validate silently"
    );
    let dir = scratch_minimal();
    let o = run(dir.path(), &["validate", "env.toml"]);
    assert_eq!((o.status.code(), stderr(&o).as_str()), (Some(0), ""));
}

#[test]
fn every_rule_is_explained() {
    // DG0109 was split into DG0120–DG0125; it only explains (see `dg0109_explains_its_split`).
    let expected: Vec<String> = (101..=127)
        .filter(|n| *n != 109)
        .map(|n| format!("DG0{n}"))
        .collect();
    let rules = deaap_gen::validate::rules::all();
    let listed: Vec<&str> = rules.iter().map(|r| r.code).collect();
    for code in &expected {
        assert!(listed.contains(&code.as_str()), "{code} is not registered");
    }
    let mut names: Vec<&str> = rules.iter().map(|r| r.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), rules.len(), "rule names are unique");
    for r in &rules {
        assert!(
            r.name.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
            "{} is not kebab-case",
            r.name
        );
        let o = run(&root(), &["explain", &r.code.to_ascii_lowercase()]);
        assert_eq!(o.status.code(), Some(0));
        let text = stdout(&o);
        assert!(
            text.starts_with(&format!("{} {}\n", r.code, r.name)),
            "{text}"
        );
        assert!(text.contains("What: ") && text.contains("Why: "), "{text}");
    }
}

#[test]
fn every_code_emitted_is_in_the_catalogue_and_readme() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let pattern = regex_lite::Regex::new(r#""(DG[0-9]{4})""#).expect("valid pattern");
    let mut emitted = std::collections::BTreeSet::new();
    for e in walkdir::WalkDir::new(root().join("src")) {
        let e = e.expect("walk");
        if e.path().extension().is_some_and(|x| x == "rs") {
            let text = std::fs::read_to_string(e.path()).expect("read");
            for c in pattern.captures_iter(&text) {
                emitted.insert(c[1].to_owned());
            }
        }
    }
    assert!(emitted.len() > 30, "{emitted:?}");
    let listing = stdout(&run(&root(), &["explain"]));
    for code in &emitted {
        let entry = deaap_gen::codes::find(code);
        assert!(
            entry.is_some(),
            "{code} is emitted but not in the catalogue"
        );
        assert!(readme.contains(code.as_str()), "{code} is not in README.md");
        assert!(
            listing.lines().any(|l| l.starts_with(code.as_str())),
            "`deaap-gen explain` does not list {code}"
        );
        let o = run(&root(), &["explain", code]);
        assert_eq!(o.status.code(), Some(0), "explain {code}");
        assert!(stdout(&o).contains("What: "), "explain {code}");
    }
    assert_eq!(listing.lines().count(), deaap_gen::codes::all().len());
}

#[test]
fn readme_lists_every_rule() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    for r in deaap_gen::validate::rules::all() {
        assert!(
            readme.contains(&format!("| {} | {} |", r.code, r.name)),
            "README.md's rules table has no row for {} {}",
            r.code,
            r.name
        );
    }
}

// ── DG0101 unique-names ──────────────────────────────────────────────────────────────────────

#[test]
fn dg0101_invalid_and_shared_names() {
    let dir = scratch_minimal();
    let env = dir.path().join("env.toml");
    edit(&env, "[services.web]", "[services.Web_1]");
    edit(&env, "core = \"mini-core\"", "core = \"mini_core\"");
    append(
        &env,
        "\n[services.cache]\nimage = { repository = \"acme/c\", tag = \"1.0.0\" }\nport = 9000\nnamespace = \"core\"\n",
    );
    let long = "a".repeat(56);
    append(
        &env,
        &format!(
            "\n[services.{long}]\nimage = {{ repository = \"acme/l\", tag = \"1.0.0\" }}\nport = 9001\nnamespace = \"core\"\n"
        ),
    );
    let (code, diags) = validate(dir.path(), "env.toml");
    assert_eq!(code, 2);
    let d = expect(
        &diags,
        "DG0101",
        "error",
        &at(dir.path(), "env.toml", "[services.Web_1]", "Web_1"),
        &["service name `Web_1`", "DNS-1035"],
    );
    assert!(help(d).contains("lower-case"), "{d:#}");
    expect(
        &diags,
        "DG0101",
        "error",
        &at(dir.path(), "env.toml", "core = ", "\"mini_core\""),
        &["namespace name `mini_core`"],
    );
    let d = expect(
        &diags,
        "DG0101",
        "error",
        &at(dir.path(), "env.toml", "[services.cache]", "cache"),
        &["`cache` is both a service and a storage backend"],
    );
    assert_eq!(
        d["labels"].as_array().map(Vec::len),
        Some(2),
        "points at both: {d:#}"
    );
    let d = expect(
        &diags,
        "DG0101",
        "error",
        &at(dir.path(), "env.toml", &format!("[services.{long}]"), &long),
        &["56 characters long", "at most 55"],
    );
    assert!(help(d).contains(&format!("`{long}-service`")), "{d:#}");
}

// ── DG0102 unique-ports ──────────────────────────────────────────────────────────────────────

#[test]
fn dg0102_two_services_on_one_port() {
    let dir = scratch_with_environments();
    edit(&dir.path().join(BASE), "port = 8753", "port = 8752");
    // On Compose both are published on the one host.
    let (code, diags) = validate(dir.path(), DEV);
    assert_eq!(code, 2);
    expect(
        &diags,
        "DG0102",
        "error",
        &at(dir.path(), BASE, "[services.mineru]", "8752"),
        &[
            "service `mineru` uses port 8752 on the host",
            "already used by service `doc-ingester`",
        ],
    );
    // On Kubernetes each has its own pods and Service: no finding, and the system proof holds.
    let (code, diags) = validate(dir.path(), PROD);
    assert_eq!(code, 0, "{diags:#?}");
    let o = run(dir.path(), &["check", PROD]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn dg0102_compose_publishes_storage_ports_too() {
    let dir = scratch_with_environments();
    edit(
        &dir.path().join(DEV),
        "[services.mineru]\n",
        "[services.mineru]\nport = 6379\n",
    );
    let (code, diags) = validate(dir.path(), DEV);
    assert_eq!(code, 2);
    expect(
        &diags,
        "DG0102",
        "error",
        &at(dir.path(), BASE, "[storage.redis]", "6379"),
        &[
            "storage backend `redis` uses port 6379 on the host",
            "service `mineru`",
        ],
    );
}

// ── DG0103 unique-routes ─────────────────────────────────────────────────────────────────────

#[test]
fn dg0103_duplicate_and_malformed_routes() {
    let dir = scratch_with_environments();
    let base = dir.path().join(BASE);
    edit(
        &base,
        "route = \"/api/v1/data\"",
        "route = \"/api/v1/documents/\"",
    );
    edit(&base, "route = \"/api/v1/auth\"", "route = \"api/v1/auth\"");
    let (code, diags) = validate(dir.path(), STAGING);
    assert_eq!(code, 2);
    // Services are checked in name order, so the second of the two is reported.
    let d = expect(
        &diags,
        "DG0103",
        "error",
        &at(
            dir.path(),
            BASE,
            "[services.doc-ingester]",
            "\"/api/v1/documents\"",
        ),
        &[
            "service `doc-ingester` routes `/api/v1/documents`",
            "which service `data-processor` already routes",
        ],
    );
    let first = at(
        dir.path(),
        BASE,
        "[services.data-processor]",
        "\"/api/v1/documents/\"",
    );
    assert_eq!(
        format!(
            "{BASE}:{}:{}",
            d["labels"][1]["line"], d["labels"][1]["column"]
        ),
        first
    );
    let d = expect(
        &diags,
        "DG0103",
        "error",
        &at(
            dir.path(),
            BASE,
            "[services.authorization]",
            "\"api/v1/auth\"",
        ),
        &["does not start with `/`"],
    );
    assert!(help(d).contains("`/api/v1/auth`"), "{d:#}");
}

#[test]
fn dg0103_a_disabled_service_may_share_a_route() {
    let dir = scratch_with_environments();
    edit(
        &dir.path().join(BASE),
        "mock = true\n",
        "mock = true\nroute = \"/api/v1/consensus\"\n",
    );
    for env in [PROD, STAGING, DEV] {
        let (code, diags) = validate(dir.path(), env);
        assert_eq!(code, 0, "{env}: {diags:#?}");
        assert!(!codes(&diags).contains(&"DG0103"), "{env}: {diags:#?}");
    }
}

// ── DG0104 autoscaling-range ─────────────────────────────────────────────────────────────────

#[test]
fn dg0104_replicas_outside_the_range_and_bad_targets() {
    let dir = scratch_with_environments();
    let prod = dir.path().join(PROD);
    edit(&prod, "replicas = 5\n", "replicas = 60\n");
    edit(
        &prod,
        "cpu_percent = 70 }",
        "cpu_percent = 0, pods_metric = { name = \"queue size\", target_average = \"ten\" } }",
    );
    let (code, diags) = validate(dir.path(), PROD);
    assert_eq!(code, 2);
    expect(
        &diags,
        "DG0104",
        "error",
        &at(dir.path(), PROD, "replicas = 60", "60"),
        &["starts with 60 replicas, outside its autoscaling range 5–50"],
    );
    expect(
        &diags,
        "DG0104",
        "error",
        &at(dir.path(), PROD, "cpu_percent = 0", "0"),
        &["targets 0% cpu utilisation"],
    );
    expect(
        &diags,
        "DG0104",
        "error",
        &at(dir.path(), PROD, "\"queue size\"", "\"queue size\""),
        &["`queue size` is not a valid metric name"],
    );
    expect(
        &diags,
        "DG0104",
        "error",
        &at(dir.path(), PROD, "\"ten\"", "\"ten\""),
        &["pods metric target of service `doc-ingester` is not a quantity"],
    );
}

#[test]
fn dg0104_minimum_above_maximum() {
    let dir = scratch_with_environments();
    let staging = dir.path().join(STAGING);
    edit(
        &staging,
        "{ min_replicas = 2, max_replicas = 10 }",
        "{ min_replicas = 12, max_replicas = 10 }",
    );
    let (code, diags) = validate(dir.path(), STAGING);
    assert_eq!(code, 2);
    expect(
        &diags,
        "DG0104",
        "error",
        &at(dir.path(), STAGING, "min_replicas = 12", "12"),
        &[
            "autoscales from 12 up to 10",
            "minimum is above the maximum",
        ],
    );
}

#[test]
fn dg0104_utilisation_above_100_is_a_warning() {
    let dir = scratch_with_environments();
    edit(
        &dir.path().join(BASE),
        "memory_percent = 80",
        "memory_percent = 150",
    );
    let (code, diags) = validate(dir.path(), STAGING);
    assert_eq!(code, 0, "{diags:#?}");
    expect(
        &diags,
        "DG0104",
        "warning",
        &at(dir.path(), BASE, "memory_percent = 150", "150"),
        &["targets 150% memory utilisation"],
    );
}

// ── DG0105 requests-within-limits ────────────────────────────────────────────────────────────

#[test]
fn dg0105_requests_above_limits_compared_as_quantities() {
    let dir = scratch_with_environments();
    let prod = dir.path().join(PROD);
    edit(
        &prod,
        "[services.api-gateway.resources]\nrequests = { cpu = \"500m\", memory = \"1Gi\" }\nlimits = { cpu = \"1300m\", memory = \"3Gi\" }",
        "[services.api-gateway.resources]\nrequests = { cpu = \"500m\", memory = \"1Gi\" }\nlimits = { cpu = \"0.4\", memory = \"1000Mi\" }",
    );
    // Equal amounts in different notations are fine.
    edit(
        &prod,
        "requests = { cpu = \"1\", memory = \"2Gi\" }",
        "requests = { cpu = \"4000m\", memory = \"8192Mi\" }",
    );
    let (code, diags) = validate(dir.path(), PROD);
    assert_eq!(code, 2);
    let cpu = expect(
        &diags,
        "DG0105",
        "error",
        &at(
            dir.path(),
            PROD,
            "[services.api-gateway.resources]",
            "\"500m\"",
        ),
        &["cpu request `500m` of service `api-gateway` is above its limit `0.4`"],
    );
    assert_eq!(cpu["labels"][1]["text"], "limit 400m");
    expect(
        &diags,
        "DG0105",
        "error",
        &at(
            dir.path(),
            PROD,
            "[services.api-gateway.resources]",
            "\"1Gi\"",
        ),
        &["memory request `1Gi`", "above its limit `1000Mi`"],
    );
    assert_eq!(
        codes(&diags).iter().filter(|c| **c == "DG0105").count(),
        2,
        "{diags:#?}"
    );
}

#[test]
fn dg0105_snapshot() {
    let dir = scratch_with_environments();
    edit(
        &dir.path().join(STAGING),
        "limits = { cpu = \"1\", memory = \"2Gi\" }",
        "limits = { cpu = \"1\", memory = \"900Mi\" }",
    );
    insta::assert_snapshot!("dg0105_request_above_limit", human(dir.path(), STAGING));
}

// ── DG0106 quantity-syntax ───────────────────────────────────────────────────────────────────

#[test]
fn dg0106_malformed_quantities_with_the_fix() {
    let dir = scratch_with_environments();
    let prod = dir.path().join(PROD);
    edit(
        &prod,
        "limits = { cpu = \"4\", memory = \"8Gi\" }",
        "limits = { cpu = \"4\", memory = \"8GB\" }",
    );
    edit(
        &prod,
        "requests = { cpu = \"1\", memory = \"2Gi\" }",
        "requests = { cpu = \"1\", memory = \"500m\" }",
    );
    edit(&prod, "size = \"1Ti\"", "size = \"1 Ti\"");
    edit(&prod, "size = \"200Gi\"", "size = \"0\"");
    let (code, diags) = validate(dir.path(), PROD);
    assert_eq!(code, 2);
    let d = expect(
        &diags,
        "DG0106",
        "error",
        &at(dir.path(), PROD, "memory = \"8GB\"", "\"8GB\""),
        &[
            "memory `8GB` is not a Kubernetes quantity",
            "`GB` is not a quantity suffix",
        ],
    );
    assert!(help(d).contains("`G`") && help(d).contains("`Gi`"), "{d:#}");
    let d = expect(
        &diags,
        "DG0106",
        "error",
        &at(dir.path(), PROD, "memory = \"500m\"", "\"500m\""),
        &["memory `500m` is a fraction of a byte"],
    );
    assert!(help(d).contains("`500Mi`"), "{d:#}");
    expect(
        &diags,
        "DG0106",
        "error",
        &at(dir.path(), PROD, "\"1 Ti\"", "\"1 Ti\""),
        &["may not contain spaces"],
    );
    expect(
        &diags,
        "DG0106",
        "error",
        &at(dir.path(), PROD, "size = \"0\"", "\"0\""),
        &["volume size `0` is zero"],
    );
}

#[test]
fn dg0106_snapshot() {
    let dir = scratch_with_environments();
    edit(
        &dir.path().join(BASE),
        "requests_memory = \"40Gi\"",
        "requests_memory = \"40gi\"",
    );
    insta::assert_snapshot!("dg0106_case_of_suffix", human(dir.path(), STAGING));
}

// ── DG0107 cron-syntax ───────────────────────────────────────────────────────────────────────

#[test]
fn dg0107_schedules_out_of_bounds() {
    let dir = scratch_with_environments();
    let base = dir.path().join(BASE);
    edit(
        &base,
        "schedule = \"0 2 * * *\"",
        "schedule = \"0 2 * * 7\"",
    );
    edit(
        &base,
        "schedule = \"45 2 * * *\"",
        "schedule = \"61 2 * * *\"",
    );
    let (code, diags) = validate(dir.path(), PROD);
    assert_eq!(code, 2);
    let d = expect(
        &diags,
        "DG0107",
        "error",
        &at(dir.path(), BASE, "\"0 2 * * 7\"", "\"0 2 * * 7\""),
        &[
            "schedule of the full backup",
            "day-of-week 7 is out of range 0–6",
        ],
    );
    assert!(help(d).contains("0 (or SUN)"), "{d:#}");
    expect(
        &diags,
        "DG0107",
        "error",
        &at(dir.path(), BASE, "\"61 2", "\"61 2"),
        &["database backup `redis`", "minute 61"],
    );
}

// ── DG0108 validator-count ───────────────────────────────────────────────────────────────────

#[test]
fn dg0108_production_needs_four_validators_in_production_mode() {
    let dir = scratch_with_environments();
    let prod = dir.path().join(PROD);
    edit(
        &prod,
        "validators = 7\nmode = \"production\"",
        "validators = 3\nmode = \"test\"",
    );
    let (code, diags) = validate(dir.path(), PROD);
    assert_eq!(code, 2);
    let d = expect(
        &diags,
        "DG0108",
        "error",
        &at(dir.path(), PROD, "validators = 3", "3"),
        &["production runs 3 consensus validators; it needs at least 4"],
    );
    assert!(help(d).contains("3f + 1"), "{d:#}");
    expect(
        &diags,
        "DG0108",
        "error",
        &at(dir.path(), PROD, "mode = \"test\"", "\"test\""),
        &["test mode in production"],
    );
}

#[test]
fn dg0108_warnings_for_wasted_validators_and_production_mode_in_staging() {
    let dir = scratch_with_environments();
    edit(&dir.path().join(PROD), "validators = 7", "validators = 6");
    let (code, diags) = validate(dir.path(), PROD);
    assert_eq!(code, 0, "{diags:#?}");
    expect(
        &diags,
        "DG0108",
        "warning",
        &at(dir.path(), PROD, "validators = 6", "6"),
        &["6 validators tolerate 1 fault, as 4 would"],
    );
    edit(
        &dir.path().join(STAGING),
        "mode = \"test\"",
        "mode = \"production\"",
    );
    let (code, diags) = validate(dir.path(), STAGING);
    assert_eq!(code, 0, "{diags:#?}");
    expect(
        &diags,
        "DG0108",
        "warning",
        &at(
            dir.path(),
            STAGING,
            "mode = \"production\"",
            "\"production\"",
        ),
        &["production mode in the staging tier"],
    );
}

// ── DG0120–DG0125: names that refer to other parts of the file (once DG0109) ─────────────

#[test]
fn dg0120_to_dg0123_dangling_names_get_a_suggestion() {
    let dir = scratch_with_environments();
    let base = dir.path().join(BASE);
    edit(
        &base,
        "depends_on = [\"redis\", \"consensus-manager\"]",
        "depends_on = [\"redsi\", \"consensus-manager\"]",
    );
    edit(&base, "source = \"postgres\"", "source = \"postgress\"");
    edit(&base, "[quotas.core]", "[quotas.cor]");
    edit(
        &base,
        "metric = \"deaap_consensus_validation_success_rate\"",
        "metric = \"deaap_consensus_validation_sucess_rate\"",
    );
    let (code, diags) = validate(dir.path(), STAGING);
    assert_eq!(code, 2);
    let d = expect(
        &diags,
        "DG0120",
        "error",
        &at(dir.path(), BASE, "\"redsi\"", "\"redsi\""),
        &["service `agent-orchestrator` depends on `redsi`, which is not declared"],
    );
    assert_eq!(help(d), "did you mean `redis`?");
    let d = expect(
        &diags,
        "DG0123",
        "error",
        &at(dir.path(), BASE, "\"postgress\"", "\"postgress\""),
        &["database backup `postgres` backs up `postgress`"],
    );
    assert_eq!(help(d), "did you mean `postgres`?");
    let d = expect(
        &diags,
        "DG0122",
        "error",
        &at(dir.path(), BASE, "[quotas.cor]", "cor"),
        &["quota `cor` names no namespace"],
    );
    assert_eq!(help(d), "did you mean `core`?");
    let d = expect(
        &diags,
        "DG0121",
        "error",
        &at(
            dir.path(),
            BASE,
            "metric = \"deaap_consensus_validation_sucess",
            "\"deaap",
        ),
        &[
            "alert `ConsensusValidationFailure` watches metric `deaap_consensus_validation_sucess_rate`, which is not declared",
        ],
    );
    assert_eq!(
        help(d),
        "did you mean `deaap_consensus_validation_success_rate`?"
    );
}

#[test]
fn dg0121_signal_must_fit_the_metric_and_names_must_be_unique() {
    let dir = scratch_with_environments();
    let base = dir.path().join(BASE);
    edit(
        &base,
        "signal = { kind = \"value\" }\nmetric = \"deaap_consensus_validation_success_rate\"",
        "signal = { kind = \"quantile\", quantile = 95 }\nmetric = \"deaap_consensus_validation_success_rate\"",
    );
    edit(
        &base,
        "alert_name = \"ApiGatewayLatencyAboveTarget\"",
        "alert_name = \"DocIngesterHighLatency\"",
    );
    let (code, diags) = validate(dir.path(), PROD);
    assert_eq!(code, 2);
    let d = expect(
        &diags,
        "DG0121",
        "error",
        &at(
            dir.path(),
            BASE,
            "[alerts.ConsensusValidationFailure]",
            "\"quantile\"",
        ),
        &["takes a `quantile` of `deaap_consensus_validation_success_rate`, which is a gauge"],
    );
    assert!(help(d).contains("kind = \"value\""), "{d:#}");
    expect(
        &diags,
        "DG0121",
        "error",
        &at(
            dir.path(),
            BASE,
            "[alerts.ConsensusValidationFailure]",
            "95",
        ),
        &["quantile 95, outside (0, 1)"],
    );
    let d = expect(
        &diags,
        "DG0121",
        "error",
        &at(
            dir.path(),
            BASE,
            "alert_name = \"DocIngesterHighLatency\"",
            "\"DocIngesterHighLatency\"",
        ),
        &["alert `DocIngesterHighLatency` is defined twice"],
    );
    assert_eq!(d["labels"][1]["text"], "first defined here");
}

#[test]
fn dg0120_dependency_disabled_in_this_environment() {
    let dir = scratch_with_environments();
    edit(
        &dir.path().join(DEV),
        "depends_on = [\"redis\", \"postgres\"]",
        "depends_on = [\"redis\", \"postgres\", \"authorization\"]",
    );
    let (code, diags) = validate(dir.path(), DEV);
    assert_eq!(code, 2);
    expect(
        &diags,
        "DG0120",
        "error",
        &at(dir.path(), DEV, "\"authorization\"", "\"authorization\""),
        &[
            "service `doc-ingester` depends on `authorization`, which is disabled in this environment",
        ],
    );
}

#[test]
fn dg0120_compose_dependency_cycle() {
    let dir = scratch_with_environments();
    let dev = dir.path().join(DEV);
    edit(
        &dev,
        "depends_on = [\"redis\", \"postgres\"]",
        "depends_on = [\"redis\", \"postgres\", \"mineru\"]",
    );
    edit(
        &dev,
        "[services.mineru]\n",
        "[services.mineru]\ndepends_on = [\"doc-ingester\"]\n",
    );
    let (code, diags) = validate(dir.path(), DEV);
    assert_eq!(code, 2);
    let cycles: Vec<&Value> = diags
        .iter()
        .filter(|d| d["message"].as_str().is_some_and(|m| m.contains("cycle")))
        .collect();
    assert_eq!(cycles.len(), 1, "one report per cycle: {diags:#?}");
    assert_eq!(cycles[0]["code"], "DG0120", "{:#}", cycles[0]);
    assert!(
        cycles[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("doc-ingester → mineru → doc-ingester")),
        "{:#}",
        cycles[0]
    );
}

/// A misspelling in base.toml (`line` edited into `typo`) fails production with `code` at the
/// misspelt `name` (quoted, first after `anchor`), a message with `words`, and the right name as a
/// suggestion.
struct Misspelling<'a> {
    code: &'a str,
    line: &'a str,
    typo: &'a str,
    anchor: &'a str,
    name: &'a str,
    words: &'a str,
    suggestion: &'a str,
}

fn misspelling_gets_a_suggestion(m: &Misspelling<'_>) {
    let dir = scratch_with_environments();
    edit(&dir.path().join(BASE), m.line, m.typo);
    let (code, diags) = validate(dir.path(), PROD);
    assert_eq!(code, 2);
    let quoted = format!("\"{}\"", m.name);
    let d = expect(
        &diags,
        m.code,
        "error",
        &at(dir.path(), BASE, m.anchor, &quoted),
        &[m.words],
    );
    assert_eq!(help(d), format!("did you mean `{}`?", m.suggestion));
}

#[test]
fn dg0124_consensus_writer_is_an_enabled_service() {
    misspelling_gets_a_suggestion(&Misspelling {
        code: "DG0124",
        line: "writer_service = \"consensus-manager\"",
        typo: "writer_service = \"consensus-manger\"",
        anchor: "writer_service",
        name: "consensus-manger",
        words: "consensus writer `consensus-manger` is not a service",
        suggestion: "consensus-manager",
    });
}

#[test]
fn dg0125_waivers_name_declared_workloads() {
    misspelling_gets_a_suggestion(&Misspelling {
        code: "DG0125",
        line: "workloads = [\"consensus-manager\", \"agent-orchestrator\"]",
        typo: "workloads = [\"consensus-manager\", \"agent-orchestrater\"]",
        anchor: "workloads = [",
        name: "agent-orchestrater",
        words: "waiver of `CKV_K8S_38` names workload `agent-orchestrater`, which is not declared",
        suggestion: "agent-orchestrator",
    });
}

/// DG0109 is retired, not forgotten: `explain` says it was split and names every successor, and
/// no diagnostic carries it any more.
#[test]
fn dg0109_explains_its_split() {
    let o = run(&root(), &["explain", "DG0109"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.starts_with("DG0109 references-resolve\n"), "{text}");
    assert!(text.contains("split into DG0120–DG0125"), "{text}");
    let successors: Vec<_> = deaap_gen::validate::rules::all()
        .into_iter()
        .filter(|r| ("DG0120"..="DG0125").contains(&r.code))
        .collect();
    assert_eq!(successors.len(), 6);
    for r in successors {
        assert!(
            text.contains(&format!("{} {}", r.code, r.name)),
            "{} missing: {text}",
            r.code
        );
    }
    assert!(
        deaap_gen::validate::rules::all()
            .iter()
            .all(|r| r.code != "DG0109")
    );
}

// ── DG0110 secret-reference-syntax ───────────────────────────────────────────────────────────

#[test]
fn dg0110_malformed_reference_is_not_echoed() {
    let dir = scratch_with_environments();
    edit(
        &dir.path().join(BASE),
        "secrets = { VALIDATOR_SIGNING_KEY = \"vault:secret/data/deaap/consensus#signing-key\" }",
        "secrets = { VALIDATOR_SIGNING_KEY = \"vault:hunter2-but-no-key\" }",
    );
    let (code, diags) = validate(dir.path(), PROD);
    assert_eq!(code, 2);
    expect(
        &diags,
        "DG0110",
        "error",
        &at(dir.path(), BASE, "VALIDATOR_SIGNING_KEY = ", "\"vault:"),
        &[
            "`services.consensus-manager.secrets.VALIDATOR_SIGNING_KEY` is a malformed `vault:` reference",
            "no `#<key>`",
        ],
    );
    assert!(
        !codes(&diags).contains(&"DG0201"),
        "not also a literal secret: {diags:#?}"
    );
    let all = human(dir.path(), PROD);
    assert!(!all.contains("hunter2"), "{all}");
    assert!(all.contains("DG0110"), "{all}");
}

#[test]
fn dg0110_compose_cannot_resolve_vault() {
    let dir = scratch_with_environments();
    edit(
        &dir.path().join(DEV),
        "secrets = { POSTGRES_PASSWORD = \"file:./secrets/postgres-password\" }\nvolumes",
        "secrets = { POSTGRES_PASSWORD = \"vault:secret/data/deaap/postgres#password\" }\nvolumes",
    );
    let (code, diags) = validate(dir.path(), DEV);
    assert_eq!(code, 2);
    let d = expect(
        &diags,
        "DG0110",
        "error",
        &at(dir.path(), DEV, "[services.doc-ingester]", "\"vault:"),
        &["Vault reference, which Compose cannot resolve"],
    );
    assert!(help(d).contains("file:"), "{d:#}");
}

#[test]
fn dg0110_vault_references_need_vault() {
    let dir = scratch_with_environments();
    append(
        &dir.path().join(STAGING),
        "\n[security.vault]\nenabled = false\n",
    );
    let (code, diags) = validate(dir.path(), STAGING);
    assert_eq!(code, 2);
    let d = expect(
        &diags,
        "DG0110",
        "error",
        &at(dir.path(), BASE, "[storage.postgres]", "\"vault:"),
        &[
            "`storage.postgres.secrets.POSTGRES_PASSWORD` is a Vault reference, but Vault is disabled",
        ],
    );
    assert_eq!(d["labels"][1]["file"], STAGING, "{d:#}");
}

// ── DG0111 pinned-images ─────────────────────────────────────────────────────────────────────

/// The seed's mistake: `backup-service:latest` in production. The tag set in production.toml is
/// reported there, with the value it overrides in base.toml.
#[test]
fn dg0111_seed_backup_latest_in_production() {
    let dir = scratch_with_environments();
    append(
        &dir.path().join(PROD),
        "\n[backup]\nimage = { repository = \"deaap/backup-service\", tag = \"latest\" }\n",
    );
    let (code, diags) = validate(dir.path(), PROD);
    assert_eq!(code, 2);
    let d = expect(
        &diags,
        "DG0111",
        "error",
        &at(dir.path(), PROD, "tag = \"latest\"", "\"latest\""),
        &["image `deaap/backup-service` of the backup job uses the moving tag `latest`"],
    );
    assert_eq!(d["labels"][1]["file"], BASE);
    assert_eq!(d["labels"][1]["text"], "overriding this earlier value");
    insta::assert_snapshot!("dg0111_backup_latest", human(dir.path(), PROD));
}

#[test]
fn dg0111_staging_warns_development_does_not_care() {
    let dir = scratch_with_environments();
    edit(
        &dir.path().join(BASE),
        "image = { repository = \"deaap/mineru\", tag = \"0.9.3\" }",
        "image = { repository = \"deaap/mineru\" }",
    );
    let (code, diags) = validate(dir.path(), STAGING);
    expect(
        &diags,
        "DG0111",
        "warning",
        &at(dir.path(), BASE, "[services.mineru]", "{ repository"),
        &["image `deaap/mineru` of service `mineru` has no tag or digest"],
    );
    // The rule only warns in staging, but the generated allowed-registries constraint denies an
    // untagged image at admission, and the admission proof says so on the same key.
    assert_eq!(code, 2, "{diags:#?}");
    expect(
        &diags,
        "DG0502",
        "error",
        &at(dir.path(), BASE, "[services.mineru]", "{ repository"),
        &["Deployment deaap-core/mineru", "without a tag or digest"],
    );
    let (code, diags) = validate(dir.path(), PROD);
    assert_eq!(code, 2);
    assert!(codes(&diags).contains(&"DG0111"));
    // Development pins mineru to `dev` on purpose.
    let (code, diags) = validate(dir.path(), DEV);
    assert_eq!((code, diags.len()), (0, 0), "{diags:#?}");
}

// ── DG0112 production-posture ────────────────────────────────────────────────────────────────

#[test]
fn dg0112_each_control_reported_at_its_key() {
    let dir = scratch_with_environments();
    append(
        &dir.path().join(PROD),
        "\n[security]\nnetwork_policies = false\nmtls = \"PERMISSIVE\"\npod_security = \"privileged\"\ngateway_tls = { enabled = false }\n\n[security.vault]\ntls = false\n",
    );
    let (code, diags) = validate(dir.path(), PROD);
    assert_eq!(code, 2);
    let p = dir.path();
    expect(
        &diags,
        "DG0112",
        "error",
        &at(p, PROD, "network_policies = false", "false"),
        &["without network policies"],
    );
    expect(
        &diags,
        "DG0112",
        "error",
        &at(p, PROD, "mtls = ", "\"PERMISSIVE\""),
        &["PERMISSIVE mode"],
    );
    expect(
        &diags,
        "DG0112",
        "error",
        &at(p, PROD, "pod_security = ", "\"privileged\""),
        &["admit privileged pods"],
    );
    expect(
        &diags,
        "DG0112",
        "error",
        &at(p, PROD, "gateway_tls = { enabled = false", "false"),
        &["without TLS"],
    );
    expect(
        &diags,
        "DG0112",
        "error",
        &at(p, PROD, "[security.vault]", "false"),
        &["Vault without TLS", "tls_disable"],
    );
    assert_eq!(
        codes(&diags).iter().filter(|c| **c == "DG0112").count(),
        5,
        "{diags:#?}"
    );
}

#[test]
fn dg0112_mock_service_in_production() {
    let dir = scratch_with_environments();
    append(
        &dir.path().join(PROD),
        "\n[services.mock-consensus]\nenabled = true\nport = 8761\n",
    );
    let (code, diags) = validate(dir.path(), PROD);
    assert_eq!(code, 2);
    let d = expect(
        &diags,
        "DG0112",
        "error",
        &at(dir.path(), BASE, "[services.mock-consensus]", "true"),
        &["mock service `mock-consensus` is enabled in production"],
    );
    assert!(help(d).contains("enabled = false"), "{d:#}");
}

#[test]
fn dg0112_strict_mtls_without_sidecars() {
    let dir = scratch_with_environments();
    append(
        &dir.path().join(PROD),
        "\n[security.mesh]\nsidecar_injection = false\n",
    );
    let (code, diags) = validate(dir.path(), PROD);
    assert_eq!(code, 2);
    let d = expect(
        &diags,
        "DG0112",
        "error",
        &at(dir.path(), PROD, "sidecar_injection = false", "false"),
        &["STRICT mTLS has no effect without sidecars"],
    );
    assert!(help(d).contains("sidecar_injection = true"), "{d:#}");
    // Staging may run without the mesh: the rule is production's.
    let dir = scratch_with_environments();
    append(
        &dir.path().join(STAGING),
        "\n[security.mesh]\nsidecar_injection = false\n",
    );
    let (_, diags) = validate(dir.path(), STAGING);
    assert!(!codes(&diags).contains(&"DG0112"), "{diags:#?}");
}

// ── DG0113 quota-fits ────────────────────────────────────────────────────────────────────────

#[test]
fn dg0113_starting_set_above_the_quota() {
    let dir = scratch_with_environments();
    edit(
        &dir.path().join(BASE),
        "requests_cpu = \"20\"",
        "requests_cpu = \"10\"",
    );
    let (code, diags) = validate(dir.path(), PROD);
    assert_eq!(code, 2);
    let d = expect(
        &diags,
        "DG0113",
        "error",
        &at(dir.path(), BASE, "requests_cpu = \"10\"", "\"10\""),
        &["namespace `deaap-core` requests 12550m CPU when it starts; its quota allows 10"],
    );
    // Each pod counts with what is injected into it: 1 CPU + Istio proxy 50m + Vault agent 50m.
    assert!(
        help(d).contains("service `doc-ingester` 5 × 1100m"),
        "{d:#}"
    );
    insta::assert_snapshot!("dg0113_quota_too_small", human(dir.path(), PROD));
}

#[test]
fn dg0113_autoscaling_max_above_the_quota_warns_without_a_reason() {
    let dir = scratch_with_environments();
    edit(
        &dir.path().join(PROD),
        "autoscaling_cap_reason = ",
        "# autoscaling_cap_reason = ",
    );
    let (code, diags) = validate(dir.path(), PROD);
    assert_eq!(code, 0);
    let d = expect(
        &diags,
        "DG0113",
        "warning",
        &at(dir.path(), BASE, "[quotas.core]", "core"),
        &[
            "at the autoscaling maximum",
            "requests 62050m CPU (quota 20)",
            "runs 62 pods (quota 50)",
            "service `doc-ingester` can reach only 5 of its 50 replicas",
        ],
    );
    assert!(help(d).contains("autoscaling_cap_reason"), "{d:#}");
}

#[test]
fn dg0113_volume_claims() {
    let dir = scratch_with_environments();
    append(
        &dir.path().join(PROD),
        "\n[quotas.storage]\nrequests_cpu = \"40\"\nrequests_memory = \"80Gi\"\nlimits_cpu = \"80\"\nlimits_memory = \"160Gi\"\npersistent_volume_claims = 5\npods = 20\n",
    );
    let (code, diags) = validate(dir.path(), PROD);
    assert_eq!(code, 2);
    expect(
        &diags,
        "DG0113",
        "error",
        &at(dir.path(), PROD, "[quotas.storage]", "5"),
        &["namespace `deaap-storage` creates 6 PersistentVolumeClaims, above its quota of 5"],
    );
}

#[test]
fn dg0113_not_on_compose() {
    let dir = scratch_with_environments();
    edit(&dir.path().join(BASE), "pods = 50", "pods = 1");
    let (code, diags) = validate(dir.path(), DEV);
    assert_eq!((code, diags.len()), (0, 0), "{diags:#?}");
    let (code, _) = validate(dir.path(), STAGING);
    assert_eq!(code, 2);
}

// ── DG0114 audit-secrets ─────────────────────────────────────────────────────────────────────

#[test]
fn dg0114_seed_audit_rule_logs_secret_values() {
    let dir = scratch_with_environments();
    let base = dir.path().join(BASE);
    edit(
        &base,
        "level = \"Metadata\"\nnamespaces = [\"core\", \"blockchain\"]",
        "level = \"RequestResponse\"\nnamespaces = [\"core\", \"blockchain\"]",
    );
    let (code, diags) = validate(dir.path(), PROD);
    assert_eq!(code, 2);
    let d = expect(
        &diags,
        "DG0114",
        "error",
        &at(dir.path(), BASE, "[[audit.rules]]", "\"RequestResponse\""),
        &[
            "audit rule 1 logs Secret values",
            "request and response bodies",
        ],
    );
    assert!(
        help(d).contains("Metadata") && help(d).contains("payload_logging_reason"),
        "{d:#}"
    );
    insta::assert_snapshot!(
        "dg0114_secrets_at_request_response",
        human(dir.path(), PROD)
    );
    // A written reason turns it into a warning that does not quote the reason.
    edit(
        &base,
        "level = \"RequestResponse\"\nnamespaces = [\"core\", \"blockchain\"]",
        "level = \"RequestResponse\"\npayload_logging_reason = \"forensics-ticket-4711\"\nnamespaces = [\"core\", \"blockchain\"]",
    );
    let (code, diags) = validate(dir.path(), PROD);
    assert_eq!(code, 0, "{diags:#?}");
    expect(
        &diags,
        "DG0114",
        "warning",
        &at(dir.path(), BASE, "[[audit.rules]]", "\"RequestResponse\""),
        &["logs Secret values", "a reason is recorded"],
    );
    assert!(!format!("{diags:?}").contains("forensics-ticket-4711"));
}

#[test]
fn dg0114_secrets_already_caught_earlier_do_not_leak_and_dead_rules_warn() {
    let dir = scratch_with_environments();
    append(
        &dir.path().join(BASE),
        "\n[[audit.rules]]\nlevel = \"RequestResponse\"\nnamespaces = [\"core\"]\nverbs = [\"create\"]\nresources = [{ group = \"\", resources = [\"secrets\"] }]\n\n[[audit.rules]]\nlevel = \"Request\"\nverbs = [\"get\", \"list\"]\n",
    );
    let (code, diags) = validate(dir.path(), PROD);
    assert_eq!(code, 0, "{diags:#?}");
    // Rule 3 is entirely caught by rule 1 (Metadata): dead, and so it cannot leak.
    let third = at(
        dir.path(),
        BASE,
        "[[audit.rules]]\nlevel = \"RequestResponse\"\nnamespaces = [\"core\"]\nverbs = [\"create\"]\n",
        "[[",
    );
    let d = expect(
        &diags,
        "DG0114",
        "warning",
        &third,
        &["audit rule 3 never applies: rule 1 already matches"],
    );
    assert_eq!(d["labels"][1]["text"], "this earlier rule wins");
    // Rule 4 logs requests without bodies (get, list) at Request: nothing leaks.
    assert_eq!(diags.len(), 1, "{diags:#?}");
}

// ── DG0127 audit-deaap-resources ─────────────────────────────────────────────────────────────

/// tests/fixtures/audit-deaap-resources.toml names four `deaap.io` resources no definition
/// serves, each reported where it is written, and three that are served.
#[test]
fn dg0127_audit_rules_name_only_defined_deaap_resources() {
    const FIXTURE: &str = "tests/fixtures/audit-deaap-resources.toml";
    let (code, diags) = validate(&root(), FIXTURE);
    assert_eq!(code, 2);
    assert_eq!(codes(&diags), ["DG0127"; 4], "{diags:#?}");
    let rule2 = "level = \"RequestResponse\"";
    let rule3 = "namespaces = [\"blockchain\"]";
    // (rule, name, words of the message, help)
    let cases = [
        (
            rule2,
            "consensusvalidation",
            "audit rule 2 names `consensusvalidation` in API group `deaap.io`, which no \
             CustomResourceDefinition of charts/deaap/crds/deaap.io.yaml defines",
            "did you mean `consensusvalidations`? audit rules name a resource by its plural",
        ),
        (
            rule3,
            "agentdeploymnts",
            "audit rule 3 names `agentdeploymnts`",
            "did you mean `agentdeployments`?",
        ),
        (
            rule3,
            "widgets",
            "audit rule 3 names `widgets`",
            "the deaap.io resources are consensusvalidations, agentdeployments (defined in \
             charts/deaap/crds/deaap.io.yaml)",
        ),
        (
            rule3,
            "consensusvalidations/scale",
            "`consensusvalidations` has no subresource `scale`",
            "`consensusvalidations` serves the subresources status",
        ),
    ];
    for (rule, name, words, want) in cases {
        let loc = at(&root(), FIXTURE, rule, &format!("\"{name}\""));
        let d = expect(&diags, "DG0127", "error", &loc, &[words]);
        assert_eq!(help(d), want, "{name}");
    }
    // The location, written out once: line and column of the misnamed subresource.
    assert_eq!(
        at(&root(), FIXTURE, rule3, "\"consensusvalidations/scale\""),
        format!("{FIXTURE}:28:68")
    );
}

/// The shipped audit policy's `deaap.io` rule, misspelt in base.toml, fails every environment
/// built from it.
#[test]
fn dg0127_misspelt_shipped_audit_resource() {
    misspelling_gets_a_suggestion(&Misspelling {
        code: "DG0127",
        line: "resources = [\"consensusvalidations\", \"agentdeployments\"]",
        typo: "resources = [\"consensusvalidations\", \"agentdeploymnts\"]",
        anchor: "group = \"deaap.io\"",
        name: "agentdeploymnts",
        words: "audit rule 2 names `agentdeploymnts` in API group `deaap.io`",
        suggestion: "agentdeployments",
    });
}

// ── DG0115 pod-security-policy ───────────────────────────────────────────────────────────────

#[test]
fn dg0115_pod_security_policies_is_explained() {
    let dir = scratch_with_environments();
    append(
        &dir.path().join(PROD),
        "\n[security]\npodSecurityPolicies = { enabled = true }\n",
    );
    let (code, diags) = validate(dir.path(), PROD);
    assert_eq!(code, 2);
    let d = expect(
        &diags,
        "DG0051",
        "error",
        &at(
            dir.path(),
            PROD,
            "podSecurityPolicies",
            "podSecurityPolicies",
        ),
        &["unknown key `podSecurityPolicies`"],
    );
    assert!(
        help(d).contains("removed in Kubernetes 1.25") && help(d).contains("security.pod_security"),
        "{d:#}"
    );
    insta::assert_snapshot!("dg0115_pod_security_policies", human(dir.path(), PROD));
    let o = run(dir.path(), &["explain", "DG0115"]);
    assert!(stdout(&o).contains("PodSecurityPolicy"), "{}", stdout(&o));
}

// ── DG0116 compose-platform ──────────────────────────────────────────────────────────────────

#[test]
fn dg0116_platform_specific_settings() {
    let dir = scratch_with_environments();
    edit(
        &dir.path().join(STAGING),
        "[services.doc-ingester]\n",
        "[services.doc-ingester]\nvolumes = [\"./data:/app/data\"]\nprofiles = [\"staging\"]\n",
    );
    let (code, diags) = validate(dir.path(), STAGING);
    assert_eq!(code, 2);
    let d = expect(
        &diags,
        "DG0116",
        "error",
        &at(dir.path(), STAGING, "volumes = ", "["),
        &["service `doc-ingester` mounts host directories"],
    );
    assert!(help(d).contains("persistence"), "{d:#}");
    expect(
        &diags,
        "DG0116",
        "warning",
        &at(dir.path(), STAGING, "profiles = ", "["),
        &["Compose `profiles`, which Kubernetes ignores"],
    );
    edit(
        &dir.path().join(DEV),
        "autoscaling = { enabled = false,",
        "autoscaling = { enabled = true,",
    );
    let (code, diags) = validate(dir.path(), DEV);
    assert_eq!(code, 0, "{diags:#?}");
    expect(
        &diags,
        "DG0116",
        "warning",
        &at(dir.path(), DEV, "autoscaling = { enabled = ", "true"),
        &["autoscales 1–1, but Compose cannot autoscale"],
    );
}

// ── DG0117 env-names ─────────────────────────────────────────────────────────────────────────

#[test]
fn dg0117_env_names_and_duplicates() {
    let dir = scratch_with_environments();
    let prod = dir.path().join(PROD);
    append(
        &prod,
        "\n[services.api-gateway.env]\n\"LOG-LEVEL\" = \"debug\"\nDATABASE_URL = \"postgresql://postgres:5432/deaap\"\n\n[services.api-gateway.secrets]\nDATABASE_URL = \"vault:secret/data/deaap/gateway#database-url\"\n",
    );
    let (code, diags) = validate(dir.path(), PROD);
    assert_eq!(code, 2);
    let d = expect(
        &diags,
        "DG0117",
        "error",
        &at(dir.path(), PROD, "\"LOG-LEVEL\"", "\"LOG-LEVEL\""),
        &["`LOG-LEVEL` in `env` of service `api-gateway` is not an environment-variable name"],
    );
    assert!(help(d).contains("`LOG_LEVEL`"), "{d:#}");
    let d = expect(
        &diags,
        "DG0117",
        "error",
        &at(
            dir.path(),
            PROD,
            "[services.api-gateway.env]",
            "DATABASE_URL",
        ),
        &["`DATABASE_URL` of service `api-gateway` is set in both `env` and `secrets`"],
    );
    assert_eq!(d["labels"][1]["text"], "secret reference");
}

#[test]
fn dg0130_replicated_store_without_replication() {
    let fixture = "tests/fixtures/invalid/replicated-store.toml";
    let (code, diags) = validate(&root(), fixture);
    assert_eq!(code, 2);
    let d = expect(
        &diags,
        "DG0130",
        "error",
        &at(&root(), fixture, "replicas = 3", "3"),
        &[
            "store `cache` runs 3 replicas with no replication mode",
            "independent copies",
        ],
    );
    assert!(help(d).contains("replication = \"sentinel\""), "{d:#}");
    assert_eq!(codes(&diags), ["DG0130"]);

    // A mode belongs to its engine.
    let dir = scratch_minimal();
    let env = dir.path().join("env.toml");
    edit(
        &env,
        "port = 6379\n",
        "port = 6379\nreplicas = 2\nreplication = \"cloudnative-pg\"\n",
    );
    let (code, diags) = validate(dir.path(), "env.toml");
    assert_eq!(code, 2);
    let d = expect(
        &diags,
        "DG0130",
        "error",
        &at(dir.path(), "env.toml", "replication", "\"cloudnative-pg\""),
        &["`cloudnative-pg` replication does not apply to store `cache` (redis)"],
    );
    assert!(help(d).contains("\"sentinel\""), "{d:#}");

    // With its engine's mode, replicas are fine.
    edit(
        &env,
        "replication = \"cloudnative-pg\"",
        "replication = \"sentinel\"",
    );
    let (_, diags) = validate(dir.path(), "env.toml");
    assert!(!codes(&diags).contains(&"DG0130"), "{diags:#?}");
}

// ── DG0135 slo-measures ─────────────────────────────────────────────────────────────────────

#[test]
fn dg0135_slo_measures_fit_their_metric() {
    let fixture = "tests/fixtures/invalid/slo-measures.toml";
    let (code, diags) = validate(&root(), fixture);
    assert_eq!(code, 2);
    let bucket = at(&root(), fixture, "threshold = 0.25", "0.25");
    // Two findings on the one threshold: no bucket, and not the row's target.
    let on_threshold = |words: &str| {
        let d = diags
            .iter()
            .find(|d| {
                d["code"] == "DG0135" && d["message"].as_str().is_some_and(|m| m.contains(words))
            })
            .unwrap_or_else(|| panic!("no {words:?} in {diags:#?}"));
        assert_eq!(location(d), bucket, "{d:#}");
        d
    };
    let d = on_threshold("no bucket");
    assert!(help(d).contains("did you mean `0.2`?"), "{d:#}");
    let d = on_threshold("is not its target");
    assert!(help(d).contains("threshold = 0.2"), "{d:#}");
    expect(
        &diags,
        "DG0135",
        "error",
        &at(&root(), fixture, "target = \"> 100 TPS\"", "{ objective"),
        &["`Web Throughput` has an `slo`", "no good and bad events"],
    );
    expect(
        &diags,
        "DG0135",
        "error",
        &at(&root(), fixture, "target = \"< 1s\"", "\"rate\""),
        &["states `< 1s`, which takes a `quantile`"],
    );
    assert_eq!(codes(&diags), ["DG0135"; 4]);
}

// ── DG0131 waivers ───────────────────────────────────────────────────────────────────────────

const WAIVE_MEMORY: &str = "\n[[waivers]]\ncode = \"DG0104\"\nkey = \"services.doc-ingester.autoscaling.memory_percent\"\nreason = \"load test until the queue metric lands\"\n";

#[test]
fn dg0131_a_waived_warning_is_a_note_where_waived_and_a_warning_elsewhere() {
    let dir = scratch_with_environments();
    edit(
        &dir.path().join(BASE),
        "memory_percent = 80",
        "memory_percent = 150",
    );
    append(&dir.path().join(PROD), WAIVE_MEMORY);
    let (code, diags) = validate(dir.path(), PROD);
    assert_eq!(code, 0, "{diags:#?}");
    let d = diags
        .iter()
        .find(|d| d["code"] == "DG0104")
        .unwrap_or_else(|| panic!("{diags:#?}"));
    assert_eq!(d["severity"], "note", "{d:#}");
    let message = d["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("waived: ")
            && message.contains("load test until the queue metric lands"),
        "{message}"
    );
    // Not a warning: --deny-warnings passes, and `check` shows the waived finding.
    let o = run(dir.path(), &["--deny-warnings", "validate", PROD]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(dir.path(), &["check", PROD]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("note[DG0104]: waived"),
        "{}",
        stderr(&o)
    );
    // Staging has no waiver: still a warning there.
    let (_, diags) = validate(dir.path(), STAGING);
    assert!(
        diags
            .iter()
            .any(|d| d["code"] == "DG0104" && d["severity"] == "warning"),
        "{diags:#?}"
    );
}

#[test]
fn dg0131_stale_expired_and_unwaivable_waivers() {
    // Stale: nothing to waive on that key.
    let dir = scratch_with_environments();
    append(&dir.path().join(PROD), WAIVE_MEMORY);
    let (code, diags) = validate(dir.path(), PROD);
    assert_eq!(code, 2);
    expect(
        &diags,
        "DG0131",
        "error",
        &at(dir.path(), PROD, "[[waivers]]", "\"DG0104\""),
        &[
            "stale waiver: DG0104 is not reported on `services.doc-ingester.autoscaling.memory_percent`",
        ],
    );

    // Expired: the warning is back, with a warning about the waiver.
    edit(
        &dir.path().join(BASE),
        "memory_percent = 80",
        "memory_percent = 150",
    );
    append(&dir.path().join(PROD), "expires = \"2020-01-31\"\n");
    let (code, diags) = validate(dir.path(), PROD);
    assert_eq!(code, 0, "{diags:#?}");
    expect(
        &diags,
        "DG0131",
        "warning",
        &at(dir.path(), PROD, "expires", "\"2020-01-31\""),
        &["expired on 2020-01-31"],
    );
    assert!(
        diags
            .iter()
            .any(|d| d["code"] == "DG0104" && d["severity"] == "warning")
    );

    // A schema code cannot be waived; a key must be written; a date must be a date.
    let dir = scratch_with_environments();
    append(
        &dir.path().join(PROD),
        "\n[[waivers]]\ncode = \"DG0051\"\nkey = \"services\"\nreason = \"r\"\n\n[[waivers]]\ncode = \"DG0104\"\nkey = \"services.nope\"\nreason = \"r\"\n\n[[waivers]]\ncode = \"DG0104\"\nkey = \"services.doc-ingester\"\nreason = \"r\"\nexpires = \"tomorrow\"\n",
    );
    let (code, diags) = validate(dir.path(), PROD);
    assert_eq!(code, 2);
    expect(
        &diags,
        "DG0131",
        "error",
        &at(dir.path(), PROD, "[[waivers]]", "\"DG0051\""),
        &["DG0051 cannot be waived"],
    );
    expect(
        &diags,
        "DG0131",
        "error",
        &at(
            dir.path(),
            PROD,
            "key = \"services.nope",
            "\"services.nope\"",
        ),
        &["`services.nope` is not written"],
    );
    expect(
        &diags,
        "DG0131",
        "error",
        &at(dir.path(), PROD, "expires = \"tomorrow", "\"tomorrow\""),
        &["not a date"],
    );
}

/// An error may be waived too (the model then compiles), and a proof's code is judged after the
/// proof: a waiver of a proof finding that does not occur is stale.
#[test]
fn dg0131_waived_errors_compile_and_proof_waivers_are_judged_after_the_proof() {
    let dir = scratch_with_environments();
    let prod = dir.path().join(PROD);
    edit(&prod, "replication = \"sentinel\"\n", "");
    append(
        &prod,
        "\n[[waivers]]\ncode = \"DG0130\"\nkey = \"storage.redis.replicas\"\nreason = \"a cache: every copy may differ\"\n",
    );
    let (code, diags) = validate(dir.path(), PROD);
    assert_eq!(code, 0, "{diags:#?}");
    assert!(
        diags
            .iter()
            .any(|d| d["code"] == "DG0130" && d["severity"] == "note")
    );

    append(
        &prod,
        "\n[[waivers]]\ncode = \"DG0520\"\nkey = \"services.api-gateway\"\nreason = \"r\"\n",
    );
    let o = run(dir.path(), &["check", PROD, "--format", "json"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("stale waiver: DG0520 is not reported on `services.api-gateway`"),
        "{}",
        stdout(&o)
    );
    // The merged tree is let go of after validation and loaded again for the proof's waivers:
    // the stale waiver is still pointed at where it is written.
    expect(
        &json_of_kind(&o, "diagnostic"),
        "DG0131",
        "error",
        &at(dir.path(), PROD, "code = \"DG0520", "\"DG0520\""),
        &["stale waiver: DG0520"],
    );
}

#[test]
fn dg0133_backup_without_a_command() {
    let dir = scratch_minimal();
    let env = dir.path().join("env.toml");
    edit(
        &env,
        "[backup]\nenabled = false",
        "[backup]\nenabled = true",
    );
    edit(
        &env,
        "[[audit.rules]]",
        "[storage.vectors]\nkind = \"vector-db\"\nimage = { repository = \"qdrant/qdrant\", tag = \"v1.11.3\" }\nport = 6333\n\n[backup.databases.cache]\nsource = \"cache\"\nschedule = \"0 1 * * *\"\n\n[backup.databases.vectors]\nsource = \"vectors\"\nschedule = \"0 2 * * *\"\n\n[[audit.rules]]",
    );
    let (code, diags) = validate(dir.path(), "env.toml");
    assert_eq!(code, 2, "{diags:#?}");
    // deaap-gen writes the Redis dump; nothing for a vector database.
    let d = expect(
        &diags,
        "DG0133",
        "error",
        &at(
            dir.path(),
            "env.toml",
            "[backup.databases.vectors]",
            "[backup",
        ),
        &["database backup `vectors` of `vectors` has no `command`"],
    );
    assert!(help(d).contains("command = [...]"), "{d:#}");
    assert_eq!(codes(&diags), ["DG0133"]);
}

#[test]
fn dg0134_sentinel_sets() {
    let dir = scratch_minimal();
    let env = dir.path().join("env.toml");
    edit(
        &env,
        "port = 6379\n",
        "port = 6379\nreplicas = 2\nreplication = \"sentinel\"\n",
    );
    edit(
        &env,
        "depends_on = [\"cache\"]\n",
        "depends_on = [\"cache\"]\nenv = { CACHE_URL = \"redis://cache.mini-storage.svc.cluster.local:6379\", CACHE_MASTER_NAME = \"x\" }\n",
    );
    let (code, diags) = validate(dir.path(), "env.toml");
    assert_eq!(code, 2);
    let d = expect(
        &diags,
        "DG0134",
        "error",
        &at(dir.path(), "env.toml", "replicas = 2", "2"),
        &["Sentinel set `cache` runs 2 replica(s)", "cannot fail over"],
    );
    assert!(help(d).contains("replicas = 3"), "{d:#}");
    let d = expect(
        &diags,
        "DG0134",
        "error",
        &at(dir.path(), "env.toml", "CACHE_URL", "\"redis://"),
        &["`CACHE_URL` of service `web` addresses `cache` as one server"],
    );
    assert!(help(d).contains("CACHE_SENTINELS"), "{d:#}");
    expect(
        &diags,
        "DG0134",
        "error",
        &at(dir.path(), "env.toml", "CACHE_MASTER_NAME", "\"x\""),
        &["`CACHE_MASTER_NAME` of service `web` is set by deaap-gen"],
    );
    assert_eq!(codes(&diags), ["DG0134", "DG0134", "DG0134"]);

    // Three replicas and no address of its own: nothing to say.
    edit(&env, "replicas = 2\n", "replicas = 3\n");
    edit(
        &env,
        "env = { CACHE_URL = \"redis://cache.mini-storage.svc.cluster.local:6379\", CACHE_MASTER_NAME = \"x\" }\n",
        "",
    );
    let (code, diags) = validate(dir.path(), "env.toml");
    assert_eq!(code, 0, "{diags:#?}");
}

#[test]
fn dg0123_a_command_only_where_deaap_gen_generates_none() {
    let dir = scratch_with_environments();
    let base = dir.path().join(BASE);
    edit(
        &base,
        "source = \"postgres\"\nschedule = \"30 2 * * *\"\n",
        "source = \"postgres\"\nschedule = \"30 2 * * *\"\ncommand = [\"/scripts/backup-postgres.sh\"]\n",
    );
    let (code, diags) = validate(dir.path(), STAGING);
    assert_eq!(code, 2);
    let d = expect(
        &diags,
        "DG0123",
        "error",
        &at(
            dir.path(),
            BASE,
            "command = [\"/scripts/backup-postgres.sh",
            "[",
        ),
        &[
            "database backup `postgres` dumps the PostgreSQL store `postgres`, whose dump and restore deaap-gen generates",
        ],
    );
    assert!(help(d).contains("remove `command`"), "{d:#}");
    // A missing command elsewhere is DG0133's.
    assert_eq!(codes(&diags), ["DG0123"]);
}

#[test]
fn dg0130_a_cloudnative_pg_store_keeps_the_operators_ports_and_persists() {
    let dir = scratch_with_environments();
    let prod = dir.path().join(PROD);
    edit(
        &prod,
        "metrics = { scrape = true, port = 9187 }",
        "metrics = { scrape = true, port = 9100 }\nport = 5433",
    );
    edit(
        &prod,
        "persistence = { size = \"200Gi\", storage_class = \"fast-ssd\" }\nmetrics",
        "persistence = { enabled = false, size = \"200Gi\" }\nmetrics",
    );
    let (code, diags) = validate(dir.path(), PROD);
    assert_eq!(code, 2);
    expect(
        &diags,
        "DG0130",
        "error",
        &at(dir.path(), PROD, "port = 5433", "5433"),
        &[
            "store `postgres` runs on CloudNativePG, whose instances serve PostgreSQL on 5432, not 5433",
        ],
    );
    expect(
        &diags,
        "DG0130",
        "error",
        &at(dir.path(), PROD, "port = 9100", "9100"),
        &["its metrics exporter on 9187, not 9100"],
    );
    expect(
        &diags,
        "DG0130",
        "error",
        &at(
            dir.path(),
            PROD,
            "replication = \"cloudnative-pg\"",
            "\"cloudnative-pg\"",
        ),
        &["keeps each instance's data on a volume of its own, but it has no persistence"],
    );
    assert_eq!(codes(&diags), ["DG0130", "DG0130", "DG0130"]);
}

// ── DG0140 data-volume ───────────────────────────────────────────────────────────────────────

#[test]
fn dg0140_data_services_need_the_data_volume() {
    let dir = scratch_minimal();
    let env = dir.path().join("env.toml");
    edit(
        &env,
        "depends_on = [\"cache\"]\n",
        "depends_on = [\"cache\"]\ndata_access = true\n",
    );
    let (code, diags) = validate(dir.path(), "env.toml");
    assert_eq!(code, 2);
    let d = expect(
        &diags,
        "DG0140",
        "error",
        &at(dir.path(), "env.toml", "data_access", "true"),
        &[
            "service `web` reads the application data, but no `[data]` volume is declared: nothing would create the claim `minimal-data`",
        ],
    );
    assert!(help(d).contains("[data]"), "{d:#}");
    assert_eq!(codes(&diags), ["DG0140"]);

    // Declared, it must be where the service runs and where Falco looks.
    append(
        &env,
        "\n[data]\nsize = \"1Gi\"\nnamespace = \"storage\"\npath = \"/srv/data/\"\n",
    );
    let (code, diags) = validate(dir.path(), "env.toml");
    assert_eq!(code, 2);
    expect(
        &diags,
        "DG0140",
        "error",
        &at(dir.path(), "env.toml", "[services.web]", "\"core\""),
        &[
            "service `web` runs in `mini-core`, but the data claim `minimal-data` is in `mini-storage`",
        ],
    );
    edit(&env, "namespace = \"storage\"\n", "");
    edit(&env, "path = \"/srv/data/\"", "path = \"/app/data\"");
    let (code, diags) = validate(dir.path(), "env.toml");
    assert_eq!(code, 2);
    let d = expect(
        &diags,
        "DG0140",
        "error",
        &at(dir.path(), "env.toml", "data_path", "\"/srv/data\""),
        &["Falco watches `/srv/data`, but the data volume is mounted at `/app/data`"],
    );
    assert!(help(d).contains("data_path = \"/app/data\""), "{d:#}");
    edit(&env, "path = \"/app/data\"", "path = \"/srv/data\"");
    let (code, diags) = validate(dir.path(), "env.toml");
    assert_eq!(code, 0, "{diags:#?}");
}

#[test]
fn dg0140_a_read_write_once_volume_has_one_user() {
    let dir = scratch_with_environments();
    append(
        &dir.path().join(STAGING),
        "\n[data]\naccess_mode = \"ReadWriteOnce\"\n",
    );
    let (code, diags) = validate(dir.path(), STAGING);
    assert_eq!(code, 2);
    expect(
        &diags,
        "DG0140",
        "error",
        &at(dir.path(), STAGING, "access_mode", "\"ReadWriteOnce\""),
        &[
            "the data volume is ReadWriteOnce, but 13 pods mount it",
            "`doc-ingester` up to 10",
            "`data-processor` up to 2",
            "the full backup",
        ],
    );
}

#[test]
fn dg0140_the_blockchain_backup_needs_persistence() {
    let dir = scratch_with_environments();
    edit(
        &dir.path().join(STAGING),
        "persistence = { enabled = true, size = \"100Gi\" }",
        "persistence = { enabled = false, size = \"100Gi\" }",
    );
    let (code, diags) = validate(dir.path(), STAGING);
    assert_eq!(code, 2);
    expect(
        &diags,
        "DG0140",
        "error",
        &at(
            dir.path(),
            BASE,
            "[backup.databases.blockchain]",
            "\"blockchain\"",
        ),
        &[
            "database backup `blockchain` archives the blockchain nodes' volume, but their persistence is off",
        ],
    );
}
