//! The admission proof: pods mutated by the injectors the model enables, then Pod Security
//! Admission at each namespace's level and the generated Gatekeeper constraints. One pod per Pod
//! Security control and level is refused, a compliant pod is admitted, and each admission defect
//! the shipped environments had is caught on a fixture that reproduces it.

use crate::support::{deaap_gen, edit, files_of, root, run, stderr, stdout};
use deaap_gen::model::PodSecurityLevel;
use deaap_gen::proof::admission::{Gatekeeper, mutate, pss};
use serde_json::{Value, json};
use std::path::Path;

/// RFC 7386 JSON merge patch: objects merge, `null` removes a key, anything else replaces.
fn merge(target: &mut Value, patch: &Value) {
    let Some(p) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let t = target.as_object_mut().expect("an object");
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else {
            merge(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

fn level(s: &str) -> PodSecurityLevel {
    match s {
        "baseline" => PodSecurityLevel::Baseline,
        "restricted" => PodSecurityLevel::Restricted,
        other => panic!("unknown level {other}"),
    }
}

/// The generated Gatekeeper of tests/fixtures/security.toml (every policy on).
fn gatekeeper() -> Gatekeeper {
    let path = root().join("tests/fixtures/security.toml");
    let env = deaap_gen::load_model(&path).expect("the fixture loads");
    let artifacts = deaap_gen::generate(&env, &path).expect("generates");
    let gk = Gatekeeper::from_artifacts(&artifacts).expect("the generated Rego compiles");
    assert_eq!(gk.constraints().len(), 5);
    gk
}

const DEPLOYER: &str = deaap_gen::proof::admission::DEPLOYER;

#[test]
fn one_pod_per_pod_security_control_is_refused_and_a_compliant_pod_admitted() {
    let text = std::fs::read_to_string(root().join("tests/fixtures/admission/pss-pods.yaml"))
        .expect("fixture");
    let fixture: Value = serde_yaml::from_str(&text).expect("fixture parses");
    let compliant = &fixture["compliant"];
    let mut gk = gatekeeper();

    assert_eq!(
        pss::evaluate(compliant),
        vec![],
        "the compliant pod fails a control"
    );
    assert_eq!(
        gk.review(compliant, "CREATE", DEPLOYER).expect("evaluates"),
        vec![],
        "the generated constraints deny the compliant pod"
    );

    let cases = fixture["cases"].as_array().expect("cases");
    let mut covered = std::collections::BTreeSet::new();
    for (i, case) in cases.iter().enumerate() {
        let control = case["control"].as_str().expect("control");
        let at = level(case["level"].as_str().expect("level"));
        let mut pod = compliant.clone();
        pod["metadata"]["name"] = json!(format!("case-{i}"));
        if case.get("pod").is_some() {
            merge(&mut pod, &case["pod"]);
        }
        if case.get("container").is_some() {
            merge(&mut pod["spec"]["containers"][0], &case["container"]);
        }
        let failures = pss::evaluate(&pod);
        let what = format!("case {i} ({control}, {})", at.as_str());
        assert!(
            failures
                .iter()
                .any(|f| f.control == control && f.level == at),
            "{what}: the control does not fail: {failures:#?}"
        );
        // Exactly that control fails, so each case proves its own control.
        assert!(
            failures.iter().all(|f| f.control == control),
            "{what}: other controls fail too: {failures:#?}"
        );
        let refused_at = |enforce| failures.iter().any(|f| pss::refuses(enforce, f.level));
        assert!(refused_at(at), "{what}: admitted at its own level");
        assert!(
            refused_at(PodSecurityLevel::Restricted),
            "{what}: admitted at restricted"
        );
        assert!(!refused_at(PodSecurityLevel::Privileged), "{what}");
        if at == PodSecurityLevel::Restricted {
            assert!(
                !refused_at(PodSecurityLevel::Baseline),
                "{what}: a restricted control refused at baseline"
            );
        }
        // The generated non-root constraint covers every control of the restricted profile.
        let denied = gk.review(&pod, "CREATE", DEPLOYER).expect("evaluates");
        assert!(
            !denied.is_empty() && denied.iter().all(|d| d.kind == "DeaapNonRoot"),
            "{what}: the generated constraints answer {denied:#?}"
        );
        covered.insert((control, at.as_str()));
    }
    for (control, at) in pss::CONTROLS {
        assert!(
            covered.contains(&(control, at.as_str())),
            "no pod for {control} at {}",
            at.as_str()
        );
    }
}

/// A scratch folder with the minimal fixture and `name` (which extends it).
fn scratch(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for f in ["minimal.toml", name] {
        std::fs::copy(root().join("tests/fixtures").join(f), dir.path().join(f)).expect("copy");
    }
    dir
}

/// Fails unless `err` contains every one of `wanted`.
fn assert_mentions(err: &str, wanted: &[&str]) {
    for want in wanted {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
}

fn check(dir: &Path, file: &str) -> (Option<i32>, String, String) {
    let o = run(dir, &["check", file]);
    (o.status.code(), stdout(&o), stderr(&o))
}

#[test]
fn injected_images_come_from_the_model_registry() {
    let dir = scratch("workloads.toml");
    let (code, out, err) = check(dir.path(), "workloads.toml");
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("workloads: "), "{out}");

    // Without the model's images the injectors pull their upstream defaults, which the generated
    // allowed-registries constraint refuses on every meshed pod and every pod with secrets.
    without_model_images(dir.path());
    let (code, _, err) = check(dir.path(), "workloads.toml");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("error[DG0502]"), "{err}");
    assert_mentions(
        &err,
        &[
            "container \"istio-proxy\" uses image \"docker.io/istio/proxyv2:1.24.2\" from a registry that is not allowed",
            "init container \"istio-validation\" uses image \"docker.io/istio/proxyv2:1.24.2\"",
            "container \"vault-agent\" uses image \"hashicorp/vault:1.18.1\" from a registry that is not allowed",
            "init container \"vault-agent-init\" uses image \"hashicorp/vault:1.18.1\"",
            "(`security.mesh.proxy_image` is not set; its default applies)",
            "(`security.vault.agent_image` is not set; its default applies)",
            "Deployment mini-core/web (as Pod)",
            "CronJob mini-core/backup-service (as Pod)",
        ],
    );
}

/// Removes the injectors' images from the workloads fixture in `dir`: the injectors then pull
/// their upstream defaults.
fn without_model_images(dir: &Path) {
    edit(
        &dir.join("workloads.toml"),
        "proxy_image = { repository = \"istio/proxyv2\", tag = \"1.24.2\" }\n",
        "",
    );
    edit(
        &dir.join("minimal.toml"),
        ", agent_image = { repository = \"hashicorp/vault\", tag = \"1.18.1\" }",
        "",
    );
}

/// The workloads fixture with the injectors' upstream images, which the allowed-registries
/// constraint refuses: a fixture with Gatekeeper denials.
fn scratch_with_denials() -> tempfile::TempDir {
    let dir = scratch("workloads.toml");
    without_model_images(dir.path());
    dir
}

/// `check workloads.toml` in `dir`, keeping what runs may reuse in `cache`, with `extra` options.
fn check_keeping(dir: &Path, cache: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let o = deaap_gen(dir)
        .env_remove("DEAAP_GEN_NO_CACHE")
        .arg("--cache-dir")
        .arg(cache)
        .args(extra)
        .args(["check", "workloads.toml"])
        .output()
        .expect("the deaap-gen binary runs");
    (o.status.code(), stdout(&o), stderr(&o))
}

#[test]
fn gatekeeper_verdicts_kept_between_runs_change_no_diagnostic() {
    let dir = scratch_with_denials();
    let scratch = tempfile::tempdir().expect("temp dir");
    let cache = scratch.path().join("cache");
    let kept = cache.join("gatekeeper");
    let check_with = |extra: &[&str]| check_keeping(dir.path(), &cache, extra);
    let fresh = check(dir.path(), "workloads.toml");
    assert_eq!(fresh.0, Some(2), "{}", fresh.2);
    let allowed = "from a registry that is not allowed";
    assert!(fresh.2.contains(allowed), "{}", fresh.2);

    // The first run evaluates and keeps the verdicts: one file for the one environment, in a
    // folder only its owner reads.
    assert_eq!(check_with(&[]), fresh);
    let first = files_of(&kept);
    assert_eq!(first.len(), 1, "{first:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for folder in [&cache, &kept] {
            let mode = std::fs::metadata(folder)
                .expect("exists")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700, "{}", folder.display());
        }
    }
    // The second takes them as kept, with the same diagnostics, and writes nothing (the file is
    // the same file, not a copy renamed over it).
    let inode = |f: &Path| {
        #[cfg(unix)]
        {
            std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(f).expect("exists"))
        }
        #[cfg(not(unix))]
        {
            let _ = f;
            0
        }
    };
    let before = inode(&kept.join(&first[0].0));
    assert_eq!(check_with(&[]), fresh);
    assert_eq!(files_of(&kept), first);
    assert_eq!(inode(&kept.join(&first[0].0)), before);

    // A kept verdict is used as it is: a message changed in the file is the message reported,
    // unless `--no-cache`, which neither reads nor writes the file.
    let (name, bytes) = &first[0];
    let at = bytes
        .windows(allowed.len())
        .position(|w| w == allowed.as_bytes())
        .expect("a kept message");
    let mut changed = bytes.clone();
    changed[at..at + allowed.len()].copy_from_slice(allowed.to_uppercase().as_bytes());
    std::fs::write(kept.join(name), &changed).expect("write");
    let (_, _, err) = check_with(&[]);
    assert!(err.contains(&allowed.to_uppercase()), "{err}");
    assert_eq!(check_with(&["--no-cache"]), fresh);
    assert_eq!(files_of(&kept), vec![(name.clone(), changed.clone())]);

    // A file cut short or of another format is ignored and replaced.
    for broken in [&bytes[..bytes.len() / 2], b"not verdicts".as_slice(), &[]] {
        std::fs::write(kept.join(name), broken).expect("write");
        assert_eq!(check_with(&[]), fresh);
        assert_eq!(files_of(&kept), first);
    }

    // A changed workload is evaluated again (the Rego compiled for it), the others taken as
    // kept: the same diagnostics as a run that keeps nothing, and the file now holds both.
    edit(
        &dir.path().join("workloads.toml"),
        "image = { repository = \"acme/worker\", tag = \"1.0.0\" }",
        "image = { repository = \"acme/worker\", tag = \"1.0.1\" }",
    );
    let fresh = check(dir.path(), "workloads.toml");
    assert_eq!(fresh.0, Some(2), "{}", fresh.2);
    assert_eq!(check_with(&[]), fresh);
    let both = files_of(&kept);
    assert!(both[0].1.len() > bytes.len(), "{} bytes", both[0].1.len());
    assert_eq!(check_with(&[]), fresh);
}

