//! The candidate search: every layout within the options, each either sized as vLLM would size
//! it ([`Fit`]) or rejected with vLLM's reason.

use crate::option::OptionName;
use std::collections::BTreeMap;

use std::sync::Arc;

use super::kv::KvLayout;
use super::kv::state_pages;
use super::layout::{Layout, pp_partition};
use super::options::{ExpertParallel, MAX_NODES, MaxModelLen, PlanOptions, Strategy};
use super::rules::{self, Rejection};
use super::weights::{CheckpointScale, Mxfp4Alignment, RankWeights};
use super::{MaxModelLenSource, Planner, Stage, reserve};
use crate::profile::{Mlp, ModelProfile};

/// A layout that fits, with everything needed to rank it and build the plan.
#[derive(Debug, Clone)]
pub(crate) struct Fit {
    pub layout: Layout,
    pub expert_parallel: bool,
    /// KV capacity in tokens: blocks / KV-cache groups × block size.
    pub tokens: u64,
    /// Blocks one `max_model_len` request takes across the KV-cache groups.
    pub blocks_per_request: u64,
    /// The KV-cache groups at this layout's TP and DCP.
    pub kv: Arc<KvLayout>,
    pub stages: Vec<Stage>,
    pub blocks: u64,
    pub max_model_len: u64,
    pub source: MaxModelLenSource,
    /// Whether the KV memory left for one `max_model_len` request is within the reserve's
    /// band of not fitting: vLLM may refuse to start.
    pub at_risk: bool,
    /// The throughput and latency estimate, under a workload.
    pub performance: Option<super::Performance>,
}

/// Every candidate's outcome.
pub(crate) struct Outcomes {
    pub fits: Vec<Fit>,
    pub rejected: Vec<(Layout, Rejection)>,
}

/// vLLM's budget per GPU: `gpu_memory_utilization × total` (`vllm/v1/worker/gpu_worker.py`).
pub(crate) fn budget(memory: u64, utilization: f64) -> u64 {
    (memory as f64 * utilization) as u64
}

/// What a GPU of `memory` bytes gives vLLM when `--kv-cache-memory-bytes` fixes the KV cache.
/// vLLM then allocates the bytes asked for and ignores `gpu_memory_utilization` ("This does
/// not respect the gpu_memory_utilization config", `Worker.determine_available_memory`,
/// `vllm/v1/worker/gpu_worker.py`, v0.33.0), so weights, reserve and cache must fit the whole
/// GPU less what vLLM still allocates after the cache: the sampler's second warm-up
/// ([`reserve::HEADROOM_SLACK`]) and, before CUDA-graph profiling, the graphs.
pub(crate) fn fixed_kv_budget(memory: u64, model: &ModelProfile, options: &PlanOptions) -> u64 {
    let graphs = if super::version::CUDA_GRAPH_PROFILING.in_version(options.vllm_version()) {
        0
    } else {
        reserve::cuda_graph_estimate(model)
    };
    memory.saturating_sub(reserve::HEADROOM_SLACK + graphs)
}

/// The memory per GPU vLLM fills with weights, reserve and KV cache under `options`: the
/// utilization's share, or with a fixed KV cache what the GPU gives ([`fixed_kv_budget`]).
pub(crate) fn vllm_budget(memory: u64, model: &ModelProfile, options: &PlanOptions) -> u64 {
    match options.kv_cache_memory_bytes {
        Some(_) => fixed_kv_budget(memory, model, options),
        None => budget(memory, options.gpu_memory_utilization),
    }
}

