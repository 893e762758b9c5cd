//! Clean outcomes of a proof kept between runs. A proof that reads lean inputs (the reachability
//! proof reads the generated network and the flows the model needs) finds the same thing whenever
//! those inputs are the same, so when it found nothing to report, what it established is kept
//! under a SHA-256 of the inputs and of the binary itself, and the next run whose inputs hash the
//! same takes it from there instead of judging again. Most edits (an image, a replica count, an
//! environment variable, resources) change no input of the reachability proof.
//!
//! A proof that reported something is not kept: its diagnostics point into the environment's
//! files, which the next run may have moved. The file is a cache and nothing more (see
//! [`crate::cache`]): missing, unreadable, corrupt or from another build of deaap-gen, it is
//! ignored and replaced.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;

/// What an outcome is kept under.
pub type Key = [u8; 32];

/// The first bytes of a file; a file of another format is ignored.
const MAGIC: &[u8] = b"deaap-gen proof outcomes 1\n";

/// How many outcomes a file keeps for one proof of one environment: the latest ones, so that
/// switching back and forth between a few versions of the environment (branches, an undone edit)
/// finds each of them.
const ROOM: usize = 8;

/// The clean outcomes kept for one proof of one environment.
struct Outcomes {
    salt: Key,
    file: PathBuf,
    /// Newest first.
    known: Vec<(Key, u32)>,
}

impl Outcomes {
    /// The outcomes of `proof` kept for `environment`; `None` when nothing is kept (no cache
    /// folder, or a binary that cannot tell itself apart from other builds).
    #[must_use]
    fn open(proof: &str, environment: &str) -> Option<Self> {
        let folder = crate::cache::folder("proofs")?;
        let mut h = Sha256::new();
        h.update(MAGIC);
        h.update(crate::cache::binary_identity()?);
        h.update(proof);
        h.update([0]);
        let salt: Key = h.finalize().into();
        let name = crate::output::sha256_hex(&[&salt[..], environment.as_bytes()].concat());
        let file = folder.join(format!("{}.bin", &name[..32]));
        let known = match crate::fsafe::read_regular(&file, 4096, crate::fsafe::Links::Refuse) {
            Ok(crate::fsafe::Regular::Bytes(bytes)) => parse(&bytes, &salt).unwrap_or_default(),
            _ => Vec::new(),
        };
        Some(Self { salt, file, known })
    }

    /// The key of `inputs`: everything the proof reads, hashed through [`Hash`]. The layout
    /// `Hash` writes may differ between builds, which the binary's identity in the key covers.
    #[must_use]
    fn key(&self, inputs: &impl Hash) -> Key {
        let mut h = Sha256Hasher(Sha256::new());
        h.0.update(self.salt);
        inputs.hash(&mut h);
        h.0.finalize().into()
    }

    /// What the proof established with the inputs of `key`, when it was clean.
    #[must_use]
    fn get(&self, key: &Key) -> Option<u32> {
        self.known.iter().find(|(k, _)| k == key).map(|(_, n)| *n)
    }

    /// Keeps a clean outcome, `established` with the inputs of `key`, before the others.
    fn keep(mut self, key: Key, established: u32) {
        self.remember(key, established);
        let _ = crate::cache::write(&self.file, &encode(&self.salt, &self.known), ".bin");
    }

    /// Puts `key` first, in memory, dropping the oldest beyond [`ROOM`].
    fn remember(&mut self, key: Key, established: u32) {
        self.known.retain(|(k, _)| *k != key);
        self.known.insert(0, (key, established));
        self.known.truncate(ROOM);
    }
}

