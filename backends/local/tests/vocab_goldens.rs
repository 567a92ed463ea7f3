//! Tokenizers rebuilt from real GGUF vocabularies must give the reference token ids.
//!
//! llama.cpp keeps vocabulary-only GGUF files with test cases in its `models/` folder: each
//! `ggml-vocab-<name>.gguf` has a `.inp` file (46 texts, each followed by the line
//! `__ggml_vocab_test__`) and a `.out` file (the Hugging Face tokenizer's ids for each text, one
//! line per text), written by llama.cpp's `convert_hf_to_gguf_update.py`. The texts and ids are
//! committed in `fixtures/llama_cpp_vocab/`; the GGUF files are not (16 MB):
//! `ci/fetch-vocabularies` downloads them. Without them these tests pass with a note, unless
//! `EVALKIT_REQUIRE_MODELS` is set (CI), where a missing file is a failure; see
//! `support::vocabulary`.
//!
//! Each text must give exactly its ids, and its ids must decode back to the text.
//!
//! The texts are tokenized as llama.cpp's `tests/test-tokenizer-0.cpp` does, which its CI runs on
//! these same files: no BOS (`add_special = false`, as the reference was made with
//! `add_special_tokens=False`) and no special-token parsing (`parse_special = false`).

mod support;

use candle_core::quantized::gguf_file;
use evalkit_local::LocalTokenizer;

/// The line between two texts of a `.inp` file, with the newlines around it.
const SEPARATOR: &str = "\n__ggml_vocab_test__\n";

/// Every `.inp` file has the 46 texts of `convert_hf_to_gguf_update.py`'s `tests` list.
const CASES: usize = 46;

struct Case {
    text: String,
    ids: Vec<u32>,
}

/// The texts of `ggml-vocab-<name>.gguf.inp` paired with the ids of its `.out`, read exactly as
/// `test-tokenizer-0.cpp`'s `read_tests` does: texts are what lies between separators, kept
/// byte-exact (a separator's leading newline belongs to the separator, not to the text before
/// it, so a text may be empty or only newlines); `.out` lines are stripped and split at spaces.
fn cases(name: &str) -> Vec<Case> {
    let read = |file: String| {
        let path = support::vocab_fixture(&file);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    };
    let inp = read(format!("ggml-vocab-{name}.gguf.inp"));
    let out = read(format!("ggml-vocab-{name}.gguf.out"));

    let mut texts = Vec::new();
    let mut rest = inp.as_str();
    while !rest.is_empty() {
        match rest.find(SEPARATOR) {
            Some(end) => {
                texts.push(&rest[..end]);
                rest = &rest[end + SEPARATOR.len()..];
            }
            None => {
                texts.push(rest);
                break;
            }
        }
    }
    let ids: Vec<Vec<u32>> = out
        .lines()
        .map(|line| {
            line.split_whitespace().map(|id| id.parse().unwrap_or_else(|e| panic!("bad id {id:?}: {e}"))).collect()
        })
        .collect();
    assert_eq!(texts.len(), ids.len(), "ggml-vocab-{name}: the .inp and .out files have different numbers of tests");
    assert_eq!(texts.len(), CASES, "ggml-vocab-{name}: unexpected number of tests");
    texts.into_iter().zip(ids).map(|(text, ids)| Case { text: text.to_owned(), ids }).collect()
}

/// `ids` with each token's vocabulary text: `[9906 "Hello", 1917 "Ġworld"]`.
fn show(tokenizer: &LocalTokenizer, ids: &[u32]) -> String {
    let tokens: Vec<String> = ids
        .iter()
        .map(|&id| format!("{id} {:?}", tokenizer.token_text(id).unwrap_or_else(|| "?".to_owned())))
        .collect();
    format!("[{}]", tokens.join(", "))
}

