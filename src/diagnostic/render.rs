//! Renders diagnostics for people (source snippet with a caret, in colour when asked) and for tools
//! (one JSON object per line); the CI formats are in [`super::ci`].

use super::report::{Place, Reported};
use super::{Diagnostic, Severity};
use crate::source::SourceMap;
use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use std::collections::BTreeMap;

/// Human rendering of one diagnostic.
#[must_use]
pub fn human(d: &Diagnostic, sources: &SourceMap, color: bool) -> String {
    let level = match d.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
        Severity::Note => Level::NOTE,
    };
    // Group labels by file, keeping the order in which files first appear (primary file first).
    let mut order: Vec<crate::source::FileId> = Vec::new();
    let mut by_file: BTreeMap<crate::source::FileId, Vec<(usize, &super::Label)>> = BTreeMap::new();
    for (i, l) in d.labels.iter().enumerate() {
        if !order.contains(&l.span.file) {
            order.push(l.span.file);
        }
        by_file.entry(l.span.file).or_default().push((i, l));
    }
    let names: Vec<String> = order
        .iter()
        .map(|f| sources.get(*f).display_name())
        .collect();
    let mut group = Group::with_title(level.primary_title(d.message.as_str()).id(d.code));
    for (fi, file) in order.iter().enumerate() {
        let src = sources.get(*file);
        let mut snippet = Snippet::source(src.text.as_str())
            .line_start(1)
            .path(names[fi].as_str())
            .fold(true);
        for (i, l) in &by_file[file] {
            let kind = if *i == 0 {
                AnnotationKind::Primary
            } else {
                AnnotationKind::Context
            };
            let r = clamp(&l.span.range, src.text.len(), &src.text);
            snippet = snippet.annotation(kind.span(r).label(l.text.as_str()));
        }
        group = group.element(snippet);
    }
    if let Some(h) = &d.help {
        group = group.element(Level::HELP.message(h.as_str()));
    }
    let groups: Vec<Group<'_>> = vec![group];
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    renderer.render(&groups).clone()
}

fn clamp(r: &std::ops::Range<usize>, len: usize, text: &str) -> std::ops::Range<usize> {
    let mut start = r.start.min(len);
    let mut end = r.end.min(len).max(start);
    while start > 0 && !text.is_char_boundary(start) {
        start -= 1;
    }
    while end < len && !text.is_char_boundary(end) {
        end += 1;
    }
    start..end
}

/// The JSON object of one diagnostic (`--format json`, one a line): what, where (the primary
/// label, with where it ends), every label, and the environments it applies to: `environments`
/// lists them all, `environment` is the one when there is exactly one (else `null`).
#[must_use]
pub fn json(r: &Reported) -> serde_json::Value {
    let at = |p: Option<&Place>| {
        serde_json::json!({
            "file": p.map(|p| p.file.clone()),
            "line": p.map(|p| p.line),
            "column": p.map(|p| p.column),
            "end_line": p.map(|p| p.end_line),
            "end_column": p.map(|p| p.end_column),
        })
    };
    let mut v = serde_json::json!({
        "kind": "diagnostic",
        "code": r.code,
        "severity": r.severity,
        "message": r.message,
    });
    let primary = at(r.primary());
    for (k, x) in primary.as_object().into_iter().flatten() {
        v[k] = x.clone();
    }
    v["help"] = serde_json::json!(r.help);
    v["labels"] = r
        .labels
        .iter()
        .map(|l| {
            let mut v = at(Some(&l.place));
            v["text"] = serde_json::Value::String(l.text.clone());
            v
        })
        .collect();
    v["environment"] = match r.environments.as_slice() {
        [one] => serde_json::Value::String(one.clone()),
        _ => serde_json::Value::Null,
    };
    v["environments"] = serde_json::json!(r.environments);
    v
}
