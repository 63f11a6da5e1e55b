//! Model profiles: the architecture facts that decide how much memory vLLM needs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ProfileError, Source, require_at_most, require_positive};

/// An LLM as vLLM loads it: the fields of its Hugging Face `config.json` that size memory.
///
/// Names follow `config.json` so each value can be checked against it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelProfile {
    /// Short id used on the command line, e.g. `deepseek-r1`.
    pub id: String,
    /// Hugging Face repository id passed to `vllm serve`, e.g. `deepseek-ai/DeepSeek-R1`.
    pub hf_repo: String,
    /// Whether the repository is gated: Hugging Face serves it only to an account that accepted
    /// its licence (Meta's Llama models), so the pods need a token. Absent: unknown, treated as
    /// gated (the Secret is required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gated: Option<bool>,
    /// `architectures[0]` of `config.json`, e.g. `DeepseekV3ForCausalLM`.
    pub architecture: String,
    /// `num_hidden_layers`: decoder layers vLLM loads (MTP layers are counted separately).
    pub num_hidden_layers: u64,
    /// `hidden_size`.
    pub hidden_size: u64,
    /// `vocab_size`.
    pub vocab_size: u64,
    /// `max_position_embeddings`: the longest context vLLM accepts without an override.
    pub max_position_embeddings: u64,
    /// `tie_word_embeddings`: whether lm_head shares the embedding's weights.
    pub tie_word_embeddings: bool,
    /// `torch_dtype`: the dtype of unquantized weights and of the KV cache under
    /// `--kv-cache-dtype auto`.
    pub torch_dtype: Dtype,
    /// The attention block.
    pub attention: Attention,
    /// The feed-forward block.
    pub mlp: Mlp,
    /// `layer_types`: which layers attend to a sliding window (`sliding_attention`) rather than
    /// the whole context (`full_attention`); empty when every layer is full attention.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layer_types: Vec<LayerType>,
    /// `hybrid_override_pattern` (NemotronH): one character per decoder layer, each layer
    /// holding exactly one block — `M` the [`LinearAttention`] mixer (Mamba-2), `*` attention,
    /// `E` the routed experts of [`Mlp::Moe`], `-` a dense MLP — and one norm before it.
    /// Absent: every layer holds a mixer (per `layer_types`) and a feed-forward block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hybrid_override_pattern: Option<String>,
    /// `mlp_hidden_act: relu2` of NemotronH: its MLPs and experts are not gated — an up and a
    /// down projection, no gate (`NemotronHMLP`; vLLM's `is_non_gated_moe`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub non_gated_mlp: bool,
    /// `sliding_window`: tokens a sliding-attention layer attends to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sliding_window: Option<u64>,
    /// `attention_chunk_size`: tokens per chunk of a chunked-local-attention layer
    /// (`chunked_attention` in `layer_types`; Llama 4's RoPE layers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention_chunk_size: Option<u64>,
    /// The mixer of the `linear_attention` layers of a hybrid model: a fixed state per
    /// sequence instead of a cache per token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linear_attention: Option<LinearAttention>,
    /// `quantization_config`, when the checkpoint is quantized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantization: Option<Quantization>,
    /// `num_nextn_predict_layers`: multi-token-prediction layers in the checkpoint. vLLM loads
    /// them only for speculative decoding, so they are not part of the planned weights.
    #[serde(default)]
    pub num_nextn_predict_layers: u64,
    /// The vision encoder of a multimodal checkpoint, which vLLM loads on every pipeline stage
    /// (absent: a text-only model, or a tower vLLM does not load).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vision_tower: Option<VisionTower>,
    /// `hc_mult`: hyper-connection streams. Each decoder layer mixes `hc_mult` copies of the
    /// hidden state around its attention and its MoE with FP32 weights of its own
    /// (`hc_attn_fn`, `hc_ffn_fn`, `(2 + hc) × hc` by `hc × hidden_size`, with their bases and
    /// scales; `DeepseekV4DecoderLayer`, `vllm/models/deepseek_v4/nvidia/model.py`, v0.34.0),
    /// and the head mixes them back once (`hc_head_fn`). Absent: none (every other model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hc_mult: Option<u64>,
    /// Exact bytes of the checkpoint's tensors (`metadata.total_size` of
    /// `model.safetensors.index.json`), when known and free of MTP layers: the planner then
    /// uses it instead of its own weight total, scaling per-GPU weights to match.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::units::option_bytes"
    )]
    #[schemars(with = "Option<crate::units::ByteSize>")]
    pub checkpoint_bytes: Option<u64>,
    /// Flags `vllm serve` needs for this model, e.g. `--trust-remote-code`.
    #[serde(default)]
    pub vllm_args: Vec<String>,
    /// Where each fact comes from.
    pub sources: Vec<Source>,
}

/// A ViT-style vision encoder (`vision_config`) and its projector into the language model, in
/// `torch_dtype`: vLLM builds it outside the language model's pipeline split, so every stage
/// holds it (`KimiK25ForConditionalGeneration.__init__`, `vllm/model_executor/models/kimi_k25.py`,
/// v0.28.0), and drops a compressed-tensors quantization for it (`_maybe_ignore_quant_config`).
///
/// Each encoder layer is a pre-norm block with biases: `wqkv` (a `QKVParallelLinear`), `wo`
/// (row-parallel), an MLP `fc0` / `fc1` (column / row) and two LayerNorms; its attention and MLP
/// are split by TP when the heads divide by it, else every rank holds them whole
/// (`is_vit_use_data_parallel`, `vllm/model_executor/models/vision.py`). Everything else (patch
/// and position embeddings, the final norm, the projector's `ReplicatedLinear`s) is whole on
/// every rank.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VisionTower {
    /// `vision_config.num_hidden_layers`: encoder layers.
    pub num_hidden_layers: u64,
    /// `vision_config.hidden_size` (`vt_hidden_size`).
    pub hidden_size: u64,
    /// `vision_config.intermediate_size` (`vt_intermediate_size`).
    pub intermediate_size: u64,
    /// `vision_config.num_attention_heads`.
    pub num_attention_heads: u64,
    /// Parameters outside the encoder layers, held whole on every rank: patch and position
    /// embeddings, norms, a `ReplicatedLinear` projector.
    pub replicated_parameters: u64,
    /// The linears outside the encoder layers that vLLM shards by TP like the encoder's own
    /// (Qwen3-VL's patch merger, Llama 4's patch embedding, pixel-shuffle adapter and
    /// projector), each as vLLM builds it; empty where the projector is replicated (MoonViT).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parallel_linears: Vec<VisionLinear>,
}

/// A `ColumnParallelLinear` or `RowParallelLinear` of a vision tower, outside its encoder
/// layers: split by TP when the tower's heads divide by it, whole otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VisionLinear {
    /// `column` (output rows divided by TP, the bias too) or `row` (input columns divided,
    /// the bias whole on every rank).
    pub parallel: VisionParallel,
    /// `input_size`.
    pub input_size: u64,
    /// `output_size`.
    pub output_size: u64,
    /// Whether it has a bias (`bias=True`).
    #[serde(default)]
    pub bias: bool,
}

/// How a [`VisionLinear`] is split by TP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VisionParallel {
    /// `ColumnParallelLinear`.
    Column,
    /// `RowParallelLinear`.
    Row,
}

/// How a layer attends, spelled as in `config.json`'s `layer_types`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
// The names are config.json's (`full_attention`, `linear_attention`, ...).
#[allow(clippy::enum_variant_names)]
pub enum LayerType {
    /// Attends to the whole context.
    FullAttention,
    /// Attends to the last `sliding_window` tokens.
    SlidingAttention,
    /// Attends within its chunk of `attention_chunk_size` tokens (Llama 4's RoPE layers).
    ChunkedAttention,
    /// The model's [`LinearAttention`] mixer: a state per sequence, no cache per token
    /// (Qwen3.5's and Qwen3-Next's gated DeltaNet layers, NemotronH's Mamba-2 layers,
    /// Kimi-Linear's KDA layers).
    LinearAttention,
}

/// What one decoder layer holds: a token mixer and a feed-forward block in most models; exactly
/// one of the two in NemotronH ([`ModelProfile::hybrid_override_pattern`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerBlocks {
    /// How the layer mixes tokens (attends, or its linear-attention mixer); none in a layer of
    /// only an MLP or experts.
    pub mixer: Option<LayerType>,
    /// Its feed-forward block; none in a layer of only a mixer.
    pub ffn: Option<Ffn>,
}

/// A layer's feed-forward block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ffn {
    /// One MLP of `intermediate_size`.
    Dense,
    /// Routed experts (and the shared ones) of [`Mlp::Moe`].
    Moe,
}

