//! What vLLM will report at start-up for one given layout, whether or not it fits: the numbers
//! `check-log` compares with a real log. A plan refuses a layout that does not fit; a
//! prediction keeps its negative KV memory, as vLLM's log does.

use serde::Serialize;

use super::kv::KvLayout;
use super::layout::{Layout, pp_partition};
use super::options::{ExpertParallel, PlanOptions};
use super::reserve::{self, Reserve};
use super::version::{SchedulerLimits, VllmVersion};
use super::weights::{Mxfp4Alignment, RankWeights};
use super::{PlanError, Planner};

/// vLLM's start-up figures for one layout, as lwsplan predicts them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Startup {
    /// The release predicted for.
    pub vllm_version: VllmVersion,
    /// TP, PP, DP and DCP, spread over nodes as a plan would be; flattened into the JSON.
    #[serde(flatten)]
    pub layout: Layout,
    /// Experts distributed whole across the TP (× DP) ranks.
    pub expert_parallel: bool,
    /// The scheduler limits the profiling run is sized by.
    pub scheduler_limits: SchedulerLimits,
    /// utilization × GPU memory.
    pub budget_bytes_per_gpu: u64,
    /// Each stage.
    pub stages: Vec<StageStartup>,
    /// KV capacity in tokens ("GPU KV cache size"); 0 when some stage has no KV memory.
    pub kv_cache_tokens: u64,
}

/// One pipeline stage's start-up figures on each of its GPUs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct StageStartup {
    /// Stage index, 0-based.
    pub index: u64,
    /// "Model loading took": the weights as laid out for the kernels.
    pub weight_bytes_per_gpu: u64,
    /// Activation, non-torch and CUDA-graph memory, with its error band.
    pub reserve: Reserve,
    /// "Available KV cache memory": budget − weights − reserve; negative when they exceed it.
    pub available_kv_cache_bytes_per_gpu: i64,
}

impl Startup {
    /// The largest weights any GPU loads.
    pub fn max_weight_bytes_per_gpu(&self) -> u64 {
        self.stages
            .iter()
            .map(|s| s.weight_bytes_per_gpu)
            .max()
            .unwrap_or(0)
    }

    /// The stage with the least KV memory: what vLLM sizes the group by.
    pub fn tightest_stage(&self) -> &StageStartup {
        self.stages
            .iter()
            .min_by_key(|s| s.available_kv_cache_bytes_per_gpu)
            .expect("PP ≥ 1")
    }
}

