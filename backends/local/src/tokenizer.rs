//! Tokenizers for local models, reproducing llama.cpp's token ids.
//!
//! A GGUF file carries its tokenizer as metadata (`tokenizer.ggml.*`) rather than as a
//! `tokenizer.json`, so [`LocalTokenizer::from_gguf`] rebuilds an equivalent Hugging Face
//! [`Tokenizer`] from it. The goal is bit-for-bit agreement with llama.cpp (`llama-vocab.cpp`),
//! because scores such as perplexity are only comparable across tools when both see the same ids.
//!
//! Two vocabulary kinds are supported, the ones llama.cpp calls SPM and BPE:
//!
//! - `tokenizer.ggml.model = "llama"` (SentencePiece: Gemma, Llama 2, Mistral, TinyLlama). The
//!   GGUF has tokens, scores and token types but no merges. llama.cpp's `llm_tokenizer_spm`
//!   starts from single characters and repeatedly merges the adjacent pair whose concatenation is
//!   the vocabulary token with the highest score. A BPE model whose merges are "every way a token
//!   splits into two vocabulary tokens, ranked by that token's score" performs exactly the same
//!   merges, so that is what we build. (A Unigram model over the same scores finds the most likely
//!   segmentation instead, which is what SentencePiece does but not what llama.cpp does.)
//! - `tokenizer.ggml.model = "gpt2"` (byte-level BPE: Qwen2/3, Llama 3). The GGUF has the merges;
//!   the text is first split by the regular expressions that `tokenizer.ggml.pre` names.
//!
//! In both, control tokens (`<start_of_turn>`, `<bos>`) are matched in the text only when asked
//! to (rendered chat templates), while user-defined tokens (Gemma's whitespace runs and HTML tags)
//! are always matched before the model runs, as llama.cpp does.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::quantized::gguf_file::Value;
use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::byte_level::ByteLevel;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::decoders::strip::Strip;
use tokenizers::models::bpe::{Merges, Vocab, BPE};
use tokenizers::normalizers::{Prepend, Replace, Sequence as NormalizerSequence};
use tokenizers::pre_tokenizers::sequence::Sequence as PreTokenizerSequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{
    AddedToken, DecoderWrapper, NormalizerWrapper, PreTokenizerWrapper, SplitDelimiterBehavior, Tokenizer,
};

use crate::gguf_metadata::{integer, Metadata};

/// The `tokenizer.ggml.model` values this module can rebuild.
const SUPPORTED_MODELS: &str =
    "\"llama\" (SentencePiece: Gemma, Llama 2, Mistral) and \"gpt2\" (byte-level BPE: Qwen2/3, Llama 3)";

/// SentencePiece's visible space, which stands for ' ' inside SPM tokens.
const SPM_SPACE: &str = "\u{2581}";

/// Token texts that end generation, from llama.cpp's `special_eog_ids` autodetection: chat
/// models stop on their end-of-turn token rather than on EOS. llama.cpp also makes these tokens
/// control tokens whatever their GGUF type, which changes tokenization: Gemma 3 has `</s>` as a
/// user-defined (HTML) token, so llama.cpp matches it only when parsing special tokens.
const END_OF_GENERATION_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<｜end▁of▁sentence｜>",
    "[e~[",
    // Fill-in-the-middle padding and file separators.
    "<|fim_pad|>",
    "<fim-pad>",
    "<fim_pad>",
    "<PAD>",
    "[PAD]",
    "<|fim_repo|>",
    "<|repo_name|>",
    "<fim-repo>",
    "<REPO>",
    "<reponame>",
    "<|file_sep|>",
];

/// The other texts llama.cpp makes control tokens: fill-in-the-middle markers.
const FILL_IN_THE_MIDDLE_TEXTS: &[&str] = &[
    "<|fim_prefix|>",
    "<fim-prefix>",
    "<fim_prefix>",
    "<｜fim▁begin｜>",
    "<PRE>",
    "▁<PRE>",
    "<|code_prefix|>",
    "<|prefix|>",
    "<|fim_suffix|>",
    "<fim-suffix>",
    "<fim_suffix>",
    "<｜fim▁hole｜>",
    "<SUF>",
    "▁<SUF>",
    "<|code_suffix|>",
    "<|suffix|>",
    "<|fim_middle|>",
    "<fim-middle>",
    "<fim_middle>",
    "<｜fim▁end｜>",
    "<MID>",
    "▁<MID>",
    "<|code_middle|>",
    "<|middle|>",
];

/// gpt-oss markers that llama.cpp always renders, whatever their GGUF type.
const ALWAYS_RENDERED_TEXTS: &[&str] = &["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"];

/// Why a tokenizer could not be built or used.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// The GGUF lacks a key the tokenizer needs.
    #[error("the GGUF metadata has no `{0}`, so its tokenizer cannot be rebuilt")]
    MissingKey(&'static str),
    /// A GGUF key holds a value of an unexpected type.
    #[error("GGUF metadata `{key}` should be {expected}")]
    WrongType {
        /// The metadata key.
        key: String,
        /// What it should hold.
        expected: &'static str,
    },
    /// `tokenizer.ggml.model` names a vocabulary kind we cannot rebuild.
    #[error("unsupported tokenizer.ggml.model \"{0}\"; supported: {SUPPORTED_MODELS}")]
    UnsupportedModel(String),
    /// `tokenizer.ggml.pre` names a pre-tokenizer (splitting regex) we do not know.
    #[error("unsupported tokenizer.ggml.pre \"{0}\" for a gpt2 vocabulary; supported: {names}",
        names = PreTokenizer::supported_names())]
    UnsupportedPreTokenizer(String),
    /// The GGUF vocabulary arrays are inconsistent.
    #[error("invalid tokenizer metadata: {0}")]
    InvalidMetadata(String),
    /// A tokenizer file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },
    /// A tokenizer file is not valid JSON of the expected shape.
    #[error("cannot parse {}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// `decode` was given an id the vocabulary does not have.
    #[error("token id {id} is outside the vocabulary (size {vocab_size})")]
    UnknownId {
        /// The id.
        id: u32,
        /// How many ids the vocabulary has.
        vocab_size: usize,
    },
    /// The `tokenizers` library failed.
    #[error("tokenizer failed to {action}: {source}")]
    Tokenizers {
        /// What was being done (`encode`, `decode`, `build`).
        action: &'static str,
        /// The library's error.
        #[source]
        source: tokenizers::Error,
    },
}

