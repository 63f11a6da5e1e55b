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
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod command;
pub mod engine;
pub mod probe;

pub use command::{kube_escape, shell_quote};
pub use probe::{startup_failure_threshold, startup_seconds};

use std::collections::BTreeMap;
use std::path::PathBuf;

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};
use serde_json::json;

use crate::manifest::{Manifests, NAME_LABEL};
use crate::plan::{Launcher, Plan};
use crate::units::quantity;
use crate::validate::Problem;

/// The built-in templates, by file name.
pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "leaderworkerset.yaml.j2",
        include_str!("../../templates/leaderworkerset.yaml.j2"),
    ),
    (
        "service.yaml.j2",
        include_str!("../../templates/service.yaml.j2"),
    ),
];

/// The NVIDIA device plugin's resource name.
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";

/// The default image for the native launcher: the official vLLM image at the version the LWS
/// project's own multi-node example pins (kubernetes-sigs/lws PR #1021), which has native
/// multi-node serving (`--nnodes`, `--headless`; vllm PR #23691) and no Ray.
pub const DEFAULT_NATIVE_IMAGE: &str = "vllm/vllm-openai:v0.28.0";

/// Where the nodes' GPU labels come from.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// GKE and Google Distributed Cloud: `cloud.google.com/gke-accelerator`.
    #[default]
    Gke,
    /// NVIDIA GPU feature discovery: `nvidia.com/gpu.product`.
    Nvidia,
}

/// How the leader's readiness is probed.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ReadinessProbe {
    /// `GET path` on the API port (vLLM serves `/health`).
    Http {
        /// Request path.
        path: String,
        /// `initialDelaySeconds`.
        initial_delay_seconds: u32,
        /// `periodSeconds`.
        period_seconds: u32,
    },
    /// A TCP connect to the API port (vLLM listens only once the engine is up).
    Tcp {
        /// `initialDelaySeconds`.
        initial_delay_seconds: u32,
        /// `periodSeconds`.
        period_seconds: u32,
    },
}

/// A Secret key holding the Hugging Face token.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct SecretKeyRef {
    /// Secret name.
    pub name: String,
    /// Key within the Secret.
    pub key: String,
}

/// An environment variable with a literal value.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct EnvVar {
    /// Variable name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// How the pods of a group reach each other (vLLM `docs/serving/parallelism_scaling.md`).
#[derive(
    Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(default, deny_unknown_fields)]
pub struct Network {
    /// The interface NCCL and Gloo use between nodes (`NCCL_SOCKET_IFNAME`,
    /// `GLOO_SOCKET_IFNAME`), when the default route's interface is the wrong one.
    pub socket_ifname: Option<String>,
    /// GPUDirect RDMA between nodes (InfiniBand or RoCE).
    pub rdma: Option<Rdma>,
}

/// GPUDirect RDMA: the device resource each pod requests and the HCAs NCCL may use.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Rdma {
    /// The extended resource of your RDMA device plugin, e.g. `rdma/rdma_shared_device_a`.
    pub resource: String,
    /// How many of it each pod requests.
    #[serde(default = "one")]
    pub count: u32,
    /// `NCCL_IB_HCA`, e.g. `mlx5`; unset lets NCCL pick. (Pinning `NCCL_IB_GID_INDEX` is left
    /// out on purpose: a fixed GID index broke NCCL on RoCE hosts without it.)
    #[serde(default)]
    pub ib_hca: Option<String>,
}

fn one() -> u32 {
    1
}

/// Where pods keep downloaded weights between restarts (`HF_HOME` points there).
#[derive(
    Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ModelCache {
    /// No cache: every (re)start downloads the weights into the container.
    #[default]
    None,
    /// An existing PersistentVolumeClaim, shared by every pod (ReadWriteMany or ReadOnlyMany
    /// storage, e.g. Filestore or a pre-populated volume).
    Pvc {
        /// The claim's name.
        claim_name: String,
        /// The claim already holds the weights: the startup budget assumes reading, not
        /// downloading.
        #[serde(default)]
        warm: bool,
    },
    /// A claim per pod from `spec.leaderWorkerTemplate.volumeClaimTemplates`, sized for the
    /// checkpoint (weights + 10 % + 10 GiB) unless `size` is given.
    PerPod {
        /// Storage class; the cluster default when absent.
        #[serde(default)]
        storage_class: Option<String>,
        /// Claim size.
        #[serde(default)]
        size: Option<crate::units::ByteSize>,
    },
    /// A directory on each node (`hostPath`): a node-local disk that outlives pods.
    HostPath {
        /// The directory on the node.
        path: String,
        /// The nodes already hold the weights.
        #[serde(default)]
        warm: bool,
    },
}

