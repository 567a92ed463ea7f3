//! The footer and page headers of a Parquet file, checked before anything is
//! decoded.
//!
//! polars-parquet trusts the sizes a file declares: a list length in the
//! footer, a value count, a page size become allocations of that size, and an
//! offset past the end becomes an `unwrap` on overflow. A fuzzed file asked for
//! 2^61 bytes and aborted the process. So the footer is first parsed with the
//! bounded Thrift reader of polars-parquet-format (it refuses a list or string
//! longer than the bytes left could hold), every offset is checked against the
//! file's length, every page header is read and counted, and the counts must
//! fit budgets proportional to the file's size ([`VALUES_PER_BYTE`],
//! [`EXPANSION`]). Only then is the footer handed to polars-parquet, and
//! re-encoded from what was checked: its own unbounded reader then parses
//! exactly the structure that was validated, not another reading of the same
//! bytes (the two readers skip unknown fields differently).

use std::io::Cursor;

use polars_parquet_format::thrift::protocol::{TCompactInputProtocol, TCompactOutputProtocol};
use polars_parquet_format::thrift::{Error as ThriftError, ProtocolError, ProtocolErrorKind};
use polars_parquet_format::{
    ColumnChunk, ColumnMetaData, ConvertedType, Encoding, FileMetaData, LogicalType, PageHeader, PageType, RowGroup,
    SchemaElement, Type,
};

use super::Problem;

/// The four bytes a Parquet file starts and ends with.
pub(super) const MAGIC: &[u8; 4] = b"PAR1";

/// How many values a file may declare per byte of its size: table cells
/// (rows × columns), values in column chunks and pages, dictionary entries.
///
/// Each value becomes at least one allocation-sized slot when decoded, and a
/// JSON value when read. Real datasets hold text, far below this; a file above
/// it is corrupt, or a "compression bomb" (millions of identical rows in a few
/// bytes) that would take memory out of all proportion to its size.
pub(super) const VALUES_PER_BYTE: u64 = 64;

/// How many bytes of decompressed pages a file may declare per byte of its
/// size. Text compresses 3 to 10 times, repetitive prompts a few dozen.
pub(super) const EXPANSION: u64 = 1024;

/// The deepest nesting of groups (structs, lists, maps) a schema may have.
/// The decoder, the schema conversion and the JSON conversion all recurse
/// once per level; a crafted schema thousands deep would overflow the stack,
/// which aborts instead of unwinding.
pub(super) const MAX_DEPTH: usize = 32;

/// The largest decimal precision read (a 128-byte unscaled value has 308
/// digits). A decimal is turned into text digit by digit, so its size bounds
/// the work per value.
pub(super) const MAX_DECIMAL_PRECISION: i32 = 308;

/// Why a file is judged corrupt, for hints.
pub(super) const CORRUPT: &str = "the file is damaged or was cut short (an interrupted download or copy?): \
     write or copy it again, and check that another reader opens it (`pyarrow.parquet.read_table`)";

/// A footer that passed every check.
pub(super) struct Checked {
    /// The footer re-encoded from the checked metadata, for polars-parquet.
    pub canonical: Vec<u8>,
    /// Rows in the file.
    pub rows: u64,
}

/// Check the file's framing, footer and page headers; see the module docs.
pub(super) fn check(bytes: &[u8]) -> Result<Checked, Problem> {
    let len = bytes.len() as u64;
    if !bytes.starts_with(MAGIC) {
        return Err(not_parquet(bytes));
    }
    if len < 12 || !bytes.ends_with(MAGIC) {
        return Err(Problem::new("Parquet file is truncated or corrupt: it does not end with `PAR1`", CORRUPT));
    }
    let footer_len = u64::from(u32::from_le_bytes([
        bytes[bytes.len() - 8],
        bytes[bytes.len() - 7],
        bytes[bytes.len() - 6],
        bytes[bytes.len() - 5],
    ]));
    // Data lies between the leading magic and the footer.
    let Some(data_end) = len.checked_sub(8 + footer_len).filter(|&end| end >= 4) else {
        return Err(Problem::new(
            format!("Parquet footer is corrupt: it claims {footer_len} bytes in a file of {len}"),
            CORRUPT,
        ));
    };
    let footer = &bytes[data_end as usize..(len - 8) as usize];
    let metadata = parse_footer(footer)?;
    let leaves = check_schema(&metadata.schema)?;
    let rows = check_row_groups(&metadata, leaves, data_end, len)?;
    check_pages(bytes, &metadata, len)?;
    Ok(Checked { canonical: canonical(&metadata)?, rows })
}

