//! Speed of the pipeline's stages, measured with divan: `cargo bench`.
//!
//! Budgets (README "Performance"): the full catalog sweep (plan + render + validate of every
//! built-in model × hardware pair) under 100 ms; validation reuses one compiled CRD validator;
//! one plan with a workload under 1 ms; a 64-concurrency sweep of the candidate layouts (what
//! `plan --chart` draws) under 100 ms.

use lwsplan::{Catalog, Manifests, Plan, PlanOptions, Planner, RenderOptions, Renderer};

fn main() {
    // Build the catalog and the CRD validator once, outside every measurement.
    Catalog::builtin();
    lwsplan::machinery::validator();
    divan::main();
}

fn deepseek_on_h100() -> Plan {
    let catalog = Catalog::builtin();
    Planner::new(
        catalog.model("deepseek-r1").unwrap(),
        catalog.hardware("h100-80gb").unwrap(),
    )
    .plan(&PlanOptions::default())
    .unwrap()
}

/// Plan one deployment: DeepSeek-R1 on 8 × H100 (searches every layout up to 64 nodes).
#[divan::bench]
fn plan_one() -> Plan {
    deepseek_on_h100()
}

/// Plan each of the hybrid and sparse-attention built-ins on 8 × H200 (budget: 1 ms each).
#[divan::bench(args = ["qwen3.5-397b-a17b", "glm-5.1-fp8", "deepseek-v3.2", "minimax-m2.5"])]
fn plan_next_generation(id: &str) -> Plan {
    let catalog = Catalog::builtin();
    Planner::new(
        catalog.model(id).unwrap(),
        catalog.hardware("h200-141gb").unwrap(),
    )
    .plan(&PlanOptions::default())
    .unwrap()
}

/// Every built-in model's id, for [`plan_every_builtin`].
fn builtin_models() -> Vec<&'static str> {
    Catalog::builtin()
        .models()
        .iter()
        .map(|m| m.id.as_str())
        .collect()
}

/// Plan each built-in model with default options on the hardware that serves the next
/// generation, 8 × H200 (budget: 1 ms each, issue 19).
#[divan::bench(args = builtin_models())]
fn plan_every_builtin(id: &str) -> Result<Plan, lwsplan::Error> {
    let catalog = Catalog::builtin();
    Ok(
        Planner::new(catalog.model(id)?, catalog.hardware("h200-141gb")?)
            .plan(&PlanOptions::default())?,
    )
}

/// Plan one deployment with a workload: every layout that fits also gets its throughput and
/// latency estimate, and the objective ranks them.
#[divan::bench]
fn plan_one_with_workload() -> Plan {
    let catalog = Catalog::builtin();
    Planner::new(
        catalog.model("deepseek-r1").unwrap(),
        catalog.hardware("h100-80gb").unwrap(),
    )
    .plan(&PlanOptions {
        workload: Some(lwsplan::plan::Workload::closed(2048, 512, 256)),
        objective: lwsplan::plan::Objective::Throughput,
        ..PlanOptions::default()
    })
    .unwrap()
}

/// The data behind `plan --chart`: DeepSeek-R1 on H100, every candidate layout (up to
/// `SWEEP_MAX_SERIES`) estimated at 64 concurrencies, 1 to 1024. Budget: under 100 ms.
#[divan::bench]
fn sweep_64_concurrencies() -> lwsplan::plan::Sweep {
    let catalog = Catalog::builtin();
    let concurrencies: Vec<u64> = (1..=64).map(|i| i * 16).collect();
    Planner::new(
        catalog.model("deepseek-r1").unwrap(),
        catalog.hardware("h100-80gb").unwrap(),
    )
    .sweep(
        &PlanOptions {
            workload: Some(lwsplan::plan::Workload::closed(2048, 512, 256)),
            objective: lwsplan::plan::Objective::Throughput,
            ..PlanOptions::default()
        },
        &concurrencies,
    )
    .unwrap()
}

