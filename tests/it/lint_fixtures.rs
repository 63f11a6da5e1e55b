//! A fixture per consistency lint that had none (`tests/fixtures/lints/`): each is a rendered
//! manifest with the one change the lint exists for. The lint names the field and says why;
//! the manifest with the change undone, or with the condition the lint needs removed, has no
//! such finding; and `lwsplan validate` refuses the fixture.

use lwsplan::validate::{Problem, validate_yaml};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(crate::root().join("tests/fixtures/lints").join(name)).unwrap()
}

fn at<'a>(problems: &'a [Problem], path: &str) -> Vec<&'a Problem> {
    problems.iter().filter(|p| p.path == path).collect()
}

/// `startupPolicy: LeaderReady` with a readiness probe on the leader of a multi-node group
/// deadlocks: the leader is Ready only once its workers have joined, and LWS creates the
/// workers only once the leader is Ready.
#[test]
fn leader_ready_with_a_leader_probe_deadlocks_a_group() {
    let text = fixture("leader-ready-deadlock.yaml");
    let problems = validate_yaml(&text);
    let found = at(&problems, "spec.startupPolicy");
    assert_eq!(found.len(), 1, "{problems:#?}");
    assert_eq!(found[0].object, "LeaderWorkerSet/vllm");
    assert!(
        found[0]
            .message
            .starts_with("LeaderReady with a leader readiness probe deadlocks"),
        "{}",
        found[0].message
    );
    assert!(found[0].message.contains("Use LeaderCreated"));

    // LeaderCreated, as lwsplan renders it: no deadlock.
    let created = text.replace("startupPolicy: LeaderReady", "startupPolicy: LeaderCreated");
    assert!(at(&validate_yaml(&created), "spec.startupPolicy").is_empty());
    // A group of one pod has no workers to wait for.
    let single = text.replace("    size: 2\n", "    size: 1\n");
    assert_ne!(single, text);
    assert!(at(&validate_yaml(&single), "spec.startupPolicy").is_empty());
    // Without a readiness probe the leader is Ready as soon as it runs.
    let unprobed = without_readiness_probe(&text);
    assert!(at(&validate_yaml(&unprobed), "spec.startupPolicy").is_empty());

    let path = crate::root().join("tests/fixtures/lints/leader-ready-deadlock.yaml");
    let (code, stdout, stderr) = crate::lwsplan(&["validate", path.to_str().unwrap()]);
    assert_eq!(code, 5, "problems found: {stdout}{stderr}");
    assert!(
        stderr.contains("spec.startupPolicy: LeaderReady"),
        "{stderr}"
    );
}

/// The fixture's leader with its readinessProbe block removed.
fn without_readiness_probe(text: &str) -> String {
    let mut out = Vec::new();
    let mut skipping = false;
    for line in text.lines() {
        if line.trim_start() == "readinessProbe:" {
            skipping = true;
            continue;
        }
        if skipping && line.starts_with("            ") {
            continue;
        }
        skipping = false;
        out.push(line);
    }
    assert!(out.len() < text.lines().count());
    out.join("\n") + "\n"
}

/// A memory-backed emptyDir that no container mounts at /dev/shm leaves NCCL and vLLM on the
/// container runtime's 64 MiB /dev/shm while the volume still counts against the pod's memory.
#[test]
fn a_memory_volume_must_be_mounted_at_dev_shm() {
    let text = fixture("memory-volume-not-at-dev-shm.yaml");
    let problems = validate_yaml(&text);
    let path = "spec.leaderWorkerTemplate.leaderTemplate.spec.volumes[1]";
    let found = at(&problems, path);
    assert_eq!(found.len(), 1, "{problems:#?}");
    assert_eq!(
        found[0].message,
        "memory-backed volume `nccl-shm` is not mounted at /dev/shm by any container: NCCL and \
         vLLM then fall back to Docker's 64 MiB default"
    );
    // The volume rendered at /dev/shm (volumes[0], `dshm`) is fine.
    assert!(
        at(
            &problems,
            "spec.leaderWorkerTemplate.leaderTemplate.spec.volumes[0]"
        )
        .is_empty()
    );
    // Mounted at another path, the rendered volume is flagged too.
    let elsewhere = text.replacen("- mountPath: /dev/shm", "- mountPath: /shm", 1);
    assert_ne!(elsewhere, text);
    let problems = validate_yaml(&elsewhere);
    let found = at(
        &problems,
        "spec.leaderWorkerTemplate.leaderTemplate.spec.volumes[0]",
    );
    assert_eq!(found.len(), 1, "{problems:#?}");
    assert!(
        found[0]
            .message
            .contains("`dshm` is not mounted at /dev/shm")
    );
    // A volume that is not memory-backed may go anywhere.
    let on_disk = text.replacen(
        "        - emptyDir:\n            medium: Memory\n            sizeLimit: 2Gi\n          name: nccl-shm",
        "        - emptyDir:\n            sizeLimit: 2Gi\n          name: nccl-shm",
        1,
    );
    assert_ne!(on_disk, text);
    assert!(at(&validate_yaml(&on_disk), path).is_empty());

    let file = crate::root().join("tests/fixtures/lints/memory-volume-not-at-dev-shm.yaml");
    let (code, stdout, stderr) = crate::lwsplan(&["validate", file.to_str().unwrap()]);
    assert_eq!(code, 5, "problems found: {stdout}{stderr}");
    assert!(
        stderr.contains("`nccl-shm` is not mounted at /dev/shm"),
        "{stderr}"
    );
}
