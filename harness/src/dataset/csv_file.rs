//! CSV with a header row. Every value is kept as the string written.

use std::path::Path;

use serde_json::Value;

use super::Position;
use crate::diagnostic::Diagnostic;

pub(super) fn read(path: &Path, bytes: &[u8]) -> Result<super::Rows, Diagnostic> {
    // The csv reader takes an unclosed quote as a value running to the end
    // of the file: the row then has too few fields (reported as a field-count
    // mismatch, far from the quote) or, if the quote was in the last column,
    // just the right number, and the rest of the file is silently one value.
    if let Some((line, column)) = unclosed_quote(bytes) {
        let text = String::from_utf8_lossy(bytes);
        let snippet = text.lines().nth(line - 1).unwrap_or("").chars().take(120).collect::<String>();
        return Err(Diagnostic::new(format!("unclosed quote: the quoted value that opens on line {line} never ends"))
            .in_file(path)
            .at(line, Some(column))
            .with_snippet(snippet, 1)
            .with_hint("end the value with `\"`; a quote inside a quoted value is written twice (`\"\"`)"));
    }
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(bytes);
    let headers = reader.headers().map_err(|e| csv_error(path, &e))?.clone();
    if headers.is_empty() || headers.iter().all(str::is_empty) {
        return Err(Diagnostic::new("CSV file has no header row")
            .in_file(path)
            .at(1, None)
            .with_hint("the first line must name the columns, e.g. `id,question,answer`"));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, name) in headers.iter().enumerate() {
        if name.trim().is_empty() {
            return Err(Diagnostic::new(format!("column {} of the CSV header has no name", i + 1))
                .in_file(path)
                .at(1, None));
        }
        if !seen.insert(name) {
            return Err(Diagnostic::new(format!("the CSV header names column `{name}` twice"))
                .in_file(path)
                .at(1, None));
        }
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(path, &e))?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let fields =
            headers.iter().zip(record.iter()).map(|(k, v)| (k.to_owned(), Value::String(v.to_owned()))).collect();
        rows.push((Position::Line(line), fields));
    }
    Ok(rows)
}

/// Where a quoted value opens that is never closed, as (line, column), both
/// 1-based, the column in characters. Follows the csv reader's rules: a
/// quote opens a value only at the start of a field, and `""` inside one is
/// a quote, not its end.
fn unclosed_quote(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut line = 1;
    let mut line_start = 0;
    let mut field_start = true;
    let mut open: Option<(usize, usize)> = None;
    let mut i = if bytes.starts_with(b"\xef\xbb\xbf") { 3 } else { 0 };
    while i < bytes.len() {
        let byte = bytes[i];
        if open.is_some() {
            match byte {
                b'"' if bytes.get(i + 1) == Some(&b'"') => i += 1,
                b'"' => {
                    open = None;
                    field_start = false;
                }
                _ => {}
            }
        } else {
            match byte {
                b'"' if field_start => {
                    let column = String::from_utf8_lossy(&bytes[line_start..i]).chars().count() + 1;
                    open = Some((line, column));
                    field_start = false;
                }
                b',' | b'\r' => field_start = true,
                b'\n' => field_start = true,
                _ => field_start = false,
            }
        }
        if byte == b'\n' {
            line += 1;
            line_start = i + 1;
        }
        i += 1;
    }
    open
}

fn csv_error(path: &Path, error: &csv::Error) -> Diagnostic {
    let line = error.position().map(|p| p.line() as usize);
    let (message, hint) = match error.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => (
            format!("CSV row has {len} fields but the header has {expected_len}"),
            "quote values that contain commas, quotes or newlines: \"like, this\"",
        ),
        csv::ErrorKind::Utf8 { .. } => ("CSV file is not valid UTF-8".to_owned(), "save the file as UTF-8"),
        _ => (format!("invalid CSV: {error}"), "quote values that contain commas, quotes or newlines: \"like, this\""),
    };
    let mut diagnostic = Diagnostic::new(message).in_file(path).with_hint(hint);
    if let Some(line) = line {
        diagnostic = diagnostic.at(line, None);
    }
    diagnostic
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_values_as_written() {
        let rows = read(Path::new("d.csv"), b"id,answer\n007,\"a, b\"\n").unwrap();
        assert_eq!(rows[0].0, Position::Line(2));
        assert_eq!(rows[0].1["id"], Value::String("007".into()));
        assert_eq!(rows[0].1["answer"], Value::String("a, b".into()));
    }

    #[test]
    fn an_unclosed_quote_names_where_it_opens() {
        // In the last column the row still has the header's field count.
        for (text, line, column) in [
            ("id,answer\n1,\"Paris\n2,Berlin\n", 2, 3),
            ("id,answer\n1,\"a \"\"b\"\"\"\n2,x\n\"3,y\n", 4, 1),
            ("\u{feff}\"id\",answer\n2,\"é,a\n", 2, 3),
        ] {
            let error = read(Path::new("d.csv"), text.as_bytes()).unwrap_err();
            assert!(error.message.starts_with("unclosed quote"), "{text:?}: {}", error.message);
            assert_eq!((error.line, error.column), (Some(line), Some(column)), "{text:?}");
        }
        // Quotes inside a value that is not quoted are text, and `""` is a quote.
        let rows = read(Path::new("d.csv"), b"id,answer\n1,5\" tall\n2,\"say \"\"hi\"\"\"\n").unwrap();
        assert_eq!(rows[0].1["answer"], "5\" tall");
        assert_eq!(rows[1].1["answer"], "say \"hi\"");
    }

    #[test]
    fn unequal_rows_name_the_line() {
        let error = read(Path::new("d.csv"), b"id,answer\n1,a\n2,b,c\n").unwrap_err();
        assert_eq!(error.message, "CSV row has 3 fields but the header has 2");
        assert_eq!(error.line, Some(3));
    }
}
