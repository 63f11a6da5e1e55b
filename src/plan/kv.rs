//! KV cache: bytes per token per GPU and the block size vLLM pages it in.
//!
//! Page size per layer and block (`vllm/v1/kv_cache_interface.py` @
//! 001cabc1be16a59a70d720ed61a13b678c060a18):
//! - full attention: `2 × block_size × kv_heads_per_rank × head_size × dtype_bytes`, with
//!   `kv_heads_per_rank = max(1, kv_heads / tp)` (`vllm/config/model.py`
//!   `get_num_kv_heads` @ 18ec6629253632af0a384f2ffbb8c6b28af322e7);
//! - MLA: `block_size × (kv_lora_rank + qk_rope_head_dim) × dtype_bytes`: one latent per token,
//!   no factor 2, and the same on every TP rank (MLA decodes as MQA with one KV head).

use serde::{Deserialize, Serialize};

use crate::profile::{Attention, HardwareProfile, LayerType, ModelProfile};

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
        Attention::Mla { .. } => 1,
    }
}

/// Bytes one token takes in one layer's KV cache on one GPU.
pub fn bytes_per_token_per_layer(model: &ModelProfile, tp: u64, dtype: KvCacheDtype) -> u64 {
    let elem = dtype.bytes(model);
    match &model.attention {
        Attention::Gqa { head_dim, .. } => 2 * kv_heads_per_rank(model, tp) * head_dim * elem,
        Attention::Mla {
            kv_lora_rank,
            qk_rope_head_dim,
            ..
        } => (kv_lora_rank + qk_rope_head_dim) * elem,
    }
}

/// KV cache groups vLLM forms (`vllm/v1/core/kv_cache_utils.py`): one per attention kind the
/// model has, full and sliding-window. Capacity in tokens is `blocks / groups × block size`.
pub fn attention_groups(model: &ModelProfile) -> u64 {
    let sliding = model.layer_types.contains(&LayerType::SlidingAttention);
    let full =
        model.layer_types.is_empty() || model.layer_types.contains(&LayerType::FullAttention);
    u64::from(sliding) + u64::from(full)
}

/// The layers with a KV cache on a pipeline stage holding decoder layers `layers`: on the last
/// stage also the `mtp_layers` multi-token-prediction layers of speculative decoding, each
/// with a full-attention cache of its own in the same group (vLLM's drafter runs on the last
/// stage: `gpu_model_runner.py`, v0.28.0, "we put the entire draft model on the last PP rank").
pub fn stage_layers(
    model: &ModelProfile,
    layers: std::ops::Range<u64>,
    last: bool,
    mtp_layers: u64,
) -> LayerCount {
    let mut count = LayerCount::of(model, layers);
    if last {
        count.full += mtp_layers;
    }
    count
}

/// Full- and sliding-attention layers in a range of layers (a pipeline stage).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerCount {
    /// Layers attending to the whole context.
    pub full: u64,
    /// Layers attending to a sliding window.
    pub sliding: u64,
}

impl LayerCount {
    /// Counts the layers in `layers` by kind.
    pub fn of(model: &ModelProfile, layers: std::ops::Range<u64>) -> Self {
        if model.layer_types.is_empty() {
            return LayerCount {
                full: layers.end - layers.start,
                sliding: 0,
            };
        }
        let sliding = layers
            .clone()
            .filter(|&i| model.layer_types.get(i as usize) == Some(&LayerType::SlidingAttention))
            .count() as u64;
        LayerCount {
            full: layers.end - layers.start - sliding,
            sliding,
        }
    }

    /// KV tensors the stage allocates: every layer with one group; with two, the groups share
    /// a pool padded to the larger group ("Add N padding layers").
    pub fn group_size(&self, groups: u64) -> u64 {
        if groups > 1 {
            self.full.max(self.sliding)
        } else {
            self.full + self.sliding
        }
    }

    /// Layer-blocks one request of `len` tokens needs on these layers: `ceil(len / block)` per
    /// full layer, and per sliding layer `ceil(min(window − 1 + batched, len) /
    /// block) + 1` (vLLM `SlidingWindowSpec.max_memory_usage_bytes`).
    pub fn blocks_for(&self, len: u64, window: u64, batched: u64, block: u64) -> u64 {
        self.full * len.div_ceil(block) + self.sliding * sliding_blocks(len, window, batched, block)
    }

    /// Blocks of the shared pool one request takes: one run per group.
    pub fn request_blocks(&self, len: u64, window: u64, batched: u64, block: u64) -> u64 {
        let full = if self.full > 0 {
            len.div_ceil(block)
        } else {
            0
        };
        let sliding = if self.sliding > 0 {
            sliding_blocks(len, window, batched, block)
        } else {
            0
        };
        full + sliding
    }
}

fn sliding_blocks(len: u64, window: u64, batched: u64, block: u64) -> u64 {
    let tokens = (window.saturating_sub(1) + batched).min(len);
    tokens.div_ceil(block) + 1
}

/// The KV block size vLLM picks on this GPU (`vllm/platforms/cuda.py` @
/// 1c0d9ecf5bad600df3e001bf642dd48c5ed25cc6): 16 by default; MLA forces 64 with FlashMLA on
/// Hopper and 128 with CUTLASS MLA on Blackwell. Below Hopper MLA falls back to Triton MLA,
/// which keeps 16 (inferred from the backend priority list; unverified).
pub fn block_size(model: &ModelProfile, hardware: &HardwareProfile) -> u64 {
    match (&model.attention, hardware.gpu.sm()) {
        (Attention::Mla { .. }, sm) if sm >= 100 => 128,
        (Attention::Mla { .. }, sm) if sm >= 90 => 64,
        _ => 16,
    }
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
        let covered: Vec<&str> = expected.iter().map(|(id, _, _)| *id).collect();
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

    /// gpt-oss: 18 full and 18 sliding layers share one pool of 18 layer-slots; a request of
    /// 131,072 tokens takes 8,192 blocks of 16 in the full group and
    /// ceil((128 − 1 + 8,192) / 16) + 1 = 521 in the sliding group.
    #[test]
    fn sliding_window_layers_need_only_their_window() {
        let catalog = Catalog::builtin();
        let oss = catalog.model("gpt-oss-120b").unwrap();
        assert_eq!(attention_groups(oss), 2);
        let all = LayerCount::of(oss, 0..36);
        assert_eq!(
            all,
            LayerCount {
                full: 18,
                sliding: 18
            }
        );
        assert_eq!(all.group_size(2), 18);
        assert_eq!(all.request_blocks(131_072, 128, 8192, 16), 8192 + 521);
        assert_eq!(all.blocks_for(131_072, 128, 8192, 16), 18 * 8192 + 18 * 521);
        // A short request: the sliding layers hold it all, plus one block.
        assert_eq!(all.request_blocks(100, 128, 8192, 16), 7 + 8);
        let stage = LayerCount::of(oss, 0..11);
        assert_eq!(
            stage,
            LayerCount {
                full: 5,
                sliding: 6
            }
        );
        assert_eq!(stage.group_size(2), 6, "padded to the larger group");
        let llama = catalog.model("llama-3.1-8b-instruct").unwrap();
        assert_eq!(attention_groups(llama), 1);
        assert_eq!(LayerCount::of(llama, 0..32).group_size(1), 32);
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
