//! Model profiles from a Hugging Face `config.json`: any checkpoint of an architecture lwsplan
//! models, without writing a profile by hand.
//!
//! The `model_type` is parsed once into a [`ModelType`]; everything architecture-specific reads
//! from it. Supported: dense grouped-query attention (`llama`, `mistral`, `qwen2`, `qwen3`);
//! mixtures of experts (`mixtral`, `qwen3_moe`, `gpt_oss` with attention sinks and alternating
//! sliding-window layers, `minimax_m2`); multi-head latent attention (`deepseek_v2`,
//! `deepseek_v3`, `kimi_k2`, the text model of `kimi_k25`) and its sparse form with a lightning
//! indexer (`deepseek_v32`, `glm_moe_dsa`); gated-DeltaNet hybrids (`qwen3_next`, `qwen3_5`,
//! `qwen3_5_moe`); NemotronH's Mamba-2 hybrids (`nemotron_h`: Nemotron-H, Nemotron-3 Nano and
//! Ultra); Kimi Delta Attention hybrids with MLA layers between (`kimi_linear`, and the text
//! model of `kimi_k3`). Quantization: none, `fp8` (block or per-channel), `awq` or `gptq` (4-bit,
//! grouped), `mxfp4` (experts). Anything else is refused by name rather than guessed.

use serde_json::Value;

use super::model::{
    Attention, Dtype, Indexer, LayerType, LinearAttention, Mlp, ModelProfile, Quantization,
    VisionLinear, VisionParallel, VisionTower,
};
use super::{ProfileError, Source};

/// An architecture lwsplan reads from `config.json`, by its `model_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ModelType {
    /// `llama`.
    Llama,
    /// `mistral`.
    Mistral,
    /// `qwen2`.
    Qwen2,
    /// `qwen3`.
    Qwen3,
    /// `mixtral`.
    Mixtral,
    /// `qwen3_moe`.
    Qwen3Moe,
    /// `gpt_oss`.
    GptOss,
    /// `deepseek_v2`.
    DeepseekV2,
    /// `deepseek_v3`.
    DeepseekV3,
    /// `kimi_k2`: DeepSeek-V3's architecture under another name (vLLM serves it as
    /// `DeepseekV3ForCausalLM`).
    KimiK2,
    /// `kimi_k25`: Kimi-K2.5, the K2 text model in `text_config` beside a MoonViT tower.
    KimiK25,
    /// `deepseek_v32`: DeepSeek-V3.2, MLA with DeepSeek Sparse Attention's indexer.
    DeepseekV32,
    /// `glm_moe_dsa`: GLM-5, the same sparse attention in GLM's model.
    GlmMoeDsa,
    /// `qwen3_next`: gated DeltaNet on three of four layers, gated attention, MoE.
    Qwen3Next,
    /// `qwen3_5`: Qwen3.5 dense, the Qwen3-Next layers in `text_config`.
    Qwen35,
    /// `qwen3_5_moe`: Qwen3.5 MoE.
    Qwen35Moe,
    /// `minimax_m2`: grouped-query attention with experts (MiniMax-M2, M2.1, M2.5).
    MinimaxM2,
    /// `llama4`: Llama 4's text model in `text_config`: chunked local attention on RoPE
    /// layers, global NoPE layers, experts on alternate layers.
    Llama4,
    /// `nemotron_h`: NVIDIA's hybrid of Mamba-2, attention, MLP and MoE layers, one block a
    /// layer as `hybrid_override_pattern` (or `layers_block_type`) lists them (Nemotron-H,
    /// Nemotron-3 Nano and Ultra).
    NemotronH,
    /// `kimi_linear`: Kimi-Linear, Kimi Delta Attention layers with MLA layers between
    /// (`linear_attn_config`), MoE.
    KimiLinear,
    /// `kimi_k3`: Kimi-K3, a `kimi_linear` text model in `text_config` (latent MoE, a
    /// full-rank KDA gate) beside a MoonViT tower.
    KimiK3,
    /// `deepseek_v4`: DeepSeek-V4's compressed sparse attention, hash-routed first layers,
    /// hyper-connections; FP8 linears with MXFP4 (or NVFP4) routed experts.
    DeepseekV4,
}

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
    "kimi_k2",
    "kimi_k25",
    "deepseek_v32",
    "glm_moe_dsa",
    "qwen3_next",
    "qwen3_5",
    "qwen3_5_moe",
    "minimax_m2",
    "llama4",
    "nemotron_h",
    "kimi_linear",
    "kimi_k3",
    "deepseek_v4",
];

/// How an architecture's feed-forward block is spelled in its config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MlpConfig {
    /// `intermediate_size` in every layer.
    Dense,
    /// `num_local_experts` experts of `intermediate_size` each (Mixtral, gpt-oss, MiniMax).
    LocalExperts,
    /// `num_experts` of `moe_intermediate_size`, an optional gated shared expert (Qwen).
    QwenExperts,
    /// `n_routed_experts` after `first_k_dense_replace` dense layers (DeepSeek).
    DeepseekExperts,
    /// Experts on every `interleave_moe_layer_step`-th layer with a shared expert (Llama 4).
    Llama4,
    /// NemotronH: `n_routed_experts` non-gated experts (optionally in a `moe_latent_size`
    /// latent space) with shared experts of `moe_shared_expert_intermediate_size`, on the `E`
    /// layers; a non-gated MLP of `intermediate_size` on the `-` layers.
    NemotronH,
    /// `num_experts` of `moe_intermediate_size`, `num_experts_per_token`,
    /// `num_shared_experts` after `first_k_dense_replace` dense layers (Kimi-Linear's
    /// `KimiMoE`).
    KimiExperts,
}

impl ModelType {
    /// Every supported type, in [`SUPPORTED_MODEL_TYPES`]' order.
    pub const ALL: [ModelType; 22] = [
        ModelType::Llama,
        ModelType::Mistral,
        ModelType::Qwen2,
        ModelType::Qwen3,
        ModelType::Mixtral,
        ModelType::Qwen3Moe,
        ModelType::GptOss,
        ModelType::DeepseekV2,
        ModelType::DeepseekV3,
        ModelType::KimiK2,
        ModelType::KimiK25,
        ModelType::DeepseekV32,
        ModelType::GlmMoeDsa,
        ModelType::Qwen3Next,
        ModelType::Qwen35,
        ModelType::Qwen35Moe,
        ModelType::MinimaxM2,
        ModelType::Llama4,
        ModelType::NemotronH,
        ModelType::KimiLinear,
        ModelType::KimiK3,
        ModelType::DeepseekV4,
    ];

    /// The type a `model_type` names, if lwsplan reads it.
    pub fn parse(model_type: &str) -> Option<ModelType> {
        let i = SUPPORTED_MODEL_TYPES
            .iter()
            .position(|t| *t == model_type)?;
        Some(ModelType::ALL[i])
    }

    /// `model_type` as `config.json` spells it.
    pub fn as_str(self) -> &'static str {
        let i = ModelType::ALL
            .iter()
            .position(|t| *t == self)
            .unwrap_or_default();
        SUPPORTED_MODEL_TYPES[i]
    }

    /// Whether the language model's fields sit in `text_config` (multimodal checkpoints).
    fn nests_text_config(self) -> bool {
        matches!(
            self,
            ModelType::KimiK25
                | ModelType::Qwen35
                | ModelType::Qwen35Moe
                | ModelType::Llama4
                | ModelType::KimiK3
        )
    }

    /// Multi-head latent attention.
    fn mla(self) -> bool {
        matches!(
            self,
            ModelType::DeepseekV2
                | ModelType::DeepseekV3
                | ModelType::KimiK2
                | ModelType::KimiK25
                | ModelType::DeepseekV32
                | ModelType::GlmMoeDsa
                | ModelType::KimiLinear
                | ModelType::KimiK3
        )
    }

    /// DeepSeek Sparse Attention's indexer on every layer.
    fn sparse(self) -> bool {
        matches!(self, ModelType::DeepseekV32 | ModelType::GlmMoeDsa)
    }

    /// Gated DeltaNet layers with gated full attention between (Qwen3-Next's decoder).
    fn gated_delta_net(self) -> bool {
        matches!(
            self,
            ModelType::Qwen3Next | ModelType::Qwen35 | ModelType::Qwen35Moe
        )
    }

    /// Kimi Delta Attention layers with MLA layers between (`KimiLinearForCausalLM`'s decoder).
    fn kimi_delta_attention(self) -> bool {
        matches!(self, ModelType::KimiLinear | ModelType::KimiK3)
    }

    /// Per-head RMS norms on queries and keys.
    fn qk_norm(self) -> bool {
        matches!(
            self,
            ModelType::Qwen3 | ModelType::Qwen3Moe | ModelType::MinimaxM2
        ) || self.gated_delta_net()
    }

    fn mlp(self) -> MlpConfig {
        match self {
            ModelType::Llama
            | ModelType::Mistral
            | ModelType::Qwen2
            | ModelType::Qwen3
            | ModelType::Qwen35 => MlpConfig::Dense,
            ModelType::Mixtral | ModelType::GptOss | ModelType::MinimaxM2 => {
                MlpConfig::LocalExperts
            }
            ModelType::Qwen3Moe | ModelType::Qwen3Next | ModelType::Qwen35Moe => {
                MlpConfig::QwenExperts
            }
            ModelType::DeepseekV2
            | ModelType::DeepseekV3
            | ModelType::KimiK2
            | ModelType::KimiK25
            | ModelType::DeepseekV32
            | ModelType::GlmMoeDsa
            | ModelType::DeepseekV4 => MlpConfig::DeepseekExperts,
            ModelType::Llama4 => MlpConfig::Llama4,
            ModelType::NemotronH => MlpConfig::NemotronH,
            ModelType::KimiLinear | ModelType::KimiK3 => MlpConfig::KimiExperts,
        }
    }
}

impl ModelProfile {
    /// Reads a `config.json` file into a checked model profile; see
    /// [`from_hf_config`](Self::from_hf_config).
    pub fn from_hf_config_file(
        path: &std::path::Path,
        hf_repo: Option<&str>,
    ) -> Result<ModelProfile, ProfileError> {
        let text = super::read(path, crate::io::MAX_SMALL_FILE, "a config.json")?;
        let mut profile = from_hf_config(&text, &path.display().to_string(), hf_repo)?;
        // ModelOpt before 0.31 keeps its quantization in a file beside config.json, which vLLM
        // reads when config.json has none (`transformers_utils/config.py`, v0.28.0).
        let sibling = path.with_file_name(HF_QUANT_CONFIG);
        if profile.quantization.is_none() && sibling.is_file() {
            let quant = super::read(
                &sibling,
                crate::io::MAX_SMALL_FILE,
                "an hf_quant_config.json",
            )?;
            profile.apply_hf_quant_config(&quant, &sibling.display().to_string())?;
        }
        Ok(profile)
    }

