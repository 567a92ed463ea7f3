//! The suite's text, and the way from a key path or byte offset to a
//! `file:line:column` location.
//!
//! serde tells us *what* is wrong; only the parsed document, with its spans,
//! tells us *where*. Checks after deserialization name the offending key by
//! its path (`["variants", 1, "backend"]`) and this module finds it.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// A table key.
    Name(String),
    /// An array index.
    Index(usize),
}

impl From<&str> for Key {
    fn from(name: &str) -> Self {
        Key::Name(name.to_owned())
    }
}

impl From<usize> for Key {
    fn from(index: usize) -> Self {
        Key::Index(index)
    }
}

/// Builds a key path: `key_path!["variants", 0, "backend"]`.
macro_rules! key_path {
    ($($segment:expr),* $(,)?) => {
        <::std::vec::Vec<$crate::suite::source::Key>>::from([$($crate::suite::source::Key::from($segment)),*])
    };
}
pub(crate) use key_path;

/// Renders a key path the way users write it: `variants[1].backend`.
pub fn display_path(path: &[Key]) -> String {
    let mut out = String::new();
    for key in path {
        match key {
            Key::Name(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                let bare = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if bare {
                    out.push_str(name);
                } else {
                    out.push_str(&format!("{name:?}"));
                }
            }
            Key::Index(index) => out.push_str(&format!("[{index}]")),
        }
    }
    out
}

/// A suite file's path and text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as the user gave it (for messages).
    pub path: PathBuf,
    /// The whole file.
    pub text: String,
}

/// A position in a source file, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Line number.
    pub line: usize,
    /// Column, in characters.
    pub column: usize,
}

impl SourceFile {
    /// Wrap a file's text.
    pub fn new(path: impl Into<PathBuf>, text: String) -> Self {
        SourceFile { path: path.into(), text }
    }

    /// The directory relative paths in the suite are resolved against.
    pub fn base_dir(&self) -> &Path {
        match self.path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        }
    }

    /// Line and column of a byte offset.
    pub fn location(&self, offset: usize) -> Location {
        let offset = floor_char_boundary(&self.text, offset.min(self.text.len()));
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Location { line, column: before[line_start..].chars().count() + 1 }
    }

    /// The text of line `line` (1-based), without its newline.
    pub fn line_text(&self, line: usize) -> &str {
        self.text.lines().nth(line.saturating_sub(1)).unwrap_or("")
    }

    /// Span of the key at `path` (falling back to the deepest ancestor found).
    pub fn span_of(&self, path: &[Key]) -> Option<Range<usize>> {
        let root = DeTable::parse(&self.text).ok()?;
        let mut best: Option<Range<usize>> = None;
        let mut value: &DeValue<'_> = &DeValue::Table(root.get_ref().clone());
        // The root table's own span is the whole file: not useful as a location.
        for key in path {
            let next: Option<(Range<usize>, &Spanned<DeValue<'_>>)> = match (key, value) {
                (Key::Name(name), DeValue::Table(table)) => {
                    table.iter().find(|(k, _)| k.get_ref().as_ref() == name.as_str()).map(|(k, v)| (k.span(), v))
                }
                (Key::Index(index), DeValue::Array(array)) => array.get(*index).map(|v| (v.span(), v)),
                _ => None,
            };
            match next {
                Some((span, child)) => {
                    best = Some(span);
                    value = child.get_ref();
                }
                None => break,
            }
        }
        best
    }

    /// The path of the innermost key whose key or value contains `offset`.
    ///
    /// A `[table]` header's span covers only the header, not the keys under
    /// it, so the whole tree is searched rather than descended greedily.
    pub fn path_at(&self, offset: usize) -> Vec<Key> {
        let Ok(root) = DeTable::parse(&self.text) else { return Vec::new() };
        let mut best = Vec::new();
        let mut path = Vec::new();
        search(&DeValue::Table(root.into_inner()), offset, &mut path, &mut best);
        best
    }
}

fn search(value: &DeValue<'_>, offset: usize, path: &mut Vec<Key>, best: &mut Vec<Key>) {
    let visit = |key: Key, hit: bool, child: &DeValue<'_>, path: &mut Vec<Key>, best: &mut Vec<Key>| {
        path.push(key);
        if hit && path.len() > best.len() {
            *best = path.clone();
        }
        search(child, offset, path, best);
        path.pop();
    };
    match value {
        DeValue::Table(table) => {
            for (key, child) in table.iter() {
                let hit = contains(&key.span(), offset) || contains(&child.span(), offset);
                visit(Key::Name(key.get_ref().to_string()), hit, child.get_ref(), path, best);
            }
        }
        DeValue::Array(array) => {
            for (index, child) in array.iter().enumerate() {
                visit(Key::Index(index), contains(&child.span(), offset), child.get_ref(), path, best);
            }
        }
        _ => {}
    }
}

fn contains(span: &Range<usize>, offset: usize) -> bool {
    span.start <= offset && offset < span.end.max(span.start + 1)
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUITE: &str =
        "[suite]\nname = \"x\"\n\n[[variants]]\nname = \"a\"\n\n[[variants]]\nname = \"b\"\nbackend = \"gpt\"\n";

    #[test]
    fn finds_keys_in_arrays_of_tables() {
        let source = SourceFile::new("s.toml", SUITE.to_owned());
        let span = source.span_of(&key_path!["variants", 1, "backend"]).unwrap();
        assert_eq!(source.location(span.start), Location { line: 9, column: 1 });
        assert_eq!(source.path_at(span.start), key_path!["variants", 1, "backend"]);
    }

    #[test]
    fn missing_keys_fall_back_to_the_nearest_parent() {
        let source = SourceFile::new("s.toml", SUITE.to_owned());
        let span = source.span_of(&key_path!["variants", 0, "backend"]).unwrap();
        assert_eq!(source.location(span.start).line, 4);
    }

    #[test]
    fn paths_display_like_toml() {
        assert_eq!(display_path(&key_path!["prices", "gpt-4o.mini", "input"]), "prices.\"gpt-4o.mini\".input");
        assert_eq!(display_path(&key_path!["variants", 2, "backend"]), "variants[2].backend");
    }
}
