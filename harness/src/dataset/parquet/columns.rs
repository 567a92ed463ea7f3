//! Which Parquet types are read, and as what.
//!
//! Each top-level column gets a [`Node`] tree saying how its values become
//! JSON, and the Arrow type polars-parquet decodes it to. The Arrow type keeps
//! the nesting polars-parquet derives from the Parquet schema (lists, structs,
//! maps), but every leaf is decoded to its *physical* type (32- and 64-bit
//! integers, bytes) and the logical type (int8, decimal, date, UUID, float16)
//! is applied here. One decoder path per physical type means every logical
//! type reads, including those polars' own conversions refused or panicked
//! on (int8, float16, decimals wider than 16 bytes, dates far out of range).

use polars_arrow::datatypes::{ArrowDataType, Field, TimeUnit as ArrowTimeUnit};
use polars_parquet::parquet::schema::types::{
    IntegerType, PhysicalType, PrimitiveConvertedType, PrimitiveLogicalType, PrimitiveType, TimeUnit,
};

use super::Problem;

/// How one value of a column becomes JSON.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    /// true / false.
    Bool,
    /// An integer stored as a 32- or 64-bit signed integer; `unsigned` ones
    /// reinterpret its bits, as the Parquet format says they are stored.
    Int { unsigned: bool },
    /// A 32-bit float, as the shortest decimal that reads back the same.
    Float32,
    /// A 64-bit float.
    Float64,
    /// A half-precision float, stored as two little-endian bytes.
    Float16,
    /// A decimal with this many digits after the point, as exact text.
    Decimal { scale: usize },
    /// Days since 1970-01-01, as `YYYY-MM-DD`.
    Date,
    /// Time of day in this unit, as `HH:MM:SS[.fraction]`.
    Time(Unit),
    /// A timestamp in this unit, as ISO 8601; `utc` ones end in `Z`.
    Timestamp { unit: Unit, utc: bool },
    /// UTF-8 text (STRING, ENUM and JSON columns).
    Text,
    /// Bytes: text if they are UTF-8, else standard base64.
    Binary,
    /// A 16-byte UUID, as `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
    Uuid,
    /// A list (or fixed-size list, or map entries) of values.
    List(Box<Node>),
    /// A struct: named fields.
    Struct(Vec<(String, Node)>),
}

/// A time unit, as a number of units per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unit {
    Millis,
    Micros,
    Nanos,
}

impl Unit {
    /// Units in one second.
    pub(super) fn per_second(self) -> i64 {
        match self {
            Unit::Millis => 1_000,
            Unit::Micros => 1_000_000,
            Unit::Nanos => 1_000_000_000,
        }
    }

    /// The unit's name, for messages.
    pub(super) fn name(self) -> &'static str {
        match self {
            Unit::Millis => "milliseconds",
            Unit::Micros => "microseconds",
            Unit::Nanos => "nanoseconds",
        }
    }

    fn from_parquet(unit: TimeUnit) -> Self {
        match unit {
            TimeUnit::Milliseconds => Unit::Millis,
            TimeUnit::Microseconds => Unit::Micros,
            TimeUnit::Nanoseconds => Unit::Nanos,
        }
    }
}

/// The decoding type and conversion of one top-level column. `field` is
/// polars-parquet's Arrow field for the column; `leaves` are the Parquet
/// leaf types under it, in schema order (the order polars-parquet consumes
/// them in).
pub(super) fn plan(field: &Field, leaves: &[&PrimitiveType]) -> Result<(Field, Node), Problem> {
    let mut remaining = leaves.iter();
    let (dtype, node) = walk(&field.dtype, &mut remaining, &field.name)?;
    if remaining.next().is_some() {
        return Err(layout(&field.name));
    }
    Ok((Field::new(field.name.clone(), dtype, field.is_nullable), node))
}

/// A column whose Arrow shape does not match its Parquet leaves (an empty
/// struct polars encodes as a boolean, for one).
fn layout(column: &str) -> Problem {
    Problem::new(
        format!(
            "Parquet column `{column}` has a layout evalkit cannot read (its nested fields do not match its columns)"
        ),
        "write the column as plain values, lists or structs, or leave it out of the file",
    )
}

