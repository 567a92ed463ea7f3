//! Errors found while turning a suite's metric settings into metrics.

use std::path::PathBuf;

/// A metric's settings cannot be used. Each message says what is wrong and,
/// where it can, how to fix it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `name = ""`.
    #[error("a {kind} metric has an empty `name`: give it a non-empty name, or remove `name` to use \"{kind}\"")]
    EmptyName {
        /// The metric's kind.
        kind: &'static str,
    },

    /// Two settings that exclude each other are both set.
    #[error("metric \"{metric}\": set either `{first}` or `{second}`, not both")]
    Conflict {
        /// The metric's name.
        metric: String,
        /// One setting.
        first: &'static str,
        /// The other.
        second: &'static str,
    },

    /// A setting has a value that cannot work.
    #[error("metric \"{metric}\": `{setting}` {problem}")]
    InvalidSetting {
        /// The metric's name.
        metric: String,
        /// The setting.
        setting: &'static str,
        /// What is wrong with it, and what to do instead.
        problem: String,
    },

    /// `pattern` does not compile.
    #[error("metric \"{metric}\": invalid regex {pattern:?}: {message}")]
    InvalidRegex {
        /// The metric's name.
        metric: String,
        /// The pattern as written.
        pattern: String,
        /// The `regex` crate's explanation (it points at the offending part).
        message: String,
    },

    /// `group` names a capture group the pattern does not have.
    #[error("metric \"{metric}\": the pattern {pattern:?} has no capture group {group}; it has {available}")]
    UnknownGroup {
        /// The metric's name.
        metric: String,
        /// The pattern as written.
        pattern: String,
        /// The group asked for (an index or a quoted name).
        group: String,
        /// The groups it does have.
        available: String,
    },

    /// `schema_file` cannot be read.
    #[error("metric \"{metric}\": cannot read schema_file \"{}\": {source}", path.display())]
    SchemaFile {
        /// The metric's name.
        metric: String,
        /// The path, as the harness resolved it.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },

    /// `schema_file` is not JSON.
    #[error("metric \"{metric}\": schema_file \"{}\" is not valid JSON: {message}", path.display())]
    SchemaFileNotJson {
        /// The metric's name.
        metric: String,
        /// The path, as the harness resolved it.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },

    /// The JSON Schema itself is invalid (or refers to something that cannot be resolved).
    #[error("metric \"{metric}\": invalid JSON Schema{}: {message}", at_path(.schema_path))]
    InvalidSchema {
        /// The metric's name.
        metric: String,
        /// Where in the schema the problem is (a JSON pointer; empty for the root).
        schema_path: String,
        /// What is wrong.
        message: String,
    },

    /// A price in `[prices."model"]` is negative or not a number.
    #[error(
        "price for model \"{model}\": `{field}` is {value}; prices are USD per million tokens and must be zero or more"
    )]
    InvalidPrice {
        /// The model the price is for.
        model: String,
        /// `input`, `output` or `cached_input`.
        field: &'static str,
        /// The value given.
        value: f64,
    },
}

impl ConfigError {
    /// The key of the metric's settings the problem is in, so the
    /// diagnostic can point at it rather than at the `[[metrics]]` header.
    pub fn setting(&self) -> Option<&'static str> {
        match self {
            ConfigError::EmptyName { .. } => Some("name"),
            ConfigError::Conflict { second, .. } => Some(second),
            ConfigError::InvalidSetting { setting, .. } => Some(setting),
            ConfigError::InvalidRegex { .. } => Some("pattern"),
            ConfigError::UnknownGroup { .. } => Some("group"),
            ConfigError::SchemaFile { .. } | ConfigError::SchemaFileNotJson { .. } => Some("schema_file"),
            ConfigError::InvalidSchema { .. } => Some("schema"),
            ConfigError::InvalidPrice { .. } => None,
        }
    }
}

fn at_path(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!(" at {path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_metric_and_the_fix() {
        let err = ConfigError::Conflict { metric: "c".into(), first: "reference", second: "value" };
        assert_eq!(err.to_string(), "metric \"c\": set either `reference` or `value`, not both");
        let err = ConfigError::EmptyName { kind: "exact_match" };
        assert!(err.to_string().contains("remove `name` to use \"exact_match\""));
        let err = ConfigError::InvalidSchema { metric: "j".into(), schema_path: "/type".into(), message: "bad".into() };
        assert_eq!(err.to_string(), "metric \"j\": invalid JSON Schema at /type: bad");
        let err = ConfigError::InvalidSchema { metric: "j".into(), schema_path: String::new(), message: "bad".into() };
        assert_eq!(err.to_string(), "metric \"j\": invalid JSON Schema: bad");
    }
}
