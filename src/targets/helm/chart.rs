//! `helm/values-<environment>.yaml`: the values of the `deaap` chart (`charts/deaap/`) for one
//! environment, from which `helm template` renders the same objects as `deaap-gen render`.
//!
//! The values hold every object of the environment's object stream, one section per kind (the
//! chart has one template per kind): namespaced kinds keyed by namespace, then name; cluster-scoped
//! ones by name; Gatekeeper constraints by kind, then name. An entry is the object without
//! `apiVersion`, `kind` and `metadata` (the template writes those), plus its `labels` and
//! `annotations`. Workloads (`Deployments`, `StatefulSets`, `DaemonSets`, `CronJobs`) also lift
//! out what a Helm user turns: `replicas`, and each container's `image` and `resources` under `images.<container>` and
//! `resources.<container>`. Helm adds its own `app.kubernetes.io/managed-by` and `helm.sh/chart`
//! labels; every other field comes from here. The `CustomResourceDefinitions` ship in the chart's
//! `crds/` folder instead, as Helm wants them.

use super::reuse;
use crate::render::{Data, Node};
use crate::targets::kit::Object;
use crate::targets::{Artifact, Context, TargetError};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The chart's templates: which values section holds a kind (by API version and kind), how its
/// entries are keyed, and where a workload keeps its pod spec.
struct Section {
    api_version: &'static str,
    /// `None`: every kind of the API version (Gatekeeper's constraint kinds, keyed by kind).
    kind: Option<&'static str>,
    key: &'static str,
    /// Cluster-scoped: entries keyed by name alone.
    cluster: bool,
    workload: Option<Workload>,
}

#[derive(Clone, Copy)]
enum Workload {
    /// `spec.replicas` and the pod spec at `spec.template.spec`.
    Replicated,
    /// The pod spec at `spec.jobTemplate.spec.template.spec`; no replicas.
    Scheduled,
}

const fn section(api_version: &'static str, kind: &'static str, key: &'static str) -> Section {
    Section {
        api_version,
        kind: Some(kind),
        key,
        cluster: false,
        workload: None,
    }
}

const fn cluster(api_version: &'static str, kind: &'static str, key: &'static str) -> Section {
    Section {
        cluster: true,
        ..section(api_version, kind, key)
    }
}

const fn workload(
    api_version: &'static str,
    kind: &'static str,
    key: &'static str,
    w: Workload,
) -> Section {
    Section {
        workload: Some(w),
        ..section(api_version, kind, key)
    }
}

/// Every section of the chart's values, in the order of `values.yaml` and of the schema. A kind
/// missing here is a generator error, not a silently dropped object.
const SECTIONS: &[Section] = &[
    cluster("v1", "Namespace", "namespaces"),
    section("v1", "ResourceQuota", "resourceQuotas"),
    section("v1", "ServiceAccount", "serviceAccounts"),
    section("v1", "ConfigMap", "configMaps"),
    section("v1", "Service", "services"),
    section("v1", "PersistentVolumeClaim", "persistentVolumeClaims"),
    workload("apps/v1", "Deployment", "deployments", Workload::Replicated),
    workload(
        "apps/v1",
        "StatefulSet",
        "statefulSets",
        Workload::Replicated,
    ),
    workload("apps/v1", "DaemonSet", "daemonSets", Workload::Replicated),
    workload("batch/v1", "CronJob", "cronJobs", Workload::Scheduled),
    section(
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        "horizontalPodAutoscalers",
    ),
    section("policy/v1", "PodDisruptionBudget", "podDisruptionBudgets"),
    section("networking.k8s.io/v1", "NetworkPolicy", "networkPolicies"),
    section("networking.istio.io/v1beta1", "Gateway", "gateways"),
    section(
        "networking.istio.io/v1beta1",
        "VirtualService",
        "virtualServices",
    ),
    section(
        "networking.istio.io/v1beta1",
        "DestinationRule",
        "destinationRules",
    ),
    section(
        "security.istio.io/v1beta1",
        "PeerAuthentication",
        "peerAuthentications",
    ),
    section("telemetry.istio.io/v1", "Telemetry", "telemetries"),
    section("cert-manager.io/v1", "Certificate", "certificates"),
    section(
        "monitoring.coreos.com/v1",
        "PrometheusRule",
        "prometheusRules",
    ),
    section("postgresql.cnpg.io/v1", "Cluster", "clusters"),
    section(
        "postgresql.cnpg.io/v1",
        "ScheduledBackup",
        "scheduledBackups",
    ),
    cluster(
        "templates.gatekeeper.sh/v1",
        "ConstraintTemplate",
        "constraintTemplates",
    ),
    Section {
        api_version: "constraints.gatekeeper.sh/v1beta1",
        kind: None,
        key: "constraints",
        cluster: true,
        workload: None,
    },
];

/// The label Helm sets to itself; the chart writes it, so the values leave it out.
const MANAGED_BY: &str = "app.kubernetes.io/managed-by";

