//! Build-time codegen as a downstream build.rs uses it.

use std::path::PathBuf;

use lwsplan::codegen::{Codegen, CodegenError};

fn out_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn example(name: &str) -> PathBuf {
    PathBuf::from(crate::ROOT.as_str())
        .join("examples")
        .join(name)
}

#[test]
fn writes_manifest_and_plan_per_deployment() {
    let dir = out_dir("codegen-ok");
    let written = Codegen::new()
        .deployment(example("deepseek-r1-h200.yaml"))
        .deployment(example("gke-guide-llama-3.1-405b.yaml"))
        .out_dir(&dir)
        .quiet()
        .run()
        .unwrap();
    assert_eq!(
        written,
        [
            dir.join("deepseek-r1-h200.yaml"),
            dir.join("gke-guide-llama-3.1-405b.yaml")
        ]
    );
    let yaml = std::fs::read_to_string(dir.join("deepseek-r1-h200.yaml")).unwrap();
    assert_eq!(lwsplan::validate::validate_yaml(&yaml), vec![]);
    let plan: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("deepseek-r1-h200.plan.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(plan["nodes"], 1);
}

#[test]
fn an_infeasible_deployment_fails_with_the_planners_message_and_writes_nothing() {
    let dir = out_dir("codegen-infeasible");
    let bad = dir.with_extension("yaml");
    std::fs::write(
        &bad,
        "model: deepseek-r1\nhardware: h100-80gb\nplan: {nodes: 1}\n",
    )
    .unwrap();
    let err = Codegen::new()
        .deployment(example("deepseek-r1-h200.yaml"))
        .deployment(&bad)
        .out_dir(&dir)
        .quiet()
        .run()
        .unwrap_err();
    assert!(matches!(err, CodegenError::Deployment { .. }));
    let message = lwsplan::Report(&err).to_string();
    assert!(
        message.contains("It needs at least 2 nodes of 8 × NVIDIA H100 80GB HBM3"),
        "{message}"
    );
    assert!(!dir.exists(), "nothing written when any deployment fails");
}

/// What the CLI prints as warnings reaches a build script's user as Cargo warnings, with the
/// rerun lines for every input.
#[test]
fn render_warnings_become_cargo_warnings() {
    let dir = out_dir("codegen-warnings");
    let file = dir.with_extension("latest.yaml");
    std::fs::write(
        &file,
        "model: llama-3.1-8b-instruct\nhardware: h100-80gb\nrender: {image: \"vllm/vllm-openai:latest\"}\n",
    )
    .unwrap();
    let mut cargo = Vec::new();
    Codegen::new()
        .deployment(&file)
        .out_dir(&dir)
        .run_to(&mut cargo)
        .unwrap();
    let cargo = String::from_utf8(cargo).unwrap();
    assert!(
        cargo.contains(&format!("cargo::rerun-if-changed={}", file.display())),
        "{cargo}"
    );
    let warning = cargo
        .lines()
        .find(|l| l.starts_with("cargo::warning=lwsplan: "))
        .unwrap_or_else(|| panic!("no warning in {cargo}"));
    assert!(
        warning.contains("is :latest and changes under you"),
        "{warning}"
    );
}
