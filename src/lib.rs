#![deny(missing_docs)]
//! lwsplan plans multi-node vLLM deployments and renders them as LeaderWorkerSet manifests.
//!
//! The flow is one way, one module per stage:
//!
//! - [`profile`]: model and hardware facts with their sources, and the built-in [`Catalog`];
//! - [`plan`]: vLLM's memory accounting and parallelism rules; [`Planner`] → [`Plan`];
//! - [`render`]: one minijinja environment over `templates/`; [`Renderer`] → [`Manifests`];
//! - [`manifest`]: the typed LeaderWorkerSet and Service a render produces;
//! - [`validate`](mod@validate): the LeaderWorkerSet CRD schema, admission rules and consistency lints;
//! - [`io`]: bounded reads and a writer that never leaves a partial file, for programs and
//!   build scripts built on the above.
//!
//! The `lwsplan` command is a separate package, `lwsplan-cli`, a thin layer over this one.
//!
//! ```
//! use lwsplan::{Catalog, PlanOptions, Planner, RenderOptions, Renderer};
//!
//! let catalog = Catalog::builtin();
//! let plan = Planner::new(catalog.model("llama-3.1-405b-instruct")?, catalog.hardware("h200-141gb")?)
//!     .plan(&PlanOptions::default())?;
//! assert_eq!((plan.layout.tensor_parallel_size, plan.layout.nodes), (8, 1));
//! let yaml = Renderer::new(RenderOptions::default())?.render(&plan)?.to_yaml()?;
//! assert!(yaml.starts_with("apiVersion: leaderworkerset.x-k8s.io/v1"));
//! # Ok::<(), lwsplan::Error>(())
//! ```
//!
//! Every fallible function returns a typed error with its cause attached; [`Error`] wraps
//! them all, [`Error::kind`] says what happened, and [`Report`] prints the whole chain.
//!
//! # Kubernetes version
//!
//! lwsplan enables no k8s-openapi version feature under any of its features: the application
//! chooses one (`k8s-openapi = { version = "0.29", features = ["v1_35"] }`), as k8s-openapi
//! requires of libraries. kube 5 is the kube-rs release built on k8s-openapi 0.29.
//!
//! # Features
//!
//! - `calibrate`: [`calibrate`], the planner against published start-up logs and benchmarks
//!   (what `lwsplan check-log` and `check-perf` run), and its Markdown tables in [`report`].
//! - `machinery`: internals for lwsplan's own tests, benches and fuzz targets; no stability
//!   promise.

#[cfg(feature = "calibrate")]
pub mod calibrate;
pub mod codegen;
mod deployment;
mod error;
pub mod io;
pub mod manifest;
pub mod option;
pub mod plan;
pub mod profile;
pub mod render;
pub mod report;
pub mod units;
pub mod validate;
pub mod yaml;

pub use deployment::{Deployment, DeploymentError, ProfileRef};
pub use error::{Error, ErrorKind, Report, Result, ValueError, WriteError, YamlError};
pub use io::InputError;
pub use manifest::Manifests;
pub use option::OptionName;
pub use plan::{
    ExpertParallel, KvCacheDtype, Launcher, MaxModelLen, Plan, PlanError, PlanOptions, Planner,
    Strategy,
};
pub use profile::{Catalog, HardwareProfile, ModelProfile, ProfileError};
pub use render::{Platform, RenderError, RenderOptions, Renderer};
pub use units::ByteSize;
pub use validate::{Problem, validate, validate_yaml};

/// Internals for lwsplan's own tests, benches and fuzz targets. No stability promise: not for
/// library users.
#[cfg(feature = "machinery")]
#[doc(hidden)]
pub mod machinery {
    pub use crate::io::write_all;
    pub use crate::io::{MAX_INDEX_FILE, MAX_MANIFEST_FILE, MAX_SMALL_FILE};
    pub use crate::plan::kv::{
        KvLayout, bytes_per_token_per_layer, kv_heads_per_rank, state_bytes_per_sequence,
    };
    pub use crate::plan::layout::pp_partition;
    pub use crate::plan::weights::{parameters, weight_bytes};
    pub use crate::render::command::shell_quote;
    pub use crate::units::parse_quantity;
    pub use crate::validate::crd::{strict_v1_schema, strict_v1_schema_unshared};
    pub use crate::validate::schema::{strict_schema, validator};
    pub use crate::yaml::{from_str, from_str_multiple, to_string};

    /// Renders `plan` with the built-in templates replaced by `templates`, `(name, source)`.
    pub fn render_with_templates(
        options: crate::RenderOptions,
        templates: &[(&str, &str)],
        plan: &crate::Plan,
    ) -> Result<crate::Manifests, crate::RenderError> {
        crate::Renderer::with_templates(options, templates)?.render(plan)
    }
}

/// The README's examples run as doc tests, so the README cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