    /// Takes the quantization from ModelOpt's `hf_quant_config.json` (`{"quantization":
    /// {"quant_algo": "NVFP4", "group_size": 16, "exclude_modules": [...],
    /// "kv_cache_quant_algo": "FP8"}}`), for a checkpoint whose `config.json` has no
    /// `quantization_config`; `origin` names the file in errors and sources.
    pub fn apply_hf_quant_config(&mut self, text: &str, origin: &str) -> Result<(), ProfileError> {
        let value: Value = serde_json::from_str(text).map_err(|source| ProfileError::Json {
            origin: origin.to_string(),
            what: "hf_quant_config",
            source,
        })?;
        let c = Config {
            value: &value,
            origin,
            prefix: "",
        };
        let q = value
            .get("quantization")
            .filter(|q| q.is_object())
            .ok_or_else(|| c.invalid("quantization", "missing or not an object".into()))?;
        let fp8_kv = q
            .get("kv_cache_quant_algo")
            .and_then(Value::as_str)
            .is_some_and(|a| a.eq_ignore_ascii_case("fp8"));
        self.quantization = c.modelopt(
            "quantization",
            q.get("quant_algo").and_then(Value::as_str),
            q.get("group_size").and_then(Value::as_u64),
            c.module_list(q, "quantization", "exclude_modules")?,
            fp8_kv,
        )?;
        self.sources.push(Source {
            facts: "quantization, imported by lwsplan from the checkpoint's hf_quant_config.json"
                .into(),
            url: origin.to_string(),
            unverified: false,
        });
        self.check(origin)
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

/// ModelOpt's quantization file beside `config.json` in older checkpoints.
pub const HF_QUANT_CONFIG: &str = "hf_quant_config.json";

/// The most wildcard patterns one `re:` pattern may expand to.
const MAX_EXPANSION: usize = 64;

/// A compressed-tensors `re:` pattern as wildcard patterns that match the same names: vLLM
/// tests them with Python's `re.match`, anchored at the start only, so a pattern without `$`
/// ends in `*`. Reads literals, escaped punctuation, `.` (`?`), `.*` (`*`), `.+` (`?*`), `^`,
/// a final `$` and groups of literal alternatives (`(gate|up)`, optionally `?`); anything
/// else is `None`, to be refused rather than guessed.
pub(crate) fn regex_as_wildcards(regex: &str) -> Option<Vec<String>> {
    let chars: Vec<char> = regex.strip_prefix('^').unwrap_or(regex).chars().collect();
    // Each piece: the alternatives at that position.
    let mut pieces: Vec<Vec<String>> = Vec::new();
    let mut anchored = false;
    let mut i = 0;
    let literal = |c: char| c.is_alphanumeric() || "_-/:=@,;<>!%&~'\"".contains(c);
    let escaped = |c: char| !c.is_alphanumeric() && !"*?[]".contains(c);
    while i < chars.len() {
        let next = chars.get(i + 1).copied();
        match chars[i] {
            '\\' if next.is_some_and(escaped) => {
                pieces.push(vec![next?.to_string()]);
                i += 2;
            }
            '.' => match next {
                Some('*') => {
                    pieces.push(vec!["*".into()]);
                    i += 2;
                }
                Some('+') => {
                    pieces.push(vec!["?*".into()]);
                    i += 2;
                }
                Some('?' | '{') => return None,
                _ => {
                    pieces.push(vec!["?".into()]);
                    i += 1;
                }
            },
            '$' if i + 1 == chars.len() => {
                anchored = true;
                i += 1;
            }
            '(' => {
                let close = i + chars[i..].iter().position(|&c| c == ')')?;
                let inner: String = chars[i + 1..close].iter().collect();
                let inner = inner.strip_prefix("?:").unwrap_or(&inner);
                let mut alternatives = Vec::new();
                for alt in inner.split('|') {
                    let mut text = String::new();
                    let mut it = alt.chars();
                    while let Some(c) = it.next() {
                        match c {
                            '\\' => text.push(it.next().filter(|&c| escaped(c))?),
                            c if literal(c) => text.push(c),
                            _ => return None,
                        }
                    }
                    alternatives.push(text);
                }
                i = close + 1;
                if chars.get(i) == Some(&'?') {
                    alternatives.push(String::new());
                    i += 1;
                }
                if matches!(chars.get(i), Some('*' | '+' | '{')) {
                    return None;
                }
                pieces.push(alternatives);
            }
            c if literal(c) && !matches!(next, Some('*' | '+' | '?' | '{')) => {
                pieces.push(vec![c.to_string()]);
                i += 1;
            }
            _ => return None,
        }
    }
    if !anchored {
        pieces.push(vec!["*".into()]);
    }
    let mut out = vec![String::new()];
    for alternatives in pieces {
        if out.len() * alternatives.len() > MAX_EXPANSION {
            return None;
        }
        out = out
            .iter()
            .flat_map(|head| alternatives.iter().map(move |alt| format!("{head}{alt}")))
            .collect();
    }
    Some(
        out.into_iter()
            .map(|p| {
                let mut collapsed = String::with_capacity(p.len());
                for c in p.chars() {
                    if !(c == '*' && collapsed.ends_with('*')) {
                        collapsed.push(c);
                    }
                }
                collapsed
            })
            .collect(),
    )
}

/// A module name of a multimodal checkpoint as the text model's: `language_model.model.X` and
/// `model.language_model.X` are `model.X`, `language_model.lm_head` is `lm_head` (vLLM maps
/// them onto its own module tree the same way before it matches them).
fn text_model_name(name: &str) -> String {
    let name = name.strip_prefix("language_model.").unwrap_or(name);
    match name.strip_prefix("model.language_model.") {
        Some(rest) => format!("model.{rest}"),
        None => name.to_string(),
    }
}

/// Whether `text` reads as a Hugging Face repository id, `owner/name`, by the Hub's rules
/// (`huggingface_hub/utils/_validators.py`, `validate_repo_id`: letters, digits, `-`, `_`, `.`;
/// no `--` or `..`; `-` and `.` neither start nor end a part; at most 96 characters).
pub(crate) fn is_repo_id(text: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.len() <= 96
            && !p.starts_with(['.', '-'])
            && !p.ends_with(['.', '-'])
            && !p.contains("..")
            && !p.contains("--")
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    };
    matches!(text.split_once('/'), Some((owner, name)) if part(owner) && part(name))
}

/// `config.json` as Python's `json.dumps` writes it may hold `Infinity`, `-Infinity` and `NaN`
/// (Nemotron-H's `time_step_limit: [0.0, Infinity]`), which JSON lacks: each becomes `null`
/// outside strings. No field lwsplan reads holds one.
fn python_json_constants_as_null(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("Infinity") && !text.contains("NaN") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if let Some(constant) = ["-Infinity", "Infinity", "NaN"]
            .into_iter()
            .find(|k| rest.starts_with(k))
        {
            out.push_str("null");
            rest = &rest[constant.len()..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    std::borrow::Cow::Owned(out)
}

fn from_hf_config(
    text: &str,
    origin: &str,
    hf_repo: Option<&str>,
) -> Result<ModelProfile, ProfileError> {
    let text = python_json_constants_as_null(text);
    let config: Value = serde_json::from_str(&text).map_err(|source| ProfileError::Json {
        origin: origin.to_string(),
        what: "config",
        source,
    })?;
    let root = Config {
        value: &config,
        origin,
        prefix: "",
    };
    let type_name = root.string("model_type")?;
    let Some(model_type) = ModelType::parse(&type_name) else {
        return Err(root.invalid(
            "model_type",
            format!(
                "architecture `{}` (model_type `{}`) is not supported; lwsplan models {}",
                crate::error::truncate(&root.architecture(), 80),
                crate::error::truncate(&type_name, 80),
                SUPPORTED_MODEL_TYPES.join(", ")
            ),
        ));
    };
    // A multimodal checkpoint keeps the language model's fields in `text_config`.
    let c = if model_type.nests_text_config() {
        Config {
            value: config
                .get("text_config")
                .filter(|t| t.is_object())
                .ok_or_else(|| root.invalid("text_config", "missing or not a map".into()))?,
            origin,
            prefix: "text_config.",
        }
    } else {
        root.clone()
    };
    // NemotronH lists its layers' blocks, which also count them (Nemotron-3 Ultra's config has
    // no `num_hidden_layers`: transformers' `NemotronHConfig` derives it from the list).
    let pattern = if model_type == ModelType::NemotronH {
        Some(c.hybrid_override_pattern()?)
    } else {
        None
    };
    // Every count is bounded before anything is sized from it.
    let layers = match &pattern {
        Some(p) => p.len() as u64,
        None => c.bounded("num_hidden_layers", super::model::MAX_LAYERS)?,
    };
    let hidden = c.bounded("hidden_size", super::model::MAX_WIDTH)?;
    let heads = c.bounded("num_attention_heads", super::model::MAX_WIDTH)?;
    let vocab_size = c.bounded("vocab_size", super::model::MAX_VOCAB)?;
    let (layer_types, sliding_window) = c.attention_layers(model_type, layers)?;
    let attention = c.attention(model_type, heads, hidden, layers)?;
    let mlp = c.mlp(model_type)?;
    let linear_attention = if model_type.gated_delta_net() {
        Some(c.gated_delta_net(model_type, &root)?)
    } else if pattern.as_deref().is_some_and(|p| p.contains('M')) {
        Some(c.mamba2()?)
    } else if model_type.kimi_delta_attention() {
        Some(c.kimi_delta_attention()?)
    } else {
        None
    };
    let architecture = root.architecture();
    let quantization = match root.quantization()? {
        Some(q) => Some(q),
        None if model_type.nests_text_config() => c.quantization()?,
        None => None,
    };
    let quantization = if model_type == ModelType::DeepseekV4 {
        root.deepseek_v4_experts(quantization)?
    } else {
        quantization
    };
    let hf_repo = match (hf_repo, root.optional_string("_name_or_path")) {
        // It reaches `vllm serve`'s command line: a repository id and nothing else.
        (Some(repo), _) if !is_repo_id(repo) => {
            return Err(ProfileError::Invalid {
                origin: "--hf-repo".into(),
                field: "hf_repo".into(),
                message: format!(
                    "{:?} is not a Hugging Face repository id: owner/name, each of letters, \
                     digits, `-`, `_` and `.`, not starting with `-` or `.`, without `..`",
                    crate::error::truncate(repo, 80)
                ),
            });
        }
        (Some(repo), _) => repo.to_string(),
        (None, Some(name)) if is_repo_id(&name) => name,
        (None, name) => {
            return Err(root.invalid(
                "_name_or_path",
                format!(
                    "{}: the config does not say which repository vLLM should load; give it \
                     (--hf-repo owner/name), or --model-source to serve a path in the pod",
                    match name {
                        Some(name) => format!(
                            "`{}` is not a repository id (owner/name)",
                            crate::error::base::truncate(&name, 80)
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
    // MTP layers: DeepSeek's `num_nextn_predict_layers`, Qwen3.5's `mtp_num_hidden_layers`
    // (vLLM loads them only for speculative decoding).
    let mtp = match c.optional_u64("num_nextn_predict_layers")? {
        Some(n) => Some(n),
        None => c.optional_u64("mtp_num_hidden_layers")?,
    };
    let tied = |cfg: &Config<'_>| {
        cfg.value
            .get("tie_word_embeddings")
            .and_then(Value::as_bool)
    };
    let profile = ModelProfile {
        id,
        hf_repo,
        // config.json does not say whether the repository is gated.
        gated: None,
        architecture,
        num_hidden_layers: layers,
        hidden_size: hidden,
        vocab_size,
        max_position_embeddings: c.max_position_embeddings(model_type)?,
        // Every supported architecture's config class defaults to untied embeddings.
        tie_word_embeddings: tied(&root).or_else(|| tied(&c)).unwrap_or(false),
        torch_dtype: c.dtype()?,
        layer_types,
        non_gated_mlp: model_type == ModelType::NemotronH,
        hybrid_override_pattern: pattern,
        sliding_window,
        attention_chunk_size: c
            .optional_bounded("attention_chunk_size", super::model::MAX_CONTEXT)?
            .filter(|_| model_type == ModelType::Llama4),
        linear_attention,
        attention,
        mlp,
        quantization,
        num_nextn_predict_layers: mtp.unwrap_or(0),
        vision_tower: vision_tower(model_type, &root, hidden)?,
        hc_mult: if model_type == ModelType::DeepseekV4 {
            c.optional_bounded("hc_mult", 64)?
        } else {
            None
        },
        checkpoint_bytes: None,
        // A checkpoint that ships its own modelling code (`auto_map`) is served with it.
        vllm_args: if root.value.get("auto_map").is_some() {
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

/// Typed reads from a `config.json` (or its `text_config`), with errors that name the field.
#[derive(Clone)]
struct Config<'a> {
    value: &'a Value,
    origin: &'a str,
    /// Where `value` sits in the file: `""` or `"text_config."`.
    prefix: &'static str,
}

impl Config<'_> {
    fn invalid(&self, field: &str, message: String) -> ProfileError {
        ProfileError::Invalid {
            origin: self.origin.to_string(),
            field: format!("{}{field}", self.prefix),
            message,
        }
    }

    /// A required whole number, at most `max`: counts are checked before anything is sized
    /// from them.
    fn bounded(&self, field: &str, max: u64) -> Result<u64, ProfileError> {
        let value = self.u64(field)?;
        if value > max {
            return Err(self.invalid(
                field,
                format!("{value} is more than {max}, beyond any real model"),
            ));
        }
        Ok(value)
    }

    /// [`Config::bounded`] for an optional field.
    fn optional_bounded(&self, field: &str, max: u64) -> Result<Option<u64>, ProfileError> {
        match self.optional_u64(field)? {
            Some(v) if v > max => Err(self.invalid(
                field,
                format!("{v} is more than {max}, beyond any real model"),
            )),
            other => Ok(other),
        }
    }

    /// A sparse-MLA model's lightning indexer, with the IndexCache schedule vLLM reads
    /// (`index_topk_freq`, default 1; `index_skip_topk_offset`, default 2;
    /// `DeepseekV2MLAAttention`, `vllm/model_executor/models/deepseek_v2.py` @
    /// 002d6073aa034d4f5545d45021b0e56d1f3c3593). vLLM reads neither Transformers'
    /// `indexer_types` list nor `mlp_layer_types`, so neither is read here. An explicit
    /// `index_topk_pattern` (one `F` or `S` a layer) overrides the frequency there; it is
    /// refused by name rather than planned as if absent.
    fn sparse_indexer(&self) -> Result<Indexer, ProfileError> {
        use super::model::{MAX_CONTEXT, MAX_WIDTH};
        if self
            .value
            .get("index_topk_pattern")
            .is_some_and(|p| !p.is_null())
        {
            return Err(self.invalid(
                "index_topk_pattern",
                "an explicit IndexCache pattern is not supported: lwsplan reads the \
                 schedule from index_topk_freq and index_skip_topk_offset only, as vLLM \
                 does when the pattern is null; set it to null if it follows them"
                    .into(),
            ));
        }
        let mut indexer = Indexer::every_layer(
            self.bounded("index_n_heads", MAX_WIDTH)?,
            self.bounded("index_head_dim", MAX_WIDTH)?,
            self.bounded("index_topk", MAX_CONTEXT)?,
        );
        if let Some(freq) = self.optional_bounded("index_topk_freq", MAX_CONTEXT)? {
            indexer.index_topk_freq = freq;
        }
        if let Some(offset) = self.optional_bounded("index_skip_topk_offset", MAX_CONTEXT)? {
            indexer.index_skip_topk_offset = offset;
        }
        Ok(indexer)
    }

    fn attention(
        &self,
        model_type: ModelType,
        heads: u64,
        hidden: u64,
        layers: u64,
    ) -> Result<Attention, ProfileError> {
        use super::model::MAX_WIDTH;
        if model_type == ModelType::DeepseekV4 {
            return self.compressed_sparse_mla(heads, layers);
        }
        if model_type.mla() {
            let indexer = if model_type.sparse() {
                Some(self.sparse_indexer()?)
            } else {
                None
            };
            return Ok(Attention::Mla {
                num_attention_heads: heads,
                q_lora_rank: self.optional_bounded("q_lora_rank", MAX_WIDTH)?,
                kv_lora_rank: self.bounded("kv_lora_rank", MAX_WIDTH)?,
                qk_nope_head_dim: self.bounded("qk_nope_head_dim", MAX_WIDTH)?,
                qk_rope_head_dim: self.bounded("qk_rope_head_dim", MAX_WIDTH)?,
                v_head_dim: self.bounded("v_head_dim", MAX_WIDTH)?,
                indexer,
                // Kimi-K3's gated MLA (`mla_use_output_gate`, `KimiLinearConfig`).
                output_gate: model_type.kimi_delta_attention()
                    && self
                        .value
                        .get("mla_use_output_gate")
                        .and_then(Value::as_bool)
                        == Some(true),
            });
        }
        // Nemotron-H's first configs name it `attention_head_dim`, which vLLM's
        // `NemotronHConfig` reads as `head_dim`.
        let head_dim = match self.optional_bounded("head_dim", MAX_WIDTH)?.or(
            if model_type == ModelType::NemotronH {
                self.optional_bounded("attention_head_dim", MAX_WIDTH)?
            } else {
                None
            },
        ) {
            Some(d) => d,
            None if heads > 0 && hidden.is_multiple_of(heads) => hidden / heads,
            None => {
                return Err(self.invalid(
                    "head_dim",
                    format!("missing, and hidden_size {hidden} is not a multiple of {heads} heads"),
                ));
            }
        };
        let qwen2 = model_type == ModelType::Qwen2;
        let qk_norm = match model_type {
            // MiniMax-M2 says so in `use_qk_norm` (its norms span all heads of a rank; counted
            // per head here, 7,168 parameters a layer fewer).
            ModelType::MinimaxM2 => {
                self.value.get("use_qk_norm").and_then(Value::as_bool) != Some(false)
            }
            // Llama 4's `use_qk_norm` is a weightless RMS norm: nothing to load.
            ModelType::Llama4 => false,
            _ => model_type.qk_norm(),
        };
        Ok(Attention::Gqa {
            num_attention_heads: heads,
            num_key_value_heads: self
                .optional_bounded("num_key_value_heads", MAX_WIDTH)?
                .unwrap_or(heads),
            head_dim,
            qk_norm,
            // Qwen2 always biases q, k and v; Llama-family and gpt-oss configs say so in
            // `attention_bias`, which biases o_proj too.
            qkv_bias: qwen2 || self.attention_bias(),
            o_bias: !qwen2 && self.attention_bias(),
            sinks: model_type == ModelType::GptOss,
            // Qwen3-Next's and Qwen3.5's `attn_output_gate` defaults to true in transformers.
            output_gate: model_type.gated_delta_net()
                && self.value.get("attn_output_gate").and_then(Value::as_bool) != Some(false),
        })
    }

    /// DeepSeek-V4's attention (`DeepseekV4Attention`, `vllm/models/deepseek_v4/attention.py`,
    /// v0.34.0): `head_dim`, the low-rank query and output, `compress_ratios` of the `layers`
    /// decoder layers (the config lists the MTP layers' after them, which vLLM ignores), and
    /// the indexer of its ratio-4 layers.
    fn compressed_sparse_mla(&self, heads: u64, layers: u64) -> Result<Attention, ProfileError> {
        use super::model::{MAX_CONTEXT, MAX_WIDTH};
        let field = "compress_ratios";
        let ratios = self
            .value
            .get(field)
            .and_then(Value::as_array)
            .ok_or_else(|| self.invalid(field, "missing or not a list".into()))?;
        if ratios.len() as u64 > super::model::MAX_LAYERS {
            return Err(self.invalid(field, format!("lists {} layers", ratios.len())));
        }
        let compress_ratios = ratios
            .iter()
            .map(|r| {
                r.as_u64()
                    .ok_or_else(|| self.invalid(field, format!("{r} is not a whole number")))
            })
            .take(usize::try_from(layers).unwrap_or(usize::MAX))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Attention::CompressedSparseMla {
            num_attention_heads: heads,
            head_dim: self.bounded("head_dim", MAX_WIDTH)?,
            qk_rope_head_dim: self.bounded("qk_rope_head_dim", MAX_WIDTH)?,
            q_lora_rank: self.bounded("q_lora_rank", MAX_WIDTH)?,
            o_lora_rank: self.bounded("o_lora_rank", MAX_WIDTH)?,
            o_groups: self.bounded("o_groups", MAX_WIDTH)?,
            compress_ratios,
            indexer: Indexer::every_layer(
                self.bounded("index_n_heads", MAX_WIDTH)?,
                self.bounded("index_head_dim", MAX_WIDTH)?,
                self.bounded("index_topk", MAX_CONTEXT)?,
            ),
        })
    }

    /// A DeepSeek-V4 checkpoint's routed experts: FP8 linears with MXFP4 experts
    /// (`expert_dtype: fp4`, vLLM's default when absent), or NVIDIA's ModelOpt NVFP4 experts
    /// (`quantization_config.moe_quant_algo: NVFP4`); `expert_dtype: fp8` keeps them FP8
    /// (`DeepseekV4FP8Config.get_quant_method`, `vllm/models/deepseek_v4/quant_config.py`,
    /// v0.34.0).
    fn deepseek_v4_experts(
        &self,
        quantization: Option<Quantization>,
    ) -> Result<Option<Quantization>, ProfileError> {
        let Some(Quantization::Fp8 {
            weight_block_size,
            modules_to_not_convert,
            fp8_kv_cache,
            ..
        }) = quantization
        else {
            return Ok(quantization);
        };
        let nvfp4 = self
            .value
            .pointer("/quantization_config/moe_quant_algo")
            .and_then(Value::as_str)
            .is_some_and(|a| a.eq_ignore_ascii_case("nvfp4"));
        let moe_quant_algo = match self.optional_string("expert_dtype").as_deref() {
            Some("fp8") => None,
            Some("fp4") | None if nvfp4 => Some(super::model::MoeQuantAlgo::Nvfp4),
            Some("fp4") | None => Some(super::model::MoeQuantAlgo::Mxfp4),
            Some(other) => {
                return Err(self.invalid(
                    "expert_dtype",
                    format!(
                        "`{}`: vLLM takes fp4 or fp8 (\"Unsupported DeepSeek V4 expert_dtype\")",
                        crate::error::truncate(other, 40)
                    ),
                ));
            }
        };
        Ok(Some(Quantization::Fp8 {
            weight_block_size,
            // ModelOpt's `ignore` list names what stays out of NVFP4 (attention, shared
            // experts, head, MTP), which the FP8 part of the checkpoint still quantizes.
            modules_to_not_convert,
            fp8_kv_cache,
            moe_quant_algo,
        }))
    }

    fn mlp(&self, model_type: ModelType) -> Result<Mlp, ProfileError> {
        use super::model::{MAX_EXPERTS, MAX_WIDTH};
        Ok(match model_type.mlp() {
            MlpConfig::Dense => Mlp::Dense {
                intermediate_size: self.bounded("intermediate_size", MAX_WIDTH)?,
            },
            MlpConfig::LocalExperts => {
                let width = self.bounded("intermediate_size", MAX_WIDTH)?;
                if self.optional_u64("shared_intermediate_size")?.unwrap_or(0) > 0 {
                    return Err(self.invalid(
                        "shared_intermediate_size",
                        "a shared expert beside local experts is not modelled".into(),
                    ));
                }
                Mlp::Moe {
                    intermediate_size: width,
                    moe_intermediate_size: width,
                    n_routed_experts: self.bounded("num_local_experts", MAX_EXPERTS)?,
                    n_shared_experts: 0,
                    num_experts_per_tok: self.bounded("num_experts_per_tok", MAX_EXPERTS)?,
                    first_k_dense_replace: 0,
                    bias: model_type == ModelType::GptOss,
                    shared_expert_gate: false,
                    routed_expert_hidden_size: None,
                    moe_layer_step: 1,
                    shared_expert_intermediate_size: None,
                    moe_latent_size: None,
                    num_hash_layers: 0,
                }
            }
            MlpConfig::QwenExperts => {
                if self.optional_u64("decoder_sparse_step")?.unwrap_or(1) != 1 {
                    return Err(self.invalid(
                        "decoder_sparse_step",
                        "only 1 (every layer MoE) is modelled".into(),
                    ));
                }
                if self
                    .value
                    .get("mlp_only_layers")
                    .and_then(Value::as_array)
                    .is_some_and(|l| !l.is_empty())
                {
                    return Err(self.invalid(
                        "mlp_only_layers",
                        "dense layers among MoE layers are not modelled".into(),
                    ));
                }
                let width = self.bounded("moe_intermediate_size", MAX_WIDTH)?;
                // Qwen's shared expert is one MLP of `shared_expert_intermediate_size`, counted
                // as that many experts' width.
                let shared = self
                    .optional_bounded("shared_expert_intermediate_size", MAX_WIDTH)?
                    .unwrap_or(0);
                if width > 0 && !shared.is_multiple_of(width) {
                    return Err(self.invalid(
                        "shared_expert_intermediate_size",
                        format!(
                            "{shared} is not a multiple of moe_intermediate_size ({width}); \
                             lwsplan counts the shared expert in experts' widths"
                        ),
                    ));
                }
                Mlp::Moe {
                    intermediate_size: self
                        .optional_bounded("intermediate_size", MAX_WIDTH)?
                        .unwrap_or(0),
                    moe_intermediate_size: width,
                    n_routed_experts: self.bounded("num_experts", MAX_EXPERTS)?,
                    n_shared_experts: shared.checked_div(width).unwrap_or(0),
                    num_experts_per_tok: self.bounded("num_experts_per_tok", MAX_EXPERTS)?,
                    first_k_dense_replace: 0,
                    bias: false,
                    shared_expert_gate: shared > 0,
                    routed_expert_hidden_size: None,
                    moe_layer_step: 1,
                    shared_expert_intermediate_size: None,
                    moe_latent_size: None,
                    num_hash_layers: 0,
                }
            }
            MlpConfig::DeepseekExperts => {
                if self.optional_u64("moe_layer_freq")?.unwrap_or(1) != 1 {
                    return Err(self.invalid(
                        "moe_layer_freq",
                        "only 1 (every layer after the dense ones) is modelled".into(),
                    ));
                }
                Mlp::Moe {
                    // DeepSeek-V4 routes every layer and has no dense width.
                    intermediate_size: if model_type == ModelType::DeepseekV4 {
                        self.optional_bounded("intermediate_size", MAX_WIDTH)?
                            .unwrap_or(0)
                    } else {
                        self.bounded("intermediate_size", MAX_WIDTH)?
                    },
                    moe_intermediate_size: self.bounded("moe_intermediate_size", MAX_WIDTH)?,
                    n_routed_experts: self.bounded("n_routed_experts", MAX_EXPERTS)?,
                    n_shared_experts: self
                        .optional_bounded("n_shared_experts", MAX_EXPERTS)?
                        .unwrap_or(0),
                    num_experts_per_tok: self.bounded("num_experts_per_tok", MAX_EXPERTS)?,
                    first_k_dense_replace: self
                        .optional_bounded("first_k_dense_replace", super::model::MAX_LAYERS)?
                        .unwrap_or(0),
                    bias: false,
                    shared_expert_gate: false,
                    routed_expert_hidden_size: None,
                    moe_layer_step: 1,
                    shared_expert_intermediate_size: None,
                    moe_latent_size: None,
                    num_hash_layers: if model_type == ModelType::DeepseekV4 {
                        self.optional_bounded("num_hash_layers", super::model::MAX_LAYERS)?
                            .unwrap_or(0)
                    } else {
                        0
                    },
                }
            }
            // Llama 4 (`Llama4MoE`, `vllm/model_executor/models/llama4.py`, vLLM 0.34.0): every
            // `interleave_moe_layer_step`-th layer routes to experts of `intermediate_size`
            // beside one shared expert as wide; the others are dense MLPs of
            // `intermediate_size_mlp`.
            MlpConfig::Llama4 => {
                let width = self.bounded("intermediate_size", MAX_WIDTH)?;
                Mlp::Moe {
                    intermediate_size: self
                        .optional_bounded("intermediate_size_mlp", MAX_WIDTH)?
                        .unwrap_or(width),
                    moe_intermediate_size: width,
                    n_routed_experts: self.bounded("num_local_experts", MAX_EXPERTS)?,
                    n_shared_experts: 1,
                    num_experts_per_tok: self.bounded("num_experts_per_tok", MAX_EXPERTS)?,
                    first_k_dense_replace: 0,
                    bias: false,
                    shared_expert_gate: false,
                    routed_expert_hidden_size: None,
                    moe_layer_step: self
                        .optional_bounded("interleave_moe_layer_step", super::model::MAX_LAYERS)?
                        .unwrap_or(1)
                        .max(1),
                    shared_expert_intermediate_size: None,
                    moe_latent_size: None,
                    num_hash_layers: 0,
                }
            }
            MlpConfig::KimiExperts => self.kimi_experts()?,
            MlpConfig::NemotronH => self.nemotron_h_mlp()?,
        })
    }

    /// NemotronH's feed-forward blocks (`NemotronHMoE`, `NemotronHMLP`,
    /// `vllm/model_executor/models/nemotron_h.py` @ 00b08dc44519a82cbdd9061d92d1226985094622):
    /// experts when the config has `n_routed_experts` (its `E` layers), their shared experts
    /// `moe_shared_expert_intermediate_size × n_shared_experts` wide, the routed ones in a
    /// `moe_latent_size` latent space where given; `intermediate_size` is the `-` layers' MLP.
    /// A list of widths (a heterogeneous "puzzle" model) is refused.
    fn nemotron_h_mlp(&self) -> Result<Mlp, ProfileError> {
        use super::model::{MAX_EXPERTS, MAX_WIDTH};
        let width = match self.value.get("intermediate_size") {
            Some(Value::Array(_)) => {
                return Err(self.invalid(
                    "intermediate_size",
                    "a width per MLP layer (a heterogeneous NemotronH) is not modelled".into(),
                ));
            }
            _ => self
                .optional_bounded("intermediate_size", MAX_WIDTH)?
                .unwrap_or(0),
        };
        let Some(experts) = self.optional_bounded("n_routed_experts", MAX_EXPERTS)? else {
            return Ok(Mlp::Dense {
                intermediate_size: width,
            });
        };
        let shared = self
            .optional_bounded("n_shared_experts", MAX_EXPERTS)?
            .unwrap_or(0);
        let shared_width = self
            .optional_bounded("moe_shared_expert_intermediate_size", MAX_WIDTH)?
            .unwrap_or(0);
        Ok(Mlp::Moe {
            intermediate_size: width,
            moe_intermediate_size: self.bounded("moe_intermediate_size", MAX_WIDTH)?,
            n_routed_experts: experts,
            n_shared_experts: shared,
            num_experts_per_tok: self.bounded("num_experts_per_tok", MAX_EXPERTS)?,
            first_k_dense_replace: 0,
            bias: false,
            shared_expert_gate: false,
            moe_layer_step: 1,
            shared_expert_intermediate_size: Some(shared_width * shared),
            moe_latent_size: self.optional_bounded("moe_latent_size", MAX_WIDTH)?,
            routed_expert_hidden_size: None,
            num_hash_layers: 0,
        })
    }

    /// NemotronH's blocks, one character a layer: `hybrid_override_pattern`, or the
    /// `layers_block_type` list newer configs carry instead (transformers' `NemotronHConfig`
    /// maps `mamba` → `M`, `attention` → `*`, `moe` → `E`, `mlp` → `-`; vLLM reads
    /// `config.hybrid_override_pattern`).
    fn hybrid_override_pattern(&self) -> Result<String, ProfileError> {
        let pattern = match (
            self.optional_string("hybrid_override_pattern"),
            self.value
                .get("layers_block_type")
                .and_then(Value::as_array),
        ) {
            (Some(pattern), _) => pattern,
            (None, Some(list)) => list
                .iter()
                .map(|t| match t.as_str() {
                    Some("mamba") => Ok('M'),
                    Some("attention") => Ok('*'),
                    Some("moe") => Ok('E'),
                    Some("mlp") => Ok('-'),
                    _ => Err(self.invalid(
                        "layers_block_type",
                        format!(
                            "{} is not mamba, attention, moe or mlp",
                            crate::error::truncate(&t.to_string(), 40)
                        ),
                    )),
                })
                .collect::<Result<String, _>>()?,
            (None, None) => {
                return Err(self.invalid(
                    "hybrid_override_pattern",
                    "missing (and no layers_block_type): the blocks of the layers".into(),
                ));
            }
        };
        let layers = pattern.chars().count() as u64;
        if layers == 0 || layers > super::model::MAX_LAYERS {
            return Err(self.invalid(
                "hybrid_override_pattern",
                format!(
                    "has {layers} layers; lwsplan takes 1 to {}",
                    super::model::MAX_LAYERS
                ),
            ));
        }
        if let Some(n) = self.optional_u64("num_hidden_layers")?
            && n != layers
        {
            return Err(self.invalid(
                "num_hidden_layers",
                format!("is {n}; the layers' blocks list {layers}"),
            ));
        }
        Ok(pattern)
    }

    /// NemotronH's Mamba-2 mixer (`NemotronHMambaDecoderLayer`). Its recurrent state is kept in
    /// `mamba_ssm_cache_dtype`, `float32` when the config has none
    /// (`NemotronHForCausalLMConfig.update_mamba_ssm_cache_dtype`,
    /// `vllm/model_executor/models/config.py`, vLLM 0.34.0, lines 1143-1170).
    fn mamba2(&self) -> Result<LinearAttention, ProfileError> {
        use super::model::MAX_WIDTH;
        let ssm_dtype = match self.optional_string("mamba_ssm_cache_dtype") {
            Some(name) => self.parse_dtype("mamba_ssm_cache_dtype", &name)?,
            None => Dtype::Float32,
        };
        Ok(LinearAttention::Mamba2 {
            mamba_num_heads: self.bounded("mamba_num_heads", MAX_WIDTH)?,
            mamba_head_dim: self.bounded("mamba_head_dim", MAX_WIDTH)?,
            n_groups: self.bounded("n_groups", MAX_WIDTH)?,
            ssm_state_size: self.bounded("ssm_state_size", MAX_WIDTH)?,
            conv_kernel: self.bounded("conv_kernel", MAX_WIDTH)?,
            use_conv_bias: self.value.get("use_conv_bias").and_then(Value::as_bool) != Some(false),
            mamba_ssm_cache_dtype: Some(ssm_dtype),
        })
    }

    /// Kimi-Linear's `KimiMoE` (`vllm/model_executor/models/kimi_linear.py` @
    /// 01d995867291dd13119ea66cd18e3c9c9b51c50e): a replicated router, `num_experts` fused
    /// experts of `moe_intermediate_size`, one shared MLP of `num_shared_experts ×
    /// moe_intermediate_size`; layers from `first_k_dense_replace` on route when `layer_idx %
    /// moe_layer_freq == 0`, which only `moe_layer_freq` 1 makes lwsplan's "every layer
    /// after the dense ones". Kimi-K3 adds `routed_expert_hidden_size`, its latent.
    fn kimi_experts(&self) -> Result<Mlp, ProfileError> {
        use super::model::{MAX_EXPERTS, MAX_LAYERS, MAX_WIDTH};
        if self.optional_u64("moe_layer_freq")?.unwrap_or(1) != 1 {
            return Err(self.invalid(
                "moe_layer_freq",
                "only 1 (every layer after the dense ones) is modelled".into(),
            ));
        }
        Ok(Mlp::Moe {
            intermediate_size: self.bounded("intermediate_size", MAX_WIDTH)?,
            moe_intermediate_size: self.bounded("moe_intermediate_size", MAX_WIDTH)?,
            n_routed_experts: self.bounded("num_experts", MAX_EXPERTS)?,
            n_shared_experts: self
                .optional_bounded("num_shared_experts", MAX_EXPERTS)?
                .unwrap_or(0),
            num_experts_per_tok: self.bounded("num_experts_per_token", MAX_EXPERTS)?,
            first_k_dense_replace: self
                .optional_bounded("first_k_dense_replace", MAX_LAYERS)?
                .unwrap_or(0),
            bias: false,
            shared_expert_gate: false,
            moe_layer_step: 1,
            routed_expert_hidden_size: self
                .optional_bounded("routed_expert_hidden_size", MAX_WIDTH)?,
            shared_expert_intermediate_size: None,
            moe_latent_size: None,
            num_hash_layers: 0,
        })
    }

    /// `linear_attn_config`, the map Kimi's configs describe their KDA layers in.
    fn linear_attn_config(&self) -> Result<Config<'_>, ProfileError> {
        let value = self
            .value
            .get("linear_attn_config")
            .filter(|v| v.is_object())
            .ok_or_else(|| self.invalid("linear_attn_config", "missing or not a map".into()))?;
        Ok(Config {
            value,
            origin: self.origin,
            prefix: if self.prefix.is_empty() {
                "linear_attn_config."
            } else {
                "text_config.linear_attn_config."
            },
        })
    }

    /// The KDA mixer from `linear_attn_config` (`KimiDeltaAttention.__init__`,
    /// `vllm/model_executor/layers/kda.py` @ 01a7e5d91d42e6232d746d12f898a590f1ee77f9: `num_heads`,
    /// `head_dim`, `short_conv_kernel_size`; Kimi-K3's `use_full_rank_gate`).
    fn kimi_delta_attention(&self) -> Result<LinearAttention, ProfileError> {
        use super::model::MAX_WIDTH;
        let kda = self.linear_attn_config()?;
        Ok(LinearAttention::KimiDeltaAttention {
            num_heads: kda.bounded("num_heads", MAX_WIDTH)?,
            head_dim: kda.bounded("head_dim", MAX_WIDTH)?,
            short_conv_kernel_size: kda.bounded("short_conv_kernel_size", MAX_WIDTH)?,
            use_full_rank_gate: kda
                .value
                .get("use_full_rank_gate")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }

    /// `max_position_embeddings`; for Kimi's KDA models, whose published configs may carry
    /// only `model_max_length` (Kimi-Linear's), that: vLLM derives the context from the first
    /// of several keys it finds, `model_max_length` among them (`_get_and_verify_max_len`,
    /// `vllm/config/model.py`).
    fn max_position_embeddings(&self, model_type: ModelType) -> Result<u64, ProfileError> {
        use super::model::MAX_CONTEXT;
        match self.optional_bounded("max_position_embeddings", MAX_CONTEXT)? {
            Some(n) => Ok(n),
            None if model_type.kimi_delta_attention() => {
                match self.optional_bounded("model_max_length", MAX_CONTEXT)? {
                    Some(n) => Ok(n),
                    None => Err(self.invalid(
                        "max_position_embeddings",
                        "missing, and so is model_max_length".into(),
                    )),
                }
            }
            None => self.bounded("max_position_embeddings", MAX_CONTEXT),
        }
    }

    /// The gated DeltaNet mixer. Qwen3.5's multimodal classes apply the text config's
    /// `mamba_ssm_dtype` to the recurrent state (`Qwen3_5ForConditionalGenerationConfig.
    /// verify_and_update_config`, `vllm/model_executor/models/config.py`, vLLM 0.34.0, line
    /// 1293); Qwen3-Next and the text-only classes keep it in the model dtype.
    fn gated_delta_net(
        &self,
        model_type: ModelType,
        root: &Config<'_>,
    ) -> Result<LinearAttention, ProfileError> {
        use super::model::MAX_WIDTH;
        let applies_ssm_dtype = model_type != ModelType::Qwen3Next
            && root.architecture().ends_with("ForConditionalGeneration");
        let mamba_ssm_dtype = match self.optional_string("mamba_ssm_dtype") {
            Some(name) if applies_ssm_dtype => Some(self.parse_dtype("mamba_ssm_dtype", &name)?),
            _ => None,
        };
        Ok(LinearAttention::GatedDeltaNet {
            linear_num_key_heads: self.bounded("linear_num_key_heads", MAX_WIDTH)?,
            linear_num_value_heads: self.bounded("linear_num_value_heads", MAX_WIDTH)?,
            linear_key_head_dim: self.bounded("linear_key_head_dim", MAX_WIDTH)?,
            linear_value_head_dim: self.bounded("linear_value_head_dim", MAX_WIDTH)?,
            linear_conv_kernel_dim: self.bounded("linear_conv_kernel_dim", MAX_WIDTH)?,
            mamba_ssm_dtype,
        })
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
            Some(v) => v.as_u64().map(Some).ok_or_else(|| {
                let shown = crate::error::truncate(&v.to_string(), 80);
                self.invalid(field, format!("{shown} is not a whole number"))
            }),
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
        match name {
            None => Ok(Dtype::Bfloat16),
            Some(name) => self.parse_dtype("torch_dtype", &name),
        }
    }

    fn parse_dtype(&self, field: &str, name: &str) -> Result<Dtype, ProfileError> {
        match name {
            "bfloat16" => Ok(Dtype::Bfloat16),
            "float16" => Ok(Dtype::Float16),
            "float32" => Ok(Dtype::Float32),
            other => Err(self.invalid(
                field,
                format!("`{other}` is not bfloat16, float16 or float32"),
            )),
        }
    }

    /// `quantization_config`, at the top of the config or, for a multimodal config, in its
    /// `text_config` (where vLLM also looks: `weight_utils.py` `get_quant_config`, v0.28.0).
    fn quantization(&self) -> Result<Option<Quantization>, ProfileError> {
        let present = |v: &&Value| !v.is_null();
        let Some(q) = self
            .value
            .get("quantization_config")
            .filter(present)
            .or_else(|| {
                self.value
                    .pointer("/text_config/quantization_config")
                    .filter(present)
            })
        else {
            return Ok(None);
        };
        self.quantization_of(q)
    }

    fn quantization_of(&self, q: &Value) -> Result<Option<Quantization>, ProfileError> {
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
        if method == "compressed-tensors" {
            return self
                .compressed_tensors(q, self.module_list(q, "quantization_config", "ignore")?);
        }
        if method == "modelopt" {
            // ModelOpt ≥ 0.31 writes its config into config.json: `quant_algo`, `ignore`, and
            // `kv_cache_scheme` (`modelopt.py` `ModelOptQuantConfigBase.from_config`, v0.28.0).
            let fp8_kv = q.get("kv_cache_scheme").is_some_and(|k| {
                k.get("type").and_then(Value::as_str) == Some("float")
                    && k.get("num_bits").and_then(Value::as_u64) == Some(8)
            });
            let group = q.get("group_size").and_then(Value::as_u64).or_else(|| {
                q.get("config_groups")
                    .and_then(Value::as_object)
                    .and_then(|g| g.values().find_map(|v| v.pointer("/weights/group_size")))
                    .and_then(Value::as_u64)
            });
            return self.modelopt(
                "quantization_config",
                q.get("quant_algo").and_then(Value::as_str),
                group,
                self.module_list(q, "quantization_config", "ignore")?,
                fp8_kv,
            );
        }
        if method != "fp8" && method != "fbgemm_fp8" {
            return Err(self.invalid(
                "quantization_config.quant_method",
                format!("`{method}` is not modelled yet; lwsplan models fp8, fbgemm_fp8, compressed-tensors (FP8, or 4-bit integer groups), modelopt (NVFP4, FP8), awq and gptq (4-bit), mxfp4 and unquantized checkpoints"),
            ));
        }
        let modules_to_not_convert =
            self.module_list(q, "quantization_config", "modules_to_not_convert")?;
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
            fp8_kv_cache: false,
            moe_quant_algo: None,
        }))
    }

    /// A ModelOpt checkpoint: NVFP4 (`modelopt_fp4` in vLLM) or FP8 per tensor; `where_`
    /// names the object the fields came from, for errors.
    fn modelopt(
        &self,
        where_: &str,
        algo: Option<&str>,
        group: Option<u64>,
        exclude_modules: Vec<String>,
        fp8_kv_cache: bool,
    ) -> Result<Option<Quantization>, ProfileError> {
        match algo.map(str::to_ascii_uppercase).as_deref() {
            Some("NVFP4") => Ok(Some(Quantization::ModeloptFp4 {
                // ModelOpt's NVFP4 groups are 16 wide; configs that omit it mean that.
                group_size: group.unwrap_or(16),
                exclude_modules,
                fp8_kv_cache,
            })),
            // Per-tensor FP8: lwsplan counts a scale per row, a few MiB more.
            Some("FP8") => Ok(Some(Quantization::Fp8 {
                weight_block_size: None,
                modules_to_not_convert: exclude_modules,
                fp8_kv_cache,
                moe_quant_algo: None,
            })),
            other => Err(self.invalid(
                &format!("{where_}.quant_algo"),
                format!(
                    "ModelOpt's `{}` is not modelled; lwsplan models NVFP4 and FP8 (a mixed \
                     checkpoint's per-layer formats are not)",
                    other.unwrap_or("(missing)")
                ),
            )),
        }
    }

    /// A module list of a quantization config (`modules_to_not_convert`, `ignore`,
    /// `exclude_modules`), in the names lwsplan matches: multimodal prefixes dropped
    /// (`language_model.model.layers.` and `model.language_model.layers.` are the text model's
    /// `model.layers.`), compressed-tensors' `re:` patterns written as wildcards. A pattern
    /// lwsplan cannot read exactly is refused by name.
    fn module_list(&self, q: &Value, where_: &str, key: &str) -> Result<Vec<String>, ProfileError> {
        let field = format!("{where_}.{key}");
        let Some(list) = q.get(key).filter(|v| !v.is_null()) else {
            return Ok(Vec::new());
        };
        let list = list
            .as_array()
            .ok_or_else(|| self.invalid(&field, "expected a list of module names".into()))?;
        let mut modules = Vec::new();
        for m in list {
            let Some(name) = m.as_str() else {
                return Err(self.invalid(&field, format!("{m} is not a module name")));
            };
            let patterns = match name.strip_prefix("re:") {
                Some(regex) => regex_as_wildcards(regex).ok_or_else(|| {
                    self.invalid(
                        &field,
                        format!(
                            "the pattern `{}` uses regular-expression syntax lwsplan does not \
                             expand (it reads literals, `.`, `.*`, `\\.` and groups of \
                             alternatives); list the modules by name in a model profile",
                            crate::error::truncate(name, 80)
                        ),
                    )
                })?,
                None if name.contains(['[', ']']) => {
                    return Err(self.invalid(
                        &field,
                        format!(
                            "the pattern `{}` has a character class, which lwsplan does not \
                             expand; list the modules by name in a model profile",
                            crate::error::truncate(name, 80)
                        ),
                    ));
                }
                None => vec![name.to_string()],
            };
            modules.extend(patterns.into_iter().map(|p| text_model_name(&p)));
        }
        Ok(modules)
    }

    /// compressed-tensors: one scheme for every quantized layer, FP8 (per tensor, per channel
    /// or in blocks) or 4-bit integer groups (`pack-quantized`; `mxfp4-pack-quantized` is
    /// vLLM's `mxfp4`, experts only), with its `ignore` list. Other schemes are refused by
    /// name.
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
                    "{} weight schemes; lwsplan models one scheme for every quantized layer",
                    weights.len()
                ),
            ));
        };
        let bits = w.get("num_bits").and_then(Value::as_u64);
        let kind = w.get("type").and_then(Value::as_str);
        let format = q.get("format").and_then(Value::as_str);
        match (bits, kind) {
            (Some(8), Some("float")) => {}
            // vLLM loads Kimi-K3's MXFP4 experts as `mxfp4` (`models/config.py`, v0.28.0).
            (Some(4), Some("float")) if format == Some("mxfp4-pack-quantized") => {
                return Ok(Some(Quantization::Mxfp4));
            }
            (Some(4), Some("int")) => return self.compressed_int4(w, ignore),
            _ => {
                return Err(self.invalid(
                    "quantization_config.config_groups",
                    format!(
                        "compressed-tensors weights of {} bits, type {}: lwsplan models its FP8 \
                         scheme (8-bit float) and 4-bit integer groups only",
                        bits.map_or("?".into(), |b| b.to_string()),
                        kind.unwrap_or("?")
                    ),
                ));
            }
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
            fp8_kv_cache: false,
            moe_quant_algo: None,
        }))
    }

