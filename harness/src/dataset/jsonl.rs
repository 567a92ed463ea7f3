//! JSON Lines: one object per line; blank lines are skipped.

use std::path::Path;

use serde_json::Value;

use super::Position;
use crate::diagnostic::Diagnostic;

pub(super) fn read(path: &Path, bytes: &[u8]) -> Result<super::Rows, Diagnostic> {
    let text = std::str::from_utf8(bytes).map_err(|e| not_utf8(path, bytes, e.valid_up_to()))?;
    // A byte-order mark, which Windows editors write at the start of UTF-8
    // files, is not part of the first object (the suite and CSV readers skip
    // it too).
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(line).map_err(|e| {
            Diagnostic::new(format!("invalid JSON on line {number}: {e}"))
                .in_file(path)
                .at(number, Some(e.column()))
                .with_snippet(truncate(line), 1)
                .with_hint("each line of a .jsonl file must be one complete JSON object")
        })?;
        match value {
            Value::Object(fields) => rows.push((Position::Line(number), fields)),
            other => {
                return Err(Diagnostic::new(format!("line {number} is a JSON {}, not an object", kind_of(&other)))
                    .in_file(path)
                    .at(number, Some(1))
                    .with_hint("each line must be an object such as {\"question\": \"...\", \"answer\": \"...\"}"));
            }
        }
    }
    Ok(rows)
}

/// Bytes that are not UTF-8 at byte `valid_up_to`: say the line and column
/// (in characters) where they start.
fn not_utf8(path: &Path, bytes: &[u8], valid_up_to: usize) -> Diagnostic {
    let before = &bytes[..valid_up_to];
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    // Everything before the bad byte is valid UTF-8, so it counts as characters.
    let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
    Diagnostic::new(format!("line {line} is not valid UTF-8 (byte 0x{:02x})", bytes[valid_up_to]))
        .in_file(path)
        .at(line, Some(column))
        .with_hint("save the file as UTF-8; JSON Lines must be UTF-8 text")
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn truncate(line: &str) -> String {
    match line.char_indices().nth(120) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_line_and_column_of_bad_json() {
        let error = read(Path::new("d.jsonl"), b"{\"a\": 1}\n{\"a\": }\n").unwrap_err();
        assert_eq!((error.line, error.column), (Some(2), Some(7)));
        assert!(error.message.starts_with("invalid JSON on line 2"), "{}", error.message);
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let rows = read(Path::new("d.jsonl"), "\u{feff}{\"a\": 1}\n".as_bytes()).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].1["a"], 1);
    }

    #[test]
    fn invalid_utf8_names_line_and_column() {
        let error = read(Path::new("d.jsonl"), b"{\"a\": 1}\n{\"\xc3\xa9\": \"\xff\"}\n").unwrap_err();
        assert_eq!(error.message, "line 2 is not valid UTF-8 (byte 0xff)");
        // `{"é": "` is 7 characters (8 bytes).
        assert_eq!((error.line, error.column), (Some(2), Some(8)));
    }

    #[test]
    fn rejects_non_objects() {
        let error = read(Path::new("d.jsonl"), b"[1, 2]\n").unwrap_err();
        assert_eq!(error.message, "line 1 is a JSON array, not an object");
    }
}
