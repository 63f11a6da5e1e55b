//! What a group's pods need for the cluster's own inter-node fabric, following Google's
//! published manifests for GKE's GPU machines:
//!
//! - A3 High (`a3-highgpu-8g`), GPUDirect-TCPX: GoogleCloudPlatform/container-engine-accelerators
//!   `gpudirect-tcpx/nccl-test-latest.yaml` @089e0224 (annotations, the `tcpx-daemon`, volumes)
//!   and `gpudirect-tcpx/nccl-config.yaml` @0e5609b0 (NCCL's environment).
//! - A3 Mega (`a3-megagpu-8g`), GPUDirect-TCPXO: the same repository's
//!   `gpudirect-tcpxo/nccl-test-latest.yaml` @abbe8ddf and `gpudirect-tcpxo/README.md` @685dca25
//!   (daemon v1.0.21, its NCCL environment), the daemon as a native sidecar as
//!   `gpudirect-tcpxo/best-practice.md` recommends.
//! - A3 Ultra (`a3-ultragpu-8g`) and A4 (`a4-highgpu-8g`), GPUDirect RDMA over RoCE with GKE
//!   multi-networking and the gIB NCCL plugin: `gpudirect-rdma/nccl-test.yaml` @155bfa49
//!   (annotations, host volumes); NCCL's environment as GoogleCloudPlatform/kubernetes-engine-samples
//!   `ai-ml/verl-on-gke/runtime-env.yaml` @616b442d spells out `set_nccl_env.sh`.
//! - NVL72 racks (multi-node NVLink): `NCCL_MNNVL_ENABLE=1`, `NCCL_CUMEM_ENABLE=1` as
//!   AI-Hypercomputer/gpu-recipes' A4X LWS chart @9cea06f8 sets them (vLLM PR #16992).
//!
//! Only multi-node groups on `--platform gke` are wired: elsewhere (on-prem, `--platform nvidia`)
//! the RDMA device plugin (`--rdma-resource`) stays the way. Every wiring needs the cluster's
//! side too (GKE networks `vpc1..`/`rdma-0..`, the NCCL plugin installer DaemonSet), which the
//! next steps name.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, Container, EnvVar, HostPathVolumeSource, SecurityContext, Volume, VolumeMount,
};

use super::options::{Platform, RenderOptions};
use crate::plan::Plan;
use crate::profile::Network;

/// What the fabric adds to each pod.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Wiring {
    /// Pod annotations (GKE multi-networking, device injection into the daemon).
    pub annotations: BTreeMap<String, String>,
    /// Native sidecars (`initContainers` with `restartPolicy: Always`).
    pub init_containers: Vec<Container>,
    /// Pod volumes.
    pub volumes: Vec<Volume>,
    /// Mounts in the vLLM container.
    pub mounts: Vec<VolumeMount>,
    /// The vLLM container's environment.
    pub env: Vec<EnvVar>,
    /// Capabilities the vLLM container needs.
    pub capabilities: Vec<String>,
    /// What the cluster must have, for the next steps.
    pub prerequisite: Option<&'static str>,
}

fn var(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: Some(value.to_string()),
        value_from: None,
    }
}

fn host(name: &str, path: &str) -> Volume {
    Volume {
        name: name.to_string(),
        host_path: Some(HostPathVolumeSource {
            path: path.to_string(),
            type_: None,
        }),
        ..Volume::default()
    }
}

fn mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: name.to_string(),
        mount_path: path.to_string(),
        ..VolumeMount::default()
    }
}

