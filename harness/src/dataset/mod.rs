//! Datasets: files in, [`Sample`]s with stable ids out.
//!
//! JSONL and CSV are read with dedicated readers, so values arrive exactly as
//! written (a CSV `007` stays the string `007`; JSON numbers keep their type)
//! and every error names the file line. Parquet is read with polars-parquet
//! after its footer is checked (parquet/footer.rs).

mod csv_file;
mod jsonl;
mod parquet;
mod select;
mod text;

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::diagnostic::Diagnostic;
use crate::suite::schema::{DatasetFormat, DatasetSpec};
pub use select::{few_shot_examples, stable_rank};

/// The rows a format reader returns: where each row is, and its fields.
pub(crate) type Rows = Vec<(Position, Map<String, Value>)>;

/// One dataset row.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Stable id: the id field's value, else a hash of the row's content.
    pub id: String,
    /// The row's fields.
    pub fields: Map<String, Value>,
    /// Where the row is: a line number (JSONL, CSV) or a row number (Parquet).
    pub position: Position,
}

/// Where a row came from, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// 1-based line in a text file.
    Line(usize),
    /// 1-based row in a columnar file.
    Row(usize),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Line(line) => write!(f, "line {line}"),
            Position::Row(row) => write!(f, "row {row}"),
        }
    }
}

/// A loaded dataset.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Its name in the suite.
    pub name: String,
    /// The file it was read from.
    pub path: PathBuf,
    /// Rows after `split`, `limit` and `sample`, in file order.
    pub samples: Vec<Sample>,
    /// sha256 of the file, recorded so a resumed run can tell if data changed.
    pub sha256: String,
}

impl Dataset {
    /// `file:line` (or `file` row N) of a sample, for messages.
    pub fn locate(&self, sample: &Sample) -> String {
        match sample.position {
            Position::Line(line) => format!("{}:{line}", self.path.display()),
            Position::Row(row) => format!("{} row {row}", self.path.display()),
        }
    }
}

/// The format a file extension implies.
pub fn format_from_extension(path: &Path) -> Option<DatasetFormat> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "jsonl" | "ndjson" => Some(DatasetFormat::Jsonl),
        "csv" => Some(DatasetFormat::Csv),
        "parquet" | "pq" => Some(DatasetFormat::Parquet),
        "txt" | "text" | "raw" => Some(DatasetFormat::Text),
        _ => None,
    }
}

/// Read a dataset file, assign ids, apply `split`, `limit` and `sample`.
pub fn load(name: &str, spec: &DatasetSpec, path: &Path, seed: u64) -> Result<Dataset, Diagnostic> {
    let bytes = std::fs::read(path).map_err(|e| {
        let what = if e.kind() == std::io::ErrorKind::NotFound { "not found".to_owned() } else { e.to_string() };
        Diagnostic::new(format!("cannot read dataset `{name}` from `{}`: {what}", path.display()))
            .with_hint("paths in a suite are relative to the suite file")
    })?;
    let format = spec.format.or_else(|| format_from_extension(path)).unwrap_or(DatasetFormat::Jsonl);
    if format != DatasetFormat::Parquet && parquet::looks_like_parquet(&bytes) {
        return Err(parquet_read_as(name, spec, format, path));
    }
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let empty = bytes.is_empty();
    let rows = match format {
        DatasetFormat::Jsonl => jsonl::read(path, &bytes)?,
        DatasetFormat::Csv => csv_file::read(path, &bytes)?,
        DatasetFormat::Parquet => parquet::read(path, bytes)?,
        DatasetFormat::Text => text::read(path, &bytes)?,
    };
    if rows.is_empty() {
        return Err(no_rows(name, format, empty, path));
    }
    let mut samples = assign_ids(name, spec, path, rows)?;
    if let Some(wanted) = &spec.split {
        let field = spec.split_field.as_deref().unwrap_or("split");
        let (kept, others): (Vec<Sample>, Vec<Sample>) =
            samples.into_iter().partition(|s| s.fields.get(field).is_some_and(|v| value_text(v) == *wanted));
        if kept.is_empty() {
            return Err(no_split_rows(name, spec, field, wanted, &others).in_file(path));
        }
        samples = kept;
    }
    if let Some(limit) = spec.limit {
        samples.truncate(limit);
    }
    if let Some(count) = spec.sample {
        samples = select::seeded_subset(samples, count, seed, name);
    }
    Ok(Dataset { name: name.to_owned(), path: path.to_path_buf(), samples, sha256 })
}

