//! Reading reference answers out of a sample's fields.
//!
//! A reference field may hold one answer (a string or a number) or an array
//! of acceptable answers; metrics score against each and keep the best.

use serde_json::Value;

use crate::Fields;

/// The dataset field reference answers are read from unless a metric says otherwise.
pub(crate) const DEFAULT_FIELD: &str = "answer";

/// The acceptable answers held in `fields[field]`, as text.
///
/// Numbers become their JSON text (`42`, `2.5`). Returns the cause for
/// [`Score::invalid`](crate::Score::invalid) when the field is missing or holds
/// something that is not an answer.
pub(crate) fn references(fields: &Fields, field: &str) -> Result<Vec<String>, String> {
    let Some(value) = fields.get(field) else {
        return Err(missing_field(fields, field));
    };
    match value {
        Value::Array(items) if items.is_empty() => Err(format!(
            "field \"{field}\" is an empty array: list at least one acceptable answer (use \"\" for \"no answer\")"
        )),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                as_text(item).ok_or_else(|| {
                    format!(
                        "field \"{field}\" item {i} is {}: acceptable answers must be strings or numbers",
                        describe(item)
                    )
                })
            })
            .collect(),
        other => as_text(other).map(|text| vec![text]).ok_or_else(|| {
            format!("field \"{field}\" is {}: expected a string, a number, or an array of them", describe(other))
        }),
    }
}

fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Names the fields the sample does have, since the usual cause is a metric
/// pointing at the wrong one.
fn missing_field(fields: &Fields, field: &str) -> String {
    const SHOWN: usize = 10;
    let mut names: Vec<String> = fields.keys().take(SHOWN).map(|k| format!("\"{k}\"")).collect();
    if fields.len() > SHOWN {
        names.push(format!("and {} more", fields.len() - SHOWN));
    }
    let has = if names.is_empty() { "it has no fields".to_owned() } else { format!("it has {}", names.join(", ")) };
    format!("sample has no field \"{field}\" ({has}): set `reference` on the metric to the field holding the answer")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::fields;

    #[test]
    fn reads_strings_numbers_and_arrays() {
        let f = fields(json!({"a": "Paris", "n": 42, "x": 2.5, "list": ["x", 7]}));
        assert_eq!(references(&f, "a").unwrap(), ["Paris"]);
        assert_eq!(references(&f, "n").unwrap(), ["42"]);
        assert_eq!(references(&f, "x").unwrap(), ["2.5"]);
        assert_eq!(references(&f, "list").unwrap(), ["x", "7"]);
    }

    #[test]
    fn missing_field_names_the_field_and_the_alternatives() {
        let f = fields(json!({"question": "q", "gold": "g"}));
        let cause = references(&f, "answer").unwrap_err();
        assert!(cause.contains("no field \"answer\""), "{cause}");
        assert!(cause.contains("\"question\", \"gold\""), "{cause}");
        let cause = references(&Fields::new(), "answer").unwrap_err();
        assert!(cause.contains("it has no fields"), "{cause}");
    }

    #[test]
    fn rejects_values_that_are_not_answers() {
        let f = fields(json!({"b": true, "o": {}, "empty": [], "nested": ["a", ["b"]], "null": null}));
        assert!(references(&f, "b").unwrap_err().contains("is a boolean"));
        assert!(references(&f, "o").unwrap_err().contains("is an object"));
        assert!(references(&f, "empty").unwrap_err().contains("empty array"));
        assert!(references(&f, "nested").unwrap_err().contains("item 1 is an array"));
        assert!(references(&f, "null").unwrap_err().contains("is null"));
    }
}
