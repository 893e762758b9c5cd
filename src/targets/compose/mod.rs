//! The `compose` target: `compose/docker-compose.yaml` for environments that run on Docker Compose
//! (development). Every enabled service and storage backend becomes a Compose service; storage
//! gets a healthcheck, a named volume when it persists, and its dependents wait for it to be
//! healthy. Secrets are Compose secrets read from a file or the caller's environment and mounted
//! under `/run/secrets`, announced to the container as `<VAR>_FILE`, so no value is ever written.

use crate::model::{Environment, PlatformKind, PullPolicy, SecretRef, StorageBackend, StorageKind};
use crate::plan::{self, DataSource, Kind};
use crate::render;
use crate::targets::{Artifact, Context, Target, TargetError};
use serde::Serialize;
use std::collections::BTreeMap;

#[cfg(test)]
mod tests;

pub(super) struct Compose;

impl Target for Compose {
    fn name(&self) -> &'static str {
        "compose"
    }

    fn applies(&self, env: &Environment) -> bool {
        env.environment.platform == PlatformKind::Compose
    }

    fn generate(&self, cx: &Context<'_>) -> Result<Vec<Artifact>, TargetError> {
        let file = compose_file(cx.env)?;
        let profiles: std::collections::BTreeSet<&String> = cx
            .env
            .enabled_services()
            .flat_map(|(_, s)| &s.profiles)
            .collect();
        let mut text = render::header(cx);
        // Relative paths (bind mounts, secret files) are the model's, relative to the repository.
        text.push_str(
            "# Run from the repository root: docker compose --project-directory . -f <this file>",
        );
        for p in profiles {
            text.push_str(" --profile ");
            text.push_str(p);
        }
        text.push_str(" up\n");
        text.push_str(&crate::render::yaml11::to_string(&file).map_err(TargetError)?);
        Ok(vec![Artifact::file(
            self.name(),
            "compose/docker-compose.yaml",
            text.into_bytes(),
        )])
    }
}

