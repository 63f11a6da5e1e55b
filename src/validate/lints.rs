//! Consistency rules for multi-node vLLM on LeaderWorkerSet, beyond what the schema says.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Findings;
use super::names::{
    check_dns1035_label, check_dns1123_label, check_gpu_count, check_label_value,
    check_qualified_name, max_lws_name_len,
};
use crate::manifest::serve::ServeFlags;
use crate::manifest::{GPU_RESOURCE, LeaderWorkerSet, NAME_LABEL};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

const LEADER: &str = "spec.leaderWorkerTemplate.leaderTemplate";
const WORKER: &str = "spec.leaderWorkerTemplate.workerTemplate";
/// LWS webhook bounds on `spec.replicas` (lws #913).
const MAX_REPLICAS: i32 = 1_000_000;
/// The API server's limit on all annotations of one object
/// (`k8s.io/apimachinery/pkg/api/validation` `TotalAnnotationSizeLimitB`).
const MAX_ANNOTATION_BYTES: usize = 256 * 1024;
/// The smallest `/dev/shm` lwsplan plans: NCCL and vLLM's message queues need more than
/// Docker's 64 MiB default (see `plan/reserve.rs`).
const MIN_SHM_BYTES: u64 = 1 << 30;

/// Checks one LeaderWorkerSet.
pub fn leader_worker_set(lws: &LeaderWorkerSet, findings: &mut Findings<'_>) {
    let spec = &lws.spec;
    let template = &spec.leader_worker_template;
    let replicas = spec.replicas.unwrap_or(1);
    let size = template.size.unwrap_or(1);
    match lws.metadata.name.as_deref() {
        None => findings.add("metadata.name", "missing"),
        Some(name) => {
            if let Err(e) = check_dns1035_label(name) {
                findings.add("metadata.name", format!("not a DNS-1035 label: {e}"));
            } else if name.len() > max_lws_name_len(replicas) {
                findings.add(
                    "metadata.name",
                    format!(
                        "`{name}` is {} characters; with {replicas} replica(s) LWS allows at most {} \
                         (51 − replicas / 10), so pod and StatefulSet names stay within 63",
                        name.len(),
                        max_lws_name_len(replicas)
                    ),
                );
            }
        }
    }
    metadata("metadata", &lws.metadata, findings);
    if !(0..=MAX_REPLICAS).contains(&replicas) {
        findings.add(
            "spec.replicas",
            format!("{replicas} is outside 0..={MAX_REPLICAS}, which the LWS webhook enforces"),
        );
    }
    if size < 1 {
        findings.add(
            "spec.leaderWorkerTemplate.size",
            format!("{size}: a group needs at least its leader (size ≥ 1)"),
        );
    }
    let leader = template.leader_template.as_ref();
    let worker = &template.worker_template;
    // Claims from volumeClaimTemplates are mounted by name like pod volumes.
    let claims: Vec<String> = template
        .volume_claim_templates
        .iter()
        .flatten()
        .filter_map(|c| c.metadata.name.clone())
        .collect();
    for (path, pod) in [(LEADER, leader), (WORKER, Some(worker))] {
        if let Some(pod) = pod {
            pod_template(path, pod, &claims, findings);
        }
    }
    let Some(leader) = leader else {
        return;
    };
    let (Some(leader_spec), Some(worker_spec)) = (&leader.spec, &worker.spec) else {
        return;
    };
    leader_matches_worker(leader_spec, worker_spec, findings);
    if let Some((tp, pp)) = parallel_sizes(leader_spec) {
        let gpus = gpus(leader_spec);
        let group = gpus.checked_mul(i64::from(size));
        let dp = serve_flags(leader_spec)
            .and_then(|f| f.value::<i64>("data-parallel-size"))
            .unwrap_or(1);
        let ranks = tp.checked_mul(pp).and_then(|r| r.checked_mul(dp));
        if group.is_none() || group != ranks {
            let shown = |n: Option<i64>| n.map_or("too many".to_string(), |n| n.to_string());
            let dp_text = if dp > 1 {
                format!(" × DP {dp}")
            } else {
                String::new()
            };
            findings.add(
                format!("{LEADER}.spec.containers[0].resources.limits"),
                format!(
                    "{GPU_RESOURCE} {gpus} × size {size} = {} GPUs, but vLLM is started with \
                     TP {tp} × PP {pp}{dp_text} = {}: every GPU of the group must hold exactly \
                     one rank",
                    shown(group),
                    shown(ranks),
                ),
            );
        }
        // Each pod runs `--data-parallel-size-local` whole engines on its GPUs.
        if let Some(local) =
            serve_flags(leader_spec).and_then(|f| f.value::<i64>("data-parallel-size-local"))
            && tp.checked_mul(pp).and_then(|r| r.checked_mul(local)) != Some(gpus)
        {
            findings.add(
                format!("{LEADER}.spec.containers[0].command"),
                format!(
                    "--data-parallel-size-local {local} engines of TP {tp} × PP {pp} on a pod of \
                     {gpus} GPUs: each pod's GPUs must hold exactly its local engines"
                ),
            );
        }
        let worker = parallel_sizes(worker_spec);
        if size > 1 && worker.is_some_and(|w| w != (tp, pp)) {
            let (wtp, wpp) = worker.unwrap_or_default();
            findings.add(
                format!("{WORKER}.spec.containers[0].command"),
                format!(
                    "workers start vLLM with TP {wtp} × PP {wpp} (their last flags), the leader with \
                     TP {tp} × PP {pp}: every node of a group must run the same layout"
                ),
            );
        }
    }
    leader_serves_its_port(leader_spec, findings);
    if spec.startup_policy.as_deref() == Some("LeaderReady")
        && size > 1
        && leader_spec
            .containers
            .iter()
            .any(|c| c.readiness_probe.is_some())
    {
        findings.add(
            "spec.startupPolicy",
            "LeaderReady with a leader readiness probe deadlocks a multi-node vLLM group: the \
             leader is Ready only after its workers join, and LWS creates the workers only \
             after the leader is Ready. Use LeaderCreated",
        );
    }
}

