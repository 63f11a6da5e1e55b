//! One typed identity per option: the field a library user sets, the key of a deployment file,
//! and the flag of the command line, so an error can name the option in the caller's own terms.
//!
//! The library names options by their field (`gpu_memory_utilization`); the `lwsplan` binary
//! names them by their flag (`--gpu-memory-utilization`) by printing inside [`with_flags`]. An
//! error that mentions several options formats each through [`OptionName`], so the two
//! spellings cannot drift.
//!
//! ```
//! use lwsplan::{Catalog, OptionName, PlanOptions, Planner};
//!
//! let catalog = Catalog::builtin();
//! let options = PlanOptions { gpu_memory_utilization: 5.0, ..PlanOptions::default() };
//! let error = Planner::new(catalog.model("llama-3.1-8b-instruct")?, catalog.hardware("l4")?)
//!     .plan(&options)
//!     .unwrap_err();
//! assert!(error.to_string().starts_with("gpu_memory_utilization: 5 is outside (0, 1]"));
//! let cli = lwsplan::option::with_flags(|| error.to_string());
//! assert!(cli.starts_with("--gpu-memory-utilization: 5 is outside (0, 1]"));
//! assert_eq!(OptionName::GpuMemoryUtilization.key(), "plan.gpu_memory_utilization");
//! # Ok::<(), lwsplan::Error>(())
//! ```

use std::cell::Cell;
use std::fmt;

/// Which options struct an option belongs to, and so which section of a deployment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Section {
    /// [`PlanOptions`](crate::PlanOptions), the `plan:` section.
    Plan,
    /// [`RenderOptions`](crate::RenderOptions), the `render:` section.
    Render,
}

