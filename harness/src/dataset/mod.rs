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
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let rows = match format {
        DatasetFormat::Jsonl => jsonl::read(path, &bytes)?,
        DatasetFormat::Csv => csv_file::read(path, &bytes)?,
        DatasetFormat::Parquet => parquet::read(path, bytes)?,
        DatasetFormat::Text => text::read(path, &bytes)?,
    };
    let mut samples = assign_ids(name, spec, path, rows)?;
    if let Some(wanted) = &spec.split {
        let field = spec.split_field.as_deref().unwrap_or("split");
        samples.retain(|s| s.fields.get(field).is_some_and(|v| value_text(v) == *wanted));
        if samples.is_empty() {
            return Err(Diagnostic::new(format!("dataset `{name}` has no rows with `{field}` = `{wanted}`"))
                .in_file(path)
                .with_hint(format!("check `split` and `split_field` in `[datasets.{name}]`")));
        }
    }
    if let Some(limit) = spec.limit {
        samples.truncate(limit);
    }
    if let Some(count) = spec.sample {
        samples = select::seeded_subset(samples, count, seed, name);
    }
    Ok(Dataset { name: name.to_owned(), path: path.to_path_buf(), samples, sha256 })
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
    fn missing_file_says_where_paths_are_relative_to() {
        let error = load("qa", &spec(), Path::new("/nonexistent/qa.jsonl"), 0).unwrap_err();
        assert!(
            error.to_string().contains("cannot read dataset `qa` from `/nonexistent/qa.jsonl`: not found"),
            "{error}"
        );
    }
}