/// Where the model cache is mounted in the containers.
pub const MODEL_CACHE_MOUNT: &str = "/models";

/// How to deploy a plan: names, image, platform, ports, secrets and extras.
///
/// In a deployment file every field is optional and defaults as on the command line.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RenderOptions {
    /// LeaderWorkerSet name; the Service is `<name>-leader`.
    pub name: String,
    /// Namespace; none leaves it to `kubectl`.
    pub namespace: Option<String>,
    /// Container image; the native default is [`DEFAULT_NATIVE_IMAGE`]. The Ray launcher
    /// needs an image with `/vllm-workspace/ray_init.sh`, so it has no default.
    pub image: Option<String>,
    /// Which node labels select the GPUs.
    pub platform: Platform,
    /// The API port.
    pub port: u16,
    /// The Secret holding the Hugging Face token.
    pub hf_secret: SecretKeyRef,
    /// The environment variable the token is passed in.
    pub hf_token_env: String,
    /// `/dev/shm` size, overriding the plan's.
    pub shm_size: Option<crate::units::ByteSize>,
    /// What vLLM loads, overriding the profile's Hugging Face repository (a mirror, a path).
    pub model_source: Option<String>,
    /// The leader's readiness probe.
    pub readiness_probe: ReadinessProbe,
    /// Whether the leader gets a startup probe sized to its load time.
    pub startup_probe: bool,
    /// Extra environment variables for every container, in order.
    pub env: Vec<EnvVar>,
    /// Extra `vllm serve` arguments, appended after the plan's.
    pub vllm_args: Vec<String>,
    /// Extra labels on both objects and the pods.
    pub labels: BTreeMap<String, String>,
    /// Extra annotations on the LeaderWorkerSet.
    pub annotations: BTreeMap<String, String>,
    /// A directory whose `*.j2` files replace the built-in templates of the same name
    /// (relative to the deployment file, in a file).
    pub templates: Option<PathBuf>,
    /// Where downloaded weights are kept between restarts.
    pub model_cache: ModelCache,
    /// Inter-node networking: interface pinning and GPUDirect RDMA.
    pub network: Network,
    /// Linux capabilities added to every container, e.g. `IPC_LOCK` for GPUDirect RDMA.
    /// None by default: no privileged containers, no host paths.
    pub capabilities: Vec<String>,
    /// The vLLM version the image runs, when its tag does not say (a custom image); decides
    /// which flags are rendered (see [`engine`]).
    pub vllm_version: Option<String>,
    /// Container name of the leader.
    pub leader_container_name: String,
    /// Container name of the workers.
    pub worker_container_name: String,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            name: "vllm".into(),
            namespace: None,
            image: None,
            platform: Platform::Gke,
            port: 8080,
            hf_secret: SecretKeyRef {
                name: "hf-secret".into(),
                key: "hf_api_token".into(),
            },
            hf_token_env: "HF_TOKEN".into(),
            shm_size: None,
            model_source: None,
            readiness_probe: ReadinessProbe::Http {
                path: "/health".into(),
                initial_delay_seconds: 0,
                period_seconds: 10,
            },
            startup_probe: true,
            env: Vec::new(),
            vllm_args: Vec::new(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            templates: None,
            model_cache: ModelCache::None,
            network: Network::default(),
            capabilities: Vec::new(),
            vllm_version: None,
            leader_container_name: "vllm-leader".into(),
            worker_container_name: "vllm-worker".into(),
        }
    }
}

