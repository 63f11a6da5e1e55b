//! The bad-input corpus: every file under `tests/fixtures/bad/` goes through the real binary
//! and must fail with its exact message (snapshotted) and the documented exit status, never a
//! panic and never output on stdout. `insta::glob!` runs every case, so one failure does not
//! hide the others.
//!
//! - `bad/model/*`: `plan --model-file FILE --hardware h100-80gb`
//! - `bad/hardware/*`: `plan --model llama-3.1-8b-instruct --hardware-file FILE`
//! - `bad/deployment/*`: `render -f FILE`
//! - `bad/manifest/*`: `validate FILE`
//! - `bad/args/*.args`: the arguments themselves, one per line (`#` lines are comments,
//!   `$ROOT` is the repository)

use std::path::Path;
use std::process::Command;

/// Exit statuses (README): 3 invalid input, 4 infeasible, 5 validation failed, 6 I/O.
const EXPECTED: &[(&str, i32)] = &[
    ("args/capability-sys-admin.args", 3),
    ("args/concurrency-zero.args", 3),
    ("args/dcp-gqa-model.args", 4),
    ("args/dcp-not-dividing-tp.args", 4),
    ("args/dp-dense-model.args", 4),
    ("args/dp-ep-ray-launcher.args", 3),
    ("args/env-plaintext-token.args", 3),
    ("args/hf-config-without-repo.args", 3),
    ("args/hf-token-env-path.args", 3),
    ("args/host-path-dotdot.args", 3),
    ("args/huge-safetensors-index.args", 3),
    ("args/import-huge-index.args", 3),
    ("args/max-num-batched-tokens-zero.args", 3),
    ("args/model-file-dev-zero.args", 3),
    ("args/objective-without-workload.args", 3),
    ("args/port-zero.args", 3),
    ("args/quantization-below-capability.args", 3),
    ("args/request-rate-nan.args", 3),
    ("args/request-rate-zero.args", 3),
    ("args/shm-size-invalid.args", 2),
    ("args/target-sequences-100000.args", 3),
    ("args/tensor-parallel-4096.args", 4),
    ("args/unknown-model-words.args", 3),
    ("args/validate-every-file.args", 6),
    ("args/vllm-arg-max-model-len.args", 3),
    ("args/vllm-arg-max-num-seqs.args", 3),
    ("args/vllm-arg-pipeline-size.args", 3),
    ("args/vllm-arg-port.args", 3),
    ("args/vllm-arg-quantization.args", 3),
    ("args/vllm-arg-tp-alias.args", 3),
    ("args/warm-cache-without-cache.args", 2),
    ("args/workload-without-load.args", 2),
    ("deployment/bad-env-name.yaml", 3),
    ("deployment/bad-label.yaml", 3),
    ("deployment/bad-node-label.yaml", 3),
    ("deployment/bad-secret-name.yaml", 3),
    ("deployment/bad-storage-class.yaml", 3),
    ("deployment/binary.yaml", 3),
    ("deployment/capability-all.yaml", 3),
    ("deployment/dotdot-host-path.yaml", 3),
    ("deployment/empty-claim.yaml", 3),
    ("deployment/empty.yaml", 3),
    ("deployment/endless-template.yaml", 3),
    ("deployment/huge-template-output.yaml", 3),
    ("deployment/image-with-newline.yaml", 3),
    ("deployment/memory-below-shm.yaml", 3),
    ("deployment/missing-platform-label.yaml", 3),
    ("deployment/missing-profile-file.yaml", 6),
    ("deployment/mount-without-volume.yaml", 3),
    ("deployment/overriding-vllm-arg.yaml", 3),
    ("deployment/plaintext-token.yaml", 3),
    ("deployment/port-zero.yaml", 3),
    ("deployment/probe-period-too-long.yaml", 3),
    ("deployment/relative-host-path.yaml", 3),
    ("deployment/reserved-annotation.yaml", 3),
    ("deployment/reserved-label.yaml", 3),
    ("deployment/token-env-path.yaml", 3),
    ("deployment/too-few-nodes.yaml", 4),
    ("deployment/tp-does-not-divide-heads.yaml", 4),
    ("deployment/two-model-sources.yaml", 3),
    ("deployment/unknown-field.yaml", 3),
    ("deployment/unknown-model-id.yaml", 3),
    ("deployment/utilization-above-one.yaml", 3),
    ("deployment/zero-nodes.yaml", 3),
    ("hardware/bad-compute-capability.yaml", 3),
    ("hardware/compute-capability-zero.yaml", 3),
    ("hardware/negative-memory.yaml", 3),
    ("hardware/unknown-field.yaml", 3),
    ("hardware/zero-gpus.yaml", 3),
    ("manifest/bad-gpu-limits.yaml", 5),
    ("manifest/bad-name.yaml", 5),
    ("manifest/bad-namespace.yaml", 5),
    ("manifest/bad-service-ports.yaml", 5),
    ("manifest/binary.yaml", 3),
    ("manifest/dp-local-engines-mismatch.yaml", 5),
    ("manifest/empty.yaml", 5),
    ("manifest/gpu-mismatch.yaml", 5),
    ("manifest/gpus-times-size.yaml", 5),
    ("manifest/huge-annotations.yaml", 5),
    ("manifest/huge-parallel-sizes.yaml", 5),
    ("manifest/image-mismatch.yaml", 5),
    ("manifest/leader-without-node-selector.yaml", 5),
    ("manifest/no-image.yaml", 5),
    ("manifest/not-yaml.yaml", 5),
    ("manifest/overridden-pipeline-size.yaml", 5),
    ("manifest/small-shm.yaml", 5),
    ("manifest/unknown-field.yaml", 5),
    ("manifest/unknown-metadata-field.yaml", 5),
    ("model/absurd-parameters.yaml", 3),
    ("model/binary.yaml", 3),
    ("model/checkpoint-bytes-off.yaml", 3),
    ("model/empty.yaml", 3),
    ("model/kv-heads-do-not-divide.yaml", 3),
    ("model/layer-types-length.yaml", 3),
    ("model/malformed.yaml", 3),
    ("model/missing-field.yaml", 3),
    ("model/mxfp4-dense.yaml", 3),
    ("model/negative-layers.yaml", 3),
    ("model/number-too-large.yaml", 3),
    ("model/unknown-field.yaml", 3),
    ("model/wrong-type.yaml", 3),
    ("model/zero-checkpoint-bytes.yaml", 3),
    ("model/zero-layers.yaml", 3),
];

