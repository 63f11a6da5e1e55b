//! Which layout serves a workload fastest: a physical estimate of decode and prefill per
//! layout, from the same tensor inventory and memory plan, in microseconds per layout.
//!
//! A decode step of an engine reads every weight its GPUs hold (for MoE, the experts the
//! batch routes to, in expectation) and each sequence's KV cache, against HBM bandwidth; it
//! computes two FLOPs per active weight and token plus attention, against the dense peak; TP
//! all-reduces twice a layer, pipeline stages hand off, expert-parallel ranks exchange tokens;
//! a fixed cost per step covers scheduling and sampling. Under chunked prefill, new requests'
//! prompts ride in the same steps. The achievable fractions of peak are measured constants;
//! the model's error against published benchmarks is in `tests/fixtures/benchmarks/`.

use serde::{Deserialize, Serialize};

use super::fabric::Fabric;
use super::search::Fit;
use super::version::VllmVersion;
use crate::profile::{
    Attention, DenseTflops, HardwareProfile, LayerType, Mlp, ModelProfile, MoeQuantAlgo, Network,
    Quantization,
};

/// The traffic a plan is judged on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// Prompt tokens per request.
    pub input_tokens: u64,
    /// Generated tokens per request.
    pub output_tokens: u64,
    /// Requests in flight at once, across all replicas; with `request_rate`, the most in flight
    /// (as `vllm bench serve --max-concurrency`), unbounded when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u64>,
    /// Requests arriving per second, across all replicas (as `vllm bench serve
    /// --request-rate`): the requests in flight follow from it by Little's law.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_rate: Option<f64>,
}

impl Workload {
    /// A closed loop: `concurrency` requests always in flight.
    pub fn closed(input_tokens: u64, output_tokens: u64, concurrency: u64) -> Workload {
        Workload {
            input_tokens,
            output_tokens,
            concurrency: Some(concurrency),
            request_rate: None,
        }
    }
}

/// What limits the decode step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Bound {
    /// Reading weights and KV cache from HBM.
    Hbm,
    /// Tensor-core FLOPs.
    Compute,
    /// The intra-node link (NVLink, PCIe): TP all-reduces, EP exchanges.
    Interconnect,
    /// The network between nodes.
    Network,
    /// The fixed cost per step (scheduling, sampling, kernel launches).
    Overhead,
}

/// The decode step of one engine, by term, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct DecodeStep {
    /// Weights and KV cache over HBM bandwidth (the slowest stage, times the stages a token
    /// passes).
    pub hbm_ms: f64,
    /// FLOPs (decode and the prefill chunks riding along) over the dense peak.
    pub compute_ms: f64,
    /// TP all-reduces and EP exchanges over NVLink or PCIe.
    pub interconnect_ms: f64,
    /// Pipeline hand-offs and exchanges over the network.
    pub network_ms: f64,
    /// Scheduling, sampling, launches.
    pub overhead_ms: f64,
    /// What the order of the work adds to `hbm_ms` and `compute_ms` overlapped: a step runs its
    /// kernels one after another, attention (KV reads, attention and indexer FLOPs) between the
    /// GEMMs, each bound by its own resource; and the steps that prefill a prompt chunk are
    /// compute-bound where the others stream weights. The terms above are the mean step's.
    pub unoverlapped_ms: f64,
}

/// The estimate for one layout and workload.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Performance {
    /// Output tokens per second, all replicas.
    pub output_tokens_per_s: f64,
    /// The same per GPU.
    pub output_tokens_per_s_per_gpu: f64,
    /// Time per output token once decoding, ms.
    pub tpot_ms: f64,
    /// Time to the first token, queueing included, ms.
    pub ttft_ms: f64,
    /// What limits the decode step.
    pub bound: Bound,
    /// Requests in flight across all replicas: the concurrency, or under a request rate what
    /// Little's law gives (rate × time a request takes), capped by the concurrency.
    pub concurrency: u64,
    /// Under a request rate, whether it exceeds what the layout serves: the queue then grows
    /// without bound, and the estimate is the layout at full load.
    pub overloaded: bool,
    /// Sequences each engine decodes at once: the concurrency, capped by the KV cache and
    /// `max_num_seqs`.
    pub batch_per_engine: u64,
    /// Requests each engine runs at once if memory allowed: the concurrency over engines,
    /// capped by `max_num_seqs`.
    pub requests_per_engine: u64,
    /// Whether the KV cache, not the concurrency, sets the batch: more requests are in flight
    /// than it holds at full length. vLLM then admits them anyway and preempts (recomputes)
    /// some as their outputs grow, work this estimate does not model; its range is wider here.
    pub kv_cache_saturated: bool,
    /// The decode step by term.
    pub decode_step: DecodeStep,
    /// Where the measurement is likely to lie: see [`Range`].
    pub range: Range,
    /// With a GPU-hour price: dollars per million output tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_per_million_output_tokens: Option<f64>,
}

/// Where a measurement of the same setup is likely to lie, `[low, high]`: the estimate widened
/// by how far the benchmark set's measurements fall from it (factors calibrated on
/// `tests/fixtures/benchmarks/`: `check-perf` prints how many points each range holds).
/// Ranges of layouts that overlap say the estimate cannot tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Range {
    /// Output tokens per second per GPU.
    pub output_tokens_per_s_per_gpu: [f64; 2],
    /// Time per output token, ms.
    pub tpot_ms: [f64; 2],
    /// Time to the first token, ms.
    pub ttft_ms: [f64; 2],
}

/// Measured over estimated, `[low, high]`, for throughput per GPU, TPOT and TTFT, while the
/// KV cache holds every request: the 5th and 95th percentiles of measured / estimated over the
/// benchmark set (`tests/fixtures/benchmarks/`, outside its known misses; 49 points, 47 with a
/// TTFT), rounded outwards (`tools/range_quantiles.py` reads `check-perf --format json` and
/// prints them). Recalibrated 2026-12-07, once the estimate took its measured H100 rates, ran
/// attention beside the GEMMs and prompt chunks in steps of their own (the factors of 10th and
/// 90th percentiles set before the recent points joined held 64, 65 and 69 of 82, 82 and 80,
/// short of the four in five the ranges promise), and again once a closed loop's wave counted
/// each prompt once, which narrowed throughput's spread (5th-95th percentiles 0.69-1.32, from
/// 0.72-1.53) and TPOT's (0.80-1.44, from 0.68-1.27). With the saturated factors below they
/// hold 76, 73 and 72 of 82, 82 and 80. TTFT is the widest: dennislee22's A100 runs at
/// concurrency 1 wait 5× less than their prompt's prefill (as if cached), and hybrid models'
/// prompts prefill slower than their FLOPs say.
const RANGE_FACTORS: [[f64; 2]; 3] = [[0.65, 1.35], [0.8, 1.45], [0.15, 2.0]];
/// The same once the KV cache saturates (33 points): vLLM preempts and recomputes, which the
/// estimate leaves out; measured throughput runs up to twice the estimate's and TTFT mostly
/// below it.
const RANGE_FACTORS_SATURATED: [[f64; 2]; 3] = [[0.85, 2.0], [0.6, 1.4], [0.15, 1.05]];

impl Range {
    /// The range around an estimate, by whether its KV cache saturates.
    pub(crate) fn around(per_gpu: f64, tpot_ms: f64, ttft_ms: f64, saturated: bool) -> Range {
        let f = if saturated {
            RANGE_FACTORS_SATURATED
        } else {
            RANGE_FACTORS
        };
        let span = |x: f64, [lo, hi]: [f64; 2]| [round2(x * lo), round2(x * hi)];
        Range {
            output_tokens_per_s_per_gpu: span(per_gpu, f[0]),
            tpot_ms: span(tpot_ms, f[1]),
            ttft_ms: span(ttft_ms, f[2]),
        }
    }

    /// Whether two throughput ranges overlap: the estimate cannot order the two.
    pub fn throughput_overlaps(&self, other: &Range) -> bool {
        overlaps(
            self.output_tokens_per_s_per_gpu,
            other.output_tokens_per_s_per_gpu,
        )
    }

    /// Whether two TPOT ranges overlap.
    pub fn tpot_overlaps(&self, other: &Range) -> bool {
        overlaps(self.tpot_ms, other.tpot_ms)
    }
}

fn overlaps(a: [f64; 2], b: [f64; 2]) -> bool {
    a[0] <= b[1] && b[0] <= a[1]
}

/// Achievable fraction of HBM bandwidth when streaming weights: 0.85 on Hopper and later
/// (decode-shaped BF16 GEMMs of 7168 × 18432 and 8192 × 28672 weights at 1–32 tokens read
/// 3.7–4.3 TB/s of an H200's 4.8; `tools/measurements/h200-throughput-2026-12-01.json`; on an
/// H100 2.9–3.0 TB/s of 3.35, `tools/measurements/h100-throughput-2026-12-07.json`);
/// 0.75 on earlier GPUs (fitted to A100 decode at concurrency 1 in the development set,
/// unverified elsewhere).
fn hbm_efficiency(hardware: &HardwareProfile) -> f64 {
    if hardware.gpu.sm() >= 90 { 0.85 } else { 0.75 }
}

/// How fast decode attention reads the KV cache, as a fraction of the rate weights stream at.
///
/// Hopper and later: 1.0. A split-K paged decode kernel (block 16, a shuffled block pool, the
/// built-ins' per-GPU GQA head shapes, replayed from CUDA graphs) read an H100's cache at
/// 3.0–3.1 TB/s once a layer's reads pass about 64 MB — a fitted 9 µs a call plus the bytes at
/// 3.1 TB/s — where decode GEMMs stream weights at 2.9–3.0 (`tools/measure_attention.py`,
/// `tools/measurements/h100-attention-2026-12-07.json` and `h100-throughput-2026-12-07.json`;
/// the call's latency is inside the per-layer fixed cost). FlashMLA, vLLM's MLA decode kernel on
/// Hopper, reports "up to 3000 GB/s in memory-bound configuration" on an H800
/// (https://github.com/deepseek-ai/FlashMLA/blob/07a1089857b63e74e3133630c02b083b75e8d4b2/README.md).
/// Blackwell is taken the same (unmeasured).
///
/// Before Hopper: 0.5, fitted to decode at 50–200 sequences (A100, vLLM 0.10.1; dennislee22
/// TP 1 runs), where the time per output token grows by the KV bytes read at half the weights'
/// rate (unverified on other GPUs).
fn kv_read_efficiency(hardware: &HardwareProfile) -> f64 {
    if hardware.gpu.sm() >= 90 { 1.0 } else { 0.5 }
}

