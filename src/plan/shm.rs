//! `/dev/shm` and how the group starts: vLLM's shared-memory queues and NCCL's transport live
//! in the pod's memory-backed `/dev/shm`, and the Ray launcher adds its object store there.

use serde::{Deserialize, Serialize};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// How the pods of a group start vLLM: it decides what else lives in `/dev/shm`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Launcher {
    /// vLLM's own multi-node mode: `vllm serve --nnodes --node-rank --master-addr`, `--headless`
    /// on workers (multiprocessing executor, no Ray).
    #[default]
    Native,
    /// A Ray cluster per group (`ray_init.sh` / `multi-node-serving.sh`), vLLM on the Ray executor.
    Ray,
}

/// Where `/dev/shm`'s size comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Shm {
    /// NCCL's shared-memory transport and proxy buffers among the pod's GPUs.
    pub nccl_bytes: u64,
    /// vLLM's shared-memory message queues (the broadcast to workers and each worker's reply).
    pub message_queue_bytes: u64,
    /// Ray's object store, when the Ray launcher is used.
    pub ray_object_store_bytes: u64,
    /// The size to mount: the sum with 30 % headroom, rounded up to a GiB, capped by the node.
    pub size_bytes: u64,
    /// Whether the cap (a quarter of host memory) cut the size down.
    pub capped: bool,
}

/// NCCL buffers per GPU of the pod: 2 GiB for an 8-GPU pod, the size llm-d's guides give
/// /dev/shm "for NCCL 2.27" (estimate; unverified per NCCL version).
const NCCL_PER_GPU: u64 = 256 * MIB;
/// One vLLM message queue: `max_chunks` 10 × `VLLM_MQ_MAX_CHUNK_BYTES_MB` 16 MiB
/// (`vllm/distributed/device_communicators/shm_broadcast.py`; unverified per version).
const MESSAGE_QUEUE: u64 = 10 * 16 * MIB;
/// Ray object store kept in /dev/shm (Ray falls back to /tmp, slowly, when /dev/shm is
/// smaller than it wants; estimate, unverified).
const RAY_OBJECT_STORE: u64 = 8 * GIB;
/// Headroom over the sum, as vllm PR #51241's proposed calculator adds.
const SHM_HEADROOM_PERCENT: u64 = 30;
/// /dev/shm is memory-backed and counts against the pod's memory: keep it to a quarter of the
/// node, leaving the rest for loading weights and the server itself.
const SHM_MAX_FRACTION: u64 = 4;

/// The `/dev/shm` size for a pod with `gpus_per_pod` GPUs on a node with `host_memory` bytes.
pub fn shm(gpus_per_pod: u64, launcher: Launcher, host_memory: u64) -> Shm {
    let nccl = gpus_per_pod * NCCL_PER_GPU;
    let queues = (1 + gpus_per_pod) * MESSAGE_QUEUE;
    let ray = match launcher {
        Launcher::Native => 0,
        Launcher::Ray => RAY_OBJECT_STORE,
    };
    let wanted = (nccl + queues + ray) * (100 + SHM_HEADROOM_PERCENT) / 100;
    let wanted = wanted.div_ceil(GIB) * GIB;
    let cap = host_memory / SHM_MAX_FRACTION / GIB * GIB;
    Shm {
        nccl_bytes: nccl,
        message_queue_bytes: queues,
        ray_object_store_bytes: ray,
        size_bytes: wanted.min(cap).max(GIB.min(host_memory)),
        capped: wanted > cap,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shm_for_an_eight_gpu_pod() {
        let host = 1872 * GIB;
        // 8 × 256 MiB + 9 × 160 MiB = 3488 MiB; × 1.3 = 4534 MiB → 5 GiB.
        assert_eq!(shm(8, Launcher::Native, host).size_bytes, 5 * GIB);
        // + 8 GiB object store = 11680 MiB; × 1.3 = 15184 MiB → 15 GiB (the guide's 15Gi).
        assert_eq!(shm(8, Launcher::Ray, host).size_bytes, 15 * GIB);
        // 1 × 256 + 2 × 160 = 576 MiB; × 1.3 = 749 MiB → 1 GiB.
        assert_eq!(shm(1, Launcher::Native, host).size_bytes, GIB);
    }

    #[test]
    fn shm_never_exceeds_a_quarter_of_the_node() {
        let s = shm(8, Launcher::Ray, 32 * GIB);
        assert!(s.capped);
        assert_eq!(s.size_bytes, 8 * GIB);
    }
}