/// `networking.gke.io/interfaces`: the pod network on eth0, then `networks` on `first..`.
fn interfaces(first: u32, networks: &[String]) -> BTreeMap<String, String> {
    let mut list = vec![r#"{"interfaceName":"eth0","network":"default"}"#.to_string()];
    for (i, network) in networks.iter().enumerate() {
        list.push(format!(
            r#"{{"interfaceName":"eth{}","network":"{network}"}}"#,
            first + i as u32
        ));
    }
    BTreeMap::from([
        (
            "networking.gke.io/default-interface".to_string(),
            "eth0".to_string(),
        ),
        (
            "networking.gke.io/interfaces".to_string(),
            format!("[{}]", list.join(",")),
        ),
    ])
}

/// `devices.gke.io/container.NAME`: the GPU device nodes injected into a daemon that requests
/// no GPU.
fn devices(container: &str, gpus: u64, extra: &[&str]) -> (String, String) {
    let mut paths: Vec<String> = (0..gpus).map(|i| format!("/dev/nvidia{i}")).collect();
    paths.extend(
        ["/dev/nvidiactl", "/dev/nvidia-uvm"]
            .iter()
            .chain(extra)
            .map(|s| s.to_string()),
    );
    let text: String = paths.iter().map(|p| format!("- path: {p}\n")).collect();
    (format!("devices.gke.io/container.{container}"), text)
}

fn daemon(name: &str, image: &str, command: Vec<String>, caps: &[&str]) -> Container {
    Container {
        name: name.to_string(),
        image: Some(image.to_string()),
        command: Some(command),
        // A native sidecar: runs beside vLLM for the pod's life and does not keep it alive.
        restart_policy: Some("Always".to_string()),
        security_context: Some(SecurityContext {
            capabilities: Some(Capabilities {
                add: Some(caps.iter().map(|c| c.to_string()).collect()),
                drop: None,
            }),
            ..SecurityContext::default()
        }),
        env: Some(vec![var("LD_LIBRARY_PATH", "/usr/local/nvidia/lib64")]),
        volume_mounts: Some(vec![
            mount("nvidia-lib64", "/usr/local/nvidia/lib64"),
            mount("sys", "/hostsysfs"),
            mount("proc-sys", "/hostprocsysfs"),
        ]),
        ..Container::default()
    }
}

fn daemon_volumes() -> Vec<Volume> {
    vec![
        host("nvidia-lib64", "/home/kubernetes/bin/nvidia/lib64"),
        host("sys", "/sys"),
        host("proc-sys", "/proc/sys"),
    ]
}

fn tcpx(gpus: u64) -> Wiring {
    let networks: Vec<String> = (1..=4).map(|i| format!("vpc{i}")).collect();
    let mut annotations = interfaces(1, &networks);
    annotations.extend([devices("tcpx-daemon", gpus, &[])]);
    let mut sidecar = daemon(
        "tcpx-daemon",
        "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpx/tcpgpudmarxd-dev:v2.0.12",
        [
            "/tcpgpudmarxd/build/app/tcpgpudmarxd",
            "--gpu_nic_preset",
            "a3vm",
            "--gpu_shmem_type",
            "fd",
            "--uds_path",
            "/run/tcpx",
            "--setup_param",
            "--verbose 128 2 0 ",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        &["NET_ADMIN"],
    );
    if let Some(mounts) = sidecar.volume_mounts.as_mut() {
        mounts.push(mount("tcpx-socket", "/run/tcpx"));
    }
    let mut volumes = daemon_volumes();
    volumes.push(host("tcpx-socket", "/run/tcpx"));
    let env = [
        ("LD_LIBRARY_PATH", "/usr/local/nvidia/lib64"),
        ("NCCL_SOCKET_IFNAME", "eth0"),
        ("NCCL_ALGO", "Ring,Tree"),
        ("NCCL_PROTO", "Simple"),
        ("NCCL_CROSS_NIC", "0"),
        ("NCCL_NET_GDR_LEVEL", "PIX"),
        ("NCCL_P2P_PXN_LEVEL", "0"),
        ("NCCL_GPUDIRECTTCPX_SOCKET_IFNAME", "eth1,eth2,eth3,eth4"),
        ("NCCL_GPUDIRECTTCPX_CTRL_DEV", "eth0"),
        ("NCCL_DYNAMIC_CHUNK_SIZE", "524288"),
        ("NCCL_P2P_NET_CHUNKSIZE", "524288"),
        ("NCCL_P2P_PCI_CHUNKSIZE", "524288"),
        ("NCCL_P2P_NVL_CHUNKSIZE", "1048576"),
        ("NCCL_BUFFSIZE", "4194304"),
        ("NCCL_NSOCKS_PERTHREAD", "4"),
        ("NCCL_SOCKET_NTHREADS", "1"),
        (
            "NCCL_GPUDIRECTTCPX_TX_BINDINGS",
            "eth1:8-21,112-125;eth2:8-21,112-125;eth3:60-73,164-177;eth4:60-73,164-177",
        ),
        (
            "NCCL_GPUDIRECTTCPX_RX_BINDINGS",
            "eth1:22-35,126-139;eth2:22-35,126-139;eth3:74-87,178-191;eth4:74-87,178-191",
        ),
        (
            "NCCL_GPUDIRECTTCPX_PROGRAM_FLOW_STEERING_WAIT_MICROS",
            "500000",
        ),
        ("GLOO_SOCKET_IFNAME", "eth0"),
    ];
    Wiring {
        annotations,
        init_containers: vec![sidecar],
        volumes,
        // The plugin finds the daemon's socket under /tmp, where Google's test mounts it.
        mounts: vec![
            mount("nvidia-lib64", "/usr/local/nvidia/lib64"),
            mount("tcpx-socket", "/tmp"),
        ],
        env: env.iter().map(|(k, v)| var(k, v)).collect(),
        capabilities: vec!["IPC_LOCK".into()],
        prerequisite: Some(
            "GPUDirect-TCPX: GKE networks vpc1..vpc4 (GKENetworkParamSet + Network) and the \
             NCCL plugin installer: kubectl apply -f https://raw.githubusercontent.com/\
             GoogleCloudPlatform/container-engine-accelerators/master/gpudirect-tcpx/nccl-tcpx-installer.yaml",
        ),
    }
}

fn tcpxo(gpus: u64) -> Wiring {
    let networks: Vec<String> = (1..=8).map(|i| format!("vpc{i}")).collect();
    let mut annotations = interfaces(1, &networks);
    annotations.extend([devices(
        "tcpxo-daemon",
        gpus,
        &["/dev/dmabuf_import_helper"],
    )]);
    let sidecar = daemon(
        "tcpxo-daemon",
        "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpxo/tcpgpudmarxd-dev:v1.0.21",
        vec![
            "/bin/sh".into(),
            "-c".into(),
            "set -ex; chmod 755 /fts/entrypoint_rxdm_container.sh; \
             /fts/entrypoint_rxdm_container.sh --num_hops=2 --num_nics=8 --uid= --alsologtostderr"
                .into(),
        ],
        &["NET_ADMIN", "NET_BIND_SERVICE"],
    );
    let mut volumes = daemon_volumes();
    volumes.push(host("aperture-devices", "/dev/aperture_devices"));
    // The profile nccl-env-profile.sh sets (README, Jan 2026), less CUDA_VISIBLE_DEVICES
    // (the device plugin's) and the debug settings.
    let lib = "/usr/local/nvidia/lib64";
    let env = [
        ("LD_LIBRARY_PATH", lib.to_string()),
        ("NCCL_LIB_DIR", lib.to_string()),
        (
            "NCCL_FASTRAK_LLCM_DEVICE_DIRECTORY",
            "/dev/aperture_devices".into(),
        ),
        ("NCCL_FASTRAK_CTRL_DEV", "eth0".into()),
        (
            "NCCL_FASTRAK_IFNAME",
            "eth1,eth2,eth3,eth4,eth5,eth6,eth7,eth8".into(),
        ),
        ("NCCL_SOCKET_IFNAME", "eth0".into()),
        ("GLOO_SOCKET_IFNAME", "eth0".into()),
        ("NCCL_CROSS_NIC", "0".into()),
        ("NCCL_PROTO", "Simple,LL128".into()),
        ("NCCL_MIN_NCHANNELS", "4".into()),
        ("NCCL_TUNER_PLUGIN", "libnccl-tuner.so".into()),
        (
            "NCCL_TUNER_CONFIG_PATH",
            format!("{lib}/a3plus_tuner_config.textproto"),
        ),
        (
            "NCCL_SHIMNET_GUEST_CONFIG_CHECKER_CONFIG_FILE",
            format!("{lib}/a3plus_guest_config.textproto"),
        ),
        ("NCCL_NVLSTREE_MAX_CHUNKSIZE", "131072".into()),
        ("NCCL_P2P_NET_CHUNKSIZE", "524288".into()),
        ("NCCL_P2P_PCI_CHUNKSIZE", "524288".into()),
        ("NCCL_P2P_NVL_CHUNKSIZE", "1048576".into()),
        ("NCCL_FASTRAK_NUM_FLOWS", "2".into()),
        ("NCCL_FASTRAK_USE_SNAP", "1".into()),
        ("NCCL_FASTRAK_PLUGIN_ACCEPT_TIMEOUT_MS", "600000".into()),
        ("NCCL_FASTRAK_ENABLE_CONTROL_CHANNEL", "0".into()),
        ("NCCL_BUFFSIZE", "8388608".into()),
        ("NCCL_NET_GDR_LEVEL", "PIX".into()),
        ("NCCL_FASTRAK_ENABLE_HOTPATH_LOGGING", "0".into()),
        ("NCCL_FASTRAK_USE_LLCM", "1".into()),
        ("NCCL_NVLS_ENABLE", "1".into()),
    ];
    Wiring {
        annotations,
        init_containers: vec![sidecar],
        volumes,
        mounts: vec![
            mount("nvidia-lib64", lib),
            mount("aperture-devices", "/dev/aperture_devices"),
        ],
        env: env.iter().map(|(k, v)| var(k, v)).collect(),
        capabilities: Vec::new(),
        prerequisite: Some(
            "GPUDirect-TCPXO: GKE networks vpc1..vpc8 (GKENetworkParamSet + Network) and the \
             NCCL plugin installer: kubectl apply -f https://raw.githubusercontent.com/\
             GoogleCloudPlatform/container-engine-accelerators/master/gpudirect-tcpxo/nccl-tcpxo-installer.yaml",
        ),
    }
}

fn rdma(plan: &Plan) -> Wiring {
    let networks: Vec<String> = (0..8).map(|i| format!("rdma-{i}")).collect();
    // The tuner configuration the gIB plugin ships for each machine (gpu-recipes' A3 Ultra
    // jobs use tuner_config_a3u, the A4 samples tuner_config_a4).
    let tuner = match plan.node_labels.gke_accelerator.as_str() {
        "nvidia-b200" => Some("a4"),
        "nvidia-h200-141gb" => Some("a3u"),
        _ => None,
    };
    let mut env: Vec<EnvVar> = [
        (
            "LD_LIBRARY_PATH",
            "/usr/local/gib/lib64:/usr/local/nvidia/lib64",
        ),
        (
            "NCCL_NET_PLUGIN",
            "/usr/local/gib/lib64/libnccl-net_internal.so",
        ),
        ("NCCL_SOCKET_IFNAME", "eth0"),
        ("GLOO_SOCKET_IFNAME", "eth0"),
        ("NCCL_CROSS_NIC", "0"),
        ("NCCL_NET_GDR_LEVEL", "PIX"),
        ("NCCL_P2P_NET_CHUNKSIZE", "131072"),
        ("NCCL_NVLS_CHUNKSIZE", "524288"),
        ("NCCL_IB_ADAPTIVE_ROUTING", "1"),
        ("NCCL_IB_QPS_PER_CONNECTION", "4"),
        ("NCCL_IB_TC", "52"),
        ("NCCL_IB_FIFO_TC", "84"),
    ]
    .iter()
    .map(|(k, v)| var(k, v))
    .collect();
    if let Some(tuner) = tuner {
        env.push(var(
            "NCCL_TUNER_CONFIG_PATH",
            &format!("/usr/local/gib/configs/tuner_config_{tuner}.txtpb"),
        ));
    }
    Wiring {
        annotations: interfaces(2, &networks),
        init_containers: Vec::new(),
        volumes: vec![
            host("nvidia-install", "/home/kubernetes/bin/nvidia"),
            host("gib", "/home/kubernetes/bin/gib"),
        ],
        mounts: vec![
            mount("nvidia-install", "/usr/local/nvidia"),
            mount("gib", "/usr/local/gib"),
        ],
        env,
        // Google's RDMA test pod runs without IPC_LOCK or privileges.
        capabilities: Vec::new(),
        prerequisite: Some(
            "GPUDirect RDMA: GKE networks rdma-0..rdma-7 (GKENetworkParamSet with deviceMode RDMA \
             + Network) and the gIB installer: kubectl apply -f https://raw.githubusercontent.com/\
             GoogleCloudPlatform/container-engine-accelerators/master/gpudirect-rdma/nccl-rdma-installer.yaml",
        ),
    }
}

fn nvlink() -> Wiring {
    Wiring {
        // vLLM set NCCL_CUMEM_ENABLE=0 before PR #16992, which turns multi-node NVLink off.
        env: vec![var("NCCL_MNNVL_ENABLE", "1"), var("NCCL_CUMEM_ENABLE", "1")],
        prerequisite: Some(
            "multi-node NVLink: the pods of a group in one NVL72 rack (an IMEX ComputeDomain, \
             e.g. NVIDIA's DRA driver) — not rendered by lwsplan",
        ),
        ..Wiring::default()
    }
}

/// The wiring for `plan` rendered with `o`: none for one node (no traffic between nodes), for
/// TCP, or off GKE (except NVLink's environment, which is the same everywhere).
pub(crate) fn wiring(plan: &Plan, o: &RenderOptions) -> Wiring {
    if plan.layout.nodes < 2 {
        return Wiring::default();
    }
    let gpus = plan.layout.gpus_per_pod;
    match (plan.network, o.platform) {
        (Network::Nvlink, _) => nvlink(),
        (_, Platform::Nvidia) => Wiring::default(),
        (Network::Tcpx, Platform::Gke) => tcpx(gpus),
        (Network::Tcpxo, Platform::Gke) => tcpxo(gpus),
        (Network::Rdma, Platform::Gke) => rdma(plan),
        _ => Wiring::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interfaces_follow_googles_manifests() {
        // CEA gpudirect-rdma/nccl-test.yaml: eth0 default, eth2..eth9 rdma-0..rdma-7.
        let networks: Vec<String> = (0..8).map(|i| format!("rdma-{i}")).collect();
        let text = &interfaces(2, &networks)["networking.gke.io/interfaces"];
        assert!(text.starts_with(r#"[{"interfaceName":"eth0","network":"default"},{"interfaceName":"eth2","network":"rdma-0"}"#));
        assert!(text.ends_with(r#"{"interfaceName":"eth9","network":"rdma-7"}]"#));
        let (key, value) = devices("tcpxo-daemon", 8, &["/dev/dmabuf_import_helper"]);
        assert_eq!(key, "devices.gke.io/container.tcpxo-daemon");
        assert_eq!(value.lines().count(), 11);
    }
}
