//! What every profile shares: sources, errors, parsing and bounds checks.
//!
//! Kept free of the rest of the crate (it needs only `crate::yaml`) so that `build.rs` can
//! compile it too and check the built-in profiles before the crate is built.

use serde::{Deserialize, Serialize};

/// Where a fact in a profile comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Which fields or facts this source backs, in words.
    pub facts: String,
    /// A URL, or a public file path at a commit.
    pub url: String,
    /// Set when the value is not confirmed by the source (an estimate or a reading that varies).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unverified: bool,
}

/// What went wrong loading or checking a profile.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// The YAML did not parse into the profile type (syntax, wrong type, unknown or missing field).
    #[error("{origin}: not a valid profile")]
    Parse {
        /// Where the profile came from: a file path or `built-in <id>`.
        origin: String,
        /// The parser's error, with line and column.
        #[source]
        source: crate::yaml::YamlError,
    },
    /// A JSON input (`config.json`, a safetensors index) did not parse.
    #[error("{origin}: not a JSON {what}")]
    Json {
        #[allow(missing_docs)]
        origin: String,
        /// What the file should be, e.g. `config`.
        what: &'static str,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },

    /// A field parsed but its value cannot describe a real model or GPU.
    #[error("{origin}: field `{field}`: {message}")]
    Invalid {
        /// Where the profile came from.
        origin: String,
        /// The offending field, as a dotted path.
        field: String,
        /// What is wrong and what is expected.
        message: String,
    },
    /// No built-in profile has this id.
    #[error("unknown {kind} `{id}`{}; the built-in {kind} profiles are {}", suggestion_text(.suggestion), .known.join(", "))]
    Unknown {
        /// `model` or `hardware`.
        kind: &'static str,
        /// The id that was asked for.
        id: String,
        /// The closest built-in id, when one is close.
        suggestion: Option<String>,
        /// Every built-in id of this kind.
        known: Vec<String>,
    },
    /// The profile file could not be read: missing, unreadable, too large or not text.
    #[error("cannot read {path}")]
    Read {
        /// The path that was asked for.
        path: String,
        #[allow(missing_docs)]
        #[source]
        source: crate::io::InputError,
    },
}

fn suggestion_text(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None => String::new(),
    }
}

/// Parses YAML into a profile type; errors carry `origin` and the parser's line, column and
/// key, never the text: a profile file is often named by someone else's deployment file, and
/// a file that is no profile (`file: /path/secret.env`) must not be printed.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    text: &str,
    origin: &str,
) -> Result<T, ProfileError> {
    crate::yaml::from_str_unquoted(text).map_err(|source| ProfileError::Parse {
        origin: origin.to_string(),
        source,
    })
}

/// Reads a profile file (or another small input: `config.json`, a safetensors index), at most
/// `limit` bytes.
pub(crate) fn read(
    path: &std::path::Path,
    limit: u64,
    what: &'static str,
) -> Result<String, ProfileError> {
    crate::io::read_text(path, limit, what).map_err(|source| ProfileError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Checks that a count is at least one, naming the field when it is not.
pub(crate) fn require_positive(origin: &str, field: &str, value: u64) -> Result<(), ProfileError> {
    if value == 0 {
        return Err(ProfileError::Invalid {
            origin: origin.to_string(),
            field: field.to_string(),
            message: "must be at least 1".to_string(),
        });
    }
    Ok(())
}

/// Checks that a value stays below a bound that no real model or GPU comes near, so that
/// arithmetic on it cannot overflow and a typo (an extra digit) is caught.
pub(crate) fn require_at_most(
    origin: &str,
    field: &str,
    value: u64,
    max: u64,
) -> Result<(), ProfileError> {
    if value > max {
        return Err(ProfileError::Invalid {
            origin: origin.to_string(),
            field: field.to_string(),
            message: format!("{value} is larger than {max}, the most lwsplan accepts"),
        });
    }
    Ok(())
}
