//! The template context: every value the templates place, typed and documented.
//!
//! Template overrides (`--templates DIR`) are written against this struct; its JSON Schema is
//! `lwsplan schema template-context`. Values are computed here (the plan's numbers, lwsplan's
//! commands, the user's options); templates only place them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, Container, EnvVar, EnvVarSource, HTTPGetAction, LocalObjectReference,
    PersistentVolumeClaim, Probe, SecretKeySelector, SecurityContext, TCPSocketAction, Toleration,
    Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;

use super::options::{ModelCache, ReadinessProbe, RenderOptions};
use super::{GPU_RESOURCE, MODEL_CACHE_MOUNT, probe};
use crate::manifest::NAME_LABEL;
use crate::plan::Plan;
use crate::plan::{VllmVersion, version};
use crate::units::quantity;

/// What the LeaderWorkerSet and Service templates see.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct TemplateContext {
    /// LeaderWorkerSet name.
    pub name: String,
    /// Namespace of both objects; none leaves it to `kubectl`.
    pub namespace: Option<String>,
    /// Labels on both objects and every pod.
    pub labels: BTreeMap<String, String>,
    /// Annotations on the LeaderWorkerSet: the user's, then the plan's key numbers
    /// (`lwsplan/*`).
    pub annotations: BTreeMap<String, String>,
    /// LWS replicas: groups.
    pub replicas: u64,
    /// Pods per group (`size`): the plan's nodes.
    pub size: u64,
    /// Pods per LWS subgroup, when asked for.
    pub subgroup_size: Option<u64>,
    /// Container image.
    pub image: String,
    /// Container resource limits: GPUs per pod, the RDMA device when asked for, the memory
    /// limit (the user's, else lwsplan's), and the user's others.
    pub limits: BTreeMap<String, String>,
    /// Container resource requests: CPU, memory and ephemeral storage, the user's or derived
    /// from the plan and the node (GPUs are requested by their limit).
    pub requests: BTreeMap<String, Quantity>,
    /// Whether a model cache is mounted.
    pub has_cache: bool,
    /// The model cache as a pod volume (an existing claim or a host path).
    pub cache_volume: Option<Volume>,
    /// The model cache as a claim per pod (`volumeClaimTemplates`).
    pub claim_templates: Vec<PersistentVolumeClaim>,
    /// Where the model cache is mounted.
    pub cache_mount: String,
    /// The node label that selects the GPU type, and its value.
    pub node_selector: BTreeMap<String, String>,
    /// `/dev/shm` size limit, as a Kubernetes quantity.
    pub shm_size: String,
    /// The API port.
    pub port: u16,
    /// Linux capabilities added to every container.
    pub capabilities: Vec<String>,
    /// The Service's name.
    pub service_name: String,
    /// The Service's selector: the leader pods of this LeaderWorkerSet.
    pub service_selector: BTreeMap<String, String>,
    /// Settings of both pod templates.
    pub pod: PodContext,
    /// `terminationGracePeriodSeconds` of every pod.
    pub termination_grace_period_seconds: u32,
    /// The leader pod.
    pub leader: Role,
    /// The worker pods.
    pub worker: Role,
}

/// What the leader's and the workers' pods share beyond the container.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct PodContext {
    /// Pod template annotations: the user's, then the fabric's (GKE multi-networking).
    pub annotations: BTreeMap<String, String>,
    /// Native sidecars (`initContainers` with `restartPolicy: Always`): the GPUDirect-TCPX/TCPXO
    /// receive daemon on GKE.
    pub init_containers: Vec<Container>,
    /// Tolerations.
    pub tolerations: Vec<Toleration>,
    /// Affinity.
    pub affinity: Option<Affinity>,
    /// Image pull secrets.
    pub image_pull_secrets: Vec<LocalObjectReference>,
    /// Service account.
    pub service_account_name: Option<String>,
    /// Priority class.
    pub priority_class_name: Option<String>,
    /// The container's image pull policy.
    pub image_pull_policy: Option<String>,
    /// Extra volumes.
    pub volumes: Vec<Volume>,
    /// Extra mounts in the container.
    pub volume_mounts: Vec<VolumeMount>,
}

/// One pod template of the group: the leader's or the workers'.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Role {
    /// `leaderTemplate` or `workerTemplate`.
    pub template_field: String,
    /// The pod's labels.
    pub labels: BTreeMap<String, String>,
    /// Container name.
    pub container_name: String,
    /// The container's command (exec form).
    pub command: Vec<String>,
    /// The container's environment.
    pub env: Vec<EnvVar>,
    /// The API port, on the leader only.
    pub port: Option<u16>,
    /// The readiness probe, on the leader only.
    pub readiness_probe: Option<Probe>,
    /// The startup probe, on the leader only.
    pub startup_probe: Option<Probe>,
    /// The liveness probe, on the leader only.
    pub liveness_probe: Option<Probe>,
    /// The container's security context: no privilege escalation, the runtime's default
    /// seccomp profile, the added capabilities.
    pub security_context: SecurityContext,
}

