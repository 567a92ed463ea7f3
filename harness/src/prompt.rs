//! Prompt templates: a sample's fields in, chat messages or completion text out.
//!
//! Templates are minijinja (Jinja2) with strict undefined values, so a row
//! missing a field the template uses is an error naming the field and the row,
//! never a silently empty prompt.

use std::collections::BTreeSet;

use evalkit_model_api::{Message, Prompt};
use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Map, Value};

use crate::suite::schema::PromptSpec;

/// A compiled prompt: named, versioned, ready to render.
pub struct PromptTemplate {
    /// The prompt's name in the suite.
    pub name: String,
    /// Its `version`, if given.
    pub version: Option<String>,
    env: Environment<'static>,
    shape: Shape,
    /// Top-level variables the templates use, found once at compile time
    /// (rendering checks them for every sample).
    variables: BTreeSet<String>,
}

enum Shape {
    /// `system` + `user` templates, or a full message list: (role, template name).
    Chat(Vec<(String, String)>),
    /// A completion prompt.
    Completion(String),
}

/// A template that failed to compile: which key, and minijinja's explanation.
#[derive(Debug)]
pub struct TemplateError {
    /// The key inside `[prompts.<name>]` (`user`, `messages[1].content`, ...).
    pub key: Vec<crate::suite::source::Key>,
    /// What is wrong.
    pub message: String,
}

/// Why a prompt could not be rendered for one sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderError {
    /// The template uses fields the sample does not have.
    MissingFields(Vec<String>),
    /// Any other template error for this row (a filter failing on its values).
    Template(String),
    /// An error of the template itself, the same for every row: an unknown
    /// filter, test or function.
    Broken(String),
}

impl PromptTemplate {
    /// Compile a prompt's templates. Shape errors (neither or several of
    /// `user`/`messages`/`text`) are the suite checker's business; here the
    /// spec is assumed to have exactly one.
    pub fn compile(name: &str, spec: &PromptSpec) -> Result<Self, TemplateError> {
        use crate::suite::source::{key_path, Key};
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let mut add = |key: Vec<Key>, template_name: String, source: &str| -> Result<String, TemplateError> {
            env.add_template_owned(template_name.clone(), source.to_owned())
                .map_err(|e| TemplateError { key, message: describe_template_error(&e) })?;
            Ok(template_name)
        };
        let shape = if let Some(text) = &spec.text {
            Shape::Completion(add(key_path!["text"], "text".into(), text)?)
        } else if let Some(messages) = &spec.messages {
            let mut parts = Vec::new();
            for (i, message) in messages.iter().enumerate() {
                let template = add(key_path!["messages", i, "content"], format!("messages[{i}]"), &message.content)?;
                parts.push((message.role.clone(), template));
            }
            Shape::Chat(parts)
        } else {
            let mut parts = Vec::new();
            if let Some(system) = &spec.system {
                parts.push(("system".to_owned(), add(key_path!["system"], "system".into(), system)?));
            }
            let user = spec.user.as_deref().unwrap_or_default();
            parts.push(("user".to_owned(), add(key_path!["user"], "user".into(), user)?));
            Shape::Chat(parts)
        };
        let template_names: Vec<&str> = match &shape {
            Shape::Chat(parts) => parts.iter().map(|(_, t)| t.as_str()).collect(),
            Shape::Completion(t) => vec![t.as_str()],
        };
        let variables = template_names
            .into_iter()
            .filter_map(|t| env.get_template(t).ok())
            .flat_map(|t| t.undeclared_variables(false))
            .collect();
        Ok(PromptTemplate { name: name.to_owned(), version: spec.version.clone(), env, shape, variables })
    }

    /// Top-level variables the templates use (sample fields, `examples`).
    pub fn variables(&self) -> &BTreeSet<String> {
        &self.variables
    }

    /// Render for one sample. `examples` are the few-shot rows (may be empty).
    pub fn render(&self, fields: &Map<String, Value>, examples: &[&Map<String, Value>]) -> Result<Prompt, RenderError> {
        let missing: Vec<String> =
            self.variables.iter().filter(|name| !fields.contains_key(*name) && *name != "examples").cloned().collect();
        if !missing.is_empty() {
            return Err(RenderError::MissingFields(missing));
        }
        let mut context = fields.clone();
        context.insert("examples".into(), Value::Array(examples.iter().map(|e| Value::Object((*e).clone())).collect()));
        let render = |template: &str| -> Result<String, RenderError> {
            self.env.get_template(template).and_then(|t| t.render(minijinja::value::Serde(&context))).map_err(|e| {
                use minijinja::ErrorKind;
                let message = describe_template_error(&e);
                match e.kind() {
                    ErrorKind::UnknownFilter | ErrorKind::UnknownTest | ErrorKind::UnknownFunction => {
                        RenderError::Broken(message)
                    }
                    _ => RenderError::Template(message),
                }
            })
        };
        Ok(match &self.shape {
            Shape::Completion(template) => Prompt::Completion(render(template)?),
            Shape::Chat(parts) => Prompt::Chat(
                parts
                    .iter()
                    .map(|(role, template)| Ok(Message { role: role.clone(), content: render(template)? }))
                    .collect::<Result<_, RenderError>>()?,
            ),
        })
    }
}

/// minijinja's message with its line, without the noisy debug dump.
fn describe_template_error(error: &minijinja::Error) -> String {
    let mut message = error.detail().map_or_else(|| error.kind().to_string(), str::to_owned);
    if let Some(line) = error.line() {
        message.push_str(&format!(" (template line {line})"));
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(user: &str) -> PromptSpec {
        PromptSpec {
            version: None,
            system: Some("Be brief.".into()),
            user: Some(user.into()),
            messages: None,
            text: None,
            few_shot: None,
        }
    }

    fn fields(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn renders_system_and_user() {
        let template = PromptTemplate::compile("qa", &spec("Q: {{ question }}")).unwrap();
        let prompt = template.render(&fields(json!({"question": "2+2?"})), &[]).unwrap();
        assert_eq!(
            prompt,
            Prompt::Chat(vec![
                Message { role: "system".into(), content: "Be brief.".into() },
                Message { role: "user".into(), content: "Q: 2+2?".into() },
            ])
        );
    }

    #[test]
    fn names_missing_fields() {
        let template = PromptTemplate::compile("qa", &spec("{{ question }} {{ context }}")).unwrap();
        let error = template.render(&fields(json!({"question": "x"})), &[]).unwrap_err();
        assert_eq!(error, RenderError::MissingFields(vec!["context".into()]));
    }

    #[test]
    fn few_shot_examples_are_available() {
        let mut spec = spec("");
        spec.system = None;
        spec.user = None;
        spec.text = Some("{% for e in examples %}Q: {{ e.q }}\nA: {{ e.a }}\n{% endfor %}Q: {{ q }}\nA:".into());
        let template = PromptTemplate::compile("fs", &spec).unwrap();
        let shot = fields(json!({"q": "1+1", "a": "2"}));
        let prompt = template.render(&fields(json!({"q": "2+2"})), &[&shot]).unwrap();
        assert_eq!(prompt, Prompt::Completion("Q: 1+1\nA: 2\nQ: 2+2\nA:".into()));
    }

    #[test]
    fn syntax_errors_name_the_key() {
        let error = PromptTemplate::compile("qa", &spec("{{ question ")).err().unwrap();
        assert_eq!(error.key, crate::suite::source::key_path!["user"]);
        assert!(error.message.contains("line 1"), "{}", error.message);
    }
}
