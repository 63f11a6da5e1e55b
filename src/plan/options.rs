//! What the planner may choose and what it must respect, and the bounds on each option.

use crate::option::OptionName;
use serde::{Deserialize, Serialize};

use super::version::{self, SchedulerLimits, VllmVersion};
use super::weights;
use super::{KvCacheDtype, Launcher, PlanError};
use crate::error::base::ValueError;
use crate::profile::{HardwareProfile, ModelProfile};

/// The most nodes a plan may use; a model that needs more is refused rather than searched for.
pub const MAX_NODES: u64 = 64;
/// vLLM's default `--gpu-memory-utilization` (`vllm/config/cache.py`).
pub const DEFAULT_GPU_MEMORY_UTILIZATION: f64 = 0.9;
/// Upper bound on forced parallel sizes and GPUs per node, far above real deployments.
pub(crate) const MAX_PARALLEL: u64 = 4096;
/// Upper bound on replicas and target sequences, far above real deployments (LWS itself
/// accepts up to 1,000,000 replicas).
pub(crate) const MAX_REPLICAS: u64 = 100_000;

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
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "auto" {
            return Ok(MaxModelLen::Auto);
        }
        match s.parse::<u64>() {
            Ok(0) | Err(_) => Err(ValueError::new(
                s,
                "neither `auto` nor a positive number of tokens",
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

/// What the planner optimises among the layouts that fit.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Objective {
    /// The fewest nodes and GPUs, the full context, the most KV cache (no workload needed).
    #[default]
    Capacity,
    /// The most output tokens per second per GPU under the workload.
    Throughput,
    /// The lowest time per output token under the workload.
    Latency,
}

/// Which families of layouts the planner considers.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Strategy {
    /// Every family that applies to the model; at equal nodes, GPUs and context a plain
    /// TP × PP layout is chosen over DP + EP or DCP, which are listed as alternatives.
    #[default]
    Auto,
    /// Tensor × pipeline parallelism (with DCP only when `--decode-context-parallel-size` asks).
    TpPp,
    /// Data-parallel attention with expert-parallel MoE (vLLM's "wide EP"): MoE models only.
    DpEp,
}

/// A checkpoint size further than this factor from the model's own weight count (parameters
/// × bytes per parameter, quantization included) is refused: the index belongs to another
/// model, or was tampered with. Real checkpoints of the supported architectures agree within a
/// few percent (tests/it/import.rs); MTP layers, which a DeepSeek index also holds, add 2 %.
pub const CHECKPOINT_SIZE_FACTOR: u64 = 2;

/// Refuses a checkpoint size (from a safetensors index or a profile's `checkpoint_bytes`) that
/// cannot be this model's weights.
pub fn check_checkpoint_size(model: &ModelProfile, bytes: u64) -> Result<(), PlanError> {
    let computed = weights::weight_bytes(model).max(1);
    let factor = CHECKPOINT_SIZE_FACTOR;
    if bytes == 0 || bytes / factor > computed || computed / factor > bytes {
        return Err(PlanError::CheckpointSize {
            model: model.id.clone(),
            checkpoint_bytes: bytes,
            computed_bytes: computed,
        });
    }
    Ok(())
}

/// What the planner may choose and what it must respect.
///
/// In a deployment file every field is optional and defaults as on the command line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PlanOptions {
    /// `--gpu-memory-utilization`: the fraction of each GPU's memory vLLM may use, in (0, 1].
    #[serde(deserialize_with = "utilization")]
    pub gpu_memory_utilization: f64,
    /// `--kv-cache-memory-bytes`: the KV cache's size per GPU, fixed. vLLM then ignores
    /// `gpu_memory_utilization`; the planner checks that weights, reserve and this fit the GPU
    /// and sizes blocks, context and concurrency from it.
    #[serde(deserialize_with = "kv_cache_memory")]
    pub kv_cache_memory_bytes: Option<u64>,
    /// `--kv-cache-dtype`.
    pub kv_cache_dtype: KvCacheDtype,
    /// `--max-model-len`.
    pub max_model_len: MaxModelLen,
    /// GPUs per node, overriding the hardware profile's.
    #[serde(deserialize_with = "up_to_parallel")]
    pub gpus_per_node: Option<u64>,
    /// A fixed node count.
    #[serde(deserialize_with = "up_to_nodes")]
    pub nodes: Option<u64>,
    /// A fixed `--tensor-parallel-size`; may exceed a node's GPUs (TP then spans nodes).
    #[serde(deserialize_with = "up_to_parallel")]
    pub tensor_parallel_size: Option<u64>,
    /// A fixed `--pipeline-parallel-size`.
    #[serde(deserialize_with = "up_to_parallel")]
    pub pipeline_parallel_size: Option<u64>,
    /// How the group starts vLLM; decides what shares `/dev/shm`.
    pub launcher: Launcher,
    /// `--enable-expert-parallel`: routed experts split whole across the TP ranks instead of
    /// each expert across them. `auto` uses it only where a layout needs it.
    pub expert_parallel: ExpertParallel,
    /// LWS replicas: independent groups, each a full copy of the model.
    #[serde(deserialize_with = "up_to_replicas")]
    pub replicas: Option<u64>,
    /// Sequences of `max_model_len` tokens that must be served at once across all replicas;
    /// the planner adds replicas until they fit.
    #[serde(deserialize_with = "up_to_replicas")]
    pub target_concurrent_sequences: Option<u64>,
    /// The vLLM release to plan for. Unset: the version an official image's tag names (a
    /// deployment resolves that), else the newest lwsplan knows — for the Ray launcher the
    /// newest official image that still ships Ray.
    pub vllm_version: Option<VllmVersion>,
    /// `--max-num-batched-tokens`: tokens in one forward pass, which sizes vLLM's profiling
    /// run. Unset: vLLM's default for the GPU (8192 on GPUs of 70 GiB or more but A100, else
    /// 2048).
    #[serde(deserialize_with = "scheduler_limit")]
    pub max_num_batched_tokens: Option<u64>,
    /// `--max-num-seqs`: sequences per step, which sizes the sampler's warm-up. Unset: vLLM's
    /// default for the GPU (1024 on GPUs of 70 GiB or more but A100, else 256).
    #[serde(deserialize_with = "scheduler_limit")]
    pub max_num_seqs: Option<u64>,
    /// Which layout families to consider.
    pub strategy: Strategy,
    /// A fixed `--data-parallel-size` (DP + EP: MoE models, experts split over TP × DP ranks).
    #[serde(deserialize_with = "up_to_parallel")]
    pub data_parallel_size: Option<u64>,
    /// A fixed `--decode-context-parallel-size` (MLA models: the KV cache split over that many
    /// ranks of each TP group instead of replicated).
    #[serde(deserialize_with = "up_to_parallel")]
    pub decode_context_parallel_size: Option<u64>,
    /// The traffic to estimate throughput and latency for; without it, no estimate.
    pub workload: Option<super::performance::Workload>,
    /// What to optimise among the layouts that fit (throughput and latency need a workload).
    pub objective: Objective,
    /// Layouts whose estimated time per output token exceeds this, ms, rank last.
    pub max_tpot_ms: Option<f64>,
    /// Layouts whose estimated time to first token exceeds this, ms, rank last.
    pub max_ttft_ms: Option<f64>,
    /// Price of one GPU hour: adds the cost per million output tokens to the estimate.
    pub gpu_hour_price: Option<f64>,
    /// What transfers between nodes run over; absent: the hardware profile's `node.network`.
    pub network: Option<crate::profile::Network>,
    /// Speculative decoding with the checkpoint's multi-token-prediction layers, proposing
    /// this many tokens a step (vLLM's `--speculative-config '{"method": "mtp",
    /// "num_speculative_tokens": N}'`). vLLM loads the MTP layers only then, on the last
    /// pipeline stage: their weights and one more layer's KV cache each are counted there.
    #[serde(deserialize_with = "speculative_tokens")]
    pub speculative_mtp: Option<u64>,
}

