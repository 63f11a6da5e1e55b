//! Hardware profiles: one GPU model in one node shape, and the labels that select such nodes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ProfileError, Source, require_at_most, require_positive};

/// A GPU node type: the GPU, how many a node has, and how Kubernetes finds such nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HardwareProfile {
    /// Short id used on the command line, e.g. `h100-80gb`.
    pub id: String,
    /// The GPU's name as NVML reports it, e.g. `NVIDIA H100 80GB HBM3`.
    pub name: String,
    /// The GPU.
    pub gpu: Gpu,
    /// The node that holds the GPUs.
    pub node: Node,
    /// Node label values that select this hardware.
    pub labels: NodeLabels,
    /// Where each fact comes from.
    pub sources: Vec<Source>,
}

/// One GPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Gpu {
    /// Total memory as CUDA reports it (`cudaMemGetInfo`, PyTorch `mem_get_info()`), in bytes.
    /// vLLM's budget is `gpu_memory_utilization` times this, not the marketing figure. Bytes,
    /// or a quantity such as `79.18Gi`.
    #[serde(deserialize_with = "crate::units::bytes")]
    #[schemars(with = "crate::units::ByteSize")]
    pub memory_bytes: u64,
    /// CUDA compute capability, `major.minor` (e.g. `9.0` for Hopper).
    pub compute_capability: String,
    /// Whether the GPU computes in FP8 (compute capability 8.9 or later). Without it vLLM runs
    /// FP8 checkpoints weight-only (FP8 Marlin): still one byte per weight.
    pub native_fp8: bool,
    /// Memory bandwidth, GB/s (10^9 bytes per second).
    pub memory_bandwidth_gb_per_s: u64,
    /// Dense (no sparsity) tensor-core peak, TFLOP/s, for the performance estimate; absent:
    /// no estimate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dense_tflops: Option<DenseTflops>,
    /// How the GPUs of one node talk to each other.
    pub interconnect: Interconnect,
}

/// Dense tensor-core peaks by operand type, TFLOP/s (the datasheet's figures without
/// structured sparsity).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DenseTflops {
    /// BF16 / FP16 operands.
    pub bf16: f64,
    /// FP8 operands, on GPUs that compute in FP8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp8: Option<f64>,
    /// FP4 operands (NVFP4), on GPUs with FP4 tensor cores (compute capability 10.0 and
    /// later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp4: Option<f64>,
}

/// The intra-node GPU link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Interconnect {
    /// `nvlink` or `pcie`. Tensor parallelism wants NVLink; without it, prefer pipeline stages.
    pub kind: InterconnectKind,
    /// Per-GPU bandwidth of the link, GB/s.
    pub bandwidth_gb_per_s: u64,
}

/// An intra-node link type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum InterconnectKind {
    /// NVLink (with NVSwitch on HGX boards).
    Nvlink,
    /// PCIe only.
    Pcie,
}

/// A node shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// GPUs per node (overridable with `--gpus-per-node`).
    pub gpus: u64,
    /// Host memory of the node: bytes, or a quantity such as `1872Gi`. Bounds `/dev/shm`,
    /// which is memory-backed.
    #[serde(deserialize_with = "crate::units::bytes")]
    #[schemars(with = "crate::units::ByteSize")]
    pub host_memory_bytes: u64,
    /// A machine type with this shape, for the reader (e.g. `a3-highgpu-8g`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_type: Option<String>,
    /// Other node shapes with the same GPU (1, 2, 4 or 16 GPUs), chosen with `--gpus-per-node`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shapes: Vec<NodeShape>,
    /// What NCCL's transfers between nodes of this type run over when nothing else is said
    /// (`--network` overrides it): pod networking over TCP unless the node type comes with a
    /// faster fabric.
    #[serde(default)]
    pub network: Network,
}

/// How the GPUs of different nodes reach each other: what NCCL's inter-node all-reduces,
/// pipeline hand-offs and expert all-to-alls run over. It decides what the pods need (device
/// plugins, annotations, sidecars, NCCL's environment) and what those transfers cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Network {
    /// The pods' own network over TCP sockets: works everywhere, slowest.
    #[default]
    Tcp,
    /// GKE A3 High (`a3-highgpu-8g`): GPUDirect-TCPX, four NICs per node, a receive-datapath
    /// sidecar and its NCCL plugin.
    Tcpx,
    /// GKE A3 Mega (`a3-megagpu-8g`): GPUDirect-TCPXO, eight NICs per node, a sidecar and its
    /// NCCL plugin.
    Tcpxo,
    /// GPUDirect RDMA (InfiniBand or RoCE), one NIC per GPU: an RDMA device plugin on-prem,
    /// GKE's RDMA multi-networking and gIB NCCL plugin on A3 Ultra and A4.
    Rdma,
    /// NVLink across the trays of one NVL72 rack (GB200, GB300): multi-node NVLink.
    Nvlink,
}

