//! Consistency rules for multi-node vLLM on LeaderWorkerSet, beyond what the schema says.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Findings;
use super::names::{
    check_dns1035_label, check_dns1123_label, check_label_value, check_qualified_name,
    max_lws_name_len,
};
use crate::manifest::{LeaderWorkerSet, NAME_LABEL};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

const LEADER: &str = "spec.leaderWorkerTemplate.leaderTemplate";
const WORKER: &str = "spec.leaderWorkerTemplate.workerTemplate";
/// The resource name of the NVIDIA device plugin.
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";
/// LWS webhook bounds on `spec.replicas` (lws #913).
const MAX_REPLICAS: i32 = 1_000_000;

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
        if gpus * i64::from(size) != tp * pp {
            findings.add(
                format!("{LEADER}.spec.containers[0].resources.limits"),
                format!(
                    "{GPU_RESOURCE} {gpus} × size {size} = {} GPUs, but vLLM is started with \
                     TP {tp} × PP {pp} = {}: every GPU of the group must hold exactly one rank",
                    gpus * i64::from(size),
                    tp * pp
                ),
            );
        }
    }
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
    if leader.node_selector.is_some() && leader.node_selector != worker.node_selector {
        let wanted: Vec<String> = leader
            .node_selector
            .iter()
            .flatten()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        findings.add(
            format!("{WORKER}.spec.nodeSelector"),
            format!(
                "differs from the leader's ({}): workers can land on nodes with other GPUs",
                wanted.join(", ")
            ),
        );
    }
}

/// GPUs a pod requests: the sum of its containers' `nvidia.com/gpu` limits.
pub fn gpus(spec: &PodSpec) -> i64 {
    spec.containers
        .iter()
        .filter_map(|c| c.resources.as_ref()?.limits.as_ref()?.get(GPU_RESOURCE))
        .filter_map(|q| q.0.parse::<i64>().ok())
        .sum()
}

/// TP and PP from the first container's command and args, whether exec form or `sh -c`.
pub fn parallel_sizes(spec: &PodSpec) -> Option<(i64, i64)> {
    let container = spec.containers.first()?;
    let words: Vec<&str> = container
        .command
        .iter()
        .flatten()
        .chain(container.args.iter().flatten())
        .flat_map(|s| s.split_whitespace())
        .collect();
    let flag = |names: &[&str]| -> Option<i64> {
        words.iter().enumerate().find_map(|(i, w)| {
            names.iter().find_map(|name| {
                if *w == *name {
                    words.get(i + 1)?.trim_matches(['"', '\'']).parse().ok()
                } else {
                    w.strip_prefix(name)?.strip_prefix('=')?.parse().ok()
                }
            })
        })
    };
    let tp = flag(&["--tensor-parallel-size", "--tensor_parallel_size", "-tp"])?;
    let pp = flag(&[
        "--pipeline-parallel-size",
        "--pipeline_parallel_size",
        "-pp",
    ])
    .unwrap_or(1);
    Some((tp, pp))
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
