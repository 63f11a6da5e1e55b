//! Predicted against measured: lwsplan's start-up figures for a layout ([`Startup`]) next to
//! what a vLLM log reports ([`StartupLog`]), with the difference, whether it is within the
//! tolerance lwsplan holds itself to, and which term of the memory model explains it.
//!
//! Tolerances: the weights within 3 %, the available KV memory within 5 % or 1 GiB, the KV
//! capacity in tokens within 5 %. The reserve's terms are shown where the log breaks them down
//! but judged only through the available KV memory they decide.

use std::fmt::Write as _;

use serde::Serialize;

use super::startup_log::StartupLog;
use crate::plan::{KvCacheDtype, MaxModelLen, PlanOptions, Startup, VllmVersion};

const GIB: f64 = (1u64 << 30) as f64;
/// Logs print GiB with two decimals: a difference below this is rounding.
const LOG_PRECISION_GIB: f64 = 0.005;

/// How close a prediction must be.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Tolerance {
    /// Weights per GPU, percent.
    pub weights_percent: f64,
    /// Available KV memory, percent…
    pub kv_memory_percent: f64,
    /// …or GiB, whichever is larger.
    pub kv_memory_gib: f64,
    /// KV capacity in tokens, percent.
    pub kv_tokens_percent: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance {
            weights_percent: 3.0,
            kv_memory_percent: 5.0,
            kv_memory_gib: 1.0,
            kv_tokens_percent: 5.0,
        }
    }
}

/// One quantity, predicted and measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Row {
    /// What it is, in vLLM's words.
    pub quantity: &'static str,
    /// GiB or tokens.
    pub unit: &'static str,
    /// lwsplan's figure.
    pub predicted: f64,
    /// The log's figure, when it reports one.
    pub measured: Option<f64>,
    /// `Some(within)` for the quantities judged, `None` for those shown only.
    pub within: Option<bool>,
}

impl Row {
    /// predicted − measured.
    pub fn difference(&self) -> Option<f64> {
        self.measured.map(|m| self.predicted - m)
    }
}

/// Every quantity of one log, and the verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Comparison {
    /// The rows, in the order vLLM logs them.
    pub rows: Vec<Row>,
    /// Whether every judged quantity the log reports is within tolerance.
    pub within: bool,
    /// Which term explains the available-KV difference, when there is one worth naming.
    pub explanation: Option<String>,
    /// vLLM's failure, when start-up failed.
    pub failure: Option<String>,
}

/// Compares a prediction with a log, whose figures are the tightest stage's (as a whole log's
/// are: the least KV memory over the workers).
pub fn compare(startup: &Startup, log: &StartupLog, tolerance: Tolerance) -> Comparison {
    compare_stage(startup, log, tolerance, None)
}

/// Compares a prediction with figures from one pipeline stage's worker (`None`: the tightest).
pub fn compare_stage(
    startup: &Startup,
    log: &StartupLog,
    tolerance: Tolerance,
    stage: Option<u64>,
) -> Comparison {
    let gib = |bytes: u64| bytes as f64 / GIB;
    let tight = stage
        .and_then(|i| startup.stages.iter().find(|s| s.index == i))
        .unwrap_or_else(|| startup.tightest_stage());
    let last = match stage {
        Some(_) => tight,
        None => startup.stages.last().expect("PP ≥ 1"),
    };
    let budget = gib(startup.budget_bytes_per_gpu);
    let weights = match stage {
        Some(_) => gib(tight.weight_bytes_per_gpu),
        None => gib(startup.max_weight_bytes_per_gpu()),
    };
    let available = tight.available_kv_cache_bytes_per_gpu as f64 / GIB;
    let mut rows = Vec::new();
    let measured_budget = log
        .total_memory_gib
        .zip(log.gpu_memory_utilization.or(Some(0.9)))
        .map(|(t, u)| t * u);
    rows.push(Row {
        quantity: "budget (utilization × memory)",
        unit: "GiB",
        predicted: budget,
        measured: measured_budget,
        within: None,
    });
    rows.push(Row {
        quantity: "Model loading took",
        unit: "GiB",
        predicted: weights,
        measured: log.model_loading_gib,
        within: log.model_loading_gib.map(|m| {
            (weights - m).abs() <= m.abs() * tolerance.weights_percent / 100.0 + LOG_PRECISION_GIB
        }),
    });
    rows.push(Row {
        quantity: "torch peak (activations)",
        unit: "GiB",
        predicted: gib(last.reserve.activation_bytes),
        measured: log.torch_peak_gib,
        within: None,
    });
    rows.push(Row {
        quantity: "non-torch memory",
        unit: "GiB",
        predicted: gib(last.reserve.non_torch_bytes),
        measured: log.non_torch_gib,
        within: None,
    });
    if last.reserve.cuda_graph_bytes > 0 {
        rows.push(Row {
            quantity: "CUDA graphs (in the budget)",
            unit: "GiB",
            predicted: gib(last.reserve.cuda_graph_bytes),
            measured: log.cuda_graph_gib,
            within: None,
        });
    }
    rows.push(Row {
        quantity: "Available KV cache memory",
        unit: "GiB",
        predicted: available,
        measured: log.available_kv_cache_gib,
        within: log.available_kv_cache_gib.map(|m| {
            let allowed =
                (m.abs() * tolerance.kv_memory_percent / 100.0).max(tolerance.kv_memory_gib);
            (available - m).abs() <= allowed + LOG_PRECISION_GIB
        }),
    });
    let tokens = startup.kv_cache_tokens as f64;
    let measured_tokens = log.kv_cache_tokens.map(|t| t as f64);
    rows.push(Row {
        quantity: "GPU KV cache size",
        unit: "tokens",
        predicted: tokens,
        measured: measured_tokens,
        within: measured_tokens
            .map(|m| (tokens - m).abs() <= m * tolerance.kv_tokens_percent / 100.0 + 1.0),
    });
    let within = rows.iter().all(|r| r.within != Some(false));
    Comparison {
        explanation: explain(startup, tight, log, measured_budget),
        rows,
        within,
        failure: log.failure.clone(),
    }
}

