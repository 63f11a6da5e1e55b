//! The performance estimate's terms outside the regime the published benchmarks cover (every
//! benchmark fixture is one node, PP 1, DP 1), each against a figure computed by hand from the
//! estimate's documented constants and the plan's own memory figures, and the cost per million
//! output tokens. Everything goes through `Planner::plan` and `plan.performance`, so the tests
//! hold whatever shape `src/plan/performance.rs` takes inside.

use lwsplan::plan::{ExpertParallel, Performance, Strategy, Workload};
use lwsplan::profile::Network;
use lwsplan::{Catalog, Plan, PlanOptions, Planner};

/// The estimate's figures the expectations below are derived from, as `src/plan/performance.rs`
/// and `src/plan/fabric.rs` document them: HBM streams weights at 0.85 of its bandwidth on
/// Hopper, and paged attention reads the KV cache at that same rate there (measured on an H100);
/// a collective gets 0.82 of a link; over GPUDirect RDMA between nodes each GPU has 50 GB/s (one
/// 400 Gb/s NIC) and a small collective costs 47 µs of latency (the tests pin `--network rdma`).
const HBM_EFFICIENCY_HOPPER: f64 = 0.85;
const KV_READ_EFFICIENCY_HOPPER: f64 = 1.0;
const LINK_EFFICIENCY: f64 = 0.82;
const NETWORK_GB_PER_S_PER_GPU: f64 = 50.0;
const ALLREDUCE_LATENCY_MS: f64 = 0.047;

fn plan(model: &str, hardware: &str, options: PlanOptions) -> Plan {
    let catalog = Catalog::builtin();
    Planner::new(
        catalog.model(model).unwrap(),
        catalog.hardware(hardware).unwrap(),
    )
    .plan(&options)
    .unwrap()
}

fn performance(plan: &Plan) -> Performance {
    plan.performance.expect("a workload gives an estimate")
}

/// The estimate rounds each term to 0.01 ms.
fn assert_ms(actual: f64, expected: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= 0.011,
        "{what}: estimated {actual} ms, expected {expected:.3} ms by hand"
    );
}

/// With PP, vLLM keeps PP micro-batches in flight: each stage decodes `batch / PP` sequences
/// a step, and a token passes every stage. Llama 3.1 70B at TP 4 × PP 2 on H100 with 64
/// requests of 1000 + 1000 tokens: each stage's micro-batch is 32 sequences at a mean context
/// of 1000 + 1000 / 2 = 1500 tokens, and the step reads, twice over, one stage's weights plus
/// 32 × 1500 tokens of that stage's KV cache (at the weights' rate).
#[test]
fn pipeline_stages_decode_micro_batches_of_batch_over_pp() {
    let plan = plan(
        "llama-3.1-70b-instruct",
        "h100-80gb",
        PlanOptions {
            tensor_parallel_size: Some(4),
            pipeline_parallel_size: Some(2),
            workload: Some(Workload::closed(1000, 1000, 64)),
            ..PlanOptions::default()
        },
    );
    let p = performance(&plan);
    assert_eq!(plan.stages.len(), 2);
    assert_eq!(p.batch_per_engine, 64, "the KV cache holds all 64: {p:?}");
    assert!(!p.kv_cache_saturated);
    // 80 layers / 2 stages × 2 (K, V) × 8 KV heads / TP 4 × 128 × 2 bytes.
    assert_eq!(
        plan.stages[0].kv_cache_bytes_per_token,
        40 * 2 * 2 * 128 * 2
    );
    let hbm = 3350e9 * HBM_EFFICIENCY_HOPPER; // the H100 profile's 3.35 TB/s
    let micro = 64.0 / 2.0;
    let stage_ms = |s: &lwsplan::plan::Stage| {
        let kv = micro * 1500.0 * s.kv_cache_bytes_per_token as f64 / KV_READ_EFFICIENCY_HOPPER;
        (s.weight_bytes_per_gpu as f64 + kv) / hbm * 1e3
    };
    let slowest = plan.stages.iter().map(stage_ms).fold(0.0, f64::max);
    assert_ms(p.decode_step.hbm_ms, 2.0 * slowest, "HBM, two stages");
    // About 13.8 ms; a stage decoding the whole batch of 64 would read 15.1.
    assert!((13.6..13.9).contains(&p.decode_step.hbm_ms), "{p:?}");
}

