//! Weights: every tensor vLLM loads, how it is split across tensor-parallel ranks, and its bytes.
//!
//! The inventory mirrors vLLM's model code (`vllm/model_executor/models/{llama,deepseek_v2}.py`):
//! a `ColumnParallelLinear` splits its output rows, a `RowParallelLinear` its input columns, a
//! `ReplicatedLinear` is whole on every rank, and `QKVParallelLinear` keeps
//! `max(1, kv_heads / tp)` KV heads per rank, replicating heads once TP passes the KV head count
//! (`vllm/model_executor/layers/linear.py` @ 9e109c9887e38c51fc16b0da89760c5bd7c293c9).
//! Parameter counts follow Hugging Face transformers' modules for the same architecture.

use crate::profile::{
    Attention, Ffn, Indexer, LayerType, LinearAttention, Mlp, ModelProfile, MoeQuantAlgo,
    Quantization, VisionParallel,
};

/// vLLM pads the vocabulary to a multiple of 64 before sharding it
/// (`DEFAULT_VOCAB_PADDING_SIZE`, `vllm/model_executor/layers/vocab_parallel_embedding.py`).
pub const VOCAB_PADDING: u64 = 64;

/// Bytes of one FP8 (e4m3) weight.
const FP8_BYTES: u128 = 1;
/// Bytes of one FP8 scale (`weight_scale_inv` is float32 in FP8 checkpoints).
const SCALE_BYTES: u128 = 4;
/// Bytes of an NVFP4 tensor's per-tensor scales: FP32 `weight_scale_2` and `input_scale`.
const NVFP4_TENSOR_SCALE_BYTES: u128 = 8;

/// How a tensor is divided among tensor-parallel ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// `ColumnParallelLinear`: output rows divided by TP.
    Column,
    /// `RowParallelLinear`: input columns divided by TP.
    Row,
    /// `ReplicatedLinear`, norms: whole on every rank.
    Replicated,
    /// K or V projection of `QKVParallelLinear`: `max(1, kv_heads / tp)` heads of `head_dim` rows.
    KvHeads {
        /// Total KV heads.
        kv_heads: u64,
        /// Rows per head.
        head_dim: u64,
    },
    /// `VocabParallelEmbedding` / `ParallelLMHead`: padded vocabulary rows divided by TP.
    Vocab,
}

/// One weight tensor (or `copies` identical ones, such as the experts of a layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tensor {
    /// Name as in vLLM's module tree, for messages.
    pub name: &'static str,
    /// Output features (rows); for a norm, its length.
    pub rows: u64,
    /// Input features (columns); 1 for a norm.
    pub cols: u64,
    /// How TP divides it.
    pub split: Split,
    /// Whether its weights are stored quantized (FP8) rather than in `torch_dtype`.
    pub quantized: bool,
    /// How many identical tensors this entry stands for.
    pub copies: u64,
    /// Whether it is a routed expert's weight, which expert parallelism distributes whole.
    pub expert: bool,
    /// Whether it is held in FP32 whatever the checkpoint's dtype (DeepSeek-V4's
    /// hyper-connection mixers, compressor positions, router bias and hash table).
    pub fp32: bool,
}

impl Tensor {
    fn linear(name: &'static str, rows: u64, cols: u64, split: Split, quantized: bool) -> Self {
        Tensor {
            name,
            rows,
            cols,
            split,
            quantized,
            copies: 1,
            expert: false,
            fp32: false,
        }
    }

    fn norm(name: &'static str, len: u64) -> Self {
        Tensor {
            name,
            rows: len,
            cols: 1,
            split: Split::Replicated,
            quantized: false,
            copies: 1,
            expert: false,
            fp32: false,
        }
    }

    /// A bias vector, split like the projection it belongs to (never quantized).
    fn bias(name: &'static str, len: u64, split: Split) -> Self {
        Tensor {
            name,
            rows: len,
            cols: 1,
            split,
            quantized: false,
            copies: 1,
            expert: false,
            fp32: false,
        }
    }

    /// An FP32 tensor of `rows × cols`, whole on every rank.
    fn fp32(name: &'static str, rows: u64, cols: u64) -> Self {
        Tensor {
            fp32: true,
            ..Tensor::linear(name, rows, cols, Split::Replicated, false)
        }
    }

    /// This weight for each of `n` routed experts.
    fn experts(mut self, n: u64) -> Self {
        self.copies = n;
        self.expert = true;
        self
    }

    /// The tensor as one of `ranks` ranks holds it under expert parallelism
    /// (`--enable-expert-parallel`): whole experts, `ceil(experts / ranks)` of them on the
    /// fullest rank, instead of a TP slice of every expert (vLLM `determine_expert_map`).
    pub fn with_expert_parallel(&self, ranks: u64) -> Tensor {
        if !self.expert {
            return self.clone();
        }
        Tensor {
            copies: self.copies.div_ceil(ranks),
            split: Split::Replicated,
            ..self.clone()
        }
    }

    /// Parameters as Hugging Face counts them (unpadded, unsplit). Wide, so that no profile
    /// within the checked bounds can overflow.
    pub fn parameters(&self) -> u128 {
        u128::from(self.rows) * u128::from(self.cols) * u128::from(self.copies)
    }

    /// Rows and columns one TP rank holds.
    pub fn shard(&self, tp: u64) -> (u64, u64) {
        match self.split {
            Split::Column => (self.rows.div_ceil(tp), self.cols),
            Split::Row => (self.rows, self.cols.div_ceil(tp)),
            Split::Replicated => (self.rows, self.cols),
            Split::KvHeads { kv_heads, head_dim } => ((kv_heads / tp).max(1) * head_dim, self.cols),
            Split::Vocab => (
                self.rows.div_ceil(VOCAB_PADDING) * VOCAB_PADDING / tp,
                self.cols,
            ),
        }
    }

    /// Bytes of `rows × cols` of this tensor: quantized weights carry their scales (FP8: fp32 per
    /// block or row; AWQ/GPTQ: fp16 scale and 4-bit zero per group, vLLM's `awq.py`/`gptq.py`
    /// `create_weights` shapes).
    fn bytes_of(&self, rows: u64, cols: u64, model: &ModelProfile) -> u128 {
        let (rows, cols) = (u128::from(rows), u128::from(cols));
        let dtype = u128::from(model.torch_dtype.bytes());
        let per_copy = match (&model.quantization, self.quantized) {
            _ if self.fp32 => rows * cols * 4,
            // DeepSeek-V4's routed experts in their own 4-bit format: MXFP4 (two weights a byte,
            // a UE8M0 scale per 32 inputs; `Mxfp4MoEMethod.create_weights`,
            // `vllm/model_executor/layers/quantization/mxfp4.py`, v0.28.0) or ModelOpt NVFP4.
            (
                Some(Quantization::Fp8 {
                    moe_quant_algo: Some(algo),
                    ..
                }),
                true,
            ) if self.expert => match algo {
                MoeQuantAlgo::Mxfp4 => (rows * cols).div_ceil(2) + rows * cols.div_ceil(32),
                MoeQuantAlgo::Nvfp4 => {
                    (rows * cols).div_ceil(2) + rows * cols.div_ceil(16) + NVFP4_TENSOR_SCALE_BYTES
                }
            },
            (
                Some(Quantization::Fp8 {
                    weight_block_size, ..
                }),
                true,
            ) => {
                let scales = match weight_block_size {
                    Some([block_n, block_k]) => {
                        rows.div_ceil(u128::from(*block_n)) * cols.div_ceil(u128::from(*block_k))
                    }
                    None => rows,
                };
                rows * cols * FP8_BYTES + scales * SCALE_BYTES
            }
            // MXFP4 (gpt-oss) covers the routed experts only: 4 bits a weight and one 8-bit
            // scale per 32 along the input (`*_blocks` and `*_scales` tensors).
            (Some(Quantization::Mxfp4), true) if self.expert => {
                (rows * cols).div_ceil(2) + rows * cols.div_ceil(32)
            }
            (Some(Quantization::Mxfp4), true) => rows * cols * dtype,
            (Some(q @ (Quantization::Awq { .. } | Quantization::Gptq { .. })), true) => {
                // qweight: 4 bits a weight; scales: fp16 per group; qzeros: 4 bits per group.
                let group = u128::from(q.int4_group_size().unwrap_or(1).max(1));
                let groups = rows * cols.div_ceil(group);
                let g_idx = match q {
                    Quantization::Gptq { desc_act: true, .. } => cols * 4,
                    _ => 0,
                };
                (rows * cols).div_ceil(2) + groups * 2 + groups.div_ceil(2) + g_idx
            }
            (
                Some(Quantization::CompressedTensors {
                    group_size,
                    symmetric,
                    scale_dtype,
                    ..
                }),
                true,
            ) => {
                // weight_packed: eight 4-bit weights per int32 along the input; weight_scale:
                // one per group in the scale dtype; weight_zero_point (asymmetric only): 4 bits
                // per group (`compressed_tensors_moe_wna16.py` `create_weights`, v0.28.0).
                let groups = rows * cols.div_ceil(u128::from((*group_size).max(1)));
                let scale = u128::from(scale_dtype.unwrap_or(model.torch_dtype).bytes());
                let zeros = if *symmetric { 0 } else { groups.div_ceil(2) };
                rows * cols.div_ceil(8) * 4 + groups * scale + zeros
            }
            (Some(Quantization::ModeloptFp4 { group_size, .. }), true) => {
                // Two FP4 weights a byte, an FP8 (E4M3) scale per group along the input, and the
                // FP32 `weight_scale_2` and `input_scale` of each tensor (`modelopt.py`
                // `ModelOptNvFp4LinearMethod.create_weights`, v0.28.0).
                let groups = rows * cols.div_ceil(u128::from((*group_size).max(1)));
                (rows * cols).div_ceil(2) + groups + NVFP4_TENSOR_SCALE_BYTES
            }
            _ => rows * cols * dtype,
        };
        per_copy * u128::from(self.copies)
    }

    /// Bytes of the whole tensor as the checkpoint stores it.
    pub fn bytes(&self, model: &ModelProfile) -> u128 {
        self.bytes_of(self.rows, self.cols, model)
    }

    /// Bytes one TP rank holds.
    pub fn bytes_per_rank(&self, model: &ModelProfile, tp: u64) -> u128 {
        let (rows, cols) = self.shard(tp);
        self.bytes_of(rows, cols, model)
    }

    /// Bytes one TP rank holds once vLLM has laid the weights out for its kernels: MXFP4
    /// experts padded to the MoE kernel's alignment ([`Mxfp4Alignment`]).
    pub fn loaded_bytes_per_rank(
        &self,
        model: &ModelProfile,
        tp: u64,
        alignment: Mxfp4Alignment,
    ) -> u128 {
        let (rows, cols) = self.shard(tp);
        // DeepSeek-V4's MXFP4 experts are not padded: in vLLM 0.28.0, where it first runs,
        // every MXFP4 backend rounds the intermediate to 128 at most and the hidden size to 256
        // (`mxfp4_round_up_hidden_size_and_intermediate_size`,
        // `vllm/model_executor/layers/fused_moe/oracle/mxfp4.py`), which its widths (2048 or
        // 3072 split by TP 8 at most without expert parallelism, whole with it; 4096, 7168)
        // already are.
        if !(self.expert && self.quantized && model.quantization == Some(Quantization::Mxfp4)) {
            return self.bytes_of(rows, cols, model);
        }
        // gate/up are [intermediate, hidden], down is [hidden, intermediate].
        let (rows, cols) = if self.name.ends_with("down_proj") {
            (
                rows.next_multiple_of(alignment.hidden),
                cols.next_multiple_of(alignment.intermediate),
            )
        } else {
            (
                rows.next_multiple_of(alignment.intermediate),
                cols.next_multiple_of(alignment.hidden),
            )
        };
        self.bytes_of(rows, cols, model)
    }
}

