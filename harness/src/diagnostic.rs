//! User-facing errors about input: what is wrong, where, and how to fix it.
//!
//! Rendered like a compiler error so the location is clickable in editors and
//! CI logs:
//!
//! ```text
//! error: unknown key `max_token` in `backends.gpt.params`
//!   --> suites/qa.toml:14:1
//!    |
//! 14 | max_token = 20
//!    | ^^^^^^^^^
//!    = hint: did you mean `max_tokens`?
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem with the user's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// What is wrong, as a lowercase fragment.
    pub message: String,
    /// The file it is in.
    pub file: Option<PathBuf>,
    /// 1-based line and column, when known.
    pub line: Option<usize>,
    /// 1-based column (characters).
    pub column: Option<usize>,
    /// The offending line's text, to show under the location.
    pub snippet: Option<String>,
    /// How many characters to underline at `column`.
    pub width: usize,
    /// How to fix it.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A problem with no location yet.
    pub fn new(message: impl Into<String>) -> Self {
        Diagnostic {
            message: message.into(),
            file: None,
            line: None,
            column: None,
            snippet: None,
            width: 1,
            hint: None,
        }
    }

    /// Attach the file.
    pub fn in_file(mut self, file: impl AsRef<Path>) -> Self {
        self.file = Some(file.as_ref().to_path_buf());
        self
    }

    /// Attach a line (and optionally a column).
    pub fn at(mut self, line: usize, column: Option<usize>) -> Self {
        self.line = Some(line);
        self.column = column;
        self
    }

    /// Show this source line under the location, underlining `width` characters.
    pub fn with_snippet(mut self, text: impl Into<String>, width: usize) -> Self {
        self.snippet = Some(text.into());
        self.width = width.max(1);
        self
    }

    /// Say how to fix it.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        let gutter = self.line.map_or(1, |line| line.to_string().len());
        let pad = " ".repeat(gutter);
        if let Some(file) = &self.file {
            let mut location = file.display().to_string();
            if let Some(line) = self.line {
                location.push_str(&format!(":{line}"));
                if let Some(column) = self.column {
                    location.push_str(&format!(":{column}"));
                }
            }
            writeln!(f, "{pad}--> {location}")?;
        }
        if let (Some(line), Some(snippet)) = (self.line, &self.snippet) {
            writeln!(f, "{pad} |")?;
            writeln!(f, "{line} | {snippet}")?;
            if let Some(column) = self.column {
                writeln!(f, "{pad} | {}{}", " ".repeat(column.saturating_sub(1)), "^".repeat(self.width))?;
            }
        }
        if let Some(hint) = &self.hint {
            writeln!(f, "{pad} = hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every problem found in one pass over the input; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl From<Diagnostic> for Diagnostics {
    fn from(diagnostic: Diagnostic) -> Self {
        Diagnostics(vec![diagnostic])
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{diagnostic}")?;
        }
        if self.0.len() > 1 {
            write!(f, "\n{} problems found", self.0.len())?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(word, candidate), candidate))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

/// `hint: did you mean ...?` text, or a list of what is allowed.
pub fn did_you_mean(word: &str, candidates: &[&str]) -> Option<String> {
    if let Some(best) = suggest(word, candidates.iter().copied()) {
        return Some(format!("did you mean `{best}`?"));
    }
    if candidates.is_empty() {
        return None;
    }
    let listed: Vec<String> = candidates.iter().map(|c| format!("`{c}`")).collect();
    Some(format!("expected one of {}", listed.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_a_compiler_error() {
        let diagnostic = Diagnostic::new("unknown key `max_token` in `backends.gpt.params`")
            .in_file("suite.toml")
            .at(14, Some(1))
            .with_snippet("max_token = 20", 9)
            .with_hint("did you mean `max_tokens`?");
        assert_eq!(
            diagnostic.to_string(),
            "error: unknown key `max_token` in `backends.gpt.params`\n  --> suite.toml:14:1\n   |\n14 | max_token = 20\n   | ^^^^^^^^^\n   = hint: did you mean `max_tokens`?\n"
        );
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(suggest("max_token", ["temperature", "max_tokens", "top_p"]), Some("max_tokens"));
        assert_eq!(suggest("zzz", ["temperature", "max_tokens"]), None);
        assert_eq!(did_you_mean("zzz", &["a", "b"]).unwrap(), "expected one of `a`, `b`");
    }
}