impl Planner<'_> {
    /// Evaluates every candidate layout: the ones that fit, and why each other one does not.
    pub(crate) fn search(&self, options: &PlanOptions) -> Outcomes {
        let mut fits = Vec::new();
        let mut rejected = Vec::new();
        // Per-(TP, DP) facts are the same for every PP: computed once per expert mode; the
        // TP rules do not depend on DP either.
        let mut per_shard: BTreeMap<(u64, u64, bool), RankWeights> = BTreeMap::new();
        let mut per_tp: BTreeMap<(u64, bool), Result<(), Rejection>> = BTreeMap::new();
        let scale = CheckpointScale::of(self.model);
        // The KV layout depends on TP and DCP only.
        let mut per_kv: BTreeMap<(u64, u64), Result<Arc<KvLayout>, Rejection>> = BTreeMap::new();
        let moe = matches!(self.model.mlp, Mlp::Moe { .. });
        let version = options.vllm_version();
        // Once a DP + EP layout of some TP fits, more engines of that TP only need more nodes,
        // which ranks below: they are not sized (the candidates come in ascending DP).
        let mut dp_fitted: std::collections::BTreeSet<u64> = std::collections::BTreeSet::new();
        let candidates = self.candidates(options, &mut rejected);
        // Sized up front: a fit is large, and regrowing the vector copies hundreds of them.
        fits.reserve(candidates.len());
        for layout in candidates {
            if layout.data_parallel_size > 1
                && options.nodes.is_none()
                && dp_fitted.contains(&layout.tensor_parallel_size)
            {
                continue;
            }
            let (tp, pp, dp) = (
                layout.tensor_parallel_size,
                layout.pipeline_parallel_size,
                layout.data_parallel_size,
            );
            // DP + EP always splits the experts; otherwise `auto` tries expert parallelism
            // only when the layout fails without it.
            let ep_modes: &[bool] = match (options.expert_parallel, moe, dp > 1) {
                (ExpertParallel::Off, _, true) => {
                    rejected.push((
                        layout,
                        Rejection::Parallelism {
                            option: OptionName::ExpertParallel,
                            message: "off: data parallelism is planned with expert parallelism \
                                      only (DP + EP)"
                                .into(),
                        },
                    ));
                    continue;
                }
                (_, _, true) | (ExpertParallel::On, _, _) => &[true],
                (ExpertParallel::Auto, true, false) => &[false, true],
                _ => &[false],
            };
            let dims = rules::check_gpu(self.model, self.hardware)
                .and_then(|()| rules::check_dp(self.model, tp, pp, dp))
                .and_then(|()| {
                    rules::check_dcp(self.model, tp, layout.decode_context_parallel_size, version)
                });
            if let Err(rejection) = dims {
                rejected.push((layout, rejection));
                continue;
            }
            let kv = per_kv
                .entry((tp, layout.decode_context_parallel_size))
                .or_insert_with(|| {
                    KvLayout::speculative(
                        self.model,
                        self.hardware,
                        tp,
                        layout.decode_context_parallel_size,
                        options.kv_cache_dtype,
                        options.mtp_layers(self.model),
                        options.speculative_tokens(self.model),
                    )
                    .map(|kv| kv.with_state_pages(state_pages(options)))
                    .map(Arc::new)
                    .map_err(|e| Rejection::Parallelism {
                        option: crate::OptionName::TensorParallelSize,
                        message: e.0,
                    })
                })
                .clone();
            let kv = match kv {
                Ok(kv) => kv,
                Err(rejection) => {
                    rejected.push((layout, rejection));
                    continue;
                }
            };
            let mut outcome = None;
            for &ep in ep_modes {
                let rule = per_tp
                    .entry((tp, ep))
                    .or_insert_with(|| rules::check_tp(self.model, tp, ep));
                let weights = per_shard.entry((tp, dp, ep)).or_insert_with(|| {
                    RankWeights::scaled(
                        self.model,
                        tp,
                        if ep { Some(tp * dp) } else { None },
                        Mxfp4Alignment::for_sm(self.hardware.gpu.sm()),
                        options.mtp_layers(self.model),
                        scale,
                    )
                });
                let result = rule
                    .clone()
                    .and_then(|()| self.evaluate(layout, options, &kv, weights))
                    .map(|fit| Fit {
                        expert_parallel: ep,
                        ..fit
                    });
                let fits_now = result.is_ok();
                if outcome.is_none() || fits_now {
                    outcome = Some(result);
                }
                if fits_now {
                    break;
                }
            }
            match outcome.expect("at least one mode") {
                Ok(fit) => {
                    if dp > 1 {
                        dp_fitted.insert(tp);
                    }
                    fits.push(fit)
                }
                Err(rejection) => rejected.push((layout, rejection)),
            }
        }
        Outcomes { fits, rejected }
    }

    /// The candidate space, in one place. TP × PP layouts: TP within a node (divisors of its
    /// GPU count) unless forced, every PP up to the layer count; for MLA models also, with TP
    /// = GPUs per node, each with DCP = TP. DP + EP layouts (MoE models): TP within a node, DP
    /// filling the GPUs of one or more whole nodes. Only whole-node shapes past one node, at
    /// most [`MAX_NODES`]; the strategy and every forced size narrow the space.
    fn candidates(
        &self,
        options: &PlanOptions,
        rejected: &mut Vec<(Layout, Rejection)>,
    ) -> Vec<Layout> {
        let gpus_per_node = self.gpus_per_node(options);
        let moe = matches!(self.model.mlp, Mlp::Moe { .. });
        let mla = matches!(self.model.attention, crate::profile::Attention::Mla { .. });
        let tps: Vec<u64> = match options.tensor_parallel_size {
            Some(tp) => vec![tp],
            None => (1..=gpus_per_node)
                .filter(|t| gpus_per_node.is_multiple_of(*t))
                .collect(),
        };
        let forced_dp = options.data_parallel_size.filter(|&d| d > 1);
        let tp_pp =
            options.strategy != Strategy::DpEp && options.data_parallel_size.is_none_or(|d| d == 1);
        // `auto` explores DP + EP and DCP only when the layout is left to it: a forced TP or PP
        // means that engine, unless the DP or DCP size or the strategy says otherwise.
        let explore = options.strategy == Strategy::Auto
            && options.tensor_parallel_size.is_none()
            && options.pipeline_parallel_size.is_none()
            && options.data_parallel_size.is_none()
            && options.decode_context_parallel_size.is_none();
        let dp_ep = options.data_parallel_size.is_none_or(|d| d > 1)
            && (forced_dp.is_some() || options.strategy == Strategy::DpEp || (explore && moe))
            && options.pipeline_parallel_size.is_none_or(|p| p == 1)
            && options.decode_context_parallel_size.is_none_or(|c| c == 1);
        // (TP, PP, DP, DCP) shapes before they meet the nodes.
        let mut shapes: Vec<(u64, u64, u64, u64)> = Vec::new();
        if tp_pp {
            let pps: Vec<u64> = match options.pipeline_parallel_size {
                Some(pp) => vec![pp],
                None => (1..=self.model.num_hidden_layers).collect(),
            };
            for &tp in &tps {
                for &pp in &pps {
                    let dcps: Vec<u64> = match options.decode_context_parallel_size {
                        Some(dcp) => vec![dcp],
                        // The alternative worth listing: DCP over vLLM's recommended shape.
                        None if mla && tp > 1 && tp == gpus_per_node && explore => vec![1, tp],
                        None => vec![1],
                    };
                    shapes.extend(dcps.into_iter().map(|dcp| (tp, pp, 1, dcp)));
                }
            }
        }
        if dp_ep {
            for &tp in &tps {
                let dps: Vec<u64> = match forced_dp {
                    Some(dp) => vec![dp],
                    // Within one node: shares that divide it; past it: whole nodes.
                    None => (2..=gpus_per_node / tp)
                        .filter(|d| gpus_per_node.is_multiple_of(tp * d))
                        .chain((2..=MAX_NODES).map(|n| n * gpus_per_node / tp))
                        .collect(),
                };
                shapes.extend(dps.into_iter().map(|dp| (tp, 1, dp, 1)));
            }
        }
        shapes.sort_unstable();
        shapes.dedup();
        let mut out = Vec::new();
        for (tp, pp, dp, dcp) in shapes {
            let layout = match Layout::parallel(tp, pp, dp, gpus_per_node) {
                Ok(layout) => layout.with_dcp(dcp),
                Err(not_whole) => {
                    if options.is_forced() {
                        rejected.push((
                            Layout::spread(tp, pp, dp, dcp, gpus_per_node),
                            not_whole.rejection(),
                        ));
                    }
                    continue;
                }
            };
            if layout.nodes > MAX_NODES {
                if options.is_forced() {
                    rejected.push((
                        layout,
                        Rejection::TooManyNodes {
                            nodes: layout.nodes,
                            max: MAX_NODES,
                        },
                    ));
                }
                continue;
            }
            if options.nodes.is_some_and(|n| n != layout.nodes) {
                continue;
            }
            out.push(layout);
        }
        out
    }

    /// Sizes one layout, or says why vLLM would refuse it.
    fn evaluate(
        &self,
        layout: Layout,
        options: &PlanOptions,
        kv: &Arc<KvLayout>,
        weights: &RankWeights,
    ) -> Result<Fit, Rejection> {
        let model = self.model;
        rules::check_pp(model, layout.pipeline_parallel_size)?;
        let (stages, shapes) = self.stages(layout, options, kv, weights)?;
        let blocks = stages.iter().map(|s| s.kv_cache_blocks).min().unwrap_or(0);
        let stages: Vec<Stage> = stages
            .into_iter()
            .zip(&shapes)
            .map(|(stage, shape)| Stage {
                kv_cache_bytes_per_gpu: blocks * shape.block_bytes,
                ..stage
            })
            .collect();
        // Bytes one request of `len` tokens needs on each stage, as vLLM's fit check sums them.
        let in_flight = super::kv::in_flight_tokens(
            options,
            layout.pipeline_parallel_size,
            options
                .scheduler_limits(self.hardware)
                .max_num_batched_tokens,
        );
        let need = |shape: &StageKv, len: u64| shape.need(kv, len, in_flight);
        let fixed = options
            .kv_cache_memory_bytes
            .map(|_| vllm_budget(self.hardware.gpu.memory_bytes, model, options));
        let tightest = Tightest::of(&shapes, &stages, fixed);
        let fits = |len: u64| tightest.iter().all(|t| need(&t.shape, len) <= t.available);
        // Fits even if every reserve term is at the top of its band.
        let fits_safely = |len: u64| {
            tightest
                .iter()
                .all(|t| t.safe.is_some_and(|safe| need(&t.shape, len) <= safe))
        };
        let full = model.max_position_embeddings;
        let longest = || longest_that_fits(full, &fits);
        // The stage that falls shortest of holding one request of `len` tokens.
        let short = |len: u64, estimated_max_len: u64| {
            let (stage, needed) = stages
                .iter()
                .zip(&shapes)
                .map(|(s, c)| (s, need(c, len)))
                .max_by_key(|(s, n)| n.saturating_sub(s.kv_cache_available_bytes_per_gpu))
                .expect("PP ≥ 1");
            Rejection::ContextDoesNotFit {
                stage: stage.index,
                max_model_len: len,
                needed_bytes: needed,
                available_bytes: stage.kv_cache_available_bytes_per_gpu,
                estimated_max_len,
            }
        };
        // A requested length is planned if it fits the estimate, flagged if only that; `auto`
        // chooses a length that fits the band's worst case, or flags the one that fits at all.
        let (max_model_len, source) = match options.max_model_len {
            MaxModelLen::Tokens(n) if fits(n) => (n, MaxModelLenSource::Requested),
            MaxModelLen::Tokens(n) => return Err(short(n, longest())),
            MaxModelLen::Auto if fits_safely(full) => (full, MaxModelLenSource::FullContext),
            MaxModelLen::Auto => match longest_that_fits(full, &fits_safely) {
                0 if fits(full) => (full, MaxModelLenSource::FullContext),
                0 => match longest() {
                    0 => return Err(short(kv.block_size, 0)),
                    len => (len, MaxModelLenSource::LongestThatFits),
                },
                len => (len, MaxModelLenSource::LongestThatFits),
            },
        };
        let at_risk = !fits_safely(max_model_len);
        Ok(Fit {
            layout,
            expert_parallel: false,
            tokens: kv.capacity_tokens(blocks, max_model_len, in_flight),
            blocks_per_request: kv.pages_per_sequence(max_model_len, in_flight, u64::MAX),
            kv: Arc::clone(kv),
            stages,
            blocks,
            max_model_len,
            source,
            at_risk,
            performance: None,
        })
    }

    /// Each pipeline stage's weights, reserve and KV budget, before the group's block count is
    /// known, with its share of the KV layout (which the block count needs too).
    fn stages(
        &self,
        layout: Layout,
        options: &PlanOptions,
        kv: &KvLayout,
        weights: &RankWeights,
    ) -> Result<(Vec<Stage>, Vec<StageKv>), Rejection> {
        let model = self.model;
        let (tp, pp) = (layout.tensor_parallel_size, layout.pipeline_parallel_size);
        let budget = vllm_budget(self.hardware.gpu.memory_bytes, model, options);
        let profiling = options.profiling(
            model,
            self.hardware,
            tp,
            tp * layout.data_parallel_size,
            layout.nodes > 1,
        );
        // Only the last stage's reserve differs (its sampler): each is estimated once, not
        // once per stage of a deep pipeline.
        let (middle_reserve, last_reserve) = (
            reserve::reserve(model, &profiling, false),
            reserve::reserve(model, &profiling, true),
        );
        let mut stages = Vec::with_capacity(pp as usize);
        let mut shapes = Vec::with_capacity(pp as usize);
        let mut first_layer = 0;
        for (index, layers) in (0u64..).zip(pp_partition(model.num_hidden_layers, pp)) {
            let (first, last) = (index == 0, index + 1 == pp);
            let range = first_layer..first_layer + layers;
            let weight_bytes_per_gpu = weights.stage(range.clone(), first, last);
            let reserve = if last { last_reserve } else { middle_reserve };
            let used = weight_bytes_per_gpu + reserve.total();
            // Every group of the stage shares one block pool.
            let shape = StageKv::in_range(kv, range.clone());
            let block_bytes = shape.block_bytes;
            let available = match options.kv_cache_memory_bytes {
                Some(asked) if used.saturating_add(asked) > budget => {
                    return Err(Rejection::KvCacheMemoryDoesNotFit {
                        stage: index,
                        weight_bytes: weight_bytes_per_gpu,
                        reserve_bytes: reserve.total(),
                        kv_cache_bytes: asked,
                        budget_bytes: budget,
                        short_bytes: used.saturating_add(asked) - budget,
                    });
                }
                Some(asked) => asked,
                None if used >= budget || budget - used < block_bytes => {
                    return Err(Rejection::WeightsDoNotFit {
                        stage: index,
                        weight_bytes: weight_bytes_per_gpu,
                        reserve_bytes: reserve.total(),
                        budget_bytes: budget,
                        short_bytes: (used + block_bytes).saturating_sub(budget),
                    });
                }
                None => budget - used,
            };
            stages.push(Stage {
                index,
                layers,
                first_layer,
                weight_bytes_per_gpu,
                reserve,
                kv_cache_available_bytes_per_gpu: available,
                kv_cache_bytes_per_gpu: 0,
                kv_cache_bytes_per_token: kv.bytes_per_token(range.clone()),
                kv_cache_bytes_per_sequence: kv.bytes_per_sequence(range),
                kv_cache_blocks: available / block_bytes.max(1),
                // Listed for the chosen layout only, when the plan is assembled.
                kv_cache_groups: Vec::new(),
            });
            shapes.push(shape);
            first_layer += layers;
        }
        Ok((stages, shapes))
    }
}