/// A Parquet file about to be read as another format.
fn parquet_read_as(name: &str, spec: &DatasetSpec, format: DatasetFormat, path: &Path) -> Diagnostic {
    let as_what = match format {
        DatasetFormat::Jsonl => "JSON Lines",
        DatasetFormat::Csv => "CSV",
        DatasetFormat::Text => "text",
        DatasetFormat::Parquet => "Parquet",
    };
    let hint = if spec.format.is_some() {
        format!("write `format = \"parquet\"` in `[datasets.{name}]`, or remove `format` and name the file `.parquet`")
    } else {
        format!("set `format = \"parquet\"` in `[datasets.{name}]`, or name the file `.parquet`")
    };
    Diagnostic::new(format!(
        "dataset `{name}` is a Parquet file (it begins and ends with `PAR1`), but it is read as {as_what}"
    ))
    .in_file(path)
    .with_hint(hint)
}

/// A file that holds no rows.
fn no_rows(name: &str, format: DatasetFormat, empty: bool, path: &Path) -> Diagnostic {
    let (what, hint) = match format {
        _ if empty => ("the file is empty", "write the dataset into it, or point `path` at another file"),
        DatasetFormat::Jsonl => (
            "every line of the file is blank",
            "write one JSON object per line, such as {\"question\": \"...\", \"answer\": \"...\"}",
        ),
        DatasetFormat::Csv => {
            ("the file has a header row but no rows below it", "add one row per sample below the header")
        }
        DatasetFormat::Parquet => ("the file has columns but no rows", "write the dataset's rows into the file"),
        DatasetFormat::Text => ("the file is blank", "a `text` dataset is one document to score"),
    };
    Diagnostic::new(format!("dataset `{name}` has no rows: {what}")).in_file(path).with_hint(hint)
}

/// No row has `field` = `wanted`: say which values the field does hold (or
/// that no row has it), and suggest the closest.
fn no_split_rows(name: &str, spec: &DatasetSpec, field: &str, wanted: &str, rows: &[Sample]) -> Diagnostic {
    let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for sample in rows {
        if let Some(value) = sample.fields.get(field) {
            *counts.entry(value_text(value)).or_default() += 1;
        }
    }
    let message = format!("dataset `{name}` has no rows with `{field}` = `{wanted}`");
    if counts.is_empty() {
        let fields: Vec<&str> = rows.first().map(|s| s.fields.keys().map(String::as_str).collect()).unwrap_or_default();
        let listed = list(fields.iter().map(|f| format!("`{f}`")), fields.len());
        let key = if spec.split_field.is_some() { "split_field" } else { "split_field` (default `split`)" };
        let hint = match crate::diagnostic::suggest(field, fields.iter().copied()) {
            Some(best) => format!("did you mean `split_field = \"{best}\"`? the rows' fields are {listed}"),
            None => format!(
                "the rows' fields are {listed}: set `{key}` to the one holding the split, or remove `split` to use every row"
            ),
        };
        return Diagnostic::new(format!("{message}: no row has a field `{field}`")).with_hint(hint);
    }
    let listed = list(counts.iter().map(|(value, n)| format!("`{value}` ({n} {})", plural(*n))), counts.len());
    let hint = match crate::diagnostic::suggest(wanted, counts.keys().map(String::as_str)) {
        Some(best) => format!("did you mean `split = \"{best}\"`? `{field}` holds {listed}"),
        None => format!("`{field}` holds {listed}: set `split` in `[datasets.{name}]` to one of them"),
    };
    Diagnostic::new(message).with_hint(hint)
}

/// The first ten items, then how many more.
fn list(items: impl Iterator<Item = String>, total: usize) -> String {
    let mut shown: Vec<String> = items.take(10).collect();
    if total > shown.len() {
        shown.push(format!("and {} more", total - shown.len()));
    }
    shown.join(", ")
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        "row"
    } else {
        "rows"
    }
}