/// The recurrent mixer of a hybrid model's `linear_attention` layers. In a profile file it is a
/// map whose `kind` names the variant:
///
/// ```
/// # use lwsplan::profile::LinearAttention;
/// // Qwen3.5-397B-A17B's gated DeltaNet.
/// let gdn: LinearAttention = serde_saphyr::from_str("
/// kind: gated_delta_net
/// linear_num_key_heads: 16
/// linear_num_value_heads: 64
/// linear_key_head_dim: 128
/// linear_value_head_dim: 128
/// linear_conv_kernel_dim: 4
/// mamba_ssm_dtype: float32
/// ")?;
/// // Nemotron-3 Ultra's Mamba-2: conv_dim = 256 × 64 + 2 × 8 × 128.
/// let mamba2: LinearAttention = serde_saphyr::from_str("
/// kind: mamba2
/// mamba_num_heads: 256
/// mamba_head_dim: 64
/// n_groups: 8
/// ssm_state_size: 128
/// conv_kernel: 4
/// use_conv_bias: true
/// mamba_ssm_cache_dtype: float32
/// ")?;
/// assert_eq!(mamba2.conv_dim(), 18_432);
/// // At TP 16 its 8 groups are replicated to 16: 16,384 + 2 × 16 × 128.
/// assert_eq!(mamba2.conv_dim_at(16), 20_480);
/// // Kimi-Linear's Kimi Delta Attention (`linear_attn_config`).
/// let kda: LinearAttention = serde_saphyr::from_str("
/// kind: kimi_delta_attention
/// num_heads: 32
/// head_dim: 128
/// short_conv_kernel_size: 4
/// ")?;
/// assert_eq!(kda.conv_dim(), 3 * 32 * 128);
/// # let _ = gdn;
/// # Ok::<(), serde_saphyr::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LinearAttention {
    /// Gated DeltaNet (Qwen3-Next, Qwen3.5; vLLM `QwenGatedDeltaNetAttention`).
    GatedDeltaNet {
        /// `linear_num_key_heads`.
        linear_num_key_heads: u64,
        /// `linear_num_value_heads`.
        linear_num_value_heads: u64,
        /// `linear_key_head_dim`.
        linear_key_head_dim: u64,
        /// `linear_value_head_dim`.
        linear_value_head_dim: u64,
        /// `linear_conv_kernel_dim`: the short convolution's width.
        linear_conv_kernel_dim: u64,
        /// `mamba_ssm_dtype`: the recurrent state's dtype where the config sets it (Qwen3.5's
        /// `float32`); vLLM keeps it in the model dtype otherwise.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mamba_ssm_dtype: Option<Dtype>,
    },
    /// Mamba-2 (NemotronH; vLLM `MambaMixer2`, `vllm/model_executor/layers/mamba/
    /// mamba_mixer2.py`): `mamba_num_heads` heads of `mamba_head_dim` channels whose B and C
    /// projections are shared within `n_groups` groups, a recurrent state of `ssm_state_size`
    /// per channel.
    Mamba2 {
        /// `mamba_num_heads`.
        mamba_num_heads: u64,
        /// `mamba_head_dim`.
        mamba_head_dim: u64,
        /// `n_groups`: groups of heads sharing B and C.
        n_groups: u64,
        /// `ssm_state_size` (d_state).
        ssm_state_size: u64,
        /// `conv_kernel`: the short convolution's width.
        conv_kernel: u64,
        /// `use_conv_bias`: a bias on the convolution.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        use_conv_bias: bool,
        /// `mamba_ssm_cache_dtype`: the recurrent state's dtype, which NemotronH's vLLM config
        /// class applies (`float32` by default); absent: the model dtype.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mamba_ssm_cache_dtype: Option<Dtype>,
    },
    /// Kimi Delta Attention (Kimi-Linear, Kimi-K3; vLLM `KimiDeltaAttention`,
    /// `vllm/model_executor/layers/kda.py`): q, k and v of `num_heads × head_dim` each, each
    /// through a short causal convolution, a per-channel decay gate and a recurrent state of
    /// `head_dim × head_dim` per head, kept in float32. Fields are `config.json`'s
    /// `linear_attn_config`.
    KimiDeltaAttention {
        /// `linear_attn_config.num_heads`: heads of q, k and v alike.
        num_heads: u64,
        /// `linear_attn_config.head_dim`.
        head_dim: u64,
        /// `linear_attn_config.short_conv_kernel_size`: the short convolution's width.
        short_conv_kernel_size: u64,
        /// `linear_attn_config.use_full_rank_gate` (Kimi-K3): the output gate is one
        /// `hidden → num_heads × head_dim` projection instead of Kimi-Linear's low-rank pair
        /// `g_a_proj` / `g_b_proj` through `head_dim`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        use_full_rank_gate: bool,
    },
}

impl LinearAttention {
    /// Channels of the short causal convolution, over the whole model (at TP 1): what both the
    /// `conv1d` weight and the conv state hold. Gated DeltaNet convolves q, k and v
    /// (`conv_dim`, vLLM's `QwenGatedDeltaNetAttention`); Mamba-2 the heads' x and the groups'
    /// B and C, `mamba_num_heads × mamba_head_dim + 2 × n_groups × ssm_state_size`
    /// (`MambaMixer2.conv_dim`).
    pub fn conv_dim(&self) -> u64 {
        self.conv_dim_at(1)
    }

    /// [`conv_dim`](Self::conv_dim) as vLLM builds it at this TP: Mamba-2 with fewer groups
    /// than ranks replicates its groups to follow the head shards, `n_groups + (tp − n_groups)`
    /// of them (`extra_groups_for_head_shards`, `vllm/model_executor/layers/mamba/
    /// mamba_utils.py` @ 02d710837549a368073552333f66d714477415d2; vLLM allows it only for
    /// `n_groups == 1`).
    pub fn conv_dim_at(&self, tp: u64) -> u64 {
        match self {
            LinearAttention::GatedDeltaNet {
                linear_num_key_heads: nk,
                linear_num_value_heads: nv,
                linear_key_head_dim: dk,
                linear_value_head_dim: dv,
                ..
            } => 2 * nk * dk + nv * dv,
            LinearAttention::Mamba2 {
                mamba_num_heads,
                mamba_head_dim,
                n_groups,
                ssm_state_size,
                ..
            } => {
                mamba_num_heads * mamba_head_dim
                    + 2 * mamba2_groups_at(*n_groups, tp) * ssm_state_size
            }
            // q, k and v are convolved alike: `kda_state_shape` with `num_k_heads` and
            // `head_k_dim` defaulting to `num_heads` and `head_dim`, `conv_dim = proj_size + 2 ×
            // proj_k_size` (`vllm/model_executor/layers/mamba/mamba_utils.py` @
            // 02d710837549a368073552333f66d714477415d2).
            LinearAttention::KimiDeltaAttention {
                num_heads,
                head_dim,
                ..
            } => 3 * num_heads * head_dim,
        }
    }

    /// The short causal convolution's width: `linear_conv_kernel_dim`, `conv_kernel` or
    /// `short_conv_kernel_size`. Its state keeps the last `width − 1` inputs.
    pub fn conv_kernel(&self) -> u64 {
        match self {
            LinearAttention::GatedDeltaNet {
                linear_conv_kernel_dim: k,
                ..
            }
            | LinearAttention::Mamba2 { conv_kernel: k, .. }
            | LinearAttention::KimiDeltaAttention {
                short_conv_kernel_size: k,
                ..
            } => *k,
        }
    }
}

/// Mamba-2's groups as vLLM lays them out at this TP: `n_groups`, or `tp` when TP does not
/// divide them (`n_groups + extra_groups_for_head_shards(n_groups, tp)`).
fn mamba2_groups_at(n_groups: u64, tp: u64) -> u64 {
    let tp = tp.max(1);
    if n_groups.is_multiple_of(tp) {
        n_groups
    } else {
        n_groups + (tp.saturating_sub(n_groups))
    }
}

/// A weight or activation dtype, spelled as in `config.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Dtype {
    /// 2 bytes.
    Bfloat16,
    /// 2 bytes.
    Float16,
    /// 4 bytes.
    Float32,
}

impl Dtype {
    /// Bytes per element.
    pub fn bytes(self) -> u64 {
        match self {
            Dtype::Bfloat16 | Dtype::Float16 => 2,
            Dtype::Float32 => 4,
        }
    }
}

