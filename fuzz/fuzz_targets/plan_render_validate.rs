//! Structured inputs through the whole pipeline: every built-in model and hardware profile,
//! arbitrary plan options and render strings. A plan that renders must validate and read back
//! as the same objects; nothing may panic.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use lwsplan::plan::{ExpertParallel, KvCacheDtype, Launcher, MaxModelLen};
use lwsplan::render::EnvVar;
use lwsplan::{Catalog, PlanOptions, Planner, RenderOptions, Renderer};

#[derive(Debug, Arbitrary)]
struct Input {
    model: u8,
    hardware: u8,
    utilization: u16,
    fp8_kv: bool,
    ray: bool,
    max_model_len: Option<u32>,
    gpus_per_node: Option<u8>,
    nodes: Option<u8>,
    tensor_parallel_size: Option<u8>,
    pipeline_parallel_size: Option<u8>,
    expert_parallel: u8,
    replicas: Option<u8>,
    name: String,
    image: Option<String>,
    model_source: Option<String>,
    env_value: String,
    arg: String,
    annotation: String,
}

fuzz_target!(|input: Input| {
    let catalog = Catalog::builtin();
    let model = &catalog.models()[usize::from(input.model) % catalog.models().len()];
    let hardware = &catalog.hardware_profiles()
        [usize::from(input.hardware) % catalog.hardware_profiles().len()];
    let options = PlanOptions {
        gpu_memory_utilization: f64::from(input.utilization) / 1000.0,
        kv_cache_dtype: if input.fp8_kv {
            KvCacheDtype::Fp8
        } else {
            KvCacheDtype::Auto
        },
        max_model_len: input
            .max_model_len
            .map_or(MaxModelLen::Auto, |n| MaxModelLen::Tokens(u64::from(n))),
        gpus_per_node: input.gpus_per_node.map(u64::from),
        nodes: input.nodes.map(u64::from),
        tensor_parallel_size: input.tensor_parallel_size.map(u64::from),
        pipeline_parallel_size: input.pipeline_parallel_size.map(u64::from),
        launcher: if input.ray {
            Launcher::Ray
        } else {
            Launcher::Native
        },
        expert_parallel: match input.expert_parallel % 3 {
            0 => ExpertParallel::Auto,
            1 => ExpertParallel::On,
            _ => ExpertParallel::Off,
        },
        replicas: input.replicas.map(u64::from),
        ..PlanOptions::default()
    };
    let Ok(plan) = Planner::new(model, hardware).plan(&options) else {
        return;
    };
    assert_eq!(
        plan.layout.tensor_parallel_size * plan.layout.pipeline_parallel_size,
        plan.layout.nodes * plan.layout.gpus_per_pod
    );
    assert!(
        plan.stages
            .iter()
            .all(|s| s.weight_bytes_per_gpu + s.reserve.total() <= plan.budget_bytes_per_gpu)
    );
    let render = RenderOptions {
        name: input.name,
        image: input.image,
        model_source: input.model_source,
        env: vec![EnvVar {
            name: "FUZZ".into(),
            value: input.env_value,
            expand: false,
        }],
        vllm_args: vec![input.arg],
        annotations: [("example.com/fuzz".to_string(), input.annotation)].into(),
        ..RenderOptions::default()
    };
    let Ok(renderer) = Renderer::new(render) else {
        return;
    };
    let manifests = match renderer.render(&plan) {
        Ok(manifests) => manifests,
        // A refused option (e.g. the Ray launcher without an image) is fine; anything else,
        // such as rendered output that fails validation, is a bug.
        Err(lwsplan::RenderError::Option { .. }) => return,
        Err(e) => panic!("{e}"),
    };
    let yaml = manifests.to_yaml().expect("typed manifests serialize");
    let again = lwsplan::validate::parse_manifests(&yaml).expect("printed manifests validate");
    assert_eq!(again, manifests);
});
