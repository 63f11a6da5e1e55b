//! Model profiles from a Hugging Face `config.json`: any checkpoint of an architecture lwsplan
//! models, without writing a profile by hand.
//!
//! Supported `model_type`s: `llama`, `mistral`, `qwen2`, `qwen3` (dense, grouped-query
//! attention), `mixtral`, `qwen3_moe`, `gpt_oss` (mixture of experts; gpt-oss with attention
//! sinks and alternating sliding-window layers) and `deepseek_v2`, `deepseek_v3` (multi-head
//! latent attention and experts). Quantization: none, `fp8` (block or per-channel), `awq` or
//! `gptq` (4-bit, grouped), `mxfp4` (experts). Anything else is refused by name rather than
//! guessed.

use serde_json::Value;

use super::model::{Attention, Dtype, LayerType, Mlp, ModelProfile, Quantization};
use super::{ProfileError, Source};

/// The `model_type`s this module reads.
pub const SUPPORTED_MODEL_TYPES: &[&str] = &[
    "llama",
    "mistral",
    "qwen2",
    "qwen3",
    "mixtral",
    "qwen3_moe",
    "gpt_oss",
    "deepseek_v2",
    "deepseek_v3",
];

impl ModelProfile {
    /// Reads a `config.json` file into a checked model profile; see
    /// [`from_hf_config`](Self::from_hf_config).
    pub fn from_hf_config_file(
        path: &std::path::Path,
        hf_repo: Option<&str>,
    ) -> Result<ModelProfile, ProfileError> {
        let text = super::read(path, crate::io::MAX_SMALL_FILE, "a config.json")?;
        from_hf_config(&text, &path.display().to_string(), hf_repo)
    }

    /// Reads `config.json` text into a checked model profile; `origin` names it in errors and
    /// in the profile's sources. The profile's `hf_repo` — what `vllm serve` loads — is
    /// `hf_repo` if given, else the config's `_name_or_path` when that is a repository id
    /// (`owner/name`). A local path there would be a directory on the machine that ran
    /// lwsplan, not in the pod: it is refused, so that the repository is said explicitly.
    pub fn from_hf_config(
        text: &str,
        origin: &str,
        hf_repo: Option<&str>,
    ) -> Result<ModelProfile, ProfileError> {
        from_hf_config(text, origin, hf_repo)
    }

    /// Takes the checkpoint's exact size from a safetensors index, unless the index also holds
    /// MTP layers, whose bytes lwsplan cannot separate from the model's: then it keeps its own
    /// total and returns `false`.
    pub fn apply_safetensors_index(&mut self, index: &SafetensorsIndex) -> bool {
        if index.has_extra_layers {
            return false;
        }
        self.checkpoint_bytes = Some(index.total_size);
        true
    }
}

/// Whether `text` reads as a Hugging Face repository id, `owner/name`.
pub(crate) fn is_repo_id(text: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.len() <= 96
            && !p.starts_with(['.', '-'])
            && !p.contains("..")
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    };
    matches!(text.split_once('/'), Some((owner, name)) if part(owner) && part(name))
}

