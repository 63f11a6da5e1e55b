//! A value that does not parse, and how long values are shown in messages. Kept free of the
//! rest of the crate so that `build.rs` compiles it too (profile sizes are parsed there).

/// A value that does not parse: a size, a length, a version, a flag's argument.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}`: {expected}")]
pub struct ValueError {
    /// The text that was given (truncated when long).
    pub value: String,
    /// What a valid value looks like.
    pub expected: String,
}

impl ValueError {
    /// `value` is not valid; `expected` says what is.
    pub fn new(value: &str, expected: impl Into<String>) -> Self {
        ValueError {
            value: truncate(value, 80),
            expected: expected.into(),
        }
    }
}

/// At most `max` characters of `text`, with `…` when cut: long values are not echoed whole.
pub fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}