/// Why a render failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// A template failed to parse or render.
    #[error("template {template}{}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Template {
        /// Template file name.
        template: String,
        /// Line in the template, when known.
        line: Option<usize>,
        /// minijinja's message.
        message: String,
    },
    /// An option cannot be rendered.
    #[error("{option}: {message}")]
    Option {
        /// The option, as the CLI spells it.
        option: &'static str,
        /// What is wrong and what to do.
        message: String,
    },
    /// The rendered manifests failed validation.
    #[error("the rendered manifests are invalid:\n{}", .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
    /// A template override could not be read.
    #[error("cannot read templates from {path}: {message}")]
    Io {
        /// The directory or file.
        path: String,
        /// What failed.
        message: String,
    },
}

impl From<minijinja::Error> for RenderError {
    fn from(e: minijinja::Error) -> Self {
        RenderError::Template {
            template: e.name().unwrap_or("?").to_string(),
            line: e.line(),
            message: match e.detail() {
                Some(detail) => format!("{}: {detail}", e.kind()),
                None => e.kind().to_string(),
            },
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
    /// Builds the template environment (built-ins, then overrides from `templates_dir`).
    pub fn new(options: RenderOptions) -> Result<Self, RenderError> {
        check_names(&options)?;
        let env = environment(options.templates.as_ref())?;
        Ok(Renderer { options, env })
    }

    /// Renders, parses and validates the manifests for `plan`.
    pub fn render(&self, plan: &Plan) -> Result<Manifests, RenderError> {
        check_name_length(&self.options.name, plan.replicas)?;
        let text = self.render_text(plan)?;
        crate::validate::parse_manifests(&text).map_err(RenderError::Invalid)
    }

    /// The raw multi-document text the templates produce, before parsing.
    pub fn render_text(&self, plan: &Plan) -> Result<String, RenderError> {
        let context = self.context(plan)?;
        let lws = self
            .env
            .get_template("leaderworkerset.yaml.j2")?
            .render(&context)?;
        let service = self.env.get_template("service.yaml.j2")?.render(&context)?;
        Ok(format!("{lws}\n---\n{service}\n"))
    }

    /// The image the pods run: the option, or the native launcher's default. The Ray launcher
    /// across nodes has no default: it needs an image with Ray and `ray_init.sh`.
    pub fn image(&self, plan: &Plan) -> Result<String, RenderError> {
        match (&self.options.image, plan.launcher, plan.nodes) {
            (Some(image), _, _) => Ok(image.clone()),
            (None, Launcher::Ray, n) if n > 1 => Err(RenderError::Option {
                option: "--image",
                message: "the Ray launcher needs an image with /vllm-workspace/ray_init.sh \
                          (built from the LWS repository's docs/examples/vllm/build/Dockerfile.GPU); \
                          pass --image, or use --launcher native with the stock vLLM image"
                    .into(),
            }),
            (None, _, _) => Ok(DEFAULT_NATIVE_IMAGE.to_string()),
        }
    }

    /// How long the leader may take to start: its weights at download speed, or at the cache's
    /// read speed when the cache is warm, plus the engine's start.
    pub fn startup_seconds(&self, plan: &Plan) -> u64 {
        let warm = matches!(
            self.options.model_cache,
            ModelCache::Pvc { warm: true, .. } | ModelCache::HostPath { warm: true, .. }
        );
        let rate = if warm {
            probe::WARM_CACHE_BYTES_PER_SECOND
        } else {
            probe::LOAD_BYTES_PER_SECOND
        };
        startup_seconds(plan.max_weight_bytes_per_pod, rate)
    }

    /// Things about these options worth a warning, though they render: an image that is not a
    /// valid reference (a placeholder to substitute), or one that is not pinned.
    pub fn warnings(&self, plan: &Plan) -> Vec<String> {
        let Ok(image) = self.image(plan) else {
            return Vec::new();
        };
        let mut warnings = Vec::new();
        if let Err(e) = crate::validate::check_image_reference(&image) {
            warnings.push(format!(
                "image {e}: the kubelet cannot pull it (InvalidImageName); substitute it before applying"
            ));
        } else if image.contains('@') {
            // Pinned by digest: nothing to say.
        } else {
            let last = image.rsplit('/').next().unwrap_or(&image);
            match last.split_once(':') {
                None => warnings.push(format!(
                    "image `{image}` has no tag, so it means :latest and changes under you: pin a tag or a digest (@sha256:…)"
                )),
                Some((_, "latest")) => warnings.push(format!(
                    "image `{image}` is :latest and changes under you: pin a version tag or a digest (@sha256:…)"
                )),
                Some(_) => {}
            }
        }
        warnings
    }

    /// The vLLM version the pods run, if known: `vllm_version`, else the official image's tag.
    pub fn vllm_version(&self, plan: &Plan) -> Result<Option<engine::VllmVersion>, RenderError> {
        match &self.options.vllm_version {
            Some(v) => v.parse().map(Some).map_err(|message| RenderError::Option {
                option: "--vllm-version",
                message,
            }),
            None => Ok(self
                .image(plan)
                .ok()
                .and_then(|i| engine::version_of_image(&i))),
        }
    }

    /// Refuses a plan the image's vLLM cannot serve.
    fn check_version(
        &self,
        plan: &Plan,
        image: &str,
        version: Option<engine::VllmVersion>,
    ) -> Result<(), RenderError> {
        let Some(v) = version else {
            return Ok(());
        };
        let refuse = |message: String| RenderError::Option {
            option: "--image",
            message,
        };
        if plan.nodes > 1
            && plan.launcher == Launcher::Native
            && !engine::NATIVE_MULTI_NODE.in_version(version)
        {
            return Err(refuse(engine::NATIVE_MULTI_NODE.missing(v)));
        }
        if plan.expert_parallel && !engine::EXPERT_PARALLEL.in_version(version) {
            return Err(refuse(engine::EXPERT_PARALLEL.missing(v)));
        }
        let repository = image.rsplit_once(':').map_or(image, |(r, _)| r);
        if plan.nodes > 1
            && plan.launcher == Launcher::Ray
            && engine::is_official(repository)
            && v >= engine::RAY_LEFT_THE_IMAGE
        {
            return Err(refuse(format!(
                "the official vLLM image has no Ray from {} on (`ray: not found`; kubernetes-sigs/lws \
                 issue #835), and {v} is newer: use --launcher native, or an image with Ray and \
                 ray_init.sh",
                engine::RAY_LEFT_THE_IMAGE
            )));
        }
        Ok(())
    }

    /// Every container's environment: the token by reference, then lwsplan's settings, then the
    /// user's variables (last, so they can override).
    fn env(
        &self,
        version: Option<engine::VllmVersion>,
        startup_seconds: u64,
        cache: &CacheVolumes,
    ) -> Vec<serde_json::Value> {
        let o = &self.options;
        let mut env = vec![json!({
            "name": o.hf_token_env,
            "valueFrom": {"secretKeyRef": {"name": o.hf_secret.name, "key": o.hf_secret.key}},
        })];
        // vLLM gives up waiting for its engine after 600 s by default; loading a 671B model
        // takes longer. Match the startup probe's budget (vllm PR #35616).
        if engine::ENGINE_READY_TIMEOUT.in_version(version) {
            env.push(
                json!({"name": "VLLM_ENGINE_READY_TIMEOUT_S", "value": startup_seconds.to_string()}),
            );
        }
        if cache.volume.is_some() || !cache.claim_templates.is_empty() {
            env.push(json!({"name": "HF_HOME", "value": MODEL_CACHE_MOUNT}));
        }
        if let Some(ifname) = &o.network.socket_ifname {
            for name in ["NCCL_SOCKET_IFNAME", "GLOO_SOCKET_IFNAME"] {
                env.push(json!({"name": name, "value": ifname}));
            }
        }
        if let Some(rdma) = &o.network.rdma {
            env.push(json!({"name": "NCCL_IB_DISABLE", "value": "0"}));
            if let Some(hca) = &rdma.ib_hca {
                env.push(json!({"name": "NCCL_IB_HCA", "value": hca}));
            }
        }
        env.extend(
            o.env
                .iter()
                .map(|e| json!({"name": e.name, "value": e.value})),
        );
        env
    }

    /// Resource limits (GPUs, and the RDMA device when asked) and added capabilities.
    fn resources(&self, plan: &Plan) -> (BTreeMap<String, String>, Vec<String>) {
        let o = &self.options;
        let mut limits =
            BTreeMap::from([(GPU_RESOURCE.to_string(), plan.gpus_per_node.to_string())]);
        let mut capabilities = o.capabilities.clone();
        if let Some(rdma) = &o.network.rdma {
            limits.insert(rdma.resource.clone(), rdma.count.to_string());
            // Registering GPU memory with the NIC pins pages: RDMA needs IPC_LOCK.
            if !capabilities.iter().any(|c| c == "IPC_LOCK") {
                capabilities.push("IPC_LOCK".to_string());
            }
        }
        (limits, capabilities)
    }

    /// The leader's readiness probe and, when enabled, its startup probe.
    fn probes(&self, startup_seconds: u64) -> (serde_json::Value, Option<serde_json::Value>) {
        let o = &self.options;
        let readiness = match &o.readiness_probe {
            ReadinessProbe::Http {
                path,
                initial_delay_seconds,
                period_seconds,
            } => json!({
                "httpGet": {"path": path, "port": o.port},
                "initialDelaySeconds": initial_delay_seconds,
                "periodSeconds": period_seconds,
            }),
            ReadinessProbe::Tcp {
                initial_delay_seconds,
                period_seconds,
            } => json!({
                "tcpSocket": {"port": o.port},
                "initialDelaySeconds": initial_delay_seconds,
                "periodSeconds": period_seconds,
            }),
        };
        let startup = o.startup_probe.then(|| {
            json!({
                "httpGet": {"path": "/health", "port": o.port},
                "periodSeconds": probe::STARTUP_PERIOD_SECONDS,
                "failureThreshold": startup_failure_threshold(startup_seconds),
            })
        });
        (readiness, startup)
    }

    fn context(&self, plan: &Plan) -> Result<Value, RenderError> {
        let o = &self.options;
        let image = self.image(plan)?;
        let version = self.vllm_version(plan)?;
        self.check_version(plan, &image, version)?;
        let commands = command::commands(plan, o);
        let (node_label, node_value) = match o.platform {
            Platform::Gke => (
                "cloud.google.com/gke-accelerator",
                &plan.node_labels.gke_accelerator,
            ),
            Platform::Nvidia => ("nvidia.com/gpu.product", &plan.node_labels.gpu_product),
        };
        let mut labels = o.labels.clone();
        labels.insert("app.kubernetes.io/name".into(), o.name.clone());
        labels.insert("app.kubernetes.io/managed-by".into(), "lwsplan".into());
        let mut leader_labels = labels.clone();
        leader_labels.insert("role".into(), "leader".into());
        let mut annotations = o.annotations.clone();
        for (key, value) in plan_annotations(plan) {
            annotations.insert(key, value);
        }
        let startup_seconds = self.startup_seconds(plan);
        let cache = model_cache(&o.model_cache, plan);
        let env = self.env(version, startup_seconds, &cache);
        let (limits, capabilities) = self.resources(plan);
        let (readiness, startup) = self.probes(startup_seconds);
        let mut selector = BTreeMap::new();
        selector.insert(NAME_LABEL.to_string(), o.name.clone());
        selector.insert("role".to_string(), "leader".to_string());
        let shm = o.shm_size.map_or(plan.shm_size_bytes, |s| s.0);
        let context = json!({
            "name": o.name,
            "namespace": o.namespace,
            "labels": labels,
            "annotations": annotations,
            "replicas": plan.replicas,
            "size": plan.nodes,
            "image": image,
            "limits": limits,
            "has_cache": cache.volume.is_some() || !cache.claim_templates.is_empty(),
            "cache_volume": cache.volume,
            "claim_templates": cache.claim_templates,
            "cache_mount": MODEL_CACHE_MOUNT,
            "node_selector": {node_label: node_value},
            "shm_size": quantity(shm),
            "port": o.port,
            "capabilities": capabilities,
            "service_name": format!("{}-leader", o.name),
            "service_selector": selector,
            "leader": {
                "template_field": "leaderTemplate",
                "labels": leader_labels,
                "container_name": o.leader_container_name,
                "command": commands.leader,
                "env": env,
                "port": o.port,
                "readiness_probe": readiness,
                "startup_probe": startup,
            },
            "worker": {
                "template_field": "workerTemplate",
                "labels": labels,
                "container_name": o.worker_container_name,
                "command": commands.worker,
                "env": env,
                "port": null,
                "readiness_probe": null,
                "startup_probe": null,
            },
        });
        Ok(Value::from(minijinja::value::Serde(context)))
    }
}

/// LWS limits its name to `51 − replicas / 10` characters, so that pod names stay within 63.
fn check_name_length(name: &str, replicas: u64) -> Result<(), RenderError> {
    let max = crate::validate::max_lws_name_len(i32::try_from(replicas).unwrap_or(i32::MAX));
    if name.len() > max {
        return Err(RenderError::Option {
            option: "--name",
            message: format!(
                "`{name}` is {} characters; with {replicas} replica(s) LWS allows at most {max} \
                 so that pod names stay within 63",
                name.len()
            ),
        });
    }
    Ok(())
}

/// Names are checked before rendering so the message names the option, not a manifest path.
fn check_names(options: &RenderOptions) -> Result<(), RenderError> {
    use crate::validate::check_dns1035_label;
    check_dns1035_label(&options.name).map_err(|message| RenderError::Option {
        option: "--name",
        message: format!("{message} (it names the LeaderWorkerSet and its Service)"),
    })?;
    check_name_length(&options.name, 1)?;
    if let Some(namespace) = &options.namespace {
        crate::validate::check_dns1123_label(namespace).map_err(|message| RenderError::Option {
            option: "--namespace",
            message,
        })?;
    }
    if let Some(image) = &options.image
        && (image.is_empty() || image.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        return Err(RenderError::Option {
            option: "--image",
            message: format!("{image:?} is empty or has whitespace or control characters"),
        });
    }
    for (option, name) in std::iter::once(("--hf-token-env", &options.hf_token_env))
        .chain(options.env.iter().map(|e| ("--env", &e.name)))
    {
        crate::validate::check_env_name(name).map_err(|message| RenderError::Option {
            option,
            message: format!("environment variable {message}"),
        })?;
    }
    for capability in &options.capabilities {
        let valid = !capability.is_empty()
            && capability
                .chars()
                .all(|c| c.is_ascii_uppercase() || c == '_');
        if !valid {
            return Err(RenderError::Option {
                option: "--add-capability",
                message: format!(
                    "`{capability}` is not a capability name (upper case, e.g. IPC_LOCK, without CAP_)"
                ),
            });
        }
    }
    if let Some(rdma) = &options.network.rdma {
        crate::validate::check_qualified_name(&rdma.resource).map_err(|message| {
            RenderError::Option {
                option: "--rdma-resource",
                message: format!("resource name {message}"),
            }
        })?;
        if rdma.resource == GPU_RESOURCE || rdma.count == 0 {
            return Err(RenderError::Option {
                option: "--rdma-resource",
                message: format!(
                    "`{}={}` must name another resource, at least once",
                    rdma.resource, rdma.count
                ),
            });
        }
    }
    for (key, value) in &options.labels {
        crate::validate::check_qualified_name(key)
            .and_then(|()| crate::validate::check_label_value(value))
            .map_err(|message| RenderError::Option {
                option: "labels",
                message: format!("label {message}"),
            })?;
    }
    for key in options.annotations.keys() {
        crate::validate::check_qualified_name(key).map_err(|message| RenderError::Option {
            option: "annotations",
            message: format!("annotation key {message}"),
        })?;
    }
    Ok(())
}

/// The model cache as the pod sees it: a pod volume (existing claim or host path) or claim
/// templates for one claim per pod.
struct CacheVolumes {
    volume: Option<serde_json::Value>,
    claim_templates: Vec<serde_json::Value>,
}

fn model_cache(cache: &ModelCache, plan: &Plan) -> CacheVolumes {
    const GIB: u64 = 1 << 30;
    let volume = |source: serde_json::Value| CacheVolumes {
        volume: Some(source),
        claim_templates: Vec::new(),
    };
    match cache {
        ModelCache::None => CacheVolumes {
            volume: None,
            claim_templates: Vec::new(),
        },
        ModelCache::Pvc { claim_name, .. } => volume(
            json!({"name": "model-cache", "persistentVolumeClaim": {"claimName": claim_name}}),
        ),
        ModelCache::HostPath { path, .. } => volume(
            json!({"name": "model-cache", "hostPath": {"path": path, "type": "DirectoryOrCreate"}}),
        ),
        ModelCache::PerPod {
            storage_class,
            size,
        } => {
            // The whole checkpoint lands on every node (downloads are not split by rank), plus
            // room for the MTP layers and tokenizer files the plan does not count.
            let size = size.map_or_else(
                || (plan.weight_bytes / 10 * 11 + 10 * GIB).div_ceil(GIB) * GIB,
                |s| s.0,
            );
            let mut spec = json!({
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": quantity(size)}},
            });
            if let Some(class) = storage_class {
                spec["storageClassName"] = json!(class);
            }
            CacheVolumes {
                volume: None,
                claim_templates: vec![json!({"metadata": {"name": "model-cache"}, "spec": spec})],
            }
        }
    }
}

/// The plan's key numbers, as annotations on the LeaderWorkerSet.
fn plan_annotations(plan: &Plan) -> Vec<(String, String)> {
    [
        ("model", plan.model.clone()),
        ("hardware", plan.hardware.clone()),
        (
            "tensor-parallel-size",
            plan.tensor_parallel_size.to_string(),
        ),
        (
            "pipeline-parallel-size",
            plan.pipeline_parallel_size.to_string(),
        ),
        ("max-model-len", plan.max_model_len.to_string()),
        ("replicas", plan.replicas.to_string()),
        ("kv-cache-tokens", plan.kv_cache_tokens.to_string()),
        ("weight-bytes", plan.weight_bytes.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (format!("lwsplan/{k}"), v))
    .collect()
}

/// The one template environment: strict undefined values, JSON escaping for every template
/// (set explicitly, so renaming a file cannot change escaping), built-in templates overridden
/// by same-named files in `dir`.
pub fn environment(dir: Option<&PathBuf>) -> Result<Environment<'static>, RenderError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::Json);
    env.set_formatter(yaml_json_formatter);
    for (name, source) in TEMPLATES {
        let source = match dir {
            Some(dir) => override_source(dir, name)?.unwrap_or_else(|| source.to_string()),
            None => source.to_string(),
        };
        env.add_template_owned(*name, source)?;
    }
    if let Some(dir) = dir {
        reject_unknown_templates(dir)?;
    }
    Ok(env)
}

/// Writes every interpolated value as JSON that is also valid YAML. JSON leaves DEL, the C1
/// controls and a few other code points raw, which YAML forbids or reads as line breaks; they
/// are written as `\uXXXX` escapes, which mean the same in both. Strings marked safe pass as is.
fn yaml_json_formatter(
    out: &mut minijinja::Output,
    _state: &mut minijinja::State,
    value: &Value,
) -> Result<(), minijinja::Error> {
    if value.is_undefined() {
        return Err(minijinja::Error::from(minijinja::ErrorKind::UndefinedError));
    }
    if value.is_safe() {
        return out
            .write_str(value.as_str().unwrap_or_default())
            .map_err(minijinja::Error::from);
    }
    let json = serde_json::to_string(value).map_err(|e| {
        minijinja::Error::new(
            minijinja::ErrorKind::BadSerialization,
            "unable to format to JSON",
        )
        .with_source(e)
    })?;
    out.write_str(&yaml_safe(&json))
        .map_err(minijinja::Error::from)
}

/// Escapes the code points YAML does not accept raw inside a double-quoted scalar.
pub fn yaml_safe(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '\u{7f}'..='\u{9f}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{feff}'
            | '\u{fffe}'
            | '\u{ffff}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

fn override_source(dir: &std::path::Path, name: &str) -> Result<Option<String>, RenderError> {
    let path = dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(RenderError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        }),
    }
}

/// A `.j2` file that overrides nothing is most likely a misspelt name.
fn reject_unknown_templates(dir: &std::path::Path) -> Result<(), RenderError> {
    let entries = std::fs::read_dir(dir).map_err(|e| RenderError::Io {
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".j2"))
        .collect();
    names.sort();
    for name in names {
        if !TEMPLATES.iter().any(|(known, _)| *known == name) {
            let known: Vec<&str> = TEMPLATES.iter().map(|(n, _)| *n).collect();
            return Err(RenderError::Io {
                path: dir.join(&name).display().to_string(),
                message: format!(
                    "overrides no template; the templates are {}",
                    known.join(", ")
                ),
            });
        }
    }
    Ok(())
}
