//! The checks vLLM makes before it loads a model, made here first, with vLLM's meaning.

use super::fp8_block;
use super::weights::{self, Split, Tensor};
use crate::option::OptionName;
use crate::profile::{Attention, HardwareProfile, LinearAttention, Mlp, ModelProfile};
use crate::units::gib;

/// Why a layout cannot serve the model.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// `verify_with_parallel_config` in `vllm/config/model.py`.
    HeadsNotDivisible {
        /// Attention heads.
        heads: u64,
        /// Tensor-parallel size.
        tp: u64,
    },
    /// `QKVParallelLinear`: TP must divide the KV heads or be a multiple of them.
    KvHeadsIncompatible {
        /// KV heads.
        kv_heads: u64,
        /// Tensor-parallel size.
        tp: u64,
    },
    /// A sharded dimension that TP does not divide (vLLM's `divide()` asserts).
    NotDivisible {
        /// Tensor name.
        tensor: &'static str,
        /// The dimension's size.
        size: u64,
        /// Tensor-parallel size.
        tp: u64,
    },
    /// A quantized shard that is not a whole number of quantization blocks or groups
    /// (`validate_fp8_block_shape`, `Fp8MoEMethod.create_weights` in `fp8.py`; AWQ/GPTQ
    /// `create_weights`).
    QuantizationShape {
        /// Tensor name.
        tensor: &'static str,
        /// vLLM's message.
        message: String,
    },
    /// A layout family or size vLLM (or lwsplan's model of it) does not allow for this model:
    /// DP + EP on a dense model, routed experts that do not split evenly over the EP ranks,
    /// DCP outside MLA or not dividing TP, a release without the feature.
    Parallelism {
        /// The option, as the CLI spells it.
        option: OptionName,
        /// Why, in vLLM's terms where vLLM states it.
        message: String,
    },
    /// More pipeline stages than layers.
    TooManyStages {
        /// Pipeline-parallel size.
        pp: u64,
        /// Decoder layers.
        layers: u64,
    },
    /// The layout needs more nodes than lwsplan plans for.
    TooManyNodes {
        /// Nodes it needs.
        nodes: u64,
        /// The most lwsplan plans for.
        max: u64,
    },
    /// No attention backend of vLLM runs the model's attention on this GPU.
    NoAttentionBackend {
        /// Why, in vLLM's terms.
        message: String,
    },
    /// The GPU count does not map onto whole nodes.
    NotWholeNodes {
        /// Why.
        reason: String,
    },
    /// Weights and reserve leave no room for even one KV block on some GPU.
    WeightsDoNotFit {
        /// The stage that overflows.
        stage: u64,
        /// Weights per GPU on that stage.
        weight_bytes: u64,
        /// Reserve per GPU.
        reserve_bytes: u64,
        /// utilization × GPU memory.
        budget_bytes: u64,
        /// How much more memory one KV block would need.
        short_bytes: u64,
    },
    /// `--kv-cache-memory-bytes` asks for more KV memory than a GPU holds beside the weights
    /// and the reserve (vLLM allocates it whatever `--gpu-memory-utilization` says).
    KvCacheMemoryDoesNotFit {
        /// The stage that overflows.
        stage: u64,
        /// Weights per GPU on that stage.
        weight_bytes: u64,
        /// Reserve per GPU.
        reserve_bytes: u64,
        /// The KV memory asked for, per GPU.
        kv_cache_bytes: u64,
        /// What a GPU can give vLLM: its memory less the headroom vLLM needs after
        /// allocating the cache (2 GiB for the sampler's second warm-up; before vLLM 0.21 the
        /// CUDA graphs too).
        budget_bytes: u64,
        /// By how much the three exceed it.
        short_bytes: u64,
    },
    /// The KV cache cannot hold one `max_model_len` sequence.
    ContextDoesNotFit {
        /// The limiting stage.
        stage: u64,
        /// Requested length.
        max_model_len: u64,
        /// KV bytes per GPU one such sequence needs.
        needed_bytes: u64,
        /// KV bytes per GPU available.
        available_bytes: u64,
        /// The longest length that fits.
        estimated_max_len: u64,
    },
}

impl Rejection {
    /// Which rejection explains a failure best: a rule of the model first (it holds whatever
    /// the memory), then a memory shortfall, then the shape of the layout.
    pub fn priority(&self) -> u8 {
        match self {
            Rejection::HeadsNotDivisible { .. }
            | Rejection::KvHeadsIncompatible { .. }
            | Rejection::NotDivisible { .. }
            | Rejection::QuantizationShape { .. }
            | Rejection::Parallelism { .. }
            | Rejection::NoAttentionBackend { .. } => 0,
            Rejection::WeightsDoNotFit { .. }
            | Rejection::KvCacheMemoryDoesNotFit { .. }
            | Rejection::ContextDoesNotFit { .. } => 1,
            Rejection::TooManyStages { .. } => 2,
            Rejection::NotWholeNodes { .. } | Rejection::TooManyNodes { .. } => 3,
        }
    }

