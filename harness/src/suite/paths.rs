//! Every file or folder a suite names, in one list.
//!
//! [`super::check`] resolves them once, against the suite file's folder
//! (`~/` from the home folder), so nothing later joins a path again; the run
//! folder's copy of the suite makes the same paths absolute
//! ([`crate::rundir`]).

use std::path::{Path, PathBuf};

use evalkit_metrics::MetricConfig;

use super::schema::{BackendSpec, SuiteFile};

/// Replace every path in `file` with `map(path)`.
pub fn map_paths(file: &mut SuiteFile, map: impl Fn(&Path) -> PathBuf) {
    let text = |path: &mut String| *path = map(Path::new(path)).display().to_string();
    for dataset in file.datasets.values_mut() {
        text(&mut dataset.path);
    }
    for backend in file.backends.values_mut() {
        if let BackendSpec::Local(local) = backend {
            text(&mut local.model);
        }
    }
    text(&mut file.run.output_dir);
    text(&mut file.run.cache_dir);
    for gate in &mut file.gates {
        if let Some(baseline) = &mut gate.baseline {
            text(baseline);
        }
    }
    for metric in &mut file.metrics {
        if let MetricConfig::JsonValid(json) = metric {
            if let Some(path) = &mut json.schema_file {
                *path = map(path);
            }
        }
    }
}
