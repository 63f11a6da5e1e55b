//! The LeaderWorkerSet CRD's `openAPIV3Schema`, made strict and compiled once.
//!
//! A CRD schema is OpenAPI v3, not JSON Schema: objects with `properties` implicitly drop
//! unknown fields (the API server prunes them, or rejects them under
//! `fieldValidation=Strict`). To reject them here as a strict server does, every object that
//! lists its `properties` and does not opt out with `x-kubernetes-preserve-unknown-fields`
//! gets `additionalProperties: false`. Kubernetes extension keys are dropped; `nullable: true`
//! admits `null`.

use std::sync::OnceLock;

use serde_json::{Map, Value};

/// The vendored CRD (kubernetes-sigs/lws v0.10.0; see `vendor/lws/SOURCE.md`).
const CRD: &str = include_str!("../../vendor/lws/leaderworkerset.x-k8s.io_leaderworkersets.yaml");

/// The compiled validator, built on first use and shared by every validation after it.
pub fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let schema = strict_schema().expect("the vendored CRD has an openAPIV3Schema");
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&schema)
            .expect("the vendored CRD schema compiles")
    })
}

/// The `v1` schema of the CRD, converted to strict JSON Schema.
pub fn strict_schema() -> Result<Value, String> {
    let crd: Value = crate::yaml::from_str(CRD)?;
    let schema = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .and_then(|versions| {
            versions
                .iter()
                .find(|v| v.get("name").and_then(Value::as_str) == Some("v1"))
        })
        .and_then(|v| v.pointer("/schema/openAPIV3Schema"))
        .ok_or("the CRD has no v1 openAPIV3Schema")?;
    Ok(strict(schema))
}

fn strict(node: &Value) -> Value {
    match node {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                if key.starts_with("x-kubernetes-") || key == "nullable" {
                    continue;
                }
                // `properties` maps field names to schemas: keep every name, convert the schemas.
                let converted = if key == "properties" {
                    match value {
                        Value::Object(props) => Value::Object(
                            props.iter().map(|(k, v)| (k.clone(), strict(v))).collect(),
                        ),
                        other => other.clone(),
                    }
                } else {
                    strict(value)
                };
                out.insert(key.clone(), converted);
            }
            let preserve =
                map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
            if map.contains_key("properties")
                && !map.contains_key("additionalProperties")
                && !preserve
            {
                out.insert("additionalProperties".into(), Value::Bool(false));
            }
            if map.get("nullable") == Some(&Value::Bool(true))
                && let Some(Value::String(t)) = out.get("type").cloned()
            {
                out.insert(
                    "type".into(),
                    Value::Array(vec![Value::String(t), "null".into()]),
                );
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(strict).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_with_properties_reject_unknown_fields() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "object", "properties": {"b": {"type": "integer"}}}},
                            "x-kubernetes-map-type": "atomic"});
        let strict = strict(&schema);
        assert_eq!(strict["additionalProperties"], json!(false));
        assert_eq!(
            strict["properties"]["a"]["additionalProperties"],
            json!(false)
        );
        assert!(strict.get("x-kubernetes-map-type").is_none());
    }

    #[test]
    fn a_property_named_like_a_keyword_is_kept() {
        // `properties` may contain a field literally called `nullable` or `x-kubernetes-…`.
        let schema = json!({"type": "object", "properties": {"nullable": {"type": "boolean"}}});
        assert!(strict(&schema)["properties"].get("nullable").is_some());
    }

    #[test]
    fn the_vendored_crd_compiles() {
        let v = validator();
        assert!(!v.is_valid(&json!({"spec": {"leaderWorkerTemplate": {"sizee": 2}}})));
    }
}