impl From<crate::gguf_metadata::WrongType> for TokenizerError {
    fn from(error: crate::gguf_metadata::WrongType) -> Self {
        TokenizerError::WrongType { key: error.key, expected: error.expected }
    }
}

impl TokenizerError {
    fn tokenizers(action: &'static str) -> impl FnOnce(tokenizers::Error) -> Self {
        move |source| Self::Tokenizers { action, source }
    }
}

/// A model's tokenizer, with the special-token facts an evaluation needs. Cheap to clone: the
/// vocabularies (tens of megabytes for Gemma's 262k tokens) are shared.
#[derive(Clone)]
pub struct LocalTokenizer {
    /// Matches control tokens written in the text (`parse_special = true`).
    special: Arc<Tokenizer>,
    /// The same tokenizer with control tokens in the text treated as plain text. A second copy,
    /// because `tokenizers` makes this a setting of the tokenizer rather than of `encode`.
    plain: Arc<Tokenizer>,
    bos: Option<u32>,
    eos: Vec<u32>,
    add_bos: bool,
    vocab_size: usize,
    /// Ids that decode to nothing (control, unknown and unused tokens), for vocabularies whose
    /// `tokenizers` form does not mark them all special.
    hidden: Arc<HashSet<u32>>,
}

impl std::fmt::Debug for LocalTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalTokenizer")
            .field("vocab_size", &self.vocab_size)
            .field("bos", &self.bos)
            .field("eos", &self.eos)
            .field("add_bos", &self.add_bos)
            .finish_non_exhaustive()
    }
}

