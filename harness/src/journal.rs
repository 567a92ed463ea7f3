//! The run journal, `records.jsonl`: one [`Record`] per finished task.
//!
//! It is the run's source of truth: results and reports are derived from it,
//! and `--resume` reads it to skip finished work. Each record is one
//! `write` of one line followed by `fsync`, so after a crash (even `kill -9`)
//! the file holds every finished task, plus at worst one torn last line, which
//! [`read`] drops and [`Journal::open`] cuts off before appending.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use evalkit_reports::record::Record;

/// An open journal, appending.
pub struct Journal {
    path: PathBuf,
    file: File,
}

/// What reading a journal found.
pub struct JournalContents {
    /// Every complete record, in the order written.
    pub records: Vec<Record>,
    /// Lines that could not be read (1-based line, why). A torn final line
    /// after a crash shows up here.
    pub skipped: Vec<(usize, String)>,
}

impl Journal {
    /// Open for appending, creating the file if needed. A torn final line
    /// (no newline: the process died mid-write) is cut off first.
    pub fn open(path: &Path) -> std::io::Result<Journal> {
        let mut file = OpenOptions::new().create(true).read(true).append(true).open(path)?;
        let bytes = std::fs::read(path)?;
        if let Some(end) = complete_prefix_len(&bytes) {
            if end < bytes.len() {
                file.set_len(end as u64)?;
            }
        }
        file.flush()?;
        Ok(Journal { path: path.to_path_buf(), file })
    }

    /// Append one record durably.
    pub fn append(&mut self, record: &Record) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.file.sync_data()
    }

    /// Where the journal lives.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Length of the longest prefix ending in a newline (None for an empty file).
fn complete_prefix_len(bytes: &[u8]) -> Option<usize> {
    if bytes.is_empty() {
        return None;
    }
    Some(bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1))
}

/// Read every complete record.
pub fn read(path: &Path) -> std::io::Result<JournalContents> {
    let file = File::open(path)?;
    let mut records = Vec::new();
    let mut skipped = Vec::new();
    for (index, line) in BufReader::new(file).split(b'\n').enumerate() {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Record>(&line) {
            Ok(record) => records.push(record),
            Err(error) => skipped.push((index + 1, error.to_string())),
        }
    }
    Ok(JournalContents { records, skipped })
}

#[cfg(test)]
mod tests {
    use super::*;
    use evalkit_reports::record::{ErrorEntry, Outcome};

    fn record(sample: &str) -> Record {
        Record {
            variant: "v".into(),
            sample: sample.into(),
            repeat: 0,
            request_hash: "h".into(),
            prompt: "p".into(),
            reference: None,
            cluster: None,
            outcome: Outcome::Error(ErrorEntry { kind: "fatal".into(), message: "m".into() }),
            scores: Default::default(),
            attempts: 1,
            cached: false,
            finished_at: "t".into(),
        }
    }

    #[test]
    fn torn_last_line_is_dropped_and_cut_before_appending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.jsonl");
        let mut journal = Journal::open(&path).unwrap();
        journal.append(&record("a")).unwrap();
        drop(journal);
        // Simulate a crash in the middle of writing the second record.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"variant":"v","sam"#).unwrap();
        let contents = read(&path).unwrap();
        assert_eq!(contents.records.len(), 1);
        assert_eq!(contents.skipped.len(), 1);

        let mut journal = Journal::open(&path).unwrap();
        journal.append(&record("b")).unwrap();
        let contents = read(&path).unwrap();
        assert_eq!(contents.records.iter().map(|r| r.sample.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert!(contents.skipped.is_empty());
    }
}
