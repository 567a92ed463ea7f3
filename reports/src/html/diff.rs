//! Word-level diff of a variant's output against the baseline's, for the
//! sample explorer.
//!
//! Words are whitespace-separated tokens; the longest common subsequence of
//! the two word lists decides what is kept, inserted or deleted. The pieces
//! keep the texts' own whitespace, so the kept and inserted pieces joined are
//! exactly the new text: the page shows the plain output by hiding deleted
//! pieces, with no second copy of the text.
//!
//! LCS needs a table of `old words × new words` cells, so the common prefix and
//! suffix are cut off first (most outputs that differ share much of their
//! text), and a diff whose remaining table would exceed [`MAX_CELLS`] is not
//! computed at all: the report then shows the output without a diff rather
//! than spend seconds or megabytes on one cell of a thousand-row page.

use serde::Serialize;

/// Largest LCS table (cells) computed for one diff.
pub(crate) const MAX_CELLS: usize = 250_000;

/// What happened to a piece of text, as the CSS class the template gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Change {
    /// In both texts.
    Same,
    /// Only in the new text.
    Ins,
    /// Only in the old text.
    Del,
}

/// A run of consecutive words with the same [`Change`]; `text` is a slice of
/// the text it came from, whitespace included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Piece<'a> {
    pub(crate) change: Change,
    pub(crate) text: &'a str,
}

/// One word and the whitespace after it, as byte offsets into its text.
#[derive(Debug, Clone, Copy)]
struct Word {
    start: usize,
    word_end: usize,
    end: usize,
}

/// The words of `text` after any leading whitespace, which is returned as the
/// offset where the first word starts.
fn words(text: &str) -> (usize, Vec<Word>) {
    let mut words = Vec::new();
    let mut current: Option<(usize, Option<usize>)> = None; // (start, end of word once whitespace seen)
    let lead = text.len() - text.trim_start().len();
    for (at, c) in text.char_indices().skip_while(|&(at, _)| at < lead) {
        match (&mut current, c.is_whitespace()) {
            (None, _) => current = Some((at, None)),
            (Some((_, word_end @ None)), true) => *word_end = Some(at),
            (Some((start, Some(word_end))), false) => {
                words.push(Word { start: *start, word_end: *word_end, end: at });
                current = Some((at, None));
            }
            _ => {}
        }
    }
    if let Some((start, word_end)) = current {
        words.push(Word { start, word_end: word_end.unwrap_or(text.len()), end: text.len() });
    }
    (lead, words)
}

/// The diff of `new` against `old`, or `None` when it would cost more than
/// [`MAX_CELLS`]. Kept pieces carry `new`'s text, deleted ones `old`'s.
pub(crate) fn word_diff<'a>(old: &'a str, new: &'a str) -> Option<Vec<Piece<'a>>> {
    let (_, a) = words(old);
    let (new_lead, b) = words(new);
    let same = |i: usize, j: usize| old[a[i].start..a[i].word_end] == new[b[j].start..b[j].word_end];

    let prefix = (0..a.len().min(b.len())).take_while(|&k| same(k, k)).count();
    let suffix = (0..a.len().min(b.len()) - prefix).take_while(|&k| same(a.len() - 1 - k, b.len() - 1 - k)).count();
    let (n, m) = (a.len() - prefix - suffix, b.len() - prefix - suffix);
    if n.saturating_mul(m) > MAX_CELLS {
        return None;
    }

    // lcs[i][j]: length of the LCS of the middle words a[i..] and b[j..].
    let width = m + 1;
    let mut lcs = vec![0u32; (n + 1) * width];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i * width + j] = if same(prefix + i, prefix + j) {
                lcs[(i + 1) * width + j + 1] + 1
            } else {
                lcs[(i + 1) * width + j].max(lcs[i * width + j + 1])
            };
        }
    }

    let mut out = Pieces { old, new, runs: Vec::new() };
    if new_lead > 0 {
        out.push(Change::Same, 0, new_lead);
    }
    for word in &b[..prefix] {
        out.push(Change::Same, word.start, word.end);
    }
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        let (ai, bj) = (prefix + i, prefix + j);
        if i < n && j < m && same(ai, bj) {
            out.push(Change::Same, b[bj].start, b[bj].end);
            (i, j) = (i + 1, j + 1);
        } else if j == m || (i < n && lcs[(i + 1) * width + j] >= lcs[i * width + j + 1]) {
            out.push(Change::Del, a[ai].start, a[ai].end);
            i += 1;
        } else {
            out.push(Change::Ins, b[bj].start, b[bj].end);
            j += 1;
        }
    }
    for word in &b[b.len() - suffix..] {
        out.push(Change::Same, word.start, word.end);
    }
    Some(out.finish())
}

