//! The layered environment tree: TOML values that remember where they were written. Merging two
//! layers keeps, for every value, the span that set it and the spans it overrode, so a diagnostic
//! raised after layering can say "set in production.toml:42, overriding base.toml:10".

use crate::source::Span;
use std::fmt::Write as _;

#[derive(Debug, Clone)]
pub struct Entry {
    /// Span of the key that introduced this value (absent for the root and array items).
    pub key_span: Option<Span>,
    /// Span of the value itself.
    pub span: Span,
    pub value: Value,
    /// Where earlier layers set this key, most recent first.
    pub overridden: Vec<Span>,
}

#[derive(Debug, Clone)]
pub enum Value {
    Table(Table),
    Array(Vec<Entry>),
    String(String),
    Integer(i64),
    Float(f64),
    Bool(bool),
}

/// A table's entries in key order. A sorted list rather than a B-tree: a table holds a handful of
/// keys, and each B-tree node has room for eleven, which made the tree of a 1,000-service
/// environment three times the size of its entries.
#[derive(Debug, Clone, Default)]
pub struct Table(Vec<(String, Entry)>);

impl Table {
    /// Where `key` is, or where it would go.
    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    pub fn remove(&mut self, key: &str) -> Option<Entry> {
        self.find(key).ok().map(|i| self.0.remove(i).1)
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Entry)> {
        self.into_iter()
    }

    /// Deep-merges `top` onto this table in one pass over both: a key in both merges its
    /// entries ([`Entry::merge`]), a key in one is kept.
    fn merge(&mut self, top: Table) {
        self.combine(top, Entry::merge);
    }

    /// Joins the tables of two pieces of one file ([`super::pieces`]): a key in both must hold a
    /// table in both, joined in turn, and keeps the first piece's spans (those of the header
    /// that first named it). `false`, with `self` left partly joined, when a key holds anything
    /// else in both: the pieces cannot be joined and the file is parsed whole instead.
    pub(super) fn join(&mut self, later: Table) -> bool {
        let mut joined = true;
        self.combine(later, |v, lv| {
            joined &= match (&mut v.value, lv.value) {
                (Value::Table(a), Value::Table(b)) => a.join(b),
                _ => false,
            };
        });
        joined
    }

    /// Adds the entries of `other` to this table in one pass over both, both being in key order:
    /// a key in one is kept, and `both` combines the entries of a key in both into this table's.
    fn combine(&mut self, other: Table, mut both: impl FnMut(&mut Entry, Entry)) {
        let base = std::mem::take(&mut self.0);
        let mut out = Vec::with_capacity(base.len() + other.0.len());
        let mut other = other.0.into_iter().peekable();
        for (k, mut v) in base {
            while let Some(entry) = other.next_if(|(ok, _)| *ok < k) {
                out.push(entry);
            }
            if let Some((_, ov)) = other.next_if(|(ok, _)| *ok == k) {
                both(&mut v, ov);
            }
            out.push((k, v));
        }
        out.extend(other);
        self.0 = out;
    }
}

/// A table from entries in any order; of two entries with one key, the later is kept.
impl FromIterator<(String, Entry)> for Table {
    fn from_iter<I: IntoIterator<Item = (String, Entry)>>(entries: I) -> Self {
        let mut entries: Vec<(String, Entry)> = entries.into_iter().collect();
        // Stable: entries with one key stay in the order given; each later one hands its entry
        // to the first before it is dropped, so the last one wins.
        entries.sort_by(|(a, _), (b, _)| a.cmp(b));
        entries.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                std::mem::swap(&mut later.1, &mut kept.1);
            }
            same
        });
        Self(entries)
    }
}

impl IntoIterator for Table {
    type Item = (String, Entry);
    type IntoIter = std::vec::IntoIter<(String, Entry)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Table {
    type Item = (&'a String, &'a Entry);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, Entry)>,
        fn(&'a (String, Entry)) -> (&'a String, &'a Entry),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

/// One step of a path into the tree (a table key or an array index).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Seg {
    Key(String),
    Index(usize),
}

impl From<&str> for Seg {
    fn from(s: &str) -> Self {
        Seg::Key(s.to_owned())
    }
}

impl From<&String> for Seg {
    fn from(s: &String) -> Self {
        Seg::Key(s.clone())
    }
}

impl From<usize> for Seg {
    fn from(i: usize) -> Self {
        Seg::Index(i)
    }
}

/// Builds a path from mixed keys and indices: `path!["services", name, "replicas"]`.
#[macro_export]
macro_rules! path {
    ($($seg:expr),* $(,)?) => { vec![$($crate::load::Seg::from($seg)),*] };
}

impl Entry {
    /// The span to point at for this entry: its key when it has one, else its value.
    #[must_use]
    pub fn anchor(&self) -> &Span {
        self.key_span.as_ref().unwrap_or(&self.span)
    }

