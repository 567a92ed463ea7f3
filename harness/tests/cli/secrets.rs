//! Secrets come from the environment, go to the endpoint, and nowhere else.

use crate::support::*;

const KEY_VAR: &str = "EVALKIT_CLI_TEST_API_KEY";
const KEY: &str = "sk-evalkit-test-7c1f9e2b4d6a8f00-do-not-leak";
const HEADER_VAR: &str = "EVALKIT_CLI_TEST_ORG_TOKEN";
const HEADER_SECRET: &str = "org-secret-5e3a91c0d2b4";

#[test]
fn api_key_is_sent_as_bearer_token_and_written_nowhere() {
    let sandbox = Sandbox::new();
    let server = Server::answering(CAPITALS_ANSWERS);
    sandbox.write("qa.jsonl", CAPITALS_JSONL);
    let backend = format!("api_key_env = \"{KEY_VAR}\"\nheaders = {{ \"X-Org-Token\" = \"${{{HEADER_VAR}}}\" }}");
    sandbox.write_suite("suite.toml", &capitals_suite("secrets", &backend, FAST_RUN), &server.base_url());
    let env = [(KEY_VAR, KEY), (HEADER_VAR, HEADER_SECRET)];

    let output = sandbox.evalkit_with_env(&["run", "suite.toml"], &env);
    output.expect_code(0);
    let run_dir = output.run_dir(sandbox.path());

    let requests = server.requests();
    assert_eq!(requests.len(), 4);
    for request in &requests {
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {KEY}").as_str()),
            "headers: {:?}",
            request.headers
        );
        assert_eq!(
            request.header("x-org-token"),
            Some(HEADER_SECRET),
            "`${{VAR}}` in headers is read from the environment"
        );
        assert!(!request.raw_body.contains(KEY), "the key belongs in the header, not the body");
    }

    // Nothing evalkit writes may contain a secret: not the run folder (resolved
    // suite copy, manifest, journal, results, report), not the cache.
    let cache_dir = sandbox.path().join(".evalkit/cache");
    let mut files = files_under(&run_dir);
    assert!(files.len() >= 5, "expected the run's files in {}: {files:?}", run_dir.display());
    let cached = files_under(&cache_dir);
    assert!(!cached.is_empty(), "expected cache entries in {}", cache_dir.display());
    files.extend(cached);
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(KEY), "{} contains the API key", file.display());
        assert!(!text.contains(HEADER_SECRET), "{} contains the header secret", file.display());
    }
    assert!(
        !output.all().contains(KEY) && !output.all().contains(HEADER_SECRET),
        "a secret was printed:\n{}",
        output.all()
    );

    // A resume reads the run's suite copy, so it needs the secrets from the
    // environment again, and still writes them nowhere.
    let resumed = sandbox.evalkit_with_env(&["run", "--resume", run_dir.to_str().unwrap()], &env);
    resumed.expect_code(0);
    for file in files_under(&run_dir) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        assert!(
            !text.contains(KEY) && !text.contains(HEADER_SECRET),
            "{} contains a secret after --resume",
            file.display()
        );
    }
}

#[test]
fn a_missing_api_key_variable_is_invalid_input_naming_the_variable() {
    let sandbox = Sandbox::new();
    let server = Server::answering(CAPITALS_ANSWERS);
    sandbox.write("qa.jsonl", CAPITALS_JSONL);
    let suite = capitals_suite("no-key", &format!("api_key_env = \"{KEY_VAR}_UNSET\""), FAST_RUN);
    sandbox.write_suite("suite.toml", &suite, &server.base_url());

    let output = sandbox.evalkit(&["run", "suite.toml"]);
    output.expect_code(2);
    assert!(output.stderr.contains(&format!("environment variable `{KEY_VAR}_UNSET` is not set")), "{}", output.stderr);
    let (line, column) = position_of(&suite, "api_key_env");
    assert!(
        output.stderr.contains(&format!("suite.toml:{line}:{column}")),
        "should point at `api_key_env`:\n{}",
        output.stderr
    );
    assert_eq!(server.request_count(), 0);
}

