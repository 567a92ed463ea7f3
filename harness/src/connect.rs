//! The connect stage: `[backends.<name>]` → live [`Backend`]s, each through
//! its kind's `connect` ([`crate::backend_kinds`]). Every problem (a variable
//! not set, a model that does not open) is reported together, at the key
//! that names it.
//!
//! [`Backend`]: evalkit_model_api::Backend

use std::collections::BTreeMap;

pub use crate::backend_kinds::Connected;
use crate::diagnostic::Diagnostics;
use crate::suite::Suite;

/// Build every backend the suite defines.
pub fn connect(suite: &Suite) -> Result<BTreeMap<String, Connected>, Diagnostics> {
    let mut connected = BTreeMap::new();
    let mut problems = Vec::new();
    for (name, spec) in &suite.file.backends {
        match spec.connect(suite, name) {
            Ok(backend) => {
                connected.insert(name.clone(), backend);
            }
            Err(found) => problems.extend(found),
        }
    }
    if problems.is_empty() {
        Ok(connected)
    } else {
        Err(Diagnostics(problems))
    }
}
