//! How numbers are shown to people, shared by the terminal and HTML reports so
//! both say the same thing: rates as percentages, seconds and dollars with
//! their units, counts with thousands separators.

use evalkit_record::results::{Comparison, ConfidenceInterval, MetricInfo, Scale, TestKind};

/// Shown where there is no value (no valid score, no interval).
pub(crate) const NONE: &str = "-";

/// How one metric's values are displayed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Style {
    /// A rate in `[0, 1]`, shown as `83.3%`.
    Percent,
    /// Seconds, 3 significant digits: `1.23s`.
    Seconds,
    /// Dollars: `$0.00123`, `$12.34`.
    Usd,
    /// Anything else: 4 significant digits and the unit, if any.
    Plain(Option<String>),
}

impl Style {
    /// The style for a metric's values.
    pub(crate) fn of(metric: &MetricInfo) -> Style {
        match (metric.scale, metric.unit.as_deref()) {
            (Scale::Binary, _) => Style::Percent,
            (_, Some("s")) => Style::Seconds,
            (_, Some("USD")) => Style::Usd,
            (_, unit) => Style::Plain(unit.map(str::to_owned)),
        }
    }

    /// One value in this style.
    pub(crate) fn value(&self, value: f64) -> String {
        match self {
            Style::Percent if value.is_finite() => format!("{:.1}%", value * 100.0),
            Style::Percent => significant(value, 3),
            Style::Seconds => seconds(value),
            Style::Usd => usd(value),
            Style::Plain(None) => significant(value, 4),
            Style::Plain(Some(unit)) => format!("{} {unit}", significant(value, 4)),
        }
    }

    /// An optional value; [`NONE`] when absent.
    pub(crate) fn option(&self, value: Option<f64>) -> String {
        value.map_or_else(|| NONE.to_owned(), |v| self.value(v))
    }

    /// A difference or change with its sign, in this style's units: rates in
    /// percentage points (`+12.0 pts`), seconds and dollars with their unit.
    pub(crate) fn signed(&self, value: f64) -> String {
        let sign = if value > 0.0 { "+" } else { "" };
        match self {
            Style::Percent if value.is_finite() => format!("{sign}{:.1} pts", value * 100.0),
            // `usd` writes its own minus sign before the dollar.
            Style::Usd => format!("{sign}{}", usd(value)),
            _ => format!("{sign}{}", self.value(value)),
        }
    }

    /// A size of change without sign (a margin, a detectable difference):
    /// rates in percentage points, everything else as [`Style::value`].
    pub(crate) fn magnitude(&self, value: f64) -> String {
        match self {
            Style::Percent if value.is_finite() => format!("{:.1} pts", value * 100.0),
            _ => self.value(value),
        }
    }

    /// A confidence interval as `[low, high]`; [`NONE`] when absent.
    pub(crate) fn interval(&self, ci: Option<&ConfidenceInterval>) -> String {
        ci.map_or_else(|| NONE.to_owned(), |ci| format!("[{}, {}]", self.value(ci.low), self.value(ci.high)))
    }
}

/// `value` rounded to `digits` significant digits, in positional notation
/// (`0.00123`, `1.23`, `1230`); integers keep all their digits.
pub(crate) fn significant(value: f64, digits: i32) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    if value == 0.0 {
        return "0".to_owned();
    }
    let decimals_for = |v: f64| (digits - 1 - v.abs().log10().floor() as i32).clamp(0, 15);
    let decimals = decimals_for(value);
    let text = format!("{value:.*}", decimals as usize);
    // Rounding can add a digit (9.996 → 10.00); one more pass drops it.
    match text.parse::<f64>() {
        // (A value that rounds to zero, 1e-17 at 15 decimals, keeps its text.)
        Ok(rounded) if rounded != 0.0 && decimals_for(rounded) < decimals => {
            format!("{rounded:.*}", decimals_for(rounded) as usize)
        }
        _ => text,
    }
}

/// Seconds with 3 significant digits: `0.0123s`, `1.23s`, `123s`.
pub(crate) fn seconds(value: f64) -> String {
    format!("{}s", significant(value, 3))
}

/// Dollars: cents for a dollar or more, 3 significant digits below.
pub(crate) fn usd(value: f64) -> String {
    let sign = if value < 0.0 { "-" } else { "" };
    let value = value.abs();
    if value >= 1.0 {
        format!("{sign}${value:.2}")
    } else {
        format!("{sign}${}", significant(value, 3))
    }
}

/// A p-value: two significant digits, `<0.001` below that.
pub(crate) fn p_value(p: f64) -> String {
    if p < 0.001 {
        "<0.001".to_owned()
    } else {
        significant(p, 2)
    }
}

/// The test behind a comparison's p-value, as every report names it.
pub(crate) fn test_label(test: TestKind) -> &'static str {
    match test {
        TestKind::McnemarExact => "McNemar exact",
        TestKind::McnemarChiSquare => "McNemar χ²",
        TestKind::SignFlipExact => "sign-flip, exact",
        TestKind::SignFlipMonteCarlo => "sign-flip, Monte Carlo",
        TestKind::PairedT => "paired t",
        TestKind::WilcoxonExact => "Wilcoxon, exact",
        TestKind::WilcoxonNormal => "Wilcoxon, normal approx.",
        TestKind::None => "none",
    }
}