/// A Compose file (the Compose Specification; no `version`, which Compose ignores and warns about).
#[derive(Debug, Serialize)]
pub(crate) struct ComposeFile {
    pub name: String,
    pub services: BTreeMap<String, Service>,
    /// Named volumes with Compose's defaults: each an empty mapping.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    #[allow(clippy::zero_sized_map_values)]
    pub volumes: BTreeMap<String, Volume>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, Secret>,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct Service {
    pub image: String,
    pub pull_policy: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub depends_on: BTreeMap<String, Dependency>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy: Option<Deploy>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Dependency {
    pub condition: &'static str,
}

#[derive(Debug, Serialize)]
pub(crate) struct Healthcheck {
    pub test: Vec<String>,
    pub interval: &'static str,
    pub timeout: &'static str,
    pub retries: u32,
    pub start_period: &'static str,
}

#[derive(Debug, Serialize)]
pub(crate) struct Deploy {
    pub resources: DeployResources,
}

#[derive(Debug, Serialize)]
pub(crate) struct DeployResources {
    pub reservations: Reservations,
}

#[derive(Debug, Serialize)]
pub(crate) struct Reservations {
    pub devices: Vec<Device>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Device {
    pub driver: &'static str,
    pub count: u32,
    pub capabilities: Vec<&'static str>,
}

/// A named volume with Compose's defaults (serialized as `{}`).
#[derive(Debug, Serialize)]
pub(crate) struct Volume {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Secret {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}

pub(crate) fn compose_file(env: &Environment) -> Result<ComposeFile, TargetError> {
    let mut secrets = Secrets::default();
    #[allow(clippy::zero_sized_map_values)] // Compose writes each named volume as `{}`
    let mut volumes = BTreeMap::new();
    let mut services = BTreeMap::new();

    // The plan decides what runs; Compose runs its storage backends and services (the
    // blockchain and validators are Kubernetes-only).
    let plan = plan::deployed(env);
    let planned = |kind| plan.iter().filter(move |w| w.kind == kind);
    let storage: BTreeMap<&String, &StorageBackend> = planned(Kind::Storage)
        .map(|w| (&w.name, &env.storage[&w.name]))
        .collect();
    for w in planned(Kind::Storage) {
        let name = &w.name;
        let backend = storage[name];
        let mut svc = Service {
            image: env.image_ref(w.image),
            pull_policy: pull_policy(env.images.pull_policy),
            environment: literal_map(&backend.env),
            healthcheck: healthcheck(backend),
            ..Service::default()
        };
        secrets.attach(name, &w.secrets, &mut svc)?;
        if let Some((dir, DataSource::ClaimTemplate)) = &w.data {
            let volume = format!("{name}-data");
            svc.volumes.push(format!("{volume}:{dir}"));
            volumes.insert(volume, Volume {});
        }
        services.insert(name.clone(), svc);
    }

    let enabled: BTreeMap<&String, &crate::model::Service> = planned(Kind::Service)
        .map(|w| (&w.name, &env.services[&w.name]))
        .collect();
    for (name, s) in &enabled {
        let mut svc = Service {
            image: env.image_ref(&s.image),
            pull_policy: pull_policy(env.images.pull_policy),
            command: s.command.iter().map(|c| literal(c)).collect(),
            // Published on the loopback interface only: a development stack is not a server.
            ports: vec![format!("127.0.0.1:{0}:{0}", s.port)],
            environment: literal_map(&s.env),
            volumes: s.volumes.iter().map(|v| literal(v)).collect(),
            profiles: s.profiles.clone(),
            ..Service::default()
        };
        secrets.attach(name, &s.secrets, &mut svc)?;
        for dep in &s.depends_on {
            let condition = match storage.get(dep) {
                Some(b) if healthcheck(b).is_some() => "service_healthy",
                Some(_) => "service_started",
                None if enabled.contains_key(dep) => "service_started",
                // A dependency that does not run here (the blockchain, a service switched off
                // for development) has nothing to wait for.
                None => continue,
            };
            svc.depends_on.insert(dep.clone(), Dependency { condition });
        }
        if s.gpu > 0 {
            svc.deploy = Some(Deploy {
                resources: DeployResources {
                    reservations: Reservations {
                        devices: vec![Device {
                            driver: "nvidia",
                            count: s.gpu,
                            capabilities: vec!["gpu"],
                        }],
                    },
                },
            });
        }
        if services.insert((*name).clone(), svc).is_some() {
            return Err(TargetError(format!(
                "`{name}` is both a service and a storage backend; Compose needs one name per container"
            )));
        }
    }

    Ok(ComposeFile {
        name: format!("deaap-{}", env.environment.name),
        services,
        volumes,
        secrets: secrets.defined,
    })
}

fn pull_policy(p: PullPolicy) -> &'static str {
    match p {
        PullPolicy::Always => "always",
        PullPolicy::IfNotPresent => "missing",
        PullPolicy::Never => "never",
    }
}

/// Exec-form healthchecks (no shell, so model values are arguments, never code). `PostgreSQL` is
/// probed over TCP: during first start its entrypoint runs a temporary server on the socket only,
/// which must not count as ready. The vector database image has no client to probe with.
fn healthcheck(b: &StorageBackend) -> Option<Healthcheck> {
    let port = b.port.to_string();
    let test: Vec<String> = match b.kind {
        StorageKind::Redis => vec![
            "CMD".into(),
            "redis-cli".into(),
            "-p".into(),
            port,
            "ping".into(),
        ],
        StorageKind::Postgresql => {
            let user = b
                .env
                .get("POSTGRES_USER")
                .map_or("postgres", String::as_str);
            let mut t: Vec<String> = vec![
                "CMD".into(),
                "pg_isready".into(),
                "-h".into(),
                "127.0.0.1".into(),
                "-p".into(),
                port,
                "-U".into(),
                literal(user),
            ];
            if let Some(db) = b.database.as_ref().or_else(|| b.env.get("POSTGRES_DB")) {
                t.extend(["-d".into(), literal(db)]);
            }
            t
        }
        StorageKind::VectorDb => return None,
    };
    Some(Healthcheck {
        test,
        interval: "5s",
        timeout: "3s",
        retries: 12,
        start_period: "10s",
    })
}

/// Compose interpolates `$VAR` and `${VAR}` in every value; `$$` is a literal dollar.
fn literal(s: &str) -> String {
    s.replace('$', "$$")
}

fn literal_map(m: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    m.iter().map(|(k, v)| (k.clone(), literal(v))).collect()
}

/// The top-level secrets, one per distinct reference.
#[derive(Default)]
struct Secrets {
    defined: BTreeMap<String, Secret>,
}

impl Secrets {
    /// Defines the secrets of one container and mounts them into it, with `<VAR>_FILE` pointing
    /// at each mount.
    fn attach(
        &mut self,
        owner: &str,
        refs: &BTreeMap<String, SecretRef>,
        svc: &mut Service,
    ) -> Result<(), TargetError> {
        for (var, reference) in refs {
            let source = match reference {
                SecretRef::File(path) => Secret {
                    file: Some(literal(path)),
                    environment: None,
                },
                SecretRef::Env(name) => Secret {
                    file: None,
                    environment: Some(name.clone()),
                },
                SecretRef::Vault { .. } => {
                    return Err(TargetError(format!(
                        "`{owner}` secret `{var}` is a vault: reference, which Docker Compose cannot \
                         resolve; use file:<path> or env:<VAR> in a compose environment"
                    )));
                }
            };
            let name = self.name_for(owner, var, source);
            svc.environment
                .insert(format!("{var}_FILE"), format!("/run/secrets/{name}"));
            svc.secrets.push(name);
        }
        svc.secrets.sort();
        svc.secrets.dedup();
        Ok(())
    }

    /// `POSTGRES_PASSWORD` → `postgres-password`, shared by every container that uses the same
    /// reference; a different reference under the same variable gets its owner's prefix.
    fn name_for(&mut self, owner: &str, var: &str, source: Secret) -> String {
        let base: String = var
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        // Endless candidates, but the first unused or identical one always comes.
        #[allow(clippy::maybe_infinite_iter)]
        let name = [base.clone(), format!("{owner}-{base}")]
            .into_iter()
            .chain((2..).map(|n| format!("{owner}-{base}-{n}")))
            .find(|c| self.defined.get(c).is_none_or(|e| *e == source))
            .unwrap_or(base);
        self.defined.entry(name.clone()).or_insert(source);
        name
    }
}
