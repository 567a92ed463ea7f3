//! The one reader of GGUF metadata values: typed, and strict.
//!
//! A missing key is `None`, so each caller states its own default (as
//! llama.cpp does). A key that is present with a value of the wrong type is an
//! error naming the key: silently falling back to a default would change token
//! ids, head counts or RoPE scaling without a word.

use std::collections::HashMap;

use candle_core::quantized::gguf_file::Value;

/// A present metadata key whose value has the wrong type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("GGUF metadata `{key}` should be {expected}")]
pub struct WrongType {
    /// The metadata key.
    pub key: String,
    /// What it should hold.
    pub expected: &'static str,
}

/// Typed access to a GGUF file's metadata.
#[derive(Clone, Copy)]
pub(crate) struct Metadata<'a>(pub(crate) &'a HashMap<String, Value>);

impl<'a> Metadata<'a> {
    fn wrong(key: &str, expected: &'static str) -> WrongType {
        WrongType { key: key.to_owned(), expected }
    }

    /// A string value.
    pub(crate) fn str(&self, key: &str) -> Result<Option<&'a str>, WrongType> {
        match self.0.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(Self::wrong(key, "a string")),
        }
    }

    /// A boolean value.
    pub(crate) fn bool(&self, key: &str) -> Result<Option<bool>, WrongType> {
        match self.0.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(Self::wrong(key, "a boolean")),
        }
    }

    /// A non-negative integer of any width that fits a `u32`.
    pub(crate) fn u32(&self, key: &str) -> Result<Option<u32>, WrongType> {
        self.u64(key)?.map(|v| u32::try_from(v).map_err(|_| Self::wrong(key, "an integer below 2^32"))).transpose()
    }

    /// A non-negative integer of any width.
    pub(crate) fn u64(&self, key: &str) -> Result<Option<u64>, WrongType> {
        match self.0.get(key) {
            None => Ok(None),
            Some(value) => integer(value)
                .and_then(|i| u64::try_from(i).ok())
                .map(Some)
                .ok_or_else(|| Self::wrong(key, "a non-negative integer")),
        }
    }

    /// A number: a float of either width, or an integer.
    pub(crate) fn f64(&self, key: &str) -> Result<Option<f64>, WrongType> {
        match self.0.get(key) {
            None => Ok(None),
            Some(Value::F32(v)) => Ok(Some(f64::from(*v))),
            Some(Value::F64(v)) => Ok(Some(*v)),
            Some(value) => integer(value).map(|i| Some(i as f64)).ok_or_else(|| Self::wrong(key, "a number")),
        }
    }

    /// An array of values of any type.
    pub(crate) fn array(&self, key: &str) -> Result<Option<&'a [Value]>, WrongType> {
        match self.0.get(key) {
            None => Ok(None),
            Some(Value::Array(values)) => Ok(Some(values)),
            Some(_) => Err(Self::wrong(key, "an array")),
        }
    }

    /// An array of strings.
    pub(crate) fn string_array(&self, key: &str) -> Result<Option<Vec<&'a str>>, WrongType> {
        let Some(values) = self.array(key)? else { return Ok(None) };
        values
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.as_str()),
                _ => Err(Self::wrong(key, "an array of strings")),
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }
}

/// An integer value of any width, as `i64`; `None` for other types and for
/// `u64` values beyond `i64`.
pub(crate) fn integer(value: &Value) -> Option<i64> {
    match *value {
        Value::U8(v) => Some(v.into()),
        Value::I8(v) => Some(v.into()),
        Value::U16(v) => Some(v.into()),
        Value::I16(v) => Some(v.into()),
        Value::U32(v) => Some(v.into()),
        Value::I32(v) => Some(v.into()),
        Value::U64(v) => i64::try_from(v).ok(),
        Value::I64(v) => Some(v),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_is_none_and_wrong_types_name_the_key() {
        let map = HashMap::from([
            ("a.count".to_owned(), Value::U32(7)),
            ("a.name".to_owned(), Value::String("x".into())),
            ("a.scale".to_owned(), Value::F32(0.5)),
        ]);
        let metadata = Metadata(&map);
        assert_eq!(metadata.u64("a.count"), Ok(Some(7)));
        assert_eq!(metadata.f64("a.count"), Ok(Some(7.0)));
        assert_eq!(metadata.f64("a.scale"), Ok(Some(0.5)));
        assert_eq!(metadata.u32("a.missing"), Ok(None));
        let error = metadata.u64("a.name").unwrap_err();
        assert_eq!(error.to_string(), "GGUF metadata `a.name` should be a non-negative integer");
        assert!(metadata.str("a.count").is_err());
    }
}
