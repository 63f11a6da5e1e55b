//! How to deploy a plan: names, image, platform, ports, secrets and extras.

use std::collections::BTreeMap;
use std::path::PathBuf;

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
#[non_exhaustive]
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
        /// `timeoutSeconds`: a loaded server's `/health` can take longer than Kubernetes'
        /// default of 1 s, and the leader would flap out of the Service.
        #[serde(default = "probe_timeout")]
        timeout_seconds: u32,
    },
    /// A TCP connect to the API port (vLLM listens only once the engine is up).
    Tcp {
        /// `initialDelaySeconds`.
        initial_delay_seconds: u32,
        /// `periodSeconds`.
        period_seconds: u32,
        /// `timeoutSeconds`.
        #[serde(default = "probe_timeout")]
        timeout_seconds: u32,
    },
}

/// The readiness probe's default `timeoutSeconds`.
pub const READINESS_TIMEOUT_SECONDS: u32 = 5;

fn probe_timeout() -> u32 {
    READINESS_TIMEOUT_SECONDS
}

/// How long a stopping pod may take to finish its requests before it is killed, by default:
/// Kubernetes' 30 s cuts long generations short; vLLM's API server (uvicorn) stops accepting
/// connections on SIGTERM and lets open requests finish.
pub const TERMINATION_GRACE_PERIOD_SECONDS: u32 = 120;

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

/// `hf_secret` in a file: `none`, or `{name, key}`.
mod hf_secret {
    use super::SecretKeyRef;
    use serde::{Deserialize, Deserializer, Serializer};

    /// The schema: the word `none` or a Secret key reference.
    #[derive(schemars::JsonSchema)]
    #[allow(dead_code)]
    #[serde(untagged)]
    pub(super) enum Schema {
        /// No token.
        None(NoneWord),
        /// The Secret and key.
        Ref(SecretKeyRef),
    }

    #[derive(schemars::JsonSchema)]
    #[allow(dead_code)]
    #[serde(rename_all = "lowercase")]
    pub(super) enum NoneWord {
        None,
    }

