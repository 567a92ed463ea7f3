//! `latency`: how long the response took, in seconds.

use serde::{Deserialize, Serialize};

use crate::{ready, BoxFuture, Direction, Metric, Scale, Score, ScoreContext};

/// Settings for `kind = "latency"`: a client-side timing of each response, in
/// seconds (lower is better). Time to first token and inter-token time are
/// only measured for streamed responses (`stream = true` on the backend).
///
/// ```toml
/// [[metrics]]
/// kind = "latency"
/// name = "ttft"
/// measure = "ttft"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LatencyConfig {
    /// Name the results are reported under, unique within the suite (give two
    /// latency metrics different names).
    /// Type: string. Default: `"latency"`. Example: `name = "ttft"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Which timing: `e2e` from sending the request to the last byte received, `ttft` to the first
    /// generated text, `inter_token` the mean gap between text chunks.
    /// Type: `"e2e"`, `"ttft"` or `"inter_token"`. Default: `"e2e"`. Example:
    /// `measure = "inter_token"`.
    pub measure: Measure,
}

/// A client-side timing of a response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// From sending the request to the last byte of the answer.
    #[default]
    E2e,
    /// Time to first token: from sending the request to the first generated text.
    Ttft,
    /// The mean gap between consecutive text chunks.
    InterToken,
}

impl Measure {
    /// The name used in suites and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Measure::E2e => "e2e",
            Measure::Ttft => "ttft",
            Measure::InterToken => "inter_token",
        }
    }
}

/// The `latency` metric. No details.
#[derive(Debug, Clone)]
pub struct Latency {
    name: String,
    measure: Measure,
}

impl Latency {
    /// A `latency` metric with these settings.
    pub fn new(config: LatencyConfig) -> Self {
        Latency { name: config.name.unwrap_or_else(|| "latency".to_owned()), measure: config.measure }
    }
}

impl Metric for Latency {
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
        Some("s")
    }

    fn score<'a>(&'a self, input: &'a ScoreContext<'a>) -> BoxFuture<'a, Score> {
        ready(self.score_sample(input))
    }
}

impl Latency {
    /// Score from the sample and the response alone (no model calls).
    fn score_sample(&self, input: &ScoreContext<'_>) -> Score {
        let timing = &input.response.timing;
        let seconds = match self.measure {
            Measure::E2e => timing.e2e_seconds,
            Measure::Ttft => match timing.ttft_seconds {
                Some(seconds) => seconds,
                None => {
                    return Score::invalid(
                        "no time to first token for this response: it is only measured when streaming; \
                         set `stream = true` on the backend",
                    )
                }
            },
            Measure::InterToken => match timing.inter_token_seconds {
                Some(seconds) => seconds,
                None => {
                    return Score::invalid(
                        "no inter-token time for this response: it is only measured when streaming \
                         (set `stream = true` on the backend) and the answer arrives in two or more chunks",
                    )
                }
            },
        };
        // A response replayed from a broken cache entry could carry anything.
        if !seconds.is_finite() || seconds < 0.0 {
            return Score::invalid(format!("{} time is {seconds}, which is not a duration", self.measure.as_str()));
        }
        Score::value(seconds)
    }
}

#[cfg(test)]
mod tests {
    use evalkit_model_api::Timing;
    use serde_json::json;

    use super::*;
    use crate::testing::{fields, response};

    fn latency(measure: Measure, timing: Timing) -> Score {
        let metric = Latency::new(LatencyConfig { name: None, measure });
        let response = evalkit_model_api::Response { timing, ..response("hi") };
        let fields = fields(json!({}));
        crate::score_without_models(&metric, &fields, &response, "m")
    }

    #[test]
    fn reads_each_measure() {
        let timing = Timing { e2e_seconds: 1.5, ttft_seconds: Some(0.25), inter_token_seconds: Some(0.02) };
        assert_eq!(latency(Measure::E2e, timing).value, 1.5);
        assert_eq!(latency(Measure::Ttft, timing).value, 0.25);
        assert_eq!(latency(Measure::InterToken, timing).value, 0.02);
    }

    #[test]
    fn streaming_only_measures_say_how_to_get_them() {
        let timing = Timing { e2e_seconds: 1.0, ttft_seconds: None, inter_token_seconds: None };
        for measure in [Measure::Ttft, Measure::InterToken] {
            let s = latency(measure, timing);
            assert!(s.value.is_nan());
            assert!(s.cause.unwrap().contains("set `stream = true` on the backend"));
        }
    }

    #[test]
    fn impossible_timings_are_invalid() {
        let s = latency(Measure::E2e, Timing { e2e_seconds: -1.0, ..Timing::default() });
        assert!(s.value.is_nan());
        assert_eq!(s.cause.as_deref(), Some("e2e time is -1, which is not a duration"));
        assert!(latency(Measure::E2e, Timing { e2e_seconds: f64::INFINITY, ..Timing::default() }).value.is_nan());
    }

    #[test]
    fn metadata() {
        let m = Latency::new(LatencyConfig::default());
        assert_eq!((m.name(), m.unit(), m.direction()), ("latency", Some("s"), Direction::LowerIsBetter));
        assert_eq!(m.scale(), Scale::Continuous);
    }
}
