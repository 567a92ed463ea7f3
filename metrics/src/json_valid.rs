//! `json_valid`: the output is JSON, optionally matching a JSON Schema.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::json_extract::find_json;
use crate::{ready, BoxFuture, ConfigError, Direction, Metric, Scale, Score, ScoreContext};

/// Settings for `kind = "json_valid"`: 1 when the output is valid JSON (and,
/// with a schema, valid against it), else 0.
///
/// ```toml
/// [[metrics]]
/// kind = "json_valid"
/// schema = { type = "object", required = ["name", "age"], properties = { age = { type = "integer" } } }
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct JsonValidConfig {
    /// Name the results are reported under, unique within the suite.
    /// Type: string. Default: `"json_valid"`. Example: `name = "valid_person"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When the whole output is not JSON, look for JSON inside it: the first
    /// ```` ```json ```` fenced block if there is one, else the span from the
    /// first `{` or `[` to the last matching `}` or `]` (or, failing that, the
    /// first complete JSON value starting there). With `false` the whole
    /// output, trimmed, must be JSON.
    /// Type: bool. Default: `true`. Example: `extract = false`.
    pub extract: bool,
    /// A JSON Schema the JSON must satisfy, written inline as a TOML table
    /// (draft detected from `$schema`, else 2020-12; remote `$ref`s are not fetched).
    /// Type: table. Default: none. Example: `schema = { type = "array", items = { type = "string" } }`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    /// A file holding the JSON Schema, as JSON, instead of `schema`; relative paths are relative to
    /// the suite file. Set `schema` or `schema_file`, not both.
    /// Type: string. Default: none. Example: `schema_file = "schemas/person.json"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_file: Option<PathBuf>,
}

impl Default for JsonValidConfig {
    fn default() -> Self {
        JsonValidConfig { name: None, extract: true, schema: None, schema_file: None }
    }
}

/// At most this many schema violations are listed in a score's details.
const MAX_ERRORS_SHOWN: usize = 5;
/// Violation messages quote the offending value, which may be the whole output.
const MAX_MESSAGE_CHARS: usize = 300;

/// The `json_valid` metric. Details: `found_in` (`"whole"`, `"fenced_block"`
/// or `"span"`), and on failure `error` (the parse error) or `schema_errors`
/// (up to five `{ path, message }`, `path` a JSON pointer into the output's
/// JSON) with `schema_error_count`.
#[derive(Debug, Clone)]
pub struct JsonValid {
    name: String,
    extract: bool,
    validator: Option<jsonschema::Validator>,
}

impl JsonValid {
    /// A `json_valid` metric with these settings. Reads `schema_file` now, and
    /// fails when it cannot be read or either schema is invalid.
    pub fn new(config: JsonValidConfig) -> Result<Self, ConfigError> {
        let name = config.name.unwrap_or_else(|| "json_valid".to_owned());
        let schema = match (config.schema, config.schema_file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Conflict { metric: name, first: "schema", second: "schema_file" })
            }
            (Some(schema), None) => Some(schema),
            (None, Some(path)) => Some(read_schema_file(&name, &path)?),
            (None, None) => None,
        };
        let validator = schema
            .map(|schema| {
                jsonschema::validator_for(&schema).map_err(|err| ConfigError::InvalidSchema {
                    metric: name.clone(),
                    schema_path: err.instance_path().to_string(),
                    message: truncate(&err.to_string()),
                })
            })
            .transpose()?;
        Ok(JsonValid { name, extract: config.extract, validator })
    }
}

fn read_schema_file(metric: &str, path: &Path) -> Result<Value, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::SchemaFile {
        metric: metric.to_owned(),
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|err| ConfigError::SchemaFileNotJson {
        metric: metric.to_owned(),
        path: path.to_owned(),
        message: err.to_string(),
    })
}

/// The first `MAX_MESSAGE_CHARS` characters of `message`, marked when cut.
fn truncate(message: &str) -> String {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message.to_owned(),
    }
}

impl Metric for JsonValid {
    fn name(&self) -> &str {
        &self.name
    }

    fn scale(&self) -> Scale {
        Scale::Binary
    }

    fn direction(&self) -> Direction {
        Direction::HigherIsBetter
    }

    fn score<'a>(&'a self, input: &'a ScoreContext<'a>) -> BoxFuture<'a, Score> {
        ready(self.score_sample(input))
    }
}

