//! Converting the LeaderWorkerSet CRD's `openAPIV3Schema` into strict JSON Schema.
//!
//! A CRD schema is OpenAPI v3, not JSON Schema: objects with `properties` implicitly drop
//! unknown fields (the API server prunes them, or rejects them under
//! `fieldValidation=Strict`). To reject them here as a strict server does, every object that
//! lists its `properties` and does not opt out with `x-kubernetes-preserve-unknown-fields`
//! gets `additionalProperties: false`. Kubernetes extension keys and descriptions are dropped;
//! `nullable: true` admits `null`.
//!
//! Needs only serde_json, because `build.rs` runs it: the conversion happens once, at build
//! time, and the binary embeds the result as compact JSON.

use serde_json::{Map, Value};

/// The `v1` schema of a parsed CRD, converted to strict JSON Schema with repeated subschemas
/// (the pod template is in it twice, the container schema six times) shared through `$defs`,
/// so the validator compiles each once.
pub fn strict_v1_schema(crd: &Value) -> Result<Value, String> {
    strict_v1_schema_unshared(crd).map(share_repeated)
}

/// Subschemas smaller than this (as compact JSON) are not worth a `$ref`.
const SHARE_MIN_BYTES: usize = 256;

/// Moves every subschema that occurs more than once into `$defs` and refers to it there.
fn share_repeated(mut schema: Value) -> Value {
    let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    count_subschemas(&schema, &mut counts);
    let mut names: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    for (text, count) in &counts {
        if *count > 1 {
            let name = format!("s{}", names.len());
            names.insert(text.clone(), name);
        }
    }
    let mut defs = Map::new();
    replace_shared(&mut schema, &names, &mut defs, true);
    if !defs.is_empty()
        && let Value::Object(root) = &mut schema
    {
        root.insert("$defs".into(), Value::Object(defs));
    }
    schema
}

/// Counts each schema object by its compact JSON (keys are sorted, so equal schemas are equal
/// text). The values of a `properties` map are schemas; the map itself is not.
fn count_subschemas(node: &Value, counts: &mut std::collections::BTreeMap<String, usize>) {
    let Value::Object(map) = node else {
        if let Value::Array(items) = node {
            items.iter().for_each(|item| count_subschemas(item, counts));
        }
        return;
    };
    let text = node.to_string();
    if text.len() >= SHARE_MIN_BYTES {
        *counts.entry(text).or_default() += 1;
    }
    for (key, value) in map {
        match (key.as_str(), value) {
            ("properties", Value::Object(props)) => {
                props.values().for_each(|p| count_subschemas(p, counts));
            }
            _ => count_subschemas(value, counts),
        }
    }
}

fn replace_shared(
    node: &mut Value,
    names: &std::collections::BTreeMap<String, String>,
    defs: &mut Map<String, Value>,
    root: bool,
) {
    if !root
        && node.is_object()
        && let Some(name) = names.get(&node.to_string())
    {
        if !defs.contains_key(name) {
            let mut shared = node.clone();
            // Shared schemas may themselves contain shared parts.
            replace_shared_children(&mut shared, names, defs);
            defs.insert(name.clone(), shared);
        }
        *node = serde_json::json!({ "$ref": format!("#/$defs/{name}") });
        return;
    }
    replace_shared_children(node, names, defs);
}

fn replace_shared_children(
    node: &mut Value,
    names: &std::collections::BTreeMap<String, String>,
    defs: &mut Map<String, Value>,
) {
    match node {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match (key.as_str(), value) {
                    ("properties", Value::Object(props)) => props
                        .values_mut()
                        .for_each(|p| replace_shared(p, names, defs, false)),
                    (_, value) => replace_shared(value, names, defs, false),
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| replace_shared(item, names, defs, false)),
        _ => {}
    }
}

/// The `v1` schema of a parsed CRD, converted to strict JSON Schema, each subschema in place.
pub fn strict_v1_schema_unshared(crd: &Value) -> Result<Value, String> {
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
                // Descriptions are two thirds of the CRD and validate nothing.
                if key.starts_with("x-kubernetes-") || key == "nullable" || key == "description" {
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
    fn repeated_subschemas_are_shared_once() {
        let props: Map<String, Value> = (0..30)
            .map(|i| (format!("field{i}"), json!({"type": "string"})))
            .collect();
        let big = json!({"type": "object", "properties": props});
        let schema = json!({"type": "object", "properties": {"l": big.clone(), "w": big.clone(), "small": {"type": "integer"}}});
        let shared = share_repeated(schema);
        assert_eq!(shared["properties"]["l"], json!({"$ref": "#/$defs/s0"}));
        assert_eq!(shared["properties"]["w"], json!({"$ref": "#/$defs/s0"}));
        assert_eq!(shared["properties"]["small"], json!({"type": "integer"}));
        assert_eq!(shared["$defs"]["s0"], big);
    }

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
}
