//! What render refuses, checked in any manifest (issue 20: one rule set for render and
//! validate): the same model, image and vLLM flags on every pod of a group, a memory limit
//! above the memory-backed `/dev/shm`, no literal token. Kept apart from `lints.rs` so each
//! rule stays one function.

use k8s_openapi::api::core::v1::{Container, PodSpec};

use super::Findings;
use crate::manifest::LeaderWorkerSet;
use crate::manifest::serve::ServeFlags;

const LEADER: &str = "spec.leaderWorkerTemplate.leaderTemplate";
const WORKER: &str = "spec.leaderWorkerTemplate.workerTemplate";

/// Flags that differ between the leader and the workers by design: the API port and address
/// (only the leader serves), the node's rank and headless mode, a worker's first DP rank.
const ROLE_FLAGS: &[&str] = &[
    "port",
    "host",
    "headless",
    "node-rank",
    "data-parallel-start-rank",
    "api-server-count",
    // Compared by lints.rs' layout rule, which names both sizes.
    "tensor-parallel-size",
    "pipeline-parallel-size",
    // Compared by wiring.rs, which reads them as vLLM's data-parallel and expert-parallel
    // wiring (local engines, ranks, EP on every rank or none, DCP dividing TP).
    "data-parallel-size",
    "data-parallel-size-local",
    "data-parallel-address",
    "data-parallel-rpc-port",
    "enable-expert-parallel",
    "decode-context-parallel-size",
];

/// Variables that carry a Hugging Face token (huggingface_hub reads the first two; vLLM's
/// guides and lwsplan's default Secret key use the others).
const TOKEN_VARIABLES: &[&str] = &["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_API_TOKEN"];

/// Every group-wide rule for one LeaderWorkerSet.
pub(crate) fn check(lws: &LeaderWorkerSet, findings: &mut Findings<'_>) {
    let template = &lws.spec.leader_worker_template;
    let worker = template.worker_template.spec.as_ref();
    let leader = template
        .leader_template
        .as_ref()
        .and_then(|t| t.spec.as_ref());
    for (path, spec) in [(LEADER, leader), (WORKER, worker)] {
        if let Some(spec) = spec {
            literal_tokens(path, spec, findings);
            memory_covers_shm(path, spec, findings);
        }
    }
    if template.size.unwrap_or(1) > 1
        && let (Some(leader), Some(worker)) = (leader, worker)
    {
        same_model_and_flags(leader, worker, findings);
    }
}

/// The model a container serves: `serve`'s positional argument, else `--model`.
fn served_model(container: &Container) -> Option<String> {
    let argv: Vec<String> = container
        .command
        .iter()
        .flatten()
        .chain(container.args.iter().flatten())
        .cloned()
        .collect();
    let words: Vec<String> = match argv.iter().position(|w| w == "-c") {
        Some(i) => argv[i + 1..]
            .iter()
            .flat_map(|s| s.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .collect(),
        None => argv,
    };
    let serve = words.iter().position(|w| w == "serve")?;
    match words.get(serve + 1) {
        Some(model) if !model.starts_with('-') => Some(model.trim_matches(['"', '\'']).to_string()),
        _ => ServeFlags::parse(&words[serve + 1..])
            .last("model")
            .flatten()
            .map(str::to_string),
    }
}

fn flags(container: &Container) -> Option<ServeFlags> {
    ServeFlags::of_container(
        container.command.as_deref().unwrap_or_default(),
        container.args.as_deref().unwrap_or_default(),
    )
}

/// Every node of a group loads the same model with the same engine flags: a worker serving
/// another checkpoint, or another max-model-len, breaks the group at start-up or worse.
fn same_model_and_flags(leader: &PodSpec, worker: &PodSpec, findings: &mut Findings<'_>) {
    let (Some(l), Some(w)) = (leader.containers.first(), worker.containers.first()) else {
        return;
    };
    if let (Some(lm), Some(wm)) = (served_model(l), served_model(w))
        && lm != wm
    {
        findings.add(
            format!("{WORKER}.spec.containers[0].command"),
            format!(
                "workers serve `{wm}`, the leader `{lm}`: every node of a group must load the \
                 same model"
            ),
        );
    }
    let (Some(lf), Some(wf)) = (flags(l), flags(w)) else {
        return;
    };
    let engine = |f: &ServeFlags| {
        let mut names: Vec<&str> = f
            .flags
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| !ROLE_FLAGS.contains(n))
            .collect();
        names.sort();
        names.dedup();
        names
            .into_iter()
            .map(|n| (n.to_string(), f.last(n).flatten().map(str::to_string)))
            .collect::<Vec<_>>()
    };
    let (le, we) = (engine(&lf), engine(&wf));
    for (name, value) in &le {
        let theirs = we.iter().find(|(n, _)| n == name).map(|(_, v)| v);
        if theirs != Some(value) {
            findings.add(
                format!("{WORKER}.spec.containers[0].command"),
                format!(
                    "the leader starts vLLM with --{name}{}, the workers {}: every node of a \
                     group must run the same engine",
                    value.as_ref().map(|v| format!(" {v}")).unwrap_or_default(),
                    match theirs {
                        None => "without it".to_string(),
                        Some(v) => format!("with {}", v.as_deref().unwrap_or("it as a switch")),
                    }
                ),
            );
        }
    }
    for (name, _) in &we {
        if !le.iter().any(|(n, _)| n == name) {
            findings.add(
                format!("{WORKER}.spec.containers[0].command"),
                format!(
                    "the workers start vLLM with --{name}, the leader without it: every node \
                     of a group must run the same engine"
                ),
            );
        }
    }
}

