//! The errors every stage shares — what kind a failure is, a value that does not parse, a file
//! that cannot be written — and how a chain of causes prints. A leaf: it knows no stage, so
//! every stage can use it without an arrow running back up, and `build.rs` compiles it too
//! (profile sizes are parsed there).

use std::fmt;

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

/// What kind of failure an error is: what a caller, and the CLI's exit status, acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A profile, deployment file, option or value is invalid: fix the input.
    InvalidInput,
    /// The input is valid, but the model does not fit the hardware under the constraints.
    Infeasible,
    /// A manifest (rendered or read) fails validation.
    InvalidManifest,
    /// Reading or writing a file failed.
    Io,
}

/// A file that could not be written, with what was being done to it.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {}", path.display())]
pub struct WriteError {
    /// What failed: `write`, `create`, `replace`, …
    pub action: &'static str,
    /// The file or directory.
    pub path: std::path::PathBuf,
    /// The operating system's reason.
    #[source]
    pub source: std::io::Error,
}

/// Prints an error and every cause under it, once each, joined by `: ` — what `main` prints
/// (ripgrep's `{:#}` habit). Causes print in their alternate form, so a template error keeps
/// minijinja's excerpt of the template around the failing line.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(error) = cause {
            write!(f, ": {error:#}")?;
            cause = error.source();
        }
        Ok(())
    }
}
