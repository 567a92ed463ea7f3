//! A loaded model with its tokenizer: generation and scoring.
//!
//! Everything here is synchronous and CPU-bound; [`super::LocalBackend`] runs
//! it on tokio's blocking pool.

use std::time::Instant;

use candle_core::Tensor;

use super::chat::ChatTemplate;
use super::cpu_ops::target_logprobs;
use super::model::{KvCache, Model};
use super::sampling::{Sampler, SamplingParams};
use super::tokenizer::LocalTokenizer;
use evalkit_model_api::{ChoiceScore, GenRequest, Prompt, Response, ScoreSpec, Scored, Timing, TokenScores, Usage};

/// Positions whose logits are computed at once: bounds memory with large
/// vocabularies (64 × 262 144 × 4 bytes = 64 MiB for Gemma).
const LOGIT_CHUNK: usize = 64;

/// Tokens generated when a request sets no `max_tokens`.
pub const DEFAULT_MAX_TOKENS: u32 = 256;

/// Why a request could not be served. Plain text: the backend wraps it.
pub type EngineError = String;

/// A model ready to answer.
pub struct Engine {
    pub(super) model: Model,
    pub(super) tokenizer: LocalTokenizer,
    pub(super) chat_template: Option<ChatTemplate>,
    /// Positions run through the model per forward call when prefilling.
    pub(super) n_batch: usize,
}

fn candle(error: candle_core::Error) -> EngineError {
    format!("model error: {}", super::describe(&error))
}

