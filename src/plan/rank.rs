//! Ranking the layouts that fit, and the alternatives a plan lists with its choice.

use std::cmp::Reverse;

use super::layout::Layout;
use super::options::{Objective, PlanOptions};
use super::rules::Rejection;
use super::search::Fit;
use super::{Alternative, MaxModelLenSource, Verdict};

/// At most this many alternatives are listed.
const MAX_ALTERNATIVES: usize = 12;

/// The sort key of a fit, best first: one that fits with the reserve's band to spare; fewest
/// nodes; with `auto`, a layout that serves the full context; then fewest GPUs; then plain
/// TP × PP before DP + EP and DCP (vLLM's general recommendation, no all-to-all fabric or
/// backend to depend on); then vLLM's recommended shape (TP = GPUs per node); then the most KV
/// in the group; then smaller TP, DP and DCP, so the order is total.
#[allow(clippy::type_complexity)]
pub(crate) fn rank_key(
    fit: &Fit,
    auto: bool,
) -> (
    bool,
    u64,
    bool,
    u64,
    bool,
    bool,
    Reverse<u64>,
    u64,
    u64,
    u64,
) {
    let layout = fit.layout;
    (
        fit.at_risk,
        layout.nodes,
        auto && fit.source != MaxModelLenSource::FullContext,
        layout.gpus(),
        !layout.is_tp_pp(),
        !layout.is_recommended(),
        Reverse(fit.tokens.saturating_mul(layout.data_parallel_size)),
        layout.tensor_parallel_size,
        layout.data_parallel_size,
        layout.decode_context_parallel_size,
    )
}

/// Whether a fit's estimate breaks `--max-tpot-ms` or `--max-ttft-ms`.
fn breaks_limits(fit: &Fit, options: &PlanOptions) -> bool {
    fit.performance.is_some_and(|p| {
        options.max_tpot_ms.is_some_and(|m| p.tpot_ms > m)
            || options.max_ttft_ms.is_some_and(|m| p.ttft_ms > m)
    })
}

/// Sorts the fits best first: those clear of the reserve's band, then those that keep up with
/// the request rate, then those within the latency limits, then by the objective (throughput:
/// output tokens per second per GPU; latency: time per output token), then by [`rank_key`].
pub(crate) fn sort(fits: &mut [Fit], options: &PlanOptions, auto: bool) {
    let metric = |f: &Fit| -> f64 {
        match (options.objective, f.performance) {
            (Objective::Throughput, Some(p)) => -p.output_tokens_per_s_per_gpu,
            (Objective::Latency, Some(p)) => p.tpot_ms,
            _ => 0.0,
        }
    };
    fits.sort_by(|a, b| {
        (a.at_risk, overloaded(a), breaks_limits(a, options))
            .cmp(&(b.at_risk, overloaded(b), breaks_limits(b, options)))
            .then(metric(a).total_cmp(&metric(b)))
            .then_with(|| rank_key(a, auto).cmp(&rank_key(b, auto)))
    });
}

/// Whether the layout falls behind the workload's request rate (estimated).
fn overloaded(fit: &Fit) -> bool {
    fit.performance.is_some_and(|p| p.overloaded)
}

/// The note for a best fit that still breaks a latency limit: nothing meets it.
pub(crate) fn unmet_limits(best: &Fit, options: &PlanOptions) -> Option<super::Note> {
    let p = best.performance?;
    breaks_limits(best, options).then_some(super::Note::LimitsUnmet {
        tpot_ms: p.tpot_ms,
        ttft_ms: p.ttft_ms,
    })
}

/// Why `other` ranks below `best`, in the terms of [`rank_key`].
fn why_lost(other: &Fit, best: &Fit, auto: bool, options: &PlanOptions) -> String {
    let (o, b) = (other.layout, best.layout);
    // Layouts whose ranges overlap the chosen one's are ties: the estimate's error is larger
    // than the difference, so the order among them is not a prediction.
    let objective = match (options.objective, other.performance, best.performance) {
        (Objective::Throughput, Some(p), Some(q))
            if p.output_tokens_per_s_per_gpu != q.output_tokens_per_s_per_gpu =>
        {
            Some(if p.range.throughput_overlaps(&q.range) {
                "a tie on output tokens/s per GPU: its range overlaps the chosen layout's \
                 (estimated lower)"
                    .to_string()
            } else {
                "fewer output tokens/s per GPU (estimated)".to_string()
            })
        }
        (Objective::Latency, Some(p), Some(q)) if p.tpot_ms != q.tpot_ms => {
            Some(if p.range.tpot_overlaps(&q.range) {
                "a tie on time per output token: its range overlaps the chosen layout's \
                 (estimated slower)"
                    .to_string()
            } else {
                "slower per output token (estimated)".to_string()
            })
        }
        _ => None,
    };
    if other.at_risk != best.at_risk {
        "its KV cache is within the reserve's error band of not fitting".to_string()
    } else if overloaded(other) != overloaded(best) {
        "falls behind the request rate (estimated)".to_string()
    } else if breaks_limits(other, options) != breaks_limits(best, options) {
        "misses the latency limits (estimated)".to_string()
    } else if let Some(objective) = objective {
        objective
    } else if o.nodes != b.nodes {
        format!("needs {} nodes", o.nodes)
    } else if auto && other.source != best.source {
        format!("holds only {} tokens of context", other.max_model_len)
    } else if o.gpus() != b.gpus() {
        format!("uses {} GPUs", o.gpus())
    } else if o.is_tp_pp() != b.is_tp_pp() {
        let kind = if o.data_parallel_size > 1 {
            "DP + EP"
        } else {
            "DCP"
        };
        format!("{kind} ranks after plain TP × PP: choose it with --strategy or its size flag")
    } else if o.is_recommended() != b.is_recommended() {
        "TP ≠ GPUs per node (vLLM recommends TP within a node, PP across nodes)".to_string()
    } else {
        format!(
            "less KV cache ({} tokens)",
            other.tokens * o.data_parallel_size
        )
    }
}

/// The layouts worth showing next to `best`: those on no more nodes, the fitting ones in rank
/// order, then the closest refusals.
pub(crate) fn alternatives(
    fits: &[Fit],
    rejected: &[(Layout, Rejection)],
    best: &Fit,
    auto: bool,
    options: &PlanOptions,
) -> Vec<Alternative> {
    let relevant = |layout: &Layout| layout.nodes <= best.layout.nodes;
    let fitting = fits.iter().filter(|f| relevant(&f.layout)).map(|f| {
        let chosen = f.layout == best.layout;
        Alternative {
            layout: f.layout,
            verdict: if chosen {
                Verdict::Chosen
            } else {
                Verdict::Fits
            },
            reason: if chosen {
                String::new()
            } else {
                why_lost(f, best, auto, options)
            },
            kv_cache_tokens: Some(f.tokens * f.layout.data_parallel_size),
            performance: f.performance,
        }
    });
    let mut refused: Vec<&(Layout, Rejection)> =
        rejected.iter().filter(|(l, _)| relevant(l)).collect();
    refused.sort_by_key(|(l, _)| (Reverse(l.nodes), Reverse(l.gpus()), !l.is_recommended()));
    let refused = refused.into_iter().map(|(layout, rejection)| Alternative {
        layout: *layout,
        verdict: Verdict::Rejected,
        reason: rejection.to_string(),
        performance: None,
        kv_cache_tokens: None,
    });
    fitting.chain(refused).take(MAX_ALTERNATIVES).collect()
}
