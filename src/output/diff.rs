//! Renders drift: a unified diff per changed file (colour only on a terminal), a summary line, and
//! the JSON listing for tools.

use super::{Change, ChangeKind};
use similar::TextDiff;
use std::fmt::Write as _;

/// Unified diff of one change, with `a/<env>/<path>` and `b/<env>/<path>` headers.
#[must_use]
pub fn unified(env: &str, c: &Change, color: bool) -> String {
    let old = c
        .old
        .as_deref()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let new = c.new.as_ref().map(|b| b.read().unwrap_or_default());
    let new = new
        .as_deref()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let a = if let Some(problem) = &c.problem {
        format!("a/{env}/{}\t({})", c.path, problem.text)
    } else if c.old.is_some() {
        format!("a/{env}/{}", c.path)
    } else {
        "/dev/null".to_owned()
    };
    let b = if c.new.is_some() {
        format!("b/{env}/{}", c.path)
    } else {
        "/dev/null".to_owned()
    };
    let diff = TextDiff::from_lines(old.as_ref(), new.as_ref());
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header(&a, &b)
        .to_string();
    if !color {
        return text;
    }
    let mut out = String::new();
    for line in text.lines() {
        let styled = if line.starts_with("+++") || line.starts_with("---") {
            format!("\x1b[1m{line}\x1b[0m")
        } else if line.starts_with('+') {
            format!("\x1b[32m{line}\x1b[0m")
        } else if line.starts_with('-') {
            format!("\x1b[31m{line}\x1b[0m")
        } else if line.starts_with("@@") {
            format!("\x1b[36m{line}\x1b[0m")
        } else {
            line.to_owned()
        };
        let _ = writeln!(out, "{styled}");
    }
    out
}

/// `3 files changed, 1 added, 0 removed`: "changed" counts files whose content differs, "added" files
/// the output lacks, "removed" generated files that are no longer generated.
#[must_use]
pub fn summary(changes: &[Change]) -> String {
    summary_of(changes)
}

/// [`summary`] over changes gathered from several environments.
#[must_use]
pub fn summary_of<'a>(changes: impl IntoIterator<Item = &'a Change>) -> String {
    let (mut modified, mut added, mut removed) = (0, 0, 0);
    for c in changes {
        match c.kind {
            ChangeKind::Modified => modified += 1,
            ChangeKind::Added => added += 1,
            ChangeKind::Removed => removed += 1,
        }
    }
    format!(
        "{modified} file{} changed, {added} added, {removed} removed",
        if modified == 1 { "" } else { "s" },
    )
}
