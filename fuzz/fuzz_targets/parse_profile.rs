//! Any bytes as a model or hardware profile: an error or a checked profile, never a panic;
//! a profile that parses plans (or is refused) without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lwsplan::{Catalog, HardwareProfile, ModelProfile, PlanOptions, Planner};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let catalog = Catalog::builtin();
    if let Ok(model) = ModelProfile::from_yaml(text, "fuzz") {
        let hardware = catalog.hardware("h100-80gb").unwrap();
        let _ = Planner::new(&model, hardware).plan(&PlanOptions::default());
    }
    if let Ok(hardware) = HardwareProfile::from_yaml(text, "fuzz") {
        let model = catalog.model("llama-3.1-8b-instruct").unwrap();
        let _ = Planner::new(model, &hardware).plan(&PlanOptions::default());
    }
});
