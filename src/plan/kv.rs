//! The KV cache as vLLM's KV-cache manager models it: a cache spec per layer, layers grouped by
//! spec into groups that share one block pool, and from the pool's blocks the tokens and
//! sequences one engine holds.
//!
//! Sources (vLLM; the notes behind them read each file at the commit given):
//! - specs and page sizes: `vllm/v1/kv_cache_interface.py` @
//!   bc8282e61df21719b12b391c3a976b1c900dfbb4 — `FullAttentionSpec.real_page_size_bytes =
//!   block × kv_heads × (head_size + head_size_v) × dtype`, `MLAAttentionSpec` (one latent
//!   "head", `fp8_ds_mla` 656 bytes a token), `SlidingWindowSpec` / `ChunkedLocalAttentionSpec`
//!   `max_memory_usage_bytes`, `MambaSpec` (a state page per sequence; 1 page without prefix
//!   caching, `mamba_cache_mode = 'none'`);
//! - heads per rank: `max(1, kv_heads / tp)`, 1 for MLA (`vllm/config/model.py`
//!   `get_num_kv_heads` @ 18ec6629253632af0a384f2ffbb8c6b28af322e7);
//! - grouping: `vllm/v1/core/kv_cache_utils.py` @ 001cabc1be16a59a70d720ed61a13b678c060a18,
//!   `get_kv_cache_groups`: one spec → one group; several specs of one attention type (MLA and
//!   the sparse-attention indexer) → one `UniformTypeKVCacheSpecs` group whose block is the sum
//!   of its layers' pages; otherwise `unify_kv_cache_spec_page_size` and
//!   `_get_kv_cache_groups_uniform_page_size` (layers bucketed by spec, `group_size = max` if
//!   `max < 1.5 × min` else `min`, each bucket cut into `ceil(n / group_size)` interleaved
//!   groups, all sharing `group_size` tensors of one page a block);
//! - block counts and concurrency: `get_kv_cache_config_from_groups`,
//!   `get_max_concurrency_for_kv_cache_config`, and the "GPU KV cache size" of
//!   `_report_kv_cache_config` (`blocks // groups × block_size`, as vLLM 0.19.0 still logs it:
//!   vllm-project/vllm#40691);
//! - hybrid block size: `Platform._align_hybrid_block_size` (`vllm/platforms/interface.py`,
//!   vLLM 0.34.0) raises the attention block size to `align × ceil(state_page / (align ×
//!   attention_bytes_per_token))`, and pads the state page to the attention page;
//! - state shapes and dtypes: `MambaStateShapeCalculator.gated_delta_net_state_shape` and
//!   `MambaStateDtypeCalculator` (`vllm/model_executor/layers/mamba/mamba_utils.py` @
//!   02d710837549a368073552333f66d714477415d2): a `(K − 1, conv_dim / tp)` convolution state in
//!   the model dtype and an `(nv / tp, dv, dk)` recurrent state in `mamba_ssm_cache_dtype`, which
//!   Qwen3.5's config sets through `mamba_ssm_dtype` (`Qwen3_5ForConditionalGenerationConfig`,
//!   `vllm/model_executor/models/config.py`); `kda_state_shape` / `kda_state_dtype` (same file
//!   and commit) for Kimi Delta Attention: a `(K − 1, 3 × heads × head_dim / tp)` convolution
//!   state in the model dtype and a float32 `(heads / tp, head_dim, head_dim)` recurrent one.
//!
//! A new architecture is a declaration of its layers' kinds ([`LayerType`], [`Attention`],
//! [`LinearAttention`]); the grouping below needs nothing more.
//!
//! DeepSeek-V4's compressed sparse attention has several caches per layer, grouped and packed
//! its own way: [`super::compressed_kv`] lays it out, and [`KvLayout`] answers from it.

use serde::{Deserialize, Serialize};

use crate::profile::{Attention, HardwareProfile, LayerType, LinearAttention, ModelProfile};
/// `--kv-cache-dtype`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum KvCacheDtype {
    /// The model's dtype (`torch_dtype`; BF16 → 2 bytes).
    #[default]
    Auto,
    /// FP8 (e4m3): 1 byte, half the memory of BF16.
    Fp8,
}

impl KvCacheDtype {
    /// Bytes per cached element for this model: under `auto` the checkpoint's own KV dtype
    /// where it names one (ModelOpt's FP8 KV cache), else the model's dtype.
    pub fn bytes(self, model: &ModelProfile) -> u64 {
        match self {
            KvCacheDtype::Auto => model
                .quantization
                .as_ref()
                .and_then(crate::profile::Quantization::kv_cache_bytes)
                .unwrap_or_else(|| model.torch_dtype.bytes()),
            KvCacheDtype::Fp8 => 1,
        }
    }

    /// The flag value, as vLLM spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            KvCacheDtype::Auto => "auto",
            KvCacheDtype::Fp8 => "fp8",
        }
    }
}

/// KV heads one TP rank stores: `max(1, kv_heads / tp)`; MLA stores one latent "head".
pub fn kv_heads_per_rank(model: &ModelProfile, tp: u64) -> u64 {
    match &model.attention {
        Attention::Gqa {
            num_key_value_heads,
            ..
        } => (num_key_value_heads / tp).max(1),
        Attention::Mla { .. } | Attention::CompressedSparseMla { .. } => 1,
    }
}

/// Bytes one token takes in one attention layer's KV cache on one GPU (a sparse-attention
/// layer's indexer cache included).
pub fn bytes_per_token_per_layer(model: &ModelProfile, tp: u64, dtype: KvCacheDtype) -> u64 {
    let elem = dtype.bytes(model);
    match &model.attention {
        Attention::Gqa { head_dim, .. } => 2 * kv_heads_per_rank(model, tp) * head_dim * elem,
        Attention::Mla {
            kv_lora_rank,
            qk_rope_head_dim,
            indexer,
            ..
        } => match indexer {
            None => (kv_lora_rank + qk_rope_head_dim) * elem,
            Some(ix) => {
                sparse_mla_latent_bytes(*kv_lora_rank, *qk_rope_head_dim, dtype, elem)
                    + index_key_bytes(ix)
            }
        },
        // Compressed sparse attention differs by layer ([`super::compressed_kv`]): its cache of
        // one uncompressed token, the sliding window's 584-byte `fp8_ds_mla` entry.
        Attention::CompressedSparseMla { .. } => super::compressed_kv::FP8_DS_MLA_ENTRY,
    }
}

/// [`bytes_per_token_per_layer`] of layer `layer` (a decoder layer, or an MTP layer past
/// them): a sparse-MLA layer whose indexer IndexCache skips ([`ModelProfile::indexer_on`])
/// caches its latent alone. Such a layer builds no `Indexer` and so no
/// `DeepseekV32IndexerCache` (`DeepseekV2MLAAttention.__init__`,
/// `vllm/model_executor/models/deepseek_v2.py` @ 002d6073aa034d4f5545d45021b0e56d1f3c3593);
/// its latent stays a sparse-MLA entry, which the indexed layers' selection drives.
pub fn layer_bytes_per_token(
    model: &ModelProfile,
    layer: u64,
    tp: u64,
    dtype: KvCacheDtype,
) -> u64 {
    match &model.attention {
        Attention::Mla {
            kv_lora_rank,
            qk_rope_head_dim,
            indexer: Some(_),
            ..
        } if !model.indexer_on(layer) => {
            sparse_mla_latent_bytes(*kv_lora_rank, *qk_rope_head_dim, dtype, dtype.bytes(model))
        }
        _ => bytes_per_token_per_layer(model, tp, dtype),
    }
}

/// A sparse-MLA layer's latent entry: under `--kv-cache-dtype fp8` vLLM's `fp8_ds_mla`, 656
/// bytes a token (512 FP8 NoPE values, 4 fp32 scales, 64 BF16 RoPE values; FlashMLA sparse's
/// layout), else the latent and its rotary part in `elem`-byte elements.
fn sparse_mla_latent_bytes(kv_lora_rank: u64, rope: u64, dtype: KvCacheDtype, elem: u64) -> u64 {
    match dtype {
        KvCacheDtype::Fp8 => 656,
        KvCacheDtype::Auto => (kv_lora_rank + rope) * elem,
    }
}

