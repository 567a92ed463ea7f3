//! evalkit's local model engine: GGUF files or Hugging Face safetensors
//! folders, run in-process on candle on the CPU (or a CUDA GPU with the `cuda`
//! feature), with token log-likelihoods for perplexity and multiple-choice
//! scoring. It implements [`evalkit_model_api::Backend`] and knows nothing of suites.
//!
//! Opening a [`LocalBackend`] reads the model's metadata and tokenizer only,
//! so `evalkit validate` is quick and catches a wrong path or an unsupported
//! architecture; the weights load on the first request.

#![deny(missing_docs)]

mod act_quant;
mod chat;
mod config;
mod content_id;
mod cpu_ops;
mod engine;
mod gguf_metadata;
mod gguf_types;
mod int8;
mod model;
mod sampling;
mod tokenizer;
mod weights;
mod widen;

pub use config::{Architecture, ModelConfig, RopeScaling, SUPPORTED as SUPPORTED_ARCHITECTURES};
pub use engine::DEFAULT_MAX_TOKENS;
pub use evalkit_model_api::local_settings::{identity, DeviceChoice, WeightsMode};
pub use sampling::{Sampler, SamplingParams};
pub use tokenizer::{LocalTokenizer, TokenizerError};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use candle_core::Device;
use sha2::Digest;
use tokio::sync::OnceCell;

use chat::ChatTemplate;
use engine::Engine;
use evalkit_model_api::{
    Backend, BackendError, BackendIdentity, BoxFuture, Capabilities, GenRequest, Response, RuntimeInfo,
};
use weights::{open_gguf, open_safetensors, Loader, WeightSource};

/// Why a model could not be opened or loaded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LoadError {
    /// The file or folder could not be read.
    #[error("{0}")]
    Io(String),
    /// The file is not a model evalkit understands.
    #[error("{0}")]
    Format(String),
    /// The architecture is not one evalkit implements.
    #[error("unsupported architecture `{0}`; evalkit runs {SUPPORTED}", SUPPORTED = config::SUPPORTED)]
    Unsupported(String),
    /// A tensor the architecture needs is absent.
    #[error("the model has no tensor `{0}`")]
    MissingTensor(String),
    /// The tokenizer could not be built.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
}

impl From<gguf_metadata::WrongType> for LoadError {
    fn from(error: gguf_metadata::WrongType) -> Self {
        LoadError::Format(error.to_string())
    }
}

/// A candle error as one readable message: without the backtrace candle
/// attaches when `RUST_BACKTRACE` is set, which belongs in no user-facing error.
pub(crate) fn describe(error: &candle_core::Error) -> String {
    match error {
        candle_core::Error::WithBacktrace { inner, .. } => describe(inner),
        candle_core::Error::Context { inner, context } => format!("{context}: {}", describe(inner)),
        candle_core::Error::WithPath { inner, path } => format!("{}: {}", path.display(), describe(inner)),
        other => other.to_string(),
    }
}

/// How to open a local model.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalConfig {
    /// A `.gguf` file, or a folder with config.json, *.safetensors and tokenizer.json.
    pub model: PathBuf,
    /// Weights as stored, or dequantized.
    pub weights: WeightsMode,
    /// Where to run.
    pub device: DeviceChoice,
    /// Positions per forward pass when reading a prompt.
    pub n_batch: usize,
    /// A chat template to use instead of the model's own (Jinja source).
    pub chat_template: Option<String>,
}

/// A local model behind the [`Backend`] trait.
pub struct LocalBackend {
    config: LocalConfig,
    info: OpenedModel,
    engine: OnceCell<Arc<Engine>>,
    runtime: std::sync::Mutex<Option<RuntimeInfo>>,
    /// Chosen when the model is opened (a CUDA request may fall back to the
    /// CPU), so that the identity names the device that will really run it.
    device: (Device, String),
    identity: BackendIdentity,
}

/// What opening (not loading) a model finds out.
struct OpenedModel {
    source: Arc<WeightSource>,
    model_config: ModelConfig,
    tokenizer: LocalTokenizer,
    chat_template: Option<String>,
}

