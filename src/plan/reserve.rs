//! Memory that is neither weights nor KV cache, and the size of `/dev/shm`.
//!
//! vLLM measures the non-KV memory at start-up (a profiling forward pass, `gpu_worker.py`
//! `determine_available_memory` @ 35d5cda123ec28581759b6d34cde8052314fb1e6): weights, the peak
//! of PyTorch activations at `max_num_batched_tokens`, non-torch memory (NCCL, cuBLAS and
//! attention workspaces) and, since v0.21, CUDA graphs (vllm PR #30515). A planner cannot run
//! that pass, so it estimates the last three here. The estimate is deliberately on the high
//! side: an overestimate costs some KV cache, an underestimate fails at start-up.

use serde::{Deserialize, Serialize};

use super::weights::VOCAB_PADDING;
use crate::profile::{Attention, Mlp, ModelProfile};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// Tokens in vLLM's profiling forward pass: `max_num_batched_tokens`, 8192 for the OpenAI
/// server on large GPUs in vLLM V1 (`vllm/engine/arg_utils.py`; unverified for every version,
/// smaller GPUs default lower, so 8192 errs on the high side).
pub const PROFILE_TOKENS: u64 = 8192;
/// Sequences in vLLM's dummy sampler run (`max_num_seqs`, 256 by default; unverified for
/// versions that raise it on large GPUs).
pub const PROFILE_SEQS: u64 = 256;
/// Bytes per activation element (BF16).
const ACT_BYTES: u64 = 2;
/// Hidden-sized activations alive at the peak: the hidden state, the residual, the normed input
/// and the attention output (an estimate from the decoder layer's dataflow; unverified).
const HIDDEN_COPIES: u64 = 4;
/// Non-torch memory on every GPU: cuBLAS and attention workspaces. vLLM's own example in
/// `gpu_worker.py` shows 1 GiB of non-torch memory; half of it is workspaces (estimate).
const NON_TORCH_BASE: u64 = 512 * MIB;
/// NCCL communicators and vLLM's custom all-reduce buffers when TP > 1 (estimate; KAITO's
/// measured DeepSeek-R1 PP=2 overhead of 2.4 to 6.6 GiB per stage bounds the total, kaito PR #2139).
const NON_TORCH_TP: u64 = GIB;
/// The pipeline-parallel NCCL group (send/recv between stages; estimate).
const NON_TORCH_PP: u64 = 256 * MIB;
/// CUDA graphs captured at the default capture sizes: "typically 0.2–2 GiB" (vllm PR #30515,
/// #45178); MoE kernels capture more (about 5 GiB for TP4 with EP, vllm #53013). Upper end of the
/// typical range for dense models, twice that for MoE (estimate).
const CUDA_GRAPHS_DENSE: u64 = GIB;
const CUDA_GRAPHS_MOE: u64 = 2 * GIB;

/// Per-GPU memory held back from the KV cache on one pipeline stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Reserve {
    /// Peak PyTorch activations of the profiling pass (plus the sampler's logits on the last stage).
    pub activation_bytes: u64,
    /// Memory outside PyTorch's allocator: NCCL, custom all-reduce, cuBLAS workspaces.
    pub non_torch_bytes: u64,
    /// CUDA graphs, which vLLM ≥ 0.21 subtracts from the KV budget.
    pub cuda_graph_bytes: u64,
}

impl Reserve {
    /// Total reserved bytes.
    pub fn total(&self) -> u64 {
        self.activation_bytes + self.non_torch_bytes + self.cuda_graph_bytes
    }
}

/// The widest activation one rank materialises inside a layer, in elements per token.
fn widest_intermediate(model: &ModelProfile, tp: u64) -> u64 {
    let attention = match &model.attention {
        Attention::Gqa {
            num_attention_heads,
            num_key_value_heads,
            head_dim,
            ..
        } => (num_attention_heads / tp + 2 * (num_key_value_heads / tp).max(1)) * head_dim,
        Attention::Mla {
            num_attention_heads,
            qk_nope_head_dim,
            qk_rope_head_dim,
            v_head_dim,
            ..
        } => {
            num_attention_heads / tp
                * (qk_nope_head_dim + qk_rope_head_dim + qk_nope_head_dim + v_head_dim)
        }
    };
    let mlp = match &model.mlp {
        Mlp::Dense { intermediate_size } => 2 * intermediate_size / tp,
        Mlp::Moe {
            intermediate_size,
            moe_intermediate_size,
            num_experts_per_tok,
            ..
        } => {
            // Fused MoE keeps gate+up outputs for every routed copy of every token.
            (2 * intermediate_size / tp).max(num_experts_per_tok * 2 * moe_intermediate_size / tp)
        }
    };
    attention.max(mlp)
}

