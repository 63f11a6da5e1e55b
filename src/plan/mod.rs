//! The planner: from a model and a GPU node type to a parallel layout whose memory vLLM accepts.
//!
//! It is pure (no I/O, no Kubernetes): [`Planner::plan`] enumerates tensor × pipeline layouts,
//! rejects the ones vLLM would refuse — with vLLM's own reason — sizes every pipeline stage's
//! memory as vLLM accounts for it, and picks the cheapest layout that serves. The result,
//! [`Plan`], is one serializable value: the `plan` table and `--format json` are two views of it.
//!
//! ```
//! use lwsplan::{Catalog, PlanOptions, Planner};
//!
//! let catalog = Catalog::builtin();
//! let plan = Planner::new(
//!     catalog.model("deepseek-r1")?,
//!     catalog.hardware("h100-80gb")?,
//! )
//! .plan(&PlanOptions::default())?;
//! assert_eq!((plan.tensor_parallel_size, plan.pipeline_parallel_size), (8, 2));
//! assert_eq!(plan.nodes, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod kv;
mod layout;
mod reserve;
mod rules;
mod table;
mod weights;

pub use kv::{KvCacheDtype, block_size, bytes_per_token_per_layer, kv_heads_per_rank};
pub use layout::{Layout, pp_partition};
pub use reserve::{Launcher, Reserve, Shm};
pub use rules::Rejection;
pub use weights::{parameters, weight_bytes};

use serde::{Deserialize, Serialize};

use crate::profile::{HardwareProfile, ModelProfile, NodeLabels, Quantization};
use crate::units::gib;

/// The most nodes a plan may use; a model that needs more is refused rather than searched for.
pub const MAX_NODES: u64 = 64;
/// vLLM's default `--gpu-memory-utilization` (`vllm/config/cache.py`).
pub const DEFAULT_GPU_MEMORY_UTILIZATION: f64 = 0.9;
/// Upper bound on forced parallel sizes and lengths, far above real deployments.
const MAX_PARALLEL: u64 = 4096;
/// Upper bound on replicas and target sequences, far above real deployments (LWS itself
/// accepts up to 1,000,000 replicas).
const MAX_REPLICAS: u64 = 100_000;

/// `--max-model-len`: a fixed length, or the longest that serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MaxModelLen {
    /// The model's full context when one such sequence fits, else the longest that fits.
    #[default]
    Auto,
    /// Exactly this many tokens; a layout that cannot hold one such sequence is rejected.
    Tokens(u64),
}

impl std::str::FromStr for MaxModelLen {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "auto" {
            return Ok(MaxModelLen::Auto);
        }
        match s.parse::<u64>() {
            Ok(0) | Err(_) => Err(format!(
                "`{s}` is neither `auto` nor a positive number of tokens"
            )),
            Ok(n) => Ok(MaxModelLen::Tokens(n)),
        }
    }
}

impl<'de> Deserialize<'de> for MaxModelLen {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::units::from_str_or_number(d, "`auto` or a positive number of tokens")
    }
}

impl schemars::JsonSchema for MaxModelLen {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "MaxModelLen".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "`auto` (the full context if one sequence fits, else the longest that fits) or tokens",
            "oneOf": [{"const": "auto"}, {"type": "integer", "minimum": 1}]
        })
    }
}

impl Serialize for MaxModelLen {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            MaxModelLen::Auto => s.serialize_str("auto"),
            MaxModelLen::Tokens(n) => s.serialize_u64(*n),
        }
    }
}

/// Whether MoE experts are distributed with expert parallelism.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ExpertParallel {
    /// Only where a layout fails without it (an FP8 block split, say), and the plan says so.
    #[default]
    Auto,
    /// Always, for MoE models.
    On,
    /// Never.
    Off,
}

/// What the planner may choose and what it must respect.
///
/// In a deployment file every field is optional and defaults as on the command line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PlanOptions {
    /// `--gpu-memory-utilization`: the fraction of each GPU's memory vLLM may use, in (0, 1].
    pub gpu_memory_utilization: f64,
    /// `--kv-cache-dtype`.
    pub kv_cache_dtype: KvCacheDtype,
    /// `--max-model-len`.
    pub max_model_len: MaxModelLen,
    /// GPUs per node, overriding the hardware profile's.
    pub gpus_per_node: Option<u64>,
    /// A fixed node count.
    pub nodes: Option<u64>,
    /// A fixed `--tensor-parallel-size`; may exceed a node's GPUs (TP then spans nodes).
    pub tensor_parallel_size: Option<u64>,
    /// A fixed `--pipeline-parallel-size`.
    pub pipeline_parallel_size: Option<u64>,
    /// How the group starts vLLM; decides what shares `/dev/shm`.
    pub launcher: Launcher,
    /// `--enable-expert-parallel`: routed experts split whole across the TP ranks instead of
    /// each expert across them. `auto` uses it only where a layout needs it.
    pub expert_parallel: ExpertParallel,
    /// LWS replicas: independent groups, each a full copy of the model.
    pub replicas: Option<u64>,
    /// Sequences of `max_model_len` tokens that must be served at once across all replicas;
    /// the planner adds replicas until they fit.
    pub target_concurrent_sequences: Option<u64>,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            gpu_memory_utilization: DEFAULT_GPU_MEMORY_UTILIZATION,
            kv_cache_dtype: KvCacheDtype::Auto,
            max_model_len: MaxModelLen::Auto,
            gpus_per_node: None,
            nodes: None,
            tensor_parallel_size: None,
            pipeline_parallel_size: None,
            launcher: Launcher::Native,
            expert_parallel: ExpertParallel::Auto,
            replicas: None,
            target_concurrent_sequences: None,
        }
    }
}