/// How vLLM pads MXFP4 expert weights for its MoE kernels, per rank: the intermediate and
/// hidden dimensions rounded up to these multiples.
///
/// Blackwell's FlashInfer TRT-LLM kernels take 256 and 256 (`Mxfp4MoEMethod.create_weights`,
/// `vllm/model_executor/layers/quantization/mxfp4.py`: "round_up(intermediate_size_per_partition,
/// 256)", "round_up(hidden_size, 256)"). Marlin (below Hopper, and Hopper in v0.10) pads to 128
/// and 256; Triton on Hopper swizzles to a layout whose loaded size the same 128 and 256 match
/// within the logs' precision: gpt-oss-20b 13.64 GiB logged at TP1, 13.64 computed; 7.01 at TP2,
/// 7.05 computed (llm-d-planner v0.19.0); gpt-oss-120b 64.38 GiB (v0.14.1, vllm #33155) and
/// 65.97 GiB (Marlin, v0.10.1, vllm #23278), 65.85 computed; 17.22 GiB at TP4 on A100
/// (v0.10.1.1, dennislee22/vLLM-benchmarking), 17.19 computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mxfp4Alignment {
    /// Multiple of the per-rank intermediate size.
    pub intermediate: u64,
    /// Multiple of the hidden size.
    pub hidden: u64,
}

impl Mxfp4Alignment {
    /// The alignment on a GPU of compute capability `sm` (major × 10 + minor).
    pub fn for_sm(sm: u64) -> Mxfp4Alignment {
        Mxfp4Alignment {
            intermediate: if sm >= 100 { 256 } else { 128 },
            hidden: 256,
        }
    }
}

/// A wide count as `u64`, saturating: only a profile far outside any real model saturates, and
/// the planner refuses those before sizing anything ([`MAX_PARAMETERS`]).
fn saturate(value: u128) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}

/// The most parameters the planner accepts: 10^15, a thousand times the largest models served
/// today. Bounds every size the planner computes far below `u64::MAX`.
pub const MAX_PARAMETERS: u128 = 1_000_000_000_000_000;

/// The tensors of decoder layer `layer` (0-based): its norms, its mixer and its feed-forward
/// block ([`ModelProfile::layer_blocks`]). A NemotronH layer holds one block and one `norm`
/// before it (`NemotronH*DecoderLayer`, `vllm/model_executor/models/nemotron_h.py` @
/// 00b08dc44519a82cbdd9061d92d1226985094622).
pub fn layer_tensors(model: &ModelProfile, layer: u64) -> Vec<Tensor> {
    let mut tensors = layer_shapes(model, layer);
    // Modules the checkpoint keeps in torch_dtype (Meta's FP8 Llama 3.1 405B keeps attention
    // in BF16). Fused experts are one tensor here: a list can exempt all of a layer's experts
    // (`model.layers.5.mlp.experts`), not one of them.
    if let Some(q) = &model.quantization {
        for t in tensors.iter_mut().filter(|t| t.quantized) {
            if q.keeps_unquantized(layer, t.name) {
                t.quantized = false;
            }
        }
    }
    tensors
}

/// [`layer_tensors`] before the checkpoint's unquantized modules are applied: the shapes, all
/// a parameter count needs. Matching every tensor's path against those modules is most of the
/// cost of listing a layer, and every plan counts the parameters twice.
fn layer_shapes(model: &ModelProfile, layer: u64) -> Vec<Tensor> {
    let hidden = model.hidden_size;
    let quantized = model.quantization.is_some();
    let blocks = model.layer_blocks(layer);
    let mut tensors = if model.hybrid_override_pattern.is_some() {
        vec![Tensor::norm("norm", hidden)]
    } else {
        vec![
            Tensor::norm("input_layernorm", hidden),
            Tensor::norm("post_attention_layernorm", hidden),
        ]
    };
    match blocks.mixer {
        Some(LayerType::LinearAttention) => {
            if let Some(mixer) = &model.linear_attention {
                tensors.extend(linear_attention_tensors(mixer, hidden, quantized));
            }
        }
        Some(_) => tensors.extend(attention_tensors(model, layer, quantized)),
        None => {}
    }
    if let Some(hc) = model.hc_mult {
        tensors.extend(hyper_connection_tensors(hc, hidden));
    }
    match (blocks.ffn, &model.mlp) {
        (None, _) => {}
        (Some(Ffn::Dense), Mlp::Dense { intermediate_size })
        | (
            Some(Ffn::Dense),
            Mlp::Moe {
                intermediate_size, ..
            },
        ) => {
            tensors.extend(mlp(model, "mlp", hidden, *intermediate_size, quantized));
        }
        (Some(Ffn::Moe), Mlp::Dense { intermediate_size }) => {
            tensors.extend(mlp(model, "mlp", hidden, *intermediate_size, quantized));
        }
        (
            Some(Ffn::Moe),
            Mlp::Moe {
                moe_intermediate_size,
                n_routed_experts,
                n_shared_experts,
                bias,
                shared_expert_gate,
                shared_expert_intermediate_size,
                moe_latent_size,
                routed_expert_hidden_size,
                num_hash_layers,
                num_experts_per_tok,
                ..
            },
        ) => {
            // DeepSeek-V4's hash-routed layers: a table of each token id's experts, int32
            // (`tid2eid`, `DeepseekV4MoE.__init__`, `vllm/models/deepseek_v4/nvidia/model.py`,
            // v0.34.0).
            if layer < *num_hash_layers {
                tensors.push(Tensor::fp32(
                    "mlp.gate.tid2eid",
                    model.vocab_size,
                    *num_experts_per_tok,
                ));
            }
            // Kimi-K3's latent MoE: the experts see the hidden state projected down to the
            // latent and project back up through replicated, unquantized projections
            // (`KimiMoE`, `vllm/model_executor/models/kimi_k3/nvidia/model.py`, vLLM 0.28.0,
            // lines 627-650).
            let expert_hidden = match routed_expert_hidden_size {
                Some(latent) => {
                    tensors.extend([
                        Tensor::linear(
                            "mlp.routed_expert_down_proj",
                            *latent,
                            hidden,
                            Split::Replicated,
                            false,
                        ),
                        Tensor::linear(
                            "mlp.routed_expert_up_proj",
                            hidden,
                            *latent,
                            Split::Replicated,
                            false,
                        ),
                        Tensor::norm("mlp.routed_expert_norm", *latent),
                    ]);
                    *latent
                }
                None => hidden,
            };
            if *shared_expert_gate {
                tensors.push(Tensor::linear(
                    "mlp.shared_expert_gate",
                    1,
                    hidden,
                    Split::Replicated,
                    false,
                ));
            }
            // The router stays in torch_dtype and is replicated (`ReplicatedLinear` gate).
            tensors.push(Tensor::linear(
                "mlp.gate",
                *n_routed_experts,
                hidden,
                Split::Replicated,
                false,
            ));
            // Nemotron-3's latent MoE: the routed experts see `moe_latent_size` features,
            // projected in and out by `ReplicatedLinear`s that ModelOpt's checkpoints keep
            // unquantized (`NemotronHMoE`; "ModelOpt excludes the latent projections",
            // `nemotron_h.py`, vLLM 0.34.0, lines 216-223).
            let expert_in = match moe_latent_size {
                Some(latent) => {
                    tensors.extend([
                        Tensor::linear(
                            "mlp.fc1_latent_proj",
                            *latent,
                            hidden,
                            Split::Replicated,
                            false,
                        ),
                        Tensor::linear(
                            "mlp.fc2_latent_proj",
                            hidden,
                            *latent,
                            Split::Replicated,
                            false,
                        ),
                    ]);
                    *latent
                }
                None => expert_hidden,
            };
            // FusedMoE splits each expert's intermediate dimension across TP ranks.
            tensors.extend(
                mlp(
                    model,
                    "mlp.experts",
                    expert_in,
                    *moe_intermediate_size,
                    quantized,
                )
                .into_iter()
                .map(|t| t.experts(*n_routed_experts)),
            );
            if *bias {
                // gpt-oss: router bias, and per expert a gate/up bias (split like the outputs)
                // and a down bias (added once: whole on every rank).
                tensors.extend([
                    Tensor::bias("mlp.gate.bias", *n_routed_experts, Split::Replicated),
                    Tensor::bias(
                        "mlp.experts.gate_up_proj.bias",
                        2 * moe_intermediate_size,
                        Split::Column,
                    )
                    .experts(*n_routed_experts),
                    Tensor::bias("mlp.experts.down_proj.bias", hidden, Split::Replicated)
                        .experts(*n_routed_experts),
                ]);
            }
            let shared =
                shared_expert_intermediate_size.unwrap_or(moe_intermediate_size * n_shared_experts);
            if shared > 0 {
                tensors.extend(mlp(model, "mlp.shared_experts", hidden, shared, quantized));
            }
        }
    }
    tensors
}

/// DeepSeek-V4's hyper-connections of one decoder layer (`DeepseekV4DecoderLayer.__init__`,
/// `vllm/models/deepseek_v4/nvidia/model.py`, v0.34.0): for the attention and for the MoE, a
/// mixer `(2 + hc) · hc × hc · hidden`, its base `(2 + hc) · hc` and 3 scales, all FP32.
fn hyper_connection_tensors(hc: u64, hidden: u64) -> [Tensor; 3] {
    let mix = (2 + hc) * hc;
    [
        Tensor::fp32("hc_attn_fn", mix, hc * hidden),
        Tensor::fp32("hc_ffn_fn", mix, hc * hidden),
        Tensor::fp32("hc_bases_and_scales", 2 * (mix + 3), 1),
    ]
}

/// DeepSeek-V4's attention of a layer compressing `ratio` tokens to one
/// (`DeepseekV4Attention`, `vllm/models/deepseek_v4/attention.py`, v0.34.0): `wq_a` and `wkv`
/// fused into one replicated projection, `wq_b` column-parallel, `wo_a` split by output group
/// and `wo_b` row-parallel, all FP8 in the checkpoint; a sink per head. A compressing layer adds
/// its compressor (`DeepseekCompressor`, `compressor.py`: `wkv_wgate` replicated and built
/// without a quantization config, so BF16; `ape` FP32 `ratio × coff · head_dim`; a norm), and a
/// ratio-4 layer its indexer: `wq_b` replicated FP8, `weights_proj` replicated BF16, and a
/// compressor of its own at the indexer's width.
fn compressed_sparse_tensors(model: &ModelProfile, ratio: u64, quantized: bool) -> Vec<Tensor> {
    let Attention::CompressedSparseMla {
        num_attention_heads: heads,
        head_dim,
        q_lora_rank,
        o_lora_rank,
        o_groups,
        indexer,
        ..
    } = &model.attention
    else {
        return Vec::new();
    };
    let hidden = model.hidden_size;
    let compressor = |names: [&'static str; 3], dim: u64| {
        let coff = 1 + u64::from(ratio == 4);
        [
            Tensor::linear(names[0], 2 * coff * dim, hidden, Split::Replicated, false),
            Tensor::fp32(names[1], ratio, coff * dim),
            Tensor::norm(names[2], dim),
        ]
    };
    let mut tensors = vec![
        Tensor::linear(
            "attn.wq_a",
            *q_lora_rank,
            hidden,
            Split::Replicated,
            quantized,
        ),
        Tensor::linear("attn.wkv", *head_dim, hidden, Split::Replicated, quantized),
        Tensor::norm("attn.q_norm", *q_lora_rank),
        Tensor::norm("attn.kv_norm", *head_dim),
        Tensor::linear(
            "attn.wq_b",
            heads * head_dim,
            *q_lora_rank,
            Split::Column,
            quantized,
        ),
        Tensor::linear(
            "attn.wo_a",
            o_groups * o_lora_rank,
            heads * head_dim / o_groups.max(&1),
            Split::Column,
            quantized,
        ),
        Tensor::linear(
            "attn.wo_b",
            hidden,
            o_groups * o_lora_rank,
            Split::Row,
            quantized,
        ),
        Tensor::bias("attn.attn_sink", *heads, Split::Column),
    ];
    if ratio > 1 {
        tensors.extend(compressor(
            [
                "attn.compressor.wkv_wgate",
                "attn.compressor.ape",
                "attn.compressor.norm",
            ],
            *head_dim,
        ));
    }
    if ratio == 4 {
        tensors.extend([
            Tensor::linear(
                "attn.indexer.wq_b",
                indexer.index_n_heads * indexer.index_head_dim,
                *q_lora_rank,
                Split::Replicated,
                quantized,
            ),
            Tensor::linear(
                "attn.indexer.weights_proj",
                indexer.index_n_heads,
                hidden,
                Split::Replicated,
                false,
            ),
        ]);
        tensors.extend(compressor(
            [
                "attn.indexer.compressor.wkv_wgate",
                "attn.indexer.compressor.ape",
                "attn.indexer.compressor.norm",
            ],
            indexer.index_head_dim,
        ));
    }
    tensors
}

