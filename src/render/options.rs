//! How to deploy a plan: names, image, platform, ports, secrets and extras, and the checks
//! that refuse an option before anything is rendered, naming the option.

use std::collections::BTreeMap;
use std::path::PathBuf;

#[allow(unused_imports)]
use super::DEFAULT_NATIVE_IMAGE;
use super::{GPU_RESOURCE, RenderError};

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
    /// which flags are rendered.
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

/// LWS limits its name to `51 − replicas / 10` characters, so that pod names stay within 63.
pub(crate) fn check_name_length(name: &str, replicas: u64) -> Result<(), RenderError> {
    let max = crate::validate::names::max_lws_name_len(i32::try_from(replicas).unwrap_or(i32::MAX));
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
pub(crate) fn check_options(options: &RenderOptions) -> Result<(), RenderError> {
    use crate::validate::names::check_dns1035_label;
    check_dns1035_label(&options.name).map_err(|message| RenderError::Option {
        option: "--name",
        message: format!("{message} (it names the LeaderWorkerSet and its Service)"),
    })?;
    check_name_length(&options.name, 1)?;
    if let Some(namespace) = &options.namespace {
        crate::validate::names::check_dns1123_label(namespace).map_err(|message| {
            RenderError::Option {
                option: "--namespace",
                message,
            }
        })?;
    }
    if let Some(image) = &options.image
        && let Err(message) = crate::manifest::ImageRef::parse(image)
        && (image.is_empty() || image.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        // Only what no substitution could fix is refused here; an image that is merely not a
        // valid reference (a placeholder such as `${IMAGE}`) renders with a warning.
        return Err(RenderError::Option {
            option: "--image",
            message,
        });
    }
    for (option, name) in std::iter::once(("--hf-token-env", &options.hf_token_env))
        .chain(options.env.iter().map(|e| ("--env", &e.name)))
    {
        crate::validate::names::check_env_name(name).map_err(|message| RenderError::Option {
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
        crate::validate::names::check_qualified_name(&rdma.resource).map_err(|message| {
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
        crate::validate::names::check_qualified_name(key)
            .and_then(|()| crate::validate::names::check_label_value(value))
            .map_err(|message| RenderError::Option {
                option: "labels",
                message: format!("label {message}"),
            })?;
    }
    for key in options.annotations.keys() {
        crate::validate::names::check_qualified_name(key).map_err(|message| {
            RenderError::Option {
                option: "annotations",
                message: format!("annotation key {message}"),
            }
        })?;
    }
    Ok(())
}