/// Objects kept as passed stand for every review they passed only while what those reviews read
/// is unchanged: turning the mesh's CNI agent off changes no generated object, yet puts
/// `istio-init` into every meshed pod, which Pod Security Admission refuses.
#[test]
fn objects_kept_as_passed_are_reviewed_again_when_their_pods_would_change() {
    let dir = scratch("workloads.toml");
    let scratch = tempfile::tempdir().expect("temp dir");
    let cache = scratch.path().join("cache");
    let kept = cache.join("gatekeeper");
    let check_with = |extra: &[&str]| check_keeping(dir.path(), &cache, extra);
    let admitted = check(dir.path(), "workloads.toml");
    assert_eq!(admitted.0, Some(0), "{}", admitted.2);
    assert_eq!(check_with(&[]), admitted);
    let first = files_of(&kept);
    assert_eq!(first.len(), 1, "{first:?}");
    // Taken as kept: the same report, and nothing written.
    assert_eq!(check_with(&[]), admitted);
    assert_eq!(files_of(&kept), first);

    edit(
        &dir.path().join("workloads.toml"),
        "cni = true",
        "cni = false",
    );
    let refused = check(dir.path(), "workloads.toml");
    assert_eq!(refused.0, Some(2), "{}", refused.2);
    assert!(
        refused
            .2
            .contains("container `istio-init` sets runAsUser: 0"),
        "{}",
        refused.2
    );
    assert_eq!(check_with(&[]), refused);
    assert_eq!(check_with(&[]), refused);
    edit(
        &dir.path().join("workloads.toml"),
        "cni = false",
        "cni = true",
    );
    assert_eq!(check_with(&[]), admitted);
}

