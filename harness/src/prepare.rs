//! The stages every command shares: suite file → checked suite → loaded data.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::dataset::{self, Dataset};
use crate::diagnostic::Diagnostics;
use crate::suite::parse::locate;
use crate::suite::source::key_path;
use crate::suite::{self, Suite};

/// A checked suite with its datasets loaded.
pub struct Prepared {
    /// The suite.
    pub suite: Suite,
    /// Every dataset the suite defines, by name.
    pub datasets: BTreeMap<String, Dataset>,
}

impl Prepared {
    /// The evaluated dataset.
    pub fn evaluated(&self) -> &Dataset {
        &self.datasets[&self.suite.dataset]
    }
}

/// Load and check a suite, then read its datasets.
pub fn prepare(path: &Path) -> Result<Prepared, Diagnostics> {
    let suite = suite::load(path)?;
    let mut datasets = BTreeMap::new();
    let mut problems = Vec::new();
    for (name, spec) in &suite.file.datasets {
        let file = PathBuf::from(&spec.path);
        match dataset::load(name, spec, &file, suite.file.suite.seed) {
            Ok(data) => {
                datasets.insert(name.clone(), data);
            }
            Err(mut diagnostic) => {
                // A missing file is the suite's fault: point at the `path` key.
                if diagnostic.line.is_none() && diagnostic.file.is_none() {
                    let span = suite.source.span_of(&key_path!["datasets", name.as_str(), "path"]).unwrap_or(0..0);
                    let hint = diagnostic.hint.take();
                    diagnostic = locate(&suite.source, diagnostic.message, &span, hint);
                }
                problems.push(diagnostic);
            }
        }
    }
    if !problems.is_empty() {
        return Err(Diagnostics(problems));
    }
    if let Some(evaluated) = datasets.get(&suite.dataset) {
        if evaluated.samples.is_empty() {
            let span = suite.source.span_of(&key_path!["datasets", suite.dataset.as_str()]).unwrap_or(0..0);
            return Err(locate(&suite.source, format!("dataset `{}` has no rows", suite.dataset), &span, None).into());
        }
    }
    Ok(Prepared { suite, datasets })
}