/// Achievable fraction of the dense peak: 789 of 989 BF16 TFLOP/s and 1443 of 1979 FP8 on an
/// 8192³ matmul (H200, the same measurement).
const BF16_COMPUTE_EFFICIENCY: f64 = 0.80;
const FP8_COMPUTE_EFFICIENCY: f64 = 0.73;
/// Routed experts' GEMMs run below a square matmul's rate: each expert gets a share of the
/// step's tokens against a weight slice that TP narrows. Grouped BF16 GEMMs of the TP-sharded
/// expert shapes of DeepSeek-R1 (TP 8), Qwen3-235B-A22B (TP 4, 8) and gpt-oss-120b (TP 2) at
/// 256–1024 tokens per expert reached a median 652 TFLOP/s on an H200, 0.66 of the peak where
/// the 8192³ matmul reaches 0.80 (`tools/measure_moe_gemm.py`,
/// `tools/measurements/h200-moe-gemm-2026-12-01.json`): 0.82 of the dense rate. FP8 experts take
/// the same ratio (per-expert FP8 calls measured launch-bound, not a grouped kernel's rate).
/// Decode tokens only: prompt tokens' expert GEMMs run at the single-launch grouped GEMMs'
/// measured rate for the prefill step's shape ([`super::grouped_gemm`]).
const MOE_GEMM_RELATIVE_EFFICIENCY: f64 = 0.82;
/// Fixed cost of a decode step before vLLM 0.11: scheduling, sampling, detokenizing, launches.
/// Fitted: vLLM 0.10.1 decode at concurrency 1 on A100 took 3–3.6 ms longer than streaming the
/// weights (dennislee22/vLLM-benchmarking, Qwen2-7B TP 1 and 2).
const STEP_OVERHEAD_BEFORE_0_11_MS: f64 = 3.5;
/// From vLLM 0.11 the decode step runs as one full CUDA graph (`FULL_AND_PIECEWISE`, the default
/// from v0.11.0: https://github.com/vllm-project/vllm/releases/tag/v0.11.0) and the scheduler
/// overlaps the GPU (async scheduling, default later; unverified per release): what is left is
/// a floor per kernel, so the fixed cost grows with the layers a token passes. Fitted to the
/// time per output token at concurrency 1 minus the weights' and KV cache's streaming time, a
/// lone request's steps carrying no prompt (see `Batch::prefill_per_step`):
/// Qwen3-8B TP 1 on H100 at 0.11.0 (7.28 ms measured, 5.76 ms of HBM as this estimate counts
/// it: 1.5 ms over 36 dense layers; gpustack/gpustack docs/performance-lab/qwen3-8b/h100-latency.md
/// at 1dbc3b81) and Qwen3-30B-A3B TP 1 on H200 at 0.17.0 (4.62 ms, 1.64 of HBM with one token
/// routed a step: 2.7 ms over 48 MoE layers; cloudrift-ai/emmy
/// experiments/Qwen3-30B-A3B-Instruct-2507/serving/RESULTS.md at 29fa276): 0.3 ms a step, 35 µs
/// a dense layer, 56 µs a MoE layer (its router, top-k and fused-MoE kernels). Until this
/// estimate stopped routing a lone request's own prompt through its decode steps, that point
/// read 2.51 ms of HBM and gave 45 µs. Checked, not fitted: Qwen3.6-35B-A3B-FP8 TP 1 on H200 at
/// 0.26.0 and 0.29.0 (40 MoE layers: 3.2 ms estimated, 3.8 and 3.6 measured;
/// https://github.com/vllm-project/vllm/issues/57680) and NVIDIA-Nemotron-3-Nano-30B-A3B-FP8
/// TP 2 on B200 at 0.16.0 (2.91 ms measured, 2.45 estimated;
/// https://docs.vultr.com/inference-cookbook/cuda/optimization/concurrency-tuning). FP8 dense
/// models at batch 1 run slower than this on B200 (Llama-3.3-Nemotron-Super-49B-FP8, the same
/// Vultr page: 13.4 ms measured, about 10 ms of weights and fixed cost).
/// Measured on an H100, the dense layer's share agrees: a replayed CUDA graph runs a small kernel
/// in 1.0 µs, a batch-1 GEMM takes 4.1 µs beyond streaming its weight at 3.2 TB/s, paged decode
/// attention 9 µs beyond its KV bytes (`tools/measure_decode_floor.py`,
/// `tools/measure_attention.py`; `tools/measurements/h100-decode-floor-2026-12-07.json`,
/// `h100-attention-2026-12-07.json`): four GEMMs, attention and about eight small kernels (norms,
/// rotary, cache write, activation) come to 33 µs.
const STEP_BASE_MS: f64 = 0.3;
const DENSE_LAYER_MS: f64 = 0.035;
const MOE_LAYER_MS: f64 = 0.056;
/// A NemotronH layer holds one block, a mixer (Mamba-2 or attention), an MLP or a MoE, where
/// the layers above hold a mixer and an MLP each: its mixer and MLP layers count half a dense
/// layer, and its MoE layers a MoE layer less that half (the split of a dense layer's kernels
/// between mixer and MLP is taken even, unverified). The Nemotron-3-Nano point above: 52 such
/// layers, 29 mixers and 23 MoE, 1.7 ms.
const SINGLE_BLOCK_SHARE: f64 = 0.5;
/// DeepSeek-V4's layers launch more than a MoE layer's kernels: two hyper-connection mixes
/// around each block (`hc_mult` = 4 residual streams), the KV compressor on every compressed
/// layer and the lightning indexer's projections, FP8 quantization, logits and top-k on the
/// ratio-4 layers, before FlashMLA's sparse kernel over window and compressed entries
/// (`DeepseekV4Attention`, `vllm/models/deepseek_v4/attention.py`, v0.34.0). Fitted to
/// DeepSeek-V4-Flash on B200 at concurrency 1 (jasl/vllm-ds4-sm120-harness baselines
/// 20260502_b200_tp2_main_5737770c6 and 20260502_b200_tp4_main_5737770c6 at c911a0e, vLLM
/// 0.20.1 development builds, random 8192 / 512): 8.19 ms at TP 2 and 7.20 at TP 4 less HBM
/// (0.79, 0.40), all-reduces (0.86) and the 43 MoE layers' cost leave 3.8 and 3.2 ms, 82 µs a
/// layer on average. Those runs had async scheduling off, so the scheduler's CPU time is in
/// this figure too and it cannot be told apart from the kernels' (unverified split; no other
/// V4 point at concurrency 1 exists to check it).
const COMPRESSED_SPARSE_LAYER_EXTRA_MS: f64 = 0.082;
/// DeepSeek-V3-style layers (multi-head latent attention, block-FP8 linears with their
/// activation-quantization kernels, a shared expert beside grouped routing over 256 experts)
/// cost far more a decode step than the MoE layer above: DeepSeek-R1-0528 at TP 8 on 8 × H200,
/// vLLM 0.11.0, 4 in flight (ShareGPT prompts, 228 / 213 tokens on average) took 19.36 ms a
/// token where streaming, all-reduces and the MoE layers' cost give 8.0 — 190 µs a layer over
/// 61 layers (GPUStack, docs/performance-lab/deepseek-r1/h200.md at a5c9fafc). Fitted to that
/// point alone and checked on two others of the family: DeepSeek-V3.2 TP 8 on H200, vLLM
/// 0.13.0, 1000 / 2000 at 100 in flight (45.7 ms measured; 31.7 estimated without this, 43.3
/// with) and GLM-5.2-FP8 TP 8 on H200, vLLM 0.24.0, an 8204 / 1024 burst of 512 (57.9 ms;
/// 45.1 without, 59.9 with). Which of those features costs it is not known (no kernel of theirs
/// was timed here); MLA is what marks them in a profile, so every MLA layer carries it, Kimi's
/// too (unverified: no Kimi point), and no point from a later release says it has shrunk.
/// DeepSeek-V4's layers have their own figure above.
const MLA_LAYER_EXTRA_MS: f64 = 0.19;
/// The API server's share of the first token: HTTP, chat template, tokenization, detokenizing
/// and streaming the first chunk. Fitted with [`PREFILL_EFFICIENCY`] to the time to first token
/// at concurrency 1 of the runs above: Qwen3-8B (233 prompt tokens: 59 ms measured, 12 ms of
/// prefill and first step), Qwen3-30B-A3B (4096 tokens: 128 ms), Llama-3.3-Nemotron-Super-49B-FP8
/// (2048 tokens on B200: 170 ms).
const API_MS: f64 = 35.0;
/// Prefill runs below the GEMM rates a square matmul reaches: norms, rotary embeddings,
/// activation quantization, MoE routing and attention at the chunk's shapes. 0.45 of the rate
/// this estimate gives decode's linear layers, fitted with [`API_MS`] (Qwen3-30B-A3B: 42 ms of
/// FLOPs at that rate for a 4096-token prompt, 128 ms measured in all; Nemotron-Super: 61 ms,
/// 170 ms in all). Fitted while routed experts ran at [`MOE_GEMM_RELATIVE_EFFICIENCY`] at
/// prefill too; at the measured grouped-GEMM rates the Qwen3-30B-A3B point reads 147 ms
/// estimated in all (not refitted). A measured layer agrees, and says the fraction hardly grows
/// with the chunk: one Llama-style decoder layer in BF16 (norms, rotary, causal attention, the
/// projections and the MLP, unfused PyTorch replayed from a CUDA graph) ran at 0.55–0.61 of the
/// same H100's 8192³ matmul rate for Llama-3.1-8B's shapes at 512–8192 tokens and 0.39–0.46 for
/// Llama-3.1-70B's TP 8 shares, 0.29–0.40 at 256 (`tools/measure_prefill_layer.py`,
/// `tools/measurements/h100-prefill-layer-2026-12-07.json`).
const PREFILL_EFFICIENCY: f64 = 0.45;

/// Causal prefill attention's achieved fraction of the dense BF16 peak, by the length it
/// attends over: PyTorch's SDPA on its cuDNN backend (a fused flash-attention kernel of the
/// class of FlashAttention-3, which vLLM runs on Hopper) over one prompt of 1k, 4k, 16k and
/// 32k tokens reached a median 228, 437, 630 and 596 TFLOP/s over three per-GPU head shapes
/// (Llama-3.1-405B at TP 8, Llama-3.1-8B at TP 1, gpt-oss-120b at TP 1) on an H100 of 989
/// (`tools/measure_attention.py`, `tools/measurements/h100-attention-2026-12-07.json`). Measured
/// as a kernel, so no [`PREFILL_EFFICIENCY`] on top; held beyond the ends; Hopper only
/// (Blackwell's prefill attention runs other kernels, unmeasured).
const PREFILL_ATTENTION_EFFICIENCY: ([f64; 4], [f64; 4]) =
    ([1024.0, 4096.0, 16384.0, 32768.0], [0.23, 0.44, 0.64, 0.60]);

/// FlashMLA's token-level sparse attention kernels reach "up to 640 TFlops during prefilling"
/// on an H800 (989 dense BF16 TFLOP/s): 0.65 of the peak. Every token of a sparse-MLA model
/// (DeepSeek-V3.2, GLM-5) runs through them; taken at the same fraction on other GPUs
/// (unverified). Source: https://github.com/deepseek-ai/FlashMLA/blob/07a1089857b63e74e3133630c02b083b75e8d4b2/README.md
/// (news, 2025.09.29).
const SPARSE_MLA_KERNEL_EFFICIENCY: f64 = 0.65;

