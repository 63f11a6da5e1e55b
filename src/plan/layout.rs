//! Layouts: how tensor × pipeline × data parallelism maps onto nodes, pods and GPUs.

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

/// Why a TP × PP × DP shape fills no whole nodes ([`Layout::parallel`]). Kept as numbers and
/// spelled out only when reported: the search tries hundreds of shapes per plan and reports
/// these only for a forced layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotWholeNodes {
    kind: NotWholeKind,
    tp: u64,
    pp: u64,
    dp: u64,
    gpus_per_node: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NotWholeKind {
    /// Fewer GPUs than a node, not a divisor of it.
    DividesNoNode,
    /// More GPUs than a node, not a multiple of it.
    PartNode,
    /// An engine of TP × PP would cross a pod boundary under DP.
    StraddlesPods,
}

impl NotWholeNodes {
    /// The rejection, in words.
    pub(crate) fn rejection(self) -> Rejection {
        let NotWholeNodes {
            kind,
            tp,
            pp,
            dp,
            gpus_per_node,
        } = self;
        let gpus = tp.saturating_mul(pp).saturating_mul(dp);
        let shape = Layout::spread(tp, pp, dp, 1, gpus_per_node).shape();
        let reason = match kind {
            NotWholeKind::DividesNoNode => format!(
                "{shape} = {gpus} GPUs does not divide a {gpus_per_node}-GPU node; the other {} \
                 GPUs would fit no pod of the same shape",
                gpus_per_node - gpus
            ),
            NotWholeKind::PartNode => format!(
                "{shape} = {gpus} GPUs is not a whole number of {gpus_per_node}-GPU nodes; LWS \
                 gives every pod of a group the same GPU count"
            ),
            NotWholeKind::StraddlesPods => format!(
                "{shape}: an engine of TP {tp} × PP {pp} would straddle two {gpus_per_node}-GPU \
                 pods; with data parallelism each pod runs whole engines"
            ),
        };
        Rejection::NotWholeNodes { reason }
    }
}

/// A parallel layout and how it is deployed: one pod per node, `nodes` pods per LWS group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Layout {
    /// `--tensor-parallel-size`.
    pub tensor_parallel_size: u64,
    /// `--pipeline-parallel-size`.
    pub pipeline_parallel_size: u64,
    /// `--data-parallel-size`: engines of TP × PP GPUs each, with the MoE experts split across
    /// all of them (expert parallelism over TP × DP ranks). 1 outside DP + EP layouts.
    #[serde(default = "one")]
    pub data_parallel_size: u64,
    /// `--decode-context-parallel-size`: each TP group's KV cache split across this many of its
    /// ranks instead of replicated. 1 when off.
    #[serde(default = "one")]
    pub decode_context_parallel_size: u64,
    /// Nodes, and so pods in the LWS group (`size`).
    pub nodes: u64,
    /// GPUs each pod requests (`nvidia.com/gpu`).
    pub gpus_per_pod: u64,
}

fn one() -> u64 {
    1
}

impl Layout {
    /// Builds the layout of `dp` engines of `tp × pp` GPUs each on nodes of `gpus_per_node`.
    /// A layout within one node takes a share of it that divides the node (so the rest of the
    /// node stays usable by pods of the same shape); a larger one fills whole nodes, one pod
    /// each; with DP, an engine never straddles two pods.
    pub(crate) fn parallel(
        tp: u64,
        pp: u64,
        dp: u64,
        gpus_per_node: u64,
    ) -> Result<Layout, NotWholeNodes> {
        let gpus = tp.saturating_mul(pp).saturating_mul(dp);
        let not_whole = |kind| NotWholeNodes {
            kind,
            tp,
            pp,
            dp,
            gpus_per_node,
        };
        if gpus < gpus_per_node && !gpus_per_node.is_multiple_of(gpus) {
            return Err(not_whole(NotWholeKind::DividesNoNode));
        }
        let layout = |nodes, gpus_per_pod| Layout {
            tensor_parallel_size: tp,
            pipeline_parallel_size: pp,
            data_parallel_size: dp,
            decode_context_parallel_size: 1,
            nodes,
            gpus_per_pod,
        };
        if gpus <= gpus_per_node {
            return Ok(layout(1, gpus));
        }
        if !gpus.is_multiple_of(gpus_per_node) {
            return Err(not_whole(NotWholeKind::PartNode));
        }
        if dp > 1 && !gpus_per_node.is_multiple_of(tp * pp) {
            return Err(not_whole(NotWholeKind::StraddlesPods));
        }
        Ok(layout(gpus / gpus_per_node, gpus_per_node))
    }