/// The values file of the chart for this environment.
///
/// # Errors
/// An object of a kind the chart has no template for, or with metadata the chart cannot carry (a
/// generator bug, reported rather than dropped).
pub(in crate::targets) fn values(
    cx: &Context<'_>,
    artifacts: &[Artifact],
) -> Result<Artifact, TargetError> {
    // section → outer key (namespace, constraint kind; none when cluster-scoped) → name → object
    type Entries<'a> = BTreeMap<&'a str, &'a Object>;
    let objects = crate::stream::kubernetes_objects(artifacts).map_err(TargetError)?;
    let mut sections: BTreeMap<usize, BTreeMap<Option<&str>, Entries<'_>>> = BTreeMap::new();
    for o in objects {
        if o.kind() == "CustomResourceDefinition" {
            continue;
        }
        let (index, s) = SECTIONS
            .iter()
            .enumerate()
            .find(|(_, s)| s.api_version == o.api_version() && s.kind.is_none_or(|k| k == o.kind()))
            .ok_or_else(|| {
                TargetError(format!(
                    "the chart has no template for {} {}",
                    o.api_version(),
                    o.kind()
                ))
            })?;
        let outer = if s.kind.is_none() {
            Some(o.kind())
        } else if s.cluster {
            None
        } else {
            o.namespace()
        };
        let entries = sections.entry(index).or_default().entry(outer).or_default();
        if entries.insert(o.name(), o).is_some() {
            return Err(TargetError(format!(
                "two {} objects named {} in one values section",
                o.kind(),
                o.name()
            )));
        }
    }
    // The entries in file order, in runs of at most CHUNK of one section and outer key, each
    // built and written on its own: the runs are spread over the machine's cores, and no run's
    // entries outlive its text.
    let mut chunks = Vec::new();
    for (index, groups) in &sections {
        let s = &SECTIONS[*index];
        for (outer, entries) in groups {
            let entries: Vec<(&str, &Object)> = entries.iter().map(|(n, o)| (*n, *o)).collect();
            for run in entries.chunks(CHUNK) {
                chunks.push(Chunk {
                    section: s,
                    outer: *outer,
                    entries: run.to_vec(),
                });
            }
        }
    }
    let mut doc = Map::new();
    doc.insert("environment".into(), json!(cx.env.environment.name));
    let mut head = crate::render::header(cx);
    head.push_str(
        &crate::render::yaml11::json_to_string(&Value::Object(doc)).map_err(TargetError)?,
    );
    let path = format!("helm/values-{}.yaml", cx.env.environment.name);
    let estimate: usize = chunks.iter().map(Chunk::estimate).sum();
    // A build into a folder that holds the file already writes the new text there anyway: a large
    // one waits in a temporary file beside it rather than in memory. Should that file fail, the
    // text is held after all.
    if let Some(before) = cx.before
        && estimate >= SPILL_FROM
        && let Some(bytes) = spilled(before, &path, &head, &chunks)?
    {
        return Ok(Artifact::shared_file("helm", path, bytes));
    }
    let mut out = head.into_bytes();
    out.reserve(estimate);
    sections_into(&chunks, &mut out)?;
    Ok(Artifact::file("helm", path, out))
}

