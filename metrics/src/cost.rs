//! `cost`: what a response cost in US dollars, from its token counts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{ready, BoxFuture, ConfigError, Direction, Metric, Price, Scale, Score, ScoreContext};

/// Settings for `kind = "cost"`: the price of each response in USD (lower is
/// better), from the token counts the endpoint reported and the suite's
/// `[prices."model"]` table for the model the variant sent.
///
/// Cached input tokens are billed at `cached_input` when the price gives one,
/// else at `input`; reasoning tokens are part of the output tokens.
///
/// ```toml
/// [[metrics]]
/// kind = "cost"
///
/// [prices."gpt-4o-mini"]
/// input = 0.15
/// output = 0.60
/// cached_input = 0.075
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CostConfig {
    /// Name the results are reported under, unique within the suite.
    /// Type: string. Default: `"cost"`. Example: `name = "usd"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The `cost` metric. Details: `input_tokens`, `cached_input_tokens` and
/// `output_tokens` as billed.
#[derive(Debug, Clone)]
pub struct Cost {
    name: String,
    prices: BTreeMap<String, Price>,
}

impl Cost {
    /// A `cost` metric using these prices (model name to price). Fails when a
    /// price is negative or not a number.
    pub fn new(config: CostConfig, prices: BTreeMap<String, Price>) -> Result<Self, ConfigError> {
        for (model, price) in &prices {
            let fields =
                [("input", Some(price.input)), ("output", Some(price.output)), ("cached_input", price.cached_input)];
            for (field, value) in fields {
                if let Some(value) = value.filter(|v| !(v.is_finite() && *v >= 0.0)) {
                    return Err(ConfigError::InvalidPrice { model: model.clone(), field, value });
                }
            }
        }
        Ok(Cost { name: config.name.unwrap_or_else(|| "cost".to_owned()), prices })
    }

    /// Whether there is a price for `model`, so the harness can report every
    /// unpriced model before running anything.
    pub fn has_price(&self, model: &str) -> bool {
        self.prices.contains_key(model)
    }
}

impl Metric for Cost {
    fn name(&self) -> &str {
        &self.name
    }

    fn scale(&self) -> Scale {
        Scale::Continuous
    }

    fn direction(&self) -> Direction {
        Direction::LowerIsBetter
    }

    fn unit(&self) -> Option<&str> {
        Some("USD")
    }

    fn score<'a>(&'a self, input: &'a ScoreContext<'a>) -> BoxFuture<'a, Score> {
        ready(self.score_sample(input))
    }
}

impl Cost {
    /// Score from the sample and the response alone (no model calls).
    fn score_sample(&self, input: &ScoreContext<'_>) -> Score {
        let model = input.model;
        let Some(price) = self.prices.get(model) else {
            return Score::invalid(format!(
                "no price for model \"{model}\": add [prices.\"{model}\"] input = ..., output = ... to the suite"
            ));
        };
        let usage = &input.response.usage;
        // Cached tokens are a subset of the input tokens; an endpoint reporting
        // more cached than total must not produce a negative uncached count.
        let cached = usage.cached_input_tokens.unwrap_or(0).min(usage.input_tokens);
        let uncached = usage.input_tokens - cached;
        let dollars = (uncached as f64 * price.input
            + cached as f64 * price.cached_input.unwrap_or(price.input)
            + usage.output_tokens as f64 * price.output)
            / 1_000_000.0;
        Score::value(dollars)
            .with_detail("input_tokens", usage.input_tokens)
            .with_detail("cached_input_tokens", cached)
            .with_detail("output_tokens", usage.output_tokens)
    }
}

#[cfg(test)]
mod tests {
    use evalkit_model_api::Usage;
    use serde_json::json;

    use super::*;
    use crate::testing::{fields, response};

    fn prices() -> BTreeMap<String, Price> {
        BTreeMap::from([
            ("cheap".to_owned(), Price { input: 1.0, output: 2.0, cached_input: Some(0.5) }),
            ("plain".to_owned(), Price { input: 3.0, output: 15.0, cached_input: None }),
        ])
    }

    fn cost(model: &str, usage: Usage) -> Score {
        let metric = Cost::new(CostConfig::default(), prices()).unwrap();
        let response = evalkit_model_api::Response { usage, ..response("hi") };
        let fields = fields(json!({}));
        crate::score_without_models(&metric, &fields, &response, model)
    }

    #[test]
    fn bills_input_cached_and_output_tokens() {
        let usage = Usage {
            input_tokens: 1_000,
            output_tokens: 500,
            cached_input_tokens: Some(400),
            reasoning_tokens: Some(100),
        };
        let s = cost("cheap", usage);
        // 600 × $1 + 400 × $0.5 + 500 × $2, per million.
        assert!((s.value - 0.0018).abs() < 1e-15, "{}", s.value);
        assert_eq!(s.details["cached_input_tokens"], 400);
        // Without a cached price, cached tokens cost the input price.
        let s = cost("plain", usage);
        assert!((s.value - (1_000.0 * 3.0 + 500.0 * 15.0) / 1e6).abs() < 1e-15);
    }

    #[test]
    fn more_cached_than_input_tokens_is_clamped() {
        let usage = Usage { input_tokens: 10, output_tokens: 0, cached_input_tokens: Some(50), reasoning_tokens: None };
        let s = cost("cheap", usage);
        assert!((s.value - 10.0 * 0.5 / 1e6).abs() < 1e-18);
    }

    #[test]
    fn zero_tokens_cost_nothing() {
        assert_eq!(cost("plain", Usage::default()).value, 0.0);
    }

    #[test]
    fn unknown_model_says_how_to_add_a_price() {
        let s = cost("gpt-x", Usage::default());
        assert!(s.value.is_nan());
        assert_eq!(
            s.cause.as_deref(),
            Some("no price for model \"gpt-x\": add [prices.\"gpt-x\"] input = ..., output = ... to the suite")
        );
    }

    #[test]
    fn has_price_and_metadata() {
        let m = Cost::new(CostConfig::default(), prices()).unwrap();
        assert!(m.has_price("cheap") && !m.has_price("gpt-x"));
        assert_eq!((m.name(), m.unit(), m.direction()), ("cost", Some("USD"), Direction::LowerIsBetter));
    }

    #[test]
    fn rejects_negative_and_nan_prices() {
        let bad = BTreeMap::from([("m".to_owned(), Price { input: 1.0, output: -2.0, cached_input: None })]);
        let err = Cost::new(CostConfig::default(), bad).unwrap_err().to_string();
        assert!(err.starts_with("price for model \"m\": `output` is -2;"), "{err}");
        let bad = BTreeMap::from([("m".to_owned(), Price { input: 1.0, output: 2.0, cached_input: Some(f64::NAN) })]);
        assert!(Cost::new(CostConfig::default(), bad).is_err());
    }
}
