//! Typed objects and the manifest artifacts made of them. An object is serialized once, when it
//! is built, into the YAML document its artifact holds; the artifact keeps each object with its
//! identity and scope, so the object stream reads them from there instead of parsing files.

use crate::render;
use crate::targets::{Artifact, Context, TargetError};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

/// Where an object lives: in the cluster as a whole, or in a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Cluster,
    Namespaced,
}

/// The scope of a k8s-openapi resource type, from its `Resource::Scope`.
pub trait KnownScope {
    const SCOPE: Scope;
}

impl KnownScope for k8s_openapi::ClusterResourceScope {
    const SCOPE: Scope = Scope::Cluster;
}

impl KnownScope for k8s_openapi::NamespaceResourceScope {
    const SCOPE: Scope = Scope::Namespaced;
}

/// What an object is to the other objects of the environment, which with its scope decides when
/// it can be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// An ordinary object.
    Resource,
    /// A Namespace: the namespaced objects live in it.
    Namespace,
    /// It defines a kind that other objects are instances of (`CustomResourceDefinition`,
    /// Gatekeeper `ConstraintTemplate`).
    Definition,
    /// An instance of a kind a [`Role::Definition`] of the same environment defines (a
    /// Gatekeeper Constraint).
    Instance,
}

/// A kind of object with its scope and role: taken from the type for k8s-openapi objects
/// ([`object`]), declared for the custom resources the targets write, which no k8s-openapi type
/// describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub scope: Scope,
    pub role: Role,
}

impl Kind {
    /// A namespaced kind.
    #[must_use]
    pub const fn namespaced(api_version: &'static str, kind: &'static str) -> Self {
        Self {
            api_version,
            kind,
            scope: Scope::Namespaced,
            role: Role::Resource,
        }
    }

    /// A cluster-scoped kind with the given role.
    #[must_use]
    pub const fn cluster(api_version: &'static str, kind: &'static str, role: Role) -> Self {
        Self {
            api_version,
            kind,
            scope: Scope::Cluster,
            role,
        }
    }

    /// An object of this kind: `apiVersion`, `kind`, `metadata` and `spec`, in that order.
    ///
    /// # Errors
    /// A spec that cannot be serialized, or metadata that does not fit the scope.
    pub fn object<S: Serialize>(
        self,
        metadata: ObjectMeta,
        spec: S,
    ) -> Result<Object, TargetError> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Envelope<S> {
            api_version: &'static str,
            kind: &'static str,
            metadata: ObjectMeta,
            spec: S,
        }
        let value = Envelope {
            api_version: self.api_version,
            kind: self.kind,
            metadata,
            spec,
        };
        Object::new(self, &value.metadata, &value)
    }
}

/// A k8s-openapi object, with the scope its type declares.
///
/// # Errors
/// An object that cannot be serialized, or metadata that does not fit the scope.
pub fn object<K>(value: &K) -> Result<Object, TargetError>
where
    K: k8s_openapi::Metadata<Ty = ObjectMeta> + Serialize,
    K::Scope: KnownScope,
{
    let kind = Kind {
        api_version: K::API_VERSION,
        kind: K::KIND,
        scope: <K::Scope as KnownScope>::SCOPE,
        role: role_of::<K>(),
    };
    Object::new(kind, value.metadata(), value)
}

/// The role of a k8s-openapi resource type: Namespaces hold the namespaced objects, and
/// `CustomResourceDefinitions` define kinds; everything else is an ordinary object.
fn role_of<K: k8s_openapi::Resource>() -> Role {
    fn is<K: k8s_openapi::Resource, T: k8s_openapi::Resource>() -> bool {
        (K::API_VERSION, K::KIND) == (T::API_VERSION, T::KIND)
    }
    if is::<K, Namespace>() {
        Role::Namespace
    } else if is::<K, CustomResourceDefinition>() {
        Role::Definition
    } else {
        Role::Resource
    }
}

/// One object of a manifest artifact: its identity, scope and role, and its YAML document. Only
/// the kit builds one, so the document always is the object the other fields describe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    api_version: &'static str,
    kind: &'static str,
    name: String,
    namespace: Option<String>,
    scope: Scope,
    role: Role,
    document: Document,
    /// The object as data: what the proofs read, so nothing parses the document back.
    value: render::Data,
    /// Where the document holds the text of the value's longer mapping values.
    spans: Spans,
    /// The document's SHA-256, once taken.
    sha256: Memo,
}

/// The SHA-256 of an object's document, once taken (the admission proof and the chart values both
/// ask for it); objects compare equal whatever it holds.
#[derive(Debug, Default, Clone)]
struct Memo(std::sync::OnceLock<[u8; 32]>);

