//! The hardened pod template every DEAAP workload (Deployment, `StatefulSet`, `CronJob`) is built from,
//! so that a new workload is secure without anyone remembering to make it so: non-root with a fixed
//! UID, read-only root filesystem with writable `emptyDir`s only where the process must write, no
//! privilege escalation, no capabilities, the runtime's seccomp profile, no service-account token
//! unless the workload calls the Kubernetes API, requests and limits on every container, probes,
//! and secrets injected by the Vault agent as files, never as Secret objects.

use crate::model::{CpuMemory, Environment, Resources, SecretRef};
pub use crate::plan::{DataSource, Health, Workload, meshed};
use crate::plan::{ISTIO_PROXY, VAULT_AGENT};
use crate::targets::TargetError;
use crate::targets::kit::{labels, pod_labels, selector, selector_labels};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, ExecAction,
    HTTPGetAction, PersistentVolumeClaimVolumeSource, PodSecurityContext, PodSpec, PodTemplateSpec,
    Probe, ProjectedVolumeSource, ResourceRequirements, SeccompProfile, SecurityContext,
    ServiceAccountTokenProjection, TCPSocketAction, Toleration, TopologySpreadConstraint, Volume,
    VolumeMount, VolumeProjection,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The UID and GID every DEAAP container runs as: non-zero, and above 10000 so it cannot collide
/// with a user of the node.
pub const RUN_AS: i64 = 10001;

/// Where the Vault agent writes rendered secrets inside the pod.
const VAULT_SECRETS_DIR: &str = "/vault/secrets";

/// The projected token volume the Vault agent logs in with when the app container gets no token.
const VAULT_TOKEN_VOLUME: &str = "vault-token";

/// Istio injector annotations of a meshed pod: the `istio-proxy` container's requests and limits
/// (the quota and the require-limits policy need both), its image from the model's registry, for
/// a Job's pod a native sidecar, which Kubernetes stops when the Job's container exits so the Job
/// can complete, and for other pods with the Vault agent Vault's port kept out of the redirection.
fn mesh_annotations(env: &Environment, w: &Workload<'_>) -> BTreeMap<String, String> {
    let mut a = BTreeMap::new();
    let Some(r) = sidecar(env, w, ISTIO_PROXY) else {
        return a;
    };
    let p = "sidecar.istio.io";
    let cpu = ["proxyCPU", "proxyCPULimit"];
    let memory = ["proxyMemory", "proxyMemoryLimit"];
    a.extend(sized(p, cpu, memory, &r));
    if let Some(image) = &env.security.mesh.proxy_image {
        a.insert(format!("{p}/proxyImage"), env.image_ref(image));
    }
    if w.job {
        a.insert(format!("{p}/nativeSidecar"), "true".to_owned());
    } else if w.uses_vault() {
        // The Vault agent's init container runs before the proxy starts, while the pod's traffic
        // is already redirected to it: Vault's port bypasses the proxy (the connection is TLS).
        a.insert(
            "traffic.sidecar.istio.io/excludeOutboundPorts".to_owned(),
            env.security.vault.port().to_string(),
        );
    }
    a
}

/// An injector's annotations of an injected container's requests and limits: `prefix/key` for
/// (requests, limits) of CPU, then of memory.
fn sized(prefix: &str, cpu: [&str; 2], memory: [&str; 2], r: &Resources) -> Vec<(String, String)> {
    let values = [
        &r.requests.cpu,
        &r.limits.cpu,
        &r.requests.memory,
        &r.limits.memory,
    ];
    cpu.into_iter()
        .chain(memory)
        .zip(values)
        .map(|(key, q)| (format!("{prefix}/{key}"), q.to_string()))
        .collect()
}

/// The resources of the injected container `name` of a workload's pod, if it gets one.
fn sidecar(env: &Environment, w: &Workload<'_>, name: &str) -> Option<Resources> {
    w.sidecars(env)
        .into_iter()
        .find(|s| s.name == name)
        .map(|s| s.resources)
}

/// `checkov.io/skip<N>` annotations for the `security.waivers` that concern this workload: a
/// finding is accepted only where the model says so, with its reason.
#[must_use]
pub fn waiver_annotations(env: &Environment, workload: &str) -> BTreeMap<String, String> {
    env.security
        .waivers
        .iter()
        .filter(|w| w.workloads.is_empty() || w.workloads.iter().any(|n| n == workload))
        .enumerate()
        .map(|(i, w)| {
            (
                format!("checkov.io/skip{}", i + 1),
                format!("{}={}", w.check, w.reason),
            )
        })
        .collect()
}

