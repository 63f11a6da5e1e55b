//! lwsplan's integration tests: one harness (one binary to link), a module per area, shared
//! insta settings and helpers.

mod accuracy;
mod calibration_bounds;
mod catalog;
mod chart;
mod cli;
mod codegen;
mod corpus;
mod determinism;
mod estimate_terms;
mod examples;
mod import;
mod injection;
mod kimi_linear;
mod library;
mod lint_fixtures;
mod plan_limits;
mod production;
mod properties;
mod render;
mod seed;

use std::path::PathBuf;
use std::process::Command;

/// The repository's top directory (this suite belongs to the lwsplan-cli package, whose
/// manifest sits in crates/lwsplan-cli).
/// Canonical, because the binary and insta's globs print canonical paths.
pub static ROOT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    std::fs::canonicalize(root)
        .unwrap()
        .to_string_lossy()
        .into_owned()
});

/// Snapshots live in `snapshots/` at the top of the repository, named without the module.
pub fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings
}

/// Runs the real binary: exit status, stdout, stderr.
pub fn lwsplan(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_lwsplan"))
        .args(args)
        .output()
        .expect("the binary runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A fresh directory under the target directory, removed first if a previous run left it.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(ROOT.as_str())
}