/// Pieces under construction, as byte ranges of one of the two texts: a word
/// that continues the last piece (same change, adjacent bytes of the same
/// text) extends it instead of adding a span.
struct Pieces<'a> {
    old: &'a str,
    new: &'a str,
    /// (change, byte range); `Del` ranges are in `old`, the others in `new`.
    runs: Vec<(Change, usize, usize)>,
}

impl<'a> Pieces<'a> {
    fn push(&mut self, change: Change, start: usize, end: usize) {
        match self.runs.last_mut() {
            Some((last, _, last_end)) if *last == change && *last_end == start => *last_end = end,
            _ => self.runs.push((change, start, end)),
        }
    }

    fn finish(self) -> Vec<Piece<'a>> {
        let text = |change| if change == Change::Del { self.old } else { self.new };
        self.runs.iter().map(|&(change, start, end)| Piece { change, text: &text(change)[start..end] }).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(pieces: &[Piece<'_>]) -> String {
        pieces
            .iter()
            .map(|p| match p.change {
                Change::Same => p.text.to_owned(),
                Change::Ins => format!("[+{}]", p.text),
                Change::Del => format!("[-{}]", p.text),
            })
            .collect()
    }

    /// Kept and inserted pieces are the new text, byte for byte.
    fn new_text(pieces: &[Piece<'_>]) -> String {
        pieces.iter().filter(|p| p.change != Change::Del).map(|p| p.text).collect()
    }

    #[test]
    fn marks_inserted_and_deleted_words() {
        let diff = word_diff("The capital is Paris.", "The capital of France is Paris!").unwrap();
        assert_eq!(render(&diff), "The capital [+of France ]is [-Paris.][+Paris!]");
        assert_eq!(new_text(&diff), "The capital of France is Paris!");
    }

    #[test]
    fn identical_texts_are_one_piece() {
        let diff = word_diff("a  b\nc", "a  b\nc").unwrap();
        assert_eq!(diff, vec![Piece { change: Change::Same, text: "a  b\nc" }]);
    }

    #[test]
    fn whitespace_of_the_new_text_is_kept() {
        for (old, new) in [("x y", "  x\n\ny  "), ("", "  a b "), ("a b c", ""), ("é ü", "ü é ü"), ("", "")] {
            let diff = word_diff(old, new).unwrap();
            assert_eq!(new_text(&diff), new, "{old:?} → {new:?}: {diff:?}");
            let deleted: String = diff.iter().filter(|p| p.change == Change::Del).map(|p| p.text).collect();
            assert!(deleted.split_whitespace().all(|w| old.split_whitespace().any(|o| o == w)));
        }
    }

    #[test]
    fn uses_a_longest_common_subsequence() {
        let diff = word_diff("a b c d e", "a x c d y").unwrap();
        let kept: Vec<&str> =
            diff.iter().filter(|p| p.change == Change::Same).flat_map(|p| p.text.split_whitespace()).collect();
        assert_eq!(kept, ["a", "c", "d"]);
    }

    #[test]
    fn long_different_texts_are_not_diffed() {
        let old: String = (0..1000).map(|i| format!("a{i} ")).collect();
        let new: String = (0..1000).map(|i| format!("b{i} ")).collect();
        assert!(word_diff(&old, &new).is_none());
        // A long text with a small change is cheap once prefix and suffix are cut.
        let edited = old.replacen("a500 ", "changed ", 1);
        let diff = word_diff(&old, &edited).unwrap();
        assert_eq!(diff.len(), 4, "{diff:?}");
        assert_eq!(new_text(&diff), edited);
    }
}
