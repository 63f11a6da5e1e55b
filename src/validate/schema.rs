//! The LeaderWorkerSet CRD's schema, made strict at build time (see [`crd`](super::crd)) and
//! compiled once per process.

use std::sync::OnceLock;

use serde_json::Value;

/// The vendored CRD's (kubernetes-sigs/lws v0.10.0; `vendor/lws/SOURCE.md`) strict `v1` schema,
/// converted by `build.rs`. Parsing this JSON takes a fraction of parsing the 1.3 MB CRD YAML.
const STRICT_SCHEMA: &str = include_str!(concat!(env!("OUT_DIR"), "/lws_v1_strict_schema.json"));

/// The compiled validator, built on first use and shared by every validation after it.
pub fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&strict_schema())
            .expect("the vendored CRD schema compiles")
    })
}

/// The strict JSON Schema of a LeaderWorkerSet, as validation uses it.
pub fn strict_schema() -> Value {
    serde_json::from_str(STRICT_SCHEMA).expect("build.rs wrote valid JSON")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_vendored_crd_compiles_and_is_strict() {
        let v = validator();
        assert!(!v.is_valid(&json!({"spec": {"leaderWorkerTemplate": {"sizee": 2}}})));
        let schema = strict_schema();
        assert_eq!(schema["additionalProperties"], json!(false));
        assert!(schema["properties"]["spec"]["properties"]["leaderWorkerTemplate"].is_object());
    }
}
