//! Any bytes as a deployment file: an error, or a deployment that plans and renders (or is
//! refused) without a panic, and whose manifests validate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lwsplan::Deployment;
use lwsplan::ProfileRef;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(deployment) = Deployment::from_yaml(text, "fuzz") else {
        return;
    };
    // Stay off the file system: only built-in or inline profiles, no template directory.
    let reads_files = matches!(deployment.model, ProfileRef::File(_))
        || matches!(deployment.hardware, ProfileRef::File(_))
        || deployment.render.templates.is_some();
    if reads_files {
        return;
    }
    if let Ok((_, manifests)) = deployment.render() {
        let yaml = manifests.to_yaml().expect("typed manifests serialize");
        assert_eq!(lwsplan::validate::validate_yaml(&yaml), vec![]);
    }
});
