//! Kubernetes name and value rules, checked in one place. Every message shows at most 80
//! characters of the value it refuses.

use crate::error::base::truncate;

/// A value as messages show it: at most 80 characters.
fn shown(value: &str) -> String {
    truncate(value, 80)
}

/// Checks a DNS-1035 label: at most 63 characters, lowercase alphanumerics and `-`, starting
/// with a letter and ending with an alphanumeric (`k8s.io/apimachinery` `IsDNS1035Label`).
pub fn check_dns1035_label(name: &str) -> Result<(), String> {
    check_label(name, 63, true)
}

/// Checks a DNS-1123 label (container names): as DNS-1035, but may start with a digit.
pub fn check_dns1123_label(name: &str) -> Result<(), String> {
    check_label(name, 63, false)
}

fn check_label(name: &str, max: usize, letter_first: bool) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.len() > max {
        return Err(format!(
            "`{}` is {} characters; at most {max}",
            shown(name),
            name.len()
        ));
    }
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    let first = name.chars().next().unwrap_or('-');
    let last = name.chars().last().unwrap_or('-');
    let first_ok = if letter_first {
        first.is_ascii_lowercase()
    } else {
        first.is_ascii_lowercase() || first.is_ascii_digit()
    };
    if !name.chars().all(ok_char) || !first_ok || last == '-' {
        let start = if letter_first {
            "a letter"
        } else {
            "a letter or digit"
        };
        return Err(format!(
            "`{}` must consist of lowercase letters, digits and '-', start with {start} \
             and end with a letter or digit",
            shown(name)
        ));
    }
    Ok(())
}

/// The longest LeaderWorkerSet name for `replicas` groups: `51 − floor(replicas / 10)`, so
/// that pod and StatefulSet names with their suffixes stay within 63 characters (LWS
/// troubleshooting guide, `site/content/en/docs/troubleshooting/_index.md`).
pub fn max_lws_name_len(replicas: i32) -> usize {
    51usize.saturating_sub((replicas.max(0) / 10) as usize)
}

/// Checks a label or annotation key: an optional DNS-1123 subdomain prefix (≤ 253) and `/`,
/// then a name of at most 63 alphanumerics, `-`, `_` or `.`, starting and ending alphanumeric
/// (`k8s.io/apimachinery` `IsQualifiedName`).
pub fn check_qualified_name(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        let ok = !prefix.is_empty()
            && prefix.len() <= 253
            && prefix
                .split('.')
                .all(|part| check_dns1123_label(part).is_ok());
        if !ok {
            return Err(format!(
                "`{}`: the prefix before '/' must be a DNS subdomain (lowercase, dots, at most 253)",
                shown(key)
            ));
        }
    }
    check_label_value(name).map_err(|e| format!("`{}`: {e}", shown(key)))?;
    if name.is_empty() {
        return Err(format!("`{}`: the name part must not be empty", shown(key)));
    }
    Ok(())
}

/// Checks a label value: empty, or at most 63 alphanumerics, `-`, `_` or `.`, starting and
/// ending alphanumeric (`IsValidLabelValue`).
pub fn check_label_value(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    let ends_ok = value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value.ends_with(|c: char| c.is_ascii_alphanumeric());
    if value.len() > 63 || !value.chars().all(ok_char) || !ends_ok {
        return Err(format!(
            "`{}` must be at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
            shown(value)
        ));
    }
    Ok(())
}

/// Checks an environment variable name as a C identifier (letters, digits, `_`, not starting
/// with a digit): what every Kubernetes version and shell accepts.
pub fn check_env_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` must be letters, digits and '_', not starting with a digit",
            shown(name)
        ))
    }
}

/// Checks a DNS-1123 subdomain (Secret, ServiceAccount, PriorityClass, StorageClass and claim
/// names): at most 253 characters, dot-separated DNS-1123 labels (`IsDNS1123Subdomain`).
pub fn check_dns1123_subdomain(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 253
        || !name.split('.').all(|p| check_dns1123_label(p).is_ok())
    {
        return Err(format!(
            "`{}` must be a DNS subdomain: at most 253 lowercase letters, digits, '-' and '.', \
             starting and ending with a letter or digit",
            shown(name)
        ));
    }
    Ok(())
}

/// Checks a Secret or ConfigMap key: at most 253 letters, digits, `-`, `_` or `.`, and not `.`
/// or `..` (`IsConfigMapKey`).
pub fn check_config_key(key: &str) -> Result<(), String> {
    let ok = !key.is_empty()
        && key.len() <= 253
        && key != "."
        && key != ".."
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` must be at most 253 letters, digits, '-', '_' or '.'",
            shown(key)
        ))
    }
}

