//! The block-style YAML of a JSON-shaped document, written directly from the value.
//!
//! deaap-gen's YAML is what the YAML serializer writes (libyaml's emitter: block style, no line
//! folding, UTF-8), with YAML-1.1-ambiguous strings single-quoted ([`super::yaml11`]). Going
//! through the serializer costs an event per node and a scalar analysis per string, and it was
//! most of the time spent writing a large environment. This module writes the same bytes for the
//! documents deaap-gen generates: block mappings and sequences, `{}` and
//! `[]` when empty, and plain, single-quoted and literal (`|`, `|-`) scalars, following the
//! emitter's rules for choosing a style, indenting and spacing.
//!
//! Anything else — a float, a string only double quotes can hold (control characters, a tab, a
//! byte-order mark, a line break next to a space), a literal that keeps its trailing line breaks
//! (`|+`), a line break other than `\n`, a key longer than 128 bytes or spanning lines — makes
//! [`write`] answer `None`, and the caller takes the serializer's path, so the output never
//! depends on which path wrote it. The unit tests hold the two paths to the same bytes on
//! generated documents.

use super::data::{Data, Key};
use serde_json::Value;

/// The document `v` as [`super::yaml11::json_to_string`] writes it, or `None` when it holds
/// something this writer leaves to the serializer.
#[must_use]
pub(super) fn write<T: Tree>(v: &T) -> Option<String> {
    write_with(|w| w.node(v, false))
}

/// [`write`] for a document the YAML serializer built: the same bytes as for the JSON value it
/// stands for, or `None` for what JSON cannot hold (a key that is no string, a tag) and what
/// [`write`] leaves to the serializer.
#[must_use]
pub(super) fn write_yaml(v: &serde_yaml::Value) -> Option<String> {
    write_with(|w| w.yaml_node(v, false))
}

/// [`write`] for a document assembled from borrowed values ([`Node`]).
#[must_use]
pub(super) fn write_node(n: &Node<'_>) -> Option<String> {
    write_with(|w| w.doc_node(n, false))
}

/// [`write`], noting where the document holds the text of each of its mapping values that is a
/// collection or a string written in [`RECORD_FROM`] bytes or more ([`Span`]), in the order of
/// their addresses: what another document holding the same value as a mapping value can copy
/// instead of writing it again ([`Node::Written`]).
#[must_use]
pub(super) fn write_recording(v: &Data) -> Option<(String, Vec<Span>)> {
    write_recording_from(v, RECORD_FROM)
}

/// [`write_recording`], noting the mapping values written in `from` bytes or more.
fn write_recording_from(v: &Data, from: usize) -> Option<(String, Vec<Span>)> {
    let mut spans = Vec::new();
    let text = write_with_spans(|w| w.node(v, false), Some((&mut spans, from)))?;
    spans.sort_unstable_by_key(|s| s.value);
    Some((text, spans))
}

/// The shortest text of a mapping value [`write_recording`] notes: shorter ones cost less to
/// write again than to look up.
const RECORD_FROM: usize = 64;

/// Where a document written by `write_recording` holds the text of one mapping value: the
/// value's address, the bytes written after its key's `:`, the indentation of its mapping, and
/// the emitter's flags after it.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    value: usize,
    start: u32,
    end: u32,
    indent: u16,
    whitespace: bool,
    indention: bool,
}

impl Span {
    /// The span of the value at `address` among `spans` (sorted by address), in `document`, the
    /// text they were noted in.
    #[must_use]
    pub fn find<'d>(
        spans: &[Self],
        document: &'d str,
        address: *const Data,
    ) -> Option<Written<'d>> {
        let address = address as usize;
        let i = spans.binary_search_by_key(&address, |s| s.value).ok()?;
        let s = spans[i];
        Some(Written {
            text: document.get(s.start as usize..s.end as usize)?,
            indent: usize::from(s.indent),
            whitespace: s.whitespace,
            indention: s.indention,
        })
    }
}

/// The text a mapping value was written as in another document (see [`Span`]), to be written
/// again at another indentation.
#[derive(Debug, Clone, Copy)]
pub struct Written<'d> {
    text: &'d str,
    /// The indentation of the mapping that held it.
    indent: usize,
    whitespace: bool,
    indention: bool,
}

/// A JSON-shaped document the writer reads: a `serde_json::Value`, or [`Data`] (an object's).
pub(super) trait Tree: Sized {
    type Entries<'a>: ExactSizeIterator<Item = (&'a str, &'a Self)>
    where
        Self: 'a;

    fn shape(&self) -> Shape<'_, Self>;
}

/// What a [`Tree`] node is.
pub(super) enum Shape<'a, T: Tree + 'a> {
    Null,
    Bool(bool),
    Number(&'a serde_json::Number),
    String(&'a str),
    Seq(&'a [T]),
    Map(T::Entries<'a>),
}

type JsonEntries<'a> =
    std::iter::Map<serde_json::map::Iter<'a>, fn((&'a String, &'a Value)) -> (&'a str, &'a Value)>;

fn json_entry<'a>((k, v): (&'a String, &'a Value)) -> (&'a str, &'a Value) {
    (k, v)
}

impl Tree for Value {
    type Entries<'a> = JsonEntries<'a>;

    fn shape(&self) -> Shape<'_, Self> {
        match self {
            Self::Null => Shape::Null,
            Self::Bool(b) => Shape::Bool(*b),
            Self::Number(n) => Shape::Number(n),
            Self::String(s) => Shape::String(s),
            Self::Array(items) => Shape::Seq(items),
            Self::Object(m) => Shape::Map(m.iter().map(json_entry as _)),
        }
    }
}

type DataEntries<'a> =
    std::iter::Map<std::slice::Iter<'a, (Key, Data)>, fn(&'a (Key, Data)) -> (&'a str, &'a Data)>;

fn data_entry((k, v): &(Key, Data)) -> (&str, &Data) {
    (k, v)
}

impl Tree for Data {
    type Entries<'a> = DataEntries<'a>;

