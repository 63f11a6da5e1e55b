//! vLLM releases: the one table of what each does that changes a plan or a manifest.
//!
//! A plan is made for one release (`--vllm-version`, or the version an official image's tag
//! names, or the default): its memory behaviour decides the numbers, its flags what is
//! rendered, and a plan that needs what the release lacks is refused. Every entry cites its
//! source; an entry whose first release is an estimate from a merge date says so.

use std::fmt;

use crate::error::base::ValueError;

/// A vLLM release, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VllmVersion(pub u32, pub u32, pub u32);

impl fmt::Display for VllmVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

impl std::str::FromStr for VllmVersion {
    type Err = ValueError;
    /// `0.28.0`, `v0.28.0`, or a pre-release such as `v0.28.0rc1` (taken as its release).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ValueError::new(s, "not a vLLM version such as 0.28.0");
        let digits = s.strip_prefix('v').unwrap_or(s);
        let mut parts = digits.splitn(3, '.');
        let mut number = |required: bool| -> Result<u32, ValueError> {
            match parts.next() {
                Some(p) => {
                    let end = p.find(|c: char| !c.is_ascii_digit()).unwrap_or(p.len());
                    p[..end].parse().map_err(|_| bad())
                }
                None if required => Err(bad()),
                None => Ok(0),
            }
        };
        Ok(VllmVersion(number(true)?, number(true)?, number(false)?))
    }
}

impl serde::Serialize for VllmVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for VllmVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::units::from_str_or_number(d, "a vLLM version such as 0.28.0")
    }
}

impl schemars::JsonSchema for VllmVersion {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "VllmVersion".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A vLLM release, e.g. 0.28.0",
            "type": "string",
            "pattern": "^v?[0-9]+\\.[0-9]+(\\.[0-9]+)?"
        })
    }
}

/// The oldest release lwsplan models: V1-engine memory accounting throughout.
pub const OLDEST: VllmVersion = VllmVersion(0, 10, 0);

/// The default: the newest release whose flags and memory behaviour lwsplan knows from public
/// logs (`tests/fixtures/vllm-logs/`), and the version the LWS project's own multi-node
/// example pins (kubernetes-sigs/lws PR #1021). Newer releases exist (0.30.0 by 2026-09,
/// AMD-AGI/TraceLens issue #1055); they plan with this one's behaviour and a note saying so,
/// until logs of theirs join the development set.
pub const DEFAULT: VllmVersion = VllmVersion(0, 28, 0);

/// Official images ship Ray until v0.17.1: vLLM dropped it from the image's dependencies in
/// v0.18.0 (vllm-project/production-stack PR #1056 pins v0.17.1 as "the last tag that includes
/// it"; gpustack/runner PR #178 repairs Ray "after vLLM v0.18.0"; kubernetes-sigs/lws issue
/// #835 says v0.19.0 — the earlier, conservative, release is taken).
pub const NEWEST_WITH_RAY: VllmVersion = VllmVersion(0, 17, 1);

/// The first official image without Ray.
pub const RAY_LEFT_THE_IMAGE: VllmVersion = VllmVersion(0, 18, 0);

/// A feature lwsplan renders or plans with, and the first release that has it.
#[derive(Debug, Clone, Copy)]
pub struct Feature {
    /// What it is, for messages.
    pub what: &'static str,
    /// The first vLLM release with it.
    pub since: VllmVersion,
    /// Where that comes from.
    pub source: &'static str,
    /// Whether `since` is confirmed by the source (else an estimate from the merge date).
    pub verified: bool,
}

/// `vllm serve --nnodes/--node-rank/--master-addr` and `--headless`: multi-node without Ray.
/// Merged in November 2025; v0.12.0 is the first release after the merge (unverified).
pub const NATIVE_MULTI_NODE: Feature = Feature {
    what: "native multi-node serving (--nnodes, --node-rank, --master-addr, --headless)",
    since: VllmVersion(0, 12, 0),
    source: "vllm-project/vllm PR #23691",
    verified: false,
};

/// `--enable-expert-parallel` (unverified: present in the v0.8 series).
pub const EXPERT_PARALLEL: Feature = Feature {
    what: "--enable-expert-parallel",
    since: VllmVersion(0, 8, 0),
    source: "vllm-project/vllm docs/serving/data_parallel_deployment.md",
    verified: false,
};