    /// The same layout with the KV cache split over `dcp` ranks of each TP group.
    pub(crate) fn with_dcp(self, dcp: u64) -> Layout {
        Layout {
            decode_context_parallel_size: dcp,
            ..self
        }
    }

    /// The GPUs spread over as many nodes as they need, whole or not: how a rejected shape is
    /// described.
    pub(crate) fn spread(tp: u64, pp: u64, dp: u64, dcp: u64, gpus_per_node: u64) -> Layout {
        Layout {
            tensor_parallel_size: tp,
            pipeline_parallel_size: pp,
            data_parallel_size: dp,
            decode_context_parallel_size: dcp,
            nodes: tp
                .saturating_mul(pp)
                .saturating_mul(dp)
                .div_ceil(gpus_per_node),
            gpus_per_pod: gpus_per_node,
        }
    }

    /// Total GPUs: TP × PP × DP = nodes × GPUs per pod.
    pub fn gpus(&self) -> u64 {
        self.tensor_parallel_size * self.pipeline_parallel_size * self.data_parallel_size
    }

    /// Data-parallel engines each pod runs (`--data-parallel-size-local`).
    pub fn data_parallel_size_local(&self) -> u64 {
        (self.gpus_per_pod / (self.tensor_parallel_size * self.pipeline_parallel_size)).max(1)
    }

    /// Whether this is vLLM's recommended TP × PP shape: TP = GPUs per node, PP = nodes, no DP
    /// or DCP.
    pub fn is_recommended(&self) -> bool {
        self.tensor_parallel_size == self.gpus_per_pod && self.is_tp_pp()
    }

    /// Whether this is a plain TP × PP layout (no DP + EP, no DCP).
    pub fn is_tp_pp(&self) -> bool {
        self.data_parallel_size == 1 && self.decode_context_parallel_size == 1
    }

    /// The parallel sizes in words: `TP 8 × PP 2`, `TP 1 × DP 16`, `TP 8 × PP 1, DCP 8`.
    pub fn shape(&self) -> String {
        let mut s = format!("TP {}", self.tensor_parallel_size);
        if self.data_parallel_size > 1 {
            if self.pipeline_parallel_size > 1 {
                s += &format!(" × PP {}", self.pipeline_parallel_size);
            }
            s += &format!(" × DP {}", self.data_parallel_size);
        } else {
            s += &format!(" × PP {}", self.pipeline_parallel_size);
        }
        if self.decode_context_parallel_size > 1 {
            s += &format!(", DCP {}", self.decode_context_parallel_size);
        }
        s
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
            "{} on {} {nodes} × {} GPUs",
            self.shape(),
            self.nodes,
            self.gpus_per_pod
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Default partitions computed with vLLM's rule (`get_pp_indices`,
    /// `vllm/distributed/utils.py` @ 5a6541db9bfa77756459722f69e8c89a0b47a14d).
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
        assert_eq!(Layout::parallel(2, 1, 1, 8).unwrap().gpus_per_pod, 2);
        let two = Layout::parallel(8, 2, 1, 8).unwrap();
        assert_eq!((two.nodes, two.gpus_per_pod), (2, 8));
        assert!(two.is_recommended() && !two.tp_spans_nodes());
        let wide = Layout::parallel(16, 1, 1, 8).unwrap();
        assert_eq!((wide.nodes, wide.gpus_per_pod), (2, 8));
        assert!(wide.tp_spans_nodes());
        assert!(
            Layout::parallel(4, 3, 1, 8).is_err(),
            "12 GPUs on 8-GPU nodes"
        );
        assert!(
            Layout::parallel(2, 3, 1, 8).is_err(),
            "6 GPUs strand 2 of 8"
        );
        assert_eq!(Layout::parallel(1, 3, 1, 3).unwrap().gpus_per_pod, 3);
    }

    #[test]
    fn data_parallel_engines_fill_pods_whole() {
        let wide = Layout::parallel(1, 1, 16, 8).unwrap();
        assert_eq!((wide.nodes, wide.gpus_per_pod, wide.gpus()), (2, 8, 16));
        assert_eq!(wide.data_parallel_size_local(), 8);
        assert_eq!(wide.to_string(), "TP 1 × DP 16 on 2 nodes × 8 GPUs");
        let tp2 = Layout::parallel(2, 1, 8, 8).unwrap();
        assert_eq!(tp2.data_parallel_size_local(), 4);
        assert!(
            Layout::parallel(3, 1, 8, 8).is_err(),
            "24 GPUs, engines of 3 straddle pods"
        );
        assert!(!wide.is_recommended() && !wide.is_tp_pp());
        let dcp = Layout::parallel(8, 1, 1, 8).unwrap().with_dcp(8);
        assert_eq!(dcp.shape(), "TP 8 × PP 1, DCP 8");
    }
}