    fn shape(&self) -> Shape<'_, Self> {
        match self {
            Self::Null => Shape::Null,
            Self::Bool(b) => Shape::Bool(*b),
            Self::Number(n) => Shape::Number(n),
            Self::String(s) => Shape::String(s),
            Self::Seq(items) => Shape::Seq(items),
            Self::Map(entries) => Shape::Map(entries.iter().map(data_entry as _)),
        }
    }
}

/// A document that is mostly values held elsewhere: written as if it were the one value
/// [`Node::to_value`] builds, without copying the values it borrows.
#[derive(Debug)]
pub enum Node<'a> {
    /// A value written as it is.
    Value(&'a Data),
    /// A value whose text as a mapping value is known ([`Written`]): as a mapping value it is
    /// that text, moved to this document's indentation; anywhere else it is written as it is.
    Written(&'a Data, Written<'a>),
    /// A mapping, its entries in this order.
    Map(Vec<(&'a str, Node<'a>)>),
    /// A sequence.
    Seq(Vec<Node<'a>>),
}

impl<'a> Node<'a> {
    /// The document as one value.
    #[must_use]
    pub fn to_value(&self) -> Value {
        match self {
            Self::Value(v) | Self::Written(v, _) => v.to_json(),
            Self::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.to_value()))
                    .collect(),
            ),
            Self::Seq(items) => Value::Array(items.iter().map(Node::to_value).collect()),
        }
    }

    /// The entries of a mapping, to change: a borrowed mapping becomes a [`Node::Map`] of its
    /// entries, in their order. `None` when this is no mapping.
    pub fn map_mut(&mut self) -> Option<&mut Vec<(&'a str, Node<'a>)>> {
        if let Self::Value(Data::Map(m)) | Self::Written(Data::Map(m), _) = *self {
            *self = Self::Map(
                m.iter()
                    .map(|(k, v)| (k.as_ref(), Self::Value(v)))
                    .collect(),
            );
        }
        match self {
            Self::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The items of a sequence, to change, as [`Node::map_mut`] does for a mapping.
    pub fn seq_mut(&mut self) -> Option<&mut Vec<Node<'a>>> {
        if let Self::Value(Data::Seq(items)) | Self::Written(Data::Seq(items), _) = *self {
            *self = Self::Seq(items.iter().map(Self::Value).collect());
        }
        match self {
            Self::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The string this node is, if it is one.
    #[must_use]
    pub fn as_str(&self) -> Option<&'a str> {
        match self {
            Self::Value(Data::String(s)) | Self::Written(Data::String(s), _) => Some(s),
            _ => None,
        }
    }
}

/// Runs `write` on a new writer and ends the document.
fn write_with(write: impl FnOnce(&mut Writer) -> Option<()>) -> Option<String> {
    write_with_spans(write, None)
}

/// [`write_with`], noting spans in `spans` when given ([`write_recording`]).
fn write_with_spans(
    write: impl FnOnce(&mut Writer) -> Option<()>,
    spans: Option<(&mut Vec<Span>, usize)>,
) -> Option<String> {
    let mut w = Writer {
        out: String::with_capacity(256),
        column: 0,
        indent: -1,
        whitespace: true,
        indention: true,
        spans,
    };
    write(&mut w)?;
    // The document's end: a line break unless the output already ends a line at column 0.
    w.indent = -1;
    w.write_indent();
    Some(w.out)
}

/// The emitter's position: the text so far, the column (in characters), the current indentation
/// (-1 before the first collection), and whether the last thing written was whitespace and
/// whether the line holds only indentation so far.
struct Writer<'s> {
    out: String,
    column: usize,
    indent: isize,
    whitespace: bool,
    indention: bool,
    /// Where to note the spans of mapping values, and from what length ([`write_recording`]).
    spans: Option<(&'s mut Vec<Span>, usize)>,
}

/// The indentation step.
const STEP: isize = 2;

/// The longest key written as `key: value` rather than as a complex key (`? key`).
const SIMPLE_KEY_MAX: usize = 128;

impl Writer<'_> {
    fn push(&mut self, s: &str, chars: usize) {
        self.out.push_str(s);
        self.column += chars;
    }

    fn newline(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    /// Starts a new line at the current indentation, unless the line holds only indentation up
    /// to it already.
    fn write_indent(&mut self) {
        let indent = usize::try_from(self.indent).unwrap_or(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.newline();
        }
        if self.column < indent {
            self.spaces(indent - self.column);
            self.column = indent;
        }
        self.whitespace = true;
        self.indention = true;
    }

    /// An indicator (`-`, `:`, a quote, a bracket), after a space when one is needed.
    fn indicator(
        &mut self,
        s: &str,
        need_whitespace: bool,
        is_whitespace: bool,
        is_indention: bool,
    ) {
        if need_whitespace && !self.whitespace {
            self.push(" ", 1);
        }
        self.push(s, s.len());
        self.whitespace = is_whitespace;
        self.indention &= is_indention;
    }

    /// Indents one step for a nested node, returning the indentation to restore. A node's first
    /// indentation is 0 for a collection and one step for a scalar; a sequence that is a mapping's
    /// value on the key's line keeps the mapping's indentation.
    fn deeper(&mut self, scalar: bool, indentless: bool) -> isize {
        let previous = self.indent;
        if self.indent < 0 {
            self.indent = if scalar { STEP } else { 0 };
        } else if !indentless {
            self.indent += STEP;
        }
        previous
    }

    /// A node; `mapping` when it is a mapping's value.
    fn node<T: Tree>(&mut self, v: &T, mapping: bool) -> Option<()> {
        match v.shape() {
            Shape::Null => self.plain("null"),
            Shape::Bool(b) => self.plain(if b { "true" } else { "false" }),
            // Floats are left to the serializer, which formats them its own way.
            Shape::Number(n) if n.is_f64() => None,
            Shape::Number(n) => self.plain(&n.to_string()),
            Shape::String(s) => self.string(s, false),
            Shape::Seq(items) => self.sequence(items, mapping, |w, item| w.node(item, false)),
            Shape::Map(entries) => self.mapping(entries, Self::mapping_value),
        }
    }

    /// A node of a document the YAML serializer built, as [`Writer::node`] writes the JSON
    /// value it stands for.
    fn yaml_node(&mut self, v: &serde_yaml::Value, mapping: bool) -> Option<()> {
        use serde_yaml::Value as Yaml;
        match v {
            Yaml::Null => self.plain("null"),
            Yaml::Bool(b) => self.plain(if *b { "true" } else { "false" }),
            Yaml::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => self.plain(&u.to_string()),
                (None, Some(i)) => self.plain(&i.to_string()),
                // Floats are left to the serializer.
                (None, None) => None,
            },
            Yaml::String(s) => self.string(s, false),
            Yaml::Sequence(items) => {
                self.sequence(items, mapping, |w, item| w.yaml_node(item, false))
            }
            Yaml::Mapping(m) => {
                if m.keys().any(|k| k.as_str().is_none()) {
                    return None;
                }
                self.mapping(
                    m.iter().map(|(k, v)| (k.as_str().unwrap_or_default(), v)),
                    |w, value| w.yaml_node(value, true),
                )
            }
            Yaml::Tagged(_) => None,
        }
    }

    /// A mapping's value, its span noted when spans are noted ([`write_recording`]).
    fn mapping_value<T: Tree>(&mut self, v: &T) -> Option<()> {
        let start = self.out.len();
        self.node(v, true)?;
        let end = self.out.len();
        if let Some((spans, from)) = self.spans.as_mut()
            && end - start >= *from
            && matches!(v.shape(), Shape::Map(_) | Shape::Seq(_) | Shape::String(_))
            && let (Ok(start), Ok(end), Ok(indent)) = (
                u32::try_from(start),
                u32::try_from(end),
                u16::try_from(self.indent),
            )
        {
            spans.push(Span {
                value: std::ptr::from_ref(v) as usize,
                start,
                end,
                indent,
                whitespace: self.whitespace,
                indention: self.indention,
            });
        }
        Some(())
    }

    /// A mapping value's text from another document ([`Written`]), each line moved from the
    /// indentation it was written at to this mapping's: the bytes [`Writer::node`] would write.
    /// Empty lines (in literal blocks) carry no indentation either way.
    fn rewrite(&mut self, w: &Written<'_>) -> Option<()> {
        let to = usize::try_from(self.indent).ok()?;
        let mut lines = w.text.split('\n');
        let first = lines.next()?;
        self.out.push_str(first);
        // The column after the last line: counted once, on that line.
        let mut last = (self.column, first);
        for line in lines {
            self.out.push('\n');
            last = (0, "");
            if line.is_empty() {
                continue;
            }
            // Every line of a mapping value is indented at least as far as its mapping.
            let rest = line
                .get(w.indent..)
                .filter(|_| is_spaces(&line.as_bytes()[..w.indent]))?;
            self.spaces(to);
            self.out.push_str(rest);
            last = (to, rest);
        }
        self.column = last.0 + last.1.chars().count();
        self.whitespace = w.whitespace;
        self.indention = w.indention;
        Some(())
    }

    /// `n` spaces.
    fn spaces(&mut self, n: usize) {
        let mut left = n;
        while left > 0 {
            let k = left.min(SPACES.len());
            self.out.push_str(&SPACES[..k]);
            left -= k;
        }
    }

    /// A [`Node`], as [`Writer::node`] writes the value it stands for.
    fn doc_node(&mut self, n: &Node<'_>, mapping: bool) -> Option<()> {
        match n {
            Node::Written(_, w) if mapping => self.rewrite(w),
            Node::Value(v) | Node::Written(v, _) => self.node(*v, mapping),
            Node::Seq(items) => self.sequence(items, mapping, |w, item| w.doc_node(item, false)),
            Node::Map(entries) => self.mapping(entries.iter().map(|(k, v)| (*k, v)), |w, value| {
                w.doc_node(value, true)
            }),
        }
    }

    /// A sequence of `items`, each written by `item`; `[]` when empty.
    fn sequence<T>(
        &mut self,
        items: &[T],
        mapping: bool,
        mut item: impl FnMut(&mut Self, &T) -> Option<()>,
    ) -> Option<()> {
        if items.is_empty() {
            self.indicator("[", true, true, false);
            self.indicator("]", false, false, false);
            return Some(());
        }
        let previous = self.deeper(false, mapping && !self.indention);
        for i in items {
            self.write_indent();
            self.indicator("-", true, false, true);
            item(self, i)?;
        }
        self.indent = previous;
        Some(())
    }

    /// A mapping of `entries`, each value written by `value`; `{}` when empty.
    fn mapping<'k, T>(
        &mut self,
        entries: impl ExactSizeIterator<Item = (&'k str, T)>,
        mut value: impl FnMut(&mut Self, T) -> Option<()>,
    ) -> Option<()> {
        if entries.len() == 0 {
            self.indicator("{", true, true, false);
            self.indicator("}", false, false, false);
            return Some(());
        }
        let previous = self.deeper(false, false);
        for (key, v) in entries {
            self.write_indent();
            self.string(key, true)?;
            self.indicator(":", false, false, false);
            value(self, v)?;
        }
        self.indent = previous;
        Some(())
    }

    /// A string, quoted as the serializer quotes it: single-quoted when a YAML 1.1 reader would
    /// take it for another type ([`super::yaml11::is_implicit`]) or a YAML 1.2 reader would
    /// ([`typed_in_yaml12`]), as a literal block when it spans lines.
    fn string(&mut self, s: &str, key: bool) -> Option<()> {
        let a = Analysis::of(s);
        // The serializer's path refuses the mark that `yaml11` quotes with.
        if a.mark {
            return None;
        }
        if super::yaml11::needs_mark(s) {
            // Marked with a 5-byte prefix that only single quotes can start with.
            if key && s.len() + 5 > SIMPLE_KEY_MAX {
                return None;
            }
            return self.scalar(s, &a, Request::Single, key);
        }
        let request = if a.line_breaks {
            Request::Literal
        } else if typed_in_yaml12(s) {
            Request::Single
        } else {
            Request::Plain
        };
        if key && s.len() > SIMPLE_KEY_MAX {
            return None;
        }
        self.scalar(s, &a, request, key)
    }

    /// A scalar the serializer asks for in plain style (null, a boolean, an integer).
    fn plain(&mut self, s: &str) -> Option<()> {
        self.scalar(s, &Analysis::of(s), Request::Plain, false)
    }

    /// A scalar in the style the emitter settles on for `request`; `None` for a style this writer
    /// leaves to the serializer.
    fn scalar(&mut self, s: &str, a: &Analysis, request: Request, key: bool) -> Option<()> {
        if a.special || a.other_breaks || (key && a.line_breaks) {
            return None;
        }
        let style = match request {
            Request::Plain if !a.block_plain || (key && s.is_empty()) => Request::Single,
            other => other,
        };
        match style {
            Request::Plain => {
                if !self.whitespace && !s.is_empty() {
                    self.push(" ", 1);
                }
                self.push(s, a.chars);
                self.whitespace = false;
                self.indention = false;
            }
            Request::Single => {
                if !a.single_quoted || a.line_breaks {
                    return None;
                }
                self.indicator("'", true, false, false);
                let quotes = s.matches('\'').count();
                if quotes == 0 {
                    self.push(s, a.chars);
                } else {
                    self.push(&s.replace('\'', "''"), a.chars + quotes);
                }
                self.indicator("'", false, false, false);
                self.whitespace = false;
                self.indention = false;
            }
            Request::Literal => {
                if !a.block || key {
                    return None;
                }
                self.literal(s)?;
            }
        }
        Some(())
    }

    /// A literal block scalar (`|`, `|-`), its lines one step deeper than the current
    /// indentation.
    fn literal(&mut self, s: &str) -> Option<()> {
        let bytes = s.as_bytes();
        // `|+` (more than one trailing line break, or nothing but one) ends the document
        // differently; left to the serializer.
        let keep = bytes.ends_with(b"\n\n") || s == "\n";
        if keep {
            return None;
        }
        let previous = self.deeper(true, false);
        self.indicator("|", true, false, false);
        if matches!(bytes.first(), Some(b' ' | b'\n')) {
            self.indicator("2", false, false, false);
        }
        if !bytes.ends_with(b"\n") {
            self.indicator("-", false, false, false);
        }
        self.newline();
        self.indention = true;
        self.whitespace = true;
        let mut line_start = true;
        for line in s.split_inclusive('\n') {
            let (text, ends) = match line.strip_suffix('\n') {
                Some(text) => (text, true),
                None => (line, false),
            };
            if !text.is_empty() {
                if line_start {
                    self.write_indent();
                }
                self.push(text, text.chars().count());
                self.indention = false;
            }
            if ends {
                self.newline();
                self.indention = true;
                line_start = true;
            } else {
                line_start = false;
            }
        }
        self.indent = previous;
        Some(())
    }
}

