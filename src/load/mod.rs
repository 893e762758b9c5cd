//! Loading: reads an environment file and the chain of files it `extends`, parses them with spans,
//! and deep-merges them into one [`Entry`] tree with provenance. This is the only module that reads
//! the filesystem. `extends` paths are confined to the root file's folder tree, because Argo CD runs
//! deaap-gen on repositories it does not trust.

mod pieces;
mod secrets;
mod tree;

pub use secrets::{flagged_items, is_reference, literal_credential, looks_secret};
pub use tree::{Entry, Seg, Value, display_path};

use crate::diagnostic::Diagnostic;
use crate::source::{FileId, SourceMap, Span};
use std::path::{Component, Path, PathBuf};
use toml::de::{DeTable, DeValue};

/// The merged tree of an environment that validated, let go of once the rules have run and
/// loaded again only if a later diagnostic (a proof's, or a waiver of one) has to point into it.
///
/// A large environment's tree is several times the size of its files (9 MiB at 1,000 services):
/// held through generation and the proofs, it raised the peak of every build, and in a clean
/// build nothing reads it after validation. Loaded again, it is checked against the files as they
/// were first read (their SHA-256): a file changed meanwhile leaves an empty tree, whose spans all
/// point at the environment file, and [`LaterTree::changed`] says so.
#[derive(Debug)]
pub struct LaterTree {
    path: PathBuf,
    /// Each file read, in the order read, with its SHA-256 then.
    files: Vec<(PathBuf, [u8; 32])>,
    /// The whole environment file, where an empty tree points.
    root: Span,
    tree: std::sync::OnceLock<Entry>,
    changed: std::sync::atomic::AtomicBool,
}

