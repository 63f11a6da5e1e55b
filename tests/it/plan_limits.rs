//! Options and rules that the catalog snapshots exercise only in passing, each with an
//! assertion aimed at it: `--max-ttft-ms`, DCP's release gate, routed experts that are not a
//! power of two, and what the snapshots alone guarded (DP sizing, the reserve's error band in
//! ranking, the cross-node NCCL allowance, collective ranks under DP).

use lwsplan::plan::{
    ExpertParallel, MaxModelLen, Objective, Strategy, Verdict, VllmVersion, Workload,
};
use lwsplan::profile::Mlp;
use lwsplan::{Catalog, ModelProfile, Plan, PlanError, PlanOptions, Planner};

fn planner(model: &str, hardware: &str) -> Planner<'static> {
    let catalog = Catalog::builtin();
    Planner::new(
        catalog.model(model).unwrap(),
        catalog.hardware(hardware).unwrap(),
    )
}

fn notes(plan: &Plan) -> Vec<String> {
    plan.notes.iter().map(|n| n.to_string()).collect()
}

/// `--max-ttft-ms` ranks the layouts that miss it last. Llama 3.1 70B on H100 with 16 requests
/// of 8000 + 256 tokens: the capacity choice, TP 4, takes longer to the first token than TP 8;
/// a limit between the two moves the choice to eight GPUs and says why TP 4 lost; a limit no
/// layout meets keeps the capacity choice and says so; without a workload, or as a number that
/// is not a positive time, the limit is refused.
#[test]
fn max_ttft_ranks_layouts_that_miss_it_last() {
    let planner = planner("llama-3.1-70b-instruct", "h100-80gb");
    let with = |limit: Option<f64>| {
        planner
            .plan(&PlanOptions {
                workload: Some(Workload::closed(8000, 256, 16)),
                max_ttft_ms: limit,
                ..PlanOptions::default()
            })
            .unwrap()
    };
    let free = with(None);
    assert_eq!(free.total_gpus, 4);
    let tp4 = free.performance.unwrap().ttft_ms;
    let tp8 = free
        .alternatives
        .iter()
        .find(|a| a.layout.tensor_parallel_size == 8 && a.layout.pipeline_parallel_size == 1)
        .and_then(|a| a.performance)
        .unwrap()
        .ttft_ms;
    assert!(tp8 < tp4, "TP 8 {tp8} ms, TP 4 {tp4} ms");

    let limited = with(Some((tp8 + tp4) / 2.0));
    let p = limited.performance.unwrap();
    assert!(p.ttft_ms <= (tp8 + tp4) / 2.0, "{p:?}");
    assert_eq!(limited.total_gpus, 8);
    let lost = limited
        .alternatives
        .iter()
        .find(|a| a.layout.gpus() == 4 && a.layout.tensor_parallel_size == 4)
        .unwrap();
    assert_eq!(lost.verdict, Verdict::Fits);
    assert_eq!(lost.reason, "misses the latency limits (estimated)");
    assert!(!notes(&limited).iter().any(|n| n.contains("latency limits")));

    // A limit is broken only when exceeded: TP 8's own estimate as the limit keeps TP 8, and
    // so does its time per output token as --max-tpot-ms (TP 8 is the fastest per token).
    let exact = with(Some(tp8));
    assert_eq!(exact.performance.unwrap().ttft_ms, tp8);
    assert_eq!(
        (exact.layout.tensor_parallel_size, exact.layout.nodes),
        (8, 1)
    );
    let tp8_tpot = free
        .alternatives
        .iter()
        .find(|a| a.layout.tensor_parallel_size == 8 && a.layout.pipeline_parallel_size == 1)
        .and_then(|a| a.performance)
        .unwrap()
        .tpot_ms;
    let exact_tpot = planner
        .plan(&PlanOptions {
            workload: Some(Workload::closed(8000, 256, 16)),
            max_tpot_ms: Some(tp8_tpot),
            ..PlanOptions::default()
        })
        .unwrap();
    assert_eq!(
        (
            exact_tpot.layout.tensor_parallel_size,
            exact_tpot.layout.pipeline_parallel_size,
            exact_tpot.layout.nodes
        ),
        (8, 1, 1),
        "met exactly on one node, not exceeded on two"
    );
    assert!(
        !notes(&exact_tpot)
            .iter()
            .any(|n| n.contains("latency limits"))
    );

    let unmet = with(Some(1.0));
    assert_eq!(
        unmet.layout, free.layout,
        "nothing meets it: capacity decides"
    );
    assert!(
        notes(&unmet).iter().any(
            |n| n.contains("no layout that fits meets the latency limits")
                && n.contains(&format!(
                    "{} ms to the first token",
                    unmet.performance.unwrap().ttft_ms
                ))
        ),
        "{:?}",
        notes(&unmet)
    );

    let no_workload = planner
        .plan(&PlanOptions {
            max_ttft_ms: Some(1000.0),
            ..PlanOptions::default()
        })
        .unwrap_err();
    assert!(
        no_workload.to_string().contains("need a workload"),
        "{no_workload}"
    );
    for bad in [0.0, -5.0, f64::NAN] {
        let err = planner
            .plan(&PlanOptions {
                workload: Some(Workload::closed(8000, 256, 16)),
                max_ttft_ms: Some(bad),
                ..PlanOptions::default()
            })
            .unwrap_err();
        assert!(
            matches!(
                err,
                PlanError::InvalidOption {
                    option: lwsplan::OptionName::MaxTtftMs,
                    ..
                }
            ),
            "{err}"
        );
    }
}