/// The footer parsed with a budget: a list of n elements is charged 8n bytes
/// and a string its length, against 9 times the footer's size plus a little.
/// Every element takes at least one byte of the footer, so a real footer stays
/// within it, and what the parse allocates stays proportional to the footer.
fn parse_footer(footer: &[u8]) -> Result<FileMetaData, Problem> {
    let budget = footer.len().saturating_mul(9).saturating_add(1024);
    let mut protocol = TCompactInputProtocol::new(footer, budget);
    FileMetaData::read_from_in_protocol(&mut protocol).map_err(|e| {
        let what = match e {
            ThriftError::Protocol(ProtocolError { kind: ProtocolErrorKind::SizeLimit, .. }) => {
                format!("a list or string in it is longer than its {} bytes could hold", footer.len())
            }
            other => other.to_string(),
        };
        Problem::new(format!("Parquet footer is corrupt: {what}"), CORRUPT)
    })
}

/// What the first bytes of a file that is not Parquet suggest it is.
fn not_parquet(bytes: &[u8]) -> Problem {
    let text = std::str::from_utf8(&bytes[..bytes.len().min(4096)]).ok();
    let first = text.and_then(|t| t.trim_start_matches('\u{feff}').trim_start().chars().next());
    let hint = match first {
        Some('{') => {
            "it looks like JSON Lines: set `format = \"jsonl\"` in the dataset table, or name the file `.jsonl`"
        }
        Some(_) => {
            "it looks like text: set `format` in the dataset table to the file's format (`csv`, `jsonl` or `text`)"
        }
        None if bytes.is_empty() => "the file is empty: write the dataset into it, or point `path` at another file",
        None => "check that the file was written as Parquet (`pyarrow.parquet.write_table`, `DataFrame.to_parquet`)",
    };
    let message = if bytes.is_empty() {
        "not a Parquet file: it is empty".to_owned()
    } else {
        "not a Parquet file: it does not start with `PAR1`".to_owned()
    };
    Problem::new(message, hint)
}

/// Check that the schema is one well-formed tree no deeper than
/// [`MAX_DEPTH`], with types on its leaves; returns the number of leaves.
fn check_schema(schema: &[SchemaElement]) -> Result<usize, Problem> {
    let corrupt = |what: &str| Problem::new(format!("Parquet schema is corrupt: {what}"), CORRUPT);
    let Some(root) = schema.first() else {
        return Err(corrupt("it is empty"));
    };
    let root_children = root.num_children.unwrap_or(0);
    if root_children < 0 {
        return Err(corrupt("the root has a negative number of columns"));
    }
    if root_children == 0 {
        return Err(Problem::new(
            "Parquet file has no columns",
            "write the dataset with at least one column, such as `question`",
        ));
    }
    // Children still to come for each open group, innermost last, and the
    // top-level column the groups below the root belong to.
    let mut open: Vec<i64> = vec![i64::from(root_children)];
    let mut column = "";
    let mut leaves = 0;
    for element in &schema[1..] {
        while open.last() == Some(&0) {
            open.pop();
        }
        let Some(remaining) = open.last_mut() else {
            return Err(corrupt("it has elements after its last column"));
        };
        *remaining -= 1;
        if open.len() == 1 {
            column = &element.name;
        }
        match element.num_children {
            Some(n) if n < 0 => return Err(corrupt(&format!("`{}` has a negative number of fields", element.name))),
            Some(n) if n > 0 => {
                if open.len() >= MAX_DEPTH {
                    return Err(Problem::new(
                        format!("Parquet column `{column}` is nested more than {MAX_DEPTH} levels deep"),
                        format!(
                            "flatten the column before writing the file (evalkit reads at most {MAX_DEPTH} levels \
                             of structs and lists; `{}` is deeper)",
                            element.name
                        ),
                    ));
                }
                open.push(i64::from(n));
            }
            _ => {
                check_leaf(element).map_err(|what| corrupt(&what))?;
                leaves += 1;
            }
        }
    }
    while open.last() == Some(&0) {
        open.pop();
    }
    if !open.is_empty() {
        return Err(corrupt("it ends before the fields of a group"));
    }
    Ok(leaves)
}

