//! Invalid suites and datasets: exit 2 from both `validate` and `run`, a
//! message that says what is wrong, where (file:line:column) and how to fix
//! it, and not a single request sent.

use crate::support::*;

/// Write `suite` (and `files`), then check that `validate` and `run` both
/// exit 2 with every one of `expected` in stderr, that the server saw
/// nothing, and that no run folder was created.
#[track_caller]
fn assert_rejected(suite: &str, files: &[(&str, &str)], expected: &[String]) {
    let files: Vec<(&str, &[u8])> = files.iter().map(|(name, contents)| (*name, contents.as_bytes())).collect();
    assert_rejected_bytes(suite, &files, expected);
}

/// [`assert_rejected`] with files of any bytes (Parquet datasets).
#[track_caller]
fn assert_rejected_bytes(suite: &str, files: &[(&str, &[u8])], expected: &[String]) {
    let sandbox = Sandbox::new();
    let server = Server::answering(CAPITALS_ANSWERS);
    for (name, contents) in files {
        sandbox.write_bytes(name, contents);
    }
    sandbox.write_suite("suite.toml", suite, &server.base_url());
    for command in ["validate", "run"] {
        let output = sandbox.evalkit(&[command, "suite.toml"]);
        assert_eq!(
            output.code,
            Some(2),
            "`evalkit {command}` should exit 2 (invalid input)\n--- stderr ---\n{}",
            output.stderr
        );
        for needle in expected {
            assert!(
                output.stderr.contains(needle.as_str()),
                "`evalkit {command}`: stderr lacks {needle:?}\n--- stderr ---\n{}",
                output.stderr
            );
        }
        assert!(
            output.stderr.starts_with("error: "),
            "`evalkit {command}`: the first line should be the error:\n{}",
            output.stderr
        );
        assert!(!output.stderr.contains("panicked"), "`evalkit {command}` panicked:\n{}", output.stderr);
    }
    assert_eq!(server.request_count(), 0, "invalid input must not reach the model");
    assert!(!sandbox.path().join("runs").exists(), "invalid input must not create a run folder");
}

fn location(suite: &str, needle: &str) -> String {
    let (line, column) = position_of(suite, needle);
    format!("suite.toml:{line}:{column}")
}

fn good_suite() -> String {
    capitals_suite("bad", "", FAST_RUN)
}

#[test]
fn malformed_toml_names_the_line() {
    let suite = good_suite().replace("model = \"test-model\"", "model = \"test-model");
    let (line, _) = position_of(&suite, "model = \"test-model");
    // The string runs to the end of the line, which is where the error is.
    let end = "model = \"test-model".len() + 1;
    assert_rejected(
        &suite,
        &[("qa.jsonl", CAPITALS_JSONL)],
        &["invalid TOML".to_owned(), format!("suite.toml:{line}:{end}"), "model = \"test-model\n".to_owned()],
    );
}

#[test]
fn unknown_key_in_variant_params_suggests_the_right_one() {
    let suite = good_suite().replace("backend = \"local\"", "backend = \"local\"\nparams = { max_token = 5 }");
    assert_rejected(
        &suite,
        &[("qa.jsonl", CAPITALS_JSONL)],
        &[
            "unknown key `max_token` in `variants[0].params`".to_owned(),
            location(&suite, "max_token"),
            "did you mean `max_tokens`?".to_owned(),
        ],
    );
}

#[test]
fn unknown_key_in_run_suggests_the_right_one() {
    let suite = good_suite().replace("concurrency = 2", "concurency = 2");
    assert_rejected(
        &suite,
        &[("qa.jsonl", CAPITALS_JSONL)],
        &[
            "unknown key `concurency` in `run`".to_owned(),
            location(&suite, "concurency"),
            "did you mean `concurrency`?".to_owned(),
        ],
    );
}

#[test]
fn wrong_type_names_the_key_and_both_types() {
    let suite = good_suite().replace("retries = 2", "retries = 2\nrepeats = \"3\"");
    assert_rejected(
        &suite,
        &[("qa.jsonl", CAPITALS_JSONL)],
        &["wrong type for `run.repeats`".to_owned(), "found string \"3\"".to_owned(), location(&suite, "\"3\"")],
    );
}

#[test]
fn a_suite_name_that_is_not_a_folder_name_is_refused_at_the_key() {
    for name in [".", "..", "a/b", ""] {
        let suite = good_suite().replace("name = \"bad\"", &format!("name = \"{name}\""));
        let message = match name {
            "" => "`suite.name` must not be empty".to_owned(),
            _ => format!("`suite.name` names the suite's folder under `output_dir`, and `{name}` cannot be one"),
        };
        assert_rejected(&suite, &[("qa.jsonl", CAPITALS_JSONL)], &[message, location(&suite, "name = ")]);
    }
}

