//! A Redis replicated with Sentinel (`replication = "sentinel"`): one primary and asynchronous
//! replicas, with Redis Sentinel electing a new primary when the primary fails.
//!
//! Each pod of the `StatefulSet` runs the server and a sentinel beside it (`N` servers, `N`
//! sentinels, spread over nodes by a required anti-affinity), so the sentinels follow the
//! replica count and a lost node takes one of each. A `ConfigMap` `<name>-config` holds the
//! server's `redis.conf` (a replica of the first pod), the sentinel's `sentinel.conf` (watching the
//! first pod, quorum a majority of the pods) and `start.sh`, the start step that runs before them:
//! it asks the other pods' sentinels which server is the primary now and writes this pod's copy of
//! both files, with its own address, into a writable volume (a sentinel rewrites its own file).
//! Clients find the primary by asking the sentinels (the Service `<name>-sentinel`); the headless
//! Service gives each pod its address.

use crate::model::Environment;
use crate::plan::{self, Workload};
use crate::targets::TargetError;
use crate::targets::kit::{self, Object, meta, pod};
use k8s_openapi::api::core::v1::{
    Affinity, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource,
    EnvVar, EnvVarSource, ExecAction, ObjectFieldSelector, PodAffinityTerm, PodAntiAffinity,
    PodTemplateSpec, Probe, TCPSocketAction, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// How long a sentinel waits before it calls a silent server down.
const DOWN_AFTER_MS: u32 = 5000;
/// How long one failover may take before another sentinel tries again; also how long a restarted
/// pod that the sentinels still name as the primary waits for them to promote a replica.
const FAILOVER_TIMEOUT_MS: u32 = 60_000;
/// Replicas that resynchronise with a new primary at once (the others keep serving reads).
const PARALLEL_SYNCS: u32 = 1;
/// A primary refuses writes when fewer replicas than `min-replicas-to-write` acknowledged
/// replication within this many seconds.
const MAX_LAG_S: u32 = 10;

/// Where the `ConfigMap` is mounted (read-only) and where the start step writes each pod's files.
const TEMPLATES: &str = "/config";
const CONF: &str = "/etc/redis";
/// The start step's container.
const START: &str = "start";

/// The annotation that rolls the pods when the generated configuration changes.
const CONFIG_CHECKSUM: &str = "deaap.io/redis-config-checksum";
/// Istio's per-pod switch that runs the proxy as a native sidecar, up before the start step
/// (which asks the other pods' sentinels through the mesh).
const NATIVE_SIDECAR: &str = "sidecar.istio.io/nativeSidecar";

/// The facts of one Sentinel set every generated file uses.
struct Set<'a> {
    w: &'a Workload<'a>,
    port: u16,
    headless: String,
}

impl<'a> Set<'a> {
    fn new(w: &'a Workload<'a>) -> Self {
        Self {
            w,
            port: w.ports.first().map_or(6379, |p| p.number),
            headless: format!("{}-headless", w.name),
        }
    }

    /// The stable address of pod `i`, through the headless Service.
    fn host(&self, i: u32) -> String {
        format!(
            "{}-{i}.{}.{}.svc.cluster.local",
            self.w.name, self.headless, self.w.namespace
        )
    }

    /// Sentinels that must agree a primary is down: a majority of the pods.
    fn quorum(&self) -> u32 {
        self.w.replicas / 2 + 1
    }

    /// Replicas that must have acknowledged replication recently for the primary to accept a
    /// write: with the primary, a majority of the pods. A primary cut off from the others stops
    /// taking writes, which the replica promoted in its place would not have.
    fn min_replicas(&self) -> u32 {
        self.w.replicas / 2
    }

    fn data_dir(&self) -> &str {
        self.w
            .data
            .as_ref()
            .map_or("/data", |(path, _)| path.as_str())
    }

    fn redis_conf(&self) -> String {
        format!(
            "# The server of each pod of `{name}`. The start step writes this pod's copy to\n\
             # {CONF}/redis.conf: a replica of the current primary (no `replicaof` on the primary),\n\
             # announcing this pod's address.\n\
             port {port}\n\
             bind * -::*\n\
             protected-mode no\n\
             dir {data}\n\
             dbfilename dump.rdb\n\
             appendonly yes\n\
             appendfsync everysec\n\
             replicaof {primary} {port}\n\
             replica-read-only yes\n\
             min-replicas-to-write {min_replicas}\n\
             min-replicas-max-lag {MAX_LAG_S}\n",
            name = self.w.name,
            port = self.port,
            data = self.data_dir(),
            primary = self.host(0),
            min_replicas = self.min_replicas(),
        )
    }

