//! docs/results.md's field tables are generated from the doc comments of the
//! types the run's files are made of, and this test fails when the page is
//! stale.
//!
//! In docs/results.md every table sits between
//!
//! ```text
//! <!-- generated from <file>::<Type> by reports/record/tests/results_docs.rs; do not edit -->
//! <!-- end generated -->
//! ```
//!
//! with `<file>` relative to the repository root. A block holds an anchor
//! (`type-<name>`, `type-v1-<name>` for journal_v1.rs) that other tables link
//! to, the type's own doc comment, then
//!
//! - for a struct, `| field | type | meaning |`: the JSON key (`rename`
//!   honoured, `skip` fields left out), a type derived from the Rust type
//!   (`Option<T>` → "T or null", `Vec<T>` → "array of T", `BTreeMap<String, T>`
//!   → "object of T", and "omitted when absent / empty" for fields with
//!   `skip_serializing_if`), and the field's doc comment joined into one line;
//! - for an enum, how serde writes it (a string, an object with one key, or
//!   an object with a tag key), one row per variant, and a field table for
//!   each variant that has fields.
//!
//! The test also fails when a field or variant has no doc comment, when a
//! public type of the record crate's file modules (or a type a table refers
//! to) has no block, or when a block names a type that is gone. After editing
//! a comment, regenerate with
//!
//! ```text
//! EVALKIT_BLESS=1 cargo test -p evalkit-record --test results_docs
//! ```
//!
//! The marker parsing, the bless-or-fail check and the source-reading helpers
//! are shared with harness/tests/suite_docs.rs in
//! harness/tests/support/docgen.rs. Both read sources as text and use only
//! std, so this test builds even when the crate does not: `rustc --edition
//! 2021 --test reports/record/tests/results_docs.rs -o /tmp/results_docs &&
//! CARGO_MANIFEST_DIR=$PWD/reports/record /tmp/results_docs`.

#[path = "../../../harness/tests/support/docgen.rs"]
mod docgen;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use docgen::{balanced, cell, join, outer, read, rename, serde_args, serde_flag, serde_value, Block, GeneratedDoc};

const DOC: &str = "docs/results.md";
const START_TAIL: &str = " by reports/record/tests/results_docs.rs; do not edit -->";
const BLESS: &str = "EVALKIT_BLESS=1 cargo test -p evalkit-record --test results_docs";
const PAGE: GeneratedDoc = GeneratedDoc { doc: DOC, start_tail: START_TAIL, bless: BLESS };

/// Where types named in a table are looked up: first the file of the table
/// that names them, then these in order. journal_v1.rs comes last so that its
/// frozen `Record`, `Outcome` and `ScoreEntry` are only found from itself.
const SOURCES: &[&str] = &[
    "reports/record/src/journal.rs",
    "reports/record/src/manifest.rs",
    "reports/record/src/results.rs",
    "reports/record/src/baseline.rs",
    "backends/api/src/caller.rs",
    "backends/api/src/request.rs",
    "backends/api/src/response.rs",
    "backends/api/src/lib.rs",
    "reports/record/src/journal_v1.rs",
];

/// Files whose every public struct and enum needs a block (or a line in
/// [`NOT_IN_FILES`]).
const OWNED: &[&str] = &[
    "reports/record/src/journal.rs",
    "reports/record/src/manifest.rs",
    "reports/record/src/results.rs",
    "reports/record/src/baseline.rs",
    "reports/record/src/journal_v1.rs",
];

/// Public types of [`OWNED`] files that no file holds, so no table documents.
const NOT_IN_FILES: &[(&str, &str)] = &[
    ("reports/record/src/journal.rs::LineError", "why a line could not be read"),
    ("reports/record/src/baseline.rs::BaselineError", "why a baseline file could not be used"),
];

/// Types documented in the page although no table and no owned file names them.
const EXTRA_ROOTS: &[&str] = &["backends/api/src/lib.rs::RuntimeInfo"];

fn repo_root() -> PathBuf {
    docgen::repo_root("reports/record")
}

// ---------------------------------------------------------------------------
// Reading Rust source as text.

/// One item of a struct or enum body: a field, or a variant (with its own
/// fields when it is a struct variant).
#[derive(Debug)]
struct Item {
    docs: Vec<String>,
    attrs: Vec<String>,
    /// The item's code, joined when rustfmt wrapped it.
    line: String,
    /// The fields of a struct variant.
    fields: Option<Vec<Item>>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Struct,
    Enum,
}

