//! Model profiles imported from real Hugging Face configs (`tests/fixtures/hf/`, sources in
//! SOURCE.md there): each plans, and its parameter count is within 0.5 % of the published one.

use std::path::PathBuf;

use lwsplan::profile::SafetensorsIndex;
use lwsplan::{Catalog, KvCacheDtype, ModelProfile, PlanOptions, Planner};

fn config(name: &str) -> PathBuf {
    PathBuf::from(crate::ROOT.as_str()).join(format!("tests/fixtures/hf/{name}/config.json"))
}

/// The fixture `name`'s config, with the repository it was published in (SOURCE.md).
fn import(name: &str) -> ModelProfile {
    let owner = match name {
        n if n.starts_with("Llama") => "meta-llama",
        n if n.starts_with("DeepSeek") => "deepseek-ai",
        _ => "Qwen",
    };
    ModelProfile::from_hf_config_file(&config(name), Some(&format!("{owner}/{name}"))).unwrap()
}

fn from_hf_config(text: &str, origin: &str, repo: Option<&str>) -> lwsplan::Result<ModelProfile> {
    Ok(ModelProfile::from_hf_config(text, origin, repo)?)
}

/// Published parameter counts: the "Model size" each Hugging Face model page shows (three
/// significant digits, counted from the checkpoint), and DeepSeek's 671B for its main model
/// (the page's 685B includes the MTP module vLLM does not load). The model cards' own rounder
/// figures ("32.5B", "4.0B") are too coarse for a 0.5 % check.
const PUBLISHED: &[(&str, f64)] = &[
    ("Llama-3.1-8B", 8.03e9),
    ("Llama-3.2-3B", 3.21e9),
    ("Qwen2.5-3B", 3.09e9),
    ("Qwen2.5-7B", 7.62e9),
    ("Qwen2.5-14B", 14.8e9),
    ("Qwen2.5-32B", 32.8e9),
    ("Qwen3-4B", 4.02e9),
    ("Qwen3-8B", 8.19e9),
    ("Qwen3-14B", 14.8e9),
    ("Qwen3-32B", 32.8e9),
    ("Qwen3-30B-A3B", 30.5e9),
    ("DeepSeek-R1", 671e9),
];

#[test]
fn imported_parameters_match_the_published_counts() {
    let mut lines = Vec::new();
    for (name, published) in PUBLISHED {
        let profile = import(name);
        let ours = lwsplan::machinery::parameters(&profile) as f64;
        let off = (ours - published).abs() / published;
        lines.push((
            off,
            format!("{name}: {ours} vs {published} ({:.3} %)", off * 100.0),
        ));
    }
    let report: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
    println!("{}", report.join("\n"));
    assert!(
        lines.iter().all(|(off, _)| *off < 0.005),
        "{}",
        report.join("\n")
    );
}

#[test]
fn imported_deepseek_r1_equals_the_builtin_profile() {
    let imported = import("DeepSeek-R1");
    let builtin = Catalog::builtin().model("deepseek-r1").unwrap();
    assert_eq!(imported.attention, builtin.attention);
    assert_eq!(imported.mlp, builtin.mlp);
    assert_eq!(imported.quantization, builtin.quantization);
    assert_eq!(imported.vllm_args, builtin.vllm_args);
    assert_eq!(
        lwsplan::machinery::weight_bytes(&imported),
        lwsplan::machinery::weight_bytes(builtin)
    );
}

#[test]
fn every_imported_config_plans_on_h100() {
    let hardware = Catalog::builtin().hardware("h100-80gb").unwrap();
    for (name, _) in PUBLISHED {
        let profile = import(name);
        let plan = Planner::new(&profile, hardware)
            .plan(&PlanOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(plan.kv_cache_tokens > 0, "{name}");
    }
}

/// What vLLM loads must be said: a repository id from `_name_or_path` is taken, a local path
/// (a directory on the machine that ran lwsplan) or nothing is refused, naming the flag.
#[test]
fn hf_repo_comes_from_the_flag_or_a_repository_id() {
    let text = std::fs::read_to_string(config("Qwen3-8B")).unwrap();
    let with_name = |name: &str| {
        let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
        value["_name_or_path"] = serde_json::json!(name);
        value.to_string()
    };
    let profile = from_hf_config(&with_name("Qwen/Qwen3-8B"), "config.json", None).unwrap();
    assert_eq!(profile.hf_repo, "Qwen/Qwen3-8B");
    assert_eq!(profile.id, "qwen3-8b");
    for bad in [
        "/home/me/models/qwen3",
        "./qwen3",
        "../x/y",
        "a/b/c",
        "x\"; touch PWNED",
    ] {
        let err = from_hf_config(&with_name(bad), "config.json", None).unwrap_err();
        let message = lwsplan::Report(&err).to_string();
        assert!(
            message.contains("is not a repository id (owner/name)"),
            "{bad}: {message}"
        );
        assert!(message.contains("--hf-repo owner/name"), "{message}");
    }
    let err = from_hf_config(&text, "config.json", None).unwrap_err();
    assert!(
        lwsplan::Report(&err)
            .to_string()
            .contains("`_name_or_path`: missing"),
        "{err}"
    );
    let named = from_hf_config(&text, "config.json", Some("Qwen/Qwen3-8B")).unwrap();
    assert_eq!(named.hf_repo, "Qwen/Qwen3-8B");
}

/// Llama 3.2 3B ties its lm_head to the embedding. Hand-computed from its config (hidden 3072,
/// 28 layers, 24 heads, 8 KV heads of 128, intermediate 8192, vocab 128256): a layer holds
/// q 3072² + k, v 2 × 1024 × 3072 + o 3072² + MLP 3 × 3072 × 8192 + 2 norms of 3072 =
/// 100,669,440 parameters; the embedding 128256 × 3072 = 394,002,432; the final norm 3072.
/// BF16: 2 bytes each.
#[test]
fn a_tied_lm_head_is_one_copy_on_one_stage_and_two_across_stages() {
    let profile = import("Llama-3.2-3B");
    assert!(profile.tie_word_embeddings);
    const LAYER: u64 = 100_669_440 * 2;
    const EMBEDDING: u64 = 394_002_432 * 2;
    const NORM: u64 = 3072 * 2;
    let total = 28 * LAYER + EMBEDDING + NORM;
    assert_eq!(total, 6_425_499_648);
    assert_eq!(lwsplan::machinery::weight_bytes(&profile), total);
    let hardware = Catalog::builtin().hardware("h100-80gb").unwrap();
    let plan = |tp, pp| {
        Planner::new(&profile, hardware)
            .plan(&PlanOptions {
                tensor_parallel_size: Some(tp),
                pipeline_parallel_size: Some(pp),
                ..PlanOptions::default()
            })
            .unwrap()
    };
    let one = plan(1, 1);
    assert_eq!(one.stages[0].weight_bytes_per_gpu, total);
    // Two stages: the last holds its own copy of the tied lm_head (vLLM loads it there).
    let two = plan(1, 2);
    assert_eq!(two.stages[0].weight_bytes_per_gpu, 14 * LAYER + EMBEDDING);
    assert_eq!(
        two.stages[1].weight_bytes_per_gpu,
        14 * LAYER + NORM + EMBEDDING
    );
    // TP 2: every layer tensor splits in two but the norms; the embedding splits by rows.
    let tp2 = plan(2, 1);
    let layer_tp2 = (100_669_440 - 2 * 3072) + 2 * 3072 * 2;
    assert_eq!(
        tp2.stages[0].weight_bytes_per_gpu,
        28 * layer_tp2 + EMBEDDING / 2 + NORM
    );
}

#[test]
fn unsupported_configs_are_refused_by_name() {
    let cases = [
        (
            r#"{"model_type": "gemma3", "architectures": ["Gemma3ForCausalLM"]}"#,
            "field `model_type`: architecture `Gemma3ForCausalLM` (model_type `gemma3`) is not supported",
        ),
        (
            r#"{"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 8, "num_attention_heads": 2,
             "intermediate_size": 8, "vocab_size": 8, "max_position_embeddings": 64,
             "quantization_config": {"quant_method": "bitsandbytes", "load_in_4bit": true}}"#,
            "field `quantization_config.quant_method`: `bitsandbytes` is not modelled yet",
        ),
        (
            r#"{"model_type": "qwen2", "num_hidden_layers": 2, "hidden_size": 8, "num_attention_heads": 2,
             "vocab_size": 8, "sliding_window": 4096, "max_position_embeddings": 32768, "use_sliding_window": true}"#,
            "field `sliding_window`: sliding-window attention (4096 of 32768 tokens) on some layers only is not modelled yet",
        ),
        (
            r#"{"model_type": "llama", "num_hidden_layers": "two"}"#,
            "field `num_hidden_layers`: \"two\" is not a whole number",
        ),
        ("not json", "not a JSON config"),
    ];
    for (text, expected) in cases {
        let err = from_hf_config(text, "config.json", None).unwrap_err();
        let err = lwsplan::Report(&err).to_string();
        assert!(err.contains(expected), "{err} (expected {expected})");
    }
}

