//! Files in and out, for the command line and for build scripts: bounded reads, and a writer
//! that never leaves a partial file.
//!
//! The pipeline itself does no I/O (profiles, plans and manifests are values); these are the
//! edges a program built on lwsplan needs to be as careful as the `lwsplan` binary.

mod read;
mod write;

pub use read::{
    InputError, MAX_INDEX_FILE, MAX_MANIFEST_FILE, MAX_SMALL_FILE, read_text, read_text_from,
    read_text_or_stream,
};
pub use write::write_all;