    fn sentinel_conf(&self) -> String {
        format!(
            "# The sentinel of each pod of `{name}`. The start step writes this pod's copy to\n\
             # {CONF}/sentinel.conf (a sentinel rewrites its own file), watching the current primary\n\
             # and announcing this pod's address and a stable id.\n\
             port {sentinel}\n\
             bind * -::*\n\
             protected-mode no\n\
             dir /tmp\n\
             sentinel resolve-hostnames yes\n\
             sentinel announce-hostnames yes\n\
             sentinel monitor {name} {primary} {port} {quorum}\n\
             sentinel down-after-milliseconds {name} {DOWN_AFTER_MS}\n\
             sentinel failover-timeout {name} {FAILOVER_TIMEOUT_MS}\n\
             sentinel parallel-syncs {name} {PARALLEL_SYNCS}\n",
            name = self.w.name,
            sentinel = plan::SENTINEL_PORT,
            primary = self.host(0),
            port = self.port,
            quorum = self.quorum(),
        )
    }

    fn start_sh(&self) -> String {
        let name = &self.w.name;
        let hosts: Vec<String> = (0..self.w.replicas).map(|i| self.host(i)).collect();
        let first = self.host(0);
        let sentinel = plan::SENTINEL_PORT;
        let wait = FAILOVER_TIMEOUT_MS / 1000;
        format!(
            r#"#!/bin/sh
# The start step of each pod of `{name}`: asks the other pods' sentinels which server
# is the primary (the first pod when none answers: the set starts for the first time,
# or all at once) and writes this pod's redis.conf and sentinel.conf into {CONF}.
# A pod the sentinels still name as the primary was restarted before they noticed: it
# waits up to {wait}s for them to promote a replica instead of coming back with what its
# volume holds and having the replicas copy that.
set -eu
me="$POD_NAME.{headless}.{namespace}.svc.cluster.local"
primary_now() {{
  for host in {hosts}; do
    [ "$host" = "$me" ] && continue
    answer=$(timeout 3 redis-cli -h "$host" -p {sentinel} --raw SENTINEL get-master-addr-by-name {name} 2>/dev/null | head -n 1) || answer=""
    case "$answer" in "" | *" "*) continue ;; esac
    echo "$answer"
    return 0
  done
}}
primary=$(primary_now)
waited=0
while [ "$primary" = "$me" ] && [ "$waited" -lt {wait} ]; do
  sleep 1
  waited=$((waited + 1))
  primary=$(primary_now)
done
primary=${{primary:-{first}}}
echo "primary: $primary"
if [ "$primary" = "$me" ]; then
  grep -v '^replicaof ' {TEMPLATES}/redis.conf >{CONF}/redis.conf
else
  sed "s/^replicaof [^ ]*/replicaof $primary/" {TEMPLATES}/redis.conf >{CONF}/redis.conf
fi
echo "replica-announce-ip $me" >>{CONF}/redis.conf
sed "s/^sentinel monitor {name} [^ ]*/sentinel monitor {name} $primary/" {TEMPLATES}/sentinel.conf >{CONF}/sentinel.conf
echo "sentinel announce-ip $me" >>{CONF}/sentinel.conf
echo "sentinel myid $(printf '%s' "$me" | sha1sum | cut -c1-40)" >>{CONF}/sentinel.conf
"#,
            headless = self.headless,
            namespace = self.w.namespace,
            hosts = hosts.join(" "),
        )
    }

    /// The files of the `ConfigMap`, by key.
    fn files(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("redis.conf".to_owned(), self.redis_conf()),
            ("sentinel.conf".to_owned(), self.sentinel_conf()),
            ("start.sh".to_owned(), self.start_sh()),
        ])
    }
}

/// The name of the `ConfigMap` of a Sentinel set.
fn config_map_name(w: &Workload<'_>) -> String {
    format!("{}-config", w.name)
}