/// One pipeline stage, sized per GPU (every TP rank of a stage holds the same).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Stage {
    /// Stage index, 0-based (`pp_rank`).
    pub index: u64,
    /// Decoder layers this stage holds.
    pub layers: u64,
    /// Index of its first layer.
    pub first_layer: u64,
    /// Weights one GPU of this stage loads.
    pub weight_bytes_per_gpu: u64,
    /// Activation, non-torch and CUDA-graph memory held back from the KV cache.
    pub reserve: Reserve,
    /// Budget left for the KV cache: utilization × GPU memory − weights − reserve.
    pub kv_cache_available_bytes_per_gpu: u64,
    /// KV cache vLLM allocates: the group's block count × this stage's bytes per block.
    pub kv_cache_bytes_per_gpu: u64,
    /// KV bytes one token takes on one GPU of this stage (all its layers).
    pub kv_cache_bytes_per_token: u64,
    /// Blocks this stage alone could hold; the group uses the smallest over stages.
    pub kv_cache_blocks: u64,
}

/// Why `max_model_len` has its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MaxModelLenSource {
    /// Given with `--max-model-len`.
    Requested,
    /// `auto`, and the model's full context fits.
    FullContext,
    /// `auto`, the full context does not fit: the longest that does.
    LongestThatFits,
}

/// A layout the planner considered, and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Alternative {
    /// The layout.
    pub layout: Layout,
    /// `chosen`, `fits` or `rejected`.
    pub verdict: Verdict,
    /// Why it lost, or why it was rejected; empty for the chosen one.
    pub reason: String,
    /// KV capacity in tokens, for layouts that fit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kv_cache_tokens: Option<u64>,
}

/// The fate of a considered layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The plan's layout.
    Chosen,
    /// Fits, but another layout ranks higher.
    Fits,
    /// vLLM would refuse it, or it does not fit.
    Rejected,
}

/// A deployable plan: layout, memory per stage, KV capacity, context length and shm size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Plan {
    /// Model profile id.
    pub model: String,
    /// What `vllm serve` loads (the Hugging Face repository).
    pub model_repo: String,
    /// Hardware profile id.
    pub hardware: String,
    /// NVML name of the GPU.
    pub gpu_name: String,
    /// Node label values that select the hardware.
    pub node_labels: NodeLabels,
    /// `--tensor-parallel-size`.
    pub tensor_parallel_size: u64,
    /// `--pipeline-parallel-size`.
    pub pipeline_parallel_size: u64,
    /// `--enable-expert-parallel`: experts distributed whole across each stage's TP ranks.
    pub expert_parallel: bool,
    /// Nodes = pods per LWS group (`size`).
    pub nodes: u64,
    /// GPUs each pod requests (`nvidia.com/gpu`).
    pub gpus_per_node: u64,
    /// GPUs in the group: TP × PP.
    pub total_gpus: u64,
    /// CUDA-reported memory of one GPU.
    pub gpu_memory_bytes: u64,
    /// `--gpu-memory-utilization`.
    pub gpu_memory_utilization: f64,
    /// utilization × GPU memory: what vLLM may use on each GPU.
    pub budget_bytes_per_gpu: u64,
    /// Parameters vLLM loads by default (no MTP or draft layers).
    pub parameters: u64,
    /// The weights as loaded, each tensor once: comparable with the checkpoint size.
    pub weight_bytes: u64,
    /// The most weight bytes any one pod loads: what its startup time scales with.
    pub max_weight_bytes_per_pod: u64,
    /// `--kv-cache-dtype`.
    pub kv_cache_dtype: KvCacheDtype,
    /// KV block size in tokens, as vLLM picks it on this GPU.
    pub block_size: u64,
    /// KV bytes per token per GPU on the limiting stage.
    pub kv_cache_bytes_per_token: u64,
    /// KV blocks of the group (the smallest over stages).
    pub kv_cache_blocks: u64,
    /// KV capacity in tokens: blocks × block size.
    pub kv_cache_tokens: u64,
    /// `--max-model-len`.
    pub max_model_len: u64,
    /// Why `max_model_len` has its value.
    pub max_model_len_source: MaxModelLenSource,
    /// How many `max_model_len` sequences fit at once (vLLM's "Maximum concurrency").
    pub max_concurrency: f64,
    /// The pipeline stages.
    pub stages: Vec<Stage>,
    /// How the group starts vLLM.
    pub launcher: Launcher,
    /// LWS replicas: groups, each serving the model on its own.
    pub replicas: u64,
    /// `max_model_len` sequences all replicas hold at once: replicas × max_concurrency.
    pub total_concurrency: f64,
    /// `/dev/shm` size for each pod.
    pub shm_size_bytes: u64,
    /// What the `/dev/shm` size is made of.
    pub shm: Shm,
    /// Flags `vllm serve` needs beyond the model and the parallel sizes, in order.
    pub vllm_args: Vec<String>,
    /// Things the user should know: reduced context, forced layouts, untested paths.
    pub notes: Vec<String>,
    /// Layouts considered, best first.
    pub alternatives: Vec<Alternative>,
}

/// Why no plan could be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// An option is out of range.
    #[error("{option}: {message}")]
    InvalidOption {
        /// The option, as the CLI spells it.
        option: &'static str,
        /// What is wrong and what is accepted.
        message: String,
    },
    /// `--max-model-len` exceeds what the model accepts.
    #[error(
        "--max-model-len {requested} is greater than the derived max_model_len \
         (max_position_embeddings={max_position_embeddings} in {model}'s config.json); \
         vLLM refuses it. Use at most {max_position_embeddings}, or `auto`"
    )]
    MaxModelLenTooLong {
        /// Requested length.
        requested: u64,
        /// The model's limit.
        max_position_embeddings: u64,
        /// Model id.
        model: String,
    },
    /// No layout within the constraints fits.
    #[error("{0}")]
    Infeasible(String),
    /// The profile describes more parameters than any deployment could hold.
    #[error(
        "model {model} has {parameters} parameters by its profile, more than the 10^15 lwsplan \
         plans for: check the profile's sizes (num_hidden_layers, hidden_size, experts)"
    )]
    ModelTooLarge {
        /// Model id.
        model: String,
        /// Parameters the profile describes.
        parameters: u128,
    },
}

