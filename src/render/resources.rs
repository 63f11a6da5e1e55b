//! Each vLLM container's CPU, memory and ephemeral-storage requests, derived from the plan and
//! the node when the user gives none, and the user's own checked against the node.
//!
//! vLLM's own LeaderWorkerSet example (vllm `docs/deployment/frameworks/lws.md`) requests
//! `cpu: 125`, a `memory: 1124Gi` limit and `ephemeral-storage: 800Gi` on 8 × H100 nodes: a pod
//! that requests nothing is scheduled as if it needed nothing, and a download into the
//! writable layer can get it evicted. lwsplan derives the same three from what the pod holds.

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::RenderError;
use super::options::{ModelCache, PodOptions};
use crate::plan::Plan;
use crate::units::{gib, quantity};

const GIB: u64 = 1 << 30;

/// Host memory of each GPU's worker process beyond the weights it stages: the CUDA context,
/// PyTorch and vLLM's Python heap, pinned buffers. An estimate (unverified: vLLM publishes no
/// figure), generous on purpose: a limit set too low kills the pod.
const WORKER_BYTES_PER_GPU: u64 = 8 * GIB;
/// The API server, the engine core and the tokenizer processes: an estimate (unverified).
const SERVER_BYTES: u64 = 16 * GIB;
/// Writable-layer space beyond the weights: torch.compile's and Triton's caches
/// (`~/.cache/vllm`, `~/.triton`), CUDA graphs' dumps and logs. An estimate (unverified).
const SCRATCH_BYTES: u64 = 50 * GIB;
/// The share of its part of the node's CPUs a pod requests: vLLM's LWS example asks for 125 of
/// an a3-highgpu-8g's 208 vCPUs (0.6); the rest is left to DaemonSets (GPU plugins, logging,
/// GKE's TCPX daemons) and the kernel.
const CPU_SHARE: f64 = 0.6;
/// The share of its part of the node's allocatable memory a default memory limit may reach:
/// DaemonSets on the node take their requests from the same allocatable.
const MEMORY_SHARE: f64 = 0.95;
/// CPUs per GPU requested when the hardware profile gives no allocatable CPU: low enough to
/// schedule on any GPU node (every GPU machine type has several vCPUs per GPU).
const FALLBACK_CPU_PER_GPU: u64 = 2;

/// What lwsplan requests for each vLLM container when the user does not say.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Defaults {
    /// CPU request, millicores.
    pub cpu_millis: u64,
    /// Memory request and limit.
    pub memory_bytes: u64,
    /// Ephemeral-storage request.
    pub ephemeral_storage_bytes: u64,
}

/// Disk the whole checkpoint takes: vLLM downloads every weight file on every node (downloads
/// are not split by rank), plus room for the MTP layers and tokenizer files the plan does not
/// count: weights + 10 % + 10 GiB, in whole GiB.
pub(crate) fn checkpoint_disk_bytes(plan: &Plan) -> u64 {
    (plan.weight_bytes / 10 * 11)
        .saturating_add(10 * GIB)
        .div_ceil(GIB)
        .saturating_mul(GIB)
}

/// Whether the weights land in the container's writable layer (no model cache).
pub(crate) fn downloads_into_container(cache: &ModelCache) -> bool {
    matches!(cache, ModelCache::None)
}

/// The memory a pod needs in the host: its memory-backed `/dev/shm`, the checkpoint shard it
/// loads (safetensors are mmapped: the shard passes through the page cache, which is charged to
/// the pod's memory cgroup), and each process's own heap.
pub(crate) fn wanted_memory_bytes(plan: &Plan, shm_bytes: u64) -> u64 {
    shm_bytes
        .saturating_add(plan.max_weight_bytes_per_pod)
        .saturating_add(WORKER_BYTES_PER_GPU.saturating_mul(plan.layout.gpus_per_pod))
        .saturating_add(SERVER_BYTES)
        .div_ceil(GIB)
        .saturating_mul(GIB)
}

/// The part of the node one pod may count on: its GPUs' share of the allocatable resources, or
/// of the host memory when the profile gives no allocatable (then no CPU or disk figure).
fn pod_share(plan: &Plan) -> (Option<f64>, u64, Option<u64>) {
    let node = &plan.node;
    let gpus = plan.layout.gpus_per_pod.min(node.gpus);
    match node.allocatable {
        Some(a) => {
            let share = a.share(gpus, node.gpus);
            (
                Some(share.cpu),
                share.memory_bytes,
                share.ephemeral_storage_bytes,
            )
        }
        None => (
            None,
            u64::try_from(
                u128::from(node.host_memory_bytes) * u128::from(gpus)
                    / u128::from(node.gpus.max(1))
                    * 9
                    / 10,
            )
            .unwrap_or(u64::MAX),
            None,
        ),
    }
}

