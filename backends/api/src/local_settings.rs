//! Settings of local models that the rest of evalkit reads without the local
//! engine: how weights are held, where the model runs, and what identifies a
//! model file. A build without local models still parses and identifies a
//! `kind = "local"` backend (and says that it cannot run it).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::BackendIdentity;

/// How weights are held in memory and multiplied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightsMode {
    /// The file's quantized values exactly, computed the way llama.cpp's CPU
    /// backend computes them: activations rounded to Q8_0/Q8_1/Q8_K blocks
    /// before each quantized product, queries, keys and values to f16, GELU
    /// inputs to f16. Common block types run on evalkit's integer kernels
    /// (`backends/local/src/int8.rs`); others are held dequantized (exactly) in f32 for f32
    /// GEMM. Safetensors load as f32.
    #[default]
    Stored,
    /// Kept quantized in memory and multiplied by candle's quantized kernels:
    /// the least memory, but slow for block types candle has no SIMD kernel
    /// for (Q5_0, Q4_1, Q5_1).
    Quantized,
    /// Dequantized to f32: about four times the memory of Q4, and much faster
    /// on CPUs where candle has no SIMD kernel for the stored block type.
    F32,
    /// Dequantized to f16: half the memory of f32.
    F16,
}

impl WeightsMode {
    /// The name used in suites and results.
    pub fn name(self) -> &'static str {
        match self {
            Self::Stored => "stored",
            Self::Quantized => "quantized",
            Self::F32 => "f32",
            Self::F16 => "f16",
        }
    }
}

/// Where to run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceChoice {
    /// The CPU.
    #[default]
    Cpu,
    /// The first CUDA GPU, falling back to the CPU (with a message) when
    /// evalkit was built without the `cuda` feature or no GPU is usable.
    Cuda,
}

/// What names a local model in reports before it is opened: its path, and
/// as the "model" its file name and weights mode. The opened backend adds
/// what the cache key needs besides (the file's content hash, the device,
/// the chat template): see `evalkit_local::LocalBackend`.
pub fn identity(path: &Path, weights: WeightsMode) -> BackendIdentity {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    BackendIdentity {
        kind: "local".to_owned(),
        endpoint: path.display().to_string(),
        model: format!("{name} [weights {}]", weights.name()),
        settings: Default::default(),
    }
}