/// The style the serializer asks the emitter for.
#[derive(Clone, Copy)]
enum Request {
    /// Any style: plain when the emitter allows it, else single-quoted.
    Plain,
    Single,
    Literal,
}

/// What the emitter's scalar analysis finds in a string, for block context.
#[derive(Default, Debug, PartialEq, Eq)]
struct Analysis {
    chars: usize,
    line_breaks: bool,
    /// A line break other than `\n`: `\r`, U+0085, U+2028, U+2029.
    other_breaks: bool,
    /// A character that only double quotes can hold.
    special: bool,
    /// U+FDD0, the mark [`super::yaml11`] quotes with.
    mark: bool,
    block_plain: bool,
    single_quoted: bool,
    block: bool,
}

impl Analysis {
    fn of(s: &str) -> Self {
        if s.is_empty() {
            return Self {
                block_plain: true,
                single_quoted: true,
                ..Self::default()
            };
        }
        // Most strings are names, paths and versions: characters that are no space, line break or
        // special character, and no indicator but as a lone `-` or at the start of `---` or `...`.
        if all_in(s.as_bytes(), &NAME_BYTES) {
            return Self {
                chars: s.len(),
                block_plain: !(s == "-" || starts_document_marker(s)),
                single_quoted: true,
                block: true,
                ..Self::default()
            };
        }
        Self::by_character(s)
    }