/// Metadata of a workload object: standard labels plus its waivers.
#[must_use]
pub fn workload_meta(env: &Environment, w: &Workload<'_>) -> ObjectMeta {
    let annotations = waiver_annotations(env, &w.name);
    ObjectMeta {
        name: Some(w.name.clone()),
        namespace: Some(w.namespace.clone()),
        labels: Some(labels(env, &w.name, w.component)),
        annotations: (!annotations.is_empty()).then_some(annotations),
        ..ObjectMeta::default()
    }
}

/// The Vault path and key of a secret: on Kubernetes secrets come from Vault.
fn vault_ref<'a>(name: &str, reference: &'a SecretRef) -> Result<(&'a str, &'a str), TargetError> {
    match reference {
        SecretRef::Vault { path, key } => Ok((path, key)),
        SecretRef::File(_) | SecretRef::Env(_) => Err(TargetError(format!(
            "secret `{name}` is not a `vault:<path>#<key>` reference; on Kubernetes secrets come from Vault"
        ))),
    }
}

/// The Consul-template that renders one key of a Vault secret. KV version 2 paths (`…/data/…`)
/// nest the keys under `.Data.data`; `index` with a quoted key also works for keys with dashes.
/// The key is quoted as a JSON string, which is also a valid Go template string literal.
fn vault_template((path, key): (&str, &str)) -> Result<String, TargetError> {
    let data = if path.contains("/data/") {
        ".Data.data"
    } else {
        ".Data"
    };
    let path = serde_json::to_string(path)?;
    let key = serde_json::to_string(key)?;
    Ok(format!(
        "{{{{- with secret {path} -}}}}{{{{ index {data} {key} }}}}{{{{- end }}}}"
    ))
}

/// The path the Vault agent renders a secret to; the container gets it as `<NAME>_FILE`.
fn secret_file(name: &str) -> String {
    format!("{VAULT_SECRETS_DIR}/{name}")
}

/// Vault agent injector annotations for a workload's secrets (empty when it has none).
fn vault_annotations(
    env: &Environment,
    w: &Workload<'_>,
) -> Result<BTreeMap<String, String>, TargetError> {
    let mut a = BTreeMap::new();
    if w.secrets.is_empty() {
        return Ok(a);
    }
    let vault = &env.security.vault;
    if !vault.enabled {
        return Err(TargetError(format!(
            "{} has secrets but security.vault is disabled",
            w.name
        )));
    }
    let p = "vault.hashicorp.com";
    a.insert(format!("{p}/agent-inject"), "true".to_owned());
    a.insert(format!("{p}/role"), vault.role.clone());
    a.insert(format!("{p}/service"), vault.address.clone());
    if let Some(image) = &vault.agent_image {
        a.insert(format!("{p}/agent-image"), env.image_ref(image));
    }
    if let Some(r) = sidecar(env, w, VAULT_AGENT) {
        let cpu = ["agent-requests-cpu", "agent-limits-cpu"];
        let memory = ["agent-requests-mem", "agent-limits-mem"];
        a.extend(sized(p, cpu, memory, &r));
    }
    if w.job {
        // A sidecar agent would keep the Job's pod running forever: render once and exit.
        a.insert(format!("{p}/agent-pre-populate-only"), "true".to_owned());
    }
    if !w.api_access {
        a.insert(
            format!("{p}/agent-service-account-token-volume-name"),
            VAULT_TOKEN_VOLUME.to_owned(),
        );
    }
    for (name, reference) in &w.secrets {
        let r = vault_ref(name, reference)?;
        a.insert(format!("{p}/agent-inject-secret-{name}"), r.0.to_owned());
        a.insert(
            format!("{p}/agent-inject-template-{name}"),
            vault_template(r)?,
        );
    }
    Ok(a)
}

/// What the checksum covers: everything about the container that comes from the model, so a
/// changed secret reference or variable rolls the pods even where the pod spec alone would not.
#[derive(Serialize)]
struct Fingerprint<'a> {
    image: String,
    command: &'a [String],
    env: &'a BTreeMap<String, String>,
    secrets: &'a BTreeMap<String, SecretRef>,
    resources: &'a Resources,
    gpu: u32,
}

fn checksum(env: &Environment, w: &Workload<'_>) -> Result<String, TargetError> {
    let json = serde_json::to_vec(&Fingerprint {
        image: env.image_ref(w.image),
        command: &w.command,
        env: &w.env,
        secrets: &w.secrets,
        resources: w.resources,
        gpu: w.gpu,
    })?;
    Ok(Sha256::digest(&json)
        .iter()
        .fold(String::with_capacity(64), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        }))
}

fn quantity(q: &crate::model::Quantity) -> Quantity {
    Quantity(q.to_string())
}

fn resources(w: &Workload<'_>) -> ResourceRequirements {
    requirements(w.resources, w.gpu)
}

