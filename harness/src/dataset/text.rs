//! Plain text: the whole file is one sample, `{"id": <file name>, "text": <contents>}`
//! (less one trailing newline).
//! For perplexity over a corpus file, the way `llama-perplexity -f` reads one.

use std::path::Path;

use serde_json::{Map, Value};

use super::Position;
use crate::diagnostic::Diagnostic;

pub(super) fn read(path: &Path, bytes: &[u8]) -> Result<super::Rows, Diagnostic> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
        Diagnostic::new("text file is not valid UTF-8").in_file(path).at(line, None)
    })?;
    if text.trim().is_empty() {
        return Err(Diagnostic::new("text file is empty")
            .in_file(path)
            .with_hint("a `text` dataset is one document to score"));
    }
    // `llama-perplexity -f` drops one trailing newline; so does this, so the
    // same file gives the same tokens.
    let text = text.strip_suffix('\n').unwrap_or(text);
    let id = path.file_name().map_or_else(|| "text".to_owned(), |n| n.to_string_lossy().into_owned());
    let mut fields = Map::new();
    fields.insert("id".into(), Value::String(id));
    fields.insert("text".into(), Value::String(text.to_owned()));
    Ok(vec![(Position::Line(1), fields)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_file_is_one_sample() {
        let rows = read(Path::new("corpus/wiki.txt"), b"line one\n\nline two\n").unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].1["id"], "wiki.txt");
        assert_eq!(rows[0].1["text"], "line one\n\nline two");
    }

    #[test]
    fn empty_files_are_an_error() {
        assert_eq!(read(Path::new("e.txt"), b" \n").unwrap_err().message, "text file is empty");
    }
}
