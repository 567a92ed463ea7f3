//! What a model file holds, as a hash: part of the response-cache key, so a
//! model overwritten in place (same name, same size, even the same
//! modification second) never answers from another model's cache, and a
//! copy of the same file elsewhere (a CI cache restored on a new machine)
//! still does.
//!
//! Hashing gigabytes on every run would be slow, so the hash is remembered
//! in `$XDG_CACHE_HOME/evalkit/content-ids/` (else `~/.cache/...`), keyed by
//! what changes whenever the file's bytes do: its canonical path, length,
//! inode and modification and change times to the nanosecond. A file
//! written in place gets a new change time, and is hashed again.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// `sha256:<hex>` of a model: the file's bytes, or for a model folder the
/// name and bytes of each file directly in it, in name order.
pub fn content_id(path: &Path) -> std::io::Result<String> {
    let memo = memo_path(path);
    if let Some(known) = memo.as_deref().and_then(|m| std::fs::read_to_string(m).ok()) {
        if known.starts_with("sha256:") && known.len() == 7 + 64 {
            return Ok(known);
        }
    }
    let id = format!("sha256:{}", hex(&hash_model(path)?));
    if let Some(memo) = memo {
        // Only a speed-up: a cache folder that cannot be written costs a re-hash next time.
        let _ = remember(&memo, &id);
    }
    Ok(id)
}

fn hash_model(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    if path.is_dir() {
        let mut files: Vec<PathBuf> =
            std::fs::read_dir(path)?.filter_map(|entry| entry.ok().map(|e| e.path())).filter(|p| p.is_file()).collect();
        files.sort();
        for file in files {
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            hasher.update((name.len() as u64).to_le_bytes());
            hasher.update(name.as_bytes());
            hasher.update(hash_file(&file)?);
        }
    } else {
        hasher.update(hash_file(path)?);
    }
    Ok(hasher.finalize().into())
}

fn hash_file(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher.finalize().into())
}

/// Where the hash of `path` in its current state is remembered; `None` when
/// there is no cache folder or the file's state cannot be read.
fn memo_path(path: &Path) -> Option<PathBuf> {
    let root = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()).map(PathBuf::from).or_else(|| {
        std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|home| PathBuf::from(home).join(".cache"))
    })?;
    let state = file_state(path)?;
    let key = hex(&Sha256::digest(state.as_bytes()));
    Some(root.join("evalkit/content-ids").join(key))
}

/// Everything that changes when a file's (or a folder's files') bytes do.
fn file_state(path: &Path) -> Option<String> {
    let canonical = std::fs::canonicalize(path).ok()?;
    let mut state = format!("v1\n{}\n", canonical.display());
    let mut entries = vec![canonical.clone()];
    if canonical.is_dir() {
        let mut files: Vec<PathBuf> =
            std::fs::read_dir(&canonical).ok()?.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        entries = files;
    }
    for entry in entries {
        let meta = std::fs::metadata(&entry).ok()?;
        state.push_str(&format!("{}:{}\n", entry.display(), stamp(&meta)));
    }
    Some(state)
}

#[cfg(unix)]
fn stamp(meta: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    format!(
        "{} {} {} {}.{} {}.{}",
        meta.len(),
        meta.dev(),
        meta.ino(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec()
    )
}

#[cfg(not(unix))]
fn stamp(meta: &std::fs::Metadata) -> String {
    let modified = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
    format!("{} {:?}", meta.len(), modified)
}

fn remember(memo: &Path, id: &str) -> std::io::Result<()> {
    let dir = memo.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    // Unique per call: two models opened at once must not swap their notes.
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let unique = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let temp = dir.join(format!(".tmp-{}-{unique}", std::process::id()));
    std::fs::write(&temp, id)?;
    std::fs::rename(&temp, memo).inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })
}

/// Lower-case hex digits, as `sha256:` identities are written.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_bytes_same_id_and_an_overwrite_in_place_changes_it() {
        let dir = tempfile::tempdir().unwrap();
        std::env::set_var("XDG_CACHE_HOME", dir.path().join("cache"));
        let (a, b) = (dir.path().join("a.gguf"), dir.path().join("b.gguf"));
        std::fs::write(&a, b"GGUF model one").unwrap();
        std::fs::write(&b, b"GGUF model one").unwrap();
        let first = content_id(&a).unwrap();
        assert_eq!(first, content_id(&b).unwrap(), "a copy is the same model");
        assert_eq!(first, content_id(&a).unwrap(), "remembered");

        // Same length, modification time put back: only the bytes differ.
        let modified = std::fs::metadata(&a).unwrap().modified().unwrap();
        std::fs::write(&a, b"GGUF model two").unwrap();
        std::fs::File::options().write(true).open(&a).unwrap().set_modified(modified).unwrap();
        assert_ne!(first, content_id(&a).unwrap(), "overwritten in place is another model");
    }

    #[test]
    fn a_folder_is_identified_by_its_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), "{}").unwrap();
        let before = content_id(dir.path()).unwrap();
        std::fs::write(dir.path().join("model.safetensors"), "weights").unwrap();
        assert_ne!(before, content_id(dir.path()).unwrap());
    }
}