/// A container's requests and limits: CPU and memory, and `gpu` NVIDIA GPUs when there are any.
#[must_use]
pub fn requirements(r: &Resources, gpu: u32) -> ResourceRequirements {
    let side = |amounts: &CpuMemory| {
        let mut m = BTreeMap::from([
            ("cpu".to_owned(), quantity(&amounts.cpu)),
            ("memory".to_owned(), quantity(&amounts.memory)),
        ]);
        if gpu > 0 {
            m.insert("nvidia.com/gpu".to_owned(), Quantity(gpu.to_string()));
        }
        m
    };
    ResourceRequirements {
        requests: Some(side(&r.requests)),
        limits: Some(side(&r.limits)),
        ..ResourceRequirements::default()
    }
}

fn probe_port(w: &Workload<'_>) -> IntOrString {
    w.ports
        .first()
        .map_or(IntOrString::Int(0), |p| IntOrString::String(p.name.clone()))
}

/// (startup, liveness, readiness) probes. The startup probe gives a slow start (model loading,
/// database recovery) five minutes before liveness takes over.
fn probes(w: &Workload<'_>) -> (Option<Probe>, Option<Probe>, Option<Probe>) {
    let port = probe_port(w);
    let http = |path: &str| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: port.clone(),
            ..HTTPGetAction::default()
        }),
        ..Probe::default()
    };
    let tcp = Probe {
        tcp_socket: Some(TCPSocketAction {
            port: port.clone(),
            ..TCPSocketAction::default()
        }),
        ..Probe::default()
    };
    let (live, ready) = match &w.health {
        Health::None => return (None, None, None),
        Health::Http(path) => (http(path), http(path)),
        Health::Tcp => (tcp.clone(), tcp),
        Health::Exec(cmd) => (
            tcp,
            Probe {
                exec: Some(ExecAction {
                    command: Some(cmd.clone()),
                }),
                ..Probe::default()
            },
        ),
    };
    let timed = |p: Probe, period: i32, failures: i32| Probe {
        period_seconds: Some(period),
        timeout_seconds: Some(5),
        failure_threshold: Some(failures),
        ..p
    };
    (
        Some(timed(live.clone(), 10, 30)),
        Some(timed(live, 20, 3)),
        Some(timed(ready, 10, 3)),
    )
}

fn container(env: &Environment, w: &Workload<'_>) -> Container {
    let mut vars: Vec<EnvVar> = w
        .env
        .iter()
        .map(|(k, v)| EnvVar {
            name: k.clone(),
            value: Some(v.clone()),
            ..EnvVar::default()
        })
        .collect();
    // The Vault agent writes files, not variables: each secret's file path is handed over the way
    // the official database images read credentials (`POSTGRES_PASSWORD_FILE`).
    vars.extend(w.secrets.keys().map(|k| EnvVar {
        name: format!("{k}_FILE"),
        value: Some(secret_file(k)),
        ..EnvVar::default()
    }));
    vars.sort_by(|a, b| a.name.cmp(&b.name));
    vars.dedup_by(|a, b| a.name == b.name);

    let mut mounts = vec![VolumeMount {
        name: "tmp".to_owned(),
        mount_path: "/tmp".to_owned(),
        ..VolumeMount::default()
    }];
    mounts.extend(w.scratch.iter().map(|(name, path)| VolumeMount {
        name: (*name).to_owned(),
        mount_path: path.clone(),
        ..VolumeMount::default()
    }));
    if let Some((path, source)) = &w.data {
        mounts.push(VolumeMount {
            name: "data".to_owned(),
            mount_path: path.clone(),
            read_only: matches!(source, DataSource::Claim(_)).then_some(true),
            ..VolumeMount::default()
        });
    }
    let (startup, liveness, readiness) = probes(w);
    Container {
        name: w.name.clone(),
        image: Some(env.image_ref(w.image)),
        image_pull_policy: Some(env.images.pull_policy.as_str().to_owned()),
        command: (!w.command.is_empty()).then(|| w.command.clone()),
        ports: (!w.ports.is_empty()).then(|| {
            w.ports
                .iter()
                .map(|p| ContainerPort {
                    name: Some(p.name.clone()),
                    container_port: i32::from(p.number),
                    protocol: Some("TCP".to_owned()),
                    ..ContainerPort::default()
                })
                .collect()
        }),
        env: (!vars.is_empty()).then_some(vars),
        resources: Some(resources(w)),
        startup_probe: startup,
        liveness_probe: liveness,
        readiness_probe: readiness,
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            privileged: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS),
            run_as_group: Some(RUN_AS),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_owned()]),
                ..Capabilities::default()
            }),
            seccomp_profile: Some(runtime_default()),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(mounts),
        ..Container::default()
    }
}

fn runtime_default() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".to_owned(),
        ..SeccompProfile::default()
    }
}

