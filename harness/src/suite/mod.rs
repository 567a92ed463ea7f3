//! The suite: from `suite.toml` text to a checked [`Suite`].
//!
//! Stages, each a type further along (raw text → [`SuiteFile`] → [`Suite`]):
//! - [`parse`]: TOML and serde; unknown keys and wrong types fail here.
//! - [`check`]: references between sections, value ranges, templates, metrics.
//!
//! Data files are not read here; see [`crate::dataset`].

pub mod check;
pub mod parse;
pub mod paths;
pub mod schema;
pub mod source;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use evalkit_metrics::Metric;
use evalkit_model_api::GenParams;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::prompt::PromptTemplate;
pub use schema::SuiteFile;
pub use source::SourceFile;

/// A suite whose sections agree with each other. Data files not yet read.
pub struct Suite {
    /// The file it came from.
    pub source: SourceFile,
    /// The file as written (defaults filled in).
    pub file: SuiteFile,
    /// Name of the evaluated dataset.
    pub dataset: String,
    /// Variants in suite order.
    pub variants: Vec<Variant>,
    /// Compiled prompts, by name.
    pub prompts: Vec<PromptTemplate>,
    /// Metrics in suite order.
    pub metrics: Vec<Arc<dyn Metric>>,
}

/// One thing being compared: a prompt on a backend with parameters.
#[derive(Debug, Clone)]
pub struct Variant {
    /// Unique name.
    pub name: String,
    /// Prompt name.
    pub prompt: String,
    /// Backend name.
    pub backend: String,
    /// Backend parameters with the variant's overrides applied.
    pub params: GenParams,
    /// Free text for reports.
    pub description: Option<String>,
}

impl Suite {
    /// What identifies backend `name` (kind, endpoint, model), without connecting to it.
    pub fn backend_identity(&self, name: &str) -> Option<evalkit_model_api::BackendIdentity> {
        Some(self.file.backends.get(name)?.identity())
    }

    /// The compiled prompt with this name.
    pub fn prompt(&self, name: &str) -> Option<&PromptTemplate> {
        self.prompts.iter().find(|p| p.name == name)
    }
}

/// Join a relative path onto `base`; absolute paths stay as they are, and
/// `~/` starts from the home folder.
pub fn resolve_against(base: &Path, path: &str) -> PathBuf {
    if let (Some(rest), Some(home)) = (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        return Path::new(&home).join(rest);
    }
    let path = Path::new(path);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        lexically_normal(&base.join(path))
    }
}

/// `suites/../datasets/a.jsonl` → `datasets/a.jsonl`, without touching the
/// filesystem (so messages show the path a user would type).
fn lexically_normal(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

/// A suite file that is not UTF-8, located at the first bad byte.
fn not_utf8(path: &Path, bytes: &[u8], error: std::str::Utf8Error) -> Diagnostic {
    let at = error.valid_up_to();
    let before = &bytes[..at];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    // The valid part of the line is text, so its characters give the column.
    let column = String::from_utf8_lossy(&bytes[line_start..at]).chars().count() + 1;
    Diagnostic::new(format!("suite file is not valid UTF-8: byte 0x{:02x} at byte offset {at}", bytes[at]))
        .in_file(path)
        .at(line, Some(column))
        .with_hint("TOML files are UTF-8: save it as UTF-8 in your editor (e.g. convert from Latin-1 with `iconv -f latin1 -t utf-8`)")
}

/// Read, parse and check a suite file.
pub fn load(path: &Path) -> Result<Suite, Diagnostics> {
    let bytes = std::fs::read(path).map_err(|e| {
        Diagnostic::new(format!("cannot read suite file `{}`: {e}", path.display()))
            .with_hint("pass the path of a suite file, e.g. `evalkit run suites/quickstart.toml`")
    })?;
    let text = String::from_utf8(bytes).map_err(|e| not_utf8(path, e.as_bytes(), e.utf8_error()))?;
    let source = SourceFile::new(path, text);
    let file = parse::parse(&source)?;
    check::check(source, file)
}