impl LocalTokenizer {
    /// From GGUF metadata (`candle_core::quantized::gguf_file::Content::metadata`).
    pub fn from_gguf(metadata: &HashMap<String, Value>) -> Result<Self, TokenizerError> {
        let meta = Metadata(metadata);
        let model = meta.str("tokenizer.ggml.model")?.ok_or(TokenizerError::MissingKey("tokenizer.ggml.model"))?;
        // Defaults as in llama.cpp's `llama_vocab::impl::load`, overridden by the metadata below
        // (except llama.cpp's GPT-2 default of id 11 for BOS and EOS: BPE GGUFs name theirs).
        let (kind, default_bos, default_eos, default_add_bos) = match model {
            "llama" => {
                let add_space_prefix = meta.bool("tokenizer.ggml.add_space_prefix")?.unwrap_or(true);
                (VocabKind::SentencePiece { add_space_prefix }, Some(1), Some(2), true)
            }
            "gpt2" => {
                let pre = PreTokenizer::from_name(meta.str("tokenizer.ggml.pre")?.unwrap_or("default"))?;
                (VocabKind::ByteLevelBpe(pre), None, None, pre == PreTokenizer::Llama3)
            }
            other => return Err(TokenizerError::UnsupportedModel(other.to_owned())),
        };

        let mut vocab = GgufVocab::read(&meta)?;
        let n_tokens = vocab.tokens.len();
        let id = |key: &'static str, default: Option<u32>| -> Result<Option<u32>, TokenizerError> {
            let id = meta.u32(key)?.or(default);
            // llama.cpp ignores special ids outside the vocabulary (with a warning); so do we.
            Ok(id.filter(|&id| (id as usize) < n_tokens))
        };
        let bos = id("tokenizer.ggml.bos_token_id", default_bos)?;
        let mut named_eog = Vec::new();
        for (key, default) in [
            ("tokenizer.ggml.eos_token_id", default_eos),
            ("tokenizer.ggml.eot_token_id", None),
            ("tokenizer.ggml.eom_token_id", None),
        ] {
            named_eog.extend(id(key, default)?);
        }
        let eos = vocab.apply_llama_cpp_token_rules(named_eog);
        let add_bos = meta.bool("tokenizer.ggml.add_bos_token")?.unwrap_or(default_add_bos);
        let hidden = vocab
            .kinds
            .iter()
            .enumerate()
            .filter(|(_, kind)| matches!(kind, TokenKind::Control | TokenKind::Unknown | TokenKind::Unused))
            .map(|(id, _)| id as u32)
            .collect();
        let tokenizer = match kind {
            VocabKind::SentencePiece { add_space_prefix } => build_spm(vocab, add_space_prefix)?,
            VocabKind::ByteLevelBpe(pre) => build_gpt2(vocab, &meta, pre)?,
        };
        Ok(Self::new(tokenizer, bos, eos, add_bos, n_tokens, hidden))
    }

    /// From a Hugging Face folder: `tokenizer.json`, plus `tokenizer_config.json` when present
    /// (`bos_token`, `eos_token`, `add_bos_token`) and `generation_config.json` (`eos_token_id`).
    pub fn from_hf_dir(dir: &Path) -> Result<Self, TokenizerError> {
        let path = dir.join("tokenizer.json");
        let json =
            std::fs::read_to_string(&path).map_err(|source| TokenizerError::Io { path: path.clone(), source })?;
        let mut tokenizer: Tokenizer =
            json.parse().map_err(|e: tokenizers::Error| TokenizerError::Parse { path, message: e.to_string() })?;
        // A tokenizer.json may ask for truncation or padding (for training); an evaluation must
        // see every token of its text and nothing else.
        tokenizer.with_truncation(None).map_err(TokenizerError::tokenizers("disable truncation"))?;
        tokenizer.with_padding(None);
        let config = read_json_if_present(&dir.join("tokenizer_config.json"))?;
        let generation_config = read_json_if_present(&dir.join("generation_config.json"))?;

        let token_id = |field: &str| -> Option<u32> {
            let value = config.as_ref()?.get(field)?;
            // Either "<bos>" or {"content": "<bos>", ...} (an AddedToken).
            let text = value.as_str().or_else(|| value.get("content")?.as_str())?;
            tokenizer.token_to_id(text)
        };
        let bos = token_id("bos_token");
        let mut eos: Vec<u32> = token_id("eos_token").into_iter().collect();
        // generation_config.json's eos_token_id (a number or a list) is what `generate` stops on.
        if let Some(value) = generation_config.as_ref().and_then(|c| c.get("eos_token_id")) {
            let ids = value.as_array().map_or_else(|| vec![value], |list| list.iter().collect());
            for id in ids.into_iter().filter_map(serde_json::Value::as_u64) {
                if let Ok(id) = u32::try_from(id) {
                    push_unique(&mut eos, id);
                }
            }
        }
        let eos = end_of_generation_ids(eos, |text| tokenizer.token_to_id(text));

        let add_bos = match config.as_ref().and_then(|c| c.get("add_bos_token")).and_then(serde_json::Value::as_bool) {
            Some(add_bos) => add_bos,
            // No explicit setting: the post-processor decides, so ask it.
            None => match bos {
                Some(bos) => {
                    let encoding = tokenizer.encode("a", true).map_err(TokenizerError::tokenizers("encode"))?;
                    encoding.get_ids().first() == Some(&bos)
                }
                None => false,
            },
        };
        let vocab_size = tokenizer.get_vocab_size(true);
        Ok(Self::new(tokenizer, bos, eos, add_bos, vocab_size, HashSet::new()))
    }

    fn new(
        special: Tokenizer,
        bos: Option<u32>,
        eos: Vec<u32>,
        add_bos: bool,
        vocab_size: usize,
        hidden: HashSet<u32>,
    ) -> Self {
        let mut plain = special.clone();
        plain.set_encode_special_tokens(true);
        Self {
            special: Arc::new(special),
            plain: Arc::new(plain),
            bos,
            eos,
            add_bos,
            vocab_size,
            hidden: Arc::new(hidden),
        }
    }

    /// Token ids of `text`.
    ///
    /// `add_bos`: prepend BOS (when the model has one). `parse_special`: whether control tokens
    /// written in the text (e.g. `<start_of_turn>`) become their ids (true, for rendered chat
    /// templates) or are tokenized as plain text (false, like llama.cpp's perplexity and
    /// `llama-tokenize --no-parse-special`). User-defined tokens are always matched, as llama.cpp
    /// does.
    pub fn encode(&self, text: &str, add_bos: bool, parse_special: bool) -> Result<Vec<u32>, TokenizerError> {
        let tokenizer = if parse_special { &self.special } else { &self.plain };
        // BOS is added here rather than by a post-processor so that both construction paths
        // behave the same and `add_bos` means exactly what it says.
        let encoding = tokenizer.encode_fast(text, false).map_err(TokenizerError::tokenizers("encode"))?;
        let bos = self.bos.filter(|_| add_bos);
        let mut ids = Vec::with_capacity(encoding.len() + usize::from(bos.is_some()));
        ids.extend(bos);
        ids.extend_from_slice(encoding.get_ids());
        Ok(ids)
    }

    /// Text of ids, skipping control tokens (used for generated answers). A leading space that
    /// encoding added (SentencePiece `add_space_prefix`) is removed, as llama.cpp does.
    pub fn decode(&self, ids: &[u32]) -> Result<String, TokenizerError> {
        if let Some(&id) = ids.iter().find(|&&id| id as usize >= self.vocab_size) {
            return Err(TokenizerError::UnknownId { id, vocab_size: self.vocab_size });
        }
        let shown: Vec<u32> = ids.iter().copied().filter(|id| !self.hidden.contains(id)).collect();
        self.special.decode(&shown, true).map_err(TokenizerError::tokenizers("decode"))
    }

    /// The beginning-of-sequence id, when the model has one.
    pub fn bos_id(&self) -> Option<u32> {
        self.bos
    }

    /// End-of-generation ids: EOS, plus the end-of-turn ids the metadata names
    /// (`tokenizer.ggml.eot_token_id`, `eom_token_id`) or the vocabulary has under a well-known
    /// name (`<end_of_turn>`, `<|im_end|>`, `<|eot_id|>`, ...): llama.cpp's EOG set. For Gemma 3
    /// that is `<eos>` 1, `<end_of_turn>` 106 and `</s>` 212.
    pub fn eos_ids(&self) -> &[u32] {
        &self.eos
    }

    /// Whether the model expects BOS (`tokenizer.ggml.add_bos_token`; when absent, true for
    /// SentencePiece vocabularies and Llama 3, false for other byte-level BPE ones).
    pub fn add_bos_default(&self) -> bool {
        self.add_bos
    }

    /// Number of token ids (the model's embedding rows).
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// The text a template writes for this token (e.g. `<bos>`), as the vocabulary spells it.
    pub fn token_text(&self, id: u32) -> Option<String> {
        self.special.id_to_token(id)
    }
}

