//! What a careful reviewer flags in a pod or a Service, whoever wrote it (a `--templates`
//! override, a hand edit): privileged containers, the node's namespaces, capabilities that
//! amount to root, host paths into the node's system or its container runtime, and a Service
//! that puts vLLM's unauthenticated API on a load balancer. None of these is something lwsplan
//! renders; `validate` reports each as a problem, so a template override cannot add one
//! silently.
//!
//! Kept apart from `lints.rs` (the group's consistency rules): these are one concern, and the
//! host-path rule is shared with the render checks of `--model-cache host-path:` and
//! `render.pod.volumes`.

use k8s_openapi::api::core::v1::{Container, PodSpec, Service};

use super::Findings;

/// Linux capabilities a container may add (`capabilities(7)`, without `CAP_`) that lwsplan
/// accepts: what vLLM's features need (IPC_LOCK for GPUDirect RDMA's pinned memory) and what a
/// container runtime grants by default anyway. Anything else — SYS_ADMIN, NET_ADMIN, ALL, … —
/// widens what a compromised server can do to the node.
pub(crate) const ALLOWED_CAPABILITIES: &[&str] = &[
    "IPC_LOCK",
    "SYS_NICE",
    "SYS_RESOURCE",
    "NET_RAW",
    "NET_BIND_SERVICE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "SETFCAP",
    "MKNOD",
    "AUDIT_WRITE",
    "SYS_CHROOT",
];

/// Host directories a hostPath volume must not reach: the node's configuration, kernel
/// interfaces, devices, the kubelet's and container runtimes' state and sockets
/// (`/var/run/docker.sock` is root on the node), and root's home.
const HOST_SYSTEM_PATHS: &[&str] = &[
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/root",
    "/run",
    "/var/run",
    "/var/lib/kubelet",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/lib/cri-o",
    "/var/log",
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib64",
];

/// A hostPath lwsplan accepts: absolute, not `/`, no `.` or `..` components (the API server
/// refuses `..` in a hostPath, `ValidatePathNoBacksteps`), no control characters, and outside
/// the node's system directories.
pub(crate) fn check_host_path(path: &str) -> Result<(), String> {
    let shown = crate::error::truncate(path, 80);
    if !path.starts_with('/')
        || path.trim_end_matches('/').is_empty()
        || path.split('/').any(|c| c == ".." || c == ".")
        || path.chars().any(char::is_control)
    {
        return Err(format!(
            "host path {shown:?} must be an absolute directory other than / without `.` or `..` \
             components"
        ));
    }
    let normal: String = path
        .split('/')
        .filter(|c| !c.is_empty())
        .fold(String::new(), |acc, c| acc + "/" + c);
    if let Some(system) = HOST_SYSTEM_PATHS
        .iter()
        .find(|s| normal == **s || normal.starts_with(&format!("{s}/")))
    {
        return Err(format!(
            "host path {shown:?} is inside {system}, the node's own system or container \
             runtime: mounting it gives the pod power over the node; use a directory for models, \
             such as /mnt/models"
        ));
    }
    Ok(())
}

/// GKE's GPUDirect-TCPX and -TCPXO receive-datapath daemons, which Google's published
/// manifests run beside the workload (cloud.google.com/kubernetes-engine/docs/how-to/
/// gpu-bandwidth-gpudirect-tcpx): the one sanctioned reason for more than vLLM needs.
const GPUDIRECT_DAEMON_IMAGES: &[&str] = &[
    "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpx/",
    "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpxo/",
];
/// What those daemons are given in Google's manifests: NET_ADMIN (and NET_BIND_SERVICE for
/// TCPXO) to program the NICs' receive queues.
const GPUDIRECT_CAPABILITIES: &[&str] = &["NET_ADMIN", "NET_BIND_SERVICE"];
/// The host paths those manifests mount for them: the node's sysfs and procfs views of the
/// NICs, TCPX's socket directory and TCPXO's aperture devices (both mounted by the workload
/// too).
const GPUDIRECT_HOST_PATHS: &[&str] = &["/sys", "/proc/sys", "/dev/aperture_devices", "/run/tcpx"];

fn is_gpudirect_daemon(container: &Container) -> bool {
    container.image.as_deref().is_some_and(|image| {
        GPUDIRECT_DAEMON_IMAGES
            .iter()
            .any(|prefix| image.starts_with(prefix))
    })
}

