//! Every built-in model × hardware pair: the plan (or the error) and the rendered manifests for
//! both launchers, snapshotted in `snapshots/` and reviewed like code.

use lwsplan::plan::Launcher;
use lwsplan::{Catalog, PlanOptions, Planner, RenderOptions, Renderer};

use crate::settings;

/// Pairs that do not plan with default options (their `plan@` snapshot holds the error). None
/// today: every built-in model fits every built-in GPU on up to 64 nodes.
const EXPECTED_FAILURES: &[(&str, &str)] = &[];

#[test]
fn every_pair_plans_or_fails_clearly() {
    let catalog = Catalog::builtin();
    settings().bind(|| {
        for model in catalog.models() {
            for hardware in catalog.hardware_profiles() {
                let name = format!("plan@{}@{}", model.id, hardware.id);
                let snapshot = match Planner::new(model, hardware).plan(&PlanOptions::default()) {
                    Ok(plan) => plan.to_table(),
                    Err(e) => format!("error: {e}\n"),
                };
                insta::assert_snapshot!(name, snapshot);
            }
        }
    });
}

#[test]
fn every_plan_renders_valid_manifests_for_both_launchers() {
    let catalog = Catalog::builtin();
    settings().bind(|| {
        for model in catalog.models() {
            for hardware in catalog.hardware_profiles() {
                for launcher in [Launcher::Native, Launcher::Ray] {
                    let options = PlanOptions {
                        launcher,
                        ..PlanOptions::default()
                    };
                    let result = Planner::new(model, hardware).plan(&options);
                    let expected_failure =
                        EXPECTED_FAILURES.contains(&(model.id.as_str(), hardware.id.as_str()));
                    let plan = match (result, expected_failure) {
                        (Ok(plan), false) => plan,
                        (Err(_), true) => continue,
                        (Ok(_), true) => panic!(
                            "{} on {} plans: take it off EXPECTED_FAILURES",
                            model.id, hardware.id
                        ),
                        (Err(e), false) => {
                            panic!("{} on {} ({launcher:?}): {e}", model.id, hardware.id)
                        }
                    };
                    // Both launchers with their default image: the official one of the plan's
                    // release (for Ray, the newest that still ships Ray).
                    let render = RenderOptions::default();
                    let manifests = Renderer::new(render).unwrap().render(&plan).unwrap();
                    let yaml = manifests.to_yaml().unwrap();
                    // What `lwsplan validate` says of the output: nothing.
                    assert_eq!(lwsplan::validate::validate_yaml(&yaml), vec![]);
                    // GPU limit × size = TP × PP, in the typed objects.
                    let lws = &manifests.leader_worker_set.spec.leader_worker_template;
                    assert_eq!(
                        lws.size.unwrap() as u64 * plan.gpus_per_node,
                        plan.tensor_parallel_size * plan.pipeline_parallel_size
                    );
                    let launcher = match launcher {
                        Launcher::Native => "native",
                        Launcher::Ray => "ray",
                    };
                    let name = format!("render@{}@{}@{launcher}", model.id, hardware.id);
                    insta::assert_snapshot!(name, yaml);
                }
            }
        }
    });
}

#[test]
fn plan_json_has_the_documented_fields() {
    let catalog = Catalog::builtin();
    let plan = Planner::new(
        catalog.model("deepseek-r1").unwrap(),
        catalog.hardware("h100-80gb").unwrap(),
    )
    .plan(&PlanOptions::default())
    .unwrap();
    let json = serde_json::to_value(&plan).unwrap();
    for field in [
        "model",
        "hardware",
        "tensor_parallel_size",
        "pipeline_parallel_size",
        "nodes",
        "gpus_per_node",
        "parameters",
        "weight_bytes",
        "kv_cache_bytes_per_token",
        "kv_cache_tokens",
        "max_model_len",
        "stages",
        "shm_size_bytes",
    ] {
        assert!(json.get(field).is_some(), "missing {field}");
    }
    for stage in json["stages"].as_array().unwrap() {
        for field in ["layers", "weight_bytes_per_gpu", "kv_cache_bytes_per_gpu"] {
            assert!(stage.get(field).is_some(), "stage missing {field}");
        }
    }
    assert_eq!(json["gpus_per_node"], 8);
    assert_eq!(json["nodes"], 2);
}

