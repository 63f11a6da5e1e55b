//! The planner: from a model and a GPU node type to a parallel layout whose memory vLLM accepts.
//!
//! It is pure (no I/O, no Kubernetes): [`Planner::plan`] enumerates tensor × pipeline layouts
//! ([`search`](self) of the candidates), rejects the ones vLLM would refuse — with vLLM's own
//! reason — sizes every pipeline stage's memory as vLLM accounts for it, ranks the ones that fit
//! and explains the choice. The result, [`Plan`], is one serializable value: the `plan` table
//! and `--format json` are two views of it.
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
//! assert_eq!((plan.layout.tensor_parallel_size, plan.layout.pipeline_parallel_size), (8, 2));
//! assert_eq!(plan.layout.nodes, 2);
//! # Ok::<(), lwsplan::Error>(())
//! ```

mod assemble;
pub(crate) mod compressed_kv;
mod curve;
mod error;
mod explain;
mod fabric;
mod grouped_gemm;
pub(crate) mod kv;
pub(crate) mod layout;
mod options;
mod performance;
mod rank;
mod reserve;
mod rules;
mod search;
mod shm;
mod startup;
pub(crate) mod version;
pub(crate) mod weights;

pub use error::{Infeasible, PlanError, Remedy};
pub use explain::Note;
pub use kv::{CacheKind, KvCacheDtype, KvCacheGroup};
pub use layout::Layout;
pub use options::{
    CHECKPOINT_SIZE_FACTOR, DEFAULT_GPU_MEMORY_UTILIZATION, ExpertParallel, MAX_NODES, MaxModelLen,
    Objective, PlanOptions, Strategy, check_checkpoint_size,
};
pub use performance::{Bound, DecodeStep, Performance, Range, Workload};
pub use reserve::Reserve;
pub use rules::Rejection;
pub use shm::{Launcher, Shm};
pub use startup::{StageStartup, Startup};
pub use version::{Feature, SchedulerLimits, VllmVersion};

pub use weights::{parameters, weight_bytes};

use serde::Serialize;

use crate::profile::{HardwareProfile, ModelProfile, NodeLabels, Quantization};
use search::{Fit, Outcomes};

/// One pipeline stage, sized per GPU (every TP rank of a stage holds the same).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Stage {
    /// Stage index, 0-based (`pp_rank`).
    pub index: u64,
    /// Decoder layers this stage holds.
    pub layers: u64,
    /// Index of its first layer.
    pub first_layer: u64,
    /// Weights one GPU of this stage loads, with the buffers vLLM builds beside them and
    /// counts in "Model loading took" (Llama 4's RoPE cos/sin table).
    pub weight_bytes_per_gpu: u64,
    /// Activation, non-torch and CUDA-graph memory held back from the KV cache.
    pub reserve: Reserve,
    /// Budget left for the KV cache: utilization × GPU memory − weights − reserve.
    pub kv_cache_available_bytes_per_gpu: u64,
    /// KV cache vLLM allocates: the group's block count × this stage's bytes per block.
    pub kv_cache_bytes_per_gpu: u64,
    /// KV bytes one token takes on one GPU of this stage: every layer whose cache grows with
    /// the sequence.
    pub kv_cache_bytes_per_token: u64,
    /// State bytes one sequence holds on one GPU of this stage, whatever its length: every
    /// linear-attention layer's (0 without such layers).
    pub kv_cache_bytes_per_sequence: u64,
    /// Blocks this stage alone could hold; the group uses the smallest over stages.
    pub kv_cache_blocks: u64,
    /// vLLM's KV-cache groups with layers on this stage, all sharing its block pool.
    pub kv_cache_groups: Vec<kv::KvCacheGroup>,
}

/// Why `max_model_len` has its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MaxModelLenSource {
    /// Given with `--max-model-len`.
    Requested,
    /// `auto`, and the model's full context fits.
    FullContext,
    /// `auto`, the full context does not fit: the longest that does.
    LongestThatFits,
}

/// A layout the planner considered, and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Alternative {
    /// The layout.
    pub layout: Layout,
    /// `chosen`, `fits` or `rejected`.
    pub verdict: Verdict,
    /// Why it lost, or why it was rejected; empty for the chosen one.
    pub reason: String,
    /// KV capacity in tokens of the whole group (every DP engine's), for layouts that fit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kv_cache_tokens: Option<u64>,
    /// The throughput and latency estimate, for layouts that fit under a workload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub performance: Option<Performance>,
}

