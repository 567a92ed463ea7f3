//! Cross-section checks: [`SuiteFile`] → [`Suite`].
//!
//! Every problem found is reported at once (not just the first), each at the
//! key it concerns.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use evalkit_metrics::{BuildContext, MetricConfig};
use evalkit_model_api::GenParams;

use super::parse::locate;
use super::schema::{BackendSpec, ParamsSpec, SuiteFile};
use super::source::{display_path, key_path, Key, SourceFile};
use super::{Suite, Variant};
use crate::diagnostic::{did_you_mean, Diagnostic, Diagnostics};
use crate::prompt::PromptTemplate;

/// Collects diagnostics located at key paths.
pub(crate) struct Checker<'a> {
    source: &'a SourceFile,
    found: Vec<Diagnostic>,
}

impl Checker<'_> {
    /// A problem at the key `path`, with an optional hint.
    pub(crate) fn error(&mut self, path: &[Key], message: String, hint: Option<String>) {
        let span = self.source.span_of(path).unwrap_or(0..0);
        self.found.push(locate(self.source, message, &span, hint));
    }

    /// Whether the suite file spells out the key `path` (a default is not written anywhere).
    pub(crate) fn has(&self, path: &[Key]) -> bool {
        self.source.span_of(path).is_some()
    }

    fn reference(&mut self, path: &[Key], what: &str, name: &str, known: &[&str]) {
        if !known.contains(&name) {
            let hint = did_you_mean(name, known).or_else(|| Some(format!("define `[{what}s.{name}]`")));
            self.error(path, format!("`{}` names {what} `{name}`, which is not defined", display_path(path)), hint);
        }
    }
}

/// Check a parsed suite.
pub fn check(source: SourceFile, mut file: SuiteFile) -> Result<Suite, Diagnostics> {
    // Paths are resolved here, once: everything after reads them as they are.
    let base = source.base_dir().to_path_buf();
    super::paths::map_paths(&mut file, |path| super::resolve_against(&base, &path.to_string_lossy()));
    let mut checker = Checker { source: &source, found: Vec::new() };
    let c = &mut checker;

    // The name is a folder under `output_dir`: `.` and `..` would put runs beside or above it.
    let name = file.suite.name.trim();
    let problem = if name.is_empty() {
        Some("`suite.name` must not be empty".to_owned())
    } else if name.contains(['/', '\\']) || name == "." || name == ".." {
        Some(format!("`suite.name` names the suite's folder under `output_dir`, and `{name}` cannot be one"))
    } else {
        None
    };
    if let Some(problem) = problem {
        let hint = "use letters, digits, `-`, `_` or `.`, without `/` or `\\`, and not `.` or `..`";
        c.error(&key_path!["suite", "name"], problem, Some(hint.into()));
    }

    let dataset = choose_dataset(c, &file);
    for (name, spec) in &file.datasets {
        if spec.format.is_none() && crate::dataset::format_from_extension(Path::new(&spec.path)).is_none() {
            c.error(
                &key_path!["datasets", name.as_str(), "path"],
                format!("cannot tell the format of `{}` from its extension", spec.path),
                Some("name the file `.jsonl`, `.csv` or `.parquet`, or set `format = \"jsonl\"`".into()),
            );
        }
        for (key, value) in [("limit", spec.limit), ("sample", spec.sample)] {
            if value == Some(0) {
                c.error(&key_path!["datasets", name.as_str(), key], format!("`{key}` must be at least 1"), None);
            }
        }
    }

    let prompts = check_prompts(c, &file);
    check_backends(c, &file);
    let variants = check_variants(c, &file);
    let metrics = check_metrics(c, &file, &variants);
    check_run(c, &file);
    check_gates(c, &file);

    if variants.is_empty() && !c.found.iter().any(|d| d.message.contains("variants")) {
        c.error(
            &[],
            "the suite defines no variants".into(),
            Some("add a `[[variants]]` table with `name`, `prompt` and `backend`".into()),
        );
    }

    let found = std::mem::take(&mut checker.found);
    if !found.is_empty() {
        return Err(Diagnostics(found));
    }
    let dataset = dataset.unwrap_or_default();
    file.suite.dataset = Some(dataset.clone());
    Ok(Suite { source, file, dataset, variants, prompts, metrics })
}