impl JsonValid {
    /// Score from the sample and the response alone (no model calls).
    fn score_sample(&self, input: &ScoreContext<'_>) -> Score {
        let (value, found_in) = match find_json(&input.response.text, self.extract) {
            Ok(found) => found,
            Err((error, tried)) => {
                return Score::pass(false).with_detail("found_in", tried.as_str()).with_detail("error", error);
            }
        };
        let score = Score::pass(true).with_detail("found_in", found_in.as_str());
        let Some(validator) = &self.validator else {
            return score;
        };
        let mut shown = Vec::new();
        let mut count = 0_usize;
        for error in validator.iter_errors(&value) {
            if shown.len() < MAX_ERRORS_SHOWN {
                shown.push(serde_json::json!({
                    "path": error.instance_path().to_string(),
                    "message": truncate(&error.to_string()),
                }));
            }
            count += 1;
        }
        if count == 0 {
            return score;
        }
        Score::pass(false)
            .with_detail("found_in", found_in.as_str())
            .with_detail("schema_errors", shown)
            .with_detail("schema_error_count", count)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use serde_json::json;

    use super::*;
    use crate::testing::{fields, score};

    fn metric(config: JsonValidConfig) -> JsonValid {
        JsonValid::new(config).unwrap()
    }

    fn check(m: &JsonValid, text: &str) -> Score {
        score(m, &fields(json!({})), text)
    }

    #[test]
    fn whole_output() {
        let m = metric(JsonValidConfig::default());
        let s = check(&m, " {\"a\": [1, 2]}\n");
        assert_eq!(s.value, 1.0);
        assert_eq!(s.details["found_in"], "whole");
        assert_eq!(check(&m, "42").value, 1.0);
        assert_eq!(check(&m, "\"héllo ✓\"").value, 1.0);
    }

    #[test]
    fn invalid_and_empty_outputs_score_zero_with_the_error() {
        let m = metric(JsonValidConfig::default());
        for text in ["", "   ", "not json", "{\"a\": }", "[1, 2", "{'a': 1}"] {
            let s = check(&m, text);
            assert_eq!(s.value, 0.0, "{text:?}");
            assert!(s.cause.is_none());
            assert!(s.details["error"].as_str().is_some_and(|e| !e.is_empty()), "{text:?}: {s:?}");
        }
    }

    #[test]
    fn extraction_is_reported_and_can_be_turned_off() {
        let text = "Sure:\n```json\n{\"a\": 1}\n```";
        let s = check(&metric(JsonValidConfig::default()), text);
        assert_eq!((s.value, &s.details["found_in"]), (1.0, &json!("fenced_block")));
        let s = check(&metric(JsonValidConfig { extract: false, ..Default::default() }), text);
        assert_eq!((s.value, &s.details["found_in"]), (0.0, &json!("whole")));
    }

    #[test]
    fn schema_violations_are_listed_with_paths() {
        let schema = json!({"type": "object", "required": ["name"], "properties": {"age": {"type": "integer"}}});
        let m = metric(JsonValidConfig { schema: Some(schema), ..Default::default() });
        assert_eq!(check(&m, r#"{"name": "Ada", "age": 36}"#).value, 1.0);
        let s = check(&m, r#"{"age": "old"}"#);
        assert_eq!(s.value, 0.0);
        assert_eq!(s.details["schema_error_count"], 2);
        let errors = s.details["schema_errors"].as_array().unwrap();
        assert!(errors.iter().any(|e| e["path"] == "/age" && e["message"].as_str().unwrap().contains("integer")));
        assert!(errors.iter().any(|e| e["message"].as_str().unwrap().contains("\"name\" is a required property")));
    }

    #[test]
    fn at_most_five_errors_are_shown() {
        let schema = json!({"type": "array", "items": {"type": "string"}});
        let m = metric(JsonValidConfig { schema: Some(schema), ..Default::default() });
        let s = check(&m, "[1, 2, 3, 4, 5, 6, 7]");
        assert_eq!(s.details["schema_errors"].as_array().unwrap().len(), MAX_ERRORS_SHOWN);
        assert_eq!(s.details["schema_error_count"], 7);
    }

    #[test]
    fn schema_file_is_read_at_build_time() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(file, r#"{{"type": "array"}}"#).unwrap();
        let m = metric(JsonValidConfig { schema_file: Some(file.path().to_owned()), ..Default::default() });
        assert_eq!(check(&m, "[]").value, 1.0);
        assert_eq!(check(&m, "{}").value, 0.0);
    }

    #[test]
    fn schema_config_errors() {
        let missing = JsonValidConfig { schema_file: Some("no/such/schema.json".into()), ..Default::default() };
        let err = JsonValid::new(missing).unwrap_err().to_string();
        assert!(err.starts_with("metric \"json_valid\": cannot read schema_file \"no/such/schema.json\":"), "{err}");

        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(file, "type = 'array'").unwrap();
        let not_json = JsonValidConfig { schema_file: Some(file.path().to_owned()), ..Default::default() };
        let err = JsonValid::new(not_json).unwrap_err().to_string();
        assert!(err.contains("is not valid JSON"), "{err}");

        let bad = JsonValidConfig { schema: Some(json!({"type": "strng"})), ..Default::default() };
        let err = JsonValid::new(bad).unwrap_err().to_string();
        assert!(err.starts_with("metric \"json_valid\": invalid JSON Schema at /type:"), "{err}");

        let both = JsonValidConfig { schema: Some(json!({})), schema_file: Some("x".into()), ..Default::default() };
        let err = JsonValid::new(both).unwrap_err().to_string();
        assert!(err.contains("either `schema` or `schema_file`"), "{err}");
    }

    #[test]
    fn truncates_long_messages_on_char_boundaries() {
        let long = "é".repeat(MAX_MESSAGE_CHARS + 10);
        let cut = truncate(&long);
        assert_eq!(cut.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(truncate("short"), "short");
    }
}