fn assign_ids(
    name: &str,
    spec: &DatasetSpec,
    path: &Path,
    rows: Vec<(Position, Map<String, Value>)>,
) -> Result<Vec<Sample>, Diagnostic> {
    let id_field = match &spec.id_field {
        Some(field) => Some(field.as_str()),
        None if !rows.is_empty() && rows.iter().all(|(_, fields)| fields.get("id").is_some_and(is_id_value)) => {
            Some("id")
        }
        None => None,
    };
    let mut seen = std::collections::HashMap::new();
    let mut samples = Vec::with_capacity(rows.len());
    for (position, fields) in rows {
        let id = match id_field {
            Some(field) => match fields.get(field).filter(|v| is_id_value(v)) {
                Some(value) => value_text(value),
                None => {
                    return Err(Diagnostic::new(format!(
                        "{position} of dataset `{name}` has no usable id in field `{field}`"
                    ))
                    .in_file(path)
                    .at(line_of(position), None)
                    .with_hint("every row needs a string or integer id; remove `id_field` to use content hashes"));
                }
            },
            None => content_hash(&fields),
        };
        let occurrence = seen.entry(id.clone()).or_insert(0usize);
        *occurrence += 1;
        let id = match (id_field, *occurrence) {
            (_, 1) => id,
            // Identical rows hash alike; number the repeats so each keeps a stable id.
            (None, n) => format!("{id}#{n}"),
            (Some(field), _) => {
                return Err(Diagnostic::new(format!(
                    "duplicate id `{id}` in field `{field}` of dataset `{name}` ({position})"
                ))
                .in_file(path)
                .at(line_of(position), None)
                .with_hint("sample ids pair results across runs, so they must be unique"));
            }
        };
        samples.push(Sample { id, fields, position });
    }
    Ok(samples)
}

fn line_of(position: Position) -> usize {
    match position {
        Position::Line(line) | Position::Row(line) => line,
    }
}

fn is_id_value(value: &Value) -> bool {
    matches!(value, Value::String(s) if !s.is_empty()) || value.is_i64() || value.is_u64()
}