/// gpt-oss-120b serves its full 131,072-token context on one H100: only its 18 full-attention
/// layers hold the whole sequence, the 18 sliding ones just their 128-token window.
#[test]
fn gpt_oss_serves_full_context_on_one_h100() {
    let catalog = Catalog::builtin();
    let plan = Planner::new(
        catalog.model("gpt-oss-120b").unwrap(),
        catalog.hardware("h100-80gb").unwrap(),
    )
    .plan(&PlanOptions::default())
    .unwrap();
    assert_eq!((plan.total_gpus, plan.max_model_len), (1, 131_072));
    // Capacity is reported per group: blocks / 2 groups × 16 tokens.
    assert_eq!(plan.kv_cache_tokens, plan.kv_cache_blocks / 2 * 16);
}

/// The published guide's layout: TP 8 × PP 2 on two 8 × H100 nodes for both models, and a
/// single 8-GPU node on H200.
#[test]
fn the_guide_models_plan_as_published() {
    let catalog = Catalog::builtin();
    for model in ["deepseek-r1", "llama-3.1-405b-instruct"] {
        let model = catalog.model(model).unwrap();
        let plan = |hw: &str| {
            Planner::new(model, catalog.hardware(hw).unwrap())
                .plan(&PlanOptions::default())
                .unwrap()
        };
        let h100 = plan("h100-80gb");
        assert_eq!(
            (
                h100.tensor_parallel_size,
                h100.pipeline_parallel_size,
                h100.nodes
            ),
            (8, 2, 2),
            "{}",
            model.id
        );
        let h200 = plan("h200-141gb");
        assert_eq!(
            (
                h200.tensor_parallel_size,
                h200.pipeline_parallel_size,
                h200.nodes
            ),
            (8, 1, 1),
            "{}",
            model.id
        );
    }
}

/// Every committed snapshot belongs to a test that still writes it: a renamed profile, fixture
/// or case leaves no stale file behind that nobody reviews.
#[test]
fn no_snapshot_is_unreferenced() {
    let catalog = Catalog::builtin();
    let root = crate::root();
    let cli_tests = std::fs::read_to_string(root.join("tests/it/cli.rs")).unwrap();
    let examples: Vec<String> = std::fs::read_dir(root.join("examples"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".yaml").map(str::to_string)
        })
        .collect();
    let corpus: Vec<String> = ["args", "deployment", "hardware", "manifest", "model"]
        .iter()
        .flat_map(|kind| {
            std::fs::read_dir(root.join("tests/fixtures/bad").join(kind))
                .unwrap()
                .map(move |e| format!("{kind}__{}", e.unwrap().file_name().to_string_lossy()))
        })
        .collect();
    let pair = |model: &str, hardware: &str| {
        catalog.model(model).is_ok() && catalog.hardware(hardware).is_ok()
    };
    let mut stale = Vec::new();
    for entry in std::fs::read_dir(root.join("snapshots")).unwrap() {
        let file = entry.unwrap().file_name().into_string().unwrap();
        let Some(name) = file.strip_suffix(".snap") else {
            stale.push(file);
            continue;
        };
        let (kind, rest) = name.split_once('@').unwrap_or((name, ""));
        let parts: Vec<&str> = rest.split('@').collect();
        let referenced = match (kind, parts.as_slice()) {
            ("plan", [model, hardware]) => pair(model, hardware),
            ("render", [model, hardware, "native" | "ray"]) => {
                pair(model, hardware) && !EXPECTED_FAILURES.contains(&(*model, *hardware))
            }
            ("corpus", [case]) => corpus.iter().any(|c| c == case),
            ("example", [example]) => examples.iter().any(|e| e == example),
            ("cli-error", [case]) => cli_tests.contains(&format!("\"{case}\"")),
            ("cli", [case]) => cli_tests.contains(&format!("\"cli@{case}\"")),
            ("schema", [case]) => cli_tests.contains(&format!("\"schema@{case}\"")),
            _ => false,
        };
        if !referenced {
            stale.push(file);
        }
    }
    assert!(stale.is_empty(), "snapshots no test writes: {stale:?}");
}
