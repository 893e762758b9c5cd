//! The workload plan: every workload an environment runs (services, storage backends, blockchain
//! nodes, consensus validators and backup jobs), described once, with its pod facts (containers,
//! ports, resources, the sidecars the platform injects, secrets, volumes and claims), its replica
//! range and the flows it needs (what it connects to, whether it is routed, whether its replicas
//! talk to each other). The validation rules and the targets read the plan instead of each deriving its
//! own view of the model, so effective replicas, injected containers and names are decided here.

use crate::model::{
    ConsensusMode, CpuMemory, Environment, Image, NamespaceKey, Quantity, Replication, Resources,
    SecretRef, StorageBackend, StorageKind,
};
use std::collections::BTreeMap;

pub mod alerting;
pub mod postgres;
pub mod quota;

/// The name of the consensus validators' workload (and their `app` label).
pub const VALIDATOR: &str = "bu-validator";

/// The name of the blockchain nodes' workload, and the `source` of a backup of their state.
pub const BLOCKCHAIN: &str = "blockchain";

/// What kind of workload a [`Workload`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Service,
    Storage,
    Blockchain,
    Consensus,
    /// A backup job's pod (run to completion on a schedule).
    Backup,
}

/// How the kubelet checks a container.
#[derive(Debug, Clone)]
pub enum Health {
    /// `httpGet` on the named port.
    Http(String),
    /// A TCP connect to the port: for servers that speak no HTTP.
    Tcp,
    /// Readiness by a command (a real protocol-level check), liveness by TCP connect, so a
    /// database in long recovery is not restarted in a loop.
    Exec(Vec<String>),
    /// Run-to-completion pods (backups) have no probes.
    None,
}

/// Where a workload's `data` volume comes from.
#[derive(Debug, Clone)]
pub enum DataSource {
    /// The `StatefulSet`'s volumeClaimTemplate named `data`.
    ClaimTemplate,
    /// A scratch volume: the workload keeps no state across restarts in this environment.
    EmptyDir,
    /// An existing `PersistentVolumeClaim`, mounted read-only.
    Claim(String),
    /// A `PersistentVolumeClaim` the pods read and write (the application data volume, a
    /// restore's target).
    WritableClaim(String),
}

/// The named container port of a workload.
#[derive(Debug, Clone)]
pub struct Port {
    pub name: String,
    pub number: u16,
}

/// A container the platform injects into a workload's pod, beside the workload's own.
#[derive(Debug, Clone, PartialEq)]
pub struct Sidecar {
    pub name: &'static str,
    pub resources: Resources,
}

/// The Vault agent's container name.
pub const VAULT_AGENT: &str = "vault-agent";

/// The Istio proxy's container name.
pub const ISTIO_PROXY: &str = "istio-proxy";

/// The Redis Sentinel container's name in each pod of a Redis replicated with Sentinel.
pub const SENTINEL: &str = "sentinel";

/// The port Redis Sentinel answers on.
pub const SENTINEL_PORT: u16 = 26379;

/// The Vault agent only renders static key/value secrets to files, so it is sized small; its
/// requests and limits count against the namespace quota.
#[must_use]
pub fn vault_agent() -> Sidecar {
    Sidecar {
        name: VAULT_AGENT,
        resources: resources(("50m", "32Mi"), ("100m", "64Mi")),
    }
}

/// Redis Sentinel beside each server of a Redis replicated with Sentinel: it watches the servers,
/// gossips with the other sentinels and answers clients, with a few megabytes of state.
#[must_use]
pub fn sentinel() -> Sidecar {
    Sidecar {
        name: SENTINEL,
        resources: resources(("50m", "32Mi"), ("100m", "64Mi")),
    }
}

fn resources(requests: (&str, &str), limits: (&str, &str)) -> Resources {
    let side = |(cpu, memory): (&str, &str)| CpuMemory {
        cpu: Quantity::known(cpu),
        memory: Quantity::known(memory),
    };
    Resources {
        requests: side(requests),
        limits: side(limits),
    }
}

/// Whether pods in the Kubernetes namespace `namespace` get an Istio sidecar.
#[must_use]
pub fn meshed(env: &Environment, namespace: &str) -> bool {
    env.namespaces
        .iter()
        .any(|(key, name)| name == namespace && env.security.mesh.meshed(key))
}