impl PartialEq for Memo {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Memo {}

/// The [`render::Span`]s of an object's document. They name the object's own values by address,
/// which a copy does not share: a copy has none, and compares equal whatever it holds.
#[derive(Debug, Default)]
struct Spans(Box<[render::Span]>);

impl Clone for Spans {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl PartialEq for Spans {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Spans {}

impl Object {
    /// The object as data, the same as its document says.
    #[must_use]
    pub fn value(&self) -> &render::Data {
        &self.value
    }

    #[must_use]
    pub fn api_version(&self) -> &'static str {
        self.api_version
    }

    #[must_use]
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace of a namespaced object; `None` for a cluster-scoped one.
    #[must_use]
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    #[must_use]
    pub fn scope(&self) -> Scope {
        self.scope
    }

    #[must_use]
    pub fn role(&self) -> Role {
        self.role
    }

    /// The object as one YAML document (no `---` line), exactly as its artifact holds it.
    ///
    /// # Errors
    /// A build let go of it, its file being in the output folder already
    /// ([`crate::targets::Context::let_go`]); nothing that reads documents runs in a build.
    pub fn document(&self) -> std::io::Result<&str> {
        self.document.as_str().ok_or_else(|| {
            std::io::Error::other(format!(
                "the document of {} `{}` is no longer held",
                self.kind, self.name
            ))
        })
    }

    /// The length of [`Object::document`], without reading it back.
    #[must_use]
    pub fn document_len(&self) -> usize {
        match &self.document {
            Document::Own(text) => text.len(),
            Document::Shared(_, range) => range.len(),
            Document::Gone(len, _) => *len,
        }
    }

    /// The SHA-256 of [`Object::document`]: kept when it was let go of, else hashed once.
    #[must_use]
    pub fn document_sha256(&self) -> [u8; 32] {
        *self.sha256.0.get_or_init(|| self.document.sha256())
    }

    /// The text `v`, one of this object's values (inside [`Object::value`]), was written as in
    /// the document as a mapping value, when it is long enough to be noted
    /// ([`render::Span`]) and the document is held: another document can copy it instead of
    /// writing `v` again.
    #[must_use]
    pub fn written(&self, v: &render::Data) -> Option<render::Written<'_>> {
        render::Span::find(&self.spans.0, self.document.as_str()?, v)
    }

    /// Lets go of the object's document, keeping its length and SHA-256: its artifact's file is
    /// in the output folder already, and the object's data stays for the proofs and the chart
    /// values, which then write it from the data.
    pub(in crate::targets) fn let_go(&mut self) {
        if !matches!(self.document, Document::Gone(..)) {
            self.document = Document::Gone(self.document_len(), self.document_sha256());
            self.spans = Spans::default();
        }
    }

    fn new<T: Serialize>(
        kind: Kind,
        metadata: &ObjectMeta,
        value: &T,
    ) -> Result<Self, TargetError> {
        let name = metadata
            .name
            .clone()
            .ok_or_else(|| TargetError(format!("a {} has no name", kind.kind)))?;
        match (kind.scope, &metadata.namespace) {
            (Scope::Namespaced, None) => {
                return Err(TargetError(format!(
                    "{} `{name}` is namespaced but has no namespace",
                    kind.kind
                )));
            }
            (Scope::Cluster, Some(ns)) => {
                return Err(TargetError(format!(
                    "{} `{name}` is cluster-scoped but has the namespace `{ns}`",
                    kind.kind
                )));
            }
            _ => {}
        }
        let value = render::data::to_data(value)?;
        let (document, spans) =
            render::yaml11::data_to_string_recording(&value).map_err(TargetError)?;
        Ok(Self {
            api_version: kind.api_version,
            kind: kind.kind,
            name,
            namespace: metadata.namespace.clone(),
            scope: kind.scope,
            role: kind.role,
            document: Document::Own(document),
            // The values keep their addresses when `value` moves into the object: they live on
            // the heap, and the object never changes them.
            value,
            spans: Spans(spans.into_boxed_slice()),
            sha256: Memo::default(),
        })
    }
}

/// An object's YAML document: its own text until its artifact is assembled, then the part of
/// the artifact's text that holds it, so that a document is held once, not once in the object and
/// again in the file.
#[derive(Debug, Clone)]
enum Document {
    Own(String),
    Shared(std::sync::Arc<String>, std::ops::Range<usize>),
    /// Let go of: only its length and SHA-256 are held.
    Gone(usize, [u8; 32]),
}

impl Document {
    /// The text, when it is held.
    fn as_str(&self) -> Option<&str> {
        match self {
            Self::Own(text) => Some(text),
            Self::Shared(text, range) => Some(&text[range.clone()]),
            Self::Gone(..) => None,
        }
    }