#[test]
fn a_variant_naming_a_missing_backend_suggests_the_defined_one() {
    let suite = good_suite().replace("backend = \"local\"", "backend = \"locl\"");
    assert_rejected(
        &suite,
        &[("qa.jsonl", CAPITALS_JSONL)],
        &[
            "`variants[0].backend` names backend `locl`, which is not defined".to_owned(),
            location(&suite, "backend = \"locl\""),
            "did you mean `local`?".to_owned(),
        ],
    );
}

#[test]
fn a_missing_dataset_file_points_at_its_path_key() {
    let suite = good_suite().replace("path = \"qa.jsonl\"", "path = \"missing.jsonl\"");
    assert_rejected(
        &suite,
        &[],
        &[
            "cannot read dataset `qa`".to_owned(),
            "missing.jsonl".to_owned(),
            "not found".to_owned(),
            location(&suite, "path = \"missing.jsonl\""),
            "relative to the suite file".to_owned(),
        ],
    );
}

#[test]
fn a_row_missing_a_template_field_names_field_sample_and_line() {
    let data = r#"{"id": "fr", "question": "What is the capital of France?", "answer": "Paris"}
{"id": "de", "question": "What is the capital of Germany?", "answer": "Berlin"}
{"id": "it", "query": "What is the capital of Italy?", "answer": "Rome"}
{"id": "es", "question": "What is the capital of Spain?", "answer": "Madrid"}
"#;
    assert_rejected(
        &good_suite(),
        &[("qa.jsonl", data)],
        &[
            "uses `question`".to_owned(),
            "sample `it`".to_owned(),
            "dataset `qa`".to_owned(),
            "qa.jsonl:3".to_owned(),
            // The hint lists what the row does have.
            "`query`".to_owned(),
        ],
    );
}

#[test]
fn a_template_field_no_row_has_is_one_error_at_the_template() {
    let suite = good_suite().replace("user = \"{{ question }}\"", "user = \"{{ questoin }}\"");
    assert!(suite.contains("questoin"), "{suite}");
    // At the prompt's table (`qa` in `[prompts.qa]`).
    let (line, column) = position_of(&suite, "[prompts.qa]");
    let column = column + "[prompts.".len();
    assert_rejected(
        &suite,
        &[("qa.jsonl", CAPITALS_JSONL)],
        &[
            "prompt `qa` uses `questoin`, which no row of dataset `qa` has".to_owned(),
            format!("suite.toml:{line}:{column}"),
            "did you mean `question`?".to_owned(),
        ],
    );
    // One error for the template, not one per row.
    let sandbox = Sandbox::new();
    sandbox.write("qa.jsonl", CAPITALS_JSONL);
    sandbox.write_suite("suite.toml", &suite, "http://127.0.0.1:9/v1");
    let output = sandbox.evalkit(&["validate", "suite.toml"]);
    assert_eq!(output.stderr.matches("error: ").count(), 1, "{}", output.stderr);
}

#[test]
fn invalid_jsonl_names_line_and_column() {
    let data = "{\"id\": \"fr\", \"question\": \"q?\", \"answer\": \"Paris\"}\n{\"id\": \"de\", \"question\": }\n";
    assert_rejected(
        &good_suite(),
        &[("qa.jsonl", data)],
        &["invalid JSON on line 2".to_owned(), "qa.jsonl:2:".to_owned()],
    );
}

#[test]
fn a_csv_row_with_an_extra_field_names_the_csv_line() {
    let data = "id,question,answer\nfr,What is the capital of France?,Paris\nde,What is the capital of Germany?,Berlin,extra\nit,What is the capital of Italy?,Rome\n";
    let suite = good_suite().replace("path = \"qa.jsonl\"", "path = \"qa.csv\"");
    assert_rejected(
        &suite,
        &[("qa.csv", data)],
        &["CSV row has 4 fields but the header has 3".to_owned(), "qa.csv:3".to_owned(), "quote values".to_owned()],
    );
}