/// The most speculative tokens a step the planner accepts: far above what MTP drafts well
/// (vLLM's recipes use 1 to 3).
pub const MAX_SPECULATIVE_TOKENS: u64 = 64;

fn speculative_tokens<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    count(d, MAX_SPECULATIVE_TOKENS)
}

/// The most tokens or sequences per step the planner accepts: far above any GPU's useful batch.
pub const MAX_SCHEDULER_LIMIT: u64 = 1 << 20;

/// The highest `--request-rate` accepted, requests per second: far beyond any deployment, low
/// enough that the estimate's arithmetic stays finite.
pub const MAX_REQUEST_RATE: f64 = 1e6;
/// The highest `--gpu-hour-price` accepted: far above any GPU's hourly price, low enough that
/// the cost per million tokens computed from it stays a finite number.
pub const MAX_GPU_HOUR_PRICE: f64 = 1e6;

fn scheduler_limit<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    count(d, MAX_SCHEDULER_LIMIT)
}

/// The largest `--kv-cache-memory-bytes` accepted: 1 PiB, far above any GPU's memory.
pub const MAX_KV_CACHE_MEMORY_BYTES: u64 = 1 << 50;

fn kv_cache_memory<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    count(d, MAX_KV_CACHE_MEMORY_BYTES)
}

