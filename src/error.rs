//! One error model for the whole pipeline.
//!
//! Each stage has its own error enum ([`ProfileError`], [`DeploymentError`], [`PlanError`],
//! [`RenderError`], [`WriteError`]); [`Error`] wraps them all, so a caller that runs several
//! stages handles one type. Every error answers [`kind()`](Error::kind) — what happened, in the
//! four terms a caller acts on — and keeps its cause as its [`source()`](std::error::Error::source),
//! never as flattened text. A message reads as a sentence with its context (which file, which
//! field, which limit); the cause follows in the chain, which [`Report`] prints once:
//!
//! ```
//! use lwsplan::{Catalog, ErrorKind, PlanOptions, Planner, Report};
//!
//! let catalog = Catalog::builtin();
//! let plan = Planner::new(catalog.model("deepseek-r1")?, catalog.hardware("l4")?)
//!     .plan(&PlanOptions { nodes: Some(1), ..PlanOptions::default() });
//! let error = lwsplan::Error::from(plan.unwrap_err());
//! assert_eq!(error.kind(), ErrorKind::Infeasible);
//! assert!(Report(&error).to_string().contains("does not work"));
//! # Ok::<(), lwsplan::Error>(())
//! ```
//!
//! [`ProfileError`]: crate::ProfileError
//! [`DeploymentError`]: crate::DeploymentError
//! [`PlanError`]: crate::PlanError
//! [`RenderError`]: crate::RenderError

use std::fmt;

use crate::deployment::DeploymentError;
use crate::plan::PlanError;
use crate::profile::ProfileError;
use crate::render::RenderError;
pub use crate::value::{ValueError, truncate};
pub use crate::yaml::YamlError;

/// What kind of failure an error is: what a caller, and the CLI's exit status, acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A profile, deployment file, option or value is invalid: fix the input.
    InvalidInput,
    /// The input is valid, but the model does not fit the hardware under the constraints.
    Infeasible,
    /// A manifest (rendered or read) fails validation.
    InvalidManifest,
    /// Reading or writing a file failed.
    Io,
}

/// Any failure of lwsplan's pipeline, one variant per stage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Loading or checking a profile.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// Reading a deployment file.
    #[error(transparent)]
    Deployment(#[from] DeploymentError),
    /// Planning.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// Rendering or validating the manifests.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// Writing files.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// Reading or writing YAML.
    #[error(transparent)]
    Yaml(#[from] YamlError),
    /// Reading an input file (manifests to validate, say).
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: crate::io::InputError,
    },
}

impl Error {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Profile(e) => e.kind(),
            Error::Deployment(e) => e.kind(),
            Error::Plan(e) => e.kind(),
            Error::Render(e) => e.kind(),
            Error::Write(_) => ErrorKind::Io,
            Error::Yaml(_) => ErrorKind::InvalidInput,
            Error::Read { source, .. } if source.is_io() => ErrorKind::Io,
            Error::Read { .. } => ErrorKind::InvalidInput,
        }
    }
}

/// `Result` with lwsplan's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A file that could not be written, with what was being done to it.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {}", path.display())]
pub struct WriteError {
    /// What failed: `write`, `create`, `replace`, …
    pub action: &'static str,
    /// The file or directory.
    pub path: std::path::PathBuf,
    /// The operating system's reason.
    #[source]
    pub source: std::io::Error,
}

/// Prints an error and every cause under it, once each, joined by `: ` — what `main` prints
/// (ripgrep's `{:#}` habit). Causes print in their alternate form, so a template error keeps
/// minijinja's excerpt of the template around the failing line.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(error) = cause {
            write!(f, ": {error:#}")?;
            cause = error.source();
        }
        Ok(())
    }
}