fn choose_dataset(c: &mut Checker<'_>, file: &SuiteFile) -> Option<String> {
    let names: Vec<&str> = file.datasets.keys().map(String::as_str).collect();
    if let Some(chosen) = &file.suite.dataset {
        c.reference(&key_path!["suite", "dataset"], "dataset", chosen, &names);
        return Some(chosen.clone());
    }
    let pools: BTreeSet<&str> =
        file.prompts.values().filter_map(|p| p.few_shot.as_ref()).map(|f| f.dataset.as_str()).collect();
    let evaluated: Vec<&str> = names.iter().copied().filter(|n| !pools.contains(n)).collect();
    match (names.len(), evaluated.as_slice()) {
        (0, _) => {
            c.error(
                &[],
                "the suite defines no dataset".into(),
                Some("add `[datasets.<name>]` with `path = \"data.jsonl\"`".into()),
            );
            None
        }
        (1, _) => Some(names[0].to_owned()),
        (_, [only]) => Some((*only).to_owned()),
        _ => {
            c.error(
                &key_path!["datasets"],
                format!("the suite defines {} datasets and does not say which one is evaluated", names.len()),
                Some(format!("set `dataset = \"{}\"` in `[suite]`", names[0])),
            );
            None
        }
    }
}

fn check_prompts(c: &mut Checker<'_>, file: &SuiteFile) -> Vec<PromptTemplate> {
    let datasets: Vec<&str> = file.datasets.keys().map(String::as_str).collect();
    let mut compiled = Vec::new();
    for (name, spec) in &file.prompts {
        let at = |key: &str| key_path!["prompts", name.as_str(), key];
        let shapes = [spec.user.is_some(), spec.messages.is_some(), spec.text.is_some()].iter().filter(|s| **s).count();
        if shapes != 1 {
            c.error(
                &key_path!["prompts", name.as_str()],
                format!("prompt `{name}` must set exactly one of `user`, `messages` or `text`"),
                Some("`user` (with optional `system`) for chat, `messages` for a full conversation, `text` for completion models".into()),
            );
            continue;
        }
        if spec.system.is_some() && spec.user.is_none() {
            c.error(
                &at("system"),
                format!("prompt `{name}` sets `system` without `user`"),
                Some("put the system message in `messages`".into()),
            );
            continue;
        }
        if let Some(few_shot) = &spec.few_shot {
            c.reference(
                &key_path!["prompts", name.as_str(), "few_shot", "dataset"],
                "dataset",
                &few_shot.dataset,
                &datasets,
            );
            if few_shot.count == 0 {
                c.error(
                    &key_path!["prompts", name.as_str(), "few_shot", "count"],
                    "`few_shot.count` must be at least 1".into(),
                    None,
                );
            }
        }
        match PromptTemplate::compile(name, spec) {
            Ok(template) => compiled.push(template),
            Err(error) => {
                let mut path = key_path!["prompts", name.as_str()];
                path.extend(error.key.clone());
                c.error(&path, format!("template `{}` does not compile: {}", display_path(&path), error.message), None);
            }
        }
    }
    compiled
}

fn check_backends(c: &mut Checker<'_>, file: &SuiteFile) {
    for (name, spec) in &file.backends {
        spec.check(c, name);
    }
    let threads: BTreeMap<usize, &str> =
        file.backends.iter().filter_map(|(name, spec)| Some((spec.threads()?, name.as_str()))).collect();
    if threads.len() > 1 {
        let (_, second) = threads.iter().nth(1).expect("two entries");
        c.error(
            &key_path!["backends", *second, "threads"],
            "local backends set different `threads`, but one thread pool serves the whole process".into(),
            Some("give every local backend the same `threads`, or set it on one only".into()),
        );
    }
}

/// `params` of a backend or a variant: values in range.
pub(crate) fn check_params(c: &mut Checker<'_>, path: &[Key], params: &ParamsSpec) {
    let with = |key: &str| {
        let mut p = path.to_vec();
        p.push(Key::from(key));
        p
    };
    if params.temperature.is_some_and(|t| !(0.0..=5.0).contains(&t)) {
        c.error(&with("temperature"), "`temperature` must be between 0 and 5".into(), None);
    }
    if params.top_p.is_some_and(|p| !(p > 0.0 && p <= 1.0)) {
        c.error(&with("top_p"), "`top_p` must be in (0, 1]".into(), None);
    }
    if params.max_tokens == Some(0) {
        c.error(&with("max_tokens"), "`max_tokens` must be at least 1".into(), None);
    }
    if params.top_k == Some(0) {
        c.error(&with("top_k"), "`top_k` must be at least 1 (leave it out to keep every token)".into(), None);
    }
    if params.repetition_penalty.is_some_and(|p| !(p > 0.0 && p.is_finite())) {
        c.error(
            &with("repetition_penalty"),
            "`repetition_penalty` must be a positive number (1.0 is off)".into(),
            None,
        );
    }
}