/// A file's `gpu_memory_utilization`, checked where it is read so the error has its line.
fn utilization<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let u = f64::deserialize(d)?;
    if !(u > 0.0 && u <= 1.0) {
        return Err(serde::de::Error::custom(format!(
            "gpu_memory_utilization {u} is outside (0, 1]; vLLM's default is 0.9"
        )));
    }
    Ok(u)
}

/// A count in a file, checked where it is read: at least 1, at most `max`.
fn count<'de, D: serde::Deserializer<'de>>(d: D, max: u64) -> Result<Option<u64>, D::Error> {
    let n = Option::<u64>::deserialize(d)?;
    match n {
        Some(v) if !(1..=max).contains(&v) => Err(serde::de::Error::custom(format!(
            "{v} is outside 1..={max}"
        ))),
        n => Ok(n),
    }
}

fn up_to_parallel<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    count(d, MAX_PARALLEL)
}

fn up_to_nodes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    count(d, MAX_NODES)
}

fn up_to_replicas<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    count(d, MAX_REPLICAS)
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            gpu_memory_utilization: DEFAULT_GPU_MEMORY_UTILIZATION,
            kv_cache_memory_bytes: None,
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
            vllm_version: None,
            max_num_batched_tokens: None,
            max_num_seqs: None,
            strategy: Strategy::Auto,
            data_parallel_size: None,
            decode_context_parallel_size: None,
            workload: None,
            objective: Objective::Capacity,
            max_tpot_ms: None,
            max_ttft_ms: None,
            gpu_hour_price: None,
            network: None,
            speculative_mtp: None,
        }
    }
}

impl PlanOptions {
    /// The vLLM release planned for: the option, else the default for the launcher.
    pub fn vllm_version(&self) -> VllmVersion {
        self.vllm_version.unwrap_or(match self.launcher {
            Launcher::Native => version::DEFAULT,
            Launcher::Ray => version::NEWEST_WITH_RAY,
        })
    }

    /// The scheduler limits vLLM runs with on `hardware`: the options, else its defaults.
    pub fn scheduler_limits(&self, hardware: &HardwareProfile) -> SchedulerLimits {
        let defaults = SchedulerLimits::defaults_for(hardware.gpu.memory_bytes, &hardware.name);
        SchedulerLimits {
            max_num_batched_tokens: self
                .max_num_batched_tokens
                .unwrap_or(defaults.max_num_batched_tokens),
            max_num_seqs: self.max_num_seqs.unwrap_or(defaults.max_num_seqs),
        }
    }