    /// compressed-tensors' W4A16 groups (Kimi-K2.5): packed 4-bit integers, a scale per
    /// group, symmetric or with zero points.
    fn compressed_int4(
        &self,
        w: &Value,
        ignore: Vec<String>,
    ) -> Result<Option<Quantization>, ProfileError> {
        let field = "quantization_config.config_groups.weights";
        if w.get("strategy").and_then(Value::as_str) != Some("group") {
            return Err(self.invalid(
                &format!("{field}.strategy"),
                "4-bit integer weights are modelled with group scales (`strategy: group`) only"
                    .into(),
            ));
        }
        let group_size = w
            .get("group_size")
            .and_then(Value::as_u64)
            .filter(|g| *g > 0)
            .ok_or_else(|| {
                self.invalid(
                    &format!("{field}.group_size"),
                    "expected a positive group size".into(),
                )
            })?;
        if w.get("actorder").is_some_and(|a| !a.is_null()) {
            return Err(self.invalid(
                &format!("{field}.actorder"),
                "activation-ordered groups (a g_idx per input) are not modelled".into(),
            ));
        }
        let scale_dtype = match w.get("scale_dtype").filter(|v| !v.is_null()) {
            None => None,
            Some(v) => match v.as_str().map(|s| s.trim_start_matches("torch.")) {
                Some("bfloat16") => Some(Dtype::Bfloat16),
                Some("float16") => Some(Dtype::Float16),
                Some("float32") => Some(Dtype::Float32),
                _ => {
                    return Err(self.invalid(
                        &format!("{field}.scale_dtype"),
                        format!("{v} is not bfloat16, float16 or float32"),
                    ));
                }
            },
        };
        Ok(Some(Quantization::CompressedTensors {
            num_bits: 4,
            group_size,
            symmetric: w.get("symmetric").and_then(Value::as_bool).unwrap_or(true),
            scale_dtype,
            ignore,
        }))
    }

