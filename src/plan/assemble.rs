//! Building the [`Plan`] from the chosen fit: the figures vLLM will log, the flags it needs,
//! replicas and `/dev/shm`.

use super::options::{DEFAULT_GPU_MEMORY_UTILIZATION, PlanOptions};
use super::search::{Fit, vllm_budget};
use super::{Alternative, KvCacheDtype, Note, Plan, Planner, Stage, weights};
use crate::profile::ModelProfile;

impl Planner<'_> {
    pub(crate) fn assemble(
        &self,
        fit: Fit,
        options: &PlanOptions,
        notes: Vec<Note>,
        alternatives: Vec<Alternative>,
    ) -> Plan {
        let (model, hardware) = (self.model, self.hardware);
        let layout = fit.layout;
        let limiting = fit
            .stages
            .iter()
            .min_by_key(|s| (s.kv_cache_blocks, std::cmp::Reverse(s.layers)))
            .expect("PP ≥ 1");
        let shm = super::shm::shm(
            layout.gpus_per_pod,
            options.launcher,
            self.host_memory(options),
        );
        let max_concurrency = concurrency(fit.blocks, fit.blocks_per_request);
        let engines = layout.data_parallel_size;
        let replicas = replicas(options, fit.blocks, fit.blocks_per_request, engines);
        Plan {
            model: model.id.clone(),
            model_repo: model.hf_repo.clone(),
            hardware: hardware.id.clone(),
            gpu_name: hardware.name.clone(),
            node_labels: hardware.labels.clone(),
            vllm_version: options.vllm_version(),
            layout,
            expert_parallel: fit.expert_parallel,
            network: options.network.unwrap_or(hardware.node.network),
            gated: model.gated.unwrap_or(true),
            node: super::NodeResources {
                gpus: self.gpus_per_node(options),
                host_memory_bytes: self.host_memory(options),
                allocatable: hardware.allocatable(self.gpus_per_node(options)),
            },
            total_gpus: layout.gpus(),
            gpu_memory_bytes: hardware.gpu.memory_bytes,
            gpu_memory_utilization: options.gpu_memory_utilization,
            budget_bytes_per_gpu: vllm_budget(hardware.gpu.memory_bytes, model, options),
            kv_cache_memory_bytes: options.kv_cache_memory_bytes,
            parameters: weights::parameters(model),
            weight_bytes: self.weight_total(),
            max_weight_bytes_per_pod: max_weight_bytes_per_pod(
                &fit.stages,
                layout,
                weights::rope_table_bytes(model),
            ),
            // DeepSeek-V4 is rendered with fp8 whatever was asked (`serve_args`).
            kv_cache_dtype: if matches!(
                model.attention,
                crate::profile::Attention::CompressedSparseMla { .. }
            ) {
                KvCacheDtype::Fp8
            } else {
                options.kv_cache_dtype
            },
            block_size: fit.kv.block_size,
            kv_cache_bytes_per_token: limiting.kv_cache_bytes_per_token,
            kv_cache_bytes_per_sequence: limiting.kv_cache_bytes_per_sequence,
            kv_cache_blocks: fit.blocks,
            kv_cache_tokens: fit.tokens,
            group_kv_cache_tokens: fit.tokens * engines,
            max_model_len: fit.max_model_len,
            max_model_len_source: fit.source,
            max_concurrency,
            replicas,
            total_concurrency: (max_concurrency * (replicas * engines) as f64 * 100.0).round()
                / 100.0,
            vllm_args: serve_args(model, &fit, options),
            stages: fit
                .stages
                .iter()
                .map(|s| {
                    let range = s.first_layer..s.first_layer + s.layers;
                    Stage {
                        kv_cache_groups: fit.kv.stage_groups_in(range),
                        ..s.clone()
                    }
                })
                .collect(),
            launcher: options.launcher,
            shm_size_bytes: shm.size_bytes,
            shm,
            performance: fit.performance,
            notes,
            alternatives,
        }
    }

    /// Host memory of the node shape in use: a listed shape's, or, for a GPU count no listed
    /// machine has, the default node's scaled down to that many GPUs (a guess, noted).
    fn host_memory(&self, options: &PlanOptions) -> u64 {
        let gpus = self.gpus_per_node(options);
        let node = &self.hardware.node;
        match self.hardware.shape(gpus) {
            Some(shape) => shape.host_memory_bytes,
            None => node.host_memory_bytes / node.gpus * gpus,
        }
    }
}