macro_rules! options {
    ($($(#[$doc:meta])* $variant:ident => $section:ident, $field:literal, $flag:literal;)*) => {
        /// An option of the planner or the renderer.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum OptionName {
            $($(#[$doc])* $variant,)*
        }

        impl OptionName {
            /// Every option, in declaration order.
            pub const ALL: &'static [OptionName] = &[$(OptionName::$variant),*];

            /// The options struct (and deployment-file section) it belongs to.
            pub fn section(self) -> Section {
                match self {
                    $(OptionName::$variant => Section::$section,)*
                }
            }

            /// The field path within its options struct, e.g. `gpu_memory_utilization` or
            /// `network.rdma`.
            pub fn field(self) -> &'static str {
                match self {
                    $(OptionName::$variant => $field,)*
                }
            }

            /// The `lwsplan` flag that sets it, e.g. `--gpu-memory-utilization`; for an option
            /// only a deployment file sets, its key there (`render.pod.volumes`).
            pub fn flag(self) -> &'static str {
                match self {
                    $(OptionName::$variant => $flag,)*
                }
            }
        }
    };
}

options! {
    /// `gpu_memory_utilization`.
    GpuMemoryUtilization => Plan, "gpu_memory_utilization", "--gpu-memory-utilization";
    /// `kv_cache_memory_bytes`.
    KvCacheMemoryBytes => Plan, "kv_cache_memory_bytes", "--kv-cache-memory-bytes";
    /// `kv_cache_dtype`.
    KvCacheDtype => Plan, "kv_cache_dtype", "--kv-cache-dtype";
    /// `max_model_len`.
    MaxModelLen => Plan, "max_model_len", "--max-model-len";
    /// `gpus_per_node`.
    GpusPerNode => Plan, "gpus_per_node", "--gpus-per-node";
    /// `nodes`.
    Nodes => Plan, "nodes", "--nodes";
    /// `tensor_parallel_size`.
    TensorParallelSize => Plan, "tensor_parallel_size", "--tensor-parallel-size";
    /// `pipeline_parallel_size`.
    PipelineParallelSize => Plan, "pipeline_parallel_size", "--pipeline-parallel-size";
    /// `launcher`.
    Launcher => Plan, "launcher", "--launcher";
    /// `expert_parallel`.
    ExpertParallel => Plan, "expert_parallel", "--expert-parallel";
    /// `replicas`.
    Replicas => Plan, "replicas", "--replicas";
    /// `target_concurrent_sequences`.
    TargetConcurrentSequences => Plan, "target_concurrent_sequences", "--target-concurrent-sequences";
    /// `vllm_version`.
    VllmVersion => Plan, "vllm_version", "--vllm-version";
    /// `max_num_batched_tokens`.
    MaxNumBatchedTokens => Plan, "max_num_batched_tokens", "--max-num-batched-tokens";
    /// `max_num_seqs`.
    MaxNumSeqs => Plan, "max_num_seqs", "--max-num-seqs";
    /// `speculative_mtp`: MTP speculative decoding with this many draft tokens.
    SpeculativeMtp => Plan, "speculative_mtp", "--speculative-mtp";
    /// `strategy`.
    Strategy => Plan, "strategy", "--strategy";
    /// `data_parallel_size`.
    DataParallelSize => Plan, "data_parallel_size", "--data-parallel-size";
    /// `decode_context_parallel_size`.
    DecodeContextParallelSize => Plan, "decode_context_parallel_size", "--decode-context-parallel-size";
    /// `network`: what transfers between nodes run over.
    Network => Plan, "network", "--network";
    /// `workload.input_tokens`.
    InputTokens => Plan, "workload.input_tokens", "--input-tokens";
    /// `workload.output_tokens`.
    OutputTokens => Plan, "workload.output_tokens", "--output-tokens";
    /// `workload.concurrency`.
    Concurrency => Plan, "workload.concurrency", "--concurrency";
    /// `workload.request_rate`.
    RequestRate => Plan, "workload.request_rate", "--request-rate";
    /// `objective`.
    Objective => Plan, "objective", "--objective";
    /// `max_tpot_ms`.
    MaxTpotMs => Plan, "max_tpot_ms", "--max-tpot-ms";
    /// `max_ttft_ms`.
    MaxTtftMs => Plan, "max_ttft_ms", "--max-ttft-ms";
    /// `gpu_hour_price`.
    GpuHourPrice => Plan, "gpu_hour_price", "--gpu-hour-price";
    /// `name`.
    Name => Render, "name", "--name";
    /// `namespace`.
    Namespace => Render, "namespace", "--namespace";
    /// `image`.
    Image => Render, "image", "--image";
    /// `ray_bootstrap`.
    RayBootstrap => Render, "ray_bootstrap", "--ray-bootstrap";
    /// `platform`.
    Platform => Render, "platform", "--platform";
    /// `port`.
    Port => Render, "port", "--port";
    /// `hf_secret`.
    HfSecret => Render, "hf_secret", "--hf-secret";
    /// `hf_token_env`.
    HfTokenEnv => Render, "hf_token_env", "--hf-token-env";
    /// `shm_size`.
    ShmSize => Render, "shm_size", "--shm-size";
    /// `model_source`.
    ModelSource => Render, "model_source", "--model-source";
    /// `env`.
    Env => Render, "env", "--env";
    /// `vllm_args`.
    VllmArgs => Render, "vllm_args", "--vllm-arg";
    /// `labels` (deployment files only).
    Labels => Render, "labels", "render.labels";
    /// `annotations` (deployment files only).
    Annotations => Render, "annotations", "render.annotations";
    /// `templates`.
    Templates => Render, "templates", "--templates";
    /// `model_cache`.
    ModelCache => Render, "model_cache", "--model-cache";
    /// `network.socket_ifname`.
    NetworkInterface => Render, "network.socket_ifname", "--network-interface";
    /// `network.rdma`.
    RdmaResource => Render, "network.rdma", "--rdma-resource";
    /// `network.rdma.ib_hca`.
    NcclIbHca => Render, "network.rdma.ib_hca", "--nccl-ib-hca";
    /// `capabilities`.
    Capabilities => Render, "capabilities", "--add-capability";
    /// `pod.resources` (CPU).
    Cpu => Render, "pod.resources", "--cpu";
    /// `pod.resources` (memory).
    Memory => Render, "pod.resources", "--memory";
    /// `pod.resources` (ephemeral storage).
    EphemeralStorage => Render, "pod.resources", "--ephemeral-storage";
    /// `pod.service_account_name`.
    ServiceAccount => Render, "pod.service_account_name", "--service-account";
    /// `pod.priority_class_name`.
    PriorityClass => Render, "pod.priority_class_name", "--priority-class";
    /// `pod.image_pull_secrets`.
    ImagePullSecrets => Render, "pod.image_pull_secrets", "--image-pull-secret";
    /// `pod.image_pull_policy`.
    ImagePullPolicy => Render, "pod.image_pull_policy", "--image-pull-policy";
    /// `pod.labels`.
    PodLabels => Render, "pod.labels", "--pod-label";
    /// `pod.annotations`.
    PodAnnotations => Render, "pod.annotations", "--pod-annotation";
    /// `pod.volumes` (deployment files only).
    PodVolumes => Render, "pod.volumes", "render.pod.volumes";
    /// `pod.resources` as a whole (deployment files; `--cpu`, `--memory` and
    /// `--ephemeral-storage` set parts of it).
    PodResources => Render, "pod.resources", "render.pod.resources";
    /// `pod.volume_mounts` (deployment files only).
    PodVolumeMounts => Render, "pod.volume_mounts", "render.pod.volume_mounts";
    /// `termination_grace_period_seconds` (deployment files only).
    TerminationGracePeriodSeconds => Render, "termination_grace_period_seconds", "render.termination_grace_period_seconds";
    /// `exclusive_topology`: keep each group in one placement domain.
    ExclusiveTopology => Render, "exclusive_topology", "--exclusive-topology";
    /// `subgroup_size`.
    SubgroupSize => Render, "subgroup_size", "--subgroup-size";
    /// `readiness_probe` (deployment files only).
    ReadinessProbe => Render, "readiness_probe", "render.readiness_probe";
    /// `leader_container_name` (deployment files only).
    LeaderContainerName => Render, "leader_container_name", "render.leader_container_name";
    /// `worker_container_name` (deployment files only).
    WorkerContainerName => Render, "worker_container_name", "render.worker_container_name";
}

impl OptionName {
    /// The key in a deployment file, e.g. `plan.gpu_memory_utilization` or
    /// `render.network.rdma`.
    pub fn key(self) -> String {
        let section = match self.section() {
            Section::Plan => "plan",
            Section::Render => "render",
        };
        format!("{section}.{}", self.field())
    }
}

thread_local! {
    static FLAGS: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with every [`OptionName`] displayed as its command-line flag instead of its field:
/// how the `lwsplan` binary prints errors, notes and tables.
pub fn with_flags<T>(f: impl FnOnce() -> T) -> T {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            FLAGS.with(|flags| flags.set(self.0));
        }
    }
    let _restore = Restore(FLAGS.with(|flags| flags.replace(true)));
    f()
}