/// A leaf needs a physical type, a positive width if it is fixed-size, and a
/// decimal precision and scale that make sense.
fn check_leaf(element: &SchemaElement) -> Result<(), String> {
    let name = &element.name;
    let Some(physical) = element.type_ else {
        return Err(format!("column `{name}` has no type"));
    };
    if physical == Type::FIXED_LEN_BYTE_ARRAY && element.type_length.is_none_or(|n| n <= 0) {
        return Err(format!("fixed-size column `{name}` has no positive width"));
    }
    let decimal = matches!(element.logical_type, Some(LogicalType::DECIMAL(_)))
        || element.converted_type == Some(ConvertedType::DECIMAL);
    if decimal {
        let (precision, scale) = match &element.logical_type {
            Some(LogicalType::DECIMAL(d)) => (d.precision, d.scale),
            _ => (element.precision.unwrap_or(-1), element.scale.unwrap_or(-1)),
        };
        if !(1..=MAX_DECIMAL_PRECISION).contains(&precision) || !(0..=precision).contains(&scale) {
            return Err(format!(
                "decimal column `{name}` has precision {precision} and scale {scale} \
                 (precision must be 1 to {MAX_DECIMAL_PRECISION}, scale 0 to the precision)"
            ));
        }
    }
    Ok(())
}

/// Check row counts, and that each column chunk lies inside the data part of
/// the file; returns the number of rows.
fn check_row_groups(metadata: &FileMetaData, leaves: usize, data_end: u64, len: u64) -> Result<u64, Problem> {
    let corrupt = |what: String| Problem::new(format!("Parquet footer is corrupt: {what}"), CORRUPT);
    let columns = top_level_columns(&metadata.schema);
    let mut rows: u64 = 0;
    let mut values: u64 = 0;
    for (index, group) in metadata.row_groups.iter().enumerate() {
        let group_rows = u64::try_from(group.num_rows)
            .map_err(|_| corrupt(format!("row group {index} has {} rows", group.num_rows)))?;
        rows = rows.saturating_add(group_rows);
        values = values.saturating_add(group_rows.saturating_mul(columns));
        if group.columns.len() != leaves {
            return Err(corrupt(format!(
                "row group {index} has {} column chunks for {leaves} columns",
                group.columns.len()
            )));
        }
        for chunk in &group.columns {
            let meta = check_chunk(chunk, data_end).map_err(corrupt)?;
            values = values.saturating_add(meta.num_values as u64);
        }
    }
    if i64::try_from(rows).ok() != Some(metadata.num_rows) {
        return Err(corrupt(format!("it counts {} rows but its row groups hold {rows}", metadata.num_rows)));
    }
    within_budget(values, len, rows, columns)?;
    Ok(rows)
}

/// The number of top-level columns: the root's children.
fn top_level_columns(schema: &[SchemaElement]) -> u64 {
    schema.first().and_then(|root| root.num_children).map_or(0, |n| n.max(0) as u64)
}

/// A column chunk with its metadata in the footer, in this file, within the
/// data part; returns its metadata.
fn check_chunk(chunk: &ColumnChunk, data_end: u64) -> Result<&ColumnMetaData, String> {
    if let Some(other) = &chunk.file_path {
        return Err(format!("a column chunk is stored in another file, `{other}`, which evalkit does not read"));
    }
    let Some(meta) = &chunk.meta_data else {
        return Err("a column chunk has no metadata (an encrypted file?)".to_owned());
    };
    let name = meta.path_in_schema.join(".");
    if meta.num_values < 0 || meta.total_compressed_size < 0 || meta.total_uncompressed_size < 0 {
        return Err(format!("column `{name}` has a negative size or count"));
    }
    let range = chunk_range(meta).ok_or_else(|| format!("column `{name}` has a negative offset"))?;
    if range.start < 4 || range.end > data_end {
        return Err(format!(
            "column `{name}` claims bytes {}..{} of a file whose data ends at byte {data_end}",
            range.start, range.end
        ));
    }
    Ok(meta)
}

/// Where a column chunk is, computed as polars-parquet computes it (from the
/// dictionary page if there is one); `None` if an offset is negative.
pub(super) fn chunk_range(meta: &ColumnMetaData) -> Option<std::ops::Range<u64>> {
    let start = u64::try_from(meta.dictionary_page_offset.unwrap_or(meta.data_page_offset)).ok()?;
    let len = u64::try_from(meta.total_compressed_size).ok()?;
    Some(start..start.checked_add(len)?)
}

