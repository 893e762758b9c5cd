//! Targets turn the validated model into artifacts. Each artifact family is one module with one
//! [`Target`] implementation, listed once in [`registry`]; targets read only the model (never files)
//! and return bytes, so the output stage alone decides where and whether they are written.

use crate::model::Environment;

mod alertmanager;
mod audit;
mod backup;
mod compose;
mod crds;
mod falco;
mod grafana;
mod helm;
pub use helm::chart::values_schema as chart_values_schema;
mod istio;
pub mod kit;
pub(crate) mod kubernetes;
pub(crate) mod logging;
mod opa;
mod ops;
mod prometheus;
#[cfg(test)]
pub(crate) mod testkit;
mod tracing;

/// One generated file, relative to the environment's output folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Path inside `<out>/<env>/`, with forward slashes, e.g. `kubernetes/doc-ingester.yaml`.
    pub path: String,
    /// The file's content, shared with the output tree rather than copied into it.
    pub bytes: Bytes,
    /// Name of the target that wrote it (recorded in the index).
    pub target: &'static str,
    /// Kinds of the objects in it (`Deployment`, `PrometheusRule`, ...); empty for non-object files.
    pub kinds: Vec<String>,
    /// Whether it holds Kubernetes objects that `render` and `argocd generate` stream.
    pub manifest: bool,
    /// The objects of a manifest, in file order ([`kit::manifest`] builds such artifacts); empty
    /// for every other file.
    pub objects: Vec<kit::Object>,
}

/// A generated file's bytes, shared by its artifact, the output tree and the change list. They
/// stay in the buffer they were written into: a reference count is put beside it, where a shared
/// slice (`Arc<[u8]>`) would copy the whole file next to its header. A build lets go of a file
/// the output folder already holds as soon as its target is done ([`Bytes::kept`]).
#[derive(Clone)]
pub struct Bytes(Held);

#[derive(Clone)]
enum Held {
    /// In memory, with their SHA-256 once taken.
    Memory(
        std::sync::Arc<dyn AsRef<[u8]> + Send + Sync>,
        Option<[u8; 32]>,
    ),
    /// Not held: the file at this path holds them.
    Kept(std::sync::Arc<Kept>),
    /// Not held: written to an unnamed temporary file as they were made.
    Spilled(std::sync::Arc<Spilled>),
}

/// Bytes written to an unnamed temporary file ([`Spill`]), with their length and SHA-256.
struct Spilled {
    file: std::sync::Mutex<std::fs::File>,
    len: usize,
    sha256: [u8; 32],
}

