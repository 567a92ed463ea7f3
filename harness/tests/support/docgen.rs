//! What the two doc-page generators share: harness/tests/suite_docs.rs (the
//! key tables of docs/suite.md) and reports/record/tests/results_docs.rs (the
//! field tables of docs/results.md) both include this file with
//! `#[path = "…/support/docgen.rs"] mod docgen;`, so neither depends on the
//! other's crate and both stay std-only and buildable with plain `rustc`.
//!
//! It holds finding the repository root, reading Rust source as text (serde
//! attributes, the attributes and doc comment above an item, serde's
//! `rename_all`), Markdown helpers, and the generated blocks of a page:
//! parsing the markers
//!
//! ```text
//! <!-- generated from <file>::<Type> by <generator>; do not edit -->
//! <!-- end generated -->
//! ```
//!
//! and comparing each block with what the generator renders for it, either
//! failing with the stale blocks or, with `EVALKIT_BLESS=1`, rewriting the
//! page. What a generator reads and how it renders a block stay in the
//! generator. The `cli` test binary's `mod support` does not include this
//! file; every item here is used by both generators.

use std::path::{Path, PathBuf};

/// How every generated block starts: this, `<file>::<Type>`, then the page's
/// [`GeneratedDoc::start_tail`].
pub(crate) const START: &str = "<!-- generated from ";
/// The line that ends every generated block.
pub(crate) const END: &str = "<!-- end generated -->";

/// The repository root, from `CARGO_MANIFEST_DIR` (at run time, else at build
/// time), which must be the folder `crate_dir` (relative to the root) of a
/// checkout.
pub(crate) fn repo_root(crate_dir: &str) -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .or_else(|| option_env!("CARGO_MANIFEST_DIR").map(PathBuf::from))
        .unwrap_or_else(|| panic!("set CARGO_MANIFEST_DIR to the {crate_dir} folder"));
    let root = Path::new(crate_dir).components().fold(manifest.clone(), |root, _| root.join(".."));
    assert!(
        root.join(crate_dir).join("Cargo.toml").is_file(),
        "CARGO_MANIFEST_DIR={} is not the {crate_dir} folder of a checkout",
        manifest.display()
    );
    root
}

/// The text of `file`, relative to the repository root.
pub(crate) fn read(root: &Path, file: &str) -> String {
    std::fs::read_to_string(root.join(file)).unwrap_or_else(|e| panic!("cannot read {file}: {e}"))
}

// ---------------------------------------------------------------------------
// Reading Rust source as text.

/// The arguments of every `#[serde(...)]` among `attrs`, split at top-level commas.
pub(crate) fn serde_args(attrs: &[String]) -> Vec<String> {
    let mut args = Vec::new();
    for attr in attrs {
        let compact: String = attr.split_whitespace().collect::<Vec<_>>().join(" ");
        let Some(inner) = compact.strip_prefix("#[serde(").and_then(|s| s.strip_suffix(")]")) else { continue };
        let (mut depth, mut quoted, mut current) = (0i32, false, String::new());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' if quoted => {
                    current.push(c);
                    if let Some(next) = chars.next() {
                        current.push(next);
                    }
                    continue;
                }
                '"' => quoted = !quoted,
                '(' if !quoted => depth += 1,
                ')' if !quoted => depth -= 1,
                ',' if !quoted && depth == 0 => {
                    args.push(current.trim().to_owned());
                    current.clear();
                    continue;
                }
                _ => {}
            }
            current.push(c);
        }
        if !current.trim().is_empty() {
            args.push(current.trim().to_owned());
        }
    }
    args
}