/// The value budget: see [`VALUES_PER_BYTE`].
fn within_budget(values: u64, len: u64, rows: u64, columns: u64) -> Result<(), Problem> {
    let limit = len.saturating_mul(VALUES_PER_BYTE);
    if values > limit {
        return Err(Problem::new(
            format!(
                "Parquet file declares {rows} rows of {columns} columns ({values} values) in {len} bytes, \
                 more than evalkit reads from a file of this size ({VALUES_PER_BYTE} values a byte)"
            ),
            "the footer is corrupt, or the file is compressed beyond what any dataset needs \
             (a column repeating one value millions of times): write it again without that column",
        ));
    }
    Ok(())
}

/// Read every page header the way polars-parquet's page reader does, and
/// count the values and decompressed bytes they declare against the budgets.
fn check_pages(bytes: &[u8], metadata: &FileMetaData, len: u64) -> Result<(), Problem> {
    let mut values: u64 = 0;
    let mut expanded: u64 = 0;
    for group in &metadata.row_groups {
        for meta in group.columns.iter().filter_map(|chunk| chunk.meta_data.as_ref()) {
            let Some(range) = chunk_range(meta) else { continue };
            let chunk = &bytes[range.start as usize..range.end as usize];
            let name = meta.path_in_schema.join(".");
            let (chunk_values, chunk_expanded) = scan_chunk(chunk, meta.num_values)
                .map_err(|what| Problem::new(format!("Parquet column `{name}` is corrupt: {what}"), CORRUPT))?;
            values = values.saturating_add(chunk_values);
            expanded = expanded.saturating_add(chunk_expanded);
        }
    }
    let limit = len.saturating_mul(VALUES_PER_BYTE);
    if values > limit {
        return Err(Problem::new(
            format!(
                "Parquet pages declare {values} values in a file of {len} bytes, more than evalkit reads \
                 from a file of this size ({VALUES_PER_BYTE} values a byte)"
            ),
            CORRUPT,
        ));
    }
    if expanded > len.saturating_mul(EXPANSION) {
        return Err(Problem::new(
            format!(
                "Parquet pages decompress to {expanded} bytes from a file of {len} bytes, more than evalkit \
                 decompresses ({EXPANSION} times the file's size)"
            ),
            "the file is corrupt, or compressed beyond what any dataset needs (a compression bomb); \
             write it again with the default compression",
        ));
    }
    Ok(())
}

/// One column chunk's pages, walked as polars-parquet's `PageReader` walks
/// them: an optional dictionary page first, then data pages until the
/// chunk's values are seen. Returns the values and decompressed bytes the
/// headers declare.
fn scan_chunk(chunk: &[u8], num_values: i64) -> Result<(u64, u64), String> {
    let mut position = 0usize;
    let mut values: u64 = 0;
    let mut expanded: u64 = 0;
    let mut seen: i64 = 0;
    let mut first = true;
    loop {
        // The reader looks for a dictionary page even in an empty chunk, but
        // reads data pages only while values are missing.
        if !first && seen >= num_values {
            break;
        }
        if first && position == chunk.len() {
            break;
        }
        let mut cursor = Cursor::new(&chunk[position..]);
        // The reader's own limit on what a page header may allocate.
        let mut protocol = TCompactInputProtocol::new(&mut cursor, chunk.len());
        let header = PageHeader::read_from_in_protocol(&mut protocol).map_err(|e| format!("bad page header: {e}"))?;
        let header_len = cursor.position() as usize;
        let is_dictionary = header.type_ == PageType::DICTIONARY_PAGE;
        if first && !is_dictionary {
            // No dictionary: the reader rewinds and reads this header again as a data page.
            first = false;
            continue;
        }
        first = false;
        let compressed = usize::try_from(header.compressed_page_size)
            .map_err(|_| format!("a page has size {}", header.compressed_page_size))?;
        let uncompressed = u64::try_from(header.uncompressed_page_size)
            .map_err(|_| format!("a page decompresses to {} bytes", header.uncompressed_page_size))?;
        let end = position
            .checked_add(header_len)
            .and_then(|p| p.checked_add(compressed))
            .filter(|&end| end <= chunk.len())
            .ok_or_else(|| format!("a page of {compressed} bytes runs past the end of its column"))?;
        let declared = page_values(&header)?;
        if !is_dictionary {
            seen = seen.saturating_add(declared);
        }
        values = values.saturating_add(declared as u64);
        expanded = expanded.saturating_add(uncompressed);
        position = end;
    }
    Ok((values, expanded))
}