/// The requests lwsplan derives for one vLLM container of `plan`.
pub(crate) fn defaults(plan: &Plan, shm_bytes: u64, cache: &ModelCache) -> Defaults {
    let (cpu, memory, _) = pod_share(plan);
    let cpu_millis = match cpu {
        Some(cpu) => ((cpu * CPU_SHARE).floor() as u64).max(1) * 1000,
        None => FALLBACK_CPU_PER_GPU * plan.layout.gpus_per_pod.max(1) * 1000,
    };
    let cap = ((memory as f64 * MEMORY_SHARE) as u64) / GIB * GIB;
    let memory_bytes = wanted_memory_bytes(plan, shm_bytes)
        .min(cap)
        .max(shm_bytes + GIB);
    let ephemeral_storage_bytes = if downloads_into_container(cache) {
        checkpoint_disk_bytes(plan) + SCRATCH_BYTES
    } else {
        SCRATCH_BYTES
    };
    Defaults {
        cpu_millis,
        memory_bytes,
        ephemeral_storage_bytes,
    }
}

/// The container's resources: the user's, then lwsplan's defaults for what they leave out. A
/// memory request without a limit gets that limit (a limit is what keeps `/dev/shm` honest), a
/// limit without a request that request. CPU gets no limit (a CPU limit throttles the engine's
/// busy loops).
pub(crate) fn effective(pod: &PodOptions, defaults: &Defaults) -> ResourceRequirements {
    let mut requests = pod.resources.requests.clone().unwrap_or_default();
    let mut limits = pod.resources.limits.clone().unwrap_or_default();
    let q = |s: String| Quantity(s);
    for key in ["memory", "ephemeral-storage"] {
        match (requests.get(key).cloned(), limits.get(key).cloned()) {
            (Some(r), None) if key == "memory" => {
                limits.insert(key.into(), r);
            }
            (None, Some(l)) => {
                requests.insert(key.into(), l);
            }
            _ => {}
        }
    }
    requests
        .entry("cpu".into())
        .or_insert_with(|| q(format!("{}", defaults.cpu_millis / 1000)));
    requests
        .entry("memory".into())
        .or_insert_with(|| q(quantity(defaults.memory_bytes)));
    limits
        .entry("memory".into())
        .or_insert_with(|| q(quantity(defaults.memory_bytes)));
    requests
        .entry("ephemeral-storage".into())
        .or_insert_with(|| q(quantity(defaults.ephemeral_storage_bytes)));
    ResourceRequirements {
        requests: Some(requests),
        limits: Some(limits),
        ..ResourceRequirements::default()
    }
}

/// A CPU quantity in millicores: `500m`, `2`, `1.5` (what `check_quantity` accepted; other
/// suffixes are not CPU counts anyone writes and are left unchecked).
fn cpu_millis(text: &str) -> Option<f64> {
    match text.strip_suffix('m') {
        Some(millis) => millis.parse::<f64>().ok(),
        None => text.parse::<f64>().ok().map(|cores| cores * 1000.0),
    }
}

fn refuse(option: crate::OptionName, message: String) -> RenderError {
    RenderError::Option { option, message }
}

