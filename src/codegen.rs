//! Build-time codegen: plan and render deployment files from a `build.rs`, so a crate ships
//! manifests that were validated when it was compiled.
//!
//! In a crate with `lwsplan` in `[build-dependencies]`, `build.rs`:
//!
//! ```no_run
//! let generated = lwsplan::codegen::Codegen::new()
//!     .deployment("deploy/llama.yaml")
//!     .run();
//! if let Err(e) = generated {
//!     eprintln!("{e}");
//!     std::process::exit(1);
//! }
//! ```
//!
//! and `src/lib.rs`:
//!
//! ```text
//! pub const MANIFEST: &str = include_str!(concat!(env!("OUT_DIR"), "/llama.yaml"));
//! ```
//!
//! (`examples/build-codegen/` is such a crate, built and tested in CI.)
//!
//! For each deployment file `NAME.yaml` it writes `NAME.yaml` (the LeaderWorkerSet and the
//! Service) and `NAME.plan.json` (the plan) into `OUT_DIR`, and tells Cargo to rerun when the
//! file, a profile file it names or its templates change. A deployment that does not fit fails
//! with the planner's message.

use std::path::{Path, PathBuf};

use crate::deployment::{Deployment, ProfileRef};
use crate::error::{Error, ErrorKind};

/// Plans and renders deployment files into a directory (by default Cargo's `OUT_DIR`).
#[derive(Debug, Clone, Default)]
pub struct Codegen {
    deployments: Vec<PathBuf>,
    out_dir: Option<PathBuf>,
    quiet: bool,
}

/// Why codegen failed; the message names the deployment file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodegenError {
    /// Reading, planning or rendering a deployment failed (for example, the model does not
    /// fit).
    #[error("lwsplan: deployment {path}")]
    Deployment {
        /// The deployment file.
        path: PathBuf,
        /// The stage's error.
        #[source]
        source: Error,
    },
    /// No output directory: not run by Cargo and none given.
    #[error("lwsplan: OUT_DIR is not set; run from build.rs or call out_dir()")]
    NoOutDir,
    /// Writing the output failed.
    #[error("lwsplan: writing the generated files failed")]
    Write(#[source] Error),
}

impl CodegenError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CodegenError::Deployment { source, .. } | CodegenError::Write(source) => source.kind(),
            CodegenError::NoOutDir => ErrorKind::InvalidInput,
        }
    }
}

impl Codegen {
    /// No deployments yet; output to `OUT_DIR`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a deployment file (relative to the crate root, where Cargo runs `build.rs`).
    pub fn deployment(mut self, path: impl Into<PathBuf>) -> Self {
        self.deployments.push(path.into());
        self
    }

    /// Writes into `dir` instead of `OUT_DIR`.
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Does not print `cargo::rerun-if-changed` lines (outside build scripts).
    pub fn quiet(mut self) -> Self {
        self.quiet = true;
        self
    }

    /// Plans, renders and writes every deployment; returns the manifest files written. Nothing
    /// is written unless every deployment succeeds.
    pub fn run(&self) -> Result<Vec<PathBuf>, CodegenError> {
        self.run_to(&mut std::io::stdout().lock())
    }

    /// [`run`](Self::run), writing the `cargo::` lines for Cargo to `cargo` instead of
    /// standard output.
    pub fn run_to(&self, cargo: &mut dyn std::io::Write) -> Result<Vec<PathBuf>, CodegenError> {
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or(CodegenError::NoOutDir)?,
        };
        let mut files = Vec::new();
        let mut written = Vec::new();
        for path in &self.deployments {
            let failed = |source: Error| CodegenError::Deployment {
                path: path.clone(),
                source,
            };
            let deployment = Deployment::from_file(path).map_err(|e| failed(e.into()))?;
            if !self.quiet {
                for input in inputs(path, &deployment) {
                    let _ = writeln!(cargo, "cargo::rerun-if-changed={}", input.display());
                }
            }
            let plan = deployment.plan().map_err(failed)?;
            let renderer = deployment.renderer().map_err(failed)?;
            let manifests = renderer
                .render(&plan)
                .map_err(|e| failed(deployment.in_file(e.into())))?;
            if !self.quiet {
                // What the CLI prints as `warning:` reaches the user of a build script only as
                // Cargo's own warning, one line each.
                for warning in renderer.warnings(&plan) {
                    let line = warning.replace(['\n', '\r'], " ");
                    let _ = writeln!(cargo, "cargo::warning=lwsplan: {}: {line}", path.display());
                }
            }
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "deployment".into());
            let yaml = manifests.to_yaml().map_err(|e| failed(e.into()))?;
            let json = serde_json::to_string_pretty(&plan).map_err(|e| {
                failed(Error::from(crate::error::YamlError {
                    message: e.to_string(),
                }))
            })?;
            written.push(out_dir.join(format!("{stem}.yaml")));
            files.push((format!("{stem}.yaml"), yaml));
            files.push((format!("{stem}.plan.json"), json + "\n"));
        }
        crate::io::write_all(&out_dir, &files).map_err(|e| CodegenError::Write(e.into()))?;
        Ok(written)
    }
}

/// Every file a deployment reads: itself, profile files and template overrides.
fn inputs(path: &Path, deployment: &Deployment) -> Vec<PathBuf> {
    let mut inputs = vec![path.to_path_buf()];
    if let ProfileRef::File(file) = &deployment.model {
        inputs.push(file.clone());
    }
    if let ProfileRef::File(file) = &deployment.hardware {
        inputs.push(file.clone());
    }
    inputs.extend(deployment.render.templates.clone());
    inputs
}