/// A `pub struct` or `pub enum` definition.
#[derive(Debug)]
struct Definition {
    file: String,
    name: String,
    kind: Kind,
    docs: Vec<String>,
    attrs: Vec<String>,
    /// `None` for a tuple or unit struct.
    items: Option<Vec<Item>>,
}

/// Items up to the `}` closing the body that starts at `lines[*at]`.
fn body(lines: &[&str], at: &mut usize) -> Result<Vec<Item>, String> {
    let mut items = Vec::new();
    let (mut docs, mut attrs, mut attr) = (Vec::new(), Vec::new(), String::new());
    while *at < lines.len() {
        let trimmed = lines[*at].trim();
        *at += 1;
        if !attr.is_empty() {
            attr.push(' ');
            attr.push_str(trimmed);
            if balanced(&attr) {
                attrs.push(std::mem::take(&mut attr));
            }
        } else if trimmed.starts_with('}') {
            return Ok(items);
        } else if let Some(doc) = trimmed.strip_prefix("///") {
            docs.push(doc.strip_prefix(' ').unwrap_or(doc).to_owned());
        } else if trimmed.starts_with("//") || trimmed.is_empty() {
        } else if trimmed.starts_with("#[") {
            if balanced(trimmed) {
                attrs.push(trimmed.to_owned());
            } else {
                attr = trimmed.to_owned();
            }
        } else {
            let mut line = trimmed.to_owned();
            while !line.ends_with(',') && !line.ends_with('{') && *at < lines.len() {
                let next = lines[*at].trim();
                if next.starts_with('}') {
                    break;
                }
                line.push(' ');
                line.push_str(next);
                *at += 1;
            }
            let fields = if line.ends_with('{') { Some(body(lines, at)?) } else { None };
            items.push(Item { docs: std::mem::take(&mut docs), attrs: std::mem::take(&mut attrs), line, fields });
        }
    }
    Err("a body has no closing `}`".to_owned())
}

/// Every `pub struct` and `pub enum` written at the top level of `file`.
fn definitions(root: &Path, file: &str) -> Result<Vec<Definition>, String> {
    let source = read(root, file);
    let lines: Vec<&str> = source.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let (kind, rest) = if let Some(rest) = line.strip_prefix("pub struct ") {
            (Kind::Struct, rest)
        } else if let Some(rest) = line.strip_prefix("pub enum ") {
            (Kind::Enum, rest)
        } else {
            continue;
        };
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let (attrs, docs) = outer(&lines, i);
        let items = if line.trim_end().ends_with('{') {
            let mut at = i + 1;
            Some(body(&lines, &mut at).map_err(|e| format!("{file}::{name}: {e}"))?)
        } else {
            None
        };
        found.push(Definition { file: file.to_owned(), name, kind, docs, attrs, items });
    }
    Ok(found)
}

fn derives_serde(definition: &Definition) -> bool {
    definition.attrs.iter().any(|attr| {
        attr.starts_with("#[derive(")
            && attr.split(|c: char| !c.is_alphanumeric()).any(|w| w == "Serialize" || w == "Deserialize")
    })
}

/// A Rust type, as written: its last path segment and its generic arguments.
#[derive(Debug, PartialEq)]
struct Ty {
    name: String,
    args: Vec<Ty>,
}

fn parse_type(text: &str) -> Result<Ty, String> {
    let text = text.trim();
    let (path, args) = match text.find('<') {
        Some(open) => {
            let inner = text[open + 1..].strip_suffix('>').ok_or_else(|| format!("cannot read the type `{text}`"))?;
            let (mut depth, mut from, mut args) = (0i32, 0, Vec::new());
            for (i, c) in inner.char_indices() {
                match c {
                    '<' => depth += 1,
                    '>' => depth -= 1,
                    ',' if depth == 0 => {
                        args.push(parse_type(&inner[from..i])?);
                        from = i + 1;
                    }
                    _ => {}
                }
            }
            if !inner[from..].trim().is_empty() {
                args.push(parse_type(&inner[from..])?);
            }
            (&text[..open], args)
        }
        None => (text, Vec::new()),
    };
    let name = path.rsplit("::").next().unwrap_or(path).trim();
    if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return Err(format!("results_docs cannot describe the type `{text}`; teach it"));
    }
    Ok(Ty { name: name.to_owned(), args })
}

