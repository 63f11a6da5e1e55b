//! Explanations: the notes a plan carries, and how the planner works out why no layout fits
//! and what would (the [`Infeasible`](super::Infeasible) of its error).
//!
//! Notes are typed values, so a caller can match on them; their `Display` is the sentence the
//! table, the JSON and the CLI print.

use std::fmt;

use super::error::{Infeasible, Remedy};
use super::layout::Layout;
use super::options::{ExpertParallel, MaxModelLen, PlanOptions};
use super::rules::Rejection;
use super::search::Fit;
use super::{KvCacheDtype, MaxModelLenSource, Planner, reserve};
use crate::profile::{Attention, InterconnectKind, Mlp, Quantization};
use crate::units::gib;

/// Something the user should know about a plan: a cut context, a forced layout, an untested
/// path. Serialized as its sentence.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Note {
    /// `auto` context: the full context does not fit, `max_model_len` is cut.
    ContextCut {
        /// The model's full context.
        full: u64,
        /// The length that fits.
        max_model_len: u64,
    },
    /// Another layout would serve the full context.
    FullContextElsewhere {
        /// That layout.
        layout: Layout,
        /// The model's full context.
        full: u64,
    },
    /// A forced layout is larger than the smallest that fits.
    LargerThanNeeded {
        /// The forced layout.
        forced: Layout,
        /// The smallest that fits.
        smallest: Layout,
        /// KV tokens the forced layout holds beyond the smallest's.
        extra_tokens: u64,
    },
    /// Nodes of a listed shape other than the profile's default.
    NodeShape {
        /// GPUs per node.
        gpus: u64,
        /// GPU name.
        gpu: String,
        /// The machine type with that many GPUs.
        machine_type: String,
    },
    /// A GPU count no listed machine has.
    UnlistedNodeShape {
        /// Hardware profile id.
        hardware: String,
        /// GPUs per node.
        gpus: u64,
    },
    /// Weights are the checkpoint's exact size.
    ExactCheckpoint {
        /// The safetensors index's total.
        exact: u64,
        /// lwsplan's own count.
        computed: u64,
    },
    /// Expert parallelism was turned on because the layout needs it.
    ExpertParallelNeeded {
        /// The layout.
        layout: Layout,
    },
    /// TP crosses node boundaries.
    TensorParallelSpansNodes {
        /// The layout.
        layout: Layout,
    },
    /// TP over PCIe.
    TensorParallelOverPcie {
        /// GPU name.
        gpu: String,
    },
    /// FP8 weights on a GPU without FP8 units.
    Fp8WeightOnly {
        /// GPU name.
        gpu: String,
        /// Its compute capability.
        compute_capability: String,
    },
    /// FP8 MoE on a GPU without FP8 units needs Marlin MoE.
    Fp8MoeNeedsMarlin,
    /// MXFP4 experts below Hopper.
    Mxfp4NeedsMarlin {
        /// The GPU's compute capability.
        compute_capability: String,
    },
    /// The KV memory left beyond one `max_model_len` request is inside the reserve's band.
    MayNotStart {
        /// The tightest stage.
        stage: u64,
        /// KV bytes per GPU left there after one request.
        spare_bytes: u64,
        /// The reserve's band on that stage.
        band_bytes: u64,
    },
    /// With the KV cache fixed by `--kv-cache-memory-bytes`, what the GPU has left beside
    /// weights, reserve and cache is inside the reserve's band.
    FixedKvCacheMayNotFit {
        /// The tightest stage.
        stage: u64,
        /// Bytes per GPU left there beside the cache.
        spare_bytes: u64,
        /// The reserve's band on that stage.
        band_bytes: u64,
    },
    /// Before v0.21 CUDA graphs and the sampler's second warm-up come out of the headroom
    /// above the budget, which is too small.
    GraphHeadroom {
        /// The release.
        version: super::VllmVersion,
        /// `(1 − utilization) × memory`.
        headroom_bytes: u64,
        /// The CUDA-graph estimate.
        graph_bytes: u64,
        /// The highest utilization that leaves enough.
        utilization: f64,
    },
    /// FP8 KV with MLA.
    Fp8KvWithMla,
    /// NVFP4 weights on a GPU without FP4 tensor cores: vLLM runs them weight-only.
    Nvfp4WeightOnly {
        /// GPU name.
        gpu: String,
        /// Its compute capability.
        compute_capability: String,
    },
    /// The checkpoint asks for an FP8 KV cache, which `--kv-cache-dtype auto` follows.
    CheckpointFp8KvCache,
    /// A vision tower on every pipeline stage.
    VisionTower {
        /// Its bytes on each GPU at the plan's TP.
        bytes_per_gpu: u64,
    },
    /// The checkpoint's MTP layers are not loaded: no speculative decoding.
    MtpNotLoaded {
        /// MTP layers in the checkpoint.
        layers: u64,
    },
    /// MTP speculative decoding: the drafter's layers are counted on the last stage.
    SpeculativeMtp {
        /// MTP layers loaded.
        layers: u64,
        /// Speculative tokens a step.
        tokens: u64,
    },
    /// No published vLLM start-up log checks lwsplan's figures for this architecture.
    UnverifiedArchitecture {
        /// The architecture feature, e.g. "DeepSeek Sparse Attention (sparse MLA + indexer)".
        feature: &'static str,
        /// What is checked and what is not.
        detail: &'static str,
    },
    /// How many state pages a hybrid model's linear-attention layers keep per sequence: one
    /// without prefix caching (`mamba_cache_mode = 'none'`), two in 'align' mode.
    LinearAttentionState {
        /// State pages per sequence and layer.
        pages: u64,
    },
    /// A profile that cites no sources: its facts are unverified.
    Unsourced {
        /// `model` or `hardware`.
        kind: &'static str,
        /// The profile's id.
        id: String,
    },
    /// The Ray launcher without an image plans for the newest official image with Ray.
    RayImageVersion {
        /// That release.
        version: super::VllmVersion,
    },
    /// A release newer than the newest lwsplan knows: planned with that one's behaviour.
    NewerThanKnown {
        /// The release asked for.
        version: super::VllmVersion,
        /// The newest known.
        known: super::VllmVersion,
    },
    /// DP + EP across nodes: every MoE layer exchanges tokens between all GPUs of the group.
    DataParallelAllToAll {
        /// Nodes of the group.
        nodes: u64,
    },
    /// DCP depends on the MLA attention backend.
    DecodeContextParallel {
        /// The size.
        size: u64,
    },
    /// No layout meets `--max-tpot-ms` / `--max-ttft-ms`: the best is shown anyway.
    LimitsUnmet {
        /// The chosen layout's estimated time per output token, ms.
        tpot_ms: f64,
        /// Its estimated time to first token, ms.
        ttft_ms: f64,
    },
    /// More requests in flight than the KV cache holds: vLLM preempts, which the estimate does
    /// not model.
    KvCacheSaturated {
        /// Requests each engine is given.
        requests: u64,
        /// Requests its KV cache holds at full length.
        holds: u64,
    },
    /// A request rate beyond what the layout serves at full load.
    Overloaded {
        /// Requests per second asked for.
        request_rate: f64,
        /// Requests per second the layout serves at full load (estimated).
        served: f64,
        /// The most requests in flight the workload allows, when it caps them.
        cap: Option<u64>,
    },
    /// A context too short for chat.
    ShortContext {
        /// The length.
        max_model_len: u64,
    },
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::ContextCut {
                full,
                max_model_len,
            } => write!(
                f,
                "the full context ({full} tokens) does not fit in the KV cache; max_model_len is cut \
                 to {max_model_len}, the longest that fits. More GPUs or --kv-cache-dtype fp8 buy a \
                 longer context"
            ),
            Note::FullContextElsewhere { layout, full } => {
                write!(f, "{layout} serves the full context of {full} tokens")
            }
            Note::LargerThanNeeded {
                forced,
                smallest,
                extra_tokens,
            } => write!(
                f,
                "the forced layout uses {} GPUs on {} node(s); the smallest that fits is TP {} × PP {} \
                 on {} node(s) ({} GPUs): the margin buys {extra_tokens} more KV tokens",
                forced.gpus(),
                forced.nodes,
                smallest.tensor_parallel_size,
                smallest.pipeline_parallel_size,
                smallest.nodes,
                smallest.gpus(),
            ),
            Note::NodeShape {
                gpus,
                gpu,
                machine_type,
            } => write!(f, "nodes of {gpus} × {gpu} ({machine_type})"),
            Note::UnlistedNodeShape { hardware, gpus } => write!(
                f,
                "{hardware} lists no machine with {gpus} GPUs; host memory (for /dev/shm) is assumed \
                 to scale with the GPU count"
            ),
            Note::ExactCheckpoint { exact, computed } => write!(
                f,
                "weights are the checkpoint's exact {} (safetensors index); lwsplan's own count is {} \
                 ({:+.2} %), and per-GPU weights are scaled to the exact total",
                gib(*exact),
                gib(*computed),
                (*computed as f64 - *exact as f64) / (*exact).max(1) as f64 * 100.0
            ),
            Note::ExpertParallelNeeded { layout } => write!(
                f,
                "expert parallelism (--enable-expert-parallel) makes {layout} possible: each GPU \
                 holds whole experts instead of a slice of every expert"
            ),
            Note::TensorParallelSpansNodes { layout } => write!(
                f,
                "TP {} spans {} nodes: every layer's all-reduce crosses the network; vLLM recommends \
                 TP = GPUs per node ({}) and PP across nodes",
                layout.tensor_parallel_size, layout.nodes, layout.gpus_per_pod
            ),
            Note::TensorParallelOverPcie { gpu } => write!(
                f,
                "{gpu} has no NVLink: tensor parallelism runs over PCIe; pipeline parallelism needs \
                 less bandwidth"
            ),
            Note::Fp8WeightOnly {
                gpu,
                compute_capability,
            } => write!(
                f,
                "{gpu} has no FP8 units (compute capability {compute_capability}): vLLM runs the FP8 \
                 weights weight-only (FP8 Marlin, 1 byte per weight, BF16 compute)"
            ),
            Note::Fp8MoeNeedsMarlin => f.write_str(
                "FP8 MoE below compute capability 8.9 needs vLLM's Marlin MoE backend, which only \
                 recent vLLM releases have: check your image's version (unverified for this model)",
            ),
            Note::Mxfp4NeedsMarlin { compute_capability } => write!(
                f,
                "MXFP4 experts below compute capability 9.0 ({compute_capability}) run on vLLM's \
                 Marlin kernels in recent releases only: check your image's version (unverified)"
            ),
            Note::MayNotStart {
                stage,
                spare_bytes,
                band_bytes,
            } => write!(
                f,
                "vLLM may refuse to start: stage {stage} keeps {} of KV memory beyond one \
                 max_model_len request, inside the reserve's error band of ±{}. Buy room with a \
                 shorter --max-model-len, --kv-cache-dtype fp8, a higher \
                 --gpu-memory-utilization or more GPUs; `render --probe` checks it in minutes",
                gib(*spare_bytes),
                gib(*band_bytes),
            ),
            Note::FixedKvCacheMayNotFit {
                stage,
                spare_bytes,
                band_bytes,
            } => write!(
                f,
                "vLLM may run out of memory: beside the KV cache --kv-cache-memory-bytes fixes, \
                 stage {stage} leaves {} of its GPUs free, inside the reserve's error band of \
                 ±{}. Ask for a smaller cache; `render --probe` checks it in minutes",
                gib(*spare_bytes),
                gib(*band_bytes),
            ),
            Note::GraphHeadroom {
                version,
                headroom_bytes,
                graph_bytes,
                utilization,
            } => write!(
                f,
                "vLLM {version} captures CUDA graphs (about {}) and warms the sampler again after \
                 allocating the KV cache, in the {} the utilization leaves free; with under 2 GiB \
                 to spare that has run out of memory (gpt-oss-20b at 0.95 on an H100, vLLM \
                 0.19.0). Use --gpu-memory-utilization {utilization} or lower, or vLLM 0.21 or \
                 newer, which counts the graphs in the budget",
                gib(*graph_bytes),
                gib(*headroom_bytes),
            ),
            Note::Fp8KvWithMla => f.write_str(
                "FP8 KV cache with MLA depends on the attention backend; unverified for this GPU",
            ),
            Note::Nvfp4WeightOnly {
                gpu,
                compute_capability,
            } => write!(
                f,
                "{gpu} has no FP4 tensor cores (compute capability {compute_capability}; NVFP4 \
                 needs 10.0): vLLM runs the NVFP4 weights weight-only on its Marlin kernels (4 \
                 bits a weight, BF16 compute), counted at the checkpoint's size; the repacked \
                 layout's exact size is unverified"
            ),
            Note::CheckpointFp8KvCache => f.write_str(
                "the checkpoint quantizes the KV cache to FP8 (ModelOpt's kv_cache_quant_algo): \
                 vLLM resolves --kv-cache-dtype auto to fp8, 1 byte per element, and so does \
                 the plan",
            ),
            Note::VisionTower { bytes_per_gpu } => write!(
                f,
                "the vision tower takes {} on every GPU, counted on every pipeline stage (vLLM \
                 builds Kimi-K2.5's outside the pipeline split; 0.34.0 builds Qwen3.5's and \
                 Llama 4's on the first stage only); text-only serving can skip it with vLLM's \
                 --language-model-only, which the plan does not assume",
                gib(*bytes_per_gpu)
            ),
            Note::MtpNotLoaded { layers } => write!(
                f,
                "the checkpoint's {layers} multi-token-prediction layer{} not loaded and not \
                 counted: vLLM loads them only for speculative decoding (--speculative-mtp N \
                 plans it)",
                if *layers == 1 { " is" } else { "s are" }
            ),
            Note::SpeculativeMtp { layers, tokens } => write!(
                f,
                "MTP speculative decoding, {tokens} token{} a step: the {layers} MTP layer{} \
                 (weights, and one more layer's KV cache each) {} counted on the last pipeline \
                 stage, where vLLM loads the drafter",
                if *tokens == 1 { "" } else { "s" },
                if *layers == 1 { "" } else { "s" },
                if *layers == 1 { "is" } else { "are" },
            ),
            Note::UnverifiedArchitecture { feature, detail } => write!(
                f,
                "{feature}: no published vLLM start-up log checks lwsplan's figures for it; \
                 {detail}"
            ),
            Note::LinearAttentionState { pages: 1 } => f.write_str(
                "the linear-attention layers keep one state page per sequence (vLLM's \
                 mamba_cache_mode 'none', as vLLM 0.19.0 ran Qwen3.5 in vllm-project/vllm#40691)",
            ),
            Note::LinearAttentionState { pages } => write!(
                f,
                "the linear-attention layers keep {pages} state pages per sequence: vLLM keeps \
                 state for prefix caching (mamba_cache_mode 'align', 0.33.0's default; the \
                 release that switched after 0.19.0 is unverified, so every later one is \
                 planned this way, the conservative side)"
            ),
            Note::Unsourced { kind, id } => write!(
                f,
                "the {kind} profile {id} cites no sources (`sources:`): its numbers are unverified"
            ),
            Note::RayImageVersion { version } => write!(
                f,
                "planned for vLLM {version}, the newest official image that still ships Ray (the \
                 Ray launcher without --image); --launcher native serves newer releases"
            ),
            Note::NewerThanKnown { version, known } => write!(
                f,
                "vLLM {version} is newer than {known}, the newest release lwsplan has checked against \
                 logs: planned with {known}'s memory behaviour (unverified for {version})"
            ),
            Note::DataParallelAllToAll { nodes } => write!(
                f,
                "DP + EP exchanges every MoE layer's tokens between all GPUs of the group \
                 (all-to-all), across {nodes} nodes: it needs GPUDirect RDMA between them (render \
                 with --rdma-resource), and each engine's batch waits for the slowest; \
                 memory is planned, all-to-all buffers (DeepEP) are not measured (unverified)"
            ),
            Note::DecodeContextParallel { size } => write!(
                f,
                "DCP {size} splits each TP group's latent KV cache {size} ways and gathers the \
                 attention partials at every decode step; it needs an MLA attention backend that \
                 supports it in your release (unverified per backend)"
            ),
            Note::LimitsUnmet { tpot_ms, ttft_ms } => write!(
                f,
                "no layout that fits meets the latency limits under this workload; the chosen one \
                 is estimated at {tpot_ms} ms per output token and {ttft_ms} ms to the first \
                 token. Lower --concurrency, or add GPUs or replicas"
            ),
            Note::KvCacheSaturated { requests, holds } => write!(
                f,
                "each engine is given {requests} requests at once but its KV cache holds {holds} at \
                 full length: vLLM admits the rest and preempts (recomputes) some as outputs grow. \
                 The estimate does not model that work; published benchmarks in this regime \
                 served 0.85 to 2 times its throughput (the range says so; the README's \
                 performance table). Add replicas or lower --concurrency"
            ),
            Note::Overloaded {
                request_rate,
                served,
                cap,
            } => write!(
                f,
                "{request_rate} requests per second is more than this layout serves at full load \
                 (about {served:.2} estimated{}): the queue, and the time to the first token, grow \
                 without bound; the figures are the layout at full load. Add replicas or GPUs, or \
                 shorten the requests{}",
                cap.map(|c| format!(" with at most {c} requests in flight"))
                    .unwrap_or_default(),
                if cap.is_some() {
                    ", or allow more requests in flight (--concurrency)"
                } else {
                    ""
                }
            ),
            Note::ShortContext { max_model_len } => write!(
                f,
                "max_model_len {max_model_len} is short for chat or reasoning workloads"
            ),
        }
    }
}