/// The reserve on one GPU of a stage with `tp` ranks; `last` adds the sampler's logits.
pub fn reserve(model: &ModelProfile, tp: u64, pp: u64, last: bool) -> Reserve {
    let hidden = PROFILE_TOKENS * model.hidden_size * ACT_BYTES * HIDDEN_COPIES;
    let intermediate = PROFILE_TOKENS * widest_intermediate(model, tp) * ACT_BYTES;
    // FP32 logits over the padded vocabulary and the sampler's softmax of them.
    let logits = if last {
        PROFILE_SEQS * model.vocab_size.div_ceil(VOCAB_PADDING) * VOCAB_PADDING * 4 * 2
    } else {
        0
    };
    let non_torch = NON_TORCH_BASE
        + if tp > 1 { NON_TORCH_TP } else { 0 }
        + if pp > 1 { NON_TORCH_PP } else { 0 };
    let cuda_graphs = match model.mlp {
        Mlp::Dense { .. } => CUDA_GRAPHS_DENSE,
        Mlp::Moe { .. } => CUDA_GRAPHS_MOE,
    };
    Reserve {
        activation_bytes: hidden + intermediate + logits,
        non_torch_bytes: non_torch,
        cuda_graph_bytes: cuda_graphs,
    }
}

/// How the pods of a group start vLLM: it decides what else lives in `/dev/shm`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Launcher {
    /// vLLM's own multi-node mode: `vllm serve --nnodes --node-rank --master-addr`, `--headless`
    /// on workers (multiprocessing executor, no Ray).
    #[default]
    Native,
    /// A Ray cluster per group (`ray_init.sh` / `multi-node-serving.sh`), vLLM on the Ray executor.
    Ray,
}

/// Where `/dev/shm`'s size comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Shm {
    /// NCCL's shared-memory transport and proxy buffers among the pod's GPUs.
    pub nccl_bytes: u64,
    /// vLLM's shared-memory message queues (the broadcast to workers and each worker's reply).
    pub message_queue_bytes: u64,
    /// Ray's object store, when the Ray launcher is used.
    pub ray_object_store_bytes: u64,
    /// The size to mount: the sum with 30 % headroom, rounded up to a GiB, capped by the node.
    pub size_bytes: u64,
    /// Whether the cap (a quarter of host memory) cut the size down.
    pub capped: bool,
}

/// NCCL buffers per GPU of the pod: 2 GiB for an 8-GPU pod, the size llm-d's guides give
/// /dev/shm "for NCCL 2.27" (estimate; unverified per NCCL version).
const NCCL_PER_GPU: u64 = 256 * MIB;
/// One vLLM message queue: `max_chunks` 10 × `VLLM_MQ_MAX_CHUNK_BYTES_MB` 16 MiB
/// (`vllm/distributed/device_communicators/shm_broadcast.py`; unverified per version).
const MESSAGE_QUEUE: u64 = 10 * 16 * MIB;
/// Ray object store kept in /dev/shm (Ray falls back to /tmp, slowly, when /dev/shm is
/// smaller than it wants; estimate, unverified).
const RAY_OBJECT_STORE: u64 = 8 * GIB;
/// Headroom over the sum, as vllm PR #51241's proposed calculator adds.
const SHM_HEADROOM_PERCENT: u64 = 30;
/// /dev/shm is memory-backed and counts against the pod's memory: keep it to a quarter of the
/// node, leaving the rest for loading weights and the server itself.
const SHM_MAX_FRACTION: u64 = 4;