/// The indexer's key of one token: `index_head_dim` FP8 values and one fp32 scale per 128 of
/// them, whatever the KV dtype (`DeepseekV32IndexerCache`,
/// `vllm/model_executor/models/deepseek_v2.py`, vLLM 0.28.0).
fn index_key_bytes(ix: &crate::profile::Indexer) -> u64 {
    ix.index_head_dim + ix.index_head_dim.div_ceil(128) * 4
}

/// Bytes of one linear-attention layer's state for one sequence on one GPU at this TP
/// (`MambaSpec.page_size_bytes` before padding), and its convolution and recurrent parts.
// The planner sizes states through `speculative_state_bytes_per_sequence`; this is for tests
// and the machinery API.
#[cfg_attr(not(feature = "machinery"), allow(dead_code))]
pub fn state_bytes_per_sequence(model: &ModelProfile, tp: u64) -> u64 {
    speculative_state_bytes_per_sequence(model, tp, 0)
}

/// [`state_bytes_per_sequence`] under speculative decoding with `num_spec` draft tokens a
/// step: the convolution state keeps `K − 1 + num_spec` rows (`num_spec` of
/// `gated_delta_net_state_shape`, `mamba2_state_shape` and `kda_state_shape`, set from
/// `vllm_config.num_speculative_tokens` by the model classes, vLLM 0.34.0).
pub fn speculative_state_bytes_per_sequence(model: &ModelProfile, tp: u64, num_spec: u64) -> u64 {
    let Some(mixer) = &model.linear_attention else {
        return 0;
    };
    let tp = tp.max(1);
    // Every mixer's convolution state is `(K − 1 + num_spec, conv_dim / tp)` in the model dtype
    // (`mamba_cache_dtype` 'auto'); Mamba-2's conv_dim counts its groups as replicated at this
    // TP.
    let conv = (mixer.conv_kernel().saturating_sub(1) + num_spec)
        * (mixer.conv_dim_at(tp) / tp)
        * model.torch_dtype.bytes();
    let recurrent = match mixer {
        // `gated_delta_net_state_shape`: `(value heads / tp, value dim, key dim)` in
        // `mamba_ssm_dtype`.
        LinearAttention::GatedDeltaNet {
            linear_num_value_heads: nv,
            linear_key_head_dim: dk,
            linear_value_head_dim: dv,
            mamba_ssm_dtype,
            ..
        } => (nv / tp) * dv * dk * mamba_ssm_dtype.unwrap_or(model.torch_dtype).bytes(),
        // `mamba2_state_shape`: `(heads / tp, head_dim, ssm_state_size)` in
        // `mamba_ssm_cache_dtype`.
        LinearAttention::Mamba2 {
            mamba_num_heads,
            mamba_head_dim,
            ssm_state_size,
            mamba_ssm_cache_dtype,
            ..
        } => {
            (mamba_num_heads / tp)
                * mamba_head_dim
                * ssm_state_size
                * mamba_ssm_cache_dtype.unwrap_or(model.torch_dtype).bytes()
        }
        // `kda_state_shape`: `(num_heads / tp, head_dim, head_dim)` always in float32
        // (`kda_state_dtype`; `vllm/model_executor/layers/mamba/mamba_utils.py` @
        // 02d710837549a368073552333f66d714477415d2). Older releases kept q, k and v's
        // convolution states apart, the same bytes (`KimiDeltaAttention.get_state_shape`,
        // `vllm/model_executor/layers/kda.py` @ 01a7e5d91d42e6232d746d12f898a590f1ee77f9).
        LinearAttention::KimiDeltaAttention {
            num_heads,
            head_dim,
            ..
        } => (num_heads / tp) * head_dim * head_dim * KDA_RECURRENT_STATE_BYTES,
    };
    conv + recurrent
}

/// Bytes of one element of KDA's recurrent state: float32 whatever the model's dtype
/// (`MambaStateDtypeCalculator.kda_state_dtype`, `mamba_utils.py` @
/// 02d710837549a368073552333f66d714477415d2).
const KDA_RECURRENT_STATE_BYTES: u64 = 4;

/// What a layer's cache holds, as the plan names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CacheKind {
    /// K and V of every token (`FullAttentionSpec`).
    FullAttention,
    /// K and V of the last `sliding_window` tokens (`SlidingWindowSpec`).
    SlidingWindow,
    /// K and V of the current chunk (`ChunkedLocalAttentionSpec`), with the hybrid KV-cache
    /// manager enabled; by default vLLM caches chunked layers as full attention, and so does
    /// lwsplan.
    ChunkedLocalAttention,
    /// One compressed latent per token (`MLAAttentionSpec`).
    Mla,
    /// MLA's latent plus the lightning indexer's key per token (DeepSeek Sparse Attention: the
    /// two `MLAAttentionSpec`s of a layer, one `UniformTypeKVCacheSpecs` group).
    SparseMla,
    /// A gated DeltaNet layer's convolution and recurrent state per sequence (`MambaSpec`).
    GatedDeltaNet,
    /// A Mamba-2 layer's convolution and recurrent state per sequence (`MambaSpec`,
    /// `mamba_type` "mamba2").
    Mamba2,
    /// A Kimi Delta Attention layer's convolution and recurrent state per sequence
    /// (`MambaSpec`, Kimi-Linear and Kimi-K3).
    KimiDeltaAttention,
    /// DeepSeek-V4's compressed latents (one per 4 or 128 tokens) and its indexer's keys:
    /// `MLAAttentionSpec`s of 256-token blocks, one `UniformTypeKVCacheSpecs` group.
    CompressedMla,
    /// DeepSeek-V4's uncompressed last `sliding_window` tokens on every layer
    /// (`SlidingWindowMLASpec`, 64-token blocks).
    SlidingWindowMla,
    /// DeepSeek-V4's compressors' fp32 state for the tokens of the group still open, kept as a
    /// sliding window of `coff × ratio` tokens (`SlidingWindowMLASpec`, blocks of 4 or 8).
    CompressorState,
}

impl CacheKind {
    /// Whether the cache is a fixed state per sequence rather than a cache per token.
    pub fn is_state(self) -> bool {
        matches!(
            self,
            CacheKind::GatedDeltaNet | CacheKind::Mamba2 | CacheKind::KimiDeltaAttention
        )
    }

    /// Extra state pages a sequence holds beyond the `state_pages` of the running (and, in
    /// `mamba_cache_mode` 'align', the cached) state: in 'align' mode Mamba-2 keeps one prefill
    /// checkpoint block (`num_prefill_checkpoint_blocks = 1`, `mamba_mixer2.py`, vLLM 0.34.0,
    /// lines 1089-1099; `MambaSpec.max_memory_usage_bytes`, `vllm/v1/kv_cache_interface.py`,
    /// line 1168). Gated DeltaNet keeps one only with the FlashInfer prefill kernel, which
    /// lwsplan does not model.
    pub(crate) fn checkpoint_pages(self, state_pages: u64) -> u64 {
        u64::from(state_pages > 1 && self == CacheKind::Mamba2)
    }

    /// The state kind of a linear-attention mixer.
    pub(crate) fn of_mixer(mixer: Option<&LinearAttention>) -> CacheKind {
        match mixer {
            Some(LinearAttention::GatedDeltaNet { .. }) | None => CacheKind::GatedDeltaNet,
            Some(LinearAttention::Mamba2 { .. }) => CacheKind::Mamba2,
            Some(LinearAttention::KimiDeltaAttention { .. }) => CacheKind::KimiDeltaAttention,
        }
    }