/// Plans one model on one hardware profile.
#[derive(Debug, Clone, Copy)]
pub struct Planner<'a> {
    model: &'a ModelProfile,
    hardware: &'a HardwareProfile,
}

/// A layout that fits, with everything needed to rank it and build the plan.
#[derive(Debug, Clone)]
struct Fit {
    layout: Layout,
    expert_parallel: bool,
    /// KV capacity in tokens: blocks / attention groups × block size.
    tokens: u64,
    /// Blocks one `max_model_len` request takes across the attention groups.
    blocks_per_request: u64,
    stages: Vec<Stage>,
    blocks: u64,
    max_model_len: u64,
    source: MaxModelLenSource,
}

impl<'a> Planner<'a> {
    /// A planner for this model on this hardware.
    pub fn new(model: &'a ModelProfile, hardware: &'a HardwareProfile) -> Self {
        Planner { model, hardware }
    }

    /// Finds the best layout under `options`, or says why none fits and what would.
    pub fn plan(&self, options: &PlanOptions) -> Result<Plan, PlanError> {
        self.check_options(options)?;
        let gpus_per_node = options.gpus_per_node.unwrap_or(self.hardware.node.gpus);
        let block = block_size(self.model, self.hardware);
        let (mut fits, rejected) = self.search(options, gpus_per_node, block);
        let auto = options.max_model_len == MaxModelLen::Auto;
        fits.sort_by_key(|f| rank_key(f, auto));
        let Some(best) = fits.first().cloned() else {
            return Err(self.infeasible(options, gpus_per_node, &rejected));
        };
        let mut notes = self.notes(&best, options);
        if best.source == MaxModelLenSource::LongestThatFits
            && let Some(full) = fits
                .iter()
                .find(|f| f.source == MaxModelLenSource::FullContext)
        {
            notes.push(format!(
                "{} serves the full context of {} tokens",
                full.layout, self.model.max_position_embeddings
            ));
        }
        if is_forced(options) {
            let free = self.plan(&PlanOptions {
                nodes: None,
                tensor_parallel_size: None,
                pipeline_parallel_size: None,
                ..options.clone()
            });
            if let Ok(free) = free
                && (free.total_gpus, free.nodes) < (best.layout.gpus(), best.layout.nodes)
            {
                notes.push(format!(
                    "the forced layout uses {} GPUs on {} node(s); the smallest that fits is TP {} × PP {} \
                     on {} node(s) ({} GPUs): the margin buys {} more KV tokens",
                    best.layout.gpus(),
                    best.layout.nodes,
                    free.tensor_parallel_size,
                    free.pipeline_parallel_size,
                    free.nodes,
                    free.total_gpus,
                    best.tokens.saturating_sub(free.kv_cache_tokens),
                ));
            }
        }
        let alternatives = alternatives(&fits, &rejected, &best, auto);
        Ok(self.assemble(best, options, block, notes, alternatives))
    }

    /// Evaluates every candidate layout: the ones that fit, and why each other one does not.
    fn search(
        &self,
        options: &PlanOptions,
        gpus_per_node: u64,
        block: u64,
    ) -> (Vec<Fit>, Vec<(Layout, Rejection)>) {
        let mut fits: Vec<Fit> = Vec::new();
        let mut rejected: Vec<(Layout, Rejection)> = Vec::new();
        // Per-TP facts are the same for every PP: computed once per (TP, expert parallel).
        type TpFacts = (Result<(), Rejection>, weights::RankWeights);
        let mut per_tp: std::collections::BTreeMap<(u64, bool), TpFacts> =
            std::collections::BTreeMap::new();
        let moe = matches!(self.model.mlp, crate::profile::Mlp::Moe { .. });
        let ep_modes: &[bool] = match (options.expert_parallel, moe) {
            (ExpertParallel::On, _) => &[true],
            (ExpertParallel::Auto, true) => &[false, true],
            _ => &[false],
        };
        for layout in self.candidates(options, gpus_per_node, &mut rejected) {
            let tp = layout.tensor_parallel_size;
            // With `auto`, expert parallelism is tried only when the layout fails without it.
            let mut outcome = None;
            for &ep in ep_modes {
                let (rule, weights) = per_tp.entry((tp, ep)).or_insert_with(|| {
                    (
                        rules::check_tp(self.model, tp, ep),
                        weights::RankWeights::new(self.model, tp, ep),
                    )
                });
                let result = rule
                    .clone()
                    .and_then(|()| self.evaluate(layout, options, block, weights))
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
                Ok(fit) => fits.push(fit),
                Err(rejection) => rejected.push((layout, rejection)),
            }
        }
        (fits, rejected)
    }

