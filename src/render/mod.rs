//! Rendering: a [`Plan`] and deployment options, through minijinja templates, to validated
//! LeaderWorkerSet and Service manifests.
//!
//! The rendered text is never printed as is: it is parsed back into typed objects and
//! validated (CRD schema, admission rules, consistency), then written out from the typed
//! objects, so the output is canonical and byte-for-byte deterministic.
//!
//! ```
//! use lwsplan::{Catalog, PlanOptions, Planner, RenderOptions, Renderer};
//!
//! let catalog = Catalog::builtin();
//! let plan = Planner::new(catalog.model("deepseek-r1")?, catalog.hardware("h100-80gb")?)
//!     .plan(&PlanOptions::default())?;
//! let manifests = Renderer::new(RenderOptions::default())?.render(&plan)?;
//! assert_eq!(manifests.leader_worker_set.spec.leader_worker_template.size, Some(2));
//! let yaml = manifests.to_yaml()?;
//! assert!(yaml.contains("nvidia.com/gpu: \"8\""));
//! # Ok::<(), lwsplan::Error>(())
//! ```

mod checks;
pub(crate) mod command;
mod context;
mod environment;
mod fabric;
mod options;
mod probe;
mod resources;
mod security;

pub use crate::plan::VllmVersion;
pub use context::{PodContext, Role, TemplateContext};
pub use options::{
    EnvVar, MODEL_CACHE_MOUNT, ModelCache, Network, Platform, PodOptions, RayBootstrap, Rdma,
    ReadinessProbe, RenderOptions, SecretKeyRef,
};

use crate::option::OptionName;
use std::path::PathBuf;

use minijinja::{Environment, Value};

use crate::error::base::ErrorKind;
use crate::io::InputError;
pub use crate::manifest::GPU_RESOURCE;
use crate::manifest::{ImageRef, Manifests};
use crate::plan::{Launcher, Plan, version};
use crate::validate::Problems;
pub use command::shell_quote;
pub use security::{PodSecurity, PodSecurityLevel};

/// The disk a copy of the whole checkpoint takes (weights + 10 % + 10 GiB), as a Kubernetes
/// quantity: what a shared model-cache claim needs at least.
pub fn checkpoint_disk_size(plan: &Plan) -> String {
    crate::units::quantity(resources::checkpoint_disk_bytes(plan))
}

/// The official vLLM image; the default image is its tag for the release the plan is made for
/// (`vllm/vllm-openai:v0.28.0` by default: see [`version::DEFAULT`](crate::plan::VllmVersion)).
pub const OFFICIAL_IMAGE: &str = "vllm/vllm-openai";

/// The built-in templates, `(file name, text)`: the start of a `--templates` override.
pub fn templates() -> impl Iterator<Item = (&'static str, &'static str)> {
    environment::TEMPLATES.iter().copied()
}

/// Why a render failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// A template failed to parse or render; the cause is minijinja's error, whose alternate
    /// form (`{:#}`, as [`Report`](crate::Report) prints it) shows the template around the line.
    #[error("template {template}{}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Template {
        /// Template file name.
        template: String,
        /// Line in the template, when known.
        line: Option<usize>,
        /// minijinja's error.
        #[source]
        source: minijinja::Error,
    },
    /// A template produced more text than any manifest needs.
    #[error("template {template} produced more than {limit} bytes")]
    OutputTooLarge {
        /// Template file name.
        template: String,
        /// The limit.
        limit: usize,
    },
    /// An option cannot be rendered.
    #[error("{option}: {message}")]
    Option {
        #[allow(missing_docs)]
        option: crate::OptionName,
        /// What is wrong and what to do.
        message: String,
    },
    /// The rendered manifests failed validation.
    #[error("the rendered manifests are invalid:\n{0}")]
    Invalid(Problems),
    /// A template override could not be read.
    #[error("cannot read the template override {}", path.display())]
    TemplateRead {
        /// The directory or file.
        path: PathBuf,
        #[allow(missing_docs)]
        #[source]
        source: InputError,
    },
    /// A `.j2` file in the override directory replaces no built-in template: most likely a
    /// misspelt name.
    #[error("{} overrides no template; the templates are {known}", path.display())]
    UnknownTemplate {
        #[allow(missing_docs)]
        path: PathBuf,
        /// The built-in template names.
        known: String,
    },
}

