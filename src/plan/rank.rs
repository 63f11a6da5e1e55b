//! Ranking the layouts that fit, and the alternatives a plan lists with its choice.

use std::cmp::Reverse;

use super::layout::Layout;
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

/// Why `other` ranks below `best`, in the terms of [`rank_key`].
fn why_lost(other: &Fit, best: &Fit, auto: bool) -> String {
    let (o, b) = (other.layout, best.layout);
    if other.at_risk != best.at_risk {
        "its KV cache is within the reserve's error band of not fitting".to_string()
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
                why_lost(f, best, auto)
            },
            kv_cache_tokens: Some(f.tokens * f.layout.data_parallel_size),
        }
    });
    let mut refused: Vec<&(Layout, Rejection)> =
        rejected.iter().filter(|(l, _)| relevant(l)).collect();
    refused.sort_by_key(|(l, _)| (Reverse(l.nodes), Reverse(l.gpus()), !l.is_recommended()));
    let refused = refused.into_iter().map(|(layout, rejection)| Alternative {
        layout: *layout,
        verdict: Verdict::Rejected,
        reason: rejection.to_string(),
        kv_cache_tokens: None,
    });
    fitting.chain(refused).take(MAX_ALTERNATIVES).collect()
}