impl Plan {
    /// The chosen layout.
    pub fn layout(&self) -> Layout {
        Layout {
            tensor_parallel_size: self.layout.tensor_parallel_size,
            pipeline_parallel_size: self.layout.pipeline_parallel_size,
            data_parallel_size: self.layout.data_parallel_size,
            decode_context_parallel_size: self.layout.decode_context_parallel_size,
            nodes: self.layout.nodes,
            gpus_per_pod: self.layout.gpus_per_pod,
        }
    }
}

/// The fate of a considered layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Verdict {
    /// The plan's layout.
    Chosen,
    /// Fits, but another layout ranks higher.
    Fits,
    /// vLLM would refuse it, or it does not fit.
    Rejected,
}

/// A deployable plan: layout, memory per stage, KV capacity, context length and shm size.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
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
    /// The vLLM release the plan is made for: its memory behaviour and flags.
    pub vllm_version: VllmVersion,
    /// TP, PP, DP, DCP, nodes and GPUs per pod; flattened into the plan's JSON.
    #[serde(flatten)]
    pub layout: Layout,
    /// `--enable-expert-parallel`: routed experts distributed whole across the TP ranks (TP ×
    /// DP under DP + EP).
    pub expert_parallel: bool,
    /// What transfers between the group's nodes run over (`--network`, else the node type's).
    pub network: crate::profile::Network,
    /// The node each pod lands on: what bounds its CPU, memory and disk requests.
    pub node: NodeResources,
    /// Whether the model's repository is gated on Hugging Face, so the pods need a token (an
    /// unknown repository counts as gated).
    pub gated: bool,
    /// GPUs in the group: TP × PP × DP.
    pub total_gpus: u64,
    /// CUDA-reported memory of one GPU.
    pub gpu_memory_bytes: u64,
    /// `--gpu-memory-utilization`.
    pub gpu_memory_utilization: f64,
    /// What vLLM may use on each GPU: utilization × GPU memory, or with
    /// `kv_cache_memory_bytes` the GPU's memory less the headroom vLLM still needs.
    pub budget_bytes_per_gpu: u64,
    /// `--kv-cache-memory-bytes`: the KV cache fixed at this size per GPU (vLLM then ignores
    /// the utilization).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kv_cache_memory_bytes: Option<u64>,
    /// Parameters vLLM loads by default (no MTP or draft layers).
    pub parameters: u64,
    /// The weights as the checkpoint stores them, each tensor once (stages show what each GPU
    /// holds once vLLM has laid them out for its kernels).
    pub weight_bytes: u64,
    /// The most weight bytes any one pod loads: what its startup time scales with.
    pub max_weight_bytes_per_pod: u64,
    /// `--kv-cache-dtype`.
    pub kv_cache_dtype: KvCacheDtype,
    /// KV block size in tokens, as vLLM picks it on this GPU.
    pub block_size: u64,
    /// KV bytes per token per GPU on the limiting stage.
    pub kv_cache_bytes_per_token: u64,
    /// State bytes per sequence per GPU on the limiting stage (linear-attention layers; 0
    /// without them).
    pub kv_cache_bytes_per_sequence: u64,
    /// KV blocks of the group (the smallest over stages).
    pub kv_cache_blocks: u64,
    /// KV capacity in tokens of one engine (what each DP rank logs as "GPU KV cache size"):
    /// blocks × block size.
    pub kv_cache_tokens: u64,
    /// KV capacity of the whole group: every engine's.
    pub group_kv_cache_tokens: u64,
    /// `--max-model-len`.
    pub max_model_len: u64,
    /// Why `max_model_len` has its value.
    pub max_model_len_source: MaxModelLenSource,
    /// How many `max_model_len` sequences one engine holds at once (vLLM's "Maximum
    /// concurrency").
    pub max_concurrency: f64,
    /// The pipeline stages.
    pub stages: Vec<Stage>,
    /// How the group starts vLLM.
    pub launcher: Launcher,
    /// LWS replicas: groups, each serving the model on its own.
    pub replicas: u64,
    /// `max_model_len` sequences all replicas hold at once: replicas × engines ×
    /// max_concurrency.
    pub total_concurrency: f64,
    /// `/dev/shm` size for each pod.
    pub shm_size_bytes: u64,
    /// What the `/dev/shm` size is made of.
    pub shm: Shm,
    /// Flags `vllm serve` needs beyond the model and the parallel sizes, in order.
    pub vllm_args: Vec<String>,
    /// The throughput and latency estimate under the options' workload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub performance: Option<Performance>,
    /// Things the user should know: reduced context, forced layouts, untested paths.
    pub notes: Vec<Note>,
    /// Layouts considered, best first.
    pub alternatives: Vec<Alternative>,
}

