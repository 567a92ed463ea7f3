//! Which tensor of a GGUF file holds a block type evalkit cannot read.
//!
//! candle's GGUF reader stops at the first tensor whose type it does not know
//! and names only the type's number ("unknown dtype for tensor 23"). That
//! happens with files quantized to llama.cpp's IQ types, which are common.
//! This walks the file's header and tensor directory itself, so the error can
//! name the tensor and the type, and say what to do about it.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

/// The block types candle reads (ggml's numbering).
const READABLE: &[u32] = &[0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 30];

/// A tensor stored in a type candle cannot read.
#[derive(Debug, PartialEq, Eq)]
pub struct UnreadableTensor {
    pub name: String,
    pub type_id: u32,
}

impl UnreadableTensor {
    /// ggml's name for the type (`ggml_type_name`), or its number.
    pub fn type_name(&self) -> String {
        let name = match self.type_id {
            16 => "IQ2_XXS",
            17 => "IQ2_XS",
            18 => "IQ3_XXS",
            19 => "IQ1_S",
            20 => "IQ4_NL",
            21 => "IQ3_S",
            22 => "IQ2_S",
            23 => "IQ4_XS",
            24 => "I8",
            25 => "I16",
            26 => "I32",
            27 => "I64",
            28 => "F64",
            29 => "IQ1_M",
            34 => "TQ1_0",
            35 => "TQ2_0",
            39 => "MXFP4",
            40 => "NVFP4",
            41 => "Q1_0",
            42 => "Q2_0",
            other => return format!("ggml type {other}"),
        };
        name.to_owned()
    }
}

/// The first tensor of the GGUF file at `path` whose block type candle cannot
/// read, if the file's directory can be walked and has one.
pub fn first_unreadable_tensor(path: &Path) -> Option<UnreadableTensor> {
    let mut reader = Reader(BufReader::new(File::open(path).ok()?));
    if &reader.bytes::<4>()? != b"GGUF" {
        return None;
    }
    // Version 1 used 32-bit counts; llama.cpp has not written it since 2023.
    if reader.u32()? < 2 {
        return None;
    }
    let tensors = reader.u64()?;
    let entries = reader.u64()?;
    for _ in 0..entries {
        reader.string()?;
        let value_type = reader.u32()?;
        reader.skip_value(value_type)?;
    }
    for _ in 0..tensors {
        let name = reader.string()?;
        let dims = reader.u32()?;
        for _ in 0..dims {
            reader.u64()?;
        }
        let type_id = reader.u32()?;
        reader.u64()?; // offset
        if !READABLE.contains(&type_id) {
            return Some(UnreadableTensor { name, type_id });
        }
    }
    None
}

struct Reader(BufReader<File>);

impl Reader {
    fn bytes<const N: usize>(&mut self) -> Option<[u8; N]> {
        let mut buf = [0u8; N];
        self.0.read_exact(&mut buf).ok()?;
        Some(buf)
    }

    fn u32(&mut self) -> Option<u32> {
        self.bytes::<4>().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.bytes::<8>().map(u64::from_le_bytes)
    }

    fn skip(&mut self, len: u64) -> Option<()> {
        let copied = std::io::copy(&mut (&mut self.0).take(len), &mut std::io::sink()).ok()?;
        (copied == len).then_some(())
    }

    fn string(&mut self) -> Option<String> {
        let len = self.u64()?;
        // Names and keys are short; a huge length means this is not a GGUF file we can walk.
        if len > 1 << 20 {
            return None;
        }
        let mut buf = vec![0u8; len as usize];
        self.0.read_exact(&mut buf).ok()?;
        String::from_utf8(buf).ok()
    }

    /// Skip one metadata value of GGUF type `value_type`.
    fn skip_value(&mut self, value_type: u32) -> Option<()> {
        match value_type {
            0 | 1 | 7 => self.skip(1),
            2 | 3 => self.skip(2),
            4..=6 => self.skip(4),
            10..=12 => self.skip(8),
            8 => {
                let len = self.u64()?;
                self.skip(len)
            }
            9 => {
                let element_type = self.u32()?;
                let count = self.u64()?;
                match element_type {
                    0 | 1 | 7 => self.skip(count),
                    2 | 3 => self.skip(count.checked_mul(2)?),
                    4..=6 => self.skip(count.checked_mul(4)?),
                    10..=12 => self.skip(count.checked_mul(8)?),
                    _ => (0..count).try_for_each(|_| self.skip_value(element_type)),
                }
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend((s.len() as u64).to_le_bytes());
        out.extend(s.as_bytes());
    }

    /// A GGUF header and directory: a string, an array of strings and a u32 of
    /// metadata, then an f32 tensor and one in `second_type`.
    fn gguf(second_type: u32) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend(3u32.to_le_bytes());
        out.extend(2u64.to_le_bytes()); // tensors
        out.extend(3u64.to_le_bytes()); // metadata entries
        string(&mut out, "general.architecture");
        out.extend(8u32.to_le_bytes());
        string(&mut out, "llama");
        string(&mut out, "tokenizer.ggml.tokens");
        out.extend(9u32.to_le_bytes());
        out.extend(8u32.to_le_bytes());
        out.extend(2u64.to_le_bytes());
        string(&mut out, "<s>");
        string(&mut out, "▁the");
        string(&mut out, "llama.block_count");
        out.extend(4u32.to_le_bytes());
        out.extend(1u32.to_le_bytes());
        for (name, type_id, offset) in [("token_embd.weight", 0u32, 0u64), ("blk.0.attn_q.weight", second_type, 1024)] {
            string(&mut out, name);
            out.extend(2u32.to_le_bytes());
            out.extend(256u64.to_le_bytes());
            out.extend(4u64.to_le_bytes());
            out.extend(type_id.to_le_bytes());
            out.extend(offset.to_le_bytes());
        }
        out
    }

    fn scan(bytes: &[u8]) -> Option<UnreadableTensor> {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), bytes).unwrap();
        first_unreadable_tensor(file.path())
    }

    #[test]
    fn names_the_first_tensor_in_a_type_candle_cannot_read() {
        let found = scan(&gguf(23)).expect("an IQ4_XS tensor");
        assert_eq!(found, UnreadableTensor { name: "blk.0.attn_q.weight".into(), type_id: 23 });
        assert_eq!(found.type_name(), "IQ4_XS");
    }

    #[test]
    fn opening_such_a_file_names_the_tensor_the_type_and_the_fix() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), gguf(20)).unwrap();
        let Err(error) = super::super::weights::open_gguf(file.path()) else { panic!("the file opened") };
        let error = error.to_string();
        assert!(error.contains("tensor `blk.0.attn_q.weight` is stored as IQ4_NL"), "{error}");
        assert!(error.contains("Q2_K to Q6_K") && error.contains("llama-quantize"), "{error}");
    }

    #[test]
    fn candle_errors_read_without_their_backtrace() {
        let inner = candle_core::Error::Msg("unknown dtype for tensor 20".into());
        let error = candle_core::Error::WithBacktrace {
            inner: Box::new(inner),
            backtrace: Box::new(std::backtrace::Backtrace::force_capture()),
        };
        assert_eq!(super::super::describe(&error), "unknown dtype for tensor 20");
    }

    #[test]
    fn readable_types_and_other_files_give_nothing() {
        assert_eq!(scan(&gguf(12)), None); // Q4_K
        assert_eq!(scan(b"not a gguf file at all"), None);
        let mut cut = gguf(23);
        cut.truncate(60);
        assert_eq!(scan(&cut), None);
    }
}