/// Appends the sections of the values file to `out`: joined from the chunks' texts
/// ([`sections_yaml`]), or written as one document when they do not join.
fn sections_into(chunks: &[Chunk<'_>], out: &mut Vec<u8>) -> Result<(), TargetError> {
    let start = out.len();
    let sections = sections_yaml(chunks, None, false, &mut |text| out.extend_from_slice(text))?;
    if matches!(sections, Sections::Apart) {
        out.truncate(start);
        out.extend_from_slice(whole(chunks)?.as_bytes());
    }
    Ok(())
}

/// How long a values file is, about, before a build that replaces it writes it to a temporary file
/// instead of holding it (see [`spilled`]): at 1,000 services it is 18 MB. In the unit tests every
/// values file is, so that the builds they run into folders take this path.
const SPILL_FROM: usize = if cfg!(test) { 1 } else { 1 << 20 };

/// The values file at `path`, `head` then the sections of `chunks`, written to a temporary file
/// in the output folder `before`; `None` when that file cannot be made or written. The runs of
/// entries the file the folder holds has already are copied from it ([`reuse`]), when the record
/// of its layout is kept and the whole file is found to be the one it describes; the layout of the
/// new file is kept for the next build.
fn spilled(
    before: &crate::output::Before,
    path: &str,
    head: &str,
    chunks: &[Chunk<'_>],
) -> Result<Option<crate::targets::Bytes>, TargetError> {
    let dir = before.dir();
    let record = reuse::Record::open(dir, path);
    let old = record
        .as_ref()
        .zip(before.listed(path))
        .and_then(|(r, listed)| r.layout(listed))
        .and_then(|layout| reuse::Old::open(dir, path, layout));
    let keyed = record.is_some();
    if let Some(mut old) = old
        && let Some((bytes, layout)) = spill_sections(dir, head, chunks, Some(&mut old), true)?
        && old.finish()
    {
        if let (Some(record), Some(layout)) = (record, layout) {
            record.keep(layout);
        }
        return Ok(Some(bytes));
    }
    let Some((bytes, layout)) = spill_sections(dir, head, chunks, None, keyed)? else {
        return Ok(None);
    };
    if let (Some(record), Some(layout)) = (record, layout) {
        record.keep(layout);
    }
    Ok(Some(bytes))
}

/// The values file, `head` then the sections of `chunks` (copied from `old` where it has them),
/// written to a temporary file in `dir`, with the layout of its runs when they are `keyed` and
/// joined; `None` when the file cannot be made or written, or a run could not be copied.
fn spill_sections(
    dir: &std::path::Path,
    head: &str,
    chunks: &[Chunk<'_>],
    old: Option<&mut reuse::Old>,
    keyed: bool,
) -> Result<Option<(crate::targets::Bytes, Option<reuse::Layout>)>, TargetError> {
    let Ok(mut spill) = crate::targets::Spill::new_in(dir) else {
        return Ok(None);
    };
    let mut failed = spill.push(head).is_err();
    let sections = sections_yaml(chunks, old, keyed, &mut |text| {
        failed = failed || spill.push_bytes(text).is_err();
    })?;
    let runs = match sections {
        Sections::Joined(runs) => keyed.then_some(runs),
        Sections::Uncopied => return Ok(None),
        Sections::Apart => {
            let Ok(again) = crate::targets::Spill::new_in(dir) else {
                return Ok(None);
            };
            spill = again;
            failed = spill.push(head).is_err() || spill.push(&whole(chunks)?).is_err();
            None
        }
    };
    if failed {
        return Ok(None);
    }
    let Ok(bytes) = spill.finish() else {
        return Ok(None);
    };
    let layout = runs.map(|runs| {
        let mut at = head.len() as u64;
        reuse::Layout {
            sha256: bytes.sha256(),
            len: bytes.len() as u64,
            runs: runs
                .into_iter()
                .map(|(key, len)| {
                    let run = (key, at, len as u64);
                    at += len as u64;
                    run
                })
                .collect(),
        }
    });
    Ok(Some((bytes, layout)))
}

/// How the sections of a values file came out.
enum Sections {
    /// Joined from the chunks' texts: each chunk's key and the length of what it added.
    Joined(Vec<(reuse::Key, usize)>),
    /// A key did not come out on a line of its own (see [`continuation`]): the sections are to be
    /// written as one document.
    Apart,
    /// A run could not be copied from the old file after part of it was handed over.
    Uncopied,
}

/// Hands `emit` the sections of the values file in order: each chunk written on its own (or
/// copied from `old`, which has its text), then joined. The chunks are written a window at a
/// time, spread over the cores, and each window's texts are freed once handed over: the file is
/// held once, not twice. Part of the sections may have been handed over when they do not come out
/// [`Sections::Joined`]. Each chunk's key is worked out when `keyed` (or `old` asks for it): the
/// runs joined are empty otherwise.
fn sections_yaml(
    chunks: &[Chunk<'_>],
    mut old: Option<&mut reuse::Old>,
    keyed: bool,
    emit: &mut dyn FnMut(&[u8]),
) -> Result<Sections, TargetError> {
    let keyed = keyed || old.is_some();
    let mut runs = Vec::with_capacity(chunks.len());
    let mut previous: Option<&Chunk<'_>> = None;
    let size = window();
    for (w, window) in chunks.chunks(size).enumerate() {
        // Each chunk with the one before it, its key, and its text unless `old` has it.
        let first = (w * size).checked_sub(1).and_then(|i| chunks.get(i));
        let before: Vec<(Option<&Chunk<'_>>, &Chunk<'_>)> = window
            .iter()
            .enumerate()
            .map(|(i, c)| (if i == 0 { first } else { window.get(i - 1) }, c))
            .collect();
        let has = old.as_deref();
        let made = crate::parallel::map(&before, |(previous, chunk)| {
            let key = keyed.then(|| chunk.key(shared(*previous, chunk)));
            if let (Some(o), Some(key)) = (has, &key)
                && o.has(key)
            {
                return Ok((Some(*key), None));
            }
            chunk.yaml().map(|text| (key, Some(text)))
        });
        for (chunk, made) in window.iter().zip(made) {
            let (key, text) = made?;
            let len = if let Some(text) = text {
                let Some(rest) = continuation(previous, chunk, &text) else {
                    return Ok(Sections::Apart);
                };
                emit(rest.as_bytes());
                rest.len()
            } else {
                let mut len = 0;
                let copied = old
                    .as_deref_mut()
                    .zip(key.as_ref())
                    .is_some_and(|(o, key)| {
                        o.copy(key, &mut |piece| {
                            emit(piece);
                            len += piece.len();
                            true
                        })
                    });
                if !copied {
                    return Ok(Sections::Uncopied);
                }
                len
            };
            if let Some(key) = key {
                runs.push((key, len));
            }
            previous = Some(chunk);
        }
    }
    Ok(Sections::Joined(runs))
}

/// How many key lines `chunk` shares with the chunk before it in the file: none when that one is
/// of another section; else its section's, and its outer key's when that is the same.
fn shared(previous: Option<&Chunk<'_>>, chunk: &Chunk<'_>) -> usize {
    match previous {
        Some(p) if std::ptr::eq(p.section, chunk.section) => {
            1 + usize::from(chunk.outer.is_some() && p.outer == chunk.outer)
        }
        _ => 0,
    }
}

/// How many chunks are written at a time: two per core, enough to keep every core busy, few
/// enough that their texts are a small part of the file (with 16 at a time on 2 cores, the window
/// was about 6 MB at 1,000 services, held beside the whole file at the build's peak).
fn window() -> usize {
    2 * crate::parallel::cores()
}

/// The sections of `chunks` as one YAML document.
fn whole(chunks: &[Chunk<'_>]) -> Result<String, TargetError> {
    let mut doc = Map::new();
    for c in chunks {
        let section = doc.entry(c.section.key).or_insert_with(|| json!({}));
        let entries = match c.outer {
            Some(outer) => section
                .as_object_mut()
                .map(|m| m.entry(outer).or_insert_with(|| json!({}))),
            None => Some(section),
        }
        .and_then(Value::as_object_mut)
        .ok_or_else(|| TargetError("a values section is not a map".into()))?;
        for (name, object) in &c.entries {
            entries.insert(
                (*name).to_owned(),
                entry(object.value(), c.section.workload)?.to_value(),
            );
        }
    }
    if doc.is_empty() {
        return Ok(String::new());
    }
    crate::render::yaml11::json_to_string(&Value::Object(doc)).map_err(TargetError)
}

/// How many entries one piece of the values file holds at most (two in the unit tests, so that
/// every environment they generate is written in many pieces).
const CHUNK: usize = if cfg!(test) { 2 } else { 64 };

/// A run of entries of one section (and one outer key), written as a document of its own:
/// `section:`, `  outer:` when keyed by one, then the entries.
struct Chunk<'a> {
    section: &'static Section,
    outer: Option<&'a str>,
    entries: Vec<(&'a str, &'a Object)>,
}

impl Chunk<'_> {
    /// About how long its text is, a little more rather than less: its objects' documents and a
    /// quarter more, for the deeper indentation of their lines (the lines an entry leaves out,
    /// such as `apiVersion` and `kind`, make up for part of it). The values of the shipped
    /// environments, the fixtures and 100 or 1,000 synthetic services are 1.06 to 1.12 times
    /// their objects' documents; what is reserved and never written is never touched, so it takes
    /// no memory, and the documents are not read again to count their lines.
    fn estimate(&self) -> usize {
        self.entries
            .iter()
            .map(|(_, o)| {
                let d = o.document_len();
                d + d / 4
            })
            .sum()
    }

    /// What the text of the chunk follows from, when it shares `shared` key lines with the chunk
    /// before it (see [`reuse`]): its section and outer key, and each entry's name and object,
    /// which its document's SHA-256 names.
    fn key(&self, shared: usize) -> reuse::Key {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        let mut field = |bytes: &[u8]| {
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        field(self.section.key.as_bytes());
        field(self.outer.map_or(&[0xff][..], str::as_bytes));
        field(&(shared as u64).to_le_bytes());
        for (name, object) in &self.entries {
            field(name.as_bytes());
            field(&object.document_sha256());
        }
        let digest: [u8; 32] = h.finalize().into();
        let mut key = reuse::Key::default();
        key.copy_from_slice(&digest[..16]);
        key
    }

    fn yaml(&self) -> Result<String, TargetError> {
        let entries = self
            .entries
            .iter()
            .map(|(name, object)| {
                let mut e = entry(object.value(), self.section.workload)?;
                copy_written(&mut e, object);
                Ok((*name, e))
            })
            .collect::<Result<Vec<_>, TargetError>>()?;
        let inner = match self.outer {
            Some(outer) => Node::Map(vec![(outer, Node::Map(entries))]),
            None => Node::Map(entries),
        };
        let doc = Node::Map(vec![(self.section.key, inner)]);
        crate::render::yaml11::node_to_string(&doc).map_err(TargetError)
    }
}

/// What `text`, the YAML of `chunk`, adds to the file after the previous chunk's: all of it, or,
/// when it continues the previous chunk's section (and outer key), what follows the key lines the
/// two share ([`shared`]). `None` when a key is not written on one line of its own, where the two
/// would not join into one mapping (a key of over 128 characters, which YAML writes as `? key`).
fn continuation<'t>(
    previous: Option<&Chunk<'_>>,
    chunk: &Chunk<'_>,
    text: &'t str,
) -> Option<&'t str> {
    let mut lines = text.split_inclusive('\n');
    let section = lines.next()?;
    if section != format!("{}:\n", chunk.section.key) {
        return None;
    }
    if chunk.outer.is_some() {
        let line = lines.next()?;
        let key = line.strip_prefix("  ")?.strip_suffix(":\n")?;
        if key.is_empty() || key.starts_with([' ', '?']) {
            return None;
        }
    }
    // The same outer key is written the same: the lines it shares with the previous chunk are
    // those of the keys they share.
    let skip: usize = text
        .split_inclusive('\n')
        .take(shared(previous, chunk))
        .map(str::len)
        .sum();
    Some(&text[skip..])
}

/// One object as a values entry, borrowing the object's values it writes as they are.
fn entry(object: &Data, workload: Option<Workload>) -> Result<Node<'_>, TargetError> {
    let mut body = Node::Value(object);
    let body = body
        .map_mut()
        .ok_or_else(|| TargetError("an object is not a map".into()))?;
    // Removed as the object's own map removes a key, moving its last entry into the gap: the
    // order the entry's keys have always been written in.
    remove(body, "apiVersion");
    remove(body, "kind");
    let metadata = remove(body, "metadata");
    let metadata = match &metadata {
        Some(Node::Value(v)) => v.as_object(),
        _ => None,
    };
    let mut entry: Vec<(&str, Node<'_>)> = Vec::new();
    for (key, value) in metadata.into_iter().flatten() {
        match key.as_ref() {
            "name" | "namespace" => {}
            "labels" => {
                let labels: BTreeMap<&str, Node<'_>> = value
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, _)| *k != MANAGED_BY)
                    .map(|(k, v)| (k.as_ref(), Node::Value(v)))
                    .collect();
                if !labels.is_empty() {
                    entry.push(("labels", Node::Map(labels.into_iter().collect())));
                }
            }
            "annotations" => entry.push(("annotations", Node::Value(value))),
            other => {
                return Err(TargetError(format!(
                    "the chart carries no metadata.{other} (object {})",
                    object["metadata"]["name"]
                )));
            }
        }
    }
    if let Some(w) = workload {
        lift(body, &mut entry, w);
    }
    for (key, value) in std::mem::take(body) {
        if entry.iter().any(|(k, _)| *k == key) {
            return Err(TargetError(format!(
                "object field `{key}` clashes with the chart's entry key"
            )));
        }
        entry.push((key, value));
    }
    Ok(Node::Map(entry))
}