/// The tightest of the stages that share one [`StageKv`]: a request fits them all when it fits
/// the one with the least memory. A deep pipeline has dozens of stages but few shapes, and the
/// search asks up to ~40 lengths of each layout (two bisections).
struct Tightest {
    shape: StageKv,
    /// The least KV memory any of these stages has.
    available: u64,
    /// The least KV memory left on any of them with its reserve at the top of its band; `None`
    /// when some stage's band exceeds its memory, which no request then fits safely
    /// (`need + band ≤ available` is `need ≤ available − band` exactly when the subtraction
    /// does not underflow).
    safe: Option<u64>,
}

impl Tightest {
    /// With a KV cache fixed by `--kv-cache-memory-bytes` (`fixed_budget`: what a GPU gives
    /// vLLM), the band does not shrink the cache: a stage is safe when the reserve at the top of
    /// its band still fits the GPU beside the cache, and holds nothing safely otherwise.
    fn of(shapes: &[StageKv], stages: &[Stage], fixed_budget: Option<u64>) -> Vec<Tightest> {
        let mut out: Vec<Tightest> = Vec::new();
        for (shape, stage) in shapes.iter().zip(stages) {
            let available = stage.kv_cache_available_bytes_per_gpu;
            let safe = match fixed_budget {
                Some(budget) => {
                    let top = stage.weight_bytes_per_gpu
                        + stage.reserve.total()
                        + stage.reserve.band_bytes
                        + available;
                    (top <= budget).then_some(available)
                }
                None => available.checked_sub(stage.reserve.band_bytes),
            };
            match out.iter_mut().find(|t| t.shape == *shape) {
                Some(t) => {
                    t.available = t.available.min(available);
                    t.safe = t.safe.zip(safe).map(|(a, b)| a.min(b));
                }
                None => out.push(Tightest {
                    shape: *shape,
                    available,
                    safe,
                }),
            }
        }
        out
    }
}