/// The attention block's tensors of decoder layer `layer` (every layer but a hybrid model's
/// linear-attention ones).
fn attention_tensors(model: &ModelProfile, layer: u64, quantized: bool) -> Vec<Tensor> {
    let hidden = model.hidden_size;
    let mut tensors = Vec::new();
    match &model.attention {
        Attention::CompressedSparseMla { .. } => {
            return compressed_sparse_tensors(
                model,
                model.attention.compress_ratio(layer),
                quantized,
            );
        }
        Attention::Gqa {
            num_attention_heads,
            num_key_value_heads,
            head_dim,
            qk_norm,
            qkv_bias,
            o_bias,
            sinks,
            output_gate,
        } => {
            if *o_bias {
                // A row-parallel layer's bias is added once, after the all-reduce: whole on
                // every rank.
                tensors.push(Tensor::bias(
                    "self_attn.o_proj.bias",
                    hidden,
                    Split::Replicated,
                ));
            }
            if *sinks {
                tensors.push(Tensor::bias(
                    "self_attn.sinks",
                    *num_attention_heads,
                    Split::Column,
                ));
            }
            if *qkv_bias {
                let kv = Split::KvHeads {
                    kv_heads: *num_key_value_heads,
                    head_dim: *head_dim,
                };
                tensors.extend([
                    Tensor::bias(
                        "self_attn.q_proj.bias",
                        num_attention_heads * head_dim,
                        Split::Column,
                    ),
                    Tensor::bias("self_attn.k_proj.bias", num_key_value_heads * head_dim, kv),
                    Tensor::bias("self_attn.v_proj.bias", num_key_value_heads * head_dim, kv),
                ]);
            }
            if *qk_norm {
                tensors.extend([
                    Tensor::norm("self_attn.q_norm", *head_dim),
                    Tensor::norm("self_attn.k_norm", *head_dim),
                ]);
            }
            let kv = Split::KvHeads {
                kv_heads: *num_key_value_heads,
                head_dim: *head_dim,
            };
            tensors.extend([
                // With an output gate the gate's rows are projected with the queries
                // (`Qwen3NextAttention`: `total_num_heads * (1 + attn_output_gate)` query heads).
                Tensor::linear(
                    "self_attn.q_proj",
                    num_attention_heads * head_dim * (1 + u64::from(*output_gate)),
                    hidden,
                    Split::Column,
                    quantized,
                ),
                Tensor::linear(
                    "self_attn.k_proj",
                    num_key_value_heads * head_dim,
                    hidden,
                    kv,
                    quantized,
                ),
                Tensor::linear(
                    "self_attn.v_proj",
                    num_key_value_heads * head_dim,
                    hidden,
                    kv,
                    quantized,
                ),
                Tensor::linear(
                    "self_attn.o_proj",
                    hidden,
                    num_attention_heads * head_dim,
                    Split::Row,
                    quantized,
                ),
            ]);
        }
        Attention::Mla {
            num_attention_heads: heads,
            q_lora_rank,
            kv_lora_rank,
            qk_nope_head_dim,
            qk_rope_head_dim,
            v_head_dim,
            indexer,
            output_gate,
        } => {
            if *output_gate {
                tensors.push(Tensor::linear(
                    "self_attn.g_proj",
                    heads * v_head_dim,
                    hidden,
                    Split::Column,
                    quantized,
                ));
            }
            // A layer whose top-k IndexCache reuses builds no indexer ([`ModelProfile::indexer_on`]).
            if let Some(indexer) = indexer.as_ref().filter(|_| model.indexer_on(layer)) {
                tensors.extend(indexer_tensors(
                    indexer,
                    q_lora_rank.unwrap_or(hidden),
                    hidden,
                    quantized,
                ));
            }
            let q_head = qk_nope_head_dim + qk_rope_head_dim;
            match q_lora_rank {
                // The down-projections are replicated on every rank (vLLM fuses them into
                // `fused_qkv_a_proj`, a `MergedColumnParallelLinear` with TP disabled).
                Some(rank) => tensors.extend([
                    Tensor::linear(
                        "self_attn.q_a_proj",
                        *rank,
                        hidden,
                        Split::Replicated,
                        quantized,
                    ),
                    Tensor::norm("self_attn.q_a_layernorm", *rank),
                    Tensor::linear(
                        "self_attn.q_b_proj",
                        heads * q_head,
                        *rank,
                        Split::Column,
                        quantized,
                    ),
                ]),
                None => tensors.push(Tensor::linear(
                    "self_attn.q_proj",
                    heads * q_head,
                    hidden,
                    Split::Column,
                    quantized,
                )),
            }
            tensors.extend([
                Tensor::linear(
                    "self_attn.kv_a_proj_with_mqa",
                    kv_lora_rank + qk_rope_head_dim,
                    hidden,
                    Split::Replicated,
                    quantized,
                ),
                Tensor::norm("self_attn.kv_a_layernorm", *kv_lora_rank),
                Tensor::linear(
                    "self_attn.kv_b_proj",
                    heads * (qk_nope_head_dim + v_head_dim),
                    *kv_lora_rank,
                    Split::Column,
                    quantized,
                ),
                Tensor::linear(
                    "self_attn.o_proj",
                    hidden,
                    heads * v_head_dim,
                    Split::Row,
                    quantized,
                ),
            ]);
        }
    }
    tensors
}

/// DeepSeek Sparse Attention's lightning indexer (`Indexer`, `vllm/model_executor/models/
/// deepseek_v2.py` in vLLM 0.28.0, lines 604-808): `wq_b` from the query latent, replicated and
/// quantized as the model is; `wk` and `weights_proj` fused into one replicated projection built
/// without a quantization config (an FP8 `wk` is upcast to BF16 at load); `k_norm` a LayerNorm
/// with a bias. Every rank holds all of it.
fn indexer_tensors(indexer: &Indexer, q_rank: u64, hidden: u64, quantized: bool) -> [Tensor; 4] {
    [
        Tensor::linear(
            "self_attn.indexer.wq_b",
            indexer.index_n_heads * indexer.index_head_dim,
            q_rank,
            Split::Replicated,
            quantized,
        ),
        Tensor::linear(
            "self_attn.indexer.wk",
            indexer.index_head_dim,
            hidden,
            Split::Replicated,
            false,
        ),
        Tensor::linear(
            "self_attn.indexer.weights_proj",
            indexer.index_n_heads,
            hidden,
            Split::Replicated,
            false,
        ),
        Tensor::norm("self_attn.indexer.k_norm", 2 * indexer.index_head_dim),
    ]
}

/// A linear-attention mixer's tensors.
///
/// Mamba-2 (`MambaMixer2`, `vllm/model_executor/layers/mamba/mamba_mixer2.py`, vLLM 0.34.0,
/// lines 264-460): `in_proj` [2·I + 2·G·N + heads, H] and `conv1d` [I + 2·G·N, K] (plus its
/// bias) column-parallel, the convolution never quantized; `A`, `D`, `dt_bias` one per head
/// and the gated RMS norm's weight [I] split by TP; `out_proj` [H, I] row-parallel (I =
/// `mamba_num_heads × mamba_head_dim`, G = `n_groups`, N = `ssm_state_size`).
///
/// A gated DeltaNet mixer (`QwenGatedDeltaNetAttention`,
/// `vllm/model_executor/layers/mamba/gdn/qwen_gdn_linear_attn.py` in vLLM 0.34.0): the q, k, v
/// and output-gate projections column-parallel, the per-head decay and gate inputs (`in_proj_ba`)
/// column-parallel and never block-quantized ("doesn't support blockwise fp8"), the causal
/// convolution over q, k and v split by TP and unquantized, `dt_bias` and `A_log` one per value
/// head, split; the gated RMS norm of one head whole; `out_proj` row-parallel.
fn linear_attention_tensors(mixer: &LinearAttention, hidden: u64, quantized: bool) -> Vec<Tensor> {
    match mixer {
        LinearAttention::GatedDeltaNet {
            linear_num_key_heads: nk,
            linear_num_value_heads: nv,
            linear_key_head_dim: dk,
            linear_value_head_dim: dv,
            linear_conv_kernel_dim: kernel,
            ..
        } => {
            let (key_dim, value_dim) = (nk * dk, nv * dv);
            vec![
                Tensor::linear(
                    "linear_attn.in_proj_qkvz",
                    2 * key_dim + 2 * value_dim,
                    hidden,
                    Split::Column,
                    quantized,
                ),
                Tensor::linear(
                    "linear_attn.in_proj_ba",
                    2 * nv,
                    hidden,
                    Split::Column,
                    false,
                ),
                Tensor::linear(
                    "linear_attn.conv1d",
                    mixer.conv_dim(),
                    *kernel,
                    Split::Column,
                    false,
                ),
                Tensor::bias("linear_attn.dt_bias", *nv, Split::Column),
                Tensor::bias("linear_attn.A_log", *nv, Split::Column),
                Tensor::norm("linear_attn.norm", *dv),
                Tensor::linear(
                    "linear_attn.out_proj",
                    hidden,
                    value_dim,
                    Split::Row,
                    quantized,
                ),
            ]
        }
        LinearAttention::KimiDeltaAttention {
            num_heads,
            head_dim,
            short_conv_kernel_size,
            use_full_rank_gate,
        } => kda_tensors(
            *num_heads,
            *head_dim,
            *short_conv_kernel_size,
            *use_full_rank_gate,
            hidden,
            quantized,
        ),
        LinearAttention::Mamba2 {
            mamba_num_heads: heads,
            mamba_head_dim,
            conv_kernel,
            use_conv_bias,
            ..
        } => {
            let inner = heads * mamba_head_dim;
            let conv_dim = mixer.conv_dim();
            let mut tensors = vec![
                // z (the gate), x, B, C and dt in one projection, each part split by TP.
                Tensor::linear(
                    "mixer.in_proj",
                    inner + conv_dim + heads,
                    hidden,
                    Split::Column,
                    quantized,
                ),
                Tensor::linear("mixer.conv1d", conv_dim, *conv_kernel, Split::Column, false),
                Tensor::bias("mixer.A", *heads, Split::Column),
                Tensor::bias("mixer.D", *heads, Split::Column),
                Tensor::bias("mixer.dt_bias", *heads, Split::Column),
                Tensor::bias("mixer.norm", inner, Split::Column),
                Tensor::linear("mixer.out_proj", hidden, inner, Split::Row, quantized),
            ];
            if *use_conv_bias {
                tensors.push(Tensor::bias("mixer.conv1d.bias", conv_dim, Split::Column));
            }
            tensors
        }
    }
}

