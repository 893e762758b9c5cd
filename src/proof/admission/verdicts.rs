//! Gatekeeper verdicts kept between runs. Evaluating the generated Rego is most of the admission
//! proof's time, and what it finds for one review is a function of the review alone: the
//! environment's `ConstraintTemplates` and Constraints, the object as admission sees it, the
//! operation and who applies it. Each review's verdict (which Constraints it violates, with their
//! messages) is kept under a SHA-256 of all of that and of the binary itself, in one file per
//! environment and policy set in the user's cache folder, so the next run evaluates only the
//! objects that changed. A run with every verdict known writes nothing.
//!
//! An object whose reviews all passed, with nothing to report, is kept too, with how many
//! reviews were admitted ([`Passed`]): under a SHA-256 of the policies, the binary, its YAML
//! document, the labels of its namespace and the mesh's CNI setting, which are everything its
//! reviews read (the pods controllers derive from it, what the injectors add to them, the Pod
//! Security level they meet). A run that finds it there skips deriving, mutating and reviewing
//! those pods altogether.
//!
//! The file is a cache and nothing more (see [`crate::cache`]): one that is missing, unreadable,
//! corrupt or from another build of deaap-gen is ignored (and replaced), and a cache folder that
//! cannot be created or written leaves every review to the engine, without a message.

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;

/// What a verdict is kept under.
pub type Key = [u8; 32];

/// The violations one review found: each Constraint's position among the environment's
/// Constraints, with the message.
pub type Verdict = Vec<(u32, String)>;

/// The verdicts a run used, each with its key, in review order.
pub type Used = Vec<(Key, Verdict)>;

/// How many reviews of an object that passed them all were admitted: the object itself and what
/// controllers create from it.
pub type Passed = u32;

/// The first bytes of a verdicts file; a file of another format is ignored.
const MAGIC: &[u8] = b"deaap-gen gatekeeper verdicts 3\n";

/// What an entry of the file holds: a review's verdict, or an object that passed.
const REVIEW: u8 = b'r';
const OBJECT: u8 = b'o';

/// The largest verdicts file read: far above what 10,000 services need (about 2 MB).
const CAP: u64 = 256 << 20;

/// The verdicts known for one environment and policy set, and where they are kept.
pub struct Memory {
    /// What every key of this policy set starts from.
    salt: Key,
    file: PathBuf,
    known: HashMap<Key, Verdict>,
    passed: HashMap<Key, Passed>,
}

impl Memory {
    /// The verdicts kept for `environment` under `policies` (its `ConstraintTemplates` and
    /// Constraints, in the order the proof loads them); `None` when no folder is chosen or this
    /// binary cannot tell itself apart from other builds.
    #[must_use]
    pub fn open(environment: &str, policies: &[Value]) -> Option<Self> {
        let folder = crate::cache::folder("gatekeeper")?;
        let mut h = Sha256::new();
        h.update(MAGIC);
        h.update(crate::cache::binary_identity()?);
        for p in policies {
            serde_json::to_writer(crate::cache::Hashing(&mut h), p).ok()?;
            h.update([0]);
        }
        let salt: Key = h.finalize().into();
        let name = crate::output::sha256_hex(&[&salt[..], environment.as_bytes()].concat());
        let file = folder.join(format!("{}.bin", &name[..32]));
        let (known, passed) =
            match crate::fsafe::read_regular(&file, CAP, crate::fsafe::Links::Refuse) {
                Ok(crate::fsafe::Regular::Bytes(bytes)) => parse(&bytes, &salt).unwrap_or_default(),
                _ => Default::default(),
            };
        Some(Self {
            salt,
            file,
            known,
            passed,
        })
    }

    /// The key of one review: `obj` as admission sees it, the operation and the user.
    #[must_use]
    pub fn key(&self, obj: &Value, operation: &str, username: &str) -> Key {
        let mut h = Sha256::new();
        h.update(self.salt);
        h.update(operation);
        h.update([0]);
        h.update(username);
        h.update([0]);
        let mut bytes = Vec::with_capacity(4096);
        encode_value(obj, &mut bytes);
        h.update(&bytes);
        h.finalize().into()
    }