impl Spilled {
    /// The file, for this thread alone.
    fn file(&self) -> std::io::Result<std::sync::MutexGuard<'_, std::fs::File>> {
        self.file
            .lock()
            .map_err(|_| std::io::Error::other("a spilled file's lock was poisoned"))
    }

    /// The file, read from `at` on.
    fn from(&self, at: usize) -> std::io::Result<std::sync::MutexGuard<'_, std::fs::File>> {
        use std::io::Seek as _;
        let mut file = self.file()?;
        file.seek(std::io::SeekFrom::Start(at as u64))?;
        Ok(file)
    }

    /// Fills `buf` with the bytes from `at` on.
    fn read_at(&self, at: usize, buf: &mut [u8]) -> std::io::Result<()> {
        use std::io::Read as _;
        if at + buf.len() > self.len {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.from(at)?.read_exact(buf)
    }

    /// Gives the unnamed file the name `path` (a link made through `/proc/self/fd`), so that its
    /// bytes are never copied; an error where that cannot be done (a file that had a name, another
    /// file system, no `/proc`).
    #[cfg(target_os = "linux")]
    fn link_to(&self, path: &std::path::Path) -> std::io::Result<()> {
        use std::os::fd::AsRawFd as _;
        let unnamed = format!("/proc/self/fd/{}", self.file()?.as_raw_fd());
        rustix::fs::linkat(
            rustix::fs::CWD,
            unnamed.as_str(),
            rustix::fs::CWD,
            path,
            rustix::fs::AtFlags::SYMLINK_FOLLOW,
        )
        .map_err(std::io::Error::from)
    }

    /// Hands the bytes to `each` from the start, a piece at a time.
    fn pieces(&self, mut each: impl FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<()> {
        use std::io::Read as _;
        let mut file = self.from(0)?;
        let mut buf = vec![0; crate::fsafe::WRITE_PIECE.min(self.len)];
        let mut left = self.len;
        while left > 0 {
            let piece = &mut buf[..left.min(crate::fsafe::WRITE_PIECE)];
            file.read_exact(piece)?;
            left -= piece.len();
            each(piece)?;
        }
        Ok(())
    }
}

/// Bytes being written to an unnamed temporary file instead of being held: a large file a build
/// writes anyway (the chart's values of a large environment) costs no memory while the rest of
/// the build runs. Its length and SHA-256 are taken as it is written.
pub struct Spill {
    out: std::io::BufWriter<std::fs::File>,
    len: usize,
    sha256: sha2::Sha256,
}

impl Spill {
    /// An empty spill in the folder `dir` (where the file is to be written, so that copying it
    /// there stays on one file system); no name of it is ever seen there.
    ///
    /// # Errors
    /// The temporary file cannot be made.
    pub fn new_in(dir: &std::path::Path) -> std::io::Result<Self> {
        Ok(Self {
            out: std::io::BufWriter::with_capacity(
                crate::fsafe::WRITE_PIECE,
                tempfile::tempfile_in(dir)?,
            ),
            len: 0,
            sha256: sha2::Digest::new(),
        })
    }

    /// Appends `text`.
    ///
    /// # Errors
    /// The temporary file cannot be written.
    pub fn push(&mut self, text: &str) -> std::io::Result<()> {
        self.push_bytes(text.as_bytes())
    }

    /// Appends `bytes`, which the caller knows to be text.
    ///
    /// # Errors
    /// The temporary file cannot be written.
    pub fn push_bytes(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write as _;
        // In pieces no longer than the buffer, which pass through it in writes of its size.
        for piece in bytes.chunks(crate::fsafe::WRITE_PIECE) {
            self.out.write_all(piece)?;
        }
        sha2::Digest::update(&mut self.sha256, bytes);
        self.len += bytes.len();
        Ok(())
    }

    /// The bytes written.
    ///
    /// # Errors
    /// The temporary file cannot be written.
    pub fn finish(self) -> std::io::Result<Bytes> {
        let file = self
            .out
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        Ok(Bytes(Held::Spilled(std::sync::Arc::new(Spilled {
            file: std::sync::Mutex::new(file),
            len: self.len,
            sha256: sha2::Digest::finalize(self.sha256).into(),
        }))))
    }
}

/// Where bytes that are not held are: a file's path, and their length and SHA-256.
struct Kept {
    at: std::path::PathBuf,
    len: usize,
    sha256: [u8; 32],
}

impl Bytes {
    /// Shares `text` as it is.
    pub fn shared<T: AsRef<[u8]> + Send + Sync + 'static>(text: std::sync::Arc<T>) -> Self {
        Self(Held::Memory(text, None))
    }

    /// Bytes not held, because the regular file `at` holds them: `len` bytes of SHA-256 `sha256`.
    #[must_use]
    pub fn kept(at: std::path::PathBuf, len: usize, sha256: [u8; 32]) -> Self {
        Self(Held::Kept(std::sync::Arc::new(Kept { at, len, sha256 })))
    }

    /// The bytes, when they are held in memory.
    #[must_use]
    pub fn in_memory(&self) -> Option<&[u8]> {
        match &self.0 {
            Held::Memory(b, _) => Some((**b).as_ref()),
            Held::Kept(_) | Held::Spilled(_) => None,
        }
    }

    #[must_use]
    pub fn len(&self) -> usize {
        match &self.0 {
            Held::Memory(b, _) => (**b).as_ref().len(),
            Held::Kept(k) => k.len,
            Held::Spilled(s) => s.len,
        }
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes; read from their file when they are not held, and checked to be the same.
    ///
    /// # Errors
    /// The file cannot be read, or no longer holds them.
    pub fn read(&self) -> std::io::Result<std::borrow::Cow<'_, [u8]>> {
        match &self.0 {
            Held::Memory(b, _) => Ok(std::borrow::Cow::Borrowed((**b).as_ref())),
            Held::Kept(k) => {
                use sha2::Digest as _;
                let cap = u64::try_from(k.len).unwrap_or(u64::MAX);
                match crate::fsafe::read_regular(&k.at, cap, crate::fsafe::Links::Refuse)? {
                    crate::fsafe::Regular::Bytes(bytes)
                        if <[u8; 32]>::from(sha2::Sha256::digest(&bytes)) == k.sha256 =>
                    {
                        Ok(std::borrow::Cow::Owned(bytes))
                    }
                    _ => Err(std::io::Error::other(format!(
                        "`{}` changed while deaap-gen ran; run it again",
                        k.at.display()
                    ))),
                }
            }
            Held::Spilled(s) => {
                let mut bytes = Vec::with_capacity(s.len);
                s.pieces(|piece| {
                    bytes.extend_from_slice(piece);
                    Ok(())
                })?;
                Ok(std::borrow::Cow::Owned(bytes))
            }
        }
    }

    /// Writes the bytes to the new file `path` ([`crate::fsafe::write_new`]); bytes not held are
    /// copied a piece at a time, never held whole, and spilled bytes on Linux are not copied at
    /// all: their unnamed file is given the name `path` when it is on the same file system.
    ///
    /// # Errors
    /// They cannot be read, or the file cannot be created or written.
    pub fn write_new(&self, path: &std::path::Path) -> std::io::Result<()> {
        match &self.0 {
            Held::Spilled(s) => {
                use std::io::Write as _;
                #[cfg(target_os = "linux")]
                if s.link_to(path).is_ok() {
                    return Ok(());
                }
                let mut f = crate::fsafe::create_new(path)?;
                s.pieces(|piece| f.write_all(piece))
                    .map_err(|e| crate::fsafe::with_path(path, &e))
            }
            _ => crate::fsafe::write_new(path, &self.read()?),
        }
    }

    /// Whether the generated file `rel` under `root` holds exactly these bytes, read as
    /// [`crate::fsafe::holds`] reads it: compared a piece at a time with bytes held or spilled,
    /// hashed against bytes kept in a file.
    #[must_use]
    pub fn held_in(&self, root: &std::path::Path, rel: &str) -> bool {
        let len = u64::try_from(self.len()).unwrap_or(u64::MAX);
        match &self.0 {
            Held::Memory(b, _) => crate::fsafe::holds(root, rel, (**b).as_ref()),
            Held::Spilled(s) => {
                let mut buf = Vec::new();
                crate::fsafe::holds_with(root, rel, len, |at, piece| {
                    buf.resize(piece.len(), 0);
                    s.read_at(at, &mut buf).is_ok() && buf[..] == *piece
                })
            }
            Held::Kept(k) => crate::fsafe::sha256_of(root, rel, len) == Some(k.sha256),
        }
    }

    /// Their SHA-256: as taken before, else hashed now.
    #[must_use]
    pub fn sha256(&self) -> [u8; 32] {
        match &self.0 {
            Held::Memory(_, Some(sha256)) => *sha256,
            Held::Memory(b, None) => {
                use sha2::Digest as _;
                sha2::Sha256::digest((**b).as_ref()).into()
            }
            Held::Kept(k) => k.sha256,
            Held::Spilled(s) => s.sha256,
        }
    }

    /// Whether they were written to a temporary file rather than held ([`Spill`]).
    #[must_use]
    pub fn is_spilled(&self) -> bool {
        matches!(self.0, Held::Spilled(_))
    }

    /// Whether their SHA-256 is known without hashing them.
    #[must_use]
    pub fn is_hashed(&self) -> bool {
        !matches!(self.0, Held::Memory(_, None))
    }

    /// The same bytes, their SHA-256 (`sha256`, taken by the caller) remembered.
    #[must_use]
    pub fn hashed(self, sha256: [u8; 32]) -> Self {
        match self.0 {
            Held::Memory(b, _) => Self(Held::Memory(b, Some(sha256))),
            other => Self(other),
        }
    }
}

