//! Parquet: each row becomes a JSON object.
//!
//! The file is checked first ([`footer::check`]: framing, footer, offsets,
//! page headers, and sizes bounded by the file's size), then each column
//! chunk is decoded with polars-parquet to Arrow arrays of its physical type
//! ([`columns`]), and each value becomes JSON ([`values`]). Types that have no
//! faithful JSON form are refused up front, naming the column. A panic the
//! checks did not foresee becomes an error naming the file ([`guard`]).

mod calendar;
mod columns;
mod footer;
mod guard;
mod values;

use std::collections::HashSet;
use std::io::Cursor;
use std::path::Path;

use polars_arrow::array::Array;
use polars_arrow::datatypes::{Field, TimeUnit};
use polars_buffer::Buffer;
use polars_parquet::arrow::read::column_iter_to_arrays;
use polars_parquet::arrow::read::schema::{parquet_to_arrow_schema_with_options, SchemaInferenceOptions};
use polars_parquet::parquet::metadata::{FileMetadata, RowGroupMetadata};
use polars_parquet::parquet::read::{deserialize_metadata, BasicDecompressor, PageReader};
use serde_json::{Map, Value};

use super::Position;
use crate::diagnostic::Diagnostic;
use columns::Node;
use footer::{CORRUPT, MAGIC};

/// What is wrong with a Parquet file, and how to fix it.
#[derive(Debug)]
pub(super) struct Problem {
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

impl Problem {
    fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Problem { message: message.into(), hint: hint.into() }
    }
}

/// Whether `bytes` are framed as Parquet: the magic `PAR1` at both ends.
pub(super) fn looks_like_parquet(bytes: &[u8]) -> bool {
    bytes.len() >= 12 && bytes.starts_with(MAGIC) && bytes.ends_with(MAGIC)
}

/// Read every row of a Parquet file.
pub(super) fn read(path: &Path, bytes: Vec<u8>) -> Result<super::Rows, Diagnostic> {
    let diagnose = |problem: Problem| Diagnostic::new(problem.message).in_file(path).with_hint(problem.hint);
    let checked = footer::check(&bytes).map_err(diagnose)?;
    let rows = guard::catch(|| decode(bytes, &checked)).unwrap_or_else(|panic| Err(decoder_panic(&panic, None)));
    rows.map_err(diagnose)
}

/// A panic inside polars-parquet: the file is corrupt in a way the checks
/// did not catch.
fn decoder_panic(panic: &str, column: Option<(&str, usize)>) -> Problem {
    let place = column.map_or_else(String::new, |(name, group)| format!(" in column `{name}` (row group {group})"));
    Problem::new(
        format!("the Parquet decoder failed{place}: {panic}"),
        format!("{CORRUPT}; if another reader opens it, this is a bug in evalkit: please report it with the file"),
    )
}

/// A column to read: the field to decode it as and how its values read.
struct Column {
    field: Field,
    node: Node,
}

/// Decode a checked file row group by row group, column by column.
fn decode(bytes: Vec<u8>, checked: &footer::Checked) -> Result<super::Rows, Problem> {
    let metadata = deserialize_metadata(Buffer::from_vec(checked.canonical.clone()))
        .map_err(|e| Problem::new(format!("Parquet footer is corrupt: {e}"), CORRUPT))?;
    let columns = plan(&metadata)?;
    let data = Buffer::from_vec(bytes);
    let mut rows = Vec::with_capacity(usize::try_from(checked.rows).unwrap_or(0));
    for (index, group) in metadata.row_groups.iter().enumerate() {
        let first_row = rows.len();
        let mut table: Vec<std::vec::IntoIter<Value>> = Vec::with_capacity(columns.len());
        for column in &columns {
            let arrays = decode_chunk(&data, group, column, index)?;
            table.push(to_values(column, &arrays, group.num_rows(), first_row)?.into_iter());
        }
        for row in 0..group.num_rows() {
            let mut fields = Map::new();
            for (column, values) in columns.iter().zip(table.iter_mut()) {
                fields.insert(column.field.name.to_string(), values.next().unwrap_or(Value::Null));
            }
            rows.push((Position::Row(first_row + row + 1), fields));
        }
    }
    Ok(rows)
}