    /// Whether vLLM counts it as full attention (`FullAttentionSpec` and its subclasses), the
    /// one type a `UniformTypeKVCacheSpecs` group may mix page sizes of.
    fn is_full_attention_type(self) -> bool {
        matches!(
            self,
            CacheKind::FullAttention
                | CacheKind::Mla
                | CacheKind::SparseMla
                | CacheKind::CompressedMla
        )
    }
}

/// One layer's cache on one GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheSpec {
    /// What it holds.
    pub kind: CacheKind,
    /// Bytes a token adds (caches that grow with the sequence); 0 for a state.
    pub bytes_per_token: u64,
    /// Bytes of state a sequence holds; 0 for a cache.
    pub bytes_per_sequence: u64,
    /// Tokens of the window or chunk; 0 otherwise.
    pub span: u64,
}

/// The cache spec of decoder layer `layer` at this TP, DCP and KV dtype (DCP stores each
/// token's KV on one of its ranks: a DCP-th of the bytes per GPU), with `num_spec` draft tokens
/// a step (a state's convolution grows by them); none for a layer without a mixer (a NemotronH
/// MLP or MoE layer).
pub fn layer_spec(
    model: &ModelProfile,
    layer: u64,
    tp: u64,
    dcp: u64,
    dtype: KvCacheDtype,
    num_spec: u64,
) -> Option<CacheSpec> {
    let per_token = || layer_bytes_per_token(model, layer, tp, dtype).div_ceil(dcp.max(1));
    let cache = |kind, span| CacheSpec {
        kind,
        bytes_per_token: per_token(),
        bytes_per_sequence: 0,
        span,
    };
    let mixer = model.layer_blocks(layer).mixer?;
    Some(match (mixer, &model.attention) {
        (LayerType::LinearAttention, _) => CacheSpec {
            kind: CacheKind::of_mixer(model.linear_attention.as_ref()),
            bytes_per_token: 0,
            bytes_per_sequence: speculative_state_bytes_per_sequence(model, tp, num_spec),
            span: 0,
        },
        (LayerType::SlidingAttention, _) => {
            cache(CacheKind::SlidingWindow, model.sliding_window.unwrap_or(0))
        }
        // vLLM disables the hybrid KV-cache manager for any model with chunked local
        // attention by default ("latency regression"; `VLLM_ALLOW_CHUNKED_LOCAL_ATTN_WITH_
        // HYBRID_KV_CACHE=1` turns it back on, `vllm/config/vllm.py`, vLLM 0.34.0, lines
        // 2156-2176), and `unify_hybrid_kv_cache_specs` then caches chunked layers as full
        // attention: what lwsplan plans.
        (LayerType::ChunkedAttention, _) => cache(CacheKind::FullAttention, 0),
        (LayerType::FullAttention, Attention::Gqa { .. }) => cache(CacheKind::FullAttention, 0),
        (LayerType::FullAttention, Attention::Mla { indexer: None, .. }) => {
            cache(CacheKind::Mla, 0)
        }
        (LayerType::FullAttention, Attention::Mla { .. }) => cache(CacheKind::SparseMla, 0),
        // Laid out by `super::compressed_kv`, never through a per-layer spec.
        (LayerType::FullAttention, Attention::CompressedSparseMla { .. }) => cache(
            CacheKind::SlidingWindowMla,
            model.sliding_window.unwrap_or(0),
        ),
    })
}

/// The KV block size vLLM picks on this GPU before a hybrid model raises it
/// (`vllm/platforms/cuda.py` @ 1c0d9ecf5bad600df3e001bf642dd48c5ed25cc6): 16 by default; MLA
/// forces 64 with FlashMLA on Hopper and 128 with CUTLASS MLA on Blackwell. Below Hopper MLA
/// falls back to Triton MLA, which keeps 16 (inferred from the backend priority list;
/// unverified). Sparse MLA runs on FlashMLA sparse, whose kernel block is 64 on Hopper and
/// Blackwell (`vllm/v1/attention/backends/mla/flashmla_sparse.py`, vLLM 0.28.0).
pub fn block_size(model: &ModelProfile, hardware: &HardwareProfile) -> u64 {
    match (&model.attention, hardware.gpu.sm()) {
        (Attention::CompressedSparseMla { .. }, _) => super::compressed_kv::BLOCK,
        (
            Attention::Mla {
                indexer: Some(_), ..
            },
            _,
        ) => 64,
        (Attention::Mla { .. }, sm) if sm >= 100 => 128,
        (Attention::Mla { .. }, sm) if sm >= 90 => 64,
        _ => 16,
    }
}

/// One group of layers sharing a spec, and so a block table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// What its layers cache.
    pub spec: CacheSpec,
    /// Tokens per block (a state group: the attention block its page is sized to).
    pub block_size: u64,
    /// Bytes of one layer's block (a state group: its state, padded to the attention page).
    pub page_bytes: u64,
    /// Layers in the group, over the whole model.
    pub layers: u64,
}

impl Group {
    /// Blocks one sequence of `len` tokens takes in this group (`max_memory_usage_bytes /
    /// page_size`) with `in_flight` tokens scheduled and not yet processed ([`in_flight_tokens`]):
    /// the whole sequence for full attention, the window plus the tokens in flight and one
    /// block for sliding windows, the chunk plus the tokens in flight for chunked attention,
    /// one page for a state (no prefix caching: `mamba_cache_mode = 'none'`).
    pub fn pages_per_sequence(&self, len: u64, in_flight: u64) -> u64 {
        let block = self.block_size.max(1);
        match self.spec.kind {
            CacheKind::FullAttention
            | CacheKind::Mla
            | CacheKind::SparseMla
            | CacheKind::CompressedMla => len.div_ceil(block),
            CacheKind::SlidingWindow | CacheKind::SlidingWindowMla | CacheKind::CompressorState => {
                (self.spec.span.saturating_sub(1) + in_flight)
                    .min(len)
                    .div_ceil(block)
                    + 1
            }
            CacheKind::ChunkedLocalAttention => {
                (self.spec.span + in_flight).min(len).div_ceil(block)
            }
            CacheKind::GatedDeltaNet | CacheKind::Mamba2 | CacheKind::KimiDeltaAttention => 1,
        }
    }
}

/// Tokens a window holds blocks for beyond its span in the release `options` plan for, with
/// `pipeline_parallel_size` stages: one batch of `max_num_batched_tokens`, or since
/// [`WINDOW_IN_FLIGHT_RESERVE`](super::version::WINDOW_IN_FLIGHT_RESERVE) every batch in flight.
/// vLLM 0.33.0 keeps `pp + 1` batches in flight under asynchronous scheduling with its V2
/// model runner (the default), 2 with the V1 runner on one stage and `pp` on several
/// (`VllmConfig.max_concurrent_batches`); lwsplan takes `pp + 1`, the most of them.
pub(crate) fn in_flight_tokens(
    options: &super::PlanOptions,
    pipeline_parallel_size: u64,
    max_num_batched_tokens: u64,
) -> u64 {
    if super::version::WINDOW_IN_FLIGHT_RESERVE.in_version(options.vllm_version()) {
        max_num_batched_tokens.saturating_mul(pipeline_parallel_size.max(1) + 1)
    } else {
        max_num_batched_tokens
    }
}

/// State pages per sequence and state layer in the release `options` plan for.
pub(crate) fn state_pages(options: &super::PlanOptions) -> u64 {
    if super::version::MAMBA_ALIGN_CACHE.in_version(options.vllm_version()) {
        2
    } else {
        1
    }
}