/// One workload and everything its pods are made of.
#[derive(Debug, Clone)]
pub struct Workload<'a> {
    pub kind: Kind,
    /// Object name, `app.kubernetes.io/name` and container name.
    pub name: String,
    /// `app.kubernetes.io/component`.
    pub component: &'static str,
    /// Whether its own switch is on in the model (for the validators: at least one).
    pub enabled: bool,
    /// Whether it runs: enabled, and for the validators, with blockchain nodes to validate for.
    pub deployed: bool,
    /// Logical namespace.
    pub namespace_key: NamespaceKey,
    /// Kubernetes namespace name.
    pub namespace: String,
    pub image: &'a Image,
    pub ports: Vec<Port>,
    /// Resources of its own container: its own, else the environment's defaults.
    pub resources: &'a Resources,
    /// The resources the model sets for it, when it sets them.
    pub own_resources: Option<&'a Resources>,
    pub gpu: u32,
    /// The plain variables the model declares for it (services and storage backends only).
    pub declared_env: Option<&'a BTreeMap<String, String>>,
    /// Its container's plain variables: the declared ones plus those the plan adds.
    pub env: BTreeMap<String, String>,
    /// Secret environment variables: name → where the value comes from.
    pub secrets: BTreeMap<String, SecretRef>,
    pub command: Vec<String>,
    pub api_access: bool,
    pub health: Health,
    /// Extra writable scratch directories beyond `/tmp`: (volume name, mount path).
    pub scratch: Vec<(&'static str, String)>,
    /// The `data` volume: where it is mounted and where it comes from.
    pub data: Option<(String, DataSource)>,
    /// Prometheus scraping: (port, path).
    pub metrics: Option<(u16, String)>,
    /// How a storage backend's replicas keep one copy of the data (`none` for every other
    /// workload).
    pub replication: Replication,
    /// Pods when it starts (the autoscaling minimum if it is higher).
    pub replicas: u32,
    /// Pods at the autoscaling maximum (`replicas` without autoscaling).
    pub max_replicas: u32,
    /// `PersistentVolumeClaims` it creates (one per replica when persistence is on).
    pub claims: u32,
    /// Workloads it connects to (names of other workloads).
    pub depends_on: Vec<String>,
    /// The gateway routes a URI prefix here.
    pub routed: bool,
    /// Whether its replicas talk to each other (replication, consensus).
    pub peers: bool,
    /// A run-to-completion pod (a Job's): no probes, no restart, the Vault agent exits after
    /// rendering so the Job can complete.
    pub job: bool,
}

impl Workload<'_> {
    /// Whether its pods get the Vault agent.
    #[must_use]
    pub fn uses_vault(&self) -> bool {
        !self.secrets.is_empty()
    }

    /// Whether its pods are a CloudNativePG `Cluster`'s, which the operator creates: PostgreSQL
    /// with streaming replication and failover ([`postgres`]).
    #[must_use]
    pub fn cloudnative_pg(&self) -> bool {
        self.kind == Kind::Storage && self.replication == Replication::CloudnativePg
    }

    /// Whether its pods run in the mesh: in a meshed namespace, unless the operator that creates
    /// them keeps them out (CloudNativePG's operator and instances call each other and the
    /// bootstrap Jobs must complete, which a sidecar prevents; PostgreSQL encrypts with its own
    /// TLS).
    #[must_use]
    pub fn in_mesh(&self, env: &Environment) -> bool {
        meshed(env, &self.namespace) && !self.cloudnative_pg()
    }

    /// The containers the platform adds to each pod beside the workload's own: the Istio proxy in
    /// the mesh, the Vault agent where there are secrets and Redis Sentinel in a Redis replicated
    /// with Sentinel.
    #[must_use]
    pub fn sidecars(&self, env: &Environment) -> Vec<Sidecar> {
        let proxy = env
            .security
            .mesh
            .proxy()
            .filter(|_| self.in_mesh(env))
            .map(|resources| Sidecar {
                name: ISTIO_PROXY,
                resources,
            });
        proxy
            .into_iter()
            .chain(self.uses_vault().then(vault_agent))
            .chain(self.sentinels().then(sentinel))
            .collect()
    }

    /// Whether it is a Redis replicated with Sentinel: its pods run a sentinel beside the server,
    /// and clients ask the sentinels where the primary is.
    #[must_use]
    pub fn sentinels(&self) -> bool {
        self.replication == Replication::Sentinel
    }

    /// The name of the Service its clients connect to: `<name>-service` for a service (a
    /// Deployment), `<name>-sentinel` for a Redis replicated with Sentinel (the sentinels, which
    /// name the current primary), CloudNativePG's primary Service `<name>-rw` for a `Cluster`, the
    /// workload's own name for the other stateful ones.
    #[must_use]
    pub fn service_name(&self) -> String {
        match self.kind {
            Kind::Service => format!("{}-service", self.name),
            _ if self.sentinels() => format!("{}-sentinel", self.name),
            _ if self.cloudnative_pg() => postgres::primary_service(&self.name),
            _ => self.name.clone(),
        }
    }

    /// The ports its clients, its replicas and its backup job connect to: its serving port (the
    /// first), and for a Redis replicated with Sentinel the sentinels' (a client asks them for the
    /// primary, then connects to it; the sentinels watch the servers and each other).
    #[must_use]
    pub fn client_ports(&self) -> Vec<u16> {
        let serving = self.ports.first().map(|p| p.number);
        let sentinel = self.sentinels().then_some(SENTINEL_PORT);
        serving.into_iter().chain(sentinel).collect()
    }

    /// A workload that always runs `replicas` pods (no autoscaling), replicating among them when
    /// there is more than one.
    fn fixed_size(&mut self, replicas: u32) {
        self.replicas = replicas;
        self.max_replicas = replicas;
        self.peers = replicas > 1;
    }

    /// `` service `doc-ingester` ``, `the consensus validators`, for messages.
    #[must_use]
    pub fn describe(&self) -> String {
        match self.kind {
            Kind::Service => format!("service `{}`", self.name),
            Kind::Storage => format!("storage backend `{}`", self.name),
            Kind::Blockchain => "the blockchain nodes".to_owned(),
            Kind::Consensus => "the consensus validators".to_owned(),
            Kind::Backup => format!("backup job `{}`", self.name),
        }
    }
}

