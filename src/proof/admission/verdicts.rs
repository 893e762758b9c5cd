//! Gatekeeper verdicts kept between runs. Evaluating the generated Rego is most of the admission
//! proof's time, and what it finds for one review is a function of the review alone: the
//! environment's `ConstraintTemplates` and Constraints, the object as admission sees it, the
//! operation and who applies it. Each review's verdict (which Constraints it violates, with their
//! messages) is kept under a SHA-256 of all of that and of the binary itself, in one file per
//! environment and policy set in the user's cache folder, so the next run evaluates only the
//! objects that changed. A run with every verdict known writes nothing.
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

/// The first bytes of a verdicts file; a file of another format is ignored.
const MAGIC: &[u8] = b"deaap-gen gatekeeper verdicts 2\n";

/// The largest verdicts file read: far above what 10,000 services need (about 2 MB).
const CAP: u64 = 256 << 20;

/// The verdicts known for one environment and policy set, and where they are kept.
pub struct Memory {
    /// What every key of this policy set starts from.
    salt: Key,
    file: PathBuf,
    known: HashMap<Key, Verdict>,
}

impl Memory {
    /// The verdicts kept for `environment` under `policies` (its `ConstraintTemplates` and
    /// Constraints, in the order the proof loads them); `None` when no folder is chosen or this
    /// binary cannot tell itself apart from other builds.
    #[must_use]
    pub fn open(environment: &str, policies: &[&Value]) -> Option<Self> {
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
        let known = match crate::fsafe::read_regular(&file, CAP, crate::fsafe::Links::Refuse) {
            Ok(crate::fsafe::Regular::Bytes(bytes)) => parse(&bytes, &salt).unwrap_or_default(),
            _ => HashMap::new(),
        };
        Some(Self { salt, file, known })
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

    /// A memory holding `known`, kept nowhere.
    #[cfg(test)]
    pub(crate) fn holding(known: HashMap<Key, Verdict>) -> Self {
        Self {
            salt: [7; 32],
            file: PathBuf::new(),
            known,
        }
    }

    /// Whether no verdict is kept for these policies.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }

    /// The verdict kept under `key`.
    #[must_use]
    pub fn get(&self, key: &Key) -> Option<&Verdict> {
        self.known.get(key)
    }

    /// Keeps the verdicts this run used (`used`, in review order), together with those already
    /// kept, up to as many again as were used; writes nothing when every used verdict was known.
    pub fn keep(&self, used: &[(Key, Verdict)]) {
        if used.iter().all(|(k, _)| self.known.contains_key(k)) {
            return;
        }
        let mut seen: std::collections::HashSet<Key> = used.iter().map(|(k, _)| *k).collect();
        let room = used.len();
        // The earlier verdicts in a fixed order (by key), so the file's bytes depend only on
        // what it holds.
        let mut earlier: Vec<(&Key, &Verdict)> = self
            .known
            .iter()
            .filter(|(k, _)| !seen.contains(*k))
            .collect();
        earlier.sort_unstable_by_key(|(k, _)| **k);
        let mut entries: Vec<(&Key, &Verdict)> = Vec::with_capacity(used.len() + room);
        for (key, verdict) in used {
            if seen.remove(key) {
                entries.push((key, verdict));
            }
        }
        entries.extend(earlier.into_iter().take(room));
        let bytes = encode(&self.salt, &entries);
        let _ = crate::cache::write(&self.file, &bytes, ".bin");
    }
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

/// A verdicts file for `salt` holding `entries`.
fn encode(salt: &Key, entries: &[(&Key, &Verdict)]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(MAGIC.len() + 32 + 40 * entries.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(salt);
    for (key, verdict) in entries {
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

/// The verdicts of a file written for `salt`; `None` when it is not one.
fn parse(bytes: &[u8], salt: &Key) -> Option<HashMap<Key, Verdict>> {
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
    while !rest.is_empty() {
        let key: Key = take(&mut rest, 32)?.try_into().ok()?;
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
    Some(known)
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

    proptest! {
        /// What is written reads back the same, and a file cut anywhere inside an entry, or
        /// written for other policies, is ignored as a whole rather than misread.
        #[test]
        fn a_verdicts_file_reads_back_or_not_at_all(entries in verdicts(), salt in any::<Key>()) {
            let mut expected = HashMap::new();
            for (k, v) in &entries {
                expected.entry(*k).or_insert_with(|| v.clone());
            }
            let unique: Vec<(&Key, &Verdict)> = expected.iter().collect();
            let bytes = encode(&salt, &unique);
            prop_assert_eq!(parse(&bytes, &salt), Some(expected.clone()));
            let mut other = salt;
            other[0] ^= 1;
            prop_assert_eq!(parse(&bytes, &other), None);
            // Each entry's end, where a cut file is a shorter but true one.
            let mut ends = vec![MAGIC.len() + 32];
            for (k, v) in &unique {
                ends.push(ends[ends.len() - 1] + encode(&salt, &[(k, v)]).len() - MAGIC.len() - 32);
            }
            for cut in 0..bytes.len() {
                match parse(&bytes[..cut], &salt) {
                    None => prop_assert!(!ends.contains(&cut)),
                    Some(found) => {
                        prop_assert!(ends.contains(&cut), "cut at {} read as a file", cut);
                        for (k, v) in &found {
                            prop_assert_eq!(Some(v), expected.get(k));
                        }
                    }
                }
            }
        }
    }
}
