//! The LeaderWorkerSet API (`leaderworkerset.x-k8s.io/v1`), typed over k8s-openapi's pod types.
//!
//! Hand-written from `api/leaderworkerset/v1/leaderworkerset_types.go` (kubernetes-sigs/lws @
//! 060ab4da17eea1f0865fcbd3236bb1075e2cea32); the vendored CRD in `vendor/lws/` is the schema
//! these types are checked against. Optional fields are skipped when absent, so no `null`
//! reaches the output.

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::{Deserialize, Serialize};

/// `apiVersion` of the LeaderWorkerSet API.
pub const API_VERSION: &str = "leaderworkerset.x-k8s.io/v1";
/// API group of the LeaderWorkerSet API.
pub const GROUP: &str = "leaderworkerset.x-k8s.io";
/// Version of the LeaderWorkerSet API within its group.
pub const VERSION: &str = "v1";
/// `kind` of a LeaderWorkerSet.
pub const KIND: &str = "LeaderWorkerSet";
/// Label the LWS controller puts on every pod of a set, with the set's name as value.
pub const NAME_LABEL: &str = "leaderworkerset.sigs.k8s.io/name";

/// A group of pods (a leader and its workers) managed and restarted as one unit, replicated.
///
/// A Kubernetes resource in k8s-openapi's sense ([`k8s_openapi::Resource`] and
/// [`k8s_openapi::Metadata`]), so kube-rs's `Api<LeaderWorkerSet>` works without a wrapper:
///
/// ```
/// use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
/// use lwsplan::manifest::LeaderWorkerSet;
///
/// fn resource<T: k8s_openapi::Resource + k8s_openapi::Metadata<Ty = ObjectMeta>>() -> &'static str {
///     T::API_VERSION
/// }
/// assert_eq!(resource::<LeaderWorkerSet>(), "leaderworkerset.x-k8s.io/v1");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaderWorkerSet {
    /// Always [`API_VERSION`].
    pub api_version: String,
    /// Always [`KIND`].
    pub kind: String,
    #[allow(missing_docs)]
    pub metadata: ObjectMeta,
    #[allow(missing_docs)]
    pub spec: LeaderWorkerSetSpec,
    /// The observed state, as the LWS controller reports it; absent in what lwsplan renders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<LeaderWorkerSetStatus>,
}

impl Default for LeaderWorkerSet {
    fn default() -> Self {
        LeaderWorkerSet {
            api_version: API_VERSION.into(),
            kind: KIND.into(),
            metadata: ObjectMeta::default(),
            spec: LeaderWorkerSetSpec::default(),
            status: None,
        }
    }
}

impl k8s_openapi::Resource for LeaderWorkerSet {
    const API_VERSION: &'static str = API_VERSION;
    const GROUP: &'static str = GROUP;
    const KIND: &'static str = KIND;
    const VERSION: &'static str = VERSION;
    const URL_PATH_SEGMENT: &'static str = "leaderworkersets";
    type Scope = k8s_openapi::NamespaceResourceScope;
}

impl k8s_openapi::ListableResource for LeaderWorkerSet {
    const LIST_KIND: &'static str = "LeaderWorkerSetList";
}

impl k8s_openapi::Metadata for LeaderWorkerSet {
    type Ty = ObjectMeta;

    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// `status` of a LeaderWorkerSet (the CRD's status fields).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaderWorkerSetStatus {
    /// The set's conditions (`Available`, `Progressing`, `UpdateInProgress`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// The label selector of the leader pods, for the HorizontalPodAutoscaler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hpa_pod_selector: Option<String>,
    /// The most recent generation the controller observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Groups that are ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// Groups created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Groups updated to the latest template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_replicas: Option<i32>,
}

/// `spec` of a LeaderWorkerSet.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaderWorkerSetSpec {
    /// Number of groups (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// What each group looks like.
    pub leader_worker_template: LeaderWorkerTemplate,
    /// How updates roll out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_strategy: Option<RolloutStrategy>,
    /// When workers are created: `LeaderCreated` (default) or `LeaderReady`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_policy: Option<String>,
    /// The headless Service(s) of the set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_config: Option<NetworkConfig>,
}

/// `spec.leaderWorkerTemplate`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaderWorkerTemplate {
    /// The leader pod; the worker template is used when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_template: Option<PodTemplateSpec>,
    /// The worker pods.
    pub worker_template: PodTemplateSpec,
    /// Pods per group, leader included (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i32>,
    /// `RecreateGroupOnPodRestart` (default), `RecreateGroupAfterStart`, `None` or `Default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<String>,
    /// Sub-groups within a group (for disaggregated or TPU topologies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_group_policy: Option<SubGroupPolicy>,
    /// Claims added to every pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_claim_templates: Option<Vec<PersistentVolumeClaim>>,
    /// StatefulSet-style retention of those claims.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim_retention_policy: Option<PersistentVolumeClaimRetentionPolicy>,
}

/// `spec.leaderWorkerTemplate.subGroupPolicy`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubGroupPolicy {
    /// `LeaderWorker` (default) or `LeaderExcluded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_group_policy_type: Option<String>,
    /// Pods per sub-group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_group_size: Option<i32>,
}

/// `spec.leaderWorkerTemplate.persistentVolumeClaimRetentionPolicy`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersistentVolumeClaimRetentionPolicy {
    /// `Retain` or `Delete` when the set is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_deleted: Option<String>,
    /// `Retain` or `Delete` when the set is scaled down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_scaled: Option<String>,
}

/// `spec.rolloutStrategy`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStrategy {
    /// Only `RollingUpdate`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Rolling update knobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_update_configuration: Option<RollingUpdateConfiguration>,
}

/// `spec.rolloutStrategy.rollingUpdateConfiguration`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollingUpdateConfiguration {
    /// Groups with an index below this are not updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<i32>,
    /// Groups that may be unavailable during the update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
    /// Extra groups that may be created during the update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_surge: Option<IntOrString>,
}

/// `spec.networkConfig`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkConfig {
    /// `Shared` (one headless Service) or `UniquePerReplica`.
    pub subdomain_policy: String,
}
