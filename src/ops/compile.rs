//! Compiling the named inputs: every environment file is loaded, validated and generated, and its
//! diagnostics are kept with their sources, and the environment they belong to, for the caller to
//! render (README "Command line": formats). Nothing may be written unless every input compiled.

use super::Error;
use crate::diagnostic::Diagnostic;
use crate::output;
use crate::source::SourceMap;
use crate::targets::Need;
use crate::targets::kit::{Object, Role};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A compiled, valid environment ready for the targets.
#[derive(Debug)]
pub struct Unit {
    pub path: PathBuf,
    pub tree: output::Tree,
    pub artifacts: Vec<crate::targets::Artifact>,
    /// What the proofs established about it.
    pub proof: crate::proof::Summary,
    /// The cluster it is deployed to (Kubernetes only), and where the model says so.
    pub cluster: Option<(String, crate::source::Span)>,
}

/// How one input file fared.
#[derive(Debug)]
pub enum Status {
    /// It compiled into a [`Unit`] (warnings may remain).
    Compiled,
    /// Its diagnostics hold at least one error.
    Invalid,
    /// It is valid on its own but could not be used; the error says why.
    Failed(Error),
}

/// One input file's diagnostics, with the sources they point into, and its status.
#[derive(Debug)]
pub struct FileReport {
    pub path: PathBuf,
    /// The environment it declares (`[environment] name`), or the file's stem when that cannot be
    /// read: what a diagnostic found while compiling it applies to.
    pub environment: String,
    pub sources: SourceMap,
    pub diagnostics: Vec<Diagnostic>,
    pub status: Status,
}

/// Every input compiled: a report per file in input order, and the units of those that compiled.
#[derive(Debug)]
pub struct Compilation {
    /// The inputs as they were named (empty for the default `environments/`).
    pub inputs: Vec<PathBuf>,
    pub files: Vec<FileReport>,
    pub units: Vec<Unit>,
}

impl Compilation {
    /// The compiled environments, when every input compiled.
    ///
    /// # Errors
    /// [`Error::Invalid`] when any input did not compile (its report says why).
    pub fn into_workspace(self) -> Result<Workspace, Error> {
        let failed = self
            .files
            .iter()
            .filter(|f| !matches!(f.status, Status::Compiled))
            .count();
        if failed > 0 {
            return Err(Error::Invalid { files: failed });
        }
        Ok(Workspace {
            inputs: self.inputs,
            units: self.units,
        })
    }
}

/// Every named environment, compiled and valid: what `build`, `diff` and `render` work on.
#[derive(Debug)]
pub struct Workspace {
    /// The inputs as they were named (empty for the default `environments/`).
    pub inputs: Vec<PathBuf>,
    pub units: Vec<Unit>,
}

impl Workspace {
    /// Whether its inputs name whole folders of environments ([`super::covers_folders`]).
    #[must_use]
    pub fn covers_folders(&self) -> bool {
        super::covers_folders(&self.inputs)
    }

    /// Environments with output in `out` that the inputs no longer produce (none when the inputs
    /// are single files).
    ///
    /// # Errors
    /// `out` exists but cannot be listed.
    pub fn orphans(&self, out: &Path) -> std::io::Result<Vec<String>> {
        if !self.covers_folders() {
            return Ok(Vec::new());
        }
        let keep: Vec<&str> = self
            .units
            .iter()
            .map(|u| u.tree.environment.as_str())
            .collect();
        output::orphans(out, &keep)
    }
}

/// Compiles every environment file the inputs name (default `environments/`). Each file's
/// diagnostics come back in its [`FileReport`]; a file that fails does not stop the others.
///
/// # Errors
/// The inputs name a path that does not exist or a folder without environments.
pub fn compile_all(inputs: &[PathBuf]) -> Result<Compilation, Error> {
    compile_all_for(inputs, Need::Files, None)
}

