//! Where the weights come from: a GGUF file (quantized as stored, or
//! dequantized) or a folder of safetensors.
//!
//! Tensors are asked for by their GGUF names (`blk.3.attn_q.weight`); the
//! safetensors source translates them to Hugging Face names.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::quantized::{gguf_file, GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Device, Tensor};
use evalkit_model_api::local_settings::WeightsMode;

use super::act_quant::Rounding;
use super::config::Architecture;
use super::gguf_types::first_unreadable_tensor;
use super::int8::Int8Matrix;
use super::{describe, LoadError};

/// How a weight matrix is held and multiplied.
#[derive(Debug, Clone)]
enum Matrix {
    /// candle's products: f32/f16 tensors through GEMM, K-quant blocks
    /// through its integer kernels (ports of llama.cpp's). `round`: round
    /// activations first as llama.cpp does for the stored type.
    Candle { matmul: QMatMul, round: Option<Rounding> },
    /// Blocks of small integers through evalkit's integer kernels (see [`super::widen`]).
    Int8(Arc<Int8Matrix>),
}

/// A matrix multiplied by activations, with an optional bias.
#[derive(Debug, Clone)]
pub struct Linear {
    weight: Matrix,
    bias: Option<Tensor>,
}

impl Linear {
    /// `x @ W^T + b`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let y = match &self.weight {
            Matrix::Int8(matrix) => matrix.forward(x)?,
            Matrix::Candle { matmul, round: Some(q) } => candle_core::Module::forward(matmul, &q.apply(x)?)?,
            Matrix::Candle { matmul, round: None } => candle_core::Module::forward(matmul, x)?,
        };
        match &self.bias {
            Some(bias) => y.broadcast_add(bias),
            None => Ok(y),
        }
    }
}

/// Rows looked up by token id; shares its matrix with the output head when tied.
#[derive(Debug, Clone)]
pub struct Embedding {
    table: Matrix,
}

impl Embedding {
    /// One row per id.
    pub fn forward(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        match &self.table {
            Matrix::Int8(matrix) => matrix.embedding(ids),
            Matrix::Candle { matmul, .. } => matmul.embedding(ids),
        }
    }

    /// The same matrix as an output projection (tied embeddings).
    pub fn as_linear(&self) -> Linear {
        Linear { weight: self.table.clone(), bias: None }
    }
}

/// A loaded source of named tensors.
pub enum WeightSource {
    /// A GGUF file: metadata plus tensor directory.
    Gguf { path: PathBuf, content: gguf_file::Content },
    /// Hugging Face safetensors files; read when the weights load, not when
    /// the model is opened (`evalkit validate` must stay quick).
    Safetensors { files: Vec<PathBuf>, architecture: Architecture },
}

/// Running totals of what loading produced, for reports.
#[derive(Debug, Clone, Default)]
pub struct LoadedBytes {
    /// Bytes held by weight tensors after loading.
    pub bytes: u64,
    /// Block types found in the file, e.g. `q5_0`, with their tensor counts.
    pub stored_types: std::collections::BTreeMap<String, usize>,
}

/// Reads tensors out of a [`WeightSource`] in the requested [`WeightsMode`].
pub struct Loader<'a> {
    source: &'a WeightSource,
    reader: Option<BufReader<File>>,
    /// Safetensors tensors by Hugging Face name (empty for GGUF sources).
    tensors: HashMap<String, Tensor>,
    mode: WeightsMode,
    device: Device,
    /// What has been loaded so far.
    pub loaded: LoadedBytes,
}

impl<'a> Loader<'a> {
    /// Start reading tensors.
    pub fn new(source: &'a WeightSource, mode: WeightsMode, device: Device) -> Result<Self, LoadError> {
        let (reader, tensors) = match source {
            WeightSource::Gguf { path, .. } => {
                (Some(BufReader::new(File::open(path).map_err(|e| io_error(path, e))?)), HashMap::new())
            }
            WeightSource::Safetensors { files, .. } => (None, read_safetensors(files)?),
        };
        Ok(Loader { source, reader, tensors, mode, device, loaded: LoadedBytes::default() })
    }

    /// Whether a tensor exists.
    pub fn contains(&self, name: &str) -> bool {
        match self.source {
            WeightSource::Gguf { content, .. } => content.tensor_infos.contains_key(name),
            WeightSource::Safetensors { architecture, .. } => {
                hf_name(name, *architecture).is_some_and(|n| self.tensors.contains_key(&n))
            }
        }
    }

