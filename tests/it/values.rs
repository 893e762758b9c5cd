//! Values that reach artifacts: YAML 1.1 readers see the strings the model holds, the environment
//! file name cannot inject header lines, credentials never reach a manifest or a diagnostic, values
//! the API server would refuse are refused first, and no input makes generation fail internally.

use crate::support::{json_of_kind, root, run, stderr, stdout};
use proptest::prelude::*;
use regex_lite::Regex;
use std::path::Path;
use std::sync::LazyLock;

/// `PyYAML`'s implicit resolvers, verbatim, plus the one-letter booleans of the YAML 1.1 type
/// repository: how a YAML 1.1 reader types a plain scalar.
fn yaml11_type(plain: &str) -> &'static str {
    static RES: LazyLock<Vec<(&str, Regex)>> = LazyLock::new(|| {
        [
            ("bool", r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|y|Y|n|N)$"),
            ("float", r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
            ("int", r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$"),
            ("merge", r"^(?:<<)$"),
            ("null", r"^(?:~|null|Null|NULL|)$"),
            ("timestamp", r"^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$"),
            ("value", r"^(?:=)$"),
        ]
        .into_iter()
        .map(|(t, re)| (t, Regex::new(re).expect("pattern")))
        .collect()
    });
    RES.iter()
        .find(|(_, re)| re.is_match(plain))
        .map_or("str", |(t, _)| t)
}

/// How the YAML 1.2 reader the tests trust types a plain scalar.
fn yaml12_type(plain: &str) -> &'static str {
    match serde_yaml::from_str::<serde_yaml::Value>(plain) {
        Ok(serde_yaml::Value::Bool(_)) => "bool",
        Ok(serde_yaml::Value::Null) => "null",
        Ok(serde_yaml::Value::Number(n)) if n.is_f64() => "float",
        Ok(serde_yaml::Value::Number(_)) => "int",
        _ => "str",
    }
}

/// Every plain (unquoted, non-block) scalar of a block-style YAML text: keys and values.
fn plain_scalars(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut block: Option<usize> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        if let Some(b) = block {
            if line.trim().is_empty() || indent > b {
                continue;
            }
            block = None;
        }
        if line.starts_with('#') || line == "---" || line.trim().is_empty() {
            continue;
        }
        let mut rest = line.trim_start();
        let mut col = indent;
        while let Some(r) = rest.strip_prefix("- ") {
            rest = r;
            col += 2;
        }
        if rest.starts_with(['\'', '"']) {
            continue; // a quoted key or scalar: a string in any YAML version
        }
        let value = if let Some((k, v)) = rest.split_once(": ") {
            out.push(k.to_owned());
            v
        } else if let Some(k) = rest.strip_suffix(':') {
            out.push(k.to_owned());
            continue;
        } else {
            rest
        };
        if value.starts_with(['|', '>']) {
            block = Some(col);
        } else if !value.starts_with(['\'', '"', '[', '{', '&', '*', '!']) && value != "-" {
            out.push(value.to_owned());
        }
    }
    out
}

/// Asserts that a YAML 1.1 reader types every plain scalar of every YAML artifact as the YAML 1.2
/// reader does: no string turns into a boolean, number, null or timestamp.
fn assert_yaml11_safe(artifacts: &[deaap_gen::targets::Artifact]) {
    for a in artifacts.iter().filter(|a| a.path.ends_with(".yaml")) {
        let bytes = a.bytes.read().expect("held");
        let text = String::from_utf8_lossy(&bytes);
        for p in plain_scalars(&text) {
            assert_eq!(
                yaml11_type(&p),
                yaml12_type(&p),
                "{}: plain scalar {p:?} reads differently in YAML 1.1",
                a.path
            );
        }
    }
}

