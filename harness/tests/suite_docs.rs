//! docs/suite.md's key tables are generated from the suite schema's own doc
//! comments, and this test fails when the page is stale.
//!
//! Each `///` comment on a field of a schema struct is one description, then
//! a line of the form
//!
//! ```text
//! Type: <type>. Default: <default>. Example: <example>.
//! Type: <type>. Required. Example: <example>.
//! ```
//!
//! (the line may wrap). In docs/suite.md every table of keys sits between
//!
//! ```text
//! <!-- generated from <file>::<Struct> by harness/tests/suite_docs.rs; do not edit -->
//! <!-- end generated -->
//! ```
//!
//! with `<file>` relative to the repository root. The table is
//! `| key | type | default | meaning |`: the serde key (`rename` honoured,
//! `skip` fields left out), the `Type:` text, the `Default:` text or
//! `required`, and the description joined into one line. A struct that is the
//! payload of an internally tagged enum in the same file (`kind = "openai"`)
//! gets a first row for the tag. After editing a comment, regenerate with
//!
//! ```text
//! EVALKIT_BLESS=1 cargo test -p evalkit --test suite_docs
//! ```
//!
//! The marker parsing, the bless-or-fail check and the source-reading helpers
//! are shared with reports/record/tests/results_docs.rs in
//! harness/tests/support/docgen.rs. Both read sources as text and use only
//! std, so this test builds even when the harness library does not:
//! `rustc --edition 2021 --test harness/tests/suite_docs.rs -o /tmp/suite_docs
//! && CARGO_MANIFEST_DIR=$PWD/harness /tmp/suite_docs`.

#[path = "support/docgen.rs"]
mod docgen;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use docgen::{balanced, cell, join, outer, read, rename, serde_args, serde_flag, serde_value, GeneratedDoc};

const DOC: &str = "docs/suite.md";
const START_TAIL: &str = " by harness/tests/suite_docs.rs; do not edit -->";
const BLESS: &str = "EVALKIT_BLESS=1 cargo test -p evalkit --test suite_docs";
const PAGE: GeneratedDoc = GeneratedDoc { doc: DOC, start_tail: START_TAIL, bless: BLESS };

/// Files whose serde structs are the suite schema, and which of their structs
/// count (`None`: every struct deriving `Deserialize`).
const SCHEMA_FILES: &[(&str, Option<&str>)] = &[
    ("harness/src/suite/schema.rs", None),
    ("reports/src/gates/spec.rs", None),
    ("metrics/src/config.rs", Some("Price")),
    ("metrics/src/normalize.rs", Some("Normalize")),
];

/// Metric configs live one per file under this folder.
const METRICS_DIR: &str = "metrics/src";

/// Schema structs documented by prose rather than a generated table.
/// `SuiteFile` is the whole file (its fields are the sections, each with its
/// own heading); `MessageSpec` is the `{ role, content }` of `messages`.
const NOT_TABULATED: &[&str] = &["SuiteFile", "MessageSpec"];

/// Structs exempt from the `Type: … Default: …` convention.
const NO_CONVENTION: &[&str] = &["SuiteFile"];

fn repo_root() -> PathBuf {
    docgen::repo_root("harness")
}

// ---------------------------------------------------------------------------
// Reading Rust source as text.

/// One item of a struct or enum body: its doc lines, attributes and the line itself.
#[derive(Debug)]
struct Item {
    docs: Vec<String>,
    attrs: Vec<String>,
    line: String,
}

/// A `struct` or `enum` definition: its outer attributes and body items.
#[derive(Debug)]
struct Definition {
    attrs: Vec<String>,
    items: Vec<Item>,
}

/// The definition of `pub <keyword> <name>` in `source`, if there is one.
fn find_definition(source: &str, keyword: &str, name: &str) -> Option<Definition> {
    let lines: Vec<&str> = source.lines().collect();
    let header = format!("pub {keyword} {name}");
    let start = lines
        .iter()
        .position(|line| line.strip_prefix(&header).is_some_and(|rest| rest.starts_with([' ', '<', '{'])))?;
    let (attrs, _) = outer(&lines, start);
    if lines[start].trim_end().ends_with(';') || lines[start].contains('(') {
        return Some(Definition { attrs, items: Vec::new() });
    }
    let mut items = Vec::new();
    let (mut docs, mut pending_attrs, mut attr) = (Vec::new(), Vec::new(), String::new());
    for line in &lines[start + 1..] {
        if line.starts_with('}') {
            break;
        }
        let trimmed = line.trim();
        if !attr.is_empty() {
            attr.push(' ');
            attr.push_str(trimmed);
            if balanced(&attr) {
                pending_attrs.push(std::mem::take(&mut attr));
            }
        } else if let Some(doc) = trimmed.strip_prefix("///") {
            docs.push(doc.strip_prefix(' ').unwrap_or(doc).to_owned());
        } else if trimmed.starts_with("//") || trimmed.is_empty() {
        } else if trimmed.starts_with("#[") {
            if balanced(trimmed) {
                pending_attrs.push(trimmed.to_owned());
            } else {
                attr = trimmed.to_owned();
            }
        } else {
            items.push(Item {
                docs: std::mem::take(&mut docs),
                attrs: std::mem::take(&mut pending_attrs),
                line: trimmed.to_owned(),
            });
        }
    }
    Some(Definition { attrs, items })
}

