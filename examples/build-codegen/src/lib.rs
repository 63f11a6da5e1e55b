//! Ships the manifests lwsplan rendered and validated at build time.

/// The LeaderWorkerSet and Service for deploy/llama.yaml, as YAML.
pub const MANIFEST: &str = include_str!(concat!(env!("OUT_DIR"), "/llama.yaml"));

/// The plan behind it, as JSON.
pub const PLAN: &str = include_str!(concat!(env!("OUT_DIR"), "/llama.plan.json"));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_was_generated_from_the_deployment() {
        assert!(
            MANIFEST
                .starts_with("apiVersion: leaderworkerset.x-k8s.io/v1\nkind: LeaderWorkerSet\n")
        );
        assert!(MANIFEST.contains("  name: llama-405b\n  namespace: llm\n"));
        assert!(MANIFEST.contains("\n---\napiVersion: v1\nkind: Service\n"));
        assert!(PLAN.contains("\"tensor_parallel_size\": 8,"));
        assert!(PLAN.contains("\"pipeline_parallel_size\": 2,"));
    }
}
