//! The diagnostics of one run, ready for every output format: each resolved to lines and columns
//! while its sources are at hand, a diagnostic that several environments share (one in
//! `base.toml`, which they all extend) kept once with every environment it applies to, and all of
//! them in the order of file, line and column.

use super::{Diagnostic, Severity};
use crate::source::{SourceMap, Span};
use std::collections::HashMap;
use std::path::Path;

/// Where a span is: 1-based lines and columns (in characters); the end column is the one just
/// past the span's last character (so an empty span ends where it starts).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Place {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
}

impl Place {
    /// The place of `span` in `sources`. A span that ends with a line break ends before it.
    #[must_use]
    pub fn of(span: &Span, sources: &SourceMap) -> Self {
        let file = sources.get(span.file);
        let (line, column) = file.line_col(span.range.start);
        let mut end = span.range.end.clamp(span.range.start, file.text.len());
        while end > span.range.start && file.text.as_bytes().get(end - 1) == Some(&b'\n') {
            end -= 1;
            if end > span.range.start && file.text.as_bytes().get(end - 1) == Some(&b'\r') {
                end -= 1;
            }
        }
        let (end_line, end_column) = file.line_col(end);
        Self {
            file: file.display_name(),
            line,
            column,
            end_line,
            end_column,
        }
    }
}

/// A label resolved to its place.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlacedLabel {
    pub place: Place,
    pub text: String,
}

/// One diagnostic of a run, resolved.
#[derive(Debug, Clone)]
pub struct Reported {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub help: Option<String>,
    /// Every label; the first is the primary location.
    pub labels: Vec<PlacedLabel>,
    /// Every environment it was found in, sorted: several when it points into a file they share.
    pub environments: Vec<String>,
    /// The environment file it was first found in, with forward slashes: where a diagnostic
    /// without a location is shown.
    pub origin: String,
    /// The human rendering (a source snippet with a caret), when it was asked for.
    pub human: Option<String>,
}

impl Reported {
    /// The primary location, if the diagnostic has one.
    #[must_use]
    pub fn primary(&self) -> Option<&Place> {
        self.labels.first().map(|l| &l.place)
    }

    /// The file it is shown on: its primary location's, else the environment file it was found
    /// in.
    #[must_use]
    pub fn file(&self) -> &str {
        self.primary()
            .map_or(self.origin.as_str(), |p| p.file.as_str())
    }

    #[must_use]
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The order of a run's report: file, line, column, then code and message.
    fn order(&self) -> (&str, usize, usize, &str, &str) {
        let (line, column) = self.primary().map_or((0, 0), |p| (p.line, p.column));
        (self.file(), line, column, self.code, self.message.as_str())
    }
}

/// What makes two diagnostics the same one: everything that is shown.
type Key = (
    &'static str,
    Severity,
    String,
    Option<String>,
    Vec<PlacedLabel>,
);

/// Gathers the diagnostics of a run, environment by environment.
#[derive(Debug, Default)]
pub struct Collector {
    /// `Some(colour)` to render each diagnostic for people as it is added.
    human: Option<bool>,
    items: Vec<Reported>,
    seen: HashMap<Key, usize>,
}

impl Collector {
    /// A collector that renders every diagnostic for people too when `human` is `Some(colour)`.
    #[must_use]
    pub fn new(human: Option<bool>) -> Self {
        Self {
            human,
            ..Self::default()
        }
    }

    /// Adds a diagnostic found while compiling `origin` (the environment file of `environment`);
    /// one already added from another environment gains that environment instead.
    pub fn add(&mut self, d: &Diagnostic, sources: &SourceMap, environment: &str, origin: &Path) {
        let labels: Vec<PlacedLabel> = d
            .labels
            .iter()
            .map(|l| PlacedLabel {
                place: Place::of(&l.span, sources),
                text: l.text.clone(),
            })
            .collect();
        let key: Key = (
            d.code,
            d.severity,
            d.message.clone(),
            d.help.clone(),
            labels.clone(),
        );
        if let Some(&i) = self.seen.get(&key) {
            let envs = &mut self.items[i].environments;
            if let Err(at) = envs.binary_search_by(|e| e.as_str().cmp(environment)) {
                envs.insert(at, environment.to_owned());
            }
            return;
        }
        self.seen.insert(key, self.items.len());
        self.items.push(Reported {
            code: d.code,
            severity: d.severity,
            message: d.message.clone(),
            help: d.help.clone(),
            labels,
            environments: vec![environment.to_owned()],
            origin: origin.to_string_lossy().replace('\\', "/"),
            human: self
                .human
                .map(|color| super::render::human(d, sources, color)),
        });
    }

    /// Every diagnostic added, once, in the order of file, line and column.
    #[must_use]
    pub fn finish(self) -> Vec<Reported> {
        let mut items = self.items;
        items.sort_by(|a, b| a.order().cmp(&b.order()));
        items
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;

    fn sources(text: &str) -> SourceMap {
        let mut s = SourceMap::default();
        s.add("environments/base.toml".into(), text.to_owned());
        s
    }

    #[test]
    fn a_place_ends_just_past_its_last_character_and_before_a_line_break() {
        let s = sources("a = 1\n[t]\nb = \"é\"\n");
        let value = Place::of(&Span::new(FileId(0), 14..18), &s);
        assert_eq!(
            (value.line, value.column, value.end_line, value.end_column),
            (3, 5, 3, 8)
        );
        let table = Place::of(&Span::new(FileId(0), 6..19), &s);
        assert_eq!(
            (table.line, table.column, table.end_line, table.end_column),
            (2, 1, 3, 8)
        );
        let empty = Place::of(&Span::new(FileId(0), 4..4), &s);
        assert_eq!((empty.end_line, empty.end_column), (1, 5));
    }

    #[test]
    fn a_diagnostic_of_a_shared_file_is_kept_once_with_every_environment() {
        let s = sources("a = 1\nb = 2\n");
        let d = |range| {
            Diagnostic::error("DG0102", "clash").with_label(Span::new(FileId(0), range), "here")
        };
        let mut c = Collector::new(None);
        c.add(
            &d(6..11),
            &s,
            "staging",
            Path::new("environments/staging.toml"),
        );
        c.add(
            &d(0..5),
            &s,
            "staging",
            Path::new("environments/staging.toml"),
        );
        c.add(
            &d(6..11),
            &s,
            "production",
            Path::new("environments/production.toml"),
        );
        let all = c.finish();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].primary().map(|p| p.line), Some(1));
        assert_eq!(all[0].environments, ["staging"]);
        assert_eq!(all[1].environments, ["production", "staging"]);
        assert_eq!(all[1].origin, "environments/staging.toml");
    }
}