/// [`compile_all`], generating only what `need` asks for: a command that writes no files has no
/// use for the chart values. A command that writes or compares with the output folder `out`
/// (`build`, `build --check`, `diff`) names it: the generated files that folder holds already are
/// let go of as soon as they are generated, not held until the write or the comparison
/// ([`crate::targets::Context::let_go`]).
///
/// # Errors
/// As [`compile_all`].
pub fn compile_all_for(
    inputs: &[PathBuf],
    need: Need,
    out: Option<&Path>,
) -> Result<Compilation, Error> {
    let files = super::inputs::resolve_inputs(inputs)?;
    let mut compilation = Compilation {
        inputs: inputs.to_vec(),
        files: Vec::new(),
        units: Vec::new(),
    };
    // Every environment name met so far, even of an environment that then failed to generate.
    let mut names: Vec<(String, PathBuf)> = Vec::new();
    for (f, (c, outcome)) in files
        .iter()
        .zip(crate::parallel::map(&files, |f| compile_one(f, need, out)))
    {
        let status = match (&c.model, outcome) {
            (Some(model), Some(outcome)) => {
                let name = &model.environment.name;
                if let Some((_, other)) = names.iter().find(|(n, _)| n == name) {
                    Status::Failed(Error::DuplicateEnvironment {
                        name: name.clone(),
                        first: other.clone(),
                        second: f.clone(),
                    })
                } else {
                    names.push((name.clone(), f.clone()));
                    match outcome {
                        // A proof refused it.
                        Ok(_) if c.diagnostics.iter().any(Diagnostic::is_error) => Status::Invalid,
                        Ok(u) => {
                            compilation.units.push(u);
                            Status::Compiled
                        }
                        Err(e) => Status::Failed(e),
                    }
                }
            }
            _ => Status::Invalid,
        };
        compilation.files.push(FileReport {
            path: f.clone(),
            environment: c
                .model
                .as_ref()
                .map_or_else(|| declared_name(f), |m| m.environment.name.clone()),
            sources: c.sources,
            diagnostics: c.diagnostics,
            status,
        });
    }
    isolate(&mut compilation);
    keep(&compilation, need);
    Ok(compilation)
}

/// Keeps a compilation in which every input compiled without a single diagnostic (see
/// [`super::kept`]), so the next run over unchanged files need not compile.
fn keep(c: &Compilation, need: Need) {
    let clean = c
        .files
        .iter()
        .all(|f| matches!(f.status, Status::Compiled) && f.diagnostics.is_empty());
    if !clean || c.units.len() != c.files.len() {
        return;
    }
    let read: Vec<(&Path, [u8; 32])> = c
        .files
        .iter()
        .flat_map(|f| f.sources.files())
        .map(|s| (s.path.as_path(), s.sha256))
        .collect();
    let units = c
        .units
        .iter()
        .map(|u| super::kept::KeptUnit {
            environment: u.tree.environment.clone(),
            // Empty for a compilation without the files (no index).
            index_sha256: u.tree.index_sha256.clone(),
            files: u.tree.files.len(),
            proof: u.proof,
        })
        .collect();
    let compiled: Vec<PathBuf> = c.files.iter().map(|f| f.path.clone()).collect();
    super::kept::keep(&c.inputs, &compiled, need, &read, units);
}

/// The environment a file that did not compile declares, read leniently: `[environment] name` when
/// the file parses as TOML, else the file's stem.
fn declared_name(f: &Path) -> String {
    crate::load::read_input(f)
        .ok()
        .and_then(|text| toml::from_str::<toml::Table>(&text).ok())
        .and_then(|t| {
            t.get("environment")?
                .get("name")?
                .as_str()
                .map(ToOwned::to_owned)
        })
        .unwrap_or_else(|| {
            f.file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
        })
}

/// From how many services an environment's merged tree is freed on a thread of its own: below
/// it, starting the thread costs about what freeing the tree does.
const FREE_APART_FROM: usize = 1000;