/// Label keys and values, and annotation keys, as the API server checks them.
fn metadata(path: &str, meta: &ObjectMeta, findings: &mut Findings<'_>) {
    if let Some(namespace) = meta.namespace.as_deref()
        && let Err(e) = check_dns1123_label(namespace)
    {
        findings.add(
            format!("{path}.namespace"),
            format!("not a namespace name: {e}"),
        );
    }
    let annotation_bytes: usize = meta
        .annotations
        .iter()
        .flatten()
        .map(|(k, v)| k.len() + v.len())
        .sum();
    if annotation_bytes > MAX_ANNOTATION_BYTES {
        findings.add(
            format!("{path}.annotations"),
            format!(
                "{annotation_bytes} bytes in all; the API server accepts at most {MAX_ANNOTATION_BYTES}"
            ),
        );
    }
    for (key, value) in meta.labels.iter().flatten() {
        if let Err(e) = check_qualified_name(key).and_then(|()| check_label_value(value)) {
            findings.add(
                format!("{path}.labels.{key}"),
                format!("invalid label: {e}"),
            );
        }
    }
    for key in meta.annotations.iter().flatten().map(|(k, _)| k) {
        if let Err(e) = check_qualified_name(key) {
            findings.add(
                format!("{path}.annotations.{key}"),
                format!("invalid annotation key: {e}"),
            );
        }
    }
}

