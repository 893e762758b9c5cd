//! Source files and spans: every value the loader reads remembers the file and byte range it came
//! from, so a diagnostic raised after layering can point at the exact key. Line and column are only
//! computed when a diagnostic is rendered.

use sha2::Digest as _;
use std::ops::Range;
use std::path::PathBuf;

/// Index of a file in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(pub usize);

/// A byte range inside one source file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: FileId,
    pub range: Range<usize>,
}

impl Span {
    #[must_use]
    pub fn new(file: FileId, range: Range<usize>) -> Self {
        Self { file, range }
    }
}

/// One file read by the loader.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as the user gave it (or as resolved relative to the including file); shown in
    /// diagnostics and in generated-file headers, so it is never made absolute.
    pub path: PathBuf,
    pub text: String,
    /// The SHA-256 of the file as it was read, before any secret in it was masked: what a kept
    /// compilation is checked against (`ops::kept`).
    pub sha256: [u8; 32],
}

impl SourceFile {
    /// 1-based line and column (in characters) of a byte offset.
    #[must_use]
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(&self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        (line, col)
    }

    /// The file's name for messages: its path with forward slashes.
    #[must_use]
    pub fn display_name(&self) -> String {
        self.path.to_string_lossy().replace('\\', "/")
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Every file read while compiling one environment.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn add(&mut self, path: PathBuf, text: String) -> FileId {
        let sha256 = sha2::Sha256::digest(text.as_bytes()).into();
        self.files.push(SourceFile { path, text, sha256 });
        FileId(self.files.len() - 1)
    }

    /// Every file read, in the order they were read.
    pub fn files(&self) -> impl Iterator<Item = &SourceFile> {
        self.files.iter()
    }

    #[must_use]
    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0]
    }

    /// Masks byte ranges of a file (literal secrets) with `*`, keeping its length so every span
    /// stays valid; snippets shown in diagnostics then never echo a secret.
    pub fn redact(&mut self, id: FileId, ranges: &[std::ops::Range<usize>]) {
        let file = &mut self.files[id.0];
        let mut bytes = std::mem::take(&mut file.text).into_bytes();
        for r in ranges {
            let end = r.end.min(bytes.len());
            for b in bytes.iter_mut().take(end).skip(r.start) {
                if *b != b'\n' {
                    *b = b'*';
                }
            }
        }
        // Replacing whole bytes of a UTF-8 string with ASCII can split a multi-byte character only
        // at the range edges; lossy conversion keeps it a valid string either way.
        file.text = String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    }

    /// `file:line:col` of a span's start.
    #[must_use]
    pub fn locate(&self, span: &Span) -> (String, usize, usize) {
        let file = self.get(span.file);
        let (line, col) = file.line_col(span.range.start);
        (file.display_name(), line, col)
    }
}
