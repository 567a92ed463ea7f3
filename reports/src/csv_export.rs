//! CSV exports for spreadsheets and dataframes: the aggregates of
//! `results.json`, one row per (variant, metric), and the journal, one row per
//! task with its output and scores.
//!
//! Numbers are written with full precision (Rust's shortest round-trip
//! `{}` form) so that a reader gets back exactly what `results.json` holds;
//! an absent value is an empty cell.
//!
//! Text cells (answers, error messages, ids, names) that a spreadsheet would
//! run as a formula, those starting with `=`, `+`, `-`, `@`, a tab or a
//! carriage return, get a leading `'` by default, as OWASP's "CSV injection"
//! guidance recommends: a model's answer `=HYPERLINK(...)` must not become a
//! live link when the file is opened. `[report] csv_formulas = "raw"` writes
//! them as they are, for tools that read CSV as data.

use std::borrow::Cow;

use evalkit_record::journal::{latest_indices, Outcome, Record};
use evalkit_record::results::{CiMethod, RunResults};
use serde::{Deserialize, Serialize};

/// How text cells that look like spreadsheet formulas are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CsvFormulas {
    /// Prefixed with `'`, so a spreadsheet shows them as text (OWASP).
    #[default]
    Neutralize,
    /// As they are.
    Raw,
}

impl CsvFormulas {
    /// A text cell as this policy writes it.
    pub fn cell<'a>(self, text: &'a str) -> Cow<'a, str> {
        let risky = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
        match self {
            CsvFormulas::Neutralize if risky => Cow::Owned(format!("'{text}")),
            _ => Cow::Borrowed(text),
        }
    }
}

/// The aggregates, one row per (variant, metric) in `results.aggregates` order:
/// `variant,metric,n_samples,valid,invalid,errors,missing,total,mean,std_dev,
/// std_error,ci_low,ci_high,ci_method,median`.
pub fn results_csv(results: &RunResults, formulas: CsvFormulas) -> String {
    let mut out = csv::Writer::from_writer(Vec::new());
    let header = [
        "variant",
        "metric",
        "n_samples",
        "valid",
        "invalid",
        "errors",
        "missing",
        "total",
        "mean",
        "std_dev",
        "std_error",
        "ci_low",
        "ci_high",
        "ci_method",
        "median",
    ];
    write(&mut out, header.iter().map(|h| (*h).to_owned()).collect());
    for a in &results.aggregates {
        write(
            &mut out,
            vec![
                formulas.cell(&a.variant).into_owned(),
                formulas.cell(&a.metric).into_owned(),
                a.n_samples.to_string(),
                a.valid.to_string(),
                a.invalid.to_string(),
                a.errors.to_string(),
                a.missing.to_string(),
                a.total.to_string(),
                number(a.mean),
                number(a.std_dev),
                number(a.std_error),
                number(a.ci.map(|ci| ci.low)),
                number(a.ci.map(|ci| ci.high)),
                a.ci.map_or_else(String::new, |ci| ci_method(ci.method).to_owned()),
                number(a.median),
            ],
        );
    }
    finish(out)
}

/// The tasks, one row per (variant, sample, repeat):
/// `variant,sample,repeat,status,output,error`, then one column per metric in
/// `results.metrics` order (empty where the score is null or absent).
///
/// `status` is `response` or `error`; `output` is the response text and
/// `error` the failure as `kind: message`. When a task was recorded more than
/// once (a resumed run), only its latest record is kept; rows follow the
/// journal order of the records kept.
pub fn samples_csv(results: &RunResults, records: &[Record], formulas: CsvFormulas) -> String {
    let mut out = SamplesCsv::new(results, Vec::new(), formulas).expect("CSV header written to memory");
    for record in latest_records(records) {
        out.row(record).expect("CSV row written to memory");
    }
    let bytes = out.finish().expect("CSV flushed to memory");
    // Every field was a `String`, so the bytes are UTF-8.
    String::from_utf8(bytes).expect("CSV is UTF-8")
}

/// `samples.csv` written a row at a time, for runs too large to hold every
/// answer in memory: the caller hands over each task's latest record, in
/// journal order ([`samples_csv`] does this from a slice).
pub struct SamplesCsv<'r, W: std::io::Write> {
    out: csv::Writer<W>,
    results: &'r RunResults,
    formulas: CsvFormulas,
}

