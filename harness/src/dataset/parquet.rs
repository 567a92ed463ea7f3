//! Parquet, read with polars; each row becomes a JSON object.

use std::io::Cursor;
use std::path::Path;

use polars::prelude::{AnyValue, ParquetReader, SerReader};
use serde_json::{Map, Number, Value};

use super::Position;
use crate::diagnostic::Diagnostic;

pub(super) fn read(path: &Path, bytes: Vec<u8>) -> Result<super::Rows, Diagnostic> {
    let frame = ParquetReader::new(Cursor::new(bytes)).finish().map_err(|e| {
        Diagnostic::new(format!("cannot read Parquet file: {e}"))
            .in_file(path)
            .with_hint("check the file is Parquet, or set `format` in the dataset table")
    })?;
    let columns = frame.columns();
    let mut rows = Vec::with_capacity(frame.height());
    for row in 0..frame.height() {
        let mut fields = Map::new();
        for column in columns {
            let value = column.get(row).map(|v| to_json(&v)).unwrap_or(Value::Null);
            fields.insert(column.name().to_string(), value);
        }
        rows.push((Position::Row(row + 1), fields));
    }
    Ok(rows)
}

fn to_json(value: &AnyValue<'_>) -> Value {
    match value {
        AnyValue::Null => Value::Null,
        AnyValue::Boolean(b) => Value::Bool(*b),
        AnyValue::String(s) => Value::String((*s).to_owned()),
        AnyValue::StringOwned(s) => Value::String(s.to_string()),
        AnyValue::Int8(v) => Value::from(*v),
        AnyValue::Int16(v) => Value::from(*v),
        AnyValue::Int32(v) => Value::from(*v),
        AnyValue::Int64(v) => Value::from(*v),
        AnyValue::UInt8(v) => Value::from(*v),
        AnyValue::UInt16(v) => Value::from(*v),
        AnyValue::UInt32(v) => Value::from(*v),
        AnyValue::UInt64(v) => Value::from(*v),
        AnyValue::Float32(v) => Number::from_f64(f64::from(*v)).map_or(Value::Null, Value::Number),
        AnyValue::Float64(v) => Number::from_f64(*v).map_or(Value::Null, Value::Number),
        AnyValue::List(series) => Value::Array(series.iter().map(|v| to_json(&v)).collect()),
        // Dates, times, structs and the rest: their display form is what a prompt wants.
        other => Value::String(other.to_string()),
    }
}