    fn check_options(&self, options: &PlanOptions) -> Result<(), PlanError> {
        let parameters = weights::parameters_wide(self.model);
        if parameters > weights::MAX_PARAMETERS {
            return Err(PlanError::ModelTooLarge {
                model: self.model.id.clone(),
                parameters,
            });
        }
        let u = options.gpu_memory_utilization;
        if !(u > 0.0 && u <= 1.0) {
            return Err(PlanError::InvalidOption {
                option: "--gpu-memory-utilization",
                message: format!("{u} is outside (0, 1]; vLLM's default is 0.9"),
            });
        }
        let sizes = [
            ("--gpus-per-node", options.gpus_per_node),
            ("--nodes", options.nodes),
            ("--tensor-parallel-size", options.tensor_parallel_size),
            ("--pipeline-parallel-size", options.pipeline_parallel_size),
        ];
        for (option, value) in sizes {
            if let Some(v) = value
                && !(1..=MAX_PARALLEL).contains(&v)
            {
                return Err(PlanError::InvalidOption {
                    option,
                    message: format!("{v} is outside 1..={MAX_PARALLEL}"),
                });
            }
        }
        if let Some(nodes) = options.nodes
            && nodes > MAX_NODES
        {
            return Err(PlanError::InvalidOption {
                option: "--nodes",
                message: format!("{nodes} is more than the {MAX_NODES} nodes lwsplan plans for"),
            });
        }
        if options.replicas.is_some() && options.target_concurrent_sequences.is_some() {
            return Err(PlanError::InvalidOption {
                option: "--replicas",
                message: "give --replicas or --target-concurrent-sequences, not both".into(),
            });
        }
        for (option, value) in [
            ("--replicas", options.replicas),
            (
                "--target-concurrent-sequences",
                options.target_concurrent_sequences,
            ),
        ] {
            if let Some(v) = value
                && !(1..=MAX_REPLICAS).contains(&v)
            {
                return Err(PlanError::InvalidOption {
                    option,
                    message: format!("{v} is outside 1..={MAX_REPLICAS}"),
                });
            }
        }
        if let MaxModelLen::Tokens(n) = options.max_model_len
            && n > self.model.max_position_embeddings
        {
            return Err(PlanError::MaxModelLenTooLong {
                requested: n,
                max_position_embeddings: self.model.max_position_embeddings,
                model: self.model.id.clone(),
            });
        }
        Ok(())
    }

    /// Layouts to evaluate: TP within a node (divisors of its GPU count) unless forced, every
    /// PP up to the layer count, only whole-node shapes past one node, at most [`MAX_NODES`].
    fn candidates(
        &self,
        options: &PlanOptions,
        gpus_per_node: u64,
        rejected: &mut Vec<(Layout, Rejection)>,
    ) -> Vec<Layout> {
        let tps: Vec<u64> = match options.tensor_parallel_size {
            Some(tp) => vec![tp],
            None => (1..=gpus_per_node)
                .filter(|t| gpus_per_node.is_multiple_of(*t))
                .collect(),
        };
        let layers = self.model.num_hidden_layers;
        let pps: Vec<u64> = match options.pipeline_parallel_size {
            Some(pp) => vec![pp],
            None => (1..=layers).collect(),
        };
        let mut out = Vec::new();
        for &tp in &tps {
            for &pp in &pps {
                let layout = match Layout::new(tp, pp, gpus_per_node) {
                    Ok(layout) => layout,
                    Err(why) => {
                        if is_forced(options) {
                            let stub = Layout {
                                tensor_parallel_size: tp,
                                pipeline_parallel_size: pp,
                                nodes: (tp * pp).div_ceil(gpus_per_node),
                                gpus_per_pod: gpus_per_node,
                            };
                            rejected.push((stub, Rejection::NotWholeNodes { reason: why }));
                        }
                        continue;
                    }
                };
                if layout.nodes > MAX_NODES || options.nodes.is_some_and(|n| n != layout.nodes) {
                    continue;
                }
                out.push(layout);
            }
        }
        out
    }

    /// Sizes one layout, or says why vLLM would refuse it.
    fn evaluate(
        &self,
        layout: Layout,
        options: &PlanOptions,
        block: u64,
        weights: &weights::RankWeights,
    ) -> Result<Fit, Rejection> {
        let model = self.model;
        let tp = layout.tensor_parallel_size;
        let pp = layout.pipeline_parallel_size;
        rules::check_pp(model, pp)?;
        let budget = budget(
            self.hardware.gpu.memory_bytes,
            options.gpu_memory_utilization,
        );
        let per_layer = kv::bytes_per_token_per_layer(model, tp, options.kv_cache_dtype);
        // One block of one layer on one GPU: vLLM's page size.
        let page = per_layer * block;
        let groups = kv::attention_groups(model);
        let mut stages = Vec::new();
        let mut counts = Vec::new();
        let mut first_layer = 0;
        for (index, layers) in pp_partition(model.num_hidden_layers, pp)
            .into_iter()
            .enumerate()
        {
            let index = index as u64;
            let (first, last) = (index == 0, index + 1 == pp);
            let weight_bytes_per_gpu =
                weights.stage(first_layer..first_layer + layers, first, last);
            let reserve = reserve::reserve(model, tp, pp, last);
            let used = weight_bytes_per_gpu + reserve.total();
            let count = kv::LayerCount::of(model, first_layer..first_layer + layers);
            // Hybrid models share one block pool between their groups, padded to the larger.
            let slots = count.group_size(groups);
            if used >= budget || budget - used < page * slots {
                return Err(Rejection::WeightsDoNotFit {
                    stage: index,
                    weight_bytes: weight_bytes_per_gpu,
                    reserve_bytes: reserve.total(),
                    budget_bytes: budget,
                    short_bytes: (used + page * slots).saturating_sub(budget),
                });
            }
            let available = budget - used;
            stages.push(Stage {
                index,
                layers,
                first_layer,
                weight_bytes_per_gpu,
                reserve,
                kv_cache_available_bytes_per_gpu: available,
                kv_cache_bytes_per_gpu: 0,
                kv_cache_bytes_per_token: per_layer * layers,
                kv_cache_blocks: available / page / slots,
            });
            counts.push(count);
            first_layer += layers;
        }
        let blocks = stages.iter().map(|s| s.kv_cache_blocks).min().unwrap_or(0);
        for (stage, count) in stages.iter_mut().zip(&counts) {
            stage.kv_cache_bytes_per_gpu = blocks * page * count.group_size(groups);
        }
        let window = model.sliding_window.unwrap_or(0);
        // Bytes one request of `len` tokens needs on each stage, as vLLM's fit check sums them.
        let needs = |len: u64| -> Vec<u64> {
            counts
                .iter()
                .map(|c| c.blocks_for(len, window, block).saturating_mul(page))
                .collect()
        };
        let fits = |len: u64| {
            counts.iter().zip(&stages).all(|(c, s)| {
                c.blocks_for(len, window, block).saturating_mul(page)
                    <= s.kv_cache_available_bytes_per_gpu
            })
        };
        let full = model.max_position_embeddings;
        let longest = || longest_that_fits(full, &fits);
        let (max_model_len, source) = match options.max_model_len {
            MaxModelLen::Tokens(n) if fits(n) => (n, MaxModelLenSource::Requested),
            MaxModelLen::Tokens(n) => {
                let need = needs(n);
                let (limiting, needed) = stages
                    .iter()
                    .zip(need)
                    .max_by_key(|(s, n)| n.saturating_sub(s.kv_cache_available_bytes_per_gpu))
                    .expect("PP ≥ 1");
                return Err(Rejection::ContextDoesNotFit {
                    stage: limiting.index,
                    max_model_len: n,
                    needed_bytes: needed,
                    available_bytes: limiting.kv_cache_available_bytes_per_gpu,
                    estimated_max_len: longest(),
                });
            }
            MaxModelLen::Auto if fits(full) => (full, MaxModelLenSource::FullContext),
            MaxModelLen::Auto => match longest() {
                0 => {
                    let stage = &stages[0];
                    return Err(Rejection::ContextDoesNotFit {
                        stage: stage.index,
                        max_model_len: block,
                        needed_bytes: needs(block)[0],
                        available_bytes: stage.kv_cache_available_bytes_per_gpu,
                        estimated_max_len: 0,
                    });
                }
                len => (len, MaxModelLenSource::LongestThatFits),
            },
        };
        let blocks_per_request = kv::LayerCount::of(model, 0..model.num_hidden_layers)
            .request_blocks(max_model_len, window, block);
        Ok(Fit {
            layout,
            expert_parallel: false,
            tokens: blocks / groups * block,
            blocks_per_request,
            stages,
            blocks,
            max_model_len,
            source,
        })
    }

