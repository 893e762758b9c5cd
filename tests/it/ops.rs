//! The operations scripts and the recovery runbook as an operator runs them: the generated
//! `ops/health-check.sh` and `ops/scale-services.sh` with bash (their `--dry-run`, and against a
//! stand-in `kubectl` that fails or records), and `dr/README.md` against the dependency graph and
//! the files it applies. No cluster is needed.

use crate::support::{root, run, stderr, stdout};
use deaap_gen::model::Environment;
use deaap_gen::plan::{self, Kind};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The shipped environments and the recovery fixture, built once into a scratch folder.
fn built() -> &'static Path {
    static OUT: OnceLock<tempfile::TempDir> = OnceLock::new();
    OUT.get_or_init(|| {
        let out = tempfile::tempdir().expect("temp dir");
        let dest = out.path().to_str().expect("UTF-8 path");
        for input in ["environments/", "tests/fixtures/dr.toml"] {
            let o = run(&root(), &["build", input, "-o", dest]);
            assert!(o.status.success(), "build {input}: {}", stderr(&o));
        }
        out
    })
    .path()
}

fn model(file: &str) -> Environment {
    deaap_gen::load_model(&root().join(file)).expect("the environment loads")
}

/// Runs `bash <env>/<script> ARGS` with `PATH` starting at `bin` when given.
fn bash(env: &str, script: &str, args: &[&str], bin: Option<&Path>) -> Output {
    let mut c = Command::new("bash");
    c.arg(built().join(env).join(script)).args(args);
    if let Some(bin) = bin {
        let path = std::env::var("PATH").unwrap_or_default();
        c.env("PATH", format!("{}:{path}", bin.display()));
    }
    c.env("HEALTH_CHECK_TIMEOUT", "5")
        .output()
        .expect("bash runs")
}

