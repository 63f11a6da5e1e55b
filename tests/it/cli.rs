//! The real binary: exact messages and exit codes for each error path, snapshotted.

use crate::{lwsplan, temp_dir};

use crate::settings;

/// Runs a failing command and snapshots its exit code and stderr.
fn error_case(name: &str, args: &[&str], status: i32) {
    let (code, stdout, stderr) = lwsplan(args);
    assert_eq!(code, status, "{name}: exit status\nstderr: {stderr}");
    assert!(
        stdout.is_empty(),
        "{name}: nothing on stdout on failure, got {stdout}"
    );
    let stderr = stderr.replace(crate::ROOT.as_str(), "$ROOT");
    settings().bind(|| {
        insta::assert_snapshot!(
            format!("cli-error@{name}"),
            format!(
                "$ lwsplan {}\nexit {code}\n{stderr}",
                args.join(" ").replace(crate::ROOT.as_str(), "$ROOT")
            )
        );
    });
}

#[test]
fn unknown_ids_suggest_the_closest() {
    error_case(
        "unknown-model",
        &["plan", "--model", "deepseek-r2", "--hardware", "h100-80gb"],
        3,
    );
    error_case(
        "unknown-hardware",
        &["plan", "--model", "deepseek-r1", "--hardware", "h100"],
        3,
    );
}

#[test]
fn infeasible_layouts_say_what_is_short_and_what_works() {
    error_case(
        "one-h100-node",
        &[
            "plan",
            "--model",
            "deepseek-r1",
            "--hardware",
            "h100-80gb",
            "--nodes",
            "1",
        ],
        4,
    );
    error_case(
        "two-a100-40gb-nodes",
        &[
            "plan",
            "--model",
            "deepseek-r1",
            "--hardware",
            "a100-40gb",
            "--nodes",
            "2",
        ],
        4,
    );
    error_case(
        "context-does-not-fit",
        &[
            "plan",
            "--model",
            "llama-3.1-70b-instruct",
            "--hardware",
            "l4",
            "--nodes",
            "1",
            "--max-model-len",
            "32768",
        ],
        4,
    );
}

#[test]
fn vllm_rules_are_enforced_with_vllms_meaning() {
    error_case(
        "heads-not-divisible",
        &[
            "plan",
            "--model",
            "llama-3.1-70b-instruct",
            "--hardware",
            "h100-80gb",
            "--tensor-parallel-size",
            "3",
        ],
        4,
    );
    error_case(
        "fp8-block-shape",
        &[
            "plan",
            "--model",
            "deepseek-r1",
            "--hardware",
            "h100-80gb",
            "--tensor-parallel-size",
            "32",
        ],
        4,
    );
    error_case(
        "too-many-stages",
        &[
            "plan",
            "--model",
            "llama-3.1-8b-instruct",
            "--hardware",
            "h100-80gb",
            "--pipeline-parallel-size",
            "33",
            "--gpus-per-node",
            "1",
        ],
        4,
    );
    error_case(
        "max-model-len-too-long",
        &[
            "plan",
            "--model",
            "deepseek-r1",
            "--hardware",
            "h200-141gb",
            "--max-model-len",
            "200000",
        ],
        3,
    );
}

#[test]
fn bad_options_are_refused() {
    error_case(
        "utilization-above-one",
        &[
            "plan",
            "--model",
            "deepseek-r1",
            "--hardware",
            "h200-141gb",
            "--gpu-memory-utilization",
            "1.5",
        ],
        3,
    );
    error_case(
        "zero-gpus-per-node",
        &[
            "plan",
            "--model",
            "deepseek-r1",
            "--hardware",
            "h200-141gb",
            "--gpus-per-node",
            "0",
        ],
        3,
    );
    error_case("missing-model", &["plan", "--hardware", "h100-80gb"], 2);
    error_case(
        "bad-max-model-len",
        &[
            "plan",
            "--model",
            "deepseek-r1",
            "--hardware",
            "h100-80gb",
            "--max-model-len",
            "lots",
        ],
        2,
    );
}

#[test]
fn render_refuses_what_it_cannot_deploy() {
    error_case(
        "ray-script-without-image",
        &[
            "render",
            "--model",
            "deepseek-r1",
            "--hardware",
            "h100-80gb",
            "--launcher",
            "ray",
            "--ray-bootstrap",
            "script",
        ],
        3,
    );
    error_case(
        "bad-name",
        &[
            "render",
            "--model",
            "llama-3.1-8b-instruct",
            "--hardware",
            "l4",
            "--name",
            "Bad_Name",
        ],
        3,
    );
}