    /// How far from fitting, in bytes per GPU: used to find the closest miss.
    pub fn short_bytes(&self) -> u64 {
        match self {
            Rejection::WeightsDoNotFit { short_bytes, .. }
            | Rejection::KvCacheMemoryDoesNotFit { short_bytes, .. } => *short_bytes,
            Rejection::ContextDoesNotFit {
                needed_bytes,
                available_bytes,
                ..
            } => needed_bytes.saturating_sub(*available_bytes),
            _ => u64::MAX,
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::HeadsNotDivisible { heads, tp } => write!(
                f,
                "Total number of attention heads ({heads}) must be divisible by tensor parallel size ({tp})"
            ),
            Rejection::KvHeadsIncompatible { kv_heads, tp } => write!(
                f,
                "TP {tp} neither divides the {kv_heads} KV heads nor is a multiple of them, \
                 so vLLM cannot shard or replicate them evenly"
            ),
            Rejection::NotDivisible { tensor, size, tp } => write!(
                f,
                "{tensor}: {size} is not divisible by {tp}, the tensor parallel size"
            ),
            Rejection::QuantizationShape { tensor, message } => write!(f, "{tensor}: {message}"),
            Rejection::Parallelism { option, message } => write!(f, "{option}: {message}"),
            Rejection::TooManyStages { pp, layers } => write!(
                f,
                "PP {pp} is more than the model's {layers} layers: some stages would hold none"
            ),
            Rejection::NotWholeNodes { reason } => f.write_str(reason),
            Rejection::NoAttentionBackend { message } => f.write_str(message),
            Rejection::TooManyNodes { nodes, max } => write!(
                f,
                "it needs {nodes} nodes; lwsplan plans groups of at most {max}"
            ),
            Rejection::WeightsDoNotFit {
                stage,
                weight_bytes,
                reserve_bytes,
                budget_bytes,
                short_bytes,
            } => write!(
                f,
                "stage {stage} overflows each of its GPUs: {} of weights + {} reserve leave no room \
                 for the KV cache in the {} budget (short by {}); vLLM would stop with \
                 \"No available memory for the cache blocks\"",
                gib(*weight_bytes),
                gib(*reserve_bytes),
                gib(*budget_bytes),
                gib(*short_bytes)
            ),
            Rejection::KvCacheMemoryDoesNotFit {
                stage,
                weight_bytes,
                reserve_bytes,
                kv_cache_bytes,
                budget_bytes,
                short_bytes,
            } => write!(
                f,
                "stage {stage} overflows each of its GPUs: {} of weights + {} reserve + the {} KV \
                 cache --kv-cache-memory-bytes asks for exceed the {} a GPU gives vLLM by {}; \
                 vLLM ignores --gpu-memory-utilization then and would run out of memory \
                 allocating the cache after loading the weights. Ask for at most {} bytes",
                gib(*weight_bytes),
                gib(*reserve_bytes),
                gib(*kv_cache_bytes),
                gib(*budget_bytes),
                gib(*short_bytes),
                kv_cache_bytes.saturating_sub(*short_bytes)
            ),
            Rejection::ContextDoesNotFit {
                stage,
                max_model_len,
                needed_bytes,
                available_bytes,
                estimated_max_len,
            } => write!(
                f,
                "stage {stage}: to serve at least one request with the model's max seq len \
                 ({max_model_len}), {} KV cache is needed per GPU, which is larger than the available \
                 KV cache memory ({}); the estimated maximum model length is {estimated_max_len}",
                gib(*needed_bytes),
                gib(*available_bytes)
            ),
        }
    }
}

/// The GPU rule: DeepSeek Sparse Attention runs only on FlashMLA sparse (or FlashInfer's MLA
/// sparse on Blackwell), whose kernels need compute capability 9.x or 10.x
/// (`vllm/v1/attention/backends/mla/flashmla_sparse.py`, vLLM 0.28.0, lines 98-122): below
/// Hopper vLLM finds no backend for the model.
pub fn check_gpu(model: &ModelProfile, hardware: &HardwareProfile) -> Result<(), Rejection> {
    let sm = hardware.gpu.sm();
    if matches!(
        model.attention,
        Attention::Mla {
            indexer: Some(_),
            ..
        }
    ) && sm < 90
    {
        return Err(Rejection::NoAttentionBackend {
            message: format!(
                "{}'s sparse MLA needs FlashMLA sparse, which runs on compute capability 9.0 or \
                 newer; {} is {}: vLLM finds no attention backend for it",
                model.id, hardware.name, hardware.gpu.compute_capability
            ),
        });
    }
    // DeepSeek-V4 runs on FlashMLA's sparse kernels (9.0 and 10.x) or FlashInfer's (12.x)
    // (`_select_dsv4_attn_cls`, `vllm/models/deepseek_v4/nvidia/model.py`, v0.34.0).
    if matches!(model.attention, Attention::CompressedSparseMla { .. }) && sm < 90 {
        return Err(Rejection::NoAttentionBackend {
            message: format!(
                "{}'s compressed sparse attention needs FlashMLA's sparse kernels (compute \
                 capability 9.0 or newer); {} is {}: vLLM finds no attention backend for it",
                model.id, hardware.name, hardware.gpu.compute_capability
            ),
        });
    }
    Ok(())
}

/// The pipeline rule: no more stages than layers.
pub fn check_pp(model: &ModelProfile, pp: u64) -> Result<(), Rejection> {
    let layers = model.num_hidden_layers;
    if pp > layers {
        return Err(Rejection::TooManyStages { pp, layers });
    }
    Ok(())
}

/// The data-parallel rules: DP + EP is for MoE models (vLLM runs a dense model's DP ranks as
/// independent engines: LWS replicas do that with less coupling); the routed experts split
/// whole over the TP × DP ranks (`determine_expert_map`, `vllm/model_executor/layers/fused_moe/
/// layer.py`: an uneven split leaves some ranks a bigger share; lwsplan plans even splits only);
/// one pipeline stage (lwsplan does not model DP with PP).
pub fn check_dp(model: &ModelProfile, tp: u64, pp: u64, dp: u64) -> Result<(), Rejection> {
    if dp == 1 {
        return Ok(());
    }
    let refuse = |message: String| {
        Err(Rejection::Parallelism {
            option: OptionName::DataParallelSize,
            message,
        })
    };
    let Mlp::Moe {
        n_routed_experts, ..
    } = model.mlp
    else {
        return refuse(format!(
            "{} is dense: data parallelism only pays with expert parallelism; use --replicas for \
             independent copies",
            model.id
        ));
    };
    if pp > 1 {
        return refuse(format!(
            "DP {dp} with PP {pp}: lwsplan plans DP + EP with one pipeline stage"
        ));
    }
    let ranks = tp * dp;
    if !n_routed_experts.is_multiple_of(ranks) {
        return refuse(format!(
            "{n_routed_experts} routed experts do not split evenly over TP {tp} × DP {dp} = \
             {ranks} expert-parallel ranks"
        ));
    }
    Ok(())
}

