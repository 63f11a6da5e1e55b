//! The checks that refuse a render option before anything is rendered, naming the option (as
//! the CLI spells it) and what a valid value looks like. They apply the API server's and the
//! LWS webhook's own rules, so a manifest that renders is one the cluster accepts, and they
//! keep user values from overriding what lwsplan planned behind the checks' back.

use super::options::{ModelCache, PodOptions, ReadinessProbe, RenderOptions};
use super::{GPU_RESOURCE, MODEL_CACHE_MOUNT, RenderError};
use crate::manifest::serve::ServeFlags;
use crate::manifest::{ImageRef, NAME_LABEL};
use crate::option::OptionName;
use crate::validate::{names, security};

fn refuse(option: OptionName, message: impl Into<String>) -> RenderError {
    RenderError::Option {
        option,
        message: message.into(),
    }
}

/// Every check that needs only the options.
pub(crate) fn check_options(o: &RenderOptions) -> Result<(), RenderError> {
    names::check_dns1035_label(&o.name).map_err(|message| {
        refuse(
            OptionName::Name,
            format!("{message} (it names the LeaderWorkerSet and its Service)"),
        )
    })?;
    check_name_length(&o.name, 1)?;
    if let Some(namespace) = &o.namespace {
        names::check_dns1123_label(namespace).map_err(|m| refuse(OptionName::Namespace, m))?;
    }
    for (option, name) in [
        (OptionName::LeaderContainerName, &o.leader_container_name),
        (OptionName::WorkerContainerName, &o.worker_container_name),
    ] {
        names::check_dns1123_label(name).map_err(|m| refuse(option, m))?;
    }
    if o.port == 0 {
        return Err(refuse(OptionName::Port, "0: a port must be 1–65535"));
    }
    check_image(o)?;
    check_text(OptionName::ModelSource, o.model_source.as_deref())?;
    check_secret(o)?;
    check_env(o)?;
    check_capabilities(&o.capabilities)?;
    check_network(o)?;
    check_labels(o)?;
    check_cache(&o.model_cache)?;
    check_probe(&o.readiness_probe)?;
    if o.termination_grace_period_seconds > MAX_SECONDS_PROBE {
        return Err(refuse(
            crate::OptionName::TerminationGracePeriodSeconds,
            format!("{} is more than a day", o.termination_grace_period_seconds),
        ));
    }
    check_vllm_args(&o.vllm_args)?;
    check_pod(&o.pod)?;
    check_placement(o)?;
    Ok(())
}

fn check_placement(o: &RenderOptions) -> Result<(), RenderError> {
    if let Some(key) = &o.exclusive_topology {
        names::check_qualified_name(key).map_err(|m| {
            refuse(
                crate::OptionName::ExclusiveTopology,
                format!("a node label key (e.g. cloud.google.com/gce-topology-block): {m}"),
            )
        })?;
        if let Some(other) = o.annotations.get(USER_LWS_ANNOTATIONS[0])
            && other != key
        {
            return Err(refuse(
                crate::OptionName::ExclusiveTopology,
                format!(
                    "`{key}` contradicts the annotation {}: {other}; give one",
                    USER_LWS_ANNOTATIONS[0]
                ),
            ));
        }
    }
    if o.subgroup_size == Some(0) {
        return Err(refuse(
            crate::OptionName::SubgroupSize,
            "0: a subgroup holds at least one pod",
        ));
    }
    if o.annotations.contains_key(USER_LWS_ANNOTATIONS[1]) && o.subgroup_size.is_none() {
        return Err(refuse(
            crate::OptionName::Annotations,
            format!(
                "`{}` places subgroups, which need a subgroup size (--subgroup-size)",
                USER_LWS_ANNOTATIONS[1]
            ),
        ));
    }
    Ok(())
}

/// LWS requires the group's size to be a multiple of the subgroup size (or one more, the
/// leader in a subgroup of its own).
pub(crate) fn check_subgroup(o: &RenderOptions, size: u64) -> Result<(), RenderError> {
    if let Some(n) = o.subgroup_size
        && !size.is_multiple_of(n)
        && !(size - 1).is_multiple_of(n)
    {
        return Err(refuse(
            crate::OptionName::SubgroupSize,
            format!(
                "{n} divides neither the group's {size} pods nor its {} workers",
                size - 1
            ),
        ));
    }
    Ok(())
}