/// `VLLM_ENGINE_READY_TIMEOUT_S`, how long the API server waits for the engine (unverified
/// release; older versions ignore the variable, so leaving it out only loses the longer wait).
pub const ENGINE_READY_TIMEOUT: Feature = Feature {
    what: "VLLM_ENGINE_READY_TIMEOUT_S",
    since: VllmVersion(0, 17, 0),
    source: "vllm-project/vllm PR #35616",
    verified: false,
};

/// `--decode-context-parallel-size` for MLA models (vllm PR #23734, merged September 2025;
/// v0.11.0 is the first release after it, unverified).
pub const DECODE_CONTEXT_PARALLEL: Feature = Feature {
    what: "decode context parallelism (--decode-context-parallel-size)",
    since: VllmVersion(0, 11, 0),
    source: "vllm-project/vllm PR #23734",
    verified: false,
};

/// Multi-node data parallelism without Ray: `--data-parallel-size-local`,
/// `--data-parallel-start-rank`, `--data-parallel-address`, `--data-parallel-rpc-port` and
/// `--headless` (vLLM `docs/serving/data_parallel_deployment.md`; V1 engine, before v0.10 —
/// always present in the releases lwsplan models).
pub const MULTI_NODE_DATA_PARALLEL: Feature = Feature {
    what: "multi-node data parallelism (--data-parallel-size-local, --data-parallel-start-rank, --headless)",
    since: VllmVersion(0, 9, 0),
    source: "vllm-project/vllm docs/serving/data_parallel_deployment.md",
    verified: false,
};

/// CUDA-graph memory measured during profiling and taken out of the KV budget
/// (`VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=1` by default). Before it, graphs were captured
/// after the KV cache was allocated, out of the `1 − gpu_memory_utilization` headroom. The
/// release is confirmed by vLLM's own log line: "CUDA graph memory profiling is enabled
/// (default since v0.21.0)" (vllm PR #30515; logs in gpustack/runner PR #251).
pub const CUDA_GRAPH_PROFILING: Feature = Feature {
    what: "CUDA graph memory profiling",
    since: VllmVersion(0, 21, 0),
    source: "vllm-project/vllm PR #30515",
    verified: true,
};

/// Linear-attention (Mamba-style) state kept for prefix caching (`mamba_cache_mode = 'align'`):
/// two state pages per sequence and layer instead of one. vLLM 0.33.0 logs "Mamba cache mode
/// is set to 'align' for Qwen3_5MoeForConditionalGeneration by default when prefix caching is
/// enabled" (`vllm/model_executor/models/config.py`; seen running lwsplan's render through
/// vLLM 0.33.0's own config, tools/vllm_accepts.py, 2026-12-07); vLLM 0.19.0 still ran Qwen3.5
/// with one page (the log of vllm-project/vllm#40691, reproduced token for token). The release
/// in between that switched is unknown: every release after 0.19 is planned with two pages,
/// the conservative side.
pub const MAMBA_ALIGN_CACHE: Feature = Feature {
    what: "linear-attention state kept for prefix caching (mamba_cache_mode 'align')",
    since: VllmVersion(0, 20, 0),
    source: "vLLM 0.33.0's config log; vllm-project/vllm#40691 for 0.19.0",
    verified: false,
};

/// `--kv-cache-memory-bytes`: the KV cache's size per GPU, instead of what
/// `gpu_memory_utilization` leaves (vllm PR #21489, merged in the summer of 2025; v0.11.0 is
/// the first release lwsplan is sure of, unverified: the flag may be older).
pub const KV_CACHE_MEMORY_BYTES: Feature = Feature {
    what: "--kv-cache-memory-bytes",
    since: VllmVersion(0, 11, 0),
    source: "vllm-project/vllm PR #21489",
    verified: false,
};