#[test]
fn several_problems_are_reported_together() {
    let suite = good_suite().replace("prompt = \"qa\"\nbackend = \"local\"", "prompt = \"qb\"\nbackend = \"locl\"");
    assert!(suite.contains("prompt = \"qb\""), "{suite}");
    assert_rejected(
        &suite,
        &[("qa.jsonl", CAPITALS_JSONL)],
        &[
            "`variants[0].prompt` names prompt `qb`".to_owned(),
            location(&suite, "prompt = \"qb\""),
            "`variants[0].backend` names backend `locl`".to_owned(),
            location(&suite, "backend = \"locl\""),
            "2 problems found".to_owned(),
        ],
    );
}

#[test]
fn bad_arguments_exit_2() {
    let sandbox = Sandbox::new();
    let output = sandbox.evalkit(&["run"]);
    assert_eq!(output.code, Some(2), "{}", output.stderr);
    let output = sandbox.evalkit(&["run", "does-not-exist.toml"]);
    assert_eq!(output.code, Some(2), "{}", output.stderr);
    assert!(output.stderr.contains("cannot read suite file `does-not-exist.toml`"), "{}", output.stderr);
    let output = sandbox.evalkit(&["run", "--resume", "not-a-run-folder"]);
    assert_ne!(output.code, Some(0), "{}", output.stderr);
    assert!(output.stderr.contains("not a run folder"), "{}", output.stderr);
}

#[test]
fn concurrency_beyond_the_open_file_limit_is_refused_before_any_request() {
    let sandbox = Sandbox::new();
    let server = Server::answering(CAPITALS_ANSWERS);
    sandbox.write("qa.jsonl", CAPITALS_JSONL);
    let suite = capitals_suite("fds", "", "concurrency = 5000");
    sandbox.write_suite("suite.toml", &suite, &server.base_url());
    // A shell lowers both limits to 256 for evalkit alone.
    let command = evalkit_command(sandbox.path(), &["run", "suite.toml"]);
    let program = command.get_program().to_owned();
    let mut shell = std::process::Command::new("sh");
    shell
        .args(["-c", "ulimit -n 256 && ulimit -Hn 256 && exec \"$0\" \"$@\""])
        .arg(program)
        .args(command.get_args())
        .current_dir(sandbox.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => shell.env(name, value),
            None => shell.env_remove(name),
        };
    }
    let output = run_with_timeout(shell, std::time::Duration::from_secs(60));
    output.expect_code(2);
    let (line, column) = position_of(&suite, "concurrency = 5000");
    assert!(output.stderr.contains(&format!("suite.toml:{line}:{column}")), "{}", output.stderr);
    assert!(output.stderr.contains("may open only 256") && output.stderr.contains("ulimit -n"), "{}", output.stderr);
    assert_eq!(server.request_count(), 0);
}

/// `good_suite` reading `qa.parquet`.
fn parquet_suite() -> String {
    good_suite().replace("path = \"qa.jsonl\"", "path = \"qa.parquet\"")
}

#[test]
fn a_damaged_parquet_file_exits_2_naming_it() {
    // Each damaged the way fuzzing found to panic or abort on a huge
    // allocation (harness/tests/fixtures/parquet/README.md).
    for (name, says) in [
        ("truncated", "Parquet file is truncated or corrupt: it does not end with `PAR1`"),
        ("schema_list", "Parquet footer is corrupt"),
        ("row_group_list", "Parquet footer is corrupt"),
        ("num_values", "more than evalkit reads from a file of this size"),
        ("page_offset", "has a negative offset"),
        ("page_size", "more than evalkit decompresses"),
    ] {
        let data = fixture(&format!("parquet/corrupt/{name}.parquet"));
        assert_rejected_bytes(
            &parquet_suite(),
            &[("qa.parquet", &data)],
            &[says.to_owned(), "--> qa.parquet".to_owned(), "hint: ".to_owned()],
        );
    }
}

#[test]
fn a_parquet_column_of_a_refused_type_is_named() {
    let data = fixture("parquet/refused/interval.parquet");
    assert_rejected_bytes(
        &parquet_suite(),
        &[("qa.parquet", &data)],
        &["Parquet column `wait` has type INTERVAL, which evalkit does not read".to_owned(), "qa.parquet".to_owned()],
    );
}

#[test]
fn a_parquet_file_read_as_jsonl_says_it_is_parquet() {
    let suite = parquet_suite().replace("path = \"qa.parquet\"", "path = \"qa.parquet\"\nformat = \"jsonl\"");
    let data = fixture("parquet/capitals.parquet");
    assert_rejected_bytes(
        &suite,
        &[("qa.parquet", &data)],
        &[
            "dataset `qa` is a Parquet file (it begins and ends with `PAR1`), but it is read as JSON Lines".to_owned(),
            "--> qa.parquet".to_owned(),
            "write `format = \"parquet\"` in `[datasets.qa]`".to_owned(),
        ],
    );
}