/// `--decode-context-parallel-size 8 --vllm-version 0.10.1` is refused (DCP is first in
/// v0.11.0, vllm PR #23734), by the library and on the command line, and plans from 0.11.0.
#[test]
fn decode_context_parallel_is_refused_before_vllm_0_11() {
    let planner = planner("deepseek-r1", "h200-141gb");
    let dcp8 = |version| PlanOptions {
        tensor_parallel_size: Some(8),
        decode_context_parallel_size: Some(8),
        vllm_version: Some(version),
        ..PlanOptions::default()
    };
    let err = planner
        .plan(&dcp8(VllmVersion(0, 10, 1)))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("vLLM 0.10.1 has no decode context parallelism"),
        "{err}"
    );
    let plan = planner.plan(&dcp8(VllmVersion(0, 11, 0))).unwrap();
    assert_eq!(plan.layout.decode_context_parallel_size, 8);

    let (code, stdout, stderr) = crate::lwsplan(&[
        "plan",
        "--model",
        "deepseek-r1",
        "--hardware",
        "h200-141gb",
        "--tensor-parallel-size",
        "8",
        "--decode-context-parallel-size",
        "8",
        "--vllm-version",
        "0.10.1",
    ]);
    assert_eq!(code, 4, "the plan's refusal: {stdout}{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains(
            "--decode-context-parallel-size: vLLM 0.10.1 has no decode context \
                         parallelism"
        ) && stderr.contains("What fits instead: TP 8 × PP 1"),
        "{stderr}"
    );
}

/// The Qwen3-30B-A3B config (tests/fixtures/hf) with 60 routed experts, the count of
/// Qwen1.5-MoE-A2.7B (https://huggingface.co/Qwen/Qwen1.5-MoE-A2.7B/blob/main/config.json):
/// TP 4 × DP 2 = 8 ranks would hold 7.5 experts each and is refused, though 60 divides both
/// TP 4 and DP 2; TP 2 × DP 2 = 4 ranks hold 15 each and plan.
#[test]
fn routed_experts_must_divide_tp_times_dp() {
    let path = crate::root().join("tests/fixtures/hf/Qwen3-30B-A3B/config.json");
    let mut model = ModelProfile::from_hf_config_file(&path, Some("Qwen/Qwen3-30B-A3B")).unwrap();
    let Mlp::Moe {
        n_routed_experts, ..
    } = &mut model.mlp
    else {
        panic!("Qwen3-30B-A3B is MoE")
    };
    *n_routed_experts = 60;
    let hardware = Catalog::builtin().hardware("h100-80gb").unwrap();
    let dp_ep = |tp, dp| PlanOptions {
        tensor_parallel_size: Some(tp),
        data_parallel_size: Some(dp),
        strategy: Strategy::DpEp,
        expert_parallel: ExpertParallel::On,
        ..PlanOptions::default()
    };
    let err = Planner::new(&model, hardware)
        .plan(&dp_ep(4, 2))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("60 routed experts do not split evenly over TP 4 × DP 2 = 8"),
        "{err}"
    );
    let plan = Planner::new(&model, hardware).plan(&dp_ep(2, 2)).unwrap();
    assert_eq!(
        (
            plan.layout.tensor_parallel_size,
            plan.layout.data_parallel_size
        ),
        (2, 2)
    );
}

/// DP sizing: a DP + EP group is TP × DP GPUs, each engine logs its own KV cache, and the
/// group holds DP times that. DeepSeek-R1 at TP 1 × DP 16 on H200: 16 GPUs on two nodes.
#[test]
fn data_parallel_groups_are_sized_by_tp_times_dp() {
    let plan = planner("deepseek-r1", "h200-141gb")
        .plan(&PlanOptions {
            tensor_parallel_size: Some(1),
            data_parallel_size: Some(16),
            strategy: Strategy::DpEp,
            expert_parallel: ExpertParallel::On,
            ..PlanOptions::default()
        })
        .unwrap();
    assert_eq!(plan.total_gpus, 16);
    assert_eq!((plan.layout.nodes, plan.layout.gpus_per_pod), (2, 8));
    assert!(plan.expert_parallel);
    assert_eq!(plan.group_kv_cache_tokens, 16 * plan.kv_cache_tokens);
    let chosen = plan
        .alternatives
        .iter()
        .find(|a| a.verdict == Verdict::Chosen)
        .unwrap();
    assert_eq!(chosen.kv_cache_tokens, Some(16 * plan.kv_cache_tokens));
}