    /// vLLM's profiling run on one GPU of a stage of `tp` ranks whose collectives span
    /// `collective_ranks`: the scheduler limits, the release and the length its workspaces are
    /// sized by. Under `auto` that is the model's full context, which `auto` may then cut
    /// (the conservative side: vLLM sizes them by the length it is given).
    pub(crate) fn profiling(
        &self,
        model: &ModelProfile,
        hardware: &HardwareProfile,
        tp: u64,
        collective_ranks: u64,
        spans_nodes: bool,
    ) -> super::reserve::Profiling {
        super::reserve::Profiling {
            limits: self.scheduler_limits(hardware),
            version: self.vllm_version(),
            tensor_parallel_size: tp,
            collective_ranks,
            spans_nodes,
            max_model_len: match self.max_model_len {
                MaxModelLen::Tokens(n) => n,
                MaxModelLen::Auto => model.max_position_embeddings,
            },
            fp8_kv_cache: self.kv_cache_dtype == KvCacheDtype::Fp8,
        }
    }

    /// The multi-token-prediction layers vLLM loads: the checkpoint's, under
    /// `speculative_mtp`; none without it.
    pub fn mtp_layers(&self, model: &ModelProfile) -> u64 {
        if self.speculative_mtp.is_some() {
            model.num_nextn_predict_layers
        } else {
            0
        }
    }

    /// Draft tokens a step under speculative decoding (`num_speculative_tokens`): the MTP
    /// tokens when the model has MTP layers to draft with, else none.
    pub fn speculative_tokens(&self, model: &ModelProfile) -> u64 {
        match self.speculative_mtp {
            Some(tokens) if model.num_nextn_predict_layers > 0 => tokens,
            _ => 0,
        }
    }

    /// Whether the layout is pinned (nodes, TP, PP, DP or DCP given).
    pub fn is_forced(&self) -> bool {
        self.nodes.is_some()
            || self.tensor_parallel_size.is_some()
            || self.pipeline_parallel_size.is_some()
            || self.data_parallel_size.is_some()
            || self.decode_context_parallel_size.is_some()
    }

    /// The same options with the layout left to the planner.
    pub(crate) fn unforced(&self) -> PlanOptions {
        PlanOptions {
            nodes: None,
            tensor_parallel_size: None,
            pipeline_parallel_size: None,
            data_parallel_size: None,
            decode_context_parallel_size: None,
            strategy: Strategy::Auto,
            ..self.clone()
        }
    }