/// One environment file loaded, validated, generated and proven; the unit is `None` when the file
/// is invalid, and its diagnostics (the proofs' too) are in the compiled file.
fn compile_one(
    f: &Path,
    need: Need,
    out: Option<&Path>,
) -> (crate::Compiled, Option<Result<Unit, Error>>) {
    let mut c = crate::compile(f);
    // The merged tree is read after validation only by the proofs' diagnostics and the waivers of
    // their codes: it goes now, before generation takes its memory, and is loaded again only if
    // one of them needs it. The span of the cluster's name, which every Kubernetes build records,
    // is taken first. A large tree is freed on a thread of its own (at 10,000 services that takes
    // about 13 ms), while generation starts.
    let tree = c.tree.take().map(|tree| {
        let cluster_at =
            crate::validate::Report::new(&tree).span(crate::path!["environment", "cluster"]);
        let later = crate::load::LaterTree::new(f, &c.sources, tree.span.clone());
        if c.model
            .as_ref()
            .is_some_and(|m| m.services.len() >= FREE_APART_FROM)
        {
            let _ = std::thread::Builder::new().spawn(move || drop(tree));
        }
        (later, cluster_at)
    });
    let before = c
        .model
        .as_ref()
        .zip(out)
        .and_then(|(model, out)| output::Before::of(out, &model.environment.name));
    let outcome = match (&c.model, tree) {
        (Some(model), Some((tree, cluster_at))) => Some(
            unit(model, f, need, before.as_ref(), move |artifacts| {
                let (mut found, summary) = crate::proof::prove(&tree, model, artifacts);
                crate::validate::waivers::apply(
                    model,
                    &tree,
                    &mut found,
                    crate::codes::Phase::Proof,
                );
                if tree.changed() {
                    found.push(changed_meanwhile(f));
                }
                let cluster = model
                    .is_kubernetes()
                    .then(|| (model.environment.cluster().to_owned(), cluster_at));
                (found, summary, cluster)
            })
            .map(|(mut u, (found, summary, cluster))| {
                u.cluster = cluster;
                c.diagnostics.extend(found);
                u.proof = summary;
                u
            }),
        ),
        _ => None,
    };
    (c, outcome)
}

/// DG0002 for an environment whose files no longer held what was first read when a diagnostic
/// needed them again ([`crate::load::LaterTree`]): where its diagnostics point cannot be trusted.
fn changed_meanwhile(f: &Path) -> crate::diagnostic::Diagnostic {
    crate::diagnostic::Diagnostic::error(
        "DG0002",
        format!(
            "`{}` or a file it extends changed while deaap-gen ran",
            f.display()
        ),
    )
    .with_help("run it again")
}

/// An object's identity on a cluster: API group, kind, namespace (empty when cluster-scoped), name.
type Key = (String, String, String, String);

/// DG0560: two compiled environments deployed to one cluster must not share an object (the same
/// kind, namespace and name, or the same cluster-scoped kind and name): the second sync would
/// overwrite the first environment's object, and pruning one would delete the other's. The later
/// file is refused, with the first file and the shared objects named.
///
/// A `CustomResourceDefinition` both environments hold identically is no conflict: a kind is
/// defined once per cluster, and the `deaap.io` definitions are the same in every environment
/// (neither environment can overwrite the other's, and Argo CD never prunes or deletes them).
fn isolate(c: &mut Compilation) {
    fn objects(u: &Unit) -> BTreeMap<Key, &Object> {
        u.artifacts
            .iter()
            .filter(|a| a.manifest)
            .flat_map(|a| &a.objects)
            .map(|o| {
                let group = o.api_version().rsplit_once('/').map_or("", |(g, _)| g);
                let key = (
                    group.to_owned(),
                    o.kind().to_owned(),
                    o.namespace().unwrap_or_default().to_owned(),
                    o.name().to_owned(),
                );
                (key, o)
            })
            .collect()
    }
    let one_definition = |a: &Object, b: &Object| {
        a.kind() == "CustomResourceDefinition"
            && a.role() == Role::Definition
            && a.value() == b.value()
    };
    let mut refused: Vec<PathBuf> = Vec::new();
    for (i, later) in c.units.iter().enumerate() {
        let Some((cluster, at)) = &later.cluster else {
            continue;
        };
        let mut same_cluster = c.units[..i]
            .iter()
            .filter(|u| !refused.contains(&u.path))
            .filter(|u| u.cluster.as_ref().is_some_and(|(c, _)| c == cluster))
            .peekable();
        // Alone on its cluster so far: nothing to compare its objects with.
        if same_cluster.peek().is_none() {
            continue;
        }
        let mine = objects(later);
        let Some((earlier, shared)) = same_cluster
            .map(|u| {
                let theirs = objects(u);
                let shared: Vec<&Key> = mine
                    .iter()
                    .filter(|(k, o)| theirs.get(*k).is_some_and(|t| !one_definition(o, t)))
                    .map(|(k, _)| k)
                    .collect();
                (u, shared)
            })
            .find(|(_, shared)| !shared.is_empty())
        else {
            continue;
        };
        let show = |k: &Key| {
            if k.2.is_empty() {
                format!("{} {}", k.1, k.3)
            } else {
                format!("{} {}/{}", k.1, k.2, k.3)
            }
        };
        let examples: Vec<String> = shared.iter().take(3).map(|k| show(k)).collect();
        let d = Diagnostic::error(
            "DG0560",
            format!(
                "`{}` (environment `{}`) and `{}` (environment `{}`) both deploy to cluster \
                 `{cluster}` and share {} object{}: {}{}",
                earlier.path.display(),
                earlier.tree.environment,
                later.path.display(),
                later.tree.environment,
                shared.len(),
                super::plural(shared.len()),
                examples.join(", "),
                if shared.len() > examples.len() {
                    ", …"
                } else {
                    ""
                }
            ),
        )
        .with_label(
            at.clone(),
            format!("shared with `{}`", earlier.path.display()),
        );
        let mut d = d;
        d.help = Some(
            "deploy each environment to its own cluster (`[environment] cluster`), or give this \
             one namespaces of its own (`[namespaces]`) and no cluster-scoped policies"
                .to_owned(),
        );
        if let Some(f) = c.files.iter_mut().find(|f| f.path == later.path) {
            f.diagnostics.push(d);
            f.status = Status::Invalid;
        }
        refused.push(later.path.clone());
    }
    c.units.retain(|u| !refused.contains(&u.path));
}