    /// The analysis of a non-empty string that may be more than a name: byte by byte when it is
    /// ASCII, else character by character.
    fn by_character(s: &str) -> Self {
        let indicators = starts_document_marker(s);
        if s.is_ascii() {
            Self::ascii(s.as_bytes(), indicators)
        } else {
            Self::scan(s, indicators)
        }
    }

    /// [`Analysis::scan`] of a non-empty ASCII string, byte by byte: the same flags, in one pass
    /// without decoding (dashboards and rule expressions are long ASCII strings).
    fn ascii(b: &[u8], mut indicators: bool) -> Self {
        let is_break = |c: u8| c == b'\n' || c == b'\r';
        let blank_or_break = |c: u8| c == b' ' || c == b'\t' || is_break(c);
        let followed_by_whitespace = |i: usize| b.get(i + 1).is_none_or(|&c| blank_or_break(c));
        let (first, last) = (b[0], b[b.len() - 1]);
        match first {
            b'#' | b',' | b'[' | b']' | b'{' | b'}' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\''
            | b'"' | b'%' | b'@' | b'`' => indicators = true,
            b'?' | b':' | b'-' if followed_by_whitespace(0) => indicators = true,
            _ => {}
        }
        let (mut special, mut line_breaks, mut other_breaks) = (false, false, false);
        let (mut break_space, mut space_break) = (false, false);
        // An indexed loop, as in [`all_in`].
        let mut next = 0;
        while next < b.len() {
            let (i, c) = (next, b[next]);
            next += 1;
            // Printable characters other than space, `:` and `#` change none of the flags.
            if QUIET_BYTES[usize::from(c)] {
                continue;
            }
            special |= !(c == b'\n' || (b' '..=b'~').contains(&c));
            line_breaks |= is_break(c);
            other_breaks |= c == b'\r';
            if i > 0 {
                let previous = b[i - 1];
                match c {
                    b':' if followed_by_whitespace(i) => indicators = true,
                    b'#' if blank_or_break(previous) => indicators = true,
                    _ => {}
                }
                break_space |= c == b' ' && is_break(previous);
                space_break |= is_break(c) && previous == b' ';
            }
        }
        let edges = first == b' ' || is_break(first) || last == b' ' || is_break(last);
        Self {
            chars: b.len(),
            line_breaks,
            other_breaks,
            special,
            mark: false,
            block_plain: !(edges
                || break_space
                || space_break
                || special
                || line_breaks
                || indicators),
            single_quoted: !(break_space || space_break || special),
            block: !(last == b' ' || space_break || special),
        }
    }