/// The node each pod of a plan lands on (the node shape in use), for sizing pod requests.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct NodeResources {
    /// GPUs of the node.
    pub gpus: u64,
    /// Host memory of the node.
    pub host_memory_bytes: u64,
    /// What the kubelet lets pods use; absent when the hardware profile gives none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allocatable: Option<crate::profile::Allocatable>,
}

/// At most this many layouts are swept.
pub const SWEEP_MAX_SERIES: usize = 8;

/// Estimates of candidate layouts over a concurrency sweep ([`Planner::sweep`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Sweep {
    /// One series per layout, the chosen one first.
    pub series: Vec<SweepSeries>,
}

/// One layout's estimates, by concurrency.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SweepSeries {
    /// The layout.
    pub layout: Layout,
    /// Whether the plan chose it.
    pub chosen: bool,
    /// The estimate at each concurrency swept, in order.
    pub points: Vec<Performance>,
}

/// Plans one model on one hardware profile.
#[derive(Debug, Clone, Copy)]
pub struct Planner<'a> {
    model: &'a ModelProfile,
    hardware: &'a HardwareProfile,
}

impl<'a> Planner<'a> {
    /// A planner for this model on this hardware.
    pub fn new(model: &'a ModelProfile, hardware: &'a HardwareProfile) -> Self {
        Planner { model, hardware }
    }

    /// Runs the checks a profile file gets on profiles built in code or deserialized (an
    /// operator's custom resource, say), then the option checks: nonsense is invalid input,
    /// never a panic or an "infeasible".
    fn check(&self, options: &PlanOptions) -> Result<(), PlanError> {
        self.model.check(&self.model.id)?;
        self.hardware.check(&self.hardware.id)?;
        options.check(self.model)?;
        rules::check_release(self.model, options.vllm_version())?;
        rules::check_quantization_capability(self.model, self.hardware)
    }

    /// Finds the best layout under `options`, or says why none fits and what would.
    pub fn plan(&self, options: &PlanOptions) -> Result<Plan, PlanError> {
        self.check(options)?;
        let auto = options.max_model_len == MaxModelLen::Auto;
        let Outcomes { mut fits, rejected } = self.search(options);
        self.keep_fits_serving_the_workload(options, &mut fits)?;
        self.estimate_all(options, &mut fits);
        rank::sort(&mut fits, options, auto);
        let Some(best) = fits.first().cloned() else {
            return Err(PlanError::Infeasible(Box::new(
                self.infeasible(options, &rejected),
            )));
        };
        let mut notes = self.notes(&best, options);
        if let Some(note) = rank::unmet_limits(&best, options) {
            notes.push(note);
        }
        if let (Some(p), Some(w)) = (best.performance, options.workload)
            && p.overloaded
        {
            notes.push(Note::Overloaded {
                request_rate: w.request_rate.unwrap_or_default(),
                served: p.output_tokens_per_s / w.output_tokens.max(1) as f64,
                cap: w.concurrency,
            });
        }
        if let Some(p) = best.performance
            && p.kv_cache_saturated
        {
            notes.push(Note::KvCacheSaturated {
                requests: p.requests_per_engine,
                holds: p.batch_per_engine,
            });
        }
        if best.source == MaxModelLenSource::LongestThatFits
            && let Some(full) = fits
                .iter()
                .find(|f| f.source == MaxModelLenSource::FullContext)
        {
            notes.push(Note::FullContextElsewhere {
                layout: full.layout,
                full: self.model.max_position_embeddings,
            });
        }
        if options.is_forced()
            && let Some(free) = self.best_fit(&options.unforced())
            && (free.layout.gpus(), free.layout.nodes) < (best.layout.gpus(), best.layout.nodes)
        {
            notes.push(Note::LargerThanNeeded {
                forced: best.layout,
                smallest: free.layout,
                extra_tokens: best.tokens.saturating_sub(free.tokens),
            });
        }
        let alternatives = rank::alternatives(&fits, &rejected, &best, auto, options);
        Ok(self.assemble(best, options, notes, alternatives))
    }

    /// Under a workload, a layout whose context (`max_model_len`, the longest that fits when
    /// auto) is shorter than one request serves none of them: vLLM rejects the request. Such
    /// layouts are dropped; when none is left, the workload is refused with the longest context
    /// any layout reached.
    fn keep_fits_serving_the_workload(
        &self,
        options: &PlanOptions,
        fits: &mut Vec<search::Fit>,
    ) -> Result<(), PlanError> {
        let Some(w) = options.workload else {
            return Ok(());
        };
        let request = w.input_tokens + w.output_tokens;
        let longest = fits.iter().map(|f| f.max_model_len).max();
        fits.retain(|f| f.max_model_len >= request);
        match longest {
            Some(longest) if fits.is_empty() => Err(PlanError::InvalidOption {
                option: crate::OptionName::InputTokens,
                message: format!(
                    "a request of {request} tokens (--input-tokens plus --output-tokens) is longer \
                     than the longest context that fits ({longest} tokens); vLLM would reject \
                     every request: shorten the workload, or give more GPUs (--nodes) or \
                     --kv-cache-dtype fp8"
                ),
            }),
            _ => Ok(()),
        }
    }