/// A capability name as Kubernetes takes it, without the `CAP_` prefix a reader may write.
fn capability(name: &str) -> &str {
    name.strip_prefix("CAP_").unwrap_or(name)
}

/// Privileged mode, the node's namespaces, added capabilities and host paths of one pod.
pub fn pod(path: &str, spec: &PodSpec, findings: &mut Findings<'_>) {
    for (field, on) in [
        ("hostNetwork", spec.host_network),
        ("hostPID", spec.host_pid),
        ("hostIPC", spec.host_ipc),
    ] {
        if on == Some(true) {
            findings.add(
                format!("{path}.spec.{field}"),
                "true: the pod shares the node's namespace, and vLLM needs none of the node's; \
                 lwsplan renders pod networking (and GPUDirect through device plugins)",
            );
        }
    }
    let containers = spec.containers.iter().map(|c| ("containers", c)).chain(
        spec.init_containers
            .iter()
            .flatten()
            .map(|c| ("initContainers", c)),
    );
    let gpudirect = spec
        .init_containers
        .iter()
        .flatten()
        .chain(&spec.containers)
        .any(is_gpudirect_daemon);
    let mut index = std::collections::BTreeMap::<&str, usize>::new();
    for (kind, container) in containers {
        let i = index.entry(kind).or_default();
        self::container(&format!("{path}.spec.{kind}[{i}]"), container, findings);
        *i += 1;
    }
    for (i, volume) in spec.volumes.iter().flatten().enumerate() {
        if let Some(host) = &volume.host_path
            && !(gpudirect && GPUDIRECT_HOST_PATHS.contains(&host.path.as_str()))
            && let Err(e) = check_host_path(&host.path)
        {
            findings.add(format!("{path}.spec.volumes[{i}].hostPath.path"), e);
        }
    }
}

fn container(path: &str, container: &Container, findings: &mut Findings<'_>) {
    let Some(security) = &container.security_context else {
        return;
    };
    if security.privileged == Some(true) {
        findings.add(
            format!("{path}.securityContext.privileged"),
            "true: a privileged container is root on the node; vLLM needs no privilege (GPUs \
             come from the device plugin, RDMA from IPC_LOCK)",
        );
    }
    for (j, added) in security
        .capabilities
        .iter()
        .flat_map(|c| c.add.iter().flatten())
        .enumerate()
    {
        let name = capability(added);
        let daemon = is_gpudirect_daemon(container) && GPUDIRECT_CAPABILITIES.contains(&name);
        if !daemon && !ALLOWED_CAPABILITIES.contains(&name) {
            findings.add(
                format!("{path}.securityContext.capabilities.add[{j}]"),
                format!(
                    "`{}` widens what the container can do to the node; lwsplan allows {} \
                     (IPC_LOCK is what GPUDirect RDMA needs)",
                    crate::error::truncate(added, 40),
                    ALLOWED_CAPABILITIES.join(", ")
                ),
            );
        }
    }
}

/// A Service of type LoadBalancer puts vLLM's OpenAI API, which has no authentication unless
/// `--api-key` is set, on an address outside the cluster.
pub fn service(service: &Service, findings: &mut Findings<'_>) {
    let kind = service.spec.as_ref().and_then(|s| s.type_.as_deref());
    if kind == Some("LoadBalancer") {
        findings.add(
            "spec.type",
            "LoadBalancer exposes vLLM's API, unauthenticated by default, outside the cluster; \
             lwsplan renders ClusterIP: put an authenticating Ingress or Gateway in front",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows: a hostPath, and whether it is accepted (the API server's `..` rule, lwsplan's
    /// system directories).
    #[test]
    fn host_paths_stay_out_of_the_node_s_system() {
        for (path, ok) in [
            ("/mnt/models", true),
            ("/data/hf-cache/", true),
            ("/", false),
            ("//", false),
            ("../../etc", false),
            ("/mnt/../etc", false),
            ("relative/dir", false),
            ("/var/run/docker.sock", false),
            ("/run/containerd/containerd.sock", false),
            ("/etc", false),
            ("//etc/", false),
            ("/var/lib/kubelet/pods", false),
            ("/etcetera", true),
        ] {
            assert_eq!(check_host_path(path).is_ok(), ok, "{path}");
        }
    }
}
