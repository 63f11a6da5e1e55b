//! `lwsplan models` and `lwsplan hardware`: the built-in catalog as a table or as JSON (the
//! profiles themselves, as `lwsplan schema` describes them).

use super::args::Format;
use super::{CliError, json};
use lwsplan::profile::Catalog;
use lwsplan::units::gib;

pub(super) fn models(catalog: &Catalog, format: Format) -> Result<String, CliError> {
    match format {
        Format::Table => Ok(models_table(catalog)),
        Format::Json => json(&catalog.models()),
    }
}

pub(super) fn hardware(catalog: &Catalog, format: Format) -> Result<String, CliError> {
    match format {
        Format::Table => Ok(hardware_table(catalog)),
        Format::Json => json(&catalog.hardware_profiles()),
    }
}

fn models_table(catalog: &Catalog) -> String {
    let mut out = format!(
        "{:<28} {:<46} {:>9} {:>11} {:>8}  {}\n",
        "ID", "HUGGING FACE REPO", "PARAMS", "WEIGHTS", "CONTEXT", "ATTENTION / MLP"
    );
    for m in catalog.models() {
        let attention = match &m.attention {
            lwsplan::profile::Attention::Gqa {
                num_attention_heads,
                num_key_value_heads,
                ..
            } => format!("GQA {num_attention_heads}/{num_key_value_heads} heads"),
            lwsplan::profile::Attention::Mla {
                kv_lora_rank,
                indexer: Some(ix),
                ..
            } => format!("sparse MLA latent {kv_lora_rank}, top-{}", ix.index_topk),
            lwsplan::profile::Attention::Mla { kv_lora_rank, .. } => {
                format!("MLA latent {kv_lora_rank}")
            }
            lwsplan::profile::Attention::CompressedSparseMla {
                head_dim, indexer, ..
            } => format!(
                "compressed sparse MLA latent {head_dim}, top-{}",
                indexer.index_topk
            ),
            other => format!("{other:?}"),
        };
        // A hybrid's recurrent layers first: they set what a sequence costs.
        let attention = match &m.linear_attention {
            Some(lwsplan::profile::LinearAttention::GatedDeltaNet { .. }) => {
                format!("gated DeltaNet + {attention}")
            }
            Some(lwsplan::profile::LinearAttention::Mamba2 { .. }) => {
                format!("Mamba-2 + {attention}")
            }
            Some(lwsplan::profile::LinearAttention::KimiDeltaAttention { .. }) => {
                format!("KDA + {attention}")
            }
            None => attention,
        };
        let mlp = match &m.mlp {
            lwsplan::profile::Mlp::Dense { .. } => "dense".to_string(),
            lwsplan::profile::Mlp::Moe {
                n_routed_experts,
                num_experts_per_tok,
                ..
            } => format!("MoE {num_experts_per_tok}/{n_routed_experts}"),
            other => format!("{other:?}"),
        };
        out.push_str(&format!(
            "{:<28} {:<46} {:>8.1}B {:>11} {:>8}  {attention}, {mlp}\n",
            m.id,
            m.hf_repo,
            lwsplan::plan::parameters(m) as f64 / 1e9,
            gib(lwsplan::plan::weight_bytes(m)),
            m.max_position_embeddings,
        ));
    }
    out
}

fn hardware_table(catalog: &Catalog) -> String {
    let mut out = format!(
        "{:<15} {:<24} {:>11} {:>5} {:>4} {:>9}  {:<22} {}\n",
        "ID", "GPU", "MEMORY", "SM", "FP8", "GPUS/NODE", "GKE ACCELERATOR", "GPU PRODUCT"
    );
    for h in catalog.hardware_profiles() {
        let mut shapes: Vec<u64> = std::iter::once(h.node.gpus)
            .chain(h.node.shapes.iter().map(|s| s.gpus))
            .collect();
        shapes.sort();
        let shapes: Vec<String> = shapes.iter().map(u64::to_string).collect();
        out.push_str(&format!(
            "{:<15} {:<24} {:>11} {:>5} {:>4} {:>9}  {:<22} {}\n",
            h.id,
            h.name,
            gib(h.gpu.memory_bytes),
            h.gpu.compute_capability,
            if h.gpu.native_fp8 { "yes" } else { "no" },
            shapes.join(","),
            h.labels.gke_accelerator,
            h.labels.gpu_product
        ));
    }
    out
}