impl Planner<'_> {
    /// The rules every planned layout obeys, for a layout given whole: vLLM refuses to start a
    /// layout that breaks them, so there is nothing to predict.
    fn check_pinned_layout(
        &self,
        tp: u64,
        pp: u64,
        dp: u64,
        dcp: u64,
        ep: bool,
        options: &PlanOptions,
    ) -> Result<(), PlanError> {
        use super::rules;
        let refused = |option: crate::OptionName| {
            move |rejection: rules::Rejection| PlanError::InvalidOption {
                option,
                message: format!(
                    "{}: vLLM would refuse to start this layout",
                    rejection.to_string().trim_end_matches('.')
                ),
            }
        };
        rules::check_tp(self.model, tp, ep)
            .map_err(refused(crate::OptionName::TensorParallelSize))?;
        rules::check_pp(self.model, pp)
            .map_err(refused(crate::OptionName::PipelineParallelSize))?;
        rules::check_dp(self.model, tp, pp, dp)
            .map_err(refused(crate::OptionName::DataParallelSize))?;
        rules::check_dcp(self.model, tp, dcp, options.vllm_version())
            .map_err(refused(crate::OptionName::DecodeContextParallelSize))
    }

    /// vLLM's start-up figures for the layout `options` pins (`tensor_parallel_size`,
    /// `pipeline_parallel_size`, `data_parallel_size`, `decode_context_parallel_size`, 1 when
    /// unset), fit or not: one engine's.
    pub fn startup(&self, options: &PlanOptions) -> Result<Startup, PlanError> {
        self.check(options)?;
        let (model, hardware) = (self.model, self.hardware);
        let tp = options.tensor_parallel_size.unwrap_or(1);
        let pp = options.pipeline_parallel_size.unwrap_or(1);
        let dp = options.data_parallel_size.unwrap_or(1);
        let dcp = options.decode_context_parallel_size.unwrap_or(1);
        let ep = options.expert_parallel == ExpertParallel::On || dp > 1;
        let gpus_per_node = self.gpus_per_node(options).max(1);
        self.check_pinned_layout(tp, pp, dp, dcp, ep, options)?;
        let weights = RankWeights::new(
            model,
            tp,
            ep.then_some(tp * dp),
            Mxfp4Alignment::for_sm(hardware.gpu.sm()),
            options.mtp_layers(model),
        );
        let limits = options.scheduler_limits(hardware);
        let profiling =
            options.profiling(model, hardware, tp, tp * dp, tp * pp * dp > gpus_per_node);
        let budget = super::search::vllm_budget(hardware.gpu.memory_bytes, model, options);
        let kv = KvLayout::speculative(
            model,
            hardware,
            tp,
            dcp,
            options.kv_cache_dtype,
            options.mtp_layers(model),
            options.speculative_tokens(model),
        )
        .map(|kv| kv.with_state_pages(super::kv::state_pages(options)))
        .map_err(|e| PlanError::InvalidOption {
            option: crate::OptionName::TensorParallelSize,
            message: e.0,
        })?;
        let mut stages = Vec::new();
        let mut blocks = u64::MAX;
        let mut first_layer = 0;
        for (index, layers) in (0u64..).zip(pp_partition(model.num_hidden_layers, pp)) {
            let range = first_layer..first_layer + layers;
            let last = index + 1 == pp;
            let weight = weights.stage(range.clone(), index == 0, last);
            let reserve = reserve::reserve(model, &profiling, last);
            // A fixed cache is what vLLM allocates, whether or not the GPU then holds it.
            let available = match options.kv_cache_memory_bytes {
                Some(asked) => i128::from(asked),
                None => budget as i128 - weight as i128 - reserve.total() as i128,
            };
            let block_bytes = kv.block_bytes(range).max(1);
            blocks = blocks.min(u64::try_from(available).unwrap_or(0) / block_bytes);
            stages.push(StageStartup {
                index,
                weight_bytes_per_gpu: weight,
                reserve,
                available_kv_cache_bytes_per_gpu: i64::try_from(available).unwrap_or(i64::MIN),
            });
            first_layer += layers;
        }
        Ok(Startup {
            vllm_version: options.vllm_version(),
            layout: Layout::spread(tp, pp, dp, dcp, gpus_per_node),
            expert_parallel: ep,
            scheduler_limits: limits,
            budget_bytes_per_gpu: budget,
            stages,
            kv_cache_tokens: kv.capacity_tokens(
                blocks,
                match options.max_model_len {
                    super::MaxModelLen::Tokens(n) => n,
                    _ => model.max_position_embeddings,
                },
                super::kv::in_flight_tokens(options, pp, limits.max_num_batched_tokens),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Catalog;

    /// A layout that does not fit keeps its negative KV memory, as vLLM logs it: gpt-oss-120b on
    /// one H100 with vLLM 0.11 (vllm #27508 logged −2.28 GiB at utilization 0.9).
    #[test]
    fn a_layout_that_does_not_fit_is_predicted_negative() {
        let catalog = Catalog::builtin();
        let planner = Planner::new(
            catalog.model("gpt-oss-120b").unwrap(),
            catalog.hardware("h100-80gb").unwrap(),
        );
        let startup = planner
            .startup(&PlanOptions {
                vllm_version: Some(VllmVersion(0, 11, 0)),
                ..PlanOptions::default()
            })
            .unwrap();
        let available = startup.tightest_stage().available_kv_cache_bytes_per_gpu;
        assert!(available < 0, "{available}");
        assert_eq!(startup.kv_cache_tokens, 0);
    }

    /// A run with `--kv-cache-memory-bytes` had exactly that much KV memory, whatever the
    /// utilization: check-log predicts the cache vLLM allocated, tokens from it.
    #[test]
    fn a_fixed_kv_cache_is_what_the_run_had() {
        let catalog = Catalog::builtin();
        let planner = Planner::new(
            catalog.model("llama-3.1-8b-instruct").unwrap(),
            catalog.hardware("h100-80gb").unwrap(),
        );
        let asked = 10 << 30;
        let startup = planner
            .startup(&PlanOptions {
                kv_cache_memory_bytes: Some(asked),
                gpu_memory_utilization: 0.3,
                ..PlanOptions::default()
            })
            .unwrap();
        let stage = startup.tightest_stage();
        assert_eq!(stage.available_kv_cache_bytes_per_gpu, asked as i64);
        // 16-token blocks of 32 layers × K and V × 8 heads × 128 × BF16.
        assert_eq!(startup.kv_cache_tokens, asked / (32 * 2 * 8 * 128 * 2));
    }
}