/// The unit of one valid environment: its artifacts and their index.
fn unit<R: Send>(
    model: &crate::model::Environment,
    path: &Path,
    need: Need,
    before: Option<&output::Before>,
    prove: impl FnOnce(&[crate::targets::Artifact]) -> R + Send,
) -> Result<(Unit, R), Error> {
    let (artifacts, proven) =
        crate::generate_then(model, path, need, before, prove).map_err(|source| {
            Error::Generate {
                path: path.to_path_buf(),
                source,
            }
        })?;
    let tree = output::tree(model, &artifacts, need).map_err(Error::Index)?;
    let unit = Unit {
        path: path.to_path_buf(),
        tree,
        artifacts,
        proof: crate::proof::Summary::default(),
        cluster: None,
    };
    Ok((unit, proven))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{FileId, Span};
    use crate::targets::kit::Kind;

    /// The minimal fixture as if it were the file `name`, deployed to cluster `c`, with only its
    /// `CustomResourceDefinitions`.
    fn definitions_only(name: &str) -> Unit {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minimal.toml");
        let model = crate::load_model(&fixture).expect("the fixture loads");
        let (mut u, ()) =
            unit(&model, Path::new(name), Need::Files, None, |_| ()).expect("it generates");
        u.artifacts.retain(|a| a.path == "kubernetes/crds.yaml");
        assert_eq!(u.artifacts.len(), 1);
        u.cluster = Some(("c".to_owned(), Span::new(FileId(0), 0..0)));
        u
    }

    fn compilation(units: Vec<Unit>) -> Compilation {
        Compilation {
            inputs: Vec::new(),
            files: units
                .iter()
                .map(|u| FileReport {
                    path: u.path.clone(),
                    environment: u.tree.environment.clone(),
                    sources: SourceMap::default(),
                    diagnostics: Vec::new(),
                    status: Status::Compiled,
                })
                .collect(),
            units,
        }
    }

    #[test]
    fn identical_definitions_are_shared_and_different_ones_are_refused() {
        let mut c = compilation(vec![definitions_only("a.toml"), definitions_only("b.toml")]);
        isolate(&mut c);
        assert_eq!(c.units.len(), 2, "{:#?}", c.files[1].diagnostics);
        assert!(c.files.iter().all(|f| f.diagnostics.is_empty()));

        // The same definition name with another schema: one environment would replace the
        // other's kind.
        let mut other = definitions_only("b.toml");
        let first = &other.artifacts[0].objects[0];
        let mut spec = first.value()["spec"].to_json();
        spec["versions"][0]["name"] = "v1".into();
        let changed = Kind::cluster(first.api_version(), first.kind(), Role::Definition)
            .object(
                k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                    name: Some(first.name().to_owned()),
                    ..Default::default()
                },
                spec,
            )
            .expect("an object");
        other.artifacts[0].objects[0] = changed;
        let mut c = compilation(vec![definitions_only("a.toml"), other]);
        isolate(&mut c);
        assert_eq!(c.units.len(), 1);
        let d = &c.files[1].diagnostics;
        assert_eq!(d.len(), 1, "{d:#?}");
        assert_eq!(d[0].code, "DG0560");
        assert!(
            d[0].message
                .contains("share 1 object: CustomResourceDefinition consensusvalidations.deaap.io"),
            "{}",
            d[0].message
        );
    }
}
