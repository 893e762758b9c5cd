//! A large environment file parsed in pieces, on every core.
//!
//! A file of a thousand services is one `[services.<name>]`, `[metrics.<name>]` and
//! `[alerts.<name>]` table after another, and parsing it was the one step of loading that ran on a
//! single core. It is cut at lines that open a table header in their first column, each piece is
//! parsed and converted on its own (its spans moved to where it sits in the file), and the
//! pieces' tables are joined. The result is the tree a parse of the whole file gives, spans
//! included; whenever that cannot be shown, [`parse`] returns `None` and the file is parsed whole,
//! so every diagnostic, and every case TOML's rules decide, comes from one parse as before:
//!
//! - a piece that does not parse: a cut inside a multi-line string, array or inline table leaves
//!   the piece before it unterminated, and any other syntax error is reported by the whole parse;
//! - a table that two pieces both define: a header of one piece equal to, or a prefix of, a
//!   header of another (`[a]` and `[a.b]`), or a key set before the first header that another
//!   piece's header starts with. Any other key two pieces share is a table neither defines
//!   itself, only named on the way to their headers (`services` in `[services.a]` and
//!   `[services.b]`), which TOML lets any number of headers share.
//!
//! Lines that only look like headers (inside a multi-line string) are counted as headers too:
//! they can only make the check refuse more, never less.

use super::tree::{Table, Value};
use super::{At, convert_table};
use crate::source::FileId;
use std::ops::Range;
use toml::de::{DeTable, DeValue};

/// From how many bytes a file is parsed in pieces: the shipped environment files are a few
/// kilobytes, a file of 250 services about 250 KB.
pub(super) const FROM: usize = 256 * 1024;

/// Pieces per core: enough that the cores finish together although pieces differ in what they
/// hold.
const PER_CORE: usize = 4;

/// A key path a header names, and the piece it is in.
type Header = (Vec<String>, usize);

/// The file's tree and the spans to mask, as a whole parse would give them; `None` when the
/// pieces cannot be shown to give it (see the module's documentation).
pub(super) fn parse(file: FileId, text: &str) -> Option<(Value, Vec<Range<usize>>)> {
    let cores = crate::parallel::cores();
    if cores < 2 {
        return None;
    }
    parse_in(file, text, cores * PER_CORE)
}

/// [`parse`] with at most about `n` pieces after the first.
fn parse_in(file: FileId, text: &str, n: usize) -> Option<(Value, Vec<Range<usize>>)> {
    let cuts = cuts(text, n)?;
    let pieces: Vec<Range<usize>> = cuts.windows(2).map(|w| w[0]..w[1]).collect();
    let parsed = crate::parallel::map(&pieces, |r| piece(file, text, r.clone()));
    let mut root = Table::default();
    let mut redact = Vec::new();
    let mut headers: Vec<Header> = Vec::new();
    for (i, p) in parsed.into_iter().enumerate() {
        let p = p?;
        if i == 0 {
            // Before the first header: the root's own keys, each a table no other piece may
            // reopen. An indented header here cannot be told from them.
            if !p.headers.is_empty() {
                return None;
            }
            headers.extend(p.table.iter().map(|(k, _)| (vec![k.clone()], 0)));
        } else {
            headers.extend(p.headers.into_iter().map(|h| (h, i)));
        }
        if !root.join(p.table) {
            return None;
        }
        redact.extend(p.masked);
    }
    if shared(&mut headers) {
        return None;
    }
    Some((Value::Table(root), redact))
}

/// One piece parsed and converted.
struct Piece {
    table: Table,
    /// The spans it masks, in the file.
    masked: Vec<Range<usize>>,
    /// The key paths of the lines in it that read as table headers.
    headers: Vec<Vec<String>>,
}

/// Where the pieces start, and the file's end: the first piece is everything before the first
/// line that opens a standard table header (`[`, not `[[`) in its first column; the others start
/// at such lines, each at least a `1 / pieces` share of the rest long. `None` when there would
/// be fewer than two pieces after the first.
fn cuts(text: &str, pieces: usize) -> Option<Vec<usize>> {
    let bytes = text.as_bytes();
    let opens = |i: &usize| bytes.get(*i) == Some(&b'[') && bytes.get(*i + 1) != Some(&b'[');
    let mut at = std::iter::once(0)
        .chain(memchr::memchr_iter(b'\n', bytes).map(|i| i + 1))
        .filter(opens);
    let first = at.next()?;
    let step = ((text.len() - first) / pieces).max(1);
    let mut cuts = vec![0, first];
    for i in at {
        if i - cuts[cuts.len() - 1] >= step {
            cuts.push(i);
        }
    }
    cuts.push(text.len());
    (cuts.len() > 3).then_some(cuts)
}