/// The tests read the bytes they generate as they are.
#[cfg(test)]
impl std::ops::Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.in_memory()
            .expect("generated bytes are held in the tests")
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self::shared(std::sync::Arc::new(bytes))
    }
}

impl From<String> for Bytes {
    fn from(text: String) -> Self {
        Self::shared(std::sync::Arc::new(text))
    }
}

impl PartialEq for Bytes {
    fn eq(&self, other: &Self) -> bool {
        match (self.in_memory(), other.in_memory()) {
            (Some(a), Some(b)) => a == b,
            _ => self.len() == other.len() && self.sha256() == other.sha256(),
        }
    }
}

impl Eq for Bytes {}

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} bytes", self.len())
    }
}

impl Artifact {
    /// A file that holds no Kubernetes objects.
    #[must_use]
    pub fn file(target: &'static str, path: impl Into<String>, bytes: Vec<u8>) -> Self {
        Self::shared_file(target, path, bytes.into())
    }

    /// [`Artifact::file`] with bytes held elsewhere too (a dashboard's text, in its map's data).
    #[must_use]
    pub fn shared_file(target: &'static str, path: impl Into<String>, bytes: Bytes) -> Self {
        Self {
            path: path.into(),
            bytes,
            target,
            kinds: Vec::new(),
            manifest: false,
            objects: Vec::new(),
        }
    }
}