    fn notes(&self, fit: &Fit, options: &PlanOptions) -> Vec<String> {
        let mut notes = Vec::new();
        let layout = fit.layout;
        if fit.source == MaxModelLenSource::LongestThatFits {
            notes.push(format!(
                "the full context ({} tokens) does not fit in the KV cache; max_model_len is cut to {}, \
                 the longest that fits. More GPUs or --kv-cache-dtype fp8 buy a longer context",
                self.model.max_position_embeddings, fit.max_model_len
            ));
        }
        let gpus_per_node = options.gpus_per_node.unwrap_or(self.hardware.node.gpus);
        match self.hardware.shape(gpus_per_node) {
            Some(shape) if gpus_per_node != self.hardware.node.gpus => notes.push(format!(
                "nodes of {} × {} ({})",
                shape.gpus, self.hardware.name, shape.machine_type
            )),
            None => notes.push(format!(
                "{} lists no machine with {gpus_per_node} GPUs; host memory (for /dev/shm) is assumed to \
                 scale with the GPU count",
                self.hardware.id
            )),
            Some(_) => {}
        }
        if let Some(exact) = self.model.checkpoint_bytes {
            let computed = weights::weight_bytes(self.model);
            notes.push(format!(
                "weights are the checkpoint's exact {} (safetensors index); lwsplan's own count is {} \
                 ({:+.2} %), and per-GPU weights are scaled to the exact total",
                gib(exact),
                gib(computed),
                (computed as f64 - exact as f64) / exact as f64 * 100.0
            ));
        }
        if fit.expert_parallel && options.expert_parallel == ExpertParallel::Auto {
            notes.push(format!(
                "expert parallelism (--enable-expert-parallel) makes {layout} possible: each GPU holds \
                 whole experts instead of a slice of every expert"
            ));
        }
        if layout.tp_spans_nodes() {
            notes.push(format!(
                "TP {} spans {} nodes: every layer's all-reduce crosses the network; vLLM recommends \
                 TP = GPUs per node ({}) and PP across nodes",
                layout.tensor_parallel_size, layout.nodes, layout.gpus_per_pod
            ));
        }
        if layout.tensor_parallel_size > 1
            && self.hardware.gpu.interconnect.kind
                == crate::profile::hardware::InterconnectKind::Pcie
        {
            notes.push(format!(
                "{} has no NVLink: tensor parallelism runs over PCIe; pipeline parallelism needs less bandwidth",
                self.hardware.name
            ));
        }
        if self.model.quantization.is_some() && !self.hardware.gpu.native_fp8 {
            notes.push(format!(
                "{} has no FP8 units (compute capability {}): vLLM runs the FP8 weights weight-only \
                 (FP8 Marlin, 1 byte per weight, BF16 compute)",
                self.hardware.name, self.hardware.gpu.compute_capability
            ));
            if matches!(self.model.mlp, crate::profile::Mlp::Moe { .. }) {
                notes.push(
                    "FP8 MoE below compute capability 8.9 needs vLLM's Marlin MoE backend, which only \
                     recent vLLM releases have: check your image's version (unverified for this model)"
                        .to_string(),
                );
            }
        }
        if self.model.quantization == Some(Quantization::Mxfp4) && self.hardware.gpu.sm() < 90 {
            notes.push(format!(
                "MXFP4 experts below compute capability 9.0 ({}) run on vLLM's Marlin kernels in \
                 recent releases only: check your image's version (unverified)",
                self.hardware.gpu.compute_capability
            ));
        }
        if self.model.quantization == Some(Quantization::Mxfp4)
            && matches!(self.model.mlp, crate::profile::Mlp::Moe { moe_intermediate_size, .. }
                if !(moe_intermediate_size / layout.tensor_parallel_size).is_multiple_of(64))
        {
            notes.push(
                "vLLM pads each expert's MXFP4 shard to a kernel-friendly width at this TP; the \
                 padding's few percent of expert memory is not counted (unverified)"
                    .to_string(),
            );
        }
        if options.kv_cache_dtype == KvCacheDtype::Fp8
            && matches!(self.model.attention, crate::profile::Attention::Mla { .. })
        {
            notes.push(
                "FP8 KV cache with MLA depends on the attention backend; unverified for this GPU"
                    .to_string(),
            );
        }
        if fit.max_model_len < 4096 {
            notes.push(format!(
                "max_model_len {} is short for chat or reasoning workloads",
                fit.max_model_len
            ));
        }
        notes
    }