/// Runs `judge` on `inputs` and on a proof's own `report`, adding what it establishes to
/// `established`, unless `proof` found nothing in `environment` before with the same `inputs`:
/// then adds what it established then instead. A run that reports nothing is kept for the next.
pub fn reuse_or_judge<I: Hash>(
    proof: &str,
    environment: &str,
    inputs: I,
    report: &mut crate::validate::Report<'_>,
    established: &mut usize,
    judge: impl FnOnce(I, &mut crate::validate::Report<'_>, &mut usize),
) {
    let kept = Outcomes::open(proof, environment);
    let key = kept.as_ref().map(|k| k.key(&inputs));
    if let (Some(kept), Some(key)) = (&kept, &key)
        && let Some(n) = kept.get(key)
    {
        *established += n as usize;
        return;
    }
    let before = *established;
    judge(inputs, report, established);
    if let (Some(kept), Some(key)) = (kept, key)
        && report.is_clean()
    {
        kept.keep(
            key,
            u32::try_from(*established - before).unwrap_or(u32::MAX),
        );
    }
}

/// A SHA-256 of `value`'s JSON form, for inputs that are model types (which serialize but do
/// not hash); `None` when it does not serialize (not expected).
#[must_use]
pub fn digest(value: &impl serde::Serialize) -> Option<Key> {
    let mut h = Sha256::new();
    serde_json::to_writer(crate::cache::Hashing(&mut h), value).ok()?;
    Some(h.finalize().into())
}

/// A SHA-256 fed by [`Hash`].
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().unwrap_or_default())
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

fn encode(salt: &Key, known: &[(Key, u32)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + 32 + known.len() * 36);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(salt);
    for (k, n) in known {
        out.extend_from_slice(k);
        out.extend_from_slice(&n.to_le_bytes());
    }
    out
}

fn parse(bytes: &[u8], salt: &Key) -> Option<Vec<(Key, u32)>> {
    let rest = bytes.strip_prefix(MAGIC)?.strip_prefix(&salt[..])?;
    if rest.len() % 36 != 0 || rest.len() / 36 > ROOM {
        return None;
    }
    rest.chunks_exact(36)
        .map(|c| {
            let key: Key = c[..32].try_into().ok()?;
            let n = u32::from_le_bytes(c[32..].try_into().ok()?);
            Some((key, n))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcomes(known: Vec<(Key, u32)>) -> Outcomes {
        Outcomes {
            salt: [3; 32],
            file: PathBuf::new(),
            known,
        }
    }

    #[test]
    fn a_file_reads_back_what_was_written_and_nothing_else() {
        let known = vec![([1; 32], 7), ([2; 32], 0)];
        let bytes = encode(&[3; 32], &known);
        assert_eq!(parse(&bytes, &[3; 32]), Some(known));
        // Another binary's salt, a cut file, another format.
        assert_eq!(parse(&bytes, &[4; 32]), None);
        assert_eq!(parse(&bytes[..bytes.len() - 1], &[3; 32]), None);
        assert_eq!(parse(b"deaap-gen proof outcomes 0\n", &[3; 32]), None);
    }

    #[test]
    fn keys_tell_inputs_apart() {
        let o = outcomes(Vec::new());
        let a = o.key(&("a", vec![1_u16, 2]));
        assert_eq!(a, o.key(&("a", vec![1_u16, 2])));
        assert_ne!(a, o.key(&("a", vec![1_u16, 2, 3])));
        assert_ne!(a, o.key(&("b", vec![1_u16, 2])));
        // Strings and sequences are delimited: moving a boundary changes the key.
        assert_ne!(o.key(&("ab", "c")), o.key(&("a", "bc")));
        let other = Outcomes {
            salt: [4; 32],
            ..outcomes(Vec::new())
        };
        assert_ne!(a, other.key(&("a", vec![1_u16, 2])));
    }

    #[test]
    fn the_newest_outcomes_are_kept_first() {
        let mut o = outcomes((0..ROOM as u8).map(|i| ([i; 32], u32::from(i))).collect());
        assert_eq!(o.get(&[2; 32]), Some(2));
        assert_eq!(o.get(&[200; 32]), None);
        // One known again moves to the front, with what it established now.
        o.remember([5; 32], 9);
        assert_eq!(o.known.len(), ROOM);
        assert_eq!(o.known[0], ([5; 32], 9));
        assert_eq!(o.get(&[5; 32]), Some(9));
        // A new one pushes out the oldest.
        let oldest = o.known[ROOM - 1].0;
        o.remember([200; 32], 1);
        assert_eq!(o.known.len(), ROOM);
        assert_eq!(o.known[0], ([200; 32], 1));
        assert_eq!(o.get(&oldest), None);
        assert_eq!(o.get(&[5; 32]), Some(9));
    }
}
