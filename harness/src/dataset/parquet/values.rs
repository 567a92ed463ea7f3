//! Decoded Arrow arrays to JSON values, following a column's [`Node`].

use base64::Engine as _;
use polars_arrow::array::{
    Array, BinaryViewArray, BooleanArray, FixedSizeBinaryArray, FixedSizeListArray, ListArray, MapArray,
    PrimitiveArray, StructArray,
};
use serde_json::{Map, Number, Value};

use super::calendar;
use super::columns::Node;

/// The most bytes an unscaled decimal may have: 308 digits, the most
/// precision a column may declare (see `footer::MAX_DECIMAL_PRECISION`).
const MAX_DECIMAL_BYTES: usize = 128;

/// Value `index` of `array`, read as `node` says. An error says what is
/// wrong with the value, for the caller to place at its column and row.
pub(super) fn value(node: &Node, array: &dyn Array, index: usize) -> Result<Value, String> {
    if index >= array.len() {
        return Err("a nested value points past the end of its data".to_owned());
    }
    if array.is_null(index) {
        return Ok(Value::Null);
    }
    Ok(match node {
        Node::Bool => Value::Bool(downcast::<BooleanArray>(array)?.value(index)),
        Node::Int { unsigned } => match (integer(array, index)?, unsigned) {
            // Unsigned integers are stored in the signed type of their width.
            (Integer::I32(v), true) => Value::from(v as u32),
            (Integer::I64(v), true) => Value::from(v as u64),
            (Integer::I32(v), false) => Value::from(v),
            (Integer::I64(v), false) => Value::from(v),
        },
        Node::Float32 => float(shortest_f32(downcast::<PrimitiveArray<f32>>(array)?.value(index))),
        Node::Float64 => float(downcast::<PrimitiveArray<f64>>(array)?.value(index)),
        Node::Float16 => {
            let bytes = downcast::<FixedSizeBinaryArray>(array)?.value(index);
            let bits = bytes.try_into().map_err(|_| "a float16 value is not 2 bytes".to_owned())?;
            float(shortest_f16(half::f16::from_le_bytes(bits)))
        }
        Node::Decimal { scale } => Value::String(decimal(array, index, *scale)?),
        Node::Date => Value::String(calendar::date(integer(array, index)?.wide())),
        Node::Time(unit) => {
            let raw = integer(array, index)?.wide();
            Value::String(
                calendar::time_of_day(raw, *unit)
                    .ok_or_else(|| format!("time of day {raw} ({}) is outside one day", unit.name()))?,
            )
        }
        Node::Timestamp { unit, utc } => {
            Value::String(calendar::timestamp(downcast::<PrimitiveArray<i64>>(array)?.value(index), *unit, *utc))
        }
        Node::Text => {
            let bytes = bytes(array, index)?;
            Value::String(
                std::str::from_utf8(bytes)
                    .map_err(|e| format!("text is not valid UTF-8 (at byte {})", e.valid_up_to()))?
                    .to_owned(),
            )
        }
        Node::Binary => {
            let bytes = bytes(array, index)?;
            Value::String(match std::str::from_utf8(bytes) {
                Ok(text) => text.to_owned(),
                Err(_) => base64::engine::general_purpose::STANDARD.encode(bytes),
            })
        }
        Node::Uuid => Value::String(uuid(downcast::<FixedSizeBinaryArray>(array)?.value(index))),
        Node::List(item) => {
            let (items, range) = list(array, index)?;
            let mut values = Vec::with_capacity(range.len());
            for position in range {
                values.push(value(item, items, position)?);
            }
            Value::Array(values)
        }
        Node::Struct(fields) => {
            let array = downcast::<StructArray>(array)?;
            if array.values().len() != fields.len() {
                return Err("a struct has the wrong number of fields".to_owned());
            }
            let mut object = Map::new();
            for ((name, field), values) in fields.iter().zip(array.values()) {
                object.insert(name.clone(), value(field, values.as_ref(), index)?);
            }
            Value::Object(object)
        }
    })
}

fn downcast<T: 'static>(array: &dyn Array) -> Result<&T, String> {
    array.as_any().downcast_ref::<T>().ok_or_else(|| format!("decoded to an unexpected type ({:?})", array.dtype()))
}

/// A value of a 32- or 64-bit integer column.
enum Integer {
    I32(i32),
    I64(i64),
}

