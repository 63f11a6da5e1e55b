//! Probe timing: how long the leader may take to start before Kubernetes gives up on it.
//!
//! A startup probe that fires too early restarts the leader mid-load, and under
//! `RecreateGroupOnPodRestart` that recreates the whole group: a 671B model would never start
//! (vLLM `docs/deployment/k8s.md`, troubleshooting "failed startup probe"). The budget is the
//! time to load the pod's weights plus the engine's own start.

/// Assumed rate at which a pod downloads its weights (from Hugging Face or a mirror):
/// 250 MB/s, about 2 Gbit/s. An assumption, not a measurement: a congested link is slower.
pub const LOAD_BYTES_PER_SECOND: u64 = 250_000_000;
/// Assumed rate at which a pod reads weights already in its model cache (a local disk or a
/// network volume): 1 GB/s. An assumption; local NVMe is faster.
pub const WARM_CACHE_BYTES_PER_SECOND: u64 = 1_000_000_000;
/// Engine start after loading: memory profiling, CUDA-graph capture and compilation.
/// vLLM's own engine-ready timeout defaults to 600 s (`VLLM_ENGINE_READY_TIMEOUT_S`).
pub const ENGINE_START_SECONDS: u64 = 600;
/// The shortest startup budget, whatever the model.
pub const MIN_STARTUP_SECONDS: u64 = 900;
/// The longest startup budget: a day. A checkpoint that takes longer to load is not served
/// by waiting (and Kubernetes keeps probe counts as int32).
pub const MAX_STARTUP_SECONDS: u64 = 24 * 3600;
/// The leader's liveness probe: every 30 s, 10 s to answer, restarted after 6 failures in a
/// row (3 minutes). Generous on purpose: vLLM's `/health` answers from the API server while the
/// engine is busy, and restarting the leader recreates the whole group.
pub const LIVENESS_PERIOD_SECONDS: i32 = 30;
/// See [`LIVENESS_PERIOD_SECONDS`].
pub const LIVENESS_TIMEOUT_SECONDS: i32 = 10;
/// See [`LIVENESS_PERIOD_SECONDS`].
pub const LIVENESS_FAILURE_THRESHOLD: i32 = 6;
/// Seconds between startup probes.
pub const STARTUP_PERIOD_SECONDS: u64 = 10;

/// The startup budget in seconds for a pod that loads `bytes` of weights at
/// `bytes_per_second`.
pub fn startup_seconds(bytes: u64, bytes_per_second: u64) -> u64 {
    (bytes.div_ceil(bytes_per_second.max(1)) + ENGINE_START_SECONDS)
        .clamp(MIN_STARTUP_SECONDS, MAX_STARTUP_SECONDS)
}

/// `failureThreshold` of a startup probe probing every [`STARTUP_PERIOD_SECONDS`] for
/// `seconds`.
pub fn startup_failure_threshold(seconds: u64) -> u64 {
    seconds.div_ceil(STARTUP_PERIOD_SECONDS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_scales_with_bytes_above_a_floor() {
        let download = LOAD_BYTES_PER_SECOND;
        assert_eq!(startup_seconds(0, download), 900);
        assert_eq!(
            startup_seconds(16_000_000_000, download),
            900,
            "8B model: the floor"
        );
        // 350 GB at 250 MB/s = 1400 s, + 600 s engine start.
        assert_eq!(startup_seconds(350_000_000_000, download), 2000);
        assert_eq!(startup_failure_threshold(2000), 200);
        // From a warm cache at 1 GB/s: 350 s + 600 s.
        assert_eq!(
            startup_seconds(350_000_000_000, WARM_CACHE_BYTES_PER_SECOND),
            950
        );
        assert_eq!(startup_seconds(u64::MAX, download), 86_400, "at most a day");
        assert_eq!(startup_failure_threshold(86_400), 8_640);
    }
}
