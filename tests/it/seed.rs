//! The published guide's two manifests (tests/fixtures/seed/), rendered from the deployment files
//! examples/gke-guide-*.yaml and
//! compared field by field: every published field is kept with its value, and the only
//! differences are the deliberate additions listed here (and in the README) with their reasons.

use std::collections::BTreeMap;

use std::path::Path;

use lwsplan::Deployment;
use serde_json::Value;

/// What lwsplan adds to the published manifests, and why.
const ADDITIONS: &[(&str, &str)] = &[
    (
        "LeaderWorkerSet.metadata.annotations",
        "the plan's key numbers (model, hardware, TP, PP, max_model_len, KV tokens, weight bytes)",
    ),
    (
        "LeaderWorkerSet.metadata.labels",
        "app.kubernetes.io/name and app.kubernetes.io/managed-by: lwsplan, to say what made it",
    ),
    (
        "LeaderWorkerSet.spec.startupPolicy",
        "LeaderCreated made explicit: LeaderReady would deadlock the group",
    ),
    (
        "LeaderWorkerSet.spec.leaderWorkerTemplate.leaderTemplate.metadata.labels.app.kubernetes.io/managed-by",
        "the same provenance labels on the pods",
    ),
    (
        "LeaderWorkerSet.spec.leaderWorkerTemplate.leaderTemplate.metadata.labels.app.kubernetes.io/name",
        "the same provenance labels on the pods",
    ),
    (
        "LeaderWorkerSet.spec.leaderWorkerTemplate.leaderTemplate.spec.containers[0].env[1]",
        "VLLM_ENGINE_READY_TIMEOUT_S: vLLM's 600 s engine timeout is shorter than loading 671B",
    ),
    (
        "LeaderWorkerSet.spec.leaderWorkerTemplate.leaderTemplate.spec.containers[0].startupProbe",
        "a startup probe sized from the bytes the pod loads, so loading is not cut short",
    ),
    (
        "LeaderWorkerSet.spec.leaderWorkerTemplate.leaderTemplate.spec.containers[0].resources.limits.memory",
        "a memory limit covering /dev/shm, the shard passing through the page cache and the processes",
    ),
    (
        "LeaderWorkerSet.spec.leaderWorkerTemplate.leaderTemplate.spec.containers[0].resources.requests",
        "CPU, memory and ephemeral storage (the downloaded weights) requested, as vLLM's LWS example does",
    ),
    (
        "LeaderWorkerSet.spec.leaderWorkerTemplate.workerTemplate.spec.containers[0].resources.limits.memory",
        "the same memory limit on the workers",
    ),
    (
        "LeaderWorkerSet.spec.leaderWorkerTemplate.workerTemplate.spec.containers[0].resources.requests",
        "the same requests on the workers",
    ),
    (
        "LeaderWorkerSet.spec.leaderWorkerTemplate.leaderTemplate.spec.containers[0].securityContext",
        "no privilege escalation and the runtime's default seccomp profile: Pod Security \"baseline\"",
    ),
    (
        "LeaderWorkerSet.spec.leaderWorkerTemplate.workerTemplate.spec.containers[0].securityContext",
        "the same security context on the workers",
    ),
    (
        "LeaderWorkerSet.spec.leaderWorkerTemplate.leaderTemplate.spec.containers[0].readinessProbe.timeoutSeconds",
        "5 s, not Kubernetes' 1 s: a loaded server's /health can take longer and the leader would flap out of the Service",
    ),
    (
        "LeaderWorkerSet.spec.leaderWorkerTemplate.leaderTemplate.spec.containers[0].livenessProbe",
        "a liveness probe once started, with minutes of patience: a hung server is restarted",
    ),
    (
        "LeaderWorkerSet.spec.leaderWorkerTemplate.leaderTemplate.spec.terminationGracePeriodSeconds",
        "120 s for requests in flight to finish, not Kubernetes' 30",
    ),
    (
        "LeaderWorkerSet.spec.leaderWorkerTemplate.workerTemplate.spec.terminationGracePeriodSeconds",
        "the same on the workers",
    ),
    (
        "LeaderWorkerSet.spec.leaderWorkerTemplate.workerTemplate.metadata",
        "the same provenance labels on the worker pods",
    ),
    (
        "LeaderWorkerSet.spec.leaderWorkerTemplate.workerTemplate.spec.containers[0].env[1]",
        "VLLM_ENGINE_READY_TIMEOUT_S on the workers too",
    ),
    (
        "LeaderWorkerSet.spec.leaderWorkerTemplate.workerTemplate.spec.nodeSelector",
        "the guide forgets it: without it a worker can land on a node with other GPUs",
    ),
    (
        "Service.metadata.labels",
        "the same provenance labels on the Service",
    ),
];