    /// The SHA-256 of the text, held or not.
    fn sha256(&self) -> [u8; 32] {
        use sha2::Digest as _;
        match self {
            Self::Gone(_, sha256) => *sha256,
            held => sha2::Sha256::digest(held.as_str().unwrap_or_default()).into(),
        }
    }
}

impl PartialEq for Document {
    fn eq(&self, other: &Self) -> bool {
        match (self.as_str(), other.as_str()) {
            (Some(a), Some(b)) => a == b,
            // A document let go of is known by its SHA-256.
            _ => self.sha256() == other.sha256(),
        }
    }
}

impl Eq for Document {}

/// An artifact holding `objects`: the header line, then their documents separated by `---`; the
/// index records their kinds, and the object stream takes them from it.
#[must_use]
pub fn manifest(
    cx: &Context<'_>,
    target: &'static str,
    path: impl Into<String>,
    mut objects: Vec<Object>,
) -> Artifact {
    let mut text = render::header(cx);
    // Sized once: grown by doubling, a large manifest would leave copies of itself behind.
    text.reserve(
        objects
            .iter()
            .map(|o| o.document_len() + "---\n".len())
            .sum(),
    );
    let mut kinds: Vec<String> = Vec::new();
    let mut ranges = Vec::with_capacity(objects.len());
    for (i, o) in objects.iter_mut().enumerate() {
        if i > 0 {
            text.push_str("---\n");
        }
        let start = text.len();
        text.push_str(o.document.as_str().unwrap_or_default());
        ranges.push(start..text.len());
        // Its own text goes as soon as the file holds it: the documents are not held twice
        // while the file is assembled.
        o.document = Document::Own(String::new());
        if !kinds.iter().any(|k| k == o.kind) {
            kinds.push(o.kind.to_owned());
        }
    }
    let text = std::sync::Arc::new(text);
    for (o, range) in objects.iter_mut().zip(ranges) {
        o.document = Document::Shared(std::sync::Arc::clone(&text), range);
    }
    Artifact {
        path: path.into(),
        bytes: crate::targets::Bytes::shared(text),
        target,
        kinds,
        manifest: true,
        objects,
    }
}

/// A file of objects an operator applies by hand when needed (a restore), which must not run on
/// every sync: written like a manifest, its kinds recorded and its objects kept for the proofs,
/// but no manifest, so `render`, `argocd generate` and the chart leave it out.
#[must_use]
pub fn unapplied(
    cx: &Context<'_>,
    target: &'static str,
    path: impl Into<String>,
    objects: Vec<Object>,
) -> Artifact {
    Artifact {
        manifest: false,
        ..manifest(cx, target, path, objects)
    }
}

/// A file holding one configuration object that a component reads from disk instead of the
/// cluster applying it (the API server's audit policy): the index records its kind, but it is no
/// manifest and stays out of the object stream.
///
/// # Errors
/// A value that cannot be serialized.
pub fn config_file<T: Serialize>(
    cx: &Context<'_>,
    target: &'static str,
    path: impl Into<String>,
    kind: &str,
    value: &T,
) -> Result<Artifact, TargetError> {
    let mut artifact = render::yaml_artifact(cx, target, path, value)?;
    artifact.kinds = vec![kind.to_owned()];
    Ok(artifact)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(name: &str) -> Object {
        let meta = ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some("m".to_owned()),
            ..ObjectMeta::default()
        };
        Kind::namespaced("monitoring.coreos.com/v1", "PrometheusRule")
            .object(meta, ())
            .expect("a rule")
    }

    /// An object let go of keeps its document's length and hash, and its data: it is the same
    /// object as one that holds the document, and another object still differs from it.
    #[test]
    fn an_object_let_go_of_is_known_by_its_documents_hash() {
        let held = rule("r");
        let (len, sha256) = (held.document_len(), held.document_sha256());
        let mut gone = rule("r");
        gone.let_go();
        assert!(gone.document().is_err(), "its text is no longer held");
        assert_eq!((gone.document_len(), gone.document_sha256()), (len, sha256));
        assert_eq!(gone.value(), held.value());
        // Both ways round: the comparison is symmetric.
        assert_eq!(gone, held);
        assert_eq!(held, gone);
        assert_ne!(gone, rule("other"));
        assert_ne!(rule("other"), gone);
        let mut other = rule("other");
        other.let_go();
        assert!(gone != other);
        gone.let_go();
        assert_eq!(
            gone.document_sha256(),
            sha256,
            "letting go twice changes nothing"
        );
    }
}