impl Integer {
    fn wide(self) -> i64 {
        match self {
            Integer::I32(v) => i64::from(v),
            Integer::I64(v) => v,
        }
    }
}

fn integer(array: &dyn Array, index: usize) -> Result<Integer, String> {
    if let Some(array) = array.as_any().downcast_ref::<PrimitiveArray<i32>>() {
        return Ok(Integer::I32(array.value(index)));
    }
    Ok(Integer::I64(downcast::<PrimitiveArray<i64>>(array)?.value(index)))
}

/// The bytes of a variable- or fixed-size binary value.
fn bytes(array: &dyn Array, index: usize) -> Result<&[u8], String> {
    if let Some(array) = array.as_any().downcast_ref::<FixedSizeBinaryArray>() {
        return Ok(array.value(index));
    }
    Ok(downcast::<BinaryViewArray>(array)?.value(index))
}

/// The child array of a list-like array and the positions of entry `index`.
fn list(array: &dyn Array, index: usize) -> Result<(&dyn Array, std::ops::Range<usize>), String> {
    let any = array.as_any();
    let (items, start, end) = if let Some(list) = any.downcast_ref::<ListArray<i64>>() {
        let (start, end) = list.offsets().start_end(index);
        (list.values().as_ref(), start, end)
    } else if let Some(list) = any.downcast_ref::<ListArray<i32>>() {
        let (start, end) = list.offsets().start_end(index);
        (list.values().as_ref(), start, end)
    } else if let Some(map) = any.downcast_ref::<MapArray>() {
        let (start, end) = map.offsets().start_end(index);
        (map.field().as_ref(), start, end)
    } else {
        let list = downcast::<FixedSizeListArray>(array)?;
        let start = index.checked_mul(list.size()).ok_or("a fixed-size list is too long")?;
        (list.values().as_ref(), start, start.saturating_add(list.size()))
    };
    if start > end || end > items.len() {
        return Err("a list points past the end of its values".to_owned());
    }
    Ok((items, start..end))
}

/// A JSON number; NaN and infinities, which JSON cannot hold, are null.
fn float(value: f64) -> Value {
    Number::from_f64(value).map_or(Value::Null, Value::Number)
}

/// A 32-bit float as the f64 of its shortest decimal form: 0.1f32 reads as
/// 0.1, the number written, not 0.10000000149011612, its exact binary value.
fn shortest_f32(value: f32) -> f64 {
    // Rust prints the shortest decimal that parses back to the same f32.
    value.to_string().parse().unwrap_or(f64::from(value))
}

/// A half-precision float as the f64 of its shortest decimal form (0.1, not
/// 0.0999755859375).
fn shortest_f16(value: half::f16) -> f64 {
    let wide = value.to_f64();
    if !wide.is_finite() {
        return wide;
    }
    // Five significant digits always tell f16 values apart; take the fewest
    // that read back to the same f16.
    (0..5)
        .filter_map(|digits| format!("{wide:.digits$e}").parse::<f64>().ok())
        .find(|candidate| half::f16::from_f64(*candidate) == value)
        .unwrap_or(wide)
}

/// A decimal as exact text (`-3.25`, `0.010`): its unscaled value, from an
/// integer or big-endian two's-complement bytes, with the point `scale`
/// digits from the right. Text, because a JSON number would round to f64 and
/// lose the digits a decimal column exists to keep.
fn decimal(array: &dyn Array, index: usize, scale: usize) -> Result<String, String> {
    let (negative, digits) = if array.as_any().is::<PrimitiveArray<i32>>() || array.as_any().is::<PrimitiveArray<i64>>()
    {
        let unscaled = integer(array, index)?.wide();
        (unscaled < 0, unscaled.unsigned_abs().to_string())
    } else {
        let bytes = bytes(array, index)?;
        if bytes.len() > MAX_DECIMAL_BYTES {
            return Err(format!("a decimal value has {} bytes, more than any precision needs", bytes.len()));
        }
        big_endian_digits(bytes)
    };
    Ok(place_point(negative, &digits, scale))
}

