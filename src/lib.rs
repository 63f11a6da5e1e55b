//! lwsplan plans multi-node vLLM deployments and renders them as LeaderWorkerSet manifests.
//!
//! The flow is one way: profiles → [`Planner`] → [`Plan`] → rendered YAML → typed, validated
//! manifests. Each stage is a module:
//!
//! - [`profile`]: model and hardware facts with their sources, and the built-in [`Catalog`];
//! - [`plan`]: vLLM's memory accounting and parallelism rules, and the layout search;
//! - [`cli`]: the command line, a thin layer over the above.

pub mod cli;
pub mod manifest;
pub mod output;
pub mod plan;
pub mod profile;
pub mod render;
pub mod units;
pub mod validate;
pub mod yaml;

pub use manifest::Manifests;
pub use plan::{Plan, PlanError, PlanOptions, Planner};
pub use profile::{Catalog, HardwareProfile, ModelProfile};
pub use render::{RenderError, RenderOptions, Renderer};