fn from_hf_config(
    text: &str,
    origin: &str,
    hf_repo: Option<&str>,
) -> Result<ModelProfile, ProfileError> {
    let config: Value = serde_json::from_str(text).map_err(|source| ProfileError::Json {
        origin: origin.to_string(),
        what: "config",
        source,
    })?;
    let c = Config {
        value: &config,
        origin,
    };
    let model_type = c.string("model_type")?;
    if !SUPPORTED_MODEL_TYPES.contains(&model_type.as_str()) {
        return Err(c.invalid(
            "model_type",
            format!(
                "architecture `{}` (model_type `{model_type}`) is not supported; lwsplan models {}",
                c.architecture(),
                SUPPORTED_MODEL_TYPES.join(", ")
            ),
        ));
    }
    let (layer_types, sliding_window) = c.attention_layers(&model_type)?;
    let layers = c.u64("num_hidden_layers")?;
    let hidden = c.u64("hidden_size")?;
    let heads = c.u64("num_attention_heads")?;
    let attention = match model_type.as_str() {
        "deepseek_v2" | "deepseek_v3" => Attention::Mla {
            num_attention_heads: heads,
            q_lora_rank: c.optional_u64("q_lora_rank")?,
            kv_lora_rank: c.u64("kv_lora_rank")?,
            qk_nope_head_dim: c.u64("qk_nope_head_dim")?,
            qk_rope_head_dim: c.u64("qk_rope_head_dim")?,
            v_head_dim: c.u64("v_head_dim")?,
            indexer: None,
        },
        _ => {
            Attention::Gqa {
                num_attention_heads: heads,
                num_key_value_heads: c.optional_u64("num_key_value_heads")?.unwrap_or(heads),
                head_dim: match c.optional_u64("head_dim")? {
                    Some(d) => d,
                    None if heads > 0 && hidden % heads == 0 => hidden / heads,
                    None => {
                        return Err(c.invalid(
                        "head_dim",
                        format!("missing, and hidden_size {hidden} is not a multiple of {heads} heads"),
                    ));
                    }
                },
                qk_norm: matches!(model_type.as_str(), "qwen3" | "qwen3_moe"),
                // Qwen2 always biases q, k and v; Llama-family and gpt-oss configs say so in
                // `attention_bias`, which biases o_proj too.
                qkv_bias: model_type == "qwen2" || c.attention_bias(),
                o_bias: model_type != "qwen2" && c.attention_bias(),
                sinks: model_type == "gpt_oss",
                output_gate: false,
            }
        }
    };
    let mlp = match model_type.as_str() {
        "mixtral" | "gpt_oss" => {
            let width = c.u64("intermediate_size")?;
            Mlp::Moe {
                intermediate_size: width,
                moe_intermediate_size: width,
                n_routed_experts: c.u64("num_local_experts")?,
                n_shared_experts: 0,
                num_experts_per_tok: c.u64("num_experts_per_tok")?,
                first_k_dense_replace: 0,
                bias: model_type == "gpt_oss",
                shared_expert_gate: false,
            }
        }
        "qwen3_moe" => {
            if c.optional_u64("decoder_sparse_step")?.unwrap_or(1) != 1 {
                return Err(c.invalid(
                    "decoder_sparse_step",
                    "only 1 (every layer MoE) is modelled".into(),
                ));
            }
            if c.value
                .get("mlp_only_layers")
                .and_then(Value::as_array)
                .is_some_and(|l| !l.is_empty())
            {
                return Err(c.invalid(
                    "mlp_only_layers",
                    "dense layers among MoE layers are not modelled".into(),
                ));
            }
            Mlp::Moe {
                intermediate_size: c.optional_u64("intermediate_size")?.unwrap_or(0),
                moe_intermediate_size: c.u64("moe_intermediate_size")?,
                n_routed_experts: c.u64("num_experts")?,
                n_shared_experts: 0,
                num_experts_per_tok: c.u64("num_experts_per_tok")?,
                first_k_dense_replace: 0,
                bias: false,
                shared_expert_gate: false,
            }
        }
        "deepseek_v2" | "deepseek_v3" => {
            if c.optional_u64("moe_layer_freq")?.unwrap_or(1) != 1 {
                return Err(c.invalid(
                    "moe_layer_freq",
                    "only 1 (every layer after the dense ones) is modelled".into(),
                ));
            }
            Mlp::Moe {
                intermediate_size: c.u64("intermediate_size")?,
                moe_intermediate_size: c.u64("moe_intermediate_size")?,
                n_routed_experts: c.u64("n_routed_experts")?,
                n_shared_experts: c.optional_u64("n_shared_experts")?.unwrap_or(0),
                num_experts_per_tok: c.u64("num_experts_per_tok")?,
                first_k_dense_replace: c.optional_u64("first_k_dense_replace")?.unwrap_or(0),
                bias: false,
                shared_expert_gate: false,
            }
        }
        _ => Mlp::Dense {
            intermediate_size: c.u64("intermediate_size")?,
        },
    };
    let architecture = c.architecture();
    let quantization = c.quantization()?;
    let hf_repo = match (hf_repo, c.optional_string("_name_or_path")) {
        (Some(repo), _) => repo.to_string(),
        (None, Some(name)) if is_repo_id(&name) => name,
        (None, name) => {
            return Err(c.invalid(
                "_name_or_path",
                format!(
                    "{}: the config does not say which repository vLLM should load; give it \
                     (--hf-repo owner/name), or --model-source to serve a path in the pod",
                    match name {
                        Some(name) => format!(
                            "`{}` is not a repository id (owner/name)",
                            crate::error::truncate(&name, 80)
                        ),
                        None => "missing".to_string(),
                    }
                ),
            ));
        }
    };
    let id = hf_repo
        .rsplit('/')
        .next()
        .unwrap_or(&hf_repo)
        .to_ascii_lowercase();
    let profile = ModelProfile {
        id,
        hf_repo,
        architecture,
        num_hidden_layers: layers,
        hidden_size: hidden,
        vocab_size: c.u64("vocab_size")?,
        max_position_embeddings: c.u64("max_position_embeddings")?,
        // Every supported architecture's config class defaults to untied embeddings.
        tie_word_embeddings: c
            .value
            .get("tie_word_embeddings")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        torch_dtype: c.dtype()?,
        layer_types,
        sliding_window,
        attention_chunk_size: None,
        linear_attention: None,
        attention,
        mlp,
        quantization,
        num_nextn_predict_layers: c.optional_u64("num_nextn_predict_layers")?.unwrap_or(0),
        checkpoint_bytes: None,
        // A checkpoint that ships its own modelling code (`auto_map`) is served with it.
        vllm_args: if c.value.get("auto_map").is_some() {
            vec!["--trust-remote-code".to_string()]
        } else {
            Vec::new()
        },
        sources: vec![Source {
            facts: "every field, imported by lwsplan from the checkpoint's config.json".into(),
            url: origin.to_string(),
            unverified: false,
        }],
    };
    profile.check(origin)?;
    Ok(profile)
}

