//! Chat templates: the model's own Jinja template (GGUF
//! `tokenizer.chat_template`, or `chat_template` in tokenizer_config.json)
//! rendered with minijinja.
//!
//! Hugging Face templates are written for Python's Jinja2 and call a few
//! Python string methods (`.strip()`, `.startswith()`, ...); the common ones
//! are provided here so those templates render unchanged.

use minijinja::value::{Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};

use evalkit_model_api::Message;

/// A compiled chat template with the special tokens it may reference.
pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate").finish_non_exhaustive()
    }
}

impl ChatTemplate {
    /// Compile `source`. `bos_token`/`eos_token` are the texts the template sees.
    pub fn new(source: String, bos_token: String, eos_token: String) -> Result<Self, String> {
        let mut env = Environment::new();
        env.set_unknown_method_callback(python_methods);
        env.add_function("raise_exception", |message: String| -> Result<Value, Error> {
            Err(Error::new(ErrorKind::InvalidOperation, message))
        });
        env.add_template_owned("chat", source)
            .map_err(|e| format!("the model's chat template does not compile: {e}"))?;
        Ok(ChatTemplate { env, bos_token, eos_token })
    }

    /// The prompt text for `messages`, ending where the assistant's answer begins.
    pub fn render(&self, messages: &[Message]) -> Result<String, String> {
        let template = self.env.get_template("chat").map_err(|e| e.to_string())?;
        let messages: Vec<Value> = messages
            .iter()
            .map(|m| minijinja::context! { role => m.role.clone(), content => m.content.clone() })
            .collect();
        template
            .render(minijinja::context! {
                messages => messages,
                add_generation_prompt => true,
                bos_token => self.bos_token.clone(),
                eos_token => self.eos_token.clone(),
            })
            .map_err(|e| format!("the model's chat template failed: {e:#}"))
    }
}

/// The Python `str`/`dict` methods chat templates use most.
fn python_methods(_state: &mut minijinja::State, value: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    let arg = |i: usize| args.get(i).and_then(Value::as_str).map(str::to_owned);
    if let Some(s) = value.as_str() {
        let chars = arg(0);
        let trim_set = |c: char| chars.as_deref().map_or(c.is_whitespace(), |set| set.contains(c));
        return Ok(match method {
            "strip" => Value::from(s.trim_matches(trim_set)),
            "lstrip" => Value::from(s.trim_start_matches(trim_set)),
            "rstrip" => Value::from(s.trim_end_matches(trim_set)),
            "startswith" => Value::from(arg(0).is_some_and(|p| s.starts_with(&p))),
            "endswith" => Value::from(arg(0).is_some_and(|p| s.ends_with(&p))),
            "upper" => Value::from(s.to_uppercase()),
            "lower" => Value::from(s.to_lowercase()),
            "title" => Value::from(title_case(s)),
            "replace" => match (arg(0), arg(1)) {
                (Some(from), Some(to)) => Value::from(s.replace(&from, &to)),
                _ => return Err(Error::new(ErrorKind::MissingArgument, "replace(old, new)")),
            },
            "split" => {
                let parts: Vec<Value> = match arg(0) {
                    Some(sep) => s.split(sep.as_str()).map(Value::from).collect(),
                    None => s.split_whitespace().map(Value::from).collect(),
                };
                Value::from(parts)
            }
            _ => return Err(unknown(method)),
        });
    }
    if value.kind() == ValueKind::Map {
        return match method {
            "get" => {
                let found = args.first().map(|key| value.get_item(key)).transpose()?.filter(|v| !v.is_undefined());
                Ok(found.unwrap_or_else(|| args.get(1).cloned().unwrap_or(Value::from(()))))
            }
            "items" => {
                let mut items = Vec::new();
                for key in value.try_iter()? {
                    let item = value.get_item(&key)?;
                    items.push(Value::from(vec![key, item]));
                }
                Ok(Value::from(items))
            }
            "keys" => Ok(Value::from(value.try_iter()?.collect::<Vec<_>>())),
            _ => Err(unknown(method)),
        };
    }
    Err(unknown(method))
}

fn unknown(method: &str) -> Error {
    Error::new(
        ErrorKind::UnknownMethod,
        format!("the chat template calls `.{method}()`, which evalkit does not provide"),
    )
}

fn title_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        start = !c.is_alphanumeric();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(role: &str, content: &str) -> Message {
        Message { role: role.into(), content: content.into() }
    }

    /// Gemma's template, as shipped in Gemma 3 instruction-tuned GGUFs (abridged: no images).
    const GEMMA: &str = r#"{{ bos_token }}{%- if messages[0]['role'] == 'system' -%}{%- set first_user_prefix = messages[0]['content'] + '

' -%}{%- set loop_messages = messages[1:] -%}{%- else -%}{%- set first_user_prefix = "" -%}{%- set loop_messages = messages -%}{%- endif -%}{%- for message in loop_messages -%}{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}{{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}{%- endif -%}{%- if (message['role'] == 'assistant') -%}{%- set role = "model" -%}{%- else -%}{%- set role = message['role'] -%}{%- endif -%}{{ '<start_of_turn>' + role + '
' + (first_user_prefix if loop.first else "") }}{{ message['content'] | trim }}{{ '<end_of_turn>
' }}{%- endfor -%}{%- if add_generation_prompt -%}{{'<start_of_turn>model
'}}{%- endif -%}"#;

    #[test]
    fn renders_gemmas_template() {
        let template = ChatTemplate::new(GEMMA.into(), "<bos>".into(), "<eos>".into()).unwrap();
        let text = template.render(&[message("system", "Be brief."), message("user", " Capital of France? ")]).unwrap();
        assert_eq!(
            text,
            "<bos><start_of_turn>user\nBe brief.\n\nCapital of France?<end_of_turn>\n<start_of_turn>model\n"
        );
    }

    #[test]
    fn template_errors_are_reported_not_panicked() {
        let template = ChatTemplate::new(GEMMA.into(), "<bos>".into(), "<eos>".into()).unwrap();
        let error = template.render(&[message("assistant", "hi")]).unwrap_err();
        assert!(error.contains("must alternate"), "{error}");
    }

    #[test]
    fn python_string_methods_work() {
        let source = "{{ messages[0].content.strip() }}|{{ messages[0].content.startswith(' a') }}|{{ 'x,y'.split(',') | join('+') }}";
        let template = ChatTemplate::new(source.into(), String::new(), String::new()).unwrap();
        assert_eq!(template.render(&[message("user", " a b ")]).unwrap(), "a b|True|x+y");
    }
}