#[test]
fn gatekeeper_verdicts_are_kept_in_the_user_cache_folder() {
    let dir = scratch_with_denials();
    let home = tempfile::tempdir().expect("temp dir");
    let check_in = |xdg: &str, no_cache: &str| {
        deaap_gen(dir.path())
            .env("HOME", home.path())
            .env("XDG_CACHE_HOME", xdg)
            .env("DEAAP_GEN_NO_CACHE", no_cache)
            .args(["-q", "check", "workloads.toml"])
            .output()
            .expect("the deaap-gen binary runs")
    };
    let xdg = home.path().join("xdg");
    // `DEAAP_GEN_NO_CACHE=1` keeps nothing; `0` is off.
    check_in(xdg.to_str().expect("UTF-8"), "1");
    assert!(!xdg.exists());
    check_in(xdg.to_str().expect("UTF-8"), "0");
    assert_eq!(files_of(&xdg.join("deaap-gen/gatekeeper")).len(), 1);
    // A relative XDG_CACHE_HOME is not one: ~/.cache instead.
    check_in("relative", "");
    assert!(!dir.path().join("relative").exists());
    assert_eq!(
        files_of(&home.path().join(".cache/deaap-gen/gatekeeper")).len(),
        1
    );
}

/// `kubernetes/web.yaml` as the workloads fixture generates it.
fn generated_web() -> String {
    let path = root().join("tests/fixtures/workloads.toml");
    let env = deaap_gen::load_model(&path).expect("loads");
    let artifacts = deaap_gen::generate(&env, &path).expect("generates");
    let web = artifacts
        .iter()
        .find(|a| a.path == "kubernetes/web.yaml")
        .expect("web");
    String::from_utf8(web.bytes.read().expect("held").into_owned()).expect("UTF-8")
}