/// The decode-context-parallel rules (`vllm/config/parallel.py` and the MLA backends): DCP
/// splits each TP group's KV cache, so TP must be a multiple of it; lwsplan models it for MLA,
/// whose latent cache TP otherwise replicates (where vLLM first supported it), from the
/// release the version table names.
pub fn check_dcp(
    model: &ModelProfile,
    tp: u64,
    dcp: u64,
    version: super::VllmVersion,
) -> Result<(), Rejection> {
    if dcp == 1 {
        return Ok(());
    }
    let refuse = |message: String| {
        Err(Rejection::Parallelism {
            option: OptionName::DecodeContextParallelSize,
            message,
        })
    };
    // DeepSeek-V4's window and compressor caches are `SlidingWindowMLASpec`s, which DCP would
    // shard: `SlidingWindowSpec.max_memory_usage_bytes` asserts "DCP not support sliding
    // window." (`vllm/v1/kv_cache_interface.py`, v0.34.0).
    if matches!(model.attention, Attention::CompressedSparseMla { .. }) {
        return refuse(format!(
            "{}'s compressed sparse attention keeps a sliding window on every layer, and vLLM \
             refuses it under DCP (\"DCP not support sliding window.\")",
            model.id
        ));
    }
    if !matches!(model.attention, Attention::Mla { .. }) {
        return refuse(format!(
            "{} uses grouped-query attention, whose KV heads TP already splits; lwsplan models \
             DCP for MLA models",
            model.id
        ));
    }
    // The release first: on one without DCP no TP makes it work, so divisibility is no reason.
    let feature = super::version::DECODE_CONTEXT_PARALLEL;
    if !feature.in_version(version) {
        return refuse(feature.missing(version));
    }
    // FlashMLA sparse, the Hopper backend of DeepSeek Sparse Attention, does not return the
    // log-sum-exp DCP merges partial results with (`can_return_lse_for_decode` stays False,
    // `vllm/v1/attention/backends/mla/flashmla_sparse.py`, vLLM 0.28.0; inferred from the
    // backend, the refusal site not traced).
    if matches!(
        model.attention,
        Attention::Mla {
            indexer: Some(_),
            ..
        }
    ) {
        return refuse(format!(
            "{}'s sparse MLA runs on FlashMLA sparse, which cannot return the log-sum-exp DCP \
             needs",
            model.id
        ));
    }
    if model.linear_attention.is_some() {
        return refuse(format!(
            "{} keeps linear-attention state per sequence, which DCP does not split; lwsplan \
             models DCP for pure MLA models",
            model.id
        ));
    }
    if !tp.is_multiple_of(dcp) {
        return refuse(format!(
            "tensor parallel size {tp} must be divisible by decode context parallel size {dcp}"
        ));
    }
    Ok(())
}

/// The tensor-parallel rules: heads, KV heads, sharded dimensions, FP8 blocks. With expert
/// parallelism (`ep`) routed experts are not TP-sharded, so their checks are those of TP 1.
pub fn check_tp(model: &ModelProfile, tp: u64, ep: bool) -> Result<(), Rejection> {
    let heads = model.attention.num_attention_heads();
    if !heads.is_multiple_of(tp) {
        return Err(Rejection::HeadsNotDivisible { heads, tp });
    }
    // DeepSeek-V4's `wo_a` is a batched matmul over each rank's output groups
    // (`DeepseekV4GroupedWoA`: `divide(n_groups, tp_size)`,
    // `vllm/models/deepseek_v4/common/grouped_wo_a.py`, v0.34.0).
    if let Attention::CompressedSparseMla { o_groups, .. } = model.attention
        && !o_groups.is_multiple_of(tp)
    {
        return Err(Rejection::NotDivisible {
            tensor: "attn.wo_a (o_groups)",
            size: o_groups,
            tp,
        });
    }
    if let Attention::Gqa {
        num_key_value_heads: kv_heads,
        ..
    } = model.attention
        && kv_heads % tp != 0
        && !tp.is_multiple_of(kv_heads)
    {
        return Err(Rejection::KvHeadsIncompatible { kv_heads, tp });
    }
    // Gated DeltaNet splits its key and value heads across ranks (`divide(num_v_heads, tp)` in
    // `gated_delta_net_state_shape`, and `num_k_heads // tp` for the per-rank q and k views,
    // `qwen_gdn_linear_attn.py`, vLLM 0.34.0).
    if let Some(LinearAttention::GatedDeltaNet {
        linear_num_key_heads,
        linear_num_value_heads,
        ..
    }) = model.linear_attention
    {
        for (tensor, size) in [
            ("linear_attn (linear_num_key_heads)", linear_num_key_heads),
            (
                "linear_attn (linear_num_value_heads)",
                linear_num_value_heads,
            ),
        ] {
            if !size.is_multiple_of(tp) {
                return Err(Rejection::NotDivisible { tensor, size, tp });
            }
        }
    }
    // Mamba-2 splits its heads and its groups of B and C across ranks; fewer groups than
    // ranks are replicated only when there is one (`MambaMixer2.__init__`,
    // `vllm/model_executor/layers/mamba/mamba_mixer2.py`, vLLM 0.34.0, whose assertions'
    // messages these are).
    if let Some(LinearAttention::Mamba2 {
        mamba_num_heads,
        n_groups,
        ..
    }) = model.linear_attention
    {
        let message = if !mamba_num_heads.is_multiple_of(tp) {
            Some(format!(
                "Tensor parallel world size must divide num heads. (mamba_num_heads \
                 {mamba_num_heads}, tensor parallel size {tp})"
            ))
        } else if !n_groups.is_multiple_of(tp) && n_groups != 1 {
            Some(format!(
                "If tensor parallel world size does not divide num_groups, then num_groups \
                 must equal 1. (n_groups {n_groups}, tensor parallel size {tp})"
            ))
        } else if !n_groups.is_multiple_of(tp) && model.quantization.is_some() {
            Some(format!(
                "Tensor parallel currently supported for quantized models only if tensor \
                 parallel world size divides num groups. (n_groups {n_groups}, tensor \
                 parallel size {tp})"
            ))
        } else {
            None
        };
        if let Some(message) = message {
            return Err(Rejection::Parallelism {
                option: crate::OptionName::TensorParallelSize,
                message,
            });
        }
    }
    // KDA: `assert self.num_heads % self.tp_size == 0` (`KimiDeltaAttention.__init__`,
    // `vllm/model_executor/layers/kda.py` @ 01a7e5d91d42e6232d746d12f898a590f1ee77f9), and
    // `divide(num_heads, tp)` for the recurrent state (`kda_state_shape`).
    if let Some(LinearAttention::KimiDeltaAttention { num_heads, .. }) = model.linear_attention
        && !num_heads.is_multiple_of(tp)
    {
        return Err(Rejection::NotDivisible {
            tensor: "self_attn (linear_attn_config.num_heads)",
            size: num_heads,
            tp,
        });
    }
    // FusedMoE without expert parallelism gives every rank a slice of every expert; the MoE
    // blocks of Qwen3-Next / Qwen3.5 and MiniMax-M2 refuse a TP larger than the expert count
    // (`Qwen3NextSparseMoeBlock`, `MiniMaxM2MoE`, vLLM 0.34.0).
    if let Mlp::Moe {
        n_routed_experts, ..
    } = model.mlp
        && !ep
        && tp > n_routed_experts
    {
        return Err(Rejection::Parallelism {
            option: crate::OptionName::TensorParallelSize,
            message: format!(
                "Tensor parallel size {tp} is greater than the number of experts \
                 {n_routed_experts}."
            ),
        });
    }
    for tensor in distinct_tensors(model) {
        let tp = if ep && tensor.expert { 1 } else { tp };
        check_tensor(model, &tensor, tp)?;
    }
    Ok(())
}

