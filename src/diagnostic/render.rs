//! Renders diagnostics for people (source snippet with a caret, colour only on a terminal and never
//! with `NO_COLOR`) and for tools (one JSON object per line).

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

/// The JSON object of one diagnostic: where (primary label), what, and every label.
#[must_use]
pub fn json(d: &Diagnostic, sources: &SourceMap) -> serde_json::Value {
    let loc = |s: &crate::source::Span| {
        let (file, line, column) = sources.locate(s);
        serde_json::json!({ "file": file, "line": line, "column": column })
    };
    let primary = d.labels.first().map(|l| sources.locate(&l.span));
    serde_json::json!({
        "code": d.code,
        "severity": d.severity,
        "message": d.message,
        "file": primary.as_ref().map(|p| p.0.clone()),
        "line": primary.as_ref().map(|p| p.1),
        "column": primary.as_ref().map(|p| p.2),
        "help": d.help,
        "labels": d.labels.iter().map(|l| {
            let mut v = loc(&l.span);
            v["text"] = serde_json::Value::String(l.text.clone());
            v
        }).collect::<Vec<_>>(),
    })
}