/// The workload of `ws` that exposes each name a metric's `exposed_by` can give: a service or a
/// storage backend by its name, `blockchain` and `consensus` (the first of each, as in `ws`).
#[must_use]
pub fn exposers<'w, 'e>(
    ws: &'w [Workload<'e>],
) -> std::collections::HashMap<&'w str, &'w Workload<'e>> {
    let mut out = std::collections::HashMap::new();
    for w in ws {
        let by = match w.kind {
            Kind::Service | Kind::Storage => w.name.as_str(),
            Kind::Blockchain => "blockchain",
            Kind::Consensus => "consensus",
            Kind::Backup => continue,
        };
        out.entry(by).or_insert(w);
    }
    out
}

/// Every workload of the environment that runs continuously, enabled or not, in a stable order:
/// services, storage backends, blockchain nodes, validators (each by name).
#[must_use]
pub fn workloads(env: &Environment) -> Vec<Workload<'_>> {
    let mut out: Vec<Workload<'_>> = env
        .services
        .iter()
        .map(|(name, s)| service(env, name, s))
        .collect();
    out.extend(env.storage.iter().map(|(name, s)| storage(env, name, s)));
    out.push(blockchain(env));
    out.push(validators(env));
    out
}

/// The workloads that run, in the order of [`workloads`].
#[must_use]
pub fn deployed(env: &Environment) -> Vec<Workload<'_>> {
    workloads(env).into_iter().filter(|w| w.deployed).collect()
}

/// The workload of [`deployed`] named `name`, built alone: the first of that name in its order.
fn deployed_named<'a>(env: &'a Environment, name: &str) -> Option<Workload<'a>> {
    [
        env.services
            .get_key_value(name)
            .map(|(name, s)| service(env, name, s)),
        env.storage
            .get_key_value(name)
            .map(|(name, s)| storage(env, name, s)),
        Some(blockchain(env)).filter(|w| w.name == name),
        Some(validators(env)).filter(|w| w.name == name),
    ]
    .into_iter()
    .flatten()
    .find(|w| w.deployed)
}

