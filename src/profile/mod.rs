//! Model and hardware profiles: the architecture and machine facts the planner works from.
//!
//! A profile knows facts and their sources, nothing about vLLM flags' effects or Kubernetes
//! objects. Field names follow the spelling of Hugging Face `config.json` (models) and of
//! NVIDIA/GKE (hardware), so a reader can check a profile against its source line by line.
//!
//! Built-in profiles live in `profiles/*.yaml` and are embedded in the binary ([`Catalog`]);
//! users load their own with [`ModelProfile::from_yaml`] and [`HardwareProfile::from_yaml`].

mod catalog;
mod common;
mod hardware;
mod hf;
mod model;

pub use catalog::{Catalog, ids};
pub use common::{ProfileError, Source};
pub(crate) use common::{parse, read, require_at_most, require_positive};
pub use hardware::{
    Allocatable, DenseTflops, Gpu, HardwareProfile, Interconnect, InterconnectKind, Network, Node,
    NodeLabels, NodeShape,
};
#[cfg(test)]
pub(crate) use hf::fixture as hf_fixture;
pub use hf::{ModelType, SUPPORTED_MODEL_TYPES, SafetensorsIndex};
pub use model::{
    Attention, Dtype, Ffn, Indexer, LayerBlocks, LayerType, LinearAttention, Mlp, ModelProfile,
    MoeQuantAlgo, Quantization, VisionLinear, VisionParallel, VisionTower,
};

impl ProfileError {
    /// What kind of failure this is: I/O when the file could not be read, else invalid input.
    pub fn kind(&self) -> crate::ErrorKind {
        match self {
            ProfileError::Read { source, .. } if source.is_io() => crate::ErrorKind::Io,
            _ => crate::ErrorKind::InvalidInput,
        }
    }
}