/// DP + EP across nodes: at every MoE layer each routed token's hidden state goes to its
/// experts' ranks and back, over the network (the node's 8 × 25 GB/s, halved for the
/// all-to-all's two directions). Qwen3-235B-A22B at TP 1 × DP 16 on two H100 nodes, 128
/// requests of 1000 + 1000 tokens: each engine decodes 8 and prefills 3.5 prompt tokens a step
/// (a closed loop's wave: a request decodes through the prompts of the half of the other 7
/// prefilled after it, 1000 tokens each over its 1000 steps; its own prompt and those before it
/// are in its TTFT), 11.5 tokens × 8 experts × 4096 × 2 bytes × 2 directions = 1.4 MiB a layer,
/// plus two 47 µs latencies, over 94 layers.
#[test]
fn data_parallel_experts_exchange_tokens_over_the_network_across_nodes() {
    let plan = plan(
        "qwen3-235b-a22b",
        "h100-80gb",
        PlanOptions {
            tensor_parallel_size: Some(1),
            data_parallel_size: Some(16),
            strategy: Strategy::DpEp,
            expert_parallel: ExpertParallel::On,
            workload: Some(Workload::closed(1000, 1000, 128)),
            network: Some(Network::Rdma),
            ..PlanOptions::default()
        },
    );
    assert_eq!(
        (plan.layout.nodes, plan.layout.gpus_per_pod),
        (2, 8),
        "{plan:?}"
    );
    let p = performance(&plan);
    assert_eq!(p.batch_per_engine, 8);
    let tokens = 8.0 + 3.5;
    let bytes = tokens * 8.0 * 4096.0 * 2.0 * 2.0;
    let network = NETWORK_GB_PER_S_PER_GPU * 1e9 * LINK_EFFICIENCY * 8.0 / 2.0;
    let expected = 94.0 * (2.0 * ALLREDUCE_LATENCY_MS + bytes / network * 1e3);
    assert_ms(p.decode_step.network_ms, expected, "DP + EP all-to-all");
    // About 9.70 ms; half the bytes (or twice the bandwidth) would be 9.27.
    assert!((9.6..9.8).contains(&p.decode_step.network_ms), "{p:?}");
    assert_eq!(
        p.decode_step.interconnect_ms, 0.0,
        "TP 1: nothing on NVLink"
    );
}

/// TP across nodes: the two all-reduces a layer run over the network at each GPU's 50 GB/s
/// (0.82 of it achieved). Llama 3.1 405B at TP 16 on two H100 nodes, 8 requests of 1000 + 1000
/// tokens: 11.5 tokens a step (8 decodes, the prompt tokens of the half of the other 7 that a
/// wave prefills after a request) × 16384 × 2 bytes × 2 × 15/16 per all-reduce, plus 47 µs,
/// twice a layer over 126 layers.
#[test]
fn tensor_parallel_across_nodes_all_reduces_over_the_network() {
    let plan = plan(
        "llama-3.1-405b-instruct",
        "h100-80gb",
        PlanOptions {
            tensor_parallel_size: Some(16),
            pipeline_parallel_size: Some(1),
            workload: Some(Workload::closed(1000, 1000, 8)),
            network: Some(Network::Rdma),
            ..PlanOptions::default()
        },
    );
    assert_eq!(plan.layout.nodes, 2);
    let p = performance(&plan);
    assert_eq!(p.batch_per_engine, 8);
    let bytes = 11.5 * 16384.0 * 2.0 * 2.0 * 15.0 / 16.0;
    let network = NETWORK_GB_PER_S_PER_GPU * 1e9 * LINK_EFFICIENCY;
    let expected = 2.0 * 126.0 * (ALLREDUCE_LATENCY_MS + bytes / network * 1e3);
    assert_ms(p.decode_step.network_ms, expected, "TP all-reduces");
    // About 16.19 ms; twice the bandwidth would give 14.02.
    assert!((16.1..16.3).contains(&p.decode_step.network_ms), "{p:?}");
    assert_eq!(
        p.decode_step.interconnect_ms, 0.0,
        "the TP group is the network's"
    );
}

/// A KV cache holding exactly the requests in flight is not saturated; one request more is.
/// Llama 3.1 8B on one H100: the cache holds `kv_cache_tokens / 2000` requests of 1000 + 1000
/// tokens at full length.
#[test]
fn kv_saturation_starts_one_request_past_the_capacity() {
    let at = |concurrency| {
        plan(
            "llama-3.1-8b-instruct",
            "h100-80gb",
            PlanOptions {
                tensor_parallel_size: Some(1),
                pipeline_parallel_size: Some(1),
                workload: Some(Workload::closed(1000, 1000, concurrency)),
                ..PlanOptions::default()
            },
        )
    };
    let capacity = at(1).kv_cache_tokens / 2000;
    assert!(
        (100..1024).contains(&capacity),
        "{capacity}: below max_num_seqs"
    );
    let full = at(capacity);
    let p = performance(&full);
    assert_eq!(p.batch_per_engine, capacity);
    assert!(!p.kv_cache_saturated, "exactly full is not saturated");
    assert!(
        !full
            .notes
            .iter()
            .any(|n| n.to_string().contains("preempts"))
    );
    let over = performance(&at(capacity + 1));
    assert_eq!(over.batch_per_engine, capacity);
    assert_eq!(over.requests_per_engine, capacity + 1);
    assert!(over.kv_cache_saturated, "one past the capacity is");
}