/// How one engine's KV cache is laid out at one TP and DCP: vLLM's groups, and which group
/// each decoder layer belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvLayout {
    /// The attention block size, after a hybrid model raised it.
    pub block_size: u64,
    /// The groups, in vLLM's order.
    pub groups: Vec<Group>,
    /// One group whose block is the sum of its layers' pages (a single spec, or
    /// `UniformTypeKVCacheSpecs`), rather than `group_size` tensors of one page.
    summed: bool,
    /// Prefix sums over the decoder layers, so that any stage's figures are subtractions (the
    /// planner sizes hundreds of stage splits): pages, bytes a token, bytes a sequence.
    pages: Vec<u64>,
    per_token: Vec<u64>,
    per_sequence: Vec<u64>,
    /// Prefix count of the layers that cache anything (all but NemotronH's MLP and MoE
    /// layers).
    layers_cached: Vec<u64>,
    /// Per group, the prefix count of its layers (several groups only).
    members: Vec<Vec<u32>>,
    /// Decoder layers, and the multi-token-prediction layers of speculative decoding after
    /// them: vLLM's drafter runs on the last stage (`gpu_model_runner.py`, v0.28.0, "we put
    /// the entire draft model on the last PP rank"), each MTP layer with a full-attention cache
    /// of its own.
    decoder_layers: u64,
    mtp_layers: u64,
    /// State pages a sequence holds per state layer: 1 without prefix caching
    /// (`mamba_cache_mode = 'none'`), 2 in 'align' mode ([`with_state_pages`](Self::with_state_pages)).
    state_pages: u64,
    /// Draft tokens a step under speculative decoding: each state group holds that many pages
    /// more a sequence (`num_speculative_blocks`, `MambaSpec.max_memory_usage_bytes`).
    num_spec: u64,
    /// DeepSeek-V4's packed layout, which answers for the stage figures instead.
    compressed: Option<super::compressed_kv::CompressedLayout>,
}

/// Prefix sums of `values`, from 0.
fn prefix(values: impl Iterator<Item = u64>) -> Vec<u64> {
    std::iter::once(0)
        .chain(values.scan(0u64, |sum, v| {
            *sum = sum.saturating_add(v);
            Some(*sum)
        }))
        .collect()
}

/// Why vLLM cannot lay a model's KV cache out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutError(pub String);

impl KvLayout {
    /// vLLM's layout for this model on this GPU at this TP, DCP and KV dtype, with
    /// `mtp_layers` drafter layers and no speculative tokens (see [`KvLayout::speculative`]).
    #[cfg_attr(not(feature = "machinery"), allow(dead_code))]
    pub fn new(
        model: &ModelProfile,
        hardware: &HardwareProfile,
        tp: u64,
        dcp: u64,
        dtype: KvCacheDtype,
        mtp_layers: u64,
    ) -> Result<Self, LayoutError> {
        Self::speculative(model, hardware, tp, dcp, dtype, mtp_layers, 0)
    }

    /// [`KvLayout::new`] under speculative decoding with `num_spec` draft tokens a step: a
    /// linear-attention state grows by `num_spec` convolution rows, which can raise the hybrid
    /// block size, and takes `num_spec` more pages a sequence.
    pub fn speculative(
        model: &ModelProfile,
        hardware: &HardwareProfile,
        tp: u64,
        dcp: u64,
        dtype: KvCacheDtype,
        mtp_layers: u64,
        num_spec: u64,
    ) -> Result<Self, LayoutError> {
        let decoder = model.num_hidden_layers;
        if let Some(c) = super::compressed_kv::CompressedLayout::new(model, hardware, mtp_layers) {
            return Ok(KvLayout {
                block_size: super::compressed_kv::BLOCK,
                groups: c.groups(),
                summed: false,
                pages: Vec::new(),
                per_token: Vec::new(),
                per_sequence: Vec::new(),
                layers_cached: Vec::new(),
                members: Vec::new(),
                decoder_layers: decoder,
                mtp_layers,
                state_pages: 1,
                num_spec,
                compressed: Some(c),
            });
        }
        // An MTP layer attends as the model's last full-attention layer does.
        let drafter_like = (0..decoder)
            .rev()
            .find(|&l| {
                layer_spec(model, l, tp, dcp, dtype, num_spec).is_some_and(|s| !s.kind.is_state())
            })
            .unwrap_or(0);
        // Every layer's spec, none for a layer that caches nothing. An MTP layer of a sparse
        // model keeps its indexer even where IndexCache skips the drafter-like layer's.
        let specs: Vec<Option<CacheSpec>> = (0..decoder + mtp_layers)
            .map(|layer| {
                let spec = layer_spec(
                    model,
                    if layer < decoder { layer } else { drafter_like },
                    tp,
                    dcp,
                    dtype,
                    num_spec,
                );
                match spec {
                    Some(s) if layer >= decoder && s.kind == CacheKind::SparseMla => {
                        Some(CacheSpec {
                            bytes_per_token: layer_bytes_per_token(model, layer, tp, dtype)
                                .div_ceil(dcp.max(1)),
                            ..s
                        })
                    }
                    other => other,
                }
            })
            .collect();
        let cached = || specs.iter().flatten();
        let mut block = block_size(model, hardware);
        let state_page = cached().map(|s| s.bytes_per_sequence).max().unwrap_or(0);
        let attention_token = cached()
            .filter(|s| !s.kind.is_state())
            .map(|s| s.bytes_per_token)
            .max()
            .unwrap_or(0);
        // A hybrid model: the attention block grows, in steps of the kernel's alignment, until
        // one attention page holds a state page; the state page is padded to it.
        if state_page > 0 && attention_token > 0 {
            let align = block;
            block = block.max(align * state_page.div_ceil(align * attention_token));
        }
        let page_of = |spec: &CacheSpec| {
            if spec.kind.is_state() {
                if attention_token > 0 {
                    block * attention_token
                } else {
                    spec.bytes_per_sequence
                }
            } else {
                block * spec.bytes_per_token
            }
        };
        let sums =
            |f: &dyn Fn(&CacheSpec) -> u64| prefix(specs.iter().map(|s| s.as_ref().map_or(0, f)));
        let per_token = sums(&|s| s.bytes_per_token);
        let per_sequence = sums(&|s| s.bytes_per_sequence);
        let layers_cached = sums(&|_| 1);
        let first = cached().next().copied();
        let uniform = cached().all(|s| Some(*s) == first);
        let uniform_type = cached().all(|s| s.kind.is_full_attention_type());
        if uniform || uniform_type {
            let spec = first.unwrap_or(CacheSpec {
                kind: CacheKind::FullAttention,
                bytes_per_token: 0,
                bytes_per_sequence: 0,
                span: 0,
            });
            return Ok(KvLayout {
                decoder_layers: decoder,
                mtp_layers,
                state_pages: 1,
                num_spec,
                block_size: block,
                groups: vec![Group {
                    spec,
                    block_size: block,
                    page_bytes: page_of(&spec),
                    layers: cached().count() as u64,
                }],
                summed: true,
                pages: sums(&page_of),
                per_token,
                per_sequence,
                layers_cached,
                members: Vec::new(),
                compressed: None,
            });
        }
        // Unify page sizes: each smaller page's block grows until its page is the largest one
        // (`unify_kv_cache_spec_page_size`), which must be a whole multiple of it.
        let largest = cached().map(&page_of).max().unwrap_or(0);
        let mut buckets: Vec<(CacheSpec, u64, Vec<u64>)> = Vec::new();
        for (layer, spec) in (0u64..).zip(&specs) {
            let Some(spec) = spec else { continue };
            let page = page_of(spec);
            if page == 0 || largest % page != 0 {
                return Err(LayoutError(format!(
                    "layer {layer}'s KV page of {page} bytes does not divide the largest, \
                     {largest}: vLLM cannot unify the page sizes (NotImplementedError in \
                     unify_kv_cache_spec_page_size)"
                )));
            }
            let group_block = if spec.kind.is_state() {
                block
            } else {
                block * (largest / page)
            };
            match buckets.iter_mut().find(|(s, _, _)| s == spec) {
                Some((_, _, layers)) => layers.push(layer),
                None => buckets.push((*spec, group_block, vec![layer])),
            }
        }
        let smallest = buckets.iter().map(|b| b.2.len()).min().unwrap_or(1) as u64;
        let biggest = buckets.iter().map(|b| b.2.len()).max().unwrap_or(1) as u64;
        let group_size = if 2 * biggest < 3 * smallest {
            biggest
        } else {
            smallest
        };
        let mut groups = Vec::new();
        let mut layer_group: Vec<Option<usize>> = vec![None; specs.len()];
        for (spec, group_block, members) in buckets {
            let n = (members.len() as u64).div_ceil(group_size.max(1));
            let base = groups.len();
            for i in 0..n {
                let count = members.iter().skip(i as usize).step_by(n as usize).count();
                groups.push(Group {
                    spec,
                    block_size: group_block,
                    page_bytes: largest,
                    layers: count as u64,
                });
            }
            for (j, layer) in members.iter().enumerate() {
                layer_group[*layer as usize] = Some(base + j % n as usize);
            }
        }
        let members = (0..groups.len())
            .map(|g| {
                std::iter::once(0)
                    .chain(layer_group.iter().scan(0u32, |n, &lg| {
                        *n += u32::from(lg == Some(g));
                        Some(*n)
                    }))
                    .collect()
            })
            .collect();
        Ok(KvLayout {
            decoder_layers: decoder,
            mtp_layers,
            state_pages: 1,
            num_spec,
            block_size: block,
            groups,
            summed: false,
            pages: sums(&|_| largest),
            per_token,
            per_sequence,
            layers_cached,
            members,
            compressed: None,
        })
    }