/// The attention block, which decides the KV cache's shape. In a profile file it is a map
/// whose `kind` names the variant:
///
/// ```
/// # use lwsplan::profile::Attention;
/// // Grouped-query attention (Llama, Qwen, Mistral, gpt-oss).
/// let gqa: Attention = serde_saphyr::from_str("
/// kind: gqa
/// num_attention_heads: 64
/// num_key_value_heads: 8
/// head_dim: 128
/// ")?;
/// // Multi-head latent attention (DeepSeek-V2, V3, R1).
/// let mla: Attention = serde_saphyr::from_str("
/// kind: mla
/// num_attention_heads: 128
/// q_lora_rank: 1536
/// kv_lora_rank: 512
/// qk_nope_head_dim: 128
/// qk_rope_head_dim: 64
/// v_head_dim: 128
/// ")?;
/// assert_eq!((gqa.num_attention_heads(), mla.num_attention_heads()), (64, 128));
/// # Ok::<(), serde_saphyr::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
#[non_exhaustive]
pub enum Attention {
    /// Grouped-query attention (MHA when `num_key_value_heads == num_attention_heads`).
    Gqa {
        /// `num_attention_heads`.
        num_attention_heads: u64,
        /// `num_key_value_heads`.
        num_key_value_heads: u64,
        /// `head_dim` (`hidden_size / num_attention_heads` when the config has none).
        head_dim: u64,
        /// Per-head RMS norms on queries and keys (`q_norm`, `k_norm`; Qwen3).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        qk_norm: bool,
        /// Biases on the query, key and value projections (Qwen2).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        qkv_bias: bool,
        /// A bias on the output projection too (gpt-oss, whose `attention_bias` covers all four).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        o_bias: bool,
        /// One learned attention-sink logit per head (`self_attn.sinks`, gpt-oss).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        sinks: bool,
        /// `attn_output_gate`: a sigmoid gate on the attention output, projected with the
        /// queries (q_proj twice as wide; Qwen3-Next, Qwen3.5).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        output_gate: bool,
    },
    /// Multi-head latent attention (DeepSeek-V2/V3): the KV cache holds one compressed latent.
    Mla {
        /// `num_attention_heads`.
        num_attention_heads: u64,
        /// `q_lora_rank`; absent when queries are not low-rank (DeepSeek-V2-Lite).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        q_lora_rank: Option<u64>,
        /// `kv_lora_rank`: width of the cached latent.
        kv_lora_rank: u64,
        /// `qk_nope_head_dim`.
        qk_nope_head_dim: u64,
        /// `qk_rope_head_dim`: the rotary part, cached beside the latent.
        qk_rope_head_dim: u64,
        /// `v_head_dim`.
        v_head_dim: u64,
        /// The lightning indexer of DeepSeek Sparse Attention (DeepSeek-V3.2, GLM-5): each
        /// token attends to the `index_topk` tokens it scores highest, with a key cache of
        /// its own.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        indexer: Option<Indexer>,
        /// `mla_use_output_gate` (Kimi-K3): a sigmoid gate on the attention output, projected
        /// by a column-parallel `g_proj` (hidden → heads × `v_head_dim`;
        /// `MultiHeadLatentAttention`, `vllm/model_executor/models/kimi_k3/nvidia/mla.py`,
        /// vLLM 0.28.0, lines 247-256). It caches nothing.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        output_gate: bool,
    },
    /// DeepSeek-V4's compressed sparse attention (vLLM `DeepseekV4Attention`,
    /// `vllm/models/deepseek_v4/attention.py`, v0.34.0): one 512-wide latent per token, shared
    /// by keys and values (`head_dim`, its last `qk_rope_head_dim` values rotary). Every layer
    /// attends to its last `sliding_window` tokens ([`ModelProfile::sliding_window`]); a layer
    /// with a compress ratio of 4 or 128 also attends to the context compressed that many tokens
    /// to one (its compressor keeps the tokens of the group still open as state), and the
    /// ratio-4 layers pick the top `index_topk` compressed tokens with a lightning indexer of
    /// their own.
    #[serde(rename = "compressed_sparse_mla")]
    CompressedSparseMla {
        /// `num_attention_heads`.
        num_attention_heads: u64,
        /// `head_dim`: width of the cached latent (512).
        head_dim: u64,
        /// `qk_rope_head_dim`: its rotary part.
        qk_rope_head_dim: u64,
        /// `q_lora_rank`: the query's low-rank latent.
        q_lora_rank: u64,
        /// `o_lora_rank`: each output group's low-rank width.
        o_lora_rank: u64,
        /// `o_groups`: the output projection's head groups (`wo_a` is a batched matmul over
        /// them, so TP must divide them).
        o_groups: u64,
        /// `compress_ratios`, one per decoder layer: 0 (or 1) a sliding-window-only layer, 4
        /// compressed with an indexer, 128 compressed without. (`config.json` lists one more
        /// per MTP layer, which vLLM runs uncompressed whatever it says: not listed here.)
        compress_ratios: Vec<u64>,
        /// The lightning indexer of the ratio-4 layers.
        indexer: Indexer,
    },
}

/// DeepSeek Sparse Attention's lightning indexer (`index_*` fields of `config.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Indexer {
    /// `index_n_heads`.
    pub index_n_heads: u64,
    /// `index_head_dim`: the width of the cached indexer key.
    pub index_head_dim: u64,
    /// `index_topk`: tokens each query attends to.
    pub index_topk: u64,
    /// `index_topk_freq` (IndexCache, GLM-5.2's "IndexShare"): every how many layers, counted
    /// from `index_skip_topk_offset − 1`, one computes its own top-k; the layers between reuse
    /// the previous one's selection and build no indexer at all, so hold neither its weights
    /// nor its key cache. 1 (the default): every layer has one. See [`Indexer::on_layer`].
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub index_topk_freq: u64,
    /// `index_skip_topk_offset`: where the schedule starts; the layers below
    /// `index_skip_topk_offset − 1` always keep their indexer (vLLM's default 2; GLM-5.2's
    /// config 3, its three dense layers).
    #[serde(
        default = "default_skip_topk_offset",
        skip_serializing_if = "is_default_skip_topk_offset"
    )]
    pub index_skip_topk_offset: u64,
}

/// vLLM's `index_skip_topk_offset` when the config has none (`DeepseekV2MLAAttention`).
const DEFAULT_SKIP_TOPK_OFFSET: u64 = 2;

fn default_skip_topk_offset() -> u64 {
    DEFAULT_SKIP_TOPK_OFFSET
}

fn is_default_skip_topk_offset(n: &u64) -> bool {
    *n == DEFAULT_SKIP_TOPK_OFFSET
}

impl Indexer {
    /// An indexer on every layer (DeepSeek-V3.2, GLM-5, GLM-5.1).
    pub fn every_layer(index_n_heads: u64, index_head_dim: u64, index_topk: u64) -> Self {
        Indexer {
            index_n_heads,
            index_head_dim,
            index_topk,
            index_topk_freq: 1,
            index_skip_topk_offset: DEFAULT_SKIP_TOPK_OFFSET,
        }
    }

    /// Whether layer `layer` of a model with `num_hidden_layers` decoder layers builds an
    /// indexer (and so holds its weights and its key cache). vLLM's IndexCache rule
    /// (`DeepseekV2MLAAttention.__init__`, `vllm/model_executor/models/deepseek_v2.py` @
    /// 002d6073aa034d4f5545d45021b0e56d1f3c3593; arXiv 2603.12201): a decoder layer skips its
    /// top-k when `max(layer − index_skip_topk_offset + 1, 0) % index_topk_freq != 0`, and a
    /// multi-token-prediction layer (`layer ≥ num_hidden_layers`) always builds a full one.
    /// GLM-5.2 (`index_topk_freq` 4, offset 3) keeps 21 of its 78 layers' indexers: 0–2, then
    /// every fourth from 6.
    pub fn on_layer(&self, layer: u64, num_hidden_layers: u64) -> bool {
        layer >= num_hidden_layers
            || (layer + 1)
                .saturating_sub(self.index_skip_topk_offset)
                .is_multiple_of(self.index_topk_freq.max(1))
    }
}

impl Attention {
    /// `num_attention_heads`, whatever the kind.
    pub fn num_attention_heads(&self) -> u64 {
        match self {
            Attention::Gqa {
                num_attention_heads,
                ..
            }
            | Attention::Mla {
                num_attention_heads,
                ..
            }
            | Attention::CompressedSparseMla {
                num_attention_heads,
                ..
            } => *num_attention_heads,
        }
    }

    /// How many tokens decoder layer `layer` compresses into one cached entry: 1 for every
    /// layer of other kinds, for a sliding-window-only layer of compressed sparse attention, and
    /// past the listed layers (the MTP layers: "Compress ratio can't be 0 ... MTP layer is not
    /// included", `DeepseekV4Attention.__init__`, vLLM 0.34.0).
    pub fn compress_ratio(&self, layer: u64) -> u64 {
        match self {
            Attention::CompressedSparseMla {
                compress_ratios, ..
            } => usize::try_from(layer)
                .ok()
                .and_then(|i| compress_ratios.get(i))
                .copied()
                .unwrap_or(1)
                .max(1),
            _ => 1,
        }
    }
}

