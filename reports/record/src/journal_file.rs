//! The journal file, `records.jsonl`: one [`Record`] per finished task.
//!
//! It is the run's source of truth: results and reports are derived from it,
//! and `--resume` reads it to skip finished work. Each record is one
//! `write` of one line followed by `fsync`, so after a crash (even `kill -9`)
//! the file holds every finished task, plus at worst one torn last line, which
//! [`read`] drops and [`Journal::open`] cuts off before appending.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::journal::{latest_indices, parse_line, Record};

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
        let len = file.metadata()?.len();
        let end = complete_prefix_len(&mut file, len)?;
        if end < len {
            file.set_len(end)?;
        }
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

/// Length of the longest prefix of the file's `len` bytes that ends in a
/// newline (0 when there is none). Reads backwards from the end, a block at a
/// time, so opening a long journal costs the length of its last line, not of
/// the file.
fn complete_prefix_len(file: &mut File, len: u64) -> std::io::Result<u64> {
    const BLOCK: u64 = 64 * 1024;
    let mut end = len;
    let mut buffer = Vec::new();
    while end > 0 {
        let start = end.saturating_sub(BLOCK);
        buffer.resize((end - start) as usize, 0);
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buffer)?;
        if let Some(newline) = buffer.iter().rposition(|&b| b == b'\n') {
            return Ok(start + newline as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// Read every complete record, in the order written.
pub fn read(path: &Path) -> std::io::Result<JournalContents> {
    let mut records = Vec::new();
    let skipped = for_each(path, |_, record| records.push(record))?;
    Ok(JournalContents { records, skipped })
}

/// Hand every complete record to `visit` with its 1-based line number, one
/// at a time, so a journal of any length is read in constant memory. Returns
/// the lines that could not be read (line, why).
pub fn for_each(path: &Path, mut visit: impl FnMut(usize, Record)) -> std::io::Result<Vec<(usize, String)>> {
    let file = File::open(path)?;
    let mut skipped = Vec::new();
    for (index, line) in BufReader::new(file).split(b'\n').enumerate() {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse_line(&line) {
            Ok(record) => visit(index + 1, record),
            Err(error) => skipped.push((index + 1, error.to_string())),
        }
    }
    Ok(skipped)
}

/// The last record of each task, lightened ([`Record::lighten`]), each with
/// the journal line it came from.
pub struct LatestRecords {
    /// One record per task, in the order tasks first appear.
    pub records: Vec<Record>,
    /// The journal line (1-based) of each record, in the same order.
    pub lines: Vec<usize>,
    /// Lines that could not be read (line, why).
    pub skipped: Vec<(usize, String)>,
}

/// Read the last record of each task, keeping at most `text_chars`
/// characters of each answer and none of the prompts, log-probabilities or
/// metric calls: what analysis, gates and the summaries read. Exporters that
/// show whole answers read those lines again ([`for_each`]).
pub fn read_latest(path: &Path, text_chars: usize) -> std::io::Result<LatestRecords> {
    // Every line is kept (lightened) until the end, when superseded records
    // of retried tasks are dropped: those are few, and the rule for which
    // record is a task's latest stays in one place.
    let mut all: Vec<Record> = Vec::new();
    let mut all_lines: Vec<usize> = Vec::new();
    let skipped = for_each(path, |line, record| {
        all.push(record.lighten(text_chars));
        all_lines.push(line);
    })?;
    let keep = latest_indices(&all);
    let lines = keep.iter().map(|&i| all_lines[i]).collect();
    let mut slots: Vec<Option<Record>> = all.into_iter().map(Some).collect();
    let records = keep.into_iter().filter_map(|i| slots[i].take()).collect();
    Ok(LatestRecords { records, lines, skipped })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{ErrorEntry, Outcome, RECORD_VERSION};

    fn record(sample: &str) -> Record {
        Record {
            v: RECORD_VERSION,
            variant: "v".into(),
            sample: sample.into(),
            repeat: 0,
            request_hash: "h".into(),
            prompt: evalkit_model_api::Prompt::Completion("p".into()),
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

    #[test]
    fn latest_records_are_lightened_and_keep_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.jsonl");
        let mut journal = Journal::open(&path).unwrap();
        let answered = |sample: &str, text: &str| {
            let response = evalkit_model_api::Response { text: text.into(), ..Default::default() };
            Record { outcome: Outcome::Response(response), ..record(sample) }
        };
        journal.append(&record("a")).unwrap(); // line 1: an error, retried below
        journal.append(&answered("b", "short")).unwrap(); // line 2
        journal.append(&answered("a", "a long answer")).unwrap(); // line 3: supersedes line 1
        let latest = read_latest(&path, 6).unwrap();
        let samples: Vec<&str> = latest.records.iter().map(|r| r.sample.as_str()).collect();
        assert_eq!(samples, ["a", "b"], "tasks in the order they first appear");
        assert_eq!(latest.lines, [3, 2]);
        assert_eq!(latest.records[0].response().unwrap().text, "a long", "answers cut to 6 characters");
        assert_eq!(latest.records[1].response().unwrap().text, "short");
        assert_eq!(latest.records[0].prompt, evalkit_model_api::Prompt::Completion(String::new()));
        let mut seen = Vec::new();
        for_each(&path, |line, record| seen.push((line, record.sample))).unwrap();
        assert_eq!(seen, [(1, "a".to_owned()), (2, "b".to_owned()), (3, "a".to_owned())]);
    }
}