#[test]
fn validate_accepts_what_render_prints() {
    let dir = temp_dir("validate-render");
    let (code, stdout, _) = lwsplan(&[
        "render",
        "--model",
        "deepseek-r1",
        "--hardware",
        "h100-80gb",
    ]);
    assert_eq!(code, 0);
    let file = dir.join("out.yaml");
    std::fs::write(&file, &stdout).unwrap();
    let (code, stdout, stderr) = lwsplan(&["validate", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.ends_with("out.yaml: valid\n"), "{stdout}");
}

#[test]
fn render_writes_one_file_per_object() {
    let dir = temp_dir("render-o");
    let out = dir.join("manifests");
    let (code, stdout, stderr) = lwsplan(&[
        "render",
        "--model",
        "deepseek-r1",
        "--hardware",
        "h100-80gb",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.is_empty());
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["vllm-leaderworkerset.yaml", "vllm-service.yaml"]);
    let (_, printed, _) = lwsplan(&[
        "render",
        "--model",
        "deepseek-r1",
        "--hardware",
        "h100-80gb",
    ]);
    let lws = std::fs::read_to_string(out.join("vllm-leaderworkerset.yaml")).unwrap();
    let service = std::fs::read_to_string(out.join("vllm-service.yaml")).unwrap();
    assert_eq!(
        format!("{lws}---\n{service}"),
        printed,
        "files and stdout agree"
    );
    assert!(
        stderr.contains("kubectl port-forward svc/vllm-leader 8080:8080"),
        "{stderr}"
    );
}

#[test]
fn render_is_deterministic() {
    let args = [
        "render",
        "--model",
        "llama-3.1-405b-instruct",
        "--hardware",
        "a100-80gb",
        "--env",
        "B=2",
        "--env",
        "A=1",
    ];
    let first = lwsplan(&args);
    assert_eq!(first.0, 0, "{}", first.2);
    assert!(first.1.starts_with("apiVersion: "), "{}", first.1);
    for _ in 0..3 {
        assert_eq!(lwsplan(&args), first);
    }
}

#[test]
fn plan_json_is_the_plan() {
    let (code, stdout, _) = lwsplan(&[
        "plan",
        "--model",
        "llama-3.1-405b-instruct",
        "--hardware",
        "h100-80gb",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["tensor_parallel_size"], 8);
    assert_eq!(json["pipeline_parallel_size"], 2);
    assert_eq!(json["parameters"], 405_853_388_800_u64);
    assert_eq!(json["kv_cache_bytes_per_token"], 32_256);
}

#[test]
fn forced_layouts_are_honoured_with_their_margin() {
    let (code, stdout, stderr) = lwsplan(&[
        "plan",
        "--model",
        "deepseek-r1",
        "--hardware",
        "h100-80gb",
        "--tensor-parallel-size",
        "16",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("TP 16 × PP 1 = 16 GPUs on 2 nodes"),
        "{stdout}"
    );
    assert!(stdout.contains("TP 16 spans 2 nodes"), "{stdout}");
    let (code, stdout, _) = lwsplan(&[
        "plan",
        "--model",
        "llama-3.1-8b-instruct",
        "--hardware",
        "h100-80gb",
        "--nodes",
        "2",
    ]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains(
            "the forced layout uses 16 GPUs on 2 node(s); the smallest that fits is TP 1 × PP 1"
        ),
        "{stdout}"
    );
}

#[test]
fn listings_and_schemas() {
    let (code, models, _) = lwsplan(&["models"]);
    assert_eq!(code, 0);
    let (_, hardware, _) = lwsplan(&["hardware"]);
    let (_, model_schema, _) = lwsplan(&["schema", "model"]);
    let (_, hardware_schema, _) = lwsplan(&["schema", "hardware"]);
    let model_schema: serde_json::Value = serde_json::from_str(&model_schema).unwrap();
    let hardware_schema: serde_json::Value = serde_json::from_str(&hardware_schema).unwrap();
    assert_eq!(model_schema["additionalProperties"], false);
    settings().bind(|| {
        insta::assert_snapshot!("cli@models", models);
        insta::assert_snapshot!("cli@hardware", hardware);
        insta::assert_json_snapshot!("schema@model", model_schema);
        insta::assert_json_snapshot!("schema@hardware", hardware_schema);
    });
}

/// A profile file with the schema's modeline-free content plans like the built-in.
#[test]
fn profile_files_load_like_builtins() {
    let path = format!("{}/profiles/models/deepseek-r1.yaml", crate::ROOT.as_str());
    let (code, from_file, stderr) = lwsplan(&[
        "plan",
        "--model-file",
        &path,
        "--hardware",
        "h100-80gb",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let (code, builtin, stderr) = lwsplan(&[
        "plan",
        "--model",
        "deepseek-r1",
        "--hardware",
        "h100-80gb",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        from_file.contains("\"tensor_parallel_size\": 8"),
        "{from_file}"
    );
    assert_eq!(from_file, builtin);
}

#[test]
fn flags_override_the_deployment_file() {
    let file = format!(
        "{}/examples/gke-guide-deepseek-r1.yaml",
        crate::ROOT.as_str()
    );
    let (code, stdout, stderr) = lwsplan(&["plan", "-f", &file, "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["max_model_len"], 4096, "from the file");
    assert_eq!(json["launcher"], "ray", "from the file");
    let (_, stdout, _) = lwsplan(&[
        "plan",
        "-f",
        &file,
        "--max-model-len",
        "auto",
        "--format",
        "json",
    ]);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["max_model_len"], 163_840, "the flag wins");
    let (_, stdout, _) = lwsplan(&[
        "render",
        "-f",
        &file,
        "--name",
        "r1",
        "--image",
        "example.com/vllm:v1",
    ]);
    assert!(stdout.contains("name: r1\n"), "{stdout}");
    assert!(stdout.contains("image: example.com/vllm:v1\n"), "{stdout}");
    assert!(
        stdout.contains("sizeLimit: 15Gi\n"),
        "the file's shm size stays: {stdout}"
    );
}

#[test]
fn replicas_meet_a_concurrency_target() {
    let (code, stdout, stderr) = lwsplan(&[
        "plan",
        "--model",
        "deepseek-r1",
        "--hardware",
        "h100-80gb",
        "--max-model-len",
        "32768",
        "--target-concurrent-sequences",
        "100",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    // 10444 blocks of 64 tokens hold 20 sequences of 32768 (512 blocks each): 100 needs 5 groups.
    assert_eq!(json["kv_cache_blocks"], 10_444);
    assert_eq!(json["replicas"], 5);
    let (_, yaml, _) = lwsplan(&[
        "render",
        "--model",
        "deepseek-r1",
        "--hardware",
        "h100-80gb",
        "--replicas",
        "3",
    ]);
    assert!(yaml.contains("\n  replicas: 3\n"), "{yaml}");
    let (code, _, stderr) = lwsplan(&[
        "plan",
        "--model",
        "deepseek-r1",
        "--hardware",
        "h100-80gb",
        "--replicas",
        "2",
        "--target-concurrent-sequences",
        "9",
    ]);
    assert_eq!(code, 3);
    assert!(
        stderr.contains("give --replicas or --target-concurrent-sequences, not both"),
        "{stderr}"
    );
}

#[test]
fn an_imported_profile_plans_like_its_config() {
    let root = crate::ROOT.as_str();
    let config = format!("{root}/tests/fixtures/hf/Qwen3-30B-A3B/config.json");
    let dir = temp_dir("import");
    let profile = dir.join("qwen3-30b-a3b.yaml");
    let (code, stdout, stderr) = lwsplan(&[
        "import",
        "--hf-config",
        &config,
        "--hf-repo",
        "Qwen/Qwen3-30B-A3B",
        "-o",
        profile.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.is_empty());
    let args = |model: [&str; 2]| {
        let mut a = vec!["plan"];
        a.extend(model);
        a.extend(["--hardware", "l4", "--format", "json"]);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let from_file = lwsplan(
        &args(["--model-file", profile.to_str().unwrap()])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let from_config = lwsplan(&[
        "plan",
        "--hf-config",
        &config,
        "--hf-repo",
        "Qwen/Qwen3-30B-A3B",
        "--hardware",
        "l4",
        "--format",
        "json",
    ]);
    assert_eq!(from_file.0, 0, "{}", from_file.2);
    assert_eq!(from_file.1, from_config.1, "the same plan, byte for byte");
    let (code, _, stderr) = lwsplan(&[
        "plan",
        "--hf-config",
        &format!("{root}/tests/fixtures/hf/missing/config.json"),
        "--hardware",
        "l4",
    ]);
    assert_eq!(code, 6, "{stderr}");
}

#[test]
fn expert_parallelism_is_used_where_a_layout_needs_it() {
    let plan = |extra: &[&str]| {
        let mut args = vec![
            "plan",
            "--model",
            "qwen3-235b-a22b-fp8",
            "--hardware",
            "h100-80gb",
            "--tensor-parallel-size",
            "8",
            "--format",
            "json",
        ];
        args.extend(extra);
        lwsplan(&args)
    };
    // At TP 8 an FP8 expert's 1536 rows split into 192, not a multiple of 128: only expert
    // parallelism, which keeps experts whole, makes TP 8 work.
    let (code, stdout, stderr) = plan(&[]);
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["expert_parallel"], true);
    assert!(
        json["vllm_args"]
            .as_array()
            .unwrap()
            .contains(&"--enable-expert-parallel".into())
    );
    let (code, _, stderr) = plan(&["--expert-parallel", "off"]);
    assert_eq!(code, 4);
    assert!(
        stderr.contains("192 is not divisible by weight quantization block_n = 128"),
        "{stderr}"
    );
    // Without a forced TP, TP 4 fits on 4 GPUs without expert parallelism.
    let (_, stdout, _) = lwsplan(&[
        "plan",
        "--model",
        "qwen3-235b-a22b-fp8",
        "--hardware",
        "h100-80gb",
        "--format",
        "json",
    ]);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (
            json["tensor_parallel_size"].as_u64(),
            json["expert_parallel"].as_bool()
        ),
        (Some(4), Some(false))
    );
}

/// The file's /dev/shm size wins over the plan's, and the flag over the file's — each with a
/// value the planner would not pick on its own (native DeepSeek-R1 plans 5Gi).
#[test]
fn shm_size_comes_from_the_flag_then_the_file_then_the_plan() {
    let file = format!(
        "{}/examples/gke-guide-deepseek-r1.yaml",
        crate::ROOT.as_str()
    );
    let shm = |extra: &[&str]| {
        let mut args = vec!["render", "-f", &file, "--launcher", "native", "-q"];
        args.extend(extra);
        let (code, stdout, stderr) = lwsplan(&args);
        assert_eq!(code, 0, "{stderr}");
        let limits: Vec<&str> = stdout
            .lines()
            .filter_map(|l| l.trim().strip_prefix("sizeLimit: "))
            .collect();
        assert_eq!(limits.len(), 2, "{stdout}");
        limits[0].to_string()
    };
    assert_eq!(shm(&[]), "15Gi", "the file's");
    assert_eq!(shm(&["--shm-size", "7Gi"]), "7Gi", "the flag's");
    assert_eq!(shm(&["--shm-size", "12G"]), "11445Mi", "a decimal quantity");
    let (code, stdout, _) = lwsplan(&[
        "render",
        "--model",
        "deepseek-r1",
        "--hardware",
        "h100-80gb",
        "-q",
    ]);
    assert_eq!(code, 0);
    assert!(stdout.contains("sizeLimit: 5Gi"), "the plan's: {stdout}");
}

#[test]
fn completions_and_man_page_cover_every_command() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let (code, stdout, stderr) = lwsplan(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {stderr}");
        for command in ["render", "validate", "import", "templates"] {
            assert!(stdout.contains(command), "{shell} completes {command}");
        }
        assert!(
            stdout.contains("tensor-parallel-size"),
            "{shell} completes flags"
        );
    }
    let (code, man, _) = lwsplan(&["man"]);
    assert_eq!(code, 0);
    assert!(
        man.starts_with(".ie ") || man.contains(".TH lwsplan"),
        "{}",
        &man[..200]
    );
    let (_, help, _) = lwsplan(&["render", "--help"]);
    for heading in [
        "Model and hardware:",
        "Plan:",
        "Render:",
        "Cluster:",
        "Output:",
    ] {
        assert!(
            help.contains(heading),
            "render --help groups under {heading}"
        );
    }
}

#[test]
fn listings_and_renders_as_json() {
    let (code, stdout, _) = lwsplan(&["models", "--format", "json"]);
    assert_eq!(code, 0);
    let models: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        models
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "deepseek-r1")
    );
    let (code, stdout, _) = lwsplan(&["hardware", "--format", "json"]);
    assert_eq!(code, 0);
    let hardware: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        hardware
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["id"] == "h100-80gb")
    );
    let (code, stdout, stderr) = lwsplan(&[
        "render",
        "--model",
        "deepseek-r1",
        "--hardware",
        "h100-80gb",
        "--format",
        "json",
        "-q",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let list: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (list["apiVersion"].as_str(), list["kind"].as_str()),
        (Some("v1"), Some("List"))
    );
    let kinds: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["LeaderWorkerSet", "Service"]);
    assert!(
        !stderr.contains("# apply"),
        "-q prints no next steps: {stderr}"
    );
}

/// `-o FILE.yaml` writes one multi-document file (replacing an old one); `-o DIR` files named
/// after the deployment, so two deployments share a directory; `import -o` agrees.
#[test]
fn output_to_a_file_or_a_directory() {
    let dir = temp_dir("output-target");
    let file = dir.join("new.yaml");
    std::fs::write(&file, "old\n").unwrap();
    let render = |extra: &[&str]| {
        let mut args = vec![
            "render",
            "--model",
            "llama-3.1-8b-instruct",
            "--hardware",
            "h100-80gb",
            "-q",
        ];
        args.extend(extra);
        let (code, stdout, stderr) = lwsplan(&args);
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.is_empty());
    };
    render(&["-o", file.to_str().unwrap()]);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("apiVersion: leaderworkerset.x-k8s.io/v1") && text.contains("---\n"));
    let shared = dir.join("manifests");
    render(&["-o", shared.to_str().unwrap(), "--name", "alpha"]);
    render(&["-o", shared.to_str().unwrap(), "--name", "beta"]);
    let mut names: Vec<String> = std::fs::read_dir(&shared)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "alpha-leaderworkerset.yaml",
            "alpha-service.yaml",
            "beta-leaderworkerset.yaml",
            "beta-service.yaml"
        ]
    );
    let config = format!(
        "{}/tests/fixtures/hf/Qwen3-8B/config.json",
        crate::ROOT.as_str()
    );
    let (code, _, stderr) = lwsplan(&[
        "import",
        "--hf-config",
        &config,
        "--hf-repo",
        "Qwen/Qwen3-8B",
        "-o",
        shared.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(shared.join("qwen3-8b.yaml").exists());
}

/// Eight renders of different deployments into one directory at once all land, whole.
#[test]
fn concurrent_renders_into_one_directory_all_land() {
    let dir = temp_dir("output-concurrent");
    let children: Vec<_> = (0..8)
        .map(|i| {
            std::process::Command::new(env!("CARGO_BIN_EXE_lwsplan"))
                .args([
                    "render",
                    "--model",
                    "llama-3.1-8b-instruct",
                    "--hardware",
                    "h100-80gb",
                    "-q",
                ])
                .args(["--name", &format!("d{i}"), "-o", dir.to_str().unwrap()])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let entries: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(entries.len(), 16, "{entries:?}");
    for i in 0..8 {
        let lws = std::fs::read_to_string(dir.join(format!("d{i}-leaderworkerset.yaml"))).unwrap();
        let service = std::fs::read_to_string(dir.join(format!("d{i}-service.yaml"))).unwrap();
        let both = format!("{lws}---\n{service}");
        assert_eq!(lwsplan::validate_yaml(&both), vec![], "d{i}");
        assert!(lws.contains(&format!("name: d{i}\n")));
    }
}

/// A write that fails is an error (exit 6), a reader that stops early is not.
#[cfg(target_os = "linux")]
#[test]
fn stdout_write_failures_are_errors_and_closed_pipes_are_not() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lwsplan"))
        .args([
            "render",
            "--model",
            "llama-3.1-8b-instruct",
            "--hardware",
            "h100-80gb",
            "-q",
        ])
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot write standard output: No space left on device"),
        "{stderr}"
    );
    // A reader that closes the pipe at once.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lwsplan"))
        .args([
            "render",
            "--model",
            "deepseek-r1",
            "--hardware",
            "h100-80gb",
            "-q",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Warnings may remain; no error.
    assert!(!String::from_utf8_lossy(&out.stderr).contains("error"));
}

fn lwsplan_with_stdin(args: &[&str], stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lwsplan"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `validate -` and `-f -` read standard input; kinds lwsplan does not know are listed as
/// skipped, or fail with --strict-kinds.
#[test]
fn standard_input_and_other_kinds() {
    let (_, manifests, _) = lwsplan(&[
        "render",
        "--model",
        "llama-3.1-8b-instruct",
        "--hardware",
        "h100-80gb",
        "-q",
    ]);
    let stream = format!(
        "{manifests}---\napiVersion: v1\nkind: Secret\nmetadata: {{name: hf-secret}}\nstringData: {{hf_api_token: x}}\n"
    );
    let (code, stdout, stderr) = lwsplan_with_stdin(&["validate", "-"], &stream);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "<stdin>: valid\n");
    assert!(
        stderr.contains("<stdin>: skipped document 3 (v1/Secret/hf-secret)"),
        "{stderr}"
    );
    let (code, _, stderr) = lwsplan_with_stdin(&["validate", "--strict-kinds", "-"], &stream);
    assert_eq!(code, 5, "{stderr}");
    assert!(
        stderr.contains("a kind lwsplan does not validate (--strict-kinds)"),
        "{stderr}"
    );
    let deployment =
        "model: llama-3.1-8b-instruct\nhardware: h100-80gb\nrender: {name: from-stdin}\n";
    let (code, stdout, stderr) = lwsplan_with_stdin(&["render", "-f", "-", "-q"], deployment);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("name: from-stdin\n"));
}

/// `$` in an env value is literal unless the file asks for expansion: `pa$$word` stays two
/// dollars, `$(HF_TOKEN)` does not copy the token.
#[test]
fn env_values_keep_their_dollars() {
    let (code, stdout, stderr) = lwsplan(&[
        "render",
        "--model",
        "llama-3.1-8b-instruct",
        "--hardware",
        "h100-80gb",
        "-q",
        "--env",
        "PW=pa$$word",
        "--env",
        "LEAK=$(HF_TOKEN)",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("value: pa$$$$word"), "{stdout}");
    assert!(stdout.contains("value: $$(HF_TOKEN)"), "{stdout}");
}

/// The printed next steps are safe to paste: every value is quoted for the shell, and the
/// Secret command matches --hf-secret.
#[test]
fn next_steps_quote_what_they_interpolate() {
    let dir = temp_dir("hints");
    let out = dir.join("a dir; touch PWNED");
    let hostile = "x\"}' ; touch PWNED ; echo '\"";
    let (code, _, stderr) = lwsplan(&[
        "render",
        "--model",
        "llama-3.1-8b-instruct",
        "--hardware",
        "h100-80gb",
        "--model-source",
        hostile,
        "--hf-secret",
        "my-token/token",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr
            .contains("kubectl create secret generic my-token --from-literal=token=\"$HF_TOKEN\""),
        "{stderr}"
    );
    // Run every printed command through `sh` with the commands themselves replaced by a printer
    // of their arguments: nothing else may run.
    let script: String = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .filter_map(|l| l.split_once(": ").map(|(_, c)| c.trim().to_string()))
        .filter(|c| c.starts_with("kubectl") || c.starts_with("curl"))
        .collect::<Vec<_>>()
        .join("\n");
    let script = format!(
        "kubectl() {{ printf '%s\\n' \"$@\"; }}\ncurl() {{ printf '%s\\n' \"$@\"; }}\ncd {}\n{}",
        dir.display(),
        script.replace(" \\\n", " ")
    );
    let run = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(!dir.join("PWNED").exists(), "a pasted hint ran code");
    let printed = String::from_utf8_lossy(&run.stdout);
    assert!(printed.contains(out.to_str().unwrap()), "{printed}");
}

/// `lwsplan templates -o DIR` writes the built-ins, which as an override render the same.
#[test]
fn templates_written_out_override_to_the_same_render() {
    let dir = temp_dir("templates-out");
    let (code, _, stderr) = lwsplan(&["templates", "-o", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let base = [
        "render",
        "--model",
        "deepseek-r1",
        "--hardware",
        "h100-80gb",
        "-q",
    ];
    let (_, builtin, _) = lwsplan(&base);
    let mut args = base.to_vec();
    args.extend(["--templates", dir.to_str().unwrap()]);
    let (code, overridden, stderr) = lwsplan(&args);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(overridden, builtin);
}

/// A user's own hardware profile may give sizes as quantities, only the label its platform
/// needs, and no sources: it plans, and the plan says its numbers are unverified.
#[test]
fn a_private_hardware_profile_needs_less_than_a_builtin() {
    let dir = temp_dir("private-hardware");
    let builtin = std::fs::read_to_string(format!(
        "{}/tests/fixtures/support/gke-only-hardware.yaml",
        crate::ROOT.as_str()
    ))
    .unwrap()
    .replace("memory_bytes: 85018877624", "memory_bytes: 79.18Gi")
    .replace(
        "host_memory_bytes: 2010044694528",
        "host_memory_bytes: 1872Gi",
    );
    let path = dir.join("hw.yaml");
    std::fs::write(&path, builtin).unwrap();
    let (code, stdout, stderr) = lwsplan(&[
        "plan",
        "--model",
        "llama-3.1-8b-instruct",
        "--hardware-file",
        path.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let plan: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    // 79.18 GiB = 85,018,877,624.32 bytes, rounded up.
    assert_eq!(plan["gpu_memory_bytes"], 85_018_877_625u64);
    let notes = plan["notes"].as_array().unwrap();
    assert!(
        notes.iter().any(|n| n
            .as_str()
            .unwrap()
            .contains("private-h100 cites no sources")),
        "{notes:?}"
    );
}

/// `--max-num-seqs` sizes the sampler's warm-up: fewer sequences reserve less on an H100 and
/// the flag reaches `vllm serve`.
#[test]
fn scheduler_limits_size_the_reserve_and_reach_vllm() {
    let reserve = |extra: &[&str]| {
        let mut args = vec![
            "plan",
            "--model",
            "llama-3.1-8b-instruct",
            "--hardware",
            "h100-80gb",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let (code, stdout, stderr) = lwsplan(&args);
        assert_eq!(code, 0, "{stderr}");
        let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        (
            json["stages"][0]["reserve"]["activation_bytes"]
                .as_u64()
                .unwrap(),
            json["vllm_args"].clone(),
        )
    };
    let (default, default_args) = reserve(&[]);
    let (fewer, args) = reserve(&["--max-num-seqs", "256"]);
    assert!(fewer < default, "{fewer} < {default}");
    assert_eq!(default_args, serde_json::json!([]));
    assert_eq!(args, serde_json::json!(["--max-num-seqs", "256"]));
}

/// `--speculative-mtp N` (and `plan.speculative_mtp` in a deployment file) renders vLLM's
/// `--speculative-config` for MTP into the container; a model without MTP layers is refused
/// with the option's name; an out-of-range count is refused where it is read.
#[test]
fn speculative_mtp_reaches_vllm() {
    let (code, stdout, stderr) = lwsplan(&[
        "render",
        "--model",
        "deepseek-r1",
        "--hardware",
        "h200-141gb",
        "--speculative-mtp",
        "3",
        "-q",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("--speculative-config"), "{stdout}");
    // One argument, the JSON object, quoted as YAML quotes it.
    assert!(
        stdout.contains(r#"- "{\"method\":\"mtp\",\"num_speculative_tokens\":3}""#),
        "{stdout}"
    );
    let dir = temp_dir("speculative-mtp");
    let file = dir.join("d.yaml");
    std::fs::write(
        &file,
        "model: deepseek-r1\nhardware: h200-141gb\nplan:\n  speculative_mtp: 2\n",
    )
    .unwrap();
    let (code, stdout, stderr) =
        lwsplan(&["plan", "-f", file.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let args: Vec<&str> = json["vllm_args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert!(
        args.windows(2).any(|w| w
            == [
                "--speculative-config",
                r#"{"method":"mtp","num_speculative_tokens":2}"#
            ]),
        "{args:?}"
    );
    let (code, _, stderr) = lwsplan(&[
        "plan",
        "--model",
        "llama-3.1-8b-instruct",
        "--hardware",
        "l4",
        "--speculative-mtp",
        "1",
    ]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("--speculative-mtp"), "{stderr}");
    std::fs::write(
        &file,
        "model: deepseek-r1\nhardware: h200-141gb\nplan:\n  speculative_mtp: 0\n",
    )
    .unwrap();
    let (code, _, stderr) = lwsplan(&["plan", "-f", file.to_str().unwrap()]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("outside 1..=64"), "{stderr}");
}
