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
    /// FP4 operands (NVFP4, MXFP4 × MXFP4), on GPUs whose tensor cores compute in FP4
    /// (Blackwell).
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
#[non_exhaustive]
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
    /// What the kubelet lets pods use on this node (its allocatable), which bounds each pod's
    /// requests. Absent: lwsplan falls back on `host_memory_bytes` and a small CPU request, and
    /// says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocatable: Option<Allocatable>,
}

/// A node's allocatable resources: its capacity less what the kubelet reserves for the system
/// and for eviction (on GKE: <https://cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes>).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Allocatable {
    /// CPUs (cores, fractions allowed).
    pub cpu: f64,
    /// Memory: bytes, or a quantity such as `1827Gi`.
    #[serde(deserialize_with = "crate::units::bytes")]
    #[schemars(with = "crate::units::ByteSize")]
    pub memory_bytes: u64,
    /// Ephemeral storage (what backs `emptyDir` and the containers' writable layers): bytes or
    /// a quantity. Absent: unknown (a boot disk of the user's choosing), not checked.
    #[serde(
        default,
        deserialize_with = "crate::units::option_bytes",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<crate::units::ByteSize>")]
    pub ephemeral_storage_bytes: Option<u64>,
}

impl Allocatable {
    /// The share of this node that `gpus` of its `node_gpus` GPUs come with: a pod using part
    /// of a node gets that part of its CPU, memory and disk.
    pub fn share(&self, gpus: u64, node_gpus: u64) -> Allocatable {
        let part = |x: u64| {
            u64::try_from(u128::from(x) * u128::from(gpus) / u128::from(node_gpus.max(1)))
                .unwrap_or(x)
        };
        Allocatable {
            cpu: self.cpu * gpus as f64 / node_gpus.max(1) as f64,
            memory_bytes: part(self.memory_bytes),
            ephemeral_storage_bytes: self.ephemeral_storage_bytes.map(part),
        }
    }
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
    /// Its allocatable resources; absent: the default node's, scaled to the GPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocatable: Option<Allocatable>,
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
const MAX_CPUS: f64 = 1e5;
/// The oldest GPUs vLLM supports: compute capability 7.0 (vLLM `docs/getting_started/installation/gpu`).
const MIN_SM: u64 = 70;
/// 1 PB/s: far above any GPU's memory or link bandwidth (an H200's HBM is 4.8 TB/s).
const MAX_BANDWIDTH_GB_PER_S: u64 = 1_000_000;
/// 1 EFLOP/s per GPU: far above any datasheet (a B200's dense FP8 is 4.5 PFLOP/s).
const MAX_TFLOPS: f64 = 1e6;

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
                allocatable: self.node.allocatable,
            });
        }
        self.node.shapes.iter().find(|s| s.gpus == gpus).cloned()
    }

    /// The allocatable resources of a node with `gpus` GPUs: the shape's own, else the default
    /// node's scaled to that many GPUs; `None` when the profile gives none.
    pub fn allocatable(&self, gpus: u64) -> Option<Allocatable> {
        self.shape(gpus)
            .and_then(|s| s.allocatable)
            .or_else(|| Some(self.node.allocatable?.share(gpus, self.node.gpus)))
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

    /// Bandwidths and peaks divide the estimate's bytes and FLOPs: each must be a positive,
    /// finite figure a GPU could have, or the estimate comes out infinite, NaN or nonsense.
    fn check_rates(&self, origin: &str) -> Result<(), ProfileError> {
        for (field, value) in [
            (
                "gpu.memory_bandwidth_gb_per_s",
                self.gpu.memory_bandwidth_gb_per_s,
            ),
            (
                "gpu.interconnect.bandwidth_gb_per_s",
                self.gpu.interconnect.bandwidth_gb_per_s,
            ),
        ] {
            require_positive(origin, field, value)?;
            require_at_most(origin, field, value, MAX_BANDWIDTH_GB_PER_S)?;
        }
        let Some(peaks) = self.gpu.dense_tflops else {
            return Ok(());
        };
        for (field, value) in [
            ("gpu.dense_tflops.bf16", Some(peaks.bf16)),
            ("gpu.dense_tflops.fp8", peaks.fp8),
        ] {
            if let Some(v) = value
                && !(v.is_finite() && v > 0.0 && v <= MAX_TFLOPS)
            {
                return Err(ProfileError::Invalid {
                    origin: origin.to_string(),
                    field: field.to_string(),
                    message: format!(
                        "{} is not a peak a GPU has: give a positive number of TFLOP/s, at most \
                         {MAX_TFLOPS}",
                        crate::error::base::truncate(&v.to_string(), 24)
                    ),
                });
            }
        }
        Ok(())
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
        let allocatable = std::iter::once(("node.allocatable".to_string(), self.node.allocatable))
            .chain(
                self.node
                    .shapes
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (format!("node.shapes[{i}].allocatable"), s.allocatable)),
            );
        for (field, allocatable) in allocatable {
            let Some(a) = allocatable else { continue };
            if !(a.cpu.is_finite() && a.cpu > 0.0 && a.cpu <= MAX_CPUS) {
                return Err(invalid(
                    &format!("{field}.cpu"),
                    &format!("{} must be a number of CPUs in (0, {MAX_CPUS}]", a.cpu),
                ));
            }
            require_positive(origin, &format!("{field}.memory_bytes"), a.memory_bytes)?;
            require_at_most(
                origin,
                &format!("{field}.memory_bytes"),
                a.memory_bytes,
                MAX_HOST_MEMORY,
            )?;
        }
        if let Some(a) = self.node.allocatable
            && a.memory_bytes > self.node.host_memory_bytes
        {
            return Err(invalid(
                "node.allocatable.memory_bytes",
                "exceeds node.host_memory_bytes: allocatable is what remains of the node's \
                 memory after the system's reservation",
            ));
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
        self.check_rates(origin)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// GKE's reservation, as <https://cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes>
    /// states it: CPU 6 % of the first core, 1 % of the second, 0.5 % of the next two, 0.25 %
    /// of the rest; memory 25 % of the first 4 GiB, 20 % of the next 4, 10 % of the next 8, 6 %
    /// of the next 112, 2 % above 128, plus the 100 MiB eviction threshold.
    fn gke_allocatable(vcpus: f64, memory_gib: f64) -> (f64, f64) {
        let cpu = 0.06 + 0.01 + 0.005 * 2.0 + 0.0025 * (vcpus - 4.0).max(0.0);
        let tiers = [(4.0, 0.25), (4.0, 0.20), (8.0, 0.10), (112.0, 0.06)];
        let (mut left, mut memory) = (memory_gib, 0.0);
        for (size, rate) in tiers {
            memory += left.min(size) * rate;
            left = (left - size).max(0.0);
        }
        memory += left * 0.02 + 100.0 / 1024.0;
        (vcpus - cpu, memory_gib - memory)
    }

    #[test]
    fn builtin_allocatable_follows_gkes_reservation() {
        // vCPUs and memory per machine type: cloud.google.com/compute/docs/accelerator-optimized-machines
        // and .../general-purpose-machines (g2).
        let machines = [
            ("h100-80gb", 208.0, 1872.0),
            ("h100-mega-80gb", 208.0, 1872.0),
            ("h200-141gb", 224.0, 2952.0),
            ("b200", 224.0, 3968.0),
            ("a100-40gb", 96.0, 680.0),
            ("a100-80gb", 96.0, 1360.0),
            ("l4", 96.0, 384.0),
        ];
        let catalog = crate::Catalog::builtin();
        for (id, vcpus, memory) in machines {
            let a = catalog.hardware(id).unwrap().node.allocatable.unwrap();
            let (cpu, gib) = gke_allocatable(vcpus, memory);
            assert!(
                a.cpu <= cpu && cpu - a.cpu < 0.01,
                "{id}: {} vs {cpu}",
                a.cpu
            );
            let profile_gib = a.memory_bytes as f64 / (1u64 << 30) as f64;
            assert!(
                profile_gib <= gib && gib - profile_gib < 1.0,
                "{id}: {profile_gib} vs {gib}"
            );
        }
    }

    #[test]
    fn a_profile_without_allocatable_still_loads() {
        let catalog = crate::Catalog::builtin();
        let mut profile = catalog.hardware("h100-80gb").unwrap().clone();
        profile.node.allocatable = None;
        let yaml = crate::yaml::to_string(&profile).unwrap();
        let back = HardwareProfile::from_yaml(&yaml, "test").unwrap();
        assert_eq!(back.node.allocatable, None);
        assert_eq!(back.allocatable(8), None);
    }
}