/// Sliding-window and chunked-local caches reserve blocks for every batch still in flight, not
/// one: `SlidingWindowSpec.max_admission_blocks_per_request` holds the last `sliding_window - 1`
/// tokens plus `VllmConfig.max_in_flight_tokens`, `max_concurrent_batches ×
/// max_num_batched_tokens` (vLLM 0.33.0, `vllm/v1/kv_cache_interface.py`, `vllm/config/vllm.py`),
/// because out-of-window blocks are freed only once a step's tokens are processed (vllm PR
/// #47728, merged 2026-07-06). Before it a window held one batch. v0.24.0 was already out when
/// the PR merged (noonghunna/club-3090#612 runs it on 07-06), and the DeepSeek-V4 run of
/// vllm-project/vllm#51041 on 0.26.0 holds two batches, so the release is 0.25.0 or 0.26.0;
/// the earlier is taken, the conservative side.
pub const WINDOW_IN_FLIGHT_RESERVE: Feature = Feature {
    what: "sliding windows reserving every batch in flight (max_in_flight_tokens)",
    since: VllmVersion(0, 25, 0),
    source: "vllm-project/vllm PR #47728",
    verified: false,
};

/// The sparse-MLA kernel told how many of a token's top-k slots are filled (`topk_length`), so
/// its work follows min(position, top-k) rather than every slot: vLLM v0.24.0's
/// `flashmla_sparse.py` passes the counts `triton_convert_req_index_to_global_index` returns,
/// v0.23.0's calls `flash_mla_sparse_fwd(q, kv, topk_indices, scale)` without them (read in
/// both releases' source).
pub const SPARSE_MLA_TOPK_LENGTH: Feature = Feature {
    what: "the sparse-MLA kernel skipping unfilled top-k slots (topk_length)",
    since: VllmVersion(0, 24, 0),
    source: "vllm-project/vllm v0.24.0 vllm/v1/attention/backends/mla/flashmla_sparse.py",
    verified: true,
};

/// DeepSeek-V4 (`DeepseekV4ForCausalLM`, `vllm/models/deepseek_v4/`): the recipes name vLLM
/// 0.20.0 the first release that serves it (`min_vllm_version`, vllm-project/recipes
/// `models/deepseek-ai/DeepSeek-V4-Flash.yaml`; not checked against the release notes).
pub const DEEPSEEK_V4: Feature = Feature {
    what: "DeepSeek-V4 (DeepseekV4ForCausalLM)",
    since: VllmVersion(0, 20, 0),
    source: "vllm-project/recipes models/deepseek-ai/DeepSeek-V4-Flash.yaml",
    verified: false,
};

/// The scheduler limits vLLM sizes its profiling run by when the flags leave them unset
/// (`EngineArgs.get_batch_defaults`, `vllm/engine/arg_utils.py`, since vllm PR #17885, before
/// v0.10): for the OpenAI server on a GPU of at least 70 GiB whose name does not contain
/// "a100", 8192 batched tokens and 1024 sequences; on every other GPU 2048 and 256. The H100
/// logs of llm-d-incubation/llm-d-planner (v0.19.0) print "Defaulting max_num_batched_tokens to
/// 8192" and "Defaulting max_num_seqs to 1024".
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct SchedulerLimits {
    /// `--max-num-batched-tokens`: tokens in one forward pass, the profiling run's size.
    pub max_num_batched_tokens: u64,
    /// `--max-num-seqs`: sequences in one step, the sampler's warm-up batch.
    pub max_num_seqs: u64,
}

impl SchedulerLimits {
    /// vLLM's defaults on a GPU with `memory_bytes` of memory named `name`.
    pub fn defaults_for(memory_bytes: u64, name: &str) -> SchedulerLimits {
        const LARGE_GPU: u64 = 70 << 30;
        if memory_bytes >= LARGE_GPU && !name.to_ascii_lowercase().contains("a100") {
            SchedulerLimits {
                max_num_batched_tokens: 8192,
                max_num_seqs: 1024,
            }
        } else {
            SchedulerLimits {
                max_num_batched_tokens: 2048,
                max_num_seqs: 256,
            }
        }
    }

    /// Requests in the sampler's warm-up: one per sequence, at most one per batched token
    /// (`_dummy_run` makes `min(max_num_seqs, num_tokens)` requests).
    pub fn sampler_requests(&self) -> u64 {
        self.max_num_seqs.min(self.max_num_batched_tokens)
    }
}

