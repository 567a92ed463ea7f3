//! CSV with a header row. Every value is kept as the string written.

use std::path::Path;

use serde_json::Value;

use super::Position;
use crate::diagnostic::Diagnostic;

pub(super) fn read(path: &Path, bytes: &[u8]) -> Result<super::Rows, Diagnostic> {
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

fn csv_error(path: &Path, error: &csv::Error) -> Diagnostic {
    let line = error.position().map(|p| p.line() as usize);
    let message = match error.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("CSV row has {len} fields but the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "CSV file is not valid UTF-8".to_owned(),
        _ => format!("invalid CSV: {error}"),
    };
    let mut diagnostic = Diagnostic::new(message)
        .in_file(path)
        .with_hint("quote values that contain commas, quotes or newlines: \"like, this\"");
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
    fn unequal_rows_name_the_line() {
        let error = read(Path::new("d.csv"), b"id,answer\n1,a\n2,b,c\n").unwrap_err();
        assert_eq!(error.message, "CSV row has 3 fields but the header has 2");
        assert_eq!(error.line, Some(3));
    }
}