impl Engine {
    /// Answer a generation request.
    pub fn generate(&self, request: &GenRequest) -> Result<Response, EngineError> {
        let started = Instant::now();
        let prompt = self.prompt_tokens(&request.prompt)?;
        let params = &request.params;
        let max_tokens = params.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS) as usize;
        let context = self.model.config().context_length;
        if prompt.len() + max_tokens > context {
            return Err(format!(
                "the prompt has {} tokens and max_tokens is {max_tokens}, more than the model's context of {context} tokens",
                prompt.len()
            ));
        }
        let mut sampler = Sampler::new(SamplingParams {
            temperature: params.temperature.unwrap_or(0.0),
            top_k: params.top_k.unwrap_or(0) as usize,
            top_p: params.top_p.unwrap_or(1.0),
            repetition_penalty: params.repetition_penalty.unwrap_or(1.0),
            seed: params.seed.unwrap_or(0),
        });
        let mut cache = self.model.new_cache();
        let mut hidden = self.prefill(&prompt, &mut cache)?;
        let mut seen = prompt.clone();
        let mut generated: Vec<u32> = Vec::new();
        let mut text = String::new();
        let mut ttft = None;
        let mut finish = "length";
        // Decoding speed is measured from the first token to the last.
        let mut first_token_at = None;
        while generated.len() < max_tokens {
            let mut logits = self.model.logits(&hidden).and_then(|l| l.squeeze(0)?.to_vec1::<f32>()).map_err(candle)?;
            let next = sampler.next(&mut logits, &seen);
            ttft.get_or_insert_with(|| started.elapsed().as_secs_f64());
            first_token_at.get_or_insert_with(Instant::now);
            if self.tokenizer.eos_ids().contains(&next) {
                finish = "stop";
                break;
            }
            generated.push(next);
            seen.push(next);
            text = self.tokenizer.decode(&generated).map_err(|e| e.to_string())?;
            if let Some(cut) = earliest_stop(&text, &params.stop) {
                text.truncate(cut);
                finish = "stop";
                break;
            }
            if generated.len() == max_tokens {
                break;
            }
            hidden = self.model.forward(&[next], &mut cache).map_err(candle)?;
            hidden = last_row(&hidden)?;
        }
        let decode_steps = generated.len().saturating_sub(1);
        let inter_token =
            first_token_at.filter(|_| decode_steps > 0).map(|at| at.elapsed().as_secs_f64() / decode_steps as f64);
        Ok(Response {
            text,
            usage: Usage {
                input_tokens: prompt.len() as u64,
                output_tokens: generated.len() as u64,
                cached_input_tokens: None,
                reasoning_tokens: None,
            },
            timing: Timing {
                e2e_seconds: started.elapsed().as_secs_f64(),
                ttft_seconds: ttft,
                inter_token_seconds: inter_token,
            },
            finish_reason: Some(finish.to_owned()),
            model: None,
            scored: None,
            logprobs: None,
        })
    }

    /// Answer a scoring request.
    pub fn score(&self, request: &GenRequest, spec: &ScoreSpec) -> Result<Response, EngineError> {
        let started = Instant::now();
        let text = match &request.prompt {
            Prompt::Completion(text) => text.clone(),
            Prompt::Chat(_) => self.render_chat(&request.prompt)?,
        };
        let (scored, input_tokens) = match spec {
            ScoreSpec::LlamaCpp { n_ctx, n_batch, chunks } => {
                let s = self.perplexity_llama_cpp(&text, *n_ctx, *n_batch, *chunks)?;
                (Scored::Tokens(s), s.text_tokens)
            }
            ScoreSpec::Strided { window, stride } => {
                let s = self.perplexity_strided(&text, *window, *stride)?;
                (Scored::Tokens(s), s.text_tokens)
            }
            ScoreSpec::Choices { choices } => {
                let scores = self.choices(&text, choices)?;
                let tokens = scores.iter().map(|c| c.tokens).sum();
                (Scored::Choices(scores), tokens)
            }
        };
        let e2e = started.elapsed().as_secs_f64();
        Ok(Response {
            text: String::new(),
            usage: Usage { input_tokens, output_tokens: 0, cached_input_tokens: None, reasoning_tokens: None },
            timing: Timing { e2e_seconds: e2e, ttft_seconds: None, inter_token_seconds: None },
            finish_reason: None,
            model: None,
            scored: Some(scored),
            logprobs: None,
        })
    }

    fn render_chat(&self, prompt: &Prompt) -> Result<String, EngineError> {
        let Prompt::Chat(messages) = prompt else { unreachable!("render_chat takes chat prompts") };
        let template = self.chat_template.as_ref().ok_or_else(|| {
            "this model has no chat template (a base model?): use a completion prompt (`text = ...`) \
             or set `chat_template` on the backend"
                .to_owned()
        })?;
        template.render(messages)
    }

    /// Prompt tokens. Prompts may contain the model's control tokens (as a
    /// rendered chat template does), so they are parsed, as llama.cpp's server does.
    fn prompt_tokens(&self, prompt: &Prompt) -> Result<Vec<u32>, EngineError> {
        let (text, add_bos) = match prompt {
            Prompt::Completion(text) => (text.clone(), self.tokenizer.add_bos_default()),
            Prompt::Chat(_) => {
                let text = self.render_chat(prompt)?;
                // Templates usually write the BOS themselves.
                let writes_bos = self.bos_text().is_some_and(|bos| text.starts_with(&bos));
                (text, self.tokenizer.add_bos_default() && !writes_bos)
            }
        };
        let tokens = self.tokenizer.encode(&text, add_bos, true).map_err(|e| e.to_string())?;
        if tokens.is_empty() {
            return Err("the prompt is empty".to_owned());
        }
        Ok(tokens)
    }

    fn bos_text(&self) -> Option<String> {
        self.tokenizer.bos_id().and_then(|id| self.tokenizer.token_text(id))
    }

    /// Run `tokens` in batches; returns the last position's hidden state `(1, hidden)`.
    fn prefill(&self, tokens: &[u32], cache: &mut KvCache) -> Result<Tensor, EngineError> {
        let mut last = None;
        for batch in tokens.chunks(self.n_batch.max(1)) {
            last = Some(self.model.forward(batch, cache).map_err(candle)?);
        }
        last_row(&last.ok_or("nothing to run")?)
    }

    /// Log-probabilities (and greedy hits) of `targets[i]` after position
    /// `positions[i]` of `hidden`; the logits are computed a chunk at a time.
    fn logprobs_at(&self, hidden: &Tensor, first: usize, targets: &[u32]) -> Result<Vec<(f64, bool)>, EngineError> {
        let mut out = Vec::with_capacity(targets.len());
        for (c, chunk) in targets.chunks(LOGIT_CHUNK).enumerate() {
            let rows = hidden.narrow(0, first + c * LOGIT_CHUNK, chunk.len()).map_err(candle)?;
            let logits = self.model.logits(&rows).map_err(candle)?;
            out.extend(target_logprobs(&logits, chunk).map_err(candle)?);
        }
        Ok(out)
    }

    /// Every position of `window` through the model, in `n_batch` pieces.
    fn hidden_states(&self, window: &[u32], n_batch: usize) -> Result<Tensor, EngineError> {
        let mut cache = self.model.new_cache();
        let mut parts = Vec::new();
        for batch in window.chunks(n_batch.max(1)) {
            parts.push(self.model.forward(batch, &mut cache).map_err(candle)?);
        }
        Tensor::cat(&parts, 0).map_err(candle)
    }

    fn check_window(&self, n_ctx: usize) -> Result<(), EngineError> {
        let context = self.model.config().context_length;
        if n_ctx < 2 {
            return Err(format!("a scoring window of {n_ctx} tokens is too short"));
        }
        if n_ctx > context {
            return Err(format!("a window of {n_ctx} tokens is longer than the model's context of {context}"));
        }
        Ok(())
    }

    /// llama.cpp's perplexity protocol (`llama-perplexity`, `perplexity()` in
    /// tools/perplexity/perplexity.cpp), reproduced step by step.
    fn perplexity_llama_cpp(
        &self,
        text: &str,
        n_ctx: usize,
        n_batch: usize,
        max_chunks: Option<usize>,
    ) -> Result<TokenScores, EngineError> {
        self.check_window(n_ctx)?;
        let add_bos = self.tokenizer.add_bos_default();
        // Scored texts are plain text: control-token spellings are not parsed.
        let tokens = self.tokenizer.encode(text, add_bos, false).map_err(|e| e.to_string())?;
        if tokens.len() < 2 * n_ctx {
            return Err(format!(
                "the text has {} tokens; the llama.cpp protocol needs at least 2 × n_ctx = {} \
                 (use a longer text, a smaller `n_ctx`, or `protocol = \"strided\"`)",
                tokens.len(),
                2 * n_ctx
            ));
        }
        let available = tokens.len() / n_ctx;
        let chunks = max_chunks.map_or(available, |m| m.min(available));
        let first = n_ctx / 2;
        let mut totals = TokenScores { text_tokens: tokens.len() as u64, ..Default::default() };
        for chunk in 0..chunks {
            let start = chunk * n_ctx;
            let mut window = tokens[start..start + n_ctx].to_vec();
            if add_bos {
                if let Some(bos) = self.tokenizer.bos_id() {
                    window[0] = bos;
                }
            }
            let hidden = self.hidden_states(&window, n_batch.min(n_ctx))?;
            // Logits at positions first..n_ctx-2 predict tokens first+1..n_ctx-1.
            let targets = &tokens[start + first + 1..start + n_ctx];
            let scored = self.logprobs_at(&hidden, first, targets)?;
            self.accumulate(&mut totals, targets, &scored)?;
        }
        Ok(totals)
    }

    /// Hugging Face's strided sliding-window perplexity.
    fn perplexity_strided(&self, text: &str, window: usize, stride: usize) -> Result<TokenScores, EngineError> {
        self.check_window(window)?;
        if stride == 0 || stride > window {
            return Err(format!("stride must be between 1 and the window ({window}), not {stride}"));
        }
        let tokens = self.tokenizer.encode(text, self.tokenizer.add_bos_default(), false).map_err(|e| e.to_string())?;
        if tokens.len() < 2 {
            return Err(format!("the text has {} token(s); scoring needs at least 2", tokens.len()));
        }
        let mut totals = TokenScores { text_tokens: tokens.len() as u64, ..Default::default() };
        let mut previous_end = 0;
        let mut begin = 0;
        while begin < tokens.len() {
            let end = (begin + window).min(tokens.len());
            // Score only tokens the previous window did not; position 0 of a
            // window predicts nothing.
            let first_target = previous_end.max(begin + 1);
            let hidden = self.hidden_states(&tokens[begin..end], self.n_batch)?;
            let targets = &tokens[first_target..end];
            let scored = self.logprobs_at(&hidden, first_target - 1 - begin, targets)?;
            self.accumulate(&mut totals, targets, &scored)?;
            previous_end = end;
            if end == tokens.len() {
                break;
            }
            begin += stride;
        }
        Ok(totals)
    }

    fn accumulate(&self, totals: &mut TokenScores, targets: &[u32], scored: &[(f64, bool)]) -> Result<(), EngineError> {
        for &(logprob, greedy) in scored {
            totals.nll_sum -= logprob;
            totals.nll_sq_sum += logprob * logprob;
            totals.greedy_hits += u64::from(greedy);
        }
        totals.tokens += scored.len() as u64;
        let text = self.tokenizer.decode(targets).map_err(|e| e.to_string())?;
        totals.bytes += text.len() as u64;
        totals.words += text.split_whitespace().count() as u64;
        Ok(())
    }

    /// Log-likelihood of each choice after `context`, as lm-evaluation-harness
    /// computes it: the choice's tokens are those that encoding
    /// `context + choice` adds after the context's own tokens.
    fn choices(&self, context: &str, choices: &[String]) -> Result<Vec<ChoiceScore>, EngineError> {
        let add_bos = self.tokenizer.add_bos_default();
        let context_tokens = self.tokenizer.encode(context, add_bos, false).map_err(|e| e.to_string())?;
        let mut out = Vec::with_capacity(choices.len());
        for choice in choices {
            let whole =
                self.tokenizer.encode(&format!("{context}{choice}"), add_bos, false).map_err(|e| e.to_string())?;
            let shared = whole.iter().zip(&context_tokens).take_while(|(a, b)| a == b).count();
            // At least one context token predicts the first choice token.
            let split = shared.clamp(1, whole.len().saturating_sub(1).max(1));
            let continuation = &whole[split..];
            if continuation.is_empty() {
                return Err(format!("choice {choice:?} adds no tokens to the prompt"));
            }
            self.check_window(whole.len().max(2))?;
            let hidden = self.hidden_states(&whole[..whole.len() - 1], self.n_batch)?;
            let scored = self.logprobs_at(&hidden, split - 1, continuation)?;
            out.push(ChoiceScore {
                loglik: scored.iter().map(|(l, _)| l).sum(),
                tokens: continuation.len() as u64,
                bytes: choice.len() as u64,
                greedy: scored.iter().all(|(_, g)| *g),
            });
        }
        Ok(out)
    }
}

fn last_row(hidden: &Tensor) -> Result<Tensor, EngineError> {
    let rows = hidden.dim(0).map_err(candle)?;
    hidden.narrow(0, rows - 1, 1).map_err(candle)
}

/// Byte offset of the earliest stop sequence in `text`.
fn earliest_stop(text: &str, stops: &[String]) -> Option<usize> {
    stops.iter().filter(|s| !s.is_empty()).filter_map(|s| text.find(s.as_str())).min()
}

#[cfg(test)]
mod tests {
    use super::earliest_stop;

    #[test]
    fn cuts_at_the_earliest_stop_sequence() {
        let stops = vec!["\n".to_owned(), "Q:".to_owned()];
        assert_eq!(earliest_stop(" Paris\nQ: next", &stops), Some(6));
        assert_eq!(earliest_stop(" Paris Q:\n", &stops), Some(7));
        assert_eq!(earliest_stop(" Paris", &stops), None);
        assert_eq!(earliest_stop("x", &[String::new()]), None);
    }
}