/// llama.cpp's end-of-generation set: the `named` ids (EOS, EOT, ...) and the tokens with a
/// well-known end-of-generation text, less the two exceptions llama.cpp makes for model
/// families where such a text is an ordinary token.
fn end_of_generation_ids(named: Vec<u32>, id_of: impl Fn(&str) -> Option<u32>) -> Vec<u32> {
    let mut ids = Vec::new();
    for id in named.into_iter().chain(END_OF_GENERATION_TEXTS.iter().filter_map(|text| id_of(text))) {
        push_unique(&mut ids, id);
    }
    let has = |ids: &[u32], text: &str| id_of(text).is_some_and(|id| ids.contains(&id));
    // gpt-oss (harmony) and solar-open end a message with <|end|> but keep generating.
    let has_call = has(&ids, "<|call|>") || has(&ids, "<|calls|>");
    if has_call && (has(&ids, "<|return|>") || has(&ids, "<|flush|>")) {
        ids.retain(|&id| Some(id) != id_of("<|end|>"));
    }
    // Gemma 4 and PLaMo have </s> as an ordinary token.
    if has(&ids, "<|tool_response>") || has(&ids, "<|plamo:eos|>") {
        ids.retain(|&id| Some(id) != id_of("</s>"));
    }
    ids
}

fn push_unique(ids: &mut Vec<u32>, id: u32) {
    if !ids.contains(&id) {
        ids.push(id);
    }
}

fn read_json_if_present(path: &Path) -> Result<Option<serde_json::Value>, TokenizerError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(TokenizerError::Io { path: path.to_owned(), source }),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| TokenizerError::Parse { path: path.to_owned(), message: e.to_string() })
}

/// `tokenizer.ggml.token_type`, as llama.cpp's `LLAMA_TOKEN_TYPE_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    Normal,
    Unknown,
    Control,
    UserDefined,
    Unused,
    Byte,
}

impl TokenKind {
    fn from_gguf(code: i64) -> Self {
        match code {
            1 => Self::Normal,
            2 => Self::Unknown,
            3 => Self::Control,
            4 => Self::UserDefined,
            6 => Self::Byte,
            // 5 is "unused"; llama.cpp treats undefined types (0, anything else) like unused
            // ones: part of the vocabulary, never matched as special, never rendered.
            _ => Self::Unused,
        }
    }
}

/// The vocabulary arrays of a GGUF file.
struct GgufVocab<'a> {
    tokens: Vec<&'a str>,
    kinds: Vec<TokenKind>,
    /// SentencePiece scores; all zero when absent (as in llama.cpp).
    scores: Vec<f32>,
    /// Token text to id. Where a text occurs twice the later id wins, as in llama.cpp's
    /// `token_to_id`; empty texts get llama.cpp's `[EMPTY_<id>]` placeholder.
    text_to_id: Vocab,
}

