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
