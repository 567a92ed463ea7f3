//! The fixtures in harness/tests/fixtures/parquet: every type family reads
//! as the rows generate.py computed from the values it wrote, refused types
//! say so naming the column, and damaged files are errors naming the file.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parquet").join(name)
}

fn read_fixture(name: &str) -> Result<super::super::Rows, Diagnostic> {
    let path = fixture(name);
    read(&path, std::fs::read(&path).unwrap())
}

#[test]
fn every_type_family_reads_as_generate_py_says() {
    let mut checked = 0;
    for entry in std::fs::read_dir(fixture("")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let expected: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let parquet = path.with_extension("parquet");
        let name = parquet.file_name().unwrap().to_str().unwrap();
        let rows = read_fixture(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(rows.len(), expected.len(), "{name}");
        for (index, ((position, fields), expected)) in rows.into_iter().zip(expected).enumerate() {
            assert_eq!(position, Position::Row(index + 1), "{name}");
            assert_eq!(Value::Object(fields), expected, "{name}, row {}", index + 1);
        }
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} fixtures with expected rows");
}

#[test]
fn refused_types_name_the_column_and_why() {
    let error = read_fixture("refused/interval.parquet").unwrap_err();
    assert!(error.message.contains("column `wait` has type INTERVAL"), "{error}");
    assert!(error.file.as_deref().is_some_and(|f| f.ends_with("refused/interval.parquet")), "{error}");
    let error = read_fixture("refused/deep.parquet").unwrap_err();
    assert_eq!(error.message, "Parquet column `deep` is nested more than 32 levels deep");
}

/// Each damaged file, and what its error must say.
const CORRUPT: &[(&str, &str)] = &[
    ("truncated", "does not end with `PAR1`"),
    ("footer_length", "footer is corrupt: it claims"),
    ("schema_list", "footer is corrupt: a list or string in it is longer than its"),
    ("row_group_list", "footer is corrupt: a list or string in it is longer than its"),
    ("column_list", "footer is corrupt: a list or string in it is longer than its"),
    ("num_values", "more than evalkit reads from a file of this size"),
    ("num_rows", "more than evalkit reads from a file of this size"),
    ("page_offset", "has a negative offset"),
    ("past_end", "claims bytes 1099511627776.."),
    ("page_size", "pages decompress to 21474"),
];

#[test]
fn damaged_files_are_errors_naming_the_file() {
    for (name, says) in CORRUPT {
        let file = format!("corrupt/{name}.parquet");
        let Err(error) = read_fixture(&file) else { panic!("{file} reads without an error") };
        assert!(error.message.contains(says), "{file}: {error}");
        assert!(error.file.as_deref().is_some_and(|f| f.ends_with(&file)), "{file}: {error}");
        assert!(error.hint.is_some(), "{file}: {error}");
    }
}

#[test]
fn files_that_are_not_parquet_say_what_they_look_like() {
    let error = read(Path::new("d.parquet"), b"{\"a\": 1}\n".to_vec()).unwrap_err();
    assert_eq!(error.message, "not a Parquet file: it does not start with `PAR1`");
    assert!(error.hint.unwrap().contains("JSON Lines"));
    let error = read(Path::new("d.parquet"), Vec::new()).unwrap_err();
    assert_eq!(error.message, "not a Parquet file: it is empty");
}

#[test]
fn panics_in_the_decoder_are_errors() {
    let problem = decoder_panic("index out of bounds", Some(("q", 2)));
    assert_eq!(problem.message, "the Parquet decoder failed in column `q` (row group 2): index out of bounds");
}