// ---------------------------------------------------------------------------
// What the page can refer to.

/// Every definition and constant of [`SOURCES`], and which types have a block.
struct Catalog {
    definitions: Vec<Definition>,
    /// `pub const NAME: T = VALUE;`: (file, name, value).
    constants: Vec<(String, String, String)>,
    /// (file, name) of every type with a block in the page.
    documented: Vec<(String, String)>,
}

impl Catalog {
    fn load(root: &Path, documented: Vec<(String, String)>) -> Result<Catalog, String> {
        let mut definitions = Vec::new();
        let mut constants = Vec::new();
        for file in SOURCES {
            definitions.extend(definitions_or_err(root, file)?);
            for line in read(root, file).lines() {
                let Some(rest) = line.strip_prefix("pub const ") else { continue };
                let Some((name, rest)) = rest.split_once(':') else { continue };
                let Some((_, value)) = rest.split_once('=') else { continue };
                constants.push((
                    (*file).to_owned(),
                    name.trim().to_owned(),
                    value.trim().trim_end_matches(';').to_owned(),
                ));
            }
        }
        Ok(Catalog { definitions, constants, documented })
    }

    /// The definition `name` refers to when written in `file`.
    fn resolve(&self, file: &str, name: &str) -> Option<&Definition> {
        let same_file = self.definitions.iter().find(|d| d.file == file && d.name == name);
        same_file.or_else(|| {
            SOURCES
                .iter()
                .filter(|source| **source != "reports/record/src/journal_v1.rs")
                .find_map(|source| self.definitions.iter().find(|d| d.file == *source && d.name == name))
        })
    }

    fn definition(&self, file: &str, name: &str) -> Option<&Definition> {
        self.definitions.iter().find(|d| d.file == file && d.name == name)
    }

    fn is_documented(&self, definition: &Definition) -> bool {
        self.documented.iter().any(|(f, n)| *f == definition.file && *n == definition.name)
    }

    /// `[Name](#type-name)`.
    fn link(&self, definition: &Definition) -> String {
        format!("[{}](#{})", definition.name, anchor(&definition.file, &definition.name))
    }

    fn constant(&self, file: &str, name: &str) -> Option<&str> {
        let same_file = self.constants.iter().find(|(f, n, _)| f == file && n == name);
        same_file.or_else(|| self.constants.iter().find(|(_, n, _)| n == name)).map(|(_, _, v)| v.as_str())
    }
}

fn definitions_or_err(root: &Path, file: &str) -> Result<Vec<Definition>, String> {
    if !root.join(file).is_file() {
        return Err(format!("{file} does not exist; update SOURCES in reports/record/tests/results_docs.rs"));
    }
    definitions(root, file)
}

/// The HTML anchor of a type's block.
fn anchor(file: &str, name: &str) -> String {
    let prefix = if file.ends_with("journal_v1.rs") { "type-v1-" } else { "type-" };
    format!("{prefix}{}", name.to_lowercase())
}

// ---------------------------------------------------------------------------
// Rendering.

/// Doc text with rustdoc's intra-doc links made Markdown: a constant gets its
/// value, a documented type (or `Type::member`) a link to its block.
fn resolve_links(text: &str, file: &str, catalog: &Catalog) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find("[`") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("`]") else { break };
        if after[close + 2..].starts_with('(') {
            out.push_str(&rest[..open + 2]);
            rest = after;
            continue;
        }
        let target = &after[..close];
        out.push_str(&rest[..open]);
        let owner = target.split("::").next().unwrap_or(target);
        if let Some(value) = catalog.constant(file, target) {
            let _ = write!(out, "`{target}` ({value})");
        } else if let Some(definition) = catalog.resolve(file, owner).filter(|d| catalog.is_documented(d)) {
            let _ = write!(out, "[`{target}`](#{})", anchor(&definition.file, &definition.name));
        } else {
            let _ = write!(out, "`{target}`");
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    out
}

/// Doc lines as Markdown paragraphs.
fn paragraphs(lines: &[String]) -> String {
    lines.split(|line| line.trim().is_empty()).map(join).filter(|p| !p.is_empty()).collect::<Vec<_>>().join("\n\n")
}