    /// The key of an object whose reviews may all have passed: the SHA-256 of its YAML document
    /// (`document`), the `labels` of its namespace (`null` for none) and whether the mesh's CNI
    /// agent replaces `istio-init` (`cni`).
    #[must_use]
    pub fn object_key(&self, document: &[u8; 32], labels: &Value, cni: bool) -> Key {
        let mut h = Sha256::new();
        h.update(self.salt);
        h.update([OBJECT, u8::from(cni)]);
        let mut bytes = Vec::new();
        encode_value(labels, &mut bytes);
        h.update(&bytes);
        h.update(document);
        h.finalize().into()
    }

    /// A memory holding `known`, kept nowhere.
    #[cfg(test)]
    pub(crate) fn holding(known: HashMap<Key, Verdict>) -> Self {
        Self {
            salt: [7; 32],
            file: PathBuf::new(),
            known,
            passed: HashMap::new(),
        }
    }

    /// Keeps `key` as an object that passed `n` reviews, in memory only.
    #[cfg(test)]
    pub(crate) fn pass(&mut self, key: Key, n: Passed) {
        self.passed.insert(key, n);
    }

    /// Whether no verdict is kept for these policies.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.known.is_empty() && self.passed.is_empty()
    }

    /// The verdict kept under `key`.
    #[must_use]
    pub fn get(&self, key: &Key) -> Option<&Verdict> {
        self.known.get(key)
    }

    /// How many reviews were admitted of the object kept under `key` ([`Memory::object_key`]),
    /// when it passed them all.
    #[must_use]
    pub fn passed(&self, key: &Key) -> Option<Passed> {
        self.passed.get(key).copied()
    }

    /// Keeps the verdicts and passed objects this run used (`used` and `passed`, in review
    /// order), together with those already kept, up to as many again of each as were used;
    /// writes nothing when every one used was known.
    pub fn keep(&self, used: &[(Key, Verdict)], passed: &[(Key, Passed)]) {
        if used.iter().all(|(k, _)| self.known.contains_key(k))
            && passed.iter().all(|(k, _)| self.passed.contains_key(k))
        {
            return;
        }
        let reviews = kept(used, &self.known);
        let objects = kept(passed, &self.passed);
        let bytes = encode(&self.salt, &reviews, &objects);
        let _ = crate::cache::write(&self.file, &bytes, ".bin");
    }
}

/// What a file keeps of one kind of entry: those `used`, each once, in order; then as many
/// again of those `known` before and not used, in a fixed order (by key), so the file's bytes
/// depend only on what it holds.
fn kept<'a, T>(used: &'a [(Key, T)], known: &'a HashMap<Key, T>) -> Vec<(&'a Key, &'a T)> {
    let mut seen: std::collections::HashSet<Key> = used.iter().map(|(k, _)| *k).collect();
    let room = used.len();
    let mut earlier: Vec<(&Key, &T)> = known.iter().filter(|(k, _)| !seen.contains(*k)).collect();
    earlier.sort_unstable_by_key(|(k, _)| **k);
    let mut entries: Vec<(&Key, &T)> = Vec::with_capacity(used.len() + room);
    for (key, value) in used {
        if seen.remove(key) {
            entries.push((key, value));
        }
    }
    entries.extend(earlier.into_iter().take(room));
    entries
}

/// `v` in a form that tells every two values apart: each value a tag, strings and containers
/// length-prefixed, numbers as JSON writes them. It is what a review's key hashes, cheaper to
/// write than JSON text (no escaping, no formatting).
fn encode_value(v: &Value, out: &mut Vec<u8>) {
    fn len(n: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(&len32(n).to_le_bytes());
    }
    fn text(t: &str, out: &mut Vec<u8>) {
        len(t.len(), out);
        out.extend_from_slice(t.as_bytes());
    }
    match v {
        Value::Null => out.push(b'n'),
        Value::Bool(b) => out.push(if *b { b't' } else { b'f' }),
        Value::Number(n) => {
            out.push(b'#');
            text(&n.to_string(), out);
        }
        Value::String(t) => {
            out.push(b's');
            text(t, out);
        }
        Value::Array(items) => {
            out.push(b'a');
            len(items.len(), out);
            for i in items {
                encode_value(i, out);
            }
        }
        Value::Object(map) => {
            out.push(b'o');
            len(map.len(), out);
            for (k, v) in map {
                text(k, out);
                encode_value(v, out);
            }
        }
    }
}

