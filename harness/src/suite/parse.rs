//! TOML text → [`SuiteFile`], with errors that point at the offending key.

use std::ops::Range;

use super::schema::SuiteFile;
use super::source::{display_path, Key, SourceFile};
use crate::diagnostic::{did_you_mean, Diagnostic};

/// Deserialize a suite file. The error names file, line, column and key.
pub fn parse(source: &SourceFile) -> Result<SuiteFile, Diagnostic> {
    toml::from_str::<SuiteFile>(&source.text).map_err(|error| describe(source, &error))
}

/// Turn a toml/serde error into a diagnostic with a location and a hint.
fn describe(source: &SourceFile, error: &toml::de::Error) -> Diagnostic {
    let raw = error.message().trim();
    let span = error.span().unwrap_or(0..0);
    let path = source.path_at(span.start);
    let table = |path: &[Key]| -> String {
        if path.is_empty() {
            "the top level".to_owned()
        } else {
            format!("`{}`", display_path(path))
        }
    };

    let (message, hint, span) = if let Some(rest) = raw.strip_prefix("unknown field ") {
        let field = first_quoted(rest).unwrap_or_default();
        let expected = expected_names(rest);
        let span = refine_to_key(source, span, &field);
        let key_path = source.path_at(span.start);
        let parent = parent_of(&key_path, &field);
        let hint = did_you_mean(&field, &expected);
        (format!("unknown key `{field}` in {}", table(&parent)), hint, span)
    } else if let Some(rest) = raw.strip_prefix("unknown variant ") {
        let value = first_quoted(rest).unwrap_or_default();
        let expected = expected_names(rest);
        (format!("unknown value `{value}` for `{}`", display_path(&path)), did_you_mean(&value, &expected), span)
    } else if let Some(rest) = raw.strip_prefix("missing field ") {
        let field = first_quoted(rest).unwrap_or_default();
        // toml reports a missing top-level table at the first table of the file.
        let path = if field == "suite" { Vec::new() } else { path };
        let hint = Some(match (path.is_empty(), field.as_str()) {
            (true, "suite") => "every suite starts with `[suite]` and its name, e.g. `[suite]` then \
                                `name = \"capitals\"` (see docs/suite.md)"
                .to_owned(),
            (true, _) => format!("add a `[{field}]` table (see docs/suite.md)"),
            (false, _) => format!("add `{field} = ...` to {}", table(&path)),
        });
        (format!("missing key `{field}` in {}", table(&path)), hint, span)
    } else if let Some(rest) = raw.strip_prefix("invalid type: ") {
        let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, "another type"));
        let span = refine_to_value(source, span, found);
        let path = source.path_at(span.start);
        (format!("wrong type for `{}`: expected {expected}, found {found}", display_path(&path)), None, span)
    } else if let Some(rest) = raw.strip_prefix("invalid value: ") {
        let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, "another value"));
        (format!("invalid value for `{}`: expected {expected}, found {found}", display_path(&path)), None, span)
    } else if path.is_empty() || raw.contains('\n') || !span_is_value(source, &span) {
        // A syntax error: toml's own wording is precise ("invalid table header", ...).
        (format!("invalid TOML: {}", raw.replace('\n', "; ")), None, span)
    } else {
        (format!("{raw} (at `{}`)", display_path(&path)), None, span)
    };
    locate(source, message, &span, hint)
}

/// Attach file, line, column and the source line.
pub(crate) fn locate(source: &SourceFile, message: String, span: &Range<usize>, hint: Option<String>) -> Diagnostic {
    let location = source.location(span.start);
    let line_text = source.line_text(location.line);
    let available = line_text.chars().count().saturating_sub(location.column - 1);
    let width = source.text.get(span.clone()).map_or(1, |s| s.lines().next().unwrap_or("").chars().count());
    let mut diagnostic = Diagnostic::new(message)
        .in_file(&source.path)
        .at(location.line, Some(location.column))
        .with_snippet(line_text, width.min(available).max(1));
    if let Some(hint) = hint {
        diagnostic = diagnostic.with_hint(hint);
    }
    diagnostic
}

/// serde reports unknown fields of some tables (e.g. `kind`-selected ones)
/// against the whole table; find the key itself inside that span.
fn refine_to_key(source: &SourceFile, span: Range<usize>, field: &str) -> Range<usize> {
    let Some(text) = source.text.get(span.clone()) else { return span };
    if text.trim_start().starts_with(field) {
        return span;
    }
    // A table's span may be only its `[header]`: search on to the next header.
    let end = source.text[span.end..].find("\n[").map_or(source.text.len(), |i| span.end + i);
    let Some(text) = source.text.get(span.start..end) else { return span };
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let rest = trimmed.strip_prefix(field).or_else(|| trimmed.strip_prefix(&format!("\"{field}\"")));
        if let Some(rest) = rest {
            if rest.trim_start().starts_with('=') {
                let start = span.start + offset + (line.len() - trimmed.len());
                return start..start + field.len();
            }
        }
        // Inline tables: `params = { max_token = 5 }`.
        if let Some(at) = line.find(&format!(" {field} =")).or_else(|| line.find(&format!("{{{field} ="))) {
            let start = span.start + offset + at + 1;
            return start..start + field.len();
        }
        offset += line.len();
    }
    span
}