fn check_variants(c: &mut Checker<'_>, file: &SuiteFile) -> Vec<Variant> {
    let prompts: Vec<&str> = file.prompts.keys().map(String::as_str).collect();
    let backends: Vec<&str> = file.backends.keys().map(String::as_str).collect();
    let mut seen = BTreeMap::new();
    let mut variants = Vec::new();
    for (i, spec) in file.variants.iter().enumerate() {
        if spec.name.trim().is_empty() {
            c.error(&key_path!["variants", i, "name"], "variant names must not be empty".into(), None);
        } else if let Some(first) = seen.insert(spec.name.as_str(), i) {
            c.error(
                &key_path!["variants", i, "name"],
                format!("variant name `{}` is also used by variants[{first}]", spec.name),
                Some("give each variant a unique name".into()),
            );
        }
        c.reference(&key_path!["variants", i, "prompt"], "prompt", &spec.prompt, &prompts);
        c.reference(&key_path!["variants", i, "backend"], "backend", &spec.backend, &backends);
        check_params(c, &key_path!["variants", i, "params"], &spec.params);
        let Some(backend) = file.backends.get(&spec.backend) else { continue };
        let merged = backend.params().merged(&spec.params);
        variants.push(Variant {
            name: spec.name.clone(),
            prompt: spec.prompt.clone(),
            backend: spec.backend.clone(),
            params: GenParams {
                temperature: merged.temperature,
                top_p: merged.top_p,
                top_k: merged.top_k,
                repetition_penalty: merged.repetition_penalty,
                max_tokens: merged.max_tokens,
                seed: merged.seed,
                stop: merged.stop.unwrap_or_default(),
            },
            description: spec.description.clone(),
        });
    }
    variants
}

fn check_metrics(c: &mut Checker<'_>, file: &SuiteFile, variants: &[Variant]) -> Vec<Arc<dyn evalkit_metrics::Metric>> {
    let context = BuildContext {
        prices: file.prices.clone(),
        backends: file.backends.iter().map(|(name, spec)| (name.clone(), spec.capabilities())).collect(),
    };
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut built = Vec::new();
    for (i, config) in file.metrics.iter().enumerate() {
        let name = config.name().to_owned();
        if let Some(first) = seen.insert(name.clone(), i) {
            c.error(
                &key_path!["metrics", i],
                format!("two metrics are named `{name}` (metrics[{first}] and metrics[{i}])"),
                Some("give one of them `name = \"...\"`".into()),
            );
        }
        if let MetricConfig::Cost(_) = config {
            for variant in variants {
                let Some(model) = file.backends.get(&variant.backend).and_then(BackendSpec::priced_model) else {
                    continue;
                };
                if !file.prices.contains_key(model) {
                    c.error(
                        &key_path!["metrics", i],
                        format!("metric `{name}` needs a price for model `{model}` (variant `{}`)", variant.name),
                        Some(format!(
                            "add `[prices.\"{model}\"]` with `input = ...` and `output = ...` (USD per million tokens)"
                        )),
                    );
                }
            }
        }
        check_scoring_metric(c, file, variants, i, config);
        if let MetricConfig::Agreement(agreement) = config {
            let known: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
            c.reference(&key_path!["metrics", i, "reference_variant"], "variant", &agreement.reference_variant, &known);
        }
        match evalkit_metrics::build(config, &context) {
            Ok(metric) => built.push(Arc::from(metric)),
            // The error names the metric already; it points at the setting when it knows which.
            Err(error) => {
                let path = match error.setting() {
                    Some(key) if c.has(&key_path!["metrics", i, key]) => key_path!["metrics", i, key],
                    _ => key_path!["metrics", i],
                };
                c.error(&path, error.to_string(), None)
            }
        }
    }
    built
}