/// One layer of each kind (dense and MoE, attention and linear attention) plus the embedding:
/// every shape that is sharded.
fn distinct_tensors(model: &ModelProfile) -> Vec<Tensor> {
    let mut tensors = weights::layer_tensors(model, 0);
    let first_type = model.layer_type(0);
    if let Some(other) = (0..model.num_hidden_layers).find(|&l| model.layer_type(l) != first_type) {
        tensors.extend(weights::layer_tensors(model, other));
    }
    // NemotronH: one layer of each block its pattern lists.
    if let Some(pattern) = &model.hybrid_override_pattern {
        for block in ['M', '*', 'E', '-'] {
            if let Some(layer) = pattern.find(block) {
                tensors.extend(weights::layer_tensors(model, layer as u64));
            }
        }
    }
    if let Mlp::Moe {
        first_k_dense_replace,
        ..
    } = model.mlp
        && first_k_dense_replace > 0
        && first_k_dense_replace < model.num_hidden_layers
    {
        tensors.extend(weights::layer_tensors(model, first_k_dense_replace));
    }
    tensors.push(weights::embedding(model));
    tensors
}

fn check_tensor(model: &ModelProfile, tensor: &Tensor, tp: u64) -> Result<(), Rejection> {
    let sharded = match tensor.split {
        Split::Column => Some(tensor.rows),
        Split::Row => Some(tensor.cols),
        Split::Vocab => Some(tensor.rows.div_ceil(weights::VOCAB_PADDING) * weights::VOCAB_PADDING),
        Split::Replicated | Split::KvHeads { .. } => None,
    };
    if let Some(size) = sharded
        && size % tp != 0
    {
        return Err(Rejection::NotDivisible {
            tensor: tensor.name,
            size,
            tp,
        });
    }
    if let Some(group) = model
        .quantization
        .as_ref()
        .and_then(crate::profile::Quantization::int4_group_size)
        && tensor.quantized
    {
        let wna16_moe = tensor.expert
            && matches!(
                model.quantization,
                Some(crate::profile::Quantization::CompressedTensors { .. })
            );
        return check_int4(tensor, tp, group, wna16_moe);
    }
    let Some([block_n, block_k]) = fp8_block(model) else {
        return Ok(());
    };
    if !tensor.quantized {
        return Ok(());
    }
    let expert = tensor.name.starts_with("mlp.experts");
    let (rows, cols) = tensor.shard(tp);
    let message = match tensor.split {
        // Fused MoE checks the gate/up output at any TP.
        Split::Column if expert && rows % block_n != 0 => Some(format!(
            "The output_size of gate's and up's weight = {rows} is not divisible by weight quantization block_n = {block_n}."
        )),
        Split::Row if expert && tp > 1 && cols % block_k != 0 => Some(format!(
            "The input_size of down's weight = {cols} is not divisible by weight quantization block_k = {block_k}."
        )),
        Split::Column if tp > 1 && rows % block_n != 0 => Some(format!(
            "Weight output_partition_size = {rows} is not divisible by weight quantization block_n = {block_n}."
        )),
        Split::Row if tp > 1 && cols % block_k != 0 => Some(format!(
            "Weight input_size_per_partition = {cols} is not divisible by weight quantization block_k = {block_k}."
        )),
        _ => None,
    };
    match message {
        Some(message) => Err(Rejection::QuantizationShape {
            tensor: tensor.name,
            message,
        }),
        None => Ok(()),
    }
}