/// The term of `budget − weights − reserve` that differs most from the log, when the log lets
/// the terms be told apart.
fn explain(
    startup: &Startup,
    tight: &crate::plan::StageStartup,
    log: &StartupLog,
    measured_budget: Option<f64>,
) -> Option<String> {
    let gib = |bytes: u64| bytes as f64 / GIB;
    let measured_available = log.available_kv_cache_gib?;
    let predicted_available = tight.available_kv_cache_bytes_per_gpu as f64 / GIB;
    let gap = predicted_available - measured_available;
    if gap.abs() < 0.25 {
        return None;
    }
    let reserve = tight.reserve;
    // Each term's share of the gap: positive when lwsplan leaves more KV memory than vLLM did.
    let mut terms: Vec<(&str, f64)> = Vec::new();
    if let Some(budget) = measured_budget {
        terms.push(("the budget", gib(startup.budget_bytes_per_gpu) - budget));
    }
    if let Some(w) = log.model_loading_gib {
        terms.push(("the weights", w - gib(tight.weight_bytes_per_gpu)));
    }
    match (log.torch_peak_gib, log.non_torch_gib) {
        (Some(peak), Some(non_torch)) => {
            terms.push(("the activation peak", peak - gib(reserve.activation_bytes)));
            terms.push(("non-torch memory", non_torch - gib(reserve.non_torch_bytes)));
        }
        _ => {
            let explained: f64 = terms.iter().map(|(_, v)| v).sum();
            terms.push((
                "the reserve (activations, non-torch, graphs)",
                gap - explained,
            ));
        }
    }
    let (term, share) = terms
        .into_iter()
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))?;
    let direction = if share > 0.0 {
        "lwsplan's is smaller than vLLM's"
    } else {
        "lwsplan's is larger than vLLM's"
    };
    Some(format!(
        "{term}: {direction} by {:.2} GiB of the {:.2} GiB difference in KV memory",
        share.abs(),
        gap.abs()
    ))
}

impl Comparison {
    /// The comparison as aligned text, for a terminal.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "  {:<32} {:>14} {:>14} {:>12}",
            "", "lwsplan", "vLLM log", "difference"
        );
        for row in &self.rows {
            let value = |v: f64| match row.unit {
                "tokens" => format!("{v:.0}"),
                _ => format!("{v:.2} GiB"),
            };
            let measured = row.measured.map_or("-".to_string(), value);
            let difference = row.difference().map_or(String::new(), |d| match row.unit {
                "tokens" => format!("{d:+.0}"),
                _ => format!("{d:+.2}"),
            });
            let mark = match row.within {
                Some(true) => "  ok",
                Some(false) => "  OUT OF TOLERANCE",
                None => "",
            };
            let _ = writeln!(
                out,
                "  {:<32} {:>14} {:>14} {:>12}{mark}",
                row.quantity,
                value(row.predicted),
                measured,
                difference
            );
        }
        if let Some(why) = &self.explanation {
            let _ = writeln!(out, "\n  explained by {why}");
        }
        if let Some(failure) = &self.failure {
            let _ = writeln!(out, "  vLLM failed: {failure}");
        }
        out
    }
}

/// Plan options as a log shows them: layout, release, utilization, context, KV dtype and the
/// scheduler limits the log states. What the log does not state stays as in `base`.
pub fn options_from_log(log: &StartupLog, base: &PlanOptions) -> PlanOptions {
    let mut options = base.clone();
    if let Some(tp) = log.tensor_parallel_size {
        options.tensor_parallel_size = Some(tp);
    }
    if let Some(pp) = log.pipeline_parallel_size {
        options.pipeline_parallel_size = Some(pp);
    }
    if let Some(dp) = log.data_parallel_size {
        options.data_parallel_size = Some(dp);
    }
    if let Some(dcp) = log.decode_context_parallel_size {
        options.decode_context_parallel_size = Some(dcp);
    }
    if let Some(u) = log.gpu_memory_utilization {
        options.gpu_memory_utilization = u;
    }
    if let Some(len) = log.max_model_len {
        options.max_model_len = MaxModelLen::Tokens(len);
    }
    if let Some(dtype) = &log.kv_cache_dtype {
        options.kv_cache_dtype = if dtype.starts_with("fp8") {
            KvCacheDtype::Fp8
        } else {
            KvCacheDtype::Auto
        };
    }
    if let Some(v) = log.vllm_version {
        options.vllm_version = Some(VllmVersion(v.0, v.1, v.2));
    }
    if log.enable_expert_parallel == Some(true) {
        options.expert_parallel = crate::plan::ExpertParallel::On;
    }
    options.max_num_seqs = log.max_num_seqs.or(options.max_num_seqs);
    options.max_num_batched_tokens = log
        .max_num_batched_tokens
        .or(options.max_num_batched_tokens);
    options
}
