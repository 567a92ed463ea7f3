//! The response cache: one file per request hash, written atomically.
//!
//! Layout: `<dir>/<first two hex digits>/<hash>.json`. A file appears only by
//! `rename` of a fully written and synced temporary file, so a killed process
//! leaves either the complete entry or none. Failed requests are never cached.

use std::io::Write;
use std::path::{Path, PathBuf};

use evalkit_backends::Response;

/// A directory of cached responses.
#[derive(Debug, Clone)]
pub struct ResponseCache {
    dir: PathBuf,
}

impl ResponseCache {
    /// Use (and create when first written) `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ResponseCache { dir: dir.into() }
    }

    fn path(&self, hash: &str) -> PathBuf {
        let shard = hash.get(..2).unwrap_or("00");
        self.dir.join(shard).join(format!("{hash}.json"))
    }

    /// The cached response, if any. An unreadable entry counts as a miss.
    pub fn get(&self, hash: &str) -> Option<Response> {
        let bytes = std::fs::read(self.path(hash)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Store a response.
    pub fn put(&self, hash: &str, response: &Response) -> std::io::Result<()> {
        let path = self.path(hash);
        let parent = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent)?;
        let mut temp = tempfile_in(parent)?;
        temp.1.write_all(&serde_json::to_vec(response)?)?;
        temp.1.sync_data()?;
        drop(temp.1);
        std::fs::rename(&temp.0, &path)
    }
}

/// A uniquely named temporary file next to its destination (same filesystem,
/// so the rename is atomic).
fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let unique = format!(".tmp-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
    let path = dir.join(unique);
    let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path)?;
    Ok((path, file))
}

#[cfg(test)]
mod tests {
    use super::*;
    use evalkit_backends::{Timing, Usage};

    #[test]
    fn round_trips_and_ignores_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ResponseCache::new(dir.path().join("cache"));
        assert!(cache.get("abcd").is_none());
        let response = Response {
            text: "Paris".into(),
            usage: Usage::default(),
            timing: Timing::default(),
            finish_reason: None,
            model: None,
            scored: None,
        };
        cache.put("abcd", &response).unwrap();
        assert_eq!(cache.get("abcd"), Some(response));
        std::fs::write(cache.path("ffff"), "{not json").unwrap_or_else(|_| {
            std::fs::create_dir_all(dir.path().join("cache/ff")).unwrap();
            std::fs::write(cache.path("ffff"), "{not json").unwrap();
        });
        assert!(cache.get("ffff").is_none());
    }
}