/// The release must serve the architecture: DeepSeek-V4 from
/// [`DEEPSEEK_V4`](super::version::DEEPSEEK_V4) on.
pub(crate) fn check_release(
    model: &ModelProfile,
    version: super::VllmVersion,
) -> Result<(), super::PlanError> {
    let feature = super::version::DEEPSEEK_V4;
    if matches!(model.attention, Attention::CompressedSparseMla { .. })
        && !feature.in_version(version)
    {
        return Err(super::PlanError::InvalidOption {
            option: OptionName::VllmVersion,
            message: format!("{}: {}", model.id, feature.missing(version)),
        });
    }
    Ok(())
}

/// vLLM's minimum compute capability for the checkpoint's quantization, and its refusal
/// below it: the method's (`get_min_capability`, checked in `vllm/config/vllm.py`: fp8 75,
/// mxfp4 80, modelopt_fp4 75) or, for compressed-tensors (70 for the method), its W4A16
/// scheme's 75 (`compressed_tensors_wNa16.py`, checked by `_check_scheme_supported`), v0.28.0.
pub(crate) fn check_quantization_capability(
    model: &ModelProfile,
    hardware: &crate::profile::HardwareProfile,
) -> Result<(), super::PlanError> {
    use crate::profile::Quantization;
    let sm = hardware.gpu.sm();
    let (minimum, message) = match &model.quantization {
        Some(Quantization::Fp8 { .. }) => (75, "fp8"),
        Some(Quantization::Mxfp4) => (80, "mxfp4"),
        Some(Quantization::ModeloptFp4 { .. }) => (75, "modelopt_fp4"),
        Some(Quantization::CompressedTensors { .. }) => (75, ""),
        _ => return Ok(()),
    };
    if sm >= minimum {
        return Ok(());
    }
    let message = if message.is_empty() {
        format!(
            "Quantization scheme is not supported for the current GPU. Min capability: \
             {minimum}. Current capability: {sm}."
        )
    } else {
        format!(
            "The quantization method {message} is not supported for the current GPU. Minimum \
             capability: {minimum}. Current capability: {sm}."
        )
    };
    Err(super::PlanError::QuantizationNotSupported {
        model: model.id.clone(),
        gpu: hardware.name.clone(),
        compute_capability: hardware.gpu.compute_capability.clone(),
        message,
    })
}