/// The projections of one MLP: [`gated_mlp`]'s three, or for a non-gated model
/// (NemotronH's relu² `NemotronHMLP`, its experts with `is_non_gated_moe`) the up and down
/// projections alone.
fn mlp(
    model: &ModelProfile,
    prefix: &'static str,
    hidden: u64,
    intermediate: u64,
    quantized: bool,
) -> Vec<Tensor> {
    let [gate, up, down] = gated_mlp(prefix, hidden, intermediate, quantized);
    if model.non_gated_mlp {
        vec![up, down]
    } else {
        vec![gate, up, down]
    }
}

/// A Kimi Delta Attention mixer (`KimiDeltaAttention.__init__`,
/// `vllm/model_executor/layers/kda.py` @ 01a7e5d91d42e6232d746d12f898a590f1ee77f9), with `p =
/// num_heads × head_dim`: q, k and v (`hidden → p`), the decay gate's low-rank pair `f_a_proj`
/// (`hidden → head_dim`, replicated) and `f_b_proj` (`head_dim → p`), `b_proj` (`hidden →
/// num_heads`) and `o_proj` (`p → hidden`, row-parallel), all built with the quantization
/// config; the output gate as the decay gate (`g_a_proj`, `g_b_proj`), or one column-parallel
/// `hidden → p` projection with Kimi-K3's `use_full_rank_gate` (vLLM 0.28.0 fuses it into
/// `in_proj_qkvgfab`, `models/kimi_k3/nvidia/kda.py`: the same parameters); q, k and v's short
/// convolutions (`p × K` each), `dt_bias` (`p`) and `A_log` (`num_heads`) split by TP and never
/// quantized; the gated RMS norm `o_norm` of one head, whole. vLLM keeps the convolutions,
/// `dt_bias` and `A_log` in float32; they are counted in the model dtype here (196,608 bytes
/// a layer fewer for Kimi-Linear).
fn kda_tensors(
    heads: u64,
    head_dim: u64,
    kernel: u64,
    full_rank_gate: bool,
    hidden: u64,
    quantized: bool,
) -> Vec<Tensor> {
    let p = heads * head_dim;
    let mut tensors = vec![
        Tensor::linear("self_attn.q_proj", p, hidden, Split::Column, quantized),
        Tensor::linear("self_attn.k_proj", p, hidden, Split::Column, quantized),
        Tensor::linear("self_attn.v_proj", p, hidden, Split::Column, quantized),
        Tensor::linear(
            "self_attn.f_a_proj",
            head_dim,
            hidden,
            Split::Replicated,
            quantized,
        ),
        Tensor::linear("self_attn.f_b_proj", p, head_dim, Split::Column, quantized),
        Tensor::linear("self_attn.b_proj", heads, hidden, Split::Column, quantized),
        Tensor::linear("self_attn.conv1d", 3 * p, kernel, Split::Column, false),
        Tensor::bias("self_attn.dt_bias", p, Split::Column),
        Tensor::bias("self_attn.A_log", heads, Split::Column),
        Tensor::norm("self_attn.o_norm", head_dim),
        Tensor::linear("self_attn.o_proj", hidden, p, Split::Row, quantized),
    ];
    if full_rank_gate {
        tensors.push(Tensor::linear(
            "self_attn.g_proj",
            p,
            hidden,
            Split::Column,
            quantized,
        ));
    } else {
        tensors.extend([
            Tensor::linear(
                "self_attn.g_a_proj",
                head_dim,
                hidden,
                Split::Replicated,
                quantized,
            ),
            Tensor::linear("self_attn.g_b_proj", p, head_dim, Split::Column, quantized),
        ]);
    }
    tensors
}

/// Gate, up (column-parallel) and down (row-parallel) projections of one gated MLP.
fn gated_mlp(prefix: &'static str, hidden: u64, intermediate: u64, quantized: bool) -> [Tensor; 3] {
    let names = match prefix {
        "mlp.experts" => [
            "mlp.experts.gate_proj",
            "mlp.experts.up_proj",
            "mlp.experts.down_proj",
        ],
        "mlp.shared_experts" => [
            "mlp.shared_experts.gate_proj",
            "mlp.shared_experts.up_proj",
            "mlp.shared_experts.down_proj",
        ],
        _ => ["mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"],
    };
    [
        Tensor::linear(names[0], intermediate, hidden, Split::Column, quantized),
        Tensor::linear(names[1], intermediate, hidden, Split::Column, quantized),
        Tensor::linear(names[2], hidden, intermediate, Split::Row, quantized),
    ]
}

/// Bytes per rank and layer of the BF16 copy of `kv_b_proj` that vLLM's MLA keeps when the
/// checkpoint quantizes it: `process_weights_after_loading` dequantizes it once and keeps
/// `W_UK_T` and `W_UV` as views of that copy (`vllm/v1/attention/backends/mla/common.py`,
/// `get_and_maybe_dequant_weights`). Unquantized checkpoints keep views of the weight itself.
fn mla_dequantized_copy(model: &ModelProfile, tp: u64) -> u128 {
    match (&model.attention, &model.quantization) {
        (
            Attention::Mla {
                num_attention_heads,
                kv_lora_rank,
                qk_nope_head_dim,
                v_head_dim,
                ..
            },
            Some(q),
        ) if *q != Quantization::Mxfp4 => {
            // MXFP4 quantizes the routed experts only (Kimi-K3): kv_b_proj is BF16 already.
            u128::from(num_attention_heads.div_ceil(tp))
                * u128::from(qk_nope_head_dim + v_head_dim)
                * u128::from(*kv_lora_rank)
                * u128::from(model.torch_dtype.bytes())
        }
        _ => 0,
    }
}

/// The tensors of one multi-token-prediction layer as vLLM's drafter loads it
/// (`DeepSeekMultiTokenPredictorLayer`, `vllm/model_executor/models/deepseek_mtp.py`,
/// v0.28.0): `enorm` and `hnorm`, the `eh_proj` that joins the embedding and the hidden state
/// (a plain `nn.Linear`: `torch_dtype`, whole on every rank), the shared head's norm, and a
/// decoder layer like the model's last (`mtp_block`), numbered after it as the checkpoint
/// numbers it. The shared head's lm_head is the target model's, shared rather than loaded
/// (`llm_base_proposer.py` `_maybe_share_lm_head`).
///
/// NemotronH's MTP module (`NemotronHMultiTokenPredictor`, `nemotron_h_mtp.py`, vLLM 0.34.0)
/// is an attention and a MoE layer (Nemotron-3 Ultra's `mtp_layers_block_type`), which
/// [`layer_tensors`] past the pattern gives as one layer; its `eh_proj` is a
/// `ColumnParallelLinear` split by TP.
pub fn mtp_layer_tensors(model: &ModelProfile) -> Vec<Tensor> {
    let hidden = model.hidden_size;
    let eh_split = if model.hybrid_override_pattern.is_some() {
        Split::Column
    } else {
        Split::Replicated
    };
    let mut tensors = vec![
        Tensor::norm("enorm", hidden),
        Tensor::norm("hnorm", hidden),
        Tensor::norm("shared_head.norm", hidden),
        Tensor::linear("eh_proj", hidden, 2 * hidden, eh_split, false),
    ];
    tensors.extend(layer_tensors(model, model.num_hidden_layers));
    tensors
}

/// The vision tower's tensors, as one rank of `tp` holds them: its encoder layers and its
/// parallel projector linears split by TP where its heads divide by it (else whole: vLLM runs
/// the encoder data-parallel), the rest whole ([`crate::profile::VisionTower`]). Never
/// quantized. Counted on every pipeline stage: Kimi-K2.5's tower is built there
/// (`kimi_k25.py`, v0.28.0); vLLM 0.34.0 builds Qwen3.5's and Llama 4's on the first stage only
/// (`_mark_tower_model`, `vllm/model_executor/models/interfaces.py`), a change whose release
/// is unknown, so later stages keep the conservative count.
pub fn vision_tensors(model: &ModelProfile, tp: u64) -> Vec<Tensor> {
    let Some(v) = &model.vision_tower else {
        return Vec::new();
    };
    let (h, i) = (v.hidden_size, v.intermediate_size);
    let split = |s: Split| {
        if v.num_attention_heads.is_multiple_of(tp) {
            s
        } else {
            Split::Replicated
        }
    };
    let layer = [
        Tensor::linear("vision_tower.wqkv", 3 * h, h, split(Split::Column), false),
        Tensor::bias("vision_tower.wqkv.bias", 3 * h, split(Split::Column)),
        Tensor::linear("vision_tower.wo", h, h, split(Split::Row), false),
        Tensor::bias("vision_tower.wo.bias", h, Split::Replicated),
        Tensor::linear("vision_tower.mlp.fc0", i, h, split(Split::Column), false),
        Tensor::bias("vision_tower.mlp.fc0.bias", i, split(Split::Column)),
        Tensor::linear("vision_tower.mlp.fc1", h, i, split(Split::Row), false),
        Tensor::bias("vision_tower.mlp.fc1.bias", h, Split::Replicated),
        // Two LayerNorms, weight and bias each.
        Tensor::norm("vision_tower.norms", 4 * h),
    ];
    let mut tensors: Vec<Tensor> = layer
        .into_iter()
        .map(|mut t| {
            t.copies = v.num_hidden_layers;
            t
        })
        .collect();
    tensors.push(Tensor::norm(
        "vision_tower.embeddings_and_projector",
        v.replicated_parameters,
    ));
    for linear in &v.parallel_linears {
        let (rows, cols) = (linear.output_size, linear.input_size);
        tensors.push(match linear.parallel {
            VisionParallel::Column => Tensor::linear(
                "vision_tower.projector.column",
                rows,
                cols,
                split(Split::Column),
                false,
            ),
            VisionParallel::Row => Tensor::linear(
                "vision_tower.projector.row",
                rows,
                cols,
                split(Split::Row),
                false,
            ),
        });
        if linear.bias {
            tensors.push(match linear.parallel {
                VisionParallel::Column => Tensor::bias(
                    "vision_tower.projector.column.bias",
                    rows,
                    split(Split::Column),
                ),
                VisionParallel::Row => {
                    Tensor::bias("vision_tower.projector.row.bias", rows, Split::Replicated)
                }
            });
        }
    }
    tensors
}

/// The embedding, held by the first pipeline stage.
pub fn embedding(model: &ModelProfile) -> Tensor {
    Tensor::linear(
        "embed_tokens",
        model.vocab_size,
        model.hidden_size,
        Split::Vocab,
        false,
    )
}

/// The final norm and lm_head, held by the last pipeline stage.
pub fn head(model: &ModelProfile) -> [Tensor; 2] {
    [
        Tensor::norm("norm", model.hidden_size),
        Tensor::linear(
            "lm_head",
            model.vocab_size,
            model.hidden_size,
            Split::Vocab,
            false,
        ),
    ]
}