/// Metrics scored from log-likelihoods (perplexity, multiple choice) replace
/// generation: every variant must run on a local model, no metric may need
/// generated text, and scoring metrics must agree on what is scored.
fn check_scoring_metric(c: &mut Checker<'_>, file: &SuiteFile, variants: &[Variant], i: usize, config: &MetricConfig) {
    let scoring_kind = |m: &MetricConfig| match m {
        MetricConfig::Perplexity(p) => {
            Some(format!("perplexity {:?}", (p.protocol, p.n_ctx, p.n_batch, p.chunks, p.window, p.stride)))
        }
        MetricConfig::MultipleChoice(m) => Some(format!("choices {:?}", m.choices)),
        _ => None,
    };
    let generation_only = |m: &MetricConfig| {
        !matches!(m, MetricConfig::Perplexity(_) | MetricConfig::MultipleChoice(_) | MetricConfig::Latency(_))
    };
    let Some(kind) = scoring_kind(config) else { return };
    let name = config.name();
    for variant in variants {
        let scores_text = file.backends.get(&variant.backend).is_none_or(|spec| spec.capabilities().score_text);
        if !scores_text {
            c.error(
                &key_path!["metrics", i],
                format!(
                    "metric `{name}` needs token log-probabilities, which backend `{}` (variant `{}`) cannot give",
                    variant.backend, variant.name
                ),
                Some("run it on a backend that scores text, such as `kind = \"local\"`".into()),
            );
        }
    }
    if let Some(other) = file.metrics.iter().find(|m| generation_only(m)) {
        c.error(
            &key_path!["metrics", i],
            format!(
                "metric `{name}` scores the prompt instead of generating, so metric `{}` would have no answer to read",
                other.name()
            ),
            Some("put generation metrics and log-likelihood metrics in separate suites".into()),
        );
    }
    if let Some((j, _)) =
        file.metrics.iter().enumerate().take(i).find(|(_, m)| scoring_kind(m).is_some_and(|k| k != kind))
    {
        c.error(
            &key_path!["metrics", i],
            format!(
                "metrics `{}` and `{name}` ask for different scoring, but a task is scored one way",
                file.metrics[j].name()
            ),
            Some("use one perplexity setup per suite; `acc` and `acc_norm` may share the same choices".into()),
        );
    }
}

fn check_run(c: &mut Checker<'_>, file: &SuiteFile) {
    let run = &file.run;
    let at = |key: &str| key_path!["run", key];
    if !(1..=MAX_REPEATS).contains(&run.repeats) {
        c.error(
            &at("repeats"),
            format!("`repeats` must be between 1 and {MAX_REPEATS}, found {}", run.repeats),
            Some("repeats estimate each sample's pass rate; a few (3 to 10) are usually enough".into()),
        );
    }
    check_concurrency(c, &at("concurrency"), "concurrency", run.concurrency);
    if file.report.explorer_samples == 0 {
        c.error(&key_path!["report", "explorer_samples"], "`explorer_samples` must be at least 1".into(), None);
    }
    if !(0.0..=1.0).contains(&run.error_budget) {
        c.error(
            &at("error_budget"),
            format!("`error_budget` is a share of tasks between 0 and 1, found {}", run.error_budget),
            Some("e.g. `error_budget = 0.05` aborts when more than 5% of tasks fail".into()),
        );
    }
    for (key, value) in [
        ("request_timeout", run.request_timeout),
        ("backoff", run.backoff),
        ("max_backoff", run.max_backoff),
        ("max_retry_after", run.max_retry_after),
    ] {
        check_seconds(c, &at(key), key, value, key != "request_timeout");
    }
}

/// Most repeats per sample: more would plan billions of tasks.
pub const MAX_REPEATS: u32 = 10_000;
/// Most tasks (or requests) in flight: far above what any endpoint serves,
/// and far below what a semaphore can count.
pub const MAX_CONCURRENCY: usize = 100_000;
/// Longest wait in seconds any setting may ask for: one week.
pub const MAX_SECONDS: f64 = 7.0 * 24.0 * 3600.0;