fn pod_template(path: &str, pod: &PodTemplateSpec, claims: &[String], findings: &mut Findings<'_>) {
    if let Some(meta) = &pod.metadata {
        metadata(&format!("{path}.metadata"), meta, findings);
    }
    let Some(spec) = &pod.spec else {
        findings.add(format!("{path}.spec"), "missing pod spec");
        return;
    };
    for (i, container) in spec.containers.iter().enumerate() {
        if let Err(e) = check_dns1123_label(&container.name) {
            findings.add(
                format!("{path}.spec.containers[{i}].name"),
                format!("not a DNS-1123 label: {e}"),
            );
        }
        match container.image.as_deref() {
            None | Some("") => findings.add(
                format!("{path}.spec.containers[{i}].image"),
                "missing: a container needs an image",
            ),
            Some(_) => {}
        }
        let resources = container.resources.as_ref();
        for (kind, map) in [
            ("limits", resources.and_then(|r| r.limits.as_ref())),
            ("requests", resources.and_then(|r| r.requests.as_ref())),
        ] {
            if let Some(gpus) = map.and_then(|m| m.get(GPU_RESOURCE))
                && let Err(e) = check_gpu_count(&gpus.0)
            {
                findings.add(
                    format!("{path}.spec.containers[{i}].resources.{kind}.{GPU_RESOURCE}"),
                    e,
                );
            }
            for (name, quantity) in map.into_iter().flatten() {
                if name != GPU_RESOURCE
                    && let Err(e) = super::names::check_quantity(&quantity.0)
                {
                    findings.add(
                        format!("{path}.spec.containers[{i}].resources.{kind}.{name}"),
                        e,
                    );
                }
            }
        }
        for (j, mount) in container.volume_mounts.iter().flatten().enumerate() {
            let declared = spec.volumes.iter().flatten().any(|v| v.name == mount.name)
                || claims.contains(&mount.name);
            if !declared {
                findings.add(
                    format!("{path}.spec.containers[{i}].volumeMounts[{j}].name"),
                    format!(
                        "mounts volume `{}`, which the pod does not declare",
                        mount.name
                    ),
                );
            }
        }
    }
    for (i, volume) in spec.volumes.iter().flatten().enumerate() {
        let memory = volume.empty_dir.as_ref().and_then(|e| e.medium.as_deref()) == Some("Memory");
        if !memory {
            continue;
        }
        if let Some(limit) = volume
            .empty_dir
            .as_ref()
            .and_then(|e| e.size_limit.as_ref())
        {
            match crate::units::parse_quantity(&limit.0) {
                Ok(bytes) if bytes >= MIN_SHM_BYTES => {}
                _ => findings.add(
                    format!("{path}.spec.volumes[{i}].emptyDir.sizeLimit"),
                    format!(
                        "`{}` is below 1Gi: NCCL's buffers and vLLM's message queues do not fit \
                         (Docker's default of 64 MiB is what this volume replaces)",
                        limit.0
                    ),
                ),
            }
        }
        let mounted_at_shm = spec.containers.iter().any(|c| {
            c.volume_mounts
                .iter()
                .flatten()
                .any(|m| m.name == volume.name && m.mount_path == "/dev/shm")
        });
        if !mounted_at_shm {
            findings.add(
                format!("{path}.spec.volumes[{i}]"),
                format!(
                    "memory-backed volume `{}` is not mounted at /dev/shm by any container: \
                     NCCL and vLLM then fall back to Docker's 64 MiB default",
                    volume.name
                ),
            );
        }
    }
}

fn leader_matches_worker(leader: &PodSpec, worker: &PodSpec, findings: &mut Findings<'_>) {
    let image = |spec: &PodSpec| spec.containers.first().and_then(|c| c.image.clone());
    if image(leader) != image(worker) {
        findings.add(
            format!("{WORKER}.spec.containers[0].image"),
            format!(
                "{:?} differs from the leader's {:?}: every node of a group must run the same vLLM",
                image(worker).unwrap_or_default(),
                image(leader).unwrap_or_default()
            ),
        );
    }
    if gpus(leader) != gpus(worker) {
        findings.add(
            format!("{WORKER}.spec.containers[0].resources.limits"),
            format!(
                "{GPU_RESOURCE} {} differs from the leader's {}: vLLM expects the same GPUs on every node",
                gpus(worker),
                gpus(leader)
            ),
        );
    }
    if leader.node_selector != worker.node_selector {
        let shown = |selector: &Option<BTreeMap<String, String>>| {
            let pairs: Vec<String> = selector
                .iter()
                .flatten()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            if pairs.is_empty() {
                "none".to_string()
            } else {
                pairs.join(", ")
            }
        };
        findings.add(
            format!("{WORKER}.spec.nodeSelector"),
            format!(
                "{} differs from the leader's ({}): the group's pods can land on nodes with \
                 different GPUs",
                shown(&worker.node_selector),
                shown(&leader.node_selector)
            ),
        );
    }
}

/// GPUs a pod requests: the sum of its containers' `nvidia.com/gpu` limits (an invalid
/// count is its own problem, counted as none here).
pub fn gpus(spec: &PodSpec) -> i64 {
    spec.containers
        .iter()
        .filter_map(|c| c.resources.as_ref()?.limits.as_ref()?.get(GPU_RESOURCE))
        .filter_map(|q| check_gpu_count(&q.0).ok())
        .fold(0, i64::saturating_add)
}

/// TP and PP the first container starts vLLM with, read as vLLM's argparse reads them (the
/// last of repeated flags wins), in exec form or inside `sh -c`.
pub fn parallel_sizes(spec: &PodSpec) -> Option<(i64, i64)> {
    let flags = serve_flags(spec)?;
    let tp = flags.value("tensor-parallel-size")?;
    let pp = flags.value("pipeline-parallel-size").unwrap_or(1);
    Some((tp, pp))
}

