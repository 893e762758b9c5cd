//! The semantic rules, one per file. Each has a stable code (`DG01xx` model consistency, `DG02xx`
//! secrets, `DG03xx` production posture, `DG04xx` mistakes inherited from the seed) and What/Why docs.

use super::Rule;

pub mod secrets;

/// Every semantic rule, in code order.
#[must_use]
pub fn all() -> Vec<&'static Rule> {
    let mut v: Vec<&'static Rule> = vec![&secrets::RULE];
    v.sort_by_key(|r| r.code);
    v
}