/// The attention work of vLLM's sparse-MLA backend (`FLASHMLA_SPARSE`), which attends in the
/// absorbed form (queries of `kv_lora_rank + qk_rope_head_dim` against the cached latent,
/// values `kv_lora_rank` wide) for prefill and decode alike, with two costs the model's shape
/// does not show:
///
/// - Heads padded: the kernel needs a multiple of 64 query heads a rank on Hopper and 128 on
///   Blackwell, so vLLM pads the rank's heads with zeros (`FlashMLASparseImpl._bf16_flash_mla_kernel`,
///   `self.padding` / `self.prefill_padding`, `vllm/v1/attention/backends/mla/flashmla_sparse.py`
///   from v0.13.0 to v0.24.0; the FP8 decode kernel pads to 64 or 128 likewise,
///   `_compute_fp8_decode_padded_heads`). DeepSeek-V3.2's 128 heads at TP 8 compute as 64, four
///   times their work; GLM-5's 64 at TP 8 as 64, eight times.
/// - Every top-k slot before vLLM 0.24: the indexer hands the kernel `index_topk` indices a
///   token, -1 past the tokens there are, and up to v0.23.0 vLLM calls the kernel without a
///   count of valid ones (`flash_mla_sparse_fwd(q, kv, topk_indices, scale)`), so a token at
///   position 100 costs as much as one at 2048; from v0.24.0 it passes `topk_length` (the valid
///   counts `triton_convert_req_index_to_global_index` returns) and the work follows
///   min(position, top-k). That the kernel masks rather than skips the -1 slots before is
///   inferred from the interface, not read in FlashMLA's source: DeepSeek-V3.2 on 8 × H200 at
///   vLLM 0.13.0 prefilled 2K prompts at about 90 µs a token and DeepSeek-R1 (the same model
///   without DSA) at 0.11.0 at about 55 µs (GPUStack's 500-prompt bursts, replayed through a
///   model of vLLM's scheduler, `tools/simulate_v1_scheduler.py`), and this term is 28 µs of the
///   difference.
#[derive(Debug, Clone, Copy, PartialEq)]
struct SparseMlaKernel {
    /// Query heads a rank computes, padded.
    heads: f64,
    /// FLOPs per head and attended key: QKᵀ over `kv_lora_rank + qk_rope_head_dim`, PV over
    /// `kv_lora_rank`, two a multiply-add.
    flops_per_head_key: f64,
    top_k: f64,
    /// Whether the kernel skips the slots past a token's position (vLLM 0.24 on).
    skips_unfilled: bool,
}

impl SparseMlaKernel {
    /// `None` unless the model has DSA's indexer.
    fn of(
        model: &ModelProfile,
        tp: u64,
        hardware: &HardwareProfile,
        version: VllmVersion,
    ) -> Option<SparseMlaKernel> {
        let Attention::Mla {
            num_attention_heads,
            kv_lora_rank,
            qk_rope_head_dim,
            indexer: Some(ix),
            ..
        } = &model.attention
        else {
            return None;
        };
        let sm = hardware.gpu.sm();
        let padding = if (100..120).contains(&sm) { 128 } else { 64 };
        let heads = (num_attention_heads / tp.max(1))
            .max(1)
            .next_multiple_of(padding);
        Some(SparseMlaKernel {
            heads: heads as f64,
            flops_per_head_key: 2.0 * (2 * kv_lora_rank + qk_rope_head_dim) as f64,
            top_k: ix.index_topk as f64,
            skips_unfilled: super::version::SPARSE_MLA_TOPK_LENGTH.in_version(version),
        })
    }

    /// Keys a token at `position` attends over, as the kernel counts them.
    fn keys(&self, position: f64) -> f64 {
        if self.skips_unfilled {
            position.min(self.top_k)
        } else {
            self.top_k
        }
    }

    /// The mean of [`keys`](Self::keys) over a prompt's `len` positions.
    fn mean_prompt_keys(&self, len: f64) -> f64 {
        if !self.skips_unfilled {
            return self.top_k;
        }
        let k = self.top_k;
        if len <= k {
            return (len + 1.0) / 2.0;
        }
        (k * (k + 1.0) / 2.0 + (len - k) * k) / len
    }

    /// FLOPs of one layer for one token attending over `keys`.
    fn flops(&self, keys: f64) -> f64 {
        self.heads * self.flops_per_head_key * keys
    }
}

/// The decoder layers a token passes, by what their kernels cost a step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct StepLayers {
    pub layers: u64,
    /// Layers that route to experts.
    pub moe: u64,
    /// Each layer holds one block (NemotronH's hybrid pattern), not a mixer and an MLP.
    pub single_block: bool,
    /// Layers of DeepSeek-V4's compressed sparse attention, with hyper-connections.
    pub compressed_sparse: u64,
    /// Layers of multi-head latent attention.
    pub mla: u64,
}

impl StepLayers {
    fn of(model: &ModelProfile) -> StepLayers {
        let layers = model.num_hidden_layers;
        let compressed_sparse = match model.attention {
            Attention::CompressedSparseMla { .. } => layers,
            _ => 0,
        };
        let mla = match model.attention {
            Attention::Mla { .. } => (0..layers)
                .filter(|&l| model.layer_type(l) != LayerType::LinearAttention)
                .count() as u64,
            _ => 0,
        };
        StepLayers {
            layers,
            moe: (0..layers).filter(|&l| model.routes_layer(l)).count() as u64,
            single_block: model.hybrid_override_pattern.is_some(),
            compressed_sparse,
            mla,
        }
    }
}

/// The fixed cost of one decode step under `version` through `layers`.
pub(crate) fn step_overhead_ms(version: VllmVersion, layers: StepLayers) -> f64 {
    if version < VllmVersion(0, 11, 0) {
        return STEP_OVERHEAD_BEFORE_0_11_MS;
    }
    let dense = layers.layers.saturating_sub(layers.moe) as f64;
    let moe = layers.moe as f64;
    let per_layer = if layers.single_block {
        let block = DENSE_LAYER_MS * SINGLE_BLOCK_SHARE;
        dense * block + moe * (MOE_LAYER_MS - block)
    } else {
        dense * DENSE_LAYER_MS + moe * MOE_LAYER_MS
    };
    STEP_BASE_MS
        + per_layer
        + layers.compressed_sparse as f64 * COMPRESSED_SPARSE_LAYER_EXTRA_MS
        + layers.mla as f64 * MLA_LAYER_EXTRA_MS
}

/// Weights by kind, for what a step reads and computes: computed once per model.
pub(crate) struct Inventory {
    /// Fraction of the weight bytes that are routed experts.
    expert_byte_fraction: f64,
    /// Bytes per parameter of the routed experts and of the rest.
    expert_bytes_per_param: f64,
    other_bytes_per_param: f64,
    /// Experts per token over routed experts (1 for dense).
    routed_fraction: f64,
    routed_experts: u64,
    experts_per_token: u64,
    /// `moe_intermediate_size`: one routed expert's width (0 for dense).
    expert_width: u64,
    /// ln(1 - experts per token / routed experts): the log of the chance a token misses an
    /// expert, kept so that [`Inventory::touched`] needs an `exp`, not a `powf`.
    ln_miss: f64,
}

impl Inventory {
    pub(crate) fn of(model: &ModelProfile) -> Inventory {
        let (mut expert_bytes, mut expert_params, mut other_bytes, mut other_params) =
            (0u128, 0u128, 0u128, 0u128);
        for layer in 0..model.num_hidden_layers {
            for t in super::weights::layer_tensors(model, layer) {
                if t.expert {
                    expert_bytes += t.bytes(model);
                    expert_params += t.parameters();
                } else {
                    other_bytes += t.bytes(model);
                    other_params += t.parameters();
                }
            }
        }
        let total = (expert_bytes + other_bytes).max(1) as f64;
        let (routed_experts, experts_per_token, expert_width) = match model.mlp {
            Mlp::Moe {
                n_routed_experts,
                num_experts_per_tok,
                moe_intermediate_size,
                ..
            } => (
                n_routed_experts.max(1),
                num_experts_per_tok,
                moe_intermediate_size,
            ),
            Mlp::Dense { .. } => (1, 1, 0),
        };
        Inventory {
            expert_byte_fraction: expert_bytes as f64 / total,
            expert_bytes_per_param: expert_bytes as f64 / expert_params.max(1) as f64,
            other_bytes_per_param: other_bytes as f64 / other_params.max(1) as f64,
            routed_fraction: experts_per_token as f64 / routed_experts as f64,
            routed_experts,
            experts_per_token,
            expert_width,
            ln_miss: (1.0 - experts_per_token as f64 / routed_experts as f64).ln(),
        }
    }

    /// Fraction of a GPU's experts that `tokens` routed tokens touch: each expert is missed by
    /// a token with probability `1 − k / E`.
    fn touched(&self, tokens: f64) -> f64 {
        if self.routed_experts <= 1 {
            return 1.0;
        }
        if tokens <= 0.0 {
            return 0.0;
        }
        1.0 - (self.ln_miss * tokens).exp()
    }
}

/// What an estimate is made under, besides the layout.
pub(crate) struct Context<'a> {
    pub model: &'a ModelProfile,
    pub hardware: &'a HardwareProfile,
    pub inventory: &'a Inventory,
    pub workload: Workload,
    pub replicas: u64,
    pub max_num_seqs: u64,
    pub max_num_batched_tokens: u64,
    pub gpu_hour_price: Option<f64>,
    /// The release served: its fixed costs per step.
    pub vllm_version: VllmVersion,
    /// What transfers between nodes run over.
    pub network: Network,
}

/// The estimate for `fit`; `None` when the hardware profile has no peaks.
///
/// Under a request rate, the requests in flight are found by iterating Little's law (in flight
/// = rate × the time one request takes at that load) from one request up, capped by the
/// concurrency; a rate beyond what the layout serves at full load is overloaded. Arrivals are
/// taken as steady: Poisson bursts add queueing this leaves out.
pub(crate) fn estimate(cx: &Context<'_>, fit: &Fit) -> Option<Performance> {
    let w = cx.workload;
    let Some(rate) = w.request_rate else {
        return estimate_at(cx, fit, w.concurrency.unwrap_or(1));
    };
    // Full load: every engine's batch full (the KV cache or max_num_seqs), within the cap.
    let engines = (fit.layout.data_parallel_size * cx.replicas).max(1);
    let cap = w.concurrency.unwrap_or(u64::MAX);
    let full = estimate_at(cx, fit, cap.min(engines.saturating_mul(cx.max_num_seqs)))?;
    let served_rate = full.output_tokens_per_s / w.output_tokens.max(1) as f64;
    if rate > served_rate {
        return Some(Performance {
            overloaded: true,
            ..full
        });
    }
    let mut in_flight = 1;
    let mut p = estimate_at(cx, fit, in_flight)?;
    for _ in 0..64 {
        let request_s = (p.ttft_ms + w.output_tokens as f64 * p.tpot_ms) / 1e3;
        let next = ((rate * request_s).ceil() as u64).clamp(1, cap);
        if next == in_flight {
            break;
        }
        in_flight = next;
        p = estimate_at(cx, fit, in_flight)?;
    }
    let output_tokens_per_s = round2(rate * w.output_tokens as f64);
    let gpus = (fit.layout.gpus() * cx.replicas) as f64;
    Some(Performance {
        output_tokens_per_s,
        output_tokens_per_s_per_gpu: round2(output_tokens_per_s / gpus),
        range: Range::around(
            output_tokens_per_s / gpus,
            p.tpot_ms,
            p.ttft_ms,
            p.kv_cache_saturated,
        ),
        cost_per_million_output_tokens: cost_per_million(cx, gpus, output_tokens_per_s),
        ..p
    })
}

/// The operand type a GEMM runs its tensor cores in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GemmFormat {
    Bf16,
    Fp8,
    /// NVFP4 (W4A4) on Blackwell (see [`gemm_formats`]).
    Fp4,
}

impl GemmFormat {
    /// The dense peak for this format, TFLOP/s, falling back to the next wider format the GPU
    /// has.
    fn peak(self, peaks: &DenseTflops) -> (GemmFormat, f64) {
        match (self, peaks.fp4, peaks.fp8) {
            (GemmFormat::Fp4, Some(p), _) => (GemmFormat::Fp4, p),
            (GemmFormat::Fp4 | GemmFormat::Fp8, _, Some(p)) => (GemmFormat::Fp8, p),
            _ => (GemmFormat::Bf16, peaks.bf16),
        }
    }