    /// The deepest entry along `path` and whether the whole path exists.
    #[must_use]
    pub fn lookup(&self, path: &[Seg]) -> (&Entry, bool) {
        let mut cur = self;
        for seg in path {
            let next = match (&cur.value, seg) {
                (Value::Table(t), Seg::Key(k)) => t.get(k),
                (Value::Array(a), Seg::Index(i)) => a.get(*i),
                _ => None,
            };
            match next {
                Some(n) => cur = n,
                None => return (cur, false),
            }
        }
        (cur, true)
    }

    /// Deep-merges `over` onto `self`: tables merge key by key; anything else replaces.
    pub fn merge(&mut self, over: Entry) {
        match (&mut self.value, over.value) {
            (Value::Table(base), Value::Table(top)) => base.merge(top),
            (_, value) => {
                let mut overridden = vec![self.anchor().clone()];
                overridden.append(&mut self.overridden);
                *self = Entry {
                    key_span: over.key_span,
                    span: over.span,
                    value,
                    overridden,
                };
            }
        }
    }

    /// The plain JSON value (for schema validation and deserialization into the model).
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Table(t) => J::Object(t.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
            Value::Array(a) => J::Array(a.iter().map(Entry::to_json).collect()),
            Value::String(s) => J::String(s.clone()),
            Value::Integer(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Bool(b) => J::Bool(*b),
        }
    }

    /// Visits every entry with its path, depth first in key order.
    pub fn walk<'a>(&'a self, path: &mut Vec<Seg>, f: &mut dyn FnMut(&[Seg], &'a Entry)) {
        f(path, self);
        match &self.value {
            Value::Table(t) => {
                for (k, v) in t {
                    path.push(Seg::Key(k.clone()));
                    v.walk(path, f);
                    path.pop();
                }
            }
            Value::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    path.push(Seg::Index(i));
                    v.walk(path, f);
                    path.pop();
                }
            }
            _ => {}
        }
    }
}

/// `a.b[2].c` for messages.
#[must_use]
pub fn display_path(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                let bare = !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if bare {
                    out.push_str(k);
                } else {
                    out.push_str(&serde_json::Value::String(k.clone()).to_string());
                }
            }
            Seg::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// A leaf entry holding `n`, written at `at`.
    fn leaf(n: i64, at: usize) -> Entry {
        Entry {
            key_span: Some(Span::new(FileId(0), at..at + 1)),
            span: Span::new(FileId(0), at..at + 1),
            value: Value::Integer(n),
            overridden: Vec::new(),
        }
    }

    fn table(value: Table) -> Entry {
        Entry {
            key_span: None,
            span: Span::new(FileId(0), 0..0),
            value: Value::Table(value),
            overridden: Vec::new(),
        }
    }

    /// Each key's value and the spans it overrode.
    fn flat(t: &Table) -> Vec<(String, i64, Vec<Span>)> {
        t.iter()
            .map(|(k, e)| match e.value {
                Value::Integer(n) => (k.clone(), n, e.overridden.clone()),
                _ => unreachable!("leaves only"),
            })
            .collect()
    }

    proptest! {
        /// Building and merging tables gives what a B-tree map gives: keys in order, the last
        /// of one key kept, a key of both layers the top's value over the base's.
        #[test]
        fn tables_build_and_merge_as_a_sorted_map(
            base in prop::collection::vec(("[a-e]{0,2}", any::<i64>()), 0..12),
            top in prop::collection::vec(("[a-e]{0,2}", any::<i64>()), 0..12),
        ) {
            let build = |pairs: &[(String, i64)], from: usize| {
                pairs
                    .iter()
                    .enumerate()
                    .map(|(i, (k, n))| (k.clone(), leaf(*n, from + i)))
                    .collect::<Table>()
            };
            let mut merged = table(build(&base, 0));
            merged.merge(table(build(&top, 100)));
            let mut expected: BTreeMap<String, (i64, Vec<Span>)> = BTreeMap::new();
            let mut at: BTreeMap<String, usize> = BTreeMap::new();
            for (i, (k, n)) in base.iter().enumerate() {
                expected.insert(k.clone(), (*n, Vec::new()));
                at.insert(k.clone(), i);
            }
            let top_last: BTreeMap<&String, (usize, i64)> =
                top.iter().enumerate().map(|(i, (k, n))| (k, (i, *n))).collect();
            for (k, (_, n)) in top_last {
                let overridden = at
                    .get(k)
                    .map(|&i| vec![Span::new(FileId(0), i..i + 1)])
                    .unwrap_or_default();
                expected.insert(k.clone(), (n, overridden));
            }
            let Value::Table(merged) = merged.value else { unreachable!("a table") };
            let expected: Vec<(String, i64, Vec<Span>)> =
                expected.into_iter().map(|(k, (n, o))| (k, n, o)).collect();
            prop_assert_eq!(flat(&merged), expected);
            for k in ["", "a", "zz"] {
                prop_assert_eq!(merged.get(k).is_some(), merged.iter().any(|(key, _)| key == k));
            }
        }
    }
}
