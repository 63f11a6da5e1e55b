//! Each container's security context, and which Pod Security Standard level the pods meet
//! (<https://kubernetes.io/docs/concepts/security/pod-security-standards/>).

use k8s_openapi::api::core::v1::{Capabilities, SeccompProfile, SecurityContext};

use super::options::{ModelCache, RenderOptions};

/// Capabilities the "baseline" level lets a container add (the standard's "Capabilities"
/// control); any other, IPC_LOCK and NET_ADMIN among them, needs "privileged".
const BASELINE_CAPABILITIES: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// The security context of a container that adds `capabilities`: no privilege escalation and
/// the runtime's default seccomp profile (what "restricted" asks of every container and
/// "baseline" allows), nothing else changed.
pub(crate) fn container(capabilities: &[String]) -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            localhost_profile: None,
        }),
        capabilities: (!capabilities.is_empty()).then(|| Capabilities {
            add: Some(capabilities.to_vec()),
            drop: None,
        }),
        ..SecurityContext::default()
    }
}

/// A Pod Security Standard level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PodSecurityLevel {
    /// Unrestricted.
    Privileged,
    /// Prevents known privilege escalations.
    Baseline,
    /// Hardened.
    Restricted,
}

impl PodSecurityLevel {
    /// The level's name, as namespaces label it (`pod-security.kubernetes.io/enforce`).
    pub fn as_str(self) -> &'static str {
        match self {
            PodSecurityLevel::Privileged => "privileged",
            PodSecurityLevel::Baseline => "baseline",
            PodSecurityLevel::Restricted => "restricted",
        }
    }
}

/// The highest level the rendered pods meet, and why not higher.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct PodSecurity {
    /// The level met.
    pub level: PodSecurityLevel,
    /// What keeps the pods from the next level up.
    pub reasons: Vec<String>,
}

impl std::fmt::Display for PodSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "meets \"{}\"", self.level.as_str())?;
        if !self.reasons.is_empty() {
            write!(f, ", not higher: {}", self.reasons.join("; "))?;
        }
        Ok(())
    }
}

/// The level pods rendered with `o` (and `extra_capabilities` from the network, `host_paths`
/// the network mounts) meet.
pub(crate) fn pod_security(
    o: &RenderOptions,
    capabilities: &[String],
    network_host_paths: bool,
) -> PodSecurity {
    let mut privileged = Vec::new();
    for c in capabilities {
        if !BASELINE_CAPABILITIES.contains(&c.as_str()) {
            let why = match c.as_str() {
                "IPC_LOCK" => " (GPUDirect RDMA pins memory)",
                "NET_ADMIN" => " (the GPUDirect-TCPX/TCPXO daemon)",
                _ => "",
            };
            privileged.push(format!("capability {c}{why} is outside baseline"));
        }
    }
    if matches!(o.model_cache, ModelCache::HostPath { .. }) {
        privileged.push("the host-path model cache is a hostPath volume".into());
    }
    if o.pod.volumes.iter().any(|v| v.host_path.is_some()) || network_host_paths {
        privileged.push("hostPath volumes".into());
    }
    if !privileged.is_empty() {
        return PodSecurity {
            level: PodSecurityLevel::Privileged,
            reasons: privileged,
        };
    }
    // vLLM's official image runs as root (its Dockerfile sets no USER), so runAsNonRoot cannot be
    // promised, and "restricted" also wants every capability dropped.
    PodSecurity {
        level: PodSecurityLevel::Baseline,
        reasons: vec![
            "\"restricted\" needs runAsNonRoot and capabilities dropped (ALL), and the official \
             vLLM image runs as root"
                .into(),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_the_pod_security_standards() {
        // Rows: the standard's Capabilities and HostPath Volumes controls.
        let o = RenderOptions::default();
        assert_eq!(
            pod_security(&o, &[], false).level,
            PodSecurityLevel::Baseline
        );
        let ipc = pod_security(&o, &["IPC_LOCK".into()], false);
        assert_eq!(ipc.level, PodSecurityLevel::Privileged);
        assert!(ipc.to_string().contains("IPC_LOCK"), "{ipc}");
        assert_eq!(
            pod_security(&o, &["NET_BIND_SERVICE".into()], false).level,
            PodSecurityLevel::Baseline
        );
        let host = RenderOptions {
            model_cache: ModelCache::HostPath {
                path: "/mnt/models".into(),
                warm: false,
            },
            ..RenderOptions::default()
        };
        assert_eq!(
            pod_security(&host, &[], false).level,
            PodSecurityLevel::Privileged
        );
    }

    #[test]
    fn every_container_refuses_privilege_escalation() {
        let c = container(&[]);
        assert_eq!(c.allow_privilege_escalation, Some(false));
        assert_eq!(c.seccomp_profile.unwrap().type_, "RuntimeDefault");
        assert!(c.capabilities.is_none());
    }
}
