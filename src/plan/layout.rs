//! Layouts: how tensor × pipeline parallelism maps onto nodes, pods and GPUs.

use serde::{Deserialize, Serialize};

use super::rules::Rejection;

/// Layers per pipeline stage, as vLLM's `get_pp_indices` splits them
/// (`vllm/distributed/utils.py` @ 5a6541db9bfa77756459722f69e8c89a0b47a14d): each stage gets
/// `L / PP` layers and the `L mod PP` left over go one each to the stages just before the last.
pub fn pp_partition(layers: u64, pp: u64) -> Vec<u64> {
    let base = layers / pp;
    let remainder = layers % pp;
    (0..pp)
        .map(|stage| {
            let extra = stage + 1 < pp && stage + 1 + remainder >= pp;
            base + u64::from(extra)
        })
        .collect()
}

/// A parallel layout and how it is deployed: one pod per node, `nodes` pods per LWS group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Layout {
    /// `--tensor-parallel-size`.
    pub tensor_parallel_size: u64,
    /// `--pipeline-parallel-size`.
    pub pipeline_parallel_size: u64,
    /// Nodes, and so pods in the LWS group (`size`).
    pub nodes: u64,
    /// GPUs each pod requests (`nvidia.com/gpu`).
    pub gpus_per_pod: u64,
}

impl Layout {
    /// Builds the layout for `tp × pp` GPUs on nodes of `gpus_per_node`. A layout within one
    /// node takes a share of it that divides the node (so the rest of the node stays usable by
    /// pods of the same shape); a larger one fills whole nodes, one pod each.
    pub(crate) fn new(tp: u64, pp: u64, gpus_per_node: u64) -> Result<Layout, Rejection> {
        let gpus = tp.saturating_mul(pp);
        let not_whole = |reason| Rejection::NotWholeNodes { reason };
        if gpus < gpus_per_node && !gpus_per_node.is_multiple_of(gpus) {
            return Err(not_whole(format!(
                "TP {tp} × PP {pp} = {gpus} GPUs does not divide a {gpus_per_node}-GPU node; \
                 the other {} GPUs would fit no pod of the same shape",
                gpus_per_node - gpus
            )));
        }
        if gpus <= gpus_per_node {
            return Ok(Layout {
                tensor_parallel_size: tp,
                pipeline_parallel_size: pp,
                nodes: 1,
                gpus_per_pod: gpus,
            });
        }
        if !gpus.is_multiple_of(gpus_per_node) {
            return Err(not_whole(format!(
                "TP {tp} × PP {pp} = {gpus} GPUs is not a whole number of {gpus_per_node}-GPU nodes; \
                 LWS gives every pod of a group the same GPU count"
            )));
        }
        Ok(Layout {
            tensor_parallel_size: tp,
            pipeline_parallel_size: pp,
            nodes: gpus / gpus_per_node,
            gpus_per_pod: gpus_per_node,
        })
    }

    /// `tp × pp` GPUs spread over as many nodes as they need, whole or not: how a rejected
    /// shape is described.
    pub(crate) fn spread(tp: u64, pp: u64, gpus_per_node: u64) -> Layout {
        Layout {
            tensor_parallel_size: tp,
            pipeline_parallel_size: pp,
            nodes: tp.saturating_mul(pp).div_ceil(gpus_per_node),
            gpus_per_pod: gpus_per_node,
        }
    }

    /// Total GPUs: TP × PP = nodes × GPUs per pod.
    pub fn gpus(&self) -> u64 {
        self.tensor_parallel_size * self.pipeline_parallel_size
    }

    /// Whether this is vLLM's recommended shape: TP = GPUs per node, PP = nodes.
    pub fn is_recommended(&self) -> bool {
        self.tensor_parallel_size == self.gpus_per_pod
    }

    /// Whether tensor-parallel groups cross node boundaries (slow: NCCL over the network).
    pub fn tp_spans_nodes(&self) -> bool {
        self.tensor_parallel_size > self.gpus_per_pod
    }
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let nodes = if self.nodes == 1 { "node" } else { "nodes" };
        write!(
            f,
            "TP {} × PP {} on {} {nodes} × {} GPUs",
            self.tensor_parallel_size, self.pipeline_parallel_size, self.nodes, self.gpus_per_pod
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Default partitions from ../shared/reference/vllm-sizing.md §6, computed with vLLM's rule.
    #[test]
    fn partitions_match_vllm() {
        let cases: [(u64, u64, &[u64]); 11] = [
            (61, 1, &[61]),
            (61, 2, &[31, 30]),
            (61, 3, &[20, 21, 20]),
            (61, 4, &[15, 15, 16, 15]),
            (61, 5, &[12, 12, 12, 13, 12]),
            (61, 8, &[7, 7, 8, 8, 8, 8, 8, 7]),
            (126, 4, &[31, 32, 32, 31]),
            (126, 8, &[15, 16, 16, 16, 16, 16, 16, 15]),
            (80, 3, &[27, 27, 26]),
            (94, 5, &[19, 19, 19, 19, 18]),
            (36, 8, &[4, 4, 4, 5, 5, 5, 5, 4]),
        ];
        for (layers, pp, want) in cases {
            let got = pp_partition(layers, pp);
            assert_eq!(got, want, "{layers} layers, PP {pp}");
            assert_eq!(got.iter().sum::<u64>(), layers);
        }
    }

    #[test]
    fn layouts_fill_whole_nodes_past_one_node() {
        assert_eq!(Layout::new(2, 1, 8).unwrap().gpus_per_pod, 2);
        let two = Layout::new(8, 2, 8).unwrap();
        assert_eq!((two.nodes, two.gpus_per_pod), (2, 8));
        assert!(two.is_recommended() && !two.tp_spans_nodes());
        let wide = Layout::new(16, 1, 8).unwrap();
        assert_eq!((wide.nodes, wide.gpus_per_pod), (2, 8));
        assert!(wide.tp_spans_nodes());
        assert!(Layout::new(4, 3, 8).is_err(), "12 GPUs on 8-GPU nodes");
        assert!(Layout::new(2, 3, 8).is_err(), "6 GPUs strand 2 of 8");
        assert_eq!(Layout::new(1, 3, 3).unwrap().gpus_per_pod, 3);
    }
}