/// Every file under the run folder and the cache, and the terminal output,
/// must be free of `secrets`.
fn assert_written_nowhere(sandbox: &Sandbox, run_dir: &std::path::Path, output: &Output, secrets: &[&str]) {
    let mut files = files_under(run_dir);
    files.extend(files_under(&sandbox.path().join(".evalkit/cache")));
    for file in &files {
        let text = String::from_utf8_lossy(&std::fs::read(file).unwrap()).into_owned();
        for secret in secrets {
            assert!(!text.contains(secret), "{} contains a secret:\n{text}", file.display());
        }
    }
    for secret in secrets {
        assert!(!output.all().contains(secret), "a secret was printed:\n{}", output.all());
    }
}

#[test]
fn a_secret_echoed_in_an_error_body_is_redacted_everywhere() {
    let sandbox = Sandbox::new();
    // Some gateways quote the credential they refused.
    let server = Server::start(|request, _| {
        let echoed = format!(
            "Incorrect API key provided: {}. Header was {}",
            request.header("authorization").unwrap_or_default(),
            request.header("x-org-token").unwrap_or_default()
        );
        Reply::status(401, &echoed)
    });
    sandbox.write("qa.jsonl", CAPITALS_JSONL);
    let backend = format!("api_key_env = \"{KEY_VAR}\"\nheaders = {{ \"X-Org-Token\" = \"${{{HEADER_VAR}}}\" }}");
    let run = format!("{FAST_RUN}error_budget = 1.0\n");
    sandbox.write_suite("suite.toml", &capitals_suite("echo", &backend, &run), &server.base_url());
    let env = [(KEY_VAR, KEY), (HEADER_VAR, HEADER_SECRET)];

    let output = sandbox.evalkit_with_env(&["run", "suite.toml"], &env);
    let run_dir = output.run_dir(sandbox.path());
    assert!(server.request_count() >= 4, "every task asked once (401 is not retried)");
    let files: Vec<String> =
        files_under(&run_dir).iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
    for expected in ["records.jsonl", "report.html", "samples.csv", "junit.xml"] {
        assert!(files.iter().any(|f| f == expected), "{expected} missing from {files:?}");
    }
    assert_written_nowhere(&sandbox, &run_dir, &output, &[KEY, HEADER_SECRET]);
    let journal = std::fs::read_to_string(run_dir.join("records.jsonl")).unwrap();
    assert!(
        journal.contains("Incorrect API key provided: Bearer [REDACTED]. Header was [REDACTED]"),
        "the message is kept with the secrets replaced:\n{journal}"
    );
}

#[test]
fn configured_headers_never_follow_a_redirect_to_another_origin() {
    let sandbox = Sandbox::new();
    let elsewhere = Server::answering(CAPITALS_ANSWERS);
    let target = format!("{}/chat/completions", elsewhere.base_url());
    let server = Server::start(move |_, _| Reply::Status {
        code: 307,
        body: String::new(),
        headers: vec![("Location".to_owned(), target.clone())],
    });
    sandbox.write("qa.jsonl", CAPITALS_JSONL);
    let backend = format!("api_key_env = \"{KEY_VAR}\"\nheaders = {{ \"X-Org-Token\" = \"${{{HEADER_VAR}}}\" }}");
    let run = format!("{FAST_RUN}error_budget = 1.0\n");
    sandbox.write_suite("suite.toml", &capitals_suite("redirect", &backend, &run), &server.base_url());

    let output = sandbox.evalkit_with_env(&["run", "suite.toml"], &[(KEY_VAR, KEY), (HEADER_VAR, HEADER_SECRET)]);
    assert_eq!(elsewhere.request_count(), 0, "nothing may reach the other origin: {:?}", elsewhere.requests());
    assert_eq!(server.request_count(), 4, "a refused redirect is not retried");
    let journal = std::fs::read_to_string(output.run_dir(sandbox.path()).join("records.jsonl")).unwrap();
    assert!(journal.contains("another origin"), "the error says why:\n{journal}");
}
