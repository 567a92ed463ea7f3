//! The response cache: one file per request hash, written atomically.
//!
//! Layout: `<dir>/<first two hex digits>/<hash>.json`. A file appears only by
//! `rename` of a fully written and synced temporary file, so a killed process
//! leaves either the complete entry or none. Failed requests are never cached.

use std::path::PathBuf;

use evalkit_model_api::Response;
use evalkit_record::atomic::write_atomic;

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
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        write_atomic(&path, &serde_json::to_vec(response)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_ignores_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ResponseCache::new(dir.path().join("cache"));
        assert!(cache.get("abcd").is_none());
        let response = Response { text: "Paris".into(), ..Response::default() };
        cache.put("abcd", &response).unwrap();
        assert_eq!(cache.get("abcd"), Some(response));
        std::fs::write(cache.path("ffff"), "{not json").unwrap_or_else(|_| {
            std::fs::create_dir_all(dir.path().join("cache/ff")).unwrap();
            std::fs::write(cache.path("ffff"), "{not json").unwrap();
        });
        assert!(cache.get("ffff").is_none());
    }
}
