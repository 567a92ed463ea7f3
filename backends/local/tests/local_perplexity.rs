//! Perplexity of the demo model against `llama-perplexity`'s own numbers on
//! the same GGUF and text (tests/fixtures/llama_cpp/README.md says how they
//! were made).

mod support;

use evalkit_local::WeightsMode;
use evalkit_model_api::{Backend, GenParams, GenRequest, Prompt, ScoreSpec, Scored, TokenScores};

async fn score(weights: WeightsMode, text: &str, spec: ScoreSpec) -> Option<TokenScores> {
    let path = support::demo_model()?;
    let backend = support::open(path, weights);
    let request =
        GenRequest { prompt: Prompt::Completion(text.to_owned()), params: GenParams::default(), score: Some(spec) };
    let response = backend.generate(&request).await.expect("scoring succeeds");
    match response.scored {
        Some(Scored::Tokens(t)) => Some(t),
        other => panic!("expected token scores, got {other:?}"),
    }
}

fn text() -> String {
    std::fs::read_to_string(support::fixture("ppl_text.txt")).expect("fixture text")
}

fn relative_gap(ours: f64, reference: f64) -> f64 {
    (ours - reference).abs() / reference
}

/// `llama-perplexity -c 128 -b 128 --chunks 8`: PPL = 17.4276 +/- 2.15897.
const LLAMA_CPP_C128_CHUNKS8: (f64, f64) = (17.4276, 2.15897);

#[tokio::test(flavor = "multi_thread")]
async fn llama_cpp_protocol_reproduces_llama_perplexity() {
    let spec = ScoreSpec::LlamaCpp { n_ctx: 128, n_batch: 128, chunks: Some(8) };
    let Some(t) = score(WeightsMode::Stored, &text(), spec).await else { return };
    // 8 windows × (128 − 1 − 64) scored tokens, as llama.cpp counts them.
    assert_eq!(t.tokens, 8 * 63);
    let ppl = (t.nll_sum / t.tokens as f64).exp();
    let (reference, reference_se) = LLAMA_CPP_C128_CHUNKS8;
    assert!(
        relative_gap(ppl, reference) < 0.005,
        "evalkit {ppl:.4} vs llama-perplexity {reference} ({:.2}% apart)",
        100.0 * relative_gap(ppl, reference)
    );
    let n = t.tokens as f64;
    let se = ((t.nll_sq_sum / n - (t.nll_sum / n).powi(2)) / (n - 1.0)).sqrt() * ppl;
    assert!(relative_gap(se, reference_se) < 0.02, "standard error {se:.5} vs {reference_se}");
}

#[tokio::test(flavor = "multi_thread")]
async fn dequantized_weights_stay_within_one_percent() {
    let spec = ScoreSpec::LlamaCpp { n_ctx: 128, n_batch: 128, chunks: Some(8) };
    let Some(t) = score(WeightsMode::F32, &text(), spec).await else { return };
    let ppl = (t.nll_sum / t.tokens as f64).exp();
    let reference = LLAMA_CPP_C128_CHUNKS8.0;
    assert!(relative_gap(ppl, reference) < 0.01, "f32 weights: {ppl:.4} vs {reference}");
}

#[tokio::test(flavor = "multi_thread")]
async fn strided_protocol_scores_every_token_once() {
    let text: String = text().chars().take(3000).collect();
    let Some(t) = score(WeightsMode::F32, &text, ScoreSpec::Strided { window: 256, stride: 128 }).await else { return };
    // Every token but the first (BOS) is scored exactly once.
    assert_eq!(t.tokens, t.text_tokens - 1);
    // A window as long as the text scores the same tokens with full context:
    // the strided value can only be worse or equal, and close.
    let Some(full) = score(WeightsMode::F32, &text, ScoreSpec::Strided { window: 2048, stride: 2048 }).await else {
        return;
    };
    assert_eq!(full.tokens, t.tokens);
    assert!(full.nll_sum <= t.nll_sum * 1.001, "full context {} vs strided {}", full.nll_sum, t.nll_sum);
    assert!(t.bytes > 2500 && t.words > 300, "bytes {} words {}", t.bytes, t.words);
}

#[tokio::test(flavor = "multi_thread")]
async fn too_short_texts_are_refused_with_the_reason() {
    let Some(path) = support::demo_model() else { return };
    let backend = support::open(path, WeightsMode::F32);
    let request = GenRequest {
        prompt: Prompt::Completion("A short text.".into()),
        params: GenParams::default(),
        score: Some(ScoreSpec::LlamaCpp { n_ctx: 512, n_batch: 512, chunks: None }),
    };
    let error = backend.generate(&request).await.unwrap_err().to_string();
    assert!(error.contains("needs at least 2 × n_ctx = 1024"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn multiple_choice_prefers_the_likely_continuation() {
    let Some(path) = support::demo_model() else { return };
    let backend = support::open(path, WeightsMode::F32);
    let request = GenRequest {
        prompt: Prompt::Completion("The capital of France is".into()),
        params: GenParams::default(),
        score: Some(ScoreSpec::Choices { choices: vec![" Paris".into(), " a banana".into(), " Berlin".into()] }),
    };
    let response = backend.generate(&request).await.unwrap();
    let Some(Scored::Choices(choices)) = response.scored else { panic!("expected choice scores") };
    assert_eq!(choices.len(), 3);
    assert!(choices[0].loglik > choices[1].loglik && choices[0].loglik > choices[2].loglik, "{choices:?}");
    assert!(choices.iter().all(|c| c.loglik < 0.0 && c.tokens >= 1));
    assert_eq!(choices[0].bytes, 6);
}