    pub(super) fn serialize<S: Serializer>(
        v: &Option<SecretKeyRef>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            None => s.serialize_str("none"),
            Some(r) => serde::Serialize::serialize(r, s),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SecretKeyRef>, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Option<SecretKeyRef>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("`none` or a map with `name` and `key`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                match v {
                    "none" => Ok(None),
                    _ => Err(E::custom(format!(
                        "`{v}`: expected `none` or {{name: SECRET, key: KEY}}"
                    ))),
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                SecretKeyRef::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(Some)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// An environment variable with a literal value.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct EnvVar {
    /// Variable name.
    pub name: String,
    /// Its value. Literal: every `$` is kept as written (rendered `$$`), so Kubernetes does not
    /// expand `$(VAR)` in it, unless `expand` is set.
    pub value: String,
    /// Let Kubernetes expand `$(VAR)` references to other variables of the container in
    /// `value`, e.g. `$(LWS_LEADER_ADDRESS)`. Off by default: `--env 'X=$(HF_TOKEN)'` would
    /// otherwise copy the token into X.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expand: bool,
}

/// Pod settings a real cluster needs, applied to the leader and the workers alike. Kubernetes
/// types, written as in a pod spec (camelCase inside them).
#[derive(
    Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(default, deny_unknown_fields)]
pub struct PodOptions {
    /// Container resources beyond the GPUs (`cpu`, `memory`, `ephemeral-storage`, …). A memory
    /// limit must leave room for `/dev/shm`, which is memory-backed and counts against it.
    pub resources: k8s_openapi::api::core::v1::ResourceRequirements,
    /// Tolerations, e.g. for the taint GPU node pools carry (`nvidia.com/gpu=present:NoSchedule`).
    pub tolerations: Vec<k8s_openapi::api::core::v1::Toleration>,
    /// Affinity, e.g. to keep a group in one placement block.
    pub affinity: Option<k8s_openapi::api::core::v1::Affinity>,
    /// Secrets to pull the image with.
    pub image_pull_secrets: Vec<String>,
    /// The pods' service account.
    pub service_account_name: Option<String>,
    /// The pods' priority class.
    pub priority_class_name: Option<String>,
    /// `Always`, `IfNotPresent` or `Never`.
    pub image_pull_policy: Option<String>,
    /// Extra labels on the pods (not on the LeaderWorkerSet).
    pub labels: BTreeMap<String, String>,
    /// Extra annotations on the pods.
    pub annotations: BTreeMap<String, String>,
    /// Extra volumes of each pod.
    pub volumes: Vec<k8s_openapi::api::core::v1::Volume>,
    /// Extra mounts in each container, of the volumes above.
    pub volume_mounts: Vec<k8s_openapi::api::core::v1::VolumeMount>,
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

/// A file's port, checked where it is read so the error has its line.
fn port<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    use serde::Deserialize;
    match u16::deserialize(d)? {
        0 => Err(serde::de::Error::custom("port 0: a port must be 1–65535")),
        p => Ok(p),
    }
}

fn one() -> u32 {
    1
}

/// Where pods keep downloaded weights between restarts (`HF_HOME` points there).
#[derive(
    Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
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

/// How the Ray launcher forms each group's Ray cluster.
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
#[serde(rename_all = "snake_case")]
pub enum RayBootstrap {
    /// The commands are in the manifest: `ray start --head` on the leader, waiting until
    /// every pod joined; `ray start --address=… --block` on workers, retrying. Any image with
    /// Ray and vLLM will do.
    #[default]
    Inline,
    /// The published guide's form: `/vllm-workspace/ray_init.sh`, from an image built with
    /// LWS's `docs/examples/vllm/build/Dockerfile.GPU`.
    Script,
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
    /// Container image; by default the official `vllm/vllm-openai` image of the release the
    /// plan is made for.
    pub image: Option<String>,
    /// Which node labels select the GPUs.
    pub platform: Platform,
    /// The API port.
    #[serde(deserialize_with = "port")]
    pub port: u16,
    /// The Secret holding the Hugging Face token, or `none`: no token at all (a model that is
    /// not gated, or weights from a mirror or the cache). For a model that is not gated the
    /// reference is optional, so the pods start without the Secret.
    #[serde(with = "hf_secret")]
    #[schemars(with = "hf_secret::Schema")]
    pub hf_secret: Option<SecretKeyRef>,
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
    /// Whether the leader gets a liveness probe (`GET /health` once started, restarting a hung
    /// server after minutes of failures, not seconds).
    pub liveness_probe: bool,
    /// `terminationGracePeriodSeconds` of every pod: time to finish requests in flight.
    pub termination_grace_period_seconds: u32,
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
    /// How the Ray launcher forms each group's Ray cluster.
    pub ray_bootstrap: RayBootstrap,
    /// The image carries Ray although it is an official image from a release that dropped it
    /// (a derived image with `pip install ray`): lets the Ray launcher use it.
    pub image_has_ray: bool,
    /// Container name of the leader.
    pub leader_container_name: String,
    /// Container name of the workers.
    pub worker_container_name: String,
    /// Pod settings: resources, tolerations, affinity, pull secrets, service account, extra
    /// labels, annotations and volumes.
    pub pod: PodOptions,
    /// Keep each group in one placement domain: the node label whose value every pod of a
    /// group shares, one group per domain (LWS's `leaderworkerset.sigs.k8s.io/exclusive-topology`
    /// annotation), e.g. `cloud.google.com/gce-topology-block` on GKE or
    /// `cloud.google.com/gke-nodepool`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclusive_topology: Option<String>,
    /// Pods per LWS subgroup (`spec.leaderWorkerTemplate.subGroupPolicy.subGroupSize`), which
    /// `leaderworkerset.sigs.k8s.io/subgroup-exclusive-topology` places together; must divide
    /// the group's size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subgroup_size: Option<u64>,
    /// Tolerate the taint GPU node pools carry (`nvidia.com/gpu`, any value, NoSchedule), as
    /// GKE and the GPU operator's node pools set it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gpu_toleration: bool,
    /// Render the memory probe instead (`render --probe`): `<name>-probe`, one replica, vLLM
    /// on random weights of the real shapes (`--load-format dummy`) and a startup budget for
    /// the engine alone. Its leader's log is what `lwsplan check-log` compares with the plan.
    pub probe: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            name: "vllm".into(),
            namespace: None,
            image: None,
            platform: Platform::Gke,
            port: 8080,
            hf_secret: Some(SecretKeyRef {
                name: "hf-secret".into(),
                key: "hf_api_token".into(),
            }),
            hf_token_env: "HF_TOKEN".into(),
            shm_size: None,
            model_source: None,
            readiness_probe: ReadinessProbe::Http {
                path: "/health".into(),
                initial_delay_seconds: 0,
                period_seconds: 10,
                timeout_seconds: READINESS_TIMEOUT_SECONDS,
            },
            startup_probe: true,
            liveness_probe: true,
            termination_grace_period_seconds: TERMINATION_GRACE_PERIOD_SECONDS,
            env: Vec::new(),
            vllm_args: Vec::new(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            templates: None,
            model_cache: ModelCache::None,
            network: Network::default(),
            capabilities: Vec::new(),
            ray_bootstrap: RayBootstrap::Inline,
            image_has_ray: false,
            leader_container_name: "vllm-leader".into(),
            worker_container_name: "vllm-worker".into(),
            pod: PodOptions::default(),
            exclusive_topology: None,
            subgroup_size: None,
            gpu_toleration: false,
            probe: false,
        }
    }
}

impl RenderOptions {
    /// The options of the memory probe for this deployment: the same group under
    /// `<name>-probe`, vLLM loading random weights of the checkpoint's shapes
    /// (`--load-format dummy`: no download, the same memory profile), one replica.
    pub(crate) fn into_probe(mut self) -> RenderOptions {
        self.name = format!("{}-probe", self.name);
        self.vllm_args
            .extend(["--load-format".to_string(), "dummy".to_string()]);
        self.probe = true;
        self
    }
}