/// The flags `vllm serve` needs beyond the model and the parallel sizes: the profile's own,
/// then whatever differs from vLLM's defaults.
fn serve_args(model: &ModelProfile, fit: &Fit, options: &PlanOptions) -> Vec<String> {
    let mut args = model.vllm_args.clone();
    if fit.max_model_len != model.max_position_embeddings {
        args.extend(["--max-model-len".into(), fit.max_model_len.to_string()]);
    }
    // vLLM ignores the utilization once the cache is fixed: render the one that counts.
    if let Some(bytes) = options.kv_cache_memory_bytes {
        args.extend(["--kv-cache-memory-bytes".into(), bytes.to_string()]);
    } else if options.gpu_memory_utilization != DEFAULT_GPU_MEMORY_UTILIZATION {
        args.extend([
            "--gpu-memory-utilization".into(),
            options.gpu_memory_utilization.to_string(),
        ]);
    }
    if fit.expert_parallel {
        args.push("--enable-expert-parallel".into());
    }
    // DP's sizes differ between the leader and the workers: the group wiring renders them.
    if fit.layout.decode_context_parallel_size > 1 {
        args.extend([
            "--decode-context-parallel-size".into(),
            fit.layout.decode_context_parallel_size.to_string(),
        ]);
    }
    // DeepSeek-V4's FlashMLA cache is FP8 whatever the flag, and vLLM 0.28.0 refuses `auto`
    // there ("DeepseekV4 fp8_ds_mla layout only supports fp8 kv-cache",
    // `_resolve_dsv4_kv_cache_dtype`, `vllm/models/deepseek_v4/attention.py`): say fp8.
    let compressed = matches!(
        model.attention,
        crate::profile::Attention::CompressedSparseMla { .. }
    );
    if options.kv_cache_dtype != KvCacheDtype::Auto || compressed {
        args.extend(["--kv-cache-dtype".into(), KvCacheDtype::Fp8.as_str().into()]);
    }
    // Rendered only when set: vLLM's own default for the GPU is what the plan assumed.
    if let Some(tokens) = options.max_num_batched_tokens {
        args.extend(["--max-num-batched-tokens".into(), tokens.to_string()]);
    }
    if let Some(seqs) = options.max_num_seqs {
        args.extend(["--max-num-seqs".into(), seqs.to_string()]);
    }
    if let Some(tokens) = options.speculative_mtp {
        args.extend(["--speculative-config".into(), speculative_config(tokens)]);
    }
    args
}

