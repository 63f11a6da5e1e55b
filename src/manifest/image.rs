//! Container image references: one parser for every place that reads an image — the render
//! options' check, the vLLM version an official tag names, the pinning warning and the
//! validator.

/// A parsed image reference, `[domain/]path[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageRef {
    /// Registry host and port, when the reference names one.
    pub domain: Option<String>,
    /// Repository path without the domain, e.g. `vllm/vllm-openai`.
    pub path: String,
    /// The tag, e.g. `v0.11.0`.
    pub tag: Option<String>,
    /// The digest, e.g. `sha256:…`.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses a reference by the grammar of `github.com/distribution/reference`:
    /// `[host[:port]/]path[:tag][@algorithm:hex]`, path components lowercase. `Err` says what is
    /// wrong with a string no runtime could pull.
    pub fn parse(image: &str) -> Result<ImageRef, String> {
        if image.is_empty() || image.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "{image:?} is empty or has whitespace or control characters"
            ));
        }
        let (rest, digest) = match image.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest)),
            None => (image, None),
        };
        if let Some(digest) = digest {
            let valid = digest.split_once(':').is_some_and(|(algorithm, hex)| {
                !algorithm.is_empty()
                    && algorithm
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_+.".contains(c))
                    && hex.len() >= 32
                    && hex.chars().all(|c| c.is_ascii_hexdigit())
            });
            if !valid {
                return Err(format!(
                    "`{image}`: the digest must be ALGORITHM:HEX, e.g. sha256:<64 hex digits>"
                ));
            }
        }
        // A ':' after the last '/' starts the tag; one before it belongs to a registry port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].find(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            let valid = !tag.is_empty()
                && tag.len() <= 128
                && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                && tag
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            if !valid {
                return Err(format!(
                    "`{image}`: the tag must be at most 128 letters, digits, '_', '.' or '-'"
                ));
            }
        }
        if name.len() > 255 {
            return Err(format!("`{image}`: the name is longer than 255 characters"));
        }
        let mut components: Vec<&str> = name.split('/').collect();
        let first = components[0];
        let has_domain = components.len() > 1
            && (first.contains('.')
                || first.contains(':')
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()));
        if has_domain {
            let host = first.split(':').next().unwrap_or_default();
            let port_ok = first.split_once(':').is_none_or(|(_, port)| {
                !port.is_empty() && port.chars().all(|c| c.is_ascii_digit())
            });
            let host_ok = !host.is_empty()
                && host.split('.').all(|part| {
                    !part.is_empty()
                        && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                        && !part.starts_with('-')
                        && !part.ends_with('-')
                });
            if !host_ok || !port_ok {
                return Err(format!(
                    "`{image}`: `{first}` is not a registry host[:port]"
                ));
            }
            components.remove(0);
        }
        let domain = has_domain.then(|| first.to_string());
        for component in &components {
            let valid = !component.is_empty()
                && component.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && component.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && component
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
            if !valid {
                return Err(format!(
                    "`{image}`: repository path component `{component}` must be lowercase letters, digits and separators (. _ -)"
                ));
            }
        }
        Ok(ImageRef {
            domain,
            path: components.join("/"),
            tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
        })
    }
}

impl ImageRef {
    /// Whether this is the official vLLM image, `vllm/vllm-openai`, on Docker Hub or any mirror
    /// that keeps its path.
    pub fn is_official_vllm(&self) -> bool {
        self.path == "vllm/vllm-openai" || self.path.ends_with("/vllm/vllm-openai")
    }

    /// The vLLM version an official image's tag names (`v0.28.0`, `0.8.5`, `v0.12.0rc1`),
    /// whether or not a digest follows it.
    pub fn vllm_version(&self) -> Option<crate::plan::VllmVersion> {
        if !self.is_official_vllm() {
            return None;
        }
        self.tag.as_deref()?.parse().ok()
    }

    /// Whether the image cannot change under the same name: pinned by digest, or by a tag
    /// other than `latest`. `None` when pinned by digest, else the reason it moves.
    pub fn moves(&self) -> Option<&'static str> {
        if self.digest.is_some() {
            return None;
        }
        match self.tag.as_deref() {
            None => Some("has no tag, so it means :latest"),
            Some("latest") => Some("is :latest"),
            Some(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_into_their_parts() {
        let r = ImageRef::parse("vllm/vllm-openai:v0.11.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(r.path, "vllm/vllm-openai");
        assert_eq!(r.tag.as_deref(), Some("v0.11.0"));
        assert!(r.digest.as_deref().unwrap().starts_with("sha256:"));
        assert_eq!(r.vllm_version(), Some(crate::plan::VllmVersion(0, 11, 0)));
        assert_eq!(r.moves(), None);
        let r = ImageRef::parse("localhost:5000/team/vllm:v1").unwrap();
        assert_eq!(r.domain.as_deref(), Some("localhost:5000"));
        assert_eq!(
            (r.path.as_str(), r.tag.as_deref()),
            ("team/vllm", Some("v1"))
        );
        assert_eq!(r.vllm_version(), None);
        assert_eq!(
            ImageRef::parse("vllm/vllm-openai").unwrap().moves(),
            Some("has no tag, so it means :latest")
        );
        assert_eq!(
            ImageRef::parse("vllm/vllm-openai:latest").unwrap().moves(),
            Some("is :latest")
        );
        for bad in [
            "",
            "a b",
            "x/UPPER",
            "x:",
            "x@sha256:zz",
            "host:port/x",
            "x:-bad",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn versions_come_from_official_tags_only() {
        let version = |image: &str| ImageRef::parse(image).ok().and_then(|r| r.vllm_version());
        use crate::plan::VllmVersion;
        assert_eq!(
            version("vllm/vllm-openai:v0.28.0"),
            Some(VllmVersion(0, 28, 0))
        );
        assert_eq!(
            version("docker.io/vllm/vllm-openai:0.8.5"),
            Some(VllmVersion(0, 8, 5))
        );
        assert_eq!(
            version("vllm/vllm-openai:v0.12.0rc1"),
            Some(VllmVersion(0, 12, 0))
        );
        assert_eq!(version("vllm/vllm-openai:latest"), None);
        assert_eq!(version("registry.example.com/team/vllm:v0.28.0"), None);
    }
}