/// Marks the mapping values of `node` that are values of `object` written in its document as
/// that text ([`Node::Written`]), so the values file copies them instead of writing them again.
fn copy_written<'a>(node: &mut Node<'a>, object: &'a Object) {
    match node {
        Node::Map(entries) => {
            for (_, v) in entries {
                match v {
                    Node::Value(value) => {
                        if let Some(w) = object.written(value) {
                            *v = Node::Written(value, w);
                        }
                    }
                    _ => copy_written(v, object),
                }
            }
        }
        Node::Seq(items) => {
            for item in items {
                copy_written(item, object);
            }
        }
        Node::Value(_) | Node::Written(..) => {}
    }
}

/// Removes `key` from a mapping's entries as `serde_json::Map::remove` does: the last entry takes
/// its place.
fn remove<'a>(entries: &mut Vec<(&'a str, Node<'a>)>, key: &str) -> Option<Node<'a>> {
    let i = entries.iter().position(|(k, _)| *k == key)?;
    Some(entries.swap_remove(i).1)
}

/// The value of `key` in a mapping's entries, to change.
fn get_mut<'e, 'a>(entries: &'e mut [(&'a str, Node<'a>)], key: &str) -> Option<&'e mut Node<'a>> {
    entries.iter_mut().find(|(k, _)| *k == key).map(|(_, v)| v)
}

