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

use super::model::{Attention, Dtype, LayerType, Mlp, ModelProfile, Quantization, VisionTower};
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
                "architecture `{}` (model_type `{}`) is not supported; lwsplan models {}",
                crate::error::truncate(&c.architecture(), 80),
                crate::error::truncate(&model_type, 80),
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
            }
        }
        _ => Mlp::Dense {
            intermediate_size: c.u64("intermediate_size")?,
        },
    };
    let architecture = c.architecture();
    let quantization = c.quantization()?;
    let hf_repo = match (hf_repo, c.optional_string("_name_or_path")) {
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
            return Err(c.invalid(
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
    let profile = ModelProfile {
        id,
        hf_repo,
        // config.json does not say whether the repository is gated.
        gated: None,
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
        attention,
        mlp,
        quantization,
        // Qwen3.5 calls them `mtp_num_hidden_layers` (vLLM `config/speculative.py`, v0.28.0).
        num_nextn_predict_layers: match c.optional_u64("num_nextn_predict_layers")? {
            Some(n) => n,
            None => c.optional_u64("mtp_num_hidden_layers")?.unwrap_or(0),
        },
        vision_tower: None,
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
                    // Bounded before the per-layer list is sized from it: 2^62 layers would
                    // ask for exabytes before the profile's own check ran.
                    super::require_at_most(
                        self.origin,
                        "num_hidden_layers",
                        layers,
                        super::model::MAX_LAYERS,
                    )?;
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

/// Kimi-K2.5's MoonViT tower from its `vision_config` (`vt_*` fields, `patchmerger`
/// projector), for the `kimi_k25` reader: encoder layers as [`VisionTower`] counts them, and
/// outside them the patch embedding `Conv2d(3, h, patch_size)` with bias, the learned
/// `init_pos_emb_height × init_pos_emb_width` position embedding, the encoder's final
/// LayerNorm and the projector (LayerNorm, `linear_1` 4h → 4h and `linear_2` 4h → text hidden
/// size, both with bias, after a `merge_kernel_size` 2 × 2 merge) (`kimi_k25_vit.py`,
/// v0.28.0; the time embedding is a fixed buffer, not a parameter). Other projectors are
/// refused by name.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn moonvit_tower(vision: &Value, text_hidden: u64) -> Result<VisionTower, String> {
    let field = |name: &str| {
        vision
            .get(name)
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("vision_config.{name}: missing or not a whole number"))
    };
    match vision.get("mm_projector_type").and_then(Value::as_str) {
        None | Some("patchmerger") => {}
        Some(other) => {
            return Err(format!(
                "vision_config.mm_projector_type: `{other}` is not modelled (patchmerger is)"
            ));
        }
    }
    let h = field("vt_hidden_size")?;
    let merged = match vision.get("merge_kernel_size").and_then(Value::as_array) {
        Some(k) => k.iter().filter_map(Value::as_u64).product::<u64>() * h,
        None => 4 * h,
    };
    let patch = field("patch_size")?;
    let position = field("init_pos_emb_height")? * field("init_pos_emb_width")? * h;
    let replicated = (3 * patch * patch * h + h)
        + position
        + 2 * h
        + 2 * h
        + (merged * merged + merged)
        + (text_hidden * merged + text_hidden);
    Ok(VisionTower {
        num_hidden_layers: field("vt_num_hidden_layers")?,
        hidden_size: h,
        intermediate_size: field("vt_intermediate_size")?,
        num_attention_heads: field("vt_num_attention_heads")?,
        replicated_parameters: replicated,
    })
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
}