fn minimal() -> String {
    std::fs::read_to_string(root().join("tests/fixtures/minimal.toml")).expect("fixture")
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// Writes `text` as `minimal.toml` in a fresh folder and compiles it in-process.
fn compile(text: &str) -> (tempfile::TempDir, deaap_gen::Compiled) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("minimal.toml");
    std::fs::write(&path, text).expect("write");
    let c = deaap_gen::compile(&path);
    (dir, c)
}

/// The minimal model with `s` in every place a string reaches YAML: env values and names,
/// labels, namespace names, commands, the `PrometheusRule` labels.
fn with_string_everywhere(s: &str) -> String {
    let q = toml_str(s);
    minimal()
        .replace(
            "business_unit = \"testing\"",
            &format!("business_unit = {q}"),
        )
        .replace(
            "core = \"mini-core\"",
            &format!("core = {}", toml_str(&s.to_ascii_lowercase())),
        )
        .replace(
            "route = \"/\"",
            &format!("route = \"/\"\nenv = {{ MODE = {q} }}\ncommand = [{q}, \"--flag\", {q}]"),
        )
        .replace(
            "scrape_job = \"minimal\"",
            &format!("scrape_job = \"minimal\"\nrule_labels = {{ team = {q} }}"),
        )
}

#[test]
fn yaml11_booleans_are_quoted_in_every_artifact() {
    for s in ["yes", "no", "on", "off", "y", "n", "Y", "NO", "On"] {
        let (dir, c) = compile(&with_string_everywhere(s));
        let model = c
            .model
            .unwrap_or_else(|| panic!("{s:?} is a valid value: {:?}", c.diagnostics));
        let artifacts =
            deaap_gen::generate(&model, &dir.path().join("minimal.toml")).expect("generates");
        assert_yaml11_safe(&artifacts);
        let ns = artifacts
            .iter()
            .find(|a| a.path == "kubernetes/namespaces.yaml")
            .expect("namespaces");
        assert!(
            String::from_utf8_lossy(&ns.bytes.read().expect("held"))
                .contains(&format!("name: '{}'", s.to_ascii_lowercase())),
            "{s:?} is not quoted"
        );
    }
    // The Argo CD stream re-emits every object.
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("minimal.toml"),
        with_string_everywhere("yes"),
    )
    .expect("write");
    let o = run(dir.path(), &["render", "minimal.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("value: 'yes'") && !text.contains("value: yes"),
        "{text}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Generated strings anywhere a string reaches YAML: a YAML 1.1 reader gets them back as strings.
    #[test]
    fn generated_strings_read_back_as_strings_in_yaml11(
        s in prop_oneof![
            "(?i)(y|n|yes|no|on|off|true|false|null)",
            "[0-9][0-9_:]{0,6}",
            "[0-9]{4}-[0-9]{2}-[0-9]{2}",
            "[a-z0-9]([a-z0-9.-]{0,8}[a-z0-9])?",
        ]
    ) {
        let (dir, c) = compile(&with_string_everywhere(&s));
        if let Some(model) = c.model {
            let artifacts = deaap_gen::generate(&model, &dir.path().join("minimal.toml"))
                .expect("a valid model always generates");
            assert_yaml11_safe(&artifacts);
        }
    }

    /// Random values in every kind of field: either diagnostics, or artifacts; never an internal
    /// error.
    #[test]
    fn no_input_makes_generation_fail(
        s in "\\PC{0,6}|[\\\\\"' \\t\\n/:@.a-zA-Z0-9-]{0,10}|\\u{0}|\\u{1b}",
        f in prop_oneof![any::<f64>(), Just(-0.0), Just(1e308), Just(f64::INFINITY)],
        field in 0usize..14,
    ) {
        let q = toml_str(&s);
        let replacements: [(&str, String); 14] = [
            ("business_unit = \"testing\"", format!("business_unit = {q}")),
            ("domain = \"minimal.example.com\"", format!("domain = {q}")),
            ("registry = \"registry.example.com\"", format!("registry = {q}")),
            ("core = \"mini-core\"", format!("core = {q}")),
            ("health_path", String::new()),
            ("route = \"/\"", format!("route = \"/\"\nhealth_path = {q}")),
            ("data_path = \"/srv/data\"", format!("data_path = {q}, extra_data_readers = [{q}]")),
            ("for = \"5m\"", format!("for = {q}")),
            ("threshold = 2", format!("threshold = {}", toml::Value::Float(f))),
            ("issuer = \"selfsigned\"", format!("issuer = {q}")),
            ("repository = \"acme/web\"", format!("repository = {q}")),
            ("tag = \"1.0.0\"", format!("tag = {q}")),
            ("scrape_job = \"minimal\"", format!("scrape_job = \"minimal\"\nrule_labels = {{ {q} = {q} }}")),
            ("route = \"/\"", format!("route = \"/\"\nenv = {{ A = {q} }}\ncommand = [{q}]")),
        ];
        let (from, to) = &replacements[field];
        let text = if to.is_empty() { minimal() } else { minimal().replacen(from, to, 1) };
        let (dir, c) = compile(&text);
        if let Some(model) = c.model {
            let r = deaap_gen::generate(&model, &dir.path().join("minimal.toml"));
            prop_assert!(r.is_ok(), "{text}\n{:?}", r.err());
        }
    }
}

/// `validate` in `dir` as JSON: exit code and (code, line, message) of each diagnostic.
fn diagnostics(dir: &Path, file: &str) -> (Option<i32>, Vec<(String, u64, String)>, String) {
    let o = run(dir, &["validate", file, "--format", "json"]);
    let err = format!("{}{}", stdout(&o), stderr(&o));
    let diags = json_of_kind(&o, "diagnostic")
        .iter()
        .map(|v| {
            (
                v["code"].as_str().unwrap_or("").to_owned(),
                v["line"].as_u64().unwrap_or(0),
                v["message"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let human = stderr(&run(dir, &["validate", file]));
    (o.status.code(), diags, format!("{err}\n{human}"))
}

fn line_of(text: &str, needle: &str) -> u64 {
    let i = text.find(needle).unwrap_or_else(|| panic!("no {needle:?}"));
    text[..i].matches('\n').count() as u64 + 1
}

#[test]
fn a_control_character_in_the_file_name_is_refused_and_never_reaches_a_header() {
    let dir = tempfile::tempdir().expect("temp dir");
    let envs = dir.path().join("environments");
    std::fs::create_dir(&envs).expect("mkdir");
    let name = "evil\napiVersion: v1\nkind: ConfigMap\n#.toml";
    std::fs::write(envs.join(name), minimal()).expect("write");
    let o = run(dir.path(), &["build", "environments/", "--format", "json"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stdout(&o).contains("DG0007"), "{}", stdout(&o));
    assert!(!dir.path().join("generated/minimal").exists());
}

#[test]
fn credentials_in_values_are_refused_and_never_echoed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = minimal().replace(
        "route = \"/\"",
        "route = \"/\"\n\
         env = { DB_URL = \"postgresql://u:PW1secret@host/db\", AUTHORIZATION = \"Bearer tok2secret\", DB_PASS = \"pw3secret\", MYSQL_PWD = \"pw4secret\", PGPASS = \"pw5secret\", GPG_PASSPHRASE = \"pw6secret\", ENCRYPTION_KEY = \"k7secret\", STRIPE_API_KEY = \"k8secret\", pasword = \"pw9secret\", \"ＰＡＳＳＷＯＲＤ\" = \"pw10secret\", DB_PASSWORD = 123456789, API_TOKEN = [\"arr11secret\"] }\n\
         command = [\"app\", \"--password=a12secret\", \"--token\", \"a13secret\"]",
    );
    std::fs::write(dir.path().join("minimal.toml"), &text).expect("write");
    let (code, diags, shown) = diagnostics(dir.path(), "minimal.toml");
    assert_eq!(code, Some(2), "{shown}");
    let dg0201 = diags.iter().filter(|d| d.0 == "DG0201").count();
    assert_eq!(dg0201, 14, "{shown}");
    for secret in [
        "PW1",
        "tok2",
        "pw3",
        "pw4",
        "pw5",
        "pw6",
        "k7",
        "k8",
        "pw9",
        "pw10",
        "123456789",
        "arr11",
        "a12",
        "a13",
    ] {
        assert!(!shown.contains(secret), "{secret} echoed:\n{shown}");
    }
}

#[test]
fn values_the_api_server_refuses_are_located_diagnostics() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = minimal()
        .replace(
            "business_unit = \"testing\"",
            "business_unit = \"the unit\"",
        )
        .replace(
            "domain = \"minimal.example.com\"",
            "domain = \"minimal example.com\"",
        )
        .replace(
            "registry = \"registry.example.com\"",
            "registry = \"Registry Host:notaport\"",
        )
        .replace("issuer = \"selfsigned\"", "issuer = \"lets encrypt/prod\"")
        .replace(
            "route = \"/\"",
            "route = \"/\"\nhealth_path = \"health check\"",
        )
        .replace(
            "storage = { size = \"1Gi\" }",
            "storage = { size = \"1Gi\", storage_class = \"Fast SSD!\" }",
        )
        .replace(
            "scrape_job = \"minimal\"",
            "scrape_job = \"minimal\"\nrule_labels = { team = \"a\\nb\" }",
        );
    std::fs::write(dir.path().join("minimal.toml"), &text).expect("write");
    let (code, diags, shown) = diagnostics(dir.path(), "minimal.toml");
    assert_eq!(code, Some(2), "{shown}");
    for (needle, key) in [
        ("business_unit =", "business_unit"),
        ("domain =", "domain"),
        ("registry =", "registry"),
        ("issuer =", "issuer"),
        ("health_path =", "health_path"),
        ("storage_class =", "storage_class"),
        ("rule_labels =", "rule_labels"),
    ] {
        let line = line_of(&text, needle);
        assert!(
            diags
                .iter()
                .any(|d| d.0 == "DG0118" && d.1 == line && d.2.contains(key)),
            "no DG0118 for {key} at line {line}:\n{shown}"
        );
    }
}

#[test]
fn values_that_cannot_be_generated_are_located_diagnostics() {
    for (from, to, code) in [
        ("threshold = 2", "threshold = 1e308", "DG0118"),
        ("threshold = 2", "threshold = -0.0", "DG0118"),
        ("for = \"5m\"", "for = \"99999999999h\"", "DG0118"),
        (
            "data_path = \"/srv/data\"",
            "data_path = \"/srv\\\\data\"",
            "DG0118",
        ),
        (
            "data_path = \"/srv/data\"",
            "data_path = \"/srv/data\", extra_data_readers = [\"a\\\\b\"]",
            "DG0118",
        ),
        (
            "registry = \"registry.example.com\"",
            "registry = \"registry\\\\example.com\"",
            "DG0118",
        ),
        (
            "summary = \"Web p99 latency above 2s\"",
            "summary = \"Web p99\\u0007\"",
            "DG0119",
        ),
        (
            "scrape_job = \"minimal\"",
            "scrape_job = \"mini\\u001bmal\"",
            "DG0119",
        ),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let text = minimal().replacen(from, to, 1);
        std::fs::write(dir.path().join("minimal.toml"), &text).expect("write");
        let (code_seen, diags, shown) = diagnostics(dir.path(), "minimal.toml");
        assert_eq!(code_seen, Some(2), "{to}: {shown}");
        let line = line_of(&text, to);
        assert!(
            diags.iter().any(|d| d.0 == code && d.1 == line),
            "{to}: no {code} at line {line}:\n{shown}"
        );
        assert!(!shown.contains("internal error"), "{shown}");
    }
}