    /// A projection matrix.
    pub fn linear(&mut self, name: &str) -> Result<Linear, LoadError> {
        let bias_name = name.replace(".weight", ".bias");
        let bias = if self.contains(&bias_name) { Some(self.dense(&bias_name)?) } else { None };
        Ok(Linear { weight: self.matrix(name)?, bias })
    }

    /// The token embedding table.
    pub fn embedding(&mut self, name: &str) -> Result<Embedding, LoadError> {
        Ok(Embedding { table: self.matrix(name)? })
    }

    /// A small tensor (norm weights, biases) as f32.
    pub fn dense(&mut self, name: &str) -> Result<Tensor, LoadError> {
        match self.source {
            WeightSource::Gguf { .. } => {
                let qtensor = self.qtensor(name)?;
                let tensor = qtensor.dequantize(&self.device).map_err(|e| tensor_error(name, e))?;
                self.loaded.bytes += (tensor.elem_count() * 4) as u64;
                Ok(tensor)
            }
            WeightSource::Safetensors { .. } => {
                let mut tensor = self.hf_tensor(name)?.to_dtype(DType::F32).map_err(|e| tensor_error(name, e))?;
                // Hugging Face Gemma stores norm weights as offsets from 1; llama.cpp's
                // converter adds the 1 when writing GGUF, so both paths end up equal.
                if matches!(self.source, WeightSource::Safetensors { architecture: Architecture::Gemma3, .. })
                    && name.ends_with("norm.weight")
                {
                    tensor = (tensor + 1.0).map_err(|e| tensor_error(name, e))?;
                }
                self.loaded.bytes += (tensor.elem_count() * 4) as u64;
                Ok(tensor.to_device(&self.device).map_err(|e| tensor_error(name, e))?)
            }
        }
    }

    fn matrix(&mut self, name: &str) -> Result<Matrix, LoadError> {
        let err = |e| tensor_error(name, e);
        match self.source {
            WeightSource::Gguf { .. } => {
                let qtensor = self.qtensor(name)?;
                let matmul = match self.mode {
                    WeightsMode::Stored => return self.stored(name, qtensor),
                    WeightsMode::Quantized => {
                        self.loaded.bytes += qtensor.storage_size_in_bytes() as u64;
                        QMatMul::from_arc(Arc::new(qtensor)).map_err(err)?
                    }
                    WeightsMode::F32 => {
                        let t = qtensor.dequantize(&self.device).map_err(err)?;
                        self.loaded.bytes += (t.elem_count() * 4) as u64;
                        QMatMul::Tensor(t)
                    }
                    WeightsMode::F16 => {
                        let t = qtensor.dequantize_f16(&self.device).map_err(err)?;
                        self.loaded.bytes += (t.elem_count() * 2) as u64;
                        QMatMul::TensorF16(t)
                    }
                };
                Ok(Matrix::Candle { matmul, round: None })
            }
            WeightSource::Safetensors { .. } => {
                let t = self.hf_tensor(name)?;
                let matmul = match self.mode {
                    WeightsMode::F16 => {
                        let t = t.to_dtype(DType::F16).map_err(err)?.to_device(&self.device).map_err(err)?;
                        self.loaded.bytes += (t.elem_count() * 2) as u64;
                        QMatMul::TensorF16(t)
                    }
                    // bf16 checkpoints run as f32: candle's CPU bf16 matmul is slow.
                    WeightsMode::Stored | WeightsMode::Quantized | WeightsMode::F32 => {
                        let t = t.to_dtype(DType::F32).map_err(err)?.to_device(&self.device).map_err(err)?;
                        self.loaded.bytes += (t.elem_count() * 4) as u64;
                        QMatMul::Tensor(t)
                    }
                };
                Ok(Matrix::Candle { matmul, round: None })
            }
        }
    }