/// Names of the structs in `source` that derive `Deserialize`.
fn deserialize_structs(source: &str) -> Vec<String> {
    let lines: Vec<&str> = source.lines().collect();
    let mut names = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.strip_prefix("pub struct ") else { continue };
        let derives = outer(&lines, i).0.iter().any(|attr| {
            attr.starts_with("#[derive(") && attr.split(|c: char| !c.is_alphanumeric()).any(|w| w == "Deserialize")
        });
        if derives {
            names.push(rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect());
        }
    }
    names
}

// ---------------------------------------------------------------------------
// The doc-comment convention.

/// One field's doc comment, taken apart.
#[derive(Debug, PartialEq)]
struct FieldDoc {
    description: String,
    ty: String,
    /// `None` for `Required.`
    default: Option<String>,
    example: Option<String>,
}

/// `text` without one trailing full stop.
fn strip_stop(text: &str) -> String {
    let text = text.trim();
    text.strip_suffix('.').unwrap_or(text).trim().to_owned()
}

fn parse_doc(docs: &[String]) -> Result<FieldDoc, String> {
    let Some(type_line) = docs.iter().position(|line| line.starts_with("Type: ")) else {
        return Err("no `Type: … Default: … Example: …` line".to_owned());
    };
    let description = join(&docs[..type_line]);
    if description.is_empty() {
        return Err("no description before the `Type:` line".to_owned());
    }
    let spec = join(&docs[type_line..]);
    let spec = &spec["Type: ".len()..];
    let default_at = spec.find(" Default: ");
    let required_at = spec.find(" Required.");
    // Whichever comes first: the default's text may mention "Required.", or the other way round.
    let (ty, default, rest) = match (default_at, required_at) {
        (Some(d), r) if r.is_none_or(|r| d < r) => {
            let after = &spec[d + " Default: ".len()..];
            let (default, rest) = match after.find(" Example: ") {
                Some(e) => (&after[..e], &after[e + 1..]),
                None => (after, ""),
            };
            (&spec[..d], Some(strip_stop(default)), rest)
        }
        (_, Some(r)) => (&spec[..r], None, spec[r + " Required.".len()..].trim()),
        _ => return Err(format!("`Type: {spec}` says neither `Default: …` nor `Required.`")),
    };
    let example = match rest.trim() {
        "" => None,
        rest => match rest.strip_prefix("Example: ") {
            Some(example) => Some(strip_stop(example)),
            None => return Err(format!("unexpected text after the default: `{rest}`")),
        },
    };
    let ty = strip_stop(ty);
    if ty.is_empty() {
        return Err("empty `Type:`".to_owned());
    }
    if default.as_deref() == Some("") {
        return Err("empty `Default:`".to_owned());
    }
    Ok(FieldDoc { description, ty, default, example })
}

/// One row of a generated table.
#[derive(Debug)]
struct Row {
    key: String,
    ty: String,
    default: String,
    meaning: String,
}