/// A stage's share of the KV layout: its bytes per block and the groups it has layers of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StageKv {
    pub block_bytes: u64,
    pub present: u64,
}

impl StageKv {
    pub(crate) fn of(kv: &KvLayout, stage: &Stage) -> Self {
        Self::in_range(kv, stage.first_layer..stage.first_layer + stage.layers)
    }

    /// The share of a stage holding decoder layers `range`.
    fn in_range(kv: &KvLayout, range: std::ops::Range<u64>) -> Self {
        StageKv {
            block_bytes: kv.block_bytes(range.clone()),
            present: kv.present(range),
        }
    }

    /// Bytes one sequence of `len` tokens needs on this stage (vLLM's
    /// `_max_memory_usage_bytes_from_groups`: the stage's block bytes times the blocks the
    /// sequence takes in each group it has layers of).
    pub(crate) fn need(&self, kv: &KvLayout, len: u64, in_flight: u64) -> u64 {
        kv.pages_per_sequence(len, in_flight, self.present)
            .saturating_mul(self.block_bytes)
    }
}

/// The longest length up to `full` that `fits`, by bisection (what fits shrinks as length
/// grows); 0 when not even one token does.
pub(crate) fn longest_that_fits(full: u64, fits: &dyn Fn(u64) -> bool) -> u64 {
    let (mut lo, mut hi) = (0, full);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Verdict;

    #[test]
    fn auto_context_prefers_a_layout_that_serves_the_full_context() {
        // Llama 3.1 70B on 8 × H100: TP 1 × PP 2 fits the weights but only a few thousand
        // tokens of context; TP 4 serves the full 131072 on the same single node, so auto
        // takes TP 4.
        let catalog = crate::Catalog::builtin();
        let plan = Planner::new(
            catalog
                .model(crate::profile::ids::LLAMA_3_1_70B_INSTRUCT)
                .unwrap(),
            catalog.hardware(crate::profile::ids::H100_80GB).unwrap(),
        )
        .plan(&PlanOptions::default())
        .unwrap();
        assert_eq!(
            (plan.layout.tensor_parallel_size, plan.max_model_len),
            (4, 131_072)
        );
        let fits = plan
            .alternatives
            .iter()
            .find(|a| a.layout.tensor_parallel_size == 1 && a.layout.pipeline_parallel_size == 2)
            .unwrap();
        assert_eq!(fits.verdict, Verdict::Fits);
        assert!(fits.reason.starts_with("holds only"), "{}", fits.reason);
    }

    /// `--kv-cache-memory-bytes`: every stage's KV memory is what was asked, whatever the
    /// utilization (which is then not rendered), and what a GPU gives vLLM is its memory less
    /// the sampler's headroom, and before vLLM 0.21 less the CUDA graphs too.
    #[test]
    fn a_fixed_kv_cache_is_what_every_stage_gets() {
        let catalog = crate::Catalog::builtin();
        let model = catalog
            .model(crate::profile::ids::LLAMA_3_1_8B_INSTRUCT)
            .unwrap();
        let h100 = catalog.hardware(crate::profile::ids::H100_80GB).unwrap();
        let asked = 20 << 30;
        let options = PlanOptions {
            kv_cache_memory_bytes: Some(asked),
            gpu_memory_utilization: 0.5,
            ..PlanOptions::default()
        };
        let plan = Planner::new(model, h100).plan(&options).unwrap();
        let memory = h100.gpu.memory_bytes;
        assert_eq!(plan.budget_bytes_per_gpu, memory - reserve::HEADROOM_SLACK);
        for stage in &plan.stages {
            assert_eq!(stage.kv_cache_available_bytes_per_gpu, asked);
        }
        let block = 16 * 32 * 2 * 8 * 128 * 2; // 16 tokens, 32 layers, K and V, 8 heads, BF16
        assert_eq!(plan.kv_cache_blocks, asked / block);
        let args = plan.vllm_args.join(" ");
        assert!(
            args.contains("--kv-cache-memory-bytes 21474836480"),
            "{args}"
        );
        assert!(!args.contains("--gpu-memory-utilization"), "{args}");
        let old = PlanOptions {
            vllm_version: Some("0.19.0".parse().unwrap()),
            ..options
        };
        assert_eq!(
            vllm_budget(memory, model, &old),
            memory - reserve::HEADROOM_SLACK - reserve::cuda_graph_estimate(model)
        );
    }

    /// A fixed cache the GPU cannot hold beside weights and reserve is refused by how much it
    /// overflows, with the largest size that fits.
    #[test]
    fn a_fixed_kv_cache_larger_than_the_gpu_is_refused() {
        let catalog = crate::Catalog::builtin();
        let model = catalog
            .model(crate::profile::ids::LLAMA_3_1_8B_INSTRUCT)
            .unwrap();
        let h100 = catalog.hardware(crate::profile::ids::H100_80GB).unwrap();
        let asked = 76 << 30;
        let options = PlanOptions {
            kv_cache_memory_bytes: Some(asked),
            tensor_parallel_size: Some(1),
            pipeline_parallel_size: Some(1),
            ..PlanOptions::default()
        };
        let outcomes = Planner::new(model, h100).search(&options);
        assert!(outcomes.fits.is_empty());
        let Some((_, rejection)) = outcomes.rejected.first() else {
            panic!("the pinned layout is rejected");
        };
        let Rejection::KvCacheMemoryDoesNotFit {
            weight_bytes,
            reserve_bytes,
            kv_cache_bytes,
            budget_bytes,
            short_bytes,
            ..
        } = rejection
        else {
            panic!("{rejection}");
        };
        assert_eq!(*kv_cache_bytes, asked);
        assert_eq!(
            *short_bytes,
            weight_bytes + reserve_bytes + asked - budget_bytes
        );
        assert!(
            rejection
                .to_string()
                .contains(&format!("at most {} bytes", asked - short_bytes))
        );
    }

    /// Stages of one shape collapse into their tightest: the least memory, and the least left
    /// at the top of the reserve's band, which no request fits once a band exceeds its stage's
    /// memory (as `need + band <= available` says for every `need`).
    #[test]
    fn stages_of_one_shape_keep_the_tightest() {
        let stage = |available: u64, band: u64| Stage {
            index: 0,
            layers: 1,
            first_layer: 0,
            weight_bytes_per_gpu: 0,
            reserve: super::reserve::Reserve {
                activation_bytes: 0,
                non_torch_bytes: 0,
                cuda_graph_bytes: 0,
                band_bytes: band,
            },
            kv_cache_available_bytes_per_gpu: available,
            kv_cache_bytes_per_gpu: 0,
            kv_cache_bytes_per_token: 0,
            kv_cache_bytes_per_sequence: 0,
            kv_cache_blocks: 0,
            kv_cache_groups: Vec::new(),
        };
        let (a, b) = (
            StageKv {
                block_bytes: 10,
                present: 1,
            },
            StageKv {
                block_bytes: 20,
                present: 1,
            },
        );
        let tightest = Tightest::of(
            &[a, b, a, b],
            &[stage(100, 10), stage(90, 30), stage(95, 20), stage(50, 60)],
            None,
        );
        let summary: Vec<_> = tightest
            .iter()
            .map(|t| (t.shape, t.available, t.safe))
            .collect();
        assert_eq!(summary, [(a, 95, Some(75)), (b, 50, None)]);
    }

    #[test]
    fn bisection_finds_the_longest_length() {
        assert_eq!(longest_that_fits(1000, &|l| l <= 640), 640);
        assert_eq!(longest_that_fits(1000, &|_| false), 0);
        assert_eq!(longest_that_fits(1000, &|_| true), 1000);
    }
}
