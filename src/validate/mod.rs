//! Validation: the schema check (every key, type and enum, mapped back to TOML spans), the secret
//! scan on the raw tree, the syntax of the values the model parses (quantities, schedules, secret
//! references), then the semantic rules on the typed model. Every problem is collected;
//! nothing stops at the first.

pub mod json_schema;
pub mod rules;
pub mod schema;
pub mod typed;
pub mod waivers;

use crate::diagnostic::Diagnostic;
use crate::load::{Entry, Seg, display_path};
use crate::model::Environment;
use crate::source::Span;
use std::fmt::Write as _;

/// Where diagnostics about the merged tree are recorded: locates a path in the tree and records a
/// diagnostic at it. The typed-value check uses it alone; the semantic rules through
/// [`RuleContext`].
pub struct Report<'a> {
    tree: Tree<'a>,
    out: Vec<Diagnostic>,
}

/// The merged tree a [`Report`] points into: held, or loaded again when first needed.
#[derive(Clone, Copy)]
pub enum Tree<'a> {
    Held(&'a Entry),
    Later(&'a crate::load::LaterTree),
}

impl<'a> Tree<'a> {
    /// The tree itself (a later one is loaded now, if it was not yet).
    #[must_use]
    pub fn get(self) -> &'a Entry {
        match self {
            Self::Held(tree) => tree,
            Self::Later(later) => later.get(),
        }
    }
}

impl<'a> From<&'a Entry> for Tree<'a> {
    fn from(tree: &'a Entry) -> Self {
        Self::Held(tree)
    }
}

impl<'a> From<&'a crate::load::LaterTree> for Tree<'a> {
    fn from(later: &'a crate::load::LaterTree) -> Self {
        Self::Later(later)
    }
}

/// What a semantic rule sees: the typed model, and the merged tree to point into.
pub struct RuleContext<'a> {
    pub env: &'a Environment,
    /// [`crate::plan::workloads`] of `env`, planned once for every rule.
    pub workloads: &'a [crate::plan::Workload<'a>],
    report: Report<'a>,
}

impl<'a> RuleContext<'a> {
    /// `workloads` is what [`crate::plan::workloads`] returns for `env`.
    #[must_use]
    pub fn new(
        env: &'a Environment,
        workloads: &'a [crate::plan::Workload<'a>],
        tree: &'a Entry,
    ) -> Self {
        Self {
            env,
            workloads,
            report: Report::new(tree),
        }
    }

    #[must_use]
    pub fn into_diagnostics(self) -> Vec<Diagnostic> {
        self.report.out
    }
}

impl<'a> std::ops::Deref for RuleContext<'a> {
    type Target = Report<'a>;

    fn deref(&self) -> &Report<'a> {
        &self.report
    }
}

impl std::ops::DerefMut for RuleContext<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.report
    }
}

impl<'a> Report<'a> {
    #[must_use]
    pub fn new(tree: impl Into<Tree<'a>>) -> Self {
        Self {
            tree: tree.into(),
            out: Vec::new(),
        }
    }