#[test]
fn generated_pods_name_the_injected_images() {
    let text = generated_web();
    assert!(
        text.contains("sidecar.istio.io/proxyImage: registry.example.com/istio/proxyv2:1.24.2"),
        "{text}"
    );
    assert!(
        text.contains(
            "vault.hashicorp.com/agent-image: registry.example.com/hashicorp/vault:1.18.1"
        ),
        "{text}"
    );
}

#[test]
fn istio_init_is_refused_under_restricted_without_the_cni_agent() {
    let dir = scratch("workloads.toml");
    edit(
        &dir.path().join("workloads.toml"),
        "cni = true",
        "cni = false",
    );
    let (code, _, err) = check(dir.path(), "workloads.toml");
    assert_eq!(code, Some(2), "{err}");
    assert_mentions(
        &err,
        &[
            "error[DG0501]: Pod Security Admission at the `restricted` level refuses the pods of",
            "container `istio-init` adds the capability NET_ADMIN (baseline control `Capabilities`)",
            "container `istio-init` sets runAsUser: 0",
            "Deployment mini-core/web (as Pod)",
            "workloads.toml",
            "cni = false",
            "set `security.mesh.cni = true`",
            // The generated non-root constraint refuses the same container.
            "init container \"istio-init\" adds the capability NET_ADMIN; only NET_BIND_SERVICE may be added (DeaapNonRoot)",
        ],
    );
}

#[test]
fn the_monitoring_namespace_level_fits_the_chart_it_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(
        root().join("tests/fixtures/minimal.toml"),
        dir.path().join("env.toml"),
    )
    .expect("copy");
    let env = dir.path().join("env.toml");
    edit(&env, "level = \"privileged\"", "level = \"restricted\"");
    let (code, _, err) = check(dir.path(), "env.toml");
    assert_eq!(code, Some(2), "{err}");
    assert_mentions(
        &err,
        &[
            "error[DG0501]",
            "Pod mini-monitoring/kube-prometheus-stack-prometheus-node-exporter",
            "the pod sets hostNetwork: true (baseline control `Host Namespaces`)",
            "the pod sets hostPID: true",
            "volume `root` mounts the node's path \"/\" (baseline control `HostPath Volumes`)",
            "binds the node's port 9100 (baseline control `Host Ports`)",
            "level = \"restricted\"",
        ],
    );
    // Baseline still refuses the node exporter: only privileged fits it.
    edit(&env, "level = \"restricted\"", "level = \"baseline\"");
    let (code, _, err) = check(dir.path(), "env.toml");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("hostNetwork"), "{err}");
    // Grafana's init container, root with CHOWN, is refused only at restricted.
    assert!(!err.contains("init-chown-data"), "{err}");
}