/// What a Rust type is in JSON.
fn describe(ty: &Ty, file: &str, catalog: &Catalog) -> Result<String, String> {
    let one = |i: usize| -> Result<String, String> {
        let arg = ty.args.get(i).ok_or_else(|| format!("`{}` without its type argument", ty.name))?;
        describe(arg, file, catalog)
    };
    Ok(match ty.name.as_str() {
        "Option" => format!("{} or null", one(0)?),
        "Vec" => format!("array of {}", one(0)?),
        "BTreeMap" | "HashMap" => {
            if ty.args.first().map(|k| k.name.as_str()) != Some("String") {
                return Err(format!("a map whose keys are not `String` ({ty:?}); teach results_docs"));
            }
            format!("object of {}", one(1)?)
        }
        "String" => "string".to_owned(),
        "f32" | "f64" => "number".to_owned(),
        "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize" => "integer".to_owned(),
        "bool" => "boolean".to_owned(),
        "Value" => "any JSON".to_owned(),
        name => match catalog.resolve(file, name) {
            Some(definition) => catalog.link(definition),
            None => {
                return Err(format!(
                    "the type `{name}` is defined in none of the files results_docs reads; add its file to SOURCES"
                ))
            }
        },
    })
}

/// The types a Rust type refers to that are defined in [`SOURCES`].
fn referenced<'c>(ty: &Ty, file: &str, catalog: &'c Catalog, out: &mut Vec<&'c Definition>) {
    if let Some(definition) = catalog.resolve(file, &ty.name) {
        out.push(definition);
    }
    for arg in &ty.args {
        referenced(arg, file, catalog, out);
    }
}

/// One field: its JSON key, its type and its meaning, or why it cannot be
/// documented. `None` for a field serde skips.
fn field_row(item: &Item, file: &str, catalog: &Catalog) -> Result<Option<[String; 3]>, String> {
    let (field, ty) = item.line.split_once(':').ok_or_else(|| format!("cannot read the field `{}`", item.line))?;
    let field =
        field.trim().trim_start_matches("pub(crate) ").trim_start_matches("pub ").trim().trim_start_matches("r#");
    let args = serde_args(&item.attrs);
    if serde_flag(&args, "skip") || (serde_flag(&args, "skip_serializing") && serde_flag(&args, "skip_deserializing")) {
        return Ok(None);
    }
    for unsupported in
        ["flatten", "with", "serialize_with", "deserialize_with", "skip_serializing", "skip_deserializing"]
    {
        if serde_flag(&args, unsupported) {
            return Err(format!("`{field}`: `{unsupported}` is not supported by results_docs; teach it"));
        }
    }
    let meaning = join(&item.docs);
    if meaning.is_empty() {
        return Err(format!("`{field}` has no doc comment"));
    }
    let ty = parse_type(ty.trim().trim_end_matches(',')).map_err(|e| format!("`{field}`: {e}"))?;
    let mut described = describe(&ty, file, catalog).map_err(|e| format!("`{field}`: {e}"))?;
    if serde_flag(&args, "skip_serializing_if") {
        described = match (ty.name.as_str(), ty.args.first()) {
            ("Option", Some(inner)) => {
                format!(
                    "{}; omitted when absent",
                    describe(inner, file, catalog).map_err(|e| format!("`{field}`: {e}"))?
                )
            }
            _ => format!("{described}; omitted when empty"),
        };
    }
    let key = serde_value(&args, "rename").unwrap_or_else(|| field.to_owned());
    Ok(Some([format!("`{key}`"), described, resolve_links(&meaning, file, catalog)]))
}

fn table(header: &[&str], rows: &[[String; 3]]) -> String {
    let mut out = format!("| {} |\n|{}\n", header.join(" | "), "---|".repeat(header.len()));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | "));
    }
    out
}

fn field_table(fields: &[Item], file: &str, catalog: &Catalog, problems: &mut Vec<String>) -> String {
    let mut rows = Vec::new();
    for item in fields {
        match field_row(item, file, catalog) {
            Ok(Some(row)) => rows.push(row),
            Ok(None) => {}
            Err(problem) => problems.push(problem),
        }
    }
    if rows.is_empty() {
        problems.push("no fields".to_owned());
    }
    table(&["field", "type", "meaning"], &rows)
}

/// A variant's name and what it carries.
enum Shape<'a> {
    Unit,
    Newtype(Ty),
    Fields(&'a [Item]),
}