/// The feed-forward block. In a profile file it is a map whose `kind` names the variant:
///
/// ```
/// # use lwsplan::profile::Mlp;
/// // A gated MLP in every layer (Llama, Qwen dense).
/// let dense: Mlp = serde_saphyr::from_str("
/// kind: dense
/// intermediate_size: 28672
/// ")?;
/// // Experts, after three dense layers (DeepSeek-V3, R1).
/// let moe: Mlp = serde_saphyr::from_str("
/// kind: moe
/// intermediate_size: 18432
/// moe_intermediate_size: 2048
/// n_routed_experts: 256
/// n_shared_experts: 1
/// num_experts_per_tok: 8
/// first_k_dense_replace: 3
/// ")?;
/// assert!(matches!(moe, Mlp::Moe { n_routed_experts: 256, .. }));
/// # let _ = dense;
/// # Ok::<(), serde_saphyr::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
#[non_exhaustive]
pub enum Mlp {
    /// A gated MLP (gate, up, down) in every layer.
    Dense {
        /// `intermediate_size`.
        intermediate_size: u64,
    },
    /// Mixture of experts, with optional dense layers first (DeepSeek's `first_k_dense_replace`).
    Moe {
        /// `intermediate_size`: width of the dense layers' MLP.
        intermediate_size: u64,
        /// `moe_intermediate_size`: width of each expert.
        moe_intermediate_size: u64,
        /// `n_routed_experts`.
        n_routed_experts: u64,
        /// `n_shared_experts`: always-on experts of width `moe_intermediate_size` each.
        #[serde(default)]
        n_shared_experts: u64,
        /// `num_experts_per_tok`.
        num_experts_per_tok: u64,
        /// `first_k_dense_replace`: how many leading layers are dense.
        #[serde(default)]
        first_k_dense_replace: u64,
        /// Biases on the router and on every expert's projections (gpt-oss).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        bias: bool,
        /// Every how many layers one routes, counting from 1: layer `i` (from 0) past the dense
        /// ones routes when `(i + 1) % moe_layer_step == 0` (Llama 4 Maverick's
        /// `interleave_moe_layer_step: 2`; the others dense with `intermediate_size`).
        #[serde(default = "one", skip_serializing_if = "is_one")]
        moe_layer_step: u64,
        /// A sigmoid gate on the shared expert's output (`shared_expert_gate`, one row of
        /// `hidden_size`; Qwen2-MoE, Qwen3-Next, Qwen3.5).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        shared_expert_gate: bool,
        /// The shared experts' width, when it is not `n_shared_experts × moe_intermediate_size`
        /// (NemotronH's `moe_shared_expert_intermediate_size × n_shared_experts`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shared_expert_intermediate_size: Option<u64>,
        /// `moe_latent_size` (Nemotron-3 Ultra's latent MoE): the routed experts work in a
        /// latent space this wide, entered and left through `fc1_latent_proj` and
        /// `fc2_latent_proj`, which every rank holds whole (`NemotronHMoE`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        moe_latent_size: Option<u64>,
        /// `routed_expert_hidden_size` (Kimi-K3's latent MoE): the routed experts run in a
        /// narrower latent, entered and left through `routed_expert_down_proj` (hidden →
        /// latent) and `routed_expert_up_proj` (latent → hidden), both whole on every rank
        /// and unquantized, with an RMS norm of the latent (`KimiMoE`,
        /// `vllm/model_executor/models/kimi_k3/nvidia/model.py`, vLLM 0.28.0, lines 627-650).
        /// Absent: the experts take the hidden state itself.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        routed_expert_hidden_size: Option<u64>,
        /// `num_hash_layers`: leading MoE layers that route each token by a fixed table of its
        /// id (`tid2eid`, `vocab_size × num_experts_per_tok` int32 in vLLM) instead of the
        /// router's score bias (DeepSeek-V4, `DeepseekV4MoE`, vLLM 0.34.0).
        #[serde(default, skip_serializing_if = "is_zero")]
        num_hash_layers: u64,
    },
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn one() -> u64 {
    1
}

fn is_one(n: &u64) -> bool {
    *n == 1
}

/// `quantization_config` of a quantized checkpoint, keyed by `quant_method` as in
/// `config.json` (ModelOpt's NVFP4 as vLLM names it, `modelopt_fp4`):
///
/// ```
/// # use lwsplan::profile::Quantization;
/// let block_fp8: Quantization =
///     serde_saphyr::from_str("{quant_method: fp8, weight_block_size: [128, 128]}")?;
/// let awq: Quantization = serde_saphyr::from_str("{quant_method: awq, group_size: 128}")?;
/// let mxfp4: Quantization = serde_saphyr::from_str("{quant_method: mxfp4}")?;
/// // Kimi-K2.5: INT4 routed experts, everything the ignore list names in BF16.
/// let int4: Quantization = serde_saphyr::from_str(
///     "{quant_method: compressed-tensors, num_bits: 4, group_size: 32, ignore: ['*self_attn*']}",
/// )?;
/// let nvfp4: Quantization = serde_saphyr::from_str(
///     "{quant_method: modelopt_fp4, group_size: 16, exclude_modules: [lm_head]}",
/// )?;
/// assert_eq!(awq.int4_group_size(), Some(128));
/// assert_eq!(int4.int4_group_size(), Some(32));
/// assert!(nvfp4.keeps_unquantized(0, "self_attn.q_proj") == false);
/// # let _ = (block_fp8, mxfp4);
/// # Ok::<(), serde_saphyr::Error>(())
/// ```
///
/// Module lists (`modules_to_not_convert`, `ignore`, `exclude_modules`) name modules as Hugging
/// Face does: a full name (`model.layers.0.self_attn.q_proj`), a prefix of one
/// (`model.layers.0.mlp`), a module name matched in every layer (`self_attn`, `o_proj`), or a
/// wildcard pattern (`*` any run of characters, `?` one) matched against the whole name,
/// as Python's `fnmatch` matches ModelOpt's lists. compressed-tensors' `re:` patterns are
/// written as such wildcards when imported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "quant_method", rename_all = "lowercase", deny_unknown_fields)]
#[non_exhaustive]
pub enum Quantization {
    /// FP8 (e4m3) weights in every linear layer of the decoder except the MoE router and the
    /// modules listed in `modules_to_not_convert`; the embedding, lm_head and norms stay in
    /// `torch_dtype`.
    Fp8 {
        /// `weight_block_size` as `[block_n, block_k]`: one fp32 scale per block. Absent for
        /// per-channel scales (one fp32 scale per output row).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weight_block_size: Option<[u64; 2]>,
        /// Modules the checkpoint keeps in `torch_dtype` (`modules_to_not_convert`, or
        /// compressed-tensors' `ignore`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        modules_to_not_convert: Vec<String>,
        /// ModelOpt's FP8 checkpoints (`quant_algo: FP8`) with `kv_cache_quant_algo: FP8`:
        /// vLLM then resolves `--kv-cache-dtype auto` to `fp8` (see
        /// [`Quantization::kv_cache_bytes`]).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        fp8_kv_cache: bool,
        /// The routed experts' own format, where it is not FP8 (DeepSeek-V4: `expert_dtype:
        /// fp4` in `config.json` is MXFP4, and NVIDIA's `-NVFP4` checkpoints' `moe_quant_algo:
        /// NVFP4` is ModelOpt NVFP4 with groups of 16; vLLM's `DeepseekV4FP8Config` picks
        /// `Mxfp4MoEMethod` or `ModelOptNvFp4FusedMoE` for them, v0.34.0).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        moe_quant_algo: Option<MoeQuantAlgo>,
    },
    /// AWQ: 4-bit weights in every decoder linear layer but the MoE router, packed eight to an
    /// int32; each `group_size` inputs of an output share an fp16 scale and a 4-bit zero point.
    Awq {
        /// `group_size`: inputs per scale.
        group_size: u64,
    },
    /// MXFP4: the routed experts' weights as 4-bit floats (E2M1) with one 8-bit scale per 32;
    /// attention, router, embedding and lm_head stay in `torch_dtype` (gpt-oss; Kimi-K3's
    /// compressed-tensors `mxfp4-pack-quantized`, which vLLM loads as `mxfp4`).
    Mxfp4,
    /// GPTQ: 4-bit weights as AWQ, with `g_idx` (one int32 per input) when `desc_act` reorders
    /// the groups.
    Gptq {
        /// `group_size`: inputs per scale.
        group_size: u64,
        /// `desc_act`: activation-order groups, stored with a `g_idx` per input.
        #[serde(default)]
        desc_act: bool,
    },
    /// compressed-tensors' integer weight-only groups (`pack-quantized`, W4A16; Kimi-K2.5's
    /// routed experts): every linear layer and expert but those `ignore` names holds 4-bit
    /// integers packed eight to an int32 and one scale per `group_size` inputs
    /// (`weight_packed`, `weight_scale`; vLLM `compressed_tensors_wNa16.py`,
    /// `compressed_tensors_moe_wna16.py` `create_weights`, v0.28.0). compressed-tensors' FP8
    /// scheme is written as `fp8`.
    #[serde(rename = "compressed-tensors")]
    CompressedTensors {
        /// `weights.num_bits`: 4 (the only width modelled).
        num_bits: u64,
        /// `weights.group_size`: inputs per scale.
        group_size: u64,
        /// `weights.symmetric`: without it each group also stores a 4-bit zero point.
        #[serde(default = "yes", skip_serializing_if = "Clone::clone")]
        symmetric: bool,
        /// `weights.scale_dtype`; absent: the model's dtype (vLLM creates the scales in
        /// `params_dtype`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scale_dtype: Option<Dtype>,
        /// `ignore`: modules kept in `torch_dtype`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ignore: Vec<String>,
    },
    /// ModelOpt NVFP4 (`quant_algo: NVFP4`, in `config.json` or `hf_quant_config.json`):
    /// 4-bit float (E2M1) weights, an FP8 (E4M3) scale per `group_size` inputs and two FP32
    /// per-tensor scales (`weight_scale_2`, `input_scale`) in every linear layer and expert
    /// but those `exclude_modules` names (vLLM `modelopt.py` `ModelOptNvFp4LinearMethod`,
    /// `ModelOptNvFp4FusedMoE` `create_weights`, v0.28.0). FP4 tensor cores need compute
    /// capability 10.0; below it vLLM runs the weights weight-only on Marlin kernels.
    #[serde(rename = "modelopt_fp4")]
    ModeloptFp4 {
        /// `group_size`: inputs per FP8 scale (16).
        group_size: u64,
        /// `exclude_modules` (`ignore` in `config.json`): modules kept in `torch_dtype`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        exclude_modules: Vec<String>,
        /// `kv_cache_quant_algo: FP8` (`kv_cache_scheme` of 8-bit floats in `config.json`):
        /// vLLM then resolves `--kv-cache-dtype auto` to `fp8`
        /// (`vllm/utils/torch_utils.py` `resolve_kv_cache_dtype_string`, v0.28.0).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        fp8_kv_cache: bool,
    },
}

fn yes() -> bool {
    true
}

/// The format of a mixed checkpoint's routed experts ([`Quantization::Fp8`]'s
/// `moe_quant_algo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum MoeQuantAlgo {
    /// 4-bit floats, one 8-bit (E8M0) scale per 32 inputs (0.53125 bytes a weight).
    Mxfp4,
    /// ModelOpt NVFP4: 4-bit floats, an FP8 scale per 16 inputs and two FP32 scales a tensor.
    Nvfp4,
}