#[test]
fn an_unclosed_csv_quote_names_where_it_opens() {
    let suite = good_suite().replace("path = \"qa.jsonl\"", "path = \"qa.csv\"");
    // The quote is in the last column: the row has the header's two fields
    // and, unchecked, the rest of the file would be one answer.
    let data = "question,answer\nWhat is the capital of France?,\"Paris\nWhat is the capital of Spain?,Madrid\n";
    assert_rejected(
        &suite,
        &[("qa.csv", data)],
        &[
            "unclosed quote: the quoted value that opens on line 2 never ends".to_owned(),
            "qa.csv:2:32".to_owned(),
            "a quote inside a quoted value is written twice".to_owned(),
        ],
    );
}

#[test]
fn a_split_matching_no_row_lists_the_values_there_are() {
    let suite = good_suite().replace("path = \"qa.jsonl\"", "path = \"qa.jsonl\"\nsplit = \"tset\"");
    let data = CAPITALS_JSONL.replace("\"}", "\", \"split\": \"test\"}");
    assert_rejected(
        &suite,
        &[("qa.jsonl", &data)],
        &[
            "dataset `qa` has no rows with `split` = `tset`".to_owned(),
            "--> qa.jsonl".to_owned(),
            "did you mean `split = \"test\"`? `split` holds `test` (4 rows)".to_owned(),
        ],
    );
}

#[test]
fn an_empty_dataset_file_says_it_is_empty() {
    for (file, says) in [("qa.jsonl", "the file is empty"), ("qa.parquet", "not a Parquet file: it is empty")] {
        let suite = good_suite().replace("path = \"qa.jsonl\"", &format!("path = \"{file}\""));
        assert_rejected(&suite, &[(file, "")], &[says.to_owned(), format!("--> {file}"), "hint: ".to_owned()]);
    }
}

#[test]
fn values_no_setting_can_hold_are_refused_at_their_keys() {
    let backend = "timeout = 1e20\nmax_concurrency = 1000000000000";
    let run = "request_timeout = 1e20\nbackoff = 1e20\nmax_backoff = 1e20\nconcurrency = 1000000000000\nrepeats = 4000000000\n";
    let suite = capitals_suite("huge", backend, run);
    let mut expected: Vec<String> = ["request_timeout", "backoff", "max_backoff", "timeout"]
        .iter()
        .map(|key| format!("`{key}` must be a number of seconds"))
        .collect();
    expected.push("`concurrency` must be between 1 and 100000".to_owned());
    expected.push("`max_concurrency` must be between 1 and 100000".to_owned());
    expected.push("`repeats` must be between 1 and 10000".to_owned());
    for key in ["request_timeout = 1e20", "backoff = 1e20", "timeout = 1e20", "repeats = 4000000000"] {
        expected.push(location(&suite, key));
    }
    assert_rejected(&suite, &[("qa.jsonl", CAPITALS_JSONL)], &expected);
}

/// A suite whose one backend is a local model at `model`.
#[cfg(feature = "local")]
fn local_suite(model: &str) -> String {
    good_suite().replace(
        "kind = \"openai\"\nbase_url = \"{base_url}\"\nmodel = \"test-model\"",
        &format!("kind = \"local\"\nmodel = \"{model}\""),
    )
}

#[cfg(feature = "local")]
#[test]
fn damaged_model_files_are_refused_at_the_model_key_saying_what_is_wrong() {
    let tiny = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../backends/local/tests/fixtures/tiny_models/llama.gguf"),
    )
    .unwrap();
    let cut = &tiny[..tiny.len() - 1000];
    let cases: [(&str, &str, &[u8], &str); 4] = [
        ("cut.gguf", "cut.gguf", cut, "is truncated: tensor `"),
        ("empty.gguf", "empty.gguf", b"", "is empty; evalkit reads GGUF files"),
        ("notes.gguf", "notes.gguf", b"these are not weights", "is not a GGUF file"),
        ("hf", "hf/tokenizer.json", b"{}", "has no config.json"),
    ];
    for (model, file, bytes, says) in cases {
        let suite = local_suite(model);
        assert!(suite.contains("kind = \"local\""), "{suite}");
        assert_rejected_bytes(
            &suite,
            &[("qa.jsonl", CAPITALS_JSONL.as_bytes()), (file, bytes)],
            &[says.to_owned(), location(&suite, &format!("model = \"{model}\""))],
        );
    }
}