    /// Achievable fraction of the peak. FP4 is taken at FP8's (unmeasured: no Blackwell was
    /// lent to measure on).
    fn efficiency(self) -> f64 {
        match self {
            GemmFormat::Bf16 => BF16_COMPUTE_EFFICIENCY,
            GemmFormat::Fp8 | GemmFormat::Fp4 => FP8_COMPUTE_EFFICIENCY,
        }
    }
}

/// The formats a checkpoint's linear layers and routed experts compute in on `hardware`.
///
/// FP8 checkpoints run their linear layers in FP8 where the GPU has FP8 tensor cores. MXFP4
/// experts (gpt-oss) upcast to BF16 on Hopper (Marlin / Triton kernels) and run as MXFP4 ×
/// MXFP8 on Blackwell (FlashInfer's TRT-LLM MoE in vLLM's `mxfp4.py`), at the FP8 rate of the
/// f8f6f4 tensor-core kind; the rest of gpt-oss stays BF16.
///
/// ModelOpt NVFP4 checkpoints run W4A4 on Blackwell: vLLM quantizes the activations to FP4
/// (`scaled_fp4_quant`) and multiplies on the FP4 tensor cores (`cutlass_scaled_fp4_mm`;
/// FlashInfer's FP4 MoE for the experts), so both run at the FP4 rate ([`DenseTflops::fp4`]).
/// Below compute capability 10.0 vLLM runs the same weights weight-only on Marlin kernels, which
/// dequantize to BF16 (`ModelOptNvFp4LinearMethod`, `ModelOptNvFp4FusedMoE` in
/// `vllm/model_executor/layers/quantization/modelopt.py`, v0.28.0). DeepSeek-V4's `-NVFP4`
/// checkpoints keep FP8 linears and only their routed experts in NVFP4.
fn gemm_formats(model: &ModelProfile, hardware: &HardwareProfile) -> (GemmFormat, GemmFormat) {
    let blackwell = hardware.gpu.sm() >= 100;
    match &model.quantization {
        Some(Quantization::ModeloptFp4 { .. }) if blackwell => (GemmFormat::Fp4, GemmFormat::Fp4),
        Some(Quantization::Fp8 {
            moe_quant_algo: Some(MoeQuantAlgo::Nvfp4),
            ..
        }) if blackwell => (GemmFormat::Fp8, GemmFormat::Fp4),
        Some(Quantization::Fp8 { .. }) if hardware.gpu.native_fp8 => {
            (GemmFormat::Fp8, GemmFormat::Fp8)
        }
        Some(Quantization::Mxfp4) if blackwell => (GemmFormat::Bf16, GemmFormat::Fp8),
        _ => (GemmFormat::Bf16, GemmFormat::Bf16),
    }
}

/// What one GPU of the layout achieves, in bytes and FLOPs per second.
struct Rates {
    /// Attention (QKᵀ, PV): BF16 whatever the weights.
    attention_flops_per_s: f64,
    /// The dense BF16 peak on Hopper, where prefill attention was measured to reach
    /// [`PREFILL_ATTENTION_EFFICIENCY`] of it; `None` on GPUs where it was not measured.
    measured_prefill_attention_peak: Option<f64>,
    /// Linear layers outside the routed experts.
    linear_flops_per_s: f64,
    /// Routed experts' GEMMs, before the grouped-GEMM discount.
    expert_flops_per_s: f64,
    /// The format the routed experts' GEMMs run in, after the fallback to what the GPU has.
    expert_format: GemmFormat,
    /// HBM streaming weights.
    hbm_bytes_per_s: f64,
    /// Paged attention's KV reads as a fraction of that ([`kv_read_efficiency`]).
    kv_read_efficiency: f64,
    /// DSA's indexer logits: FP8 (DeepGEMM's `fp8_mqa_logits`) where the GPU has FP8.
    index_flops_per_s: f64,
    /// FlashMLA's sparse attention kernels ([`SPARSE_MLA_KERNEL_EFFICIENCY`]).
    sparse_mla_flops_per_s: f64,
}

impl Rates {
    /// `None` when the hardware profile has no dense peaks.
    fn of(model: &ModelProfile, hardware: &HardwareProfile) -> Option<Rates> {
        let peaks = hardware.gpu.dense_tflops?;
        let rate = |format: GemmFormat| {
            let (format, peak) = format.peak(&peaks);
            peak * format.efficiency() * 1e12
        };
        let (linear, expert) = gemm_formats(model, hardware);
        Some(Rates {
            // Attention (QKᵀ, PV) stays BF16 in vLLM's FlashAttention and MLA backends
            // whatever the weights.
            attention_flops_per_s: rate(GemmFormat::Bf16),
            measured_prefill_attention_peak: (90..100)
                .contains(&hardware.gpu.sm())
                .then_some(peaks.bf16 * 1e12),
            linear_flops_per_s: rate(linear),
            expert_flops_per_s: rate(expert),
            expert_format: expert.peak(&peaks).0,
            hbm_bytes_per_s: hardware.gpu.memory_bandwidth_gb_per_s as f64
                * 1e9
                * hbm_efficiency(hardware),
            kv_read_efficiency: kv_read_efficiency(hardware),
            index_flops_per_s: rate(GemmFormat::Fp8),
            sparse_mla_flops_per_s: peaks.bf16 * SPARSE_MLA_KERNEL_EFFICIENCY * 1e12,
        })
    }

    /// Prefill attention's rate for prompts attending over `span` tokens: the curve measured on
    /// Hopper; on other GPUs, unmeasured, the BF16 rate at the discount prefill's other work
    /// gets ([`PREFILL_EFFICIENCY`]).
    fn prefill_attention_flops_per_s(&self, span: f64) -> f64 {
        match self.measured_prefill_attention_peak {
            Some(peak) => {
                let (spans, fractions) = &PREFILL_ATTENTION_EFFICIENCY;
                peak * super::curve::interpolate(spans, fractions, span)
            }
            None => self.attention_flops_per_s * PREFILL_EFFICIENCY,
        }
    }
}

/// What one decoding sequence reads from a GPU's KV cache in a step, by kind of layer: the hook
/// the KV-cache kinds fill in.
///
/// - Full attention reads every token of its context: `bytes_per_token` × context.
/// - Sparse attention (DeepSeek-V3.2's DSA) reads its `top_k` selected tokens (2048) from the
///   cache, and its lightning indexer scans every token's index key (`index_bytes_per_token`:
///   FP8 keys of 128 dims and their scale) to select them.
/// - DeepSeek-V4's compressed sparse attention reads each layer's window, a ratio-4 layer's
///   top-k compressed entries and all its indexer keys, a ratio-128 layer's every entry
///   ([`CompressedRead`]).
/// - Linear attention and Mamba layers read and write a fixed state per sequence
///   (`state_bytes_per_sequence`), whatever the context.
///
/// [`KvRead::of`] fills every field from the stage's cache sizes
/// ([`super::Stage::kv_cache_bytes_per_token`], [`super::Stage::kv_cache_bytes_per_sequence`]:
/// gated DeltaNet, Mamba-2 and Kimi Delta Attention state) and the model's indexer.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct KvRead {
    /// Cache bytes per token of context of the attention layers (all the stage's layers).
    pub bytes_per_token: f64,
    /// Tokens a sparse attention layer reads; `None`: the whole context.
    pub top_k: Option<u64>,
    /// Bytes per token scanned over the whole context to select the top-k.
    pub index_bytes_per_token: f64,
    /// Fixed state per sequence of the linear-attention / Mamba layers.
    pub state_bytes_per_sequence: f64,
    /// DeepSeek-V4's compressed sparse attention, which reads neither the whole context nor
    /// one top-k of it.
    pub compressed: Option<CompressedRead>,
}

/// What DeepSeek-V4's layers of one stage read per decoding sequence: every layer its last
/// `window` tokens; a ratio-4 layer the `top_k` compressed entries its indexer picks (each
/// entry 4 tokens) after scanning every compressed indexer key; a ratio-128 layer every
/// compressed entry (`DeepseekV4Attention`, `vllm/models/deepseek_v4/attention.py`, v0.34.0:
/// "Only C4A uses sparse attention and hence has indexer"). Entries are `fp8_ds_mla`, 584
/// bytes; indexer keys 132.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct CompressedRead {
    /// Ratio-4 layers of the stage.
    pub c4: f64,
    /// Ratio-128 layers.
    pub c128: f64,
    /// All its layers (each has a window).
    pub layers: f64,
    /// `index_topk`: compressed entries a ratio-4 layer attends to.
    pub top_k: f64,
    /// `sliding_window`.
    pub window: f64,
    /// Bytes of an indexer key ([`super::compressed_kv::index_entry`]).
    pub index_key: f64,
}

impl CompressedRead {
    /// Bytes of a latent entry: FlashMLA's `fp8_ds_mla` (the planner's layout on every GPU but
    /// compute capability 12.x).
    const ENTRY: f64 = super::compressed_kv::FP8_DS_MLA_ENTRY as f64;

    /// Entries each layer attends over at `context` tokens, averaged over the stage's layers.
    fn attended(&self, context: f64) -> f64 {
        let per_stage = self.c4 * (context / 4.0).min(self.top_k)
            + self.c128 * context / 128.0
            + self.layers * context.min(self.window);
        per_stage / self.layers.max(1.0)
    }

    /// Bytes one sequence with `context` tokens reads in a step.
    fn bytes(&self, context: f64) -> f64 {
        self.attended(context) * self.layers * Self::ENTRY
            + self.c4 * context / 4.0 * self.index_key
    }
}

impl KvRead {
    /// What a stage's layers read per sequence: the stage's KV bytes per token, split into the
    /// sparse layers' entries and their indexer keys (each `index_head_dim` FP8 values and one
    /// fp32 scale per 128, `DeepseekV32IndexerCache` in vLLM's
    /// `model_executor/models/deepseek_v2.py`) where the model has DSA's indexer, and the
    /// linear-attention layers' per-sequence state.
    fn of(stage: &super::Stage, model: &ModelProfile) -> KvRead {
        let total = stage.kv_cache_bytes_per_token as f64;
        let state_bytes_per_sequence = stage.kv_cache_bytes_per_sequence as f64;
        if let Attention::CompressedSparseMla { indexer, .. } = &model.attention {
            let layers = stage.first_layer..stage.first_layer + stage.layers;
            let count = |r: u64| {
                layers
                    .clone()
                    .filter(|&l| model.attention.compress_ratio(l) == r)
                    .count() as f64
            };
            return KvRead {
                compressed: Some(CompressedRead {
                    c4: count(4),
                    c128: count(128),
                    layers: stage.layers as f64,
                    top_k: indexer.index_topk as f64,
                    window: model.sliding_window.unwrap_or(0) as f64,
                    index_key: super::compressed_kv::index_entry(indexer.index_head_dim) as f64,
                }),
                ..KvRead::default()
            };
        }
        let indexer = match &model.attention {
            Attention::Mla {
                indexer: Some(ix), ..
            } => Some(ix),
            _ => None,
        };
        let Some(ix) = indexer else {
            return KvRead {
                bytes_per_token: total,
                state_bytes_per_sequence,
                ..KvRead::default()
            };
        };
        let index_key = super::compressed_kv::index_entry(ix.index_head_dim) as f64;
        let indexed = model.indexed_layers(stage.first_layer..stage.first_layer + stage.layers);
        let index_bytes_per_token = (index_key * indexed as f64).min(total);
        KvRead {
            bytes_per_token: total - index_bytes_per_token,
            top_k: Some(ix.index_topk),
            index_bytes_per_token,
            state_bytes_per_sequence,
            compressed: None,
        }
    }