impl Quantization {
    /// The modules the checkpoint keeps in `torch_dtype`, whatever the method calls the list.
    pub fn unquantized_modules(&self) -> &[String] {
        match self {
            Quantization::Fp8 {
                modules_to_not_convert: list,
                ..
            }
            | Quantization::CompressedTensors { ignore: list, .. }
            | Quantization::ModeloptFp4 {
                exclude_modules: list,
                ..
            } => list,
            Quantization::Awq { .. } | Quantization::Gptq { .. } | Quantization::Mxfp4 => &[],
        }
    }

    /// Whether the checkpoint keeps the tensor `name` of decoder layer `layer` unquantized
    /// (its [`unquantized_modules`](Self::unquantized_modules) name it).
    pub fn keeps_unquantized(&self, layer: u64, name: &str) -> bool {
        let modules = self.unquantized_modules();
        if modules.is_empty() {
            return false;
        }
        let full = format!("model.layers.{layer}.{name}");
        modules
            .iter()
            .any(|module| module_matches(module, &full, name))
    }

    /// The group size of 4-bit integer formats (AWQ, GPTQ, compressed-tensors INT4), whose
    /// shards must hold whole groups.
    pub fn int4_group_size(&self) -> Option<u64> {
        match self {
            Quantization::Awq { group_size }
            | Quantization::Gptq { group_size, .. }
            | Quantization::CompressedTensors { group_size, .. } => Some(*group_size),
            Quantization::Fp8 { .. } | Quantization::Mxfp4 | Quantization::ModeloptFp4 { .. } => {
                None
            }
        }
    }

    /// Bytes per KV-cache element the checkpoint asks for under `--kv-cache-dtype auto`: 1 for
    /// ModelOpt's FP8 KV cache (`kv_cache_quant_algo: FP8`), else none (the model's dtype).
    /// vLLM resolves `auto` from ModelOpt checkpoints only (`vllm/utils/torch_utils.py`
    /// `get_kv_cache_quant_algo_string`, `resolve_kv_cache_dtype_string`, v0.28.0).
    pub fn kv_cache_bytes(&self) -> Option<u64> {
        matches!(
            self,
            Quantization::ModeloptFp4 {
                fp8_kv_cache: true,
                ..
            } | Quantization::Fp8 {
                fp8_kv_cache: true,
                ..
            }
        )
        .then_some(1)
    }
}

/// Whether one entry of a module list names the tensor `name` of a layer whose full Hugging
/// Face name is `full` (`model.layers.N.name`).
fn module_matches(module: &str, full: &str, name: &str) -> bool {
    let module = module.strip_suffix(".weight").unwrap_or(module);
    if module.contains(['*', '?']) {
        return wildcard_matches(module, full);
    }
    if module.contains("layers.") {
        // A path: the tensor itself, or a module that contains it.
        let module = module.strip_prefix("model.").unwrap_or(module);
        let full = full.strip_prefix("model.").unwrap_or(full);
        full == module || full.starts_with(&format!("{module}."))
    } else {
        // A module name, in every layer: whole components of the tensor's path.
        let parts: Vec<&str> = name.split('.').collect();
        let wanted: Vec<&str> = module.split('.').collect();
        parts.windows(wanted.len()).any(|w| w == wanted.as_slice())
    }
}