/// vLLM's `--speculative-config` for MTP: `mtp` is the one method name for every model's MTP
/// layers (the per-model names, `deepseek_mtp`, `qwen3_5_mtp`, … are deprecated aliases of
/// it: `vllm/config/speculative.py` `SpeculativeConfig.__post_init__`, v0.28.0).
fn speculative_config(tokens: u64) -> String {
    format!(r#"{{"method":"mtp","num_speculative_tokens":{tokens}}}"#)
}

/// vLLM's "Maximum concurrency for L tokens per request": the group's blocks over the blocks
/// one such request takes, truncated to two decimals.
pub(crate) fn concurrency(blocks: u64, blocks_per_request: u64) -> f64 {
    (blocks.saturating_mul(100) / blocks_per_request.max(1)) as f64 / 100.0
}

/// Replicas: as given, or the fewest whose groups together hold the target number of
/// `max_model_len` sequences at once (each of a group's `engines` holds
/// `blocks / blocks_per_request` of them).
fn replicas(options: &PlanOptions, blocks: u64, blocks_per_request: u64, engines: u64) -> u64 {
    match (options.replicas, options.target_concurrent_sequences) {
        (Some(n), _) => n,
        (None, Some(target)) => {
            let per_group = (blocks / blocks_per_request.max(1)).max(1) * engines;
            target.div_ceil(per_group)
        }
        (None, None) => 1,
    }
}

/// Ranks are laid out TP-fastest (`pp_rank = rank / TP`), pods take consecutive ranks: the
/// heaviest pod is the one whose GPUs hold the most weight bytes. The RoPE table each GPU builds
/// (`rope_table` bytes, [`weights::rope_table_bytes`]) is computed on the GPU, not loaded, so it
/// is left out.
fn max_weight_bytes_per_pod(stages: &[Stage], layout: super::Layout, rope_table: u64) -> u64 {
    let tp = layout.tensor_parallel_size;
    // Under DP each engine repeats the stages: the stage is the rank's within its engine.
    let pp = stages.len() as u64;
    let rank_bytes = |rank: u64| {
        stages[(rank / tp % pp) as usize]
            .weight_bytes_per_gpu
            .saturating_sub(rope_table)
    };
    (0..layout.nodes)
        .map(|pod| {
            let ranks = pod * layout.gpus_per_pod..(pod + 1) * layout.gpus_per_pod;
            ranks.map(rank_bytes).fold(0u64, u64::saturating_add)
        })
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_is_blocks_over_blocks_per_sequence() {
        // 163,840 tokens in blocks of 64 = 2,560 blocks a request.
        assert_eq!(concurrency(12_542, 2_560), 4.89);
        assert_eq!(concurrency(100, 100), 1.0);
        assert_eq!(concurrency(0, 1), 0.0);
    }

    /// MTP speculative decoding (DeepSeek-R1's one MTP layer): vLLM gets
    /// `--speculative-config` with method `mtp`; the last stage holds the MTP layer's weights
    /// and one more MLA layer's latent cache (1,152 bytes a token in BF16); the plan says so.
    /// Without it the layer is not counted, and the plan says that instead.
    #[test]
    fn speculative_mtp_counts_the_drafter_on_the_last_stage() {
        let catalog = crate::Catalog::builtin();
        let (r1, h200) = (
            catalog.model("deepseek-r1").unwrap(),
            catalog.hardware("h200-141gb").unwrap(),
        );
        let pinned = PlanOptions {
            tensor_parallel_size: Some(8),
            pipeline_parallel_size: Some(2),
            ..PlanOptions::default()
        };
        let plain = crate::Planner::new(r1, h200).plan(&pinned).unwrap();
        let mtp = crate::Planner::new(r1, h200)
            .plan(&PlanOptions {
                speculative_mtp: Some(2),
                ..pinned.clone()
            })
            .unwrap();
        let tail = |a: &[String]| a[a.len() - 2..].to_vec();
        assert_eq!(
            tail(&mtp.vllm_args),
            [
                "--speculative-config",
                r#"{"method":"mtp","num_speculative_tokens":2}"#
            ]
        );
        assert!(!plain.vllm_args.iter().any(|a| a.contains("speculative")));
        let [first, last] = [0, 1].map(|i| {
            (
                mtp.stages[i].weight_bytes_per_gpu - plain.stages[i].weight_bytes_per_gpu,
                mtp.stages[i].kv_cache_bytes_per_token,
                plain.stages[i].kv_cache_bytes_per_token,
            )
        });
        assert_eq!(first, (0, first.2, first.2), "the first stage is unchanged");
        assert_eq!(
            last.1 - last.2,
            1152,
            "one more MLA layer's latent per token"
        );
        // An MoE layer at TP 8 (FP8 experts, 1.41 GB a rank; attention and the dequantized
        // kv_b_proj 0.05 GB), its BF16 eh_proj (7168 × 14336 × 2 = 0.21 GB) and the drafter's
        // own embedding shard (129,280 × 7168 × 2 / 8 = 0.23 GB; the last stage is not the
        // first): 1.90 GB. The exact sum is weights.rs's test.
        assert!(
            (1_850_000_000..1_950_000_000).contains(&last.0),
            "MTP bytes on the last stage: {}",
            last.0
        );
        let says = |plan: &crate::plan::Plan, text: &str| {
            plan.notes.iter().any(|n| n.to_string().contains(text))
        };
        assert!(says(&plain, "multi-token-prediction layer is not loaded"));
        assert!(says(&mtp, "MTP speculative decoding, 2 tokens a step"));
        // A model without MTP layers is refused, naming the option.
        let llama = catalog.model("llama-3.1-8b-instruct").unwrap();
        let err = crate::Planner::new(llama, h200)
            .plan(&PlanOptions {
                speculative_mtp: Some(1),
                ..PlanOptions::default()
            })
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("speculative_mtp: "), "{err}");
        assert!(err.contains("no multi-token-prediction layers"), "{err}");
    }

    /// Llama 4's RoPE cos/sin table is part of each GPU's weights ("Model loading took" counts
    /// it: 53.12 GiB in llm-d-planner's vLLM 0.19.0 log of Scout at TP 4) but no pod loads it
    /// from the checkpoint, so the pod's load size leaves it out.
    #[test]
    fn the_rope_table_counts_on_the_gpu_not_in_the_pods_load() {
        let scout = crate::profile::hf_fixture("Llama-4-Scout-17B-16E-Instruct");
        let h100 = crate::Catalog::builtin().hardware("h100-80gb").unwrap();
        let plan = crate::Planner::new(&scout, h100)
            .plan(&PlanOptions {
                tensor_parallel_size: Some(4),
                max_model_len: super::super::MaxModelLen::Tokens(8192),
                ..PlanOptions::default()
            })
            .unwrap();
        // 10,485,760 positions × head_dim 128 × 2 bytes (BF16).
        let table = weights::rope_table_bytes(&scout);
        assert_eq!(table, 2_684_354_560);
        let gpu = plan.stages[0].weight_bytes_per_gpu;
        assert!(gpu > table);
        assert_eq!(
            plan.max_weight_bytes_per_pod,
            plan.layout.gpus_per_pod * (gpu - table)
        );
    }

    /// A target that a whole number of groups holds exactly takes exactly that many.
    #[test]
    fn replicas_cover_the_target_exactly() {
        let target = |n| PlanOptions {
            target_concurrent_sequences: Some(n),
            ..PlanOptions::default()
        };
        // 1000 blocks, 100 a request: 10 sequences per group.
        assert_eq!(replicas(&target(30), 1000, 100, 1), 3);
        assert_eq!(replicas(&target(31), 1000, 100, 1), 4);
        assert_eq!(replicas(&target(1), 1000, 100, 1), 1);
        assert_eq!(replicas(&target(10), 1000, 100, 1), 1);
        assert_eq!(replicas(&target(11), 1000, 100, 1), 2);
        // A group that holds less than one sequence still counts as one.
        assert_eq!(replicas(&target(5), 50, 100, 1), 5);
        let fixed = PlanOptions {
            replicas: Some(7),
            ..PlanOptions::default()
        };
        assert_eq!(replicas(&fixed, 1000, 100, 1), 7);
        // Under DP each of a group's engines holds its own sequences: 4 engines × 10.
        assert_eq!(replicas(&target(80), 1000, 100, 4), 2);
    }
}
