//! `[backends.<name>]` → live [`Backend`]s, with secrets read from the environment.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use evalkit_backends::local::{LocalBackend, LocalConfig};
use evalkit_backends::openai::{OpenAiBackend, OpenAiConfig};
use evalkit_backends::Backend;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::suite::parse::locate;
use crate::suite::schema::{BackendSpec, LocalSpec};
use crate::suite::source::key_path;
use crate::suite::Suite;

/// A constructed backend and its concurrency limit.
pub struct Connected {
    /// The backend.
    pub backend: Arc<dyn Backend>,
    /// Most requests in flight.
    pub max_concurrency: usize,
}

/// Build every backend the suite defines. Missing environment variables are
/// reported together, at the key that names them.
pub fn connect(suite: &Suite) -> Result<BTreeMap<String, Connected>, Diagnostics> {
    let mut connected = BTreeMap::new();
    let mut problems = Vec::new();
    for (name, spec) in &suite.file.backends {
        match spec {
            BackendSpec::Openai(openai) => {
                let mut missing = Vec::new();
                let api_key = match &openai.api_key_env {
                    Some(var) => match std::env::var(var) {
                        Ok(value) if !value.is_empty() => Some(value),
                        _ => {
                            missing.push((key_path!["backends", name.as_str(), "api_key_env"], var.clone()));
                            None
                        }
                    },
                    None => None,
                };
                let mut headers = Vec::new();
                for (header, template) in &openai.headers {
                    match expand_env(template) {
                        Ok(value) => headers.push((header.clone(), value)),
                        Err(var) => {
                            missing.push((key_path!["backends", name.as_str(), "headers", header.as_str()], var))
                        }
                    }
                }
                for (path, var) in missing {
                    let span = suite.source.span_of(&path).unwrap_or(0..0);
                    problems.push(locate(
                        &suite.source,
                        format!("environment variable `{var}` is not set (backend `{name}`)"),
                        &span,
                        Some(format!("export {var}=...; evalkit reads secrets only from the environment")),
                    ));
                }
                let timeout = openai.timeout.unwrap_or(suite.file.run.request_timeout);
                let config = OpenAiConfig {
                    base_url: openai.base_url.clone(),
                    model: openai.model.clone(),
                    api_key,
                    headers,
                    timeout: Duration::from_secs_f64(timeout),
                    stream: openai.stream,
                };
                match OpenAiBackend::new(config) {
                    Ok(backend) => {
                        let max_concurrency = openai.max_concurrency.unwrap_or(suite.file.run.concurrency);
                        connected.insert(name.clone(), Connected { backend: Arc::new(backend), max_concurrency });
                    }
                    Err(error) => {
                        problems.push(Diagnostic::new(format!("backend `{name}`: {error}")).in_file(&suite.source.path))
                    }
                }
            }
            BackendSpec::Local(local) => match open_local(suite, name, local) {
                Ok(backend) => {
                    let max_concurrency = local.max_concurrency.unwrap_or(1);
                    connected.insert(name.clone(), Connected { backend: Arc::new(backend), max_concurrency });
                }
                Err(problem) => problems.push(problem),
            },
        }
    }
    if problems.is_empty() {
        Ok(connected)
    } else {
        Err(Diagnostics(problems))
    }
}

/// Open a local model (metadata and tokenizer; weights load on first use).
pub fn open_local(suite: &Suite, name: &str, spec: &LocalSpec) -> Result<LocalBackend, Diagnostic> {
    if let Some(threads) = spec.threads {
        // candle sizes its one thread pool from this variable on first use;
        // nothing has run a model yet when backends are connected.
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    }
    let config = LocalConfig {
        model: suite.resolve(&spec.model),
        weights: spec.weights,
        device: spec.device,
        n_batch: spec.n_batch,
        chat_template: spec.chat_template.clone(),
    };
    LocalBackend::open(config.clone()).map_err(|error| {
        let path = key_path!["backends", name, "model"];
        let span = suite.source.span_of(&path).unwrap_or(0..0);
        let hint = if config.model.exists() {
            None
        } else {
            Some("check the path (relative paths start at the suite file); fetch the demo model with `ci/fetch-demo-model`".to_owned())
        };
        locate(&suite.source, format!("backend `{name}` cannot open `{}`: {error}", config.model.display()), &span, hint)
    })
}

/// Replace every `${VAR}` with the variable's value; `Err(VAR)` if one is unset.
fn expand_env(template: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start + 2..].find('}') else { break };
        let var = &rest[start + 2..start + 2 + len];
        out.push_str(&rest[..start]);
        out.push_str(&std::env::var(var).map_err(|_| var.to_owned())?);
        rest = &rest[start + 3 + len..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::expand_env;

    #[test]
    fn expands_environment_references() {
        std::env::set_var("EVALKIT_TEST_TOKEN", "s3cret");
        assert_eq!(expand_env("Bearer ${EVALKIT_TEST_TOKEN}!").unwrap(), "Bearer s3cret!");
        assert_eq!(expand_env("plain").unwrap(), "plain");
        assert_eq!(expand_env("${EVALKIT_TEST_UNSET_VARIABLE}").unwrap_err(), "EVALKIT_TEST_UNSET_VARIABLE");
    }
}
