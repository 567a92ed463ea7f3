//! The suite-file schema for metrics, and building metrics from it.
//!
//! A suite lists its metrics as `[[metrics]]` tables, each with a `kind` and
//! that kind's settings (see each `*Config` type), and prices models in
//! `[prices."model-name"]` tables ([`Price`]). The harness embeds
//! [`MetricConfig`] in its suite type and calls [`build`] for each entry.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    AgreementConfig, ConfigError, ContainsConfig, CostConfig, ExactMatchConfig, JsonValidConfig, LatencyConfig, Metric,
    MultipleChoiceConfig, PerplexityConfig, RegexConfig, TokenF1Config,
};

/// One `[[metrics]]` entry of a suite: `kind` picks the metric, the other keys
/// are that kind's settings.
///
/// ```toml
/// [[metrics]]
/// kind = "exact_match"
///
/// [[metrics]]
/// kind = "regex"
/// pattern = '####\s*(\S+)'
/// reference = "answer"
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MetricConfig {
    /// `kind = "exact_match"`: the output equals a reference answer.
    ExactMatch(ExactMatchConfig),
    /// `kind = "contains"`: the output contains a reference answer or a fixed text.
    Contains(ContainsConfig),
    /// `kind = "regex"`: a pattern matches, or the answer it extracts equals a reference.
    Regex(RegexConfig),
    /// `kind = "json_valid"`: the output is JSON, optionally valid against a schema.
    JsonValid(JsonValidConfig),
    /// `kind = "token_f1"`: SQuAD token-overlap F1 against a reference answer.
    TokenF1(TokenF1Config),
    /// `kind = "latency"`: response time in seconds.
    Latency(LatencyConfig),
    /// `kind = "cost"`: response cost in USD.
    Cost(CostConfig),
    /// `kind = "perplexity"`: a text's perplexity under a local model.
    Perplexity(PerplexityConfig),
    /// `kind = "multiple_choice"`: the most likely choice is the right one.
    MultipleChoice(MultipleChoiceConfig),
    /// `kind = "agreement"`: the output equals a reference variant's output to the same sample.
    Agreement(AgreementConfig),
}

impl MetricConfig {
    /// The `kind` as written in suites, e.g. `"exact_match"`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            MetricConfig::ExactMatch(_) => "exact_match",
            MetricConfig::Contains(_) => "contains",
            MetricConfig::Regex(_) => "regex",
            MetricConfig::JsonValid(_) => "json_valid",
            MetricConfig::TokenF1(_) => "token_f1",
            MetricConfig::Latency(_) => "latency",
            MetricConfig::Cost(_) => "cost",
            MetricConfig::Perplexity(_) => "perplexity",
            MetricConfig::MultipleChoice(_) => "multiple_choice",
            MetricConfig::Agreement(_) => "agreement",
        }
    }

    /// The name results are reported under: `name` when set, else the kind name.
    pub fn name(&self) -> &str {
        let explicit = match self {
            MetricConfig::ExactMatch(c) => c.name.as_deref(),
            MetricConfig::Contains(c) => c.name.as_deref(),
            MetricConfig::Regex(c) => c.name.as_deref(),
            MetricConfig::JsonValid(c) => c.name.as_deref(),
            MetricConfig::TokenF1(c) => c.name.as_deref(),
            MetricConfig::Latency(c) => c.name.as_deref(),
            MetricConfig::Cost(c) => c.name.as_deref(),
            MetricConfig::Perplexity(c) => c.name.as_deref(),
            MetricConfig::Agreement(c) => c.name.as_deref(),
            MetricConfig::MultipleChoice(c) => c.name.as_deref().or(Some(c.normalize.default_name())),
        };
        explicit.unwrap_or(self.kind_name())
    }
}

