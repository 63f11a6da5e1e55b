//! lwsplan as a Rust dependency: what a kube-rs operator relies on. Typed resources, inputs
//! checked by the planner itself, errors in library terms, manifests built from objects.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta, Time};
use lwsplan::manifest::{LeaderWorkerSet, LeaderWorkerSetStatus};
use lwsplan::plan::MaxModelLen;
use lwsplan::{
    Catalog, ErrorKind, Manifests, ModelProfile, OptionName, PlanError, PlanOptions, Planner,
    RenderOptions, Renderer, Report,
};
use proptest::prelude::*;

fn resource<T>() -> (&'static str, &'static str, &'static str)
where
    T: k8s_openapi::Resource + k8s_openapi::Metadata<Ty = ObjectMeta>,
{
    (T::API_VERSION, T::KIND, T::URL_PATH_SEGMENT)
}

#[test]
fn a_leader_worker_set_is_a_kubernetes_resource() {
    assert_eq!(
        resource::<LeaderWorkerSet>(),
        (
            "leaderworkerset.x-k8s.io/v1",
            "LeaderWorkerSet",
            "leaderworkersets"
        )
    );
    let lws = LeaderWorkerSet::default();
    assert_eq!(lws.api_version, "leaderworkerset.x-k8s.io/v1");
    assert_eq!(lws.kind, "LeaderWorkerSet");
    assert_eq!(k8s_openapi::kind(&lws), "LeaderWorkerSet");
}

/// A status read from a cluster survives deserialize → serialize (it used to be dropped).
#[test]
fn a_status_survives_a_round_trip() {
    let mut lws = rendered().leader_worker_set;
    lws.status = Some(LeaderWorkerSetStatus {
        conditions: Some(vec![Condition {
            type_: "Available".into(),
            status: "True".into(),
            reason: "AllGroupsReady".into(),
            message: "All replicas are ready".into(),
            last_transition_time: Time(Default::default()),
            observed_generation: Some(3),
        }]),
        hpa_pod_selector: Some("leaderworkerset.sigs.k8s.io/name=x".into()),
        observed_generation: Some(3),
        ready_replicas: Some(1),
        replicas: Some(1),
        updated_replicas: Some(1),
    });
    let json = serde_json::to_string(&lws).unwrap();
    assert!(json.contains("\"readyReplicas\":1"), "{json}");
    let back: LeaderWorkerSet = serde_json::from_str(&json).unwrap();
    assert_eq!(back, lws);
    let yaml = lwsplan::yaml::to_string(&lws).unwrap();
    let back: LeaderWorkerSet = lwsplan::yaml::from_str(&yaml).unwrap();
    assert_eq!(back.status, lws.status);
}

fn rendered() -> Manifests {
    let catalog = Catalog::builtin();
    let plan = Planner::new(
        catalog.model("llama-3.1-8b-instruct").unwrap(),
        catalog.hardware("h100-80gb").unwrap(),
    )
    .plan(&PlanOptions::default())
    .unwrap();
    Renderer::new(RenderOptions::default())
        .unwrap()
        .render(&plan)
        .unwrap()
}

/// Objects from a cluster (or built in code) are validated as objects, no YAML round trip.
#[test]
fn manifests_from_objects_validate() {
    let rendered = rendered();
    let manifests = Manifests::new(rendered.leader_worker_set.clone(), rendered.service.clone());
    assert!(lwsplan::validate(&manifests).is_empty());
    let mut broken = manifests.clone();
    broken.leader_worker_set.spec.leader_worker_template.size = Some(0);
    assert!(!lwsplan::validate(&broken).is_empty());
}

fn deserialized_model(attention: &str) -> ModelProfile {
    lwsplan::yaml::from_str(&format!(
        "id: custom\nhf_repo: example/custom\narchitecture: LlamaForCausalLM\n\
         num_hidden_layers: 32\nhidden_size: 4096\nvocab_size: 128256\n\
         max_position_embeddings: 131072\ntie_word_embeddings: false\ntorch_dtype: bfloat16\n\
         attention: {attention}\nmlp: {{kind: dense, intermediate_size: 14336}}\nsources: []\n"
    ))
    .unwrap()
}

/// A profile deserialized without its checks (an operator's custom resource) is invalid input
/// when planned, named by its field: never a panic, never "infeasible".
#[test]
fn planning_checks_a_deserialized_profile() {
    let model = deserialized_model(
        "{kind: gqa, num_attention_heads: 0, num_key_value_heads: 8, head_dim: 128}",
    );
    let hardware = Catalog::builtin().hardware("h100-80gb").unwrap();
    let error = Planner::new(&model, hardware)
        .plan(&PlanOptions::default())
        .unwrap_err();
    assert_eq!(lwsplan::Error::from(error).kind(), ErrorKind::InvalidInput);
    let error = Planner::new(&model, hardware)
        .plan(&PlanOptions::default())
        .unwrap_err();
    assert!(
        error.to_string().contains("attention.num_attention_heads"),
        "{error}"
    );
}

#[test]
fn planning_checks_the_hardware_too() {
    let model = Catalog::builtin().model("llama-3.1-8b-instruct").unwrap();
    let mut hardware = Catalog::builtin().hardware("h100-80gb").unwrap().clone();
    hardware.node.gpus = 0;
    let error = Planner::new(model, &hardware)
        .plan(&PlanOptions::default())
        .unwrap_err();
    assert!(matches!(error, PlanError::Profile(_)), "{error:?}");
    let mut hardware = Catalog::builtin().hardware("h100-80gb").unwrap().clone();
    hardware.gpu.memory_bytes = 0;
    let error = Planner::new(model, &hardware)
        .plan(&PlanOptions::default())
        .unwrap_err();
    assert_eq!(lwsplan::Error::from(error).kind(), ErrorKind::InvalidInput);
}

#[test]
fn a_zero_token_context_is_refused() {
    let catalog = Catalog::builtin();
    let error = Planner::new(
        catalog.model("llama-3.1-8b-instruct").unwrap(),
        catalog.hardware("h100-80gb").unwrap(),
    )
    .plan(&PlanOptions {
        max_model_len: MaxModelLen::Tokens(0),
        ..PlanOptions::default()
    })
    .unwrap_err();
    assert!(
        matches!(
            error,
            PlanError::InvalidOption {
                option: OptionName::MaxModelLen,
                ..
            }
        ),
        "{error:?}"
    );
}

/// The library names the field; the binary (inside `with_flags`) the flag.
#[test]
fn errors_name_fields_in_the_library_and_flags_in_the_cli() {
    let catalog = Catalog::builtin();
    let error = lwsplan::Error::from(
        Planner::new(
            catalog.model("llama-3.1-8b-instruct").unwrap(),
            catalog.hardware("h100-80gb").unwrap(),
        )
        .plan(&PlanOptions {
            gpu_memory_utilization: 5.0,
            ..PlanOptions::default()
        })
        .unwrap_err(),
    );
    let library = Report(&error).to_string();
    assert!(library.contains("gpu_memory_utilization"), "{library}");
    assert!(!library.contains("--gpu-memory-utilization"), "{library}");
    let cli = lwsplan::option::with_flags(|| Report(&error).to_string());
    assert!(cli.contains("--gpu-memory-utilization"), "{cli}");
    let (status, _, stderr) = crate::lwsplan(&[
        "plan",
        "--model",
        "llama-3.1-8b-instruct",
        "--hardware",
        "h100-80gb",
        "--gpu-memory-utilization",
        "5",
    ]);
    assert_eq!(status, 3);
    assert!(stderr.contains("--gpu-memory-utilization"), "{stderr}");
}

/// A deployment file's refused option is named by its key in the file.
#[test]
fn deployment_keys_come_from_the_option() {
    assert_eq!(
        OptionName::RdmaResource.key(),
        "render.network.rdma".to_string()
    );
    assert_eq!(OptionName::Replicas.key(), "plan.replicas");
    assert_eq!(OptionName::InputTokens.key(), "plan.workload.input_tokens");
}

fn count() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        1u64..8,
        1u64..200_000,
        Just(u64::MAX),
        Just(1u64 << 40)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Any deserialized profile and options plan or fail with an error: never a panic.
    #[test]
    fn planning_arbitrary_profiles_never_panics(
        layers in count(), hidden in count(), vocab in count(), context in count(),
        heads in count(), kv_heads in count(), head_dim in count(), intermediate in count(),
        experts in count(), top_k in count(), moe in any::<bool>(), mla in any::<bool>(),
        tp in proptest::option::of(count()), pp in proptest::option::of(count()),
        utilization in prop_oneof![Just(0.0f64), Just(0.9), Just(1.5), Just(f64::NAN)],
        max_model_len in prop_oneof![Just(MaxModelLen::Auto), count().prop_map(MaxModelLen::Tokens)],
    ) {
        let attention = if mla {
            format!("{{kind: mla, num_attention_heads: {heads}, q_lora_rank: {head_dim}, \
                     kv_lora_rank: {head_dim}, qk_nope_head_dim: {head_dim}, \
                     qk_rope_head_dim: {kv_heads}, v_head_dim: {head_dim}}}")
        } else {
            format!("{{kind: gqa, num_attention_heads: {heads}, num_key_value_heads: {kv_heads}, \
                     head_dim: {head_dim}}}")
        };
        let mlp = if moe {
            format!("{{kind: moe, intermediate_size: {intermediate}, n_routed_experts: {experts}, \
                     num_experts_per_tok: {top_k}, moe_intermediate_size: {intermediate}, \
                     n_shared_experts: {top_k}, first_k_dense_replace: {kv_heads}}}")
        } else {
            format!("{{kind: dense, intermediate_size: {intermediate}}}")
        };
        let yaml = format!(
            "id: p\nhf_repo: a/b\narchitecture: X\nnum_hidden_layers: {layers}\n\
             hidden_size: {hidden}\nvocab_size: {vocab}\nmax_position_embeddings: {context}\n\
             tie_word_embeddings: false\ntorch_dtype: bfloat16\nattention: {attention}\n\
             mlp: {mlp}\nsources: []\n");
        // Some shapes do not even deserialize (a missing MoE field): that is fine too.
        let Ok(model) = lwsplan::yaml::from_str::<ModelProfile>(&yaml) else { return Ok(()) };
        let hardware = Catalog::builtin().hardware("h100-80gb").unwrap();
        let options = PlanOptions {
            tensor_parallel_size: tp,
            pipeline_parallel_size: pp,
            gpu_memory_utilization: utilization,
            max_model_len,
            ..PlanOptions::default()
        };
        let _ = Planner::new(&model, hardware).plan(&options);
        let _ = Planner::new(&model, hardware).startup(&options);
    }
}