    /// `range` clamped to the model's layers, as prefix indices.
    fn bounds(&self, range: &std::ops::Range<u64>) -> (usize, usize) {
        let last = self.pages.len().saturating_sub(1);
        // The last stage holds the MTP layers too.
        let end = if range.end == self.decoder_layers {
            range.end + self.mtp_layers
        } else {
            range.end
        };
        let end = usize::try_from(end).unwrap_or(last).min(last);
        (usize::try_from(range.start).unwrap_or(last).min(end), end)
    }

    /// Layers of group `g` within `range`.
    fn count(&self, g: usize, range: &std::ops::Range<u64>) -> u64 {
        if let Some(c) = &self.compressed {
            return c.counts(range.clone()).get(g).copied().unwrap_or(0);
        }
        if self.summed {
            let (start, end) = self.bounds(range);
            return self.layers_cached[end] - self.layers_cached[start];
        }
        let (start, end) = self.bounds(range);
        u64::from(self.members[g][end] - self.members[g][start])
    }

    /// Bytes a token adds on a GPU holding `range`, over the caches that grow with the
    /// sequence.
    pub fn bytes_per_token(&self, range: std::ops::Range<u64>) -> u64 {
        if let Some(c) = &self.compressed {
            return c.bytes_per_token(range);
        }
        let (start, end) = self.bounds(&range);
        self.per_token[end] - self.per_token[start]
    }

    /// State bytes a sequence holds on a GPU holding `range`.
    pub fn bytes_per_sequence(&self, range: std::ops::Range<u64>) -> u64 {
        if let Some(c) = &self.compressed {
            return c.bytes_per_sequence(range);
        }
        let (start, end) = self.bounds(&range);
        self.per_sequence[end] - self.per_sequence[start]
    }

    /// Which groups have layers within `range`, as a bit mask (every group past the 64th
    /// counts as present).
    pub fn present(&self, range: std::ops::Range<u64>) -> u64 {
        // vLLM keeps every DeepSeek-V4 group on every stage, empty ones at their whole-model
        // spec (see `CompressedLayout::block_bytes`).
        if self.compressed.is_some() {
            return (0..self.groups.len().min(64)).fold(0, |mask, g| mask | 1 << g);
        }
        (0..self.groups.len().min(64))
            .zip(self.group_counts(&range))
            .filter(|&(_, n)| n > 0)
            .fold(0, |mask, (g, _)| mask | 1 << g)
    }

    /// Layers of each group within `range`, for the plain layouts (not DeepSeek-V4's): the
    /// bounds are clamped once, not once per group, since the planner asks this of every stage.
    fn group_counts(&self, range: &std::ops::Range<u64>) -> impl Iterator<Item = u64> + '_ {
        let (start, end) = self.bounds(range);
        let summed = self
            .summed
            .then(|| self.layers_cached[end] - self.layers_cached[start]);
        (0..self.groups.len()).map(move |g| match summed {
            Some(n) => n,
            None => u64::from(self.members[g][end] - self.members[g][start]),
        })
    }

    /// Layers of each group within `range` (a pipeline stage).
    pub fn counts(&self, range: std::ops::Range<u64>) -> Vec<u64> {
        if let Some(c) = &self.compressed {
            return c.counts(range);
        }
        (0..self.groups.len())
            .map(|g| self.count(g, &range))
            .collect()
    }

    /// Bytes one block of the pool takes on a GPU holding `range`: the sum of its layers'
    /// pages for a single group, else one page per shared tensor, as many tensors as the
    /// stage's largest group has layers (the shorter groups' "padding layers").
    pub fn block_bytes(&self, range: std::ops::Range<u64>) -> u64 {
        if let Some(c) = &self.compressed {
            return c.block_bytes(range);
        }
        if self.summed {
            let (start, end) = self.bounds(&range);
            return self.pages[end] - self.pages[start];
        }
        let page = self.groups.first().map_or(0, |g| g.page_bytes);
        self.group_counts(&range).max().unwrap_or(0) * page
    }

    /// Blocks one sequence of `len` tokens takes from the pool with `in_flight` tokens
    /// scheduled and not yet processed ([`in_flight_tokens`]), over the groups in the mask
    /// `present` (those with layers on a stage; `u64::MAX` for all).
    pub fn pages_per_sequence(&self, len: u64, in_flight: u64, present: u64) -> u64 {
        self.groups
            .iter()
            .enumerate()
            .filter(|(g, _)| *g >= 64 || present & (1 << g) != 0)
            .map(|(_, group)| {
                let pages = group.pages_per_sequence(len, in_flight);
                if group.spec.kind.is_state() {
                    pages * self.state_pages
                        + group.spec.kind.checkpoint_pages(self.state_pages)
                        + self.num_spec
                } else {
                    pages
                }
            })
            .sum()
    }

    /// The layout with `pages` state pages per sequence and state layer: 2 when the release
    /// keeps state for prefix caching ([`MAMBA_ALIGN_CACHE`](super::version::MAMBA_ALIGN_CACHE)).
    pub fn with_state_pages(mut self, pages: u64) -> Self {
        self.state_pages = pages.max(1);
        self
    }

    /// "GPU KV cache size" in tokens for `blocks` blocks: `blocks // groups × block_size`,
    /// the smallest block of a cache that grows with the sequence.
    pub fn tokens(&self, blocks: u64) -> u64 {
        let block = self
            .groups
            .iter()
            .filter(|g| !g.spec.kind.is_state())
            .map(|g| g.block_size)
            .min()
            .unwrap_or(self.block_size);
        blocks / (self.groups.len() as u64).max(1) * block
    }

    /// "GPU KV cache size" in tokens for `blocks` blocks at `max_model_len` `len`: as
    /// [`tokens`](Self::tokens), except for DeepSeek-V4, whose windows and compressor states
    /// take blocks whatever the length: there the tokens of as many `len`-token sequences as the
    /// blocks hold (`max_concurrency × max_model_len`, how vLLM 0.28.0 logs it).
    pub fn capacity_tokens(&self, blocks: u64, len: u64, in_flight: u64) -> u64 {
        if self.compressed.is_none() {
            return self.tokens(blocks);
        }
        let pages = self.pages_per_sequence(len, in_flight, u64::MAX).max(1);
        u64::try_from(u128::from(blocks) * u128::from(len) / u128::from(pages)).unwrap_or(u64::MAX)
    }

    /// The groups as a GPU holding `range` holds them, for the plan.
    pub fn stage_groups_in(&self, range: std::ops::Range<u64>) -> Vec<KvCacheGroup> {
        let Some(c) = &self.compressed else {
            let mut groups = self.stage_groups(&self.counts(range.clone()));
            // One summed group may mix layers of different widths (a sparse model's layers
            // whose indexer IndexCache skips): its bytes are the stage's sum, not the first
            // layer's times the count.
            if self.summed
                && let Some(g) = groups.first_mut()
                && g.bytes_per_token_per_gpu.is_some()
            {
                g.bytes_per_token_per_gpu = Some(self.bytes_per_token(range));
            }
            return groups;
        };
        c.groups_in(range)
            .into_iter()
            .filter(|g| g.layers > 0)
            .map(|g| KvCacheGroup {
                kind: g.spec.kind,
                layers: g.layers,
                bytes_per_token_per_gpu: (g.spec.kind == CacheKind::CompressedMla)
                    .then_some(g.spec.bytes_per_token),
                bytes_per_sequence_per_gpu: (g.spec.kind != CacheKind::CompressedMla)
                    .then_some(g.spec.bytes_per_sequence),
                block_size: g.block_size,
                page_bytes: g.page_bytes,
            })
            .collect()
    }

    /// The groups as a stage with `counts` layers of each holds them, for the plan.
    pub fn stage_groups(&self, counts: &[u64]) -> Vec<KvCacheGroup> {
        self.groups
            .iter()
            .zip(counts)
            .filter(|(_, n)| **n > 0)
            .map(|(g, n)| KvCacheGroup {
                kind: g.spec.kind,
                layers: *n,
                bytes_per_token_per_gpu: (!g.spec.kind.is_state())
                    .then_some(g.spec.bytes_per_token * n),
                bytes_per_sequence_per_gpu: g
                    .spec
                    .kind
                    .is_state()
                    .then_some(g.spec.bytes_per_sequence * n),
                block_size: g.block_size,
                page_bytes: g.page_bytes,
            })
            .collect()
    }
}