/// The field in library output; the flag inside [`with_flags`].
impl fmt::Display for OptionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if FLAGS.with(Cell::get) {
            f.write_str(self.flag())
        } else {
            f.write_str(self.field())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_spell_fields_in_kebab_case() {
        for option in OptionName::ALL {
            let tail = option.field().rsplit('.').next().unwrap().replace('_', "-");
            if !option.flag().starts_with("--") {
                assert_eq!(option.flag(), option.key(), "{option:?}");
                continue;
            }
            // The flag is the field in kebab case except where the CLI names one item of a
            // list (`--vllm-arg`) or a part of a struct (`--memory` of `pod.resources`).
            if !matches!(
                option,
                OptionName::VllmArgs
                    | OptionName::PodLabels
                    | OptionName::PodAnnotations
                    | OptionName::Capabilities
                    | OptionName::Cpu
                    | OptionName::Memory
                    | OptionName::EphemeralStorage
                    | OptionName::ServiceAccount
                    | OptionName::PriorityClass
                    | OptionName::ImagePullSecrets
                    | OptionName::NetworkInterface
                    | OptionName::RdmaResource
                    | OptionName::NcclIbHca
            ) {
                assert_eq!(option.flag(), format!("--{tail}"), "{option:?}");
            }
        }
    }

    #[test]
    fn display_follows_the_scope_and_restores_it() {
        let o = OptionName::MaxModelLen;
        assert_eq!(o.to_string(), "max_model_len");
        assert_eq!(with_flags(|| o.to_string()), "--max-model-len");
        assert_eq!(
            with_flags(|| with_flags(|| o.to_string())),
            "--max-model-len"
        );
        assert_eq!(o.to_string(), "max_model_len");
    }
}