    /// The merged tree (a later one is loaded now, if it was not yet).
    #[must_use]
    pub fn tree(&self) -> &'a Entry {
        self.tree.get()
    }

    /// The span of the value at `path` (or of the deepest part of it that was written).
    #[must_use]
    pub fn span(&self, path: impl AsRef<[Seg]>) -> Span {
        self.locate(path.as_ref()).0
    }

    /// The span for `path`, the entry found, and whether the whole path was written.
    fn locate(&self, path: &[Seg]) -> (Span, &'a Entry, bool) {
        let (e, full) = self.tree().lookup(path);
        let span = if full {
            e.span.clone()
        } else {
            e.anchor().clone()
        };
        (span, e, full)
    }

    /// The span of the key at `path` (the value's span for array items).
    #[must_use]
    pub fn key_span(&self, path: impl AsRef<[Seg]>) -> Span {
        self.tree().lookup(path.as_ref()).0.anchor().clone()
    }

    /// Records an error at the value of `path` (a `path![...]`, owned or borrowed). When a later layer overrode an earlier one there,
    /// the overridden value is shown too, so the user sees which file to change.
    pub fn error(
        &mut self,
        code: &'static str,
        path: impl AsRef<[Seg]>,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> &mut Diagnostic {
        self.push(Diagnostic::error(code, message), path.as_ref(), label)
    }

    /// As [`Report::error`], for a warning.
    pub fn warning(
        &mut self,
        code: &'static str,
        path: impl AsRef<[Seg]>,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> &mut Diagnostic {
        self.push(Diagnostic::warning(code, message), path.as_ref(), label)
    }

    /// Records an error at the key of `path` rather than its value: for problems with a name.
    pub fn key_error(
        &mut self,
        code: &'static str,
        path: impl AsRef<[Seg]>,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> &mut Diagnostic {
        let span = self.key_span(path);
        self.record(Diagnostic::error(code, message).with_label(span, label))
    }

    /// As [`Report::key_error`], for a warning.
    pub fn key_warning(
        &mut self,
        code: &'static str,
        path: impl AsRef<[Seg]>,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> &mut Diagnostic {
        let span = self.key_span(path);
        self.record(Diagnostic::warning(code, message).with_label(span, label))
    }

    fn record(&mut self, d: Diagnostic) -> &mut Diagnostic {
        self.out.push(d);
        self.out.last_mut().expect("just pushed") // cannot fail: the vector is non-empty
    }

    fn push(&mut self, d: Diagnostic, path: &[Seg], label: impl Into<String>) -> &mut Diagnostic {
        let (span, entry, full) = self.locate(path);
        let mut d = d.with_label(span, label);
        if full && let Some(prev) = entry.overridden.first() {
            d = d.with_label(prev.clone(), "overriding this earlier value");
        }
        if !full {
            let _ = write!(
                d.message,
                " (`{}` is not set; its default applies)",
                display_path(path)
            );
        }
        self.record(d)
    }

    #[must_use]
    pub fn into_diagnostics(self) -> Vec<Diagnostic> {
        self.out
    }

    /// Whether nothing has been reported.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.out.is_empty()
    }
}

/// A semantic rule: a stable code, a name, and What/Why docs that README and `explain` show.
pub struct Rule {
    pub code: &'static str,
    pub name: &'static str,
    pub what: &'static str,
    pub why: &'static str,
}

/// A rule's check on the typed model.
pub struct Check {
    pub rule: &'static Rule,
    pub run: fn(&mut RuleContext<'_>),
}

/// Environments with at least this many services validate on the machine's cores; smaller ones on
/// one thread, beside the other environments.
const SIDE_BY_SIDE_FROM: usize = 100;

/// Validates the merged tree: secrets and schema first; if the tree fits the schema (once unknown
/// keys, reported, are left out), the values the model parses, where they are written; if they
/// parse, the typed model and every check on it. Returns the model when no error was found.
pub fn validate(tree: &Entry, out: &mut Vec<Diagnostic>) -> Option<Environment> {
    let services = match &tree.value {
        crate::load::Value::Table(t) => t.get("services").map(|s| &s.value),
        _ => None,
    };
    let large = match services {
        Some(crate::load::Value::Table(t)) => t.iter().count() >= SIDE_BY_SIDE_FROM,
        _ => false,
    };
    validate_side_by_side(tree, out, large)
}

/// [`validate`], on the machine's cores when `large`, else on this thread: the same diagnostics
/// in the same order either way.
fn validate_side_by_side(
    tree: &Entry,
    out: &mut Vec<Diagnostic>,
    large: bool,
) -> Option<Environment> {
    // The secret scan and the schema check read the tree alone: side by side, their diagnostics
    // taken in the same order.
    let scan = || {
        let mut found = Vec::new();
        rules::secrets::scan_tree(tree, &mut found);
        found
    };
    let schema_check = || {
        let mut found = Vec::new();
        let json = tree.to_json();
        schema::check(tree, &json, &mut found);
        (json, found)
    };
    let (secrets, (mut json, schema_found)) = if large {
        std::thread::scope(|s| {
            let secrets = s.spawn(scan);
            let checked = schema_check();
            let secrets = secrets
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e));
            (secrets, checked)
        })
    } else {
        (scan(), schema_check())
    };
    out.extend(secrets);
    let before = out.len();
    out.extend(schema_found);
    // Unknown keys (typos, settings that moved) do not stop the rules: the model is built without
    // them, so one run reports a typo and, say, a port clash together. Any other schema error
    // leaves no model to check.
    let mut schema_errors = out[before..].iter().filter(|d| d.is_error()).peekable();
    if schema_errors.peek().is_some()
        && (schema_errors.any(|d| d.code != "DG0051") || !schema::without_unknown_keys(&mut json))
    {
        return None;
    }
    // The model parses quantities, schedules and secret references: check them where they are
    // written first, so that building the model cannot fail on them.
    let mut report = Report::new(tree);
    let parsed = typed::check(&mut report, &mut json);
    out.extend(report.into_diagnostics());
    if !parsed {
        return None;
    }
    let env: Environment = match serde_json::from_value(json) {
        Ok(env) => env,
        Err(e) => {
            // The schema is generated from the same types, so this is not expected; say so plainly.
            out.push(
                Diagnostic::error(
                    "DG0057",
                    format!("the environment does not fit the model: {e}"),
                )
                .with_label(tree.span.clone(), "in this environment"),
            );
            return None;
        }
    };
    // Each check reports on its own, spread over the machine's cores, their diagnostics taken in
    // the checks' order.
    let workloads = crate::plan::workloads(&env);
    let run = |check: &Check| {
        let mut cx = RuleContext::new(&env, &workloads, tree);
        (check.run)(&mut cx);
        cx.into_diagnostics()
    };
    let checks = rules::checks();
    let found = if large {
        crate::parallel::map(&checks, run)
    } else {
        checks.iter().map(run).collect()
    };
    out.extend(found.into_iter().flatten());
    waivers::apply(&env, tree, out, crate::codes::Phase::Rule);
    if out.iter().any(Diagnostic::is_error) {
        None
    } else {
        Some(env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Environments with errors from the secret scan, the schema and the rules, and valid ones,
    /// report the same diagnostics in the same order validated side by side and on one thread.
    #[test]
    fn side_by_side_validation_reports_as_one_thread_does() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<_> = ["environments", "tests/fixtures", "tests/fixtures/invalid"]
            .iter()
            .flat_map(|d| std::fs::read_dir(root.join(d)).expect("a folder"))
            .map(|e| e.expect("an entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        // One with diagnostics from every step: the schema, the secret scan and the rules.
        let dir = tempfile::tempdir().expect("a folder");
        std::fs::copy(
            root.join("tests/fixtures/minimal.toml"),
            dir.path().join("base.toml"),
        )
        .expect("copied");
        let many = dir.path().join("many.toml");
        std::fs::write(
            &many,
            r#"extends = "base.toml"
[environment]
name = "many"
unknown_setting = true
[services.web]
env = { API_PASSWORD = "hunter2hunter2", DB_URL = "postgres://admin:s3cretpass@db:5432/x" }
healthpath = "/x"
[services.api]
image = { repository = "acme/api", tag = "latest" }
port = 8080
namespace = "core"
autoscaling = { enabled = true, min_replicas = 5, max_replicas = 2 }
"#,
        )
        .expect("written");
        files.push(many);
        let mut with_errors = 0;
        for f in &files {
            let mut sources = crate::source::SourceMap::default();
            let mut loaded = Vec::new();
            let Some(l) = crate::load::load(f, &mut sources, &mut loaded) else {
                continue;
            };
            let (mut one, mut side) = (Vec::new(), Vec::new());
            let a = validate_side_by_side(&l.root, &mut one, false);
            let b = validate_side_by_side(&l.root, &mut side, true);
            assert_eq!(a.is_some(), b.is_some(), "{}", f.display());
            let show = |d: &[Diagnostic]| format!("{d:?}");
            assert_eq!(show(&one), show(&side), "{}", f.display());
            with_errors += usize::from(one.iter().any(Diagnostic::is_error));
            if f.ends_with("many.toml") {
                let codes: Vec<&str> = one.iter().map(|d| d.code).collect();
                assert_eq!(
                    codes,
                    ["DG0201", "DG0201", "DG0051", "DG0051", "DG0104", "DG0111"],
                    "{one:?}"
                );
            }
        }
        assert!(with_errors >= 3, "the fixtures hold invalid environments");
    }
}
