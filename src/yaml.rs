//! The one place YAML is read and written, so that changing the YAML crate is a one-file change.
//!
//! Reading rejects duplicate keys (serde-saphyr's default); writing never folds long lines and
//! quotes strings that a YAML 1.1 reader would take for booleans or numbers (`"yes"`, `"1.10"`),
//! which matters because Kubernetes tooling still reads YAML 1.1.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// YAML that does not parse into the type asked for, or a value that does not serialize.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    /// The parser's message, with line and column.
    pub message: String,
}

/// Parses one YAML document into `T`; the error text carries line and column.
#[cfg_attr(not(any(test, feature = "machinery")), allow(dead_code))]
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    from_str_named(text, "<input>")
}

/// [`from_str`], naming the text `origin` (a file path) in the excerpt of an error.
pub fn from_str_named<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T, YamlError> {
    serde_saphyr::from_str(text).map_err(|e| message(e, origin))
}

/// Parses every document of a multi-document YAML stream (`---` separated).
pub fn from_str_multiple<T: DeserializeOwned>(text: &str) -> Result<Vec<T>, YamlError> {
    serde_saphyr::from_multiple(text).map_err(|e| message(e, "<input>"))
}

/// The parser's message without its own `error: ` prefix (callers say where the text came
/// from), its excerpt naming `origin`. A missing field has no line of its own — the parser
/// points at wherever the map ended — so it is reported without a position.
fn message(e: serde_saphyr::Error, origin: &str) -> YamlError {
    let text = e.to_string();
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    let first = text.lines().next().unwrap_or_default();
    if let Some(at) = first.find("missing field `") {
        return YamlError {
            message: first[at..].to_string(),
        };
    }
    YamlError {
        message: text.replace("--> <input>:", &format!("--> {origin}:")),
    }
}

/// Writes `value` as one YAML document: block style, two-space indent, no folding.
pub fn to_string<T: Serialize>(value: &T) -> Result<String, YamlError> {
    let options = serde_saphyr::ser_options! {
        prefer_block_scalars: false,
    };
    serde_saphyr::to_string_with_options(value, options).map_err(|e| YamlError {
        message: e.to_string(),
    })
}