/// Everything the context needs that the renderer decided: the image, its vLLM version and
/// the startup budget.
pub(crate) struct Inputs<'a> {
    pub plan: &'a Plan,
    pub options: &'a RenderOptions,
    pub image: String,
    pub version: VllmVersion,
    pub startup_seconds: u64,
    pub shm_bytes: u64,
    pub resources: k8s_openapi::api::core::v1::ResourceRequirements,
}

impl TemplateContext {
    pub(crate) fn new(inputs: Inputs<'_>) -> TemplateContext {
        let Inputs {
            plan,
            options: o,
            image,
            version,
            startup_seconds,
            shm_bytes,
            resources: pod_resources,
        } = inputs;
        let commands = super::command::commands(plan, o);
        let fabric = super::fabric::wiring(plan, o);
        let (node_label, node_value) = match o.platform {
            super::Platform::Gke => (
                "cloud.google.com/gke-accelerator",
                &plan.node_labels.gke_accelerator,
            ),
            super::Platform::Nvidia => ("nvidia.com/gpu.product", &plan.node_labels.gpu_product),
        };
        let mut labels = o.labels.clone();
        labels.insert("app.kubernetes.io/name".into(), o.name.clone());
        labels.insert("app.kubernetes.io/managed-by".into(), "lwsplan".into());
        let mut pod_labels = labels.clone();
        pod_labels.extend(o.pod.labels.clone());
        let mut leader_labels = pod_labels.clone();
        leader_labels.insert("role".into(), "leader".into());
        let mut annotations = o.annotations.clone();
        if let Some(key) = &o.exclusive_topology {
            annotations.insert(
                super::checks::USER_LWS_ANNOTATIONS[0].to_string(),
                key.clone(),
            );
        }
        annotations.extend(plan_annotations(plan));
        let (cache_volume, claim_templates) = model_cache(&o.model_cache, plan);
        let has_cache = cache_volume.is_some() || !claim_templates.is_empty();
        let mut env = env(o, plan.gated, version, startup_seconds, has_cache);
        // The fabric's variables go before the user's (which may override them), and never
        // twice.
        let user_from = env.len() - o.env.len();
        let fabric_env: Vec<EnvVar> = fabric
            .env
            .iter()
            .filter(|v| !env.iter().any(|e| e.name == v.name))
            .cloned()
            .collect();
        env.splice(user_from..user_from, fabric_env);
        let (limits, mut capabilities) = resources(plan, o, &pod_resources);
        for c in &fabric.capabilities {
            if !capabilities.contains(c) {
                capabilities.push(c.clone());
            }
        }
        let security_context = super::security::container(&capabilities);
        let requests = pod_resources.requests.clone().unwrap_or_default();
        let (readiness, startup, liveness) = probes(o, startup_seconds);
        let service_selector = BTreeMap::from([
            (NAME_LABEL.to_string(), o.name.clone()),
            ("role".to_string(), "leader".to_string()),
        ]);
        TemplateContext {
            name: o.name.clone(),
            namespace: o.namespace.clone(),
            replicas: plan.replicas,
            size: plan.layout.nodes,
            subgroup_size: o.subgroup_size,
            image,
            limits,
            requests,
            has_cache,
            cache_volume,
            claim_templates,
            cache_mount: MODEL_CACHE_MOUNT.to_string(),
            node_selector: BTreeMap::from([(node_label.to_string(), node_value.clone())]),
            shm_size: quantity(shm_bytes),
            port: o.port,
            capabilities,
            service_name: format!("{}-leader", o.name),
            termination_grace_period_seconds: o.termination_grace_period_seconds,
            service_selector,
            pod: PodContext {
                annotations: o
                    .pod
                    .annotations
                    .clone()
                    .into_iter()
                    .chain(fabric.annotations.clone())
                    .collect(),
                init_containers: fabric.init_containers.clone(),
                tolerations: tolerations(o),
                affinity: o.pod.affinity.clone(),
                image_pull_secrets: o
                    .pod
                    .image_pull_secrets
                    .iter()
                    .map(|name| LocalObjectReference { name: name.clone() })
                    .collect(),
                service_account_name: o.pod.service_account_name.clone(),
                priority_class_name: o.pod.priority_class_name.clone(),
                image_pull_policy: o.pod.image_pull_policy.clone(),
                volumes: o
                    .pod
                    .volumes
                    .iter()
                    .chain(&fabric.volumes)
                    .cloned()
                    .collect(),
                volume_mounts: o
                    .pod
                    .volume_mounts
                    .iter()
                    .chain(&fabric.mounts)
                    .cloned()
                    .collect(),
            },
            leader: Role {
                template_field: "leaderTemplate".into(),
                labels: leader_labels,
                container_name: o.leader_container_name.clone(),
                command: commands.leader,
                env: env.clone(),
                port: Some(o.port),
                readiness_probe: Some(readiness),
                startup_probe: startup,
                liveness_probe: liveness,
                security_context: security_context.clone(),
            },
            worker: Role {
                template_field: "workerTemplate".into(),
                labels: pod_labels,
                container_name: o.worker_container_name.clone(),
                command: commands.worker,
                env,
                port: None,
                readiness_probe: None,
                startup_probe: None,
                liveness_probe: None,
                security_context,
            },
            labels,
            annotations,
        }
    }
}