/// Typed reads from a `config.json`, with errors that name the field.
struct Config<'a> {
    value: &'a Value,
    origin: &'a str,
}

impl Config<'_> {
    fn invalid(&self, field: &str, message: String) -> ProfileError {
        ProfileError::Invalid {
            origin: self.origin.to_string(),
            field: field.to_string(),
            message,
        }
    }

    fn architecture(&self) -> String {
        self.value
            .pointer("/architectures/0")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string()
    }

    fn optional_string(&self, field: &str) -> Option<String> {
        self.value
            .get(field)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }

    fn string(&self, field: &str) -> Result<String, ProfileError> {
        self.optional_string(field)
            .ok_or_else(|| self.invalid(field, "missing or not a string".into()))
    }

    fn optional_u64(&self, field: &str) -> Result<Option<u64>, ProfileError> {
        match self.value.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.invalid(field, format!("{v} is not a whole number"))),
        }
    }

    fn u64(&self, field: &str) -> Result<u64, ProfileError> {
        self.optional_u64(field)?
            .ok_or_else(|| self.invalid(field, "missing".into()))
    }

    /// `torch_dtype` (or `dtype` in newer configs); BF16 when absent.
    fn dtype(&self) -> Result<Dtype, ProfileError> {
        let name = self
            .optional_string("torch_dtype")
            .or_else(|| self.optional_string("dtype"));
        match name.as_deref() {
            None | Some("bfloat16") => Ok(Dtype::Bfloat16),
            Some("float16") => Ok(Dtype::Float16),
            Some("float32") => Ok(Dtype::Float32),
            Some(other) => Err(self.invalid(
                "torch_dtype",
                format!("`{other}` is not bfloat16, float16 or float32"),
            )),
        }
    }

    fn quantization(&self) -> Result<Option<Quantization>, ProfileError> {
        let Some(q) = self
            .value
            .get("quantization_config")
            .filter(|q| !q.is_null())
        else {
            return Ok(None);
        };
        let method = q.get("quant_method").and_then(Value::as_str).unwrap_or("?");
        if method == "mxfp4" {
            return Ok(Some(Quantization::Mxfp4));
        }
        if method == "awq" || method == "gptq" {
            let bits = q
                .get("bits")
                .or_else(|| q.get("w_bit"))
                .and_then(Value::as_u64);
            if bits != Some(4) {
                return Err(self.invalid(
                    "quantization_config.bits",
                    format!(
                        "{method} with {} bits is not modelled; only 4-bit",
                        bits.map_or("unknown".into(), |b| b.to_string())
                    ),
                ));
            }
            let group = q
                .get("group_size")
                .or_else(|| q.get("q_group_size"))
                .and_then(Value::as_u64)
                .filter(|g| *g > 0)
                .ok_or_else(|| {
                    self.invalid(
                        "quantization_config.group_size",
                        "expected a positive group size (per-channel, -1, is not modelled)".into(),
                    )
                })?;
            return Ok(Some(if method == "awq" {
                Quantization::Awq { group_size: group }
            } else {
                Quantization::Gptq {
                    group_size: group,
                    desc_act: q.get("desc_act").and_then(Value::as_bool).unwrap_or(false),
                }
            }));
        }
        let not_converted = |key: &str| -> Result<Vec<String>, ProfileError> {
            let Some(list) = q.get(key).filter(|v| !v.is_null()) else {
                return Ok(Vec::new());
            };
            let list = list.as_array().ok_or_else(|| {
                self.invalid(
                    &format!("quantization_config.{key}"),
                    "expected a list of module names".into(),
                )
            })?;
            list.iter()
                .map(|m| match m.as_str() {
                    Some(name) if name.starts_with("re:") => Err(self.invalid(
                        &format!("quantization_config.{key}"),
                        format!("the pattern `{name}` is a regular expression, which lwsplan does not expand; list the modules by name in a model profile"),
                    )),
                    Some(name) => Ok(name.to_string()),
                    None => Err(self.invalid(
                        &format!("quantization_config.{key}"),
                        format!("{m} is not a module name"),
                    )),
                })
                .collect()
        };
        if method == "compressed-tensors" {
            return self.compressed_tensors(q, not_converted("ignore")?);
        }
        if method != "fp8" && method != "fbgemm_fp8" {
            return Err(self.invalid(
                "quantization_config.quant_method",
                format!("`{method}` is not modelled yet; lwsplan models fp8, fbgemm_fp8 and compressed-tensors FP8 (block, per-channel or per-tensor), awq and gptq (4-bit), mxfp4 and unquantized checkpoints"),
            ));
        }
        let modules_to_not_convert = not_converted("modules_to_not_convert")?;
        let block = match q.get("weight_block_size") {
            None | Some(Value::Null) => None,
            Some(Value::Array(b)) if b.len() == 2 => match (b[0].as_u64(), b[1].as_u64()) {
                (Some(n), Some(k)) => Some([n, k]),
                _ => {
                    return Err(self.invalid(
                        "quantization_config.weight_block_size",
                        "expected two whole numbers".into(),
                    ));
                }
            },
            Some(other) => {
                return Err(self.invalid(
                    "quantization_config.weight_block_size",
                    format!("{other} is not [block_n, block_k]"),
                ));
            }
        };
        Ok(Some(Quantization::Fp8 {
            weight_block_size: block,
            modules_to_not_convert,
        }))
    }

    /// compressed-tensors: FP8 weights only (one config group, 8-bit floats; per tensor, per
    /// channel or in blocks), with its `ignore` list. Other schemes are refused by name.
    fn compressed_tensors(
        &self,
        q: &Value,
        ignore: Vec<String>,
    ) -> Result<Option<Quantization>, ProfileError> {
        let groups = q.get("config_groups").and_then(Value::as_object);
        let weights: Vec<&Value> = groups
            .map(|g| g.values().filter_map(|v| v.get("weights")).collect())
            .unwrap_or_default();
        let [w] = weights.as_slice() else {
            return Err(self.invalid(
                "quantization_config.config_groups",
                format!(
                    "{} weight schemes; lwsplan models one FP8 scheme for every quantized layer",
                    weights.len()
                ),
            ));
        };
        let bits = w.get("num_bits").and_then(Value::as_u64);
        let kind = w.get("type").and_then(Value::as_str);
        if (bits, kind) != (Some(8), Some("float")) {
            return Err(self.invalid(
                "quantization_config.config_groups",
                format!(
                    "compressed-tensors weights of {} bits, type {}: lwsplan models its FP8 scheme (8-bit float) only",
                    bits.map_or("?".into(), |b| b.to_string()),
                    kind.unwrap_or("?")
                ),
            ));
        }
        let block = match w.get("strategy").and_then(Value::as_str) {
            Some("block") => match w
                .get("block_structure")
                .and_then(Value::as_array)
                .map(|b| b.iter().filter_map(Value::as_u64).collect::<Vec<_>>())
                .as_deref()
            {
                Some([n, k]) => Some([*n, *k]),
                _ => {
                    return Err(self.invalid(
                        "quantization_config.config_groups.weights.block_structure",
                        "expected [block_n, block_k]".into(),
                    ));
                }
            },
            // Per channel and per tensor: lwsplan counts a scale per row, at most a few MiB
            // more than one per tensor.
            Some("channel" | "tensor") | None => None,
            Some(other) => {
                return Err(self.invalid(
                    "quantization_config.config_groups.weights.strategy",
                    format!("`{other}` is not tensor, channel or block"),
                ));
            }
        };
        Ok(Some(Quantization::Fp8 {
            weight_block_size: block,
            modules_to_not_convert: ignore,
        }))
    }

    fn attention_bias(&self) -> bool {
        self.value.get("attention_bias").and_then(Value::as_bool) == Some(true)
    }

    /// Which layers attend to a sliding window: `layer_types` when the config lists them; every
    /// layer for a Mistral-style config with an active `sliding_window`; none otherwise. Qwen's
    /// `use_sliding_window` with `max_window_layers` is refused (not modelled).
    fn attention_layers(
        &self,
        model_type: &str,
    ) -> Result<(Vec<LayerType>, Option<u64>), ProfileError> {
        let window = self.value.get("sliding_window").and_then(Value::as_u64);
        if let Some(types) = self.value.get("layer_types").and_then(Value::as_array) {
            let types = types
                .iter()
                .map(|t| match t.as_str() {
                    Some("full_attention") => Ok(LayerType::FullAttention),
                    Some("sliding_attention") => Ok(LayerType::SlidingAttention),
                    _ => Err(self.invalid(
                        "layer_types",
                        format!("{t} is not full_attention or sliding_attention"),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?;
            let window = window.filter(|_| types.contains(&LayerType::SlidingAttention));
            return Ok((types, window));
        }
        let used = self
            .value
            .get("use_sliding_window")
            .and_then(Value::as_bool)
            != Some(false);
        let context = self
            .value
            .get("max_position_embeddings")
            .and_then(Value::as_u64);
        match (window, context) {
            (Some(window), Some(context)) if used && window < context => {
                if matches!(model_type, "mistral" | "mixtral") {
                    let layers = self.u64("num_hidden_layers")?;
                    Ok((
                        vec![LayerType::SlidingAttention; layers as usize],
                        Some(window),
                    ))
                } else {
                    Err(self.invalid(
                        "sliding_window",
                        format!("sliding-window attention ({window} of {context} tokens) on some layers only is not modelled yet"),
                    ))
                }
            }
            _ => Ok((Vec::new(), None)),
        }
    }
}

/// What a `model.safetensors.index.json` says about the checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafetensorsIndex {
    /// `metadata.total_size`: bytes of every tensor.
    pub total_size: u64,
    /// Whether tensors of layers past `num_hidden_layers` (MTP modules) are in it.
    pub has_extra_layers: bool,
}

impl SafetensorsIndex {
    /// Reads a safetensors index; `layers` is the model's `num_hidden_layers`, to spot MTP
    /// layers.
    pub fn from_file(path: &std::path::Path, layers: u64) -> Result<Self, ProfileError> {
        read_safetensors_index(path, layers)
    }
}

fn read_safetensors_index(
    path: &std::path::Path,
    layers: u64,
) -> Result<SafetensorsIndex, ProfileError> {
    let text = super::read(path, crate::io::MAX_INDEX_FILE, "a safetensors index")?;
    let origin = path.display().to_string();
    let index: Value = serde_json::from_str(&text).map_err(|source| ProfileError::Json {
        origin: origin.clone(),
        what: "safetensors index",
        source,
    })?;
    let invalid = |field: &str, message: &str| ProfileError::Invalid {
        origin: origin.clone(),
        field: field.to_string(),
        message: message.to_string(),
    };
    let total_size = index
        .pointer("/metadata/total_size")
        .and_then(Value::as_u64)
        .filter(|t| *t > 0)
        .ok_or_else(|| invalid("metadata.total_size", "missing or not a positive number"))?;
    let weight_map = index
        .get("weight_map")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("weight_map", "missing or not a map"))?;
    let has_extra_layers = weight_map.keys().any(|name| {
        name.strip_prefix("model.layers.")
            .and_then(|rest| rest.split('.').next())
            .and_then(|i| i.parse::<u64>().ok())
            .is_some_and(|i| i >= layers)
    });
    Ok(SafetensorsIndex {
        total_size,
        has_extra_layers,
    })
}
