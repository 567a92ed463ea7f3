//! JSON Lines: one object per line; blank lines are skipped.

use std::path::Path;

use serde_json::Value;

use super::Position;
use crate::diagnostic::Diagnostic;

pub(super) fn read(path: &Path, bytes: &[u8]) -> Result<super::Rows, Diagnostic> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
        Diagnostic::new("dataset is not valid UTF-8").in_file(path).at(line, None)
    })?;
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
    fn rejects_non_objects() {
        let error = read(Path::new("d.jsonl"), b"[1, 2]\n").unwrap_err();
        assert_eq!(error.message, "line 1 is a JSON array, not an object");
    }
}