/// The string value of `key = "..."` among serde arguments.
pub(crate) fn serde_value(args: &[String], key: &str) -> Option<String> {
    args.iter().find_map(|arg| {
        let (k, v) = arg.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// Whether serde arguments hold `key`, alone or as `key = …`.
pub(crate) fn serde_flag(args: &[String], key: &str) -> bool {
    args.iter().any(|arg| arg == key || arg.split_once('=').is_some_and(|(k, _)| k.trim() == key))
}

/// Whether `text` closes every bracket and string it opens (so an attribute
/// that rustfmt spread over several lines is complete).
pub(crate) fn balanced(text: &str) -> bool {
    let (mut depth, mut quoted, mut escaped) = (0i32, false, false);
    for c in text.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '[' | '(' if !quoted => depth += 1,
            ']' | ')' if !quoted => depth -= 1,
            _ => {}
        }
    }
    depth == 0 && !quoted
}

/// The attributes (`#[derive(...)]`, `#[serde(...)]`, also when rustfmt
/// spreads one over several lines) and the doc comment written straight above
/// `lines[item]`.
pub(crate) fn outer(lines: &[&str], item: usize) -> (Vec<String>, Vec<String>) {
    let mut above = item;
    while above > 0 && lines[above - 1].starts_with(['#', ' ', ')', ']']) && !lines[above - 1].trim().is_empty() {
        above -= 1;
    }
    let mut attrs = Vec::new();
    let mut current = String::new();
    for line in &lines[above..item] {
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(line.trim());
        if balanced(&current) {
            attrs.push(std::mem::take(&mut current));
        }
    }
    let mut first_doc = above;
    while first_doc > 0 && lines[first_doc - 1].starts_with("///") {
        first_doc -= 1;
    }
    let docs = lines[first_doc..above]
        .iter()
        .map(|line| {
            let doc = &line["///".len()..];
            doc.strip_prefix(' ').unwrap_or(doc).to_owned()
        })
        .collect();
    (attrs, docs)
}

/// serde's `rename_all` applied to a Rust name.
pub(crate) fn rename(name: &str, rule: Option<&str>) -> Result<String, String> {
    Ok(match rule {
        None => name.to_owned(),
        Some("lowercase") => name.to_lowercase(),
        Some("snake_case") => {
            let mut out = String::new();
            for (i, c) in name.chars().enumerate() {
                if c.is_uppercase() {
                    if i > 0 {
                        out.push('_');
                    }
                    out.extend(c.to_lowercase());
                } else {
                    out.push(c);
                }
            }
            out
        }
        Some(other) => {
            return Err(format!(
                "serde's rename_all = \"{other}\" is not supported; teach harness/tests/support/docgen.rs"
            ))
        }
    })
}

// ---------------------------------------------------------------------------
// Markdown.

/// Doc lines as one line of text (paragraphs joined by a space).
pub(crate) fn join(lines: &[String]) -> String {
    lines.iter().map(|line| line.trim()).filter(|line| !line.is_empty()).collect::<Vec<_>>().join(" ")
}

/// `text` made safe for a table cell.
pub(crate) fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

// ---------------------------------------------------------------------------
// The generated blocks of a page.

/// A page with generated blocks, and the generator that keeps it up to date.
pub(crate) struct GeneratedDoc {
    /// The page, relative to the repository root.
    pub(crate) doc: &'static str,
    /// What ends a start marker: ` by <generator>; do not edit -->`.
    pub(crate) start_tail: &'static str,
    /// The command that regenerates the page.
    pub(crate) bless: &'static str,
}

/// One generated block of a page.
#[derive(Debug)]
pub(crate) struct Block {
    /// The file the type is defined in, relative to the repository root.
    pub(crate) file: String,
    /// The type's name.
    pub(crate) name: String,
    /// 1-based line of the start marker.
    pub(crate) line: usize,
    /// Byte range of the content between the marker lines.
    pub(crate) content: std::ops::Range<usize>,
}

impl GeneratedDoc {
    /// The page's text and its blocks; panics when the markers are broken or
    /// there are none.
    #[track_caller]
    pub(crate) fn load(&self, root: &Path) -> (String, Vec<Block>) {
        let doc = read(root, self.doc);
        let blocks = self.blocks(&doc).unwrap_or_else(|e| panic!("{e}"));
        assert!(!blocks.is_empty(), "{} has no generated blocks", self.doc);
        (doc, blocks)
    }

    fn blocks(&self, doc: &str) -> Result<Vec<Block>, String> {
        let (page, tail) = (self.doc, self.start_tail);
        let mut blocks = Vec::new();
        let mut offset = 0;
        let mut open: Option<(String, String, usize, usize)> = None;
        for (number, line) in doc.split_inclusive('\n').enumerate() {
            let start = offset;
            offset += line.len();
            let text = line.trim_end();
            if let Some(rest) = text.strip_prefix(START) {
                if open.is_some() {
                    return Err(format!("{page}:{}: a generated block starts inside another", number + 1));
                }
                let source = rest
                    .strip_suffix(tail)
                    .ok_or_else(|| format!("{page}:{}: a start marker must end with `{tail}`", number + 1))?;
                let (file, name) = source
                    .split_once("::")
                    .ok_or_else(|| format!("{page}:{}: expected `<file>::<Type>`, found `{source}`", number + 1))?;
                open = Some((file.to_owned(), name.to_owned(), number + 1, offset));
            } else if text == END {
                let (file, name, line, from) =
                    open.take().ok_or_else(|| format!("{page}:{}: `{END}` without a start marker", number + 1))?;
                blocks.push(Block { file, name, line, content: from..start });
            }
        }
        match open {
            Some((file, name, line, _)) => Err(format!("{page}:{line}: the block for {file}::{name} has no `{END}`")),
            None => Ok(blocks),
        }
    }

    /// Renders every block of `doc` with `expected` and fails when one is
    /// stale, or, with `EVALKIT_BLESS=1`, writes the regenerated page instead.
    /// A block `expected` cannot render fails the test (under `heading`)
    /// either way.
    #[track_caller]
    pub(crate) fn check(
        &self,
        root: &Path,
        doc: &str,
        blocks: &[Block],
        heading: &str,
        mut expected: impl FnMut(&Block) -> Result<String, String>,
    ) {
        let page = self.doc;
        let mut updated = String::with_capacity(doc.len());
        let (mut copied, mut stale, mut problems) = (0, Vec::new(), Vec::new());
        for block in blocks {
            let expected = match expected(block) {
                Ok(text) => text,
                Err(problem) => {
                    problems.push(problem);
                    continue;
                }
            };
            updated.push_str(&doc[copied..block.content.start]);
            updated.push_str(&expected);
            copied = block.content.end;
            let current = &doc[block.content.clone()];
            if current != expected {
                let first = current.lines().zip(expected.lines()).find(|(a, b)| a != b);
                let detail = match first {
                    Some((now, want)) => format!("\n    now:    {now}\n    wanted: {want}"),
                    None => " (lines added or removed)".to_owned(),
                };
                stale.push(format!("{}::{} (at {page}:{}){detail}", block.file, block.name, block.line));
            }
        }
        updated.push_str(&doc[copied..]);
        assert!(problems.is_empty(), "{heading}:\n{}", problems.join("\n"));
        if stale.is_empty() {
            return;
        }
        if std::env::var_os("EVALKIT_BLESS").is_some_and(|v| v == "1") {
            std::fs::write(root.join(page), updated).unwrap_or_else(|e| panic!("cannot write {page}: {e}"));
            eprintln!("regenerated {} block(s) of {page}", stale.len());
            return;
        }
        panic!("{page} is stale; regenerate it with `{}`. Stale blocks:\n  {}", self.bless, stale.join("\n  "));
    }

    /// How to add a block for `file::name`, for messages.
    pub(crate) fn add_marker(&self, file: &str, name: &str) -> String {
        format!("add `{START}{file}::{name}{}` and `{END}` to {}, then run `{}`", self.start_tail, self.doc, self.bless)
    }
}