/// Renders a deployment file from `examples/`: the checked-in options of the guide.
fn render(example: &str) -> Vec<Value> {
    let path = format!("{}/examples/{example}", crate::ROOT.as_str());
    let (_, manifests) = Deployment::from_file(Path::new(&path))
        .unwrap()
        .render()
        .unwrap();
    vec![
        serde_json::to_value(&manifests.leader_worker_set).unwrap(),
        serde_json::to_value(&manifests.service).unwrap(),
    ]
}

fn seed(file: &str) -> Vec<Value> {
    let path = format!("{}/tests/fixtures/seed/{file}", crate::ROOT.as_str());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    lwsplan::machinery::from_str_multiple(&text).unwrap()
}

/// Walks `published`: every leaf must be in `rendered` with the same value. Returns the paths
/// `rendered` has that `published` does not (the additions), each at its topmost key.
fn compare(
    published: &Value,
    rendered: &Value,
    path: &str,
    missing: &mut Vec<String>,
    added: &mut Vec<String>,
) {
    match (published, rendered) {
        (Value::Object(p), Value::Object(r)) => {
            for (key, pv) in p {
                let child = format!("{path}.{key}");
                match r.get(key) {
                    Some(rv) => compare(pv, rv, &child, missing, added),
                    None => missing.push(format!("{child}: absent")),
                }
            }
            for key in r.keys().filter(|k| !p.contains_key(*k)) {
                added.push(format!("{path}.{key}"));
            }
        }
        (Value::Array(p), Value::Array(r)) => {
            for (i, pv) in p.iter().enumerate() {
                match r.get(i) {
                    Some(rv) => compare(pv, rv, &format!("{path}[{i}]"), missing, added),
                    None => missing.push(format!("{path}[{i}]: absent")),
                }
            }
            for i in p.len()..r.len() {
                added.push(format!("{path}[{i}]"));
            }
        }
        (p, r) if p == r => {}
        (p, r) => missing.push(format!("{path}: published {p}, rendered {r}")),
    }
}

/// Additions for a model that is not gated: the token's reference is optional, so the pods
/// start without the Secret.
const NOT_GATED: &[&str] = &[
    "LeaderWorkerSet.spec.leaderWorkerTemplate.leaderTemplate.spec.containers[0].env[0].valueFrom.secretKeyRef.optional",
    "LeaderWorkerSet.spec.leaderWorkerTemplate.workerTemplate.spec.containers[0].env[0].valueFrom.secretKeyRef.optional",
];

fn check(file: &str, rendered: Vec<Value>) {
    check_with(file, rendered, &[]);
}

fn check_with(file: &str, rendered: Vec<Value>, extra: &[&str]) {
    let published = seed(file);
    assert_eq!(published.len(), rendered.len(), "{file}: document count");
    let mut missing = Vec::new();
    let mut added = Vec::new();
    for (p, r) in published.iter().zip(&rendered) {
        let kind = p["kind"].as_str().unwrap();
        compare(p, r, kind, &mut missing, &mut added);
    }
    assert_eq!(
        missing,
        Vec::<String>::new(),
        "{file}: published fields lost or changed"
    );
    let expected: Vec<&str> = ADDITIONS
        .iter()
        .map(|(path, _)| *path)
        .chain(extra.iter().copied())
        .collect();
    added.sort();
    let mut expected = expected;
    expected.sort();
    assert_eq!(
        added, expected,
        "{file}: additions differ from the documented list"
    );
}

#[test]
fn deepseek_r1_reproduces_the_published_manifest() {
    check_with(
        "vllm-deepseek-r1-A3.yaml",
        render("gke-guide-deepseek-r1.yaml"),
        NOT_GATED,
    );
}

#[test]
fn llama_405b_reproduces_the_published_manifest() {
    check(
        "vllm-llama3-405b-A3.yaml",
        render("gke-guide-llama-3.1-405b.yaml"),
    );
}

/// The published manifests themselves fail validation for the one real defect: the worker
/// template has no nodeSelector.
#[test]
fn the_published_manifests_fail_only_on_the_missing_worker_node_selector() {
    for file in ["vllm-deepseek-r1-A3.yaml", "vllm-llama3-405b-A3.yaml"] {
        let path = format!("{}/tests/fixtures/seed/{file}", crate::ROOT.as_str());
        let problems = lwsplan::validate::validate_yaml(&std::fs::read_to_string(path).unwrap());
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            ["spec.leaderWorkerTemplate.workerTemplate.spec.nodeSelector"],
            "{file}"
        );
    }
}

#[test]
fn every_addition_has_a_reason() {
    let reasons: BTreeMap<&str, &str> = ADDITIONS.iter().copied().collect();
    assert_eq!(reasons.len(), ADDITIONS.len(), "duplicate paths");
    assert!(reasons.values().all(|r| !r.is_empty()));
}