/// The user's tolerations, and the GPU taint's when asked for (as Google's GPU manifests write
/// it: `key: nvidia.com/gpu, operator: Exists`, here for NoSchedule).
fn tolerations(o: &RenderOptions) -> Vec<Toleration> {
    let mut tolerations = o.pod.tolerations.clone();
    let gpu = Toleration {
        key: Some(super::GPU_RESOURCE.to_string()),
        operator: Some("Exists".into()),
        effect: Some("NoSchedule".into()),
        ..Toleration::default()
    };
    if o.gpu_toleration && !tolerations.contains(&gpu) {
        tolerations.push(gpu);
    }
    tolerations
}

/// A literal environment variable.
fn var(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: Some(value.into()),
        value_from: None,
    }
}

/// Every container's environment: the token by reference, then lwsplan's settings, then the
/// user's variables (last, so they can override).
fn env(
    o: &RenderOptions,
    gated: bool,
    version: VllmVersion,
    startup_seconds: u64,
    has_cache: bool,
) -> Vec<EnvVar> {
    let mut env = Vec::new();
    // By reference, never by value; optional for a model that is not gated, so the pods start
    // without the Secret (the token then only lifts Hugging Face's rate limits).
    if let Some(secret) = &o.hf_secret {
        env.push(EnvVar {
            name: o.hf_token_env.clone(),
            value: None,
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: secret.name.clone(),
                    key: secret.key.clone(),
                    optional: (!gated).then_some(true),
                }),
                ..EnvVarSource::default()
            }),
        });
    }
    // vLLM gives up waiting for its engine after 600 s by default; loading a 671B model
    // takes longer. Match the startup probe's budget (vllm PR #35616).
    if version::ENGINE_READY_TIMEOUT.in_version(version) {
        env.push(var(
            "VLLM_ENGINE_READY_TIMEOUT_S",
            startup_seconds.to_string(),
        ));
    }
    if has_cache {
        env.push(var("HF_HOME", MODEL_CACHE_MOUNT));
    }
    if let Some(ifname) = &o.network.socket_ifname {
        for name in ["NCCL_SOCKET_IFNAME", "GLOO_SOCKET_IFNAME"] {
            env.push(var(name, ifname.clone()));
        }
    }
    if let Some(rdma) = &o.network.rdma {
        env.push(var("NCCL_IB_DISABLE", "0"));
        if let Some(hca) = &rdma.ib_hca {
            env.push(var("NCCL_IB_HCA", hca.clone()));
        }
    }
    // Kubernetes expands `$(VAR)` in env values and turns `$$` into `$`: a literal value
    // keeps every `$` by doubling it, unless the user asked for expansion.
    env.extend(o.env.iter().map(|e| {
        let value = if e.expand {
            e.value.clone()
        } else {
            super::command::kube_escape(&e.value)
        };
        var(&e.name, value)
    }));
    env
}

