//! Probe timing: how long the leader may take to start before Kubernetes gives up on it.
//!
//! A startup probe that fires too early restarts the leader mid-load, and under
//! `RecreateGroupOnPodRestart` that recreates the whole group: a 671B model would never start
//! (vLLM `docs/deployment/k8s.md`, troubleshooting "failed startup probe"). The budget is the
//! time to load the pod's weights plus the engine's own start.

/// Assumed rate at which a pod reads its weights (a Hugging Face download or a network
/// volume): 250 MB/s, about 2 Gbit/s. An assumption, not a measurement: a local NVMe cache
/// is faster, a congested link slower.
pub const LOAD_BYTES_PER_SECOND: u64 = 250_000_000;
/// Engine start after loading: memory profiling, CUDA-graph capture and compilation.
/// vLLM's own engine-ready timeout defaults to 600 s (`VLLM_ENGINE_READY_TIMEOUT_S`).
pub const ENGINE_START_SECONDS: u64 = 600;
/// The shortest startup budget, whatever the model.
pub const MIN_STARTUP_SECONDS: u64 = 900;
/// Seconds between startup probes.
pub const STARTUP_PERIOD_SECONDS: u64 = 10;

/// The startup budget in seconds for a pod that loads `bytes` of weights.
pub fn startup_seconds(bytes: u64) -> u64 {
    (bytes.div_ceil(LOAD_BYTES_PER_SECOND) + ENGINE_START_SECONDS).max(MIN_STARTUP_SECONDS)
}

/// `failureThreshold` of a startup probe probing every [`STARTUP_PERIOD_SECONDS`].
pub fn startup_failure_threshold(bytes: u64) -> u64 {
    startup_seconds(bytes).div_ceil(STARTUP_PERIOD_SECONDS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_scales_with_bytes_above_a_floor() {
        assert_eq!(startup_seconds(0), 900);
        assert_eq!(startup_seconds(16_000_000_000), 900, "8B model: the floor");
        // 350 GB at 250 MB/s = 1400 s, + 600 s engine start.
        assert_eq!(startup_seconds(350_000_000_000), 2000);
        assert_eq!(startup_failure_threshold(350_000_000_000), 200);
        assert_eq!(
            startup_seconds(u64::MAX),
            u64::MAX / LOAD_BYTES_PER_SECOND + 601
        );
    }
}
