//! Typed Kubernetes objects: what a render produces and what `validate` reads.
//!
//! A [`Manifests`] value is the LeaderWorkerSet and its Service as typed objects. Users may
//! change them (add a toleration, a label) and re-validate before writing them out.

mod lws;

pub use lws::{
    API_VERSION, KIND, LeaderWorkerSet, LeaderWorkerSetSpec, LeaderWorkerTemplate, NAME_LABEL,
    NetworkConfig, PersistentVolumeClaimRetentionPolicy, RollingUpdateConfiguration,
    RolloutStrategy, SubGroupPolicy,
};

use k8s_openapi::api::core::v1::Service;

/// One deployment: the LeaderWorkerSet and the Service in front of its leaders.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifests {
    /// The LeaderWorkerSet.
    pub leader_worker_set: LeaderWorkerSet,
    /// The ClusterIP Service that selects the leader pods.
    pub service: Service,
}

impl Manifests {
    /// Multi-document YAML: the LeaderWorkerSet, then the Service.
    pub fn to_yaml(&self) -> Result<String, String> {
        let lws = crate::yaml::to_string(&self.leader_worker_set)?;
        let service = crate::yaml::to_string(&self.service)?;
        Ok(format!("{lws}---\n{service}"))
    }

    /// Writes one file per object into `dir` (created if needed): every file or none.
    pub fn write_to_dir(&self, dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>, String> {
        let files = self.to_files()?;
        crate::output::write_all(dir, &files)?;
        Ok(files.iter().map(|(name, _)| dir.join(name)).collect())
    }

    /// One file per object, named after the object's kind: `(file name, YAML)`.
    pub fn to_files(&self) -> Result<Vec<(String, String)>, String> {
        Ok(vec![
            (
                "leaderworkerset.yaml".to_string(),
                crate::yaml::to_string(&self.leader_worker_set)?,
            ),
            (
                "service.yaml".to_string(),
                crate::yaml::to_string(&self.service)?,
            ),
        ])
    }
}
