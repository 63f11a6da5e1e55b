//! Invariants over command outputs (issue 21): whatever the input, numbers printed are finite
//! and non-negative where they must be, refusals carry a reason, messages are bounded, no error
//! prints the content of a file it was pointed at as a profile, datasets are data, and `-o`
//! never replaces what lwsplan did not create. Each test is aimed at one class of the issue;
//! the corpus (`corpus.rs`) holds one reproduction per class, these hold the class.

use std::path::Path;

use proptest::prelude::*;

use crate::corpus::check_error_invariants;
use crate::{lwsplan, temp_dir};

/// Every number in a JSON value, with its path.
fn numbers(value: &serde_json::Value, path: &str, out: &mut Vec<(String, f64)>) {
    match value {
        serde_json::Value::Number(n) => {
            out.push((path.to_string(), n.as_f64().unwrap_or(f64::NAN)))
        }
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                numbers(item, &format!("{path}[{i}]"), out);
            }
        }
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                numbers(v, &format!("{path}.{k}"), out);
            }
        }
        _ => {}
    }
}

/// Quantities that are negative by meaning: the KV memory left (negative when the weights do
/// not fit) and signed differences.
fn may_be_negative(path: &str) -> bool {
    path.contains("available") || path.contains("difference") || path.contains("delta")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, .. ProptestConfig::default() })]

    /// `plan --format json` under any workload, price and context: every number finite (JSON
    /// has no `inf`; serde_json would print `null`), none negative but the signed ones; a
    /// refusal is exit 3 or 4 with a reason in bounds.
    #[test]
    fn plan_json_numbers_are_finite(
        input in prop_oneof![1u64..64, 1u64..300_000],
        output in 1u64..20_000,
        concurrency in 1u64..5000,
        price in prop_oneof![Just(None), (1e-9f64..1e300).prop_map(Some)],
        context in prop_oneof![Just(None), (16u64..300_000).prop_map(Some)],
        model in prop::sample::select(vec!["llama-3.1-8b-instruct", "deepseek-r1", "gpt-oss-120b"]),
    ) {
        let mut args: Vec<String> = [
            "plan", "--model", model, "--hardware", "h100-80gb", "--format", "json",
            "--input-tokens", &input.to_string(), "--output-tokens", &output.to_string(),
            "--concurrency", &concurrency.to_string(),
        ].iter().map(|s| s.to_string()).collect();
        if let Some(price) = price {
            args.extend(["--gpu-hour-price".to_string(), price.to_string()]);
        }
        if let Some(context) = context {
            args.extend(["--max-model-len".to_string(), context.to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (status, stdout, stderr) = lwsplan(&args);
        check_error_invariants(&args.join(" "), &stderr);
        if status != 0 {
            prop_assert!([3, 4].contains(&status), "{status}: {stderr}");
            prop_assert!(stderr.starts_with("error: "), "{stderr}");
            return Ok(());
        }
        prop_assert!(!stdout.contains("null") && !stdout.contains("inf") && !stdout.contains("NaN"), "{stdout}");
        let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let mut found = Vec::new();
        numbers(&json, "", &mut found);
        for (path, n) in found {
            prop_assert!(n.is_finite(), "{path} = {n}");
            prop_assert!(n >= 0.0 || may_be_negative(&path), "{path} = {n}");
        }
    }

    /// A file of secrets, given as a profile directly or through a deployment file: the error
    /// names the file, the line and the key, never a line of it.
    #[test]
    fn no_error_quotes_a_file_it_was_pointed_at(
        key in "[A-Z][A-Z_]{2,20}",
        secret in "[A-Za-z0-9/+]{12,40}",
        separator in prop::sample::select(vec!["=", ": ", " = ", ":"]),
        before in 0usize..3,
    ) {
        let dir = temp_dir("properties-secret");
        let mut text = String::new();
        for i in 0..before {
            text.push_str(&format!("export OTHER_{i}=1\n"));
        }
        text.push_str(&format!("{key}{separator}{secret}\n"));
        std::fs::write(dir.join("secret.env"), &text).unwrap();
        std::fs::write(
            dir.join("deployment.yaml"),
            "model: {file: secret.env}\nhardware: {file: secret.env}\n",
        )
        .unwrap();
        let file = dir.join("secret.env");
        let deployment = dir.join("deployment.yaml");
        for args in [
            vec!["plan", "--model-file", file.to_str().unwrap(), "--hardware", "h100-80gb"],
            vec!["plan", "--model", "llama-3.1-8b-instruct", "--hardware-file", file.to_str().unwrap()],
            vec!["render", "-f", deployment.to_str().unwrap()],
        ] {
            let (status, _, stderr) = lwsplan(&args);
            prop_assert_eq!(status, 3, "{}", stderr);
            prop_assert!(!stderr.contains(&secret), "{}", stderr);
            check_error_invariants("secret", &stderr);
        }
    }
}

/// A deployment from elsewhere names no file on this machine.
#[test]
fn untrusted_deployments_name_no_files() {
    for (text, key) in [
        (
            "model: {file: /etc/passwd}\nhardware: h100-80gb\n",
            "model.file",
        ),
        (
            "model: llama-3.1-8b-instruct\nhardware: {file: ../secret.yaml}\n",
            "hardware.file",
        ),
        (
            "model: llama-3.1-8b-instruct\nhardware: h100-80gb\nrender: {templates: /etc}\n",
            "render.templates",
        ),
    ] {
        let err = lwsplan::Deployment::from_untrusted_yaml(text, "user.yaml").unwrap_err();
        let said = err.to_string();
        assert!(
            said.starts_with(&format!("user.yaml: {key}: names a file")),
            "{said}"
        );
    }
    let fine = "model: llama-3.1-8b-instruct\nhardware: h100-80gb\n";
    let deployment = lwsplan::Deployment::from_untrusted_yaml(fine, "user.yaml").unwrap();
    assert!(deployment.file_references().is_empty());
    deployment.render().unwrap();
}

/// The text of the built-in template `name`, to start an override from.
fn builtin_template(name: &str) -> String {
    lwsplan::render::templates()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| text.to_string())
        .unwrap()
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// Datasets are data: files only from inside the dataset, measurements that a GPU could
/// report, and something to evaluate at all.
#[test]
fn datasets_are_data() {
    let dir = temp_dir("properties-dataset");
    let run = |command: &str, dir: &Path| lwsplan(&[command, "--dataset", dir.to_str().unwrap()]);
    // Empty: an error for both commands, not a pass over nothing.
    for command in ["check-log", "check-perf"] {
        let (status, _, stderr) = run(command, &dir);
        assert_eq!(status, 3, "{command}: {stderr}");
        assert!(stderr.contains("holds no entries"), "{stderr}");
    }
    // A directory of link loops is not an empty pass either.
    #[cfg(unix)]
    {
        let loops = temp_dir("properties-dataset-loops");
        std::os::unix::fs::symlink(loops.join("a.yaml"), loops.join("b.yaml")).unwrap();
        std::os::unix::fs::symlink(loops.join("b.yaml"), loops.join("a.yaml")).unwrap();
        for command in ["check-log", "check-perf"] {
            let (status, _, stderr) = run(command, &loops);
            assert_ne!(status, 0, "{command}: {stderr}");
            assert!(
                stderr.contains("cannot read") && stderr.contains(".yaml"),
                "{stderr}"
            );
        }
    }
    // A file outside the dataset: refused by path, its content never read.
    let logs = temp_dir("properties-dataset-logs");
    write(
        &logs,
        "escape.yaml",
        "source: x\nvllm_version: 0.19.0\ngpu: h100-80gb\nmodel_file: ../../../../../../../etc/passwd\nreported: {model_loading_gib: 15}\n",
    );
    let (status, _, stderr) = run("check-log", &logs);
    assert_eq!(status, 3, "{stderr}");
    assert!(stderr.contains("outside the dataset directory"), "{stderr}");
    assert!(!stderr.contains("root:"), "{stderr}");
    // Figures no GPU reports: refused with the entry and the field.
    std::fs::remove_file(logs.join("escape.yaml")).unwrap();
    let huge = format!("1{}.0", "0".repeat(400));
    for (figure, field) in [
        (
            format!("log: \"Model loading took {huge} GiB memory\\n\""),
            "model_loading_gib",
        ),
        (
            "reported: {model_loading_gib: .nan}".to_string(),
            "model_loading_gib",
        ),
        (
            "reported: {model_loading_gib: -3}".to_string(),
            "model_loading_gib",
        ),
        (
            "reported: {model_loading_gib: 15, total_memory_gib: 0}".to_string(),
            "total_memory_gib",
        ),
    ] {
        write(
            &logs,
            "entry.yaml",
            &format!(
                "source: x\nvllm_version: 0.19.0\ngpu: h100-80gb\nmodel: llama-3.1-8b-instruct\n{figure}\n"
            ),
        );
        let (status, stdout, stderr) = run("check-log", &logs);
        assert_eq!(status, 3, "{figure}: {stderr}");
        assert!(
            stderr.contains("entry.yaml") && stderr.contains(field),
            "{stderr}"
        );
        assert!(stdout.is_empty(), "{stdout}");
    }
    let bench = temp_dir("properties-dataset-bench");
    for (point, field) in [
        (
            "{concurrency: 1, input_tokens: 100, output_tokens: 100, output_tokens_per_s: .nan, tpot_ms: 10}",
            "output_tokens_per_s",
        ),
        (
            "{concurrency: 1, input_tokens: 100, output_tokens: 100, output_tokens_per_s: -5, tpot_ms: 10}",
            "output_tokens_per_s",
        ),
        (
            "{concurrency: 1, input_tokens: 100, output_tokens: 100, output_tokens_per_s: 50, tpot_ms: 0}",
            "tpot_ms",
        ),
        (
            "{concurrency: 0, input_tokens: 100, output_tokens: 100, output_tokens_per_s: 50, tpot_ms: 10}",
            "concurrency",
        ),
    ] {
        write(
            &bench,
            "setup.yaml",
            &format!(
                "source: x\nvllm_version: 0.19.0\ngpu: h100-80gb\nmodel: llama-3.1-8b-instruct\npoints: [{point}]\n"
            ),
        );
        let (status, _, stderr) = run("check-perf", &bench);
        assert_eq!(status, 3, "{point}: {stderr}");
        assert!(
            stderr.contains("setup.yaml") && stderr.contains(field),
            "{stderr}"
        );
    }
}

/// A template override that emits anything besides the LeaderWorkerSet and the Service is
/// refused, naming what it emitted.
#[test]
fn a_template_emitting_another_object_is_refused() {
    let dir = temp_dir("properties-extra-object");
    let builtin = builtin_template("service.yaml.j2");
    let extra = format!(
        "{builtin}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: everything}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}}\nsubjects: [{{kind: ServiceAccount, name: default, namespace: default}}]\n"
    );
    write(&dir, "service.yaml.j2", &extra);
    let (status, stdout, stderr) = lwsplan(&[
        "render",
        "--model",
        "llama-3.1-8b-instruct",
        "--hardware",
        "h100-80gb",
        "--templates",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(status, 5, "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("document 3 (rbac.authorization.k8s.io/v1/ClusterRoleBinding/everything): a kind lwsplan does not render"),
        "{stderr}"
    );
}

/// A template override adding privileges is reported by name, as `validate` reports it.
#[test]
fn a_template_adding_privileges_is_refused() {
    let dir = temp_dir("properties-privileged");
    let builtin = builtin_template("leaderworkerset.yaml.j2");
    let privileged = builtin.replacen("      spec:\n", "      spec:\n        hostPID: true\n", 1);
    assert_ne!(privileged, builtin, "the template has a pod spec to add to");
    write(&dir, "leaderworkerset.yaml.j2", &privileged);
    let (status, _, stderr) = lwsplan(&[
        "render",
        "--model",
        "llama-3.1-8b-instruct",
        "--hardware",
        "h100-80gb",
        "--templates",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(status, 5, "{stderr}");
    assert!(stderr.contains("hostPID"), "{stderr}");
}

/// `-o` through a link to standard output: the link survives, the manifest arrives on the
/// pipe, and nothing is written beside the link.
#[cfg(unix)]
#[test]
fn output_to_a_link_to_a_stream_writes_the_stream() {
    let dir = temp_dir("properties-stdout-link");
    for (link, target) in [("out.yaml", "/dev/stdout"), ("null.yaml", "/dev/null")] {
        std::os::unix::fs::symlink(target, dir.join(link)).unwrap();
        let path = dir.join(link);
        let (status, stdout, stderr) = lwsplan(&[
            "render",
            "--model",
            "llama-3.1-8b-instruct",
            "--hardware",
            "h100-80gb",
            "-q",
            "-o",
            path.to_str().unwrap(),
        ]);
        assert_eq!(status, 0, "{stderr}");
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.is_symlink(), "{link} was replaced");
        assert_eq!(std::fs::read_link(&path).unwrap(), Path::new(target));
        if target == "/dev/stdout" {
            assert!(
                stdout.starts_with("apiVersion: leaderworkerset"),
                "{stdout}"
            );
        }
    }
    // A link to a file lwsplan did not create is refused and kept, the file untouched.
    write(&dir, "victim.txt", "keep me\n");
    std::os::unix::fs::symlink(dir.join("victim.txt"), dir.join("victim.yaml")).unwrap();
    let path = dir.join("victim.yaml");
    let (status, _, stderr) = lwsplan(&[
        "render",
        "--model",
        "llama-3.1-8b-instruct",
        "--hardware",
        "h100-80gb",
        "-q",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert_eq!(status, 6, "{stderr}");
    assert!(stderr.contains("symbolic link"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.join("victim.txt")).unwrap(),
        "keep me\n"
    );
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.len(),
        4,
        "nothing written beside the links: {names:?}"
    );
}

/// `templates -o -` prints the templates; no directory named `-` appears.
#[test]
fn templates_to_standard_output() {
    let dir = temp_dir("properties-templates-stdout");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_lwsplan"))
        .args(["templates", "-o", "-"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("{# file: leaderworkerset.yaml.j2 #}"),
        "{stdout}"
    );
    assert!(stdout.contains("{# file: service.yaml.j2 #}"));
    assert!(!dir.join("-").exists());
}

/// `import -o DIR` keeps two repositories of the same model name apart.
#[test]
fn import_keeps_repositories_apart() {
    let dir = temp_dir("properties-import-collision");
    let config = crate::root().join("tests/fixtures/hf/Qwen3-8B/config.json");
    let import = |repo: &str| {
        lwsplan(&[
            "import",
            "--hf-config",
            config.to_str().unwrap(),
            "--hf-repo",
            repo,
            "-o",
            dir.to_str().unwrap(),
        ])
    };
    assert_eq!(import("Qwen/Qwen3-8B").0, 0);
    // The same repository again: replaced, as a re-import should be.
    assert_eq!(import("Qwen/Qwen3-8B").0, 0);
    let (status, _, stderr) = import("unsloth/Qwen3-8B");
    assert_eq!(status, 3, "{stderr}");
    assert!(stderr.contains("Qwen/Qwen3-8B"), "{stderr}");
    let kept = std::fs::read_to_string(dir.join("qwen3-8b.yaml")).unwrap();
    assert!(kept.contains("hf_repo: Qwen/Qwen3-8B"), "{kept}");
}

/// A FIFO where a template or a profile should be is refused at once, not waited on.
#[cfg(unix)]
#[test]
fn fifos_are_refused_without_waiting() {
    let dir = temp_dir("properties-fifo");
    let fifo = dir.join("leaderworkerset.yaml.j2");
    if !std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success())
    {
        return;
    }
    let start = std::time::Instant::now();
    let (status, _, stderr) = lwsplan(&[
        "render",
        "--model",
        "llama-3.1-8b-instruct",
        "--hardware",
        "h100-80gb",
        "--templates",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(status, 3, "{stderr}");
    assert!(stderr.contains("FIFO"), "{stderr}");
    let (status, _, stderr) = lwsplan(&[
        "plan",
        "--model-file",
        fifo.to_str().unwrap(),
        "--hardware",
        "h100-80gb",
    ]);
    assert_eq!(status, 3, "{stderr}");
    assert!(start.elapsed() < std::time::Duration::from_secs(30));
}

/// Every page `lwsplan man` refers to (`lwsplan-NAME(1)`) can be generated with `lwsplan man
/// NAME`, and names itself.
#[test]
fn every_man_page_referred_to_exists() {
    let (status, man, stderr) = lwsplan(&["man"]);
    assert_eq!(status, 0, "{stderr}");
    let pages: Vec<String> = man
        .lines()
        .filter_map(|l| l.strip_prefix("lwsplan\\-")?.strip_suffix("(1)"))
        .map(|name| name.replace("\\-", "-"))
        .collect();
    assert!(pages.len() >= 10, "{pages:?}");
    for page in pages {
        let (status, text, stderr) = lwsplan(&["man", &page]);
        assert_eq!(status, 0, "{page}: {stderr}");
        assert!(
            text.contains(&format!(".TH lwsplan-{page} 1")),
            "{page}: {}",
            &text[..text.len().min(200)]
        );
    }
    let (status, _, stderr) = lwsplan(&["man", "nonsense"]);
    assert_eq!(status, 2, "{stderr}");
    assert!(stderr.contains("no subcommand `nonsense`"), "{stderr}");
}

/// A profile built in code skips `from_yaml`'s checks; the planner checks it again before
/// sizing anything from its counts (a per-layer table of 2^64 entries would abort).
#[test]
fn profiles_built_in_code_are_bounded_before_planning() {
    let catalog = lwsplan::Catalog::builtin();
    let hardware = catalog.hardware("h100-80gb").unwrap();
    let mut model = catalog.model("llama-3.1-8b-instruct").unwrap().clone();
    model.num_hidden_layers = u64::MAX;
    let planner = lwsplan::Planner::new(&model, hardware);
    let err = planner.plan(&lwsplan::PlanOptions::default()).unwrap_err();
    assert!(err.to_string().contains("num_hidden_layers"), "{err}");
    let err = planner
        .startup(&lwsplan::PlanOptions::default())
        .unwrap_err();
    assert!(err.to_string().contains("num_hidden_layers"), "{err}");
    let mut hardware = hardware.clone();
    hardware.gpu.memory_bandwidth_gb_per_s = 0;
    let model = catalog.model("llama-3.1-8b-instruct").unwrap();
    let err = lwsplan::Planner::new(model, &hardware)
        .plan(&lwsplan::PlanOptions::default())
        .unwrap_err();
    assert!(
        err.to_string().contains("memory_bandwidth_gb_per_s"),
        "{err}"
    );
}

/// `check-log --dataset` and `check-perf` over lwsplan's own sets, as JSON: every number
/// finite (a non-finite figure would print as `null`).
#[test]
fn calibration_json_numbers_are_finite() {
    let root = crate::root();
    let fixtures = root.join("tests/fixtures");
    for (command, set) in [("check-log", "vllm-logs"), ("check-perf", "benchmarks")] {
        let dir = fixtures.join(set);
        let (status, stdout, stderr) = lwsplan(&[
            command,
            "--dataset",
            dir.to_str().unwrap(),
            "--dataset-root",
            fixtures.to_str().unwrap(),
            "--format",
            "json",
        ]);
        assert_eq!(status, 0, "{command}: {stderr}");
        let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let mut found = Vec::new();
        numbers(&json, "", &mut found);
        assert!(found.len() > 100, "{command}: {} numbers", found.len());
        for (path, n) in found {
            assert!(n.is_finite(), "{command}: {path} = {n}");
        }
    }
}

/// A log that says how the run was started is the log's word, not a flag's: an impossible
/// layout or figure in it is refused naming the log, and never predicted.
#[test]
fn check_log_blames_the_log_not_a_flag() {
    let dir = temp_dir("properties-check-log");
    let engine = |tp: u64, pp: u64| {
        format!(
            "INFO Model loading took 14.99 GiB memory\n(EngineCore pid=1) INFO Initializing a V1 \
             LLM engine (v0.19.0) with config: model='x', tensor_parallel_size={tp}, \
             pipeline_parallel_size={pp}, device_config=cuda\n"
        )
    };
    for (name, text, said) in [
        ("tp3.log", engine(3, 1), "tensor_parallel_size, as the log reads it"),
        ("pp200.log", engine(1, 200), "pipeline_parallel_size, as the log reads it"),
        (
            "utilization.log",
            "Model loading took 14.99 GiB memory\nnon-default args: {'gpu_memory_utilization': 1.5}\n"
                .to_string(),
            "the log's gpu_memory_utilization is 1.5",
        ),
    ] {
        write(&dir, name, &text);
        let path = dir.join(name);
        let (status, stdout, stderr) = lwsplan(&[
            "check-log",
            path.to_str().unwrap(),
            "--model",
            "llama-3.1-8b-instruct",
            "--hardware",
            "h100-80gb",
        ]);
        assert_eq!(status, 3, "{name}: {stderr}");
        assert!(stdout.is_empty(), "{name}: predicted anyway: {stdout}");
        assert!(stderr.contains(said), "{name}: {stderr}");
        assert!(!stderr.contains("error: --"), "{name} blames a flag: {stderr}");
    }
}
