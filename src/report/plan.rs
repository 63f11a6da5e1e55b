//! The human view of a [`Plan`]: a table with memory bars. A view only: every number printed
//! here is a field of the plan.

use std::fmt::Write;

use crate::plan::{MaxModelLenSource, Plan, Verdict};
use crate::units::gib;

/// Characters in a memory bar; the whole bar is the GPU's CUDA-reported memory.
const BAR: u64 = 40;

/// `n` and the noun, singular for one: "1 GPU", "2 GPUs".
pub(crate) fn count(n: u64, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}

impl Plan {
    /// The one-line summary `plan` and `render` both print: the model on the group's pods,
    /// each pod's GPUs, e.g. `deepseek-r1 (deepseek-ai/DeepSeek-R1) on 2 pods × 8 NVIDIA H100
    /// 80GB HBM3 (h100-80gb)`.
    pub fn headline(&self) -> String {
        format!(
            "{} ({}) on {} × {} {} ({})",
            self.model,
            self.model_repo,
            count(self.layout.nodes, "pod", "pods"),
            self.layout.gpus_per_pod,
            self.gpu_name,
            self.hardware
        )
    }

    /// Renders the plan as a readable table.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        self.write_table(&mut out)
            .expect("writing to a String cannot fail");
        out
    }

    fn write_table(&self, out: &mut String) -> std::fmt::Result {
        writeln!(out, "{}", self.headline())?;
        writeln!(out)?;
        let nodes = if self.layout.nodes == 1 {
            "node"
        } else {
            "nodes"
        };
        writeln!(out, "  vLLM          {}", self.vllm_version)?;
        writeln!(
            out,
            "  layout        {} = {} on {} {nodes} (LWS size {}), {} per pod{}",
            self.layout().shape(),
            count(self.total_gpus, "GPU", "GPUs"),
            self.layout.nodes,
            self.layout.nodes,
            count(self.layout.gpus_per_pod, "GPU", "GPUs"),
            if self.expert_parallel {
                ", expert parallel"
            } else {
                ""
            }
        )?;
        writeln!(
            out,
            "  weights       {:.2} B parameters, {} in the checkpoint",
            self.parameters as f64 / 1e9,
            gib(self.weight_bytes)
        )?;
        match self.kv_cache_memory_bytes {
            Some(kv) => writeln!(
                out,
                "  budget        {} per GPU ({} less vLLM's headroom), the KV cache fixed at {} \
                 (--kv-cache-memory-bytes {kv}; vLLM ignores --gpu-memory-utilization)",
                gib(self.budget_bytes_per_gpu),
                gib(self.gpu_memory_bytes),
                gib(kv)
            )?,
            None => writeln!(
                out,
                "  budget        {} per GPU ({} × {})",
                gib(self.budget_bytes_per_gpu),
                self.gpu_memory_utilization,
                gib(self.gpu_memory_bytes)
            )?,
        }
        writeln!(
            out,
            "  KV cache      {} tokens: {} blocks of {}, {} B per token per GPU (--kv-cache-dtype {})",
            self.kv_cache_tokens,
            self.kv_cache_blocks,
            self.block_size,
            self.kv_cache_bytes_per_token,
            self.kv_cache_dtype.as_str()
        )?;
        if self.kv_cache_bytes_per_sequence > 0 {
            // DeepSeek-V4's per-sequence bytes are its sliding windows and compressor states,
            // which vLLM reserves for every batch in flight, not one step: say what a sequence
            // reserves from the pool instead.
            let windowed = self
                .stages
                .iter()
                .flat_map(|s| &s.kv_cache_groups)
                .any(|g| g.kind == crate::plan::CacheKind::SlidingWindowMla);
            if windowed {
                let pool = self
                    .stages
                    .iter()
                    .map(|s| s.kv_cache_bytes_per_gpu)
                    .max()
                    .unwrap_or(0);
                writeln!(
                    out,
                    "                and {} B of sliding-window and compressor state per decoding \
                     sequence per GPU (the batches in flight reserve more): a {}-token \
                     sequence reserves about {} per GPU",
                    self.kv_cache_bytes_per_sequence,
                    self.max_model_len,
                    gib((pool as f64 / self.max_concurrency.max(0.01)) as u64)
                )?;
            } else {
                writeln!(
                    out,
                    "                and {} B of linear-attention state per sequence per GPU, whatever its \
                     length: a {}-token sequence takes {} per GPU",
                    self.kv_cache_bytes_per_sequence,
                    self.max_model_len,
                    gib(self.kv_cache_bytes_per_sequence.saturating_add(
                        self.max_model_len
                            .saturating_mul(self.kv_cache_bytes_per_token)
                    ))
                )?;
            }
        }
        if self.layout.data_parallel_size > 1 {
            writeln!(
                out,
                "                per engine; {} engines hold {} tokens in the group",
                self.layout.data_parallel_size, self.group_kv_cache_tokens
            )?;
        }
        let why = match self.max_model_len_source {
            MaxModelLenSource::Requested => "requested",
            MaxModelLenSource::FullContext => "the model's full context",
            MaxModelLenSource::LongestThatFits => "the longest that fits",
        };
        writeln!(
            out,
            "  max length    {} tokens ({why}); {:.2} such sequences fit at once",
            self.max_model_len, self.max_concurrency
        )?;
        if self.replicas > 1 {
            writeln!(
                out,
                "  replicas      {} groups of {}, {:.2} such sequences at once in all",
                self.replicas,
                count(self.layout.nodes, "pod", "pods"),
                self.total_concurrency
            )?;
        }
        if let Some(p) = &self.performance {
            writeln!(
                out,
                "  estimate      {:.0} output tokens/s ({:.0} per GPU), {} ms per output token, {} ms to \
                 the first, {} requests in flight, {} sequences per engine; decode step {}-bound: \
                 HBM {} ms, compute {} ms, interconnect {} ms, network {} ms, overhead {} ms{}{}",
                p.output_tokens_per_s,
                p.output_tokens_per_s_per_gpu,
                p.tpot_ms,
                p.ttft_ms,
                p.concurrency,
                p.batch_per_engine,
                match p.bound {
                    crate::plan::Bound::Hbm => "HBM",
                    crate::plan::Bound::Compute => "compute",
                    crate::plan::Bound::Interconnect => "interconnect",
                    crate::plan::Bound::Network => "network",
                    crate::plan::Bound::Overhead => "overhead",
                },
                p.decode_step.hbm_ms,
                p.decode_step.compute_ms,
                p.decode_step.interconnect_ms,
                p.decode_step.network_ms,
                p.decode_step.overhead_ms,
                // Attention between the GEMMs and compute-bound prompt-chunk steps add to the
                // overlapped HBM and compute.
                if p.decode_step.unoverlapped_ms > 0.0 {
                    format!(", not overlapped {} ms", p.decode_step.unoverlapped_ms)
                } else {
                    String::new()
                },
                p.cost_per_million_output_tokens
                    .map(|c| format!("; {c} per million output tokens"))
                    .unwrap_or_default()
            )?;
            let r = &p.range;
            writeln!(
                out,
                "  likely range  {:.0}-{:.0} output tokens/s per GPU, {}-{} ms per output token, \
                 {}-{} ms to the first (where published benchmarks fall around the estimate)",
                r.output_tokens_per_s_per_gpu[0],
                r.output_tokens_per_s_per_gpu[1],
                r.tpot_ms[0],
                r.tpot_ms[1],
                r.ttft_ms[0],
                r.ttft_ms[1],
            )?;
        }
        writeln!(
            out,
            "  /dev/shm      {} per pod (NCCL {} + vLLM queues {} + Ray {}, +30 %{})",
            gib(self.shm_size_bytes),
            gib(self.shm.nccl_bytes),
            gib(self.shm.message_queue_bytes),
            gib(self.shm.ray_object_store_bytes),
            if self.shm.capped {
                ", capped at a quarter of the node"
            } else {
                ""
            }
        )?;
        writeln!(out)?;
        writeln!(
            out,
            "  memory per GPU  # weights  = reserve  ~ KV cache  . outside the budget"
        )?;
        for stage in &self.stages {
            writeln!(
                out,
                "  stage {:<2} layers {:>3}-{:<3} [{}]",
                stage.index,
                stage.first_layer,
                stage.first_layer + stage.layers - 1,
                self.bar(
                    stage.weight_bytes_per_gpu,
                    stage.reserve.total(),
                    stage.kv_cache_bytes_per_gpu
                )
            )?;
            let state = match stage.kv_cache_bytes_per_sequence {
                0 => String::new(),
                bytes => format!(", {bytes} B/sequence"),
            };
            writeln!(
                out,
                "                          weights {}  reserve {} ±{:.2}  KV {} ({} B/token{state})",
                gib(stage.weight_bytes_per_gpu),
                gib(stage.reserve.total()),
                stage.reserve.band_bytes as f64 / (1u64 << 30) as f64,
                gib(stage.kv_cache_bytes_per_gpu),
                stage.kv_cache_bytes_per_token
            )?;
        }
        if !self.alternatives.is_empty() {
            writeln!(out)?;
            writeln!(out, "  alternatives")?;
            for alt in &self.alternatives {
                let verdict = match alt.verdict {
                    Verdict::Chosen => "chosen  ",
                    Verdict::Fits => "fits    ",
                    Verdict::Rejected => "rejected",
                };
                let mut tokens = alt
                    .kv_cache_tokens
                    .map(|t| format!("{t} tokens"))
                    .unwrap_or_default();
                if let Some(p) = &alt.performance {
                    let r = &p.range;
                    tokens += &format!(
                        ", {:.0} tok/s/GPU ({:.0}-{:.0}), TPOT {} ms ({}-{})",
                        p.output_tokens_per_s_per_gpu,
                        r.output_tokens_per_s_per_gpu[0],
                        r.output_tokens_per_s_per_gpu[1],
                        p.tpot_ms,
                        r.tpot_ms[0],
                        r.tpot_ms[1]
                    );
                }
                let l = alt.layout;
                let shape = match l.data_parallel_size {
                    1 => format!(
                        "TP {:>2} × PP {:>2}",
                        l.tensor_parallel_size, l.pipeline_parallel_size
                    ),
                    dp => format!("TP {:>2} × DP {dp:>2}", l.tensor_parallel_size),
                };
                let dcp = match l.decode_context_parallel_size {
                    1 => String::new(),
                    dcp => format!(", DCP {dcp}"),
                };
                write!(
                    out,
                    "  {verdict} {shape}{dcp}  {:>2} node(s) × {} GPUs  {tokens}",
                    l.nodes, l.gpus_per_pod
                )?;
                if !alt.reason.is_empty() {
                    write!(out, "  {}", alt.reason)?;
                }
                writeln!(out)?;
            }
        }
        if !self.notes.is_empty() {
            writeln!(out)?;
            writeln!(out, "  notes")?;
            for note in &self.notes {
                writeln!(out, "  - {note}")?;
            }
        }
        Ok(())
    }

    fn bar(&self, weights: u64, reserve: u64, kv: u64) -> String {
        let total = self.gpu_memory_bytes.max(1);
        let cells = |bytes: u64| (bytes.saturating_mul(BAR) / total) as usize;
        let (w, r, k) = (cells(weights), cells(reserve), cells(kv));
        let budget = cells(self.budget_bytes_per_gpu);
        let free = budget.saturating_sub(w + r + k);
        let outside = (BAR as usize).saturating_sub(w + r + k + free);
        format!(
            "{}{}{}{}{}",
            "#".repeat(w),
            "=".repeat(r),
            "~".repeat(k),
            " ".repeat(free),
            ".".repeat(outside)
        )
    }
}
