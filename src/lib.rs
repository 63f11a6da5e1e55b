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
//! - [`cli`]: the command line, a thin layer over the above.
//!
//! ```
//! use lwsplan::{Catalog, PlanOptions, Planner, RenderOptions, Renderer};
//!
//! let catalog = Catalog::builtin();
//! let plan = Planner::new(catalog.model("llama-3.1-405b-instruct")?, catalog.hardware("h200-141gb")?)
//!     .plan(&PlanOptions::default())?;
//! assert_eq!((plan.tensor_parallel_size, plan.nodes), (8, 1));
//! let yaml = Renderer::new(RenderOptions::default())?.render(&plan)?.to_yaml()?;
//! assert!(yaml.starts_with("apiVersion: leaderworkerset.x-k8s.io/v1"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod cli;
pub mod codegen;
pub mod deployment;
pub mod manifest;
pub mod output;
pub mod plan;
pub mod profile;
pub mod render;
pub mod units;
pub mod validate;
pub mod yaml;

pub use deployment::Deployment;
pub use manifest::Manifests;
pub use plan::{Plan, PlanError, PlanOptions, Planner};
pub use profile::{Catalog, HardwareProfile, ModelProfile};
pub use render::{RenderError, RenderOptions, Renderer};
pub use validate::{Problem, validate};

/// The README's examples run as doc tests, so the README cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
