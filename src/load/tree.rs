//! The layered environment tree: TOML values that remember where they were written. Merging two
//! layers keeps, for every value, the span that set it and the spans it overrode, so a diagnostic
//! raised after layering can say "set in production.toml:42, overriding base.toml:10".

use crate::source::Span;
use std::collections::BTreeMap;
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
    Table(BTreeMap<String, Entry>),
    Array(Vec<Entry>),
    String(String),
    Integer(i64),
    Float(f64),
    Bool(bool),
}

/// One step of a path into the tree (a table key or an array index).
#[derive(Debug, Clone, PartialEq, Eq)]
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
            (Value::Table(base), Value::Table(top)) => {
                for (k, v) in top {
                    match base.get_mut(&k) {
                        Some(existing) => existing.merge(v),
                        None => {
                            base.insert(k, v);
                        }
                    }
                }
            }
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
