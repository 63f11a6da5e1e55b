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
//!
//! Only regular files are read by path ([`read_text`]): a FIFO, a socket or a device
//! (`/dev/zero`, `/dev/stdin`) is refused by what it is, after an open that cannot block — a
//! FIFO with no writer would otherwise hang the reader. Streams are read through
//! [`read_text_from`] (standard input) or, where a pipe is what the user means (`validate
//! <(kubectl get …)`), [`read_text_or_stream`].

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
    /// The path is not a regular file (a FIFO, socket, device or directory).
    #[error("it is {found}, not a regular file; {what} is read from a file")]
    NotRegular {
        /// What was found: `a FIFO`, `a directory`, …
        found: &'static str,
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

/// Reads the regular file `path` as UTF-8 text of at most `limit` bytes; `what` names the kind
/// of input. Anything else at `path` is refused ([`InputError::NotRegular`]) without blocking.
pub fn read_text(path: &Path, limit: u64, what: &'static str) -> Result<String, InputError> {
    let file = open_without_blocking(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(InputError::NotRegular {
            found: describe(&meta.file_type()),
            what,
        });
    }
    read_text_from(file, limit, what)
}

/// [`read_text`] for inputs where a pipe is as good as a file (manifests to validate, a log):
/// a FIFO or a character device is read as a stream, still at most `limit` bytes.
pub fn read_text_or_stream(
    path: &Path,
    limit: u64,
    what: &'static str,
) -> Result<String, InputError> {
    let file = std::fs::File::open(path)?;
    if file.metadata()?.is_dir() {
        return Err(InputError::NotRegular {
            found: "a directory",
            what,
        });
    }
    read_text_from(file, limit, what)
}

/// Opens `path` for reading; on Unix with `O_NONBLOCK`, so that opening a FIFO returns at once
/// instead of waiting for a writer (the flag has no effect on a regular file's reads).
fn open_without_blocking(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    options.open(path)
}

/// The kind of a file that is not a regular one, in words.
fn describe(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
    }
    if kind.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn special_files_are_refused_without_blocking() {
        let dir = std::env::temp_dir().join(format!("lwsplan-read-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("template.j2");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            // No writer: a blocking open would wait here forever.
            let err = read_text(&fifo, 1 << 20, "a template").unwrap_err();
            assert_eq!(
                err.to_string(),
                "it is a FIFO, not a regular file; a template is read from a file"
            );
        }
        let err = read_text(Path::new("/dev/zero"), 1 << 20, "a profile").unwrap_err();
        assert!(
            matches!(
                err,
                InputError::NotRegular {
                    found: "a device",
                    ..
                }
            ),
            "{err}"
        );
        let err = read_text(&dir, 1 << 20, "a profile").unwrap_err();
        assert!(
            matches!(
                err,
                InputError::NotRegular {
                    found: "a directory",
                    ..
                }
            ),
            "{err}"
        );
        std::fs::write(dir.join("p.yaml"), "id: x\n").unwrap();
        assert_eq!(
            read_text(&dir.join("p.yaml"), 10, "a profile").unwrap(),
            "id: x\n"
        );
    }
}
