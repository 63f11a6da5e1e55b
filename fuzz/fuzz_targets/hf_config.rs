//! Structure-aware `import`: a `config.json` of a supported architecture with arbitrary counts
//! (any u64, the huge ones included: issue 21 found 2^62 layers allocating exabytes), optional
//! sliding windows, layer types and quantization, then a safetensors index with arbitrary
//! totals and layer names. Every count must be bounded before anything is sized from it: an
//! error or a checked profile, never a panic, an abort or an allocation beyond the input's
//! size; a profile that checks plans (or is refused) without a panic.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use lwsplan::profile::{SUPPORTED_MODEL_TYPES, SafetensorsIndex};
use lwsplan::{Catalog, ModelProfile, PlanOptions, Planner};

/// A count as configs have them: mostly plausible, sometimes anything.
#[derive(Debug, Arbitrary)]
enum Count {
    Small(u8),
    Plausible(u16),
    Any(u64),
    Missing,
}

impl Count {
    fn json(&self) -> Option<String> {
        match self {
            Count::Small(n) => Some(n.to_string()),
            Count::Plausible(n) => Some(n.to_string()),
            Count::Any(n) => Some(n.to_string()),
            Count::Missing => None,
        }
    }
}

#[derive(Debug, Arbitrary)]
struct Config {
    model_type: u8,
    layers: Count,
    hidden: Count,
    heads: Count,
    kv_heads: Count,
    head_dim: Count,
    intermediate: Count,
    moe_intermediate: Count,
    experts: Count,
    experts_per_token: Count,
    vocab: Count,
    context: Count,
    sliding_window: Count,
    kv_lora_rank: Count,
    rope_dims: Count,
    first_dense: Count,
    layer_types: Option<Vec<bool>>,
    fp8_block: Option<(u16, u16)>,
    index_total: u64,
    index_layers: Vec<u64>,
}

fuzz_target!(|c: Config| {
    let model_type = SUPPORTED_MODEL_TYPES[usize::from(c.model_type) % SUPPORTED_MODEL_TYPES.len()];
    let mut fields = vec![format!("\"model_type\": \"{model_type}\"")];
    for (key, count) in [
        ("num_hidden_layers", &c.layers),
        ("hidden_size", &c.hidden),
        ("num_attention_heads", &c.heads),
        ("num_key_value_heads", &c.kv_heads),
        ("head_dim", &c.head_dim),
        ("intermediate_size", &c.intermediate),
        ("moe_intermediate_size", &c.moe_intermediate),
        ("num_local_experts", &c.experts),
        ("num_experts", &c.experts),
        ("n_routed_experts", &c.experts),
        ("num_experts_per_tok", &c.experts_per_token),
        ("vocab_size", &c.vocab),
        ("max_position_embeddings", &c.context),
        ("sliding_window", &c.sliding_window),
        ("kv_lora_rank", &c.kv_lora_rank),
        ("qk_nope_head_dim", &c.rope_dims),
        ("qk_rope_head_dim", &c.rope_dims),
        ("v_head_dim", &c.head_dim),
        ("first_k_dense_replace", &c.first_dense),
    ] {
        if let Some(value) = count.json() {
            fields.push(format!("\"{key}\": {value}"));
        }
    }
    if let Some(types) = &c.layer_types {
        let types: Vec<&str> = types
            .iter()
            .map(|s| if *s { "\"sliding_attention\"" } else { "\"full_attention\"" })
            .collect();
        fields.push(format!("\"layer_types\": [{}]", types.join(", ")));
    }
    if let Some((n, k)) = c.fp8_block {
        fields.push(format!(
            "\"quantization_config\": {{\"quant_method\": \"fp8\", \"weight_block_size\": [{n}, {k}]}}"
        ));
    }
    let text = format!("{{{}}}", fields.join(", "));
    let Ok(mut profile) = ModelProfile::from_hf_config(&text, "fuzz", Some("fuzz/model")) else {
        return;
    };
    let weights: Vec<String> = c
        .index_layers
        .iter()
        .take(64)
        .map(|l| format!("\"model.layers.{l}.mlp.weight\": \"model-00001.safetensors\""))
        .collect();
    let index = format!(
        "{{\"metadata\": {{\"total_size\": {}}}, \"weight_map\": {{{}}}}}",
        c.index_total,
        weights.join(", ")
    );
    let dir = std::env::temp_dir().join(format!("lwsplan-fuzz-hf-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("model.safetensors.index.json");
    if std::fs::write(&path, index).is_ok()
        && let Ok(index) = SafetensorsIndex::from_file(&path, profile.num_hidden_layers)
        && lwsplan::plan::check_checkpoint_size(&profile, index.total_size).is_ok()
    {
        profile.apply_safetensors_index(&index);
    }
    let catalog = Catalog::builtin();
    let hardware = catalog.hardware("h100-80gb").unwrap();
    let _ = Planner::new(&profile, hardware).plan(&PlanOptions::default());
});