/// A value as plain text (strings without quotes).
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// First 16 hex digits of the sha256 of the row's canonical JSON (keys sorted).
fn content_hash(fields: &Map<String, Value>) -> String {
    let sorted: std::collections::BTreeMap<&String, &Value> = fields.iter().collect();
    let canonical = serde_json::to_string(&sorted).unwrap_or_default();
    hex::encode(&Sha256::digest(canonical.as_bytes())[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> DatasetSpec {
        DatasetSpec {
            path: String::new(),
            format: None,
            id_field: None,
            reference_field: None,
            cluster_field: None,
            split: None,
            split_field: None,
            limit: None,
            sample: None,
        }
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn ids_come_from_the_id_field_or_content() {
        let dir = tempfile::tempdir().unwrap();
        let with_ids = write(dir.path(), "a.jsonl", "{\"id\": 7, \"q\": \"x\"}\n{\"id\": \"b\", \"q\": \"y\"}\n");
        let data = load("a", &spec(), &with_ids, 0).unwrap();
        assert_eq!(data.samples.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["7", "b"]);

        let without = write(dir.path(), "b.jsonl", "{\"q\": \"x\"}\n\n{\"q\": \"x\"}\n{\"q\": \"y\"}\n");
        let data = load("b", &spec(), &without, 0).unwrap();
        let ids: Vec<&str> = data.samples.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids[1], format!("{}#2", ids[0]));
        assert_ne!(ids[0], ids[2]);
        assert_eq!(data.samples[2].position, Position::Line(4));
    }

    #[test]
    fn duplicate_ids_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "a.jsonl", "{\"id\": 1}\n{\"id\": 1}\n");
        let error = load("a", &spec(), &path, 0).unwrap_err();
        assert!(error.message.contains("duplicate id `1`"), "{error}");
        assert_eq!(error.line, Some(2));
    }

    #[test]
    fn split_limit_and_sample() {
        let dir = tempfile::tempdir().unwrap();
        let rows: String = (0..20)
            .map(|i| format!("{{\"id\": {i}, \"split\": \"{}\"}}\n", if i % 2 == 0 { "test" } else { "train" }))
            .collect();
        let path = write(dir.path(), "a.jsonl", &rows);
        let mut spec = spec();
        spec.split = Some("test".into());
        spec.limit = Some(8);
        spec.sample = Some(3);
        let first = load("a", &spec, &path, 42).unwrap();
        let again = load("a", &spec, &path, 42).unwrap();
        assert_eq!(first.samples, again.samples);
        assert_eq!(first.samples.len(), 3);
        assert!(first
            .samples
            .iter()
            .all(|s| s.id.parse::<u32>().unwrap() % 2 == 0 && s.id.parse::<u32>().unwrap() < 16));
        let other_seed = load("a", &spec, &path, 7).unwrap();
        assert_ne!(first.samples, other_seed.samples);
    }

    #[test]
    fn a_split_matching_no_row_says_what_the_field_holds() {
        let dir = tempfile::tempdir().unwrap();
        let path =
            write(dir.path(), "a.jsonl", "{\"split\": \"test\"}\n{\"split\": \"train\"}\n{\"split\": \"train\"}\n");
        let mut spec = spec();
        spec.split = Some("tset".into());
        let error = load("a", &spec, &path, 0).unwrap_err();
        assert_eq!(error.message, "dataset `a` has no rows with `split` = `tset`");
        assert_eq!(
            error.hint.as_deref(),
            Some("did you mean `split = \"test\"`? `split` holds `test` (1 row), `train` (2 rows)")
        );
        assert_eq!(error.file.as_deref(), Some(path.as_path()));

        spec.split = Some("dev".into());
        let error = load("a", &spec, &path, 0).unwrap_err();
        assert_eq!(
            error.hint.as_deref(),
            Some("`split` holds `test` (1 row), `train` (2 rows): set `split` in `[datasets.a]` to one of them")
        );

        spec.split_field = Some("splt".into());
        let error = load("a", &spec, &path, 0).unwrap_err();
        assert_eq!(error.message, "dataset `a` has no rows with `splt` = `dev`: no row has a field `splt`");
        assert_eq!(error.hint.as_deref(), Some("did you mean `split_field = \"split\"`? the rows' fields are `split`"));
    }

    #[test]
    fn an_empty_file_says_so() {
        let dir = tempfile::tempdir().unwrap();
        for (name, text, says) in [
            ("a.jsonl", "", "dataset `a` has no rows: the file is empty"),
            ("b.jsonl", "\n  \n", "dataset `a` has no rows: every line of the file is blank"),
            ("c.csv", "id,question\n", "dataset `a` has no rows: the file has a header row but no rows below it"),
        ] {
            let path = write(dir.path(), name, text);
            let error = load("a", &spec(), &path, 0).unwrap_err();
            assert_eq!(error.message, says);
            assert_eq!(error.file.as_deref(), Some(path.as_path()));
            assert!(error.hint.is_some());
        }
    }

    #[test]
    fn a_parquet_file_read_as_another_format_says_it_is_parquet() {
        let dir = tempfile::tempdir().unwrap();
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parquet/text.parquet");
        let path = dir.path().join("data.dat");
        std::fs::copy(fixture, &path).unwrap();
        let error = load("qa", &spec(), &path, 0).unwrap_err();
        assert_eq!(
            error.message,
            "dataset `qa` is a Parquet file (it begins and ends with `PAR1`), but it is read as JSON Lines"
        );
        assert_eq!(
            error.hint.as_deref(),
            Some("set `format = \"parquet\"` in `[datasets.qa]`, or name the file `.parquet`")
        );
        let mut spec = spec();
        spec.format = Some(DatasetFormat::Parquet);
        assert_eq!(load("qa", &spec, &path, 0).unwrap().samples.len(), 4);
    }

    #[test]
    fn missing_file_says_where_paths_are_relative_to() {
        let error = load("qa", &spec(), Path::new("/nonexistent/qa.jsonl"), 0).unwrap_err();
        assert!(
            error.to_string().contains("cannot read dataset `qa` from `/nonexistent/qa.jsonl`: not found"),
            "{error}"
        );
    }
}
