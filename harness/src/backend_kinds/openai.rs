//! `kind = "openai"`: any OpenAI-compatible HTTP endpoint.

use std::sync::Arc;
use std::time::Duration;

use evalkit_http::openai::{OpenAiBackend, OpenAiConfig};
use evalkit_model_api::{BackendIdentity, Capabilities};

use super::Connected;
use crate::diagnostic::Diagnostic;
use crate::suite::check::{check_concurrency, check_params, check_seconds, Checker};
use crate::suite::parse::locate;
use crate::suite::schema::OpenAiSpec;
use crate::suite::source::key_path;
use crate::suite::Suite;

pub(super) fn capabilities(spec: &OpenAiSpec) -> Capabilities {
    Capabilities { streaming: spec.stream, ..Capabilities::default() }
}

pub(super) fn identity(spec: &OpenAiSpec) -> BackendIdentity {
    BackendIdentity {
        kind: "openai".to_owned(),
        endpoint: spec.base_url.trim_end_matches('/').to_owned(),
        model: spec.model.clone(),
        settings: Default::default(),
    }
}

pub(super) fn check(c: &mut Checker<'_>, name: &str, spec: &OpenAiSpec) {
    let at = |key: &str| key_path!["backends", name, key];
    if !(spec.base_url.starts_with("http://") || spec.base_url.starts_with("https://")) {
        c.error(
            &at("base_url"),
            format!("`base_url` must start with http:// or https://, found `{}`", spec.base_url),
            Some("e.g. `base_url = \"http://127.0.0.1:8080/v1\"`".into()),
        );
    }
    if spec.model.trim().is_empty() {
        c.error(&at("model"), "`model` must not be empty".into(), None);
    }
    if let Some(timeout) = spec.timeout {
        check_seconds(c, &at("timeout"), "timeout", timeout, false);
    }
    if let Some(limit) = spec.max_concurrency {
        check_concurrency(c, &at("max_concurrency"), "max_concurrency", limit);
    }
    for (header, value) in &spec.headers {
        if header.eq_ignore_ascii_case("authorization") && !value.contains("${") {
            c.error(
                &key_path!["backends", name, "headers", header.as_str()],
                "a literal `Authorization` header would put a secret in the suite file".into(),
                Some(
                    "use `api_key_env = \"MY_KEY\"`, or `\"Bearer ${MY_KEY}\"` to read it from the environment".into(),
                ),
            );
        }
    }
    check_params(c, &key_path!["backends", name, "params"], &spec.params);
}

/// Build the client, with the API key and `${VAR}` header values read from
/// the environment; every variable that is not set is reported.
pub(super) fn connect(suite: &Suite, name: &str, spec: &OpenAiSpec) -> Result<Connected, Vec<Diagnostic>> {
    let mut missing = Vec::new();
    let api_key = match &spec.api_key_env {
        Some(var) => match std::env::var(var) {
            Ok(value) if !value.is_empty() => Some(value),
            _ => {
                missing.push((key_path!["backends", name, "api_key_env"], var.clone()));
                None
            }
        },
        None => None,
    };
    let mut secrets: Vec<String> = api_key.iter().cloned().collect();
    let mut headers = Vec::new();
    for (header, template) in &spec.headers {
        match expand_env(template) {
            Ok((value, expanded)) => {
                headers.push((header.clone(), value));
                secrets.extend(expanded);
            }
            Err(var) => missing.push((key_path!["backends", name, "headers", header.as_str()], var)),
        }
    }
    if !missing.is_empty() {
        return Err(missing
            .into_iter()
            .map(|(path, var)| {
                let span = suite.source.span_of(&path).unwrap_or(0..0);
                locate(
                    &suite.source,
                    format!("environment variable `{var}` is not set (backend `{name}`)"),
                    &span,
                    Some(format!("export {var}=...; evalkit reads secrets only from the environment")),
                )
            })
            .collect());
    }
    let config = OpenAiConfig {
        base_url: spec.base_url.clone(),
        model: spec.model.clone(),
        api_key,
        headers,
        timeout: Duration::from_secs_f64(spec.timeout.unwrap_or(suite.file.run.request_timeout)),
        stream: spec.stream,
    };
    let backend = OpenAiBackend::new(config)
        .map_err(|error| vec![Diagnostic::new(format!("backend `{name}`: {error}")).in_file(&suite.source.path)])?;
    let max_concurrency = spec.max_concurrency.unwrap_or(suite.file.run.concurrency);
    Ok(Connected { backend: Arc::new(backend), max_concurrency, secrets })
}

/// A key or header variable that is not set yet is no error before a run,
/// only a warning.
pub(super) fn preflight(name: &str, spec: &OpenAiSpec) {
    if let Some(var) = &spec.api_key_env {
        if std::env::var(var).map_or(true, |v| v.is_empty()) {
            eprintln!(
                "warning: backend `{name}` reads its key from `{var}`, which is not set here; `evalkit run` will need it"
            );
        }
    }
    for (header, template) in &spec.headers {
        for var in env_references(template) {
            if std::env::var(var).is_err() {
                eprintln!(
                    "warning: backend `{name}`'s header `{header}` reads `${{{var}}}`, which is not set here; `evalkit run` will need it"
                );
            }
        }
    }
}

/// The variable names a header template reads (`${VAR}`).
fn env_references(template: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start + 2..].find('}') else { break };
        names.push(&rest[start + 2..start + 2 + len]);
        rest = &rest[start + 3 + len..];
    }
    names
}

/// Replace every `${VAR}` with the variable's value, and say which values
/// were put in (they are secrets); `Err(VAR)` if one is unset.
fn expand_env(template: &str) -> Result<(String, Vec<String>), String> {
    let mut out = String::new();
    let mut expanded = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start + 2..].find('}') else { break };
        let var = &rest[start + 2..start + 2 + len];
        out.push_str(&rest[..start]);
        let value = std::env::var(var).map_err(|_| var.to_owned())?;
        out.push_str(&value);
        expanded.push(value);
        rest = &rest[start + 3 + len..];
    }
    out.push_str(rest);
    Ok((out, expanded))
}

#[cfg(test)]
mod tests {
    use super::{env_references, expand_env};

    #[test]
    fn expands_environment_references() {
        std::env::set_var("EVALKIT_TEST_TOKEN", "s3cret");
        assert_eq!(
            expand_env("Bearer ${EVALKIT_TEST_TOKEN}!").unwrap(),
            ("Bearer s3cret!".to_owned(), vec!["s3cret".to_owned()])
        );
        assert_eq!(expand_env("plain").unwrap(), ("plain".to_owned(), vec![]));
        assert_eq!(expand_env("${EVALKIT_TEST_UNSET_VARIABLE}").unwrap_err(), "EVALKIT_TEST_UNSET_VARIABLE");
        assert_eq!(env_references("Bearer ${A}-${B_C} ${unclosed"), ["A", "B_C"]);
    }
}