    /// Paged-cache bytes one sequence with `context` tokens reads in a step: the entries it
    /// attends over and, for sparse layers, every token's indexer key.
    pub fn paged_bytes(&self, context: f64) -> f64 {
        if let Some(c) = &self.compressed {
            return c.bytes(context);
        }
        self.bytes_per_token * self.attended(context) + self.index_bytes_per_token * context
    }

    /// Tokens of `context` each attention layer attends over.
    pub fn attended(&self, context: f64) -> f64 {
        if let Some(c) = &self.compressed {
            return c.attended(context);
        }
        match self.top_k {
            Some(k) => context.min(k as f64),
            None => context,
        }
    }

    /// Bytes one sequence with `context` tokens reads in a step.
    #[cfg(test)]
    pub fn bytes(&self, context: f64) -> f64 {
        self.paged_bytes(context) + self.state_bytes_per_sequence
    }
}

/// How the requests in flight spread over the engines.
struct Batch {
    /// Engines across all replicas (DP ranks × replicas).
    engines: u64,
    /// Requests each engine would run at once: the concurrency over the engines.
    wanted: u64,
    /// Sequences the KV cache holds at full length.
    kv_limit: u64,
    /// Sequences each engine decodes at once: `wanted`, capped by `max_num_seqs` and the KV
    /// cache.
    size: u64,
    /// Tokens of context a decoding sequence attends over, on average: its prompt and half its
    /// output.
    mean_context: f64,
    /// Prompt tokens prefilled per decode step, on average over a request's output: the
    /// prompts of the others that are prefilled while it decodes ([`riders`]). Its own prompt
    /// is prefilled before its first token and counts in the TTFT, not in the steps of its
    /// decode: a lone request's steps carry no prompt.
    prefill_per_step: f64,
}

impl Batch {
    fn of(cx: &Context<'_>, fit: &Fit, concurrency: u64) -> Batch {
        let w = cx.workload;
        // A request holds its prompt and its output at the end.
        let engines = (fit.layout.data_parallel_size * cx.replicas).max(1);
        let per_request = w.input_tokens + w.output_tokens;
        let kv_limit = (fit.tokens / per_request.max(1)).max(1);
        let wanted = concurrency.div_ceil(engines).max(1);
        let size = wanted.min(cx.max_num_seqs).min(kv_limit).max(1);
        Batch {
            engines,
            wanted,
            kv_limit,
            size,
            mean_context: w.input_tokens as f64 + w.output_tokens as f64 / 2.0,
            prefill_per_step: riders(size, w.request_rate.is_none() && size >= wanted)
                * w.input_tokens as f64
                / w.output_tokens.max(1) as f64,
        }
    }
}

/// How many other prompts a request of a batch of `size` sees prefilled while it decodes.
///
/// A closed loop whose requests all fit (`wave`) runs in waves: `vllm bench serve
/// --max-concurrency` starts its first `size` requests at once, and requests of one length that
/// start together finish close together and are replaced close together. The wave's prompts are
/// prefilled one after another, so the `j`-th waits for `j` prompts before its first token
/// ([`Estimator::wave_first_token_ms`]) and decodes through the `size - j` prefilled after it:
/// `(size - 1) / 2` on average. Each prompt then counts once in a request's latency, as work
/// conservation asks (a wave lasts its prompts' prefill plus its output's plain steps); counting
/// all `size - 1` here as well counted half the wave's prefill twice. Later waves may arrive
/// spread out enough that each prompt is prefilled as it comes, which would move prefill from
/// the TTFT into the TPOT (own prompt only before the first token, all `size - 1` others after)
/// but not change the throughput; the published closed loops keep a TTFT near the first wave's
/// (NVIDIA-Nemotron-3-Nano-FP8 on B200 at 64 in flight, 400 prompts: 324 ms measured, 367
/// estimated so), so every wave is taken as the first. Where requests arrive one by one (a
/// request rate, or a KV cache that admits a request as another leaves) a request's first token
/// waits for its own prompt only and it decodes through all the others'.
fn riders(size: u64, wave: bool) -> f64 {
    let others = size.saturating_sub(1) as f64;
    if wave { others / 2.0 } else { others }
}

/// One pipeline stage's share of a step, by term, in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
struct StageTime {
    hbm_ms: f64,
    compute_ms: f64,
    /// Of `hbm_ms`, the KV cache's and recurrent state's reads: attention kernels'.
    attention_hbm_ms: f64,
    /// Of `compute_ms`, the attention's and indexer's FLOPs.
    attention_compute_ms: f64,
    interconnect_ms: f64,
    network_ms: f64,
}

impl StageTime {
    /// HBM and compute overlap within a kind of kernel, the linear layers' GEMMs or attention;
    /// the two kinds run one after the other, and collectives do not overlap either.
    fn total(&self) -> f64 {
        self.hbm_ms.max(self.compute_ms)
            + self.attention_serial_ms()
            + self.interconnect_ms
            + self.network_ms
    }

    /// What running attention apart from the GEMMs adds to the overlapped totals.
    fn attention_serial_ms(&self) -> f64 {
        let linear =
            (self.hbm_ms - self.attention_hbm_ms).max(self.compute_ms - self.attention_compute_ms);
        let attention = self.attention_hbm_ms.max(self.attention_compute_ms);
        (linear + attention - self.hbm_ms.max(self.compute_ms)).max(0.0)
    }
}

/// Everything an estimate at one concurrency shares across its steps.
struct Estimator<'a> {
    cx: &'a Context<'a>,
    fit: &'a Fit,
    rates: Rates,
    fabric: Fabric,
    batch: Batch,
    /// The sparse-MLA kernel's work, for a model with DSA's indexer.
    sparse_mla: Option<SparseMlaKernel>,
    /// Prompt tokens' routed-expert GEMM rate relative to a dense matmul, the same for every
    /// stage and step of one estimate ([`Estimator::prefill_expert_relative_rate`]).
    prefill_expert_rate: f64,
    /// One prompt's prefill through every stage, ms: the same for every queued prompt.
    prompt_ms: f64,
}