/// Refuses a request or limit no node of this type can grant: the pods would stay Pending
/// forever. Names the node's own figure.
pub(crate) fn check_against_node(
    resources: &ResourceRequirements,
    plan: &Plan,
) -> Result<(), RenderError> {
    let node = &plan.node;
    let (cpu, memory, disk, what) = match node.allocatable {
        Some(a) => (
            Some(a.cpu),
            a.memory_bytes,
            a.ephemeral_storage_bytes,
            "allocatable",
        ),
        None => (None, node.host_memory_bytes, None, "host memory"),
    };
    let node_name = format!("a {}-GPU {} node", node.gpus, plan.hardware);
    for (kind, map) in [
        ("requests", &resources.requests),
        ("limits", &resources.limits),
    ] {
        for (name, value) in map.iter().flatten() {
            match name.as_str() {
                "cpu" => {
                    if let (Some(node_cpu), Some(asked)) = (cpu, cpu_millis(&value.0))
                        && asked > node_cpu * 1000.0
                    {
                        return Err(refuse(
                            crate::OptionName::Cpu,
                            format!(
                                "{kind}.cpu {} is more than {node_name} offers ({node_cpu} \
                                 allocatable CPUs): the pods would never be scheduled",
                                value.0
                            ),
                        ));
                    }
                }
                "memory" | "ephemeral-storage" => {
                    let (option, limit, figure) = if name == "memory" {
                        (crate::OptionName::Memory, Some(memory), what)
                    } else {
                        (
                            crate::OptionName::EphemeralStorage,
                            disk,
                            "allocatable ephemeral storage",
                        )
                    };
                    let Some(limit) = limit else { continue };
                    if let Ok(asked) = crate::units::parse_quantity(&value.0)
                        && asked > limit
                    {
                        return Err(refuse(
                            option,
                            format!(
                                "{kind}.{name} {} is more than {node_name} offers ({} of {figure}): \
                                 the pods would never be scheduled",
                                value.0,
                                gib(limit)
                            ),
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// With no model cache the whole checkpoint lands in the writable layer: a node whose
/// allocatable ephemeral storage cannot hold it evicts the pod mid-download. Refused, with what
/// to do instead (a user's own request is checked by [`check_against_node`]).
pub(crate) fn check_download_fits(
    resources: &ResourceRequirements,
    cache: &ModelCache,
    plan: &Plan,
) -> Result<(), RenderError> {
    let node_disk = plan
        .node
        .allocatable
        .and_then(|a| a.ephemeral_storage_bytes);
    let asked = resources
        .requests
        .as_ref()
        .and_then(|r| r.get("ephemeral-storage"))
        .and_then(|q| crate::units::parse_quantity(&q.0).ok());
    if let (Some(disk), Some(asked)) = (node_disk, asked)
        && downloads_into_container(cache)
        && asked > disk
    {
        return Err(refuse(
            crate::OptionName::ModelCache,
            format!(
                "none: each pod would download {} of weights into its writable layer, more than \
                 a {}-GPU {} node's {} of allocatable ephemeral storage; use a model cache \
                 (pvc:CLAIM, per-pod, host-path:DIR)",
                gib(checkpoint_disk_bytes(plan)),
                plan.node.gpus,
                plan.hardware,
                gib(disk)
            ),
        ));
    }
    Ok(())
}

/// A per-pod claim smaller than the checkpoint fills up mid-download and the pod restarts
/// forever: refused, with the size that holds it.
pub(crate) fn check_cache_size(cache: &ModelCache, plan: &Plan) -> Result<(), RenderError> {
    if let ModelCache::PerPod {
        size: Some(size), ..
    } = cache
        && size.0 < plan.weight_bytes
    {
        return Err(refuse(
            crate::OptionName::ModelCache,
            format!(
                "a per-pod claim of {} cannot hold {}'s checkpoint ({}): give at least {} \
                 (weights + 10 % + 10 GiB), or leave the size out",
                gib(size.0),
                plan.model,
                gib(plan.weight_bytes),
                quantity(checkpoint_disk_bytes(plan))
            ),
        ));
    }
    Ok(())
}

/// Things about the pods' resources worth a warning: weights downloaded into the writable
/// layer, requests derived without the node's allocatable figures.
pub(crate) fn warnings(plan: &Plan, cache: &ModelCache, pod: &PodOptions) -> Vec<String> {
    let mut warnings = Vec::new();
    if downloads_into_container(cache) {
        warnings.push(format!(
            "no --model-cache: every pod downloads {} of weights into its container's writable \
             layer (ephemeral storage) on every start; a model cache (pvc:CLAIM, per-pod or \
             host-path:DIR) keeps them across restarts",
            gib(checkpoint_disk_bytes(plan))
        ));
    }
    let user = |key: &str| {
        pod.resources
            .requests
            .as_ref()
            .is_some_and(|r| r.contains_key(key))
    };
    if plan.node.allocatable.is_none() && !(user("cpu") && user("memory")) {
        warnings.push(format!(
            "hardware profile {} gives no node.allocatable: the default requests assume {} \
             CPUs per GPU and 90 % of the host memory, and are not checked against the node; \
             add node.allocatable to the profile or pass --cpu and --memory",
            plan.hardware, FALLBACK_CPU_PER_GPU
        ));
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Catalog, PlanOptions, Planner};
    use std::collections::BTreeMap;

    fn plan(model: &str, hardware: &str) -> Plan {
        let catalog = Catalog::builtin();
        Planner::new(
            catalog.model(model).unwrap(),
            catalog.hardware(hardware).unwrap(),
        )
        .plan(&PlanOptions::default())
        .unwrap()
    }

    #[test]
    fn cpu_quantities_parse_as_millicores() {
        // Kubernetes' CPU quantities: cores, or millicores with `m`.
        for (text, millis) in [("2", 2000.0), ("500m", 500.0), ("1.5", 1500.0)] {
            assert_eq!(cpu_millis(text), Some(millis), "{text}");
        }
    }

    #[test]
    fn r1_on_h100_requests_cover_shm_and_its_shard() {
        let plan = plan("deepseek-r1", "h100-80gb");
        let d = defaults(&plan, plan.shm_size_bytes, &ModelCache::None);
        // 0.6 of a3-highgpu-8g's 207.41 allocatable CPUs, as vLLM's example asks 125 of 208.
        assert_eq!(d.cpu_millis, 124_000);
        assert!(d.memory_bytes > plan.shm_size_bytes + plan.max_weight_bytes_per_pod);
        // The whole checkpoint lands in the writable layer, plus scratch.
        assert_eq!(
            d.ephemeral_storage_bytes,
            checkpoint_disk_bytes(&plan) + SCRATCH_BYTES
        );
        let cached = defaults(
            &plan,
            plan.shm_size_bytes,
            &ModelCache::Pvc {
                claim_name: "w".into(),
                warm: false,
            },
        );
        assert_eq!(cached.ephemeral_storage_bytes, SCRATCH_BYTES);
    }

    #[test]
    fn a_pod_on_part_of_a_node_gets_its_share() {
        let plan = plan("gpt-oss-120b", "h100-80gb");
        let d = defaults(&plan, plan.shm_size_bytes, &ModelCache::None);
        let node = plan.node.allocatable.unwrap();
        let share = plan.layout.gpus_per_pod as f64 / plan.node.gpus as f64;
        assert!(d.cpu_millis as f64 <= node.cpu * share * 1000.0);
        assert!(d.memory_bytes as f64 <= node.memory_bytes as f64 * share);
    }

    #[test]
    fn user_requests_above_the_node_are_refused() {
        let plan = plan("deepseek-r1", "h100-80gb");
        let asked = |key: &str, value: &str| ResourceRequirements {
            requests: Some(BTreeMap::from([(key.to_string(), Quantity(value.into()))])),
            ..ResourceRequirements::default()
        };
        for (key, value, option) in [
            ("memory", "5000Gi", crate::OptionName::Memory),
            ("cpu", "500", crate::OptionName::Cpu),
            (
                "ephemeral-storage",
                "100Ti",
                crate::OptionName::EphemeralStorage,
            ),
        ] {
            match check_against_node(&asked(key, value), &plan) {
                Err(RenderError::Option { option: o, message }) => {
                    assert_eq!(o, option);
                    assert!(message.contains("offers"), "{message}");
                }
                other => panic!("{key}={value}: {other:?}"),
            }
        }
        assert!(check_against_node(&asked("memory", "1000Gi"), &plan).is_ok());
    }

    #[test]
    fn a_download_larger_than_the_nodes_disk_asks_for_a_cache() {
        let mut plan = plan("deepseek-r1", "h100-80gb");
        if let Some(a) = plan.node.allocatable.as_mut() {
            a.ephemeral_storage_bytes = Some(500 * GIB);
        }
        let d = defaults(&plan, plan.shm_size_bytes, &ModelCache::None);
        let r = effective(&PodOptions::default(), &d);
        match check_download_fits(&r, &ModelCache::None, &plan) {
            Err(RenderError::Option { option, .. }) => {
                assert_eq!(option, crate::OptionName::ModelCache)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_cache_smaller_than_the_checkpoint_is_refused() {
        let plan = plan("deepseek-r1", "h100-80gb");
        let cache = |gib: u64| ModelCache::PerPod {
            storage_class: None,
            size: Some(crate::units::ByteSize(gib * GIB)),
        };
        assert!(check_cache_size(&cache(100), &plan).is_err());
        assert!(check_cache_size(&cache(1000), &plan).is_ok());
    }
}