#[test]
fn awq_and_gptq_configs_import_as_4_bit() {
    let base = r#""model_type": "llama", "num_hidden_layers": 32, "hidden_size": 4096,
        "num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 14336,
        "vocab_size": 128256, "max_position_embeddings": 8192"#;
    let awq = format!(
        r#"{{{base}, "quantization_config": {{"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": true}}}}"#
    );
    let profile = from_hf_config(&awq, "awq.json", Some("x/y")).unwrap();
    assert_eq!(
        profile.quantization,
        Some(lwsplan::profile::Quantization::Awq { group_size: 128 })
    );
    let gptq = format!(
        r#"{{{base}, "quantization_config": {{"quant_method": "gptq", "bits": 8, "group_size": 128}}}}"#
    );
    let err = from_hf_config(&gptq, "gptq.json", Some("x/y"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("gptq with 8 bits is not modelled; only 4-bit"),
        "{err}"
    );
    // 4-bit weights take about a quarter of BF16's bytes (plus embeddings, which stay BF16).
    let bf16 = from_hf_config(&format!("{{{base}}}"), "bf16.json", Some("x/y")).unwrap();
    let (q, b) = (
        lwsplan::machinery::weight_bytes(&profile),
        lwsplan::machinery::weight_bytes(&bf16),
    );
    assert!(q < b / 2, "{q} vs {b}");
}

#[test]
fn a_safetensors_index_gives_the_exact_checkpoint_size() {
    let mut profile = import("Llama-3.1-8B");
    let index_path = PathBuf::from(crate::ROOT.as_str())
        .join("tests/fixtures/hf/Llama-3.1-8B/model.safetensors.index.json");
    let index = SafetensorsIndex::from_file(&index_path, profile.num_hidden_layers).unwrap();
    assert!(!index.has_extra_layers);
    assert!(profile.apply_safetensors_index(&index));
    // lwsplan's own count agrees with the checkpoint to the byte for this model.
    assert_eq!(
        profile.checkpoint_bytes,
        Some(lwsplan::machinery::weight_bytes(&profile))
    );
    let hardware = Catalog::builtin().hardware("h100-80gb").unwrap();
    let plan = Planner::new(&profile, hardware)
        .plan(&PlanOptions::default())
        .unwrap();
    assert_eq!(plan.weight_bytes, 16_060_522_496);
    assert!(
        plan.notes
            .iter()
            .any(|n| n.to_string().contains("(+0.00 %)")),
        "{:?}",
        plan.notes
    );
}

#[test]
fn an_index_with_mtp_layers_is_not_taken_as_the_model_size() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mtp-index");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors.index.json");
    std::fs::write(
        &path,
        r#"{"metadata": {"total_size": 688586727753},
            "weight_map": {"model.layers.60.mlp.gate.weight": "a", "model.layers.61.eh_proj.weight": "b"}}"#,
    )
    .unwrap();
    let mut profile = import("DeepSeek-R1");
    let index = SafetensorsIndex::from_file(&path, profile.num_hidden_layers).unwrap();
    assert!(
        index.has_extra_layers,
        "layer 61 is past the 61 decoder layers (0-60): MTP"
    );
    assert!(!profile.apply_safetensors_index(&index));
    assert_eq!(profile.checkpoint_bytes, None);
}

/// A gpt-oss config (fields from openai/gpt-oss-120b's config.json) imports to the built-in
/// profile: sinks, biases, alternating sliding layers and MXFP4 experts.
#[test]
fn a_gpt_oss_config_imports_like_the_builtin() {
    let layer_types: Vec<&str> = (0..36)
        .map(|i| {
            if i % 2 == 0 {
                "sliding_attention"
            } else {
                "full_attention"
            }
        })
        .collect();
    let config = serde_json::json!({
        "architectures": ["GptOssForCausalLM"], "model_type": "gpt_oss", "attention_bias": true,
        "head_dim": 64, "hidden_size": 2880, "intermediate_size": 2880,
        "layer_types": layer_types, "max_position_embeddings": 131072,
        "num_attention_heads": 64, "num_experts_per_tok": 4, "num_hidden_layers": 36,
        "num_key_value_heads": 8, "num_local_experts": 128, "sliding_window": 128,
        "tie_word_embeddings": false, "vocab_size": 201088,
        "quantization_config": {"quant_method": "mxfp4"}
    });
    let imported = from_hf_config(
        &config.to_string(),
        "config.json",
        Some("openai/gpt-oss-120b"),
    )
    .unwrap();
    let builtin = Catalog::builtin().model("gpt-oss-120b").unwrap();
    assert_eq!(imported.attention, builtin.attention);
    assert_eq!(imported.mlp, builtin.mlp);
    assert_eq!(imported.layer_types, builtin.layer_types);
    assert_eq!(imported.sliding_window, builtin.sliding_window);
    assert_eq!(imported.quantization, builtin.quantization);
    assert_eq!(
        lwsplan::machinery::parameters(&imported),
        lwsplan::machinery::parameters(builtin)
    );
}

/// Mistral-style configs whose window is shorter than the context slide on every layer.
#[test]
fn an_all_sliding_config_keeps_a_small_kv_cache_per_request() {
    let config = r#"{"model_type": "mistral", "architectures": ["MistralForCausalLM"],
        "hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32,
        "num_key_value_heads": 8, "num_hidden_layers": 32, "vocab_size": 32000,
        "max_position_embeddings": 32768, "sliding_window": 4096}"#;
    let profile = from_hf_config(config, "config.json", Some("x/y")).unwrap();
    assert_eq!(profile.sliding_window, Some(4096));
    assert_eq!(profile.layer_types.len(), 32);
    let plan = Planner::new(&profile, Catalog::builtin().hardware("l4").unwrap())
        .plan(&PlanOptions::default())
        .unwrap();
    assert_eq!(
        plan.max_model_len, 32_768,
        "the window, not the context, bounds each layer's cache"
    );
}