    /// The analysis of a non-empty string, character by character, as the emitter does it.
    fn scan(s: &str, mut indicators: bool) -> Self {
        let mut a = Self::default();
        let (mut leading_space, mut leading_break) = (false, false);
        let (mut trailing_space, mut trailing_break) = (false, false);
        let (mut break_space, mut space_break) = (false, false);
        let (mut previous_space, mut previous_break) = (false, false);
        let mut preceded_by_whitespace = true;
        let mut chars = s.chars().peekable();
        let mut first = true;
        while let Some(c) = chars.next() {
            let next = chars.peek().copied();
            let followed_by_whitespace = next.is_none_or(blank_or_break);
            let last = next.is_none();
            if first {
                match c {
                    '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\''
                    | '"' | '%' | '@' | '`' => indicators = true,
                    '?' | ':' | '-' if followed_by_whitespace => indicators = true,
                    _ => {}
                }
            } else {
                match c {
                    ':' if followed_by_whitespace => indicators = true,
                    '#' if preceded_by_whitespace => indicators = true,
                    _ => {}
                }
            }
            if !printable(c) {
                a.special = true;
            }
            a.mark |= c == '\u{FDD0}';
            let is_break = line_break(c);
            if is_break {
                a.line_breaks = true;
                if c != '\n' {
                    a.other_breaks = true;
                }
            }
            if c == ' ' {
                leading_space |= first;
                trailing_space |= last;
                break_space |= previous_break;
                previous_space = true;
                previous_break = false;
            } else if is_break {
                leading_break |= first;
                trailing_break |= last;
                space_break |= previous_space;
                previous_space = false;
                previous_break = true;
            } else {
                previous_space = false;
                previous_break = false;
            }
            preceded_by_whitespace = blank_or_break(c);
            a.chars += 1;
            first = false;
        }
        let edges = leading_space || leading_break || trailing_space || trailing_break;
        a.block_plain =
            !(edges || break_space || space_break || a.special || a.line_breaks || indicators);
        a.single_quoted = !(break_space || space_break || a.special);
        a.block = !(trailing_space || space_break || a.special);
        a
    }
}