fn empty_dir(name: &str) -> Volume {
    Volume {
        name: name.to_owned(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    }
}

fn volumes(w: &Workload<'_>) -> Vec<Volume> {
    let mut v = vec![empty_dir("tmp")];
    v.extend(w.scratch.iter().map(|(name, _)| empty_dir(name)));
    match &w.data {
        Some((_, DataSource::EmptyDir)) => v.push(empty_dir("data")),
        Some((_, DataSource::Claim(claim))) => v.push(Volume {
            name: "data".to_owned(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.clone(),
                read_only: Some(true),
            }),
            ..Volume::default()
        }),
        Some((_, DataSource::WritableClaim(claim))) => v.push(Volume {
            name: "data".to_owned(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.clone(),
                read_only: None,
            }),
            ..Volume::default()
        }),
        Some((_, DataSource::ClaimTemplate)) | None => {}
    }
    if w.uses_vault() && !w.api_access {
        // The app container gets no token; the Vault agent alone logs in with this one.
        v.push(Volume {
            name: VAULT_TOKEN_VOLUME.to_owned(),
            projected: Some(ProjectedVolumeSource {
                sources: Some(vec![VolumeProjection {
                    service_account_token: Some(ServiceAccountTokenProjection {
                        path: "token".to_owned(),
                        expiration_seconds: Some(3600),
                        ..ServiceAccountTokenProjection::default()
                    }),
                    ..VolumeProjection::default()
                }]),
                ..ProjectedVolumeSource::default()
            }),
            ..Volume::default()
        });
    }
    v
}

/// Spread replicas over nodes and zones when there is more than one; a soft constraint, so a
/// small cluster still schedules them.
fn spread(env: &Environment, w: &Workload<'_>) -> Option<Vec<TopologySpreadConstraint>> {
    (w.replicas > 1).then(|| {
        ["kubernetes.io/hostname", "topology.kubernetes.io/zone"]
            .into_iter()
            .map(|key| TopologySpreadConstraint {
                label_selector: Some(selector(selector_labels(env, &w.name))),
                max_skew: 1,
                topology_key: key.to_owned(),
                when_unsatisfiable: "ScheduleAnyway".to_owned(),
                ..TopologySpreadConstraint::default()
            })
            .collect()
    })
}

/// The pod template of a workload.
///
/// # Errors
/// A secret that is not a Vault reference, or Vault switched off while secrets are used.
pub fn template(env: &Environment, w: &Workload<'_>) -> Result<PodTemplateSpec, TargetError> {
    let labels = pod_labels(env, &w.name, w.component);
    let mut annotations = vault_annotations(env, w)?;
    annotations.extend(mesh_annotations(env, w));
    annotations.insert("deaap.io/config-checksum".to_owned(), checksum(env, w)?);
    if let Some((port, path)) = &w.metrics {
        annotations.insert("prometheus.io/scrape".to_owned(), "true".to_owned());
        annotations.insert("prometheus.io/port".to_owned(), port.to_string());
        annotations.insert("prometheus.io/path".to_owned(), path.clone());
    }
    let tolerations = (w.gpu > 0).then(|| {
        vec![Toleration {
            key: Some("nvidia.com/gpu".to_owned()),
            operator: Some("Exists".to_owned()),
            effect: Some("NoSchedule".to_owned()),
            ..Toleration::default()
        }]
    });
    Ok(PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            service_account_name: Some(w.name.clone()),
            automount_service_account_token: Some(w.api_access),
            enable_service_links: Some(false),
            restart_policy: w.job.then(|| "Never".to_owned()),
            security_context: Some(PodSecurityContext {
                run_as_non_root: Some(true),
                run_as_user: Some(RUN_AS),
                run_as_group: Some(RUN_AS),
                fs_group: Some(RUN_AS),
                seccomp_profile: Some(runtime_default()),
                ..PodSecurityContext::default()
            }),
            containers: vec![container(env, w)],
            volumes: Some(volumes(w)),
            tolerations,
            topology_spread_constraints: spread(env, w),
            ..PodSpec::default()
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_template_reads_kv2_keys_with_dashes() {
        assert_eq!(
            vault_template(("secret/data/deaap/consensus", "signing-key")).unwrap(),
            r#"{{- with secret "secret/data/deaap/consensus" -}}{{ index .Data.data "signing-key" }}{{- end }}"#
        );
        assert!(
            vault_template(("kv/deaap", "k"))
                .unwrap()
                .contains("index .Data \"k\"")
        );
    }

    #[test]
    fn non_vault_secret_is_refused() {
        let file = SecretRef::File("./x".to_owned());
        assert!(vault_ref("X", &file).is_err());
        let vault = SecretRef::parse("vault:a/b#c").unwrap();
        assert_eq!(vault_ref("X", &vault).unwrap(), ("a/b", "c"));
    }
}