impl LaterTree {
    /// The tree of the environment file `path`, first read into `sources`, whose merged tree
    /// spanned `root`.
    #[must_use]
    pub fn new(path: &Path, sources: &SourceMap, root: Span) -> Self {
        Self {
            path: path.to_path_buf(),
            files: sources
                .files()
                .map(|f| (f.path.clone(), f.sha256))
                .collect(),
            root,
            tree: std::sync::OnceLock::new(),
            changed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The tree, loaded again the first time it is asked for.
    pub fn get(&self) -> &Entry {
        self.tree.get_or_init(|| {
            let mut sources = SourceMap::default();
            let mut diags = Vec::new();
            let loaded = load(&self.path, &mut sources, &mut diags);
            let same = sources
                .files()
                .map(|f| (&f.path, &f.sha256))
                .eq(self.files.iter().map(|(p, s)| (p, s)));
            match loaded {
                Some(l) if same => l.root,
                _ => {
                    self.changed
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                    Entry {
                        key_span: None,
                        span: self.root.clone(),
                        value: Value::Table(tree::Table::default()),
                        overridden: Vec::new(),
                    }
                }
            }
        })
    }

    /// Whether it was loaded again.
    #[cfg(test)]
    fn loaded(&self) -> bool {
        self.tree.get().is_some()
    }

    /// Whether a file of the environment no longer held what was first read when the tree was
    /// loaded again.
    #[must_use]
    pub fn changed(&self) -> bool {
        self.changed.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Files larger than this are refused rather than parsed.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// Longest `extends` chain followed.
const MAX_CHAIN: usize = 16;

/// The merged tree of one environment and the files it came from (root first).
#[derive(Debug)]
pub struct Loaded {
    pub root: Entry,
    pub files: Vec<FileId>,
}

/// Loads `path` and everything it extends. Problems are pushed to `diags`; `None` when nothing
/// usable could be read.
pub fn load(path: &Path, sources: &mut SourceMap, diags: &mut Vec<Diagnostic>) -> Option<Loaded> {
    let root_dir = path.parent().map_or_else(PathBuf::new, Path::to_path_buf);
    let name = path
        .file_name()
        .map_or_else(|| path.to_path_buf(), PathBuf::from);
    let mut loader = Loader {
        root_dir,
        sources,
        diags,
        stack: Vec::new(),
        files: Vec::new(),
    };
    let root = loader.load_file(&[], &name, None)?;
    let files = loader.files;
    Some(Loaded { root, files })
}

struct Loader<'a> {
    /// Folder of the root environment file: every extended file must live below it.
    root_dir: PathBuf,
    sources: &'a mut SourceMap,
    diags: &'a mut Vec<Diagnostic>,
    /// Canonical paths of the files being loaded, for cycle detection.
    stack: Vec<(PathBuf, String)>,
    files: Vec<FileId>,
}

impl Loader<'_> {
    /// Loads `root_dir/dir/name` and its `extends` chain. `from` is the `extends` value that led
    /// here, for errors.
    fn load_file(&mut self, dir: &[String], name: &Path, from: Option<&Span>) -> Option<Entry> {
        let mut shown = self.root_dir.clone();
        for d in dir {
            shown.push(d);
        }
        shown.push(name);
        let text = match read_input(&shown) {
            Ok(t) => t,
            Err(e) => {
                let d =
                    Diagnostic::error("DG0002", format!("cannot read `{}`: {e}", slash(&shown)));
                self.diags.push(match from {
                    Some(s) => d.with_label(s.clone(), "extended here"),
                    None => d,
                });
                return None;
            }
        };
        let canonical = std::fs::canonicalize(&shown).unwrap_or_else(|_| shown.clone());
        if let Some(pos) = self.stack.iter().position(|(p, _)| *p == canonical) {
            let mut chain: Vec<&str> = self.stack[pos..].iter().map(|(_, n)| n.as_str()).collect();
            let me = slash(&shown);
            chain.push(&me);
            let d = Diagnostic::error("DG0004", format!("`extends` cycle: {}", chain.join(" → ")))
                .with_help("remove one of the `extends` keys so the chain ends in a base file");
            self.diags.push(match from {
                Some(s) => d.with_label(s.clone(), "this `extends` closes the cycle"),
                None => d,
            });
            return None;
        }
        if self.stack.len() >= MAX_CHAIN {
            let d = Diagnostic::error(
                "DG0005",
                format!("`extends` chain longer than {MAX_CHAIN} files"),
            );
            self.diags.push(match from {
                Some(s) => d.with_label(s.clone(), "extended here"),
                None => d,
            });
            return None;
        }
        if let Ok(canon_root) = std::fs::canonicalize(if self.root_dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            &self.root_dir
        }) && !canonical.starts_with(&canon_root)
        {
            let d = Diagnostic::error("DG0003", format!("`{}` resolves outside the environment folder", slash(&shown)))
                .with_help("`extends` must name a file inside the folder of the environment file (a symbolic link may not lead out of it)");
            self.diags.push(match from {
                Some(s) => d.with_label(s.clone(), "refused"),
                None => d,
            });
            return None;
        }

        let file = self.sources.add(shown.clone(), text);
        self.files.push(file);
        let mut entry = self.parse(file)?;

        // Take `extends` out of this layer and load the layer below first.
        let extends = match &mut entry.value {
            Value::Table(t) => t.remove("extends"),
            _ => None,
        };
        let Some(ext) = extends else {
            return Some(entry);
        };
        let Value::String(target) = &ext.value else {
            self.diags.push(
                Diagnostic::error(
                    "DG0006",
                    "`extends` must be a string: the path of another environment file",
                )
                .with_label(ext.span.clone(), "not a string"),
            );
            return Some(entry);
        };
        let Some((sub_dir, sub_name)) = confine(dir, target) else {
            self.diags.push(
                Diagnostic::error(
                    "DG0003",
                    "`extends` must be a relative path inside the environment folder",
                )
                .with_label(
                    ext.span.clone(),
                    "absolute, or leaves the folder through `..`",
                )
                .with_help(
                    "name a file next to this one or below it, such as `extends = \"base.toml\"`",
                ),
            );
            return None;
        };
        self.stack.push((canonical, slash(&shown)));
        let base = self.load_file(&sub_dir, &sub_name, Some(&ext.span));
        self.stack.pop();
        let mut base = base?;
        base.merge(entry);
        // The root keeps the top layer's span, so the tree's anchor is the file being compiled.
        Some(base)
    }

    fn parse(&mut self, file: FileId) -> Option<Entry> {
        let text = self.sources.get(file).text.clone();
        let in_pieces = if text.len() >= pieces::FROM {
            pieces::parse(file, &text)
        } else {
            None
        };
        let (value, redact) = match in_pieces {
            Some(parsed) => parsed,
            None => match parse_whole(file, &text) {
                Ok(parsed) => parsed,
                Err(errors) => {
                    for e in errors {
                        let range = e.span().unwrap_or(0..0);
                        let message = e.message().trim().to_owned();
                        let first = message.lines().next().unwrap_or("invalid TOML").to_owned();
                        self.diags.push(
                            Diagnostic::error("DG0001", format!("TOML syntax error: {first}"))
                                .with_label(Span::new(file, range), first),
                        );
                    }
                    return None;
                }
            },
        };
        self.sources.redact(file, &redact);
        Some(Entry {
            key_span: None,
            span: Span::new(file, 0..text.len()),
            value,
            overridden: Vec::new(),
        })
    }
}

/// The text of `file` parsed in one go and converted: its root table and the spans to mask, or
/// every syntax error.
fn parse_whole(
    file: FileId,
    text: &str,
) -> Result<(Value, Vec<std::ops::Range<usize>>), Vec<toml::de::Error>> {
    let (table, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut redact = Vec::new();
    let value = convert_table(At { file, offset: 0 }, table.get_ref(), &mut redact, false);
    Ok((value, redact))
}

/// From how many entries a table's entries are converted on every core (a `[services]` table of
/// hundreds of services); smaller tables, nearly all of them, are converted on this thread.
const SPREAD_FROM: usize = 256;

/// Where a parsed piece of a file sits in it: its spans are relative to the piece.
#[derive(Debug, Clone, Copy)]
struct At {
    file: FileId,
    /// The piece's first byte in the file.
    offset: usize,
}

impl At {
    fn shift(self, r: std::ops::Range<usize>) -> std::ops::Range<usize> {
        r.start + self.offset..r.end + self.offset
    }

    fn span(self, r: std::ops::Range<usize>) -> Span {
        Span::new(self.file, self.shift(r))
    }
}

fn convert_table(
    at: At,
    t: &DeTable<'_>,
    redact: &mut Vec<std::ops::Range<usize>>,
    in_secrets: bool,
) -> Value {
    let mut out = Vec::with_capacity(t.len());
    if t.len() < SPREAD_FROM {
        for (k, v) in t {
            out.push(convert_entry(at, k, v, redact, in_secrets));
        }
    } else {
        let entries: Vec<_> = t.iter().collect();
        // Each entry with the spans it masks, in the table's order whatever thread converted it.
        let converted = crate::parallel::map(&entries, |(k, v)| {
            let mut masked = Vec::new();
            let entry = convert_entry(at, k, v, &mut masked, in_secrets);
            (entry, masked)
        });
        for (entry, masked) in converted {
            out.push(entry);
            redact.extend(masked);
        }
    }
    Value::Table(out.into_iter().collect())
}

/// One entry of a table: its key and its converted value, the spans to mask pushed to `redact`.
fn convert_entry(
    at: At,
    k: &toml::Spanned<std::borrow::Cow<'_, str>>,
    v: &toml::Spanned<DeValue<'_>>,
    redact: &mut Vec<std::ops::Range<usize>>,
    in_secrets: bool,
) -> (String, Entry) {
    let key = k.get_ref().to_string();
    let secretish = looks_secret(&key);
    let child_in_secrets = key == "secrets";
    let value = convert(at, v.get_ref(), v.span(), redact, child_in_secrets);
    match &value {
        Value::String(s) if (secretish || in_secrets) && !is_reference(s) => {
            redact.push(at.shift(inside_quotes(v.span())));
        }
        // A number or a list under a credential key is shown no more than a string.
        Value::Integer(_) | Value::Float(_) | Value::Array(_) if secretish => {
            redact.push(at.shift(v.span()));
        }
        _ => {}
    }
    (
        key,
        Entry {
            key_span: Some(at.span(k.span())),
            span: at.span(v.span()),
            value,
            overridden: Vec::new(),
        },
    )
}

fn convert(
    at: At,
    v: &DeValue<'_>,
    span: std::ops::Range<usize>,
    redact: &mut Vec<std::ops::Range<usize>>,
    in_secrets: bool,
) -> Value {
    match v {
        DeValue::String(s) => {
            if literal_credential(s).is_some() {
                redact.push(at.shift(inside_quotes(span)));
            }
            Value::String(s.to_string())
        }
        DeValue::Integer(i) => {
            let digits = i.as_str().replace('_', "");
            let parsed = i64::from_str_radix(
                digits
                    .trim_start_matches("0x")
                    .trim_start_matches("0o")
                    .trim_start_matches("0b"),
                i.radix(),
            );
            match parsed {
                Ok(n) => Value::Integer(n),
                Err(_) => Value::String(i.as_str().to_owned()),
            }
        }
        DeValue::Float(f) => Value::Float(parse_float(f.as_str())),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::String(d.to_string()),
        DeValue::Array(a) => {
            let words: Vec<&str> = a
                .iter()
                .map(|i| match i.get_ref() {
                    DeValue::String(s) => s.as_ref(),
                    _ => "",
                })
                .collect();
            for i in flagged_items(&words) {
                redact.push(at.shift(inside_quotes(a[i].span())));
            }
            array(at, a, redact)
        }
        DeValue::Table(t) => convert_table(at, t, redact, in_secrets),
    }
}

/// The characters inside a quoted string's span: masking them keeps the length, so spans stay
/// valid.
fn inside_quotes(r: std::ops::Range<usize>) -> std::ops::Range<usize> {
    r.start.saturating_add(1)..r.end.saturating_sub(1).max(r.start.saturating_add(1))
}

fn array(
    at: At,
    a: &[toml::Spanned<DeValue<'_>>],
    redact: &mut Vec<std::ops::Range<usize>>,
) -> Value {
    Value::Array(
        a.iter()
            .map(|item| Entry {
                key_span: None,
                span: at.span(item.span()),
                value: convert(at, item.get_ref(), item.span(), redact, false),
                overridden: Vec::new(),
            })
            .collect(),
    )
}

fn parse_float(s: &str) -> f64 {
    let s = s.replace('_', "");
    match s.as_str() {
        "inf" | "+inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        "nan" | "+nan" | "-nan" => f64::NAN,
        _ => s.parse().unwrap_or(f64::NAN),
    }
}

/// Resolves `target` relative to the folder `dir` (relative to the root folder). `None` when the
/// path is absolute or climbs above the root folder.
fn confine(dir: &[String], target: &str) -> Option<(Vec<String>, PathBuf)> {
    let p = Path::new(target);
    if target.starts_with('/') || target.starts_with('\\') || p.is_absolute() || p.has_root() {
        return None;
    }
    let mut parts: Vec<String> = dir.to_vec();
    for c in p.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    let name = parts.pop()?;
    Some((parts, PathBuf::from(name)))
}

/// Reads an input file of at most 4 MiB that is a regular file (a link to one is fine; a folder,
/// FIFO or device is refused without blocking or reading it).
///
/// # Errors
/// The file is missing, unreadable, too large, not a regular file or not UTF-8.
pub fn read_input(path: &Path) -> std::io::Result<String> {
    use crate::fsafe::{Links, Regular, read_regular};
    match read_regular(path, MAX_FILE_BYTES, Links::Follow)? {
        Regular::Bytes(bytes) => {
            String::from_utf8(bytes).map_err(|_| std::io::Error::other("not valid UTF-8"))
        }
        Regular::TooLarge => Err(std::io::Error::other(format!(
            "larger than {MAX_FILE_BYTES} bytes"
        ))),
        Regular::NotRegular("a folder") => Err(std::io::Error::other("it is a folder, not a file")),
        Regular::NotRegular(found) => Err(std::io::Error::other(format!(
            "it is {found}, not a regular file"
        ))),
    }
}

fn slash(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}

#[cfg(test)]
mod tests {
    use super::LaterTree;

    /// An environment of two files, `env.toml` extending `base.toml`, in a new folder.
    fn two_files() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("base.toml"),
            "[environment]\nname = \"base\"\n\n[a]\nb = 1\nc = [\"x\", \"y\"]\n",
        )
        .expect("write");
        let env = dir.path().join("env.toml");
        std::fs::write(&env, "extends = \"base.toml\"\n\n[a]\nb = 2\n").expect("write");
        (dir, env)
    }

    /// `env` loaded, and its tree to load again later.
    fn loaded(env: &std::path::Path) -> (super::Loaded, LaterTree) {
        let mut sources = crate::source::SourceMap::default();
        let mut diags = Vec::new();
        let first = super::load(env, &mut sources, &mut diags).expect("loads");
        let later = LaterTree::new(env, &sources, first.root.span.clone());
        (first, later)
    }

    /// A tree loaded again only when asked for, from the same files, is the tree first loaded:
    /// the same entries at the same spans, overrides included.
    #[test]
    fn a_tree_loaded_again_is_the_tree_first_loaded() {
        let (_dir, env) = two_files();
        let (first, later) = loaded(&env);
        assert!(!later.loaded());
        assert_eq!(format!("{:?}", later.get()), format!("{:?}", first.root));
        assert!(later.loaded());
        assert!(!later.changed());
    }

    /// A file changed after it was first read is not taken: the tree is empty, every path points
    /// at the environment file, and the change is known.
    #[test]
    fn a_file_changed_meanwhile_leaves_an_empty_tree() {
        let (dir, env) = two_files();
        let (first, later) = loaded(&env);
        std::fs::write(
            dir.path().join("base.toml"),
            "[environment]\nname = \"base\"\n\n[a]\nb = 3\n",
        )
        .expect("write");
        let path = crate::path!["a", "b"];
        let (entry, found) = later.get().lookup(path.as_slice());
        assert!(!found);
        assert_eq!(entry.span, first.root.span);
        assert!(later.changed());
    }
}
