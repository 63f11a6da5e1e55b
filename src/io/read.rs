//! Reading input files: UTF-8 text, never more than a stated number of bytes, so a hostile or
//! mistaken input (`/dev/zero`, a 50 GB file) is refused instead of filling memory.
//!
//! The limits, far above any real file of each kind:
//!
//! | input | limit |
//! |---|---|
//! | model or hardware profile, deployment file, `config.json`, template | 1 MiB |
//! | `model.safetensors.index.json` (DeepSeek-V3's is about 9 MB) | 64 MiB |
//! | manifests given to `validate` | 16 MiB |

use std::io::Read;
use std::path::Path;

/// Profiles, deployment files, `config.json` and templates.
pub const MAX_SMALL_FILE: u64 = 1 << 20;
/// Safetensors indexes, which list every tensor of the checkpoint.
pub const MAX_INDEX_FILE: u64 = 64 << 20;
/// Manifests read by `validate`.
pub const MAX_MANIFEST_FILE: u64 = 16 << 20;

/// Why an input could not be read as text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The operating system refused or failed the read.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The input is larger than lwsplan reads for its kind.
    #[error("it is larger than {limit} bytes, the most lwsplan reads for {what}")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
        /// What the input should be, e.g. `a profile`.
        what: &'static str,
    },
    /// The input is not UTF-8.
    #[error("not UTF-8 text; {what} is a text file")]
    NotText {
        /// What the input should be.
        what: &'static str,
    },
}

impl InputError {
    /// Whether the operating system failed the read (rather than the input being bad).
    pub fn is_io(&self) -> bool {
        matches!(self, InputError::Io(_))
    }
}

/// Reads `path` as UTF-8 text of at most `limit` bytes; `what` names the kind of input.
pub fn read_text(path: &Path, limit: u64, what: &'static str) -> Result<String, InputError> {
    let file = std::fs::File::open(path)?;
    read_text_from(file, limit, what)
}

/// Reads a stream (a file, standard input) as UTF-8 text of at most `limit` bytes.
pub fn read_text_from(
    reader: impl Read,
    limit: u64,
    what: &'static str,
) -> Result<String, InputError> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(InputError::TooLarge { limit, what });
    }
    String::from_utf8(bytes).map_err(|_| InputError::NotText { what })
}