fn walk<'a>(
    dtype: &ArrowDataType,
    leaves: &mut impl Iterator<Item = &'a &'a PrimitiveType>,
    column: &str,
) -> Result<(ArrowDataType, Node), Problem> {
    let child = |field: &Field, leaves: &mut _| -> Result<(Field, Node), Problem> {
        let (dtype, node) = walk(&field.dtype, leaves, column)?;
        Ok((Field::new(field.name.clone(), dtype, field.is_nullable), node))
    };
    Ok(match dtype {
        ArrowDataType::List(inner) => {
            let (inner, node) = child(inner, leaves)?;
            (ArrowDataType::List(Box::new(inner)), Node::List(Box::new(node)))
        }
        ArrowDataType::LargeList(inner) => {
            let (inner, node) = child(inner, leaves)?;
            (ArrowDataType::LargeList(Box::new(inner)), Node::List(Box::new(node)))
        }
        ArrowDataType::FixedSizeList(inner, size) => {
            let (inner, node) = child(inner, leaves)?;
            (ArrowDataType::FixedSizeList(Box::new(inner), *size), Node::List(Box::new(node)))
        }
        // A map is a list of `{key, value}` entries: a Parquet map may repeat
        // a key, and its entries have an order; a JSON object keeps neither.
        ArrowDataType::Map(entries, sorted) => {
            let (entries, node) = child(entries, leaves)?;
            (ArrowDataType::Map(Box::new(entries), *sorted), Node::List(Box::new(node)))
        }
        ArrowDataType::Struct(fields) => {
            if fields.is_empty() {
                return Err(layout(column));
            }
            let mut decoded = Vec::with_capacity(fields.len());
            let mut nodes = Vec::with_capacity(fields.len());
            for field in fields {
                let (field, node) = child(field, leaves)?;
                nodes.push((field.name.to_string(), node));
                decoded.push(field);
            }
            (ArrowDataType::Struct(decoded), Node::Struct(nodes))
        }
        _ => {
            let leaf = leaves.next().ok_or_else(|| layout(column))?;
            leaf_plan(leaf, column)?
        }
    })
}

/// The physical type to decode a leaf to, and how its logical type reads.
fn leaf_plan(leaf: &PrimitiveType, column: &str) -> Result<(ArrowDataType, Node), Problem> {
    use PrimitiveConvertedType as C;
    use PrimitiveLogicalType as L;
    let logical = leaf.logical_type;
    let converted = leaf.converted_type;
    let decimal_scale = match (logical, converted) {
        (Some(L::Decimal(_, scale)), _) | (None, Some(C::Decimal(_, scale))) => Some(scale),
        _ => None,
    };
    Ok(match leaf.physical_type {
        PhysicalType::Boolean => (ArrowDataType::Boolean, Node::Bool),
        PhysicalType::Int32 => (ArrowDataType::Int32, integer_plan(false, logical, converted, decimal_scale)),
        PhysicalType::Int64 => (ArrowDataType::Int64, integer_plan(true, logical, converted, decimal_scale)),
        // INT96 is the legacy Impala/Spark timestamp (Julian day and
        // nanoseconds of the day). Decoded to milliseconds, where
        // polars-parquet's conversion cannot overflow for any day.
        PhysicalType::Int96 => (
            ArrowDataType::Timestamp(ArrowTimeUnit::Millisecond, None),
            Node::Timestamp { unit: Unit::Millis, utc: false },
        ),
        PhysicalType::Float => (ArrowDataType::Float32, Node::Float32),
        PhysicalType::Double => (ArrowDataType::Float64, Node::Float64),
        PhysicalType::ByteArray => {
            let node = match (logical, converted, decimal_scale) {
                (_, _, Some(scale)) => Node::Decimal { scale },
                (Some(L::String | L::Enum | L::Json), _, _) | (None, Some(C::Utf8 | C::Enum | C::Json), _) => {
                    Node::Text
                }
                _ => Node::Binary,
            };
            (ArrowDataType::BinaryView, node)
        }
        PhysicalType::FixedLenByteArray(width) => {
            let node = match (logical, converted, decimal_scale) {
                (_, _, Some(scale)) => Node::Decimal { scale },
                (Some(L::Float16), _, _) if width == 2 => Node::Float16,
                (Some(L::Uuid), _, _) if width == 16 => Node::Uuid,
                (_, Some(C::Interval), _) => {
                    return Err(Problem::new(
                        format!(
                            "Parquet column `{column}` has type INTERVAL, which evalkit does not read: \
                             a span of months, days and milliseconds has no one JSON form \
                             (a month is not a fixed number of days)"
                        ),
                        "write the column as text (such as `P1M2DT3S`) or as a number of a fixed unit, \
                         or leave it out of the file",
                    ))
                }
                _ => Node::Binary,
            };
            (ArrowDataType::FixedSizeBinary(width), node)
        }
    })
}