impl Estimator<'_> {
    /// One stage's time for a step with `b` decoding sequences in its micro-batch and
    /// `prefill_tokens` prompt tokens riding along.
    fn stage_time(&self, stage: &super::Stage, b: f64, prefill_tokens: f64) -> StageTime {
        let (model, inv, rates) = (self.cx.model, self.cx.inventory, &self.rates);
        let layout = self.fit.layout;
        let (tp, dp) = (layout.tensor_parallel_size, layout.data_parallel_size);
        let hidden = model.hidden_size as f64;
        let act_bytes = model.torch_dtype.bytes() as f64;
        let mean_context = self.batch.mean_context;
        // The RoPE table sits among the weights vLLM loads but a step reads only its rows for
        // the batch's positions, not the whole table.
        let weights = stage
            .weight_bytes_per_gpu
            .saturating_sub(super::weights::rope_table_bytes(model)) as f64;
        let expert = weights * inv.expert_byte_fraction;
        // Under DP + EP every engine's tokens, decodes and prompt chunks alike, reach the
        // experts a GPU holds.
        let routed_tokens = (b + prefill_tokens) * dp as f64;
        let read = weights - expert + expert * inv.touched(routed_tokens);
        let kv_read = KvRead::of(stage, model);
        let paged = b * kv_read.paged_bytes(mean_context);
        // A linear-attention layer's decode kernel loads each sequence's recurrent state and
        // stores the updated state back every step (`fused_recurrent_gated_delta_rule`, vLLM
        // `model_executor/layers/fla/ops/fused_recurrent.py`, v0.11.0: `h0` loaded, `ht`
        // stored in place): twice the state, contiguous per sequence, at the streaming rate.
        // Measured for Mamba-2's `selective_state_update` at Nemotron-3-Nano's TP 1 and 2 shapes
        // with a float32 state: from 64 sequences on it moves 3.6-3.9 TB/s on an H200 (0.84-0.91
        // of its copy rate), within 6 % of the 4.1 this estimate streams at there
        // (`tools/measure_mamba_decode.py`, `tools/measurements/h200-mamba-decode-2026-12-07.json`).
        let state = b * 2.0 * kv_read.state_bytes_per_sequence;
        let attention_hbm_ms =
            (paged / rates.kv_read_efficiency + state) / rates.hbm_bytes_per_s * 1e3;
        let hbm_ms = read / rates.hbm_bytes_per_s * 1e3 + attention_hbm_ms;
        let dense_active = (weights - expert) / inv.other_bytes_per_param;
        let expert_active = if expert > 0.0 {
            expert / inv.expert_bytes_per_param * inv.routed_fraction
        } else {
            0.0
        };
        let attention = attention_flops_per_token(model, tp) * attention_layers(model, stage);
        let tokens = b + prefill_tokens;
        // Prompt tokens count at the prefill rate: a decode token's work plus the share of the
        // rate prefill loses (see PREFILL_EFFICIENCY).
        let work_tokens = b + prefill_tokens / PREFILL_EFFICIENCY;
        let prompt_context = self.cx.workload.input_tokens as f64 / 2.0;
        let attention_s = match self.sparse_mla {
            // The sparse kernel's own rate, measured as a kernel: no prefill discount on top.
            Some(k) => {
                let input = self.cx.workload.input_tokens as f64;
                (b * k.flops(k.keys(mean_context))
                    + prefill_tokens * k.flops(k.mean_prompt_keys(input)))
                    * attention_layers(model, stage)
                    / rates.sparse_mla_flops_per_s
            }
            // Decode attention's FLOPs at the BF16 rate (its KV reads are in `hbm_ms`); the
            // prompt's at the rate prefill attention was measured at for its span, as a kernel.
            None => {
                let span = 2.0 * kv_read.attended(prompt_context);
                b * kv_read.attended(mean_context) * attention / rates.attention_flops_per_s
                    + prefill_tokens * kv_read.attended(prompt_context) * attention
                        / rates.prefill_attention_flops_per_s(span)
            }
        };
        // DSA's lightning indexer scores every token of the context for each query, on every
        // TP rank (its query projection is replicated).
        // Only the layers that build an indexer score the context (IndexCache).
        let index = index_flops_per_token(model)
            * model.indexed_layers(stage.first_layer..stage.first_layer + stage.layers) as f64;
        let index_flops =
            b * mean_context * index + prefill_tokens * prompt_context * index / PREFILL_EFFICIENCY;
        // Decode tokens' expert GEMMs keep the constant (decode is HBM-bound); prompt tokens'
        // run at the grouped GEMM's measured rate for the step's shape.
        let expert_work = b / MOE_GEMM_RELATIVE_EFFICIENCY
            + prefill_tokens / PREFILL_EFFICIENCY / self.prefill_expert_rate;
        let compute_ms = (2.0 * work_tokens * dense_active / rates.linear_flops_per_s
            + 2.0 * expert_work * expert_active / rates.expert_flops_per_s
            + attention_s
            + index_flops / rates.index_flops_per_s)
            * 1e3;
        let mut time = StageTime {
            hbm_ms,
            compute_ms,
            attention_hbm_ms,
            attention_compute_ms: (attention_s + index_flops / rates.index_flops_per_s) * 1e3,
            ..StageTime::default()
        };
        // TP: two all-reduces of the batch's hidden states a layer (after attention and after
        // the MLP); one in a NemotronH layer, which holds one block.
        if tp > 1 {
            let per_layer = if model.hybrid_override_pattern.is_some() {
                1.0
            } else {
                2.0
            };
            let bytes = tokens * hidden * act_bytes * 2.0 * (tp - 1) as f64 / tp as f64;
            let cross = layout.tp_spans_nodes();
            let over = if cross {
                self.fabric.network
            } else {
                self.fabric.link
            };
            let ms = per_layer * stage.layers as f64 * over.ms(bytes);
            if cross {
                time.network_ms += ms;
            } else {
                time.interconnect_ms += ms;
            }
        }
        // DP + EP: an exchange of each routed token's hidden state there and back a MoE layer.
        if dp > 1 && matches!(model.mlp, Mlp::Moe { .. }) {
            let bytes = tokens * inv.experts_per_token as f64 * hidden * act_bytes * 2.0;
            let cross = layout.nodes > 1;
            // Across nodes half the exchange stays inside the pod: the network carries the
            // rest over every GPU's NIC.
            let over = if cross {
                self.fabric.network
            } else {
                self.fabric.link
            };
            let per_gpu = if cross {
                bytes / (layout.gpus_per_pod as f64 / 2.0)
            } else {
                bytes
            };
            let ms = routed_layers(model, stage) * (over.latency_ms + over.ms(per_gpu));
            if cross {
                time.network_ms += ms;
            } else {
                time.interconnect_ms += ms;
            }
        }
        time
    }

    /// The routed experts' grouped-GEMM rate for prompt tokens, relative to a dense matmul of
    /// their format ([`super::grouped_gemm`]), at the shape of a prefill step: the wave's
    /// prompts packed up to `max_num_batched_tokens` a step (a burst fills every step; one
    /// request alone prefills its prompt in steps of at most that), each expert getting that
    /// many tokens × DP × experts per token over the routed experts; each rank holds an
    /// expert's width cut TP ways, or whole under expert parallelism.
    fn prefill_expert_relative_rate(&self) -> f64 {
        let (inv, layout) = (self.cx.inventory, self.fit.layout);
        let input = self.cx.workload.input_tokens as f64;
        let step = (input * self.batch.size as f64).min(self.cx.max_num_batched_tokens as f64);
        let tokens_per_expert =
            step * layout.data_parallel_size as f64 * inv.experts_per_token as f64
                / inv.routed_experts as f64;
        let width = if self.fit.expert_parallel {
            inv.expert_width
        } else {
            inv.expert_width / layout.tensor_parallel_size.max(1)
        };
        let fp8 = self.rates.expert_format != GemmFormat::Bf16;
        super::grouped_gemm::relative_rate(
            fp8,
            tokens_per_expert,
            width as f64,
            inv.expert_bytes_per_param,
        )
    }

    /// The decode step: the slowest stage, once per stage a token passes, with the pipeline
    /// hand-offs and the fixed cost.
    ///
    /// With PP, vLLM keeps PP micro-batches in flight: each stage runs batch / PP sequences a
    /// step, and a token passes every stage once.
    fn decode_step(&self) -> DecodeStep {
        let pp = self.fit.layout.pipeline_parallel_size;
        let micro = self.micro_batch();
        let micro_prefill = self.batch.prefill_per_step / pp as f64;
        let mut slowest = (StageTime::default(), 0.0);
        for stage in &self.fit.stages {
            let (mean, total) = self.mean_stage_time(stage, micro, micro_prefill);
            if total > slowest.1 {
                slowest = (mean, total);
            }
        }
        let (t, total) = slowest;
        let stages = pp as f64;
        let overlapped = t.hbm_ms.max(t.compute_ms) + t.interconnect_ms + t.network_ms;
        DecodeStep {
            hbm_ms: t.hbm_ms * stages,
            compute_ms: t.compute_ms * stages,
            interconnect_ms: t.interconnect_ms * stages,
            network_ms: t.network_ms * stages + self.handoff_ms(),
            overhead_ms: self.step_overhead_ms(),
            unoverlapped_ms: (total - overlapped).max(0.0) * stages,
        }
    }

    /// A stage's mean decode step and its mean time. Prompts are prefilled in chunks, not
    /// spread over the steps: the prompts of a wave arrive together (under a request rate, one at
    /// a time) and vLLM packs them into
    /// steps of up to `max_num_batched_tokens` beside the decodes, so one step in `chunk /
    /// prefill` carries a chunk and the others none. The mean of the two kinds of step is not
    /// one step with the mean load: a chunk step is compute-bound where the others stream
    /// weights, and a plain step's tokens touch fewer experts. Where every step carries a full
    /// chunk, it is that.
    fn mean_stage_time(
        &self,
        stage: &super::Stage,
        micro: f64,
        micro_prefill: f64,
    ) -> (StageTime, f64) {
        let budget = (self.cx.max_num_batched_tokens as f64 - micro).max(1.0);
        // A closed loop's wave brings a batch of prompts at once; under a request rate they
        // arrive one by one.
        let arriving = if self.cx.workload.request_rate.is_none() {
            micro
        } else {
            1.0
        };
        let chunk = (arriving * self.cx.workload.input_tokens as f64).min(budget);
        let share = micro_prefill / chunk.max(1.0);
        if micro_prefill <= 0.0 || share >= 1.0 {
            let t = self.stage_time(stage, micro, micro_prefill);
            return (t, t.total());
        }
        let (plain, chunked) = (
            self.stage_time(stage, micro, 0.0),
            self.stage_time(stage, micro, chunk),
        );
        let mean = |a: f64, b: f64| (1.0 - share) * a + share * b;
        let t = StageTime {
            hbm_ms: mean(plain.hbm_ms, chunked.hbm_ms),
            compute_ms: mean(plain.compute_ms, chunked.compute_ms),
            attention_hbm_ms: mean(plain.attention_hbm_ms, chunked.attention_hbm_ms),
            attention_compute_ms: mean(plain.attention_compute_ms, chunked.attention_compute_ms),
            interconnect_ms: mean(plain.interconnect_ms, chunked.interconnect_ms),
            network_ms: mean(plain.network_ms, chunked.network_ms),
        };
        (t, mean(plain.total(), chunked.total()))
    }

    /// The release's fixed cost of a step through every layer of the model.
    fn step_overhead_ms(&self) -> f64 {
        step_overhead_ms(self.cx.vllm_version, StepLayers::of(self.cx.model))
    }

    /// Sequences a stage runs a step: the batch over the pipeline's micro-batches.
    fn micro_batch(&self) -> f64 {
        (self.batch.size as f64 / self.fit.layout.pipeline_parallel_size as f64).max(1.0)
    }

    /// Pipeline hand-offs of a micro-batch's hidden states from stage to stage.
    fn handoff_ms(&self) -> f64 {
        let layout = self.fit.layout;
        let pp = layout.pipeline_parallel_size;
        if pp <= 1 {
            return 0.0;
        }
        let model = self.cx.model;
        let bytes =
            self.micro_batch() * model.hidden_size as f64 * model.torch_dtype.bytes() as f64;
        let over = if layout.nodes > 1 {
            self.fabric.network
        } else {
            self.fabric.link
        };
        (pp - 1) as f64 * over.ms(bytes)
    }

    /// A new request's first token with the engines' batches running: its prompt prefilled in
    /// chunks of what the step budget leaves beside the decodes, one chunk a step, with its
    /// prompt's own FLOPs, through every stage, on top of those steps.
    fn first_token_ms(&self, tpot: f64) -> f64 {
        self.queued_first_token_ms(tpot, 1)
    }

    /// The first token of the `queued`-th of prompts that arrive together: the prompts ahead
    /// of it are prefilled first, packed `max_num_batched_tokens` a step beside the decodes.
    fn queued_first_token_ms(&self, tpot: f64, queued: u64) -> f64 {
        let input = self.cx.workload.input_tokens;
        let chunk = self
            .cx
            .max_num_batched_tokens
            .saturating_sub(self.batch.size)
            .max(1);
        let chunks = (input * queued.max(1)).div_ceil(chunk).max(1) as f64;
        API_MS + chunks * tpot + queued.max(1) as f64 * self.prompt_ms
    }

    /// One prompt's prefill FLOPs through every stage, ms (kept in [`Estimator::prompt_ms`]).
    fn prefill_one_prompt_ms(&self) -> f64 {
        let input = self.cx.workload.input_tokens as f64;
        self.fit
            .stages
            .iter()
            .map(|stage| self.stage_time(stage, 0.0, input).compute_ms)
            .sum()
    }

    /// The mean first token of a closed loop's wave: `vllm bench serve --max-concurrency`
    /// starts its first `concurrency` requests at once (`benchmark()` in vLLM's
    /// `vllm/benchmarks/serve.py` gates requests with an `asyncio.Semaphore` of that size), and
    /// requests of one length that start together finish together and are replaced together,
    /// so every wave's prompts arrive as a burst and queue behind each other's prefill: the
    /// mean over the engine's batch of [`queued_first_token_ms`](Self::queued_first_token_ms).
    fn wave_first_token_ms(&self, tpot: f64) -> f64 {
        let n = self.batch.size.max(1);
        let prompt_ms = self.prompt_ms;
        let input = self.cx.workload.input_tokens;
        let chunk = self
            .cx
            .max_num_batched_tokens
            .saturating_sub(self.batch.size)
            .max(1);
        // The mean over the wave of the steps until its prompt is done: the (n + 1) / 2 prompts
        // ahead of and including the mean request, packed `chunk` tokens a step (in closed
        // form: a batch may run to thousands of sequences).
        let steps = ((n + 1) as f64 * input as f64 / (2.0 * chunk as f64))
            .ceil()
            .max(1.0);
        API_MS + steps * tpot + (n + 1) as f64 / 2.0 * prompt_ms
    }
}

/// The time per output token a decode step gives: HBM and compute overlap; collectives, the
/// network and the fixed cost add.
fn tpot_ms(step: &DecodeStep) -> f64 {
    step.hbm_ms.max(step.compute_ms)
        + step.unoverlapped_ms
        + step.interconnect_ms
        + step.network_ms
        + step.overhead_ms
}

/// The largest term of the step.
fn bound(step: &DecodeStep) -> Bound {
    [
        (Bound::Hbm, step.hbm_ms),
        (Bound::Compute, step.compute_ms),
        (Bound::Interconnect, step.interconnect_ms),
        (Bound::Network, step.network_ms),
        (Bound::Overhead, step.overhead_ms),
    ]
    .into_iter()
    .max_by(|a, b| a.1.total_cmp(&b.1))
    .map(|(b, _)| b)
    .unwrap_or(Bound::Hbm)
}

