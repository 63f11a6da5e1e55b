//! The bad-input corpus: every file under `tests/fixtures/bad/` goes through the real binary
//! and must fail with its exact message (snapshotted) and the documented exit status, never a
//! panic and never output on stdout.
//!
//! - `bad/model/*`: `plan --model-file FILE --hardware h100-80gb`
//! - `bad/hardware/*`: `plan --model llama-3.1-8b-instruct --hardware-file FILE`
//! - `bad/deployment/*`: `render -f FILE`
//! - `bad/manifest/*`: `validate FILE`

use std::path::Path;
use std::process::Command;

/// Exit statuses (README): 3 invalid input, 4 infeasible, 5 validation failed, 6 I/O.
const EXPECTED: &[(&str, i32)] = &[
    ("deployment/bad-env-name.yaml", 3),
    ("deployment/bad-label.yaml", 3),
    ("deployment/binary.yaml", 3),
    ("deployment/empty.yaml", 3),
    ("deployment/image-with-newline.yaml", 3),
    ("deployment/missing-profile-file.yaml", 6),
    ("deployment/too-few-nodes.yaml", 4),
    ("deployment/tp-does-not-divide-heads.yaml", 4),
    ("deployment/two-model-sources.yaml", 3),
    ("deployment/unknown-field.yaml", 3),
    ("deployment/unknown-model-id.yaml", 3),
    ("deployment/utilization-above-one.yaml", 3),
    ("deployment/zero-nodes.yaml", 3),
    ("hardware/bad-compute-capability.yaml", 3),
    ("hardware/negative-memory.yaml", 3),
    ("hardware/unknown-field.yaml", 3),
    ("hardware/zero-gpus.yaml", 3),
    ("manifest/bad-name.yaml", 5),
    ("manifest/binary.yaml", 3),
    ("manifest/empty.yaml", 5),
    ("manifest/gpu-mismatch.yaml", 5),
    ("manifest/not-yaml.yaml", 5),
    ("manifest/unknown-field.yaml", 5),
    ("model/absurd-parameters.yaml", 3),
    ("model/binary.yaml", 3),
    ("model/empty.yaml", 3),
    ("model/kv-heads-do-not-divide.yaml", 3),
    ("model/malformed.yaml", 3),
    ("model/missing-field.yaml", 3),
    ("model/negative-layers.yaml", 3),
    ("model/number-too-large.yaml", 3),
    ("model/unknown-field.yaml", 3),
    ("model/wrong-type.yaml", 3),
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
        other => panic!("unknown corpus folder {other}"),
    }
}

#[test]
fn every_bad_input_fails_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bad = root.join("tests/fixtures/bad");
    let mut found: Vec<String> = Vec::new();
    for kind in ["deployment", "hardware", "manifest", "model"] {
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

    let mut settings = crate::settings();
    settings.set_omit_expression(true);
    settings.bind(|| {
        for (file, status) in EXPECTED {
            let (kind, _) = file.split_once('/').unwrap();
            let path = bad.join(file);
            let args = args(kind, path.to_str().unwrap());
            let output = Command::new(env!("CARGO_BIN_EXE_lwsplan"))
                .args(&args)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(*status), "{file}: {stderr}");
            assert!(output.stdout.is_empty(), "{file}: stdout must stay empty");
            assert!(!stderr.contains("panicked"), "{file}: {stderr}");
            let shown = format!("$ lwsplan {}\nexit {status}\n{stderr}", args.join(" "))
                .replace(root.to_str().unwrap(), "$ROOT");
            insta::assert_snapshot!(format!("corpus@{}", file.replace('/', "-")), shown);
        }
    });
}