impl<'a> GgufVocab<'a> {
    fn read(meta: &Metadata<'a>) -> Result<Self, TokenizerError> {
        const TOKENS: &str = "tokenizer.ggml.tokens";
        const SCORES: &str = "tokenizer.ggml.scores";
        const TYPES: &str = "tokenizer.ggml.token_type";
        let tokens = meta.string_array(TOKENS)?.ok_or(TokenizerError::MissingKey(TOKENS))?;
        if tokens.is_empty() || u32::try_from(tokens.len()).is_err() {
            return Err(TokenizerError::InvalidMetadata(format!("`{TOKENS}` has {} tokens", tokens.len())));
        }
        let n = tokens.len();
        let too_short = |key: &str, len: usize| {
            TokenizerError::InvalidMetadata(format!("`{key}` has {len} entries but the vocabulary has {n} tokens"))
        };

        let scores = match meta.array(SCORES)? {
            None => vec![0.0; n],
            Some(values) if values.len() < n => return Err(too_short(SCORES, values.len())),
            Some(values) => values[..n]
                .iter()
                .map(|v| match *v {
                    Value::F32(s) => Ok(s),
                    // llama.cpp also accepts integer scores.
                    ref v => integer(v)
                        .map(|i| i as f32)
                        .ok_or(TokenizerError::WrongType { key: SCORES.to_owned(), expected: "an array of numbers" }),
                })
                .collect::<Result<_, _>>()?,
        };
        let kinds = match meta.array(TYPES)? {
            None => vec![TokenKind::Normal; n],
            Some(values) if values.len() < n => return Err(too_short(TYPES, values.len())),
            Some(values) => values[..n]
                .iter()
                .map(|v| {
                    integer(v).map(TokenKind::from_gguf).ok_or_else(|| TokenizerError::WrongType {
                        key: TYPES.to_owned(),
                        expected: "an array of integers",
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let text_to_id = tokens
            .iter()
            .enumerate()
            .map(|(id, text)| (if text.is_empty() { format!("[EMPTY_{id}]") } else { (*text).to_owned() }, id as u32))
            .collect();
        Ok(Self { tokens, kinds, scores, text_to_id })
    }

    /// Applies the token-type corrections llama.cpp makes by token text (GGUF files do not
    /// carry every attribute it needs) and returns the end-of-generation ids.
    fn apply_llama_cpp_token_rules(&mut self, named_eog: Vec<u32>) -> Vec<u32> {
        let text_to_id = &self.text_to_id;
        let id_of = |text: &str| text_to_id.get(text).map(|&id| id as usize);
        // Control-looking tokens become control tokens. (llama.cpp marks only the first
        // fill-in-the-middle token of each role it finds; vocabularies have at most one.)
        for text in END_OF_GENERATION_TEXTS.iter().chain(FILL_IN_THE_MIDDLE_TEXTS) {
            if let Some(id) = id_of(text) {
                self.kinds[id] = TokenKind::Control;
            }
        }
        for text in ALWAYS_RENDERED_TEXTS {
            if let Some(id) = id_of(text) {
                self.kinds[id] = TokenKind::UserDefined;
            }
        }
        let eog = end_of_generation_ids(named_eog, |text| text_to_id.get(text).copied());
        // The exceptions `end_of_generation_ids` made are ordinary tokens again.
        for (text, kind) in [("<|end|>", TokenKind::UserDefined), ("</s>", TokenKind::Normal)] {
            if let Some(id) = id_of(text).filter(|&id| !eog.contains(&(id as u32))) {
                self.kinds[id] = kind;
            }
        }
        eog
    }

    /// Control and unknown tokens become special added tokens (matched in the text only when
    /// parsing special tokens); user-defined ones become ordinary added tokens, always matched.
    /// Both match the raw text (`normalized = false`), as llama.cpp's `tokenizer_st_partition`
    /// runs before whitespace escaping.
    fn added_tokens(&self) -> Vec<AddedToken> {
        self.tokens
            .iter()
            .zip(&self.kinds)
            .filter(|(text, _)| !text.is_empty())
            .filter_map(|(text, kind)| match kind {
                TokenKind::Control | TokenKind::Unknown => Some(AddedToken::from(*text, true)),
                TokenKind::UserDefined => Some(AddedToken::from(*text, false)),
                _ => None,
            })
            .map(|token| token.normalized(false))
            .collect()
    }
}

/// SentencePiece merges derived from the scores: for every token that splits into two vocabulary
/// tokens, one merge per split, ranked by the token's score (highest first).
///
/// This mirrors llama.cpp's `llm_tokenizer_spm`, which repeatedly merges the adjacent pair whose
/// concatenation is the best-scoring vocabulary token (leftmost first on ties). Ties between
/// different tokens with equal scores are ranked by id; SentencePiece scores are distinct in
/// practice. Cost: one hash lookup pair per character boundary of each token.
fn spm_merges(vocab: &GgufVocab<'_>) -> Merges {
    let text_to_id = &vocab.text_to_id;
    let mut candidates: Vec<(f32, u32, &str, &str)> = Vec::new();
    for (id, text) in vocab.tokens.iter().enumerate() {
        let id = id as u32;
        // A duplicated text merges into whichever id the vocabulary resolves it to.
        if text_to_id.get(*text) != Some(&id) {
            continue;
        }
        for (split, _) in text.char_indices().skip(1) {
            let (left, right) = text.split_at(split);
            if text_to_id.contains_key(left) && text_to_id.contains_key(right) {
                candidates.push((vocab.scores[id as usize], id, left, right));
            }
        }
    }
    // The splits of one token never compete with each other at the same position, so their
    // relative rank does not matter; it is fixed (shorter left part first) for determinism.
    candidates.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.len().cmp(&b.2.len())));
    candidates.into_iter().map(|(_, _, left, right)| (left.to_owned(), right.to_owned())).collect()
}

fn build_spm(vocab: GgufVocab<'_>, add_space_prefix: bool) -> Result<Tokenizer, TokenizerError> {
    let merges = spm_merges(&vocab);
    let added_tokens = vocab.added_tokens();
    let unk = vocab.kinds.iter().position(|k| *k == TokenKind::Unknown).map(|id| vocab.tokens[id].to_owned());
    let mut builder = BPE::builder().vocab_and_merges(vocab.text_to_id, merges).byte_fallback(true);
    if let Some(unk) = unk {
        builder = builder.unk_token(unk);
    }
    let model = builder.build().map_err(TokenizerError::tokenizers("build the SentencePiece model"))?;

    // llama.cpp prefixes every text fragment (the text between matched special tokens) with a
    // space when add_space_prefix is set, then escapes spaces as '▁'. `tokenizers` normalizes
    // each fragment separately too, so a per-fragment Prepend is the same thing.
    let replace_space = Replace::new(" ", SPM_SPACE).map_err(TokenizerError::tokenizers("build the normalizer"))?;
    let mut normalizers: Vec<NormalizerWrapper> = vec![replace_space.into()];
    if add_space_prefix {
        normalizers.push(Prepend::new(SPM_SPACE.to_owned()).into());
    }
    let unescape_space = Replace::new(SPM_SPACE, " ").map_err(TokenizerError::tokenizers("build the decoder"))?;
    let mut decoders: Vec<DecoderWrapper> = vec![unescape_space.into(), ByteFallback::new().into(), Fuse::new().into()];
    if add_space_prefix {
        // Undo the prefix added when encoding, as llama.cpp's detokenizer does.
        decoders.push(Strip::new(' ', 1, 0).into());
    }

    let mut tokenizer = Tokenizer::new(model);
    tokenizer
        .with_normalizer(Some(NormalizerSequence::new(normalizers)))
        .map_err(TokenizerError::tokenizers("set the normalizer"))?;
    tokenizer.with_decoder(Some(DecoderSequence::new(decoders)));
    tokenizer.add_tokens(added_tokens).map_err(TokenizerError::tokenizers("add the special tokens"))?;
    Ok(tokenizer)
}

/// How a GGUF vocabulary tokenizes (`tokenizer.ggml.model`).
#[derive(Debug, Clone, Copy)]
enum VocabKind {
    /// `llama`: SentencePiece pieces and scores.
    SentencePiece { add_space_prefix: bool },
    /// `gpt2`: byte-level BPE with merges, split first by the named pre-tokenizer.
    ByteLevelBpe(PreTokenizer),
}

/// The pre-tokenizer regex families of llama.cpp's `llm_tokenizer_bpe` that we support.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PreTokenizer {
    Default,
    Gpt2,
    Llama3,
    Qwen2,
    Starcoder,
}

impl PreTokenizer {
    /// `tokenizer.ggml.pre` names, grouped as in llama.cpp's `llama_vocab::impl::load`.
    const NAMES: &'static [(&'static str, PreTokenizer)] = &[
        ("default", Self::Default),
        ("gpt-2", Self::Gpt2),
        ("phi-2", Self::Gpt2),
        ("mpt", Self::Gpt2),
        ("olmo", Self::Gpt2),
        ("roberta-bpe", Self::Gpt2),
        ("llama3", Self::Llama3),
        ("llama-v3", Self::Llama3),
        ("llama-bpe", Self::Llama3),
        ("falcon3", Self::Llama3),
        ("pixtral", Self::Llama3),
        ("qwen2", Self::Qwen2),
        ("deepseek-r1-qwen", Self::Qwen2),
        ("stablelm2", Self::Qwen2),
        ("starcoder", Self::Starcoder),
        ("smollm", Self::Starcoder),
        ("refact", Self::Starcoder),
    ];