/// LWS limits its name to `51 − replicas / 10` characters, so that pod names stay within 63;
/// the webhook caps replicas at 1,000,000.
pub(crate) fn check_name_length(name: &str, replicas: u64) -> Result<(), RenderError> {
    let max = names::max_lws_name_len(i32::try_from(replicas).unwrap_or(i32::MAX));
    if max == 0 {
        return Err(refuse(
            OptionName::Replicas,
            format!(
                "{replicas} replicas: LWS limits the name to 51 − replicas / 10 characters, so \
                 no name fits more than 509 replicas; use fewer, larger groups or several \
                 LeaderWorkerSets"
            ),
        ));
    }
    if name.len() > max {
        return Err(refuse(
            OptionName::Name,
            format!(
                "`{}` is {} characters; with {replicas} replica(s) LWS allows at most {max} so \
                 that pod names stay within 63",
                crate::error::base::truncate(name, 80),
                name.len()
            ),
        ));
    }
    Ok(())
}

/// Only what no substitution could fix is refused here; an image that is merely not a valid
/// reference (a placeholder such as `${IMAGE}`) renders with a warning.
fn check_image(o: &RenderOptions) -> Result<(), RenderError> {
    if let Some(image) = &o.image
        && let Err(message) = ImageRef::parse(image)
        && (image.is_empty() || image.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        return Err(refuse(OptionName::Image, message));
    }
    Ok(())
}

/// A free-text value that lands in a command: no control characters, no line breaks.
fn check_text(option: OptionName, value: Option<&str>) -> Result<(), RenderError> {
    if let Some(value) = value
        && (value.is_empty() || value.chars().any(char::is_control))
    {
        return Err(refuse(
            option,
            format!("{value:?} is empty or has control characters"),
        ));
    }
    Ok(())
}

fn check_secret(o: &RenderOptions) -> Result<(), RenderError> {
    let Some(secret) = &o.hf_secret else {
        return Ok(());
    };
    names::check_dns1123_subdomain(&secret.name)
        .map_err(|m| refuse(OptionName::HfSecret, format!("Secret name {m}")))?;
    names::check_config_key(&secret.key)
        .map_err(|m| refuse(OptionName::HfSecret, format!("Secret key {m}")))?;
    Ok(())
}

/// Variables a container needs as they are: replacing one breaks the process or the group.
const RESERVED_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "PYTHONPATH",
    "PYTHONHOME",
    "CUDA_VISIBLE_DEVICES",
    "NVIDIA_VISIBLE_DEVICES",
    "LWS_LEADER_ADDRESS",
    "LWS_GROUP_SIZE",
    "LWS_WORKER_INDEX",
    "HF_HOME",
];

fn check_env(o: &RenderOptions) -> Result<(), RenderError> {
    names::check_env_name(&o.hf_token_env)
        .map_err(|m| refuse(OptionName::HfTokenEnv, format!("environment variable {m}")))?;
    if RESERVED_ENV.contains(&o.hf_token_env.as_str()) {
        return Err(refuse(
            OptionName::HfTokenEnv,
            format!(
                "`{}` is a variable the container needs as it is; name the token's variable \
                 HF_TOKEN (the default) or another name of your own",
                o.hf_token_env
            ),
        ));
    }
    for e in &o.env {
        names::check_env_name(&e.name)
            .map_err(|m| refuse(OptionName::Env, format!("environment variable {m}")))?;
        if e.name == o.hf_token_env {
            let secret = o
                .hf_secret
                .as_ref()
                .map_or("--hf-secret NAME/KEY".to_string(), |s| {
                    format!("{}/{}", s.name, s.key)
                });
            return Err(refuse(
                OptionName::Env,
                format!(
                    "`{}` carries the Hugging Face token from the Secret ({secret}); a literal \
                     value would put the token in the manifest in plain text. Store it in the \
                     Secret (kubectl create secret generic …) instead",
                    e.name
                ),
            ));
        }
        if RESERVED_ENV.contains(&e.name.as_str()) {
            return Err(refuse(
                OptionName::Env,
                format!(
                    "`{}` is set by Kubernetes, LWS, the image or lwsplan; replacing it breaks the pod",
                    e.name
                ),
            ));
        }
    }
    Ok(())
}