/// The `/dev/shm` size for a pod with `gpus_per_pod` GPUs on a node with `host_memory` bytes.
pub fn shm(gpus_per_pod: u64, launcher: Launcher, host_memory: u64) -> Shm {
    let nccl = gpus_per_pod * NCCL_PER_GPU;
    let queues = (1 + gpus_per_pod) * MESSAGE_QUEUE;
    let ray = match launcher {
        Launcher::Native => 0,
        Launcher::Ray => RAY_OBJECT_STORE,
    };
    let wanted = (nccl + queues + ray) * (100 + SHM_HEADROOM_PERCENT) / 100;
    let wanted = wanted.div_ceil(GIB) * GIB;
    let cap = host_memory / SHM_MAX_FRACTION / GIB * GIB;
    Shm {
        nccl_bytes: nccl,
        message_queue_bytes: queues,
        ray_object_store_bytes: ray,
        size_bytes: wanted.min(cap).max(GIB.min(host_memory)),
        capped: wanted > cap,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Catalog;

    #[test]
    fn shm_for_an_eight_gpu_pod() {
        let host = 1872 * GIB;
        // 8 × 256 MiB + 9 × 160 MiB = 3488 MiB; × 1.3 = 4534 MiB → 5 GiB.
        assert_eq!(shm(8, Launcher::Native, host).size_bytes, 5 * GIB);
        // + 8 GiB object store = 11680 MiB; × 1.3 = 15184 MiB → 15 GiB (the guide's 15Gi).
        assert_eq!(shm(8, Launcher::Ray, host).size_bytes, 15 * GIB);
        // 1 × 256 + 2 × 160 = 576 MiB; × 1.3 = 749 MiB → 1 GiB.
        assert_eq!(shm(1, Launcher::Native, host).size_bytes, GIB);
    }

    #[test]
    fn shm_never_exceeds_a_quarter_of_the_node() {
        let s = shm(8, Launcher::Ray, 32 * GIB);
        assert!(s.capped);
        assert_eq!(s.size_bytes, 8 * GIB);
    }

    /// DeepSeek-R1 on one GPU of TP 8 × PP 2, last stage, by hand: hidden 8192 tokens × 7168 ×
    /// 2 bytes × 4 copies = 469,762,048; widest activation per token: MLA's 128 / 8 heads ×
    /// (128 + 64 + 128 + 128) = 7168, wider than the dense MLP's 2 × 18432 / 8 = 4608 and the
    /// fused MoE's 8 × 2 × 2048 / 8 = 4096 → 8192 × 7168 × 2 = 117,440,512; logits 256 ×
    /// 129,280 × 4 × 2 = 264,765,440; non-torch 512 MiB + 1 GiB (TP) + 256 MiB (PP) =
    /// 1,879,048,192; graphs 2 GiB for MoE = 2,147,483,648.
    #[test]
    fn the_reserve_total_by_hand() {
        let catalog = Catalog::builtin();
        let r1 = catalog.model("deepseek-r1").unwrap();
        let r = reserve(r1, 8, 2, true);
        assert_eq!(r.activation_bytes, 469_762_048 + 117_440_512 + 264_765_440);
        assert_eq!(r.non_torch_bytes, 1_879_048_192);
        assert_eq!(r.cuda_graph_bytes, 2_147_483_648);
        assert_eq!(r.total(), 4_878_499_840);
    }

    #[test]
    fn reserve_adds_logits_on_the_last_stage_only() {
        let catalog = Catalog::builtin();
        let m = catalog.model("llama-3.1-8b-instruct").unwrap();
        let first = reserve(m, 1, 2, false);
        let last = reserve(m, 1, 2, true);
        assert_eq!(
            last.activation_bytes - first.activation_bytes,
            256 * 128_256 * 8
        );
        // hidden: 8192 × 4096 × 2 × 4 = 268,435,456; widest: gate+up 2 × 14336 per token × 2
        // bytes = 469,762,048.
        assert_eq!(first.activation_bytes, 268_435_456 + 469_762_048);
        // Written out, not from the module's constants, so a wrong unit cannot pass: 512 MiB of
        // workspaces + 256 MiB for the PP group; 1 GiB of graphs for a dense model.
        assert_eq!(first.non_torch_bytes, 536_870_912 + 268_435_456);
        assert_eq!(first.cuda_graph_bytes, 1_073_741_824);
    }
}