/// A number of seconds: finite, not negative (and not zero unless
/// `zero_allowed`), at most [`MAX_SECONDS`].
pub(crate) fn check_seconds(c: &mut Checker<'_>, path: &[Key], key: &str, value: f64, zero_allowed: bool) {
    let valid = value.is_finite() && value >= 0.0 && (zero_allowed || value > 0.0) && value <= MAX_SECONDS;
    if !valid {
        let least = if zero_allowed { "0" } else { "more than 0" };
        c.error(
            path,
            format!("`{key}` must be a number of seconds from {least} to {MAX_SECONDS} (one week), found {value}"),
            None,
        );
    }
}

/// A concurrency limit: from 1 to [`MAX_CONCURRENCY`].
pub(crate) fn check_concurrency(c: &mut Checker<'_>, path: &[Key], key: &str, value: usize) {
    if !(1..=MAX_CONCURRENCY).contains(&value) {
        c.error(path, format!("`{key}` must be between 1 and {MAX_CONCURRENCY}, found {value}"), None);
    }
}

/// Paths inside metric settings are relative to the suite file, like every other path.
/// `[suite] baseline` and `[[gates]]`: names that exist, and one kind of
/// gate per entry with sensible numbers.
fn check_gates(c: &mut Checker<'_>, file: &SuiteFile) {
    let variants: Vec<&str> = file.variants.iter().map(|v| v.name.as_str()).collect();
    let metrics: Vec<&str> = file.metrics.iter().map(|m| m.name()).collect();
    let name_check = |c: &mut Checker<'_>, path: Vec<Key>, what: &str, name: &str, known: &[&str]| {
        if !known.contains(&name) {
            let hint =
                did_you_mean(name, known).or_else(|| Some(format!("the suite's {what}s are: {}", known.join(", "))));
            c.error(
                &path,
                format!("`{}` names {what} `{name}`, which the suite does not define", display_path(&path)),
                hint,
            );
        }
    };
    if let Some(baseline) = &file.suite.baseline {
        name_check(c, key_path!["suite", "baseline"], "variant", baseline, &variants);
    }
    for (i, gate) in file.gates.iter().enumerate() {
        let at = |key: &str| key_path!["gates", i, key];
        name_check(c, at("metric"), "metric", &gate.metric, &metrics);
        for (key, value) in [("variant", &gate.variant), ("baseline_variant", &gate.baseline_variant)] {
            if let Some(name) = value {
                name_check(c, at(key), "variant", name, &variants);
            }
        }
        let threshold = gate.min.is_some() || gate.max.is_some();
        match (threshold, gate.baseline.is_some(), gate.baseline_variant.is_some()) {
            (false, false, false) => c.error(
                &key_path!["gates", i],
                "a gate needs a threshold (`min`, `max`) or a baseline (`baseline`, `baseline_variant`)".into(),
                Some("e.g. `min = 0.8`, or `baseline = \"baseline.json\"` with `margin = 0.02`".into()),
            ),
            (true, true, _) | (true, _, true) => c.error(
                &key_path!["gates", i],
                "a gate is either a threshold (`min`/`max`) or a regression check (`baseline`/`baseline_variant`), not both".into(),
                Some("split it into two `[[gates]]` entries".into()),
            ),
            (_, true, true) => c.error(
                &at("baseline_variant"),
                "set `baseline` (a baseline file) or `baseline_variant` (a variant of this run), not both".into(),
                None,
            ),
            _ => {}
        }
        if let (Some(min), Some(max)) = (gate.min, gate.max) {
            if min > max {
                c.error(&at("min"), format!("`min` ({min}) is above `max` ({max}): no value can pass"), None);
            }
        }
        if gate.margin.is_some_and(|m| !(m >= 0.0 && m.is_finite())) {
            c.error(&at("margin"), "`margin` is a tolerated worsening: a number of at least 0".into(), None);
        }
        if gate.confidence.is_some_and(|l| !(l > 0.0 && l < 1.0)) {
            c.error(&at("confidence"), "`confidence` is a fraction between 0 and 1, e.g. 0.95".into(), None);
        }
        if gate.is_regression() && gate.stat != evalkit_reports::gates::GateStat::Mean {
            c.error(&at("stat"), "regression gates compare per-sample scores; `stat` is for thresholds".into(), None);
        }
        if !gate.is_regression() && (gate.margin.is_some() || gate.confidence.is_some()) {
            c.error(
                &key_path!["gates", i],
                "`margin` and `confidence` apply to regression gates only".into(),
                Some("add `baseline = \"...\"` or `baseline_variant = \"...\"`".into()),
            );
        }
    }
}
