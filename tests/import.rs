//! Model profiles imported from real Hugging Face configs (`tests/fixtures/hf/`, sources in
//! SOURCE.md there): each plans, and its parameter count is within 0.5 % of the published one.

use std::path::PathBuf;

use lwsplan::profile::hf::from_hf_config_file;
use lwsplan::{Catalog, PlanOptions, Planner};

fn config(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/hf/{name}/config.json"))
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
        let profile = from_hf_config_file(&config(name), None).unwrap();
        let ours = lwsplan::plan::parameters(&profile) as f64;
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
    let imported =
        from_hf_config_file(&config("DeepSeek-R1"), Some("deepseek-ai/DeepSeek-R1")).unwrap();
    let builtin = Catalog::builtin().model("deepseek-r1").unwrap();
    assert_eq!(imported.attention, builtin.attention);
    assert_eq!(imported.mlp, builtin.mlp);
    assert_eq!(imported.quantization, builtin.quantization);
    assert_eq!(imported.vllm_args, builtin.vllm_args);
    assert_eq!(
        lwsplan::plan::weight_bytes(&imported),
        lwsplan::plan::weight_bytes(builtin)
    );
}

#[test]
fn every_imported_config_plans_on_h100() {
    let hardware = Catalog::builtin().hardware("h100-80gb").unwrap();
    for (name, _) in PUBLISHED {
        let profile = from_hf_config_file(&config(name), None).unwrap();
        let plan = Planner::new(&profile, hardware)
            .plan(&PlanOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(plan.kv_cache_tokens > 0, "{name}");
    }
}

#[test]
fn hf_repo_falls_back_to_the_config_directory() {
    let profile = from_hf_config_file(&config("Qwen3-8B"), None).unwrap();
    assert!(
        profile.hf_repo.ends_with("tests/fixtures/hf/Qwen3-8B"),
        "{}",
        profile.hf_repo
    );
    assert_eq!(profile.id, "qwen3-8b");
    let named = from_hf_config_file(&config("Qwen3-8B"), Some("Qwen/Qwen3-8B")).unwrap();
    assert_eq!(named.hf_repo, "Qwen/Qwen3-8B");
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
             "quantization_config": {"quant_method": "compressed-tensors"}}"#,
            "field `quantization_config.quant_method`: `compressed-tensors` is not modelled yet",
        ),
        (
            r#"{"model_type": "qwen2", "sliding_window": 4096, "max_position_embeddings": 32768, "use_sliding_window": true}"#,
            "field `sliding_window`: sliding-window attention (4096 of 32768 tokens) on some layers only is not modelled yet",
        ),
        (
            r#"{"model_type": "llama", "num_hidden_layers": "two"}"#,
            "field `num_hidden_layers`: \"two\" is not a whole number",
        ),
        ("not json", "not a JSON config"),
    ];
    for (text, expected) in cases {
        let err = lwsplan::profile::hf::from_hf_config(text, "config.json", None, ".")
            .unwrap_err()
            .to_string();
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
    let profile = lwsplan::profile::hf::from_hf_config(&awq, "awq.json", Some("x/y"), ".").unwrap();
    assert_eq!(
        profile.quantization,
        Some(lwsplan::profile::Quantization::Awq { group_size: 128 })
    );
    let gptq = format!(
        r#"{{{base}, "quantization_config": {{"quant_method": "gptq", "bits": 8, "group_size": 128}}}}"#
    );
    let err = lwsplan::profile::hf::from_hf_config(&gptq, "gptq.json", Some("x/y"), ".")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("gptq with 8 bits is not modelled; only 4-bit"),
        "{err}"
    );
    // 4-bit weights take about a quarter of BF16's bytes (plus embeddings, which stay BF16).
    let bf16 =
        lwsplan::profile::hf::from_hf_config(&format!("{{{base}}}"), "bf16.json", Some("x/y"), ".")
            .unwrap();
    let (q, b) = (
        lwsplan::plan::weight_bytes(&profile),
        lwsplan::plan::weight_bytes(&bf16),
    );
    assert!(q < b / 2, "{q} vs {b}");
}

#[test]
fn a_safetensors_index_gives_the_exact_checkpoint_size() {
    use lwsplan::profile::hf::{apply_safetensors_index, read_safetensors_index};
    let mut profile =
        from_hf_config_file(&config("Llama-3.1-8B"), Some("meta-llama/Llama-3.1-8B")).unwrap();
    let index_path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hf/Llama-3.1-8B/model.safetensors.index.json");
    let index = read_safetensors_index(&index_path, profile.num_hidden_layers).unwrap();
    assert!(!index.has_extra_layers);
    assert!(apply_safetensors_index(&mut profile, &index));
    // lwsplan's own count agrees with the checkpoint to the byte for this model.
    assert_eq!(
        profile.checkpoint_bytes,
        Some(lwsplan::plan::weight_bytes(&profile))
    );
    let hardware = Catalog::builtin().hardware("h100-80gb").unwrap();
    let plan = Planner::new(&profile, hardware)
        .plan(&PlanOptions::default())
        .unwrap();
    assert_eq!(plan.weight_bytes, 16_060_522_496);
    assert!(
        plan.notes.iter().any(|n| n.contains("(+0.00 %)")),
        "{:?}",
        plan.notes
    );
}

#[test]
fn an_index_with_mtp_layers_is_not_taken_as_the_model_size() {
    use lwsplan::profile::hf::{apply_safetensors_index, read_safetensors_index};
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mtp-index");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors.index.json");
    std::fs::write(
        &path,
        r#"{"metadata": {"total_size": 688586727753},
            "weight_map": {"model.layers.60.mlp.gate.weight": "a", "model.layers.61.eh_proj.weight": "b"}}"#,
    )
    .unwrap();
    let mut profile = from_hf_config_file(&config("DeepSeek-R1"), None).unwrap();
    let index = read_safetensors_index(&path, profile.num_hidden_layers).unwrap();
    assert!(
        index.has_extra_layers,
        "layer 61 is past the 61 decoder layers (0-60): MTP"
    );
    assert!(!apply_safetensors_index(&mut profile, &index));
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
    let imported = lwsplan::profile::hf::from_hf_config(
        &config.to_string(),
        "config.json",
        Some("openai/gpt-oss-120b"),
        ".",
    )
    .unwrap();
    let builtin = Catalog::builtin().model("gpt-oss-120b").unwrap();
    assert_eq!(imported.attention, builtin.attention);
    assert_eq!(imported.mlp, builtin.mlp);
    assert_eq!(imported.layer_types, builtin.layer_types);
    assert_eq!(imported.sliding_window, builtin.sliding_window);
    assert_eq!(imported.quantization, builtin.quantization);
    assert_eq!(
        lwsplan::plan::parameters(&imported),
        lwsplan::plan::parameters(builtin)
    );
}

/// Mistral-style configs whose window is shorter than the context slide on every layer.
#[test]
fn an_all_sliding_config_keeps_a_small_kv_cache_per_request() {
    let config = r#"{"model_type": "mistral", "architectures": ["MistralForCausalLM"],
        "hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32,
        "num_key_value_heads": 8, "num_hidden_layers": 32, "vocab_size": 32000,
        "max_position_embeddings": 32768, "sliding_window": 4096}"#;
    let profile =
        lwsplan::profile::hf::from_hf_config(config, "config.json", Some("x/y"), ".").unwrap();
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