/// Python's `fnmatch` without character classes: `*` matches any run of characters (dots
/// included), `?` one character, the rest itself; the whole of `text` must match. Linear in
/// the text for each star (the classic backtrack to the last star), so that no pattern from a
/// config file can make it slow.
pub(crate) fn wildcard_matches(pattern: &str, text: &str) -> bool {
    // Bytes, not chars: module names are ASCII, and the planner matches every tensor of every
    // layer against every pattern, so no allocation here. (`?` against a multi-byte character
    // would match one of its bytes; no module name has one.)
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == b'?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Bounds far above any real model, so that a typo is caught and arithmetic cannot overflow.
pub(crate) const MAX_LAYERS: u64 = 4096;
pub(crate) const MAX_WIDTH: u64 = 1 << 20;
pub(crate) const MAX_VOCAB: u64 = 1 << 24;
pub(crate) const MAX_CONTEXT: u64 = 1 << 26;
pub(crate) const MAX_EXPERTS: u64 = 1 << 14;

impl ModelProfile {
    /// Whether layer `layer` (a decoder layer, or a multi-token-prediction layer past them)
    /// holds a DeepSeek Sparse Attention indexer: every layer of a sparse-MLA model, less those
    /// IndexCache skips ([`Indexer::on_layer`]); none of any other attention (DeepSeek-V4's
    /// compressed layers keep theirs by compress ratio).
    pub fn indexer_on(&self, layer: u64) -> bool {
        match &self.attention {
            Attention::Mla {
                indexer: Some(ix), ..
            } => ix.on_layer(layer, self.num_hidden_layers),
            _ => false,
        }
    }

    /// How many of the decoder layers in `layers` hold an indexer ([`ModelProfile::indexer_on`]).
    pub fn indexed_layers(&self, layers: std::ops::Range<u64>) -> u64 {
        layers.filter(|&l| self.indexer_on(l)).count() as u64
    }

    /// How decoder layer `layer` (from 0) attends: its `layer_types` entry (its
    /// `hybrid_override_pattern` block), full attention when the profile lists none. A layer
    /// without a mixer ([`layer_blocks`](Self::layer_blocks)) reads as full attention here.
    pub fn layer_type(&self, layer: u64) -> LayerType {
        if self.hybrid_override_pattern.is_some() {
            return self
                .layer_blocks(layer)
                .mixer
                .unwrap_or(LayerType::FullAttention);
        }
        usize::try_from(layer)
            .ok()
            .and_then(|i| self.layer_types.get(i))
            .copied()
            .unwrap_or(LayerType::FullAttention)
    }

    /// The character of `hybrid_override_pattern` for decoder layer `layer`, if any.
    fn pattern_block(&self, layer: u64) -> Option<u8> {
        let pattern = self.hybrid_override_pattern.as_ref()?;
        pattern
            .as_bytes()
            .get(usize::try_from(layer).ok()?)
            .copied()
    }

    /// What decoder layer `layer` (from 0) holds: its `hybrid_override_pattern` block alone
    /// (NemotronH), else a mixer as [`layer_type`](Self::layer_type) says and an MLP or experts
    /// as [`routes_layer`](Self::routes_layer) says. A layer past the pattern (an MTP layer)
    /// holds attention and experts (or an MLP).
    pub fn layer_blocks(&self, layer: u64) -> LayerBlocks {
        let ffn = if self.routes_layer(layer) {
            Ffn::Moe
        } else {
            Ffn::Dense
        };
        let both = |mixer| LayerBlocks {
            mixer: Some(mixer),
            ffn: Some(ffn),
        };
        if self.hybrid_override_pattern.is_none() {
            return both(self.layer_type(layer));
        }
        let (mixer, ffn) = match self.pattern_block(layer) {
            Some(b'M') => (Some(LayerType::LinearAttention), None),
            Some(b'*') => (Some(LayerType::FullAttention), None),
            Some(b'E') => (None, Some(Ffn::Moe)),
            Some(b'-') => (None, Some(Ffn::Dense)),
            _ => {
                let moe = matches!(self.mlp, Mlp::Moe { .. });
                return LayerBlocks {
                    mixer: Some(LayerType::FullAttention),
                    ffn: Some(if moe { Ffn::Moe } else { Ffn::Dense }),
                };
            }
        };
        LayerBlocks { mixer, ffn }
    }

    /// `hybrid_override_pattern`: one known block per layer, no `layer_types` beside it, and
    /// the fields its blocks need.
    fn check_pattern(&self, origin: &str) -> Result<(), ProfileError> {
        let Some(pattern) = &self.hybrid_override_pattern else {
            return Ok(());
        };
        let invalid = |message: String| ProfileError::Invalid {
            origin: origin.to_string(),
            field: "hybrid_override_pattern".to_string(),
            message,
        };
        if let Some(bad) = pattern.chars().find(|c| !"M*E-".contains(*c)) {
            return Err(invalid(format!(
                "{bad:?} is not a block: M (Mamba-2), * (attention), E (experts), - (MLP)"
            )));
        }
        if pattern.len() as u64 != self.num_hidden_layers {
            return Err(invalid(format!(
                "has {} blocks; num_hidden_layers is {}: give one block per layer",
                pattern.len(),
                self.num_hidden_layers
            )));
        }
        if !self.layer_types.is_empty() {
            return Err(invalid(
                "and layer_types both say how layers attend; give one of them".into(),
            ));
        }
        if pattern.contains('E') && !matches!(self.mlp, Mlp::Moe { .. }) {
            return Err(invalid("has E layers, yet mlp describes no experts".into()));
        }
        if pattern.contains('-')
            && let Mlp::Moe {
                intermediate_size: 0,
                ..
            } = self.mlp
        {
            return Err(invalid(
                "has - layers, yet mlp.intermediate_size (their width) is 0".into(),
            ));
        }
        Ok(())
    }

    /// Each layer kind a profile lists needs the fields that describe it.
    fn check_layer_kinds(&self, origin: &str) -> Result<(), ProfileError> {
        let invalid = |field: &str, message: String| ProfileError::Invalid {
            origin: origin.to_string(),
            field: field.to_string(),
            message,
        };
        self.check_pattern(origin)?;
        let has = |kind| {
            self.layer_types.contains(&kind)
                || (self.hybrid_override_pattern.is_some()
                    && (0..self.num_hidden_layers)
                        .any(|l| self.layer_blocks(l).mixer == Some(kind)))
        };
        if has(LayerType::ChunkedAttention) && self.attention_chunk_size.is_none() {
            return Err(invalid(
                "attention_chunk_size",
                "missing: layer_types lists chunked_attention layers".into(),
            ));
        }
        if has(LayerType::SlidingAttention) && self.sliding_window.is_none() {
            return Err(invalid(
                "sliding_window",
                "missing: layer_types lists sliding_attention layers".into(),
            ));
        }
        match (&self.linear_attention, has(LayerType::LinearAttention)) {
            (None, true) => {
                return Err(invalid(
                    "linear_attention",
                    "missing: layer_types lists linear_attention layers; describe their mixer"
                        .into(),
                ));
            }
            (Some(_), false) => {
                return Err(invalid(
                    "layer_types",
                    "lists no linear_attention layer, yet linear_attention describes a mixer"
                        .into(),
                ));
            }
            (
                Some(LinearAttention::GatedDeltaNet {
                    linear_num_key_heads,
                    linear_num_value_heads,
                    linear_key_head_dim,
                    linear_value_head_dim,
                    linear_conv_kernel_dim,
                    ..
                }),
                true,
            ) => {
                for (field, value) in [
                    (
                        "linear_attention.linear_num_key_heads",
                        *linear_num_key_heads,
                    ),
                    (
                        "linear_attention.linear_num_value_heads",
                        *linear_num_value_heads,
                    ),
                    ("linear_attention.linear_key_head_dim", *linear_key_head_dim),
                    (
                        "linear_attention.linear_value_head_dim",
                        *linear_value_head_dim,
                    ),
                    (
                        "linear_attention.linear_conv_kernel_dim",
                        *linear_conv_kernel_dim,
                    ),
                ] {
                    require_positive(origin, field, value)?;
                    require_at_most(origin, field, value, MAX_WIDTH)?;
                }
                // Query and key heads are repeated over the value heads in groups.
                if linear_num_value_heads % linear_num_key_heads != 0 {
                    return Err(invalid(
                        "linear_attention.linear_num_key_heads",
                        format!(
                            "{linear_num_key_heads} does not divide linear_num_value_heads \
                             ({linear_num_value_heads})"
                        ),
                    ));
                }
            }
            (
                Some(LinearAttention::Mamba2 {
                    mamba_num_heads,
                    mamba_head_dim,
                    n_groups,
                    ssm_state_size,
                    conv_kernel,
                    ..
                }),
                true,
            ) => {
                for (field, value) in [
                    ("linear_attention.mamba_num_heads", *mamba_num_heads),
                    ("linear_attention.mamba_head_dim", *mamba_head_dim),
                    ("linear_attention.n_groups", *n_groups),
                    ("linear_attention.ssm_state_size", *ssm_state_size),
                    ("linear_attention.conv_kernel", *conv_kernel),
                ] {
                    require_positive(origin, field, value)?;
                    require_at_most(origin, field, value, MAX_WIDTH)?;
                }
                // Each group serves a whole number of heads (`num_heads // n_groups` in
                // `MambaMixer2`'s weight loader).
                if mamba_num_heads % n_groups != 0 {
                    return Err(invalid(
                        "linear_attention.n_groups",
                        format!("{n_groups} does not divide mamba_num_heads ({mamba_num_heads})"),
                    ));
                }
            }
            (
                Some(LinearAttention::KimiDeltaAttention {
                    num_heads,
                    head_dim,
                    short_conv_kernel_size,
                    ..
                }),
                true,
            ) => {
                for (field, value) in [
                    ("linear_attention.num_heads", *num_heads),
                    ("linear_attention.head_dim", *head_dim),
                    (
                        "linear_attention.short_conv_kernel_size",
                        *short_conv_kernel_size,
                    ),
                ] {
                    require_positive(origin, field, value)?;
                    require_at_most(origin, field, value, MAX_WIDTH)?;
                }
            }
            (None, false) => {}
        }
        Ok(())
    }

    /// Whether decoder layer `layer` (from 0) routes its tokens to experts: every layer of a MoE
    /// model past its `first_k_dense_replace` dense ones (every `moe_layer_step`-th), or the `E`
    /// layers of a `hybrid_override_pattern`.
    pub fn routes_layer(&self, layer: u64) -> bool {
        if self.hybrid_override_pattern.is_some() {
            return self.pattern_block(layer) == Some(b'E');
        }
        matches!(
            self.mlp,
            Mlp::Moe { first_k_dense_replace, moe_layer_step, .. }
                if layer >= first_k_dense_replace
                    && (layer + 1).is_multiple_of(moe_layer_step.max(1))
        )
    }

    /// Parses a model profile from YAML and checks it; `origin` names the file in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Self, ProfileError> {
        let profile: Self = super::parse(text, origin)?;
        profile.check(origin)?;
        Ok(profile)
    }

    /// Reads and checks a model profile file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, ProfileError> {
        Self::from_yaml(
            &super::read(path, crate::io::MAX_SMALL_FILE, "a profile")?,
            &path.display().to_string(),
        )
    }

    /// Checks what the types cannot: counts are positive and bounded, shapes are consistent.
    pub fn check(&self, origin: &str) -> Result<(), ProfileError> {
        let invalid = |field: &str, message: String| ProfileError::Invalid {
            origin: origin.to_string(),
            field: field.to_string(),
            message,
        };
        if self.id.is_empty() {
            return Err(invalid("id", "must not be empty".into()));
        }
        if self.hf_repo.is_empty() {
            return Err(invalid("hf_repo", "must not be empty".into()));
        }
        for (field, value, max) in [
            ("num_hidden_layers", self.num_hidden_layers, MAX_LAYERS),
            ("hidden_size", self.hidden_size, MAX_WIDTH),
            ("vocab_size", self.vocab_size, MAX_VOCAB),
            (
                "max_position_embeddings",
                self.max_position_embeddings,
                MAX_CONTEXT,
            ),
        ] {
            require_positive(origin, field, value)?;
            require_at_most(origin, field, value, max)?;
        }
        require_at_most(
            origin,
            "num_nextn_predict_layers",
            self.num_nextn_predict_layers,
            MAX_LAYERS,
        )?;
        match &self.attention {
            Attention::Gqa {
                num_attention_heads,
                num_key_value_heads,
                head_dim,
                ..
            } => {
                for (field, value) in [
                    ("attention.num_attention_heads", *num_attention_heads),
                    ("attention.num_key_value_heads", *num_key_value_heads),
                    ("attention.head_dim", *head_dim),
                ] {
                    require_positive(origin, field, value)?;
                    require_at_most(origin, field, value, MAX_WIDTH)?;
                }
                if num_attention_heads % num_key_value_heads != 0 {
                    return Err(invalid(
                        "attention.num_key_value_heads",
                        format!(
                            "{num_key_value_heads} does not divide num_attention_heads \
                             ({num_attention_heads}); each KV head serves a whole group of query heads"
                        ),
                    ));
                }
            }
            Attention::Mla {
                num_attention_heads,
                q_lora_rank,
                kv_lora_rank,
                qk_nope_head_dim,
                qk_rope_head_dim,
                v_head_dim,
                indexer,
                ..
            } => {
                if let Some(indexer) = indexer {
                    for (field, value) in [
                        ("attention.indexer.index_n_heads", indexer.index_n_heads),
                        ("attention.indexer.index_head_dim", indexer.index_head_dim),
                        ("attention.indexer.index_topk", indexer.index_topk),
                        ("attention.indexer.index_topk_freq", indexer.index_topk_freq),
                    ] {
                        require_positive(origin, field, value)?;
                        require_at_most(origin, field, value, MAX_CONTEXT)?;
                    }
                    require_at_most(
                        origin,
                        "attention.indexer.index_skip_topk_offset",
                        indexer.index_skip_topk_offset,
                        MAX_CONTEXT,
                    )?;
                    // A skipping layer reuses the previous indexer's selection: layer 0 has none
                    // to reuse (vLLM would run it without one).
                    if !indexer.on_layer(0, self.num_hidden_layers) {
                        return Err(invalid(
                            "attention.indexer.index_skip_topk_offset",
                            format!(
                                "0 with index_topk_freq {} leaves layer 0 without an indexer, \
                                 so no layer computes the top-k the others reuse; use 1 or more",
                                indexer.index_topk_freq
                            ),
                        ));
                    }
                }
                for (field, value) in [
                    ("attention.num_attention_heads", *num_attention_heads),
                    ("attention.kv_lora_rank", *kv_lora_rank),
                    ("attention.qk_nope_head_dim", *qk_nope_head_dim),
                    ("attention.qk_rope_head_dim", *qk_rope_head_dim),
                    ("attention.v_head_dim", *v_head_dim),
                    ("attention.q_lora_rank", q_lora_rank.unwrap_or(1)),
                ] {
                    require_positive(origin, field, value)?;
                    require_at_most(origin, field, value, MAX_WIDTH)?;
                }
            }
            Attention::CompressedSparseMla {
                num_attention_heads,
                head_dim,
                qk_rope_head_dim,
                q_lora_rank,
                o_lora_rank,
                o_groups,
                compress_ratios,
                indexer,
            } => {
                for (field, value, max) in [
                    (
                        "attention.num_attention_heads",
                        *num_attention_heads,
                        MAX_WIDTH,
                    ),
                    ("attention.head_dim", *head_dim, MAX_WIDTH),
                    ("attention.qk_rope_head_dim", *qk_rope_head_dim, MAX_WIDTH),
                    ("attention.q_lora_rank", *q_lora_rank, MAX_WIDTH),
                    ("attention.o_lora_rank", *o_lora_rank, MAX_WIDTH),
                    ("attention.o_groups", *o_groups, MAX_WIDTH),
                    (
                        "attention.indexer.index_n_heads",
                        indexer.index_n_heads,
                        MAX_WIDTH,
                    ),
                    (
                        "attention.indexer.index_head_dim",
                        indexer.index_head_dim,
                        MAX_WIDTH,
                    ),
                    (
                        "attention.indexer.index_topk",
                        indexer.index_topk,
                        MAX_CONTEXT,
                    ),
                ] {
                    require_positive(origin, field, value)?;
                    require_at_most(origin, field, value, max)?;
                }
                if qk_rope_head_dim >= head_dim {
                    return Err(invalid(
                        "attention.qk_rope_head_dim",
                        format!("{qk_rope_head_dim} leaves no NoPE part of head_dim {head_dim}"),
                    ));
                }
                if !num_attention_heads.is_multiple_of(*o_groups) {
                    return Err(invalid(
                        "attention.o_groups",
                        format!(
                            "{o_groups} does not divide num_attention_heads \
                             ({num_attention_heads}); each output group takes whole heads"
                        ),
                    ));
                }
                if compress_ratios.len() as u64 != self.num_hidden_layers {
                    return Err(invalid(
                        "attention.compress_ratios",
                        format!(
                            "lists {} layers; num_hidden_layers is {}: give one ratio per layer",
                            compress_ratios.len(),
                            self.num_hidden_layers
                        ),
                    ));
                }
                // `CompressorStateCache` asserts `compress_ratio in [4, 128]`
                // (`vllm/models/deepseek_v4/compressor.py`, v0.34.0).
                if let Some(bad) = compress_ratios
                    .iter()
                    .find(|r| ![0, 1, 4, 128].contains(*r))
                {
                    return Err(invalid(
                        "attention.compress_ratios",
                        format!("{bad}: vLLM's compressor takes ratios 4 and 128 (0 or 1: none)"),
                    ));
                }
                if self.sliding_window.is_none() {
                    return Err(invalid(
                        "sliding_window",
                        "compressed sparse attention attends to a sliding window on every layer; \
                         give its width"
                            .into(),
                    ));
                }
            }
        }
        if let Some(hc) = self.hc_mult {
            require_positive(origin, "hc_mult", hc)?;
            require_at_most(origin, "hc_mult", hc, 64)?;
        }
        match &self.mlp {
            Mlp::Dense { intermediate_size } => {
                require_positive(origin, "mlp.intermediate_size", *intermediate_size)?;
                require_at_most(
                    origin,
                    "mlp.intermediate_size",
                    *intermediate_size,
                    MAX_WIDTH,
                )?;
            }
            Mlp::Moe {
                intermediate_size,
                moe_intermediate_size,
                n_routed_experts,
                n_shared_experts,
                num_experts_per_tok,
                first_k_dense_replace,
                moe_layer_step,
                routed_expert_hidden_size,
                ..
            } => {
                if let Some(latent) = routed_expert_hidden_size {
                    require_positive(origin, "mlp.routed_expert_hidden_size", *latent)?;
                    require_at_most(origin, "mlp.routed_expert_hidden_size", *latent, MAX_WIDTH)?;
                }
                for (field, value, max) in [
                    (
                        "mlp.moe_intermediate_size",
                        *moe_intermediate_size,
                        MAX_WIDTH,
                    ),
                    ("mlp.n_routed_experts", *n_routed_experts, MAX_EXPERTS),
                    ("mlp.num_experts_per_tok", *num_experts_per_tok, MAX_EXPERTS),
                ] {
                    require_positive(origin, field, value)?;
                    require_at_most(origin, field, value, max)?;
                }
                require_at_most(
                    origin,
                    "mlp.n_shared_experts",
                    *n_shared_experts,
                    MAX_EXPERTS,
                )?;
                require_at_most(
                    origin,
                    "mlp.intermediate_size",
                    *intermediate_size,
                    MAX_WIDTH,
                )?;
                if num_experts_per_tok > n_routed_experts {
                    return Err(invalid(
                        "mlp.num_experts_per_tok",
                        format!(
                            "{num_experts_per_tok} is more than n_routed_experts ({n_routed_experts})"
                        ),
                    ));
                }
                if *first_k_dense_replace > self.num_hidden_layers {
                    return Err(invalid(
                        "mlp.first_k_dense_replace",
                        format!(
                            "{first_k_dense_replace} is more than num_hidden_layers ({})",
                            self.num_hidden_layers
                        ),
                    ));
                }
                if let Mlp::Moe {
                    shared_expert_intermediate_size: shared,
                    moe_latent_size: latent,
                    ..
                } = &self.mlp
                {
                    require_at_most(
                        origin,
                        "mlp.shared_expert_intermediate_size",
                        shared.unwrap_or(0),
                        MAX_WIDTH,
                    )?;
                    if let Some(latent) = latent {
                        require_positive(origin, "mlp.moe_latent_size", *latent)?;
                        require_at_most(origin, "mlp.moe_latent_size", *latent, MAX_WIDTH)?;
                    }
                }
                require_positive(origin, "mlp.moe_layer_step", *moe_layer_step)?;
                require_at_most(origin, "mlp.moe_layer_step", *moe_layer_step, MAX_LAYERS)?;
                if *first_k_dense_replace > 0 || *moe_layer_step > 1 {
                    require_positive(origin, "mlp.intermediate_size", *intermediate_size)?;
                }
            }
        }
        if let Some(Quantization::Fp8 {
            weight_block_size: Some([n, k]),
            ..
        }) = &self.quantization
        {
            require_positive(origin, "quantization.weight_block_size[0]", *n)?;
            require_positive(origin, "quantization.weight_block_size[1]", *k)?;
            require_at_most(origin, "quantization.weight_block_size[0]", *n, MAX_WIDTH)?;
            require_at_most(origin, "quantization.weight_block_size[1]", *k, MAX_WIDTH)?;
        }
        if let Some(group) = self
            .quantization
            .as_ref()
            .and_then(Quantization::int4_group_size)
        {
            require_positive(origin, "quantization.group_size", group)?;
            require_at_most(origin, "quantization.group_size", group, MAX_WIDTH)?;
        }
        match &self.quantization {
            Some(Quantization::CompressedTensors { num_bits, .. }) if *num_bits != 4 => {
                return Err(invalid(
                    "quantization.num_bits",
                    format!(
                        "{num_bits}: lwsplan models compressed-tensors' 4-bit integer groups only"
                    ),
                ));
            }
            Some(Quantization::ModeloptFp4 { group_size, .. }) => {
                require_positive(origin, "quantization.group_size", *group_size)?;
                require_at_most(origin, "quantization.group_size", *group_size, MAX_WIDTH)?;
            }
            _ => {}
        }
        if let Some(v) = &self.vision_tower {
            for (field, value) in [
                ("vision_tower.num_hidden_layers", v.num_hidden_layers),
                ("vision_tower.hidden_size", v.hidden_size),
                ("vision_tower.intermediate_size", v.intermediate_size),
                ("vision_tower.num_attention_heads", v.num_attention_heads),
            ] {
                require_positive(origin, field, value)?;
                require_at_most(origin, field, value, MAX_WIDTH)?;
            }
            require_at_most(
                origin,
                "vision_tower.replicated_parameters",
                v.replicated_parameters,
                MAX_WIDTH * MAX_WIDTH,
            )?;
            for linear in &v.parallel_linears {
                for (field, value) in [
                    (
                        "vision_tower.parallel_linears.input_size",
                        linear.input_size,
                    ),
                    (
                        "vision_tower.parallel_linears.output_size",
                        linear.output_size,
                    ),
                ] {
                    require_positive(origin, field, value)?;
                    require_at_most(origin, field, value, MAX_WIDTH)?;
                }
            }
        }
        if let Some(bytes) = self.checkpoint_bytes {
            require_positive(origin, "checkpoint_bytes", bytes)?;
        }
        if !self.layer_types.is_empty() && self.layer_types.len() as u64 != self.num_hidden_layers {
            return Err(invalid(
                "layer_types",
                format!(
                    "lists {} layers; num_hidden_layers is {}: give one entry per layer",
                    self.layer_types.len(),
                    self.num_hidden_layers
                ),
            ));
        }
        if let Some(window) = self.sliding_window {
            require_positive(origin, "sliding_window", window)?;
            require_at_most(origin, "sliding_window", window, MAX_CONTEXT)?;
        }
        if let Some(chunk) = self.attention_chunk_size {
            require_positive(origin, "attention_chunk_size", chunk)?;
            require_at_most(origin, "attention_chunk_size", chunk, MAX_CONTEXT)?;
        }
        self.check_layer_kinds(origin)?;
        if self.quantization == Some(Quantization::Mxfp4) && matches!(self.mlp, Mlp::Dense { .. }) {
            return Err(invalid(
                "quantization",
                "MXFP4 quantizes the routed experts (gpt-oss); a dense model has none, so its \
                 weights would be counted in torch_dtype"
                    .into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Which layers keep an indexer under vLLM's IndexCache rule
    /// (`max(layer − offset + 1, 0) % freq == 0`, MTP layers always; `DeepseekV2MLAAttention`,
    /// vllm-project/vllm `deepseek_v2.py` @ 002d6073aa034d4f5545d45021b0e56d1f3c3593).
    #[test]
    fn index_cache_keeps_the_full_layers_indexers() {
        let with = |freq, offset| Indexer {
            index_topk_freq: freq,
            index_skip_topk_offset: offset,
            ..Indexer::every_layer(32, 128, 2048)
        };
        let full = |ix: Indexer| {
            (0..78)
                .filter(|&l| ix.on_layer(l, 78))
                .collect::<Vec<u64>>()
        };
        let glm52: Vec<u64> = [0, 1, 2].into_iter().chain((6..78).step_by(4)).collect();
        for (indexer, expected, source) in [
            // DeepSeek-V3.2, GLM-5, GLM-5.1: no IndexCache fields, vLLM's defaults (1, 2).
            (
                Indexer::every_layer(32, 128, 2048),
                (0..78).collect(),
                "every layer",
            ),
            // GLM-5.2 (index_topk_freq 4, offset 3): "21 full / 57 shared of 78 layers; full =
            // layers 0,1,2 then every 4th" (ROCm/ATOM PR #1260).
            (with(4, 3), glm52, "GLM-5.2"),
            // vLLM's default offset with a frequency: 0, 1, then every fourth from 5.
            (
                with(4, 2),
                [0, 1].into_iter().chain((5..78).step_by(4)).collect(),
                "offset 2",
            ),
        ] {
            assert_eq!(full(indexer), expected, "{source}");
        }
        assert_eq!(full(with(4, 3)).len(), 21);
        // A multi-token-prediction layer past the decoder always builds a full indexer.
        assert!(with(4, 3).on_layer(78, 78));
        assert!(!with(4, 3).on_layer(77, 78));
    }

    /// Python's `fnmatch.fnmatch` on the patterns ModelOpt's lists use (GLM-5.1-NVFP4,
    /// Qwen3.5-NVFP4 `hf_quant_config.json`): `*` crosses dots, the whole name must match.
    #[test]
    fn wildcards_match_as_fnmatch_does() {
        let cases = [
            ("model.layers.0*", "model.layers.0.self_attn.q_a_proj", true),
            (
                "model.layers.0*",
                "model.layers.10.self_attn.q_a_proj",
                false,
            ),
            (
                "model.layers.1*",
                "model.layers.10.self_attn.q_a_proj",
                true,
            ),
            ("model.layers.1.*", "model.layers.10.mlp.gate_proj", false),
            (
                "*.mlp.shared_expert.*",
                "model.layers.4.mlp.shared_expert.up_proj",
                true,
            ),
            (
                "*.mlp.shared_expert.*",
                "model.layers.4.mlp.shared_expert_gate",
                false,
            ),
            ("*self_attn*", "model.layers.4.self_attn.o_proj", true),
            (
                "model.layers.?.mlp*",
                "model.layers.7.mlp.experts.gate_proj",
                true,
            ),
            (
                "model.layers.?.mlp*",
                "model.layers.17.mlp.experts.gate_proj",
                false,
            ),
            ("lm_head", "lm_head", true),
            ("*", "", true),
            ("a*b*c", "abxxbxxc", true),
            ("a*b*c", "abxxbxxd", false),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(wildcard_matches(pattern, name), want, "{pattern} ~ {name}");
        }
    }

    /// Plain names keep their meaning (a path or a module name); wildcards match the full name.
    #[test]
    fn module_lists_mix_names_and_wildcards() {
        let q = Quantization::ModeloptFp4 {
            group_size: 16,
            exclude_modules: vec![
                "lm_head".into(),
                "model.layers.2.self_attn*".into(),
                "shared_experts".into(),
            ],
            fp8_kv_cache: false,
        };
        assert!(q.keeps_unquantized(2, "self_attn.q_b_proj"));
        assert!(!q.keeps_unquantized(3, "self_attn.q_b_proj"));
        assert!(q.keeps_unquantized(9, "mlp.shared_experts.up_proj"));
        assert!(!q.keeps_unquantized(9, "mlp.experts.up_proj"));
        assert_eq!(q.kv_cache_bytes(), None);
        assert_eq!(
            Quantization::ModeloptFp4 {
                group_size: 16,
                exclude_modules: Vec::new(),
                fp8_kv_cache: true
            }
            .kv_cache_bytes(),
            Some(1)
        );
    }
}