/// The estimate with `concurrency` requests in flight.
fn estimate_at(cx: &Context<'_>, fit: &Fit, concurrency: u64) -> Option<Performance> {
    let mut est = Estimator {
        cx,
        fit,
        rates: Rates::of(cx.model, cx.hardware)?,
        fabric: Fabric::of(cx.hardware, cx.network),
        batch: Batch::of(cx, fit, concurrency),
        sparse_mla: SparseMlaKernel::of(
            cx.model,
            fit.layout.tensor_parallel_size,
            cx.hardware,
            cx.vllm_version,
        ),
        prefill_expert_rate: 1.0,
        prompt_ms: 0.0,
    };
    est.prefill_expert_rate = est.prefill_expert_relative_rate();
    est.prompt_ms = est.prefill_one_prompt_ms();
    let batch = &est.batch;
    let step = est.decode_step();
    let tpot = tpot_ms(&step);
    let first_ttft = est.first_token_ms(tpot);
    // A closed loop's requests arrive a wave at a time and queue behind each other's prompts;
    // under a request rate they arrive one by one.
    let wave_ttft = if cx.workload.request_rate.is_none() {
        est.wave_first_token_ms(tpot)
    } else {
        first_ttft
    };
    // Requests beyond what the engines hold wait for earlier ones to finish, in waves.
    let output_tokens = cx.workload.output_tokens as f64;
    let capacity = batch.size * batch.engines;
    let waves = concurrency.div_ceil(capacity.max(1)).max(1) as f64;
    let request_ms = first_ttft + output_tokens * tpot;
    let ttft = wave_ttft + (waves - 1.0) / 2.0 * request_ms;
    let served = concurrency.min(capacity * waves as u64) as f64;
    // Every request admitted: Little's law over the mean request, its first token queued in
    // its wave; the closed loop keeps `served` requests in flight, so that many finish per
    // mean request time. Beyond what the engines hold, the waves follow one another.
    let cycle_ms = if waves > 1.0 {
        waves * request_ms
    } else {
        ttft + output_tokens * tpot
    };
    let output_tokens_per_s = served * output_tokens / (cycle_ms / 1e3).max(f64::MIN_POSITIVE);
    let gpus = (fit.layout.gpus() * cx.replicas) as f64;
    let requests_per_engine = batch.wanted.min(cx.max_num_seqs);
    let kv_cache_saturated = requests_per_engine > batch.kv_limit;
    Some(Performance {
        output_tokens_per_s: round2(output_tokens_per_s),
        output_tokens_per_s_per_gpu: round2(output_tokens_per_s / gpus),
        tpot_ms: round2(tpot),
        ttft_ms: round2(ttft),
        bound: bound(&step),
        concurrency,
        overloaded: false,
        batch_per_engine: batch.size,
        requests_per_engine,
        kv_cache_saturated,
        range: Range::around(output_tokens_per_s / gpus, tpot, ttft, kv_cache_saturated),
        decode_step: DecodeStep {
            hbm_ms: round2(step.hbm_ms),
            compute_ms: round2(step.compute_ms),
            interconnect_ms: round2(step.interconnect_ms),
            network_ms: round2(step.network_ms),
            overhead_ms: round2(step.overhead_ms),
            unoverlapped_ms: round2(step.unoverlapped_ms),
        },
        cost_per_million_output_tokens: cost_per_million(cx, gpus, output_tokens_per_s),
    })
}

/// The stage's layers that attend over the context: all of them, but for a hybrid model only
/// those whose cache grows with the sequence (its gated DeltaNet and Mamba-2 layers read a
/// fixed state instead, [`KvRead::state_bytes_per_sequence`]; NemotronH's MLP and MoE layers
/// attend to nothing).
fn attention_layers(model: &ModelProfile, stage: &super::Stage) -> f64 {
    if model.linear_attention.is_none() && model.hybrid_override_pattern.is_none() {
        return stage.layers as f64;
    }
    stage
        .kv_cache_groups
        .iter()
        .filter(|g| !g.kind.is_state())
        .map(|g| g.layers)
        .sum::<u64>() as f64
}

/// The stage's layers whose tokens DP + EP exchanges: every layer, but only the `E` layers of
/// a NemotronH pattern.
fn routed_layers(model: &ModelProfile, stage: &super::Stage) -> f64 {
    if model.hybrid_override_pattern.is_none() {
        return stage.layers as f64;
    }
    (stage.first_layer..stage.first_layer + stage.layers)
        .filter(|&l| model.routes_layer(l))
        .count() as f64
}

/// Attention FLOPs per token and layer per unit of context on one TP rank: QKᵀ and PV, two
/// FLOPs a multiply-add each.
fn attention_flops_per_token(model: &ModelProfile, tp: u64) -> f64 {
    match &model.attention {
        Attention::Gqa {
            num_attention_heads,
            head_dim,
            ..
        } => 4.0 * (num_attention_heads / tp).max(1) as f64 * *head_dim as f64,
        // MLA decodes in the latent space: each head attends over kv_lora_rank + rope dims.
        Attention::Mla {
            num_attention_heads,
            kv_lora_rank,
            qk_rope_head_dim,
            ..
        } => {
            4.0 * (num_attention_heads / tp).max(1) as f64
                * (kv_lora_rank + qk_rope_head_dim) as f64
        }
        // DeepSeek-V4 attends in its 512-wide latent too (keys and values one vector).
        Attention::CompressedSparseMla {
            num_attention_heads,
            head_dim,
            ..
        } => 4.0 * (num_attention_heads / tp).max(1) as f64 * *head_dim as f64,
    }
}

/// DSA's lightning indexer's FLOPs per query token and layer per unit of context: one logit
/// per head (`index_n_heads` × `index_head_dim` multiply-adds, two FLOPs each), summed over
/// heads; 0 without an indexer. The query projection `wq_b` is a `ReplicatedLinear` (vLLM
/// `model_executor/models/deepseek_v2.py`, `Indexer`), so every TP rank scores all heads.
fn index_flops_per_token(model: &ModelProfile) -> f64 {
    match &model.attention {
        Attention::Mla {
            indexer: Some(ix), ..
        } => 2.0 * ix.index_n_heads as f64 * ix.index_head_dim as f64,
        _ => 0.0,
    }
}