/// The reserve's error band ranks a layout whose KV cache is within it of not fitting behind
/// one with room to spare. Llama 3.1 70B on H100 at a fixed 600-token context: TP 2 (vLLM's
/// recommended shape on a two-GPU pod) holds only ~600 tokens, inside the band, so TP 1 × PP 2
/// on the same two GPUs is chosen, and TP 2 is listed with the reason.
#[test]
fn the_error_band_ranks_a_layout_at_risk_last() {
    let plan = planner("llama-3.1-70b-instruct", "h100-80gb")
        .plan(&PlanOptions {
            max_model_len: MaxModelLen::Tokens(600),
            ..PlanOptions::default()
        })
        .unwrap();
    assert_eq!(plan.total_gpus, 2);
    assert_eq!(
        (
            plan.layout.tensor_parallel_size,
            plan.layout.pipeline_parallel_size
        ),
        (1, 2)
    );
    let tp2 = plan
        .alternatives
        .iter()
        .find(|a| a.layout.tensor_parallel_size == 2 && a.layout.gpus() == 2)
        .unwrap();
    assert_eq!(tp2.verdict, Verdict::Fits);
    assert_eq!(
        tp2.reason,
        "its KV cache is within the reserve's error band of not fitting"
    );

    // The band comes before the objective: at one request of 100 + 100 tokens TP 2 serves the
    // most output tokens per GPU of all, yet the throughput objective does not take it.
    let throughput = planner("llama-3.1-70b-instruct", "h100-80gb")
        .plan(&PlanOptions {
            max_model_len: MaxModelLen::Tokens(600),
            workload: Some(Workload::closed(100, 100, 1)),
            objective: Objective::Throughput,
            ..PlanOptions::default()
        })
        .unwrap();
    let per_gpu = |p: Option<lwsplan::plan::Performance>| p.unwrap().output_tokens_per_s_per_gpu;
    let tp2 = throughput
        .alternatives
        .iter()
        .find(|a| a.layout.tensor_parallel_size == 2 && a.layout.gpus() == 2)
        .unwrap();
    assert!(
        throughput
            .alternatives
            .iter()
            .filter(|a| a.performance.is_some())
            .all(|a| per_gpu(a.performance) <= per_gpu(tp2.performance)),
        "TP 2 serves the most per GPU"
    );
    assert!(per_gpu(throughput.performance) < per_gpu(tp2.performance));
    assert_eq!(
        tp2.reason,
        "its KV cache is within the reserve's error band of not fitting"
    );
}

/// A group spanning nodes reserves 1 GiB more non-torch memory per GPU for NCCL's network
/// buffers (`NON_TORCH_CROSS_NODE`, fitted to a TP 2 group across two A100 nodes): Llama 3.1
/// 70B at TP 4 × PP 2 on one 8-GPU node against the same layout on two 4-GPU nodes.
#[test]
fn a_group_across_nodes_reserves_nccl_network_buffers() {
    let planner = planner("llama-3.1-70b-instruct", "h100-80gb");
    let on = |gpus_per_node| {
        planner
            .plan(&PlanOptions {
                tensor_parallel_size: Some(4),
                pipeline_parallel_size: Some(2),
                gpus_per_node: Some(gpus_per_node),
                ..PlanOptions::default()
            })
            .unwrap()
    };
    let (one, two) = (on(8), on(4));
    assert_eq!((one.layout.nodes, two.layout.nodes), (1, 2));
    for (a, b) in one.stages.iter().zip(&two.stages) {
        assert_eq!(
            b.reserve.non_torch_bytes - a.reserve.non_torch_bytes,
            1 << 30,
            "stage {}",
            a.index
        );
        assert_eq!(b.reserve.activation_bytes, a.reserve.activation_bytes);
    }
}

/// Under DP + EP the experts' all-to-all spans TP × DP ranks, so a TP 1 engine with DP 8 holds
/// the multi-rank collective buffers a TP 1 engine alone does not: its non-torch reserve is
/// that of TP 2 on the same node, not that of TP 1. Qwen3-235B-A22B on H200.
#[test]
fn data_parallel_ranks_count_as_collective_ranks() {
    let planner = planner("qwen3-235b-a22b", "h200-141gb");
    let non_torch = |tp, dp| {
        let plan = planner
            .plan(&PlanOptions {
                tensor_parallel_size: Some(tp),
                data_parallel_size: Some(dp),
                strategy: if dp > 1 {
                    Strategy::DpEp
                } else {
                    Strategy::TpPp
                },
                expert_parallel: ExpertParallel::On,
                ..PlanOptions::default()
            })
            .unwrap();
        assert_eq!(plan.layout.nodes, 1);
        plan.stages[0].reserve.non_torch_bytes
    };
    let (tp4, tp8, tp1_dp8) = (non_torch(4, 1), non_torch(8, 1), non_torch(1, 8));
    assert_eq!(tp4, tp8, "any multi-rank group: the same buffers");
    assert_eq!(tp1_dp8, tp8, "DP 8 × TP 1 is an 8-rank collective");
}