impl<'r, W: std::io::Write> SamplesCsv<'r, W> {
    /// Start the file with its header.
    pub fn new(results: &'r RunResults, sink: W, formulas: CsvFormulas) -> csv::Result<Self> {
        let mut out = csv::Writer::from_writer(sink);
        let mut header: Vec<Cow<'_, str>> =
            ["variant", "sample", "repeat", "status", "output", "error"].into_iter().map(Cow::Borrowed).collect();
        header.extend(results.metrics.iter().map(|m| formulas.cell(&m.name)));
        out.write_record(header.iter().map(|h| h.as_bytes()))?;
        Ok(SamplesCsv { out, results, formulas })
    }

    /// One task's row.
    pub fn row(&mut self, record: &Record) -> csv::Result<()> {
        let (status, output, error) = match &record.outcome {
            Outcome::Response(response) => ("response", response.text.as_str(), String::new()),
            Outcome::Error(error) => ("error", "", format!("{}: {}", error.kind, error.message)),
        };
        let repeat = record.repeat.to_string();
        let text = |t: &str| self.formulas.cell(t).into_owned();
        let mut row: Vec<String> =
            vec![text(&record.variant), text(&record.sample), repeat, status.to_owned(), text(output), text(&error)];
        row.extend(self.results.metrics.iter().map(|m| number(record.scores.get(&m.name).and_then(|s| s.value))));
        self.out.write_record(&row)
    }

    /// Flush, and hand back the sink.
    pub fn finish(self) -> std::io::Result<W> {
        self.out.into_inner().map_err(|e| e.into_error())
    }
}

/// The last record of each (variant, sample, repeat), in journal order: a
/// resumed run may record a task again, and the later record wins.
pub(crate) fn latest_records(records: &[Record]) -> impl Iterator<Item = &Record> {
    let mut kept = latest_indices(records);
    kept.sort_unstable();
    kept.into_iter().map(move |i| &records[i])
}

/// Full precision, empty for none.
fn number(value: Option<f64>) -> String {
    value.map_or_else(String::new, |v| v.to_string())
}

/// The names `results.json` uses.
fn ci_method(method: CiMethod) -> &'static str {
    match method {
        CiMethod::Wilson => "wilson",
        CiMethod::T => "t",
        CiMethod::ClusteredT => "clustered_t",
        CiMethod::Bootstrap => "bootstrap",
    }
}

fn write(out: &mut csv::Writer<Vec<u8>>, row: Vec<String>) {
    // Writing to a `Vec` cannot fail, and every row has the header's length.
    out.write_record(&row).expect("CSV row written to memory");
}

