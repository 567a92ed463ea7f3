//! The Gemma 3 tokenizer rebuilt from GGUF metadata must give exactly llama.cpp's token ids.
//!
//! The goldens in `fixtures/llama_cpp/gemma3_tokenize.jsonl` were produced by llama.cpp's
//! `llama-tokenize --no-bos` on the demo model: `ids` with special tokens read as plain text
//! (`--no-parse-special`), `ids_special` (when present) with them parsed.
//!
//! The model is not in the repository (`ci/fetch-demo-model` downloads it). Without it these
//! tests pass with a note, unless `EVALKIT_REQUIRE_MODELS` is set (CI), where a missing model is
//! a failure; see `support::demo_model`.

mod support;

use std::path::Path;
use std::sync::OnceLock;

use candle_core::quantized::gguf_file;
use evalkit_local::LocalTokenizer;

fn load(path: &Path) -> LocalTokenizer {
    let mut file = std::fs::File::open(path).unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    // Reads only the header and metadata, not the tensor data.
    let content = gguf_file::Content::read(&mut file).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    LocalTokenizer::from_gguf(&content.metadata).unwrap_or_else(|e| panic!("cannot build the tokenizer: {e}"))
}

/// The demo model's tokenizer, built once for all tests; `None` when the model is absent and
/// not required.
fn tokenizer() -> Option<&'static LocalTokenizer> {
    static TOKENIZER: OnceLock<Option<LocalTokenizer>> = OnceLock::new();
    TOKENIZER.get_or_init(|| support::demo_model().map(|path| load(&path))).as_ref()
}

struct Golden {
    text: String,
    ids: Vec<u32>,
    ids_special: Option<Vec<u32>>,
}

fn goldens() -> Vec<Golden> {
    let path = support::fixture("gemma3_tokenize.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let ids = |value: &serde_json::Value| -> Vec<u32> {
        let list = value.as_array().expect("ids are a list");
        list.iter().map(|id| id.as_u64().and_then(|id| u32::try_from(id).ok()).expect("ids are u32")).collect()
    };
    let goldens: Vec<Golden> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let value: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("bad golden {line}: {e}"));
            Golden {
                text: value["text"].as_str().expect("text is a string").to_owned(),
                ids: ids(&value["ids"]),
                ids_special: value.get("ids_special").map(ids),
            }
        })
        .collect();
    assert!(!goldens.is_empty(), "{} has no goldens", path.display());
    goldens
}

#[test]
fn ids_match_llama_cpp() {
    let Some(tokenizer) = tokenizer() else { return };
    let goldens = goldens();
    let mut failures = Vec::new();
    let mut checked = 0;
    for golden in &goldens {
        let cases = [(false, Some(&golden.ids)), (true, golden.ids_special.as_ref())];
        for (parse_special, expected) in cases {
            let Some(expected) = expected else { continue };
            checked += 1;
            let got = tokenizer.encode(&golden.text, false, parse_special).expect("encode");
            if &got != expected {
                failures.push(format!(
                    "text {:?} (parse_special = {parse_special})\n  expected {expected:?}\n  got      {got:?}",
                    golden.text
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} encodings differ from llama.cpp:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn decode_inverts_encode() {
    let Some(tokenizer) = tokenizer() else { return };
    for golden in goldens() {
        let ids = tokenizer.encode(&golden.text, false, false).expect("encode");
        assert_eq!(tokenizer.decode(&ids).expect("decode"), golden.text, "ids {ids:?}");
    }
}

#[test]
fn control_tokens_are_parsed_only_when_asked() {
    let Some(tokenizer) = tokenizer() else { return };
    let ids = tokenizer.encode("<start_of_turn>", false, true).expect("encode");
    assert_eq!(ids.len(), 1, "{ids:?}");
    // A control token: not rendered when decoding, and not produced from plain text.
    assert_eq!(tokenizer.decode(&ids).expect("decode"), "");
    assert!(!tokenizer.encode("<start_of_turn>", false, false).expect("encode").contains(&ids[0]));

    assert_eq!(tokenizer.bos_id(), Some(2));
    assert!(tokenizer.add_bos_default());
    assert_eq!(tokenizer.encode("Hi", true, false).expect("encode").first(), Some(&2));
    assert_eq!(tokenizer.vocab_size(), 262_144);
}

/// llama.cpp turns tokens with end-of-generation texts into control tokens whatever their GGUF
/// type. Gemma 3's `</s>` (212) is a user-defined HTML tag in the GGUF, so a tokenizer that took
/// the GGUF types at face value would always match it. Ids from `llama-tokenize`.
#[test]
fn end_of_generation_tokens_follow_llama_cpp() {
    let Some(tokenizer) = tokenizer() else { return };
    assert_eq!(tokenizer.encode("a</s>b", false, false).expect("encode"), [236746, 954, 236751, 236813, 236763]);
    assert_eq!(tokenizer.encode("a</s>b", false, true).expect("encode"), [236746, 212, 236763]);
    // llama.cpp's EOG set for this model: <eos>, <end_of_turn>, </s>.
    let mut eos = tokenizer.eos_ids().to_vec();
    eos.sort_unstable();
    assert_eq!(eos, [1, 106, 212]);
}
