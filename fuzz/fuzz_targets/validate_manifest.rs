//! Any bytes as a manifest stream: a list of problems (possibly empty), never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = lwsplan::validate::validate_yaml(text);
    }
});