/// Dollars per million output tokens: the GPU-hour price × every GPU of every replica, per
/// second, over the output tokens per second. Under a request rate the throughput is what
/// arrives, so the whole figure follows by hand: Llama 3.1 70B at TP 4 on H100 at $3 per GPU
/// hour is $12 an hour; 2 requests a second of 512 output tokens are 1024 tokens a second;
/// $12 / 3600 s / 1024 tokens × 10⁶ = $3.2552.
#[test]
fn cost_per_million_tokens_counts_every_gpu() {
    let options = |workload, replicas| PlanOptions {
        tensor_parallel_size: Some(4),
        pipeline_parallel_size: Some(1),
        replicas,
        workload: Some(workload),
        gpu_hour_price: Some(3.0),
        ..PlanOptions::default()
    };
    let rate = Workload {
        input_tokens: 1024,
        output_tokens: 512,
        concurrency: None,
        request_rate: Some(2.0),
    };
    let p = performance(&plan(
        "llama-3.1-70b-instruct",
        "h100-80gb",
        options(rate, None),
    ));
    assert!(!p.overloaded);
    assert_eq!(p.output_tokens_per_s, 1024.0);
    assert_eq!(p.cost_per_million_output_tokens, Some(3.26));
    // Two replicas at the same arrivals: twice the GPUs for the same tokens, twice the cost.
    let p = performance(&plan(
        "llama-3.1-70b-instruct",
        "h100-80gb",
        options(rate, Some(2)),
    ));
    assert_eq!(p.output_tokens_per_s, 1024.0);
    assert_eq!(p.cost_per_million_output_tokens, Some(6.51));
    // A closed loop: the same formula over the estimated throughput (4 GPUs × $3 = $12 an
    // hour; at the estimate's tokens per second).
    let closed = plan(
        "llama-3.1-70b-instruct",
        "h100-80gb",
        options(Workload::closed(1024, 1024, 64), None),
    );
    assert_eq!(closed.total_gpus, 4);
    let p = performance(&closed);
    let by_hand = 3.0 * 4.0 / 3600.0 / p.output_tokens_per_s * 1e6;
    let cost = p.cost_per_million_output_tokens.unwrap();
    assert!((cost - by_hand).abs() <= 0.006, "{cost} vs {by_hand}");
    // Without a price, no cost.
    let unpriced = plan(
        "llama-3.1-70b-instruct",
        "h100-80gb",
        PlanOptions {
            gpu_hour_price: None,
            ..options(Workload::closed(1024, 1024, 64), None)
        },
    );
    assert_eq!(performance(&unpriced).cost_per_million_output_tokens, None);
}

/// Prompts are prefilled in chunks, not spread over the steps: with two DeepSeek-V4-Flash
/// requests of 8192 + 512 tokens on two B200s, one step in about 600 carries the other
/// request's 8192-token prompt and the rest decode two tokens, which touch twice the experts one
/// does. The mean step reads under 1.5 times a lone request's HBM (0.8 ms; spreading the prompt
/// would put 16 prompt tokens in every step, read a third of the 256 experts each time and
/// stream 4.3 ms), and its TPOT pays the chunk step's prefill on top.
#[test]
fn prompt_chunks_come_in_their_own_steps() {
    let run = |concurrency| {
        performance(&plan(
            "deepseek-v4-flash",
            "b200",
            PlanOptions {
                tensor_parallel_size: Some(2),
                workload: Some(Workload::closed(8192, 512, concurrency)),
                ..PlanOptions::default()
            },
        ))
    };
    let (one, two) = (run(1), run(2));
    assert!(
        two.decode_step.hbm_ms < 1.5 * one.decode_step.hbm_ms,
        "{one:?}\n{two:?}"
    );
    assert!(two.tpot_ms > one.tpot_ms, "{one:?}\n{two:?}");
    assert!(two.decode_step.unoverlapped_ms > 0.0, "{two:?}");
}