/// Moves a workload's replicas and its containers' images and resources from the object into
/// the entry's own keys.
fn lift<'a>(body: &mut [(&'a str, Node<'a>)], entry: &mut Vec<(&'a str, Node<'a>)>, w: Workload) {
    let Some(spec) = get_mut(body, "spec").and_then(Node::map_mut) else {
        return;
    };
    if let (Workload::Replicated, Some(replicas)) = (w, remove(spec, "replicas")) {
        entry.push(("replicas", replicas));
    }
    let path: &[&str] = match w {
        Workload::Replicated => &["template", "spec"],
        Workload::Scheduled => &["jobTemplate", "spec", "template", "spec"],
    };
    let mut pod = Some(spec);
    for key in path {
        pod = pod.and_then(|m| get_mut(m, key)).and_then(Node::map_mut);
    }
    let mut images = BTreeMap::new();
    let mut resources = BTreeMap::new();
    for field in ["initContainers", "containers"] {
        let containers = pod
            .as_deref_mut()
            .and_then(|p| get_mut(p, field))
            .and_then(Node::seq_mut);
        for c in containers.into_iter().flatten() {
            let Some(c) = c.map_mut() else { continue };
            let name = c
                .iter()
                .find(|(k, _)| *k == "name")
                .and_then(|(_, v)| v.as_str())
                .unwrap_or_default();
            if let Some(image) = remove(c, "image") {
                images.insert(name, image);
            }
            if let Some(r) = remove(c, "resources") {
                resources.insert(name, r);
            }
        }
    }
    if !images.is_empty() {
        entry.push(("images", Node::Map(images.into_iter().collect())));
    }
    if !resources.is_empty() {
        entry.push(("resources", Node::Map(resources.into_iter().collect())));
    }
}