#[test]
fn grafana_init_container_is_refused_at_restricted_when_grafana_persists() {
    let values =
        json!({"grafana": {"persistence": {"enabled": true}}, "nodeExporter": {"enabled": false}});
    let pods = deaap_gen::proof::admission::chart::pods(&values, "mon");
    assert_eq!(pods.len(), 1);
    let failures = pss::evaluate(&pods[0]);
    assert!(
        failures
            .iter()
            .any(|f| f.container.as_deref() == Some("init-chown-data")
                && f.control == "Running as Non-root user"),
        "{failures:#?}"
    );
    assert!(
        failures
            .iter()
            .all(|f| !pss::refuses(PodSecurityLevel::Baseline, f.level))
    );
    let without =
        json!({"grafana": {"persistence": {"enabled": false}}, "nodeExporter": {"enabled": false}});
    let pods = deaap_gen::proof::admission::chart::pods(&without, "mon");
    assert_eq!(pss::evaluate(&pods[0]), vec![]);
}

#[test]
fn the_injectors_mutate_pods_as_the_cluster_would() {
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "n", "annotations": {
            "vault.hashicorp.com/agent-inject": "true",
            "vault.hashicorp.com/agent-pre-populate-only": "true",
            "sidecar.istio.io/nativeSidecar": "true",
            "sidecar.istio.io/proxyCPULimit": "300m",
        }},
        "spec": {"containers": [{"name": "app"}]},
    });
    let meshed = json!({"istio-injection": "enabled"});
    let (m, injected) = mutate::mutate(pod.clone(), &meshed, mutate::Istio { cni: true });
    let names = |field: &str| -> Vec<String> {
        m["spec"][field]
            .as_array()
            .map(|l| {
                l.iter()
                    .map(|c| c["name"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        names("initContainers"),
        ["istio-validation", "istio-proxy", "vault-agent-init"]
    );
    assert_eq!(names("containers"), ["app"]);
    assert_eq!(injected.len(), 3);
    let proxy = &m["spec"]["initContainers"][1];
    assert_eq!(proxy["restartPolicy"], "Always");
    assert_eq!(proxy["resources"]["limits"]["cpu"], "300m");
    assert_eq!(proxy["image"], mutate::ISTIO_DEFAULT_IMAGE);
    // Outside a meshed namespace only Vault injects; without pre-populate-only it adds the agent.
    let mut plain = pod.clone();
    plain["metadata"]["annotations"]
        .as_object_mut()
        .expect("annotations")
        .remove("vault.hashicorp.com/agent-pre-populate-only");
    let (m, _) = mutate::mutate(plain, &json!({}), mutate::Istio { cni: false });
    assert_eq!(m["spec"]["initContainers"][0]["name"], "vault-agent-init");
    assert_eq!(m["spec"]["containers"][1]["name"], "vault-agent");
    assert_eq!(
        m["spec"]["containers"][1]["securityContext"]["runAsUser"],
        100
    );
}

#[test]
fn injected_images_are_pinned_like_every_other_image() {
    let dir = crate::support::scratch_with_environments();
    let prod = dir.path().join("environments/production.toml");
    let mut text = std::fs::read_to_string(&prod).expect("read");
    text.push_str(
        "\n[security.mesh]\nproxy_image = { repository = \"istio/proxyv2\", tag = \"latest\" }\n\n[security.vault]\nagent_image = { repository = \"hashicorp/vault\", tag = \"dev\" }\n",
    );
    std::fs::write(&prod, text).expect("write");
    let o = run(dir.path(), &["validate", "environments/production.toml"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_mentions(
        &err,
        &[
            "error[DG0111]: image `istio/proxyv2` of the injected Istio proxy uses the moving tag `latest`",
            "error[DG0111]: image `hashicorp/vault` of the injected Vault agent uses the moving tag `dev`",
        ],
    );
}

#[test]
fn a_constraint_that_only_warns_is_a_warning_and_admits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let env = dir.path().join("env.toml");
    std::fs::copy(root().join("tests/fixtures/minimal.toml"), &env).expect("copy");
    edit(&env, "enforcement = \"deny\"", "enforcement = \"warn\"");
    edit(
        &env,
        "image = { repository = \"acme/web\", tag = \"1.0.0\" }",
        "image = { repository = \"acme/web\" }",
    );
    let (code, out, err) = check(dir.path(), "env.toml");
    assert_eq!(code, Some(0), "{err}");
    assert_mentions(
        &err,
        &[
            "warning[DG0502]: the generated Gatekeeper constraints warn about Deployment mini-core/web",
            "without a tag or digest",
        ],
    );
    assert!(!err.contains("error["), "{err}");
    assert!(out.starts_with("minimal: "), "{out}");
    edit(&env, "enforcement = \"warn\"", "enforcement = \"deny\"");
    let (code, _, err) = check(dir.path(), "env.toml");
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "error[DG0502]: the generated Gatekeeper constraints deny Deployment mini-core/web"
        ),
        "{err}"
    );
}

#[test]
fn the_vault_agent_init_container_reaches_vault_in_meshed_pods() {
    let pod = |annotations: Value| {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "n", "annotations": annotations},
            "spec": {"containers": [{"name": "app"}]},
        })
    };
    let vault = json!({
        "vault.hashicorp.com/agent-inject": "true",
        "vault.hashicorp.com/service": "https://vault.vault.svc.cluster.local:8200",
    });
    let meshed = json!({"istio-injection": "enabled"});
    let offline = |p: &Value, cni: bool| {
        let istio = mutate::Istio { cni };
        let (m, injected) = mutate::mutate(p.clone(), &meshed, istio);
        mutate::offline_init_containers(&m, &injected, istio)
    };
    // Redirected from the start (CNI) or after istio-init, with no proxy running yet.
    assert_eq!(offline(&pod(vault.clone()), true), ["vault-agent-init"]);
    assert_eq!(offline(&pod(vault.clone()), false), ["vault-agent-init"]);
    // Vault's port kept out of the redirection, or the proxy started first as a native sidecar.
    let mut excluded = vault.clone();
    excluded["traffic.sidecar.istio.io/excludeOutboundPorts"] = json!("15020,8200");
    assert!(offline(&pod(excluded), true).is_empty());
    let mut native = vault.clone();
    native["sidecar.istio.io/nativeSidecar"] = json!("true");
    assert!(offline(&pod(native), true).is_empty());
    // Outside the mesh nothing is redirected.
    let (m, injected) = mutate::mutate(pod(vault), &json!({}), mutate::Istio { cni: true });
    assert!(mutate::offline_init_containers(&m, &injected, mutate::Istio { cni: true }).is_empty());

    // The generated meshed pods with secrets keep Vault's port out of the redirection.
    let text = generated_web();
    assert!(
        text.contains("traffic.sidecar.istio.io/excludeOutboundPorts: '8200'"),
        "{text}"
    );
}