/// Printable ASCII but space, `:` and `#`: the bytes [`Analysis::ascii`] passes over. A table,
/// because the same test written inline costs the analysis a fifth more instructions.
static QUIET_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_graphic() && c != b':' && c != b'#';
        b += 1;
    }
    table
};

/// A run of spaces, for indentation.
const SPACES: &str = "                                                                ";

/// Whether `bytes` are spaces alone: compared with [`SPACES`] a run at a time.
fn is_spaces(bytes: &[u8]) -> bool {
    bytes
        .chunks(SPACES.len())
        .all(|c| c == &SPACES.as_bytes()[..c.len()])
}

/// Whether every byte of `bytes` is in `table`. An indexed loop: the tool's own code is built with
/// the basic optimisations only, which leave an iterator's `all` a call per byte, and every
/// string the writer writes is scanned so.
fn all_in(bytes: &[u8], table: &[bool; 256]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        if !table[usize::from(bytes[i])] {
            return false;
        }
        i += 1;
    }
    true
}

/// The bytes of the names, paths and versions that [`Analysis::of`] takes without a closer look:
/// ASCII letters and digits, `-`, `_`, `.`, `/`, `+`, `=` and `~`. A table, like [`QUIET_BYTES`].
static NAME_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(c, b'-' | b'_' | b'.' | b'/' | b'+' | b'=' | b'~');
        b += 1;
    }
    table
};

fn line_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn blank_or_break(c: char) -> bool {
    c == ' ' || c == '\t' || line_break(c)
}

/// The characters the emitter writes as they are (in UTF-8 output): `\n`, printable ASCII, and
/// everything from U+00A0 on, less the surrogates, U+FEFF, U+FFFE and U+FFFF.
fn printable(c: char) -> bool {
    matches!(c, '\n' | ' '..='~' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
        && c != '\u{FEFF}'
}

/// Whether a plain `s` would read back as something other than a string under the YAML 1.2 core
/// schema as the serializer resolves it: empty, null, a boolean, an integer (decimal, `0x`, `0o`,
/// `0b`, signed), a float, or digits with a leading zero. The serializer single-quotes these.
fn typed_in_yaml12(s: &str) -> bool {
    let Some(&first) = s.as_bytes().first() else {
        return true;
    };
    // Every other form starts with a digit, a sign, a dot, `~`, or a null or boolean word.
    if !(first.is_ascii_digit() || b"+-.~nNtTfF".contains(&first)) {
        return false;
    }
    let word = matches!(
        s,
        "null" | "Null" | "NULL" | "~" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE"
    );
    // No number starts with a letter (what Rust parses as a float from one, `inf` or `NaN`, is
    // not finite): a word is typed only as null or a boolean.
    if word || first.is_ascii_alphabetic() {
        return word;
    }
    leading_zero_digits(s) || unsigned_int(s) || negative_int(s) || float(s)
}

/// Whether `s` starts with a document marker, `---` or `...`: a pattern on the bytes, as the
/// writer asks this of every string (`starts_with` compiled to a library call here).
fn starts_document_marker(s: &str) -> bool {
    matches!(
        s.as_bytes(),
        [b'-', b'-', b'-', ..] | [b'.', b'.', b'.', ..]
    )
}

/// Digits after a leading zero (`007`), optionally signed: a string in YAML 1.2.
fn leading_zero_digits(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    s.len() > 1 && s.starts_with('0') && s[1..].bytes().all(|b| b.is_ascii_digit())
}

/// A radix prefix and digits that parse in that radix, with no sign after the prefix.
fn radix(rest: Option<&str>, base: u32) -> Option<bool> {
    let rest = rest?;
    if rest.starts_with(['+', '-']) {
        return Some(false);
    }
    u128::from_str_radix(rest, base).is_ok().then_some(true)
}

fn unsigned_int(s: &str) -> bool {
    let unsigned = s.strip_prefix('+').unwrap_or(s);
    for (prefix, base) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(answer) = radix(unsigned.strip_prefix(prefix), base) {
            return answer;
        }
    }
    !unsigned.starts_with(['+', '-']) && !leading_zero_digits(s) && unsigned.parse::<u128>().is_ok()
}

fn negative_int(s: &str) -> bool {
    for (prefix, base) in [("-0x", 16), ("-0o", 8), ("-0b", 2)] {
        if let Some(rest) = s.strip_prefix(prefix)
            && i128::from_str_radix(&format!("-{rest}"), base).is_ok()
        {
            return true;
        }
    }
    !leading_zero_digits(s) && s.parse::<i128>().is_ok()
}

fn float(s: &str) -> bool {
    let unsigned = match s.strip_prefix('+') {
        Some(rest) if rest.starts_with(['+', '-']) => return false,
        Some(rest) => rest,
        None => s,
    };
    matches!(unsigned, ".inf" | ".Inf" | ".INF")
        || matches!(s, "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN" | ".NAN")
        || unsigned.parse::<f64>().is_ok_and(f64::is_finite)
}

#[cfg(test)]
mod tests {
    use super::super::data::to_data;
    use super::*;
    use proptest::prelude::*;

    /// The serializer's path, the reference this writer must match.
    fn reference(v: &Value) -> Result<String, String> {
        super::super::yaml11::by_serializer(v)
    }