/// The JSON Schema of the chart's values (`charts/deaap/values.schema.json`), the same for every
/// environment: Helm checks the values against it on lint, template, install and upgrade, so a
/// misspelt key or a value of the wrong type fails before anything reaches the cluster.
#[must_use]
pub fn values_schema() -> Value {
    let mut properties = Map::new();
    properties.insert(
        "environment".into(),
        json!({
            "description": "The environment these values were compiled for (its `[environment] name`).",
            "type": "string",
        }),
    );
    for s in SECTIONS {
        let (def, what) = match (s.workload, s.kind) {
            (Some(Workload::Replicated), _) => {
                ("workload", "with their replicas, images and resources")
            }
            (Some(Workload::Scheduled), _) => {
                ("scheduledWorkload", "with their images and resources")
            }
            (None, Some("ServiceAccount")) => ("serviceAccount", "with their token setting"),
            (None, Some("ConfigMap")) => ("configMap", "with their files"),
            (None, _) => ("entry", "each with its spec"),
        };
        let kind = s.kind.unwrap_or("Gatekeeper constraint");
        let entries =
            json!({"type": "object", "additionalProperties": {"$ref": format!("#/$defs/{def}")}});
        let (keyed, inner) = if s.kind.is_none() {
            (
                "kind, then name",
                json!({"type": "object", "propertyNames": {"$ref": "#/$defs/kind"}, "additionalProperties": entries}),
            )
        } else if s.cluster {
            ("name", entries)
        } else {
            (
                "namespace, then name",
                json!({"type": "object", "propertyNames": {"$ref": "#/$defs/name"}, "additionalProperties": entries}),
            )
        };
        let mut section = inner;
        section["description"] = json!(format!(
            "{kind} objects ({}), by {keyed}, {what}.",
            s.api_version
        ));
        if s.kind.is_some() && s.cluster {
            section["propertyNames"] = json!({"$ref": "#/$defs/name"});
        }
        properties.insert(s.key.into(), section);
    }
    let strings = json!({"type": "object", "additionalProperties": {"type": "string"}});
    let metadata = json!({
        "labels": {"description": "The object's labels (Helm adds helm.sh/chart and app.kubernetes.io/managed-by).", "$ref": "#/$defs/strings"},
        "annotations": {"description": "The object's annotations.", "$ref": "#/$defs/strings"},
    });
    let with = |extra: Value, required: &[&str]| {
        let mut p = metadata.clone();
        for (k, v) in extra.as_object().into_iter().flatten() {
            p[k] = v.clone();
        }
        json!({"type": "object", "additionalProperties": false, "properties": p, "required": required})
    };
    let spec = json!({"description": "The object's spec, as the Kubernetes API defines it for its kind.", "type": "object"});
    let images = json!({
        "description": "Each container's image by container name, e.g. `registry.example.com/deaap/api-gateway:1.8.0`.",
        "type": "object",
        "additionalProperties": {"type": "string", "minLength": 1},
    });
    let resources = json!({
        "description": "Each container's requests and limits by container name.",
        "type": "object",
        "additionalProperties": {"$ref": "#/$defs/resources"},
    });
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://deaap.company.com/schemas/deaap-chart-values.schema.json",
        "title": "Values of the deaap chart",
        "description": "Generated by `deaap-gen schema --chart`; deaap-gen writes a values file of this shape for each environment (helm/values-<environment>.yaml).",
        "type": "object",
        "additionalProperties": false,
        "properties": properties,
        "$defs": {
            "name": {"description": "A Kubernetes object or namespace name.", "type": "string", "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253},
            "kind": {"description": "A Kubernetes kind.", "type": "string", "pattern": "^[A-Z][A-Za-z0-9]*$"},
            "strings": strings,
            "quantity": {"description": "A Kubernetes quantity (`500m`, `2Gi`, `4`).", "type": ["string", "number"]},
            "resources": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "requests": {"type": "object", "additionalProperties": {"$ref": "#/$defs/quantity"}},
                    "limits": {"type": "object", "additionalProperties": {"$ref": "#/$defs/quantity"}},
                },
            },
            "entry": with(json!({"spec": spec}), &[]),
            "serviceAccount": with(json!({
                "automountServiceAccountToken": {"description": "Whether pods get the account's API token mounted.", "type": "boolean"},
            }), &[]),
            "configMap": with(json!({
                "data": {"description": "The files the ConfigMap holds, by key (a Redis Sentinel set's redis.conf, sentinel.conf and start step).", "$ref": "#/$defs/strings"},
            }), &[]),
            "workload": with(json!({
                "replicas": {"description": "The number of pods (left out under a HorizontalPodAutoscaler, which sets it).", "type": "integer", "minimum": 0},
                "images": images,
                "resources": resources,
                "spec": spec,
            }), &["spec"]),
            "scheduledWorkload": with(json!({
                "images": images,
                "resources": resources,
                "spec": spec,
            }), &["spec"]),
        },
    })
}

