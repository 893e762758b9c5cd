//! The Argo CD plugin contract (README "In a platform repository" and deploy/argocd/README.md),
//! tested the way argocd-cmp-server runs the binary: in the application's source folder, with a
//! cleared environment holding only the variables Argo CD documents, no stdin, no terminal and no
//! HOME. stdout must be exactly the environment's Kubernetes objects (those of the built tree),
//! Namespaces first; any error must exit non-zero with nothing on stdout, because an empty stream
//! with exit 0 makes Argo CD prune the whole application. Also checks the shipped `deploy/argocd/`
//! files field by field.

use crate::diff::{build, read_tree};
use crate::support::{edit, root, scratch_with_environments};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// How the environment is chosen: the three ways Argo CD can pass it.
#[derive(Clone, Copy, Debug)]
enum Choice {
    /// `plugin.parameters: [{name: environment, string: ...}]` as JSON.
    Parameters,
    /// The same parameter as Argo CD also exports it, `PARAM_ENVIRONMENT`.
    ParamVar,
    /// `plugin.env: [{name: DEAAP_ENVIRONMENT, value: ...}]`.
    EnvVar,
}

/// Runs `deaap-gen argocd <sub>` in `dir` as the cmp-server would.
fn cmp_run(dir: &Path, sub: &str, extra: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_deaap-gen"));
    c.current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("ARGOCD_APP_NAME", "deaap")
        .env("ARGOCD_APP_NAMESPACE", "deaap")
        .env("ARGOCD_APP_PROJECT_NAME", "default")
        .env(
            "ARGOCD_APP_REVISION",
            "0123456789abcdef0123456789abcdef01234567",
        )
        .env("KUBE_VERSION", "1.33.0")
        .env(
            "KUBE_API_VERSIONS",
            "apps/v1,apps/v1/Deployment,autoscaling/v2,autoscaling/v2/HorizontalPodAutoscaler,batch/v1,batch/v1/CronJob,v1,v1/ConfigMap,v1/Namespace,v1/Service",
        )
        .envs(extra.iter().copied())
        .args(["argocd", sub])
        .stdin(Stdio::null());
    c.output().expect("deaap-gen runs")
}

fn generate(dir: &Path, env: &str, how: Choice) -> Output {
    let json = serde_json::json!([{"name": "environment", "string": env}]).to_string();
    let var = match how {
        Choice::Parameters => ("ARGOCD_APP_PARAMETERS", json.as_str()),
        Choice::ParamVar => ("PARAM_ENVIRONMENT", env),
        Choice::EnvVar => ("ARGOCD_ENV_DEAAP_ENVIRONMENT", env),
    };
    cmp_run(dir, "generate", &[var])
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A YAML value as canonical JSON text (keys sorted), so objects compare as values whatever the
/// key order or formatting.
fn canonical(v: &serde_yaml::Value) -> String {
    fn sort(v: serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => {
                let sorted: BTreeMap<String, serde_json::Value> =
                    m.into_iter().map(|(k, v)| (k, sort(v))).collect();
                serde_json::Value::Object(sorted.into_iter().collect())
            }
            serde_json::Value::Array(a) => {
                serde_json::Value::Array(a.into_iter().map(sort).collect())
            }
            other => other,
        }
    }
    sort(serde_json::to_value(v).expect("a Kubernetes object is JSON-compatible")).to_string()
}