/// How a 32-bit (`wide` false) or 64-bit integer column reads. An
/// annotation the physical type cannot carry (a date in 64 bits, a
/// millisecond time in 64) is ignored, as polars-parquet ignores it, and the
/// column reads as plain integers.
fn integer_plan(
    wide: bool,
    logical: Option<PrimitiveLogicalType>,
    converted: Option<PrimitiveConvertedType>,
    decimal_scale: Option<usize>,
) -> Node {
    use IntegerType as I;
    use PrimitiveConvertedType as C;
    use PrimitiveLogicalType as L;
    if let Some(scale) = decimal_scale {
        return Node::Decimal { scale };
    }
    match (logical, converted) {
        (Some(L::Date), _) | (None, Some(C::Date)) if !wide => Node::Date,
        (Some(L::Time { unit: TimeUnit::Milliseconds, .. }), _) | (None, Some(C::TimeMillis)) if !wide => {
            Node::Time(Unit::Millis)
        }
        (Some(L::Time { unit: unit @ (TimeUnit::Microseconds | TimeUnit::Nanoseconds), .. }), _) if wide => {
            Node::Time(Unit::from_parquet(unit))
        }
        (None, Some(C::TimeMicros)) if wide => Node::Time(Unit::Micros),
        (Some(L::Timestamp { unit, is_adjusted_to_utc }), _) if wide => {
            Node::Timestamp { unit: Unit::from_parquet(unit), utc: is_adjusted_to_utc }
        }
        // The legacy annotations were always instants in UTC.
        (None, Some(C::TimestampMillis)) if wide => Node::Timestamp { unit: Unit::Millis, utc: true },
        (None, Some(C::TimestampMicros)) if wide => Node::Timestamp { unit: Unit::Micros, utc: true },
        (Some(L::Integer(I::UInt8 | I::UInt16 | I::UInt32 | I::UInt64)), _)
        | (None, Some(C::Uint8 | C::Uint16 | C::Uint32 | C::Uint64)) => Node::Int { unsigned: true },
        _ => Node::Int { unsigned: false },
    }
}

#[cfg(test)]
mod tests {
    use polars_parquet::parquet::schema::types::PrimitiveType;

    use super::*;

    fn leaf(physical: PhysicalType, logical: Option<PrimitiveLogicalType>) -> PrimitiveType {
        let mut leaf = PrimitiveType::from_physical("x".into(), physical);
        leaf.logical_type = logical;
        leaf
    }

    #[test]
    fn leaves_decode_to_their_physical_type() {
        let int8 = leaf(PhysicalType::Int32, Some(PrimitiveLogicalType::Integer(IntegerType::Int8)));
        assert_eq!(leaf_plan(&int8, "x").unwrap(), (ArrowDataType::Int32, Node::Int { unsigned: false }));
        let uint64 = leaf(PhysicalType::Int64, Some(PrimitiveLogicalType::Integer(IntegerType::UInt64)));
        assert_eq!(leaf_plan(&uint64, "x").unwrap(), (ArrowDataType::Int64, Node::Int { unsigned: true }));
        let half = leaf(PhysicalType::FixedLenByteArray(2), Some(PrimitiveLogicalType::Float16));
        assert_eq!(leaf_plan(&half, "x").unwrap(), (ArrowDataType::FixedSizeBinary(2), Node::Float16));
        let wide = leaf(PhysicalType::FixedLenByteArray(32), Some(PrimitiveLogicalType::Decimal(76, 3)));
        assert_eq!(leaf_plan(&wide, "x").unwrap(), (ArrowDataType::FixedSizeBinary(32), Node::Decimal { scale: 3 }));
        let millis_in_int64 = leaf(
            PhysicalType::Int64,
            Some(PrimitiveLogicalType::Time { unit: TimeUnit::Milliseconds, is_adjusted_to_utc: false }),
        );
        assert_eq!(leaf_plan(&millis_in_int64, "x").unwrap().1, Node::Int { unsigned: false }, "not a valid time");
    }

    #[test]
    fn intervals_are_refused_naming_the_column() {
        let mut interval = leaf(PhysicalType::FixedLenByteArray(12), None);
        interval.converted_type = Some(PrimitiveConvertedType::Interval);
        let problem = leaf_plan(&interval, "wait").unwrap_err();
        assert!(problem.message.contains("column `wait` has type INTERVAL"), "{}", problem.message);
    }

    #[test]
    fn a_struct_with_fewer_leaves_than_columns_is_refused() {
        let int = leaf(PhysicalType::Int32, None);
        let field = Field::new("s".into(), ArrowDataType::Struct(vec![]), true);
        assert!(plan(&field, &[&int]).is_err());
        let field = Field::new("i".into(), ArrowDataType::Int32, true);
        assert!(plan(&field, &[&int, &int]).is_err(), "a leaf left over");
        assert!(plan(&field, &[]).is_err(), "a leaf missing");
    }
}
