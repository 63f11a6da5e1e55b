//! vLLM versions: which of the flags lwsplan renders a given vLLM release has.
//!
//! The version comes from `--vllm-version`, or from the tag of an official image
//! (`vllm/vllm-openai:v0.28.0`). Unknown (a custom image without `--vllm-version`) means
//! "recent": everything is rendered. A known version that lacks a feature the plan needs is an
//! error, not a silently broken manifest; a feature that is only an optimisation is left out.

use std::fmt;

/// A vLLM release, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct VllmVersion(pub u32, pub u32, pub u32);

impl fmt::Display for VllmVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

impl std::str::FromStr for VllmVersion {
    type Err = crate::error::ValueError;
    /// `0.28.0`, `v0.28.0`, or a pre-release such as `v0.28.0rc1` (taken as its release).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || crate::error::ValueError::new(s, "not a vLLM version such as 0.28.0");
        let digits = s.strip_prefix('v').unwrap_or(s);
        let mut parts = digits.splitn(3, '.');
        let mut number = |required: bool| -> Result<u32, crate::error::ValueError> {
            match parts.next() {
                Some(p) => {
                    let end = p.find(|c: char| !c.is_ascii_digit()).unwrap_or(p.len());
                    p[..end].parse().map_err(|_| bad())
                }
                None if required => Err(bad()),
                None => Ok(0),
            }
        };
        Ok(VllmVersion(number(true)?, number(true)?, number(false)?))
    }
}

/// A feature lwsplan renders and the first release that has it.
#[derive(Debug, Clone, Copy)]
pub struct Feature {
    /// What it is, for messages.
    pub what: &'static str,
    /// The first vLLM release with it.
    pub since: VllmVersion,
    /// Where that comes from.
    pub source: &'static str,
    /// Whether `since` is confirmed by the source (else an estimate from the merge date).
    pub verified: bool,
}

/// `vllm serve --nnodes/--node-rank/--master-addr` and `--headless`: multi-node without Ray.
/// Merged in November 2025; v0.12.0 is the first release after the merge (unverified).
pub const NATIVE_MULTI_NODE: Feature = Feature {
    what: "native multi-node serving (--nnodes, --node-rank, --master-addr, --headless)",
    since: VllmVersion(0, 12, 0),
    source: "vllm-project/vllm PR #23691",
    verified: false,
};

/// `--enable-expert-parallel` (unverified: present in the v0.8 series).
pub const EXPERT_PARALLEL: Feature = Feature {
    what: "--enable-expert-parallel",
    since: VllmVersion(0, 8, 0),
    source: "vllm-project/vllm docs/serving/data_parallel_deployment.md",
    verified: false,
};

/// `VLLM_ENGINE_READY_TIMEOUT_S`, how long the API server waits for the engine (unverified
/// release; older versions ignore the variable, so leaving it out only loses the longer wait).
pub const ENGINE_READY_TIMEOUT: Feature = Feature {
    what: "VLLM_ENGINE_READY_TIMEOUT_S",
    since: VllmVersion(0, 17, 0),
    source: "vllm-project/vllm PR #35616",
    verified: false,
};

/// The official image no longer ships Ray from v0.19.0 (`ray: not found`).
pub const RAY_LEFT_THE_IMAGE: VllmVersion = VllmVersion(0, 19, 0);

impl Feature {
    /// Whether `version` has this feature; an unknown version is taken as recent.
    pub fn in_version(&self, version: Option<VllmVersion>) -> bool {
        version.is_none_or(|v| v >= self.since)
    }

    /// Why `version` cannot serve a plan that needs this feature.
    pub fn missing(&self, version: VllmVersion) -> String {
        format!(
            "vLLM {version} has no {} (first in {}{}; {}): use a newer image or --vllm-version",
            self.what,
            self.since,
            if self.verified { "" } else { ", unverified" },
            self.source
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        assert_eq!("v0.28.0".parse(), Ok(VllmVersion(0, 28, 0)));
        assert_eq!("0.12.0rc1".parse(), Ok(VllmVersion(0, 12, 0)));
        assert!("0.x".parse::<VllmVersion>().is_err());
        assert_eq!("v1.2".parse::<VllmVersion>(), Ok(VllmVersion(1, 2, 0)));
    }

    #[test]
    fn an_unknown_version_has_every_feature() {
        assert!(NATIVE_MULTI_NODE.in_version(None));
        assert!(!NATIVE_MULTI_NODE.in_version(Some(VllmVersion(0, 11, 0))));
        assert!(NATIVE_MULTI_NODE.in_version(Some(VllmVersion(0, 28, 0))));
    }
}