    /// The estimate of the plan's chosen layout and its fitting alternatives (those on no more
    /// nodes, at most [`SWEEP_MAX_SERIES`], in the plan's order) at each of `concurrencies`,
    /// under the options' workload lengths: the data behind `--chart`. Empty series when the
    /// options carry no workload or the hardware profile no peaks.
    pub fn sweep(&self, options: &PlanOptions, concurrencies: &[u64]) -> Result<Sweep, PlanError> {
        let plan = self.plan(options)?;
        let Some(workload) = options.workload else {
            return Ok(Sweep { series: Vec::new() });
        };
        let layouts: Vec<Layout> = plan
            .alternatives
            .iter()
            .filter(|a| a.verdict != Verdict::Rejected)
            .map(|a| a.layout)
            .take(SWEEP_MAX_SERIES)
            .collect();
        let fits = self.search(options).fits;
        let limits = options.scheduler_limits(self.hardware);
        let inventory = performance::Inventory::of(self.model);
        let mut series = Vec::new();
        for layout in layouts {
            let Some(fit) = fits.iter().find(|f| f.layout == layout) else {
                continue;
            };
            let points = concurrencies
                .iter()
                .filter_map(|&c| {
                    let cx = performance::Context {
                        model: self.model,
                        hardware: self.hardware,
                        inventory: &inventory,
                        workload: Workload::closed(
                            workload.input_tokens,
                            workload.output_tokens,
                            c,
                        ),
                        replicas: options.replicas.unwrap_or(1),
                        max_num_seqs: limits.max_num_seqs,
                        max_num_batched_tokens: limits.max_num_batched_tokens,
                        gpu_hour_price: options.gpu_hour_price,
                        vllm_version: options.vllm_version(),
                        network: options.network.unwrap_or(self.hardware.node.network),
                    };
                    performance::estimate(&cx, fit)
                })
                .collect();
            series.push(SweepSeries {
                layout,
                chosen: layout == plan.layout(),
                points,
            });
        }
        Ok(Sweep { series })
    }

    /// Fills in every fit's estimate when the options carry a workload.
    fn estimate_all(&self, options: &PlanOptions, fits: &mut [search::Fit]) {
        let Some(workload) = options.workload else {
            return;
        };
        let limits = options.scheduler_limits(self.hardware);
        let inventory = performance::Inventory::of(self.model);
        let cx = performance::Context {
            model: self.model,
            hardware: self.hardware,
            inventory: &inventory,
            workload,
            replicas: options.replicas.unwrap_or(1),
            max_num_seqs: limits.max_num_seqs,
            max_num_batched_tokens: limits.max_num_batched_tokens,
            gpu_hour_price: options.gpu_hour_price,
            vllm_version: options.vllm_version(),
            network: options.network.unwrap_or(self.hardware.node.network),
        };
        for fit in fits {
            fit.performance = performance::estimate(&cx, fit);
        }
    }

    /// The best fit under `options`, without notes or alternatives.
    fn best_fit(&self, options: &PlanOptions) -> Option<Fit> {
        let auto = options.max_model_len == MaxModelLen::Auto;
        self.search(options)
            .fits
            .into_iter()
            .min_by_key(|f| rank::rank_key(f, auto))
    }

    /// The layout that fits when the options leave it free, if any.
    fn unforced_layout(&self, options: &PlanOptions) -> Option<Layout> {
        self.best_fit(&options.unforced()).map(|f| f.layout)
    }

    /// GPUs per node: the option, else the hardware profile's.
    fn gpus_per_node(&self, options: &PlanOptions) -> u64 {
        options.gpus_per_node.unwrap_or(self.hardware.node.gpus)
    }

    /// The model's weights as loaded: the checkpoint's exact size when known, else lwsplan's
    /// own count. Every total the plan reports is this one.
    fn weight_total(&self) -> u64 {
        self.model
            .checkpoint_bytes
            .unwrap_or_else(|| weights::weight_bytes(self.model))
    }
}

/// Whether `quantization` is block FP8, for rules that only apply to it.
pub(crate) fn fp8_block(model: &ModelProfile) -> Option<[u64; 2]> {
    match &model.quantization {
        Some(Quantization::Fp8 {
            weight_block_size: Some(block),
            ..
        }) => Some(*block),
        _ => None,
    }
}