/// Linux capabilities a container may ask for (`capabilities(7)`), without the `CAP_` prefix.
const CAPABILITIES: &[&str] = &[
    "AUDIT_CONTROL",
    "AUDIT_READ",
    "AUDIT_WRITE",
    "BLOCK_SUSPEND",
    "BPF",
    "CHECKPOINT_RESTORE",
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "IPC_LOCK",
    "IPC_OWNER",
    "KILL",
    "LEASE",
    "LINUX_IMMUTABLE",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
    "MKNOD",
    "NET_ADMIN",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_RAW",
    "PERFMON",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYSLOG",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_CHROOT",
    "SYS_MODULE",
    "SYS_NICE",
    "SYS_PACCT",
    "SYS_PTRACE",
    "SYS_RAWIO",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "WAKE_ALARM",
];

/// Capabilities that amount to root on the node: refused, with what to use instead.
const PRIVILEGED: &[&str] = &[
    "SYS_ADMIN",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_PTRACE",
    "DAC_READ_SEARCH",
    "BPF",
];

fn check_capabilities(capabilities: &[String]) -> Result<(), RenderError> {
    for capability in capabilities {
        let option = OptionName::Capabilities;
        if capability == "ALL" {
            return Err(refuse(
                option,
                "ALL gives every container root's powers on the node; add the one a feature \
                 needs (IPC_LOCK for GPUDirect RDMA)",
            ));
        }
        if PRIVILEGED.contains(&capability.as_str()) {
            return Err(refuse(
                option,
                format!(
                    "{capability} amounts to root on the node and no part of vLLM needs it; \
                     add IPC_LOCK for GPUDirect RDMA, nothing more"
                ),
            ));
        }
        if !CAPABILITIES.contains(&capability.as_str()) {
            return Err(refuse(
                option,
                format!(
                    "`{}` is not a Linux capability (upper case, without CAP_, e.g. IPC_LOCK)",
                    crate::error::base::truncate(capability, 80)
                ),
            ));
        }
        // What validate flags in any manifest, render refuses up front.
        if !security::ALLOWED_CAPABILITIES.contains(&capability.as_str()) {
            return Err(refuse(
                option,
                format!(
                    "{capability} widens what the container can do to the node and no part of \
                     vLLM needs it; lwsplan allows {}",
                    security::ALLOWED_CAPABILITIES.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

fn check_network(o: &RenderOptions) -> Result<(), RenderError> {
    let interface = |name: &str| {
        !name.is_empty()
            && name.len() <= 15
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.:-".contains(c))
    };
    if let Some(ifname) = &o.network.socket_ifname
        && !interface(ifname)
    {
        return Err(refuse(
            OptionName::NetworkInterface,
            format!(
                "{ifname:?} is not a network interface name (e.g. eth0; at most 15 characters)"
            ),
        ));
    }
    if let Some(rdma) = &o.network.rdma {
        names::check_qualified_name(&rdma.resource)
            .map_err(|m| refuse(OptionName::RdmaResource, format!("resource name {m}")))?;
        if rdma.resource == GPU_RESOURCE || rdma.count == 0 {
            return Err(refuse(
                OptionName::RdmaResource,
                format!(
                    "`{}={}` must name another resource, at least once",
                    rdma.resource, rdma.count
                ),
            ));
        }
        if let Some(hca) = &rdma.ib_hca
            && !hca
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_:,^=-".contains(c))
        {
            return Err(refuse(
                OptionName::NcclIbHca,
                format!("{hca:?} is not an NCCL_IB_HCA list (e.g. mlx5 or =mlx5_0:1,mlx5_1:1)"),
            ));
        }
    }
    Ok(())
}

/// Label keys lwsplan and LWS set themselves: a user value would break the Service's
/// selector (a `role: leader` on workers routes traffic to headless pods) or be dropped.
fn reserved_label(key: &str) -> bool {
    matches!(
        key,
        "role" | "app.kubernetes.io/name" | "app.kubernetes.io/managed-by"
    ) || key.starts_with("lwsplan/")
        || key.starts_with("leaderworkerset.sigs.k8s.io/")
        || key == NAME_LABEL
}

/// LWS annotations that are the user's to set on the LeaderWorkerSet: placement of each group
/// (or subgroup) in one topology domain (kubernetes-sigs/lws
/// `api/leaderworkerset/v1/leaderworkerset_types.go`, `ExclusiveKeyAnnotationKey`,
/// `SubGroupExclusiveKeyAnnotationKey`). The subgroup size is `subgroup_size`, a spec field.
pub(crate) const USER_LWS_ANNOTATIONS: &[&str] = &[
    "leaderworkerset.sigs.k8s.io/exclusive-topology",
    "leaderworkerset.sigs.k8s.io/subgroup-exclusive-topology",
];

/// The API server's limit on all annotations of one object together.
const MAX_ANNOTATION_BYTES: usize = 256 * 1024;

fn check_labels(o: &RenderOptions) -> Result<(), RenderError> {
    for (option, labels) in [
        (OptionName::Labels, &o.labels),
        (OptionName::PodLabels, &o.pod.labels),
    ] {
        for (key, value) in labels {
            names::check_qualified_name(key)
                .and_then(|()| names::check_label_value(value))
                .map_err(|m| refuse(option, format!("label {m}")))?;
            if reserved_label(key) {
                return Err(refuse(
                    option,
                    format!(
                        "`{key}` is set by lwsplan or LWS (the Service selects leaders by it); \
                         choose another key"
                    ),
                ));
            }
        }
    }
    for (option, annotations) in [
        (OptionName::Annotations, &o.annotations),
        (OptionName::PodAnnotations, &o.pod.annotations),
    ] {
        let mut total = 0;
        for (key, value) in annotations {
            names::check_qualified_name(key)
                .map_err(|m| refuse(option, format!("annotation key {m}")))?;
            let placement = option == crate::OptionName::Annotations
                && USER_LWS_ANNOTATIONS.contains(&key.as_str());
            if placement && let Err(m) = names::check_qualified_name(value) {
                return Err(refuse(
                    option,
                    format!("`{key}` takes a node label key (a topology key): {m}"),
                ));
            }
            if !placement
                && (key.starts_with("lwsplan/") || key.starts_with("leaderworkerset.sigs.k8s.io/"))
            {
                return Err(refuse(
                    option,
                    format!("`{key}` is set by lwsplan or LWS; choose another key"),
                ));
            }
            total += key.len() + value.len();
        }
        if total > MAX_ANNOTATION_BYTES {
            return Err(refuse(
                option,
                format!(
                    "{total} bytes of annotations; the API server accepts at most {MAX_ANNOTATION_BYTES} per object"
                ),
            ));
        }
    }
    Ok(())
}

fn check_cache(cache: &ModelCache) -> Result<(), RenderError> {
    let option = OptionName::ModelCache;
    match cache {
        ModelCache::None => Ok(()),
        ModelCache::Pvc { claim_name, .. } => names::check_dns1123_subdomain(claim_name)
            .map_err(|m| refuse(option, format!("claim name {m}"))),
        ModelCache::PerPod { storage_class, .. } => match storage_class {
            Some(class) => names::check_dns1123_subdomain(class)
                .map_err(|m| refuse(option, format!("storage class {m}"))),
            None => Ok(()),
        },
        ModelCache::HostPath { path, .. } => {
            security::check_host_path(path).map_err(|m| refuse(option, m))
        }
    }
}

const MAX_SECONDS_PROBE: u32 = 24 * 3600;

fn check_probe(probe: &ReadinessProbe) -> Result<(), RenderError> {
    let option = OptionName::ReadinessProbe;
    let (delay, period, timeout) = match probe {
        ReadinessProbe::Http {
            path,
            initial_delay_seconds,
            period_seconds,
            timeout_seconds,
        } => {
            if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(refuse(
                    option,
                    format!("path {path:?} must start with / and hold no spaces"),
                ));
            }
            (*initial_delay_seconds, *period_seconds, *timeout_seconds)
        }
        ReadinessProbe::Tcp {
            initial_delay_seconds,
            period_seconds,
            timeout_seconds,
        } => (*initial_delay_seconds, *period_seconds, *timeout_seconds),
    };
    if timeout == 0 || timeout > MAX_SECONDS_PROBE {
        return Err(refuse(
            option,
            format!("timeout_seconds {timeout} must be 1–{MAX_SECONDS_PROBE}"),
        ));
    }
    // Kubernetes keeps probe times as int32 seconds.
    const MAX_SECONDS: u32 = 24 * 3600;
    if period == 0 || period > MAX_SECONDS || delay > MAX_SECONDS {
        return Err(refuse(
            option,
            format!(
                "initial_delay_seconds {delay} and period_seconds {period} must be at most \
                 {MAX_SECONDS} (a day), the period at least 1"
            ),
        ));
    }
    Ok(())
}

/// vLLM flags lwsplan sets from the plan or the group, and the option that sets each: an extra
/// `--vllm-arg` with one of them would silently win (argparse keeps the last) and run a layout
/// the checks never saw.
const PLANNED_FLAGS: &[(&str, &str)] = &[
    ("tensor-parallel-size", "--tensor-parallel-size"),
    ("pipeline-parallel-size", "--pipeline-parallel-size"),
    ("data-parallel-size", "the plan's layout"),
    ("data-parallel-size-local", "the plan's layout"),
    ("data-parallel-address", "the plan's layout"),
    ("data-parallel-rpc-port", "the plan's layout"),
    ("data-parallel-start-rank", "the plan's layout"),
    ("decode-context-parallel-size", "the plan's layout"),
    ("max-model-len", "--max-model-len"),
    ("gpu-memory-utilization", "--gpu-memory-utilization"),
    ("kv-cache-memory-bytes", "--kv-cache-memory-bytes"),
    ("kv-cache-dtype", "--kv-cache-dtype"),
    ("max-num-batched-tokens", "--max-num-batched-tokens"),
    ("max-num-seqs", "--max-num-seqs"),
    ("enable-expert-parallel", "--expert-parallel on"),
    ("no-enable-expert-parallel", "--expert-parallel off"),
    ("port", "--port"),
    ("nnodes", "the plan's node count"),
    ("node-rank", "LWS's worker index"),
    ("master-addr", "LWS's leader address"),
    ("master-port", "lwsplan's group wiring"),
    ("headless", "lwsplan's group wiring"),
    ("distributed-executor-backend", "--launcher"),
    ("model", "--model-source"),
];

/// vLLM flags that change the memory lwsplan plans, which it does not model.
use crate::manifest::serve::UNMODELLED as UNMODELLED_FLAGS;

fn check_vllm_args(args: &[String]) -> Result<(), RenderError> {
    let option = OptionName::VllmArgs;
    for arg in args {
        if arg.is_empty() || arg.chars().any(char::is_control) {
            return Err(refuse(
                option,
                format!("{arg:?} is empty or has control characters; vLLM's parser refuses it"),
            ));
        }
    }
    // argparse takes any unambiguous start of a flag for the flag: `--tensor-parallel=2` is
    // `--tensor-parallel-size 2` to vLLM. The start of a planned flag is refused as the flag
    // would be, ambiguous or not.
    for word in args.iter().filter(|w| w.starts_with("--")) {
        let Some(name) = crate::manifest::serve::canonical(word) else {
            continue;
        };
        if let Some((planned, instead)) = PLANNED_FLAGS
            .iter()
            .find(|(f, _)| f.len() > name.len() && f.starts_with(name.as_str()))
        {
            return Err(refuse(
                option,
                format!(
                    "`--{}` abbreviates `--{planned}` (vLLM's parser accepts any unambiguous \
                     start of a flag), which lwsplan plans; use {instead} instead",
                    crate::error::truncate(&name, 40)
                ),
            ));
        }
    }
    let flags = ServeFlags::parse(args);
    for (flag, _) in &flags.flags {
        if let Some((_, instead)) = PLANNED_FLAGS.iter().find(|(f, _)| f == flag) {
            return Err(refuse(
                option,
                format!(
                    "`--{flag}` is planned by lwsplan; vLLM keeps the last value given, so it would \
                     silently replace the planned one. Use {instead} instead"
                ),
            ));
        }
        if UNMODELLED_FLAGS.contains(&flag.as_str()) {
            return Err(refuse(
                option,
                format!(
                    "`--{flag}` changes the memory vLLM uses in a way lwsplan does not model, so the \
                     plan would not hold; use a model profile of the checkpoint you serve instead"
                ),
            ));
        }
    }
    Ok(())
}

fn check_pod(pod: &PodOptions) -> Result<(), RenderError> {
    let resources = &pod.resources;
    for (kind, map) in [
        ("requests", &resources.requests),
        ("limits", &resources.limits),
    ] {
        for (name, quantity) in map.iter().flatten() {
            let option = OptionName::PodResources;
            if name == GPU_RESOURCE {
                return Err(refuse(
                    option,
                    format!("{kind}.{GPU_RESOURCE} is planned by lwsplan (GPUs per pod)"),
                ));
            }
            names::check_qualified_name(name)
                .and_then(|()| names::check_quantity(&quantity.0))
                .map_err(|m| refuse(option, format!("{kind}.{name}: {m}")))?;
        }
    }
    if let Some(policy) = &pod.image_pull_policy
        && !matches!(policy.as_str(), "Always" | "IfNotPresent" | "Never")
    {
        return Err(refuse(
            OptionName::ImagePullPolicy,
            format!("`{policy}` is not Always, IfNotPresent or Never"),
        ));
    }
    for (option, name) in [
        (OptionName::ServiceAccount, &pod.service_account_name),
        (OptionName::PriorityClass, &pod.priority_class_name),
    ] {
        if let Some(name) = name {
            names::check_dns1123_subdomain(name).map_err(|m| refuse(option, m))?;
        }
    }
    for secret in &pod.image_pull_secrets {
        names::check_dns1123_subdomain(secret)
            .map_err(|m| refuse(OptionName::ImagePullSecrets, m))?;
    }
    for volume in &pod.volumes {
        if matches!(volume.name.as_str(), "dshm" | "model-cache") {
            return Err(refuse(
                OptionName::PodVolumes,
                format!(
                    "`{}` is a volume lwsplan declares; name yours differently",
                    volume.name
                ),
            ));
        }
        names::check_dns1123_label(&volume.name)
            .map_err(|m| refuse(OptionName::PodVolumes, format!("volume name {m}")))?;
        // The same rule as `--model-cache host-path:`: a deployment file is no way around it.
        if let Some(host) = &volume.host_path {
            security::check_host_path(&host.path).map_err(|m| {
                refuse(
                    OptionName::PodVolumes,
                    format!("volume `{}`: {m}", volume.name),
                )
            })?;
        }
    }
    for mount in &pod.volume_mounts {
        if !pod.volumes.iter().any(|v| v.name == mount.name) {
            return Err(refuse(
                OptionName::PodVolumeMounts,
                format!("`{}` mounts no volume of pod.volumes", mount.name),
            ));
        }
        let path = mount.mount_path.trim_end_matches('/');
        if path == "/dev/shm" || path == MODEL_CACHE_MOUNT || !mount.mount_path.starts_with('/') {
            return Err(refuse(
                OptionName::PodVolumeMounts,
                format!(
                    "mount path `{}` must be absolute and not /dev/shm or {MODEL_CACHE_MOUNT}, \
                     which lwsplan mounts",
                    mount.mount_path
                ),
            ));
        }
    }
    Ok(())
}

/// A memory limit below `/dev/shm`'s size: the kernel would kill the pod as shared memory
/// fills, since a memory-backed volume counts against the container's memory.
pub(crate) fn check_memory_limit(
    resources: &k8s_openapi::api::core::v1::ResourceRequirements,
    shm_bytes: u64,
) -> Result<(), RenderError> {
    let limit = resources
        .limits
        .as_ref()
        .and_then(|l| l.get("memory"))
        .and_then(|q| crate::units::parse_quantity(&q.0).ok());
    if let Some(limit) = limit
        && limit <= shm_bytes
    {
        return Err(refuse(
            OptionName::Memory,
            format!(
                "a memory limit of {} leaves nothing beside /dev/shm's {}, which is memory-backed and \
                 counts against it; raise the limit well above it (weights are staged in host memory \
                 while loading)",
                crate::units::gib(limit),
                crate::units::gib(shm_bytes)
            ),
        ));
    }
    Ok(())
}

/// The node label the platform selects GPUs by: present in the hardware profile, and a valid
/// label value (the API server refuses the pod otherwise).
pub(crate) fn check_node_label(
    o: &RenderOptions,
    plan: &crate::plan::Plan,
) -> Result<(), RenderError> {
    let (field, value, other) = match o.platform {
        super::Platform::Gke => (
            "labels.gke_accelerator",
            &plan.node_labels.gke_accelerator,
            "nvidia",
        ),
        super::Platform::Nvidia => ("labels.gpu_product", &plan.node_labels.gpu_product, "gke"),
    };
    if value.is_empty() {
        return Err(refuse(
            OptionName::Platform,
            format!(
                "hardware profile {} has no {field}, which this platform selects nodes by; set it, \
                 or use --platform {other}",
                plan.hardware
            ),
        ));
    }
    names::check_label_value(value).map_err(|m| {
        refuse(
            OptionName::Platform,
            format!("hardware profile {}: {field} {m}", plan.hardware),
        )
    })
}