/// A folder holding a stand-in `kubectl`: the given bash body, after it logs its arguments to
/// `kubectl.log` beside it.
fn fake_kubectl(body: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("kubectl.log");
    let script = format!(
        "#!/usr/bin/env bash\nprintf '%s\\n' \"$*\" >> '{}'\n{body}\n",
        log.display()
    );
    let path: PathBuf = dir.path().join("kubectl");
    std::fs::write(&path, script).expect("write kubectl");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

/// `--dry-run` prints, for every enabled service, the port forward to its `<name>-service` on its
/// port and the request of its health path, in its namespace; the stores' readiness commands and
/// the blockchain's JSON-RPC call; and exits 0.
#[test]
fn health_check_dry_run_names_every_check() {
    for name in ["staging", "production"] {
        let env = model(&format!("environments/{name}.toml"));
        let o = bash(name, "ops/health-check.sh", &["--dry-run"], None);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let out = stdout(&o);
        for (_, ns) in env
            .namespaces
            .iter()
            .filter(|(k, _)| k.as_str() != "monitoring")
        {
            assert!(
                out.contains(&format!("kubectl get pods --namespace {ns} ")),
                "{name}: pods of {ns}\n{out}"
            );
        }
        for (svc, s) in env.enabled_services() {
            let ns = env.namespace(s.namespace);
            assert!(
                out.contains(&format!(
                    "kubectl port-forward --namespace {ns} service/{svc}-service :{}\n",
                    s.port
                )),
                "{name}: {svc}\n{out}"
            );
            assert!(
                out.contains(&format!("http://127.0.0.1:LOCAL_PORT{}\n", s.health_path)),
                "{name}: {svc}"
            );
        }
        let storage = env.namespace(deaap_gen::model::NamespaceKey::Storage);
        // Production's stores are replicated: the Sentinel set's and CloudNativePG's Services.
        let (redis, postgres) = if name == "production" {
            ("redis-sentinel", "postgres-rw")
        } else {
            ("redis", "postgres")
        };
        assert!(
            out.contains(&format!(
                "kubectl exec --namespace {storage} service/{redis} --container redis -- redis-cli -p 6379 ping"
            )),
            "{name}\n{out}"
        );
        assert!(
            out.contains(&format!(
                "kubectl exec --namespace {storage} service/{postgres} --container postgres -- pg_isready"
            )),
            "{name}\n{out}"
        );
        assert!(out.contains("/readyz"));
        assert!(out.contains(r#""method":"eth_blockNumber""#));
    }
}

/// Without a reachable cluster every check fails, and each one is named: the script does not stop
/// at the first.
#[test]
fn health_check_names_every_failed_check() {
    let bin = fake_kubectl("exit 1");
    let o = bash("staging", "ops/health-check.sh", &[], Some(bin.path()));
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    let checks = out.lines().filter(|l| l.starts_with("FAIL  ")).count();
    let env = model("environments/staging.toml");
    let deployed = plan::deployed(&env).len();
    // Every workload, and the pods of the three namespaces DEAAP runs in.
    assert_eq!(checks, deployed + 3, "{out}");
    assert!(out.contains(&format!(
        "{checks} of {checks} checks failed: pods of deaap-core, "
    )));
    assert!(out.contains("service doc-ingester"));
}

/// A cluster whose pods run and whose stores answer, but whose HTTP endpoints cannot be reached:
/// the store checks pass, the others are named.
#[test]
fn health_check_reports_each_check_on_its_own() {
    let bin = fake_kubectl(r#"case "$1" in get | exec) exit 0 ;; *) exit 1 ;; esac"#);
    let o = bash("staging", "ops/health-check.sh", &[], Some(bin.path()));
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("ok    pods of deaap-core"), "{out}");
    assert!(out.contains("ok    storage backend redis"), "{out}");
    assert!(out.contains("ok    storage backend postgres"), "{out}");
    assert!(out.contains("FAIL  storage backend vector-db"), "{out}");
    assert!(out.contains("FAIL  service api-gateway"), "{out}");
    let log = std::fs::read_to_string(bin.path().join("kubectl.log")).expect("log");
    assert!(log.contains(
        "exec --namespace deaap-storage service/redis --container redis -- redis-cli -p 6379 ping"
    ));
}

fn scale(env: &str, args: &[&str]) -> Output {
    bash(env, "ops/scale-services.sh", args, None)
}

/// The most replicas of `service` the quota of its namespace holds, as the generator computes it.
fn ceiling(file: &str, service: &str) -> u32 {
    let env = model(file);
    let ws = plan::workloads(&env);
    plan::quota::ceiling(&env, &ws, service).expect("a quota")
}

/// Within the quota the autoscaler's bounds change; one more replica than the quota holds is
/// refused before anything runs.
#[test]
fn scale_changes_the_autoscaler_within_the_quota() {
    for (name, file) in [
        ("staging", "environments/staging.toml"),
        ("production", "environments/production.toml"),
    ] {
        let top = ceiling(file, "doc-ingester");
        let min = model(file).services["doc-ingester"]
            .autoscaling
            .as_ref()
            .expect("autoscaled")
            .min_replicas;
        let o = scale(
            name,
            &[
                "--dry-run",
                "doc-ingester",
                &min.to_string(),
                &top.to_string(),
            ],
        );
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert_eq!(
            stdout(&o),
            format!(
                "kubectl patch horizontalpodautoscaler doc-ingester --namespace deaap-core --type merge --patch '{{\"spec\":{{\"minReplicas\":{min},\"maxReplicas\":{top}}}}}'\n"
            )
        );
        let over = (top + 1).to_string();
        let o = scale(
            name,
            &["--dry-run", "doc-ingester", &min.to_string(), &over],
        );
        assert_eq!(o.status.code(), Some(2), "{name}");
        assert!(stdout(&o).is_empty());
        assert!(
            stderr(&o).contains(&format!(
                "the ResourceQuota of deaap-core holds at most {top} replicas of doc-ingester"
            )),
            "{}",
            stderr(&o)
        );
    }
    // Production's core quota is full at the starting replica set (its environment file says so).
    assert_eq!(ceiling("environments/production.toml", "doc-ingester"), 5);
}

/// An unknown service is refused with the list of the valid ones; a service without an autoscaler
/// and nonsense bounds are refused too.
#[test]
fn scale_refuses_what_it_cannot_do() {
    let o = scale("staging", &["--dry-run", "doc-ingestor", "2", "3"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("unknown service doc-ingestor"), "{err}");
    let env = model("environments/staging.toml");
    for (svc, _) in env.enabled_services() {
        assert!(err.contains(svc.as_str()), "{svc} not listed: {err}");
    }
    let o = scale("staging", &["--dry-run", "api-gateway", "2", "3"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("api-gateway has no HorizontalPodAutoscaler"));
    for bad in [["3", "2"], ["0", "2"], ["two", "3"]] {
        let o = scale("staging", &["doc-ingester", bad[0], bad[1]]);
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
    }
    let o = scale("staging", &["doc-ingester"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("Usage: scale-services.sh"));
}

/// Run for real, it patches the autoscaler and never scales the Deployment.
#[test]
fn scale_patches_the_autoscaler_only() {
    let bin = fake_kubectl("exit 0");
    let o = bash(
        "staging",
        "ops/scale-services.sh",
        &["doc-ingester", "2", "4"],
        Some(bin.path()),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let log = std::fs::read_to_string(bin.path().join("kubectl.log")).expect("log");
    let first = log.lines().next().expect("kubectl ran");
    assert!(
        first.starts_with("patch horizontalpodautoscaler doc-ingester --namespace deaap-core"),
        "{log}"
    );
    assert!(!log.lines().any(|l| l.starts_with("scale")), "{log}");
}

/// The files a runbook applies or runs.
fn referenced(book: &str) -> Vec<String> {
    book.split_whitespace()
        .map(|w| w.trim_matches(|c| c == '`' || c == ','))
        .filter(|w| {
            (w.starts_with("kubernetes/") || w.starts_with("backup/") || w.starts_with("ops/"))
                && (w.ends_with(".yaml") || w.ends_with(".sh"))
        })
        .map(str::to_owned)
        .collect()
}

/// Every workload is started after what it depends on, and every file the runbook applies is one
/// the generator writes, except the restores of stores whose backups the store's own generation
/// writes (listed when the model backs the store up).
#[test]
fn the_runbook_follows_the_dependency_graph() {
    for (name, file) in [
        ("dr", "tests/fixtures/dr.toml"),
        ("staging", "environments/staging.toml"),
        ("production", "environments/production.toml"),
    ] {
        let env = model(file);
        let tree = built().join(name);
        let book = std::fs::read_to_string(tree.join("dr/README.md")).expect("runbook");
        let started = |w: &plan::Workload<'_>| {
            let file = match w.kind {
                Kind::Storage => format!("kubernetes/storage-{}.yaml", w.name),
                Kind::Consensus => "kubernetes/validators.yaml".to_owned(),
                _ => format!("kubernetes/{}.yaml", w.name),
            };
            book.find(&format!("kubectl apply --filename {file}\n"))
                .unwrap_or_else(|| panic!("{name}: {file} is never applied"))
        };
        let deployed = plan::deployed(&env);
        for w in &deployed {
            for dep in &w.depends_on {
                if let Some(d) = deployed.iter().find(|d| &d.name == dep) {
                    assert!(
                        started(d) < started(w),
                        "{name}: {} starts before {dep}",
                        w.name
                    );
                }
            }
        }
        let store_restores: Vec<String> = env
            .backup
            .databases
            .values()
            .filter(|db| env.storage.contains_key(&db.source))
            .map(|db| format!("backup/restore-{}.yaml", db.source))
            .collect();
        let refs = referenced(&book);
        assert!(refs.iter().any(|r| r == "ops/health-check.sh"), "{name}");
        for r in refs {
            assert!(
                tree.join(&r).is_file() || store_restores.contains(&r),
                "{name}: the runbook applies {r}, which is not generated"
            );
        }
    }
}
