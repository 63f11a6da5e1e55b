//! Kubernetes name rules, checked in one place.

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
            "`{name}` is {} characters; at most {max}",
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
            "`{name}` must consist of lowercase letters, digits and '-', start with {start} \
             and end with a letter or digit"
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn lws_name_limit_shrinks_with_replicas() {
        assert_eq!(max_lws_name_len(1), 51);
        assert_eq!(max_lws_name_len(10), 50);
        assert_eq!(max_lws_name_len(1000), 0);
    }
}