fn variant_shape(item: &Item) -> Result<(String, Shape<'_>), String> {
    if let Some(fields) = &item.fields {
        let name = item.line.trim_end_matches('{').trim();
        return Ok((name.to_owned(), Shape::Fields(fields)));
    }
    let line = item.line.trim_end_matches(',');
    match line.split_once('(') {
        Some((name, payload)) => {
            let payload = payload.strip_suffix(')').ok_or_else(|| format!("cannot read the variant `{line}`"))?;
            if payload.contains(',') {
                return Err(format!("the tuple variant `{line}` is not supported by results_docs; teach it"));
            }
            Ok((name.trim().to_owned(), Shape::Newtype(parse_type(payload)?)))
        }
        None if line.contains('=') => Err(format!("the variant `{line}` has a discriminant; teach results_docs")),
        None => Ok((line.trim().to_owned(), Shape::Unit)),
    }
}

/// The rendered block for one type (everything between its markers), and
/// what is wrong with its comments.
fn render(definition: &Definition, catalog: &Catalog) -> Result<String, String> {
    let file = definition.file.as_str();
    let mut problems = Vec::new();
    let summary = paragraphs(&definition.docs);
    if summary.is_empty() {
        problems.push("the type has no doc comment".to_owned());
    }
    let mut out =
        format!("\n<a id=\"{}\"></a>\n{}\n\n", anchor(file, &definition.name), resolve_links(&summary, file, catalog));
    let Some(items) = definition.items.as_deref() else {
        // A tuple struct with its own (de)serialisation: its doc comment says
        // how it is written, so that is all there is to show.
        return match summary.is_empty() {
            true => {
                Err(format!("{file}::{}: a tuple struct needs a doc comment saying how it is written", definition.name))
            }
            false => Ok(out),
        };
    };
    let container = serde_args(&definition.attrs);
    for unsupported in ["untagged", "content", "transparent", "flatten", "from", "try_from", "into"] {
        if serde_flag(&container, unsupported) {
            return Err(format!(
                "{file}::{}: `{unsupported}` is not supported by results_docs; teach it",
                definition.name
            ));
        }
    }
    match definition.kind {
        Kind::Struct => {
            if serde_value(&container, "rename_all").is_some() {
                problems.push("`rename_all` on a struct is not supported by results_docs; teach it".to_owned());
            }
            out.push_str(&field_table(items, file, catalog, &mut problems));
        }
        Kind::Enum => out.push_str(&enum_body(items, &container, file, catalog, &mut problems)),
    }
    out.push('\n');
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(format!("{file}::{}:\n  {}", definition.name, problems.join("\n  ")))
    }
}