/// serde reports a wrong type inside a `kind`-selected table (a backend's
/// `params = { temperature = "hot" }`) against the whole table; find the one
/// value in that table written as `found` describes (`string "hot"`,
/// `integer `5``, ...) and point at it. Left as it is when that is not one
/// place.
fn refine_to_value(source: &SourceFile, span: Range<usize>, found: &str) -> Range<usize> {
    let literal = if let Some(text) = found.strip_prefix("string ") {
        text.to_owned()
    } else if let Some(rest) = ["integer ", "floating point ", "boolean "].iter().find_map(|p| found.strip_prefix(p)) {
        rest.trim_matches('`').to_owned()
    } else {
        return span;
    };
    let Some(header) = source.text.get(span.clone()) else { return span };
    if !header.trim_start().starts_with('[') {
        return span;
    }
    let end = source.text[span.end..].find("\n[").map_or(source.text.len(), |i| span.end + i);
    let region = &source.text[span.start..end];
    let mut found_at = region.match_indices(literal.as_str()).filter(|(at, _)| {
        // A value follows `=`, `[`, `,` or `{` (spaces aside), never a key.
        let before = region[..*at].trim_end();
        before.ends_with('=') || before.ends_with('[') || before.ends_with(',') || before.ends_with('{')
    });
    match (found_at.next(), found_at.next()) {
        (Some((at, _)), None) => span.start + at..span.start + at + literal.len(),
        _ => span,
    }
}

/// The table containing `field`, given the path to (or into) it.
fn parent_of(path: &[Key], field: &str) -> Vec<Key> {
    match path.last() {
        Some(Key::Name(name)) if name == field => path[..path.len() - 1].to_vec(),
        _ => path.to_vec(),
    }
}

fn span_is_value(source: &SourceFile, span: &Range<usize>) -> bool {
    span.end > span.start && span.end <= source.text.len()
}

/// The first `quoted` name in serde's message.
fn first_quoted(text: &str) -> Option<String> {
    let start = text.find('`')? + 1;
    let end = start + text[start..].find('`')?;
    Some(text[start..end].to_owned())
}

/// The names serde lists after "expected".
fn expected_names(text: &str) -> Vec<&str> {
    let Some((_, expected)) = text.split_once("expected") else { return Vec::new() };
    expected.split('`').skip(1).step_by(2).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_for(text: &str) -> String {
        let source = SourceFile::new("suite.toml", text.to_owned());
        parse(&source).unwrap_err().to_string()
    }

    const HEAD: &str = "[suite]\nname = \"t\"\n\n";

    #[test]
    fn unknown_key_in_plain_table() {
        let text = format!("{HEAD}[run]\nrepeat = 3\n");
        assert_eq!(
            error_for(&text),
            "error: unknown key `repeat` in `run`\n --> suite.toml:5:1\n  |\n5 | repeat = 3\n  | ^^^^^^\n  = hint: did you mean `repeats`?\n"
        );
    }

    #[test]
    fn unknown_key_in_kind_selected_table() {
        let text = format!(
            "{HEAD}[backends.gpt]\nkind = \"openai\"\nbase_url = \"http://x/v1\"\nmodel = \"m\"\nmax_concurency = 2\n"
        );
        let message = error_for(&text);
        assert!(
            message.starts_with("error: unknown key `max_concurency` in `backends.gpt`\n --> suite.toml:8:1\n"),
            "{message}"
        );
        assert!(message.contains("did you mean `max_concurrency`?"), "{message}");
    }

    #[test]
    fn unknown_key_in_inline_table() {
        let text = format!(
            "{HEAD}[[variants]]\nname = \"a\"\nprompt = \"p\"\nbackend = \"b\"\nparams = {{ max_token = 5 }}\n"
        );
        let message = error_for(&text);
        assert!(message.contains("unknown key `max_token` in `variants[0].params`"), "{message}");
        assert!(message.contains("suite.toml:8:12"), "{message}");
        assert!(message.contains("did you mean `max_tokens`?"), "{message}");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let message = error_for(&format!("{HEAD}[run]\nrepeats = \"3\"\n"));
        assert!(
            message.starts_with(
                "error: wrong type for `run.repeats`: expected u32, found string \"3\"\n --> suite.toml:5:11"
            ),
            "{message}"
        );
    }

    #[test]
    fn a_wrong_type_inside_a_backend_points_at_the_value() {
        let text = format!(
            "{HEAD}[backends.b]\nkind = \"openai\"\nbase_url = \"http://x/v1\"\nmodel = \"m\"\nparams = {{ temperature = \"hot\" }}\n"
        );
        let message = error_for(&text);
        assert!(message.contains("wrong type for `backends.b.params.temperature`"), "{message}");
        assert!(message.contains("suite.toml:8:26"), "{message}");
    }

    #[test]
    fn a_missing_suite_table_says_how_to_start() {
        let message = error_for("[run]\nrepeats = 1\n");
        assert!(message.contains("missing key `suite` in the top level"), "{message}");
        assert!(message.contains("every suite starts with `[suite]`"), "{message}");
    }

    #[test]
    fn unknown_backend_kind() {
        let message = error_for(&format!("{HEAD}[backends.gpt]\nkind = \"opanai\"\n"));
        assert!(message.contains("unknown value `opanai`"), "{message}");
        assert!(message.contains("did you mean `openai`?"), "{message}");
    }

    #[test]
    fn unknown_paired_test() {
        let message = error_for(&format!("{HEAD}[report]\npaired_test = \"wilcoxn\"\n"));
        assert!(message.contains("unknown value `wilcoxn` for `report.paired_test`"), "{message}");
        assert!(message.contains("did you mean `wilcoxon`?"), "{message}");
    }

    #[test]
    fn missing_key() {
        let message = error_for("[suite]\ndescription = \"x\"\n");
        assert!(message.starts_with("error: missing key `name` in `suite`\n --> suite.toml:1:1"), "{message}");
    }

    #[test]
    fn syntax_error() {
        let message = error_for("[suite\nname = 1\n");
        assert!(message.starts_with("error: invalid TOML"), "{message}");
        assert!(message.contains("suite.toml:1:"), "{message}");
    }
}