fn args(kind: &str, file: &str) -> Vec<String> {
    let file = file.to_string();
    let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match kind {
        "model" => [
            v(&["plan", "--model-file"]),
            vec![file],
            v(&["--hardware", "h100-80gb"]),
        ]
        .concat(),
        "hardware" => [
            v(&[
                "plan",
                "--model",
                "llama-3.1-8b-instruct",
                "--hardware-file",
            ]),
            vec![file],
        ]
        .concat(),
        "deployment" => [v(&["render", "-f"]), vec![file]].concat(),
        "manifest" => [v(&["validate"]), vec![file]].concat(),
        "args" => std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| l.replace("$ROOT", crate::ROOT.as_str()))
            .collect(),
        other => panic!("unknown corpus folder {other}"),
    }
}

#[test]
fn every_bad_input_is_listed() {
    let root = Path::new(crate::ROOT.as_str());
    let bad = root.join("tests/fixtures/bad");
    let mut found: Vec<String> = Vec::new();
    for kind in ["args", "deployment", "hardware", "manifest", "model"] {
        for entry in std::fs::read_dir(bad.join(kind)).unwrap() {
            found.push(format!(
                "{kind}/{}",
                entry.unwrap().file_name().to_string_lossy()
            ));
        }
    }
    found.sort();
    let listed: Vec<&str> = EXPECTED.iter().map(|(f, _)| *f).collect();
    assert_eq!(
        found, listed,
        "every corpus file has an expected status, and only those"
    );
}

#[test]
fn every_bad_input_fails_cleanly() {
    let root = Path::new(crate::ROOT.as_str());
    let mut settings = crate::settings();
    settings.set_omit_expression(true);
    settings.bind(|| {
        insta::glob!("../fixtures/bad", "*/*", |path| {
            let kind = path
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_str()
                .unwrap();
            let file = format!("{kind}/{}", path.file_name().unwrap().to_string_lossy());
            let status = EXPECTED
                .iter()
                .find(|(f, _)| *f == file)
                .map(|(_, s)| *s)
                .unwrap_or_else(|| panic!("{file} has no expected status in EXPECTED"));
            let args = args(kind, path.to_str().unwrap());
            let output = Command::new(env!("CARGO_BIN_EXE_lwsplan"))
                .args(&args)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(status), "{file}: {stderr}");
            assert!(
                output.stdout.is_empty() || kind == "args",
                "{file}: stdout must stay empty"
            );
            assert!(!stderr.contains("panicked"), "{file}: {stderr}");
            let shown = format!("$ lwsplan {}\nexit {status}\n{stderr}", args.join(" "))
                .replace(root.to_str().unwrap(), "$ROOT");
            insta::assert_snapshot!("corpus", shown);
        });
    });
}