    fn attention_bias(&self) -> bool {
        self.value.get("attention_bias").and_then(Value::as_bool) == Some(true)
    }

    /// How each layer attends: `layer_types` when the config lists them; for Qwen3-Next without
    /// them, every `full_attention_interval`-th layer full and the others linear; every layer
    /// sliding for a Mistral-style config with an active `sliding_window`; all full otherwise.
    /// Qwen's `use_sliding_window` with `max_window_layers` is refused (not modelled).
    fn attention_layers(
        &self,
        model_type: ModelType,
        layers: u64,
    ) -> Result<(Vec<LayerType>, Option<u64>), ProfileError> {
        if model_type.kimi_delta_attention() {
            return Ok((self.kda_layers(layers)?, None));
        }
        let window = self.value.get("sliding_window").and_then(Value::as_u64);
        if let Some(types) = self.value.get("layer_types").and_then(Value::as_array) {
            if types.len() as u64 != layers {
                return Err(self.invalid(
                    "layer_types",
                    format!(
                        "lists {} layers; num_hidden_layers is {layers}",
                        types.len()
                    ),
                ));
            }
            let types = types
                .iter()
                .map(|t| match t.as_str() {
                    Some("full_attention") => Ok(LayerType::FullAttention),
                    Some("sliding_attention") => Ok(LayerType::SlidingAttention),
                    Some("linear_attention") if model_type.gated_delta_net() => {
                        Ok(LayerType::LinearAttention)
                    }
                    _ => Err(self.invalid(
                        "layer_types",
                        format!(
                            "{t} is not {}",
                            if model_type.gated_delta_net() {
                                "full_attention or linear_attention"
                            } else {
                                "full_attention or sliding_attention"
                            }
                        ),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?;
            let window = window.filter(|_| types.contains(&LayerType::SlidingAttention));
            return Ok((types, window));
        }
        if model_type == ModelType::Llama4 {
            // transformers' Llama4TextConfig: `no_rope_layers[i] = int((i + 1) % 4 != 0)`;
            // vLLM gives RoPE layers chunked local attention, NoPE layers full attention
            // (`Llama4Attention`, `vllm/model_executor/models/llama4.py`, vLLM 0.34.0).
            let rope: Vec<bool> = match self.value.get("no_rope_layers").and_then(Value::as_array) {
                Some(list) if list.len() as u64 == layers => {
                    list.iter().map(|v| v.as_u64() != Some(0)).collect()
                }
                Some(list) => {
                    return Err(self.invalid(
                        "no_rope_layers",
                        format!("lists {} layers; num_hidden_layers is {layers}", list.len()),
                    ));
                }
                None => (0..layers).map(|i| (i + 1) % 4 != 0).collect(),
            };
            let chunked = self.optional_u64("attention_chunk_size")?.is_some();
            let types = rope
                .into_iter()
                .map(|r| {
                    if r && chunked {
                        LayerType::ChunkedAttention
                    } else {
                        LayerType::FullAttention
                    }
                })
                .collect();
            return Ok((types, None));
        }
        if model_type.gated_delta_net() {
            // transformers' Qwen3NextConfig: `layer_types[i] = full if (i + 1) % interval == 0`.
            let interval = self
                .optional_bounded("full_attention_interval", super::model::MAX_LAYERS)?
                .unwrap_or(4)
                .max(1);
            let types = (0..layers)
                .map(|i| {
                    if (i + 1) % interval == 0 {
                        LayerType::FullAttention
                    } else {
                        LayerType::LinearAttention
                    }
                })
                .collect();
            return Ok((types, None));
        }
        // DeepSeek-V4: every layer attends to its window beside its compressed context; the
        // attention kind carries it (`Attention::CompressedSparseMla`).
        if model_type == ModelType::DeepseekV4 {
            return Ok((Vec::new(), window));
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
                if matches!(model_type, ModelType::Mistral | ModelType::Mixtral) {
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

impl Config<'_> {
    /// Which layers are KDA: layer `i` (from 0) is when `i + 1` is in
    /// `linear_attn_config.kda_layers` (`KimiLinearConfig.is_kda_layer`,
    /// `vllm/transformers_utils/configs/kimi_linear.py`, v0.28.0, lines 157-161); every other
    /// layer is MLA. An index
    /// outside `1..=num_hidden_layers` is refused: vLLM would silently build no such layer.
    fn kda_layers(&self, layers: u64) -> Result<Vec<LayerType>, ProfileError> {
        let kda = self.linear_attn_config()?;
        let list = kda
            .value
            .get("kda_layers")
            .and_then(Value::as_array)
            .ok_or_else(|| kda.invalid("kda_layers", "missing or not a list".into()))?;
        let mut types = vec![LayerType::FullAttention; layers as usize];
        for entry in list {
            match entry.as_u64() {
                Some(i) if (1..=layers).contains(&i) => {
                    types[(i - 1) as usize] = LayerType::LinearAttention;
                }
                _ => {
                    return Err(kda.invalid(
                        "kda_layers",
                        format!(
                            "{} is not a layer number from 1 to num_hidden_layers ({layers}); the list \
                             counts layers from 1",
                            crate::error::truncate(&entry.to_string(), 40)
                        ),
                    ));
                }
            }
        }
        if !types.contains(&LayerType::LinearAttention) {
            return Err(kda.invalid(
                "kda_layers",
                "lists no layer: a model without KDA layers is not a kimi_linear hybrid".into(),
            ));
        }
        Ok(types)
    }
}

/// Kimi-K2.5's MoonViT tower from its `vision_config` (`vt_*` fields, `patchmerger`
/// projector), for the `kimi_k25` reader: encoder layers as [`VisionTower`] counts them, and
/// outside them the patch embedding `Conv2d(3, h, patch_size)` with bias, the learned
/// `init_pos_emb_height × init_pos_emb_width` position embedding, the encoder's final
/// LayerNorm and the projector (LayerNorm, `linear_1` 4h → 4h and `linear_2` 4h → text hidden
/// size, both with bias, after a `merge_kernel_size` 2 × 2 merge) (`kimi_k25_vit.py`,
/// v0.28.0; the time embedding is a fixed buffer, not a parameter). Other projectors are
/// refused by name.
pub(crate) fn moonvit_tower(vision: &Value, text_hidden: u64) -> Result<VisionTower, String> {
    let field = |name: &str| vision_field(vision, name, None);
    match vision.get("mm_projector_type").and_then(Value::as_str) {
        None | Some("patchmerger") => {}
        Some(other) => {
            return Err(format!(
                "mm_projector_type: `{other}` is not modelled (patchmerger is)"
            ));
        }
    }
    let hidden = field("vt_hidden_size")?;
    let kernel = match vision.get("merge_kernel_size").and_then(Value::as_array) {
        Some(k) => k.iter().try_fold(1u128, |product, side| {
            side.as_u64()
                .filter(|&s| s > 0 && s <= super::model::MAX_WIDTH)
                .and_then(|s| product.checked_mul(u128::from(s)))
                .ok_or_else(|| "merge_kernel_size: not a list of small whole numbers".to_string())
        })?,
        None => 4,
    };
    let merged = u128::from(checked_width(
        kernel.saturating_mul(u128::from(hidden)),
        "merge_kernel_size × vt_hidden_size",
    )?);
    let (h, text) = (u128::from(hidden), u128::from(text_hidden));
    let patch = u128::from(field("patch_size")?);
    let position =
        u128::from(field("init_pos_emb_height")?) * u128::from(field("init_pos_emb_width")?) * h;
    let replicated = (3 * patch * patch * h + h)
        + position
        + 2 * h
        + 2 * h
        + (merged * merged + merged)
        + (text * merged + text);
    Ok(VisionTower {
        num_hidden_layers: field("vt_num_hidden_layers")?,
        hidden_size: hidden,
        intermediate_size: field("vt_intermediate_size")?,
        num_attention_heads: field("vt_num_attention_heads")?,
        replicated_parameters: checked_parameters(replicated)?,
        parallel_linears: Vec::new(),
    })
}

/// The vision tower vLLM loads beside a multimodal config's language model (absent when the
/// config has no `vision_config`: nothing to load). Kimi-K2.5, Qwen3.5 and Llama 4 are read
/// here; other towers are not counted yet.
fn vision_tower(
    model_type: ModelType,
    root: &Config<'_>,
    text_hidden: u64,
) -> Result<Option<VisionTower>, ProfileError> {
    let Some(vision) = root.value.get("vision_config").filter(|v| v.is_object()) else {
        return Ok(None);
    };
    let tower = match model_type {
        ModelType::KimiK25 => moonvit_tower(vision, text_hidden),
        ModelType::Qwen35 | ModelType::Qwen35Moe => qwen3_vl_tower(vision, text_hidden),
        ModelType::Llama4 => llama4_vision_tower(vision, text_hidden),
        _ => return Ok(None),
    };
    tower
        .map(Some)
        .map_err(|message| root.invalid("vision_config", message))
}

/// A `vision_config` count, bounded like the language model's widths so that nothing sized
/// from it can overflow; `default` where the config class has one.
fn vision_field(vision: &Value, name: &str, default: Option<u64>) -> Result<u64, String> {
    let value = match vision.get(name) {
        None if default.is_some() => return Ok(default.unwrap_or_default()),
        v => v
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("{name}: missing or not a whole number"))?,
    };
    if value == 0 || value > super::model::MAX_WIDTH {
        return Err(format!(
            "{name}: {value} is outside 1..={}, beyond any real model",
            super::model::MAX_WIDTH
        ));
    }
    Ok(value)
}

/// Qwen3.5's vision encoder, vLLM's `Qwen3_VisionTransformer` (`qwen3_vl.py`, built by
/// `Qwen3_5ForConditionalGeneration` in `qwen3_5.py`): `depth` pre-norm blocks of the
/// [`VisionTower`] shape (qkv `QKVParallelLinear` and `proj` with biases, a non-gated MLP
/// `linear_fc1` / `linear_fc2` with biases, two LayerNorms); outside them the patch embedding
/// `Conv3d(in_channels, h, (temporal_patch_size, patch_size, patch_size))` with bias and the
/// learned `num_position_embeddings × h` position embedding, whole on every rank, and the
/// patch merger — a LayerNorm over h, `linear_fc1` (`ColumnParallelLinear` 4h → 4h, bias) and
/// `linear_fc2` (`RowParallelLinear` 4h → `out_hidden_size`, bias) after a
/// `spatial_merge_size`² merge — plus one more merger per `deepstack_visual_indexes` entry,
/// normed after the merge (over 4h) (vllm-project/vllm `vllm/model_executor/models/qwen3_vl.py`
/// at 002d7b939754b844a3832dd7fbf9e5fd0c0e9f1b).
fn qwen3_vl_tower(vision: &Value, text_hidden: u64) -> Result<VisionTower, String> {
    let field = |name: &str| vision_field(vision, name, None);
    let h = field("hidden_size")?;
    let out = match vision.get("out_hidden_size") {
        None => text_hidden,
        Some(_) => field("out_hidden_size")?,
    };
    let merge = vision_field(vision, "spatial_merge_size", Some(2))?;
    let merged = u128::from(merge) * u128::from(merge) * u128::from(h);
    let deepstack = vision
        .get("deepstack_visual_indexes")
        .and_then(Value::as_array)
        .map_or(0, |d| d.len() as u128);
    let patch = u128::from(field("patch_size")?);
    let patch_embed = u128::from(vision_field(vision, "in_channels", Some(3))?)
        * u128::from(vision_field(vision, "temporal_patch_size", Some(2))?)
        * patch
        * patch
        * u128::from(h)
        + u128::from(h);
    let position = u128::from(field("num_position_embeddings")?) * u128::from(h);
    // The main merger's LayerNorm is over h, a deepstack merger's over the merged 4h.
    let norms = 2 * u128::from(h) + deepstack * 2 * merged;
    let replicated = checked_parameters(patch_embed + position + norms)?;
    let merged = checked_width(merged, "spatial_merge_size² × hidden_size")?;
    let merger = [
        VisionLinear {
            parallel: VisionParallel::Column,
            input_size: merged,
            output_size: merged,
            bias: true,
        },
        VisionLinear {
            parallel: VisionParallel::Row,
            input_size: merged,
            output_size: out,
            bias: true,
        },
    ];
    Ok(VisionTower {
        num_hidden_layers: field("depth")?,
        hidden_size: h,
        intermediate_size: field("intermediate_size")?,
        num_attention_heads: field("num_heads")?,
        replicated_parameters: replicated,
        parallel_linears: merger
            .iter()
            .cycle()
            .take(2 * (1 + deepstack as usize))
            .copied()
            .collect(),
    })
}

/// Llama 4's vision model, vLLM's `Llama4VisionModel` and `Llama4MultiModalProjector`
/// (`mllama4.py`, built unquantized): `num_hidden_layers` encoder layers of the
/// [`VisionTower`] shape (qkv and `o_proj` with biases, MLP `fc1` / `fc2` with biases, two
/// LayerNorms); whole on every rank the class embedding (h), the position embedding
/// (`(image_size / patch_size)² + 1` × h) and `layernorm_pre` / `layernorm_post`; split by TP
/// the patch embedding (an unfold and a `ColumnParallelLinear` `num_channels · patch_size²` →
/// h, no bias), the pixel-shuffle adapter (`fc1` column-parallel `intermediate_size` →
/// `projector_input_dim`, `fc2` row-parallel → `projector_output_dim`, biases per
/// `multi_modal_projector_bias`) and the projector `linear_1` (column-parallel
/// `vision_output_dim` → the text hidden size, no bias) (vllm-project/vllm
/// `vllm/model_executor/models/mllama4.py` at 00dd54939bec83c9db7221c28d22060999edff4f).
fn llama4_vision_tower(vision: &Value, text_hidden: u64) -> Result<VisionTower, String> {
    let field = |name: &str| vision_field(vision, name, None);
    let h = field("hidden_size")?;
    let intermediate = field("intermediate_size")?;
    let patch = field("patch_size")?;
    let patches = field("image_size")? / patch;
    let bias = vision
        .get("multi_modal_projector_bias")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let (adapter_in, adapter_out) = (
        field("projector_input_dim")?,
        field("projector_output_dim")?,
    );
    let unfolded = u128::from(vision_field(vision, "num_channels", Some(3))?)
        * u128::from(patch)
        * u128::from(patch);
    let position = (u128::from(patches) * u128::from(patches) + 1) * u128::from(h);
    let replicated = checked_parameters(u128::from(h) + position + 4 * u128::from(h))?;
    Ok(VisionTower {
        num_hidden_layers: field("num_hidden_layers")?,
        hidden_size: h,
        intermediate_size: intermediate,
        num_attention_heads: field("num_attention_heads")?,
        replicated_parameters: replicated,
        parallel_linears: vec![
            VisionLinear {
                parallel: VisionParallel::Column,
                input_size: checked_width(unfolded, "num_channels × patch_size²")?,
                output_size: h,
                bias: false,
            },
            VisionLinear {
                parallel: VisionParallel::Column,
                input_size: intermediate,
                output_size: adapter_in,
                bias,
            },
            VisionLinear {
                parallel: VisionParallel::Row,
                input_size: adapter_in,
                output_size: adapter_out,
                bias,
            },
            VisionLinear {
                parallel: VisionParallel::Column,
                input_size: field("vision_output_dim")?,
                output_size: text_hidden,
                bias: false,
            },
        ],
    })
}

/// A tower's parameter count, within what a profile accepts.
fn checked_parameters(n: u128) -> Result<u64, String> {
    let max = super::model::MAX_WIDTH * super::model::MAX_WIDTH;
    u64::try_from(n)
        .ok()
        .filter(|&n| n <= max)
        .ok_or_else(|| format!("{n} parameters outside the encoder layers: beyond any real model"))
}

/// A width computed from `vision_config` fields, within what a profile accepts.
fn checked_width(n: u128, what: &str) -> Result<u64, String> {
    u64::try_from(n)
        .ok()
        .filter(|&n| n <= super::model::MAX_WIDTH)
        .ok_or_else(|| format!("{what} = {n}: beyond any real model"))
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

/// The model of `tests/fixtures/hf/NAME/config.json`, served as `a/b`: for unit tests elsewhere
/// in the crate.
#[cfg(test)]
pub(crate) fn fixture(name: &str) -> ModelProfile {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hf")
        .join(name)
        .join("config.json");
    ModelProfile::from_hf_config_file(&path, Some("a/b")).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// compressed-tensors' `re:` patterns as wildcards: Kimi-K2.5's ignore list (its
    /// config.json), and the syntax that is refused rather than guessed.
    #[test]
    fn regular_expressions_become_wildcards() {
        let cases: [(&str, Option<&[&str]>); 9] = [
            (".*self_attn.*", Some(&["*self_attn*"])),
            (".*shared_experts.*", Some(&["*shared_experts*"])),
            (
                r".*mlp\.(gate|up|gate_up|down)_proj.*",
                Some(&[
                    "*mlp.gate_proj*",
                    "*mlp.up_proj*",
                    "*mlp.gate_up_proj*",
                    "*mlp.down_proj*",
                ]),
            ),
            (r"^model\.layers\.0\..*$", Some(&["model.layers.0.*"])),
            ("lm_head$", Some(&["lm_head"])),
            (
                r"model\.layers\.(1)?0",
                Some(&["model.layers.10*", "model.layers.0*"]),
            ),
            (r"layers\.[0-9]+", None),
            (r"layers\.\d", None),
            ("a+", None),
        ];
        for (regex, want) in cases {
            let got = regex_as_wildcards(regex);
            let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(got, want, "{regex}");
        }
        // Alternatives multiply; past the cap the pattern is refused.
        assert!(regex_as_wildcards(&"(a|b|c|d)".repeat(4)).is_none());
    }

    /// Kimi-K2.5's `vision_config` (its config.json) gives the tower the built-in profile
    /// declares: 59,677,312 parameters outside 27 encoder layers.
    #[test]
    fn kimi_k25_vision_config_reads_as_its_tower() {
        let vision: Value = serde_json::json!({
            "init_pos_emb_height": 64, "init_pos_emb_time": 4, "init_pos_emb_width": 64,
            "merge_kernel_size": [2, 2], "mm_hidden_size": 1152,
            "mm_projector_type": "patchmerger", "patch_size": 14,
            "pos_emb_type": "divided_fixed", "text_hidden_size": 7168,
            "vt_hidden_size": 1152, "vt_intermediate_size": 4304,
            "vt_num_attention_heads": 16, "vt_num_hidden_layers": 27
        });
        let tower = moonvit_tower(&vision, 7168).unwrap();
        let builtin = crate::Catalog::builtin().model("kimi-k2.5").unwrap();
        assert_eq!(Some(&tower), builtin.vision_tower.as_ref());
        let mut v2 = vision.clone();
        v2["mm_projector_type"] = "patchmergerv2".into();
        assert!(
            moonvit_tower(&v2, 7168)
                .unwrap_err()
                .contains("patchmergerv2")
        );
    }

    /// Qwen3.5's and Llama 4's `vision_config` (their config.json files) read as the towers
    /// vLLM builds, parameter for parameter (sums worked by hand from the module lists in the
    /// readers' doc comments), and as one rank of TP 8 holds them.
    #[test]
    fn qwen3_5_and_llama_4_vision_configs_read_as_their_towers() {
        let qwen = |out: u64| {
            serde_json::json!({
                "deepstack_visual_indexes": [], "depth": 27, "hidden_size": 1152,
                "in_channels": 3, "intermediate_size": 4304, "num_heads": 16,
                "num_position_embeddings": 2304, "out_hidden_size": out, "patch_size": 16,
                "spatial_merge_size": 2, "temporal_patch_size": 2
            })
        };
        let llama4 = serde_json::json!({
            "hidden_size": 1408, "image_size": 336, "intermediate_size": 5632,
            "multi_modal_projector_bias": false, "num_attention_heads": 16,
            "num_channels": 3, "num_hidden_layers": 34, "patch_size": 14,
            "pixel_shuffle_ratio": 0.5, "projector_input_dim": 4096,
            "projector_output_dim": 4096, "vision_output_dim": 4096
        });
        // Per encoder layer: qkv 3·h² + 3h, proj h² + h, fc1 i·h + i, fc2 h·i + h (biases 5h + i),
        // two LayerNorms 4h.
        let qwen_layer = 4 * 1152 * 1152 + 2 * 1152 * 4304 + 5 * 1152 + 4304 + 4 * 1152;
        let llama_layer = 4 * 1408 * 1408 + 2 * 1408 * 5632 + 5 * 1408 + 5632 + 4 * 1408;
        let rows = [
            // Conv3d 3·2·16·16·1152 + 1152, position 2304·1152, merger norm 2·1152,
            // fc1 4608² + 4608, fc2 4608·out + out.
            (
                "Qwen3.5-397B-A17B",
                qwen_triple(qwen(4096), 4096),
                27 * qwen_layer + 1_770_624 + 2_654_208 + 2304 + 21_238_272 + 18_878_464,
            ),
            (
                "Qwen3.5-27B",
                qwen_triple(qwen(5120), 5120),
                27 * qwen_layer + 1_770_624 + 2_654_208 + 2304 + 21_238_272 + 23_598_080,
            ),
            // Class 1408, position 577·1408, two LayerNorms 4·1408; patch 588·1408, adapter
            // 5632·4096 + 4096², projector 4096·5120.
            (
                "Llama-4",
                llama4_vision_tower(&llama4, 5120).map(|t| (t, 5120)),
                34 * llama_layer
                    + 1408
                    + 812_416
                    + 5632
                    + 827_904
                    + 23_068_672
                    + 16_777_216
                    + 20_971_520,
            ),
        ];
        for (name, tower, want) in rows {
            let (tower, text_hidden) = tower.unwrap();
            let mut model = crate::Catalog::builtin()
                .model("llama-3.1-8b-instruct")
                .unwrap()
                .clone();
            model.hidden_size = text_hidden;
            model.vision_tower = Some(tower);
            let tensors = crate::plan::weights::vision_tensors(&model, 1);
            let total: u128 = tensors.iter().map(|t| t.parameters()).sum();
            assert_eq!(total, want, "{name}");
            // At TP 8 every linear but the row-parallel biases and the replicated rest is an
            // eighth.
            let per_rank: u128 = crate::plan::weights::vision_tensors(&model, 8)
                .iter()
                .map(|t| {
                    let (rows, cols) = t.shard(8);
                    u128::from(rows) * u128::from(cols) * u128::from(t.copies)
                })
                .sum();
            assert!(
                per_rank < want / 7 && per_rank > want / 9,
                "{name}: {per_rank}"
            );
        }
        assert!(
            qwen3_vl_tower(&serde_json::json!({"depth": 27}), 4096)
                .unwrap_err()
                .contains("hidden_size")
        );
        let mut huge = qwen(4096);
        huge["patch_size"] = (1u64 << 40).into();
        assert!(
            qwen3_vl_tower(&huge, 4096)
                .unwrap_err()
                .contains("beyond any real model")
        );
    }

    fn qwen_triple(vision: Value, out: u64) -> Result<(VisionTower, u64), String> {
        qwen3_vl_tower(&vision, out).map(|t| (t, out))
    }

    #[test]
    fn multimodal_names_are_the_text_models() {
        for (name, want) in [
            (
                "language_model.model.layers.0.self_attn*",
                "model.layers.0.self_attn*",
            ),
            (
                "model.language_model.layers.3.linear_attn*",
                "model.layers.3.linear_attn*",
            ),
            ("language_model.lm_head", "lm_head"),
            ("*.mlp.shared_expert.*", "*.mlp.shared_expert.*"),
        ] {
            assert_eq!(text_model_name(name), want);
        }
    }

    /// The enum and the public list name the same types, in the same order.
    /// Python's `json.dumps` constants become `null` outside strings, and only there.
    #[test]
    fn python_json_constants_read_as_null() {
        let cases = [
            (r#"{"a": [0.0, Infinity]}"#, r#"{"a": [0.0, null]}"#),
            (r#"{"a": -Infinity, "b": NaN}"#, r#"{"a": null, "b": null}"#),
            (
                r#"{"s": "NaN and \"Infinity\""}"#,
                r#"{"s": "NaN and \"Infinity\""}"#,
            ),
            (r#"{"plain": 1}"#, r#"{"plain": 1}"#),
        ];
        for (text, want) in cases {
            assert_eq!(python_json_constants_as_null(text), want, "{text}");
        }
    }

    #[test]
    fn model_types_parse_once_and_round_trip() {
        assert_eq!(ModelType::ALL.len(), SUPPORTED_MODEL_TYPES.len());
        for (t, name) in ModelType::ALL.iter().zip(SUPPORTED_MODEL_TYPES) {
            assert_eq!(ModelType::parse(name), Some(*t));
            assert_eq!(t.as_str(), *name);
        }
        assert_eq!(ModelType::parse("gemma3"), None);
    }

    /// Each family's traits, as vLLM's model classes have them.
    #[test]
    fn model_type_traits_follow_vllm_classes() {
        // (type, MLA, sparse, gated DeltaNet, text_config)
        let rows = [
            (ModelType::KimiK2, true, false, false, false),
            (ModelType::KimiK25, true, false, false, true),
            (ModelType::DeepseekV32, true, true, false, false),
            (ModelType::GlmMoeDsa, true, true, false, false),
            (ModelType::Qwen3Next, false, false, true, false),
            (ModelType::Qwen35, false, false, true, true),
            (ModelType::Qwen35Moe, false, false, true, true),
            (ModelType::MinimaxM2, false, false, false, false),
            (ModelType::Llama, false, false, false, false),
            (ModelType::Llama4, false, false, false, true),
            (ModelType::KimiLinear, true, false, false, false),
            (ModelType::KimiK3, true, false, false, true),
        ];
        for (t, mla, sparse, gdn, nested) in rows {
            assert_eq!(
                (
                    t.mla(),
                    t.sparse(),
                    t.gated_delta_net(),
                    t.nests_text_config()
                ),
                (mla, sparse, gdn, nested),
                "{t:?}"
            );
            assert_eq!(
                t.kimi_delta_attention(),
                matches!(t, ModelType::KimiLinear | ModelType::KimiK3),
                "{t:?}"
            );
        }
    }
}
