//! What the command line prints: results on standard output, every write checked; notes,
//! warnings and errors on standard error, with control characters made visible so that no
//! input can move the cursor, ring the bell or rewrite the terminal.

use std::io::{ErrorKind, Write};

use super::CliError;

/// Standard output and standard error for one run.
pub(crate) struct Terminal {
    /// Standard output was closed by its reader (`| head`): stop writing, quietly.
    closed: bool,
}

impl Terminal {
    pub fn new() -> Self {
        Terminal { closed: false }
    }

    /// Writes `text` to standard output and flushes it. A closed pipe is not an error (the
    /// reader has what it wanted); any other failure — a full disk, `/dev/full` — is.
    pub fn stdout(&mut self, text: &str) -> Result<(), CliError> {
        if self.closed || text.is_empty() {
            return Ok(());
        }
        let mut out = std::io::stdout().lock();
        match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            Err(source) => Err(CliError::Lib(lwsplan::Error::Write(lwsplan::WriteError {
                action: "write",
                path: "standard output".into(),
                source,
            }))),
        }
    }

    /// A line of information on standard error.
    pub fn note(&mut self, text: &str) {
        stderr(&sanitize(text));
    }

    /// `warning: …` on standard error.
    pub fn warning(&mut self, text: &str) {
        stderr(&format!("warning: {}", sanitize(text)));
    }

    /// `error: …` on standard error, each line at most [`MAX_LINE`] characters: the last
    /// guard against an echoed input (a 900 KB `model_type`) coming back whole.
    pub fn error(&mut self, text: &str) {
        let bounded: Vec<String> = text.lines().map(|line| cut(line, MAX_LINE)).collect();
        stderr(&format!("error: {}", sanitize(&bounded.join("\n"))));
    }
}

/// The longest line of an error message printed; messages cut echoed values far shorter.
pub(crate) const MAX_LINE: usize = 2000;

/// At most `max` characters of `text`, with `…` when cut.
pub(crate) fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// Standard error is best effort: there is nowhere left to report its own failure.
fn stderr(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

/// Control characters other than newline and tab, shown as `\u{…}` escapes.
pub(crate) fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_made_visible() {
        assert_eq!(sanitize("a\u{1b}[2Jb\u{7}"), "a\\u{1b}[2Jb\\u{7}");
        assert_eq!(sanitize("line\n\tnext"), "line\n\tnext");
        assert_eq!(sanitize("\u{9b}"), "\\u{9b}");
    }
}