fn parse_stream(s: &str) -> Vec<serde_yaml::Value> {
    use serde::Deserialize;
    serde_yaml::Deserializer::from_str(s)
        .map(|d| serde_yaml::Value::deserialize(d).expect("stdout is YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

/// The folders and file whose objects the stream carries (README "The output tree of one
/// environment"); the restore Jobs in backup/ are run by hand, never streamed.
fn is_manifest_path(p: &str) -> bool {
    // The restores (`backup/restore-*.yaml`) are applied by hand during a recovery, never synced.
    ["kubernetes/", "istio/", "opa/gatekeeper/", "backup/"]
        .iter()
        .any(|d| p.starts_with(d))
        && !p.starts_with("backup/restore-")
        || [
            "prometheus/prometheusrule.yaml",
            "prometheus/slo-prometheusrule.yaml",
            "grafana/dashboards.yaml",
        ]
        .contains(&p)
}

/// Every object of the built tree's manifest files, checked against the kinds its index records.
fn objects_of_tree(env_dir: &Path) -> Vec<serde_yaml::Value> {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env_dir.join("deaap-manifest.json")).expect("index"))
            .expect("JSON");
    let files = read_tree(env_dir);
    let mut objects = Vec::new();
    for f in index["files"].as_array().expect("files") {
        let path = f["path"].as_str().expect("path");
        if !is_manifest_path(path) || !(path.ends_with(".yaml") || path.ends_with(".yml")) {
            continue;
        }
        let found = parse_stream(&text(&files[path]));
        let mut kinds: Vec<String> = found
            .iter()
            .map(|o| o["kind"].as_str().unwrap_or_default().to_owned())
            .collect();
        kinds.sort();
        kinds.dedup();
        let mut listed: Vec<String> = f["kinds"]
            .as_array()
            .expect("kinds")
            .iter()
            .map(|k| k.as_str().expect("kind").to_owned())
            .collect();
        listed.sort();
        listed.dedup();
        assert_eq!(kinds, listed, "{path}: the index lists the kinds it holds");
        objects.extend(found);
    }
    objects
}

fn shipped_environments() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root().join("environments"))
        .expect("environments/")
        .map(|e| e.expect("entry").path())
        .filter(|p| deaap_gen::ops::inputs::declares_environment(p))
        .map(|p| p.file_stem().expect("stem").to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn assert_refused(o: &Output, what: &str) {
    assert_ne!(o.status.code(), Some(0), "{what}: must fail");
    assert!(
        o.status.code().is_some(),
        "{what}: exits, not killed by a signal"
    );
    assert!(
        o.stdout.is_empty(),
        "{what}: stdout must be empty, got {}",
        text(&o.stdout)
    );
    let err = text(&o.stderr);
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{what}: one-line reason, got:\n{err}"
    );
    assert!(!err.contains("panicked"), "{what}: {err}");
}