fn serve_flags(spec: &PodSpec) -> Option<ServeFlags> {
    let container = spec.containers.first()?;
    ServeFlags::of_container(
        container.command.as_deref().unwrap_or_default(),
        container.args.as_deref().unwrap_or_default(),
    )
}

/// The leader's vLLM listens on `--port` (8000 when not given, vLLM's default): the port the
/// container declares must be that one.
fn leader_serves_its_port(leader: &PodSpec, findings: &mut Findings<'_>) {
    let Some(flags) = serve_flags(leader) else {
        return;
    };
    if flags.has("headless") {
        return;
    }
    let port: i64 = flags.value("port").unwrap_or(8000);
    let declared: Vec<i32> = leader
        .containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .map(|p| p.container_port)
        .collect();
    if !declared.is_empty() && !declared.iter().any(|p| i64::from(*p) == port) {
        findings.add(
            format!("{LEADER}.spec.containers[0].ports"),
            format!(
                "vLLM serves on port {port} (its last --port), which the container does not \
                 declare ({declared:?})"
            ),
        );
    }
}

/// Checks one Service on its own.
pub fn service(service: &Service, findings: &mut Findings<'_>) {
    metadata("metadata", &service.metadata, findings);
    match service.metadata.name.as_deref() {
        None => findings.add("metadata.name", "missing"),
        Some(name) => {
            if let Err(e) = check_dns1035_label(name) {
                findings.add("metadata.name", format!("not a DNS-1035 label: {e}"));
            }
        }
    }
    for (i, port) in service
        .spec
        .iter()
        .flat_map(|s| s.ports.iter().flatten())
        .enumerate()
    {
        if !(1..=65535).contains(&port.port) {
            findings.add(
                format!("spec.ports[{i}].port"),
                format!("{} is not a port (1–65535)", port.port),
            );
        }
        if let Some(IntOrString::Int(target)) = port.target_port
            && !(1..=65535).contains(&target)
        {
            findings.add(
                format!("spec.ports[{i}].targetPort"),
                format!("{target} is not a port (1–65535)"),
            );
        }
    }
    let selector = service.spec.as_ref().and_then(|s| s.selector.as_ref());
    if selector.is_none_or(BTreeMap::is_empty) {
        findings.add(
            "spec.selector",
            "missing: a Service without a selector sends traffic nowhere",
        );
    }
}

/// When the stream holds LeaderWorkerSets, the Service must select one of them's leaders, on
/// a port the leader serves.
pub fn service_selects_a_leader(
    service: &Service,
    sets: &[LeaderWorkerSet],
    findings: &mut Findings<'_>,
) {
    if sets.is_empty() {
        return;
    }
    let Some(spec) = &service.spec else {
        return;
    };
    let selector = spec.selector.clone().unwrap_or_default();
    let leader = sets.iter().find_map(|lws| {
        let template = lws.spec.leader_worker_template.leader_template.as_ref()?;
        let mut labels = template
            .metadata
            .as_ref()?
            .labels
            .clone()
            .unwrap_or_default();
        labels.insert(
            NAME_LABEL.into(),
            lws.metadata.name.clone().unwrap_or_default(),
        );
        let matches = selector.iter().all(|(k, v)| labels.get(k) == Some(v));
        matches.then_some(template)
    });
    let Some(leader) = leader else {
        let wanted: Vec<String> = selector.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        findings.add(
            "spec.selector",
            format!(
                "{{{}}} matches no LeaderWorkerSet's leader pods in this stream (their template \
                 labels plus {NAME_LABEL}: <name>)",
                wanted.join(", ")
            ),
        );
        return;
    };
    let served: Vec<i32> = leader
        .spec
        .iter()
        .flat_map(|s| &s.containers)
        .flat_map(|c| c.ports.iter().flatten())
        .map(|p| p.container_port)
        .collect();
    for (i, port) in spec.ports.iter().flatten().enumerate() {
        let target = match &port.target_port {
            Some(IntOrString::Int(p)) => *p,
            Some(IntOrString::String(_)) => continue,
            None => port.port,
        };
        if !served.contains(&target) {
            findings.add(
                format!("spec.ports[{i}].targetPort"),
                format!("{target} is not a containerPort of the leader ({served:?})"),
            );
        }
    }
}
