//! An evalkit built without the `local` feature (no candle) refuses local
//! backends at the backend's `kind`, and runs HTTP backends as usual.

use crate::support::Sandbox;

#[test]
fn a_local_backend_is_refused_with_the_reason() {
    let sandbox = Sandbox::new();
    sandbox.write("data.jsonl", "{\"id\": \"1\", \"question\": \"2+2?\", \"answer\": \"4\"}\n");
    sandbox.write(
        "suite.toml",
        r#"[suite]
name = "no-local"

[datasets.data]
path = "data.jsonl"

[prompts.ask]
text = "{{ question }}"

[backends.model]
kind = "local"
model = "model.gguf"

[[variants]]
name = "local"
prompt = "ask"
backend = "model"

[[metrics]]
kind = "exact_match"
"#,
    );
    let output = sandbox.evalkit(&["validate", "suite.toml"]);
    output.expect_code(2);
    let text = output.all();
    assert!(
        text.contains("backend `model` is a local model, and this evalkit was built without local models"),
        "{text}"
    );
    assert!(text.contains("suite.toml:11:"), "the error points at the backend's `kind`: {text}");
}