/// For every shipped environment and every way of choosing it, stdout is exactly the objects of
/// the built tree's manifest files, as parsed values and as a multiset, Namespaces first, then the
/// CustomResourceDefinitions; or, when the environment has none, a refusal.
#[test]
fn generate_prints_exactly_the_trees_objects() {
    let dir = scratch_with_environments();
    build(dir.path(), "out");
    let envs = shipped_environments();
    assert!(envs.contains(&"production".to_owned()), "{envs:?}");
    for env in &envs {
        let expected = objects_of_tree(&dir.path().join("out").join(env));
        let mut streams = Vec::new();
        for how in [Choice::Parameters, Choice::ParamVar, Choice::EnvVar] {
            let o = generate(dir.path(), env, how);
            let what = format!("{env} via {how:?}");
            if expected.is_empty() {
                assert_refused(&o, &what);
                assert!(text(&o.stderr).contains("no Kubernetes objects"), "{what}");
                continue;
            }
            assert_eq!(o.status.code(), Some(0), "{what}: {}", text(&o.stderr));
            let objects = parse_stream(&text(&o.stdout));
            for obj in &objects {
                for key in ["apiVersion", "kind"] {
                    assert!(
                        obj[key].as_str().is_some_and(|s| !s.is_empty()),
                        "{what}: {key} in {obj:?}"
                    );
                }
                assert!(
                    obj["metadata"]["name"]
                        .as_str()
                        .is_some_and(|s| !s.is_empty()),
                    "{what}: metadata.name in {obj:?}"
                );
            }
            let mut got: Vec<String> = objects.iter().map(canonical).collect();
            let mut want: Vec<String> = expected.iter().map(canonical).collect();
            got.sort();
            want.sort();
            assert!(got == want, "{what}: the stream is not the tree's objects");
            let kinds: Vec<&str> = objects
                .iter()
                .map(|o| o["kind"].as_str().unwrap_or_default())
                .collect();
            let first_other = kinds
                .iter()
                .position(|k| *k != "Namespace")
                .unwrap_or(kinds.len());
            assert!(
                kinds[first_other..].iter().all(|k| *k != "Namespace"),
                "{what}: Namespaces come first: {kinds:?}"
            );
            // Then the deaap.io CustomResourceDefinitions, before anything else.
            let definitions = kinds[first_other..]
                .iter()
                .take_while(|k| **k == "CustomResourceDefinition")
                .count();
            assert_eq!(definitions, 2, "{what}: definitions right after: {kinds:?}");
            let is_constraint = |o: &serde_yaml::Value| {
                o["apiVersion"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("constraints.gatekeeper.sh/"))
            };
            if let Some(c) = objects.iter().position(is_constraint) {
                assert!(
                    kinds[c..].iter().all(|k| *k != "ConstraintTemplate"),
                    "{what}: templates before their constraints"
                );
            }
            let log = text(&o.stderr);
            assert!(
                log.contains(&format!("{} objects", objects.len())),
                "{what}: logs to stderr: {log}"
            );
            streams.push(o.stdout);
        }
        // Whichever way it is chosen, and through `render`, the stream is the same.
        if let Some(first) = streams.first() {
            assert!(streams.iter().all(|s| s == first), "{env}");
            let r =
                crate::support::run(dir.path(), &["render", &format!("environments/{env}.toml")]);
            assert_eq!(&r.stdout, first, "{env}: render and argocd generate agree");
        }
    }
}

#[test]
fn broken_environment_fails_with_empty_stdout() {
    let dir = scratch_with_environments();
    edit(
        &dir.path().join("environments/production.toml"),
        "replicas = 5\n",
        "replcas = 5\n",
    );
    for how in [Choice::Parameters, Choice::ParamVar, Choice::EnvVar] {
        let o = generate(dir.path(), "production", how);
        assert_refused(&o, "broken production");
        let err = text(&o.stderr);
        assert!(err.contains("environments/production.toml"), "{err}");
        assert!(
            err.contains("DG0051") && err.contains("replcas"),
            "names the problem: {err}"
        );
    }
    // A broken layer underneath is as fatal.
    let dir = scratch_with_environments();
    std::fs::write(dir.path().join("environments/base.toml"), "[services\n").expect("write");
    assert_refused(
        &generate(dir.path(), "staging", Choice::Parameters),
        "broken base.toml",
    );
}

#[test]
fn unknown_or_escaping_environment_is_refused() {
    let dir = scratch_with_environments();
    std::fs::write(dir.path().join("x.toml"), "[environment]\nname = \"x\"\n").expect("write");
    for env in [
        "qa",
        "../x",
        "../environments/production",
        "/etc/passwd",
        "production/../production",
        "Production",
        "production.toml",
        "",
        "base",
    ] {
        for how in [Choice::Parameters, Choice::ParamVar, Choice::EnvVar] {
            assert_refused(
                &generate(dir.path(), env, how),
                &format!("{env:?} via {how:?}"),
            );
        }
    }
    // No environment at all, a parameter of the wrong type, malformed JSON, an escaping folder.
    let cases: [&[(&str, &str)]; 5] = [
        &[],
        &[("ARGOCD_APP_PARAMETERS", "[]")],
        &[(
            "ARGOCD_APP_PARAMETERS",
            r#"[{"name":"environment","array":["production"]}]"#,
        )],
        &[("ARGOCD_APP_PARAMETERS", "[{")],
        &[
            ("PARAM_ENVIRONMENT", "production"),
            ("PARAM_DIRECTORY", "../.."),
        ],
    ];
    for extra in cases {
        assert_refused(
            &cmp_run(dir.path(), "generate", extra),
            &format!("{extra:?}"),
        );
    }
}