/// Bytes of the rotary embedding's cos/sin table on each GPU: vLLM computes it for every position
/// up to `max_position_embeddings`, `rotary_dim` values a position (the cos and the sin halves),
/// casts it to the model's dtype and registers it as a buffer of the model
/// (`RotaryEmbeddingBase.__init__` and `_compute_cos_sin_cache`,
/// `vllm/model_executor/layers/rotary_embedding/base.py`, vLLM 0.19.0, lines 59-63 and 86), so
/// "Model loading took" includes it. Layers with the same rotary parameters share one instance
/// (`get_rope`'s `_ROPE_DICT`, `rotary_embedding/__init__.py`, lines 26 and 77-78): one table a
/// GPU, whatever its layers.
///
/// Counted for Llama 4, whose table is large: its RoPE layers (the chunked-attention ones) call
/// `get_rope(head_dim, max_position=config.max_position_embeddings, ...)` with no partial rotary
/// factor (`Llama4Attention`, `vllm/model_executor/models/llama4.py`, vLLM 0.19.0, lines 247-256
/// and 333), and Llama 3 scaling keeps the table's length (`Llama3RotaryEmbedding`,
/// `llama3_rope.py`): Scout's 10,485,760 positions × 128 × 2 bytes are 2.5 GiB on every GPU, the
/// whole gap between lwsplan's weights and llm-d-planner's vLLM 0.19.0 log of Scout at TP 4
/// (53.12 GiB logged). Other architectures' tables are not counted: a profile does not record a
/// partial rotary factor (Qwen3.5, MiniMax-M2) or YaRN's longer table. For most built-in models
/// they are tens of MiB (Llama 3.1's 131,072 × 128 × 2 bytes = 32 MiB, the few hundredths of a
/// GiB by which lwsplan's weights sit under their logs); for the 1,048,576-position
/// DeepSeek-V4 and Kimi-K3 about 128 MiB if built at that length (× 64 rotary values × 2 bytes;
/// unverified).
pub fn rope_table_bytes(model: &ModelProfile) -> u64 {
    let rope_layers = model.layer_types.contains(&LayerType::ChunkedAttention);
    match model.attention {
        Attention::Gqa { head_dim, .. } if rope_layers => model
            .max_position_embeddings
            .saturating_mul(head_dim)
            .saturating_mul(model.torch_dtype.bytes()),
        _ => 0,
    }
}

/// Parameters vLLM loads by default (no MTP layers), counted as transformers counts them:
/// tied embeddings once.
pub fn parameters(model: &ModelProfile) -> u64 {
    saturate(parameters_wide(model))
}

/// [`parameters`] without saturation, to compare against [`MAX_PARAMETERS`].
pub fn parameters_wide(model: &ModelProfile) -> u128 {
    let layers: u128 = (0..model.num_hidden_layers)
        .flat_map(|layer| layer_shapes(model, layer))
        .map(|t| t.parameters())
        .sum();
    let [norm, lm_head] = head(model);
    let lm_head = if model.tie_word_embeddings {
        0
    } else {
        lm_head.parameters()
    };
    let vision: u128 = vision_tensors(model, 1)
        .iter()
        .map(Tensor::parameters)
        .sum();
    layers + embedding(model).parameters() + norm.parameters() + lm_head + vision
}

/// Bytes of the weights vLLM loads (no MTP layers), each tensor counted once: comparable with
/// the checkpoint's size on disk.
pub fn weight_bytes(model: &ModelProfile) -> u64 {
    let layers: u128 = (0..model.num_hidden_layers)
        .flat_map(|layer| layer_tensors(model, layer))
        .map(|t| t.bytes(model))
        .sum();
    let [norm, lm_head] = head(model);
    let lm_head = if model.tie_word_embeddings {
        0
    } else {
        lm_head.bytes(model)
    };
    let vision: u128 = vision_tensors(model, 1)
        .iter()
        .map(|t| t.bytes(model))
        .sum();
    saturate(layers + embedding(model).bytes(model) + norm.bytes(model) + lm_head + vision)
}

/// The bytes one rank holds at a given TP: its layers' shards, plus the embedding on the first
/// stage and the final norm and lm_head on the last (a tied lm_head is a second copy only when
/// it sits on another stage than the embedding). Summed once per TP, so that any stage's weights
/// are a subtraction: the planner sizes hundreds of stage splits per TP.
#[derive(Debug, Clone)]
pub struct RankWeights {
    /// `prefix[i]`: bytes of layers `0..i` on one rank.
    prefix: Vec<u128>,
    embedding: u128,
    norm: u128,
    lm_head: u128,
    tied: bool,
    /// The MTP layers the last stage loads for speculative decoding (0 without it).
    mtp: u128,
    /// The vision tower, which every stage holds.
    vision: u128,
    /// The rotary embedding's cos/sin table ([`rope_table_bytes`]), which every stage builds:
    /// not a checkpoint tensor, so no checkpoint scale applies to it.
    rope_table: u128,
    /// The drafter's own embedding, which it loads only when the last stage is not also the
    /// first (with one stage it shares the model's: `llm_base_proposer.py`
    /// `_maybe_share_embeddings`, v0.28.0).
    mtp_embedding: u128,
    /// Every stage builds the embedding (Qwen3-Next, Qwen3.5) or the lm_head (Qwen3-Next),
    /// not only the first or last.
    embedding_everywhere: bool,
    head_everywhere: bool,
}

/// How lwsplan's own weight count maps onto a checkpoint of known exact size (safetensors
/// index): each part keeps its share, scaled to the exact total. Computing the count sizes every
/// tensor of every layer, so the planner computes it once, not once per TP and DP it sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointScale {
    exact: u128,
    computed: u128,
}

impl CheckpointScale {
    /// The scale for `model`, `None` when its checkpoint size is not known.
    pub fn of(model: &ModelProfile) -> Option<CheckpointScale> {
        model.checkpoint_bytes.map(|exact| CheckpointScale {
            exact: u128::from(exact),
            computed: u128::from(weight_bytes(model).max(1)),
        })
    }

    /// `bytes` of lwsplan's count as bytes of the checkpoint.
    fn apply(self, bytes: u128) -> u128 {
        bytes * self.exact / self.computed
    }
}

impl RankWeights {
    /// Sums every layer's shard at this TP as vLLM lays it out (`alignment`), with the routed
    /// experts distributed whole over `ep_ranks` expert-parallel ranks when given (TP, or
    /// TP × DP under DP + EP), and `mtp_layers` multi-token-prediction layers on the last
    /// stage (speculative decoding; 0 without it).
    pub fn new(
        model: &ModelProfile,
        tp: u64,
        ep_ranks: Option<u64>,
        alignment: Mxfp4Alignment,
        mtp_layers: u64,
    ) -> Self {
        let scale = CheckpointScale::of(model);
        Self::scaled(model, tp, ep_ranks, alignment, mtp_layers, scale)
    }

    /// [`RankWeights::new`] with the model's [`CheckpointScale`] computed by the caller.
    pub fn scaled(
        model: &ModelProfile,
        tp: u64,
        ep_ranks: Option<u64>,
        alignment: Mxfp4Alignment,
        mtp_layers: u64,
        scale: Option<CheckpointScale>,
    ) -> Self {
        let mut prefix = Vec::with_capacity(model.num_hidden_layers as usize + 1);
        let mut total: u128 = 0;
        prefix.push(0);
        let mla_copy = mla_dequantized_copy(model, tp);
        // MLA keeps a dequantized copy of kv_b_proj beside each attention layer's weights; a
        // layer without attention has none.
        let rank_bytes = |tensors: Vec<Tensor>, linear: bool| {
            tensors
                .iter()
                .map(|t| match ep_ranks {
                    Some(ranks) => t
                        .with_expert_parallel(ranks)
                        .loaded_bytes_per_rank(model, tp, alignment),
                    None => t.loaded_bytes_per_rank(model, tp, alignment),
                })
                .sum::<u128>()
                + if linear { 0 } else { mla_copy }
        };
        let layer_bytes = |layer| {
            let mixer = model.layer_blocks(layer).mixer;
            rank_bytes(
                layer_tensors(model, layer),
                matches!(mixer, None | Some(LayerType::LinearAttention)),
            )
        };
        // Layers differ only in their blocks (`ModelProfile::layer_blocks`): each kind is sized
        // once, not once per layer.
        let mut sized: Vec<(crate::profile::LayerBlocks, u128)> = Vec::new();
        for layer in 0..model.num_hidden_layers {
            let blocks = model.layer_blocks(layer);
            let bytes = match sized.iter().find(|(b, _)| *b == blocks) {
                Some((_, bytes)) => *bytes,
                None => {
                    let bytes = layer_bytes(layer);
                    sized.push((blocks, bytes));
                    bytes
                }
            };
            total += bytes;
            prefix.push(total);
        }
        let [norm, lm_head] = head(model);
        let mut weights = RankWeights {
            prefix,
            embedding: embedding(model).bytes_per_rank(model, tp),
            norm: norm.bytes_per_rank(model, tp),
            lm_head: lm_head.bytes_per_rank(model, tp),
            tied: model.tie_word_embeddings,
            mtp: if mtp_layers > 0 {
                u128::from(mtp_layers) * rank_bytes(mtp_layer_tensors(model), false)
            } else {
                0
            },
            vision: vision_tensors(model, tp)
                .iter()
                .map(|t| t.bytes_per_rank(model, tp))
                .sum(),
            rope_table: u128::from(rope_table_bytes(model)),
            // NemotronH's drafter declares no embedding of its own (`has_own_embed_tokens =
            // False`, `nemotron_h_mtp.py`, vLLM 0.34.0, lines 333-334): it uses the target's.
            mtp_embedding: if mtp_layers > 0 && model.hybrid_override_pattern.is_none() {
                embedding(model).bytes_per_rank(model, tp)
            } else {
                0
            },
            // `embed_tokens` is built on every PP rank in Qwen3-Next and Qwen3.5 (not gated by
            // `is_first_rank`: `qwen3_next.py` line 685, `qwen3_5.py` line 249), and Qwen3-Next
            // builds its lm_head on every rank too (line 876; vLLM 0.34.0). NemotronH builds
            // `embed_tokens`, `norm_f` and `lm_head` unconditionally (`NemotronHModel.__init__`,
            // `NemotronHForCausalLM.__init__`, `nemotron_h.py`, vLLM 0.34.0, lines 584, 620,
            // 842).
            embedding_everywhere: model.architecture.starts_with("Qwen3Next")
                || model.architecture.starts_with("Qwen3_5")
                || model.architecture.starts_with("NemotronH"),
            head_everywhere: model.architecture.starts_with("Qwen3Next")
                || model.architecture.starts_with("NemotronH"),
        };
        if let Some(checkpoint) = scale {
            let scale = |b: u128| checkpoint.apply(b);
            weights.prefix.iter_mut().for_each(|p| *p = scale(*p));
            weights.embedding = scale(weights.embedding);
            weights.norm = scale(weights.norm);
            weights.lm_head = scale(weights.lm_head);
            weights.mtp = scale(weights.mtp);
            weights.vision = scale(weights.vision);
            weights.mtp_embedding = scale(weights.mtp_embedding);
        }
        weights
    }