fn enum_body(
    items: &[Item],
    container: &[String],
    file: &str,
    catalog: &Catalog,
    problems: &mut Vec<String>,
) -> String {
    let rule = serde_value(container, "rename_all");
    let tag = serde_value(container, "tag");
    let mut variants = Vec::new();
    for item in items {
        match variant_shape(item) {
            Ok((name, shape)) => {
                let json = serde_value(&serde_args(&item.attrs), "rename")
                    .map(Ok)
                    .unwrap_or_else(|| rename(&name, rule.as_deref()));
                match json {
                    Ok(json) => {
                        let meaning = join(&item.docs);
                        if meaning.is_empty() {
                            problems.push(format!("the variant `{name}` has no doc comment"));
                        }
                        variants.push((name, json, shape, resolve_links(&meaning, file, catalog)));
                    }
                    Err(problem) => problems.push(problem),
                }
            }
            Err(problem) => problems.push(problem),
        }
    }
    if variants.is_empty() {
        problems.push("no variants".to_owned());
    }
    let mut out = String::new();
    let mut sub_tables = String::new();
    let all_unit = variants.iter().all(|(_, _, shape, _)| matches!(shape, Shape::Unit));
    match tag {
        None if all_unit => {
            out.push_str("Written as one of these strings:\n\n");
            let rows: Vec<[String; 3]> = variants
                .iter()
                .map(|(name, json, _, meaning)| [format!("`\"{json}\"`"), format!("`{name}`"), meaning.clone()])
                .collect();
            out.push_str(&table(&["value", "variant", "meaning"], &rows));
        }
        None => {
            out.push_str("Written as an object with exactly one key, which names the variant and holds its value:\n\n");
            let mut rows = Vec::new();
            for (name, json, shape, meaning) in &variants {
                let value = match shape {
                    Shape::Unit => {
                        problems.push(format!(
                            "the unit variant `{name}` next to variants with data is not supported by results_docs; teach it"
                        ));
                        continue;
                    }
                    Shape::Newtype(ty) => describe(ty, file, catalog).unwrap_or_else(|e| {
                        problems.push(format!("`{name}`: {e}"));
                        String::new()
                    }),
                    Shape::Fields(fields) => {
                        let _ = write!(sub_tables, "\nThe object under `\"{json}\"`:\n\n");
                        sub_tables.push_str(&field_table(fields, file, catalog, problems));
                        "an object (below)".to_owned()
                    }
                };
                rows.push([format!("`{json}`"), value, meaning.clone()]);
            }
            out.push_str(&table(&["key", "value", "meaning"], &rows));
        }
        Some(tag) => {
            let _ = write!(
                out,
                "Written as an object whose `{tag}` key names the variant; the variant's fields sit next to it:\n\n"
            );
            let mut rows = Vec::new();
            for (name, json, shape, meaning) in &variants {
                let fields = match shape {
                    Shape::Unit => "none".to_owned(),
                    Shape::Newtype(ty) => match catalog.resolve(file, &ty.name) {
                        Some(d) if d.kind == Kind::Struct => format!("those of {}", catalog.link(d)),
                        _ => {
                            problems.push(format!("`{name}`: an internally tagged variant must carry a struct"));
                            String::new()
                        }
                    },
                    Shape::Fields(fields) => {
                        let _ = write!(sub_tables, "\nFields with `\"{tag}\": \"{json}\"`:\n\n");
                        sub_tables.push_str(&field_table(fields, file, catalog, problems));
                        let names: Vec<String> = fields
                            .iter()
                            .filter_map(|f| field_row(f, file, catalog).ok().flatten().map(|[key, _, _]| key))
                            .collect();
                        names.join(", ")
                    }
                };
                rows.push([format!("`\"{json}\"`"), fields, meaning.clone()]);
            }
            out.push_str(&table(&[&format!("`{tag}`"), "fields", "meaning"], &rows));
        }
    }
    out.push_str(&sub_tables);
    out
}