/// The `ConfigMap` of a Sentinel set, and its pods' additions to the hardened template: the start
/// step, the sentinel, the configuration volumes, the anti-affinity and the annotations.
///
/// # Errors
/// An object that cannot be serialized.
pub(crate) fn apply(
    env: &Environment,
    w: &Workload<'_>,
    template: &mut PodTemplateSpec,
) -> Result<Object, TargetError> {
    let set = Set::new(w);
    let files = set.files();
    let checksum = Sha256::digest(serde_json::to_vec(&files)?).iter().fold(
        String::with_capacity(64),
        |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        },
    );
    let mut metadata = meta(env, &w.name, Some(&w.namespace), w.component);
    metadata.name = Some(config_map_name(w));
    let config_map = kit::object(&ConfigMap {
        metadata,
        data: Some(files),
        ..ConfigMap::default()
    })?;
    if let Some(m) = template.metadata.as_mut() {
        let a = m.annotations.get_or_insert_with(BTreeMap::new);
        a.insert(CONFIG_CHECKSUM.to_owned(), checksum);
        if plan::meshed(env, &w.namespace) && env.security.mesh.proxy().is_some() {
            a.insert(NATIVE_SIDECAR.to_owned(), "true".to_owned());
        }
    }
    let Some(spec) = template.spec.as_mut() else {
        return Ok(config_map);
    };
    let Some(server) = spec.containers.first_mut() else {
        return Ok(config_map);
    };
    let conf_mount = mount("conf", CONF, false);
    server.command = Some(strings(&["redis-server", &format!("{CONF}/redis.conf")]));
    server
        .volume_mounts
        .get_or_insert_with(Vec::new)
        .push(conf_mount.clone());
    // The sentinel's port is the sentinel container's.
    let sentinel_port = server
        .ports
        .as_mut()
        .and_then(|ports| {
            let at = ports
                .iter()
                .position(|p| p.container_port == i32::from(plan::SENTINEL_PORT))?;
            Some(ports.remove(at))
        })
        .unwrap_or_else(|| ContainerPort {
            name: Some("tcp-sentinel".to_owned()),
            container_port: i32::from(plan::SENTINEL_PORT),
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        });
    let base = server.clone();
    let tmp = mount("tmp", "/tmp", false);
    let small = pod::requirements(&plan::sentinel().resources, 0);

    let port_name = sentinel_port.name.clone().unwrap_or_default();
    let sentinel = Container {
        name: plan::SENTINEL.to_owned(),
        command: Some(strings(&[
            "redis-server",
            &format!("{CONF}/sentinel.conf"),
            "--sentinel",
        ])),
        ports: Some(vec![sentinel_port]),
        env: None,
        resources: Some(small.clone()),
        volume_mounts: Some(vec![tmp.clone(), conf_mount.clone()]),
        ..probed(&base, &port_name)
    };
    let start = Container {
        name: START.to_owned(),
        command: Some(strings(&["sh", &format!("{TEMPLATES}/start.sh")])),
        ports: None,
        env: Some(vec![EnvVar {
            name: "POD_NAME".to_owned(),
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    field_path: "metadata.name".to_owned(),
                    ..ObjectFieldSelector::default()
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        }]),
        resources: Some(small),
        startup_probe: None,
        liveness_probe: None,
        readiness_probe: None,
        volume_mounts: Some(vec![tmp, mount("config", TEMPLATES, true), conf_mount]),
        ..base
    };
    spec.containers.push(sentinel);
    spec.init_containers = Some(vec![start]);
    let volumes = spec.volumes.get_or_insert_with(Vec::new);
    volumes.push(Volume {
        name: "config".to_owned(),
        config_map: Some(ConfigMapVolumeSource {
            name: config_map_name(w),
            ..ConfigMapVolumeSource::default()
        }),
        ..Volume::default()
    });
    volumes.push(Volume {
        name: "conf".to_owned(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    });
    // One server and one sentinel per node: a lost node takes one of each.
    spec.affinity = Some(Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            required_during_scheduling_ignored_during_execution: Some(vec![PodAffinityTerm {
                label_selector: Some(kit::selector(kit::selector_labels(env, &w.name))),
                topology_key: "kubernetes.io/hostname".to_owned(),
                ..PodAffinityTerm::default()
            }]),
            ..PodAntiAffinity::default()
        }),
        ..Affinity::default()
    });
    Ok(config_map)
}

/// The sentinel container's probes, timed as the server's: ready when it answers `PING`, alive
/// while its port accepts connections.
fn probed(server: &Container, port: &str) -> Container {
    let tcp = |p: Option<&Probe>| {
        p.map(|p| Probe {
            tcp_socket: Some(TCPSocketAction {
                port: IntOrString::String(port.to_owned()),
                ..TCPSocketAction::default()
            }),
            exec: None,
            http_get: None,
            ..p.clone()
        })
    };
    let ping = server.readiness_probe.as_ref().map(|p| Probe {
        exec: Some(ExecAction {
            command: Some(strings(&[
                "redis-cli",
                "-p",
                &plan::SENTINEL_PORT.to_string(),
                "ping",
            ])),
        }),
        tcp_socket: None,
        http_get: None,
        ..p.clone()
    });
    Container {
        startup_probe: tcp(server.startup_probe.as_ref()),
        liveness_probe: tcp(server.liveness_probe.as_ref()),
        readiness_probe: ping,
        ..server.clone()
    }
}

fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.to_owned(),
        mount_path: path.to_owned(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    }
}

fn strings(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| (*s).to_owned()).collect()
}