/// One of vLLM's KV-cache groups as one GPU of a stage holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct KvCacheGroup {
    /// What its layers cache.
    pub kind: CacheKind,
    /// Its layers on this stage.
    pub layers: u64,
    /// Bytes a token adds over these layers, for caches that grow with the sequence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_per_token_per_gpu: Option<u64>,
    /// Bytes of state one sequence holds over these layers, whatever its length.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_per_sequence_per_gpu: Option<u64>,
    /// Tokens per block; for a state, the attention block its page is sized to.
    pub block_size: u64,
    /// Bytes of one layer's block (a state page padded to the attention page).
    pub page_bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Catalog;
    use crate::plan::layout::pp_partition;

    /// Expected per-GPU KV bytes per token on the stage with the most layers, for every built-in
    /// model at TP 1..16 and PP 1..4, derived by hand from the formulas in the module doc:
    /// - DeepSeek-R1 (MLA, BF16): 576 × 2 = 1,152 B per layer on every rank; 61 layers split
    ///   31/30, 21/20/20, 16/15/15/15 → most layers 61, 31, 21, 16.
    /// - Llama 3.1 (8 KV heads, head_dim 128, BF16): 2 × max(1, 8/TP) × 128 × 2 per layer:
    ///   4,096 B at TP1, 2,048 at TP2, 1,024 at TP4, 512 at TP8 and TP16 (heads replicated).
    ///   Layers 126 → 63, 42, 32; 80 → 40, 27, 20; 32 → 16, 11, 8.
    #[test]
    fn bytes_per_token_match_vllm_for_every_builtin_model() {
        let catalog = Catalog::builtin();
        let max_layers =
            |m: &ModelProfile, pp| *pp_partition(m.num_hidden_layers, pp).iter().max().unwrap();
        type PerLayer = fn(u64) -> u64;
        fn llama_per_layer_fn(tp: u64) -> u64 {
            match tp {
                1 => 4096,
                2 => 2048,
                4 => 1024,
                _ => 512,
            }
        }
        // Qwen3-235B-A22B: 4 KV heads, head_dim 128: 2 × max(1, 4/TP) × 128 × 2.
        fn qwen3_per_layer_fn(tp: u64) -> u64 {
            match tp {
                1 => 2048,
                2 => 1024,
                _ => 512,
            }
        }
        // gpt-oss-120b: 8 KV heads of 64: 2 × max(1, 8/TP) × 64 × 2.
        fn gpt_oss_per_layer_fn(tp: u64) -> u64 {
            llama_per_layer_fn(tp) / 2
        }
        let expected: [(&str, [u64; 4], PerLayer); 12] = [
            // 36 layers: 18/18, 12/12/12, 9 × 4.
            ("gpt-oss-120b", [36, 18, 12, 9], gpt_oss_per_layer_fn),
            ("deepseek-r1", [61, 31, 21, 16], |_| 1152),
            ("deepseek-v3", [61, 31, 21, 16], |_| 1152),
            // Kimi-K2's MLA latent as DeepSeek's: 61 × 1,152 = 70,272 bytes a token (issue 19).
            ("kimi-k2-instruct", [61, 31, 21, 16], |_| 1152),
            ("kimi-k2.5", [61, 31, 21, 16], |_| 1152),
            (
                "llama-3.1-405b-instruct",
                [126, 63, 42, 32],
                llama_per_layer_fn,
            ),
            (
                "llama-3.1-405b-instruct-fp8",
                [126, 63, 42, 32],
                llama_per_layer_fn,
            ),
            (
                "llama-3.1-70b-instruct",
                [80, 40, 27, 20],
                llama_per_layer_fn,
            ),
            (
                "llama-3.3-70b-instruct",
                [80, 40, 27, 20],
                llama_per_layer_fn,
            ),
            ("llama-3.1-8b-instruct", [32, 16, 11, 8], llama_per_layer_fn),
            // 94 layers: 47/47, 31/32/31, 23/24/24/23.
            ("qwen3-235b-a22b", [94, 47, 32, 24], qwen3_per_layer_fn),
            ("qwen3-235b-a22b-fp8", [94, 47, 32, 24], qwen3_per_layer_fn),
        ];
        // The next generation, checked below by kind.
        let next = [
            "kimi-k3",
            "deepseek-v3.2",
            "glm-5.1-fp8",
            "minimax-m2.5",
            "qwen3.5-397b-a17b",
            "nemotron-3-ultra",
            // Compressed per layer: `compressed_kv`'s tests.
            "deepseek-v4-flash",
            "deepseek-v4-pro",
        ];
        let covered: Vec<&str> = expected.iter().map(|(id, _, _)| *id).chain(next).collect();
        for model in catalog.models() {
            assert!(
                covered.contains(&model.id.as_str()),
                "no KV expectation for {}",
                model.id
            );
        }
        for (id, layers_by_pp, per_layer) in expected {
            let model = catalog.model(id).unwrap();
            for tp in [1, 2, 4, 8, 16] {
                for pp in 1..=4u64 {
                    let layers = max_layers(model, pp);
                    assert_eq!(layers, layers_by_pp[pp as usize - 1], "{id} pp{pp}");
                    let got = bytes_per_token_per_layer(model, tp, KvCacheDtype::Auto) * layers;
                    assert_eq!(got, per_layer(tp) * layers, "{id} tp{tp} pp{pp}");
                    let fp8 = bytes_per_token_per_layer(model, tp, KvCacheDtype::Fp8) * layers;
                    assert_eq!(fp8 * 2, got, "FP8 KV halves {id} tp{tp} pp{pp}");
                }
            }
        }
        for tp in [1, 2, 4, 8, 16] {
            // Sparse MLA: the latent (576 BF16 values, or 656 bytes as fp8_ds_mla) and the
            // indexer's 132-byte key, on every rank.
            for id in ["deepseek-v3.2", "glm-5.1-fp8"] {
                let m = catalog.model(id).unwrap();
                assert_eq!(bytes_per_token_per_layer(m, tp, KvCacheDtype::Auto), 1284);
                assert_eq!(bytes_per_token_per_layer(m, tp, KvCacheDtype::Fp8), 788);
            }
            // MiniMax-M2.5: 8 KV heads of 128, as Llama 3.1.
            let mm = catalog.model("minimax-m2.5").unwrap();
            assert_eq!(
                bytes_per_token_per_layer(mm, tp, KvCacheDtype::Auto),
                llama_per_layer_fn(tp)
            );
            // Kimi-K3: MLA's latent on its 24 MLA layers (576 BF16 values), its 69 KDA layers'
            // state (3, 36,864 / TP) BF16 + (96 / TP, 128, 128) FP32 = 6,512,640 / TP bytes.
            let k3 = catalog.model("kimi-k3").unwrap();
            assert_eq!(bytes_per_token_per_layer(k3, tp, KvCacheDtype::Auto), 1152);
            assert_eq!(state_bytes_per_sequence(k3, tp), 6_512_640 / tp);
            // Qwen3.5-397B: 2 KV heads of 256 on its full-attention layers; its gated DeltaNet
            // state per layer, (3, 12288 / TP) BF16 + (64 / TP, 128, 128) FP32, as the research
            // notes tabulate it for TP 1, 2, 4, 8, 16.
            let q = catalog.model("qwen3.5-397b-a17b").unwrap();
            let (attention, state) = match tp {
                1 => (2048, 4_268_032),
                2 => (1024, 2_134_016),
                4 => (1024, 1_067_008),
                8 => (1024, 533_504),
                _ => (1024, 266_752),
            };
            assert_eq!(
                bytes_per_token_per_layer(q, tp, KvCacheDtype::Auto),
                attention
            );
            assert_eq!(state_bytes_per_sequence(q, tp), state, "tp {tp}");
            // Nemotron-3 Ultra: 2 KV heads of 128 on its 12 attention layers; its Mamba-2 state
            // per layer (`mamba2_state_shape`): (3, 18,432 / TP) BF16 + (256 / TP, 64, 128)
            // FP32, conv_dim = 256 × 64 + 2 × 8 × 128; at TP 16 the 8 groups are replicated to
            // 16 (`extra_groups_for_head_shards`): conv_dim 16,384 + 2 × 16 × 128 = 20,480.
            let n = catalog.model("nemotron-3-ultra").unwrap();
            let (attention, state) = match tp {
                1 => (1024, 3 * 18_432 * 2 + 256 * 64 * 128 * 4),
                2 => (512, 3 * 9_216 * 2 + 128 * 64 * 128 * 4),
                4 => (512, 3 * 4_608 * 2 + 64 * 64 * 128 * 4),
                8 => (512, 1_062_400),
                _ => (512, 3 * 1_280 * 2 + 16 * 64 * 128 * 4),
            };
            assert_eq!(
                bytes_per_token_per_layer(n, tp, KvCacheDtype::Auto),
                attention
            );
            assert_eq!(state_bytes_per_sequence(n, tp), state, "tp {tp}");
        }
        // Worked by hand from DeepSeek-R1's config.json (kv_lora_rank 512 + qk_rope_head_dim 64,
        // 61 layers; https://huggingface.co/deepseek-ai/DeepSeek-R1/blob/main/config.json).
        let r1 = catalog.model("deepseek-r1").unwrap();
        assert_eq!(
            bytes_per_token_per_layer(r1, 8, KvCacheDtype::Auto) * 61,
            70_272
        );
        let l405 = catalog.model("llama-3.1-405b-instruct").unwrap();
        assert_eq!(
            bytes_per_token_per_layer(l405, 8, KvCacheDtype::Auto) * 126,
            64_512
        );
        assert_eq!(
            bytes_per_token_per_layer(l405, 8, KvCacheDtype::Auto) * 63,
            32_256
        );
    }

    /// The window's in-flight reserve by release and pipeline depth: one batch before vLLM PR
    /// #47728, `max_concurrent_batches` of them after (vLLM 0.33.0's `max_in_flight_tokens`:
    /// `pp + 1` under asynchronous scheduling with the V2 model runner). For gpt-oss at
    /// 131,072 tokens on one stage the sliding group then takes
    /// ceil((128 − 1 + 2 × 8,192) / 16) + 1 = 1,033 blocks instead of 521.
    #[test]
    fn windows_reserve_every_batch_in_flight_since_the_release_that_frees_late() {
        let at = |release: &str| crate::plan::PlanOptions {
            vllm_version: Some(release.parse().unwrap()),
            ..Default::default()
        };
        let rows = [
            ("0.24.0", 1, 8192),
            ("0.24.0", 4, 8192),
            ("0.25.0", 1, 2 * 8192),
            ("0.28.0", 2, 3 * 8192),
            ("0.33.0", 4, 5 * 8192),
        ];
        for (release, pp, tokens) in rows {
            assert_eq!(
                in_flight_tokens(&at(release), pp, 8192),
                tokens,
                "{release}, PP {pp}"
            );
        }
        let catalog = Catalog::builtin();
        let h100 = catalog.hardware("h100-80gb").unwrap();
        let oss = catalog.model("gpt-oss-120b").unwrap();
        let kv = KvLayout::new(oss, h100, 1, 1, KvCacheDtype::Auto, 0).unwrap();
        let in_flight = in_flight_tokens(&at("0.28.0"), 1, 8192);
        assert_eq!(
            kv.pages_per_sequence(131_072, in_flight, u64::MAX),
            8192 + 1033
        );
    }

    /// gpt-oss: 18 full and 18 sliding layers share one pool of 18 layer-slots; a request of
    /// 131,072 tokens takes 8,192 blocks of 16 in the full group and
    /// ceil((128 − 1 + 8,192) / 16) + 1 = 521 in the sliding group.
    #[test]
    fn sliding_window_layers_need_only_their_window() {
        let catalog = Catalog::builtin();
        let h100 = catalog.hardware("h100-80gb").unwrap();
        let oss = catalog.model("gpt-oss-120b").unwrap();
        let kv = KvLayout::new(oss, h100, 1, 1, KvCacheDtype::Auto, 0).unwrap();
        let kinds: Vec<(CacheKind, u64)> =
            kv.groups.iter().map(|g| (g.spec.kind, g.layers)).collect();
        assert_eq!(
            kinds,
            [
                (CacheKind::SlidingWindow, 18),
                (CacheKind::FullAttention, 18)
            ]
        );
        let page = 16 * 2 * 8 * 64 * 2;
        assert_eq!(kv.block_bytes(0..36), 18 * page);
        assert_eq!(kv.pages_per_sequence(131_072, 8192, u64::MAX), 8192 + 521);
        // A short request: the sliding layers hold it all, plus one block.
        assert_eq!(kv.pages_per_sequence(100, 8192, u64::MAX), 7 + 8);
        assert_eq!(kv.counts(0..11), [6, 5]);
        assert_eq!(
            kv.block_bytes(0..11),
            6 * page,
            "padded to the larger group"
        );
        assert_eq!(kv.tokens(1000), 500 * 16);
        let llama = catalog.model("llama-3.1-8b-instruct").unwrap();
        let kv = KvLayout::new(llama, h100, 1, 1, KvCacheDtype::Auto, 0).unwrap();
        assert_eq!(kv.groups.len(), 1);
        assert_eq!(kv.block_bytes(0..32), 32 * 16 * 4096);
        assert_eq!(kv.tokens(1000), 16_000);
    }

    /// Qwen3.5-397B-A17B, alignment 16 (FlashAttention on Hopper): the attention block grows
    /// to 16 × ceil(state / (16 × bytes per token)) — 2,096 at TP 1 and 2, 1,056 at TP 4, 528
    /// at TP 8, 272 at TP 16 (the research notes' table) — and every group's page is that
    /// block of attention; 15 attention and 45 DeltaNet layers make 1 + 3 groups of 15.
    #[test]
    fn a_hybrid_model_raises_the_attention_block_to_hold_a_state_page() {
        let catalog = Catalog::builtin();
        let h200 = catalog.hardware("h200-141gb").unwrap();
        let q = catalog.model("qwen3.5-397b-a17b").unwrap();
        for (tp, block, page) in [
            (1, 2096, 4_292_608),
            (2, 2096, 2_146_304),
            (4, 1056, 1_081_344),
            (8, 528, 540_672),
            (16, 272, 278_528),
        ] {
            let kv = KvLayout::new(q, h200, tp, 1, KvCacheDtype::Auto, 0).unwrap();
            assert_eq!(kv.block_size, block, "tp {tp}");
            assert!(kv.groups.iter().all(|g| g.page_bytes == page), "tp {tp}");
            let kinds: Vec<(CacheKind, u64)> =
                kv.groups.iter().map(|g| (g.spec.kind, g.layers)).collect();
            assert_eq!(
                kinds,
                [
                    (CacheKind::GatedDeltaNet, 15),
                    (CacheKind::GatedDeltaNet, 15),
                    (CacheKind::GatedDeltaNet, 15),
                    (CacheKind::FullAttention, 15)
                ]
            );
            assert_eq!(kv.block_bytes(0..60), 15 * page);
            // A 262,144-token sequence: ceil(262,144 / block) attention blocks, one state page
            // in each DeltaNet group.
            assert_eq!(
                kv.pages_per_sequence(262_144, 8192, u64::MAX),
                262_144u64.div_ceil(block) + 3
            );
        }
        // FP8 KV halves the attention bytes a token: the block doubles, the page stays.
        let kv = KvLayout::new(q, h200, 8, 1, KvCacheDtype::Fp8, 0).unwrap();
        assert_eq!((kv.block_size, kv.groups[0].page_bytes), (1056, 540_672));
    }

    /// Nemotron-3 Ultra at TP 8 on H200: only its 48 Mamba-2 and 12 attention layers cache
    /// anything (its 48 MoE layers none), 4 state groups of 12 and one attention group. A
    /// 262,144-token sequence takes ⌈262,144 / 2,080⌉ = 127 attention blocks and one state page
    /// in each Mamba-2 group without prefix caching; with it ('align') two pages and the
    /// Mamba-2 mixer's prefill checkpoint page (`num_prefill_checkpoint_blocks = 1`).
    #[test]
    fn mamba2_layers_keep_state_and_moe_layers_nothing() {
        let catalog = Catalog::builtin();
        let h200 = catalog.hardware("h200-141gb").unwrap();
        let n = catalog.model("nemotron-3-ultra").unwrap();
        let kv = KvLayout::new(n, h200, 8, 1, KvCacheDtype::Auto, 0).unwrap();
        assert_eq!(kv.block_size, 2080);
        assert_eq!(kv.groups.len(), 5);
        assert_eq!(kv.counts(0..108), [12, 12, 12, 12, 12]);
        // Layers 0-6 are M E M E M E M: four Mamba-2 layers, interleaved over the 4 groups.
        assert_eq!(kv.counts(0..7), [1, 1, 1, 1, 0]);
        assert_eq!(kv.bytes_per_sequence(0..7), 4 * 1_062_400);
        assert_eq!(kv.bytes_per_token(0..7), 0);
        assert_eq!(kv.bytes_per_token(7..8), 512, "layer 7 attends");
        assert_eq!(kv.bytes_per_sequence(1..2), 0, "layer 1 routes to experts");
        let len = 262_144;
        assert_eq!(kv.pages_per_sequence(len, 8192, u64::MAX), 127 + 4);
        let align = kv.with_state_pages(2);
        assert_eq!(align.pages_per_sequence(len, 8192, u64::MAX), 127 + 4 * 3);
        // One MTP token a step (and its drafter's attention layer): each Mamba-2 conv state
        // keeps one row more, 1,062,400 + 2,304 × 2 = 1,067,008 bytes, which raises the block
        // to 16 × ⌈1,067,008 / 8,192⌉ = 2,096; each state group holds one page more a
        // sequence (`num_speculative_blocks`).
        assert_eq!(
            speculative_state_bytes_per_sequence(n, 8, 1),
            1_062_400 + 2_304 * 2
        );
        let spec = KvLayout::speculative(n, h200, 8, 1, KvCacheDtype::Auto, 1, 1).unwrap();
        assert_eq!(spec.block_size, 2096);
        assert_eq!(
            spec.pages_per_sequence(len, 8192, u64::MAX),
            len.div_ceil(2096) + 4 * 2
        );
        assert_eq!(
            spec.with_state_pages(2)
                .pages_per_sequence(len, 8192, u64::MAX),
            len.div_ceil(2096) + 4 * 4
        );
    }

    /// Kimi Delta Attention's state per layer and sequence on one GPU, `kda_state_shape` and
    /// `kda_state_dtype` (`vllm/model_executor/layers/mamba/mamba_utils.py` @
    /// 02d710837549a368073552333f66d714477415d2): conv `(K − 1) × 3p / TP` in the model dtype
    /// plus recurrent `heads / TP × d × d` in float32. Kimi-Linear (p = 32 × 128): 3 × 12,288 ×
    /// 2 / TP + 32 × 128 × 128 × 4 / TP = 2,170,880 / TP; Kimi-K3 (p = 96 × 128): 3 × 36,864 ×
    /// 2 / TP + 96 × 128 × 128 × 4 / TP = 6,512,640 / TP. The recurrent part stays float32 in
    /// an FP16 model (AWQ): only the convolution follows the model dtype. A KDA layer is a
    /// state (one page a sequence); the layers between are MLA.
    #[test]
    fn kda_state_is_a_float32_recurrence_and_a_short_convolution() {
        let read = crate::profile::hf_fixture;
        let linear = read("Kimi-Linear-48B-A3B-Instruct");
        let k3 = read("Kimi-K3");
        for tp in [1, 2, 4, 8, 16, 32] {
            assert_eq!(
                state_bytes_per_sequence(&linear, tp),
                2_170_880 / tp,
                "{tp}"
            );
            assert_eq!(state_bytes_per_sequence(&k3, tp), 6_512_640 / tp, "{tp}");
        }
        let mut fp32 = linear.clone();
        fp32.torch_dtype = crate::profile::Dtype::Float32;
        assert_eq!(
            state_bytes_per_sequence(&fp32, 1),
            3 * 12_288 * 4 + 2_097_152
        );
        let spec = layer_spec(&linear, 0, 2, 1, KvCacheDtype::Auto, 0).unwrap();
        assert_eq!(
            (spec.kind, spec.bytes_per_token, spec.bytes_per_sequence),
            (CacheKind::KimiDeltaAttention, 0, 1_085_440)
        );
        assert!(spec.kind.is_state());
        // One draft token a step keeps one convolution row more (`num_spec` of
        // `kda_state_shape`): 3 × 4,096 / 2 channels of 2 bytes at TP 2.
        assert_eq!(
            speculative_state_bytes_per_sequence(&linear, 2, 1),
            1_085_440 + 12_288
        );
        // Layer 3 (full_attn_layers lists 4, counting from 1) is MLA: 576 BF16 values a token.
        let mla = layer_spec(&linear, 3, 2, 1, KvCacheDtype::Auto, 0).unwrap();
        assert_eq!((mla.kind, mla.bytes_per_token), (CacheKind::Mla, 1152));
    }

    #[test]
    fn mla_block_size_follows_the_attention_backend() {
        let catalog = Catalog::builtin();
        let r1 = catalog.model("deepseek-r1").unwrap();
        let llama = catalog.model("llama-3.1-8b-instruct").unwrap();
        for (hw, mla, gqa) in [
            ("h100-80gb", 64, 16),
            ("h200-141gb", 64, 16),
            ("a100-80gb", 16, 16),
            ("l4", 16, 16),
        ] {
            let hw = catalog.hardware(hw).unwrap();
            assert_eq!(block_size(r1, hw), mla, "{}", hw.id);
            assert_eq!(block_size(llama, hw), gqa, "{}", hw.id);
        }
    }
}
