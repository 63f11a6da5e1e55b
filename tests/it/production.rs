//! Manifests a platform engineer applies as they are (issue 20): each "done when" check of
//! the issue, run through the real binary.

use serde_json::Value;

use crate::lwsplan;

/// Renders with these flags as JSON (a `v1` List) and returns the LeaderWorkerSet.
fn render_json(args: &[&str]) -> (Value, String) {
    let mut all = vec!["render", "--format", "json"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = lwsplan(&all);
    assert_eq!(code, 0, "{args:?}: {stderr}");
    let list: Value = serde_json::from_str(&stdout).unwrap();
    (list["items"][0].clone(), stderr)
}

/// Every container of both pod templates.
fn containers(lws: &Value) -> Vec<Value> {
    ["leaderTemplate", "workerTemplate"]
        .iter()
        .flat_map(|t| {
            lws["spec"]["leaderWorkerTemplate"][t]["spec"]["containers"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

const R1: &[&str] = &["--model", "deepseek-r1", "--hardware", "h100-80gb"];

fn with<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    base.iter().chain(extra).copied().collect()
}

#[test]
fn a_default_render_requests_cpu_memory_and_ephemeral_storage() {
    let (lws, stderr) = render_json(R1);
    let all = containers(&lws);
    assert_eq!(all.len(), 2);
    for c in &all {
        let requests = &c["resources"]["requests"];
        for key in ["cpu", "memory", "ephemeral-storage"] {
            assert!(requests[key].is_string(), "{key} in {requests}");
        }
        assert_eq!(c["resources"]["limits"]["memory"], requests["memory"]);
    }
    assert!(
        stderr.contains("no --model-cache: every pod downloads"),
        "{stderr}"
    );
    // With a cache, the weights need no room in the writable layer.
    let (cached, _) = render_json(&with(R1, &["--model-cache", "pvc:r1-weights"]));
    let eph = |lws: &Value| {
        containers(lws)[0]["resources"]["requests"]["ephemeral-storage"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(eph(&cached), "50Gi");
    assert_ne!(eph(&lws), "50Gi");
}

#[test]
fn requests_beyond_the_node_and_small_caches_are_refused() {
    for (extra, needle) in [
        (
            &["--memory", "5000Gi"][..],
            "--memory: requests.memory 5000Gi is more than",
        ),
        (
            &["--cpu", "500"][..],
            "--cpu: requests.cpu 500 is more than",
        ),
        (
            &["--model-cache", "per-pod:100Gi"][..],
            "--model-cache: a per-pod claim of 100.00 GiB cannot hold deepseek-r1",
        ),
    ] {
        let (code, stdout, stderr) = lwsplan(&with(&with(&["render"], R1), extra));
        assert_eq!(code, 3, "{extra:?}: {stderr}");
        assert!(stdout.is_empty());
        assert!(stderr.contains(needle), "{extra:?}: {stderr}");
    }
    let (code, _, stderr) = lwsplan(&with(&with(&["render"], R1), &["--memory", "5000Gi"]));
    assert_eq!(code, 3);
    assert!(stderr.contains("1827.00 GiB of allocatable"), "{stderr}");
}

#[test]
fn flags_override_the_derived_requests() {
    let (lws, _) = render_json(&with(R1, &["--cpu", "100", "--memory", "1000Gi"]));
    for c in containers(&lws) {
        assert_eq!(c["resources"]["requests"]["cpu"], "100");
        assert_eq!(c["resources"]["requests"]["memory"], "1000Gi");
        assert_eq!(c["resources"]["limits"]["memory"], "1000Gi");
    }
}

#[test]
fn hf_secret_none_renders_no_secret_reference() {
    let gpt = ["--model", "gpt-oss-120b", "--hardware", "h100-80gb"];
    let (lws, _) = render_json(&with(&gpt, &["--hf-secret", "none"]));
    assert!(!lws.to_string().contains("secretKeyRef"), "{lws}");
    // The same from a deployment file.
    let dir = crate::temp_dir("hf-secret-none");
    let file = dir.join("d.yaml");
    std::fs::write(
        &file,
        "model: gpt-oss-120b\nhardware: h100-80gb\nrender: {hf_secret: none}\n",
    )
    .unwrap();
    let (lws, _) = render_json(&["-f", file.to_str().unwrap()]);
    assert!(!lws.to_string().contains("secretKeyRef"), "{lws}");
}

#[test]
fn only_gated_models_need_the_secret() {
    // DeepSeek-R1 is not gated: the reference is optional and no Secret is to be created.
    let (lws, stderr) = render_json(R1);
    let env = &containers(&lws)[0]["env"][0];
    assert_eq!(env["valueFrom"]["secretKeyRef"]["optional"], true, "{env}");
    assert!(!stderr.contains("create secret"), "{stderr}");
    // Llama is gated: required, and the next steps create it.
    let (lws, stderr) = render_json(&[
        "--model",
        "llama-3.1-8b-instruct",
        "--hardware",
        "h100-80gb",
    ]);
    let env = &containers(&lws)[0]["env"][0];
    assert!(
        env["valueFrom"]["secretKeyRef"]["optional"].is_null(),
        "{env}"
    );
    assert!(
        stderr.contains("kubectl create secret generic hf-secret"),
        "{stderr}"
    );
}

#[test]
fn placement_is_the_users_to_set() {
    let dir = crate::temp_dir("placement");
    let file = dir.join("d.yaml");
    std::fs::write(
        &file,
        "model: deepseek-r1\nhardware: h100-80gb\nrender:\n  annotations:\n    \
         leaderworkerset.sigs.k8s.io/exclusive-topology: cloud.google.com/gke-nodepool\n",
    )
    .unwrap();
    let (lws, _) = render_json(&["-f", file.to_str().unwrap()]);
    assert_eq!(
        lws["metadata"]["annotations"]["leaderworkerset.sigs.k8s.io/exclusive-topology"],
        "cloud.google.com/gke-nodepool"
    );
    // The flag, a subgroup, and the GPU taint's toleration.
    let (lws, _) = render_json(&with(
        R1,
        &[
            "--exclusive-topology",
            "cloud.google.com/gce-topology-block",
            "--subgroup-size",
            "1",
            "--gpu-toleration",
        ],
    ));
    assert_eq!(
        lws["metadata"]["annotations"]["leaderworkerset.sigs.k8s.io/exclusive-topology"],
        "cloud.google.com/gce-topology-block"
    );
    assert_eq!(
        lws["spec"]["leaderWorkerTemplate"]["subGroupPolicy"]["subGroupSize"],
        1
    );
    for t in ["leaderTemplate", "workerTemplate"] {
        assert_eq!(
            lws["spec"]["leaderWorkerTemplate"][t]["spec"]["tolerations"],
            serde_json::json!([{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}])
        );
    }
    let (code, _, stderr) = lwsplan(&with(&with(&["render"], R1), &["--subgroup-size", "3"]));
    assert_eq!(code, 3, "{stderr}");
}

#[test]
fn every_container_is_secured_and_the_level_is_said() {
    let (lws, stderr) = render_json(R1);
    for c in containers(&lws) {
        let sc = &c["securityContext"];
        assert_eq!(sc["allowPrivilegeEscalation"], false, "{sc}");
        assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault", "{sc}");
    }
    assert!(
        stderr.contains("# pod security: meets \"baseline\""),
        "{stderr}"
    );
    let (lws, stderr) = render_json(&with(
        R1,
        &[
            "--platform",
            "nvidia",
            "--rdma-resource",
            "rdma/rdma_shared_device_a=1",
        ],
    ));
    for c in containers(&lws) {
        assert_eq!(c["securityContext"]["capabilities"]["add"][0], "IPC_LOCK");
        assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    }
    assert!(
        stderr.contains("meets \"privileged\", not higher: capability IPC_LOCK"),
        "{stderr}"
    );
}

#[test]
fn probes_are_patient_and_shutdown_drains() {
    let (lws, _) = render_json(R1);
    let template = &lws["spec"]["leaderWorkerTemplate"];
    let leader = &template["leaderTemplate"]["spec"]["containers"][0];
    assert!(leader["readinessProbe"]["timeoutSeconds"].as_i64().unwrap() >= 3);
    let liveness = &leader["livenessProbe"];
    assert_eq!(liveness["httpGet"]["path"], "/health");
    // Minutes of failures, not seconds, before a restart recreates the group.
    let patience = liveness["periodSeconds"].as_i64().unwrap()
        * liveness["failureThreshold"].as_i64().unwrap();
    assert!(patience >= 120, "{liveness}");
    assert!(template["workerTemplate"]["spec"]["containers"][0]["livenessProbe"].is_null());
    for t in ["leaderTemplate", "workerTemplate"] {
        let grace = template[t]["spec"]["terminationGracePeriodSeconds"].as_i64();
        assert!(grace.unwrap() >= 60, "{t}");
    }
}

/// The pod annotations of the leader.
fn pod_annotations(lws: &Value) -> Value {
    lws["spec"]["leaderWorkerTemplate"]["leaderTemplate"]["metadata"]["annotations"].clone()
}

#[test]
fn gke_fabrics_are_wired_as_googles_manifests() {
    let llama = ["--model", "llama-3.1-405b-instruct", "--hardware"];
    // A3 Ultra: GPUDirect RDMA through multi-networking and the gIB plugin, no device plugin.
    let (lws, stderr) = render_json(&with(&llama, &["h200-141gb", "--nodes", "2"]));
    let annotations = pod_annotations(&lws);
    let interfaces = annotations["networking.gke.io/interfaces"]
        .as_str()
        .unwrap();
    assert!(interfaces.contains(r#""network":"rdma-7""#), "{interfaces}");
    let leader = &containers(&lws)[0];
    let env = leader["env"].to_string();
    assert!(env.contains("/usr/local/gib/lib64"), "{env}");
    assert!(env.contains("tuner_config_a3u"), "{env}");
    assert!(
        stderr.contains("# network:      GPUDirect RDMA"),
        "{stderr}"
    );
    // A3 Mega: the TCPXO daemon as a native sidecar.
    let (lws, _) = render_json(&with(&llama, &["h100-mega-80gb"]));
    let init = &lws["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"]["initContainers"][0];
    assert_eq!(init["name"], "tcpxo-daemon");
    assert_eq!(init["restartPolicy"], "Always");
    assert!(pod_annotations(&lws)["devices.gke.io/container.tcpxo-daemon"].is_string());
    // A3 High stays on pod networking unless asked; --network tcpx wires TCPX.
    let (lws, _) = render_json(R1);
    assert!(pod_annotations(&lws).is_null());
    let (lws, _) = render_json(&with(R1, &["--network", "tcpx"]));
    assert_eq!(
        lws["spec"]["leaderWorkerTemplate"]["leaderTemplate"]["spec"]["initContainers"][0]["name"],
        "tcpx-daemon"
    );
    // On-prem, the profile's fabric wires nothing GKE-specific.
    let (lws, _) = render_json(&with(
        &llama,
        &["h200-141gb", "--nodes", "2", "--platform", "nvidia"],
    ));
    assert!(pod_annotations(&lws).is_null());
    assert!(!lws.to_string().contains("/usr/local/gib"));
}

#[test]
fn an_rdma_resource_on_gke_warns() {
    let (_, stderr) = render_json(&with(
        R1,
        &["--rdma-resource", "rdma/rdma_shared_device_a=1"],
    ));
    assert!(
        stderr.contains(
            "--rdma-resource with --platform gke: GKE offers no RDMA device-plugin resource"
        ),
        "{stderr}"
    );
}

/// Validates `text` from a file; exit status and stderr.
fn validate_text(name: &str, text: &str) -> (i32, String) {
    let dir = crate::temp_dir(&format!("validate-{name}"));
    let file = dir.join("m.yaml");
    std::fs::write(&file, text).unwrap();
    let (code, _, stderr) = lwsplan(&["validate", file.to_str().unwrap()]);
    (code, stderr)
}

fn rendered_yaml() -> String {
    let (code, stdout, stderr) = lwsplan(&with(&with(&["render", "-q"], R1), &[]));
    assert_eq!(code, 0, "{stderr}");
    stdout
}

/// Replaces the `n`th (0-based) occurrence of `from`.
fn replace_nth(text: &str, from: &str, to: &str, n: usize) -> String {
    let at = text.match_indices(from).nth(n).unwrap().0;
    format!("{}{to}{}", &text[..at], &text[at + from.len()..])
}

#[test]
fn validate_refuses_what_render_refuses() {
    let yaml = rendered_yaml();
    assert_eq!(validate_text("ok", &yaml).0, 0);
    // A worker serving another model than its leader (the second `serve` is the worker's).
    let other = replace_nth(
        &yaml,
        "- deepseek-ai/DeepSeek-R1",
        "- deepseek-ai/DeepSeek-V3",
        1,
    );
    let (code, stderr) = validate_text("model", &other);
    assert_eq!(code, 5, "{stderr}");
    assert!(stderr.contains("must load the same model"), "{stderr}");
    // A memory limit below the memory-backed /dev/shm.
    let memory = yaml
        .lines()
        .find(|l| l.trim_start().starts_with("memory: "))
        .unwrap();
    let small = yaml.replace(memory, &memory.replace(memory.trim(), "memory: 2Gi"));
    let (code, stderr) = validate_text("shm", &small);
    assert_eq!(code, 5, "{stderr}");
    assert!(stderr.contains("memory-backed volume `dshm`"), "{stderr}");
    // A literal token.
    let token = yaml.replacen(
        "          - name: HF_TOKEN\n            valueFrom:\n              secretKeyRef:\n                key: hf_api_token\n                name: hf-secret\n                optional: true\n",
        "          - name: HF_TOKEN\n            value: hf_abcdefghijklmnopqrstuvwxyz0123456789\n",
        1,
    );
    assert_ne!(token, yaml, "the rendered env changed shape");
    let (code, stderr) = validate_text("token", &token);
    assert_eq!(code, 5, "{stderr}");
    assert!(stderr.contains("literal Hugging Face token"), "{stderr}");
}

#[test]
fn validate_reads_lists_and_refuses_empty_streams() {
    let (code, stdout, _) = lwsplan(&with(&with(&["render", "-q", "--format", "json"], R1), &[]));
    assert_eq!(code, 0);
    let mut list: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(validate_text("list-ok", &stdout).0, 0);
    list["items"][0]["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"]["containers"][0]["resources"]
        ["limits"]["nvidia.com/gpu"] = "4".into();
    let (code, stderr) = validate_text("list", &list.to_string());
    assert_eq!(code, 5, "{stderr}");
    assert!(
        stderr.contains("nvidia.com/gpu 4 differs from the leader's 8"),
        "{stderr}"
    );
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {}\n";
    let (code, stderr) = validate_text("nothing", deployment);
    assert_ne!(code, 0);
    assert!(stderr.contains("nothing validated"), "{stderr}");
}

#[test]
fn unknown_fields_in_kubernetes_types_of_a_deployment_file_are_errors() {
    let dir = crate::temp_dir("operater");
    let file = dir.join("d.yaml");
    std::fs::write(
        &file,
        "model: deepseek-r1\nhardware: h100-80gb\nrender:\n  pod:\n    tolerations:\n      \
         - key: nvidia.com/gpu\n        operater: Exists\n        efect: NoSchedule\n",
    )
    .unwrap();
    let (code, stdout, stderr) = lwsplan(&["render", "-f", file.to_str().unwrap()]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains(
            "line 7 column 9: unknown field `operater` at render.pod.tolerations[0].operater"
        ),
        "{stderr}"
    );
}

#[test]
fn cli_habits() {
    // -o out.json writes JSON; a contradicting --format is an error.
    let dir = crate::temp_dir("habits");
    let out = dir.join("out.json");
    let (code, _, stderr) = lwsplan(&with(&["render", "-q", "-o", out.to_str().unwrap()], R1));
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["kind"],
        "List"
    );
    let (code, _, stderr) = lwsplan(&with(
        &[
            "render",
            "-q",
            "-o",
            out.to_str().unwrap(),
            "--format",
            "yaml",
        ],
        R1,
    ));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("contradicts"), "{stderr}");
    // Repository ids, GKE labels and -n.
    let (lws, _) = render_json(&[
        "--model",
        "deepseek-ai/DeepSeek-R1",
        "--hardware",
        "nvidia-h100-80gb",
        "-n",
        "llm",
    ]);
    assert_eq!(lws["metadata"]["namespace"], "llm");
    assert_eq!(
        lws["metadata"]["annotations"]["lwsplan/model"],
        "deepseek-r1"
    );
    // Man pages per subcommand, with options, exit statuses and examples.
    let (code, page, _) = lwsplan(&["man", "render"]);
    assert_eq!(code, 0);
    for needle in [
        "lwsplan\\-render",
        "\\-\\-model\\-cache",
        "EXIT STATUS",
        "EXAMPLES",
    ] {
        assert!(page.contains(needle), "{needle}");
    }
    // Completions complete the built-in ids.
    let (code, script, _) = lwsplan(&["completions", "bash"]);
    assert_eq!(code, 0);
    assert!(script.contains("deepseek-r1") && script.contains("h100-80gb"));
    // The plan's schema; singulars.
    let (code, schema, _) = lwsplan(&["schema", "plan"]);
    assert_eq!(code, 0);
    assert!(schema.contains("max_model_len"));
    let (_, table, _) = lwsplan(&["plan", "--model", "gpt-oss-120b", "--hardware", "h100-80gb"]);
    assert!(
        table.starts_with("gpt-oss-120b (openai/gpt-oss-120b) on 1 pod × 2 NVIDIA"),
        "{table}"
    );
    assert!(
        !table.contains(" 1 GPUs") && !table.contains(" 1 pods"),
        "{table}"
    );
}

#[test]
fn next_steps_run_as_printed() {
    let (code, _, stderr) = lwsplan(&with(
        &[
            "render",
            "--namespace",
            "llm",
            "--model-cache",
            "pvc:r1-weights",
        ],
        R1,
    ));
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("..."), "{stderr}");
    assert!(
        stderr.contains("# namespace:    kubectl create namespace llm"),
        "{stderr}"
    );
    assert!(stderr.contains(r#""name":"r1-weights""#), "{stderr}");
    assert!(stderr.contains("ReadWriteMany"), "{stderr}");
    assert!(stderr.contains(r#""storage":"700Gi""#), "{stderr}");
    assert!(
        stderr.contains(
            "# apply:        lwsplan render --namespace llm --model-cache pvc:r1-weights --model deepseek-r1 --hardware h100-80gb | kubectl apply -n llm -f -"
        ),
        "{stderr}"
    );
}

/// Each new refusal, snapshotted with its exact message and status, as the CLI's other error
/// paths are.
#[test]
fn new_error_paths_are_snapshotted() {
    let dir = crate::temp_dir("operater-snapshot");
    let file = dir.join("operater.yaml");
    std::fs::write(
        &file,
        "model: deepseek-r1\nhardware: h100-80gb\nrender:\n  pod:\n    tolerations:\n      \
         - key: nvidia.com/gpu\n        operater: Exists\n",
    )
    .unwrap();
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            "memory-above-node",
            with(&with(&["render"], R1), &["--memory", "5000Gi"]),
        ),
        (
            "cpu-above-node",
            with(&with(&["render"], R1), &["--cpu", "500"]),
        ),
        (
            "per-pod-cache-too-small",
            with(&with(&["render"], R1), &["--model-cache", "per-pod:100Gi"]),
        ),
        (
            "subgroup-size",
            with(&with(&["render"], R1), &["--subgroup-size", "3"]),
        ),
        (
            "format-contradicts-output",
            with(
                &with(&["render"], R1),
                &["-o", "x.json", "--format", "yaml"],
            ),
        ),
        (
            "toleration-typo",
            vec!["render", "-f", file.to_str().unwrap()],
        ),
        // DeepSeek-V4: TP must divide its 8 output groups; DCP meets its sliding windows.
        (
            "dsv4-o-groups",
            with(
                &["plan"],
                &[
                    "--model",
                    "deepseek-v4-flash",
                    "--hardware",
                    "h200-141gb",
                    "--tensor-parallel-size",
                    "16",
                ],
            ),
        ),
        (
            "dsv4-dcp",
            with(
                &["plan"],
                &[
                    "--model",
                    "deepseek-v4-flash",
                    "--hardware",
                    "h200-141gb",
                    "--decode-context-parallel-size",
                    "2",
                ],
            ),
        ),
    ];
    for (name, args) in cases {
        let (code, stdout, stderr) = lwsplan(&args);
        assert_ne!(code, 0, "{name}");
        assert!(stdout.is_empty(), "{name}");
        let text = format!("$ lwsplan {}\nexit {code}\n{stderr}", args.join(" "))
            .replace(file.to_str().unwrap(), "$FILE");
        crate::settings().bind(|| {
            insta::assert_snapshot!(format!("cli-error@{name}"), text);
        });
    }
}