    /// A GGUF matrix in "stored" mode: llama.cpp's arithmetic for its type.
    ///
    /// The block types [`super::widen`] reads run on evalkit's integer
    /// kernels. Others, and f16/bf16/f32 matrices, are held exactly converted
    /// to f32 and multiplied by GEMM after rounding the activations as
    /// llama.cpp does (to f16 for f16 weights, for instance). candle's own
    /// quantized kernels round activations differently, enough to flip
    /// near-tied greedy tokens that llama.cpp picks the other way.
    fn stored(&mut self, name: &str, qtensor: QTensor) -> Result<Matrix, LoadError> {
        let err = |e| tensor_error(name, e);
        let dtype = qtensor.dtype();
        if self.device.is_cpu() {
            if let Some(matrix) = Int8Matrix::from_qtensor(&qtensor).map_err(err)? {
                self.loaded.bytes += matrix.size_in_bytes() as u64;
                return Ok(Matrix::Int8(Arc::new(matrix)));
            }
        }
        let t = qtensor.dequantize(&self.device).map_err(err)?;
        self.loaded.bytes += (t.elem_count() * 4) as u64;
        Ok(Matrix::Candle { matmul: QMatMul::Tensor(t), round: Rounding::for_weights(dtype) })
    }

    fn qtensor(&mut self, name: &str) -> Result<QTensor, LoadError> {
        let WeightSource::Gguf { content, .. } = self.source else { unreachable!("qtensor on a GGUF source only") };
        let reader = self.reader.as_mut().expect("GGUF sources keep a reader");
        let qtensor = content.tensor(reader, name, &self.device).map_err(|e| tensor_error(name, e))?;
        *self.loaded.stored_types.entry(dtype_name(qtensor.dtype())).or_default() += 1;
        Ok(qtensor)
    }

    fn hf_tensor(&self, name: &str) -> Result<Tensor, LoadError> {
        let WeightSource::Safetensors { architecture, .. } = self.source else {
            unreachable!("hf_tensor on a safetensors source only")
        };
        let hf = hf_name(name, *architecture).ok_or_else(|| LoadError::MissingTensor(name.to_owned()))?;
        self.tensors.get(&hf).cloned().ok_or(LoadError::MissingTensor(hf))
    }
}

fn dtype_name(dtype: GgmlDType) -> String {
    format!("{dtype:?}").to_lowercase()
}

fn tensor_error(name: &str, error: candle_core::Error) -> LoadError {
    LoadError::Format(format!("tensor `{name}`: {}", describe(&error)))
}

/// Read a GGUF file's metadata and tensor directory.
pub fn open_gguf(path: &Path) -> Result<WeightSource, LoadError> {
    let mut file = File::open(path).map_err(|e| io_error(path, e))?;
    let length = file.metadata().map_err(|e| io_error(path, e))?.len();
    not_a_gguf(path, &mut file, length)?;
    let content = gguf_file::Content::read(&mut file).map_err(|e| match first_unreadable_tensor(path) {
        Some(tensor) => LoadError::Format(format!(
            "{}: tensor `{}` is stored as {}, a block type evalkit cannot read (it reads F32, F16, BF16, \
             Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and Q2_K to Q6_K); quantize the original f16 or bf16 \
             model to one of those instead, e.g. `llama-quantize model-f16.gguf model-q4_k_m.gguf Q4_K_M`",
            path.display(),
            tensor.name,
            tensor.type_name(),
        )),
        None => LoadError::Format(format!(
            "{} is not a readable GGUF file: {}; if it was downloaded, the download may be incomplete: \
             compare its size or SHA-256 with the source and fetch it again",
            path.display(),
            describe(&e)
        )),
    })?;
    check_tensor_extents(path, &content, length)?;
    Ok(WeightSource::Gguf { path: path.to_owned(), content })
}

/// An empty file, or one that does not start with `GGUF`, is said to be
/// that, with what evalkit reads instead, before candle's reader reports a
/// bad magic number.
fn not_a_gguf(path: &Path, file: &mut File, length: u64) -> Result<(), LoadError> {
    use std::io::{Read, Seek};
    let what_it_reads = "evalkit reads GGUF files (`*.gguf`) and Hugging Face model folders (config.json, \
                         tokenizer.json and *.safetensors)";
    if length == 0 {
        return Err(LoadError::Format(format!("{} is empty; {what_it_reads}", path.display())));
    }
    let mut magic = [0u8; 4];
    let read = file.read(&mut magic).map_err(|e| io_error(path, e))?;
    file.rewind().map_err(|e| io_error(path, e))?;
    if read < 4 || &magic != b"GGUF" {
        return Err(LoadError::Format(format!(
            "{} is not a GGUF file (it does not start with `GGUF`); {what_it_reads}",
            path.display()
        )));
    }
    Ok(())
}