/// The pod facts every long-running workload starts from: no extra variables, secrets, command,
/// scratch, data or metrics; a TCP check; one replica.
fn base<'a>(
    env: &'a Environment,
    kind: Kind,
    name: &str,
    namespace_key: NamespaceKey,
    image: &'a Image,
    own_resources: Option<&'a Resources>,
) -> Workload<'a> {
    Workload {
        kind,
        name: name.to_owned(),
        component: match kind {
            Kind::Service => "service",
            Kind::Storage => "storage",
            Kind::Blockchain => "blockchain",
            Kind::Consensus => "validator",
            Kind::Backup => "backup",
        },
        enabled: true,
        deployed: true,
        namespace_key,
        namespace: env.namespace(namespace_key).to_owned(),
        image,
        ports: Vec::new(),
        resources: env.resources_of(own_resources),
        own_resources,
        gpu: 0,
        declared_env: None,
        env: BTreeMap::new(),
        secrets: BTreeMap::new(),
        command: Vec::new(),
        api_access: false,
        health: Health::Tcp,
        scratch: Vec::new(),
        data: None,
        metrics: None,
        replication: Replication::None,
        replicas: 1,
        max_replicas: 1,
        claims: 0,
        depends_on: Vec::new(),
        routed: false,
        peers: false,
        job: false,
    }
}

/// Prometheus scraping of a workload whose first port is its serving port: a metrics port of
/// its own becomes the named port `metrics`; without one the serving port is scraped.
fn scraped(w: &mut Workload<'_>, m: &crate::model::Metrics) {
    let serving = w.ports.first().map_or(0, |p| p.number);
    let metrics_port = m.port.unwrap_or(serving);
    if metrics_port != serving {
        w.ports.push(port("metrics", metrics_port));
    }
    w.metrics = m.scrape.then(|| (metrics_port, m.path.clone()));
}

fn port(name: &str, number: u16) -> Port {
    Port {
        name: name.to_owned(),
        number,
    }
}

/// A service: a Deployment whose replicas range up to the autoscaling maximum.
fn service<'a>(env: &'a Environment, name: &str, s: &'a crate::model::Service) -> Workload<'a> {
    let mut w = base(
        env,
        Kind::Service,
        name,
        s.namespace,
        &s.image,
        s.resources.as_ref(),
    );
    let autoscaling = s.autoscaling.as_ref().filter(|a| a.enabled);
    w.replicas = autoscaling.map_or(s.replicas, |a| a.min_replicas.max(s.replicas));
    w.max_replicas = autoscaling.map_or(w.replicas, |a| a.max_replicas.max(w.replicas));
    w.enabled = s.enabled;
    w.deployed = s.enabled;
    w.ports.push(port("http", s.port));
    scraped(&mut w, &s.metrics);
    w.gpu = s.gpu;
    w.declared_env = Some(&s.env);
    w.env = s.env.clone();
    w.secrets = s.secrets.clone();
    w.command.clone_from(&s.command);
    w.api_access = s.kubernetes_api_access;
    w.health = Health::Http(s.health_path.clone());
    w.depends_on.clone_from(&s.depends_on);
    for dep in &s.depends_on {
        w.env.extend(client_env(env, dep));
    }
    w.routed = s.route.is_some();
    if let Some(d) = env.data.as_ref().filter(|_| s.data_access) {
        w.data = Some((
            d.path.clone(),
            DataSource::WritableClaim(env.backup.data_claim.clone()),
        ));
    }
    w
}

/// The variables the platform gives a service that depends on `store` so it finds it, beside
/// those the model declares: for a Redis replicated with Sentinel, where the sentinels answer
/// (`<STORE>_SENTINELS`, `host:port` of their Service) and the name they know its primary by
/// (`<STORE>_MASTER_NAME`); nothing for any other dependency, whose Service is its address.
/// `<STORE>` is the store's name in capitals, `-` as `_` (`REDIS_SENTINELS` for `redis`).
#[must_use]
pub fn client_env(env: &Environment, store: &str) -> BTreeMap<String, String> {
    let Some(s) = env.storage.get(store).filter(|s| s.enabled) else {
        return BTreeMap::new();
    };
    if s.replication != Replication::Sentinel {
        return BTreeMap::new();
    }
    let w = storage(env, store, s);
    let prefix = store.to_uppercase().replace('-', "_");
    BTreeMap::from([
        (
            format!("{prefix}_SENTINELS"),
            format!(
                "{}.{}.svc.cluster.local:{SENTINEL_PORT}",
                w.service_name(),
                w.namespace
            ),
        ),
        (format!("{prefix}_MASTER_NAME"), store.to_owned()),
    ])
}

