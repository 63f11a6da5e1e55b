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

pub(crate) mod base;

use crate::deployment::DeploymentError;
use crate::plan::PlanError;
use crate::profile::ProfileError;
use crate::render::RenderError;
pub use crate::yaml::YamlError;
pub(crate) use base::truncate;
pub use base::{ErrorKind, Report, ValueError, WriteError};

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
        #[allow(missing_docs)]
        path: std::path::PathBuf,
        #[allow(missing_docs)]
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