/// A comparison's unadjusted p-value, followed by its Monte Carlo standard
/// error when it was sampled: `0.031`, `0.031 ±0.0017`.
pub(crate) fn comparison_p(c: &Comparison) -> String {
    match (c.p_value, c.p_value_mc_se) {
        (None, _) => NONE.to_owned(),
        (Some(p), None) => p_value(p),
        (Some(p), Some(se)) => format!("{} ±{}", p_value(p), significant(se, 2)),
    }
}

/// A ratio such as `2.1×`.
/// Column names of the per-variant usage table, shared by the terminal and
/// Markdown summaries so both show the same figures.
pub(crate) const USAGE_HEADER: [&str; 6] = ["variant", "tokens in", "tokens out", "latency p50", "latency p90", "cost"];

/// One variant's cells of the usage table, in [`USAGE_HEADER`] order.
pub(crate) fn usage_cells(usage: &evalkit_record::results::VariantUsage) -> Vec<String> {
    let seconds = |v: Option<f64>| v.map_or_else(|| NONE.to_owned(), self::seconds);
    vec![
        usage.variant.clone(),
        count(usage.input_tokens),
        count(usage.output_tokens),
        seconds(usage.latency_p50_seconds),
        seconds(usage.latency_p90_seconds),
        usage.cost_usd.map_or_else(|| NONE.to_owned(), usd),
    ]
}

/// A p-value as it reads in a sentence: `p=0.031`, `p<0.001`.
pub(crate) fn p_equals(p: f64) -> String {
    let p = p_value(p);
    if p.starts_with('<') {
        format!("p{p}")
    } else {
        format!("p={p}")
    }
}

pub(crate) fn ratio(value: f64) -> String {
    format!("{}×", significant(value, 2))
}

/// A count with thousands separators: `12,345`.
pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    // Groups of three from the right; the digits are ASCII, so every chunk is UTF-8.
    let groups: Vec<&str> =
        digits.as_bytes().rchunks(3).rev().filter_map(|group| std::str::from_utf8(group).ok()).collect();
    groups.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn significant_digits() {
        assert_eq!(significant(1.23456, 3), "1.23");
        assert_eq!(significant(0.00123456, 3), "0.00123");
        assert_eq!(significant(123.456, 3), "123");
        assert_eq!(significant(12345.6, 3), "12346");
        assert_eq!(significant(9.996, 3), "10.0");
        assert_eq!(significant(0.0, 3), "0");
        assert_eq!(significant(-0.5, 3), "-0.500");
        assert_eq!(significant(f64::NAN, 3), "NaN");
        assert_eq!(significant(1e-17, 3), "0.000000000000000");
    }

    #[test]
    fn units() {
        assert_eq!(seconds(0.01234), "0.0123s");
        assert_eq!(seconds(1.0), "1.00s");
        assert_eq!(usd(0.00123), "$0.00123");
        assert_eq!(usd(12.345), "$12.35");
        assert_eq!(usd(-0.5), "-$0.500");
        assert_eq!(Style::Percent.value(0.8333), "83.3%");
        assert_eq!(Style::Plain(Some("tok".into())).value(12.3456), "12.35 tok");
    }

    #[test]
    fn signed_values_and_p_values() {
        assert_eq!(Style::Percent.signed(0.12), "+12.0 pts");
        assert_eq!(Style::Percent.signed(-0.05), "-5.0 pts");
        assert_eq!(Style::Seconds.signed(0.25), "+0.250s");
        assert_eq!(Style::Usd.signed(0.001), "+$0.00100");
        assert_eq!(Style::Usd.signed(-2.0), "-$2.00");
        assert_eq!(Style::Plain(None).signed(0.0), "0");
        assert_eq!(p_value(0.0004), "<0.001");
        assert_eq!(p_value(0.0312), "0.031");
        assert_eq!(p_value(1.0), "1.0");
        assert_eq!(ratio(2.0833), "2.1×");
    }

    #[test]
    fn comparison_p_values_carry_their_monte_carlo_error() {
        use evalkit_record::results::Verdict;
        let c = Comparison {
            metric: "m".into(),
            baseline: "a".into(),
            candidate: "b".into(),
            pairs: 40,
            baseline_mean: None,
            candidate_mean: None,
            difference: None,
            ci: None,
            test: TestKind::SignFlipMonteCarlo,
            p_value: Some(0.0312),
            p_value_mc_se: Some(0.000_55),
            p_adjusted: None,
            effect_size: None,
            discordant: None,
            minimum_detectable_difference: None,
            verdict: Verdict::NotEnoughData,
        };
        assert_eq!(comparison_p(&c), "0.031 ±0.00055");
        assert_eq!(comparison_p(&Comparison { p_value_mc_se: None, ..c.clone() }), "0.031");
        assert_eq!(comparison_p(&Comparison { p_value: Some(1e-5), ..c.clone() }), "<0.001 ±0.00055");
        assert_eq!(comparison_p(&Comparison { p_value: None, ..c }), NONE);
        assert_eq!(test_label(TestKind::WilcoxonNormal), "Wilcoxon, normal approx.");
    }

    #[test]
    fn counts() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1234567), "1,234,567");
    }
}
