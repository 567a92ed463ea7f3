//! Finding the JSON in a model's output, which often wraps it in prose or a
//! Markdown code fence.

use serde_json::Value;

/// Where in the output the JSON was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FoundIn {
    /// The whole output, trimmed.
    Whole,
    /// The first ```` ```json ```` fenced block.
    FencedBlock,
    /// A `{...}` or `[...]` span.
    Span,
}

impl FoundIn {
    /// The name used in score details.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FoundIn::Whole => "whole",
            FoundIn::FencedBlock => "fenced_block",
            FoundIn::Span => "span",
        }
    }
}

/// The JSON in `text`, or the parse error of the most likely candidate.
pub(crate) fn find_json(text: &str, extract: bool) -> Result<(Value, FoundIn), (String, FoundIn)> {
    let whole_error = match serde_json::from_str(text.trim()) {
        Ok(value) => return Ok((value, FoundIn::Whole)),
        Err(err) => err.to_string(),
    };
    if !extract {
        return Err((whole_error, FoundIn::Whole));
    }
    // A fenced block is what the model said is its JSON: if it does not parse,
    // that is the answer, even if some other span would.
    if let Some(block) = fenced_json_block(text) {
        return serde_json::from_str(block.trim())
            .map(|value| (value, FoundIn::FencedBlock))
            .map_err(|err| (err.to_string(), FoundIn::FencedBlock));
    }
    let Some(start) = text.find(['{', '[']) else {
        return Err((whole_error, FoundIn::Whole));
    };
    let rest = &text[start..];
    let closer = if rest.starts_with('{') { '}' } else { ']' };
    // `closer` is one byte, so `..=end` ends on a character boundary.
    let span_error = match rest.rfind(closer).map(|end| serde_json::from_str(&rest[..=end])) {
        Some(Ok(value)) => return Ok((value, FoundIn::Span)),
        Some(Err(err)) => err.to_string(),
        None => format!("no closing '{closer}' after the first '{}'", &rest[..1]),
    };
    // "{...} and also {...}": the outermost span is not JSON, but its first value is.
    match serde_json::Deserializer::from_str(rest).into_iter::<Value>().next() {
        Some(Ok(value)) => Ok((value, FoundIn::Span)),
        _ => Err((span_error, FoundIn::Span)),
    }
}

/// The body of the first ```` ```json ```` fenced block (to the end of the text
/// if it is never closed, as when the output was cut off).
fn fenced_json_block(text: &str) -> Option<&str> {
    let mut from = 0;
    while let Some(offset) = text[from..].find("```") {
        let after = &text[from + offset + 3..];
        let line_end = after.find('\n').unwrap_or(after.len());
        if after[..line_end].trim().eq_ignore_ascii_case("json") {
            let body = &after[line_end..];
            return Some(body.find("```").map_or(body, |end| &body[..end]));
        }
        from += offset + 3;
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn found(text: &str) -> Option<(Value, FoundIn)> {
        find_json(text, true).ok()
    }

    fn failed_in(text: &str) -> Option<FoundIn> {
        find_json(text, true).err().map(|(_, tried)| tried)
    }

    #[test]
    fn whole_output_first() {
        assert_eq!(found(" {\"a\": [1, 2]}\n"), Some((json!({"a": [1, 2]}), FoundIn::Whole)));
        assert_eq!(found("42"), Some((json!(42), FoundIn::Whole)));
        assert_eq!(failed_in(""), Some(FoundIn::Whole));
        assert_eq!(failed_in("no json here"), Some(FoundIn::Whole));
    }

    #[test]
    fn fenced_blocks() {
        let text = "Here you go:\n```json\n{\"a\": 1}\n```\nAnything else?";
        assert_eq!(found(text), Some((json!({"a": 1}), FoundIn::FencedBlock)));
        let text = "Some ```python\nx = {}\n``` then ```JSON\n[1]\n```";
        assert_eq!(found(text), Some((json!([1]), FoundIn::FencedBlock)));
        // An unclosed fence (a cut-off output) runs to the end.
        assert_eq!(found("```json\n{\"cut\": \"off\"}"), Some((json!({"cut": "off"}), FoundIn::FencedBlock)));
        // A broken fenced block is the answer even when a later span parses.
        assert_eq!(failed_in("```json\n{broken}\n```\n{\"a\": 1}"), Some(FoundIn::FencedBlock));
    }

    #[test]
    fn spans() {
        let text = "The result is {\"a\": {\"b\": [1, 2]}}. Done.";
        assert_eq!(found(text), Some((json!({"a": {"b": [1, 2]}}), FoundIn::Span)));
        assert_eq!(found("list: [1, {\"x\": 2}] ok"), Some((json!([1, {"x": 2}]), FoundIn::Span)));
        // The outermost span is not JSON here, but the first value in it is.
        assert_eq!(found("first {\"a\": 1} then {\"b\": 2}"), Some((json!({"a": 1}), FoundIn::Span)));
        let (error, tried) = find_json("an open { and nothing else", true).unwrap_err();
        assert_eq!((error.as_str(), tried), ("no closing '}' after the first '{'", FoundIn::Span));
        assert_eq!(failed_in("ü { ü"), Some(FoundIn::Span));
    }

    #[test]
    fn extract_false_needs_the_whole_output() {
        assert!(find_json("```json\n{}\n```", false).is_err());
        assert_eq!(find_json("\n{}\n", false).ok(), Some((json!({}), FoundIn::Whole)));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = "[".repeat(100_000) + &"]".repeat(100_000);
        assert_eq!(failed_in(&text), Some(FoundIn::Span));
    }
}
