//! Text normalisation applied before an answer is compared with a reference.
//!
//! The steps, and their order, are those of the official SQuAD evaluation
//! script's `normalize_answer` (lowercase, strip punctuation, drop articles,
//! collapse whitespace); [`Normalize`] lets a suite switch each one on or off,
//! and [`normalize_answer`] applies all four exactly as SQuAD does.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// Which normalisation steps to apply before comparing texts.
///
/// In a suite: `normalize = { case = true, whitespace = true, punctuation = false, articles = false }`;
/// omitted keys keep their defaults. With all four on this is SQuAD's
/// `normalize_answer` ([`Normalize::SQUAD`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Normalize {
    /// Lowercase both texts (full Unicode lowercasing, like Python's `str.lower`:
    /// `"ÉCOLE"` becomes `"école"`; no case folding, so `"ß"` stays `"ß"`).
    /// Type: bool. Default: `true`. Example: `case = false` for case-sensitive comparison.
    pub case: bool,
    /// Trim, and collapse every run of whitespace (Unicode, as Python's
    /// `str.split()` sees it) into one space.
    /// Type: bool. Default: `true`. Example: `whitespace = false` to compare verbatim.
    pub whitespace: bool,
    /// Remove ASCII punctuation (Python's `string.punctuation`:
    /// ``!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~``); other punctuation such as `“` or `—` stays.
    /// Type: bool. Default: `false`. Example: `punctuation = true` makes `"Paris."` equal `"paris"`.
    pub punctuation: bool,
    /// Replace the English articles `a`, `an` and `the` (whole words, any case)
    /// with a space.
    /// Type: bool. Default: `false`. Example: `articles = true` makes `"the Eiffel Tower"` equal `"Eiffel Tower"`.
    pub articles: bool,
}

impl Default for Normalize {
    fn default() -> Self {
        Normalize { case: true, whitespace: true, punctuation: false, articles: false }
    }
}

/// A "word" for article removal, as Python's `re` defines `\w` for `str`
/// patterns: letters, numbers (all of category N, e.g. `½`) and `_`. The
/// `regex` crate's own `\w`/`\b` also count combining marks and connector
/// punctuation as word characters, which would make `\b(a|an|the)\b` disagree
/// with SQuAD's script on inputs such as `"the\u{301}"`, so runs of word
/// characters are found explicitly and compared whole instead.
static WORD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[\p{L}\p{N}_]+").expect("constant pattern is valid"));

impl Normalize {
    /// Every step on: SQuAD's `normalize_answer`.
    pub const SQUAD: Normalize = Normalize { case: true, whitespace: true, punctuation: true, articles: true };

    /// Every step off: texts are compared verbatim.
    pub const NONE: Normalize = Normalize { case: false, whitespace: false, punctuation: false, articles: false };

    /// Apply the enabled steps, in SQuAD's order: case, punctuation, articles,
    /// whitespace. (Punctuation goes before articles, so `"an-apple"` becomes
    /// `"anapple"` and keeps its `an`, as in SQuAD.)
    pub fn apply(&self, text: &str) -> String {
        let mut text = if self.case { text.to_lowercase() } else { text.to_owned() };
        if self.punctuation {
            text.retain(|c| !c.is_ascii_punctuation());
        }
        if self.articles {
            text = remove_articles(&text);
        }
        if self.whitespace {
            text = collapse_whitespace(&text);
        }
        text
    }
}

/// SQuAD's `normalize_answer`: lowercase, remove ASCII punctuation, remove the
/// articles `a`/`an`/`the` as whole words, and collapse whitespace.
///
/// Matches the official SQuAD v1.1 and v2.0 evaluation scripts (they share
/// this function) character for character; `tests/squad_reference.rs` checks
/// it against values the script produced.
pub fn normalize_answer(text: &str) -> String {
    Normalize::SQUAD.apply(text)
}

/// Whitespace as Python's `str.isspace()` defines it, which `str.split()` uses:
/// Rust's `char::is_whitespace` plus the information separators U+001C–U+001F.
pub(crate) fn is_python_whitespace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `' '.join(text.split())`.
fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split(is_python_whitespace).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Python's `re.sub(r'\b(a|an|the)\b', ' ', text)`, except that articles are
/// matched in any case (SQuAD lowercases first, so this only matters with
/// `case = false`). A match of that pattern is always a whole run of word
/// characters, so comparing whole runs is equivalent.
fn remove_articles(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied_up_to = 0;
    for word in WORD.find_iter(text) {
        let w = word.as_str();
        if ["a", "an", "the"].iter().any(|article| w.eq_ignore_ascii_case(article)) {
            out.push_str(&text[copied_up_to..word.start()]);
            out.push(' ');
            copied_up_to = word.end();
        }
    }
    out.push_str(&text[copied_up_to..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_lowercase_and_collapse_whitespace_only() {
        let n = Normalize::default();
        assert_eq!(n.apply("  The  Paris.\n"), "the paris.");
    }

    #[test]
    fn none_leaves_text_alone() {
        assert_eq!(Normalize::NONE.apply(" The  Paris. "), " The  Paris. ");
    }

    #[test]
    fn squad_examples() {
        assert_eq!(normalize_answer("The Eiffel Tower!"), "eiffel tower");
        assert_eq!(normalize_answer("A cat, an owl and THE dog"), "cat owl and dog");
        assert_eq!(normalize_answer("theatre"), "theatre");
        assert_eq!(normalize_answer("an-apple"), "anapple");
        assert_eq!(normalize_answer("U.S.A."), "usa");
        assert_eq!(normalize_answer(""), "");
        assert_eq!(normalize_answer("the"), "");
    }

    #[test]
    fn only_ascii_punctuation_is_removed() {
        assert_eq!(normalize_answer("“quoted”—text"), "“quoted”—text");
        assert_eq!(normalize_answer("snake_case"), "snakecase");
    }

    #[test]
    fn unicode_whitespace_and_word_characters() {
        assert_eq!(normalize_answer("the\u{a0}cat\u{3000}sat"), "cat sat");
        assert_eq!(normalize_answer("the\u{1c}cat"), "cat");
        // Combining marks are not word characters for Python's `\b`.
        assert_eq!(normalize_answer("the\u{301} cat"), "\u{301} cat");
        // Numbers of any kind are word characters.
        assert_eq!(normalize_answer("the½ cat"), "the½ cat");
        assert_eq!(normalize_answer("ΟΔΥΣΣΕΥΣ"), "οδυσσευς");
    }

    #[test]
    fn articles_are_removed_in_any_case_without_lowercasing() {
        let n = Normalize { case: false, articles: true, ..Normalize::default() };
        assert_eq!(n.apply("The Cat and AN Owl"), "Cat and Owl");
    }

    #[test]
    fn article_removal_leaves_a_space_without_whitespace_collapsing() {
        let n = Normalize { articles: true, whitespace: false, ..Normalize::NONE };
        assert_eq!(n.apply("the cat"), "  cat");
    }

    #[test]
    fn parses_partial_tables_with_defaults() {
        #[derive(Debug, Deserialize)]
        struct Wrapper {
            normalize: Normalize,
        }
        let w: Wrapper = toml::from_str("normalize = { punctuation = true }").unwrap();
        assert_eq!(w.normalize, Normalize { punctuation: true, ..Normalize::default() });
        let err = toml::from_str::<Wrapper>("normalize = { lowercase = true }").unwrap_err();
        assert!(err.to_string().contains("unknown field `lowercase`"), "{err}");
    }
}