impl RenderError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RenderError::Invalid(_) => ErrorKind::InvalidManifest,
            RenderError::TemplateRead { source, .. } if source.is_io() => ErrorKind::Io,
            _ => ErrorKind::InvalidInput,
        }
    }

    fn template(name: &str, source: minijinja::Error) -> RenderError {
        RenderError::Template {
            template: source.name().unwrap_or(name).to_string(),
            line: source.line(),
            source,
        }
    }
}

/// Renders plans with one template environment.
#[derive(Debug)]
pub struct Renderer {
    options: RenderOptions,
    env: Environment<'static>,
}

impl Renderer {
    /// Checks the options and builds the template environment (built-ins, then overrides from
    /// `options.templates`).
    pub fn new(options: RenderOptions) -> Result<Self, RenderError> {
        let options = match options.probe {
            true => options.into_probe(),
            false => options,
        };
        checks::check_options(&options)?;
        let env = environment::environment(options.templates.as_deref())?;
        Ok(Renderer { options, env })
    }

    /// A renderer whose templates are given as text, `(file name, source)`, instead of read
    /// from `options.templates` (lwsplan's fuzz target drives the engine this way).
    #[cfg(feature = "machinery")]
    pub(crate) fn with_templates(
        options: RenderOptions,
        templates: &[(&str, &str)],
    ) -> Result<Self, RenderError> {
        checks::check_options(&options)?;
        let env = environment::environment_with(|name| {
            Ok(templates
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, text)| text.to_string()))
        })?;
        Ok(Renderer { options, env })
    }

    /// Renders, parses and validates the manifests for `plan`.
    pub fn render(&self, plan: &Plan) -> Result<Manifests, RenderError> {
        let plan = &self.probed(plan);
        checks::check_name_length(&self.options.name, plan.replicas)?;
        checks::check_node_label(&self.options, plan)?;
        checks::check_subgroup(&self.options, plan.layout.nodes)?;
        self.check_fabric_volumes(plan)?;
        resources::check_cache_size(&self.options.model_cache, plan)?;
        resources::check_against_node(&self.options.pod.resources, plan)?;
        let pod_resources = self.resources(plan);
        resources::check_download_fits(&pod_resources, &self.options.model_cache, plan)?;
        checks::check_memory_limit(&pod_resources, self.shm_bytes(plan))?;
        let text = self.render_text(plan)?;
        crate::validate::parse_manifests(&text).map_err(|p| RenderError::Invalid(Problems(p)))
    }

    /// The raw multi-document text the templates produce, before parsing.
    pub fn render_text(&self, plan: &Plan) -> Result<String, RenderError> {
        let plan = &self.probed(plan);
        let context = Value::from(minijinja::value::Serde(self.context(plan)?));
        let lws = environment::render(&self.env, "leaderworkerset.yaml.j2", &context)?;
        let service = environment::render(&self.env, "service.yaml.j2", &context)?;
        Ok(format!("{lws}\n---\n{service}\n"))
    }

    /// What the templates see for `plan`.
    pub fn context(&self, plan: &Plan) -> Result<TemplateContext, RenderError> {
        let image = self.image(plan)?;
        self.check_version(plan, &image)?;
        Ok(TemplateContext::new(context::Inputs {
            plan,
            options: &self.options,
            image,
            version: plan.vllm_version,
            startup_seconds: self.startup_seconds(plan),
            shm_bytes: self.shm_bytes(plan),
            resources: self.resources(plan),
        }))
    }

    /// Each vLLM container's CPU, memory and ephemeral-storage requests and limits: the
    /// user's (`--cpu`, `--memory`, `--ephemeral-storage`, `pod.resources`), and for what they
    /// leave out lwsplan's, derived from the plan and the node (GPUs are added by the
    /// template context).
    pub fn resources(&self, plan: &Plan) -> k8s_openapi::api::core::v1::ResourceRequirements {
        let defaults = resources::defaults(plan, self.shm_bytes(plan), &self.options.model_cache);
        resources::effective(&self.options.pod, &defaults)
    }

    /// The `/dev/shm` size of each pod: the option, else the plan's.
    pub fn shm_bytes(&self, plan: &Plan) -> u64 {
        self.options.shm_size.map_or(plan.shm_size_bytes, |s| s.0)
    }

    /// The image the pods run: the option, else the official vLLM image of the release the
    /// plan is made for. The Ray launcher's script bootstrap has no default: it needs an image
    /// built with `ray_init.sh`.
    pub fn image(&self, plan: &Plan) -> Result<String, RenderError> {
        let script = plan.launcher == Launcher::Ray
            && plan.layout.nodes > 1
            && self.options.ray_bootstrap == RayBootstrap::Script;
        match &self.options.image {
            Some(image) => Ok(image.clone()),
            None if script => Err(RenderError::Option {
                option: OptionName::Image,
                message: "the Ray launcher's script bootstrap needs an image with \
                          /vllm-workspace/ray_init.sh (built from the LWS repository's \
                          docs/examples/vllm/build/Dockerfile.GPU); pass --image, or use \
                          --ray-bootstrap inline with an official image"
                    .into(),
            }),
            None => Ok(format!("{OFFICIAL_IMAGE}:v{}", plan.vllm_version)),
        }
    }

    /// The highest Pod Security Standard level the rendered pods meet, and why not higher.
    pub fn pod_security(&self, plan: &Plan) -> PodSecurity {
        let context = self.context(plan).ok();
        let capabilities = context
            .as_ref()
            .map(|c| c.capabilities.clone())
            .unwrap_or_default();
        let fabric = fabric::wiring(plan, &self.options);
        let mut capabilities = capabilities;
        for sidecar in &fabric.init_containers {
            let added = sidecar
                .security_context
                .as_ref()
                .and_then(|s| s.capabilities.as_ref())
                .and_then(|c| c.add.clone())
                .unwrap_or_default();
            capabilities.extend(added);
        }
        security::pod_security(&self.options, &capabilities, !fabric.volumes.is_empty())
    }

    /// What the cluster needs for the plan's inter-node fabric (GKE networks, the NCCL plugin
    /// installer), when the render wires one.
    pub fn network_prerequisite(&self, plan: &Plan) -> Option<&'static str> {
        fabric::wiring(plan, &self.options).prerequisite
    }

    /// The options it renders with (for a probe: the probe's name and flags).
    pub fn options(&self) -> &RenderOptions {
        &self.options
    }

    /// The plan as the probe runs it: one group. Other renders run it as planned.
    fn probed<'a>(&self, plan: &'a Plan) -> std::borrow::Cow<'a, Plan> {
        if self.options.probe && plan.replicas != 1 {
            let mut one = plan.clone();
            one.replicas = 1;
            one.total_concurrency = one.max_concurrency;
            std::borrow::Cow::Owned(one)
        } else {
            std::borrow::Cow::Borrowed(plan)
        }
    }

    /// How long the leader may take to start: its weights at download speed, or at the cache's
    /// read speed when the cache is warm, plus the engine's start; the probe loads no weights.
    pub fn startup_seconds(&self, plan: &Plan) -> u64 {
        if self.options.probe {
            return probe::startup_seconds(0, probe::LOAD_BYTES_PER_SECOND);
        }
        let warm = matches!(
            self.options.model_cache,
            ModelCache::Pvc { warm: true, .. } | ModelCache::HostPath { warm: true, .. }
        );
        let rate = if warm {
            probe::WARM_CACHE_BYTES_PER_SECOND
        } else {
            probe::LOAD_BYTES_PER_SECOND
        };
        probe::startup_seconds(plan.max_weight_bytes_per_pod, rate)
    }

    /// Things about these options worth a warning, though they render: an image that is not a
    /// valid reference (a placeholder to substitute), one that is not pinned, DP + EP across
    /// nodes without RDMA.
    pub fn warnings(&self, plan: &Plan) -> Vec<String> {
        let mut warnings = self.image_warnings(plan);
        warnings.extend(resources::warnings(
            plan,
            &self.options.model_cache,
            &self.options.pod,
        ));
        warnings
    }

    /// User volumes named like the fabric's would collide.
    fn check_fabric_volumes(&self, plan: &Plan) -> Result<(), RenderError> {
        let fabric = fabric::wiring(plan, &self.options);
        for v in &self.options.pod.volumes {
            if fabric.volumes.iter().any(|f| f.name == v.name) {
                return Err(RenderError::Option {
                    option: crate::OptionName::PodVolumes,
                    message: format!(
                        "`{}` is a volume the {} wiring declares; name yours differently",
                        v.name, plan.network
                    ),
                });
            }
        }
        Ok(())
    }

    /// Warnings about the token, the image and the network.
    fn image_warnings(&self, plan: &Plan) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.options.platform == Platform::Gke && self.options.network.rdma.is_some() {
            warnings.push(
                "--rdma-resource with --platform gke: GKE offers no RDMA device-plugin resource, \
                 so the pods would stay Pending; GKE's GPUDirect RDMA (A3 Ultra, A4) comes from \
                 multi-networking and the gIB NCCL plugin: use --network rdma (the default on \
                 h200-141gb and b200) instead"
                    .to_string(),
            );
        }
        if plan.gated && self.options.hf_secret.is_none() && self.options.model_source.is_none() {
            warnings.push(format!(
                "{} is gated on Hugging Face and --hf-secret is none: the download fails (401) \
                 unless the weights come from elsewhere (--model-source, a warm cache)",
                plan.model_repo
            ));
        }
        use crate::profile::Network;
        // GKE's fabrics are wired by the render; elsewhere only --rdma-resource wires one.
        let wired = self.options.network.rdma.is_some()
            || (self.options.platform == Platform::Gke && plan.network != Network::Tcp);
        if self.options.platform == Platform::Nvidia
            && plan.layout.nodes > 1
            && matches!(plan.network, Network::Rdma | Network::Tcpx | Network::Tcpxo)
            && self.options.network.rdma.is_none()
        {
            warnings.push(format!(
                "the network is {} (hardware profile {} or --network), but with --platform nvidia \
                 lwsplan wires GPUDirect RDMA only through --rdma-resource NAME=COUNT (your RDMA \
                 device plugin's resource): without it NCCL uses whatever the pods' network offers",
                plan.network, plan.hardware
            ));
        }
        if plan.layout.data_parallel_size > 1 && plan.layout.nodes > 1 && !wired {
            warnings.push(format!(
                "DP + EP across {} nodes without --rdma-resource: every MoE layer's all-to-all \
                 between the nodes then runs over TCP sockets, far slower than GPUDirect RDMA",
                plan.layout.nodes
            ));
        }
        let Ok(image) = self.image(plan) else {
            return warnings;
        };
        match ImageRef::parse(&image) {
            Err(e) => warnings.push(format!(
                "image {e}: the kubelet cannot pull it (InvalidImageName); substitute it before applying"
            )),
            Ok(reference) => {
                if let Some(why) = reference.moves() {
                    warnings.push(format!(
                        "image `{image}` {why} and changes under you: pin a version tag or a digest (@sha256:…)"
                    ));
                }
            }
        }
        warnings
    }

    /// Refuses a plan the image cannot serve: an official image of another release than the
    /// plan's (its memory behaviour differs), a release without a feature the plan needs, the
    /// Ray launcher on an image without Ray.
    fn check_version(&self, plan: &Plan, image: &str) -> Result<(), RenderError> {
        let refuse = |message: String| RenderError::Option {
            option: OptionName::Image,
            message,
        };
        let v = plan.vllm_version;
        let reference = ImageRef::parse(image).ok();
        let official = reference.as_ref().is_some_and(|r| r.is_official_vllm());
        if let Some(tagged) = reference.as_ref().and_then(|r| r.vllm_version())
            && tagged != v
        {
            return Err(refuse(format!(
                "`{image}` runs vLLM {tagged}, but the plan is for {v}: plan with \
                 --vllm-version {tagged} (a deployment does so itself)"
            )));
        }
        if plan.layout.data_parallel_size > 1 {
            if plan.launcher == Launcher::Ray {
                return Err(RenderError::Option {
                    option: OptionName::Launcher,
                    message: "ray: DP + EP layouts are rendered with the native launcher (vLLM's \
                              multi-node data parallelism needs no Ray cluster)"
                        .into(),
                });
            }
            if plan.layout.nodes > 1 && !version::MULTI_NODE_DATA_PARALLEL.in_version(v) {
                return Err(refuse(version::MULTI_NODE_DATA_PARALLEL.missing(v)));
            }
        } else if plan.layout.nodes > 1
            && plan.launcher == Launcher::Native
            && !version::NATIVE_MULTI_NODE.in_version(v)
        {
            return Err(refuse(version::NATIVE_MULTI_NODE.missing(v)));
        }
        if plan.expert_parallel && !version::EXPERT_PARALLEL.in_version(v) {
            return Err(refuse(version::EXPERT_PARALLEL.missing(v)));
        }
        if plan.layout.nodes > 1
            && plan.launcher == Launcher::Ray
            && official
            && v >= version::RAY_LEFT_THE_IMAGE
            && !self.options.image_has_ray
        {
            return Err(refuse(format!(
                "the official vLLM image has no Ray from {} on (`ray: not found`; \
                 vllm-project/production-stack PR #1056), and {v} is newer: use --launcher native, \
                 an image of {} or older, or say the image carries Ray (--image-has-ray)",
                version::RAY_LEFT_THE_IMAGE,
                version::NEWEST_WITH_RAY
            )));
        }
        Ok(())
    }
}