    fn infeasible(
        &self,
        options: &PlanOptions,
        gpus_per_node: u64,
        rejected: &[(Layout, Rejection)],
    ) -> PlanError {
        let what = format!(
            "{} ({}) on {}",
            self.model.id,
            gib(weights::weight_bytes(self.model)),
            self.hardware_shape(gpus_per_node)
        );
        let closest = rejected
            .iter()
            .min_by_key(|(l, r)| (r.priority(), !l.is_recommended(), r.short_bytes(), l.gpus()));
        let mut message = if is_forced(options) {
            format!("the requested layout for {what} does not work")
        } else {
            format!("{what} does not fit on up to {MAX_NODES} nodes")
        };
        if let Some((layout, rejection)) = closest {
            let rejection = rejection.to_string();
            message.push_str(&format!(": {layout}: {}", rejection.trim_end_matches('.')));
        }
        if is_forced(options) {
            let free = self.plan(&PlanOptions {
                nodes: None,
                tensor_parallel_size: None,
                pipeline_parallel_size: None,
                ..options.clone()
            });
            match free {
                Ok(plan) if options.nodes.is_some_and(|n| n < plan.nodes) => {
                    message.push_str(&format!(
                        ". It needs at least {} nodes of {}: weights alone are {}; TP {} × PP {} on {} nodes fits",
                        plan.nodes,
                        self.hardware_shape(gpus_per_node),
                        gib(plan.weight_bytes),
                        plan.tensor_parallel_size,
                        plan.pipeline_parallel_size,
                        plan.nodes
                    ))
                }
                Ok(plan) => message.push_str(&format!(
                    ". What fits instead: TP {} × PP {} on {} node(s)",
                    plan.tensor_parallel_size, plan.pipeline_parallel_size, plan.nodes
                )),
                Err(_) => message.push_str(&format!(". No layout of up to {MAX_NODES} nodes fits either")),
            }
        } else if options.max_model_len != MaxModelLen::Auto {
            message
                .push_str(". Try a smaller --max-model-len, --kv-cache-dtype fp8, or a larger GPU");
        } else {
            message.push_str(". Use a GPU with more memory or a quantized checkpoint");
        }
        PlanError::Infeasible(message)
    }

    /// Host memory of the node shape in use: a listed shape's, or, for a GPU count no listed
    /// machine has, the default node's scaled down to that many GPUs (a guess, noted).
    fn host_memory(&self, options: &PlanOptions) -> u64 {
        let gpus = options.gpus_per_node.unwrap_or(self.hardware.node.gpus);
        match self.hardware.shape(gpus) {
            Some(shape) => shape.host_memory_bytes,
            None => self.hardware.node.host_memory_bytes / self.hardware.node.gpus * gpus,
        }
    }

    fn hardware_shape(&self, gpus_per_node: u64) -> String {
        format!("{gpus_per_node} × {}", self.hardware.name)
    }

    fn assemble(
        &self,
        fit: Fit,
        options: &PlanOptions,
        block: u64,
        notes: Vec<String>,
        alternatives: Vec<Alternative>,
    ) -> Plan {
        let model = self.model;
        let layout = fit.layout;
        let limiting = fit
            .stages
            .iter()
            .min_by_key(|s| (s.kv_cache_blocks, std::cmp::Reverse(s.layers)))
            .expect("PP ≥ 1");
        let shm = reserve::shm(
            layout.gpus_per_pod,
            options.launcher,
            self.host_memory(options),
        );
        let per_pod = max_weight_bytes_per_pod(&fit.stages, layout);
        let max_concurrency = concurrency(fit.blocks, fit.blocks_per_request);
        let replicas = replicas(options, fit.blocks, fit.max_model_len, block);
        let mut vllm_args = model.vllm_args.clone();
        if fit.max_model_len != model.max_position_embeddings {
            vllm_args.extend(["--max-model-len".into(), fit.max_model_len.to_string()]);
        }
        if options.gpu_memory_utilization != DEFAULT_GPU_MEMORY_UTILIZATION {
            vllm_args.extend([
                "--gpu-memory-utilization".into(),
                options.gpu_memory_utilization.to_string(),
            ]);
        }
        if fit.expert_parallel {
            vllm_args.push("--enable-expert-parallel".into());
        }
        if options.kv_cache_dtype != KvCacheDtype::Auto {
            vllm_args.extend([
                "--kv-cache-dtype".into(),
                options.kv_cache_dtype.as_str().into(),
            ]);
        }
        Plan {
            model: model.id.clone(),
            model_repo: model.hf_repo.clone(),
            hardware: self.hardware.id.clone(),
            gpu_name: self.hardware.name.clone(),
            node_labels: self.hardware.labels.clone(),
            tensor_parallel_size: layout.tensor_parallel_size,
            pipeline_parallel_size: layout.pipeline_parallel_size,
            expert_parallel: fit.expert_parallel,
            nodes: layout.nodes,
            gpus_per_node: layout.gpus_per_pod,
            total_gpus: layout.gpus(),
            gpu_memory_bytes: self.hardware.gpu.memory_bytes,
            gpu_memory_utilization: options.gpu_memory_utilization,
            budget_bytes_per_gpu: budget(
                self.hardware.gpu.memory_bytes,
                options.gpu_memory_utilization,
            ),
            parameters: weights::parameters(model),
            weight_bytes: model
                .checkpoint_bytes
                .unwrap_or_else(|| weights::weight_bytes(model)),
            max_weight_bytes_per_pod: per_pod,
            kv_cache_dtype: options.kv_cache_dtype,
            block_size: block,
            kv_cache_bytes_per_token: limiting.kv_cache_bytes_per_token,
            kv_cache_blocks: fit.blocks,
            kv_cache_tokens: fit.tokens,
            max_model_len: fit.max_model_len,
            max_model_len_source: fit.source,
            max_concurrency,
            replicas,
            total_concurrency: (max_concurrency * replicas as f64 * 100.0).round() / 100.0,
            stages: fit.stages,
            launcher: options.launcher,
            shm_size_bytes: shm.size_bytes,
            shm,
            vllm_args,
            notes,
            alternatives,
        }
    }
}

