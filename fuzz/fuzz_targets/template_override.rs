//! Any text as a template override: the engine, bounded by fuel and an output cap, returns
//! manifests that validate or an error — never a panic, never a hang, never unbounded memory.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use lwsplan::{Catalog, Plan, PlanOptions, Planner, RenderOptions};

fn plan() -> &'static Plan {
    static PLAN: OnceLock<Plan> = OnceLock::new();
    PLAN.get_or_init(|| {
        let catalog = Catalog::builtin();
        Planner::new(
            catalog.model("llama-3.1-8b-instruct").unwrap(),
            catalog.hardware("h100-80gb").unwrap(),
        )
        .plan(&PlanOptions::default())
        .unwrap()
    })
}

fuzz_target!(|data: (bool, &str)| {
    let (which, text) = data;
    let name = if which {
        "service.yaml.j2"
    } else {
        "leaderworkerset.yaml.j2"
    };
    if let Ok(manifests) =
        lwsplan::machinery::render_with_templates(RenderOptions::default(), &[(name, text)], plan())
    {
        // Whatever renders was validated; it must read back as the same objects.
        let yaml = manifests.to_yaml().expect("valid manifests serialize");
        assert_eq!(lwsplan::validate::parse_manifests(&yaml).ok(), Some(manifests));
    }
});