/// The `directory` parameter points at another folder inside the application.
#[test]
fn directory_parameter_moves_the_environment_folder() {
    let dir = scratch_with_environments();
    std::fs::rename(dir.path().join("environments"), dir.path().join("deaap")).expect("mv");
    let params = serde_json::json!([
        {"name": "environment", "string": "production"},
        {"name": "directory", "string": "deaap"},
    ])
    .to_string();
    let moved = cmp_run(
        dir.path(),
        "generate",
        &[("ARGOCD_APP_PARAMETERS", &params)],
    );
    std::fs::rename(dir.path().join("deaap"), dir.path().join("environments")).expect("mv");
    let default = generate(dir.path(), "production", Choice::Parameters);
    assert_eq!(
        moved.status.code(),
        default.status.code(),
        "{}",
        text(&moved.stderr)
    );
    assert_eq!(moved.stdout, default.stdout);
    // Discovery follows it too.
    let d = cmp_run(
        dir.path(),
        "discover",
        &[("PARAM_DIRECTORY", "environments")],
    );
    assert_eq!(d.status.code(), Some(0));
}

#[cfg(unix)]
#[test]
fn symlinks_out_of_the_application_folder_are_refused() {
    use std::os::unix::fs::symlink;
    // Another project's environments, outside the application folder.
    let elsewhere = scratch_with_environments();
    let app = tempfile::tempdir().expect("temp dir");
    symlink(
        elsewhere.path().join("environments"),
        app.path().join("environments"),
    )
    .expect("link");
    std::fs::create_dir(app.path().join("deaap")).expect("mkdir");
    symlink(
        elsewhere.path().join("environments"),
        app.path().join("deaap/linked"),
    )
    .expect("link");
    let params = serde_json::json!([
        {"name": "environment", "string": "production"},
        {"name": "directory", "string": "deaap/linked"},
    ])
    .to_string();
    let by_file = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(by_file.path().join("environments")).expect("mkdir");
    symlink(
        elsewhere.path().join("environments/production.toml"),
        by_file.path().join("environments/production.toml"),
    )
    .expect("link");
    for o in [
        generate(app.path(), "production", Choice::Parameters),
        cmp_run(
            app.path(),
            "generate",
            &[("ARGOCD_APP_PARAMETERS", &params)],
        ),
        generate(by_file.path(), "production", Choice::EnvVar),
        cmp_run(app.path(), "discover", &[]),
    ] {
        assert_ne!(o.status.code(), Some(0), "{}", text(&o.stderr));
        assert!(o.stdout.is_empty(), "{}", text(&o.stdout));
        assert!(
            text(&o.stderr).contains("leads outside the application folder"),
            "{}",
            text(&o.stderr)
        );
    }
}