/// A storage backend: a `StatefulSet` with its `data` volume, a claim per replica when persistent.
fn storage<'a>(env: &'a Environment, name: &str, s: &'a StorageBackend) -> Workload<'a> {
    let mut w = base(
        env,
        Kind::Storage,
        name,
        s.namespace,
        &s.image,
        s.resources.as_ref(),
    );
    w.enabled = s.enabled;
    w.deployed = s.enabled;
    w.fixed_size(s.replicas);
    let persistent = s.persistence.as_ref().is_some_and(|p| p.enabled);
    w.claims = if persistent { s.replicas } else { 0 };
    w.declared_env = Some(&s.env);
    w.env = s.env.clone();
    w.secrets = s.secrets.clone();
    w.replication = s.replication;
    if w.cloudnative_pg() {
        operated_postgres(&mut w, s);
        return w;
    }
    let (port_name, data_path) = storage_engine(s, &mut w);
    w.ports.push(port(port_name, s.port));
    if w.sentinels() {
        w.ports.push(port("tcp-sentinel", SENTINEL_PORT));
    }
    scraped(&mut w, &s.metrics);
    w.data = Some((data_path.to_owned(), data_source(persistent)));
    w
}

/// The pods of a CloudNativePG `Cluster`, as the operator makes them: PostgreSQL on its fixed
/// port, the metrics exporter and the instance manager's status port; credentials from a Secret
/// the operator mounts (no Vault agent); the instance manager calls the Kubernetes API.
fn operated_postgres(w: &mut Workload<'_>, s: &StorageBackend) {
    w.secrets.clear();
    w.api_access = true;
    w.health = Health::None;
    w.ports.push(port("postgresql", postgres::POSTGRES_PORT));
    let metrics = crate::model::Metrics {
        port: Some(postgres::METRICS_PORT),
        ..s.metrics.clone()
    };
    scraped(w, &metrics);
    w.ports.push(port("status", postgres::STATUS_PORT));
}

/// What the storage engine needs in its pod: its health check, variables and scratch
/// directories (set on `w`), and its port name and data directory (returned).
fn storage_engine(s: &StorageBackend, w: &mut Workload<'_>) -> (&'static str, &'static str) {
    match s.kind {
        StorageKind::Redis => {
            w.health = Health::Exec(vec![
                "redis-cli".to_owned(),
                "-p".to_owned(),
                s.port.to_string(),
                "ping".to_owned(),
            ]);
            ("tcp-redis", "/data")
        }
        StorageKind::Postgresql => {
            let base = "/var/lib/postgresql/data";
            // The mount's root holds `lost+found` on most volumes, which initdb refuses.
            w.env.insert("PGDATA".to_owned(), format!("{base}/pgdata"));
            w.scratch.push(("run", "/var/run/postgresql".to_owned()));
            let user = s
                .env
                .get("POSTGRES_USER")
                .map_or("postgres", String::as_str);
            let db = s.database.as_deref().unwrap_or(user);
            w.health = Health::Exec(
                [
                    "pg_isready",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &s.port.to_string(),
                    "-U",
                    user,
                    "-d",
                    db,
                ]
                .map(str::to_owned)
                .to_vec(),
            );
            ("tcp-postgresql", base)
        }
        StorageKind::VectorDb => {
            w.scratch
                .push(("snapshots", "/qdrant/snapshots".to_owned()));
            ("http", "/qdrant/storage")
        }
    }
}

/// The blockchain nodes: a `StatefulSet` with a claim per replica when persistent.
fn blockchain(env: &Environment) -> Workload<'_> {
    let b = &env.blockchain;
    let mut w = base(
        env,
        Kind::Blockchain,
        BLOCKCHAIN,
        NamespaceKey::Blockchain,
        &b.image,
        b.resources.as_ref(),
    );
    w.enabled = b.enabled;
    w.deployed = b.enabled;
    w.fixed_size(b.replicas);
    w.claims = if b.persistence.enabled { b.replicas } else { 0 };
    w.ports.push(port("http-rpc", b.port));
    scraped(&mut w, &b.metrics);
    w.data = Some(("/data".to_owned(), data_source(b.persistence.enabled)));
    w
}