/// What a target gets: the model and the name of the environment file it came from (for headers).
pub struct Context<'a> {
    pub env: &'a Environment,
    /// File name of the environment file, e.g. `production.toml` (no directories, so output does
    /// not depend on where deaap-gen was run from).
    pub source_name: &'a str,
    /// The output folder a build is to write or a check to compare with, as it was before the
    /// run: the files it holds already are let go of as soon as they are made
    /// ([`Context::let_go`]).
    pub before: Option<&'a crate::output::Before>,
    /// The environment's workloads ([`crate::plan::workloads`]), planned when a target first asks
    /// for them and shared by every target after it: at 10,000 services planning them takes
    /// about 20 ms, and seven targets read them.
    workloads: std::sync::OnceLock<Vec<crate::plan::Workload<'a>>>,
}

impl<'a> Context<'a> {
    /// The context of the targets for `env`, from the file named `source_name`, in a build or a
    /// check into the output folder `before` (none otherwise); nothing is planned until a target
    /// asks.
    #[must_use]
    pub fn new(
        env: &'a Environment,
        source_name: &'a str,
        before: Option<&'a crate::output::Before>,
    ) -> Self {
        Self {
            env,
            source_name,
            before,
            workloads: std::sync::OnceLock::new(),
        }
    }

    /// Every workload of the plan, in its order ([`crate::plan::workloads`]).
    pub fn workloads(&self) -> &[crate::plan::Workload<'a>] {
        self.workloads
            .get_or_init(|| crate::plan::workloads(self.env))
    }

    /// The workloads that run, in the plan's order ([`crate::plan::deployed`]).
    pub fn deployed(&self) -> impl Iterator<Item = &crate::plan::Workload<'a>> {
        self.workloads().iter().filter(|w| w.deployed)
    }

    /// The same context with nothing planned yet: what a run hands on after the targets, so that
    /// their shared plan is not held while the chart values are written.
    fn afresh(&self) -> Self {
        Self::new(self.env, self.source_name, self.before)
    }
}

impl Context<'_> {
    /// In a build or a check (`before`), hashes the file of `a` and lets go of it, and of its
    /// objects' documents, when the output folder holds it already: then only its path, length
    /// and hash are held ([`Bytes::kept`]), and its objects keep their data. A target that makes
    /// many files calls it on each as it is made; every other file is let go of when its target
    /// is done.
    pub fn let_go(&self, a: &mut Artifact) {
        let Some(before) = self.before else {
            return;
        };
        // Bytes hashed already were looked for already (or are not held).
        if a.bytes.is_hashed() {
            return;
        }
        let sha256 = a.bytes.sha256();
        a.bytes = match before.holds(&a.path, &sha256) {
            Some(at) => {
                for o in &mut a.objects {
                    o.let_go();
                }
                Bytes::kept(at, a.bytes.len(), sha256)
            }
            None => a.bytes.clone().hashed(sha256),
        };
    }
}