#[cfg(test)]
mod pieces {
    use super::*;

    fn section(key: &str) -> &'static Section {
        SECTIONS
            .iter()
            .find(|s| s.key == key)
            .expect("the section exists")
    }

    /// A run of `entries` of the section keyed `key`, under `outer`.
    fn chunk<'a>(
        key: &str,
        outer: Option<&'a str>,
        entries: Vec<(&'a str, &'a Object)>,
    ) -> Chunk<'a> {
        Chunk {
            section: section(key),
            outer,
            entries,
        }
    }

    fn config_map(namespace: &str, name: &str) -> Object {
        use k8s_openapi::api::core::v1::ConfigMap;
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
        let long = "x: 1\ny: yes\n".repeat(8);
        crate::targets::kit::object(&ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some(namespace.to_owned()),
                labels: Some([("app".to_owned(), name.to_owned())].into()),
                ..ObjectMeta::default()
            },
            data: Some(
                [
                    ("a.yaml".to_owned(), long),
                    ("on".to_owned(), "no".to_owned()),
                ]
                .into(),
            ),
            ..ConfigMap::default()
        })
        .expect("an object")
    }

    fn namespace(name: &str) -> Object {
        use k8s_openapi::api::core::v1::Namespace;
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
        crate::targets::kit::object(&Namespace {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        })
        .expect("an object")
    }

    /// An entry's keys come in the order they always had, which removing `apiVersion`, `kind` and
    /// `metadata` from the object's own map gives (its last key takes each one's place); a
    /// workload's spec likewise loses `replicas`, and its containers their images and resources.
    #[test]
    fn an_entry_keeps_the_key_order_of_the_objects_own_map() {
        let object = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns", "labels": {"b": "1", MANAGED_BY: "x", "a": "2"}},
            "spec": {"replicas": 2, "selector": {}, "strategy": {}, "template": {"spec": {
                "containers": [{"name": "app", "image": "i", "ports": [], "resources": {}, "env": []}]
            }}},
            "data": {"k": "v"},
            "binaryData": {},
            "immutable": true,
        });
        let mut reference = object.as_object().cloned().expect("a map");
        for key in ["apiVersion", "kind", "metadata"] {
            reference.remove(key);
        }
        let reference: Vec<&str> = reference.keys().map(String::as_str).collect();
        let data = crate::render::data::to_data(&object).expect("serializes");
        let written = entry(&data, Some(Workload::Replicated))
            .expect("an entry")
            .to_value();
        let keys: Vec<&str> = written
            .as_object()
            .expect("a map")
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = vec!["labels", "replicas", "images", "resources"];
        expected.extend(reference);
        assert_eq!(keys, expected);
        assert_eq!(written["labels"], json!({"a": "2", "b": "1"}));
        let mut spec = object["spec"].as_object().cloned().expect("a map");
        spec.remove("replicas");
        let spec: Vec<&str> = spec.keys().map(String::as_str).collect();
        let written_spec: Vec<&str> = written["spec"]
            .as_object()
            .expect("a map")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(written_spec, spec);
        let container: Vec<&str> = written["spec"]["template"]["spec"]["containers"][0]
            .as_object()
            .expect("a map")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(container, ["name", "env", "ports"]);
    }

    /// Pieces of one section and outer key, of one section under another outer key, and of
    /// cluster-scoped sections, joined: the same text as the sections written as one document.
    #[test]
    fn pieces_join_into_the_document_written_whole() {
        let (a, b, c) = (
            config_map("yes", "one"),
            config_map("yes", "two"),
            config_map("deaap-core", "three"),
        );
        let ns = namespace("n1");
        let chunks = vec![
            chunk("namespaces", None, vec![("n1", &ns)]),
            chunk("namespaces", None, vec![("n2", &ns), ("n3", &ns)]),
            chunk("configMaps", Some("yes"), vec![("one", &a)]),
            chunk("configMaps", Some("yes"), vec![("two", &b)]),
            chunk("configMaps", Some("deaap-core"), vec![("three", &c)]),
        ];
        let mut joined = b"environment: e\n".to_vec();
        sections_into(&chunks, &mut joined).expect("writes");
        let joined = String::from_utf8(joined).expect("UTF-8");
        assert_eq!(spilled_text(&chunks), joined);
        let joined = joined.strip_prefix("environment: e\n").expect("kept");
        assert_eq!(joined, whole(&chunks).expect("writes"));
        assert!(joined.starts_with("namespaces:\n  n1:"), "{joined}");
        assert_eq!(joined.matches("configMaps:").count(), 1, "{joined}");
        assert_eq!(joined.matches("  'yes':\n").count(), 1, "{joined}");
    }

    /// A spilled values file copies from the old file the runs it has: with every run the same,
    /// the same file and layout; with one object changed, the file a write afresh gives, one run
    /// written anew. Copies from a file other than the one the layout describes are told apart.
    #[test]
    fn runs_the_old_file_has_are_copied_from_it() {
        let (a, b, c, d) = (
            config_map("yes", "one"),
            config_map("yes", "two"),
            config_map("deaap-core", "three"),
            config_map("yes", "changed"),
        );
        let ns = namespace("n1");
        let chunks = |two| {
            vec![
                chunk("namespaces", None, vec![("n1", &ns), ("n2", &ns)]),
                chunk("configMaps", Some("yes"), vec![("one", &a)]),
                chunk("configMaps", Some("yes"), vec![("two", two)]),
                chunk("configMaps", Some("deaap-core"), vec![("three", &c)]),
            ]
        };
        let dir = tempfile::tempdir().expect("dir");
        let spill = |chunks: &[Chunk<'_>], old: Option<&mut reuse::Old>| {
            spill_sections(dir.path(), "environment: e\n", chunks, old, true)
                .expect("writes")
                .expect("spilled")
        };
        let text = |bytes: &crate::targets::Bytes| bytes.read().expect("read").into_owned();
        let (first, layout) = spill(&chunks(&b), None);
        let layout = layout.expect("joined");
        assert_eq!(layout.runs.len(), 4);
        std::fs::write(dir.path().join("v.yaml"), text(&first)).expect("write");
        let open = || reuse::Old::open(dir.path(), "v.yaml", &layout).expect("open");
        // The same runs, every one copied.
        let mut old = open();
        let (again, again_layout) = spill(&chunks(&b), Some(&mut old));
        assert!(old.finish());
        assert_eq!(text(&again), text(&first));
        assert_eq!(again_layout.as_ref(), Some(&layout));
        // One object changed.
        let (fresh, fresh_layout) = spill(&chunks(&d), None);
        let mut old = open();
        let (reused, reused_layout) = spill(&chunks(&d), Some(&mut old));
        assert!(old.finish());
        assert_eq!(text(&reused), text(&fresh));
        assert_eq!(reused_layout, fresh_layout);
        let fresh_layout = fresh_layout.expect("joined");
        let new_runs: Vec<usize> = (0..4)
            .filter(|i| fresh_layout.runs[*i].0 != layout.runs[*i].0)
            .collect();
        assert_eq!(new_runs, [2]);
        // A byte other inside the first run: copied as it is, and the file is not vouched for.
        let mut other = text(&first);
        let at = usize::try_from(layout.runs[0].1).expect("small") + 3;
        other[at] = b'#';
        std::fs::write(dir.path().join("v.yaml"), &other).expect("write");
        let mut old = open();
        let (copied, _) = spill(&chunks(&b), Some(&mut old));
        assert_eq!(text(&copied), other);
        assert!(!old.finish());
    }

    /// What a build writes to a temporary file for `chunks`, after `environment: e`.
    fn spilled_text(chunks: &[Chunk<'_>]) -> String {
        let dir = tempfile::tempdir().expect("dir");
        let (bytes, _) = spill_sections(dir.path(), "environment: e\n", chunks, None, false)
            .expect("writes")
            .expect("spilled");
        assert!(bytes.is_spilled());
        String::from_utf8(bytes.read().expect("read").into_owned()).expect("UTF-8")
    }

    /// A key YAML cannot write as a plain one-line key (over 128 characters: `? key`) is not cut
    /// out of a piece; the sections are written as one document instead.
    #[test]
    fn a_key_on_more_than_one_line_writes_the_sections_whole() {
        let long = "n".repeat(130);
        let (a, b) = (config_map(&long, "one"), config_map(&long, "two"));
        let chunks = vec![
            chunk("configMaps", Some(&long), vec![("one", &a)]),
            chunk("configMaps", Some(&long), vec![("two", &b)]),
        ];
        let first = chunks[0].yaml().expect("writes");
        assert!(first.contains(&format!("? {long}")), "{first}");
        assert_eq!(continuation(None, &chunks[0], &first), None);
        // What the file held before the sections stays when they are written whole.
        let mut written = b"environment: e\n".to_vec();
        sections_into(&chunks, &mut written).expect("writes");
        let written = String::from_utf8(written).expect("UTF-8");
        assert_eq!(spilled_text(&chunks), written);
        let written = written.strip_prefix("environment: e\n").expect("kept");
        assert_eq!(written, whole(&chunks).expect("writes"));
        assert_eq!(written.matches(&long).count(), 1, "{written}");
    }
}
