//! What collectives cost on the plan's fabric: the intra-node link (NVLink generation or PCIe,
//! from the hardware profile's `interconnect`) and the network between nodes (`plan.network`),
//! each as an achievable bandwidth per GPU and a small-message latency.
//!
//! TP all-reduces and EP exchanges inside a node run over the link; those of a group spread over
//! nodes, and pipeline hand-offs between nodes, over the network.

use crate::profile::{HardwareProfile, InterconnectKind, Network};

/// One link's figures, as a collective sees them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LinkCost {
    /// Achievable bytes per second per GPU, each way.
    pub bytes_per_s: f64,
    /// One small collective's latency, ms.
    pub latency_ms: f64,
}

impl LinkCost {
    /// The time one collective moving `bytes` per GPU takes, ms.
    pub fn ms(&self, bytes: f64) -> f64 {
        self.latency_ms + bytes / self.bytes_per_s * 1e3
    }
}

/// The intra-node link and the network of a plan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Fabric {
    /// NVLink or PCIe inside a node.
    pub link: LinkCost,
    /// The network between nodes.
    pub network: LinkCost,
}

/// NCCL reaches about 370 of NVLink 4's 450 GB/s each way (busBw, ring all-reduce on 8 H100;
/// NCCL maintainer in https://github.com/NVIDIA/nccl-tests/issues/212): 0.82. Taken for every
/// link (an estimate elsewhere; RDMA's rule of thumb is 75–85 % of line rate for large
/// messages).
const LINK_EFFICIENCY: f64 = 0.82;

/// One small all-reduce over NVLink: "approximately 6us" on 2 H100 with CUDA graphs
/// (https://github.com/NVIDIA/nccl/issues/1259); vLLM's decode runs under CUDA graphs. 8 GPUs
/// take longer (10–25 µs without graphs, unverified): 10 µs, an estimate between the two.
const NVLINK_LATENCY_MS: f64 = 0.010;
/// One small all-reduce over PCIe: tens of µs through host bridges (an estimate, unverified).
const PCIE_LATENCY_MS: f64 = 0.025;

impl Fabric {
    /// The fabric a plan on `hardware` over `network` runs its collectives on.
    pub fn of(hardware: &HardwareProfile, network: Network) -> Fabric {
        let interconnect = &hardware.gpu.interconnect;
        // Profiles give the link's bidirectional bandwidth per GPU (NVLink 4: 900 GB/s); a
        // collective's bytes move each way at half of it.
        let each_way = interconnect.bandwidth_gb_per_s as f64 / 2.0 * 1e9;
        let link = LinkCost {
            bytes_per_s: each_way * LINK_EFFICIENCY,
            latency_ms: match interconnect.kind {
                InterconnectKind::Nvlink => NVLINK_LATENCY_MS,
                InterconnectKind::Pcie => PCIE_LATENCY_MS,
            },
        };
        let network = match network {
            // A multi-node NVLink domain (NVL72) is the link itself, across trays.
            Network::Nvlink => link,
            other => {
                let (gb_per_s, latency_ms) = network_figures(other);
                LinkCost {
                    bytes_per_s: gb_per_s * 1e9 * LINK_EFFICIENCY,
                    latency_ms,
                }
            }
        };
        Fabric { link, network }
    }
}

/// Line rate per GPU (GB/s, each way) and one small collective's latency (ms) of a network
/// between nodes.
///
/// Bandwidths: GPU-NIC bandwidth per node over 8 GPUs, from Google Cloud's GPU network
/// bandwidth page (https://cloud.google.com/compute/docs/gpus/gpu-network-bandwidth): A3 High's
/// GPUDirect-TCPX 4 × 200 Gb/s (12.5 GB/s per GPU), A3 Mega's TCPXO 8 × 200 Gb/s (25 GB/s),
/// A3 Ultra / A4 RDMA 8 × 400 Gb/s (50 GB/s; a DGX H100's 8 × 400 Gb/s ConnectX-7 InfiniBand
/// gives the same). Plain pod networking shares the primary gVNIC's ≤ 200 Gb/s among 8 GPUs:
/// ≤ 3.1 GB/s per GPU.
///
/// Latencies: a small all-reduce over InfiniBand NDR between 2 nodes of 8 GPUs takes 46–48 µs
/// (https://github.com/NVIDIA/nccl/issues/1244). Google publishes none for TCPX / TCPXO:
/// 50 µs, the same order (unverified); TCP sockets through the host kernel: 100 µs
/// (unverified).
fn network_figures(network: Network) -> (f64, f64) {
    match network {
        Network::Tcp => (3.1, 0.100),
        Network::Tcpx => (12.5, 0.050),
        Network::Tcpxo => (25.0, 0.050),
        Network::Rdma => (50.0, 0.047),
        // Handled by the caller: the NVLink domain spans the nodes.
        Network::Nvlink => (0.0, 0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Catalog;

    /// Each row: hardware, network, expected each-way link and network bandwidth (GB/s, before
    /// efficiency) and network latency, from the sources on [`network_figures`] and the profiles'
    /// interconnect figures.
    #[test]
    fn figures_per_fabric() {
        let rows = [
            ("h100-80gb", Network::Tcp, 450.0, 3.1, 0.100),
            ("h100-80gb", Network::Tcpx, 450.0, 12.5, 0.050),
            ("h100-mega-80gb", Network::Tcpxo, 450.0, 25.0, 0.050),
            ("h200-141gb", Network::Rdma, 450.0, 50.0, 0.047),
            // NVLink 5 (B200: 1.8 TB/s bidirectional); across an NVL72 rack the network is it.
            ("b200", Network::Nvlink, 900.0, 900.0, NVLINK_LATENCY_MS),
            // L4: PCIe Gen4 x16, 32 GB/s each way.
            ("l4", Network::Tcp, 32.0, 3.1, 0.100),
        ];
        let catalog = Catalog::builtin();
        for (gpu, network, link, net, latency) in rows {
            let hw = catalog.hardware(gpu).expect("built-in");
            let f = Fabric::of(hw, network);
            assert!(
                (f.link.bytes_per_s - link * 1e9 * LINK_EFFICIENCY).abs() < 1.0,
                "{gpu}"
            );
            assert!(
                (f.network.bytes_per_s - net * 1e9 * LINK_EFFICIENCY).abs() < 1.0,
                "{gpu}"
            );
            assert_eq!(f.network.latency_ms, latency, "{gpu} {network}");
        }
    }

    #[test]
    fn slower_networks_cost_more() {
        let hw = Catalog::builtin().hardware("h100-80gb").expect("built-in");
        let ms = |n| Fabric::of(hw, n).network.ms(1e6);
        assert!(ms(Network::Tcp) > ms(Network::Tcpx));
        assert!(ms(Network::Tcpx) > ms(Network::Tcpxo));
        assert!(ms(Network::Tcpxo) > ms(Network::Rdma));
    }
}