impl Network {
    /// The name `--network` and profiles use.
    pub fn as_str(self) -> &'static str {
        match self {
            Network::Tcp => "tcp",
            Network::Tcpx => "tcpx",
            Network::Tcpxo => "tcpxo",
            Network::Rdma => "rdma",
            Network::Nvlink => "nvlink",
        }
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Another node shape with the same GPU: same labels, other GPU count and host memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeShape {
    /// GPUs per node.
    pub gpus: u64,
    /// Host memory of the node: bytes, or a quantity.
    #[serde(deserialize_with = "crate::units::bytes")]
    #[schemars(with = "crate::units::ByteSize")]
    pub host_memory_bytes: u64,
    /// The machine type with this shape.
    pub machine_type: String,
}

/// Node label values that select this hardware. Give the one your platform uses (both for
/// a built-in); the render refuses a platform whose label is missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeLabels {
    /// Value of `cloud.google.com/gke-accelerator` (GKE and Google Distributed Cloud), for
    /// `--platform gke`.
    #[serde(default)]
    pub gke_accelerator: String,
    /// Value of `nvidia.com/gpu.product` (NVIDIA GPU feature discovery), for
    /// `--platform nvidia`.
    #[serde(default)]
    pub gpu_product: String,
}

/// Bounds far above any real GPU or node.
const MAX_GPU_MEMORY: u64 = 1 << 44; // 16 TiB
const MAX_GPUS_PER_NODE: u64 = 1024;
const MAX_HOST_MEMORY: u64 = 1 << 50;
/// The oldest GPUs vLLM supports: compute capability 7.0 (vLLM `docs/getting_started/installation/gpu`).
const MIN_SM: u64 = 70;

impl Gpu {
    /// Compute capability as `major * 10 + minor` (90 for 9.0), as vLLM compares it.
    pub fn sm(&self) -> u64 {
        parse_compute_capability(&self.compute_capability).unwrap_or(0)
    }
}

fn parse_compute_capability(text: &str) -> Option<u64> {
    let (major, minor) = text.split_once('.')?;
    let major: u64 = major.parse().ok()?;
    let minor: u64 = minor.parse().ok()?;
    (minor < 10 && major < 100).then_some(major * 10 + minor)
}

impl HardwareProfile {
    /// The node shape with `gpus` GPUs: the default node or one of `node.shapes`.
    pub fn shape(&self, gpus: u64) -> Option<NodeShape> {
        if gpus == self.node.gpus {
            return Some(NodeShape {
                gpus,
                host_memory_bytes: self.node.host_memory_bytes,
                machine_type: self.node.machine_type.clone().unwrap_or_default(),
            });
        }
        self.node.shapes.iter().find(|s| s.gpus == gpus).cloned()
    }

    /// Parses a hardware profile from YAML and checks it; `origin` names the file in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Self, ProfileError> {
        let profile: Self = super::parse(text, origin)?;
        profile.check(origin)?;
        Ok(profile)
    }

    /// Reads and checks a hardware profile file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, ProfileError> {
        Self::from_yaml(
            &super::read(path, crate::io::MAX_SMALL_FILE, "a profile")?,
            &path.display().to_string(),
        )
    }

    /// Checks what the types cannot: sizes positive and bounded, labels present.
    pub fn check(&self, origin: &str) -> Result<(), ProfileError> {
        let invalid = |field: &str, message: &str| ProfileError::Invalid {
            origin: origin.to_string(),
            field: field.to_string(),
            message: message.to_string(),
        };
        if self.id.is_empty() {
            return Err(invalid("id", "must not be empty"));
        }
        require_positive(origin, "gpu.memory_bytes", self.gpu.memory_bytes)?;
        require_at_most(
            origin,
            "gpu.memory_bytes",
            self.gpu.memory_bytes,
            MAX_GPU_MEMORY,
        )?;
        require_positive(origin, "node.gpus", self.node.gpus)?;
        require_at_most(origin, "node.gpus", self.node.gpus, MAX_GPUS_PER_NODE)?;
        require_positive(
            origin,
            "node.host_memory_bytes",
            self.node.host_memory_bytes,
        )?;
        require_at_most(
            origin,
            "node.host_memory_bytes",
            self.node.host_memory_bytes,
            MAX_HOST_MEMORY,
        )?;
        for (i, shape) in self.node.shapes.iter().enumerate() {
            let field = |name: &str| format!("node.shapes[{i}].{name}");
            require_positive(origin, &field("gpus"), shape.gpus)?;
            require_at_most(origin, &field("gpus"), shape.gpus, MAX_GPUS_PER_NODE)?;
            require_positive(origin, &field("host_memory_bytes"), shape.host_memory_bytes)?;
            require_at_most(
                origin,
                &field("host_memory_bytes"),
                shape.host_memory_bytes,
                MAX_HOST_MEMORY,
            )?;
        }
        match parse_compute_capability(&self.gpu.compute_capability) {
            None => {
                return Err(invalid(
                    "gpu.compute_capability",
                    "expected `major.minor`, e.g. `9.0`",
                ));
            }
            Some(sm) if sm < MIN_SM => {
                return Err(invalid(
                    "gpu.compute_capability",
                    "vLLM runs on compute capability 7.0 (Volta) or later",
                ));
            }
            Some(_) => {}
        }
        if self.labels.gke_accelerator.is_empty() && self.labels.gpu_product.is_empty() {
            return Err(invalid(
                "labels",
                "give gke_accelerator (GKE) or gpu_product (NVIDIA GPU feature discovery): the \
                 node selector needs one",
            ));
        }
        Ok(())
    }
}