/// The types a definition's fields and variants name, as defined in [`SOURCES`].
fn references<'c>(definition: &Definition, catalog: &'c Catalog) -> Vec<&'c Definition> {
    let mut out = Vec::new();
    for item in definition.items.as_deref().unwrap_or_default() {
        let text = match definition.kind {
            Kind::Struct => item.line.split_once(':').map(|(_, ty)| ty),
            Kind::Enum => {
                item.line.split_once('(').map(|(_, payload)| payload.trim_end_matches(',').trim_end_matches(')'))
            }
        };
        let fields = item.fields.iter().flatten().filter_map(|field| field.line.split_once(':').map(|(_, ty)| ty));
        for ty in text.into_iter().chain(fields) {
            if let Ok(ty) = parse_type(ty.trim().trim_end_matches(',')) {
                referenced(&ty, &definition.file, catalog, &mut out);
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// The page's generated blocks.

struct Page {
    doc: String,
    blocks: Vec<Block>,
    catalog: Catalog,
}

fn load_page(root: &Path) -> Page {
    let (doc, blocks) = PAGE.load(root);
    let documented = blocks.iter().map(|b| (b.file.clone(), b.name.clone())).collect();
    let catalog = Catalog::load(root, documented).unwrap_or_else(|e| panic!("{e}"));
    Page { doc, blocks, catalog }
}

#[test]
fn generated_blocks_are_up_to_date() {
    let root = repo_root();
    let Page { doc, blocks, catalog } = load_page(&root);
    PAGE.check(&root, &doc, &blocks, "doc comments results_docs cannot document", |block| {
        let definition = catalog.definition(&block.file, &block.name).ok_or_else(|| {
            format!(
                "{DOC}:{}: {}::{} is not a `pub struct` or `pub enum` (of a file in SOURCES)",
                block.line, block.file, block.name
            )
        })?;
        render(definition, &catalog)
    });
}

/// Every public type of the owned files, and every type a table refers to,
/// has exactly one block, so a new type or field cannot stay undocumented.
#[test]
fn every_type_has_a_block() {
    let root = repo_root();
    let page = load_page(&root);
    let catalog = &page.catalog;
    let mut problems = Vec::new();
    for (i, block) in page.blocks.iter().enumerate() {
        if page.blocks[..i].iter().any(|b| b.file == block.file && b.name == block.name) {
            problems.push(format!("{DOC}:{}: a second block for {}::{}", block.line, block.file, block.name));
        }
    }
    for (exempt, _) in NOT_IN_FILES {
        let (file, name) = exempt.split_once("::").expect("NOT_IN_FILES entries are `<file>::<Type>`");
        match catalog.definition(file, name) {
            None => problems.push(format!("NOT_IN_FILES names {exempt}, which no longer exists")),
            Some(d) if derives_serde(d) => problems
                .push(format!("{exempt} derives serde, so it is in a file: give it a block, not a NOT_IN_FILES line")),
            Some(_) => {}
        }
    }
    let mut wanted: Vec<&Definition> = Vec::new();
    for file in OWNED {
        let owned = catalog.definitions.iter().filter(|d| d.file == *file);
        wanted.extend(owned.filter(|d| !NOT_IN_FILES.iter().any(|(e, _)| *e == format!("{}::{}", d.file, d.name))));
    }
    for root_type in EXTRA_ROOTS {
        let (file, name) = root_type.split_once("::").expect("EXTRA_ROOTS entries are `<file>::<Type>`");
        wanted.extend(catalog.definition(file, name));
    }
    for block in &page.blocks {
        if let Some(definition) = catalog.definition(&block.file, &block.name) {
            for referenced in references(definition, catalog) {
                if !catalog.is_documented(referenced) {
                    problems.push(format!(
                        "{}::{} names {}::{}, which has no block: {}",
                        block.file,
                        block.name,
                        referenced.file,
                        referenced.name,
                        PAGE.add_marker(&referenced.file, &referenced.name)
                    ));
                }
            }
        }
    }
    for definition in wanted {
        if !catalog.is_documented(definition) {
            problems.push(format!(
                "{}::{} has no block: {} (or, if no file holds it, list it in NOT_IN_FILES)",
                definition.file,
                definition.name,
                PAGE.add_marker(&definition.file, &definition.name)
            ));
        }
    }
    for name in ["Record", "ScoreEntry", "Manifest", "RunResults", "Aggregate", "Baseline", "Response", "ScoreSpec"] {
        assert!(
            catalog.definitions.iter().any(|d| d.name == name),
            "no type {name} found: is results_docs reading the right files?"
        );
    }
    problems.dedup();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_readers_work() {
    let t = parse_type("Option<std::collections::BTreeMap<String, Vec<f64>>>").unwrap();
    assert_eq!(t.name, "Option");
    assert_eq!(t.args[0].name, "BTreeMap");
    assert_eq!(t.args[0].args.len(), 2);
    assert_eq!(t.args[0].args[1].args[0].name, "f64");
    assert!(parse_type("&'a str").is_err());
    assert_eq!(rename("McnemarChiSquare", Some("snake_case")).unwrap(), "mcnemar_chi_square");
    assert_eq!(rename("T", Some("snake_case")).unwrap(), "t");
    assert!(rename("X", Some("camelCase")).is_err());
    assert_eq!(cell("`{|}`"), "`{\\|}`");
    let args = serde_args(&["#[serde(default, skip_serializing_if = \"Option::is_none\", rename = \"a,b\")]".into()]);
    assert_eq!(serde_value(&args, "rename").as_deref(), Some("a,b"));
    assert!(serde_flag(&args, "default") && serde_flag(&args, "skip_serializing_if") && !serde_flag(&args, "skip"));
    let source = "/// A thing.\n#[derive(Serialize)]\n#[serde(tag = \"kind\")]\npub enum E {\n    /// One.\n    #[serde(rename = \"one\")]\n    One {\n        /// Width.\n        w: usize,\n    },\n    /// Two.\n    Two(String),\n}\n";
    let lines: Vec<&str> = source.lines().collect();
    let mut at = 4;
    let items = body(&lines, &mut at).unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].fields.as_ref().map(Vec::len), Some(1));
    assert_eq!(items[0].attrs, ["#[serde(rename = \"one\")]"]);
    assert_eq!(items[1].line, "Two(String),");
    assert_eq!(
        outer(&lines, 3),
        (vec!["#[derive(Serialize)]".to_owned(), "#[serde(tag = \"kind\")]".to_owned()], vec!["A thing.".to_owned()])
    );
    assert_eq!(anchor("reports/record/src/journal_v1.rs", "Record"), "type-v1-record");
}