/// Checks every case of `ggml-vocab-<name>.gguf`; `model` and `pre` are the
/// `tokenizer.ggml.model` and `tokenizer.ggml.pre` the file must name, so that a vocabulary that
/// changed kind upstream is noticed rather than tested as something else.
fn check(name: &str, model: &str, pre: &str) {
    let cases = cases(name);
    let Some(path) = support::vocabulary(&format!("ggml-vocab-{name}.gguf")) else { return };
    let mut file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    // Reads only the header and metadata; a vocabulary-only file has no tensors anyway.
    let content = gguf_file::Content::read(&mut file).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let string = |key: &str| match content.metadata.get(key) {
        Some(gguf_file::Value::String(value)) => Some(value.as_str()),
        _ => None,
    };
    assert_eq!(string("tokenizer.ggml.model"), Some(model), "{}: tokenizer.ggml.model", path.display());
    assert_eq!(string("tokenizer.ggml.pre"), Some(pre), "{}: tokenizer.ggml.pre", path.display());
    let tokenizer = LocalTokenizer::from_gguf(&content.metadata)
        .unwrap_or_else(|e| panic!("cannot build the tokenizer of {}: {e}", path.display()));

    let (mut encode_failures, mut decode_failures) = (Vec::new(), Vec::new());
    for (index, case) in cases.iter().enumerate() {
        let got = tokenizer.encode(&case.text, false, false).expect("encode");
        if got != case.ids {
            let first = got.iter().zip(&case.ids).take_while(|(a, b)| a == b).count();
            encode_failures.push(format!(
                "case {index}: text {:?}\n  expected {}\n  got      {}\n  first difference at token {first}",
                case.text,
                show(&tokenizer, &case.ids),
                show(&tokenizer, &got),
            ));
        }
        // The reference ids must also decode to the text (llama.cpp's detokenizer drops the
        // space SentencePiece's add_space_prefix put in front).
        let decoded = tokenizer.decode(&case.ids).expect("decode");
        if decoded != case.text {
            decode_failures
                .push(format!("case {index}: the reference ids decode to {decoded:?} instead of {:?}", case.text));
        }
    }
    let n = cases.len();
    eprintln!(
        "ggml-vocab-{name}: {}/{n} texts give the reference ids, {}/{n} reference id lists decode to their text",
        n - encode_failures.len(),
        n - decode_failures.len(),
    );
    assert!(
        encode_failures.is_empty() && decode_failures.is_empty(),
        "ggml-vocab-{name}: {} of {n} texts differ from the reference ids, {} of {n} id lists decode wrongly:\n\n{}",
        encode_failures.len(),
        decode_failures.len(),
        [encode_failures, decode_failures].concat().join("\n\n")
    );
}

/// Llama 2: SentencePiece (`llama`), with a space prefix and byte fallback. (Its `pre` is
/// "default", which SentencePiece vocabularies ignore.)
#[test]
fn llama_spm() {
    check("llama-spm", "llama", "default");
}

/// Llama 3: byte-level BPE, pre-tokenizer `llama-bpe`.
#[test]
fn llama_bpe() {
    check("llama-bpe", "gpt2", "llama-bpe");
}

/// Qwen2: byte-level BPE, pre-tokenizer `qwen2`.
#[test]
fn qwen2() {
    check("qwen2", "gpt2", "qwen2");
}

/// GPT-2: byte-level BPE, pre-tokenizer `gpt-2`.
#[test]
fn gpt2() {
    check("gpt-2", "gpt2", "gpt-2");
}

/// The fixture reader keeps texts byte-exact: empty texts, whitespace-only texts and leading
/// or trailing newlines survive.
#[test]
fn fixture_texts_are_read_byte_exact() {
    let cases = cases("qwen2");
    let texts: Vec<&str> = cases.iter().map(|case| case.text.as_str()).collect();
    assert_eq!(&texts[..11], ["ied 4 ½ months", "Äpfel", "", " ", "  ", "   ", "\t", "\n", "\n\n", "\n\n\n", "\t\n"]);
    assert_eq!(texts[28], "    Hello\n    Hello");
    assert_eq!(texts[30], "\n =");
    assert!(cases[2].ids.is_empty(), "the empty text has no ids");
    assert!(texts[45].starts_with("\n \n\n \n\n\n \t \t\t \t\n"), "{:?}", &texts[45][..20]);
}