/// The rows for `name` in `file`: every key of the struct, from its doc comments.
fn struct_rows(root: &Path, file: &str, name: &str) -> Result<Vec<Row>, String> {
    let source = read(root, file);
    let definition =
        find_definition(&source, "struct", name).ok_or_else(|| format!("no `pub struct {name}` in {file}"))?;
    let container = serde_args(&definition.attrs);
    if serde_value(&container, "rename_all").is_some() {
        return Err(format!("{file}::{name}: `rename_all` on a struct is not supported by suite_docs; teach it"));
    }
    let container_default = serde_flag(&container, "default");
    let mut rows = tag_row(&source, name).map_err(|e| format!("{file}::{name}: {e}"))?.into_iter().collect::<Vec<_>>();
    let mut problems = Vec::new();
    for item in &definition.items {
        let Some((field, ty)) = item.line.split_once(':') else { continue };
        let field = field.trim().trim_start_matches("pub(crate) ").trim_start_matches("pub ").trim();
        let field = field.trim_start_matches("r#");
        let args = serde_args(&item.attrs);
        if serde_flag(&args, "skip") || serde_flag(&args, "skip_deserializing") {
            continue;
        }
        if serde_flag(&args, "flatten") {
            problems.push(format!("`{field}`: `flatten` is not supported by suite_docs; teach it"));
            continue;
        }
        let key = serde_value(&args, "rename").unwrap_or_else(|| field.to_owned());
        let doc = match parse_doc(&item.docs) {
            Ok(doc) => doc,
            Err(problem) => {
                problems.push(format!("`{field}`: {problem}"));
                continue;
            }
        };
        let optional = container_default || serde_flag(&args, "default") || ty.trim().starts_with("Option<");
        match (&doc.default, optional) {
            (None, true) => problems.push(format!("`{field}`: the comment says `Required.` but serde has a default")),
            (Some(_), false) => {
                problems.push(format!("`{field}`: the comment gives a default but serde requires the key"))
            }
            _ => {}
        }
        if doc.example.is_none() {
            problems.push(format!("`{field}`: no `Example: …`"));
        }
        rows.push(Row {
            key: format!("`{key}`"),
            ty: doc.ty,
            default: doc.default.unwrap_or_else(|| "required".to_owned()),
            meaning: doc.description,
        });
    }
    if !problems.is_empty() {
        return Err(format!("{file}::{name}:\n  {}", problems.join("\n  ")));
    }
    if rows.is_empty() {
        return Err(format!("{file}::{name} has no fields"));
    }
    Ok(rows)
}

/// The row for the tag of an internally tagged enum in the same file whose
/// variant carries `name` (`kind = "openai"` for `Openai(OpenAiSpec)`).
fn tag_row(source: &str, name: &str) -> Result<Option<Row>, String> {
    for line in source.lines() {
        let Some(rest) = line.strip_prefix("pub enum ") else { continue };
        let enum_name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let Some(definition) = find_definition(source, "enum", &enum_name) else { continue };
        let args = serde_args(&definition.attrs);
        let Some(tag) = serde_value(&args, "tag") else { continue };
        let rule = serde_value(&args, "rename_all");
        for item in &definition.items {
            let Some((variant, payload)) = item.line.split_once('(') else { continue };
            if payload.trim_end_matches(',').trim_end_matches(')').trim() != name {
                continue;
            }
            let value = match serde_value(&serde_args(&item.attrs), "rename") {
                Some(value) => value,
                None => rename(variant.trim(), rule.as_deref()).map_err(|e| format!("{enum_name}: {e}"))?,
            };
            return Ok(Some(Row {
                key: format!("`{tag}`"),
                ty: format!("`\"{value}\"`"),
                default: "required".to_owned(),
                meaning: join(&item.docs),
            }));
        }
    }
    Ok(None)
}

