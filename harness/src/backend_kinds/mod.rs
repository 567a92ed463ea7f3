//! Each kind of `[backends.<name>]`, in one place: what its settings must
//! satisfy, what a backend of that kind can do, what identifies it, how it
//! connects, and what `evalkit validate` checks before a run.
//!
//! The settings themselves (the serde shapes) are in
//! [`crate::suite::schema`], where the suite reference is generated from.
//! Everything else asks a [`BackendSpec`] through the methods here, and checks
//! elsewhere ask what a backend can do ([`BackendSpec::capabilities`]), never
//! which kind it is.

mod local;
mod openai;

use std::sync::Arc;

use evalkit_model_api::{Backend, BackendIdentity, Capabilities};

use crate::diagnostic::Diagnostic;
use crate::suite::check::Checker;
use crate::suite::schema::BackendSpec;
use crate::suite::Suite;

/// A connected backend and its concurrency limit.
pub struct Connected {
    /// The backend.
    pub backend: Arc<dyn Backend>,
    /// Most requests in flight.
    pub max_concurrency: usize,
    /// The secret values it was given (its API key, every `${VAR}` it
    /// expanded), to be redacted from whatever evalkit records or prints.
    pub secrets: Vec<String>,
}

impl BackendSpec {
    /// What a backend of these settings can do, known without connecting.
    pub fn capabilities(&self) -> Capabilities {
        match self {
            BackendSpec::Openai(spec) => openai::capabilities(spec),
            BackendSpec::Local(spec) => local::capabilities(spec),
        }
    }

    /// What identifies the backend (cache keys, reports), without connecting.
    pub fn identity(&self) -> BackendIdentity {
        match self {
            BackendSpec::Openai(spec) => openai::identity(spec),
            BackendSpec::Local(spec) => local::identity(spec),
        }
    }

    /// The model name a price is needed for, when answers cost money.
    pub fn priced_model(&self) -> Option<&str> {
        match self {
            BackendSpec::Openai(spec) => Some(&spec.model),
            BackendSpec::Local(_) => None,
        }
    }

    /// The local thread count this backend asks for, if any (one pool serves
    /// the whole process, so the suite check compares them).
    pub fn threads(&self) -> Option<usize> {
        match self {
            BackendSpec::Openai(_) => None,
            BackendSpec::Local(spec) => spec.threads,
        }
    }

    /// Check the settings of backend `name`.
    pub(crate) fn check(&self, c: &mut Checker<'_>, name: &str) {
        match self {
            BackendSpec::Openai(spec) => openai::check(c, name, spec),
            BackendSpec::Local(spec) => local::check(c, name, spec),
        }
    }

    /// Build the live backend `name`; secrets are read from the environment
    /// here. Every problem is located at the key it concerns.
    pub fn connect(&self, suite: &Suite, name: &str) -> Result<Connected, Vec<Diagnostic>> {
        match self {
            BackendSpec::Openai(spec) => openai::connect(suite, name, spec),
            BackendSpec::Local(spec) => local::connect(suite, name, spec).map_err(|problem| vec![problem]),
        }
    }

    /// What `evalkit validate` checks without sending a request: a local
    /// model opens (metadata and tokenizer only); a missing API key is a warning.
    pub fn preflight(&self, suite: &Suite, name: &str) -> Result<(), Diagnostic> {
        match self {
            BackendSpec::Openai(spec) => {
                openai::preflight(name, spec);
                Ok(())
            }
            BackendSpec::Local(spec) => local::connect(suite, name, spec).map(drop),
        }
    }
}
