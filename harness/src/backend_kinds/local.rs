//! `kind = "local"`: a model run in-process by the local engine (the `local`
//! cargo feature, on by default).

use std::path::Path;

use evalkit_model_api::local_settings;
use evalkit_model_api::{BackendIdentity, Capabilities};

use super::Connected;
use crate::diagnostic::Diagnostic;
use crate::suite::check::{check_concurrency, check_params, Checker};
use crate::suite::schema::LocalSpec;
use crate::suite::source::key_path;
use crate::suite::Suite;

pub(super) fn capabilities(_spec: &LocalSpec) -> Capabilities {
    // Generation runs to the end before answering, so there is no stream to time.
    Capabilities { score_text: true, ..Capabilities::default() }
}

pub(super) fn identity(spec: &LocalSpec) -> BackendIdentity {
    local_settings::identity(Path::new(&spec.model), spec.weights)
}

pub(super) fn check(c: &mut Checker<'_>, name: &str, spec: &LocalSpec) {
    let at = |key: &str| key_path!["backends", name, key];
    if spec.model.trim().is_empty() {
        c.error(
            &at("model"),
            "`model` must name a .gguf file or a Hugging Face model folder".into(),
            Some("e.g. `model = \"~/.cache/evalkit/models/gemma-3-270m-q4_k_m.gguf\"` (fetch it with `ci/fetch-demo-model`)".into()),
        );
    }
    if spec.threads == Some(0) {
        c.error(&at("threads"), "`threads` must be at least 1".into(), None);
    }
    if spec.n_batch == 0 {
        c.error(&at("n_batch"), "`n_batch` must be at least 1".into(), None);
    }
    if let Some(limit) = spec.max_concurrency {
        check_concurrency(c, &at("max_concurrency"), "max_concurrency", limit);
    }
    check_params(c, &key_path!["backends", name, "params"], &spec.params);
}

/// Open the model: its metadata and tokenizer now, its weights on first use.
#[cfg(feature = "local")]
pub(super) fn connect(suite: &Suite, name: &str, spec: &LocalSpec) -> Result<Connected, Diagnostic> {
    use std::sync::Arc;

    use evalkit_local::{LocalBackend, LocalConfig};

    use crate::suite::parse::locate;

    if let Some(threads) = spec.threads {
        // candle sizes its one thread pool from this variable on first use;
        // nothing has run a model yet when backends are connected.
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    }
    let config = LocalConfig {
        model: std::path::PathBuf::from(&spec.model),
        weights: spec.weights,
        device: spec.device,
        n_batch: spec.n_batch,
        chat_template: spec.chat_template.clone(),
    };
    let backend = LocalBackend::open(config.clone()).map_err(|error| {
        let span = suite.source.span_of(&key_path!["backends", name, "model"]).unwrap_or(0..0);
        let hint = if config.model.exists() {
            None
        } else {
            Some("check the path (relative paths start at the suite file); fetch the demo model with `ci/fetch-demo-model`".to_owned())
        };
        locate(&suite.source, format!("backend `{name}` cannot open `{}`: {error}", config.model.display()), &span, hint)
    })?;
    Ok(Connected {
        backend: Arc::new(backend),
        max_concurrency: spec.max_concurrency.unwrap_or(1),
        secrets: Vec::new(),
    })
}

/// Without the `local` feature there is no engine to run the model: say so at the backend.
#[cfg(not(feature = "local"))]
pub(super) fn connect(suite: &Suite, name: &str, _spec: &LocalSpec) -> Result<Connected, Diagnostic> {
    let span = suite.source.span_of(&key_path!["backends", name, "kind"]).unwrap_or(0..0);
    Err(crate::suite::parse::locate(
        &suite.source,
        format!("backend `{name}` is a local model, and this evalkit was built without local models"),
        &span,
        Some("build evalkit with its default features (the `local` feature)".to_owned()),
    ))
}