    /// When the fast path writes `v`, it writes the serializer's bytes.
    fn same(v: &Value) {
        if let Some(fast) = write(v) {
            assert_eq!(Ok(fast), reference(v), "{v:#}");
        }
    }

    #[test]
    fn document_markers_are_told_apart_as_by_starts_with() {
        for s in [
            "", "-", "--", "---", "----", "--- x", "-.-", "..", "...", "....x", ".-.", "é---",
            " ---", "---é",
        ] {
            assert_eq!(
                starts_document_marker(s),
                s.starts_with("---") || s.starts_with("..."),
                "{s:?}"
            );
        }
    }

    #[test]
    fn the_documents_deaap_gen_writes_take_the_fast_path() {
        for v in [
            serde_json::json!({"a": 1, "b": [1, "x", {"c": null}], "d": {}, "e": [], "f": true}),
            serde_json::json!({"script": "set -e\nrun\n", "note": "one\n  two", "x": "- a"}),
            serde_json::json!([[1, [2]], {"k": [{"a": "yes"}]}, "", "on", "0777", "a: b", "#c"]),
            serde_json::json!("plain"),
            serde_json::json!({"k": "üñï code ✓", "it's": "'quoted'", "-1": -5}),
        ] {
            let fast = write(&v).expect("the fast path writes it");
            assert_eq!(Ok(fast), reference(&v), "{v:#}");
        }
    }

    #[test]
    fn what_only_the_serializer_writes_is_left_to_it() {
        for v in [
            serde_json::json!(1.5),
            serde_json::json!({"tab": "a\tb"}),
            serde_json::json!({"keep": "a\n\n"}),
            serde_json::json!({"cr": "a\rb"}),
            serde_json::json!({"space": "a \nb"}),
            serde_json::json!({"bom": "\u{FEFF}"}),
            serde_json::json!({"mark": "@\u{FDD0}x"}),
            serde_json::json!({"a\nb": 1}),
            serde_json::json!({"k".repeat(129): 1}),
        ] {
            assert_eq!(write(&v), None, "{v:#}");
        }
    }

    /// Strings built from the characters the emitter treats specially; those only the serializer
    /// writes (control characters, tabs, other line breaks) are rarer, so that most documents
    /// take the fast path.
    fn text() -> impl Strategy<Value = String> {
        let common = prop::sample::select(vec![
            "a",
            "z",
            "0",
            "1",
            "7",
            "x",
            "o",
            "e",
            "E",
            "_",
            " ",
            "  ",
            "\n",
            ":",
            "-",
            "--",
            "---",
            "...",
            ".",
            "?",
            "#",
            ",",
            "[",
            "]",
            "{",
            "}",
            "&",
            "*",
            "!",
            "|",
            ">",
            "'",
            "\"",
            "%",
            "@",
            "`",
            "~",
            "+",
            "yes",
            "no",
            "on",
            "null",
            "true",
            "False",
            "0x1f",
            "0o7",
            "0b1",
            "1e3",
            ".inf",
            "-.NaN",
            "12:30",
            "2024-01-01",
            "é",
            "✓",
            "\u{A0}",
            "😀",
        ]);
        let rare = prop::sample::select(vec![
            "\t", "\r", "\u{85}", "\u{2028}", "\u{FEFF}", "\u{FFFE}", "\u{7F}", "\u{1}",
        ]);
        let piece = prop_oneof![30 => common, 1 => rare];
        prop::collection::vec(piece, 0..6).prop_map(|p| p.concat())
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            3 => Just(Value::Null),
            3 => any::<bool>().prop_map(Value::Bool),
            3 => any::<i64>().prop_map(Value::from),
            3 => any::<u64>().prop_map(Value::from),
            1 => (-1e6f64..1e6).prop_map(Value::from),
            20 => text().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::vec((text(), inner), 0..5)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
    }

    /// `{a: {b: v}}`.
    fn nest_ab(v: &Value) -> Value {
        serde_json::json!({ "a": { "b": v.clone() } })
    }