/// The piece of `text` at `r`; `None` when it does not parse.
fn piece(file: FileId, text: &str, r: Range<usize>) -> Option<Piece> {
    let src = &text[r.clone()];
    let (table, errors) = DeTable::parse_recoverable(src);
    if !errors.is_empty() {
        return None;
    }
    let mut masked = Vec::new();
    let at = At {
        file,
        offset: r.start,
    };
    let Value::Table(t) = convert_table(at, table.get_ref(), &mut masked, false) else {
        return None;
    };
    drop(table);
    let headers = src
        .lines()
        .map(|l| l.trim_start_matches([' ', '\t']))
        .filter(|l| l.starts_with('['))
        .filter_map(header)
        .collect();
    Some(Piece {
        table: t,
        masked,
        headers,
    })
}

/// The key path a line names when it is a table header on its own (`[a.b]`, `[[a.b]]`, `["a.b"
/// . c] # note`); `None` when it is not one.
fn header(line: &str) -> Option<Vec<String>> {
    let line = line.trim_end();
    let split = match line.strip_prefix("[[") {
        Some(rest) => rest.split_once("]]"),
        None => line.strip_prefix('[').and_then(|rest| rest.split_once(']')),
    };
    let bare = |k: &str| {
        !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    if let Some((inner, rest)) = split {
        let rest = rest.trim_start();
        if (rest.is_empty() || rest.starts_with('#')) && inner.split('.').all(bare) {
            return Some(inner.split('.').map(str::to_owned).collect());
        }
    }
    // Quoted keys, or blanks around the dots: the line parsed on its own.
    let (table, errors) = DeTable::parse_recoverable(line);
    if !errors.is_empty() {
        return None;
    }
    let mut path = Vec::new();
    let mut current = table.get_ref();
    loop {
        let mut entries = current.iter();
        let (Some((k, v)), None) = (entries.next(), entries.next()) else {
            break;
        };
        path.push(k.get_ref().to_string());
        match v.get_ref() {
            DeValue::Table(t) => current = t,
            _ => break,
        }
    }
    (!path.is_empty()).then_some(path)
}

/// Whether a header of one piece is equal to, or a prefix of, a header of another.
fn shared(headers: &mut [Header]) -> bool {
    headers.sort();
    // The headers before the current one that are prefixes of it: in sorted order, every header
    // between a prefix and the header it prefixes starts with that prefix too.
    let mut prefixes: Vec<&Header> = Vec::new();
    for h in headers.iter() {
        while prefixes.last().is_some_and(|p| !h.0.starts_with(&p.0)) {
            prefixes.pop();
        }
        if prefixes.iter().any(|p| p.1 != h.1) {
            return true;
        }
        prefixes.push(h);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    /// The whole parse, as the loader does it.
    fn whole(text: &str) -> Option<(Value, Vec<Range<usize>>)> {
        crate::load::parse_whole(FileId(0), text).ok()
    }

    fn pieces(text: &str, n: usize) -> Option<(Value, Vec<Range<usize>>)> {
        parse_in(FileId(0), text, n)
    }

    /// The pieces join, into the whole parse's tree (spans included) and masked spans.
    fn assert_same(text: &str, n: usize) {
        let (tree, mut masked) = pieces(text, n).expect("the pieces join");
        let (whole_tree, mut whole_masked) = whole(text).expect("the file parses");
        masked.sort_by_key(|r| (r.start, r.end));
        whole_masked.sort_by_key(|r| (r.start, r.end));
        assert_eq!(format!("{tree:?}"), format!("{whole_tree:?}"), "{n} pieces");
        assert_eq!(masked, whole_masked, "{n} pieces");
    }

    fn services(n: usize) -> String {
        let mut s = String::from("# a comment\nextends = \"base.toml\"\n\n");
        for i in 0..n {
            let _ = write!(
                s,
                "[services.svc-{i}]\nimage = {{ repository = \"r/svc-{i}\", tag = \"1.{i}\" }}\n\
                 port = 8080\nsecrets = {{ API_TOKEN = \"vault:secret/data/x#y\", \
                 PASSWORD = \"hunter{i}\" }}\nenv.MODE = \"fast\"\n\n\
                 [metrics.m_{i}]\ntype = \"histogram\"\nlabels = [\n  \"route\",\n  \"code\",\n]\n\n\
                 [\"alerts\".\"A{i}\"]\nsummary = \"\"\"\nline\nmore\n\"\"\"\n\n"
            );
        }
        s
    }

    /// Twenty keys, each set once.
    fn body() -> String {
        (0..20).fold(String::new(), |mut b, i| {
            let _ = writeln!(b, "k{i} = 1");
            b
        })
    }

    /// Cut anywhere it may be, the pieces give the whole parse's tree, spans and masked
    /// credentials, byte for byte.
    #[test]
    fn the_pieces_give_the_whole_parse() {
        let text = services(40);
        for n in [2, 3, 5, 8, 17, 64, 500] {
            assert_same(&text, n);
        }
    }

    /// A table two pieces define, which TOML refuses or resolves by order, is left to the whole
    /// parse.
    #[test]
    fn a_table_defined_in_two_pieces_is_left_to_the_whole_parse() {
        let body = body();
        for text in [
            // The same table twice: an error the whole parse reports.
            format!("[a]\n{body}[b]\n{body}[a]\ny = 2\n"),
            // A table, then one below it: valid, but only if the first does not set the key.
            format!("[a]\n{body}[b]\n{body}[a.c]\ny = 2\n"),
            format!("[a.c]\n{body}[b]\n{body}[a]\ny = 2\n"),
            // A key before the first header that a later header reopens.
            format!("a.x = 1\n[b]\n{body}[c]\n{body}[a.y]\nz = 2\n"),
            // A dotted key inside one table that another piece's header names.
            format!("[a]\nc.x = 1\n{body}[b]\n{body}[a.c]\ny = 2\n"),
            // Arrays of tables in two pieces.
            format!("[b]\n{body}[[a]]\nx = 1\n[c]\n{body}[[a]]\nx = 2\n"),
        ] {
            // Every header in a piece of its own.
            assert!(pieces(&text, 1000).is_none(), "{text}");
        }
        // Tables that only share the keys on the way to their headers join.
        let text = format!("[s.a]\n{body}[s.b]\n{body}[t.c]\n{body}[s.d.e]\nx = 2\n");
        assert_same(&text, 1000);
        // A line inside a string that reads as a header counts as one: refused, never joined
        // wrongly.
        let text = format!("[a]\ns = \"\"\"\n  [b]\n\"\"\"\n{body}[b]\n{body}");
        assert!(whole(&text).is_some());
        assert!(pieces(&text, 1000).is_none());
    }

    /// A cut inside a multi-line value leaves the piece before it unterminated: the file is
    /// parsed whole.
    #[test]
    fn a_cut_inside_a_multi_line_value_is_never_joined() {
        let body = body();
        for text in [
            format!("[a]\n{body}s = \"\"\"\n[b]\ny = 1\n\"\"\"\n[c]\n{body}"),
            format!("[a]\n{body}s = '''\n[b]\ny = 1\n'''\n[c]\n{body}"),
            format!("[a]\n{body}v = [\n[1, 2],\n[3]\n]\n[c]\n{body}"),
            format!("[a]\n{body}t = {{\n[b] = 1 }}\n[c]\n{body}"),
        ] {
            // Cut at every line that opens with `[`, inside the value too.
            assert!(pieces(&text, 1000).is_none(), "{text}");
            for n in 2..6 {
                let p = pieces(&text, n);
                if let Some(w) = whole(&text) {
                    // Joined only when no cut fell inside the value.
                    if let Some(p) = p {
                        assert_eq!(format!("{:?}", p.0), format!("{:?}", w.0), "{text}");
                    }
                } else {
                    assert!(p.is_none(), "{text}");
                }
            }
        }
    }

    #[test]
    fn headers_are_read_as_toml_reads_them() {
        let h = |l: &str| header(l).map(|p| p.join("/"));
        assert_eq!(h("[a.b-c.d_e]").as_deref(), Some("a/b-c/d_e"));
        assert_eq!(h("[[a.b]]  # note").as_deref(), Some("a/b"));
        assert_eq!(h("[ \"a.b\" . c ]").as_deref(), Some("a.b/c"));
        assert_eq!(h("['x y']\r").as_deref(), Some("x y"));
        assert_eq!(h("[1, 2],"), None);
        assert_eq!(h("[a] = 1"), None);
    }
}