/// The cache key's view of a local model: the file's content (not its name
/// or modification time), the weights mode, the device it runs on and the
/// chat template that turns chat prompts into text. Each changes the answers.
fn backend_identity(config: &LocalConfig, info: &OpenedModel, device: &str) -> Result<BackendIdentity, LoadError> {
    let mut identity = identity(&config.model, config.weights);
    let content = content_id::content_id(&config.model).map_err(|e| weights::io_error(&config.model, e))?;
    identity.settings.insert("content".to_owned(), content);
    identity.settings.insert("device".to_owned(), device.to_owned());
    if let Some(template) = &info.chat_template {
        let digest = content_id::hex(&sha2::Sha256::digest(template.as_bytes()));
        identity.settings.insert("chat_template".to_owned(), format!("sha256:{digest}"));
    }
    Ok(identity)
}

impl LocalBackend {
    /// Read the model's metadata and tokenizer; the weights load on first use.
    pub fn open(config: LocalConfig) -> Result<Self, LoadError> {
        let info = open_model(&config)?;
        let device = pick_device(config.device);
        let identity = backend_identity(&config, &info, &device.1)?;
        Ok(LocalBackend {
            config,
            info,
            engine: OnceCell::new(),
            runtime: std::sync::Mutex::new(None),
            device,
            identity,
        })
    }

    /// The architecture and shape read from the model.
    pub fn model_config(&self) -> &ModelConfig {
        &self.info.model_config
    }

    /// The model's tokenizer.
    pub fn tokenizer(&self) -> &LocalTokenizer {
        &self.info.tokenizer
    }

    async fn engine(&self) -> Result<Arc<Engine>, BackendError> {
        self.engine
            .get_or_try_init(|| async {
                let config = self.config.clone();
                let source = Arc::clone(&self.info.source);
                let model_config = self.info.model_config.clone();
                let tokenizer = self.info.tokenizer.clone();
                let template = self.info.chat_template.clone();
                let device = self.device.clone();
                let loaded = tokio::task::spawn_blocking(move || {
                    load_engine(&config, &source, model_config, tokenizer, template, device)
                })
                .await
                .map_err(|e| fatal(format!("loading the model panicked: {e}")))?;
                let (engine, runtime) = loaded.map_err(|e| fatal(e.to_string()))?;
                *self.runtime.lock().unwrap_or_else(|p| p.into_inner()) = Some(runtime);
                Ok(Arc::new(engine))
            })
            .await
            .cloned()
    }
}

impl Backend for LocalBackend {
    fn capabilities(&self) -> Capabilities {
        // Generation runs to the end before answering, so there is no stream to time.
        Capabilities { score_text: true, ..Capabilities::default() }
    }

    fn identity(&self) -> BackendIdentity {
        self.identity.clone()
    }

    fn generate<'a>(&'a self, request: &'a GenRequest) -> BoxFuture<'a, Result<Response, BackendError>> {
        Box::pin(async move {
            let engine = self.engine().await?;
            let request = request.clone();
            tokio::task::spawn_blocking(move || match &request.score {
                Some(spec) => engine.score(&request, spec),
                None => engine.generate(&request),
            })
            .await
            .map_err(|e| fatal(format!("the model panicked: {e}")))?
            .map_err(fatal)
        })
    }

    fn runtime(&self) -> Option<RuntimeInfo> {
        let mut info = self.runtime.lock().unwrap_or_else(|p| p.into_inner()).clone()?;
        info.peak_rss_bytes = peak_rss_bytes();
        Some(info)
    }
}

/// Local failures are never worth retrying: the same input fails the same way.
fn fatal(message: impl Into<String>) -> BackendError {
    BackendError::Fatal { message: message.into() }
}