impl serde::Serialize for Note {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl schemars::JsonSchema for Note {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Note".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "description": "A note, as a sentence"})
    }
}

impl Planner<'_> {
    /// What the user should know about the chosen fit.
    pub(crate) fn notes(&self, fit: &Fit, options: &PlanOptions) -> Vec<Note> {
        let mut notes = Vec::new();
        let (model, hardware) = (self.model, self.hardware);
        let layout = fit.layout;
        if fit.source == MaxModelLenSource::LongestThatFits {
            notes.push(Note::ContextCut {
                full: model.max_position_embeddings,
                max_model_len: fit.max_model_len,
            });
        }
        let gpus = self.gpus_per_node(options);
        match hardware.shape(gpus) {
            Some(shape) if gpus != hardware.node.gpus => notes.push(Note::NodeShape {
                gpus: shape.gpus,
                gpu: hardware.name.clone(),
                machine_type: shape.machine_type,
            }),
            None => notes.push(Note::UnlistedNodeShape {
                hardware: hardware.id.clone(),
                gpus,
            }),
            Some(_) => {}
        }
        if let Some(exact) = model.checkpoint_bytes {
            notes.push(Note::ExactCheckpoint {
                exact,
                computed: super::weights::weight_bytes(model),
            });
        }
        if fit.expert_parallel && options.expert_parallel == ExpertParallel::Auto {
            notes.push(Note::ExpertParallelNeeded { layout });
        }
        if layout.tp_spans_nodes() {
            notes.push(Note::TensorParallelSpansNodes { layout });
        }
        if layout.tensor_parallel_size > 1
            && hardware.gpu.interconnect.kind == InterconnectKind::Pcie
        {
            notes.push(Note::TensorParallelOverPcie {
                gpu: hardware.name.clone(),
            });
        }
        let moe = matches!(model.mlp, Mlp::Moe { .. });
        // FP8 weights (and, as before, every older format) on a GPU without FP8 units; the
        // 4-bit formats below have notes of their own.
        let fp8_like = model.quantization.as_ref().is_some_and(|q| {
            !matches!(
                q,
                Quantization::CompressedTensors { .. } | Quantization::ModeloptFp4 { .. }
            )
        });
        if fp8_like && !hardware.gpu.native_fp8 {
            notes.push(Note::Fp8WeightOnly {
                gpu: hardware.name.clone(),
                compute_capability: hardware.gpu.compute_capability.clone(),
            });
            if moe {
                notes.push(Note::Fp8MoeNeedsMarlin);
            }
        }
        if model.quantization == Some(Quantization::Mxfp4) && hardware.gpu.sm() < 90 {
            notes.push(Note::Mxfp4NeedsMarlin {
                compute_capability: hardware.gpu.compute_capability.clone(),
            });
        }
        // vLLM's FP4 GEMMs need SM100 (`init_nvfp4_linear_kernel` and the NVFP4 MoE oracle
        // fall back to Marlin below it: `kernels/linear/__init__.py`,
        // `fused_moe/oracle/nvfp4.py`, v0.28.0).
        if matches!(
            model.quantization,
            Some(
                Quantization::ModeloptFp4 { .. }
                    | Quantization::Fp8 {
                        moe_quant_algo: Some(crate::profile::MoeQuantAlgo::Nvfp4),
                        ..
                    }
            )
        ) && hardware.gpu.sm() < 100
        {
            notes.push(Note::Nvfp4WeightOnly {
                gpu: hardware.name.clone(),
                compute_capability: hardware.gpu.compute_capability.clone(),
            });
        }
        let checkpoint_fp8_kv = options.kv_cache_dtype == KvCacheDtype::Auto
            && model
                .quantization
                .as_ref()
                .and_then(Quantization::kv_cache_bytes)
                .is_some();
        if checkpoint_fp8_kv {
            notes.push(Note::CheckpointFp8KvCache);
        }
        if (options.kv_cache_dtype == KvCacheDtype::Fp8 || checkpoint_fp8_kv)
            && matches!(model.attention, Attention::Mla { .. })
        {
            notes.push(Note::Fp8KvWithMla);
        }
        if model.vision_tower.is_some() {
            let tp = layout.tensor_parallel_size;
            let bytes: u128 = super::weights::vision_tensors(model, tp)
                .iter()
                .map(|t| t.bytes_per_rank(model, tp))
                .sum();
            notes.push(Note::VisionTower {
                bytes_per_gpu: u64::try_from(bytes).unwrap_or(u64::MAX),
            });
        }
        match (options.speculative_mtp, model.num_nextn_predict_layers) {
            (_, 0) => {}
            (None, layers) => notes.push(Note::MtpNotLoaded { layers }),
            (Some(tokens), layers) => notes.push(Note::SpeculativeMtp { layers, tokens }),
        }
        if let Attention::Mla {
            indexer: Some(_), ..
        } = model.attention
        {
            notes.push(Note::UnverifiedArchitecture {
                feature: "DeepSeek Sparse Attention (sparse MLA with a lightning indexer)",
                detail: "its KV layout (latent and indexer key in one group of 64-token blocks, \
                         IndexCache's shared layers without the key) follows vLLM's code and a \
                         GLM-5.2 serving note's KV capacity (-0.7 % at 300K context); its \
                         weights are unverified, and its reserve holds vLLM's workspace sized by \
                         max_model_len, though a refused GLM-5.2 start at 1M context reported \
                         about 5 GiB less KV memory than lwsplan plans at its likely \
                         utilization (unexplained)",
            });
        }
        if matches!(model.attention, Attention::CompressedSparseMla { .. }) {
            notes.push(Note::UnverifiedArchitecture {
                feature: "DeepSeek-V4 compressed sparse attention",
                detail: "its KV layout (compressed latents and indexer keys in 256-token blocks, \
                         sliding windows and compressor states in their own groups, FP8 \
                         fp8_ds_mla entries whatever --kv-cache-dtype says on FlashMLA) \
                         reproduces vLLM's start-up check of vllm-project/vllm#44376; weights \
                         and the activation reserve are unverified",
            });
        }
        if let Some(mixer) = &model.linear_attention {
            let pages = super::kv::state_pages(options);
            notes.push(Note::LinearAttentionState {
                pages: pages + super::kv::CacheKind::of_mixer(Some(mixer)).checkpoint_pages(pages),
            });
            notes.push(match mixer {
                crate::profile::LinearAttention::GatedDeltaNet { .. } => {
                    Note::UnverifiedArchitecture {
                        feature: "gated DeltaNet (linear attention)",
                        detail: "the KV layout reproduces vLLM 0.19.0's log for Qwen3.5-27B \
                                 (vllm-project/vllm#40691); weights and the activation reserve \
                                 are unverified",
                    }
                }
                crate::profile::LinearAttention::Mamba2 { .. } => Note::UnverifiedArchitecture {
                    feature: "Mamba-2 (NemotronH)",
                    detail: "its state shapes, block size and weights follow vLLM's code \
                             (MambaMixer2, nemotron_h.py); the activation reserve is unverified",
                },
                crate::profile::LinearAttention::KimiDeltaAttention { .. } => {
                    Note::UnverifiedArchitecture {
                        feature: "Kimi Delta Attention (linear attention) with MLA layers",
                        detail: "the state page, hybrid block size and groups reproduce a vLLM \
                                 0.11 log of Kimi-Linear at TP 2 (vllm-project/vllm#28228); \
                                 weights, the activation reserve and a vision tower (an imported \
                                 config's is not counted) are unverified",
                    }
                }
            });
        }
        for (kind, id, sources) in [
            ("model", &model.id, model.sources.is_empty()),
            ("hardware", &hardware.id, hardware.sources.is_empty()),
        ] {
            if sources {
                notes.push(Note::Unsourced {
                    kind,
                    id: id.clone(),
                });
            }
        }
        let version = options.vllm_version();
        if options.vllm_version.is_none() && options.launcher == super::Launcher::Ray {
            notes.push(Note::RayImageVersion { version });
        }
        if version > super::version::DEFAULT {
            notes.push(Note::NewerThanKnown {
                version,
                known: super::version::DEFAULT,
            });
        }
        if layout.data_parallel_size > 1 && layout.nodes > 1 {
            notes.push(Note::DataParallelAllToAll {
                nodes: layout.nodes,
            });
        }
        if layout.decode_context_parallel_size > 1 {
            notes.push(Note::DecodeContextParallel {
                size: layout.decode_context_parallel_size,
            });
        }
        if fit.at_risk {
            notes.push(self.may_not_start(fit, options));
        }
        if let Some(note) = self.graph_headroom(options) {
            notes.push(note);
        }
        if fit.max_model_len < 4096 {
            notes.push(Note::ShortContext {
                max_model_len: fit.max_model_len,
            });
        }
        notes
    }

    /// The tightest stage of a fit at risk, for [`Note::MayNotStart`].
    fn may_not_start(&self, fit: &Fit, options: &PlanOptions) -> Note {
        if options.kv_cache_memory_bytes.is_some() {
            let budget =
                super::search::vllm_budget(self.hardware.gpu.memory_bytes, self.model, options);
            let spare = |s: &super::Stage| {
                budget.saturating_sub(
                    s.weight_bytes_per_gpu + s.reserve.total() + s.kv_cache_available_bytes_per_gpu,
                )
            };
            let tightest = fit
                .stages
                .iter()
                .min_by_key(|s| spare(s) as i128 - s.reserve.band_bytes as i128)
                .expect("PP ≥ 1");
            return Note::FixedKvCacheMayNotFit {
                stage: tightest.index,
                spare_bytes: spare(tightest),
                band_bytes: tightest.reserve.band_bytes,
            };
        }
        let in_flight = super::kv::in_flight_tokens(
            options,
            fit.layout.pipeline_parallel_size,
            options
                .scheduler_limits(self.hardware)
                .max_num_batched_tokens,
        );
        let spare = |s: &super::Stage| {
            let need =
                super::search::StageKv::of(&fit.kv, s).need(&fit.kv, fit.max_model_len, in_flight);
            s.kv_cache_available_bytes_per_gpu.saturating_sub(need)
        };
        let tightest = fit
            .stages
            .iter()
            .min_by_key(|s| spare(s) as i128 - s.reserve.band_bytes as i128)
            .expect("PP ≥ 1");
        Note::MayNotStart {
            stage: tightest.index,
            spare_bytes: spare(tightest),
            band_bytes: tightest.reserve.band_bytes,
        }
    }

    /// Before CUDA-graph profiling, whether the headroom above the budget holds the graphs and
    /// the sampler's second warm-up ([`reserve::HEADROOM_SLACK`]).
    fn graph_headroom(&self, options: &PlanOptions) -> Option<Note> {
        let version = options.vllm_version();
        // A fixed cache's budget already leaves the graphs out (`fixed_kv_budget`).
        if super::version::CUDA_GRAPH_PROFILING.in_version(version)
            || options.kv_cache_memory_bytes.is_some()
        {
            return None;
        }
        let memory = self.hardware.gpu.memory_bytes;
        let headroom = memory - super::search::budget(memory, options.gpu_memory_utilization);
        let graphs = reserve::cuda_graph_estimate(self.model);
        let needed = graphs + reserve::HEADROOM_SLACK;
        (headroom < needed).then(|| Note::GraphHeadroom {
            version,
            headroom_bytes: headroom,
            graph_bytes: graphs,
            utilization: ((memory - needed) as f64 / memory as f64 * 100.0).floor() / 100.0,
        })
    }

    /// Why nothing fits: the closest miss, and what would fit instead.
    pub(crate) fn infeasible(
        &self,
        options: &PlanOptions,
        rejected: &[(Layout, Rejection)],
    ) -> Infeasible {
        let closest = rejected
            .iter()
            .min_by_key(|(l, r)| (r.priority(), !l.is_recommended(), r.short_bytes(), l.gpus()))
            .cloned();
        let forced = options.is_forced();
        let remedy = if let Some((_, Rejection::NoAttentionBackend { .. })) = &closest {
            Remedy::NewerGpu
        } else if forced {
            match self.unforced_layout(options) {
                Some(layout) if options.nodes.is_some_and(|n| n < layout.nodes) => {
                    Remedy::MoreNodes { layout }
                }
                Some(layout) => Remedy::Instead { layout },
                None => Remedy::NothingFits,
            }
        } else if options.max_model_len != MaxModelLen::Auto {
            Remedy::ShorterContext
        } else {
            Remedy::LargerGpu
        };
        Infeasible {
            model: self.model.id.clone(),
            weight_bytes: self.weight_total(),
            hardware: format!("{} × {}", self.gpus_per_node(options), self.hardware.name),
            forced,
            pinned: pinned(options),
            closest,
            remedy,
        }
    }
}

/// The sizes `options` pin, in words.
fn pinned(options: &PlanOptions) -> String {
    let parts: Vec<String> = [
        ("TP", options.tensor_parallel_size),
        ("PP", options.pipeline_parallel_size),
        ("DP", options.data_parallel_size),
        ("DCP", options.decode_context_parallel_size),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.map(|v| format!("{name} {v}")))
    .chain(options.nodes.map(|n| format!("{n} node(s)")))
    .chain(options.gpus_per_node.map(|g| format!("{g} GPUs per node")))
    .collect();
    if parts.is_empty() {
        "the requested sizes".to_string()
    } else {
        parts.join(", ")
    }
}