#[test]
fn discover_matches_only_folders_with_environments() {
    let dir = scratch_with_environments();
    let o = cmp_run(dir.path(), "discover", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let listed = text(&o.stdout);
    assert!(listed.contains("environments/production.toml"), "{listed}");
    assert!(
        !listed.contains("base.toml"),
        "partials are not environments: {listed}"
    );

    let o = cmp_run(dir.path(), "discover", &[("PARAM_DIRECTORY", "../..")]);
    assert!(
        o.stdout.is_empty() && o.status.code() != Some(0),
        "stays inside the application"
    );

    let empty = tempfile::tempdir().expect("temp dir");
    let o = cmp_run(empty.path(), "discover", &[]);
    assert_ne!(o.status.code(), Some(0));
    assert!(o.stdout.is_empty(), "Argo CD matches on non-empty stdout");

    std::fs::create_dir_all(empty.path().join("environments")).expect("mkdir");
    std::fs::write(
        empty.path().join("environments/app.toml"),
        "[package]\nname = \"x\"\n",
    )
    .expect("write");
    let o = cmp_run(empty.path(), "discover", &[]);
    assert!(
        o.stdout.is_empty(),
        "TOML without [environment] is not ours"
    );
}

fn load_yaml(rel: &str) -> serde_yaml::Value {
    let path = root().join(rel);
    let t = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
    serde_yaml::from_str(&t).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn strings(v: &serde_yaml::Value) -> Vec<&str> {
    v.as_sequence()
        .map(|s| s.iter().filter_map(serde_yaml::Value::as_str).collect())
        .unwrap_or_default()
}

/// plugin.yaml, field by field as Part B §1 describes what the cmp-server reads.
#[test]
fn plugin_yaml_follows_the_cmp_contract() {
    let p = load_yaml("deploy/argocd/plugin.yaml");
    assert_eq!(p["apiVersion"].as_str(), Some("argoproj.io/v1alpha1"));
    assert_eq!(p["kind"].as_str(), Some("ConfigManagementPlugin"));
    assert_eq!(p["metadata"]["name"].as_str(), Some("deaap-gen"));
    let spec = &p["spec"];
    assert_eq!(spec["version"].as_str(), Some("v1.0"));
    assert_eq!(strings(&spec["generate"]["command"]), ["deaap-gen"]);
    assert_eq!(strings(&spec["generate"]["args"]), ["argocd", "generate"]);
    // Only the first of fileName > find.glob > find.command is used: ours must be the command.
    assert!(spec["discover"]["fileName"].is_null());
    assert!(spec["discover"]["find"]["glob"].is_null());
    assert_eq!(
        strings(&spec["discover"]["find"]["command"]),
        ["deaap-gen", "argocd", "discover"]
    );
    let statics = spec["parameters"]["static"]
        .as_sequence()
        .expect("static parameters");
    let param = |name: &str| {
        statics
            .iter()
            .find(|a| a["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("parameter `{name}` announced"))
    };
    let env = param("environment");
    assert_eq!(env["required"].as_bool(), Some(true));
    assert!(env["title"].as_str().is_some_and(|t| !t.is_empty()));
    let dir = param("directory");
    assert_ne!(dir["required"].as_bool(), Some(true));
    assert_eq!(
        dir["string"].as_str(),
        Some("environments"),
        "the default is announced"
    );
    for a in statics {
        let t = a["itemType"].as_str().unwrap_or("string");
        let c = a["collectionType"].as_str().unwrap_or("string");
        assert_eq!((t, c), ("string", "string"), "{a:?}");
    }
    // Every key is one Argo CD knows (unknown keys are silently ignored, which hides typos).
    let known = [
        "version",
        "init",
        "generate",
        "discover",
        "parameters",
        "preserveFileMode",
        "provideGitCreds",
    ];
    for k in spec.as_mapping().expect("spec").keys() {
        assert!(
            known.contains(&k.as_str().unwrap_or_default()),
            "unknown spec key {k:?}"
        );
    }
}

#[test]
fn repo_server_patch_registers_the_sidecar() {
    let d = load_yaml("deploy/argocd/repo-server-patch.yaml");
    assert_eq!(d["kind"].as_str(), Some("Deployment"));
    assert_eq!(d["metadata"]["name"].as_str(), Some("argocd-repo-server"));
    let pod = &d["spec"]["template"]["spec"];
    let c = pod["containers"]
        .as_sequence()
        .and_then(|cs| cs.iter().find(|c| c["name"].as_str() == Some("deaap-gen")))
        .expect("a deaap-gen sidecar");
    assert_eq!(
        strings(&c["command"]),
        ["/var/run/argocd/argocd-cmp-server"]
    );
    assert_eq!(
        c["image"].as_str(),
        Some("registry.deaap.company.com/deaap/deaap-gen:0.1.0")
    );
    assert_eq!(c["securityContext"]["runAsUser"].as_u64(), Some(999));
    assert_eq!(c["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    let mounts: BTreeMap<&str, (&str, Option<&str>)> = c["volumeMounts"]
        .as_sequence()
        .expect("mounts")
        .iter()
        .map(|m| {
            (
                m["mountPath"].as_str().expect("mountPath"),
                (m["name"].as_str().expect("name"), m["subPath"].as_str()),
            )
        })
        .collect();
    assert_eq!(mounts["/var/run/argocd"].0, "var-files");
    assert_eq!(mounts["/home/argocd/cmp-server/plugins"].0, "plugins");
    let (cfg, sub) = mounts["/home/argocd/cmp-server/config/plugin.yaml"];
    assert_eq!(sub, Some("plugin.yaml"));
    let (tmp, _) = mounts["/tmp"];
    let volume = |name: &str| {
        pod["volumes"]
            .as_sequence()
            .and_then(|vs| vs.iter().find(|v| v["name"].as_str() == Some(name)))
            .unwrap_or_else(|| panic!("volume `{name}` declared"))
    };
    let cm = volume(cfg)["configMap"]["name"]
        .as_str()
        .expect("a ConfigMap volume");
    assert!(
        volume(tmp)["emptyDir"].is_mapping(),
        "/tmp is the sidecar's own emptyDir"
    );
    // The verdicts cache is on that emptyDir, the one writable place of a read-only root.
    let cache = c["env"]
        .as_sequence()
        .and_then(|e| {
            e.iter()
                .find(|v| v["name"].as_str() == Some("DEAAP_GEN_CACHE_DIR"))
        })
        .and_then(|v| v["value"].as_str())
        .expect("DEAAP_GEN_CACHE_DIR set");
    assert!(cache.starts_with("/tmp/"), "{cache}");
    // The ConfigMap the volume names is generated from plugin.yaml itself, so they cannot drift.
    let k = load_yaml("deploy/argocd/kustomization.yaml");
    let generator = k["configMapGenerator"]
        .as_sequence()
        .and_then(|g| g.iter().find(|g| g["name"].as_str() == Some(cm)))
        .expect("the ConfigMap is generated by the kustomization");
    assert_eq!(strings(&generator["files"]), ["plugin.yaml"]);
    assert_eq!(
        generator["options"]["disableNameSuffixHash"].as_bool(),
        Some(true)
    );
}

#[test]
fn example_applications_select_the_plugin() {
    let plugin = load_yaml("deploy/argocd/plugin.yaml");
    let socket = format!(
        "{}-{}",
        plugin["metadata"]["name"].as_str().expect("name"),
        plugin["spec"]["version"].as_str().expect("version")
    );
    let envs = shipped_environments();
    for env in ["staging", "production"] {
        let a = load_yaml(&format!("deploy/argocd/application-{env}.yaml"));
        assert_eq!(a["apiVersion"].as_str(), Some("argoproj.io/v1alpha1"));
        assert_eq!(a["kind"].as_str(), Some("Application"));
        let source = &a["spec"]["source"];
        assert!(source["repoURL"].as_str().is_some_and(|u| !u.is_empty()));
        assert_eq!(source["plugin"]["name"].as_str(), Some(socket.as_str()));
        let params = source["plugin"]["parameters"]
            .as_sequence()
            .expect("parameters");
        let chosen = params
            .iter()
            .find(|p| p["name"].as_str() == Some("environment"))
            .and_then(|p| p["string"].as_str())
            .expect("the environment parameter is set");
        assert_eq!(chosen, env);
        assert!(envs.iter().any(|e| e == chosen));
        assert!(
            a["spec"]["destination"]["server"].as_str().is_some()
                || a["spec"]["destination"]["name"].as_str().is_some()
        );
    }
    // The files are what `kubectl` and Argo CD read: no tabs, no stray documents.
    for f in read_tree(&root().join("deploy/argocd")).keys() {
        if f.ends_with(".yaml") {
            let t = std::fs::read_to_string(root().join("deploy/argocd").join(f)).expect("read");
            assert!(!t.contains('\t'), "{f}");
            assert_eq!(parse_stream(&t).len(), 1, "{f}: one document");
        }
    }
}