/// Checks a Kubernetes resource quantity (`500m`, `32`, `1.5Gi`, `1e3`) and that it is not
/// negative (`k8s.io/apimachinery/pkg/api/resource` `ParseQuantity`).
pub fn check_quantity(text: &str) -> Result<(), String> {
    let bad = || {
        Err(format!(
            "`{}` is not a quantity such as 500m, 32, 1.5Gi or 16G",
            shown(text)
        ))
    };
    let number_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(number_end);
    let number = number.strip_prefix('+').unwrap_or(number);
    let digits_ok = !number.is_empty()
        && number.chars().filter(|&c| c == '.').count() <= 1
        && number.chars().any(|c| c.is_ascii_digit())
        && number.chars().all(|c| c.is_ascii_digit() || c == '.');
    let suffix_ok = matches!(
        suffix,
        "" | "n"
            | "u"
            | "m"
            | "k"
            | "M"
            | "G"
            | "T"
            | "P"
            | "E"
            | "Ki"
            | "Mi"
            | "Gi"
            | "Ti"
            | "Pi"
            | "Ei"
    ) || suffix
        .strip_prefix(['e', 'E'])
        .map(|e| e.strip_prefix(['+', '-']).unwrap_or(e))
        .is_some_and(|e| !e.is_empty() && e.len() <= 3 && e.chars().all(|c| c.is_ascii_digit()));
    if text.starts_with('-') {
        return Err(format!("`{}` is negative", shown(text)));
    }
    if !digits_ok || !suffix_ok {
        return bad();
    }
    Ok(())
}

/// Checks a GPU count as a resource quantity: a whole positive number (`8`; not `8000m`,
/// `8Ki`, `-8` or `8.5`), which is what the device plugin advertises.
pub fn check_gpu_count(text: &str) -> Result<i64, String> {
    match text.parse::<i64>() {
        Ok(n) if n > 0 && text.chars().all(|c| c.is_ascii_digit()) => Ok(n),
        _ => Err(format!(
            "`{}` is not a whole positive number of GPUs",
            shown(text)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_subdomains_and_keys() {
        for ok in ["500m", "32", "1.5Gi", "16G", "1e3", "0.5", "+2"] {
            assert!(check_quantity(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-8", "1.2.3", "8Gb", "Gi", "8 Gi", "1e"] {
            assert!(check_quantity(bad).is_err(), "{bad}");
        }
        for ok in ["8", "1", "16"] {
            assert!(check_gpu_count(ok).is_ok(), "{ok}");
        }
        for bad in ["-8", "8000m", "8Ki", "8.5", "0", "+8", ""] {
            assert!(check_gpu_count(bad).is_err(), "{bad}");
        }
        assert!(check_dns1123_subdomain("hf-secret").is_ok());
        assert!(check_dns1123_subdomain("a.b-c").is_ok());
        for bad in ["", "Hf", "a..b", "-a", &"a".repeat(254)] {
            assert!(check_dns1123_subdomain(bad).is_err(), "{bad}");
        }
        assert!(check_config_key("hf_api_token").is_ok());
        for bad in ["", ".", "..", "a/b", "a b"] {
            assert!(check_config_key(bad).is_err(), "{bad}");
        }
        let long = "x".repeat(10_000);
        assert!(
            check_dns1035_label(&long).unwrap_err().len() < 200,
            "echo is truncated"
        );
    }

    #[test]
    fn dns1035_labels() {
        for ok in ["vllm", "a", "deepseek-r1", "a-1"] {
            assert!(check_dns1035_label(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1abc", "Vllm", "a_b", "a-", "a.b", &"a".repeat(64)] {
            assert!(check_dns1035_label(bad).is_err(), "{bad}");
        }
        assert!(check_dns1123_label("1abc").is_ok());
    }

    #[test]
    fn qualified_names_and_label_values() {
        for ok in ["app", "app.kubernetes.io/name", "lwsplan/model", "a_b.c-d"] {
            assert!(check_qualified_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/x",
            "Bad_Prefix/x",
            "a/",
            "-a",
            "a b",
            &"a".repeat(64),
            "a/b/c",
        ] {
            assert!(check_qualified_name(bad).is_err(), "{bad}");
        }
        assert!(check_label_value("").is_ok());
        assert!(check_label_value("v1.2_3").is_ok());
        assert!(check_label_value("yes no").is_err());
        assert!(check_label_value("-x").is_err());
    }

    #[test]
    fn env_names() {
        assert!(check_env_name("HF_TOKEN").is_ok());
        assert!(check_env_name("_x1").is_ok());
        for bad in ["", "1A", "A-B", "A=B", "A B"] {
            assert!(check_env_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn image_references() {
        for ok in [
            "vllm/vllm-openai:v0.28.0",
            "vllm",
            "registry.example.com:5000/team/vllm:v1",
            "localhost/x",
            "us-docker.pkg.dev/project/repo/vllm@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "ghcr.io/org/img:1.0-rc_1",
        ] {
            assert!(crate::manifest::ImageRef::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "IMAGE_NAME",
            "vllm/VLLM",
            "vllm:",
            "a b",
            "vllm\n:latest",
            "x@sha256:abc",
            "reg.io:port/x",
            "vllm/vllm-openai:v0.28.0 --privileged",
        ] {
            assert!(crate::manifest::ImageRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lws_name_limit_shrinks_with_replicas() {
        assert_eq!(max_lws_name_len(1), 51);
        assert_eq!(max_lws_name_len(10), 50);
        assert_eq!(max_lws_name_len(1000), 0);
    }
}
