//! The one place YAML is read and written, so that changing the YAML crate is a one-file change.
//!
//! Reading rejects duplicate keys (serde-saphyr's default); writing never folds long lines and
//! quotes strings that a YAML 1.1 reader would take for booleans or numbers (`"yes"`, `"1.10"`),
//! which matters because Kubernetes tooling still reads YAML 1.1.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Parses one YAML document into `T`; the error text carries line and column.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_saphyr::from_str(text).map_err(message)
}

/// Parses every document of a multi-document YAML stream (`---` separated).
pub fn from_str_multiple<T: DeserializeOwned>(text: &str) -> Result<Vec<T>, String> {
    serde_saphyr::from_multiple(text).map_err(message)
}

/// The parser's message without its own `error: ` prefix: callers say where the text came from.
fn message(e: serde_saphyr::Error) -> String {
    let text = e.to_string();
    text.strip_prefix("error: ").unwrap_or(&text).to_string()
}

/// Writes `value` as one YAML document: block style, two-space indent, no folding.
pub fn to_string<T: Serialize>(value: &T) -> Result<String, String> {
    let options = serde_saphyr::ser_options! {
        prefer_block_scalars: false,
    };
    serde_saphyr::to_string_with_options(value, options).map_err(|e| e.to_string())
}

/// Reads a YAML (or JSON) file's text. `Err(None)` when the file is not UTF-8 text (binary junk
/// is bad input, not an I/O failure); `Err(Some(e))` when it cannot be read.
pub(crate) fn read_file(path: &Path) -> Result<String, Option<std::io::Error>> {
    std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidData => None,
        _ => Some(e),
    })
}