/// Dollars per million output tokens at the context's GPU-hour price, if it has one.
fn cost_per_million(cx: &Context<'_>, gpus: f64, output_tokens_per_s: f64) -> Option<f64> {
    cx.gpu_hour_price
        .map(|price| round2(price * gpus / 3600.0 / output_tokens_per_s * 1e6))
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A NemotronH stage reads its Mamba-2 layers' fixed state per sequence (1,062,400 bytes a
    /// layer at TP 8 for Nemotron-3 Ultra, as the plan's stage states it) beside the KV cache
    /// of its attention layers, and only those 12 of its 108 layers attend over the context.
    #[test]
    fn mamba_layers_read_a_fixed_state() {
        let catalog = crate::Catalog::builtin();
        let model = catalog.model("nemotron-3-ultra").unwrap();
        let h200 = catalog.hardware("h200-141gb").unwrap();
        let plan = crate::Planner::new(model, h200)
            .plan(&crate::PlanOptions {
                tensor_parallel_size: Some(8),
                pipeline_parallel_size: Some(2),
                ..crate::PlanOptions::default()
            })
            .unwrap();
        let (mut state, mut attending) = (0.0, 0.0);
        for stage in &plan.stages {
            let read = KvRead::of(stage, model);
            assert_eq!(
                read.state_bytes_per_sequence,
                stage.kv_cache_bytes_per_sequence as f64
            );
            // The same state at any context; the attention cache grows with it.
            let grows = read.bytes(2000.0) - read.bytes(1000.0);
            assert_eq!(grows, 1000.0 * stage.kv_cache_bytes_per_token as f64);
            state += read.state_bytes_per_sequence;
            attending += attention_layers(model, stage);
        }
        assert_eq!(state, 48.0 * 1_062_400.0);
        assert_eq!(attending, 12.0);
        // Pure attention models attend on every layer.
        let llama = catalog.model("llama-3.1-8b-instruct").unwrap();
        let plan = crate::Planner::new(llama, h200)
            .plan(&crate::PlanOptions::default())
            .unwrap();
        assert_eq!(attention_layers(llama, &plan.stages[0]), 32.0);
        assert_eq!(
            KvRead::of(&plan.stages[0], llama).state_bytes_per_sequence,
            0.0
        );
    }

    /// Each row: a KV read, the context, the bytes expected. DeepSeek-V3.2's DSA: 2048 tokens
    /// selected (`index_topk` in deepseek-ai/DeepSeek-V3.2's config.json), a 656-byte
    /// `fp8_ds_mla` entry per token and layer (512 FP8 NoPE + 16 of fp32 scales + 128 of BF16
    /// RoPE: vLLM's `get_kv_cache_shape` in `v1/attention/backends/mla/flashmla_sparse.py`) and
    /// a 132-byte indexer key (`DeepseekV32IndexerCache` in `model_executor/models/deepseek_v2.py`).
    #[test]
    fn kv_reads_by_kind() {
        let full = KvRead {
            bytes_per_token: 100.0,
            ..KvRead::default()
        };
        let sparse = KvRead {
            bytes_per_token: 656.0,
            top_k: Some(2048),
            index_bytes_per_token: 132.0,
            ..KvRead::default()
        };
        let linear = KvRead {
            state_bytes_per_sequence: 1e6,
            ..KvRead::default()
        };
        let rows = [
            (full, 1000.0, 100_000.0),
            // Below the top-k a sparse layer reads everything.
            (sparse, 1000.0, 656.0 * 1000.0 + 132.0 * 1000.0),
            // Above it, only the top-k, but the indexer scans the whole context.
            (sparse, 32000.0, 656.0 * 2048.0 + 132.0 * 32000.0),
            // A linear-attention state is the same at any length.
            (linear, 1000.0, 1e6),
            (linear, 100_000.0, 1e6),
        ];
        for (read, context, bytes) in rows {
            assert_eq!(read.bytes(context), bytes, "{read:?} at {context}");
        }
        assert_eq!(sparse.attended(32000.0), 2048.0);
        // DeepSeek-V4-Flash's 43 layers (21 of ratio 4, 20 of ratio 128; config.json of
        // deepseek-ai/DeepSeek-V4-Flash) at 100,000 tokens: the ratio-4 layers read their 512
        // picked entries and scan 25,000 indexer keys, the ratio-128 layers 781.25 entries,
        // every layer its 128-token window.
        let v4 = KvRead {
            compressed: Some(CompressedRead {
                c4: 21.0,
                c128: 20.0,
                layers: 43.0,
                top_k: 512.0,
                window: 128.0,
                index_key: 132.0,
            }),
            ..KvRead::default()
        };
        let entries = 21.0 * 512.0 + 20.0 * 781.25 + 43.0 * 128.0;
        assert_eq!(v4.attended(100_000.0), entries / 43.0);
        assert_eq!(
            v4.bytes(100_000.0),
            entries * 584.0 + 21.0 * 25_000.0 * 132.0
        );
    }

    /// A decode step reads a linear-attention layer's state once per sequence, whatever the
    /// context: Kimi-K3 at TP 8 × PP 2 on H200, stage 0 holds 11 MLA layers (1,152 bytes a
    /// token each, 12,672) and 36 KDA layers of 814,080 bytes a sequence (29,306,880), gated
    /// DeltaNet's treatment.
    #[test]
    fn kda_state_is_read_once_per_sequence() {
        let catalog = crate::Catalog::builtin();
        let plan = super::super::Planner::new(
            catalog.model("kimi-k3").unwrap(),
            catalog.hardware("h200-141gb").unwrap(),
        )
        .plan(&super::super::PlanOptions {
            tensor_parallel_size: Some(8),
            pipeline_parallel_size: Some(2),
            ..Default::default()
        })
        .unwrap();
        let read = KvRead::of(&plan.stages[0], catalog.model("kimi-k3").unwrap());
        assert_eq!(read.bytes_per_token, 12_672.0);
        assert_eq!(read.state_bytes_per_sequence, 36.0 * 814_080.0);
        for context in [1000.0, 100_000.0] {
            assert_eq!(read.bytes(context), 12_672.0 * context + 29_306_880.0);
        }
    }

    /// FP4 runs at the FP4 peak where the GPU has one (B200: 9000 dense TFLOP/s, DGX B200
    /// datasheet), else falls back to FP8, then BF16.
    #[test]
    fn formats_fall_back_to_what_the_gpu_has() {
        let blackwell = DenseTflops {
            bf16: 2250.0,
            fp8: Some(4500.0),
            fp4: Some(9000.0),
        };
        let hopper = DenseTflops {
            fp4: None,
            fp8: Some(1979.0),
            bf16: 989.0,
        };
        let ampere = DenseTflops {
            bf16: 312.0,
            fp8: None,
            fp4: None,
        };
        assert_eq!(GemmFormat::Fp4.peak(&blackwell), (GemmFormat::Fp4, 9000.0));
        assert_eq!(GemmFormat::Fp4.peak(&hopper), (GemmFormat::Fp8, 1979.0));
        assert_eq!(GemmFormat::Fp8.peak(&ampere), (GemmFormat::Bf16, 312.0));
    }

    /// Prefill attention runs at the curve measured on Hopper (a 16k-token prompt: 0.64 of an
    /// H100's 989 TFLOP/s); elsewhere at the BF16 rate times the prefill discount.
    #[test]
    fn prefill_attention_takes_the_hopper_measurement_only_on_hopper() {
        let catalog = crate::Catalog::builtin();
        let model = catalog.model("llama-3.1-8b-instruct").unwrap();
        let h100 = Rates::of(model, catalog.hardware("h100-80gb").unwrap()).unwrap();
        let at_16k = h100.prefill_attention_flops_per_s(16384.0);
        assert!((at_16k - 0.64 * 989e12).abs() < 1e9, "{at_16k}");
        let b200 = Rates::of(model, catalog.hardware("b200").unwrap()).unwrap();
        assert_eq!(
            b200.prefill_attention_flops_per_s(16384.0),
            b200.attention_flops_per_s * PREFILL_EFFICIENCY
        );
    }

    /// A step's kernels run one after another: linear layers streaming 10 ms of weights and
    /// attention computing for 4 ms (reading 1 ms of KV) take 14 ms, not the 11 ms of HBM that
    /// overlapping the step's totals would say; when both kinds are HBM-bound nothing is added.
    #[test]
    fn attention_runs_beside_the_gemms_not_under_them() {
        let step = |hbm_ms, compute_ms, attention_hbm_ms, attention_compute_ms| StageTime {
            hbm_ms,
            compute_ms,
            attention_hbm_ms,
            attention_compute_ms,
            ..StageTime::default()
        };
        let apart = step(11.0, 6.0, 1.0, 4.0);
        assert_eq!(apart.attention_serial_ms(), 3.0);
        assert_eq!(apart.total(), 14.0);
        let both_hbm = step(11.0, 3.0, 1.0, 0.5);
        assert_eq!(both_hbm.attention_serial_ms(), 0.0);
        assert_eq!(both_hbm.total(), 11.0);
    }

    /// NVFP4 multiplies in FP4 on Blackwell only; Hopper runs the same checkpoint weight-only
    /// (BF16 compute). DeepSeek-V4's NVFP4 experts leave its FP8 linears FP8.
    #[test]
    fn nvfp4_computes_in_fp4_on_blackwell_only() {
        let catalog = crate::Catalog::builtin();
        let (b200, h100) = (
            catalog.hardware("b200").unwrap(),
            catalog.hardware("h100-80gb").unwrap(),
        );
        let mut model = catalog.model("llama-3.1-8b-instruct").unwrap().clone();
        model.quantization = Some(Quantization::ModeloptFp4 {
            group_size: 16,
            exclude_modules: vec![],
            fp8_kv_cache: false,
        });
        assert_eq!(
            gemm_formats(&model, b200),
            (GemmFormat::Fp4, GemmFormat::Fp4)
        );
        assert_eq!(
            gemm_formats(&model, h100),
            (GemmFormat::Bf16, GemmFormat::Bf16)
        );
        let mut v4 = catalog.model("deepseek-v4-flash").unwrap().clone();
        assert_eq!(gemm_formats(&v4, b200), (GemmFormat::Fp8, GemmFormat::Fp8));
        if let Some(Quantization::Fp8 { moe_quant_algo, .. }) = &mut v4.quantization {
            *moe_quant_algo = Some(MoeQuantAlgo::Nvfp4);
        }
        assert_eq!(gemm_formats(&v4, b200), (GemmFormat::Fp8, GemmFormat::Fp4));
        assert_eq!(gemm_formats(&v4, h100), (GemmFormat::Fp8, GemmFormat::Fp8));
        // And the FP4 rate is what the estimate divides by.
        let rates = Rates::of(&v4, b200).unwrap();
        let fp8 = Rates::of(&catalog.model("deepseek-v4-flash").unwrap().clone(), b200).unwrap();
        assert!(rates.expert_flops_per_s > 1.9 * fp8.expert_flops_per_s);
    }

    /// The step's fixed cost per release and kind of layer: 0.10.x keeps its fitted 3.5 ms;
    /// from 0.11 it grows with the layers. Rows: Qwen3-8B (36 dense layers) and Qwen3-30B-A3B
    /// (48 MoE layers), the fitted points; NVIDIA-Nemotron-3-Nano (52 one-block layers, 23 of
    /// them MoE: 29 half-layers of 17.5 µs and 23 MoE blocks of 56 - 17.5 µs); DeepSeek-V4-Flash
    /// (43 MoE layers with compressed sparse attention, 82 µs more each); DeepSeek-R1 (61 MLA
    /// layers, 58 of them MoE, 190 µs more each from 0.11 on; 0.10.x keeps its flat cost).
    #[test]
    fn step_overhead_per_release() {
        let layers = |layers, moe, single_block, compressed_sparse, mla| StepLayers {
            layers,
            moe,
            single_block,
            compressed_sparse,
            mla,
        };
        let rows = [
            ((0, 10, 1), layers(36, 0, false, 0, 0), 3.5),
            ((0, 11, 0), layers(36, 0, false, 0, 0), 0.3 + 36.0 * 0.035),
            ((0, 17, 0), layers(48, 48, false, 0, 0), 0.3 + 48.0 * 0.056),
            (
                (0, 16, 0),
                layers(52, 23, true, 0, 0),
                0.3 + 29.0 * 0.0175 + 23.0 * (0.056 - 0.0175),
            ),
            (
                (0, 20, 1),
                layers(43, 43, false, 43, 0),
                0.3 + 43.0 * (0.056 + 0.082),
            ),
            (
                (0, 11, 0),
                layers(61, 58, false, 0, 61),
                0.3 + 3.0 * 0.035 + 58.0 * 0.056 + 61.0 * 0.19,
            ),
            ((0, 10, 1), layers(61, 58, false, 0, 61), 3.5),
        ];
        for ((a, b, c), l, want) in rows {
            let got = step_overhead_ms(VllmVersion(a, b, c), l);
            assert!((got - want).abs() < 1e-9, "{l:?}: {got} != {want}");
        }
    }

    /// The layers that carry MLA's extra cost: every layer of a DeepSeek-V3-style model, only
    /// the full-attention layers of Kimi-K3's KDA hybrid, none of a GQA model's or of
    /// DeepSeek-V4's compressed sparse attention (its own figure).
    #[test]
    fn mla_layers_are_counted_where_they_attend() {
        let catalog = crate::Catalog::builtin();
        let count = |id: &str| StepLayers::of(catalog.model(id).unwrap()).mla;
        assert_eq!(count("deepseek-r1"), 61);
        assert_eq!(count("glm-5.1-fp8"), 78);
        assert_eq!(count("llama-3.1-8b-instruct"), 0);
        assert_eq!(count("deepseek-v4-flash"), 0);
        let k3 = catalog.model("kimi-k3").unwrap();
        let full = (0..k3.num_hidden_layers)
            .filter(|&l| k3.layer_type(l) != LayerType::LinearAttention)
            .count() as u64;
        assert!(0 < full && full < k3.num_hidden_layers, "{full}");
        assert_eq!(StepLayers::of(k3).mla, full);
    }

    #[test]
    fn ranges_overlap_or_not() {
        let a = Range::around(100.0, 10.0, 100.0, false);
        let near = Range::around(110.0, 9.0, 100.0, false);
        let far = Range::around(300.0, 3.0, 100.0, false);
        assert!(a.throughput_overlaps(&near) && a.tpot_overlaps(&near));
        assert!(!a.throughput_overlaps(&far) && !a.tpot_overlaps(&far));
        assert_eq!(a.output_tokens_per_s_per_gpu, [65.0, 135.0]);
    }

    /// vLLM's sparse-MLA kernel pads a rank's query heads to 64 on Hopper and 128 on Blackwell
    /// (`FlashMLASparseImpl`, vLLM v0.13.0 and v0.24.0) and, before v0.24.0, attends over every
    /// one of the indexer's 2048 slots whatever the position (no `topk_length`). Each row: model,
    /// TP, GPU, release → padded heads, keys of a token at position 100 and the mean keys over a
    /// 4096-token prompt.
    #[test]
    fn the_sparse_mla_kernel_pads_heads_and_counts_its_slots() {
        let catalog = crate::Catalog::builtin();
        let rows = [
            // DeepSeek-V3.2: 128 heads, TP 8 → 16 a rank, padded to 64 on H200.
            (
                "deepseek-v3.2",
                8,
                "h200-141gb",
                VllmVersion(0, 13, 0),
                64.0,
                2048.0,
                2048.0,
            ),
            // The same at TP 1: 128 heads are a multiple of 64 already.
            (
                "deepseek-v3.2",
                1,
                "h200-141gb",
                VllmVersion(0, 13, 0),
                128.0,
                2048.0,
                2048.0,
            ),
            // Blackwell pads to 128.
            (
                "deepseek-v3.2",
                8,
                "b200",
                VllmVersion(0, 13, 0),
                128.0,
                2048.0,
                2048.0,
            ),
            // GLM-5.1: 64 heads, TP 8 → 8 a rank, padded to 64; from 0.24 the kernel skips the
            // unfilled slots: position 100 attends over 100 keys, a 4096-token prompt over
            // (2048 · 2049 / 2 + 2048 · 2048) / 4096 = 1536.25 on average.
            (
                "glm-5.1-fp8",
                8,
                "h200-141gb",
                VllmVersion(0, 24, 0),
                64.0,
                100.0,
                1536.25,
            ),
        ];
        for (model, tp, gpu, version, heads, keys_at_100, mean_keys) in rows {
            let m = catalog.model(model).unwrap();
            let hw = catalog.hardware(gpu).unwrap();
            let k = SparseMlaKernel::of(m, tp, hw, version).unwrap();
            assert_eq!(k.heads, heads, "{model} TP {tp} on {gpu}");
            assert_eq!(k.keys(100.0), keys_at_100, "{model} {version}");
            assert_eq!(k.mean_prompt_keys(4096.0), mean_keys, "{model} {version}");
            // QKᵀ over 512 + 64 and PV over 512, two FLOPs a multiply-add.
            assert_eq!(k.flops_per_head_key, 2176.0);
        }
        // Dense MLA (DeepSeek-R1) runs no sparse kernel.
        let r1 = catalog.model("deepseek-r1").unwrap();
        let h200 = catalog.hardware("h200-141gb").unwrap();
        assert!(SparseMlaKernel::of(r1, 8, h200, VllmVersion(0, 13, 0)).is_none());
    }
}
