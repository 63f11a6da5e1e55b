//! Typed Kubernetes objects: what a render produces and what `validate` reads.
//!
//! A [`Manifests`] value is the LeaderWorkerSet and its Service as typed objects. Users may
//! change them (add a toleration, a label) and re-validate before writing them out.

mod image;
mod lws;
pub(crate) mod serve;

pub(crate) use image::ImageRef;

pub use lws::{
    API_VERSION, GROUP, KIND, LeaderWorkerSet, LeaderWorkerSetSpec, LeaderWorkerSetStatus,
    LeaderWorkerTemplate, NAME_LABEL, NetworkConfig, PersistentVolumeClaimRetentionPolicy,
    RollingUpdateConfiguration, RolloutStrategy, SubGroupPolicy, VERSION,
};

use k8s_openapi::api::core::v1::Service;

use crate::error::YamlError;

/// The NVIDIA device plugin's resource name, which pods request GPUs by.
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";

/// One deployment: the LeaderWorkerSet and the Service in front of its leaders.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Manifests {
    /// The LeaderWorkerSet.
    pub leader_worker_set: LeaderWorkerSet,
    /// The ClusterIP Service that selects the leader pods.
    pub service: Service,
}

impl Manifests {
    /// One deployment from its two objects, built in code or read from a cluster; check it
    /// with [`validate`](crate::validate()) before applying it. To read YAML, use
    /// [`validate::parse_manifests`](crate::validate::parse_manifests), which validates too.
    pub fn new(leader_worker_set: LeaderWorkerSet, service: Service) -> Manifests {
        Manifests {
            leader_worker_set,
            service,
        }
    }

    /// Multi-document YAML: the LeaderWorkerSet, then the Service.
    pub fn to_yaml(&self) -> Result<String, YamlError> {
        let lws = crate::yaml::to_string(&self.leader_worker_set)?;
        let service = crate::yaml::to_string(&self.service)?;
        Ok(format!("{lws}---\n{service}"))
    }

    /// Both objects as a `v1` `List`, as `kubectl get -o json` prints several objects.
    pub fn to_list(&self) -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "v1",
            "kind": "List",
            "items": [self.leader_worker_set, self.service],
        })
    }

    /// One file per object, `<name>-leaderworkerset.yaml` and `<name>-service.yaml`:
    /// `(file name, YAML)`, ready for [`io::write_all`](crate::io::write_all).
    pub fn to_files(&self) -> Result<Vec<(String, String)>, YamlError> {
        // A name edited in code is not validated: keep only what is safe in a file name.
        let name: String = self
            .leader_worker_set
            .metadata
            .name
            .as_deref()
            .unwrap_or("lws")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Ok(vec![
            (
                format!("{name}-leaderworkerset.yaml"),
                crate::yaml::to_string(&self.leader_worker_set)?,
            ),
            (
                format!("{name}-service.yaml"),
                crate::yaml::to_string(&self.service)?,
            ),
        ])
    }
}