/// A token in the manifest is a token in every copy of it (Git, `kubectl get -o yaml`): it
/// belongs in a Secret, by reference.
fn literal_tokens(path: &str, spec: &PodSpec, findings: &mut Findings<'_>) {
    for (i, c) in spec.containers.iter().enumerate() {
        for (j, var) in c.env.iter().flatten().enumerate() {
            let Some(value) = var.value.as_deref().filter(|v| !v.is_empty()) else {
                continue;
            };
            let named = TOKEN_VARIABLES.contains(&var.name.as_str());
            let shaped = value.starts_with("hf_")
                && value.len() >= 30
                && value[3..].chars().all(|c| c.is_ascii_alphanumeric());
            if named || shaped {
                findings.add(
                    format!("{path}.spec.containers[{i}].env[{j}].value"),
                    format!(
                        "`{}` holds a literal Hugging Face token: anyone who reads the manifest \
                         has it. Reference a Secret (valueFrom.secretKeyRef) instead",
                        var.name
                    ),
                );
            }
        }
    }
}

/// A memory-backed `/dev/shm` counts against the container's memory: a limit at or below its
/// size gets the pod killed as shared memory fills.
fn memory_covers_shm(path: &str, spec: &PodSpec, findings: &mut Findings<'_>) {
    for (i, c) in spec.containers.iter().enumerate() {
        let limit = c
            .resources
            .as_ref()
            .and_then(|r| r.limits.as_ref())
            .and_then(|l| l.get("memory"))
            .and_then(|q| crate::units::parse_quantity(&q.0).ok());
        let Some(limit) = limit else { continue };
        for mount in c.volume_mounts.iter().flatten() {
            let shm = spec
                .volumes
                .iter()
                .flatten()
                .find(|v| v.name == mount.name)
                .and_then(|v| v.empty_dir.as_ref())
                .filter(|e| e.medium.as_deref() == Some("Memory"))
                .and_then(|e| e.size_limit.as_ref())
                .and_then(|q| crate::units::parse_quantity(&q.0).ok());
            if let Some(shm) = shm
                && limit <= shm
            {
                findings.add(
                    format!("{path}.spec.containers[{i}].resources.limits.memory"),
                    format!(
                        "{} leaves nothing beside the memory-backed volume `{}` ({}), which \
                         counts against it: raise the limit well above it",
                        crate::units::gib(limit),
                        mount.name,
                        crate::units::gib(shm)
                    ),
                );
            }
        }
    }
}