    /// Refuses options out of range for this model, naming the option as the CLI spells it.
    pub(crate) fn check(&self, model: &ModelProfile) -> Result<(), PlanError> {
        let parameters = weights::parameters_wide(model);
        if parameters > weights::MAX_PARAMETERS {
            return Err(PlanError::ModelTooLarge {
                model: model.id.clone(),
                parameters,
            });
        }
        if let Some(bytes) = model.checkpoint_bytes {
            check_checkpoint_size(model, bytes)?;
        }
        let invalid = |option, message| Err(PlanError::InvalidOption { option, message });
        let u = self.gpu_memory_utilization;
        if !(u > 0.0 && u <= 1.0) {
            return invalid(
                OptionName::GpuMemoryUtilization,
                format!("{} is outside (0, 1]; vLLM's default is 0.9", shown(u)),
            );
        }
        let sizes = [
            (OptionName::GpusPerNode, self.gpus_per_node, MAX_PARALLEL),
            (OptionName::Nodes, self.nodes, MAX_PARALLEL),
            (
                OptionName::TensorParallelSize,
                self.tensor_parallel_size,
                MAX_PARALLEL,
            ),
            (
                OptionName::PipelineParallelSize,
                self.pipeline_parallel_size,
                MAX_PARALLEL,
            ),
            (OptionName::Replicas, self.replicas, MAX_REPLICAS),
            (
                OptionName::TargetConcurrentSequences,
                self.target_concurrent_sequences,
                MAX_REPLICAS,
            ),
            (
                OptionName::MaxNumBatchedTokens,
                self.max_num_batched_tokens,
                MAX_SCHEDULER_LIMIT,
            ),
            (
                OptionName::MaxNumSeqs,
                self.max_num_seqs,
                MAX_SCHEDULER_LIMIT,
            ),
            (
                OptionName::SpeculativeMtp,
                self.speculative_mtp,
                MAX_SPECULATIVE_TOKENS,
            ),
            (
                OptionName::DataParallelSize,
                self.data_parallel_size,
                MAX_PARALLEL,
            ),
            (
                OptionName::DecodeContextParallelSize,
                self.decode_context_parallel_size,
                MAX_PARALLEL,
            ),
        ];
        if let Some(bytes) = self.kv_cache_memory_bytes
            && !(1..=MAX_KV_CACHE_MEMORY_BYTES).contains(&bytes)
        {
            return invalid(
                OptionName::KvCacheMemoryBytes,
                format!("{bytes} is outside 1..={MAX_KV_CACHE_MEMORY_BYTES}"),
            );
        }
        for (option, value, max) in sizes {
            if let Some(v) = value
                && !(1..=max).contains(&v)
            {
                return invalid(option, format!("{v} is outside 1..={max}"));
            }
        }
        if self.speculative_mtp.is_some() && model.num_nextn_predict_layers == 0 {
            return invalid(
                crate::OptionName::SpeculativeMtp,
                format!(
                    "{} has no multi-token-prediction layers (num_nextn_predict_layers is 0): \
                     MTP speculative decoding needs a checkpoint that ships them",
                    model.id
                ),
            );
        }
        if let Some(nodes) = self.nodes
            && nodes > MAX_NODES
        {
            return invalid(
                OptionName::Nodes,
                format!("{nodes} is more than the {MAX_NODES} nodes lwsplan plans for"),
            );
        }
        if let Some(w) = self.workload {
            if w.concurrency.is_none() && w.request_rate.is_none() {
                return invalid(
                    OptionName::Concurrency,
                    "a workload needs --concurrency (requests in flight) or --request-rate \
                     (requests per second), or both"
                        .into(),
                );
            }
            if let Some(rate) = w.request_rate
                && !(rate.is_finite() && rate > 0.0 && rate <= MAX_REQUEST_RATE)
            {
                return invalid(
                    OptionName::RequestRate,
                    format!(
                        "{} is outside (0, {MAX_REQUEST_RATE}] requests per second",
                        shown(rate)
                    ),
                );
            }
            for (option, value) in [
                (OptionName::InputTokens, Some(w.input_tokens)),
                (OptionName::OutputTokens, Some(w.output_tokens)),
                (OptionName::Concurrency, w.concurrency),
            ] {
                let Some(value) = value else { continue };
                if !(1..=MAX_SCHEDULER_LIMIT * 16).contains(&value) {
                    return invalid(
                        option,
                        format!("{value} is outside 1..={}", MAX_SCHEDULER_LIMIT * 16),
                    );
                }
            }
        } else if self.objective != Objective::Capacity
            || self.max_tpot_ms.is_some()
            || self.max_ttft_ms.is_some()
        {
            return invalid(
                OptionName::Objective,
                "throughput, latency and the --max-tpot-ms / --max-ttft-ms limits need a workload: \
                 give --input-tokens, --output-tokens and --concurrency or --request-rate"
                    .into(),
            );
        }
        for (option, value) in [
            (OptionName::MaxTpotMs, self.max_tpot_ms),
            (OptionName::MaxTtftMs, self.max_ttft_ms),
            (OptionName::GpuHourPrice, self.gpu_hour_price),
        ] {
            if let Some(v) = value
                && !(v.is_finite() && v > 0.0)
            {
                return invalid(option, format!("{} is not a positive number", shown(v)));
            }
        }
        if let Some(price) = self.gpu_hour_price
            && price > MAX_GPU_HOUR_PRICE
        {
            return invalid(
                crate::OptionName::GpuHourPrice,
                format!(
                    "{} is more than {MAX_GPU_HOUR_PRICE} per GPU hour, the most lwsplan prices",
                    shown(price)
                ),
            );
        }
        if let Some(w) = self.workload {
            self.check_request_length(model, w.input_tokens + w.output_tokens)?;
        }
        if self.replicas.is_some() && self.target_concurrent_sequences.is_some() {
            return invalid(
                OptionName::Replicas,
                "give --replicas or --target-concurrent-sequences, not both".into(),
            );
        }
        if self.vllm_version() < version::OLDEST {
            return invalid(
                OptionName::VllmVersion,
                format!(
                    "{} is older than {}, the oldest release lwsplan models (vLLM's V1 engine)",
                    self.vllm_version(),
                    version::OLDEST
                ),
            );
        }
        if self.kv_cache_memory_bytes.is_some()
            && !version::KV_CACHE_MEMORY_BYTES.in_version(self.vllm_version())
        {
            return invalid(
                OptionName::KvCacheMemoryBytes,
                version::KV_CACHE_MEMORY_BYTES.missing(self.vllm_version()),
            );
        }
        if self.max_model_len == MaxModelLen::Tokens(0) {
            return invalid(
                OptionName::MaxModelLen,
                "0 tokens serves no request; give a positive number of tokens, or `auto`".into(),
            );
        }
        if let MaxModelLen::Tokens(n) = self.max_model_len
            && n > model.max_position_embeddings
        {
            return Err(PlanError::MaxModelLenTooLong {
                requested: n,
                max_position_embeddings: model.max_position_embeddings,
                model: model.id.clone(),
            });
        }
        Ok(())
    }