/// The consensus validators. They agree on what goes on the chain: without nodes there is
/// nothing to validate, so they are deployed only with the blockchain.
fn validators(env: &Environment) -> Workload<'_> {
    let c = &env.consensus;
    let mut w = base(
        env,
        Kind::Consensus,
        VALIDATOR,
        NamespaceKey::Blockchain,
        &c.image,
        c.resources.as_ref(),
    );
    w.enabled = c.validators > 0;
    w.deployed = w.enabled && env.blockchain.enabled;
    w.fixed_size(c.validators);
    // Validators submit what they agree on to the chain.
    w.depends_on = vec![BLOCKCHAIN.to_owned()];
    w.ports.push(port("http", c.port));
    scraped(&mut w, &c.metrics);
    let mode = match c.mode {
        ConsensusMode::Test => "test",
        ConsensusMode::Production => "production",
    };
    w.env = BTreeMap::from([
        ("CONSENSUS_MODE".to_owned(), mode.to_owned()),
        ("VALIDATOR_COUNT".to_owned(), c.validators.to_string()),
    ]);
    w.health = Health::Http("/health".to_owned());
    w
}

fn data_source(persistent: bool) -> DataSource {
    if persistent {
        DataSource::ClaimTemplate
    } else {
        DataSource::EmptyDir
    }
}

/// A backup job's pod in the storage namespace with the backup's resources (`backup.resources`,
/// else the environment's defaults); the caller sets its variables, command and data.
#[must_use]
pub fn backup_job<'a>(env: &'a Environment, name: &str) -> Workload<'a> {
    let b = &env.backup;
    let mut w = base(
        env,
        Kind::Backup,
        name,
        NamespaceKey::Storage,
        &b.image,
        b.resources.as_ref(),
    );
    w.enabled = b.enabled;
    w.deployed = b.enabled;
    w.secrets = b.secrets.clone();
    w.health = Health::None;
    w.job = true;
    w
}

/// The namespace a backup job runs in: the full backup (no `source`) beside the data claim it
/// archives, a backup of the blockchain nodes beside the node volume it reads (a pod mounts only
/// claims of its own namespace), and a store's dump in the storage namespace.
#[must_use]
pub fn backup_namespace(env: &Environment, source: Option<&str>) -> NamespaceKey {
    match source {
        None => env
            .data
            .as_ref()
            .map_or(NamespaceKey::Storage, |d| d.namespace),
        Some(BLOCKCHAIN) => NamespaceKey::Blockchain,
        Some(_) => NamespaceKey::Storage,
    }
}

/// Whether a backup of `source` reads its volume instead of connecting to it: the blockchain
/// nodes' state is archived from the volume of the first node.
#[must_use]
pub fn backup_reads_volume(source: &str) -> bool {
    source == BLOCKCHAIN
}

/// The claim of the first blockchain node's `data` volume (`<template>-<statefulset>-<ordinal>`).
#[must_use]
pub fn blockchain_claim(ordinal: u32) -> String {
    format!("data-{BLOCKCHAIN}-{ordinal}")
}

/// One backup job of [`backup_jobs`].
#[derive(Debug, Clone)]
pub struct BackupJob<'a> {
    /// Its `[backup.databases.<name>]` entry; `None` for the full backup of the data volume.
    pub database: Option<&'a str>,
    /// What it backs up: the entry's `source`; `None` for the full backup.
    pub source: Option<&'a str>,
    pub workload: Workload<'a>,
}