    /// Bytes of a stage holding `layers`, first and/or last.
    pub fn stage(&self, layers: std::ops::Range<u64>, first: bool, last: bool) -> u64 {
        let mut bytes = self.prefix[layers.end as usize] - self.prefix[layers.start as usize]
            + self.vision
            + self.rope_table;
        let embedding = first || self.embedding_everywhere;
        if embedding {
            bytes += self.embedding;
        }
        if last {
            bytes += self.norm + self.mtp;
            if !first {
                bytes += self.mtp_embedding;
            }
        }
        if (last || self.head_everywhere) && !(self.tied && embedding) {
            bytes += self.lm_head;
        }
        saturate(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Catalog;

    fn model(id: &str) -> ModelProfile {
        Catalog::builtin().model(id).unwrap().clone()
    }

    /// Parameter counts of transformers' implementation, computed by hand from config.json:
    /// Llama: L × (2·h·(heads+kv)·d + 3·h·i + 2·h) + 2·v·h + h (untied).
    /// DeepSeek-V3: attention 187,107,328 per layer with norms 14,336; dense MLP 396,361,728
    /// (3 layers); MoE 11,320,164,352 (58 layers: 256 experts + 1 shared + gate); embedding
    /// and lm_head 926,679,040 each; final norm 7,168.
    #[test]
    fn parameters_match_transformers() {
        let cases = [
            ("llama-3.1-8b-instruct", 8_030_261_248_u64),
            ("llama-3.1-70b-instruct", 70_553_706_496),
            ("llama-3.1-405b-instruct", 405_853_388_800),
            ("llama-3.1-405b-instruct-fp8", 405_853_388_800),
            ("llama-3.3-70b-instruct", 70_553_706_496),
            // Qwen3-MoE: 94 × (norms 8,192 + q/k norms 256 + q 33,554,432 + k,v 4,194,304 +
            // o 33,554,432 + 128 experts 2,415,919,104 + router 524,288) + 2 × 622,329,856 + 4,096;
            // the model card's "235B in total".
            ("qwen3-235b-a22b", 235_093_634_560),
            ("qwen3-235b-a22b-fp8", 235_093_634_560),
            // gpt-oss: 36 × (norms 5,760 + q 11,796,480 + k, v 1,474,560 each + o 11,796,480 +
            // q/k/v/o biases 8,000 + sinks 64 + router 368,768 + 128 experts 3,185,049,600 +
            // expert biases 1,105,920) + 2 × 579,133,440 + 2,880; the card's "117B".
            ("gpt-oss-120b", 116_829_156_672),
            (
                "deepseek-r1",
                61 * (187_107_328 + 14_336)
                    + 3 * 396_361_728
                    + 58 * 11_320_164_352
                    + 2 * 926_679_040
                    + 7_168,
            ),
        ];
        for (id, want) in cases {
            assert_eq!(parameters(&model(id)), want, "{id}");
        }
        // Nemotron-3 Ultra, a block and a norm (8,192) a layer (`nemotron_h.py`, v0.34.0):
        // Mamba-2 421,645,056 = in_proj (2 × 16,384 + 2 × 8 × 128 + 256) × 8,192 + conv1d
        // 18,432 × 4 and its bias 18,432 + A, D, dt_bias 3 × 256 + norm 16,384 + out_proj
        // 8,192 × 16,384 + 8,192 (48 layers); attention 138,420,224 = q and o 2 × 8,192² + k, v
        // 2 × 256 × 8,192 + 8,192 (12); latent MoE 10,942,947,328 = router 512 × 8,192 +
        // latent projections 2 × 2,048 × 8,192 + 512 non-gated experts × 2 × 5,120 × 2,048 +
        // shared expert 2 × 10,240 × 8,192 + 8,192 (48); embedding and lm_head 131,072 × 8,192
        // each; final norm 8,192. 549.3 B: the "550B" of its name.
        // Its MTP module: an attention and a MoE layer (one norm counted for the two), enorm,
        // hnorm and the final norm, and eh_proj [8,192, 16,384].
        let mtp: u128 = mtp_layer_tensors(&model("nemotron-3-ultra"))
            .iter()
            .map(Tensor::parameters)
            .sum();
        assert_eq!(
            mtp,
            138_420_224u128 + 10_942_947_328 - 8_192 + 3 * 8_192 + 2 * 8_192 * 8_192
        );
        assert_eq!(
            parameters(&model("nemotron-3-ultra")),
            48 * 421_645_056 + 12 * 138_420_224 + 48 * 10_942_947_328 + 2 * 131_072 * 8_192 + 8_192
        );
        // DeepSeek-R1 and V3 without their MTP layer are 671.0 B (the "671B" of their names).
        for id in ["deepseek-r1", "deepseek-v3"] {
            let p = parameters(&model(id));
            assert!((671_000_000_000..671_100_000_000).contains(&p), "{id}: {p}");
        }
    }

    /// Checkpoint sizes, MTP excluded: BF16 Llama is 2 bytes per parameter; DeepSeek-R1's
    /// safetensors total ≈ 688.6 GB with its 11.5 GB MTP layer ⇒ ≈ 673 GB for the main model
    /// (computed from https://huggingface.co/deepseek-ai/DeepSeek-R1/blob/main/config.json; the
    /// 163-shard checkpoint's load in HabanaAI/vllm-fork#809 logged 79.41 GiB per device at TP 8).
    #[test]
    fn weight_bytes_match_checkpoints() {
        assert_eq!(
            weight_bytes(&model("llama-3.1-405b-instruct")),
            2 * 405_853_388_800
        );
        // Neural Magic's FP8 405B: "~410 GB" (model card; unverified): 401.6 B FP8 weights,
        // 4.2 B BF16 embedding and lm_head, fp32 per-row scales.
        let fp8 = weight_bytes(&model("llama-3.1-405b-instruct-fp8")) as f64;
        assert!((fp8 - 410e9).abs() / 410e9 < 0.03, "405B FP8 weights {fp8}");
        // gpt-oss-120b: "about 65 GB" with MXFP4 experts (4.25 bits a weight) and BF16 rest
        // (model card; approximate).
        let oss = weight_bytes(&model("gpt-oss-120b")) as f64;
        assert!((oss - 65e9).abs() / 65e9 < 0.03, "gpt-oss weights {oss}");
        let r1 = weight_bytes(&model("deepseek-r1")) as f64;
        let published = 673.2e9;
        assert!(
            (r1 - published).abs() / published < 0.03,
            "DeepSeek-R1 weights {r1} vs {published}"
        );
    }

    /// DeepSeek-V4 by hand from config.json (https://huggingface.co/deepseek-ai/DeepSeek-V4-Flash
    /// and -Pro, `blob/main/config.json`) and vLLM 0.34.0's modules (see
    /// `compressed_sparse_tensors`): Flash's attention is 106,956,352 parameters a layer (wq_a
    /// 4,194,304, wkv 2,097,152, norms 1,536, wq_b, wo_a and wo_b 33,554,432 each, 64 sinks),
    /// plus its compressor on a ratio-128 layer (4,260,352: wkv_wgate 4,194,304, ape 65,536,
    /// norm 512) or on a ratio-4 layer (8,393,216) with the indexer (10,749,056).
    ///
    /// | model | lwsplan | published | source |
    /// |---|---|---|---|
    /// | V4-Flash, main model | 284.33 B | 284B (+0.12 %) | https://github.com/vllm-project/recipes/blob/main/models/deepseek-ai/DeepSeek-V4-Flash.yaml ("284B / 13B"), https://huggingface.co/deepseek-ai/DeepSeek-V4-Flash |
    /// | V4-Pro, main + MTP layer | 1,598.8 B | 1.6T (−0.07 %) | https://github.com/vllm-project/recipes/blob/main/models/deepseek-ai/DeepSeek-V4-Pro.yaml ("1600B / 49B"), https://huggingface.co/deepseek-ai/DeepSeek-V4-Pro |
    /// | V4-Flash checkpoint bytes with its MTP layer | 148.7 GiB | 159,609,485,896 B = 148.65 GiB of tensors (−0.3 %…+0.3 %) | a safetensors inventory of the repository at 6976c7ff1b30a1b2cb7805021b8ba4684041f136 (46 shards, "148.66 GiB"; the recipe's MI325X run "loaded the 148.66 GiB checkpoint", https://github.com/vllm-project/recipes/blob/main/models/deepseek-ai/DeepSeek-V4-Flash.yaml) |
    ///
    /// Pro's main model alone, 1,573.0 B, is 1.7 % under "1.6T", a figure rounded to two
    /// digits; its checkpoint with the 25.8 B MTP layer is within 0.1 %. Flash's 284B is its
    /// main model (with the 6.6 B MTP layer, 290.9 B).
    #[test]
    fn deepseek_v4_parameters_match_published() {
        let flash = model("deepseek-v4-flash");
        let pro = model("deepseek-v4-pro");
        let hand = |m: &ModelProfile, attention: &dyn Fn(u64) -> u128| -> u128 {
            let (h, v) = (u128::from(m.hidden_size), u128::from(m.vocab_size));
            let Mlp::Moe {
                moe_intermediate_size: i,
                n_routed_experts: e,
                num_experts_per_tok: k,
                num_hash_layers,
                ..
            } = m.mlp
            else {
                unreachable!()
            };
            let (i, e) = (u128::from(i), u128::from(e));
            // Experts, the shared expert, the router; hyper-connections (hc 4: 2 × 24 ×
            // 4·h, bases and scales 54); two norms.
            let per_layer = e * 3 * h * i + 3 * h * i + e * h + 2 * 24 * 4 * h + 54 + 2 * h;
            let layers: u128 = (0..m.num_hidden_layers)
                .map(|l| {
                    let hash = if l < num_hash_layers {
                        v * u128::from(k)
                    } else {
                        0
                    };
                    per_layer + attention(m.attention.compress_ratio(l)) + hash
                })
                .sum();
            layers + 2 * v * h + h
        };
        let flash_attention = |r: u64| match r {
            4 => 106_956_352 + 8_393_216 + 10_749_056,
            128 => 106_956_352 + 4_260_352,
            _ => 106_956_352,
        };
        assert_eq!(
            u128::from(parameters(&flash)),
            hand(&flash, &flash_attention)
        );
        assert_eq!(parameters(&flash), 284_334_491_730);
        let mtp = |m: &ModelProfile| -> u64 {
            mtp_layer_tensors(m)
                .iter()
                .map(|t| t.parameters())
                .sum::<u128>() as u64
        };
        for (m, published, got) in [
            (&flash, 284e9, parameters(&flash)),
            (&pro, 1.6e12, parameters(&pro) + mtp(&pro)),
        ] {
            let off = (got as f64 - published).abs() / published;
            assert!(off < 0.015, "{}: {got} vs {published} ({off})", m.id);
        }
        let mtp_bytes: u128 = mtp_layer_tensors(&flash)
            .iter()
            .map(|t| t.bytes(&flash))
            .sum();
        let checkpoint = (u128::from(weight_bytes(&flash)) + mtp_bytes) as f64;
        let published = 159_609_485_896.0;
        assert!(
            (checkpoint - published).abs() / published < 0.015,
            "V4-Flash checkpoint {checkpoint} vs {published}"
        );
    }

    #[test]
    fn kv_heads_are_replicated_past_their_count() {
        let t = Tensor::linear(
            "k",
            8 * 128,
            16384,
            Split::KvHeads {
                kv_heads: 8,
                head_dim: 128,
            },
            false,
        );
        assert_eq!(t.shard(1), (1024, 16384));
        assert_eq!(t.shard(4), (256, 16384));
        assert_eq!(t.shard(8), (128, 16384));
        assert_eq!(t.shard(16), (128, 16384), "one head per rank, replicated");
    }

    #[test]
    fn block_fp8_scales_are_one_float_per_block() {
        let r1 = model("deepseek-r1");
        // kv_a_proj_with_mqa: 576 × 7168 FP8 + ceil(576/128)·ceil(7168/128) = 5 × 56 scales.
        let t = Tensor::linear("kv_a", 576, 7168, Split::Replicated, true);
        assert_eq!(t.bytes(&r1), 576 * 7168 + 5 * 56 * 4);
        assert_eq!(t.bytes_per_rank(&r1, 8), t.bytes(&r1), "replicated");
    }

    /// AWQ with group 128: a 4096 × 4096 projection is 8 MiB of packed weights, 32 groups per
    /// row of fp16 scales (256 KiB) and 4-bit zeros (64 KiB).
    #[test]
    fn int4_weights_carry_group_scales_and_zeros() {
        let mut m = model("llama-3.1-8b-instruct");
        m.quantization = Some(Quantization::Awq { group_size: 128 });
        let t = Tensor::linear("o", 4096, 4096, Split::Row, true);
        assert_eq!(t.bytes(&m), 4096 * 4096 / 2 + 4096 * 32 * 2 + 4096 * 32 / 2);
        m.quantization = Some(Quantization::Gptq {
            group_size: 128,
            desc_act: true,
        });
        assert_eq!(
            t.bytes(&m),
            4096 * 4096 / 2 + 4096 * 32 * 2 + 4096 * 32 / 2 + 4096 * 4
        );
    }

    /// MXFP4 applies to experts only: 4 bits a weight plus one byte per 32.
    #[test]
    fn mxfp4_covers_experts_only() {
        let m = model("gpt-oss-120b");
        let expert = Tensor::linear("e", 2880, 2880, Split::Column, true).experts(1);
        assert_eq!(expert.bytes(&m), 2880 * 2880 / 2 + 2880 * 90);
        let attention = Tensor::linear("q", 4096, 2880, Split::Column, true);
        assert_eq!(attention.bytes(&m), 4096 * 2880 * 2, "BF16");
    }

    /// Bytes per parameter of each quantized format, on one 2048 × 7168 projection (a
    /// DeepSeek/Kimi expert's gate) in a BF16 model, scales included. Expected values:
    /// - block FP8 128×128: 1 byte + an fp32 per 16,384 weights = 1.000244 (vLLM `fp8.py`
    ///   `create_weights`, `weight_scale_inv` per block);
    /// - compressed-tensors INT4, group 32, symmetric, BF16 scales: 0.5 + 2/32 = 0.5625
    ///   (`compressed_tensors_moe_wna16.py`: int32 `weight_packed`, `weight_scale` in
    ///   `params_dtype`); asymmetric adds a 4-bit zero per group: + 0.5/32 = 0.578125; FP32
    ///   scales: 0.5 + 4/32 = 0.625;
    /// - NVFP4, group 16: 0.5 + 1/16 = 0.5625, plus 8 bytes of FP32 per-tensor scales
    ///   (`modelopt.py` `ModelOptNvFp4LinearMethod`: uint8 weight, FP8 `weight_scale`,
    ///   `weight_scale_2` and `input_scale`);
    /// - MXFP4 (experts): 0.5 + 1/32 = 0.53125 (`mxfp4.py`: uint8 blocks, e8m0 scale per 32);
    /// - AWQ group 128: 0.5 + 2/128 + 0.5/128 = 0.51953125 (`awq.py`: qweight, fp16 scales,
    ///   4-bit qzeros).
    #[test]
    fn bytes_per_parameter_of_each_format() {
        let weights = 2048.0 * 7168.0;
        let table: [(Quantization, f64, u128); 8] = [
            (
                Quantization::Fp8 {
                    weight_block_size: Some([128, 128]),
                    modules_to_not_convert: Vec::new(),
                    fp8_kv_cache: false,
                    moe_quant_algo: None,
                },
                1.000_244_140_625,
                0,
            ),
            (
                Quantization::CompressedTensors {
                    num_bits: 4,
                    group_size: 32,
                    symmetric: true,
                    scale_dtype: None,
                    ignore: Vec::new(),
                },
                0.5625,
                0,
            ),
            (
                Quantization::CompressedTensors {
                    num_bits: 4,
                    group_size: 32,
                    symmetric: false,
                    scale_dtype: None,
                    ignore: Vec::new(),
                },
                0.578_125,
                0,
            ),
            (
                Quantization::CompressedTensors {
                    num_bits: 4,
                    group_size: 32,
                    symmetric: true,
                    scale_dtype: Some(crate::profile::Dtype::Float32),
                    ignore: Vec::new(),
                },
                0.625,
                0,
            ),
            (
                Quantization::ModeloptFp4 {
                    group_size: 16,
                    exclude_modules: Vec::new(),
                    fp8_kv_cache: true,
                },
                0.5625,
                8,
            ),
            (Quantization::Mxfp4, 0.53125, 0),
            (Quantization::Awq { group_size: 128 }, 0.519_531_25, 0),
            (
                Quantization::Gptq {
                    group_size: 128,
                    desc_act: false,
                },
                0.519_531_25,
                0,
            ),
        ];
        let mut m = model("deepseek-r1");
        let expert =
            Tensor::linear("mlp.experts.gate_proj", 2048, 7168, Split::Column, true).experts(1);
        for (q, per_parameter, per_tensor) in table {
            m.quantization = Some(q.clone());
            let bytes = expert.bytes(&m);
            assert_eq!(
                bytes,
                (weights * per_parameter) as u128 + per_tensor,
                "{q:?}"
            );
        }
    }

    /// compressed-tensors' `ignore` and ModelOpt's `exclude_modules` keep what they name in
    /// BF16: Kimi-K2.5's list (attention, shared experts, the dense MLP) leaves only the routed
    /// experts in INT4.
    #[test]
    fn ignored_modules_stay_in_bf16() {
        let mut m = model("deepseek-r1");
        m.quantization = Some(Quantization::CompressedTensors {
            num_bits: 4,
            group_size: 32,
            symmetric: true,
            scale_dtype: None,
            ignore: vec![
                "*self_attn*".into(),
                "*shared_experts*".into(),
                "*mlp.gate_proj*".into(),
                "*mlp.up_proj*".into(),
                "*mlp.down_proj*".into(),
            ],
        });
        for layer in [0, 3] {
            for t in layer_tensors(&m, layer) {
                assert_eq!(
                    t.quantized, t.expert,
                    "layer {layer}: {} quantized: {}",
                    t.name, t.quantized
                );
            }
        }
        // ModelOpt's GLM-5.1 list excludes whole first layers by wildcard.
        m.quantization = Some(Quantization::ModeloptFp4 {
            group_size: 16,
            exclude_modules: vec!["model.layers.0*".into(), "model.layers.3.self_attn*".into()],
            fp8_kv_cache: false,
        });
        assert!(layer_tensors(&m, 0).iter().all(|t| !t.quantized));
        let layer3 = layer_tensors(&m, 3);
        assert!(
            layer3
                .iter()
                .filter(|t| t.name.starts_with("self_attn"))
                .all(|t| !t.quantized)
        );
        assert!(layer3.iter().filter(|t| t.expert).all(|t| t.quantized));
    }

    /// Under MTP speculative decoding the last stage holds the MTP layer: a decoder layer like
    /// the last, `eh_proj` (2H × H, BF16, whole) and three norms; its own embedding only when
    /// it is not also the first stage (with one stage the drafter shares the model's).
    #[test]
    fn mtp_layers_sit_on_the_last_stage() {
        let m = model("deepseek-r1");
        let alignment = Mxfp4Alignment::for_sm(90);
        let plain = RankWeights::new(&m, 8, None, alignment, 0);
        let mtp = RankWeights::new(&m, 8, None, alignment, 1);
        let layer = u128::from(plain.stage(60..61, false, false));
        let extra = 7168 * 2 * 7168 * 2 + 3 * 7168 * 2;
        let one_stage =
            u128::from(mtp.stage(0..61, true, true)) - u128::from(plain.stage(0..61, true, true));
        assert_eq!(one_stage, layer + extra);
        let last = u128::from(mtp.stage(31..61, false, true))
            - u128::from(plain.stage(31..61, false, true));
        assert_eq!(last, layer + extra + embedding(&m).bytes_per_rank(&m, 8));
        assert_eq!(
            mtp.stage(0..31, true, false),
            plain.stage(0..31, true, false),
            "not on the first stage"
        );
    }

    /// Kimi-K2.5's MoonViT tower (its config.json `vision_config`; vLLM `kimi_k25_vit.py`):
    /// 27 layers of 15,239,504 parameters (wqkv 3h² + 3h, wo h² + h, fc0 ih + i, fc1 hi + h,
    /// two LayerNorms 4h; h 1152, i 4304) and 59,677,312 outside them: 471,143,920, 0.88 GiB
    /// in BF16. Every stage holds it; TP splits its layers while the 16 heads divide by TP
    /// (TP 8: 1/8 of the layers), and past that vLLM runs the encoder whole on every rank.
    #[test]
    fn the_vision_tower_sits_on_every_stage() {
        let m = model("kimi-k2.5");
        let vision: u128 = vision_tensors(&m, 1).iter().map(Tensor::parameters).sum();
        assert_eq!(vision, 27 * 15_239_504 + 59_677_312);
        assert_eq!(vision, 471_143_920);
        let bytes = |tp: u64| -> u128 {
            vision_tensors(&m, tp)
                .iter()
                .map(|t| t.bytes_per_rank(&m, tp))
                .sum()
        };
        assert_eq!(bytes(1), 2 * 471_143_920);
        // TP 8: the layers' matrices and column biases split eight ways; row biases, norms
        // and everything outside the layers whole.
        let whole_per_layer: u128 = 2 * (1152 + 1152 + 4 * 1152);
        let split_per_layer: u128 = 2 * (15_239_504 - (1152 + 1152 + 4 * 1152)) / 8;
        assert_eq!(
            bytes(8),
            27 * (whole_per_layer + split_per_layer) + 2 * 59_677_312
        );
        assert_eq!(bytes(32), bytes(1), "16 heads do not divide by 32: whole");
        let alignment = Mxfp4Alignment::for_sm(90);
        let weights = RankWeights::new(&m, 8, None, alignment, 0);
        let plain = {
            let mut text = m.clone();
            text.vision_tower = None;
            RankWeights::new(&text, 8, None, alignment, 0)
        };
        for (range, first, last) in [
            (0..20, true, false),
            (20..40, false, false),
            (40..61, false, true),
        ] {
            assert_eq!(
                u128::from(weights.stage(range.clone(), first, last))
                    - u128::from(plain.stage(range, first, last)),
                bytes(8)
            );
        }
    }

    /// Kimi-K2.5's checkpoint: routed experts INT4 at 0.5625 bytes a weight, everything else
    /// BF16 — 595 GB, as vLLM's recipe gives it ("~595 GB on disk",
    /// vllm-project/recipes models/moonshotai/Kimi-K2.5.yaml @ 007c8912); and 1026.9 B
    /// parameters, the model card's "1T" (text 1026.4 B, tower 0.47 B).
    #[test]
    fn kimi_k25_matches_its_published_size() {
        let m = model("kimi-k2.5");
        let bytes = weight_bytes(&m) as f64;
        assert!((bytes - 595e9).abs() / 595e9 < 0.01, "{bytes}");
        let experts: u64 = 60 * 384 * 3 * 2048 * 7168;
        let rest = parameters(&m) - experts;
        assert_eq!(weight_bytes(&m), experts / 16 * 9 + 2 * rest);
        // By hand, as transformers counts DeepSeek-V3 modules: attention and norms
        // 101,138,432 a layer (q_a 11,010,048, q_b 18,874,368, kv_a 4,128,768, kv_b 8,388,608,
        // o 58,720,256, norms 15,872 with q_a/kv_a's); one dense MLP 396,361,728; 60 MoE
        // layers of 16,958,226,432 (384 experts, the shared one, the router); embedding and
        // lm_head 1,174,405,120 each; final norm 7,168; the tower.
        assert_eq!(
            parameters(&m),
            61 * 101_138_432
                + 396_361_728
                + 60 * 16_958_226_432
                + 2 * 1_174_405_120
                + 7_168
                + 471_143_920
        );
    }

    #[test]
    fn vocab_is_padded_to_64_then_split() {
        let t = Tensor::linear("lm_head", 100, 10, Split::Vocab, false);
        assert_eq!(t.shard(1), (128, 10));
        assert_eq!(t.shard(2), (64, 10));
    }

    #[test]
    fn prefix_sums_match_summing_each_layer() {
        let m = model("deepseek-r1");
        for tp in [1, 8, 16] {
            let weights = RankWeights::new(&m, tp, None, Mxfp4Alignment::for_sm(90), 0);
            // R1 is FP8: each layer also holds the dequantized kv_b_proj, 128 heads × (128 +
            // 128) × 512 × 2 bytes over TP.
            let copy = (128u128).div_ceil(u128::from(tp)) * 256 * 512 * 2;
            let direct: u128 = (10..40)
                .flat_map(|l| layer_tensors(&m, l))
                .map(|t| t.bytes_per_rank(&m, tp))
                .sum::<u128>()
                + 30 * copy;
            assert_eq!(
                u128::from(weights.stage(10..40, false, false)),
                direct,
                "tp {tp}"
            );
        }
    }

    /// With expert parallelism each of 8 ranks holds 32 of DeepSeek-R1's 256 experts whole,
    /// the same bytes as an eighth of every expert: EP moves no memory for an even split.
    #[test]
    fn expert_parallel_distributes_whole_experts() {
        let m = model("deepseek-r1");
        let expert = layer_tensors(&m, 3).into_iter().find(|t| t.expert).unwrap();
        let ep = expert.with_expert_parallel(8);
        assert_eq!((ep.copies, ep.rows, ep.cols), (32, 2048, 7168));
        let tp = expert.bytes_per_rank(&m, 8);
        let whole = ep.bytes_per_rank(&m, 8);
        // Same weights; scales differ only by block rounding (256 rows per TP slice is 2 blocks).
        assert!(tp.abs_diff(whole) * 1000 < tp, "{tp} vs {whole}");
        // 256 experts over 3 ranks: the fullest holds 86.
        assert_eq!(expert.with_expert_parallel(3).copies, 86);
        assert_eq!(layer_tensors(&m, 3).iter().filter(|t| t.expert).count(), 3);
    }

    /// A known checkpoint size scales every rank's share: 2 % more bytes in all, 2 % more on
    /// each stage.
    #[test]
    fn checkpoint_bytes_scale_each_share() {
        let mut m = model("llama-3.1-8b-instruct");
        let computed =
            RankWeights::new(&m, 2, None, Mxfp4Alignment::for_sm(90), 0).stage(0..16, true, false);
        m.checkpoint_bytes = Some(weight_bytes(&m) / 100 * 102);
        let exact =
            RankWeights::new(&m, 2, None, Mxfp4Alignment::for_sm(90), 0).stage(0..16, true, false);
        assert!(
            (exact as f64 / computed as f64 - 1.02).abs() < 1e-6,
            "{computed} -> {exact}"
        );
    }

    /// The first and last stages carry the embedding and lm_head; a middle stage neither.
    #[test]
    fn stage_bytes_place_embedding_first_and_head_last() {
        let m = model("llama-3.1-8b-instruct");
        let layer = saturate(layer_tensors(&m, 0).iter().map(|t| t.bytes(&m)).sum());
        let vocab_bytes = 128_256 * 4096 * 2;
        assert_eq!(
            RankWeights::new(&m, 1, None, Mxfp4Alignment::for_sm(90), 0).stage(0..1, false, false),
            layer
        );
        assert_eq!(
            RankWeights::new(&m, 1, None, Mxfp4Alignment::for_sm(90), 0).stage(0..1, true, false),
            layer + vocab_bytes
        );
        assert_eq!(
            RankWeights::new(&m, 1, None, Mxfp4Alignment::for_sm(90), 0).stage(0..1, false, true),
            layer + vocab_bytes + 4096 * 2
        );
    }

    /// A Kimi Delta Attention layer tensor by tensor (`KimiDeltaAttention.__init__`,
    /// `vllm/model_executor/layers/kda.py` @ 01a7e5d91d42e6232d746d12f898a590f1ee77f9), for
    /// Kimi-Linear (H 2,304, 32 heads × 128 = p 4,096, K 4) and Kimi-K3 (H 7,168, 96 heads × 128
    /// = p 12,288, a full-rank output gate): q, k, v, `f_b`, `g_b`, `b`, the convolutions,
    /// `dt_bias` and `A_log` split by TP; `f_a`, `g_a` and `o_norm` whole; `o_proj` by rows.
    /// Kimi-Linear: 3 × 4,096 × 2,304 + 2 × 128 × 2,304 + 2 × 4,096 × 128 + 32 × 2,304 + 3 ×
    /// 4,096 × 4 + 4,096 + 32 + 128 + 2,304 × 4,096 = 39,514,272 parameters; Kimi-K3: 4 ×
    /// 12,288 × 7,168 + 128 × 7,168 + 12,288 × 128 + 96 × 7,168 + 3 × 12,288 × 4 + 12,288 +
    /// 96 + 128 + 7,168 × 12,288 = 443,740,384 (443.7 M also from vLLM 0.28.0's fused
    /// `in_proj_qkvgfab`, `models/kimi_k3/nvidia/kda.py`).
    /// Kimi-K3's MoonViT3d tower as the built-in profile folds it into MoonViT's shape: 27
    /// layers of q, k, v `1536 × 1024` each, output `1024 × 1536`, MLP `4096 × 1024` twice and
    /// two RMS norms (14,682,112 each) and, whole on every rank, the patch embedding
    /// (602,112), position embedding (4,194,304), final norm (1,024) and `patchmergerv2`
    /// projector (46,144,512): 447,358,976 parameters, all of them on every GPU at TP 8 (12
    /// heads do not divide by 8), 0.83 GiB in BF16.
    #[test]
    fn kimi_k3_vision_tower_counts_moonvit3d() {
        let k3 = crate::Catalog::builtin().model("kimi-k3").unwrap();
        let total: u128 = vision_tensors(k3, 1).iter().map(Tensor::parameters).sum();
        assert_eq!(
            total,
            27 * 14_682_112 + 602_112 + 4_194_304 + 1024 + 46_144_512
        );
        assert_eq!(total, 447_358_976);
        let per_gpu: u128 = vision_tensors(k3, 8)
            .iter()
            .map(|t| t.bytes_per_rank(k3, 8))
            .sum();
        assert_eq!(per_gpu, 2 * 447_358_976);
    }

    #[test]
    fn llama4_gpus_hold_one_rope_table_beside_their_weights() {
        let read = crate::profile::hf_fixture;
        // (model, table bytes): max_position_embeddings × head_dim × 2 bytes (BF16), from each
        // config.json's text_config; built-in models whose table is not counted hold none.
        let rows: [(ModelProfile, u64); 3] = [
            // Scout: 10,485,760 positions × 128 = 2.5 GiB, the gap llm-d-planner's vLLM 0.19.0
            // log of it at TP 4 shows ("Model loading took 53.12 GiB").
            (read("Llama-4-Scout-17B-16E-Instruct"), 10_485_760 * 128 * 2),
            // Maverick: 1,048,576 positions.
            (
                read("Llama-4-Maverick-17B-128E-Instruct"),
                1_048_576 * 128 * 2,
            ),
            (model("llama-3.1-8b-instruct"), 0),
        ];
        let alignment = Mxfp4Alignment::for_sm(90);
        for (m, table) in rows {
            assert_eq!(rope_table_bytes(&m), table, "{}", m.id);
            let weights = RankWeights::new(&m, 4, None, alignment, 0);
            let layers = m.num_hidden_layers;
            // Every stage builds the table once, whatever its layers and TP.
            for (range, first, last) in [(0..layers, true, true), (1..2, false, false)] {
                let tensors: u128 = (range.start..range.end)
                    .flat_map(|l| layer_tensors(&m, l))
                    .map(|t| t.loaded_bytes_per_rank(&m, 4, alignment))
                    .sum();
                let vision: u128 = vision_tensors(&m, 4)
                    .iter()
                    .map(|t| t.bytes_per_rank(&m, 4))
                    .sum();
                let [norm, lm_head] = head(&m);
                let ends = if first {
                    embedding(&m).bytes_per_rank(&m, 4)
                        + norm.bytes_per_rank(&m, 4)
                        + lm_head.bytes_per_rank(&m, 4)
                } else {
                    0
                };
                assert_eq!(
                    u128::from(weights.stage(range, first, last)),
                    tensors + vision + ends + u128::from(table),
                    "{}",
                    m.id
                );
            }
        }
    }

    #[test]
    fn kda_layers_hold_their_projections_gates_and_convolutions() {
        let read = crate::profile::hf_fixture;
        let kda_params = |m: &ModelProfile| -> u128 {
            layer_tensors(m, 0)
                .iter()
                .filter(|t| t.name.starts_with("self_attn."))
                .map(Tensor::parameters)
                .sum()
        };
        let linear = read("Kimi-Linear-48B-A3B-Instruct");
        assert_eq!(kda_params(&linear), 39_514_272);
        let k3 = read("Kimi-K3");
        assert_eq!(kda_params(&k3), 443_740_384);
        // At TP 2, Kimi-Linear's rank holds half of everything split and the whole of f_a,
        // g_a (2 × 128 × 2,304) and o_norm (128), in BF16.
        let whole = 2 * 128 * 2304 + 128;
        let per_rank: u128 = layer_tensors(&linear, 0)
            .iter()
            .filter(|t| t.name.starts_with("self_attn."))
            .map(|t| t.bytes_per_rank(&linear, 2))
            .sum();
        assert_eq!(per_rank, 2 * (whole + (39_514_272 - whole) / 2));
        // Kimi-K3's latent MoE: 896 experts of 3 × 3,584 × 3,072, MXFP4 (half a byte a weight
        // and a byte of scale per 32 inputs), and the replicated BF16 latent projections.
        let moe: Vec<Tensor> = layer_tensors(&k3, 1)
            .into_iter()
            .filter(|t| t.name.starts_with("mlp."))
            .collect();
        let experts: u128 = moe
            .iter()
            .filter(|t| t.expert)
            .map(Tensor::parameters)
            .sum();
        assert_eq!(experts, 896 * 3 * 3584 * 3072);
        let latent: Vec<(&str, Split)> = moe
            .iter()
            .filter(|t| t.name.starts_with("mlp.routed_expert"))
            .map(|t| (t.name, t.split))
            .collect();
        assert_eq!(
            latent,
            [
                ("mlp.routed_expert_down_proj", Split::Replicated),
                ("mlp.routed_expert_up_proj", Split::Replicated),
                ("mlp.routed_expert_norm", Split::Replicated),
            ]
        );
        let up = moe
            .iter()
            .find(|t| t.name == "mlp.experts.up_proj")
            .unwrap();
        assert_eq!(up.bytes(&k3), 896 * (3072 * 3584 / 2 + 3072 * 3584 / 32));
    }

    /// Qwen3.5 builds its embedding on every pipeline stage (vLLM `qwen3_5.py`, line 249): a
    /// later stage carries it too, 248,320 × 4,096 BF16 over TP.
    #[test]
    fn qwen3_5_embeds_on_every_stage() {
        let m = model("qwen3.5-397b-a17b");
        let w = RankWeights::new(&m, 8, None, Mxfp4Alignment::for_sm(90), 0);
        let layers_only = RankWeights {
            embedding_everywhere: false,
            ..w.clone()
        };
        let embedding = 248_320u64.div_ceil(64) * 64 / 8 * 4096 * 2;
        assert_eq!(
            w.stage(30..60, false, true) - layers_only.stage(30..60, false, true),
            embedding
        );
        assert_eq!(
            w.stage(0..30, true, false),
            layers_only.stage(0..30, true, false)
        );
    }

    /// DP + EP (vLLM `determine_expert_map`: `global_num_experts // ep_size` local experts per
    /// rank): at TP 1 × DP 16 every GPU holds the attention, dense layers, shared experts and
    /// embeddings whole and 256 / 16 = 16 routed experts of each MoE layer.
    #[test]
    fn dp_ep_splits_only_the_routed_experts() {
        let m = model("deepseek-r1");
        let alignment = Mxfp4Alignment::for_sm(90);
        let wide = RankWeights::new(&m, 1, Some(16), alignment, 0).stage(0..61, true, true);
        let dense = RankWeights::new(&m, 1, None, alignment, 0).stage(0..61, true, true);
        let experts: u128 = (0..61)
            .flat_map(|l| layer_tensors(&m, l))
            .filter(|t| t.expert)
            .map(|t| t.bytes(&m))
            .sum();
        let experts = u64::try_from(experts).unwrap();
        assert_eq!(dense - wide, experts - experts / 16);
    }
}