/// The price of one model, in USD per million tokens: a suite's
/// `[prices."model-name"]` table.
///
/// ```toml
/// [prices."gpt-4o-mini"]
/// input = 0.15
/// output = 0.60
/// cached_input = 0.075
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// USD per million input (prompt) tokens.
    /// Type: float. Required. Example: `input = 0.15`.
    pub input: f64,
    /// USD per million output tokens, reasoning tokens included.
    /// Type: float. Required. Example: `output = 0.60`.
    pub output: f64,
    /// USD per million input tokens served from the provider's prompt cache.
    /// Type: float. Default: the `input` price. Example: `cached_input = 0.075`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input: Option<f64>,
}

/// What building a metric may need from the rest of the suite.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BuildContext {
    /// Model name to price, from the suite's `[prices."model-name"]` tables.
    pub prices: BTreeMap<String, Price>,
    /// The suite's backends by name, with what each can do, so that a metric
    /// that calls a model (a judge) can refuse, when it is built, a backend
    /// that is missing or cannot give what it needs.
    pub backends: BTreeMap<String, evalkit_model_api::Capabilities>,
}

/// Build the metric a `[[metrics]]` entry describes. Fails, with a message
/// that says how to fix it, when the settings cannot work: an empty name, an
/// invalid regex or capture group, an unreadable or invalid JSON Schema, a
/// negative price, ...
///
/// Paths in the settings (`schema_file`) are used as given: resolve them
/// against the suite's directory first.
pub fn build(config: &MetricConfig, context: &BuildContext) -> Result<Box<dyn Metric>, ConfigError> {
    if config.name().is_empty() {
        return Err(ConfigError::EmptyName { kind: config.kind_name() });
    }
    Ok(match config.clone() {
        MetricConfig::ExactMatch(c) => Box::new(crate::ExactMatch::new(c)),
        MetricConfig::Contains(c) => Box::new(crate::Contains::new(c)?),
        MetricConfig::Regex(c) => Box::new(crate::RegexMatch::new(c)?),
        MetricConfig::JsonValid(c) => Box::new(crate::JsonValid::new(c)?),
        MetricConfig::TokenF1(c) => Box::new(crate::TokenF1::new(c)),
        MetricConfig::Latency(c) => Box::new(crate::Latency::new(c)),
        MetricConfig::Cost(c) => Box::new(crate::Cost::new(c, context.prices.clone())?),
        MetricConfig::Perplexity(c) => Box::new(crate::Perplexity::new(c)?),
        MetricConfig::MultipleChoice(c) => Box::new(crate::MultipleChoice::new(c)),
        MetricConfig::Agreement(c) => Box::new(crate::Agreement::new(c)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Direction, Group, Measure, Normalize, Scale};

    #[derive(Debug, Deserialize, Serialize)]
    struct Suite {
        metrics: Vec<MetricConfig>,
        #[serde(default)]
        prices: BTreeMap<String, Price>,
    }

    fn parse(toml_text: &str) -> Result<Suite, String> {
        toml::from_str(toml_text).map_err(|err| err.to_string())
    }

    const EVERY_KIND: &str = r#"
        [[metrics]]
        kind = "exact_match"
        [[metrics]]
        kind = "contains"
        [[metrics]]
        kind = "regex"
        pattern = '(\d+)'
        [[metrics]]
        kind = "json_valid"
        [[metrics]]
        kind = "token_f1"
        [[metrics]]
        kind = "latency"
        [[metrics]]
        kind = "cost"
    "#;

    #[test]
    fn minimal_entries_use_defaults_and_kind_names() {
        let suite = parse(EVERY_KIND).unwrap();
        let names: Vec<&str> = suite.metrics.iter().map(MetricConfig::name).collect();
        assert_eq!(names, ["exact_match", "contains", "regex", "json_valid", "token_f1", "latency", "cost"]);
        assert_eq!(suite.metrics[0], MetricConfig::ExactMatch(ExactMatchConfig::default()));
        assert_eq!(suite.metrics[3], MetricConfig::JsonValid(JsonValidConfig::default()));
        for config in &suite.metrics {
            assert_eq!(config.name(), config.kind_name());
            build(config, &BuildContext::default()).unwrap();
        }
    }

    #[test]
    fn full_entries_parse() {
        let suite = parse(
            r#"
            [[metrics]]
            kind = "regex"
            name = "final"
            pattern = '(?<n>\d+)'
            group = "n"
            occurrence = "last"
            reference = "gold"
            normalize = { case = false }

            [[metrics]]
            kind = "json_valid"
            extract = false
            schema = { type = "object", required = ["a"] }

            [[metrics]]
            kind = "latency"
            measure = "inter_token"

            [prices."m"]
            input = 1
            output = 2.5
            "#,
        )
        .unwrap();
        let MetricConfig::Regex(regex) = &suite.metrics[0] else { panic!("{:?}", suite.metrics[0]) };
        assert_eq!(regex.group, Some(Group::Name("n".into())));
        assert_eq!(regex.normalize, Normalize { case: false, ..Normalize::default() });
        assert_eq!(suite.metrics[0].name(), "final");
        let MetricConfig::JsonValid(json) = &suite.metrics[1] else { panic!() };
        assert_eq!(json.schema, Some(serde_json::json!({"type": "object", "required": ["a"]})));
        assert_eq!(suite.metrics[2], MetricConfig::Latency(LatencyConfig { name: None, measure: Measure::InterToken }));
        assert_eq!(suite.prices["m"], Price { input: 1.0, output: 2.5, cached_input: None });
    }

    #[test]
    fn round_trips_through_toml() {
        let suite = parse(EVERY_KIND).unwrap();
        let again = parse(&toml::to_string(&suite).unwrap()).unwrap();
        assert_eq!(suite.metrics, again.metrics);
    }

    #[test]
    fn mistakes_get_precise_messages() {
        let err = parse("[[metrics]]\nkind = \"exact_match\"\nrefrence = \"a\"").unwrap_err();
        assert!(err.contains("unknown field `refrence`, expected one of `name`, `reference`, `normalize`"), "{err}");
        let err = parse("[[metrics]]\nkind = \"exact\"").unwrap_err();
        assert!(err.contains("unknown variant `exact`, expected one of `exact_match`"), "{err}");
        let err = parse("[[metrics]]\nkind = \"regex\"").unwrap_err();
        assert!(err.contains("missing field `pattern`"), "{err}");
        let err = parse("[[metrics]]\nkind = \"latency\"\nmeasure = \"p99\"").unwrap_err();
        assert!(err.contains("unknown variant `p99`, expected one of `e2e`, `ttft`, `inter_token`"), "{err}");
        let err = parse("metrics = []\n[prices.m]\ninput = 1\noutput = 2\ncached = 0.5").unwrap_err();
        assert!(err.contains("unknown field `cached`"), "{err}");
        let err = parse("metrics = []\n[prices.m]\ninput = 1").unwrap_err();
        assert!(err.contains("missing field `output`"), "{err}");
    }

    #[test]
    fn build_reports_metadata_and_errors() {
        let context = BuildContext {
            backends: BTreeMap::new(),
            prices: BTreeMap::from([("m".to_owned(), Price { input: 1.0, output: 1.0, cached_input: None })]),
        };
        let cost = build(&MetricConfig::Cost(CostConfig { name: Some("usd".into()) }), &context).unwrap();
        assert_eq!((cost.name(), cost.unit(), cost.scale()), ("usd", Some("USD"), Scale::Continuous));
        let em = build(&MetricConfig::ExactMatch(ExactMatchConfig::default()), &context).unwrap();
        assert_eq!((em.scale(), em.direction(), em.unit()), (Scale::Binary, Direction::HigherIsBetter, None));

        let empty = MetricConfig::TokenF1(TokenF1Config { name: Some(String::new()), ..Default::default() });
        // `Box<dyn Metric>` is not `Debug`, so no `unwrap_err`.
        let err = build(&empty, &context).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.starts_with("a token_f1 metric has an empty `name`"), "{err}");
        let bad_regex = MetricConfig::Regex(RegexConfig::new("a("));
        assert!(matches!(build(&bad_regex, &context), Err(ConfigError::InvalidRegex { .. })));
    }
}