/// Resource limits (GPUs, and the RDMA device when asked) and added capabilities.
fn resources(
    plan: &Plan,
    o: &RenderOptions,
    pod: &k8s_openapi::api::core::v1::ResourceRequirements,
) -> (BTreeMap<String, String>, Vec<String>) {
    let mut limits: BTreeMap<String, String> = pod
        .limits
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    limits.insert(
        GPU_RESOURCE.to_string(),
        plan.layout.gpus_per_pod.to_string(),
    );
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
fn probes(o: &RenderOptions, startup_seconds: u64) -> (Probe, Option<Probe>, Option<Probe>) {
    let port = IntOrString::Int(i32::from(o.port));
    let http = |path: &str| HTTPGetAction {
        path: Some(path.to_string()),
        port: port.clone(),
        ..HTTPGetAction::default()
    };
    let readiness = match &o.readiness_probe {
        ReadinessProbe::Http {
            path,
            initial_delay_seconds,
            period_seconds,
            timeout_seconds,
        } => Probe {
            http_get: Some(http(path)),
            initial_delay_seconds: Some(saturate_i32(*initial_delay_seconds)),
            period_seconds: Some(saturate_i32(*period_seconds)),
            timeout_seconds: Some(saturate_i32(*timeout_seconds)),
            ..Probe::default()
        },
        ReadinessProbe::Tcp {
            initial_delay_seconds,
            period_seconds,
            timeout_seconds,
        } => Probe {
            tcp_socket: Some(TCPSocketAction {
                port: port.clone(),
                host: None,
            }),
            initial_delay_seconds: Some(saturate_i32(*initial_delay_seconds)),
            period_seconds: Some(saturate_i32(*period_seconds)),
            timeout_seconds: Some(saturate_i32(*timeout_seconds)),
            ..Probe::default()
        },
    };
    let startup = o.startup_probe.then(|| Probe {
        http_get: Some(http("/health")),
        period_seconds: Some(probe::STARTUP_PERIOD_SECONDS as i32),
        failure_threshold: Some(saturate_i32(probe::startup_failure_threshold(
            startup_seconds,
        ))),
        ..Probe::default()
    });
    // Liveness starts once the startup probe passed; without one it waits out the startup
    // budget. 30 s × 6 failures of 10 s each: a server busy for minutes is not restarted (a
    // restart recreates the whole group), a hung one is.
    let liveness = o.liveness_probe.then(|| Probe {
        http_get: Some(http("/health")),
        initial_delay_seconds: (!o.startup_probe).then(|| saturate_i32(startup_seconds)),
        period_seconds: Some(probe::LIVENESS_PERIOD_SECONDS),
        timeout_seconds: Some(probe::LIVENESS_TIMEOUT_SECONDS),
        failure_threshold: Some(probe::LIVENESS_FAILURE_THRESHOLD),
        ..Probe::default()
    });
    (readiness, startup, liveness)
}

fn saturate_i32(value: impl TryInto<i32>) -> i32 {
    value.try_into().unwrap_or(i32::MAX)
}

/// The model cache as the pod sees it: a pod volume (existing claim or host path) or a claim
/// template for one claim per pod.
fn model_cache(cache: &ModelCache, plan: &Plan) -> (Option<Volume>, Vec<PersistentVolumeClaim>) {
    use k8s_openapi::api::core::v1::{
        HostPathVolumeSource, PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource,
        VolumeResourceRequirements,
    };
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    let volume = |v: Volume| (Some(v), Vec::new());
    match cache {
        ModelCache::None => (None, Vec::new()),
        ModelCache::Pvc { claim_name, .. } => volume(Volume {
            name: "model-cache".into(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim_name.clone(),
                read_only: None,
            }),
            ..Volume::default()
        }),
        ModelCache::HostPath { path, .. } => volume(Volume {
            name: "model-cache".into(),
            host_path: Some(HostPathVolumeSource {
                path: path.clone(),
                type_: Some("DirectoryOrCreate".into()),
            }),
            ..Volume::default()
        }),
        ModelCache::PerPod {
            storage_class,
            size,
        } => {
            // The whole checkpoint lands on every node (downloads are not split by rank), plus
            // room for the MTP layers and tokenizer files the plan does not count.
            let size = size.map_or_else(|| super::resources::checkpoint_disk_bytes(plan), |s| s.0);
            let claim = PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some("model-cache".into()),
                    ..ObjectMeta::default()
                },
                spec: Some(PersistentVolumeClaimSpec {
                    access_modes: Some(vec!["ReadWriteOnce".into()]),
                    resources: Some(VolumeResourceRequirements {
                        requests: Some(BTreeMap::from([(
                            "storage".to_string(),
                            Quantity(quantity(size)),
                        )])),
                        limits: None,
                    }),
                    storage_class_name: storage_class.clone(),
                    ..PersistentVolumeClaimSpec::default()
                }),
                status: None,
            };
            (None, vec![claim])
        }
    }
}

/// The plan's key numbers, as annotations on the LeaderWorkerSet.
fn plan_annotations(plan: &Plan) -> impl Iterator<Item = (String, String)> {
    [
        ("model", plan.model.clone()),
        ("hardware", plan.hardware.clone()),
        (
            "tensor-parallel-size",
            plan.layout.tensor_parallel_size.to_string(),
        ),
        (
            "pipeline-parallel-size",
            plan.layout.pipeline_parallel_size.to_string(),
        ),
        ("max-model-len", plan.max_model_len.to_string()),
        ("replicas", plan.replicas.to_string()),
        ("kv-cache-tokens", plan.kv_cache_tokens.to_string()),
        ("weight-bytes", plan.weight_bytes.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (format!("lwsplan/{k}"), v))
}