    /// A workload's request (prompt plus output) must fit the context: vLLM rejects a request
    /// longer than `max_model_len` outright (`vllm/v1/engine/processor.py`,
    /// `_validate_model_input`: "The decoder prompt … is longer than the maximum model
    /// length"), so such a workload is served at no rate at all.
    fn check_request_length(&self, model: &ModelProfile, request: u64) -> Result<(), PlanError> {
        let (limit, what) = match self.max_model_len {
            MaxModelLen::Tokens(n) => (n, format!("--max-model-len {n}")),
            _ => (
                model.max_position_embeddings,
                format!(
                    "{}'s context, max_position_embeddings {}",
                    model.id, model.max_position_embeddings
                ),
            ),
        };
        if request > limit {
            return Err(PlanError::InvalidOption {
                option: crate::OptionName::InputTokens,
                message: format!(
                    "a request of {request} tokens (--input-tokens plus --output-tokens) is longer \
                     than {what}; vLLM rejects every such request: shorten the workload{}",
                    if matches!(self.max_model_len, MaxModelLen::Tokens(_))
                        && request <= model.max_position_embeddings
                    {
                        format!(" or raise --max-model-len to at least {request}")
                    } else {
                        String::new()
                    }
                ),
            });
        }
        Ok(())
    }
}

/// A number as an error message shows it: whole, or in scientific notation when long (`1e308`
/// rather than 309 digits).
pub(crate) fn shown(v: f64) -> String {
    let plain = v.to_string();
    if plain.len() <= 24 {
        plain
    } else {
        format!("{v:e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Plan, PlanError, Planner};
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
            shared_expert_gate: false,
            routed_expert_hidden_size: None,
            moe_layer_step: 1,
            shared_expert_intermediate_size: None,
            moe_latent_size: None,
            num_hash_layers: 0,
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
            output_gate: false,
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
                    option: OptionName::GpuMemoryUtilization,
                    ..
                }
            ));
        }
    }
}