/// A verdicts file for `salt` holding the verdicts of `reviews` and the passed `objects`.
fn encode(salt: &Key, reviews: &[(&Key, &Verdict)], objects: &[(&Key, &Passed)]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(MAGIC.len() + 32 + 41 * reviews.len() + 37 * objects.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(salt);
    for (key, passed) in objects {
        bytes.push(OBJECT);
        bytes.extend_from_slice(*key);
        bytes.extend_from_slice(&passed.to_le_bytes());
    }
    for (key, verdict) in reviews {
        bytes.push(REVIEW);
        bytes.extend_from_slice(*key);
        bytes.extend_from_slice(&len32(verdict.len()).to_le_bytes());
        for (index, message) in *verdict {
            bytes.extend_from_slice(&index.to_le_bytes());
            bytes.extend_from_slice(&len32(message.len()).to_le_bytes());
            bytes.extend_from_slice(message.as_bytes());
        }
    }
    bytes
}

/// What a verdicts file keeps: the reviews' verdicts and the passed objects.
type Kept = (HashMap<Key, Verdict>, HashMap<Key, Passed>);

/// The verdicts and passed objects of a file written for `salt`; `None` when it is not one.
fn parse(bytes: &[u8], salt: &Key) -> Option<Kept> {
    fn take<'b>(rest: &mut &'b [u8], n: usize) -> Option<&'b [u8]> {
        let (head, tail) = rest.split_at_checked(n)?;
        *rest = tail;
        Some(head)
    }
    fn number(rest: &mut &[u8]) -> Option<u32> {
        Some(u32::from_le_bytes(take(rest, 4)?.try_into().ok()?))
    }
    let mut rest = bytes.strip_prefix(MAGIC)?.strip_prefix(salt.as_slice())?;
    let mut known = HashMap::new();
    let mut passed = HashMap::new();
    while !rest.is_empty() {
        let tag = take(&mut rest, 1)?[0];
        let key: Key = take(&mut rest, 32)?.try_into().ok()?;
        if tag == OBJECT {
            passed.insert(key, number(&mut rest)?);
            continue;
        }
        if tag != REVIEW {
            return None;
        }
        let count = number(&mut rest)?;
        let mut verdict = Vec::new();
        for _ in 0..count {
            let index = number(&mut rest)?;
            let len = number(&mut rest)? as usize;
            let message = std::str::from_utf8(take(&mut rest, len)?).ok()?.to_owned();
            verdict.push((index, message));
        }
        known.insert(key, verdict);
    }
    Some((known, passed))
}

fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn verdicts() -> impl Strategy<Value = Vec<(Key, Verdict)>> {
        prop::collection::vec(
            (
                any::<Key>(),
                prop::collection::vec((0u32..20, "[ -~é\n]{0,12}"), 0..3),
            ),
            0..6,
        )
    }

    /// A review's key tells apart values that a naive concatenation of their parts would confuse,
    /// and gives equal values equal keys.
    #[test]
    fn the_encoding_under_a_key_tells_values_apart() {
        use serde_json::json;
        let values = [
            json!(["ab", "c"]),
            json!(["a", "bc"]),
            json!({"a": "b"}),
            json!({"ab": ""}),
            json!({"as": "b"}),
            json!({"a": "sb"}),
            json!({"a": {"b": 1}}),
            json!({"a": {}, "b": 1}),
            json!("1"),
            json!(1),
            json!(1.0),
            json!(null),
            json!("null"),
            json!([]),
            json!({}),
            json!([[]]),
            json!([null]),
            json!(true),
            json!("t"),
        ];
        let encoded: Vec<Vec<u8>> = values
            .iter()
            .map(|v| {
                let mut out = Vec::new();
                encode_value(v, &mut out);
                out
            })
            .collect();
        for (i, a) in encoded.iter().enumerate() {
            for (j, b) in encoded.iter().enumerate().skip(i + 1) {
                assert_ne!(a, b, "{} and {}", values[i], values[j]);
            }
        }
        let mut again = Vec::new();
        encode_value(&values[2].clone(), &mut again);
        assert_eq!(again, encoded[2]);
    }

    /// An object's key changes with each thing its reviews read, and only with them.
    #[test]
    fn an_object_key_changes_with_its_document_its_namespace_and_the_cni_setting() {
        use serde_json::json;
        let memory = Memory::holding(HashMap::new());
        let doc = |text: &str| -> [u8; 32] { Sha256::digest(text).into() };
        let labels = json!({"istio-injection": "enabled"});
        let key = memory.object_key(&doc("kind: Deployment\n"), &labels, false);
        assert_eq!(
            key,
            memory.object_key(&doc("kind: Deployment\n"), &labels, false)
        );
        for other in [
            memory.object_key(&doc("kind: StatefulSet\n"), &labels, false),
            memory.object_key(&doc("kind: Deployment\n"), &json!({}), false),
            memory.object_key(&doc("kind: Deployment\n"), &json!(null), false),
            memory.object_key(&doc("kind: Deployment\n"), &labels, true),
        ] {
            assert_ne!(key, other);
        }
        // Not a review's key for any value.
        assert_ne!(key, memory.key(&json!("kind: Deployment\n"), "CREATE", ""));
    }

    proptest! {
        /// What is written reads back the same, and a file cut anywhere inside an entry, or
        /// written for other policies, is ignored as a whole rather than misread.
        #[test]
        fn a_verdicts_file_reads_back_or_not_at_all(
            entries in verdicts(),
            objects in prop::collection::vec((any::<Key>(), any::<Passed>()), 0..4),
            salt in any::<Key>(),
        ) {
            let mut expected = HashMap::new();
            for (k, v) in &entries {
                expected.entry(*k).or_insert_with(|| v.clone());
            }
            let mut passed = HashMap::new();
            for (k, n) in &objects {
                passed.entry(*k).or_insert(*n);
            }
            let reviews: Vec<(&Key, &Verdict)> = expected.iter().collect();
            let unique: Vec<(&Key, &Passed)> = passed.iter().collect();
            let bytes = encode(&salt, &reviews, &unique);
            prop_assert_eq!(parse(&bytes, &salt), Some((expected.clone(), passed.clone())));
            let mut other = salt;
            other[0] ^= 1;
            prop_assert_eq!(parse(&bytes, &other), None);
            // Each entry's end, where a cut file is a shorter but true one.
            let head = MAGIC.len() + 32;
            let mut ends = vec![head];
            for (k, n) in &unique {
                ends.push(ends[ends.len() - 1] + encode(&salt, &[], &[(k, n)]).len() - head);
            }
            for (k, v) in &reviews {
                ends.push(ends[ends.len() - 1] + encode(&salt, &[(k, v)], &[]).len() - head);
            }
            for cut in 0..bytes.len() {
                match parse(&bytes[..cut], &salt) {
                    None => prop_assert!(!ends.contains(&cut)),
                    Some((found, kept)) => {
                        prop_assert!(ends.contains(&cut), "cut at {} read as a file", cut);
                        for (k, v) in &found {
                            prop_assert_eq!(Some(v), expected.get(k));
                        }
                        for (k, n) in &kept {
                            prop_assert_eq!(Some(n), passed.get(k));
                        }
                    }
                }
            }
            // An entry of an unknown kind makes the file another format's.
            let mut odd = bytes.clone();
            odd.push(b'x');
            odd.extend_from_slice(&[0; 36]);
            prop_assert_eq!(parse(&odd, &salt), None);
        }

        /// What is kept of one kind of entry: each used one once, in the order used, then as
        /// many again of those known before, by key.
        #[test]
        fn a_file_keeps_what_was_used_then_as_much_again(
            used in prop::collection::vec((0u8..8, any::<Passed>()), 0..6),
            known in prop::collection::vec((0u8..16, any::<Passed>()), 0..12),
        ) {
            let used: Vec<(Key, Passed)> = used.into_iter().map(|(k, n)| ([k; 32], n)).collect();
            let known: HashMap<Key, Passed> =
                known.into_iter().map(|(k, n)| ([k; 32], n)).collect();
            let entries = kept(&used, &known);
            let mut firsts: Vec<Key> = Vec::new();
            for (k, _) in &used {
                if !firsts.contains(k) {
                    firsts.push(*k);
                }
            }
            let keys: Vec<Key> = entries.iter().map(|(k, _)| **k).collect();
            prop_assert_eq!(&keys[..firsts.len()], &firsts[..]);
            let mut rest: Vec<Key> = known.keys().filter(|k| !firsts.contains(k)).copied().collect();
            rest.sort_unstable();
            rest.truncate(used.len());
            prop_assert_eq!(&keys[firsts.len()..], &rest[..]);
        }
    }
}