/// The pods CloudNativePG creates for a generated Cluster (and for the recovery Cluster of its
/// restore) are reviewed as the operator builds them: here admitted, and refused for an image the
/// allowed-registries constraint refuses, on the store's image.
#[test]
fn cloudnative_pg_instances_are_reviewed_from_their_cluster() {
    let dir = scratch("workloads.toml");
    std::fs::copy(
        root().join("tests/fixtures/cnpg.toml"),
        dir.path().join("cnpg.toml"),
    )
    .expect("copy");
    let (code, out, err) = check(dir.path(), "cnpg.toml");
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("cnpg: "), "{out}");
    let env = dir.path().join("cnpg.toml");
    edit(&env, "tier = \"production\"", "tier = \"staging\"");
    edit(&env, "tag = \"16.4\" }", "tag = \"latest\" }");
    let (code, _, err) = check(dir.path(), "cnpg.toml");
    assert_eq!(code, Some(2), "{err}");
    assert_mentions(
        &err,
        &[
            "error[DG0502]: the generated Gatekeeper constraints deny Cluster mini-storage/db (as Pod), Cluster mini-storage/db-restore (as Pod): container \"postgres\" uses image \"registry.example.com/cloudnative-pg/postgresql:latest\"",
            // The store's image (the table where it was first written).
            "--> workloads.toml:50:9",
        ],
    );
}