/// FP8 checkpoints that keep modules unquantized: `modules_to_not_convert` (fp8, fbgemm_fp8)
/// and compressed-tensors' `ignore`. Every projection named stays BF16 — a Meta-style list of
/// all attention projections costs one extra byte per attention weight.
#[test]
fn fp8_configs_keep_the_modules_they_name_unquantized() {
    use lwsplan::profile::Quantization;
    let base = r#""model_type": "llama", "num_hidden_layers": 4, "hidden_size": 4096,
        "num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 14336,
        "vocab_size": 128256, "max_position_embeddings": 8192"#;
    let fp8 = |q: &str| {
        from_hf_config(
            &format!("{{{base}, \"quantization_config\": {q}}}"),
            "c.json",
            Some("x/y"),
        )
    };
    let all = fp8(r#"{"quant_method": "fbgemm_fp8", "activation_scale_ub": 1200.0}"#).unwrap();
    let attention: Vec<String> = (0..4)
        .flat_map(|l| {
            ["q_proj", "k_proj", "v_proj", "o_proj"]
                .map(|p| format!("\"model.layers.{l}.self_attn.{p}\""))
        })
        .collect();
    let meta = fp8(&format!(
        r#"{{"quant_method": "fbgemm_fp8", "modules_to_not_convert": [{}, "lm_head"]}}"#,
        attention.join(", ")
    ))
    .unwrap();
    let by_name =
        fp8(r#"{"quant_method": "fp8", "modules_to_not_convert": ["self_attn"]}"#).unwrap();
    let (w_all, w_meta, w_name) = (
        lwsplan::machinery::weight_bytes(&all),
        lwsplan::machinery::weight_bytes(&meta),
        lwsplan::machinery::weight_bytes(&by_name),
    );
    // Attention per layer: q 4096×4096, k and v 1024×4096, o 4096×4096 = 41,943,040 weights;
    // BF16 adds one byte each and drops the per-row fp32 scales (4096+1024+1024+4096 rows).
    let per_layer = 41_943_040 - 10_240 * 4;
    assert_eq!(w_meta - w_all, 4 * per_layer);
    assert_eq!(w_name, w_meta);
    // A first layer's MLP by prefix.
    let first_mlp =
        fp8(r#"{"quant_method": "fp8", "modules_to_not_convert": ["model.layers.0.mlp"]}"#)
            .unwrap();
    assert_eq!(
        lwsplan::machinery::weight_bytes(&first_mlp) - w_all,
        3 * 4096 * 14336 - (2 * 14336 + 4096) * 4
    );
    // compressed-tensors FP8: per-channel, with its ignore list.
    let ct = fp8(
        r#"{"quant_method": "compressed-tensors", "ignore": ["lm_head"],
        "config_groups": {"group_0": {"targets": ["Linear"],
        "weights": {"num_bits": 8, "type": "float", "strategy": "channel"}}}}"#,
    )
    .unwrap();
    assert_eq!(
        ct.quantization,
        Some(Quantization::Fp8 {
            weight_block_size: None,
            modules_to_not_convert: vec!["lm_head".into()],
            fp8_kv_cache: false,
            moe_quant_algo: None,
        })
    );
    // What lwsplan cannot model is refused by name.
    let int8 = fp8(r#"{"quant_method": "compressed-tensors", "config_groups": {"g": {"weights": {"num_bits": 8, "type": "int"}}}}"#)
        .unwrap_err()
        .to_string();
    assert!(int8.contains("4-bit integer groups only"), "{int8}");
    let channel = fp8(r#"{"quant_method": "compressed-tensors", "config_groups": {"g": {"weights": {"num_bits": 4, "type": "int", "strategy": "channel"}}}}"#)
        .unwrap_err()
        .to_string();
    assert!(channel.contains("strategy: group"), "{channel}");
    // A regular expression within reach is read as wildcards; the rest is refused.
    let regex =
        fp8(r#"{"quant_method": "fp8", "modules_to_not_convert": ["re:.*self_attn.*"]}"#).unwrap();
    assert_eq!(lwsplan::machinery::weight_bytes(&regex), w_name);
    let class = fp8(r#"{"quant_method": "fp8", "modules_to_not_convert": ["re:layers\\.[0-9]+"]}"#)
        .unwrap_err()
        .to_string();
    assert!(class.contains("regular-expression syntax"), "{class}");
}

fn fixture(path: &str) -> String {
    std::fs::read_to_string(PathBuf::from(crate::ROOT.as_str()).join(path)).unwrap()
}

/// DeepSeek-R1's config (a deepseek_v3 model) with another quantization_config, or none.
fn r1_with(quantization: Option<&str>) -> String {
    let mut config: serde_json::Value =
        serde_json::from_str(&fixture("tests/fixtures/hf/DeepSeek-R1/config.json")).unwrap();
    let object = config.as_object_mut().unwrap();
    match quantization {
        Some(q) => {
            object.insert(
                "quantization_config".into(),
                serde_json::from_str(q).unwrap(),
            );
        }
        None => {
            object.remove("quantization_config");
        }
    }
    config.to_string()
}

/// Kimi-K2.5's compressed-tensors INT4 config (its `text_config.quantization_config`) on the
/// K2 text model's shape: only the routed experts are INT4 (0.5625 bytes a weight with the
/// BF16 group-32 scales); the `re:` ignore list keeps attention, shared experts and the dense
/// MLP in BF16. On DeepSeek-V3's shape (256 experts, 58 MoE layers) that is 58 × 256 × 3 ×
/// 2048 × 7168 × 0.5625 bytes of experts and the other 17.1 B parameters in BF16.
#[test]
fn compressed_tensors_int4_keeps_only_the_experts_quantized() {
    use lwsplan::profile::Quantization;
    let q = fixture("tests/fixtures/hf/quant/Kimi-K2.5.quantization_config.json");
    let profile = from_hf_config(&r1_with(Some(&q)), "c.json", Some("x/y")).unwrap();
    let Some(Quantization::CompressedTensors {
        num_bits: 4,
        group_size: 32,
        symmetric: true,
        scale_dtype: None,
        ignore,
    }) = &profile.quantization
    else {
        panic!("{:?}", profile.quantization);
    };
    assert_eq!(
        ignore,
        &[
            "lm_head",
            "*self_attn*",
            "*shared_experts*",
            "*mlp.gate_proj*",
            "*mlp.up_proj*",
            "*mlp.gate_up_proj*",
            "*mlp.down_proj*"
        ]
    );
    let experts: u64 = 58 * 256 * 3 * 2048 * 7168;
    let rest = lwsplan::machinery::parameters(&profile) - experts;
    assert_eq!(
        lwsplan::machinery::weight_bytes(&profile),
        experts / 16 * 9 + 2 * rest,
        "experts at 9/16 of a byte, the rest BF16"
    );
    // TP 32 would cut each expert's 2048-wide intermediate into 64-wide slices: whole groups
    // of 32, so it is allowed; the checks follow vLLM's WNA16 MoE rule.
    let plan = Planner::new(&profile, Catalog::builtin().hardware("h200-141gb").unwrap())
        .plan(&PlanOptions::default())
        .unwrap();
    assert!(plan.notes.iter().all(|n| !n.to_string().contains("FP8")));
}

/// ModelOpt NVFP4 from the `hf_quant_config.json` beside a config.json without
/// `quantization_config` (nvidia/DeepSeek-V3.2-NVFP4's, verbatim), as vLLM reads it: NVFP4 in
/// groups of 16, its 307-entry exclude list, and an FP8 KV cache that `--kv-cache-dtype auto`
/// follows. On Hopper the plan says vLLM runs it weight-only.
#[test]
fn modelopt_nvfp4_comes_from_the_sibling_hf_quant_config() {
    use lwsplan::profile::Quantization;
    let dir = crate::temp_dir("import-nvfp4");
    std::fs::write(dir.join("config.json"), r1_with(None)).unwrap();
    let config = dir.join("config.json");
    let plain = ModelProfile::from_hf_config_file(&config, Some("x/y")).unwrap();
    assert_eq!(plain.quantization, None);
    std::fs::write(
        dir.join("hf_quant_config.json"),
        fixture("tests/fixtures/hf/quant/DeepSeek-V3.2-NVFP4.hf_quant_config.json"),
    )
    .unwrap();
    let profile = ModelProfile::from_hf_config_file(&config, Some("x/y")).unwrap();
    let Some(Quantization::ModeloptFp4 {
        group_size: 16,
        exclude_modules,
        fp8_kv_cache: true,
    }) = &profile.quantization
    else {
        panic!("{:?}", profile.quantization);
    };
    assert_eq!(exclude_modules.len(), 307);
    assert!(
        profile
            .sources
            .iter()
            .any(|s| s.url.ends_with("hf_quant_config.json"))
    );
    // The excluded attention projections stay BF16; o_proj and every MLP are NVFP4, about a
    // third of R1's FP8 size.
    let bytes = lwsplan::machinery::weight_bytes(&profile) as f64;
    assert!((380e9..420e9).contains(&bytes), "{bytes}");
    let catalog = Catalog::builtin();
    let hopper = Planner::new(&profile, catalog.hardware("h200-141gb").unwrap())
        .plan(&PlanOptions::default())
        .unwrap();
    // The latent cache in FP8: 576 bytes a token a layer.
    for stage in &hopper.stages {
        assert_eq!(stage.kv_cache_bytes_per_token, 576 * stage.layers);
    }
    let notes: Vec<String> = hopper.notes.iter().map(|n| n.to_string()).collect();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("weight-only on its Marlin")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains("resolves --kv-cache-dtype auto to fp8"))
    );
    let blackwell = Planner::new(&profile, catalog.hardware("b200").unwrap())
        .plan(&PlanOptions::default())
        .unwrap();
    assert!(
        blackwell
            .notes
            .iter()
            .all(|n| !n.to_string().contains("Marlin"))
    );
    // A malformed sibling is an error naming that file.
    std::fs::write(
        dir.join("hf_quant_config.json"),
        r#"{"quantization": {"quant_algo": "W4A8_AWQ"}}"#,
    )
    .unwrap();
    let err = ModelProfile::from_hf_config_file(&config, Some("x/y"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("hf_quant_config.json") && err.contains("W4A8_AWQ"),
        "{err}"
    );
}

/// ModelOpt ≥ 0.31 writes NVFP4 into config.json (`quant_method: modelopt`, `ignore`,
/// `kv_cache_scheme`), with multimodal names (`language_model.model.layers.N…`, as in
/// nvidia/Kimi-K2.5-NVFP4) read as the text model's.
#[test]
fn modelopt_nvfp4_in_config_json() {
    use lwsplan::profile::Quantization;
    let q = r#"{"quant_method": "modelopt", "quant_algo": "NVFP4",
        "config_groups": {"group_0": {"targets": ["Linear"],
            "weights": {"dynamic": false, "num_bits": 4, "type": "float", "group_size": 16},
            "input_activations": {"dynamic": false, "num_bits": 4, "type": "float", "group_size": 16}}},
        "kv_cache_scheme": {"dynamic": false, "num_bits": 8, "type": "float"},
        "ignore": ["language_model.lm_head", "language_model.model.layers.0.self_attn*",
                   "mm_projector*", "vision_tower*"]}"#;
    let profile = from_hf_config(&r1_with(Some(q)), "c.json", Some("x/y")).unwrap();
    assert_eq!(
        profile.quantization,
        Some(Quantization::ModeloptFp4 {
            group_size: 16,
            exclude_modules: vec![
                "lm_head".into(),
                "model.layers.0.self_attn*".into(),
                "mm_projector*".into(),
                "vision_tower*".into()
            ],
            fp8_kv_cache: true,
        })
    );
    let q = profile.quantization.as_ref().unwrap();
    assert!(q.keeps_unquantized(0, "self_attn.kv_b_proj"));
    assert!(!q.keeps_unquantized(1, "self_attn.kv_b_proj"));
}

/// The next generation (issue 19), each with its owner, the count it is checked against and
/// where that count comes from, and how close lwsplan's count (vision towers included, MTP
/// layers not) must be: 1 %, or the published figure's own rounding where that is coarser.
const NEXT_GENERATION: &[(&str, &str, f64, f64)] = &[
    // Hugging Face's "Model size" for the checkpoint: 1.03T.
    ("Kimi-K2-Instruct", "moonshotai", 1.03e12, 0.01),
    // DeepSeek's "671B" for the main model (the page's 685B includes the MTP module).
    ("DeepSeek-V3.2", "deepseek-ai", 671e9, 0.01),
    // "744B total" (vllm-project/recipes models/zai-org/GLM-5.1.yaml), MTP layer excluded.
    ("GLM-5.1", "zai-org", 744e9, 0.01),
    ("GLM-5.1-FP8", "zai-org", 744e9, 0.01),
    // "743B" (vllm-project/recipes models/zai-org/GLM-5.2.yaml, `parameter_count`): GLM-5.1's
    // shapes less the 57 indexers IndexCache drops (9.4 M parameters each).
    ("GLM-5.2-FP8", "zai-org", 743e9, 0.01),
    // The model names' totals: "397B", "27B", "80B", the 0.46 B vision towers included. The
    // 27B's is the only published figure, a name rounded to the billion (26.5 B to 27.5 B
    // read "27B"): its tolerance is that rounding.
    ("Qwen3.5-397B-A17B", "Qwen", 397e9, 0.01),
    ("Qwen3.5-27B", "Qwen", 27e9, 0.5e9 / 27e9),
    ("Qwen3-Next-80B-A3B-Thinking", "Qwen", 80e9, 0.01),
    // "230 billion total parameters" (MiniMax-AI/MiniMax-M2 README @ 1acac8b6).
    ("MiniMax-M2.5", "MiniMaxAI", 230e9, 0.01),
    // Meta's "400B" and "109B" total parameters, the 0.87 B vision model and projector
    // included (the model cards' table, https://huggingface.co/meta-llama/Llama-4-Scout-17B-16E-Instruct).
    (
        "Llama-4-Maverick-17B-128E-Instruct",
        "meta-llama",
        400e9,
        0.01,
    ),
    ("Llama-4-Scout-17B-16E-Instruct", "meta-llama", 109e9, 0.01),
    // NVIDIA's NemotronH hybrids: "550B" of the name (MTP layer excluded), the same count for
    // the FP8 and NVFP4 checkpoints; Nano's "31.6B total" (its model card,
    // https://huggingface.co/nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16, as the research notes
    // recall it: unverified); Nemotron-H's "56B" of the name.
    (
        "NVIDIA-Nemotron-3-Ultra-550B-A55B-BF16",
        "nvidia",
        550e9,
        0.01,
    ),
    (
        "NVIDIA-Nemotron-3-Ultra-550B-A55B-FP8",
        "nvidia",
        550e9,
        0.01,
    ),
    (
        "NVIDIA-Nemotron-3-Ultra-550B-A55B-NVFP4",
        "nvidia",
        550e9,
        0.01,
    ),
    (
        "NVIDIA-Nemotron-3-Nano-30B-A3B-BF16",
        "nvidia",
        31.6e9,
        0.01,
    ),
    ("Nemotron-H-56B-Base-8K", "nvidia", 56e9, 0.01),
    // "284B total" (vllm-project/recipes models/deepseek-ai/DeepSeek-V4-Flash.yaml; Hugging
    // Face's blog "DeepSeek-V4: a million-token context", huggingface/blog#3363), MTP layer
    // excluded; NVIDIA's NVFP4 copy has the same parameters.
    ("DeepSeek-V4-Flash", "deepseek-ai", 284e9, 0.01),
    ("DeepSeek-V4-Flash-NVFP4", "nvidia", 284e9, 0.01),
];

fn import_next(name: &str) -> ModelProfile {
    let (_, owner, _, _) = NEXT_GENERATION
        .iter()
        .find(|(n, _, _, _)| *n == name)
        .unwrap();
    ModelProfile::from_hf_config_file(&config(name), Some(&format!("{owner}/{name}"))).unwrap()
}

#[test]
fn next_generation_parameters_match_the_published_counts() {
    let mut lines = Vec::new();
    for (name, _, published, tolerance) in NEXT_GENERATION {
        let ours = lwsplan::machinery::parameters(&import_next(name)) as f64;
        let off = (ours - published).abs() / published;
        lines.push((
            off / tolerance,
            format!(
                "{name}: {ours:.4e} vs {published:.4e} ({:.2} %)",
                off * 100.0
            ),
        ));
    }
    let report: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
    println!("{}", report.join("\n"));
    assert!(
        lines.iter().all(|(share, _)| *share < 1.0),
        "{}",
        report.join("\n")
    );
}

/// The towers read from config.json are the ones the built-in profiles declare, tensor for
/// tensor: Kimi-K2.5's MoonViT (replicated projector) and Qwen3.5-397B's Qwen3-VL encoder
/// (column/row-parallel merger); Llama 4's vision model and projector come to 0.87 B.
#[test]
fn vision_towers_from_config_json_match_the_built_ins() {
    let catalog = Catalog::builtin();
    let kimi =
        ModelProfile::from_hf_config_file(&config("Kimi-K2.5"), Some("moonshotai/Kimi-K2.5"))
            .unwrap();
    let qwen = import_next("Qwen3.5-397B-A17B");
    for (imported, builtin) in [(&kimi, "kimi-k2.5"), (&qwen, "qwen3.5-397b-a17b")] {
        assert_eq!(
            imported.vision_tower,
            catalog.model(builtin).unwrap().vision_tower,
            "{builtin}"
        );
    }
    let llama = import_next("Llama-4-Scout-17B-16E-Instruct");
    let tower = lwsplan::machinery::parameters(&llama)
        - lwsplan::machinery::parameters(&ModelProfile {
            vision_tower: None,
            ..llama.clone()
        });
    assert_eq!(tower, 871_932_416);
}

/// Every next-generation config plans on 8 × H200 nodes with default options.
#[test]
fn next_generation_configs_plan_on_h200() {
    let catalog = Catalog::builtin();
    let h200 = catalog.hardware("h200-141gb").unwrap();
    for (name, _, _, _) in NEXT_GENERATION {
        let profile = import_next(name);
        let plan = Planner::new(&profile, h200).plan(&PlanOptions::default());
        assert!(plan.is_ok(), "{name}: {}", plan.unwrap_err());
    }
}

/// Kimi-K2's MLA cache: 61 layers × 576 BF16 values = 70,272 bytes a token, summed over the
/// stages, whatever the layout.
#[test]
fn kimi_k2_caches_one_latent_per_layer() {
    let catalog = Catalog::builtin();
    let k2 = import_next("Kimi-K2-Instruct");
    assert_eq!(k2.architecture, "DeepseekV3ForCausalLM");
    for hardware in ["h200-141gb", "h100-80gb"] {
        let plan = Planner::new(&k2, catalog.hardware(hardware).unwrap())
            .plan(&PlanOptions::default())
            .unwrap();
        let per_token: u64 = plan.stages.iter().map(|s| s.kv_cache_bytes_per_token).sum();
        assert_eq!(per_token, 61 * 1152, "{hardware}");
        for stage in &plan.stages {
            assert_eq!(stage.kv_cache_groups.len(), 1);
            assert_eq!(stage.kv_cache_groups[0].kind, lwsplan::plan::CacheKind::Mla);
        }
    }
}

/// DeepSeek-V3.2 and GLM-5: the sparse MLA latent and the indexer's key (128 FP8 values and
/// one fp32 scale) share one group: 1,152 + 132 bytes a token and layer in BF16, 656 + 132
/// with `--kv-cache-dtype fp8` (`fp8_ds_mla`), in blocks of 64.
#[test]
fn sparse_mla_caches_the_latent_and_the_indexer_key() {
    use lwsplan::machinery::bytes_per_token_per_layer;
    for name in ["DeepSeek-V3.2", "GLM-5.1-FP8"] {
        let m = import_next(name);
        assert_eq!(
            bytes_per_token_per_layer(&m, 8, KvCacheDtype::Auto),
            1152 + 132
        );
        assert_eq!(
            bytes_per_token_per_layer(&m, 8, KvCacheDtype::Fp8),
            656 + 132
        );
        let h200 = Catalog::builtin().hardware("h200-141gb").unwrap().clone();
        let kv = lwsplan::machinery::KvLayout::new(&m, &h200, 8, 1, KvCacheDtype::Auto, 0).unwrap();
        assert_eq!(kv.groups.len(), 1, "{name}");
        assert_eq!(kv.block_size, 64);
        let layers = m.num_hidden_layers;
        assert_eq!(kv.block_bytes(0..layers), layers * 64 * 1284, "{name}");
    }
}

/// GLM-5.2's IndexCache (`index_topk_freq` 4, `index_skip_topk_offset` 3): 21 of its 78 layers
/// keep an indexer and its key cache (ROCm/ATOM PR #1260), so a token takes 78 latents and 21
/// indexer keys, 78 × 1,152 + 21 × 132 = 92,628 bytes in BF16 and 78 × 656 + 21 × 132 = 53,940
/// under `fp8_ds_mla`, still one group of 64-token blocks; an MTP layer keeps a full indexer
/// (`DeepseekV2MLAAttention`, vllm-project/vllm `deepseek_v2.py` @ 002d6073), so it adds 1,284.
/// The 57 dropped indexers hold no weights either.
#[test]
fn index_cache_drops_the_shared_layers_indexer_keys() {
    let m = import_next("GLM-5.2-FP8");
    let h200 = Catalog::builtin().hardware("h200-141gb").unwrap().clone();
    let layers = m.num_hidden_layers;
    assert_eq!(m.indexed_layers(0..layers), 21);
    for (dtype, per_token) in [(KvCacheDtype::Auto, 92_628), (KvCacheDtype::Fp8, 53_940)] {
        let kv = lwsplan::machinery::KvLayout::new(&m, &h200, 8, 1, dtype, 0).unwrap();
        assert_eq!(kv.groups.len(), 1, "{dtype:?}");
        assert_eq!(kv.block_size, 64);
        assert_eq!(kv.bytes_per_token(0..layers), per_token, "{dtype:?}");
        assert_eq!(kv.block_bytes(0..layers), 64 * per_token, "{dtype:?}");
    }
    let mtp = lwsplan::machinery::KvLayout::new(&m, &h200, 8, 1, KvCacheDtype::Auto, 1).unwrap();
    assert_eq!(mtp.bytes_per_token(0..layers), 92_628 + 1_284);
    // GLM-5.1 has the same shapes with an indexer on every layer: 57 × 9,371,680 parameters
    // more (wq_b 4,096 × 2,048, wk 128 × 6,144, weights_proj 32 × 6,144, k_norm's weight and
    // bias 2 × 128).
    let glm51 = import_next("GLM-5.1-FP8");
    assert_eq!(
        lwsplan::machinery::parameters(&glm51) - lwsplan::machinery::parameters(&m),
        57 * (4096 * 2048 + 128 * 6144 + 32 * 6144 + 2 * 128)
    );
}

/// Qwen3.5-397B-A17B at TP 8 keeps 533,504 bytes of state per gated-DeltaNet layer and
/// sequence on each GPU: a (3, 1536) BF16 convolution state and an (8, 128, 128) FP32
/// recurrent state (vLLM `gated_delta_net_state_shape`, `mamba_ssm_dtype: float32`). Summed
/// over the stages of any plan, the per-sequence state is 45 layers of it, and the 15
/// full-attention layers' KV per token is a group of its own.
#[test]
fn qwen3_5_state_is_per_sequence() {
    let m = import_next("Qwen3.5-397B-A17B");
    assert_eq!(lwsplan::machinery::state_bytes_per_sequence(&m, 8), 533_504);
    let catalog = Catalog::builtin();
    let h200 = catalog.hardware("h200-141gb").unwrap();
    let plan = Planner::new(&m, h200)
        .plan(&PlanOptions {
            tensor_parallel_size: Some(8),
            ..PlanOptions::default()
        })
        .unwrap();
    let state: u64 = plan
        .stages
        .iter()
        .map(|s| s.kv_cache_bytes_per_sequence)
        .sum();
    assert_eq!(state, 45 * 533_504);
    let per_token: u64 = plan.stages.iter().map(|s| s.kv_cache_bytes_per_token).sum();
    // 2 KV heads over 8 ranks: one replicated head of 256, K and V in BF16.
    assert_eq!(per_token, 15 * 1024);
    let json = serde_json::to_value(&plan).unwrap();
    let groups = json["stages"][0]["kv_cache_groups"].as_array().unwrap();
    let kinds: Vec<&str> = groups.iter().map(|g| g["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"full_attention") && kinds.contains(&"gated_delta_net"));
    // The attention block grows in steps of 16 until a page holds a state page:
    // 16 × ceil(533,504 / (16 × 1,024)) = 528 tokens, page 540,672 bytes.
    assert_eq!(plan.block_size, 528);
    for g in groups {
        assert_eq!(g["page_bytes"], 528 * 1024);
    }
}

/// vLLM 0.19.0 serving Qwen3.5-27B at TP 1 with --max-model-len 32768 logged "GPU KV cache
/// size: 290,864 tokens" and "Maximum concurrency for 32,768 tokens per request: 33.04x"
/// (vllm-project/vllm#40691, an H20). The layout behind it: a GDN state page of 3 × 10,240
/// BF16 + 48 × 128 × 128 FP32 = 3,207,168 bytes raises the attention block to 784 tokens
/// (4,096 bytes a token); 16 attention and 48 GDN layers make 4 groups of 16; a request of
/// 32,768 tokens takes 42 attention blocks and one state block in each of 3 GDN groups. The
/// 1,487 blocks that the H20's memory held give both logged figures.
#[test]
fn qwen3_5_27b_reproduces_the_logged_capacity() {
    let m = import_next("Qwen3.5-27B");
    let h100 = Catalog::builtin().hardware("h100-80gb").unwrap().clone();
    let kv = lwsplan::machinery::KvLayout::new(&m, &h100, 1, 1, KvCacheDtype::Auto, 0).unwrap();
    assert_eq!(
        lwsplan::machinery::state_bytes_per_sequence(&m, 1),
        3_207_168
    );
    assert_eq!(kv.block_size, 784);
    assert_eq!(kv.groups.len(), 4);
    assert_eq!(kv.block_bytes(0..64), 16 * 784 * 4096);
    assert_eq!(kv.tokens(1487), 290_864);
    let pages = kv.pages_per_sequence(32_768, 8192, u64::MAX);
    assert_eq!(pages, 45);
    assert_eq!((1487 * 100 / pages) as f64 / 100.0, 33.04);
}

/// Counts are bounded before anything is sized from them: a config with a billion layers or
/// experts is refused by field, not allocated.
#[test]
fn huge_counts_are_refused_before_sizing() {
    for (field, value) in [
        ("num_hidden_layers", "1000000000"),
        ("vocab_size", "100000000000"),
        ("num_attention_heads", "100000000000"),
        ("num_experts", "1000000000"),
    ] {
        let text = format!(
            r#"{{"model_type": "qwen3_next", "num_hidden_layers": 4, "hidden_size": 8,
              "num_attention_heads": 2, "vocab_size": 8, "max_position_embeddings": 64,
              "moe_intermediate_size": 8, "num_experts": 4, "num_experts_per_tok": 1,
              "linear_num_key_heads": 1, "linear_num_value_heads": 1, "linear_key_head_dim": 8,
              "linear_value_head_dim": 8, "linear_conv_kernel_dim": 4, "{field}": {value}}}"#
        );
        let err = from_hf_config(&text, "config.json", Some("a/b")).unwrap_err();
        let err = lwsplan::Report(&err).to_string();
        assert!(
            err.contains(field) && err.contains("beyond any real model"),
            "{err}"
        );
    }
}

/// Llama 4 Maverick: experts on every second layer (24 of 48), dense MLPs of 16,384 between;
/// its RoPE layers' chunked local attention is cached as full attention, as vLLM does by
/// default (the hybrid KV-cache manager is off for chunked attention): 48 layers × 2 × 1 KV
/// head × 128 × 2 bytes = 24,576 bytes a token at TP 8.
#[test]
fn llama_4_routes_alternate_layers_and_caches_every_layer() {
    let m = import_next("Llama-4-Maverick-17B-128E-Instruct");
    assert_eq!(m.attention_chunk_size, Some(8192));
    let routed = (0..48).filter(|&l| m.routes_layer(l)).count();
    assert_eq!(routed, 24);
    assert!(!m.routes_layer(0) && m.routes_layer(1));
    let h200 = Catalog::builtin().hardware("h200-141gb").unwrap().clone();
    let kv = lwsplan::machinery::KvLayout::new(&m, &h200, 8, 1, KvCacheDtype::Auto, 0).unwrap();
    assert_eq!(kv.groups.len(), 1);
    assert_eq!(kv.block_bytes(0..48), 48 * 16 * 256 * 2);
}

/// Kimi-K2-Thinking (K2's architecture) on 8 × H200 at TP 8 logged "Available KV cache
/// memory: 46.80 GiB" and "GPU KV cache size: 715,072 tokens" (vllm-project/recipes,
/// moonshotai/Kimi-K2-Think.md, lines 192-196): 46.80 GiB over one block of 61 MLA layers × 64
/// tokens × 1,152 bytes is 11,173 blocks, 715,072 tokens. Its INT4 experts are another
/// quantization format, so only the KV arithmetic is checked here.
#[test]
fn kimi_k2_reproduces_the_logged_capacity_from_the_logged_memory() {
    let k2 = import_next("Kimi-K2-Instruct");
    let h200 = Catalog::builtin().hardware("h200-141gb").unwrap().clone();
    let kv = lwsplan::machinery::KvLayout::new(&k2, &h200, 8, 1, KvCacheDtype::Auto, 0).unwrap();
    let block = kv.block_bytes(0..61);
    assert_eq!(block, 61 * 64 * 1152);
    let available = (46.80 * (1u64 << 30) as f64) as u64;
    assert_eq!(kv.tokens(available / block), 715_072);
}

/// `--target-concurrent-sequences` counts a sequence's state: with Qwen3.5-397B at TP 8 on
/// H200, a full-context sequence takes ⌈262,144 / 528⌉ = 497 attention blocks plus, in each
/// of the 3 DeltaNet groups, one state block on vLLM 0.19 (`mamba_cache_mode 'none'`: 500 in
/// all) and two on later releases ('align' for prefix caching, vLLM 0.33.0's default: 503).
#[test]
fn target_concurrency_counts_the_state_blocks() {
    let catalog = Catalog::builtin();
    let m = catalog.model("qwen3.5-397b-a17b").unwrap();
    let h200 = catalog.hardware("h200-141gb").unwrap();
    for (version, per_sequence) in [("0.19.0", 500), ("0.28.0", 503)] {
        let plan = Planner::new(m, h200)
            .plan(&PlanOptions {
                tensor_parallel_size: Some(8),
                target_concurrent_sequences: Some(40),
                vllm_version: Some(version.parse().unwrap()),
                ..PlanOptions::default()
            })
            .unwrap();
        let per_group = plan.kv_cache_blocks / per_sequence;
        assert_eq!(plan.replicas, 40u64.div_ceil(per_group), "{version}");
        assert_eq!(
            plan.max_concurrency,
            (plan.kv_cache_blocks * 100 / per_sequence) as f64 / 100.0,
            "{version}"
        );
    }
}

/// Nemotron-3 Ultra's Mamba-2 state per layer and sequence on one GPU at TP 8, from
/// `mamba2_state_shape` (`vllm/model_executor/layers/mamba/mamba_utils.py` @
/// 02d710837549a368073552333f66d714477415d2) and its config (256 heads of 64, 8 groups,
/// state 128, kernel 4, `mamba_ssm_cache_dtype: float32`):
/// conv_dim = 256 × 64 + 2 × 8 × 128 = 18,432; conv state (4 − 1, 18,432 / 8) BF16 =
/// 3 × 2,304 × 2 = 13,824 B; recurrent state (256 / 8, 64, 128) FP32 = 32 × 64 × 128 × 4 =
/// 1,048,576 B; 1,062,400 B in all. Summed over the stages of any plan: its 48 Mamba layers.
/// Its 12 attention layers (2 KV heads of 128, one replicated per rank at TP 8, BF16) cache
/// 2 × 1 × 128 × 2 = 512 B a token each, in a group of their own; the attention block grows
/// in steps of 16 until a page holds a state page: 16 × ⌈1,062,400 / (16 × 512)⌉ = 2,080.
#[test]
fn nemotron_3_ultra_state_is_per_sequence() {
    let m = import_next("NVIDIA-Nemotron-3-Ultra-550B-A55B-BF16");
    assert_eq!(
        lwsplan::machinery::state_bytes_per_sequence(&m, 8),
        1_062_400
    );
    let catalog = Catalog::builtin();
    let h200 = catalog.hardware("h200-141gb").unwrap();
    for pp in [1, 2, 4] {
        let Ok(plan) = Planner::new(&m, h200).plan(&PlanOptions {
            tensor_parallel_size: Some(8),
            pipeline_parallel_size: Some(pp),
            ..PlanOptions::default()
        }) else {
            assert_eq!(pp, 1, "BF16 Ultra fits 2 or 4 nodes of 8 H200");
            continue;
        };
        let state: u64 = plan
            .stages
            .iter()
            .map(|s| s.kv_cache_bytes_per_sequence)
            .sum();
        assert_eq!(state, 48 * 1_062_400, "pp {pp}");
        let per_token: u64 = plan.stages.iter().map(|s| s.kv_cache_bytes_per_token).sum();
        assert_eq!(per_token, 12 * 512, "pp {pp}");
        assert_eq!(plan.block_size, 2080, "pp {pp}");
        let json = serde_json::to_value(&plan).unwrap();
        for stage in json["stages"].as_array().unwrap() {
            for g in stage["kv_cache_groups"].as_array().unwrap() {
                assert_eq!(g["page_bytes"], 2080 * 512);
                assert!(["mamba2", "full_attention"].contains(&g["kind"].as_str().unwrap()));
            }
        }
    }
    // The whole model at TP 8: 48 Mamba layers and 12 attention layers make 4 state groups
    // of 12 and one attention group (group size 12: 48 ≥ 1.5 × 12).
    let kv = lwsplan::machinery::KvLayout::new(&m, h200, 8, 1, KvCacheDtype::Auto, 0).unwrap();
    let kinds: Vec<(lwsplan::plan::CacheKind, u64)> =
        kv.groups.iter().map(|g| (g.spec.kind, g.layers)).collect();
    use lwsplan::plan::CacheKind::{FullAttention, Mamba2};
    assert_eq!(
        kinds,
        [
            (Mamba2, 12),
            (Mamba2, 12),
            (Mamba2, 12),
            (Mamba2, 12),
            (FullAttention, 12)
        ]
    );
    assert_eq!(kv.block_bytes(0..108), 12 * 2080 * 512);
}

/// Mamba-2 per-layer state at other sizes, by the same formula: Nano at TP 1 (64 heads of 64,
/// 8 groups, state 128): conv (3, 4,096 + 2,048) BF16 = 36,864 B, recurrent (64, 64, 128) FP32
/// = 2,097,152 B; Nemotron-H 56B at TP 8 (256 heads, 8 groups, state 256, no
/// `mamba_ssm_cache_dtype`: vLLM's default float32): conv (3, 20,480 / 8) BF16 = 15,360 B,
/// recurrent (32, 64, 256) FP32 = 2,097,152 B.
#[test]
fn mamba2_state_follows_vllm_shapes() {
    use lwsplan::machinery::state_bytes_per_sequence;
    let nano = import_next("NVIDIA-Nemotron-3-Nano-30B-A3B-BF16");
    assert_eq!(state_bytes_per_sequence(&nano, 1), 36_864 + 2_097_152);
    let h56 = import_next("Nemotron-H-56B-Base-8K");
    assert_eq!(state_bytes_per_sequence(&h56, 8), 15_360 + 2_097_152);
}

/// vLLM's `MambaMixer2` takes a TP that divides the mixer's 8 groups (or a single group): TP
/// 16 is refused with its assertion's message, whatever else would fit.
#[test]
fn nemotron_tp_must_divide_the_mamba_groups() {
    let m = import_next("NVIDIA-Nemotron-3-Ultra-550B-A55B-FP8");
    let h200 = Catalog::builtin().hardware("h200-141gb").unwrap().clone();
    let err = Planner::new(&m, &h200)
        .plan(&PlanOptions {
            tensor_parallel_size: Some(16),
            ..PlanOptions::default()
        })
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "If tensor parallel world size does not divide num_groups, then num_groups must \
             equal 1."
        ),
        "{err}"
    );
}

/// NemotronH's blocks come from `layers_block_type` (Ultra; transformers' `NemotronHConfig`
/// maps mamba → M, moe → E, attention → *, mlp → -) or `hybrid_override_pattern` (Nano,
/// Nemotron-H); a count that disagrees with them, an unknown block, or a width per layer is
/// refused by field.
#[test]
fn nemotron_h_blocks_come_from_either_list() {
    let ultra = import_next("NVIDIA-Nemotron-3-Ultra-550B-A55B-BF16");
    let pattern = ultra.hybrid_override_pattern.clone().unwrap();
    assert_eq!(pattern.len(), 108);
    let count = |c| pattern.chars().filter(|&p| p == c).count();
    assert_eq!(
        (count('M'), count('E'), count('*'), count('-')),
        (48, 48, 12, 0)
    );
    assert!(ultra.non_gated_mlp);
    let nano = import_next("NVIDIA-Nemotron-3-Nano-30B-A3B-BF16");
    assert!(nano.hybrid_override_pattern.unwrap().starts_with("MEMEM*E"));
    let h56 = import_next("Nemotron-H-56B-Base-8K");
    assert!(matches!(
        h56.mlp,
        lwsplan::profile::Mlp::Dense {
            intermediate_size: 32768
        }
    ));
    // Nemotron-H names its head size `attention_head_dim`.
    assert!(matches!(
        h56.attention,
        lwsplan::profile::Attention::Gqa {
            head_dim: 128,
            num_key_value_heads: 8,
            ..
        }
    ));
    let text = fixture("tests/fixtures/hf/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16/config.json");
    let repo = Some("nvidia/x");
    for (from, to, field) in [
        (
            "\"num_hidden_layers\": 52",
            "\"num_hidden_layers\": 51",
            "num_hidden_layers",
        ),
        ("MEMEM*EMEMEM", "MEMEMXEMEMEM", "hybrid_override_pattern"),
        (
            "\"intermediate_size\": 1856",
            "\"intermediate_size\": [1856, 1856]",
            "intermediate_size",
        ),
    ] {
        assert!(text.contains(from), "{from}");
        let err = from_hf_config(&text.replacen(from, to, 1), "config.json", repo)
            .unwrap_err()
            .to_string();
        assert!(err.contains(&format!("field `{field}`")), "{err}");
    }
}
/// DeepSeek-V4 imported from its config.json is the built-in profile (the fields lwsplan
/// sizes), and NVIDIA's NVFP4 copies differ only in their routed experts: ModelOpt NVFP4 (an
/// FP8 scale per 16 weights, 0.5625 bytes a weight) instead of MXFP4 (0.53125), the rest FP8
/// as DeepSeek's (`quant_algo: MIXED_PRECISION`, `moe_quant_algo: NVFP4`; vLLM's
/// `DeepseekV4FP8Config` serves both, `vllm/models/deepseek_v4/quant_config.py`, v0.34.0).
/// DeepSeek-V4-Pro: 1,573.0 B in the main model and 25.8 B in its MTP layer, within 0.1 % of
/// the published "1.6T" (huggingface/blog#3363; recipes' "1600B") with the MTP layer, 1.7 %
/// under it without.
#[test]
fn deepseek_v4_imports_as_the_builtin() {
    use lwsplan::profile::{MoeQuantAlgo, Quantization};
    let catalog = Catalog::builtin();
    for (name, id) in [
        ("DeepSeek-V4-Flash", "deepseek-v4-flash"),
        ("DeepSeek-V4-Pro", "deepseek-v4-pro"),
    ] {
        let builtin = catalog.model(id).unwrap();
        let imported =
            ModelProfile::from_hf_config_file(&config(name), Some(&format!("deepseek-ai/{name}")))
                .unwrap();
        assert_eq!(imported.attention, builtin.attention, "{name}");
        assert_eq!(imported.mlp, builtin.mlp, "{name}");
        assert_eq!(imported.quantization, builtin.quantization, "{name}");
        assert_eq!(imported.hc_mult, Some(4));
        assert_eq!(imported.sliding_window, Some(128));
        assert_eq!(imported.num_nextn_predict_layers, 1);
        assert_eq!(
            lwsplan::machinery::weight_bytes(&imported),
            lwsplan::machinery::weight_bytes(builtin)
        );
        let nvfp4 = ModelProfile::from_hf_config_file(
            &config(&format!("{name}-NVFP4")),
            Some(&format!("nvidia/{name}-NVFP4")),
        )
        .unwrap();
        assert!(matches!(
            nvfp4.quantization,
            Some(Quantization::Fp8 {
                moe_quant_algo: Some(MoeQuantAlgo::Nvfp4),
                ref modules_to_not_convert,
                ..
            }) if modules_to_not_convert.is_empty()
        ));
        assert_eq!(
            lwsplan::machinery::parameters(&nvfp4),
            lwsplan::machinery::parameters(builtin)
        );
        // The experts' extra scale byte per 32 weights: 1/32 of a byte more per expert weight.
        let (mx, nv) = (
            lwsplan::machinery::weight_bytes(builtin) as f64,
            lwsplan::machinery::weight_bytes(&nvfp4) as f64,
        );
        assert!(nv > mx && (nv - mx) / mx < 0.07, "{name}: {nv} vs {mx}");
        // Both plan on 8 × B200 (NVIDIA's NVFP4 recipe is for Blackwell) and on 8 × H200.
        for hardware in ["b200", "h200-141gb"] {
            let hw = catalog.hardware(hardware).unwrap();
            for m in [&imported, &nvfp4] {
                let plan = Planner::new(m, hw).plan(&PlanOptions::default());
                assert!(
                    plan.is_ok(),
                    "{} on {hardware}: {}",
                    m.id,
                    plan.unwrap_err()
                );
            }
        }
    }
    let pro = catalog.model("deepseek-v4-pro").unwrap();
    let main = lwsplan::machinery::parameters(pro) as f64;
    assert!((main - 1.573e12).abs() < 1e9, "{main}");
    assert!((main - 1.6e12).abs() / 1.6e12 > 0.015);
}

/// A DeepSeek-V4 config says its ratio per layer and the MTP layer's after them; a ratio vLLM's
/// compressor does not take is refused by name.
#[test]
fn deepseek_v4_compress_ratios_are_checked() {
    let text = std::fs::read_to_string(config("DeepSeek-V4-Flash")).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["compress_ratios"][5] = serde_json::json!(16);
    let err = from_hf_config(&value.to_string(), "config.json", Some("a/b")).unwrap_err();
    assert!(
        err.to_string()
            .contains("16: vLLM's compressor takes ratios 4 and 128"),
        "{err}"
    );
    value["compress_ratios"] = serde_json::json!([4, 128]);
    let err = from_hf_config(&value.to_string(), "config.json", Some("a/b")).unwrap_err();
    assert!(
        err.to_string()
            .contains("lists 2 layers; num_hidden_layers is 43"),
        "{err}"
    );
}