/// A failure inside a target: a bug or an impossible model, never bad user input (validation
/// catches that first).
#[derive(Debug)]
pub struct TargetError(pub String);

impl std::fmt::Display for TargetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TargetError {}

impl From<serde_yaml::Error> for TargetError {
    fn from(e: serde_yaml::Error) -> Self {
        Self(format!("YAML serialization failed: {e}"))
    }
}

impl From<serde_json::Error> for TargetError {
    fn from(e: serde_json::Error) -> Self {
        Self(format!("JSON serialization failed: {e}"))
    }
}

impl From<minijinja::Error> for TargetError {
    fn from(e: minijinja::Error) -> Self {
        Self(format!("template rendering failed: {e:#}"))
    }
}

impl From<crate::model::duration::DurationError> for TargetError {
    fn from(e: crate::model::duration::DurationError) -> Self {
        Self(e.0)
    }
}

pub trait Target: Sync {
    /// Short stable name, recorded in the index (`kubernetes`, `prometheus`, ...).
    fn name(&self) -> &'static str;
    /// Whether this target produces anything for the environment (e.g. compose only for compose).
    fn applies(&self, env: &Environment) -> bool;
    /// The target's artifacts for the environment.
    ///
    /// # Errors
    /// A model the target cannot express (a bug: validation refuses bad input first).
    fn generate(&self, cx: &Context<'_>) -> Result<Vec<Artifact>, TargetError>;
}

/// Every target, in a fixed order. A new artifact family is one module plus one line here.
#[must_use]
pub fn registry() -> Vec<&'static dyn Target> {
    vec![
        &kubernetes::TARGET,
        &crds::TARGET,
        &backup::TARGET,
        &audit::TARGET,
        &compose::Compose,
        &falco::Falco,
        &opa::Opa,
        &ops::TARGET,
        &helm::Helm,
        &istio::Istio,
        &prometheus::Prometheus,
        &logging::Logs,
        &alertmanager::Alertmanager,
        &tracing::TracingTarget,
        &grafana::Grafana,
    ]
}

/// The targets that take longest in a large environment (their work grows with the services), in
/// the order they start; the others take a few milliseconds each.
const LONGEST_FIRST: [&str; 3] = ["kubernetes", "prometheus", "grafana"];

/// What a command needs of the generated output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Every file (`build`, `diff`).
    Files,
    /// The objects and the files the proofs read, without the chart values: those hold every
    /// object again, for Helm, and only a command that writes files needs them (`validate`,
    /// `check`, `render`, `graph`, `argocd generate`).
    Objects,
}

/// Runs every applicable target and returns the artifacts sorted by path. The targets are
/// independent of one another and run on the machine's cores.
///
/// # Errors
/// The first target failure, in the registry's order.
pub fn generate_all(cx: &Context<'_>) -> Result<Vec<Artifact>, TargetError> {
    generate_needed(cx, Need::Files)
}

/// [`generate_all`], leaving out the chart values unless `need` is [`Need::Files`].
///
/// # Errors
/// As [`generate_all`].
pub fn generate_needed(cx: &Context<'_>, need: Need) -> Result<Vec<Artifact>, TargetError> {
    let (out, ()) = generate_then(cx, need, |_| ())?;
    Ok(out)
}