    fn from_name(name: &str) -> Result<Self, TokenizerError> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, pre)| *pre)
            .ok_or_else(|| TokenizerError::UnsupportedPreTokenizer(name.to_owned()))
    }

    fn supported_names() -> String {
        Self::NAMES.iter().map(|(name, _)| format!("\"{name}\"")).collect::<Vec<_>>().join(", ")
    }

    /// The regexes llama.cpp splits with, in order (each splits the pieces of the previous one).
    /// Copied from `llm_tokenizer_bpe`'s constructor; Llama 3 and Qwen2 use llama.cpp's
    /// adaptation of the tokenizer.json pattern (explicit case classes instead of `(?i:...)`).
    fn regexes(self) -> &'static [&'static str] {
        const GPT2: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";
        match self {
            Self::Default => &[r"[\p{P}\$\+<=>\^~\|]+", GPT2, r"\p{N}+", "[0-9][0-9][0-9]"],
            Self::Gpt2 => &[GPT2],
            Self::Llama3 => &[
                r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
            ],
            Self::Qwen2 => &[
                r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
            ],
            Self::Starcoder => &[r"\p{N}", GPT2],
        }
    }
}

fn build_gpt2(vocab: GgufVocab<'_>, meta: &Metadata<'_>, pre: PreTokenizer) -> Result<Tokenizer, TokenizerError> {
    const MERGES: &str = "tokenizer.ggml.merges";
    let added_tokens = vocab.added_tokens();
    let text_to_id = vocab.text_to_id;
    let merge_lines = meta.string_array(MERGES)?.ok_or(TokenizerError::MissingKey(MERGES))?;
    // "left right", split at the first space after the first character (so that a left part
    // that is itself a space survives), as llama.cpp does. Merges naming tokens that are not in
    // the vocabulary can never apply; llama.cpp ignores them and `tokenizers` would reject them.
    let merges: Merges = merge_lines
        .iter()
        .filter_map(|line| {
            let first_len = line.chars().next()?.len_utf8();
            let split = line[first_len..].find(' ')? + first_len;
            let (left, right) = (&line[..split], &line[split + 1..]);
            let known = text_to_id.contains_key(left)
                && text_to_id.contains_key(right)
                && text_to_id.contains_key(&format!("{left}{right}"));
            known.then(|| (left.to_owned(), right.to_owned()))
        })
        .collect();
    let model = BPE::builder()
        .vocab_and_merges(text_to_id, merges)
        // llama.cpp uses a whole pre-token as is when it is in the vocabulary (Llama 3 only).
        .ignore_merges(pre == PreTokenizer::Llama3)
        .build()
        .map_err(TokenizerError::tokenizers("build the BPE model"))?;

    let mut pre_tokenizers = pre
        .regexes()
        .iter()
        .map(|regex| {
            Split::new(SplitPattern::Regex((*regex).to_owned()), SplitDelimiterBehavior::Isolated, false)
                .map(PreTokenizerWrapper::from)
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(TokenizerError::tokenizers("compile the pre-tokenizer regex"))?;
    // Bytes to GPT-2's printable characters; the splitting was done above.
    pre_tokenizers.push(ByteLevel::new(false, false, false).into());

    let mut tokenizer = Tokenizer::new(model);
    tokenizer.with_pre_tokenizer(Some(PreTokenizerSequence::new(pre_tokenizers)));
    tokenizer.with_decoder(Some(ByteLevel::default()));
    tokenizer.add_tokens(added_tokens).map_err(TokenizerError::tokenizers("add the special tokens"))?;
    Ok(tokenizer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Value {
        Value::Array(items.iter().map(|s| Value::String((*s).to_owned())).collect())
    }

    /// A hand-made byte-level BPE vocabulary: `merges` in rank order, token type 3 for
    /// `<|im_end|>` (control) and 4 for `<tool>` (user-defined).
    fn gpt2_metadata(pre: &str, merges: &[&str]) -> HashMap<String, Value> {
        let tokens = [
            "h",
            "e",
            "l",
            "o",
            "w",
            "r",
            "d",
            "Ġ",
            "<",
            ">",
            "|",
            "_",
            "i",
            "m",
            "n",
            "t",
            "he",
            "el",
            "ll",
            "hell",
            "hello",
            "Ġw",
            "or",
            "Ġwor",
            "<|im_end|>",
            "<tool>",
        ];
        let types: Vec<Value> = tokens
            .iter()
            .map(|t| {
                Value::I32(match *t {
                    "<|im_end|>" => 3,
                    "<tool>" => 4,
                    _ => 1,
                })
            })
            .collect();
        HashMap::from([
            ("tokenizer.ggml.model".to_owned(), Value::String("gpt2".to_owned())),
            ("tokenizer.ggml.pre".to_owned(), Value::String(pre.to_owned())),
            ("tokenizer.ggml.tokens".to_owned(), strings(&tokens)),
            ("tokenizer.ggml.token_type".to_owned(), Value::Array(types)),
            ("tokenizer.ggml.merges".to_owned(), strings(merges)),
            ("tokenizer.ggml.eos_token_id".to_owned(), Value::U32(24)),
        ])
    }

    const GPT2_MERGES: &[&str] = &["l l", "h e", "e l", "he ll", "hell o", "Ġ w", "o r", "Ġw or"];

    fn gpt2(pre: &str, merges: &[&str]) -> LocalTokenizer {
        LocalTokenizer::from_gguf(&gpt2_metadata(pre, merges)).expect("test vocabulary builds")
    }

    fn id_of(tokens: &LocalTokenizer, text: &str) -> u32 {
        tokens.special.token_to_id(text).expect("token in test vocabulary")
    }

    #[test]
    fn gpt2_applies_merges_in_rank_order() {
        let tok = gpt2("qwen2", GPT2_MERGES);
        // l+l (rank 0), then h+e (rank 1, beating e+l), then he+ll, then hell+o.
        assert_eq!(tok.encode("hello", false, false).unwrap(), [id_of(&tok, "hello")]);

        // With e+l ranked first it wins over h+e, and no merge joins h, el, l, o any further.
        let tok = gpt2("qwen2", &["e l", "h e", "l l", "he ll", "hell o"]);
        let expected: Vec<u32> = ["h", "el", "l", "o"].iter().map(|t| id_of(&tok, t)).collect();
        assert_eq!(tok.encode("hello", false, false).unwrap(), expected);
    }

    #[test]
    fn gpt2_maps_spaces_to_byte_level_characters() {
        for pre in ["qwen2", "llama-bpe", "gpt-2", "default"] {
            let tok = gpt2(pre, GPT2_MERGES);
            // " world" is one pre-token; its space becomes 'Ġ', which merges with 'w'.
            let expected: Vec<u32> = ["hello", "Ġwor", "l", "d"].iter().map(|t| id_of(&tok, t)).collect();
            assert_eq!(tok.encode("hello world", false, false).unwrap(), expected, "pre = {pre}");
            assert_eq!(tok.decode(&expected).unwrap(), "hello world", "pre = {pre}");
        }
    }

    #[test]
    fn gpt2_special_tokens() {
        let tok = gpt2("qwen2", GPT2_MERGES);
        let im_end = id_of(&tok, "<|im_end|>");
        let tool = id_of(&tok, "<tool>");
        assert_eq!(tok.encode("hello<|im_end|>", false, true).unwrap(), [id_of(&tok, "hello"), im_end]);
        // Control tokens are plain text unless parsed; user-defined ones always match.
        let plain = tok.encode("<|im_end|><tool>", false, false).unwrap();
        assert!(!plain.contains(&im_end) && plain.len() > 2, "{plain:?}");
        assert_eq!(plain.last(), Some(&tool));
        assert_eq!(tok.decode(&[id_of(&tok, "hello"), im_end]).unwrap(), "hello");
        assert_eq!(tok.eos_ids(), [im_end]);
        assert_eq!(tok.bos_id(), None);
        assert!(!tok.add_bos_default());
        assert_eq!(tok.vocab_size(), 26);
    }

    #[test]
    fn unsupported_vocabularies_are_clear_errors() {
        let err = LocalTokenizer::from_gguf(&gpt2_metadata("made-up", GPT2_MERGES)).unwrap_err();
        assert!(matches!(err, TokenizerError::UnsupportedPreTokenizer(ref pre) if pre == "made-up"), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("\"made-up\"") && message.contains("\"qwen2\"") && message.contains("\"llama-bpe\""));

        let mut metadata = gpt2_metadata("qwen2", GPT2_MERGES);
        metadata.insert("tokenizer.ggml.model".to_owned(), Value::String("bert".to_owned()));
        let err = LocalTokenizer::from_gguf(&metadata).unwrap_err();
        assert!(err.to_string().contains("\"bert\"") && err.to_string().contains("\"llama\""), "{err}");

        metadata.remove("tokenizer.ggml.model");
        let err = LocalTokenizer::from_gguf(&metadata).unwrap_err();
        assert!(matches!(err, TokenizerError::MissingKey("tokenizer.ggml.model")), "{err:?}");
    }

    #[test]
    fn hf_dir_reads_tokenizer_json_and_config() {
        let dir = std::env::temp_dir().join(format!("evalkit-tokenizer-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut saved = Tokenizer::clone(&gpt2("qwen2", GPT2_MERGES).special);
        // Truncation in tokenizer.json must not cut evaluation texts short.
        saved.with_truncation(Some(tokenizers::TruncationParams { max_length: 2, ..Default::default() })).unwrap();
        saved.save(dir.join("tokenizer.json"), false).unwrap();
        let config = r#"{"bos_token": "h", "eos_token": {"content": "<|im_end|>"}, "add_bos_token": true}"#;
        std::fs::write(dir.join("tokenizer_config.json"), config).unwrap();
        let loaded = LocalTokenizer::from_hf_dir(&dir);
        std::fs::remove_dir_all(&dir).unwrap();

        let tok = loaded.unwrap();
        let expected: Vec<u32> = ["h", "hello", "Ġwor", "l", "d"].iter().map(|t| id_of(&tok, t)).collect();
        assert_eq!(tok.encode("hello world", true, false).unwrap(), expected);
        assert_eq!(tok.bos_id(), Some(id_of(&tok, "h")));
        assert_eq!(tok.eos_ids(), [id_of(&tok, "<|im_end|>")]);
        assert!(tok.add_bos_default());
        assert_eq!(tok.decode(&expected[1..]).unwrap(), "hello world");

        let err = LocalTokenizer::from_hf_dir(&dir).unwrap_err();
        assert!(matches!(err, TokenizerError::Io { .. }) && err.to_string().contains("tokenizer.json"), "{err}");
    }

    /// A SentencePiece vocabulary: `<unk>`, `<s>`, `</s>`, the 256 byte tokens, then `pieces`
    /// with their scores.
    fn spm(pieces: &[(&str, f32)], add_space_prefix: bool) -> LocalTokenizer {
        let mut tokens = vec!["<unk>".to_owned(), "<s>".to_owned(), "</s>".to_owned()];
        let mut types = vec![2, 3, 3];
        let mut scores = vec![0.0, 0.0, 0.0];
        for byte in 0..=255u8 {
            tokens.push(format!("<0x{byte:02X}>"));
            types.push(6);
            scores.push(0.0);
        }
        for (piece, score) in pieces {
            tokens.push((*piece).to_owned());
            types.push(1);
            scores.push(*score);
        }
        let metadata = HashMap::from([
            ("tokenizer.ggml.model".to_owned(), Value::String("llama".to_owned())),
            ("tokenizer.ggml.tokens".to_owned(), Value::Array(tokens.into_iter().map(Value::String).collect())),
            ("tokenizer.ggml.token_type".to_owned(), Value::Array(types.into_iter().map(Value::I32).collect())),
            ("tokenizer.ggml.scores".to_owned(), Value::Array(scores.into_iter().map(Value::F32).collect())),
            ("tokenizer.ggml.add_space_prefix".to_owned(), Value::Bool(add_space_prefix)),
        ]);
        LocalTokenizer::from_gguf(&metadata).expect("test vocabulary builds")
    }

    #[test]
    fn shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<LocalTokenizer>();
    }

    #[test]
    fn end_of_generation_texts_become_control_tokens() {
        // Typed "normal" in the metadata, but llama.cpp treats it as a control token.
        let tok = spm(&[("a", -1.0), ("<end_of_turn>", -1.0)], false);
        let eot = id_of(&tok, "<end_of_turn>");
        assert_eq!(tok.eos_ids(), [2, eot]);
        assert_eq!(tok.encode("a<end_of_turn>", false, true).unwrap(), [id_of(&tok, "a"), eot]);
        assert!(!tok.encode("<end_of_turn>", false, false).unwrap().contains(&eot));
        assert_eq!(tok.decode(&[eot]).unwrap(), "");
    }

    #[test]
    fn spm_merges_the_best_scoring_pair_first() {
        let pieces = |ab: f32, bc: f32| [("a", -1.0), ("b", -1.0), ("c", -1.0), ("ab", ab), ("bc", bc), ("▁", -2.0)];
        let tok = spm(&pieces(-5.0, -3.0), false);
        let ids = |tok: &LocalTokenizer, texts: &[&str]| texts.iter().map(|t| id_of(tok, t)).collect::<Vec<_>>();
        assert_eq!(tok.encode("abc", false, false).unwrap(), ids(&tok, &["a", "bc"]));
        let tok = spm(&pieces(-3.0, -5.0), false);
        assert_eq!(tok.encode("abc", false, false).unwrap(), ids(&tok, &["ab", "c"]));
    }

    #[test]
    fn spm_space_prefix_byte_fallback_and_bos() {
        let pieces = [("a", -1.0), ("b", -1.0), ("▁", -2.0), ("▁a", -1.5)];
        let tok = spm(&pieces, true);
        assert_eq!(tok.bos_id(), Some(1));
        assert_eq!(tok.eos_ids(), [2]);
        assert!(tok.add_bos_default());
        // "a é": prefix space, spaces as '▁', and 'é' (not in the vocabulary) as its UTF-8 bytes.
        let expected = vec![1, id_of(&tok, "▁a"), id_of(&tok, "▁"), 3 + 0xC3, 3 + 0xA9];
        let ids = tok.encode("a é", true, false).unwrap();
        assert_eq!(ids, expected);
        assert_eq!(tok.decode(&ids).unwrap(), "a é");
        // Control tokens: matched only when parsing special tokens, and never decoded.
        assert_eq!(tok.encode("</s>", false, true).unwrap(), [2]);
        assert_ne!(tok.encode("</s>", false, false).unwrap(), [2]);
        assert_eq!(tok.decode(&[2, id_of(&tok, "b")]).unwrap(), "b");

        let tok = spm(&pieces, false);
        assert_eq!(tok.encode("a", false, false).unwrap(), [id_of(&tok, "a")]);
        assert!(matches!(tok.decode(&[10_000]), Err(TokenizerError::UnknownId { id: 10_000, .. })));
    }
}