/// The sign and decimal digits of a big-endian two's-complement integer.
fn big_endian_digits(bytes: &[u8]) -> (bool, String) {
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let mut magnitude: Vec<u8> = bytes.to_vec();
    if negative {
        // Two's complement: invert and add one.
        let mut carry = true;
        for byte in magnitude.iter_mut().rev() {
            let (sum, overflow) = (!*byte).overflowing_add(u8::from(carry));
            *byte = sum;
            carry = overflow;
        }
    }
    // Divide by ten until nothing is left, collecting remainders.
    let mut digits = Vec::new();
    while magnitude.iter().any(|&b| b != 0) {
        let mut remainder = 0u32;
        for byte in magnitude.iter_mut() {
            let current = (remainder << 8) | u32::from(*byte);
            *byte = (current / 10) as u8;
            remainder = current % 10;
        }
        digits.push(b'0' + remainder as u8);
    }
    if digits.is_empty() {
        digits.push(b'0');
    }
    digits.reverse();
    (negative, String::from_utf8(digits).unwrap_or_default())
}

/// `digits` with a point `scale` places from the right, zero-padded.
fn place_point(negative: bool, digits: &str, scale: usize) -> String {
    let sign = if negative && digits.bytes().any(|d| d != b'0') { "-" } else { "" };
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (whole, fraction) = padded.split_at(padded.len() - scale);
    format!("{sign}{whole}.{fraction}")
}

/// 16 bytes as a UUID in its canonical lowercase form.
fn uuid(bytes: &[u8]) -> String {
    let hex = hex::encode(bytes);
    if hex.len() != 32 {
        return hex;
    }
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

#[cfg(test)]
mod tests {
    use super::super::columns::Unit;
    use super::*;

    #[test]
    fn decimals_keep_every_digit() {
        assert_eq!(place_point(false, "110", 2), "1.10");
        assert_eq!(place_point(true, "325", 2), "-3.25");
        assert_eq!(place_point(false, "5", 3), "0.005");
        assert_eq!(place_point(true, "0", 2), "0.00", "no negative zero");
        assert_eq!(place_point(false, "42", 0), "42");
        assert_eq!(big_endian_digits(&[0x00, 0x6e]), (false, "110".to_owned()));
        assert_eq!(big_endian_digits(&[0xfe, 0xbb]), (true, "325".to_owned()));
        assert_eq!(big_endian_digits(&[0x80]), (true, "128".to_owned()));
        assert_eq!(big_endian_digits(&[]), (false, "0".to_owned()));
        // 2^255 - 1, the largest 32-byte value: 77 digits, beyond i128.
        let mut max = vec![0xff; 32];
        max[0] = 0x7f;
        assert_eq!(
            big_endian_digits(&max).1,
            "57896044618658097711785492504343953926634992332820282019728792003956564819967"
        );
    }

    #[test]
    fn floats_read_as_written() {
        assert_eq!(shortest_f32(0.1), 0.1);
        assert_eq!(shortest_f16(half::f16::from_f32(0.1)), 0.1);
        assert_eq!(shortest_f16(half::f16::from_f32(1.5)), 1.5);
        // 65500 is the shortest decimal that rounds to the largest f16, 65504.
        assert_eq!(shortest_f16(half::f16::MAX), 65500.0);
        assert_eq!(float(f64::NAN), Value::Null);
    }

    #[test]
    fn values_their_type_cannot_hold_are_errors() {
        let times = PrimitiveArray::<i32>::from_slice([45_296_789, 86_400_000]);
        assert_eq!(value(&Node::Time(Unit::Millis), &times, 0).unwrap(), "12:34:56.789");
        assert_eq!(
            value(&Node::Time(Unit::Millis), &times, 1).unwrap_err(),
            "time of day 86400000 (milliseconds) is outside one day"
        );
        let bytes = BinaryViewArray::from_slice_values([b"ok".as_slice(), b"\xff\x00".as_slice()]);
        assert_eq!(value(&Node::Text, &bytes, 1).unwrap_err(), "text is not valid UTF-8 (at byte 0)");
        assert_eq!(value(&Node::Binary, &bytes, 1).unwrap(), "/wA=", "bytes that are not text as base64");
        assert_eq!(value(&Node::Binary, &bytes, 0).unwrap(), "ok");
        assert!(value(&Node::Text, &bytes, 2).is_err(), "past the end is an error, not a panic");
        // Unsigned integers stored in the signed type of their width.
        let stored = PrimitiveArray::<i32>::from_slice([-1]);
        assert_eq!(value(&Node::Int { unsigned: true }, &stored, 0).unwrap(), u64::from(u32::MAX));
    }

    #[test]
    fn uuids_are_canonical() {
        let bytes: Vec<u8> = (0..16).collect();
        assert_eq!(uuid(&bytes), "00010203-0405-0607-0809-0a0b0c0d0e0f");
    }
}