/// Every tensor's bytes must lie inside the file. A download cut short in
/// the tensor data still has complete metadata, so without this it would
/// open, validate, and fail only when the run loads the weights.
fn check_tensor_extents(path: &Path, content: &gguf_file::Content, length: u64) -> Result<(), LoadError> {
    for (name, info) in &content.tensor_infos {
        let elements = info.shape.elem_count() as u64;
        let block = info.ggml_dtype.block_size().max(1) as u64;
        let bytes = (elements / block).saturating_mul(info.ggml_dtype.type_size() as u64);
        let start = content.tensor_data_offset.saturating_add(info.offset);
        let end = start.saturating_add(bytes);
        if end > length {
            return Err(LoadError::Format(format!(
                "{} is truncated: tensor `{name}` needs bytes {start}..{end}, but the file has {length} bytes; \
                 the download is incomplete, fetch it again (and compare its size or SHA-256 with the source)",
                path.display()
            )));
        }
    }
    Ok(())
}

/// List the `*.safetensors` files of a Hugging Face folder.
pub fn open_safetensors(dir: &Path, architecture: Architecture) -> Result<WeightSource, LoadError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io_error(dir, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(LoadError::Format(format!("{} has no *.safetensors files", dir.display())));
    }
    Ok(WeightSource::Safetensors { files, architecture })
}

fn read_safetensors(files: &[PathBuf]) -> Result<HashMap<String, Tensor>, LoadError> {
    let mut tensors = HashMap::new();
    for file in files {
        let loaded = candle_core::safetensors::load(file, &Device::Cpu)
            .map_err(|e| LoadError::Format(format!("{}: {}", file.display(), describe(&e))))?;
        // Multimodal checkpoints (Gemma 3 4B and larger) hold the text model under
        // `language_model.` (`model.language_model.` since transformers 4.52); llama.cpp's
        // converter drops that part of the name, and so do we.
        tensors.extend(loaded.into_iter().map(|(name, tensor)| (name.replace("language_model.", ""), tensor)));
    }
    Ok(tensors)
}

pub(super) fn io_error(path: &Path, error: std::io::Error) -> LoadError {
    LoadError::Io(format!("{}: {error}", path.display()))
}

/// GGUF tensor name → Hugging Face name.
fn hf_name(gguf: &str, architecture: Architecture) -> Option<String> {
    let (base, suffix) = gguf.rsplit_once('.')?;
    let top = match base {
        "token_embd" => Some("model.embed_tokens".to_owned()),
        "output_norm" => Some("model.norm".to_owned()),
        "output" => Some("lm_head".to_owned()),
        _ => None,
    };
    if let Some(top) = top {
        return Some(format!("{top}.{suffix}"));
    }
    let rest = base.strip_prefix("blk.")?;
    let (layer, part) = rest.split_once('.')?;
    let gemma = architecture == Architecture::Gemma3;
    let hf = match part {
        "attn_norm" => "input_layernorm",
        "attn_q" => "self_attn.q_proj",
        "attn_k" => "self_attn.k_proj",
        "attn_v" => "self_attn.v_proj",
        "attn_output" => "self_attn.o_proj",
        "attn_q_norm" => "self_attn.q_norm",
        "attn_k_norm" => "self_attn.k_norm",
        "post_attention_norm" => "post_attention_layernorm",
        // Llama's "post attention" norm is the MLP's input norm; Gemma has both.
        "ffn_norm" if gemma => "pre_feedforward_layernorm",
        "ffn_norm" => "post_attention_layernorm",
        "post_ffw_norm" => "post_feedforward_layernorm",
        "ffn_gate" => "mlp.gate_proj",
        "ffn_up" => "mlp.up_proj",
        "ffn_down" => "mlp.down_proj",
        _ => return None,
    };
    Some(format!("model.layers.{layer}.{hf}.{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_gguf_names_to_hugging_face_names() {
        assert_eq!(hf_name("token_embd.weight", Architecture::Llama).unwrap(), "model.embed_tokens.weight");
        assert_eq!(hf_name("blk.3.attn_q.bias", Architecture::Qwen2).unwrap(), "model.layers.3.self_attn.q_proj.bias");
        assert_eq!(
            hf_name("blk.0.ffn_norm.weight", Architecture::Llama).unwrap(),
            "model.layers.0.post_attention_layernorm.weight"
        );
        assert_eq!(
            hf_name("blk.0.ffn_norm.weight", Architecture::Gemma3).unwrap(),
            "model.layers.0.pre_feedforward_layernorm.weight"
        );
        assert_eq!(hf_name("blk.0.mystery.weight", Architecture::Llama), None);
    }
}
