//! Perplexity from pooled token log-likelihoods, as llama.cpp reports it.

/// Corpus perplexity and its uncertainty.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PerplexitySummary {
    /// `exp(mean NLL)`.
    pub perplexity: f64,
    /// Mean negative log-likelihood per token.
    pub mean_nll: f64,
    /// `perplexity × sqrt(var / (n − 1))`, where `var` is the population
    /// variance of per-token NLL: the delta-method error llama.cpp's
    /// `llama-perplexity` prints after "Final estimate: PPL = … +/- …".
    /// `None` with fewer than two tokens.
    pub std_error: Option<f64>,
}

/// Summarise `tokens` token NLLs given their sum and sum of squares.
pub fn perplexity(nll_sum: f64, nll_sq_sum: f64, tokens: u64) -> Option<PerplexitySummary> {
    if tokens == 0 || !nll_sum.is_finite() || !nll_sq_sum.is_finite() {
        return None;
    }
    let n = tokens as f64;
    let mean_nll = nll_sum / n;
    let perplexity = mean_nll.exp();
    let variance = nll_sq_sum / n - mean_nll * mean_nll;
    let std_error = (tokens >= 2 && variance > 0.0).then(|| (variance / (n - 1.0)).sqrt() * perplexity);
    Some(PerplexitySummary { perplexity, mean_nll, std_error })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_llama_cpps_formula_on_a_small_example() {
        let nlls = [1.0f64, 2.0, 3.0, 2.5];
        let sum: f64 = nlls.iter().sum();
        let sq: f64 = nlls.iter().map(|x| x * x).sum();
        let s = perplexity(sum, sq, 4).unwrap();
        assert!((s.mean_nll - 2.125).abs() < 1e-12);
        assert!((s.perplexity - 2.125f64.exp()).abs() < 1e-12);
        // population variance 0.546875; sqrt(0.546875 / 3) × ppl
        let expected = (0.546875f64 / 3.0).sqrt() * 2.125f64.exp();
        assert!((s.std_error.unwrap() - expected).abs() < 1e-12);
    }

    #[test]
    fn degenerate_inputs_give_none() {
        assert_eq!(perplexity(0.0, 0.0, 0), None);
        assert_eq!(perplexity(1.0, 1.0, 1).unwrap().std_error, None);
        assert_eq!(perplexity(f64::NAN, 1.0, 3), None);
    }
}