/// vLLM's budget per GPU: `gpu_memory_utilization × total` (`vllm/v1/worker/gpu_worker.py`).
fn budget(memory: u64, utilization: f64) -> u64 {
    (memory as f64 * utilization) as u64
}

/// vLLM's "Maximum concurrency for L tokens per request": the group's blocks over the blocks
/// one such request takes, truncated to two decimals.
fn concurrency(blocks: u64, blocks_per_request: u64) -> f64 {
    (blocks * 100 / blocks_per_request.max(1)) as f64 / 100.0
}

/// The longest length up to `full` that `fits`, by bisection (what fits shrinks as length
/// grows); 0 when not even one token does.
fn longest_that_fits(full: u64, fits: &dyn Fn(u64) -> bool) -> u64 {
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

/// Replicas: as given, or the fewest whose groups together hold the target number of
/// `max_model_len` sequences at once (each group holds `blocks / ceil(len / block)` of them).
fn replicas(options: &PlanOptions, blocks: u64, max_model_len: u64, block: u64) -> u64 {
    match (options.replicas, options.target_concurrent_sequences) {
        (Some(n), _) => n,
        (None, Some(target)) => {
            let per_group = (blocks / max_model_len.div_ceil(block).max(1)).max(1);
            target.div_ceil(per_group)
        }
        (None, None) => 1,
    }
}

/// Ranks are laid out TP-fastest (`pp_rank = rank / TP`), pods take consecutive ranks: the
/// heaviest pod is the one whose GPUs hold the most weight bytes.
fn max_weight_bytes_per_pod(stages: &[Stage], layout: Layout) -> u64 {
    let tp = layout.tensor_parallel_size;
    let rank_bytes = |rank: u64| stages[(rank / tp) as usize].weight_bytes_per_gpu;
    (0..layout.nodes)
        .map(|pod| {
            let ranks = pod * layout.gpus_per_pod..(pod + 1) * layout.gpus_per_pod;
            ranks.map(rank_bytes).fold(0u64, u64::saturating_add)
        })
        .max()
        .unwrap_or(0)
}

fn is_forced(options: &PlanOptions) -> bool {
    options.nodes.is_some()
        || options.tensor_parallel_size.is_some()
        || options.pipeline_parallel_size.is_some()
}

/// Fewest nodes; with `auto`, a layout that serves the full context first; then fewest GPUs;
/// then vLLM's recommended shape (TP = GPUs per node); then the most KV; then smaller TP, so
/// the order is total.
fn rank_key(fit: &Fit, auto: bool) -> (u64, bool, u64, bool, std::cmp::Reverse<u64>, u64) {
    (
        fit.layout.nodes,
        auto && fit.source != MaxModelLenSource::FullContext,
        fit.layout.gpus(),
        !fit.layout.is_recommended(),
        std::cmp::Reverse(fit.tokens),
        fit.layout.tensor_parallel_size,
    )
}

/// Why `other` ranks below `best`, in the terms of [`rank_key`].
fn why_lost(other: &Fit, best: &Fit, auto: bool) -> String {
    let (o, b) = (other.layout, best.layout);
    if o.nodes != b.nodes {
        format!("needs {} nodes", o.nodes)
    } else if auto && other.source != best.source {
        format!("holds only {} tokens of context", other.max_model_len)
    } else if o.gpus() != b.gpus() {
        format!("uses {} GPUs", o.gpus())
    } else if o.is_recommended() != b.is_recommended() {
        "TP ≠ GPUs per node (vLLM recommends TP within a node, PP across nodes)".to_string()
    } else {
        format!("less KV cache ({} tokens)", other.tokens)
    }
}

/// At most this many alternatives are listed.
const MAX_ALTERNATIVES: usize = 12;

fn alternatives(
    fits: &[Fit],
    rejected: &[(Layout, Rejection)],
    best: &Fit,
    auto: bool,
) -> Vec<Alternative> {
    let relevant = |layout: &Layout| layout.nodes <= best.layout.nodes;
    let fitting = fits
        .iter()
        .filter(|f| relevant(&f.layout))
        .map(|f| Alternative {
            layout: f.layout,
            verdict: if f.layout == best.layout {
                Verdict::Chosen
            } else {
                Verdict::Fits
            },
            reason: if f.layout == best.layout {
                String::new()
            } else {
                why_lost(f, best, auto)
            },
            kv_cache_tokens: Some(f.tokens),
        });
    let mut refused: Vec<&(Layout, Rejection)> =
        rejected.iter().filter(|(l, _)| relevant(l)).collect();
    refused.sort_by_key(|(l, _)| {
        (
            std::cmp::Reverse(l.nodes),
            std::cmp::Reverse(l.gpus()),
            !l.is_recommended(),
        )
    });
    let refused = refused.into_iter().map(|(layout, rejection)| Alternative {
        layout: *layout,
        verdict: Verdict::Rejected,
        reason: rejection.to_string(),
        kv_cache_tokens: None,
    });
    fitting.chain(refused).take(MAX_ALTERNATIVES).collect()
}

/// Whether `quantization` is block FP8, for rules that only apply to it.
pub(crate) fn fp8_block(model: &ModelProfile) -> Option<[u64; 2]> {
    match &model.quantization {
        Some(Quantization::Fp8 {
            weight_block_size: Some(block),
        }) => Some(*block),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Attention, Mlp};

    fn planner_for(model: &ModelProfile) -> Result<Plan, PlanError> {
        let hardware = crate::Catalog::builtin()
            .hardware(crate::profile::ids::H100_80GB)
            .unwrap();
        Planner::new(model, hardware).plan(&PlanOptions::default())
    }

    /// Sizes at the bounds the profile check allows: refused with a message, never an overflow
    /// (tests run with overflow checks on).
    #[test]
    fn absurd_models_are_refused_without_overflow() {
        let catalog = crate::Catalog::builtin();
        let mut model = catalog
            .model(crate::profile::ids::DEEPSEEK_R1)
            .unwrap()
            .clone();
        model.hidden_size = 1 << 20;
        model.num_hidden_layers = 4096;
        model.vocab_size = 1 << 24;
        model.max_position_embeddings = 1 << 26;
        model.mlp = Mlp::Moe {
            intermediate_size: 1 << 20,
            moe_intermediate_size: 1 << 20,
            n_routed_experts: 1 << 14,
            n_shared_experts: 1 << 14,
            num_experts_per_tok: 1 << 14,
            first_k_dense_replace: 4096,
            bias: false,
        };
        model.check("test").unwrap();
        let err = planner_for(&model).unwrap_err();
        assert!(matches!(err, PlanError::ModelTooLarge { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("more than the 10^15 lwsplan plans for")
        );
        assert!(u128::from(weights::parameters(&model)) > weights::MAX_PARAMETERS);
    }

    #[test]
    fn huge_kv_per_token_with_few_parameters_does_not_overflow() {
        let catalog = crate::Catalog::builtin();
        let mut model = catalog
            .model(crate::profile::ids::LLAMA_3_1_8B_INSTRUCT)
            .unwrap()
            .clone();
        model.hidden_size = 1;
        model.vocab_size = 1;
        model.max_position_embeddings = 1 << 26;
        model.attention = Attention::Gqa {
            num_attention_heads: 1 << 10,
            num_key_value_heads: 1 << 10,
            head_dim: 1 << 20,
            qk_norm: false,
            qkv_bias: false,
            o_bias: false,
            sinks: false,
        };
        model.mlp = Mlp::Dense {
            intermediate_size: 1,
        };
        // With `auto` it may plan a short context or refuse; either way it returns (an overflow
        // would panic here, tests run with overflow checks).
        let _ = planner_for(&model);
        let fixed = Planner::new(
            &model,
            catalog.hardware(crate::profile::ids::H100_80GB).unwrap(),
        )
        .plan(&PlanOptions {
            max_model_len: MaxModelLen::Tokens(1 << 26),
            ..PlanOptions::default()
        });
        assert!(matches!(fixed, Err(PlanError::Infeasible(_))));
    }

    #[test]
    fn utilization_must_be_in_range() {
        let catalog = crate::Catalog::builtin();
        let model = catalog
            .model(crate::profile::ids::LLAMA_3_1_8B_INSTRUCT)
            .unwrap();
        let hardware = catalog.hardware(crate::profile::ids::H100_80GB).unwrap();
        for bad in [0.0, -0.5, 1.5, f64::NAN, f64::INFINITY] {
            let err = Planner::new(model, hardware)
                .plan(&PlanOptions {
                    gpu_memory_utilization: bad,
                    ..PlanOptions::default()
                })
                .unwrap_err();
            assert!(matches!(
                err,
                PlanError::InvalidOption {
                    option: "--gpu-memory-utilization",
                    ..
                }
            ));
        }
    }

    #[test]
    fn auto_context_prefers_a_layout_that_serves_the_full_context() {
        // Llama 3.1 70B on 8 × H100: TP 2 fits the weights but only ~16k tokens of context;
        // TP 4 serves the full 131072 on the same single node, so auto takes TP 4.
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
            (plan.tensor_parallel_size, plan.max_model_len),
            (4, 131_072)
        );
        let fits = plan
            .alternatives
            .iter()
            .find(|a| a.layout.tensor_parallel_size == 2 && a.layout.pipeline_parallel_size == 1)
            .unwrap();
        assert_eq!(fits.verdict, Verdict::Fits);
        assert!(fits.reason.starts_with("holds only"), "{}", fits.reason);
    }

    #[test]
    fn concurrency_is_blocks_over_blocks_per_sequence() {
        // 163,840 tokens in blocks of 64 = 2,560 blocks a request.
        assert_eq!(concurrency(12_542, 2_560), 4.89);
        assert_eq!(concurrency(100, 100), 1.0);
        assert_eq!(concurrency(0, 1), 0.0);
        assert_eq!(longest_that_fits(1000, &|l| l <= 640), 640);
        assert_eq!(longest_that_fits(1000, &|_| false), 0);
        assert_eq!(longest_that_fits(1000, &|_| true), 1000);
    }
}