/// 4-bit group quantization (`awq.py`, `gptq.py` `create_weights` in vLLM): a row-parallel
/// shard must hold whole groups of inputs and a column-parallel one whole int32 words of eight
/// outputs. compressed-tensors' MoE experts (`wna16_moe`) need whole groups in each TP slice of
/// the expert's intermediate size (`compressed_tensors_moe_wna16.py` `create_weights`,
/// v0.28.0); expert parallelism keeps experts whole, so it never applies there.
fn check_int4(tensor: &Tensor, tp: u64, group: u64, wna16_moe: bool) -> Result<(), Rejection> {
    const PACK: u64 = 8;
    let (rows, cols) = tensor.shard(tp);
    let message = match tensor.split {
        Split::Row if wna16_moe && tp > 1 && cols % group != 0 => Some(format!(
            "CompressedTensors WNA16 MoE with static group scales requires the MoE intermediate \
             size per tensor-parallel partition ({cols}) to be divisible by group_size ({group}). \
             Scale groups would otherwise cross TP shard boundaries; use a compatible TP size or \
             enable expert parallelism."
        )),
        Split::Row if tp > 1 && cols % group != 0 => Some(format!(
            "input size per partition {cols} is not a multiple of group_size {group}: \
             \"The input size is not aligned with the quantized weight shape. This can be caused \
             by too large tensor parallel size.\""
        )),
        Split::Column | Split::KvHeads { .. } if tp > 1 && rows % PACK != 0 => Some(format!(
            "output size per partition {rows} is not a multiple of the 8 weights packed per int32: \
             \"The output size is not aligned with the quantized weight shape. This can be caused \
             by too large tensor parallel size.\""
        )),
        _ => None,
    };
    match message {
        Some(message) => Err(Rejection::QuantizationShape {
            tensor: tensor.name,
            message,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Catalog;

    fn model(id: &str) -> ModelProfile {
        Catalog::builtin().model(id).unwrap().clone()
    }

    /// vLLM's minimum compute capability per quantization (`get_min_capability`, v0.28.0):
    /// fp8 and modelopt_fp4 7.5, mxfp4 8.0, compressed-tensors' W4A16 scheme 7.5.
    #[test]
    fn quantization_needs_vllms_minimum_capability() {
        let catalog = Catalog::builtin();
        let mut v100 = catalog.hardware("a100-80gb").unwrap().clone();
        v100.name = "Tesla V100-SXM2-32GB".into();
        v100.gpu.compute_capability = "7.0".into();
        let mut t4 = v100.clone();
        t4.gpu.compute_capability = "7.5".into();
        let cases = [
            (
                "deepseek-r1",
                "The quantization method fp8 is not supported for the current GPU. Minimum capability: 75. Current capability: 70.",
                true,
            ),
            (
                "gpt-oss-120b",
                "The quantization method mxfp4 is not supported for the current GPU. Minimum capability: 80. Current capability: 70.",
                false,
            ),
            (
                "kimi-k2.5",
                "Quantization scheme is not supported for the current GPU. Min capability: 75. Current capability: 70.",
                true,
            ),
        ];
        for (id, message, on_t4) in cases {
            let m = model(id);
            let err = check_quantization_capability(&m, &v100)
                .unwrap_err()
                .to_string();
            assert!(err.contains(message), "{id}: {err}");
            assert_eq!(
                check_quantization_capability(&m, &t4).is_ok(),
                on_t4,
                "{id}"
            );
        }
        let mut nvfp4 = model("deepseek-r1");
        nvfp4.quantization = Some(crate::profile::Quantization::ModeloptFp4 {
            group_size: 16,
            exclude_modules: Vec::new(),
            fp8_kv_cache: false,
        });
        let err = check_quantization_capability(&nvfp4, &v100)
            .unwrap_err()
            .to_string();
        assert!(err.contains("modelopt_fp4 is not supported"), "{err}");
        assert!(check_quantization_capability(&model("llama-3.1-8b-instruct"), &v100).is_ok());
    }

    /// DeepSeek-R1 FP8 [128,128] allows TP 1, 2, 4, 8, 16 (`validate_fp8_block_shape`,
    /// `vllm/model_executor/layers/quantization/fp8.py` @ 1436674bcb3f46f4c960d09334cf7dd1534943ca).
    #[test]
    fn deepseek_r1_allows_tp_up_to_16() {
        let r1 = model("deepseek-r1");
        let allowed: Vec<u64> = (1..=64)
            .filter(|&tp| check_tp(&r1, tp, false).is_ok())
            .collect();
        assert_eq!(allowed, [1, 2, 4, 8, 16]);
        // TP 32: the dense MLP's 18432 / 32 = 576 rows is not a multiple of 128.
        let err = check_tp(&r1, 32, false).unwrap_err().to_string();
        assert_eq!(
            err,
            "mlp.gate_proj: Weight output_partition_size = 576 is not divisible by weight quantization block_n = 128."
        );
    }

    /// Qwen3-235B-A22B FP8 (block 128, `Fp8MoEMethod.create_weights` in the same file) allows TP 1, 2, 4
    /// without expert parallelism; the BF16 checkpoint any TP that divides 64 heads.
    #[test]
    fn qwen3_fp8_allows_tp_up_to_4() {
        let allowed = |id| -> Vec<u64> {
            let m = model(id);
            (1..=16)
                .filter(|&tp| check_tp(&m, tp, false).is_ok())
                .collect()
        };
        assert_eq!(allowed("qwen3-235b-a22b-fp8"), [1, 2, 4]);
        // With expert parallelism the experts stay whole: TP 8 and 16 work too.
        let m = model("qwen3-235b-a22b-fp8");
        let with_ep: Vec<u64> = (1..=16)
            .filter(|&tp| check_tp(&m, tp, true).is_ok())
            .collect();
        assert_eq!(with_ep, [1, 2, 4, 8, 16]);
        assert_eq!(allowed("qwen3-235b-a22b"), [1, 2, 4, 8, 16]);
    }

    /// AWQ group 128: Llama 3.1 70B's down_proj input (28672) splits into 3584 at TP 8 (28
    /// groups), but a 64-group model width of 8192 at TP 128 would leave 64-input shards.
    #[test]
    fn int4_shards_hold_whole_groups() {
        let mut m = model("llama-3.1-70b-instruct");
        m.quantization = Some(crate::profile::Quantization::Awq { group_size: 128 });
        assert!(check_tp(&m, 8, false).is_ok());
        m.mlp = Mlp::Dense {
            intermediate_size: 28_672 + 64 * 8,
        };
        let err = check_tp(&m, 8, false).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "mlp.down_proj: input size per partition 3648 is not a multiple of group_size 128"
            ),
            "{err}"
        );
    }

    #[test]
    fn heads_must_be_divisible_by_tp() {
        let err = check_tp(&model("llama-3.1-70b-instruct"), 3, false).unwrap_err();
        assert_eq!(err, Rejection::HeadsNotDivisible { heads: 64, tp: 3 });
        assert_eq!(
            err.to_string(),
            "Total number of attention heads (64) must be divisible by tensor parallel size (3)"
        );
    }

    #[test]
    fn tp_must_divide_or_be_a_multiple_of_kv_heads() {
        let mut m = model("llama-3.1-8b-instruct");
        m.attention = Attention::Gqa {
            num_attention_heads: 48,
            num_key_value_heads: 8,
            head_dim: 128,
            qk_norm: false,
            qkv_bias: false,
            o_bias: false,
            sinks: false,
            output_gate: false,
        };
        assert_eq!(
            check_tp(&m, 6, false).unwrap_err(),
            Rejection::KvHeadsIncompatible { kv_heads: 8, tp: 6 }
        );
        assert!(
            check_tp(&m, 16, false).is_ok(),
            "16 is a multiple of 8: heads replicate"
        );
        assert!(check_tp(&m, 4, false).is_ok());
    }

    #[test]
    fn sharded_dimensions_must_divide() {
        let mut m = model("llama-3.1-8b-instruct");
        m.mlp = Mlp::Dense {
            intermediate_size: 14338,
        };
        assert_eq!(
            check_tp(&m, 4, false).unwrap_err(),
            Rejection::NotDivisible {
                tensor: "mlp.gate_proj",
                size: 14338,
                tp: 4
            }
        );
    }

    #[test]
    fn pipeline_cannot_exceed_layers() {
        assert_eq!(
            check_pp(&model("llama-3.1-8b-instruct"), 33).unwrap_err(),
            Rejection::TooManyStages { pp: 33, layers: 32 }
        );
    }

    #[test]
    fn expert_shards_follow_the_moe_rule() {
        let mut m = model("deepseek-r1");
        // A MoE width of 1536 (Qwen3-235B) breaks at TP 8: 192 is not a multiple of 128.
        if let Mlp::Moe {
            moe_intermediate_size,
            intermediate_size,
            ..
        } = &mut m.mlp
        {
            *moe_intermediate_size = 1536;
            *intermediate_size = 12288;
        }
        assert_eq!(
            check_tp(&m, 8, false).unwrap_err().to_string(),
            "mlp.experts.gate_proj: The output_size of gate's and up's weight = 192 is not divisible by weight quantization block_n = 128."
        );
        assert!(check_tp(&m, 4, false).is_ok());
    }

    /// A MoE model like `base` with `experts` routed experts.
    fn with_experts(base: &str, experts: u64) -> ModelProfile {
        let mut m = model(base);
        if let Mlp::Moe {
            n_routed_experts, ..
        } = &mut m.mlp
        {
            *n_routed_experts = experts;
        }
        m
    }

    /// DP + EP splits the routed experts over all TP × DP ranks, so their count must divide
    /// TP × DP, not just DP or TP. Expert counts that are not powers of two are where the two
    /// differ. Each row: experts, TP, DP, whether the split is even.
    /// - 60: Qwen1.5-MoE-A2.7B (`num_experts: 60`,
    ///   https://huggingface.co/Qwen/Qwen1.5-MoE-A2.7B/blob/main/config.json)
    /// - 160: DeepSeek-V2 (`n_routed_experts: 160`,
    ///   https://huggingface.co/deepseek-ai/DeepSeek-V2/blob/main/config.json)
    /// - 384: Kimi K2 (`n_routed_experts: 384`,
    ///   https://huggingface.co/moonshotai/Kimi-K2-Instruct/blob/main/config.json)
    #[test]
    fn routed_experts_split_evenly_over_tp_times_dp() {
        let rows = [
            (60, 2, 2, true),    // 15 experts a rank
            (60, 4, 2, false),   // 60 / 8 = 7.5, though 60 / DP 2 and 60 / TP 4 are whole
            (60, 1, 4, true),    // 15
            (60, 1, 8, false),   // 7.5
            (60, 3, 4, true),    // 5
            (160, 8, 2, true),   // 10
            (160, 8, 8, false),  // 160 / 64 = 2.5, though 160 / DP 8 is whole
            (160, 4, 16, false), // 2.5, though 160 / DP 16 is whole
            (384, 8, 16, true),  // 3
            (384, 8, 32, false), // 384 / 256 = 1.5, though 384 / DP 32 is whole
            (384, 16, 8, true),  // 3
        ];
        for (experts, tp, dp, even) in rows {
            let m = with_experts("qwen3-235b-a22b", experts);
            let result = check_dp(&m, tp, 1, dp);
            assert_eq!(result.is_ok(), even, "{experts} experts, TP {tp} × DP {dp}");
            if !even {
                let err = result.unwrap_err().to_string();
                let ranks = tp * dp;
                assert!(
                    err.contains(&format!(
                        "{experts} routed experts do not split evenly over TP {tp} × DP {dp} = \
                         {ranks} expert-parallel ranks"
                    )),
                    "{err}"
                );
            }
        }
    }

    /// lwsplan plans DP + EP with one pipeline stage: an even expert split with PP 2 is still
    /// refused, naming both sizes.
    #[test]
    fn data_parallel_takes_one_pipeline_stage() {
        let m = model("qwen3-235b-a22b");
        assert!(check_dp(&m, 4, 1, 2).is_ok());
        let err = check_dp(&m, 4, 2, 2).unwrap_err().to_string();
        assert_eq!(
            err,
            "data_parallel_size: DP 2 with PP 2: lwsplan plans DP + EP with one pipeline stage"
        );
        // DP 1 is no DP: any PP.
        assert!(check_dp(&m, 4, 2, 1).is_ok());
    }

    /// DCP is gated on the release that first has it (v0.11.0, vllm PR #23734): an MLA model
    /// with DCP 8 is refused for 0.10.1, naming the release to use, and accepted from 0.11.0.
    #[test]
    fn decode_context_parallel_needs_vllm_0_11() {
        let r1 = model("deepseek-r1");
        let old = check_dcp(&r1, 8, 8, crate::plan::VllmVersion(0, 10, 1));
        let err = old.unwrap_err().to_string();
        assert!(
            err.contains("vLLM 0.10.1 has no decode context parallelism"),
            "{err}"
        );
        assert!(err.contains("first in 0.11.0"), "{err}");
        assert!(check_dcp(&r1, 8, 8, crate::plan::VllmVersion(0, 11, 0)).is_ok());
        assert!(check_dcp(&r1, 8, 1, crate::plan::VllmVersion(0, 10, 1)).is_ok());
    }
}

#[cfg(test)]
mod next_generation {
    use super::*;
    use crate::Catalog;

    fn model(id: &str) -> ModelProfile {
        Catalog::builtin().model(id).unwrap().clone()
    }

    /// Each row: the model, TP, expert parallelism, and whether vLLM accepts it, from the
    /// research notes' reading of vLLM 0.34.0 (`qwen_gdn_linear_attn.py`, `minimax_m2.py`,
    /// `fp8_utils.py` `validate_fp8_block_shape`).
    #[test]
    fn tensor_parallel_rules_of_the_next_generation() {
        let rows: [(&str, u64, bool, bool); 10] = [
            // Qwen3.5-397B: 32 heads, 2 KV heads, 16 GDN key heads and 64 value heads:
            // TP ∈ {1, 2, 4, 8, 16}.
            ("qwen3.5-397b-a17b", 8, false, true),
            ("qwen3.5-397b-a17b", 16, false, true),
            ("qwen3.5-397b-a17b", 32, true, false),
            ("qwen3.5-397b-a17b", 3, false, false),
            // MiniMax-M2.5 FP8: 1536 / 8 = 192 expert rows is not a whole 128-block; with EP
            // the experts stay whole (MiniMax's guide: TP 8 with --enable-expert-parallel).
            ("minimax-m2.5", 4, false, true),
            ("minimax-m2.5", 8, false, false),
            ("minimax-m2.5", 8, true, true),
            // DeepSeek-V3.2 and GLM-5.1-FP8: 128 and 64 heads; 2048 / 16 = 128 expert rows.
            ("deepseek-v3.2", 16, false, true),
            ("glm-5.1-fp8", 8, false, true),
            ("glm-5.1-fp8", 128, true, false),
        ];
        for (id, tp, ep, ok) in rows {
            let result = check_tp(&model(id), tp, ep);
            assert_eq!(result.is_ok(), ok, "{id} TP {tp} EP {ep}: {result:?}");
        }
        assert_eq!(
            check_tp(&model("qwen3.5-397b-a17b"), 32, true).unwrap_err(),
            Rejection::NotDivisible {
                tensor: "linear_attn (linear_num_key_heads)",
                size: 16,
                tp: 32
            }
        );
    }

    /// DeepSeek-V4: TP must divide the heads and the output groups (`DeepseekV4GroupedWoA`,
    /// `divide(n_groups, tp_size)`, `vllm/models/deepseek_v4/common/grouped_wo_a.py`,
    /// v0.34.0): Flash (64 heads, 8 groups) to TP 8; Pro (128 heads, 16 groups) to TP 8 as
    /// well, its FP8 shared expert (3,072 wide) leaving 192 rows a rank at TP 16, not whole
    /// 128-row blocks (`validate_fp8_block_shape`); never DCP ("DCP not support sliding window.", `SlidingWindowSpec`), never below
    /// compute capability 9.0 (FlashMLA sparse).
    #[test]
    fn deepseek_v4_rules() {
        let flash = model("deepseek-v4-flash");
        let pro = model("deepseek-v4-pro");
        for (m, tp, ok) in [
            (&flash, 8, true),
            (&flash, 16, false),
            (&pro, 8, true),
            (&pro, 16, false),
            (&pro, 32, false),
            (&flash, 3, false),
        ] {
            assert_eq!(check_tp(m, tp, true).is_ok(), ok, "{} TP {tp}", m.id);
        }
        assert_eq!(
            check_tp(&flash, 16, true).unwrap_err(),
            Rejection::NotDivisible {
                tensor: "attn.wo_a (o_groups)",
                size: 8,
                tp: 16
            }
        );
        let err = check_dcp(&flash, 8, 2, crate::plan::VllmVersion(0, 28, 0))
            .unwrap_err()
            .to_string();
        assert!(err.contains("DCP not support sliding window."), "{err}");
        let catalog = Catalog::builtin();
        let a100 = catalog.hardware("a100-80gb").unwrap();
        let h100 = catalog.hardware("h100-80gb").unwrap();
        assert!(matches!(
            check_gpu(&flash, a100),
            Err(Rejection::NoAttentionBackend { .. })
        ));
        assert!(check_gpu(&flash, h100).is_ok());
    }

    /// DeepSeek-V4 needs a release that has it (0.20.0, the recipes' minimum).
    #[test]
    fn deepseek_v4_needs_a_release_with_it() {
        let flash = model("deepseek-v4-flash");
        let err = check_release(&flash, crate::plan::VllmVersion(0, 19, 0))
            .unwrap_err()
            .to_string();
        assert!(err.contains("vLLM 0.19.0 has no DeepSeek-V4"), "{err}");
        assert!(check_release(&flash, crate::plan::VllmVersion(0, 20, 0)).is_ok());
        assert!(check_release(&model("deepseek-v3.2"), crate::plan::VllmVersion(0, 10, 0)).is_ok());
    }

    /// A TP wider than the expert count is refused with vLLM's words unless EP.
    #[test]
    fn tp_beyond_the_experts_is_refused() {
        let mut m = model("minimax-m2.5");
        m.quantization = None;
        if let Mlp::Moe {
            n_routed_experts,
            num_experts_per_tok,
            ..
        } = &mut m.mlp
        {
            *n_routed_experts = 4;
            *num_experts_per_tok = 2;
        }
        let err = check_tp(&m, 8, false).unwrap_err().to_string();
        assert!(
            err.contains("greater than the number of experts 4"),
            "{err}"
        );
        assert!(check_tp(&m, 8, true).is_ok());
    }

    /// DCP: not with sparse MLA (FlashMLA sparse), not with linear-attention state.
    #[test]
    fn dcp_is_refused_where_the_attention_cannot_split_it() {
        let version = crate::plan::version::DEFAULT;
        assert!(check_dcp(&model("deepseek-r1"), 8, 8, version).is_ok());
        for id in [
            "deepseek-v3.2",
            "glm-5.1-fp8",
            "qwen3.5-397b-a17b",
            "nemotron-3-ultra",
        ] {
            assert!(check_dcp(&model(id), 8, 8, version).is_err(), "{id}");
        }
    }

    /// Mamba-2's TP rules, with `MambaMixer2`'s assertion messages (vLLM 0.34.0): TP divides
    /// the 256 heads and the 8 groups (1, 2, 4, 8); 16 divides the heads, not the groups; a
    /// single group is replicated to any TP dividing the heads, unless the model is quantized.
    #[test]
    fn mamba2_tp_divides_heads_and_groups() {
        let m = model("nemotron-3-ultra");
        for tp in [1, 2, 4, 8] {
            assert!(check_tp(&m, tp, false).is_ok(), "tp {tp}");
        }
        let err = check_tp(&m, 16, false).unwrap_err().to_string();
        assert!(
            err.contains("If tensor parallel world size does not divide num_groups"),
            "{err}"
        );
        let mut one = m.clone();
        if let Some(LinearAttention::Mamba2 { n_groups, .. }) = &mut one.linear_attention {
            *n_groups = 1;
        }
        assert!(check_tp(&one, 16, false).is_ok());
        one.quantization = Some(crate::profile::Quantization::Fp8 {
            weight_block_size: None,
            modules_to_not_convert: Vec::new(),
            fp8_kv_cache: false,
            moe_quant_algo: None,
        });
        let err = check_tp(&one, 16, false).unwrap_err().to_string();
        assert!(err.contains("quantized models only"), "{err}");
        let mut heads = m.clone();
        if let Some(LinearAttention::Mamba2 {
            mamba_num_heads, ..
        }) = &mut heads.linear_attention
        {
            *mamba_num_heads = 24;
        }
        let err = check_tp(&heads, 16, false).unwrap_err().to_string();
        assert!(err.contains("must divide num heads"), "{err}");
    }
}