    #[test]
    fn most_generated_documents_take_the_fast_path() {
        // Otherwise the comparison below would hold for want of anything to compare.
        use proptest::strategy::ValueTree;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let strategy = value();
        let written = (0..1000)
            .filter(|_| {
                let v = strategy.new_tree(&mut runner).expect("a value").current();
                write(&v).is_some()
            })
            .count();
        assert!(written > 500, "{written} of 1000");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// A document of nodes, whether borrowed whole, opened at every level or with keys
        /// removed, writes the bytes of the value it stands for.
        #[test]
        fn a_node_writes_what_its_value_writes(v in value(), drop in 0usize..4) {
            fn open(n: &mut Node<'_>, drop: usize) {
                if let Some(entries) = n.map_mut() {
                    if drop < entries.len() {
                        entries.swap_remove(drop);
                    }
                    for (_, v) in entries {
                        open(v, drop);
                    }
                } else if let Some(items) = n.seq_mut() {
                    for item in items {
                        open(item, drop);
                    }
                }
            }
            let d = to_data(&v).expect("serializes");
            prop_assert_eq!(write(&d), write(&v));
            prop_assert_eq!(write_node(&Node::Value(&d)), write(&v));
            // Opened at every level and nothing removed, it is the value itself.
            let mut all = Node::Value(&d);
            open(&mut all, usize::MAX);
            prop_assert_eq!(all.to_value(), v.clone());
            prop_assert_eq!(write_node(&all), write(&v));
            let mut n = Node::Value(&d);
            open(&mut n, drop);
            let whole = n.to_value();
            prop_assert_eq!(write_node(&n), write(&whole));
            prop_assert_eq!(
                super::super::yaml11::node_to_string(&n),
                super::super::yaml11::json_to_string(&whole)
            );
        }

        /// A value's mapping values copied from another document, where the value sits at
        /// another depth, write the bytes the writer writes for them: strings and collections,
        /// moved deeper and moved shallower, with keys removed or not.
        #[test]
        fn copied_mapping_values_write_what_their_values_write(
            v in value(),
            depth in 0usize..4,
            drop in 0usize..4,
            picks in any::<u64>(),
        ) {
            /// `v` under `depth` keys.
            fn nest(v: &Value, depth: usize) -> Value {
                (0..depth).fold(v.clone(), |v, i| serde_json::json!({ format!("k{i}"): v }))
            }
            fn inner(v: &Data, depth: usize) -> &Data {
                (0..depth).rev().fold(v, |v, i| &v[format!("k{i}").as_str()])
            }
            /// Each mapping value noted in `spans` copied or opened as the next bit of `picks`
            /// says (the rest opened), `drop` removed from every mapping opened.
            fn copy<'a>(
                n: &mut Node<'a>,
                drop: usize,
                picks: &mut u64,
                spans: &[Span],
                text: &'a str,
            ) {
                if let Some(entries) = n.map_mut() {
                    if drop < entries.len() {
                        entries.swap_remove(drop);
                    }
                    for (_, v) in entries.iter_mut() {
                        let pick = *picks & 1 == 1;
                        *picks = picks.rotate_right(1);
                        if let Node::Value(value) = *v
                            && let Some(w) = Span::find(spans, text, value)
                            && pick
                        {
                            *v = Node::Written(value, w);
                        } else {
                            copy(v, drop, picks, spans, text);
                        }
                    }
                } else if let Some(items) = n.seq_mut() {
                    for item in items {
                        copy(item, drop, picks, spans, text);
                    }
                }
            }
            let deep = to_data(&nest(&v, depth)).expect("serializes");
            let Some((text, spans)) = write_recording_from(&deep, 0) else {
                prop_assert_eq!(write(&deep), None);
                return Ok(());
            };
            prop_assert_eq!(Some(text.clone()), write(&deep));
            // The value at the top, its parts copied from the deeper document.
            let mut n = Node::Value(inner(&deep, depth));
            copy(&mut n, drop, &mut picks.clone(), &spans, &text);
            prop_assert_eq!(write_node(&n), write(&n.to_value()));
            // The value two levels deeper than it was written: copied whole, and in parts.
            let one = to_data(&nest(&v, 1)).expect("serializes");
            let (top, top_spans) = write_recording_from(&one, 0).expect("its nesting was written");
            let inside = inner(&one, 1);
            let whole = match Span::find(&top_spans, &top, inside) {
                Some(w) => Node::Written(inside, w),
                None => Node::Value(inside),
            };
            let wrapped = Node::Map(vec![("a", Node::Map(vec![("b", whole)]))]);
            prop_assert_eq!(write_node(&wrapped), write(&nest_ab(&v)));
            let mut parts = Node::Value(inside);
            copy(&mut parts, usize::MAX, &mut picks.clone(), &top_spans, &top);
            let wrapped = Node::Map(vec![("a", Node::Map(vec![("b", parts)]))]);
            prop_assert_eq!(write_node(&wrapped), write(&nest_ab(&v)));
        }

        /// The document the YAML serializer builds of a value writes what the value writes.
        #[test]
        fn a_serialized_document_writes_what_its_value_writes(v in value()) {
            let yaml = serde_yaml::to_value(&v).expect("serializes");
            prop_assert_eq!(write_yaml(&yaml), write(&v));
        }

        #[test]
        fn it_writes_what_the_serializer_writes(v in value()) {
            same(&v);
        }

        #[test]
        fn names_and_versions_are_analysed_as_every_other_string(s in "[-_./+=~a-z0-9]{1,5}") {
            let (fast, slow) = (Analysis::of(&s), Analysis::by_character(&s));
            prop_assert_eq!(
                (fast.chars, fast.block_plain, fast.single_quoted, fast.block),
                (slow.chars, slow.block_plain, slow.single_quoted, slow.block),
                "{:?}", s
            );
            prop_assert!(!(slow.line_breaks || slow.special || slow.mark));
        }

        #[test]
        fn ascii_is_analysed_as_the_emitter_analyses_characters(
            s in "[ -~\t\n\r\u{0}\u{7f}]{1,8}|[-:#?'a ]{1,4}(\n|\r| |\t)?[#: a]{0,3}\
                  |[a:# ]{0,3}(\n|\r|\t)?[ :#a]{1,3}(\n|\r)?"
        ) {
            let indicators = s.starts_with("---") || s.starts_with("...");
            prop_assert_eq!(Analysis::ascii(s.as_bytes(), indicators), Analysis::scan(&s, indicators));
        }

        #[test]
        fn strings_are_quoted_as_the_serializer_quotes_them(s in text()) {
            same(&Value::String(s.clone()));
            same(&serde_json::json!({ s.clone(): [s.clone()], "k": { "v": s } }));
        }
    }
}
