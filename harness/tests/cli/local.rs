//! The real binary on the real demo model: the shipped quickstart and
//! perplexity suites, run end to end (no server, no network). Skipped when
//! the model is not fetched, unless `EVALKIT_REQUIRE_MODELS` is set (CI).

use std::path::PathBuf;

use serde_json::Value;

use crate::support::*;

fn demo_model_present() -> bool {
    let dir = match std::env::var_os("EVALKIT_MODELS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/evalkit/models"),
    };
    if dir.join("gemma-3-270m-q4_k_m.gguf").exists() {
        return true;
    }
    assert!(std::env::var_os("EVALKIT_REQUIRE_MODELS").is_none(), "the demo model is missing; run ci/fetch-demo-model");
    eprintln!("skipping: the demo model is missing (run ci/fetch-demo-model)");
    false
}

/// A shipped suite, copied next to its datasets' relative location and with
/// run folders and cache inside the sandbox.
fn shipped_suite(sandbox: &Sandbox, name: &str) -> PathBuf {
    let repo = package_dir().join("..");
    let text = std::fs::read_to_string(repo.join("suites").join(name)).unwrap();
    let datasets = repo.join("datasets").canonicalize().unwrap();
    let text = text
        .replace("\"../datasets/", &format!("\"{}/", datasets.display()))
        .replace("output_dir = \"../runs\"", "output_dir = \"runs\"")
        .replace("cache_dir = \"../.evalkit/cache\"", "cache_dir = \"cache\"");
    sandbox.write(name, &text)
}

fn read_results(sandbox: &Sandbox, output: &Output) -> Value {
    let dir = output.run_dir(sandbox.path());
    serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap()
}

#[test]
fn the_quickstart_answers_offline() {
    if !demo_model_present() {
        return;
    }
    let sandbox = Sandbox::new();
    let suite = shipped_suite(&sandbox, "quickstart.toml");
    sandbox.evalkit(&["validate", suite.to_str().unwrap()]).expect_code(0);
    let output = sandbox.evalkit_slow(&["run", suite.to_str().unwrap()]);
    output.expect_code(0);
    let results = read_results(&sandbox, &output);
    let exact = results["aggregates"].as_array().unwrap().iter().find(|a| a["metric"] == "exact_match").unwrap();
    assert_eq!(exact["valid"], 24);
    // The base model knows most capitals from three examples.
    assert!(exact["mean"].as_f64().unwrap() >= 0.6, "{exact}");
    let runtime = &results["variants"][0]["runtime"];
    assert_eq!(runtime["architecture"], "gemma3");
    assert_eq!(runtime["weights"], "stored");
    assert!(runtime["load_seconds"].as_f64().unwrap() > 0.0);
    assert!(runtime["peak_rss_bytes"].as_u64().unwrap() > runtime["weights_bytes"].as_u64().unwrap());
    let usage = &results["usage"][0];
    assert!(usage["prompt_tokens_per_second"].as_f64().unwrap() > 0.0);
    assert!(usage["generation_tokens_per_second"].as_f64().unwrap() > 0.0);
    // An unchanged second run is served from the cache without loading the model.
    let again = sandbox.evalkit_slow(&["run", suite.to_str().unwrap()]);
    again.expect_code(0);
    assert_eq!(read_results(&sandbox, &again)["usage"][0]["cached"], 24);
}

/// `llama-perplexity -m gemma-3-270m-q4_k_m.gguf -f mpl-2.0.txt -c 512 -b 512 -t 2`
/// printed `Final estimate: PPL = 8.8969 +/- 0.55607`
/// (backends/local/tests/fixtures/llama_cpp/README.md).
const LLAMA_CPP_MPL_C512: (f64, f64) = (8.8969, 0.55607);

#[test]
fn the_perplexity_suite_reproduces_llama_cpp() {
    if !demo_model_present() {
        return;
    }
    let sandbox = Sandbox::new();
    let suite = shipped_suite(&sandbox, "perplexity.toml");
    let output = sandbox.evalkit_slow(&["run", suite.to_str().unwrap()]);
    output.expect_code(0);
    let results = read_results(&sandbox, &output);
    let corpus = |variant: &str| {
        let aggregate = results["aggregates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["metric"] == "perplexity" && a["variant"] == variant)
            .unwrap();
        aggregate["corpus"].clone()
    };
    let (reference, reference_se) = LLAMA_CPP_MPL_C512;
    let stored = corpus("q4_k_m-stored");
    let ppl = stored["perplexity"].as_f64().unwrap();
    assert!((ppl - reference).abs() / reference < 0.005, "stored: {ppl} vs llama.cpp {reference}");
    let se = stored["std_error"].as_f64().unwrap();
    assert!((se - reference_se).abs() / reference_se < 0.02, "standard error {se} vs {reference_se}");
    // 7 windows of 512 tokens, 255 scored in each.
    assert_eq!(stored["tokens"], 7 * 255);
    assert!(stored["bits_per_byte"].as_f64().unwrap() > 0.0 && stored["word_perplexity"].as_f64().unwrap() > ppl);
    let f32_ppl = corpus("q4_k_m-f32")["perplexity"].as_f64().unwrap();
    assert!((f32_ppl - reference).abs() / reference < 0.01, "f32: {f32_ppl} vs llama.cpp {reference}");
    assert_eq!(results["variants"][1]["runtime"]["weights"], "f32");
}

/// This package's folder. Read at run time (cargo sets it for tests and
/// benches) because the compile-time value goes stale when a shared target
/// directory serves checkouts at different paths.
fn package_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}