/// Plan every built-in model × hardware pair, and then every layout that fits, forced.
#[divan::bench]
fn plan_catalog_every_feasible_layout() -> usize {
    let catalog = Catalog::builtin();
    let mut plans = 0;
    for model in catalog.models() {
        for hardware in catalog.hardware_profiles() {
            let planner = Planner::new(model, hardware);
            let Ok(plan) = planner.plan(&PlanOptions::default()) else {
                continue;
            };
            plans += 1;
            for alternative in plan
                .alternatives
                .iter()
                .filter(|a| a.kv_cache_tokens.is_some())
            {
                let forced = PlanOptions {
                    tensor_parallel_size: Some(alternative.layout.tensor_parallel_size),
                    pipeline_parallel_size: Some(alternative.layout.pipeline_parallel_size),
                    ..PlanOptions::default()
                };
                plans += usize::from(planner.plan(&forced).is_ok());
            }
        }
    }
    plans
}

/// Render and validate one deployment.
#[divan::bench]
fn render_and_validate_one(bencher: divan::Bencher) {
    let plan = deepseek_on_h100();
    let renderer = Renderer::new(RenderOptions::default()).unwrap();
    bencher.bench_local(|| renderer.render(&plan).unwrap());
}

/// Plan, render and validate every built-in model × hardware pair (the full catalog sweep).
#[divan::bench]
fn catalog_sweep_plan_render_validate() -> Vec<Manifests> {
    let catalog = Catalog::builtin();
    let gke = Renderer::new(RenderOptions::default()).unwrap();
    // Node types without a GKE accelerator label (B300, H20) render for the NVIDIA platform.
    let nvidia = Renderer::new(RenderOptions {
        platform: lwsplan::Platform::Nvidia,
        ..RenderOptions::default()
    })
    .unwrap();
    let mut out = Vec::new();
    for model in catalog.models() {
        for hardware in catalog.hardware_profiles() {
            let renderer = if hardware.labels.gke_accelerator.is_empty() {
                &nvidia
            } else {
                &gke
            };
            if let Ok(plan) = Planner::new(model, hardware).plan(&PlanOptions::default()) {
                out.push(renderer.render(&plan).unwrap());
            }
        }
    }
    out
}

/// Validate a 100-document manifest file (50 LeaderWorkerSet + Service pairs).
#[divan::bench]
fn validate_100_documents(bencher: divan::Bencher) {
    let catalog = Catalog::builtin();
    let mut stream = String::new();
    // The default (GKE) platform renders node types that carry a GKE accelerator label.
    let pairs: Vec<_> = catalog
        .models()
        .iter()
        .flat_map(|m| catalog.hardware_profiles().iter().map(move |h| (m, h)))
        .filter(|(_, h)| !h.labels.gke_accelerator.is_empty())
        .filter_map(|(m, h)| Planner::new(m, h).plan(&PlanOptions::default()).ok())
        .collect();
    for i in 0..50 {
        let plan = &pairs[i % pairs.len()];
        let options = RenderOptions {
            name: format!("vllm-{i}"),
            ..RenderOptions::default()
        };
        let manifests = Renderer::new(options).unwrap().render(plan).unwrap();
        if !stream.is_empty() {
            stream.push_str("---\n");
        }
        stream.push_str(&manifests.to_yaml().unwrap());
    }
    assert_eq!(stream.matches("\nkind: ").count(), 100, "100 documents");
    bencher.bench(|| {
        let problems = lwsplan::validate::validate_yaml(&stream);
        assert!(problems.is_empty());
    });
}

/// What every process pays once: parse the embedded strict CRD schema and compile it.
#[divan::bench]
fn build_crd_validator() -> jsonschema::Validator {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&lwsplan::machinery::strict_schema())
        .unwrap()
}

/// `check-log` on a hostile log: 4 MiB lines of escape characters (raw and as a terminal copy
/// shows them). Reading a log is linear in its size; issue 21 measured 103 s for a 400 KB line
/// when it was not. Budget: well under a second for the 16 MiB `check-log` reads at most.
#[divan::bench(args = ["\u{1b}", "^[[", "\u{1b}[0;3"])]
fn parse_log_of_escape_lines(bencher: divan::Bencher, unit: &str) {
    let line = unit.repeat((4 << 20) / unit.len());
    let text = format!("{line}\nModel loading took 12.56 GiB memory\n{line}\n");
    bencher.bench(|| lwsplan::calibrate::StartupLog::parse(divan::black_box(&text)));
}
