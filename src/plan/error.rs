//! The planner's error: an option out of range, a profile that fails its checks, or no layout
//! that fits — with the closest layout, vLLM's reason and what would fit.

use std::fmt;

use super::layout::Layout;
use super::options::{CHECKPOINT_SIZE_FACTOR, MAX_NODES};
use super::rules::Rejection;
use crate::error::base::ErrorKind;
use crate::units::gib;

/// Why no plan could be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// An option is out of range.
    #[error("{option}: {message}")]
    InvalidOption {
        #[allow(missing_docs)]
        option: crate::OptionName,
        /// What is wrong and what is accepted.
        message: String,
    },
    /// `--max-model-len` exceeds what the model accepts.
    #[error(
        "--max-model-len {requested} is greater than the derived max_model_len \
         (max_position_embeddings={max_position_embeddings} in {model}'s config.json); \
         vLLM refuses it. Use at most {max_position_embeddings}, or `auto`"
    )]
    MaxModelLenTooLong {
        /// Requested length.
        requested: u64,
        /// The model's limit.
        max_position_embeddings: u64,
        #[allow(missing_docs)]
        model: String,
    },
    /// No layout within the constraints fits.
    #[error("{0}")]
    Infeasible(Box<Infeasible>),
    /// A checkpoint size that cannot be this model's weights.
    #[error(
        "the checkpoint size {checkpoint_bytes} bytes is not model {model}'s: its parameters \
         make {computed_bytes} bytes, and a checkpoint more than {CHECKPOINT_SIZE_FACTOR}× off \
         belongs to another model or was altered; check the safetensors index or checkpoint_bytes"
    )]
    CheckpointSize {
        #[allow(missing_docs)]
        model: String,
        /// The size given.
        checkpoint_bytes: u64,
        /// lwsplan's own count.
        computed_bytes: u64,
    },
    /// A model or hardware profile built in code or deserialized without its checks is
    /// invalid: planning runs the same checks as loading a profile file.
    #[error(transparent)]
    Profile(#[from] crate::profile::ProfileError),
    /// vLLM refuses the checkpoint's quantization on this GPU (its compute capability is
    /// below the method's or the scheme's minimum); the message is vLLM's.
    #[error(
        "{model}'s quantization on {gpu} (compute capability {compute_capability}): vLLM \
         refuses it: \"{message}\"; use a newer GPU or an unquantized checkpoint"
    )]
    QuantizationNotSupported {
        /// Model id.
        model: String,
        /// GPU name.
        gpu: String,
        /// Its compute capability.
        compute_capability: String,
        /// vLLM's message.
        message: String,
    },
    /// The profile describes more parameters than any deployment could hold.
    #[error(
        "model {model} has {parameters} parameters by its profile, more than the 10^15 lwsplan \
         plans for: check the profile's sizes (num_hidden_layers, hidden_size, experts)"
    )]
    ModelTooLarge {
        #[allow(missing_docs)]
        model: String,
        /// Parameters the profile describes.
        parameters: u128,
    },
}

impl PlanError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PlanError::Infeasible(_) => ErrorKind::Infeasible,
            _ => ErrorKind::InvalidInput,
        }
    }
}

/// Why no layout within the constraints fits, and what would.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Infeasible {
    #[allow(missing_docs)]
    pub model: String,
    /// The model's weights (the checkpoint's size when known).
    pub weight_bytes: u64,
    /// The node shape, e.g. `8 × NVIDIA H100 80GB HBM3`.
    pub hardware: String,
    /// Whether the layout was pinned by the options.
    pub forced: bool,
    /// What the options pinned, in words (`TP 16 on 1 node`), for when no layout was even
    /// tried.
    pub pinned: String,
    /// The closest layout and why it fails.
    pub closest: Option<(Layout, Rejection)>,
    /// What to change.
    pub remedy: Remedy,
}

/// What to change when nothing fits.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Remedy {
    /// A forced node count is too small: this layout on more nodes fits.
    MoreNodes {
        /// The smallest layout that fits.
        layout: Layout,
    },
    /// The forced layout fails, this one fits.
    Instead {
        /// The smallest layout that fits.
        layout: Layout,
    },
    /// Nothing fits even when the layout is free.
    NothingFits,
    /// A fixed context does not fit: shorten it, or cache in FP8.
    ShorterContext,
    /// The weights do not fit: a larger GPU or a quantized checkpoint.
    LargerGpu,
    /// No attention backend runs the model on this GPU: a newer one.
    NewerGpu,
}

impl fmt::Display for Infeasible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = format!(
            "{} ({}) on {}",
            self.model,
            gib(self.weight_bytes),
            self.hardware
        );
        if self.forced {
            write!(f, "the requested layout for {what} does not work")?;
        } else {
            write!(f, "{what} does not fit on up to {MAX_NODES} nodes")?;
        }
        if let Some((layout, rejection)) = &self.closest {
            let rejection = rejection.to_string();
            write!(f, ": {layout}: {}", rejection.trim_end_matches('.'))?;
        } else if self.forced {
            // Nothing was tried: the pinned sizes themselves admit no layout.
            write!(
                f,
                ": no layout has {} (their GPUs do not make whole nodes of this shape)",
                self.pinned
            )?;
        }
        match &self.remedy {
            Remedy::MoreNodes { layout } => write!(
                f,
                ". It needs at least {} nodes of {}: weights alone are {}; TP {} × PP {} on {} nodes fits",
                layout.nodes,
                self.hardware,
                gib(self.weight_bytes),
                layout.tensor_parallel_size,
                layout.pipeline_parallel_size,
                layout.nodes
            ),
            Remedy::Instead { layout } => write!(
                f,
                ". What fits instead: TP {} × PP {} on {} node(s)",
                layout.tensor_parallel_size, layout.pipeline_parallel_size, layout.nodes
            ),
            Remedy::NothingFits => write!(f, ". No layout of up to {MAX_NODES} nodes fits either"),
            Remedy::ShorterContext => f.write_str(
                ". Try a smaller --max-model-len, --kv-cache-dtype fp8, or a larger GPU",
            ),
            Remedy::LargerGpu => {
                f.write_str(". Use a GPU with more memory or a quantized checkpoint")
            }
            Remedy::NewerGpu => {
                f.write_str(". Use a Hopper or Blackwell GPU (compute capability 9.0 or newer)")
            }
        }
    }
}