/// The sampler's peak during profiling, in fp32 logits matrices of `requests × vocabulary`
/// (per mille). Fitted to the torch peak vLLM logs where the sampler outweighs the forward
/// pass; every figure is the source's, divided by `1024 × vocab × 4` bytes:
/// - before v0.17: 9.73 (Qwen3-14B, v0.15.0 and v0.16.0: 5.64 GiB; llm-d-incubation/llm-d-planner
///   `accuracy/results/version-sweep`), 9.6–9.7 (Llama-3.1-8B 4.76 GiB, Qwen3-0.6B 5.56 GiB,
///   gpt-oss-20b 7.38 GiB; llm-d/llm-d-benchmark `config_explorer/empirical-vllm-memory-results.md`).
///   9.8 is taken, the top of that range.
/// - from v0.17: 3.85 (Qwen3-14B v0.17.0 and v0.18.0: 2.23 GiB), 3.71–3.86 (v0.19.0: Llama-3.1-8B
///   1.89 GiB, Qwen2.5-7B 2.21 GiB, Gemma 2 3.62 GiB; llm-d-planner `accuracy/results/v0.19.0`).
///   3.9 is taken.
///
/// The v0.17 drop is dated by the version sweep (v0.16.0 → v0.17.0); its cause in vLLM's
/// sampler is not identified (unverified).
pub fn sampler_peak_per_mille(version: VllmVersion) -> u64 {
    if version >= VllmVersion(0, 17, 0) {
        3900
    } else {
        9800
    }
}

/// Memory outside PyTorch's allocator that vLLM counts against the budget (its "non-torch"
/// term: CUDA context, cuBLAS workspaces, NCCL communicators, custom all-reduce buffers), per GPU.
/// Measured on H100 (the figures are the sources'):
/// - one GPU: 0.13 GiB up to v0.17 (llm-d-benchmark; llm-d-planner version sweep v0.15–v0.17),
///   0.24–0.27 GiB from v0.18 (llm-d-planner v0.18.0, v0.19.0);
/// - TP > 1: 0.55 GiB at TP2 before v0.18 (llm-d-benchmark, Llama-3.3-70B FP8), 2.06–2.21 GiB at
///   TP 2 and 4 from v0.18 (llm-d-planner v0.19.0: symmetric-memory all-reduce buffers);
/// - PP > 1 without TP: 0.07 GiB (v0.19.0).
///
/// Each is rounded up: 0.15 / 0.3 GiB for one GPU, 0.6 / 2.3 GiB with TP. Where the release
/// between v0.17 and v0.18 moved the TP figure is not measured: v0.18 is assumed (unverified).
pub fn non_torch_bytes(version: VllmVersion, tensor_parallel: bool) -> u64 {
    const MIB: u64 = 1 << 20;
    match (version >= VllmVersion(0, 18, 0), tensor_parallel) {
        (false, false) => 154 * MIB,
        (false, true) => 615 * MIB,
        (true, false) => 308 * MIB,
        (true, true) => 2356 * MIB,
    }
}

impl Feature {
    /// Whether `version` has this feature.
    pub fn in_version(&self, version: VllmVersion) -> bool {
        version >= self.since
    }

    /// Why `version` cannot serve a plan that needs this feature.
    pub fn missing(&self, version: VllmVersion) -> String {
        format!(
            "vLLM {version} has no {} (first in {}{}; {}): use a newer image or --vllm-version",
            self.what,
            self.since,
            if self.verified { "" } else { ", unverified" },
            self.source
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        assert_eq!("v0.28.0".parse(), Ok(VllmVersion(0, 28, 0)));
        assert_eq!("0.12.0rc1".parse(), Ok(VllmVersion(0, 12, 0)));
        assert!("0.x".parse::<VllmVersion>().is_err());
        assert_eq!("v1.2".parse::<VllmVersion>(), Ok(VllmVersion(1, 2, 0)));
    }

    #[test]
    fn features_start_at_their_release() {
        assert!(!NATIVE_MULTI_NODE.in_version(VllmVersion(0, 11, 0)));
        assert!(NATIVE_MULTI_NODE.in_version(VllmVersion(0, 28, 0)));
        assert!(!CUDA_GRAPH_PROFILING.in_version(VllmVersion(0, 20, 2)));
        assert!(CUDA_GRAPH_PROFILING.in_version(VllmVersion(0, 21, 0)));
        assert!(NEWEST_WITH_RAY < RAY_LEFT_THE_IMAGE && RAY_LEFT_THE_IMAGE <= DEFAULT);
    }
}