fn finish(out: csv::Writer<Vec<u8>>) -> String {
    let bytes = out.into_inner().expect("CSV flushed to memory");
    // Every field was a `String`, so the bytes are UTF-8.
    String::from_utf8(bytes).expect("CSV is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{binary, failure, metric, response, results, variant};
    use evalkit_record::journal::Outcome;
    use evalkit_record::results::{Direction, Scale};

    fn read(text: &str) -> Vec<Vec<String>> {
        let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(text.as_bytes());
        reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect()
    }

    fn with_text(mut record: Record, text: &str) -> Record {
        if let Outcome::Response(response) = &mut record.outcome {
            response.text = text.to_owned();
        }
        record
    }

    fn metrics() -> Vec<evalkit_record::results::MetricInfo> {
        vec![binary("em"), metric("score", Scale::Continuous, Direction::HigherIsBetter, None)]
    }

    #[test]
    fn aggregates_read_back() {
        let records = [
            response("a", "s1", 0, &[("em", Some(1.0)), ("score", Some(0.1))]),
            response("a", "s2", 0, &[("em", Some(0.0)), ("score", Some(0.2))]),
            response("a", "s3", 0, &[("em", Some(1.0)), ("score", None)]),
            failure("a", "s4", 0),
        ];
        let r = results(vec![variant("a", 4)], metrics(), &records);
        let rows = read(&results_csv(&r, CsvFormulas::Raw));
        assert_eq!(
            rows[0].join(","),
            "variant,metric,n_samples,valid,invalid,errors,missing,total,mean,std_dev,std_error,ci_low,ci_high,ci_method,median"
        );
        assert_eq!(rows.len(), 3);
        let em = r.aggregate("a", "em").unwrap();
        assert_eq!(rows[1][..8], ["a", "em", "3", "3", "0", "1", "0", "4"]);
        assert_eq!(rows[1][8].parse::<f64>().unwrap(), em.mean.unwrap());
        assert_eq!(rows[1][11].parse::<f64>().unwrap(), em.ci.unwrap().low);
        assert_eq!(rows[1][13], "wilson");
        let score = r.aggregate("a", "score").unwrap();
        assert_eq!(rows[2][8].parse::<f64>().unwrap(), score.mean.unwrap());
        assert_eq!(rows[2][8], "0.15000000000000002");
        assert_eq!(rows[2][4], "1");

        // One valid sample: no spread, no interval.
        let r = results(vec![variant("b", 1)], metrics(), &[response("b", "s1", 0, &[("em", Some(1.0))])]);
        let rows = read(&results_csv(&r, CsvFormulas::Raw));
        assert_eq!(rows[1][8..], ["1", "", "", "", "", "", "1"]);
        assert_eq!(rows[2][8..], ["", "", "", "", "", "", ""]);
    }

    #[test]
    fn samples_read_back_with_awkward_outputs() {
        let awkward = "He said \"yes, no\"\nthen, \r\nleft";
        let records = [
            with_text(response("a", "s1", 0, &[("em", Some(1.0)), ("score", Some(0.5))]), awkward),
            failure("a", "s2", 0),
            response("a,b", "s1", 0, &[("em", None)]),
        ];
        let r = results(vec![variant("a", 2), variant("a,b", 1)], metrics(), &records);
        let rows = read(&samples_csv(&r, &records, CsvFormulas::Raw));
        assert_eq!(rows[0], ["variant", "sample", "repeat", "status", "output", "error", "em", "score"]);
        assert_eq!(rows[1], ["a", "s1", "0", "response", awkward, "", "1", "0.5"]);
        assert_eq!(rows[2], ["a", "s2", "0", "error", "", "timeout: timed out after 30s", "", ""]);
        assert_eq!(rows[3], ["a,b", "s1", "0", "response", "answer to s1", "", "", ""]);
        assert_eq!(rows.len(), 4);
    }

    #[test]
    fn formulas_are_neutralized_unless_raw_is_asked_for() {
        let answers = ["=1+2", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx", "fine = ok", "-"];
        let records: Vec<Record> = answers
            .iter()
            .enumerate()
            .map(|(i, a)| with_text(response("=v", &format!("s{i}"), 0, &[("em", Some(-1.0))]), a))
            .collect();
        let r = results(vec![variant("=v", answers.len() as u64)], metrics(), &records);
        let rows = read(&samples_csv(&r, &records, CsvFormulas::Neutralize));
        for (row, answer) in rows[1..].iter().zip(answers) {
            assert_eq!(row[0], "'=v", "names are text cells too");
            let expected = if answer.starts_with("fine") { answer.to_owned() } else { format!("'{answer}") };
            assert_eq!(row[4], expected);
            assert_eq!(row[6], "-1", "numbers stay numbers");
        }
        assert_eq!(read(&results_csv(&r, CsvFormulas::Neutralize))[1][0], "'=v");
        let raw = read(&samples_csv(&r, &records, CsvFormulas::Raw));
        assert_eq!((raw[1][0].as_str(), raw[1][4].as_str()), ("=v", "=1+2"));
    }

    #[test]
    fn the_latest_record_of_a_task_wins() {
        let records = [
            failure("a", "s1", 0),
            response("a", "s2", 0, &[("em", Some(0.0))]),
            response("a", "s1", 1, &[("em", Some(0.0))]),
            response("a", "s1", 0, &[("em", Some(1.0))]),
        ];
        let r = results(vec![variant("a", 4)], metrics(), &records);
        let rows = read(&samples_csv(&r, &records, CsvFormulas::Raw));
        let keys: Vec<String> = rows[1..].iter().map(|r| format!("{}#{}:{}", r[1], r[2], r[3])).collect();
        assert_eq!(keys, ["s2#0:response", "s1#1:response", "s1#0:response"]);
        assert_eq!(rows[3][6], "1");
    }
}