/// How each top-level column is decoded and read; refuses duplicate names
/// and types without a JSON form.
fn plan(metadata: &FileMetadata) -> Result<Vec<Column>, Problem> {
    let mut names = HashSet::new();
    for field in metadata.schema().fields() {
        if !names.insert(field.name()) {
            return Err(Problem::new(
                format!("the Parquet schema names column `{}` twice", field.name()),
                "give each column its own name before writing the file",
            ));
        }
    }
    // INT96 timestamps decode to milliseconds: in nanoseconds, days outside
    // 1677 to 2262 overflow (polars-parquet clamps them to i64::MAX).
    let options = SchemaInferenceOptions { int96_coerce_to_timeunit: TimeUnit::Millisecond };
    let schema = parquet_to_arrow_schema_with_options(metadata.schema().fields(), &Some(options));
    schema
        .iter_values()
        .map(|field| {
            let leaves: Vec<_> = metadata
                .schema()
                .columns()
                .iter()
                .filter(|leaf| leaf.path_in_schema.first().is_some_and(|root| *root == field.name))
                .map(|leaf| &leaf.descriptor.primitive_type)
                .collect();
            let (field, node) = columns::plan(field, &leaves)?;
            Ok(Column { field, node })
        })
        .collect()
}

/// Decode one column of one row group to Arrow arrays, its panics caught
/// and named.
fn decode_chunk(
    data: &Buffer<u8>,
    group: &RowGroupMetadata,
    column: &Column,
    index: usize,
) -> Result<Vec<Box<dyn Array>>, Problem> {
    let name = column.field.name.as_str();
    let chunks: Vec<_> = group.columns_under_root_iter(name).map(Iterator::collect).unwrap_or_default();
    let decoded = guard::catch(|| {
        let mut pages = Vec::with_capacity(chunks.len());
        let mut types = Vec::with_capacity(chunks.len());
        for chunk in &chunks {
            // The footer check put every chunk inside the file.
            let range = chunk.byte_range();
            let bytes = data.clone().sliced(range.start as usize..range.end as usize);
            // No page may be larger than its chunk: the reader's bound on
            // what a page header makes it allocate.
            let limit = bytes.len();
            pages.push(BasicDecompressor::new(PageReader::new(Cursor::new(bytes), chunk, vec![], limit), vec![]));
            types.push(&chunk.descriptor().descriptor.primitive_type);
        }
        column_iter_to_arrays(pages, types, column.field.clone(), None)
    })
    .map_err(|panic| decoder_panic(&panic, Some((name, index))))?;
    let (arrays, _) = decoded.map_err(|e| {
        Problem::new(format!("cannot decode Parquet column `{name}` (row group {index}): {e}"), CORRUPT)
    })?;
    Ok(arrays)
}

/// The values of one column in one row group, which must have `height` rows
/// starting after `first_row`.
fn to_values(
    column: &Column,
    arrays: &[Box<dyn Array>],
    height: usize,
    first_row: usize,
) -> Result<Vec<Value>, Problem> {
    let name = column.field.name.as_str();
    let decoded: usize = arrays.iter().map(|a| a.len()).sum();
    if decoded != height {
        return Err(Problem::new(
            format!("Parquet column `{name}` holds {decoded} values where its row group has {height} rows"),
            CORRUPT,
        ));
    }
    let mut values = Vec::with_capacity(height);
    for array in arrays {
        for index in 0..array.len() {
            let value = values::value(&column.node, array.as_ref(), index).map_err(|what| {
                Problem::new(
                    format!("row {} of Parquet column `{name}` cannot be read: {what}", first_row + values.len() + 1),
                    CORRUPT,
                )
            })?;
            values.push(value);
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests;