/// The `kind`s of `[[metrics]]`: the variants of `MetricConfig`.
fn metric_kinds(root: &Path) -> Vec<(String, String)> {
    let source = read(root, "metrics/src/config.rs");
    let definition =
        find_definition(&source, "enum", "MetricConfig").expect("no `pub enum MetricConfig` in metrics/src/config.rs");
    let args = serde_args(&definition.attrs);
    assert_eq!(serde_value(&args, "tag").as_deref(), Some("kind"), "MetricConfig is no longer tagged by `kind`");
    let rule = serde_value(&args, "rename_all");
    definition
        .items
        .iter()
        .filter_map(|item| {
            let (variant, _) = item.line.split_once('(')?;
            let kind = serde_value(&serde_args(&item.attrs), "rename")
                .map_or_else(|| rename(variant.trim(), rule.as_deref()), Ok)
                .unwrap_or_else(|e| panic!("MetricConfig: {e}"));
            Some((kind, join(&item.docs)))
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Rendering and the generated blocks.

fn render(rows: &[Row]) -> String {
    let mut table = String::from("\n| key | type | default | meaning |\n|---|---|---|---|\n");
    for row in rows {
        let meaning = if row.meaning.is_empty() { String::new() } else { format!(" {}", cell(&row.meaning)) };
        let _ = writeln!(table, "| {} | {} | {} |{meaning} |", cell(&row.key), cell(&row.ty), cell(&row.default));
    }
    table.push('\n');
    table
}

#[test]
fn generated_tables_are_up_to_date() {
    let root = repo_root();
    let (doc, blocks) = PAGE.load(&root);
    PAGE.check(&root, &doc, &blocks, "schema doc comments do not follow the convention", |block| {
        struct_rows(&root, &block.file, &block.name).map(|rows| render(&rows))
    });
}

/// Every block names a struct that exists and has fields, so a renamed or
/// emptied struct fails here rather than leaving an old table behind.
#[test]
fn every_marker_names_a_struct_with_fields() {
    let root = repo_root();
    for block in PAGE.load(&root).1 {
        assert!(root.join(&block.file).is_file(), "{DOC} names {}, which does not exist", block.file);
        let source = read(&root, &block.file);
        let definition = find_definition(&source, "struct", &block.name)
            .unwrap_or_else(|| panic!("{DOC} names {}::{}, which is not a `pub struct` there", block.file, block.name));
        assert!(
            definition.items.iter().any(|item| item.line.contains(':')),
            "{}::{} has no fields",
            block.file,
            block.name
        );
    }
}

/// The schema structs: every `Deserialize` struct of the schema files, and
/// the metric `*Config`s.
fn schema_structs(root: &Path) -> Vec<(String, String)> {
    let mut structs = Vec::new();
    for (file, filter) in SCHEMA_FILES {
        for name in deserialize_structs(&read(root, file)) {
            if filter.is_none_or(|only| only == name) {
                structs.push(((*file).to_owned(), name));
            }
        }
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(METRICS_DIR))
        .expect("metrics/src")
        .map(|entry| entry.expect("metrics/src entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    for path in files {
        let file = format!("{METRICS_DIR}/{}", path.file_name().unwrap_or_default().to_string_lossy());
        for name in deserialize_structs(&read(root, &file)) {
            if name.ends_with("Config") {
                structs.push((file.clone(), name));
            }
        }
    }
    structs
}

/// Every schema struct follows the comment convention and has its table, so a
/// new struct or field cannot stay undocumented.
#[test]
fn every_schema_struct_is_documented() {
    let root = repo_root();
    let tabulated: Vec<(String, String)> = PAGE.load(&root).1.into_iter().map(|b| (b.file, b.name)).collect();
    let structs = schema_structs(&root);
    for wanted in ["GateSpec", "SuiteSection", "Normalize", "Price", "ExactMatchConfig"] {
        assert!(
            structs.iter().any(|(_, name)| name == wanted),
            "no schema struct {wanted} found: is suite_docs reading the right files?"
        );
    }
    let mut problems = Vec::new();
    for (file, name) in &structs {
        if NO_CONVENTION.contains(&name.as_str()) {
            continue;
        }
        if let Err(problem) = struct_rows(&root, file, name) {
            problems.push(problem);
        }
        if !NOT_TABULATED.contains(&name.as_str()) && !tabulated.iter().any(|(f, n)| f == file && n == name) {
            problems.push(format!("{file}::{name} has no generated table: {}", PAGE.add_marker(file, name)));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every `[[metrics]]` kind has its section and its row in the overview table.
#[test]
fn every_metric_kind_has_a_section() {
    let root = repo_root();
    let doc = read(&root, DOC);
    let kinds = metric_kinds(&root);
    assert!(kinds.len() >= 10, "found only {kinds:?} in MetricConfig");
    let mut problems = Vec::new();
    for (kind, summary) in &kinds {
        if !summary.starts_with(&format!("`kind = \"{kind}\"`")) {
            problems
                .push(format!("MetricConfig's comment for `{kind}` should start with `kind = \"{kind}\"`: {summary}"));
        }
        let heading = format!("### `kind = \"{kind}\"`");
        if !doc.lines().any(|line| line.trim_end() == heading) {
            problems.push(format!("{DOC} has no section `{heading}`"));
        }
        let row = format!("| `{kind}` |");
        if !doc.lines().any(|line| line.starts_with(&row)) {
            problems.push(format!("{DOC}'s `[[metrics]]` table has no row for `{kind}`"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_convention_parses() {
    let lines = |text: &str| text.lines().map(str::to_owned).collect::<Vec<_>>();
    let doc = parse_doc(&lines("Seconds per request.\n\nMore.\nType: float > 0. Default: `120`.\nExample: `t = 1.5`."))
        .unwrap();
    assert_eq!(
        doc,
        FieldDoc {
            description: "Seconds per request. More.".into(),
            ty: "float > 0".into(),
            default: Some("`120`".into()),
            example: Some("`t = 1.5`".into()),
        }
    );
    let doc = parse_doc(&lines("A name.\nType: string. Required. Example: `name = \"a\"`.")).unwrap();
    assert_eq!((doc.ty.as_str(), doc.default), ("string", None));
    assert!(parse_doc(&lines("No spec.")).is_err());
    assert!(parse_doc(&lines("Neither.\nType: string. Example: `x`.")).is_err());
    assert_eq!(rename("TokenF1", Some("snake_case")).unwrap(), "token_f1");
    assert_eq!(rename("JsonValid", Some("snake_case")).unwrap(), "json_valid");
    assert_eq!(cell("`{|}`"), "`{\\|}`");
    let args =
        serde_args(&["#[serde(default = \"f\", rename = \"a,b\", skip_serializing_if = \"Option::is_none\")]".into()]);
    assert_eq!(serde_value(&args, "rename").as_deref(), Some("a,b"));
    assert!(serde_flag(&args, "default") && !serde_flag(&args, "skip"));
}