/// The values a page header declares (dictionary entries for a dictionary
/// page), checked to be non-negative; its encodings must be ones
/// polars-parquet knows (it unwraps them), and a data page v2's level
/// lengths must fit in the page.
fn page_values(header: &PageHeader) -> Result<i64, String> {
    let count = match header.type_ {
        PageType::DATA_PAGE => {
            let Some(v1) = &header.data_page_header else {
                return Err("a data page has no header".to_owned());
            };
            known_encodings(&[v1.encoding, v1.definition_level_encoding, v1.repetition_level_encoding])?;
            Some(v1.num_values)
        }
        PageType::DICTIONARY_PAGE => header.dictionary_page_header.as_ref().map(|h| h.num_values),
        PageType::DATA_PAGE_V2 => {
            let Some(v2) = &header.data_page_header_v2 else {
                return Err("a data page has no header".to_owned());
            };
            let levels = i64::from(v2.definition_levels_byte_length) + i64::from(v2.repetition_levels_byte_length);
            known_encodings(&[v2.encoding])?;
            if v2.definition_levels_byte_length < 0
                || v2.repetition_levels_byte_length < 0
                || v2.num_rows < 0
                || v2.num_nulls < 0
                || levels > i64::from(header.compressed_page_size)
            {
                return Err("a data page has inconsistent level lengths or counts".to_owned());
            }
            Some(v2.num_values)
        }
        _ => Some(0),
    };
    match count {
        Some(n) if n >= 0 => Ok(i64::from(n)),
        Some(n) => Err(format!("a page declares {n} values")),
        None => Err("a page has no header for its type".to_owned()),
    }
}

/// Every encoding polars-parquet decodes (`Encoding`'s `TryFrom` there).
fn known_encodings(encodings: &[Encoding]) -> Result<(), String> {
    const KNOWN: [Encoding; 9] = [
        Encoding::PLAIN,
        Encoding::PLAIN_DICTIONARY,
        Encoding::RLE,
        Encoding::BIT_PACKED,
        Encoding::DELTA_BINARY_PACKED,
        Encoding::DELTA_LENGTH_BYTE_ARRAY,
        Encoding::DELTA_BYTE_ARRAY,
        Encoding::RLE_DICTIONARY,
        Encoding::BYTE_STREAM_SPLIT,
    ];
    match encodings.iter().find(|e| !KNOWN.contains(e)) {
        Some(unknown) => Err(format!("a page has an unknown encoding ({})", unknown.0)),
        None => Ok(()),
    }
}

/// The checked footer re-encoded with only what reading needs: statistics,
/// indexes, bloom filters and key-value metadata (where pyarrow keeps an
/// Arrow schema that could contradict the Parquet one) are left out.
fn canonical(metadata: &FileMetaData) -> Result<Vec<u8>, Problem> {
    let row_groups = metadata
        .row_groups
        .iter()
        .map(|group| RowGroup {
            columns: group
                .columns
                .iter()
                .map(|chunk| ColumnChunk {
                    file_path: None,
                    file_offset: chunk.file_offset,
                    meta_data: chunk.meta_data.as_ref().map(|meta| ColumnMetaData {
                        key_value_metadata: None,
                        index_page_offset: None,
                        statistics: None,
                        encoding_stats: None,
                        bloom_filter_offset: None,
                        bloom_filter_length: None,
                        size_statistics: None,
                        ..meta.clone()
                    }),
                    offset_index_offset: None,
                    offset_index_length: None,
                    column_index_offset: None,
                    column_index_length: None,
                    crypto_metadata: None,
                    encrypted_column_metadata: None,
                })
                .collect(),
            sorting_columns: None,
            ..group.clone()
        })
        .collect();
    let slim = FileMetaData {
        version: metadata.version,
        schema: metadata.schema.clone(),
        num_rows: metadata.num_rows,
        row_groups,
        key_value_metadata: None,
        created_by: None,
        column_orders: None,
        encryption_algorithm: None,
        footer_signing_key_metadata: None,
    };
    let mut out = Vec::new();
    let mut protocol = TCompactOutputProtocol::new(&mut out);
    slim.write_to_out_protocol(&mut protocol)
        .map_err(|e| Problem::new(format!("cannot re-encode the Parquet footer: {e}"), CORRUPT))?;
    Ok(out)
}
