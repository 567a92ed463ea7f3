//! Prefill, decode and perplexity throughput of the demo model.
//!
//! ```text
//! ci/fetch-demo-model
//! cargo bench --workspace --profile dev --bench local_model
//! ```
//!
//! `--profile dev` reuses the test build (dependencies are optimised there)
//! instead of compiling everything again for the bench profile. Compare with
//! llama.cpp on the same machine: `llama-bench -m <model> -t 2 -p 512 -n 128`
//! and the "prompt eval" line of `llama-perplexity -c 512`.

use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use evalkit_local::{DeviceChoice, LocalBackend, LocalConfig, WeightsMode};
use evalkit_model_api::{Backend, GenParams, GenRequest, Prompt, ScoreSpec};

fn model() -> Option<PathBuf> {
    let home = PathBuf::from(std::env::var_os("HOME")?);
    let path = home.join(".cache/evalkit/models/gemma-3-270m-q4_k_m.gguf");
    path.exists().then_some(path)
}

fn text() -> String {
    let path = package_dir().join("../backends/local/tests/fixtures/llama_cpp/ppl_text.txt");
    std::fs::read_to_string(path).expect("the perplexity fixture text")
}

fn bench(c: &mut Criterion) {
    let Some(path) = model() else {
        eprintln!("skipping: run ci/fetch-demo-model first");
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    for weights in [WeightsMode::Stored, WeightsMode::F32] {
        let config =
            LocalConfig { model: path.clone(), weights, device: DeviceChoice::Cpu, n_batch: 512, chat_template: None };
        let backend = LocalBackend::open(config).expect("the demo model opens");
        let tokenizer = backend.tokenizer();
        let ids = tokenizer.encode(&text(), false, false).expect("tokenizes");
        // Exactly 511 text tokens after BOS: a 512-position prompt.
        let prompt_512 = tokenizer.decode(&ids[..511]).expect("decodes");
        let run = |request: &GenRequest| runtime.block_on(backend.generate(request)).expect("the model answers");

        let mut group = c.benchmark_group(format!("gemma3-270m/{}", weights.name()));
        group.sample_size(10).measurement_time(Duration::from_secs(30));

        let prefill = GenRequest {
            prompt: Prompt::Completion(prompt_512.clone()),
            params: GenParams { max_tokens: Some(1), ..Default::default() },
            score: None,
        };
        group.throughput(Throughput::Elements(512));
        group.bench_function("prefill_512_tokens", |b| b.iter(|| run(&prefill)));

        let decode = |n| GenRequest {
            prompt: Prompt::Completion("The quick brown fox".into()),
            params: GenParams { max_tokens: Some(n), ..Default::default() },
            score: None,
        };
        let (one, many) = (decode(1), decode(33));
        group.throughput(Throughput::Elements(1));
        group.bench_function("generate_1_token", |b| b.iter(|| run(&one)));
        group.throughput(Throughput::Elements(33));
        group.bench_function("generate_33_tokens", |b| b.iter(|| run(&many)));

        // One llama.cpp perplexity window: 512 positions, 255 tokens scored.
        let window = GenRequest {
            prompt: Prompt::Completion(tokenizer.decode(&ids[..1100]).expect("decodes")),
            params: GenParams::default(),
            score: Some(ScoreSpec::LlamaCpp { n_ctx: 512, n_batch: 512, chunks: Some(1) }),
        };
        group.throughput(Throughput::Elements(255));
        group.bench_function("perplexity_window_512", |b| b.iter(|| run(&window)));
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

/// This package's folder. Read at run time (cargo sets it for tests and
/// benches) because the compile-time value goes stale when a shared target
/// directory serves checkouts at different paths.
fn package_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}