/// Every backup job's pod, as it runs: the full backup of the data volume (when `[data]` is
/// set), then each database backup by name, each in its namespace ([`backup_namespace`]) with
/// the volume it reads and the secrets it logs in with (the bucket's, and a dumped store's own).
/// Empty when backups are off.
#[must_use]
pub fn backup_jobs(env: &Environment) -> Vec<BackupJob<'_>> {
    let b = &env.backup;
    if !b.enabled {
        return Vec::new();
    }
    let in_namespace = |w: &mut Workload<'_>, source: Option<&str>| {
        w.namespace_key = backup_namespace(env, source);
        env.namespace(w.namespace_key).clone_into(&mut w.namespace);
    };
    let mut out = Vec::new();
    if let Some(d) = &env.data {
        let mut full = backup_job(env, &b.name);
        in_namespace(&mut full, None);
        full.data = Some((d.path.clone(), DataSource::Claim(b.data_claim.clone())));
        out.push(BackupJob {
            database: None,
            source: None,
            workload: full,
        });
    }
    for (name, db) in &b.databases {
        let source = db.source.as_str();
        let mut w = backup_job(env, &format!("{}-{name}", b.name));
        in_namespace(&mut w, Some(source));
        if backup_reads_volume(source) {
            w.data = Some(("/data".to_owned(), DataSource::Claim(blockchain_claim(0))));
        } else if let Some(s) = deployed_named(env, source) {
            w.secrets.extend(s.secrets);
            w.depends_on = vec![source.to_owned()];
        }
        out.push(BackupJob {
            database: Some(name.as_str()),
            source: Some(source),
            workload: w,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn load(rel: &str) -> Environment {
        crate::load_model(&Path::new(env!("CARGO_MANIFEST_DIR")).join(rel))
            .unwrap_or_else(|e| panic!("{rel} loads: {e}"))
    }

    fn find<'a>(plan: &'a [Workload<'a>], name: &str) -> &'a Workload<'a> {
        plan.iter()
            .find(|w| w.name == name)
            .unwrap_or_else(|| panic!("no workload `{name}`"))
    }

    #[test]
    fn autoscaled_services_range_up_to_their_maximum() {
        let env = load("environments/production.toml");
        let plan = workloads(&env);
        let w = find(&plan, "doc-ingester");
        let a = env.services["doc-ingester"].autoscaling.as_ref().unwrap();
        assert_eq!(
            w.replicas,
            a.min_replicas.max(env.services["doc-ingester"].replicas)
        );
        assert_eq!(w.max_replicas, a.max_replicas);
        assert_eq!(find(&plan, VALIDATOR).replicas, env.consensus.validators);
    }

    #[test]
    fn a_workload_built_alone_is_the_one_the_plan_deploys() {
        for file in ["development", "staging", "production"] {
            let env = load(&format!("environments/{file}.toml"));
            let plan = deployed(&env);
            let names = workloads(&env).into_iter().map(|w| w.name);
            for name in names.chain(["no-such-workload".to_owned()]) {
                let alone = deployed_named(&env, &name).map(|w| format!("{w:?}"));
                let planned = plan
                    .iter()
                    .find(|w| w.name == name)
                    .map(|w| format!("{w:?}"));
                assert_eq!(alone, planned, "{file}: {name}");
            }
        }
    }

    #[test]
    fn validators_are_deployed_only_with_the_chain() {
        let env = load("environments/development.toml");
        let plan = workloads(&env);
        let v = find(&plan, VALIDATOR);
        assert!(v.enabled && !v.deployed);
        assert!(!deployed(&env).iter().any(|w| w.kind == Kind::Consensus));
    }

    #[test]
    fn pods_with_secrets_get_the_vault_agent_and_meshed_pods_the_proxy() {
        let env = load("environments/production.toml");
        let plan = workloads(&env);
        let names =
            |w: &Workload<'_>| -> Vec<&str> { w.sidecars(&env).iter().map(|s| s.name).collect() };
        assert_eq!(
            names(find(&plan, "doc-ingester")),
            [ISTIO_PROXY, VAULT_AGENT]
        );
        assert_eq!(names(find(&plan, "mineru")), [ISTIO_PROXY]);
        assert_eq!(vault_agent().resources.limits.memory.as_str(), "64Mi");
    }

    /// A Sentinel set is reached through its sentinels: its clients get where they answer, and
    /// its pods carry a sentinel that counts like an injected container.
    #[test]
    fn a_sentinel_set_names_its_sentinels_to_its_clients() {
        let env = load("tests/fixtures/sentinel.toml");
        let plan = workloads(&env);
        let cache = find(&plan, "cache");
        assert!(cache.sentinels());
        assert_eq!(cache.service_name(), "cache-sentinel");
        assert_eq!(cache.client_ports(), [6379, SENTINEL_PORT]);
        assert!(cache.sidecars(&env).iter().any(|s| s.name == SENTINEL));
        let web = find(&plan, "web");
        assert_eq!(web.client_ports(), [8080]);
        assert_eq!(
            web.env["CACHE_SENTINELS"],
            "cache-sentinel.mini-storage.svc.cluster.local:26379"
        );
        assert_eq!(web.env["CACHE_MASTER_NAME"], "cache");
        // The model's own variables stay the model's.
        assert!(!web.declared_env.unwrap().contains_key("CACHE_SENTINELS"));

        // A single server is its own Service, and its clients get nothing more.
        let env = load("tests/fixtures/minimal.toml");
        let plan = workloads(&env);
        let cache = find(&plan, "cache");
        assert_eq!(cache.service_name(), "cache");
        assert_eq!(cache.client_ports(), [6379]);
        assert!(client_env(&env, "cache").is_empty());
        assert!(
            !find(&plan, "web")
                .env
                .keys()
                .any(|k| k.starts_with("CACHE_"))
        );
    }
}