/// [`generate_needed`], running `meanwhile` on the artifacts before the chart values are written:
/// the values hold every object again and read nothing but the other artifacts, so whatever only
/// reads the objects (the proofs) need not wait for them. The two run one after the other, not
/// side by side: each spreads its work over the cores, and the proofs' working data is freed
/// before the values take their memory (a build of 1,000 services with nothing kept peaks a fifth
/// lower, in the same time on 2 cores).
///
/// For a build or a check (`cx.before`), every file the output folder holds already is let go of
/// as soon as it is made ([`Context::let_go`]): a run after a small change holds only what
/// changed.
///
/// # Errors
/// As [`generate_all`].
pub fn generate_then<R: Send>(
    cx: &Context<'_>,
    need: Need,
    meanwhile: impl FnOnce(&[Artifact]) -> R + Send,
) -> Result<(Vec<Artifact>, R), TargetError> {
    // The targets whose work grows with the services start first, so the cores finish together;
    // the results are taken back in the registry's order whatever the order they ran in.
    let mut targets: Vec<(usize, &dyn Target)> = registry()
        .into_iter()
        .filter(|t| t.applies(cx.env))
        .enumerate()
        .collect();
    targets.sort_by_key(|(_, t)| {
        LONGEST_FIRST
            .iter()
            .position(|n| *n == t.name())
            .unwrap_or(LONGEST_FIRST.len())
    });
    // The targets share one plan, let go of before the chart values take their memory.
    let planned = cx.afresh();
    let mut generated = crate::parallel::map(&targets, |(i, t)| {
        let mut artifacts = t.generate(&planned);
        if let Ok(artifacts) = &mut artifacts {
            for a in artifacts {
                planned.let_go(a);
            }
        }
        (*i, artifacts)
    });
    drop(planned);
    generated.sort_by_key(|(i, _)| *i);
    let mut out = Vec::new();
    for (_, g) in generated {
        out.extend(g?);
    }
    // The chart's values carry every object the targets above generated.
    let (values, r) = if need == Need::Files && cx.env.is_kubernetes() {
        let r = meanwhile(&out);
        (Some(helm::chart::values(cx, &out)), r)
    } else {
        (None, meanwhile(&out))
    };
    if let Some(values) = values {
        out.push(values?);
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    if let Some(w) = out.windows(2).find(|w| w[0].path == w[1].path) {
        return Err(TargetError(format!("two targets wrote {}", w[0].path)));
    }
    Ok((out, r))
}

#[cfg(test)]
mod bytes_tests {
    use super::Bytes;

    #[test]
    fn a_file_is_shared_where_it_was_written_not_copied() {
        let text = String::from("a: 1\n");
        let at = text.as_ptr();
        let bytes = Bytes::from(text);
        assert_eq!(bytes.as_ptr(), at);
        let shared = bytes.clone();
        assert_eq!(shared.as_ptr(), at);
        let v = b"b: 2\n".to_vec();
        let at = v.as_ptr();
        assert_eq!(Bytes::from(v).as_ptr(), at);
        assert_eq!(bytes, Bytes::from(b"a: 1\n".to_vec()));
        assert_ne!(bytes, Bytes::from(b"a: 2\n".to_vec()));
        assert_eq!(format!("{bytes:?}"), "5 bytes");
    }

    /// Spilled bytes are the bytes pushed, in pieces of any length around the write size: their
    /// length and hash, read back, copied to a new file, and told apart from a file of the same
    /// length with one byte other, and from a longer one.
    #[test]
    fn spilled_bytes_are_the_bytes_pushed() {
        use sha2::Digest as _;
        let piece = crate::fsafe::WRITE_PIECE;
        let dir = tempfile::tempdir().expect("dir");
        for lens in [
            vec![],
            vec![0, 1],
            vec![piece - 1, piece + 1, 3],
            vec![3 * piece + 17, 5],
        ] {
            let mut spill = super::Spill::new_in(dir.path()).expect("spill");
            let mut text = String::new();
            for (i, len) in lens.iter().enumerate() {
                let part: String = (0..*len)
                    .map(|j| char::from(b'a' + ((i + j) % 26) as u8))
                    .collect();
                spill.push(&part).expect("push");
                text.push_str(&part);
            }
            let bytes = spill.finish().expect("finish");
            assert!(bytes.is_spilled() && bytes.in_memory().is_none());
            assert!(bytes.is_hashed());
            assert_eq!(bytes.len(), text.len());
            assert_eq!(
                bytes.sha256(),
                <[u8; 32]>::from(sha2::Sha256::digest(&text))
            );
            assert_eq!(bytes.read().expect("read").as_ref(), text.as_bytes());
            assert_eq!(bytes, Bytes::from(text.clone()));
            let dest = format!("copy-{}", text.len());
            bytes.write_new(&dir.path().join(&dest)).expect("write");
            assert_eq!(
                std::fs::read(dir.path().join(&dest)).expect("read"),
                text.as_bytes()
            );
            assert!(bytes.held_in(dir.path(), &dest));
            // On Linux the unnamed file is given both names, never copied; elsewhere, or on
            // another file system, the bytes are copied.
            let again = format!("copy-again-{}", text.len());
            bytes.write_new(&dir.path().join(&again)).expect("write");
            assert_eq!(
                std::fs::read(dir.path().join(&again)).expect("read"),
                text.as_bytes()
            );
            #[cfg(target_os = "linux")]
            {
                use std::os::unix::fs::MetadataExt as _;
                let ino = |name: &str| {
                    std::fs::metadata(dir.path().join(name))
                        .expect("stat")
                        .ino()
                };
                assert_eq!(ino(&dest), ino(&again), "one file, two names");
            }
            if let Ok(shm) = tempfile::tempdir_in("/dev/shm") {
                bytes.write_new(&shm.path().join("copy")).expect("write");
                assert_eq!(
                    std::fs::read(shm.path().join("copy")).expect("read"),
                    text.as_bytes()
                );
            }
            if let Some(last) = text.len().checked_sub(1) {
                // The same length with one byte other, in the middle and at the end.
                for at in [text.len() / 2, last] {
                    let mut other = text.clone().into_bytes();
                    other[at] = b'!';
                    std::fs::write(dir.path().join("other"), &other).expect("write");
                    assert!(!bytes.held_in(dir.path(), "other"), "byte {at}");
                }
            }
            std::fs::write(dir.path().join("other"), format!("{text}a")).expect("write");
            assert!(!bytes.held_in(dir.path(), "other"), "one byte longer");
            assert!(
                bytes.write_new(&dir.path().join(&dest)).is_err(),
                "a file there already is kept"
            );
            std::fs::remove_file(dir.path().join("other")).expect("remove");
        }
        // Nothing named is left in the folder but the copies.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| n.starts_with("copy-")), "{names:?}");
    }
}

#[cfg(test)]
mod order_tests {
    use super::*;

    #[test]
    fn the_targets_started_first_are_registered() {
        let names: Vec<&str> = registry().iter().map(|t| t.name()).collect();
        for n in LONGEST_FIRST {
            assert!(names.contains(&n), "{n} is not a target");
        }
    }

    /// The targets plan the workloads once: every target after the first reads the same plan, and
    /// what a run hands on after the targets holds none.
    #[test]
    fn the_targets_share_one_plan() {
        let env = testkit::load("environments/production.toml");
        let cx = Context::new(&env, "production.toml", None);
        assert!(
            cx.workloads.get().is_none(),
            "nothing is planned before it is asked for"
        );
        let first = cx.workloads().as_ptr();
        assert_eq!(cx.workloads().as_ptr(), first, "planned once");
        let planned: Vec<String> = crate::plan::workloads(&env)
            .into_iter()
            .map(|w| w.name)
            .collect();
        let shared: Vec<&str> = cx.workloads().iter().map(|w| w.name.as_str()).collect();
        assert_eq!(shared, planned);
        let deployed: Vec<String> = crate::plan::deployed(&env)
            .into_iter()
            .map(|w| w.name)
            .collect();
        let shared: Vec<&str> = cx.deployed().map(|w| w.name.as_str()).collect();
        assert_eq!(shared, deployed);
        assert!(cx.afresh().workloads.get().is_none());
    }

    /// Whatever order the targets start in, what runs meanwhile (the proofs) sees their artifacts
    /// in the registry's order, each target's as it generated them.
    #[test]
    fn the_artifacts_come_in_the_registrys_order() {
        let env = testkit::load("environments/production.toml");
        let cx = Context::new(&env, "production.toml", None);
        let (_, seen) = generate_then(&cx, Need::Objects, |artifacts| {
            artifacts
                .iter()
                .map(|a| (a.target, a.path.clone()))
                .collect::<Vec<_>>()
        })
        .expect("production generates");
        let expected: Vec<(&str, String)> = registry()
            .into_iter()
            .filter(|t| t.applies(&env))
            .flat_map(|t| {
                let paths = t.generate(&cx).expect("the target generates");
                paths.into_iter().map(move |a| (t.name(), a.path))
            })
            .collect();
        assert_eq!(seen, expected);
    }
}