fn open_model(config: &LocalConfig) -> Result<OpenedModel, LoadError> {
    let path = &config.model;
    let meta = std::fs::metadata(path).map_err(|e| weights::io_error(path, e))?;
    if meta.is_dir() {
        if !path.join("config.json").is_file() {
            return Err(LoadError::Format(format!(
                "{} has no config.json: a model folder holds config.json, tokenizer.json and *.safetensors, as \
                 downloaded from Hugging Face; for a single-file model, give the path of its .gguf file",
                path.display()
            )));
        }
        let read =
            |name: &str| std::fs::read_to_string(path.join(name)).map_err(|e| weights::io_error(&path.join(name), e));
        let hf_config: serde_json::Value = serde_json::from_str(&read("config.json")?)
            .map_err(|e| LoadError::Format(format!("{}: {e}", path.join("config.json").display())))?;
        let model_config = ModelConfig::from_hf(&hf_config)?;
        let tokenizer = LocalTokenizer::from_hf_dir(path).map_err(|e| LoadError::Tokenizer(e.to_string()))?;
        let chat_template = config.chat_template.clone().or_else(|| hf_chat_template(path));
        let source = open_safetensors(path, model_config.architecture)?;
        Ok(OpenedModel { source: Arc::new(source), model_config, tokenizer, chat_template })
    } else {
        let source = open_gguf(path)?;
        let WeightSource::Gguf { content, .. } = &source else { unreachable!("open_gguf returns GGUF sources") };
        let model_config = ModelConfig::from_gguf(&content.metadata)?;
        let tokenizer =
            LocalTokenizer::from_gguf(&content.metadata).map_err(|e| LoadError::Tokenizer(e.to_string()))?;
        let own_template = gguf_metadata::Metadata(&content.metadata).str("tokenizer.chat_template")?;
        let chat_template = config.chat_template.clone().or_else(|| own_template.map(str::to_owned));
        Ok(OpenedModel { source: Arc::new(source), model_config, tokenizer, chat_template })
    }
}

fn hf_chat_template(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("tokenizer_config.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json.get("chat_template").and_then(|t| t.as_str()).map(str::to_owned)
}

fn load_engine(
    config: &LocalConfig,
    source: &WeightSource,
    model_config: ModelConfig,
    tokenizer: LocalTokenizer,
    template: Option<String>,
    (device, device_name): (Device, String),
) -> Result<(Engine, RuntimeInfo), LoadError> {
    let started = Instant::now();
    let loader = Loader::new(source, config.weights, device.clone())?;
    let architecture = model_config.architecture;
    // "stored" reproduces llama.cpp's arithmetic, f16 rounding included.
    let model = model::Model::load(model_config, loader, &device, config.weights == WeightsMode::Stored)?;
    let text_of = |id: Option<u32>| id.and_then(|id| tokenizer.token_text(id)).unwrap_or_default();
    let chat_template = match template {
        Some(source) => Some(
            ChatTemplate::new(source, text_of(tokenizer.bos_id()), text_of(tokenizer.eos_ids().first().copied()))
                .map_err(LoadError::Format)?,
        ),
        None => None,
    };
    let runtime = RuntimeInfo {
        architecture: architecture.name().to_owned(),
        weights: config.weights.name().to_owned(),
        stored_types: model.loaded.stored_types.clone(),
        device: device_name,
        threads: candle_core::utils::get_num_threads(),
        load_seconds: started.elapsed().as_secs_f64(),
        weights_bytes: model.loaded.bytes,
        peak_rss_bytes: None,
    };
    Ok((Engine { model, tokenizer, chat_template, n_batch: config.n_batch }, runtime))
}

fn pick_device(choice: DeviceChoice) -> (Device, String) {
    match choice {
        DeviceChoice::Cpu => (Device::Cpu, "cpu".to_owned()),
        DeviceChoice::Cuda => match Device::new_cuda(0) {
            Ok(device) => (device, "cuda:0".to_owned()),
            Err(error) => {
                eprintln!("warning: no usable CUDA GPU ({}); running on the CPU", describe(&error));
                (Device::Cpu, "cpu (cuda unavailable)".to_owned())
            }
        },
    }
}

/// The process's peak resident memory (Linux `VmHWM`).
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
